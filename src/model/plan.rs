//! The plan: a pure diff of the desired stack against the observed one.
//!
//! `plan` prints it, `up` executes exactly it: every decision (create, update which
//! properties, replace, delete) is taken here, none at execution time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::stack::{environment_change, shown, Desired, Kind, Resource, Tags};

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

/// What exists in AWS for one logical resource: its properties as the plan compares
/// and shows them, and beside them, typed, what `apply`, `delete` and discovery act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The AWS id or ARN.
    pub id: String,
    pub resource: Resource,
    /// Its tags as read (a rule's: its load balancer's, see `rule::inherit_tags`).
    pub tags: Tags,
    pub facts: Facts,
}

impl Observed {
    /// The name of a function, role, target group or log group.
    pub fn name(&self) -> Option<&str> {
        self.facts.name()
    }
}

/// What an observed resource is beyond its id and tags, as AWS gave it (AWS ids, never
/// logical ones). Nothing here is read back from the rendered properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Facts {
    #[default]
    None,
    /// A function, target group or log group: its name.
    Named(String),
    /// The VPCs it is attached to.
    InternetGateway {
        vpcs: Vec<String>,
    },
    /// `(subnet, association)` ids, and whether `0.0.0.0/0` and `::/0` go to a gateway.
    RouteTable {
        associations: Vec<(String, String)>,
        default_route: bool,
        ipv6_route: bool,
    },
    /// Its name and the managed policies attached to it.
    Role {
        name: String,
        policies: Vec<String>,
    },
    LoadBalancer {
        dns_name: String,
        zone_id: String,
        deletion_protection: bool,
        active: bool,
    },
    /// Its domain and DNS validation records, `(name, value)`.
    Certificate {
        domain: String,
        validation_records: Vec<(String, String)>,
    },
    DnsRecord(AliasRecord),
    /// Its name and id, which `UpdateWebACL` and `DeleteWebACL` take beside the ARN.
    WebAcl {
        name: String,
        id: String,
    },
    /// The ARN of a resource whose id is its name, which tagging takes (an alarm).
    Arn(String),
}

impl Facts {
    /// The name of a function, role, target group or log group.
    pub fn name(&self) -> Option<&str> {
        match self {
            Facts::Named(name) | Facts::Role { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// An alias record at the domain: where it is and what it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    pub zone: String,
    pub name: String,
    pub record_type: String,
    pub target: String,
    pub target_zone: String,
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
            if ch.action == Action::Delete && ch.kind.holds_logs() {
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
            let (old, new) = match (name, old, new) {
                ("environment", Some(o), Some(n)) => {
                    let (o, n) = environment_change(o, n);
                    (Some(o), Some(n))
                }
                _ => (old.map(|v| shown(name, v)), new.map(|v| shown(name, v))),
            };
            Some(FieldChange {
                name,
                old,
                new,
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
                        new: Some(shown(k, v)),
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
    kind.rank()
}

/// The kinds whose resources must be gone before a resource of `kind` can be deleted:
/// every kind whose spec refers to `kind` (the creation graph's edges, reversed; a test
/// checks the two agree), and what AWS itself holds on to besides:
///
/// - subnets, the security group and the internet gateway wait for the load balancer,
///   whose network interfaces are in them (`DependencyViolation` until they are
///   released, retried; docs/alb-lambda.md);
/// - the log bucket waits for the load balancer, which writes into it;
/// - the log group waits for the function, which would create it again by logging;
/// - the certificate waits for the listeners that serve it (`ResourceInUse`).
///
/// Everything else goes at once: `down` does not wait for the load balancer's network
/// interfaces to delete the role, the bucket or the certificate.
pub fn deleted_after(kind: Kind) -> &'static [Kind] {
    use Kind::*;
    match kind {
        Vpc => &[
            Subnet,
            SecurityGroup,
            InternetGateway,
            RouteTable,
            TargetGroup,
        ],
        Subnet => &[LoadBalancer, RouteTable],
        SecurityGroup => &[LoadBalancer],
        InternetGateway => &[LoadBalancer, RouteTable],
        LoadBalancer => &[Listener, WebAclAssociation, DnsRecord, Alarm, Dashboard],
        Listener => &[ListenerRule, ListenerCertificates],
        TargetGroup => &[Listener, ListenerRule, Alarm, Dashboard],
        Function => &[
            FunctionConcurrency,
            FunctionProvisioned,
            TargetGroup,
            Alarm,
            Dashboard,
        ],
        Role => &[Function],
        LogGroup => &[Function],
        Certificate => &[Listener, ListenerCertificates, DnsRecord],
        LogBucket => &[LoadBalancer, TrustStore],
        TrustStore => &[Listener],
        WebAcl => &[WebAclAssociation],
        AlarmTopic => &[Alarm],
        RouteTable => &[LoadBalancer],
        FunctionConcurrency => &[FunctionProvisioned],
        ListenerCertificates | FunctionProvisioned | ListenerRule | DnsRecord
        | WebAclAssociation | Alarm | Dashboard => &[],
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
/// execution graph, from its spec's typed references. Only ids of resources in the
/// desired stack are returned (a reused VPC or an existing certificate is not a node).
pub fn dependencies(resource: &Resource, desired: &Desired) -> Vec<String> {
    let Some(spec) = desired.spec(&resource.logical) else {
        return Vec::new();
    };
    let mut deps: Vec<String> = Vec::new();
    for id in spec.needs() {
        if desired.get(id.as_str()).is_some() && !deps.iter().any(|d| *d == id.as_str()) {
            deps.push(id.to_string());
        }
    }
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
        (Kind::Function, Kind::FunctionConcurrency),
        (Kind::LoadBalancer, Kind::WebAclAssociation),
        (Kind::WebAcl, Kind::WebAclAssociation),
        (Kind::Function, Kind::FunctionProvisioned),
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
                    // A new function has none reserved: set it again.
                    Kind::FunctionConcurrency | Kind::FunctionProvisioned => {
                        c.logical.starts_with(&format!("{parent}/"))
                    }
                    _ => true,
                };
                if !belongs {
                    continue;
                }
                // An alias record is rewritten, an association made again, in place.
                let in_place = matches!(child_kind, Kind::DnsRecord | Kind::WebAclAssociation);
                c.action = if in_place {
                    Action::Update
                } else {
                    Action::Replace
                };
                c.fields.push(FieldChange {
                    name: "parent",
                    old: Some(format!("{parent} (old)")),
                    new: Some(format!("{parent} (new)")),
                    forces_replacement: !in_place,
                });
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::model::config::{
        Architecture, Config, FunctionSettings, HealthCheck, HttpsSettings, IpAddressType,
        Ipv4Cidr, LoadBalancerSettings, Network, Route, Scheme, StackSettings, DEFAULT_HSTS,
        DEFAULT_SSL_POLICY,
    };
    use crate::model::headers::Inserted;
    use crate::model::ids::HostedZoneId;
    use crate::model::stack::{desired, Context};

    fn function(name: &str, priority: u32) -> FunctionSettings {
        FunctionSettings {
            name: name.into(),
            path: PathBuf::from("/project/functions").join(name),
            target_dir: PathBuf::from("/project/target"),
            memory_mb: 128,
            timeout_seconds: 10,
            reserved_concurrency: None,
            provisioned_concurrency: None,
            architecture: Architecture::X86_64,
            environment: BTreeMap::from([
                ("RUST_LOG".into(), "info".into()),
                ("DB_PASSWORD".into(), "hunter2".into()),
            ]),
            secrets: BTreeMap::new(),
            kms_key_arn: None,
            log_retention_days: 14,
            multi_value_headers: false,
            health_check: Some(HealthCheck {
                path: "/health".into(),
                interval_seconds: 35,
                timeout_seconds: 30,
                healthy_threshold: 5,
                unhealthy_threshold: 2,
                matcher: "200".parse().expect("matcher"),
            }),
            deploy_strategy: Default::default(),
            deploy_gate: Default::default(),
            routes: vec![Route {
                priority,
                paths: vec![format!("/{name}"), format!("/{name}/*")],
                methods: vec!["GET".into()],
                hosts: vec![],
                auth: None,
            }],
        }
    }

    /// Two functions, with or without `[https]` (also used by the graph's tests).
    pub(crate) fn config(https: bool) -> Config {
        Config {
            root: PathBuf::from("/project"),
            stack: StackSettings {
                name: "shop".into(),
                region: None,
                tags: BTreeMap::from([("team".into(), "api".into())]),
                permissions_boundary: None,
            },
            network: Network::Managed {
                cidr: Ipv4Cidr {
                    addr: [10, 0, 0, 0].into(),
                    prefix: 16,
                },
                availability_zones: 2,
            },
            load_balancer: LoadBalancerSettings {
                scheme: Scheme::InternetFacing,
                ip_address_type: IpAddressType::Ipv4,
                ingress_cidrs: None,
                idle_timeout_seconds: 60,
                deletion_protection: false,
                access_logs: true,
                access_log_retention_days: 30,
                attach: None,
            },
            https: https.then(|| HttpsSettings {
                domain: "api.example.com".into(),
                certificate_arn: None,
                extra_certificate_arns: None,
                hosted_zone_id: Some(HostedZoneId::new("Z123")),
                ssl_policy: DEFAULT_SSL_POLICY.into(),
                headers: crate::model::headers::ResponseHeaders {
                    values: [(Inserted::StrictTransportSecurity, DEFAULT_HSTS.to_string())].into(),
                    server: true,
                },
                auth: None,
                mtls: None,
            }),
            waf: None,
            alarms: None,
            functions: vec![function("cart", 10), function("orders", 20)],
            routes: vec![],
            warnings: vec![],
        }
    }

    pub(crate) fn ctx() -> Context {
        Context {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            availability_zones: vec![
                "eu-west-1a".into(),
                "eu-west-1b".into(),
                "eu-west-1c".into(),
            ],
            code_sha256: BTreeMap::from([
                ("cart".into(), "c4rt=".into()),
                ("orders".into(), "0rd3rs=".into()),
            ]),
            existing_vpc_cidr: None,
            existing_vpc_ipv6: false,
            names_in_use: Default::default(),
            rule_priorities: Default::default(),
        }
    }

    /// What discovery would report for a stack that matches `d` exactly.
    fn observed_from(d: &Desired) -> ObservedStack {
        d.resources
            .iter()
            .map(|r| {
                (
                    r.logical.clone(),
                    Observed {
                        id: format!("id-of-{}", r.logical),
                        resource: r.clone(),
                        tags: Tags::new(),
                        facts: Facts::None,
                    },
                )
            })
            .collect()
    }

    /// Discovery reads every reference as an AWS id; resolved, a stack that matches
    /// `desired` exactly has no change. Every reference a spec renders is one its
    /// `refs_mut` reaches: none is left as a logical id once they are all AWS ids.
    #[test]
    fn every_reference_found_as_an_aws_id_resolves_to_the_desired_one() {
        use crate::model::found::{resolve, Found};
        use crate::model::spec::{LogicalId, Ref};
        let d = desired(&config(true), &ctx());
        let ids: Vec<&str> = d.resources.iter().map(|r| r.logical.as_str()).collect();
        let found = d.resources.iter().map(|r| {
            let mut spec = d.spec(&r.logical).cloned().expect("spec");
            for reference in spec.refs_mut() {
                if let Ref::Stack(id) = reference {
                    *reference = Ref::External(format!("id-of-{id}"));
                }
            }
            for (name, value) in spec.render(&LogicalId::from(r.logical.as_str())) {
                let mut tokens = value.split([' ', ',', ':']);
                assert!(
                    tokens.all(|t| t == r.logical || !ids.contains(&t)),
                    "{} {name}: {value}",
                    r.logical
                );
            }
            Found::new(
                format!("id-of-{}", r.logical),
                r.logical.clone(),
                spec,
                Tags::new(),
            )
        });
        let observed = resolve(found.collect(), &[])
            .into_iter()
            .map(|o| (o.resource.logical.clone(), o))
            .collect();
        let p = plan(&d, &observed).expect("plan");
        assert!(!p.has_changes(), "{}", p.render());
    }

    #[test]
    fn a_new_stack_is_all_creates() {
        let d = desired(&config(true), &ctx());
        let p = plan(&d, &ObservedStack::new()).expect("plan");
        assert!(p.changes.iter().all(|c| c.action == Action::Create));
        assert_eq!(p.counts().create, d.resources.len());
        insta::assert_snapshot!("new_https_stack", p.render());
    }

    #[test]
    fn an_unchanged_stack_plans_nothing() {
        let d = desired(&config(true), &ctx());
        let p = plan(&d, &observed_from(&d)).expect("plan");
        assert!(!p.has_changes());
        assert_eq!(
            p.render(),
            format!(
                "Plan for stack shop:\n  No changes. {} resources are up to date.\n",
                d.resources.len()
            )
        );
    }

    #[test]
    fn changed_settings_are_updates_in_place() {
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.functions[0].memory_mb = 512;
        cfg.functions[0].routes[0].methods.push("POST".into());
        cfg.load_balancer.idle_timeout_seconds = 120;
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let actions: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("load-balancer", Action::Update),
                ("function/cart", Action::Update),
                ("rule/10", Action::Update)
            ]
        );
        assert!(p
            .get("function/cart")
            .is_some_and(|c| c.changed("memory_mb") && !c.changed("timeout_seconds")));
        insta::assert_snapshot!("updates_in_place", p.render());
    }

    #[test]
    fn cors_adds_the_preflight_rule_and_updates_the_listener_in_place() {
        let before = desired(&config(true), &ctx());
        let mut cfg = config(true);
        if let Some(h) = cfg.https.as_mut() {
            h.headers
                .values
                .insert(Inserted::AccessControlAllowOrigin, "*".into());
        }
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(
            changed,
            vec![
                ("listener/https", Action::Update),
                ("rule/1", Action::Create)
            ]
        );
        let text = p.render();
        assert!(
            text.contains("response_headers: none -> access-control-allow-origin: *"),
            "{text}"
        );
        assert!(
            text.contains("action = fixed-response 204 text/plain"),
            "{text}"
        );
        assert!(
            text.contains("conditions = http-request-method in [OPTIONS]"),
            "{text}"
        );
    }

    #[test]
    fn routes_without_a_function_become_rules_with_their_answers() {
        use crate::model::config::{StaticAnswer, StaticRoute};
        use crate::model::spec::{FixedResponse, Redirect};
        let mut cfg = config(true);
        let route = |priority, answer| StaticRoute {
            priority,
            paths: vec!["/old/*".into()],
            methods: vec![],
            hosts: vec![],
            answer,
        };
        cfg.routes = vec![
            route(
                5,
                StaticAnswer::Redirect(Redirect {
                    status: 301,
                    protocol: "HTTPS".into(),
                    host: "#{host}".into(),
                    port: "443".into(),
                    path: "/new/#{path}".into(),
                    query: "#{query}".into(),
                }),
            ),
            route(
                6,
                StaticAnswer::Fixed(FixedResponse {
                    status: 410,
                    content_type: "text/plain".into(),
                    body: "gone".into(),
                }),
            ),
        ];
        let d = desired(&cfg, &ctx());
        let p = plan(&d, &observed_from(&desired(&config(true), &ctx()))).expect("plan");
        let text = p.render();
        assert!(
            text.contains("action = redirect HTTP_301 https://#{host}:443/new/#{path}?#{query}"),
            "{text}"
        );
        assert!(
            text.contains("action = fixed-response 410 text/plain gone"),
            "{text}"
        );
        let rule5 = d.get("rule/5").expect("rule/5");
        assert_eq!(rule5.get("listener"), Some("listener/https"));
        // A rule the load balancer answers needs only its listener.
        let created: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Create)
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(created, vec!["rule/5", "rule/6"]);
    }

    #[test]
    fn turning_hsts_off_updates_the_https_listener_in_place() {
        let before = desired(&config(true), &ctx());
        let mut cfg = config(true);
        if let Some(h) = cfg.https.as_mut() {
            h.headers.values.remove(&Inserted::StrictTransportSecurity);
        }
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(changed, vec![("listener/https", Action::Update)]);
        assert!(
            p.render()
                .contains("hsts: max-age=31536000; includeSubDomains -> off"),
            "{}",
            p.render()
        );
    }

    #[test]
    fn authentication_is_added_to_a_rule_in_place_and_a_listener_default_reaches_every_route() {
        use crate::model::config::{JwtAuth, RouteAuth};
        let jwt = RouteAuth::Jwt(JwtAuth {
            issuer: "https://issuer.example.com".into(),
            jwks_endpoint: "https://issuer.example.com/jwks.json".into(),
            audiences: vec!["orders".into()],
        });
        let before = desired(&config(true), &ctx());
        let mut cfg = config(true);
        cfg.functions[0].routes[0].auth = Some(jwt.clone());
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(changed, vec![("rule/10", Action::Update)]);
        let want = "auth: none -> jwt-validation issuer https://issuer.example.com, \
                    jwks https://issuer.example.com/jwks.json, aud in [orders]";
        assert!(p.render().contains(want), "{}", p.render());

        // As `[https].auth`, the same step on both rules.
        let mut cfg = config(true);
        if let Some(h) = cfg.https.as_mut() {
            h.auth = Some(jwt);
        }
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let updated: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Update && c.changed("auth"))
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(updated, vec!["rule/10", "rule/20"]);
    }

    #[test]
    fn extra_certificates_follow_the_https_listener_and_update_in_place() {
        let arn = |id: &str| {
            crate::model::ids::CertificateArn::new(format!(
                "arn:aws:acm:us-east-1:123456789012:certificate/{id}"
            ))
        };
        let with = |arns: Vec<crate::model::ids::CertificateArn>| {
            let mut cfg = config(true);
            if let Some(h) = cfg.https.as_mut() {
                h.extra_certificate_arns = Some(arns);
            }
            desired(&cfg, &ctx())
        };
        let before = desired(&config(true), &ctx());
        let p = plan(&with(vec![arn("b"), arn("a")]), &observed_from(&before)).expect("plan");
        let created = p.get("listener/https/certificates").expect("planned");
        assert_eq!(created.action, Action::Create);
        assert_eq!(created.kind, Kind::ListenerCertificates);
        let listener = p.changes.iter().position(|c| c.logical == "listener/https");
        let certs = p
            .changes
            .iter()
            .position(|c| c.logical == "listener/https/certificates");
        assert!(listener < certs, "{}", p.render());
        let one = with(vec![arn("a")]);
        let resource = one
            .resources
            .iter()
            .find(|r| r.logical == "listener/https/certificates")
            .expect("desired");
        assert_eq!(dependencies(resource, &one), vec!["listener/https"]);
        let p = plan(
            &with(vec![arn("a")]),
            &observed_from(&with(vec![arn("a"), arn("b")])),
        )
        .expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(
            changed,
            vec![("listener/https/certificates", Action::Update)]
        );
    }

    #[test]
    fn mtls_adds_a_trust_store_before_the_listener_and_is_removed_after_it_turns_off() {
        let pem = include_bytes!("../../tests/fixtures/mtls/ca-one.pem");
        let two = [
            &pem[..],
            include_bytes!("../../tests/fixtures/mtls/ca-two.pem"),
        ]
        .concat();
        let with = |pem: Option<&[u8]>| {
            let mut cfg = config(true);
            cfg.load_balancer.access_logs = false;
            if let Some(h) = cfg.https.as_mut() {
                h.mtls = pem.map(|p| crate::model::config::MtlsSettings {
                    path: "ca.pem".into(),
                    bundle: crate::model::mtls::check_bundle(p).expect("valid"),
                });
            }
            desired(&cfg, &ctx())
        };
        let changed = |p: &Plan| -> Vec<(String, Action)> {
            p.changes
                .iter()
                .filter(|c| c.action != Action::Keep)
                .map(|c| (c.logical.clone(), c.action))
                .collect()
        };
        // Added: the bucket (no access logs) and the trust store, the listener in place.
        let p = plan(&with(Some(pem)), &observed_from(&with(None))).expect("plan");
        assert_eq!(
            changed(&p),
            vec![
                ("log-bucket".to_string(), Action::Create),
                ("trust-store".to_string(), Action::Create),
                ("listener/https".to_string(), Action::Update),
            ],
            "{}",
            p.render()
        );
        let listener = p.get("listener/https").expect("planned");
        assert!(listener.changed("mutual_authentication"));
        let on = with(Some(pem));
        let resource = on
            .resources
            .iter()
            .find(|r| r.logical == "listener/https")
            .expect("desired");
        assert!(dependencies(resource, &on).contains(&"trust-store".to_string()));
        assert_eq!(
            resource.get("mutual_authentication"),
            Some("verify trust-store")
        );
        // A new bundle: the trust store in place, nothing else.
        let p = plan(&with(Some(&two)), &observed_from(&on)).expect("plan");
        assert_eq!(
            changed(&p),
            vec![("trust-store".to_string(), Action::Update)]
        );
        assert!(p.get("trust-store").expect("planned").changed("bundle"));
        // Removed: the listener back to off, the trust store and the bucket deleted.
        let p = plan(&with(None), &observed_from(&on)).expect("plan");
        let listener = p.get("listener/https").expect("planned");
        assert_eq!(listener.action, Action::Update);
        assert_eq!(p.get("trust-store").map(|c| c.action), Some(Action::Delete));
    }

    #[test]
    fn going_dualstack_in_the_stacks_own_vpc_adds_ipv6_in_place() {
        use crate::model::config::IpAddressType;
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.load_balancer.ip_address_type = IpAddressType::Dualstack;
        let after = desired(&cfg, &ctx());
        let p = plan(&after, &observed_from(&before)).expect("plan");
        insta::assert_snapshot!("dualstack_in_own_vpc", p.render());
        // The network changes in place: nothing is replaced under the load balancer.
        assert!(p.changes.iter().all(|c| c.action != Action::Replace));
        let updated = |id: &str| {
            p.changes
                .iter()
                .any(|c| c.logical.as_str() == id && c.action == Action::Update)
        };
        for id in [
            "vpc",
            "subnet/1",
            "subnet/2",
            "route-table",
            "load-balancer",
        ] {
            assert!(updated(id), "{id} is updated");
        }
        // Back to IPv4: the blocks and the route are not removed (only `Some` is managed).
        let back = plan(&before, &observed_from(&after)).expect("plan");
        for id in ["vpc", "subnet/1", "subnet/2", "route-table"] {
            let change = back.changes.iter().find(|c| c.logical.as_str() == id);
            assert_eq!(change.map(|c| c.action), Some(Action::Keep), "{id}");
        }
    }

    #[test]
    fn a_web_acl_is_added_after_the_load_balancer_and_its_rules_change_in_place() {
        use crate::model::config::{RateLimit, WafSettings};
        let with = |rate: Option<RateLimit>| {
            let mut cfg = config(false);
            cfg.waf = Some(WafSettings {
                managed_rules: vec![*crate::model::waf::managed_group("common").expect("group")],
                rate_limit: rate,
                block_countries: vec!["KP".into()],
            });
            desired(&cfg, &ctx())
        };
        let before = desired(&config(false), &ctx());
        let rate = RateLimit {
            requests: 2000,
            window_seconds: 300,
        };
        let p = plan(&with(Some(rate)), &observed_from(&before)).expect("plan");
        insta::assert_snapshot!("web_acl_added", p.render());
        let association = with(None);
        let resource = association
            .resources
            .iter()
            .find(|r| r.logical == "web-acl/association")
            .expect("desired");
        assert_eq!(
            dependencies(resource, &association),
            vec!["web-acl", "load-balancer"]
        );
        let p = plan(&with(None), &observed_from(&with(Some(rate)))).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(changed, vec![("web-acl", Action::Update)]);
        let p = plan(&before, &observed_from(&with(None))).expect("plan");
        let deletes: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(deletes, vec!["web-acl/association", "web-acl"]);
    }

    #[test]
    fn provisioned_concurrency_follows_its_function_and_reservation() {
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.functions[0].reserved_concurrency = Some(10);
        cfg.functions[0].provisioned_concurrency = Some(4);
        let after = desired(&cfg, &ctx());
        let p = plan(&after, &observed_from(&before)).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(
            changed,
            vec![
                ("function/cart/concurrency", Action::Create),
                ("function/cart/provisioned", Action::Create)
            ]
        );
        let resource = after
            .resources
            .iter()
            .find(|r| r.logical == "function/cart/provisioned")
            .expect("desired");
        assert_eq!(
            dependencies(resource, &after),
            vec!["function/cart", "function/cart/concurrency"]
        );
        insta::assert_snapshot!("provisioned_concurrency", p.render());

        // A function under a new name is a new function: its alias has none yet.
        let mut observed = observed_from(&after);
        if let Some(f) = observed.get_mut("function/cart") {
            f.resource.set("name", "shop-cart".to_string());
        }
        let p = plan(&after, &observed).expect("plan");
        let action = |l: &str| p.get(l).map(|c| c.action);
        assert_eq!(action("function/cart"), Some(Action::Replace));
        assert_eq!(action("function/cart/provisioned"), Some(Action::Replace));
        assert_eq!(action("function/orders"), Some(Action::Keep));

        // Dropping the key removes it, before the reservation it sits in.
        let p = plan(&before, &observed_from(&after)).expect("plan");
        let deletes: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(
            deletes,
            vec!["function/cart/provisioned", "function/cart/concurrency"]
        );
    }

    /// A stack with a resource of every kind (its config uses every feature).
    fn every_kind() -> Desired {
        use crate::model::config::{AlarmSettings, WafSettings};
        let mut cfg = config(true);
        cfg.functions[0].reserved_concurrency = Some(10);
        cfg.functions[0].provisioned_concurrency = Some(4);
        cfg.waf = Some(WafSettings {
            managed_rules: vec![*crate::model::waf::managed_group("common").expect("group")],
            rate_limit: None,
            block_countries: Vec::new(),
        });
        cfg.alarms = Some(AlarmSettings {
            http_5xx_percent: 5,
            http_5xx: 10,
            lambda_errors: 1,
            latency_p99_ms: 1000,
            throttles: 1,
            unhealthy_targets: 1,
            notify: vec!["ops@example.com".into()],
            dashboard: true,
        });
        if let Some(h) = cfg.https.as_mut() {
            h.extra_certificate_arns = Some(vec![crate::model::ids::CertificateArn::new(
                "arn:aws:acm:us-east-1:123456789012:certificate/extra",
            )]);
            h.mtls = Some(crate::model::config::MtlsSettings {
                path: "ca.pem".into(),
                bundle: crate::model::mtls::check_bundle(include_bytes!(
                    "../../tests/fixtures/mtls/ca-one.pem"
                ))
                .expect("valid"),
            });
        }
        desired(&cfg, &ctx())
    }

    #[test]
    fn deletion_waits_for_every_kind_that_refers_to_a_resource() {
        let d = every_kind();
        let kinds: BTreeSet<Kind> = d.resources.iter().map(|r| r.kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "a stack of every kind");
        let mut missing = BTreeSet::new();
        for r in &d.resources {
            for needed in dependencies(r, &d) {
                let needed = d.get(&needed).expect("in the stack").kind;
                if !deleted_after(needed).contains(&r.kind) {
                    missing.insert(format!(
                        "a {needed} must wait for a {} (it refers to it)",
                        r.kind
                    ));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn deletion_waits_only_on_kinds_created_after_it_so_it_cannot_deadlock() {
        for &kind in Kind::ALL {
            for &after in deleted_after(kind) {
                assert!(
                    creation_rank(after) > creation_rank(kind),
                    "{kind} waits for {after}, which is not created after it"
                );
            }
        }
    }

    #[test]
    fn alarms_and_their_topic_are_added_changed_in_place_and_removed_alarms_first() {
        use crate::model::config::AlarmSettings;
        let with = |latency_p99_ms: u32| {
            let mut cfg = config(false);
            cfg.functions.truncate(1);
            cfg.alarms = Some(AlarmSettings {
                http_5xx_percent: 5,
                http_5xx: 10,
                lambda_errors: 1,
                latency_p99_ms,
                throttles: 1,
                unhealthy_targets: 1,
                notify: vec!["ops@example.com".into()],
                dashboard: true,
            });
            desired(&cfg, &ctx())
        };
        let before = {
            let mut cfg = config(false);
            cfg.functions.truncate(1);
            desired(&cfg, &ctx())
        };
        let p = plan(&with(1000), &observed_from(&before)).expect("plan");
        insta::assert_snapshot!("alarms_added", p.render());
        let p = plan(&with(2000), &observed_from(&with(1000))).expect("plan");
        let changed: Vec<(&str, Action)> = p
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .map(|c| (c.logical.as_str(), c.action))
            .collect();
        assert_eq!(changed, vec![("alarm/cart/latency-p99", Action::Update)]);
        let p = plan(&before, &observed_from(&with(1000))).expect("plan");
        let deletes: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(deletes.len(), 9);
        assert_eq!(deletes.last(), Some(&"alarm-topic"));
    }

    #[test]
    fn a_removed_function_is_deleted_dependents_first() {
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.functions.pop();
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let deletes: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.logical.as_str())
            .collect();
        assert_eq!(
            deletes,
            vec![
                "rule/20",
                "target-group/orders",
                "function/orders",
                "log-group/orders",
                "role/orders"
            ]
        );
        assert!(p.render().contains(
            "- log-group/orders (log-group) id-of-log-group/orders  # deletes the logs it holds"
        ));
    }

    /// The HTTPS config of [`config`] in a reused VPC, with the given address type.
    fn reused_vpc(ip: IpAddressType) -> Config {
        let mut cfg = config(true);
        cfg.network = Network::Existing {
            vpc_id: crate::model::ids::VpcId::new("vpc-0123abcd"),
            subnet_ids: vec![
                crate::model::ids::SubnetId::new("subnet-0123abcd"),
                crate::model::ids::SubnetId::new("subnet-4567abcd"),
            ],
        };
        cfg.load_balancer.ip_address_type = ip;
        cfg
    }

    #[test]
    fn dualstack_adds_the_aaaa_record_and_the_ipv6_ingress() {
        let mut c = ctx();
        c.existing_vpc_ipv6 = true;
        let d = desired(&reused_vpc(IpAddressType::Dualstack), &c);
        let prop = |l: &str, name: &str| {
            let r = d.resources.iter().find(|r| r.logical == l).expect(l);
            r.props
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let lb = prop("load-balancer", "ip_address_type");
        assert_eq!(lb.as_deref(), Some("dualstack"));
        let ingress = prop("security-group", "ingress").unwrap_or_default();
        assert!(ingress.contains("tcp/443 from ::/0"), "{ingress}");
        assert!(ingress.contains("tcp/80 from ::/0"), "{ingress}");
        assert_eq!(prop("dns/AAAA", "type").as_deref(), Some("AAAA"));
        assert_eq!(prop("dns/AAAA", "name"), prop("dns/A", "name"));
        // The IPv4 default has neither.
        let d = desired(&reused_vpc(IpAddressType::Ipv4), &c);
        assert!(d.resources.iter().all(|r| r.logical != "dns/AAAA"));
        let sg = d.resources.iter().find(|r| r.logical == "security-group");
        let ingress = sg.map(|r| format!("{:?}", r.props)).unwrap_or_default();
        assert!(!ingress.contains("from ::/0"), "{ingress}");
    }

    #[test]
    fn switching_to_ipv4_updates_in_place_and_removes_the_aaaa_record() {
        let mut c = ctx();
        c.existing_vpc_ipv6 = true;
        let before = desired(&reused_vpc(IpAddressType::Dualstack), &c);
        let after = desired(&reused_vpc(IpAddressType::Ipv4), &c);
        let p = plan(&after, &observed_from(&before)).expect("plan");
        let action = |l: &str| p.get(l).map(|c| c.action);
        assert_eq!(action("load-balancer"), Some(Action::Update));
        assert_eq!(action("security-group"), Some(Action::Update));
        assert_eq!(action("dns/AAAA"), Some(Action::Delete));
        assert_eq!(action("dns/A"), Some(Action::Keep));
        assert_eq!(action("listener/https"), Some(Action::Keep));
        // And back: the record is created, nothing is replaced.
        let p = plan(&before, &observed_from(&after)).expect("plan");
        let action = |l: &str| p.get(l).map(|c| c.action);
        assert_eq!(action("load-balancer"), Some(Action::Update));
        assert_eq!(action("dns/AAAA"), Some(Action::Create));
    }

    #[test]
    fn a_scheme_change_replaces_the_load_balancer_and_what_lives_in_it() {
        let before = desired(&config(true), &ctx());
        let mut cfg = config(true);
        cfg.load_balancer.scheme = Scheme::Internal;
        let p = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect("plan");
        let action = |l: &str| p.get(l).map(|c| c.action);
        assert_eq!(action("load-balancer"), Some(Action::Replace));
        assert_eq!(action("listener/http"), Some(Action::Replace));
        assert_eq!(action("listener/https"), Some(Action::Replace));
        assert_eq!(action("rule/10"), Some(Action::Replace));
        assert_eq!(action("dns/A"), Some(Action::Update));
        // Internal: ingress from the VPC only.
        assert_eq!(action("security-group"), Some(Action::Update));
        assert_eq!(action("function/cart"), Some(Action::Keep));
    }

    #[test]
    fn adding_https_moves_the_rules_to_the_https_listener() {
        let before = desired(&config(false), &ctx());
        let p = plan(&desired(&config(true), &ctx()), &observed_from(&before)).expect("plan");
        let action = |l: &str| p.get(l).map(|c| c.action);
        assert_eq!(action("certificate"), Some(Action::Create));
        assert_eq!(action("listener/https"), Some(Action::Create));
        assert_eq!(
            action("listener/http"),
            Some(Action::Update),
            "redirect instead of 404"
        );
        assert_eq!(action("rule/10"), Some(Action::Replace));
        let rule = p.get("rule/10").expect("rule");
        assert!(rule
            .fields
            .iter()
            .any(|f| f.name == "listener" && f.forces_replacement));
    }

    #[test]
    fn a_new_cidr_would_replace_the_network_and_is_refused() {
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.network = Network::Managed {
            cidr: Ipv4Cidr {
                addr: [10, 1, 0, 0].into(),
                prefix: 16,
            },
            availability_zones: 2,
        };
        let errors = plan(&desired(&cfg, &ctx()), &observed_from(&before)).expect_err("refused");
        assert!(errors.iter().any(
            |e| matches!(e, PlanError::WouldReplaceNetwork { logical, .. } if logical == "vpc")
        ));
        assert!(errors[0].help().contains("albkit down"));
    }

    #[test]
    fn a_third_availability_zone_adds_a_subnet_and_moves_the_load_balancer() {
        let before = desired(&config(false), &ctx());
        let mut cfg = config(false);
        cfg.network = Network::Managed {
            cidr: Ipv4Cidr {
                addr: [10, 0, 0, 0].into(),
                prefix: 16,
            },
            availability_zones: 3,
        };
        let d = desired(&cfg, &ctx());
        let p = plan(&d, &observed_from(&before)).expect("plan");
        assert_eq!(p.get("subnet/3").map(|c| c.action), Some(Action::Create));
        assert_eq!(
            d.get("subnet/3").and_then(|r| r.get("cidr")),
            Some("10.0.32.0/20")
        );
        assert!(p.get("load-balancer").is_some_and(|c| c.changed("subnets")));
        assert!(p
            .get("route-table")
            .is_some_and(|c| c.changed("associations")));
    }

    #[test]
    fn environment_values_never_appear_in_the_plan() {
        let d = desired(&config(false), &ctx());
        let text = p_render(&d);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("=info"), "{text}");
        assert!(!text.contains("(secret sha256"), "{text}");
        assert!(
            text.contains("environment = DB_PASSWORD, RUST_LOG"),
            "{text}"
        );
    }

    #[test]
    fn unpublished_environment_drift_is_shown_by_key() {
        use crate::model::stack::{environment_prop, shown};
        let one = |v: &str| environment_prop(&[("GREETING".to_string(), v.to_string())].into());
        let value = format!(
            "{} (unpublished in $LATEST: {})",
            one("hello"),
            one("changed by hand")
        );
        assert_eq!(
            shown("environment", &value),
            "GREETING (unpublished in $LATEST: GREETING; changed GREETING)"
        );
    }

    #[test]
    fn an_environment_change_is_shown_by_key() {
        use crate::model::stack::environment_prop;
        let env = |pairs: &[(&str, &str)]| -> String {
            environment_prop(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let d = desired(&config(false), &ctx());
        let mut observed = observed_from(&d);
        if let Some(o) = observed.get_mut("function/cart") {
            o.resource.set(
                "environment",
                env(&[("DB_PASSWORD", "old-secret"), ("OLD", "x")]),
            );
        }
        let p = plan(&d, &observed).expect("plan");
        let change = p.get("function/cart").expect("change");
        let field = change
            .fields
            .iter()
            .find(|f| f.name == "environment")
            .expect("environment changed");
        assert_eq!(field.old.as_deref(), Some("DB_PASSWORD, OLD"));
        assert_eq!(
            field.new.as_deref(),
            Some("DB_PASSWORD, RUST_LOG (added RUST_LOG; changed DB_PASSWORD; removed OLD)")
        );
        let text = p.render();
        for value in ["old-secret", "hunter2", "info"] {
            assert!(!text.contains(value), "{value} in:\n{text}");
        }
    }

    fn p_render(d: &Desired) -> String {
        plan(d, &ObservedStack::new()).expect("plan").render()
    }

    #[test]
    fn dependencies_follow_the_resource_graph() {
        let d = desired(&config(true), &ctx());
        let deps = |l: &str| dependencies(d.get(l).expect("resource"), &d);
        assert_eq!(deps("vpc"), Vec::<String>::new());
        assert_eq!(deps("subnet/1"), vec!["vpc"]);
        assert_eq!(
            deps("load-balancer"),
            vec![
                "subnet/1",
                "subnet/2",
                "security-group",
                "log-bucket",
                "route-table"
            ]
        );
        assert_eq!(deps("listener/https"), vec!["load-balancer", "certificate"]);
        assert_eq!(deps("function/cart"), vec!["role/cart", "log-group/cart"]);
        assert_eq!(deps("target-group/cart"), vec!["function/cart"]);
        assert_eq!(deps("rule/10"), vec!["listener/https", "target-group/cart"]);
        assert_eq!(deps("dns/A"), vec!["load-balancer"]);
        // Every dependency exists and nothing depends on itself.
        for r in &d.resources {
            for dep in dependencies(r, &d) {
                assert_ne!(dep, r.logical);
                assert!(d.get(&dep).is_some());
            }
        }
    }

    #[test]
    fn teardown_deletes_in_reverse_creation_order() {
        let d = desired(&config(true), &ctx());
        let p = teardown("shop", &observed_from(&d));
        let rank: Vec<u8> = p.changes.iter().map(|c| creation_rank(c.kind)).collect();
        let mut sorted = rank.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(rank, sorted);
        let position = |l: &str| {
            p.changes
                .iter()
                .position(|c| c.logical == l)
                .expect("planned")
        };
        assert!(position("rule/10") < position("listener/https"));
        assert!(position("listener/https") < position("load-balancer"));
        assert!(position("load-balancer") < position("subnet/1"));
        assert!(position("subnet/1") < position("vpc"));
        assert!(position("target-group/cart") < position("function/cart"));
        assert!(position("function/cart") < position("role/cart"));
        assert!(p.changes.iter().all(|c| c.action == Action::Delete));
    }
}
