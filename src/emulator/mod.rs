//! `albkit dev`: a faithful local ALB in front of the stack's functions, without AWS.
//! This module does the I/O; the ALB's rules themselves are the pure [`crate::alb`].
//!
//! - [`runtime_api`] serves the Lambda Runtime API to each function instance,
//!   [`process`] runs the `bootstrap` children, [`launch`] builds a configured function
//!   and gives it its Lambda identity, [`target`] forwards one request to a function
//!   (also what `albkit invoke --local` does), [`server`] is the HTTP front, [`health`]
//!   runs the target groups' health checks, [`tls`] is the HTTPS listener's TLS of
//!   `dev --tls` (and mutual TLS).

pub(crate) mod health;
pub mod launch;
pub mod process;
pub mod runtime_api;
pub mod server;
pub(crate) mod target;
pub mod tls;
