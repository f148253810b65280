//! The load balancer's access logs (`albkit logs --access`): where ELB writes them in
//! the stack's bucket, the entry format, and the filters. Pure; the format is AWS's
//! documented one (Elastic Load Balancing User Guide, "Access logs for your Application
//! Load Balancer": file names, entry syntax, error reason codes), summarised in
//! docs/alb-lambda.md §11.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::rules::wildcard;
use crate::model::lifecycle::parse_rfc3339;

/// One request as the load balancer logged it. Fields AWS may add after
/// `error_reason` are ignored, as the documentation asks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccessEntry {
    /// `http`, `https`, `h2`, `grpcs`, `ws`, `wss`.
    pub(crate) kind: String,
    /// When the load balancer answered, RFC 3339 as logged.
    pub(crate) time: String,
    /// The same, in milliseconds since the epoch.
    pub(crate) timestamp: i64,
    pub(crate) client: String,
    /// `None` for a Lambda target (always `-` then) or when no target was reached.
    pub(crate) target: Option<String>,
    /// Seconds; `None` when logged as `-1` (no target reached).
    pub(crate) request_processing_time: Option<f64>,
    pub(crate) target_processing_time: Option<f64>,
    pub(crate) response_processing_time: Option<f64>,
    pub(crate) elb_status: u16,
    pub(crate) target_status: Option<u16>,
    pub(crate) received_bytes: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) method: String,
    /// `protocol://host:port/uri` as logged.
    pub(crate) url: String,
    pub(crate) user_agent: String,
    pub(crate) target_group_arn: Option<String>,
    /// The `X-Amzn-Trace-Id` value.
    pub(crate) trace_id: Option<String>,
    /// 1–50000, 0 for the default action; `None` when logged as `-` or `-1`.
    pub(crate) matched_rule_priority: Option<u32>,
    pub(crate) actions: Vec<String>,
    pub(crate) redirect_url: Option<String>,
    /// Why a Lambda invocation failed (`LambdaInvalidResponse`, ...).
    pub(crate) error_reason: Option<String>,
}

impl AccessEntry {
    /// The request's path, without host and query.
    pub(crate) fn path(&self) -> &str {
        let after_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |x| x.1);
        let from_path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        from_path.split('?').next().unwrap_or(from_path)
    }

    /// The `Root` of the trace id (`1-5833...-...`): what a function that logs the
    /// `x-amzn-trace-id` header it received prints.
    pub(crate) fn trace_root(&self) -> Option<&str> {
        self.trace_id.as_deref()?.split(';').find_map(|part| {
            part.trim()
                .strip_prefix("Root=")
                .filter(|root| !root.is_empty())
        })
    }
}

/// Splits an entry into its fields: separated by spaces; a field in double quotes keeps
/// its spaces (and `\"` inside).
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut field = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => field.extend(chars.next()),
                    Some('"') => break,
                    Some(other) => field.push(other),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        out.push(field);
    }
    Ok(out)
}

fn dash(field: &str) -> Option<String> {
    (field != "-" && !field.is_empty()).then(|| field.to_string())
}

fn seconds(field: &str) -> Result<Option<f64>, String> {
    match field.parse::<f64>() {
        Ok(v) if v < 0.0 => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(_) => Err(format!("{field:?} is not a number of seconds")),
    }
}

fn number<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, String> {
    field
        .parse()
        .map_err(|_| format!("{what} {field:?} is not a number"))
}

/// The fields up to `error_reason`, the last one albkit reads.
const FIELDS: usize = 25;

/// Parses one access-log entry.
pub(crate) fn parse_line(line: &str) -> Result<AccessEntry, String> {
    let f = fields(line)?;
    if f.len() < FIELDS {
        return Err(format!(
            "{} fields, an entry has at least {FIELDS}",
            f.len()
        ));
    }
    let mut request = f[12].splitn(3, ' ');
    let (method, url) = (request.next().unwrap_or("-"), request.next().unwrap_or("-"));
    Ok(AccessEntry {
        kind: f[0].clone(),
        timestamp: parse_rfc3339(&f[1]).ok_or_else(|| format!("{:?} is not a time", f[1]))?,
        time: f[1].clone(),
        client: f[3].clone(),
        target: dash(&f[4]),
        request_processing_time: seconds(&f[5])?,
        target_processing_time: seconds(&f[6])?,
        response_processing_time: seconds(&f[7])?,
        elb_status: number(&f[8], "elb_status_code")?,
        target_status: dash(&f[9])
            .map(|s| number(&s, "target_status_code"))
            .transpose()?,
        received_bytes: number(&f[10], "received_bytes")?,
        sent_bytes: number(&f[11], "sent_bytes")?,
        method: method.to_string(),
        url: url.to_string(),
        user_agent: f[13].clone(),
        target_group_arn: dash(&f[16]),
        trace_id: dash(&f[17]),
        matched_rule_priority: f[20].parse::<u32>().ok(),
        actions: dash(&f[22])
            .map(|a| a.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        redirect_url: dash(&f[23]),
        error_reason: dash(&f[24]),
    })
}

/// `--status`: a code (`502`) or a class (`5xx`), several separated by commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusFilter(Vec<(u16, bool)>);

impl StatusFilter {
    pub(crate) fn parse(text: &str) -> Result<StatusFilter, String> {
        let mut items = Vec::new();
        for item in text.split(',').map(str::trim) {
            let lower = item.to_ascii_lowercase();
            let parsed = match lower.strip_suffix("xx") {
                Some(class) => class
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (1..=5).contains(c))
                    .map(|c| (c, true)),
                None => lower
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .map(|c| (c, false)),
            };
            items.push(parsed.ok_or_else(|| {
                format!("--status {item:?} is neither a status code (502) nor a class (5xx)")
            })?);
        }
        Ok(StatusFilter(items))
    }

    pub(crate) fn matches(&self, status: u16) -> bool {
        self.0.iter().any(|&(value, class)| {
            if class {
                status / 100 == value
            } else {
                status == value
            }
        })
    }
}

/// What `logs --access` shows: entries at or after `since`, with a matching status and
/// a path matching the `--path` pattern (`*` and `?`, case-sensitive, as a rule's
/// path pattern).
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) since: i64,
    pub(crate) status: Option<StatusFilter>,
    pub(crate) path: Option<String>,
}

impl Filter {
    pub(crate) fn keeps(&self, e: &AccessEntry) -> bool {
        e.timestamp >= self.since
            && self.status.as_ref().is_none_or(|s| s.matches(e.elb_status))
            && self
                .path
                .as_deref()
                .is_none_or(|p| wildcard(p, e.path(), false))
    }
}

/// The key prefix of each day's log files from `since` to `now` (UTC days, as ELB files
/// them): `<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/`.
pub(crate) fn day_prefixes(
    prefix: &str,
    account: &str,
    region: &str,
    since: i64,
    now: i64,
) -> Vec<String> {
    let day = |ms: i64| {
        OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .map(OffsetDateTime::date)
            .ok()
    };
    let (Some(mut d), Some(last)) = (day(since), day(now)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= last {
        out.push(format!(
            "{prefix}/AWSLogs/{account}/elasticloadbalancing/{region}/{:04}/{:02}/{:02}/",
            d.year(),
            u8::from(d.month()),
            d.day()
        ));
        match d.next_day() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

/// The end of the 5-minute interval a log file covers, from its name
/// (`..._app.<lb>_<yyyymmddThhmmZ>_<ip>_<random>.log.gz`), in epoch ms. A file that
/// ended before `--since` holds nothing to show.
pub(crate) fn file_end(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    let stamp = name
        .split('_')
        .find(|part| part.len() == 14 && part.as_bytes()[8] == b'T' && part.ends_with('Z'))?;
    let num = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<u8>().ok();
    let year: i32 = stamp.get(0..4)?.parse().ok()?;
    let month = Month::try_from(num(4..6)?).ok()?;
    let date = Date::from_calendar_date(year, month, num(6..8)?).ok()?;
    let at = Time::from_hms(num(9..11)?, num(11..13)?, 0).ok()?;
    Some(
        PrimitiveDateTime::new(date, at)
            .assume_utc()
            .unix_timestamp()
            * 1000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented entries: a Lambda request that succeeded and one that failed,
    /// an HTTPS entry and a redirect (on one line each, as logged).
    const LAMBDA_OK: &str = r#"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-""#;
    const LAMBDA_FAILED: &str = r#"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse""#;
    const HTTPS: &str = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/a/b?c=d HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Self=1-1-1;Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234"#;
    const REDIRECT: &str = r#"h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 - -1 -1 -1 301 - 5 257 "GET http://10.0.2.105:80/x HTTP/2.0" "Mozilla/5.0 (X11; \"quoted\")" - - - "-" "-" "-" 1 2018-07-02T22:22:48.364000Z "redirect" "https://example.com:443/x" "-""#;

    #[test]
    fn a_lambda_entry_that_succeeded() {
        let e = parse_line(LAMBDA_OK).expect("parse");
        assert_eq!(e.kind, "http");
        assert_eq!(e.timestamp, 1_543_616_580_186);
        assert_eq!(e.client, "192.168.131.39:2817");
        assert_eq!(e.target, None, "a Lambda target is logged as -");
        assert_eq!(e.target_processing_time, Some(0.001));
        assert_eq!((e.elb_status, e.target_status), (200, Some(200)));
        assert_eq!((e.received_bytes, e.sent_bytes), (34, 366));
        assert_eq!((e.method.as_str(), e.path()), ("GET", "/"));
        assert_eq!(e.user_agent, "curl/7.46.0");
        assert!(e
            .target_group_arn
            .as_deref()
            .is_some_and(|a| a.ends_with("my-targets/73e2d6bc24d8a067")));
        assert_eq!(e.trace_root(), Some("1-58337364-23a8c76965a2ef7629b185e3"));
        assert_eq!(e.matched_rule_priority, Some(0), "the default action");
        assert_eq!(e.actions, ["forward"]);
        assert_eq!((e.redirect_url, e.error_reason), (None, None));
    }

    #[test]
    fn a_lambda_entry_that_failed_names_the_reason() {
        let e = parse_line(LAMBDA_FAILED).expect("parse");
        assert_eq!((e.elb_status, e.target_status), (502, None));
        assert_eq!(e.error_reason.as_deref(), Some("LambdaInvalidResponse"));
    }

    #[test]
    fn later_fields_are_ignored_and_the_root_follows_self() {
        let e = parse_line(HTTPS).expect("parse");
        assert_eq!(e.path(), "/a/b");
        assert_eq!(e.target.as_deref(), Some("10.0.0.1:80"));
        assert_eq!(e.actions, ["authenticate", "forward"]);
        assert_eq!(e.trace_root(), Some("1-58337281-1d84f3d73c47ec4e58577259"));
        assert_eq!(e.matched_rule_priority, Some(1));
    }

    #[test]
    fn a_redirect_without_a_target_and_a_quoted_user_agent() {
        let e = parse_line(REDIRECT).expect("parse");
        assert_eq!(e.request_processing_time, None, "-1: no target reached");
        assert_eq!(e.user_agent, "Mozilla/5.0 (X11; \"quoted\")");
        assert_eq!(e.redirect_url.as_deref(), Some("https://example.com:443/x"));
        assert_eq!((e.target_group_arn, e.trace_id), (None, None));
    }

    #[test]
    fn malformed_entries_are_refused_with_the_reason() {
        assert!(parse_line("http 2018").unwrap_err().contains("2 fields"));
        assert!(parse_line(r#"http "open"#)
            .unwrap_err()
            .contains("not closed"));
        let bad_status = LAMBDA_OK.replace(" 200 200 ", " OK 200 ");
        assert!(parse_line(&bad_status)
            .unwrap_err()
            .contains("elb_status_code"));
        let bad_time = LAMBDA_OK.replace("2018-11-30T22:23:00.186641Z", "yesterday");
        assert!(parse_line(&bad_time).unwrap_err().contains("not a time"));
    }

    #[test]
    fn status_filters_take_codes_and_classes() {
        let f = StatusFilter::parse("5xx, 404").expect("parse");
        assert!(f.matches(502) && f.matches(500) && f.matches(404));
        assert!(!f.matches(200) && !f.matches(403));
        for bad in ["6xx", "20", "abc", "", "0xx"] {
            assert!(StatusFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_filter_checks_time_status_and_path_pattern() {
        let e = parse_line(HTTPS).expect("parse");
        let mut f = Filter {
            since: e.timestamp,
            ..Filter::default()
        };
        assert!(f.keeps(&e));
        f.path = Some("/a/*".into());
        assert!(f.keeps(&e));
        f.path = Some("/A/*".into());
        assert!(!f.keeps(&e), "case-sensitive, as a path pattern");
        f.path = None;
        f.status = Some(StatusFilter::parse("4xx").expect("parse"));
        assert!(!f.keeps(&e));
        f.status = None;
        f.since = e.timestamp + 1;
        assert!(!f.keeps(&e));
    }

    #[test]
    fn day_prefixes_cover_every_utc_day_of_the_window() {
        let since = parse_rfc3339("2024-02-28T23:00:00Z").expect("time");
        let now = parse_rfc3339("2024-03-01T00:10:00Z").expect("time");
        assert_eq!(
            day_prefixes("alb", "123456789012", "eu-west-1", since, now),
            [
                "alb/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2024/02/28/",
                "alb/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2024/02/29/",
                "alb/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2024/03/01/",
            ]
        );
        assert_eq!(day_prefixes("alb", "1", "r", now, now).len(), 1);
    }

    #[test]
    fn a_file_name_tells_when_its_interval_ended() {
        let key = "alb/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/05/01/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20140215T2340Z_172.160.001.192_20sg8hgm.log.gz";
        assert_eq!(file_end(key), parse_rfc3339("2014-02-15T23:40:00Z"));
        assert_eq!(file_end("alb/other.txt"), None);
    }
}
