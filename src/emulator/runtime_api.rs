//! The Lambda Runtime API (`/2018-06-01/...`) served to one running `bootstrap`.
//!
//! Every child process gets its own [`Instance`] and its own listener on a loopback
//! port; the instances of one function pull from that function's shared [`Queue`], so
//! each instance runs one invocation at a time, like Lambda. Each invocation carries a
//! oneshot reply channel; the instance answers it exactly once with an [`Outcome`]
//! (response, function error, timeout or crash).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Notify};

pub use crate::alb::outcome::Outcome;

/// The Runtime API accepts responses up to Lambda's 6 MB synchronous payload limit
/// (413 above); the ALB's own 1 MB limit is applied later, as a 502.
pub const MAX_RUNTIME_PAYLOAD: usize = 6 * 1024 * 1024;

/// One request for the function.
#[derive(Debug)]
pub struct Invocation {
    pub event: Bytes,
    /// Root of the trace id (`1-...-...`), shared with the event's `x-amzn-trace-id`.
    pub trace_root: String,
    pub reply: oneshot::Sender<Outcome>,
}

/// What the Runtime API tells the function about itself.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub timeout: Duration,
}

/// The invocations waiting for one function, shared by its instances.
#[derive(Debug)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Invocation>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Enqueued and not yet handed to an instance.
    pub pending: AtomicUsize,
    /// Instances holding an invocation.
    pub busy: AtomicUsize,
}

impl Default for Queue {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Queue {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            pending: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
        }
    }
}

impl Queue {
    /// Fails the oldest waiting invocation with `outcome`, unless an instance is already
    /// waiting for it (polling `/next`). Returns whether one was failed.
    pub fn fail_oldest(&self, outcome: Outcome) -> bool {
        let Ok(mut rx) = self.rx.try_lock() else {
            // An instance holds the receiver: it is about to take the invocation.
            return false;
        };
        match rx.try_recv() {
            Ok(inv) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                let _ = inv.reply.send(outcome);
                true
            }
            Err(_) => false,
        }
    }

    pub fn push(&self, inv: Invocation) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(mpsc::error::SendError(inv)) = self.tx.send(inv) {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            let _ = inv
                .reply
                .send(Outcome::Crashed("the function is not running".into()));
        }
    }
}

struct InFlight {
    id: String,
    reply: oneshot::Sender<Outcome>,
}

/// The Runtime API state of one running child process.
pub struct Instance {
    pub info: Arc<FunctionInfo>,
    queue: Arc<Queue>,
    in_flight: Mutex<Option<InFlight>>,
    dead: watch::Sender<bool>,
    /// Whether the runtime has asked for an event yet (false: still initialising).
    polled: AtomicBool,
    /// Signalled when the instance must be killed (its invocation timed out).
    pub kill: Notify,
}

impl Instance {
    pub fn new(info: Arc<FunctionInfo>, queue: Arc<Queue>) -> Arc<Instance> {
        Arc::new(Instance {
            info,
            queue,
            in_flight: Mutex::new(None),
            dead: watch::channel(false).0,
            polled: AtomicBool::new(false),
            kill: Notify::new(),
        })
    }

    fn take_in_flight(&self, id: Option<&str>) -> Option<InFlight> {
        let mut guard = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if id.is_none() || guard.as_ref().map(|f| f.id.as_str()) == id {
            let taken = guard.take();
            if taken.is_some() {
                self.queue.busy.fetch_sub(1, Ordering::SeqCst);
            }
            taken
        } else {
            None
        }
    }

    /// The process is gone: no more invocations; the one in flight (if any) fails.
    pub fn mark_dead(&self, why: &str) {
        self.dead.send_replace(true);
        if let Some(f) = self.take_in_flight(None) {
            let _ = f.reply.send(Outcome::Crashed(why.to_string()));
        }
    }

    fn is_dead(&self) -> bool {
        *self.dead.borrow()
    }

    /// Whether the runtime finished its initialisation (asked for an event).
    pub fn initialised(&self) -> bool {
        self.polled.load(Ordering::SeqCst)
    }

    /// Waits for the next invocation, or `None` when the instance died meanwhile.
    async fn next(self: &Arc<Self>) -> Option<(String, Invocation)> {
        let mut dead = self.dead.subscribe();
        if *dead.borrow() {
            return None;
        }
        let inv = tokio::select! {
            inv = async { self.queue.rx.lock().await.recv().await } => inv?,
            _ = dead.wait_for(|d| *d) => return None,
        };
        self.queue.pending.fetch_sub(1, Ordering::SeqCst);
        let id = request_id();
        Some((id, inv))
    }
}

/// A random id shaped like Lambda's (UUID v4 text form).
pub fn request_id() -> String {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_body(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}

/// Serves the Runtime API for `instance` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, instance: Arc<Instance>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let instance = instance.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let instance = instance.clone();
                async move { Ok::<_, Infallible>(handle(req, instance).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connection tasks.
        while conns.try_join_next().is_some() {}
    }
}

/// Binds a loopback port for a new instance's Runtime API.
pub async fn bind() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

async fn handle(req: Request<Incoming>, instance: Arc<Instance>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(
            StatusCode::NOT_FOUND,
            error_body("NotFound", "unknown path"),
        );
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(instance).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = id.to_string();
            match read_body(req).await {
                Ok(body) => match instance.take_in_flight(Some(&id)) {
                    Some(f) => {
                        let _ = f.reply.send(Outcome::Response(body));
                        reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                    }
                    None => invalid_id(&id),
                },
                Err(r) => r,
            }
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = id.to_string();
            let error_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("Unhandled")
                .to_string();
            match read_body(req).await {
                Ok(body) => match instance.take_in_flight(Some(&id)) {
                    Some(f) => {
                        let _ = f.reply.send(Outcome::Error { error_type, body });
                        reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                    }
                    None => invalid_id(&id),
                },
                Err(r) => r,
            }
        }
        (&Method::POST, ["init", "error"]) => {
            let error_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("Unknown")
                .to_string();
            let body = read_body(req).await.unwrap_or_default();
            eprintln!(
                "[{}] init error ({error_type}): {}",
                instance.info.name,
                String::from_utf8_lossy(&body)
            );
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            error_body("NotFound", &format!("no Runtime API route {method} {path}")),
        ),
    }
}

fn invalid_id(id: &str) -> Response<Body> {
    // *unverified* status: the facts file says 403 on a bad state; Lambda's body names
    // the error type.
    reply(
        StatusCode::FORBIDDEN,
        error_body(
            "InvalidStateTransition",
            &format!("request id {id} is not the invocation in flight"),
        ),
    )
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), MAX_RUNTIME_PAYLOAD)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            error_body(
                "RequestEntityTooLarge",
                "payload over the 6 MB Runtime API limit",
            ),
        )),
    }
}

async fn next(instance: Arc<Instance>) -> Response<Body> {
    instance.polled.store(true, Ordering::SeqCst);
    // A runtime asking for the next event gives up on any previous one.
    if let Some(f) = instance.take_in_flight(None) {
        let _ = f.reply.send(Outcome::Crashed(
            "the runtime asked for the next event without answering this one".into(),
        ));
    }
    let Some((id, inv)) = instance.next().await else {
        return reply(
            StatusCode::GONE,
            error_body("InstanceStopped", "this instance is stopping"),
        );
    };
    let timeout = instance.info.timeout;
    let deadline = now_ms() + timeout.as_millis();
    let parent: u64 = rand::random();
    let trace = format!("Root={};Parent={parent:016x};Sampled=0", inv.trace_root);
    {
        let mut guard = instance
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        instance.queue.busy.fetch_add(1, Ordering::SeqCst);
        *guard = Some(InFlight {
            id: id.clone(),
            reply: inv.reply,
        });
    }
    // The process may have died between taking the invocation and recording it.
    if instance.is_dead() {
        if let Some(f) = instance.take_in_flight(Some(&id)) {
            let _ = f
                .reply
                .send(Outcome::Crashed("the function process exited".into()));
        }
    }
    // Deadline: past it, the invocation fails and the instance is killed (Lambda
    // throws away an execution environment whose invocation timed out).
    let watchdog = instance.clone();
    let watch_id = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(f) = watchdog.take_in_flight(Some(&watch_id)) {
            let _ = f.reply.send(Outcome::Timeout);
            watchdog.kill.notify_one();
        }
    });
    let mut r = Response::new(Full::new(inv.event));
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        instance.info.arn.clone(),
    );
    set("lambda-runtime-trace-id", trace);
    set("content-type", "application/json".into());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, request_id());
    }

    #[tokio::test]
    async fn next_then_response_round_trip_over_http() {
        let info = Arc::new(FunctionInfo {
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            timeout: Duration::from_secs(3),
        });
        let queue = Arc::new(Queue::default());
        let instance = Instance::new(info, queue.clone());
        let (listener, addr) = bind().await.expect("bind");
        let server = tokio::spawn(serve(listener, instance.clone()));
        let (tx, rx) = oneshot::channel();
        queue.push(Invocation {
            event: Bytes::from_static(b"{\"e\":1}"),
            trace_root: "1-00000000-000000000000000000000000".into(),
            reply: tx,
        });
        let (status, headers, body) =
            raw(addr, "GET", "/2018-06-01/runtime/invocation/next", "").await;
        assert_eq!(status, 200);
        assert_eq!(body, "{\"e\":1}");
        let id = header(&headers, "lambda-runtime-aws-request-id");
        let deadline: u128 = header(&headers, "lambda-runtime-deadline-ms")
            .parse()
            .expect("ms");
        assert!(deadline > now_ms() + 2000 && deadline <= now_ms() + 3000);
        assert!(header(&headers, "lambda-runtime-trace-id").starts_with("Root=1-00000000-"));
        assert!(header(&headers, "lambda-runtime-invoked-function-arn").ends_with(":function:f"));
        let (status, _, _) = raw(
            addr,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            "{\"statusCode\":200}",
        )
        .await;
        assert_eq!(status, 202);
        match rx.await.expect("reply") {
            Outcome::Response(b) => assert_eq!(&b[..], b"{\"statusCode\":200}"),
            other => panic!("unexpected {other:?}"),
        }
        let (status, _, _) = raw(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/nope/response",
            "{}",
        )
        .await;
        assert_eq!(status, 403);
        server.abort();
    }

    fn header(headers: &str, name: &str) -> String {
        headers
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    }

    async fn raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_string(), body.to_string())
    }
}
