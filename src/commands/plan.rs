//! `albkit plan`: what `up` would change. Reads only.

use super::planning::compute_plan;
use super::session::Session;
use super::{Document, Outcome};
use crate::cli::{Cli, PlanArgs};
use crate::error::Result;

pub async fn run(cli: &Cli, args: &PlanArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    s.print_warnings();
    let p = compute_plan(&s).await?;
    let mut document = None;
    if s.json() {
        document = Some(Document::of(&serde_json::json!({
            "stack": s.config.stack.name,
            "region": s.aws.region,
            "has_changes": p.plan.has_changes(),
            "counts": p.plan.counts(),
            "changes": p.plan.changes.iter().filter(|c| c.action != crate::model::plan::Action::Keep).collect::<Vec<_>>(),
            "warnings": s.config.warnings,
        })));
    } else {
        print!("{}", p.plan.render());
    }
    let code = if args.detailed_exitcode && p.plan.has_changes() {
        2
    } else {
        0
    };
    Ok(Outcome::with(code, document))
}
