//! A public subnet of the stack's VPC, one per availability zone.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetSpec {
    pub vpc: Ref,
    pub cidr: String,
    pub availability_zone: String,
    pub tags: Tags,
}

impl KindFacts for SubnetSpec {
    const NAME: &'static str = "subnet";
    const RANK: u8 = 1;
    const REPLACE_ON: &'static [&'static str] = &["cidr", "availability_zone"];
    const NEVER_REPLACE: bool = true;
}

impl Describe for SubnetSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("vpc", self.vpc.to_string()),
            ("cidr", self.cidr.clone()),
            ("availability_zone", self.availability_zone.clone()),
            // Nothing in the stack needs a public address of its own: the load
            // balancer's nodes get theirs from ELB.
            ("map_public_ip", "false".to_string()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.vpc]
    }
}
