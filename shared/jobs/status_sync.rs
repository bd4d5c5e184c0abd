//! Status sync, Nexus → Qargo: every consignment the bridge follows (booked by us, or imported for
//! us) has its Nexus scans kept in Qargo's history per pallet barcode, with the stop effects they
//! imply for our depot role.
//!
//! - **What changed**: one delta listing per depot (`minLastUpdated` from the cursor, less the
//!   overlap; both networks of a PGD depot come in the same listing), then `GET …/events` for each
//!   changed consignment only. Nexus requests per run: list pages + one per changed consignment (+
//!   one per consignment carried over on the retry list, read again before its events).
//! - **Several at once**: consignments are independent, so a run works on up to
//!   `STATUS_SYNC_CONCURRENCY` of them at once (default 8; 1 is one after another), started in
//!   listing order. Within one consignment everything stays in order: its events in time order,
//!   so each pallet's scans reach Qargo in the order Nexus made them. Each consignment counts its
//!   own share of the [`StatusReport`]; the shares are added up at the end. A consignment is only
//!   started before the deadline and while no other one has found Nexus or Qargo unreachable;
//!   those not started stay for the next run (on the cursor's retry list, or, with the seen
//!   listing, not remembered as synced), those started finish.
//! - **Nexus's request budget**: each depot user's requests are paced (`NEXUS_REQUESTS_PER_MINUTE`,
//!   shared by every function instance; [`crate::pacing`]), and a 429 pauses all of that user's
//!   requests for its `Retry-After`. When the next turn is further away than a call waits, the run
//!   starts nothing more and leaves the rest for the next run, as at its deadline: not a failure,
//!   no 429 storm, and the report says so (`nexus_budget_spent`, `left_for_next_run`).
//! - **Lag**: the age of the newest complete view of Nexus: the run's own length when it finished
//!   its work, else counted from the start of the first run that left work (kept in the cursor).
//! - **History**: each scan becomes a `scan_barcode` question answer on the stop the scan concerns
//!   (`subco-status-update`), Qargo's handling-unit scan action: it keeps a history per barcode,
//!   which a free-text question answer would not. Exceptions (`ND…`, damaged, short, held,
//!   returned, cancelled) also get a `status_note` the planner sees. Unknown codes are recorded and
//!   logged, never dropped.
//! - **Stop effects** come from [`crate::rules::status_effects`]: a stop goes `AT_STOP` /
//!   `COMPLETED` only once every pallet of the consignment has reached that point, and at the time
//!   the last one did (events are applied in time order). The stop status goes right after the
//!   scan that reached it, in the same Qargo call. A status Qargo refuses while its stop takes the
//!   scans (the stop is already past it in Qargo, moved there by a planner or driver) is reported
//!   once and not sent again; it does not hold the scans back.
//! - **Batches**: a consignment's new updates go to Qargo in event order, up to
//!   `QARGO_UPDATE_BATCH` (default 25) in one `subco-status-update` call (`{updates: […]}`). A
//!   batch addresses one stop, and carries at most one scan per pallet and at most one stop
//!   status; the next update that would break one of these starts a new batch. Qargo requests per
//!   run: about one per changed consignment and stage its pallets passed (a consignment whose
//!   pallets all got one scan since the last run: one call, whatever its number of pallets).
//! - **Refusals**: Qargo handles each update of a call on its own and answers the errors of those it
//!   discarded (no or several matching stops, a cancelled stop, …) without saying which they were:
//!   its documented answer is `{errors: [{error_type, error_message}]}` (the simulator adds an
//!   `update_index`, which real Qargo does not promise, so the bridge does not read it). So:
//!   - as many errors as updates: each update was discarded and nothing is recorded. A stop Qargo
//!     cannot match discards its whole batch (a batch addresses one stop).
//!   - the call refused as a whole (`400`, `422`): nothing was applied; a batch of several updates
//!     is sent again one update at a time, which finds the refused one and repeats nothing.
//!   - fewer errors than updates: Qargo applied the others, and nothing says which. First the
//!     batch's stop status, if it has one, is sent again alone (Qargo setting a status its stop
//!     already has changes nothing): if it is refused again and that accounts for the errors (one
//!     per discarded update), every scan was applied. Otherwise the batch's scans are sent again
//!     one at a time: those refused again are left for later, those accepted are recorded — and
//!     Qargo holds them twice (counted in [`StatusReport::scans_sent_twice`], logged; with one scan
//!     per pallet per batch, a pallet's history shows it as the same scan twice in a row). A partly
//!     refused batch can so repeat up to `QARGO_UPDATE_BATCH` − 1 scans, and loses none.
//!
//!   A consignment with a refused update is left for a later run, from that update on (on the
//!   cursor's retry list; with the seen listing, in its `refused` set): nothing is lost. That run
//!   sends the update alone first, and nothing else of the consignment while Qargo refuses it, so a
//!   lasting refusal (a pallet Qargo does not know) repeats no other pallet's scans.
//! - **Once each**: the sync state records every applied event id and the statuses set. Before
//!   sending, a run takes a short lease on the consignment (a versioned save), so overlapping runs
//!   never both send. A batch's stop status is recorded before the call (Qargo may echo it through
//!   the visibility webhook while the call is open, and the export must know it as ours) and kept
//!   as *sending* until Qargo answers; after each answered batch the state is saved. **A crash
//!   repeats at most the batch in flight of each consignment being worked on** — so a run killed
//!   mid-way can repeat up to `STATUS_SYNC_CONCURRENCY` batches, each of at most
//!   `QARGO_UPDATE_BATCH` updates with at most one scan per pallet. Qargo's API can neither read
//!   scans back nor de-duplicate them (the simulator records a repeated scan twice), so a repeated
//!   batch's scans are in their pallets' histories twice, each right after itself; a stop status
//!   left *sending* is sent again first (Qargo setting a status the stop already has changes
//!   nothing). With `STATUS_SYNC_CONCURRENCY` = `QARGO_UPDATE_BATCH` = 1 a crash repeats at most
//!   the one update in flight, as before concurrency and batching.
//! - **Requests per run**, for c changed consignments: Nexus, the list pages + c events reads (+ one
//!   read per consignment carried over); Qargo, about one call per consignment and stage passed
//!   (see *Batches*), where one call per update was made before batching. Wall time: about
//!   c × (one Nexus read + its Qargo calls) ÷ `STATUS_SYNC_CONCURRENCY`, plus the listing.
//! - **Followed** are the consignments the bridge booked (their Qargo stop ids are in the sync state,
//!   recorded by the dispatch) and those other depots booked for us whose customer the import maps;
//!   imported orders' stops are addressed by their references (`NEXUS-<network>-<id>-P` / `-D`).
//! - No sync at all where both the collecting and the delivery depot are ours (loop avoidance).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{london, uk_time_with_offset as with_offset};
use crate::domain::{DepotCode, DepotRole, Network, NexusConsignmentId, ScanCode};
use crate::jobs::lookup::{network_of, stop_target};
use crate::jobs::seen_listing::{self, Fingerprints, Followed};
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::{Consignment, Event};
use crate::nexus::{NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::qargo::wire::WebhookError;
use crate::rules::status_effects::{StopKind, StopStatus, is_status_synced, scan_meaning, stop_status_reached};
use crate::store::{ConsignmentSync, CursorKey, SyncKey};
use crate::wiring::Bridge;

/// The job's name in cursor keys.
pub const JOB: &str = "status-sync";
/// How long a run holds a consignment while it sends its updates.
pub const SENDING_LEASE: SignedDuration = SignedDuration::from_secs(120);

/// Limits of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Stop starting new work after this instant (a Lambda keeps a reserve before its deadline).
    pub deadline: Option<Instant>,
}

impl SyncOptions {
    /// No deadline (the local bridge, tests).
    pub fn unbounded() -> SyncOptions {
        SyncOptions { deadline: None }
    }

    /// Finish within `within` from now.
    pub fn within(within: Duration) -> SyncOptions {
        SyncOptions { deadline: Some(Instant::now() + within) }
    }

    /// Whether the deadline has passed: start no new work.
    pub fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Consignments the listings returned (overlap included).
    pub listed: u32,
    /// Records Nexus listed that could not be read: each logged and left out.
    pub unreadable: u32,
    /// Consignments whose events were read.
    pub consignments_read: u32,
    /// Consignments listed again with nothing new since their events were last synced (the poll
    /// overlap lists each change twice): no events read.
    pub unchanged: u32,
    /// Scan events recorded in Qargo.
    pub events_applied: u32,
    /// Stop statuses set in Qargo.
    pub stop_statuses_set: u32,
    /// Exception notes sent.
    pub exceptions: u32,
    /// Scans with codes the table does not know (recorded, logged).
    pub unknown_codes: u32,
    /// Consignments read again from the retry list (one Nexus request each).
    pub retried: u32,
    /// Consignments left for a later run (Qargo discarded an update, or another run held them).
    pub retry_later: u32,
    /// Consignments not started because the run reached its deadline; they are on the cursor's
    /// retry list and the next run takes them first. Stopping for the deadline is not a failure.
    pub left_for_next_run: u32,
    /// Consignments skipped because both legs are ours or we play no part.
    pub not_synced: u32,
    /// Consignments with no Qargo order to update (not booked through the bridge, customer not
    /// mapped for import).
    pub not_followed: u32,
    /// Nexus requests made.
    pub nexus_requests: u32,
    /// Qargo webhook calls made.
    pub qargo_calls: u32,
    /// Whether a depot's Nexus request budget (`NEXUS_REQUESTS_PER_MINUTE`, or a 429's
    /// `Retry-After`) ran out during the run: what was left waits for the next run (its
    /// consignments are counted in `left_for_next_run` when they were known), not a failure.
    pub nexus_budget_spent: bool,
    /// Scans Qargo now holds twice: those of a partly refused batch that it had applied, sent
    /// again one at a time to find the refused one (its answer does not say which).
    pub scans_sent_twice: u32,
    /// Why consignments were left for later, one line each.
    pub problems: Vec<String>,
    /// The poll lag: how old the newest complete view of Nexus is at the end of the run, in
    /// seconds (the run's own length when every depot's listing completed; `None` otherwise).
    pub lag_seconds: Option<i64>,
}

impl StatusReport {
    /// Keeps the worst lag of the run's depots.
    fn note_lag(&mut self, lag: Option<i64>) {
        if let Some(lag) = lag {
            self.lag_seconds = Some(self.lag_seconds.map_or(lag, |worst| worst.max(lag)));
        }
    }

    /// Adds one consignment's share of a run (counted on its own while others ran) to the report.
    fn absorb(&mut self, part: StatusReport) {
        let StatusReport {
            listed,
            unreadable,
            consignments_read,
            unchanged,
            events_applied,
            stop_statuses_set,
            exceptions,
            unknown_codes,
            retried,
            retry_later,
            left_for_next_run,
            not_synced,
            not_followed,
            nexus_requests,
            qargo_calls,
            scans_sent_twice,
            nexus_budget_spent,
            problems,
            lag_seconds,
        } = part;
        self.listed += listed;
        self.unreadable += unreadable;
        self.consignments_read += consignments_read;
        self.unchanged += unchanged;
        self.events_applied += events_applied;
        self.stop_statuses_set += stop_statuses_set;
        self.exceptions += exceptions;
        self.unknown_codes += unknown_codes;
        self.retried += retried;
        self.retry_later += retry_later;
        self.left_for_next_run += left_for_next_run;
        self.not_synced += not_synced;
        self.not_followed += not_followed;
        self.nexus_requests += nexus_requests;
        self.qargo_calls += qargo_calls;
        self.scans_sent_twice += scans_sent_twice;
        self.nexus_budget_spent |= nexus_budget_spent;
        self.problems.extend(problems);
        self.note_lag(lag_seconds);
    }
}

/// A run that stopped early; the next run resumes where the cursor stands.
#[derive(Debug, thiserror::Error)]
#[error("status sync did not finish: {}", .reasons.join("; "))]
pub struct SyncFailed {
    /// What was done before.
    pub report: StatusReport,
    /// Why it stopped, one line per depot.
    pub reasons: Vec<String>,
}

/// The cursor's position: the `lastUpdated` read up to, and consignments to try again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Position {
    since: Option<DateTime>,
    #[serde(default)]
    retry: BTreeSet<(Network, i64)>,
    /// With the seen listing: how each followed consignment read when last synced.
    #[serde(default, skip_serializing_if = "Fingerprints::is_empty")]
    listed: Fingerprints,
    /// With the seen listing: the consignments whose last run stopped at an update Qargo refused
    /// (the delta listing has them on `retry`); the next run sends that update alone first.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    refused: BTreeSet<(Network, i64)>,
    /// When the first run whose work is not all done yet started (it left consignments for a later
    /// run: its deadline, Nexus's request budget, a failure): changes since then may not be in
    /// Qargo yet, so the lag is counted from it. `None` when the last run finished its work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    behind_since: Option<Timestamp>,
}

impl Position {
    /// Records how a run that started at `run_started` ended for the lag: `done` when it finished
    /// every consignment it had. Answers the lag to report (the age of the newest complete view of
    /// Nexus), `None` when the run failed.
    fn settle_lag(&mut self, run_started: Timestamp, now: Timestamp, done: bool, failed: bool) -> Option<i64> {
        let behind = if done { run_started } else { *self.behind_since.get_or_insert(run_started) };
        if done {
            self.behind_since = None;
        }
        (!failed).then(|| now.duration_since(behind).as_secs().max(0))
    }
}

/// Runs the import side of the status sync for every configured depot.
pub async fn sync_statuses(bridge: &Bridge, options: &SyncOptions) -> Result<StatusReport, SyncFailed> {
    let mut report = StatusReport::default();
    let mut reasons = Vec::new();
    for depot in &bridge.settings.depots {
        if let Err(reason) = sync_depot(bridge, options, &depot.code, &mut report).await {
            tracing::warn!(depot = %depot.code, %reason, "status sync stopped for the depot");
            reasons.push(format!("{}: {reason}", depot.code));
        }
    }
    tracing::info!(
        listed = report.listed,
        read = report.consignments_read,
        events = report.events_applied,
        statuses = report.stop_statuses_set,
        retry = report.retry_later,
        nexus_requests = report.nexus_requests,
        "status sync run"
    );
    if reasons.is_empty() { Ok(report) } else { Err(SyncFailed { report, reasons }) }
}

/// Why a depot's run stopped.
type Stop = String;

async fn sync_depot(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    report: &mut StatusReport,
) -> Result<(), Stop> {
    let nexus = bridge.nexus.for_depot(depot).ok_or_else(|| format!("no Nexus user for {depot} in the secret"))?;
    let key = CursorKey { job: JOB, depot: depot.clone(), network: depot.networks()[0] };
    let stored = bridge.cursors.read(&key).await.map_err(|err| err.to_string())?;
    let version = stored.as_ref().map(|c| c.version);
    let position: Position = match &stored {
        Some(cursor) => serde_json::from_str(&cursor.position).map_err(|err| {
            format!("the cursor {} is unreadable ({err}); delete it to start again", key.storage_key())
        })?,
        None => Position::default(),
    };
    let run_started = bridge.clock.now();
    let uk_now = run_started.to_zoned(london()).datetime();
    let left_before = report.left_for_next_run;
    let (mut next, stopped) = if seen_listing::in_use(bridge) {
        match sync_depot_seen(bridge, options, depot, &nexus, position, report).await {
            Ok(next) => (next, None),
            Err((next, reason)) => (next, Some(reason)),
        }
    } else {
        sync_depot_delta(bridge, options, &nexus, position, uk_now, report).await
    };
    // Nexus's request budget ran out (the listing's or a consignment's call found it spent): what
    // is left waits for the next run, which is not a failure.
    let budget_spent = nexus.budget_spent();
    report.nexus_budget_spent |= budget_spent;
    let stopped = match stopped {
        Some(reason) if budget_spent => {
            tracing::info!(depot = %depot, %reason, "status sync left the rest for the next run");
            None
        }
        stopped => stopped,
    };
    // Done: everything Nexus changed before this run started is in Qargo now, and the view is as
    // old as the run. Work left for later: as old as the first run that left some. A failing poll
    // stops reporting, which the alarm treats as lag.
    let done = stopped.is_none() && report.left_for_next_run == left_before && !budget_spent;
    let lag = next.settle_lag(run_started, bridge.clock.now(), done, stopped.is_some());
    report.note_lag(lag);
    let encoded = serde_json::to_string(&next).map_err(|err| err.to_string())?;
    let saved = bridge
        .cursors
        .compare_and_set(&key, version, &encoded, bridge.clock.now())
        .await
        .map_err(|err| err.to_string())?;
    if !saved {
        tracing::info!(depot = %depot, "another run moved the status cursor; it carries on from there");
    }
    stopped.map_or(Ok(()), Err)
}

/// With the delta listing: the consignments changed since the cursor (with the poll overlap), and
/// those on its retry list. Answers the cursor's next position, with the reason when the run
/// stopped early (a listing that failed leaves the position as it was).
async fn sync_depot_delta(
    bridge: &Bridge,
    options: &SyncOptions,
    nexus: &NexusClient,
    position: Position,
    uk_now: DateTime,
    report: &mut StatusReport,
) -> (Position, Option<Stop>) {
    let window_start = match position.since {
        Some(since) => since.checked_sub(bridge.settings.poll_overlap).unwrap_or(since),
        None => uk_now.checked_sub(bridge.settings.import_lookback).unwrap_or(uk_now),
    };
    let mut changed: BTreeMap<(Network, i64), Consignment> = BTreeMap::new();
    let mut read_up_to = position.since;
    let listed = list_changed(bridge, nexus, window_start, report, |consignment| {
        read_up_to = read_up_to.max(crate::jobs::lookup::cursor_time(consignment.last_updated, uk_now));
        if let Some(network) = network_of(consignment) {
            changed.insert((network, consignment.consignment_id), consignment.clone());
        }
    })
    .await;
    if let Err(reason) = listed {
        return (position, Some(reason));
    }
    // The retry list's consignments the listing did not bring again are read in their turn.
    let mut work: BTreeMap<(Network, i64), Option<Consignment>> =
        changed.into_iter().map(|(key, consignment)| (key, Some(consignment))).collect();
    for key in &position.retry {
        work.entry(*key).or_insert(None);
    }

    let run = DepotRun::new(bridge, options, nexus);
    let retried = &position.retry;
    let turns = bounded(bridge.settings.status_sync_concurrency, work, |(key, listed)| {
        // One left from an earlier run may have stopped at a refused update: sent alone first.
        let probe = retried.contains(&key);
        run.sync_listed(key, listed, probe).map(move |turn| (key, turn)).boxed()
    })
    .await;
    let mut retry = BTreeSet::new();
    for (key, turn) in turns {
        report.absorb(turn.part);
        if turn.again {
            retry.insert(key);
        }
    }
    let next = Position { since: read_up_to, retry, behind_since: position.behind_since, ..Position::default() };
    (next, run.stopped.into_inner())
}

/// With the seen listing ([`seen_listing`]): every consignment of the window the depot may see;
/// each whose record changed since it was last synced, and that the bridge follows (booked by us, or
/// imported for us), is synced from its status as listed. Answers the cursor's next position, with
/// the reason when the run stopped early.
async fn sync_depot_seen(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    nexus: &NexusClient,
    position: Position,
    report: &mut StatusReport,
) -> Result<Position, (Position, Stop)> {
    let mut next = position;
    let (listing, followed) = match seen_listing::list_followed(bridge, depot, nexus).await {
        Ok(listed) => listed,
        Err(reason) => return Err((next, reason)),
    };
    report.nexus_requests += listing.requests;
    report.listed += listing.consignments.len() as u32;
    report.unreadable += listing.skipped as u32;
    let listed: BTreeSet<i64> = listing.consignments.iter().map(|c| c.consignment_id).collect();
    // By index: a stream of borrowed records would keep the run's future from being `Send`.
    let mut fresh: Vec<usize> = Vec::new();
    for (index, record) in listing.consignments.iter().enumerate() {
        if next.listed.unchanged(None, record) {
            report.unchanged += 1;
        } else {
            fresh.push(index);
        }
    }
    let run = DepotRun::new(bridge, options, nexus);
    let records = &listing.consignments;
    let refused = &next.refused;
    let turns = bounded(bridge.settings.status_sync_concurrency, fresh.iter().copied(), |index| {
        run.sync_seen(depot, &followed, refused, &records[index]).map(move |turn| (index, turn)).boxed()
    })
    .await;
    for (index, turn) in turns {
        report.absorb(turn.part);
        if !turn.again {
            next.listed.remember(None, &records[index]);
        }
        match turn.refused {
            Some((key, true)) => next.refused.insert(key),
            Some((key, false)) => next.refused.remove(&key),
            None => false,
        };
    }
    let stopped = run.stopped.into_inner();
    match stopped {
        Some(reason) => Err((next, reason)),
        None => {
            if listing.skipped == 0 && report.left_for_next_run == 0 {
                next.listed.keep_only(&listed);
                next.refused.retain(|(_, id)| listed.contains(id));
            }
            Ok(next)
        }
    }
}

/// Runs `work` on every item, at most `limit` at once, starting them in the items' order; answers
/// the results in that order. All within the caller's task: a run that is dropped (a Lambda
/// timeout, a crash) drops every piece of work with it. Each piece is boxed as a `Send` future
/// where it is made, which keeps the run's own future `Send` (the compiler cannot prove it through
/// the borrowed, unboxed futures of a stream).
async fn bounded<'f, T, R>(
    limit: usize,
    items: impl IntoIterator<Item = T>,
    mut work: impl FnMut(T) -> BoxFuture<'f, R>,
) -> Vec<R> {
    let mut done: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
        .map(move |(index, item)| work(item).map(move |result| (index, result)))
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// How one consignment's turn in a run ended.
struct Turn {
    /// Whether the next run looks at it again (the delta listing: on the retry list; the seen
    /// listing: not remembered as synced).
    again: bool,
    /// With the seen listing, once synced: its key, and whether it stopped at an update Qargo
    /// refused.
    refused: Option<((Network, i64), bool)>,
    /// Its share of the report.
    part: StatusReport,
}

impl Turn {
    fn new(again: bool, part: StatusReport) -> Turn {
        Turn { again, refused: None, part }
    }
}

/// What the consignments of one depot's run share while they are worked on at once.
struct DepotRun<'a> {
    bridge: &'a Bridge,
    options: &'a SyncOptions,
    nexus: &'a NexusClient,
    ours: BTreeSet<&'a DepotCode>,
    /// Why the run stopped starting consignments (Nexus or Qargo unreachable): the first reason.
    stopped: OnceLock<Stop>,
}

impl<'a> DepotRun<'a> {
    fn new(bridge: &'a Bridge, options: &'a SyncOptions, nexus: &'a NexusClient) -> DepotRun<'a> {
        let ours = bridge.settings.depots.iter().map(|d| &d.code).collect();
        DepotRun { bridge, options, nexus, ours, stopped: OnceLock::new() }
    }

    /// Whether a consignment may start now: not once the run has stopped, nor past the deadline
    /// (counted in `part` as left for the next run).
    fn may_start(&self, part: &mut StatusReport) -> bool {
        if self.stopped.get().is_some() {
            return false;
        }
        if self.options.out_of_time() || self.nexus.budget_spent() {
            part.left_for_next_run += 1;
            return false;
        }
        true
    }

    /// A consignment that could not finish: Nexus's request budget ran out (left for the next
    /// run, like the deadline; not a failure), or Nexus or Qargo is unavailable (the run stops).
    fn could_not_finish(&self, reason: Stop, part: &mut StatusReport) {
        if self.nexus.budget_spent() {
            part.left_for_next_run += 1;
        } else {
            self.stop(reason);
        }
    }

    /// Stops the run from starting more consignments; the first reason is the one reported.
    fn stop(&self, reason: Stop) {
        let _ = self.stopped.set(reason);
    }

    /// One consignment of the delta listing (`listed`), or of the retry list (`None`: read first);
    /// `probe`: its first update is sent alone (it may be one Qargo refused last run).
    async fn sync_listed(&self, (network, id): (Network, i64), listed: Option<Consignment>, probe: bool) -> Turn {
        let mut part = StatusReport::default();
        if !self.may_start(&mut part) {
            return Turn::new(true, part);
        }
        let consignment = match listed {
            Some(consignment) => consignment,
            None => {
                part.nexus_requests += 1;
                part.retried += 1;
                match self.nexus.consignment(NexusConsignmentId(id), &[]).await {
                    Ok(consignment) => consignment,
                    Err(NexusError::NotFound { .. }) => return Turn::new(false, part),
                    Err(err) => {
                        self.could_not_finish(format!("Nexus: {err}"), &mut part);
                        return Turn::new(true, part);
                    }
                }
            }
        };
        let roles = roles_of(&consignment, &self.ours);
        if !is_status_synced(&roles) {
            part.not_synced += 1;
            return Turn::new(false, part);
        }
        let synced = sync_consignment(self.bridge, self.nexus, network, &consignment, &roles, probe, &mut part).await;
        let again = match synced {
            Ok(Outcome::Done) => false,
            Ok(Outcome::Later(reason)) if is_finished(&consignment) => {
                // Finished on Nexus and still not matched in Qargo (e.g. the import skipped it as
                // already delivered): nothing more will arrive, so it is reported once and left.
                part.not_followed += 1;
                part.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
                false
            }
            Ok(Outcome::Later(reason)) => {
                part.retry_later += 1;
                part.problems.push(format!("{network} {id}: {reason}"));
                true
            }
            Err(reason) => {
                // Keep this and the ones not started for the next run.
                self.could_not_finish(reason, &mut part);
                true
            }
        };
        Turn::new(again, part)
    }

    /// One changed record of the seen listing; `refused`: the consignments whose last run stopped
    /// at an update Qargo refused.
    async fn sync_seen(
        &self,
        depot: &DepotCode,
        followed: &Followed,
        refused: &BTreeSet<(Network, i64)>,
        record: &Consignment,
    ) -> Turn {
        let mut part = StatusReport::default();
        if !self.may_start(&mut part) {
            return Turn::new(true, part);
        }
        let whose = match followed.whose(self.bridge, depot, record.consignment_id).await {
            Ok(Some(whose)) => whose,
            // Not (yet) ours to follow: looked at again on the next run.
            Ok(None) => return Turn::new(true, part),
            Err(reason) => {
                self.stop(reason);
                return Turn::new(true, part);
            }
        };
        let mut consignment = record.clone();
        seen_listing::fill(&mut consignment, depot, &whose);
        let roles = roles_of(&consignment, &self.ours);
        if !is_status_synced(&roles) {
            part.not_synced += 1;
            return Turn::new(false, part);
        }
        let network = whose.network();
        let id = record.consignment_id;
        let key = (network, id);
        let probe = refused.contains(&key);
        let synced = sync_consignment(self.bridge, self.nexus, network, &consignment, &roles, probe, &mut part).await;
        let (again, stopped_at_refusal) = match synced {
            Ok(Outcome::Done) => (false, false),
            Ok(Outcome::Later(reason)) if is_finished(&consignment) => {
                part.not_followed += 1;
                part.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
                (false, false)
            }
            // Not remembered: the next listing brings it again.
            Ok(Outcome::Later(reason)) => {
                part.retry_later += 1;
                part.problems.push(format!("{network} {id}: {reason}"));
                (true, true)
            }
            Err(reason) => {
                self.could_not_finish(reason, &mut part);
                return Turn::new(true, part);
            }
        };
        Turn { again, refused: Some((key, stopped_at_refusal)), part }
    }
}

/// Reads the consignments changed since `since`, page by page.
async fn list_changed(
    bridge: &Bridge,
    nexus: &NexusClient,
    since: DateTime,
    report: &mut StatusReport,
    mut each: impl FnMut(&Consignment),
) -> Result<(), Stop> {
    let mut pages = nexus.changed_since(since, bridge.settings.nexus_list_page_size());
    while let Some(page) = pages.next_page().await.map_err(|err| format!("Nexus: {err}"))? {
        report.nexus_requests += 1;
        report.listed += page.len() as u32;
        page.iter().for_each(&mut each);
    }
    report.unreadable += pages.skipped() as u32;
    Ok(())
}

enum Outcome {
    Done,
    Later(String),
}

/// Sends the new events of one consignment to Qargo, in time order, with the stop effects, in
/// batches (see the module docs); `probe`: the first update goes alone (see [`Position::refused`]).
async fn sync_consignment(
    bridge: &Bridge,
    nexus: &NexusClient,
    network: Network,
    consignment: &Consignment,
    roles: &[DepotRole],
    probe: bool,
    report: &mut StatusReport,
) -> Result<Outcome, Stop> {
    let id = NexusConsignmentId(consignment.consignment_id);
    let key = SyncKey { network, nexus_consignment_id: id };
    let state = bridge.sync_state.load(&key).await.map_err(|err| err.to_string())?.unwrap_or_default();
    let targets = match (
        stop_target(bridge, consignment, &state, roles, StopKind::Pickup),
        stop_target(bridge, consignment, &state, roles, StopKind::Delivery),
    ) {
        (Some(pickup), Some(delivery)) => StopTargets { pickup, delivery },
        _ => {
            report.not_followed += 1;
            return Ok(Outcome::Done);
        }
    };
    let now = bridge.clock.now();
    if state.sending_until.is_some_and(|until| until > now) {
        return Ok(Outcome::Later("another run is sending its updates".into()));
    }
    if let (Some(listed), Some(synced)) = (consignment.last_updated, state.events_synced_as_of)
        && listed <= synced
        && state.stop_statuses_sending.is_empty()
    {
        report.unchanged += 1;
        return Ok(Outcome::Done);
    }
    let by_status = !bridge.settings.nexus_capabilities.has(Capability::EventsRead);
    let mut events = if by_status {
        status_events(consignment, now.to_zoned(london()).datetime())
    } else {
        report.nexus_requests += 1;
        report.consignments_read += 1;
        nexus.events(id).await.map_err(|err| format!("Nexus: {err}"))?
    };
    events.sort_by_key(|e| (e.event_date_time, e.event_id));
    if events.iter().all(|e| state.applied_event_ids.contains(&e.event_id)) && state.stop_statuses_sending.is_empty() {
        // Nothing new; remembered so that the next listing of the same change reads nothing (a
        // lost race with another writer only means one more read later).
        if consignment.last_updated.is_some() && state.events_synced_as_of != consignment.last_updated {
            let state = ConsignmentSync { events_synced_as_of: consignment.last_updated, ..state };
            bridge.sync_state.save(&key, &state).await.map_err(|err| err.to_string())?;
        }
        return Ok(Outcome::Done);
    }
    // Take the consignment for this run.
    let mut state = ConsignmentSync { sending_until: Some(now + SENDING_LEASE), ..state };
    if !bridge.sync_state.save(&key, &state).await.map_err(|err| err.to_string())? {
        return Ok(Outcome::Later("another run took it first".into()));
    }
    state.version += 1;

    // Statuses an earlier run recorded but died before Qargo confirmed: sent again first.
    for (stop, update) in state.stop_statuses_sending.clone() {
        match send(bridge, report, &update).await? {
            Ok(()) => report.stop_statuses_set += 1,
            Err(reason) => {
                tracing::warn!(consignment = id.0, %stop, %reason, "Qargo discarded a stop status sent again");
                state.stop_statuses_set.remove(&stop);
            }
        }
        state.stop_statuses_sending.remove(&stop);
        if !save_progress(bridge, &key, &mut state).await? {
            return Ok(Outcome::Later("another run took it over".into()));
        }
    }

    let mut barcodes: Vec<String> = consignment.pallets.iter().map(|p| p.barcode.clone()).collect();
    if by_status && barcodes.is_empty() {
        // No pallets in the read model: the consignment's one status stands for all its pallets.
        barcodes.push(WHOLE_CONSIGNMENT.to_owned());
    }
    // Every update to send, in order: each new event's scan, each followed by the stop statuses
    // reached with it (as if every update before it is accepted; a refusal stops the run there).
    let mut codes_so_far: BTreeMap<String, Vec<ScanCode>> = barcodes.iter().map(|b| (b.clone(), Vec::new())).collect();
    let mut statuses = state.stop_statuses_set.clone();
    let mut updates = Vec::new();
    for event in &events {
        let code: ScanCode = event.code.parse().unwrap_or(ScanCode::Unrecognised(event.code.clone()));
        match &event.barcode {
            Some(barcode) => codes_so_far.entry(barcode.clone()).or_default().push(code.clone()),
            None if by_status => codes_so_far.entry(WHOLE_CONSIGNMENT.to_owned()).or_default().push(code.clone()),
            None => {}
        }
        if state.applied_event_ids.contains(&event.event_id) {
            continue;
        }
        let meaning = scan_meaning(&code, roles);
        let (body, exception) = scan_update(event, &code, roles, &targets);
        let scan = Scan {
            event_id: event.event_id,
            barcode: event.barcode.clone(),
            code: event.code.clone(),
            exception,
            known: meaning.known,
        };
        updates.push(Update { body, stop: meaning.stop, carries: Carries::Scan(scan) });
        // Stop effects reached with this event, once every pallet is there.
        for stop in [StopKind::Pickup, StopKind::Delivery] {
            let Some(reached) = stop_status_reached(stop, codes_so_far.values(), roles) else { continue };
            let already: Option<StopStatus> = statuses.get(stop.code()).and_then(|status| status.parse().ok());
            if already.is_some_and(|set| set >= reached) {
                continue;
            }
            statuses.insert(stop.code().to_owned(), reached.code().to_owned());
            let body = json!({
                "event_time": with_offset(event.event_date_time),
                "stop": targets.stop(stop).with("status", json!(reached.code())),
            });
            updates.push(Update { body, stop, carries: Carries::Status(reached) });
        }
    }
    // A consignment whose last run stopped at a refused update starts with that update alone: if
    // Qargo refuses it again, nothing else is sent (and so nothing repeated) until it passes.
    let mut calls = Vec::new();
    if probe && updates.len() > 1 {
        calls.push(vec![updates.remove(0)]);
    }
    calls.extend(batches(updates, bridge.settings.qargo_update_batch));
    let who = format!("{network} {}", id.0);
    let mut took = BTreeSet::new();
    let mut outcome = Outcome::Done;
    for batch in calls {
        match send_batch(bridge, &key, &mut state, &batch, (&who, &mut took), report).await? {
            Sent::Accepted => {}
            Sent::Refused(reason) => {
                outcome = Outcome::Later(reason);
                break;
            }
            Sent::TakenOver => return Ok(Outcome::Later("another run took it over".into())),
        }
    }
    state.sending_until = None;
    if matches!(outcome, Outcome::Done) {
        state.events_synced_as_of = consignment.last_updated;
    }
    save_progress(bridge, &key, &mut state).await?;
    Ok(outcome)
}

/// The key that stands for every pallet when the read model lists none.
const WHOLE_CONSIGNMENT: &str = "*";

/// Without an events endpoint (capability `events-read` off): the scans the consignment's one
/// status implies (`consignmentStatuses`, seen in the read model), the same for every pallet. A
/// status past collection also implies the collection. Each synthetic event's id is negative and
/// stable per status and pallet, so a status is applied once however often it is listed; statuses
/// the consignment passed between two runs are not seen (the cost of polling a status, not events).
fn status_events(consignment: &Consignment, now: DateTime) -> Vec<Event> {
    let Some(status) = crate::jobs::lookup::consignment_status(consignment) else { return Vec::new() };
    let own = match status.code() {
        "COL" => "POC",
        "ACD" => "ARRC",
        "THB" => "SCOT",
        "AHB" => "ARRH",
        "DHB" => "DEPH",
        "ADD" => "ARRD",
        "HLD" => "HIND",
        "OFD" => "SCDV",
        "DEL" => "EPOD",
        "DLX" => "DELD",
        "NDL" => "NDL",
        "RTN" => "RTN",
        "CAN" => "CANC",
        _ => return Vec::new(),
    };
    let at = consignment.last_updated.unwrap_or(now);
    let delivered_at = consignment.del_date_time.filter(|_| matches!(own, "EPOD" | "DELD")).unwrap_or(at);
    let mut codes: Vec<(&str, i64, DateTime)> = Vec::new();
    if status.id() > 30 && own != "CANC" {
        codes.push(("POC", 30, consignment.col_date.map_or(at, |date| date.at(0, 0, 0, 0)).min(at)));
    }
    codes.push((own, i64::from(status.id()), delivered_at));
    let pallets: Vec<Option<String>> = if consignment.pallets.is_empty() {
        vec![None]
    } else {
        consignment.pallets.iter().map(|p| Some(p.barcode.clone())).collect()
    };
    let mut events = Vec::new();
    for (code, status_id, at) in codes {
        for (index, barcode) in pallets.iter().enumerate() {
            events.push(Event {
                event_id: -(status_id * 100 + index as i64 + 1),
                pallet_id: None,
                barcode: barcode.clone(),
                code: code.to_owned(),
                description: Some(format!("Nexus status {}", status.name())),
                depot_code: None,
                event_date_time: at,
                notes: None,
                source: Some("STATUS".into()),
            });
        }
    }
    events
}

/// Saves the state after an accepted update; false when another writer holds it now.
async fn save_progress(bridge: &Bridge, key: &SyncKey, state: &mut ConsignmentSync) -> Result<bool, Stop> {
    let saved = bridge.sync_state.save(key, state).await.map_err(|err| err.to_string())?;
    if saved {
        state.version += 1;
    }
    Ok(saved)
}

/// One update to send to Qargo.
struct Update {
    /// The update, as `subco-status-update` takes it.
    body: Value,
    /// The stop it addresses.
    stop: StopKind,
    carries: Carries,
}

/// What an update records.
enum Carries {
    /// A Nexus event (a pallet's scan, or a consignment-level event's note).
    Scan(Scan),
    /// The status its stop reached with the scan before it.
    Status(StopStatus),
}

/// The event an update records.
struct Scan {
    event_id: i64,
    barcode: Option<String>,
    code: String,
    exception: bool,
    known: bool,
}

/// Cuts `updates` into Qargo calls, keeping their order: at most `size` updates each, all
/// addressing one stop (a stop Qargo cannot match discards the whole call, never part of it), at
/// most one scan per pallet (a repeated call shows in a pallet's history as one scan twice in a
/// row, never as a step back) and at most one stop status (the one the state keeps as sending).
fn batches(updates: Vec<Update>, size: usize) -> Vec<Vec<Update>> {
    let mut batches: Vec<Vec<Update>> = Vec::new();
    for update in updates {
        let fits = |batch: &Vec<Update>| {
            batch.len() < size.max(1)
                && batch.iter().all(|other| other.stop == update.stop)
                && match &update.carries {
                    Carries::Scan(Scan { barcode: Some(barcode), .. }) => !batch.iter().any(
                        |other| matches!(&other.carries, Carries::Scan(Scan { barcode: Some(b), .. }) if b == barcode),
                    ),
                    Carries::Scan(Scan { barcode: None, .. }) => true,
                    Carries::Status(_) => !batch.iter().any(|other| matches!(other.carries, Carries::Status(_))),
                }
        };
        match batches.last_mut() {
            Some(batch) if fits(batch) => batch.push(update),
            _ => batches.push(vec![update]),
        }
    }
    batches
}

/// How a batch went.
enum Sent {
    /// Every update applied and recorded.
    Accepted,
    /// Some update refused (the reason of the first); those applied are recorded.
    Refused(String),
    /// Another run holds the consignment now.
    TakenOver,
}

/// Sends one batch and records in the state what Qargo applied, saving it before the call when the
/// batch sets a stop status, and after. `who` names the consignment in problems; `took` holds the
/// stops that took an update in this run so far.
async fn send_batch(
    bridge: &Bridge,
    key: &SyncKey,
    state: &mut ConsignmentSync,
    batch: &[Update],
    (who, took): (&str, &mut BTreeSet<StopKind>),
    report: &mut StatusReport,
) -> Result<Sent, Stop> {
    // Stop statuses are recorded before they are sent: Qargo may echo the change back through the
    // visibility webhook while the call is still open, and the export must know it as ours. Kept as
    // sending until Qargo answers, so a run that dies in between sends them again.
    let mut before: Vec<(&'static str, Option<String>)> = Vec::new();
    for update in batch {
        if let Carries::Status(status) = update.carries {
            let stop = update.stop.code();
            before.push((stop, state.stop_statuses_set.insert(stop.to_owned(), status.code().to_owned())));
            state.stop_statuses_sending.insert(stop.to_owned(), update.body.clone());
        }
    }
    if !before.is_empty() && !save_progress(bridge, key, state).await? {
        return Ok(Sent::TakenOver);
    }
    for update in batch {
        if let Carries::Scan(scan) = &update.carries
            && !scan.known
        {
            tracing::warn!(code = %scan.code, event = scan.event_id, "unknown Nexus scan code: recorded in Qargo's history, no stop effect");
            report.unknown_codes += 1;
        }
    }
    let verdicts = deliver(bridge, report, batch).await?;
    took.extend(batch.iter().zip(&verdicts).filter(|(_, verdict)| verdict.is_ok()).map(|(update, _)| update.stop));
    let mut refused = None;
    let mut confirmed: BTreeMap<&'static str, StopStatus> = BTreeMap::new();
    for (update, verdict) in batch.iter().zip(verdicts) {
        match (&update.carries, verdict) {
            // The stop takes updates, but not this status: Qargo has it past that point (a planner
            // or driver moved it). Sending it again would not help, and holding the scans back for
            // it would lose them once Nexus finishes the consignment: reported once, kept as
            // reached so that it is not sent again, and the scans go on.
            (Carries::Status(status), Err(reason)) if took.contains(&update.stop) => {
                tracing::warn!(consignment = who, stop = update.stop.code(), %reason, "Qargo refused a stop status");
                report.problems.push(format!("{who}: {reason} (the stop status only; the stop stays as Qargo has it)"));
                confirmed.insert(update.stop.code(), *status);
            }
            (_, Err(reason)) => {
                refused.get_or_insert(reason);
            }
            (Carries::Scan(scan), Ok(())) => {
                state.applied_event_ids.insert(scan.event_id);
                report.events_applied += 1;
                report.exceptions += u32::from(scan.exception);
            }
            (Carries::Status(status), Ok(())) => {
                confirmed.insert(update.stop.code(), *status);
                report.stop_statuses_set += 1;
            }
        }
    }
    for (stop, previous) in before {
        state.stop_statuses_sending.remove(stop);
        match (confirmed.get(stop), previous) {
            (Some(status), _) => state.stop_statuses_set.insert(stop.to_owned(), status.code().to_owned()),
            (None, Some(previous)) => state.stop_statuses_set.insert(stop.to_owned(), previous),
            (None, None) => state.stop_statuses_set.remove(stop),
        };
    }
    if !save_progress(bridge, key, state).await? {
        return Ok(Sent::TakenOver);
    }
    Ok(refused.map_or(Sent::Accepted, Sent::Refused))
}

/// Sends a batch in one call; answers each update's fate in order: `Ok` applied, `Err(reason)`
/// refused (see the module docs, *Refusals*). `Err` when Qargo could not be reached.
async fn deliver(
    bridge: &Bridge,
    report: &mut StatusReport,
    batch: &[Update],
) -> Result<Vec<Result<(), String>>, Stop> {
    let bodies: Vec<&Value> = batch.iter().map(|update| &update.body).collect();
    let errors = match post(bridge, report, &bodies).await? {
        Answer::Applied => return Ok(vec![Ok(()); batch.len()]),
        // Every update discarded (one error each): nothing was applied.
        Answer::Discarded(errors) if errors.len() >= batch.len() => {
            return Ok(vec![Err(discarded(&errors)); batch.len()]);
        }
        Answer::Refused(reason) if batch.len() == 1 => return Ok(vec![Err(reason)]),
        // Refused whole: nothing was applied, so sending each again repeats nothing.
        Answer::Refused(_) => {
            let mut verdicts = Vec::with_capacity(batch.len());
            for body in bodies {
                verdicts.push(send(bridge, report, body).await?);
            }
            return Ok(verdicts);
        }
        Answer::Discarded(errors) => errors,
    };
    // Some discarded, the rest applied, and the answer does not say which. First the batch's stop
    // status again, alone (Qargo setting a status a stop already has changes nothing): when it is
    // refused again and that accounts for every error, the scans were all applied.
    tracing::warn!(
        updates = batch.len(),
        discarded = errors.len(),
        first = %discarded(&errors),
        "Qargo discarded part of a batch without saying which updates: finding them one at a time"
    );
    let mut verdicts: Vec<Option<Result<(), String>>> = vec![None; batch.len()];
    let mut refused_again = 0;
    for (verdict, update) in verdicts.iter_mut().zip(batch) {
        if matches!(update.carries, Carries::Status(_)) {
            let again = send(bridge, report, &update.body).await?;
            refused_again += usize::from(again.is_err());
            *verdict = Some(again);
        }
    }
    let scans_applied = refused_again >= errors.len();
    for (verdict, update) in verdicts.iter_mut().zip(batch) {
        if verdict.is_some() {
            continue;
        }
        *verdict = Some(if scans_applied {
            Ok(())
        } else {
            // Sent again to learn whether Qargo takes it: if it does, it had taken it in the batch.
            let again = send(bridge, report, &update.body).await?;
            report.scans_sent_twice += u32::from(again.is_ok());
            again
        });
    }
    Ok(verdicts.into_iter().flatten().collect())
}

/// Qargo's answer to a status-update call.
enum Answer {
    /// Every update applied.
    Applied,
    /// Qargo discarded some updates (or all): its errors, one per discarded update, not saying
    /// which.
    Discarded(Vec<WebhookError>),
    /// The call was refused as a whole (`400`, `422`, …): nothing applied.
    Refused(String),
}

/// The reason of a discarded update, from Qargo's first error.
fn discarded(errors: &[WebhookError]) -> String {
    match errors.first() {
        Some(error) => format!("Qargo discarded the update: {}: {}", error.error_type, error.error_message),
        None => "Qargo discarded the update".to_owned(),
    }
}

/// One `subco-status-update` call with `updates`; `Err` when Qargo could not be reached.
async fn post(bridge: &Bridge, report: &mut StatusReport, updates: &[&Value]) -> Result<Answer, Stop> {
    report.qargo_calls += 1;
    match bridge.qargo.subco_status_update(&json!({ "updates": updates })).await {
        Ok(answer) if answer.errors.is_empty() => Ok(Answer::Applied),
        Ok(answer) => Ok(Answer::Discarded(answer.errors)),
        Err(QargoError::WebhookRefused { errors }) => Ok(Answer::Discarded(errors)),
        Err(err @ (QargoError::Unavailable { .. } | QargoError::Malformed(_) | QargoError::Unauthorized { .. })) => {
            Err(format!("Qargo: {err}"))
        }
        Err(refused) => Ok(Answer::Refused(format!("Qargo refused the update: {refused}"))),
    }
}

/// One Qargo status update alone; `Ok(Err(reason))` when Qargo discarded it (worth a later
/// retry), `Err` when Qargo could not be reached.
async fn send(bridge: &Bridge, report: &mut StatusReport, update: &Value) -> Result<Result<(), String>, Stop> {
    Ok(match post(bridge, report, &[update]).await? {
        Answer::Applied => Ok(()),
        Answer::Discarded(errors) => Err(discarded(&errors)),
        Answer::Refused(reason) => Err(reason),
    })
}

/// The update recording one scan (and its exception note), and whether it carried one.
fn scan_update(event: &Event, code: &ScanCode, roles: &[DepotRole], targets: &StopTargets) -> (Value, bool) {
    let meaning = scan_meaning(code, roles);
    let at = with_offset(event.event_date_time);
    let mut answers = serde_json::Map::new();
    if let Some(barcode) = &event.barcode {
        // The Nexus scan code leads the description: Qargo's scan has no field of its own for it.
        let description = match &event.description {
            Some(text) => format!("{} {text}", event.code),
            None => event.code.clone(),
        };
        answers.insert(
            "scan_barcode".into(),
            // Qargo's `scan_barcode` answer: an array of scans, the barcode a plain string.
            json!([{
                "barcode": barcode,
                "status": meaning.handling_unit.code(),
                "timestamp": at,
                "stop_location_code": event.depot_code,
                "description": description,
            }]),
        );
    }
    let mut note = meaning.exception.clone();
    if event.barcode.is_none() && note.is_none() {
        // A consignment-level event: the planner sees it, as there is no pallet to record it on.
        note = Some(format!("Nexus {}: {}", event.code, event.description.clone().unwrap_or_default()));
    }
    if let Some(text) = &note {
        let detail = event.notes.as_deref().map(|n| format!(" — {n}")).unwrap_or_default();
        answers.insert("status_note".into(), json!(format!("{text}{detail}")));
    }
    let update =
        json!({"event_time": at, "stop": targets.stop(meaning.stop).with("question_answers", Value::Object(answers))});
    (update, meaning.exception.is_some())
}

/// How the consignment's two stops are addressed in Qargo.
struct StopTargets {
    pickup: Value,
    delivery: Value,
}

impl StopTargets {
    fn stop(&self, kind: StopKind) -> StopBody {
        StopBody(match kind {
            StopKind::Pickup => self.pickup.clone(),
            StopKind::Delivery => self.delivery.clone(),
        })
    }
}

/// A `stop` object being built.
struct StopBody(Value);

impl StopBody {
    fn with(mut self, key: &str, value: Value) -> Value {
        if let Value::Object(map) = &mut self.0 {
            map.insert(key.to_owned(), value);
        }
        self.0
    }
}

/// Whether the consignment will not move again on Nexus (delivered, returned, cancelled).
fn is_finished(consignment: &Consignment) -> bool {
    crate::jobs::lookup::consignment_status(consignment).is_some_and(|status| status.is_terminal())
}

/// Our roles on a consignment.
pub fn roles_of(consignment: &Consignment, ours: &BTreeSet<&DepotCode>) -> Vec<DepotRole> {
    let is_ours = |code: &Option<String>| {
        code.as_deref().is_some_and(|code| ours.iter().any(|d| d.as_str().eq_ignore_ascii_case(code)))
    };
    let mut roles = Vec::new();
    if is_ours(&consignment.requesting_depot_code) {
        roles.push(DepotRole::Requesting);
    }
    if is_ours(&consignment.collecting_depot_code) {
        roles.push(DepotRole::Collecting);
    }
    if is_ours(&consignment.delivery_depot_code) {
        roles.push(DepotRole::Delivery);
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(event_id: i64, barcode: &str, stop: StopKind) -> Update {
        let scan =
            Scan { event_id, barcode: Some(barcode.to_owned()), code: "ARRD".into(), exception: false, known: true };
        Update { body: json!({"event": event_id}), stop, carries: Carries::Scan(scan) }
    }

    fn status(stop: StopKind, status: StopStatus) -> Update {
        Update { body: json!({"status": status.code()}), stop, carries: Carries::Status(status) }
    }

    /// Each batch as `<barcode><event id>` and status codes.
    fn shape(batches: &[Vec<Update>]) -> Vec<Vec<String>> {
        let name = |update: &Update| match &update.carries {
            Carries::Scan(scan) => format!("{}{}", scan.barcode.as_deref().unwrap_or("-"), scan.event_id),
            Carries::Status(status) => status.code().to_owned(),
        };
        batches.iter().map(|batch| batch.iter().map(name).collect()).collect()
    }

    #[test]
    fn batches_keep_the_order_and_hold_one_stop_one_scan_per_pallet_and_one_status() {
        use StopKind::{Delivery, Pickup};
        let updates = vec![
            scan(1, "a", Pickup),
            scan(2, "b", Pickup),
            scan(3, "c", Pickup),
            status(Pickup, StopStatus::Completed),
            // Another stop: a new batch.
            scan(4, "a", Delivery),
            scan(5, "b", Delivery),
            // Pallet a again: a new batch.
            scan(6, "a", Delivery),
            scan(7, "c", Delivery),
            status(Delivery, StopStatus::AtStop),
            scan(8, "b", Delivery),
            // A second status: a new batch.
            status(Delivery, StopStatus::Completed),
        ];
        assert_eq!(
            shape(&batches(updates, 25)),
            [
                vec!["a1", "b2", "c3", "COMPLETED"],
                vec!["a4", "b5"],
                vec!["a6", "c7", "AT_STOP", "b8"],
                vec!["COMPLETED"]
            ]
        );
    }

    #[test]
    fn batches_hold_at_most_the_batch_size() {
        let updates = || (1..=5).map(|i| scan(i, &format!("p{i}-"), StopKind::Delivery)).collect::<Vec<_>>();
        assert_eq!(shape(&batches(updates(), 2)), [vec!["p1-1", "p2-2"], vec!["p3-3", "p4-4"], vec!["p5-5"]]);
        assert_eq!(shape(&batches(updates(), 1)).len(), 5, "one call per update");
        assert_eq!(shape(&batches(updates(), 100)).len(), 1);
        assert!(batches(Vec::new(), 25).is_empty());
    }

    #[test]
    fn shares_of_a_run_add_up() {
        let mut report = StatusReport { listed: 10, nexus_requests: 2, ..StatusReport::default() };
        for n in 1..=3 {
            report.absorb(StatusReport {
                consignments_read: 1,
                events_applied: n,
                qargo_calls: 1,
                nexus_requests: 1,
                problems: vec![format!("problem {n}")],
                ..StatusReport::default()
            });
        }
        assert_eq!((report.listed, report.consignments_read, report.events_applied), (10, 3, 6));
        assert_eq!((report.nexus_requests, report.qargo_calls), (5, 3));
        assert_eq!(report.problems, ["problem 1", "problem 2", "problem 3"], "in the consignments' order");
        assert_eq!(report.lag_seconds, None);
    }

    #[test]
    fn uk_times_carry_their_offset() {
        assert_eq!(with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
        assert_eq!(with_offset("2026-12-17T10:00:00".parse().unwrap()), "2026-12-17T10:00:00+00:00");
    }
}
