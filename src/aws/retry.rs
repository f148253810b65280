//! The one retry helper and the one waiter of the program.
//!
//! Transient faults are first retried by the SDK itself (see `clients.rs`); what reaches
//! here is retried by class until a deadline, and every pause is reported with what
//! albkit is waiting for. Two kinds of pause:
//!
//! - **Throttling and other transient faults** back off exponentially with jitter
//!   ([`Backoff`]): the service asked for less traffic.
//! - **Waiting for AWS to catch up** (a waiter's poll, or a call refused for eventual
//!   consistency, a dependency still detaching, or something not visible yet) pauses
//!   for a short interval that grows with the time already waited ([`settle_pause`]):
//!   5 % of it, at most 2 s, at least 100 ms for a waiter's read and 250 ms for a call
//!   that is tried again (it may carry a function's zip). What becomes ready is then
//!   noticed at most about 5 % of the wait late (an ALB active after 20 s within 1 s, a
//!   function updated after 1.5 s within 100 ms, a role assumable after 4 s within
//!   250 ms), and a long wait polls no more than every 2 s.
//!
//! Either pause gives the executor's slot back while it lasts (`slots::pause`).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::{AwsError, ErrorClass};

/// Which error classes to retry and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub transient: bool,
    pub eventual_consistency: bool,
    pub dependency: bool,
    /// Retry "not found" too: for calls on something created moments ago, which AWS may
    /// not show everywhere yet (`InvalidSubnetID.NotFound` right after `CreateSubnet`).
    pub not_found: bool,
    pub deadline: Duration,
}

impl Policy {
    /// Transient faults only.
    pub(crate) const fn transient() -> Self {
        Self {
            transient: true,
            eventual_consistency: false,
            dependency: false,
            not_found: false,
            deadline: Duration::from_secs(120),
        }
    }
    /// Calls that touch something created moments ago.
    pub(crate) const fn fresh() -> Self {
        Self {
            eventual_consistency: true,
            not_found: true,
            deadline: Duration::from_secs(180),
            ..Self::transient()
        }
    }
    /// Deletions that AWS may refuse while dependents detach.
    pub(crate) const fn teardown() -> Self {
        Self {
            eventual_consistency: true,
            dependency: true,
            deadline: Duration::from_secs(900),
            ..Self::transient()
        }
    }
    #[cfg(test)]
    pub(crate) const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    fn retries(&self, class: ErrorClass) -> bool {
        match class {
            ErrorClass::Transient => self.transient,
            ErrorClass::EventualConsistency => self.eventual_consistency,
            ErrorClass::Dependency => self.dependency,
            ErrorClass::NotFound => self.not_found,
            ErrorClass::Permanent => false,
        }
    }
}

/// Exponential backoff with full jitter: first pause up to `base`, doubling, capped.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            attempt: 0,
            base,
            cap,
        }
    }

    /// The next pause: uniformly random in [ceiling/2, ceiling].
    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(16);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let half = ceiling / 2;
        let jitter = rand::random::<f64>();
        half + half.mul_f64(jitter)
    }
}

/// Something that is told when albkit pauses, and why.
pub(crate) trait Notify: Sync {
    fn waiting(&self, what: &str, detail: &str);
}

/// For tests, which need no reporting.
#[cfg(test)]
pub(crate) struct Silent;

#[cfg(test)]
impl Notify for Silent {
    fn waiting(&self, _what: &str, _detail: &str) {}
}

pub(crate) fn base_delay() -> Duration {
    // Tests against a local emulator do not need to wait as long as real AWS.
    match std::env::var("ALBKIT_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(ms) => Duration::from_millis(ms),
        None => Duration::from_millis(500),
    }
}

/// Runs `op` until it succeeds, fails with a class the policy does not retry, or the
/// deadline passes (then the last error is returned).
pub(crate) async fn retry<T, F, Fut>(
    policy: Policy,
    what: &str,
    notify: &dyn Notify,
    op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    create_once(policy, what, notify, || async { Ok(None) }, op).await
}

/// Like [`retry`], for a creation AWS cannot make idempotent (no client token, no unique
/// name): before every new attempt, `find` looks for what an earlier attempt may have
/// created although its response was lost, and returns that instead of creating a
/// second one. The creation call itself must be sent without the SDK's own retries
/// (see `clients::no_sdk_retries`), or the SDK could repeat it blindly.
pub(crate) async fn create_once<T, F, FFut, C, CFut>(
    policy: Policy,
    what: &str,
    notify: &dyn Notify,
    mut find: F,
    mut create: C,
) -> Result<T, AwsError>
where
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<T>, AwsError>>,
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut backoff = Backoff::new(base_delay(), Duration::from_secs(10));
    let mut first = true;
    loop {
        if !first {
            if let Some(found) = find().await? {
                return Ok(found);
            }
        }
        first = false;
        match create().await {
            Ok(v) => return Ok(v),
            Err(e) if policy.retries(e.class) && start.elapsed() < policy.deadline => {
                let delay = pause_after(e.class, &mut backoff, start.elapsed());
                notify.waiting(
                    what,
                    &format!(
                        "{} ({}), retrying",
                        e.code.as_deref().unwrap_or("error"),
                        short(&e.message)
                    ),
                );
                tracing::debug!(operation = e.operation, resource = %e.resource, class = ?e.class, ?delay, "retrying: {e}");
                super::slots::pause(delay).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn short(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    if first.chars().count() > 80 {
        format!("{}…", first.chars().take(80).collect::<String>())
    } else {
        first.to_string()
    }
}

/// Why a wait ended without the condition being met.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {seconds}s waiting for {what} (last state: {last})")]
    Timeout {
        what: String,
        seconds: u64,
        last: String,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{what} reached state {state}: {reason}")]
    Failed {
        what: String,
        state: String,
        reason: String,
    },
}

/// What one poll of a waiter saw.
pub(crate) enum Poll<T> {
    Ready(T),
    /// Not yet; the text says which state it is in.
    Pending(String),
    /// It will never get there.
    Failed {
        state: String,
        reason: String,
    },
}

/// The longest pause between two polls of a waiter or two tries of a call AWS has not
/// caught up with. What albkit waits for (an ALB becoming active, a certificate being
/// issued, a role becoming assumable) is the critical path of `up`: a long pause adds
/// straight to the time to URL, while a read every 2 s is far below the describe APIs'
/// rate limits.
pub(crate) const POLL_CAP: Duration = Duration::from_secs(2);

/// The shortest pause before a call refused for eventual consistency is tried again.
pub(crate) const POLL_MIN: Duration = Duration::from_millis(250);

/// The shortest pause between two polls of a waiter (cheap reads).
pub(crate) const POLL_MIN_READ: Duration = Duration::from_millis(100);

/// The pause before the next poll (or try) of something albkit has waited `waited` for:
/// 5 % of `waited`, within [`min`, `POLL_CAP`], less up to 10 % of jitter so that
/// parallel waits do not poll in step. The lateness of noticing is then at most about
/// 5 % of the wait, and the number of polls grows with the logarithm of the wait, then
/// linearly at one every 2 s.
pub(crate) fn settle_pause(waited: Duration, min: Duration) -> Duration {
    let pause = (waited / 20).clamp(min, POLL_CAP);
    pause.mul_f64(1.0 - rand::random::<f64>() / 10.0)
}

/// The pause after an error of `class`: backoff for throttling and other transient
/// faults, [`settle_pause`] for the rest.
fn pause_after(class: ErrorClass, backoff: &mut Backoff, waited: Duration) -> Duration {
    match class {
        ErrorClass::Transient => backoff.next_delay(),
        _ => settle_pause(waited, POLL_MIN),
    }
}

/// Polls `check` until it is ready, with backoff, transient errors retried, and a
/// deadline. `what` says what is being waited for ("load balancer hello-alb to be active").
pub(crate) async fn wait_until<T, F, Fut>(
    what: &str,
    deadline: Duration,
    notify: &dyn Notify,
    mut check: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let start = Instant::now();
    let mut backoff = Backoff::new(base_delay(), POLL_CAP);
    let mut last = String::from("unknown");
    loop {
        let mut throttled = false;
        match check().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Pending(state)) => {
                if state != last {
                    notify.waiting(what, &state);
                }
                last = state;
            }
            Ok(Poll::Failed { state, reason }) => {
                return Err(WaitError::Failed {
                    what: what.to_string(),
                    state,
                    reason,
                })
            }
            Err(e)
                if matches!(
                    e.class,
                    ErrorClass::Transient | ErrorClass::EventualConsistency
                ) =>
            {
                throttled = e.class == ErrorClass::Transient;
                last = e.to_string();
            }
            Err(e) => return Err(e.into()),
        }
        if start.elapsed() >= deadline {
            return Err(WaitError::Timeout {
                what: what.to_string(),
                seconds: deadline.as_secs(),
                last,
            });
        }
        let pause = if throttled {
            backoff.next_delay()
        } else {
            settle_pause(start.elapsed(), POLL_MIN_READ)
        };
        super::slots::pause(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(class: ErrorClass) -> AwsError {
        AwsError {
            operation: "Op",
            resource: "thing".into(),
            code: Some("Code".into()),
            message: "msg".into(),
            status: None,
            class,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(100) && delays[0] >= Duration::from_millis(50));
        assert!(delays[3] >= Duration::from_millis(400));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(800)));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_the_classes_it_is_told_to() {
        let calls = AtomicU32::new(0);
        let out = retry(Policy::fresh(), "test", &Silent, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(err(ErrorClass::EventualConsistency))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(out.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_permanent_errors() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry(Policy::teardown(), "test", &Silent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(ErrorClass::Permanent))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline() {
        let calls = AtomicU32::new(0);
        let policy = Policy::teardown().with_deadline(Duration::from_secs(30));
        let out: Result<(), _> = retry(policy, "test", &Silent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(ErrorClass::Dependency))
        })
        .await;
        assert_eq!(out.err().map(|e| e.class), Some(ErrorClass::Dependency));
        assert!(calls.load(Ordering::SeqCst) > 2);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_only_policy_does_not_retry_dependency() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry(Policy::transient(), "test", &Silent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(ErrorClass::Dependency))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn create_once_finds_what_a_lost_response_created() {
        let creates = AtomicU32::new(0);
        let finds = AtomicU32::new(0);
        let out = create_once(
            Policy::transient(),
            "create thing",
            &Silent,
            || async {
                finds.fetch_add(1, Ordering::SeqCst);
                // The first attempt did create it: AWS now shows it.
                Ok(Some("thing-1"))
            },
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<&str, _>(err(ErrorClass::Transient))
            },
        )
        .await;
        assert_eq!(out.ok(), Some("thing-1"));
        assert_eq!(creates.load(Ordering::SeqCst), 1, "never created twice");
        assert_eq!(
            finds.load(Ordering::SeqCst),
            1,
            "no look-up before the first attempt"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn create_once_creates_again_when_nothing_was_created() {
        let creates = AtomicU32::new(0);
        let out = create_once(
            Policy::transient(),
            "create thing",
            &Silent,
            || async { Ok(None) },
            || async {
                if creates.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(err(ErrorClass::Transient))
                } else {
                    Ok("thing-2")
                }
            },
        )
        .await;
        assert_eq!(out.ok(), Some("thing-2"));
        assert_eq!(creates.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn settle_pauses_are_a_twentieth_of_the_wait_within_bounds() {
        for _ in 0..100 {
            let at = |s: u64| settle_pause(Duration::from_secs(s), POLL_MIN);
            let first = settle_pause(Duration::ZERO, POLL_MIN);
            let read = settle_pause(Duration::ZERO, POLL_MIN_READ);
            assert!(read <= POLL_MIN_READ && read >= POLL_MIN_READ.mul_f64(0.9));
            assert!(
                first <= POLL_MIN && first >= POLL_MIN.mul_f64(0.9),
                "{first:?}"
            );
            let ten = at(10);
            assert!(ten <= Duration::from_millis(500) && ten >= Duration::from_millis(450));
            assert!(at(600) <= POLL_CAP && at(600) >= POLL_CAP.mul_f64(0.9));
        }
    }

    /// When something AWS needs time for is ready after `ready`, how late the waiter
    /// noticed it, and how many polls it took.
    async fn noticed(ready: Duration) -> (Duration, u32) {
        let start = Instant::now();
        let polls = AtomicU32::new(0);
        wait_until("x", Duration::from_secs(600), &Silent, || async {
            polls.fetch_add(1, Ordering::SeqCst);
            Ok(if start.elapsed() >= ready {
                Poll::Ready(())
            } else {
                Poll::Pending("provisioning".into())
            })
        })
        .await
        .expect("ready");
        (start.elapsed() - ready, polls.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_notices_readiness_within_a_twentieth_of_the_wait() {
        // 10 polls a second for 2 s, fewer and fewer to one every 2 s after 40 s.
        for (secs, most) in [(1, 13), (4, 40), (10, 60), (20, 75), (180, 165)] {
            let ready = Duration::from_secs(secs);
            let (late, polls) = noticed(ready).await;
            let allowed = (ready / 20).clamp(POLL_MIN_READ, POLL_CAP);
            assert!(late <= allowed, "{secs} s: {late:?} late");
            assert!(polls <= most, "{secs} s: {polls} polls");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_backs_off_while_catching_up_polls_steadily() {
        // How often a call failing with `class` is tried within 20 s.
        async fn tries(policy: Policy, class: ErrorClass) -> u32 {
            let calls = AtomicU32::new(0);
            let out: Result<(), _> = retry(
                policy.with_deadline(Duration::from_secs(20)),
                "test",
                &Silent,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(err(class))
                },
            )
            .await;
            assert!(out.is_err());
            calls.load(Ordering::SeqCst)
        }
        let steady = tries(Policy::fresh(), ErrorClass::EventualConsistency).await;
        // 20 s at 250 ms to 1 s a try: dozens of tries, not the handful of a backoff.
        assert!(steady >= 30, "{steady} tries while catching up");
        let throttled = tries(Policy::transient(), ErrorClass::Transient).await;
        assert!(throttled < 12, "{throttled} tries while throttled");
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_times_out_with_the_last_state() {
        let out: Result<(), _> = wait_until(
            "thing to be ready",
            Duration::from_secs(20),
            &Silent,
            || async { Ok(Poll::Pending("provisioning".to_string())) },
        )
        .await;
        match out {
            Err(WaitError::Timeout { what, last, .. }) => {
                assert_eq!(what, "thing to be ready");
                assert_eq!(last, "provisioning");
            }
            _ => panic!("expected a timeout"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_returns_when_ready_and_stops_on_failure() {
        let n = AtomicU32::new(0);
        let out = wait_until("x", Duration::from_secs(60), &Silent, || async {
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                Ok(Poll::Pending("pending".into()))
            } else {
                Ok(Poll::Ready(1))
            }
        })
        .await;
        assert_eq!(out.ok(), Some(1));
        let failed: Result<(), _> = wait_until("x", Duration::from_secs(60), &Silent, || async {
            Ok(Poll::Failed {
                state: "FAILED".into(),
                reason: "bad".into(),
            })
        })
        .await;
        assert!(matches!(failed, Err(WaitError::Failed { .. })));
    }
}
