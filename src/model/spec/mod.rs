//! Typed resource specs: what albkit wants of each resource, one type per kind.
//!
//! `desired` builds a [`Spec`] per resource from the config. The generic diff in `plan`
//! compares the properties a spec *renders* (`(name, text)` pairs, exactly what the
//! plan prints) with the properties discovery read, so the plan keeps one form for
//! every kind; the executor hands the typed spec itself to the resource's AWS code, so
//! no value is parsed back out of its text. References between resources are typed:
//! [`Ref::Stack`] names another resource of the stack by its [`LogicalId`] (the edges of
//! the execution graph), [`Ref::External`] an AWS id given in the config.
//!
//! Adding a kind: a spec file here implementing [`Describe`] and [`KindFacts`], a line in
//! the [`for_each_kind!`] registry below, and the AWS file of the same name under
//! `src/aws/resources/` (see docs/architecture.md).

use std::fmt;

use serde::Serialize;

use super::stack::Tags;

mod alarm;
mod alarm_topic;
mod certificate;
mod dashboard;
mod dns_record;
mod function;
mod function_concurrency;
mod function_provisioned;
mod internet_gateway;
mod listener;
mod listener_certificates;
mod load_balancer;
mod log_bucket;
mod log_group;
mod role;
mod route_table;
mod rule;
mod security_group;
mod subnet;
mod target_group;
mod trust_store;
mod vpc;
mod web_acl;
mod web_acl_association;

pub use alarm::{
    arn_dimension, AlarmSpec, DimValue, Rate, Threshold, ALARM_PERIOD_SECONDS, RATE_EXPRESSION,
};
pub use alarm_topic::AlarmTopicSpec;
pub use certificate::CertificateSpec;
pub use dashboard::{
    body as dashboard_body, read_body as read_dashboard_body, DashboardRow, DashboardSpec,
};
pub use dns_record::DnsRecordSpec;
pub use function::FunctionSpec;
pub use function_concurrency::FunctionConcurrencySpec;
pub use function_provisioned::FunctionProvisionedSpec;
pub use internet_gateway::InternetGatewaySpec;
pub use listener::{
    DefaultAction, ListenerSpec, ListenerTls, HSTS_OFF, MTLS_OFF, MTLS_VERIFY, NOT_FOUND_BODY,
};
pub use listener_certificates::ListenerCertificatesSpec;
pub use load_balancer::LoadBalancerSpec;
pub use log_bucket::LogBucketSpec;
pub use log_group::LogGroupSpec;
pub use role::RoleSpec;
pub use route_table::RouteTableSpec;
pub use rule::{FixedResponse, OidcLogin, Redirect, RuleAction, RuleAuth, RuleSpec};
pub use security_group::SecurityGroupSpec;
pub use subnet::{ipv6_block, ipv6_index, SubnetSpec};
pub use target_group::{permission_text, HealthCheckSpec, TargetGroupSpec, ELB_PRINCIPAL};
pub use trust_store::{TrustStoreSpec, BUNDLE_TAG};
pub use vpc::VpcSpec;
pub use web_acl::{WafRule, WebAclSpec, BLOCK_COUNTRIES_RULE, RATE_LIMIT_RULE};
pub use web_acl_association::WebAclAssociationSpec;

/// The name a resource has inside the stack (`vpc`, `subnet/1`, `function/api`): stable
/// across runs, written in its `albkit:resource` tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct LogicalId(String);

impl LogicalId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for LogicalId {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl From<String> for LogicalId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// A reference from one resource to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// A resource of this stack, resolved to its AWS id when it has one.
    Stack(LogicalId),
    /// An AWS id given in the config (a reused VPC or subnet, an existing certificate).
    External(String),
}

impl Ref {
    /// The stack resource this refers to, if any: an edge of the execution graph.
    pub fn logical(&self) -> Option<&LogicalId> {
        match self {
            Ref::Stack(id) => Some(id),
            Ref::External(_) => None,
        }
    }

    /// Discovery's AWS id as the stack resource it is, when `logical_of` knows it.
    pub fn resolve(&mut self, logical_of: impl Fn(&str) -> Option<LogicalId>) {
        if let Ref::External(id) = self {
            if let Some(logical) = logical_of(id) {
                *self = Ref::Stack(logical);
            }
        }
    }
}

impl fmt::Display for Ref {
    /// As the plan shows it: the logical id, or the AWS id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Stack(id) => id.fmt(f),
            Ref::External(id) => f.write_str(id),
        }
    }
}

/// Properties as the plan compares and prints them, in the order it prints them.
pub type Props = Vec<(&'static str, String)>;

/// What every spec says about itself.
pub trait Describe {
    /// Its properties, as `plan` compares them with what discovery read; `id` is the
    /// resource's own logical id.
    fn render(&self, id: &LogicalId) -> Props;
    /// Its references to other resources: the ones to the stack's own are the edges
    /// of the execution graph ([`Spec::needs`]); discovery reads them as AWS ids
    /// ([`Ref::External`]) and resolves them.
    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        Vec::new()
    }
}

/// A list of references whose order AWS does not keep, as one property: sorted, `a, b`.
pub(crate) fn join<T: fmt::Display>(items: &[T]) -> String {
    let mut items: Vec<String> = items.iter().map(ToString::to_string).collect();
    items.sort();
    items.join(", ")
}

/// The `tags` property: see [`super::stack::tags_prop`].
pub(crate) fn tags(tags: &Tags) -> String {
    super::stack::tags_prop(tags)
}

/// What the planner knows of a kind, declared beside its spec.
pub trait KindFacts {
    /// The kind's name in plans and outputs.
    const NAME: &'static str;
    /// Its position in creation order; deletion runs the other way.
    const RANK: u8;
    /// Properties AWS cannot change in place: a difference in one of them means the
    /// resource is deleted and created again.
    const REPLACE_ON: &'static [&'static str] = &[];
    /// Resources whose replacement albkit refuses to plan, because everything else
    /// stands on them; the user decides (`albkit down` first).
    const NEVER_REPLACE: bool = false;
    /// It holds logs: deleted only when the user asks (`down --purge-logs`), and a plan
    /// that deletes it says so.
    const HOLDS_LOGS: bool = false;
}

/// A kind's [`KindFacts`] as values.
#[derive(Debug, Clone, Copy)]
struct Facts {
    name: &'static str,
    rank: u8,
    replace_on: &'static [&'static str],
    never_replace: bool,
    holds_logs: bool,
}

impl Facts {
    const fn of<S: KindFacts>() -> Self {
        Self {
            name: S::NAME,
            rank: S::RANK,
            replace_on: S::REPLACE_ON,
            never_replace: S::NEVER_REPLACE,
            holds_logs: S::HOLDS_LOGS,
        }
    }
}

/// The registry of kinds: one line per kind ties its `Kind` variant to its spec type and
/// to the module of that name here and under `src/aws/resources/`. It hands the list to
/// `$callback`, so that `Kind`, `Spec` and the executor's dispatch are generated from it.
macro_rules! for_each_kind {
    ($callback:ident) => {
        $callback! {
            Vpc(VpcSpec) in vpc,
            Subnet(SubnetSpec) in subnet,
            InternetGateway(InternetGatewaySpec) in internet_gateway,
            RouteTable(RouteTableSpec) in route_table,
            SecurityGroup(SecurityGroupSpec) in security_group,
            LogBucket(LogBucketSpec) in log_bucket,
            LoadBalancer(LoadBalancerSpec) in load_balancer,
            Certificate(CertificateSpec) in certificate,
            TrustStore(TrustStoreSpec) in trust_store,
            Listener(ListenerSpec) in listener,
            ListenerCertificates(ListenerCertificatesSpec) in listener_certificates,
            Role(RoleSpec) in role,
            LogGroup(LogGroupSpec) in log_group,
            Function(FunctionSpec) in function,
            FunctionConcurrency(FunctionConcurrencySpec) in function_concurrency,
            FunctionProvisioned(FunctionProvisionedSpec) in function_provisioned,
            TargetGroup(TargetGroupSpec) in target_group,
            ListenerRule(RuleSpec) in rule,
            DnsRecord(DnsRecordSpec) in dns_record,
            WebAcl(WebAclSpec) in web_acl,
            WebAclAssociation(WebAclAssociationSpec) in web_acl_association,
            AlarmTopic(AlarmTopicSpec) in alarm_topic,
            Alarm(AlarmSpec) in alarm,
            Dashboard(DashboardSpec) in dashboard,
        }
    };
}
pub(crate) use for_each_kind;

/// Generates `Kind` and `Spec` from the registry.
macro_rules! kinds {
    ($($variant:ident($spec:ident) in $module:ident),* $(,)?) => {
        /// The kind of a resource.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Kind {
            $($variant,)*
        }

        impl Kind {
            /// Every kind, in registry order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The facts its spec type declares.
            fn facts(self) -> Facts {
                match self {
                    $(Kind::$variant => Facts::of::<$spec>(),)*
                }
            }
        }

        /// One resource's desired settings, by kind.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Spec {
            $($variant($spec),)*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$variant(_) => Kind::$variant,)*
                }
            }

            fn describe(&self) -> &dyn Describe {
                match self {
                    $(Spec::$variant(s) => s,)*
                }
            }

            fn describe_mut(&mut self) -> &mut dyn Describe {
                match self {
                    $(Spec::$variant(s) => s,)*
                }
            }
        }

        $(impl From<$spec> for Spec {
            fn from(spec: $spec) -> Self {
                Spec::$variant(spec)
            }
        })*
    };
}

for_each_kind!(kinds);

impl Kind {
    /// The kind's name in plans and outputs.
    pub fn as_str(&self) -> &'static str {
        self.facts().name
    }

    /// See [`KindFacts::REPLACE_ON`].
    pub fn replace_on(&self) -> &'static [&'static str] {
        self.facts().replace_on
    }

    /// See [`KindFacts::NEVER_REPLACE`].
    pub fn never_replace(&self) -> bool {
        self.facts().never_replace
    }

    /// See [`KindFacts::HOLDS_LOGS`].
    pub fn holds_logs(&self) -> bool {
        self.facts().holds_logs
    }

    /// See [`KindFacts::RANK`].
    pub fn rank(&self) -> u8 {
        self.facts().rank
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Spec {
    pub fn render(&self, id: &LogicalId) -> Props {
        self.describe().render(id)
    }

    /// The stack resources it needs before it can be created or updated, in the
    /// order of its references. Ids absent from the desired stack are dropped by the
    /// planner.
    pub fn needs(&self) -> Vec<LogicalId> {
        let mut spec = self.clone();
        let refs = spec.refs_mut();
        refs.into_iter()
            .filter_map(|r| r.logical().cloned())
            .collect()
    }

    pub fn refs_mut(&mut self) -> Vec<&mut Ref> {
        self.describe_mut().refs_mut()
    }
}
