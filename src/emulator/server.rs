//! The HTTP front: what the ALB listener does. Reads the request (with the ALB's
//! limits), evaluates the listener rules, forwards it to the matched target group
//! ([`target::forward`]), and prints one access-log line per request.
//!
//! Connections are bounded ([`Limits`]) so that a client that opens many of them, or
//! sends its request a byte at a time (slowloris), or stops reading, cannot hold the
//! server: a request head must arrive within [`HEADER_READ_TIMEOUT`], a connection on
//! which nothing moves for the ALB's idle timeout is closed (unless it waits for its
//! function), and at most [`MAX_CONNECTIONS`] are served at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::process::Function;
use super::target;
use crate::alb::event::{self, Connection, Failure, HttpRequest, HttpResponse};
use crate::alb::jwt::{self, Jwks, Rejection};
use crate::alb::mtls;
use crate::alb::oidc::{self, Login};
use crate::alb::rules::{RuleSet, Target};
use crate::model::config::RouteAuth;
use crate::model::headers::ResponseHeaders;

/// How much of an oversized body is read (and thrown away) before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// How long a client has to send a request's line and headers, counted from when the
/// server starts waiting for them. hyper's clock, which also runs while a kept-alive
/// connection waits for its next request: an idle keep-alive connection is closed after
/// this long too. Long enough for a person typing into `nc`, short enough that a
/// slowloris client cannot hold a connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once. Past it, new connections wait in the
/// listen backlog until one closes. Each takes a file descriptor of the usual 1024.
pub const MAX_CONNECTIONS: usize = 256;

/// The connection limits of the front.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// A connection on which no byte is read or written for this long is closed, except
    /// while its request waits for the function (that wait has its own deadline, the
    /// 504). `albkit dev` uses the ALB's: `[load_balancer] idle_timeout_seconds`.
    pub idle_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Limits {
    /// The defaults, with the ALB's idle timeout.
    pub fn new(idle_timeout: Duration) -> Limits {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

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
    /// Headers the listener adds to every response, its own and the function's,
    /// replacing a value the function set, and whether its own `Server` header stays:
    /// the HTTPS listener's `[https.headers]` (docs/alb-lambda.md §3, §11).
    pub response_headers: ResponseHeaders,
    /// The keys `--jwks` names, which tokens on routes with JWT authentication must be
    /// signed with (empty without such a route).
    pub jwks: Jwks,
    /// Who is logged in on routes with a Cognito login (`None` without such a route).
    pub login: Option<Login>,
    /// `--tls`: the HTTPS listener's TLS, `None` for plain HTTP.
    pub tls: Option<TlsFront>,
}

/// The TLS of `albkit dev --tls` (docs/mtls.md).
pub struct TlsFront {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// `[https.mtls]`: clients present a verified certificate, and its
    /// `x-amzn-mtls-clientcert-*` headers replace any the request carries.
    pub mtls: bool,
}

impl Front {
    /// `https` behind `--tls`, else `http`: `x-forwarded-proto` and redirects' `#{protocol}`.
    fn proto(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// What the front knows of a connection besides its requests.
struct Peer {
    addr: SocketAddr,
    /// The `x-amzn-mtls-clientcert-*` headers of its verified client certificate.
    cert_headers: Vec<(String, String)>,
}

/// Accepts connections until the task is dropped, at most `limits.max_connections` at
/// once.
pub async fn serve(listener: TcpListener, front: Arc<Front>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut full_reported = false;
    loop {
        let slot = if let Ok(slot) = slots.clone().try_acquire_owned() {
            slot
        } else {
            if !full_reported {
                eprintln!(
                    "albkit dev: {} connections open, the limit: new ones wait until one closes",
                    limits.max_connections
                );
                full_reported = true;
            }
            match slots.clone().acquire_owned().await {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => return,
            }
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("albkit dev: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if slots.available_permits() > 0 {
            full_reported = false;
        }
        let _ = stream.set_nodelay(true);
        let front = front.clone();
        tokio::spawn(async move {
            accepted(stream, peer, front, limits).await;
            drop(slot);
        });
    }
}

/// A new connection: over TLS after its handshake (which must end within the time a
/// request head has), else as it is.
async fn accepted(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    front: Arc<Front>,
    limits: Limits,
) {
    let Some(tls) = &front.tls else {
        let peer = Peer {
            addr,
            cert_headers: Vec::new(),
        };
        return connection(stream, peer, front, limits).await;
    };
    let handshake = tls.acceptor.accept(stream);
    let stream = match tokio::time::timeout(limits.header_read_timeout, handshake).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            if front.access_log {
                eprintln!("albkit dev: TLS handshake with {addr} failed: {e}");
            }
            return;
        }
        Err(_) => return,
    };
    let cert_headers = super::tls::client_headers(stream.get_ref().1.peer_certificates());
    let peer = Peer { addr, cert_headers };
    connection(stream, peer, front, limits).await;
}

/// Serves one connection until the client closes it or a limit does.
async fn connection<S>(stream: S, peer: Peer, front: Arc<Front>, limits: Limits)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = Arc::new(peer);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let in_service = activity.clone();
    let service = hyper::service::service_fn(move |req| {
        let front = front.clone();
        let activity = in_service.clone();
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(handle(req, &peer, front, &activity).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // Room for the 64 KB of headers the ALB accepts; check_request decides.
        .max_buf_size(256 * 1024)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        // While the request is with the function the idle clock stands still: look again
        // one idle period from now (not at a deadline already past, which would spin).
        let idle_until = if activity.waiting() {
            Instant::now() + limits.idle_timeout
        } else {
            activity.last() + limits.idle_timeout
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(idle_until.into()) => {
                // Dropping the connection closes the socket, as the ALB does.
                if !activity.waiting() && activity.last().elapsed() >= limits.idle_timeout {
                    return;
                }
            }
        }
    }
}

/// When bytes last moved on a connection, and whether its request is with the function.
struct Activity {
    last: Mutex<Instant>,
    waiting: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            last: Mutex::new(Instant::now()),
            waiting: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    fn last(&self) -> Instant {
        self.last.lock().map_or_else(|_| Instant::now(), |l| *l)
    }

    fn waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }
}

/// Marks a connection as waiting for its function while alive; the wait ends with it.
struct Waiting<'a>(&'a Activity);

impl<'a> Waiting<'a> {
    fn start(activity: &'a Activity) -> Waiting<'a> {
        activity.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(activity)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// A stream that records when bytes are read from or written to it.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
    peer: &Peer,
    front: Arc<Front>,
    activity: &Activity,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".into(), |p| p.as_str().to_string());
    let (status, matched, note, mut response) = answer(req, peer, &front, activity).await;
    event::insert_listener_headers(&mut response, &front.response_headers);
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
    peer: &Peer,
    front: &Front,
    activity: &Activity,
) -> (u16, String, String, HttpResponse) {
    let date = http_date();
    let fail = |f: Failure, matched: String| {
        let page = event::error_page(f.status, &date);
        (f.status, matched, f.reason, page)
    };
    let (parts, body) = req.into_parts();
    let mut request = request_head(&parts);
    if let Err(f) = event::check_request(&request) {
        return fail(f, "-".into());
    }
    if front.tls.as_ref().is_some_and(|t| t.mtls) {
        mtls::set_headers(&mut request.headers, &peer.cert_headers);
    }
    match read_body(body, &parts.headers).await {
        Ok(body) => request.body = body,
        Err(f) => return fail(f, "-".into()),
    }
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
    if let Some(auth) = &rule.auth {
        if let Err((status, note, page)) = authenticate(front, auth, &mut request, &date) {
            return (status, matched, note, page);
        }
    }
    let name = match &rule.target {
        Target::Function(name) => name,
        Target::Fixed(fixed) => {
            let r = event::fixed(fixed, &date);
            return (r.status, matched, String::new(), r);
        }
        Target::Redirect(redirect) => {
            let from = event::RedirectFrom {
                protocol: front.proto(),
                host: host.map_or("", crate::alb::rules::strip_port),
                port: front.port,
                path: &request.path,
                query: request.query.as_deref().unwrap_or(""),
            };
            let r = event::redirect(redirect, &from, &date);
            return (r.status, matched, String::new(), r);
        }
    };
    let Some(function) = front.functions.get(name) else {
        // Only when `--function` left this target group out: like a target group with
        // no registered target.
        return fail(
            Failure::new(503, "function not running (--function)"),
            matched,
        );
    };
    let connection = Connection {
        client_ip: peer.addr.ip().to_string(),
        listener_port: front.port,
        proto: front.proto(),
    };
    // No byte moves while the function runs: not idleness (the wait has its deadline).
    let _waiting = Waiting::start(activity);
    match target::forward(function, &request, &connection, front.idle_timeout, &date).await {
        Ok(r) => (r.status, matched, String::new(), r),
        Err(f) => fail(f, matched),
    }
}

/// The rule's authentication step before the forward: a JWT checked, or the development
/// identity's headers set. `Err`: the load balancer's answer instead of the function's
/// (status, note for the access log, response).
fn authenticate(
    front: &Front,
    auth: &RouteAuth,
    request: &mut HttpRequest,
    date: &str,
) -> Result<(), (u16, String, HttpResponse)> {
    match auth {
        RouteAuth::Jwt(jwt_auth) => {
            let authorization = request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| std::str::from_utf8(v).ok());
            jwt::validate(authorization, &front.jwks, jwt_auth, unix_now())
                .map(drop)
                .map_err(|r| (Rejection::STATUS, r.reason(), jwt::unauthorized(&r, date)))
        }
        RouteAuth::Cognito(_) | RouteAuth::Oidc(_) => {
            let failed = |why: String| (500, why, event::error_page(500, date));
            let login = front
                .login
                .as_ref()
                .ok_or_else(|| failed("no login".into()))?;
            let provider = oidc::Provider::of(auth).ok_or_else(|| failed("no login".into()))?;
            let token = login.signer.token(&login.identity, &provider, unix_now());
            let token = token.map_err(failed)?;
            oidc::set_headers(&mut request.headers, &login.identity, &token);
            Ok(())
        }
    }
}

/// Seconds since the Unix epoch, for the tokens' times.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The request as the ALB reads it from the client, its body not read yet.
fn request_head(parts: &http::request::Parts) -> HttpRequest {
    HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
    }
}

/// Reads the request body up to 1 MB (413 past it, or when `Content-Length` declares
/// more; 400 when it cannot be read). Past 1 MB it keeps draining (up to a cap) so that
/// the client gets the 413 instead of a connection reset on unread data.
async fn read_body(mut body: Incoming, headers: &http::HeaderMap) -> Result<Vec<u8>, Failure> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut buf: Vec<u8> = Vec::new();
    let mut too_big = declared.is_some_and(|n| n > event::MAX_BODY);
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| Failure::new(400, format!("could not read the request body: {e}")))?;
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
    if too_big {
        return Err(Failure::new(413, "request body over 1 MB"));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Generous bound for what should happen within a fraction of it.
    const BOUND: Duration = Duration::from_secs(20);

    /// A front with no rule (every request gets the fixed 404), served with `limits`.
    async fn start(limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let front = Arc::new(Front {
            rules: RuleSet::new(Vec::new()),
            functions: HashMap::new(),
            port: addr.port(),
            idle_timeout: Duration::from_secs(60),
            access_log: false,
            response_headers: ResponseHeaders::default(),
            jwks: Jwks::default(),
            login: None,
            tls: None,
        });
        tokio::spawn(serve(listener, front, limits));
        addr
    }

    /// Reads until the server closes the connection; what it sent before.
    async fn until_closed(s: &mut TcpStream) -> Result<String, &'static str> {
        let mut got = Vec::new();
        let read = tokio::time::timeout(BOUND, async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        match read {
            Ok(()) => Ok(String::from_utf8_lossy(&got).into_owned()),
            Err(_) => Err("the connection is still open"),
        }
    }

    async fn get(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /x HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        until_closed(&mut s).await.expect("response")
    }

    #[tokio::test]
    async fn a_request_head_sent_too_slowly_is_cut_off() {
        let addr = start(Limits {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(60),
            max_connections: 8,
        })
        .await;
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"GET / HTTP/1.1\r\nHo")
            .await
            .expect("write");
        assert!(until_closed(&mut slow).await.is_ok());
        assert!(get(addr).await.starts_with("HTTP/1.1 404"));
    }

    #[tokio::test]
    async fn a_connection_where_nothing_moves_is_closed_after_the_idle_timeout() {
        let addr = start(Limits {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_millis(300),
            max_connections: 8,
        })
        .await;
        // The head is complete (hyper's header clock has stopped), the body never comes.
        let mut stalled = TcpStream::connect(addr).await.expect("connect");
        stalled
            .write_all(b"POST / HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\nab")
            .await
            .expect("write");
        assert_eq!(until_closed(&mut stalled).await, Ok(String::new()));
        assert!(get(addr).await.starts_with("HTTP/1.1 404"));
    }

    #[tokio::test]
    async fn connections_past_the_limit_wait_for_a_free_slot() {
        let addr = start(Limits {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        })
        .await;
        let holder = TcpStream::connect(addr).await.expect("connect");
        let mut waiting = TcpStream::connect(addr).await.expect("connect");
        waiting
            .write_all(b"GET /x HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 64];
        let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buf)).await;
        assert!(early.is_err(), "answered while the only slot was taken");
        drop(holder);
        let answer = until_closed(&mut waiting).await.expect("response");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
}
