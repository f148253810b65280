//! One public subnet per availability zone.

use aws_sdk_ec2::types::ResourceType;

use super::ec2::{find_tagged, retag, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{as_found, logical_of, teardown, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{Props, Ref, SubnetSpec};

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read subnets",
        &ctx.notify("subnet"),
        || async {
            ctx.aws
                .ec2
                .describe_subnets()
                .filters(stack_filter(ctx.stack()))
                .send()
                .await
                .aws("DescribeSubnets", "subnets")
        },
    )
    .await?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| {
            let tags = tag_map(s.tags());
            let logical = logical_of(&tags)?;
            let mut extras = Props::new();
            let public_ip = s.map_public_ip_on_launch().unwrap_or(false).to_string();
            as_found(&mut extras, "map_public_ip", public_ip, "false");
            let spec = SubnetSpec {
                vpc: Ref::External(s.vpc_id().unwrap_or_default().to_string()),
                cidr: s.cidr_block().unwrap_or_default().to_string(),
                availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                tags: tags.clone(),
            };
            Some(Found::new(s.subnet_id()?, logical, spec, tags).extras(extras))
        })
        .collect())
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &SubnetSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let tags = want.tags.clone();
    if let Some(id) = &change.id {
        if change.changed("tags") {
            retag(ctx, id, have, &tags).await?;
        }
        return Ok(id.clone());
    }
    let vpc = ctx.ids.get(logical::VPC)?;
    create_once(
        Policy::fresh(),
        &format!("create {}", change.logical),
        &ctx.notify(&change.logical),
        || find_tagged(ctx, Ec2Kind::Subnet, &change.logical),
        || async {
            let out = ctx
                .aws
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(&want.cidr)
                .availability_zone(&want.availability_zone)
                .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                .customize()
                .config_override(no_sdk_retries())
                .send()
                .await
                .aws("CreateSubnet", &change.logical)?;
            out.subnet()
                .and_then(|s| s.subnet_id())
                .map(str::to_string)
                .ok_or_else(|| AwsError::incomplete("CreateSubnet", &change.logical, "subnet id"))
        },
    )
    .await
    .map_err(ResourceError::from)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let id = have.id.as_str();
    teardown(ctx, "subnet", &format!("delete subnet {id}"), || async {
        ctx.aws
            .ec2
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .aws("DeleteSubnet", id)
    })
    .await
}
