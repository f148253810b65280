//! The internet gateway of the stack's VPC.

use super::{tags, Describe, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGatewaySpec {
    pub vpc: LogicalId,
    pub tags: Tags,
}

impl Describe for InternetGatewaySpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("attached_to", self.vpc.to_string()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn needs(&self) -> Vec<&LogicalId> {
        vec![&self.vpc]
    }
}
