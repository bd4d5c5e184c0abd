//! Qargo's per-tenant rate limits.
//!
//! * `/v1/auth/token`: **5 calls per rolling hour** — a sliding log of the calls in the window.
//! * every other non-webhook route: **2 requests/s sustained, 3/s burst** — read as a token bucket
//!   of capacity 3 that refills at 2 tokens per second. The published text says "sliding windows";
//!   a bucket gives exactly "3 at once, then 2 per second" and a precise `Retry-After`.
//!
//! Past either limit the simulator answers `429`, `Retry-After: <whole seconds, at least 1>` and
//! `{"error":"Rate limit exceeded"}`. Both limiters read the injected [`Clock`](crate::Clock).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The limits a tenant is held to. `None` switches a limit off.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// The token endpoint's limit.
    pub token: Option<TokenLimit>,
    /// The general API limit.
    pub api: Option<ApiLimit>,
}

impl Limits {
    /// Qargo's published limits: 5 token calls per hour; 2 requests/s sustained with bursts of 3.
    pub fn qargo() -> Limits {
        Limits { token: Some(TokenLimit::qargo()), api: Some(ApiLimit::qargo()) }
    }

    /// No limits at all (for load-insensitive demos).
    pub fn off() -> Limits {
        Limits { token: None, api: None }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::qargo()
    }
}

/// At most `calls` token requests in any rolling `window`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLimit {
    /// Calls allowed in the window.
    pub calls: u32,
    /// The rolling window.
    pub window: Duration,
}

impl TokenLimit {
    /// 5 calls per hour.
    pub fn qargo() -> TokenLimit {
        TokenLimit { calls: 5, window: Duration::from_secs(3600) }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiLimit {
    /// Sustained rate, requests per second.
    pub per_second: f64,
    /// Bucket capacity.
    pub burst: u32,
}

impl ApiLimit {
    /// 2 requests/s sustained, 3 burst.
    pub fn qargo() -> ApiLimit {
        ApiLimit { per_second: 2.0, burst: 3 }
    }
}

/// Refused by a limiter: wait this long before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, rounded up, at least 1.
    pub fn header_seconds(self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// The sliding log behind the token limit.
#[derive(Debug)]
pub struct SlidingLog {
    limit: TokenLimit,
    calls: VecDeque<Instant>,
}

impl SlidingLog {
    /// An empty log for `limit`.
    pub fn new(limit: TokenLimit) -> SlidingLog {
        SlidingLog { limit, calls: VecDeque::new() }
    }

    /// Records a call at `now`, or refuses it.
    pub fn admit(&mut self, now: Instant) -> Result<(), RetryAfter> {
        while let Some(&oldest) = self.calls.front() {
            if now.saturating_duration_since(oldest) >= self.limit.window {
                self.calls.pop_front();
            } else {
                break;
            }
        }
        if self.calls.len() >= self.limit.calls as usize {
            let oldest = self.calls.front().copied().unwrap_or(now);
            let free_at = oldest + self.limit.window;
            return Err(RetryAfter(free_at.saturating_duration_since(now)));
        }
        self.calls.push_back(now);
        Ok(())
    }
}

/// The token bucket behind the API limit.
#[derive(Debug)]
pub struct TokenBucket {
    limit: ApiLimit,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket for `limit`.
    pub fn new(limit: ApiLimit) -> TokenBucket {
        let tokens = f64::from(limit.burst);
        TokenBucket { limit, tokens, last: None }
    }

    /// Takes one token at `now`, or refuses.
    pub fn admit(&mut self, now: Instant) -> Result<(), RetryAfter> {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            let per_second = if self.limit.per_second > 0.0 { self.limit.per_second } else { f64::MIN_POSITIVE };
            Err(RetryAfter(Duration::from_secs_f64((missing / per_second).min(86_400.0))))
        }
    }
}
