//! `albkit graph`: the stack's dependency graph as Graphviz DOT or Mermaid, drawn by
//! [`crate::model::graph`]. Without `--plan` it reads only albkit.toml; with it, it
//! reads the stack in AWS as `plan` does and colours each resource by its action.

use super::planning::compute_plan;
use super::session::Session;
use super::Outcome;
use crate::cli::{Cli, GraphArgs, GraphFormat, Output};
use crate::error::{Error, Result};
use crate::model::desired::desired;
use crate::model::graph::{render, Format};
use crate::model::stack::Context;

pub(crate) async fn run(cli: &Cli, args: &GraphArgs) -> Result<Outcome> {
    if cli.output == Output::Json {
        return Err(Error::usage(
            "`albkit graph` prints a graph, not a JSON document",
            "leave -o json out; choose the graph's format with --format dot|mermaid",
        ));
    }
    let format = match args.format {
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
    };
    let text = if args.plan {
        let s = Session::open(cli).await?;
        let p = compute_plan(&s).await?;
        render(&s.config.stack.name, &p.desired, Some(&p.plan), format)
    } else {
        let config = crate::model::validate::load(&cli.config)?;
        // Which resources exist and what each needs follow from the config alone.
        let stack = desired(&config, &Context::default());
        render(&config.stack.name, &stack, None, format)
    };
    print!("{text}");
    Ok(Outcome::code(0))
}
