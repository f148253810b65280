//! What the stack's Elastic Load Balancing resources share (load balancer, listeners,
//! rules, target groups): tags, and taking over what a lost creation left behind.

use aws_sdk_elasticloadbalancingv2::types::Tag;

use super::{read, tag_changes, Ctx};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Policy};
use crate::model::plan::{Change, Observed};
use crate::model::stack::Tags;

pub(crate) fn to_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of ELB resources, by ARN (at most 20 per call).
pub(crate) async fn read_tags(
    ctx: &Ctx<'_>,
    arns: &[String],
) -> Result<std::collections::BTreeMap<String, Tags>, AwsError> {
    let mut out = std::collections::BTreeMap::new();
    for chunk in arns.chunks(20) {
        let resp = read(ctx, "tags", "read load balancer tags", || async {
            ctx.aws
                .elb
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .aws("DescribeTags", "elb resources")
        })
        .await?;
        for d in resp.tag_descriptions() {
            let tags: Tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect();
            if let Some(arn) = d.resource_arn() {
                out.insert(arn.to_string(), tags);
            }
        }
    }
    Ok(out)
}

/// After a creation failed because the name is taken (`e`): the ARN of what holds the
/// name, when it carries this stack's tags. That is an earlier attempt whose response
/// was lost (AWS answers a repeat with identical settings with the same resource; not
/// every endpoint does, and a repeat that differs in any setting gets the error). A
/// resource under the name that is not the stack's is left alone and the error stands.
pub(crate) async fn adopt_if_owned(
    ctx: &Ctx<'_>,
    arn: Option<String>,
    e: AwsError,
) -> Result<String, AwsError> {
    let Some(arn) = arn else { return Err(e) };
    let tags = read_tags(ctx, std::slice::from_ref(&arn)).await?;
    match tags.get(&arn) {
        Some(tags) if ctx.owns(tags) => {
            tracing::debug!(%arn, "{} after a lost response: taking the existing one", e.operation);
            Ok(arn)
        }
        _ => Err(AwsError {
            message: format!(
                "{} ({arn} holds the name and is not tagged for this stack)",
                e.message
            ),
            ..e
        }),
    }
}

/// Brings an ELB resource's tags from the observed ones (`have`'s) to `new`.
pub(crate) async fn retag(
    ctx: &Ctx<'_>,
    arn: &str,
    change: &Change,
    have: Option<&Observed>,
    new: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(have, new);
    let notify = ctx.notify(&change.logical);
    if !set.is_empty() {
        retry(Policy::fresh(), "tag", &notify, || async {
            ctx.aws
                .elb
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(to_tags(&set)))
                .send()
                .await
                .aws("AddTags", arn)
        })
        .await?;
    }
    if !remove.is_empty() {
        retry(Policy::fresh(), "untag", &notify, || async {
            ctx.aws
                .elb
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(remove.clone()))
                .send()
                .await
                .aws("RemoveTags", arn)
        })
        .await?;
    }
    Ok(())
}
