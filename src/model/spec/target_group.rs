//! A function's target group (type `lambda`), with the permission that lets ELB
//! invoke the `live` alias and the alias registered as its target.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::names::LIVE_ALIAS;
use crate::model::stack::Tags;

/// The principal ELB invokes Lambda as.
pub const ELB_PRINCIPAL: &str = "elasticloadbalancing.amazonaws.com";

/// A target group's health check; `None` on the target group when it is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSpec {
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// HTTP codes for success, as ELB takes them: `200`, `200-299`, `200,204`.
    pub matcher: String,
}

impl HealthCheckSpec {
    /// The `health_check` property: the same text for what albkit wants and what
    /// discovery found.
    pub fn prop(hc: Option<&HealthCheckSpec>) -> String {
        match hc {
            None => "disabled".to_string(),
            Some(hc) => format!(
                "GET {} every {}s, timeout {}s, healthy {}, unhealthy {}, matcher {}",
                hc.path,
                hc.interval_seconds,
                hc.timeout_seconds,
                hc.healthy_threshold,
                hc.unhealthy_threshold,
                hc.matcher
            ),
        }
    }
}

/// The `permission` property: who may invoke what, from where.
pub fn permission_text(resource: &str, source: &str, account: &str) -> String {
    format!("{ELB_PRINCIPAL} on {resource} from {source} in account {account}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSpec {
    /// The function's name in the config (`[[functions]] name`), which names the
    /// permission statement.
    pub config_name: String,
    pub name: String,
    pub multi_value_headers: bool,
    pub health_check: Option<HealthCheckSpec>,
    /// The function whose `live` alias is the target.
    pub function: Ref,
    /// The account the invoke permission is limited to.
    pub account: String,
    pub tags: Tags,
}

impl TargetGroupSpec {
    pub const TARGET_TYPE: &'static str = "lambda";
}

impl KindFacts for TargetGroupSpec {
    const NAME: &'static str = "target-group";
    const RANK: u8 = 3;
    const REPLACE_ON: &'static [&'static str] = &["name", "target_type"];
}

impl Describe for TargetGroupSpec {
    fn render(&self, id: &LogicalId) -> Props {
        let target = format!("{}:{LIVE_ALIAS}", self.function);
        vec![
            ("name", self.name.clone()),
            ("target_type", Self::TARGET_TYPE.to_string()),
            ("multi_value_headers", self.multi_value_headers.to_string()),
            (
                "health_check",
                HealthCheckSpec::prop(self.health_check.as_ref()),
            ),
            (
                "permission",
                permission_text(&target, id.as_str(), &self.account),
            ),
            ("target", target),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.function]
    }
}
