//! PURE: how the ALB answers once its Lambda target was invoked (docs/alb-lambda.md
//! §3, §4): the function's response mapped to HTTP, or the ALB's own failure status.

use std::time::Duration;

use bytes::Bytes;

use super::event::{self, Failure, HttpResponse};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The payload posted to `/response`.
    Response(Bytes),
    /// `/error`: the function reported an error (a panic in lambda_runtime lands here).
    Error { error_type: String, body: Bytes },
    /// The function did not answer before its deadline; the instance is killed.
    Timeout,
    /// The process exited (or was killed) while the invocation was in flight.
    Crashed(String),
}

/// How the ALB answers an invocation's outcome (docs/alb-lambda.md §3, §4): the
/// function's response mapped to HTTP, or 502 for a function error, a timeout, a crash
/// or a response it cannot use.
pub(crate) fn respond(
    outcome: Outcome,
    multi_value: bool,
    timeout: Duration,
    date: &str,
) -> Result<HttpResponse, Failure> {
    match outcome {
        Outcome::Response(bytes) => event::map_response(&bytes, multi_value, date),
        Outcome::Error { error_type, body } => {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            Err(Failure::new(
                502,
                format!("function error {error_type}: {message}"),
            ))
        }
        Outcome::Timeout => Err(Failure::new(
            502,
            format!("function timed out after {}s", timeout.as_secs()),
        )),
        Outcome::Crashed(why) => Err(Failure::new(502, format!("function crashed: {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sat, 21 Nov 2026 05:00:00 GMT";
    const TIMEOUT: Duration = Duration::from_secs(3);

    #[test]
    fn a_response_is_mapped_by_the_target_group_mode() {
        let body = br#"{"statusCode":201,"headers":{"x-a":"1"},"multiValueHeaders":{"x-a":["2"]},"body":"ok"}"#;
        let single = respond(
            Outcome::Response(Bytes::from_static(body)),
            false,
            TIMEOUT,
            DATE,
        )
        .expect("valid response");
        assert_eq!((single.status, single.header("x-a")), (201, Some("1")));
        assert_eq!(single.body, b"ok");
        let multi = respond(
            Outcome::Response(Bytes::from_static(body)),
            true,
            TIMEOUT,
            DATE,
        )
        .expect("valid response");
        assert_eq!(multi.header("x-a"), Some("2"));
    }

    #[test]
    fn an_unusable_response_is_502() {
        let f = respond(
            Outcome::Response(Bytes::from_static(br#"{"body":"no status"}"#)),
            false,
            TIMEOUT,
            DATE,
        )
        .expect_err("no statusCode");
        assert_eq!(f.status, 502);
    }

    #[test]
    fn function_error_timeout_and_crash_are_502_with_a_reason() {
        let error = respond(
            Outcome::Error {
                error_type: "Unhandled".into(),
                body: Bytes::from_static(br#"{"errorType":"Boom","errorMessage":"it broke"}"#),
            },
            false,
            TIMEOUT,
            DATE,
        )
        .expect_err("function error");
        assert_eq!(error.status, 502);
        assert_eq!(error.reason, "function error Unhandled: it broke");
        let raw = respond(
            Outcome::Error {
                error_type: "Unhandled".into(),
                body: Bytes::from_static(b"not json"),
            },
            false,
            TIMEOUT,
            DATE,
        )
        .expect_err("function error");
        assert!(raw.reason.ends_with("not json"), "{}", raw.reason);
        let timeout = respond(Outcome::Timeout, false, TIMEOUT, DATE).expect_err("timeout");
        assert_eq!(
            (timeout.status, timeout.reason.as_str()),
            (502, "function timed out after 3s")
        );
        let crash = respond(
            Outcome::Crashed("bootstrap exited (exit status: 3)".into()),
            false,
            TIMEOUT,
            DATE,
        )
        .expect_err("crash");
        assert_eq!(crash.status, 502);
        assert!(crash.reason.contains("exit status: 3"), "{}", crash.reason);
    }
}
