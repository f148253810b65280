//! What the ALB does with a request once a rule forwarded it to a Lambda target group:
//! build the target group's event, invoke the function (queued on its instances, see
//! [`Function::invoke`]) and turn the outcome into the client's response or the ALB's
//! failure status. Shared by the HTTP front of `albkit dev` and `albkit invoke --local`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::event::{self, Connection, EventInput, Failure, HttpRequest, HttpResponse};
use super::process::Function;
use super::runtime_api::Outcome;

/// Sends `request` to `function` as its target group's event and waits for the answer:
/// the function's timeout (enforced by the Runtime API, then 502) plus `idle_timeout`
/// for queueing and start-up (past both, 504 like an ALB that got no answer).
/// `date` is the `Date` header value of the response.
pub async fn forward(
    function: &Arc<Function>,
    request: &HttpRequest,
    connection: &Connection,
    idle_timeout: Duration,
    date: &str,
) -> Result<HttpResponse, Failure> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let own = event::new_trace_root(now, rand::random());
    let (trace_header, trace_root) = event::request_trace(request, &own);
    let multi_value = function.settings.multi_value_headers;
    let payload = event::build_event(&EventInput {
        request,
        connection,
        target_group_arn: &function.target_group_arn,
        multi_value,
        trace_header: &trace_header,
    });
    let rx = function.invoke(Bytes::from(payload.to_string()), trace_root);
    let limit = function.info.timeout + idle_timeout;
    let outcome = match tokio::time::timeout(limit, rx).await {
        Ok(Ok(o)) => o,
        Ok(Err(_)) => Outcome::Crashed("the invocation was dropped".into()),
        Err(_) => {
            return Err(Failure::new(
                504,
                format!("no answer within {}s", limit.as_secs()),
            ))
        }
    };
    respond(outcome, multi_value, function.info.timeout, date)
}

/// PURE: how the ALB answers an invocation's outcome (ALB-LAMBDA.md §3, §4): the
/// function's response mapped to HTTP, or 502 for a function error, a timeout, a crash
/// or a response it cannot use.
pub fn respond(
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
