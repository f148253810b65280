//! The Application Load Balancer.

use super::{join, tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::config::{IpAddressType, Scheme};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerSpec {
    pub name: String,
    pub scheme: Scheme,
    /// `ipv4`, or `dualstack` (IPv6 too).
    pub ip_address_type: IpAddressType,
    pub subnets: Vec<Ref>,
    pub security_groups: Vec<Ref>,
    /// `(bucket, prefix)` of the access logs, when they are on.
    pub access_logs: Option<(String, String)>,
    /// The log bucket of the stack, which must exist (with its policy) before the load
    /// balancer is told to write to it.
    pub log_bucket: Option<Ref>,
    /// The stack's route table: the subnets only reach the internet once it is there.
    pub route_table: Option<Ref>,
    pub idle_timeout_seconds: u32,
    pub deletion_protection: bool,
    pub tags: Tags,
}

impl LoadBalancerSpec {
    /// The `access_logs` property.
    pub fn access_logs_prop(&self) -> String {
        match &self.access_logs {
            Some((bucket, prefix)) => format!("s3://{bucket}/{prefix}"),
            None => "disabled".to_string(),
        }
    }
}

impl KindFacts for LoadBalancerSpec {
    const NAME: &'static str = "load-balancer";
    const RANK: u8 = 3;
    const REPLACE_ON: &'static [&'static str] = &["name", "scheme"];
}

impl Describe for LoadBalancerSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("scheme", self.scheme.as_str().to_string()),
            ("ip_address_type", self.ip_address_type.as_str().to_string()),
            ("subnets", join(&self.subnets)),
            ("security_groups", join(&self.security_groups)),
            ("access_logs", self.access_logs_prop()),
            ("idle_timeout", self.idle_timeout_seconds.to_string()),
            ("deletion_protection", self.deletion_protection.to_string()),
            // Requests with header fields that are not valid HTTP never reach the function.
            ("drop_invalid_header_fields", "true".to_string()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let refs = self.subnets.iter_mut().chain(&mut self.security_groups);
        refs.chain(&mut self.log_bucket)
            .chain(&mut self.route_table)
            .collect()
    }
}
