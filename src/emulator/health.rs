//! Target-group health checks (ALB-LAMBDA.md §2): on the configured interval, invoke
//! the function with the health-check event, judge the status with the matcher, and
//! report state changes once the healthy / unhealthy thresholds are reached.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::event;
use super::process::Function;
use super::target;
use crate::model::config::HealthCheck;

/// A target's health, as `describe-target-health` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Initial,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Initial => "initial",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// Whether `status` satisfies an ELB matcher: `200`, `200-299`, `200,204,301`.
pub fn matcher_accepts(matcher: &str, status: u16) -> bool {
    matcher.split(',').any(|part| {
        let part = part.trim();
        match part.split_once('-') {
            Some((lo, hi)) => match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
                (Ok(lo), Ok(hi)) => (lo..=hi).contains(&status),
                _ => false,
            },
            None => part.parse::<u16>().is_ok_and(|c| c == status),
        }
    })
}

/// Counts consecutive results against the thresholds.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub state: Health,
    ok_streak: u32,
    fail_streak: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl Tracker {
    pub fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> Tracker {
        Tracker {
            state: Health::Initial,
            ok_streak: 0,
            fail_streak: 0,
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
        }
    }

    /// Records one check; returns `(old, new)` when the state changes.
    pub fn record(&mut self, ok: bool) -> Option<(Health, Health)> {
        if ok {
            self.ok_streak += 1;
            self.fail_streak = 0;
        } else {
            self.fail_streak += 1;
            self.ok_streak = 0;
        }
        let next = if ok && self.ok_streak >= self.healthy_threshold {
            Health::Healthy
        } else if !ok && self.fail_streak >= self.unhealthy_threshold {
            Health::Unhealthy
        } else {
            self.state
        };
        let old = self.state;
        self.state = next;
        (old != next).then_some((old, next))
    }
}

/// Runs the checks of `f` forever (cancelled with its task).
pub async fn run(f: Arc<Function>, hc: HealthCheck) {
    let mut tracker = Tracker::new(hc.healthy_threshold, hc.unhealthy_threshold);
    let event = event::health_check_event(
        &hc.path,
        &f.target_group_arn,
        f.settings.multi_value_headers,
    );
    let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
    let mut interval =
        tokio::time::interval(Duration::from_secs(u64::from(hc.interval_seconds.max(1))));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    eprintln!(
        "albkit dev: {}: health check GET {} every {}s (healthy after {}, unhealthy after {}, matcher {})",
        f.name(),
        hc.path,
        hc.interval_seconds,
        hc.healthy_threshold,
        hc.unhealthy_threshold,
        hc.matcher
    );
    loop {
        interval.tick().await;
        let root = event::new_trace_root(0, rand::random());
        let rx = f.invoke(payload.clone(), root);
        let timeout = Duration::from_secs(u64::from(hc.timeout_seconds.max(1)));
        let (ok, detail) = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => {
                match target::respond(outcome, f.settings.multi_value_headers, f.info.timeout, "") {
                    Ok(r) if hc.matcher.accepts(r.status) => (true, format!("{}", r.status)),
                    Ok(r) => (
                        false,
                        format!("status {} does not match {}", r.status, hc.matcher),
                    ),
                    Err(e) => (false, e.reason),
                }
            }
            Ok(Err(_)) => (false, "invocation dropped".into()),
            Err(_) => (false, format!("no answer within {}s", timeout.as_secs())),
        };
        if let Some((old, new)) = tracker.record(ok) {
            eprintln!(
                "albkit dev: {}: health {} → {} (last check: {detail})",
                f.name(),
                old.as_str(),
                new.as_str()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_forms() {
        assert!(matcher_accepts("200", 200));
        assert!(!matcher_accepts("200", 204));
        assert!(matcher_accepts("200-299", 204));
        assert!(!matcher_accepts("200-299", 300));
        assert!(matcher_accepts("200,204", 204));
        assert!(!matcher_accepts("200,204", 201));
    }

    #[test]
    fn thresholds_decide_transitions() {
        let mut t = Tracker::new(2, 2);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some((Health::Initial, Health::Healthy)));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some((Health::Healthy, Health::Unhealthy)));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some((Health::Unhealthy, Health::Healthy)));
    }
}
