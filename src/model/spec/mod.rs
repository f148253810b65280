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
//! Adding a kind: a spec file here implementing [`Describe`], a line in the `specs!`
//! registry below, a `Kind` variant, and the AWS file under `src/aws/resources/`
//! (see docs/architecture.md).

use std::fmt;

use super::stack::{Kind, Tags};

mod certificate;
mod dns_record;
mod function;
mod internet_gateway;
mod listener;
mod load_balancer;
mod log_bucket;
mod log_group;
mod role;
mod route_table;
mod rule;
mod security_group;
mod subnet;
mod target_group;
mod vpc;

pub use certificate::CertificateSpec;
pub use dns_record::DnsRecordSpec;
pub use function::FunctionSpec;
pub use internet_gateway::InternetGatewaySpec;
pub use listener::{DefaultAction, ListenerSpec, ListenerTls, HSTS_OFF, NOT_FOUND_BODY};
pub use load_balancer::LoadBalancerSpec;
pub use log_bucket::LogBucketSpec;
pub use log_group::LogGroupSpec;
pub use role::RoleSpec;
pub use route_table::RouteTableSpec;
pub use rule::RuleSpec;
pub use security_group::SecurityGroupSpec;
pub use subnet::SubnetSpec;
pub use target_group::{permission_text, HealthCheckSpec, TargetGroupSpec, ELB_PRINCIPAL};
pub use vpc::VpcSpec;

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
    /// The stack resources it needs before it can be created or updated. Ids absent
    /// from the desired stack are dropped by the planner.
    fn needs(&self) -> Vec<&LogicalId>;
}

/// A list of references as one property: `a, b`.
pub(crate) fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `tags` property: see [`super::stack::tags_prop`].
pub(crate) fn tags(tags: &Tags) -> String {
    super::stack::tags_prop(tags)
}

/// The registry of kinds: one line per kind ties its `Kind` to its spec type.
macro_rules! specs {
    ($($variant:ident($spec:ident)),* $(,)?) => {
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
        }

        $(impl From<$spec> for Spec {
            fn from(spec: $spec) -> Self {
                Spec::$variant(spec)
            }
        })*
    };
}

specs! {
    Vpc(VpcSpec),
    Subnet(SubnetSpec),
    InternetGateway(InternetGatewaySpec),
    RouteTable(RouteTableSpec),
    SecurityGroup(SecurityGroupSpec),
    LogBucket(LogBucketSpec),
    LoadBalancer(LoadBalancerSpec),
    Certificate(CertificateSpec),
    Listener(ListenerSpec),
    Role(RoleSpec),
    LogGroup(LogGroupSpec),
    Function(FunctionSpec),
    TargetGroup(TargetGroupSpec),
    ListenerRule(RuleSpec),
    DnsRecord(DnsRecordSpec),
}

impl Spec {
    pub fn render(&self, id: &LogicalId) -> Props {
        self.describe().render(id)
    }

    pub fn needs(&self) -> Vec<&LogicalId> {
        self.describe().needs()
    }
}
