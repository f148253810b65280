//! The route table of the stack's subnets: a default route to the internet gateway.

use super::{join, tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableSpec {
    pub vpc: LogicalId,
    pub internet_gateway: LogicalId,
    /// The subnets associated with it.
    pub subnets: Vec<LogicalId>,
    pub tags: Tags,
}

impl RouteTableSpec {
    /// The destination of its one route.
    pub const DEFAULT_ROUTE: &'static str = "0.0.0.0/0";
}

impl KindFacts for RouteTableSpec {
    const NAME: &'static str = "route-table";
    const RANK: u8 = 2;
}

impl Describe for RouteTableSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("vpc", self.vpc.to_string()),
            (
                "routes",
                format!("{} -> {}", Self::DEFAULT_ROUTE, self.internet_gateway),
            ),
            ("associations", join(&self.subnets)),
            ("tags", tags(&self.tags)),
        ]
    }

    fn needs(&self) -> Vec<&LogicalId> {
        let mut needs = vec![&self.vpc, &self.internet_gateway];
        needs.extend(&self.subnets);
        needs
    }
}
