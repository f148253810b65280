//! PURE target-group health (docs/alb-lambda.md §2): the states a target goes through
//! and the consecutive-result thresholds that move it between them.

/// A target's health, as `describe-target-health` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Initial,
    Healthy,
    Unhealthy,
}

impl Health {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Health::Initial => "initial",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// Counts consecutive results against the thresholds.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    pub state: Health,
    ok_streak: u32,
    fail_streak: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl Tracker {
    pub(crate) fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> Tracker {
        Tracker {
            state: Health::Initial,
            ok_streak: 0,
            fail_streak: 0,
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
        }
    }

    /// Records one check; returns `(old, new)` when the state changes.
    pub(crate) fn record(&mut self, ok: bool) -> Option<(Health, Health)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
