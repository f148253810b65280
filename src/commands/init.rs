//! `albkit init`: writes a ready project (albkit.toml and a function crate) from one of
//! the embedded templates. Never overwrites a file unless `--force`.

use std::path::Path;

use super::print_json;
use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::templates::{find, render, stack_name_from, TEMPLATES};

pub struct Options<'a> {
    pub dir: &'a Path,
    pub template: &'a str,
    pub name: Option<&'a str>,
    pub force: bool,
    pub list: bool,
}

fn valid_stack_name(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

pub fn run(cli: &Cli, o: Options<'_>) -> Result<u8> {
    let json = cli.output == crate::cli::Output::Json;
    if o.list {
        if json {
            print_json(&serde_json::json!(TEMPLATES
                .iter()
                .map(|t| serde_json::json!({"name": t.name, "description": t.description}))
                .collect::<Vec<_>>()));
        } else {
            for t in TEMPLATES {
                println!("{:<14} {}", t.name, t.description);
            }
        }
        return Ok(0);
    }
    let names = || {
        TEMPLATES
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let template = find(o.template).ok_or_else(|| {
        Error::usage(
            format!("there is no template {:?}", o.template),
            format!(
                "use one of: {} (`albkit init --list` describes them)",
                names()
            ),
        )
    })?;
    let absolute = std::path::absolute(o.dir).unwrap_or_else(|_| o.dir.to_path_buf());
    let stack = match o.name {
        Some(n) => n.to_string(),
        None => absolute
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(stack_name_from)
            .unwrap_or_else(|| "my-app".to_string()),
    };
    if !valid_stack_name(&stack) {
        return Err(Error::usage(
            format!("--name {stack:?} is not a valid stack name"),
            "use 1-24 of lowercase letters, digits and '-', starting with a letter (e.g. my-app)",
        ));
    }
    let files = render(template, &stack);
    let existing: Vec<String> = files
        .iter()
        .map(|(p, _)| o.dir.join(p))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !o.force {
        return Err(Error::usage(
            format!(
                "refusing to overwrite existing files: {}",
                existing.join(", ")
            ),
            "pick another directory, remove them, or pass --force to overwrite them",
        ));
    }
    for (path, text) in &files {
        let full = o.dir.join(path);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&full, text)
        };
        write().map_err(|e| {
            Error::usage(
                format!("could not write {}: {e}", full.display()),
                "check that the directory is writable",
            )
        })?;
    }
    // What was written must be a valid project.
    crate::model::validate::load(&o.dir.join("albkit.toml"))?;
    if json {
        print_json(&serde_json::json!({
            "template": template.name,
            "stack": stack,
            "directory": absolute.display().to_string(),
            "files": files.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        }));
    } else {
        eprintln!(
            "Wrote the {} template for stack {stack} in {}:",
            template.name,
            absolute.display()
        );
        for (p, _) in &files {
            eprintln!("  {p}");
        }
        eprintln!(
            "Next: `albkit plan`, then `albkit up --yes`; ship code changes with `albkit deploy --yes`."
        );
    }
    Ok(0)
}
