//! A Lambda target behind an Application Load Balancer, written by `albkit init`.
//!
//! - `GET /hello` (and `/hello/...`): JSON greeting echoing the path and query.
//! - `GET /health`: `200 ok` for the target group's health check.
//! - anything else: `404` with a JSON body.

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}

async fn handler(req: Request) -> Result<Response<Body>, Error> {
    Ok(route(&req))
}

fn route(req: &Request) -> Response<Body> {
    let path = req.uri().path();
    let method = req.method().as_str();
    match (method, path) {
        ("GET", "/health") => text(200, "ok"),
        ("GET", p) if p == "/hello" || p.starts_with("/hello/") => json_response(
            200,
            &json!({
                "message": "hello from albkit",
                "path": p,
                "query": query_json(req),
            }),
        ),
        _ => json_response(
            404,
            &json!({ "error": "not found", "method": method, "path": path }),
        ),
    }
}

/// The query string parameters as a JSON object: a key with one value maps to a
/// string, a key given several times (multi-value mode) to an array in client order.
fn query_json(req: &Request) -> Value {
    let params = req.query_string_parameters();
    let mut out = Map::new();
    for (key, _) in params.iter() {
        if out.contains_key(key) {
            continue;
        }
        let values = params.all(key).unwrap_or_default();
        let value = match values.as_slice() {
            [one] => Value::String((*one).to_string()),
            many => Value::Array(
                many.iter()
                    .map(|v| Value::String((*v).to_string()))
                    .collect(),
            ),
        };
        out.insert(key.to_string(), value);
    }
    Value::Object(out)
}

fn json_response(status: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(value.to_string()))
        .expect("valid response")
}

fn text(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::Text(body.to_string()))
        .expect("valid response")
}
