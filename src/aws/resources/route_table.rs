//! The public route table: `0.0.0.0/0` (and `::/0` for a dualstack load balancer) to
//! the internet gateway, associated with every subnet.

use aws_sdk_ec2::types::ResourceType;

use super::already_done;
use super::ec2::{find_tagged, retagged, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{logical_of, teardown, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::events::ResourceNotify;
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{Ref, RouteTableSpec};

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let (ec2, notify) = (&ctx.aws.ec2, ctx.notify(logical::ROUTE_TABLE));
    let read = || async {
        ec2.describe_route_tables()
            .filters(stack_filter(ctx.stack()))
            .send()
            .await
            .aws("DescribeRouteTables", logical::ROUTE_TABLE)
    };
    let out = retry(Policy::transient(), "read route tables", &notify, read).await?;
    Ok(out
        .route_tables()
        .iter()
        .filter_map(|t| {
            let tags = tag_map(t.tags());
            let logical = logical_of(&tags)?;
            let gateway = t
                .routes()
                .iter()
                .filter(|r| r.destination_cidr_block() == Some(RouteTableSpec::DEFAULT_ROUTE))
                .find_map(|r| r.gateway_id());
            let ipv6_gateway = t
                .routes()
                .iter()
                .filter(|r| {
                    r.destination_ipv6_cidr_block() == Some(RouteTableSpec::DEFAULT_IPV6_ROUTE)
                })
                .find_map(|r| r.gateway_id());
            let associations: Vec<(String, String)> = t
                .associations()
                .iter()
                .filter_map(|a| {
                    let subnet = a.subnet_id()?.to_string();
                    Some((subnet, a.route_table_association_id()?.to_string()))
                })
                .collect();
            let external = |id: &str| Ref::External(id.to_string());
            let spec = RouteTableSpec {
                vpc: external(t.vpc_id().unwrap_or_default()),
                internet_gateway: gateway.map(external),
                ipv6_gateway: ipv6_gateway.map(external),
                subnets: associations.iter().map(|(s, _)| external(s)).collect(),
                tags: tags.clone(),
            };
            let facts = Facts::RouteTable {
                default_route: gateway.is_some(),
                ipv6_route: ipv6_gateway.is_some(),
                associations,
            };
            Some(Found::new(t.route_table_id()?, logical, spec, tags).with(facts))
        })
        .collect())
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RouteTableSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let notify = ctx.notify(&change.logical);
    let id = match &change.id {
        Some(id) => retagged(ctx, id, change, have, &want.tags).await?,
        None => create(ctx, change, want, &notify).await?,
    };
    let (associations, default_route, ipv6_route) = match have.map(|h| &h.facts) {
        Some(Facts::RouteTable {
            associations,
            default_route,
            ipv6_route,
        }) => (associations.as_slice(), *default_route, *ipv6_route),
        _ => (&[][..], false, false),
    };
    if change.id.is_none() || change.changed("routes") {
        route_to_gateway(ctx, Destination::V4, default_route, &id, &notify).await?;
    }
    let ipv6_changed = change.id.is_none() || change.changed("ipv6_routes");
    if want.ipv6_gateway.is_some() && ipv6_changed {
        route_to_gateway(ctx, Destination::V6, ipv6_route, &id, &notify).await?;
    }
    if change.id.is_none() || change.changed("associations") {
        associate_subnets(ctx, associations, want, &id, &notify).await?;
    }
    Ok(id)
}

/// Creates the table in the stack's VPC; gives its id.
///
/// AWS makes CreateRouteTable idempotent for a client token (a deterministic one per
/// stack, VPC and table). Emulators and older endpoints ignore the token, so a lost
/// response is also covered the way the other EC2 creations are: before a new attempt,
/// look for the table tagged with this logical name.
async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RouteTableSpec,
    notify: &ResourceNotify<'_>,
) -> Result<String, ResourceError> {
    let vpc = ctx.ids.get(logical::VPC)?;
    let token = crate::model::names::fit(
        &format!("albkit-{}-{vpc}-{}", ctx.stack(), change.logical),
        64,
    );
    create_once(
        Policy::fresh(),
        &format!("create {}", change.logical),
        notify,
        || find_tagged(ctx, Ec2Kind::RouteTable, &change.logical),
        || async {
            let out = ctx
                .aws
                .ec2
                .create_route_table()
                .vpc_id(&vpc)
                .client_token(&token)
                .tag_specifications(tag_spec(ResourceType::RouteTable, &want.tags))
                .customize()
                .config_override(no_sdk_retries())
                .send()
                .await
                .aws("CreateRouteTable", &change.logical)?;
            out.route_table()
                .and_then(|t| t.route_table_id())
                .map(str::to_string)
                .ok_or_else(|| {
                    AwsError::incomplete("CreateRouteTable", &change.logical, "route table id")
                })
        },
    )
    .await
    .map_err(ResourceError::from)
}

/// The default route of one address family.
#[derive(Clone, Copy)]
enum Destination {
    /// `0.0.0.0/0`
    V4,
    /// `::/0`
    V6,
}

/// Routes `destination` to the internet gateway: replaces the route the table
/// `had_route`, or creates it.
async fn route_to_gateway(
    ctx: &Ctx<'_>,
    destination: Destination,
    had_route: bool,
    id: &str,
    notify: &ResourceNotify<'_>,
) -> Result<(), ResourceError> {
    let igw = ctx.ids.get(logical::INTERNET_GATEWAY)?;
    let ec2 = &ctx.aws.ec2;
    let (v4, v6) = match destination {
        Destination::V4 => (Some(RouteTableSpec::DEFAULT_ROUTE), None),
        Destination::V6 => (None, Some(RouteTableSpec::DEFAULT_IPV6_ROUTE)),
    };
    let cidr = v4.or(v6).unwrap_or_default();
    let route = || async {
        if had_route {
            ec2.replace_route()
                .route_table_id(id)
                .set_destination_cidr_block(v4.map(str::to_string))
                .set_destination_ipv6_cidr_block(v6.map(str::to_string))
                .gateway_id(&igw)
                .send()
                .await
                .aws("ReplaceRoute", id)
                .map(|_| ())
        } else {
            ec2.create_route()
                .route_table_id(id)
                .set_destination_cidr_block(v4.map(str::to_string))
                .set_destination_ipv6_cidr_block(v6.map(str::to_string))
                .gateway_id(&igw)
                .send()
                .await
                .aws("CreateRoute", id)
                .map(|_| ())
        }
    };
    retry(
        Policy::fresh(),
        &format!("route {cidr} to the internet gateway"),
        notify,
        route,
    )
    .await
    .or_else(already_done(&["RouteAlreadyExists"]))
    .map_err(ResourceError::from)
}

/// Associates the table with each of the wanted subnets it was not associated with
/// (`associations`: `(subnet, association)` ids as observed).
async fn associate_subnets(
    ctx: &Ctx<'_>,
    associations: &[(String, String)],
    want: &RouteTableSpec,
    id: &str,
    notify: &ResourceNotify<'_>,
) -> Result<(), ResourceError> {
    for subnet_ref in &want.subnets {
        let subnet = ctx.ids.of(subnet_ref)?;
        if associations.iter().any(|(s, _)| *s == subnet) {
            continue;
        }
        retry(
            Policy::fresh(),
            &format!("associate route table with {subnet_ref}"),
            notify,
            || async {
                ctx.aws
                    .ec2
                    .associate_route_table()
                    .route_table_id(id)
                    .subnet_id(&subnet)
                    .send()
                    .await
                    .aws("AssociateRouteTable", id)
                    .map(|_| ())
            },
        )
        .await
        .or_else(already_done(&["Resource.AlreadyAssociated"]))?;
    }
    Ok(())
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let id = have.id.as_str();
    let associations = match &have.facts {
        Facts::RouteTable { associations, .. } => associations.as_slice(),
        _ => &[],
    };
    for (_, association) in associations {
        teardown(
            ctx,
            logical::ROUTE_TABLE,
            "disassociate route table",
            || async {
                ctx.aws
                    .ec2
                    .disassociate_route_table()
                    .association_id(association)
                    .send()
                    .await
                    .aws("DisassociateRouteTable", id)
            },
        )
        .await?;
    }
    teardown(ctx, logical::ROUTE_TABLE, "delete route table", || async {
        ctx.aws
            .ec2
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .aws("DeleteRouteTable", id)
    })
    .await
}
