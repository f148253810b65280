//! A listener rule: a route of a function.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub listener: Ref,
    pub priority: u32,
    /// Path patterns, host headers and methods: AND between the three, OR inside one;
    /// an empty list is no condition.
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    pub methods: Vec<String>,
    /// Where a match goes.
    pub target_group: Ref,
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
            ("action", format!("forward -> {}", self.target_group)),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.listener, &mut self.target_group]
    }
}
