//! `albkit plan`: what `up` would change. Reads only.

use super::{compute_plan, print_json, Session};
use crate::cli::Cli;
use crate::error::Result;

pub async fn run(cli: &Cli, detailed_exitcode: bool) -> Result<u8> {
    let s = Session::open(cli).await?;
    s.print_warnings();
    let p = compute_plan(&s).await?;
    if s.json() {
        print_json(&serde_json::json!({
            "stack": s.config.stack.name,
            "region": s.aws.region,
            "has_changes": p.plan.has_changes(),
            "counts": p.plan.counts(),
            "changes": p.plan.changes.iter().filter(|c| c.action != crate::model::plan::Action::Keep).collect::<Vec<_>>(),
            "warnings": s.config.warnings,
        }));
    } else {
        print!("{}", p.plan.render());
    }
    Ok(if detailed_exitcode && p.plan.has_changes() {
        2
    } else {
        0
    })
}
