//! The test harness's endpoints under `/_sim/`. They need no token and faults never apply to them.
//!
//! | method & path | what |
//! |---|---|
//! | `GET /_sim` | this list |
//! | `GET /_sim/clock` | `{"now": "2026-06-17T09:00:00", "timeZone": "Europe/London"}` |
//! | `POST /_sim/clock` | `{"now": "2026-06-18T12:00:00"}` or `{"advance": "PT6H"}` (ISO 8601 or `"6h 30m"`); runs the lifecycle driver up to the new time; never backwards |
//! | `POST /_sim/step` | `{"consignmentID": 10001, "stage": "DEL"}` (status code, name or id): scans it there now |
//! | `POST /_sim/consignments/{id}/outcome` | `{"outcome": "failed"}` (`delivered`, `damaged`, `short`, `failed`, or `null` for chance) |
//! | `GET /_sim/consignments/{id}` | a consignment with events and attachments, whoever can see it |
//! | `GET /_sim/faults` / `POST /_sim/faults` | read / change switches: `outage` (bool or a number of requests), `latencyMs`, `jitterMs`, `rateLimitPerMinute` (0 = off), `truncateBodies`, `malformedBodies`, `throttle` (429 with `Retry-After: 1`) (bool or number), `labelDelayMs`, `tokenLifetimeSeconds`; actions `expireTokens: true`, `revokeRefreshTokens: true` |
//! | `GET /_sim/requests` / `POST /_sim/requests/reset` | request counts per route and principal |
//! | `GET /_sim/driver` / `POST /_sim/driver` | `manualDepots`, `failedDeliveryPercent`, `exceptionPercent`, `latePodPercent` |
//! | `GET /_sim/world` | depots, users with passwords, customers, Optimize key, consignments and their statuses |
//! | `POST /_sim/reset` | rebuild the world from the seed (faults and counts cleared) |

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::json_response;
use super::render::{self, Include};
use crate::OPTIMIZE_KEY_HEADER;
use crate::clock;
use crate::faults::FaultSwitch;
use crate::handle::{SimHandle, Stage};
use crate::problem::ApiError;
use crate::world::Scope;

/// The admin endpoints, one line each (also printed by `nexus-sim --help`).
pub const ADMIN_ENDPOINTS: &str = "\
GET  /_sim                          list of these endpoints
GET  /_sim/clock                    the simulator's time (UK local)
POST /_sim/clock                    {\"now\": \"2026-06-18T12:00:00\"} or {\"advance\": \"PT6H\"}: move the clock
                                    forward, running the lifecycle driver (scans, PODs, failures)
POST /_sim/step                     {\"consignmentID\": 10001, \"stage\": \"DEL\"}: scan a consignment to a stage now
POST /_sim/consignments/{id}/outcome {\"outcome\": \"failed\"|\"damaged\"|\"short\"|\"delivered\"|null}
GET  /_sim/consignments/{id}        a consignment with events and attachments (no visibility rule)
GET  /_sim/faults                   the fault switches
POST /_sim/faults                   {\"outage\": true|false|N, \"latencyMs\": 200, \"jitterMs\": 100,
                                    \"rateLimitPerMinute\": 100, \"truncateBodies\": true|false|N,
                                    \"malformedBodies\": true|false|N, \"labelDelayMs\": 2000,
                                    \"tokenLifetimeSeconds\": 300, \"expireTokens\": true,
                                    \"revokeRefreshTokens\": true}   (N = the next N requests only)
GET  /_sim/requests                 request counts per route and principal (for benchmarks)
POST /_sim/requests/reset           start counting afresh
GET  /_sim/driver                   lifecycle driver settings
POST /_sim/driver                   {\"manualDepots\": [\"PGD302\"], \"failedDeliveryPercent\": 10,
                                    \"exceptionPercent\": 3, \"latePodPercent\": 30}
GET  /_sim/world                    depots, users and passwords, customers, Optimize key, consignments
POST /_sim/reset                    rebuild the world from the seed
";

pub(crate) fn router(sim: SimHandle) -> Router {
    Router::new()
        .route("/_sim", get(index))
        .route("/_sim/clock", get(get_clock).post(set_clock))
        .route("/_sim/step", post(step))
        .route("/_sim/consignments/{id}", get(consignment))
        .route("/_sim/consignments/{id}/outcome", post(outcome))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/requests", get(requests))
        .route("/_sim/requests/reset", post(reset_requests))
        .route("/_sim/driver", get(get_driver).post(set_driver))
        .route("/_sim/world", get(world))
        .route("/_sim/reset", post(reset))
        .with_state(sim)
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::field("$", format!("The request body is not valid JSON: {e}.")))
}

async fn index() -> Response {
    ok(json!({ "endpoints": ADMIN_ENDPOINTS.lines().collect::<Vec<_>>() }))
}

fn clock_body(sim: &SimHandle) -> Value {
    json!({ "now": clock::format_datetime(sim.world().now), "timeZone": "Europe/London" })
}

async fn get_clock(State(sim): State<SimHandle>) -> Response {
    ok(clock_body(&sim))
}

async fn set_clock(State(sim): State<SimHandle>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let applied = match (body.get("now").and_then(Value::as_str), body.get("advance").and_then(Value::as_str)) {
        (Some(raw), None) => {
            let at = raw.parse::<jiff::civil::DateTime>().map_err(|_| {
                ApiError::field("now", format!("'{raw}' is not a UK local datetime like 2026-06-18T12:00:00."))
            })?;
            sim.set_now(at).map_err(|e| ApiError::field("now", e.to_string()))?
        }
        (None, Some(raw)) => {
            let span = raw.parse::<jiff::Span>().map_err(|_| {
                ApiError::field("advance", format!("'{raw}' is not a duration like PT6H, P1D or \"2h 30m\"."))
            })?;
            sim.advance_span(span).map_err(|e| ApiError::field("advance", e.to_string()))?
        }
        _ => return Err(ApiError::field("$", "Send either \"now\" or \"advance\".")),
    };
    let mut body = clock_body(&sim);
    body["actionsApplied"] = json!(applied);
    Ok(ok(body))
}

async fn step(State(sim): State<SimHandle>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let id = body
        .get("consignmentID")
        .or_else(|| body.get("consignmentId"))
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .ok_or_else(|| ApiError::field("consignmentID", "The consignmentID field is required."))?;
    let raw = body.get("stage").and_then(Value::as_str).unwrap_or_default();
    let stage: Stage = raw.parse().map_err(|e: crate::SimError| ApiError::field("stage", e.to_string()))?;
    match sim.step(id, stage) {
        Ok(scans) => {
            let mut body = sim.consignment_json(id).unwrap_or(Value::Null);
            body["scansApplied"] = json!(scans);
            Ok(ok(body))
        }
        Err(crate::SimError::NotFound(_)) => Err(ApiError::consignment_not_found(&id.to_string())),
        Err(e) => Err(ApiError::conflict("The consignment cannot be stepped there.", e.to_string())),
    }
}

async fn consignment(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let c = id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.consignments.get(&id))
        .ok_or_else(|| ApiError::consignment_not_found(&id))?;
    Ok(ok(render::consignment(&world, c, &Include::all(), Some(&super::base_url(&headers)))))
}

async fn outcome(State(sim): State<SimHandle>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let id: u64 = id.parse().map_err(|_| ApiError::consignment_not_found(&id))?;
    let outcome = body.get("outcome").and_then(Value::as_str);
    sim.set_delivery_outcome(id, outcome).map_err(|e| match e {
        crate::SimError::NotFound(_) => ApiError::consignment_not_found(&id.to_string()),
        other => ApiError::field("outcome", other.to_string()),
    })?;
    Ok(ok(json!({ "consignmentID": id, "outcome": outcome })))
}

fn faults_body(sim: &SimHandle) -> Value {
    let faults = sim.faults_now();
    let lifetime = sim.world().token_lifetime.as_secs();
    json!({
        "outage": faults.outage.to_json(),
        "latencyMs": faults.latency.as_millis() as u64,
        "jitterMs": faults.latency_jitter.as_millis() as u64,
        "rateLimitPerMinute": faults.rate_limit_per_minute,
        "truncateBodies": faults.truncate_bodies.to_json(),
        "throttle": faults.throttle.to_json(),
        "malformedBodies": faults.malformed_bodies.to_json(),
        "labelDelayMs": faults.label_delay.as_millis() as u64,
        "tokenLifetimeSeconds": lifetime,
    })
}

async fn get_faults(State(sim): State<SimHandle>) -> Response {
    ok(faults_body(&sim))
}

async fn set_faults(State(sim): State<SimHandle>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let Some(fields) = body.as_object() else { return Err(ApiError::field("$", "Send a JSON object.")) };
    let mut settings = sim.faults_now();
    let switch = |key: &str, value: &Value| {
        FaultSwitch::from_json(value).ok_or_else(|| ApiError::field(key, "Use true, false or a number of requests."))
    };
    let millis = |key: &str, value: &Value| {
        value
            .as_u64()
            .map(Duration::from_millis)
            .ok_or_else(|| ApiError::field(key, "Use a whole number of milliseconds."))
    };
    let mut token_lifetime = None;
    let mut expire = false;
    let mut revoke = false;
    for (key, value) in fields {
        match key.as_str() {
            "outage" => settings.outage = switch(key, value)?,
            "truncateBodies" => settings.truncate_bodies = switch(key, value)?,
            "throttle" => settings.throttle = switch(key, value)?,
            "malformedBodies" => settings.malformed_bodies = switch(key, value)?,
            "latencyMs" => settings.latency = millis(key, value)?,
            "jitterMs" => settings.latency_jitter = millis(key, value)?,
            "labelDelayMs" => settings.label_delay = millis(key, value)?,
            "rateLimitPerMinute" => {
                settings.rate_limit_per_minute = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| ApiError::field(key, "Use a whole number (0 turns the limit off)."))?;
            }
            "tokenLifetimeSeconds" => {
                token_lifetime = Some(
                    value
                        .as_u64()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| ApiError::field(key, "Use a number of seconds."))?,
                );
            }
            "expireTokens" => expire = value.as_bool().unwrap_or(false),
            "revokeRefreshTokens" => revoke = value.as_bool().unwrap_or(false),
            other => return Err(ApiError::field(other, format!("'{other}' is not a fault switch."))),
        }
    }
    sim.set_faults(settings);
    if let Some(seconds) = token_lifetime {
        sim.set_token_lifetime(Duration::from_secs(seconds));
    }
    if expire {
        sim.expire_all_tokens();
    }
    if revoke {
        sim.revoke_refresh_tokens();
    }
    Ok(ok(faults_body(&sim)))
}

async fn requests(State(sim): State<SimHandle>) -> Response {
    ok(serde_json::to_value(sim.request_counts()).unwrap_or(Value::Null))
}

async fn reset_requests(State(sim): State<SimHandle>) -> Response {
    sim.reset_request_counts();
    ok(serde_json::to_value(sim.request_counts()).unwrap_or(Value::Null))
}

fn driver_body(sim: &SimHandle) -> Value {
    let world = sim.world();
    json!({
        "manualDepots": world.driver.manual_depots,
        "failedDeliveryPercent": world.driver.failed_delivery_percent,
        "exceptionPercent": world.driver.exception_percent,
        "latePodPercent": world.driver.late_pod_percent,
        "maxDeliveryAttempts": world.driver.max_delivery_attempts,
    })
}

async fn get_driver(State(sim): State<SimHandle>) -> Response {
    ok(driver_body(&sim))
}

async fn set_driver(State(sim): State<SimHandle>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let percent = |key: &str| -> Result<Option<u64>, ApiError> {
        match body.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n <= 100)
                .map(Some)
                .ok_or_else(|| ApiError::field(key, "Use a whole percentage from 0 to 100.")),
        }
    };
    let failed = percent("failedDeliveryPercent")?;
    let exception = percent("exceptionPercent")?;
    let late_pod = percent("latePodPercent")?;
    let manual = match body.get("manualDepots") {
        None => None,
        Some(Value::Array(items)) => {
            Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
        }
        Some(_) => return Err(ApiError::field("manualDepots", "Use an array of depot codes.")),
    };
    {
        let mut world = sim.world();
        if let Some(failed) = failed {
            world.driver.failed_delivery_percent = failed;
        }
        if let Some(exception) = exception {
            world.driver.exception_percent = exception;
        }
        if let Some(late_pod) = late_pod {
            world.driver.late_pod_percent = late_pod;
        }
    }
    if let Some(manual) = manual {
        sim.set_manual_depots(manual);
    }
    Ok(ok(driver_body(&sim)))
}

async fn world(State(sim): State<SimHandle>) -> Response {
    let world = sim.world();
    let mut status_counts = serde_json::Map::new();
    for c in world.consignments.values() {
        let entry = status_counts.entry(c.status().code).or_insert(json!(0));
        *entry = json!(entry.as_u64().unwrap_or(0) + 1);
    }
    ok(json!({
        "profile": sim.profile().name(),
        "now": clock::format_datetime(world.now),
        "randomSeed": world.seed,
        "optimizeKey": world.optimize_key,
        "optimizeKeyHeader": OPTIMIZE_KEY_HEADER,
        "networks": world.hubs.iter().map(|(n, hub)| json!({
            "code": n.code(), "name": n.name(), "hubCode": hub.code, "hubName": hub.name,
        })).collect::<Vec<_>>(),
        "depots": world.depots.values().map(|d| json!({
            "code": d.code, "name": d.name, "town": d.town, "postcode": d.postcode,
            "networks": d.networks.iter().map(|n| n.code()).collect::<Vec<_>>(),
            "postcodeAreas": d.postcode_areas,
        })).collect::<Vec<_>>(),
        "customers": world.customers.values().map(|c| json!({
            "customerID": c.id, "network": c.network.code(), "name": c.name, "depotCode": c.depot_code,
            "postcode": c.address.postcode,
        })).collect::<Vec<_>>(),
        "users": world.users.values().map(|u| match &u.scope {
            Scope::Depot(code) => json!({ "username": u.username, "password": u.password, "depotCode": code }),
            Scope::Customer(id) => json!({ "username": u.username, "password": u.password, "customerID": id }),
        }).collect::<Vec<_>>(),
        "consignments": world.consignments.values().map(|c| json!({
            "consignmentID": c.id,
            "consignmentNumber": c.number,
            "customerID": c.customer_id,
            "network": c.network.code(),
            "status": c.status().code,
            "requestingDepotCode": c.requesting_depot,
            "collectingDepotCode": c.collecting_depot,
            "deliveryDepotCode": c.delivery_depot,
            "estimatedDelDate": clock::format_date(c.estimated_del_date),
            "bookedBy": c.booked_by,
            "lastUpdated": clock::format_datetime(c.last_updated),
        })).collect::<Vec<_>>(),
        "statusCounts": status_counts,
    }))
}

async fn reset(State(sim): State<SimHandle>) -> Result<Response, ApiError> {
    sim.reset().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(ok(clock_body(&sim)))
}
