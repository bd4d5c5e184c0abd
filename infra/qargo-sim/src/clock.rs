//! The monotonic clock the simulator measures rate limits and token lifetimes on.
//!
//! Production-like runs use [`SystemClock`] (tokio's clock, so a test that pauses tokio time pauses
//! it too). Tests that must cross an hour-long window without waiting inject a [`ManualClock`] and
//! [`ManualClock::advance`] it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of monotonic instants.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real clock (`tokio::time::Instant::now()`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the moment it is created.
    pub fn new() -> ManualClock {
        ManualClock { start: Instant::now(), offset: Mutex::new(Duration::ZERO) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}
