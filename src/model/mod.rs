//! Pure model: configuration, names, identifiers, desired stack and plan.
//! Nothing in here performs AWS calls or depends on tokio.

pub mod alarms;
pub mod attach;
pub mod bound;
pub mod buckets;
pub mod config;
pub mod cost;
pub mod desired;
pub mod doctor;
pub mod found;
pub mod graph;
pub mod headers;
pub mod iam_policy;
pub mod ids;
pub mod lifecycle;
pub mod lock;
pub mod metrics;
pub mod mtls;
pub mod names;
pub mod plan;
pub mod role_policy;
pub mod sg_rule;
pub mod shift;
pub mod spec;
pub mod stack;
pub mod tls;
pub mod waf;

/// The former name of the reading and validation of `albkit.toml`, now part of
/// [`config`]; kept so that callers can move at their own pace.
pub use config as validate;
