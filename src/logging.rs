//! The diagnostic log on stderr: `tracing` events filtered by `ALBKIT_LOG` (a `tracing`
//! filter) or, without it, by `-v`/`-q`, with the libraries that can print wire data
//! capped below TRACE whatever the filter says.
//!
//! At TRACE, the AWS SDK and its HTTP stack log what goes over the wire. In the versions
//! Cargo.lock pins, read in their sources:
//!
//! - `aws_smithy_runtime` logs every request and response ("transmitting request",
//!   "received response from service", "read HTTP response body"); response bodies are
//!   printed as soon as `LOG_SENSITIVE_BODIES=true` is in the environment, e.g. the
//!   environment variables of every function `ListFunctions` returns.
//! - `aws_sigv4` logs each request it signs and the string to sign; the body as soon as
//!   `LOG_SIGNABLE_BODY=true` is in the environment.
//! - `aws_runtime` logs profile properties as they are overwritten, values included:
//!   the secret keys of `~/.aws/credentials`.
//! - `aws_config` logs the `credential_process` command line, unredacted (its own words).
//! - `aws_smithy_http` (and `aws_smithy_http_client`), `hyper` (and `hyper_util`,
//!   `hyper_rustls`), `h2`, `rustls`, `tokio_rustls`: the HTTP and TLS layers, which log
//!   connection and handshake details at TRACE. Their DEBUG events carry sizes, states
//!   and errors, not payloads.
//!
//! The caps are a filter of their own, combined with the user's filter so that both must
//! let an event through: no directive of `ALBKIT_LOG` (a target, a span, a field) can
//! lift them.

use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The environment variable holding a `tracing` filter, e.g. `albkit=trace,info`.
pub const ENV: &str = "ALBKIT_LOG";

/// Target prefixes whose events are capped at [`WIRE_CAP`] (a prefix also covers the
/// crates whose names start with it: `hyper` covers `hyper_util` and `hyper_rustls`).
pub const WIRE_TARGETS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_sigv4",
    "aws_runtime",
    "aws_config",
    "hyper",
    "h2",
    "rustls",
    "tokio_rustls",
];

/// The most verbose level the [`WIRE_TARGETS`] may log at.
pub const WIRE_CAP: LevelFilter = LevelFilter::DEBUG;

/// The filter for the [`WIRE_TARGETS`]; every other target is left to the user's filter.
pub fn wire_caps() -> Targets {
    WIRE_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, WIRE_CAP),
    )
}

/// What the flags ask for: warnings (`-q` too), albkit's debug events (`-v`), everything
/// at DEBUG (`-vv`).
pub fn default_filter(verbose: u8, quiet: bool) -> &'static str {
    match (verbose, quiet) {
        (_, true) | (0, _) => "warn",
        (1, _) => "albkit=debug,warn",
        _ => "debug",
    }
}

/// The user's filter: `ALBKIT_LOG` when it parses, else the flags' default.
pub fn user_filter(verbose: u8, quiet: bool, albkit_log: Option<&str>) -> EnvFilter {
    albkit_log
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter(verbose, quiet)))
}

/// The formatting layer writing to `writer`, behind the user's filter and the caps.
pub fn layer<S, W>(
    verbose: u8,
    quiet: bool,
    albkit_log: Option<&str>,
    writer: W,
) -> impl Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_filter(user_filter(verbose, quiet, albkit_log).and(wire_caps()))
}

/// Installs the log on stderr for the whole process (also for libraries that use the
/// `log` crate).
pub fn init(verbose: u8, quiet: bool) {
    let albkit_log = std::env::var(ENV).ok();
    tracing_subscriber::registry()
        .with(layer(
            verbose,
            quiet,
            albkit_log.as_deref(),
            std::io::stderr,
        ))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing::Level;

    /// A writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            self.0
                .lock()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default()
        }
    }

    /// What the log prints when each event below is emitted under `albkit_log`.
    fn emitted(verbose: u8, albkit_log: Option<&str>) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber =
            tracing_subscriber::registry()
                .with(layer(verbose, false, albkit_log, move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::trace_span!("transmit");
            let _in = span.enter();
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "wire-orchestrator-trace");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator::http", "wire-body-trace");
            tracing::trace!(target: "aws_sigv4::http_request::sign", "wire-sign-trace");
            tracing::trace!(target: "aws_runtime::env_config::property", "wire-profile-trace");
            tracing::trace!(target: "aws_config::credential_process", "wire-process-trace");
            tracing::trace!(target: "aws_smithy_http_client::client", "wire-client-trace");
            tracing::trace!(target: "hyper_util::client::legacy", "wire-hyper-trace");
            tracing::trace!(target: "h2::codec::framed_read", "wire-h2-trace");
            tracing::trace!(target: "rustls::client::hs", "wire-rustls-trace");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "sdk-debug");
            tracing::trace!(target: "albkit::aws::retry", "albkit-trace");
            tracing::warn!(target: "albkit::commands", "albkit-warn");
        });
        out.text()
    }

    const WIRE: &[&str] = &[
        "wire-orchestrator-trace",
        "wire-body-trace",
        "wire-sign-trace",
        "wire-profile-trace",
        "wire-process-trace",
        "wire-client-trace",
        "wire-hyper-trace",
        "wire-h2-trace",
        "wire-rustls-trace",
    ];

    #[track_caller]
    fn assert_no_wire_trace(log: &str, filter: &str) {
        for marker in WIRE {
            assert!(
                !log.contains(marker),
                "ALBKIT_LOG={filter:?} let {marker} through:\n{log}"
            );
        }
    }

    #[test]
    fn no_filter_lifts_the_wire_caps() {
        for filter in [
            "trace",
            "aws_smithy_runtime=trace,aws_sigv4=trace,aws_runtime=trace,aws_config=trace",
            "aws_smithy_runtime::client::orchestrator::http=trace",
            "hyper=trace,hyper_util=trace,h2=trace,rustls=trace,aws_smithy_http_client=trace",
            "[transmit]=trace",
            "off,aws_smithy_runtime[transmit]=trace",
        ] {
            assert_no_wire_trace(&emitted(0, Some(filter)), filter);
        }
    }

    #[test]
    fn everything_else_follows_the_users_filter() {
        let log = emitted(0, Some("trace"));
        assert!(log.contains("albkit-trace"), "{log}");
        assert!(log.contains("sdk-debug"), "DEBUG stays allowed: {log}");
        assert!(log.contains("albkit-warn"), "{log}");
        let log = emitted(0, Some("off"));
        assert_eq!(log, "");
    }

    #[test]
    fn without_albkit_log_the_flags_decide() {
        let quiet = emitted(0, None);
        assert!(
            quiet.contains("albkit-warn") && !quiet.contains("sdk-debug"),
            "{quiet}"
        );
        let vv = emitted(2, None);
        assert!(
            vv.contains("sdk-debug") && !vv.contains("albkit-trace"),
            "{vv}"
        );
        assert_no_wire_trace(&vv, "-vv");
        // A filter that does not parse falls back to the flags.
        let bad = emitted(0, Some("albkit=loud"));
        assert!(
            bad.contains("albkit-warn") && !bad.contains("albkit-trace"),
            "{bad}"
        );
    }

    #[test]
    fn the_caps_allow_debug_and_nothing_finer() {
        let caps = wire_caps();
        for target in WIRE_TARGETS {
            assert!(caps.would_enable(target, &Level::DEBUG), "{target}");
            assert!(!caps.would_enable(target, &Level::TRACE), "{target}");
        }
        assert!(caps.would_enable("hyper_rustls::connector", &Level::DEBUG));
        assert!(!caps.would_enable("hyper_rustls::connector", &Level::TRACE));
        assert!(caps.would_enable("albkit", &Level::TRACE));
    }
}
