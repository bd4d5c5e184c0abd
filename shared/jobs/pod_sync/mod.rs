//! POD sync, both ways: signatures (`MPOD`), signed delivery notes (`POD`) and pallet photos
//! (`MPODPHOTOE`) between Nexus and Qargo, each file kept in S3 under its SHA-256
//! (`pod/<network>/<nexus id>/<kind>/<sha256>.<ext>`).
//!
//! # Download: another depot delivers our consignment ([`sync_documents`], on the schedule)
//!
//! - **Which consignments**: one delta listing per depot (`minLastUpdated` from the job's own cursor
//!   `pod-sync`, less the overlap; keyset pages). Nexus moves `lastUpdated` with every change, an
//!   attachment included, so a delivery and any late document bring the consignment back into the
//!   listing. Kept are those **delivered** (`DEL`, `DLX`) by a depot that is not ours and followed by
//!   the bridge (booked by us with its Qargo link recorded, or imported for us with a mapped
//!   customer), i.e. those with a Qargo delivery stop to put the evidence on.
//! - **Late window**: the first time one is seen delivered, `pod_check_until` = its delivery time
//!   (`delDateTime`) + `POD_LATE_WINDOW_HOURS` goes into its sync state (and `forget_after`, 30 days
//!   later). Until then every change brings one `GET …/attachments`; after it, the consignment costs
//!   no request at all, whatever changes.
//! - **Each new attachment** (not of our own depots, source `nexus:<attachmentID>` not yet in the
//!   sync state): `GET attachments/{id}/content`, SHA-256, S3, then Qargo. Bytes already synced (by
//!   SHA-256) are recorded and not sent again.
//! - **Into Qargo**: one `subco-status-update` on the consignment's delivery stop (by id when
//!   dispatch recorded it, else by the imported stop's reference `NEXUS-<network>-<id>-D`) with no
//!   status, carrying the file as a question answer `{document_type, embedded_document}` — the
//!   Qargo type of the kind (`CONSIGNEE_SIGNATURE`, `PROOF_OF_DELIVERY_SIGNED`,
//!   `PHOTO_OF_GOODS_DELIVERY`) — and, for a signature, the signatory as the answer `signed_by`.
//!   Chosen over `subco-document-upload` because one call then carries the file, its type and the
//!   signatory, and because it reaches imported orders, whose stop ids the bridge never learns.
//!   Files over [`EMBED_LIMIT`] go through `upload_content` and a `remote_document` instead.
//! - **Requests per run and depot**: list pages + one per listed delivered consignment within its
//!   window + one per new attachment (+ one per consignment carried over on the retry list).
//!
//! # Upload: we deliver a consignment of the network ([`upload_document_update`])
//!
//! A visibility `Document` update (the cloud: the bus's `Document` rule; locally: in process) of a
//! Qargo evidence type, on an order with a Nexus identity (`NexusNetwork` + `NexusConsignmentID`
//! from dispatch, or `NexusOrigin` from the import):
//!
//! 1. `qargo:<document id>` already in the sync state → nothing (a repeated event costs nothing);
//!    embedded bytes whose SHA-256 is synced → nothing (a document that came from Nexus is never
//!    uploaded back);
//! 2. the consignment is read from Nexus: only when one of **our** depots delivers it is anything
//!    uploaded, by that depot's user (Nexus takes delivery evidence from the delivery depot only);
//! 3. the file comes from the update (embedded) or from Qargo (`download`), is checked (below),
//!    hashed, stored in S3, and uploaded with the kind's attachment type code, the capture time and,
//!    for a signature, `signedBy` — the consignee's name from the signature data on the order
//!    (`consignments[].signatures[type CONSIGNEE]`).
//!
//! **Formats**: Nexus takes files up to 25 MB; the bridge sends PNG, JPEG, PDF (and any other type)
//! as they are, with the MIME type read from the file's own signature when Qargo's is generic and a
//! matching extension. Nothing is re-encoded: the workspace has no image codec, and Qargo's apps
//! produce PNG signatures and JPEG photos already. A file over 25 MB is refused with
//! [`UploadOutcome::TooLarge`] and logged, not retried.
//!
//! # Once, and nothing lost
//!
//! - The sync state records every transfer: `documents` by SHA-256 (with direction and S3 key) and
//!   `pod_sources` by source. Before a transfer a run takes a short hold on the source
//!   (`pod_in_flight`, a versioned save), so overlapping runs never both send it; a crash repeats at
//!   most the one transfer in flight.
//! - A download that fails (Nexus or Qargo unavailable, Qargo not matching the stop yet) leaves the
//!   consignment on the cursor's retry list; the next run reads it again.
//! - An upload that cannot finish (Nexus or Qargo unavailable, the signatory not in Qargo yet, a
//!   transfer held by another run) is kept in the delivery depot's cursor as a pending upload, the
//!   file already in S3 when the bridge had it, and every scheduled run tries again — for the late
//!   window, then it is dropped with a warning. An upload whose answer was lost is checked against
//!   the consignment's attachments (by its file name, which carries the SHA-256) before it is sent
//!   again.
//! - A consignment without documents yet is not an error: nothing to do until it changes.

mod download;
mod files;
mod upload;

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::domain::{DepotCode, DepotRole, DocumentKind, Network, NexusConsignmentId};
use crate::error::StoreError;
use crate::jobs::seen_listing;
use crate::jobs::status_sync::SyncOptions;
use crate::qargo::QargoError;
use crate::rules::cutoff::london_now;
use crate::store::{ConsignmentSync, CursorKey, SyncKey, SyncedDocument};
use crate::visibility::InvalidVisibility;
use crate::wiring::Bridge;

pub use download::SEEN_ATTACHMENT_RECHECK;
pub use upload::upload_document_update;

use download::{download_depot, download_depot_seen};
use upload::retry_uploads;

/// The job's name in cursor keys.
pub const JOB: &str = "pod-sync";
/// How long a run holds a document it transfers.
pub const TRANSFER_LEASE: SignedDuration = SignedDuration::from_mins(5);
/// The largest file Nexus takes.
pub const NEXUS_MAX_BYTES: usize = 25 * 1024 * 1024;
/// Files up to this size travel inside the Qargo status update; larger ones through `upload_content`.
pub const EMBED_LIMIT: usize = 4 * 1024 * 1024;
/// How long a delivered consignment's sync state is kept after its late window.
pub const FORGET_AFTER_WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24);
/// The question answer that carries a signature's signatory into Qargo.
pub const SIGNED_BY_ANSWER: &str = "signed_by";
/// Saves of a sync state or cursor tried before giving up on a record others keep changing.
const SAVE_ATTEMPTS: u32 = 10;

/// What a scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodReport {
    /// Consignments the listings returned (overlap included).
    pub listed: u32,
    /// Records Nexus listed that could not be read: each logged and left out.
    pub unreadable: u32,
    /// Delivered consignments another depot delivers and the bridge follows.
    pub delivered: u32,
    /// Of those, past their late window: no request made.
    pub window_closed: u32,
    /// Consignments whose attachments were listed.
    pub attachments_listed: u32,
    /// Files fetched from Nexus.
    pub downloaded: u32,
    /// Documents attached in Qargo.
    pub sent_to_qargo: u32,
    /// Files whose bytes were synced before (recorded, not sent again).
    pub already_synced: u32,
    /// Pending uploads tried again.
    pub uploads_retried: u32,
    /// Files uploaded to Nexus by those retries.
    pub uploaded: u32,
    /// Pending uploads given up after the late window.
    pub abandoned: u32,
    /// Consignments read again from the retry list (one Nexus request each).
    pub retried: u32,
    /// Consignments left for a later run.
    pub retry_later: u32,
    /// Delivered consignments with no Qargo order to put documents on.
    pub not_followed: u32,
    /// Nexus requests made.
    pub nexus_requests: u32,
    /// Qargo calls made (webhooks and API).
    pub qargo_calls: u32,
    /// Whether a depot's Nexus request budget ran out during the run: the rest waits for the next
    /// run (the cursor stands where the run stopped), not a failure.
    pub nexus_budget_spent: bool,
    /// Why consignments or uploads were left for later, one line each.
    pub problems: Vec<String>,
}

/// A run that stopped early; the next run resumes where the cursor stands.
#[derive(Debug, thiserror::Error)]
#[error("POD sync did not finish: {}", .reasons.join("; "))]
pub struct PodSyncFailed {
    /// What was done before.
    pub report: PodReport,
    /// Why it stopped, one line per depot.
    pub reasons: Vec<String>,
}

/// What the upload did with one `Document` update. Every variant but [`UploadOutcome::Uploaded`]
/// sent nothing to Nexus, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UploadOutcome {
    /// The file is on Nexus now.
    Uploaded {
        /// Network.
        network: Network,
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Its kind.
        kind: DocumentKind,
        /// SHA-256 of the bytes.
        sha256: String,
        /// The Nexus attachment.
        attachment_id: i64,
        /// The depot that uploaded it.
        depot: DepotCode,
    },
    /// This document, or the same bytes, was synced before.
    AlreadySynced {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// SHA-256, when known.
        sha256: Option<String>,
    },
    /// The bytes came from Nexus (the download put them in Qargo): never sent back.
    CameFromNexus {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// SHA-256.
        sha256: String,
    },
    /// Not a signature, signed POD or delivery photo, or not a new document.
    Ignored {
        /// Why.
        reason: String,
    },
    /// The order is not on a network (no Nexus identity in its additional fields).
    NotNexus {
        /// The Qargo order, if the update had one.
        order_id: Option<String>,
    },
    /// None of our depots delivers the consignment: its evidence is the delivering depot's to upload.
    NotOurDelivery {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Our roles on it.
        roles: Vec<DepotRole>,
    },
    /// The consignment cannot be found: a malformed identity, or none of our depots sees it.
    UnknownConsignment {
        /// Why.
        reason: String,
    },
    /// Kept as a pending upload; a scheduled run tries again.
    Deferred {
        /// Why it could not finish now.
        reason: String,
    },
    /// The file is larger than Nexus takes.
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Nexus or Qargo refused for good (e.g. a cancelled consignment, a document gone from Qargo).
    Refused {
        /// What was said.
        reason: String,
    },
}

/// A failure of the upload worth retrying the whole update for (or a misrouted update).
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// The update is not a readable `Document` update.
    #[error(transparent)]
    Invalid(#[from] InvalidVisibility),
    /// The sync state, the cursor or S3 could not be read or written.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A record kept changing under us, or could not be read.
    #[error("{0}; retry")]
    Record(String),
}

// ---- the scheduled run ---------------------------------------------------------------------------

/// The cursor's position: the `lastUpdated` read up to, consignments to read again, and uploads to
/// try again (by Qargo document id).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Position {
    since: Option<DateTime>,
    #[serde(default)]
    retry: BTreeSet<(Network, i64)>,
    #[serde(default)]
    uploads: BTreeMap<String, PendingUpload>,
    /// With the seen listing: when each delivered consignment's attachments were last looked at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attachments_checked: BTreeMap<i64, Timestamp>,
}

/// An upload that could not finish, with what is needed to do it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PendingUpload {
    network: Network,
    nexus_consignment_id: NexusConsignmentId,
    order_id: String,
    document_id: String,
    kind: DocumentKind,
    /// The depot that delivers, once known.
    #[serde(default)]
    depot: Option<DepotCode>,
    /// The depot that booked it (dispatch's `NexusDepot`), tried first to read it.
    #[serde(default)]
    booked_by: Option<DepotCode>,
    /// The file in S3, once stored.
    #[serde(default)]
    stored: Option<StoredFile>,
    /// An upload was sent and its answer lost: look on Nexus before sending again.
    #[serde(default)]
    attempted: bool,
    /// When Qargo says the document was added.
    at: Timestamp,
    /// When the bridge first tried.
    first_seen: Timestamp,
    /// Why it is pending.
    #[serde(default)]
    reason: String,
    /// Qargo's `document_content.download_url` (checked to be on Qargo's own API host), when the
    /// update gave one; otherwise the file is fetched by `document_id`.
    #[serde(default)]
    download_url: Option<String>,
}

/// A POD file in the document store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredFile {
    key: String,
    content_type: String,
    sha256: String,
}

/// Runs the download side for every configured depot, and tries the pending uploads again.
pub async fn sync_documents(bridge: &Bridge, options: &SyncOptions) -> Result<PodReport, PodSyncFailed> {
    let mut report = PodReport::default();
    let mut reasons = Vec::new();
    for depot in &bridge.settings.depots {
        if let Err(reason) = sync_depot(bridge, options, &depot.code, &mut report).await {
            if bridge.nexus.for_depot(&depot.code).is_some_and(|nexus| nexus.budget_spent()) {
                tracing::info!(depot = %depot.code, %reason, "POD sync left the rest for the next run");
                report.nexus_budget_spent = true;
                continue;
            }
            tracing::warn!(depot = %depot.code, %reason, "POD sync stopped for the depot");
            reasons.push(format!("{}: {reason}", depot.code));
        }
    }
    tracing::info!(
        listed = report.listed,
        delivered = report.delivered,
        window_closed = report.window_closed,
        downloaded = report.downloaded,
        sent_to_qargo = report.sent_to_qargo,
        uploaded = report.uploaded,
        retry = report.retry_later,
        nexus_requests = report.nexus_requests,
        "POD sync run"
    );
    if reasons.is_empty() { Ok(report) } else { Err(PodSyncFailed { report, reasons }) }
}

/// Why a depot's run stopped.
type Stop = String;

/// What a run changes in its cursor, merged into whatever the cursor holds when it is written (the
/// upload side adds pending uploads at any time).
#[derive(Debug, Default)]
struct CursorChanges {
    read_up_to: Option<DateTime>,
    /// Consignments this run dealt with (taken off the retry list unless put back).
    handled: BTreeSet<(Network, i64)>,
    retry: BTreeSet<(Network, i64)>,
    uploads_done: BTreeSet<String>,
    uploads_kept: BTreeMap<String, PendingUpload>,
    /// With the seen listing: attachments looked at by this run, and the ids the complete listing
    /// showed (the others left the window).
    attachments_checked: BTreeMap<i64, Timestamp>,
    seen_listed: Option<BTreeSet<i64>>,
}

impl CursorChanges {
    fn apply(&self, position: &mut Position) {
        position.since = position.since.max(self.read_up_to);
        position.retry.retain(|key| !self.handled.contains(key));
        position.retry.extend(self.retry.iter().copied());
        for done in &self.uploads_done {
            position.uploads.remove(done);
        }
        for (id, upload) in &self.uploads_kept {
            position.uploads.insert(id.clone(), upload.clone());
        }
        position.attachments_checked.extend(self.attachments_checked.iter().map(|(id, at)| (*id, *at)));
        if let Some(listed) = &self.seen_listed {
            position.attachments_checked.retain(|id, _| listed.contains(id));
        }
    }
}

async fn sync_depot(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    report: &mut PodReport,
) -> Result<(), Stop> {
    let nexus = bridge.nexus.for_depot(depot).ok_or_else(|| format!("no Nexus user for {depot} in the secret"))?;
    let key = cursor_key(depot);
    let position = read_position(bridge, &key).await?.map(|(position, _)| position).unwrap_or_default();
    let uk_now = london_now(bridge.clock.now()).datetime();
    let window_start = match position.since {
        Some(since) => since.checked_sub(bridge.settings.poll_overlap).unwrap_or(since),
        None => uk_now.checked_sub(bridge.settings.pod_late_window).unwrap_or(uk_now),
    };
    let mut changes = CursorChanges { read_up_to: position.since, ..CursorChanges::default() };
    let stopped = if seen_listing::in_use(bridge) {
        download_depot_seen(bridge, options, depot, &nexus, &position, &mut changes, report).await
    } else {
        download_depot(bridge, options, &nexus, window_start, &position, &mut changes, report).await
    };
    let stopped = match stopped {
        Err(reason) => Some(reason),
        Ok(()) => retry_uploads(bridge, options, &position, &mut changes, report).await.err(),
    };
    update_position(bridge, &key, |current| changes.apply(current)).await?;
    match stopped {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

// ---- sync state and cursor ------------------------------------------------------------------------

fn cursor_key(depot: &DepotCode) -> CursorKey {
    CursorKey { job: JOB, depot: depot.clone(), network: depot.networks()[0] }
}

async fn read_position(bridge: &Bridge, key: &CursorKey) -> Result<Option<(Position, u64)>, String> {
    let Some(cursor) = bridge.cursors.read(key).await.map_err(|err| err.to_string())? else { return Ok(None) };
    let position = serde_json::from_str(&cursor.position)
        .map_err(|err| format!("the cursor {} is unreadable ({err}); delete it to start again", key.storage_key()))?;
    Ok(Some((position, cursor.version)))
}

/// Applies `change` to the stored position and writes it (compare-and-set, re-read on a conflict).
async fn update_position(bridge: &Bridge, key: &CursorKey, change: impl Fn(&mut Position)) -> Result<(), String> {
    for _ in 0..SAVE_ATTEMPTS {
        let (mut position, version) = match read_position(bridge, key).await? {
            Some((position, version)) => (position, Some(version)),
            None => (Position::default(), None),
        };
        change(&mut position);
        let encoded = serde_json::to_string(&position).map_err(|err| err.to_string())?;
        if bridge
            .cursors
            .compare_and_set(key, version, &encoded, bridge.clock.now())
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
    }
    Err(format!("the cursor {} kept changing", key.storage_key()))
}

/// Loads the state, lets `change` edit it (answering whether to save), and saves it (versioned,
/// re-loaded on a conflict); answers the state as saved.
async fn update_state(
    bridge: &Bridge,
    key: &SyncKey,
    mut change: impl FnMut(&mut ConsignmentSync) -> bool,
) -> Result<ConsignmentSync, PodError> {
    for _ in 0..SAVE_ATTEMPTS {
        let mut state = bridge.sync_state.load(key).await?.unwrap_or_default();
        if !change(&mut state) {
            return Ok(state);
        }
        if bridge.sync_state.save(key, &state).await? {
            state.version += 1;
            return Ok(state);
        }
    }
    Err(PodError::Record(format!("the sync state {} kept changing", key.storage_key())))
}

/// Takes a hold on each of `sources` not synced nor held by another run; answers those held and
/// the state as saved.
async fn claim(
    bridge: &Bridge,
    key: &SyncKey,
    sources: &[String],
    now: Timestamp,
) -> Result<(BTreeSet<String>, ConsignmentSync), PodError> {
    let mut held = BTreeSet::new();
    let state = update_state(bridge, key, |state| {
        held = sources
            .iter()
            .filter(|source| !state.pod_sources.contains_key(*source))
            .filter(|source| state.pod_in_flight.get(*source).is_none_or(|until| *until <= now))
            .cloned()
            .collect();
        for source in &held {
            state.pod_in_flight.insert(source.clone(), now + TRANSFER_LEASE);
        }
        !held.is_empty()
    })
    .await?;
    Ok((held, state))
}

/// Gives up the holds on `sources`.
async fn release(bridge: &Bridge, key: &SyncKey, sources: &BTreeSet<String>) -> Result<(), PodError> {
    update_state(bridge, key, |state| {
        let before = state.pod_in_flight.len();
        state.pod_in_flight.retain(|source, _| !sources.contains(source));
        state.pod_in_flight.len() != before
    })
    .await
    .map(drop)
}

/// Records a finished transfer: `source` → `sha256`, the document when new, the hold released.
async fn record_transfer(
    bridge: &Bridge,
    key: &SyncKey,
    source: &str,
    sha256: &str,
    document: Option<SyncedDocument>,
) -> Result<(), PodError> {
    update_state(bridge, key, |state| {
        state.pod_sources.insert(source.to_owned(), sha256.to_owned());
        if let Some(document) = &document {
            state.documents.entry(sha256.to_owned()).or_insert_with(|| document.clone());
        }
        state.pod_in_flight.remove(source);
        true
    })
    .await
    .map(drop)
}

// ---- small rules ---------------------------------------------------------------------------------

/// Whether Qargo could not be reached (or took our credentials badly): try again later.
fn is_unreachable(err: &QargoError) -> bool {
    matches!(err, QargoError::Unavailable { .. } | QargoError::Malformed(_) | QargoError::Unauthorized { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_changes_merge_into_what_another_writer_stored() {
        let at: Timestamp = "2026-06-17T09:00:00Z".parse().unwrap();
        let pending = |id: &str| PendingUpload {
            network: Network::Pallex,
            nexus_consignment_id: NexusConsignmentId(1),
            order_id: "o".into(),
            document_id: id.into(),
            kind: DocumentKind::PalletPhoto,
            depot: None,
            booked_by: None,
            stored: None,
            attempted: false,
            at,
            first_seen: at,
            reason: String::new(),
            download_url: None,
        };
        let mut stored = Position {
            since: Some("2026-06-17T10:00:00".parse().unwrap()),
            retry: [(Network::Pallex, 1), (Network::Pallex, 2)].into(),
            uploads: [("a".to_owned(), pending("a")), ("new".to_owned(), pending("new"))].into(),
            attachments_checked: [
                (7, "2026-06-17T08:00:00Z".parse().unwrap()),
                (8, "2026-06-17T08:00:00Z".parse().unwrap()),
            ]
            .into(),
        };
        let changes = CursorChanges {
            read_up_to: Some("2026-06-17T09:30:00".parse().unwrap()),
            handled: [(Network::Pallex, 1), (Network::Pallex, 2)].into(),
            retry: [(Network::Pallex, 2), (Network::Fortec, 3)].into(),
            uploads_done: ["a".to_owned()].into(),
            uploads_kept: [("b".to_owned(), PendingUpload { reason: "later".into(), ..pending("b") })].into(),
            attachments_checked: [(9, "2026-06-17T09:00:00Z".parse().unwrap())].into(),
            seen_listed: Some([8, 9].into()),
        };
        changes.apply(&mut stored);
        let checked: Vec<i64> = stored.attachments_checked.keys().copied().collect();
        assert_eq!(checked, [8, 9], "this run's checks added, those no longer listed forgotten");
        assert_eq!(stored.since, Some("2026-06-17T10:00:00".parse().unwrap()), "never moves back");
        assert_eq!(stored.retry, [(Network::Pallex, 2), (Network::Fortec, 3)].into());
        let uploads: Vec<&str> = stored.uploads.keys().map(String::as_str).collect();
        assert_eq!(uploads, ["b", "new"], "done ones leave, kept and newly added ones stay");
        assert_eq!(stored.uploads["b"].reason, "later");
    }
}
