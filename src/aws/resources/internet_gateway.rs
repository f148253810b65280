//! The internet gateway, attached to the stack's VPC.

use aws_sdk_ec2::types::ResourceType;

use super::ec2::{find_tagged, retag, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{already_done, ignore_not_found};
use super::{logical_of, teardown, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{InternetGatewaySpec, Ref};

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read internet gateways",
        &ctx.notify(logical::INTERNET_GATEWAY),
        || async {
            ctx.aws
                .ec2
                .describe_internet_gateways()
                .filters(stack_filter(ctx.stack()))
                .send()
                .await
                .aws("DescribeInternetGateways", logical::INTERNET_GATEWAY)
        },
    )
    .await?;
    Ok(out
        .internet_gateways()
        .iter()
        .filter_map(|g| {
            let tags = tag_map(g.tags());
            let logical = logical_of(&tags)?;
            let vpcs: Vec<String> = g
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect();
            // One VPC at most: an internet gateway is attached to one or none.
            let spec = InternetGatewaySpec {
                vpc: Ref::External(vpcs.join(", ")),
                tags: tags.clone(),
            };
            let found = Found::new(g.internet_gateway_id()?, logical, spec, tags);
            Some(found.with(Facts::InternetGateway { vpcs }))
        })
        .collect())
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &InternetGatewaySpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let tags = want.tags.clone();
    let vpc = ctx.ids.get(logical::VPC)?;
    let id = match &change.id {
        Some(id) => {
            if change.changed("tags") {
                retag(ctx, id, have, &tags).await?;
            }
            id.clone()
        }
        None => {
            create_once(
                Policy::transient(),
                "create internet gateway",
                &ctx.notify(&change.logical),
                || find_tagged(ctx, Ec2Kind::InternetGateway, &change.logical),
                || async {
                    let out = ctx
                        .aws
                        .ec2
                        .create_internet_gateway()
                        .tag_specifications(tag_spec(ResourceType::InternetGateway, &tags))
                        .customize()
                        .config_override(no_sdk_retries())
                        .send()
                        .await
                        .aws("CreateInternetGateway", &change.logical)?;
                    out.internet_gateway()
                        .and_then(|g| g.internet_gateway_id())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            AwsError::incomplete(
                                "CreateInternetGateway",
                                &change.logical,
                                "internet gateway id",
                            )
                        })
                },
            )
            .await?
        }
    };
    if change.id.is_none() || change.changed("attached_to") {
        ctx.ids.insert(&change.logical, &id);
        retry(
            Policy::fresh(),
            "attach internet gateway",
            &ctx.notify(&change.logical),
            || async {
                ctx.aws
                    .ec2
                    .attach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(&vpc)
                    .send()
                    .await
                    .aws("AttachInternetGateway", &id)
                    .map(|_| ())
            },
        )
        .await
        .or_else(already_done(&["Resource.AlreadyAssociated"]))?;
    }
    Ok(id)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let id = have.id.as_str();
    let notify = ctx.notify(logical::INTERNET_GATEWAY);
    let vpcs = match &have.facts {
        Facts::InternetGateway { vpcs } => vpcs.as_slice(),
        _ => &[],
    };
    for vpc in vpcs {
        // Detaching fails with DependencyViolation while the ALB still holds public addresses.
        retry(
            Policy::teardown(),
            "detach internet gateway",
            &notify,
            || async {
                ctx.aws
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .aws("DetachInternetGateway", id)
            },
        )
        .await
        .map(|_| ())
        .or_else(|e| {
            if e.is("Gateway.NotAttached") {
                Ok(())
            } else {
                ignore_not_found(e)
            }
        })?;
    }
    teardown(
        ctx,
        logical::INTERNET_GATEWAY,
        "delete internet gateway",
        || async {
            ctx.aws
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .aws("DeleteInternetGateway", id)
        },
    )
    .await
}
