//! What the repository documents about the command line, checked against the command
//! line itself, so that none of it rots silently: the man pages in docs/man/ and the
//! README's list of commands. No AWS, no network.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use albkit::cli::Cli;
use clap::CommandFactory;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn repo(relative: &str) -> PathBuf {
    Path::new(REPO).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

fn commands() -> Vec<clap::Command> {
    Cli::command().get_subcommands().cloned().collect()
}

#[test]
fn the_man_pages_in_docs_man_are_up_to_date() {
    let pages = albkit::commands::man::pages().expect("render man pages");
    let dir = repo("docs/man");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let generated: BTreeSet<String> = pages.iter().map(|(n, _)| n.clone()).collect();
    let hint = "regenerate them with `cargo run -- man` and commit docs/man/";
    assert_eq!(on_disk, generated, "docs/man/ has other pages: {hint}");
    for (name, text) in &pages {
        let committed = std::fs::read(dir.join(name)).expect("read page");
        assert!(committed == *text, "docs/man/{name} is stale: {hint}");
    }
    // One page per visible command, plus albkit.1.
    let visible = commands().iter().filter(|c| !c.is_hide_set()).count();
    assert_eq!(pages.len(), visible + 1);
    assert_eq!(pages[0].0, "albkit.1");
    let main = String::from_utf8_lossy(&pages[0].1).into_owned();
    for c in commands().iter().filter(|c| !c.is_hide_set()) {
        let page = format!("albkit-{}.1", c.get_name());
        assert!(generated.contains(&page), "no {page}");
        assert!(
            main.contains(c.get_name()),
            "albkit.1 does not list {}",
            c.get_name()
        );
    }
}

#[test]
fn the_readme_lists_every_visible_command() {
    let readme = read("README.md");
    for c in commands().iter().filter(|c| !c.is_hide_set()) {
        let name = c.get_name();
        assert!(
            readme.contains(&format!("albkit {name}")),
            "README.md never shows `albkit {name}`"
        );
    }
}
