//! The SNS topic the stack's alarms notify (`[alarms] notify`) and its email
//! subscriptions: found by its name among the region's topics (`ListTopics`), proved by
//! its tags, created with them (`CreateTopic`), its subscriptions read
//! (`ListSubscriptionsByTopic`), added (`Subscribe`) and removed (`Unsubscribe`);
//! `DeleteTopic` removes it with its subscriptions.
//!
//! A subscription waiting for its address to confirm AWS's email has no ARN
//! (`PendingConfirmation`) and cannot be unsubscribed; AWS drops it after three days
//! unconfirmed. Its address still counts as subscribed, so `up` never mails it twice.

use aws_sdk_sns::types::Tag;

use super::{not_tagged_reason, read, tag_changes, teardown, Ctx, Foreign};
use crate::aws::error::{build_error, AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::AlarmTopicSpec;
use crate::model::stack::Tags;

/// The protocol of the subscriptions albkit makes.
const EMAIL: &str = "email";

/// The stack's topic, or a foreign one under its name when the config asks for a topic
/// (without `notify`, somebody else's topic of that name is none of albkit's business).
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let name = ctx.names.alarm_topic();
    let suffix = format!(":{name}");
    let mut arn = None;
    let mut pages = ctx.aws.sns.list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListTopics", &name)?;
        arn = arn.or_else(|| {
            page.topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .find(|a| a.ends_with(&suffix))
                .map(str::to_string)
        });
    }
    let Some(arn) = arn else {
        return Ok((vec![], vec![]));
    };
    let tags = topic_tags(ctx, &arn).await?;
    let wanted = ctx
        .config
        .alarms
        .as_ref()
        .is_some_and(|a| !a.notify.is_empty());
    if !ctx.owns(&tags) && !wanted {
        // Somebody's topic under the name, which the config does not ask for.
        return Ok((vec![], vec![]));
    }
    if !ctx.owns(&tags) {
        let foreign = Foreign {
            kind: "SNS topic",
            name: arn,
            reason: format!("{}; delete or rename it", not_tagged_reason(ctx, &tags)),
        };
        return Ok((vec![], vec![foreign]));
    }
    let mut emails: Vec<String> = subscriptions(ctx, &arn)
        .await?
        .into_iter()
        .map(|(email, _)| email)
        .collect();
    emails.sort();
    emails.dedup();
    let spec = AlarmTopicSpec {
        name,
        emails,
        tags: tags.clone(),
    };
    Ok((
        vec![Found::new(arn, logical::ALARM_TOPIC, spec, tags)],
        vec![],
    ))
}

async fn topic_tags(ctx: &Ctx<'_>, arn: &str) -> Result<Tags, AwsError> {
    let out = read(ctx, logical::ALARM_TOPIC, "read topic tags", || async {
        ctx.aws
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", arn)
    })
    .await?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// The topic's email subscriptions: `(address lower-cased, subscription ARN)`, the ARN
/// `PendingConfirmation` while the address has not confirmed.
async fn subscriptions(ctx: &Ctx<'_>, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListSubscriptionsByTopic", arn)?;
        out.extend(
            page.subscriptions()
                .iter()
                .filter(|s| s.protocol() == Some(EMAIL))
                .filter_map(|s| {
                    Some((
                        s.endpoint()?.to_ascii_lowercase(),
                        s.subscription_arn()?.to_string(),
                    ))
                }),
        );
    }
    Ok(out)
}

/// Creates the topic with its tags (or brings an existing one's tags up to date), then
/// subscribes the addresses it lacks and unsubscribes the ones the config dropped.
/// Returns its ARN.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &AlarmTopicSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let arn = if let Some(h) = have {
        retag(ctx, change, &h.id, have, &want.tags).await?;
        h.id.clone()
    } else {
        create(ctx, change, want).await?
    };
    sync_subscriptions(ctx, change, &arn, &want.emails).await?;
    Ok(arn)
}

async fn create(ctx: &Ctx<'_>, change: &Change, want: &AlarmTopicSpec) -> Result<String, AwsError> {
    let tags = sns_tags(&want.tags)?;
    let out = retry(
        Policy::fresh(),
        "create topic",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .sns
                .create_topic()
                .name(&want.name)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .aws("CreateTopic", &want.name)
        },
    )
    .await?;
    Ok(out
        .topic_arn()
        .ok_or_else(|| AwsError::incomplete("CreateTopic", &want.name, "TopicArn"))?
        .to_string())
}

/// Subscribes each of `emails` the topic lacks, unsubscribes each confirmed address
/// not among them.
async fn sync_subscriptions(
    ctx: &Ctx<'_>,
    change: &Change,
    arn: &str,
    emails: &[String],
) -> Result<(), AwsError> {
    let notify = ctx.notify(&change.logical);
    let subscribed = subscriptions(ctx, arn).await?;
    for email in emails {
        if subscribed.iter().any(|(e, _)| e == email) {
            continue;
        }
        retry(Policy::fresh(), "subscribe", &notify, || async {
            ctx.aws
                .sns
                .subscribe()
                .topic_arn(arn)
                .protocol(EMAIL)
                .endpoint(email)
                .send()
                .await
                .aws("Subscribe", email)
        })
        .await?;
    }
    for (email, sub) in &subscribed {
        if emails.contains(email) || !sub.starts_with("arn:") {
            continue;
        }
        retry(Policy::transient(), "unsubscribe", &notify, || async {
            ctx.aws
                .sns
                .unsubscribe()
                .subscription_arn(sub)
                .send()
                .await
                .aws("Unsubscribe", email)
        })
        .await?;
    }
    Ok(())
}

fn sns_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("TagResource", k))
        })
        .collect()
}

/// Brings an existing topic's tags to `tags`.
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
        let set = sns_tags(&set)?;
        retry(Policy::transient(), "tag topic", &notify, || async {
            ctx.aws
                .sns
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
        retry(Policy::transient(), "untag topic", &notify, || async {
            ctx.aws
                .sns
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

/// Deletes the topic (its ARN) and with it its subscriptions.
pub(crate) async fn delete(
    ctx: &Ctx<'_>,
    have: &Observed,
    _: super::Teardown,
) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    teardown(ctx, logical::ALARM_TOPIC, "delete topic", || async {
        ctx.aws
            .sns
            .delete_topic()
            .topic_arn(arn)
            .send()
            .await
            .aws("DeleteTopic", arn)
    })
    .await
}
