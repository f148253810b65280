//! A function's execution role.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::role_policy::{inline_prop, EXECUTION_POLICY_NAME};
use crate::model::stack::{Tags, NO_POLICIES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    pub name: String,
    /// The inline policy `albkit-execution`: logs, and what `secrets`/`kms_key_arn` need.
    pub execution_policy: serde_json::Value,
    pub permissions_boundary: Option<String>,
    pub tags: Tags,
}

impl RoleSpec {
    /// The one service that may assume it.
    pub const TRUSTED: &'static str = "lambda.amazonaws.com";

    /// Its inline policies, by name.
    pub fn inline_policies(&self) -> Vec<(String, serde_json::Value)> {
        vec![(
            EXECUTION_POLICY_NAME.to_string(),
            self.execution_policy.clone(),
        )]
    }
}

impl KindFacts for RoleSpec {
    const NAME: &'static str = "iam-role";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for RoleSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("trust", Self::TRUSTED.to_string()),
            // No managed policy: earlier versions' one is detached.
            ("policies", NO_POLICIES.to_string()),
            ("inline_policies", inline_prop(&self.inline_policies())),
            (
                "permissions_boundary",
                self.permissions_boundary
                    .clone()
                    .unwrap_or_else(|| NO_POLICIES.to_string()),
            ),
            ("tags", tags(&self.tags)),
        ]
    }
}
