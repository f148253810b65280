//! The S3 bucket for ALB access logs: private, encrypted, owner-enforced, expiring, with
//! the policy that lets ELB deliver logs (and denies non-TLS access). Every call names
//! the expected owner; whose an existing bucket is follows `model::buckets`.

use aws_sdk_s3::operation::{
    get_bucket_encryption::GetBucketEncryptionOutput,
    get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput,
    get_bucket_ownership_controls::GetBucketOwnershipControlsOutput,
    get_bucket_policy::GetBucketPolicyOutput, get_public_access_block::GetPublicAccessBlockOutput,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule,
};

use super::{as_found, teardown, Ctx, Foreign, Teardown};
use crate::aws::bucket::{foreign_error, other_account_reason, refused, tags_of, Bucket};
use crate::aws::error::{build_error, AwsError, AwsResultExt, ErrorClass, ResourceError};
use crate::aws::retry::{retry, Notify, Policy};
use crate::model::buckets::{by_tags, untagged, Claim};
use crate::model::found::Found;
use crate::model::names::{logical, TAG_STACK};
use crate::model::plan::{Change, Observed};
use crate::model::spec::{LogBucketSpec, Props};
use crate::model::stack::{log_bucket_policy, Tags};

const LIFECYCLE_RULE_ID: &str = "albkit-expire-access-logs";

/// Whether `bucket`, with these tags, is the stack's (see `model::buckets` for the rule):
/// `Ok` when it is, else why not. An untagged bucket costs one more read (is it empty?).
async fn ownership(
    ctx: &Ctx<'_>,
    bucket: &Bucket<'_>,
    tags: &Tags,
) -> Result<Result<(), String>, AwsError> {
    Ok(match by_tags(tags, TAG_STACK, ctx.stack()) {
        Claim::Ours => Ok(()),
        Claim::Foreign(reason) => Err(reason),
        Claim::Untagged => untagged(bucket.holds_objects().await?, TAG_STACK, ctx.stack()),
    })
}

/// Reads the bucket. It is the stack's when tagged for it, or untagged and empty (what a
/// run interrupted right after `CreateBucket` leaves; `up` then tags it). Anything else
/// under its name is foreign: a bucket of another account (S3 refuses the expected
/// owner), one tagged for something else, one untagged that holds objects.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let account = ctx.account().await?;
    let name = ctx.names.log_bucket(account);
    let bucket = Bucket::new(ctx.aws, &name, account);
    let s3 = &ctx.aws.s3;
    let notify = ctx.notify(logical::LOG_BUCKET);
    // Every read of the bucket names the expected owner.
    macro_rules! read {
        ($call:ident) => {
            s3.$call()
                .bucket(&name)
                .expected_bucket_owner(account)
                .send()
        };
    }
    // Everything about the bucket in one round trip: whether it exists, whose it is and
    // its settings are asked at once (for a bucket that does not exist the other answers
    // are discarded; it costs calls, not time).
    let head = retry(Policy::transient(), "read log bucket", &notify, || async {
        read!(head_bucket).await.aws("HeadBucket", &name)
    });
    let (exists, tagging, pab, enc, own, life, policy) = tokio::join!(
        head,
        read!(get_bucket_tagging),
        read!(get_public_access_block),
        read!(get_bucket_encryption),
        read!(get_bucket_ownership_controls),
        read!(get_bucket_lifecycle_configuration),
        read!(get_bucket_policy),
    );
    match exists {
        Ok(_) => {}
        Err(e) if e.not_found() || e.status == Some(404) => return Ok((vec![], vec![])),
        Err(e) if refused(&e) => return Ok(foreign(&name, other_account_reason(account))),
        Err(e) => return Err(e),
    }
    let tags = tags_of(tagging.aws("GetBucketTagging", &name))?;
    if let Err(reason) = ownership(ctx, &bucket, &tags).await? {
        return Ok(foreign(&name, reason));
    }
    let settings = Settings {
        pab: optional(pab.aws("GetPublicAccessBlock", &name))?,
        enc: optional(enc.aws("GetBucketEncryption", &name))?,
        own: optional(own.aws("GetBucketOwnershipControls", &name))?,
        life: optional(life.aws("GetBucketLifecycleConfiguration", &name))?,
        policy: optional(policy.aws("GetBucketPolicy", &name))?,
    };
    Ok((vec![settings.found(name, tags)], vec![]))
}

/// The bucket's settings as read; a setting it does not have is `None`.
struct Settings {
    pab: Option<GetPublicAccessBlockOutput>,
    enc: Option<GetBucketEncryptionOutput>,
    own: Option<GetBucketOwnershipControlsOutput>,
    life: Option<GetBucketLifecycleConfigurationOutput>,
    policy: Option<GetBucketPolicyOutput>,
}

impl Settings {
    /// The bucket `name` with these settings, as found. Pure.
    fn found(&self, name: String, tags: Tags) -> Found {
        let days = expiry_days(self.life.as_ref());
        let policy = policy_of(self.policy.as_ref());
        let mut extras = Props::new();
        let public = public_access(self.pab.as_ref());
        as_found(&mut extras, "public_access", public, "all blocked");
        let enc = encryption(self.enc.as_ref());
        as_found(&mut extras, "encryption", enc, LogBucketSpec::ENCRYPTION);
        let own = object_ownership(self.own.as_ref());
        as_found(&mut extras, "ownership", own, LogBucketSpec::OWNERSHIP);
        if days.is_none() {
            extras.push(("lifecycle", "none".into()));
        }
        if policy.is_none() {
            extras.push(("policy", "none".into()));
        }
        let spec = LogBucketSpec {
            name: name.clone(),
            retention_days: days.unwrap_or_default(),
            policy: policy.unwrap_or_default(),
            tags: tags.clone(),
        };
        Found::new(name, logical::LOG_BUCKET, spec, tags).extras(extras)
    }
}

/// What discovery reports for a bucket under the stack's name that is not the stack's.
fn foreign(name: &str, reason: String) -> (Vec<Found>, Vec<Foreign>) {
    let name = name.to_string();
    (
        vec![],
        vec![Foreign {
            kind: "S3 bucket",
            name,
            reason,
        }],
    )
}

/// A setting's answer; a setting the bucket does not have is `None`.
fn optional<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.not_found() || e.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The public access block, as `plan` compares it.
fn public_access(pab: Option<&GetPublicAccessBlockOutput>) -> String {
    match pab.and_then(|p| p.public_access_block_configuration()) {
        Some(c)
            if c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true) =>
        {
            "all blocked".to_string()
        }
        Some(_) => "partially open".to_string(),
        None => "not configured".to_string(),
    }
}

/// The default encryption's algorithm, or `none`.
fn encryption(enc: Option<&GetBucketEncryptionOutput>) -> String {
    enc.and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map_or_else(|| "none".into(), |d| d.sse_algorithm().as_str().to_string())
}

/// The object ownership setting, or `none`.
fn object_ownership(own: Option<&GetBucketOwnershipControlsOutput>) -> String {
    own.and_then(|o| o.ownership_controls())
        .and_then(|c| c.rules().first())
        .map_or_else(
            || "none".into(),
            |r| r.object_ownership().as_str().to_string(),
        )
}

/// The expiry, in days, of albkit's lifecycle rule.
fn expiry_days(life: Option<&GetBucketLifecycleConfigurationOutput>) -> Option<u32> {
    life.and_then(|l| l.rules().iter().find(|r| r.id() == Some(LIFECYCLE_RULE_ID)))
        .and_then(|r| r.expiration())
        .and_then(aws_sdk_s3::types::LifecycleExpiration::days)
        .and_then(|d| u32::try_from(d).ok())
}

/// The bucket policy.
fn policy_of(policy: Option<&GetBucketPolicyOutput>) -> Option<serde_json::Value> {
    policy
        .and_then(|p| p.policy())
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &LogBucketSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let account = ctx.account().await?;
    let name = ctx.names.log_bucket(account);
    let mut bucket = Bucket::new(ctx.aws, &name, account);
    let notify = ctx.notify(&change.logical);
    let creating = change.id.is_none();
    let all = |field: &str| creating || change.changed(field);
    if creating {
        bucket.create(&notify).await?;
    }
    // Tags first: until they are there the bucket is only adoptable while empty, and
    // nothing writes into it before its policy, which comes last.
    if all("tags") {
        bucket.put_tags(&want.tags.clone(), &notify).await?;
    }
    if all("public_access") {
        bucket.block_public_access(&notify).await?;
    }
    if all("encryption") {
        bucket.encrypt(&notify).await?;
    }
    if all("ownership") {
        enforce_ownership(&bucket, &notify).await?;
    }
    if all("lifecycle") {
        expire_logs(ctx, &bucket, want.retention_days, &notify).await?;
    }
    if all("policy") {
        let policy = log_bucket_policy(&name, account, &ctx.aws.region).to_string();
        bucket
            .put_policy(&policy, "allow ELB log delivery", &notify)
            .await?;
    }
    Ok(name)
}

/// Makes the bucket owner own every object (ACLs off).
async fn enforce_ownership(bucket: &Bucket<'_>, notify: &dyn Notify) -> Result<(), AwsError> {
    let (s3, name) = (&bucket.aws.s3, bucket.name);
    let controls = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .map_err(build_error("PutBucketOwnershipControls", name))?,
        )
        .build()
        .map_err(build_error("PutBucketOwnershipControls", name))?;
    let put = || async {
        s3.put_bucket_ownership_controls()
            .bucket(name)
            .expected_bucket_owner(bucket.owner)
            .ownership_controls(controls.clone())
            .send()
            .await
            .aws("PutBucketOwnershipControls", name)
    };
    retry(Policy::fresh(), "enforce bucket ownership", notify, put)
        .await
        .map(|_| ())
}

/// The lifecycle rule that expires access logs after `retention_days`.
async fn expire_logs(
    ctx: &Ctx<'_>,
    bucket: &Bucket<'_>,
    retention_days: u32,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let (s3, name) = (&bucket.aws.s3, bucket.name);
    let days = i32::try_from(retention_days).unwrap_or(i32::MAX);
    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .prefix(format!("{}/", ctx.names.log_prefix()))
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(days).build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(1)
                .build(),
        )
        .build()
        .map_err(build_error("PutBucketLifecycleConfiguration", name))?;
    let config = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(build_error("PutBucketLifecycleConfiguration", name))?;
    retry(Policy::fresh(), "set log expiry", notify, || async {
        s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .expected_bucket_owner(bucket.owner)
            .lifecycle_configuration(config.clone())
            .send()
            .await
            .aws("PutBucketLifecycleConfiguration", name)
    })
    .await
    .map(|_| ())
}

/// Deletes every object version and delete marker, then the bucket; retries while the
/// load balancer's last log deliveries land.
///
/// A second guard besides discovery: the bucket's ownership is read again first, and a
/// bucket that is not the stack's (another account's, tagged for something else, or
/// untagged and holding objects) is neither emptied nor deleted.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let name = have.id.as_str();
    let account = ctx.account().await?;
    let bucket = Bucket::new(ctx.aws, name, account);
    let tags = match bucket.tags().await {
        Ok(tags) => tags,
        Err(e) if e.is("NoSuchBucket") => return Ok(()),
        Err(e) if refused(&e) => {
            return Err(foreign_error(
                "GetBucketTagging",
                name,
                &other_account_reason(account),
            ))
        }
        Err(e) => return Err(e),
    };
    if let Err(reason) = ownership(ctx, &bucket, &tags).await? {
        return Err(foreign_error("GetBucketTagging", name, &reason));
    }
    teardown(
        ctx,
        logical::LOG_BUCKET,
        "empty and delete the log bucket",
        || async {
            empty(&bucket).await?;
            ctx.aws
                .s3
                .delete_bucket()
                .bucket(name)
                .expected_bucket_owner(account)
                .send()
                .await
                .aws("DeleteBucket", name)
                .map(|_| ())
        },
    )
    .await
}

async fn empty(bucket: &Bucket<'_>) -> Result<(), AwsError> {
    let (s3, name) = (&bucket.aws.s3, bucket.name);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .expected_bucket_owner(bucket.owner)
            .max_keys(1000)
            .send()
            .await
            .aws("ListObjectVersions", name)?;
        // Every version, then every delete marker, as (key, version id).
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter();
        let markers = markers.map(|m| (m.key(), m.version_id()));
        let mut ids = Vec::new();
        for (key, version) in versions.chain(markers) {
            if let Some(key) = key {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_string))
                        .build()
                        .map_err(build_error("DeleteObjects", name))?,
                );
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(build_error("DeleteObjects", name))?;
        let out = s3
            .delete_objects()
            .bucket(name)
            .expected_bucket_owner(bucket.owner)
            .delete(delete)
            .send()
            .await
            .aws("DeleteObjects", name)?;
        if let Some(err) = out.errors().first() {
            return Err(object_error(name, err));
        }
    }
}

/// The first object `DeleteObjects` could not delete, as an error. A per-object failure
/// is classified like a call's: "AccessDenied" will not go away by retrying,
/// "InternalError" or "SlowDown" will.
fn object_error(name: &str, err: &aws_sdk_s3::types::Error) -> AwsError {
    let message = err
        .message()
        .unwrap_or("an object could not be deleted")
        .to_string();
    let class = match err.code() {
        Some(code) => crate::aws::error::classify(Some(code), &message, None),
        None => ErrorClass::Transient,
    };
    AwsError {
        operation: "DeleteObjects",
        resource: format!("{name}/{}", err.key().unwrap_or("?")),
        code: err.code().map(str::to_string),
        message,
        status: None,
        class,
    }
}
