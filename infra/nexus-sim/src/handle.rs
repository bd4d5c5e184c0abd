//! [`SimHandle`]: the test harness's grip on a running simulator — the clock and the lifecycle
//! driver, fault switches, request counts and a few views of the world. The same operations are
//! served over HTTP under `/_sim/` (see [`crate::ADMIN_ENDPOINTS`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::civil::DateTime;
use jiff::{SignedDuration, Span, Timestamp};

use crate::auth;
use crate::clock;
use crate::error::SimError;
use crate::faults::{FaultSettings, FaultState, FaultSwitch, RequestCounts};
use crate::lifecycle::{self, StepError};
use crate::profile::Profile;
use crate::reference;
use crate::seed::WorldSeed;
use crate::world::{Outcome, World};

/// A consignment status to step a consignment to (nexus-api.md §3.5 `consignmentStatuses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `BKD` (10).
    Booked,
    /// `MAN` (20): labels printed.
    Manifested,
    /// `COL` (30): `POC` scanned.
    Collected,
    /// `ACD` (40): `ARRC` scanned.
    AtCollectingDepot,
    /// `THB` (50): `SCOT` scanned.
    TrunkedToHub,
    /// `AHB` (60): `ARRH` scanned.
    AtHub,
    /// `DHB` (70): `DEPH` scanned.
    DepartedHub,
    /// `ADD` (80): `ARRD` (or `BKIN`) scanned.
    AtDeliveryDepot,
    /// `HLD` (85): `HIND` scanned.
    HeldAtDepot,
    /// `OFD` (90): `SCDV` scanned.
    OutForDelivery,
    /// `DEL` (100): delivered, with signature and photos.
    Delivered,
    /// `DLX` (101): delivered damaged (`DELD`).
    DeliveredWithException,
    /// `NDL` (110): a failed attempt, re-planned for the next working day.
    NotDelivered,
    /// `RTN` (120): returned to sender (`RTNS`).
    Returned,
    /// `CAN` (130): cancelled (only before collection).
    Cancelled,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 15] = [
        Stage::Booked,
        Stage::Manifested,
        Stage::Collected,
        Stage::AtCollectingDepot,
        Stage::TrunkedToHub,
        Stage::AtHub,
        Stage::DepartedHub,
        Stage::AtDeliveryDepot,
        Stage::HeldAtDepot,
        Stage::OutForDelivery,
        Stage::Delivered,
        Stage::DeliveredWithException,
        Stage::NotDelivered,
        Stage::Returned,
        Stage::Cancelled,
    ];

    /// The status code, e.g. `DEL`.
    pub fn code(self) -> &'static str {
        match self {
            Stage::Booked => "BKD",
            Stage::Manifested => "MAN",
            Stage::Collected => "COL",
            Stage::AtCollectingDepot => "ACD",
            Stage::TrunkedToHub => "THB",
            Stage::AtHub => "AHB",
            Stage::DepartedHub => "DHB",
            Stage::AtDeliveryDepot => "ADD",
            Stage::HeldAtDepot => "HLD",
            Stage::OutForDelivery => "OFD",
            Stage::Delivered => "DEL",
            Stage::DeliveredWithException => "DLX",
            Stage::NotDelivered => "NDL",
            Stage::Returned => "RTN",
            Stage::Cancelled => "CAN",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Stage {
    type Err = SimError;

    /// A status code (`DEL`), name (`Delivered`) or id (`100`), case-insensitively.
    fn from_str(raw: &str) -> Result<Stage, SimError> {
        let status = reference::find_status(raw)
            .ok_or_else(|| SimError::Step(format!("'{raw}' is not a status code, name or id")))?;
        Ok(Stage::ALL.into_iter().find(|s| s.code() == status.code).expect("every status is a stage"))
    }
}

pub(crate) struct Shared {
    world: Mutex<World>,
    faults: Mutex<FaultState>,
    seed: WorldSeed,
    profile: Profile,
}

/// A cheap, cloneable handle on a simulator's world, clock and faults.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle").field("now", &self.now()).finish()
    }
}

impl SimHandle {
    /// Builds the seed's world. Nothing listens yet; see [`NexusSim::start`](crate::NexusSim::start).
    pub fn new(seed: WorldSeed) -> Result<SimHandle, SimError> {
        SimHandle::with_profile(seed, Profile::Full)
    }

    /// Builds the seed's world, to be served in `profile` (see [`Profile`]).
    pub fn with_profile(seed: WorldSeed, profile: Profile) -> Result<SimHandle, SimError> {
        let world = seed.build()?;
        let faults = FaultState::new(world.seed);
        Ok(SimHandle {
            shared: Arc::new(Shared { world: Mutex::new(world), faults: Mutex::new(faults), seed, profile }),
        })
    }

    /// The profile this simulator serves (fixed for its lifetime; a reset keeps it).
    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulator's current time, UK local.
    pub fn now(&self) -> DateTime {
        clock::civil(self.world().now)
    }

    /// Moves the clock forward to a UK local time, running the lifecycle driver on the way. Returns
    /// the number of driver actions (scans, uploads) applied. Moving backwards is refused.
    pub fn set_now(&self, at: DateTime) -> Result<usize, SimError> {
        let target = clock::instant(at);
        let mut world = self.world();
        if target < world.now {
            return Err(SimError::Clock(format!(
                "the clock is at {} and cannot go back to {}",
                clock::format_datetime(world.now),
                clock::format_datetime(target)
            )));
        }
        Ok(lifecycle::advance_to(&mut world, target))
    }

    /// Moves the clock forward by a duration, running the lifecycle driver. Returns the number of
    /// driver actions applied.
    pub fn advance(&self, by: Duration) -> usize {
        let mut world = self.world();
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        let target = world.now.checked_add(by).unwrap_or(Timestamp::MAX);
        lifecycle::advance_to(&mut world, target)
    }

    /// Moves the clock forward by a calendar span (`"PT6H"`, `"P1D"`, `"2h 30m"`); days follow the UK
    /// calendar, so a day across a clock change is 23 or 25 hours.
    pub fn advance_span(&self, span: Span) -> Result<usize, SimError> {
        let mut world = self.world();
        let now = world.now.to_zoned(clock::london().clone());
        let target = now.checked_add(span).map_err(|e| SimError::Clock(e.to_string()))?.timestamp();
        if target < world.now {
            return Err(SimError::Clock("the clock cannot go backwards".to_owned()));
        }
        Ok(lifecycle::advance_to(&mut world, target))
    }

    /// Steps a consignment to a stage now, with the scans (and, for deliveries, the attachments) the
    /// network would have produced. Returns the number of scans applied.
    pub fn step(&self, consignment_id: u64, stage: Stage) -> Result<usize, SimError> {
        let mut world = self.world();
        let status = reference::status_by_code(stage.code());
        lifecycle::step(&mut world, consignment_id, status).map_err(|e| match e {
            StepError::NotFound => SimError::NotFound(consignment_id),
            StepError::AlreadyPast(why) => SimError::Step(format!("already past {stage}: {why}")),
            StepError::Unreachable(why) => SimError::Step(why),
        })
    }

    /// Moves a consignment's delivery date, as when its requesting depot amends the booking (Nexus
    /// has no amend route in §3; this is the harness's stand-in for one). `lastUpdated` moves with
    /// it, so a delta poll sees the change. Refused once the consignment is finished.
    pub fn set_delivery_date(&self, consignment_id: u64, date: jiff::civil::Date) -> Result<(), SimError> {
        let mut world = self.world();
        let now = world.now;
        let c = world.consignments.get_mut(&consignment_id).ok_or(SimError::NotFound(consignment_id))?;
        let status = c.status();
        if status.terminal {
            return Err(SimError::Step(format!(
                "consignment {consignment_id} is {}: its date cannot move",
                status.name
            )));
        }
        c.estimated_del_date = date;
        c.last_updated = now;
        Ok(())
    }

    /// The current status code of a consignment (`DEL`, …).
    pub fn status_of(&self, consignment_id: u64) -> Option<&'static str> {
        self.world().consignments.get(&consignment_id).map(|c| c.status().code)
    }

    /// Forces how every delivery attempt of a consignment ends (`None` returns it to chance).
    /// Accepted: `delivered`, `damaged`, `short`, `failed`.
    pub fn set_delivery_outcome(&self, consignment_id: u64, outcome: Option<&str>) -> Result<(), SimError> {
        let outcome = match outcome {
            None => None,
            Some(raw) => Some(
                Outcome::parse(raw)
                    .ok_or_else(|| SimError::Step(format!("'{raw}' is not delivered, damaged, short or failed")))?,
            ),
        };
        let mut world = self.world();
        let c = world.consignments.get_mut(&consignment_id).ok_or(SimError::NotFound(consignment_id))?;
        c.outcome_override = outcome;
        Ok(())
    }

    /// Records a scan with any code — one Nexus might add tomorrow — on pallet `pallet_index` of a
    /// consignment, now, as the network would (`source: NETWORK`); it moves nothing. Returns the
    /// event id. For testing how a client copes with codes it does not know.
    pub fn record_raw_scan(&self, consignment_id: u64, pallet_index: usize, code: &str) -> Result<u64, SimError> {
        let mut world = self.world();
        let event_id = world.allocate_event_id();
        let now = world.now;
        let c = world.consignments.get_mut(&consignment_id).ok_or(SimError::NotFound(consignment_id))?;
        let pallet = c.pallets.get(pallet_index).ok_or(SimError::NotFound(consignment_id))?;
        let event = crate::world::Event {
            id: event_id,
            pallet_id: Some(pallet.id),
            barcode: Some(pallet.barcode.clone()),
            code: code.to_owned(),
            description: format!("Scan {code}"),
            depot_code: None,
            at: now,
            notes: None,
            source: crate::world::Source::Network,
        };
        c.events.push(event);
        c.last_updated = now;
        Ok(event_id)
    }

    /// Depots whose scans come only from their own `POST …/events`: the driver leaves their legs alone.
    pub fn set_manual_depots<I, S>(&self, depots: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.world().driver.manual_depots = depots.into_iter().map(|d| d.as_ref().to_ascii_uppercase()).collect();
    }

    /// The depots the driver leaves alone.
    pub fn manual_depots(&self) -> BTreeSet<String> {
        self.world().driver.manual_depots.clone()
    }

    /// The share of delivery attempts that fail, and of deliveries with an exception, in percent.
    pub fn set_delivery_odds(&self, failed_percent: u64, exception_percent: u64) {
        let mut world = self.world();
        world.driver.failed_delivery_percent = failed_percent.min(100);
        world.driver.exception_percent = exception_percent.min(100 - world.driver.failed_delivery_percent);
    }

    /// Every `/v1/` request answers 503 while on.
    pub fn set_outage(&self, on: bool) {
        self.faults().settings.outage = on.into();
    }

    /// The next `requests` requests to `/v1/` answer 503, then service resumes.
    pub fn set_outage_for_next(&self, requests: u32) {
        self.faults().settings.outage = FaultSwitch::NextRequests(requests);
    }

    /// A fixed delay plus a random one up to `jitter` before each `/v1/` request is handled.
    pub fn set_latency(&self, fixed: Duration, jitter: Duration) {
        let mut faults = self.faults();
        faults.settings.latency = fixed;
        faults.settings.latency_jitter = jitter;
    }

    /// Requests per minute per principal before 429 (default 100); 0 turns the limit off.
    pub fn set_rate_limit(&self, per_minute: u32) {
        let mut faults = self.faults();
        faults.settings.rate_limit_per_minute = per_minute;
        faults.reset_windows();
    }

    /// Cuts every `/v1/` response body in half while on.
    pub fn set_truncate_bodies(&self, on: bool) {
        self.faults().settings.truncate_bodies = on.into();
    }

    /// Replaces every `/v1/` response with a 200 HTML page while on.
    pub fn set_malformed_bodies(&self, on: bool) {
        self.faults().settings.malformed_bodies = on.into();
    }

    /// Makes label generation take this much longer.
    pub fn set_label_delay(&self, delay: Duration) {
        self.faults().settings.label_delay = delay;
    }

    /// All fault switches at once.
    pub fn set_faults(&self, settings: FaultSettings) {
        let mut faults = self.faults();
        faults.settings = settings;
        faults.reset_windows();
    }

    /// The current fault switches.
    pub fn faults_now(&self) -> FaultSettings {
        self.faults().settings.clone()
    }

    /// Expires every bearer token issued so far (refresh tokens stay valid).
    pub fn expire_all_tokens(&self) {
        auth::expire_all_bearer_tokens(&mut self.world());
    }

    /// Invalidates every refresh token, so clients must log in again.
    pub fn revoke_refresh_tokens(&self) {
        auth::revoke_refresh_tokens(&mut self.world());
    }

    /// The lifetime of bearer tokens issued from now on (default 60 minutes of simulator time).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        let lifetime = SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::from_hours(1));
        self.world().token_lifetime = lifetime.max(SignedDuration::from_secs(1));
    }

    /// Requests to `/v1/` per route and principal since the start or the last reset.
    pub fn request_counts(&self) -> RequestCounts {
        self.faults().counts()
    }

    /// Starts counting requests afresh.
    pub fn reset_request_counts(&self) {
        self.faults().reset_counts();
    }

    /// The Optimize key that `PUT …/eta` expects in the `X-Optimize-Key` header.
    pub fn optimize_key(&self) -> String {
        self.world().optimize_key.clone()
    }

    /// Rebuilds the world from the seed: consignments, sessions and clock go back to the start;
    /// faults and request counts are cleared too.
    pub fn reset(&self) -> Result<(), SimError> {
        let world = self.shared.seed.build()?;
        let seed = world.seed;
        *self.world() = world;
        *self.faults() = FaultState::new(seed);
        Ok(())
    }

    /// A consignment as the admin API shows it (no visibility rule; events and attachments included).
    pub fn consignment_json(&self, consignment_id: u64) -> Option<serde_json::Value> {
        let world = self.world();
        let c = world.consignments.get(&consignment_id)?;
        Some(crate::api::render::consignment(&world, c, &crate::api::render::Include::all(), None))
    }

    /// The ids of consignments currently at a stage.
    pub fn consignments_at(&self, stage: Stage) -> Vec<u64> {
        self.world().consignments.values().filter(|c| c.status().code == stage.code()).map(|c| c.id).collect()
    }
}
