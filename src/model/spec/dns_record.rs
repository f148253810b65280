//! An alias record for `[https] domain` in the configured hosted zone.

use super::{Describe, KindFacts, LogicalId, Props, Ref};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecordSpec {
    pub zone: String,
    pub name: String,
    /// `A` or `AAAA`.
    pub record_type: &'static str,
    /// The load balancer it points at.
    pub alias: Ref,
}

impl KindFacts for DnsRecordSpec {
    const NAME: &'static str = "dns-record";
    const RANK: u8 = 5;
}

impl Describe for DnsRecordSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        // Route 53 records carry no tags: ownership is the alias target.
        vec![
            ("zone", self.zone.clone()),
            ("name", self.name.clone()),
            ("type", self.record_type.to_string()),
            ("alias", self.alias.to_string()),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.alias]
    }
}
