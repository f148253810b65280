//! Conformance: for each fixture in `tests/fixtures/alb/` (albkit's own files, each
//! mirroring a public ALB fixture named in its `_mirrors` field), the event albkit's
//! emulator builds for the equivalent HTTP request equals the fixture's event, field by
//! field. The trace id and client address are inputs, so nothing needs masking.

use std::path::Path;

use albkit::alb::event::{build_event, health_check_event, Connection, EventInput, HttpRequest};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alb")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check(name: &str) {
    let f = load(name);
    let r = &f["request"];
    let target = r["target"].as_str().expect("target");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let request = HttpRequest {
        method: r["method"].as_str().expect("method").to_string(),
        path,
        query,
        headers: r["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().expect("name").to_string(),
                    h[1].as_str().expect("value").as_bytes().to_vec(),
                )
            })
            .collect(),
        body: r["body"].as_str().unwrap_or("").as_bytes().to_vec(),
    };
    let connection = Connection {
        client_ip: r["client_ip"].as_str().expect("client_ip").to_string(),
        listener_port: r["listener_port"].as_u64().expect("port") as u16,
        proto: "http",
    };
    let expected = &f["event"];
    let event = build_event(&EventInput {
        request: &request,
        connection: &connection,
        target_group_arn: expected["requestContext"]["elb"]["targetGroupArn"]
            .as_str()
            .expect("arn"),
        multi_value: f["multi_value"].as_bool().expect("multi_value"),
        trace_header: r["trace"].as_str().expect("trace"),
    });
    let (got, want) = (
        event.as_object().expect("object"),
        expected.as_object().expect("object"),
    );
    for (key, value) in want {
        assert_eq!(got.get(key), Some(value), "{name}: field {key}");
    }
    for key in got.keys() {
        assert!(want.contains_key(key), "{name}: unexpected field {key}");
    }
}

#[test]
fn headers_only() {
    check("headers-only.json");
}

#[test]
fn multivalue_headers() {
    check("multivalue-headers.json");
}

#[test]
fn multivalue_query() {
    check("multivalue-query.json");
}

#[test]
fn path_trailing_slash() {
    check("path-trailing-slash.json");
}

#[test]
fn encoded_query() {
    check("encoded-query.json");
}

#[test]
fn no_host() {
    check("no-host.json");
}

#[test]
fn health_check() {
    let f = load("health-check.json");
    let event = health_check_event(
        f["health_check_path"].as_str().expect("path"),
        f["target_group_arn"].as_str().expect("arn"),
        false,
    );
    assert_eq!(event, f["event"]);
}
