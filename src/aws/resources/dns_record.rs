//! Route 53 records: the alias A/AAAA records of the domain, and the certificate's
//! DNS validation CNAMEs.

use aws_sdk_route53::types::{
    AliasTarget, Change as R53Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType,
};

use super::{read, Ctx, Foreign, Teardown};
use crate::aws::clients::no_route53_retries;
use crate::aws::error::{build_error, AwsError, AwsResultExt, Bug, ErrorClass, ResourceError};
use crate::aws::retry::{create_once, Policy};
use crate::model::found::Found;
use crate::model::plan::{AliasRecord, Change, Facts, Observed};
use crate::model::spec::{DnsRecordSpec, Ref};
use crate::model::stack::Tags;

/// A DNS name as albkit shows and compares it: lower case, without the final dot.
pub(crate) fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The alias record whose facts these are.
pub(crate) fn alias_record(facts: &Facts) -> Option<&AliasRecord> {
    match facts {
        Facts::DnsRecord(record) => Some(record),
        _ => None,
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// Route 53 writes `*` as `\052`.
fn same_name(a: &str, b: &str) -> bool {
    fqdn(&a.replace("\\052", "*")).eq_ignore_ascii_case(&fqdn(&b.replace("\\052", "*")))
}

/// The record sets at the configured domain: A and AAAA aliases as observed records,
/// and anything else there (a plain A/AAAA, a CNAME) as foreign, since albkit's alias
/// would overwrite or collide with it. Whether an alias is the stack's is decided once
/// the load balancer is known (see [`owns_alias`] and `discover::discover`).
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let Some(https) = &ctx.config.https else {
        return Ok((vec![], vec![]));
    };
    let Some(zone) = &https.hosted_zone_id else {
        return Ok((vec![], vec![]));
    };
    let records = list_records(ctx, zone.as_str(), &fqdn(&https.domain), &RrType::A, 8).await?;
    let mut found = Vec::new();
    let mut foreign = Vec::new();
    for r in records
        .iter()
        .filter(|r| same_name(r.name(), &https.domain))
    {
        let kind = r.r#type().as_str();
        match (r.r#type(), r.alias_target()) {
            (RrType::A | RrType::Aaaa, Some(alias)) => {
                let spec = DnsRecordSpec {
                    zone: zone.to_string(),
                    name: https.domain.clone(),
                    record_type: if r.r#type() == &RrType::A {
                        "A"
                    } else {
                        "AAAA"
                    },
                    alias: Ref::External(plain(alias.dns_name())),
                };
                let record = AliasRecord {
                    zone: zone.to_string(),
                    name: https.domain.clone(),
                    record_type: kind.to_string(),
                    target: alias.dns_name().to_string(),
                    target_zone: alias.hosted_zone_id().to_string(),
                };
                let id = format!("{}/{kind}", https.domain);
                let logical = format!("dns/{kind}");
                let spec = Found::new(id, logical, spec, Tags::new());
                found.push(spec.with(Facts::DnsRecord(record)));
            }
            (RrType::A | RrType::Aaaa | RrType::Cname, _) => foreign.push(Foreign {
                kind: "Route 53 record",
                name: format!("{} {kind} in zone {zone}", https.domain),
                reason: format!(
                    "it is a plain {kind} record, not an alias to the stack's load balancer"
                ),
            }),
            _ => {}
        }
    }
    Ok((found, foreign))
}

/// Whether an alias record pointing at `target` is the stack's: it must point at the
/// stack's load balancer (`lb_dns`, its DNS name as ELB reports it), or at a load
/// balancer of the stack's own name in this region (one the stack replaced, the record
/// not yet rewritten: load balancer names are unique in an account and region).
/// Anything else (CloudFront, another stack, the same-named stack of another region) is
/// not. Pure.
pub(crate) fn owns_alias(target: &str, lb_dns: Option<&str>, lb_name: &str, region: &str) -> bool {
    let bare = |name: &str| {
        let name = plain(name);
        name.strip_prefix("dualstack.")
            .map(str::to_string)
            .unwrap_or(name)
    };
    let target = bare(target);
    if lb_dns.is_some_and(|lb| !lb.is_empty() && target == bare(lb)) {
        return true;
    }
    // `<name>-<id>.<region>.elb.amazonaws.com[.cn]`, `internal-` first for an internal one.
    let host = target.strip_prefix("internal-").unwrap_or(&target);
    let Some((label, rest)) = host.split_once('.') else {
        return false;
    };
    let in_region = rest == format!("{region}.elb.amazonaws.com")
        || rest == format!("{region}.elb.amazonaws.com.cn");
    let named = label
        .strip_prefix(&format!("{}-", lb_name.to_ascii_lowercase()))
        .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()));
    in_region && named
}

async fn change_alias(
    ctx: &Ctx<'_>,
    action: ChangeAction,
    zone: &str,
    name: &str,
    kind: &str,
    dns: &str,
    dns_zone: &str,
) -> Result<(), AwsError> {
    let target = AliasTarget::builder()
        .hosted_zone_id(dns_zone)
        .dns_name(dns)
        .evaluate_target_health(true)
        .build()
        .map_err(build_error("ChangeResourceRecordSets", name))?;
    let set = ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(RrType::from(kind))
        .alias_target(target)
        .build()
        .map_err(build_error("ChangeResourceRecordSets", name))?;
    send(ctx, zone, action, set, name).await
}

/// Sends one change of `set` to the zone, and settles what a refusal means.
async fn send(
    ctx: &Ctx<'_>,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    what: &str,
) -> Result<(), AwsError> {
    let deleting = action == ChangeAction::Delete;
    let creating = action == ChangeAction::Create;
    let batch = ChangeBatch::builder()
        .comment(format!("albkit stack {}", ctx.stack()))
        .changes(
            R53Change::builder()
                .action(action.clone())
                .resource_record_set(set.clone())
                .build()
                .map_err(build_error("ChangeResourceRecordSets", what))?,
        )
        .build()
        .map_err(build_error("ChangeResourceRecordSets", what))?;
    // An UPSERT can be repeated. A DELETE whose response was lost cannot: the repeat
    // finds nothing to delete. So a DELETE is sent without the SDK's own retries, and
    // before each new attempt albkit looks whether the record is already gone.
    let sent = create_once(
        Policy::fresh(),
        &format!("write DNS record {what}"),
        &ctx.notify("dns"),
        || already_done(ctx, zone, &action, &set),
        || async {
            let mut req = ctx
                .aws
                .route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch.clone())
                .customize();
            if deleting || creating {
                req = req.config_override(no_route53_retries());
            }
            req.send()
                .await
                .aws("ChangeResourceRecordSets", what)
                .map(|_| ())
        },
    )
    .await;
    match sent {
        Err(e) if creating && e.is("InvalidChangeBatch") => {
            create_refused(ctx, zone, set, what, e).await
        }
        Err(e) if deleting => delete_failed(ctx, zone, &set, what, e).await,
        other => other,
    }
}

/// A record set's name, type and alias target (empty for a plain record).
fn key_of(set: &ResourceRecordSet) -> (&str, &RrType, &str) {
    let target = set.alias_target().map_or("", |a| a.dns_name());
    (set.name(), set.r#type(), target)
}

/// Before a new attempt: whether an earlier one, whose response was lost, already did
/// the change (`Some`): the record to delete is gone, or the one to create is written.
async fn already_done(
    ctx: &Ctx<'_>,
    zone: &str,
    action: &ChangeAction,
    set: &ResourceRecordSet,
) -> Result<Option<()>, AwsError> {
    let (name, kind, target) = key_of(set);
    Ok(match action {
        ChangeAction::Delete if !record_exists(ctx, zone, name, kind).await? => Some(()),
        ChangeAction::Create if record_points_at(ctx, zone, name, kind, target).await? => Some(()),
        _ => None,
    })
}

/// A CREATE refused (`e`): a record of this name and type exists. Ours only if it points
/// where albkit would have pointed it (a lost response the look before it missed).
async fn create_refused(
    ctx: &Ctx<'_>,
    zone: &str,
    set: ResourceRecordSet,
    what: &str,
    e: AwsError,
) -> Result<(), AwsError> {
    let (name, kind, target) = key_of(&set);
    if record_points_at(ctx, zone, name, kind, target).await? {
        Ok(())
    } else if !record_exists(ctx, zone, name, kind).await? {
        // Refused although no such record exists: moto refuses a CREATE that repeats
        // one of its journal (a record created, deleted, then created again) when any
        // record sorts after it. With nothing to overwrite, an UPSERT is the same
        // creation.
        tracing::debug!("{what}: CREATE refused with no record there ({e}); UPSERT");
        Box::pin(send(ctx, zone, ChangeAction::Upsert, set, what)).await
    } else {
        Err(AwsError {
            message: format!(
                "a {} record {name} appeared in hosted zone {zone} while albkit was running; \
                 albkit does not overwrite a record that is not the stack's: remove it, or \
                 use another [https].domain ({})",
                kind.as_str(),
                e.message
            ),
            ..e
        })
    }
}

/// A DELETE that failed (`e`): fine when nothing of the stack's is left to delete.
async fn delete_failed(
    ctx: &Ctx<'_>,
    zone: &str,
    set: &ResourceRecordSet,
    what: &str,
    e: AwsError,
) -> Result<(), AwsError> {
    // Route 53 refuses with InvalidChangeBatch a record that is not there, or no longer
    // holds the values albkit wrote.
    if e.is("InvalidChangeBatch") {
        return Ok(());
    }
    // Other endpoints refuse a missing record with another code: look. (A record never
    // written: a certificate issued before its validation record was needed; or
    // removed by hand.)
    let (name, kind, _) = key_of(set);
    if e.class == ErrorClass::Permanent && !record_exists(ctx, zone, name, kind).await? {
        tracing::debug!("{what}: already gone ({e})");
        return Ok(());
    }
    Err(e)
}

/// Up to `max` record sets of the zone from `name` and `kind` on, in Route 53's order.
async fn list_records(
    ctx: &Ctx<'_>,
    zone: &str,
    name: &str,
    kind: &RrType,
    max: i32,
) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let out = read(ctx, "dns", "read DNS records", || async {
        ctx.aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(kind.clone())
            .max_items(max)
            .send()
            .await
            .aws("ListResourceRecordSets", zone)
    })
    .await?;
    Ok(out.resource_record_sets().to_vec())
}

/// Whether the zone holds an alias record of this name and type pointing at `target`.
async fn record_points_at(
    ctx: &Ctx<'_>,
    zone: &str,
    name: &str,
    kind: &RrType,
    target: &str,
) -> Result<bool, AwsError> {
    let same_target = |r: &ResourceRecordSet| {
        r.alias_target().is_some_and(|a| {
            a.dns_name()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(target.trim_end_matches('.'))
        })
    };
    Ok(list_records(ctx, zone, name, kind, 1)
        .await?
        .iter()
        .any(|r| same_name(r.name(), name) && r.r#type() == kind && same_target(r)))
}

/// Whether the zone holds a record set of this name and type.
async fn record_exists(
    ctx: &Ctx<'_>,
    zone: &str,
    name: &str,
    kind: &RrType,
) -> Result<bool, AwsError> {
    Ok(list_records(ctx, zone, name, kind, 1)
        .await?
        .iter()
        .any(|r| same_name(r.name(), name) && r.r#type() == kind))
}

/// Writes the alias record. A new one is written with CREATE, which Route 53 refuses when
/// a record of that name and type appeared since discovery, so albkit never overwrites
/// a record that is not the stack's; an update (UPSERT) only ever rewrites a record
/// discovery proved to be the stack's.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &DnsRecordSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let (zone, name, kind) = (want.zone.as_str(), want.name.as_str(), want.record_type);
    let endpoint = ctx.ids.endpoint().ok_or_else(|| {
        Bug::new(
            change.logical.as_str(),
            "the load balancer's DNS name is not known yet: the dependency order is wrong",
        )
    })?;
    // The dualstack name answers both A and AAAA queries.
    let target = format!("dualstack.{}", endpoint.dns_name);
    let dns_zone = endpoint.zone_id;
    let action = if change.id.is_some() {
        ChangeAction::Upsert
    } else {
        ChangeAction::Create
    };
    change_alias(ctx, action, zone, name, kind, &target, &dns_zone).await?;
    Ok(format!("{name}/{kind}"))
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let Some(r) = alias_record(&have.facts) else {
        return Err(AwsError::incomplete(
            "ListResourceRecordSets",
            &have.id,
            "alias target",
        ));
    };
    let (zone, name, kind) = (&r.zone, &r.name, &r.record_type);
    let delete = ChangeAction::Delete;
    change_alias(ctx, delete, zone, name, kind, &r.target, &r.target_zone).await
}

/// Writes (UPSERT) or removes (DELETE) a validation CNAME.
pub(crate) async fn validation_record(
    ctx: &Ctx<'_>,
    zone: &str,
    action: ChangeAction,
    name: &str,
    value: &str,
) -> Result<(), AwsError> {
    let set = ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(build_error("ChangeResourceRecordSets", name))?,
        )
        .build()
        .map_err(build_error("ChangeResourceRecordSets", name))?;
    send(ctx, zone, action, set, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_is_the_stacks_only_when_it_points_at_the_stacks_load_balancer() {
        let lb = "shop-alb-1234567890.us-east-1.elb.amazonaws.com";
        let owns = |target: &str| owns_alias(target, Some(lb), "shop-alb", "us-east-1");
        assert!(owns(
            "dualstack.shop-alb-1234567890.us-east-1.elb.amazonaws.com."
        ));
        assert!(owns("SHOP-ALB-1234567890.us-east-1.elb.amazonaws.com"));
        // One the stack replaced: same name, same region.
        assert!(owns("dualstack.shop-alb-42.us-east-1.elb.amazonaws.com."));
        assert!(owns("internal-shop-alb-42.us-east-1.elb.amazonaws.com"));
        // The same-named stack of another region.
        assert!(!owns(
            "dualstack.shop-alb-1234567890.us-west-2.elb.amazonaws.com."
        ));
        // Another stack whose name begins like this one's.
        assert!(!owns(
            "dualstack.shop-alb-x-alb-1.us-east-1.elb.amazonaws.com."
        ));
        assert!(!owns("shop-api-alb-1.us-east-1.elb.amazonaws.com"));
        // CloudFront, S3 websites, anything else.
        assert!(!owns("d111111abcdef8.cloudfront.net."));
        assert!(!owns("shop-alb-1.us-east-1.elb.amazonaws.com.evil.example"));
        assert!(!owns(""));
        // Without a load balancer of its own, only its name and region prove it.
        assert!(owns_alias(
            "shop-alb-1.us-east-1.elb.amazonaws.com",
            None,
            "shop-alb",
            "us-east-1"
        ));
        assert!(owns_alias(
            "shop-alb-1.cn-north-1.elb.amazonaws.com.cn",
            None,
            "shop-alb",
            "cn-north-1"
        ));
    }

    #[test]
    fn names_compare_as_fqdns() {
        assert!(same_name("api.example.com.", "api.example.com"));
        assert!(same_name("\\052.example.com.", "*.example.com"));
        assert!(!same_name("www.example.com.", "api.example.com"));
    }
}
