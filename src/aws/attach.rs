//! Attach mode's reads (docs/attach.md): the listeners `[load_balancer]` names and every
//! rule on them. The stack's own rules (tagged `albkit:stack=<name>`, their logical id in
//! `albkit:resource`) are found as resources of the stack; everyone else's are only
//! read, for [`crate::model::attach::place`]. The listeners and the load balancer are
//! never written.

use aws_sdk_elasticloadbalancingv2::types::Listener;

use super::error::{AwsError, AwsResultExt};
use super::resources::elb::read_tags;
use super::resources::{logical_of, rule, Ctx};
use super::retry::{retry, Policy};
use crate::model::attach::{AttachedListener, ListenerRule};
use crate::model::found::Found;
use crate::model::spec::Spec;

/// The attached listeners with every rule on them, and the stack's own rules among those
/// as found resources; nothing outside attach mode.
pub(crate) async fn discover(
    ctx: &Ctx<'_>,
) -> Result<(Vec<Found>, Vec<AttachedListener>), AwsError> {
    let Some(attach) = &ctx.config.load_balancer.attach else {
        return Ok((Vec::new(), Vec::new()));
    };
    let reads = attach
        .listeners()
        .into_iter()
        .map(|(key, http, arn)| read_listener(ctx, key, http, arn.as_str()));
    let per_listener = futures::future::try_join_all(reads).await?;
    let mut found = Vec::new();
    let mut listeners = Vec::new();
    for (f, l) in per_listener {
        found.extend(f);
        listeners.push(l);
    }
    Ok((found, listeners))
}

/// One listener (`DescribeListeners` by ARN; one that does not exist is reported as
/// such, for `plan` and `up` to name its key), its rules and their tags.
async fn read_listener(
    ctx: &Ctx<'_>,
    key: &'static str,
    http: bool,
    arn: &str,
) -> Result<(Vec<Found>, AttachedListener), AwsError> {
    let mut attached = AttachedListener {
        key,
        http,
        arn: arn.to_owned(),
        protocol_port: None,
        rules: Vec::new(),
    };
    let Some(listener) = describe(ctx, key, arn).await? else {
        return Ok((Vec::new(), attached));
    };
    attached.protocol_port = Some(protocol_port(&listener));
    let rules = rule::describe(ctx, arn).await?;
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    let tags = read_tags(ctx, &arns).await?;
    let mut found = Vec::new();
    for mut f in rules.iter().filter_map(|r| rule::found_of(arn, r)) {
        let rule_tags = tags.get(&f.id).cloned().unwrap_or_default();
        let owner = if ctx.owns(&rule_tags) {
            logical_of(&rule_tags)
        } else {
            None
        };
        let Spec::ListenerRule(spec) = &mut f.spec else {
            continue;
        };
        attached.rules.push(ListenerRule {
            arn: f.id.clone(),
            priority: spec.priority,
            paths: spec.paths.clone(),
            hosts: spec.hosts.clone(),
            methods: spec.methods.clone(),
            owner: owner.clone(),
        });
        if let Some(logical) = owner {
            spec.tags.clone_from(&rule_tags);
            f.tags = rule_tags;
            f.logical = logical;
            found.push(f);
        }
    }
    Ok((found, attached))
}

/// The listener of `arn`; `None` when it does not exist.
async fn describe(ctx: &Ctx<'_>, key: &str, arn: &str) -> Result<Option<Listener>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read the attached listener",
        &ctx.notify(key),
        || async {
            ctx.aws
                .elb
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
                .aws("DescribeListeners", arn)
        },
    )
    .await;
    match out {
        Ok(out) => Ok(out.listeners().first().cloned()),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `HTTPS:443`, as the plan and `status` name the listener.
fn protocol_port(l: &Listener) -> String {
    let protocol = l.protocol().map_or("?", |p| p.as_str());
    let port = l.port().map_or_else(|| "?".to_owned(), |p| p.to_string());
    format!("{protocol}:{port}")
}
