//! The stack's CloudWatch alarms (`[alarms]`, docs/alarms.md): listed by their names'
//! prefix (`DescribeAlarms`), proved by their tags (`ListTagsForResource`), written
//! whole by `PutMetricAlarm` (an upsert by name), deleted by `DeleteAlarms`.
//!
//! Another stack's alarms may share the prefix (`albkit-<stack>-alarm-` is also the
//! start of stack `<stack>-alarm-…`'s names), and a deploy's gate alarms
//! (`albkit-<stack>--…`, tagged `albkit:gate`) never do; so an alarm is the stack's
//! only with the stack's tag, a logical id under `alarm/` and no gate tag. One under
//! one of the names the config gives without that proof is foreign.

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, Statistic, Tag,
};

use super::gate_alarms::TAG_GATE;
use super::{logical_of, not_tagged_reason, read, tag_changes, teardown, Ctx, Foreign};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{arn_dimension, AlarmSpec, DimValue, Rate, Ref, Spec, Threshold};
use crate::model::stack::Tags;

/// The dimensions whose values are the end of a stack resource's ARN.
const ARN_DIMENSIONS: &[&str] = &["TargetGroup", "LoadBalancer"];

/// The stack's alarms, with their dimensions as read ([`link_dimensions`] makes them
/// the target groups' and load balancer's ARNs), and foreign ones in their names.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let prefix = ctx.names.alarm_prefix();
    let mut alarms = Vec::new();
    let mut pages = ctx
        .aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeAlarms", &prefix)?;
        alarms.extend(page.metric_alarms().iter().cloned());
    }
    let desired: Vec<String> = crate::model::alarms::alarms(ctx.config, ctx.names)
        .into_iter()
        .map(|(_, a)| a.name)
        .collect();
    let reads = alarms.iter().map(|a| read_one(ctx, a, &desired));
    let found = futures::future::try_join_all(reads).await?;
    Ok(super::split_found(found))
}

/// One alarm: the stack's, foreign (under a name the config gives, without the proof),
/// or none of albkit's business (`None`).
async fn read_one(
    ctx: &Ctx<'_>,
    alarm: &MetricAlarm,
    desired: &[String],
) -> Result<Option<Result<Found, Foreign>>, AwsError> {
    let (Some(name), Some(arn)) = (alarm.alarm_name(), alarm.alarm_arn()) else {
        return Ok(None);
    };
    let out = read(ctx, name, "read alarm tags", || async {
        ctx.aws
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", name)
    })
    .await?;
    let tags: Tags = out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let logical = logical_of(&tags).filter(|l| l.starts_with("alarm/"));
    match logical {
        Some(logical) if ctx.owns(&tags) && !tags.contains_key(TAG_GATE) => {
            let spec = spec_of(alarm, tags.clone());
            let found = Found::new(name, logical, spec, tags).with(Facts::Arn(arn.to_string()));
            Ok(Some(Ok(found)))
        }
        _ if desired.iter().any(|d| d == name) => Ok(Some(Err(Foreign {
            kind: "CloudWatch alarm",
            name: name.to_string(),
            reason: format!(
                "{} (or it is a deploy gate's); delete or rename it",
                not_tagged_reason(ctx, &tags)
            ),
        }))),
        _ => Ok(None),
    }
}

/// The alarm as its spec, references as AWS ids.
fn spec_of(a: &MetricAlarm, tags: Tags) -> AlarmSpec {
    if let Some(spec) = rate_spec_of(a, &tags) {
        return spec;
    }
    let statistic = a
        .statistic()
        .map(|s| s.as_str().to_string())
        .or_else(|| a.extended_statistic().map(str::to_string))
        .unwrap_or_default();
    AlarmSpec {
        namespace: a.namespace().unwrap_or_default().to_string(),
        metric: a.metric_name().unwrap_or_default().to_string(),
        statistic,
        dimensions: dimensions_of(a.dimensions()),
        period: a.period().unwrap_or_default(),
        ..common_of(a, tags)
    }
}

/// An alarm on metric math as albkit writes a rate (an expression over `m` and `r`):
/// its metric is `m`'s, the denominator `r`'s; `None` for an alarm on one metric.
fn rate_spec_of(a: &MetricAlarm, tags: &Tags) -> Option<AlarmSpec> {
    let queries = a.metrics();
    let expression = queries.iter().find_map(|q| q.expression())?;
    let stat_of = |id: &str| {
        queries
            .iter()
            .find(|q| q.id() == Some(id))
            .and_then(|q| q.metric_stat())
    };
    let (m, r) = (stat_of("m"), stat_of("r"));
    let metric = m.and_then(|m| m.metric());
    Some(AlarmSpec {
        namespace: metric
            .and_then(|m| m.namespace())
            .unwrap_or_default()
            .to_string(),
        metric: metric
            .and_then(|m| m.metric_name())
            .unwrap_or_default()
            .to_string(),
        statistic: m.and_then(|m| m.stat()).unwrap_or_default().to_string(),
        dimensions: dimensions_of(metric.map_or(&[], |m| m.dimensions())),
        period: m.and_then(MetricStat::period).unwrap_or_default(),
        rate: Some(Rate {
            denominator: r
                .and_then(|r| r.metric())
                .and_then(|m| m.metric_name())
                .unwrap_or_default()
                .to_string(),
            expression: expression.to_string(),
        }),
        ..common_of(a, tags.clone())
    })
}

/// The dimensions as a spec holds them: the target group's and load balancer's as
/// references (still the values read), the others as text.
fn dimensions_of(dims: &[Dimension]) -> Vec<(String, DimValue)> {
    dims.iter()
        .map(|d| {
            let name = d.name().unwrap_or_default().to_string();
            let value = d.value().unwrap_or_default().to_string();
            let value = if ARN_DIMENSIONS.contains(&name.as_str()) {
                DimValue::Arn(Ref::External(value))
            } else {
                DimValue::Text(value)
            };
            (name, value)
        })
        .collect()
}

/// What every alarm has whatever it watches.
fn common_of(a: &MetricAlarm, tags: Tags) -> AlarmSpec {
    AlarmSpec {
        name: a.alarm_name().unwrap_or_default().to_string(),
        description: a.alarm_description().unwrap_or_default().to_string(),
        namespace: String::new(),
        metric: String::new(),
        statistic: String::new(),
        dimensions: Vec::new(),
        rate: None,
        threshold: Threshold::of(a.threshold().unwrap_or_default()),
        comparison: a
            .comparison_operator()
            .map_or(String::new(), |c| c.as_str().to_string()),
        period: 0,
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        // CloudWatch's default when none was given.
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        actions: a
            .alarm_actions()
            .iter()
            .map(|arn| Ref::External(arn.clone()))
            .collect(),
        tags,
    }
}

/// Makes each found alarm's `TargetGroup` and `LoadBalancer` dimension the ARN it is
/// the end of, among `arns` (the target groups and load balancer discovery found), so
/// that resolving it gives the logical id. A value of no found resource stays as read.
pub(crate) fn link_dimensions(alarms: &mut [Found], arns: &[&str]) {
    for found in alarms {
        let Spec::Alarm(spec) = &mut found.spec else {
            continue;
        };
        for (_, value) in &mut spec.dimensions {
            if let DimValue::Arn(Ref::External(v)) = value {
                if let Some(arn) = arns.iter().find(|a| arn_dimension(a) == v.as_str()) {
                    *v = (*arn).to_string();
                }
            }
        }
    }
}

/// Writes the alarm whole (`PutMetricAlarm`); on an update, its tags too (CloudWatch
/// ignores `Tags` when the alarm exists). Returns its name.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &AlarmSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let mut dimensions = Vec::new();
    for (name, value) in &want.dimensions {
        let value = match value {
            DimValue::Text(t) => t.clone(),
            DimValue::Arn(r) => arn_dimension(&ctx.ids.of(r)?).to_string(),
        };
        dimensions.push(Dimension::builder().name(name).value(value).build());
    }
    let mut actions = Vec::new();
    for a in &want.actions {
        actions.push(ctx.ids.of(a)?);
    }
    let tags: Vec<Tag> = want
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let what = Watched::of(want, dimensions);
    retry(
        Policy::fresh(),
        "put alarm",
        &ctx.notify(&change.logical),
        || async {
            let put = ctx
                .aws
                .cloudwatch
                .put_metric_alarm()
                .alarm_name(&want.name)
                .alarm_description(&want.description)
                .evaluation_periods(want.evaluation_periods)
                .threshold(want.threshold.value())
                .comparison_operator(ComparisonOperator::from(want.comparison.as_str()))
                .treat_missing_data(&want.treat_missing_data)
                .set_alarm_actions(Some(actions.clone()))
                .set_tags(Some(tags.clone()));
            let put = match &what {
                Watched::Rate(queries) => put.set_metrics(Some(queries.clone())),
                Watched::Metric(dims) => {
                    let put = put
                        .namespace(&want.namespace)
                        .metric_name(&want.metric)
                        .set_dimensions(Some(dims.clone()))
                        .period(want.period);
                    if want.statistic.starts_with('p') {
                        put.extended_statistic(&want.statistic)
                    } else {
                        put.statistic(Statistic::from(want.statistic.as_str()))
                    }
                }
            };
            put.send().await.aws("PutMetricAlarm", &want.name)
        },
    )
    .await?;
    if let Some(Facts::Arn(arn)) = have.map(|h| &h.facts) {
        retag(ctx, change, arn, have, &want.tags).await?;
    }
    Ok(want.name.clone())
}

/// What `PutMetricAlarm` is given to watch: one metric (with its dimensions), or the
/// metric math of a rate (`m`, `r` and the expression, which alone returns data).
enum Watched {
    Metric(Vec<Dimension>),
    Rate(Vec<MetricDataQuery>),
}

impl Watched {
    fn of(want: &AlarmSpec, dimensions: Vec<Dimension>) -> Self {
        let Some(rate) = &want.rate else {
            return Watched::Metric(dimensions);
        };
        let stat = |id: &str, metric: &str, stat: &str| {
            let metric = Metric::builder()
                .namespace(&want.namespace)
                .metric_name(metric)
                .set_dimensions(Some(dimensions.clone()))
                .build();
            let stat = MetricStat::builder()
                .metric(metric)
                .period(want.period)
                .stat(stat)
                .build();
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(stat)
                .return_data(false)
                .build()
        };
        Watched::Rate(vec![
            MetricDataQuery::builder()
                .id("e")
                .expression(&rate.expression)
                .return_data(true)
                .build(),
            stat("m", &want.metric, &want.statistic),
            stat("r", &rate.denominator, "Sum"),
        ])
    }
}

/// Brings an existing alarm's tags to `tags`.
async fn retag(
    ctx: &Ctx<'_>,
    change: &Change,
    arn: &str,
    have: Option<&Observed>,
    tags: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(have, tags);
    let notify = ctx.notify(&change.logical);
    if !set.is_empty() {
        let set: Vec<Tag> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        retry(Policy::transient(), "tag alarm", &notify, || async {
            ctx.aws
                .cloudwatch
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(set.clone()))
                .send()
                .await
                .aws("TagResource", arn)
        })
        .await?;
    }
    if !remove.is_empty() {
        retry(Policy::transient(), "untag alarm", &notify, || async {
            ctx.aws
                .cloudwatch
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(remove.clone()))
                .send()
                .await
                .aws("UntagResource", arn)
        })
        .await?;
    }
    Ok(())
}

/// Deletes the alarm (its name); deleting one already gone succeeds.
pub(crate) async fn delete(
    ctx: &Ctx<'_>,
    have: &Observed,
    _: super::Teardown,
) -> Result<(), AwsError> {
    let name = have.id.as_str();
    teardown(ctx, &have.resource.logical, "delete alarm", || async {
        ctx.aws
            .cloudwatch
            .delete_alarms()
            .alarm_names(name)
            .send()
            .await
            .aws("DeleteAlarms", name)
    })
    .await
}
