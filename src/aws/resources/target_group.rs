//! The function's target group (type `lambda`), the Lambda permission that lets ELB
//! invoke the `live` alias from that target group only, and the target registration.

use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, TargetDescription, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

use super::elb::{adopt_if_owned, read_tags, retag, to_tags};
use super::ignore_not_found;
use super::{
    as_found, found, logical_of, not_tagged_reason, read_each, teardown, Ctx, Foreign, Teardown,
};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::{logical, LIVE_ALIAS};
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{permission_text, HealthCheckSpec, Ref, TargetGroupSpec, ELB_PRINCIPAL};
use crate::model::stack::Tags;

/// The statement that lets ELB invoke the alias, as text, from the alias's policy.
///
/// The function of an older stack may still have the previous scheme's name, and
/// discovery reads the target groups beside the functions, not after them: both names'
/// policies are read at once, and the statement that names this target group as its
/// source wins (then the current name's, then the previous one's).
async fn read_permission(
    ctx: &Ctx<'_>,
    function: &str,
    tg_arn: &str,
) -> Result<Option<Statement>, AwsError> {
    let sid = ctx.names.permission_statement(function);
    let (current, legacy) = (
        ctx.names.function(function),
        ctx.names.legacy_function(function),
    );
    let (current, legacy) = tokio::try_join!(
        read_statement(ctx, &current, &sid),
        read_statement(ctx, &legacy, &sid),
    )?;
    Ok(pick_permission(current, legacy, tg_arn))
}

/// The `(resource, source, account)` of a permission statement.
type Statement = (String, String, String);

/// The statement `sid` of `name:live`'s policy.
async fn read_statement(
    ctx: &Ctx<'_>,
    name: &str,
    sid: &str,
) -> Result<Option<Statement>, AwsError> {
    let request = ctx.aws.lambda.get_policy().function_name(name);
    let sent = request.qualifier(LIVE_ALIAS).send().await;
    let Some(out) = found(sent.aws("GetPolicy", name))? else {
        return Ok(None);
    };
    let policy = out.policy().unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(policy).unwrap_or_default();
    let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
    Ok(statements.iter().find(|s| s["Sid"] == sid).map(|s| {
        let text = |v: &serde_json::Value, default: &str| v.as_str().unwrap_or(default).to_string();
        (
            text(&s["Resource"], ""),
            text(&s["Condition"]["ArnLike"]["AWS:SourceArn"], "any source"),
            text(&s["Condition"]["StringEquals"]["AWS:SourceAccount"], "any"),
        )
    }))
}

/// Chooses between the statements found under the current and the previous function
/// name (see [`read_permission`]). Pure.
fn pick_permission(
    current: Option<Statement>,
    legacy: Option<Statement>,
    tg_arn: &str,
) -> Option<Statement> {
    let from_here =
        |s: &Option<Statement>| s.as_ref().is_some_and(|(_, source, _)| source == tg_arn);
    if !from_here(&current) && from_here(&legacy) {
        legacy
    } else {
        current.or(legacy)
    }
}

/// The health check a target group has, in the desired stack's terms.
fn health_check(tg: &TargetGroup) -> Option<HealthCheckSpec> {
    let number = |v: Option<i32>| u32::try_from(v.unwrap_or_default()).unwrap_or_default();
    (tg.health_check_enabled() == Some(true)).then(|| HealthCheckSpec {
        path: tg.health_check_path().unwrap_or("/").to_string(),
        interval_seconds: number(tg.health_check_interval_seconds()),
        timeout_seconds: number(tg.health_check_timeout_seconds()),
        healthy_threshold: number(tg.healthy_threshold_count()),
        unhealthy_threshold: number(tg.unhealthy_threshold_count()),
        matcher: tg
            .matcher()
            .and_then(|m| m.http_code())
            .unwrap_or("200")
            .to_string(),
    })
}

/// The stack's target groups, and the foreign ones under their names.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let groups = list_groups(ctx).await?;
    let arns: Vec<String> = groups
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_string))
        .collect();
    let tags = read_tags(ctx, &arns).await?;
    let mut owned = Vec::new();
    let mut foreign = Vec::new();
    for tg in &groups {
        let arn = tg.target_group_arn().unwrap_or_default();
        let tags = tags.get(arn).cloned().unwrap_or_default();
        if !ctx.owns(&tags) {
            foreign.extend(in_the_way(ctx, tg, &tags));
            continue;
        }
        if let Some(logical) = logical_of(&tags) {
            owned.push((tg, logical, tags));
        }
    }
    let found = read_each(owned, |(tg, logical, tags)| async move {
        observe(ctx, tg, logical, &tags).await
    })
    .await?;
    Ok((found, foreign))
}

/// The target groups whose names begin with the stack's name.
async fn list_groups(ctx: &Ctx<'_>) -> Result<Vec<TargetGroup>, AwsError> {
    let prefix = format!("{}-", ctx.stack());
    let mut groups = Vec::new();
    let mut pages = ctx.aws.elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeTargetGroups", "target groups")?;
        groups.extend(
            page.target_groups()
                .iter()
                .filter(|t| {
                    t.target_group_name()
                        .is_some_and(|n| n.starts_with(&prefix))
                })
                .cloned(),
        );
    }
    Ok(groups)
}

/// A target group that is not the stack's (`tags`) but has the current name of one of
/// the stack's target groups, which is the stack's alone: it is in the way (`Some`).
fn in_the_way(ctx: &Ctx<'_>, tg: &TargetGroup, tags: &Tags) -> Option<Foreign> {
    let name = tg.target_group_name().unwrap_or_default();
    ctx.config
        .functions
        .iter()
        .any(|f| ctx.names.target_group(&f.name) == name)
        .then(|| Foreign {
            kind: "target group",
            name: name.to_string(),
            reason: not_tagged_reason(ctx, tags),
        })
}

/// One of the stack's target groups as observed: its attributes, its targets' health
/// and the permission to invoke its function are read together.
async fn observe(
    ctx: &Ctx<'_>,
    tg: &TargetGroup,
    logical: String,
    tags: &Tags,
) -> Result<Found, AwsError> {
    let elb = &ctx.aws.elb;
    let arn = tg.target_group_arn().unwrap_or_default();
    let config_name = logical.trim_start_matches("target-group/");
    let (attrs, health, permission) = tokio::try_join!(
        async {
            elb.describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
                .await
                .aws("DescribeTargetGroupAttributes", arn)
        },
        async {
            elb.describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .aws("DescribeTargetHealth", arn)
        },
        read_permission(ctx, config_name, arn),
    )?;
    Ok(group(tg, logical, tags, &attrs, &health, permission))
}

/// A target group as found, with its attributes, its targets' health and the
/// permission statement for its function. Pure.
fn group(
    tg: &TargetGroup,
    logical: String,
    tags: &Tags,
    attrs: &DescribeTargetGroupAttributesOutput,
    health: &DescribeTargetHealthOutput,
    permission: Option<Statement>,
) -> Found {
    let arn = tg.target_group_arn().unwrap_or_default();
    let multi = attrs
        .attributes()
        .iter()
        .find(|a| a.key() == Some("lambda.multi_value_headers.enabled"))
        .and_then(|a| a.value())
        .unwrap_or("false");
    let (targets, states) = targets_and_states(health);
    let name = tg.target_group_name().unwrap_or_default();
    // The function is the one whose `live` alias is the target (or, without a target,
    // the one the permission is for).
    let live = |arn: &str| {
        arn.strip_suffix(&format!(":{LIVE_ALIAS}"))
            .map(str::to_string)
    };
    let resource = permission.as_ref().map(|(resource, ..)| resource.as_str());
    let function = live(&targets)
        .or_else(|| live(resource?))
        .unwrap_or_default();
    let spec = TargetGroupSpec {
        config_name: logical.trim_start_matches("target-group/").to_string(),
        name: name.to_string(),
        multi_value_headers: multi == "true",
        health_check: health_check(tg),
        function: Ref::External(function.clone()),
        account: permission
            .as_ref()
            .map(|(.., a)| a.clone())
            .unwrap_or_default(),
        tags: tags.clone(),
    };
    let target = format!("{function}:{LIVE_ALIAS}");
    let target_type = tg.target_type().map_or("", |t| t.as_str());
    let mut extras = vec![("target_health", states)];
    as_found(
        &mut extras,
        "target_type",
        target_type,
        TargetGroupSpec::TARGET_TYPE,
    );
    let multi_shown = spec.multi_value_headers.to_string();
    as_found(&mut extras, "multi_value_headers", multi, multi_shown);
    as_found(&mut extras, "target", &targets, &target);
    // A permission for another resource or source is shown as AWS has it.
    let text = permission.map_or_else(
        || "none".to_string(),
        |(resource, source, account)| permission_text(&resource, &source, &account),
    );
    let expected = permission_text(&target, arn, &spec.account);
    as_found(&mut extras, "permission", text, expected);
    let found = Found::new(arn, logical, spec, tags.clone()).extras(extras);
    found.with(Facts::Named(name.to_string()))
}

/// The registered targets (`none` without any) and their health states, as the
/// `target` and `target_health` properties. Pure.
fn targets_and_states(health: &DescribeTargetHealthOutput) -> (String, String) {
    let descriptions = health.target_health_descriptions();
    let targets: Vec<String> = descriptions
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
        .collect();
    let states: Vec<String> = descriptions
        .iter()
        .map(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .map_or_else(|| "unknown".into(), |s| s.as_str().to_string())
        })
        .collect();
    let targets = if targets.is_empty() {
        "none".into()
    } else {
        targets.join(", ")
    };
    (targets, states.join(", "))
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TargetGroupSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let creating = change.id.is_none();
    let arn = match &change.id {
        Some(arn) => {
            if change.changed("tags") {
                retag(ctx, arn, change, have, &want.tags).await?;
            }
            if change.changed("health_check") {
                update_health_check(ctx, change, want, arn).await?;
            }
            arn.clone()
        }
        None => create(ctx, change, want).await?,
    };
    ctx.ids.insert(&change.logical, &arn);
    if creating || change.changed("multi_value_headers") {
        set_multi_value_headers(ctx, change, want, &arn).await?;
    }
    // The function by its ARN: its name may be the previous scheme's.
    let function_arn = ctx.ids.of(&want.function)?;
    if creating || change.changed("permission") {
        allow_invoke(ctx, change, want, &arn, &function_arn).await?;
    }
    if creating || change.changed("target") {
        register(ctx, change, &arn, &function_arn).await?;
    }
    Ok(arn)
}

/// Whether ELB hands the function multi-value headers and query parameters.
async fn set_multi_value_headers(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TargetGroupSpec,
    arn: &str,
) -> Result<(), AwsError> {
    let attr = TargetGroupAttribute::builder()
        .key("lambda.multi_value_headers.enabled")
        .value(want.multi_value_headers.to_string())
        .build();
    let notify = ctx.notify(&change.logical);
    let what = "set multi-value headers";
    retry(Policy::fresh(), what, &notify, || async {
        ctx.aws
            .elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(attr.clone())
            .send()
            .await
            .aws("ModifyTargetGroupAttributes", arn)
    })
    .await
    .map(|_| ())
}

/// Registers the function's `live` alias as the target group's target.
async fn register(
    ctx: &Ctx<'_>,
    change: &Change,
    arn: &str,
    function_arn: &str,
) -> Result<(), AwsError> {
    // ELB checks the permission when registering; a fresh one may not be visible yet.
    let alias_arn = format!("{function_arn}:{LIVE_ALIAS}");
    let notify = ctx.notify(&change.logical);
    let what = "register the function";
    retry(Policy::fresh(), what, &notify, || async {
        ctx.aws
            .elb
            .register_targets()
            .target_group_arn(arn)
            .targets(TargetDescription::builder().id(&alias_arn).build())
            .send()
            .await
            .aws("RegisterTargets", arn)
    })
    .await
    .map(|_| ())
}

/// The health-check settings of a create or modify request, applied by `set`.
macro_rules! with_health_check {
    ($req:expr, $hc:expr) => {{
        let req = $req.health_check_enabled($hc.is_some());
        match $hc {
            Some(hc) => req
                .health_check_path(&hc.path)
                .health_check_interval_seconds(seconds(hc.interval_seconds))
                .health_check_timeout_seconds(seconds(hc.timeout_seconds))
                .healthy_threshold_count(seconds(hc.healthy_threshold))
                .unhealthy_threshold_count(seconds(hc.unhealthy_threshold))
                .matcher(Matcher::builder().http_code(&hc.matcher).build()),
            None => req,
        }
    }};
}

fn seconds(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

async fn update_health_check(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TargetGroupSpec,
    arn: &str,
) -> Result<(), AwsError> {
    let hc = want.health_check.as_ref();
    let notify = ctx.notify(&change.logical);
    retry(Policy::fresh(), "update health check", &notify, || async {
        let req = ctx.aws.elb.modify_target_group().target_group_arn(arn);
        with_health_check!(req, hc)
            .send()
            .await
            .aws("ModifyTargetGroup", arn)
    })
    .await
    .map(|_| ())
}

async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TargetGroupSpec,
) -> Result<String, AwsError> {
    // Idempotent by name and settings: a retry after a lost response returns the same
    // group; where the endpoint answers DuplicateTargetGroupName instead, the stack's own
    // is taken.
    let (elb, name) = (&ctx.aws.elb, want.name.as_str());
    let hc = want.health_check.as_ref();
    let notify = ctx.notify(&change.logical);
    let out = retry(Policy::fresh(), "create target group", &notify, || async {
        let req = elb
            .create_target_group()
            .name(name)
            .target_type(TargetTypeEnum::Lambda)
            .set_tags(Some(to_tags(&want.tags)));
        with_health_check!(req, hc)
            .send()
            .await
            .aws("CreateTargetGroup", &change.logical)
    })
    .await;
    match out {
        Ok(out) => out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                AwsError::incomplete("CreateTargetGroup", &change.logical, "target group ARN")
            }),
        Err(e) if e.is("DuplicateTargetGroupName") => {
            let arn = elb
                .describe_target_groups()
                .names(name)
                .send()
                .await
                .aws("DescribeTargetGroups", name)?
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn().map(str::to_string));
            adopt_if_owned(ctx, arn, e).await
        }
        Err(e) => Err(e),
    }
}

/// Lets ELB invoke the function's `live` alias from this target group, in this account.
async fn allow_invoke(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &TargetGroupSpec,
    arn: &str,
    function_arn: &str,
) -> Result<(), AwsError> {
    let sid = ctx.names.permission_statement(&want.config_name);
    // Replace a statement that points elsewhere (a recreated target group).
    remove_permission(ctx, &want.config_name, function_arn).await?;
    let notify = ctx.notify(&change.logical);
    let what = "allow the target group to invoke the function";
    retry(Policy::fresh(), what, &notify, || async {
        ctx.aws
            .lambda
            .add_permission()
            .function_name(function_arn)
            .qualifier(LIVE_ALIAS)
            .statement_id(&sid)
            .action("lambda:InvokeFunction")
            .principal(ELB_PRINCIPAL)
            // Scoped to this target group and this account, never any ALB.
            .source_arn(arn)
            .source_account(&want.account)
            .send()
            .await
            .aws("AddPermission", function_arn)
            .map(|_| ())
    })
    .await
    // Removed just above: a statement with this id is the one an attempt whose response
    // was lost added.
    .or_else(super::already_done(&["ResourceConflictException"]))
}

/// Removes the statement that lets ELB invoke the function's alias (gone already is fine).
/// `function_ref` is the function's ARN (or name).
async fn remove_permission(
    ctx: &Ctx<'_>,
    function: &str,
    function_ref: &str,
) -> Result<(), AwsError> {
    let sid = ctx.names.permission_statement(function);
    ctx.aws
        .lambda
        .remove_permission()
        .function_name(function_ref)
        .qualifier(LIVE_ALIAS)
        .statement_id(&sid)
        .send()
        .await
        .aws("RemovePermission", function_ref)
        .map(|_| ())
        .or_else(ignore_not_found)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let (arn, have) = (have.id.as_str(), &have.resource);
    let function = have.logical.trim_start_matches("target-group/");
    // Only the stack's own function, as discovery found it (by its ARN, whatever its
    // name); without one there is no permission left to remove.
    if let Some(function_arn) = ctx.ids.find(&logical::function(function)) {
        remove_permission(ctx, function, &function_arn).await?;
    }
    // ResourceInUse while a rule still forwards to it.
    teardown(ctx, &have.logical, "delete target group", || async {
        ctx.aws
            .elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .aws("DeleteTargetGroup", arn)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(source: &str) -> Option<Statement> {
        Some((
            format!("arn:fn:{source}:live"),
            source.to_string(),
            "1".to_string(),
        ))
    }

    #[test]
    fn the_permission_from_this_target_group_wins_whatever_the_functions_name() {
        let here = "arn:tg/here";
        let source = |s: Option<Statement>| s.map(|(_, source, _)| source);
        let pick = |a, b| source(pick_permission(statement(a), statement(b), here));
        assert_eq!(pick("arn:tg/else", here).as_deref(), Some(here));
        assert_eq!(pick(here, "arn:tg/else").as_deref(), Some(here));
        assert_eq!(pick("arn:tg/a", "arn:tg/b").as_deref(), Some("arn:tg/a"));
        let legacy = pick_permission(None, statement("arn:tg/b"), here);
        assert_eq!(source(legacy).as_deref(), Some("arn:tg/b"));
        assert_eq!(pick_permission(None, None, here), None);
    }
}
