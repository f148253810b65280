//! Pure model: configuration, names, identifiers, desired stack and plan.
//! Nothing in here performs AWS calls or depends on tokio.

pub mod config;
pub mod ids;
pub mod lifecycle;
pub mod names;
pub mod plan;
pub mod stack;
pub mod validate;
