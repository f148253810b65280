//! A function's provisioned concurrency (`[[functions]] provisioned_concurrency`):
//! execution environments Lambda keeps initialized for the `live` alias, the qualifier
//! the load balancer invokes, so that requests up to that concurrency meet no cold
//! start. It is billed for as long as it is configured, so it is part of the stack only
//! while the config sets it; when the key goes, the configuration goes too.

use super::{Describe, KindFacts, LogicalId, Props, Ref};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionProvisionedSpec {
    /// The function whose `live` alias gets the environments.
    pub function: Ref,
    /// The function's reserved concurrency, when the config sets one: set first, because
    /// Lambda refuses provisioned concurrency above the reservation (a raised
    /// reservation makes room). An ordering edge only: not a property of this resource,
    /// so neither rendered nor read back by discovery.
    pub reservation: Option<Ref>,
    /// Environments requested (at least 1).
    pub provisioned: u32,
}

impl KindFacts for FunctionProvisionedSpec {
    const NAME: &'static str = "provisioned-concurrency";
    // After the function's reservation (3): created after it, deleted before it.
    const RANK: u8 = 4;
}

impl Describe for FunctionProvisionedSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        // No tags of its own: it is a setting of the stack's function's alias.
        vec![
            ("function", self.function.to_string()),
            ("qualifier", crate::model::names::LIVE_ALIAS.to_string()),
            ("provisioned", self.provisioned.to_string()),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let mut refs = vec![&mut self.function];
        refs.extend(self.reservation.as_mut());
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_alias_and_count_and_needs_the_function_then_its_reservation() {
        let spec = FunctionProvisionedSpec {
            function: Ref::Stack(LogicalId::from("function/api")),
            reservation: Some(Ref::Stack(LogicalId::from("function/api/concurrency"))),
            provisioned: 5,
        };
        let props = spec.render(&LogicalId::from("function/api/provisioned"));
        assert_eq!(
            props,
            vec![
                ("function", "function/api".to_string()),
                ("qualifier", "live".to_string()),
                ("provisioned", "5".to_string())
            ]
        );
        let spec = crate::model::spec::Spec::from(spec);
        assert_eq!(
            spec.needs(),
            vec![
                LogicalId::from("function/api"),
                LogicalId::from("function/api/concurrency")
            ]
        );
    }
}
