//! The region's lock bucket (`albkit-locks-<account>-<region>`, shared by every stack of
//! the account): created with public access blocked, default encryption, a policy that
//! denies plain HTTP, and the tag `albkit:purpose=stack-locks`.
//!
//! An existing bucket under that name is albkit's when so tagged, or untagged and empty
//! (a creation interrupted before its tags, or a bucket of an albkit that did not tag
//! it); albkit then gives it whatever of those settings it lacks before writing a lock.
//! Any other bucket there (another account's, one tagged otherwise, one untagged that
//! holds objects) is never written to: taking a lock fails and names it.
//!
//! Where the check runs, so that the lock's fast path stays one `PutObject`: `plan` and
//! `up` read the bucket beside the stack (no round trip of its own) and `up` hands what
//! it found to the lock; `down`, which locks before it reads anything, reads it first
//! (one round trip); `unlock` reads it beside the lock object.

use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput;

use super::bucket::{foreign_error, other_account_reason, refused, tags_of, Bucket};
use super::clients::Aws;
use super::error::{AwsError, AwsResultExt};
use super::retry::Notify;
use crate::model::buckets::{
    by_tags, lock_bucket_fixes, lock_bucket_policy, lock_bucket_tags, untagged, Claim, Fix,
    LockBucketSettings, LOCK_BUCKET_PURPOSE, TAG_PURPOSE,
};

/// What a bucket albkit owns lacks, for people; `None` when it lacks nothing.
pub(crate) fn lacking(state: &State) -> Option<String> {
    match state {
        State::Usable(fixes) if !fixes.is_empty() => Some(
            fixes
                .iter()
                .map(|f| f.describe())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// What albkit found under the lock bucket's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// No bucket: the first lock creates it.
    Absent,
    /// albkit's; what it lacks (nothing, usually).
    Usable(Vec<Fix>),
    /// Not albkit's, and why.
    Foreign {
        reason: String,
        /// It is another account's (S3 refused the expected owner).
        other_account: bool,
    },
}

/// Reads the bucket: its tags and settings in one round trip (and, only when it has no
/// tags, a second one to see whether it is empty).
pub(crate) async fn inspect(aws: &Aws, name: &str, owner: &str) -> Result<State, AwsError> {
    // Each read names the bucket and the account that must own it.
    macro_rules! get {
        ($operation:ident) => {
            aws.s3
                .$operation()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
        };
    }
    let (tagging, pab, enc, policy) = tokio::join!(
        async { get!(get_bucket_tagging).await.aws("GetBucketTagging", name) },
        get!(get_public_access_block),
        get!(get_bucket_encryption),
        get!(get_bucket_policy),
    );
    let tagged = match claim(&Bucket::new(aws, name, owner), tagging).await? {
        Ok(tagged) => tagged,
        Err(state) => return Ok(state),
    };
    let settings = LockBucketSettings {
        tagged,
        public_access_blocked: optional(pab.aws("GetPublicAccessBlock", name))?
            .as_ref()
            .and_then(|p| p.public_access_block_configuration())
            .is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
        encrypted: optional(enc.aws("GetBucketEncryption", name))?
            .as_ref()
            .and_then(|e| e.server_side_encryption_configuration())
            .is_some_and(|c| !c.rules().is_empty()),
        policy: optional(policy.aws("GetBucketPolicy", name))?
            .as_ref()
            .and_then(|p| p.policy())
            .and_then(|p| serde_json::from_str(p).ok()),
    };
    Ok(State::Usable(lock_bucket_fixes(
        &settings,
        name,
        &aws.region,
    )))
}

/// Whether the bucket is albkit's, from its `tagging` (and, when it has no tags,
/// whether it holds objects): `Ok(tagged)` when it is, otherwise `Err` with what it is
/// (absent or foreign).
async fn claim(
    bucket: &Bucket<'_>,
    tagging: Result<GetBucketTaggingOutput, AwsError>,
) -> Result<Result<bool, State>, AwsError> {
    let foreign = |reason, other_account| {
        Ok(Err(State::Foreign {
            reason,
            other_account,
        }))
    };
    let tags = match tags_of(tagging) {
        Ok(tags) => tags,
        Err(e) if e.is("NoSuchBucket") => return Ok(Err(State::Absent)),
        Err(e) if refused(&e) => return foreign(other_account_reason(bucket.owner), true),
        Err(e) => return Err(e),
    };
    match by_tags(&tags, TAG_PURPOSE, LOCK_BUCKET_PURPOSE) {
        Claim::Ours => Ok(Ok(true)),
        Claim::Untagged => {
            match untagged(
                bucket.holds_objects().await?,
                TAG_PURPOSE,
                LOCK_BUCKET_PURPOSE,
            ) {
                Ok(()) => Ok(Ok(false)),
                Err(reason) => foreign(reason, false),
            }
        }
        Claim::Foreign(reason) => foreign(reason, false),
    }
}

/// A setting that is not there (404) is `None`.
fn optional<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.not_found() || e.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the bucket ready for locks: creates it when absent, sets what it lacks, and
/// refuses a foreign one (an error naming the bucket, nothing written).
pub(crate) async fn prepare(
    aws: &Aws,
    name: &str,
    owner: &str,
    state: &State,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let mut bucket = Bucket::new(aws, name, owner);
    let fixes = match state {
        State::Foreign { reason, .. } => return Err(foreign_error("PutObject", name, reason)),
        State::Usable(fixes) if fixes.is_empty() => return Ok(()),
        State::Usable(fixes) => fixes.clone(),
        State::Absent => {
            bucket.create(notify).await?;
            Fix::ALL.to_vec()
        }
    };
    // The tag first: it is what makes the bucket recognisably albkit's. The other
    // settings are independent of each other and go at once.
    if fixes.contains(&Fix::Tag) {
        bucket.put_tags(&lock_bucket_tags(), notify).await?;
    }
    let bucket = &bucket;
    let settings = fixes
        .iter()
        .filter(|f| **f != Fix::Tag)
        .map(|fix| async move {
            match fix {
                Fix::Tag => Ok(()),
                Fix::BlockPublicAccess => bucket.block_public_access(notify).await,
                Fix::Encrypt => bucket.encrypt(notify).await,
                Fix::DenyPlainHttp => {
                    // Statements someone added to a bucket albkit owns are kept.
                    let existing = if bucket.fresh() {
                        None
                    } else {
                        existing_policy(bucket).await?
                    };
                    let policy = lock_bucket_policy(existing.as_ref(), name, &aws.region);
                    bucket
                        .put_policy(&policy.to_string(), "deny plain HTTP", notify)
                        .await
                }
            }
        });
    futures::future::try_join_all(settings).await?;
    Ok(())
}

async fn existing_policy(bucket: &Bucket<'_>) -> Result<Option<serde_json::Value>, AwsError> {
    let name = bucket.name;
    match bucket
        .aws
        .s3
        .get_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(bucket.owner)
        .send()
        .await
        .aws("GetBucketPolicy", name)
    {
        Ok(out) => Ok(out.policy().and_then(|p| serde_json::from_str(p).ok())),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
