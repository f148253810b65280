//! `albkit rollback`: moves the `live` alias back (to the previous published version by
//! default, or to `--to VERSION`).

use super::code::prove;
use super::confirm::confirm;
use super::output::{Moved, RollbackDoc};
use super::session::Session;
use super::versions::list_versions;
use super::Outcome;
use crate::aws::resources::function::point_alias;
use crate::cli::{Cli, RollbackArgs};
use crate::error::{Error, Result};
use crate::model::lifecycle::{numeric_versions, previous_version};
use crate::model::names::LIVE_ALIAS;

pub(crate) async fn run(cli: &Cli, args: &RollbackArgs) -> Result<Outcome> {
    let s = Session::connect(cli).await?;
    let functions = s.select(args.function.as_deref())?;
    let to = args.to;
    if to.is_some() && functions.len() > 1 {
        return Err(Error::usage(
            "--to needs a single function: the stack has several",
            "add --function NAME",
        ));
    }
    let mut moved = Vec::new();
    for f in functions {
        let (proven, live) = prove(&s, &f.name, true).await?;
        let name = proven.name;
        let live = live.map(|l| l.version).unwrap_or_default();
        let versions = list_versions(&s.aws, &name).await?;
        let numbers = numeric_versions(versions.iter().map(|v| v.version.as_str()));
        let target = target(&f.name, &numbers, &live, to)?;
        let target = target.to_string();
        if target == live {
            if !s.json() {
                eprintln!(
                    "Function {}: `{LIVE_ALIAS}` is already version {live}.",
                    f.name
                );
            }
            moved.push(Moved {
                function: f.name.clone(),
                from: live,
                to: target,
                changed: false,
            });
            continue;
        }
        let question = format!(
            "Move `{LIVE_ALIAS}` of {name} in {} from version {live} to {target}?",
            s.aws.region
        );
        if !confirm(args.yes, &question, s.json())? {
            eprintln!("Cancelled: nothing was changed.");
            return Ok(Outcome::code(1));
        }
        point_alias(&s.aws.lambda, &name, &target, true, &s.notify(&f.name)).await?;
        if !s.json() {
            eprintln!(
                "Function {}: `{LIVE_ALIAS}` moved from version {live} to {target}.",
                f.name
            );
        }
        moved.push(Moved {
            function: f.name.clone(),
            from: live,
            to: target,
            changed: true,
        });
    }
    Ok(Outcome::json(
        0,
        s.json(),
        &RollbackDoc { functions: moved },
    ))
}

/// The version to move `live` to: `--to` when it is published, else the one before the
/// live one.
fn target(function: &str, numbers: &[u64], live: &str, to: Option<u64>) -> Result<u64> {
    Ok(match to {
        Some(v) if numbers.contains(&v) => v,
        Some(v) => {
            return Err(Error::usage(
                format!("function {function}: version {v} does not exist"),
                format!(
                    "published versions: {} (`albkit versions` lists them)",
                    numbers
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
        None => {
            let current = live.parse::<u64>().map_err(|_| {
                Error::usage(
                    format!(
                        "function {function}: `{LIVE_ALIAS}` points at {live:?}, not a published version"
                    ),
                    "pass --to VERSION",
                )
            })?;
            previous_version(numbers, current).ok_or_else(|| {
                Error::usage(
                    format!("function {function}: version {current} is the oldest published version: there is nothing to roll back to"),
                    "deploy a fix with `albkit deploy`, or pick a version with --to",
                )
            })?
        }
    })
}
