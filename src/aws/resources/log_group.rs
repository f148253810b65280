//! The function's CloudWatch log group, created before the function so that albkit owns
//! its retention.

use super::vpc::ignore_not_found;
use super::{logical_of, not_tagged_reason, observed, old_tags, tag_changes, Ctx, Foreign};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Policy};
use crate::model::names::{log_group_of, logical};
use crate::model::plan::{Change, Observed};
use crate::model::spec::LogGroupSpec;
use crate::model::stack::{tags_prop, Kind, Resource, Tags};

/// What log-group discovery found.
#[derive(Debug, Default)]
pub struct Found {
    /// Tagged as the stack's.
    pub owned: Vec<Observed>,
    /// Untagged, named as one of the stack's functions' log groups under either naming
    /// scheme: the caller keeps those of the functions it found (see
    /// [`crate::aws::discover::adopt_untagged_log_groups`]).
    pub untagged: Vec<Observed>,
    /// Tagged for someone else, under the current name of one of the stack's log groups.
    pub foreign: Vec<Foreign>,
}

pub async fn discover(ctx: &Ctx<'_>) -> Result<Found, AwsError> {
    let logs = &ctx.aws.logs;
    let prefix = format!("/aws/lambda/{}-", ctx.stack());
    let mut groups = Vec::new();
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeLogGroups", &prefix)?;
        groups.extend(page.log_groups().to_vec());
    }
    let mut found = Found::default();
    for g in groups {
        let Some(name) = g.log_group_name() else {
            continue;
        };
        let arn = g
            .arn()
            .unwrap_or_default()
            .trim_end_matches(":*")
            .to_string();
        let tags: Tags = retry(
            Policy::transient(),
            "read log group tags",
            &ctx.notify("log-group"),
            || async {
                logs.list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .aws("ListTagsForResource", name)
            },
        )
        .await?
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
        let configured = |current_only: bool| {
            ctx.config.functions.iter().find(|f| {
                ctx.names.log_group(&f.name) == name
                    || (!current_only && log_group_of(&ctx.names.legacy_function(&f.name)) == name)
            })
        };
        let (logical, into) = if ctx.owns(&tags) {
            let Some(logical) = logical_of(&tags) else {
                continue;
            };
            (logical, &mut found.owned)
        } else if tags.is_empty() {
            // Lambda creates `/aws/lambda/<function>` by itself on first invocation: an
            // untagged group with the exact name of one of the stack's functions is
            // that function's, and albkit adopts it.
            let Some(f) = configured(false) else { continue };
            (logical::log_group(&f.name), &mut found.untagged)
        } else {
            if configured(true).is_some() {
                found.foreign.push(Foreign {
                    kind: "log group",
                    name: name.to_string(),
                    reason: not_tagged_reason(ctx, &tags),
                });
            }
            continue;
        };
        into.push(observed(
            name,
            Resource::new(logical, Kind::LogGroup)
                .prop("name", name)
                .prop(
                    "retention_days",
                    g.retention_in_days()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "never expire".into()),
                )
                .prop("tags", tags_prop(&tags))
                .prop("arn", arn),
        ));
    }
    Ok(found)
}

pub async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LogGroupSpec,
) -> Result<String, AwsError> {
    let logs = &ctx.aws.logs;
    let notify = ctx.notify(&change.logical);
    let name = want.name.as_str();
    let tags = want.tags.clone();
    if change.id.is_none() {
        retry(Policy::transient(), "create log group", &notify, || async {
            logs.create_log_group()
                .log_group_name(name)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .aws("CreateLogGroup", name)
        })
        .await
        .map(|_| ())
        .or_else(|e| {
            if e.is("ResourceAlreadyExistsException") {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    } else if change.changed("tags") {
        let arn = format!(
            "arn:{}:logs:{}:{}:log-group:{name}",
            crate::model::stack::partition(&ctx.aws.region),
            ctx.aws.region,
            ctx.account().await?
        );
        let (set, remove) = tag_changes(&old_tags(change), &tags);
        if !set.is_empty() {
            logs.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(set.into_iter().collect()))
                .send()
                .await
                .aws("TagResource", name)?;
        }
        if !remove.is_empty() {
            logs.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .aws("UntagResource", name)?;
        }
    }
    if change.id.is_none() || change.changed("retention_days") {
        let days = i32::try_from(want.retention_days).unwrap_or(i32::MAX);
        retry(Policy::fresh(), "set log retention", &notify, || async {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .aws("PutRetentionPolicy", name)
        })
        .await?;
    }
    Ok(name.to_string())
}

pub async fn delete(ctx: &Ctx<'_>, name: &str) -> Result<(), AwsError> {
    retry(
        Policy::teardown(),
        "delete log group",
        &ctx.notify("log-group"),
        || async {
            ctx.aws
                .logs
                .delete_log_group()
                .log_group_name(name)
                .send()
                .await
                .aws("DeleteLogGroup", name)
        },
    )
    .await
    .map(|_| ())
    .or_else(ignore_not_found)
}
