//! Request budgets shared by every function instance: Qargo's limit is per tenant and Nexus's per
//! API user, while each Lambda instance is its own process. A budget is the generic cell rate
//! algorithm (GCRA): its one number, the *theoretical arrival time* (TAT) of the next request, is
//! kept in the store and moved forward atomically by each caller, so callers in any number of
//! processes take turns from one budget, one store operation a turn.
//!
//! A caller reserves a turn and then waits for it; a turn further away than the caller will wait is
//! not reserved (the caller leaves its work for later instead of queueing behind everyone).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A request rate: one turn every `interval`, with up to `burst` turns at once after a quiet time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The time between two turns at the sustained rate.
    pub interval: Duration,
    /// How many turns may follow each other at once (1: none).
    pub burst: u32,
}

impl Rate {
    /// `per_second` turns a second sustained, `burst` at once.
    pub fn per_second(per_second: f64, burst: u32) -> Rate {
        Rate { interval: Duration::from_secs_f64(1.0 / per_second.clamp(0.001, 1_000_000.0)), burst: burst.max(1) }
    }

    /// `per_minute` turns a minute sustained, `burst` at once.
    pub fn per_minute(per_minute: f64, burst: u32) -> Rate {
        Rate::per_second(per_minute / 60.0, burst)
    }

    /// How far ahead of the sustained rate a turn may be taken: the burst's worth of intervals.
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.max(1) - 1)
    }
}

/// What a reservation answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Reserved: the request may go this long after the reservation's `now` (zero: at once).
    After(Duration),
    /// Not reserved: the next free turn is this far away, further than the caller would wait.
    NotWithin(Duration),
}

/// The shared budgets port.
#[async_trait]
pub trait RateBudgets: Send + Sync {
    /// Reserves the next turn of the budget `name` at `rate`, `now_ms` being the caller's wall clock
    /// in milliseconds since the Unix epoch; nothing is reserved if that turn is more than
    /// `max_wait` away.
    async fn reserve(&self, name: &str, rate: Rate, now_ms: i64, max_wait: Duration) -> Result<Turn, StoreError>;
}

/// Storage key of a budget.
pub(crate) fn budget_key(name: &str) -> String {
    format!("BUDGET#{name}")
}

/// A budget as stored: the theoretical arrival time of the next turn, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBudget {
    pub(crate) tat_ms: i64,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One GCRA step: from the stored TAT (none: a budget never used), the TAT to store (`None`: keep
/// it, nothing reserved) and the answer.
pub(crate) fn next_turn(tat_ms: Option<i64>, rate: Rate, now_ms: i64, max_wait: Duration) -> (Option<i64>, Turn) {
    let start = tat_ms.unwrap_or(now_ms).max(now_ms);
    let wait = wait_for(start, rate, now_ms);
    if wait > max_wait {
        return (None, Turn::NotWithin(wait));
    }
    (Some(start.saturating_add(interval_ms(rate))), Turn::After(wait))
}

/// How long after `now_ms` the turn whose theoretical arrival is `start_ms` may go: the burst lets
/// it go a tolerance early, and never before now.
pub(crate) fn wait_for(start_ms: i64, rate: Rate, now_ms: i64) -> Duration {
    let go_at = start_ms.saturating_sub(millis(rate.tolerance())).max(now_ms);
    Duration::from_millis(u64::try_from(go_at - now_ms).unwrap_or(0))
}

/// The time between turns in whole milliseconds, at least one (what a turn moves the TAT on by).
pub(crate) fn interval_ms(rate: Rate) -> i64 {
    millis(rate.interval).max(1)
}

/// The latest stored TAT whose next turn is still within `max_wait` of `now_ms` (the DynamoDB
/// adapter's condition for moving a busy budget on in one write).
pub(crate) fn latest_tat_within(rate: Rate, now_ms: i64, max_wait: Duration) -> i64 {
    now_ms.saturating_add(millis(max_wait)).saturating_add(millis(rate.tolerance()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF_SECOND: Rate = Rate { interval: Duration::from_millis(500), burst: 2 };

    #[test]
    fn a_quiet_budget_lets_its_burst_through_then_spaces_the_turns() {
        let max_wait = Duration::from_secs(10);
        let (mut tat, mut turns) = (None, Vec::new());
        for _ in 0..4 {
            let (next, turn) = next_turn(tat, HALF_SECOND, 1_000, max_wait);
            tat = next.or(tat);
            turns.push(turn);
        }
        let after = |ms| Turn::After(Duration::from_millis(ms));
        assert_eq!(turns, vec![after(0), after(0), after(500), after(1_000)]);
        assert_eq!(tat, Some(3_000));
    }

    #[test]
    fn a_turn_further_than_the_caller_waits_is_not_reserved() {
        let (next, turn) = next_turn(Some(20_000), HALF_SECOND, 1_000, Duration::from_secs(5));
        assert_eq!((next, turn), (None, Turn::NotWithin(Duration::from_millis(18_500))));
        // The condition the DynamoDB adapter writes under agrees: 20,000 is past the latest TAT.
        assert!(20_000 > latest_tat_within(HALF_SECOND, 1_000, Duration::from_secs(5)));
        let (next, turn) = next_turn(Some(6_500), HALF_SECOND, 1_000, Duration::from_secs(5));
        assert_eq!((next, turn), (Some(7_000), Turn::After(Duration::from_secs(5))));
        assert!(6_500 <= latest_tat_within(HALF_SECOND, 1_000, Duration::from_secs(5)));
    }

    #[test]
    fn a_budget_idle_for_long_starts_again_from_now() {
        let (next, turn) = next_turn(Some(1_000), HALF_SECOND, 60_000, Duration::ZERO);
        assert_eq!((next, turn), (Some(60_500), Turn::After(Duration::ZERO)));
    }

    #[test]
    fn rates_per_second_and_per_minute() {
        assert_eq!(Rate::per_second(2.0, 3).interval, Duration::from_millis(500));
        assert_eq!(Rate::per_minute(90.0, 5).interval, Duration::from_secs_f64(60.0 / 90.0));
        assert_eq!(Rate::per_minute(90.0, 0).burst, 1);
    }
}
