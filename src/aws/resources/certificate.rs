//! The ACM certificate (requested with DNS validation unless the config names one).

use std::time::Duration;

use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, Tag, ValidationMethod};
use aws_sdk_route53::types::ChangeAction;
use futures::{stream, StreamExt, TryStreamExt};

use super::wait_error;
use super::{found, logical_of, read, teardown, Ctx, Teardown};
use crate::aws::error::{build_error, AwsError, AwsResultExt, ResourceError};
use crate::aws::events::Event;
use crate::aws::retry::{retry, wait_until, Policy, Poll};
use crate::model::found::Found;
use crate::model::ids::HostedZoneId;
use crate::model::names::logical;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::CertificateSpec;
use crate::model::stack::Tags;

fn to_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("RequestCertificate", logical::CERTIFICATE))
        })
        .collect()
}

async fn tags_of(ctx: &Ctx<'_>, arn: &str) -> Result<Tags, AwsError> {
    let what = "read certificate tags";
    let out = read(ctx, logical::CERTIFICATE, what, || async {
        ctx.aws
            .acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .aws("ListTagsForCertificate", arn)
    })
    .await?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect())
}

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let acm = &ctx.aws.acm;
    let mut summaries = Vec::new();
    let mut pages = acm.list_certificates().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListCertificates", logical::CERTIFICATE)?;
        summaries.extend(page.certificate_summary_list().iter().filter_map(|c| {
            Some((
                c.certificate_arn()?.to_string(),
                c.domain_name().unwrap_or_default().to_string(),
            ))
        }));
    }
    // A certificate for the configured domain is most likely the stack's: its details
    // are read beside its tags, in the same round trip. Any other is described only
    // when its tags say it is the stack's (one left from an earlier domain). One deleted
    // since the listing (by anyone, in a shared account) is gone: skipped.
    let wanted = ctx.config.https.as_ref().map(|h| h.domain.as_str());
    let certificates: Vec<Option<Found>> = stream::iter(summaries)
        .map(|(arn, domain)| async move {
            let likely = wanted == Some(domain.as_str());
            let (tags, early) =
                tokio::try_join!(async { found(tags_of(ctx, &arn).await) }, async {
                    if likely {
                        found(describe(ctx, &arn).await).map(Some)
                    } else {
                        Ok(None)
                    }
                })?;
            let Some(tags) = tags else {
                return Ok(None);
            };
            let Some(logical) = logical_of(&tags).filter(|_| ctx.owns(&tags)) else {
                return Ok(None);
            };
            let cert = match early {
                Some(cert) => cert.flatten(),
                None => found(describe(ctx, &arn).await)?.flatten(),
            };
            Ok::<_, AwsError>(cert.map(|cert| observe(&arn, logical, &tags, &cert)))
        })
        .buffer_unordered(5)
        .try_collect()
        .await?;
    Ok(certificates.into_iter().flatten().collect())
}

async fn describe(ctx: &Ctx<'_>, arn: &str) -> Result<Option<CertificateDetail>, AwsError> {
    let out = read(ctx, logical::CERTIFICATE, "read certificate", || {
        describe_once(ctx, arn)
    })
    .await?;
    Ok(out.certificate().cloned())
}

/// One `DescribeCertificate` call (the callers retry or poll).
async fn describe_once(ctx: &Ctx<'_>, arn: &str) -> Result<DescribeCertificateOutput, AwsError> {
    ctx.aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .aws("DescribeCertificate", arn)
}

fn observe(arn: &str, logical: String, tags: &Tags, cert: &CertificateDetail) -> Found {
    let validation_records = cert
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| (r.name().to_string(), r.value().to_string()))
        .collect();
    let spec = CertificateSpec {
        domain: cert.domain_name().unwrap_or_default().to_string(),
        tags: tags.clone(),
    };
    let status = cert.status().map_or("unknown", |s| s.as_str()).to_string();
    let facts = Facts::Certificate {
        domain: spec.domain.clone(),
        validation_records,
    };
    Found::new(arn, logical, spec, tags.clone())
        .extras(vec![("status", status)])
        .with(facts)
}

/// The observed certificate's domain and DNS validation records `(name, value)`.
pub(crate) fn validation(have: &Observed) -> (&str, &[(String, String)]) {
    match &have.facts {
        Facts::Certificate {
            domain,
            validation_records,
        } => (domain, validation_records),
        _ => ("", &[]),
    }
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &CertificateSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let domain = want.domain.as_str();
    let arn = match &change.id {
        Some(arn) if change.action != crate::model::plan::Action::Replace => {
            if change.changed("tags") {
                retag(ctx, have, arn, &want.tags).await?;
            }
            arn.clone()
        }
        _ => request(ctx, change, domain, &want.tags).await?,
    };
    ctx.ids.insert(&change.logical, &arn);
    wait_issued(ctx, &arn, domain).await?;
    Ok(arn)
}

/// Brings the certificate's tags from the observed ones to `tags`.
async fn retag(
    ctx: &Ctx<'_>,
    have: Option<&Observed>,
    arn: &str,
    tags: &Tags,
) -> Result<(), AwsError> {
    let acm = &ctx.aws.acm;
    let (set, remove) = super::tag_changes(have, tags);
    if !set.is_empty() {
        acm.add_tags_to_certificate()
            .certificate_arn(arn)
            .set_tags(Some(to_tags(&set)?))
            .send()
            .await
            .aws("AddTagsToCertificate", arn)?;
    }
    if !remove.is_empty() {
        let keys = remove
            .iter()
            .map(|k| {
                Tag::builder()
                    .key(k)
                    .build()
                    .map_err(build_error("RemoveTagsFromCertificate", arn))
            })
            .collect::<Result<Vec<_>, _>>()?;
        acm.remove_tags_from_certificate()
            .certificate_arn(arn)
            .set_tags(Some(keys))
            .send()
            .await
            .aws("RemoveTagsFromCertificate", arn)?;
    }
    Ok(())
}

/// Requests a certificate for `domain` with DNS validation; returns its ARN. The
/// idempotency token makes a repeated request (after a lost response) return the same
/// certificate; after a crash, discovery finds it by its tags.
async fn request(
    ctx: &Ctx<'_>,
    change: &Change,
    domain: &str,
    tags: &Tags,
) -> Result<String, AwsError> {
    let token = ctx.names.certificate_token(domain, run_id());
    let (what, notify) = ("request certificate", ctx.notify(&change.logical));
    let out = retry(Policy::transient(), what, &notify, || async {
        ctx.aws
            .acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(&token)
            .set_tags(Some(to_tags(tags)?))
            .send()
            .await
            .aws("RequestCertificate", domain)
    })
    .await?;
    Ok(out.certificate_arn().unwrap_or_default().to_string())
}

/// Writes the validation records (or prints them) and waits for `ISSUED`.
async fn wait_issued(ctx: &Ctx<'_>, arn: &str, domain: &str) -> Result<(), AwsError> {
    let notify = ctx.notify(logical::CERTIFICATE);
    let records = wait_validation_records(ctx, arn, domain).await?;
    let zone = hosted_zone(ctx);
    for (name, value) in &records {
        match zone {
            Some(zone) => super::dns_record::validation_record(ctx, zone.as_str(), ChangeAction::Upsert, name, value).await?,
            None => ctx.reporter.event(Event::Note(format!(
                "certificate for {domain} waits for DNS validation: create the record  {name} CNAME {value}  in your DNS zone"
            ))),
        }
    }
    let deadline = if zone.is_some() {
        Duration::from_secs(1800)
    } else {
        Duration::from_secs(3600)
    };
    let what = format!("certificate for {domain} to be issued");
    wait_until(&what, deadline, &notify, || async {
        Ok(issuance(&describe_once(ctx, arn).await?))
    })
    .await
    .map_err(|e| wait_error(e, "DescribeCertificate", arn))
}

/// The DNS validation records (name, value) of the certificate, once ACM lists them (a
/// few seconds after the request); none when it is issued already.
async fn wait_validation_records(
    ctx: &Ctx<'_>,
    arn: &str,
    domain: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let what = format!("certificate for {domain} to list its DNS validation record");
    let notify = ctx.notify(logical::CERTIFICATE);
    wait_until(&what, Duration::from_secs(300), &notify, || async {
        let out = describe_once(ctx, arn).await?;
        let Some(cert) = out.certificate() else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        if cert.status() == Some(&CertificateStatus::Issued) {
            return Ok(Poll::Ready(Vec::new()));
        }
        let records: Vec<(String, String)> = cert
            .domain_validation_options()
            .iter()
            .filter_map(|o| o.resource_record())
            .map(|r| (r.name().to_string(), r.value().to_string()))
            .collect();
        Ok(if records.is_empty() {
            Poll::Pending("validation record not ready".into())
        } else {
            Poll::Ready(records)
        })
    })
    .await
    .map_err(|e| wait_error(e, "DescribeCertificate", arn))
}

/// How far the certificate `out` describes is from being issued. Pure.
fn issuance(out: &DescribeCertificateOutput) -> Poll<()> {
    let status = out.certificate().and_then(|c| c.status()).cloned();
    match status {
        Some(CertificateStatus::Issued) => Poll::Ready(()),
        Some(
            s @ (CertificateStatus::Failed
            | CertificateStatus::Expired
            | CertificateStatus::Revoked
            | CertificateStatus::ValidationTimedOut),
        ) => Poll::Failed {
            state: s.as_str().to_string(),
            reason: out
                .certificate()
                .and_then(|c| c.failure_reason())
                .map_or_else(|| "see the ACM console".into(), |r| r.as_str().to_string()),
        },
        Some(s) => Poll::Pending(s.as_str().to_string()),
        None => Poll::Pending("unknown".into()),
    }
}

/// The hosted zone albkit writes the validation records to, when the config names one.
fn hosted_zone<'c>(ctx: &'c Ctx<'_>) -> Option<&'c HostedZoneId> {
    ctx.config.https.as_ref()?.hosted_zone_id.as_ref()
}

/// An id of this albkit process, for idempotency tokens that must not outlive the run.
fn run_id() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{}-{nanos}", std::process::id())
    })
}

/// ARNs of the other certificates for `domain` in this region (ACM's list), which share
/// the stack's certificate's DNS validation records.
pub(crate) async fn others_for_domain(
    ctx: &Ctx<'_>,
    domain: &str,
    except: &str,
) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx.aws.acm.list_certificates().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListCertificates", domain)?;
        out.extend(
            page.certificate_summary_list()
                .iter()
                .filter(|c| c.domain_name() == Some(domain))
                .filter_map(|c| c.certificate_arn())
                .filter(|arn| *arn != except)
                .map(str::to_string),
        );
    }
    Ok(out)
}

/// Deletes the stack's certificate. Its DNS validation CNAMEs are removed from the
/// hosted zone only with `delete_validation_records` (`down --delete-validation-records`):
/// ACM gives every certificate of one domain name in the account, in every region and
/// CloudFront's too, the same validation CNAME, so another certificate may still need it
/// to renew.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, opts: Teardown) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    let zone = hosted_zone(ctx).filter(|_| opts.delete_validation_records);
    if let Some(zone) = zone {
        for (name, value) in validation(have).1 {
            let delete = ChangeAction::Delete;
            super::dns_record::validation_record(ctx, zone.as_str(), delete, name, value).await?;
        }
    }
    // ResourceInUseException until ELB lets go of a listener that used it.
    teardown(ctx, logical::CERTIFICATE, "delete certificate", || async {
        ctx.aws
            .acm
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .aws("DeleteCertificate", arn)
    })
    .await
}
