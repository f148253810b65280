//! `albkit doctor --fix`: installs what the functions' builds lack, after asking (or
//! `--yes`): cargo-zigbuild and zig into a virtualenv in albkit's tool directory
//! ([`crate::package::tools`]), never into the system Python, then `rustup target add`
//! for each architecture whose target is missing. Runs python3, pip and rustup with the
//! environment of [`crate::package::install_command`]; no AWS call.
//! [`crate::model::doctor::fixes_needed`] decides what to do.

use std::path::Path;
use std::process::Stdio;

use crate::commands::confirm::confirm_change;
use crate::error::{Error, Result};
use crate::model::config::Config;
use crate::model::doctor::{self, Check, Fix};
use crate::package::{install_command, tools};

/// The fixes the builds need, made after confirmation, each reported like a check.
pub(super) async fn run(config: &Config, yes: bool, json: bool, quiet: bool) -> Result<Vec<Check>> {
    let found = super::machine::installed(config).await;
    let forced = std::env::var("ALBKIT_BUILDER")
        .ok()
        .filter(|v| !v.is_empty());
    let fixes = doctor::fixes_needed(&found, forced.as_deref());
    if fixes.is_empty() {
        return Ok(Vec::new());
    }
    let dir = tools::tool_dir();
    let shown = dir.as_ref().map_or_else(
        || "albkit's tool directory".to_string(),
        |d| d.display().to_string(),
    );
    let plan: Vec<String> = fixes.iter().map(|f| f.describe(&shown)).collect();
    let question = format!(
        "albkit doctor --fix will {}. Go ahead?",
        plan.join(", then ")
    );
    if !confirm_change(yes, &question, json, "this machine")? {
        return Err(Error::Other("cancelled: nothing was changed".into()));
    }
    let mut out = Vec::new();
    for (fix, what) in fixes.into_iter().zip(plan) {
        if !quiet {
            eprintln!("albkit doctor --fix: {what}");
        }
        out.push(apply(fix, dir.as_deref()).await);
    }
    Ok(out)
}

/// Makes one fix; its outcome as a check.
async fn apply(fix: Fix, dir: Option<&Path>) -> Check {
    let result = match (fix, dir) {
        (Fix::Builders, Some(dir)) => install_builders(dir).await,
        (Fix::Builders, None) => Err(
            "neither XDG_CACHE_HOME nor HOME is set (to an absolute path): albkit has no \
             cache directory for its tools"
                .to_string(),
        ),
        (Fix::Target(target), _) => {
            let mut cmd = install_command("rustup");
            cmd.args(["target", "add", target]);
            step(cmd, &format!("rustup target add {target}"))
                .await
                .map(|_| format!("the Rust target {target} is installed"))
        }
    };
    match result {
        Ok(what) => doctor::fix_done(fix, &what),
        Err(why) => {
            let manual = dir.map_or_else(
                || {
                    format!(
                        "`pip install {}` into a virtualenv",
                        tools::pins().join(" ")
                    )
                },
                tools::manual_install,
            );
            let other = match fix {
                Fix::Target(t) if t.starts_with("x86_64") => "arm64",
                _ => "x86_64",
            };
            doctor::fix_failed(fix, &why, &manual, other)
        }
    }
}

/// A fresh virtualenv in `<dir>/venv` with the pinned cargo-zigbuild and ziglang; what
/// it holds, once `cargo-zigbuild --version` runs from it.
async fn install_builders(dir: &Path) -> std::result::Result<String, String> {
    let venv = tools::venv(dir);
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| format!("could not remove the old {}: {e}", venv.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let mut cmd = install_command("python3");
    cmd.args(["-m", "venv"]).arg(&venv);
    step(cmd, &format!("python3 -m venv {}", venv.display())).await?;
    let pins = tools::pins();
    let mut cmd = install_command(venv.join("bin").join("python"));
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
    ])
    .args(&pins);
    step(cmd, &format!("pip install {}", pins.join(" "))).await?;
    let cmd = {
        let mut c = install_command(tools::venv_bin(dir).join("cargo-zigbuild"));
        c.arg("--version");
        c
    };
    let version = step(cmd, "cargo-zigbuild --version").await?;
    Ok(format!(
        "{version} and zig ({}) in {}",
        pins.iter()
            .find(|p| p.starts_with("ziglang"))
            .unwrap_or(&"ziglang"),
        venv.display()
    ))
}

/// Runs `cmd` (shown as `what`); its first line of output, or why it failed with the end
/// of what it wrote on stderr.
async fn step(mut cmd: tokio::process::Command, what: &str) -> std::result::Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("could not run `{what}`: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Without rustup's backtrace (with RUST_BACKTRACE set) and progress lines.
        let text = stderr.split("Stack backtrace:").next().unwrap_or_default();
        let tail: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("info:"))
            .rev()
            .take(5)
            .collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`{what}` exited with {}: {}",
            out.status,
            tail.join(" / ")
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(stdout.lines().next().unwrap_or_default().trim().to_string())
}
