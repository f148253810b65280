//! Builds a function crate and packages its binary as `bootstrap` in a deterministic zip.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::model::config::{Architecture, FunctionSettings};

/// A built function, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub function: String,
    pub zip: Vec<u8>,
    /// Base64 SHA-256 of the zip, the way Lambda reports `CodeSha256`.
    pub sha256: String,
    pub bootstrap: PathBuf,
    pub bootstrap_size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not run cargo for function `{function}`: {source}")]
    Spawn {
        function: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cargo build failed for function `{function}` ({path}):\n{output}")]
    Cargo {
        function: String,
        path: String,
        output: String,
    },
    #[error("function `{function}`: cargo built no executable in {path}")]
    NoBinary { function: String, path: String },
    #[error(
        "function `{function}`: {arch} needs the Rust target {target}, which is not installed"
    )]
    MissingTarget {
        function: String,
        arch: &'static str,
        target: &'static str,
    },
    #[error("function `{function}`: could not package {path}: {source}")]
    Package {
        function: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    pub fn help(&self) -> String {
        match self {
            BuildError::Spawn { .. } => "install Rust with rustup (https://rustup.rs) so that `cargo` is on PATH".into(),
            BuildError::Cargo { path, .. } => format!("fix the build error above; `cargo build --release --manifest-path {path}/Cargo.toml` reproduces it"),
            BuildError::NoBinary { .. } => "the function crate needs a binary target (src/main.rs) that runs the Lambda runtime".into(),
            BuildError::MissingTarget { target, .. } => format!(
                "run `rustup target add {target}` and install a linker for it (or `cargo install cargo-lambda`), or set architecture = \"{}\"",
                host_architecture().map(|a| a.as_str()).unwrap_or("x86_64")
            ),
            BuildError::Package { .. } => "check that the disk is writable and has room".into(),
        }
    }
}

pub fn host_architecture() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

/// Zips `bootstrap` (the bytes of the binary) deterministically: fixed timestamp, fixed
/// permissions, one entry. The same binary always gives the same bytes and SHA-256.
pub fn zip_bootstrap(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o755);
        zip.start_file("bootstrap", options)
            .map_err(std::io::Error::other)?;
        zip.write_all(binary)?;
        zip.finish().map_err(std::io::Error::other)?;
    }
    Ok(out.into_inner())
}

pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Reads the executable path out of cargo's JSON messages.
fn executable_from_messages(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// Which cargo profile to build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (fast to build; what `albkit dev` uses by default).
    Debug,
    /// `cargo build --release` (what is deployed).
    Release,
}

/// Builds the function in release mode for its architecture and packages it.
pub async fn build(f: &FunctionSettings) -> Result<Artifact, BuildError> {
    let bootstrap = build_binary(f, Profile::Release, false).await?;
    package(&f.name, &bootstrap)
}

/// Builds the function's executable and returns its path. With `for_host`, it is built
/// for the machine albkit runs on (to run it locally), whatever the configured
/// architecture; otherwise for the function's Lambda architecture.
pub async fn build_binary(
    f: &FunctionSettings,
    profile: Profile,
    for_host: bool,
) -> Result<PathBuf, BuildError> {
    let path = f.path.display().to_string();
    let mut cmd =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("build");
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    cmd.arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(f.path.join("Cargo.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !for_host && host_architecture() != Some(f.architecture) {
        if !target_installed(f.architecture.rust_target()).await {
            return Err(BuildError::MissingTarget {
                function: f.name.clone(),
                arch: f.architecture.as_str(),
                target: f.architecture.rust_target(),
            });
        }
        cmd.arg("--target").arg(f.architecture.rust_target());
    }
    let out = cmd.output().await.map_err(|source| BuildError::Spawn {
        function: f.name.clone(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        return Err(BuildError::Cargo {
            function: f.name.clone(),
            path,
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    executable_from_messages(&stdout).ok_or_else(|| BuildError::NoBinary {
        function: f.name.clone(),
        path: path.clone(),
    })
}

/// Packages an already built binary.
pub fn package(function: &str, bootstrap: &Path) -> Result<Artifact, BuildError> {
    let err = |source| BuildError::Package {
        function: function.to_string(),
        path: bootstrap.display().to_string(),
        source,
    };
    let bytes = std::fs::read(bootstrap).map_err(err)?;
    let zip = zip_bootstrap(&bytes).map_err(err)?;
    Ok(Artifact {
        function: function.to_string(),
        sha256: sha256_base64(&zip),
        bootstrap: bootstrap.to_path_buf(),
        bootstrap_size: bytes.len() as u64,
        zip,
    })
}

async fn target_installed(target: &str) -> bool {
    let Ok(out) = tokio::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .stdin(Stdio::null())
        .output()
        .await
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_is_deterministic() {
        let a = zip_bootstrap(b"\x7fELF binary").expect("zip");
        let b = zip_bootstrap(b"\x7fELF binary").expect("zip");
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"\x7fELF other").expect("zip"));
        assert_eq!(sha256_base64(&a), sha256_base64(&b));
    }

    #[test]
    fn zip_holds_an_executable_bootstrap() {
        let bytes = zip_bootstrap(b"hello").expect("zip");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("readable");
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn sha256_is_base64_like_lambda() {
        // echo -n "" | sha256sum, base64-encoded
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn finds_the_executable_in_cargo_messages() {
        let msgs = r#"{"reason":"compiler-artifact","executable":null}
{"reason":"compiler-artifact","executable":"/t/release/hello"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_from_messages(msgs),
            Some(PathBuf::from("/t/release/hello"))
        );
    }
}
