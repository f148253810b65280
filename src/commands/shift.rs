//! A canary or linear deploy's traffic shift (docs/deploys.md): the gate alarms for the
//! new version, then each step's weight on the `live` alias, recorded in the alias's
//! description, while the gate is watched for the step's bake time; then `live` on the
//! new version with no weights, or, at the first gate alarm in ALARM, the weights back
//! to 0 with `live` left on the old version. Also what a later run does with a shift it
//! finds (`settle`: in flight, stranded, or weights albkit did not set) and
//! `deploy --abort`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::output::{Aborted, ShiftStep};
use super::session::Session;
use crate::aws::events::{Event, Reporter};
use crate::aws::resources::function::{read_live, route_live, unix_now as now, LiveAlias};
use crate::aws::resources::gate_alarms;
use crate::aws::resources::wait_error;
use crate::aws::retry::{wait_until, Poll};
use crate::error::{Error, Result};
use crate::model::config::FunctionSettings;
use crate::model::lifecycle::format_rfc3339;
use crate::model::names::{LIVE_ALIAS, TAG_STACK};
use crate::model::shift::{
    gate_alarms as gate_alarm_specs, left, percent_weight, Gate, Shift, ShiftState, Step, Strategy,
    DEFAULT_GRACE,
};

fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    format_rfc3339(ms)
}

/// How long past a step's bake a shift counts as driven by a live run
/// (`ALBKIT_SHIFT_GRACE_SECONDS`, for tests; default [`DEFAULT_GRACE`]).
pub(crate) fn grace() -> Duration {
    std::env::var("ALBKIT_SHIFT_GRACE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs)
}

/// How a shift ended.
pub(crate) enum Ended {
    Completed,
    /// A gate alarm went to ALARM: weights back to 0, `live` on the old version.
    RolledBack {
        alarm: String,
        reason: String,
    },
    /// Another run (`deploy --abort`, `rollback`) changed the alias mid-shift.
    Aborted(String),
}

/// One function's shift from `from` (what `live` serves) to the published `to`.
pub(crate) struct ShiftPlan<'a> {
    pub s: &'a Session,
    pub f: &'a FunctionSettings,
    /// The Lambda function name.
    pub name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub strategy: Strategy,
    /// The function's target group, for the gate's load-balancer alarms.
    pub target_group: String,
    /// The alias's revision as read before the shift.
    pub revision: Option<String>,
}

/// Runs the shift; the gate alarms are created first and deleted at the end either way.
/// On an error mid-shift the weights are reverted before the error is returned.
pub(crate) async fn run(p: &ShiftPlan<'_>, timeline: &mut Vec<ShiftStep>) -> Result<Ended> {
    let s = p.s;
    let notify = s.notify(&p.f.name);
    let prefix = s.names.gate_alarm_prefix(&p.f.name);
    let stack = s.config.stack.name.as_str();
    let dims = gate_alarms::target_dims(&s.aws.elb, &p.target_group, &notify).await?;
    let alarms = gate_alarm_specs(&prefix, p.name, p.to, dims.as_ref(), &p.f.deploy_gate);
    let names: Vec<String> = alarms.iter().map(|a| a.name.clone()).collect();
    // What a killed run may have left, before this shift's own.
    gate_alarms::delete_all(&s.aws.cloudwatch, &prefix, stack, &notify).await?;
    let mut tags = s.config.stack.tags.clone();
    tags.insert(TAG_STACK.to_string(), stack.to_string());
    let gate = format!("{}:{}", p.f.name, p.to);
    gate_alarms::put(&s.aws.cloudwatch, &alarms, &tags, &gate, &notify).await?;
    s.phase(format!(
        "Function {}: {} from version {} to {}, gated by {} alarms",
        p.f.name,
        p.strategy,
        p.from,
        p.to,
        names.len()
    ));
    let ended = steps(p, &names, timeline).await;
    if let Err(e) = &ended {
        // Never leave weights behind: the next run would find them stranded anyway,
        // but only after the step's deadline.
        let reverted = route_live(&s.aws.lambda, p.name, p.from, None, "", None, &notify).await;
        let how = match reverted {
            Ok(_) => format!("weights back to 0, `{LIVE_ALIAS}` stays on version {}", p.from),
            Err(r) => format!("the weights could not be reverted either ({r}); the next `albkit deploy` or `up` will"),
        };
        s.note(format!(
            "function {}: the traffic shift failed ({e}); {how}",
            p.f.name
        ));
    }
    let cleaned = gate_alarms::delete_all(&s.aws.cloudwatch, &prefix, stack, &notify).await;
    let ended = ended?;
    cleaned?;
    Ok(ended)
}

/// Sets each step's weight and watches the gate through its bake; then moves `live`.
async fn steps(
    p: &ShiftPlan<'_>,
    names: &[String],
    timeline: &mut Vec<ShiftStep>,
) -> Result<Ended> {
    let (s, lambda) = (p.s, &p.s.aws.lambda);
    let notify = s.notify(&p.f.name);
    let all = p.strategy.steps();
    let mut revision = p.revision.clone();
    for (i, step) in all.iter().enumerate() {
        let shift = Shift {
            to: p.to.to_string(),
            from: p.from.to_string(),
            strategy: p.strategy,
            step: i + 1,
            steps: all.len(),
            until: now() + step.bake.as_secs() + grace().as_secs(),
        };
        let marker = shift.describe();
        let weight = Some((p.to, percent_weight(step.percent)));
        let set = route_live(
            lambda,
            p.name,
            p.from,
            weight,
            &marker,
            revision.as_deref(),
            &notify,
        )
        .await;
        revision = match set {
            Ok(live) => live.revision,
            Err(e) if e.is("PreconditionFailedException") => return Ok(aborted(timeline, i + 1)),
            Err(e) => return Err(e.into()),
        };
        let at = now_rfc3339();
        let started = Instant::now();
        let watched = watch(p, names, &marker, *step, &shift).await?;
        timeline.push(ShiftStep {
            step: i + 1,
            percent: step.percent,
            at,
            baked_seconds: started.elapsed().as_secs(),
            gate: watched.label(),
        });
        match watched {
            Watch::Passed => {}
            Watch::Alarm { name, reason } => {
                route_live(lambda, p.name, p.from, None, "", None, &notify).await?;
                timeline.push(end_step(all.len() + 1, 0, format!("alarm {name}")));
                return Ok(Ended::RolledBack {
                    alarm: name,
                    reason,
                });
            }
            Watch::Aborted => return Ok(aborted(timeline, all.len() + 1)),
        }
    }
    match route_live(lambda, p.name, p.to, None, "", revision.as_deref(), &notify).await {
        Ok(_) => {}
        Err(e) if e.is("PreconditionFailedException") => {
            return Ok(aborted(timeline, all.len() + 1))
        }
        Err(e) => return Err(e.into()),
    }
    timeline.push(end_step(all.len() + 1, 100, "ok".into()));
    Ok(Ended::Completed)
}

fn end_step(step: usize, percent: u8, gate: String) -> ShiftStep {
    ShiftStep {
        step,
        percent,
        at: now_rfc3339(),
        baked_seconds: 0,
        gate,
    }
}

fn aborted(timeline: &mut Vec<ShiftStep>, step: usize) -> Ended {
    timeline.push(end_step(step, 0, "aborted".into()));
    Ended::Aborted("another run changed the `live` alias during the shift (`albkit deploy --abort` or `albkit rollback`)".into())
}

/// What watching one step's gate came to.
enum Watch {
    Passed,
    Alarm {
        name: String,
        reason: String,
    },
    /// The alias no longer records this shift.
    Aborted,
}

impl Watch {
    fn label(&self) -> String {
        match self {
            Watch::Passed => "ok".into(),
            Watch::Alarm { name, .. } => format!("alarm {name}"),
            Watch::Aborted => "aborted".into(),
        }
    }
}

/// Polls the gate alarms and the alias (through the one waiter) until the step's bake
/// has passed, an alarm is in ALARM, or the alias no longer records this shift.
async fn watch(
    p: &ShiftPlan<'_>,
    names: &[String],
    marker: &str,
    step: Step,
    shift: &Shift,
) -> Result<Watch> {
    let s = p.s;
    let notify = s.notify(&p.f.name);
    let started = Instant::now();
    let first = AtomicBool::new(true);
    let what = format!("the gate of version {} at {}%", p.to, step.percent);
    // The bake ends the wait; the deadline only bounds a gate that cannot be read.
    let deadline = step.bake + Duration::from_secs(120);
    let watched = wait_until(&what, deadline, &notify, || async {
        if let Gate::Alarm { name, reason } = gate_alarms::state(&s.aws.cloudwatch, names).await? {
            return Ok(Poll::Ready(Watch::Alarm { name, reason }));
        }
        let live = read_live(&s.aws.lambda, p.name).await?;
        if live.is_none_or(|l| l.description != marker) {
            return Ok(Poll::Ready(Watch::Aborted));
        }
        let elapsed = started.elapsed();
        if elapsed >= step.bake {
            return Ok(Poll::Ready(Watch::Passed));
        }
        s.reporter.event(Event::Shift {
            function: p.f.name.clone(),
            percent: step.percent,
            detail: format!(
                "on version {}, {} left in step {}/{}, gate ok",
                p.to,
                left(step.bake - elapsed),
                shift.step,
                shift.steps
            ),
            milestone: first.swap(false, Ordering::SeqCst),
        });
        Ok(Poll::Pending(format!(
            "step {}/{}",
            shift.step, shift.steps
        )))
    })
    .await;
    watched.map_err(|e| Error::Aws(wait_error(e, "DescribeAlarms", p.name)))
}

/// What a deploy does with the shift it finds on `live` before its own: none or a
/// stranded one (reverted here) lets it go on; one in flight or weights albkit did not
/// set stop it. Returns the alias as it is now.
pub(crate) async fn settle(
    s: &Session,
    f: &FunctionSettings,
    name: &str,
    live: Option<LiveAlias>,
) -> Result<Option<LiveAlias>> {
    let Some(alias) = live else { return Ok(None) };
    match alias.shift(now()) {
        ShiftState::Idle => Ok(Some(alias)),
        ShiftState::InFlight(shift) => Err(Error::Other(format!(
            "function {}: a traffic shift {} is in flight, driven by another run (its step ends by {}); wait for it to end, or roll it back with `albkit deploy --abort --function {}`",
            f.name,
            shift.summary(alias.weights.get(&shift.to).map(|w| crate::model::shift::weight_percent(*w))),
            format_rfc3339(i64::try_from(shift.until).unwrap_or(0) * 1000),
            f.name
        ))),
        ShiftState::Unmanaged(_) => Err(Error::Other(format!(
            "function {}: {}; albkit leaves them alone: remove them (`albkit rollback --function {}` points `{LIVE_ALIAS}` at one version with no weights) before deploying",
            f.name,
            alias.shift(now()).summary(&alias.weights).unwrap_or_default(),
            f.name
        ))),
        ShiftState::Stranded(shift) => {
            let notify = s.notify(&f.name);
            let live = route_live(&s.aws.lambda, name, &alias.version, None, "", None, &notify).await?;
            let prefix = s.names.gate_alarm_prefix(&f.name);
            gate_alarms::delete_all(&s.aws.cloudwatch, &prefix, &s.config.stack.name, &notify).await?;
            s.note(format!(
                "function {}: reverted a stranded traffic shift {} (the run driving it stopped, so its gate was not watched since): weights back to 0, `{LIVE_ALIAS}` stays on version {}",
                f.name,
                shift.summary(None),
                alias.version
            ));
            Ok(Some(live))
        }
    }
}

/// `deploy --abort`: rolls back the shift on `live` (albkit's, in flight or stranded,
/// or weights set by hand): no weights, `live` stays on the version it serves, the gate
/// alarms deleted. `None` when there was none.
pub(crate) async fn abort(
    s: &Session,
    f: &FunctionSettings,
    name: &str,
) -> Result<Option<Aborted>> {
    let notify = s.notify(&f.name);
    let Some(alias) = read_live(&s.aws.lambda, name).await? else {
        return Ok(None);
    };
    let state = alias.shift(now());
    let Some(summary) = state.summary(&alias.weights) else {
        return Ok(None);
    };
    route_live(&s.aws.lambda, name, &alias.version, None, "", None, &notify).await?;
    let prefix = s.names.gate_alarm_prefix(&f.name);
    gate_alarms::delete_all(&s.aws.cloudwatch, &prefix, &s.config.stack.name, &notify).await?;
    let version = match &state {
        ShiftState::InFlight(shift) | ShiftState::Stranded(shift) => shift.to.clone(),
        _ => alias.weights.keys().cloned().collect::<Vec<_>>().join(","),
    };
    Ok(Some(Aborted {
        function: f.name.clone(),
        version,
        live_version: alias.version,
        shift: summary,
    }))
}
