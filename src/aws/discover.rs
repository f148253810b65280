//! Reads everything the stack owns, in parallel, as the kinds' specs with references as
//! AWS ids; [`resolve`] then makes those references logical ids and renders each
//! resource as the plan compares it with the desired stack.

use std::collections::BTreeMap;

use super::attach;
use super::error::AwsError;
use super::resources::{
    alarm, alarm_topic, certificate, dashboard, dns_record, function, function_concurrency,
    function_provisioned, internet_gateway, listener, listener_certificates, load_balancer,
    log_bucket, log_group, role, route_table, rule, security_group, subnet, target_group,
    trust_store, vpc, web_acl, web_acl_association, Ctx, Foreign,
};
use crate::model::attach::AttachedListener;
use crate::model::found::{resolve, Found};
use crate::model::names::{log_group_of, logical, Names};
use crate::model::plan::{Observed, ObservedStack};

#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub observed: ObservedStack,
    /// Resources under the stack's names that are not tagged for it.
    pub foreign: Vec<Foreign>,
    /// Logical ids claimed by more than one resource.
    pub duplicates: Vec<(String, Vec<String>)>,
    /// Attach mode: the listeners the config names, with every rule on them.
    pub attached: Vec<AttachedListener>,
}

fn collect(into: &mut Discovery, found: Vec<Observed>) {
    for o in found {
        let key = o.resource.logical.clone();
        if let Some(existing) = into.observed.get(&key) {
            if existing.id != o.id {
                match into.duplicates.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, ids)) => ids.push(o.id.clone()),
                    None => into
                        .duplicates
                        .push((key.clone(), vec![existing.id.clone(), o.id.clone()])),
                }
            }
            continue;
        }
        into.observed.insert(key, o);
    }
}

/// Reads the whole stack. Independent reads run concurrently; listeners and rules
/// follow the load balancer they belong to.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Discovery, AwsError> {
    // Every read of the stack is in this one future; on the heap, it does not weigh on
    // the stack of whatever awaits it (debug builds keep large futures' copies there).
    Box::pin(discover_all(ctx)).await
}

/// The reads of [`discover`], all at once, put together.
async fn discover_all(ctx: &Ctx<'_>) -> Result<Discovery, AwsError> {
    let (
        net,
        sg,
        (elb_found, elb_foreign),
        (bucket, bucket_foreign),
        certs,
        (roles, role_foreign),
        groups,
        (functions, concurrency, function_foreign),
        (target_groups, target_group_foreign),
        (records, records_foreign),
        (web_acl, web_acl_foreign),
        (attached_rules, attached),
        (mut alarms, alarms_foreign),
    ) = tokio::try_join!(
        discover_network(ctx),
        security_group::discover(ctx),
        discover_load_balancer(ctx),
        log_bucket::discover(ctx),
        certificate::discover(ctx),
        role::discover(ctx),
        log_group::discover(ctx),
        discover_functions(ctx),
        target_group::discover(ctx),
        dns_record::discover(ctx),
        web_acl::discover(ctx),
        attach::discover(ctx),
        discover_alarms(ctx),
    )?;
    let ((association, association_foreign), (trust_store, trust_store_foreign)) = tokio::try_join!(
        discover_association(ctx, &elb_found, &web_acl),
        discover_trust_store(ctx, &elb_found)
    )?;
    let (groups, log_group_foreign) = owned_log_groups(ctx, &functions, groups);
    let mut d = Discovery {
        attached,
        ..Discovery::default()
    };
    let (records, not_ours) = split_alias_records(ctx, records, &elb_found);
    d.foreign.extend(not_ours);
    d.foreign.extend(records_foreign);
    let aliases = load_balancer_aliases(&elb_found);
    link_alarms(&mut alarms, &elb_found, &target_groups);
    let found = [
        net,
        sg,
        elb_found,
        bucket,
        certs,
        roles,
        groups,
        functions,
        concurrency,
        target_groups,
        records,
        web_acl,
        association,
        attached_rules,
        alarms,
        trust_store,
    ];
    collect(&mut d, resolve(found.concat(), &aliases));
    let foreign = [
        elb_foreign,
        bucket_foreign,
        role_foreign,
        function_foreign,
        target_group_foreign,
        log_group_foreign,
        web_acl_foreign,
        association_foreign,
        alarms_foreign,
        trust_store_foreign,
    ];
    d.foreign.extend(foreign.into_iter().flatten());
    Ok(d)
}

/// The stack's log groups: the tagged ones, and the untagged ones of its functions'
/// names (Lambda creates them untagged); with the foreign ones.
fn owned_log_groups(
    ctx: &Ctx<'_>,
    functions: &[Found],
    groups: log_group::Groups,
) -> (Vec<Found>, Vec<Foreign>) {
    let log_group::Groups {
        owned: mut groups,
        untagged,
        foreign,
    } = groups;
    let adopted = adopt_untagged_log_groups(ctx.names, functions, &groups, untagged);
    groups.extend(adopted);
    (groups, foreign)
}

/// Puts the load balancer's and target groups' ARNs into the alarms' and dashboard's
/// dimensions, as AWS reports them.
fn link_alarms(alarms: &mut [Found], load_balancers: &[Found], target_groups: &[Found]) {
    let arns: Vec<&str> = load_balancers
        .iter()
        .chain(target_groups)
        .map(|f| f.id.as_str())
        .collect();
    alarm::link_dimensions(alarms, &arns);
    dashboard::link_dimensions(alarms, &arns);
}

/// The stack's alarms, their SNS topic and its dashboard (`[alarms]`), read always: a
/// config that dropped them leaves them to remove.
async fn discover_alarms(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let ((alarms, mut foreign), (topic, topic_foreign), (board, board_foreign)) = tokio::try_join!(
        alarm::discover(ctx),
        alarm_topic::discover(ctx),
        dashboard::discover(ctx)
    )?;
    foreign.extend(topic_foreign);
    foreign.extend(board_foreign);
    Ok(([alarms, topic, board].concat(), foreign))
}

/// The trust store of `[https.mtls]`: read when the config asks for one or the stack's
/// HTTPS listener verifies clients against one (a config that dropped `mtls` leaves it
/// to remove); otherwise not at all, so a stack without mTLS makes no trust store call.
async fn discover_trust_store(
    ctx: &Ctx<'_>,
    elb_found: &[Found],
) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let wanted = ctx.config.https.as_ref().is_some_and(|h| h.mtls.is_some());
    let verifying = elb_found
        .iter()
        .any(|f| f.logical == logical::LISTENER_HTTPS && listener::verifies(f));
    if ctx.config.load_balancer.attach.is_some() || !(wanted || verifying) {
        return Ok((vec![], vec![]));
    }
    trust_store::discover(ctx).await
}

/// The web ACL association of the stack's load balancer: read once both are known, and
/// only when the config has `[waf]` or the stack has a web ACL (a load balancer's web
/// ACL is otherwise none of albkit's business).
async fn discover_association(
    ctx: &Ctx<'_>,
    elb_found: &[Found],
    web_acl: &[Found],
) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let Some(lb) = load_balancer_of(elb_found) else {
        return Ok((vec![], vec![]));
    };
    if ctx.config.waf.is_none() && web_acl.is_empty() {
        return Ok((vec![], vec![]));
    }
    web_acl_association::discover(ctx, &lb.id, web_acl.first()).await
}

/// The stack's VPC, subnets, internet gateway and route tables. A reused VPC is never
/// tagged, so it is never found here; tagged network resources left from an earlier
/// managed configuration are.
async fn discover_network(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let (v, s, g, r) = tokio::try_join!(
        vpc::discover(ctx),
        subnet::discover(ctx),
        internet_gateway::discover(ctx),
        route_table::discover(ctx)
    )?;
    Ok([v, s, g, r].concat())
}

/// The load balancer with its listeners and rules, which are read as soon as its ARN
/// is known, beside its tags and attributes (all listeners' rules at once; rules take
/// their tags from the load balancer): three round trips in all.
async fn discover_load_balancer(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let Some(lb) = load_balancer::describe(ctx).await? else {
        return Ok((vec![], vec![]));
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let ((mut found, foreign), mut inside) = tokio::try_join!(
        load_balancer::observe(ctx, &lb),
        discover_listeners(ctx, &arn)
    )?;
    let lb_tags = load_balancer_of(&found).map(|o| o.tags.clone());
    rule::inherit_tags(&mut inside, &lb_tags.unwrap_or_default());
    // What lives in a load balancer the stack does not own is not the stack's either.
    if foreign.is_empty() {
        found.extend(inside);
    }
    Ok((found, foreign))
}

/// The stack's functions, then at once the reserved and the provisioned concurrency
/// of each (foreign functions beside them).
async fn discover_functions(
    ctx: &Ctx<'_>,
) -> Result<(Vec<Found>, Vec<Found>, Vec<Foreign>), AwsError> {
    let (functions, foreign) = function::discover(ctx).await?;
    let (reserved, provisioned) = tokio::try_join!(
        function_concurrency::discover(ctx, &functions),
        function_provisioned::discover(ctx, &functions)
    )?;
    Ok((functions, [reserved, provisioned].concat(), foreign))
}

/// The listeners of the load balancer `lb_arn` and, at once, the rules of all of them
/// and the HTTPS listeners' extra certificates.
async fn discover_listeners(ctx: &Ctx<'_>, lb_arn: &str) -> Result<Vec<Found>, AwsError> {
    let listeners = listener::describe(ctx, lb_arn).await?;
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let (found, rules, certificates) = tokio::try_join!(
        listener::observe(ctx, &listeners),
        rule::discover(ctx, &arns),
        listener_certificates::read(ctx, &listeners)
    )?;
    let certificates = listener_certificates::found_for(&found, certificates);
    Ok([found, rules, certificates].concat())
}

/// The load balancer among what was found.
fn load_balancer_of(found: &[Found]) -> Option<&Found> {
    found.iter().find(|f| f.logical == logical::LOAD_BALANCER)
}

/// The DNS name of the load balancer among what was found.
fn load_balancer_dns(found: &[Found]) -> Option<String> {
    load_balancer_of(found)
        .and_then(|f| load_balancer::endpoint(&f.facts))
        .map(|e| e.dns_name)
}

/// Splits the alias records at the domain into the stack's and foreign ones: a record
/// is the stack's only when it points at the stack's load balancer (found in
/// `elb_found`); one that points anywhere else is left alone.
fn split_alias_records(
    ctx: &Ctx<'_>,
    records: Vec<Found>,
    elb_found: &[Found],
) -> (Vec<Found>, Vec<Foreign>) {
    let lb_dns = load_balancer_dns(elb_found);
    let (ours, not_ours): (Vec<Found>, Vec<Found>) = records.into_iter().partition(|r| {
        dns_record::alias_record(&r.facts).is_some_and(|a| {
            let (name, region) = (&ctx.names.load_balancer(), &ctx.aws.region);
            dns_record::owns_alias(&a.target, lb_dns.as_deref(), name, region)
        })
    });
    let foreign = not_ours
        .iter()
        .filter_map(|r| dns_record::alias_record(&r.facts))
        .map(|r| Foreign {
            kind: "Route 53 alias record",
            name: format!("{} {} in zone {}", r.name, r.record_type, r.zone),
            reason: format!(
                "it points at {}, not at the stack's load balancer {}",
                dns_record::plain(&r.target),
                ctx.names.load_balancer()
            ),
        });
    (ours, foreign.collect())
}

/// The names alias records use for the load balancer (its DNS name, with and without
/// `dualstack.`), as ids [`resolve`] takes for its logical id.
fn load_balancer_aliases(elb_found: &[Found]) -> Vec<(String, String)> {
    let Some(dns) = load_balancer_dns(elb_found) else {
        return Vec::new();
    };
    let dns = dns.to_ascii_lowercase();
    let lb = || logical::LOAD_BALANCER.to_string();
    vec![(format!("dualstack.{dns}"), lb()), (dns, lb())]
}

/// The untagged log groups (see [`log_group::Groups::untagged`]) that are the stack's:
/// the one where the stack's function writes, `/aws/lambda/<its name>`, or, when the
/// function does not exist, the one of the current naming scheme. An untagged group
/// under a function's previous name is not taken for a stack whose function has the
/// current name: under the previous scheme, that name may be another stack's. Pure.
pub(crate) fn adopt_untagged_log_groups(
    names: &Names,
    functions: &[Found],
    owned: &[Found],
    untagged: Vec<Found>,
) -> Vec<Found> {
    untagged
        .into_iter()
        .filter(|g| !owned.iter().any(|o| o.logical == g.logical))
        .filter(|g| {
            let function = g.logical.trim_start_matches("log-group/");
            let writes_to = functions
                .iter()
                .find(|f| f.logical == logical::function(function))
                .and_then(Found::name)
                .map_or_else(|| names.log_group(function), log_group_of);
            g.name() == Some(writes_to.as_str())
        })
        .collect()
}

/// Seeds the id registry from what exists.
pub fn seed_ids(ctx: &Ctx<'_>, observed: &BTreeMap<String, Observed>) {
    for (logical_id, o) in observed {
        ctx.ids.insert(logical_id, &o.id);
        if let Some(endpoint) = load_balancer::endpoint(&o.facts) {
            ctx.ids.set_endpoint(endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::Facts;
    use crate::model::spec::LogGroupSpec;
    use crate::model::stack::Tags;

    #[test]
    fn untagged_log_groups_are_taken_where_the_stacks_function_writes() {
        let names = Names::new("shop", "us-east-1");
        let named = |id: String, logical: &str, name: &str| {
            let spec = LogGroupSpec {
                name: name.into(),
                retention_days: 1,
                tags: Tags::new(),
            };
            Found::new(id, logical, spec, Tags::new()).with(Facts::Named(name.into()))
        };
        let group = |name: &str| named(name.into(), "log-group/api", name);
        let function = |name: &str| named(format!("arn:{name}"), "function/api", name);
        let both = || {
            vec![
                group("/aws/lambda/shop--api"),
                group("/aws/lambda/shop-api"),
            ]
        };
        let names_of = |v: Vec<Found>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
        // No function yet: only the current scheme's name.
        assert_eq!(
            names_of(adopt_untagged_log_groups(&names, &[], &[], both())),
            ["/aws/lambda/shop--api"]
        );
        // A function of the previous scheme: its own group.
        assert_eq!(
            names_of(adopt_untagged_log_groups(
                &names,
                &[function("shop-api")],
                &[],
                both()
            )),
            ["/aws/lambda/shop-api"]
        );
        // A tagged group wins over any untagged one.
        assert!(
            adopt_untagged_log_groups(&names, &[], &[group("/aws/lambda/x")], both()).is_empty()
        );
    }
}
