//! The plan of `plan` and `up`: read what exists and build the functions, concurrently;
//! compute the desired stack and the plan; refuse what albkit may not touch.

use std::collections::BTreeMap;

use super::session::Session;
use crate::aws::discover::{discover, Discovery};
use crate::aws::lock_bucket;
use crate::aws::network::{self, NetworkContext};
use crate::aws::resources::Foreign;
use crate::error::{Error, Result};
use crate::model::attach::{self, AttachedListener};
use crate::model::plan::{plan, Plan};
use crate::model::stack::{desired, Context, Desired};
use crate::package::{self, Artifact};

/// What exists, what should, the plan between them, and the functions' builds.
pub(crate) struct Planned {
    pub discovery: Discovery,
    pub desired: Desired,
    pub plan: Plan,
    pub artifacts: BTreeMap<String, Artifact>,
    /// Attach mode: the priority of each of the stack's rules on its listener.
    pub placed: BTreeMap<String, u32>,
}

/// Refuses to go on when the stack's names are taken by resources it does not own, or
/// when one logical resource exists twice (`plan`, `up`).
pub(crate) fn check_conflicts(d: &Discovery) -> Result<()> {
    check_duplicates(d)?;
    if !d.foreign.is_empty() {
        return Err(Error::Conflict {
            message: format!(
                "{} resource(s) in the stack's place are not the stack's:{}",
                d.foreign.len(),
                foreign_list(&d.foreign)
            ),
            help: "albkit never changes or deletes what it does not own, and nothing was changed: \
                   rename the stack ([stack].name) or the domain, or move those resources out of the way yourself"
                .into(),
        });
    }
    Ok(())
}

/// One line per foreign resource: what, which, and why it is not the stack's.
pub(crate) fn foreign_list(foreign: &[Foreign]) -> String {
    foreign
        .iter()
        .map(|f| format!("\n  - {} {}: {}", f.kind, f.name, f.reason))
        .collect()
}

/// Refuses to go on when one logical resource exists twice: which one is the stack's is
/// then not albkit's to guess (`down` too stops here; foreign resources it leaves).
pub(crate) fn check_duplicates(d: &Discovery) -> Result<()> {
    if !d.duplicates.is_empty() {
        let list = d
            .duplicates
            .iter()
            .map(|(l, ids)| format!("{l}: {}", ids.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Conflict {
            message: format!("more than one resource claims the same place in the stack: {list}"),
            help: "delete the extra copies (they carry the albkit:resource tag) and run the command again".into(),
        });
    }
    Ok(())
}

/// Reads the stack again and plans against the same desired stack and builds: after
/// taking the lock, what another run may have changed since the first reading counts.
pub(crate) async fn replan(s: &Session, p: Planned) -> Result<Planned> {
    let empty = BTreeMap::new();
    let discovery = discover(&s.ctx(&empty)).await?;
    check_conflicts(&discovery)?;
    if place_rules(s, &discovery)? != p.placed {
        return Err(Error::Conflict {
            message: "the rules on the attached listener changed while albkit was planning".into(),
            help: "nothing was changed: run the command again to plan against what is there now"
                .into(),
        });
    }
    let plan = plan(&p.desired, &discovery.observed).map_err(Error::Plan)?;
    Ok(Planned {
        discovery,
        plan,
        ..p
    })
}

/// Builds every function of the stack at once (beside the discovery, see
/// [`compute_plan`]), checking that Lambda can run each bootstrap. The crates of one
/// cargo workspace are one cargo run per architecture (see [`package::build_groups`]);
/// runs that share a target directory wait on each other's lock, as cargo makes them.
async fn build_all(s: &Session) -> Result<BTreeMap<String, Artifact>> {
    let groups = package::build_groups(&s.config.functions);
    let builds = groups.iter().map(|group| async move {
        let names = group.names();
        s.phase(format!(
            "Building function {names} ({}, release)",
            group.architecture.as_str()
        ));
        let built = package::build_group(group).await?;
        for a in &built {
            s.phase(format!(
                "Built function {} with {}: bootstrap {} KiB, zip {} KiB",
                a.function,
                a.builder.describe(),
                a.bootstrap_size / 1024,
                a.zip.len() / 1024
            ));
            package::check_runtime(a)?;
        }
        Ok::<_, Error>(
            built
                .into_iter()
                .map(|a| (a.function.clone(), a))
                .collect::<Vec<_>>(),
        )
    });
    Ok(futures::future::try_join_all(builds)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

pub(crate) async fn compute_plan(s: &Session) -> Result<Planned> {
    let empty = BTreeMap::new();
    let ctx = s.ctx(&empty);
    s.phase(format!(
        "Reading stack {} in {}",
        s.config.stack.name, s.aws.region
    ));
    // The stack, the zones, the lock bucket and the account are read at once.
    let reads = async {
        tokio::try_join!(
            async { discover(&ctx).await.map_err(Error::from) },
            network::read(&s.aws, &s.config, s.account()),
            s.inspect_lock_bucket(),
        )
    };
    let ((account, (mut discovery, network, bucket_state)), artifacts) =
        tokio::try_join!(s.with_account(reads), build_all(s))?;
    // A foreign lock bucket stops plan and up like a foreign resource of the stack:
    // `up` could not take its lock.
    if let lock_bucket::State::Foreign { reason, .. } = &bucket_state {
        discovery.foreign.push(Foreign {
            kind: "S3 bucket",
            name: s.names.lock_bucket(&account),
            reason: format!(
                "it has the name of albkit's lock bucket for this account and region, but {reason}"
            ),
        });
    }
    if let Ok(mut cached) = s.lock_bucket.lock() {
        *cached = Some(bucket_state);
    }
    s.phase(format!(
        "Found {} resources of stack {} in account {account}",
        discovery.observed.len(),
        s.config.stack.name
    ));
    check_conflicts(&discovery)?;
    let placed = place_rules(s, &discovery)?;
    for l in &discovery.attached {
        s.phase(attached_summary(l));
    }
    let mut context = context(s, account, network, &artifacts, &discovery);
    context.rule_priorities.clone_from(&placed);
    let desired = desired(&s.config, &context);
    let plan = plan(&desired, &discovery.observed).map_err(Error::Plan)?;
    Ok(Planned {
        discovery,
        desired,
        plan,
        artifacts,
        placed,
    })
}

/// Attach mode: where the stack's rules go on the attached listeners; or everything that
/// stops `plan` and `up` before their first change: a listener that does not exist, a
/// route that collides with another owner's rule, a priority range with no room left.
fn place_rules(s: &Session, d: &Discovery) -> Result<BTreeMap<String, u32>> {
    attach::place(&s.config, &d.attached).map_err(|problems| Error::Conflict {
        message: format!(
            "the stack cannot be attached to the shared listener as configured:{}",
            problems
                .iter()
                .map(|p| format!("\n  - {p}\n    help: {}", p.help()))
                .collect::<String>()
        ),
        help: "albkit never changes the listener or another owner's rules, and nothing was \
               changed: fix each problem above (docs/attach.md)"
            .into(),
    })
}

/// One line about an attached listener: which, and whose rules are on it.
pub(crate) fn attached_summary(l: &AttachedListener) -> String {
    let ours = l.rules.iter().filter(|r| r.owner.is_some()).count();
    format!(
        "Attached to {} {} ({}): {ours} rule(s) of the stack, {} of other owners",
        l.key,
        l.arn,
        l.protocol_port.as_deref().unwrap_or("not found"),
        l.rules.len() - ours
    )
}

/// What the desired stack depends on besides the config.
fn context(
    s: &Session,
    account: String,
    network: NetworkContext,
    artifacts: &BTreeMap<String, Artifact>,
    discovery: &Discovery,
) -> Context {
    Context {
        account,
        region: s.aws.region.clone(),
        availability_zones: network.availability_zones,
        code_sha256: artifacts
            .iter()
            .map(|(k, a)| (k.clone(), a.sha256.clone()))
            .collect(),
        existing_vpc_cidr: network.vpc_cidr,
        existing_vpc_ipv6: network.vpc_ipv6,
        names_in_use: names_in_use(discovery),
        rule_priorities: BTreeMap::new(),
    }
}

/// The names under which discovery found the stack's functions, roles, target groups
/// and log groups, by logical id.
fn names_in_use(d: &Discovery) -> BTreeMap<String, String> {
    d.observed
        .values()
        .filter_map(|o| Some((o.resource.logical.clone(), o.name()?.to_string())))
        .collect()
}
