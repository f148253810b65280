//! `albkit build`: builds and packages the functions exactly as `up` and `deploy` would
//! (the same builder, release profile and glibc check), and writes each zip to disk
//! without calling AWS: to look at what would ship, hand the zips to another tool, or
//! run one locally with `albkit invoke --local --zip`.

use std::path::{Path, PathBuf};

use super::output::{BuildDoc, BuiltDoc};
use super::Outcome;
use crate::cli::{BuildArgs, Cli, Output};
use crate::error::{Error, Result};
use crate::model::config::FunctionSettings;
use crate::package::{self, elf, Artifact};

/// Where the zips go unless `--out` says otherwise, beside albkit.toml.
pub(crate) const DEFAULT_OUT: &str = "target/albkit";

pub(crate) async fn run(cli: &Cli, args: &BuildArgs) -> Result<Outcome> {
    let config = crate::model::validate::load(&cli.config)?;
    let functions: Vec<FunctionSettings> = match &args.function {
        Some(name) => vec![config
            .functions
            .iter()
            .find(|f| f.name == *name)
            .ok_or_else(|| {
                let known: Vec<&str> = config.functions.iter().map(|f| f.name.as_str()).collect();
                Error::usage(
                    format!("--function {name}: the stack has no function of that name"),
                    format!("use one of: {}", known.join(", ")),
                )
            })?
            .clone()],
        None => config.functions.clone(),
    };
    let base = cli.config.parent().unwrap_or(Path::new("."));
    let out = args.out.clone().unwrap_or_else(|| base.join(DEFAULT_OUT));
    let human = cli.output == Output::Human && !cli.quiet;
    let mut built = Vec::new();
    // One cargo run per workspace and architecture (see package::build_groups).
    for group in package::build_groups(&functions) {
        if human {
            eprintln!(
                "Building function {} ({}, release)",
                group.names(),
                group.architecture.as_str()
            );
        }
        let artifacts = package::build_group(&group).await?;
        for (f, artifact) in group.functions.iter().zip(&artifacts) {
            package::check_runtime(artifact)?;
            let zip = write_zip(&out, artifact)?;
            built.push(describe(f, artifact, zip));
        }
    }
    if cli.output == Output::Json {
        return Ok(Outcome::json(0, true, &BuildDoc { functions: built }));
    }
    for b in &built {
        println!("{}", line(b));
    }
    Ok(Outcome::code(0))
}

/// Writes `<out>/<function>/bootstrap.zip`; gives its path.
fn write_zip(out: &Path, a: &Artifact) -> Result<PathBuf> {
    let dir = out.join(&a.function);
    let path = dir.join("bootstrap.zip");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, &a.zip))
        .map_err(|e| {
            Error::usage(
                format!(
                    "function {}: could not write {}: {e}",
                    a.function,
                    path.display()
                ),
                "choose a writable directory with --out",
            )
        })?;
    Ok(path)
}

fn describe(f: &FunctionSettings, a: &Artifact, zip: PathBuf) -> BuiltDoc {
    let bytes = std::fs::read(&a.bootstrap).unwrap_or_default();
    BuiltDoc {
        function: f.name.clone(),
        architecture: f.architecture.as_str().to_string(),
        builder: a.builder.describe().to_string(),
        machine: elf::machine(&bytes).ok().map(|m| m.to_string()),
        glibc: elf::newest_glibc(&a.required_versions).map(|v| v.to_string()),
        zip: zip.display().to_string(),
        zip_bytes: a.zip.len() as u64,
        bootstrap_bytes: a.bootstrap_size,
        sha256: a.sha256.clone(),
    }
}

/// One function's line of the human output.
fn line(b: &BuiltDoc) -> String {
    let glibc = b.glibc.as_deref().map_or_else(
        || "static (no glibc)".to_string(),
        |v| format!("glibc ≥ {v}"),
    );
    format!(
        "{}: {} ({}, {}, {}), zip {} KiB, bootstrap {} KiB, with {}\n  sha256 {}",
        b.function,
        b.zip,
        b.architecture,
        b.machine.as_deref().unwrap_or("not an ELF executable"),
        glibc,
        b.zip_bytes.div_ceil(1024),
        b.bootstrap_bytes.div_ceil(1024),
        b.builder,
        b.sha256
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_what_was_built_and_where() {
        let b = BuiltDoc {
            function: "hello".into(),
            architecture: "x86_64".into(),
            builder: "cargo zigbuild".into(),
            machine: Some("x86-64".into()),
            glibc: Some("2.17".into()),
            zip: "target/albkit/hello/bootstrap.zip".into(),
            zip_bytes: 1025,
            bootstrap_bytes: 2048,
            sha256: "abc=".into(),
        };
        assert_eq!(
            line(&b),
            "hello: target/albkit/hello/bootstrap.zip (x86_64, x86-64, glibc ≥ 2.17), \
             zip 2 KiB, bootstrap 2 KiB, with cargo zigbuild\n  sha256 abc="
        );
        let musl = BuiltDoc { glibc: None, ..b };
        assert!(line(&musl).contains("static (no glibc)"));
    }
}
