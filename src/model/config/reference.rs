//! What the field tables generate for users: the commented `albkit.toml` reference the
//! README shows, and the JSON Schema in `schemas/albkit-toml.schema.json` (for editors).
//! Both are checked against the committed files by the integration tests.

use serde_json::{json, Map, Value};

use super::fields::{Field, Section, Ty, SECTIONS, TOP};

/// Column at which the comments of the reference start.
const COMMENT_COLUMN: usize = 33;

/// Every key of `albkit.toml` as a commented TOML file: each section with its keys, their
/// defaults (or an example), ranges and meaning. Keys shown commented out are opt-ins or
/// alternatives; the file as shown is valid (given a crate in `functions/api`).
pub fn toml() -> String {
    let mut out = String::new();
    for (i, section) in SECTIONS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // A section of alternatives only (every key commented out) is shown commented out.
        let commented = section.commented || section.fields.iter().all(|f| f.commented);
        let hash = if commented { "# " } else { "" };
        out.push_str(&line(&format!("{hash}{}", section.header), section.doc));
        for f in section.fields {
            if !matches!(f.ty, Ty::Table(_) | Ty::Tables(_)) {
                let lhs = format!(
                    "{}{} = {}",
                    if f.commented || section.commented {
                        "# "
                    } else {
                        ""
                    },
                    f.key,
                    f.example_toml()
                );
                out.push_str(&line(&lhs, &comment(f)));
            }
        }
    }
    out
}

fn line(lhs: &str, comment: &str) -> String {
    if comment.is_empty() {
        format!("{lhs}\n")
    } else {
        let pad = (COMMENT_COLUMN - 1)
            .saturating_sub(lhs.chars().count())
            .max(1);
        format!("{lhs}{}# {comment}\n", " ".repeat(pad))
    }
}

/// The comment of a key: required or not, range or choices, meaning.
fn comment(f: &Field) -> String {
    let mut parts = Vec::new();
    if f.required {
        parts.push("required".to_owned());
    }
    match f.ty {
        Ty::Int { min, max, .. } | Ty::OptInt { min, max } | Ty::IntRange { min, max } => {
            parts.push(format!("{min}–{max}"));
        }
        Ty::Enum { values, .. } => parts.push(
            values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        _ => {}
    }
    if !f.doc.is_empty() {
        parts.push(f.doc.to_owned());
    }
    parts.join("; ")
}

/// A JSON Schema (draft 2020-12) of `albkit.toml`: the structure, types, ranges, choices
/// and defaults of the tables. The rules between keys and inside values (a CIDR's host
/// bits, unique priorities) are albkit's own: `albkit plan` reports those.
pub fn json_schema() -> Value {
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    schema.insert("title".into(), json!("albkit.toml"));
    schema.insert(
        "description".into(),
        json!("albkit's configuration; generated from src/model/config/fields.rs"),
    );
    if let Value::Object(top) = object(&TOP) {
        schema.extend(top);
    }
    Value::Object(schema)
}

/// The schema text as committed: pretty-printed, with a final newline.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

fn object(section: &Section) -> Value {
    let properties: Map<String, Value> = section
        .fields
        .iter()
        .map(|f| (f.key.to_owned(), property(f)))
        .collect();
    let required: Vec<&str> = section
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    let mut out = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "required": required,
    });
    if !section.doc.is_empty() {
        out["description"] = json!(section.doc);
    }
    out
}

fn property(f: &Field) -> Value {
    let mut p = match f.ty {
        Ty::Str => json!({ "type": "string" }),
        Ty::Int { min, max, .. } | Ty::OptInt { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        Ty::IntOf { values, .. } => json!({ "enum": values }),
        Ty::Bool(_) => json!({ "type": "boolean" }),
        Ty::Enum { values, .. } => json!({ "enum": values }),
        Ty::StrList => json!({ "type": "array", "items": { "type": "string" } }),
        Ty::IntRange { min, max } => json!({
            "type": "array",
            "items": { "type": "integer", "minimum": min, "maximum": max },
            "minItems": 2,
            "maxItems": 2,
        }),
        Ty::StrMap => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
        Ty::StrOrBool => json!({ "type": ["string", "boolean"] }),
        Ty::Table(section) => object(section),
        Ty::Tables(section) => json!({ "type": "array", "items": object(section) }),
    };
    if let Ty::Tables(_) = f.ty {
        if f.required {
            p["minItems"] = json!(1);
        }
    }
    if !f.required {
        if let Some(default) = f.default_toml() {
            // TOML literals of strings, integers and booleans are JSON too.
            if let Ok(v) = serde_json::from_str::<Value>(&default) {
                p["default"] = v;
            }
        }
    }
    if !f.doc.is_empty() {
        p["description"] = json!(f.doc);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_a_valid_configuration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let crate_dir = dir.path().join("functions/api");
        std::fs::create_dir_all(&crate_dir).expect("mkdir");
        std::fs::write(crate_dir.join("Cargo.toml"), "[package]\n").expect("write");
        let text = toml();
        if let Err(problems) = super::super::parse_str(&text, dir.path()) {
            panic!("{problems:#?}\n{text}");
        }
    }

    #[test]
    fn comments_line_up() {
        assert_eq!(line("a = 1", "x"), format!("a = 1{}# x\n", " ".repeat(27)));
        let long = "k".repeat(40);
        assert_eq!(line(&long, "x"), format!("{long} # x\n"));
        assert_eq!(line("[stack]", ""), "[stack]\n");
    }

    #[test]
    fn the_schema_lists_every_section() {
        let schema = json_schema();
        let function = &schema["properties"]["functions"]["items"];
        assert_eq!(schema["required"], json!(["stack", "functions"]));
        assert_eq!(
            function["properties"]["memory_mb"],
            json!({ "type": "integer", "minimum": 128, "maximum": 10240, "default": 128 })
        );
        assert_eq!(
            function["properties"]["routes"]["items"]["required"],
            json!(["priority"])
        );
    }
}
