//! Target-group health checks (docs/alb-lambda.md §2): on the configured interval, invoke
//! the function with the health-check event, judge the status with the matcher, and
//! report state changes once the healthy / unhealthy thresholds are reached.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::process::Function;
use crate::alb::event;
use crate::alb::health::Tracker;
use crate::alb::outcome::respond;
use crate::model::config::HealthCheck;

/// Runs the checks of `f` forever (cancelled with its task).
pub(crate) async fn run(f: Arc<Function>, hc: HealthCheck) {
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
                match respond(outcome, f.settings.multi_value_headers, f.info.timeout, "") {
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
