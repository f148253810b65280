//! The S3 bucket for ALB access logs: private, encrypted, owner-enforced, expiring, with
//! the policy that lets ELB deliver logs (and denies non-TLS access).

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};

use super::vpc::ignore_not_found;
use super::{observed, Ctx, Foreign};
use crate::aws::clients::Aws;
use crate::aws::error::{build_error, AwsError, AwsResultExt, ErrorClass};
use crate::aws::retry::{retry, Notify, Policy};
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::stack::{log_bucket_policy, tags_prop, Kind, Resource, Tags};

const LIFECYCLE_RULE_ID: &str = "albkit-expire-access-logs";

fn s3_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("PutBucketTagging", logical::LOG_BUCKET))
        })
        .collect()
}

/// Reads the bucket. A bucket with the stack's name but another stack's tags is foreign.
/// A bucket with no tags at all is taken as this stack's: its name holds the account,
/// the region and the stack, and S3 (unlike the other services) cannot always tag at
/// creation, so an interrupted `up` can leave it untagged.
pub async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Observed>, Vec<Foreign>), AwsError> {
    let name = ctx.names.log_bucket(ctx.account().await?);
    let s3 = &ctx.aws.s3;
    let notify = ctx.notify(logical::LOG_BUCKET);
    // Everything about the bucket in one round trip: whether it exists, whose it is and
    // its settings are asked at once (for a bucket that does not exist the other answers
    // are discarded; it costs calls, not time).
    let head = retry(Policy::transient(), "read log bucket", &notify, || async {
        s3.head_bucket()
            .bucket(&name)
            .send()
            .await
            .aws("HeadBucket", &name)
    });
    let tagging = async {
        s3.get_bucket_tagging()
            .bucket(&name)
            .send()
            .await
            .aws("GetBucketTagging", &name)
    };
    let (exists, tagging, pab, enc, own, life, policy) = tokio::join!(
        head,
        tagging,
        s3.get_public_access_block().bucket(&name).send(),
        s3.get_bucket_encryption().bucket(&name).send(),
        s3.get_bucket_ownership_controls().bucket(&name).send(),
        s3.get_bucket_lifecycle_configuration().bucket(&name).send(),
        s3.get_bucket_policy().bucket(&name).send(),
    );
    match exists {
        Ok(_) => {}
        Err(e) if e.not_found() || e.status == Some(404) => return Ok((vec![], vec![])),
        Err(e) if e.status == Some(403) => {
            return Ok((
                vec![],
                vec![Foreign {
                    kind: "S3 bucket",
                    name,
                    reason: "it belongs to another AWS account (S3 bucket names are global)".into(),
                }],
            ));
        }
        Err(e) => return Err(e),
    }
    let tags: Tags = match tagging {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(e) if e.not_found() || e.is("NoSuchTagSet") => Tags::new(),
        Err(e) => return Err(e),
    };
    if !tags.is_empty() && !ctx.owns(&tags) {
        return Ok((
            vec![],
            vec![Foreign {
                kind: "S3 bucket",
                name,
                reason: super::not_tagged_reason(ctx, &tags),
            }],
        ));
    }
    fn optional<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.not_found() || e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
    let pab = optional(pab.aws("GetPublicAccessBlock", &name))?;
    let enc = optional(enc.aws("GetBucketEncryption", &name))?;
    let own = optional(own.aws("GetBucketOwnershipControls", &name))?;
    let life = optional(life.aws("GetBucketLifecycleConfiguration", &name))?;
    let policy = optional(policy.aws("GetBucketPolicy", &name))?;

    let public_access = match pab
        .as_ref()
        .and_then(|p| p.public_access_block_configuration())
    {
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
    };
    let encryption = enc
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string())
        .unwrap_or_else(|| "none".into());
    let ownership = own
        .as_ref()
        .and_then(|o| o.ownership_controls())
        .and_then(|c| c.rules().first())
        .map(|r| r.object_ownership().as_str().to_string())
        .unwrap_or_else(|| "none".into());
    let lifecycle = life
        .as_ref()
        .and_then(|l| l.rules().iter().find(|r| r.id() == Some(LIFECYCLE_RULE_ID)))
        .and_then(|r| r.expiration())
        .and_then(|e| e.days())
        .map(|d| format!("expire after {d} days"))
        .unwrap_or_else(|| "none".into());
    let policy = policy
        .as_ref()
        .and_then(|p| p.policy())
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .map(|v| v.to_string())
        .unwrap_or_else(|| "none".into());
    Ok((
        vec![observed(
            &name,
            Resource::new(logical::LOG_BUCKET, Kind::LogBucket)
                .prop("name", &name)
                .prop("public_access", public_access)
                .prop("encryption", encryption)
                .prop("ownership", ownership)
                .prop("lifecycle", lifecycle)
                .prop("policy", policy)
                .prop("tags", tags_prop(&tags)),
        )],
        vec![],
    ))
}

pub async fn apply(ctx: &Ctx<'_>, change: &Change, want: &Resource) -> Result<String, AwsError> {
    let s3 = &ctx.aws.s3;
    let account = ctx.account().await?;
    let name = ctx.names.log_bucket(account);
    let notify = ctx.notify(&want.logical);
    let tags = ctx.tags(&want.logical);
    let creating = change.id.is_none();
    let all = |field: &str| creating || change.changed(field);
    if creating {
        create_bucket(ctx.aws, &name, &notify).await?;
    }
    if all("tags") {
        let tagging = Tagging::builder()
            .set_tag_set(Some(s3_tags(&tags)?))
            .build()
            .map_err(build_error("PutBucketTagging", &name))?;
        retry(Policy::fresh(), "tag log bucket", &notify, || async {
            s3.put_bucket_tagging()
                .bucket(&name)
                .tagging(tagging.clone())
                .send()
                .await
                .aws("PutBucketTagging", &name)
        })
        .await?;
    }
    if all("public_access") {
        block_public_access(ctx.aws, &name, &notify).await?;
    }
    if all("encryption") {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(build_error("PutBucketEncryption", &name))?;
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(build_error("PutBucketEncryption", &name))?;
        retry(Policy::fresh(), "encrypt log bucket", &notify, || async {
            s3.put_bucket_encryption()
                .bucket(&name)
                .server_side_encryption_configuration(config.clone())
                .send()
                .await
                .aws("PutBucketEncryption", &name)
        })
        .await?;
    }
    if all("ownership") {
        let controls = OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(build_error("PutBucketOwnershipControls", &name))?,
            )
            .build()
            .map_err(build_error("PutBucketOwnershipControls", &name))?;
        retry(
            Policy::fresh(),
            "enforce bucket ownership",
            &notify,
            || async {
                s3.put_bucket_ownership_controls()
                    .bucket(&name)
                    .ownership_controls(controls.clone())
                    .send()
                    .await
                    .aws("PutBucketOwnershipControls", &name)
            },
        )
        .await?;
    }
    if all("lifecycle") {
        let days =
            i32::try_from(ctx.config.load_balancer.access_log_retention_days).unwrap_or(i32::MAX);
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
            .map_err(build_error("PutBucketLifecycleConfiguration", &name))?;
        let config = BucketLifecycleConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(build_error("PutBucketLifecycleConfiguration", &name))?;
        retry(Policy::fresh(), "set log expiry", &notify, || async {
            s3.put_bucket_lifecycle_configuration()
                .bucket(&name)
                .lifecycle_configuration(config.clone())
                .send()
                .await
                .aws("PutBucketLifecycleConfiguration", &name)
        })
        .await?;
    }
    if all("policy") {
        let policy = log_bucket_policy(&name, account, &ctx.aws.region).to_string();
        retry(
            Policy::fresh(),
            "allow ELB log delivery",
            &notify,
            || async {
                s3.put_bucket_policy()
                    .bucket(&name)
                    .policy(&policy)
                    .send()
                    .await
                    .aws("PutBucketPolicy", &name)
            },
        )
        .await?;
    }
    Ok(name)
}

/// Creates a bucket in the client's region, with object ownership enforced (no ACLs); a
/// bucket already ours counts as created (a retried call whose answer was lost).
pub async fn create_bucket(aws: &Aws, name: &str, notify: &dyn Notify) -> Result<(), AwsError> {
    let mut config = CreateBucketConfiguration::builder();
    if aws.region != "us-east-1" {
        config = config.location_constraint(BucketLocationConstraint::from(aws.region.as_str()));
    }
    let config = config.build();
    retry(Policy::transient(), "create bucket", notify, || async {
        let mut req = aws
            .s3
            .create_bucket()
            .bucket(name)
            .object_ownership(ObjectOwnership::BucketOwnerEnforced);
        if aws.region != "us-east-1" {
            req = req.create_bucket_configuration(config.clone());
        }
        req.send().await.aws("CreateBucket", name)
    })
    .await
    .map(|_| ())
    .or_else(|e| {
        if e.is("BucketAlreadyOwnedByYou") {
            Ok(())
        } else {
            Err(e)
        }
    })
}

/// Turns on all four public-access blocks of a bucket.
pub async fn block_public_access(
    aws: &Aws,
    name: &str,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    retry(Policy::fresh(), "block public access", notify, || async {
        aws.s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block.clone())
            .send()
            .await
            .aws("PutPublicAccessBlock", name)
    })
    .await
    .map(|_| ())
}

/// Deletes every object version and delete marker, then the bucket; retries while the
/// load balancer's last log deliveries land.
pub async fn purge(ctx: &Ctx<'_>, name: &str) -> Result<(), AwsError> {
    let notify = ctx.notify(logical::LOG_BUCKET);
    retry(
        Policy::teardown(),
        "empty and delete the log bucket",
        &notify,
        || async {
            empty(ctx, name).await?;
            ctx.aws
                .s3
                .delete_bucket()
                .bucket(name)
                .send()
                .await
                .aws("DeleteBucket", name)
                .map(|_| ())
        },
    )
    .await
    .or_else(ignore_not_found)
}

async fn empty(ctx: &Ctx<'_>, name: &str) -> Result<(), AwsError> {
    let s3 = &ctx.aws.s3;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .aws("ListObjectVersions", name)?;
        let mut ids = Vec::new();
        for v in page.versions() {
            if let Some(key) = v.key() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(v.version_id().map(str::to_string))
                        .build()
                        .map_err(build_error("DeleteObjects", name))?,
                );
            }
        }
        for m in page.delete_markers() {
            if let Some(key) = m.key() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(m.version_id().map(str::to_string))
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
            .delete(delete)
            .send()
            .await
            .aws("DeleteObjects", name)?;
        if let Some(err) = out.errors().first() {
            let message = err
                .message()
                .unwrap_or("an object could not be deleted")
                .to_string();
            // A per-object failure is classified like a call's: "AccessDenied" will not go
            // away by retrying, "InternalError" or "SlowDown" will.
            let class = match err.code() {
                Some(code) => crate::aws::error::classify(Some(code), &message, None),
                None => ErrorClass::Transient,
            };
            return Err(AwsError {
                operation: "DeleteObjects",
                resource: format!("{name}/{}", err.key().unwrap_or("?")),
                code: err.code().map(str::to_string),
                message,
                status: None,
                class,
            });
        }
    }
}
