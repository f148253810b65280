//! The program's error: every failure says what, where and what to do next.

use miette::Diagnostic;

use crate::aws::error::AwsError;
use crate::aws::executor::ApplyError;
use crate::aws::lock::LockError;
use crate::model::plan::PlanError;
use crate::model::validate::ConfigError;
use crate::package::BuildError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(Box<ConfigError>),
    #[error("{message}")]
    Usage { message: String, help: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("could not apply the plan: {0}")]
    Apply(Box<ApplyError>),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the plan cannot be carried out:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Plan(Vec<PlanError>),
    #[error("{message}")]
    Conflict { message: String, help: String },
    /// Another run holds the stack's lock.
    #[error("{message}")]
    Locked { message: String, help: String },
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// 2 for usage and configuration errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage { .. } => 2,
            _ => 1,
        }
    }

    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            Error::Config(e) => e.code(),
            Error::Aws(e) => e
                .code
                .as_ref()
                .map(|c| Box::new(format!("aws::{c}")) as Box<dyn std::fmt::Display>),
            Error::Apply(e) => e
                .source
                .code
                .as_ref()
                .map(|c| Box::new(format!("aws::{c}")) as Box<dyn std::fmt::Display>),
            _ => None,
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let text = match self {
            Error::Config(e) => return e.help(),
            Error::Usage { help, .. }
            | Error::Conflict { help, .. }
            | Error::Locked { help, .. } => help.clone(),
            Error::Aws(e) => e.help(),
            Error::Apply(e) => {
                let mut h = e.source.help();
                for (name, other) in &e.others {
                    h.push_str(&format!("\nalso failed: {name}: {other}"));
                }
                h.push_str("\nnothing was rolled back: run `albkit up` again to finish, or `albkit down` to remove what was created");
                h
            }
            Error::Build(e) => e.help(),
            Error::Plan(errors) => errors
                .iter()
                .map(|e| e.help())
                .collect::<Vec<_>>()
                .join("\n"),
            Error::Other(_) => return None,
        };
        Some(Box::new(text))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::Config(e) => e.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::Config(e) => e.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Error::Config(e) => e.related(),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl From<LockError> for Error {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Held {
                stack,
                holder,
                location,
                waited,
            } => Error::Locked {
                message: format!("stack {stack} is locked by another run: {holder}"),
                help: format!(
                    "wait for that run to finish{}, or pass --lock-timeout 10m to wait for it; if that run was killed, its lock expires by itself, or remove it with `albkit unlock` (the lock is {location})",
                    if waited.as_secs() == 0 { String::new() } else { format!(" (waited {} s)", waited.as_secs()) }
                ),
            },
            LockError::Aws(e) => Error::Aws(e),
        }
    }
}

impl From<ApplyError> for Error {
    fn from(e: ApplyError) -> Self {
        Error::Apply(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
