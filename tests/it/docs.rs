//! What the repository documents about the command line, checked against the command
//! line itself, so that none of it rots silently: the man pages in docs/man/, the CI
//! examples in examples/ci/, a JSON schema per command in schemas/, the README's list
//! of commands and the IAM policies shown in docs/permissions.md; and what the
//! configuration tables generate: the README's `albkit.toml` reference and
//! schemas/albkit-toml.schema.json. No AWS, no network.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use albkit::cli::Cli;
use clap::{CommandFactory, Parser};
use yaml_rust2::{Yaml, YamlLoader};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn repo(relative: &str) -> PathBuf {
    Path::new(REPO).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

/// Commands whose `-o json` prints no document: a completion script is the output
/// itself, `dev` is a server that runs until stopped, and `graph` prints the graph.
const NO_DOCUMENT: &[&str] = &["completions", "dev", "graph"];

fn commands() -> Vec<clap::Command> {
    Cli::command().get_subcommands().cloned().collect()
}

#[test]
fn the_man_pages_in_docs_man_are_up_to_date() {
    let pages = albkit::commands::man::pages().expect("render man pages");
    let dir = repo("docs/man");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(std::result::Result::ok)
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
        // roff writes a hyphen as `\-`.
        assert!(
            main.contains(&c.get_name().replace('-', "\\-")),
            "albkit.1 does not list {}",
            c.get_name()
        );
    }
}

// ---------------------------------------------------------------------------------
// CI examples
// ---------------------------------------------------------------------------------

/// Keys whose values are shell commands: GitHub Actions' `run`, GitLab CI's scripts.
const SCRIPT_KEYS: &[&str] = &["run", "script", "before_script", "after_script"];

/// The shell scripts in a CI file.
fn scripts<'a>(y: &'a Yaml, out: &mut Vec<&'a str>) {
    match y {
        Yaml::Array(items) => items.iter().for_each(|i| scripts(i, out)),
        Yaml::Hash(map) => map.iter().for_each(|(k, v)| {
            if k.as_str().is_some_and(|k| SCRIPT_KEYS.contains(&k)) {
                strings(v, out);
            } else {
                scripts(v, out);
            }
        }),
        _ => {}
    }
}

fn strings<'a>(y: &'a Yaml, out: &mut Vec<&'a str>) {
    match y {
        Yaml::String(s) => out.push(s),
        Yaml::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Yaml::Hash(map) => map.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        _ => {}
    }
}

/// Splits a shell line into words (single and double quotes, no expansion).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

const OPERATORS: &[&str] = &["|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"];

/// Every `albkit ...` command in `text`, as its argument list (cut at the first shell
/// operator or redirection).
fn invocations(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.starts_with('#') {
            continue;
        }
        let w = words(line);
        for (i, word) in w.iter().enumerate() {
            let at_command = i == 0 || OPERATORS.contains(&w[i - 1].as_str());
            if at_command && (word == "albkit" || word.ends_with("/albkit")) {
                let args: Vec<String> = w[i..]
                    .iter()
                    .take_while(|a| {
                        !OPERATORS.contains(&a.as_str())
                            && !a.starts_with('>')
                            && !a.starts_with("2>")
                    })
                    .cloned()
                    .collect();
                found.push(args);
            }
        }
    }
    found
}

/// Parses the file as YAML and checks every albkit command in it against the CLI.
fn check_ci_file(relative: &str) -> Yaml {
    let text = read(relative);
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(docs.len(), 1, "{relative}: one YAML document expected");
    let mut all = Vec::new();
    scripts(&docs[0], &mut all);
    assert!(!all.is_empty(), "{relative}: no scripts found");
    let commands: Vec<Vec<String>> = all.iter().flat_map(|s| invocations(s)).collect();
    for args in &commands {
        if let Err(e) = Cli::try_parse_from(args) {
            panic!(
                "{relative}: `{}` is not a valid albkit command:\n{e}",
                args.join(" ")
            );
        }
    }
    // The two steps every pipeline here exists for.
    for wanted in [
        &["plan", "--detailed-exitcode"][..],
        &["up", "--yes", "-o", "json"],
    ] {
        assert!(
            has(&commands, wanted),
            "{relative}: no `albkit {}`: {commands:?}",
            wanted.join(" ")
        );
    }
    docs[0].clone()
}

fn has(commands: &[Vec<String>], wanted: &[&str]) -> bool {
    commands
        .iter()
        .any(|args| wanted.iter().all(|w| args.iter().any(|a| a == w)))
}

#[test]
fn the_invocation_finder_finds_and_cuts_commands() {
    let found = invocations(
        "set +e\nalbkit plan --detailed-exitcode > plan.txt 2> plan.log\n\
         x=1 && albkit up --yes -o json | tee up.json\n# albkit down\necho albkit",
    );
    assert_eq!(
        found,
        vec![
            vec!["albkit", "plan", "--detailed-exitcode"],
            vec!["albkit", "up", "--yes", "-o", "json"],
        ]
    );
    assert!(Cli::try_parse_from(["albkit", "plan", "--no-such-flag"]).is_err());
}

#[test]
fn the_github_actions_example_is_valid_and_uses_real_commands() {
    let doc = check_ci_file("examples/ci/github-actions.yml");
    assert_eq!(
        doc["permissions"]["id-token"].as_str(),
        Some("write"),
        "OIDC needs permissions: id-token: write"
    );
    let on = &doc["on"];
    assert!(!on["pull_request"].is_badvalue(), "runs on pull requests");
    assert_eq!(on["push"]["branches"][0].as_str(), Some("main"));
    // Both jobs take their credentials from a role through OIDC.
    let jobs = doc["jobs"].as_hash().expect("jobs");
    assert!(!jobs.is_empty());
    for (name, job) in jobs {
        let steps = job["steps"].as_vec().expect("steps");
        let aws = steps
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            })
            .unwrap_or_else(|| panic!("job {name:?} has no configure-aws-credentials step"));
        assert!(aws["with"]["role-to-assume"].as_str().is_some());
        assert!(
            steps.iter().any(|s| s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache@"))),
            "job {name:?} does not cache cargo"
        );
    }
}

#[test]
fn the_gitlab_ci_example_is_valid_and_uses_real_commands() {
    let doc = check_ci_file("examples/ci/gitlab-ci.yml");
    let oidc = &doc[".aws-oidc"];
    assert_eq!(
        oidc["id_tokens"]["AWS_ID_TOKEN"]["aud"].as_str(),
        Some("sts.amazonaws.com")
    );
    let mut before = Vec::new();
    strings(&oidc["before_script"], &mut before);
    assert!(before
        .iter()
        .any(|s| s.contains("assume-role-with-web-identity") && s.contains("$AWS_ID_TOKEN")));
    for job in ["plan", "up"] {
        assert_eq!(doc[job]["extends"].as_str(), Some(".aws-oidc"), "{job}");
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
    // Not a command's output: the configuration file's schema, checked below.
    expected.insert(CONFIG_SCHEMA.into());
    let present: BTreeSet<String> = std::fs::read_dir(repo("schemas"))
        .expect("schemas/")
        .filter_map(std::result::Result::ok)
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
                                .is_some_and(serde_json::Value::is_object),
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
        // albkit.toml has optional keys; its schema is checked against the tables.
        if name != CONFIG_SCHEMA {
            walk(name, "", &schema(name));
        }
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
    for file in [
        "examples/ci/github-actions.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        assert!(readme.contains(file), "README.md does not mention {file}");
    }
}

/// docs/permissions.md shows both policies for the `hello` template in us-east-1,
/// account 123456789012: exactly what `albkit iam-policy` prints for it.
#[test]
fn the_permissions_doc_shows_the_policies_iam_policy_prints() {
    use albkit::model::iam_policy::{document, Audience, Scope};
    let dir = tempfile::tempdir().expect("tempdir");
    let template = albkit::templates::find("hello").expect("hello template");
    for (path, contents) in albkit::templates::render(template, "hello") {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, contents).expect("write");
    }
    let config = albkit::model::validate::load(&dir.path().join("albkit.toml")).expect("config");
    let scope = Scope {
        config: &config,
        region: "us-east-1",
        account: "123456789012",
    };
    const DOC: &str = "docs/permissions.md";
    let doc = read(DOC);
    for (audience, name) in [(Audience::Deploy, "deploy"), (Audience::Plan, "plan")] {
        let marker = format!("<summary><code>albkit iam-policy --for {name}</code></summary>");
        let after = doc
            .split_once(&marker)
            .unwrap_or_else(|| panic!("{DOC} has no {marker}"))
            .1;
        let block = after
            .split_once("```json\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .map(|(json, _)| json)
            .expect("a json block after the marker");
        let shown: serde_json::Value =
            serde_json::from_str(block).unwrap_or_else(|e| panic!("{DOC}'s {name} policy: {e}"));
        assert_eq!(
            shown,
            document(&scope, audience),
            "{DOC}'s {name} policy differs from `albkit iam-policy --for {name}`"
        );
    }
}

// ---------------------------------------------------------------------------------
// albkit.toml: the README's reference and the JSON schema, from the field tables
// ---------------------------------------------------------------------------------

const CONFIG_SCHEMA: &str = "albkit-toml";

/// Set to rewrite the generated documents instead of failing on a difference.
const UPDATE: &str = "ALBKIT_UPDATE_DOCS";

fn updating() -> bool {
    std::env::var_os(UPDATE).is_some_and(|v| v == "1")
}

/// The README's configuration reference: the first TOML block under its heading.
fn readme_reference(readme: &str) -> std::ops::Range<usize> {
    let heading = readme
        .find("## Configuration: `albkit.toml`")
        .expect("README.md has a configuration section");
    let open = "```toml\n";
    let start = readme[heading..].find(open).expect("a toml block") + heading + open.len();
    let end = readme[start..].find("```\n").expect("the block's end") + start;
    start..end
}

#[test]
fn the_readme_configuration_reference_is_generated_from_the_tables() {
    let readme = read("README.md");
    let at = readme_reference(&readme);
    let generated = albkit::model::config::reference::toml();
    if readme[at.clone()] != generated && updating() {
        let mut updated = readme.clone();
        updated.replace_range(at, &generated);
        std::fs::write(repo("README.md"), updated).expect("write README.md");
        return;
    }
    assert!(
        readme[at] == generated,
        "README.md's albkit.toml reference differs from the field tables \
         (src/model/config/fields.rs); rewrite it with `{UPDATE}=1 cargo test --test it docs::`"
    );
}

#[test]
fn the_albkit_toml_schema_is_generated_from_the_tables() {
    let file = format!("schemas/{CONFIG_SCHEMA}.schema.json");
    let generated = albkit::model::config::reference::json_schema_text();
    if updating() && std::fs::read_to_string(repo(&file)).ok().as_ref() != Some(&generated) {
        std::fs::write(repo(&file), &generated).expect("write the schema");
        return;
    }
    assert!(
        read(&file) == generated,
        "{file} differs from the field tables (src/model/config/fields.rs); rewrite it with \
         `{UPDATE}=1 cargo test --test it docs::`"
    );
}

/// A TOML document as the JSON value a schema validator sees.
fn toml_to_json(item: &toml_edit::Item) -> serde_json::Value {
    use serde_json::Value as J;
    use toml_edit::{Item, Value};
    fn value(v: &Value) -> J {
        match v {
            Value::String(s) => J::from(s.value().as_str()),
            Value::Integer(i) => J::from(*i.value()),
            Value::Float(f) => J::from(*f.value()),
            Value::Boolean(b) => J::from(*b.value()),
            Value::Datetime(d) => J::from(d.value().to_string()),
            Value::Array(a) => J::Array(a.iter().map(value).collect()),
            Value::InlineTable(t) => table(t.iter().map(|(k, v)| (k, Item::Value(v.clone())))),
        }
    }
    fn table<'a>(entries: impl Iterator<Item = (&'a str, Item)>) -> J {
        J::Object(
            entries
                .map(|(k, v)| (k.to_owned(), toml_to_json(&v)))
                .collect(),
        )
    }
    match item {
        Item::None => J::Null,
        Item::Value(v) => value(v),
        Item::Table(t) => table(t.iter().map(|(k, v)| (k, v.clone()))),
        Item::ArrayOfTables(a) => J::Array(
            a.iter()
                .map(|t| table(t.iter().map(|(k, v)| (k, v.clone()))))
                .collect(),
        ),
    }
}

#[test]
fn every_template_and_the_readme_reference_match_the_albkit_toml_schema() {
    let validator = jsonschema::draft202012::new(&schema(CONFIG_SCHEMA)).expect("valid schema");
    let readme = read("README.md");
    let mut files = vec![(
        "README.md".to_owned(),
        readme[readme_reference(&readme)].to_owned(),
    )];
    for template in albkit::templates::TEMPLATES {
        for (path, text) in albkit::templates::render(template, "hello") {
            if path == "albkit.toml" {
                files.push((format!("templates/{}/{path}", template.name), text));
            }
        }
    }
    assert!(files.len() > 1, "no template has an albkit.toml");
    for (name, text) in &files {
        let doc: toml_edit::DocumentMut = text.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = toml_to_json(doc.as_item());
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name} does not match the schema: {errors:#?}"
        );
    }
    // And the schema refuses what albkit refuses.
    for bad in [
        "[stack]\nname = \"a\"\ncolour = \"blue\"\n[[functions]]\nname = \"a\"\npath = \"f\"\n",
        "[stack]\nname = \"a\"\n[[functions]]\nname = \"a\"\npath = \"f\"\nmemory_mb = 64\n",
        "[stack]\nname = \"a\"\n",
    ] {
        let doc: toml_edit::DocumentMut = bad.parse().expect("toml");
        assert!(!validator.is_valid(&toml_to_json(doc.as_item())), "{bad}");
    }
}

/// The README's picture of the hello template's stack: the Mermaid block under its
/// "Stack graph" heading.
fn readme_graph(readme: &str) -> std::ops::Range<usize> {
    let heading = readme
        .find("### The stack as a graph")
        .expect("README.md has a stack graph section");
    let open = "```mermaid\n";
    let start = readme[heading..].find(open).expect("a mermaid block") + heading + open.len();
    let end = readme[start..].find("```\n").expect("the block's end") + start;
    start..end
}

#[test]
fn the_readme_graph_is_what_albkit_graph_prints_for_the_hello_template() {
    let project = crate::support::Project::from_template("hello", "hello");
    let mut cmd = crate::support::albkit_process();
    cmd.current_dir(project.path())
        .args(["graph", "--format", "mermaid"]);
    let out = crate::support::run(cmd, crate::support::ALBKIT_TIMEOUT);
    out.ok();
    let readme = read("README.md");
    let at = readme_graph(&readme);
    if readme[at.clone()] != out.stdout && updating() {
        let mut updated = readme.clone();
        updated.replace_range(at, &out.stdout);
        std::fs::write(repo("README.md"), updated).expect("write README.md");
        return;
    }
    assert!(
        readme[at] == out.stdout,
        "README.md's stack graph differs from `albkit graph --format mermaid` of the hello \
         template; rewrite it with `{UPDATE}=1 cargo test --test it docs::`"
    );
}

/// `albkit cost --plot` draws the README's cost chart: SVG with the three fronts, the
/// break-evens and the config's traffic; PNG of the chart's size. With `ALBKIT_UPDATE_DOCS`
/// the SVG becomes docs/images/cost.svg (not compared byte for byte: its text is laid out
/// with whatever TrueType font the machine has).
#[test]
fn albkit_cost_plot_draws_the_readme_chart_as_svg_and_png() {
    let project = crate::support::Project::from_template("hello", "hello");
    let dir = project.path().to_path_buf();
    let plot = |file: &str| {
        let mut cmd = crate::support::albkit_process();
        cmd.current_dir(&dir)
            .args(["cost", "-q", "--requests-per-second", "10", "--plot", file]);
        let out = crate::support::run(cmd, crate::support::ALBKIT_TIMEOUT);
        out.ok();
        std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}\n{out}"))
    };
    let svg = String::from_utf8(plot("cost.svg")).expect("SVG is text");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for text in [
        "Monthly cost of hello (us-east-1 prices)",
        "ALB + Lambda",
        "REST API + Lambda",
        "HTTP API + Lambda",
        "break-even vs REST API (from ",
        "break-even vs HTTP API (from ",
        "this config: 10 rps",
    ] {
        assert!(svg.contains(text), "the chart says {text:?}");
    }
    let png = plot("cost.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    // IHDR: width and height, big-endian, right after the chunk's length and type.
    assert_eq!(&png[16..24], [0, 0, 3, 192, 0, 0, 2, 88], "960 x 600");

    let picture = repo("docs/images/cost.svg");
    if updating() {
        std::fs::write(&picture, &svg).expect("write docs/images/cost.svg");
    }
    assert!(
        picture.exists(),
        "docs/images/cost.svg is missing: run `{UPDATE}=1 cargo test --test it docs::`"
    );
    assert!(read("README.md").contains("![Monthly cost against traffic](docs/images/cost.svg)"));
}
