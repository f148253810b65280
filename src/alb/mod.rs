//! The ALB's semantics towards Lambda targets, PURE (no I/O), each rule unit-tested
//! against the facts in `docs/alb-lambda.md`:
//!
//! - [`rules`]: which listener rule answers a request (§5);
//! - [`event`]: an HTTP request as the target group's event, a function's response as
//!   HTTP, and the limits checked before invoking (§1, §3, §4);
//! - [`outcome`]: what the client gets for each way an invocation can end (§3, §4);
//! - [`health`]: target health states and thresholds (§2);
//! - [`jwt`]: the `jwt-validation` action of an authenticated route (docs/auth.md);
//! - [`oidc`]: the headers a function receives behind a Cognito login (docs/auth.md);
//! - [`mtls`]: the headers a function receives behind mutual TLS (docs/mtls.md);
//! - [`access_log`]: the access-log files and entries ELB writes to the stack's bucket.
//!
//! Used by `albkit dev` (the local ALB in `emulator`), `albkit invoke` and the smoke
//! check of `albkit deploy` (`model::lifecycle`).

pub(crate) mod access_log;
pub mod event;
pub(crate) mod health;
pub mod jwt;
pub mod mtls;
pub mod oidc;
pub(crate) mod outcome;
pub(crate) mod rules;

/// `der` as a PEM block labelled `label` (`CERTIFICATE`, `PUBLIC KEY`): base64 in lines
/// of 64 characters between the BEGIN and END lines, each line ending in a newline.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
