//! `albkit plan`: what `up` would change. Reads only.

use super::output::PlanDoc;
use super::planning::compute_plan;
use super::session::Session;
use super::Outcome;
use crate::cli::{Cli, PlanArgs};
use crate::error::Result;
use crate::model::plan::Action;

pub(crate) async fn run(cli: &Cli, args: &PlanArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    s.print_warnings();
    let p = compute_plan(&s).await?;
    let code = if args.detailed_exitcode && p.plan.has_changes() {
        2
    } else {
        0
    };
    if !s.json() {
        print!("{}", p.plan.render());
        return Ok(Outcome::code(code));
    }
    let document = PlanDoc {
        stack: s.config.stack.name.clone(),
        region: s.aws.region.clone(),
        has_changes: p.plan.has_changes(),
        counts: p.plan.counts(),
        changes: p
            .plan
            .changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .cloned()
            .collect(),
        warnings: s.config.warnings.clone(),
    };
    Ok(Outcome::json(code, true, &document))
}
