//! Listener rules: one per route, forwarding to the function's target group.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, HttpRequestMethodConditionConfig,
    PathPatternConditionConfig, RuleCondition,
};

use super::load_balancer::{read_tags, retag, to_tags};
use super::vpc::ignore_not_found;
use super::{logical_of, observed, Ctx};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Policy};
use crate::model::config::Route;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::stack::{rule_conditions, Kind, Resource};

/// ALB conditions in the `*Config` form (the legacy `Values` field takes one value only).
pub fn conditions(route: &Route) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    if !route.paths.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(route.paths.clone()))
                        .build(),
                )
                .build(),
        );
    }
    if !route.hosts.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(route.hosts.clone()))
                        .build(),
                )
                .build(),
        );
    }
    if !route.methods.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("http-request-method")
                .http_request_method_config(
                    HttpRequestMethodConditionConfig::builder()
                        .set_values(Some(route.methods.clone()))
                        .build(),
                )
                .build(),
        );
    }
    out
}

/// Reads a condition's values from whichever form AWS returned.
fn values(c: &RuleCondition) -> Vec<String> {
    let from_config = match c.field() {
        Some("path-pattern") => c.path_pattern_config().map(|p| p.values().to_vec()),
        Some("host-header") => c.host_header_config().map(|p| p.values().to_vec()),
        Some("http-request-method") => c.http_request_method_config().map(|p| p.values().to_vec()),
        _ => None,
    };
    match from_config {
        Some(v) if !v.is_empty() => v,
        _ => c.values().to_vec(),
    }
}

pub async fn discover(ctx: &Ctx<'_>, listener_arns: &[String]) -> Result<Vec<Observed>, AwsError> {
    let mut rules = Vec::new();
    for listener in listener_arns {
        let out = retry(
            Policy::transient(),
            "read listener rules",
            &ctx.notify("rules"),
            || async {
                ctx.aws
                    .elb
                    .describe_rules()
                    .listener_arn(listener)
                    .send()
                    .await
                    .aws("DescribeRules", listener)
            },
        )
        .await?;
        for r in out.rules().iter().filter(|r| r.is_default() != Some(true)) {
            rules.push((listener.clone(), r.clone()));
        }
    }
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|(_, r)| r.rule_arn().map(str::to_string))
        .collect();
    let tags = read_tags(ctx, &arns).await?;
    Ok(rules
        .into_iter()
        .filter_map(|(listener, r)| {
            let arn = r.rule_arn()?;
            let tags = tags.get(arn).cloned().unwrap_or_default();
            let priority = r.priority().unwrap_or_default().to_string();
            let logical = logical_of(&tags).unwrap_or_else(|| format!("rule/{priority}"));
            let (mut paths, mut hosts, mut methods) = (vec![], vec![], vec![]);
            for c in r.conditions() {
                match c.field() {
                    Some("path-pattern") => paths = values(c),
                    Some("host-header") => hosts = values(c),
                    Some("http-request-method") => methods = values(c),
                    _ => {}
                }
            }
            let action = r
                .actions()
                .first()
                .map(super::listener::render_action)
                .unwrap_or_default();
            Some(observed(
                arn,
                Resource::new(logical, Kind::ListenerRule)
                    .prop("listener", listener)
                    .prop("priority", priority)
                    .prop("conditions", rule_conditions(&paths, &hosts, &methods))
                    .prop("action", action)
                    .prop("tags", crate::model::stack::tags_prop(&tags)),
            ))
        })
        .collect())
}

fn route_of<'c>(ctx: &'c Ctx<'_>, priority: u32) -> Option<(&'c str, &'c Route)> {
    ctx.config.functions.iter().find_map(|f| {
        f.routes
            .iter()
            .find(|r| r.priority == priority)
            .map(|r| (f.name.as_str(), r))
    })
}

pub async fn apply(ctx: &Ctx<'_>, change: &Change, want: &Resource) -> Result<String, AwsError> {
    let elb = &ctx.aws.elb;
    let notify = ctx.notify(&want.logical);
    let tags = ctx.tags(&want.logical);
    let priority: u32 = want
        .get("priority")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let Some((function, route)) = route_of(ctx, priority) else {
        return Err(AwsError {
            operation: "CreateRule",
            resource: want.logical.clone(),
            code: None,
            message: "no route with this priority in the config".into(),
            status: None,
            class: crate::aws::error::ErrorClass::Permanent,
        });
    };
    let target_group = ctx.ids.get(&logical::target_group(function))?;
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(&target_group)
        .build();
    let conditions = conditions(route);
    match &change.id {
        Some(arn) if change.action != crate::model::plan::Action::Replace => {
            if change.changed("tags") {
                retag(ctx, arn, change, &tags).await?;
            }
            if change.changed("conditions") || change.changed("action") {
                retry(Policy::fresh(), "update listener rule", &notify, || async {
                    elb.modify_rule()
                        .rule_arn(arn)
                        .set_conditions(Some(conditions.clone()))
                        .actions(forward.clone())
                        .send()
                        .await
                        .aws("ModifyRule", arn)
                })
                .await?;
            }
            Ok(arn.clone())
        }
        _ => {
            let listener = ctx.ids.get(want.get("listener").unwrap_or_default())?;
            let out = retry(Policy::fresh(), "create listener rule", &notify, || async {
                elb.create_rule()
                    .listener_arn(&listener)
                    .priority(i32::try_from(priority).unwrap_or(i32::MAX))
                    .set_conditions(Some(conditions.clone()))
                    .actions(forward.clone())
                    .set_tags(Some(to_tags(&tags)))
                    .send()
                    .await
                    .aws("CreateRule", &want.logical)
            })
            .await;
            match out {
                Ok(out) => out
                    .rules()
                    .first()
                    .and_then(|r| r.rule_arn())
                    .map(str::to_string)
                    .ok_or_else(|| AwsError::incomplete("CreateRule", &want.logical, "rule ARN")),
                // An earlier attempt created it but its response was lost: take the rule
                // at this priority if it carries the stack's tags.
                Err(e) if e.is("PriorityInUse") => {
                    let existing = discover(ctx, std::slice::from_ref(&listener)).await?;
                    let owned = existing.into_iter().find(|o| {
                        o.resource.logical == want.logical
                            && o.resource
                                .get("tags")
                                .is_some_and(|t| ctx.owns(&crate::model::stack::parse_tags_prop(t)))
                    });
                    owned.map(|o| o.id).ok_or(AwsError {
                        message: format!(
                            "{} (a rule with priority {priority} exists but is not the stack's)",
                            e.message
                        ),
                        ..e
                    })
                }
                Err(e) => Err(e),
            }
        }
    }
}

pub async fn delete(ctx: &Ctx<'_>, arn: &str) -> Result<(), AwsError> {
    retry(
        Policy::teardown(),
        "delete listener rule",
        &ctx.notify("rule"),
        || async {
            ctx.aws
                .elb
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .aws("DeleteRule", arn)
        },
    )
    .await
    .map(|_| ())
    .or_else(ignore_not_found)
}
