//! The ALB's semantics towards Lambda targets, PURE (no I/O), each rule unit-tested
//! against the facts in `docs/alb-lambda.md`:
//!
//! - [`rules`]: which listener rule answers a request (§5);
//! - [`event`]: an HTTP request as the target group's event, a function's response as
//!   HTTP, and the limits checked before invoking (§1, §3, §4);
//! - [`outcome`]: what the client gets for each way an invocation can end (§3, §4);
//! - [`health`]: target health states and thresholds (§2);
//! - [`jwt`]: the `jwt-validation` action of an authenticated route (docs/auth.md);
//! - [`oidc`]: the headers a function receives behind a Cognito login (docs/auth.md);
//! - [`mtls`]: the headers a function receives behind mutual TLS (docs/mtls.md);
//! - [`access_log`]: the access-log files and entries ELB writes to the stack's bucket.
//!
//! Used by `albkit dev` (the local ALB in `emulator`), `albkit invoke` and the smoke
//! check of `albkit deploy` (`model::lifecycle`).

pub(crate) mod access_log;
pub mod event;
pub(crate) mod health;
pub mod jwt;
pub mod mtls;
pub mod oidc;
pub(crate) mod outcome;
pub(crate) mod rules;
