//! Status export, Qargo → Nexus: a `Stop` update of the visibility webhook becomes a Nexus event
//! (`POST consignments/{id}/events`, one per pallet barcode) when we perform that stop's leg. The
//! table of which event is in [`crate::rules::status_effects`]; this job finds the consignment,
//! guards against loops and repeats, and posts.
//!
//! For one update, in this order (the cheap checks first, so that the many updates that export
//! nothing cost no request):
//!
//! 1. **Which consignment**: the order's additional fields — `NexusNetwork` + `NexusConsignmentID`
//!    (written by dispatch, with `NexusDepot`) or `NexusOrigin` = `<NETWORK>:<id>` (an imported
//!    order). An order with neither is not on a network: nothing to do.
//! 2. **What happened**: the stop's status — `AT_STOP` → arrived, `COMPLETED` → completed. Qargo's
//!    `VisibilityStopStatus` has no failure and `VisibilityStop` no incidents; the one place a stop
//!    carries free data is its additional fields, so a failed attempt is a `COMPLETED` or `CANCELLED`
//!    stop whose additional field [`FAILURE_REASON_FIELD`] is filled (the tenant sets that field up,
//!    README "Set up Qargo for the bridge") → failed, the reason choosing the `ND…` code. A
//!    `CANCELLED` stop without a reason is an order cancellation, which Nexus learns through
//!    dispatch's cancel, not as a failed delivery. Every other status (`PLANNED`, `DISPATCHED`, …)
//!    exports nothing.
//! 3. **Never an echo**: a status the import side set in Qargo from Nexus scans
//!    (`ConsignmentSync::stop_statuses_set`), or an earlier one of the same stop, comes back as a
//!    `Stop` update; it came from Nexus and is not sent back.
//! 4. **Once**: `ConsignmentSync::exported` holds `<stop type>:<transition>` → code for every event
//!    posted; a repeat (Qargo's retry, EventBridge's at-least-once delivery) posts nothing.
//! 5. **Our roles**: the consignment is read from Nexus (`include=pallets`) by one of our depots'
//!    users, and our roles come from its requesting, collecting and delivery depot codes. No sync at
//!    all when both legs are ours (loop avoidance), nor when none of its depots is ours.
//! 6. **The code**: [`export_code`]; a delivery completion is `MPOD` when the consignee signed in
//!    Qargo (a `CONSIGNEE` signature on the order, or a `CONSIGNEE_SIGNATURE` document), else `EPOD`.
//! 7. **Post** by the depot that performs the leg (Nexus takes a leg's codes only from its depot), at
//!    the stop's actual time (never later than now: Nexus refuses events in the future), skipping
//!    barcodes that already carry the code from that depot — so a crash between posting and
//!    recording, or two deliveries of the same update at once, posts each barcode's event once.
//! 8. **Record** the key in `exported` (versioned save: reload and retry on a conflict).
//!
//! Failures that may pass (Nexus or Qargo unavailable, the store) are errors, so the update is
//! retried (EventBridge, then the dead-letter queue; in process, Qargo's retry). Those that will not
//! (unknown consignment, Nexus refusing the event) are outcomes, logged.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::config::DepotSettings;
use crate::domain::{DepotCode, DepotRole, Network, NexusConsignmentId, ScanCode};
use crate::error::StoreError;
use crate::jobs::lookup::{LinkRefused, check_order_link, nexus_identity, read_consignment};
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::Consignment;
use crate::nexus::{EventPost, NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::rules::cutoff::london_now;
use crate::rules::status_effects::{StopKind, StopStatus, StopTransition, export_code, is_status_synced};
use crate::store::{ConsignmentSync, SyncKey};
use crate::visibility::{InvalidVisibility, RoutedUpdate, VisibilityStop};
use crate::wiring::Bridge;

/// Saves of the sync state tried before giving up on a record others keep changing.
const SAVE_ATTEMPTS: u32 = 10;
/// The Qargo signature type of the consignee.
const CONSIGNEE_SIGNATURE: &str = "CONSIGNEE";
/// The Qargo document type of the consignee's signature.
const CONSIGNEE_SIGNATURE_DOCUMENT: &str = "CONSIGNEE_SIGNATURE";

/// What the export did with one `Stop` update. Every variant but [`ExportOutcome::Posted`] posted
/// nothing, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ExportOutcome {
    /// The Nexus event was posted for the consignment's pallets.
    Posted {
        /// Network.
        network: Network,
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// The code posted.
        code: String,
        /// The depot that posted it.
        depot: DepotCode,
        /// Barcodes posted now.
        posted: u32,
        /// Barcodes that already carried the code from that depot (an earlier, interrupted attempt).
        already_on_nexus: u32,
    },
    /// The order is not on a network (no Nexus identity in its additional fields).
    NotNexus {
        /// The Qargo order, if the update had one.
        order_id: Option<String>,
    },
    /// The stop's status is no arrival, completion or failure, or the stop is of another type.
    NoTransition {
        /// Stop type.
        stop_type: String,
        /// Status.
        status: String,
    },
    /// The status is one the import side set from Nexus scans: Nexus knows it already.
    Echo {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Stop type.
        stop_type: String,
        /// Status.
        status: String,
    },
    /// This event was posted before.
    AlreadyExported {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// `<stop type>:<transition>`.
        key: String,
        /// The code posted then.
        code: String,
    },
    /// Statuses of this consignment are not synced: both legs are ours, or no depot of it is.
    NotSynced {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Our roles on it.
        roles: Vec<DepotRole>,
    },
    /// Nothing to post for this transition: a leg another depot performs, or no Nexus code for it.
    NoEvent {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// `<stop type>:<transition>`.
        key: String,
        /// Our roles on it.
        roles: Vec<DepotRole>,
    },
    /// The consignment cannot be found: a malformed identity, or none of our depots sees it.
    UnknownConsignment {
        /// Why.
        reason: String,
    },
    /// Nexus refused the event (e.g. the consignment is finished or cancelled); retrying will not help.
    Refused {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// The code.
        code: String,
        /// What Nexus said.
        reason: String,
    },
}

/// A failure worth retrying (or a misrouted update): the caller fails, and the update comes again.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The update is not a readable `Stop` update.
    #[error(transparent)]
    Invalid(#[from] InvalidVisibility),
    /// Nexus did not answer usefully, or refused our credentials.
    #[error("Nexus: {0}")]
    Nexus(#[from] NexusError),
    /// Qargo did not answer usefully while the signature was looked up.
    #[error("Qargo: {0}")]
    Qargo(#[from] QargoError),
    /// The sync state could not be read or written.
    #[error("sync state: {0}")]
    Store(#[from] StoreError),
    /// The sync state kept changing under us.
    #[error("the sync state of {key} kept changing; retry")]
    Contention {
        /// The record.
        key: String,
    },
    /// The order's link to the consignment could not be checked (Qargo or the store unavailable).
    #[error("{0}")]
    Link(String),
    /// The depot that performs the leg has no Nexus user in the secrets.
    #[error("no Nexus user for depot {depot} in the secrets: add it to post its events")]
    NoCredentials {
        /// The depot.
        depot: DepotCode,
    },
}

/// Exports one `Stop` update (module docs).
pub async fn export_stop_update(bridge: &Bridge, update: &RoutedUpdate) -> Result<ExportOutcome, ExportError> {
    let stop = update.stop_update()?.stop;
    let Some(order) = &update.order else {
        return Ok(ExportOutcome::NotNexus { order_id: None });
    };
    let identity = match nexus_identity(order) {
        None => return Ok(ExportOutcome::NotNexus { order_id: Some(order.id.clone()) }),
        Some(Err(reason)) => return Ok(ExportOutcome::UnknownConsignment { reason }),
        Some(Ok(identity)) => identity,
    };
    match check_order_link(bridge, identity.key, &order.id).await {
        Ok(()) => {}
        Err(LinkRefused::NotLinked(reason)) => return Err(ExportError::Invalid(InvalidVisibility(reason))),
        Err(LinkRefused::Unavailable(reason)) => return Err(ExportError::Link(reason)),
    }
    let Some((kind, transition)) = transition_of(&stop) else {
        return Ok(ExportOutcome::NoTransition { stop_type: stop.stop_type.clone(), status: stop.status.clone() });
    };
    let id = identity.key.nexus_consignment_id;
    let key = export_key(kind, &transition);

    let state = bridge.sync_state.load(&identity.key).await?.unwrap_or_default();
    if is_echo(&state, kind, &stop.status) {
        return Ok(ExportOutcome::Echo { nexus_consignment_id: id, stop_type: stop.stop_type, status: stop.status });
    }
    if let Some(code) = state.exported.get(&key) {
        return Ok(ExportOutcome::AlreadyExported { nexus_consignment_id: id, key, code: code.clone() });
    }
    if let Err(refusal) = bridge
        .settings
        .nexus_capabilities
        .require(Capability::EventsWrite, format!("exporting {key} of consignment {id}"))
    {
        return Ok(ExportOutcome::Refused { nexus_consignment_id: id, code: key, reason: refusal.to_string() });
    }

    let booked_by: Vec<&DepotCode> = identity.depot.iter().collect();
    let mut requests = 0;
    let Some(consignment) = read_consignment(bridge, identity.key, &booked_by, &["pallets"], &mut requests).await?
    else {
        return Ok(ExportOutcome::UnknownConsignment {
            reason: format!("consignment {id} on {} is not visible to any of our depots", identity.key.network),
        });
    };
    let (roles, leg_depots) = roles_of(&consignment, &bridge.settings.depots);
    if !is_status_synced(&roles) {
        return Ok(ExportOutcome::NotSynced { nexus_consignment_id: id, roles });
    }
    let signed = kind == StopKind::Delivery
        && transition == StopTransition::Completed
        && roles.contains(&DepotRole::Delivery)
        && signature_captured(bridge, &order.id).await?;
    let Some(code) = export_code(kind, &transition, &roles, signed) else {
        return Ok(ExportOutcome::NoEvent { nexus_consignment_id: id, key, roles });
    };
    // `export_code` answers only for a leg one of our depots performs, so the depot is there.
    let leg_depot = match kind {
        StopKind::Pickup => leg_depots.collecting,
        StopKind::Delivery => leg_depots.delivery,
    };
    let Some(depot) = leg_depot else {
        return Ok(ExportOutcome::NoEvent { nexus_consignment_id: id, key, roles });
    };
    let nexus = bridge.nexus.for_depot(&depot).ok_or_else(|| ExportError::NoCredentials { depot: depot.clone() })?;
    let at = london_now(event_time(&stop, &transition, update.timestamp).min(bridge.clock.now())).datetime();

    let (posted, already_on_nexus) = match post_per_barcode(&nexus, &consignment, &depot, &code, at, &stop).await {
        Ok(counts) => counts,
        Err(err) if is_retryable(&err) => return Err(err.into()),
        Err(err) => {
            tracing::warn!(consignment = %id, code = %code, error = %err, "Nexus refused the exported event");
            return Ok(ExportOutcome::Refused {
                nexus_consignment_id: id,
                code: code.to_string(),
                reason: err.to_string(),
            });
        }
    };
    record_exported(bridge, &identity.key, &key, code.code()).await?;
    tracing::info!(consignment = %id, code = %code, %depot, posted, already_on_nexus, "stop event exported to Nexus");
    Ok(ExportOutcome::Posted {
        network: identity.key.network,
        nexus_consignment_id: id,
        code: code.to_string(),
        depot,
        posted,
        already_on_nexus,
    })
}

/// The stop additional field that carries why a delivery or collection attempt failed.
pub const FAILURE_REASON_FIELD: &str = "failure_reason";

/// The stop and what happened to it, or `None` when nothing is to be exported (module docs, step 2).
fn transition_of(stop: &VisibilityStop) -> Option<(StopKind, StopTransition)> {
    let kind = stop.stop_type.parse::<StopKind>().ok()?;
    let failure = failure_reason(stop);
    let transition = match (stop.status.trim().to_ascii_uppercase().as_str(), failure) {
        ("COMPLETED" | "CANCELLED", Some(reason)) => StopTransition::Failed { reason: Some(reason) },
        ("AT_STOP", _) => StopTransition::Arrived,
        ("COMPLETED", None) => StopTransition::Completed,
        _ => return None,
    };
    Some((kind, transition))
}

/// The failure reason in the stop's additional fields ([`FAILURE_REASON_FIELD`]), when filled.
fn failure_reason(stop: &VisibilityStop) -> Option<String> {
    stop.custom_fields
        .get(FAILURE_REASON_FIELD)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// `<stop type>:<transition>`, the key of [`ConsignmentSync::exported`].
fn export_key(kind: StopKind, transition: &StopTransition) -> String {
    let transition = match transition {
        StopTransition::Arrived => "ARRIVED",
        StopTransition::Completed => "COMPLETED",
        StopTransition::Failed { .. } => "FAILED",
    };
    format!("{}:{transition}", kind.code())
}

/// Whether the stop's `status` is one the import side set (or an earlier one, arriving late).
fn is_echo(state: &ConsignmentSync, kind: StopKind, status: &str) -> bool {
    let Some(set) = state.stop_statuses_set.get(kind.code()) else { return false };
    match (set.parse::<StopStatus>(), status.parse::<StopStatus>()) {
        (Ok(set), Ok(status)) => status <= set,
        _ => set.eq_ignore_ascii_case(status.trim()),
    }
}

/// Our depots on each leg of a consignment.
#[derive(Debug, Default)]
struct LegDepots {
    collecting: Option<DepotCode>,
    delivery: Option<DepotCode>,
}

/// Our roles on `consignment`, and which of our depots collects and delivers it.
fn roles_of(consignment: &Consignment, ours: &[DepotSettings]) -> (Vec<DepotRole>, LegDepots) {
    let ours = |code: &Option<String>| -> Option<DepotCode> {
        let code: DepotCode = code.as_deref()?.parse().ok()?;
        ours.iter().any(|depot| depot.code == code).then_some(code)
    };
    let legs = LegDepots {
        collecting: ours(&consignment.collecting_depot_code),
        delivery: ours(&consignment.delivery_depot_code),
    };
    let mut roles = Vec::new();
    if ours(&consignment.requesting_depot_code).is_some() {
        roles.push(DepotRole::Requesting);
    }
    if legs.collecting.is_some() {
        roles.push(DepotRole::Collecting);
    }
    if legs.delivery.is_some() {
        roles.push(DepotRole::Delivery);
    }
    (roles, legs)
}

/// Whether the consignee signed in Qargo: a `CONSIGNEE` signature on the order's consignments, or
/// a `CONSIGNEE_SIGNATURE` document on the order. Qargo refusing the reads (not unavailable) counts
/// as no signature: a delivery without one is still a delivery (`EPOD`).
async fn signature_captured(bridge: &Bridge, order_id: &str) -> Result<bool, QargoError> {
    match bridge.qargo.order(order_id).await {
        Ok(order) => {
            let signatures = order
                .get("consignments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| c.get("signatures").and_then(Value::as_array).into_iter().flatten());
            if signatures.clone().any(|s| s.get("type").and_then(Value::as_str) == Some(CONSIGNEE_SIGNATURE)) {
                return Ok(true);
            }
        }
        Err(err) if err.is_transient() => return Err(err),
        Err(err) => tracing::warn!(order_id, error = %err, "could not read the Qargo order for its signatures"),
    }
    match bridge.qargo.order_documents(order_id).await {
        Ok(documents) => Ok(documents.iter().any(|d| d.document_type.as_deref() == Some(CONSIGNEE_SIGNATURE_DOCUMENT))),
        Err(err) if err.is_transient() => Err(err),
        Err(err) => {
            tracing::warn!(order_id, error = %err, "could not list the Qargo order's documents; no signature assumed");
            Ok(false)
        }
    }
}

/// When the transition happened: the stop's actual end (completed, failed) or start (arrived), else
/// the update's timestamp.
fn event_time(stop: &VisibilityStop, transition: &StopTransition, timestamp: Timestamp) -> Timestamp {
    let actual = match transition {
        StopTransition::Arrived => stop.actual_start_timestamp,
        StopTransition::Completed | StopTransition::Failed { .. } => {
            stop.actual_end_timestamp.or(stop.actual_start_timestamp)
        }
    };
    actual.unwrap_or(timestamp)
}

/// Posts `code` for every pallet that does not carry it from `depot` yet; answers (posted, already there).
async fn post_per_barcode(
    nexus: &NexusClient,
    consignment: &Consignment,
    depot: &DepotCode,
    code: &ScanCode,
    at: jiff::civil::DateTime,
    stop: &VisibilityStop,
) -> Result<(u32, u32), NexusError> {
    let id = NexusConsignmentId(consignment.consignment_id);
    let done: BTreeSet<String> = nexus
        .events(id)
        .await?
        .into_iter()
        .filter(|event| event.code == code.code() && event.depot_code.as_deref() == Some(depot.as_str()))
        .filter_map(|event| event.barcode)
        .collect();
    let notes = match &stop.stop_reference {
        Some(reference) => format!("Qargo stop {reference}"),
        None => format!("Qargo stop {}", stop.id),
    };
    let (mut posted, mut already) = (0, 0);
    for pallet in &consignment.pallets {
        if done.contains(&pallet.barcode) {
            already += 1;
            continue;
        }
        let event = EventPost {
            barcode: pallet.barcode.clone(),
            code: code.code().to_owned(),
            event_date_time: at,
            notes: Some(notes.clone()),
        };
        nexus.post_event(id, &event).await?;
        posted += 1;
    }
    Ok((posted, already))
}

/// Whether a Nexus failure may pass: unavailable, unreadable, or our credentials refused (fixed in
/// the secrets, then the retried update goes through).
fn is_retryable(err: &NexusError) -> bool {
    err.is_transient() || matches!(err, NexusError::Unauthorized { .. })
}

/// Records that `key` was exported as `code` (versioned: reload and retry when another writer won).
async fn record_exported(bridge: &Bridge, key: &SyncKey, export: &str, code: &str) -> Result<(), ExportError> {
    for _ in 0..SAVE_ATTEMPTS {
        let mut state = bridge.sync_state.load(key).await?.unwrap_or_default();
        if state.exported.contains_key(export) {
            return Ok(());
        }
        state.exported.insert(export.to_owned(), code.to_owned());
        if bridge.sync_state.save(key, &state).await? {
            return Ok(());
        }
    }
    Err(ExportError::Contention { key: key.storage_key() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stop(stop_type: &str, status: &str, extra: Value) -> VisibilityStop {
        let mut value = json!({"id": "s-1", "stop_type": stop_type, "status": status});
        value.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn statuses_become_transitions() {
        let arrived = transition_of(&stop("DELIVERY", "AT_STOP", json!({})));
        assert_eq!(arrived, Some((StopKind::Delivery, StopTransition::Arrived)));
        let completed = transition_of(&stop("PICKUP", "COMPLETED", json!({})));
        assert_eq!(completed, Some((StopKind::Pickup, StopTransition::Completed)));
        for quiet in ["PLANNED", "DISPATCHED", "ROUTE_TO_STOP", "CANCELLED"] {
            assert_eq!(transition_of(&stop("DELIVERY", quiet, json!({}))), None, "{quiet}");
        }
        assert_eq!(transition_of(&stop("HUB", "COMPLETED", json!({}))), None);
        let reason = Some("Premises closed".to_owned());
        let failure = json!({"custom_fields": {"failure_reason": "Premises closed"}});
        let failed = transition_of(&stop("DELIVERY", "COMPLETED", failure.clone()));
        assert_eq!(failed, Some((StopKind::Delivery, StopTransition::Failed { reason: reason.clone() })));
        let cancelled = transition_of(&stop("DELIVERY", "CANCELLED", failure));
        assert_eq!(cancelled, Some((StopKind::Delivery, StopTransition::Failed { reason })));
        let blank = transition_of(&stop("DELIVERY", "COMPLETED", json!({"custom_fields": {"failure_reason": " "}})));
        assert_eq!(blank, Some((StopKind::Delivery, StopTransition::Completed)), "a blank reason is no failure");
        assert_eq!(transition_of(&stop("DELIVERY", "FAILED", json!({}))), None, "not a VisibilityStopStatus");
    }

    #[test]
    fn echoes_are_the_statuses_the_import_set_and_earlier_ones() {
        let mut state = ConsignmentSync::default();
        assert!(!is_echo(&state, StopKind::Delivery, "AT_STOP"));
        state.stop_statuses_set.insert("DELIVERY".into(), "COMPLETED".into());
        assert!(is_echo(&state, StopKind::Delivery, "COMPLETED"));
        assert!(is_echo(&state, StopKind::Delivery, "AT_STOP"), "a late echo of the earlier status");
        assert!(!is_echo(&state, StopKind::Pickup, "COMPLETED"));
        state.stop_statuses_set.insert("PICKUP".into(), "AT_STOP".into());
        assert!(!is_echo(&state, StopKind::Pickup, "COMPLETED"));
        assert!(!is_echo(&state, StopKind::Pickup, "FAILED"));
    }

    #[test]
    fn keys_name_the_stop_and_the_transition() {
        assert_eq!(export_key(StopKind::Pickup, &StopTransition::Completed), "PICKUP:COMPLETED");
        assert_eq!(export_key(StopKind::Delivery, &StopTransition::Arrived), "DELIVERY:ARRIVED");
        assert_eq!(export_key(StopKind::Delivery, &StopTransition::Failed { reason: None }), "DELIVERY:FAILED");
    }

    #[test]
    fn roles_compare_the_depot_codes_with_ours() {
        let ours = [DepotSettings {
            fortec_via_pallex: false,
            code: "PGD302".parse().unwrap(),
            region: crate::domain::UkRegion::EnglandAndWales,
            zpl_labels: false,
            address: None,
        }];
        let consignment = |requesting: &str, collecting: &str, delivery: &str| -> Consignment {
            serde_json::from_value(json!({
                "consignmentID": 1, "consignmentNumber": "N", "status": {"id": 1, "name": "Booked"},
                "requestingDepotCode": requesting, "collectingDepotCode": collecting, "deliveryDepotCode": delivery,
            }))
            .unwrap()
        };
        let (roles, legs) = roles_of(&consignment("PGD302", "PGD302", "UKD205"), &ours);
        assert_eq!(roles, [DepotRole::Requesting, DepotRole::Collecting]);
        assert_eq!((legs.collecting.unwrap().as_str(), legs.delivery), ("PGD302", None));
        let (roles, legs) = roles_of(&consignment("UKD101", "UKD101", "PGD302"), &ours);
        assert_eq!(roles, [DepotRole::Delivery]);
        assert_eq!(legs.delivery.unwrap().as_str(), "PGD302");
        assert!(roles_of(&consignment("UKD101", "UKD101", "UKD205"), &ours).0.is_empty());
    }

    #[test]
    fn the_event_time_is_the_stops_actual_time() {
        let at: Timestamp = "2026-06-17T12:00:00Z".parse().unwrap();
        let s = stop(
            "DELIVERY",
            "COMPLETED",
            json!({"actual_start_timestamp": "2026-06-17T10:00:00Z",
                                                     "actual_end_timestamp": "2026-06-17T10:20:00Z"}),
        );
        assert_eq!(event_time(&s, &StopTransition::Arrived, at), "2026-06-17T10:00:00Z".parse().unwrap());
        assert_eq!(event_time(&s, &StopTransition::Completed, at), "2026-06-17T10:20:00Z".parse().unwrap());
        assert_eq!(event_time(&stop("DELIVERY", "AT_STOP", json!({})), &StopTransition::Arrived, at), at);
    }
}
