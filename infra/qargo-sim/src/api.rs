//! Qargo's OAuth API routes: token, `me`, order upload and reads, documents.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{ApiAuth, Presented};
use crate::errors::{ApiError, HttpValidationIssue};
use crate::model::Upload;
use crate::render;
use crate::server::AppState;
use crate::uploads;
use crate::validate::{Mode, validate_order};
use crate::wire::{OrderInput, parse_body};
use crate::world::{PendingFile, now, stable_uuid};

/// Parses a path UUID the way FastAPI does (`422` `uuid_parsing`).
pub(crate) fn path_uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|e| {
        ApiError::Unprocessable(vec![HttpValidationIssue {
            loc: vec!["path".into(), name.into()],
            msg: format!("Input should be a valid UUID, {e}"),
            kind: "uuid_parsing".into(),
        }])
    })
}

/// `POST /v1/auth/token`: HTTP Basic `client_id:client_secret` → `{access_token, token_type,
/// expires_in}`. Every call counts against the tenant's 5 per rolling hour, whatever its credentials.
pub async fn token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let presented = Presented::from_header(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let mut world = state.lock();
    if let Some(log) = world.token_log.as_mut() {
        log.admit(now).map_err(ApiError::RateLimited)?;
    }
    let client = &state.options.api_client;
    match presented {
        Presented::Basic { username, password } if username == client.client_id && password == client.client_secret => {
        }
        Presented::Basic { .. } => return Err(ApiError::Unauthorized("Invalid client credentials".into())),
        _ => {
            return Err(ApiError::Unauthorized(
                "The token endpoint needs HTTP Basic authentication with client_id:client_secret".into(),
            ));
        }
    }
    let ttl = world.token_ttl;
    let token = world.tokens.issue(&state.options.tenant, &client.client_id, now, ttl);
    Ok(Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": ttl.as_secs() })))
}

/// `GET /me`: the calling API user (the spec types the answer only as an object; `/v1/me` does not
/// exist).
pub async fn me(_auth: ApiAuth, State(state): State<AppState>) -> Json<Value> {
    let client = &state.options.api_client.client_id;
    Json(json!({
        "id": stable_uuid(&format!("api-user:{client}")),
        "name": client,
        "type": "API_CLIENT",
        "tenant": state.options.tenant,
        "roles": ["API_ORDER", "API_TRIP", "API_MASTER_DATA"],
    }))
}

/// `POST /v1/orders/order/upload`: validates the `OrderInput` and queues it (`TODO`).
pub async fn upload_order(_auth: ApiAuth, State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    state.check_body("POST /v1/orders/order/upload", "OrderInput", &raw)?;
    let input: OrderInput = crate::wire::parse_value(raw.clone())?;
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
    Ok(Json(answer))
}

/// `GET /v1/orders/order/upload/{upload_id}`: advances and returns the upload.
pub async fn upload_status(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("upload_id", &upload_id)?;
    let forced = state.faults().upload_error;
    let mut world = state.lock();
    let index =
        world.uploads.iter().position(|u| u.id == id).ok_or_else(|| ApiError::NotFound("Upload not found".into()))?;
    let upload = uploads::poll(&mut world, index, state.options.upload_polls_before_done, forced.as_deref());
    Ok(Json(render::order_import(upload)))
}

/// `GET /v1/orders/order/{order_id}`: `OrderOutput`.
pub async fn get_order(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("order_id", &order_id)?;
    let world = state.lock();
    let order = world.order(id).ok_or_else(|| ApiError::NotFound("Order not found".into()))?;
    Ok(Json(render::order(order, world.customer(order.customer_id))))
}

/// `GET /v1/orders/order/{order_id}/status`: `OrderWithStatus`.
pub async fn get_order_status(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("order_id", &order_id)?;
    let world = state.lock();
    let order = world.order(id).ok_or_else(|| ApiError::NotFound("Order not found".into()))?;
    Ok(Json(render::order_with_status(order, world.customer(order.customer_id))))
}

/// `GET /v1/orders/order/{order_id}/documents`: a JSON array of `Document` (the real endpoint is not
/// paged).
pub async fn order_documents(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("order_id", &order_id)?;
    let world = state.lock();
    world.order(id).ok_or_else(|| ApiError::NotFound("Order not found".into()))?;
    let docs: Vec<Value> = world.documents.iter().filter(|d| d.order_id == Some(id)).map(render::document).collect();
    Ok(Json(Value::Array(docs)))
}

/// `GET /v1/trips/trip/{trip_id}/documents`: the documents of every order on the trip.
pub async fn trip_documents(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(trip_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("trip_id", &trip_id)?;
    let world = state.lock();
    let trip = world.trip(id).ok_or_else(|| ApiError::NotFound("Trip not found".into()))?;
    let docs: Vec<Value> = world
        .documents
        .iter()
        .filter(|d| d.order_id.is_some_and(|o| trip.order_ids.contains(&o)))
        .map(render::document)
        .collect();
    Ok(Json(Value::Array(docs)))
}

/// `GET /v1/documents/document/{document_id}/download[?direct=true]`: the bytes.
pub async fn download_document(
    _auth: ApiAuth,
    State(state): State<AppState>,
    Path(document_id): Path<String>,
    Query(_query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = path_uuid("document_id", &document_id)?;
    let world = state.lock();
    let doc = world.document(id).ok_or_else(|| ApiError::NotFound("Document not found".into()))?;
    let mut response = (StatusCode::OK, doc.bytes.clone()).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&doc.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let disposition = format!("attachment; filename=\"{}\"", doc.name.replace('"', ""));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `POST /v1/documents/document/upload_content`: multipart `file` → `201 {upload_id}`, to be
/// referenced by a `remote_document{upload_id}` question answer.
pub async fn upload_content(
    _auth: ApiAuth,
    State(state): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let missing = |msg: &str| {
        ApiError::Unprocessable(vec![HttpValidationIssue {
            loc: vec!["body".into(), "file".into()],
            msg: msg.to_string(),
            kind: "missing".into(),
        }])
    };
    let mut multipart = multipart.map_err(|e| missing(&format!("a multipart/form-data body is required: {e}")))?;
    let mut file = None;
    while let Some(field) =
        multipart.next_field().await.map_err(|e| missing(&format!("unreadable multipart body: {e}")))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload.bin").to_string();
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
            let bytes = field.bytes().await.map_err(|e| missing(&format!("unreadable file part: {e}")))?;
            file = Some(PendingFile { name, content_type, bytes: bytes.to_vec() });
        }
    }
    let file = file.ok_or_else(|| missing("Field required"))?;
    let upload_id = Uuid::new_v4();
    state.lock().pending_files.insert(upload_id, file);
    Ok((StatusCode::CREATED, Json(json!({ "upload_id": upload_id }))).into_response())
}
