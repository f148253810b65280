//! PURE mapping between HTTP and the ALB's Lambda event, as a real ALB does it
//! (docs/alb-lambda.md §1, §3, §4): an HTTP request becomes the event JSON of its target
//! group, the function's response JSON becomes the HTTP response (or a failure status).
//! No I/O: the caller hands in what it read and writes out what it gets back.
//!
//! The one implementation of these rules in albkit: `albkit dev` (the local ALB),
//! `albkit invoke` (a synthetic request to the deployed or the local function) and the
//! smoke check of `albkit deploy` (`model::lifecycle`) all use it.

use base64::Engine;
use serde_json::{Map, Value};

use crate::model::headers::ResponseHeaders;
use crate::model::spec::{FixedResponse, Redirect};

/// 1 MB: the ALB's limit for a request body and for a Lambda response.
pub const MAX_BODY: usize = 1024 * 1024;
/// The request line or one header over 16 KB → 400.
pub const MAX_HEADER_LINE: usize = 16 * 1024;
/// All headers together over 64 KB → 400.
pub const MAX_HEADERS_TOTAL: usize = 64 * 1024;
/// What the ALB's health checker sends as its user agent.
pub const HEALTH_CHECK_USER_AGENT: &str = "ELB-HealthChecker/2.0";

/// What the server read from the client, before any ALB processing.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The path as received (never decoded).
    pub path: String,
    /// The raw query string, without `?`, never decoded.
    pub query: Option<String>,
    /// Header (name, value) pairs in the order the client sent them, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request for `target`: the path with an optional `?query`, both kept as given
    /// (never decoded); no headers, no body.
    pub fn new(method: &str, target: &str) -> HttpRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        HttpRequest {
            method: method.to_string(),
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// Where the request came from and arrived, for the `x-forwarded-*` headers.
#[derive(Debug, Clone)]
pub struct Connection {
    pub client_ip: String,
    pub listener_port: u16,
    pub proto: &'static str,
}

/// A status the ALB answers itself, without (or instead of) the function's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    /// Why, for the access log (never sent to the client).
    pub reason: String,
}

impl Failure {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Failure {
            status,
            reason: reason.into(),
        }
    }
}

/// The HTTP response the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// (lowercase name, value) pairs, `content-length` included.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Sets header `name` (lowercase) to `value`, in place of every value it had, as
    /// a listener's inserted response headers do.
    pub fn insert_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_string(), value.to_string()));
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a [u8]> {
    req.headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The checks the ALB makes before invoking anything (§1, the requests refused without invoking).
pub fn check_request(req: &HttpRequest) -> Result<(), Failure> {
    let request_line = req.method.len()
        + 1
        + req.path.len()
        + req.query.as_ref().map_or(0, |q| q.len() + 1)
        + " HTTP/1.1".len();
    if request_line > MAX_HEADER_LINE {
        return Err(Failure::new(400, "request line over 16 KB"));
    }
    let mut total = 0usize;
    for (name, value) in &req.headers {
        let line = name.len() + 2 + value.len();
        if line > MAX_HEADER_LINE {
            return Err(Failure::new(400, format!("header {name} over 16 KB")));
        }
        total += line + 2;
    }
    if total > MAX_HEADERS_TOTAL {
        return Err(Failure::new(400, "headers over 64 KB in total"));
    }
    if header(req, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Err(Failure::new(
            400,
            "WebSocket upgrade to a Lambda target group",
        ));
    }
    if req.method == "TRACE" {
        return Err(Failure::new(405, "TRACE is not allowed"));
    }
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            let v = String::from_utf8_lossy(value).to_ascii_lowercase();
            if v.split(',')
                .any(|c| !matches!(c.trim(), "chunked" | "identity"))
            {
                return Err(Failure::new(501, format!("transfer-encoding {v}")));
            }
        }
    }
    if req.body.len() > MAX_BODY {
        return Err(Failure::new(413, "request body over 1 MB"));
    }
    Ok(())
}

/// A new trace id root: `1-<8 hex epoch seconds>-<24 hex>`.
pub fn new_trace_root(epoch_seconds: u64, random: u128) -> String {
    format!(
        "1-{:08x}-{:024x}",
        epoch_seconds as u32,
        random & ((1u128 << 96) - 1)
    )
}

/// The `x-amzn-trace-id` the ALB sends on, and the Root it carries. A client-sent Root
/// is kept; the ALB prepends `Self=<its own id>;` to the client's value.
pub fn trace_header(client: Option<&str>, own: &str) -> (String, String) {
    if let Some(c) = client {
        if let Some(root) = c
            .split(';')
            .find_map(|p| p.trim().strip_prefix("Root="))
            .filter(|r| !r.is_empty())
        {
            return (format!("Self={own};{c}"), root.to_string());
        }
    }
    (format!("Root={own}"), own.to_string())
}

/// The trace of one request, from the ALB's own new Root `own` (see [`new_trace_root`])
/// and the client's `x-amzn-trace-id`, if any: the header value to send in the event and
/// the Root the Runtime API hands the function (see [`trace_header`]).
pub fn request_trace(req: &HttpRequest, own: &str) -> (String, String) {
    let client = header(req, "x-amzn-trace-id").and_then(|v| std::str::from_utf8(v).ok());
    trace_header(client, own)
}

/// Whether the ALB sends the body as text (`isBase64Encoded: false`) (§1 body rules).
pub fn body_is_text(req: &HttpRequest) -> bool {
    if header(req, "content-encoding").is_some() {
        return false;
    }
    let Some(ct) = header(req, "content-type") else {
        return false;
    };
    let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// `a=1&b=x%3Dy&a=2` → pairs in order, nothing decoded. A part without `=` is a key
/// with an empty value; empty parts (`a=1&&b=2`) are skipped (*unverified*: the likely
/// ALB behaviour, it does not invent empty keys).
pub fn query_pairs(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// The event the ALB sends to the target group's function.
pub struct EventInput<'a> {
    pub request: &'a HttpRequest,
    pub connection: &'a Connection,
    pub target_group_arn: &'a str,
    pub multi_value: bool,
    /// The full `x-amzn-trace-id` value to send (see [`trace_header`]).
    pub trace_header: &'a str,
}

/// The event the ALB sends for `input.request` to the target group's function (§1).
pub fn build_event(input: &EventInput) -> Value {
    let req = input.request;
    let headers = event_headers(req, input.connection, input.trace_header);
    let query = query_pairs(req.query.as_deref().unwrap_or(""));
    let (body, b64) = event_body(req);
    let fields = EventFields {
        target_group_arn: input.target_group_arn,
        method: &req.method,
        path: &req.path,
        multi_value: input.multi_value,
    };
    fields.into_event(query, headers, body, b64)
}

/// The request's headers as the event carries them: lowercased names, values as sent
/// (lossy only for non-UTF-8 bytes), plus the headers the ALB adds. The client's own
/// x-amzn-trace-id / x-forwarded-* are replaced (x-forwarded-for is extended).
fn event_headers(
    req: &HttpRequest,
    conn: &Connection,
    trace_header: &str,
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::with_capacity(req.headers.len() + 4);
    let mut forwarded_for: Option<String> = None;
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        match name.as_str() {
            "x-forwarded-for" => {
                forwarded_for = Some(match forwarded_for {
                    Some(prev) => format!("{prev}, {value}"),
                    None => value,
                });
            }
            "x-amzn-trace-id" | "x-forwarded-port" | "x-forwarded-proto" => {}
            _ => headers.push((name, value)),
        }
    }
    headers.push(("x-amzn-trace-id".into(), trace_header.to_string()));
    headers.push((
        "x-forwarded-for".into(),
        match forwarded_for {
            Some(prev) => format!("{prev}, {}", conn.client_ip),
            None => conn.client_ip.clone(),
        },
    ));
    headers.push(("x-forwarded-port".into(), conn.listener_port.to_string()));
    headers.push(("x-forwarded-proto".into(), conn.proto.to_string()));
    headers
}

/// The event's `body` and `isBase64Encoded` (§1 body rules).
fn event_body(req: &HttpRequest) -> (String, bool) {
    if req.body.is_empty() {
        return (String::new(), false);
    }
    if body_is_text(req) {
        // *unverified*: a "text" body that is not UTF-8 cannot go into a JSON string as
        // is; base64 is what a real ALB most likely falls back to.
        if let Ok(s) = String::from_utf8(req.body.clone()) {
            return (s, false);
        }
    }
    let base64 = base64::engine::general_purpose::STANDARD.encode(&req.body);
    (base64, true)
}

/// What every event carries besides its query, headers and body.
struct EventFields<'a> {
    target_group_arn: &'a str,
    method: &'a str,
    path: &'a str,
    multi_value: bool,
}

impl EventFields<'_> {
    /// The event JSON, its fields in the order the ALB sends them; the query and the
    /// headers in the single- or the multi-value form (§1).
    fn into_event(
        self,
        query: Vec<(&str, &str)>,
        headers: Vec<(String, String)>,
        body: String,
        b64: bool,
    ) -> Value {
        let mut event = Map::new();
        event.insert(
            "requestContext".into(),
            serde_json::json!({ "elb": { "targetGroupArn": self.target_group_arn } }),
        );
        event.insert("httpMethod".into(), Value::String(self.method.to_string()));
        event.insert("path".into(), Value::String(self.path.to_string()));
        let (query_field, headers_field) = if self.multi_value {
            ("multiValueQueryStringParameters", "multiValueHeaders")
        } else {
            ("queryStringParameters", "headers")
        };
        let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        event.insert(query_field.into(), params(query, self.multi_value));
        event.insert(headers_field.into(), params(headers, self.multi_value));
        event.insert("body".into(), Value::String(body));
        event.insert("isBase64Encoded".into(), Value::Bool(b64));
        Value::Object(event)
    }
}

/// The query or the header map of an event: each name with the list of its values in
/// the multi-value form, with its last value in the other.
fn params<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, multi_value: bool) -> Value {
    let mut map = Map::new();
    for (name, value) in pairs {
        let value = Value::String(value.to_string());
        if !multi_value {
            map.insert(name.to_string(), value);
        } else if let Value::Array(list) = map.entry(name).or_insert(Value::Array(Vec::new())) {
            list.push(value);
        }
    }
    Value::Object(map)
}

/// The health-check event (§2).
pub fn health_check_event(path: &str, target_group_arn: &str, multi_value: bool) -> Value {
    let fields = EventFields {
        target_group_arn,
        method: "GET",
        path,
        multi_value,
    };
    let headers = vec![("user-agent".into(), HEALTH_CHECK_USER_AGENT.into())];
    fields.into_event(Vec::new(), headers, String::new(), false)
}

/// Headers the ALB never passes from the function to the client (it sets
/// `Content-Length` itself).
fn is_dropped_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "transfer-encoding"
            | "keep-alive"
            | "proxy-connection"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-length"
    )
}

/// The function's response payload → the client's response (§3), or 502.
/// `date` is the `Date` header value to add (the caller formats the clock).
pub fn map_response(
    payload: &[u8],
    multi_value: bool,
    date: &str,
) -> Result<HttpResponse, Failure> {
    let obj = response_object(payload)?;
    let status = status_code(&obj)?;
    let mut headers = response_headers(&obj, multi_value)?;
    let body = response_body(&obj)?;
    if headers.iter().all(|(n, _)| n != "content-type") {
        headers.push(("content-type".into(), "application/octet-stream".into()));
    }
    headers.push(("server".into(), "awselb/2.0".into()));
    headers.push(("date".into(), date.to_string()));
    headers.push(("content-length".into(), body.len().to_string()));
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A response the ALB cannot use: 502 (§4).
fn bad(why: String) -> Failure {
    Failure::new(502, why)
}

/// The payload as a JSON object: at most 1 MB, valid JSON, no `null` field (§3).
fn response_object(payload: &[u8]) -> Result<Map<String, Value>, Failure> {
    if payload.len() > MAX_BODY {
        return Err(bad(format!(
            "function response is {} bytes, over the 1 MB limit",
            payload.len()
        )));
    }
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("function response is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(bad("function response is not a JSON object".into()));
    };
    if let Some((k, _)) = obj.iter().find(|(_, v)| v.is_null()) {
        return Err(bad(format!("function response field `{k}` is null")));
    }
    Ok(obj)
}

/// The required `statusCode`, an HTTP status.
fn status_code(obj: &Map<String, Value>) -> Result<u16, Failure> {
    match obj.get("statusCode") {
        None => Err(bad("function response has no statusCode".into())),
        Some(v) => v
            .as_u64()
            .filter(|s| (100..=599).contains(s))
            .map(|s| s as u16)
            .ok_or_else(|| bad(format!("statusCode {v} is not an HTTP status"))),
    }
}

/// The headers the client gets from the function: from `multiValueHeaders` or from
/// `headers` as `multi_value` says (the other form is ignored, whatever it holds),
/// lowercased, without the ones the ALB drops or sets itself.
fn response_headers(
    obj: &Map<String, Value>,
    multi_value: bool,
) -> Result<Vec<(String, String)>, Failure> {
    let field = if multi_value {
        "multiValueHeaders"
    } else {
        "headers"
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    let map = match obj.get(field) {
        None => return Ok(headers),
        Some(Value::Object(map)) => map,
        Some(v) => return Err(bad(format!("{field} is not an object: {v}"))),
    };
    for (name, v) in map {
        let name = name.to_ascii_lowercase();
        let values = header_values(&name, v, multi_value)?;
        if is_dropped_header(&name) || name == "server" || name == "date" {
            continue;
        }
        for value in values {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                return Err(bad(format!("header {name} is not a valid HTTP header")));
            }
            headers.push((name.clone(), value.to_string()));
        }
    }
    Ok(headers)
}

/// The values of header `name`: a list of strings in the multi-value form, one string
/// in the other.
fn header_values<'a>(name: &str, v: &'a Value, multi_value: bool) -> Result<Vec<&'a str>, Failure> {
    let string = |x: &'a Value| {
        x.as_str()
            .ok_or_else(|| bad(format!("header {name} has a non-string value {x}")))
    };
    match v {
        Value::Array(list) if multi_value => list.iter().map(string).collect(),
        _ if multi_value => Err(bad(format!("multiValueHeaders.{name} is not a list"))),
        _ => Ok(vec![string(v)?]),
    }
}

/// The body the client gets: `body` (missing means empty), decoded when
/// `isBase64Encoded` says so.
fn response_body(obj: &Map<String, Value>) -> Result<Vec<u8>, Failure> {
    let b64 = match obj.get("isBase64Encoded") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(bad(format!("isBase64Encoded is not a boolean: {v}"))),
    };
    match obj.get("body") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if b64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| bad(format!("body is not valid base64: {e}"))),
        Some(Value::String(s)) => Ok(s.clone().into_bytes()),
        Some(v) => Err(bad(format!("body is not a string: {v}"))),
    }
}

/// The ALB's own error page (502, 504, …): a small HTML page.
pub fn error_page(status: u16, date: &str) -> HttpResponse {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes();
    alb_answer(status, "text/html", body, date)
}

/// The listener's default action as albkit deploys it: fixed 404 JSON.
pub fn not_found(date: &str) -> HttpResponse {
    let body = crate::model::stack::NOT_FOUND_BODY.as_bytes().to_vec();
    alb_answer(404, "application/json", body, date)
}

/// A `fixed-response` rule's answer (docs/alb-lambda.md §5, §11). A 204 carries no
/// body, so neither `Content-Type` nor `Content-Length`.
pub fn fixed(r: &FixedResponse, date: &str) -> HttpResponse {
    let mut out = alb_answer(r.status, &r.content_type, r.body.clone().into_bytes(), date);
    if r.status == 204 {
        out.headers
            .retain(|(n, _)| n != "content-type" && n != "content-length");
    }
    out
}

/// What a redirect's placeholders stand for: the request as the listener received it.
#[derive(Debug, Clone)]
pub struct RedirectFrom<'a> {
    /// `http` or `https`.
    pub protocol: &'a str,
    /// The `Host` header without its port.
    pub host: &'a str,
    /// The listener's port.
    pub port: u16,
    pub path: &'a str,
    /// Without `?`; empty when the request has none.
    pub query: &'a str,
}

/// The `Location` of a redirect rule for a request (docs/alb-lambda.md §12): each part
/// with its placeholders replaced (`#{path}` without its leading `/`), as
/// `protocol://host:port/path`, then `?query` unless the query is empty.
pub fn redirect_location(r: &Redirect, from: &RedirectFrom<'_>) -> String {
    let port = from.port.to_string();
    let fill = |part: &str| {
        part.replace("#{protocol}", from.protocol)
            .replace("#{host}", from.host)
            .replace("#{port}", &port)
            .replace("#{path}", from.path.strip_prefix('/').unwrap_or(from.path))
            .replace("#{query}", from.query)
    };
    let mut location = format!(
        "{}://{}:{}{}",
        fill(&r.protocol).to_ascii_lowercase(),
        fill(&r.host),
        fill(&r.port),
        fill(&r.path)
    );
    let query = fill(&r.query);
    if !query.is_empty() {
        location.push('?');
        location.push_str(&query);
    }
    location
}

/// A redirect rule's answer: its status, `Location`, and the small HTML page the ALB's
/// own answers carry.
pub fn redirect(r: &Redirect, from: &RedirectFrom<'_>, date: &str) -> HttpResponse {
    let mut out = error_page(r.status, date);
    out.headers
        .push(("location".into(), redirect_location(r, from)));
    out
}

/// What the listener's response-header attributes do to every response, the
/// function's and the load balancer's own: each inserted header replaces a value the
/// function set, and `Server` goes when it is switched off (§3, §11).
pub fn insert_listener_headers(response: &mut HttpResponse, headers: &ResponseHeaders) {
    for (name, value) in headers.inserted() {
        response.insert_header(&name, &value);
    }
    if !headers.server {
        response.headers.retain(|(n, _)| n != "server");
    }
}

/// An answer of the ALB's own, with the headers it sets.
fn alb_answer(status: u16, content_type: &str, body: Vec<u8>, date: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            ("server".into(), "awselb/2.0".into()),
            ("date".into(), date.to_string()),
            ("content-type".into(), content_type.into()),
            ("content-length".into(), body.len().to_string()),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/0123456789abcdef";
    const DATE: &str = "Sat, 21 Nov 2026 05:00:00 GMT";

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpRequest {
        HttpRequest {
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
            ..HttpRequest::new(method, target)
        }
    }

    fn conn() -> Connection {
        Connection {
            client_ip: "127.0.0.1".into(),
            listener_port: 3000,
            proto: "http",
        }
    }

    fn event(r: &HttpRequest, multi: bool) -> Value {
        build_event(&EventInput {
            request: r,
            connection: &conn(),
            target_group_arn: ARN,
            multi_value: multi,
            trace_header: "Root=1-00000000-000000000000000000000000",
        })
    }

    // ---- §1 request event --------------------------------------------------------

    #[test]
    fn an_inserted_response_header_replaces_every_value_the_function_set() {
        let mut r = HttpResponse {
            status: 200,
            headers: vec![
                ("strict-transport-security".into(), "max-age=1".into()),
                ("content-type".into(), "text/plain".into()),
                ("strict-transport-security".into(), "max-age=2".into()),
            ],
            body: Vec::new(),
        };
        r.insert_header("strict-transport-security", "max-age=31536000");
        assert_eq!(
            r.header_all("strict-transport-security"),
            ["max-age=31536000"]
        );
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }

    #[test]
    fn listener_headers_go_on_every_response_and_server_can_be_dropped() {
        use crate::model::headers::Inserted;
        let mut headers = ResponseHeaders::default();
        headers
            .values
            .insert(Inserted::AccessControlAllowOrigin, "https://a.test".into());
        headers
            .values
            .insert(Inserted::XContentTypeOptions, "nosniff".into());
        headers.server = false;
        let mut r = not_found(DATE);
        r.headers
            .push(("access-control-allow-origin".into(), "*".into()));
        insert_listener_headers(&mut r, &headers);
        assert_eq!(
            r.header_all("access-control-allow-origin"),
            ["https://a.test"]
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("server"), None);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn a_redirect_fills_its_placeholders_from_the_request() {
        let from = RedirectFrom {
            protocol: "http",
            host: "api.example.com",
            port: 8080,
            path: "/old/a/b",
            query: "x=1",
        };
        let keep = |p: &str, h: &str, port: &str, path: &str, q: &str| Redirect {
            status: 301,
            protocol: p.into(),
            host: h.into(),
            port: port.into(),
            path: path.into(),
            query: q.into(),
        };
        let to_https = keep("HTTPS", "#{host}", "443", "/#{path}", "#{query}");
        assert_eq!(
            redirect_location(&to_https, &from),
            "https://api.example.com:443/old/a/b?x=1"
        );
        let moved = keep(
            "#{protocol}",
            "new.example.com",
            "#{port}",
            "/v2/#{path}",
            "",
        );
        assert_eq!(
            redirect_location(&moved, &from),
            "http://new.example.com:8080/v2/old/a/b"
        );
        let no_query = RedirectFrom { query: "", ..from };
        assert_eq!(
            redirect_location(&to_https, &no_query),
            "https://api.example.com:443/old/a/b"
        );
        let r = redirect(&to_https, &from, DATE);
        assert_eq!(r.status, 301);
        assert_eq!(
            r.header("location"),
            Some("https://api.example.com:443/old/a/b?x=1")
        );
        assert_eq!(r.header("content-type"), Some("text/html"));
        assert!(String::from_utf8_lossy(&r.body).contains("301 Moved Permanently"));
    }

    #[test]
    fn a_fixed_204_has_no_body_content_type_or_length() {
        let fixed_204 = FixedResponse {
            status: 204,
            content_type: "text/plain".into(),
            body: String::new(),
        };
        let r = fixed(&fixed_204, DATE);
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-type"), None);
        assert_eq!(r.header("content-length"), None);
        assert_eq!(r.header("server"), Some("awselb/2.0"));
        let gone = FixedResponse {
            status: 410,
            content_type: "application/json".into(),
            body: r#"{"gone":true}"#.into(),
        };
        let r = fixed(&gone, DATE);
        assert_eq!(r.status, 410);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("content-length"), Some("13"));
        assert_eq!(r.body, br#"{"gone":true}"#);
    }

    #[test]
    fn top_level_fields_are_exactly_the_alb_ones() {
        let e = event(&req("GET", "/x", &[], b""), false);
        let mut keys: Vec<&str> = e
            .as_object()
            .unwrap()
            .keys()
            .map(std::string::String::as_str)
            .collect();
        keys.sort();
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
        assert_eq!(e["requestContext"], json!({"elb": {"targetGroupArn": ARN}}));
        assert!(e.get("version").is_none());
    }

    #[test]
    fn single_value_mode_has_only_single_maps() {
        let e = event(&req("GET", "/x?a=1", &[("A", "1")], b""), false);
        assert!(e.get("multiValueHeaders").is_none());
        assert!(e.get("multiValueQueryStringParameters").is_none());
        assert!(e["headers"].is_object());
    }

    #[test]
    fn multi_value_mode_has_only_multi_maps() {
        let e = event(&req("GET", "/x?a=1", &[("A", "1")], b""), true);
        assert!(e.get("headers").is_none());
        assert!(e.get("queryStringParameters").is_none());
        assert_eq!(e["multiValueQueryStringParameters"], json!({"a": ["1"]}));
        assert_eq!(e["multiValueHeaders"]["a"], json!(["1"]));
    }

    #[test]
    fn repeated_query_key_and_header_keep_the_last_value_in_single_mode() {
        let r = req("GET", "/x?k=1&k=2", &[("X-H", "a"), ("x-h", "b")], b"");
        let e = event(&r, false);
        assert_eq!(e["queryStringParameters"], json!({"k": "2"}));
        assert_eq!(e["headers"]["x-h"], "b");
    }

    #[test]
    fn repeated_query_key_and_header_keep_every_value_in_order_in_multi_mode() {
        let r = req("GET", "/x?k=1&k=2", &[("X-H", "a"), ("x-h", "b")], b"");
        let e = event(&r, true);
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"k": ["1", "2"]})
        );
        assert_eq!(e["multiValueHeaders"]["x-h"], json!(["a", "b"]));
    }

    #[test]
    fn header_names_are_lowercased_values_kept_host_keeps_port_utf8_passes() {
        let r = req(
            "GET",
            "/",
            &[("Host", "Example.com:3000"), ("X-Name", "Zoë Ünïcode")],
            b"",
        );
        let e = event(&r, false);
        assert_eq!(e["headers"]["host"], "Example.com:3000");
        assert_eq!(e["headers"]["x-name"], "Zoë Ünïcode");
        assert!(e["headers"].get("Host").is_none());
    }

    #[test]
    fn query_string_is_not_decoded() {
        let r = req("GET", "/x?x=foo%3Dbar&plus=a+b&k%20ey=v", &[], b"");
        let e = event(&r, false);
        assert_eq!(e["queryStringParameters"]["x"], "foo%3Dbar");
        assert_eq!(e["queryStringParameters"]["plus"], "a+b");
        assert_eq!(e["queryStringParameters"]["k%20ey"], "v");
    }

    #[test]
    fn no_query_string_is_an_empty_map_never_null() {
        assert_eq!(
            event(&req("GET", "/x", &[], b""), false)["queryStringParameters"],
            json!({})
        );
        assert_eq!(
            event(&req("GET", "/x", &[], b""), true)["multiValueQueryStringParameters"],
            json!({})
        );
    }

    #[test]
    fn a_target_splits_into_path_and_undecoded_query() {
        let r = HttpRequest::new("GET", "/hello?x=foo%3Dbar&y=+&x=last");
        assert_eq!(
            (r.path.as_str(), r.query.as_deref()),
            ("/hello", Some("x=foo%3Dbar&y=+&x=last"))
        );
        let e = event(&r, false);
        assert_eq!(e["path"], "/hello");
        assert_eq!(e["queryStringParameters"], json!({"x": "last", "y": "+"}));
        assert_eq!(HttpRequest::new("GET", "/a").query, None);
        let e = event(&HttpRequest::new("GET", "/a?"), false);
        assert_eq!(e["queryStringParameters"], json!({}));
    }

    #[test]
    fn path_is_passed_as_received() {
        let e = event(&req("GET", "/a%20b/", &[], b""), false);
        assert_eq!(e["path"], "/a%20b/");
    }

    #[test]
    fn alb_adds_trace_and_forwarded_headers() {
        let r = req("GET", "/", &[("X-Forwarded-For", "10.0.0.1")], b"");
        let e = event(&r, false);
        assert_eq!(
            e["headers"]["x-amzn-trace-id"],
            "Root=1-00000000-000000000000000000000000"
        );
        assert_eq!(e["headers"]["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(e["headers"]["x-forwarded-port"], "3000");
        assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    }

    #[test]
    fn trace_id_format_and_self_prefix_for_a_client_root() {
        let root = new_trace_root(0x5f00_0000, 0xabc);
        assert_eq!(root, "1-5f000000-000000000000000000000abc");
        let (h, r) = trace_header(None, &root);
        assert_eq!(h, format!("Root={root}"));
        assert_eq!(r, root);
        let client = "Root=1-11111111-222222222222222222222222";
        let (h, r) = trace_header(Some(client), &root);
        assert_eq!(h, format!("Self={root};{client}"));
        assert_eq!(r, "1-11111111-222222222222222222222222");
    }

    #[test]
    fn request_trace_keeps_a_client_root_and_makes_one_otherwise() {
        let own = "1-5f84c7a9-0123456789abcdef01234567";
        let plain = req("GET", "/", &[], b"");
        assert_eq!(
            request_trace(&plain, own),
            (format!("Root={own}"), own.to_string())
        );
        let client = "Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa";
        let traced = req("GET", "/", &[("X-Amzn-Trace-Id", client)], b"");
        let (header, root) = request_trace(&traced, own);
        assert_eq!(header, format!("Self={own};{client}"));
        assert_eq!(root, "1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa");
        // The event carries exactly that header value.
        let e = build_event(&EventInput {
            request: &traced,
            connection: &conn(),
            target_group_arn: ARN,
            multi_value: false,
            trace_header: &header,
        });
        assert_eq!(e["headers"]["x-amzn-trace-id"], header.as_str());
    }

    #[test]
    fn body_with_content_encoding_is_base64() {
        let r = req(
            "POST",
            "/",
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", "gzip"),
            ],
            b"\x1f\x8b\x08",
        );
        let e = event(&r, false);
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "H4sI");
    }

    #[test]
    fn text_content_types_are_raw_text() {
        for ct in [
            "text/plain",
            "text/html; charset=utf-8",
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/javascript",
            "application/xml",
        ] {
            let e = event(
                &req("POST", "/", &[("content-type", ct)], b"{\"a\":1}"),
                false,
            );
            assert_eq!(e["isBase64Encoded"], false, "{ct}");
            assert_eq!(e["body"], "{\"a\":1}", "{ct}");
        }
    }

    #[test]
    fn other_or_missing_content_type_is_base64() {
        let e = event(
            &req(
                "POST",
                "/",
                &[("content-type", "application/octet-stream")],
                b"\x00\x01",
            ),
            false,
        );
        assert_eq!(
            (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
            (Some("AAE="), Some(true))
        );
        let e = event(&req("POST", "/", &[], b"hi"), false);
        assert_eq!(
            (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
            (Some("aGk="), Some(true))
        );
    }

    #[test]
    fn empty_body_is_empty_string_not_base64_never_null() {
        let e = event(
            &req(
                "POST",
                "/",
                &[("content-type", "application/octet-stream")],
                b"",
            ),
            true,
        );
        assert_eq!(e["body"], "");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn body_over_1_mb_is_413() {
        let ok = req("POST", "/", &[], &vec![b'a'; MAX_BODY]);
        assert!(check_request(&ok).is_ok());
        let big = req("POST", "/", &[], &vec![b'a'; MAX_BODY + 1]);
        assert_eq!(check_request(&big).unwrap_err().status, 413);
    }

    #[test]
    fn oversized_header_or_request_line_is_400() {
        let long = "a".repeat(MAX_HEADER_LINE);
        assert_eq!(
            check_request(&req("GET", "/", &[("x", &long)], b""))
                .unwrap_err()
                .status,
            400
        );
        let target = format!("/{long}");
        assert_eq!(
            check_request(&req("GET", &target, &[], b""))
                .unwrap_err()
                .status,
            400
        );
        let eight_k = "b".repeat(8 * 1024);
        let many: Vec<(String, String)> =
            (0..9).map(|i| (format!("h{i}"), eight_k.clone())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            check_request(&req("GET", "/", &many, b""))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn websocket_trace_and_odd_transfer_encoding_are_refused() {
        assert_eq!(
            check_request(&req("GET", "/", &[("Upgrade", "websocket")], b""))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            check_request(&req("TRACE", "/", &[], b""))
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            check_request(&req(
                "POST",
                "/",
                &[("Transfer-Encoding", "gzip, chunked")],
                b""
            ))
            .unwrap_err()
            .status,
            501
        );
        assert!(check_request(&req("POST", "/", &[("Transfer-Encoding", "chunked")], b"")).is_ok());
    }

    // ---- §2 health check ---------------------------------------------------------

    #[test]
    fn health_check_event_shape() {
        assert_eq!(
            health_check_event("/health", ARN, false),
            json!({
                "requestContext": {"elb": {"targetGroupArn": ARN}},
                "httpMethod": "GET",
                "path": "/health",
                "queryStringParameters": {},
                "headers": {"user-agent": "ELB-HealthChecker/2.0"},
                "body": "",
                "isBase64Encoded": false
            })
        );
        assert_eq!(
            health_check_event("/health", ARN, true),
            json!({
                "requestContext": {"elb": {"targetGroupArn": ARN}},
                "httpMethod": "GET",
                "path": "/health",
                "multiValueQueryStringParameters": {},
                "multiValueHeaders": {"user-agent": ["ELB-HealthChecker/2.0"]},
                "body": "",
                "isBase64Encoded": false
            })
        );
    }

    // ---- §3 response mapping -----------------------------------------------------

    fn map(v: Value, multi: bool) -> Result<HttpResponse, Failure> {
        map_response(v.to_string().as_bytes(), multi, DATE)
    }

    #[test]
    fn missing_status_code_is_502_not_200() {
        assert_eq!(map(json!({"body": "x"}), false).unwrap_err().status, 502);
    }

    #[test]
    fn status_description_is_optional() {
        let r = map(
            json!({"statusCode": 201, "statusDescription": "201 Created"}),
            false,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(map(json!({"statusCode": 204}), false).unwrap().status, 204);
    }

    #[test]
    fn single_mode_reads_headers_and_ignores_multi_value_headers() {
        let v = json!({"statusCode": 200, "headers": {"X-A": "1"}, "multiValueHeaders": {"content-type": ["text/plain"]}});
        let r = map(v, false).unwrap();
        assert_eq!(r.header("x-a"), Some("1"));
        // The Content-Type in the wrong field is lost.
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }

    #[test]
    fn multi_mode_reads_multi_value_headers_and_ignores_headers() {
        let v = json!({"statusCode": 200, "headers": {"content-type": "text/plain"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}});
        let r = map(v, true).unwrap();
        assert_eq!(r.header_all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }

    #[test]
    fn missing_body_is_empty() {
        let r = map(json!({"statusCode": 200}), false).unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-length"), Some("0"));
    }

    #[test]
    fn null_body_or_any_null_field_is_502() {
        assert_eq!(
            map(json!({"statusCode": 200, "body": null}), false)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(
            map(json!({"statusCode": 200, "headers": null}), false)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(
            map(json!({"statusCode": 200, "headers": {"a": null}}), false)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(
            map(
                json!({"statusCode": 200, "multiValueHeaders": {"a": [null]}}),
                true
            )
            .unwrap_err()
            .status,
            502
        );
    }

    #[test]
    fn non_string_header_value_is_502() {
        assert_eq!(
            map(json!({"statusCode": 200, "headers": {"a": 1}}), false)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(
            map(json!({"statusCode": 200, "headers": {"a": true}}), false)
                .unwrap_err()
                .status,
            502
        );
    }

    #[test]
    fn base64_body_is_decoded_and_line_breaks_are_502() {
        let r = map(
            json!({"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}),
            false,
        )
        .unwrap();
        assert_eq!(r.body, vec![0, 1, 2]);
        let v = json!({"statusCode": 200, "body": "AAEC\nAAEC", "isBase64Encoded": true});
        assert_eq!(map(v, false).unwrap_err().status, 502);
    }

    #[test]
    fn hop_by_hop_headers_dropped_content_length_computed_server_and_date_added() {
        let v = json!({"statusCode": 200, "body": "hello", "headers": {"Connection": "keep-alive", "Transfer-Encoding": "chunked", "Content-Length": "99", "content-type": "text/plain"}});
        let r = map(v, false).unwrap();
        assert!(r.header("connection").is_none());
        assert!(r.header("transfer-encoding").is_none());
        assert_eq!(r.header("content-length"), Some("5"));
        assert_eq!(r.header("server"), Some("awselb/2.0"));
        assert_eq!(r.header("date"), Some(DATE));
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }

    #[test]
    fn no_content_type_means_octet_stream() {
        let r = map(json!({"statusCode": 200, "body": "x"}), false).unwrap();
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }

    #[test]
    fn lambda_http_style_response_with_both_forms_picks_by_mode() {
        let v = json!({"statusCode": 200, "statusDescription": "200 OK", "headers": {"content-type": "application/json"}, "multiValueHeaders": {"content-type": ["application/json"]}, "body": "{}", "isBase64Encoded": false});
        assert_eq!(
            map(v.clone(), false).unwrap().header_all("content-type"),
            ["application/json"]
        );
        assert_eq!(
            map(v, true).unwrap().header_all("content-type"),
            ["application/json"]
        );
    }

    // ---- §4 failures -------------------------------------------------------------

    #[test]
    fn invalid_json_or_non_object_is_502() {
        assert_eq!(
            map_response(b"{not json", false, DATE).unwrap_err().status,
            502
        );
        assert_eq!(
            map_response(b"\"hello\"", false, DATE).unwrap_err().status,
            502
        );
        assert_eq!(
            map(json!({"statusCode": "200"}), false).unwrap_err().status,
            502
        );
        assert_eq!(
            map(json!({"statusCode": 42}), false).unwrap_err().status,
            502
        );
    }

    #[test]
    fn response_over_1_mb_is_502() {
        let body = "a".repeat(MAX_BODY);
        let v = json!({"statusCode": 200, "body": body});
        assert_eq!(map(v, false).unwrap_err().status, 502);
    }

    #[test]
    fn error_page_is_small_html_titled_502_bad_gateway() {
        let r = error_page(502, DATE);
        assert_eq!(r.status, 502);
        assert!(String::from_utf8_lossy(&r.body).contains("<title>502 Bad Gateway</title>"));
        assert_eq!(r.header("content-type"), Some("text/html"));
    }

    #[test]
    fn default_action_is_fixed_404_json() {
        let r = not_found(DATE);
        assert_eq!(r.status, 404);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}
