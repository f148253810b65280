//! What the ALB does with a request once a rule forwarded it to a Lambda target group:
//! build the target group's event, invoke the function (queued on its instances, see
//! [`Function::invoke`]) and turn the outcome into the client's response or the ALB's
//! failure status. Shared by the HTTP front of `albkit dev` and `albkit invoke --local`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::process::Function;
use crate::alb::event::{self, Connection, EventInput, Failure, HttpRequest, HttpResponse};
use crate::alb::outcome::{respond, Outcome};

/// Sends `request` to `function` as its target group's event and waits for the answer:
/// the function's timeout (enforced by the Runtime API, then 502) plus `idle_timeout`
/// for queueing and start-up (past both, 504 like an ALB that got no answer).
/// `date` is the `Date` header value of the response.
pub(crate) async fn forward(
    function: &Arc<Function>,
    request: &HttpRequest,
    connection: &Connection,
    idle_timeout: Duration,
    date: &str,
) -> Result<HttpResponse, Failure> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
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
