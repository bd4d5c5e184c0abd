//! The HTTP surface: `/v1/…` (the simulated Nexus REST API, with fault injection and request counts)
//! and `/_sim/…` (the test harness, never faulted, no token needed).
//!
//! Paths are lower-cased (and a trailing `/` dropped) before routing, so `Consignments`,
//! `consignments` and `Account/login/` all match, as on ASP.NET. Invented: JSON-bodied endpoints
//! answer 415 unless the request says `Content-Type: application/json` (ASP.NET `[FromBody]` does
//! the same); responses are JSON whatever `Accept` says. A path no route matches answers a bare 404
//! with no body, as ASP.NET does (errors of a matched route are ProblemDetails).
//!
//! The routes depend on the [`Profile`]: the full profile serves every route of today's model, the
//! seen profile only the seen ones ([`seen`]).

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod attachments;
pub(crate) mod consignments;
pub(crate) mod lookups;
pub(crate) mod query;
pub(crate) mod render;
pub(crate) mod seen;
pub(crate) mod tracking;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::Value;

use crate::auth;
use crate::faults::Gate;
use crate::handle::SimHandle;
use crate::problem::ApiError;
use crate::profile::Profile;
use crate::world::{Consignment, Principal, World};

/// The largest upload accepted (attachments).
const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;

pub(crate) fn router(sim: SimHandle) -> Router {
    let v1 = match sim.profile() {
        Profile::Full => full_routes(),
        Profile::Seen => seen_routes(),
    };
    let v1 = v1.layer(middleware::from_fn_with_state(sim.clone(), network_conditions)).with_state(sim.clone());
    let mut app = v1.merge(admin::router(sim.clone()));
    if sim.profile() == Profile::Seen {
        // The attachments' direct links (storage, not the API: no token, never faulted or counted).
        app = app.merge(Router::new().route("/blob/attachments/{id}/{name}", get(seen::blob)).with_state(sim));
    }
    app.fallback(no_route)
}

/// Every route of today's model (nexus-api.md §3 and the README).
fn full_routes() -> Router<SimHandle> {
    Router::new()
        .route("/v1/account/login", post(account::login))
        .route("/v1/account/refresh", post(account::refresh))
        .route("/v1/consignments", get(consignments::list).post(consignments::create))
        .route("/v1/consignments/{id}", get(consignments::detail))
        .route("/v1/consignments/{id}/labels", get(consignments::labels))
        .route("/v1/consignments/{id}/cancel", post(consignments::cancel))
        .route("/v1/consignments/{id}/events", get(tracking::list_events).post(tracking::post_events))
        .route(
            "/v1/consignments/{id}/attachments",
            get(attachments::list).post(attachments::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/v1/consignments/{id}/eta", put(tracking::put_eta))
        .route("/v1/attachments/{id}/content", get(attachments::content))
        .route("/v1/{lookup}", get(lookups::lookup))
}

/// Only the seen routes (nexus-api.md §1.3–§1.4); anything else is no route (a bare 404, or 405
/// for another method on a seen path, as ASP.NET's endpoint routing answers).
fn seen_routes() -> Router<SimHandle> {
    let mut routes = Router::new()
        .route("/v1/account/login", post(account::login))
        .route("/v1/account/refresh", post(account::refresh))
        .route("/v1/consignments", get(consignments::list).post(consignments::create))
        .route("/v1/consignments/{id}", get(consignments::detail))
        .route("/v1/consignments/{id}/labels", get(consignments::labels))
        .route("/v1/consignments/{id}/attachments", get(seen::attachments));
    for &name in seen::LOOKUPS {
        routes = routes.route(
            &format!("/v1/{name}"),
            get(move |State(sim): State<SimHandle>, headers: HeaderMap, Query(query): Query<Vec<(String, String)>>| {
                seen::lookup(sim, name, headers, query)
            }),
        );
    }
    routes
}

/// No route: a bare 404 with no body, as ASP.NET answers a path no endpoint matches.
async fn no_route() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Lower-cases the path and drops a trailing slash, before routing.
pub(crate) async fn normalise_path(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let mut normal = path.to_ascii_lowercase();
    while normal.len() > 1 && normal.ends_with('/') {
        normal.pop();
    }
    if normal != path {
        let rebuilt = match uri.query() {
            Some(query) => format!("{normal}?{query}"),
            None => normal,
        };
        if let Ok(path_and_query) = rebuilt.parse() {
            let mut parts = uri.clone().into_parts();
            parts.path_and_query = Some(path_and_query);
            if let Ok(new_uri) = Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    request
}

/// A delay a handler added on purpose (slow labels), reported to the request counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InjectedDelay(pub(crate) Duration);

/// Outage, rate limit, latency, mangled bodies, and request counting, for every `/v1/` request.
async fn network_conditions(State(sim): State<SimHandle>, request: Request, next: Next) -> Response {
    // Lookups share one route template; they are counted by their own path so benchmarks can tell
    // `countries` from `depots`.
    let template = request.extensions().get::<MatchedPath>().map_or("(unmatched)", |m| m.as_str());
    let route = if template == "/v1/{lookup}" {
        format!("{} {}", request.method(), request.uri().path())
    } else {
        format!("{} {template}", request.method())
    };
    let principal = auth::principal_label(&sim.world(), request.headers());
    let gate = sim.faults().admit(&principal);
    let (response, delay) = match gate {
        Gate::Outage => {
            let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                .with_detail("Nexus is temporarily unavailable (simulated outage).");
            error.retry_after_seconds = Some(5);
            (error.into_response(), Duration::ZERO)
        }
        Gate::RateLimited { retry_after_seconds } => {
            let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").with_detail(format!(
                "More than {} requests in a minute by {principal}; retry after {retry_after_seconds} s.",
                sim.faults().settings.rate_limit_per_minute
            ));
            error.retry_after_seconds = Some(retry_after_seconds);
            (error.into_response(), Duration::ZERO)
        }
        Gate::Proceed { delay, truncate, malformed } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut response = next.run(request).await;
            let extra = response.extensions().get::<InjectedDelay>().map_or(Duration::ZERO, |d| d.0);
            if malformed {
                response = malformed_response();
            } else if truncate {
                response = truncated(response).await;
            }
            (response, delay + extra)
        }
    };
    tracing::debug!(%route, %principal, status = response.status().as_u16(), "request");
    sim.faults().record(route, principal, response.status().as_u16(), delay);
    response
}

/// What a misbehaving proxy in front of an API sends: an HTML page with status 200.
fn malformed_response() -> Response {
    let page = "<!DOCTYPE html><html><head><title>Nexus</title></head><body><h1>Please wait</h1>\
                <p>The service is busy. This page will refresh shortly.</p></body></html>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The first half of the body, with a Content-Length that matches what is sent.
async fn truncated(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
    Response::from_parts(parts, Body::from(cut))
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response()
}

/// A JSON list with its `X-Total-Count`.
pub(crate) fn list_response(items: Vec<Value>, total: usize) -> Response {
    let mut response = json_response(StatusCode::OK, &Value::Array(items));
    response.headers_mut().insert("x-total-count", HeaderValue::from(total));
    response
}

pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media == "application/json" || media == "text/json" || media.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
            .with_detail(format!("Send the body as application/json (Content-Type was '{content_type}').")))
    }
}

/// `http://host:port/v1/` as the client addressed us, for URLs in responses.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}/v1/")
}

/// A consignment the principal may see, or 404 (never 403, so as not to reveal it exists, §3.2).
pub(crate) fn visible_consignment<'w>(
    world: &'w World,
    principal: &Principal,
    raw_id: &str,
) -> Result<&'w Consignment, ApiError> {
    raw_id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.consignments.get(&id))
        .filter(|c| world.can_see(principal, c))
        .ok_or_else(|| ApiError::consignment_not_found(raw_id))
}
