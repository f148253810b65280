//! The stack's own VPC.

use super::{tags, Describe, KindFacts, LogicalId, Props};
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

impl KindFacts for VpcSpec {
    const NAME: &'static str = "vpc";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["cidr"];
    const NEVER_REPLACE: bool = true;
}

impl Describe for VpcSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("cidr", self.cidr.clone()),
            ("dns", Self::DNS.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }
}
