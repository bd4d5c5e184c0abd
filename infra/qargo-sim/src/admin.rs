//! The simulator's own routes under `/_sim/` (JSON, no auth): the scenario API, what the simulator
//! received and sent, request counters and fault switches.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::path_uuid;
use crate::errors::ApiError;
use crate::scenario::{
    CustomerInput, DispatchRequest, DocumentInput, EtaInput, PhotoInput, ScenarioOrder, SignatureInput, SimHandle,
    StopAction, TripInput,
};
use crate::server::{AppState, Faults};
use crate::wire::parse_body;

fn handle(state: &AppState) -> SimHandle {
    SimHandle { state: state.clone() }
}

/// An empty body reads as `{}`.
fn body_or_default<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_body(body) }
}

/// `POST /_sim/faults`: the faults to set (replacing the current ones) plus one-shot actions.
#[derive(Debug, Clone, Default, Deserialize)]
struct FaultsRequest {
    #[serde(flatten)]
    faults: Faults,
    /// Expire every token issued so far.
    #[serde(default)]
    expire_tokens: bool,
    /// Lifetime of tokens issued from now on.
    #[serde(default)]
    token_ttl_seconds: Option<u64>,
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn requests(State(state): State<AppState>) -> Json<Value> {
    Json(json!(state.request_counts()))
}

async fn reset_requests(State(state): State<AppState>) -> Json<Value> {
    state.reset_request_counts();
    Json(json!(state.request_counts()))
}

async fn get_faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "faults": state.faults(), "token_ttl_seconds": state.lock().token_ttl.as_secs() }))
}

async fn set_faults(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: FaultsRequest = body_or_default(&body)?;
    let sim = handle(&state);
    sim.set_faults(request.faults);
    if request.expire_tokens {
        sim.expire_all_tokens();
    }
    if let Some(seconds) = request.token_ttl_seconds {
        sim.set_token_ttl(std::time::Duration::from_secs(seconds));
    }
    Ok(get_faults(State(state)).await)
}

async fn list_customers(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).customers()))
}

async fn create_customer(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let input: CustomerInput = parse_body(&body)?;
    let created = handle(&state).create_customer(&input)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list_orders(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).orders()))
}

async fn create_order(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let raw: Value = parse_body(&body)?;
    // The order part is Qargo's `OrderInput`: checked against the spec like an upload (unknown
    // keys recorded, and refused with `strict_unknown_keys`).
    let mut order = raw.clone();
    if let Some(map) = order.as_object_mut() {
        map.remove("trip");
    }
    state.check_body("POST /_sim/orders", "OrderInput", &crate::scenario::with_scenario_defaults(order))?;
    let input: ScenarioOrder = crate::wire::parse_value(raw)?;
    let created = handle(&state).create_order(&input)?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

async fn order_detail(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("order_id", &id)?;
    handle(&state).order_detail(id).map(Json).ok_or_else(|| ApiError::NotFound(format!("order {id}")))
}

async fn list_trips(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).trips()))
}

async fn create_trip(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let input: TripInput = parse_body(&body)?;
    let created = handle(&state).create_trip(&input)?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

async fn dispatch(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("trip_id", &id)?;
    let request: DispatchRequest = body_or_default(&body)?;
    let operation = request.operation.unwrap_or_else(|| "CREATE".into());
    let record = handle(&state).dispatch_trip(id, &operation).await?;
    Ok(Json(json!(record)))
}

async fn reoptimise(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("trip_id", &id)?;
    let input: EtaInput = body_or_default(&body)?;
    Ok(Json(json!(handle(&state).reoptimise_etas(id, &input).await?)))
}

async fn arrive(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("stop_id", &id)?;
    let input: StopAction = body_or_default(&body)?;
    Ok(Json(json!(handle(&state).arrive_at_stop(id, &input).await?)))
}

async fn complete(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("stop_id", &id)?;
    let input: StopAction = body_or_default(&body)?;
    Ok(Json(json!(handle(&state).complete_stop(id, &input).await?)))
}

async fn signature(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("stop_id", &id)?;
    let input: SignatureInput = parse_body(&body)?;
    Ok(Json(json!(handle(&state).capture_signature(id, &input).await?)))
}

async fn photo(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("stop_id", &id)?;
    let input: PhotoInput = body_or_default(&body)?;
    Ok(Json(json!(handle(&state).capture_photo(id, &input).await?)))
}

async fn stop_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid("stop_id", &id)?;
    let input: DocumentInput = parse_body(&body)?;
    Ok(Json(json!(handle(&state).add_stop_document(id, &input).await?)))
}

async fn outbound(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let records = handle(&state).outbound();
    let kind = query.get("kind");
    Json(json!(records.into_iter().filter(|r| kind.is_none_or(|k| &r.kind == k)).collect::<Vec<_>>()))
}

async fn status_updates(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).status_updates()))
}

async fn uploads(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).uploads()))
}

async fn process_uploads(State(state): State<AppState>) -> Json<Value> {
    let resolved = handle(&state).process_uploads();
    Json(json!({ "resolved": resolved }))
}

async fn documents(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).documents()))
}

async fn document_content(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = path_uuid("document_id", &id)?;
    let world = state.lock();
    let doc = world.document(id).ok_or_else(|| ApiError::NotFound(format!("document {id}")))?;
    let mut response = (StatusCode::OK, doc.bytes.clone()).into_response();
    if let Ok(value) = HeaderValue::from_str(&doc.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    Ok(response)
}

async fn scans(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let world = state.lock();
    let barcode = query.get("barcode");
    Json(json!(world.scans.iter().filter(|s| barcode.is_none_or(|b| &s.barcode == b)).collect::<Vec<_>>()))
}

/// Every `/_sim/` route.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/requests", get(requests))
        .route("/_sim/requests/reset", post(reset_requests))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/customers", get(list_customers).post(create_customer))
        .route("/_sim/orders", get(list_orders).post(create_order))
        .route("/_sim/orders/{order_id}", get(order_detail))
        .route("/_sim/trips", get(list_trips).post(create_trip))
        .route("/_sim/trips/{trip_id}/dispatch", post(dispatch))
        .route("/_sim/trips/{trip_id}/eta", post(reoptimise))
        .route("/_sim/stops/{stop_id}/arrive", post(arrive))
        .route("/_sim/stops/{stop_id}/complete", post(complete))
        .route("/_sim/stops/{stop_id}/signature", post(signature))
        .route("/_sim/stops/{stop_id}/photo", post(photo))
        .route("/_sim/stops/{stop_id}/document", post(stop_document))
        .route("/_sim/outbound", get(outbound))
        .route("/_sim/status-updates", get(status_updates))
        .route("/_sim/uploads", get(uploads))
        .route("/_sim/uploads/process", post(process_uploads))
        .route("/_sim/documents", get(documents))
        .route("/_sim/documents/{document_id}/content", get(document_content))
        .route("/_sim/scans", get(scans))
        .route("/_sim/unknown-keys", get(unknown_keys))
}

/// `GET /_sim/unknown-keys`: keys the spec does not define found in request bodies.
async fn unknown_keys(State(state): State<AppState>) -> Json<Value> {
    Json(json!(handle(&state).unknown_keys()))
}
