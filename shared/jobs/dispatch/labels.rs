//! The labels of a booked dispatch: fetched (PDF, and ZPL for thermal-printer depots), stored and
//! attached to the pickup stop in Qargo with the Nexus identity written onto the order, one
//! delivery at a time.

use std::time::Duration;

use jiff::SignedDuration;
use serde_json::json;

use super::{BUSY_WAIT, LABEL_DOCUMENT_TYPE};
use crate::jobs::dispatch_plan::DispatchPlan;
use crate::nexus::LabelFormat;
use crate::qargo::order_update::{GoodsBarcodes, order_update};
use crate::store::{Booking, DispatchRecord, DispatchState, QargoLink, SyncKey, document_key};
use crate::wiring::Bridge;

/// Fetches, stores and attaches the labels of a booked dispatch and writes its Nexus identity to
/// the Qargo order, unless that is done already. A failure leaves the record `BOOKED` for a retry.
/// Whether an earlier delivery may have attached a booking's labels in Qargo already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attached {
    /// The booking was made by this delivery: nothing of it is in Qargo yet.
    No,
    /// An earlier delivery had the booking: look before attaching.
    Maybe,
}

/// Fetches, stores and attaches the labels of a booked record, one delivery at a time; `link`, when
/// given, is written to the sync state with the label lease (the same save).
pub(super) async fn finish_labels(
    bridge: &Bridge,
    plan: &DispatchPlan,
    record: DispatchRecord,
    attached: Attached,
    link: Option<QargoLink>,
) -> (DispatchRecord, Vec<String>) {
    let Some(booking) = &record.booking else { return (record, Vec::new()) };
    let key = SyncKey { network: booking.network, nexus_consignment_id: booking.nexus_consignment_id };
    if record.state != DispatchState::Booked {
        if let Some(link) = &link {
            remember_qargo_link(bridge, &key, link).await;
        }
        return (record, Vec::new());
    }
    // One delivery at a time attaches: the others wait for it (or for its lease to run out).
    if !take_label_lease(bridge, &key, link.as_ref()).await {
        if let Some(link) = &link {
            remember_qargo_link(bridge, &key, link).await;
        }
        return wait_for_labels(bridge, record).await;
    }
    let outcome = match label_and_attach(bridge, plan, &record, attached).await {
        Ok(keys) => match bridge.ledger.record_labelled(&record.qargo_consignment_id, keys, bridge.clock.now()).await {
            Ok(labelled) => (labelled, Vec::new()),
            Err(err) => (record, vec![format!("labels attached but not recorded ({err})")]),
        },
        Err(reason) => {
            tracing::warn!(consignment = %record.qargo_consignment_id, %reason, "labels pending");
            (record, vec![reason])
        }
    };
    release_label_lease(bridge, &key).await;
    outcome
}

/// How long a delivery holds the labelling of a booking; one that dies is replaced after it.
const LABEL_LEASE: SignedDuration = SignedDuration::from_secs(60);

/// Takes the labelling of a booking (a versioned save in its sync state, which also records `link`
/// when given); false while another delivery holds it.
async fn take_label_lease(bridge: &Bridge, key: &SyncKey, link: Option<&QargoLink>) -> bool {
    let now = bridge.clock.now();
    let Ok(state) = bridge.sync_state.load(key).await else { return false };
    let mut state = state.unwrap_or_default();
    if state.labels_until.is_some_and(|until| until > now) {
        return false;
    }
    state.labels_until = Some(now + LABEL_LEASE);
    if let Some(link) = link {
        state.qargo = Some(link.clone());
    }
    matches!(bridge.sync_state.save(key, &state).await, Ok(true))
}

async fn release_label_lease(bridge: &Bridge, key: &SyncKey) {
    for _ in 0..3 {
        let Ok(Some(mut state)) = bridge.sync_state.load(key).await else { return };
        state.labels_until = None;
        if !matches!(bridge.sync_state.save(key, &state).await, Ok(false)) {
            return;
        }
    }
}

/// Waits for the delivery that holds the labelling to record the labels.
async fn wait_for_labels(bridge: &Bridge, record: DispatchRecord) -> (DispatchRecord, Vec<String>) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < BUSY_WAIT {
        tokio::time::sleep(Duration::from_millis(150 + fastrand::u64(0..150))).await;
        if let Ok(Some(current)) = bridge.ledger.get(&record.qargo_consignment_id).await
            && current.state != DispatchState::Booked
        {
            return (current, Vec::new());
        }
    }
    (record, vec!["another delivery of this dispatch is attaching the labels".into()])
}

async fn label_and_attach(
    bridge: &Bridge,
    plan: &DispatchPlan,
    record: &DispatchRecord,
    attached: Attached,
) -> Result<Vec<String>, String> {
    let booking = record.booking.as_ref().ok_or("the record has no booking")?;
    let depot = booking.depot.as_ref().unwrap_or(&plan.depot);
    let nexus = bridge.nexus.for_depot(depot).ok_or_else(|| format!("no Nexus user for depot {depot}"))?;
    let mut formats = vec![LabelFormat::Pdf];
    if plan.zpl_labels {
        formats.push(LabelFormat::Zpl);
    }
    // Each format fetched and stored at once: Nexus's latency is paid once, not per format.
    let fetched = futures::future::try_join_all(formats.into_iter().map(|format| {
        let nexus = &nexus;
        async move {
            let file = nexus
                .labels(booking.nexus_consignment_id, format, None)
                .await
                .map_err(|err| format!("fetching the {} labels: {err}", format.extension()))?;
            // Stored under what the bytes are (a label asked for as PDF may come back as an image).
            let key = document_key::label(booking.network, booking.nexus_consignment_id, None, file.extension());
            bridge
                .documents
                .put(&key, file.bytes.clone(), &file.content_type)
                .await
                .map_err(|err| format!("storing the labels: {err}"))?;
            Ok::<_, String>((format, key, file))
        }
    }))
    .await?;
    let mut keys = Vec::new();
    let mut pdf = None;
    for (format, key, file) in fetched {
        if format == LabelFormat::Pdf {
            pdf = Some(file);
        }
        keys.push(key);
    }
    let pdf = pdf.ok_or("no PDF labels")?;
    let file_name = format!("{}-labels.{}", booking.consignment_number, pdf.extension());
    let identity = identity_update(plan, booking, "BOOKED")
        .ok_or("the dispatch named no Qargo order id, so the Nexus identity cannot be written to it")?;
    // The labels and the Nexus identity go to Qargo at once: two independent webhook calls, each
    // safe to repeat on a retry (the attachment is looked for first, the identity is a set).
    let attach = async {
        if let Some(stop_id) = &plan.pickup_stop_id
            && (attached == Attached::No || !already_attached(bridge, plan, &file_name).await)
        {
            let answer = bridge
                .qargo
                .subco_document_upload(stop_id, LABEL_DOCUMENT_TYPE, &file_name, &pdf.content_type, pdf.bytes.clone())
                .await
                .map_err(|err| format!("attaching the labels in Qargo: {err}"))?;
            webhook_ok(&answer, "attaching the labels in Qargo")?;
        }
        Ok::<(), String>(())
    };
    let write_identity = async {
        let answer = bridge
            .qargo
            .partial_order_update(&identity)
            .await
            .map_err(|err| format!("writing the Nexus identity to the Qargo order: {err}"))?;
        webhook_ok(&answer, "writing the Nexus identity to the Qargo order")
    };
    let (attached_labels, identity_written) = tokio::join!(attach, write_identity);
    attached_labels?;
    identity_written?;
    Ok(keys)
}

/// Whether an earlier attempt attached this label file already (a retry must not attach it twice).
async fn already_attached(bridge: &Bridge, plan: &DispatchPlan, file_name: &str) -> bool {
    let Some(order_id) = &plan.qargo_order_id else { return false };
    let stem = file_name.trim_end_matches(".pdf");
    match bridge.qargo.order_documents(order_id).await {
        Ok(documents) => documents.iter().any(|d| {
            d.document_type.as_deref() == Some(LABEL_DOCUMENT_TYPE)
                && d.name.as_deref().is_some_and(|n| n.starts_with(stem))
        }),
        Err(err) => {
            tracing::debug!(error = %err, "could not list the order's documents; attaching");
            false
        }
    }
}

pub(super) fn webhook_ok(answer: &crate::qargo::wire::WebhookAnswer, doing: &str) -> Result<(), String> {
    match answer.errors.first() {
        None => Ok(()),
        Some(first) => Err(format!("Qargo refused {doing}: {}", first.error_message)),
    }
}

/// The partial order update that carries the Nexus identity and barcodes onto the Qargo order.
fn identity_update(plan: &DispatchPlan, booking: &Booking, state: &str) -> Option<serde_json::Value> {
    let order_id = plan.qargo_order_id.as_deref()?;
    let fields = json!({
        "NexusNetwork": booking.network.code(),
        "NexusConsignmentID": booking.nexus_consignment_id.to_string(),
        "NexusConsignmentNumber": booking.consignment_number,
        "NexusDepot": booking.depot.as_ref().map(ToString::to_string),
        "NexusState": state,
    });
    let mut barcodes = booking.barcodes.iter();
    let goods: Vec<GoodsBarcodes> = plan
        .pallet_lines
        .iter()
        .filter_map(|line| {
            let taken: Vec<String> = barcodes.by_ref().take(line.pallets as usize).map(ToString::to_string).collect();
            Some(GoodsBarcodes { goods_id: line.goods_id.clone()?, barcodes: taken, removed: Vec::new() })
        })
        .collect();
    let serde_json::Value::Object(fields) = fields else { return None };
    Some(order_update(order_id, fields, Some(&plan.qargo_consignment_key), &goods))
}

/// Records where the booking lives in Qargo (order and stop ids) in its sync state, so the status
/// sync addresses Qargo's stops by id. Best effort: without it the status sync matches the stops by
/// order name and stop type.
async fn remember_qargo_link(bridge: &Bridge, key: &SyncKey, link: &QargoLink) {
    let key = *key;
    for _ in 0..3 {
        let mut state = match bridge.sync_state.load(&key).await {
            Ok(state) => state.unwrap_or_default(),
            Err(err) => return tracing::warn!(error = %err, "could not record the Qargo link of the booking"),
        };
        state.qargo = Some(link.clone());
        match bridge.sync_state.save(&key, &state).await {
            Ok(true) => return,
            Ok(false) => continue,
            Err(err) => return tracing::warn!(error = %err, "could not record the Qargo link of the booking"),
        }
    }
}
