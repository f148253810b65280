//! An internal JSON API behind an internal Application Load Balancer (reachable only
//! from inside the VPC):
//!
//! - `GET /internal/health` → `{"status":"ok"}` (the target group's health check);
//! - `GET /internal/items` → every item;
//! - `GET /internal/items/{id}` → one item, `404` if unknown;
//! - `GET /internal/users/{user}/items/{id}` → an item seen by a user;
//! - anything else → `404` / `405` with a JSON error.

use lambda_http::{run, service_fn, Body, Error, Request, Response};
use serde_json::{json, Value};

#[cfg(feature = "secrets")]
mod secrets;

/// The database URL, read once at start-up from the secret `DB_URL` names (with the
/// `secrets` feature; see src/secrets.rs).
#[cfg(feature = "secrets")]
static DB_URL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

#[tokio::main]
async fn main() -> Result<(), Error> {
    #[cfg(feature = "secrets")]
    let _ = DB_URL.set(secrets::read("DB_URL").await?);
    run(service_fn(|req: Request| async move {
        Ok::<_, Error>(handle(&req))
    }))
    .await
}

const ITEMS: &[(&str, &str)] = &[("1", "first item"), ("2", "second item")];

fn item(id: &str) -> Option<Value> {
    ITEMS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(i, name)| json!({ "id": i, "name": name }))
}

/// Matches `path` against a pattern with `{param}` segments; returns the parameters.
fn route<'p>(pattern: &str, path: &'p str) -> Option<Vec<(String, &'p str)>> {
    let want: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            if g.is_empty() {
                return None;
            }
            params.push((name.to_string(), *g));
        } else if w != g {
            return None;
        }
    }
    Some(params)
}

fn handle(req: &Request) -> Response<Body> {
    let path = req.uri().path();
    let get = req.method() == "GET";
    let known = [
        "/internal/health",
        "/internal/items",
        "/internal/items/{id}",
        "/internal/users/{user}/items/{id}",
    ];
    if !get && known.iter().any(|p| route(p, path).is_some()) {
        return reply(
            405,
            &json!({ "error": "method not allowed", "allow": "GET" }),
        );
    }
    if !get {
        return reply(404, &json!({ "error": "not found", "path": path }));
    }
    if route("/internal/health", path).is_some() {
        return reply(200, &json!({ "status": "ok" }));
    }
    if route("/internal/items", path).is_some() {
        let all: Vec<Value> = ITEMS.iter().filter_map(|(i, _)| item(i)).collect();
        return reply(200, &json!({ "items": all }));
    }
    if let Some(p) = route("/internal/items/{id}", path) {
        return match item(p[0].1) {
            Some(v) => reply(200, &v),
            None => reply(404, &json!({ "error": "no such item", "id": p[0].1 })),
        };
    }
    if let Some(p) = route("/internal/users/{user}/items/{id}", path) {
        return match item(p[1].1) {
            Some(v) => reply(200, &json!({ "user": p[0].1, "item": v })),
            None => reply(404, &json!({ "error": "no such item", "id": p[1].1 })),
        };
    }
    reply(404, &json!({ "error": "not found", "path": path }))
}

fn reply(status: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(value.to_string()))
        .expect("valid response")
}
