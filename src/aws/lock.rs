//! The stack lock, held through AWS: one S3 object per stack, written only with
//! conditional requests, so that two runs cannot both hold it.
//!
//! - take: `PutObject` with `If-None-Match: *` (create only if absent);
//! - renew (every third of the TTL while the command runs) and take over an expired
//!   lock: `PutObject` with `If-Match: <etag>` (replace only that very object);
//! - release: `DeleteObject` with `If-Match: <etag>`.
//!
//! A run that crashes leaves its lock until it expires; `albkit unlock` removes one by
//! hand. An answer lost on the way back is recognised on the next read by the lock id.
//!
//! Every call names the expected bucket owner (the caller's account), and no lock is
//! written into a bucket albkit does not own (see `lock_bucket`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::clients::Aws;
use super::error::{AwsError, AwsResultExt};
use super::lock_bucket::{self, State};
use super::retry::{base_delay, Backoff, Notify};
use sha2::Digest;

use crate::model::lock::{next, Holder, LockRecord, Next, DEFAULT_TTL};
use crate::model::names::Names;

/// What a command asks of the lock.
#[derive(Debug, Clone)]
pub(crate) struct LockOptions {
    /// `up`, `down`.
    pub command: &'static str,
    /// How long to wait for a lock held by someone else before giving up.
    pub wait: Duration,
    pub ttl: Duration,
}

impl LockOptions {
    /// The TTL is `ALBKIT_LOCK_TTL_SECS` when set (tests use a few seconds).
    pub(crate) fn new(command: &'static str, wait: Duration) -> Self {
        let ttl = std::env::var("ALBKIT_LOCK_TTL_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_TTL, Duration::from_secs);
        Self { command, wait, ttl }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("stack {stack} is locked by {holder}")]
    Held {
        stack: String,
        holder: String,
        /// `s3://bucket/key`.
        location: String,
        waited: Duration,
    },
    /// The lock bucket's name is taken by a bucket albkit does not own.
    #[error("the lock bucket {bucket} is not albkit's: {reason}")]
    ForeignBucket {
        bucket: String,
        reason: String,
        /// It is another account's.
        other_account: bool,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl LockError {
    /// A bucket albkit refused to write to (`ForeignBucket` from the bucket calls).
    fn from_bucket(bucket: &str, e: AwsError) -> Self {
        if e.is("ForeignBucket") {
            LockError::ForeignBucket {
                bucket: bucket.to_string(),
                reason: e.message,
                other_account: true,
            }
        } else {
            LockError::Aws(e)
        }
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// This process as a lock holder.
fn holder() -> Holder {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    Holder {
        name: format!("{user}@{host}"),
        pid: std::process::id(),
        host_id: host_id(),
    }
}

/// Equal for two processes only when each can see the other's pid: same machine, same
/// boot, same pid namespace (containers on one host differ). Hashed: the machine id is
/// not written to S3. Empty where it cannot be known (then no holder is ever "gone").
fn host_id() -> String {
    let parts = [
        read_trimmed("/etc/machine-id").or_else(|| read_trimmed("/var/lib/dbus/machine-id")),
        read_trimmed("/proc/sys/kernel/random/boot_id"),
        std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .map(|p| p.display().to_string()),
    ];
    if parts.iter().any(Option::is_none) {
        return String::new();
    }
    let joined = parts.into_iter().flatten().collect::<Vec<_>>().join("/");
    hex::encode(&sha2::Sha256::digest(joined.as_bytes())[..8])
}

/// The holder of `record` ran on this host and its process is gone (or a zombie).
fn holder_gone(record: &LockRecord, here: &str) -> bool {
    if here.is_empty() || record.host_id != here || record.pid == std::process::id() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", record.pid)) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Where the lock of one stack lives, and the calls on it.
#[derive(Clone)]
struct Place {
    aws: Aws,
    bucket: String,
    /// The account that must own the bucket.
    owner: String,
    key: String,
}

enum Condition<'a> {
    Absent,
    Matches(&'a str),
}

/// A lock object as read: its body and ETag.
type Found = Option<(Vec<u8>, String)>;

/// A request of `operation` on the lock object of `place`, naming its expected owner.
macro_rules! on_lock_object {
    ($place:expr, $operation:ident) => {
        $place
            .aws
            .s3
            .$operation()
            .bucket(&$place.bucket)
            .expected_bucket_owner(&$place.owner)
            .key(&$place.key)
    };
}

impl Place {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The conditional write; `Ok(None)` when the condition did not hold.
    async fn put(
        &self,
        record: &LockRecord,
        when: Condition<'_>,
    ) -> Result<Option<String>, AwsError> {
        let req = on_lock_object!(self, put_object)
            .content_type("application/json")
            .body(ByteStream::from(record.to_json().into_bytes()));
        let req = match when {
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await.aws("PutObject", &self.location()) {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) if lost_race(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read(&self) -> Result<Found, AwsError> {
        match on_lock_object!(self, get_object)
            .send()
            .await
            .aws("GetObject", &self.location())
        {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let body = out.body.collect().await.map_err(|e| AwsError {
                    operation: "GetObject",
                    resource: self.location(),
                    code: None,
                    message: format!("the lock object could not be read: {e}"),
                    status: None,
                    class: super::error::ErrorClass::Transient,
                })?;
                Ok(Some((body.into_bytes().to_vec(), etag)))
            }
            Err(e) if e.is("NoSuchKey") || e.is("NoSuchBucket") || e.not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, etag: &str) -> Result<bool, AwsError> {
        match on_lock_object!(self, delete_object)
            .if_match(etag)
            .send()
            .await
            .aws("DeleteObject", &self.location())
        {
            Ok(_) => Ok(true),
            Err(e) if e.is("NoSuchKey") || e.is("NoSuchBucket") || e.not_found() => Ok(true),
            Err(e) if lost_race(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The write's condition did not hold: someone else wrote first.
fn lost_race(e: &AwsError) -> bool {
    e.is("PreconditionFailed") || e.is("ConditionalRequestConflict") || e.status == Some(412)
}

/// A lock this process holds; renewed in the background until [`StackLock::release`].
pub(crate) struct StackLock {
    place: Place,
    state: Arc<Mutex<(LockRecord, String)>>,
    heartbeat: JoinHandle<()>,
}

/// Takes the stack's lock, waiting up to `opts.wait` for a run that holds it. `bucket`
/// is the lock bucket as [`lock_bucket::inspect`] found it (beside the stack's reads, or
/// just before): a foreign one is refused before anything is written, a missing one is
/// created, one that lacks a setting gets it.
pub(crate) async fn acquire(
    aws: &Aws,
    names: &Names,
    account: &str,
    bucket: &State,
    opts: &LockOptions,
    notify: &dyn Notify,
) -> Result<StackLock, LockError> {
    let place = Place::new(aws, names, account);
    let mut bucket_creations = place.prepare_bucket(bucket, notify).await?;
    let id = hex::encode(rand::random::<[u8; 8]>());
    let mut patience = Patience::new(opts.wait);
    // The first attempt writes without reading: when nobody holds the lock (the usual
    // case) taking it costs one round trip.
    let mut first = true;
    loop {
        let found = if std::mem::take(&mut first) {
            None
        } else {
            place.read().await?
        };
        let me = holder();
        let here = me.host_id.clone();
        let mine = LockRecord::new(id.clone(), opts.command, me, now(), opts.ttl);
        // A write of ours whose answer was lost: the lock is already ours.
        if let Some((body, etag)) = &found {
            if LockRecord::parse(body).is_some_and(|r| r.id == id) {
                return Ok(StackLock::start(place, mine, etag.clone(), opts.ttl));
            }
        }
        let gone = |r: &LockRecord| holder_gone(r, &here);
        let found = found.as_ref().map(|(b, e)| (b.as_slice(), e.as_str()));
        let taken = match next(found, now(), &gone) {
            Next::Create => match place.put(&mine, Condition::Absent).await {
                Err(e) if e.is("NoSuchBucket") && bucket_creations < 3 => {
                    lock_bucket::prepare(aws, &place.bucket, account, &State::Absent, notify)
                        .await
                        .map_err(|e| LockError::from_bucket(&place.bucket, e))?;
                    bucket_creations += 1;
                    continue;
                }
                other => other?,
            },
            Next::TakeOver { etag, previous } => {
                place.take_over(&mine, &etag, &previous, notify).await?
            }
            Next::Held(record) => {
                patience.wait(record, &place, names, notify).await?;
                continue;
            }
        };
        if let Some(etag) = taken {
            return Ok(StackLock::start(place, mine, etag, opts.ttl));
        }
        // Someone else wrote first: read again.
    }
}

impl Place {
    /// Where the lock of the stack `names` lives in `account`.
    fn new(aws: &Aws, names: &Names, account: &str) -> Place {
        Place {
            aws: aws.clone(),
            bucket: names.lock_bucket(account),
            owner: account.to_string(),
            key: names.lock_key(),
        }
    }

    /// Makes the lock bucket, found in `state`, ready for locks; refuses a foreign one.
    /// The bucket may be removed by another stack's `down --purge-logs` between any two
    /// calls (once no stack holds a lock): created again, a few times at most. Returns
    /// how many times it was created again.
    async fn prepare_bucket(&self, state: &State, notify: &dyn Notify) -> Result<u32, LockError> {
        if let State::Foreign {
            reason,
            other_account,
        } = state
        {
            return Err(LockError::ForeignBucket {
                bucket: self.bucket.clone(),
                reason: reason.clone(),
                other_account: *other_account,
            });
        }
        let mut bucket_creations = 0;
        let mut state = state.clone();
        loop {
            match lock_bucket::prepare(&self.aws, &self.bucket, &self.owner, &state, notify).await {
                Err(e) if e.is("NoSuchBucket") && bucket_creations < 3 => {
                    bucket_creations += 1;
                    state = State::Absent;
                }
                done => break done.map_err(|e| LockError::from_bucket(&self.bucket, e))?,
            }
        }
        Ok(bucket_creations)
    }

    /// Replaces `previous`, expired or left by a run that is gone, with `mine`, only if
    /// it is still the object `etag`; says so first. The new ETag when it was replaced.
    async fn take_over(
        &self,
        mine: &LockRecord,
        etag: &str,
        previous: &LockRecord,
        notify: &dyn Notify,
    ) -> Result<Option<String>, AwsError> {
        let why = if previous.is_expired(now()) {
            "an expired lock"
        } else {
            "the lock of a run on this machine that is gone"
        };
        notify.waiting(
            "stack lock",
            &format!("taking over {why}: {}", previous.describe(now())),
        );
        self.put(mine, Condition::Matches(etag)).await
    }
}

/// How long [`acquire`] has waited for a lock another run holds, and for whom.
struct Patience {
    limit: Duration,
    started: Instant,
    backoff: Backoff,
    /// The holder last reported, so that each is reported once.
    last_seen: String,
}

impl Patience {
    fn new(limit: Duration) -> Patience {
        Patience {
            limit,
            started: Instant::now(),
            backoff: Backoff::new(
                base_delay().max(Duration::from_millis(50)),
                Duration::from_secs(5),
            ),
            last_seen: String::new(),
        }
    }

    /// Waits before the next attempt on a lock held by `record` (`None`: unreadable),
    /// reporting a new holder; gives up with [`LockError::Held`] once the limit is
    /// reached.
    async fn wait(
        &mut self,
        record: Option<LockRecord>,
        place: &Place,
        names: &Names,
        notify: &dyn Notify,
    ) -> Result<(), LockError> {
        let who = record.map_or_else(
            || format!("an unreadable lock object at {}", place.location()),
            |r| r.describe(now()),
        );
        if self.started.elapsed() >= self.limit {
            return Err(LockError::Held {
                stack: names.stack().to_string(),
                holder: who,
                location: place.location(),
                waited: self.started.elapsed(),
            });
        }
        if who != self.last_seen {
            notify.waiting("stack lock", &format!("held by {who}"));
            self.last_seen = who;
        }
        let pause = self.backoff.next_delay();
        let left = self.limit.saturating_sub(self.started.elapsed());
        tokio::time::sleep(pause.min(left).max(Duration::from_millis(10))).await;
        Ok(())
    }
}

impl StackLock {
    fn start(place: Place, record: LockRecord, etag: String, ttl: Duration) -> Self {
        let state = Arc::new(Mutex::new((record, etag)));
        let heartbeat = tokio::spawn(renew_forever(place.clone(), state.clone(), ttl));
        Self {
            place,
            state,
            heartbeat,
        }
    }

    pub(crate) fn id(&self) -> String {
        self.state
            .lock()
            .map(|s| s.0.id.clone())
            .unwrap_or_default()
    }

    /// Stops renewing and deletes the lock if it is still ours. Failures are returned
    /// for the caller to report; the lock then expires on its own.
    pub(crate) async fn release(self) -> Result<(), AwsError> {
        self.heartbeat.abort();
        let _ = self.heartbeat.await;
        let Some((id, etag)) = self
            .state
            .lock()
            .ok()
            .map(|s| (s.0.id.clone(), s.1.clone()))
        else {
            return Ok(());
        };
        if self.place.delete(&etag).await? {
            return Ok(());
        }
        // The ETag moved: a renewal whose answer was lost. Delete it if it is still ours.
        if let Some((body, etag)) = self.place.read().await? {
            if LockRecord::parse(&body).is_some_and(|r| r.id == id) {
                self.place.delete(&etag).await?;
            }
        }
        Ok(())
    }
}

/// Renews the lock every third of the TTL. If it was taken from us (this process stalled
/// past the TTL), says so and stops.
async fn renew_forever(place: Place, state: Arc<Mutex<(LockRecord, String)>>, ttl: Duration) {
    let period = (ttl / 3).max(Duration::from_millis(300));
    loop {
        tokio::time::sleep(period).await;
        let Some((record, etag)) = state.lock().ok().map(|s| (s.0.clone(), s.1.clone())) else {
            return;
        };
        let renewed = record.renewed(now(), ttl);
        match place.put(&renewed, Condition::Matches(&etag)).await {
            Ok(Some(new_etag)) => {
                if let Ok(mut s) = state.lock() {
                    *s = (renewed, new_etag);
                }
            }
            Ok(None) => match place.read().await {
                Ok(Some((body, etag)))
                    if LockRecord::parse(&body).is_some_and(|r| r.id == record.id) =>
                {
                    if let Ok(mut s) = state.lock() {
                        s.1 = etag;
                    }
                }
                _ => {
                    tracing::warn!(
                        "the stack lock at {} was taken over by another run while this one was stalled; stop one of them",
                        place.location()
                    );
                    return;
                }
            },
            Err(e) => tracing::warn!("could not renew the stack lock: {e}"),
        }
    }
}

/// What `albkit unlock` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unlocked {
    NotLocked,
    /// The lock object was removed; its record when it was readable.
    Removed(Option<LockRecord>),
}

/// Removes the stack's lock whatever holds it (`albkit unlock`). `expected_id`, when
/// given, must match the lock's id. Nothing is deleted from a lock bucket albkit does not
/// own; the bucket is checked beside the read of the lock.
pub(crate) async fn force_unlock(
    aws: &Aws,
    names: &Names,
    account: &str,
    expected_id: Option<&str>,
) -> Result<Unlocked, UnlockError> {
    let place = Place::new(aws, names, account);
    let (found, bucket) = tokio::join!(
        place.read(),
        lock_bucket::inspect(aws, &place.bucket, account)
    );
    if let State::Foreign { reason, .. } = bucket? {
        return Err(UnlockError::ForeignBucket {
            bucket: place.bucket.clone(),
            reason,
        });
    }
    let Some((body, etag)) = found? else {
        return Ok(Unlocked::NotLocked);
    };
    let record = LockRecord::parse(&body);
    if let (Some(want), Some(r)) = (expected_id, &record) {
        if r.id != want {
            return Err(UnlockError::OtherLock(r.clone()));
        }
    }
    if !place.delete(&etag).await? {
        return Err(UnlockError::Changed);
    }
    Ok(Unlocked::Removed(record))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UnlockError {
    #[error("the stack's lock is another one than asked")]
    OtherLock(LockRecord),
    #[error("the lock changed while it was being removed")]
    Changed,
    #[error("the lock bucket {bucket} is not albkit's: {reason}")]
    ForeignBucket { bucket: String, reason: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// With `purge_logs` (`down --purge-logs`), deletes the region's lock bucket if no stack
/// holds a lock in it any more; otherwise keeps it, so that its name stays albkit's.
/// Called only after this run held a lock in it, so the bucket is albkit's.
pub(crate) async fn remove_bucket_if_unused(
    aws: &Aws,
    names: &Names,
    account: &str,
    purge_logs: bool,
) -> Result<(), AwsError> {
    if !purge_logs {
        return Ok(());
    }
    let bucket = names.lock_bucket(account);
    match aws
        .s3
        .delete_bucket()
        .bucket(&bucket)
        .expected_bucket_owner(account)
        .send()
        .await
        .aws("DeleteBucket", &bucket)
    {
        Ok(_) => Ok(()),
        Err(e) if e.is("BucketNotEmpty") || e.is("NoSuchBucket") || e.not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
