//! The bridge's sense of "now". Jobs take a [`Clock`] so that tests (and the local bridge's demo)
//! can set the date and time — a dispatch after the 12:00 cut-off, a BST day, a bank holiday —
//! without waiting for one.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is set or advanced; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock { now: Arc::new(Mutex::new(at)) }
    }

    /// Shows `at` from now on.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The UK's time zone, in which Nexus states its times and the cut-off is kept.
pub fn london() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC)
}

/// A UK local time (as Nexus states it) in ISO 8601 with its offset, as Qargo wants datetimes:
/// `2026-06-17T10:00:00+01:00` in summer, `+00:00` in winter. A time the clock change skips is
/// read forward, as jiff's compatible disambiguation does.
pub fn uk_time_with_offset(at: jiff::civil::DateTime) -> String {
    match at.to_zoned(london()) {
        Ok(zoned) => zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => at.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_times_carry_their_offset() {
        assert_eq!(uk_time_with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
        assert_eq!(uk_time_with_offset("2026-12-17T10:00:00".parse().unwrap()), "2026-12-17T10:00:00+00:00");
    }

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let start: Timestamp = "2026-06-17T08:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let other = clock.clone();
        clock.advance(SignedDuration::from_mins(90));
        assert_eq!(other.now(), "2026-06-17T09:30:00Z".parse().unwrap());
        other.set(start);
        assert_eq!(clock.now(), start);
        assert!(SystemClock.now() > start);
    }
}
