//! The HTTP front: what the ALB listener does. Reads the request (with the ALB's
//! limits), evaluates the listener rules, forwards it to the matched target group
//! ([`target::forward`]), and prints one access-log line per request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::event::{self, Connection, Failure, HttpRequest, HttpResponse};
use super::process::Function;
use super::rules::RuleSet;
use super::target;

/// How much of an oversized body is read (and thrown away) before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Everything the front needs.
pub struct Front {
    pub rules: RuleSet,
    pub functions: HashMap<String, Arc<Function>>,
    /// The port clients reached (for `x-forwarded-port`).
    pub port: u16,
    /// The ALB's idle timeout: no answer within it (plus the function's timeout) → 504.
    pub idle_timeout: Duration,
    /// Print the access log (off in benchmarks with `--quiet`).
    pub access_log: bool,
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, front: Arc<Front>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("albkit dev: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let front = front.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let front = front.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, front).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                // Room for the 64 KB of headers the ALB accepts; check_request decides.
                .max_buf_size(256 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

pub fn http_date() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

fn to_hyper(r: HttpResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(Bytes::from(r.body)));
    *out.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    let h = out.headers_mut();
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            h.append(n, v);
        }
    }
    out
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    front: Arc<Front>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let (status, matched, note, response) = answer(req, peer, &front).await;
    if front.access_log {
        let took = started.elapsed();
        let note = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        println!(
            "{method} {target} → {matched} {status} {:.2}ms{note}",
            took.as_secs_f64() * 1000.0
        );
    }
    to_hyper(response)
}

/// (status, matched rule for the log, failure note, response).
async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    front: &Front,
) -> (u16, String, String, HttpResponse) {
    let date = http_date();
    let fail = |f: Failure, matched: String| {
        let page = event::error_page(f.status, &date);
        (f.status, matched, f.reason, page)
    };
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
    };
    if let Err(f) = event::check_request(&request) {
        return fail(f, "-".into());
    }
    // Read the body up to 1 MB. Past it, keep draining (up to a cap) so that the client
    // gets the 413 instead of a connection reset on unread data.
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut too_big = declared.is_some_and(|n| n > event::MAX_BODY);
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    seen += data.len();
                    if !too_big && buf.len() + data.len() > event::MAX_BODY {
                        too_big = true;
                        buf = Vec::new();
                    }
                    if !too_big {
                        buf.extend_from_slice(&data);
                    }
                    if seen > DRAIN_LIMIT {
                        break;
                    }
                }
            }
            Err(e) => {
                return fail(
                    Failure::new(400, format!("could not read the request body: {e}")),
                    "-".into(),
                )
            }
        }
    }
    if too_big {
        return fail(Failure::new(413, "request body over 1 MB"), "-".into());
    }
    request.body = buf;
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host());
    let Some(rule) = front.rules.find(&request.method, &request.path, host) else {
        return (
            404,
            "default (fixed 404)".into(),
            String::new(),
            event::not_found(&date),
        );
    };
    let matched = rule.describe();
    let Some(function) = front.functions.get(&rule.function) else {
        // Only when `--function` left this target group out: like a target group with
        // no registered target.
        return fail(
            Failure::new(503, "function not running (--function)"),
            matched,
        );
    };
    let connection = Connection {
        client_ip: peer.ip().to_string(),
        listener_port: front.port,
        proto: "http",
    };
    match target::forward(function, &request, &connection, front.idle_timeout, &date).await {
        Ok(r) => (r.status, matched, String::new(), r),
        Err(f) => fail(f, matched),
    }
}
