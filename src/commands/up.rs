//! `albkit up`: converge the stack to the config.

use std::collections::BTreeMap;

use super::confirm::confirm;
use super::output::UpDoc;
use super::planning::{compute_plan, replan, Planned};
use super::session::Session;
use super::{seed, url, Outcome};
use crate::aws::executor;
use crate::aws::resources::load_balancer;
use crate::cli::{Cli, UpArgs};
use crate::error::Result;
use crate::model::names::logical;
use crate::model::plan::Action;

pub(crate) async fn run(cli: &Cli, args: &UpArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    s.print_warnings();
    let p = compute_plan(&s).await?;
    // Nothing to change: nothing to lock (a no-op up only reads, like plan).
    if !p.plan.has_changes() {
        return converge(&s, args.yes, p).await;
    }
    let lock = s.lock("up", args.lock_timeout).await?;
    let result = async { converge(&s, args.yes, replan(&s, p).await?).await }.await;
    s.unlock(lock).await;
    result
}

/// Applies the plan (under the stack's lock when it has changes) and reports.
async fn converge(s: &Session, yes: bool, p: Planned) -> Result<Outcome> {
    let ctx = s.ctx(&p.artifacts);
    seed(&ctx, &p.discovery.observed);
    let counts = p.plan.counts();
    if p.plan.has_changes() {
        if !s.json() {
            eprint!("{}", p.plan.render());
        }
        let question = format!(
            "Apply these changes to stack {} in {} (account {})?",
            s.config.stack.name,
            s.aws.region,
            s.account().await?
        );
        if !confirm(yes, &question, s.json())? {
            eprintln!("Cancelled: nothing was changed.");
            return Ok(Outcome::code(1));
        }
        s.phase("Applying");
        executor::apply(&ctx, &p.plan, &p.desired, &p.discovery.observed).await?;
    } else {
        if !s.json() {
            eprintln!(
                "Stack {} is up to date ({} resources).",
                s.config.stack.name, counts.unchanged
            );
        }
        // An up that found nothing to do still returns only once the URL can answer;
        // the state read during discovery usually says so already.
        let lb = p.discovery.observed.get(logical::LOAD_BALANCER);
        if let Some(lb) = lb.filter(|o| !load_balancer::is_active(o)) {
            load_balancer::wait_active(&ctx, &lb.id).await?;
        }
    }
    let dns = ctx.ids.endpoint().map(|e| e.dns_name);
    let url = url(&s.config, dns.as_deref());
    if s.json() {
        let ids: BTreeMap<String, String> = ctx.ids.snapshot();
        let document = UpDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            url,
            dns_name: dns,
            resources: ids,
            counts: counts.into(),
            notes: s.reporter.notes(),
            warnings: s.config.warnings.clone(),
        };
        return Ok(Outcome::json(0, true, &document));
    }
    let c = p
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Keep)
        .count();
    eprintln!("Done: {c} change(s) applied.");
    if let Some(url) = url {
        println!("{url}");
    }
    Ok(Outcome::code(0))
}
