//! Reads everything the stack owns, in parallel, and writes references between
//! resources as logical ids so the plan can compare them with the desired stack.

use std::collections::BTreeMap;

use super::error::AwsError;
use super::resources::{
    certificate, dns_record, function, internet_gateway, listener, listener_certificates,
    load_balancer, log_bucket, log_group, role, route_table, rule, security_group, subnet,
    target_group, vpc, Ctx, Foreign,
};
use crate::model::names::{log_group_of, logical, Names};
use crate::model::plan::{Observed, ObservedStack};
use crate::model::stack::Kind;

#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub observed: ObservedStack,
    /// Resources under the stack's names that are not tagged for it.
    pub foreign: Vec<Foreign>,
    /// Logical ids claimed by more than one resource.
    pub duplicates: Vec<(String, Vec<String>)>,
}

/// Properties that hold references to other resources of the stack.
const REFERENCE_PROPS: &[&str] = &[
    "vpc",
    "subnets",
    "security_groups",
    "attached_to",
    "routes",
    "associations",
    "role",
    "listener",
    "action",
    "default_action",
    "certificate",
    "alias",
    "target",
    "permission",
];

/// Properties that are lists whose order AWS does not keep.
const LIST_PROPS: &[&str] = &["subnets", "associations", "security_groups"];

/// Replaces `id` in `text` with `logical` wherever it stands as a whole token (after the
/// start, a space, `,`, `[` or `>`; before the end, `:`, `,` or a space), so that one ARN
/// never rewrites the middle of another. It knows no property's grammar.
fn replace_token(text: &str, id: &str, logical: &str) -> String {
    if id.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(id) {
        let after = &rest[pos + id.len()..];
        let before_ok = pos == 0 || rest[..pos].ends_with([' ', ',', '[', '>']);
        let after_ok = after.is_empty() || after.starts_with([':', ',', ' ']);
        out.push_str(&rest[..pos]);
        if before_ok && after_ok {
            out.push_str(logical);
        } else {
            out.push_str(id);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Rewrites AWS ids in reference properties as logical ids. Pure.
pub(crate) fn resolve_references(observed: &mut ObservedStack, aliases: &[(String, String)]) {
    let mut ids: Vec<(String, String)> = observed
        .values()
        .filter(|o| {
            !matches!(
                o.resource.kind,
                Kind::LogBucket | Kind::LogGroup | Kind::DnsRecord | Kind::ListenerCertificates
            )
        })
        .map(|o| (o.id.clone(), o.resource.logical.clone()))
        .chain(aliases.iter().cloned())
        .collect();
    // Longest first, so an ARN is replaced before any id it contains.
    ids.sort_by_key(|(id, _)| std::cmp::Reverse(id.len()));
    for o in observed.values_mut() {
        for (name, value) in &mut o.resource.props {
            if !REFERENCE_PROPS.contains(name) {
                continue;
            }
            for (id, logical) in &ids {
                *value = replace_token(value, id, logical);
            }
            if LIST_PROPS.contains(name) {
                let mut items: Vec<&str> = value.split(", ").filter(|s| !s.is_empty()).collect();
                items.sort();
                *value = items.join(", ");
            }
        }
    }
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
        (functions, function_foreign),
        (target_groups, target_group_foreign),
        (records, records_foreign),
    ) = tokio::try_join!(
        discover_network(ctx),
        security_group::discover(ctx),
        discover_load_balancer(ctx),
        log_bucket::discover(ctx),
        certificate::discover(ctx),
        role::discover(ctx),
        log_group::discover(ctx),
        function::discover(ctx),
        target_group::discover(ctx),
        dns_record::discover(ctx),
    )?;
    let log_group::Found {
        owned: mut groups,
        untagged,
        foreign: log_group_foreign,
    } = groups;
    let adopted = adopt_untagged_log_groups(ctx.names, &functions, &groups, untagged);
    groups.extend(adopted);
    let mut d = Discovery::default();
    let (records, not_ours) = split_alias_records(ctx, records, &elb_found);
    d.foreign.extend(not_ours);
    d.foreign.extend(records_foreign);
    let aliases = load_balancer_aliases(&elb_found);
    for found in [
        net,
        sg,
        elb_found,
        bucket,
        certs,
        roles,
        groups,
        functions,
        target_groups,
        records,
    ] {
        collect(&mut d, found);
    }
    d.foreign.extend(elb_foreign);
    d.foreign.extend(bucket_foreign);
    d.foreign.extend(role_foreign);
    d.foreign.extend(function_foreign);
    d.foreign.extend(target_group_foreign);
    d.foreign.extend(log_group_foreign);
    resolve_references(&mut d.observed, &aliases);
    Ok(d)
}

/// The stack's VPC, subnets, internet gateway and route tables. A reused VPC is never
/// tagged, so it is never found here; tagged network resources left from an earlier
/// managed configuration are.
async fn discover_network(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
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
async fn discover_load_balancer(ctx: &Ctx<'_>) -> Result<(Vec<Observed>, Vec<Foreign>), AwsError> {
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

/// The listeners of the load balancer `lb_arn` and, at once, the rules of all of them
/// and the HTTPS listeners' extra certificates.
async fn discover_listeners(ctx: &Ctx<'_>, lb_arn: &str) -> Result<Vec<Observed>, AwsError> {
    let listeners = listener::describe(ctx, lb_arn).await?;
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let (observed, rules, certificates) = tokio::try_join!(
        listener::observe(ctx, &listeners),
        rule::discover(ctx, &arns),
        listener_certificates::read(ctx, &listeners)
    )?;
    let certificates = listener_certificates::observed_for(&observed, certificates);
    Ok([observed, rules, certificates].concat())
}

/// The load balancer among what was observed.
fn load_balancer_of(found: &[Observed]) -> Option<&Observed> {
    found
        .iter()
        .find(|o| o.resource.logical == logical::LOAD_BALANCER)
}

/// The DNS name of the load balancer among what was observed.
fn load_balancer_dns(found: &[Observed]) -> Option<String> {
    load_balancer_of(found)
        .and_then(load_balancer::endpoint)
        .map(|e| e.dns_name)
}

/// Splits the alias records at the domain into the stack's and foreign ones: a record
/// is the stack's only when it points at the stack's load balancer (found in
/// `elb_found`); one that points anywhere else is left alone.
fn split_alias_records(
    ctx: &Ctx<'_>,
    records: Vec<Observed>,
    elb_found: &[Observed],
) -> (Vec<Observed>, Vec<Foreign>) {
    let lb_dns = load_balancer_dns(elb_found);
    let (ours, not_ours): (Vec<Observed>, Vec<Observed>) = records.into_iter().partition(|r| {
        dns_record::alias_record(r).is_some_and(|a| {
            let (name, region) = (&ctx.names.load_balancer(), &ctx.aws.region);
            dns_record::owns_alias(&a.target, lb_dns.as_deref(), name, region)
        })
    });
    let foreign = not_ours
        .iter()
        .filter_map(dns_record::alias_record)
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
/// `dualstack.`), as ids to rewrite into its logical id.
fn load_balancer_aliases(elb_found: &[Observed]) -> Vec<(String, String)> {
    let Some(dns) = load_balancer_dns(elb_found) else {
        return Vec::new();
    };
    let dns = dns.to_ascii_lowercase();
    let lb = || logical::LOAD_BALANCER.to_string();
    vec![(format!("dualstack.{dns}"), lb()), (dns, lb())]
}

/// The untagged log groups (see [`log_group::Found::untagged`]) that are the stack's:
/// the one where the stack's function writes, `/aws/lambda/<its name>`, or, when the
/// function does not exist, the one of the current naming scheme. An untagged group
/// under a function's previous name is not taken for a stack whose function has the
/// current name: under the previous scheme, that name may be another stack's. Pure.
pub(crate) fn adopt_untagged_log_groups(
    names: &Names,
    functions: &[Observed],
    owned: &[Observed],
    untagged: Vec<Observed>,
) -> Vec<Observed> {
    untagged
        .into_iter()
        .filter(|g| {
            !owned
                .iter()
                .any(|o| o.resource.logical == g.resource.logical)
        })
        .filter(|g| {
            let function = g.resource.logical.trim_start_matches("log-group/");
            let writes_to = functions
                .iter()
                .find(|f| f.resource.logical == logical::function(function))
                .and_then(Observed::name)
                .map_or_else(|| names.log_group(function), log_group_of);
            g.name() == Some(writes_to.as_str())
        })
        .collect()
}

/// Seeds the id registry from what exists.
pub fn seed_ids(ctx: &Ctx<'_>, observed: &BTreeMap<String, Observed>) {
    for (logical_id, o) in observed {
        ctx.ids.insert(logical_id, &o.id);
        if let Some(endpoint) = load_balancer::endpoint(o) {
            ctx.ids.set_endpoint(endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::observed;
    use crate::model::plan::Facts;
    use crate::model::stack::{Resource, Tags};

    #[test]
    fn untagged_log_groups_are_taken_where_the_stacks_function_writes() {
        let names = Names::new("shop", "us-east-1");
        let named = |id: String, logical: &str, kind, name: &str| {
            let resource = Resource::new(logical, kind);
            observed(id, resource, Tags::new()).with(Facts::Named(name.into()))
        };
        let group = |name: &str| named(name.into(), "log-group/api", Kind::LogGroup, name);
        let function =
            |name: &str| named(format!("arn:{name}"), "function/api", Kind::Function, name);
        let both = || {
            vec![
                group("/aws/lambda/shop--api"),
                group("/aws/lambda/shop-api"),
            ]
        };
        let names_of = |v: Vec<Observed>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
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

    #[test]
    fn tokens_are_replaced_whole() {
        let f = "arn:aws:lambda:us-east-1:1:function:s-api";
        assert_eq!(
            replace_token(&format!("{f}:live"), f, "function/api"),
            "function/api:live"
        );
        assert_eq!(
            replace_token(&format!("{f}2:live"), f, "function/api"),
            format!("{f}2:live")
        );
        assert_eq!(
            replace_token("subnet-1, subnet-12", "subnet-1", "subnet/1"),
            "subnet/1, subnet-12"
        );
    }

    #[test]
    fn references_become_logical_ids_and_lists_are_sorted() {
        let mut stack = ObservedStack::new();
        let add = |s: &mut ObservedStack, id: &str, r: Resource| {
            s.insert(r.logical.clone(), observed(id, r, Tags::new()));
        };
        add(&mut stack, "vpc-1", Resource::new("vpc", Kind::Vpc));
        add(
            &mut stack,
            "subnet-b",
            Resource::new("subnet/1", Kind::Subnet).prop("vpc", "vpc-1"),
        );
        add(
            &mut stack,
            "subnet-a",
            Resource::new("subnet/2", Kind::Subnet).prop("vpc", "vpc-1"),
        );
        add(
            &mut stack,
            "arn:lb",
            Resource::new("load-balancer", Kind::LoadBalancer)
                .prop("subnets", "subnet-a, subnet-b")
                .prop("name", "vpc-1"),
        );
        resolve_references(&mut stack, &[]);
        assert_eq!(stack["subnet/1"].resource.get("vpc"), Some("vpc"));
        assert_eq!(
            stack["load-balancer"].resource.get("subnets"),
            Some("subnet/1, subnet/2")
        );
        // Not a reference property: left alone.
        assert_eq!(stack["load-balancer"].resource.get("name"), Some("vpc-1"));
    }
}
