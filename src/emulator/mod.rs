//! `albkit dev`: a faithful local ALB in front of the stack's functions, without AWS.
//!
//! - [`rules`] and [`event`] are pure: listener-rule matching and the HTTP ↔ ALB event
//!   mapping, unit-tested fact by fact against `ALB-LAMBDA.md`; `albkit invoke` and the
//!   smoke check of `albkit deploy` use [`event`] too.
//! - [`runtime_api`] serves the Lambda Runtime API to each function instance,
//!   [`process`] runs the `bootstrap` children, [`launch`] builds a configured function
//!   and gives it its Lambda identity, [`target`] forwards one request to a function
//!   (also what `albkit invoke --local` does), [`server`] is the HTTP front, [`health`]
//!   runs the target groups' health checks.

pub mod event;
pub mod health;
pub mod launch;
pub mod process;
pub mod rules;
pub mod runtime_api;
pub mod server;
pub mod target;
