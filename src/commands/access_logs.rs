//! `albkit logs --access`: the load balancer's access log, read from the stack's log
//! bucket (the gzipped files ELB delivers every 5 minutes), filtered by time, status
//! and path, each request followed by the function's log events that carry its trace
//! id. The file layout and entry format are parsed by [`crate::alb::access_log`].

use std::collections::BTreeMap;
use std::io::Read;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::logs::{fetch, log_group};
use super::output::{AccessLine, LogLine, LogsLine};
use super::session::Session;
use super::Outcome;
use crate::alb::access_log::{
    day_prefixes, file_end, parse_line, AccessEntry, Filter, StatusFilter,
};
use crate::aws::error::AwsResultExt;
use crate::cli::LogsArgs;
use crate::error::{Error, Result};
use crate::model::config::FunctionSettings;
use crate::model::lifecycle::{format_rfc3339, LogEvent};

/// Log files read at once.
const PARALLEL_READS: usize = 8;
/// How far before `--since` the function's events are read: an invocation's lines can
/// be logged before the load balancer answers (and stamps its entry).
const LAMBDA_LEAD_MS: i64 = 15 * 60 * 1000;

pub(crate) async fn run(
    s: &Session,
    o: &LogsArgs,
    since: i64,
    now: i64,
    functions: &[&FunctionSettings],
) -> Result<Outcome> {
    if !s.config.load_balancer.access_logs {
        return Err(Error::usage(
            "the stack keeps no access logs ([load_balancer] access_logs = false)",
            "set access_logs = true and run `albkit up`; ELB delivers a file every 5 minutes",
        ));
    }
    let filter = Filter {
        since,
        status: o
            .status
            .as_deref()
            .map(StatusFilter::parse)
            .transpose()
            .map_err(|m| Error::usage(m, "for example --status 5xx or --status 502,504"))?,
        path: o.path.clone(),
    };
    let account = s.account().await?.to_string();
    let bucket = s.names.log_bucket(&account);
    let keys = list_files(s, &bucket, &account, since, now).await?;
    let texts: Vec<String> = stream::iter(keys.iter().map(|k| read_file(s, &bucket, k)))
        .buffer_unordered(PARALLEL_READS)
        .try_collect()
        .await?;
    let (mut entries, unreadable) = parse_all(&texts, &filter, o.filter.as_deref());
    if let Some((count, first)) = unreadable {
        s.note(format!(
            "{count} access-log line(s) could not be read and were skipped; the first: {first}"
        ));
    }
    let owners = target_groups(s, functions);
    entries.retain(|e| o.function.is_none() || function_of(e, &owners).is_some());
    entries.sort_by_key(|e| e.timestamp);
    let lambda = lambda_events(s, functions, since - LAMBDA_LEAD_MS).await?;
    for e in &entries {
        let joined = joined(e, &lambda);
        print_entry(s, e, function_of(e, &owners), &joined);
    }
    if entries.is_empty() && !s.json() {
        s.note(format!(
            "no access-log entry since {} matches (ELB delivers its files every 5 minutes)",
            format_rfc3339(since)
        ));
    }
    Ok(Outcome::code(0))
}

/// The keys of the log files that may hold entries from `since` on.
async fn list_files(
    s: &Session,
    bucket: &str,
    account: &str,
    since: i64,
    now: i64,
) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let prefixes = day_prefixes(s.names.log_prefix(), account, &s.aws.region, since, now);
    for prefix in prefixes {
        let mut pages = s
            .aws
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page.aws("ListObjectsV2", bucket) {
                Ok(p) => p,
                Err(e) if e.is("NoSuchBucket") => {
                    return Err(Error::usage(
                        format!("the stack's log bucket {bucket} does not exist"),
                        "run `albkit up` to create the stack (and its log bucket) first",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(".log.gz") || k.ends_with(".log"))
                    // A file ends 5 minutes after its first entry at most.
                    .filter(|k| file_end(k).is_none_or(|end| end >= since))
                    .map(str::to_string),
            );
        }
    }
    Ok(keys)
}

/// The text of one log file, gunzipped.
async fn read_file(s: &Session, bucket: &str, key: &str) -> Result<String> {
    let object = s
        .aws
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .aws("GetObject", key)?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| Error::Other(format!("reading s3://{bucket}/{key}: {e}")))?
        .into_bytes();
    if !key.ends_with(".gz") {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes.as_ref())
        .read_to_string(&mut text)
        .map_err(|e| Error::Other(format!("s3://{bucket}/{key} is not a gzipped log: {e}")))?;
    Ok(text)
}

/// The entries the filter keeps, and how many lines could not be parsed with the first
/// reason.
fn parse_all(
    texts: &[String],
    filter: &Filter,
    text: Option<&str>,
) -> (Vec<AccessEntry>, Option<(usize, String)>) {
    let mut entries = Vec::new();
    let mut bad = 0;
    let mut first = None;
    for line in texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.trim().is_empty())
    {
        match parse_line(line) {
            Ok(e) if filter.keeps(&e) && text.is_none_or(|t| line.contains(t)) => entries.push(e),
            Ok(_) => {}
            Err(why) => {
                bad += 1;
                first.get_or_insert(why);
            }
        }
    }
    (entries, first.map(|f| (bad, f)))
}

/// Each selected function's target group name.
fn target_groups(s: &Session, functions: &[&FunctionSettings]) -> BTreeMap<String, String> {
    functions
        .iter()
        .map(|f| (s.names.target_group(&f.name), f.name.clone()))
        .collect()
}

/// The function whose target group served `e`.
fn function_of<'a>(e: &AccessEntry, owners: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let arn = e.target_group_arn.as_deref()?;
    let name = arn.split(":targetgroup/").nth(1)?.split('/').next()?;
    owners.get(name).map(String::as_str)
}

/// The functions' log events from `start` on.
async fn lambda_events(
    s: &Session,
    functions: &[&FunctionSettings],
    start: i64,
) -> Result<Vec<LogEvent>> {
    let mut events = Vec::new();
    for f in functions {
        if let Some(group) = log_group(s, &f.name).await? {
            events.extend(fetch(s, &f.name, &group, start, None).await?);
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// The function's events that name the entry's trace root.
fn joined<'a>(e: &AccessEntry, events: &'a [LogEvent]) -> Vec<&'a LogEvent> {
    let Some(root) = e.trace_root() else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|ev| ev.message.contains(root))
        .collect()
}

fn print_entry(s: &Session, e: &AccessEntry, function: Option<&str>, joined: &[&LogEvent]) {
    if s.json() {
        let line = LogsLine::Access(AccessLine {
            timestamp: e.timestamp,
            time: e.time.clone(),
            status: e.elb_status,
            target_status: e.target_status,
            method: e.method.clone(),
            path: e.path().to_string(),
            url: e.url.clone(),
            client: e.client.clone(),
            function: function.map(str::to_string),
            target_processing_time: e.target_processing_time,
            trace_id: e.trace_id.clone(),
            error_reason: e.error_reason.clone(),
            actions: e.actions.clone(),
            lambda: joined.iter().map(|ev| LogLine::from(*ev)).collect(),
        });
        println!("{}", serde_json::to_value(&line).unwrap_or_default());
        return;
    }
    let took = e
        .target_processing_time
        .map_or_else(|| "-".to_string(), |t| format!("{:.0}ms", t * 1000.0));
    let mut text = format!(
        "{} {} {} {} {took} {}",
        format_rfc3339(e.timestamp),
        e.elb_status,
        e.method,
        e.path(),
        function.unwrap_or("-")
    );
    if let Some(reason) = &e.error_reason {
        text.push(' ');
        text.push_str(reason);
    }
    println!("{text}");
    for ev in joined {
        println!("    {} {}", format_rfc3339(ev.timestamp), ev.message);
    }
}
