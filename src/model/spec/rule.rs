//! A listener rule: a route of a function.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub listener: LogicalId,
    pub priority: u32,
    /// Path patterns, host headers and methods: AND between the three, OR inside one;
    /// an empty list is no condition.
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    pub methods: Vec<String>,
    /// Where a match goes.
    pub target_group: LogicalId,
    pub tags: Tags,
}

impl RuleSpec {
    /// The `conditions` property, in ALB's evaluation terms.
    pub fn conditions_prop(paths: &[String], hosts: &[String], methods: &[String]) -> String {
        let mut parts = Vec::new();
        for (field, values) in [
            ("path-pattern", paths),
            ("host-header", hosts),
            ("http-request-method", methods),
        ] {
            if !values.is_empty() {
                parts.push(format!("{field} in [{}]", values.join(", ")));
            }
        }
        parts.join(" and ")
    }

    /// The `action` property.
    pub fn forward_prop(target_group: &str) -> String {
        format!("forward -> {target_group}")
    }
}

impl KindFacts for RuleSpec {
    const NAME: &'static str = "listener-rule";
    const RANK: u8 = 5;
    const REPLACE_ON: &'static [&'static str] = &["listener"];
}

impl Describe for RuleSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("listener", self.listener.to_string()),
            ("priority", self.priority.to_string()),
            (
                "conditions",
                Self::conditions_prop(&self.paths, &self.hosts, &self.methods),
            ),
            ("action", Self::forward_prop(self.target_group.as_str())),
            ("tags", tags(&self.tags)),
        ]
    }

    fn needs(&self) -> Vec<&LogicalId> {
        vec![&self.listener, &self.target_group]
    }
}
