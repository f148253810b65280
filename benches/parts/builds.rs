//! Builds that share work: the first `albkit build` of a project with 1, 5 and 10
//! function crates, copies of the hello template under different crate names, each
//! project with an empty target directory (the shared `target/` beside `albkit.toml`;
//! `CARGO_TARGET_DIR` is unset), with the template's own release profile (fat LTO, one
//! codegen unit). Then the same `albkit build` again with nothing changed: one cargo
//! no-op per crate and the zips reused. Printed as a table; the ratio is against one
//! crate.
//!
//! Every project is new, so the registry's sources must be on the machine already (they
//! are after `scripts/test`); nothing is downloaded when the lock files match it.
//!
//! `ALBKIT_BENCH_BUILDS` lists the sizes (default `1,5,10`; `none` skips the builds).

use std::time::{Duration, Instant};

use super::support::{albkit_bin, run, Project};

/// The sizes to measure, from `ALBKIT_BENCH_BUILDS`.
fn sizes() -> Vec<usize> {
    super::sizes_from_env("ALBKIT_BENCH_BUILDS", "1,5,10", 50)
}

/// A project of `n` function crates: the template's `hello`, and `hello2`…`hello<n>`,
/// the same sources under their own crate names.
fn project(n: usize) -> Project {
    let stack = format!("builds{n}");
    let project = Project::from_template("hello", &stack);
    let manifest = project.read("functions/hello/Cargo.toml");
    let lock = project.read("functions/hello/Cargo.lock");
    let main = project.read("functions/hello/src/main.rs");
    let crate_name = format!("{stack}-hello");
    let mut config = format!("[stack]\nname = \"{stack}\"\n");
    for i in 1..=n {
        let name = if i == 1 {
            "hello".to_string()
        } else {
            format!("hello{i}")
        };
        if i > 1 {
            let renamed = format!("{stack}-{name}");
            let dir = format!("functions/{name}");
            project.write(
                &format!("{dir}/Cargo.toml"),
                &manifest.replace(&crate_name, &renamed),
            );
            project.write(
                &format!("{dir}/Cargo.lock"),
                &lock.replace(&crate_name, &renamed),
            );
            project.write(&format!("{dir}/src/main.rs"), &main);
        }
        config.push_str(&format!(
            "\n[[functions]]\nname = \"{name}\"\npath = \"functions/{name}\"\n\n[[functions.routes]]\npriority = {}\npaths = [\"/{name}\"]\n",
            i * 10
        ));
    }
    project.with_config(&config);
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
        .env_remove("CARGO_PROFILE_RELEASE_CODEGEN_UNITS");
    let started = Instant::now();
    let out = run(cmd, Duration::from_secs(3600));
    let took = started.elapsed();
    assert_eq!(out.code, Some(0), "albkit build failed\n{out}");
    took
}

/// Builds every size and prints the table.
pub(crate) fn shared_builds() {
    let sizes = sizes();
    if sizes.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    for n in sizes {
        let p = project(n);
        let first = build(&p);
        let again = build(&p);
        rows.push((n, first, again));
    }
    let one = rows
        .iter()
        .find(|(n, ..)| *n == 1)
        .map(|(_, first, _)| *first);
    println!(
        "\nfunction builds sharing one target directory — hello template, release profile (fat LTO, 1 codegen unit), {} CPU cores",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "{:>7}  {:>12} {:>10}  {:>14} {:>12}",
        "crates", "first build", "× 1 crate", "unchanged", "per crate"
    );
    for (n, first, again) in &rows {
        let ratio = one.map_or("-".into(), |o| {
            format!("{:.2}×", first.as_secs_f64() / o.as_secs_f64())
        });
        println!(
            "{:>7}  {:>10.1} s {:>10}  {:>12.2} s {:>10.2} s",
            n,
            first.as_secs_f64(),
            ratio,
            again.as_secs_f64(),
            again.as_secs_f64() / *n as f64
        );
    }
}
