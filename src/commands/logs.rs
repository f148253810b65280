//! `albkit logs`: the functions' CloudWatch log events, merged in time order across
//! functions, read only from log groups of functions proved to be the stack's; `--follow` keeps polling, without duplicates or gaps (see
//! [`crate::model::lifecycle::Cursor`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::code::find;
use super::output::{LogLine, LogsLine};
use super::session::Session;
use super::Outcome;
use crate::aws::error::AwsResultExt;
use crate::cli::{Cli, LogsArgs};
use crate::error::{Error, Result};
use crate::model::lifecycle::{format_rfc3339, parse_since, Cursor, LogEvent};
use crate::model::names::{log_group_of, logical, TAG_RESOURCE, TAG_STACK};
use crate::model::stack::Tags;

/// How far back each `--follow` poll looks for events CloudWatch ingested late.
const LOOKBACK_MS: i64 = 30_000;
const POLL: Duration = Duration::from_secs(2);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A `filterPattern` that matches `text` literally.
fn pattern(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Every event of `group` from `start` on (all pages); none when the group does not
/// exist yet (the function never ran).
pub(super) async fn fetch(
    s: &Session,
    function: &str,
    group: &str,
    start: i64,
    filter: Option<&str>,
) -> Result<Vec<LogEvent>> {
    let mut events = Vec::new();
    // The SDK retries transient faults of each page (adaptive retry, see clients.rs).
    let mut pages = s
        .aws
        .logs
        .filter_log_events()
        .log_group_name(group)
        .start_time(start)
        .set_filter_pattern(filter.map(pattern))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page.aws("FilterLogEvents", group) {
            Ok(p) => p,
            Err(e) if e.not_found() => return Ok(events),
            Err(e) => return Err(e.into()),
        };
        events.extend(page.events().iter().filter_map(|e| {
            let message = e.message()?.trim_end_matches('\n').to_string();
            // The pattern is matched by CloudWatch; checked here again so that an
            // endpoint with a partial pattern syntax cannot widen the result.
            if filter.is_some_and(|f| !message.contains(f)) {
                return None;
            }
            let timestamp = e.timestamp()?;
            // AWS gives every event an id; an endpoint that does not (MiniStack) gets
            // one made of what identifies the event within its group.
            let event_id = e.event_id().map_or_else(
                || {
                    let stream = e.log_stream_name().unwrap_or_default();
                    format!("{stream}\u{1f}{timestamp}\u{1f}{message}")
                },
                str::to_string,
            );
            Some(LogEvent {
                timestamp,
                event_id,
                function: function.to_string(),
                message,
            })
        }));
    }
    Ok(events)
}

/// The log group of `function`: where the stack's function, proved by its tags, writes;
/// when the function is gone (`down` keeps the logs), the log group tagged as the
/// stack's, under the current name or the previous scheme's. `None` when neither exists.
pub(super) async fn log_group(s: &Session, function: &str) -> Result<Option<String>> {
    if let Some((proven, _)) = find(s, function, false).await? {
        return Ok(Some(log_group_of(&proven.name)));
    }
    let current = s.names.log_group(function);
    let previous = log_group_of(&s.names.legacy_function(function));
    for name in [&current, &previous] {
        let out = s
            .aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name.as_str())
            .send()
            .await
            .aws("DescribeLogGroups", name)?;
        let Some(group) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
        else {
            continue;
        };
        let arn = group.arn().unwrap_or_default().trim_end_matches(":*");
        let tags: Tags = s
            .aws
            .logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", name)?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let proved = tags.get(TAG_STACK) == Some(&s.config.stack.name)
            && tags.get(TAG_RESOURCE).map(String::as_str)
                == Some(logical::log_group(function).as_str());
        if proved {
            return Ok(Some(name.clone()));
        }
    }
    Ok(None)
}

pub(crate) async fn run(cli: &Cli, o: &LogsArgs) -> Result<Outcome> {
    let s = Session::connect(cli).await?;
    let functions = s.select(o.function.as_deref())?;
    let now = now_ms();
    let since = parse_since(&o.since, now).map_err(|m| {
        Error::usage(
            m,
            "for example --since 10m, --since 2h or --since 2024-05-01T12:00:00Z",
        )
    })?;
    if o.access {
        return super::access_logs::run(&s, o, since, now, &functions).await;
    }
    let mut groups: Vec<(String, String)> = Vec::new();
    for f in &functions {
        match log_group(&s, &f.name).await? {
            Some(group) => groups.push((f.name.clone(), group)),
            None => s.note(format!(
                "function {}: no function nor log group of this stack under its names in {}: no logs to show",
                f.name, s.aws.region
            )),
        }
    }
    let width = groups.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    let mut cursor = Cursor::new(since, LOOKBACK_MS);
    let mut ticker = tokio::time::interval(POLL);
    // One listener for the whole run, so a Ctrl-C during a poll is not lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut interrupted => return Ok(Outcome::code(0)),
        }
        let start = cursor.start();
        let polls = groups
            .iter()
            .map(|(f, g)| fetch(&s, f, g, start, o.filter.as_deref()));
        let mut all = Vec::new();
        for batch in futures::future::try_join_all(polls).await? {
            all.extend(batch);
        }
        for e in cursor.advance(all) {
            if s.json() {
                let line = LogsLine::Event(LogLine::from(&e));
                println!("{}", serde_json::to_value(&line).unwrap_or_default());
            } else {
                println!(
                    "{} {:<width$} {}",
                    format_rfc3339(e.timestamp),
                    e.function,
                    e.message
                );
            }
        }
        if !o.follow {
            return Ok(Outcome::code(0));
        }
    }
}
