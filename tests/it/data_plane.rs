//! The URL answers: requests sent through a load balancer's data plane to the deployed
//! Rust function, which moto cannot do (it runs no code). MiniStack (see
//! `support::ministack`) runs the function's `bootstrap` under a Runtime API and serves
//! an HTTP request whose `Host` is the load balancer's DNS name (with `:443` for the
//! HTTPS listener) through the listener's rules, as the ALB would.
//!
//! The stack: the HTTPS two-function config with a hosted zone, both functions built from
//! the `misbehave` test function (tests/fixtures/dev). Responses are read with the plain
//! HTTP client of `support::http`, and resources through the AWS SDK, never from
//! albkit's output, except where albkit's output is the thing tested (`invoke`, `logs`).
//!
//! MiniStack is an emulator too: where it departs from AWS's documentation, the tests
//! accept both behaviours and docs/alb-lambda.md ("MiniStack's load balancer") says
//! which side is right.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aws_sdk_lambda::Client as Lambda;
use base64::Engine;
use serde_json::Value;

use crate::support::dev::Dev;
use crate::support::http::{self, Resp};
use crate::support::inventory::{self, Kind, Roles, Scope, RESOURCES};
use crate::support::ministack::{MiniStack, ACCOUNT, ROOT_KEY, ROOT_SECRET};
use crate::support::{
    albkit_command_at, create_hosted_zone, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT,
};

const REGION: &str = "us-east-1";
/// The body of the fixed 404 albkit gives both listeners' default actions.
const NOT_FOUND: &str = r#"{"message":"not found"}"#;

/// Every request sent through a load balancer, as `listener method target -> status`,
/// printed at the end of each test (`--nocapture`) for the record.
static SENT: Mutex<Vec<String>> = Mutex::new(Vec::new());
static COUNT: AtomicUsize = AtomicUsize::new(0);

async fn root_config() -> aws_config::SdkConfig {
    MiniStack::shared().root_config(REGION).await
}

/// Runs albkit in `project` against MiniStack, as the account's root.
fn albkit(project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&MiniStack::shared().endpoint(), project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

/// The config: `app` (single-value headers, an environment, a health check; `/app/*`,
/// and `/hosted/*` for requests whose host is an ELB name) and `multi` (multi-value
/// headers; `/multi/*` for GET and POST only, and `/hosted/*` for another host, at a
/// priority that would win if the host were ignored).
fn config(stack: &str, domain: &str, zone: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[https]
domain = "{domain}"
hosted_zone_id = "{zone}"

[[functions]]
name = "app"
path = "functions/misbehave"
environment = {{ GREETING = "hello from app" }}
health_check = {{ path = "/app/health" }}

[[functions.routes]]
priority = 10
paths = ["/app/*"]

[[functions.routes]]
priority = 30
paths = ["/hosted/*"]
hosts = ["*.elb.amazonaws.com"]

[[functions]]
name = "multi"
path = "functions/misbehave"
multi_value_headers = true

[[functions.routes]]
priority = 20
paths = ["/multi/*"]
methods = ["GET", "POST"]

[[functions.routes]]
priority = 25
paths = ["/hosted/*"]
hosts = ["other.example.com"]
"#
    )
}

/// One stack `up` in MiniStack, and how to reach its load balancer.
struct Site {
    stack: String,
    project: Project,
    /// The load balancer's DNS name.
    dns: String,
}

impl Site {
    async fn up(prefix: &str) -> Site {
        let stack = unique_stack_name(prefix);
        let cfg = root_config().await;
        let zone_name = format!("{stack}.example.com");
        let zone = create_hosted_zone(&cfg, &zone_name).await;
        let project = Project::from_fixture("dev");
        // A crate of its own per stack: tests running at once build into the same
        // target dir, and each must package its own binary.
        for file in ["Cargo.toml", "Cargo.lock"] {
            let path = format!("functions/misbehave/{file}");
            let text = project.read(&path).replacen(
                "name = \"misbehave\"",
                &format!("name = \"misbehave-{stack}\""),
                1,
            );
            project.write(&path, &text);
        }
        project.with_config(&config(&stack, &format!("api.{zone_name}"), &zone));
        albkit(&project, &["up", "--yes"]).ok();
        let dns = aws_sdk_elasticloadbalancingv2::Client::new(&cfg)
            .describe_load_balancers()
            .names(format!("{stack}-alb"))
            .send()
            .await
            .expect("DescribeLoadBalancers")
            .load_balancers()
            .first()
            .and_then(|lb| lb.dns_name())
            .expect("the load balancer's DNS name")
            .to_string();
        Site {
            stack,
            project,
            dns,
        }
    }

    /// A request to `listener` (80 or 443) of the load balancer.
    fn request(
        &self,
        listener: u16,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let host = self.host(listener);
        let mut all = vec![("Host", host.as_str())];
        all.extend_from_slice(headers);
        let r = http::send(MiniStack::shared().port(), method, target, &all, body);
        COUNT.fetch_add(1, Ordering::Relaxed);
        SENT.lock().expect("log").push(format!(
            "{} :{listener} {method} {target} -> {}",
            self.stack, r.status
        ));
        r
    }

    /// The `Host` header that reaches `listener`: the DNS name, with the port unless 80.
    fn host(&self, listener: u16) -> String {
        if listener == 80 {
            self.dns.clone()
        } else {
            format!("{}:{listener}", self.dns)
        }
    }

    fn get(&self, target: &str) -> Resp {
        self.request(443, "GET", target, &[], b"")
    }

    fn function(&self, name: &str) -> String {
        format!("{}--{name}", self.stack)
    }

    async fn live_version(&self, function: &str) -> String {
        Lambda::new(&root_config().await)
            .get_alias()
            .function_name(self.function(function))
            .name("live")
            .send()
            .await
            .expect("GetAlias live")
            .function_version()
            .expect("live's version")
            .to_string()
    }

    /// Rewrites the test function's [`VERSION`] line, as a developer changes code.
    fn write_version(&self, version: &str) {
        let main = "functions/misbehave/src/main.rs";
        let text = self.project.read(main);
        let line = text
            .lines()
            .find(|l| l.starts_with("const VERSION: &str"))
            .expect("the VERSION line")
            .to_string();
        self.project.write(
            main,
            &text.replacen(&line, &format!("const VERSION: &str = \"{version}\";"), 1),
        );
    }

    async fn down(self) {
        albkit(&self.project, &["down", "--purge-logs", "--yes"]).ok();
        let scope = Scope {
            stack: &self.stack,
            region: REGION,
            account: ACCOUNT,
            roles: Roles::AllRegions,
        };
        let mut kinds = RESOURCES.to_vec();
        kinds.extend([Kind::Certificate, Kind::Lock]);
        let left = inventory::leftovers(&root_config().await, &scope, &kinds).await;
        assert_eq!(left, Vec::<String>::new(), "left after down --purge-logs");
    }
}

fn print_sent(test: &str) {
    let sent = SENT.lock().expect("log");
    eprintln!(
        "{test}: {} requests through load balancers so far:",
        COUNT.load(Ordering::Relaxed)
    );
    for line in sent.iter() {
        eprintln!("  {line}");
    }
}

/// Which function's target group an echoed event came through.
fn target_group(event: &Value) -> String {
    let arn = event["requestContext"]["elb"]["targetGroupArn"]
        .as_str()
        .unwrap_or_else(|| panic!("no targetGroupArn in {event}"));
    arn.split('/').nth(1).unwrap_or(arn).to_string()
}

/// The body's fingerprint as the `digest` case of the test function computes it: base64
/// or not, then the length and FNV-1a hash of the body as the event carries it.
fn digest(base64: bool, body: &[u8]) -> String {
    let carried = if base64 {
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .into_bytes()
    } else {
        body.to_vec()
    };
    let hash = carried.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{base64} {} {hash:016x}", carried.len())
}

/// The values of a repeated header in a multi-value event, in order. AWS gives one list
/// item per header line; MiniStack joins the lines into one item with `, ` (see
/// docs/alb-lambda.md). Either way the values and their order must be those sent.
fn header_values(event: &Value, name: &str) -> String {
    event["multiValueHeaders"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no multi-value header {name} in {event}"))
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_https_stack_answers_through_its_load_balancer() {
    let site = Site::up("dp-url").await;
    let dns = site.dns.clone();

    // HTTP :80 redirects every path to HTTPS :443, path and query kept.
    for target in ["/app/x?a=1&b=%2F", "/", "/nowhere/y?q"] {
        let r = site.request(80, "GET", target, &[], b"");
        assert_eq!(r.status, 301, "{target}: {}", r.text());
        assert_eq!(
            r.header("location"),
            Some(format!("https://{dns}:443{target}").as_str()),
            "{target}"
        );
    }

    // Each route reaches its function: by path, by host (the port left out of the
    // comparison), and by method.
    let app = site.get("/app/hello").event();
    assert!(target_group(&app).contains("-app-"), "{app}");
    assert!(app["headers"].is_object() && app["multiValueHeaders"].is_null());
    let multi = site
        .request(
            443,
            "POST",
            "/multi/x",
            &[("content-type", "text/plain")],
            b"hi",
        )
        .event();
    assert!(target_group(&multi).contains("-multi-"), "{multi}");
    assert_eq!(multi["httpMethod"], "POST");
    assert_eq!(multi["body"], "hi");
    let hosted = site.get("/hosted/x").event();
    assert!(target_group(&hosted).contains("-app-"), "{hosted}");
    assert_eq!(hosted["headers"]["host"], format!("{dns}:443"));

    // Unrouted, and a method outside the route's list: the listener's fixed 404.
    for (method, target) in [("GET", "/nowhere"), ("DELETE", "/multi/x")] {
        let r = site.request(443, method, target, &[], b"");
        assert_eq!(r.status, 404, "{method} {target}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), NOT_FOUND, "{method} {target}");
    }

    // Multi-value mode: repeated query keys and headers arrive as lists, in order.
    let e = site
        .request(
            443,
            "GET",
            "/multi/q?k=1&k=2&empty=",
            &[("X-Rep", "one"), ("x-rep", "two")],
            b"",
        )
        .event();
    let q = &e["multiValueQueryStringParameters"];
    assert_eq!(q["k"], serde_json::json!(["1", "2"]), "{e}");
    assert_eq!(q["empty"], serde_json::json!([""]), "{e}");
    assert_eq!(header_values(&e, "x-rep"), "one, two", "{e}");

    // A binary body round-trips byte for byte, both ways.
    let bytes: Vec<u8> = (0..=255).collect();
    let r = site.request(
        443,
        "POST",
        "/app/digest",
        &[("content-type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(r.text(), digest(true, &bytes));
    let r = site.get("/app/binary");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, [0u8, 1, 2, 255]);

    // The function's environment, and its health-check path.
    assert_eq!(site.get("/app/env?name=GREETING").text(), "hello from app");
    let health = site.get("/app/health");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));

    print_sent("the_https_stack_answers_through_its_load_balancer");
    site.down().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_keeps_live_on_the_old_version_when_the_new_one_fails_and_ships_a_good_one() {
    let site = Site::up("dp-deploy").await;
    assert_eq!(site.get("/app/version").text(), "v1");
    let v1 = site.live_version("app").await;

    // A version whose health check panics: the smoke check fails, `live` goes back to
    // the previous version, the exit code is 1, and the load balancer serves v1.
    site.write_version("v2-broken");
    let out = albkit(&site.project, &["deploy", "--function", "app", "--yes"]);
    out.code_is(1);
    assert_eq!(site.live_version("app").await, v1, "{}", out.stderr);
    assert_eq!(site.get("/app/version").text(), "v1");

    // A good version: `live` moves and the load balancer serves it.
    site.write_version("v3");
    albkit(&site.project, &["deploy", "--function", "app", "--yes"]).ok();
    assert_ne!(site.live_version("app").await, v1);
    assert_eq!(site.get("/app/version").text(), "v3");

    // `invoke` (not local) returns the deployed function's own answer.
    let out = albkit(
        &site.project,
        &[
            "invoke",
            "--function",
            "app",
            "--path",
            "/app/version",
            "-o",
            "json",
        ],
    );
    let doc = out.ok().json();
    assert_eq!(
        (doc["status"].as_u64(), doc["body"].as_str()),
        (Some(200), Some("v3"))
    );

    // `logs` shows what the function printed while it served those requests.
    let out = albkit(
        &site.project,
        &["logs", "--since", "5m", "--function", "app"],
    );
    let logs = out.ok().stdout.clone();
    for line in ["misbehave: version", "misbehave: health"] {
        assert!(logs.contains(line), "no {line:?} in the logs:\n{logs}");
    }

    print_sent("deploy_keeps_live_on_the_old_version_when_the_new_one_fails_and_ships_a_good_one");
    site.down().await;
}

/// One request of the differential corpus.
struct Case {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

fn case(name: &'static str, method: &'static str, target: &'static str) -> Case {
    Case {
        name,
        method,
        target,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: &'static str) -> Case {
        self.headers.push((name, value));
        self
    }
    fn body(mut self, content_type: &'static str, body: Vec<u8>) -> Case {
        self.body = body;
        self.header("Content-Type", content_type)
    }
}

/// The corpus: encodings in paths and queries, repeated and mixed-case headers and
/// cookies, bodies of every kind and size around the 1 MB limit, methods and hosts the
/// rules refuse or accept, in both header modes.
fn corpus() -> Vec<Case> {
    const MB: usize = 1024 * 1024;
    let binary: Vec<u8> = (0..=255).collect();
    let mut cases = vec![
        case("percent-encoded path", "GET", "/app/a%2Fb+c%20d/%7Euser"),
        case("encoded query", "GET", "/app/q?q=a+b&r=%2F&s=%41&t=x%3Dy"),
        case(
            "encoded query, multi",
            "GET",
            "/multi/q?q=a+b&r=%2F&s=%41&t=x%3Dy",
        ),
        case("repeated query, single", "GET", "/app/q?k=1&k=2&e=&e"),
        case("repeated query, multi", "GET", "/multi/q?k=1&k=2&e=&e"),
        case("no query", "GET", "/multi/q"),
        case("trailing slash", "GET", "/app/"),
        case("headers, single", "GET", "/app/h")
            .header("X-Mixed-Case", "A")
            .header("x-mixed-case", "B")
            .header("Cookie", "a=1; b=2")
            .header("cookie", "c=3"),
        case("headers, multi", "GET", "/multi/h")
            .header("X-Mixed-Case", "A")
            .header("x-mixed-case", "B")
            .header("Cookie", "a=1; b=2")
            .header("cookie", "c=3"),
        case("empty body", "POST", "/multi/digest"),
        case("text body", "POST", "/multi/t").body("text/plain", b"hello, world".to_vec()),
        case("json body", "POST", "/app/j").body("application/json", br#"{"a":1}"#.to_vec()),
        case("binary body", "POST", "/app/digest").body("application/octet-stream", binary),
        case("method outside the route", "DELETE", "/multi/x"),
        case("any method", "PUT", "/app/x"),
        case("host rule, port in Host", "GET", "/hosted/x"),
        case("unrouted", "GET", "/nowhere"),
        case("binary response", "GET", "/app/binary"),
        case("cookies, single", "GET", "/app/cookies"),
        case("cookies, multi", "GET", "/multi/cookies"),
    ];
    for (name, size) in [
        ("1 MB - 1 body", MB - 1),
        ("1 MB body", MB),
        ("1 MB + 1 body", MB + 1),
    ] {
        cases.push(case(name, "POST", "/app/digest").body("text/plain", vec![b'x'; size]));
    }
    cases
}

/// What is compared of a response: the status, the headers but those that differ by
/// nature (`date`, `content-length`, the trace id), and the body; an echoed event
/// without its trace id and with the target group's name for its ARN.
fn comparable(r: &Resp) -> (u16, Vec<(String, String)>, Value) {
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length" | "x-amzn-trace-id"))
        .cloned()
        .collect();
    headers.sort();
    let body = match serde_json::from_slice::<Value>(&r.body) {
        Ok(mut e) if e.get("httpMethod").is_some() => {
            let tg = target_group(&e);
            e["requestContext"]["elb"]["targetGroupArn"] = Value::String(tg);
            for form in ["headers", "multiValueHeaders"] {
                if let Some(map) = e[form].as_object_mut() {
                    map.remove("x-amzn-trace-id");
                }
            }
            e
        }
        _ => Value::String(String::from_utf8_lossy(&r.body).into_owned()),
    };
    (r.status, headers, body)
}

/// The differences between two JSON values, as `path: left | right`.
fn json_differences(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let mut keys: Vec<&String> = l.keys().chain(r.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (a, b) = (&l.get(k).cloned(), &r.get(k).cloned());
                let null = Value::Null;
                json_differences(
                    &format!("{path}.{k}"),
                    a.as_ref().unwrap_or(&null),
                    b.as_ref().unwrap_or(&null),
                    out,
                );
            }
        }
        _ if left != right => out.push(format!("{path}: {left} | {right}")),
        _ => {}
    }
}

/// Every difference between MiniStack's answer and albkit dev's to one case.
fn differences(ministack: &Resp, dev: &Resp) -> Vec<String> {
    let (ms, dv) = (comparable(ministack), comparable(dev));
    let mut out = Vec::new();
    if ms.0 != dv.0 {
        out.push(format!("status: {} | {}", ms.0, dv.0));
    }
    for (n, v) in &ms.1 {
        if !dv.1.contains(&(n.clone(), v.clone())) {
            out.push(format!("header {n}: {v} | -"));
        }
    }
    for (n, v) in &dv.1 {
        if !ms.1.contains(&(n.clone(), v.clone())) {
            out.push(format!("header {n}: - | {v}"));
        }
    }
    json_differences("body", &ms.2, &dv.2, &mut out);
    out
}

/// The differences between MiniStack's load balancer and `albkit dev` that are known:
/// (the case, or `*` for any, and the start of the difference's text). Each is
/// explained in docs/alb-lambda.md §10 with the AWS reference that says which side
/// is right; a difference not listed here, or listed and no longer seen, fails the test.
const KNOWN: &[(&str, &str)] = &[
    // (a) `albkit dev` serves plain HTTP on its own port, and says so.
    ("*", "body.headers.x-forwarded-p"),
    ("*", "body.multiValueHeaders.x-forwarded-p"),
    // (b) MiniStack decodes the path.
    ("percent-encoded path", "body.path:"),
    // (c) MiniStack decodes the query in multi-value mode.
    (
        "encoded query, multi",
        "body.multiValueQueryStringParameters.",
    ),
    // (d) MiniStack's multi-value events carry the single-value maps too.
    ("*", "body.headers: {"),
    ("*", "body.queryStringParameters: {"),
    // (e) MiniStack joins repeated request headers into one value.
    ("headers, single", "body.headers.cookie:"),
    ("headers, single", "body.headers.x-mixed-case:"),
    ("headers, multi", "body.multiValueHeaders.cookie:"),
    ("headers, multi", "body.multiValueHeaders.x-mixed-case:"),
    // (f) MiniStack reads `multiValueHeaders` of a response in single-value mode.
    ("cookies, single", "header set-cookie:"),
    // (g) MiniStack forwards a request body over 1 MB.
    ("1 MB + 1 body", "status: 200 | 413"),
    ("1 MB + 1 body", "header content-type:"),
    ("1 MB + 1 body", "body: "),
];

fn known(name: &str, difference: &str, entry: &(&str, &str)) -> bool {
    (entry.0 == "*" || entry.0 == name) && difference.starts_with(entry.1)
}

#[tokio::test(flavor = "multi_thread")]
async fn albkit_dev_and_the_load_balancer_answer_alike() {
    let site = Site::up("dp-diff").await;
    let dev = Dev::start(&site.project.path().join("albkit.toml"), &[]);
    let host = site.host(443);
    let mut table = Vec::new();
    for c in corpus() {
        let ms = site.request(443, c.method, c.target, &c.headers, &c.body);
        let mut headers = vec![("Host", host.as_str())];
        headers.extend_from_slice(&c.headers);
        let local = http::send(dev.port, c.method, c.target, &headers, &c.body);
        for d in differences(&ms, &local) {
            table.push((c.name, d));
        }
    }
    eprintln!("differences, MiniStack | albkit dev:");
    for (name, d) in &table {
        eprintln!("  {name}: {d}");
    }
    let unknown: Vec<_> = table
        .iter()
        .filter(|(name, d)| !KNOWN.iter().any(|k| known(name, d, k)))
        .collect();
    let unseen: Vec<_> = KNOWN
        .iter()
        .filter(|k| !table.iter().any(|(name, d)| known(name, d, k)))
        .collect();
    assert!(
        unknown.is_empty() && unseen.is_empty(),
        "new differences: {unknown:#?}\nknown differences no longer seen: {unseen:#?}"
    );
    print_sent("albkit_dev_and_the_load_balancer_answer_alike");
    site.down().await;
}
