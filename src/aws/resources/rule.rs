//! Listener rules: one per route, forwarding to the function's target group, and those
//! the load balancer answers itself: `[[routes]]` redirects and fixed responses, the
//! CORS preflight.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateCognitoActionConditionalBehaviorEnum,
    AuthenticateCognitoActionConfig, AuthenticateOidcActionConditionalBehaviorEnum,
    AuthenticateOidcActionConfig, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpRequestMethodConditionConfig, JwtValidationActionAdditionalClaim,
    JwtValidationActionAdditionalClaimFormatEnum, JwtValidationActionConfig,
    PathPatternConditionConfig, RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition,
    RulePriorityPair,
};

use aws_sdk_elasticloadbalancingv2::types::builders::ActionBuilder;

use super::elb::{adopt_if_owned, read_tags, retag, to_tags};
use super::{as_found, teardown, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::config::DEFAULT_OIDC_SCOPE;
use crate::model::found::Found;
use crate::model::names::{TAG_OIDC_SECRET, TAG_RESOURCE};
use crate::model::plan::{Change, Observed};
use crate::model::spec::{
    FixedResponse, OidcLogin, Props, Redirect, Ref, RuleAction, RuleAuth, RuleSpec, Spec,
};
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

/// The claim that carries a token's audiences.
const AUD: &str = "aud";

/// The rule's actions: its authentication step (order 1), then `last`, its action
/// (order 2); `last` alone (order 1) without one. `secret`: the OIDC client secret's
/// value, for an `authenticate-oidc` step.
pub(crate) fn actions(rule: &RuleSpec, last: ActionBuilder, secret: Option<&str>) -> Vec<Action> {
    let auth = rule.auth.as_ref().map(|a| auth_action(a, secret));
    auth.into_iter()
        .chain([last])
        .zip(1..)
        .map(|(a, order)| a.order(order).build())
        .collect()
}

/// The authentication step, its order not set yet; `secret` is the OIDC client secret.
fn auth_action(auth: &RuleAuth, secret: Option<&str>) -> ActionBuilder {
    match auth {
        RuleAuth::Jwt {
            issuer,
            jwks_endpoint,
            audiences,
        } => {
            let aud = (!audiences.is_empty()).then(|| {
                JwtValidationActionAdditionalClaim::builder()
                    .name(AUD)
                    .format(JwtValidationActionAdditionalClaimFormatEnum::SingleString)
                    .set_values(Some(audiences.clone()))
                    .build()
            });
            let config = JwtValidationActionConfig::builder()
                .issuer(issuer)
                .jwks_endpoint(jwks_endpoint)
                .set_additional_claims(aud.map(|c| vec![c]));
            Action::builder()
                .r#type(ActionTypeEnum::JwtValidation)
                .jwt_validation_config(config.build())
        }
        RuleAuth::Cognito {
            user_pool_arn,
            user_pool_client_id,
            user_pool_domain,
        } => {
            let config = AuthenticateCognitoActionConfig::builder()
                .user_pool_arn(user_pool_arn)
                .user_pool_client_id(user_pool_client_id)
                .user_pool_domain(user_pool_domain);
            Action::builder()
                .r#type(ActionTypeEnum::AuthenticateCognito)
                .authenticate_cognito_config(config.build())
        }
        RuleAuth::Oidc(o) => {
            let config = AuthenticateOidcActionConfig::builder()
                .issuer(&o.issuer)
                .authorization_endpoint(&o.authorization_endpoint)
                .token_endpoint(&o.token_endpoint)
                .user_info_endpoint(&o.user_info_endpoint)
                .client_id(&o.client_id)
                .set_client_secret(secret.map(str::to_owned))
                .scope(&o.scope);
            Action::builder()
                .r#type(ActionTypeEnum::AuthenticateOidc)
                .authenticate_oidc_config(config.build())
        }
    }
}

/// The settings of an `authenticate-oidc` action as a [`RuleAuth`] (the secret's ARN
/// not known yet: it is the rule's tag), and whether the rest are the action's defaults.
fn read_oidc(c: &AuthenticateOidcActionConfig) -> (RuleAuth, bool) {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    let auth = RuleAuth::Oidc(Box::new(OidcLogin {
        issuer: text(c.issuer()),
        authorization_endpoint: text(c.authorization_endpoint()),
        token_endpoint: text(c.token_endpoint()),
        user_info_endpoint: text(c.user_info_endpoint()),
        client_id: text(c.client_id()),
        client_secret_arn: String::new(),
        scope: c.scope().unwrap_or(DEFAULT_OIDC_SCOPE).to_owned(),
    }));
    let login = AuthenticateOidcActionConditionalBehaviorEnum::Authenticate;
    let defaults = c.session_timeout().is_none_or(|t| t == 604_800)
        && c.session_cookie_name()
            .is_none_or(|n| n == "AWSELBAuthSessionCookie")
        && c.on_unauthenticated_request().is_none_or(|b| *b == login)
        && c.authentication_request_extra_params()
            .is_none_or(std::collections::HashMap::is_empty);
    (auth, defaults)
}

/// The settings of an `authenticate-cognito` action as a [`RuleAuth`], and whether the
/// rest are the action's defaults, which albkit leaves as they are.
fn read_cognito(c: &AuthenticateCognitoActionConfig) -> (RuleAuth, bool) {
    let auth = RuleAuth::Cognito {
        user_pool_arn: c.user_pool_arn().unwrap_or_default().to_owned(),
        user_pool_client_id: c.user_pool_client_id().unwrap_or_default().to_owned(),
        user_pool_domain: c.user_pool_domain().unwrap_or_default().to_owned(),
    };
    let login = AuthenticateCognitoActionConditionalBehaviorEnum::Authenticate;
    let defaults = c.scope().is_none_or(|s| s == "openid")
        && c.session_timeout().is_none_or(|t| t == 604_800)
        && c.session_cookie_name()
            .is_none_or(|n| n == "AWSELBAuthSessionCookie")
        && c.on_unauthenticated_request().is_none_or(|b| *b == login)
        && c.authentication_request_extra_params()
            .is_none_or(std::collections::HashMap::is_empty);
    (auth, defaults)
}

/// A `jwt-validation` action's settings as a [`RuleAuth`], and whether that is all it
/// checks (no claim but `aud`, given as albkit gives it).
fn read_jwt(c: &JwtValidationActionConfig) -> (RuleAuth, bool) {
    let mut audiences = Vec::new();
    let mut only_aud = true;
    for claim in c.additional_claims() {
        let single =
            claim.format() == Some(&JwtValidationActionAdditionalClaimFormatEnum::SingleString);
        if claim.name() == Some(AUD) && single && audiences.is_empty() {
            audiences = claim.values().to_vec();
        } else {
            only_aud = false;
        }
    }
    let auth = RuleAuth::Jwt {
        issuer: c.issuer().unwrap_or_default().to_owned(),
        jwks_endpoint: c.jwks_endpoint().unwrap_or_default().to_owned(),
        audiences,
    };
    (auth, only_aud)
}

/// The rule's authentication and target group as AWS has them, and what the spec cannot
/// say of its actions (shown as found): actions beside the authentication step and the
/// forward, or claims albkit does not set.
fn read_actions(actions: &[Action]) -> (Option<RuleAuth>, Option<RuleAction>, Props) {
    let mut sorted = actions.to_vec();
    sorted.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let of = |t: ActionTypeEnum| sorted.iter().find(|a| a.r#type() == Some(&t));
    // The last action ends the rule (forward, fixed response or redirect).
    let last = sorted.last().filter(|a| {
        !matches!(
            a.r#type(),
            Some(
                ActionTypeEnum::JwtValidation
                    | ActionTypeEnum::AuthenticateCognito
                    | ActionTypeEnum::AuthenticateOidc
            )
        )
    });
    let typed = last.and_then(action_of);
    let jwt = of(ActionTypeEnum::JwtValidation).and_then(Action::jwt_validation_config);
    let cognito =
        of(ActionTypeEnum::AuthenticateCognito).and_then(Action::authenticate_cognito_config);
    let oidc = of(ActionTypeEnum::AuthenticateOidc).and_then(Action::authenticate_oidc_config);
    let other = "settings other than the action's defaults";
    // The step, and what it sets beyond what albkit sets, if anything.
    let (auth, beyond) = match (jwt, cognito, oidc) {
        (Some(j), _, _) => {
            let (auth, only_aud) = read_jwt(j);
            let claims = j.additional_claims().len();
            (
                Some(auth),
                (!only_aud).then(|| format!("{claims} additional claims")),
            )
        }
        (None, Some(c), _) => {
            let (auth, defaults) = read_cognito(c);
            (Some(auth), (!defaults).then(|| other.to_owned()))
        }
        (None, None, Some(o)) => {
            let (auth, defaults) = read_oidc(o);
            (Some(auth), (!defaults).then(|| other.to_owned()))
        }
        (None, None, None) => (None, None),
    };
    let mut extras = Props::new();
    if let Some(beyond) = beyond {
        let shown = RuleAuth::prop(auth.as_ref());
        extras.push(("auth", format!("{shown}, {beyond}")));
    }
    let expected = usize::from(typed.is_some()) + usize::from(auth.is_some());
    if typed.is_none() || sorted.len() != expected {
        // Not albkit's shape: shown as AWS has it.
        let shown: Vec<String> = sorted.iter().map(super::listener::render_action).collect();
        extras.push(("action", shown.join(" then ")));
    }
    (auth, typed, extras)
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
        futures::future::try_join_all(listener_arns.iter().map(|l| describe(ctx, l))).await?;
    let mut found: Vec<Found> = per_listener
        .iter()
        .zip(listener_arns)
        .flat_map(|(rules, listener)| rules.iter().filter_map(|r| found_of(listener, r)))
        .collect();
    secret_arns(ctx, &mut found).await?;
    Ok(found)
}

/// The rules of one listener (`DescribeRules`), its default rule aside.
pub(crate) async fn describe(
    ctx: &Ctx<'_>,
    listener: &str,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Rule>, AwsError> {
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
    Ok(out
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .cloned()
        .collect())
}

/// A rule of `listener` as its spec, its logical id `rule/<priority>` and its tags empty
/// (the caller gives it both when it knows better); `None` without an ARN.
pub(crate) fn found_of(
    listener: &str,
    r: &aws_sdk_elasticloadbalancingv2::types::Rule,
) -> Option<Found> {
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
    let (auth, typed, mut extras) = read_actions(r.actions());
    let spec = RuleSpec {
        listener: Ref::External(listener.to_owned()),
        priority: priority.parse().unwrap_or_default(),
        paths,
        hosts,
        methods,
        action: typed.unwrap_or_else(|| RuleAction::Forward(Ref::External(String::new()))),
        auth,
        tags: Tags::new(),
    };
    as_found(&mut extras, "priority", priority, spec.priority.to_string());
    Some(Found::new(arn, logical, spec, Tags::new()).extras(extras))
}

/// Fills in the client secret's ARN of the rules with an OIDC login from their
/// `albkit:oidc-client-secret` tag: AWS does not return the secret, so the tag is what
/// `plan` compares. Reads tags only when there is such a rule.
async fn secret_arns(ctx: &Ctx<'_>, found: &mut [Found]) -> Result<(), AwsError> {
    let oidc = |f: &Found| matches!(&f.spec, Spec::ListenerRule(r) if oidc_secret_arn(r).is_some());
    let arns: Vec<String> = found
        .iter()
        .filter(|f| oidc(f))
        .map(|f| f.id.clone())
        .collect();
    if arns.is_empty() {
        return Ok(());
    }
    let tags = read_tags(ctx, &arns).await?;
    for f in found.iter_mut() {
        let tag = tags
            .get(&f.id)
            .and_then(|t| t.get(TAG_OIDC_SECRET))
            .cloned();
        record_secret_arn(f, tag);
    }
    Ok(())
}

/// Gives a found rule with an OIDC login the secret ARN of its tag (`None`: no tag).
/// Pure.
fn record_secret_arn(f: &mut Found, tag: Option<String>) {
    let Spec::ListenerRule(RuleSpec {
        auth: Some(auth @ RuleAuth::Oidc(_)),
        ..
    }) = &mut f.spec
    else {
        return;
    };
    let before = RuleAuth::prop(Some(auth));
    if let RuleAuth::Oidc(o) = auth {
        o.client_secret_arn = tag.unwrap_or_default();
    }
    // What is shown as found beyond albkit's settings names the ARN too.
    let after = RuleAuth::prop(Some(auth));
    for (key, value) in &mut f.extras {
        if *key == "auth" {
            *value = value.replacen(&before, &after, 1);
        }
    }
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

/// The SDK form of a rule's action, its order not set yet.
fn sdk_action(ctx: &Ctx<'_>, action: &RuleAction) -> Result<ActionBuilder, ResourceError> {
    Ok(match action {
        RuleAction::Forward(tg) => forward_action(&ctx.ids.of(tg)?),
        RuleAction::FixedResponse(f) => fixed_action(f),
        RuleAction::Redirect(r) => redirect_action(r),
    })
}

/// A `forward` to the target group `arn`.
fn forward_action(arn: &str) -> ActionBuilder {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(arn)
}

/// A `fixed-response` action; no `MessageBody` for an empty body.
fn fixed_action(f: &FixedResponse) -> ActionBuilder {
    let mut config = FixedResponseActionConfig::builder()
        .status_code(f.status.to_string())
        .content_type(&f.content_type);
    if !f.body.is_empty() {
        config = config.message_body(&f.body);
    }
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(config.build())
}

/// A `redirect` action with every part given.
fn redirect_action(r: &Redirect) -> ActionBuilder {
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
    let update = change
        .id
        .as_ref()
        .filter(|_| change.action != crate::model::plan::Action::Replace);
    let acts = change.changed("action") || change.changed("auth");
    let sends_actions = update.is_none() || acts || change.changed("conditions");
    // Read right before the call that takes it; never kept beyond it.
    let secret = match (oidc_secret_arn(want), sends_actions) {
        (Some(arn), true) => Some(client_secret(ctx, &change.logical, arn).await?),
        _ => None,
    };
    let actions = actions(
        want,
        sdk_action(ctx, &want.action)?,
        secret.as_ref().map(|s| s.0.as_str()),
    );
    match update {
        Some(arn) => {
            if change.changed("tags") {
                retag(ctx, arn, change, have, &want.tags).await?;
            }
            if sends_actions {
                modify(ctx, change, arn, want, actions).await?;
            }
            if change.changed("priority") {
                set_priority(ctx, change, arn, want.priority).await?;
            }
            Ok(arn.clone())
        }
        None => Ok(create(ctx, change, want, actions).await?),
    }
}

/// The ARN of the secret holding the rule's OIDC client secret, for an OIDC login.
fn oidc_secret_arn(rule: &RuleSpec) -> Option<&str> {
    match &rule.auth {
        Some(RuleAuth::Oidc(o)) => Some(&o.client_secret_arn),
        _ => None,
    }
}

/// A secret's value, which `Debug` does not show.
struct SecretValue(String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(redacted)")
    }
}

/// The OIDC client secret of rule `logical`: the text value of the secret `arn`
/// (`secretsmanager:GetSecretValue`).
async fn client_secret(ctx: &Ctx<'_>, logical: &str, arn: &str) -> Result<SecretValue, AwsError> {
    let out = retry(
        Policy::transient(),
        "read the OIDC client secret",
        &ctx.notify(logical),
        || async {
            ctx.aws
                .secrets
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .aws("GetSecretValue", arn)
        },
    )
    .await?;
    match out.secret_string() {
        Some(value) if !value.is_empty() => Ok(SecretValue(value.to_owned())),
        _ => Err(AwsError::incomplete(
            "GetSecretValue",
            arn,
            "SecretString (the OIDC client secret must be stored as text, e.g. \
             `aws secretsmanager put-secret-value --secret-id <arn> --secret-string <secret>`)",
        )),
    }
}

/// The rule's tags, with the OIDC client secret's ARN when it has an OIDC login.
fn tags_with_secret(want: &RuleSpec) -> Tags {
    let mut tags = want.tags.clone();
    if let Some(arn) = oidc_secret_arn(want) {
        tags.insert(TAG_OIDC_SECRET.to_string(), arn.to_string());
    }
    tags
}

/// `ModifyRule` with the rule's conditions and actions; then, for an OIDC login, the tag
/// that records which secret the client secret came from.
async fn modify(
    ctx: &Ctx<'_>,
    change: &Change,
    arn: &str,
    want: &RuleSpec,
    actions: Vec<Action>,
) -> Result<(), AwsError> {
    let notify = ctx.notify(&change.logical);
    let conditions = conditions(want);
    retry(Policy::fresh(), "update listener rule", &notify, || async {
        ctx.aws
            .elb
            .modify_rule()
            .rule_arn(arn)
            .set_conditions(Some(conditions.clone()))
            .set_actions(Some(actions.clone()))
            .send()
            .await
            .aws("ModifyRule", arn)
    })
    .await?;
    let Some(secret_arn) = oidc_secret_arn(want) else {
        return Ok(());
    };
    let tag = Tags::from([(TAG_OIDC_SECRET.to_string(), secret_arn.to_string())]);
    retry(Policy::fresh(), "tag", &notify, || async {
        ctx.aws
            .elb
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(to_tags(&tag)))
            .send()
            .await
            .aws("AddTags", arn)
    })
    .await?;
    Ok(())
}

/// `SetRulePriorities` for one rule: attach mode moves one of the stack's rules when the
/// order of its routes needs it (src/model/attach.rs); elsewhere a rule's logical id is
/// its priority, which therefore never changes.
async fn set_priority(
    ctx: &Ctx<'_>,
    change: &Change,
    arn: &str,
    priority: u32,
) -> Result<(), AwsError> {
    let pair = RulePriorityPair::builder()
        .rule_arn(arn)
        .priority(i32::try_from(priority).unwrap_or(i32::MAX))
        .build();
    retry(
        Policy::fresh(),
        "move listener rule",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .elb
                .set_rule_priorities()
                .rule_priorities(pair.clone())
                .send()
                .await
                .aws("SetRulePriorities", arn)
        },
    )
    .await
    .map(|_| ())
}

/// `CreateRule`, taking over a rule an earlier attempt created.
async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RuleSpec,
    actions: Vec<Action>,
) -> Result<String, ResourceError> {
    let notify = ctx.notify(&change.logical);
    let tags = tags_with_secret(want);
    let conditions = conditions(want);
    let listener = ctx.ids.of(&want.listener)?;
    let out = retry(Policy::fresh(), "create listener rule", &notify, || async {
        ctx.aws
            .elb
            .create_rule()
            .listener_arn(&listener)
            .priority(i32::try_from(want.priority).unwrap_or(i32::MAX))
            .set_conditions(Some(conditions.clone()))
            .set_actions(Some(actions.clone()))
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
    use crate::model::spec::NOT_FOUND_BODY;

    fn rule(priority: u32) -> Found {
        let spec = RuleSpec {
            listener: Ref::External("arn:listener".into()),
            priority,
            paths: vec![],
            hosts: vec![],
            methods: vec![],
            action: RuleAction::Forward(Ref::External("arn:tg".into())),
            auth: None,
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
            action_of(&redirect_action(&redirect).build()),
            Some(RuleAction::Redirect(redirect.clone()))
        );
        assert_eq!(
            super::super::listener::render_action(&redirect_action(&redirect).build()),
            redirect.text()
        );
        for body in ["", "gone"] {
            let fixed = FixedResponse {
                status: 410,
                content_type: "text/plain".into(),
                body: body.into(),
            };
            assert_eq!(
                action_of(&fixed_action(&fixed).build()),
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

    fn jwt_rule() -> RuleSpec {
        let mut spec = match rule(10).spec {
            Spec::ListenerRule(r) => r,
            other => panic!("not a rule: {other:?}"),
        };
        spec.auth = Some(RuleAuth::Jwt {
            issuer: "https://issuer.example.com".into(),
            jwks_endpoint: "https://issuer.example.com/jwks.json".into(),
            audiences: vec!["orders".into()],
        });
        spec
    }

    #[test]
    fn the_authentication_comes_before_the_forward_and_reads_back_the_same() {
        let spec = jwt_rule();
        let sent = actions(&spec, forward_action("arn:tg"), None);
        let types: Vec<_> = sent
            .iter()
            .map(|a| (a.r#type().cloned(), a.order()))
            .collect();
        assert_eq!(
            types,
            [
                (Some(ActionTypeEnum::JwtValidation), Some(1)),
                (Some(ActionTypeEnum::Forward), Some(2))
            ]
        );
        // AWS may list them in any order: the order field decides.
        let reversed: Vec<Action> = sent.iter().rev().cloned().collect();
        let (auth, action, extras) = read_actions(&reversed);
        assert_eq!(auth, spec.auth);
        assert_eq!(action, Some(spec.action.clone()));
        assert!(extras.is_empty(), "{extras:?}");
    }

    #[test]
    fn a_forward_alone_has_no_authentication() {
        let mut spec = jwt_rule();
        spec.auth = None;
        let sent = actions(&spec, forward_action("arn:tg"), None);
        assert_eq!(sent.len(), 1);
        let (auth, action, extras) = read_actions(&sent);
        assert_eq!((auth, action), (None, Some(spec.action.clone())));
        assert!(extras.is_empty(), "{extras:?}");
    }

    #[test]
    fn a_claim_albkit_does_not_set_is_shown_as_found() {
        let mut sent = actions(&jwt_rule(), forward_action("arn:tg"), None);
        let config = sent[0]
            .jwt_validation_config()
            .cloned()
            .expect("jwt config");
        let scope = JwtValidationActionAdditionalClaim::builder()
            .name("scope")
            .format(JwtValidationActionAdditionalClaimFormatEnum::SpaceSeparatedValues)
            .values("admin")
            .build();
        let mut claims = config.additional_claims().to_vec();
        claims.push(scope);
        let changed = JwtValidationActionConfig::builder()
            .set_issuer(config.issuer().map(str::to_owned))
            .set_jwks_endpoint(config.jwks_endpoint().map(str::to_owned))
            .set_additional_claims(Some(claims))
            .build();
        sent[0].jwt_validation_config = Some(changed);
        let (_, _, extras) = read_actions(&sent);
        let auth = extras
            .iter()
            .find(|(k, _)| *k == "auth")
            .map(|(_, v)| v.as_str());
        assert!(
            auth.is_some_and(|v| v.ends_with("2 additional claims")),
            "{extras:?}"
        );
    }

    #[test]
    fn a_cognito_login_reads_back_the_same_and_a_changed_default_is_shown_as_found() {
        let mut spec = jwt_rule();
        spec.auth = Some(RuleAuth::Cognito {
            user_pool_arn: "arn:aws:cognito-idp:us-east-1:123456789012:userpool/p".into(),
            user_pool_client_id: "client".into(),
            user_pool_domain: "login".into(),
        });
        let mut sent = actions(&spec, forward_action("arn:tg"), None);
        assert_eq!(sent[0].r#type(), Some(&ActionTypeEnum::AuthenticateCognito));
        let (auth, _, extras) = read_actions(&sent);
        assert_eq!((auth, extras.len()), (spec.auth.clone(), 0));
        // AWS fills in the defaults albkit leaves alone: still albkit's.
        let mut filled = sent[0]
            .authenticate_cognito_config()
            .cloned()
            .expect("config");
        filled.scope = Some("openid".into());
        filled.session_timeout = Some(604_800);
        sent[0].authenticate_cognito_config = Some(filled.clone());
        assert!(read_actions(&sent).2.is_empty());
        filled.on_unauthenticated_request =
            Some(AuthenticateCognitoActionConditionalBehaviorEnum::Allow);
        sent[0].authenticate_cognito_config = Some(filled);
        let (_, _, extras) = read_actions(&sent);
        let auth = extras
            .iter()
            .find(|(k, _)| *k == "auth")
            .map(|(_, v)| v.as_str());
        assert!(auth.is_some_and(|v| v.ends_with("defaults")), "{extras:?}");
    }

    fn oidc_rule() -> RuleSpec {
        let mut spec = jwt_rule();
        spec.auth = Some(RuleAuth::Oidc(Box::new(OidcLogin {
            issuer: "https://login.example.com".into(),
            authorization_endpoint: "https://login.example.com/authorize".into(),
            token_endpoint: "https://login.example.com/token".into(),
            user_info_endpoint: "https://login.example.com/userinfo".into(),
            client_id: "app".into(),
            client_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC".into(),
            scope: "openid email".into(),
        })));
        spec
    }

    #[test]
    fn an_oidc_login_sends_the_secret_and_reads_back_without_it() {
        let spec = oidc_rule();
        let mut sent = actions(&spec, forward_action("arn:tg"), Some("s3cret"));
        assert_eq!(sent[0].r#type(), Some(&ActionTypeEnum::AuthenticateOidc));
        let config = sent[0].authenticate_oidc_config().expect("config");
        assert_eq!(config.client_secret(), Some("s3cret"));
        assert_eq!(config.scope(), Some("openid email"));
        // AWS returns neither the secret nor its ARN: the ARN comes from the rule's tag.
        let mut back = config.clone();
        back.client_secret = None;
        back.session_timeout = Some(604_800);
        back.on_unauthenticated_request =
            Some(AuthenticateOidcActionConditionalBehaviorEnum::Authenticate);
        sent[0].authenticate_oidc_config = Some(back.clone());
        let (auth, typed, extras) = read_actions(&sent);
        let Some(RuleAuth::Oidc(o)) = &auth else {
            panic!("not read as an OIDC login: {auth:?}")
        };
        assert_eq!(
            (o.client_secret_arn.as_str(), o.client_id.as_str()),
            ("", "app")
        );
        assert!(typed.is_some() && extras.is_empty(), "{extras:?}");
        assert!(RuleAuth::prop(auth.as_ref()).ends_with("client secret from not recorded"));
        // With the tag's ARN filled in, what was read is what was sent.
        let mut tagged = auth.clone();
        if let Some(RuleAuth::Oidc(o)) = &mut tagged {
            o.client_secret_arn = oidc_secret_arn(&spec).unwrap_or_default().to_owned();
        }
        assert_eq!(tagged, spec.auth);
        assert_eq!(
            RuleAuth::prop(spec.auth.as_ref()),
            "authenticate-oidc issuer https://login.example.com, authorization \
             https://login.example.com/authorize, token https://login.example.com/token, user \
             info https://login.example.com/userinfo, client app, scope openid email, client \
             secret from arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC"
        );
        assert_eq!(
            tags_with_secret(&spec)
                .get(TAG_OIDC_SECRET)
                .map(String::as_str),
            oidc_secret_arn(&spec)
        );
        back.on_unauthenticated_request = Some(AuthenticateOidcActionConditionalBehaviorEnum::Deny);
        sent[0].authenticate_oidc_config = Some(back);
        assert_eq!(read_actions(&sent).2.len(), 1);
        assert_eq!(
            format!("{:?}", SecretValue("s3cret".into())),
            "SecretValue(redacted)"
        );
    }

    #[test]
    fn the_tag_gives_a_found_oidc_login_its_secret_arn() {
        let spec = oidc_rule();
        let mut sent = actions(&spec, forward_action("arn:tg"), None);
        let mut changed = sent[0].authenticate_oidc_config().cloned().expect("config");
        changed.session_timeout = Some(60);
        sent[0].authenticate_oidc_config = Some(changed);
        let (auth, _, extras) = read_actions(&sent);
        let mut read = spec.clone();
        read.auth = auth;
        let mut f = rule(10);
        f.spec = Spec::ListenerRule(read);
        f.extras = extras;
        record_secret_arn(&mut f, oidc_secret_arn(&spec).map(str::to_owned));
        let Spec::ListenerRule(found) = &f.spec else {
            panic!("a rule")
        };
        assert_eq!(found.auth, spec.auth);
        let shown = f.extras.iter().find(|(k, _)| *k == "auth").map(|(_, v)| v);
        let arn = oidc_secret_arn(&spec).unwrap_or_default();
        assert!(
            shown.is_some_and(|v| v.contains(arn) && v.ends_with("defaults")),
            "{:?}",
            f.extras
        );
        // Without the tag: not recorded, so the plan shows a change.
        record_secret_arn(&mut f, None);
        let Spec::ListenerRule(found) = &f.spec else {
            panic!("a rule")
        };
        assert!(RuleAuth::prop(found.auth.as_ref()).ends_with("not recorded"));
    }

    #[test]
    fn an_action_beside_albkits_is_shown_as_found() {
        let mut sent = actions(&jwt_rule(), forward_action("arn:tg"), None);
        let mut fixed = super::super::listener::fixed_404();
        fixed.order = Some(3);
        sent.push(fixed);
        let (_, _, extras) = read_actions(&sent);
        let action = extras
            .iter()
            .find(|(k, _)| *k == "action")
            .map(|(_, v)| v.as_str());
        let fixed = format!("fixed-response 404 application/json {NOT_FOUND_BODY}");
        let want = format!("jwt-validation then forward -> arn:tg then {fixed}");
        assert_eq!(action, Some(want.as_str()));
    }
}
