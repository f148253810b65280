//! `albkit down`: remove the stack, keeping logs unless asked otherwise.
//!
//! What is not the stack's is never touched: a resource found in the stack's place
//! without the proof of ownership is left where it is, named in the output, and the
//! rest of the stack is still removed. What is shared or protected goes only on the
//! user's explicit word: the logs (`--purge-logs`), a load balancer's deletion
//! protection (`--disable-deletion-protection`) and the certificate's validation
//! CNAMEs (`--delete-validation-records`).

use super::confirm::confirm;
use super::output::{DownDoc, ForeignDoc, Kept};
use super::planning::{check_duplicates, foreign_list};
use super::session::Session;
use super::Outcome;
use crate::aws::discover::{discover, seed_ids};
use crate::aws::events::{Event, Reporter};
use crate::aws::executor::{delete_in_order, Teardown};
use crate::aws::lock::remove_bucket_if_unused;
use crate::aws::resources::{certificate, gate_alarms, load_balancer, Ctx, Foreign};
use crate::cli::{Cli, DownArgs};
use crate::error::{Error, Result};
use crate::model::names::logical;
use crate::model::plan::{teardown, Change, ObservedStack};

/// What `down` may remove besides the stack, as the flags say.
fn options(args: &DownArgs) -> Teardown {
    Teardown {
        purge_logs: args.purge_logs,
        disable_deletion_protection: args.disable_deletion_protection,
        delete_validation_records: args.delete_validation_records,
    }
}

pub(crate) async fn run(cli: &Cli, args: &DownArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    let opts = options(args);
    let lock = s.lock("down", args.lock_timeout).await?;
    let result = remove(&s, opts, args.yes).await;
    s.unlock(lock).await;
    if result.is_ok() {
        // With --purge-logs, the region's lock bucket goes when no stack holds a lock in
        // it any more; without, it stays, so that its name stays albkit's. The lock was
        // taken, so the account is known.
        let account = s.account().await?;
        if let Err(e) = remove_bucket_if_unused(&s.aws, &s.names, account, opts.purge_logs).await {
            s.reporter.event(Event::Note(format!(
                "the lock bucket {} was left in place: {e}",
                s.names.lock_bucket(account)
            )));
        }
    }
    result
}

/// Refuses, before anything is changed, what `down` may not do without the user's
/// explicit word: deleting a load balancer that has deletion protection on.
fn check_protection(observed: &ObservedStack, opts: Teardown) -> Result<()> {
    match observed.get(logical::LOAD_BALANCER) {
        Some(lb) if load_balancer::is_protected(lb) && !opts.disable_deletion_protection => {
            Err(Error::Conflict {
                message: format!(
                    "the stack's load balancer {} has deletion protection on: nothing was removed",
                    lb.id
                ),
                help: load_balancer::PROTECTED_HELP.into(),
            })
        }
        _ => Ok(()),
    }
}

/// What `down` says about the certificate's validation CNAMEs: kept (and why), or
/// deleted (and which other certificates of this region used them too).
async fn validation_note(
    ctx: &Ctx<'_>,
    observed: &ObservedStack,
    opts: Teardown,
) -> Option<String> {
    let cert = observed.get(logical::CERTIFICATE)?;
    let (domain, records) = certificate::validation(cert);
    let zone = ctx.config.https.as_ref()?.hosted_zone_id.as_ref()?;
    if records.is_empty() {
        return None;
    }
    let names: Vec<&str> = records.iter().map(|(name, _)| name.as_str()).collect();
    if !opts.delete_validation_records {
        return Some(format!(
            "kept the DNS validation record(s) {} in hosted zone {zone}: ACM shares them with every \
             certificate for {domain} in this account (any region, CloudFront too); \
             `albkit down --delete-validation-records` removes them",
            names.join(", ")
        ));
    }
    let others = certificate::others_for_domain(ctx, domain, &cert.id)
        .await
        .unwrap_or_default();
    Some(if others.is_empty() {
        format!(
            "deleting the DNS validation record(s) {}: no other certificate for {domain} was found in {}, \
             but certificates in other regions and CloudFront's cannot be seen from here and renew with them",
            names.join(", "),
            ctx.aws.region
        )
    } else {
        format!(
            "deleting the DNS validation record(s) {}: these certificates for {domain} in {} use them too \
             and will need them written again to renew: {}",
            names.join(", "),
            ctx.aws.region,
            others.join(", ")
        )
    })
}

/// Discovers and deletes, under the stack's lock.
async fn remove(s: &Session, opts: Teardown, yes: bool) -> Result<Outcome> {
    let empty = Default::default();
    let ctx = s.ctx(&empty);
    let account = s.account().await?;
    s.phase(format!(
        "Reading stack {} in {} (account {})",
        s.config.stack.name, s.aws.region, account
    ));
    let d = discover(&ctx).await?;
    check_duplicates(&d)?;
    check_protection(&d.observed, opts)?;
    seed_ids(&ctx, &d.observed);
    let plan = teardown(&s.config.stack.name, &d.observed);
    if !d.foreign.is_empty() && !s.json() {
        eprintln!(
            "Left in place, not the stack's (albkit never deletes what it does not own):{}",
            foreign_list(&d.foreign)
        );
    }
    let mut doc = document(s, !plan.changes.is_empty(), &d.foreign);
    if plan.changes.is_empty() {
        if !s.json() {
            eprintln!(
                "Stack {} does not exist in {} (account {}): nothing to remove.",
                s.config.stack.name, s.aws.region, account
            );
        }
        doc.notes = s.reporter.notes();
        return Ok(Outcome::json(0, s.json(), &doc));
    }
    if !s.json() {
        list_changes(&plan.changes, opts);
    }
    let question = format!(
        "Remove stack {} from {} (account {})?",
        s.config.stack.name, s.aws.region, account
    );
    if !confirm(yes, &question, s.json())? {
        eprintln!("Cancelled: nothing was changed.");
        return Ok(Outcome::code(1));
    }
    if let Some(note) = validation_note(&ctx, &d.observed, opts).await {
        s.reporter.event(Event::Note(note));
    }
    let items: Vec<_> = d.observed.values().collect();
    let kept = delete_in_order(&ctx, &items, opts).await?;
    remove_gate_alarms(&ctx).await;
    doc.removed = d
        .observed
        .keys()
        .filter(|k| !kept.iter().any(|x| x == *k))
        .cloned()
        .collect();
    doc.kept = kept
        .iter()
        .map(|k| Kept {
            logical: k.clone(),
            id: d.observed.get(k).map(|o| o.id.clone()),
        })
        .collect();
    doc.notes = s.reporter.notes();
    if !s.json() {
        summary(&doc);
    }
    Ok(Outcome::json(0, s.json(), &doc))
}

/// The gate alarms a canary or linear deploy killed mid-shift may have left (when the
/// config uses such deploys): a failure is a note, not an error.
async fn remove_gate_alarms(ctx: &Ctx<'_>) {
    if !ctx.config.uses_progressive_deploys() {
        return;
    }
    let prefix = ctx.names.gate_alarm_stack_prefix();
    let notify = ctx.notify("gate-alarms");
    let note = match gate_alarms::delete_all(&ctx.aws.cloudwatch, &prefix, ctx.stack(), &notify).await {
        Ok(0) => return,
        Ok(n) => format!("deleted {n} deploy gate alarm(s) that a stopped deploy left"),
        Err(e) => format!("the deploy gate alarms named {prefix}* could not be removed: {e}; delete them in the CloudWatch console"),
    };
    ctx.reporter.event(Event::Note(note));
}

/// The document of `down` before anything is removed.
fn document(s: &Session, existed: bool, foreign: &[Foreign]) -> DownDoc {
    DownDoc {
        stack: s.config.stack.name.clone(),
        region: s.aws.region.clone(),
        existed,
        removed: Vec::new(),
        kept: Vec::new(),
        foreign: foreign
            .iter()
            .map(|f| ForeignDoc {
                kind: f.kind.to_string(),
                name: f.name.clone(),
                reason: f.reason.clone(),
            })
            .collect(),
        notes: Vec::new(),
    }
}

/// What `down` is about to do, one line per resource.
fn list_changes(changes: &[Change], opts: Teardown) {
    for c in changes {
        let keep = !opts.purge_logs && c.kind.holds_logs();
        eprintln!(
            "  {} {} ({}) {}",
            if keep { " " } else { "-" },
            c.logical,
            c.kind,
            if keep {
                "kept (use --purge-logs to delete)"
            } else {
                c.id.as_deref().unwrap_or("")
            }
        );
    }
}

/// What `down` did, for people.
fn summary(doc: &DownDoc) {
    eprintln!(
        "Removed {} resource(s) of stack {}.",
        doc.removed.len(),
        doc.stack
    );
    if !doc.kept.is_empty() {
        let kept: Vec<&str> = doc.kept.iter().map(|k| k.logical.as_str()).collect();
        eprintln!(
            "Kept (logs): {}. Run `albkit down --purge-logs` to delete them too.",
            kept.join(", ")
        );
    }
    if !doc.foreign.is_empty() {
        eprintln!(
            "Left {} resource(s) that are not the stack's (listed above).",
            doc.foreign.len()
        );
    }
}
