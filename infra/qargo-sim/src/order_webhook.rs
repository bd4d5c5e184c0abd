//! `POST /v1/webhook`: Qargo's order import webhook ("Create/Update/Cancel Orders", operationId
//! `order-import-webhook`) — "the fully asynchronous version of the order upload api", with the
//! webhook's HTTP Basic credential and outside the 2 requests/s API limit.
//!
//! The spec's body is `anyOf[OrderInput, binary]`; the simulator takes the JSON `OrderInput` and
//! validates it against that schema first (`422` `HTTPValidationError` when the schema refuses it).
//! The answer is the spec's `OrderImportResponse | null` with HTTP 200 — **no upload id**:
//!
//! * `null` when the order is accepted;
//! * `{"errors": [{"error_type": "USER_INPUT_ERROR", "error_message": "…"}]}` when it is refused:
//!   a semantic check of the upload fails (unknown customer, a date that is not `YYYY-MM-DD`, …;
//!   one entry per failure, `"$.path: message"`), or the import resolves to `ERROR` (e.g. UPDATE of
//!   an unknown identifier, the `upload_error` fault).
//!
//! Qargo processes webhook imports in the background. The simulator has no background worker, so
//! it resolves the import at once (same outcome table as an upload); the import stays visible as an
//! upload (`GET /_sim/uploads`), and the order by its identifier. Invented here (the spec is silent):
//! the immediate resolution, and answering `errors` for an import that resolves to `ERROR`
//! (`DUPLICATE` and `SKIPPED` answer `null`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::WebhookAuth;
use crate::errors::ApiError;
use crate::model::Upload;
use crate::server::AppState;
use crate::uploads;
use crate::validate::{Mode, validate_order};
use crate::wire::{OrderInput, parse_body};
use crate::world::now;

fn refused(messages: impl IntoIterator<Item = String>) -> Json<Value> {
    let errors: Vec<Value> = messages
        .into_iter()
        .map(|message| json!({ "error_type": "USER_INPUT_ERROR", "error_message": message }))
        .collect();
    Json(json!({ "errors": errors }))
}

/// `POST /v1/webhook`: validates the `OrderInput`, queues it and lets the "background worker"
/// resolve it at once; answers `null`, or `{errors}` when the order is refused.
pub async fn order_import(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    state.check_body("POST /v1/webhook", "OrderInput", &raw)?;
    let input: OrderInput = crate::wire::parse_value(raw.clone())?;
    let forced = state.faults().upload_error;
    let mut world = state.lock();
    if let Err(errors) = validate_order(&input, Mode::Upload, &world.customers) {
        return Ok(refused(errors.into_iter().map(|e| format!("{}: {}", e.path.as_deref().unwrap_or("$"), e.message))));
    }
    let identifier = input.order_identifier.clone().unwrap_or_default().trim().to_string();
    let existing = world.order_by_identifier(&identifier).map(|i| world.orders[i].id);
    let upload = Upload {
        id: Uuid::new_v4(),
        operation: input.operation.clone().unwrap_or_default(),
        order_identifier: identifier,
        input,
        raw,
        status: "TODO".into(),
        polls: 0,
        order_id: existing,
        message: None,
        created: now(),
    };
    world.uploads.push(upload);
    let index = world.uploads.len() - 1;
    uploads::resolve(&mut world, index, forced.as_deref());
    let resolved = &world.uploads[index];
    if resolved.status == "ERROR" {
        let why = resolved.message.clone().unwrap_or_else(|| "the order import failed".into());
        return Ok(refused([why]));
    }
    Ok(Json(Value::Null))
}
