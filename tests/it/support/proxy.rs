//! An HTTP proxy between albkit and moto that makes moto behave more like AWS: it
//! injects transient faults in each protocol's own error format, imitates delays and
//! refusals that moto does not (IAM propagation, Lambda update conflicts, ALB
//! `provisioning`, network interfaces still attached after an ALB is deleted, a
//! certificate still in use, a late access-log delivery, S3's refusal of a bucket of
//! another account when the caller names the expected owner), and records every request so
//! tests can assert on order and counts. It can also SIGKILL the albkit process right
//! after its k-th successful mutating call (the crash-anywhere sweep).
//!
//! Listens on 127.0.0.1 only, on a free port, on a runtime of its own.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::trust_stores::{self, TrustStores};

/// How long AWS takes to catch up, per behaviour; zero turns a behaviour off.
#[derive(Debug, Clone, Default)]
pub(crate) struct Realism {
    /// `CreateFunction` fails "cannot be assumed by Lambda" for this long after `CreateRole`.
    pub iam_propagation: Duration,
    /// Another update of a function fails with `ResourceConflictException`, and
    /// `GetFunctionConfiguration` reports `LastUpdateStatus: InProgress`, for this long after an update.
    pub lambda_update: Duration,
    /// A new function reports `State: Pending` for this long after `CreateFunction`, and
    /// calls that change it are refused with `ResourceConflictException` meanwhile.
    pub function_activation: Duration,
    /// `DescribeLoadBalancers` reports `provisioning` for this long after creation.
    pub alb_provisioning: Duration,
    /// Deleting the security group or a subnet, or detaching the internet gateway, fails
    /// with `DependencyViolation` for this long after `DeleteLoadBalancer`, and at least
    /// once however late the first such call comes (on AWS the interfaces take longer to
    /// go than any teardown takes to reach them; a slow machine must not skip this).
    pub eni_release: Duration,
    /// `DeleteCertificate` fails with `ResourceInUseException` for this long after the
    /// last listener or load balancer was deleted.
    pub certificate_release: Duration,
    /// For this long after `RequestCertificate`, `DescribeCertificate` reports
    /// `PENDING_VALIDATION` and an HTTPS listener on the certificate is refused with
    /// `CertificateNotFound`, as AWS does before a certificate is issued.
    pub certificate_issue: Duration,
    /// After the ALB is deleted, one more log object lands in the log bucket while albkit
    /// empties it (so a single "empty then delete" fails with `BucketNotEmpty`).
    pub late_log_delivery: bool,
    /// For this long after `PutProvisionedConcurrencyConfig`, the function's
    /// `GetProvisionedConcurrencyConfig` reports `IN_PROGRESS` with nothing available,
    /// as Lambda does while it starts the environments (MiniStack is `READY` at once).
    pub provisioned_allocation: Duration,
    /// Only the timed windows above: no refusal of the first `CreateFunction` or
    /// interface-bound deletion forced however late it comes. The tests want that path
    /// taken on a slow machine; a benchmark measures the model (and a tutorial-style
    /// script that sleeps past the window must then succeed).
    pub timed_only: bool,
}

impl Realism {
    /// Every behaviour on, with delays short enough for tests.
    pub(crate) fn all(delay: Duration) -> Self {
        Self {
            iam_propagation: delay,
            lambda_update: delay,
            function_activation: delay,
            alb_provisioning: delay,
            eni_release: delay,
            certificate_release: delay,
            certificate_issue: delay,
            late_log_delivery: true,
            provisioned_allocation: delay,
            timed_only: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ProxyConfig {
    /// Probability of a transient fault on any call.
    pub fault_rate: f64,
    pub seed: u64,
    /// How long every call takes, plus up to `jitter`: the answer is held until then
    /// from the request's arrival, moto's own work included (AWS's latency includes its
    /// work too). A call moto alone takes longer over takes as long as moto does.
    pub latency: Duration,
    pub jitter: Duration,
    pub realism: Realism,
    /// The first successful call of each mutating operation is carried out and its
    /// response lost (the connection closes): every creation, update and deletion meets
    /// the case where AWS did the work but the caller never heard of it.
    pub lose_first_responses: bool,
    /// Buckets that belong to another account: `(bucket, owner account)`. An S3 call on
    /// one of them whose `x-amz-expected-bucket-owner` names another account is refused
    /// with 403 `AccessDenied`, as S3 does (moto ignores the header). Calls without the
    /// header reach moto.
    pub other_account_buckets: Vec<(String, String)>,
    /// The proxy stands for AWS's TLS endpoint in front of an emulator that checks
    /// request signatures and `aws:SecureTransport` (MiniStack): it passes the `Host`
    /// header on as the client signed it and marks each request as received over TLS
    /// (`X-Forwarded-Proto: https`, as a TLS-terminating front end does). moto's
    /// workarounds (idempotent creates, lifted bucket policies) are then off.
    pub tls_front: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            fault_rate: 0.0,
            seed: 1,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            realism: Realism::default(),
            lose_first_responses: false,
            other_account_buckets: Vec::new(),
            tls_front: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Status500,
    Status503,
    Throttle,
    /// The connection is closed before the request reaches moto.
    ResetBefore,
    /// moto carries the request out, then the connection is closed without a response.
    ResetAfter,
    /// One of the imitated AWS behaviours answered instead of moto.
    Realism(&'static str),
}

/// The process a trigger acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Pid(u32),
    /// A file the process's pid is written to before it starts (read when the trigger
    /// fires, so the trigger can be armed before the process exists).
    PidFile(std::path::PathBuf),
}

impl Target {
    fn pid(&self) -> Option<u32> {
        match self {
            Target::Pid(pid) => Some(*pid),
            Target::PidFile(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        }
        .filter(|pid| *pid > 0)
    }

    fn signal(&self, signal: &str) -> Option<u32> {
        let pid = self.pid()?;
        let _ = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
        Some(pid)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub service: String,
    pub operation: String,
    pub mutating: bool,
    /// 0 when the connection was reset.
    pub status: u16,
    pub fault: Option<Fault>,
    /// When the request reached the proxy.
    pub start: Duration,
    /// When its answer (or reset) left the proxy.
    pub at: Duration,
}

#[derive(Debug)]
struct State {
    rng: StdRng,
    records: Vec<Record>,
    started: Instant,
    last_create_role: Option<Instant>,
    lambda_updates: HashMap<String, Instant>,
    lambda_created: HashMap<String, Instant>,
    provisioned_put: HashMap<String, Instant>,
    lb_created: Option<Instant>,
    certificate_requested: Option<Instant>,
    lb_deleted: Option<Instant>,
    listener_gone: Option<Instant>,
    late_log_pending: bool,
    successful_mutations: usize,
    /// Operations whose first response was lost (`lose_first_responses`).
    lost: HashSet<String>,
    kill_after: Option<(usize, Target)>,
    stop_on: Option<(String, Target)>,
    /// ELB trust stores and listeners' mutual authentication (see `trust_stores`).
    trust_stores: TrustStores,
}

struct Shared {
    config: ProxyConfig,
    upstream: String,
    state: Mutex<State>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

pub(crate) struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The proxy's thread stops its runtime when it hears this (or the sender drops).
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Proxy {
    /// Starts the proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`) on a
    /// thread and runtime of its own, so that tests, async or not, can use it.
    pub(crate) fn start(upstream: &str, config: ProxyConfig) -> Proxy {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(config.seed),
                records: Vec::new(),
                started: Instant::now(),
                last_create_role: None,
                lambda_updates: HashMap::new(),
                lambda_created: HashMap::new(),
                provisioned_put: HashMap::new(),
                lb_created: None,
                certificate_requested: None,
                lb_deleted: None,
                listener_gone: None,
                late_log_pending: false,
                successful_mutations: 0,
                lost: HashSet::new(),
                kill_after: None,
                stop_on: None,
                trust_stores: TrustStores::default(),
            }),
            config,
            upstream: upstream.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind the proxy on loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("proxy address").port();
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let shared = accept_shared.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                            });
                        }
                    }
                }
            });
            runtime.shutdown_background();
        });
        Proxy {
            port,
            shared,
            shutdown: Some(tx),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How long each call takes at least ([`ProxyConfig::latency`]).
    pub(crate) fn latency(&self) -> Duration {
        self.shared.config.latency
    }

    /// The proxy's clock: time since it started, the clock of [`Record`]'s times.
    pub(crate) fn now(&self) -> Duration {
        self.shared
            .state
            .lock()
            .map(|s| s.started.elapsed())
            .unwrap_or_default()
    }

    /// When each wait the model imposes ended, on the proxy's clock, with the operations
    /// whose success shows it to the caller: (what, operations, when). For the benchmark's
    /// account of how late albkit noticed.
    pub(crate) fn readiness(&self) -> Vec<(&'static str, &'static [&'static str], Duration)> {
        let Ok(s) = self.shared.state.lock() else {
            return Vec::new();
        };
        let r = &self.shared.config.realism;
        let on_clock = |at: Option<Instant>, delay: Duration| {
            at.filter(|_| !delay.is_zero())
                .map(|at| (at + delay).saturating_duration_since(s.started))
        };
        let mut out = Vec::new();
        const FUNCTION: &[&str] = &["GetFunction", "GetFunctionConfiguration"];
        // For functions, the latest creation and the latest update.
        let waits: [(
            &'static str,
            &'static [&'static str],
            Option<Instant>,
            Duration,
        ); 6] = [
            (
                "role assumable",
                &["CreateFunction"],
                s.last_create_role,
                r.iam_propagation,
            ),
            (
                "load balancer active",
                &["DescribeLoadBalancers"],
                s.lb_created,
                r.alb_provisioning,
            ),
            (
                "certificate issued",
                &["DescribeCertificate", "CreateListener"],
                s.certificate_requested,
                r.certificate_issue,
            ),
            (
                "network interfaces released",
                &[
                    "DeleteSecurityGroup",
                    "DeleteSubnet",
                    "DetachInternetGateway",
                ],
                s.lb_deleted,
                r.eni_release,
            ),
            (
                "function active",
                FUNCTION,
                s.lambda_created.values().max().copied(),
                r.function_activation,
            ),
            (
                "function updated",
                FUNCTION,
                s.lambda_updates.values().max().copied(),
                r.lambda_update,
            ),
        ];
        for (what, operations, at, delay) in waits {
            if let Some(when) = on_clock(at, delay) {
                out.push((what, operations, when));
            }
        }
        out
    }

    pub(crate) fn records(&self) -> Vec<Record> {
        self.shared
            .state
            .lock()
            .map(|s| s.records.clone())
            .unwrap_or_default()
    }

    /// The longest chain of calls that ran one after another (each began after the
    /// previous one had answered): the sequential round trips of a run.
    pub(crate) fn longest_chain(records: &[Record]) -> usize {
        Self::chain_path(records).len()
    }

    /// The calls of that longest chain, in order.
    pub(crate) fn chain_path(records: &[Record]) -> Vec<Record> {
        let mut calls: Vec<&Record> = records.iter().collect();
        calls.sort_by_key(|r| r.at);
        // For each call: the length of the longest chain ending with it, and its predecessor.
        let mut best: Vec<(usize, Option<usize>)> = Vec::with_capacity(calls.len());
        for (i, c) in calls.iter().enumerate() {
            let before = (0..i)
                .filter(|&j| calls[j].at <= c.start)
                .max_by_key(|&j| best[j].0);
            best.push((before.map_or(0, |j| best[j].0) + 1, before));
        }
        let mut at = (0..calls.len()).max_by_key(|&i| best[i].0);
        let mut path = Vec::new();
        while let Some(i) = at {
            path.push(calls[i].clone());
            at = best[i].1;
        }
        path.reverse();
        path
    }

    pub(crate) fn clear_records(&self) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.records.clear();
        }
    }

    /// Successful mutating calls so far.
    pub(crate) fn mutations(&self) -> usize {
        self.shared
            .state
            .lock()
            .map_or(0, |s| s.successful_mutations)
    }

    /// SIGKILLs the target right after the `k`-th successful mutating call from now on,
    /// before the response reaches it. The counter restarts at 0. Arm it before the
    /// process starts (with [`Target::PidFile`]) so that no call is missed.
    pub(crate) fn kill_after(&self, k: usize, target: Target) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.successful_mutations = 0;
            s.kill_after = Some((k, target));
        }
    }

    /// SIGSTOPs the target right after the next successful mutating call whose path
    /// contains `needle` (the response waits in the socket until the process continues).
    pub(crate) fn stop_when(&self, needle: &str, target: Target) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.stop_on = Some((needle.to_string(), target));
        }
    }

    pub(crate) fn disarm(&self) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.kill_after = None;
        }
    }
}

/// The service of a request, from its SigV4 credential scope.
pub(crate) fn service_of(authorization: &str) -> String {
    authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string()
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// `(operation, mutating)` of a request. Pure.
pub(crate) fn operation_of(
    service: &str,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &str,
) -> (String, bool) {
    let read = |op: &str| {
        ["Describe", "Get", "List", "Head"]
            .iter()
            .any(|p| op.starts_with(p))
    };
    match service {
        "ec2" | "elasticloadbalancing" | "iam" | "sts" | "sns" => {
            let op = form_value(body, "Action").unwrap_or("Unknown").to_string();
            let mutating = !read(&op);
            (op, mutating)
        }
        // CloudWatch (Smithy RPC v2 CBOR): `/service/<service>/operation/<Operation>`.
        "monitoring" => {
            let op = path
                .split('?')
                .next()
                .and_then(|p| p.rsplit_once("/operation/"))
                .map(|(_, op)| op.to_string())
                .or_else(|| {
                    target
                        .and_then(|t| t.rsplit('.').next())
                        .map(str::to_string)
                })
                .or_else(|| form_value(body, "Action").map(str::to_string))
                .unwrap_or_else(|| "Unknown".into());
            let mutating = !read(&op);
            (op, mutating)
        }
        "logs" | "acm" | "wafv2" => {
            let op = target
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or("Unknown")
                .to_string();
            let mutating = !read(&op);
            (op, mutating)
        }
        "lambda" => {
            let segments: Vec<&str> = path
                .split('?')
                .next()
                .unwrap_or("")
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            let op = match (method, segments.as_slice()) {
                ("POST", [_, "functions"]) => "CreateFunction",
                ("GET", [_, "functions"]) => "ListFunctions",
                ("GET", [_, "functions", _]) => "GetFunction",
                ("DELETE", [_, "functions", _]) => "DeleteFunction",
                ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
                ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
                ("PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
                ("POST", [_, "functions", _, "versions"]) => "PublishVersion",
                ("GET", [_, "functions", _, "versions"]) => "ListVersionsByFunction",
                ("POST", [_, "functions", _, "aliases"]) => "CreateAlias",
                ("GET", [_, "functions", _, "aliases", _]) => "GetAlias",
                ("PUT", [_, "functions", _, "aliases", _]) => "UpdateAlias",
                ("POST", [_, "functions", _, "policy"]) => "AddPermission",
                ("GET", [_, "functions", _, "policy"]) => "GetPolicy",
                ("DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
                ("PUT", [_, "functions", _, "provisioned-concurrency"]) => {
                    "PutProvisionedConcurrencyConfig"
                }
                ("GET", [_, "functions", _, "provisioned-concurrency"]) => {
                    "GetProvisionedConcurrencyConfig"
                }
                ("DELETE", [_, "functions", _, "provisioned-concurrency"]) => {
                    "DeleteProvisionedConcurrencyConfig"
                }
                ("GET", [_, "tags", ..]) => "ListTags",
                ("POST", [_, "tags", ..]) => "TagResource",
                ("DELETE", [_, "tags", ..]) => "UntagResource",
                _ => "Other",
            };
            (op.to_string(), !matches!(method, "GET" | "HEAD"))
        }
        _ => {
            let query = path
                .split_once('?')
                .map_or("", |(_, q)| q.split('&').next().unwrap_or(""));
            let query = query.split('=').next().unwrap_or("");
            (
                format!("{method} {query}").trim().to_string(),
                !matches!(method, "GET" | "HEAD"),
            )
        }
    }
}

/// The function name in a Lambda REST path.
fn lambda_function(path: &str) -> Option<String> {
    let segments: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        [_, "functions", name, ..] => Some(
            urlencoding::decode(name)
                .map_or_else(|_| name.to_string(), std::borrow::Cow::into_owned),
        ),
        _ => None,
    }
}

/// The function's name in a Lambda REST path that names it by name or by ARN.
fn lambda_function_name(path: &str) -> Option<String> {
    lambda_function(path).map(|f| f.rsplit(':').next().unwrap_or(&f).to_string())
}

/// An AWS error response in the service's own protocol.
pub(crate) fn error_response(
    service: &str,
    status: u16,
    code: &str,
    message: &str,
) -> Response<Full<Bytes>> {
    if service == "monitoring" {
        return cbor_error(status, code, message);
    }
    let (content_type, body, extra) = match service {
        "ec2" => (
            "text/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>proxy</RequestID></Response>"),
            None,
        ),
        "elasticloadbalancing" | "iam" | "sts" | "route53" | "sns" => (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"),
            None,
        ),
        "s3" => ("application/xml", format!("<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"), None),
        "lambda" => ("application/json", format!("{{\"Type\":\"User\",\"message\":\"{message}\"}}"), Some(code)),
        _ => ("application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"), None),
    };
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-requestid", "proxy");
    if let Some(code) = extra {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// A CloudWatch error as the SDK reads it (Smithy RPC v2 CBOR): the CBOR map
/// `{"__type": code, "message": message}`.
fn cbor_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    fn text(out: &mut Vec<u8>, s: &str) {
        // Major type 3 (text string) with its length: inline under 24, else in 1, 2 or
        // 4 bytes (0x78, 0x79, 0x7a).
        let n = s.len();
        match n {
            0..=23 => out.push(0x60 | n as u8),
            24..=0xff => out.extend([0x78, n as u8]),
            0x100..=0xffff => {
                out.push(0x79);
                out.extend((n as u16).to_be_bytes());
            }
            _ => {
                out.push(0x7a);
                out.extend((n as u32).to_be_bytes());
            }
        }
        out.extend(s.as_bytes());
    }
    let mut body = vec![0xa2];
    for s in ["__type", code, "message", message] {
        text(&mut body, s);
    }
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("x-amzn-requestid", "proxy")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn throttle(service: &str) -> Response<Full<Bytes>> {
    match service {
        "ec2" => error_response(
            service,
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        ),
        "s3" => error_response(service, 503, "SlowDown", "Please reduce your request rate."),
        "lambda" => error_response(service, 429, "TooManyRequestsException", "Rate exceeded"),
        "logs" | "acm" => error_response(service, 400, "ThrottlingException", "Rate exceeded"),
        _ => error_response(service, 400, "Throttling", "Rate exceeded"),
    }
}

/// An S3 request (path-style) on a bucket of `owners` that expects another owner.
fn wrong_owner(owners: &[(String, String)], path: &str, headers: &hyper::HeaderMap) -> bool {
    let bucket = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let expected = headers
        .get("x-amz-expected-bucket-owner")
        .and_then(|v| v.to_str().ok());
    match (owners.iter().find(|(b, _)| b == bucket), expected) {
        (Some((_, owner)), Some(expected)) => owner != expected,
        _ => false,
    }
}

fn within(at: Option<Instant>, window: Duration) -> bool {
    within_at(Instant::now(), at, window)
}

/// Whether `now` is less than `window` after `at`.
fn within_at(now: Instant, at: Option<Instant>, window: Duration) -> bool {
    !window.is_zero() && at.is_some_and(|t| now.saturating_duration_since(t) < window)
}

/// An imitated AWS refusal for this call, if one applies now.
fn realism_refusal(
    state: &State,
    r: &Realism,
    service: &str,
    op: &str,
    path: &str,
    body: &str,
) -> Option<(&'static str, Response<Full<Bytes>>)> {
    match (service, op) {
        // Within the window after `CreateRole`, and also the first `CreateFunction` after
        // it however late it comes: on a loaded machine the function can reach AWS after
        // the window, and the refusal must still be exercised (as for the interfaces).
        ("lambda", "CreateFunction")
            if !r.iam_propagation.is_zero()
                && state.last_create_role.is_some()
                && (within(state.last_create_role, r.iam_propagation)
                    || (!r.timed_only && !state.records.iter().any(|x| x.fault == Some(Fault::Realism("iam-propagation"))))) =>
        Some((
            "iam-propagation",
            error_response(service, 400, "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."),
        )),
        ("lambda", "UpdateFunctionCode" | "UpdateFunctionConfiguration" | "PublishVersion")
            if lambda_function(path).is_some_and(|f| within(state.lambda_updates.get(&f).copied(), r.lambda_update)) =>
        {
            Some((
                "lambda-update-in-progress",
                error_response(service, 409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource."),
            ))
        }
        ("lambda", "UpdateFunctionCode" | "UpdateFunctionConfiguration" | "PublishVersion" | "CreateAlias")
            if lambda_function(path).is_some_and(|f| within(state.lambda_created.get(&f).copied(), r.function_activation)) =>
        {
            Some((
                "function-pending",
                error_response(service, 409, "ResourceConflictException", "The operation cannot be performed at this time. The function is currently in the following state: Pending"),
            ))
        }
        ("ec2", "DeleteSecurityGroup" | "DeleteSubnet" | "DetachInternetGateway")
            if !r.eni_release.is_zero()
                && state.lb_deleted.is_some()
                && (within(state.lb_deleted, r.eni_release)
                    || (!r.timed_only && !state.records.iter().any(|x| x.fault == Some(Fault::Realism("eni-release"))))) =>
        {
            Some((
                "eni-release",
                error_response(service, 400, "DependencyViolation", "resource has a dependent object"),
            ))
        }
        ("elasticloadbalancing", "CreateListener")
            if body.contains("Certificates.member") && within(state.certificate_requested, r.certificate_issue) =>
        {
            Some((
                "certificate-pending",
                error_response(service, 400, "CertificateNotFound", "Certificate not found: it is not issued yet."),
            ))
        }
        ("acm", "DeleteCertificate") if within(state.listener_gone, r.certificate_release) => Some((
            "certificate-in-use",
            error_response(service, 400, "ResourceInUseException", "Certificate is in use."),
        )),
        _ => None,
    }
}

async fn forward(
    shared: &Shared,
    method: hyper::Method,
    path: &str,
    headers: &hyper::HeaderMap,
    body: Bytes,
) -> Result<(u16, hyper::HeaderMap, Bytes), String> {
    let uri: hyper::Uri = format!("{}{}", shared.upstream, path)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        if name != "host" || shared.config.tls_front {
            req = req.header(name, value);
        }
    }
    if shared.config.tls_front {
        req = req.header("x-forwarded-proto", "https");
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let resp = shared
        .client
        .request(req)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, headers, body))
}

/// The answer to an ELB request the trust store emulation takes (`None`: it goes on to
/// moto): a trust store call, or a `ModifyListener` that names a trust store that does
/// not exist. A create or modify first reads the bundle object from moto's S3.
async fn emulate_trust_stores(
    shared: &Shared,
    op: &str,
    form: &str,
    trigger: &hyper::HeaderMap,
) -> Option<Response<Full<Bytes>>> {
    let error = |(status, code, message): (u16, &str, String)| {
        error_response("elasticloadbalancing", status, code, &message)
    };
    let Some(call) = trust_stores::call_of(op, form) else {
        if op != "ModifyListener" {
            return None;
        }
        let refused = shared.state.lock().ok()?.trust_stores.check_listener(form);
        return refused.map(error);
    };
    let authorization = trigger
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let region = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string();
    let bundle = match call.bundle() {
        Some((bucket, key)) => {
            let mut headers = signed_like(trigger);
            // moto picks the service from the credential scope.
            if let Ok(v) = authorization
                .replace("/elasticloadbalancing/", "/s3/")
                .parse()
            {
                headers.insert("authorization", v);
            }
            let path = format!("/{bucket}/{key}");
            // ELB reads the bundle over TLS: lift the bucket's TLS-only policy for moto.
            let policy = lift_policy(shared, bucket, &headers).await;
            let read = forward(shared, hyper::Method::GET, &path, &headers, Bytes::new()).await;
            restore_policy(shared, bucket, &headers, policy).await;
            match read {
                Ok((200, _, body)) => Some(body),
                _ => None,
            }
        }
        None => None,
    };
    let answer = shared
        .state
        .lock()
        .ok()?
        .trust_stores
        .answer(call, bundle.as_deref(), &region);
    Some(match answer {
        Ok(xml) => Response::builder()
            .status(200)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(xml)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
        Err(e) => error(e),
    })
}

/// The signing headers of `trigger`, for calls the proxy makes to moto on its own
/// (moto does not check signatures; the credential scope names the service).
fn signed_like(trigger: &hyper::HeaderMap) -> hyper::HeaderMap {
    let mut headers = hyper::HeaderMap::new();
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = trigger.get(name) {
            headers.insert(name, v.clone());
        }
    }
    if let Ok(v) = "UNSIGNED-PAYLOAD".parse() {
        headers.insert("x-amz-content-sha256", v);
    }
    headers
}

/// moto applies a bucket policy's `Deny` whatever its condition, so the log bucket's
/// "deny when `aws:SecureTransport` is false" denies every object write and delete,
/// while on AWS, over TLS, it denies none of albkit's. For such a call the proxy (which
/// stands for the TLS endpoint) lifts the policy, lets the call through, and puts the
/// policy back. Returns the policy lifted, to give to [`restore_policy`].
async fn lift_policy(shared: &Shared, bucket: &str, headers: &hyper::HeaderMap) -> Option<Bytes> {
    let path = format!("/{bucket}?policy");
    let (status, _, policy) = forward(shared, hyper::Method::GET, &path, headers, Bytes::new())
        .await
        .ok()?;
    if status != 200 || policy.is_empty() {
        return None;
    }
    forward(shared, hyper::Method::DELETE, &path, headers, Bytes::new())
        .await
        .ok()?;
    Some(policy)
}

async fn restore_policy(
    shared: &Shared,
    bucket: &str,
    headers: &hyper::HeaderMap,
    policy: Option<Bytes>,
) {
    if let Some(policy) = policy {
        let _ = forward(
            shared,
            hyper::Method::PUT,
            &format!("/{bucket}?policy"),
            headers,
            policy,
        )
        .await;
    }
}

/// Puts one more access-log object into the bucket, straight into moto, the way the ELB
/// log delivery service would (as a principal the policy allows, over TLS). Returns the
/// status of the write (0 when moto did not answer).
async fn deliver_late_log(shared: &Shared, bucket: &str, trigger: &hyper::HeaderMap) -> u16 {
    let headers = signed_like(trigger);
    let policy = lift_policy(shared, bucket, &headers).await;
    let written = forward(
        shared,
        hyper::Method::PUT,
        &format!("/{bucket}/alb/AWSLogs/123456789012/elasticloadbalancing/late-delivery.log.gz"),
        &headers,
        Bytes::from_static(b"late access log"),
    )
    .await
    .map_or(0, |(status, _, _)| status);
    restore_policy(shared, bucket, &headers, policy).await;
    written
}

/// The `CreateListener` answer for a listener that already exists on the requested
/// load balancer and port, built from moto's `DescribeListeners`; `None` when there is none.
async fn existing_listener(
    shared: &Shared,
    trigger: &hyper::HeaderMap,
    form: &str,
) -> Option<String> {
    let value = |key: &str| {
        form_value(form, key).map(|v| {
            urlencoding::decode(v).map_or_else(|_| v.to_string(), std::borrow::Cow::into_owned)
        })
    };
    let lb = value("LoadBalancerArn")?;
    let port = value("Port")?;
    let xml = elb_read(
        shared,
        trigger,
        &format!(
            "Action=DescribeListeners&Version=2015-12-01&LoadBalancerArn={}",
            urlencoding::encode(&lb)
        ),
    )
    .await?;
    // The listener's own port follows its load balancer's ARN (a redirect action has a
    // `<Port>` of its own).
    let at = xml.find(&format!("</LoadBalancerArn><Port>{port}</Port>"))?;
    let start = xml[..at].rfind("<member><ListenerArn>")?;
    let end = xml[at..]
        .find("<member><ListenerArn>")
        .or_else(|| xml[at..].find("</Listeners>"))
        .map(|e| at + e)?;
    Some(format!(
        "<CreateListenerResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><CreateListenerResult><Listeners>{}</Listeners></CreateListenerResult><ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></CreateListenerResponse>",
        &xml[start..end]
    ))
}

/// An ELB read (`body` is its form) sent to moto with the credentials of the call that
/// triggered it; the XML answer, or `None` when it failed.
async fn elb_read(shared: &Shared, trigger: &hyper::HeaderMap, body: &str) -> Option<String> {
    let mut headers = hyper::HeaderMap::new();
    for name in [
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "content-type",
    ] {
        if let Some(v) = trigger.get(name) {
            headers.insert(name, v.clone());
        }
    }
    let (status, _, xml) = forward(
        shared,
        hyper::Method::POST,
        "/",
        &headers,
        Bytes::from(body.to_string()),
    )
    .await
    .ok()?;
    (status == 200).then(|| String::from_utf8_lossy(&xml).to_string())
}

/// The `CreateLoadBalancer` answer for a load balancer that already has the requested
/// name, built from moto's `DescribeLoadBalancers`; `None` when there is none. AWS
/// answers a repeated CreateLoadBalancer with the same name and settings this way; moto
/// creates a second load balancer of the same name.
async fn existing_load_balancer(
    shared: &Shared,
    trigger: &hyper::HeaderMap,
    form: &str,
) -> Option<String> {
    let name = form_value(form, "Name")?;
    let xml = elb_read(
        shared,
        trigger,
        &format!("Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1={name}"),
    )
    .await?;
    let start = xml.find("<LoadBalancers>")?;
    let end = xml.find("</LoadBalancers>")? + "</LoadBalancers>".len();
    xml[start..end].contains("<member>").then(|| {
        format!(
            "<CreateLoadBalancerResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><CreateLoadBalancerResult>{}</CreateLoadBalancerResult><ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></CreateLoadBalancerResponse>",
            &xml[start..end]
        )
    })
}

/// moto 5.2.1 writes a subnet's IPv6 block state as the text of a Python dict
/// (`<state>{'State': 'associated'}</state>`); AWS writes the state itself
/// (`<state>associated</state>`). An EC2 answer with such states written as AWS does;
/// `None` when there is none.
fn subnet_ipv6_state(xml: &str) -> Option<String> {
    let moto = "<state>{'State': '";
    xml.contains(moto).then(|| {
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml;
        while let Some(at) = rest.find(moto) {
            let after = &rest[at + moto.len()..];
            let Some(end) = after.find("'}</state>") else {
                break;
            };
            out.push_str(&rest[..at]);
            out.push_str(&format!("<state>{}</state>", &after[..end]));
            rest = &after[end + "'}</state>".len()..];
        }
        out.push_str(rest);
        out
    })
}

/// The action type moto 5.2.1 accepts and stores with whatever settings it is given.
const JWT_STAND_IN: &str = "authenticate-oidc";

/// A `CreateRule`/`ModifyRule` form body with its `jwt-validation` actions sent as
/// [`JWT_STAND_IN`] (their `JwtValidationConfig` travels unchanged: moto keeps it and
/// returns it, since its API model knows the field; only its type check refuses
/// `jwt-validation`). `None` when the body has none.
fn jwt_validation_in(body: &str) -> Option<String> {
    let needle = ".Type=jwt-validation";
    body.contains(needle)
        .then(|| body.replace(needle, &format!(".Type={JWT_STAND_IN}")))
}

/// An ELB answer with each stand-in action that carries a `JwtValidationConfig` named
/// `jwt-validation` again, as AWS returns it. `None` when there is none. An action's
/// `Type` is its first element, so its settings are what follows up to the next `<Type>`.
fn jwt_validation_out(xml: &str) -> Option<String> {
    let stand_in = format!("<Type>{JWT_STAND_IN}</Type>");
    if !xml.contains(&stand_in) {
        return None;
    }
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(&stand_in) {
        out.push_str(&rest[..at]);
        let after = &rest[at + stand_in.len()..];
        let own = after.find("<Type>").map_or(after, |end| &after[..end]);
        if own.contains("<JwtValidationConfig>") {
            out.push_str("<Type>jwt-validation</Type>");
        } else {
            out.push_str(&stand_in);
        }
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

/// AWS returns an `authenticate-cognito` or `authenticate-oidc` action with the defaults
/// of what it was not given (scope, session timeout and cookie, the behaviour for an
/// unauthenticated request), and never an OIDC action's `ClientSecret`; moto returns only
/// what it was given, the secret included. Fills in the defaults and drops the secret.
/// `None` when there is no such action.
fn cognito_defaults(xml: &str) -> Option<String> {
    const DEFAULTS: &str = "<SessionTimeout>604800</SessionTimeout>\
        <SessionCookieName>AWSELBAuthSessionCookie</SessionCookieName>\
        <OnUnauthenticatedRequest>authenticate</OnUnauthenticatedRequest>";
    let mut out = xml.to_owned();
    let mut changed = false;
    for kind in ["AuthenticateCognitoConfig", "AuthenticateOidcConfig"] {
        let (open, close) = (format!("<{kind}>"), format!("</{kind}>"));
        if !out.contains(&open) {
            continue;
        }
        changed = true;
        let mut next = String::with_capacity(out.len() + 256);
        for (i, piece) in out.split(&open).enumerate() {
            if i == 0 {
                next.push_str(piece);
                continue;
            }
            next.push_str(&open);
            let end = piece.find(&close).unwrap_or(piece.len());
            let (config, rest) = piece.split_at(end);
            let mut config = without_element(config, "ClientSecret");
            if !config.contains("<Scope>") {
                config.push_str("<Scope>openid</Scope>");
            }
            if !config.contains("<SessionTimeout>") {
                config.push_str(DEFAULTS);
            }
            next.push_str(&config);
            next.push_str(rest);
        }
        out = next;
    }
    changed.then_some(out)
}

/// `xml` without its `<name>…</name>` elements.
fn without_element(xml: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        out.push_str(&rest[..at]);
        rest = rest[at..]
            .find(&close)
            .map_or("", |end| &rest[at + end + close.len()..]);
    }
    out.push_str(rest);
    out
}

#[test]
fn oidc_actions_come_back_without_the_client_secret() {
    let xml = "<member><AuthenticateOidcConfig><ClientId>app</ClientId>\
               <ClientSecret>s3cret</ClientSecret><Scope>openid email</Scope>\
               </AuthenticateOidcConfig></member>";
    let out = cognito_defaults(xml).expect("rewritten");
    assert!(
        !out.contains("s3cret") && !out.contains("ClientSecret"),
        "{out}"
    );
    assert!(out.contains("<ClientId>app</ClientId>"), "{out}");
    assert_eq!(out.matches("<Scope>").count(), 1, "{out}");
    assert!(
        out.contains("<SessionTimeout>604800</SessionTimeout>"),
        "{out}"
    );
}

#[test]
fn cognito_actions_come_back_with_aws_defaults() {
    let xml = "<member><AuthenticateCognitoConfig><UserPoolArn>a</UserPoolArn>\
               </AuthenticateCognitoConfig></member><member><AuthenticateCognitoConfig>\
               <Scope>email</Scope></AuthenticateCognitoConfig></member>";
    let out = cognito_defaults(xml).expect("rewritten");
    assert_eq!(out.matches("<Scope>openid</Scope>").count(), 1, "{out}");
    assert_eq!(out.matches("<Scope>email</Scope>").count(), 1, "{out}");
    assert!(
        out.contains("<OnUnauthenticatedRequest>authenticate"),
        "{out}"
    );
    assert_eq!(cognito_defaults("<Type>forward</Type>"), None);
}

#[test]
fn jwt_validation_goes_to_moto_as_a_stand_in_and_comes_back_by_its_name() {
    let body = "Action=CreateRule&Actions.member.1.Type=jwt-validation&Actions.member.1.Order=1\
                &Actions.member.2.Type=forward";
    let sent = jwt_validation_in(body).expect("rewritten");
    assert!(
        sent.contains("Actions.member.1.Type=authenticate-oidc&"),
        "{sent}"
    );
    assert!(sent.ends_with("Actions.member.2.Type=forward"), "{sent}");
    assert_eq!(
        jwt_validation_in("Action=CreateRule&Actions.member.1.Type=forward"),
        None
    );
    let xml = "<Actions><member><Type>authenticate-oidc</Type><Order>1</Order>\
               <JwtValidationConfig><Issuer>https://i</Issuer></JwtValidationConfig></member>\
               <member><Type>authenticate-oidc</Type><AuthenticateOidcConfig/></member>\
               <member><Type>forward</Type></member></Actions>";
    let back = jwt_validation_out(xml).expect("rewritten");
    assert_eq!(
        back.matches("<Type>jwt-validation</Type>").count(),
        1,
        "{back}"
    );
    assert_eq!(
        back.matches("<Type>authenticate-oidc</Type>").count(),
        1,
        "{back}"
    );
    assert_eq!(jwt_validation_out("<Type>forward</Type>"), None);
}

/// One call: its answer leaves no sooner than the configured latency after the request
/// arrived (see [`ProxyConfig::latency`]).
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let mut due = None;
    let answer = respond(shared, req, &mut due).await;
    if let Some(due) = due {
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    }
    answer
}

/// What the proxy answers to one call; `due` is set to when the answer may leave.
async fn respond(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    due_out: &mut Option<Instant>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let arrived = shared
        .state
        .lock()
        .map(|s| s.started.elapsed())
        .unwrap_or_default();
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".into(), std::string::ToString::to_string);
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).to_string();
    let service = service_of(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let (op, mutating) = operation_of(&service, method.as_str(), &path, target, &text);
    let config = &shared.config;

    // Latency, then the fault draw and the imitated behaviours.
    let (delay, fault, refusal) = {
        let Ok(mut state) = shared.state.lock() else {
            return Err(std::io::Error::other("proxy state poisoned"));
        };
        let jitter = if config.jitter.is_zero() {
            Duration::ZERO
        } else {
            config.jitter.mul_f64(state.rng.gen::<f64>())
        };
        let fault = if config.fault_rate > 0.0 && state.rng.gen::<f64>() < config.fault_rate {
            Some(match state.rng.gen_range(0..5) {
                0 => Fault::Status500,
                1 => Fault::Status503,
                2 => Fault::Throttle,
                3 => Fault::ResetBefore,
                _ => Fault::ResetAfter,
            })
        } else {
            None
        };
        let refusal = realism_refusal(&state, &config.realism, &service, &op, &path, &text);
        (config.latency + jitter, fault, refusal)
    };
    // The call takes `delay` however quickly moto answers: moto's own work is part of it,
    // as AWS's is part of AWS's latency. What happens, happens when the answer leaves.
    let due = Instant::now() + delay;
    *due_out = Some(due);
    let record = |status: u16, fault: Option<Fault>| {
        if let Ok(mut state) = shared.state.lock() {
            let at = state
                .started
                .elapsed()
                .max(due.saturating_duration_since(state.started));
            state.records.push(Record {
                service: service.clone(),
                operation: op.clone(),
                mutating,
                status,
                fault,
                start: arrived,
                at,
            });
        }
    };
    match fault {
        Some(Fault::ResetBefore) => {
            record(0, fault);
            return Err(std::io::Error::other("injected connection reset"));
        }
        Some(Fault::Status500) => {
            record(500, fault);
            return Ok(error_response(
                &service,
                500,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ));
        }
        Some(Fault::Status503) => {
            record(503, fault);
            return Ok(error_response(
                &service,
                503,
                "ServiceUnavailable",
                "Service is unavailable. Please try again.",
            ));
        }
        Some(Fault::Throttle) => {
            let resp = throttle(&service);
            record(resp.status().as_u16(), fault);
            return Ok(resp);
        }
        _ => {}
    }
    if let Some((name, resp)) = refusal {
        record(resp.status().as_u16(), Some(Fault::Realism(name)));
        return Ok(resp);
    }
    if service == "s3" && wrong_owner(&config.other_account_buckets, &path, &headers) {
        record(403, Some(Fault::Realism("expected-bucket-owner")));
        return Ok(error_response(
            &service,
            403,
            "AccessDenied",
            "Access Denied",
        ));
    }

    // Trust stores and mutual authentication, which moto lacks (see `trust_stores`).
    if service == "elasticloadbalancing" {
        if let Some(resp) = emulate_trust_stores(&shared, &op, &text, &headers).await {
            record(resp.status().as_u16(), None);
            return Ok(resp);
        }
    }

    // The first `DeleteBucket` after the ALB was deleted: one more log object lands just
    // before it, after albkit emptied the bucket, so that delete fails with `BucketNotEmpty`.
    let late_bucket = if service == "s3" && method == hyper::Method::DELETE {
        // DeleteBucket: a path of the bucket alone (`/bucket/`; the SDK may add a query).
        let bucket = path
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap_or("")
            .trim_end_matches('/');
        let is_bucket = !bucket.is_empty() && !bucket.contains('/') && bucket.contains("-logs-");
        let pending = is_bucket
            && shared
                .state
                .lock()
                .ok()
                .is_some_and(|mut s| std::mem::replace(&mut s.late_log_pending, false));
        pending.then(|| bucket.to_string())
    } else {
        None
    };
    if let Some(bucket) = &late_bucket {
        let status = deliver_late_log(&shared, bucket, &headers).await;
        if let Ok(mut state) = shared.state.lock() {
            let at = state.started.elapsed();
            state.records.push(Record {
                service: "s3".into(),
                operation: "late log delivery".into(),
                mutating: false,
                status,
                fault: Some(Fault::Realism("late-log-delivery")),
                start: at,
                at,
            });
        }
    }
    // AWS makes CreateListener and CreateLoadBalancer idempotent (the same port or name
    // again returns what is there); moto creates a second one. Answer as AWS would.
    let existing = match (service.as_str(), op.as_str()) {
        _ if config.tls_front => None,
        ("elasticloadbalancing", "CreateListener") => {
            existing_listener(&shared, &headers, &text).await
        }
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            existing_load_balancer(&shared, &headers, &text).await
        }
        _ => None,
    };
    // albkit's `DeleteObjects` on a bucket with the TLS-only policy (see `lift_policy`).
    // So are its writes, reads and deletions of `[https.mtls]`'s CA bundles.
    let bundle_object = path.contains("/mtls/") && path.contains("-logs-");
    let lifted = if service == "s3"
        && !config.tls_front
        && ((method == hyper::Method::POST && path.contains("?delete")) || bundle_object)
    {
        let bucket = path
            .trim_start_matches('/')
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        let headers = signed_like(&headers);
        Some((
            bucket.to_string(),
            lift_policy(&shared, bucket, &headers).await,
            headers,
        ))
    } else {
        None
    };
    // moto stores a `jwt-validation` action's settings but refuses its type: send it as
    // one moto takes, and name it again in what moto answers (see `jwt_validation_in`).
    let mut headers = headers;
    let body = match (service.as_str(), op.as_str()) {
        ("elasticloadbalancing", "CreateRule" | "ModifyRule") => {
            jwt_validation_in(&text).map_or(body, |sent| {
                headers.insert(hyper::header::CONTENT_LENGTH, sent.len().into());
                Bytes::from(sent)
            })
        }
        _ => body,
    };
    let answer = match existing {
        Some(xml) => {
            let mut h = hyper::HeaderMap::new();
            h.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/xml"),
            );
            Ok((200, h, Bytes::from(xml)))
        }
        None => forward(&shared, method, &path, &headers, body).await,
    };
    if let Some((bucket, policy, headers)) = lifted {
        restore_policy(&shared, &bucket, &headers, policy).await;
    }
    let (status, resp_headers, mut resp_body) = match answer {
        Ok(r) => r,
        Err(e) => {
            record(0, None);
            return Err(std::io::Error::other(format!("moto did not answer: {e}")));
        }
    };
    // Bookkeeping and response rewrites for the imitated behaviours.
    let (kill, lose) = {
        let Ok(mut state) = shared.state.lock() else {
            return Err(std::io::Error::other("proxy state poisoned"));
        };
        let ok = status < 300;
        let now = Instant::now().max(due);
        let r = &config.realism;
        match (service.as_str(), op.as_str()) {
            ("iam", "CreateRole") if ok => state.last_create_role = Some(now),
            ("lambda", "UpdateFunctionCode" | "UpdateFunctionConfiguration") if ok => {
                if let Some(f) = lambda_function(&path) {
                    state.lambda_updates.insert(f, now);
                }
            }
            ("lambda", "CreateFunction") if ok => {
                if let Some(name) = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|d| d["FunctionName"].as_str().map(str::to_string))
                {
                    state.lambda_created.insert(name, now);
                }
            }
            ("lambda", "GetFunctionConfiguration" | "GetFunction") if ok => {
                let function = lambda_function(&path);
                let updating = function.as_ref().is_some_and(|f| {
                    within_at(now, state.lambda_updates.get(f).copied(), r.lambda_update)
                });
                let pending = function.as_ref().is_some_and(|f| {
                    within_at(
                        now,
                        state.lambda_created.get(f).copied(),
                        r.function_activation,
                    )
                });
                if updating || pending {
                    if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&resp_body) {
                        let conf = if op == "GetFunction" {
                            &mut doc["Configuration"]
                        } else {
                            &mut doc
                        };
                        if pending {
                            conf["State"] = serde_json::Value::String("Pending".into());
                        }
                        if updating {
                            conf["LastUpdateStatus"] =
                                serde_json::Value::String("InProgress".into());
                        }
                        resp_body = Bytes::from(doc.to_string());
                    }
                }
            }
            ("lambda", "PutProvisionedConcurrencyConfig") if ok => {
                if let Some(f) = lambda_function_name(&path) {
                    state.provisioned_put.insert(f, now);
                }
            }
            ("lambda", "GetProvisionedConcurrencyConfig")
                if ok
                    && lambda_function_name(&path).is_some_and(|f| {
                        within_at(
                            now,
                            state.provisioned_put.get(&f).copied(),
                            r.provisioned_allocation,
                        )
                    }) =>
            {
                if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&resp_body) {
                    doc["Status"] = serde_json::Value::String("IN_PROGRESS".into());
                    doc["AvailableProvisionedConcurrentExecutions"] = 0.into();
                    doc["AllocatedProvisionedConcurrentExecutions"] = 0.into();
                    resp_body = Bytes::from(doc.to_string());
                }
            }
            ("acm", "RequestCertificate") if ok => {
                state.certificate_requested = Some(now);
            }
            ("acm", "DescribeCertificate")
                if ok && within_at(now, state.certificate_requested, r.certificate_issue) =>
            {
                if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&resp_body) {
                    if doc["Certificate"]["Status"] == "ISSUED" {
                        doc["Certificate"]["Status"] =
                            serde_json::Value::String("PENDING_VALIDATION".into());
                        resp_body = Bytes::from(doc.to_string());
                    }
                }
            }
            ("elasticloadbalancing", "CreateLoadBalancer") if ok => {
                state.lb_created = Some(now);
            }
            ("elasticloadbalancing", "DescribeLoadBalancers")
                if ok && within_at(now, state.lb_created, r.alb_provisioning) =>
            {
                let text = String::from_utf8_lossy(&resp_body)
                    .replace("<Code>active</Code>", "<Code>provisioning</Code>");
                resp_body = Bytes::from(text);
            }
            ("elasticloadbalancing", "DeleteLoadBalancer") if ok => {
                state.lb_deleted = Some(now);
                state.listener_gone = Some(now);
                state.late_log_pending = r.late_log_delivery;
                state.trust_stores.deleted(&text);
            }
            ("elasticloadbalancing", "DeleteListener") if ok => {
                state.listener_gone = Some(now);
                state.trust_stores.deleted(&text);
            }
            ("elasticloadbalancing", "ModifyListener") if ok => {
                state.trust_stores.listener_modified(&text);
            }
            _ => {}
        }
        if service == "ec2" && ok {
            if let Some(xml) = subnet_ipv6_state(&String::from_utf8_lossy(&resp_body)) {
                resp_body = Bytes::from(xml);
            }
        }
        if service == "elasticloadbalancing" && ok {
            if let Some(xml) = jwt_validation_out(&String::from_utf8_lossy(&resp_body)) {
                resp_body = Bytes::from(xml);
            }
            if let Some(xml) = cognito_defaults(&String::from_utf8_lossy(&resp_body)) {
                resp_body = Bytes::from(xml);
            }
            if op == "DescribeListeners" || op == "ModifyListener" {
                let xml = state
                    .trust_stores
                    .inject(&String::from_utf8_lossy(&resp_body));
                resp_body = Bytes::from(xml);
            }
        }
        let mut kill = None;
        let mut lose = false;
        if ok && mutating && config.lose_first_responses && state.lost.insert(op.clone()) {
            lose = true;
        }
        if ok && mutating {
            state.successful_mutations += 1;
            if let Some((k, target)) = state.kill_after.clone() {
                if state.successful_mutations == k {
                    kill = Some(target);
                    state.kill_after = None;
                }
            }
            if let Some((needle, target)) = state.stop_on.clone() {
                if path.contains(needle.as_str()) && target.signal("-STOP").is_some() {
                    state.stop_on = None;
                }
            }
        }
        (kill, lose)
    };
    if let Some(target) = kill {
        // The call happened in AWS; the caller never hears of it.
        target.signal("-9");
        record(status, None);
        return Err(std::io::Error::other("albkit was killed"));
    }
    if lose {
        record(0, Some(Fault::ResetAfter));
        return Err(std::io::Error::other("the response of this call was lost"));
    }
    if fault == Some(Fault::ResetAfter) {
        record(0, fault);
        return Err(std::io::Error::other(
            "injected connection reset after the call",
        ));
    }
    record(status, None);
    let mut builder = Response::builder().status(status);
    for (name, value) in &resp_headers {
        if name != "content-length" && name != "transfer-encoding" {
            builder = builder.header(name, value);
        }
    }
    Ok(builder
        .body(Full::new(resp_body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

#[test]
fn subnet_ipv6_states_come_back_as_aws_writes_them() {
    let xml = "<ipv6CidrBlockState><state>{'State': 'associated'}</state></ipv6CidrBlockState>\
               <ipv6CidrBlockState><state>{'State': 'disassociated'}</state></ipv6CidrBlockState>\
               <state>available</state>";
    let out = subnet_ipv6_state(xml).expect("rewritten");
    assert_eq!(
        out,
        "<ipv6CidrBlockState><state>associated</state></ipv6CidrBlockState>\
         <ipv6CidrBlockState><state>disassociated</state></ipv6CidrBlockState>\
         <state>available</state>"
    );
    assert_eq!(subnet_ipv6_state("<state>available</state>"), None);
}
