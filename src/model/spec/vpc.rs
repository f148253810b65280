//! The stack's own VPC.

use super::{tags, Describe, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcSpec {
    pub cidr: String,
    pub tags: Tags,
}

impl VpcSpec {
    /// DNS support and DNS hostnames, both on (an ALB needs them).
    pub const DNS: &'static str = "support+hostnames";
}

impl Describe for VpcSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("cidr", self.cidr.clone()),
            ("dns", Self::DNS.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn needs(&self) -> Vec<&LogicalId> {
        Vec::new()
    }
}
