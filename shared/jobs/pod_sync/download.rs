//! The download: the documents of a consignment another depot delivers, from Nexus into Qargo
//! (listed by delta or by the seen listing), and the late window that bounds how long they are
//! looked for.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::files::{evidence_file_name, extension_for, media_type};
use super::{
    CursorChanges, EMBED_LIMIT, FORGET_AFTER_WINDOW, PodError, PodReport, Position, SIGNED_BY_ANSWER, Stop, claim,
    is_unreachable, record_transfer, release, update_state,
};
use crate::clock::{london, uk_time_with_offset as with_offset};
use crate::domain::{DepotCode, DepotRole, DocumentKind, Network, NexusConsignmentId};
use crate::jobs::lookup::{network_of, stop_target};
use crate::jobs::seen_listing;
use crate::jobs::status_sync::{SyncOptions, roles_of};
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::{Attachment, Consignment};
use crate::nexus::{NexusClient, NexusError};
use crate::rules::cutoff::london_now;
use crate::rules::status_effects::StopKind;
use crate::store::{SyncDirection, SyncKey, SyncedDocument, document_key, sha256_hex};
use crate::wiring::Bridge;

/// How often the seen listing's run looks at a delivered consignment's attachments (within its late
/// window): a seen record does not change when a document is added.
pub const SEEN_ATTACHMENT_RECHECK: SignedDuration = SignedDuration::from_mins(30);

/// With the seen listing ([`seen_listing`]): every consignment of the window the depot may see;
/// those delivered that the bridge booked (another depot delivers them) have their attachments
/// looked at, at most every [`SEEN_ATTACHMENT_RECHECK`], within their late window.
pub(super) async fn download_depot_seen(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    nexus: &NexusClient,
    position: &Position,
    changes: &mut CursorChanges,
    report: &mut PodReport,
) -> Result<(), Stop> {
    let now = bridge.clock.now();
    let (listing, followed) = crate::jobs::order_import::list_followed(bridge, depot, nexus).await?;
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
pub(super) async fn download_depot(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_time_in_the_future_opens_the_window_now() {
        let now: Timestamp = "2026-06-18T12:00:00Z".parse().unwrap();
        assert_eq!(window_opens(Some("9999-12-31T23:59:59".parse().unwrap()), now), now);
        assert_eq!(window_opens(None, now), now);
        let earlier = window_opens(Some("2026-06-18T10:00:00".parse().unwrap()), now);
        assert_eq!(earlier, "2026-06-18T09:00:00Z".parse::<Timestamp>().unwrap(), "10:00 in London in June is 09:00Z");
    }

    #[test]
    fn qargo_times_carry_the_uk_offset() {
        assert_eq!(with_offset("2026-06-17T10:00:00".parse().unwrap()), "2026-06-17T10:00:00+01:00");
    }
}
