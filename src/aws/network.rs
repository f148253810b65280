//! The EC2 reads the planner needs before it can lay out the network: the region's
//! availability zones for a VPC albkit creates, or the CIDR blocks and subnets of an
//! existing VPC (which must exist, with its subnets in distinct zones and, for a
//! dualstack load balancer, each with an IPv6 block).

use std::collections::BTreeSet;
use std::future::Future;

use aws_sdk_ec2::types::{Filter, Subnet, SubnetCidrBlockStateCode, VpcCidrBlockStateCode};

use super::clients::Aws;
use super::error::AwsResultExt;
use crate::error::{Error, Result};
use crate::model::config::{Config, IpAddressType, Network};
use crate::model::ids::{SubnetId, VpcId};

/// What the network of the stack starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NetworkContext {
    /// The region's available zones, sorted (a managed network; empty otherwise).
    pub availability_zones: Vec<String>,
    /// The IPv4 CIDR of the existing VPC (`None` for a managed network).
    pub vpc_cidr: Option<String>,
    /// Whether the existing VPC has an associated IPv6 CIDR block.
    pub vpc_ipv6: bool,
}

/// Reads what the config's `[network]` needs (nothing in attach mode). `account` is awaited only to name the
/// account in the error about a VPC that does not exist.
pub(crate) async fn read<'a>(
    aws: &Aws,
    config: &Config,
    account: impl Future<Output = Result<&'a str>>,
) -> Result<NetworkContext> {
    let dualstack = config.load_balancer.ip_address_type == IpAddressType::Dualstack;
    if config.load_balancer.attach.is_some() {
        // Attach mode: the network is the shared load balancer's, and none of albkit's.
        return Ok(NetworkContext::default());
    }
    match &config.network {
        Network::Managed {
            availability_zones, ..
        } => {
            let zones = zones(aws).await?;
            if zones.len() < usize::from(*availability_zones) {
                return Err(Error::usage(
                    format!(
                        "network.availability_zones = {availability_zones}, but region {} has {} available",
                        aws.region,
                        zones.len()
                    ),
                    format!("set network.availability_zones to at most {}", zones.len()),
                ));
            }
            Ok(NetworkContext {
                availability_zones: zones,
                ..NetworkContext::default()
            })
        }
        Network::Existing { vpc_id, subnet_ids } => {
            let Some((cidr, ipv6)) = vpc(aws, vpc_id).await? else {
                return Err(Error::usage(
                    format!(
                        "network.vpc_id {vpc_id} does not exist in {} (account {})",
                        aws.region,
                        account.await?
                    ),
                    "check the id and the region, or remove vpc_id and subnet_ids to let albkit create a VPC",
                ));
            };
            check_subnets(aws, vpc_id, subnet_ids, dualstack).await?;
            Ok(NetworkContext {
                availability_zones: Vec::new(),
                vpc_cidr: Some(cidr),
                vpc_ipv6: ipv6,
            })
        }
    }
}

/// The region's available availability zones (not local or wavelength zones), sorted.
async fn zones(aws: &Aws) -> Result<Vec<String>> {
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let out = aws
        .ec2
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .filters(filter("zone-type", "availability-zone"))
        .send()
        .await
        .aws("DescribeAvailabilityZones", &aws.region)?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}

/// The VPC's IPv4 CIDR and whether it has an associated IPv6 block; `None` when there
/// is no such VPC.
async fn vpc(aws: &Aws, vpc_id: &VpcId) -> Result<Option<(String, bool)>> {
    let out = match aws
        .ec2
        .describe_vpcs()
        .vpc_ids(vpc_id.as_str())
        .send()
        .await
        .aws("DescribeVpcs", vpc_id.as_str())
    {
        Ok(out) => out,
        Err(e) if e.not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(vpc) = out.vpcs().first() else {
        return Ok(None);
    };
    let ipv6 = vpc.ipv6_cidr_block_association_set().iter().any(|a| {
        a.ipv6_cidr_block_state()
            .and_then(|block| block.state())
            .is_some_and(|state| *state == VpcCidrBlockStateCode::Associated)
    });
    Ok(vpc.cidr_block().map(|cidr| (cidr.to_string(), ipv6)))
}

/// Checks that every subnet exists, lies in `vpc_id`, and that they cover two zones;
/// with `dualstack`, that each has an IPv6 block.
async fn check_subnets(
    aws: &Aws,
    vpc_id: &VpcId,
    subnet_ids: &[SubnetId],
    dualstack: bool,
) -> Result<()> {
    let ids: Vec<String> = subnet_ids.iter().map(|s| s.as_str().to_string()).collect();
    let subnets = match aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids))
        .send()
        .await
        .aws("DescribeSubnets", "network.subnet_ids")
    {
        Ok(out) => out.subnets().to_vec(),
        Err(e) if e.not_found() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut zones = BTreeSet::new();
    let mut without_ipv6 = Vec::new();
    for id in subnet_ids {
        let sn = subnet_in(&subnets, id, vpc_id)?;
        zones.insert(sn.availability_zone().unwrap_or_default().to_string());
        if !has_ipv6(sn) {
            without_ipv6.push(id.as_str());
        }
    }
    if dualstack && !without_ipv6.is_empty() {
        let verb = if without_ipv6.len() == 1 {
            "has"
        } else {
            "have"
        };
        return Err(Error::usage(
            format!(
                "load_balancer.ip_address_type = \"dualstack\", but network.subnet_ids {} \
                 {verb} no IPv6 CIDR block (albkit never changes a reused VPC)",
                without_ipv6.join(", ")
            ),
            "associate an IPv6 block with the VPC and a /64 of it with each subnet \
             (docs/dualstack.md), or remove ip_address_type",
        ));
    }
    if zones.len() < 2 {
        return Err(Error::usage(
            "network.subnet_ids must cover at least two availability zones",
            "an Application Load Balancer needs subnets in two zones or more",
        ));
    }
    Ok(())
}

/// Whether the subnet has an associated IPv6 CIDR block.
fn has_ipv6(subnet: &Subnet) -> bool {
    subnet.ipv6_cidr_block_association_set().iter().any(|a| {
        a.ipv6_cidr_block_state()
            .and_then(|block| block.state())
            .is_some_and(|state| *state == SubnetCidrBlockStateCode::Associated)
    })
}

/// Subnet `id` among `subnets`, which must exist and lie in `vpc_id`.
fn subnet_in<'s>(subnets: &'s [Subnet], id: &SubnetId, vpc_id: &VpcId) -> Result<&'s Subnet> {
    let Some(sn) = subnets.iter().find(|s| s.subnet_id() == Some(id.as_str())) else {
        return Err(Error::usage(
            format!("network.subnet_ids: subnet {id} does not exist"),
            "list subnets of the VPC with `aws ec2 describe-subnets --filters Name=vpc-id,Values=<vpc>`",
        ));
    };
    if sn.vpc_id() != Some(vpc_id.as_str()) {
        return Err(Error::usage(
            format!(
                "network.subnet_ids: subnet {id} is in {}, not in {vpc_id}",
                sn.vpc_id().unwrap_or("?")
            ),
            "use subnets of network.vpc_id",
        ));
    }
    Ok(sn)
}
