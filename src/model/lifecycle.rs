//! Decisions of the code lifecycle commands (`deploy`, `rollback`, `versions`, `logs`),
//! kept pure so they are tested without AWS. Function answers are read with the ALB's
//! rules of the (pure) `alb::event`.

use std::collections::{BTreeSet, HashMap};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcDateTime};

use crate::alb::event::map_response;

/// Published version numbers (`$LATEST` and anything not numeric left out), ascending.
pub fn numeric_versions<'a>(versions: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    let set: BTreeSet<u64> = versions
        .into_iter()
        .filter_map(|v| v.parse::<u64>().ok())
        .collect();
    set.into_iter().collect()
}

/// The version a rollback goes to by default: the highest published version below the
/// live one.
pub fn previous_version(versions: &[u64], live: u64) -> Option<u64> {
    versions.iter().copied().filter(|v| *v < live).max()
}

/// What came back from invoking the function with a synthetic ALB event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// Lambda answered the Invoke call.
    Answered {
        /// `X-Amz-Function-Error` (`Unhandled`, `Handled`), if any.
        function_error: Option<String>,
        payload: Vec<u8>,
    },
    /// The Invoke call itself failed (permissions, throttling, network).
    CallFailed(String),
}

/// The smoke check's conclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The function answers; the HTTP status the client would get.
    Healthy(u16),
    /// The function cannot answer: roll back.
    Unhealthy(String),
    /// The result tells nothing (the call failed, or an emulator that does not run code
    /// answered): keep the new version, say so.
    Inconclusive(String),
}

impl Verdict {
    pub fn rolls_back(&self) -> bool {
        matches!(self, Verdict::Unhealthy(_))
    }
}

/// Whether a payload is Lambda's error document (`errorMessage`/`errorType`).
pub fn lambda_error(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let obj = v.as_object()?;
    if obj.contains_key("errorType") || obj.contains_key("errorMessage") {
        Some(format!(
            "{}: {}",
            obj.get("errorType")
                .and_then(|t| t.as_str())
                .unwrap_or("error"),
            obj.get("errorMessage")
                .and_then(|t| t.as_str())
                .unwrap_or("")
        ))
    } else {
        None
    }
}

/// Decides what an invoke result means for a deploy. `emulated` is true when AWS calls
/// go to a custom endpoint (such as moto) that may not run the code: then an answer that
/// is not a Lambda response is reported as unusable instead of as a broken function.
pub fn smoke_verdict(outcome: &InvokeOutcome, multi_value: bool, emulated: bool) -> Verdict {
    let (function_error, payload) = match outcome {
        InvokeOutcome::CallFailed(why) => {
            return Verdict::Inconclusive(format!("the function could not be invoked: {why}"))
        }
        InvokeOutcome::Answered {
            function_error,
            payload,
        } => (function_error, payload),
    };
    let snippet = || String::from_utf8_lossy(&payload[..payload.len().min(200)]).into_owned();
    if let Some(kind) = function_error {
        return match lambda_error(payload) {
            Some(message) => Verdict::Unhealthy(format!("the function failed ({kind}): {message}")),
            None if emulated => Verdict::Inconclusive(format!(
                "the endpoint answered the invoke with an error that is not Lambda's ({kind}: {}); it probably does not run function code",
                snippet()
            )),
            None => Verdict::Unhealthy(format!("the function failed ({kind}): {}", snippet())),
        };
    }
    // The Date header is not needed to judge the answer.
    match map_response(payload, multi_value, "") {
        Ok(r) if r.status >= 500 => Verdict::Unhealthy(format!(
            "the function answered HTTP {} to the health-check request",
            r.status
        )),
        Ok(r) => Verdict::Healthy(r.status),
        Err(f) if emulated => Verdict::Inconclusive(format!(
            "the endpoint's invoke result is not an ALB response ({}): {}; it probably does not run function code",
            f.reason,
            snippet()
        )),
        Err(f) => Verdict::Unhealthy(format!(
            "the load balancer would answer {}: {}",
            f.status, f.reason
        )),
    }
}

/// Parses `--since`: `30s`, `10m`, `2h`, `1d`, or an RFC 3339 time. Returns epoch ms.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let unit = text.chars().last().unwrap_or(' ');
    let number = &text[..text.len().saturating_sub(unit.len_utf8())];
    let factor = match unit {
        's' => Some(1_000),
        'm' => Some(60_000),
        'h' => Some(3_600_000),
        'd' => Some(86_400_000),
        _ => None,
    };
    if let (Some(f), Ok(n)) = (factor, number.parse::<i64>()) {
        if n >= 0 {
            return Ok(now_ms - n.saturating_mul(f));
        }
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("--since {text:?} is neither a duration (30s, 10m, 2h, 1d) nor an RFC 3339 time (2024-05-01T12:00:00Z)")
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` → epoch ms (digits past the millisecond are
/// dropped).
pub(crate) fn parse_rfc3339(t: &str) -> Option<i64> {
    // RFC 3339 allows any date/time separator, `time` too; `--since` takes `T`, `t` or
    // a space.
    if !matches!(t.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let at = OffsetDateTime::parse(t, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// One log event of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp: i64,
    pub event_id: String,
    pub function: String,
    pub message: String,
}

/// Where `logs --follow` is. CloudWatch Logs may ingest an event after later ones are
/// already visible, so each poll looks back `lookback` ms before the newest timestamp
/// seen (never before the `--since` floor), and events already printed are recognised
/// by id: no duplicates, and no gaps for events that arrive up to `lookback` late.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    floor: i64,
    newest: i64,
    lookback: i64,
    seen: HashMap<String, i64>,
}

impl Cursor {
    pub fn new(since: i64, lookback_ms: i64) -> Self {
        Self {
            floor: since,
            newest: since,
            lookback: lookback_ms,
            seen: HashMap::new(),
        }
    }

    /// The `startTime` of the next poll.
    pub fn start(&self) -> i64 {
        (self.newest - self.lookback).max(self.floor)
    }

    /// Merges the events of one poll (each function's in the order CloudWatch returned
    /// them, the functions in any order) into time order, drops those already printed
    /// or older than the floor, and advances. Events of one function at the same
    /// millisecond keep CloudWatch's order (a `START`, the handler's lines, `END`).
    pub fn advance(&mut self, mut events: Vec<LogEvent>) -> Vec<LogEvent> {
        events.sort_by(|a, b| (a.timestamp, &a.function).cmp(&(b.timestamp, &b.function)));
        let mut fresh = Vec::new();
        for e in events {
            let key = format!("{}/{}", e.function, e.event_id);
            if e.timestamp < self.floor || self.seen.contains_key(&key) {
                continue;
            }
            self.seen.insert(key, e.timestamp);
            self.newest = self.newest.max(e.timestamp);
            fresh.push(e);
        }
        let horizon = self.start();
        self.seen.retain(|_, t| *t >= horizon);
        fresh
    }
}

/// Epoch milliseconds as RFC 3339 UTC (`2024-05-01T12:00:00.123Z`). Times beyond the
/// year ±9999 (never a log timestamp) are shown as the nearest end of that range.
pub fn format_rfc3339(ms: i64) -> String {
    let at =
        UtcDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(if ms < 0 {
            UtcDateTime::MIN
        } else {
            UtcDateTime::MAX
        });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_version_is_the_highest_below_live() {
        let v = numeric_versions(["$LATEST", "1", "3", "2", "x"]);
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(previous_version(&v, 3), Some(2));
        assert_eq!(previous_version(&[1, 5, 9], 9), Some(5));
        assert_eq!(previous_version(&v, 1), None);
    }

    fn answered(err: Option<&str>, payload: &str) -> InvokeOutcome {
        InvokeOutcome::Answered {
            function_error: err.map(str::to_string),
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn smoke_verdicts() {
        let ok = answered(None, r#"{"statusCode":200,"body":"ok"}"#);
        assert_eq!(smoke_verdict(&ok, false, false), Verdict::Healthy(200));
        assert_eq!(
            smoke_verdict(&answered(None, r#"{"statusCode":404}"#), false, false),
            Verdict::Healthy(404)
        );
        let five = answered(None, r#"{"statusCode":503}"#);
        assert!(smoke_verdict(&five, false, false).rolls_back());
        assert!(smoke_verdict(&five, false, true).rolls_back());
        let crash = answered(
            Some("Unhandled"),
            r#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 101"}"#,
        );
        assert!(smoke_verdict(&crash, false, false).rolls_back());
        assert!(smoke_verdict(&crash, false, true).rolls_back());
        // A real Lambda answering garbage → the ALB would send 502.
        let junk = answered(None, "not json");
        assert!(smoke_verdict(&junk, false, false).rolls_back());
        // moto without Docker: unusable, never a reason to roll back.
        let moto = answered(Some("Handled"), "error running docker: no such file");
        assert!(matches!(
            smoke_verdict(&moto, false, true),
            Verdict::Inconclusive(_)
        ));
        let echo = answered(None, r#"{"httpMethod":"GET"}"#);
        assert!(matches!(
            smoke_verdict(&echo, false, true),
            Verdict::Inconclusive(_)
        ));
        assert!(matches!(
            smoke_verdict(
                &InvokeOutcome::CallFailed("AccessDenied".into()),
                false,
                false
            ),
            Verdict::Inconclusive(_)
        ));
    }

    #[test]
    fn since_durations_and_times() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_since("10m", now), Ok(now - 600_000));
        assert_eq!(parse_since("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_since("1d", now), Ok(now - 86_400_000));
        assert_eq!(parse_since("30s", now), Ok(now - 30_000));
        assert_eq!(parse_since("1970-01-01T00:00:00Z", now), Ok(0));
        assert_eq!(
            parse_since("2023-11-14T22:13:20Z", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_since("2023-11-14T23:13:20.5+01:00", now),
            Ok(1_700_000_000_500)
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("-5m", now).is_err());
        assert!(parse_since("", now).is_err());
    }

    #[test]
    fn since_times_separators_and_sub_milliseconds() {
        let now = 1_700_000_000_000;
        for t in [
            "2023-11-14T22:13:20Z",
            "2023-11-14t22:13:20z",
            "2023-11-14 22:13:20Z",
        ] {
            assert_eq!(parse_since(t, now), Ok(1_700_000_000_000), "{t}");
        }
        assert!(parse_since("2023-11-14x22:13:20Z", now).is_err());
        assert!(parse_since("2024-02-30T00:00:00Z", now).is_err());
        assert_eq!(
            parse_since("2023-11-14T22:13:20.123999999Z", now),
            Ok(1_700_000_000_123)
        );
        // Before the epoch, a fraction counts forward from the whole second.
        assert_eq!(parse_since("1969-12-31T23:59:59.9995Z", now), Ok(-1));
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    fn ev(t: i64, id: &str, f: &str) -> LogEvent {
        LogEvent {
            timestamp: t,
            event_id: id.into(),
            function: f.into(),
            message: format!("{f} {id}"),
        }
    }

    #[test]
    fn cursor_merges_in_time_order_without_duplicates_or_gaps() {
        let mut c = Cursor::new(2, 10);
        assert_eq!(c.start(), 2);
        let first = c.advance(vec![
            ev(5, "b1", "b"),
            ev(3, "a1", "a"),
            ev(5, "a2", "a"),
            ev(1, "old", "a"),
        ]);
        let ids: Vec<&str> = first.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "b1"]);
        // Looks back, never below the floor.
        assert_eq!(c.start(), 2);
        // Seen events come back and are dropped; one at the same millisecond and one
        // ingested late (older timestamp) are kept.
        let second = c.advance(vec![
            ev(5, "a2", "a"),
            ev(5, "b1", "b"),
            ev(5, "a3", "a"),
            ev(4, "late", "b"),
        ]);
        let ids: Vec<&str> = second.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["late", "a3"]);
        let third = c.advance(vec![ev(5, "a3", "a"), ev(30, "b2", "b")]);
        assert_eq!(third.len(), 1);
        assert_eq!(c.start(), 20);
        assert!(c.advance(vec![ev(30, "b2", "b")]).is_empty());
        // Same id in two functions' groups: both are distinct events.
        assert_eq!(c.advance(vec![ev(31, "x", "a"), ev(31, "x", "b")]).len(), 2);
        // One function's events at the same millisecond keep the order they came in.
        let same_ms = c.advance(vec![
            ev(40, "start", "a"),
            ev(40, "line", "a"),
            ev(40, "end", "a"),
        ]);
        let ids: Vec<&str> = same_ms.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["start", "line", "end"]);
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_700_000_000_500),
            "2023-11-14T22:13:20.500Z"
        );
        for ms in [951_782_400_000_i64, 1_709_210_096_789, 4_102_444_800_000] {
            assert_eq!(parse_since(&format_rfc3339(ms), 0), Ok(ms));
        }
    }
}
