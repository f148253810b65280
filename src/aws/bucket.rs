//! S3 calls shared by the access-log bucket and the lock bucket, each naming the bucket's
//! expected owner.
//!
//! S3 bucket names are global: a bucket under one of albkit's names may belong to another
//! account. Every call that accepts `ExpectedBucketOwner` sends the caller's account
//! (from STS), so S3 refuses such a bucket with 403 instead of answering, accepting a
//! write or deleting. `CreateBucket` does not take it: a name taken in another account
//! fails there with `BucketAlreadyExists`.
//!
//! moto 5.2.1 ignores `ExpectedBucketOwner` (it never answers 403 for it, whatever the
//! account id); the tests' proxy imitates S3's refusal for buckets it is told belong to
//! another account.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectOwnership,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use super::clients::Aws;
use super::error::{build_error, AwsError, AwsResultExt, ErrorClass};
use super::retry::{retry, Notify, Policy};
use crate::model::stack::Tags;

/// One bucket, addressed with its expected owner.
#[derive(Clone, Copy)]
pub(crate) struct Bucket<'a> {
    pub aws: &'a Aws,
    pub name: &'a str,
    /// The account that must own it: the caller's.
    pub owner: &'a str,
    /// Set by [`Bucket::create`]: created moments ago, S3 may not show it everywhere yet,
    /// so `NoSuchBucket` is retried. For a bucket that was there before, `NoSuchBucket`
    /// means it is gone (another stack's `down --purge-logs` removes the region's lock
    /// bucket) and is returned at once, for the caller to create it again.
    fresh: bool,
}

impl<'a> Bucket<'a> {
    /// A bucket this run has not created (yet).
    pub(crate) fn new(aws: &'a Aws, name: &'a str, owner: &'a str) -> Self {
        Self {
            aws,
            name,
            owner,
            fresh: false,
        }
    }

    /// Whether this run created it ([`Bucket::create`]).
    pub(crate) fn fresh(&self) -> bool {
        self.fresh
    }

    /// How calls that change the bucket's settings are retried.
    fn settle(&self) -> Policy {
        Policy {
            not_found: self.fresh,
            ..Policy::fresh()
        }
    }
}

/// S3 answered 403 to a call that named the expected owner: the bucket belongs to another
/// account (or, rarely, denies this account everything).
pub(crate) fn refused(e: &AwsError) -> bool {
    e.status == Some(403) || e.is("AccessDenied")
}

/// Why a bucket S3 refused with 403 is foreign.
pub(crate) fn other_account_reason(owner: &str) -> String {
    format!("it belongs to another AWS account: S3 answered 403 to a request that expects owner {owner} (bucket names are global)")
}

/// The error albkit returns instead of touching a bucket that is not its own.
pub(crate) fn foreign_error(operation: &'static str, bucket: &str, reason: &str) -> AwsError {
    AwsError {
        operation,
        resource: bucket.to_string(),
        code: Some("ForeignBucket".into()),
        message: format!("S3 bucket {bucket} is not albkit's and was left untouched: {reason}"),
        status: None,
        class: ErrorClass::Permanent,
    }
}

impl Bucket<'_> {
    /// Creates the bucket in the client's region, object ownership enforced (no ACLs); a
    /// bucket already ours counts as created (a retried call whose answer was lost).
    pub(crate) async fn create(&mut self, notify: &dyn Notify) -> Result<(), AwsError> {
        let (aws, name) = (self.aws, self.name);
        let mut config = CreateBucketConfiguration::builder();
        if aws.region != "us-east-1" {
            config =
                config.location_constraint(BucketLocationConstraint::from(aws.region.as_str()));
        }
        let config = config.build();
        let created = retry(Policy::transient(), "create bucket", notify, || async {
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
            } else if e.is("BucketAlreadyExists") {
                Err(foreign_error(
                    "CreateBucket",
                    name,
                    "the name is taken by a bucket of another AWS account (bucket names are global)",
                ))
            } else {
                Err(e)
            }
        });
        if created.is_ok() {
            self.fresh = true;
        }
        created
    }

    /// Replaces the bucket's tags.
    pub(crate) async fn put_tags(&self, tags: &Tags, notify: &dyn Notify) -> Result<(), AwsError> {
        let name = self.name;
        let set = tags
            .iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(build_error("PutBucketTagging", name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(build_error("PutBucketTagging", name))?;
        retry(self.settle(), "tag bucket", notify, || async {
            self.aws
                .s3
                .put_bucket_tagging()
                .bucket(name)
                .expected_bucket_owner(self.owner)
                .tagging(tagging.clone())
                .send()
                .await
                .aws("PutBucketTagging", name)
        })
        .await
        .map(|_| ())
    }

    /// Turns on all four public-access blocks.
    pub(crate) async fn block_public_access(&self, notify: &dyn Notify) -> Result<(), AwsError> {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        retry(self.settle(), "block public access", notify, || async {
            self.aws
                .s3
                .put_public_access_block()
                .bucket(self.name)
                .expected_bucket_owner(self.owner)
                .public_access_block_configuration(block.clone())
                .send()
                .await
                .aws("PutPublicAccessBlock", self.name)
        })
        .await
        .map(|_| ())
    }

    /// Default encryption with S3-managed keys (AES256).
    pub(crate) async fn encrypt(&self, notify: &dyn Notify) -> Result<(), AwsError> {
        let name = self.name;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(build_error("PutBucketEncryption", name))?;
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(build_error("PutBucketEncryption", name))?;
        retry(self.settle(), "encrypt bucket", notify, || async {
            self.aws
                .s3
                .put_bucket_encryption()
                .bucket(name)
                .expected_bucket_owner(self.owner)
                .server_side_encryption_configuration(config.clone())
                .send()
                .await
                .aws("PutBucketEncryption", name)
        })
        .await
        .map(|_| ())
    }

    /// Replaces the bucket policy.
    pub(crate) async fn put_policy(
        &self,
        policy: &str,
        what: &str,
        notify: &dyn Notify,
    ) -> Result<(), AwsError> {
        retry(self.settle(), what, notify, || async {
            self.aws
                .s3
                .put_bucket_policy()
                .bucket(self.name)
                .expected_bucket_owner(self.owner)
                .policy(policy)
                .send()
                .await
                .aws("PutBucketPolicy", self.name)
        })
        .await
        .map(|_| ())
    }

    /// The bucket's tags (none when it has no tag set).
    pub(crate) async fn tags(&self) -> Result<Tags, AwsError> {
        let out = self
            .aws
            .s3
            .get_bucket_tagging()
            .bucket(self.name)
            .expected_bucket_owner(self.owner)
            .send()
            .await
            .aws("GetBucketTagging", self.name);
        tags_of(out)
    }

    /// Whether the bucket holds any object version or delete marker (one page of one key).
    pub(crate) async fn holds_objects(&self) -> Result<bool, AwsError> {
        let out = self
            .aws
            .s3
            .list_object_versions()
            .bucket(self.name)
            .expected_bucket_owner(self.owner)
            .max_keys(1)
            .send()
            .await
            .aws("ListObjectVersions", self.name)?;
        Ok(!out.versions().is_empty() || !out.delete_markers().is_empty())
    }
}

/// The tags of a `GetBucketTagging` answer; a bucket without a tag set has none.
pub(crate) fn tags_of(
    out: Result<aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput, AwsError>,
) -> Result<Tags, AwsError> {
    match out {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) if e.is("NoSuchTagSet") || e.is("NoSuchTagSetError") => Ok(Tags::new()),
        Err(e) => Err(e),
    }
}
