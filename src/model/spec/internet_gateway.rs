//! The internet gateway of the stack's VPC.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGatewaySpec {
    pub vpc: Ref,
    pub tags: Tags,
}

impl KindFacts for InternetGatewaySpec {
    const NAME: &'static str = "internet-gateway";
    const RANK: u8 = 1;
}

impl Describe for InternetGatewaySpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("attached_to", self.vpc.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.vpc]
    }
}
