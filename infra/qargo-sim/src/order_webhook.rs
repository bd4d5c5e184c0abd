//! `POST /v1/webhook`: Qargo's order import webhook ("Create/Update/Cancel Orders", operationId
//! `order-import-webhook`) — "the fully asynchronous version of the order upload api", with the
//! webhook's HTTP Basic credential and outside the 2 requests/s API limit.
//!
//! The body is the same `OrderInput` as `POST /v1/orders/order/upload` and is validated the same way
//! (`400` listing every failure, `422` for a body of the wrong types). Qargo's OpenAPI answers
//! `OrderImportResponse | null`; the simulator answers the queued import in the upload's shape,
//! `{upload_id, upload_status: "TODO", upload_url, order_id, order_url}`, so it can be followed with
//! `GET /v1/orders/order/upload/{upload_id}` (an OAuth API call, inside the limit).
//!
//! Qargo processes webhook imports in the background whether or not anyone asks about them. The
//! simulator has no background worker, so it resolves the import at once (same outcome table as an
//! upload: CREATE → COMPLETED or DUPLICATE, UPDATE, DELETE → COMPLETED or SKIPPED, ERROR otherwise,
//! and the `upload_error` fault applies); the answer still says `TODO`, and the first status read
//! shows the outcome. An integrator that never polls therefore still gets its orders — unlike an
//! upload, which the simulator only resolves when polled (`upload_polls_before_done`).
//!
//! Invented here: the answer's shape (the OpenAPI names `OrderImportResponse` without fields in our
//! research) and the immediate resolution.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::WebhookAuth;
use crate::errors::ApiError;
use crate::model::Upload;
use crate::render;
use crate::server::AppState;
use crate::uploads;
use crate::validate::{Mode, validate_order};
use crate::wire::{OrderInput, parse_body};
use crate::world::now;

/// `POST /v1/webhook`: validates the `OrderInput`, queues it and lets the "background worker"
/// resolve it; answers the queued import.
pub async fn order_import(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    let input: OrderInput = crate::wire::parse_value(raw.clone())?;
    let forced = state.faults().upload_error;
    let mut world = state.lock();
    validate_order(&input, Mode::Upload, &world.customers).map_err(ApiError::invalid)?;
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
    let answer = render::order_import(&upload);
    world.uploads.push(upload);
    let index = world.uploads.len() - 1;
    uploads::resolve(&mut world, index, forced.as_deref());
    Ok(Json(answer))
}
