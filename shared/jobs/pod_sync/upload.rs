//! The upload: a Qargo `Document` update of a consignment one of our depots delivers, taken to
//! Nexus (at once, or from the cursor's pending uploads on the scheduled runs).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::Value;

use super::files::{evidence_file_name, extension_for, media_type};
use super::{
    CursorChanges, NEXUS_MAX_BYTES, PendingUpload, PodError, PodReport, Position, Stop, StoredFile, UploadOutcome,
    claim, cursor_key, is_unreachable, record_transfer, release, update_position,
};
use crate::domain::{DepotCode, DepotRole, DocumentKind};
use crate::jobs::lookup::{LinkRefused, check_order_link, nexus_identity, read_consignment};
use crate::jobs::status_sync::{SyncOptions, roles_of};
use crate::nexus::capabilities::Capability;
use crate::nexus::{AttachmentUpload, NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::rules::cutoff::london_now;
use crate::store::{ConsignmentSync, SyncDirection, SyncKey, SyncedDocument, document_key, sha256_hex};
use crate::visibility::{InvalidVisibility, RoutedUpdate, UpdateKind};
use crate::wiring::Bridge;

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

/// Uploads the file of one `Document` update to Nexus when we deliver its consignment (the
/// `pod_sync` module docs).
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
pub(super) async fn retry_uploads(
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

/// Takes one Qargo document to Nexus (the `pod_sync` module docs, steps 1–3). `embedded` is the file
/// when the update carried it. Updates `upload` with what it learnt (delivery depot, the stored file).
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
