//! The Application Load Balancer and its attributes.

use super::Endpoint;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

use super::elb::{adopt_if_owned, read_tags, retag, to_tags};
use super::{as_found, found, read, teardown, Ctx, Foreign, Teardown};
use super::{ignore_not_found, wait_error};
use crate::aws::error::{AwsError, AwsResultExt, ErrorClass, ResourceError};
use crate::aws::retry::{retry, wait_until, Notify, Policy, Poll};
use crate::model::config::{IpAddressType as IpType, Scheme};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{LoadBalancerSpec, Ref};
use crate::model::stack::Tags;

/// The stack's load balancer by name, if there is one (ownership is checked by [`observe`]).
pub(crate) async fn describe(ctx: &Ctx<'_>) -> Result<Option<LoadBalancer>, AwsError> {
    let name = ctx.names.load_balancer();
    let what = "read load balancer";
    let out = read(ctx, logical::LOAD_BALANCER, what, || async {
        ctx.aws
            .elb
            .describe_load_balancers()
            .names(&name)
            .send()
            .await
            .aws("DescribeLoadBalancers", &name)
    })
    .await;
    Ok(found(out)?.and_then(|out| out.load_balancers().first().cloned()))
}

/// Whether the observed load balancer has deletion protection on.
pub(crate) fn is_protected(have: &Observed) -> bool {
    matches!(
        have.facts,
        Facts::LoadBalancer {
            deletion_protection: true,
            ..
        }
    )
}

/// Whether the observed load balancer is active.
pub(crate) fn is_active(have: &Observed) -> bool {
    matches!(have.facts, Facts::LoadBalancer { active: true, .. })
}

/// Where the load balancer whose facts these are answers.
pub(crate) fn endpoint(facts: &Facts) -> Option<Endpoint> {
    match facts {
        Facts::LoadBalancer {
            dns_name, zone_id, ..
        } => Some(Endpoint {
            dns_name: dns_name.clone(),
            zone_id: zone_id.clone(),
        }),
        _ => None,
    }
}

/// What to do about a protected load balancer that is to be deleted.
pub(crate) const PROTECTED_HELP: &str = "the load balancer has deletion protection on; \
    run `albkit down --disable-deletion-protection` to turn it off and remove the stack, \
    or set load_balancer.deletion_protection = false and run `albkit up` first";

/// The load balancer as observed (tags and attributes read together), or a foreign one.
pub(crate) async fn observe(
    ctx: &Ctx<'_>,
    lb: &LoadBalancer,
) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let (mut tags, attrs) = tokio::try_join!(
        read_tags(ctx, std::slice::from_ref(&arn)),
        read_attributes(ctx, &arn)
    )?;
    let tags = tags.remove(&arn).unwrap_or_default();
    if !ctx.owns(&tags) {
        let reason = super::not_tagged_reason(ctx, &tags);
        let name = ctx.names.load_balancer();
        return Ok((
            vec![],
            vec![Foreign {
                kind: "load balancer",
                name,
                reason,
            }],
        ));
    }
    Ok((vec![observe_one(&arn, lb, &attrs, tags)], vec![]))
}

/// The load balancer's attributes.
async fn read_attributes(
    ctx: &Ctx<'_>,
    arn: &str,
) -> Result<DescribeLoadBalancerAttributesOutput, AwsError> {
    let what = "read load balancer attributes";
    read(ctx, logical::LOAD_BALANCER, what, || async {
        ctx.aws
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .aws("DescribeLoadBalancerAttributes", arn)
    })
    .await
}

/// The stack's load balancer as found. Pure.
fn observe_one(
    arn: &str,
    lb: &LoadBalancer,
    attrs: &DescribeLoadBalancerAttributesOutput,
    tags: Tags,
) -> Found {
    let attr = |key: &str| {
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(key))
            .and_then(|a| a.value())
            .unwrap_or("")
            .to_string()
    };
    let external = |id: &str| Ref::External(id.to_string());
    let scheme = lb.scheme().map_or("", |s| s.as_str());
    let idle = attr("idle_timeout.timeout_seconds");
    let protection = attr("deletion_protection.enabled");
    let ip_type = lb.ip_address_type().map_or("", |t| t.as_str());
    let spec = LoadBalancerSpec {
        name: lb.load_balancer_name().unwrap_or_default().to_string(),
        scheme: if scheme == Scheme::Internal.as_str() {
            Scheme::Internal
        } else {
            Scheme::InternetFacing
        },
        ip_address_type: if ip_type == IpType::Dualstack.as_str() {
            IpType::Dualstack
        } else {
            IpType::Ipv4
        },
        subnets: lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(external))
            .collect(),
        security_groups: lb.security_groups().iter().map(|g| external(g)).collect(),
        access_logs: (attr("access_logs.s3.enabled") == "true")
            .then(|| (attr("access_logs.s3.bucket"), attr("access_logs.s3.prefix"))),
        log_bucket: None,
        route_table: None,
        idle_timeout_seconds: idle.parse().unwrap_or_default(),
        deletion_protection: protection == "true",
        tags: tags.clone(),
    };
    let state = lb.state().and_then(|s| s.code());
    let mut extras = vec![("state", state.map_or("unknown", |c| c.as_str()).to_string())];
    as_found(&mut extras, "scheme", scheme, spec.scheme.as_str());
    // Any other type (`dualstack-without-public-ipv4`) is shown as it is: drift.
    let ip_want = spec.ip_address_type.as_str();
    as_found(&mut extras, "ip_address_type", ip_type, ip_want);
    as_found(
        &mut extras,
        "idle_timeout",
        &idle,
        spec.idle_timeout_seconds.to_string(),
    );
    as_found(
        &mut extras,
        "deletion_protection",
        &protection,
        spec.deletion_protection.to_string(),
    );
    let drop_invalid = attr("routing.http.drop_invalid_header_fields.enabled");
    as_found(
        &mut extras,
        "drop_invalid_header_fields",
        drop_invalid,
        "true",
    );
    let facts = facts_of(lb, spec.deletion_protection);
    Found::new(arn, logical::LOAD_BALANCER, spec, tags)
        .extras(extras)
        .with(facts)
}

/// What `apply`, `delete` and the alias records need of the load balancer `lb`.
fn facts_of(lb: &LoadBalancer, deletion_protection: bool) -> Facts {
    let state = lb.state().and_then(|s| s.code());
    Facts::LoadBalancer {
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        zone_id: lb
            .canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
        deletion_protection,
        active: state == Some(&LoadBalancerStateEnum::Active),
    }
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LoadBalancerSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let subnets = want
        .subnets
        .iter()
        .map(|s| ctx.ids.of(s))
        .collect::<Result<Vec<_>, _>>()?;
    let groups = want
        .security_groups
        .iter()
        .map(|g| ctx.ids.of(g))
        .collect::<Result<Vec<_>, _>>()?;
    let arn = match &change.id {
        Some(arn) => {
            update(ctx, change, have, want, arn, subnets, groups).await?;
            arn.clone()
        }
        None => create(ctx, change, want, subnets, groups).await?,
    };
    ctx.ids.insert(&change.logical, &arn);
    let attribute_fields = [
        "access_logs",
        "idle_timeout",
        "deletion_protection",
        "drop_invalid_header_fields",
    ];
    if change.id.is_none() || attribute_fields.iter().any(|f| change.changed(f)) {
        set_attributes(ctx, change, want, &arn).await?;
    }
    Ok(arn)
}

async fn update(
    ctx: &Ctx<'_>,
    change: &Change,
    have: Option<&Observed>,
    want: &LoadBalancerSpec,
    arn: &str,
    subnets: Vec<String>,
    groups: Vec<String>,
) -> Result<(), AwsError> {
    let (elb, notify) = (&ctx.aws.elb, ctx.notify(&change.logical));
    if change.changed("tags") {
        retag(ctx, arn, change, have, &want.tags).await?;
    }
    if change.changed("subnets") {
        let what = "move load balancer subnets";
        retry(Policy::fresh(), what, &notify, || async {
            elb.set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .aws("SetSubnets", arn)
        })
        .await?;
    }
    if change.changed("ip_address_type") {
        let what = "set load balancer IP address type";
        let ip = IpAddressType::from(want.ip_address_type.as_str());
        retry(Policy::fresh(), what, &notify, || async {
            elb.set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(ip.clone())
                .send()
                .await
                .aws("SetIpAddressType", arn)
        })
        .await?;
    }
    if change.changed("security_groups") {
        let what = "set load balancer security group";
        retry(Policy::fresh(), what, &notify, || async {
            elb.set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(groups.clone()))
                .send()
                .await
                .aws("SetSecurityGroups", arn)
        })
        .await?;
    }
    Ok(())
}

async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LoadBalancerSpec,
    subnets: Vec<String>,
    groups: Vec<String>,
) -> Result<String, AwsError> {
    let notify = ctx.notify(&change.logical);
    // CreateLoadBalancer is idempotent for the same name and settings, so a retry after a
    // lost response returns the same load balancer; where the endpoint answers
    // DuplicateLoadBalancerName instead, the stack's own is taken.
    let out = retry(Policy::fresh(), "create load balancer", &notify, || async {
        ctx.aws
            .elb
            .create_load_balancer()
            .name(&want.name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::from(want.scheme.as_str()))
            .ip_address_type(IpAddressType::from(want.ip_address_type.as_str()))
            .set_subnets(Some(subnets.clone()))
            .set_security_groups(Some(groups.clone()))
            .set_tags(Some(to_tags(&want.tags)))
            .send()
            .await
            .aws("CreateLoadBalancer", &change.logical)
    })
    .await;
    let lb = match out {
        Ok(out) => out.load_balancers().first().cloned(),
        Err(e) if e.is("DuplicateLoadBalancerName") => {
            let existing = describe(ctx).await?;
            let arn = existing
                .as_ref()
                .and_then(|l| l.load_balancer_arn().map(str::to_string));
            adopt_if_owned(ctx, arn, e).await?;
            existing
        }
        Err(e) => return Err(e),
    };
    let lb = lb.as_ref();
    ctx.ids.set_endpoint(Endpoint {
        dns_name: lb
            .and_then(|l| l.dns_name())
            .unwrap_or_default()
            .to_string(),
        zone_id: lb
            .and_then(|l| l.canonical_hosted_zone_id())
            .unwrap_or_default()
            .to_string(),
    });
    lb.and_then(|l| l.load_balancer_arn())
        .map(str::to_string)
        .ok_or_else(|| {
            AwsError::incomplete("CreateLoadBalancer", &change.logical, "load balancer ARN")
        })
}

/// Idle timeout, deletion protection, header validation and access logs.
async fn set_attributes(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LoadBalancerSpec,
    arn: &str,
) -> Result<(), AwsError> {
    let mut attrs = vec![
        (
            "idle_timeout.timeout_seconds",
            want.idle_timeout_seconds.to_string(),
        ),
        (
            "deletion_protection.enabled",
            want.deletion_protection.to_string(),
        ),
        (
            "routing.http.drop_invalid_header_fields.enabled",
            "true".to_string(),
        ),
        (
            "access_logs.s3.enabled",
            want.access_logs.is_some().to_string(),
        ),
    ];
    if let Some((bucket, prefix)) = &want.access_logs {
        attrs.push(("access_logs.s3.bucket", bucket.clone()));
        attrs.push(("access_logs.s3.prefix", prefix.clone()));
    }
    let attrs: Vec<LoadBalancerAttribute> = attrs
        .into_iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect();
    // ELB checks the bucket policy when access logs are enabled; a policy written a
    // moment ago can still be refused ("Access Denied for bucket").
    let (what, notify) = ("set load balancer attributes", ctx.notify(&change.logical));
    modify_attributes(ctx, arn, Policy::fresh(), what, &notify, attrs)
        .await
        .map_err(|e| {
            if e.is("InvalidConfigurationRequest") {
                AwsError {
                    class: ErrorClass::Permanent,
                    ..e
                }
            } else {
                e
            }
        })
}

/// Sets attributes of the load balancer `arn`, retried under `policy`.
async fn modify_attributes(
    ctx: &Ctx<'_>,
    arn: &str,
    policy: Policy,
    what: &str,
    notify: &dyn Notify,
    attrs: Vec<LoadBalancerAttribute>,
) -> Result<(), AwsError> {
    retry(policy, what, notify, || async {
        ctx.aws
            .elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attrs.clone()))
            .send()
            .await
            .aws("ModifyLoadBalancerAttributes", arn)
    })
    .await
    .map(|_| ())
}

/// One `DescribeLoadBalancers` of the load balancer `arn`, for the waiters to poll.
async fn describe_arn(ctx: &Ctx<'_>, arn: &str) -> Result<DescribeLoadBalancersOutput, AwsError> {
    ctx.aws
        .elb
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .aws("DescribeLoadBalancers", arn)
}

/// Waits until the load balancer is `active`; returns its DNS name.
pub(crate) async fn wait_active(ctx: &Ctx<'_>, arn: &str) -> Result<String, AwsError> {
    let what = format!("load balancer {} to be active", ctx.names.load_balancer());
    let notify = ctx.notify(logical::LOAD_BALANCER);
    wait_until(&what, Duration::from_secs(900), &notify, || async {
        let out = describe_arn(ctx, arn).await?;
        let Some(lb) = out.load_balancers().first() else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        let state = lb
            .state()
            .and_then(|s| s.code())
            .map_or_else(|| "unknown".into(), |c| c.as_str().to_string());
        Ok(match state.as_str() {
            "active" => Poll::Ready(lb.dns_name().unwrap_or_default().to_string()),
            "failed" | "active_impaired" => Poll::Failed {
                state,
                reason: lb
                    .state()
                    .and_then(|s| s.reason())
                    .unwrap_or("no reason given")
                    .to_string(),
            },
            _ => Poll::Pending(state),
        })
    })
    .await
    .map_err(|e| wait_error(e, "DescribeLoadBalancers", arn))
}

/// Deletes the stack's load balancer. With deletion protection on, it is turned off first
/// only when `unprotect` (the user's `down --disable-deletion-protection`); otherwise
/// the deletion is refused before any call.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, opts: Teardown) -> Result<(), AwsError> {
    let (arn, unprotect) = (have.id.as_str(), opts.disable_deletion_protection);
    let notify = ctx.notify(logical::LOAD_BALANCER);
    if is_protected(have) {
        if !unprotect {
            return Err(AwsError {
                operation: "DeleteLoadBalancer",
                resource: arn.to_string(),
                code: Some("DeletionProtected".into()),
                message: PROTECTED_HELP.into(),
                status: None,
                class: ErrorClass::Permanent,
            });
        }
        // Only ever on the stack's own load balancer: discovery checked its tags.
        let off = LoadBalancerAttribute::builder()
            .key("deletion_protection.enabled")
            .value("false")
            .build();
        let what = "turn off deletion protection";
        modify_attributes(ctx, arn, Policy::transient(), what, &notify, vec![off])
            .await
            .or_else(ignore_not_found)?;
    }
    let what = "delete load balancer";
    teardown(ctx, logical::LOAD_BALANCER, what, || async {
        ctx.aws
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .aws("DeleteLoadBalancer", arn)
    })
    .await?;
    let what = "load balancer to be deleted";
    wait_until(what, Duration::from_secs(600), &notify, || async {
        Ok(match found(describe_arn(ctx, arn).await)? {
            Some(out) if !out.load_balancers().is_empty() => Poll::Pending("deleting".into()),
            _ => Poll::Ready(()),
        })
    })
    .await
    .map_err(|e| wait_error(e, "DescribeLoadBalancers", arn))
}
