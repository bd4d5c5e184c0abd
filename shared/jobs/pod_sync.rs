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

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{london, uk_time_with_offset as with_offset};
use crate::domain::{DepotCode, DepotRole, DocumentKind, Network, NexusConsignmentId};
use crate::error::StoreError;
use crate::jobs::lookup::{LinkRefused, check_order_link, network_of, nexus_identity, read_consignment, stop_target};
use crate::jobs::seen_listing;
use crate::jobs::status_sync::{SyncOptions, roles_of};
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::{Attachment, Consignment};
use crate::nexus::{AttachmentUpload, NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::rules::cutoff::london_now;
use crate::rules::status_effects::StopKind;
use crate::store::{ConsignmentSync, CursorKey, SyncDirection, SyncKey, SyncedDocument, document_key, sha256_hex};
use crate::visibility::{InvalidVisibility, RoutedUpdate, UpdateKind};
use crate::wiring::Bridge;

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

/// How often the seen listing's run looks at a delivered consignment's attachments (within its late
/// window): a seen record does not change when a document is added.
pub const SEEN_ATTACHMENT_RECHECK: SignedDuration = SignedDuration::from_mins(30);

/// With the seen listing ([`seen_listing`]): every consignment of the window the depot may see;
/// those delivered that the bridge booked (another depot delivers them) have their attachments
/// looked at, at most every [`SEEN_ATTACHMENT_RECHECK`], within their late window.
async fn download_depot_seen(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    nexus: &NexusClient,
    position: &Position,
    changes: &mut CursorChanges,
    report: &mut PodReport,
) -> Result<(), Stop> {
    let now = bridge.clock.now();
    let (listing, followed) = seen_listing::list_followed(bridge, depot, nexus).await?;
    report.nexus_requests += listing.requests;
    report.listed += listing.consignments.len() as u32;
    report.unreadable += listing.skipped as u32;
    if listing.skipped == 0 {
        changes.seen_listed = Some(listing.consignments.iter().map(|c| c.consignment_id).collect());
    }
    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|d| &d.code).collect();
    for record in listing.consignments.iter().filter(|c| is_delivered(c)) {
        let id = record.consignment_id;
        let recent =
            position.attachments_checked.get(&id).is_some_and(|at| now.duration_since(*at) < SEEN_ATTACHMENT_RECHECK);
        if recent {
            continue;
        }
        let Some(whose) = followed.whose(bridge, depot, id).await? else { continue };
        let mut consignment = record.clone();
        seen_listing::fill(&mut consignment, depot, &whose);
        let roles = roles_of(&consignment, &ours);
        if roles.is_empty() || roles.contains(&DepotRole::Delivery) {
            continue;
        }
        if options.out_of_time() {
            return Err("out of time".to_owned());
        }
        let network = whose.network();
        match download_consignment(bridge, nexus, network, &consignment, &roles, &ours, report).await? {
            Outcome::Done => {
                changes.attachments_checked.insert(id, now);
            }
            // Not marked as looked at: the next run looks again.
            Outcome::Later(reason) => {
                report.retry_later += 1;
                report.problems.push(format!("{network} {id}: {reason}"));
            }
        }
    }
    Ok(())
}

/// Lists the changed consignments and downloads the new documents of those delivered.
async fn download_depot(
    bridge: &Bridge,
    options: &SyncOptions,
    nexus: &NexusClient,
    window_start: DateTime,
    position: &Position,
    changes: &mut CursorChanges,
    report: &mut PodReport,
) -> Result<(), Stop> {
    let mut changed: BTreeMap<(Network, i64), Consignment> = BTreeMap::new();
    let mut read_up_to = position.since;
    let uk_now = london_now(bridge.clock.now()).datetime();
    let mut pages = nexus.changed_since(window_start, bridge.settings.nexus_list_page_size());
    while let Some(page) = pages.next_page().await.map_err(|err| format!("Nexus: {err}"))? {
        report.nexus_requests += 1;
        report.listed += page.len() as u32;
        for consignment in page {
            read_up_to = read_up_to.max(crate::jobs::lookup::cursor_time(consignment.last_updated, uk_now));
            if let Some(network) = network_of(&consignment) {
                changed.insert((network, consignment.consignment_id), consignment);
            }
        }
    }
    report.unreadable += pages.skipped() as u32;
    let carried: Vec<(Network, i64)> =
        position.retry.iter().filter(|key| !changed.contains_key(key)).copied().collect();
    for (network, id) in carried {
        report.nexus_requests += 1;
        report.retried += 1;
        match nexus.consignment(NexusConsignmentId(id), &[]).await {
            Ok(consignment) => {
                changed.insert((network, id), consignment);
            }
            Err(NexusError::NotFound { .. }) => {
                changes.handled.insert((network, id));
            }
            Err(err) => return Err(format!("Nexus: {err}")),
        }
    }
    // From here every listed consignment is dealt with or put on the retry list, so the cursor may
    // move past them; a listing cut short above leaves it where it was.
    changes.read_up_to = read_up_to;

    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|d| &d.code).collect();
    let mut stopped = None;
    for ((network, id), consignment) in &changed {
        changes.handled.insert((*network, *id));
        // The cheap checks first: only a consignment delivered by another depot is worth a request.
        let roles = roles_of(consignment, &ours);
        if !is_delivered(consignment) || roles.is_empty() || roles.contains(&DepotRole::Delivery) {
            continue;
        }
        if stopped.is_some() || options.out_of_time() {
            stopped.get_or_insert_with(|| "out of time".to_owned());
            changes.retry.insert((*network, *id));
            continue;
        }
        match download_consignment(bridge, nexus, *network, consignment, &roles, &ours, report).await {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Later(reason)) => {
                report.retry_later += 1;
                report.problems.push(format!("{network} {id}: {reason}"));
                changes.retry.insert((*network, *id));
            }
            Err(reason) => {
                report.retry_later += 1;
                changes.retry.insert((*network, *id));
                stopped = Some(reason);
            }
        }
    }
    match stopped {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

enum Outcome {
    Done,
    Later(String),
}

/// Brings the new documents of one delivered consignment into Qargo.
async fn download_consignment(
    bridge: &Bridge,
    nexus: &NexusClient,
    network: Network,
    consignment: &Consignment,
    roles: &[DepotRole],
    ours: &BTreeSet<&DepotCode>,
    report: &mut PodReport,
) -> Result<Outcome, Stop> {
    let id = NexusConsignmentId(consignment.consignment_id);
    let key = SyncKey { network, nexus_consignment_id: id };
    let state = bridge.sync_state.load(&key).await.map_err(|err| err.to_string())?.unwrap_or_default();
    let Some(target) = stop_target(bridge, consignment, &state, roles, StopKind::Delivery) else {
        report.not_followed += 1;
        return Ok(Outcome::Done);
    };
    report.delivered += 1;
    let now = bridge.clock.now();
    let check_until = match state.pod_check_until {
        Some(until) => until,
        None => open_window(bridge, &key, consignment).await.map_err(|err| err.to_string())?,
    };
    if now > check_until {
        report.window_closed += 1;
        return Ok(Outcome::Done);
    }
    report.nexus_requests += 1;
    report.attachments_listed += 1;
    let attachments = match nexus.attachments(id).await {
        Ok(attachments) => attachments,
        Err(NexusError::NotFound { .. }) => return Ok(Outcome::Done),
        Err(err) if is_retryable(&err) => return Err(format!("Nexus: {err}")),
        Err(err) => return Ok(Outcome::Later(format!("Nexus refused the attachment list: {err}"))),
    };
    let fresh: Vec<(&Attachment, DocumentKind)> = attachments
        .iter()
        .filter_map(|attachment| attachment.attachment_type.code.parse().ok().map(|kind| (attachment, kind)))
        .filter(|(attachment, _)| !uploaded_by_us(attachment, ours))
        .filter(|(attachment, _)| !state.pod_sources.contains_key(&nexus_source(attachment)))
        .collect();
    if fresh.is_empty() {
        return Ok(Outcome::Done);
    }
    let sources: Vec<String> = fresh.iter().map(|(attachment, _)| nexus_source(attachment)).collect();
    let (mut held, state) = claim(bridge, &key, &sources, now).await.map_err(|err| err.to_string())?;
    // Bytes synced before, and those sent in this loop: the same file twice is sent once.
    let mut synced: BTreeMap<String, SyncDirection> =
        state.documents.iter().map(|(sha256, document)| (sha256.clone(), document.direction)).collect();
    let mut outcome = Outcome::Done;
    if held.len() < sources.len() {
        outcome = Outcome::Later("another run is transferring some of its documents".into());
    }
    let mut stop = None;
    for (attachment, kind) in fresh {
        let source = nexus_source(attachment);
        if !held.contains(&source) {
            continue;
        }
        let transfer = Transfer { bridge, nexus, key, target: &target };
        match transfer.download(attachment, kind, &source, &mut synced, report).await {
            Ok(Ok(())) => {
                held.remove(&source);
            }
            Ok(Err(reason)) => {
                outcome = Outcome::Later(reason);
                break;
            }
            Err(reason) => {
                stop = Some(reason);
                break;
            }
        }
    }
    if !held.is_empty() {
        release(bridge, &key, &held).await.map_err(|err| err.to_string())?;
    }
    match stop {
        Some(reason) => Err(reason),
        None => Ok(outcome),
    }
}

/// One attachment's way from Nexus into Qargo.
struct Transfer<'a> {
    bridge: &'a Bridge,
    nexus: &'a NexusClient,
    key: SyncKey,
    target: &'a Value,
}

impl Transfer<'_> {
    /// `Ok(Err(reason))`: leave it for a later run; `Err`: Nexus, Qargo or the store is unavailable.
    async fn download(
        &self,
        attachment: &Attachment,
        kind: DocumentKind,
        source: &str,
        synced: &mut BTreeMap<String, SyncDirection>,
        report: &mut PodReport,
    ) -> Result<Result<(), String>, Stop> {
        let (bridge, key) = (self.bridge, self.key);
        report.nexus_requests += 1;
        let fetched =
            if bridge.settings.nexus_capabilities.has(Capability::AttachmentContent) && attachment.attachment_id > 0 {
                self.nexus.attachment_content(attachment.attachment_id).await
            } else {
                match attachment.url.as_deref() {
                    Some(url) => self.nexus.attachment_by_url(url).await,
                    None => {
                        return Ok(Err(format!(
                            "attachment {} has no url and this Nexus has no attachment-content route",
                            attachment.attachment_id
                        )));
                    }
                }
            };
        let file = match fetched {
            Ok(file) => file,
            Err(err) if is_retryable(&err) => return Err(format!("Nexus: {err}")),
            Err(err) => return Ok(Err(format!("Nexus refused attachment {}: {err}", attachment.attachment_id))),
        };
        report.downloaded += 1;
        let given = attachment.content_type.as_deref().unwrap_or(&file.content_type);
        let content_type = media_type(given, &file.bytes, attachment.file_name.as_deref());
        let sha256 = sha256_hex(&file.bytes);
        if let Some(direction) = synced.get(&sha256) {
            tracing::info!(consignment = %key.nexus_consignment_id, %sha256, ?direction, "bytes synced before; not sent again");
            report.already_synced += 1;
            record_transfer(bridge, &key, source, &sha256, None).await.map_err(|err| err.to_string())?;
            return Ok(Ok(()));
        }
        let store_key =
            document_key::pod(key.network, key.nexus_consignment_id, kind, &sha256, extension_for(&content_type));
        bridge.documents.put(&store_key, file.bytes.clone(), &content_type).await.map_err(|err| err.to_string())?;
        let file_name = attachment
            .file_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| evidence_file_name(kind, key.nexus_consignment_id, &sha256, &content_type));
        let at = attachment.created_date.unwrap_or_else(|| london_now(bridge.clock.now()).datetime());
        let evidence = Evidence {
            kind,
            file_name: &file_name,
            content_type: &content_type,
            bytes: file.bytes,
            signed_by: attachment.signed_by.as_deref(),
            at,
        };
        if let Err(reason) = attach_in_qargo(bridge, report, self.target, evidence).await? {
            return Ok(Err(reason));
        }
        report.sent_to_qargo += 1;
        let document =
            SyncedDocument { kind, direction: SyncDirection::Download, store_key, synced_at: bridge.clock.now() };
        record_transfer(bridge, &key, source, &sha256, Some(document)).await.map_err(|err| err.to_string())?;
        synced.insert(sha256.clone(), SyncDirection::Download);
        tracing::info!(consignment = %key.nexus_consignment_id, kind = %kind, %sha256, "document from Nexus attached in Qargo");
        Ok(Ok(()))
    }
}

/// A file on its way into Qargo.
struct Evidence<'a> {
    kind: DocumentKind,
    file_name: &'a str,
    content_type: &'a str,
    bytes: Vec<u8>,
    signed_by: Option<&'a str>,
    at: DateTime,
}

/// Puts a file on the delivery stop `target` with its Qargo type (and the signatory); `Ok(Err)`
/// when Qargo discarded it (no or several matching stops: worth a later retry), `Err` when Qargo
/// could not be reached.
async fn attach_in_qargo(
    bridge: &Bridge,
    report: &mut PodReport,
    target: &Value,
    evidence: Evidence<'_>,
) -> Result<Result<(), String>, Stop> {
    // Qargo's document answer: an array of `{remote_document | embedded_document}` under the
    // question path configured for the kind (`MPOD`, `POD`, `MPODPHOTOE`), which sets its type.
    let document = if evidence.bytes.len() > EMBED_LIMIT {
        report.qargo_calls += 1;
        match bridge.qargo.upload_content(evidence.file_name, evidence.content_type, evidence.bytes).await {
            Ok(upload_id) => json!({"remote_document": {"upload_id": upload_id}}),
            Err(err) if is_unreachable(&err) => return Err(format!("Qargo: {err}")),
            Err(err) => return Ok(Err(format!("Qargo refused the file: {err}"))),
        }
    } else {
        json!({"embedded_document": {
            "content": STANDARD.encode(&evidence.bytes),
            "content_type": evidence.content_type,
            "filename": evidence.file_name,
        }})
    };
    let mut answers = serde_json::Map::new();
    answers.insert(evidence.kind.code().to_owned(), json!([document]));
    if let Some(name) = evidence.signed_by.map(str::trim).filter(|name| !name.is_empty()) {
        answers.insert(SIGNED_BY_ANSWER.to_owned(), json!(name));
    }
    let mut stop = target.clone();
    if let Value::Object(map) = &mut stop {
        map.insert("question_answers".into(), Value::Object(answers));
    }
    let body = json!({"updates": [{"event_time": with_offset(evidence.at), "stop": stop}]});
    report.qargo_calls += 1;
    let answer = match bridge.qargo.subco_status_update(&body).await {
        Ok(answer) => answer,
        Err(err) if is_unreachable(&err) => return Err(format!("Qargo: {err}")),
        Err(refused) => return Ok(Err(format!("Qargo refused the document: {refused}"))),
    };
    Ok(match answer.errors.first() {
        None => Ok(()),
        Some(error) => Err(format!("Qargo discarded the document: {}", error.error_message)),
    })
}

/// Records when the late window of a consignment first seen delivered ends; answers it.
async fn open_window(bridge: &Bridge, key: &SyncKey, consignment: &Consignment) -> Result<Timestamp, PodError> {
    // A delivery time in the future is a mistake on Nexus: the window opens now at the latest (and
    // no arithmetic on a far-future date can overflow).
    let until = window_opens(consignment.del_date_time, bridge.clock.now()) + bridge.settings.pod_late_window;
    let state = update_state(bridge, key, |state| {
        if state.pod_check_until.is_some() {
            return false;
        }
        state.pod_check_until = Some(until);
        state.forget_after.get_or_insert(until + FORGET_AFTER_WINDOW);
        true
    })
    .await?;
    Ok(state.pod_check_until.unwrap_or(until))
}

// ---- the upload side -----------------------------------------------------------------------------

/// What a `Document` update says.
#[derive(Debug, Clone, PartialEq)]
struct DocumentNotice {
    /// `update.id` when Qargo gives it (it is optional), else the id in the download URL, else
    /// `sha256:<hex>` of the embedded file: the key of the upload's de-duplication.
    document_id: String,
    status: Option<String>,
    document_type: Option<String>,
    /// The file when the update carries it (`EmbeddedDocument`: base64 `content`, `mime_type`).
    embedded: Option<(Vec<u8>, Option<String>)>,
    /// `RemoteDocument.download_url`, when the update points at the file instead.
    download_url: Option<String>,
}

/// Uploads the file of one `Document` update to Nexus when we deliver its consignment (module docs).
pub async fn upload_document_update(bridge: &Bridge, update: &RoutedUpdate) -> Result<UploadOutcome, PodError> {
    if update.kind != UpdateKind::Document {
        return Err(InvalidVisibility(format!(
            "a {} update reached the POD upload, which takes Document",
            update.kind
        ))
        .into());
    }
    let notice = read_notice(update)?;
    if let Some(status) = notice.status.as_deref().filter(|s| !matches!(*s, "CREATED" | "UPDATED")) {
        return Ok(UploadOutcome::Ignored { reason: format!("document status {status}") });
    }
    let document_type = notice.document_type.clone().unwrap_or_default();
    let Some(kind) = DocumentKind::from_qargo_document_type(&document_type) else {
        return Ok(UploadOutcome::Ignored {
            reason: format!("document type {document_type:?} is not delivery evidence"),
        });
    };
    let Some(order) = &update.order else {
        return Ok(UploadOutcome::NotNexus { order_id: None });
    };
    let identity = match nexus_identity(order) {
        None => return Ok(UploadOutcome::NotNexus { order_id: Some(order.id.clone()) }),
        Some(Err(reason)) => return Ok(UploadOutcome::UnknownConsignment { reason }),
        Some(Ok(identity)) => identity,
    };
    match check_order_link(bridge, identity.key, &order.id).await {
        Ok(()) => {}
        Err(LinkRefused::NotLinked(reason)) => return Err(PodError::Invalid(InvalidVisibility(reason))),
        Err(LinkRefused::Unavailable(reason)) => return Err(PodError::Record(reason)),
    }
    let now = bridge.clock.now();
    let mut upload = PendingUpload {
        network: identity.key.network,
        nexus_consignment_id: identity.key.nexus_consignment_id,
        order_id: order.id.clone(),
        document_id: notice.document_id.clone(),
        kind,
        depot: None,
        booked_by: identity.depot,
        stored: None,
        attempted: false,
        at: update.timestamp,
        first_seen: now,
        reason: String::new(),
        download_url: notice.download_url.clone(),
    };
    let embedded = notice.embedded.map(|(bytes, content_type)| {
        let content_type = media_type(content_type.as_deref().unwrap_or(""), &bytes, None);
        (bytes, content_type)
    });
    match transfer_upload(bridge, &mut upload, embedded.as_ref(), &mut Calls::default()).await? {
        Step::Done(outcome) => {
            tracing::info!(document = %upload.document_id, outcome = ?outcome, "Qargo document handled");
            Ok(outcome)
        }
        Step::Deferred(reason) => {
            if upload.stored.is_none()
                && let Some((bytes, content_type)) = &embedded
            {
                upload.stored = Some(store_file(bridge, &upload, bytes, content_type).await?);
            }
            upload.reason = reason.clone();
            remember_pending(bridge, upload).await?;
            tracing::warn!(%reason, "Qargo document kept for the next POD sync run");
            Ok(UploadOutcome::Deferred { reason })
        }
    }
}

/// Tries the pending uploads of the depot again.
async fn retry_uploads(
    bridge: &Bridge,
    options: &SyncOptions,
    position: &Position,
    changes: &mut CursorChanges,
    report: &mut PodReport,
) -> Result<(), Stop> {
    let now = bridge.clock.now();
    for (document_id, pending) in &position.uploads {
        if options.out_of_time() {
            return Err("out of time".into());
        }
        if now > pending.first_seen + bridge.settings.pod_late_window {
            tracing::warn!(document = %document_id, consignment = %pending.nexus_consignment_id, reason = %pending.reason,
                "pending upload given up after the late window");
            report.abandoned += 1;
            report.problems.push(format!("Qargo document {document_id} given up: {}", pending.reason));
            changes.uploads_done.insert(document_id.clone());
            continue;
        }
        report.uploads_retried += 1;
        let mut upload = pending.clone();
        let mut calls = Calls::default();
        let step = transfer_upload(bridge, &mut upload, None, &mut calls).await.map_err(|err| err.to_string());
        report.nexus_requests += calls.nexus;
        report.qargo_calls += calls.qargo;
        match step? {
            Step::Done(outcome) => {
                if matches!(outcome, UploadOutcome::Uploaded { .. }) {
                    report.uploaded += 1;
                }
                tracing::info!(document = %document_id, outcome = ?outcome, "pending upload handled");
                changes.uploads_done.insert(document_id.clone());
            }
            Step::Deferred(reason) => {
                report.problems.push(format!("Qargo document {document_id}: {reason}"));
                upload.reason = reason;
                changes.uploads_kept.insert(document_id.clone(), upload);
            }
        }
    }
    Ok(())
}

/// Where an upload stands.
enum Step {
    Done(UploadOutcome),
    Deferred(String),
}

/// Requests an upload made, for the run's report.
#[derive(Debug, Default)]
struct Calls {
    nexus: u32,
    qargo: u32,
}

/// Takes one Qargo document to Nexus (module docs, steps 1–3). `embedded` is the file when the
/// update carried it. Updates `upload` with what it learnt (delivery depot, the stored file).
async fn transfer_upload(
    bridge: &Bridge,
    upload: &mut PendingUpload,
    embedded: Option<&(Vec<u8>, String)>,
    calls: &mut Calls,
) -> Result<Step, PodError> {
    let key = SyncKey { network: upload.network, nexus_consignment_id: upload.nexus_consignment_id };
    let id = upload.nexus_consignment_id;
    if let Err(refusal) = bridge
        .settings
        .nexus_capabilities
        .require(Capability::AttachmentUpload, format!("uploading a {} to consignment {id}", upload.kind.code()))
    {
        return Ok(Step::Done(UploadOutcome::Refused { reason: refusal.to_string() }));
    }
    let source = format!("qargo:{}", upload.document_id);
    let state = bridge.sync_state.load(&key).await?.unwrap_or_default();
    if state.pod_sources.contains_key(&source) {
        return Ok(Step::Done(UploadOutcome::AlreadySynced {
            nexus_consignment_id: id,
            sha256: state.pod_sources.get(&source).cloned(),
        }));
    }
    let known_sha = upload.stored.as_ref().map(|s| s.sha256.clone()).or_else(|| embedded.map(|(b, _)| sha256_hex(b)));
    if let Some(sha256) = known_sha
        && let Some(outcome) = synced_before(bridge, &key, &state, &source, &sha256).await?
    {
        return Ok(Step::Done(outcome));
    }

    let key = SyncKey { network: upload.network, nexus_consignment_id: upload.nexus_consignment_id };
    let first: Vec<&DepotCode> = upload.depot.iter().chain(upload.booked_by.iter()).collect();
    let consignment = match read_consignment(bridge, key, &first, &[], &mut calls.nexus).await {
        Ok(Some(consignment)) => consignment,
        Ok(None) => {
            return Ok(Step::Done(UploadOutcome::UnknownConsignment {
                reason: format!("consignment {id} on {} is not visible to any of our depots", upload.network),
            }));
        }
        Err(err) => return Ok(Step::Deferred(format!("Nexus: {err}"))),
    };
    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|d| &d.code).collect();
    let roles = roles_of(&consignment, &ours);
    let delivery_depot = consignment.delivery_depot_code.as_deref().and_then(|code| code.parse::<DepotCode>().ok());
    let Some(depot) = delivery_depot.filter(|_| roles.contains(&DepotRole::Delivery)) else {
        return Ok(Step::Done(UploadOutcome::NotOurDelivery { nexus_consignment_id: id, roles }));
    };
    upload.depot = Some(depot.clone());
    let Some(nexus) = bridge.nexus.for_depot(&depot) else {
        return Ok(Step::Deferred(format!(
            "no Nexus user for depot {depot} in the secrets: add it to upload its PODs"
        )));
    };

    let now = bridge.clock.now();
    let (held, _) = claim(bridge, &key, std::slice::from_ref(&source), now).await?;
    if held.is_empty() {
        return Ok(Step::Deferred("another run is transferring it".into()));
    }
    let held_by = Held { nexus: &nexus, depot: &depot, key: &key, source: &source };
    let step = upload_held(bridge, &held_by, upload, embedded, calls).await;
    // A finished transfer gave its hold up when it was recorded; this releases any other.
    release(bridge, &key, &held).await?;
    step
}

/// What an upload holds: the delivery depot's client, the consignment's sync state and the source.
struct Held<'a> {
    nexus: &'a NexusClient,
    depot: &'a DepotCode,
    key: &'a SyncKey,
    source: &'a str,
}

/// The part of an upload done while holding the document: bytes, checks, S3, signatory, Nexus.
async fn upload_held(
    bridge: &Bridge,
    held: &Held<'_>,
    upload: &mut PendingUpload,
    embedded: Option<&(Vec<u8>, String)>,
    calls: &mut Calls,
) -> Result<Step, PodError> {
    let (key, source) = (held.key, held.source);
    let id = upload.nexus_consignment_id;
    let (bytes, content_type) = match file_of(bridge, upload, embedded, calls).await? {
        Ok(file) => file,
        Err(step) => return Ok(step),
    };
    if bytes.len() > NEXUS_MAX_BYTES {
        tracing::warn!(document = %upload.document_id, bytes = bytes.len(), "file larger than Nexus takes; not uploaded");
        return Ok(Step::Done(UploadOutcome::TooLarge { bytes: bytes.len() }));
    }
    let sha256 = sha256_hex(&bytes);
    let state = bridge.sync_state.load(key).await?.unwrap_or_default();
    if let Some(outcome) = synced_before(bridge, key, &state, source, &sha256).await? {
        return Ok(Step::Done(outcome));
    }
    let stored = match &upload.stored {
        Some(stored) if stored.sha256 == sha256 => stored.clone(),
        _ => store_file(bridge, upload, &bytes, &content_type).await?,
    };
    upload.stored = Some(stored.clone());
    let file_name = evidence_file_name(upload.kind, id, &sha256, &content_type);

    if upload.attempted {
        // The last upload's answer was lost: it may be on Nexus already, under its file name.
        calls.nexus += 1;
        match held.nexus.attachments(id).await {
            Ok(attachments) => {
                if let Some(found) = attachments.iter().find(|a| a.file_name.as_deref() == Some(file_name.as_str())) {
                    return finish_upload(bridge, upload, held, &stored, found.attachment_id).await;
                }
            }
            Err(err) => return Ok(Step::Deferred(format!("Nexus: {err}"))),
        }
    }
    let (signed_by, signed_at) = match upload.kind {
        DocumentKind::Mpod => {
            calls.qargo += 1;
            match signatory(bridge, &upload.order_id).await {
                Ok(Some((name, at))) => (Some(name), at),
                Ok(None) => return Ok(Step::Deferred("the signatory's name is not on the Qargo order yet".into())),
                Err(err) => return Ok(Step::Deferred(format!("Qargo: {err}"))),
            }
        }
        _ => (None, None),
    };
    let captured = signed_at.unwrap_or(upload.at).min(bridge.clock.now());
    let attachment = AttachmentUpload {
        kind: upload.kind,
        file_name,
        content_type: content_type.clone(),
        bytes,
        signed_by,
        captured_at: Some(london_now(captured).datetime()),
    };
    calls.nexus += 1;
    match held.nexus.upload_attachment(id, &attachment).await {
        Ok(created) => finish_upload(bridge, upload, held, &stored, created.attachment_id).await,
        Err(err @ (NexusError::Unavailable { .. } | NexusError::Malformed(_))) => {
            upload.attempted = true;
            Ok(Step::Deferred(format!("Nexus: {err}")))
        }
        Err(err @ (NexusError::Unauthorized { .. } | NexusError::BudgetSpent { .. })) => {
            Ok(Step::Deferred(format!("Nexus: {err}")))
        }
        Err(err) => {
            tracing::warn!(consignment = %id, error = %err, "Nexus refused the POD upload");
            Ok(Step::Done(UploadOutcome::Refused { reason: err.to_string() }))
        }
    }
}

/// Records an upload Nexus holds now.
async fn finish_upload(
    bridge: &Bridge,
    upload: &PendingUpload,
    held: &Held<'_>,
    stored: &StoredFile,
    attachment_id: i64,
) -> Result<Step, PodError> {
    let document = SyncedDocument {
        kind: upload.kind,
        direction: SyncDirection::Upload,
        store_key: stored.key.clone(),
        synced_at: bridge.clock.now(),
    };
    record_transfer(bridge, held.key, held.source, &stored.sha256, Some(document)).await?;
    tracing::info!(consignment = %upload.nexus_consignment_id, kind = %upload.kind, sha256 = %stored.sha256, attachment_id,
        "Qargo document uploaded to Nexus");
    Ok(Step::Done(UploadOutcome::Uploaded {
        network: upload.network,
        nexus_consignment_id: upload.nexus_consignment_id,
        kind: upload.kind,
        sha256: stored.sha256.clone(),
        attachment_id,
        depot: held.depot.clone(),
    }))
}

/// The file's bytes and MIME type: from the update, from S3, or from Qargo. `Ok(Err(step))` when it
/// cannot be had now (or ever).
async fn file_of(
    bridge: &Bridge,
    upload: &PendingUpload,
    embedded: Option<&(Vec<u8>, String)>,
    calls: &mut Calls,
) -> Result<Result<(Vec<u8>, String), Step>, PodError> {
    if let Some((bytes, content_type)) = embedded {
        return Ok(Ok((bytes.clone(), content_type.clone())));
    }
    if let Some(stored) = &upload.stored
        && let Some((document, bytes)) = bridge.documents.get(&stored.key).await?
    {
        return Ok(Ok((bytes, document.content_type)));
    }
    calls.qargo += 1;
    let downloaded = match &upload.download_url {
        Some(url) => bridge.qargo.download_url(url).await,
        None => bridge.qargo.download_document(&upload.document_id).await,
    };
    match downloaded {
        Ok((content_type, bytes)) => {
            let content_type = media_type(&content_type, &bytes, None);
            Ok(Ok((bytes, content_type)))
        }
        Err(QargoError::NotFound { .. }) => Ok(Err(Step::Done(UploadOutcome::Refused {
            reason: format!("document {} is no longer in Qargo", upload.document_id),
        }))),
        Err(err) if is_unreachable(&err) || err.is_transient() => Ok(Err(Step::Deferred(format!("Qargo: {err}")))),
        Err(err) => Ok(Err(Step::Done(UploadOutcome::Refused { reason: format!("Qargo: {err}") }))),
    }
}

/// Stores the file under its SHA-256.
async fn store_file(
    bridge: &Bridge,
    upload: &PendingUpload,
    bytes: &[u8],
    content_type: &str,
) -> Result<StoredFile, PodError> {
    let sha256 = sha256_hex(bytes);
    let key = document_key::pod(
        upload.network,
        upload.nexus_consignment_id,
        upload.kind,
        &sha256,
        extension_for(content_type),
    );
    let stored = bridge.documents.put(&key, bytes.to_vec(), content_type).await?;
    Ok(StoredFile { key: stored.key, content_type: stored.content_type, sha256: stored.sha256 })
}

/// The outcome when `sha256` was synced before (and records `source` as that transfer too).
async fn synced_before(
    bridge: &Bridge,
    key: &SyncKey,
    state: &ConsignmentSync,
    source: &str,
    sha256: &str,
) -> Result<Option<UploadOutcome>, PodError> {
    let Some(known) = state.documents.get(sha256) else { return Ok(None) };
    record_transfer(bridge, key, source, sha256, None).await?;
    let id = key.nexus_consignment_id;
    Ok(Some(match known.direction {
        SyncDirection::Download => UploadOutcome::CameFromNexus { nexus_consignment_id: id, sha256: sha256.to_owned() },
        SyncDirection::Upload => {
            UploadOutcome::AlreadySynced { nexus_consignment_id: id, sha256: Some(sha256.to_owned()) }
        }
    }))
}

/// The consignee's name (and when they signed) from the signature data on the Qargo order: the
/// latest `CONSIGNEE` signature with a name.
async fn signatory(bridge: &Bridge, order_id: &str) -> Result<Option<(String, Option<Timestamp>)>, QargoError> {
    let order = bridge.qargo.order(order_id).await?;
    Ok(consignee_signature(&order))
}

fn consignee_signature(order: &Value) -> Option<(String, Option<Timestamp>)> {
    order
        .get("consignments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| c.get("signatures").and_then(Value::as_array).into_iter().flatten())
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("CONSIGNEE"))
        .filter_map(|s| {
            let name = s.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty())?;
            let at = s.get("timestamp").and_then(Value::as_str).and_then(|t| t.parse::<Timestamp>().ok());
            Some((name.to_owned(), at))
        })
        .max_by_key(|(_, at)| *at)
}

/// Reads a `Document` update as Qargo's spec has it (`DocumentUpdate`): `{id?, type, status,
/// document: {name, document_type, document_content: RemoteDocument {download_url} |
/// EmbeddedDocument {content, mime_type, filename}, subject}}`. The id is optional; content that is
/// not base64 is fetched from Qargo instead when there is a way to.
fn read_notice(update: &RoutedUpdate) -> Result<DocumentNotice, InvalidVisibility> {
    fn text(value: Option<&Value>) -> Option<&str> {
        value.and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty())
    }
    let document = update
        .update
        .get("document")
        .filter(|d| d.is_object())
        .ok_or_else(|| InvalidVisibility("update.document is missing or not an object".into()))?;
    let content = document.get("document_content");
    let download_url = text(content.and_then(|c| c.get("download_url"))).map(str::to_owned);
    let embedded = text(content.and_then(|c| c.get("content"))).and_then(|encoded| {
        let decoded = STANDARD.decode(encoded).ok().filter(|bytes| !bytes.is_empty());
        if decoded.is_none() {
            tracing::warn!("embedded document content is not base64; fetching the file from Qargo if it can be");
        }
        let content_type = text(content.and_then(|c| c.get("mime_type").or_else(|| c.get("content_type"))));
        decoded.map(|bytes| (bytes, content_type.map(str::to_owned)))
    });
    let document_id = text(update.update.get("id"))
        .map(str::to_owned)
        .or_else(|| download_url.as_deref().and_then(document_id_in_url))
        .or_else(|| embedded.as_ref().map(|(bytes, _)| format!("sha256:{}", sha256_hex(bytes))))
        .or_else(|| download_url.as_deref().map(|url| format!("url:{}", sha256_hex(url.as_bytes()))))
        .ok_or_else(|| {
            InvalidVisibility(
                "update.document.document_content has no download_url and no readable base64 content, and update.id is missing: nothing to fetch".into(),
            )
        })?;
    Ok(DocumentNotice {
        document_id,
        status: text(update.update.get("status")).map(str::to_ascii_uppercase),
        document_type: text(document.get("document_type")).map(str::to_owned),
        embedded,
        download_url,
    })
}

/// The document id in a Qargo download URL (`…/documents/document/<id>/download`).
fn document_id_in_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let (last, id, kind) = (segments.next()?, segments.next()?, segments.next()?);
    (last == "download" && kind == "document" && !id.is_empty()).then(|| id.to_owned())
}

/// Keeps an upload in its depot's cursor for the scheduled runs.
async fn remember_pending(bridge: &Bridge, upload: PendingUpload) -> Result<(), PodError> {
    let depot = upload
        .depot
        .clone()
        .or_else(|| upload.booked_by.clone().filter(|d| bridge.settings.depot(d).is_some()))
        .or_else(|| bridge.settings.depots.iter().map(|d| d.code.clone()).find(|d| d.is_member_of(upload.network)))
        .ok_or_else(|| PodError::Record(format!("none of our depots is on {}", upload.network)))?;
    let key = cursor_key(&depot);
    update_position(bridge, &key, |position| {
        position.uploads.insert(upload.document_id.clone(), upload.clone());
    })
    .await
    .map_err(PodError::Record)
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

/// When a delivered consignment's POD window opens: its delivery time (UK local), never later than
/// `now` — a delivery time in the future, even year 9999, opens it now.
fn window_opens(delivered: Option<DateTime>, now: Timestamp) -> Timestamp {
    delivered.and_then(|at| at.to_zoned(london()).ok()).map_or(now, |at| at.timestamp().min(now))
}

/// Delivered, with or without exception: the point at which delivery evidence exists.
fn is_delivered(consignment: &Consignment) -> bool {
    crate::jobs::lookup::consignment_status(consignment).is_some_and(|status| matches!(status.code(), "DEL" | "DLX"))
}

/// How an attachment is known in the sync state: its id, else (a seen item, which has none) its url.
fn nexus_source(attachment: &Attachment) -> String {
    match (attachment.attachment_id, attachment.url.as_deref()) {
        (0, Some(url)) => format!("nexus-url:{}", &sha256_hex(url.as_bytes())[..16]),
        (id, _) => format!("nexus:{id}"),
    }
}

/// An attachment one of our depots uploaded: it came from Qargo.
fn uploaded_by_us(attachment: &Attachment, ours: &BTreeSet<&DepotCode>) -> bool {
    attachment
        .uploaded_by_depot_code
        .as_deref()
        .is_some_and(|code| ours.iter().any(|depot| depot.as_str().eq_ignore_ascii_case(code)))
}

/// Whether a Nexus failure may pass: unavailable, unreadable, or our credentials refused.
fn is_retryable(err: &NexusError) -> bool {
    err.is_transient() || matches!(err, NexusError::Unauthorized { .. })
}

/// Whether Qargo could not be reached (or took our credentials badly): try again later.
fn is_unreachable(err: &QargoError) -> bool {
    matches!(err, QargoError::Unavailable { .. } | QargoError::Malformed(_) | QargoError::Unauthorized { .. })
}

/// The MIME type of a file: the one given, unless it is missing or generic, then the one its first
/// bytes show (PDF, PNG, JPEG, GIF, TIFF, WebP, HEIC), else the file name's extension.
fn media_type(given: &str, bytes: &[u8], file_name: Option<&str>) -> String {
    let given = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let given = match given.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
        _ => given,
    };
    if !given.is_empty() && given != "application/octet-stream" && given != "binary/octet-stream" {
        return given;
    }
    let sniffed = if bytes.starts_with(b"%PDF") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1") {
        Some("image/heic")
    } else {
        None
    };
    let by_name = || {
        let extension = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match extension.as_str() {
            "pdf" => "application/pdf",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            _ => return None,
        })
    };
    sniffed.or_else(by_name).unwrap_or("application/octet-stream").to_owned()
}

/// The file extension of a MIME type.
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/tiff" => "tiff",
        "image/webp" => "webp",
        "image/heic" => "heic",
        _ => "bin",
    }
}

/// The name a file gets on Nexus (and in Qargo when Nexus gave none): kind, consignment and the
/// start of its SHA-256, so a repeated upload can be recognised on Nexus by its name.
fn evidence_file_name(kind: DocumentKind, id: NexusConsignmentId, sha256: &str, content_type: &str) -> String {
    format!("{}_{id}_{}.{}", kind.code(), &sha256[..sha256.len().min(16)], extension_for(content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(update: Value, order: Value) -> RoutedUpdate {
        RoutedUpdate {
            kind: UpdateKind::Document,
            timestamp: "2026-06-17T09:00:00Z".parse().unwrap(),
            update,
            order: Some(serde_json::from_value(order).unwrap()),
        }
    }

    #[test]
    fn a_document_update_is_read_with_or_without_its_content() {
        let content = STANDARD.encode(b"\x89PNG\r\n\x1a\nrest");
        let embedded = routed(
            json!({"id": "d-1", "type": "Document", "status": "CREATED", "document": {"name": "s.png",
                   "document_type": "CONSIGNEE_SIGNATURE",
                   "document_content": {"content": content, "mime_type": "image/png", "filename": "s.png"}}}),
            json!({"id": "o-1"}),
        );
        let notice = read_notice(&embedded).unwrap();
        assert_eq!(notice.document_id, "d-1");
        assert_eq!(notice.status.as_deref(), Some("CREATED"));
        assert_eq!(notice.document_type.as_deref(), Some("CONSIGNEE_SIGNATURE"));
        assert_eq!(notice.embedded, Some((b"\x89PNG\r\n\x1a\nrest".to_vec(), Some("image/png".to_owned()))));

        let linked = routed(
            json!({"id": "d-2", "type": "Document", "document": {"document_type": "PHOTO_OF_GOODS_DELIVERY",
                   "document_content": {"download_url": "https://qargo/v1/documents/document/d-2/download"}}}),
            json!({"id": "o-1"}),
        );
        assert_eq!(read_notice(&linked).unwrap().embedded, None);
        let omitted = routed(
            json!({"id": "d-3", "type": "Document", "document": {"document_type": "PHOTO_OF_GOODS_DELIVERY",
                   "document_content": {"content_omitted": true, "filename": "p.jpg"}}}),
            json!({"id": "o-1"}),
        );
        assert_eq!(read_notice(&omitted).unwrap().embedded, None, "an update too large for the bus is fetched");
        let not_base64 = routed(
            json!({"id": "d-4", "type": "Document", "document": {"document_content": {"content": "%%%"}}}),
            json!({"id": "o-1"}),
        );
        assert_eq!(read_notice(&not_base64).unwrap().embedded, None);

        // `id` is optional in Qargo's spec: the download URL's id, or the embedded file's digest.
        let url_only = routed(
            json!({"type": "Document", "status": "CREATED", "document": {"document_type": "PROOF_OF_DELIVERY",
                   "document_content": {"download_url": "https://api.qargo.com/v1/documents/document/d-9/download"}}}),
            json!({"id": "o-1"}),
        );
        assert_eq!(read_notice(&url_only).unwrap().document_id, "d-9");
        let embedded_only = routed(
            json!({"id": null, "type": "Document", "document": {"document_type": "CONSIGNEE_SIGNATURE",
                   "document_content": {"content": content, "mime_type": "image/png", "filename": "s.png"}}}),
            json!({"id": "o-1"}),
        );
        assert_eq!(
            read_notice(&embedded_only).unwrap().document_id,
            format!("sha256:{}", sha256_hex(b"\x89PNG\r\n\x1a\nrest"))
        );
        let no_id = routed(json!({"type": "Document", "document": {}}), json!({"id": "o-1"}));
        assert!(read_notice(&no_id).unwrap_err().0.contains("update.id"));
        let no_document = routed(json!({"id": "d-5", "type": "Document"}), json!({"id": "o-1"}));
        assert!(read_notice(&no_document).unwrap_err().0.contains("update.document"));
    }

    #[test]
    fn the_signatory_is_the_latest_consignee_who_signed() {
        let order = json!({"consignments": [
            {"signatures": [{"type": "DRIVER", "name": "Driver Dan", "timestamp": "2026-06-17T10:00:00Z"}]},
            {"signatures": [
                {"type": "CONSIGNEE", "name": "A Early", "timestamp": "2026-06-17T09:00:00Z"},
                {"type": "CONSIGNEE", "name": "  J Smith ", "timestamp": "2026-06-17T09:30:00Z"},
                {"type": "CONSIGNEE", "name": "", "timestamp": "2026-06-17T11:00:00Z"},
            ]},
        ]});
        let (name, at) = consignee_signature(&order).unwrap();
        assert_eq!(name, "J Smith");
        assert_eq!(at, Some("2026-06-17T09:30:00Z".parse().unwrap()));
        assert_eq!(consignee_signature(&json!({"consignments": [{"signatures": []}]})), None);
        assert_eq!(consignee_signature(&json!({})), None);
    }

    #[test]
    fn media_types_are_kept_or_read_from_the_file() {
        assert_eq!(media_type("image/JPG", b"", None), "image/jpeg");
        assert_eq!(media_type("image/png; charset=binary", b"", None), "image/png");
        assert_eq!(media_type("application/octet-stream", b"%PDF-1.4", None), "application/pdf");
        assert_eq!(media_type("", &[0xFF, 0xD8, 0xFF, 0xE0], None), "image/jpeg");
        assert_eq!(media_type("", b"\x89PNG\r\n\x1a\n...", None), "image/png");
        assert_eq!(media_type("", b"\0\0\0\x18ftypheic", None), "image/heic");
        assert_eq!(media_type("", b"????", Some("scan.PDF")), "application/pdf");
        assert_eq!(media_type("", b"????", None), "application/octet-stream");
        assert_eq!(extension_for("image/jpeg"), "jpg");
        assert_eq!(extension_for("application/x-unknown"), "bin");
    }

    #[test]
    fn a_delivery_time_in_the_future_opens_the_window_now() {
        let now: Timestamp = "2026-06-18T12:00:00Z".parse().unwrap();
        assert_eq!(window_opens(Some("9999-12-31T23:59:59".parse().unwrap()), now), now);
        assert_eq!(window_opens(None, now), now);
        let earlier = window_opens(Some("2026-06-18T10:00:00".parse().unwrap()), now);
        assert_eq!(earlier, "2026-06-18T09:00:00Z".parse::<Timestamp>().unwrap(), "10:00 in London in June is 09:00Z");
    }

    #[test]
    fn evidence_file_names_carry_kind_consignment_and_hash() {
        let sha = sha256_hex(b"photo");
        let name = evidence_file_name(DocumentKind::PalletPhoto, NexusConsignmentId(10020), &sha, "image/jpeg");
        assert_eq!(name, format!("MPODPHOTOE_10020_{}.jpg", &sha[..16]));
    }

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

    #[test]
    fn qargo_times_carry_the_uk_offset() {
        assert_eq!(with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
    }
}
