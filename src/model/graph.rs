//! `albkit graph`: the stack's resources and what each one needs, as a Graphviz DOT
//! digraph or a Mermaid flowchart. With a plan, each resource is coloured by what `up`
//! would do to it, and the resources it would delete are drawn too. Pure.
//!
//! An edge goes from a resource to one it needs (`subnet/1 -> vpc`), as the executor
//! orders its work and as `terraform graph` draws it.

use std::fmt::Write as _;

use super::plan::{dependencies, Action, Plan};
use super::stack::Desired;

/// The text format of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Graphviz (`dot -Tsvg`).
    Dot,
    /// Mermaid (a `flowchart`, rendered by GitHub in Markdown).
    Mermaid,
}

/// One resource of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    logical: String,
    kind: &'static str,
    /// What the plan does to it; `None` without a plan.
    action: Option<Action>,
}

/// The colour of each action that changes something (GitHub's palette, readable on
/// light and dark backgrounds).
fn colour(action: Action) -> Option<&'static str> {
    match action {
        Action::Create => Some("#2da44e"),
        Action::Update => Some("#bf8700"),
        Action::Replace => Some("#8250df"),
        Action::Delete => Some("#cf222e"),
        Action::Keep => None,
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Keep => "keep",
    }
}

/// The nodes (desired order, then what the plan deletes) and the edges, by index.
fn graph(desired: &Desired, plan: Option<&Plan>) -> (Vec<Node>, Vec<(usize, usize)>) {
    let action_of = |logical: &str| {
        plan.and_then(|p| p.changes.iter().find(|c| c.logical == logical))
            .map(|c| c.action)
    };
    let mut nodes: Vec<Node> = desired
        .resources
        .iter()
        .map(|r| Node {
            logical: r.logical.clone(),
            kind: r.kind.as_str(),
            action: action_of(&r.logical),
        })
        .collect();
    let deleted = plan
        .into_iter()
        .flat_map(|p| &p.changes)
        .filter(|c| c.action == Action::Delete && desired.get(&c.logical).is_none());
    for c in deleted {
        nodes.push(Node {
            logical: c.logical.clone(),
            kind: c.kind.as_str(),
            action: Some(Action::Delete),
        });
    }
    let index = |logical: &str| nodes.iter().position(|n| n.logical == logical);
    let mut edges = Vec::new();
    for r in &desired.resources {
        let Some(from) = index(&r.logical) else {
            continue;
        };
        for needed in dependencies(r, desired) {
            if let Some(to) = index(&needed) {
                edges.push((from, to));
            }
        }
    }
    (nodes, edges)
}

/// The graph of `desired` (coloured by `plan` when given) as text in `format`.
pub fn render(stack: &str, desired: &Desired, plan: Option<&Plan>, format: Format) -> String {
    let (nodes, edges) = graph(desired, plan);
    match format {
        Format::Dot => dot(stack, &nodes, &edges),
        Format::Mermaid => mermaid(&nodes, &edges),
    }
}

/// The lines of a node's label: its logical id, then its kind where the id does not
/// say it, and the action.
fn label(n: &Node) -> Vec<String> {
    let mut second = if n.logical == n.kind {
        String::new()
    } else {
        n.kind.to_string()
    };
    if let Some(a) = n.action.filter(|a| *a != Action::Keep) {
        second = format!("{second} ({})", verb(a)).trim_start().to_string();
    }
    let mut lines = vec![n.logical.clone()];
    if !second.is_empty() {
        lines.push(second);
    }
    lines
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot_quote(text: &str) -> String {
    format!("\"{}\"", dot_escape(text))
}

fn dot(stack: &str, nodes: &[Node], edges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "digraph {} ", dot_quote(&format!("albkit {stack}")));
    out.push_str("{\n");
    out.push_str("  rankdir=\"RL\";\n");
    out.push_str("  node [shape=\"box\", style=\"rounded\", fontname=\"Helvetica\"];\n");
    for n in nodes {
        let lines: Vec<String> = label(n).iter().map(|l| dot_escape(l)).collect();
        let mut attrs = format!("label=\"{}\"", lines.join("\\n"));
        if let Some(c) = n.action.and_then(colour) {
            let style = if n.action == Some(Action::Delete) {
                "rounded,bold,dashed"
            } else {
                "rounded,bold"
            };
            let _ = write!(
                attrs,
                ", color=\"{c}\", fontcolor=\"{c}\", style=\"{style}\""
            );
        }
        let _ = writeln!(out, "  {} [{attrs}];", dot_quote(&n.logical));
    }
    for (from, to) in edges {
        let _ = writeln!(
            out,
            "  {} -> {};",
            dot_quote(&nodes[*from].logical),
            dot_quote(&nodes[*to].logical)
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid node labels are quoted; a quote inside is written as an entity.
fn mermaid_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "#quot;"))
}

fn mermaid(nodes: &[Node], edges: &[(usize, usize)]) -> String {
    let mut out = String::from("flowchart RL\n");
    for (i, n) in nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[{}]", mermaid_quote(&label(n).join("<br/>")));
    }
    for (from, to) in edges {
        let _ = writeln!(out, "  n{from} --> n{to}");
    }
    for action in [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
    ] {
        let members: Vec<String> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.action == Some(action))
            .map(|(i, _)| format!("n{i}"))
            .collect();
        let (Some(c), false) = (colour(action), members.is_empty()) else {
            continue;
        };
        let dash = if action == Action::Delete {
            ",stroke-dasharray:5 5"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  classDef {} stroke:{c},stroke-width:2px,color:{c}{dash}",
            verb(action)
        );
        let _ = writeln!(out, "  class {} {}", members.join(","), verb(action));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::desired::desired;
    use crate::model::plan::tests::{config, ctx};
    use crate::model::plan::{plan, Change, ObservedStack};
    use crate::model::spec::Kind;

    fn small_stack() -> Desired {
        desired(&config(true), &ctx())
    }

    #[test]
    fn every_resource_is_a_node_and_every_need_an_edge() {
        let desired = small_stack();
        let text = render("shop", &desired, None, Format::Dot);
        assert!(text.starts_with("digraph \"albkit shop\" {\n"), "{text}");
        for r in &desired.resources {
            assert!(
                text.contains(&format!("  \"{}\" [label=", r.logical)),
                "{text}"
            );
            for d in dependencies(r, &desired) {
                assert!(
                    text.contains(&format!("  \"{}\" -> \"{d}\";", r.logical)),
                    "{text}"
                );
            }
        }
        assert!(text.contains("  \"subnet/1\" -> \"vpc\";"), "{text}");
        assert!(text.contains("  \"vpc\" [label=\"vpc\"];"), "{text}");
        assert!(
            text.contains("  \"subnet/1\" [label=\"subnet/1\\nsubnet\"];"),
            "{text}"
        );
        assert!(!text.contains("color="), "no plan, no colour: {text}");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn a_plan_colours_what_changes_and_draws_what_it_deletes() {
        let desired = small_stack();
        let mut p = plan(&desired, &ObservedStack::new()).expect("plan");
        p.changes.push(Change {
            logical: "function/old".into(),
            kind: Kind::Function,
            action: Action::Delete,
            id: Some("arn:old".into()),
            fields: Vec::new(),
        });
        let dot = render("shop", &desired, Some(&p), Format::Dot);
        assert!(
            dot.contains("  \"vpc\" [label=\"vpc\\n(create)\", color=\"#2da44e\""),
            "{dot}"
        );
        assert!(dot.contains("  \"function/old\" [label=\"function/old\\nlambda-function (delete)\", color=\"#cf222e\""), "{dot}");
        assert!(dot.contains("dashed"), "{dot}");

        let mermaid = render("shop", &desired, Some(&p), Format::Mermaid);
        assert!(
            mermaid.starts_with("flowchart RL\n  n0[\"vpc<br/>(create)\"]\n"),
            "{mermaid}"
        );
        assert!(
            mermaid.contains("  classDef create stroke:#2da44e"),
            "{mermaid}"
        );
        assert!(mermaid.contains("  classDef delete stroke:#cf222e,stroke-width:2px,color:#cf222e,stroke-dasharray:5 5"), "{mermaid}");
        let last = desired.resources.len();
        assert!(
            mermaid.contains(&format!("  class n{last} delete\n")),
            "{mermaid}"
        );
        assert!(
            !mermaid.contains("classDef update"),
            "no update, no class: {mermaid}"
        );
    }

    #[test]
    fn quotes_in_labels_cannot_break_out() {
        assert_eq!(dot_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(mermaid_quote(r#"a"b"#), "\"a#quot;b\"");
    }
}
