//! The association of the stack's web ACL with its load balancer: what puts the ACL in
//! front of the ALB. It has no id or tags of its own; its id is the load balancer's ARN,
//! which is what `DisassociateWebACL` takes.

use super::{Describe, KindFacts, LogicalId, Props, Ref};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAclAssociationSpec {
    pub web_acl: Ref,
    pub load_balancer: Ref,
}

impl KindFacts for WebAclAssociationSpec {
    const NAME: &'static str = "web-acl-association";
    // After the load balancer (3), so that `down` removes it before either side.
    const RANK: u8 = 4;
}

impl Describe for WebAclAssociationSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("web_acl", self.web_acl.to_string()),
            ("load_balancer", self.load_balancer.to_string()),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.web_acl, &mut self.load_balancer]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_the_web_acl_and_the_load_balancer() {
        let spec = WebAclAssociationSpec {
            web_acl: Ref::Stack(LogicalId::from("web-acl")),
            load_balancer: Ref::Stack(LogicalId::from("load-balancer")),
        };
        let spec = crate::model::spec::Spec::from(spec);
        assert_eq!(
            spec.needs(),
            vec![LogicalId::from("web-acl"), LogicalId::from("load-balancer")]
        );
    }
}
