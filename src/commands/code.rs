//! What the code-lifecycle commands (`deploy`, `rollback`, `versions`, `logs`,
//! `invoke`) share: a light session that validates the config and connects, without the
//! STS identity check or any discovery of the stack, so that the CI fast path makes as
//! few AWS calls as possible; and the choice of functions (`--function`).

use crate::aws::clients::Aws;
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::events::{Event, Reporter, ResourceNotify};
use crate::cli::{Cli, Output};
use crate::error::{Error, Result};
use crate::model::config::{Config, FunctionSettings};
use crate::model::names::{Names, LIVE_ALIAS};

/// A validated config and AWS clients; no AWS call made yet.
pub struct Light {
    pub config: Config,
    pub aws: Aws,
    /// The stack's names (functions, log groups, target groups).
    pub names: Names,
    pub reporter: Box<dyn Reporter>,
    pub json: bool,
}

impl Light {
    pub async fn open(cli: &Cli) -> Result<Light> {
        let (config, aws) = super::load_and_connect(cli).await?;
        let names = Names::new(&config.stack.name, &aws.region);
        let json = cli.output == Output::Json;
        let reporter = super::reporter_for(cli);
        Ok(Light {
            config,
            aws,
            names,
            reporter,
            json,
        })
    }

    pub fn phase(&self, text: impl Into<String>) {
        self.reporter.event(Event::Phase(text.into()));
    }

    pub fn note(&self, text: impl Into<String>) {
        self.reporter.event(Event::Note(text.into()));
    }

    pub fn notify(&self, function: &str) -> ResourceNotify<'_> {
        ResourceNotify {
            reporter: self.reporter.as_ref(),
            logical: format!("function/{function}"),
        }
    }

    /// The functions a command acts on: the one named, or all of the stack.
    pub fn select(&self, name: Option<&str>) -> Result<Vec<&FunctionSettings>> {
        select(&self.config, name)
    }
}

pub fn select<'c>(config: &'c Config, name: Option<&str>) -> Result<Vec<&'c FunctionSettings>> {
    match name {
        None => Ok(config.functions.iter().collect()),
        Some(n) => config.function(n).map(|f| vec![f]).ok_or_else(|| {
            Error::usage(
                format!("--function {n:?}: the stack has no such function"),
                format!(
                    "use one of: {}",
                    config
                        .functions
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }),
    }
}

/// The `live` alias's version and the configuration of that version.
pub struct Live {
    pub version: String,
    pub code_sha256: String,
    pub function_arn: String,
}

/// Reads what `live` serves in one call: `GetFunctionConfiguration(Qualifier=live)`.
/// A function or alias that does not exist is a usage error pointing at `albkit up`.
pub async fn live(aws: &Aws, function: &str, name: &str) -> Result<Live> {
    let out = aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
        .aws("GetFunctionConfiguration", name);
    match out {
        Ok(c) => Ok(Live {
            version: c.version().unwrap_or_default().to_string(),
            code_sha256: c.code_sha256().unwrap_or_default().to_string(),
            function_arn: c.function_arn().unwrap_or_default().to_string(),
        }),
        Err(e) if e.not_found() => Err(not_deployed(function, name, &e)),
        Err(e) => Err(e.into()),
    }
}

pub fn not_deployed(function: &str, name: &str, e: &AwsError) -> Error {
    Error::usage(
        format!("function {function} ({name}) has no `{LIVE_ALIAS}` alias in this region: {e}"),
        "create the stack first with `albkit up` (check --region and [stack].name)",
    )
}

/// The account id in a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
pub fn account_of(function_arn: &str) -> &str {
    function_arn.split(':').nth(4).unwrap_or_default()
}

/// Invokes `name:qualifier` synchronously with `event`, within `limit`.
pub async fn invoke(
    aws: &Aws,
    name: &str,
    qualifier: &str,
    event: &serde_json::Value,
    limit: std::time::Duration,
) -> crate::model::lifecycle::InvokeOutcome {
    use crate::model::lifecycle::InvokeOutcome;
    let payload = serde_json::to_vec(event).unwrap_or_default();
    let call = aws
        .lambda
        .invoke()
        .function_name(name)
        .qualifier(qualifier)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send();
    match tokio::time::timeout(limit, call).await {
        Err(_) => InvokeOutcome::CallFailed(format!("no answer within {}s", limit.as_secs())),
        Ok(Err(e)) => {
            let e: Result<(), AwsError> = Err(e).aws("Invoke", name);
            InvokeOutcome::CallFailed(e.err().map(|e| e.to_string()).unwrap_or_default())
        }
        Ok(Ok(out)) => InvokeOutcome::Answered {
            function_error: out.function_error().map(str::to_string),
            payload: out
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn account_from_a_function_arn() {
        assert_eq!(
            account_of("arn:aws:lambda:us-east-1:123456789012:function:s-hello"),
            "123456789012"
        );
        assert_eq!(account_of("nonsense"), "");
    }

    #[test]
    fn function_selection() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in
            crate::templates::render(crate::templates::find("hello").expect("template"), "sel")
        {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        let config = crate::model::validate::load(&dir.path().join("albkit.toml")).expect("valid");
        assert_eq!(select(&config, None).expect("all").len(), 1);
        assert_eq!(
            select(&config, Some("hello")).expect("one")[0].name,
            "hello"
        );
        let e = select(&config, Some("nope")).expect_err("unknown");
        assert_eq!(e.exit_code(), 2);
    }
}
