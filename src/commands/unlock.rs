//! `albkit unlock`: remove a stack lock left by a run that was killed.

use super::confirm::confirm;
use super::output::UnlockDoc;
use super::session::Session;
use super::Outcome;
use crate::aws::lock::{self, force_unlock, UnlockError, Unlocked};
use crate::cli::{Cli, UnlockArgs};
use crate::error::{Error, Result};

pub(crate) async fn run(cli: &Cli, args: &UnlockArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    let lock_id = args.lock_id.as_deref();
    let account = s.account().await?;
    let location = format!(
        "s3://{}/{}",
        s.names.lock_bucket(account),
        s.names.lock_key()
    );
    let question = format!(
        "Remove the lock of stack {} in {} (account {})? Only do this if the run holding it is gone.",
        s.config.stack.name, s.aws.region, account
    );
    if !confirm(args.yes, &question, s.json())? {
        eprintln!("Cancelled: nothing was changed.");
        return Ok(Outcome::code(1));
    }
    let removed = force_unlock(&s.aws, &s.names, account, lock_id).await.map_err(|e| match e {
        UnlockError::OtherLock(r) => Error::usage(
            format!("the stack's lock is {}, not {}", r.id, lock_id.unwrap_or("")),
            format!("the lock now held is {}; check that run before removing it", r.describe(lock::now())),
        ),
        UnlockError::Changed => Error::Other(
            "the lock changed while it was being removed: another run took or renewed it; run `albkit unlock` again if it is really gone".into(),
        ),
        UnlockError::ForeignBucket { bucket, reason } => Error::Conflict {
            message: format!("the lock bucket {bucket} is not albkit's ({reason}); nothing was removed from it"),
            help: "albkit never deletes from a bucket it did not create: if this bucket is albkit's (an older albkit did not tag it), tag it albkit:purpose=stack-locks and run `albkit unlock` again".into(),
        },
        UnlockError::Aws(e) => Error::Aws(e),
    })?;
    if s.json() {
        let document = UnlockDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            was_locked: removed != Unlocked::NotLocked,
            removed: match removed {
                Unlocked::Removed(r) => r,
                Unlocked::NotLocked => None,
            },
            lock: location,
        };
        return Ok(Outcome::json(0, true, &document));
    }
    match &removed {
        Unlocked::Removed(Some(r)) => {
            eprintln!("Removed the lock: {}.", r.describe(lock::now()));
        }
        Unlocked::Removed(None) => {
            eprintln!("Removed an unreadable lock object at {location}.");
        }
        Unlocked::NotLocked => eprintln!("Stack {} is not locked.", s.config.stack.name),
    }
    Ok(Outcome::code(0))
}
