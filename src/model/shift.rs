//! Progressive delivery, pure: the deploy strategies (`all-at-once`, `canary:10%:5m`,
//! `linear:10%:1m`) and their steps, the gate's alarms for a new version, and the state
//! of a traffic shift as the `live` alias itself records it (its routing weights and its
//! description), from which any later run finds an in-flight or stranded shift again.
//! How a shift runs: docs/deploys.md.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::names::LIVE_ALIAS;

/// How `deploy` moves `live` to a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// `live` moves at once (after the smoke check).
    #[default]
    AllAtOnce,
    /// `percent` of the traffic for `bake`, then all of it.
    Canary { percent: u8, bake: Duration },
    /// `percent` more of the traffic every `every`, until all of it.
    Linear { percent: u8, every: Duration },
}

/// One step of a shift: the new version's share of the traffic, held for `bake` while
/// the gate is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub percent: u8,
    pub bake: Duration,
}

/// The longest bake of one step.
pub const MAX_BAKE: Duration = Duration::from_secs(3600);

pub const STRATEGY_HELP: &str =
    "use all-at-once, canary:<1-99>%:<duration> or linear:<percent dividing 100>%:<duration>, e.g. canary:10%:5m, linear:10%:1m (durations 1s to 1h: 30s, 5m, 1h)";

impl Strategy {
    /// The weighted steps before `live` moves entirely (none for all-at-once).
    pub fn steps(&self) -> Vec<Step> {
        match *self {
            Strategy::AllAtOnce => Vec::new(),
            Strategy::Canary { percent, bake } => vec![Step { percent, bake }],
            Strategy::Linear { percent, every } => (1..)
                .map(|i| u32::from(percent) * i)
                .take_while(|p| *p < 100)
                .map(|p| Step {
                    percent: u8::try_from(p).unwrap_or(99),
                    bake: every,
                })
                .collect(),
        }
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "all-at-once" {
            return Ok(Strategy::AllAtOnce);
        }
        let parts: Vec<&str> = text.split(':').collect();
        let [kind, percent, duration] = parts.as_slice() else {
            return Err(format!("deploy strategy {text:?} is not one albkit knows"));
        };
        let percent = parse_percent(percent)?;
        let duration = parse_duration(duration)?;
        match *kind {
            "canary" => Ok(Strategy::Canary {
                percent,
                bake: duration,
            }),
            "linear" if 100u8.is_multiple_of(percent) && percent <= 50 => Ok(Strategy::Linear {
                percent,
                every: duration,
            }),
            "linear" => Err(format!(
                "linear steps of {percent}% do not reach 100% in equal steps (the percent must divide 100 and be at most 50)"
            )),
            other => Err(format!(
                "deploy strategy kind {other:?} is not one albkit knows"
            )),
        }
    }
}

fn parse_percent(text: &str) -> Result<u8, String> {
    let digits = text
        .strip_suffix('%')
        .ok_or_else(|| format!("weight {text:?} must be a percent such as 10%"))?;
    match digits.parse::<u8>() {
        Ok(p) if (1..=99).contains(&p) => Ok(p),
        _ => Err(format!("weight {text:?} is out of range (1%–99%)")),
    }
}

/// `30s`, `5m`, `1h`: 1 second to [`MAX_BAKE`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "duration {text:?} needs a unit: s, m or h (30s, 5m, 1h)"
            ))
        }
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .map(Duration::from_secs)
        .filter(|d| !d.is_zero() && *d <= MAX_BAKE);
    seconds.ok_or_else(|| format!("duration {text:?} is out of range (1s to 1h)"))
}

/// The shortest form of a duration: `90s`, `5m`, `1h`.
fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Strategy::AllAtOnce => f.write_str("all-at-once"),
            Strategy::Canary { percent, bake } => {
                write!(f, "canary:{percent}%:{}", format_duration(bake))
            }
            Strategy::Linear { percent, every } => {
                write!(f, "linear:{percent}%:{}", format_duration(every))
            }
        }
    }
}

/// The word that starts the `live` alias's description during a shift.
const MARK: &str = "albkit-shift";

/// A shift in progress, as the `live` alias's description records it: the alias's
/// `FunctionVersion` is still `from`, its routing gives `to` the step's weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub to: String,
    pub from: String,
    pub strategy: Strategy,
    /// 1-based.
    pub step: usize,
    pub steps: usize,
    /// Unix seconds after which the run driving the shift is gone: the end of the
    /// step's bake plus a grace period. A run that is alive moves to the next step (and
    /// a later deadline) before it.
    pub until: u64,
}

impl Shift {
    /// The alias description (at most 256 characters; this is under 100).
    pub fn describe(&self) -> String {
        format!(
            "{MARK} to={} from={} strategy={} step={}/{} until={}",
            self.to, self.from, self.strategy, self.step, self.steps, self.until
        )
    }

    /// The shift an alias description records; `None` for any other text.
    pub fn parse(description: &str) -> Option<Shift> {
        let mut words = description.split_whitespace();
        if words.next() != Some(MARK) {
            return None;
        }
        let fields: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
        let (step, steps) = fields.get("step")?.split_once('/')?;
        Some(Shift {
            to: (*fields.get("to")?).to_string(),
            from: (*fields.get("from")?).to_string(),
            strategy: fields.get("strategy")?.parse().ok()?,
            step: step.parse().ok()?,
            steps: steps.parse().ok()?,
            until: fields.get("until")?.parse().ok()?,
        })
    }

    /// One line for people: `to version 7 at 10% (canary:10%:5m, step 1/1)`.
    pub fn summary(&self, percent: Option<u8>) -> String {
        let weight = percent.map_or_else(|| "no weight yet".into(), |p| format!("at {p}%"));
        format!(
            "to version {} {weight} (from {}, {}, step {}/{})",
            self.to, self.from, self.strategy, self.step, self.steps
        )
    }
}

/// What the `live` alias says about traffic shifting.
#[derive(Debug, Clone, PartialEq)]
pub enum ShiftState {
    /// No weights: `live` serves one version.
    Idle,
    /// albkit's shift whose run is alive (its deadline has not passed).
    InFlight(Shift),
    /// albkit's shift whose run is gone (killed, or lost its connection).
    Stranded(Shift),
    /// Weights albkit did not set (by hand, or another tool): left alone.
    Unmanaged(BTreeMap<String, f64>),
}

impl ShiftState {
    /// From the alias's description and additional version weights, at `now` (Unix
    /// seconds).
    pub fn of(description: Option<&str>, weights: &BTreeMap<String, f64>, now: u64) -> Self {
        match description.and_then(Shift::parse) {
            Some(shift) if now > shift.until => ShiftState::Stranded(shift),
            Some(shift) => ShiftState::InFlight(shift),
            None if weights.is_empty() => ShiftState::Idle,
            None => ShiftState::Unmanaged(weights.clone()),
        }
    }

    /// One line for `status` and the plan's extras; `None` when idle.
    pub fn summary(&self, weights: &BTreeMap<String, f64>) -> Option<String> {
        let percent = |shift: &Shift| weights.get(&shift.to).map(|w| weight_percent(*w));
        match self {
            ShiftState::Idle => None,
            ShiftState::InFlight(s) => Some(format!("in flight {}", s.summary(percent(s)))),
            ShiftState::Stranded(s) => Some(format!(
                "stranded {} (its run is gone; the next deploy or up ends it)",
                s.summary(percent(s))
            )),
            ShiftState::Unmanaged(w) => Some(format!(
                "weights albkit did not set: {}",
                w.iter()
                    .map(|(v, w)| format!("version {v} at {}%", weight_percent(*w)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// A Lambda routing weight (0.0–1.0) as a whole percent.
pub fn weight_percent(weight: f64) -> u8 {
    // Lambda keeps weights to 5 decimals; the percents albkit sets are whole.
    (weight * 100.0).round().clamp(0.0, 100.0) as u8
}

/// A percent as a Lambda routing weight.
pub fn percent_weight(percent: u8) -> f64 {
    f64::from(percent) / 100.0
}

/// How many seconds a step's deadline reaches beyond its bake: the run driving the
/// shift is counted gone only after this. `ALBKIT_SHIFT_GRACE_SECONDS` overrides it (the
/// tests use 0, so that a killed run's shift is stranded as soon as its step ends).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(120);

/// The thresholds of the gate: a gate alarm goes to ALARM when its metric's sum over one
/// minute reaches its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateThresholds {
    /// Lambda `Errors` of the new version.
    pub errors: u32,
    /// Lambda `Throttles` of the new version.
    pub throttles: u32,
    /// The target group's `LambdaUserError` (responses the load balancer could not use).
    pub lambda_user_errors: u32,
    /// The target group's `LambdaInternalError` (the load balancer could not invoke).
    pub lambda_internal_errors: u32,
    /// The target group's `HTTPCode_Target_5XX_Count`.
    pub target_5xx: u32,
}

impl Default for GateThresholds {
    fn default() -> Self {
        Self {
            errors: 1,
            throttles: 1,
            lambda_user_errors: 1,
            lambda_internal_errors: 1,
            target_5xx: 5,
        }
    }
}

/// One gate alarm, as `PutMetricAlarm` takes it: the sum of `metric` over one 60-second
/// period reaching `threshold` (missing data is not breaching).
#[derive(Debug, Clone, PartialEq)]
pub struct GateAlarm {
    pub name: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub threshold: f64,
}

/// The period of every gate alarm.
pub const GATE_PERIOD_SECONDS: i32 = 60;

/// The target group (and its load balancer) as CloudWatch's dimensions name them:
/// `targetgroup/<name>/<id>` and `app/<name>/<id>`, the tails of their ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDims {
    pub target_group: String,
    pub load_balancer: String,
}

impl TargetDims {
    /// From the two ARNs; `None` when either is not an ELB ARN.
    pub fn from_arns(target_group_arn: &str, load_balancer_arn: &str) -> Option<Self> {
        let tail = |arn: &str, marker: &str| {
            arn.split_once(marker)
                .map(|(_, rest)| rest.to_string())
                .filter(|t| !t.is_empty())
        };
        Some(Self {
            target_group: format!("targetgroup/{}", tail(target_group_arn, ":targetgroup/")?),
            load_balancer: tail(load_balancer_arn, ":loadbalancer/")?,
        })
    }
}

/// The gate alarms of a new `version` of the Lambda function `function`, their names
/// starting with `prefix` ([`crate::model::names::Names::gate_alarm_prefix`]). The
/// target group's alarms only when it is behind a load balancer (`target`).
pub fn gate_alarms(
    prefix: &str,
    function: &str,
    version: &str,
    target: Option<&TargetDims>,
    t: &GateThresholds,
) -> Vec<GateAlarm> {
    let name = |what: &str| format!("{prefix}v{version}-{what}");
    let lambda = |what: &str, metric: &'static str, threshold: u32| GateAlarm {
        name: name(what),
        namespace: "AWS/Lambda",
        metric,
        // Through a weighted alias, Lambda reports each version's invocations under the
        // alias (`Resource`) and the version that ran (`ExecutedVersion`); `Resource =
        // <function>:<version>` counts only calls that name the version itself.
        dimensions: vec![
            ("FunctionName", function.to_string()),
            ("Resource", format!("{function}:{LIVE_ALIAS}")),
            ("ExecutedVersion", version.to_string()),
        ],
        threshold: f64::from(threshold),
    };
    let mut alarms = vec![
        lambda("errors", "Errors", t.errors),
        lambda("throttles", "Throttles", t.throttles),
    ];
    if let Some(dims) = target {
        let elb = |what: &str, metric: &'static str, threshold: u32| GateAlarm {
            name: name(what),
            namespace: "AWS/ApplicationELB",
            metric,
            dimensions: vec![
                ("TargetGroup", dims.target_group.clone()),
                ("LoadBalancer", dims.load_balancer.clone()),
            ],
            threshold: f64::from(threshold),
        };
        alarms.extend([
            elb(
                "lambda-user-errors",
                "LambdaUserError",
                t.lambda_user_errors,
            ),
            elb(
                "lambda-internal-errors",
                "LambdaInternalError",
                t.lambda_internal_errors,
            ),
            elb("target-5xx", "HTTPCode_Target_5XX_Count", t.target_5xx),
        ]);
    }
    alarms
}

/// What the gate saw at one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// No alarm in ALARM (`OK` or `INSUFFICIENT_DATA`: no traffic yet is no failure).
    Clear,
    /// The first gate alarm in ALARM, with CloudWatch's reason.
    Alarm { name: String, reason: String },
}

impl Gate {
    /// From `(alarm name, state, reason)` of the gate alarms, in the order they were
    /// created.
    pub fn of<'a>(alarms: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Gate {
        alarms
            .into_iter()
            .find(|(_, state, _)| *state == "ALARM")
            .map_or(Gate::Clear, |(name, _, reason)| Gate::Alarm {
                name: name.to_string(),
                reason: reason.to_string(),
            })
    }

    pub fn label(&self) -> String {
        match self {
            Gate::Clear => "ok".into(),
            Gate::Alarm { name, .. } => format!("alarm {name}"),
        }
    }
}

/// "1m 40s", "35s": the time left in a step, for the progress line.
pub fn left(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn strategies_parse_and_print_back() {
        for text in [
            "all-at-once",
            "canary:10%:5m",
            "canary:1%:2s",
            "linear:10%:1m",
            "linear:50%:1h",
            "canary:99%:90s",
        ] {
            let s: Strategy = text.parse().expect(text);
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            "canary:10%:60s".parse::<Strategy>().map(|s| s.to_string()),
            Ok("canary:10%:1m".into())
        );
    }

    #[test]
    fn bad_strategies_say_what_is_wrong() {
        let err = |t: &str| t.parse::<Strategy>().err().unwrap_or_default();
        assert!(err("canary:0%:5m").contains("out of range (1%–99%)"));
        assert!(err("canary:100%:5m").contains("out of range"));
        assert!(err("canary:10:5m").contains("must be a percent"));
        assert!(err("canary:10%:5").contains("needs a unit"));
        assert!(err("canary:10%:0s").contains("out of range (1s to 1h)"));
        assert!(err("canary:10%:2h").contains("out of range (1s to 1h)"));
        assert!(err("linear:30%:1m").contains("do not reach 100%"));
        assert!(err("linear:60%:1m").contains("do not reach 100%"));
        assert!(err("blue-green").contains("not one albkit knows"));
        assert!(err("rolling:10%:1m").contains("\"rolling\""));
        assert!(err("canary:10%:5m:x").contains("not one albkit knows"));
    }

    #[test]
    fn steps_reach_all_the_traffic() {
        assert!(Strategy::AllAtOnce.steps().is_empty());
        let canary = Strategy::Canary {
            percent: 10,
            bake: secs(300),
        };
        assert_eq!(
            canary.steps(),
            [Step {
                percent: 10,
                bake: secs(300)
            }]
        );
        let linear: Strategy = "linear:25%:1m".parse().expect("linear");
        let percents: Vec<u8> = linear.steps().iter().map(|s| s.percent).collect();
        assert_eq!(percents, [25, 50, 75]);
        let fine: Strategy = "linear:1%:1s".parse().expect("linear");
        assert_eq!(fine.steps().len(), 99);
        assert_eq!(fine.steps().last().map(|s| s.percent), Some(99));
    }

    fn shift() -> Shift {
        Shift {
            to: "7".into(),
            from: "6".into(),
            strategy: "linear:25%:1m".parse().expect("linear"),
            step: 2,
            steps: 3,
            until: 1_764_583_200,
        }
    }

    #[test]
    fn a_shift_round_trips_through_the_alias_description() {
        let text = shift().describe();
        assert_eq!(
            text,
            "albkit-shift to=7 from=6 strategy=linear:25%:1m step=2/3 until=1764583200"
        );
        assert!(text.len() <= 256);
        assert_eq!(Shift::parse(&text), Some(shift()));
        assert_eq!(Shift::parse("albkit stack shop"), None);
        assert_eq!(Shift::parse("albkit-shift to=7"), None);
        assert_eq!(Shift::parse(""), None);
    }

    #[test]
    fn the_deadline_tells_a_live_shift_from_a_stranded_one() {
        let s = shift();
        let text = s.describe();
        let weights = BTreeMap::from([("7".to_string(), 0.5)]);
        assert_eq!(
            ShiftState::of(Some(&text), &weights, s.until),
            ShiftState::InFlight(s.clone())
        );
        assert_eq!(
            ShiftState::of(Some(&text), &weights, s.until + 1),
            ShiftState::Stranded(s.clone())
        );
        // A marker without weights (killed between two calls) is still albkit's shift.
        assert_eq!(
            ShiftState::of(Some(&text), &BTreeMap::new(), s.until + 1),
            ShiftState::Stranded(s)
        );
        assert_eq!(ShiftState::of(None, &BTreeMap::new(), 0), ShiftState::Idle);
        assert_eq!(
            ShiftState::of(Some("hand-made"), &weights, 0),
            ShiftState::Unmanaged(weights.clone())
        );
        let line = ShiftState::of(Some(&text), &weights, 0).summary(&weights);
        assert_eq!(
            line.as_deref(),
            Some("in flight to version 7 at 50% (from 6, linear:25%:1m, step 2/3)")
        );
        assert_eq!(
            ShiftState::Unmanaged(weights.clone())
                .summary(&weights)
                .as_deref(),
            Some("weights albkit did not set: version 7 at 50%")
        );
    }

    #[test]
    fn weights_and_percents_convert_both_ways() {
        for p in 1..=99u8 {
            assert_eq!(weight_percent(percent_weight(p)), p);
        }
        assert_eq!(weight_percent(0.10000001), 10);
    }

    #[test]
    fn the_gate_has_five_alarms_behind_a_load_balancer() {
        let dims = TargetDims::from_arns(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-api-4/0123456789abcdef",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/fedcba9876543210",
        )
        .expect("dims");
        assert_eq!(dims.target_group, "targetgroup/shop-api-4/0123456789abcdef");
        assert_eq!(dims.load_balancer, "app/shop-alb/fedcba9876543210");
        let t = GateThresholds::default();
        let alarms = gate_alarms("albkit-shop--api-gate-", "shop--api", "7", Some(&dims), &t);
        let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "albkit-shop--api-gate-v7-errors",
                "albkit-shop--api-gate-v7-throttles",
                "albkit-shop--api-gate-v7-lambda-user-errors",
                "albkit-shop--api-gate-v7-lambda-internal-errors",
                "albkit-shop--api-gate-v7-target-5xx",
            ]
        );
        assert_eq!(
            alarms[0].dimensions,
            [
                ("FunctionName", "shop--api".to_string()),
                ("Resource", "shop--api:live".to_string()),
                ("ExecutedVersion", "7".to_string())
            ]
        );
        assert_eq!(alarms[4].metric, "HTTPCode_Target_5XX_Count");
        assert!((alarms[4].threshold - 5.0).abs() < f64::EPSILON);
        // Without a load balancer only the function's own alarms.
        assert_eq!(gate_alarms("p-", "f", "1", None, &t).len(), 2);
        assert_eq!(TargetDims::from_arns("nonsense", "arn"), None);
    }

    #[test]
    fn the_first_alarm_in_alarm_closes_the_gate() {
        assert_eq!(
            Gate::of([("a", "OK", ""), ("b", "INSUFFICIENT_DATA", "")]),
            Gate::Clear
        );
        assert_eq!(
            Gate::of([("a", "OK", ""), ("b", "ALARM", "why"), ("c", "ALARM", "")]),
            Gate::Alarm {
                name: "b".into(),
                reason: "why".into()
            }
        );
        assert_eq!(Gate::Clear.label(), "ok");
    }

    #[test]
    fn time_left_reads_like_a_clock() {
        assert_eq!(left(secs(35)), "35s");
        assert_eq!(left(secs(120)), "2m");
        assert_eq!(left(secs(100)), "1m 40s");
    }
}
