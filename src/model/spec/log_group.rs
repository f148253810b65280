//! A function's CloudWatch log group, created ahead of Lambda so albkit owns its
//! retention and tags.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupSpec {
    pub name: String,
    pub retention_days: u32,
    pub tags: Tags,
}

impl KindFacts for LogGroupSpec {
    const NAME: &'static str = "log-group";
    const RANK: u8 = 1;
    const REPLACE_ON: &'static [&'static str] = &["name"];
    const HOLDS_LOGS: bool = true;
}

impl Describe for LogGroupSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("retention_days", self.retention_days.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }
}
