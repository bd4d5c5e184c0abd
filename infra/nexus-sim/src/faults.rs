//! Fault injection and request accounting for the `/v1/` API (never for `/_sim/`).
//!
//! The rate limit is a sliding window of 60 s on the **wall clock** (rate limits are about bursts of
//! real requests, and the simulator's clock may stand still), counted per principal (the token's user,
//! or `anonymous` for requests without a known token, such as logins). Requests refused with 503 or
//! 429 do not use up the allowance. Latency jitter comes from a generator seeded by the world seed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::random::SplitMix64;

/// A fault that is off, on until switched off, or on for the next N requests to `/v1/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultSwitch {
    /// The fault never applies.
    #[default]
    Off,
    /// The fault applies to every request until switched off.
    On,
    /// The fault applies to the next this many requests, then switches itself off.
    NextRequests(u32),
}

impl FaultSwitch {
    /// Whether the fault applies to this request; counts down `NextRequests`.
    fn fires(&mut self) -> bool {
        match *self {
            FaultSwitch::Off => false,
            FaultSwitch::On => true,
            FaultSwitch::NextRequests(n) => {
                *self = if n <= 1 { FaultSwitch::Off } else { FaultSwitch::NextRequests(n - 1) };
                n >= 1
            }
        }
    }

    pub(crate) fn to_json(self) -> serde_json::Value {
        match self {
            FaultSwitch::Off => serde_json::Value::Bool(false),
            FaultSwitch::On => serde_json::Value::Bool(true),
            FaultSwitch::NextRequests(n) => serde_json::json!(n),
        }
    }

    /// `true` / `false`, or a number of requests.
    pub(crate) fn from_json(value: &serde_json::Value) -> Option<FaultSwitch> {
        match value {
            serde_json::Value::Bool(true) => Some(FaultSwitch::On),
            serde_json::Value::Bool(false) => Some(FaultSwitch::Off),
            serde_json::Value::Number(n) => match n.as_u64()? {
                0 => Some(FaultSwitch::Off),
                n => Some(FaultSwitch::NextRequests(u32::try_from(n).ok()?)),
            },
            _ => None,
        }
    }
}

impl From<bool> for FaultSwitch {
    fn from(on: bool) -> FaultSwitch {
        if on { FaultSwitch::On } else { FaultSwitch::Off }
    }
}

/// The current fault switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSettings {
    /// Every `/v1/` request answers 503.
    pub outage: FaultSwitch,
    /// Added before every `/v1/` request is handled.
    pub latency: Duration,
    /// A further random delay between zero and this, per request.
    pub latency_jitter: Duration,
    /// Requests per minute per principal before 429; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Responses are cut in half (Content-Length matches what is sent).
    pub truncate_bodies: FaultSwitch,
    /// Responses are replaced by an HTML page with status 200.
    pub malformed_bodies: FaultSwitch,
    /// Extra time taken to produce labels.
    pub label_delay: Duration,
    /// Requests answer 429 with `Retry-After: 1`, whatever the rate limit, so clients' waiting can be
    /// tested in a second rather than a minute.
    pub throttle: FaultSwitch,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            outage: FaultSwitch::Off,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            rate_limit_per_minute: 100,
            truncate_bodies: FaultSwitch::Off,
            malformed_bodies: FaultSwitch::Off,
            label_delay: Duration::ZERO,
            throttle: FaultSwitch::Off,
        }
    }
}

/// How many requests one principal made to one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCount {
    /// Method and route template, e.g. `GET /v1/consignments/{id}` (paths are lower-cased).
    pub route: String,
    /// The user name of the bearer token, or `anonymous`.
    pub principal: String,
    /// Requests made.
    pub count: u64,
    /// Requests by response status.
    pub statuses: BTreeMap<u16, u64>,
    /// Total delay the simulator injected into these requests (latency and label delay), in ms.
    pub injected_delay_ms: u64,
}

/// Every request counted since the start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCounts {
    /// All requests to `/v1/`.
    pub total: u64,
    /// Per route and principal, sorted.
    pub routes: Vec<RequestCount>,
}

impl RequestCounts {
    /// Requests to a route (e.g. `"GET /v1/consignments"`) by anyone.
    pub fn for_route(&self, route: &str) -> u64 {
        self.routes.iter().filter(|r| r.route.eq_ignore_ascii_case(route)).map(|r| r.count).sum()
    }

    /// Requests by one principal to any route.
    pub fn for_principal(&self, principal: &str) -> u64 {
        self.routes.iter().filter(|r| r.principal.eq_ignore_ascii_case(principal)).map(|r| r.count).sum()
    }
}

/// What happens to a request before its handler runs.
pub(crate) enum Gate {
    Outage,
    RateLimited { retry_after_seconds: u64 },
    Proceed { delay: Duration, truncate: bool, malformed: bool },
}

pub(crate) struct FaultState {
    pub(crate) settings: FaultSettings,
    rng: SplitMix64,
    windows: HashMap<String, VecDeque<Instant>>,
    counts: BTreeMap<(String, String), RequestCount>,
}

impl FaultState {
    pub(crate) fn new(seed: u64) -> FaultState {
        FaultState {
            settings: FaultSettings::default(),
            rng: SplitMix64::new(seed ^ 0x5EED_FA17),
            windows: HashMap::new(),
            counts: BTreeMap::new(),
        }
    }

    pub(crate) fn admit(&mut self, principal: &str) -> Gate {
        if self.settings.outage.fires() {
            return Gate::Outage;
        }
        if self.settings.throttle.fires() {
            return Gate::RateLimited { retry_after_seconds: 1 };
        }
        let limit = self.settings.rate_limit_per_minute as usize;
        if limit > 0 {
            let now = Instant::now();
            let window = self.windows.entry(principal.to_owned()).or_default();
            while window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
                window.pop_front();
            }
            if window.len() >= limit {
                let oldest = *window.front().expect("a full window has an oldest entry");
                let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
                return Gate::RateLimited { retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64 };
            }
            window.push_back(now);
        }
        let jitter_ms = self.settings.latency_jitter.as_millis() as u64;
        let delay = self.settings.latency + Duration::from_millis(self.rng.below(jitter_ms + 1));
        let malformed = self.settings.malformed_bodies.fires();
        let truncate = !malformed && self.settings.truncate_bodies.fires();
        Gate::Proceed { delay, truncate, malformed }
    }

    pub(crate) fn record(&mut self, route: String, principal: String, status: u16, delay: Duration) {
        let entry = self.counts.entry((route.clone(), principal.clone())).or_insert_with(|| RequestCount {
            route,
            principal,
            count: 0,
            statuses: BTreeMap::new(),
            injected_delay_ms: 0,
        });
        entry.count += 1;
        *entry.statuses.entry(status).or_default() += 1;
        entry.injected_delay_ms += delay.as_millis() as u64;
    }

    pub(crate) fn counts(&self) -> RequestCounts {
        let routes: Vec<RequestCount> = self.counts.values().cloned().collect();
        RequestCounts { total: routes.iter().map(|r| r.count).sum(), routes }
    }

    pub(crate) fn reset_counts(&mut self) {
        self.counts.clear();
    }

    /// Forgets the rate-limit windows, e.g. after the limit was changed.
    pub(crate) fn reset_windows(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_requests_switch_counts_down() {
        let mut switch = FaultSwitch::NextRequests(2);
        assert!(switch.fires());
        assert!(switch.fires());
        assert!(!switch.fires());
        assert_eq!(switch, FaultSwitch::Off);
    }

    #[test]
    fn rate_limit_refuses_beyond_the_allowance_per_principal() {
        let mut faults = FaultState::new(1);
        faults.settings.rate_limit_per_minute = 2;
        assert!(matches!(faults.admit("a"), Gate::Proceed { .. }));
        assert!(matches!(faults.admit("a"), Gate::Proceed { .. }));
        assert!(
            matches!(faults.admit("a"), Gate::RateLimited { retry_after_seconds } if (1..=60).contains(&retry_after_seconds))
        );
        assert!(matches!(faults.admit("b"), Gate::Proceed { .. }));
    }
}
