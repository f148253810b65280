//! albkit's integration tests, one module per area, in one test binary: the AWS SDK is
//! linked once, and `cargo test` runs every test in one pool of threads against one
//! moto server (`support::Moto::shared`) instead of one binary after another.
//!
//! Run one area with a filter: `cargo test --test it -- stack::`.

mod alarms;
mod attach;
mod auth;
mod builders;
mod concurrency;
mod conformance;
mod data_plane;
mod deploys;
mod dev;
mod docs;
mod doctor;
mod dualstack;
mod harness;
mod json_output;
mod lifecycle;
mod mtls;
mod ownership;
mod permissions;
mod reliability;
mod secure_defaults;
mod stack;
mod support;
mod templates;
mod top;
mod waf;
