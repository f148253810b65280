//! The public route table: `0.0.0.0/0` to the internet gateway, associated with every subnet.

use aws_sdk_ec2::types::ResourceType;

use super::vpc::{
    already_done, find_tagged, ignore_not_found, retag, stack_filter, tag_map, tag_spec, Ec2Kind,
};
use super::{logical_of, observed, Ctx};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::RouteTableSpec;
use crate::model::stack::{tags_prop, Kind, Resource};

pub async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read route tables",
        &ctx.notify(logical::ROUTE_TABLE),
        || async {
            ctx.aws
                .ec2
                .describe_route_tables()
                .filters(stack_filter(ctx.stack()))
                .send()
                .await
                .aws("DescribeRouteTables", logical::ROUTE_TABLE)
        },
    )
    .await?;
    Ok(out
        .route_tables()
        .iter()
        .filter_map(|t| {
            let tags = tag_map(t.tags());
            let logical = logical_of(&tags)?;
            let routes = t
                .routes()
                .iter()
                .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .filter_map(|r| r.gateway_id().map(|g| format!("0.0.0.0/0 -> {g}")))
                .collect::<Vec<_>>()
                .join(", ");
            let mut subnets: Vec<&str> = t
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id())
                .collect();
            subnets.sort();
            let associations: Vec<String> = t
                .associations()
                .iter()
                .filter_map(|a| {
                    Some(format!(
                        "{}={}",
                        a.subnet_id()?,
                        a.route_table_association_id()?
                    ))
                })
                .collect();
            Some(observed(
                t.route_table_id()?,
                Resource::new(logical, Kind::RouteTable)
                    .prop("vpc", t.vpc_id().unwrap_or_default())
                    .prop("routes", routes)
                    .prop("associations", subnets.join(", "))
                    .prop("association_ids", associations.join(", "))
                    .prop("tags", tags_prop(&tags)),
            ))
        })
        .collect())
}

pub async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RouteTableSpec,
) -> Result<String, AwsError> {
    let tags = want.tags.clone();
    let notify = ctx.notify(&change.logical);
    let id = match &change.id {
        Some(id) => {
            if change.changed("tags") {
                retag(ctx, id, change, &tags).await?;
            }
            id.clone()
        }
        None => {
            let vpc = ctx.ids.get(logical::VPC)?;
            // AWS makes CreateRouteTable idempotent for a client token (a deterministic
            // one per stack, VPC and table). Emulators and older endpoints ignore the
            // token, so a lost response is also covered the way the other EC2 creations
            // are: before a new attempt, look for the table tagged with this logical name.
            let token = crate::model::names::fit(
                &format!("albkit-{}-{vpc}-{}", ctx.stack(), change.logical),
                64,
            );
            create_once(
                Policy::fresh(),
                &format!("create {}", change.logical),
                &notify,
                || find_tagged(ctx, Ec2Kind::RouteTable, &change.logical),
                || async {
                    let out = ctx
                        .aws
                        .ec2
                        .create_route_table()
                        .vpc_id(&vpc)
                        .client_token(&token)
                        .tag_specifications(tag_spec(ResourceType::RouteTable, &tags))
                        .customize()
                        .config_override(no_sdk_retries())
                        .send()
                        .await
                        .aws("CreateRouteTable", &change.logical)?;
                    out.route_table()
                        .and_then(|t| t.route_table_id())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            AwsError::incomplete(
                                "CreateRouteTable",
                                &change.logical,
                                "route table id",
                            )
                        })
                },
            )
            .await?
        }
    };
    if change.id.is_none() || change.changed("routes") {
        let igw = ctx.ids.get(logical::INTERNET_GATEWAY)?;
        let had_route = change
            .fields
            .iter()
            .find(|f| f.name == "routes")
            .and_then(|f| f.old.as_deref())
            .is_some_and(|old| !old.is_empty());
        retry(
            Policy::fresh(),
            "route 0.0.0.0/0 to the internet gateway",
            &notify,
            || async {
                if had_route {
                    ctx.aws
                        .ec2
                        .replace_route()
                        .route_table_id(&id)
                        .destination_cidr_block("0.0.0.0/0")
                        .gateway_id(&igw)
                        .send()
                        .await
                        .aws("ReplaceRoute", &id)
                        .map(|_| ())
                } else {
                    ctx.aws
                        .ec2
                        .create_route()
                        .route_table_id(&id)
                        .destination_cidr_block("0.0.0.0/0")
                        .gateway_id(&igw)
                        .send()
                        .await
                        .aws("CreateRoute", &id)
                        .map(|_| ())
                }
            },
        )
        .await
        .or_else(already_done(&["RouteAlreadyExists"]))?;
    }
    if change.id.is_none() || change.changed("associations") {
        let old: Vec<String> = change
            .fields
            .iter()
            .find(|f| f.name == "associations")
            .and_then(|f| f.old.clone())
            .map(|s| {
                s.split(", ")
                    .filter(|x| !x.is_empty())
                    .map(|x| ctx.ids.resolve(x))
                    .collect()
            })
            .unwrap_or_default();
        for subnet_ref in &want.subnets {
            let subnet = ctx.ids.get(subnet_ref.as_str())?;
            if old.contains(&subnet) {
                continue;
            }
            retry(
                Policy::fresh(),
                &format!("associate route table with {subnet_ref}"),
                &notify,
                || async {
                    ctx.aws
                        .ec2
                        .associate_route_table()
                        .route_table_id(&id)
                        .subnet_id(&subnet)
                        .send()
                        .await
                        .aws("AssociateRouteTable", &id)
                        .map(|_| ())
                },
            )
            .await
            .or_else(already_done(&["Resource.AlreadyAssociated"]))?;
        }
    }
    Ok(id)
}

pub async fn delete(ctx: &Ctx<'_>, id: &str, have: &Resource) -> Result<(), AwsError> {
    let notify = ctx.notify(logical::ROUTE_TABLE);
    for pair in have
        .get("association_ids")
        .unwrap_or_default()
        .split(", ")
        .filter(|s| !s.is_empty())
    {
        let Some((_, association)) = pair.split_once('=') else {
            continue;
        };
        retry(
            Policy::teardown(),
            "disassociate route table",
            &notify,
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
        .await
        .map(|_| ())
        .or_else(ignore_not_found)?;
    }
    retry(
        Policy::teardown(),
        "delete route table",
        &notify,
        || async {
            ctx.aws
                .ec2
                .delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .aws("DeleteRouteTable", id)
        },
    )
    .await
    .map(|_| ())
    .or_else(ignore_not_found)
}
