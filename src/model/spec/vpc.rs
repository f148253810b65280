//! The stack's own VPC.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcSpec {
    pub cidr: String,
    /// With an Amazon-provided IPv6 /56 (for a dualstack load balancer). Only `true`
    /// is managed: a block found on the VPC of an IPv4 stack stays (docs/dualstack.md).
    pub ipv6: bool,
    pub tags: Tags,
}

impl VpcSpec {
    /// DNS support and DNS hostnames, both on (an ALB needs them).
    pub const DNS: &'static str = "support+hostnames";
    /// How its IPv6 block shows in plans.
    pub const IPV6: &'static str = "amazon-provided /56";
}

impl KindFacts for VpcSpec {
    const NAME: &'static str = "vpc";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["cidr"];
    const NEVER_REPLACE: bool = true;
}

impl Describe for VpcSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let mut props = vec![
            ("cidr", self.cidr.clone()),
            ("dns", Self::DNS.to_string()),
            ("tags", tags(&self.tags)),
        ];
        if self.ipv6 {
            props.insert(1, ("ipv6", Self::IPV6.to_string()));
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv6_block_is_shown_only_when_wanted() {
        let mut vpc = VpcSpec {
            cidr: "10.0.0.0/16".into(),
            ipv6: false,
            tags: Tags::new(),
        };
        let id = LogicalId::from("vpc");
        assert!(vpc.render(&id).iter().all(|(k, _)| *k != "ipv6"));
        vpc.ipv6 = true;
        assert!(vpc
            .render(&id)
            .contains(&("ipv6", "amazon-provided /56".to_string())));
    }
}
