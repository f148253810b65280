//! The stack lock, as data: who holds it, until when, and what a command does when it
//! finds one. The lock itself is an S3 object written with conditional requests (see
//! `aws::lock`); everything here is pure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a lock lives without being renewed. A running command renews it every third
/// of this, so only a crashed or killed run leaves one that expires.
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// The content of the lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Random, unique per acquisition; `albkit unlock` names it.
    pub id: String,
    /// The command that holds it (`up`, `down`).
    pub command: String,
    /// `user@host` of the holder.
    pub holder: String,
    pub pid: u32,
    /// A hash of machine id, boot id and pid namespace: equal only for processes that can
    /// see each other's pids. Empty when unknown.
    #[serde(default)]
    pub host_id: String,
    /// Unix seconds.
    pub acquired_at: u64,
    /// Unix seconds; renewed while the holder runs.
    pub expires_at: u64,
    pub albkit_version: String,
}

impl LockRecord {
    pub fn new(id: String, command: &str, holder: Holder, now: u64, ttl: Duration) -> Self {
        Self {
            id,
            command: command.to_string(),
            holder: holder.name,
            pid: holder.pid,
            host_id: holder.host_id,
            acquired_at: now,
            expires_at: now.saturating_add(ttl.as_secs().max(1)),
            albkit_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The same lock, renewed from `now`.
    pub fn renewed(&self, now: u64, ttl: Duration) -> Self {
        Self {
            expires_at: now.saturating_add(ttl.as_secs().max(1)),
            ..self.clone()
        }
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// One line for a person: who, what, since when, until when.
    pub fn describe(&self, now: u64) -> String {
        let age = now.saturating_sub(self.acquired_at);
        let expiry = if self.is_expired(now) {
            format!("expired {} ago", seconds(now - self.expires_at))
        } else {
            format!(
                "expires in {} unless renewed",
                seconds(self.expires_at - now)
            )
        };
        format!(
            "`albkit {}` by {} (pid {}), lock {}, taken {} ago, {expiry}",
            self.command,
            self.holder,
            self.pid,
            self.id,
            seconds(age)
        )
    }

    /// Parses the object's body; `None` for anything that is not a lock record (a lock
    /// object written by hand or truncated is treated as held, never silently replaced).
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn seconds(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// Who is taking a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `user@host`.
    pub name: String,
    pub pid: u32,
    pub host_id: String,
}

/// What to do about the lock object as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No lock: create it (only if it still does not exist).
    Create,
    /// An expired lock, or one whose holder is known to be gone: replace it, only if it
    /// is still that very object.
    TakeOver { etag: String, previous: LockRecord },
    /// Someone holds it.
    Held(Option<LockRecord>),
}

/// The decision, from what was read (`None`: no lock object). `gone` tells whether the
/// holder is a process of this very host that no longer runs (killed, crashed): its
/// lock is taken over at once instead of after it expires.
pub fn next(found: Option<(&[u8], &str)>, now: u64, gone: &dyn Fn(&LockRecord) -> bool) -> Next {
    match found {
        None => Next::Create,
        Some((body, etag)) => match LockRecord::parse(body) {
            Some(record) if record.is_expired(now) || gone(&record) => Next::TakeOver {
                etag: etag.to_string(),
                previous: record,
            },
            record => Next::Held(record),
        },
    }
}

/// Parses `--lock-timeout`: `0`, `90`, `30s`, `5m`, `1h`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write 0, 90, 30s, 5m or 1h"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown unit {other:?} in {text:?}: use s, m or h")),
    };
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            name: "ci@runner".into(),
            pid: 42,
            host_id: "h1".into(),
        }
    }

    fn record(now: u64) -> LockRecord {
        LockRecord::new(
            "abc123".into(),
            "up",
            holder(),
            now,
            Duration::from_secs(120),
        )
    }

    fn alive(_: &LockRecord) -> bool {
        false
    }

    #[test]
    fn a_fresh_record_expires_after_the_ttl() {
        let r = record(1000);
        assert_eq!(r.expires_at, 1120);
        assert!(!r.is_expired(1119));
        assert!(r.is_expired(1120));
    }

    #[test]
    fn renewal_moves_only_the_expiry() {
        let r = record(1000);
        let renewed = r.renewed(1100, Duration::from_secs(120));
        assert_eq!(renewed.expires_at, 1220);
        assert_eq!(renewed.acquired_at, 1000);
        assert_eq!(renewed.id, r.id);
    }

    #[test]
    fn a_zero_ttl_still_lives_one_second() {
        let r = LockRecord::new("x".into(), "up", holder(), 10, Duration::ZERO);
        assert_eq!(r.expires_at, 11);
    }

    #[test]
    fn no_object_means_create() {
        assert_eq!(next(None, 5, &alive), Next::Create);
    }

    #[test]
    fn a_live_lock_is_held() {
        let r = record(1000);
        let body = r.to_json();
        assert_eq!(
            next(Some((body.as_bytes(), "\"e1\"")), 1050, &alive),
            Next::Held(Some(r))
        );
    }

    #[test]
    fn a_live_lock_whose_holder_is_gone_is_taken_over_at_once() {
        let r = record(1000);
        let body = r.to_json();
        let gone = |x: &LockRecord| x.pid == 42 && x.host_id == "h1";
        assert!(matches!(
            next(Some((body.as_bytes(), "\"e1\"")), 1001, &gone),
            Next::TakeOver { .. }
        ));
    }

    #[test]
    fn records_from_older_albkit_without_host_id_still_parse() {
        let body = br#"{"id":"a","command":"up","holder":"u@h","pid":1,"acquired_at":1,"expires_at":2,"albkit_version":"0.1.0"}"#;
        assert_eq!(
            LockRecord::parse(body).map(|r| r.host_id),
            Some(String::new())
        );
    }

    #[test]
    fn an_expired_lock_is_taken_over_by_its_etag() {
        let r = record(1000);
        let body = r.to_json();
        assert_eq!(
            next(Some((body.as_bytes(), "\"e1\"")), 2000, &alive),
            Next::TakeOver {
                etag: "\"e1\"".into(),
                previous: r
            }
        );
    }

    #[test]
    fn an_unreadable_lock_is_held_never_replaced() {
        assert_eq!(
            next(Some((b"garbage", "\"e\"")), u64::MAX, &alive),
            Next::Held(None)
        );
        assert_eq!(
            next(Some((b"", "\"e\"")), u64::MAX, &alive),
            Next::Held(None)
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = record(7);
        assert_eq!(LockRecord::parse(r.to_json().as_bytes()), Some(r));
    }

    #[test]
    fn the_description_says_who_what_and_when() {
        let r = record(1000);
        let text = r.describe(1030);
        assert!(text.contains("`albkit up`"), "{text}");
        assert!(
            text.contains("ci@runner") && text.contains("pid 42"),
            "{text}"
        );
        assert!(
            text.contains("30 s ago") && text.contains("expires in 90 s"),
            "{text}"
        );
        assert!(r.describe(1300).contains("expired 3 min ago"));
    }

    #[test]
    fn timeouts_parse_with_and_without_units() {
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_timeout("5d").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("").is_err());
        assert!(parse_timeout("99999999999999999999h").is_err());
    }
}
