//! The function's CloudWatch log group, created before the function so that albkit owns
//! its retention.

use aws_sdk_cloudwatchlogs::types::LogGroup;

use super::already_done;
use super::{
    logical_of, not_tagged_reason, read, read_each, tag_changes, teardown, Ctx, Foreign, Teardown,
};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::{log_group_of, logical};
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::LogGroupSpec;
use crate::model::stack::Tags;

/// What log-group discovery found.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    /// Tagged as the stack's.
    pub owned: Vec<Found>,
    /// Untagged, named as one of the stack's functions' log groups under either naming
    /// scheme: the caller keeps those of the functions it found (see
    /// [`crate::aws::discover::adopt_untagged_log_groups`]).
    pub untagged: Vec<Found>,
    /// Tagged for someone else, under the current name of one of the stack's log groups.
    pub foreign: Vec<Foreign>,
}

/// The log groups under the stack's prefix, sorted into [`Groups`].
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Groups, AwsError> {
    let mut found = Groups::default();
    let groups = list_groups(ctx).await?;
    let named = groups.iter().filter_map(|g| {
        let name = g.log_group_name()?;
        let arn = g.arn().unwrap_or_default().trim_end_matches(":*");
        Some((g, name, arn.to_string()))
    });
    let tagged = read_each(named, |(g, name, arn)| async move {
        let tags = group_tags(ctx, name, &arn).await?;
        Ok((g, name, arn, tags))
    })
    .await?;
    for (g, name, arn, tags) in tagged {
        let Some((logical, into)) = place(ctx, &mut found, name, &tags) else {
            continue;
        };
        let days = g.retention_in_days().and_then(|d| u32::try_from(d).ok());
        let mut extras = vec![("arn", arn)];
        if days.is_none() {
            extras.push(("retention_days", "never expire".into()));
        }
        let spec = LogGroupSpec {
            name: name.to_string(),
            retention_days: days.unwrap_or_default(),
            tags: tags.clone(),
        };
        let found = Found::new(name, logical, spec, tags).extras(extras);
        into.push(found.with(Facts::Named(name.to_string())));
    }
    Ok(found)
}

/// The log groups of the stack's functions' prefix, `/aws/lambda/<stack>-`.
async fn list_groups(ctx: &Ctx<'_>) -> Result<Vec<LogGroup>, AwsError> {
    let prefix = format!("/aws/lambda/{}-", ctx.stack());
    let mut groups = Vec::new();
    let mut pages = ctx
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeLogGroups", &prefix)?;
        groups.extend(page.log_groups().to_vec());
    }
    Ok(groups)
}

/// The tags of the log group `name` (`arn`).
async fn group_tags(ctx: &Ctx<'_>, name: &str, arn: &str) -> Result<Tags, AwsError> {
    let out = read(ctx, "log-group", "read log group tags", || async {
        ctx.aws
            .logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", name)
    })
    .await?;
    Ok(Tags::from_iter(out.tags().cloned().unwrap_or_default()))
}

/// Where the log group `name` with `tags` goes in `found`, with its logical id there;
/// `None` for one that is not the stack's (added to `found.foreign` when it has the
/// current name of one of the stack's log groups).
fn place<'f>(
    ctx: &Ctx<'_>,
    found: &'f mut Groups,
    name: &str,
    tags: &Tags,
) -> Option<(String, &'f mut Vec<Found>)> {
    let configured = |current_only: bool| {
        ctx.config.functions.iter().find(|f| {
            ctx.names.log_group(&f.name) == name
                || (!current_only && log_group_of(&ctx.names.legacy_function(&f.name)) == name)
        })
    };
    if ctx.owns(tags) {
        Some((logical_of(tags)?, &mut found.owned))
    } else if tags.is_empty() {
        // Lambda creates `/aws/lambda/<function>` by itself on first invocation: an
        // untagged group with the exact name of one of the stack's functions is that
        // function's, and albkit adopts it.
        let f = configured(false)?;
        Some((logical::log_group(&f.name), &mut found.untagged))
    } else {
        if configured(true).is_some() {
            found.foreign.push(Foreign {
                kind: "log group",
                name: name.to_string(),
                reason: not_tagged_reason(ctx, tags),
            });
        }
        None
    }
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LogGroupSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let logs = &ctx.aws.logs;
    let notify = ctx.notify(&change.logical);
    let name = want.name.as_str();
    if change.id.is_none() {
        retry(Policy::transient(), "create log group", &notify, || async {
            logs.create_log_group()
                .log_group_name(name)
                .set_tags(Some(want.tags.clone().into_iter().collect()))
                .send()
                .await
                .aws("CreateLogGroup", name)
        })
        .await
        .map(|_| ())
        .or_else(already_done(&["ResourceAlreadyExistsException"]))?;
    } else if change.changed("tags") {
        retag(ctx, have, name, &want.tags).await?;
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

/// Brings the log group's tags from the observed ones to `tags`.
async fn retag(
    ctx: &Ctx<'_>,
    have: Option<&Observed>,
    name: &str,
    tags: &Tags,
) -> Result<(), AwsError> {
    let logs = &ctx.aws.logs;
    let arn = format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        crate::model::stack::partition(&ctx.aws.region),
        ctx.aws.region,
        ctx.account().await?
    );
    let (set, remove) = tag_changes(have, tags);
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
    Ok(())
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let name = have.id.as_str();
    teardown(ctx, "log-group", "delete log group", || async {
        ctx.aws
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .aws("DeleteLogGroup", name)
    })
    .await
}
