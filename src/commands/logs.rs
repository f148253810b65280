//! `albkit logs`: the functions' CloudWatch log events, merged in time order across
//! functions; `--follow` keeps polling, without duplicates or gaps (see
//! [`crate::model::lifecycle::Cursor`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::code::Light;
use crate::aws::error::AwsResultExt;
use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::model::lifecycle::{format_rfc3339, parse_since, Cursor, LogEvent};

pub struct Options<'a> {
    pub function: Option<&'a str>,
    pub since: &'a str,
    pub follow: bool,
    pub filter: Option<&'a str>,
}

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
async fn fetch(
    s: &Light,
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
            Some(LogEvent {
                timestamp: e.timestamp()?,
                event_id: e.event_id()?.to_string(),
                function: function.to_string(),
                message,
            })
        }));
    }
    Ok(events)
}

pub async fn run(cli: &Cli, o: Options<'_>) -> Result<u8> {
    let s = Light::open(cli).await?;
    let functions = s.select(o.function)?;
    let since = parse_since(o.since, now_ms()).map_err(|m| {
        Error::usage(
            m,
            "for example --since 10m, --since 2h or --since 2024-05-01T12:00:00Z",
        )
    })?;
    let groups: Vec<(String, String)> = functions
        .iter()
        .map(|f| (f.name.clone(), s.names.log_group(&f.name)))
        .collect();
    let width = groups.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    let mut cursor = Cursor::new(since, LOOKBACK_MS);
    let mut ticker = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
        let start = cursor.start();
        let polls = groups.iter().map(|(f, g)| fetch(&s, f, g, start, o.filter));
        let mut all = Vec::new();
        for batch in futures::future::try_join_all(polls).await? {
            all.extend(batch);
        }
        for e in cursor.advance(all) {
            if s.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "timestamp": e.timestamp,
                        "time": format_rfc3339(e.timestamp),
                        "function": e.function,
                        "event_id": e.event_id,
                        "message": e.message,
                    })
                );
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
            return Ok(0);
        }
    }
}
