//! PURE: the load balancer's `jwt-validation` action (docs/auth.md), as `albkit dev`
//! applies it to a route with `auth = { jwt = {...} }`, against a local JSON Web Key Set
//! instead of the issuer's endpoint.
//!
//! What the ALB checks, and so what [`validate`] checks, in this order:
//! - a bearer token in `Authorization` (otherwise 401 with `WWW-Authenticate: Bearer`);
//! - a JWS of three base64url parts, signed with RS256 (the only algorithm the ALB takes)
//!   by a key of the set (by `kid` when the token names one);
//! - `iss` equal to the configured issuer, `exp` present and not past; `nbf` and `iat`,
//!   when present, not in the future;
//! - with `audiences` configured, `aud` (a string, or an array of them) one of them.
//!
//! Any failure past the first is a 401 with `WWW-Authenticate: Bearer
//! error="invalid_token"`. A valid token reaches the function unchanged.

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::event::{error_page, HttpResponse};
use crate::model::config::JwtAuth;

/// The most keys the ALB reads from a JSON Web Key Set.
pub const MAX_KEYS: usize = 10;

/// One RSA public key of a JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub kid: Option<String>,
    /// Big-endian modulus and exponent, without leading zeros.
    n: Vec<u8>,
    e: Vec<u8>,
}

/// The RSA signing keys of a JSON Web Key Set (RFC 7517); keys of other types, or for
/// encryption (`"use": "enc"`), are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    pub keys: Vec<RsaKey>,
}

impl Jwks {
    /// Reads a JWKS document: `{"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}]}`.
    /// The error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Jwks, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("it is not JSON: {e}"))?;
        let Some(all) = doc.get("keys").and_then(Value::as_array) else {
            return Err("it has no \"keys\" array".to_owned());
        };
        if all.len() > MAX_KEYS {
            return Err(format!(
                "it has {} keys; the load balancer reads at most {MAX_KEYS}",
                all.len()
            ));
        }
        let mut keys = Vec::new();
        for (i, k) in all.iter().enumerate() {
            let text = |name: &str| k.get(name).and_then(Value::as_str);
            if text("kty") != Some("RSA") || text("use").is_some_and(|u| u != "sig") {
                continue;
            }
            let number = |name: &str| {
                let raw = text(name).ok_or(format!("key {i} has no \"{name}\""))?;
                let bytes = URL_SAFE_NO_PAD
                    .decode(raw)
                    .map_err(|e| format!("key {i}: \"{name}\" is not base64url: {e}"))?;
                let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                Ok::<_, String>(bytes[start..].to_vec())
            };
            keys.push(RsaKey {
                kid: text("kid").map(str::to_owned),
                n: number("n")?,
                e: number("e")?,
            });
        }
        if keys.is_empty() {
            return Err("it has no RSA signing key (\"kty\": \"RSA\")".to_owned());
        }
        Ok(Jwks { keys })
    }
}

/// Why a request does not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization: Bearer <token>` header.
    NoToken,
    /// A token that does not pass; the reason is for the access log only.
    InvalidToken(String),
}

impl Rejection {
    /// The status the load balancer answers with.
    pub const STATUS: u16 = 401;

    /// The `WWW-Authenticate` challenge (RFC 6750 §3): none of the token's details.
    pub fn www_authenticate(&self) -> &'static str {
        match self {
            Rejection::NoToken => "Bearer",
            Rejection::InvalidToken(_) => "Bearer error=\"invalid_token\"",
        }
    }

    /// For the access log.
    pub fn reason(&self) -> String {
        match self {
            Rejection::NoToken => "no bearer token".to_owned(),
            Rejection::InvalidToken(why) => format!("invalid token: {why}"),
        }
    }
}

/// The load balancer's answer to a rejected request: a 401 error page with the
/// challenge.
pub fn unauthorized(r: &Rejection, date: &str) -> HttpResponse {
    let mut page = error_page(Rejection::STATUS, date);
    let challenge = r.www_authenticate().to_owned();
    page.headers
        .push(("www-authenticate".to_owned(), challenge));
    page
}

/// The token of an `Authorization` header value: `Bearer <token>` (scheme in any case).
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks the request's `Authorization` header as the `jwt-validation` action does, at
/// `now` (seconds since the Unix epoch). `Ok`: the claims of a valid token.
pub fn validate(
    authorization: Option<&str>,
    jwks: &Jwks,
    auth: &JwtAuth,
    now: u64,
) -> Result<Value, Rejection> {
    let token = bearer(authorization).ok_or(Rejection::NoToken)?;
    let claims = verify_signature(token, jwks).map_err(Rejection::InvalidToken)?;
    check_claims(&claims, auth, now).map_err(Rejection::InvalidToken)?;
    Ok(claims)
}

fn part(raw: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| format!("its {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("its {what} is not a JSON object"))
}

/// The payload of a JWS signed with RS256 by a key of `jwks`.
fn verify_signature(token: &str, jwks: &Jwks) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(format!("{} parts, not 3", parts.len()));
    };
    let head = part(header, "header")?;
    let alg = head.get("alg").and_then(Value::as_str).unwrap_or_default();
    if alg != "RS256" {
        return Err(format!("algorithm {alg:?}, not RS256"));
    }
    let kid = head.get("kid").and_then(Value::as_str);
    let candidates: Vec<&RsaKey> = jwks
        .keys
        .iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "no key {:?} in the key set",
            kid.unwrap_or_default()
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "its signature is not base64url".to_owned())?;
    let signed = format!("{header}.{payload}");
    let ok = candidates.iter().any(|k| {
        let key = RsaPublicKeyComponents { n: &k.n, e: &k.e };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .is_ok()
    });
    if !ok {
        return Err("the signature does not verify".to_owned());
    }
    part(payload, "payload")
}

/// `iss`, `exp`, `nbf`, `iat` and, when configured, `aud`.
fn check_claims(claims: &Value, auth: &JwtAuth, now: u64) -> Result<(), String> {
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(auth.issuer.as_str()) {
        return Err(format!(
            "iss {:?} is not {:?}",
            iss.unwrap_or_default(),
            auth.issuer
        ));
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    let Some(exp) = time("exp") else {
        return Err("no exp".to_owned());
    };
    if exp <= now {
        return Err(format!("expired at {exp}, now is {now}"));
    }
    for name in ["nbf", "iat"] {
        if let Some(t) = time(name).filter(|t| *t > now) {
            return Err(format!("{name} {t} is in the future (now is {now})"));
        }
    }
    if auth.audiences.is_empty() {
        return Ok(());
    }
    let aud: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if aud.iter().any(|a| auth.audiences.iter().any(|w| w == a)) {
        Ok(())
    } else {
        Err(format!("aud {aud:?} is none of {:?}", auth.audiences))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    /// `kid` "dev" of `KEYS`, and a key in no set (tests/fixtures/jwt/README.md).
    const SIGNING: &str = include_str!("../../tests/fixtures/jwt/signing.pem");
    const STRANGER: &str = include_str!("../../tests/fixtures/jwt/stranger.pem");
    const KEYS: &str = include_str!("../../tests/fixtures/jwt/keys.json");

    fn key_pair(pem: &str) -> RsaKeyPair {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).expect("PEM");
        RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key")
    }

    /// A JWS of `claims` with `header`, signed RS256 by `pair`.
    fn sign(pair: &RsaKeyPair, header: &Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut sig,
        )
        .expect("sign");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn auth(audiences: &[&str]) -> JwtAuth {
        JwtAuth {
            issuer: "https://issuer.example.com".into(),
            jwks_endpoint: "https://issuer.example.com/jwks.json".into(),
            audiences: audiences.iter().map(ToString::to_string).collect(),
        }
    }

    fn claims() -> Value {
        json!({ "iss": "https://issuer.example.com", "sub": "svc", "aud": "orders",
                "exp": NOW + 60, "iat": NOW - 5, "nbf": NOW - 5 })
    }

    fn header(kid: &str) -> Value {
        json!({ "alg": "RS256", "typ": "JWT", "kid": kid })
    }

    fn check(token: &str, audiences: &[&str]) -> Result<Value, Rejection> {
        let jwks = Jwks::parse(KEYS).expect("keys.json");
        validate(
            Some(&format!("Bearer {token}")),
            &jwks,
            &auth(audiences),
            NOW,
        )
    }

    /// A token of the `dev` key with `claims` changed by `change`.
    fn token_with(change: impl FnOnce(&mut Value)) -> String {
        let mut c = claims();
        change(&mut c);
        sign(&key_pair(SIGNING), &header("dev"), &c)
    }

    #[track_caller]
    fn invalid(r: Result<Value, Rejection>, needle: &str) {
        match r {
            Err(Rejection::InvalidToken(why)) => assert!(why.contains(needle), "{why}"),
            other => panic!("expected an invalid token ({needle}), got {other:?}"),
        }
    }

    #[test]
    fn a_valid_token_passes_with_its_claims() {
        let got = check(&token_with(|_| {}), &["orders"]).expect("valid");
        assert_eq!(got["sub"], "svc");
        // Without a kid, every key of the set is tried.
        let token = sign(&key_pair(SIGNING), &json!({ "alg": "RS256" }), &claims());
        assert!(check(&token, &[]).is_ok());
    }

    #[test]
    fn no_bearer_token_is_a_challenge_without_an_error() {
        let jwks = Jwks::parse(KEYS).expect("keys.json");
        for h in [
            None,
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer "),
            Some("token"),
        ] {
            let r = validate(h, &jwks, &auth(&[]), NOW);
            assert_eq!(r, Err(Rejection::NoToken), "{h:?}");
        }
        assert_eq!(Rejection::NoToken.www_authenticate(), "Bearer");
        let bad = Rejection::InvalidToken("x".into());
        assert_eq!(bad.www_authenticate(), "Bearer error=\"invalid_token\"");
        assert_eq!(bearer(Some("bearer abc")), Some("abc"));
        let page = unauthorized(&bad, "Tue, 01 Dec 2026 10:00:00 GMT");
        assert_eq!(page.status, 401);
        assert_eq!(
            page.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    }

    #[test]
    fn a_signature_by_another_key_or_algorithm_fails() {
        let stranger = key_pair(STRANGER);
        invalid(
            check(&sign(&stranger, &header("dev"), &claims()), &[]),
            "does not verify",
        );
        let signing = key_pair(SIGNING);
        invalid(
            check(&sign(&signing, &header("k9"), &claims()), &[]),
            "no key \"k9\"",
        );
        let hs = json!({ "alg": "HS256", "kid": "dev" });
        invalid(check(&sign(&signing, &hs, &claims()), &[]), "not RS256");
        let none = json!({ "alg": "none" });
        invalid(check(&sign(&signing, &none, &claims()), &[]), "not RS256");
        // A payload changed after signing.
        let token = token_with(|_| {});
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged["sub"] = json!("admin");
        let payload = URL_SAFE_NO_PAD.encode(forged.to_string());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        invalid(check(&tampered, &[]), "does not verify");
        invalid(check("a.b", &[]), "2 parts");
    }

    #[test]
    fn issuer_and_times_are_checked() {
        let set = |k: &'static str, v: Value| token_with(move |c| c[k] = v);
        invalid(
            check(&set("iss", json!("https://evil.example.com")), &[]),
            "iss",
        );
        invalid(check(&set("exp", json!(NOW)), &[]), "expired");
        invalid(check(&set("nbf", json!(NOW + 10)), &[]), "nbf");
        invalid(check(&set("iat", json!(NOW + 10)), &[]), "iat");
        let no_exp = token_with(|c| {
            c.as_object_mut().map(|o| o.remove("exp"));
        });
        invalid(check(&no_exp, &[]), "no exp");
    }

    #[test]
    fn audiences_match_a_string_or_any_of_an_array() {
        let aud = |v: Value| token_with(move |c| c["aud"] = v);
        assert!(check(&aud(json!("cart")), &["orders", "cart"]).is_ok());
        assert!(check(&aud(json!(["x", "cart"])), &["cart"]).is_ok());
        invalid(check(&aud(json!("billing")), &["orders"]), "aud");
        invalid(check(&aud(json!(null)), &["orders"]), "aud");
        // Not configured: any aud, or none.
        assert!(check(&aud(json!("billing")), &[]).is_ok());
    }

    #[test]
    fn a_key_set_is_read_as_the_load_balancer_reads_it() {
        let jwks = Jwks::parse(KEYS).expect("keys.json");
        assert_eq!(jwks.keys.len(), 1, "the EC key is left out");
        assert_eq!(jwks.keys[0].kid.as_deref(), Some("dev"));
        let rsa = json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" });
        let enc = json!({ "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB" });
        let one = Jwks::parse(&json!({ "keys": [enc, rsa] }).to_string()).expect("jwks");
        assert_eq!(one.keys.len(), 1, "the encryption key is left out");
        let eleven: Vec<Value> = (0..11).map(|_| rsa.clone()).collect();
        let err = Jwks::parse(&json!({ "keys": eleven }).to_string());
        assert!(err.is_err_and(|e| e.contains("at most 10")));
        assert!(Jwks::parse("[]").is_err_and(|e| e.contains("no \"keys\"")));
        assert!(Jwks::parse("{").is_err_and(|e| e.contains("not JSON")));
        let only_ec = json!({ "keys": [{ "kty": "EC" }] }).to_string();
        assert!(Jwks::parse(&only_ec).is_err_and(|e| e.contains("no RSA signing key")));
        let bad_n = json!({ "keys": [{ "kty": "RSA", "n": "*", "e": "AQAB" }] }).to_string();
        assert!(Jwks::parse(&bad_n).is_err_and(|e| e.contains("not base64url")));
    }
}
