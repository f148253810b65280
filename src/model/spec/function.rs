//! A Lambda function, served through its `live` alias.

use std::collections::BTreeMap;

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::config::Architecture;
use crate::model::names::LIVE_ALIAS;
use crate::model::stack::{environment_prop, Tags, AWS_MANAGED_KEY};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The function's name in the config (`[[functions]] name`), which keys its build.
    pub config_name: String,
    pub name: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub role: Ref,
    /// Created first, so that Lambda writes into albkit's group.
    pub log_group: Ref,
    /// The variables Lambda sets; rendered by key and fingerprint, never by value.
    pub environment: BTreeMap<String, String>,
    pub kms_key_arn: Option<String>,
    /// Base64 SHA-256 of the zip, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    pub tags: Tags,
}

impl FunctionSpec {
    pub const RUNTIME: &'static str = "provided.al2023";
    pub const HANDLER: &'static str = "bootstrap";
}

impl KindFacts for FunctionSpec {
    const NAME: &'static str = "lambda-function";
    const RANK: u8 = 2;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for FunctionSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("runtime", Self::RUNTIME.to_string()),
            ("handler", Self::HANDLER.to_string()),
            ("architecture", self.architecture.as_str().to_string()),
            ("memory_mb", self.memory_mb.to_string()),
            ("timeout_seconds", self.timeout_seconds.to_string()),
            ("role", self.role.to_string()),
            ("environment", environment_prop(&self.environment)),
            (
                "kms_key",
                self.kms_key_arn
                    .clone()
                    .unwrap_or_else(|| AWS_MANAGED_KEY.to_string()),
            ),
            ("code_sha256", self.code_sha256.clone()),
            ("alias", format!("{LIVE_ALIAS} -> published version")),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.role, &mut self.log_group]
    }
}
