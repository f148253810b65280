//! End-to-end tests of `albkit dev`: real function binaries behind the local ALB,
//! driven by a plain HTTP/1.1 client over loopback. No AWS, no moto.
//!
//! Fixture: `tests/fixtures/dev` (three target groups in front of the `misbehave` test
//! function: single- and multi-value mode with a 1 s timeout, and `wait` with a long
//! one) and the `hello` template.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::dev::Dev;
use crate::support::http::{self, Resp};
use crate::support::REPO;
use base64::Engine;

fn fixture() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| Dev::start(&Path::new(REPO).join("tests/fixtures/dev/albkit.toml"), &[]))
}

/// One request to `albkit dev` on `port`, with `Host: localhost:PORT`.
fn request(port: u16, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let host = format!("localhost:{port}");
    let mut all = vec![("Host", host.as_str())];
    all.extend_from_slice(headers);
    http::send(port, method, target, &all, body)
}

fn get(target: &str) -> Resp {
    request(fixture().port, "GET", target, &[], b"")
}

// ---- event shape, end to end -------------------------------------------------------

#[test]
fn single_mode_repeated_query_keys_and_headers_keep_the_last_value() {
    let r = request(
        fixture().port,
        "GET",
        "/single/echo?k=1&k=2&enc=foo%3Dbar&p=a+b",
        &[("X-Rep", "a"), ("X-Rep", "b")],
        b"",
    );
    let e = r.event();
    assert_eq!(e["queryStringParameters"]["k"], "2");
    assert_eq!(e["queryStringParameters"]["enc"], "foo%3Dbar");
    assert_eq!(e["queryStringParameters"]["p"], "a+b");
    assert_eq!(e["headers"]["x-rep"], "b");
    assert!(e.get("multiValueHeaders").is_none());
    assert!(e.get("multiValueQueryStringParameters").is_none());
    assert!(e["requestContext"]["elb"]["targetGroupArn"]
        .as_str()
        .unwrap_or("")
        .contains(":targetgroup/"));
    assert!(e["headers"]["x-amzn-trace-id"]
        .as_str()
        .unwrap_or("")
        .starts_with("Root=1-"));
    assert_eq!(e["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("server"), Some("awselb/2.0"));
}

#[test]
fn multi_mode_repeated_query_keys_and_headers_keep_every_value_in_order() {
    let r = request(
        fixture().port,
        "GET",
        "/multi/echo?k=1&k=2&enc=%2F",
        &[("X-Rep", "a"), ("X-Rep", "b")],
        b"",
    );
    let e = r.event();
    assert_eq!(
        e["multiValueQueryStringParameters"]["k"],
        serde_json::json!(["1", "2"])
    );
    assert_eq!(
        e["multiValueQueryStringParameters"]["enc"],
        serde_json::json!(["%2F"])
    );
    assert_eq!(
        e["multiValueHeaders"]["x-rep"],
        serde_json::json!(["a", "b"])
    );
    assert!(e.get("headers").is_none());
    assert!(e.get("queryStringParameters").is_none());
}

#[test]
fn binary_body_arrives_base64() {
    let body: Vec<u8> = (0..=255u8).collect();
    let r = request(
        fixture().port,
        "POST",
        "/single/echo",
        &[("Content-Type", "application/octet-stream")],
        &body,
    );
    let e = r.event();
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(
        e["body"]
            .as_str()
            .map(|b| base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("b64")),
        Some(body)
    );
}

#[test]
fn gzip_encoded_body_arrives_base64_even_when_json() {
    let gz = [0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02];
    let r = request(
        fixture().port,
        "POST",
        "/single/echo",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &gz,
    );
    let e = r.event();
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(e["headers"]["content-encoding"], "gzip");
}

#[test]
fn json_body_arrives_as_text_and_empty_body_as_empty_string() {
    let e = request(
        fixture().port,
        "POST",
        "/single/echo",
        &[("Content-Type", "application/json")],
        b"{\"a\":1}",
    )
    .event();
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some("{\"a\":1}"), Some(false))
    );
    let e = request(fixture().port, "POST", "/multi/echo", &[], b"").event();
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some(""), Some(false))
    );
}

#[test]
fn request_body_of_1_mb_plus_one_byte_is_413() {
    let body = vec![b'a'; 1024 * 1024 + 1];
    let r = request(
        fixture().port,
        "POST",
        "/single/echo",
        &[("Content-Type", "text/plain")],
        &body,
    );
    assert_eq!(r.status, 413);
    // Exactly 1 MB is accepted and reaches the function; echoing it back makes a
    // response over the ALB's 1 MB response limit, hence 502 (not 413).
    let at_limit = request(
        fixture().port,
        "POST",
        "/single/echo",
        &[("Content-Type", "text/plain")],
        &body[..1024 * 1024],
    );
    assert_eq!(at_limit.status, 502);
}

// ---- failures --------------------------------------------------------------------

#[test]
fn a_panicking_function_gives_502_a_log_line_and_keeps_serving() {
    let r = get("/single/panic");
    assert_eq!(r.status, 502);
    assert!(String::from_utf8_lossy(&r.body).contains("502 Bad Gateway"));
    assert!(
        fixture().log_contains(
            "GET /single/panic → rule 10 → single 502",
            Duration::from_secs(5)
        ),
        "{}",
        fixture().log_text()
    );
    assert_eq!(get("/single/echo").status, 200);
}

#[test]
fn a_process_exit_mid_invocation_gives_502_and_a_restart() {
    let r = get("/multi/exit");
    assert_eq!(r.status, 502);
    assert!(
        fixture().log_contains("bootstrap exited", Duration::from_secs(5)),
        "{}",
        fixture().log_text()
    );
    assert_eq!(get("/multi/echo").status, 200);
}

#[test]
fn a_function_sleeping_past_its_timeout_gives_502() {
    // No wall-clock assertion here (timings belong in benchmarks): the emulator's own
    // log says the invocation was cut at the function's 1 s timeout.
    let r = get("/single/sleep");
    assert_eq!(r.status, 502);
    assert!(
        fixture().log_contains("past the 1s timeout", Duration::from_secs(5)),
        "{}",
        fixture().log_text()
    );
    assert_eq!(get("/single/echo").status, 200);
}

#[test]
fn null_body_missing_status_error_and_oversized_response_are_502() {
    for case in ["null-body", "no-status", "error", "big"] {
        assert_eq!(get(&format!("/multi/{case}")).status, 502, "{case}");
    }
}

#[test]
fn set_cookie_and_header_form_follow_the_target_group_mode() {
    let single = get("/single/cookies");
    assert_eq!(single.header_all("set-cookie"), ["single=1"]);
    let multi = get("/multi/cookies");
    assert_eq!(multi.header_all("set-cookie"), ["a=1", "b=2"]);
    assert_eq!(get("/single/wrong-form").header("x-form"), Some("single"));
    let multi = get("/multi/wrong-form");
    assert_eq!(multi.header("x-form"), Some("multi"));
    // No content type in the form read: the ALB's default.
    assert_eq!(
        multi.header("content-type"),
        Some("application/octet-stream")
    );
}

#[test]
fn base64_response_body_is_decoded() {
    let r = get("/single/binary");
    assert_eq!(r.body, vec![0, 1, 2, 0xff]);
    assert_eq!(r.header("content-length"), Some("4"));
}

#[test]
fn unmatched_requests_get_the_default_fixed_404() {
    let r = get("/elsewhere");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Method condition: DELETE is not among the multi route's methods.
    assert_eq!(
        request(fixture().port, "DELETE", "/multi/echo", &[], b"").status,
        404
    );
    // Path patterns are case-sensitive.
    assert_eq!(get("/SINGLE/echo").status, 404);
}

#[test]
fn function_output_is_prefixed_with_its_name() {
    get("/single/echo");
    assert!(
        fixture().log_contains("[single] misbehave: echo", Duration::from_secs(5)),
        "{}",
        fixture().log_text()
    );
}

// ---- instances: queueing and --concurrency ----------------------------------------

/// What one `.../barrier` invocation reports: its process and how many invocations of
/// the same barrier it saw recorded before answering.
#[derive(Debug)]
struct Barrier {
    pid: u64,
    saw: u64,
}

fn barrier(port: u16, dir: &Path, n: usize, wait_ms: u64) -> Barrier {
    let r = request(
        port,
        "GET",
        &format!(
            "/wait/barrier?dir={}&n={n}&wait_ms={wait_ms}",
            dir.display()
        ),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    Barrier {
        pid: v["pid"].as_u64().expect("pid"),
        saw: v["saw"].as_u64().expect("saw"),
    }
}

#[test]
fn with_one_instance_concurrent_requests_queue_and_are_served_one_after_the_other() {
    let dev = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = format!("barrier {} pid", dir.path().display());
    // The first invocation waits (up to 3 s) for a second one to run beside it...
    let first = {
        let dir = dir.path().to_path_buf();
        let port = dev.port;
        std::thread::spawn(move || barrier(port, &dir, 2, 3_000))
    };
    assert!(
        dev.log_contains(&marker, Duration::from_secs(120)),
        "the first invocation never started:\n{}",
        dev.log_text()
    );
    // ...and the second is sent while the first runs: it has to wait in the queue.
    let second = barrier(dev.port, dir.path(), 2, 3_000);
    let first = first.join().expect("first request");
    assert_eq!(
        first.saw, 1,
        "the second invocation ran beside the first on a single instance"
    );
    assert_eq!(second.saw, 2, "the second ran after the first: {second:?}");
    assert_eq!(first.pid, second.pid, "one instance served both");
}

#[test]
fn with_concurrency_n_concurrent_requests_run_on_n_instances_at_once() {
    const N: usize = 3;
    let dev = Dev::start(
        &Path::new(REPO).join("tests/fixtures/dev/albkit.toml"),
        &["--function", "wait", "--concurrency", "3"],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Each invocation waits (up to 30 s) until all N are recorded: they only all get
    // there when N instances run them at the same time.
    let requests: Vec<_> = (0..N)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            let port = dev.port;
            std::thread::spawn(move || barrier(port, &dir, N, 30_000))
        })
        .collect();
    let answers: Vec<Barrier> = requests
        .into_iter()
        .map(|r| r.join().expect("request"))
        .collect();
    for a in &answers {
        assert_eq!(a.saw, N as u64, "{answers:?}\n{}", dev.log_text());
    }
    let mut pids: Vec<u64> = answers.iter().map(|a| a.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), N, "one process per instance: {answers:?}");
    assert!(dev.log_contains("[wait#3]", Duration::from_secs(5)));
}

// ---- connection limits -------------------------------------------------------------

/// A slowloris client: the request line, then one header byte every `pace`, never the
/// end of the head. How long the server kept the connection open (until EOF or a reset;
/// a 408 before it is fine), or `None` if it was still open after `give_up`.
fn slowloris(port: u16, pace: Duration, give_up: Duration) -> Option<Instant> {
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(pace)).expect("timeout");
    if s.write_all(b"GET /single/echo HTTP/1.1\r\nX-Slow: ")
        .is_err()
    {
        return Some(Instant::now());
    }
    let mut buf = [0u8; 1024];
    while started.elapsed() < give_up {
        match s.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(Instant::now()),
        }
        if s.write_all(b"a").is_err() {
            return Some(Instant::now());
        }
    }
    None
}

#[test]
fn slowloris_clients_are_disconnected_and_others_are_still_served() {
    let dev = fixture();
    let port = dev.port;
    let timeout = albkit::emulator::server::HEADER_READ_TIMEOUT;
    // A byte a second: each gap is well under the timeout, the head never completes.
    let slow: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || slowloris(port, Duration::from_secs(1), timeout * 6)))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let r = request(port, "GET", "/single/echo?while=slowloris", &[], b"");
    assert_eq!(r.event()["queryStringParameters"]["while"], "slowloris");
    let served = Instant::now();
    for client in slow {
        let closed = client.join().expect("slow client");
        let closed = closed.unwrap_or_else(|| {
            panic!(
                "a slowloris connection was still open after {:?}:\n{}",
                timeout * 6,
                dev.log_text()
            )
        });
        assert!(
            closed > served,
            "the slow client was cut off before the normal request was served"
        );
    }
    // And the server still answers afterwards.
    assert_eq!(get("/elsewhere").status, 404);
}

// ---- --watch -----------------------------------------------------------------------

#[test]
fn watch_rebuilds_and_restarts_a_function_when_its_source_changes() {
    let project = crate::support::Project::from_template("hello", "devwatch");
    let dev = Dev::start(&project.path().join("albkit.toml"), &["--watch"]);
    let message = |dev: &Dev| {
        let r = request(dev.port, "GET", "/hello", &[], b"");
        (r.status == 200).then(|| r.json()["message"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(message(&dev).as_deref(), Some("hello from albkit"));
    let main = "functions/hello/src/main.rs";
    let source = project.read(main);
    assert!(source.contains("\"hello from albkit\""));
    project.write(
        main,
        &source.replace("\"hello from albkit\"", "\"hello after an edit\""),
    );
    // A debug rebuild on a busy machine can take minutes: a generous deadline, and no
    // assertion on how long it took.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if message(&dev).as_deref() == Some("hello after an edit") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edit never showed:\n{}",
            dev.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(dev.log_contains("sources changed, rebuilding", Duration::from_secs(1)));
    assert!(dev.log_contains("restarting on the new build", Duration::from_secs(1)));
}

// ---- the hello template ----------------------------------------------------------

#[test]
fn hello_template_runs_under_albkit_dev() {
    let project = crate::support::Project::from_template("hello", "devhello");
    let dev = Dev::start(&project.path().join("albkit.toml"), &[]);
    let r = request(dev.port, "GET", "/hello?name=a%20b&name=c", &[], b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["path"], "/hello");
    // Single-value mode: the last value, undecoded by the ALB (lambda_http decodes
    // nothing either for ALB events).
    assert_eq!(body["query"]["name"], "c");
    let health = request(dev.port, "GET", "/health", &[], b"");
    assert_eq!(
        (health.status, health.body.as_slice()),
        (200, b"ok".as_slice())
    );
    assert_eq!(request(dev.port, "POST", "/hello", &[], b"").status, 404);
    assert!(
        dev.log_contains("health initial → healthy", Duration::from_secs(1))
            || dev.log_contains("health check GET /health", Duration::from_secs(1))
    );
}

// ---- [https.headers]: inserted response headers and the CORS preflight (§11) ---------

fn headers_fixture() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        Dev::start(
            &Path::new(REPO).join("tests/fixtures/dev/headers.toml"),
            &[],
        )
    })
}

/// The headers `tests/fixtures/dev/headers.toml` inserts, as the client sees them.
const INSERTED: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=600"),
    ("content-security-policy", "default-src 'self'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("access-control-allow-origin", "https://app.example.com"),
    ("access-control-allow-methods", "GET,POST"),
    ("access-control-allow-headers", "content-type"),
    ("access-control-expose-headers", "x-request-id"),
    ("access-control-allow-credentials", "true"),
    ("access-control-max-age", "600"),
];

#[track_caller]
fn assert_inserted(r: &Resp) {
    for (name, value) in INSERTED {
        assert_eq!(r.header_all(name), [*value], "{name} in {:?}", r.headers);
    }
    assert_eq!(r.header("server"), None, "server = false: {:?}", r.headers);
}

#[test]
fn listener_headers_go_on_the_functions_answers_and_the_load_balancers_own() {
    let dev = headers_fixture();
    let from_function = request(dev.port, "GET", "/api/echo", &[], b"");
    assert_eq!(from_function.status, 200, "{}", from_function.text());
    assert_inserted(&from_function);
    let default_404 = request(dev.port, "GET", "/elsewhere", &[], b"");
    assert_eq!(default_404.status, 404);
    assert_inserted(&default_404);
}

#[test]
fn a_cors_preflight_is_answered_204_by_the_load_balancer_without_invoking_the_function() {
    let dev = headers_fixture();
    let preflight = request(
        dev.port,
        "OPTIONS",
        "/api/preflight-probe",
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204, "{}", preflight.text());
    assert!(preflight.body.is_empty(), "{}", preflight.text());
    assert_eq!(preflight.header("content-type"), None);
    assert_inserted(&preflight);
    // Any path, even one no route has: the rule matches the method alone.
    let unrouted = request(dev.port, "OPTIONS", "/not-routed", &[], b"");
    assert_eq!(unrouted.status, 204);
    // A later request reaches the function, which logs it; the preflight never did.
    let after = request(dev.port, "GET", "/api/after-preflight", &[], b"");
    assert_eq!(after.status, 200);
    assert!(
        dev.log_contains("misbehave: after-preflight", Duration::from_secs(20)),
        "{}",
        dev.log_text()
    );
    let log = dev.log_text();
    assert!(!log.contains("misbehave: preflight-probe"), "{log}");
    assert!(log.contains("rule 1 → fixed-response 204"), "{log}");
}

#[test]
fn routes_without_a_function_redirect_and_answer_fixed_like_the_load_balancer() {
    let dev = headers_fixture();
    let moved = request(dev.port, "GET", "/old/page?x=1", &[], b"");
    assert_eq!(moved.status, 302, "{}", moved.text());
    assert_eq!(
        moved.header("location"),
        Some("https://new.example.com:443/v2/old/page?x=1")
    );
    assert_eq!(moved.header("content-type"), Some("text/html"));
    assert_inserted(&moved);
    let gone = request(dev.port, "GET", "/gone", &[], b"");
    assert_eq!(gone.status, 410);
    assert_eq!(gone.header("content-type"), Some("application/json"));
    assert_eq!(gone.text(), r#"{"gone":true}"#);
    assert_inserted(&gone);
    // Neither reached the function.
    let after = request(dev.port, "GET", "/api/after-routes", &[], b"");
    assert_eq!(after.status, 200);
    assert!(
        dev.log_contains("misbehave: after-routes", Duration::from_secs(20)),
        "{}",
        dev.log_text()
    );
    let log = dev.log_text();
    assert!(!log.contains("misbehave: page"), "{log}");
    assert!(!log.contains("misbehave: gone"), "{log}");
    assert!(log.contains("rule 5 → redirect 302"), "{log}");
}

// ---- JWT validation (docs/auth.md) ------------------------------------------------

/// The test keys of `tests/fixtures/jwt` (README.md there).
fn jwt_key(name: &str) -> aws_lc_rs::signature::RsaKeyPair {
    let pem = std::fs::read_to_string(Path::new(REPO).join("tests/fixtures/jwt").join(name))
        .expect("test key");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM");
    aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key")
}

/// A JWS of `claims`, signed RS256 by `key` under `kid` (`alg` as given).
fn jwt_token(key: &str, alg: &str, claims: &serde_json::Value) -> String {
    let pair = jwt_key(key);
    let b64 = |v: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = serde_json::json!({ "alg": alg, "typ": "JWT", "kid": "dev" });
    let signed = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut sig = vec![0; pair.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &rng,
        signed.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    format!(
        "{signed}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

/// The dev fixture's test function behind `[https]`, one route validating JWTs and one
/// open.
fn jwt_project() -> crate::support::Project {
    let project = crate::support::Project::from_fixture("dev");
    project.with_config(
        r#"[stack]
name = "devjwt"

[https]
domain = "api.example.com"

[[functions]]
name = "api"
path = "functions/misbehave"

[[functions.routes]]
priority = 10
paths = ["/jwt/*"]
auth = { jwt = { issuer = "https://issuer.example.com", jwks_endpoint = "https://issuer.example.com/jwks.json", audiences = ["orders"] } }

[[functions.routes]]
priority = 20
paths = ["/open/*"]
"#,
    );
    project
}

#[test]
fn dev_validates_jwts_like_the_load_balancer() {
    let project = jwt_project();
    let keys = Path::new(REPO).join("tests/fixtures/jwt/keys.json");
    let keys = keys.to_string_lossy();
    let dev = Dev::start(&project.path().join("albkit.toml"), &["--jwks", &keys]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut c = serde_json::json!({
            "iss": "https://issuer.example.com", "sub": "svc", "aud": "orders",
            "exp": now + 300, "iat": now - 5,
        });
        change(&mut c);
        c
    };
    let send = |token: Option<&str>| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        request(dev.port, "GET", "/jwt/echo", &headers, b"")
    };

    // A valid token: the function gets the request, the token unchanged.
    let valid = jwt_token("signing.pem", "RS256", &claims(&|_| {}));
    let r = send(Some(&valid));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.event()["headers"]["authorization"],
        format!("Bearer {valid}")
    );
    // No token: the challenge without an error.
    let r = send(None);
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    // Every way a token fails: invalid_token.
    let failing = [
        (
            "another key",
            jwt_token("stranger.pem", "RS256", &claims(&|_| {})),
        ),
        (
            "another algorithm",
            jwt_token("signing.pem", "RS512", &claims(&|_| {})),
        ),
        (
            "another issuer",
            jwt_token(
                "signing.pem",
                "RS256",
                &claims(&|c| c["iss"] = "https://evil.example.com".into()),
            ),
        ),
        (
            "expired",
            jwt_token(
                "signing.pem",
                "RS256",
                &claims(&|c| c["exp"] = (now - 1).into()),
            ),
        ),
        (
            "not yet valid",
            jwt_token(
                "signing.pem",
                "RS256",
                &claims(&|c| c["nbf"] = (now + 300).into()),
            ),
        ),
        (
            "another audience",
            jwt_token(
                "signing.pem",
                "RS256",
                &claims(&|c| c["aud"] = "billing".into()),
            ),
        ),
        ("not a JWS", "not-a-token".to_string()),
    ];
    for (what, token) in &failing {
        let r = send(Some(token));
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\""),
            "{what}"
        );
    }
    assert!(dev.log_contains("invalid token: expired", Duration::from_secs(5)));
    // A route without authentication needs no token.
    assert_eq!(request(dev.port, "GET", "/open/echo", &[], b"").status, 200);
}

#[test]
fn dev_refuses_a_jwt_route_without_a_key_set() {
    let project = jwt_project();
    let config = project.path().join("albkit.toml");
    let start = |extra: &[&str]| {
        let mut cmd = crate::support::albkit_process();
        cmd.arg("-c")
            .arg(&config)
            .args(["dev", "--port", "0"])
            .args(extra);
        crate::support::run(cmd, Duration::from_secs(60))
    };
    let out = start(&[]);
    out.code_is(2);
    assert!(out.stderr.contains("rule 10 → api validates JWTs"), "{out}");
    assert!(out.stderr.contains("--jwks"), "{out}");
    project.write("keys.json", "{\"keys\": []}");
    let bad = project.path().join("keys.json");
    let out = start(&["--jwks", &bad.to_string_lossy()]);
    out.code_is(2);
    assert!(out.stderr.contains("no RSA signing key"), "{out}");
}

// ---- Cognito login (docs/auth.md) -------------------------------------------------

/// The dev fixture's test function behind `[https]`, on a route with a Cognito login.
fn login_project() -> crate::support::Project {
    let project = crate::support::Project::from_fixture("dev");
    project.with_config(
        r#"[stack]
name = "devlogin"

[https]
domain = "api.example.com"

[[functions]]
name = "api"
path = "functions/misbehave"

[[functions.routes]]
priority = 10
paths = ["/app/*"]
auth = { cognito = { user_pool_arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC", user_pool_client_id = "client1", user_pool_domain = "login" } }
"#,
    );
    project
}

#[test]
fn dev_refuses_an_identity_without_a_sub() {
    let project = login_project();
    let mut cmd = crate::support::albkit_process();
    cmd.arg("-c").arg(project.path().join("albkit.toml")).args([
        "dev",
        "--port",
        "0",
        "--identity",
        "email=alice@example.com",
    ]);
    let out = crate::support::run(cmd, Duration::from_secs(60));
    out.code_is(2);
    assert!(out.stderr.contains("is not an identity"), "{out}");
}

/// The request to `path` as the function received it behind a login route: its
/// `x-amzn-oidc-*` headers checked (a header the client made up replaced, the identity
/// alice, the claims token's signature verified with the public key `dev` printed); the
/// token's header and claims.
fn logged_in_as_alice(dev: &Dev, path: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let r = request(
        dev.port,
        "GET",
        path,
        &[("X-Amzn-Oidc-Identity", "mallory")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let headers = &r.event()["headers"];
    assert_eq!(headers["x-amzn-oidc-identity"], "alice");
    assert!(headers["x-amzn-oidc-accesstoken"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let token = headers["x-amzn-oidc-data"]
        .as_str()
        .expect("x-amzn-oidc-data");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let decode = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE.decode(p).expect("padded base64url")).expect("JSON")
    };
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["alg"], "ES256");
    assert_eq!(
        (claims["sub"].as_str(), claims["email"].as_str()),
        (Some("alice"), Some("alice@example.com"))
    );
    // The public key dev printed verifies the signature.
    let log = dev.log_text();
    let path = log
        .lines()
        .find_map(|l| l.split("public key in ").nth(1))
        .expect("the public key's path in dev's output");
    let pem = std::fs::read_to_string(path.trim()).expect("public key file");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = STANDARD.decode(b64).expect("PEM");
    // A P-256 SubjectPublicKeyInfo ends with the 65-byte uncompressed point.
    let point = &spki[spki.len() - 65..];
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        point,
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE.decode(parts[2]).expect("signature");
    assert!(key.verify(signed.as_bytes(), &signature).is_ok());
    (header, claims)
}

#[test]
fn dev_gives_a_cognito_route_the_identity_headers_with_a_verifiable_token() {
    let project = login_project();
    let dev = Dev::start(
        &project.path().join("albkit.toml"),
        &["--identity", "sub=alice,email=alice@example.com"],
    );
    let (header, _) = logged_in_as_alice(&dev, "/app/echo");
    assert_eq!(header["client"], "client1");
    assert_eq!(
        header["iss"],
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    );
    // A route without a login gets no such headers: the fixed 404 here, none matches.
    assert_eq!(request(dev.port, "GET", "/elsewhere", &[], b"").status, 404);
}

// ---- OIDC login (docs/auth.md) ----------------------------------------------------

#[test]
fn dev_gives_an_oidc_route_the_identity_headers_with_a_verifiable_token() {
    let project = crate::support::Project::from_fixture("dev");
    project.with_config(
        r#"[stack]
name = "devoidc"

[https]
domain = "api.example.com"

[[functions]]
name = "api"
path = "functions/misbehave"

[[functions.routes]]
priority = 10
paths = ["/app/*"]
auth = { oidc = { issuer = "https://login.example.com", authorization_endpoint = "https://login.example.com/authorize", token_endpoint = "https://login.example.com/token", user_info_endpoint = "https://login.example.com/userinfo", client_id = "app", client_secret = { secretsmanager = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-oidc-AbC" } } }
"#,
    );
    let dev = Dev::start(
        &project.path().join("albkit.toml"),
        &["--identity", "sub=alice,email=alice@example.com"],
    );
    let (header, _) = logged_in_as_alice(&dev, "/app/echo");
    // The token names the configured provider and client.
    assert_eq!(header["iss"], "https://login.example.com");
    assert_eq!(header["client"], "app");
    // A route without a login gets no such headers: the fixed 404 here, none matches.
    assert_eq!(request(dev.port, "GET", "/elsewhere", &[], b"").status, 404);
}

// ---- TLS and mutual TLS (docs/mtls.md) ---------------------------------------------

/// A test CA's PEM and client certificates it issued for `CN=<cn>,O=albkit tests`, one
/// valid for a day from each of `from`.
fn client_ca(cn: &str, from: &[time::OffsetDateTime]) -> (String, Vec<http::ClientCert>) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{cn} issuer"));
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let clients = from
        .iter()
        .map(|&from| {
            let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
            // Not rcgen's default name (a CN), so that O comes first in the DER.
            leaf.distinguished_name = rcgen::DistinguishedName::new();
            leaf.distinguished_name
                .push(rcgen::DnType::OrganizationName, "albkit tests");
            leaf.distinguished_name.push(rcgen::DnType::CommonName, cn);
            leaf.not_before = from;
            leaf.not_after = from + time::Duration::days(1);
            let key = rcgen::KeyPair::generate().expect("key");
            let cert = leaf.signed_by(&key, &issuer).expect("client certificate");
            http::ClientCert {
                chain: vec![cert.der().clone()],
                key: rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key"),
            }
        })
        .collect();
    (ca_pem, clients)
}

/// The server certificate `dev --tls` wrote, from the path it printed (on stderr, which
/// may be read after the port on stdout).
fn dev_certificate(dev: &Dev) -> String {
    assert!(
        dev.log_contains("self-signed certificate for", Duration::from_secs(30)),
        "{}",
        dev.log_text()
    );
    let log = dev.log_text();
    let path = log
        .lines()
        .find_map(|l| l.split("self-signed certificate for ").nth(1))
        .and_then(|l| l.split(", in ").nth(1))
        .and_then(|l| l.split(" (trust it").next())
        .unwrap_or_else(|| panic!("no certificate path in dev's output:\n{log}"));
    std::fs::read_to_string(path).expect("the server certificate")
}

#[test]
fn dev_tls_verifies_client_certificates_and_passes_their_headers_on() {
    let now = time::OffsetDateTime::now_utc();
    let hour_ago = now - time::Duration::hours(1);
    let (ca, mut clients) = client_ca(
        "alice.client",
        &[hour_ago, hour_ago, now - time::Duration::days(30)],
    );
    let (expired, redirected, alice) = (
        clients.pop().expect("3"),
        clients.pop().expect("2"),
        clients.pop().expect("1"),
    );
    let (_, mut strangers) = client_ca("stranger", &[hour_ago]);
    let stranger = strangers.pop().expect("1");
    let project = crate::support::Project::from_fixture("dev");
    project.write("certs/ca.pem", &ca).with_config(
        r#"[stack]
name = "devmtls"

[https]
domain = "api.example.com"
mtls = { ca_bundle = "certs/ca.pem" }

[[functions]]
name = "api"
path = "functions/misbehave"

[[functions.routes]]
priority = 10
paths = ["/app/*"]

[[routes]]
priority = 20
paths = ["/old"]
redirect = { to = "/app/echo", status = 301 }
"#,
    );
    let dev = Dev::start(&project.path().join("albkit.toml"), &["--tls"]);
    let server = dev_certificate(&dev);

    // A verified client: the function gets its certificate's headers, not the forged one.
    let forged = [("X-Amzn-Mtls-Clientcert-Subject", "CN=admin")];
    let r = http::get_tls(dev.port, &server, Some(alice), "/app/echo", &forged)
        .expect("a verified client gets through");
    let h = &r.event()["headers"];
    assert_eq!(
        h["x-amzn-mtls-clientcert-subject"],
        "CN=alice.client,O=albkit tests"
    );
    assert_eq!(h["x-amzn-mtls-clientcert-issuer"], "CN=alice.client issuer");
    let serial = h["x-amzn-mtls-clientcert-serial-number"]
        .as_str()
        .expect("serial");
    assert!(
        !serial.is_empty() && serial.chars().all(|c| matches!(c, '0'..='9' | 'A'..='F')),
        "{serial}"
    );
    let validity = h["x-amzn-mtls-clientcert-validity"]
        .as_str()
        .expect("validity");
    assert!(
        validity.starts_with("NotBefore=") && validity.contains("Z;NotAfter="),
        "{validity}"
    );
    let leaf = h["x-amzn-mtls-clientcert-leaf"].as_str().expect("leaf");
    assert!(
        leaf.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
        "{leaf}"
    );
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-port"], dev.port.to_string());

    // The load balancer's own answers go over TLS too, redirects keeping `https`.
    let r = http::get_tls(dev.port, &server, Some(redirected), "/old", &[]).expect("redirect");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("https://localhost:{}/app/echo", dev.port).as_str())
    );

    // No certificate, another CA's, or an expired one: the handshake fails.
    for (why, client) in [
        ("no certificate", None),
        ("another CA's certificate", Some(stranger)),
        ("an expired certificate", Some(expired)),
    ] {
        let refused = http::get_tls(dev.port, &server, client, "/app/echo", &[]);
        assert!(refused.is_err(), "{why}: {refused:?}");
    }
    let log = dev.log_text();
    assert!(log.contains("TLS handshake with 127.0.0.1:"), "{log}");
}

#[test]
fn dev_refuses_tls_without_an_https_section() {
    let project = crate::support::Project::from_fixture("dev");
    let mut cmd = crate::support::albkit_process();
    cmd.arg("-c")
        .arg(project.path().join("albkit.toml"))
        .args(["dev", "--port", "0", "--tls"]);
    let out = crate::support::run(cmd, Duration::from_secs(60));
    out.code_is(2);
    assert!(out.stderr.contains("has no [https] section"), "{out}");
}
