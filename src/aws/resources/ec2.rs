//! What every EC2 resource of the stack shares: finding one by its tags after a lost
//! creation, tag conversions, and bringing tags up to date.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{tag_changes, Ctx};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::model::names::TAG_STACK;
use crate::model::plan::{Change, Observed};
use crate::model::stack::Tags;

pub(crate) fn stack_filter(stack: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{TAG_STACK}"))
        .values(stack)
        .build()
}

/// Kinds of EC2 resources albkit creates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ec2Kind {
    Vpc,
    Subnet,
    InternetGateway,
    RouteTable,
    SecurityGroup,
}

/// The id of the stack's EC2 resource tagged with `logical`, if one exists: what an
/// interrupted or lost creation left behind.
pub(crate) async fn find_tagged(
    ctx: &Ctx<'_>,
    kind: Ec2Kind,
    logical: &str,
) -> Result<Option<String>, AwsError> {
    let ec2 = &ctx.aws.ec2;
    let filters = vec![
        stack_filter(ctx.stack()),
        Filter::builder()
            .name(format!("tag:{}", crate::model::names::TAG_RESOURCE))
            .values(logical)
            .build(),
    ];
    // The first found's id: `describe` names the call, `list` the answer's list and `id`
    // the resource's id.
    macro_rules! first_id {
        ($describe:ident, $operation:literal, $list:ident, $id:ident) => {{
            let out = ec2.$describe().set_filters(Some(filters)).send().await;
            let out = out.aws($operation, logical)?;
            out.$list()
                .first()
                .and_then(|v| v.$id().map(str::to_string))
        }};
    }
    Ok(match kind {
        Ec2Kind::Vpc => first_id!(describe_vpcs, "DescribeVpcs", vpcs, vpc_id),
        Ec2Kind::Subnet => first_id!(describe_subnets, "DescribeSubnets", subnets, subnet_id),
        Ec2Kind::InternetGateway => first_id!(
            describe_internet_gateways,
            "DescribeInternetGateways",
            internet_gateways,
            internet_gateway_id
        ),
        Ec2Kind::RouteTable => first_id!(
            describe_route_tables,
            "DescribeRouteTables",
            route_tables,
            route_table_id
        ),
        Ec2Kind::SecurityGroup => first_id!(
            describe_security_groups,
            "DescribeSecurityGroups",
            security_groups,
            group_id
        ),
    })
}

pub(crate) fn tag_map(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub(crate) fn to_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(to_tags(tags)))
        .build()
}

/// Brings an EC2 resource's tags from the observed ones (`have`'s) to `new`.
pub(crate) async fn retag(
    ctx: &Ctx<'_>,
    id: &str,
    have: Option<&Observed>,
    new: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(have, new);
    if !set.is_empty() {
        ctx.aws
            .ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .aws("CreateTags", id)?;
    }
    if !remove.is_empty() {
        let keys = remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        ctx.aws
            .ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .aws("DeleteTags", id)?;
    }
    Ok(())
}

/// An existing EC2 resource's id, after bringing its tags to `tags` if the plan
/// changes them.
pub(crate) async fn retagged(
    ctx: &Ctx<'_>,
    id: &str,
    change: &Change,
    have: Option<&Observed>,
    tags: &Tags,
) -> Result<String, AwsError> {
    if change.changed("tags") {
        retag(ctx, id, have, tags).await?;
    }
    Ok(id.to_string())
}
