//! Pacing of a partner's requests: a process's own token bucket (`governor`), a budget shared by
//! every function instance through the store ([`RateBudgets`]) when one is given, and the
//! partner's own word (a 429's `Retry-After` holds every request of the pacer until then).
//!
//! - Qargo: one pacer per tenant, its budget named `qargo`, at 95 % of 2 requests/s, 2 at once
//!   (Qargo's bucket is 3).
//! - Nexus: one pacer per depot API user, its budget named `nexus#<user>`, at 90 % of the
//!   configured per-minute budget (`NEXUS_REQUESTS_PER_MINUTE`), a twentieth of it at once.
//!
//! A turn further away than the pacer waits (`max_wait`) is not taken: the caller gets
//! [`Spent`] and leaves its work for a later run instead of queueing behind everyone or drawing
//! 429s. When the store cannot be reached the process's own bucket still paces, and it is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store::{Rate, RateBudgets, Turn};

/// How long a caller waits for a turn at most, by default.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(10);

/// The budget is taken further ahead than the caller waits (or the partner said to wait longer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request budget is taken for the next {} s", .wait.as_secs_f64().ceil())]
pub struct Spent {
    /// How long until the next free turn.
    pub wait: Duration,
}

/// A budget shared through the store.
struct Shared {
    budgets: Arc<dyn RateBudgets>,
    name: String,
    /// Whether the last reservation failed (logged once until it works again).
    failing: AtomicBool,
}

/// Paces one partner's requests (module docs). Shared by every client of the process that draws
/// on the same budget (clone the `Arc`).
pub struct Pacer {
    /// `None`: not paced (only a partner's `Retry-After` holds requests).
    local: Option<governor::DefaultDirectRateLimiter>,
    rate: Rate,
    shared: Option<Shared>,
    max_wait: Duration,
    /// No request before this instant (a partner's `Retry-After`).
    held_until: std::sync::Mutex<Option<Instant>>,
    /// Until when the budget was last found spent.
    spent_until: std::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("rate", &self.local.as_ref().map(|_| self.rate))
            .field("shared", &self.shared.as_ref().map(|shared| &shared.name))
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl Pacer {
    /// At most `per_second` calls a second, one at a time (no burst), in this process.
    pub fn new(per_second: f64) -> Pacer {
        Pacer::with_burst(per_second, 1)
    }

    /// At most `per_second` calls a second sustained, `burst` at once, in this process.
    pub fn with_burst(per_second: f64, burst: u32) -> Pacer {
        Pacer::at(Rate::per_second(per_second, burst))
    }

    /// At `rate`, in this process.
    pub fn at(rate: Rate) -> Pacer {
        let burst = std::num::NonZeroU32::new(rate.burst).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = governor::Quota::with_period(rate.interval)
            .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN))
            .allow_burst(burst);
        Pacer { local: Some(governor::RateLimiter::direct(quota)), rate, ..Pacer::unpaced() }
    }

    /// No pacing: only a partner's `Retry-After` holds requests.
    pub fn unpaced() -> Pacer {
        Pacer {
            local: None,
            rate: Rate { interval: Duration::ZERO, burst: 1 },
            shared: None,
            max_wait: DEFAULT_MAX_WAIT,
            held_until: std::sync::Mutex::new(None),
            spent_until: std::sync::Mutex::new(None),
        }
    }

    /// Qargo's limit: 2 requests a second sustained, 3 at once.
    pub fn qargo_limit() -> Pacer {
        Pacer::for_qargo(2.0)
    }

    /// A pacer for Qargo at `per_second`: a bucket of 2 (Qargo's burst is 3) refilled at 95 % of the
    /// rate. Our bucket and Qargo's start and tick at different instants and requests take different
    /// times to arrive, so one burst token and 5 % of the rate are kept spare: no 429 from timing.
    pub fn for_qargo(per_second: f64) -> Pacer {
        Pacer::with_burst(per_second * 0.95, 2)
    }

    /// A pacer for one Nexus API user with `per_minute` requests a minute (0: not paced): 90 % of
    /// it sustained and a twentieth at once, so that no 60-second window holds more than 95 % of
    /// the budget whichever way Nexus counts it.
    pub fn for_nexus(per_minute: u32) -> Pacer {
        if per_minute == 0 {
            return Pacer::unpaced();
        }
        Pacer::at(Rate::per_minute(f64::from(per_minute) * 0.9, (per_minute / 20).max(1)))
    }

    /// Draws on the budget `name` in `budgets` as well, shared with every process that does.
    pub fn shared(mut self, budgets: Arc<dyn RateBudgets>, name: impl Into<String>) -> Pacer {
        if self.local.is_some() {
            self.shared = Some(Shared { budgets, name: name.into(), failing: AtomicBool::new(false) });
        }
        self
    }

    /// Waits at most `max_wait` for a turn.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Pacer {
        self.max_wait = max_wait;
        self
    }

    /// Waits for this caller's turn; [`Spent`] when it is further away than the pacer waits.
    pub async fn turn(&self) -> Result<(), Spent> {
        self.wait_out_hold()?;
        if let Some(wait) = self.held_wait() {
            tokio::time::sleep(wait).await;
        }
        let Some(local) = &self.local else { return Ok(()) };
        loop {
            use governor::clock::Clock;
            let wait = match local.check() {
                Ok(()) => break,
                Err(not_until) => not_until.wait_time_from(governor::clock::DefaultClock::default().now()),
            };
            tokio::time::sleep(wait).await;
        }
        let Some(shared) = &self.shared else { return Ok(()) };
        let now_ms = jiff::Timestamp::now().as_millisecond();
        match shared.budgets.reserve(&shared.name, self.rate, now_ms, self.max_wait).await {
            Ok(turn) => {
                if shared.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(budget = %shared.name, "the shared request budget is reachable again");
                }
                match turn {
                    Turn::After(wait) => {
                        tokio::time::sleep(wait).await;
                        Ok(())
                    }
                    Turn::NotWithin(wait) => Err(self.spent(wait)),
                }
            }
            Err(err) => {
                if !shared.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(budget = %shared.name, error = %err, "the shared request budget cannot be read: this instance paces on its own until it can");
                }
                Ok(())
            }
        }
    }

    /// Waits for this caller's turn however long it is (the operations CLI's checks, one caller).
    pub async fn wait_turn(&self) {
        while let Err(spent) = self.turn().await {
            tokio::time::sleep(spent.wait).await;
        }
    }

    /// The partner asked for a pause (a 429's `Retry-After`): no request of this pacer before it ends.
    /// A pause longer than the pacer waits spends the budget until it ends.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        {
            let mut held = self.held_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *held = Some(held.map_or(until, |held| held.max(until)));
        }
        if wait > self.max_wait {
            self.spent(wait);
        }
    }

    /// Whether the budget was found spent and still is: a run should start no new work.
    pub fn is_spent(&self) -> bool {
        self.spent_for().is_some()
    }

    /// How long the budget stays spent, if it is.
    pub fn spent_for(&self) -> Option<Duration> {
        let spent = *self.spent_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        spent.and_then(|until| until.checked_duration_since(Instant::now())).filter(|left| !left.is_zero())
    }

    fn spent(&self, wait: Duration) -> Spent {
        let until = Instant::now() + wait;
        let mut spent = self.spent_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *spent = Some(spent.map_or(until, |spent| spent.max(until)));
        Spent { wait }
    }

    fn held_wait(&self) -> Option<Duration> {
        let held = *self.held_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// [`Spent`] when the partner's pause lasts longer than the pacer waits.
    fn wait_out_hold(&self) -> Result<(), Spent> {
        match self.held_wait() {
            Some(wait) if wait > self.max_wait => Err(self.spent(wait)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn two_processes_on_one_shared_budget_take_turns_from_it() {
        let store: Arc<dyn RateBudgets> = Arc::new(MemoryStore::in_memory());
        // 20 a second, 1 at once: each process alone could go at once; together they alternate.
        let rate = Rate { interval: Duration::from_millis(50), burst: 1 };
        let first = Pacer::at(rate).shared(store.clone(), "qargo");
        let second = Pacer::at(rate).shared(store.clone(), "qargo");
        let started = Instant::now();
        for _ in 0..5 {
            first.turn().await.unwrap();
            second.turn().await.unwrap();
        }
        // 10 turns at 50 ms: the last one 450 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(440), "{:?}", started.elapsed());
        let alone = Pacer::at(rate);
        let started = Instant::now();
        for _ in 0..5 {
            alone.turn().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(440), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_budget_booked_beyond_the_wait_is_spent_and_says_so() {
        let store: Arc<dyn RateBudgets> = Arc::new(MemoryStore::in_memory());
        let rate = Rate { interval: Duration::from_secs(60), burst: 1 };
        let other = Pacer::at(rate).shared(store.clone(), "nexus#PGD302");
        other.turn().await.unwrap();
        let pacer = Pacer::at(rate).shared(store, "nexus#PGD302").with_max_wait(Duration::from_secs(1));
        let spent = pacer.turn().await.unwrap_err();
        assert!(spent.wait > Duration::from_secs(58), "{spent:?}");
        assert!(pacer.is_spent());
        assert!(!other.is_spent());
    }

    #[tokio::test]
    async fn a_partners_pause_holds_every_request_and_a_long_one_is_spent() {
        let pacer = Pacer::unpaced().with_max_wait(Duration::from_secs(5));
        pacer.hold(Duration::from_millis(100));
        let started = Instant::now();
        pacer.turn().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(95));
        pacer.hold(Duration::from_secs(30));
        assert!(pacer.turn().await.is_err());
        assert!(pacer.is_spent());
    }

    #[test]
    fn nexus_pacing_keeps_inside_the_per_minute_budget() {
        let pacer = Pacer::for_nexus(100);
        assert_eq!(pacer.rate.burst, 5);
        // 5 at once plus 90 a minute: at most 95 in any minute.
        assert_eq!(pacer.rate.interval, Duration::from_secs_f64(60.0 / 90.0));
        assert!(Pacer::for_nexus(0).local.is_none());
    }
}
