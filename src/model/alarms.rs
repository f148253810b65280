//! The stack's alarms (`[alarms]`, docs/alarms.md): which metric each one watches,
//! with which statistic, dimensions and threshold, and the SNS topic they notify. Pure.

use super::config::{AlarmSettings, Config};
use super::names::{logical, Names};
use super::spec::{
    AlarmSpec, AlarmTopicSpec, DashboardRow, DashboardSpec, DimValue, Rate, Ref, Threshold,
    ALARM_PERIOD_SECONDS, RATE_EXPRESSION,
};
use super::stack::resource_tags;

/// Where a metric lives.
const ELB: &str = "AWS/ApplicationELB";
const LAMBDA: &str = "AWS/Lambda";

/// What every stack alarm has in common beyond its metric.
const COMPARISON: &str = "GreaterThanOrEqualToThreshold";
const TREAT_MISSING_DATA: &str = "notBreaching";

/// One alarm of a function (`scope` = its name) or of the load balancer, before it is
/// named and tagged.
struct Watch {
    what: &'static str,
    namespace: &'static str,
    metric: &'static str,
    statistic: &'static str,
    threshold: Threshold,
    description: String,
    dimensions: Vec<(String, DimValue)>,
    /// A percentage of this metric (its denominator), not the metric itself.
    rate_of: Option<&'static str>,
}

/// Every alarm of one function: its target group's 5xx rate, Lambda errors the load
/// balancer saw (user and internal), p99 response time and unhealthy targets, and the
/// function's own throttles.
/// The dimensions of a function's target group metrics.
fn target_dims(function: &str) -> Vec<(String, DimValue)> {
    let arn = |logical: String| DimValue::Arn(Ref::Stack(logical.into()));
    vec![
        (
            "TargetGroup".to_string(),
            arn(logical::target_group(function)),
        ),
        (
            "LoadBalancer".to_string(),
            arn(logical::LOAD_BALANCER.to_string()),
        ),
    ]
}

fn function_watches(a: &AlarmSettings, function: &str, lambda_name: &str) -> Vec<Watch> {
    let elb = |what, metric, statistic, threshold, description: String| Watch {
        what,
        namespace: ELB,
        metric,
        statistic,
        threshold,
        description,
        dimensions: target_dims(function),
        rate_of: None,
    };
    let count = Threshold::whole;
    let (errors, percent) = (a.lambda_errors, a.http_5xx_percent);
    let failed =
        |how: &str| format!("{function}: {errors} or more invocations failed {how} in 5 minutes");
    vec![
        Watch {
            rate_of: Some("RequestCount"),
            ..elb(
                "target-5xx-rate",
                "HTTPCode_Target_5XX_Count",
                "Sum",
                count(percent),
                format!("{function}: {percent} % or more of its answers 5xx over 5 minutes"),
            )
        },
        elb(
            "lambda-user-error",
            "LambdaUserError",
            "Sum",
            count(errors),
            failed("by the function"),
        ),
        elb(
            "lambda-internal-error",
            "LambdaInternalError",
            "Sum",
            count(errors),
            failed("inside Lambda or ELB"),
        ),
        elb(
            "latency-p99",
            "TargetResponseTime",
            "p99",
            Threshold(i64::from(a.latency_p99_ms)),
            format!(
                "{function}: p99 response time at or over {} ms over 5 minutes",
                a.latency_p99_ms
            ),
        ),
        elb(
            "unhealthy-targets",
            "UnHealthyHostCount",
            "Maximum",
            count(a.unhealthy_targets),
            format!("{function}: failing its health check"),
        ),
        throttles_watch(a, function, lambda_name),
    ]
}

/// The function's own throttles (`AWS/Lambda`, by its name).
fn throttles_watch(a: &AlarmSettings, function: &str, lambda_name: &str) -> Watch {
    Watch {
        what: "throttles",
        namespace: LAMBDA,
        metric: "Throttles",
        statistic: "Sum",
        threshold: Threshold::whole(a.throttles),
        description: format!(
            "{function}: {} or more throttled invocations in 5 minutes",
            a.throttles
        ),
        dimensions: vec![(
            "FunctionName".to_string(),
            DimValue::Text(lambda_name.to_string()),
        )],
        rate_of: None,
    }
}

/// The load balancer's own 5xx answers (no target reached, or its own errors).
fn load_balancer_watch(a: &AlarmSettings) -> Watch {
    Watch {
        what: "elb-5xx",
        namespace: ELB,
        metric: "HTTPCode_ELB_5XX_Count",
        statistic: "Sum",
        threshold: Threshold::whole(a.http_5xx),
        description: format!(
            "the load balancer: {} or more 5xx answers of its own in 5 minutes",
            a.http_5xx
        ),
        dimensions: vec![(
            "LoadBalancer".to_string(),
            DimValue::Arn(Ref::Stack(logical::LOAD_BALANCER.into())),
        )],
        rate_of: None,
    }
}

/// The SNS topic, when `notify` lists an address.
pub fn topic(config: &Config, names: &Names) -> Option<AlarmTopicSpec> {
    let a = config.alarms.as_ref()?;
    (!a.notify.is_empty()).then(|| AlarmTopicSpec {
        name: names.alarm_topic(),
        emails: a.notify.clone(),
        tags: resource_tags(config, logical::ALARM_TOPIC),
    })
}

/// The dashboard, unless `[alarms] dashboard = false`.
pub fn dashboard(config: &Config, names: &Names, region: &str) -> Option<DashboardSpec> {
    let a = config.alarms.as_ref()?;
    a.dashboard.then(|| DashboardSpec {
        name: names.dashboard(),
        stack: config.stack.name.clone(),
        region: region.to_string(),
        rows: config
            .functions
            .iter()
            .map(|f| DashboardRow {
                function: f.name.clone(),
                lambda_name: names.function(&f.name),
                target_group: Ref::Stack(logical::target_group(&f.name).into()),
            })
            .collect(),
        load_balancer: Ref::Stack(logical::LOAD_BALANCER.into()),
        edited: false,
    })
}

/// How many alarms the config gives the stack (`albkit cost`).
pub fn count(config: &Config) -> u32 {
    let per_function = if config.alarms.is_some() { 6 } else { 0 };
    let load_balancer = u32::from(config.alarms.is_some());
    let functions = u32::try_from(config.functions.len()).unwrap_or(u32::MAX);
    functions.saturating_mul(per_function) + load_balancer
}

/// Every alarm of the stack, with its logical id; none without `[alarms]`.
pub fn alarms(config: &Config, names: &Names) -> Vec<(String, AlarmSpec)> {
    let Some(a) = &config.alarms else {
        return Vec::new();
    };
    let actions = if a.notify.is_empty() {
        vec![]
    } else {
        vec![Ref::Stack(logical::ALARM_TOPIC.into())]
    };
    let mut scoped: Vec<(&str, Watch)> = Vec::new();
    for f in &config.functions {
        let lambda_name = names.function(&f.name);
        for w in function_watches(a, &f.name, &lambda_name) {
            scoped.push((&f.name, w));
        }
    }
    scoped.push((logical::ALARM_LOAD_BALANCER, load_balancer_watch(a)));
    scoped
        .into_iter()
        .map(|(scope, w)| {
            let id = logical::alarm(scope, w.what);
            let spec = AlarmSpec {
                name: names.alarm(scope, w.what),
                description: format!("albkit {}: {}", config.stack.name, w.description),
                namespace: w.namespace.to_string(),
                metric: w.metric.to_string(),
                statistic: w.statistic.to_string(),
                dimensions: w.dimensions,
                rate: w.rate_of.map(|d| Rate {
                    denominator: d.to_string(),
                    expression: RATE_EXPRESSION.to_string(),
                }),
                threshold: w.threshold,
                comparison: COMPARISON.to_string(),
                period: ALARM_PERIOD_SECONDS,
                evaluation_periods: 1,
                treat_missing_data: TREAT_MISSING_DATA.to_string(),
                actions: actions.clone(),
                tags: resource_tags(config, &id),
            };
            (id, spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::AlarmSettings;
    use crate::model::spec::Describe;

    fn settings(notify: &[&str]) -> AlarmSettings {
        AlarmSettings {
            http_5xx_percent: 5,
            http_5xx: 10,
            lambda_errors: 1,
            latency_p99_ms: 1500,
            throttles: 1,
            unhealthy_targets: 1,
            notify: notify.iter().map(ToString::to_string).collect(),
            dashboard: true,
        }
    }

    fn config(notify: &[&str]) -> Config {
        let mut cfg = crate::model::plan::tests::config(false);
        cfg.alarms = Some(settings(notify));
        cfg
    }

    #[test]
    fn six_alarms_per_function_and_one_for_the_load_balancer() {
        let cfg = config(&[]);
        let names = Names::new("shop", "us-east-1");
        let all = alarms(&cfg, &names);
        assert_eq!(all.len(), 6 * cfg.functions.len() + 1);
        assert_eq!(count(&cfg) as usize, all.len());
        let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
        assert!(ids.contains(&"alarm/cart/latency-p99"));
        assert!(ids.contains(&"alarm/load-balancer/elb-5xx"));
        let (_, p99) = all
            .iter()
            .find(|(id, _)| id == "alarm/cart/latency-p99")
            .expect("p99");
        assert_eq!(p99.statistic, "p99");
        assert_eq!(p99.threshold.value(), 1.5);
        assert_eq!(p99.name, "albkit-shop-alarm-cart-latency-p99");
        assert!(p99.actions.is_empty());
        let (_, throttles) = all
            .iter()
            .find(|(id, _)| id == "alarm/cart/throttles")
            .expect("throttles");
        let props = throttles.render(&"alarm/cart/throttles".into());
        assert!(props.contains(&("dimensions", "FunctionName=shop--cart".to_string())));
        let (_, rate) = all
            .iter()
            .find(|(id, _)| id == "alarm/cart/target-5xx-rate")
            .expect("5xx rate");
        assert_eq!(
            rate.rate.as_ref().map(|r| r.denominator.as_str()),
            Some("RequestCount")
        );
        assert_eq!(rate.threshold.value(), 5.0);
        assert!(topic(&cfg, &names).is_none());
        let board = dashboard(&cfg, &names, "us-east-1").expect("dashboard");
        assert_eq!(board.name, "albkit-shop-us-east-1");
        assert_eq!(board.rows.len(), cfg.functions.len());
    }

    #[test]
    fn notify_adds_the_topic_and_every_alarm_notifies_it() {
        let cfg = config(&["ops@example.com"]);
        let names = Names::new("shop", "us-east-1");
        let topic = topic(&cfg, &names).expect("topic");
        assert_eq!(topic.name, "albkit-shop-alarms");
        assert_eq!(topic.emails, vec!["ops@example.com".to_string()]);
        assert!(alarms(&cfg, &names)
            .iter()
            .all(|(_, a)| a.actions == vec![Ref::Stack("alarm-topic".into())]));
    }

    #[test]
    fn no_alarms_section_no_alarms() {
        let cfg = crate::model::plan::tests::config(false);
        let names = Names::new("shop", "us-east-1");
        assert!(alarms(&cfg, &names).is_empty());
        assert!(topic(&cfg, &names).is_none());
        assert!(dashboard(&cfg, &names, "us-east-1").is_none());
    }
}
