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

mod batch;
mod consignment;
mod delta;
mod seen;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::clock::london;
use crate::domain::{DepotCode, DepotRole, Network};
use crate::jobs::seen_listing::{self, Fingerprints};
use crate::nexus::NexusClient;
use crate::nexus::wire::Consignment;
use crate::store::{ConsignmentSync, CursorKey, SyncKey};
use crate::wiring::Bridge;

use delta::sync_depot_delta;
use seen::sync_depot_seen;

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
}

/// Saves the state after an accepted update; false when another writer holds it now.
async fn save_progress(bridge: &Bridge, key: &SyncKey, state: &mut ConsignmentSync) -> Result<bool, Stop> {
    let saved = bridge.sync_state.save(key, state).await.map_err(|err| err.to_string())?;
    if saved {
        state.version += 1;
    }
    Ok(saved)
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
}
