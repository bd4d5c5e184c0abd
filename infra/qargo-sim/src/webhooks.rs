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
//! ## `question_answers` (Qargo's documented answer formats)
//!
//! An object keyed by question path key (the keys are configured per integration in Qargo; this
//! tenant's are below). Each key is read as Qargo's docs ("Question paths and answers") say:
//!
//! * `"scan_barcode"` (the scan action): a JSON **array** of scan objects `{timestamp (required,
//!   with an offset), status? (SCANNED_IN | STORED | SCANNED_OUT), barcode? (a string),
//!   stop_match?, stop_location_code?, description?}`. On a status update no handling unit is
//!   matched beforehand, so `barcode` is needed and must be a handling unit of the stop's
//!   consignment. A barcode that is not a string (e.g. `{value, source}`) discards the update
//!   (`USER_INPUT_ERROR`). Keys the format does not define (e.g. `source_status`) are ignored and
//!   recorded as unknown keys, or refused (`422`) with `strict_unknown_keys`. Scans are kept as a
//!   per-barcode history, never overwritten; they move no stop.
//! * a document question path (a key whose value is an array of document objects, or a key the
//!   tenant maps to a document type, see [`configured_document_type`]): a JSON **array** of
//!   objects, each with exactly one of `remote_document {upload_id}` (from `upload_content`) or
//!   `embedded_document {content (base64), content_type, filename}`. Each is stored as a document
//!   on the stop; its type is the key's mapping in the tenant ([`document_type_for_key`]), never
//!   read from the answer.
//! * any other key (e.g. `"status_note": "Delivered to goods-in"`, `"signed_by": "J Smith"`): kept
//!   on the stop as an answer (`{key, value, event_time}`), as a planner would see it.

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
use crate::errors::{ApiError, FieldError};
use crate::model::{AnswerRecord, ErrorStatus, ScanRecord, StatusUpdateRecord, StopEvent};
use crate::server::AppState;
use crate::spec::SchemaIssue;
use crate::wire::{BaseStatusUpdate, FieldMatch, StatusUpdatePayload, StopMatchInput, StopStatusUpdate, parse_body};
use crate::world::{StopRef, World, now};

/// The handling-unit statuses of the `scan_barcode` action.
pub const SCAN_STATUSES: [&str; 3] = ["SCANNED_IN", "STORED", "SCANNED_OUT"];

/// Parses an ISO 8601 datetime that must carry an offset (`Z` or `±hh:mm`).
pub fn parse_offset_datetime(text: &str) -> Option<Timestamp> {
    text.trim().parse::<Timestamp>().ok()
}

/// The tenant's document question paths: question path key → Qargo document type (Qargo maps
/// question paths per integration; these are the simulated tenant's). Keys are compared
/// case-insensitively.
pub const DOCUMENT_QUESTION_PATHS: [(&str, &str); 9] = [
    ("POD", "PROOF_OF_DELIVERY_SIGNED"),
    ("POD_SIGNED", "PROOF_OF_DELIVERY_SIGNED"),
    ("SIGNED_POD", "PROOF_OF_DELIVERY_SIGNED"),
    ("SIGNATURE", "CONSIGNEE_SIGNATURE"),
    ("MPOD", "CONSIGNEE_SIGNATURE"),
    ("PHOTO", "PHOTO_OF_GOODS_DELIVERY"),
    ("MPODPHOTOE", "PHOTO_OF_GOODS_DELIVERY"),
    ("POP", "PROOF_OF_PICKUP"),
    ("LABEL", "PALLET_LABEL_EXTERNAL"),
];

/// The document type the tenant maps question path `key` to, if it is one of its document paths.
pub fn configured_document_type(key: &str) -> Option<&'static str> {
    let key = key.trim();
    DOCUMENT_QUESTION_PATHS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, t)| *t)
}

/// The Qargo document type a question path key (or Nexus document code) stands for: the tenant's
/// mapping, else the key itself (upper-cased).
pub fn document_type_for_key(key: &str) -> String {
    configured_document_type(key).map(str::to_string).unwrap_or_else(|| key.trim().to_ascii_uppercase())
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

/// The keys of a scan object in Qargo's `scan_barcode` answer format.
pub const SCAN_KEYS: [&str; 6] = ["timestamp", "status", "barcode", "stop_match", "stop_location_code", "description"];
/// The keys of a scan's `stop_match`.
const STOP_MATCH_KEYS: [&str; 4] = ["stop_type", "id", "reference_number", "location"];
/// The keys of a scan's `stop_match.location`.
const LOCATION_MATCH_KEYS: [&str; 4] = ["id", "name", "postal_code", "country_code"];
/// The keys of a document object in a document answer.
const DOCUMENT_KEYS: [&str; 2] = ["remote_document", "embedded_document"];
/// The keys of an `embedded_document`.
const EMBEDDED_KEYS: [&str; 3] = ["content", "content_type", "filename"];
/// The keys of a `remote_document`.
const REMOTE_KEYS: [&str; 1] = ["upload_id"];

fn is_document_object(value: &Value) -> bool {
    value.as_object().is_some_and(|o| DOCUMENT_KEYS.iter().any(|k| o.contains_key(*k)))
}

/// Whether the answer under `key` is read as documents: the tenant maps the key to a document
/// type, or the answer is a non-empty array of document objects.
fn is_document_answer(key: &str, value: &Value) -> bool {
    configured_document_type(key).is_some()
        || value.as_array().is_some_and(|items| !items.is_empty() && items.iter().all(is_document_object))
}

fn extra_keys(value: Option<&Value>, known: &[&str], at: &[Value], out: &mut Vec<SchemaIssue>) {
    let Some(map) = value.and_then(Value::as_object) else { return };
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        let mut path = at.to_vec();
        path.push(Value::from(key.as_str()));
        out.push(SchemaIssue {
            path,
            message: "Extra inputs are not permitted (Qargo's answer format does not define this key)".into(),
            kind: "extra_forbidden".into(),
        });
    }
}

fn child(at: &[Value], segment: impl Into<Value>) -> Vec<Value> {
    let mut path = at.to_vec();
    path.push(segment.into());
    path
}

/// The keys of the `question_answers` of a `subco-status-update` body that Qargo's answer formats
/// do not define: in scan objects (and their `stop_match`) and in document objects. Real Qargo
/// ignores them; the simulator records them, and refuses them with `strict_unknown_keys`.
pub fn unknown_answer_keys(body: &Value) -> Vec<SchemaIssue> {
    let mut out = Vec::new();
    let updates = body.get("updates").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, update) in updates.iter().enumerate() {
        let Some(answers) = update.pointer("/stop/question_answers").and_then(Value::as_object) else { continue };
        let base: Vec<Value> = vec!["updates".into(), i.into(), "stop".into(), "question_answers".into()];
        for (key, value) in answers {
            let at = child(&base, key.as_str());
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            if key == "scan_barcode" {
                for (j, scan) in items.iter().enumerate() {
                    let at = child(&at, j);
                    extra_keys(Some(scan), &SCAN_KEYS, &at, &mut out);
                    let stop_match = scan.get("stop_match");
                    extra_keys(stop_match, &STOP_MATCH_KEYS, &child(&at, "stop_match"), &mut out);
                    let location = stop_match.and_then(|m| m.get("location"));
                    extra_keys(location, &LOCATION_MATCH_KEYS, &child(&child(&at, "stop_match"), "location"), &mut out);
                }
            } else if is_document_answer(key, value) {
                for (j, document) in items.iter().enumerate() {
                    let at = child(&at, j);
                    extra_keys(Some(document), &DOCUMENT_KEYS, &at, &mut out);
                    let embedded = document.get("embedded_document");
                    extra_keys(embedded, &EMBEDDED_KEYS, &child(&at, "embedded_document"), &mut out);
                    let remote = document.get("remote_document");
                    extra_keys(remote, &REMOTE_KEYS, &child(&at, "remote_document"), &mut out);
                }
            }
        }
    }
    out
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional string of a scan or document object (`null` reads as absent).
fn optional_text(object: &Map<String, Value>, name: &str, label: &str) -> Result<Option<String>, ErrorStatus> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(user_error(format!("{label}.{name} must be a string, not {}", json_kind(other)))),
    }
}

/// Whether `{matches_any: [...]}` under `name` of `criteria` holds for `value` (absent: holds).
fn any_of(criteria: &Value, name: &str, value: Option<&str>, same: fn(&str, &str) -> bool) -> bool {
    match criteria.get(name).and_then(|f| f.get("matches_any")).and_then(Value::as_array) {
        None => true,
        Some(list) => value.is_some_and(|v| list.iter().filter_map(Value::as_str).any(|c| same(c.trim(), v.trim()))),
    }
}

fn same_text(a: &str, b: &str) -> bool {
    a == b
}

fn same_loosely(a: &str, b: &str) -> bool {
    let squash = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    squash(a) == squash(b)
}

fn same_uuid(a: &str, b: &str) -> bool {
    matches!((Uuid::parse_str(a), Uuid::parse_str(b)), (Ok(x), Ok(y)) if x == y)
}

fn stop_match_holds(stop: &crate::model::Stop, criteria: &Value) -> bool {
    let stop_type = criteria.get("stop_type").and_then(Value::as_str);
    let id = stop.id.to_string();
    let location = stop.input.location.clone().unwrap_or_default();
    let l = criteria.get("location").cloned().unwrap_or(Value::Null);
    stop_type.is_none_or(|t| t.eq_ignore_ascii_case(stop.stop_type.as_str()))
        && any_of(criteria, "id", Some(&id), same_uuid)
        && any_of(criteria, "reference_number", stop.input.reference_number.as_deref(), same_text)
        && any_of(&l, "id", location.code.as_deref().or(location.external_id.as_deref()), same_text)
        && any_of(&l, "name", location.name.as_deref(), same_loosely)
        && any_of(&l, "postal_code", location.postal_code.as_deref(), same_loosely)
        && any_of(&l, "country_code", location.country.as_deref(), same_loosely)
}

/// The one stop of the trip (or, without a trip, of the order) a scan's `stop_match` names.
fn resolve_stop_match(world: &World, at: StopRef, criteria: &Value) -> Option<Uuid> {
    let order = &world.orders[at.order];
    let orders: Vec<&crate::model::Order> = match world.trip_of(order) {
        Some(trip) => trip.order_ids.iter().filter_map(|id| world.order(*id)).collect(),
        None => vec![order],
    };
    let hits: Vec<Uuid> =
        orders.iter().flat_map(|o| o.stops()).filter(|s| stop_match_holds(s, criteria)).map(|s| s.id).collect();
    match hits.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

fn parse_scan(world: &World, at: StopRef, index: usize, value: &Value) -> Result<ScanRecord, ErrorStatus> {
    let order = &world.orders[at.order];
    let consignment = &order.consignments[at.consignment];
    let label = format!("scan_barcode[{index}]");
    let object = value.as_object().ok_or_else(|| {
        user_error(format!(
            "{label}: a scan is an object {{timestamp, status?, barcode?, …}}, not {}",
            json_kind(value)
        ))
    })?;
    let barcode = match object.get("barcode") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_string(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(user_error(format!(
                "{label}.barcode is required on a status update: it names the handling unit scanned"
            )));
        }
        Some(other) => {
            return Err(user_error(format!(
                "{label}.barcode must be a string (the barcode value), not {}; a {{value, source}} object is not Qargo's scan format",
                json_kind(other)
            )));
        }
    };
    let status = match object.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if SCAN_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => {
            return Err(user_error(format!(
                "{label}: status {other} for barcode {barcode} is not one of SCANNED_IN, STORED, SCANNED_OUT"
            )));
        }
    };
    let timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => return Err(user_error(format!("{label}.timestamp is required"))),
        Some(Value::String(text)) => parse_offset_datetime(text).ok_or_else(|| {
            user_error(format!("{label}.timestamp '{text}' must be an ISO 8601 datetime with an offset"))
        })?,
        Some(other) => {
            return Err(user_error(format!("{label}.timestamp must be a datetime string, not {}", json_kind(other))));
        }
    };
    let stop_match = match object.get("stop_match") {
        None | Some(Value::Null) => None,
        Some(m @ Value::Object(_)) => Some(m.clone()),
        Some(other) => {
            return Err(user_error(format!("{label}.stop_match must be an object, not {}", json_kind(other))));
        }
    };
    let unit =
        consignment.goods.iter().flat_map(|g| g.handling_units.iter()).find(|h| h.barcode.as_deref() == Some(&barcode));
    let Some(unit) = unit else {
        return Err(user_error(format!(
            "{label}: barcode {barcode} is not a handling unit of consignment {} on order {}",
            consignment.reference_number.as_deref().unwrap_or(&consignment.id.to_string()),
            order.name
        )));
    };
    Ok(ScanRecord {
        barcode,
        source: unit.source.clone(),
        status,
        timestamp: timestamp.to_string(),
        stop_id: world.stop(at).id,
        order_id: order.id,
        stop_location_code: optional_text(object, "stop_location_code", &label)?,
        description: optional_text(object, "description", &label)?,
        matched_stop_id: stop_match.as_ref().and_then(|m| resolve_stop_match(world, at, m)),
        stop_match,
        received_at: now().to_string(),
    })
}

fn parse_document(world: &World, key: &str, index: usize, value: &Value) -> Result<PendingDocument, ErrorStatus> {
    let label = format!("{key}[{index}]");
    let document_type = document_type_for_key(key);
    let object = value.as_object().ok_or_else(|| {
        user_error(format!(
            "{label}: a document is an object {{remote_document}} or {{embedded_document}}, not {}",
            json_kind(value)
        ))
    })?;
    let present = |name: &str| object.get(name).filter(|v| !v.is_null());
    match (present("embedded_document"), present("remote_document")) {
        (Some(embedded), None) => {
            let embedded = embedded
                .as_object()
                .ok_or_else(|| user_error(format!("{label}.embedded_document must be an object")))?;
            let label = format!("{label}.embedded_document");
            let content = optional_text(embedded, "content", &label)?
                .ok_or_else(|| user_error(format!("{label}.content (the base64 document) is required")))?;
            let bytes = STANDARD
                .decode(content.trim())
                .map_err(|e| user_error(format!("{label}.content is not base64: {e}")))?;
            if bytes.is_empty() {
                return Err(user_error(format!("{label}.content is empty")));
            }
            let content_type =
                optional_text(embedded, "content_type", &label)?.unwrap_or_else(|| "application/octet-stream".into());
            let name = optional_text(embedded, "filename", &label)?
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| stored_filename(key, &content_type, None));
            Ok(PendingDocument { key: key.into(), name, document_type, content_type, bytes, consumes_upload: None })
        }
        (None, Some(remote)) => {
            let upload_id = remote
                .get("upload_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s.trim()).ok())
                .ok_or_else(|| {
                    user_error(format!("{label}.remote_document.upload_id must be a UUID from upload_content"))
                })?;
            let file = world
                .pending_files
                .get(&upload_id)
                .ok_or_else(|| user_error(format!("{label}: no uploaded content with upload_id {upload_id}")))?;
            Ok(PendingDocument {
                key: key.into(),
                name: file.name.clone(),
                document_type,
                content_type: file.content_type.clone(),
                bytes: file.bytes.clone(),
                consumes_upload: Some(upload_id),
            })
        }
        _ => Err(user_error(format!(
            "{label}: exactly one of remote_document or embedded_document must be defined per document object"
        ))),
    }
}

fn parse_answers(world: &World, at: StopRef, answers: &Map<String, Value>) -> Result<ParsedAnswers, ErrorStatus> {
    let mut parsed = ParsedAnswers::default();
    for (key, value) in answers {
        if key == "scan_barcode" {
            let scans = value.as_array().ok_or_else(|| {
                user_error(format!(
                    "scan_barcode: the answer is a JSON array of scan objects, not {}",
                    json_kind(value)
                ))
            })?;
            for (j, scan) in scans.iter().enumerate() {
                parsed.scans.push(parse_scan(world, at, j, scan)?);
            }
        } else if is_document_answer(key, value) {
            let documents = value.as_array().ok_or_else(|| {
                user_error(format!(
                    "{key}: a document answer is a JSON array of {{remote_document}} / {{embedded_document}} objects, not {}",
                    json_kind(value)
                ))
            })?;
            for (j, document) in documents.iter().enumerate() {
                let pending = parse_document(world, key, j, document)?;
                if let Some(upload) = pending.consumes_upload
                    && parsed.documents.iter().any(|d| d.consumes_upload == Some(upload))
                {
                    return Err(user_error(format!(
                        "{key}[{j}]: upload_id {upload} is used twice; an upload is used once"
                    )));
                }
                parsed.documents.push(pending);
            }
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
        Some(map) => parse_answers(world, at, map).map_err(fail)?,
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
    state.check_body_and(
        "POST /v1/webhook/subco-status-update",
        "SubcontractorStatusUpdatePayload",
        &raw,
        unknown_answer_keys(&raw),
    )?;
    let payload: StatusUpdatePayload = crate::wire::parse_value(raw.clone())?;
    let updates = payload.updates.unwrap_or_default();
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
