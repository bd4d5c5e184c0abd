//! Status sync, Nexus → Qargo: every consignment the bridge follows (booked by us, or imported for
//! us) has its Nexus scans kept in Qargo's history per pallet barcode, with the stop effects they
//! imply for our depot role.
//!
//! - **What changed**: one delta listing per depot (`minLastUpdated` from the cursor, less the
//!   overlap; both networks of a PGD depot come in the same listing), then `GET …/events` for each
//!   changed consignment only. Requests per run: list pages + one per changed consignment (+ one per
//!   consignment carried over on the retry list).
//! - **History**: each scan becomes a `scan_barcode` question answer on the stop the scan concerns
//!   (`subco-status-update`), Qargo's handling-unit scan action: it keeps a history per barcode,
//!   which a free-text question answer would not. Exceptions (`ND…`, damaged, short, held,
//!   returned, cancelled) also get a `status_note` the planner sees. Unknown codes are recorded and
//!   logged, never dropped.
//! - **Stop effects** come from [`crate::rules::status_effects`]: a stop goes `AT_STOP` /
//!   `COMPLETED` only once every pallet of the consignment has reached that point, and at the time
//!   the last one did (events are applied in time order).
//! - **Once each**: the sync state records every applied event id and the statuses set. Before
//!   sending, a run takes a short lease on the consignment (a versioned save), so overlapping runs
//!   never both send; after each accepted update the state is saved, so a crash repeats at most the
//!   one update in flight. An update Qargo discards (no or several matching stops) is reported and
//!   the consignment retried on later runs from the cursor's retry list — never lost.
//! - **Followed** are the consignments the bridge booked (their Qargo stop ids are in the sync state,
//!   recorded by the dispatch) and those other depots booked for us whose customer the import maps;
//!   imported orders' stops are addressed by their references (`NEXUS-<network>-<id>-P` / `-D`).
//! - No sync at all where both the collecting and the delivery depot are ours (loop avoidance).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jiff::civil::DateTime;
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
    /// Why consignments were left for later, one line each.
    pub problems: Vec<String>,
    /// The poll lag: how old the newest complete view of Nexus is at the end of the run, in
    /// seconds (the run's own length when every depot's listing completed; `None` otherwise).
    pub lag_seconds: Option<i64>,
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
    if seen_listing::in_use(bridge) {
        let next = sync_depot_seen(bridge, options, depot, &nexus, position, report).await;
        let (next, stopped) = match next {
            Ok(next) => (next, None),
            Err((next, reason)) => (next, Some(reason)),
        };
        if stopped.is_none() && report.left_for_next_run == 0 {
            let lag = bridge.clock.now().duration_since(run_started).as_secs().max(0);
            report.lag_seconds = Some(report.lag_seconds.map_or(lag, |worst| worst.max(lag)));
        }
        let encoded = serde_json::to_string(&next).map_err(|err| err.to_string())?;
        if !bridge
            .cursors
            .compare_and_set(&key, version, &encoded, bridge.clock.now())
            .await
            .map_err(|e| e.to_string())?
        {
            tracing::info!(depot = %depot, "another run moved the status cursor; it carries on from there");
        }
        return stopped.map_or(Ok(()), Err);
    }
    let window_start = match position.since {
        Some(since) => since.checked_sub(bridge.settings.poll_overlap).unwrap_or(since),
        None => uk_now.checked_sub(bridge.settings.import_lookback).unwrap_or(uk_now),
    };

    let mut changed: BTreeMap<(Network, i64), Consignment> = BTreeMap::new();
    let mut read_up_to = position.since;
    list_changed(bridge, &nexus, window_start, report, |consignment| {
        read_up_to = read_up_to.max(crate::jobs::lookup::cursor_time(consignment.last_updated, uk_now));
        if let Some(network) = network_of(consignment) {
            changed.insert((network, consignment.consignment_id), consignment.clone());
        }
    })
    .await?;
    let mut retry = BTreeSet::new();
    let retried: Vec<(Network, i64)> =
        position.retry.iter().filter(|key| !changed.contains_key(key)).copied().collect();
    for (network, id) in retried {
        report.nexus_requests += 1;
        report.retried += 1;
        match nexus.consignment(NexusConsignmentId(id), &[]).await {
            Ok(consignment) => {
                changed.insert((network, id), consignment);
            }
            Err(NexusError::NotFound { .. }) => {}
            Err(err) => return Err(format!("Nexus: {err}")),
        }
    }

    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|d| &d.code).collect();
    let mut stopped = None;
    for ((network, id), consignment) in &changed {
        if stopped.is_none() && options.out_of_time() {
            report.left_for_next_run += 1;
            retry.insert((*network, *id));
            continue;
        }
        if stopped.is_some() {
            retry.insert((*network, *id));
            continue;
        }
        let roles = roles_of(consignment, &ours);
        if !is_status_synced(&roles) {
            report.not_synced += 1;
            continue;
        }
        match sync_consignment(bridge, &nexus, *network, consignment, &roles, report).await {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Later(reason)) if is_finished(consignment) => {
                // Finished on Nexus and still not matched in Qargo (e.g. the import skipped it as
                // already delivered): nothing more will arrive, so it is reported once and left.
                report.not_followed += 1;
                report.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
            }
            Ok(Outcome::Later(reason)) => {
                report.retry_later += 1;
                report.problems.push(format!("{network} {id}: {reason}"));
                retry.insert((*network, *id));
            }
            Err(reason) => {
                // Nexus or Qargo unavailable: keep this and the rest for the next run.
                retry.insert((*network, *id));
                stopped = Some(reason);
            }
        }
    }
    if stopped.is_none() && report.left_for_next_run == 0 {
        // Everything Nexus changed before this run started is in Qargo now: the view is as old
        // as the run. A stalled or failing poll stops reporting, which the alarm treats as lag.
        let lag = bridge.clock.now().duration_since(run_started).as_secs().max(0);
        report.lag_seconds = Some(report.lag_seconds.map_or(lag, |worst| worst.max(lag)));
    }
    let next = Position { since: read_up_to, retry, listed: Fingerprints::default() };
    let encoded = serde_json::to_string(&next).map_err(|err| err.to_string())?;
    let saved = bridge
        .cursors
        .compare_and_set(&key, version, &encoded, bridge.clock.now())
        .await
        .map_err(|err| err.to_string())?;
    if !saved {
        tracing::info!(depot = %depot, "another run moved the status cursor; it carries on from there");
    }
    match stopped {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
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
    let uk_today = bridge.clock.now().to_zoned(london()).date();
    let listing = match seen_listing::list_recent(nexus, None, uk_today, bridge.settings.nexus_list_page_size()).await {
        Ok(listing) => listing,
        Err(err) => return Err((next, format!("Nexus: {err}"))),
    };
    report.nexus_requests += listing.requests;
    report.listed += listing.consignments.len() as u32;
    report.unreadable += listing.skipped as u32;
    let followed = match Followed::load(bridge, depot).await {
        Ok(followed) => followed,
        Err(reason) => return Err((next, reason)),
    };
    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|d| &d.code).collect();
    let listed: BTreeSet<i64> = listing.consignments.iter().map(|c| c.consignment_id).collect();
    let mut stopped = None;
    for record in &listing.consignments {
        if next.listed.unchanged(None, record) {
            report.unchanged += 1;
            continue;
        }
        if stopped.is_some() {
            continue;
        }
        if options.out_of_time() {
            report.left_for_next_run += 1;
            continue;
        }
        let whose = match followed.whose(bridge, depot, record.consignment_id).await {
            Ok(Some(whose)) => whose,
            // Not (yet) ours to follow: looked at again on the next run.
            Ok(None) => continue,
            Err(reason) => {
                stopped = Some(reason);
                continue;
            }
        };
        let mut consignment = record.clone();
        seen_listing::fill(&mut consignment, depot, &whose);
        let roles = roles_of(&consignment, &ours);
        if !is_status_synced(&roles) {
            report.not_synced += 1;
            next.listed.remember(None, record);
            continue;
        }
        let network = whose.network();
        let id = record.consignment_id;
        match sync_consignment(bridge, nexus, network, &consignment, &roles, report).await {
            Ok(Outcome::Done) => next.listed.remember(None, record),
            Ok(Outcome::Later(reason)) if is_finished(&consignment) => {
                report.not_followed += 1;
                report.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
                next.listed.remember(None, record);
            }
            // Not remembered: the next listing brings it again.
            Ok(Outcome::Later(reason)) => {
                report.retry_later += 1;
                report.problems.push(format!("{network} {id}: {reason}"));
            }
            Err(reason) => stopped = Some(reason),
        }
    }
    match stopped {
        Some(reason) => Err((next, reason)),
        None => {
            if listing.skipped == 0 && report.left_for_next_run == 0 {
                next.listed.keep_only(&listed);
            }
            Ok(next)
        }
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

/// Sends the new events of one consignment to Qargo, in time order, with the stop effects.
async fn sync_consignment(
    bridge: &Bridge,
    nexus: &NexusClient,
    network: Network,
    consignment: &Consignment,
    roles: &[DepotRole],
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
        match send(bridge, report, update).await? {
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
    let mut codes_so_far: BTreeMap<String, Vec<ScanCode>> = barcodes.iter().map(|b| (b.clone(), Vec::new())).collect();
    let mut outcome = Outcome::Done;
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
        let (update, exception) = scan_update(event, &code, roles, &targets);
        if !scan_meaning(&code, roles).known {
            tracing::warn!(code = %event.code, event = event.event_id, "unknown Nexus scan code: recorded in Qargo's history, no stop effect");
            report.unknown_codes += 1;
        }
        if let Err(reason) = send(bridge, report, update).await? {
            outcome = Outcome::Later(reason);
            break;
        }
        report.events_applied += 1;
        report.exceptions += u32::from(exception);
        state.applied_event_ids.insert(event.event_id);
        // Stop effects reached with this event, once every pallet is there.
        for stop in [StopKind::Pickup, StopKind::Delivery] {
            let Some(reached) = stop_status_reached(stop, codes_so_far.values(), roles) else { continue };
            let already: Option<StopStatus> =
                state.stop_statuses_set.get(stop.code()).and_then(|status| status.parse().ok());
            if already.is_some_and(|set| set >= reached) {
                continue;
            }
            let update = json!({
                "event_time": with_offset(event.event_date_time),
                "stop": targets.stop(stop).with("status", json!(reached.code())),
            });
            // Recorded before it is sent: Qargo may echo the change back through the visibility
            // webhook while the call is still open, and the export must know it as ours. Kept as
            // sending until Qargo answers, so a run that dies in between sends it again.
            let previous = state.stop_statuses_set.insert(stop.code().to_owned(), reached.code().to_owned());
            state.stop_statuses_sending.insert(stop.code().to_owned(), update.clone());
            if !save_progress(bridge, &key, &mut state).await? {
                return Ok(Outcome::Later("another run took it over".into()));
            }
            let sent = send(bridge, report, update).await?;
            state.stop_statuses_sending.remove(stop.code());
            if let Err(reason) = sent {
                match previous {
                    Some(previous) => state.stop_statuses_set.insert(stop.code().to_owned(), previous),
                    None => state.stop_statuses_set.remove(stop.code()),
                };
                outcome = Outcome::Later(reason);
                break;
            }
            report.stop_statuses_set += 1;
        }
        if matches!(outcome, Outcome::Later(_)) {
            break;
        }
        if !save_progress(bridge, &key, &mut state).await? {
            return Ok(Outcome::Later("another run took it over".into()));
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

/// One Qargo status update; `Ok(Err(reason))` when Qargo discarded it (worth a later retry),
/// `Err` when Qargo could not be reached.
async fn send(bridge: &Bridge, report: &mut StatusReport, update: Value) -> Result<Result<(), String>, Stop> {
    report.qargo_calls += 1;
    let answer = match bridge.qargo.subco_status_update(&json!({"updates": [update]})).await {
        Ok(answer) => answer,
        Err(err @ (QargoError::Unavailable { .. } | QargoError::Malformed(_) | QargoError::Unauthorized { .. })) => {
            return Err(format!("Qargo: {err}"));
        }
        Err(refused) => return Ok(Err(format!("Qargo refused the update: {refused}"))),
    };
    Ok(match answer.errors.first() {
        None => Ok(()),
        Some(error) => Err(format!("Qargo discarded the update: {}", error.error_message)),
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

    #[test]
    fn uk_times_carry_their_offset() {
        assert_eq!(with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
        assert_eq!(with_offset("2026-12-17T10:00:00".parse().unwrap()), "2026-12-17T10:00:00+00:00");
    }
}
