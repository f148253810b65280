//! One file per command, each with the same rhythm: load → discover → decide → (ask) →
//! act → render. The steps they share have their own files: the session
//! ([`session`]), the plan ([`planning`]), the confirmation ([`confirm`]) and the typed
//! `-o json` documents ([`output`]). A command returns an [`Outcome`]; `main` prints its
//! document and turns it into the exit code.

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::model::config::Config;

pub(crate) mod access_logs;
pub(crate) mod build;
pub(crate) mod code;
pub(crate) mod completions;
pub(crate) mod confirm;
pub(crate) mod cost;
pub(crate) mod deploy;
pub(crate) mod dev;
pub(crate) mod doctor;
pub(crate) mod down;
pub(crate) mod graph;
pub(crate) mod iam_policy;
pub(crate) mod init;
pub(crate) mod invoke;
pub(crate) mod logs;
pub mod man;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod planning;
pub(crate) mod rollback;
pub(crate) mod session;
pub(crate) mod shift;
pub(crate) mod status;
pub(crate) mod top;
pub(crate) mod unlock;
pub(crate) mod up;
pub(crate) mod versions;

pub use crate::aws::discover::seed_ids as seed;

/// A command's JSON document, printed on stdout once the command is over.
#[derive(Debug, Clone, PartialEq)]
pub struct Document(serde_json::Value);

impl Document {
    /// The document of a command's output type.
    pub fn of(value: &impl serde::Serialize) -> Document {
        Document(serde_json::to_value(value).unwrap_or_default())
    }

    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }
}

impl std::fmt::Display for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string_pretty(&self.0).unwrap_or_default())
    }
}

/// How a command ended: its exit code or its error, and the document it hands back for
/// stdout. A command that fails after its work is reported (a `deploy` whose smoke
/// check failed) has both: that document stays the only one on stdout.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<u8>,
    pub document: Option<Document>,
}

impl Outcome {
    /// Exit `code`, no document.
    pub fn code(code: u8) -> Outcome {
        Outcome {
            result: Ok(code),
            document: None,
        }
    }

    /// Exit `code` with `document` when there is one (`-o json`).
    pub fn with(code: u8, document: Option<Document>) -> Outcome {
        Outcome {
            result: Ok(code),
            document,
        }
    }

    /// Exit `code` with the document of `value` when `json`.
    pub fn json(code: u8, json: bool, value: &impl serde::Serialize) -> Outcome {
        Outcome::with(code, json.then(|| Document::of(value)))
    }

    pub fn failed(error: Error) -> Outcome {
        Outcome {
            result: Err(error),
            document: None,
        }
    }
}

/// The URL users reach the stack at.
pub fn url(config: &Config, dns_name: Option<&str>) -> Option<String> {
    match &config.https {
        Some(h) => Some(format!("https://{}", h.domain.trim_start_matches("*."))),
        None => dns_name
            .filter(|d| !d.is_empty())
            .map(|d| format!("http://{d}")),
    }
}

/// Runs the command: its exit code or error, and its document.
pub async fn run(cli: &Cli) -> Outcome {
    dispatch(cli).await.unwrap_or_else(Outcome::failed)
}

async fn dispatch(cli: &Cli) -> Result<Outcome> {
    match &cli.command {
        Command::Plan(args) => plan::run(cli, args).await,
        Command::Up(args) => up::run(cli, args).await,
        Command::Status => status::run(cli).await,
        Command::Top(args) => top::run(cli, args).await,
        Command::Doctor(args) => doctor::run(cli, args).await,
        Command::Down(args) => down::run(cli, args).await,
        Command::Unlock(args) => unlock::run(cli, args).await,
        Command::Deploy(args) => deploy::run(cli, args).await,
        Command::Build(args) => build::run(cli, args).await,
        Command::Rollback(args) => rollback::run(cli, args).await,
        Command::Versions(args) => versions::run(cli, args).await,
        Command::IamPolicy(args) => iam_policy::run(cli, args).await,
        Command::Invoke(args) => invoke::run(cli, args).await,
        Command::Logs(args) => logs::run(cli, args).await,
        Command::Init(args) => init::run(cli, args),
        Command::Dev(args) => dev::run(cli, args).await.map(Outcome::code),
        Command::Cost(args) => cost::run(cli, args),
        Command::Graph(args) => graph::run(cli, args).await,
        Command::Completions(args) => completions::run(args.shell).map(Outcome::code),
        Command::Man(args) => man::run(cli, args),
    }
}
