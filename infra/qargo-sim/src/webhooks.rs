//! Qargo's inbound webhooks (HTTP Basic with the webhook credential; no rate limit):
//! `subco-status-update`, `subco-document-upload` and `document-import`.
//!
//! # `subco-status-update`
//!
//! Each update of `{updates:[…]}` is handled on its own. Its stop is found by `stop.id` or by
//! `stop.match.matches_all` (every entry and every field in it must hold: trip name; order name,
//! customer reference or id; consignment reference or 1-based `order_sequence_number`; stop
//! reference or `stop_type`). **Exactly one stop** must match, or the update is discarded. A
//! discarded update is answered in `{errors:[{error_type, error_message, update_index}]}` (HTTP 200;
//! `update_index` is the simulator's addition) and recorded for `GET /_sim/status-updates`.
//!
//! An update is validated whole before anything is applied: `event_time` (required), `eta_start`
//! and `eta_end` must be datetimes with an offset; `status` may only be `AT_STOP` or `COMPLETED`
//! (omitted: ETA or data only); a cancelled stop takes no update; `AT_STOP` after `COMPLETED` is
//! refused. Repeating the current status is accepted and changes nothing.
//!
//! ## `question_answers` (the simulator's reading; Qargo maps them per integration)
//!
//! An object keyed by question path key:
//!
//! * `"scan_barcode"`: the handling-unit scan action — one scan object or a list of them, each
//!   shaped like Qargo's `HandlingUnitUpdate`:
//!   `{"barcode": "PX123" | {"value": "PX123", "source": "PALLEX"}, "status": "SCANNED_IN" |
//!   "STORED" | "SCANNED_OUT", "timestamp": "…+00:00" (optional, defaults to event_time),
//!   "stop_location_code": "PGD302", "description": "…", "source_status": "ARRD", "created_by": "…"}`.
//!   The barcode must belong to a handling unit of the stop's consignment. Scans are kept as a
//!   per-barcode history, never overwritten.
//! * any key whose value is an object with `embedded_document` `{content (base64), content_type
//!   (or mime_type), filename}` or `remote_document` `{upload_id}` (from `upload_content`): stored as a
//!   document on the stop; its type is the value's `document_type`, or derived from the key like
//!   `subco-document-upload` does.
//! * any other key (e.g. `"status_note": "Delivered to goods-in"`): kept on the stop as an answer
//!   (`{key, value, event_time}`), as a planner would see it.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::WebhookAuth;
use crate::errors::{ApiError, FieldError, HttpValidationIssue};
use crate::model::{AnswerRecord, ErrorStatus, ScanRecord, StatusUpdateRecord, StopEvent};
use crate::server::AppState;
use crate::wire::{BaseStatusUpdate, FieldMatch, StatusUpdatePayload, StopMatchInput, StopStatusUpdate, parse_body};
use crate::world::{StopRef, World, now};

/// The handling-unit statuses of the `scan_barcode` action.
pub const SCAN_STATUSES: [&str; 3] = ["SCANNED_IN", "STORED", "SCANNED_OUT"];

/// Parses an ISO 8601 datetime that must carry an offset (`Z` or `±hh:mm`).
pub fn parse_offset_datetime(text: &str) -> Option<Timestamp> {
    text.trim().parse::<Timestamp>().ok()
}

/// The Qargo document type a question path key (or Nexus document code) stands for.
pub fn document_type_for_key(key: &str) -> String {
    match key.trim().to_ascii_uppercase().as_str() {
        "POD" => "PROOF_OF_DELIVERY".into(),
        "POD_SIGNED" | "SIGNED_POD" => "PROOF_OF_DELIVERY_SIGNED".into(),
        "SIGNATURE" | "MPOD" => "CONSIGNEE_SIGNATURE".into(),
        "PHOTO" | "MPODPHOTOE" => "PHOTO_OF_GOODS_DELIVERY".into(),
        "POP" => "PROOF_OF_PICKUP".into(),
        "LABEL" => "PALLET_LABEL_EXTERNAL".into(),
        other => other.to_string(),
    }
}

/// The usual file extension of a MIME type.
pub fn extension_for(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/tiff" => "tiff",
        "image/gif" => "gif",
        "text/plain" => "txt",
        "application/json" => "json",
        "application/zpl" | "text/zpl" | "x-application/zpl" => "zpl",
        _ => "bin",
    }
}

/// The filename from a `Content-Disposition` header (`filename*=UTF-8''…` or `filename=…`).
pub fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        if let Some(rest) = part.strip_prefix("filename*=") {
            let encoded = rest.rsplit("''").next().unwrap_or(rest);
            return Some(percent_decode(encoded.trim_matches('"')));
        }
        if let Some(rest) = part.strip_prefix("filename=") {
            plain = Some(rest.trim().trim_matches('"').to_string());
        }
    }
    plain.filter(|name| !name.is_empty())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) =
                std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The stored name of a file posted for question path `key`: `KEY.<ext>`, or `<stem>_KEY.<ext>`
/// when the sender named it `<stem>.<anything>`.
pub fn stored_filename(key: &str, content_type: &str, given: Option<&str>) -> String {
    let default_stem = key.trim();
    let ext = extension_for(content_type);
    match given.map(|g| g.rsplit(['/', '\\']).next().unwrap_or(g)).filter(|g| !g.is_empty()) {
        None => format!("{default_stem}.{ext}"),
        Some(given) => {
            let stem = given.rsplit_once('.').map(|(s, _)| s).unwrap_or(given);
            format!("{stem}_{default_stem}.{ext}")
        }
    }
}

fn user_error(message: impl Into<String>) -> ErrorStatus {
    ErrorStatus { error_type: "USER_INPUT_ERROR".into(), error_message: Some(message.into()) }
}

/// What one applied update changed.
struct Applied {
    stop_id: Uuid,
    order_id: Uuid,
    status_changed: bool,
}

/// A document found in the question answers, ready to store.
struct PendingDocument {
    key: String,
    name: String,
    document_type: String,
    content_type: String,
    bytes: Vec<u8>,
    consumes_upload: Option<Uuid>,
}

/// Scans, documents and notes of one update.
#[derive(Default)]
struct ParsedAnswers {
    scans: Vec<ScanRecord>,
    documents: Vec<PendingDocument>,
    notes: Vec<(String, Value)>,
}

fn field_criterion(field: &Option<FieldMatch>) -> Option<&[String]> {
    field.as_ref().and_then(|f| f.matches_any.as_deref())
}

fn has_criteria(c: &StopMatchInput) -> bool {
    let trip = c.trip.as_ref().is_some_and(|t| field_criterion(&t.name).is_some());
    let order = c.order.as_ref().is_some_and(|o| {
        field_criterion(&o.name).is_some()
            || field_criterion(&o.customer_reference_number).is_some()
            || field_criterion(&o.id).is_some()
    });
    let consignment = c
        .consignment
        .as_ref()
        .is_some_and(|k| field_criterion(&k.reference_number).is_some() || k.order_sequence_number.is_some());
    let stop = c.stop.as_ref().is_some_and(|s| field_criterion(&s.reference_number).is_some() || s.stop_type.is_some());
    trip || order || consignment || stop
}

fn describe(criteria: &[StopMatchInput]) -> String {
    let mut parts = Vec::new();
    let mut field = |name: &str, f: &Option<FieldMatch>| {
        if let Some(values) = field_criterion(f) {
            parts.push(format!("{name} in {values:?}"));
        }
    };
    for c in criteria {
        if let Some(t) = &c.trip {
            field("trip.name", &t.name);
        }
        if let Some(o) = &c.order {
            field("order.name", &o.name);
            field("order.customer_reference_number", &o.customer_reference_number);
            field("order.id", &o.id);
        }
        if let Some(k) = &c.consignment {
            field("consignment.reference_number", &k.reference_number);
        }
        if let Some(s) = &c.stop {
            field("stop.reference_number", &s.reference_number);
        }
    }
    for c in criteria {
        if let Some(n) = c.consignment.as_ref().and_then(|k| k.order_sequence_number) {
            parts.push(format!("consignment.order_sequence_number = {n}"));
        }
        if let Some(t) = c.stop.as_ref().and_then(|s| s.stop_type.as_deref()) {
            parts.push(format!("stop.stop_type = {t}"));
        }
    }
    parts.join(" AND ")
}

fn matches_any(field: &Option<FieldMatch>, value: Option<&str>) -> bool {
    match field_criterion(field) {
        None => true,
        Some(values) => value.is_some_and(|v| values.iter().any(|candidate| candidate == v)),
    }
}

fn stop_matches(world: &World, at: StopRef, c: &StopMatchInput) -> bool {
    let order = &world.orders[at.order];
    let consignment = &order.consignments[at.consignment];
    let stop = world.stop(at);
    if let Some(t) = &c.trip {
        let name = world.trip_of(order).map(|t| t.name.as_str());
        if !matches_any(&t.name, name) {
            return false;
        }
    }
    if let Some(o) = &c.order {
        let id = order.id.to_string();
        if !matches_any(&o.name, Some(&order.name))
            || !matches_any(&o.customer_reference_number, order.customer_reference_number.as_deref())
            || !matches_any(&o.id, Some(&id))
        {
            return false;
        }
    }
    if let Some(k) = &c.consignment {
        if !matches_any(&k.reference_number, consignment.reference_number.as_deref()) {
            return false;
        }
        if let Some(n) = k.order_sequence_number
            && n != at.consignment as i64 + 1
        {
            return false;
        }
    }
    if let Some(s) = &c.stop {
        if !matches_any(&s.reference_number, stop.input.reference_number.as_deref()) {
            return false;
        }
        if let Some(kind) = s.stop_type.as_deref()
            && !kind.eq_ignore_ascii_case(stop.stop_type.as_str())
        {
            return false;
        }
    }
    true
}

/// Finds the one stop an update names.
fn locate(world: &World, update: &StopStatusUpdate) -> Result<StopRef, ErrorStatus> {
    if let Some(id) = update.id.as_deref() {
        let uuid = Uuid::parse_str(id.trim()).map_err(|_| user_error(format!("stop.id '{id}' is not a UUID")))?;
        return world
            .stop_ref(uuid)
            .ok_or_else(|| user_error(format!("No stop with id {uuid}; the update was discarded")));
    }
    let Some(matcher) = &update.matcher else {
        return Err(user_error("stop.id or stop.match is required"));
    };
    let criteria = matcher.matches_all.as_deref().unwrap_or_default();
    if criteria.is_empty() || !criteria.iter().any(has_criteria) {
        return Err(user_error("stop.match.matches_all has no criteria; the update was discarded"));
    }
    let mut hits = Vec::new();
    for (o, order) in world.orders.iter().enumerate() {
        for (c, consignment) in order.consignments.iter().enumerate() {
            for stop in consignment.stops() {
                let at = StopRef { order: o, consignment: c, stop_type: stop.stop_type };
                if criteria.iter().all(|criterion| stop_matches(world, at, criterion)) {
                    hits.push(at);
                }
            }
        }
    }
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(user_error(format!("No stop matches {}; the update was discarded", describe(criteria)))),
        many => Err(user_error(format!(
            "{} stops match {}; an update must match exactly one stop, so it was discarded",
            many.len(),
            describe(criteria)
        ))),
    }
}

fn parse_scan(world: &World, at: StopRef, value: &Value, event_time: Timestamp) -> Result<ScanRecord, ErrorStatus> {
    let order = &world.orders[at.order];
    let consignment = &order.consignments[at.consignment];
    let object =
        value.as_object().ok_or_else(|| user_error("a scan_barcode answer must be an object or a list of objects"))?;
    let (barcode, source) = match object.get("barcode") {
        Some(Value::String(s)) => (s.trim().to_string(), None),
        Some(Value::Object(b)) => (
            b.get("value").and_then(Value::as_str).unwrap_or("").trim().to_string(),
            b.get("source").and_then(Value::as_str).map(str::to_string),
        ),
        _ => (String::new(), None),
    };
    if barcode.is_empty() {
        return Err(user_error("scan_barcode: barcode is required"));
    }
    let status = object.get("status").and_then(Value::as_str).unwrap_or("");
    if !SCAN_STATUSES.contains(&status) {
        return Err(user_error(format!(
            "scan_barcode: status '{status}' for barcode {barcode} is not one of SCANNED_IN, STORED, SCANNED_OUT"
        )));
    }
    let timestamp = match object.get("timestamp").and_then(Value::as_str) {
        None => event_time,
        Some(text) => parse_offset_datetime(text).ok_or_else(|| {
            user_error(format!("scan_barcode: timestamp '{text}' must be an ISO 8601 datetime with an offset"))
        })?,
    };
    if !consignment.barcodes().any(|b| b == barcode) {
        return Err(user_error(format!(
            "scan_barcode: barcode {barcode} is not a handling unit of consignment {} on order {}",
            consignment.reference_number.as_deref().unwrap_or(&consignment.id.to_string()),
            order.name
        )));
    }
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
    Ok(ScanRecord {
        barcode,
        source,
        status: status.to_string(),
        timestamp: timestamp.to_string(),
        stop_id: world.stop(at).id,
        order_id: order.id,
        stop_location_code: text("stop_location_code"),
        description: text("description"),
        source_status: text("source_status"),
        created_by: text("created_by"),
        received_at: now().to_string(),
    })
}

fn parse_document(world: &World, key: &str, object: &Map<String, Value>) -> Result<PendingDocument, ErrorStatus> {
    let document_type = object
        .get("document_type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| document_type_for_key(key));
    if let Some(embedded) = object.get("embedded_document") {
        let embedded =
            embedded.as_object().ok_or_else(|| user_error(format!("{key}: embedded_document must be an object")))?;
        let content = embedded.get("content").and_then(Value::as_str).unwrap_or("");
        let bytes = STANDARD
            .decode(content.trim())
            .map_err(|e| user_error(format!("{key}: embedded_document.content is not base64: {e}")))?;
        if bytes.is_empty() {
            return Err(user_error(format!("{key}: embedded_document.content is empty")));
        }
        let content_type = embedded
            .get("content_type")
            .or_else(|| embedded.get("mime_type"))
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .to_string();
        let given = embedded.get("filename").and_then(Value::as_str);
        let name = given.map(str::to_string).unwrap_or_else(|| stored_filename(key, &content_type, None));
        return Ok(PendingDocument {
            key: key.into(),
            name,
            document_type,
            content_type,
            bytes,
            consumes_upload: None,
        });
    }
    let remote = object
        .get("remote_document")
        .and_then(Value::as_object)
        .ok_or_else(|| user_error(format!("{key}: remote_document must be an object")))?;
    let upload_id =
        remote.get("upload_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| {
            user_error(format!("{key}: remote_document.upload_id must be a UUID from upload_content"))
        })?;
    let file = world
        .pending_files
        .get(&upload_id)
        .ok_or_else(|| user_error(format!("{key}: no uploaded content with upload_id {upload_id}")))?;
    Ok(PendingDocument {
        key: key.into(),
        name: file.name.clone(),
        document_type,
        content_type: file.content_type.clone(),
        bytes: file.bytes.clone(),
        consumes_upload: Some(upload_id),
    })
}

fn parse_answers(
    world: &World,
    at: StopRef,
    answers: &Map<String, Value>,
    event_time: Timestamp,
) -> Result<ParsedAnswers, ErrorStatus> {
    let mut parsed = ParsedAnswers::default();
    for (key, value) in answers {
        if key == "scan_barcode" {
            let scans: Vec<&Value> = match value {
                Value::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            for scan in scans {
                parsed.scans.push(parse_scan(world, at, scan, event_time)?);
            }
        } else if let Some(object) =
            value.as_object().filter(|o| o.contains_key("embedded_document") || o.contains_key("remote_document"))
        {
            parsed.documents.push(parse_document(world, key, object)?);
        } else {
            parsed.notes.push((key.clone(), value.clone()));
        }
    }
    Ok(parsed)
}

fn optional_datetime(name: &str, value: &Option<String>) -> Result<Option<Timestamp>, ErrorStatus> {
    match value.as_deref() {
        None => Ok(None),
        Some(text) => parse_offset_datetime(text)
            .map(Some)
            .ok_or_else(|| user_error(format!("{name} '{text}' must be an ISO 8601 datetime with an offset"))),
    }
}

fn apply_update(world: &mut World, update: &BaseStatusUpdate) -> Result<Applied, (Option<Uuid>, ErrorStatus)> {
    let Some(stop_update) = &update.stop else { return Err((None, user_error("stop is required"))) };
    let event_time = match update.event_time.as_deref() {
        None => return Err((None, user_error("event_time is required"))),
        Some(text) => parse_offset_datetime(text).ok_or_else(|| {
            (None, user_error(format!("event_time '{text}' must be an ISO 8601 datetime with an offset")))
        })?,
    };
    let at = locate(world, stop_update).map_err(|e| (None, e))?;
    let stop_id = world.stop(at).id;
    let fail = |e: ErrorStatus| (Some(stop_id), e);
    let status = match stop_update.status.as_deref() {
        None => None,
        Some(s @ ("AT_STOP" | "COMPLETED")) => Some(s.to_string()),
        Some(other) => {
            return Err(fail(user_error(format!(
                "status '{other}' is not supported: only AT_STOP or COMPLETED (omit status to send an ETA or data only)"
            ))));
        }
    };
    let eta_start = optional_datetime("eta_start", &stop_update.eta_start).map_err(fail)?;
    let eta_end = optional_datetime("eta_end", &stop_update.eta_end).map_err(fail)?;
    let answers = match &stop_update.question_answers {
        None => ParsedAnswers::default(),
        Some(map) => parse_answers(world, at, map, event_time).map_err(fail)?,
    };
    let current = world.stop(at).status.clone();
    if current == "CANCELLED" {
        return Err(fail(user_error(format!("stop {stop_id} is cancelled and takes no updates"))));
    }
    if status.as_deref() == Some("AT_STOP") && current == "COMPLETED" {
        return Err(fail(user_error(format!("stop {stop_id} is already COMPLETED; AT_STOP would move it back"))));
    }
    let order_id = world.orders[at.order].id;
    let received_at = now().to_string();
    let event_text = event_time.to_string();
    let stop = world.stop_mut(at);
    let status_changed = status.as_deref().is_some_and(|s| s != stop.status);
    match status.as_deref() {
        Some("AT_STOP") => {
            stop.status = "AT_STOP".into();
            stop.actual_start.get_or_insert(event_time);
        }
        Some("COMPLETED") => {
            stop.status = "COMPLETED".into();
            stop.actual_start.get_or_insert(event_time);
            if stop.actual_end.is_none() || status_changed {
                stop.actual_end = Some(event_time);
            }
        }
        _ => {}
    }
    if let Some(t) = eta_start {
        stop.eta_start = Some(t);
    }
    if let Some(t) = eta_end {
        stop.eta_end = Some(t);
    }
    if status.is_some() || eta_start.is_some() || eta_end.is_some() {
        stop.history.push(StopEvent {
            status: status.clone(),
            eta_start: eta_start.map(|t| t.to_string()),
            eta_end: eta_end.map(|t| t.to_string()),
            event_time: event_text.clone(),
            received_at,
            source: "webhook".into(),
        });
    }
    for (key, value) in answers.notes {
        stop.answers.push(AnswerRecord { key, value, event_time: event_text.clone() });
    }
    world.scans.extend(answers.scans);
    for doc in answers.documents {
        if let Some(upload) = doc.consumes_upload {
            world.pending_files.remove(&upload);
        }
        world.add_document(
            doc.name,
            doc.document_type,
            doc.content_type,
            "STOP",
            Some(order_id),
            Some(stop_id),
            doc.bytes,
            "status-update",
            Some(doc.key),
        );
    }
    Ok(Applied { stop_id, order_id, status_changed })
}

/// `POST /v1/webhook/subco-status-update`.
pub async fn status_update(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    let payload: StatusUpdatePayload = crate::wire::parse_value(raw.clone())?;
    let Some(updates) = payload.updates else {
        return Err(ApiError::Unprocessable(vec![HttpValidationIssue {
            loc: vec!["body".into(), "updates".into()],
            msg: "Field required".into(),
            kind: "missing".into(),
        }]));
    };
    let raw_updates = raw.get("updates").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut errors = Vec::new();
    let mut echo: Vec<(Uuid, Uuid)> = Vec::new();
    {
        let mut world = state.lock();
        for (index, update) in updates.iter().enumerate() {
            let raw_update = raw_updates.get(index).cloned().unwrap_or(Value::Null);
            let received_at = now().to_string();
            match apply_update(&mut world, update) {
                Ok(applied) => {
                    if applied.status_changed {
                        echo.push((applied.order_id, applied.stop_id));
                    }
                    world.status_log.push(StatusUpdateRecord {
                        received_at,
                        update_index: index,
                        update: raw_update,
                        stop_id: Some(applied.stop_id),
                        applied: true,
                        error: None,
                    });
                }
                Err((stop_id, error)) => {
                    errors.push(json!({
                        "error_type": error.error_type,
                        "error_message": error.error_message,
                        "update_index": index,
                    }));
                    world.status_log.push(StatusUpdateRecord {
                        received_at,
                        update_index: index,
                        update: raw_update,
                        stop_id,
                        applied: false,
                        error: Some(error),
                    });
                }
            }
        }
    }
    if state.options.echo_webhook_updates && !echo.is_empty() {
        let state = state.clone();
        tokio::spawn(async move {
            for (order_id, stop_id) in echo {
                let _ = crate::outbound::send_stop_events(&state, order_id, &[stop_id]).await;
            }
        });
    }
    Ok(Json(json!({ "errors": errors })))
}

fn required_query<'a>(query: &'a HashMap<String, String>, name: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    match query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(value) => Some(value),
        None => {
            errors.push(FieldError::at(
                &format!("$.query.{name}"),
                format!("query parameter {name} is required"),
                "missing",
            ));
            None
        }
    }
}

fn required_content_type(headers: &HeaderMap, errors: &mut Vec<FieldError>) -> Option<String> {
    let value =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if value.is_none() {
        errors.push(FieldError::at(
            "$.header.Content-Type",
            "the Content-Type header (the file's MIME type) is required",
            "missing",
        ));
    }
    value.map(str::to_string)
}

/// `POST /v1/webhook/subco-document-upload?question_path_key=…&stop_id=…`: a raw file for a stop.
pub async fn document_upload(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let key = required_query(&query, "question_path_key", &mut errors);
    let stop_text = required_query(&query, "stop_id", &mut errors);
    let stop_id = stop_text.and_then(|s| {
        let parsed = Uuid::parse_str(s).ok();
        if parsed.is_none() {
            errors.push(FieldError::at("$.query.stop_id", format!("stop_id '{s}' is not a UUID"), "invalid_format"));
        }
        parsed
    });
    let content_type = required_content_type(&headers, &mut errors);
    if body.is_empty() {
        errors.push(FieldError::at("$.body", "the request body (the file) is empty", "missing"));
    }
    let (Some(key), Some(stop_id), Some(content_type)) = (key, stop_id, content_type) else {
        return Err(ApiError::invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let given = headers.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).and_then(disposition_filename);
    let mut world = state.lock();
    let at = world.stop_ref(stop_id).ok_or_else(|| {
        ApiError::bad_request(FieldError::at("$.query.stop_id", format!("No stop with id {stop_id}"), "not_found"))
    })?;
    let order_id = world.orders[at.order].id;
    let name = stored_filename(key, &content_type, given.as_deref());
    let document_type = document_type_for_key(key);
    let id = world.add_document(
        name.clone(),
        document_type.clone(),
        content_type,
        "STOP",
        Some(order_id),
        Some(stop_id),
        body.to_vec(),
        "subco-document-upload",
        Some(key.to_string()),
    );
    let sha = world.document(id).map(|d| d.sha256.clone());
    Ok(Json(json!({ "document_id": id, "name": name, "document_type": document_type, "sha256": sha })))
}

/// `POST /v1/webhook/document-import?filename=…&document_type=…&customer_reference_number=…`: a raw
/// file for the one (not cancelled) order with that customer reference.
pub async fn document_import(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let filename = required_query(&query, "filename", &mut errors);
    let document_type = required_query(&query, "document_type", &mut errors);
    let reference = required_query(&query, "customer_reference_number", &mut errors);
    let content_type = required_content_type(&headers, &mut errors);
    if body.is_empty() {
        errors.push(FieldError::at("$.body", "the request body (the file) is empty", "missing"));
    }
    let (Some(filename), Some(document_type), Some(reference), Some(content_type)) =
        (filename, document_type, reference, content_type)
    else {
        return Err(ApiError::invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let mut world = state.lock();
    let hits: Vec<Uuid> = world
        .orders
        .iter()
        .filter(|o| !o.cancelled && o.customer_reference_number.as_deref() == Some(reference))
        .map(|o| o.id)
        .collect();
    let order_id = match hits.as_slice() {
        [one] => *one,
        other => {
            return Err(ApiError::bad_request(FieldError::at(
                "$.query.customer_reference_number",
                format!(
                    "customer_reference_number '{reference}' matches {} orders; it must match exactly one",
                    other.len()
                ),
                "not_found",
            )));
        }
    };
    let id = world.add_document(
        filename.to_string(),
        document_type.to_string(),
        content_type,
        "ORDER",
        Some(order_id),
        None,
        body.to_vec(),
        "document-import",
        None,
    );
    let sha = world.document(id).map(|d| d.sha256.clone());
    Ok(Json(json!({ "document_id": id, "order_id": order_id, "sha256": sha })))
}
