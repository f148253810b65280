//! Listener rules: one per route, forwarding to the function's target group, and those
//! the load balancer answers itself: `[[routes]]` redirects and fixed responses, the
//! CORS preflight.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpRequestMethodConditionConfig, PathPatternConditionConfig, RedirectActionConfig,
    RedirectActionStatusCodeEnum, RuleCondition,
};

use super::elb::{adopt_if_owned, retag, to_tags};
use super::{as_found, teardown, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::TAG_RESOURCE;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{FixedResponse, Props, Redirect, Ref, RuleAction, RuleSpec, Spec};
use crate::model::stack::Tags;

/// ALB conditions in the `*Config` form (the legacy `Values` field takes one value only).
pub(crate) fn conditions(rule: &RuleSpec) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    if !rule.paths.is_empty() {
        let config = PathPatternConditionConfig::builder().set_values(Some(rule.paths.clone()));
        out.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(config.build())
                .build(),
        );
    }
    if !rule.hosts.is_empty() {
        let config = HostHeaderConditionConfig::builder().set_values(Some(rule.hosts.clone()));
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(config.build())
                .build(),
        );
    }
    if !rule.methods.is_empty() {
        let config =
            HttpRequestMethodConditionConfig::builder().set_values(Some(rule.methods.clone()));
        out.push(
            RuleCondition::builder()
                .field("http-request-method")
                .http_request_method_config(config.build())
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

/// The rules of the stack's listeners (all listeners at once).
///
/// Their tags are not read back: that would be a fourth round trip after the load
/// balancer, its listeners and their rules, on every `plan` and `up`. A rule's identity
/// needs no tag (its logical id is its priority, and it lives on a listener of the
/// stack's load balancer), and albkit gives every rule the tags it gives the load
/// balancer, so the caller fills `tags` from the load balancer's with [`inherit_tags`].
pub(crate) async fn discover(
    ctx: &Ctx<'_>,
    listener_arns: &[String],
) -> Result<Vec<Found>, AwsError> {
    let per_listener =
        futures::future::try_join_all(listener_arns.iter().map(|listener| async move {
            retry(
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
            .await
            .map(|out| (listener, out))
        }))
        .await?;
    let rules = per_listener.into_iter().flat_map(|(listener, out)| {
        out.rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .map(|r| (listener.clone(), r.clone()))
            .collect::<Vec<_>>()
    });
    Ok(rules
        .filter_map(|(listener, r)| {
            let arn = r.rule_arn()?;
            let priority = r.priority().unwrap_or_default();
            let logical = format!("rule/{priority}");
            let (mut paths, mut hosts, mut methods) = (vec![], vec![], vec![]);
            for c in r.conditions() {
                match c.field() {
                    Some("path-pattern") => paths = values(c),
                    Some("host-header") => hosts = values(c),
                    Some("http-request-method") => methods = values(c),
                    _ => {}
                }
            }
            let action = r.actions().first();
            let typed = action.and_then(action_of);
            let spec = RuleSpec {
                listener: Ref::External(listener),
                priority: priority.parse().unwrap_or_default(),
                paths,
                hosts,
                methods,
                action: typed
                    .clone()
                    .unwrap_or_else(|| RuleAction::Forward(Ref::External(String::new()))),
                tags: Tags::new(),
            };
            let mut extras = Props::new();
            as_found(&mut extras, "priority", priority, spec.priority.to_string());
            if typed.is_none() {
                // Neither a forward nor a fixed response: shown as AWS has it.
                let action = action.map(super::listener::render_action);
                extras.push(("action", action.unwrap_or_default()));
            }
            Some(Found::new(arn, logical, spec, Tags::new()).extras(extras))
        })
        .collect())
}

/// The typed action of a rule's first action, when albkit has a type for it.
fn action_of(a: &Action) -> Option<RuleAction> {
    match a.r#type()? {
        ActionTypeEnum::Forward => Some(RuleAction::Forward(Ref::External(
            a.target_group_arn()?.to_string(),
        ))),
        ActionTypeEnum::FixedResponse => {
            let c = a.fixed_response_config()?;
            Some(RuleAction::FixedResponse(FixedResponse {
                status: c.status_code()?.parse().ok()?,
                content_type: c.content_type().unwrap_or_default().to_string(),
                body: c.message_body().unwrap_or_default().to_string(),
            }))
        }
        ActionTypeEnum::Redirect => {
            let c = a.redirect_config()?;
            let status = c
                .status_code()?
                .as_str()
                .strip_prefix("HTTP_")?
                .parse()
                .ok()?;
            let part = |v: Option<&str>, default: &str| v.unwrap_or(default).to_string();
            Some(RuleAction::Redirect(Redirect {
                status,
                protocol: part(c.protocol(), "#{protocol}").to_ascii_uppercase(),
                host: part(c.host(), "#{host}"),
                port: part(c.port(), "#{port}"),
                path: part(c.path(), "/#{path}"),
                query: part(c.query(), "#{query}"),
            }))
        }
        _ => None,
    }
}

/// The SDK form of a rule's action.
fn sdk_action(ctx: &Ctx<'_>, action: &RuleAction) -> Result<Action, ResourceError> {
    Ok(match action {
        RuleAction::Forward(tg) => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(ctx.ids.of(tg)?)
            .build(),
        RuleAction::FixedResponse(f) => fixed_action(f),
        RuleAction::Redirect(r) => redirect_action(r),
    })
}

/// A `fixed-response` action; no `MessageBody` for an empty body.
fn fixed_action(f: &FixedResponse) -> Action {
    let mut config = FixedResponseActionConfig::builder()
        .status_code(f.status.to_string())
        .content_type(&f.content_type);
    if !f.body.is_empty() {
        config = config.message_body(&f.body);
    }
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(config.build())
        .build()
}

/// A `redirect` action with every part given.
fn redirect_action(r: &Redirect) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol(&r.protocol)
                .host(&r.host)
                .port(&r.port)
                .path(&r.path)
                .query(&r.query)
                .status_code(RedirectActionStatusCodeEnum::from(r.status_code().as_str()))
                .build(),
        )
        .build()
}

/// Gives each observed rule the tags of its load balancer (`lb_tags`, as observed),
/// with its own `albkit:resource`: the tags albkit wrote on both. When the stack's tags
/// change in the config, the load balancer's differ from the desired ones and so do the
/// rules', and both are retagged. Pure.
pub(crate) fn inherit_tags(rules: &mut [Found], lb_tags: &Tags) {
    for f in rules.iter_mut() {
        if let Spec::ListenerRule(rule) = &mut f.spec {
            let mut tags = lb_tags.clone();
            tags.insert(TAG_RESOURCE.to_string(), f.logical.clone());
            rule.tags = tags.clone();
            f.tags = tags;
        }
    }
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RuleSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let elb = &ctx.aws.elb;
    let notify = ctx.notify(&change.logical);
    let tags = want.tags.clone();
    let priority = want.priority;
    let action = sdk_action(ctx, &want.action)?;
    let conditions = conditions(want);
    match &change.id {
        Some(arn) if change.action != crate::model::plan::Action::Replace => {
            if change.changed("tags") {
                retag(ctx, arn, change, have, &tags).await?;
            }
            if change.changed("conditions") || change.changed("action") {
                retry(Policy::fresh(), "update listener rule", &notify, || async {
                    elb.modify_rule()
                        .rule_arn(arn)
                        .set_conditions(Some(conditions.clone()))
                        .actions(action.clone())
                        .send()
                        .await
                        .aws("ModifyRule", arn)
                })
                .await?;
            }
            Ok(arn.clone())
        }
        _ => {
            let listener = ctx.ids.of(&want.listener)?;
            let out = retry(Policy::fresh(), "create listener rule", &notify, || async {
                elb.create_rule()
                    .listener_arn(&listener)
                    .priority(i32::try_from(priority).unwrap_or(i32::MAX))
                    .set_conditions(Some(conditions.clone()))
                    .actions(action.clone())
                    .set_tags(Some(to_tags(&tags)))
                    .send()
                    .await
                    .aws("CreateRule", &change.logical)
            })
            .await;
            let created = match out {
                Ok(out) => out
                    .rules()
                    .first()
                    .and_then(|r| r.rule_arn())
                    .map(str::to_string)
                    .ok_or_else(|| AwsError::incomplete("CreateRule", &change.logical, "rule ARN")),
                // An earlier attempt created it but its response was lost: take the rule
                // at this priority if it carries the stack's tags.
                // (Discovery does not read rules' tags; this rare case reads that one's.)
                Err(e) if e.is("PriorityInUse") => {
                    let existing = discover(ctx, std::slice::from_ref(&listener)).await?;
                    let arn = existing
                        .into_iter()
                        .find(|f| f.logical == change.logical)
                        .map(|o| o.id);
                    adopt_if_owned(ctx, arn, e).await
                }
                Err(e) => Err(e),
            };
            Ok(created?)
        }
    }
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    teardown(ctx, "rule", "delete listener rule", || async {
        ctx.aws
            .elb
            .delete_rule()
            .rule_arn(arn)
            .send()
            .await
            .aws("DeleteRule", arn)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::logical;

    fn rule(priority: u32) -> Found {
        let spec = RuleSpec {
            listener: Ref::External("arn:listener".into()),
            priority,
            paths: vec![],
            hosts: vec![],
            methods: vec![],
            action: RuleAction::Forward(Ref::External("arn:tg".into())),
            tags: Tags::new(),
        };
        Found::new(
            format!("arn:rule/{priority}"),
            logical::rule(priority),
            spec,
            Tags::new(),
        )
    }

    #[test]
    fn redirect_and_fixed_response_actions_read_back_as_written() {
        let redirect = Redirect {
            status: 302,
            protocol: "HTTPS".into(),
            host: "new.example.com".into(),
            port: "443".into(),
            path: "/v2/#{path}".into(),
            query: "#{query}".into(),
        };
        assert_eq!(
            action_of(&redirect_action(&redirect)),
            Some(RuleAction::Redirect(redirect.clone()))
        );
        assert_eq!(
            super::super::listener::render_action(&redirect_action(&redirect)),
            redirect.text()
        );
        for body in ["", "gone"] {
            let fixed = FixedResponse {
                status: 410,
                content_type: "text/plain".into(),
                body: body.into(),
            };
            assert_eq!(
                action_of(&fixed_action(&fixed)),
                Some(RuleAction::FixedResponse(fixed))
            );
        }
    }

    #[test]
    fn rules_take_the_load_balancers_tags_with_their_own_resource_tag() {
        let lb: Tags = [
            ("albkit:stack", "shop"),
            ("albkit:resource", "load-balancer"),
            ("team", "payments"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut rules = vec![rule(10), rule(20)];
        inherit_tags(&mut rules, &lb);
        let observed = crate::model::found::resolve(rules, &[]);
        for (o, p) in observed.iter().zip([10, 20]) {
            let tags = &o.tags;
            let shown = crate::model::stack::tags_prop(tags);
            assert_eq!(o.resource.get("tags"), Some(shown.as_str()));
            assert_eq!(tags.get("albkit:resource"), Some(&format!("rule/{p}")));
            assert_eq!(tags.get("team").map(String::as_str), Some("payments"));
            assert_eq!(tags.get("albkit:stack").map(String::as_str), Some("shop"));
        }
    }
}
