//! What the repository documents about the command line, checked against the command
//! line itself, so that none of it rots silently: the man pages in docs/man/, a JSON
//! schema per command in schemas/, and the README's list of commands. No AWS, no network.

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

/// Commands whose `-o json` prints no document: a completion script is the output
/// itself, and `dev` is a server that runs until stopped.
const NO_DOCUMENT: &[&str] = &["completions", "dev"];

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

// ---------------------------------------------------------------------------------
// JSON schemas
// ---------------------------------------------------------------------------------

fn schema(name: &str) -> serde_json::Value {
    let text = read(&format!("schemas/{name}.schema.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("schemas/{name}.schema.json: {e}"))
}

#[test]
fn every_command_with_a_json_document_has_a_schema_and_no_schema_is_orphaned() {
    let mut expected: BTreeSet<String> = commands()
        .iter()
        .map(|c| c.get_name().to_string())
        .filter(|n| !NO_DOCUMENT.contains(&n.as_str()))
        .collect();
    expected.insert("error".into());
    let present: BTreeSet<String> = std::fs::read_dir(repo("schemas"))
        .expect("schemas/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|n| {
            n.strip_suffix(".schema.json")
                .unwrap_or_else(|| panic!("schemas/{n}: not NAME.schema.json"))
                .to_string()
        })
        .collect();
    assert_eq!(present, expected, "schemas/ and the commands disagree");
    for name in &expected {
        let s = schema(name);
        assert_eq!(
            s["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        if let Err(e) = jsonschema::draft202012::new(&s) {
            panic!("schemas/{name}.schema.json is not a valid schema: {e}");
        }
    }
}

/// Every object a schema describes lists its properties as required and allows no
/// others, so that a field added, renamed or dropped in the output fails validation.
#[test]
fn the_schemas_are_strict() {
    fn walk(name: &str, path: &str, v: &serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if map.get("type") == Some(&serde_json::json!("object")) {
                    let props = map.get("properties").and_then(|p| p.as_object());
                    // `up`'s resource map is keyed by logical id: values are typed instead.
                    if let Some(props) = props {
                        assert_eq!(
                            map.get("additionalProperties"),
                            Some(&serde_json::json!(false)),
                            "{name} {path}: additionalProperties must be false"
                        );
                        let required: BTreeSet<&str> = map
                            .get("required")
                            .and_then(|r| r.as_array())
                            .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
                            .unwrap_or_default();
                        let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
                        assert_eq!(required, keys, "{name} {path}: every property required");
                    } else {
                        assert!(
                            map.get("additionalProperties")
                                .is_some_and(|a| a.is_object()),
                            "{name} {path}: an object without properties must type its values"
                        );
                    }
                }
                for (k, child) in map {
                    walk(name, &format!("{path}/{k}"), child);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(name, &format!("{path}/{i}"), child);
                }
            }
            _ => {}
        }
    }
    for entry in std::fs::read_dir(repo("schemas")).expect("schemas/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let name = file.trim_end_matches(".schema.json");
        walk(name, "", &schema(name));
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
