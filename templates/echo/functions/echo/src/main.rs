//! Echo: answers every request with the request it received, as JSON (method, path,
//! query, headers, body), to learn what an Application Load Balancer sends a Lambda
//! function. `GET /health` answers `200 ok`.
//!
//! CORS: `CORS_ALLOW_ORIGIN` (set in albkit.toml's `environment`) is sent as
//! `Access-Control-Allow-Origin`; `OPTIONS` preflight requests get `204`.

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let origin = std::env::var("CORS_ALLOW_ORIGIN")
        .ok()
        .filter(|o| !o.is_empty());
    run(service_fn(move |req: Request| {
        let origin = origin.clone();
        async move { Ok::<_, Error>(handle(&req, origin.as_deref())) }
    }))
    .await
}

fn handle(req: &Request, origin: Option<&str>) -> Response<Body> {
    let mut builder = Response::builder();
    if let Some(origin) = origin {
        builder = builder
            .header("access-control-allow-origin", origin)
            .header(
                "access-control-allow-methods",
                "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            )
            .header(
                "access-control-allow-headers",
                "content-type, authorization",
            );
    }
    if req.method() == "OPTIONS" {
        return builder
            .status(204)
            .body(Body::Empty)
            .expect("valid response");
    }
    if req.method() == "GET" && req.uri().path() == "/health" {
        return builder
            .status(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Body::Text("ok".into()))
            .expect("valid response");
    }
    let mut headers = Map::new();
    for name in req.headers().keys() {
        let values: Vec<Value> = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let value = match values.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(values),
        };
        headers.insert(name.as_str().to_string(), value);
    }
    let mut query = Map::new();
    let params = req.query_string_parameters();
    for (key, _) in params.iter() {
        let values = params.all(key).unwrap_or_default();
        let value = match values.as_slice() {
            [one] => Value::String((*one).to_string()),
            many => Value::Array(
                many.iter()
                    .map(|v| Value::String((*v).to_string()))
                    .collect(),
            ),
        };
        query.insert(key.to_string(), value);
    }
    let (body, base64) = match req.body() {
        Body::Empty => (String::new(), false),
        Body::Text(t) => (t.clone(), false),
        Body::Binary(b) => (
            String::from_utf8(b.clone()).unwrap_or_else(|_| format!("<{} binary bytes>", b.len())),
            true,
        ),
        _ => (String::new(), false),
    };
    let echo = json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": query,
        "headers": headers,
        "body": body,
        "bodyWasBinary": base64,
    });
    builder
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(echo.to_string()))
        .expect("valid response")
}
