//! albkit: an Application Load Balancer in front of Rust Lambda functions, provisioned
//! directly through the AWS SDK for Rust.

pub mod alb;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod emulator;
pub(crate) mod error;
pub mod logging;
pub mod model;
pub mod package;
pub mod templates;
pub mod ui;
