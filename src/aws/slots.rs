//! The executor's concurrency slots: how many resources make AWS calls at once.
//!
//! A resource holds a slot while it works and gives it back while it only waits: the
//! pauses of the retry helper and the waiter ([`pause`]) release the slot of the
//! resource they run in and take one again before the next call. Without that, resources
//! that wait (functions whose role is not assumable yet, a function becoming active,
//! subnets refused while a load balancer's interfaces detach) would fill every slot for
//! seconds at a time, and the resources on the critical path (the network, the load
//! balancer) would queue behind them: with 10 functions a fresh `up` took 1.8× its bound,
//! with 50 nearly 5×. The number of calls in flight stays bounded all the same.
//!
//! A free slot goes to the waiting resource with the highest rank (the executor ranks a
//! resource by the time the run has left once it starts, so the critical path goes
//! first), first come, first served within a rank.

use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// A pool of slots shared by the resources of one run of the executor.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    pool: Arc<Mutex<Pool>>,
}

#[derive(Debug, Default)]
struct Pool {
    free: usize,
    waiting: BinaryHeap<Waiter>,
    /// Tickets in the order of asking, for first come, first served within a rank.
    asked: u64,
}

/// A resource waiting for a slot.
#[derive(Debug)]
struct Waiter {
    rank: Duration,
    ticket: u64,
    give: oneshot::Sender<Permit>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// The heap's greatest first: the highest rank, then the earliest ticket.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank
            .cmp(&other.rank)
            .then_with(|| other.ticket.cmp(&self.ticket))
    }
}

/// A slot in use; dropping it hands it to the best waiter, or back to the pool.
#[derive(Debug)]
struct Permit {
    pool: Arc<Mutex<Pool>>,
}

fn lock(pool: &Mutex<Pool>) -> MutexGuard<'_, Pool> {
    pool.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Permit {
    fn drop(&mut self) {
        let next = {
            let mut pool = lock(&self.pool);
            let next = pool.waiting.pop();
            if next.is_none() {
                pool.free += 1;
            }
            next
        };
        if let Some(w) = next {
            // A waiter that stopped waiting drops the slot it is sent, which passes it on.
            let _ = w.give.send(Permit {
                pool: self.pool.clone(),
            });
        }
    }
}

/// The slot of the resource a task is working on, and its rank.
struct Held {
    pool: Slots,
    rank: Duration,
    permit: Mutex<Option<Permit>>,
}

tokio::task_local! {
    static HELD: Held;
}

impl Slots {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            pool: Arc::new(Mutex::new(Pool {
                free: n.max(1),
                ..Pool::default()
            })),
        }
    }

    /// A slot: at once if one is free, else when every waiter of a higher rank (and
    /// every earlier one of the same rank) has had one.
    async fn acquire(&self, rank: Duration) -> Option<Permit> {
        let wait = {
            let mut pool = lock(&self.pool);
            if pool.free > 0 {
                pool.free -= 1;
                return Some(Permit {
                    pool: self.pool.clone(),
                });
            }
            let (give, wait) = oneshot::channel();
            pool.asked += 1;
            let ticket = pool.asked;
            pool.waiting.push(Waiter { rank, ticket, give });
            wait
        };
        wait.await.ok()
    }

    /// Runs `work` once a slot is free, holding it except while `work` is in [`pause`].
    /// `rank` orders the waiters: the longest time left to the end of the run first.
    pub(crate) async fn run<F: Future>(&self, rank: Duration, work: F) -> F::Output {
        let permit = self.acquire(rank).await;
        let held = Held {
            pool: self.clone(),
            rank,
            permit: Mutex::new(permit),
        };
        HELD.scope(held, work).await
    }

    /// Slots free now (tests).
    #[cfg(test)]
    fn free(&self) -> usize {
        lock(&self.pool).free
    }
}

/// Sleeps for `delay`. Inside [`Slots::run`], the slot is given back for the sleep and
/// taken again (at the resource's rank) before returning.
pub(crate) async fn pause(delay: Duration) {
    idle(tokio::time::sleep(delay)).await;
}

/// Awaits `wait`, something that makes no call (a sleep, a turn); inside [`Slots::run`]
/// the slot is lent meanwhile and taken again (at the resource's rank) afterwards.
pub(crate) async fn idle<F: Future>(wait: F) -> F::Output {
    let lent = HELD
        .try_with(|h| {
            let released = h
                .permit
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            released.map(|_| (h.pool.clone(), h.rank))
        })
        .ok()
        .flatten();
    let out = wait.await;
    if let Some((pool, rank)) = lent {
        let permit = pool.acquire(rank).await;
        let _ = HELD.try_with(|h| {
            *h.permit.lock().unwrap_or_else(PoisonError::into_inner) = permit;
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_pausing_resource_lends_its_slot_and_takes_one_back() {
        let slots = Slots::new(1);
        let order = Mutex::new(Vec::new());
        let log = |what: &'static str| order.lock().expect("lock").push(what);
        let waiter = slots.run(Duration::ZERO, async {
            log("waiter calls");
            pause(Duration::from_secs(5)).await;
            log("waiter calls again");
        });
        let worker = slots.run(Duration::ZERO, async {
            log("worker calls");
            tokio::time::sleep(Duration::from_secs(1)).await;
            log("worker done");
        });
        tokio::join!(waiter, worker);
        assert_eq!(
            *order.lock().expect("lock"),
            [
                "waiter calls",
                "worker calls",
                "worker done",
                "waiter calls again"
            ]
        );
        assert_eq!(slots.free(), 1, "every slot is back");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_slots_work_at_once() {
        let slots = Slots::new(3);
        let working = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let one = || async {
            for _ in 0..3 {
                let now = working.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                working.fetch_sub(1, Ordering::SeqCst);
                pause(Duration::from_millis(200)).await;
            }
        };
        let all: Vec<_> = (0..10).map(|_| slots.run(Duration::ZERO, one())).collect();
        futures::future::join_all(all).await;
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(slots.free(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_free_slot_goes_to_the_highest_rank_then_the_first_to_ask() {
        let slots = Slots::new(1);
        let order = Mutex::new(Vec::new());
        let one = |name: &'static str, rank: u64| {
            let (slots, order) = (&slots, &order);
            async move {
                slots
                    .run(Duration::from_secs(rank), async {
                        order.lock().expect("lock").push(name);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    })
                    .await;
            }
        };
        // `first` takes the slot; the others queue in this order.
        tokio::join!(
            one("first", 0),
            one("low", 1),
            one("high", 9),
            one("middle", 5),
            one("high again", 9)
        );
        assert_eq!(
            *order.lock().expect("lock"),
            ["first", "high", "high again", "middle", "low"]
        );
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_passes_the_slot_on() {
        let slots = Slots::new(1);
        let held = slots.acquire(Duration::ZERO).await;
        let gave_up = tokio::time::timeout(Duration::from_secs(1), slots.acquire(Duration::MAX));
        assert!(gave_up.await.is_err());
        // Queued behind the waiter that gave up, which still heads the queue.
        let later = slots.clone();
        let next = tokio::spawn(async move { later.acquire(Duration::ZERO).await.is_some() });
        tokio::task::yield_now().await;
        assert_eq!(lock(&slots.pool).waiting.len(), 2);
        drop(held);
        assert!(
            next.await.expect("task"),
            "the slot reached the next waiter"
        );
        assert_eq!(slots.free(), 1, "and came back when it was done");
    }

    #[tokio::test(start_paused = true)]
    async fn outside_a_slot_a_pause_is_a_sleep() {
        let started = tokio::time::Instant::now();
        pause(Duration::from_secs(2)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
