//! What `albkit doctor` finds on this machine: the toolchain each function's build
//! needs, and what `albkit dev` needs. Runs programs (`cargo --version`, `rustup
//! --version`, `getconf GNU_LIBC_VERSION`, the probes of [`crate::package::installed`])
//! and binds a socket (`--fix` is [`super::fix`]); the decisions are
//! [`crate::model::doctor`]'s.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;

use crate::model::config::{Architecture, Config};
use crate::model::doctor::{self, BuildProbe, Check};
use crate::package::elf::GlibcVersion;
use crate::package::Installed;

/// The first line a program prints for `args`, when it runs and succeeds.
async fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

/// The cargo albkit runs: `$CARGO`, else `cargo` from PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// This machine's glibc: `getconf GNU_LIBC_VERSION` prints `glibc 2.39`.
async fn glibc() -> Option<GlibcVersion> {
    let line = first_line("getconf", &["GNU_LIBC_VERSION"]).await?;
    let version = line.strip_prefix("glibc ")?;
    GlibcVersion::parse(&format!("GLIBC_{version}"))
}

/// One check per function: the builder albkit would use and what it lacks.
pub(super) async fn build_checks(config: &Config, cargo_version: Option<&str>) -> Vec<Check> {
    let (rustup, glibc, installed) = tokio::join!(
        first_line("rustup", &["--version"]),
        glibc(),
        installed(config)
    );
    let forced = std::env::var("ALBKIT_BUILDER")
        .ok()
        .filter(|v| !v.is_empty());
    config
        .functions
        .iter()
        .map(|f| {
            let found = installed
                .iter()
                .find(|(a, _)| *a == f.architecture)
                .map(|(_, i)| i);
            let probe = BuildProbe {
                cargo: cargo_version.is_some(),
                rustup: rustup.is_some(),
                tools: found.map(|i| i.tools).unwrap_or_default(),
                target_std: found.is_some_and(|i| i.target_std),
                cross_linker: found.is_some_and(|i| i.cross_linker),
                glibc,
                forced: forced.clone(),
            };
            doctor::build(&f.name, f.architecture, &probe)
        })
        .collect()
}

/// What is installed to build for each architecture of the functions (each once), the
/// way a build looks for it (albkit's tool directory included).
pub(super) async fn installed(config: &Config) -> Vec<(Architecture, Installed)> {
    let mut out: Vec<(Architecture, Installed)> = Vec::new();
    for arch in config.functions.iter().map(|f| f.architecture) {
        if !out.iter().any(|(a, _)| *a == arch) {
            out.push((arch, crate::package::installed(arch).await));
        }
    }
    out
}

/// `cargo --version`, when cargo runs.
pub(super) async fn cargo_version() -> Option<String> {
    first_line(&cargo(), &["--version"]).await
}

/// What `albkit dev` needs: cargo, and its default address free.
pub(super) fn dev_checks(cargo_version: Option<&str>) -> Vec<Check> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, crate::cli::DEV_PORT));
    // Bound and dropped at once: only whether the address can be bound now.
    let taken = std::net::TcpListener::bind(addr)
        .err()
        .map(|e| e.to_string());
    vec![
        doctor::dev_cargo(cargo_version),
        doctor::dev_port(&addr.to_string(), taken.as_deref()),
    ]
}
