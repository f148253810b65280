//! `albkit down`: remove the stack, keeping logs unless asked otherwise.

use std::time::Duration;

use super::{check_conflicts, confirm, print_json, Session};
use crate::aws::discover::{discover, seed_ids};
use crate::aws::events::{Event, Reporter};
use crate::aws::executor::delete_in_order;
use crate::aws::lock::remove_bucket_if_unused;
use crate::cli::Cli;
use crate::error::Result;
use crate::model::plan::teardown;

pub async fn run(cli: &Cli, purge_logs: bool, yes: bool, lock_timeout: Duration) -> Result<u8> {
    let s = Session::open(cli).await?;
    let lock = s.lock("down", lock_timeout).await?;
    let result = remove(&s, purge_logs, yes).await;
    s.unlock(lock).await;
    if result.is_ok() {
        // The region's lock bucket goes when no stack holds a lock in it any more.
        // The lock was taken, so the account is known.
        let account = s.account().await?;
        if let Err(e) = remove_bucket_if_unused(&s.aws, &s.names, account, purge_logs).await {
            s.reporter.event(Event::Note(format!(
                "the lock bucket {} was left in place: {e}",
                s.names.lock_bucket(account)
            )));
        }
    }
    result
}

/// Discovers and deletes, under the stack's lock.
async fn remove(s: &Session, purge_logs: bool, yes: bool) -> Result<u8> {
    let empty = Default::default();
    let ctx = s.ctx(&empty);
    let account = s.account().await?;
    s.phase(format!(
        "Reading stack {} in {} (account {})",
        s.config.stack.name, s.aws.region, account
    ));
    let d = discover(&ctx).await?;
    check_conflicts(&d)?;
    seed_ids(&ctx, &d.observed);
    let plan = teardown(&s.config.stack.name, &d.observed);
    if plan.changes.is_empty() {
        if s.json() {
            print_json(
                &serde_json::json!({"stack": s.config.stack.name, "region": s.aws.region, "existed": false, "removed": [], "kept": []}),
            );
        } else {
            eprintln!(
                "Stack {} does not exist in {} (account {}): nothing to remove.",
                s.config.stack.name, s.aws.region, account
            );
        }
        return Ok(0);
    }
    if !s.json() {
        for c in &plan.changes {
            let keep = !purge_logs
                && matches!(
                    c.kind,
                    crate::model::stack::Kind::LogBucket | crate::model::stack::Kind::LogGroup
                );
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
    let question = format!(
        "Remove stack {} from {} (account {})?",
        s.config.stack.name, s.aws.region, account
    );
    if !confirm(yes, &question, s.json())? {
        eprintln!("Cancelled: nothing was changed.");
        return Ok(1);
    }
    let items: Vec<_> = d.observed.values().collect();
    let kept = delete_in_order(&ctx, &items, purge_logs).await?;
    let removed: Vec<&str> = d
        .observed
        .keys()
        .map(String::as_str)
        .filter(|k| !kept.iter().any(|x| x == k))
        .collect();
    if s.json() {
        print_json(&serde_json::json!({
            "stack": s.config.stack.name,
            "region": s.aws.region,
            "existed": true,
            "removed": removed,
            "kept": kept.iter().map(|k| serde_json::json!({"logical": k, "id": d.observed.get(k).map(|o| o.id.clone())})).collect::<Vec<_>>(),
        }));
    } else {
        eprintln!(
            "Removed {} resource(s) of stack {}.",
            removed.len(),
            s.config.stack.name
        );
        if !kept.is_empty() {
            eprintln!(
                "Kept (logs): {}. Run `albkit down --purge-logs` to delete them too.",
                kept.join(", ")
            );
        }
    }
    Ok(0)
}
