//! The ELB trust store of `[https.mtls]` (docs/mtls.md): its CA bundle is put in the
//! stack's bucket (`PutObject`, the expected owner named) under a key named by its
//! SHA-256, then the trust store is created from it (`CreateTrustStore`, tagged in the
//! same call) and waited for until `ACTIVE`. A changed bundle is a new object given to
//! the same trust store (`ModifyTrustStore`), the old object deleted after. The
//! bundle's key is kept in the [`BUNDLE_TAG`] tag (AWS does not report it). Found by
//! its name (`DescribeTrustStores`), proved by its tags; `DeleteTrustStore` and the
//! object's deletion remove it.

use aws_sdk_elasticloadbalancingv2::types::{TrustStore, TrustStoreStatus};

use super::elb::{adopt_if_owned, read_tags, retag, to_tags};
use super::{found, not_tagged_reason, read, teardown, wait_error, Ctx, Foreign, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, wait_until, Policy, Poll};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{Ref, TrustStoreSpec, BUNDLE_TAG};
use crate::model::stack::Tags;

/// How long a trust store may take to become `ACTIVE`.
const ACTIVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// The trust store under `name`, if there is one.
async fn describe(ctx: &Ctx<'_>, name: &str) -> Result<Option<TrustStore>, AwsError> {
    let out = read(ctx, logical::TRUST_STORE, "read trust store", || async {
        found(
            ctx.aws
                .elb
                .describe_trust_stores()
                .names(name)
                .send()
                .await
                .aws("DescribeTrustStores", name),
        )
    })
    .await?;
    Ok(out.and_then(|o| o.trust_stores().first().cloned()))
}

/// The stack's trust store, or a foreign one under its name when the config asks for
/// one (without `[https.mtls]` somebody else's trust store of that name is none of
/// albkit's business).
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let name = ctx.names.trust_store();
    let Some(arn) = describe(ctx, &name)
        .await?
        .and_then(|t| t.trust_store_arn().map(str::to_string))
    else {
        return Ok((vec![], vec![]));
    };
    let tags = read_tags(ctx, std::slice::from_ref(&arn))
        .await?
        .remove(&arn)
        .unwrap_or_default();
    if !ctx.owns(&tags) {
        let wanted = ctx.config.https.as_ref().is_some_and(|h| h.mtls.is_some());
        let foreign = wanted.then(|| Foreign {
            kind: "trust store",
            name: arn,
            reason: format!("{}; delete or rename it", not_tagged_reason(ctx, &tags)),
        });
        return Ok((vec![], foreign.into_iter().collect()));
    }
    Ok((vec![found_of(arn, name, tags)], vec![]))
}

/// The found trust store: its bundle's key from [`BUNDLE_TAG`], its other tags; its
/// bundle is in the stack's bucket (the only one albkit puts it in). Pure.
fn found_of(arn: String, name: String, mut tags: Tags) -> Found {
    let key = tags
        .remove(BUNDLE_TAG)
        .unwrap_or_else(|| format!("(no {BUNDLE_TAG} tag)"));
    let spec = TrustStoreSpec {
        name,
        bucket: Ref::Stack(logical::LOG_BUCKET.into()),
        key,
        pem: Vec::new(),
        tags: tags.clone(),
    };
    Found::new(arn, logical::TRUST_STORE, spec, tags)
}

/// Puts the bundle in the bucket (the same bytes under the same key: idempotent).
async fn put_bundle(ctx: &Ctx<'_>, bucket: &str, want: &TrustStoreSpec) -> Result<(), AwsError> {
    let account = ctx.account().await?.to_string();
    let notify = ctx.notify(logical::TRUST_STORE);
    retry(Policy::fresh(), "upload the CA bundle", &notify, || async {
        ctx.aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(&want.key)
            .expected_bucket_owner(&account)
            .content_type("application/x-pem-file")
            .body(want.pem.clone().into())
            .send()
            .await
            .aws("PutObject", &format!("s3://{bucket}/{}", want.key))
    })
    .await
    .map(|_| ())
}

/// Deletes the bundle object `key` (gone already, or its bucket gone: done).
async fn delete_bundle(ctx: &Ctx<'_>, bucket: &str, key: &str) -> Result<(), AwsError> {
    let account = ctx.account().await?.to_string();
    teardown(
        ctx,
        logical::TRUST_STORE,
        "delete the CA bundle",
        || async {
            ctx.aws
                .s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .expected_bucket_owner(&account)
                .send()
                .await
                .aws("DeleteObject", &format!("s3://{bucket}/{key}"))
        },
    )
    .await
}

/// Waits until the trust store is `ACTIVE` (AWS reads the bundle meanwhile).
async fn wait_active(ctx: &Ctx<'_>, arn: &str) -> Result<(), AwsError> {
    let notify = ctx.notify(logical::TRUST_STORE);
    let what = format!("trust store {arn} to be active");
    wait_until(&what, ACTIVE_DEADLINE, &notify, || async {
        let out = ctx
            .aws
            .elb
            .describe_trust_stores()
            .trust_store_arns(arn)
            .send()
            .await
            .aws("DescribeTrustStores", arn)?;
        let status = out.trust_stores().first().and_then(TrustStore::status);
        Ok(match status {
            Some(TrustStoreStatus::Active) => Poll::Ready(()),
            other => {
                Poll::Pending(other.map_or_else(|| "not found yet".into(), ToString::to_string))
            }
        })
    })
    .await
    .map_err(|e| wait_error(e, "DescribeTrustStores", arn))
}

/// The bundle tag, beside the spec's tags.
fn bundle_tag(key: &str) -> Tags {
    Tags::from([(BUNDLE_TAG.to_string(), key.to_string())])
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TrustStoreSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let bucket = ctx.ids.of(&want.bucket)?;
    let Some(arn) = &change.id else {
        put_bundle(ctx, &bucket, want).await?;
        let arn = create(ctx, change, &bucket, want).await?;
        wait_active(ctx, &arn).await?;
        return Ok(arn);
    };
    if change.changed("tags") {
        retag(ctx, arn, change, have, &want.tags).await?;
    }
    if change.changed("bundle") {
        put_bundle(ctx, &bucket, want).await?;
        modify(ctx, arn, &bucket, &want.key).await?;
        wait_active(ctx, arn).await?;
        let tag = to_tags(&bundle_tag(&want.key));
        retry(
            Policy::fresh(),
            "tag",
            &ctx.notify(&change.logical),
            || async {
                ctx.aws
                    .elb
                    .add_tags()
                    .resource_arns(arn)
                    .set_tags(Some(tag.clone()))
                    .send()
                    .await
                    .aws("AddTags", arn)
            },
        )
        .await?;
        let old = have.and_then(|h| h.resource.get("bundle"));
        if let Some(old) = old.filter(|k| k.starts_with(crate::model::mtls::KEY_PREFIX)) {
            delete_bundle(ctx, &bucket, old).await?;
        }
    }
    Ok(arn.clone())
}

async fn modify(ctx: &Ctx<'_>, arn: &str, bucket: &str, key: &str) -> Result<(), AwsError> {
    let notify = ctx.notify(logical::TRUST_STORE);
    retry(Policy::fresh(), "update trust store", &notify, || async {
        ctx.aws
            .elb
            .modify_trust_store()
            .trust_store_arn(arn)
            .ca_certificates_bundle_s3_bucket(bucket)
            .ca_certificates_bundle_s3_key(key)
            .send()
            .await
            .aws("ModifyTrustStore", arn)
    })
    .await
    .map(|_| ())
}

async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    bucket: &str,
    want: &TrustStoreSpec,
) -> Result<String, AwsError> {
    let notify = ctx.notify(&change.logical);
    let mut tags = want.tags.clone();
    tags.extend(bundle_tag(&want.key));
    let out = retry(Policy::fresh(), "create trust store", &notify, || async {
        ctx.aws
            .elb
            .create_trust_store()
            .name(&want.name)
            .ca_certificates_bundle_s3_bucket(bucket)
            .ca_certificates_bundle_s3_key(&want.key)
            .set_tags(Some(to_tags(&tags)))
            .send()
            .await
            .aws("CreateTrustStore", &want.name)
    })
    .await;
    match out {
        Ok(out) => out
            .trust_stores()
            .first()
            .and_then(TrustStore::trust_store_arn)
            .map(str::to_string)
            .ok_or_else(|| AwsError::incomplete("CreateTrustStore", &want.name, "trust store ARN")),
        // An earlier attempt created it but its response was lost: take it if it
        // carries the stack's tags (set in the same call).
        Err(e) if e.is("DuplicateTrustStoreName") => {
            let arn = describe(ctx, &want.name)
                .await?
                .and_then(|t| t.trust_store_arn().map(str::to_string));
            adopt_if_owned(ctx, arn, e).await
        }
        Err(e) => Err(e),
    }
}

/// Deletes the trust store, then its bundle object.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    teardown(ctx, logical::TRUST_STORE, "delete trust store", || async {
        ctx.aws
            .elb
            .delete_trust_store()
            .trust_store_arn(arn)
            .send()
            .await
            .aws("DeleteTrustStore", arn)
    })
    .await?;
    let Some(key) = have
        .resource
        .get("bundle")
        .filter(|k| k.starts_with(crate::model::mtls::KEY_PREFIX))
    else {
        return Ok(());
    };
    let account = ctx.account().await?;
    delete_bundle(ctx, &ctx.names.log_bucket(account), key).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::found::resolve;

    #[test]
    fn the_bundle_key_is_read_from_its_tag_and_kept_out_of_the_tags() {
        let tags = Tags::from([
            ("albkit:stack".to_string(), "shop".to_string()),
            (BUNDLE_TAG.to_string(), "mtls/abc.pem".to_string()),
        ]);
        let found = found_of("arn:ts".into(), "shop-mtls".into(), tags);
        let got = resolve(vec![found], &[]);
        assert_eq!(got[0].resource.get("bundle"), Some("mtls/abc.pem"));
        assert_eq!(got[0].resource.get("bucket"), Some("log-bucket"));
        assert!(!got[0].tags.contains_key(BUNDLE_TAG));
        let untagged = found_of("arn:ts".into(), "n".into(), Tags::new());
        let got = resolve(vec![untagged], &[]);
        assert_eq!(
            got[0].resource.get("bundle"),
            Some("(no albkit:ca-bundle tag)")
        );
    }
}
