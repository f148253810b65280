//! `albkit man [--out-dir DIR]` (hidden): the man pages generated from the clap
//! definitions, `albkit.1` and one `albkit-<command>.1` per visible command. The
//! repository keeps them in `docs/man/`; a test fails when they are stale.

use std::path::Path;

use clap::CommandFactory;
use clap_mangen::Man;

use super::output::ManDoc;
use super::Outcome;
use crate::cli::{Cli, ManArgs, Output};
use crate::error::{Error, Result};

/// Every page as (file name, roff text), `albkit.1` first.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Propagates the global options into each command and names them `albkit-<command>`.
    cmd.build();
    let mut out = vec![page(&cmd)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(page(sub)?);
    }
    Ok(out)
}

fn page(cmd: &clap::Command) -> std::io::Result<(String, Vec<u8>)> {
    let man = Man::new(cmd.clone()).manual("albkit manual");
    let mut text = Vec::new();
    man.render(&mut text)?;
    Ok((man.get_filename(), text))
}

/// Writes the pages into `dir` and removes pages of commands that no longer exist.
pub fn write(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let pages = pages()?;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("albkit") && name.ends_with(".1");
        if ours && !pages.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(dir.join(&name))?;
        }
    }
    for (name, text) in &pages {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(pages.into_iter().map(|(n, _)| n).collect())
}

pub fn run(cli: &Cli, args: &ManArgs) -> Result<Outcome> {
    let dir = args.out_dir.as_path();
    let written = write(dir).map_err(|e| {
        Error::usage(
            format!("could not write the man pages into {}: {e}", dir.display()),
            "pass a writable directory with --out-dir",
        )
    })?;
    if cli.output == Output::Json {
        return Ok(Outcome::json(
            0,
            true,
            &ManDoc {
                directory: dir.display().to_string(),
                pages: written,
            },
        ));
    }
    {
        eprintln!("Wrote {} man pages into {}:", written.len(), dir.display());
        for name in &written {
            eprintln!("  {name}");
        }
    }
    Ok(Outcome::code(0))
}
