//! Builds a function crate and packages its binary as `bootstrap` in a deterministic zip.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::model::config::{Architecture, FunctionSettings};

pub mod elf;
pub mod tools;
pub mod workspace;

use workspace::CrateInfo;

/// A built function, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub function: String,
    pub zip: Vec<u8>,
    /// Base64 SHA-256 of the zip, the way Lambda reports `CodeSha256`.
    pub sha256: String,
    pub bootstrap: PathBuf,
    pub bootstrap_size: u64,
    /// How it was built.
    pub builder: Builder,
    /// Symbol versions the bootstrap needs from shared libraries (`GLIBC_2.34`, ...);
    /// empty for a static (musl) binary.
    pub required_versions: Vec<String>,
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
    #[error("function `{function}`: the bootstrap needs glibc {needed}, but Lambda's provided.al2023 runtime has {runtime}: it would fail to start there")]
    GlibcTooNew {
        function: String,
        needed: String,
        runtime: String,
        builder: Builder,
    },
    #[error("function `{function}`: {arch} needs a linker for {target}, and none was found")]
    NoCrossLinker {
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
                "run `albkit doctor --fix`, which installs cargo-zigbuild and zig into albkit's tool directory and runs `rustup target add {target}`; or by hand: `rustup target add {target}` and {}; or set architecture = \"{}\"",
                manual_zigbuild(),
                host_architecture().map_or("x86_64", |a| a.as_str())
            ),
            BuildError::Package { .. } => "check that the disk is writable and has room".into(),
            BuildError::GlibcTooNew { builder, .. } => format!(
                "it was built with {} against this machine's newer glibc. Build for an old glibc instead: install cargo-lambda (`pip install cargo-lambda` or `cargo install cargo-lambda`) or cargo-zigbuild (`cargo install cargo-zigbuild` and zig), or a static musl build (`rustup target add x86_64-unknown-linux-musl`); albkit uses whichever is installed. Or build on Amazon Linux 2023 (or any glibc <= 2.34)",
                builder.describe()
            ),
            BuildError::NoCrossLinker { target, .. } => format!(
                "run `albkit doctor --fix`, which installs cargo-zigbuild and zig (they cross-compile) into albkit's tool directory; or by hand: {}, or a cross linker (`apt-get install gcc-aarch64-linux-gnu`) together with `rustup target add {target}`; or set architecture = \"{}\"",
                manual_zigbuild(),
                host_architecture().map_or("x86_64", |a| a.as_str())
            ),
        }
    }
}

/// How to install cargo-zigbuild and zig by hand where `doctor --fix` would.
fn manual_zigbuild() -> String {
    match tools::tool_dir() {
        Some(dir) => tools::manual_install(&dir),
        None => format!(
            "`pip install {}` into a virtualenv whose bin directory is on PATH",
            tools::pins().join(" ")
        ),
    }
}

pub fn host_architecture() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

/// How a function is compiled, best first: tools that target an old glibc, then a
/// static musl build, then plain cargo (checked afterwards for the glibc it needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Builder {
    /// `cargo lambda build`: links against an old glibc with zig, cross-compiles.
    CargoLambda,
    /// `cargo zigbuild --target <triple>.2.17`: the same with cargo-zigbuild.
    Zigbuild,
    /// `cargo build --target <arch>-unknown-linux-musl`: static, needs no glibc.
    Musl,
    /// `cargo build`: this machine's glibc.
    Cargo,
}

impl Builder {
    pub fn describe(&self) -> &'static str {
        match self {
            Builder::CargoLambda => "cargo lambda build",
            Builder::Zigbuild => "cargo zigbuild",
            Builder::Musl => "a static musl build",
            Builder::Cargo => "plain cargo build",
        }
    }
}

/// What is installed on this machine for a given architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toolbox {
    pub cargo_lambda: bool,
    pub zigbuild: bool,
    /// The Rust standard library for `<arch>-unknown-linux-musl`.
    pub musl_std: bool,
    /// Whether the function's architecture is this machine's.
    pub native: bool,
}

/// Picks the builder (pure). `forced` is `ALBKIT_BUILDER` (lambda, zigbuild, musl, cargo).
pub fn choose_builder(tools: &Toolbox, forced: Option<&str>) -> Builder {
    match forced {
        Some("lambda" | "cargo-lambda") => return Builder::CargoLambda,
        Some("zigbuild" | "zig") => return Builder::Zigbuild,
        Some("musl") => return Builder::Musl,
        Some("cargo") => return Builder::Cargo,
        _ => {}
    }
    if tools.cargo_lambda {
        Builder::CargoLambda
    } else if tools.zigbuild {
        Builder::Zigbuild
    } else if tools.musl_std && tools.native {
        Builder::Musl
    } else {
        Builder::Cargo
    }
}

/// The cargo arguments (after the `cargo` program) for a builder.
pub fn cargo_args(builder: Builder, arch: Architecture, native: bool) -> Vec<String> {
    let mut args: Vec<String> = match builder {
        Builder::CargoLambda => vec![
            "lambda".into(),
            "build".into(),
            if arch == Architecture::Arm64 {
                "--arm64".into()
            } else {
                "--x86-64".into()
            },
        ],
        // The `.2.17` suffix makes zig link against glibc 2.17 symbols.
        Builder::Zigbuild => vec![
            "zigbuild".into(),
            "--target".into(),
            format!("{}.2.17", arch.rust_target()),
        ],
        Builder::Musl => vec!["build".into(), "--target".into(), musl_target(arch).into()],
        Builder::Cargo if native => vec!["build".into()],
        Builder::Cargo => vec!["build".into(), "--target".into(), arch.rust_target().into()],
    };
    args.extend([
        "--release".to_string(),
        "--message-format=json-render-diagnostics".to_string(),
    ]);
    args
}

pub fn musl_target(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-musl",
        Architecture::Arm64 => "aarch64-unknown-linux-musl",
    }
}

/// Refuses a bootstrap that needs a newer glibc than Lambda's `provided.al2023` has.
pub fn check_runtime(a: &Artifact) -> Result<(), BuildError> {
    let too_new = elf::too_new(&a.required_versions, elf::AL2023_GLIBC);
    match too_new.last() {
        None => Ok(()),
        Some(newest) => Err(BuildError::GlibcTooNew {
            function: a.function.clone(),
            needed: newest.to_string(),
            runtime: elf::AL2023_GLIBC.to_string(),
            builder: a.builder,
        }),
    }
}

async fn succeeds(program: &str, args: &[&str]) -> bool {
    build_command(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Where cargo, run the way a build runs it, looks for a subcommand `cargo-<name>`:
/// cargo's home and the build's `PATH`. Looking there on disk replaces running `cargo
/// <name> --version` through rustup's proxies (20–90 ms each).
fn build_subcommand_dirs() -> Vec<PathBuf> {
    let home = tools::cargo_home_from(
        std::env::var_os("CARGO_HOME").as_deref(),
        std::env::var_os("HOME").as_deref(),
    );
    tools::subcommand_dirs(home.as_deref(), build_path().as_deref())
}

/// Everything [`choose_builder`] picks from, each probed (`albkit doctor`).
async fn toolbox(arch: Architecture) -> Toolbox {
    let dirs = build_subcommand_dirs();
    Toolbox {
        cargo_lambda: tools::has_subcommand("lambda", &dirs),
        zigbuild: tools::has_subcommand("zigbuild", &dirs),
        musl_std: target_installed(musl_target(arch)).await,
        native: host_architecture() == Some(arch),
    }
}

/// The builder of a build for `arch`, and what was found on the way: `ALBKIT_BUILDER`
/// when set, else the best installed. Probes no more than the choice needs: the musl
/// standard library (one `rustc --print sysroot`) is only looked for when neither
/// cargo-lambda nor cargo-zigbuild is there and the build is native.
async fn pick_builder(arch: Architecture) -> (Builder, Toolbox) {
    let mut tools = Toolbox {
        native: host_architecture() == Some(arch),
        ..Toolbox::default()
    };
    let forced = std::env::var("ALBKIT_BUILDER").ok();
    if let Some(forced) = forced.as_deref().filter(|v| !v.is_empty()) {
        return (choose_builder(&tools, Some(forced)), tools);
    }
    let dirs = build_subcommand_dirs();
    tools.cargo_lambda = tools::has_subcommand("lambda", &dirs);
    tools.zigbuild = tools::has_subcommand("zigbuild", &dirs);
    if !tools.cargo_lambda && !tools.zigbuild && tools.native {
        tools.musl_std = target_installed(musl_target(arch)).await;
    }
    (choose_builder(&tools, None), tools)
}

/// What is installed on this machine to build for one architecture (`albkit doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    /// What [`choose_builder`] picks from.
    pub tools: Toolbox,
    /// The standard library of the architecture's gnu target (cargo-zigbuild and plain
    /// cross builds need it).
    pub target_std: bool,
    /// A C compiler that links for the architecture (plain cross builds need it).
    pub cross_linker: bool,
}

/// Probes what [`build`] would find for `arch`, the way it looks for it.
pub async fn installed(arch: Architecture) -> Installed {
    let (tools, target_std, cross_linker) = tokio::join!(
        toolbox(arch),
        target_installed(arch.rust_target()),
        cross_linker(arch),
    );
    Installed {
        tools,
        target_std,
        cross_linker: cross_linker.is_some(),
    }
}

/// A C compiler that links for `target` on this machine, for plain cross builds.
async fn cross_linker(arch: Architecture) -> Option<&'static str> {
    let candidate = match arch {
        Architecture::Arm64 => "aarch64-linux-gnu-gcc",
        Architecture::X86_64 => "x86_64-linux-gnu-gcc",
    };
    succeeds(candidate, &["--version"])
        .await
        .then_some(candidate)
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

/// The bytes of the `bootstrap` in a Lambda zip: it must be there, a file, and
/// executable (Lambda starts it as the runtime). The error says what is wrong.
pub fn unzip_bootstrap(zip: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a zip file ({e})"))?;
    let mut entry = archive
        .by_name("bootstrap")
        .map_err(|_| "it holds no `bootstrap` at its root".to_string())?;
    if !entry.is_file() {
        return Err("its `bootstrap` is not a file".into());
    }
    if entry.unix_mode().is_some_and(|m| m & 0o111 == 0) {
        return Err("its `bootstrap` is not executable: Lambda could not start it".into());
    }
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("its `bootstrap` could not be read ({e})"))?;
    Ok(bytes)
}

pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Variables a function build keeps from albkit's environment, by exact name: what cargo,
/// rustc, a C toolchain, a proxy and a terminal need. Everything else (AWS credentials,
/// CI tokens, albkit's own settings) is left out: build scripts and proc-macros of every
/// dependency of the function run with this environment, and `plan` builds.
const BUILD_ENV_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TMP",
    "TEMP",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "TZ",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "RUST_BACKTRACE",
    "RUST_MIN_STACK",
    "CC",
    "CXX",
    "AR",
    "LD",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "CPPFLAGS",
    "PKG_CONFIG",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_SYSROOT_DIR",
    "SDKROOT",
    "ZIG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
];

/// Variables a function build keeps by prefix: cargo's and rustup's own settings, and
/// the per-target C toolchain settings of the `cc` crate (`CC_aarch64_unknown_linux_gnu`).
const BUILD_ENV_PREFIXES: &[&str] = &[
    "CARGO_",
    "RUSTUP_",
    "CC_",
    "CXX_",
    "AR_",
    "CFLAGS_",
    "CXXFLAGS_",
    "TARGET_CC",
    "TARGET_CXX",
    "TARGET_AR",
    "PKG_CONFIG_",
    "SCCACHE_",
    "ZIG_",
];

/// Whether a variable of albkit's environment reaches a function build. Pure.
pub fn kept_for_build(name: &str) -> bool {
    BUILD_ENV_NAMES.contains(&name) || BUILD_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// A `cargo` (or cargo subcommand) process with only [`kept_for_build`]'s variables, and
/// albkit's tool directory (what `albkit doctor --fix` installed) first on its `PATH`.
fn build_command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(kept_for_build)));
    if let Some(path) = build_path() {
        cmd.env("PATH", path);
    }
    cmd
}

/// The `PATH` of a build's processes: albkit's tool directory first, then albkit's own.
fn build_path() -> Option<std::ffi::OsString> {
    let path = std::env::var_os("PATH");
    match tools::installed_bin() {
        Some(bin) => Some(tools::path_with_first(&bin, path.as_deref())),
        None => path,
    }
}

/// Whether a variable of albkit's environment reaches the installs of `albkit doctor
/// --fix` (python3, pip, rustup): a build's, and pip's and pyenv's settings (`PIP_INDEX_URL`,
/// `PIP_FIND_LINKS`). Pure.
pub fn kept_for_install(name: &str) -> bool {
    kept_for_build(name) || ["PIP_", "PYENV_"].iter().any(|p| name.starts_with(p))
}

/// A process for `albkit doctor --fix` with only [`kept_for_install`]'s variables.
pub fn install_command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(kept_for_install)));
    cmd
}

/// The executables in cargo's JSON messages, each with the manifest of the crate that
/// made it, in the order cargo reported them. Pure.
fn executables_from_messages(stdout: &str) -> Vec<(PathBuf, PathBuf)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let exe = m["executable"].as_str()?;
            let manifest = m["manifest_path"].as_str().unwrap_or_default();
            Some((PathBuf::from(manifest), PathBuf::from(exe)))
        })
        .collect()
}

/// Where `cargo lambda build` leaves the binary that cargo reported at `executable`
/// (`<target>/<triple>/release/<name>`): it moves it to `<target>/lambda/<name>/bootstrap`
/// once cargo is done. Pure.
pub fn cargo_lambda_bootstrap(executable: &Path) -> Option<PathBuf> {
    let name = executable.file_name()?;
    let target_dir = executable.parent()?.parent()?.parent()?;
    Some(target_dir.join("lambda").join(name).join("bootstrap"))
}

/// The target directory a function's build is given: the project's shared one
/// (`f.target_dir`), unless `CARGO_TARGET_DIR` (`env`) already names one, which cargo
/// then uses. Pure.
pub fn shared_target_dir<'f>(
    f: &'f FunctionSettings,
    env: Option<&std::ffi::OsStr>,
) -> Option<&'f Path> {
    env.is_none_or(std::ffi::OsStr::is_empty)
        .then_some(f.target_dir.as_path())
}

/// `cargo` (or `$CARGO`) for a build of `f`, in the project's shared target directory
/// (see [`shared_target_dir`]), with [`build_command`]'s environment.
fn function_cargo(f: &FunctionSettings) -> tokio::process::Command {
    let mut cmd = build_command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    if let Some(dir) = shared_target_dir(f, std::env::var_os("CARGO_TARGET_DIR").as_deref()) {
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    cmd
}

/// Functions that one cargo run builds: those whose crates are in one cargo workspace
/// (see [`workspace`]), for one architecture. Functions of the same crate share its
/// binary.
#[derive(Debug)]
pub struct BuildGroup<'f> {
    /// The `Cargo.toml` cargo is given: the workspace root's, or the crate's own.
    pub root: PathBuf,
    pub architecture: Architecture,
    /// In config order.
    pub functions: Vec<&'f FunctionSettings>,
    /// Each function's crate, in the order of `functions`.
    crates: Vec<CrateInfo>,
}

impl BuildGroup<'_> {
    /// The functions' names, joined for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }

    /// The packages to name with `-p` (each once, in config order): none when the group
    /// is one crate built from its own manifest, every crate's when the root is a
    /// workspace's (the root's own package included, when it is one of them).
    fn packages(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if self.crates.iter().all(|c| !c.in_workspace()) {
            return out;
        }
        for c in &self.crates {
            if let Some(p) = c.package.as_deref() {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }
}

/// The functions grouped by the cargo run that builds them: the crates of one workspace
/// for one architecture are one `cargo build -p … -p …`, and functions of the same crate
/// (the same code with other settings) share its build. In config order, each group in
/// config order too. Reads the crates' manifests from disk.
pub fn build_groups(functions: &[FunctionSettings]) -> Vec<BuildGroup<'_>> {
    group_by_workspace(functions, |p| std::fs::read_to_string(p).ok())
}

/// [`build_groups`] with the manifests read through `read`. Pure.
fn group_by_workspace(
    functions: &[FunctionSettings],
    read: impl Fn(&Path) -> Option<String>,
) -> Vec<BuildGroup<'_>> {
    let mut groups: Vec<BuildGroup<'_>> = Vec::new();
    for f in functions {
        let info = workspace::locate(&f.path, &read);
        let same = groups
            .iter_mut()
            .find(|g| g.root == info.root && g.architecture == f.architecture);
        match same {
            Some(g) => {
                g.functions.push(f);
                g.crates.push(info);
            }
            None => groups.push(BuildGroup {
                root: info.root.clone(),
                architecture: f.architecture,
                functions: vec![f],
                crates: vec![info],
            }),
        }
    }
    groups
}

/// Builds the function in release mode for its architecture and packages it, with the
/// best builder installed (see [`choose_builder`]).
pub async fn build(f: &FunctionSettings) -> Result<Artifact, BuildError> {
    let mut groups = build_groups(std::slice::from_ref(f));
    let mut built = match groups.pop() {
        Some(group) => build_group(&group).await?,
        None => Vec::new(),
    };
    built.pop().ok_or_else(|| BuildError::NoBinary {
        function: f.name.clone(),
        path: f.path.display().to_string(),
    })
}

/// Builds a group's crates in release mode for its architecture, in one cargo run with
/// the best builder installed (see [`choose_builder`]), and packages each function's
/// binary: one artifact per function, in the group's order.
pub async fn build_group(group: &BuildGroup<'_>) -> Result<Vec<Artifact>, BuildError> {
    let Some(f) = group.functions.first() else {
        return Ok(Vec::new());
    };
    let arch = group.architecture;
    let names = group.names();
    let (builder, tools) = pick_builder(arch).await;
    let mut cmd = function_cargo(f);
    cmd.args(cargo_args(builder, arch, tools.native))
        .arg("--manifest-path")
        .arg(&group.root);
    for p in group.packages() {
        cmd.args(["-p", p]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    check_toolchain(builder, arch, &tools, &names, &mut cmd).await?;
    let root_dir = group.root.parent().unwrap_or(&group.root);
    let stdout = run_cargo(&names, root_dir, cmd).await?;
    let executables = executables_from_messages(&stdout);
    let mut built: Vec<Artifact> = Vec::with_capacity(group.functions.len());
    for (f, c) in group.functions.iter().zip(&group.crates) {
        let Some(mut bootstrap) = executable_of(&executables, group, c) else {
            return Err(BuildError::NoBinary {
                function: f.name.clone(),
                path: f.path.display().to_string(),
            });
        };
        if builder == Builder::CargoLambda && !bootstrap.exists() {
            bootstrap = cargo_lambda_bootstrap(&bootstrap).unwrap_or(bootstrap);
        }
        // Functions of one crate share its binary: it is read, hashed and zipped once.
        let artifact = match built.iter().find(|a| a.bootstrap == bootstrap) {
            Some(same) => Artifact {
                function: f.name.clone(),
                ..same.clone()
            },
            None => Artifact {
                builder,
                ..package(&f.name, &bootstrap)?
            },
        };
        built.push(artifact);
    }
    Ok(built)
}

/// Refuses a build whose builder lacks the target's standard library or, for a plain
/// cross build, a linker (which it then gives cargo). What `tools` already found is not
/// looked for again.
async fn check_toolchain(
    builder: Builder,
    arch: Architecture,
    tools: &Toolbox,
    names: &str,
    cmd: &mut tokio::process::Command,
) -> Result<(), BuildError> {
    let missing = |target: &'static str| BuildError::MissingTarget {
        function: names.to_string(),
        arch: arch.as_str(),
        target,
    };
    match builder {
        // cargo-zigbuild links with zig, but compiles against the target's std.
        Builder::Zigbuild if !target_installed(arch.rust_target()).await => {
            Err(missing(arch.rust_target()))
        }
        Builder::Musl if !tools.musl_std && !target_installed(musl_target(arch)).await => {
            Err(missing(musl_target(arch)))
        }
        Builder::Cargo if !tools.native => {
            if !target_installed(arch.rust_target()).await {
                return Err(missing(arch.rust_target()));
            }
            let Some(linker) = cross_linker(arch).await else {
                return Err(BuildError::NoCrossLinker {
                    function: names.to_string(),
                    arch: arch.as_str(),
                    target: arch.rust_target(),
                });
            };
            let var = format!(
                "CARGO_TARGET_{}_LINKER",
                arch.rust_target().to_ascii_uppercase().replace('-', "_")
            );
            cmd.env(var, linker);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The executable cargo made for crate `c` of `group`, from its messages: the last one
/// of the crate's manifest, or, for a crate built from its own manifest, the last one
/// cargo reported whatever path it gave the manifest.
fn executable_of(
    executables: &[(PathBuf, PathBuf)],
    group: &BuildGroup<'_>,
    c: &CrateInfo,
) -> Option<PathBuf> {
    let alone = group.crates.iter().all(|c| !c.in_workspace());
    executables
        .iter()
        .rev()
        .find(|(manifest, _)| same_file(manifest, &c.manifest))
        .or_else(|| executables.last().filter(|_| alone))
        .map(|(_, exe)| exe.clone())
}

/// Whether two paths name one file: equal, or equal once resolved on disk.
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Which cargo profile a local build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (fast to build; what `albkit dev` uses by default).
    Debug,
    /// `cargo build --release` (what is deployed).
    Release,
}

/// Builds the function for the machine albkit runs on, to run it locally (`albkit
/// dev`), whatever its Lambda architecture; returns the executable's path.
pub async fn build_for_host(f: &FunctionSettings, profile: Profile) -> Result<PathBuf, BuildError> {
    let mut cmd = function_cargo(f);
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
    let stdout = run_cargo(&f.name, &f.path, cmd).await?;
    executables_from_messages(&stdout)
        .pop()
        .map(|(_, exe)| exe)
        .ok_or_else(|| BuildError::NoBinary {
            function: f.name.clone(),
            path: f.path.display().to_string(),
        })
}

/// Runs a prepared cargo build for the functions `names` (for messages) of the crate or
/// workspace in `dir`; returns cargo's JSON messages.
async fn run_cargo(
    names: &str,
    dir: &Path,
    mut cmd: tokio::process::Command,
) -> Result<String, BuildError> {
    let out = cmd.output().await.map_err(|source| BuildError::Spawn {
        function: names.to_string(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        return Err(BuildError::Cargo {
            function: names.to_string(),
            path: dir.display().to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Packages an already built binary.
pub fn package(function: &str, bootstrap: &Path) -> Result<Artifact, BuildError> {
    let err = |source| BuildError::Package {
        function: function.to_string(),
        path: bootstrap.display().to_string(),
        source,
    };
    let bytes = std::fs::read(bootstrap).map_err(err)?;
    let (zip, sha256) = cached_zip(bootstrap, &bytes).map_err(err)?;
    // Not an ELF file (a script bootstrap) or unreadable headers: nothing to check.
    let required_versions = elf::required_versions(&bytes).unwrap_or_default();
    Ok(Artifact {
        function: function.to_string(),
        sha256,
        bootstrap: bootstrap.to_path_buf(),
        bootstrap_size: bytes.len() as u64,
        builder: Builder::Cargo,
        required_versions,
        zip,
    })
}

/// The zip of `bytes`, the bootstrap at `bootstrap`, and its SHA-256 (base64), reused from
/// the last packaging of the same bytes when there is one. Deflating a 2 MB binary at
/// level 9 is most of what an unchanged build costs (`deploy` builds before it can tell
/// whether the code changed). The zip is kept beside the bootstrap as
/// `bootstrap.albkit.zip` with `bootstrap.albkit.zip.stamp`: the SHA-256 of the bootstrap
/// it holds and its own. It is reused only when both match, and [`zip_bootstrap`] is
/// deterministic, so a reused zip is byte for byte the one it would make. A cache that
/// cannot be read or written is ignored.
fn cached_zip(bootstrap: &Path, bytes: &[u8]) -> std::io::Result<(Vec<u8>, String)> {
    let zip_path = PathBuf::from(format!("{}.albkit.zip", bootstrap.display()));
    let stamp_path = PathBuf::from(format!("{}.albkit.zip.stamp", bootstrap.display()));
    let key = hex::encode(Sha256::digest(bytes));
    if let (Ok(stamp), Ok(zip)) = (
        std::fs::read_to_string(&stamp_path),
        std::fs::read(&zip_path),
    ) {
        let sha256 = sha256_base64(&zip);
        if stamp.split_whitespace().eq([key.as_str(), sha256.as_str()]) {
            return Ok((zip, sha256));
        }
    }
    let zip = zip_bootstrap(bytes)?;
    let sha256 = sha256_base64(&zip);
    // The zip first (written whole, then renamed), the stamp that vouches for it last.
    let partial = PathBuf::from(format!(
        "{}.albkit.zip.{}.partial",
        bootstrap.display(),
        std::process::id()
    ));
    let stored = std::fs::write(&partial, &zip)
        .and_then(|()| std::fs::rename(&partial, &zip_path))
        .and_then(|()| std::fs::write(&stamp_path, format!("{key} {sha256}\n")));
    if let Err(e) = stored {
        tracing::debug!(path = %zip_path.display(), "the zip is not cached: {e}");
    }
    Ok((zip, sha256))
}

async fn target_installed(target: &str) -> bool {
    let Ok(out) = build_command("rustc")
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

    #[test]
    fn an_unchanged_bootstrap_reuses_its_zip_and_a_changed_or_damaged_one_does_not() {
        let dir = tempfile::tempdir().expect("tmp");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, b"#!/bin/sh\necho one\n").expect("write");
        let first = super::package("f", &bootstrap).expect("package");
        let cached = dir.path().join("bootstrap.albkit.zip");
        assert_eq!(std::fs::read(&cached).expect("cached zip"), first.zip);
        // Reused: the cached file is what is returned.
        let again = super::package("f", &bootstrap).expect("package");
        assert_eq!(
            (again.zip.clone(), again.sha256.clone()),
            (first.zip.clone(), first.sha256.clone())
        );
        // A damaged cache is not trusted: the zip is made again.
        std::fs::write(&cached, b"garbage").expect("damage");
        let repaired = super::package("f", &bootstrap).expect("package");
        assert_eq!(repaired.zip, first.zip);
        assert_eq!(std::fs::read(&cached).expect("cached zip"), first.zip);
        // Other bytes, another zip.
        std::fs::write(&bootstrap, b"#!/bin/sh\necho two\n").expect("write");
        let changed = super::package("f", &bootstrap).expect("package");
        assert_ne!(changed.sha256, first.sha256);
        assert_eq!(
            changed.zip,
            super::zip_bootstrap(b"#!/bin/sh\necho two\n").expect("zip")
        );
    }

    #[test]
    fn a_build_keeps_the_toolchain_and_drops_credentials() {
        for kept in [
            "PATH",
            "HOME",
            "RUSTFLAGS",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "RUSTUP_TOOLCHAIN",
            "CC_aarch64_unknown_linux_gnu",
            "https_proxy",
        ] {
            assert!(kept_for_build(kept), "{kept}");
        }
        assert!(kept_for_install("PIP_FIND_LINKS") && kept_for_install("PATH"));
        assert!(!kept_for_build("PIP_FIND_LINKS"));
        for dropped in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "GITHUB_TOKEN",
            "CI_JOB_TOKEN",
            "ALBKIT_LOG",
            "NPM_TOKEN",
        ] {
            assert!(!kept_for_build(dropped), "{dropped}");
            assert!(!kept_for_install(dropped), "{dropped}");
        }
    }

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
    fn a_bootstrap_comes_back_out_of_its_zip() {
        let zip = zip_bootstrap(b"\x7fELF binary").expect("zip");
        assert_eq!(unzip_bootstrap(&zip).as_deref(), Ok(&b"\x7fELF binary"[..]));
        assert!(unzip_bootstrap(b"not a zip")
            .unwrap_err()
            .starts_with("not a zip file"));
        let mut other = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut other);
            let plain = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
            w.start_file("bootstrap", plain).expect("start");
            w.write_all(b"#!/bin/sh").expect("write");
            w.finish().expect("finish");
        }
        let err = unzip_bootstrap(other.get_ref()).unwrap_err();
        assert!(err.contains("not executable"), "{err}");
        let mut empty = Cursor::new(Vec::new());
        zip::ZipWriter::new(&mut empty).finish().expect("finish");
        let err = unzip_bootstrap(empty.get_ref()).unwrap_err();
        assert!(err.contains("no `bootstrap`"), "{err}");
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

    /// The config of a project holding the crates `functions/a` and `functions/b`, with
    /// one function per `(name, path, architecture)`; the project's directory beside it.
    fn project_of(
        functions: &[(&str, &str, &str)],
    ) -> (tempfile::TempDir, crate::model::config::Config) {
        let dir = tempfile::tempdir().expect("tempdir");
        for c in ["a", "b"] {
            let crate_dir = dir.path().join("functions").join(c);
            std::fs::create_dir_all(&crate_dir).expect("mkdir");
            std::fs::write(crate_dir.join("Cargo.toml"), "[package]\n").expect("write");
        }
        let mut text = String::from("[stack]\nname = \"s\"\n");
        for (i, (name, path, arch)) in functions.iter().enumerate() {
            text.push_str(&format!(
                "[[functions]]\nname = \"{name}\"\npath = \"{path}\"\narchitecture = \"{arch}\"\n[[functions.routes]]\npriority = {}\npaths = [\"/{name}\"]\n",
                i + 1
            ));
        }
        let config = crate::model::validate::parse_str(&text, dir.path()).expect("config");
        (dir, config)
    }

    #[test]
    fn the_projects_functions_share_a_target_directory_unless_cargo_is_told_one() {
        let (dir, config) = project_of(&[
            ("a", "functions/a", "x86_64"),
            ("b", "functions/b", "x86_64"),
        ]);
        let [a, b] = [&config.functions[0], &config.functions[1]];
        let shared = dir.path().canonicalize().expect("canonical").join("target");
        assert_eq!(shared_target_dir(a, None), Some(shared.as_path()));
        assert_eq!(shared_target_dir(b, None), shared_target_dir(a, None));
        let empty = std::ffi::OsString::new();
        assert_eq!(shared_target_dir(a, Some(&empty)), Some(shared.as_path()));
        let mine = std::ffi::OsString::from("/somewhere/else");
        assert_eq!(
            shared_target_dir(a, Some(&mine)),
            None,
            "CARGO_TARGET_DIR wins"
        );
    }

    #[test]
    fn functions_of_one_crate_and_architecture_share_a_build() {
        let (_dir, config) = project_of(&[
            ("one", "functions/a", "x86_64"),
            ("two", "functions/b", "x86_64"),
            ("three", "./functions/a/", "x86_64"),
            ("four", "functions/a", "arm64"),
            ("five", "functions/b", "x86_64"),
        ]);
        let groups: Vec<Vec<&str>> = build_groups(&config.functions)
            .iter()
            .map(|g| g.functions.iter().map(|f| f.name.as_str()).collect())
            .collect();
        assert_eq!(
            groups,
            [vec!["one", "three"], vec!["two", "five"], vec!["four"]]
        );
    }

    #[test]
    fn the_crates_of_one_workspace_are_one_cargo_run_per_architecture() {
        let (dir, config) = project_of(&[
            ("one", "functions/a", "x86_64"),
            ("two", "functions/b", "x86_64"),
            ("three", "functions/a", "arm64"),
            ("four", "functions/a", "x86_64"),
        ]);
        let write = |path: &str, text: &str| {
            std::fs::write(dir.path().join(path), text).expect("write");
        };
        write("Cargo.toml", "[workspace]\nmembers = [\"functions/*\"]\n");
        write("functions/a/Cargo.toml", "[package]\nname = \"s-a\"\n");
        write("functions/b/Cargo.toml", "[package]\nname = \"s-b\"\n");
        let groups = build_groups(&config.functions);
        let root = dir
            .path()
            .canonicalize()
            .expect("canonical")
            .join("Cargo.toml");
        let seen: Vec<(String, Architecture, Vec<&str>)> = groups
            .iter()
            .map(|g| (g.names(), g.architecture, g.packages()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "one, two, four".into(),
                    Architecture::X86_64,
                    vec!["s-a", "s-b"]
                ),
                ("three".into(), Architecture::Arm64, vec!["s-a"]),
            ]
        );
        assert!(groups.iter().all(|g| g.root == root));

        // A root that is itself a function's crate is named too.
        write(
            "Cargo.toml",
            "[package]\nname = \"s-root\"\n\n[workspace]\nmembers = [\"functions/*\"]\n",
        );
        let mut with_root = config.functions.clone();
        with_root[2].path = dir.path().canonicalize().expect("canonical");
        with_root[2].architecture = Architecture::X86_64;
        let groups = build_groups(&with_root);
        let seen: Vec<(String, Vec<&str>)> =
            groups.iter().map(|g| (g.names(), g.packages())).collect();
        assert_eq!(
            seen,
            [("one, two, three, four".into(), vec!["s-a", "s-b", "s-root"])]
        );

        // Without the workspace, each crate is its own run, from its own manifest.
        std::fs::remove_file(dir.path().join("Cargo.toml")).expect("rm");
        let groups = build_groups(&config.functions);
        let seen: Vec<(String, usize)> = groups
            .iter()
            .map(|g| (g.names(), g.packages().len()))
            .collect();
        assert_eq!(
            seen,
            [
                ("one, four".into(), 0),
                ("two".into(), 0),
                ("three".into(), 0)
            ]
        );
    }

    #[test]
    fn builder_preference_and_arguments() {
        let none = Toolbox {
            native: true,
            ..Toolbox::default()
        };
        assert_eq!(choose_builder(&none, None), Builder::Cargo);
        let musl = Toolbox {
            musl_std: true,
            ..none
        };
        assert_eq!(choose_builder(&musl, None), Builder::Musl);
        // musl is only used natively (a cross musl build needs a linker too).
        assert_eq!(
            choose_builder(
                &Toolbox {
                    native: false,
                    ..musl
                },
                None
            ),
            Builder::Cargo
        );
        let zig = Toolbox {
            zigbuild: true,
            ..musl
        };
        assert_eq!(choose_builder(&zig, None), Builder::Zigbuild);
        let lambda = Toolbox {
            cargo_lambda: true,
            ..zig
        };
        assert_eq!(choose_builder(&lambda, None), Builder::CargoLambda);
        assert_eq!(choose_builder(&lambda, Some("cargo")), Builder::Cargo);
        assert_eq!(choose_builder(&none, Some("musl")), Builder::Musl);

        assert_eq!(
            cargo_args(Builder::Zigbuild, Architecture::Arm64, false)[..3],
            ["zigbuild", "--target", "aarch64-unknown-linux-gnu.2.17"]
        );
        assert_eq!(
            cargo_args(Builder::CargoLambda, Architecture::Arm64, false)[..3],
            ["lambda", "build", "--arm64"]
        );
        assert_eq!(
            cargo_args(Builder::Musl, Architecture::X86_64, true)[..3],
            ["build", "--target", "x86_64-unknown-linux-musl"]
        );
        assert_eq!(
            cargo_args(Builder::Cargo, Architecture::X86_64, true)[..2],
            ["build", "--release"]
        );
        assert!(cargo_args(Builder::Cargo, Architecture::Arm64, false)
            .contains(&"aarch64-unknown-linux-gnu".to_string()));
    }

    #[test]
    fn runtime_check_refuses_a_too_new_glibc() {
        let mut a = package("f", &std::env::current_exe().expect("exe")).expect("package");
        a.required_versions = vec!["GLIBC_2.2.5".into(), "GLIBC_2.34".into()];
        assert!(check_runtime(&a).is_ok());
        a.required_versions.push("GLIBC_2.36".into());
        let e = check_runtime(&a).expect_err("refused");
        assert!(e.to_string().contains("glibc 2.36"), "{e}");
        assert!(e.help().contains("cargo-zigbuild"), "{}", e.help());
        a.required_versions.clear();
        assert!(check_runtime(&a).is_ok());
    }

    #[test]
    fn an_arm64_refusal_says_what_to_run() {
        let missing = BuildError::MissingTarget {
            function: "api".into(),
            arch: "arm64",
            target: "aarch64-unknown-linux-gnu",
        };
        let no_linker = BuildError::NoCrossLinker {
            function: "api".into(),
            arch: "arm64",
            target: "aarch64-unknown-linux-gnu",
        };
        for e in [missing, no_linker] {
            let help = e.help();
            assert!(help.starts_with("run `albkit doctor --fix`"), "{help}");
            assert!(
                help.contains("rustup target add aarch64-unknown-linux-gnu"),
                "{help}"
            );
            assert!(
                help.contains("cargo-zigbuild==") && help.contains("ziglang=="),
                "{help}"
            );
        }
    }

    #[test]
    fn finds_where_cargo_lambda_moved_the_binary() {
        assert_eq!(
            cargo_lambda_bootstrap(Path::new(
                "/p/target/x86_64-unknown-linux-gnu/release/shop-hello"
            )),
            Some(PathBuf::from("/p/target/lambda/shop-hello/bootstrap"))
        );
        assert_eq!(cargo_lambda_bootstrap(Path::new("shop-hello")), None);
    }

    #[test]
    fn finds_the_executable_in_cargo_messages() {
        let msgs = r#"{"reason":"compiler-artifact","manifest_path":"/r/Cargo.toml","executable":null}
{"reason":"compiler-artifact","manifest_path":"/p/a/Cargo.toml","executable":"/t/release/a"}
not json: cargo-lambda's own line
{"reason":"compiler-artifact","manifest_path":"/p/b/Cargo.toml","executable":"/t/release/b"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executables_from_messages(msgs),
            [
                (
                    PathBuf::from("/p/a/Cargo.toml"),
                    PathBuf::from("/t/release/a")
                ),
                (
                    PathBuf::from("/p/b/Cargo.toml"),
                    PathBuf::from("/t/release/b")
                ),
            ]
        );
    }
}
