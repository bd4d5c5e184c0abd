//! The HTTP server: shared state, the router, request counters and fault injection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Presented;
use crate::clock::Clock;
use crate::errors::ApiError;
use crate::options::SimOptions;
use crate::world::World;

/// Per-route request counts. Only Qargo's routes (`/v1/…`, `/me`) are counted, not `/_sim/…`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// All counted requests.
    pub total: u64,
    /// One line per route (method + route template, e.g. `GET /v1/orders/order/{order_id}`).
    pub routes: Vec<RouteCount>,
}

/// The requests one route received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteCount {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
    /// Requests.
    pub total: u64,
    /// By the credential presented: `oauth` (Bearer), `basic`, `none`.
    pub by_auth: BTreeMap<String, u64>,
    /// By answer status (`"200"`, `"429"`, …).
    pub by_status: BTreeMap<String, u64>,
}

impl RequestCounts {
    fn find(&self, method: &str, route: &str) -> Option<&RouteCount> {
        self.routes.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.route == route)
    }

    /// Requests to `method route` (route as its template, e.g. `/v1/orders/order/{order_id}`).
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.find(method, route).map(|r| r.total).unwrap_or(0)
    }

    /// Requests to `method route` answered with `status`.
    pub fn count_with_status(&self, method: &str, route: &str, status: u16) -> u64 {
        self.find(method, route).and_then(|r| r.by_status.get(&status.to_string()).copied()).unwrap_or(0)
    }

    /// Requests to `method route` that presented `auth` (`oauth`, `basic`, `none`).
    pub fn count_with_auth(&self, method: &str, route: &str, auth: &str) -> u64 {
        self.find(method, route).and_then(|r| r.by_auth.get(auth).copied()).unwrap_or(0)
    }
}

/// One request to a Qargo route (`/v1/…`, `/me`; not `/_sim/…`), as the request log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/v1/orders/order/upload/{upload_id}`.
    pub route: String,
    /// The credential presented: `oauth` (Bearer), `basic`, `none`.
    pub auth: String,
    /// Answer status.
    pub status: u16,
    /// When it arrived, on the simulator's clock (the one its rate limits read).
    pub arrived: Instant,
    /// Wall time from arrival to answer, injected latency included.
    pub took: Duration,
}

/// Faults to inject. `POST /_sim/faults` replaces them as a whole (`{}` clears them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// Answer every Qargo route (`/v1/…`, `/me`) with `503`.
    #[serde(default)]
    pub outage: bool,
    /// Delay every Qargo route by this many milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// End every upload resolved from now on in `ERROR` with this message.
    #[serde(default)]
    pub upload_error: Option<String>,
}

/// A key Qargo's spec does not define, found in a request body (real Qargo ignores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownKeyRecord {
    /// The route, as `METHOD /template` (e.g. `POST /v1/orders/order/upload`).
    pub route: String,
    /// `$`-rooted JSON path of the key, e.g. `$.consignments[0].goods[0].handling_units[0].id`.
    pub path: String,
    /// When received.
    pub received_at: String,
    /// Whether the request was refused for it (`SimOptions::strict_unknown_keys`).
    pub refused: bool,
}

/// State shared by every handler.
#[derive(Debug)]
pub struct Shared {
    /// The options the simulator was started with.
    pub options: SimOptions,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The tenant.
    pub world: Mutex<World>,
    /// Request counters.
    pub counts: Mutex<BTreeMap<(String, String), RouteCount>>,
    /// Every counted request in arrival order (cleared with the counters).
    pub log: Mutex<Vec<RequestRecord>>,
    /// Active faults.
    pub faults: Mutex<Faults>,
    /// Keys the spec does not define, found in request bodies.
    pub unknown_keys: Mutex<Vec<UnknownKeyRecord>>,
    /// How many request bodies were checked against the spec, and how many were refused.
    pub spec_checks: Mutex<SpecChecks>,
    /// The outbound HTTP client.
    pub http: reqwest::Client,
    /// `http://host:port` without a trailing slash.
    pub base_url: String,
}

/// Cheap handle on the shared state.
#[derive(Debug, Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

/// The environment variable naming a file where every spec check is logged (see
/// [`crate::SimHandle::spec_checks`]).
pub const SPEC_LOG_VARIABLE: &str = "QARGO_SIM_SPEC_LOG";

/// Request bodies checked against Qargo's spec since the simulator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecChecks {
    /// Bodies checked.
    pub checked: u64,
    /// Refused as invalid by the spec (422).
    pub invalid: u64,
    /// Refused for keys the spec does not define (strict mode, 422).
    pub refused_unknown_keys: u64,
    /// Checked in strict mode.
    pub strict: u64,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub(crate) fn new(options: SimOptions, addr: SocketAddr) -> AppState {
        let base_url = options
            .public_base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{addr}"));
        let http = crate::http_client_builder()
            .timeout(options.outbound.timeout)
            .connect_timeout(options.outbound.timeout.min(Duration::from_secs(10)))
            .build()
            .expect("a plain HTTP client builds");
        let world = World::new(&options);
        AppState(Arc::new(Shared {
            clock: options.clock.clone(),
            options,
            world: Mutex::new(world),
            counts: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
            unknown_keys: Mutex::new(Vec::new()),
            spec_checks: Mutex::new(SpecChecks::default()),
            http,
            base_url,
        }))
    }

    /// The tenant, locked. Never held across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn request_counts(&self) -> RequestCounts {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let routes: Vec<RouteCount> = counts.values().cloned().collect();
        RequestCounts { total: routes.iter().map(|r| r.total).sum(), routes }
    }

    pub(crate) fn reset_request_counts(&self) {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn request_log(&self) -> Vec<RequestRecord> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts one body checked against the spec; with `QARGO_SIM_SPEC_LOG` set, also appends a
    /// line `<program>\t<route>\t<ok|invalid|unknown-keys>\t<strict|lenient>` to that file, so a
    /// test run can report how many messages the simulator checked across all its test processes.
    fn count_check(&self, route: &str, invalid: bool, refused_unknown: bool) {
        let strict = self.options.strict_unknown_keys;
        {
            let mut checks = self.spec_checks.lock().unwrap_or_else(|e| e.into_inner());
            checks.checked += 1;
            checks.invalid += u64::from(invalid);
            checks.refused_unknown_keys += u64::from(refused_unknown);
            checks.strict += u64::from(strict);
        }
        if let Some(path) = std::env::var_os(SPEC_LOG_VARIABLE) {
            use std::io::Write;
            let program = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default();
            let program = program.split('-').next().unwrap_or_default().to_owned();
            let outcome = if invalid {
                "invalid"
            } else if refused_unknown {
                "unknown-keys"
            } else {
                "ok"
            };
            let mode = if strict { "strict" } else { "lenient" };
            // One write per line: appends of a few bytes from concurrent tests do not interleave.
            let line = format!("{program}\t{route}\t{outcome}\t{mode}\n");
            if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = file.write_all(line.as_bytes());
            }
        }
    }

    pub(crate) fn spec_checks(&self) -> SpecChecks {
        *self.spec_checks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn unknown_keys(&self) -> Vec<UnknownKeyRecord> {
        self.unknown_keys.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Validates a JSON request body against `components/schemas/<schema>` before any other
    /// handling: `422` `HTTPValidationError` when the spec refuses it; keys the spec does not define
    /// are recorded, and refused (`422`) with `strict_unknown_keys`.
    pub(crate) fn check_body(&self, route: &str, schema: &str, body: &Value) -> Result<(), ApiError> {
        self.check_body_and(route, schema, body, Vec::new())
    }

    /// [`AppState::check_body`], with `more` unknown keys found beyond the schema (e.g. in the
    /// question answers' formats, which the schema leaves free) recorded and refused the same way.
    pub(crate) fn check_body_and(
        &self,
        route: &str,
        schema: &str,
        body: &Value,
        more: Vec<crate::spec::SchemaIssue>,
    ) -> Result<(), ApiError> {
        let mut found = crate::spec::check_body(schema, body);
        found.unknown.extend(more);
        let strict = self.options.strict_unknown_keys;
        self.count_check(route, !found.invalid.is_empty(), strict && !found.unknown.is_empty());
        if !found.invalid.is_empty() {
            return Err(ApiError::Unprocessable(crate::spec::http_issues(&found.invalid)));
        }
        if found.unknown.is_empty() {
            return Ok(());
        }
        let received_at = crate::world::now().to_string();
        {
            let mut log = self.unknown_keys.lock().unwrap_or_else(|e| e.into_inner());
            for issue in &found.unknown {
                tracing::warn!(route, path = %issue.json_path(), strict, "key not in Qargo's spec");
                log.push(UnknownKeyRecord {
                    route: route.to_string(),
                    path: issue.json_path(),
                    received_at: received_at.clone(),
                    refused: strict,
                });
            }
        }
        if strict { Err(ApiError::Unprocessable(crate::spec::http_issues(&found.unknown))) } else { Ok(()) }
    }
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let auth = Presented::from_header(request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))
        .kind()
        .to_string();
    let arrived = state.clock.now();
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let record =
        RequestRecord { method: method.clone(), route: route.clone(), auth: auth.clone(), status, arrived, took };
    let mut counts = state.counts.lock().unwrap_or_else(|e| e.into_inner());
    let entry = counts.entry((route.clone(), method.clone())).or_insert_with(|| RouteCount {
        method,
        route,
        ..RouteCount::default()
    });
    entry.total += 1;
    *entry.by_auth.entry(auth).or_default() += 1;
    *entry.by_status.entry(status.to_string()).or_default() += 1;
    drop(counts);
    state.log.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    response
}

async fn inject_faults(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let faults = state.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.outage {
        return ApiError::Unavailable.into_response();
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

/// The whole router.
pub(crate) fn router(state: AppState) -> Router {
    use crate::{admin, api, webhooks};
    let qargo = Router::new()
        .route("/v1/auth/token", post(api::token))
        .route("/me", get(api::me))
        .route("/v1/orders/order/upload", post(api::upload_order))
        .route("/v1/orders/order/upload/{upload_id}", get(api::upload_status))
        .route("/v1/orders/order/{order_id}", get(api::get_order))
        .route("/v1/orders/order/{order_id}/status", get(api::get_order_status))
        .route("/v1/orders/order/{order_id}/documents", get(api::order_documents))
        .route("/v1/trips/trip/{trip_id}/documents", get(api::trip_documents))
        .route("/v1/documents/document/{document_id}/download", get(api::download_document))
        .route("/v1/documents/document/upload_content", post(api::upload_content))
        .route("/v1/webhook/subco-status-update", post(webhooks::status_update))
        .route("/v1/webhook/subco-document-upload", post(webhooks::document_upload))
        .route("/v1/webhook/document-import", post(webhooks::document_import))
        .route("/v1/webhook", post(crate::order_webhook::order_import))
        .route("/v1/webhook/partial-order-update", post(crate::partial_update::partial_order_update))
        .route_layer(from_fn_with_state(state.clone(), inject_faults))
        .route_layer(from_fn_with_state(state.clone(), count_requests));
    // Merged after the route layers, so this `/_sim/` read is neither counted nor faulted either.
    let qargo = qargo.merge(crate::partial_update::admin_router());
    qargo.merge(admin::router()).fallback(not_found).layer(DefaultBodyLimit::max(64 * 1024 * 1024)).with_state(state)
}
