//! A public subnet of the stack's VPC, one per availability zone.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetSpec {
    pub vpc: Ref,
    pub cidr: String,
    pub availability_zone: String,
    /// Which /64 of the VPC's IPv6 /56 it has, for a dualstack load balancer (the
    /// 8 bits after the /56: `2001:db8:0:ab<index>::/64`). Only `Some` is managed.
    pub ipv6: Option<u8>,
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
        let mut props = vec![
            ("vpc", self.vpc.to_string()),
            ("cidr", self.cidr.clone()),
            ("availability_zone", self.availability_zone.clone()),
            // Nothing in the stack needs a public address of its own: the load
            // balancer's nodes get theirs from ELB.
            ("map_public_ip", "false".to_string()),
            ("tags", tags(&self.tags)),
        ];
        if let Some(index) = self.ipv6 {
            props.insert(2, ("ipv6", format!("/64 #{index} of the VPC's /56")));
        }
        props
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.vpc]
    }
}

/// The `index`-th /64 of a VPC's IPv6 `/56` block (`2001:db8:0:ab00::/56`, 3 →
/// `2001:db8:0:ab03::/64`); `None` when `vpc_block` is not an IPv6 /56.
pub fn ipv6_block(vpc_block: &str, index: u8) -> Option<String> {
    let (addr, prefix) = vpc_block.split_once('/')?;
    if prefix != "56" {
        return None;
    }
    let base = u128::from(addr.parse::<std::net::Ipv6Addr>().ok()?);
    // A /64 is the top 64 bits; the index takes the 8 bits right after the /56.
    let block = (base & !((1u128 << 72) - 1)) | (u128::from(index) << 64);
    Some(format!("{}/64", std::net::Ipv6Addr::from(block)))
}

/// Which /64 of its VPC's /56 a subnet's IPv6 block is: the 8 bits after the /56.
pub fn ipv6_index(subnet_block: &str) -> Option<u8> {
    let (addr, prefix) = subnet_block.split_once('/')?;
    if prefix != "64" {
        return None;
    }
    let bits = u128::from(addr.parse::<std::net::Ipv6Addr>().ok()?);
    u8::try_from((bits >> 64) & 0xff).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_gets_the_indexed_64_of_the_vpcs_56() {
        let vpc = "2400:6500:9697:7400::/56";
        assert_eq!(
            ipv6_block(vpc, 1).as_deref(),
            Some("2400:6500:9697:7401::/64")
        );
        assert_eq!(
            ipv6_block(vpc, 255).as_deref(),
            Some("2400:6500:9697:74ff::/64")
        );
        // Host bits in the VPC's block are ignored, as AWS never sets them.
        assert_eq!(
            ipv6_block("2400:6500:9697:7400::1/56", 2).as_deref(),
            Some("2400:6500:9697:7402::/64")
        );
        assert_eq!(ipv6_block("2400:6500:9697:7400::/64", 1), None);
        assert_eq!(ipv6_block("10.0.0.0/16", 1), None);
        assert_eq!(ipv6_index("2400:6500:9697:7402::/64"), Some(2));
        assert_eq!(ipv6_index("2400:6500:9697:7402::/56"), None);
        for i in [0, 1, 7, 255] {
            assert_eq!(ipv6_block(vpc, i).and_then(|b| ipv6_index(&b)), Some(i));
        }
    }

    #[test]
    fn the_ipv6_block_is_shown_only_when_wanted() {
        let mut subnet = SubnetSpec {
            vpc: Ref::Stack(LogicalId::from("vpc")),
            cidr: "10.0.0.0/20".into(),
            availability_zone: "us-east-1a".into(),
            ipv6: None,
            tags: Tags::new(),
        };
        let id = LogicalId::from("subnet/1");
        assert!(subnet.render(&id).iter().all(|(k, _)| *k != "ipv6"));
        subnet.ipv6 = Some(1);
        assert!(subnet
            .render(&id)
            .contains(&("ipv6", "/64 #1 of the VPC's /56".to_string())));
    }
}
