//! The route table of the stack's subnets: a default route to the internet gateway.

use super::{join, tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableSpec {
    pub vpc: Ref,
    /// Where its default route goes; `None`: it has none.
    pub internet_gateway: Option<Ref>,
    /// Where its IPv6 default route (`::/0`) goes, for a dualstack load balancer. Only
    /// `Some` is managed.
    pub ipv6_gateway: Option<Ref>,
    /// The subnets associated with it.
    pub subnets: Vec<Ref>,
    pub tags: Tags,
}

impl RouteTableSpec {
    /// The destination of its IPv4 route.
    pub const DEFAULT_ROUTE: &'static str = "0.0.0.0/0";
    /// The destination of its IPv6 route.
    pub const DEFAULT_IPV6_ROUTE: &'static str = "::/0";
}

impl KindFacts for RouteTableSpec {
    const NAME: &'static str = "route-table";
    const RANK: u8 = 2;
}

impl Describe for RouteTableSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let mut props = vec![
            ("vpc", self.vpc.to_string()),
            (
                "routes",
                self.internet_gateway
                    .as_ref()
                    .map(|g| format!("{} -> {g}", Self::DEFAULT_ROUTE))
                    .unwrap_or_default(),
            ),
            ("associations", join(&self.subnets)),
            ("tags", tags(&self.tags)),
        ];
        if let Some(g) = &self.ipv6_gateway {
            let route = format!("{} -> {g}", Self::DEFAULT_IPV6_ROUTE);
            props.insert(2, ("ipv6_routes", route));
        }
        props
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let refs = [&mut self.vpc]
            .into_iter()
            .chain(&mut self.internet_gateway)
            .chain(&mut self.ipv6_gateway);
        refs.chain(&mut self.subnets).collect()
    }
}
