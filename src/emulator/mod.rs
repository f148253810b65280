//! `albkit dev`: a faithful local ALB in front of the stack's functions, without AWS.
//!
//! - [`rules`] and [`event`] are pure: listener-rule matching and the HTTP ↔ ALB event
//!   mapping, unit-tested fact by fact against `ALB-LAMBDA.md`.
//! - [`runtime_api`] serves the Lambda Runtime API to each function instance,
//!   [`process`] runs the `bootstrap` children, [`server`] is the HTTP front,
//!   [`health`] runs the target groups' health checks.

pub mod event;
pub mod health;
pub mod process;
pub mod rules;
pub mod runtime_api;
pub mod server;
