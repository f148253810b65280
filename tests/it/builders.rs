//! Every builder albkit can pick, for real: the hello template built with
//! `ALBKIT_BUILDER=cargo|zigbuild|lambda|musl` for x86_64 and arm64 by `albkit build`,
//! then checked without albkit's own code: the zip holds one executable `bootstrap`, the
//! ELF machine is the architecture's (`readelf -h`) and the glibc it needs is at most
//! Lambda's 2.34 or none at all (`readelf -V`). An x86_64 bootstrap then answers a
//! request under `albkit invoke --local --zip`.
//!
//! cargo-lambda, cargo-zigbuild and zig come from target/tools/builders (pinned in
//! scripts/tools/builders-requirements.txt, installed by scripts/test, which also adds
//! the aarch64 standard library with rustup) and reach only these tests' albkit, never
//! the other tests' (which would then build with them). A cell whose toolchain this
//! machine lacks (a Rust standard library, a cross linker) is skipped with its reason
//! written to the test's stderr, uncaptured, so the run shows it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::json_output::assert_matches;
use crate::support::{albkit_command_at, run, Output, Project, ALBKIT_TIMEOUT, REPO};

/// Where scripts/test installs the builders.
fn builders_bin() -> PathBuf {
    Path::new(REPO).join("target/tools/builders/bin")
}

/// The newest glibc Lambda's provided.al2023 runtime has.
const LAMBDA_GLIBC: (u32, u32) = (2, 34);

#[derive(Clone, Copy, Debug)]
enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// What `readelf -h` calls its machine.
    fn readelf_machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "X86-64",
            Arch::Arm64 => "AArch64",
        }
    }

    fn gnu_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    fn musl_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    fn is_host(self) -> bool {
        match self {
            Arch::X86_64 => cfg!(target_arch = "x86_64"),
            Arch::Arm64 => cfg!(target_arch = "aarch64"),
        }
    }
}

/// Whether the Rust standard library for `target` is installed.
fn has_std(target: &str) -> bool {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

fn found(program: &Path) -> bool {
    program.is_file()
}

/// Why `builder` cannot build for `arch` on this machine; `None`: it can.
fn missing(builder: &str, arch: Arch) -> Option<String> {
    let std_missing = |target: &str| {
        (!has_std(target)).then(|| {
            format!(
                "the Rust standard library for {target} is not installed (scripts/test runs \
                 `rustup target add {target}`, which failed or was not run here)"
            )
        })
    };
    let tool = |name: &str| {
        let path = builders_bin().join(name);
        (!found(&path)).then(|| {
            format!(
                "{} is missing: scripts/test installs it (scripts/tools/builders-requirements.txt)",
                path.display()
            )
        })
    };
    match builder {
        "zigbuild" => tool("cargo-zigbuild").or_else(|| std_missing(arch.gnu_target())),
        "lambda" => tool("cargo-lambda").or_else(|| std_missing(arch.gnu_target())),
        "musl" if !arch.is_host() => Some(format!(
            "albkit's musl builder builds only for this machine's architecture, not {}",
            arch.name()
        )),
        "musl" => (!has_std(arch.musl_target())).then(|| {
            format!(
                "the Rust standard library for {t} is not installed: scripts/test does not \
                 add it, because with it albkit prefers a static musl build for every \
                 function and the rest of the suite builds with plain cargo (`rustup target \
                 add {t}` runs this cell)",
                t = arch.musl_target()
            )
        }),
        _ if arch.is_host() => None,
        _ => std_missing(arch.gnu_target()).or_else(|| {
            let linker = format!("{}-linux-gnu-gcc", arch.gnu_target().split('-').next()?);
            let found = Command::new(&linker).arg("--version").output().is_ok();
            (!found).then(|| {
                format!("a plain cargo cross build needs the linker {linker}, which is not installed (Debian: gcc-aarch64-linux-gnu)")
            })
        }),
    }
}

/// The hello template for `arch`.
fn project(stack: &str, arch: Arch) -> Project {
    let project = Project::from_template("hello", stack);
    let config = project.read("albkit.toml").replace(
        "path = \"functions/hello\"\n",
        &format!(
            "path = \"functions/hello\"\narchitecture = \"{}\"\n",
            arch.name()
        ),
    );
    project.with_config(&config);
    project
}

/// albkit with the builders on its PATH (first, so that `python3 -m ziglang` finds
/// the venv's zig) and `ALBKIT_BUILDER=builder`. No AWS call is made: the endpoint is
/// a closed loopback port.
fn albkit(project: &Project, builder: &str, args: &[&str]) -> Output {
    albkit_at("http://127.0.0.1:9", project, builder, args)
}

/// [`albkit`] against `endpoint`.
fn albkit_at(endpoint: &str, project: &Project, builder: &str, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(endpoint, project, "us-east-1");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![builders_bin()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"))
        .env("ALBKIT_BUILDER", builder)
        .args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

/// What `readelf` prints for `args` on `file`.
fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success(), "readelf {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The newest `GLIBC_x.y` that `readelf -V` lists; `None` for a static executable.
fn newest_glibc(versions: &str) -> Option<(u32, u32)> {
    versions
        .split(|c: char| c.is_whitespace())
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .max()
}

/// The one `bootstrap` of a Lambda zip, written out beside it; its unix mode.
fn unzip(zip: &Path) -> (PathBuf, u32) {
    let file = std::fs::File::open(zip).expect("the zip albkit wrote");
    let mut archive = zip::ZipArchive::new(file).expect("a zip file");
    assert_eq!(
        archive.len(),
        1,
        "one entry: {:?}",
        archive.file_names().collect::<Vec<_>>()
    );
    let mut entry = archive.by_name("bootstrap").expect("a bootstrap entry");
    let mode = entry.unix_mode().expect("unix permissions");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read bootstrap");
    let path = zip.with_file_name("bootstrap.unzipped");
    std::fs::write(&path, bytes).expect("write bootstrap");
    (path, mode)
}

/// Builds, checks and (x86_64 on an x86_64 machine) runs one cell.
fn cell(builder: &str, arch: Arch) {
    if let Some(reason) = missing(builder, arch) {
        // Straight to the process's stderr: libtest captures only print macros.
        let _ = writeln!(
            std::io::stderr(),
            "builders::{builder}_{}: SKIPPED: {reason}",
            arch.name()
        );
        return;
    }
    let stack = crate::support::unique_stack_name(&format!("b{builder}"));
    let project = project(&stack, arch);
    // Printed with the result below (the closing notes' table), never asserted.
    let started = std::time::Instant::now();
    let out = albkit(&project, builder, &["build", "-o", "json"]);
    let took = started.elapsed();
    let doc = out.ok().json();
    assert_matches("build", &doc, &out);
    let built = &doc["functions"][0];
    assert_eq!(built["function"], "hello", "{out}");
    assert_eq!(built["architecture"], arch.name(), "{out}");
    // Relative to the project, as albkit.toml's directory is.
    let zip = project
        .path()
        .join(built["zip"].as_str().expect("zip path"));
    assert_eq!(
        zip,
        project.path().join("target/albkit/hello/bootstrap.zip"),
        "{out}"
    );
    assert_eq!(
        std::fs::metadata(&zip).expect("zip").len(),
        built["zip_bytes"].as_u64().expect("zip_bytes"),
        "{out}"
    );

    let (bootstrap, mode) = unzip(&zip);
    assert_eq!(mode & 0o111, 0o111, "bootstrap mode {mode:o}");
    let header = readelf(&["-h"], &bootstrap);
    assert!(
        header.contains("Machine:") && header.contains(arch.readelf_machine()),
        "{builder} {}: {header}",
        arch.name()
    );
    let glibc = newest_glibc(&readelf(&["-V"], &bootstrap));
    if builder == "musl" {
        assert_eq!(glibc, None, "a static executable");
    } else {
        let g = glibc.expect("a glibc executable needs some GLIBC_ version");
        assert!(g <= LAMBDA_GLIBC, "{builder}: needs glibc {g:?}");
    }
    let shown = glibc.map(|(a, b)| format!("{a}.{b}"));
    assert_eq!(built["glibc"].as_str(), shown.as_deref(), "{out}");
    let _ = writeln!(
        std::io::stderr(),
        "builders::{builder}_{}: {} bytes zipped, {} bytes bootstrap, glibc {}, built in {:.1} s",
        arch.name(),
        built["zip_bytes"],
        built["bootstrap_bytes"],
        shown.as_deref().unwrap_or("none (static)"),
        took.as_secs_f64()
    );

    if arch.is_host() {
        let zip_arg = zip.display().to_string();
        let args = [
            "invoke", "--local", "--zip", &zip_arg, "--path", "/hello", "-o", "json",
        ];
        let out = albkit(&project, builder, &args);
        let doc = out.ok().json();
        assert_eq!(doc["status"], 200, "{out}");
        let body = doc["body"].as_str().unwrap_or_default();
        assert!(body.contains("hello from albkit"), "{out}");
    }
}

macro_rules! cells {
    ($($name:ident: $builder:literal, $arch:expr;)*) => {$(
        #[test]
        fn $name() {
            cell($builder, $arch);
        }
    )*};
}

cells! {
    cargo_x86_64: "cargo", Arch::X86_64;
    cargo_arm64: "cargo", Arch::Arm64;
    zigbuild_x86_64: "zigbuild", Arch::X86_64;
    zigbuild_arm64: "zigbuild", Arch::Arm64;
    lambda_x86_64: "lambda", Arch::X86_64;
    lambda_arm64: "lambda", Arch::Arm64;
    musl_x86_64: "musl", Arch::X86_64;
    musl_arm64: "musl", Arch::Arm64;
}

#[test]
fn a_zip_for_another_machine_is_refused_by_invoke_local() {
    let project = project(&crate::support::unique_stack_name("bforeign"), Arch::X86_64);
    // An arm64 ELF header is enough: albkit reads the machine before running anything.
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    let foreign: u16 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    elf[18..20].copy_from_slice(&foreign.to_le_bytes());
    let zip = project.path().join("foreign.zip");
    let file = std::fs::File::create(&zip).expect("create zip");
    let mut w = zip::ZipWriter::new(file);
    let exe = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    w.start_file("bootstrap", exe).expect("start");
    w.write_all(&elf).expect("write");
    w.finish().expect("finish");
    let zip_arg = zip.display().to_string();
    let out = albkit(
        &project,
        "cargo",
        &["invoke", "--local", "--zip", &zip_arg, "--path", "/hello"],
    );
    out.fails();
    assert!(out.stderr.contains("this machine cannot run it"), "{out}");
}

/// The arm64 zigbuild deployed: `up` against moto creates the function with
/// `Architectures = [arm64]` (read back through the SDK), from the AArch64 bootstrap.
#[tokio::test(flavor = "multi_thread")]
async fn an_arm64_function_is_deployed_as_arm64() {
    if let Some(reason) = missing("zigbuild", Arch::Arm64) {
        let _ = writeln!(
            std::io::stderr(),
            "builders::an_arm64_function_is_deployed_as_arm64: SKIPPED: {reason}"
        );
        return;
    }
    let moto = crate::support::Moto::shared();
    let stack = crate::support::unique_stack_name("barm");
    let project = project(&stack, Arch::Arm64);
    albkit_at(&moto.endpoint(), &project, "zigbuild", &["up", "--yes"]).ok();
    let cfg = crate::support::sdk_config(moto, "us-east-1").await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let f = lambda
        .get_function_configuration()
        .function_name(format!("{stack}--hello"))
        .send()
        .await
        .expect("GetFunctionConfiguration");
    assert_eq!(
        f.architectures(),
        [aws_sdk_lambda::types::Architecture::Arm64]
    );
    albkit_at(
        &moto.endpoint(),
        &project,
        "zigbuild",
        &["down", "--yes", "--purge-logs"],
    )
    .ok();
}

/// The function crates of one cargo workspace are built by one cargo run,
/// `--manifest-path <root>/Cargo.toml -p a -p b`, each function getting its own crate's
/// binary; an unchanged workspace costs one more run (a no-op), not one per crate. The
/// cargo albkit runs is a wrapper (`$CARGO`) that writes down its arguments; the
/// builds are the lines that start with `build`.
#[test]
fn the_crates_of_one_cargo_workspace_are_built_by_one_cargo_run() {
    let stack = "wsbuild";
    let project = Project::hello_workspace(stack, &["hello", "second"]);
    let hello = format!("{stack}-hello");
    let second = format!("{stack}-second");

    let log = project.path().join("cargo-runs.log");
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let wrapper = project.path().join("cargo-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .expect("write the wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make the wrapper executable");
    let build = || {
        let mut cmd = albkit_command_at("http://127.0.0.1:9", &project, "us-east-1");
        cmd.env("CARGO", &wrapper)
            .env("ALBKIT_BUILDER", "cargo")
            .args(["build", "-o", "json"]);
        run(cmd, ALBKIT_TIMEOUT)
    };
    let runs = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            // Not the probes of which builders are installed (`lambda --version`).
            .filter(|l| l.starts_with("build "))
            .map(str::to_string)
            .collect()
    };

    let out = build();
    let doc = out.ok().json();
    assert_matches("build", &doc, &out);
    let root = project.path().join("Cargo.toml");
    let runs_first = runs();
    assert_eq!(runs_first.len(), 1, "one cargo run: {runs_first:?}\n{out}");
    let args = &runs_first[0];
    assert!(
        args.contains(&format!(
            "--manifest-path {}",
            root.canonicalize().expect("root").display()
        )) && args.contains(&format!("-p {hello}"))
            && args.contains(&format!("-p {second}")),
        "{args}"
    );
    let functions = doc["functions"].as_array().expect("functions");
    let names: Vec<&str> = functions
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert_eq!(names, ["hello", "second"], "{out}");
    assert_ne!(functions[0]["sha256"], functions[1]["sha256"], "{out}");

    // Each function runs its own crate's code.
    for (name, says) in [
        ("hello", "hello from albkit"),
        ("second", "second from albkit"),
    ] {
        let zip = project
            .path()
            .join(format!("target/albkit/{name}/bootstrap.zip"));
        // Both crates' code answers `/hello` (the template's handler).
        let zip_arg = zip.display().to_string();
        let mut cmd = albkit_command_at("http://127.0.0.1:9", &project, "us-east-1");
        cmd.args([
            "invoke",
            "--local",
            "--function",
            name,
            "--zip",
            &zip_arg,
            "--path",
            "/hello",
            "-o",
            "json",
        ]);
        let out = run(cmd, ALBKIT_TIMEOUT);
        let doc = out.ok().json();
        let body = doc["body"].as_str().unwrap_or_default();
        assert!(body.contains(says), "{name}: {out}");
    }

    // Nothing changed: one more cargo run for the whole workspace.
    let out = build();
    out.ok();
    assert_eq!(runs().len(), 2, "{:?}\n{out}", runs());
}
