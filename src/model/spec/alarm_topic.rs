//! The SNS topic the stack's alarms notify (`[alarms] notify`), with one email
//! subscription per address. A subscription is part of the topic here: `up` subscribes
//! the addresses the config adds and unsubscribes the ones it drops.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTopicSpec {
    /// [`crate::model::names::Names::alarm_topic`].
    pub name: String,
    /// Email addresses, sorted, lower-cased.
    pub emails: Vec<String>,
    pub tags: Tags,
}

impl KindFacts for AlarmTopicSpec {
    const NAME: &'static str = "alarm-topic";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for AlarmTopicSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("email_subscriptions", self.emails.join(", ")),
            ("tags", tags(&self.tags)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_its_subscriptions_and_needs_nothing() {
        let spec = AlarmTopicSpec {
            name: "albkit-shop-alarms".into(),
            emails: vec!["a@example.com".into(), "b@example.com".into()],
            tags: Tags::new(),
        };
        let props = spec.render(&LogicalId::from("alarm-topic"));
        assert_eq!(
            props[1],
            (
                "email_subscriptions",
                "a@example.com, b@example.com".to_string()
            )
        );
        assert!(crate::model::spec::Spec::from(spec).needs().is_empty());
    }
}
