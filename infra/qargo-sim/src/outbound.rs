//! Qargo's outbound webhooks: the Subcontractor Dispatch payload and the operational visibility
//! events, POSTed as JSON to `<bridge_url><dispatch_path>` / `<bridge_url><visibility_path>` with the
//! configured HTTP Basic credential, each call bounded by `OutboundTarget::timeout`. Every call is
//! recorded (URL, body, HTTP status, answer, the answer's `errors`) whatever happens.
//!
//! # Visibility body (`OperationalVisibilityUpdate`)
//!
//! `{"events": [{"timestamp": "…Z", "update": {…}}], "order": VisibilityOrder}` with `update` one of
//!
//! * `{"id": <stop id>, "type": "Stop", "stop": VisibilityStop}` — arrival or completion;
//! * `{"id": <order id>, "type": "Eta", "stops": [VisibilityStop, …]}` — the stops whose ETA moved;
//! * `{"id": <document id>, "type": "Document", "status": "CREATED", "document": {"name",
//!   "document_type", "document_content": {"download_url"} | {"content", "mime_type", "filename"},
//!   "subject": {"reference_number"} | {"customer_reference_number"}}}`.

use serde_json::{Value, json};
use uuid::Uuid;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::errors::ApiError;
use crate::model::{Document, ErrorStatus, OutboundRecord, StopEvent};
use crate::options::DocumentDelivery;
use crate::render;
use crate::server::AppState;
use crate::world::{World, now};

fn answer_errors(response: &Option<Value>) -> Vec<ErrorStatus> {
    let Some(list) = response.as_ref().and_then(|v| v.get("errors")).and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|e| ErrorStatus {
            error_type: e.get("error_type").and_then(Value::as_str).unwrap_or("INTERNAL_ERROR").to_string(),
            error_message: e
                .get("error_message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| (!e.is_object()).then(|| e.to_string())),
        })
        .collect()
}

/// POSTs `body` to the bridge and records the call.
pub(crate) async fn post(
    state: &AppState,
    kind: &str,
    label: String,
    trip_id: Option<Uuid>,
    order_id: Option<Uuid>,
    body: Value,
) -> OutboundRecord {
    let target = &state.options.outbound;
    let path = if kind == "dispatch" { &target.dispatch_path } else { &target.visibility_path };
    let url = target.bridge_url.as_ref().map(|base| format!("{}{}", base.trim_end_matches('/'), path));
    let sent_at = now().to_string();
    let (status, response, error) = match &url {
        None => {
            (None, None, Some("no bridge URL configured (SimOptions.outbound.bridge_url / --bridge-url)".to_string()))
        }
        Some(url) => {
            let mut request = state.http.post(url).json(&body);
            if let Some(credential) = &target.credential {
                request = request.basic_auth(&credential.username, Some(&credential.password));
            }
            match request.send().await {
                Err(e) => {
                    let why =
                        if e.is_timeout() { format!("timed out after {:?}", target.timeout) } else { e.to_string() };
                    (None, None, Some(why))
                }
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    match answer.text().await {
                        Ok(text) if text.trim().is_empty() => (Some(status), None, None),
                        Ok(text) => {
                            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                            (Some(status), Some(value), None)
                        }
                        Err(e) => (Some(status), None, Some(format!("answer unreadable: {e}"))),
                    }
                }
            }
        }
    };
    let errors = answer_errors(&response);
    let accepted = error.is_none() && status.is_some_and(|s| (200..300).contains(&s)) && errors.is_empty();
    tracing::info!(kind, %label, ?status, accepted, "outbound webhook sent");
    let mut world = state.lock();
    let record = OutboundRecord {
        id: world.outbound.len() as u64 + 1,
        kind: kind.to_string(),
        label,
        trip_id,
        order_id,
        url,
        request: body,
        status,
        response,
        errors,
        error,
        accepted,
        sent_at,
    };
    world.outbound.push(record.clone());
    record
}

/// Completes (or re-triggers, updates, cancels) the trip's resource dispatch task: sends the
/// Subcontractor Dispatch webhook and applies the outcome to the trip and its stops.
pub(crate) async fn dispatch_trip(
    state: &AppState,
    trip_id: Uuid,
    operation: &str,
) -> Result<OutboundRecord, ApiError> {
    if !["CREATE", "UPDATE", "CANCEL"].contains(&operation) {
        return Err(ApiError::bad_request(crate::errors::FieldError::at(
            "$.operation",
            format!("operation '{operation}' is not one of CREATE, UPDATE, CANCEL"),
            "invalid_value",
        )));
    }
    let body = {
        let world = state.lock();
        let trip = world.trip(trip_id).ok_or_else(|| ApiError::NotFound(format!("trip {trip_id}")))?;
        render::dispatch_payload(&world, trip, operation)
    };
    let record = post(state, "dispatch", operation.to_string(), Some(trip_id), None, body).await;
    let mut world = state.lock();
    apply_dispatch_outcome(&mut world, trip_id, operation, record.accepted);
    Ok(record)
}

fn apply_dispatch_outcome(world: &mut World, trip_id: Uuid, operation: &str, accepted: bool) {
    let Some(trip) = world.trips.iter_mut().find(|t| t.id == trip_id) else { return };
    let (new_state, from, to) = match (operation, accepted) {
        ("CREATE" | "UPDATE", true) => ("DISPATCHED", "PLANNED", "DISPATCHED"),
        ("CREATE", false) if trip.dispatch_state != "DISPATCHED" => ("FAILED", "", ""),
        ("CANCEL", true) => ("CANCELLED", "DISPATCHED", "PLANNED"),
        _ => return,
    };
    trip.dispatch_state = new_state.into();
    if from.is_empty() {
        return;
    }
    let order_ids = trip.order_ids.clone();
    let at = now().to_string();
    for order_id in order_ids {
        let Some(position) = world.order_position(order_id) else { continue };
        for consignment in &mut world.orders[position].consignments {
            for stop in [&mut consignment.pickup, &mut consignment.delivery] {
                if stop.status == from {
                    stop.status = to.into();
                    stop.history.push(StopEvent {
                        status: Some(to.into()),
                        eta_start: None,
                        eta_end: None,
                        event_time: at.clone(),
                        received_at: at.clone(),
                        source: "dispatch".into(),
                    });
                }
            }
        }
    }
}

fn visibility_body(world: &World, order_id: Uuid, events: Vec<Value>) -> Result<Value, ApiError> {
    let order = world.order(order_id).ok_or_else(|| ApiError::NotFound(format!("order {order_id}")))?;
    Ok(json!({ "events": events, "order": render::visibility_order(order, world.customer(order.customer_id)) }))
}

/// Sends one `Stop` event per stop in `stop_ids` (all of order `order_id`), in one call.
pub(crate) async fn send_stop_events(
    state: &AppState,
    order_id: Uuid,
    stop_ids: &[Uuid],
) -> Result<OutboundRecord, ApiError> {
    let body = {
        let world = state.lock();
        let timestamp = now().to_string();
        let mut events = Vec::new();
        for id in stop_ids {
            let at = world.stop_ref(*id).ok_or_else(|| ApiError::NotFound(format!("stop {id}")))?;
            events.push(json!({
                "timestamp": timestamp,
                "update": { "id": id, "type": "Stop", "stop": render::visibility_stop(world.stop(at)) },
            }));
        }
        visibility_body(&world, order_id, events)?
    };
    Ok(post(state, "visibility", "Stop".into(), None, Some(order_id), body).await)
}

/// Sends an `Eta` event for the given stops of order `order_id`.
pub(crate) async fn send_eta_event(
    state: &AppState,
    order_id: Uuid,
    stop_ids: &[Uuid],
) -> Result<OutboundRecord, ApiError> {
    let body = {
        let world = state.lock();
        let stops: Vec<Value> = stop_ids
            .iter()
            .filter_map(|id| world.stop_ref(*id))
            .map(|at| render::visibility_stop(world.stop(at)))
            .collect();
        let event = json!({
            "timestamp": now().to_string(),
            "update": { "id": order_id, "type": "Eta", "stops": stops },
        });
        visibility_body(&world, order_id, vec![event])?
    };
    Ok(post(state, "visibility", "Eta".into(), None, Some(order_id), body).await)
}

fn document_subject(world: &World, doc: &Document) -> Value {
    let stop_reference =
        doc.stop_id.and_then(|id| world.stop_ref(id)).and_then(|at| world.stop(at).input.reference_number.clone());
    if let Some(reference) = stop_reference {
        return json!({ "reference_number": reference });
    }
    let order = doc.order_id.and_then(|id| world.order(id));
    if let Some(reference) = order.and_then(|o| o.customer_reference_number.clone()) {
        return json!({ "customer_reference_number": reference });
    }
    let consignment_reference = match (doc.stop_id.and_then(|id| world.stop_ref(id)), order) {
        (Some(at), Some(order)) => order.consignments[at.consignment].reference_number.clone(),
        (None, Some(order)) => order.consignments.first().and_then(|c| c.reference_number.clone()),
        _ => None,
    };
    json!({ "reference_number": consignment_reference.unwrap_or_else(|| order.map(|o| o.name.clone()).unwrap_or_default()) })
}

/// Sends a `Document` event for document `document_id` (`download_url` or embedded content).
pub(crate) async fn send_document_event(
    state: &AppState,
    document_id: Uuid,
    delivery: DocumentDelivery,
) -> Result<OutboundRecord, ApiError> {
    let (order_id, body) = {
        let world = state.lock();
        let doc = world.document(document_id).ok_or_else(|| ApiError::NotFound(format!("document {document_id}")))?;
        let order_id = doc.order_id.ok_or_else(|| ApiError::Conflict("the document belongs to no order".into()))?;
        let content = match delivery {
            DocumentDelivery::DownloadUrl => json!({
                "download_url": format!("{}/v1/documents/document/{}/download", state.base_url, doc.id),
            }),
            DocumentDelivery::Embedded => json!({
                "content": STANDARD.encode(&doc.bytes),
                "mime_type": doc.content_type,
                "filename": doc.name,
            }),
        };
        let event = json!({
            "timestamp": doc.created.to_string(),
            "update": {
                "id": doc.id,
                "type": "Document",
                "status": "CREATED",
                "document": {
                    "name": doc.name,
                    "document_type": doc.document_type,
                    "document_content": content,
                    "subject": document_subject(&world, doc),
                },
            },
        });
        (order_id, visibility_body(&world, order_id, vec![event])?)
    };
    Ok(post(state, "visibility", "Document".into(), None, Some(order_id), body).await)
}
