//! The CloudWatch alarms that gate a canary or linear deploy: created for the new version
//! when its shift starts ([`crate::model::shift::gate_alarms`]), read while each step
//! bakes, deleted when the shift ends either way. Not a resource kind of the plan: they
//! live only as long as one shift, and are found again by their names' prefix
//! ([`crate::model::names::Names::gate_alarm_prefix`]) when a killed run left them.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};

use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Notify, Policy};
use crate::model::names::TAG_STACK;
use crate::model::shift::{Gate, GateAlarm, TargetDims, GATE_PERIOD_SECONDS};
use crate::model::stack::Tags;

/// The tag that ties a gate alarm to its function and version: `<function>:<version>`.
pub(crate) const TAG_GATE: &str = "albkit:gate";

/// How many alarm names `DescribeAlarms` and `DeleteAlarms` take at once.
const NAMES_PER_CALL: usize = 100;

/// The CloudWatch dimensions of the target group `name` and of the first load balancer
/// it is behind; `None` when it is not found or behind none (then the gate has only the
/// function's own alarms).
pub(crate) async fn target_dims(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    notify: &dyn Notify,
) -> Result<Option<TargetDims>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read the target group",
        notify,
        || async {
            elb.describe_target_groups()
                .names(name)
                .send()
                .await
                .aws("DescribeTargetGroups", name)
        },
    )
    .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.not_found() || e.is("TargetGroupNotFound") => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out.target_groups().first().and_then(|tg| {
        let lb = tg.load_balancer_arns().first()?;
        TargetDims::from_arns(tg.target_group_arn()?, lb)
    }))
}

/// Creates (or overwrites: `PutMetricAlarm` is idempotent by name) every alarm, tagged
/// with `tags` (the stack's) and `gate` (`<function>:<version>`).
pub(crate) async fn put(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    alarms: &[GateAlarm],
    tags: &Tags,
    gate: &str,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let mut tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    tags.push(Tag::builder().key(TAG_GATE).value(gate).build());
    for alarm in alarms {
        let dimensions: Vec<Dimension> = alarm
            .dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(*k).value(v).build())
            .collect();
        retry(Policy::fresh(), "create a gate alarm", notify, || async {
            cloudwatch
                .put_metric_alarm()
                .alarm_name(&alarm.name)
                .alarm_description(format!(
                    "albkit deploy gate of {gate}: rolls the traffic shift back when in ALARM"
                ))
                .namespace(alarm.namespace)
                .metric_name(alarm.metric)
                .set_dimensions(Some(dimensions.clone()))
                .statistic(Statistic::Sum)
                .period(GATE_PERIOD_SECONDS)
                .evaluation_periods(1)
                .threshold(alarm.threshold)
                .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                .treat_missing_data("notBreaching")
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .aws("PutMetricAlarm", &alarm.name)
        })
        .await?;
    }
    Ok(())
}

/// The gate's state: the first of `names` (in their order) in ALARM, else clear.
pub(crate) async fn state(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Result<Gate, AwsError> {
    let out = cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.iter().take(NAMES_PER_CALL).cloned().collect()))
        .send()
        .await
        .aws("DescribeAlarms", "gate alarms")?;
    let seen: Vec<(&str, &str, &str)> = names
        .iter()
        .filter_map(|n| {
            let a = out
                .metric_alarms()
                .iter()
                .find(|a| a.alarm_name() == Some(n.as_str()))?;
            Some((
                n.as_str(),
                a.state_value().map_or("", |s| s.as_str()),
                a.state_reason().unwrap_or_default(),
            ))
        })
        .collect();
    Ok(Gate::of(seen))
}

/// Deletes every alarm whose name starts with `prefix` (a function's gate alarms, or
/// the stack's), and that carries the stack's tag; returns how many.
pub(crate) async fn delete_all(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    prefix: &str,
    stack: &str,
    notify: &dyn Notify,
) -> Result<usize, AwsError> {
    let mut names = Vec::new();
    let mut pages = cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeAlarms", prefix)?;
        names.extend(
            page.metric_alarms()
                .iter()
                .filter_map(|a| Some((a.alarm_name()?.to_string(), a.alarm_arn()?.to_string()))),
        );
    }
    let mut ours = Vec::new();
    for (name, arn) in names {
        let tags = cloudwatch
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .aws("ListTagsForResource", &name)?;
        let stack_tag = tags
            .tags()
            .iter()
            .find(|t| t.key() == Some(TAG_STACK))
            .and_then(Tag::value);
        if stack_tag == Some(stack) {
            ours.push(name);
        }
    }
    for chunk in ours.chunks(NAMES_PER_CALL) {
        retry(
            Policy::transient(),
            "delete the gate alarms",
            notify,
            || async {
                cloudwatch
                    .delete_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .send()
                    .await
                    .aws("DeleteAlarms", prefix)
            },
        )
        .await?;
    }
    Ok(ours.len())
}
