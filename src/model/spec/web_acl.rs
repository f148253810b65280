//! The stack's AWS WAF web ACL (`[waf]`): a regional web ACL whose default action is to
//! allow, with albkit's rules in a fixed order (docs/waf.md): the blocked countries,
//! the rate limit, then the AWS managed rule groups in the order of the config.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

/// One rule of the web ACL, in the terms albkit writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WafRule {
    /// Blocks requests whose source IP is in one of these countries (ISO 3166-1
    /// alpha-2, sorted).
    BlockCountries(Vec<String>),
    /// Blocks a client IP once it sent more than `requests` in the last
    /// `window_seconds` (60, 120, 300 or 600).
    RateLimit { requests: u64, window_seconds: u32 },
    /// An AWS managed rule group (`AWSManagedRulesCommonRuleSet`), with the group's own
    /// actions.
    Managed(String),
    /// A rule albkit does not write, found in the web ACL: its name. Never desired, so
    /// the plan shows it as drift and `up` removes it.
    Other(String),
}

/// The name of albkit's country rule in the web ACL.
pub const BLOCK_COUNTRIES_RULE: &str = "albkit-block-countries";
/// The name of albkit's rate-based rule in the web ACL.
pub const RATE_LIMIT_RULE: &str = "albkit-rate-limit";

impl WafRule {
    /// The rule's name in the web ACL (and its CloudWatch metric name): unique in it.
    pub fn name(&self) -> String {
        match self {
            WafRule::BlockCountries(_) => BLOCK_COUNTRIES_RULE.to_string(),
            WafRule::RateLimit { .. } => RATE_LIMIT_RULE.to_string(),
            WafRule::Managed(group) => format!("AWS-{group}"),
            WafRule::Other(name) => name.clone(),
        }
    }

    /// As the plan shows it.
    pub fn text(&self) -> String {
        match self {
            WafRule::BlockCountries(codes) => format!("block countries {}", codes.join(" ")),
            WafRule::RateLimit {
                requests,
                window_seconds,
            } => format!("block an IP over {requests} requests per {window_seconds}s"),
            WafRule::Managed(group) => format!("AWS managed {group}"),
            WafRule::Other(name) => format!("not albkit's: {name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAclSpec {
    /// `<stack>-waf`.
    pub name: String,
    /// In priority order: the first has priority 0.
    pub rules: Vec<WafRule>,
    pub tags: Tags,
}

impl KindFacts for WebAclSpec {
    const NAME: &'static str = "web-acl";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for WebAclSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let rules: Vec<String> = self
            .rules
            .iter()
            .enumerate()
            .map(|(priority, r)| format!("{priority}: {}", r.text()))
            .collect();
        vec![
            ("name", self.name.clone()),
            ("default_action", "allow".to_string()),
            ("rules", rules.join("; ")),
            ("tags", tags(&self.tags)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_rules_in_priority_order() {
        let spec = WebAclSpec {
            name: "shop-waf".into(),
            rules: vec![
                WafRule::BlockCountries(vec!["KP".into(), "RU".into()]),
                WafRule::RateLimit {
                    requests: 2000,
                    window_seconds: 300,
                },
                WafRule::Managed("AWSManagedRulesCommonRuleSet".into()),
            ],
            tags: Tags::new(),
        };
        let props = spec.render(&LogicalId::from("web-acl"));
        assert_eq!(
            props[2],
            (
                "rules",
                "0: block countries KP RU; 1: block an IP over 2000 requests per 300s; \
                 2: AWS managed AWSManagedRulesCommonRuleSet"
                    .to_string()
            )
        );
        assert_eq!(props[1], ("default_action", "allow".to_string()));
        assert!(crate::model::spec::Spec::from(spec).needs().is_empty());
    }

    #[test]
    fn rule_names_are_distinct_and_say_whose_they_are() {
        let names: Vec<String> = [
            WafRule::BlockCountries(vec![]),
            WafRule::RateLimit {
                requests: 10,
                window_seconds: 60,
            },
            WafRule::Managed("AWSManagedRulesSQLiRuleSet".into()),
            WafRule::Other("hand-made".into()),
        ]
        .iter()
        .map(WafRule::name)
        .collect();
        assert_eq!(
            names,
            [
                "albkit-block-countries",
                "albkit-rate-limit",
                "AWS-AWSManagedRulesSQLiRuleSet",
                "hand-made"
            ]
        );
    }
}
