//! A function's reserved concurrency (`[[functions]] reserved_concurrency`): the
//! concurrent executions Lambda sets aside for it, which are also its ceiling. It is
//! part of the stack only while the config sets it; when the key goes, the reservation
//! goes too.

use super::{Describe, KindFacts, LogicalId, Props, Ref};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConcurrencySpec {
    pub function: Ref,
    /// 0 stops every invocation.
    pub reserved: u32,
}

impl KindFacts for FunctionConcurrencySpec {
    const NAME: &'static str = "function-concurrency";
    const RANK: u8 = 3;
}

impl Describe for FunctionConcurrencySpec {
    fn render(&self, _id: &LogicalId) -> Props {
        // No tags of its own: it is a setting of the stack's function.
        vec![
            ("function", self.function.to_string()),
            ("reserved", self.reserved.to_string()),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.function]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_reservation_and_needs_its_function() {
        let spec = FunctionConcurrencySpec {
            function: Ref::Stack(LogicalId::from("function/api")),
            reserved: 50,
        };
        let props = spec.render(&LogicalId::from("function/api/concurrency"));
        assert_eq!(
            props,
            vec![
                ("function", "function/api".to_string()),
                ("reserved", "50".to_string())
            ]
        );
        let spec = crate::model::spec::Spec::from(spec);
        assert_eq!(spec.needs(), vec![LogicalId::from("function/api")]);
    }
}
