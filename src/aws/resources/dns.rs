//! Route 53 records: the alias A/AAAA records of the domain, and the certificate's
//! DNS validation CNAMEs.

use aws_sdk_route53::types::{
    AliasTarget, Change as R53Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType,
};

use super::load_balancer::{DNS_KEY, ZONE_KEY};
use super::{observed, Ctx};
use crate::aws::clients::no_route53_retries;
use crate::aws::error::{build_error, AwsError, AwsResultExt, ErrorClass};
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::plan::{Change, Observed};
use crate::model::stack::{Kind, Resource};

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

pub async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
    let Some(https) = &ctx.config.https else {
        return Ok(vec![]);
    };
    let Some(zone) = &https.hosted_zone_id else {
        return Ok(vec![]);
    };
    let records = list_records(ctx, zone.as_str(), &fqdn(&https.domain), &RrType::A, 4).await?;
    Ok(records
        .iter()
        .filter(|r| same_name(r.name(), &https.domain))
        .filter(|r| matches!(r.r#type(), RrType::A | RrType::Aaaa))
        .filter_map(|r| {
            let alias = r.alias_target()?;
            let kind = r.r#type().as_str();
            Some(observed(
                format!("{}/{kind}", https.domain),
                Resource::new(format!("dns/{kind}"), Kind::DnsRecord)
                    .prop("zone", zone.as_str())
                    .prop("name", https.domain.clone())
                    .prop("type", kind)
                    .prop(
                        "alias",
                        alias.dns_name().trim_end_matches('.').to_ascii_lowercase(),
                    )
                    .prop("alias_dns", alias.dns_name())
                    .prop("alias_zone", alias.hosted_zone_id()),
            ))
        })
        .collect())
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

async fn send(
    ctx: &Ctx<'_>,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    what: &str,
) -> Result<(), AwsError> {
    let deleting = action == ChangeAction::Delete;
    let (name, kind) = (set.name().to_string(), set.r#type().clone());
    let batch = ChangeBatch::builder()
        .comment(format!("albkit stack {}", ctx.stack()))
        .changes(
            R53Change::builder()
                .action(action)
                .resource_record_set(set)
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
        || async {
            if deleting && !record_exists(ctx, zone, &name, &kind).await? {
                Ok(Some(()))
            } else {
                Ok(None)
            }
        },
        || async {
            let mut req = ctx
                .aws
                .route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch.clone())
                .customize();
            if deleting {
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
        // A DELETE that Route 53 refuses with InvalidChangeBatch (the record is not
        // there, or no longer holds the values albkit wrote) leaves nothing of the
        // stack's to delete.
        Err(e) if deleting && e.is("InvalidChangeBatch") => Ok(()),
        // Other endpoints refuse a missing record with another code: look. (A record
        // never written: a certificate issued before its validation record was
        // needed; or removed by hand.)
        Err(e)
            if deleting
                && e.class == ErrorClass::Permanent
                && !record_exists(ctx, zone, &name, &kind).await? =>
        {
            tracing::debug!("{what}: already gone ({e})");
            Ok(())
        }
        other => other,
    }
}

/// Up to `max` record sets of the zone from `name` and `kind` on, in Route 53's order.
async fn list_records(
    ctx: &Ctx<'_>,
    zone: &str,
    name: &str,
    kind: &RrType,
    max: i32,
) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read DNS records",
        &ctx.notify("dns"),
        || async {
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
        },
    )
    .await?;
    Ok(out.resource_record_sets().to_vec())
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

pub async fn apply(ctx: &Ctx<'_>, _change: &Change, want: &Resource) -> Result<String, AwsError> {
    let zone = want.get("zone").unwrap_or_default();
    let name = want.get("name").unwrap_or_default();
    let kind = want.get("type").unwrap_or_default();
    let dns = ctx.ids.get(DNS_KEY)?;
    let dns_zone = ctx.ids.get(ZONE_KEY)?;
    // The dualstack name answers both A and AAAA queries.
    let target = format!("dualstack.{dns}");
    change_alias(
        ctx,
        ChangeAction::Upsert,
        zone,
        name,
        kind,
        &target,
        &dns_zone,
    )
    .await?;
    Ok(format!("{name}/{kind}"))
}

pub async fn delete(ctx: &Ctx<'_>, have: &Resource) -> Result<(), AwsError> {
    let get = |k: &str| have.get(k).unwrap_or_default();
    change_alias(
        ctx,
        ChangeAction::Delete,
        get("zone"),
        get("name"),
        get("type"),
        get("alias_dns"),
        get("alias_zone"),
    )
    .await
}

/// Writes (UPSERT) or removes (DELETE) a validation CNAME.
pub async fn validation_record(
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
    fn names_compare_as_fqdns() {
        assert!(same_name("api.example.com.", "api.example.com"));
        assert!(same_name("\\052.example.com.", "*.example.com"));
        assert!(!same_name("www.example.com.", "api.example.com"));
    }
}
