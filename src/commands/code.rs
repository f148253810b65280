//! What the code-lifecycle commands (`deploy`, `rollback`, `versions`, `logs`,
//! `invoke`) share: the choice of functions (`--function`), and finding a function of
//! the stack with the proof that it is the stack's, in as few AWS calls as possible.

use super::session::Session;
use crate::aws::clients::Aws;
use crate::aws::error::{AwsError, AwsResultExt};
use crate::error::{Error, Result};
use crate::model::config::{Config, FunctionSettings};
use crate::model::names::{logical, LIVE_ALIAS};
use crate::model::stack::Tags;

/// The functions a command acts on: the one named (`--function`), or all of the stack.
pub(crate) fn select<'c>(
    config: &'c Config,
    name: Option<&str>,
) -> Result<Vec<&'c FunctionSettings>> {
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
pub(crate) struct Live {
    pub version: String,
    pub code_sha256: String,
    pub function_arn: String,
}

/// A function of the stack, proved by its tags (`albkit:stack` = the stack and
/// `albkit:resource` = `function/<name>`).
pub(crate) struct Proven {
    /// Its name: the current naming scheme's, or the previous one's for an older stack.
    pub name: String,
    /// Whether that is the previous scheme's name.
    pub legacy: bool,
}

/// What `GetFunction` says of `name` (at `qualifier`), or `None` when there is no such
/// function (or alias).
async fn get_function(
    aws: &Aws,
    name: &str,
    qualifier: Option<&str>,
) -> Result<Option<aws_sdk_lambda::operation::get_function::GetFunctionOutput>> {
    match aws
        .lambda
        .get_function()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .send()
        .await
        .aws("GetFunction", name)
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Why the tags `GetFunction` returned do not prove the function is the stack's.
fn not_ours(
    s: &Session,
    function: &str,
    out: &aws_sdk_lambda::operation::get_function::GetFunctionOutput,
) -> Option<String> {
    let tags: Tags = out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    crate::aws::resources::function::not_ours(
        &s.config.stack.name,
        &logical::function(function),
        &tags,
    )
}

fn foreign(s: &Session, function: &str, name: &str, reason: &str) -> Error {
    Error::Conflict {
        message: format!(
            "function {name} (function {function} of stack {} in {}) is not this stack's: {reason}; albkit does not act on it",
            s.config.stack.name, s.aws.region
        ),
        help: "delete or rename that function if it is a leftover, or rename the stack ([stack].name) and run `albkit up`".into(),
    }
}

/// Finds the stack's function `function` and proves it is the stack's before anything
/// acts on it; with `live`, also reads what the `live` alias serves.
///
/// Calls: `GetFunction` (at `live`), which returns the tags with the configuration: 1
/// call for a function under the current name, 2 for one of an older stack under the
/// previous name. Only when neither is found, a third tells a function that is not the
/// stack's (exit 1) from one that is not deployed (exit 2).
pub(crate) async fn prove(
    s: &Session,
    function: &str,
    live: bool,
) -> Result<(Proven, Option<Live>)> {
    find(s, function, live)
        .await?
        .ok_or_else(|| not_deployed(function, &s.names.function(function), live))
}

/// [`prove`], with `None` for a function that does not exist (or has no `live` alias).
pub(crate) async fn find(
    s: &Session,
    function: &str,
    live: bool,
) -> Result<Option<(Proven, Option<Live>)>> {
    let qualifier = live.then_some(LIVE_ALIAS);
    let current = s.names.function(function);
    let legacy = s.names.legacy_function(function);
    let read = |out: &aws_sdk_lambda::operation::get_function::GetFunctionOutput| {
        out.configuration().map(|c| Live {
            version: c.version().unwrap_or_default().to_string(),
            code_sha256: c.code_sha256().unwrap_or_default().to_string(),
            function_arn: c.function_arn().unwrap_or_default().to_string(),
        })
    };
    if let Some(out) = get_function(&s.aws, &current, qualifier).await? {
        if let Some(reason) = not_ours(s, function, &out) {
            return Err(foreign(s, function, &current, &reason));
        }
        let proven = Proven {
            name: current,
            legacy: false,
        };
        return Ok(Some((proven, read(&out))));
    }
    // An older stack's function keeps the previous scheme's name; that name may also
    // be another stack's, which is then simply not this stack's function.
    if let Some(out) = get_function(&s.aws, &legacy, qualifier).await? {
        if not_ours(s, function, &out).is_none() {
            let proven = Proven {
                name: legacy,
                legacy: true,
            };
            return Ok(Some((proven, read(&out))));
        }
    }
    if live {
        // No `live` under the current name: a function without it may still be there.
        if let Some(out) = get_function(&s.aws, &current, None).await? {
            if let Some(reason) = not_ours(s, function, &out) {
                return Err(foreign(s, function, &current, &reason));
            }
        }
    }
    Ok(None)
}

pub(crate) fn not_deployed(function: &str, name: &str, live: bool) -> Error {
    let what = if live {
        format!("has no `{LIVE_ALIAS}` alias")
    } else {
        "does not exist".to_string()
    };
    Error::usage(
        format!("function {function} ({name}) {what} in this region"),
        "create the stack first with `albkit up` (check --region and [stack].name)",
    )
}

/// The account id in a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
pub(crate) fn account_of(function_arn: &str) -> &str {
    function_arn.split(':').nth(4).unwrap_or_default()
}

/// Invokes `name:qualifier` synchronously with `event`, within `limit`.
pub(crate) async fn invoke(
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
        crate::cli::Cli::command().debug_assert();
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
