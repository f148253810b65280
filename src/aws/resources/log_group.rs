//! The function's CloudWatch log group, created before the function so that albkit owns
//! its retention.

use super::vpc::ignore_not_found;
use super::{logical_of, observed, old_tags, tag_changes, Ctx};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Policy};
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::stack::{tags_prop, Kind, Resource, Tags};

pub async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
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
    let mut found = Vec::new();
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
        let logical = if ctx.owns(&tags) {
            logical_of(&tags)
        } else if tags.is_empty() {
            // Lambda creates `/aws/lambda/<function>` by itself on first invocation; an
            // untagged group with the exact name of one of the stack's functions is
            // that function's, and albkit adopts it.
            ctx.config
                .functions
                .iter()
                .find(|f| ctx.names.log_group(&f.name) == name)
                .map(|f| logical::log_group(&f.name))
        } else {
            None
        };
        let Some(logical) = logical else { continue };
        found.push(observed(
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

pub async fn apply(ctx: &Ctx<'_>, change: &Change, want: &Resource) -> Result<String, AwsError> {
    let logs = &ctx.aws.logs;
    let notify = ctx.notify(&want.logical);
    let name = want.get("name").unwrap_or_default();
    let tags = ctx.tags(&want.logical);
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
        let days: i32 = want
            .get("retention_days")
            .and_then(|d| d.parse().ok())
            .unwrap_or(14);
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
