//! One public subnet per availability zone.

use aws_sdk_ec2::types::{ResourceType, SubnetCidrBlockStateCode};

use super::ec2::{find_tagged, retag, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{as_found, logical_of, teardown, wait_error, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{create_once, retry, wait_until, Policy, Poll};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{ipv6_block, ipv6_index, Props, Ref, SubnetSpec};

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
                ipv6: ipv6_of(s).as_deref().and_then(ipv6_index),
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
    let vpc = ctx.ids.get(logical::VPC)?;
    let block = match want.ipv6 {
        Some(index) => Some(ipv6_block_of(ctx, change, &vpc, index).await?),
        None => None,
    };
    if let Some(id) = &change.id {
        if change.changed("tags") {
            retag(ctx, id, have, &want.tags).await?;
        }
        if let (true, Some(block)) = (change.changed("ipv6"), &block) {
            add_ipv6(ctx, change, id, block).await?;
        }
        return Ok(id.clone());
    }
    let id = create(ctx, change, want, &vpc, block.as_deref()).await?;
    if block.is_some() {
        wait_ipv6(ctx, change, &id).await?;
    }
    Ok(id)
}

/// The /64 of the VPC's IPv6 block a subnet gets, once the VPC has its block.
async fn ipv6_block_of(
    ctx: &Ctx<'_>,
    change: &Change,
    vpc: &str,
    index: u8,
) -> Result<String, ResourceError> {
    let vpc_block = super::vpc::ipv6_block(ctx, &change.logical, vpc).await?;
    ipv6_block(&vpc_block, index).ok_or_else(|| {
        ResourceError::from(AwsError::incomplete(
            "DescribeVpcs",
            &change.logical,
            &format!("an IPv6 /56 block (the VPC has {vpc_block})"),
        ))
    })
}

async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &SubnetSpec,
    vpc: &str,
    ipv6: Option<&str>,
) -> Result<String, ResourceError> {
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
                .vpc_id(vpc)
                .cidr_block(&want.cidr)
                .set_ipv6_cidr_block(ipv6.map(str::to_string))
                .availability_zone(&want.availability_zone)
                .tag_specifications(tag_spec(ResourceType::Subnet, &want.tags))
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

/// Gives subnet `id` the IPv6 `block` (`AssociateSubnetCidrBlock`), then waits for it.
async fn add_ipv6(
    ctx: &Ctx<'_>,
    change: &Change,
    id: &str,
    block: &str,
) -> Result<(), ResourceError> {
    retry(
        Policy::fresh(),
        &format!("add IPv6 block {block} to {}", change.logical),
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .ec2
                .associate_subnet_cidr_block()
                .subnet_id(id)
                .ipv6_cidr_block(block)
                .send()
                .await
                .aws("AssociateSubnetCidrBlock", id)
                .map(|_| ())
        },
    )
    .await?;
    wait_ipv6(ctx, change, id).await
}

/// The subnet's associated IPv6 block, if any.
fn ipv6_of(subnet: &aws_sdk_ec2::types::Subnet) -> Option<String> {
    subnet
        .ipv6_cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.ipv6_cidr_block_state().and_then(|s| s.state())
                == Some(&SubnetCidrBlockStateCode::Associated)
        })
        .find_map(|a| a.ipv6_cidr_block().map(str::to_string))
}

/// Waits (up to five minutes) until subnet `id`'s IPv6 block is associated: the load
/// balancer refuses a dualstack subnet before.
async fn wait_ipv6(ctx: &Ctx<'_>, change: &Change, id: &str) -> Result<(), ResourceError> {
    wait_until(
        &format!("the IPv6 block of subnet {id} to be associated"),
        std::time::Duration::from_secs(300),
        &ctx.notify(&change.logical),
        || async {
            let out = ctx
                .aws
                .ec2
                .describe_subnets()
                .subnet_ids(id)
                .send()
                .await
                .aws("DescribeSubnets", id)?;
            Ok(match out.subnets().first().and_then(ipv6_of) {
                Some(_) => Poll::Ready(()),
                None => Poll::Pending("associating".into()),
            })
        },
    )
    .await
    .map_err(|e| ResourceError::from(wait_error(e, "DescribeSubnets", id)))
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
