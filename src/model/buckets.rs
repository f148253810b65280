//! Whose a bucket found under one of albkit's S3 names is, and what albkit's lock bucket
//! must look like: the pure rules behind the access-log bucket and the lock bucket.
//!
//! S3 cannot tag a bucket in `CreateBucket`: a run interrupted between `CreateBucket` and
//! `PutBucketTagging` leaves an untagged bucket. albkit tags its buckets right after
//! creating them and writes nothing into them before (and ELB delivers no log before the
//! bucket policy, which comes after the tags), so such a bucket is empty. The rule:
//! - tagged as albkit's: albkit's;
//! - tagged, but not as albkit's: foreign;
//! - untagged and empty (no object version, no delete marker): adopted, since that is
//!   exactly what an interrupted run leaves and taking it can lose nothing; albkit tags it;
//! - untagged and holding objects: foreign; never written to, emptied or deleted.
//!
//! A bucket of another AWS account (S3 names are global) is refused by S3 itself: every
//! call names the expected owner (see `aws::bucket`).

use super::stack::{partition, Tags};

/// Tag key that marks the lock bucket as albkit's (the bucket belongs to no one stack).
pub const TAG_PURPOSE: &str = "albkit:purpose";
/// The value of [`TAG_PURPOSE`] on the lock bucket.
pub const LOCK_BUCKET_PURPOSE: &str = "stack-locks";

/// What the tags of a bucket under albkit's name say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// It carries the proof: `key` = `value`.
    Ours,
    /// No tags at all: albkit's only while empty (see [`untagged`]).
    Untagged,
    /// Tagged, without the proof: not albkit's, and why.
    Foreign(String),
}

/// Reads the proof of ownership (`key` = `value`) in a bucket's tags.
pub fn by_tags(tags: &Tags, key: &str, value: &str) -> Claim {
    match tags.get(key) {
        Some(v) if v == value => Claim::Ours,
        Some(other) => Claim::Foreign(format!("its {key} tag is {other:?}, not {value:?}")),
        None if tags.is_empty() => Claim::Untagged,
        None => Claim::Foreign(format!("it has tags, but no {key} tag")),
    }
}

/// An untagged bucket: `Ok` (adopt it) when it holds nothing, else why it is foreign.
pub fn untagged(holds_objects: bool, key: &str, value: &str) -> Result<(), String> {
    if holds_objects {
        Err(format!(
            "it has no {key}={value} tag and holds objects, so albkit did not create it: a bucket albkit created but had not tagged yet would be empty"
        ))
    } else {
        Ok(())
    }
}

/// The tags of the lock bucket.
pub fn lock_bucket_tags() -> Tags {
    Tags::from([(TAG_PURPOSE.to_string(), LOCK_BUCKET_PURPOSE.to_string())])
}

/// Sid of the lock bucket's TLS-only statement.
pub const DENY_PLAIN_HTTP_SID: &str = "AlbkitDenyInsecureTransport";

/// The lock bucket's TLS-only statement: every request over plain HTTP is denied.
///
/// The action is spelt `S3:*`: IAM action names are case-insensitive, so on AWS this is
/// `s3:*` exactly; moto (5.2.1), which ignores the condition and would deny every
/// request, matches actions case-sensitively and so leaves the lock usable against it.
/// The log bucket's statement keeps `s3:*`: albkit writes no object there, and the
/// tests' proxy lifts its policy where the log delivery and the purge need it.
pub fn deny_plain_http(bucket: &str, region: &str) -> serde_json::Value {
    let partition = partition(region);
    serde_json::json!({
        "Sid": DENY_PLAIN_HTTP_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "S3:*",
        "Resource": [
            format!("arn:{partition}:s3:::{bucket}"),
            format!("arn:{partition}:s3:::{bucket}/*"),
        ],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })
}

/// Whether `statement` denies every plain-HTTP request on `bucket` and its objects.
pub fn is_plain_http_deny(statement: &serde_json::Value, bucket: &str, region: &str) -> bool {
    let partition = partition(region);
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let everyone = match &statement["Principal"] {
        serde_json::Value::String(s) => s == "*",
        other => list(&other["AWS"]) == ["*"],
    };
    let actions = list(&statement["Action"]);
    let resources = list(&statement["Resource"]);
    let secure = &statement["Condition"]["Bool"]["aws:SecureTransport"];
    statement["Effect"] == "Deny"
        && everyone
        && actions.iter().any(|a| a.eq_ignore_ascii_case("s3:*"))
        && resources.contains(&format!("arn:{partition}:s3:::{bucket}"))
        && resources.contains(&format!("arn:{partition}:s3:::{bucket}/*"))
        && (secure == "false" || secure == &serde_json::Value::Bool(false))
}

/// The lock bucket's policy: `existing` (another statement someone added is kept) with
/// the TLS-only statement added, or replacing an older statement of the same Sid.
pub fn lock_bucket_policy(
    existing: Option<&serde_json::Value>,
    bucket: &str,
    region: &str,
) -> serde_json::Value {
    let mut statements: Vec<serde_json::Value> = existing
        .and_then(|p| match &p["Statement"] {
            serde_json::Value::Array(items) => Some(items.clone()),
            serde_json::Value::Object(_) => Some(vec![p["Statement"].clone()]),
            _ => None,
        })
        .unwrap_or_default();
    statements.retain(|s| s["Sid"] != DENY_PLAIN_HTTP_SID);
    statements.push(deny_plain_http(bucket, region));
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The settings of a lock bucket as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockBucketSettings {
    /// Tagged [`TAG_PURPOSE`] = [`LOCK_BUCKET_PURPOSE`].
    pub tagged: bool,
    /// All four public-access blocks on.
    pub public_access_blocked: bool,
    /// Default encryption configured.
    pub encrypted: bool,
    /// Its policy (when any), parsed.
    pub policy: Option<serde_json::Value>,
}

/// Something a lock bucket albkit owns lacks, and albkit sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    Tag,
    BlockPublicAccess,
    Encrypt,
    DenyPlainHttp,
}

impl Fix {
    pub fn describe(self) -> &'static str {
        match self {
            Fix::Tag => "its albkit:purpose tag",
            Fix::BlockPublicAccess => "public access blocked",
            Fix::Encrypt => "default encryption",
            Fix::DenyPlainHttp => "the TLS-only bucket policy",
        }
    }

    /// Every setting: what a new lock bucket gets.
    pub const ALL: [Fix; 4] = [
        Fix::Tag,
        Fix::BlockPublicAccess,
        Fix::Encrypt,
        Fix::DenyPlainHttp,
    ];
}

/// What a lock bucket albkit owns lacks.
pub fn lock_bucket_fixes(s: &LockBucketSettings, bucket: &str, region: &str) -> Vec<Fix> {
    let tls_only = s.policy.as_ref().is_some_and(|p| {
        let statements = match &p["Statement"] {
            serde_json::Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        statements
            .iter()
            .any(|st| is_plain_http_deny(st, bucket, region))
    });
    [
        (!s.tagged).then_some(Fix::Tag),
        (!s.public_access_blocked).then_some(Fix::BlockPublicAccess),
        (!s.encrypted).then_some(Fix::Encrypt),
        (!tls_only).then_some(Fix::DenyPlainHttp),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::TAG_STACK;

    const BUCKET: &str = "albkit-locks-123456789012-eu-west-1";
    const REGION: &str = "eu-west-1";

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        crate::model::stack::tags_from(pairs)
    }

    #[test]
    fn tags_prove_ownership_only_with_the_exact_value() {
        assert_eq!(
            by_tags(&tags(&[(TAG_STACK, "shop")]), TAG_STACK, "shop"),
            Claim::Ours
        );
        assert!(matches!(
            by_tags(&tags(&[(TAG_STACK, "shop-api")]), TAG_STACK, "shop"),
            Claim::Foreign(r) if r.contains("\"shop-api\"")
        ));
        assert!(matches!(
            by_tags(&tags(&[("team", "web")]), TAG_STACK, "shop"),
            Claim::Foreign(r) if r.contains("no albkit:stack tag")
        ));
        assert_eq!(by_tags(&Tags::new(), TAG_STACK, "shop"), Claim::Untagged);
    }

    #[test]
    fn an_untagged_bucket_is_adopted_only_while_empty() {
        assert_eq!(untagged(false, TAG_STACK, "shop"), Ok(()));
        let reason = untagged(true, TAG_STACK, "shop").unwrap_err();
        assert!(reason.contains("holds objects"), "{reason}");
        assert!(reason.contains("albkit:stack=shop"), "{reason}");
    }

    #[test]
    fn a_new_lock_bucket_policy_denies_plain_http_on_the_bucket_and_its_objects() {
        let policy = lock_bucket_policy(None, BUCKET, REGION);
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        assert!(is_plain_http_deny(&statements[0], BUCKET, REGION));
        // Not for another bucket.
        assert!(!is_plain_http_deny(&statements[0], "other", REGION));
    }

    #[test]
    fn the_tls_statement_is_added_to_a_policy_and_replaces_its_older_self() {
        let existing = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Audit", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject", "Resource": "*"},
                {"Sid": DENY_PLAIN_HTTP_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
            ]
        });
        let merged = lock_bucket_policy(Some(&existing), BUCKET, REGION);
        let statements = merged["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2, "{merged}");
        assert_eq!(statements[0]["Sid"], "Audit");
        assert!(is_plain_http_deny(&statements[1], BUCKET, REGION));
    }

    #[test]
    fn weaker_statements_do_not_count_as_tls_only() {
        let good = deny_plain_http(BUCKET, REGION);
        let mut allow = good.clone();
        allow["Effect"] = "Allow".into();
        let mut objects_only = good.clone();
        objects_only["Resource"] = format!("arn:aws:s3:::{BUCKET}/*").into();
        let mut some_principal = good.clone();
        some_principal["Principal"] = serde_json::json!({"AWS": "arn:aws:iam::1:root"});
        let mut one_action = good.clone();
        one_action["Action"] = "s3:GetObject".into();
        for weak in [allow, objects_only, some_principal, one_action] {
            assert!(!is_plain_http_deny(&weak, BUCKET, REGION), "{weak}");
        }
        let mut lower = good;
        lower["Action"] = "s3:*".into();
        lower["Principal"] = serde_json::json!({"AWS": "*"});
        assert!(is_plain_http_deny(&lower, BUCKET, REGION));
    }

    #[test]
    fn fixes_name_exactly_what_is_missing() {
        let complete = LockBucketSettings {
            tagged: true,
            public_access_blocked: true,
            encrypted: true,
            policy: Some(lock_bucket_policy(None, BUCKET, REGION)),
        };
        assert!(lock_bucket_fixes(&complete, BUCKET, REGION).is_empty());
        assert_eq!(
            lock_bucket_fixes(&LockBucketSettings::default(), BUCKET, REGION),
            Fix::ALL.to_vec()
        );
        let no_policy = LockBucketSettings {
            policy: None,
            ..complete.clone()
        };
        assert_eq!(
            lock_bucket_fixes(&no_policy, BUCKET, REGION),
            vec![Fix::DenyPlainHttp]
        );
        let open = LockBucketSettings {
            public_access_blocked: false,
            ..complete
        };
        assert_eq!(
            lock_bucket_fixes(&open, BUCKET, REGION),
            vec![Fix::BlockPublicAccess]
        );
    }
}
