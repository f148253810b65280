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

    /// What sort of failure this is, as the JSON error document names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Usage { .. } => "usage",
            Error::Aws(_) => "aws",
            Error::Apply(_) => "apply",
            Error::Build(_) => "build",
            Error::Plan(_) => "plan",
            Error::Conflict { .. } => "conflict",
            Error::Locked { .. } => "locked",
            Error::Other(_) => "other",
        }
    }

    /// The document `-o json` prints on stdout when a command fails before printing its
    /// own (`schemas/error.schema.json`): what, the hint, the exit code, and for a
    /// configuration every problem with its key, line and column.
    pub fn to_json(&self) -> serde_json::Value {
        let problems: Vec<serde_json::Value> = match self {
            Error::Config(e) => e
                .problems()
                .iter()
                .map(|p| {
                    let at = p.span.as_ref().and_then(|span| {
                        let source = e.source_code()?;
                        let contents = source
                            .read_span(&miette::SourceSpan::from(span.clone()), 0, 0)
                            .ok()?;
                        Some((contents.line() + 1, contents.column() + 1))
                    });
                    serde_json::json!({
                        "key": p.key,
                        "message": p.message,
                        "help": p.help,
                        "line": at.map(|a| a.0),
                        "column": at.map(|a| a.1),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        serde_json::json!({
            "error": {
                "kind": self.kind(),
                "message": self.to_string(),
                "help": self.help().map(|h| h.to_string()),
                "code": self.code().map(|c| c.to_string()),
                "exit_code": self.exit_code(),
                "problems": problems,
            }
        })
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
                .diagnostic_code()
                .map(|c| Box::new(c) as Box<dyn std::fmt::Display>),
            Error::Apply(e) => e
                .source
                .code()
                .map(|c| Box::new(c) as Box<dyn std::fmt::Display>),
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
                .map(super::model::plan::PlanError::help)
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
            LockError::ForeignBucket {
                bucket,
                reason,
                other_account,
            } => Error::Conflict {
                message: format!("the stack lock cannot be taken: the lock bucket {bucket} is not albkit's ({reason}); nothing was written to it"),
                help: if other_account {
                    format!("albkit keeps the locks of this account's stacks in {bucket}, a name another AWS account holds: while it does, albkit cannot lock stacks in this region; ask that account's owner about the bucket")
                } else {
                    format!("albkit keeps the locks of this account's stacks in {bucket} and never writes into a bucket it did not create. If this bucket is albkit's (an older albkit did not tag it), tag it: `aws s3api put-bucket-tagging --bucket {bucket} --tagging 'TagSet=[{{Key=albkit:purpose,Value=stack-locks}}]'`; otherwise empty and delete or rename it, then run the command again")
                },
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

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_document_points_at_each_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("albkit.toml");
        std::fs::write(
            &path,
            "[stack]\nname = \"s\"\n\n[[functions]]\nname = \"f\"\npath = \"f\"\nmemory_mb = 64\n",
        )
        .expect("write");
        let e: Error = crate::model::validate::load(&path)
            .expect_err("invalid")
            .into();
        let doc = e.to_json();
        let error = &doc["error"];
        assert_eq!(error["kind"], "config");
        assert_eq!(error["exit_code"], 2);
        let problems = error["problems"].as_array().expect("problems");
        let memory = problems
            .iter()
            .find(|p| p["key"] == "functions[0].memory_mb")
            .unwrap_or_else(|| panic!("no memory_mb problem in {doc}"));
        assert_eq!(memory["line"], 7);
        assert_eq!(memory["column"], 13);
        assert!(memory["help"].as_str().is_some_and(|h| !h.is_empty()));
    }

    #[test]
    fn other_errors_carry_their_hint_and_exit_code() {
        let doc = Error::usage("no region", "pass --region").to_json();
        assert_eq!(doc["error"]["kind"], "usage");
        assert_eq!(doc["error"]["message"], "no region");
        assert_eq!(doc["error"]["help"], "pass --region");
        assert_eq!(doc["error"]["exit_code"], 2);
        assert_eq!(doc["error"]["problems"], serde_json::json!([]));
        let doc = Error::Other("boom".into()).to_json();
        assert_eq!(doc["error"]["exit_code"], 1);
        assert_eq!(doc["error"]["help"], serde_json::Value::Null);
    }
}
