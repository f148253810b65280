//! The plan: a pure diff of the desired stack against the observed one.
//!
//! `plan` prints it, `up` executes exactly it: every decision (create, update which
//! properties, replace, delete) is taken here, none at execution time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::stack::{Desired, Kind, Resource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Keep,
}

impl Action {
    pub fn symbol(&self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Keep => " ",
        }
    }
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub name: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
    /// This difference forces a replacement.
    pub forces_replacement: bool,
}

/// What exists in AWS for one logical resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// The AWS id or ARN.
    pub id: String,
    pub resource: Resource,
}

/// What `discover` found, by logical id.
pub type ObservedStack = BTreeMap<String, Observed>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub logical: String,
    pub kind: Kind,
    pub action: Action,
    /// The existing id, for update/replace/delete/keep.
    pub id: Option<String>,
    pub fields: Vec<FieldChange>,
}

impl Change {
    pub fn changed(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.name == field)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub stack: String,
    /// In dependency order: creations and updates first (desired order), then deletions
    /// in reverse dependency order.
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{logical} ({kind}) would have to be replaced because {field} changed from {old} to {new}"
    )]
    WouldReplaceNetwork {
        logical: String,
        kind: Kind,
        field: String,
        old: String,
        new: String,
    },
}

impl PlanError {
    pub fn help(&self) -> String {
        match self {
            PlanError::WouldReplaceNetwork { .. } => "albkit does not replace the network under a running load balancer; \
                restore the previous value, or run `albkit down` and then `albkit up` to rebuild the stack"
                .to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Keep)
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for ch in &self.changes {
            match ch.action {
                Action::Create => c.create += 1,
                Action::Update => c.update += 1,
                Action::Replace => c.replace += 1,
                Action::Delete => c.delete += 1,
                Action::Keep => c.unchanged += 1,
            }
        }
        c
    }

    pub fn get(&self, logical: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.logical == logical)
    }

    /// Human rendering, as `albkit plan` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Plan for stack {}:", self.stack);
        if !self.has_changes() {
            let _ = writeln!(
                out,
                "  No changes. {} resources are up to date.",
                self.changes.len()
            );
            return out;
        }
        for ch in self.changes.iter().filter(|c| c.action != Action::Keep) {
            let _ = write!(
                out,
                "  {:>3} {} ({})",
                ch.action.symbol(),
                ch.logical,
                ch.kind
            );
            if let Some(id) = &ch.id {
                let _ = write!(out, " {id}");
            }
            if ch.action == Action::Delete && matches!(ch.kind, Kind::LogBucket | Kind::LogGroup) {
                let _ = write!(out, "  # deletes the logs it holds");
            }
            out.push('\n');
            for f in &ch.fields {
                let old = f.old.as_deref().unwrap_or("(none)");
                let new = f.new.as_deref().unwrap_or("(none)");
                let mark = if f.forces_replacement {
                    "  # forces replacement"
                } else {
                    ""
                };
                match ch.action {
                    Action::Create => {
                        let _ = writeln!(out, "        {} = {new}", f.name);
                    }
                    Action::Delete => {}
                    _ => {
                        let _ = writeln!(out, "        {}: {old} -> {new}{mark}", f.name);
                    }
                }
            }
        }
        let c = self.counts();
        let _ = writeln!(
            out,
            "\n{} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
            c.create, c.update, c.replace, c.delete, c.unchanged
        );
        out
    }
}

fn diff_props(desired: &Resource, observed: &Resource) -> Vec<FieldChange> {
    let replace_on = desired.kind.replace_on();
    let mut names: Vec<&'static str> = desired.props.iter().map(|(k, _)| *k).collect();
    for (k, _) in &observed.props {
        if !names.contains(k) {
            names.push(k);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let new = desired.get(name);
            let old = observed.get(name);
            if new == old || new.is_none() {
                // A property albkit does not manage is not a difference.
                return None;
            }
            Some(FieldChange {
                name,
                old: old.map(str::to_string),
                new: new.map(str::to_string),
                forces_replacement: replace_on.contains(&name),
            })
        })
        .collect()
}

/// Compares desired and observed, resource by resource.
pub fn plan(desired: &Desired, observed: &ObservedStack) -> Result<Plan, Vec<PlanError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for want in &desired.resources {
        seen.insert(want.logical.clone());
        let change = match observed.get(&want.logical) {
            None => Change {
                logical: want.logical.clone(),
                kind: want.kind,
                action: Action::Create,
                id: None,
                fields: want
                    .props
                    .iter()
                    .map(|(k, v)| FieldChange {
                        name: k,
                        old: None,
                        new: Some(v.clone()),
                        forces_replacement: false,
                    })
                    .collect(),
            },
            Some(have) => {
                let fields = diff_props(want, &have.resource);
                let replace = fields.iter().find(|f| f.forces_replacement);
                if let (Some(f), true) = (replace, want.kind.never_replace()) {
                    errors.push(PlanError::WouldReplaceNetwork {
                        logical: want.logical.clone(),
                        kind: want.kind,
                        field: f.name.to_string(),
                        old: f.old.clone().unwrap_or_default(),
                        new: f.new.clone().unwrap_or_default(),
                    });
                }
                let action = if replace.is_some() {
                    Action::Replace
                } else if fields.is_empty() {
                    Action::Keep
                } else {
                    Action::Update
                };
                Change {
                    logical: want.logical.clone(),
                    kind: want.kind,
                    action,
                    id: Some(have.id.clone()),
                    fields,
                }
            }
        };
        changes.push(change);
    }
    cascade_replacements(&mut changes);
    changes.extend(teardown_changes(
        observed
            .iter()
            .filter(|(logical, _)| !seen.contains(*logical))
            .map(|(_, o)| o),
    ));
    if errors.is_empty() {
        Ok(Plan {
            stack: desired.names.stack().to_string(),
            changes,
        })
    } else {
        Err(errors)
    }
}

/// Position of a kind in creation order; deletion runs the other way.
pub fn creation_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Vpc | Kind::Role | Kind::LogBucket | Kind::Certificate => 0,
        Kind::Subnet | Kind::InternetGateway | Kind::SecurityGroup | Kind::LogGroup => 1,
        Kind::RouteTable | Kind::Function => 2,
        Kind::LoadBalancer | Kind::TargetGroup => 3,
        Kind::Listener => 4,
        Kind::ListenerRule | Kind::DnsRecord => 5,
    }
}

/// Delete changes for these observed resources, in reverse dependency order.
pub fn teardown_changes<'a>(observed: impl Iterator<Item = &'a Observed>) -> Vec<Change> {
    let mut out: Vec<Change> = observed
        .map(|o| Change {
            logical: o.resource.logical.clone(),
            kind: o.resource.kind,
            action: Action::Delete,
            id: Some(o.id.clone()),
            fields: Vec::new(),
        })
        .collect();
    out.sort_by(|a, b| {
        creation_rank(b.kind)
            .cmp(&creation_rank(a.kind))
            .then_with(|| a.logical.cmp(&b.logical))
    });
    out
}

/// The plan of `down`: everything observed, deleted in reverse dependency order.
pub fn teardown(stack: &str, observed: &ObservedStack) -> Plan {
    Plan {
        stack: stack.to_string(),
        changes: teardown_changes(observed.values()),
    }
}

/// The resources `resource` needs before it can be created or updated: the edges of the
/// execution graph. Only ids of resources in the desired stack are returned (a reused
/// VPC or an existing certificate is not a node).
pub fn dependencies(resource: &Resource, desired: &Desired) -> Vec<String> {
    use super::names::logical;
    let mut deps: Vec<String> = Vec::new();
    let refs = |name: &str| -> Vec<String> {
        resource
            .get(name)
            .unwrap_or_default()
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let function_of = |prefix: &str| resource.logical.trim_start_matches(prefix).to_string();
    match resource.kind {
        Kind::Vpc | Kind::Role | Kind::LogBucket | Kind::Certificate | Kind::LogGroup => {}
        Kind::Subnet | Kind::InternetGateway | Kind::SecurityGroup => {
            deps.push(logical::VPC.into())
        }
        Kind::RouteTable => {
            deps.push(logical::VPC.into());
            deps.push(logical::INTERNET_GATEWAY.into());
            deps.extend(refs("associations"));
        }
        Kind::LoadBalancer => {
            deps.extend(refs("subnets"));
            deps.extend(refs("security_groups"));
            deps.push(logical::LOG_BUCKET.into());
            // The subnets only route to the internet once the route table is in place.
            deps.push(logical::ROUTE_TABLE.into());
        }
        Kind::Listener => {
            deps.push(logical::LOAD_BALANCER.into());
            deps.extend(refs("certificate"));
        }
        Kind::Function => {
            let f = function_of("function/");
            deps.push(logical::role(&f));
            deps.push(logical::log_group(&f));
        }
        Kind::TargetGroup => deps.push(logical::function(&function_of("target-group/"))),
        Kind::ListenerRule => {
            deps.extend(refs("listener"));
            if let Some(tg) = resource
                .get("action")
                .and_then(|a| a.strip_prefix("forward -> "))
            {
                deps.push(tg.to_string());
            }
        }
        Kind::DnsRecord => deps.push(logical::LOAD_BALANCER.into()),
    }
    deps.retain(|d| desired.get(d).is_some());
    deps.dedup();
    deps
}

/// When a parent is replaced, what lives inside it goes with it: listeners of a
/// replaced load balancer and rules of a replaced listener are created again, DNS
/// records pointing at a replaced load balancer are rewritten.
fn cascade_replacements(changes: &mut [Change]) {
    let replaced = |changes: &[Change], logical: &str| {
        changes
            .iter()
            .any(|c| c.logical == logical && c.action == Action::Replace)
    };
    for (parent_kind, child_kind) in [
        (Kind::LoadBalancer, Kind::Listener),
        (Kind::Listener, Kind::ListenerRule),
        (Kind::LoadBalancer, Kind::DnsRecord),
    ] {
        let parents: Vec<String> = changes
            .iter()
            .filter(|c| c.kind == parent_kind && c.action == Action::Replace)
            .map(|c| c.logical.clone())
            .collect();
        for parent in parents {
            if !replaced(changes, &parent) {
                continue;
            }
            for c in changes.iter_mut().filter(|c| {
                c.kind == child_kind && matches!(c.action, Action::Keep | Action::Update)
            }) {
                let belongs = match child_kind {
                    Kind::ListenerRule => c.logical.starts_with("rule/"),
                    _ => true,
                };
                if !belongs {
                    continue;
                }
                c.action = if child_kind == Kind::DnsRecord {
                    Action::Update
                } else {
                    Action::Replace
                };
                c.fields.push(FieldChange {
                    name: "parent",
                    old: Some(format!("{parent} (old)")),
                    new: Some(format!("{parent} (new)")),
                    forces_replacement: child_kind != Kind::DnsRecord,
                });
            }
        }
    }
}
