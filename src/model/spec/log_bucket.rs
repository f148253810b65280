//! The S3 bucket the load balancer writes its access logs to.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBucketSpec {
    pub name: String,
    /// Objects expire after this many days.
    pub retention_days: u32,
    /// The bucket policy: ELB's log delivery may write, nothing over plain HTTP.
    pub policy: serde_json::Value,
    pub tags: Tags,
}

impl LogBucketSpec {
    pub const ENCRYPTION: &'static str = "AES256";
    pub const OWNERSHIP: &'static str = "BucketOwnerEnforced";
}

impl KindFacts for LogBucketSpec {
    const NAME: &'static str = "s3-bucket";
    const RANK: u8 = 0;
    const HOLDS_LOGS: bool = true;
}

impl Describe for LogBucketSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("public_access", "all blocked".to_string()),
            ("encryption", Self::ENCRYPTION.to_string()),
            ("ownership", Self::OWNERSHIP.to_string()),
            (
                "lifecycle",
                format!("expire after {} days", self.retention_days),
            ),
            ("policy", self.policy.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }
}
