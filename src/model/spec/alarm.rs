//! A CloudWatch metric alarm of the stack (`[alarms]`, docs/alarms.md): one metric, one
//! statistic over 5 minutes, raised at or over a threshold, notifying the stack's SNS
//! topic when there is one. `PutMetricAlarm` creates and overwrites it whole, so every
//! difference is an update in place.

use super::{join, tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

/// The period of every stack alarm, in seconds.
pub const ALARM_PERIOD_SECONDS: i32 = 300;

/// What a dimension of the alarm's metric holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimValue {
    /// A value known from the config: a function's name.
    Text(String),
    /// The target group or load balancer of the stack (its ARN once it exists); the
    /// dimension holds the ARN's end (`targetgroup/…`, `app/…`).
    Arn(Ref),
}

impl DimValue {
    /// As the plan shows it: the text, or the reference.
    fn text(&self) -> String {
        match self {
            DimValue::Text(t) => t.clone(),
            DimValue::Arn(r) => r.to_string(),
        }
    }
}

/// The dimension value CloudWatch's `AWS/ApplicationELB` metrics use for a target group
/// or load balancer: the end of its ARN (`targetgroup/<name>/<id>`, `app/<name>/<id>`).
pub fn arn_dimension(arn: &str) -> &str {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    resource.strip_prefix("loadbalancer/").unwrap_or(resource)
}

/// A threshold in thousandths, so that the spec compares exactly (0.5 s is 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(pub i64);

impl Threshold {
    pub fn whole(n: u32) -> Self {
        Self(i64::from(n) * 1000)
    }

    /// As `PutMetricAlarm` takes it.
    pub fn value(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// As `DescribeAlarms` gives it, to the thousandth.
    pub fn of(value: f64) -> Self {
        Self((value * 1000.0).round() as i64)
    }
}

/// An alarm on a rate in percent rather than on the metric itself: metric math over the
/// metric (`m`) and a second one of the same namespace and dimensions (`r`, its Sum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// The denominator's metric (`RequestCount`).
    pub denominator: String,
    /// The expression the alarm evaluates ([`RATE_EXPRESSION`]).
    pub expression: String,
}

/// The percentage of `m` in `r`; a period without `m` data counts as 0 of them, one
/// without requests has no value (and `TreatMissingData` decides).
pub const RATE_EXPRESSION: &str = "100 * FILL(m, 0) / r";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmSpec {
    /// [`crate::model::names::Names::alarm`].
    pub name: String,
    pub description: String,
    /// `AWS/ApplicationELB` or `AWS/Lambda`.
    pub namespace: String,
    pub metric: String,
    /// `Sum`, `Maximum`, or a percentile such as `p99` (an extended statistic).
    pub statistic: String,
    pub dimensions: Vec<(String, DimValue)>,
    /// Set: the alarm watches `metric` as a percentage of another metric.
    pub rate: Option<Rate>,
    pub threshold: Threshold,
    pub comparison: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub treat_missing_data: String,
    /// What it notifies when it goes to `ALARM`: the stack's topic, or nothing.
    pub actions: Vec<Ref>,
    pub tags: Tags,
}

impl AlarmSpec {
    /// As the plan shows what it watches: `AWS/Lambda Throttles`, or the rate's
    /// expression and its two metrics.
    fn metric_text(&self) -> String {
        match &self.rate {
            None => format!("{} {}", self.namespace, self.metric),
            Some(r) => format!(
                "{} {} where m = {}, r = {}",
                self.namespace, r.expression, self.metric, r.denominator
            ),
        }
    }
}

impl KindFacts for AlarmSpec {
    const NAME: &'static str = "alarm";
    const RANK: u8 = 4;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for AlarmSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let mut dims: Vec<String> = self
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={}", v.text()))
            .collect();
        dims.sort();
        vec![
            ("name", self.name.clone()),
            ("metric", self.metric_text()),
            ("dimensions", dims.join(", ")),
            ("statistic", self.statistic.clone()),
            ("period", self.period.to_string()),
            ("evaluation_periods", self.evaluation_periods.to_string()),
            ("comparison", self.comparison.clone()),
            ("threshold", self.threshold.value().to_string()),
            ("treat_missing_data", self.treat_missing_data.clone()),
            ("actions", join(&self.actions)),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let mut refs: Vec<&mut Ref> = self.actions.iter_mut().collect();
        for (_, v) in &mut self.dimensions {
            if let DimValue::Arn(r) = v {
                refs.push(r);
            }
        }
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AlarmSpec {
        AlarmSpec {
            name: "albkit-shop-alarm-api-p99".into(),
            description: "p99".into(),
            namespace: "AWS/ApplicationELB".into(),
            metric: "TargetResponseTime".into(),
            statistic: "p99".into(),
            dimensions: vec![
                (
                    "TargetGroup".into(),
                    DimValue::Arn(Ref::Stack("target-group/api".into())),
                ),
                (
                    "LoadBalancer".into(),
                    DimValue::Arn(Ref::Stack("load-balancer".into())),
                ),
            ],
            rate: None,
            threshold: Threshold(1500),
            comparison: "GreaterThanOrEqualToThreshold".into(),
            period: ALARM_PERIOD_SECONDS,
            evaluation_periods: 1,
            treat_missing_data: "notBreaching".into(),
            actions: vec![Ref::Stack("alarm-topic".into())],
            tags: Tags::new(),
        }
    }

    #[test]
    fn renders_its_metric_sorted_dimensions_and_threshold_and_needs_what_it_names() {
        let props = spec().render(&LogicalId::from("alarm/api/p99"));
        let get = |k: &str| props.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("dimensions").as_deref(),
            Some("LoadBalancer=load-balancer, TargetGroup=target-group/api")
        );
        assert_eq!(get("threshold").as_deref(), Some("1.5"));
        assert_eq!(get("actions").as_deref(), Some("alarm-topic"));
        let spec = crate::model::spec::Spec::from(spec());
        let mut needs = spec.needs();
        needs.sort();
        assert_eq!(
            needs,
            vec![
                LogicalId::from("alarm-topic"),
                LogicalId::from("load-balancer"),
                LogicalId::from("target-group/api")
            ]
        );
    }

    #[test]
    fn a_rate_shows_its_expression_and_both_metrics() {
        let mut s = spec();
        s.metric = "HTTPCode_Target_5XX_Count".into();
        s.rate = Some(Rate {
            denominator: "RequestCount".into(),
            expression: RATE_EXPRESSION.into(),
        });
        let props = s.render(&LogicalId::from("alarm/api/target-5xx-rate"));
        assert_eq!(
            props[1].1,
            "AWS/ApplicationELB 100 * FILL(m, 0) / r where m = HTTPCode_Target_5XX_Count, r = RequestCount"
        );
    }

    #[test]
    fn dimensions_are_the_ends_of_the_arns_and_thresholds_round_trip() {
        assert_eq!(
            arn_dimension("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/shop-api-4/abc"),
            "targetgroup/shop-api-4/abc"
        );
        assert_eq!(
            arn_dimension("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shop-alb/1f"),
            "app/shop-alb/1f"
        );
        assert_eq!(Threshold::of(Threshold(250).value()), Threshold(250));
        assert_eq!(Threshold::whole(10).value(), 10.0);
    }
}
