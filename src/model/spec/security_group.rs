//! The load balancer's security group.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::sg_rule::{rules_prop, Rule};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupSpec {
    pub name: String,
    pub vpc: Ref,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    pub tags: Tags,
}

impl KindFacts for SecurityGroupSpec {
    const NAME: &'static str = "security-group";
    const RANK: u8 = 1;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for SecurityGroupSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("vpc", self.vpc.to_string()),
            ("ingress", rules_prop(&self.ingress)),
            ("egress", rules_prop(&self.egress)),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.vpc]
    }
}
