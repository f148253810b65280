//! Synthetic ALB ↔ Lambda messages, shaped exactly like a real Application Load Balancer's
//! (see `ALB-LAMBDA.md`, sections 1–3): the request event albkit sends with `invoke` and
//! the deploy smoke check, and the reading of the function's answer into the HTTP
//! response the ALB would give the client. Pure: no I/O, no clock, no randomness (the
//! caller passes the trace id).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

/// The user agent of ALB health checks.
pub const HEALTH_CHECKER_AGENT: &str = "ELB-HealthChecker/2.0";

/// A request as a client would send it to the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and optional query string, as sent (`/x?a=1&b=%20`).
    pub target: String,
    /// Headers in the order sent; names in any case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client_ip: String,
    pub port: u16,
    pub proto: &'static str,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            client_ip: "127.0.0.1".into(),
            port: 80,
            proto: "http",
        }
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// `key=value` pairs of the query string, in order, **not** URL-decoded (as the ALB
    /// sends them). A key without `=` has the value `""`.
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect()
    }
}

/// `Root=1-<8 hex epoch seconds>-<24 hex>`, the ALB's trace id format.
pub fn trace_id(epoch_seconds: u64, random: [u8; 12]) -> String {
    format!(
        "Root=1-{:08x}-{}",
        epoch_seconds as u32,
        hex::encode(random)
    )
}

/// Whether the ALB passes a body of this request as text (`false` → base64).
fn body_is_text(headers: &[(String, String)]) -> bool {
    let get = |name: &str| {
        headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    if get("content-encoding").is_some() {
        return false;
    }
    let Some(ct) = get("content-type") else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or_default().trim().to_string();
    mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// The event a real ALB would send for `req` to a target group with the given
/// `lambda.multi_value_headers.enabled` setting.
pub fn request_event(
    target_group_arn: &str,
    req: &Request,
    multi_value: bool,
    trace_id: &str,
) -> Value {
    // Headers: lowercased names, the client's first, then what the ALB adds.
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| k != "x-amzn-trace-id" && !k.starts_with("x-forwarded-"))
        .collect();
    let client_trace = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-trace-id"))
        .map(|(_, v)| v.clone());
    let trace = match client_trace {
        // The client sent a Root: the ALB keeps it and prepends its own as `Self=`.
        Some(sent) if sent.contains("Root=") => {
            format!("Self={};{sent}", trace_id.trim_start_matches("Root="))
        }
        _ => trace_id.to_string(),
    };
    let forwarded_for = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-forwarded-for"))
        .map(|(_, v)| format!("{v}, {}", req.client_ip))
        .unwrap_or_else(|| req.client_ip.clone());
    headers.push(("x-amzn-trace-id".into(), trace));
    headers.push(("x-forwarded-for".into(), forwarded_for));
    headers.push(("x-forwarded-port".into(), req.port.to_string()));
    headers.push(("x-forwarded-proto".into(), req.proto.to_string()));

    let (body, base64) = if req.body.is_empty() {
        (String::new(), false)
    } else if body_is_text(&req.headers) {
        match String::from_utf8(req.body.clone()) {
            Ok(text) => (text, false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(&req.body),
                true,
            ),
        }
    } else {
        (
            base64::engine::general_purpose::STANDARD.encode(&req.body),
            true,
        )
    };
    let query = req.query();
    let mut event = Map::new();
    event.insert(
        "requestContext".into(),
        json!({ "elb": { "targetGroupArn": target_group_arn } }),
    );
    event.insert("httpMethod".into(), json!(req.method));
    event.insert("path".into(), json!(req.path()));
    if multi_value {
        event.insert("multiValueQueryStringParameters".into(), multi(&query));
        event.insert("multiValueHeaders".into(), multi(&headers));
    } else {
        event.insert("queryStringParameters".into(), single(&query));
        event.insert("headers".into(), single(&headers));
    }
    event.insert("body".into(), json!(body));
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

/// Single-value form: a repeated key keeps its last value.
fn single(pairs: &[(String, String)]) -> Value {
    let map: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    json!(map)
}

/// Multi-value form: every value, in the order sent.
fn multi(pairs: &[(String, String)]) -> Value {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    json!(map)
}

/// The event of an ALB health check of `path`.
pub fn health_check_event(target_group_arn: &str, path: &str, multi_value: bool) -> Value {
    let mut event = Map::new();
    event.insert(
        "requestContext".into(),
        json!({ "elb": { "targetGroupArn": target_group_arn } }),
    );
    event.insert("httpMethod".into(), json!("GET"));
    event.insert("path".into(), json!(path));
    if multi_value {
        event.insert("multiValueQueryStringParameters".into(), json!({}));
        event.insert(
            "multiValueHeaders".into(),
            json!({ "user-agent": [HEALTH_CHECKER_AGENT] }),
        );
    } else {
        event.insert("queryStringParameters".into(), json!({}));
        event.insert(
            "headers".into(),
            json!({ "user-agent": HEALTH_CHECKER_AGENT }),
        );
    }
    event.insert("body".into(), json!(""));
    event.insert("isBase64Encoded".into(), json!(false));
    Value::Object(event)
}

/// The HTTP response a client gets from the ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub status_description: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why the ALB would answer 502 instead of the function's response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the function's response is not a JSON object")]
    NotJson,
    #[error("the function's response has no integer statusCode")]
    NoStatus,
    #[error("the function's response has a null field: {0}")]
    Null(String),
    #[error("header {0} is not a JSON string")]
    HeaderNotString(String),
    #[error("the body is marked base64 but is not valid base64 (without line breaks)")]
    BadBase64,
}

impl Response {
    /// The response the ALB sends when it cannot use the function's answer.
    pub fn bad_gateway() -> Self {
        Self {
            status: 502,
            status_description: Some("502 Bad Gateway".into()),
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the function's answer the way the ALB does: `headers` when multi-value is off,
/// `multiValueHeaders` when on (the other is ignored), no Content-Type →
/// `application/octet-stream`, hop-by-hop headers dropped.
pub fn parse_response(payload: &[u8], multi_value: bool) -> Result<Response, ResponseError> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| ResponseError::NotJson)?;
    let obj = value.as_object().ok_or(ResponseError::NotJson)?;
    if let Some((k, _)) = obj.iter().find(|(_, v)| v.is_null()) {
        return Err(ResponseError::Null(k.clone()));
    }
    let status = obj
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or(ResponseError::NoStatus)?;
    let mut headers = Vec::new();
    if multi_value {
        if let Some(map) = obj.get("multiValueHeaders").and_then(Value::as_object) {
            for (k, vs) in map {
                for v in vs.as_array().map(Vec::as_slice).unwrap_or_default() {
                    let v = v
                        .as_str()
                        .ok_or_else(|| ResponseError::HeaderNotString(k.clone()))?;
                    headers.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
        }
    } else if let Some(map) = obj.get("headers").and_then(Value::as_object) {
        for (k, v) in map {
            let v = v
                .as_str()
                .ok_or_else(|| ResponseError::HeaderNotString(k.clone()))?;
            headers.push((k.to_ascii_lowercase(), v.to_string()));
        }
    }
    headers.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "connection" | "transfer-encoding" | "content-length"
        )
    });
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/octet-stream".into()));
    }
    let text = obj.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if obj.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| ResponseError::BadBase64)?
    } else {
        text.as_bytes().to_vec()
    };
    Ok(Response {
        status,
        status_description: obj
            .get("statusDescription")
            .and_then(Value::as_str)
            .map(str::to_string),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s-f/abc";
    const TRACE: &str = "Root=1-5f84c7a9-0123456789abcdef01234567";

    #[test]
    fn single_value_event_has_only_the_alb_fields() {
        let mut req = Request::new("get", "/hello?x=foo%3Dbar&y=+&x=last");
        req.headers.push(("Host".into(), "example.com:8080".into()));
        req.headers.push(("Accept".into(), "a".into()));
        req.headers.push(("ACCEPT".into(), "b".into()));
        let e = request_event(TG, &req, false, TRACE);
        let keys: Vec<&str> = e
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "body",
                "headers",
                "httpMethod",
                "isBase64Encoded",
                "path",
                "queryStringParameters",
                "requestContext"
            ]
        );
        assert_eq!(e["requestContext"], json!({"elb": {"targetGroupArn": TG}}));
        assert_eq!(e["httpMethod"], "GET");
        assert_eq!(e["path"], "/hello");
        // Not decoded; last value wins.
        assert_eq!(e["queryStringParameters"], json!({"x": "last", "y": "+"}));
        assert_eq!(e["headers"]["host"], "example.com:8080");
        assert_eq!(e["headers"]["accept"], "b");
        assert_eq!(e["headers"]["x-amzn-trace-id"], TRACE);
        assert_eq!(e["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(e["headers"]["x-forwarded-port"], "80");
        assert_eq!(e["headers"]["x-forwarded-proto"], "http");
        assert_eq!(e["body"], "");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn multi_value_event_keeps_every_value_in_order_and_no_single_maps() {
        let mut req = Request::new("GET", "/a?k=1&k=2");
        req.headers.push(("X-A".into(), "1".into()));
        req.headers.push(("x-a".into(), "2".into()));
        let e = request_event(TG, &req, true, TRACE);
        assert!(e.get("headers").is_none());
        assert!(e.get("queryStringParameters").is_none());
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"k": ["1", "2"]})
        );
        assert_eq!(e["multiValueHeaders"]["x-a"], json!(["1", "2"]));
        assert_eq!(e["multiValueHeaders"]["x-forwarded-proto"], json!(["http"]));
    }

    #[test]
    fn no_query_string_is_an_empty_map() {
        let e = request_event(TG, &Request::new("GET", "/"), false, TRACE);
        assert_eq!(e["queryStringParameters"], json!({}));
    }

    #[test]
    fn body_encoding_follows_the_content_type_rules() {
        let with = |ct: Option<&str>, enc: Option<&str>| {
            let mut r = Request::new("POST", "/");
            r.body = b"{\"a\":1}".to_vec();
            if let Some(ct) = ct {
                r.headers.push(("Content-Type".into(), ct.into()));
            }
            if let Some(enc) = enc {
                r.headers.push(("Content-Encoding".into(), enc.into()));
            }
            let e = request_event(TG, &r, false, TRACE);
            (
                e["body"].as_str().unwrap_or_default().to_string(),
                e["isBase64Encoded"].clone(),
            )
        };
        assert_eq!(
            with(Some("application/json; charset=utf-8"), None),
            ("{\"a\":1}".to_string(), json!(false))
        );
        assert_eq!(with(Some("text/plain"), None).1, json!(false));
        assert_eq!(with(None, None), ("eyJhIjoxfQ==".to_string(), json!(true)));
        assert_eq!(with(Some("application/octet-stream"), None).1, json!(true));
        assert_eq!(with(Some("application/json"), Some("gzip")).1, json!(true));
    }

    #[test]
    fn client_trace_and_forwarded_for_are_extended() {
        let mut r = Request::new("GET", "/");
        r.headers.push((
            "X-Amzn-Trace-Id".into(),
            "Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa".into(),
        ));
        r.headers
            .push(("X-Forwarded-For".into(), "10.0.0.1".into()));
        let e = request_event(TG, &r, false, TRACE);
        assert_eq!(
            e["headers"]["x-amzn-trace-id"],
            "Self=1-5f84c7a9-0123456789abcdef01234567;Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa"
        );
        assert_eq!(e["headers"]["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    }

    #[test]
    fn trace_id_format() {
        assert_eq!(
            trace_id(0x5f84c7a9, [0xab; 12]),
            "Root=1-5f84c7a9-abababababababababababab"
        );
    }

    #[test]
    fn health_check_event_matches_the_guide() {
        let e = health_check_event(TG, "/health", false);
        assert_eq!(
            e,
            json!({
                "requestContext": {"elb": {"targetGroupArn": TG}},
                "httpMethod": "GET",
                "path": "/health",
                "queryStringParameters": {},
                "headers": {"user-agent": "ELB-HealthChecker/2.0"},
                "body": "",
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn responses_are_read_like_the_alb() {
        let r = parse_response(
            br#"{"statusCode":200,"headers":{"Content-Type":"text/plain","Connection":"close"},"multiValueHeaders":{"x":["y"]},"body":"hi"}"#,
            false,
        )
        .expect("valid");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("connection"), None);
        assert_eq!(r.header("x"), None);
        assert_eq!(r.body, b"hi");
        // Content-Type in the wrong field is lost.
        let r = parse_response(
            br#"{"statusCode":200,"headers":{"content-type":"text/plain"}}"#,
            true,
        )
        .expect("valid");
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.body, b"");
        let r = parse_response(
            br#"{"statusCode":201,"body":"aGk=","isBase64Encoded":true}"#,
            false,
        )
        .expect("valid");
        assert_eq!(r.body, b"hi");
    }

    #[test]
    fn invalid_responses_are_502() {
        assert_eq!(parse_response(b"nope", false), Err(ResponseError::NotJson));
        assert_eq!(
            parse_response(br#"{"body":"x"}"#, false),
            Err(ResponseError::NoStatus)
        );
        assert_eq!(
            parse_response(br#"{"statusCode":200,"body":null}"#, false),
            Err(ResponseError::Null("body".into()))
        );
        assert_eq!(
            parse_response(br#"{"statusCode":200,"headers":{"x":1}}"#, false),
            Err(ResponseError::HeaderNotString("x".into()))
        );
        assert_eq!(
            parse_response(
                br#"{"statusCode":200,"body":"aGk=\naGk=","isBase64Encoded":true}"#,
                false
            ),
            Err(ResponseError::BadBase64)
        );
    }
}
