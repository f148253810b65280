//! `albkit init`: writes a ready project (albkit.toml and a function crate) from one of
//! the embedded templates. Never overwrites a file unless `--force`, and never writes
//! through a symbolic link that leads out of the project directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::output::{InitDoc, TemplateDoc, Written};
use super::Outcome;
use crate::cli::{Cli, InitArgs};
use crate::error::{Error, Result};
use crate::templates::{find, render, stack_name_from, TEMPLATES};

fn valid_stack_name(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Refuses, before anything is written, a project directory that is itself a symbolic
/// link, and any existing file or directory on the way to one of `files` (paths relative
/// to `dir`) that resolves outside `dir` (a symbolic link leading out, directly or through
/// other links) or to nothing (a dangling link, which a write would create elsewhere).
/// Reads only. Links that stay inside the project are followed.
fn check_no_escape(dir: &Path, files: &[&str]) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(dir).map_or_else(
                |_| "a path that does not exist".into(),
                |t| t.display().to_string(),
            );
            return Err(Error::usage(
                format!(
                    "{} is a symbolic link to {target}; nothing was written",
                    dir.display()
                ),
                format!(
                    "albkit init writes only into a real directory: run `albkit init {target}` \
                     to write there, or pick another directory"
                ),
            ));
        }
    }
    // Nothing exists yet below a directory that does not exist.
    let Ok(root) = std::fs::canonicalize(dir) else {
        return Ok(());
    };
    let mut reported: HashSet<PathBuf> = HashSet::new();
    let mut problems = Vec::new();
    for file in files {
        let mut path = dir.to_path_buf();
        for component in Path::new(file).components() {
            path.push(component);
            if std::fs::symlink_metadata(&path).is_err() {
                // Neither it nor anything below it exists: it will be created inside.
                break;
            }
            let why = match std::fs::canonicalize(&path) {
                Ok(real) if real.starts_with(&root) => continue,
                Ok(real) => format!("leads to {}", real.display()),
                Err(_) => match std::fs::read_link(&path) {
                    Ok(target) => format!(
                        "is a symbolic link to {}, which does not exist",
                        target.display()
                    ),
                    Err(e) => format!("cannot be resolved: {e}"),
                },
            };
            if reported.insert(path.clone()) {
                problems.push(format!("{} {why}", path.display()));
            }
            break;
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::usage(
        format!(
            "refusing to write outside the project directory {}; nothing was written:\n  - {}",
            root.display(),
            problems.join("\n  - ")
        ),
        "albkit init never writes through a symbolic link that leaves the project: remove or \
         replace the links listed, or pick another directory",
    ))
}

pub(crate) fn run(cli: &Cli, o: &InitArgs) -> Result<Outcome> {
    let json = cli.output == crate::cli::Output::Json;
    if o.list {
        return Ok(list(json));
    }
    let names = || {
        TEMPLATES
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let template = find(&o.template).ok_or_else(|| {
        Error::usage(
            format!("there is no template {:?}", o.template),
            format!(
                "use one of: {} (`albkit init --list` describes them)",
                names()
            ),
        )
    })?;
    let absolute = std::path::absolute(&o.dir).unwrap_or_else(|_| o.dir.clone());
    let stack = match &o.name {
        Some(n) => n.clone(),
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
    write(o, &files)?;
    // What was written must be a valid project.
    crate::model::validate::load(&o.dir.join("albkit.toml"))?;
    if json {
        return Ok(Outcome::json(
            0,
            true,
            &InitDoc::Written(Written {
                template: template.name.to_string(),
                stack,
                directory: absolute.display().to_string(),
                files: files.iter().map(|(p, _)| p.to_string()).collect(),
            }),
        ));
    }
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
    Ok(Outcome::code(0))
}

/// `--list`: the templates with their descriptions.
fn list(json: bool) -> Outcome {
    if json {
        let list = TEMPLATES
            .iter()
            .map(|t| TemplateDoc {
                name: t.name.to_string(),
                description: t.description.to_string(),
            })
            .collect();
        return Outcome::json(0, true, &InitDoc::List(list));
    }
    for t in TEMPLATES {
        println!("{:<14} {}", t.name, t.description);
    }
    Outcome::code(0)
}

/// Writes the rendered `files` into the project directory: never through a link that
/// leaves it, and over existing files only with `--force`.
fn write(o: &InitArgs, files: &[(&str, String)]) -> Result<()> {
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    check_no_escape(&o.dir, &paths)?;
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
    for (path, text) in files {
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
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const FILES: &[&str] = &[
        "albkit.toml",
        "functions/hello/Cargo.toml",
        "functions/hello/src/main.rs",
    ];

    fn message(r: Result<()>) -> String {
        match r {
            Ok(()) => String::new(),
            Err(e) => format!(
                "{e}\n{}",
                miette::Diagnostic::help(&e)
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            ),
        }
    }

    #[test]
    fn plain_and_missing_directories_pass() {
        let t = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            message(check_no_escape(&t.path().join("new/project"), FILES)),
            ""
        );
        std::fs::create_dir_all(t.path().join("p/functions/hello/src")).expect("mkdir");
        std::fs::write(t.path().join("p/albkit.toml"), "x").expect("write");
        assert_eq!(message(check_no_escape(&t.path().join("p"), FILES)), "");
    }

    #[test]
    fn links_that_stay_inside_the_project_are_followed() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("p");
        std::fs::create_dir_all(p.join("shared/src")).expect("mkdir");
        std::fs::create_dir_all(p.join("functions")).expect("mkdir");
        symlink("../shared", p.join("functions/hello")).expect("symlink");
        assert_eq!(message(check_no_escape(&p, FILES)), "");
    }

    #[test]
    fn a_project_directory_that_is_a_link_is_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(t.path().join("real")).expect("mkdir");
        symlink(t.path().join("real"), t.path().join("link")).expect("symlink");
        let m = message(check_no_escape(&t.path().join("link"), FILES));
        assert!(
            m.contains("is a symbolic link to") && m.contains("real"),
            "{m}"
        );
        assert!(m.contains("albkit init"), "{m}");
    }

    #[test]
    fn links_leading_out_or_to_nothing_are_refused_each_once() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("p");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::create_dir_all(&p).expect("mkdir");
        // A directory on the way out, and a file pointing at a file that does not exist.
        symlink(&outside, p.join("functions")).expect("symlink");
        symlink(outside.join("victim.toml"), p.join("albkit.toml")).expect("symlink");
        let m = message(check_no_escape(&p, FILES));
        assert!(
            m.contains("refusing to write outside the project directory"),
            "{m}"
        );
        assert!(m.contains("functions leads to"), "{m}");
        assert!(
            m.contains("albkit.toml is a symbolic link to") && m.contains("does not exist"),
            "{m}"
        );
        assert_eq!(m.matches("functions leads to").count(), 1, "{m}");
        // A link deeper down, through a real directory.
        std::fs::remove_file(p.join("functions")).expect("rm");
        std::fs::remove_file(p.join("albkit.toml")).expect("rm");
        std::fs::create_dir_all(p.join("functions/hello")).expect("mkdir");
        symlink(&outside, p.join("functions/hello/src")).expect("symlink");
        let m = message(check_no_escape(&p, FILES));
        assert!(m.contains("src leads to"), "{m}");
        // A relative link that climbs out.
        std::fs::remove_file(p.join("functions/hello/src")).expect("rm");
        symlink("../../../outside", p.join("functions/hello/src")).expect("symlink");
        assert!(message(check_no_escape(&p, FILES)).contains("src leads to"));
    }
}
