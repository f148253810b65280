//! The stack's VPC (only when albkit manages the network).

use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType, VpcAttributeName, VpcCidrBlockStateCode,
};

use super::ec2::{find_tagged, retagged, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{as_found, logical_of, teardown, wait_error, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{create_once, retry, wait_until, Policy, Poll};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{Props, VpcSpec};

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let (ec2, notify) = (&ctx.aws.ec2, ctx.notify(logical::VPC));
    let read = || async {
        ec2.describe_vpcs()
            .filters(stack_filter(ctx.stack()))
            .send()
            .await
            .aws("DescribeVpcs", logical::VPC)
    };
    let out = retry(Policy::transient(), "read VPCs", &notify, read).await?;
    let mut found = Vec::new();
    for vpc in out.vpcs() {
        let (Some(id), tags) = (vpc.vpc_id(), tag_map(vpc.tags())) else {
            continue;
        };
        let Some(logical) = logical_of(&tags) else {
            continue;
        };
        let (support, hostnames) = tokio::try_join!(
            dns_attribute(ctx, id, VpcAttributeName::EnableDnsSupport),
            dns_attribute(ctx, id, VpcAttributeName::EnableDnsHostnames)
        )?;
        let dns = match (support, hostnames) {
            (true, true) => VpcSpec::DNS,
            (true, false) => "support",
            (false, true) => "hostnames",
            (false, false) => "off",
        };
        let mut extras = Props::new();
        as_found(&mut extras, "dns", dns, VpcSpec::DNS);
        let spec = VpcSpec {
            cidr: vpc.cidr_block().unwrap_or_default().to_string(),
            ipv6: usable_ipv6(vpc).is_some() || associating_ipv6(vpc),
            tags: tags.clone(),
        };
        found.push(Found::new(id, logical, spec, tags).extras(extras));
    }
    Ok(found)
}

async fn dns_attribute(ctx: &Ctx<'_>, id: &str, name: VpcAttributeName) -> Result<bool, AwsError> {
    let out = ctx
        .aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(name)
        .send()
        .await
        .aws("DescribeVpcAttribute", id)?;
    let value = out
        .enable_dns_support()
        .or(out.enable_dns_hostnames())
        .and_then(aws_sdk_ec2::types::AttributeBooleanValue::value)
        .unwrap_or(false);
    Ok(value)
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &VpcSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let id = match &change.id {
        Some(id) => retagged(ctx, id, change, have, &want.tags).await?,
        None => create(ctx, change, want).await?,
    };
    if change.id.is_none() || change.changed("dns") {
        enable_dns(ctx, change, &id).await?;
    }
    if change.id.is_some() && change.changed("ipv6") && want.ipv6 {
        add_ipv6(ctx, change, &id).await?;
    }
    if want.ipv6 {
        ipv6_block(ctx, &change.logical, &id).await?;
    }
    Ok(id)
}

/// The VPC's associated IPv6 block (`2001:db8:0:ab00::/56`), if it has one.
fn usable_ipv6(vpc: &aws_sdk_ec2::types::Vpc) -> Option<String> {
    vpc.ipv6_cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.ipv6_cidr_block_state().and_then(|s| s.state())
                == Some(&VpcCidrBlockStateCode::Associated)
        })
        .find_map(|a| a.ipv6_cidr_block().map(str::to_string))
}

/// Whether an IPv6 block is on its way to the VPC.
fn associating_ipv6(vpc: &aws_sdk_ec2::types::Vpc) -> bool {
    vpc.ipv6_cidr_block_association_set().iter().any(|a| {
        a.ipv6_cidr_block_state().and_then(|s| s.state())
            == Some(&VpcCidrBlockStateCode::Associating)
    })
}

/// Asks for an Amazon-provided IPv6 /56 for the VPC (`AssociateVpcCidrBlock`).
async fn add_ipv6(ctx: &Ctx<'_>, change: &Change, id: &str) -> Result<(), AwsError> {
    retry(
        Policy::fresh(),
        "add an IPv6 block to the VPC",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .ec2
                .associate_vpc_cidr_block()
                .vpc_id(id)
                .amazon_provided_ipv6_cidr_block(true)
                .send()
                .await
                .aws("AssociateVpcCidrBlock", id)
                .map(|_| ())
        },
    )
    .await
}

/// Waits (up to five minutes) until VPC `id` has an associated IPv6 block; gives it.
/// `resource` is the logical id its pauses are reported under.
pub(crate) async fn ipv6_block(
    ctx: &Ctx<'_>,
    resource: &str,
    id: &str,
) -> Result<String, AwsError> {
    wait_until(
        &format!("the IPv6 block of VPC {id} to be associated"),
        std::time::Duration::from_secs(300),
        &ctx.notify(resource),
        || async {
            let out = ctx
                .aws
                .ec2
                .describe_vpcs()
                .vpc_ids(id)
                .send()
                .await
                .aws("DescribeVpcs", id)?;
            Ok(match out.vpcs().first() {
                Some(vpc) => match usable_ipv6(vpc) {
                    Some(block) => Poll::Ready(block),
                    None if associating_ipv6(vpc) => Poll::Pending("associating".into()),
                    None => Poll::Failed {
                        state: "no IPv6 block".into(),
                        reason: format!("VPC {id} has no IPv6 block, nor one being associated"),
                    },
                },
                None => Poll::Pending("not visible yet".into()),
            })
        },
    )
    .await
    .map_err(|e| wait_error(e, "DescribeVpcs", id))
}

/// Creates the VPC, records its id for its dependents, and waits until it is available.
async fn create(ctx: &Ctx<'_>, change: &Change, want: &VpcSpec) -> Result<String, AwsError> {
    let id = create_once(
        Policy::transient(),
        "create VPC",
        &ctx.notify(&change.logical),
        || find_tagged(ctx, Ec2Kind::Vpc, &change.logical),
        || async {
            let out = ctx
                .aws
                .ec2
                .create_vpc()
                .cidr_block(want.cidr.as_str())
                .amazon_provided_ipv6_cidr_block(want.ipv6)
                .tag_specifications(tag_spec(ResourceType::Vpc, &want.tags))
                .customize()
                .config_override(no_sdk_retries())
                .send()
                .await
                .aws("CreateVpc", &change.logical)?;
            out.vpc()
                .and_then(|v| v.vpc_id())
                .map(str::to_string)
                .ok_or_else(|| AwsError::incomplete("CreateVpc", &change.logical, "VPC id"))
        },
    )
    .await?;
    ctx.ids.insert(&change.logical, &id);
    wait_available(ctx, change, &id).await?;
    Ok(id)
}

/// Waits (up to five minutes) until VPC `id` is `available`.
async fn wait_available(ctx: &Ctx<'_>, change: &Change, id: &str) -> Result<(), AwsError> {
    wait_until(
        &format!("VPC {id} to be available"),
        std::time::Duration::from_secs(300),
        &ctx.notify(&change.logical),
        || async {
            let out = ctx
                .aws
                .ec2
                .describe_vpcs()
                .vpc_ids(id)
                .send()
                .await
                .aws("DescribeVpcs", id)?;
            let state = out
                .vpcs()
                .first()
                .and_then(|v| v.state())
                .map_or_else(|| "not visible yet".into(), |s| s.as_str().to_string());
            Ok(if state == "available" {
                Poll::Ready(())
            } else {
                Poll::Pending(state)
            })
        },
    )
    .await
    .map_err(|e| wait_error(e, "DescribeVpcs", id))
}

/// Turns on DNS support and DNS hostnames: two calls, EC2 takes one attribute per
/// request.
async fn enable_dns(ctx: &Ctx<'_>, change: &Change, id: &str) -> Result<(), AwsError> {
    let notify = ctx.notify(&change.logical);
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        retry(Policy::fresh(), "enable VPC DNS", &notify, || async {
            let on = AttributeBooleanValue::builder().value(true).build();
            let req = ctx.aws.ec2.modify_vpc_attribute().vpc_id(id);
            let req = match attribute {
                VpcAttributeName::EnableDnsSupport => req.enable_dns_support(on),
                _ => req.enable_dns_hostnames(on),
            };
            req.send().await.aws("ModifyVpcAttribute", id)
        })
        .await?;
    }
    Ok(())
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let id = have.id.as_str();
    let ec2 = &ctx.aws.ec2;
    let delete = || async {
        ec2.delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .aws("DeleteVpc", id)
    };
    teardown(ctx, logical::VPC, &format!("delete VPC {id}"), delete).await
}
