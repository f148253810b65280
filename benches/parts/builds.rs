//! Builds that share work: the first `albkit build` of a project with 1, 5 and 10
//! function crates, copies of the hello template under their own crate names (each
//! answering with its own name), each project with an empty target directory (the
//! shared `target/` beside `albkit.toml`; `CARGO_TARGET_DIR` is unset), with the
//! template's own release profile (fat LTO, one codegen unit). Then the same `albkit
//! build` again with nothing changed. Printed as a table, with the size of the hello
//! crate's binary; the ratio is against one crate of the same layout.
//!
//! Two layouts:
//! - `crates`: every crate its own cargo workspace, as the template makes it: one cargo
//!   run per crate, one after the other on the shared target directory;
//! - `workspace`: the crates are members of one cargo workspace at the project root
//!   (the template's profile moved there, one `Cargo.lock`): albkit builds them all in
//!   one cargo run, which compiles and links the crates side by side, and checks an
//!   unchanged project with one cargo no-op;
//! - `workspace-thin` (only when asked for): the same with thin LTO (`lto = "thin"`, 16
//!   codegen units), to see whether it is a middle ground;
//! - `workspace-nolto` (only when asked for): the same without fat LTO (`lto = "off"`,
//!   16 codegen units), to show what each crate's whole-program link costs.
//!
//! Every project is new, so the registry's sources must be on the machine already (they
//! are after `scripts/test`); nothing is downloaded when the lock files match it.
//!
//! `ALBKIT_BENCH_BUILDS` lists the sizes (default `1,5,10`; `none` skips the builds),
//! `ALBKIT_BENCH_BUILD_LAYOUTS` the layouts (default `workspace,crates`).

use std::time::{Duration, Instant};

use super::support::{albkit_bin, routed_functions, run, Project};

/// The sizes to measure, from `ALBKIT_BENCH_BUILDS`.
fn sizes() -> Vec<usize> {
    super::sizes_from_env("ALBKIT_BENCH_BUILDS", "1,5,10", 50)
}

/// How the crates of a project are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One cargo workspace at the project root.
    Workspace,
    /// The same, with thin LTO and 16 codegen units instead.
    WorkspaceThin,
    /// The same, with the release profile's fat LTO and one codegen unit replaced by
    /// no LTO across crates and 16 codegen units: what each crate's link costs.
    WorkspaceNoLto,
    /// Every crate its own workspace.
    Crates,
}

impl Layout {
    const ALL: [Layout; 4] = [
        Layout::Workspace,
        Layout::WorkspaceThin,
        Layout::WorkspaceNoLto,
        Layout::Crates,
    ];

    fn name(self) -> &'static str {
        match self {
            Layout::Workspace => "workspace",
            Layout::WorkspaceThin => "workspace-thin",
            Layout::WorkspaceNoLto => "workspace-nolto",
            Layout::Crates => "crates",
        }
    }
}

/// The layouts to measure, from `ALBKIT_BENCH_BUILD_LAYOUTS`.
fn layouts() -> Vec<Layout> {
    let wanted =
        std::env::var("ALBKIT_BENCH_BUILD_LAYOUTS").unwrap_or_else(|_| "workspace,crates".into());
    wanted
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            Layout::ALL
                .into_iter()
                .find(|l| l.name() == w)
                .unwrap_or_else(|| {
                    panic!("ALBKIT_BENCH_BUILD_LAYOUTS: unknown layout {w:?} (workspace, workspace-thin, workspace-nolto, crates)")
                })
        })
        .collect()
}

/// The crate names of a project of `n`: the template's `hello`, and `hello2`…`hello<n>`.
fn names(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| match i {
            1 => "hello".to_string(),
            _ => format!("hello{i}"),
        })
        .collect()
}

/// The stack name of the project of `n` crates in `layout`.
fn stack(n: usize, layout: Layout) -> String {
    format!("builds{n}{}", layout.name().replace('-', ""))
}

/// The size of the hello crate's stripped release binary in `project`, once built.
fn hello_size(project: &Project, n: usize, layout: Layout) -> Option<u64> {
    let binary = project
        .path()
        .join("target/release")
        .join(format!("{}-hello", stack(n, layout)));
    std::fs::metadata(binary).ok().map(|m| m.len())
}

/// A project of `n` function crates in `layout`: the hello template's crate under its
/// own crate names (and its own text, `<name> from albkit`).
fn project(n: usize, layout: Layout) -> Project {
    let stack = stack(n, layout);
    let names = names(n);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    if layout != Layout::Crates {
        let project = Project::hello_workspace(&stack, &names);
        let lto = match layout {
            Layout::WorkspaceThin => Some("lto = \"thin\""),
            Layout::WorkspaceNoLto => Some("lto = \"off\""),
            _ => None,
        };
        if let Some(lto) = lto {
            let root = project.read("Cargo.toml");
            assert!(root.contains("lto = true") && root.contains("codegen-units = 1\n"));
            project.write(
                "Cargo.toml",
                &root
                    .replace("lto = true", lto)
                    .replace("codegen-units = 1\n", "codegen-units = 16\n"),
            );
        }
        return project;
    }
    let project = Project::from_template("hello", &stack);
    let manifest = project.read("functions/hello/Cargo.toml");
    let lock = project.read("functions/hello/Cargo.lock");
    let main = project.read("functions/hello/src/main.rs");
    let crate_name = format!("{stack}-hello");
    for name in &names {
        let renamed = format!("{stack}-{name}");
        let dir = format!("functions/{name}");
        project
            .write(
                &format!("{dir}/Cargo.toml"),
                &manifest.replace(&crate_name, &renamed),
            )
            .write(
                &format!("{dir}/Cargo.lock"),
                &lock.replace(&crate_name, &renamed),
            )
            .write(
                &format!("{dir}/src/main.rs"),
                &main.replace("hello from albkit", &format!("{name} from albkit")),
            );
    }
    project.with_config(&routed_functions(&stack, &names));
    project
}

/// `albkit build` in `project`, with the shared target directory; its wall time.
fn build(project: &Project) -> Duration {
    let mut cmd = std::process::Command::new(albkit_bin());
    cmd.current_dir(project.path())
        .args(["-q", "build"])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_PROFILE_RELEASE_LTO")
        .env_remove("CARGO_PROFILE_RELEASE_CODEGEN_UNITS")
        .env_remove("CARGO_PROFILE_RELEASE_PANIC")
        .env_remove("CARGO_PROFILE_RELEASE_STRIP");
    let started = Instant::now();
    let out = run(cmd, Duration::from_secs(3600));
    let took = started.elapsed();
    assert_eq!(out.code, Some(0), "albkit build failed\n{out}");
    took
}

/// Builds every size in every layout and prints the table.
pub(crate) fn shared_builds() {
    let sizes = sizes();
    if sizes.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    for layout in layouts() {
        for &n in &sizes {
            let p = project(n, layout);
            let first = build(&p);
            let again = build(&p);
            rows.push((layout, n, first, again, hello_size(&p, n, layout)));
        }
    }
    println!(
        "\nfunction builds sharing one target directory — hello template, its release profile (fat LTO, 1 codegen unit) unless the layout says otherwise, {} CPU cores",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "{:>15}  {:>7}  {:>12} {:>10}  {:>14}  {:>16}",
        "layout", "crates", "first build", "× 1 crate", "unchanged", "hello bootstrap"
    );
    for (layout, n, first, again, size) in &rows {
        let one = rows
            .iter()
            .find(|(l, n, ..)| l == layout && *n == 1)
            .map(|(_, _, first, ..)| *first);
        let ratio = one.map_or("-".into(), |o| {
            format!("{:.2}×", first.as_secs_f64() / o.as_secs_f64())
        });
        let size = size.map_or("-".into(), |b| format!("{b} bytes"));
        println!(
            "{:>15}  {:>7}  {:>10.1} s {:>10}  {:>12.2} s  {size:>16}",
            layout.name(),
            n,
            first.as_secs_f64(),
            ratio,
            again.as_secs_f64(),
        );
    }
}
