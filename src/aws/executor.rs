//! Executes a plan: a dependency graph run with bounded concurrency. The executor
//! takes no decisions: every action comes from the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};

use super::error::AwsError;
use super::events::Event;
use super::resources::{
    certificate, dns_record, function, internet_gateway, listener, listener_certificates,
    load_balancer, log_bucket, log_group, role, route_table, rule, security_group, subnet,
    target_group, vpc, Ctx,
};
use crate::model::names::logical;
use crate::model::plan::{
    creation_rank, dependencies, Action, Change, Observed, ObservedStack, Plan,
};
use crate::model::spec::Spec;
use crate::model::stack::{Desired, Kind};

/// How many AWS operations run at once.
const CONCURRENCY: usize = 8;

/// What happened to each resource.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub done: Vec<(String, Action)>,
    pub kept: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{logical}: {source}")]
pub struct ApplyError {
    pub logical: String,
    #[source]
    pub source: AwsError,
    /// Other failures seen before everything in flight stopped.
    pub others: Vec<(String, AwsError)>,
}

impl ApplyError {
    /// Records a failure: the first one is the error, later ones ride along.
    fn record(acc: &mut Option<ApplyError>, logical: String, error: AwsError) {
        match acc {
            None => {
                *acc = Some(ApplyError {
                    logical,
                    source: error,
                    others: vec![],
                })
            }
            Some(f) => f.others.push((logical, error)),
        }
    }
}

type NodeFuture<'a> = Pin<Box<dyn Future<Output = (String, Result<String, AwsError>)> + Send + 'a>>;

/// What a deletion may take with it beyond the resource itself. Each is the user's
/// explicit choice on `down`; the deletions `up` plans take none of them but the logs
/// its plan showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Teardown {
    /// Delete the access-log bucket (every object version) and the log groups; without
    /// it they are kept.
    pub purge_logs: bool,
    /// Turn off the load balancer's deletion protection first; without it a protected
    /// load balancer is not deleted.
    pub disable_deletion_protection: bool,
    /// Delete the certificate's DNS validation CNAMEs, which ACM shares between every
    /// certificate of the same domain name in the account; without it they are kept.
    pub delete_validation_records: bool,
}

impl Teardown {
    /// What `up` may do when its plan deletes or replaces something: the logs (the plan
    /// marks their deletion), nothing else.
    pub const UP: Teardown = Teardown {
        purge_logs: true,
        disable_deletion_protection: false,
        delete_validation_records: false,
    };
}

/// Deletes one resource. Log buckets and log groups are kept unless `purge_logs`;
/// returns `false` when the resource was kept.
pub async fn delete_one(ctx: &Ctx<'_>, have: &Observed, opts: Teardown) -> Result<bool, AwsError> {
    let id = have.id.as_str();
    let r = &have.resource;
    match r.kind {
        Kind::LogBucket if !opts.purge_logs => return Ok(false),
        Kind::LogGroup if !opts.purge_logs => return Ok(false),
        Kind::LogBucket => log_bucket::purge(ctx, id).await?,
        Kind::LogGroup => log_group::delete(ctx, id).await?,
        Kind::Vpc => vpc::delete(ctx, id).await?,
        Kind::Subnet => subnet::delete(ctx, id).await?,
        Kind::InternetGateway => internet_gateway::delete(ctx, id, r).await?,
        Kind::RouteTable => route_table::delete(ctx, id, r).await?,
        Kind::SecurityGroup => security_group::delete(ctx, id).await?,
        Kind::LoadBalancer => {
            load_balancer::delete(ctx, id, r, opts.disable_deletion_protection).await?
        }
        Kind::Certificate => {
            certificate::delete(ctx, id, r, opts.delete_validation_records).await?
        }
        Kind::Listener => listener::delete(ctx, id).await?,
        Kind::ListenerCertificates => listener_certificates::delete(ctx, id).await?,
        Kind::Role => role::delete(ctx, r).await?,
        Kind::Function => function::delete(ctx, id).await?,
        Kind::TargetGroup => target_group::delete(ctx, id, r).await?,
        Kind::ListenerRule => rule::delete(ctx, id).await?,
        Kind::DnsRecord => dns_record::delete(ctx, r).await?,
    }
    Ok(true)
}

async fn run_node<'a>(
    ctx: &'a Ctx<'a>,
    change: &'a Change,
    want: &'a Spec,
    old: Option<&'a Observed>,
) -> (String, Result<String, AwsError>) {
    let started = Instant::now();
    ctx.reporter.event(Event::Started {
        logical: change.logical.clone(),
        kind: change.kind,
        action: change.action,
    });
    let result = async {
        if change.action == Action::Replace && change.kind != Kind::Certificate {
            // Names are unique: the old one goes first. A certificate is created before
            // its predecessor is deleted (the listener still uses the old one).
            if let Some(old) = old {
                delete_one(ctx, old, Teardown::UP).await?;
            }
            ctx.ids.remove(&change.logical);
            let fresh = Change {
                id: None,
                action: Action::Create,
                ..change.clone()
            };
            super::resources::apply(ctx, &fresh, want).await
        } else {
            super::resources::apply(ctx, change, want).await
        }
    }
    .await;
    match &result {
        Ok(id) => ctx.reporter.event(Event::Finished {
            logical: change.logical.clone(),
            kind: change.kind,
            action: change.action,
            id: id.clone(),
            elapsed: started.elapsed(),
        }),
        Err(e) => ctx.reporter.event(Event::Failed {
            logical: change.logical.clone(),
            error: e.to_string(),
        }),
    }
    (change.logical.clone(), result)
}

/// Runs the creations and updates of `plan` as a graph, then its deletions in reverse
/// dependency order, then waits for the load balancer to be active.
pub async fn apply(
    ctx: &Ctx<'_>,
    plan: &Plan,
    desired: &Desired,
    observed: &ObservedStack,
) -> Result<Report, ApplyError> {
    let mut report = Report::default();
    let nodes: BTreeMap<&str, (&Change, &Spec, Vec<String>)> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .filter_map(|c| {
            let want = desired.spec(&c.logical)?;
            let deps = dependencies(desired.get(&c.logical)?, desired);
            Some((c.logical.as_str(), (c, want, deps)))
        })
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<&str> = BTreeSet::new();
    let mut running: FuturesUnordered<NodeFuture<'_>> = FuturesUnordered::new();
    let mut failure: Option<ApplyError> = None;
    loop {
        if failure.is_none() {
            for (name, (change, want, deps)) in &nodes {
                if running.len() >= CONCURRENCY {
                    break;
                }
                if started.contains(name) || !deps.iter().all(|d| done.contains(d)) {
                    continue;
                }
                started.insert(name);
                if change.action == Action::Keep {
                    done.insert((*name).to_string());
                    continue;
                }
                running.push(Box::pin(run_node(ctx, change, want, observed.get(*name))));
            }
            // Keeps may have unlocked more nodes; go round again before waiting.
            if running.is_empty()
                && started.len() < nodes.len()
                && nodes.iter().any(|(n, (_, _, deps))| {
                    !started.contains(n) && deps.iter().all(|d| done.contains(d))
                })
            {
                continue;
            }
        }
        let Some((name, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(id) => {
                ctx.ids.insert(&name, &id);
                if let Some((change, _, _)) = nodes.get(name.as_str()) {
                    report.done.push((name.clone(), change.action));
                }
                done.insert(name);
            }
            Err(e) => ApplyError::record(&mut failure, name, e),
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    if started.len() < nodes.len() {
        let stuck: Vec<&str> = nodes
            .keys()
            .filter(|n| !started.contains(*n))
            .copied()
            .collect();
        return Err(ApplyError {
            logical: stuck.join(", "),
            source: AwsError {
                operation: "plan",
                resource: stuck.join(", "),
                code: Some("DependencyCycle".into()),
                message: "these resources wait on each other (albkit bug)".into(),
                status: None,
                class: super::error::ErrorClass::Permanent,
            },
            others: vec![],
        });
    }

    // Deletions: removed resources, plus certificates replaced above.
    let mut deletions: Vec<&Observed> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter_map(|c| observed.get(&c.logical))
        .collect();
    deletions.extend(
        plan.changes
            .iter()
            .filter(|c| c.action == Action::Replace && c.kind == Kind::Certificate)
            .filter_map(|c| observed.get(&c.logical)),
    );
    // `up` carries out the plan it showed, log deletions included (the plan marks them).
    let kept = delete_in_order(ctx, &deletions, Teardown::UP).await?;
    report.kept = kept;
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        report.done.push((c.logical.clone(), Action::Delete));
    }

    if let Some(arn) = ctx.ids.find(logical::LOAD_BALANCER) {
        load_balancer::wait_active(ctx, &arn)
            .await
            .map_err(|e| ApplyError {
                logical: logical::LOAD_BALANCER.into(),
                source: e,
                others: vec![],
            })?;
    }
    Ok(report)
}

/// Deletes resources rank by rank (dependents first); resources of one rank go
/// concurrently. Returns the logical ids of what was kept (logs without `purge_logs`).
pub async fn delete_in_order(
    ctx: &Ctx<'_>,
    items: &[&Observed],
    opts: Teardown,
) -> Result<Vec<String>, ApplyError> {
    let mut kept = Vec::new();
    let mut ranks: Vec<u8> = items
        .iter()
        .map(|o| creation_rank(o.resource.kind))
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    for rank in ranks.into_iter().rev() {
        let batch: Vec<&Observed> = items
            .iter()
            .copied()
            .filter(|o| creation_rank(o.resource.kind) == rank)
            .collect();
        let results = futures::future::join_all(batch.iter().map(|o| async move {
            let started = Instant::now();
            ctx.reporter.event(Event::Started {
                logical: o.resource.logical.clone(),
                kind: o.resource.kind,
                action: Action::Delete,
            });
            let r = delete_one(ctx, o, opts).await;
            match &r {
                Ok(true) => ctx.reporter.event(Event::Finished {
                    logical: o.resource.logical.clone(),
                    kind: o.resource.kind,
                    action: Action::Delete,
                    id: o.id.clone(),
                    elapsed: started.elapsed(),
                }),
                Ok(false) => ctx.reporter.event(Event::Finished {
                    logical: o.resource.logical.clone(),
                    kind: o.resource.kind,
                    action: Action::Keep,
                    id: o.id.clone(),
                    elapsed: started.elapsed(),
                }),
                Err(e) => ctx.reporter.event(Event::Failed {
                    logical: o.resource.logical.clone(),
                    error: e.to_string(),
                }),
            }
            (o.resource.logical.clone(), r)
        }))
        .await;
        let mut failure: Option<ApplyError> = None;
        for (name, r) in results {
            match r {
                Ok(true) => ctx.ids.remove(&name),
                Ok(false) => kept.push(name),
                Err(e) => ApplyError::record(&mut failure, name, e),
            }
        }
        if let Some(f) = failure {
            return Err(f);
        }
    }
    Ok(kept)
}
