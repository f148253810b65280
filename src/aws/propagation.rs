//! One probe at a time while IAM propagates: a gate shared by the calls of one run that
//! AWS refuses until a new role has propagated (`CreateFunction` with a role Lambda
//! cannot assume yet).
//!
//! Without it, every function of a fresh stack retries its own `CreateFunction`, each
//! carrying the function's zip: 50 functions made about 490 refused calls in the 4 s a
//! role took to propagate under the benchmark's model, a burst real AWS would throttle.
//! With it, the first refusal closes the gate; while it is closed one caller at a time
//! tries (the others wait their turn, their executor slots lent), and the first success
//! opens it for everyone at once; turns are at least 250 ms apart, as one caller's own
//! retries would be. Roles created together propagate together, so the
//! rest then mostly succeed on their first try; one that is refused closes the gate
//! again. Nobody waits on a caller that gave up: the turn passes on when it returns.

use std::future::Future;
use std::sync::PoisonError;

use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use super::error::AwsError;
use super::retry::POLL_MIN;

/// The gate; open at first.
#[derive(Debug)]
pub(crate) struct Propagation {
    open: watch::Sender<bool>,
    turn: Mutex<()>,
    /// When the last refused call ended: the next turn starts no sooner than
    /// [`POLL_MIN`] after it, so the callers together probe no faster than one would.
    refused_at: std::sync::Mutex<Option<Instant>>,
}

impl Default for Propagation {
    fn default() -> Self {
        Self {
            open: watch::Sender::new(true),
            turn: Mutex::new(()),
            refused_at: std::sync::Mutex::new(None),
        }
    }
}

impl Propagation {
    /// Makes `call`: at once while the gate is open, else in turn or as soon as the gate
    /// opens. A result that `refused` says was refused for propagation closes the gate;
    /// a success opens it.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        refused: impl Fn(&AwsError) -> bool,
        call: F,
    ) -> Result<T, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let _turn = if *self.open.borrow() {
            None
        } else {
            super::slots::idle(self.wait()).await
        };
        let result = call().await;
        match &result {
            Ok(_) => {
                self.open.send_replace(true);
            }
            Err(e) if refused(e) => {
                *self
                    .refused_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                self.open.send_replace(false);
            }
            Err(_) => {}
        }
        result
    }

    /// Returns at once while the gate is open; while it is closed, when it opens (no
    /// turn) or when it is this caller's turn (holding it).
    async fn wait(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let mut open = self.open.subscribe();
        if *open.borrow_and_update() {
            return None;
        }
        let turn = async {
            let turn = self.turn.lock().await;
            let refused_at = *self
                .refused_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = refused_at {
                tokio::time::sleep_until(at + POLL_MIN).await;
            }
            turn
        };
        tokio::select! {
            turn = turn => {
                // It may have opened meanwhile: then no one waits on this caller.
                if *self.open.borrow() { None } else { Some(turn) }
            }
            _ = open.wait_for(|open| *open) => None,
        }
    }

    #[cfg(test)]
    fn is_open(&self) -> bool {
        *self.open.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    fn refused() -> AwsError {
        AwsError {
            operation: "CreateFunction",
            resource: "f".into(),
            code: Some("InvalidParameterValueException".into()),
            message: "The role defined for the function cannot be assumed by Lambda.".into(),
            status: Some(400),
            class: crate::aws::error::ErrorClass::EventualConsistency,
        }
    }

    fn is_refused(e: &AwsError) -> bool {
        e.role_propagating()
    }

    /// Callers that retry every 250 ms until AWS accepts the call, which it does from
    /// `ready` on; what the gate lets through, and when each caller was done.
    async fn callers(gate: &Propagation, n: usize, ready: Duration) -> (usize, Vec<Duration>) {
        let start = Instant::now();
        let calls = AtomicUsize::new(0);
        let one = || async {
            loop {
                let attempt = gate
                    .call(is_refused, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if start.elapsed() >= ready {
                            Ok(())
                        } else {
                            Err(refused())
                        }
                    })
                    .await;
                if attempt.is_ok() {
                    return start.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        };
        let done = futures::future::join_all((0..n).map(|_| one())).await;
        (calls.load(Ordering::SeqCst), done)
    }

    #[tokio::test(start_paused = true)]
    async fn while_closed_one_caller_tries_and_a_success_lets_everyone_through() {
        let gate = Propagation::default();
        let (calls, done) = callers(&gate, 50, Duration::from_secs(4)).await;
        // 50 first tries, then one probe every 300 ms (250 ms apart, 50 ms each) for
        // 4 s, then the other 49 at once; without the gate each caller would try every
        // 300 ms: about 50 × 14 calls.
        assert!(
            (50 + 10 + 49..50 + 16 + 49).contains(&calls),
            "{calls} calls"
        );
        let last = done.iter().max().copied().unwrap_or_default();
        assert!(last < Duration::from_millis(4_500), "all done by {last:?}");
        assert!(gate.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_gate_lets_every_call_through_at_once() {
        let gate = Propagation::default();
        let (calls, done) = callers(&gate, 10, Duration::ZERO).await;
        assert_eq!(calls, 10);
        assert!(
            done.iter().all(|d| *d == Duration::from_millis(50)),
            "{done:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_gives_up_passes_its_turn_on() {
        let gate = Propagation::default();
        let first: Result<(), AwsError> = gate.call(is_refused, || async { Err(refused()) }).await;
        assert!(first.is_err() && !gate.is_open());
        let order = StdMutex::new(Vec::new());
        let attempt = |name: &'static str| {
            let (gate, order) = (&gate, &order);
            async move {
                let _: Result<(), AwsError> = gate
                    .call(is_refused, || async {
                        order.lock().expect("lock").push(format!("{name} starts"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        order.lock().expect("lock").push(format!("{name} ends"));
                        Err(refused())
                    })
                    .await;
            }
        };
        // Each gives up after one refused try: the turns go round, one at a time.
        tokio::join!(attempt("a"), attempt("b"), attempt("c"));
        assert_eq!(
            *order.lock().expect("lock"),
            ["a starts", "a ends", "b starts", "b ends", "c starts", "c ends"]
        );
        assert!(!gate.is_open());
        // Another error leaves the gate as it is.
        let other: Result<(), AwsError> = gate
            .call(is_refused, || async {
                Err(AwsError {
                    message: "no".into(),
                    ..refused()
                })
            })
            .await;
        assert!(other.is_err() && !gate.is_open());
    }
}
