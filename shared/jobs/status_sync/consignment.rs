//! One consignment's sync: its new events (or, without an events route, the scans its status
//! implies) become Qargo updates in time order, with the stop statuses reached, sent in batches.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::DateTime;
use serde_json::{Value, json};

use super::batch::{Carries, Scan, Sent, Update, batches, send, send_batch};
use super::{SENDING_LEASE, StatusReport, Stop, save_progress};
use crate::clock::{london, uk_time_with_offset as with_offset};
use crate::domain::{DepotRole, Network, NexusConsignmentId, ScanCode};
use crate::jobs::lookup::stop_target;
use crate::nexus::NexusClient;
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::{Consignment, Event};
use crate::rules::status_effects::{StopKind, StopStatus, scan_meaning, stop_status_reached};
use crate::store::{ConsignmentSync, SyncKey};
use crate::wiring::Bridge;

pub(super) enum Outcome {
    Done,
    Later(String),
}

/// Sends the new events of one consignment to Qargo, in time order, with the stop effects, in
/// batches (see the `status_sync` module docs); `probe`: the first update goes alone (see
/// [`Position::refused`](super::Position::refused)).
pub(super) async fn sync_consignment(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_times_carry_their_offset() {
        assert_eq!(with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
        assert_eq!(with_offset("2026-12-17T10:00:00".parse().unwrap()), "2026-12-17T10:00:00+00:00");
    }
}
