//! Executes a plan: a dependency graph run with bounded concurrency. The executor
//! takes no decisions: every action comes from the plan.
//!
//! Every resource whose dependencies are done starts at once, and waits for one of
//! [`CONCURRENCY`] slots before it calls AWS ([`Slots`]): it gives the slot back while it
//! only waits (a retry's or a waiter's pause), and a free slot goes to the resource with
//! the most time left to the end of the run under a model of AWS
//! ([`create_ranks`]/[`delete_ranks`]), so the network and the load balancer never queue
//! behind fifty functions waiting for their roles.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use super::error::{AwsError, Bug, ResourceError};
use super::events::Event;
use super::resources::{load_balancer, Ctx};
use super::slots::Slots;
use crate::model::bound::{create_ranks, delete_ranks, AWS};
use crate::model::names::logical;
use crate::model::plan::{
    deleted_after, dependencies, Action, Change, Observed, ObservedStack, Plan,
};
use crate::model::spec::Spec;
use crate::model::stack::{Desired, Kind};

/// How many resources make AWS calls at once (those that only wait do not count).
const CONCURRENCY: usize = 8;

/// What happened to each resource.
#[derive(Debug, Default, Clone)]
pub(crate) struct Report {
    pub done: Vec<(String, Action)>,
    pub kept: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{logical}: {source}")]
pub struct ApplyError {
    pub logical: String,
    #[source]
    pub source: ResourceError,
    /// Other failures seen before everything in flight stopped.
    pub others: Vec<(String, ResourceError)>,
}

impl ApplyError {
    /// Records a failure: the first one is the error, later ones ride along.
    fn record(acc: &mut Option<ApplyError>, logical: String, error: impl Into<ResourceError>) {
        let error = error.into();
        match acc {
            None => {
                *acc = Some(ApplyError {
                    logical,
                    source: error,
                    others: vec![],
                });
            }
            Some(f) => f.others.push((logical, error)),
        }
    }
}

/// A node's logical id and its result; `None` when it never ran (a failure elsewhere
/// stopped the run while it waited for a slot).
type NodeFuture<'a> =
    Pin<Box<dyn Future<Output = (String, Option<Result<String, ResourceError>>)> + Send + 'a>>;

pub(crate) use super::resources::Teardown;

/// Deletes one resource. Log buckets and log groups are kept unless `purge_logs`;
/// returns `false` when the resource was kept.
pub(crate) async fn delete_one(
    ctx: &Ctx<'_>,
    have: &Observed,
    opts: Teardown,
) -> Result<bool, AwsError> {
    if have.resource.kind.holds_logs() && !opts.purge_logs {
        return Ok(false);
    }
    super::resources::delete(ctx, have, opts).await?;
    Ok(true)
}

/// Runs `work` on the resource `logical` between the events that report it: started,
/// then finished (with the action and the id `finished` gives) or failed.
async fn reported<T, E: std::fmt::Display>(
    ctx: &Ctx<'_>,
    (logical, kind, action): (&str, Kind, Action),
    work: impl Future<Output = Result<T, E>>,
    finished: impl FnOnce(&T) -> (Action, String),
) -> Result<T, E> {
    let started = Instant::now();
    let logical = logical.to_string();
    ctx.reporter.event(Event::Started {
        logical: logical.clone(),
        kind,
        action,
    });
    let result = work.await;
    ctx.reporter.event(match &result {
        Ok(done) => {
            let (action, id) = finished(done);
            let elapsed = started.elapsed();
            Event::Finished {
                logical,
                kind,
                action,
                id,
                elapsed,
            }
        }
        Err(e) => Event::Failed {
            logical,
            error: e.to_string(),
        },
    });
    result
}

/// Carries out one creation or update of what discovery found as `old` (a replacement
/// deletes it first, but for a certificate); its logical id and the AWS id it got.
async fn run_node<'a>(
    ctx: &'a Ctx<'a>,
    change: &'a Change,
    want: &'a Spec,
    old: Option<&'a Observed>,
) -> (String, Result<String, ResourceError>) {
    let work = async {
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
            super::resources::apply(ctx, &fresh, want, None).await
        } else {
            super::resources::apply(ctx, change, want, old).await
        }
    };
    let what = (change.logical.as_str(), change.kind, change.action);
    let result = reported(ctx, what, work, |id| (change.action, id.clone())).await;
    (change.logical.clone(), result)
}

/// Runs the creations and updates of `plan` as a graph, then its deletions in reverse
/// dependency order, then waits for the load balancer to be active.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    plan: &Plan,
    desired: &Desired,
    observed: &ObservedStack,
) -> Result<Report, ApplyError> {
    let mut report = Report::default();
    let nodes = graph(plan, desired);
    let ranks = create_ranks(desired, &AWS);
    run_graph(ctx, &nodes, observed, &ranks, &mut report).await?;
    // `up` carries out the plan it showed, log deletions included (the plan marks them).
    report.kept = delete_in_order(ctx, &deletions(plan, observed), Teardown::UP).await?;
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        report.done.push((c.logical.clone(), Action::Delete));
    }
    if let Some(arn) = ctx.ids.find(logical::LOAD_BALANCER) {
        load_balancer::wait_active(ctx, &arn)
            .await
            .map_err(|e| ApplyError {
                logical: logical::LOAD_BALANCER.into(),
                source: e.into(),
                others: vec![],
            })?;
    }
    Ok(report)
}

/// The nodes of the execution graph: each creation or update with its spec and the
/// logical ids it waits for.
type Nodes<'a> = BTreeMap<&'a str, (&'a Change, &'a Spec, Vec<String>)>;

/// The creations and updates of `plan`, each with the resources its spec needs.
fn graph<'a>(plan: &'a Plan, desired: &'a Desired) -> Nodes<'a> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .filter_map(|c| {
            let want = desired.spec(&c.logical)?;
            let deps = dependencies(desired.get(&c.logical)?, desired);
            Some((c.logical.as_str(), (c, want, deps)))
        })
        .collect()
}

/// Runs the nodes, each as soon as what it needs is done, at most [`CONCURRENCY`] making
/// calls at once, the highest ranked first; a kept resource is done at once. After a
/// failure nothing new starts (nor what waits for a slot), what runs finishes, and every
/// failure is returned.
async fn run_graph<'a>(
    ctx: &'a Ctx<'a>,
    nodes: &'a Nodes<'a>,
    observed: &'a ObservedStack,
    ranks: &BTreeMap<String, Duration>,
    report: &mut Report,
) -> Result<(), ApplyError> {
    let slots = Slots::new(CONCURRENCY);
    let stop = AtomicBool::new(false);
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<&str> = BTreeSet::new();
    let mut running: FuturesUnordered<NodeFuture<'_>> = FuturesUnordered::new();
    let mut failure: Option<ApplyError> = None;
    loop {
        // Keeps are done at once and may make more nodes ready: go round until none is.
        while failure.is_none() {
            let ready: Vec<_> = nodes
                .iter()
                .filter(|(name, (_, _, deps))| {
                    !started.contains(*name) && deps.iter().all(|d| done.contains(d))
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            for (name, (change, want, _)) in ready {
                started.insert(name);
                if change.action == Action::Keep {
                    done.insert((*name).to_string());
                    continue;
                }
                let rank = ranks.get(*name).copied().unwrap_or_default();
                let (slots, stop) = (&slots, &stop);
                running.push(Box::pin(slots.run(rank, async move {
                    if stop.load(Ordering::SeqCst) {
                        return (change.logical.clone(), None);
                    }
                    let (name, result) = run_node(ctx, change, want, observed.get(*name)).await;
                    (name, Some(result))
                })));
            }
        }
        let Some((name, result)) = running.next().await else {
            break;
        };
        match result {
            Some(Ok(id)) => {
                ctx.ids.insert(&name, &id);
                if let Some((change, _, _)) = nodes.get(name.as_str()) {
                    report.done.push((name.clone(), change.action));
                }
                done.insert(name);
            }
            Some(Err(e)) => {
                stop.store(true, Ordering::SeqCst);
                ApplyError::record(&mut failure, name, e);
            }
            None => {}
        }
    }
    match failure {
        Some(f) => Err(f),
        None if started.len() < nodes.len() => Err(dependency_cycle(nodes, &started)),
        None => Ok(()),
    }
}

/// The error for nodes that never started: they wait on each other.
fn dependency_cycle(nodes: &Nodes<'_>, started: &BTreeSet<&str>) -> ApplyError {
    let stuck: Vec<&str> = nodes
        .keys()
        .filter(|n| !started.contains(*n))
        .copied()
        .collect();
    ApplyError {
        logical: stuck.join(", "),
        source: Bug::new(stuck.join(", "), "these resources wait on each other").into(),
        others: vec![],
    }
}

/// What the plan deletes: removed resources, plus certificates replaced (a new
/// certificate is created before its predecessor is deleted).
fn deletions<'a>(plan: &Plan, observed: &'a ObservedStack) -> Vec<&'a Observed> {
    let deleted = plan.changes.iter().filter(|c| c.action == Action::Delete);
    let replaced_certificates = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Replace && c.kind == Kind::Certificate);
    deleted
        .chain(replaced_certificates)
        .filter_map(|c| observed.get(&c.logical))
        .collect()
}

/// Deletes `items`, each as soon as nothing that must go first is left: a resource waits
/// only for the resources of the kinds [`deleted_after`] names (those that refer to it,
/// and the load balancer for what its network interfaces hold), so the role, the bucket
/// or the certificate do not wait for the network to be released. At most
/// [`CONCURRENCY`] make calls at once, the highest ranked first ([`delete_ranks`]). After a
/// failure nothing new starts; what runs finishes. Returns the logical ids of what was
/// kept (logs without `purge_logs`).
pub(crate) async fn delete_in_order(
    ctx: &Ctx<'_>,
    items: &[&Observed],
    opts: Teardown,
) -> Result<Vec<String>, ApplyError> {
    let mut kept = Vec::new();
    let mut pending: Vec<&Observed> = items.to_vec();
    // Not deleted yet: pending or running.
    let mut left: Vec<Kind> = items.iter().map(|o| o.resource.kind).collect();
    let ranks = delete_ranks(&left, &AWS);
    let slots = Slots::new(CONCURRENCY);
    let stop = AtomicBool::new(false);
    let mut running = FuturesUnordered::new();
    let mut failure: Option<ApplyError> = None;
    loop {
        while failure.is_none() {
            let free = pending.iter().position(|o| {
                let waits_for = deleted_after(o.resource.kind);
                !left.iter().any(|k| waits_for.contains(k))
            });
            let Some(i) = free else { break };
            let o = pending.remove(i);
            let rank = ranks.get(&o.resource.kind).copied().unwrap_or_default();
            let stop = &stop;
            running.push(slots.run(rank, async move {
                if stop.load(Ordering::SeqCst) {
                    return (o, None);
                }
                let what = (o.resource.logical.as_str(), o.resource.kind, Action::Delete);
                let kept_or_deleted = |deleted: &bool| match deleted {
                    true => (Action::Delete, o.id.clone()),
                    false => (Action::Keep, o.id.clone()),
                };
                let r = reported(ctx, what, delete_one(ctx, o, opts), kept_or_deleted).await;
                (o, Some(r))
            }));
        }
        let Some((o, r)) = running.next().await else {
            break;
        };
        let name = o.resource.logical.clone();
        if r.is_some() {
            if let Some(i) = left.iter().position(|k| *k == o.resource.kind) {
                left.remove(i);
            }
        }
        match r {
            Some(Ok(true)) => ctx.ids.remove(&name),
            Some(Ok(false)) => kept.push(name),
            Some(Err(e)) => {
                stop.store(true, Ordering::SeqCst);
                ApplyError::record(&mut failure, name, e);
            }
            None => {}
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    if !pending.is_empty() {
        // Cannot happen: deleted_after only names kinds created later (tested).
        let stuck: Vec<String> = pending.iter().map(|o| o.resource.logical.clone()).collect();
        return Err(ApplyError {
            logical: stuck.join(", "),
            source: Bug::new(stuck.join(", "), "these deletions wait on each other").into(),
            others: vec![],
        });
    }
    Ok(kept)
}
