//! Re-running a job, for one consignment or from a date.
//!
//! Every re-run goes through the job's own machinery, so it is as safe as the job's scheduled runs:
//!
//! - **labels** of one booked dispatch ([`rerun_labels`]): the label files are fetched from Nexus
//!   again and stored under the same keys (overwritten, the same bytes); the PDF is attached to the
//!   Qargo pickup stop only when the order's documents have no label of this consignment yet; the
//!   ledger records the dispatch labelled (a no-op when it already was). Nothing is booked.
//! - **status-sync / pod-sync** of one consignment ([`rerun_consignment`]): the consignment goes on
//!   the job's own retry list (in the cursor of the depot whose Nexus user can read it) and the job
//!   runs: the consignment is read again whatever its `lastUpdated`. Scans already applied (by Nexus
//!   event id) and documents already synced (by source and SHA-256) are not sent again.
//! - **a time range** ([`reset_cursor`]): the job's cursors go back to a date, keeping what they
//!   remember (the import's fingerprints and rejections, the retry lists, pending uploads), and the
//!   job runs from there. Safe because of the same de-duplication — as far as the bridge still
//!   remembers: a consignment's sync state is forgotten 30 days after its late-POD window
//!   (`forget_after`), and the import forgets finished consignments 14 days after they finished;
//!   re-reading further back than that sends their scans (status sync) again, and re-sends their
//!   orders to Qargo, where `order_identifier` answers DUPLICATE and the order is updated from Nexus.

use std::str::FromStr;

use jiff::civil::DateTime;
use serde::Serialize;
use serde_json::{Value, json};

use super::story::{find_dispatch, read_as_ours, state_code};
use super::{Ops, OpsError};
use crate::domain::{DepotCode, Network, QargoConsignmentId};
use crate::jobs::dispatch::LABEL_DOCUMENT_TYPE;
use crate::jobs::status_sync::SyncOptions;
use crate::jobs::{order_import, pod_sync, status_sync};
use crate::nexus::LabelFormat;
use crate::store::{CursorKey, Cursors, DispatchState, StoredDocument, SyncKey, document_key};

/// A job that can be re-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    /// The labels of a booked dispatch.
    Labels,
    /// The order import (Nexus → Qargo orders).
    OrderImport,
    /// The status sync (Nexus scans → Qargo).
    StatusSync,
    /// The POD sync (Nexus documents → Qargo, and pending uploads).
    PodSync,
}

impl Job {
    /// Every job, in the order the CLI lists them.
    pub const ALL: [Job; 4] = [Job::Labels, Job::OrderImport, Job::StatusSync, Job::PodSync];

    /// Its name on the command line and in cursor keys.
    pub fn name(self) -> &'static str {
        match self {
            Job::Labels => "labels",
            Job::OrderImport => order_import::JOB,
            Job::StatusSync => status_sync::JOB,
            Job::PodSync => pod_sync::JOB,
        }
    }

    /// The cursors of `depot` this job keeps: one per network for the import, one per depot for the
    /// status and POD syncs (keyed by the depot's first network); none for labels.
    pub fn cursor_keys(self, depot: &DepotCode) -> Vec<CursorKey> {
        let key = |network: Network| CursorKey { job: self.name(), depot: depot.clone(), network };
        match self {
            Job::Labels => Vec::new(),
            Job::OrderImport => depot.networks().iter().map(|n| key(*n)).collect(),
            Job::StatusSync | Job::PodSync => vec![key(depot.networks()[0])],
        }
    }
}

impl FromStr for Job {
    type Err = OpsError;

    fn from_str(raw: &str) -> Result<Job, OpsError> {
        Job::ALL.into_iter().find(|job| job.name().eq_ignore_ascii_case(raw.trim())).ok_or_else(|| {
            let names: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
            OpsError::Invalid(format!("{raw:?} is not a job: use one of {}", names.join(", ")))
        })
    }
}

/// What became of the label PDF in Qargo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LabelAttachment {
    /// Attached to the pickup stop now.
    Attached {
        /// The stop.
        stop_id: String,
    },
    /// The order had it already: not attached twice.
    AlreadyAttached,
    /// Not attached: why.
    NotAttached {
        /// Why.
        reason: String,
    },
}

/// What re-running the labels did.
#[derive(Debug, Clone, Serialize)]
pub struct LabelsRerun {
    /// The dispatch.
    pub qargo_consignment_id: String,
    /// The ledger state before (`BOOKED` or `LABELLED`).
    pub state_before: String,
    /// The ledger state after.
    pub state_after: String,
    /// The label files stored.
    pub stored: Vec<StoredDocument>,
    /// The PDF in Qargo.
    pub attachment: LabelAttachment,
}

/// Fetches, stores and attaches the labels of a booked dispatch again, and records it labelled.
pub async fn rerun_labels(ops: &Ops, id: &QargoConsignmentId) -> Result<LabelsRerun, OpsError> {
    let bridge = ops.bridge()?;
    let record = ops
        .ledger
        .get(id)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("the dispatch ledger has no consignment {id}")))?;
    let booking = match (&record.state, &record.booking) {
        (DispatchState::Booked | DispatchState::Labelled, Some(booking)) => booking.clone(),
        (state, _) => {
            return Err(OpsError::Invalid(format!(
                "consignment {id} is {}: only a booked dispatch has labels (dispatch it again from Qargo to book it)",
                state_code(*state)
            )));
        }
    };
    let depot = booking
        .depot
        .clone()
        .or_else(|| bridge.settings.depots.iter().map(|d| d.code.clone()).find(|d| d.is_member_of(booking.network)))
        .ok_or_else(|| OpsError::Failed(format!("none of our depots is on {}", booking.network)))?;
    let nexus = bridge
        .nexus
        .for_depot(&depot)
        .ok_or_else(|| OpsError::Failed(format!("no Nexus user for depot {depot} in the secrets")))?;
    let mut formats = vec![LabelFormat::Pdf];
    if bridge.settings.depot(&depot).is_some_and(|d| d.zpl_labels) {
        formats.push(LabelFormat::Zpl);
    }
    let mut stored = Vec::new();
    let mut pdf = None;
    for format in formats {
        let file = nexus
            .labels(booking.nexus_consignment_id, format, None)
            .await
            .map_err(|err| OpsError::Failed(format!("fetching the {} labels from Nexus: {err}", format.extension())))?;
        let key = document_key::label(booking.network, booking.nexus_consignment_id, None, format.extension());
        stored.push(ops.documents.put(&key, file.bytes.clone(), &file.content_type).await?);
        if format == LabelFormat::Pdf {
            pdf = Some(file);
        }
    }
    let pdf = pdf.expect("PDF labels are always fetched");
    let sync_key = SyncKey { network: booking.network, nexus_consignment_id: booking.nexus_consignment_id };
    let link = ops.sync_state.load(&sync_key).await?.and_then(|state| state.qargo).unwrap_or_default();
    let file_name = format!("{}-labels.pdf", booking.consignment_number);
    let attachment = match &link.pickup_stop_id {
        None => LabelAttachment::NotAttached {
            reason: "the bridge recorded no Qargo pickup stop for this dispatch; attach the stored PDF by hand".into(),
        },
        Some(stop_id) => {
            let stem = file_name.trim_end_matches(".pdf");
            let attached = match &link.order_id {
                Some(order_id) => bridge.qargo.order_documents(order_id).await.is_ok_and(|documents| {
                    documents.iter().any(|d| {
                        d.document_type.as_deref() == Some(LABEL_DOCUMENT_TYPE)
                            && d.name.as_deref().is_some_and(|n| n.starts_with(stem))
                    })
                }),
                None => false,
            };
            if attached {
                LabelAttachment::AlreadyAttached
            } else {
                let answer = bridge
                    .qargo
                    .subco_document_upload(stop_id, LABEL_DOCUMENT_TYPE, &file_name, &pdf.content_type, pdf.bytes)
                    .await
                    .map_err(|err| OpsError::Failed(format!("attaching the labels in Qargo: {err}")))?;
                if let Some(error) = answer.errors.first() {
                    return Err(OpsError::Failed(format!("Qargo refused the labels: {}", error.error_message)));
                }
                LabelAttachment::Attached { stop_id: stop_id.clone() }
            }
        }
    };
    let keys = stored.iter().map(|doc| doc.key.clone()).collect();
    let after = ops.ledger.record_labelled(id, keys, ops.clock.now()).await?;
    Ok(LabelsRerun {
        qargo_consignment_id: id.to_string(),
        state_before: state_code(record.state),
        state_after: state_code(after.state),
        stored,
        attachment,
    })
}

/// What re-running a job for one consignment did.
#[derive(Debug, Clone, Serialize)]
pub struct ConsignmentRerun {
    /// The job.
    pub job: Job,
    /// The consignment.
    pub consignment: String,
    /// The depot whose cursor it was queued in (its Nexus user reads it).
    pub depot: String,
    /// Scans applied in Qargo before and after.
    pub events_applied: (usize, usize),
    /// Documents synced before and after.
    pub documents_synced: (usize, usize),
    /// Still on the job's retry list after the run (the job could not finish it: see `problems`).
    pub still_queued: bool,
    /// The job's report of the run.
    pub report: Value,
    /// Why the run, or the consignment, did not finish.
    pub problems: Vec<String>,
}

/// Re-runs the status sync or the POD sync for one consignment: queues it on the job's retry list
/// and runs the job.
pub async fn rerun_consignment(ops: &Ops, job: Job, key: SyncKey) -> Result<ConsignmentRerun, OpsError> {
    if !matches!(job, Job::StatusSync | Job::PodSync) {
        return Err(OpsError::Invalid(match job {
            Job::Labels => "labels are re-run by Qargo consignment id: `rerun labels <id>`".into(),
            _ => format!(
                "{} is re-run from a date (`rerun {} --since DATE`, or `backfill-imports --since DATE`)",
                job.name(),
                job.name()
            ),
        }));
    }
    let bridge = ops.bridge()?;
    let booked_by = find_dispatch(ops, key).await?.and_then(|r| r.booking).and_then(|b| b.depot);
    let (depot, _) = read_as_ours(bridge, key, booked_by.as_ref(), &[])
        .await
        .map_err(|err| OpsError::Failed(format!("Nexus: {err}")))?
        .ok_or_else(|| {
            OpsError::NotFound(format!(
                "none of our depots' Nexus users sees {}:{}: nothing to re-run",
                key.network, key.nexus_consignment_id
            ))
        })?;
    let before = ops.sync_state.load(&key).await?.unwrap_or_default();
    let cursor = job.cursor_keys(&depot).remove(0);
    let entry = json!([key.network, key.nexus_consignment_id.0]);
    edit_position(ops.cursors.as_ref(), &cursor, ops.clock.now(), |position| {
        let retry = position.entry("retry").or_insert_with(|| json!([]));
        match retry.as_array_mut() {
            Some(list) if !list.contains(&entry) => list.push(entry.clone()),
            Some(_) => {}
            None => *retry = json!([entry.clone()]),
        }
    })
    .await?;
    let options = SyncOptions::unbounded();
    let (report, problems) = match job {
        Job::StatusSync => match status_sync::sync_statuses(bridge, &options).await {
            Ok(report) => (to_value(&report), report.problems.clone()),
            Err(failed) => (to_value(&failed.report), failed.reasons.clone()),
        },
        _ => match pod_sync::sync_documents(bridge, &options).await {
            Ok(report) => (to_value(&report), report.problems.clone()),
            Err(failed) => (to_value(&failed.report), failed.reasons.clone()),
        },
    };
    let still_queued = read_position(ops.cursors.as_ref(), &cursor)
        .await?
        .and_then(|position| position.get("retry").and_then(Value::as_array).map(|list| list.contains(&entry)))
        .unwrap_or(false);
    let after = ops.sync_state.load(&key).await?.unwrap_or_default();
    Ok(ConsignmentRerun {
        job,
        consignment: format!("{}:{}", key.network, key.nexus_consignment_id),
        depot: depot.to_string(),
        events_applied: (before.applied_event_ids.len(), after.applied_event_ids.len()),
        documents_synced: (before.documents.len(), after.documents.len()),
        still_queued,
        report,
        problems,
    })
}

/// One cursor moved back.
#[derive(Debug, Clone, Serialize)]
pub struct CursorMove {
    /// Its storage key.
    pub key: String,
    /// Where it was (UK time), if anywhere.
    pub before: Option<String>,
    /// Where it is now.
    pub after: String,
}

/// What moving a job's cursors back did.
#[derive(Debug, Clone, Serialize)]
pub struct CursorReset {
    /// The job.
    pub job: Job,
    /// The date they were moved back to (UK time).
    pub since: DateTime,
    /// Each cursor.
    pub cursors: Vec<CursorMove>,
    /// The job's report of the run that followed, if it ran.
    pub report: Option<Value>,
    /// Why that run did not finish.
    pub problems: Vec<String>,
}

/// Moves every cursor of `job` back to `since` (a cursor already before it stays), keeping what it
/// remembers, then runs the job when `run` is set. Offline (no settings), only the cursors that
/// exist are moved, and the next scheduled run reads from there.
pub async fn reset_cursor(ops: &Ops, job: Job, since: DateTime, run: bool) -> Result<CursorReset, OpsError> {
    if job == Job::Labels {
        return Err(OpsError::Invalid("labels have no cursor: `rerun labels <qargo consignment id>`".into()));
    }
    let keys: Vec<CursorKey> = match &ops.bridge {
        Some(bridge) => bridge.settings.depots.iter().flat_map(|d| job.cursor_keys(&d.code)).collect(),
        None => {
            let mut keys = Vec::new();
            for (storage_key, _) in ops.records.cursor_records(job.name()).await? {
                if let Some((depot, network)) = super::story::cursor_depot_network(&storage_key)
                    && let (Ok(depot), Ok(network)) = (depot.parse(), network.parse())
                {
                    keys.push(CursorKey { job: job.name(), depot, network });
                }
            }
            keys
        }
    };
    if run {
        ops.bridge()?;
    }
    let mut cursors = Vec::new();
    for key in &keys {
        let mut before = None;
        let mut after = String::new();
        edit_position(ops.cursors.as_ref(), key, ops.clock.now(), |position| {
            before = position.get("since").and_then(Value::as_str).map(str::to_owned);
            let current = before.as_deref().and_then(|text| text.parse::<DateTime>().ok());
            let target = current.map_or(since, |current| current.min(since));
            position.insert("since".into(), json!(target.to_string()));
            after = target.to_string();
        })
        .await?;
        cursors.push(CursorMove { key: key.storage_key(), before, after });
    }
    let (report, problems) = if run { run_job(ops, job).await? } else { (None, Vec::new()) };
    Ok(CursorReset { job, since, cursors, report, problems })
}

async fn run_job(ops: &Ops, job: Job) -> Result<(Option<Value>, Vec<String>), OpsError> {
    let bridge = ops.bridge()?;
    let options = SyncOptions::unbounded();
    Ok(match job {
        Job::OrderImport => {
            match order_import::import_orders(bridge, &order_import::ImportOptions::unbounded()).await {
                Ok(report) => (Some(to_value(&report)), Vec::new()),
                Err(failed) => (Some(to_value(&failed.report)), failed.reasons),
            }
        }
        Job::StatusSync => match status_sync::sync_statuses(bridge, &options).await {
            Ok(report) => (Some(to_value(&report)), report.problems),
            Err(failed) => (Some(to_value(&failed.report)), failed.reasons),
        },
        Job::PodSync => match pod_sync::sync_documents(bridge, &options).await {
            Ok(report) => (Some(to_value(&report)), report.problems),
            Err(failed) => (Some(to_value(&failed.report)), failed.reasons),
        },
        Job::Labels => (None, Vec::new()),
    })
}

fn to_value(report: &impl Serialize) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// A cursor's position as JSON (every job's position is a JSON object).
async fn read_position(
    cursors: &dyn Cursors,
    key: &CursorKey,
) -> Result<Option<serde_json::Map<String, Value>>, OpsError> {
    let Some(cursor) = cursors.read(key).await? else { return Ok(None) };
    decode_position(key, &cursor.position).map(Some)
}

fn decode_position(key: &CursorKey, position: &str) -> Result<serde_json::Map<String, Value>, OpsError> {
    if position.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(position) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OpsError::Failed(format!("the cursor {} is not a JSON object; fix or delete it", key.storage_key()))),
    }
}

/// Changes a cursor's position with compare-and-set, keeping every field `change` leaves alone, and
/// tries again when a run moved the cursor meanwhile.
pub async fn edit_position(
    cursors: &dyn Cursors,
    key: &CursorKey,
    now: jiff::Timestamp,
    mut change: impl FnMut(&mut serde_json::Map<String, Value>),
) -> Result<(), OpsError> {
    for _ in 0..10 {
        let current = cursors.read(key).await?;
        let mut position = match &current {
            Some(cursor) => decode_position(key, &cursor.position)?,
            None => serde_json::Map::new(),
        };
        change(&mut position);
        let text = Value::Object(position).to_string();
        if cursors.compare_and_set(key, current.map(|c| c.version), &text, now).await? {
            return Ok(());
        }
    }
    Err(OpsError::Failed(format!("the cursor {} kept changing; try again", key.storage_key())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_have_their_cursor_names() {
        assert_eq!("status-sync".parse::<Job>().unwrap(), Job::StatusSync);
        assert_eq!(Job::OrderImport.name(), "order-import");
        assert!("eta".parse::<Job>().is_err());
        let pgd: DepotCode = "PGD302".parse().unwrap();
        assert_eq!(Job::OrderImport.cursor_keys(&pgd).len(), 2, "one per network");
        assert_eq!(Job::StatusSync.cursor_keys(&pgd).len(), 1);
    }
}
