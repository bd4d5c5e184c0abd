//! Reconcile: the consignments whose records, Nexus and Qargo disagree, each with what fixes it.
//!
//! For every dispatch the ledger holds (changed since a date): its labels are in the document store;
//! it is not stuck unlabelled or in a crashed claim; and, when Nexus and Qargo can be reached, Nexus
//! still has it live (not cancelled behind the bridge's back) and Qargo's stops agree with Nexus
//! (delivered on Nexus → the delivery stop is completed; an order cancelled in Qargo is cancelled on
//! Nexus). For the consignments other depots booked for us: those the import could not put into
//! Qargo, with the reason. Costs one Nexus read (plus one Qargo read when the bridge knows the order)
//! per dispatch checked, and nothing for the rest.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::story::{NexusKey, Remote, qargo_view, read_as_ours, state_code, status_of};
use super::{Ops, OpsError};
use crate::jobs::order_import;
use crate::jobs::order_import::state::ImportState;
use crate::store::{DispatchRecord, DispatchState, SyncKey};

/// A dispatch booked this long ago without labels is reported (the dispatch labels at once).
pub const LABELS_OVERDUE: SignedDuration = SignedDuration::from_mins(10);

/// What disagrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisagreementKind {
    /// The ledger says labelled, but a label file is not in the document store.
    LabelMissing,
    /// Booked on Nexus, never labelled.
    LabelsPending,
    /// A claim whose holder crashed mid-booking and was never taken over.
    StuckInProgress,
    /// The ledger says booked, Nexus says cancelled.
    CancelledOnNexus,
    /// The ledger says cancelled, Nexus has it live.
    LiveOnNexus,
    /// The ledger says booked, none of our depots' users finds it on Nexus.
    MissingOnNexus,
    /// Delivered on Nexus; Qargo's delivery stop is not completed.
    DeliveredNotCompleted,
    /// Cancelled in Qargo; live on Nexus.
    CancelledInQargoOnly,
    /// The bridge's Qargo order is gone from Qargo.
    MissingInQargo,
    /// Booked for us by another depot, not in Qargo.
    NotImported,
}

/// One disagreement.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    /// What disagrees.
    pub kind: DisagreementKind,
    /// Qargo's consignment id (booked by us).
    pub qargo_consignment_id: Option<String>,
    /// The consignment on Nexus.
    pub nexus: Option<NexusKey>,
    /// What each side says.
    pub detail: String,
    /// What fixes it.
    pub fix: String,
}

/// What reconcile found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Dispatches checked.
    pub dispatches_checked: u32,
    /// Import cursors checked.
    pub import_cursors_checked: u32,
    /// Whether Nexus and Qargo were asked (`None`), or why not.
    pub offline: Option<String>,
    /// Consignments that could not be checked, and why.
    pub unchecked: Vec<String>,
    /// The disagreements.
    pub disagreements: Vec<Disagreement>,
}

impl ReconcileReport {
    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Checked {} dispatch(es) and {} import cursor(s){}: {} disagreement(s)\n",
            self.dispatches_checked,
            self.import_cursors_checked,
            match &self.offline {
                Some(reason) => format!(" from storage only ({reason})"),
                None => " against Nexus and Qargo".into(),
            },
            self.disagreements.len()
        );
        for d in &self.disagreements {
            let name = match (&d.nexus, &d.qargo_consignment_id) {
                (Some(key), Some(id)) => format!("{}:{} ({id})", key.network, key.consignment_id),
                (Some(key), None) => format!("{}:{}", key.network, key.consignment_id),
                (None, Some(id)) => id.clone(),
                (None, None) => "?".into(),
            };
            let kind =
                serde_json::to_value(d.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            out.push_str(&format!("{kind:<24} {name}\n{:<25}{}\n{:<25}fix: {}\n", "", d.detail, "", d.fix));
        }
        for line in &self.unchecked {
            out.push_str(&format!("not checked: {line}\n"));
        }
        out
    }
}

/// Lists the disagreements of the dispatches changed since `since` (all when `None`) and of the import.
pub async fn reconcile(ops: &Ops, since: Option<Timestamp>) -> Result<ReconcileReport, OpsError> {
    let mut report = ReconcileReport { offline: ops.offline_reason.clone(), ..ReconcileReport::default() };
    let now = ops.clock.now();
    let mut records = ops.records.dispatch_records().await?;
    records.retain(|r| since.is_none_or(|since| r.updated_at >= since));
    for record in &records {
        report.dispatches_checked += 1;
        check_dispatch(ops, record, now, &mut report).await?;
    }
    for (storage_key, cursor) in ops.records.cursor_records(order_import::JOB).await? {
        report.import_cursors_checked += 1;
        let Some((depot, network)) = super::story::cursor_depot_network(&storage_key) else { continue };
        let Ok(state) = ImportState::decode(&cursor.position) else {
            report.unchecked.push(format!("{storage_key}: unreadable"));
            continue;
        };
        for (id, rejected) in &state.rejected {
            report.disagreements.push(Disagreement {
                kind: DisagreementKind::NotImported,
                qargo_consignment_id: None,
                nexus: network.parse().ok().map(|network| NexusKey { network, consignment_id: *id }),
                detail: format!(
                    "booked for {depot} as {}, not in Qargo after {} tries: {}",
                    rejected.number, rejected.attempts, rejected.reason
                ),
                fix: "fix what the reason names (e.g. add the customer to BRIDGE_CUSTOMER_MAP); every import run tries it again".into(),
            });
        }
    }
    Ok(report)
}

async fn check_dispatch(
    ops: &Ops,
    record: &DispatchRecord,
    now: Timestamp,
    report: &mut ReconcileReport,
) -> Result<(), OpsError> {
    let id = record.qargo_consignment_id.to_string();
    let key =
        record.booking.as_ref().map(|b| SyncKey { network: b.network, nexus_consignment_id: b.nexus_consignment_id });
    let mut found = |kind, detail: String, fix: String| {
        report.disagreements.push(Disagreement {
            kind,
            qargo_consignment_id: Some(id.clone()),
            nexus: key.map(NexusKey::from),
            detail,
            fix,
        });
    };
    let relabel = format!("bridge-ops rerun labels {id}");
    match record.state {
        DispatchState::Failed => return Ok(()),
        DispatchState::InProgress if record.lease_expires_at <= now => {
            found(
                DisagreementKind::StuckInProgress,
                format!("claim {} ended at {} without an outcome", record.attempt, record.lease_expires_at),
                "send the dispatch again from Qargo: the next claim looks the booking up on Nexus before booking"
                    .into(),
            );
            return Ok(());
        }
        DispatchState::InProgress => return Ok(()),
        DispatchState::Booked if now - LABELS_OVERDUE >= record.updated_at => found(
            DisagreementKind::LabelsPending,
            format!("booked {} and never labelled", record.updated_at),
            relabel.clone(),
        ),
        DispatchState::Labelled => {
            for label in record.booking.iter().flat_map(|b| b.label_keys.iter()) {
                if ops.documents.head(label).await?.is_none() {
                    found(
                        DisagreementKind::LabelMissing,
                        format!("the ledger lists {label}; the document store does not have it"),
                        relabel.clone(),
                    );
                }
            }
        }
        _ => {}
    }
    let (Some(bridge), Some(key), Some(booking)) = (ops.bridge.as_ref(), key, record.booking.as_ref()) else {
        return Ok(());
    };
    let on_nexus = match read_as_ours(bridge, key, booking.depot.as_ref(), &[]).await {
        Ok(Some((_, consignment))) => consignment,
        Ok(None) => {
            if record.state != DispatchState::Cancelled {
                found(
                    DisagreementKind::MissingOnNexus,
                    format!(
                        "the ledger says {}; none of our depots' users finds it on Nexus",
                        state_code(record.state)
                    ),
                    "check the depot's Nexus user; if the consignment is really gone, send CANCEL from Qargo".into(),
                );
            }
            return Ok(());
        }
        Err(err) => {
            report.unchecked.push(format!("{}:{} ({id}): Nexus: {err}", key.network, key.nexus_consignment_id));
            return Ok(());
        }
    };
    let status = status_of(&on_nexus);
    let code = status.map_or("?", |s| s.code());
    let cancelled_on_nexus = code == "CAN";
    let reference = format!("{}:{}", key.network, key.nexus_consignment_id);
    match record.state {
        DispatchState::Booked | DispatchState::Labelled if cancelled_on_nexus => found(
            DisagreementKind::CancelledOnNexus,
            format!("the ledger says {}; Nexus says cancelled", state_code(record.state)),
            "cancelled outside the bridge: send CANCEL from Qargo (the order's labels are void), or dispatch it again to re-book".into(),
        ),
        DispatchState::Cancelled if !cancelled_on_nexus => found(
            DisagreementKind::LiveOnNexus,
            format!("the ledger says cancelled; Nexus says {code}"),
            format!("cancel it on Nexus as {}, or dispatch it again from Qargo", booking.depot.as_ref().map_or("our depot".into(), ToString::to_string)),
        ),
        _ => {}
    }
    let order_id = ops.sync_state.load(&key).await?.and_then(|s| s.qargo).and_then(|link| link.order_id);
    let Some(order_id) = order_id else { return Ok(()) };
    match qargo_view(bridge, &order_id).await {
        Remote::Found(order) => {
            let delivered = matches!(code, "DEL" | "DLX");
            let delivery = order.stop_status("DELIVERY").unwrap_or("?");
            if delivered && delivery != "COMPLETED" {
                found(
                    DisagreementKind::DeliveredNotCompleted,
                    format!(
                        "Nexus says {code} ({}); Qargo's delivery stop is {delivery}",
                        on_nexus.del_date_time.map_or("?".into(), |t| t.to_string())
                    ),
                    format!("bridge-ops rerun status-sync {reference}"),
                );
            }
            let qargo_cancelled = order.status.as_deref() == Some("CANCELLED");
            if qargo_cancelled && !cancelled_on_nexus && record.state != DispatchState::Cancelled {
                found(
                    DisagreementKind::CancelledInQargoOnly,
                    format!(
                        "Qargo's order is cancelled; Nexus says {code} and the ledger {}",
                        state_code(record.state)
                    ),
                    "send the CANCEL dispatch from Qargo again (before collection Nexus cancels it)".into(),
                );
            }
        }
        Remote::NotFound { detail } => found(
            DisagreementKind::MissingInQargo,
            detail,
            "the order was deleted in Qargo: cancel the consignment on Nexus if it should not travel".into(),
        ),
        Remote::Failed { error } => report.unchecked.push(format!("{reference} ({id}): Qargo: {error}")),
        Remote::NotAsked { .. } => {}
    }
    Ok(())
}
