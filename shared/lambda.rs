//! The Lambda edge the five functions share, so that each function of their bootstrap
//! (`functions/`, `bridge-lambda`) only builds the bridge and calls its job:
//! - logging through `lambda_runtime`'s own subscriber, so the level and format of the function's
//!   logging configuration (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`, set by the template's
//!   `LoggingConfig`) apply; every line of an invocation, the runtime's own included, carries the
//!   request id and X-Ray trace id (the runtime's `Lambda runtime invoke` span) inside the
//!   cold-start flag (the [`ColdStartLayer`]'s `invocation` span);
//! - one way to start ([`start`]) and serve ([`serve_events`], [`serve_http`]) a function;
//! - API Gateway's requests answered by the HTTP API ([`answer_http`]), the scheduled and bus
//!   triggers read as typed EventBridge events;
//! - a failed invocation answered as a [`Diagnostic`] whose `error_type` says whether a retry can
//!   mend it (`Retryable.…` or `NotRetryable.…`), logged with that type and counted as the
//!   `FailedInvocations` metric (dimension `Retryable`), which the template alarms on.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

pub use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation, Runtime};
use serde_json::Value;
use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::jobs::order_import::ImportFailed;
use crate::jobs::pod_sync::PodSyncFailed;
use crate::jobs::status_sync::SyncFailed;
use crate::routing::EVENT_SOURCE;
use crate::visibility::{RoutedUpdate, UpdateKind};

/// Starts a function: the runtime's logging, then the bridge from the environment (settings,
/// secrets, store), once per process. A function that cannot start says why first
/// ([`start_failed`]).
pub async fn start() -> Result<crate::wiring::Bridge, lambda_runtime::Error> {
    init_logging();
    Ok(crate::wiring::CloudPorts::from_env().await.map_err(start_failed)?.bridge())
}

/// Serves EventBridge invocations (the schedule, bus updates) with `handler` until the process
/// ends: each in the runtime's request span inside the cold-start span, a failure logged and
/// counted ([`Failure`]) and answered to Lambda as a [`Diagnostic`].
pub async fn serve_events<H, F>(mut handler: H) -> Result<(), lambda_runtime::Error>
where
    H: FnMut(LambdaEvent<EventBridgeEvent<Value>>) -> F,
    F: Future<Output = Result<Value, Failure>>,
{
    Runtime::new(lambda_runtime::service_fn(move |event| invocation(handler(event))))
        .layer(TracingLayer::new())
        .layer(ColdStartLayer)
        .run()
        .await
}

/// Serves API Gateway's requests with the library's HTTP API ([`answer_http`]) until the process
/// ends, each in the runtime's request span inside the cold-start span.
pub async fn serve_http(
    bridge: &crate::wiring::Bridge,
    router: &dyn crate::routing::VisibilityRouter,
) -> Result<(), lambda_runtime::Error> {
    let handler = lambda_http::service_fn(move |request| answer_http(bridge, router, request));
    Runtime::new(lambda_http::Adapter::from(handler)).layer(TracingLayer::new()).layer(ColdStartLayer).run().await
}

/// Installs `lambda_runtime`'s subscriber: the level from `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`,
/// else `INFO`), JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`. Call once, first in `main`.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Whether an invocation of this process has started: the first one is the cold start.
static INVOKED: AtomicBool = AtomicBool::new(false);

/// The span of one invocation: `cold_start` is true for the first of this process.
fn invocation_span() -> tracing::Span {
    let cold_start = !INVOKED.swap(true, Ordering::Relaxed);
    tracing::info_span!("invocation", cold_start)
}

/// The runtime's outermost layer: each invocation runs in a span of its own (`invocation`, with
/// `cold_start`), so every line logged while it runs (the runtime's own lines included) says
/// whether it is the cold start.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColdStartLayer;

impl<S> Layer<S> for ColdStartLayer {
    type Service = ColdStartService<S>;

    fn layer(&self, inner: S) -> ColdStartService<S> {
        ColdStartService { inner }
    }
}

/// The service of [`ColdStartLayer`].
#[derive(Debug, Clone)]
pub struct ColdStartService<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for ColdStartService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let span = invocation_span();
        // Entered while the inner layers start, so the runtime's request span is its child.
        let future = span.in_scope(|| self.inner.call(invocation));
        future.instrument(span)
    }
}

/// Runs one invocation's work; a failure is logged with its `error_type` and counted
/// (`FailedInvocations`, dimension `Retryable`) before Lambda gets it.
async fn invocation<T>(work: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let result = work.await;
    if let Err(failure) = &result {
        tracing::error!(error_type = %failure.error_type(), error = %failure.message, "invocation failed");
        crate::telemetry::emit_metric(
            "FailedInvocations",
            1.0,
            "Count",
            &[("Retryable", if failure.retryable { "true" } else { "false" })],
        );
    }
    result
}

/// The dispatch function's handler: API Gateway's request (method, path, `Authorization`, body) to
/// the library's HTTP API ([`crate::api::route`]) and its answer back as JSON. A refusal (4xx, 5xx)
/// is logged with its status, method and path only: its message can quote the body.
pub async fn answer_http(
    bridge: &crate::wiring::Bridge,
    router: &dyn crate::routing::VisibilityRouter,
    request: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
    let authorization = request.headers().get("authorization").and_then(|value| value.to_str().ok());
    let (method, path) = (request.method().as_str(), request.uri().path());
    let answer = crate::api::route(bridge, router, method, path, authorization, request.body().as_ref()).await;
    if answer.status >= 400 {
        tracing::warn!(status = answer.status, method, path = %crate::error::shown(path), "request refused");
    }
    lambda_http::Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(lambda_http::Body::from(answer.body.to_string()))
        .map_err(lambda_http::Error::from)
}

/// Logs a function that cannot start (its settings or secrets) with `NotRetryable.Config`, and
/// answers the error for `main` to return: Lambda then reports the init failure.
pub fn start_failed(err: impl std::fmt::Display) -> lambda_runtime::Error {
    tracing::error!(error_type = "NotRetryable.Config", error = %err, "the function cannot start");
    err.to_string().into()
}

/// Why an invocation failed, for Lambda: its kind and whether a retry can mend it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// An outage or contention (a retry may succeed) rather than an event no retry can mend.
    pub retryable: bool,
    /// What failed, one word an operator can filter on (`StatusSyncFailed`, `MisroutedUpdate`, …).
    pub kind: &'static str,
    /// What happened, for the log and the dead-letter queue.
    pub message: String,
}

impl Failure {
    /// A failure a retry may mend: Nexus, Qargo or the store unavailable, a claim held elsewhere.
    pub fn retryable(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure { retryable: true, kind, message: message.into() }
    }

    /// A failure no retry mends: the event itself or the deployment is wrong.
    pub fn not_retryable(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure { retryable: false, kind, message: message.into() }
    }

    /// The `error_type` Lambda reports: `Retryable.<kind>` or `NotRetryable.<kind>`.
    pub fn error_type(&self) -> String {
        format!("{}.{}", if self.retryable { "Retryable" } else { "NotRetryable" }, self.kind)
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Diagnostic {
        Diagnostic { error_type: failure.error_type(), error_message: failure.message }
    }
}

impl From<ImportFailed> for Failure {
    fn from(failed: ImportFailed) -> Failure {
        Failure::retryable("OrderImportFailed", failed.to_string())
    }
}

impl From<SyncFailed> for Failure {
    fn from(failed: SyncFailed) -> Failure {
        Failure::retryable("StatusSyncFailed", failed.to_string())
    }
}

impl From<PodSyncFailed> for Failure {
    fn from(failed: PodSyncFailed) -> Failure {
        Failure::retryable("PodSyncFailed", failed.to_string())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(err: serde_json::Error) -> Failure {
        Failure::not_retryable("Internal", format!("the answer could not be written as JSON: {err}"))
    }
}

/// What a function invoked by EventBridge was given.
#[derive(Debug)]
pub enum Trigger {
    /// A visibility update of the function's kind, from the bus.
    Update(Box<RoutedUpdate>),
    /// Not a visibility update: the function's schedule.
    Schedule,
}

/// Reads an EventBridge invocation of a function that takes `kind` updates from the bus. A
/// visibility update of another kind is a `NotRetryable.MisroutedUpdate` failure: as an error it
/// goes to the dead-letter queue (redriven once the rule is fixed) instead of being lost.
pub fn read_trigger(event: &EventBridgeEvent<Value>, kind: UpdateKind) -> Result<Trigger, Failure> {
    if event.source != EVENT_SOURCE {
        return Ok(Trigger::Schedule);
    }
    if event.detail_type != kind.as_str() {
        return Err(Failure::not_retryable(
            "MisroutedUpdate",
            format!(
                "a {:?} visibility update reached the function that takes {}: fix the bus rule",
                crate::error::shown(&event.detail_type),
                kind.as_str()
            ),
        ));
    }
    serde_json::from_value(event.detail.clone()).map(|update| Trigger::Update(Box::new(update))).map_err(|err| {
        Failure::not_retryable("MisroutedUpdate", format!("the bus event's detail is not a routed update: {err}"))
    })
}

/// One update from the bus ([`crate::routing::handle_bus_update`]): a failure worth retrying is
/// `Retryable.UpdateJobFailed`, which the bus retries.
pub async fn handle_update(bridge: &crate::wiring::Bridge, update: &RoutedUpdate) -> Result<Value, Failure> {
    crate::routing::handle_bus_update(bridge, update)
        .await
        .map_err(|reason| Failure::retryable("UpdateJobFailed", reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: &str, detail_type: &str, detail: Value) -> EventBridgeEvent<Value> {
        serde_json::from_value(serde_json::json!({
            "version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-12-06T08:00:00Z", "region": "eu-west-2",
            "resources": [], "detail": detail,
        }))
        .unwrap()
    }

    #[test]
    fn error_types_say_whether_a_retry_helps() {
        let diagnostic = Diagnostic::from(Failure::retryable("StatusSyncFailed", "Nexus down"));
        assert_eq!(diagnostic.error_type, "Retryable.StatusSyncFailed");
        assert_eq!(diagnostic.error_message, "Nexus down");
        assert_eq!(Failure::not_retryable("MisroutedUpdate", "x").error_type(), "NotRetryable.MisroutedUpdate");
        let json_error = serde_json::from_str::<Value>("{").unwrap_err();
        assert_eq!(Failure::from(json_error).error_type(), "NotRetryable.Internal");
    }

    #[test]
    fn bus_updates_and_schedules_are_told_apart_and_a_misrouted_update_is_not_retryable() {
        let schedule = event("aws.events", "Scheduled Event", serde_json::json!({}));
        assert!(matches!(read_trigger(&schedule, UpdateKind::Stop), Ok(Trigger::Schedule)));
        let detail = serde_json::json!({"kind": "Stop", "timestamp": "2026-06-17T10:00:00Z",
                                        "update": {"type": "Stop"}, "order": null});
        let stop = event(EVENT_SOURCE, "Stop", detail);
        assert!(matches!(read_trigger(&stop, UpdateKind::Stop), Ok(Trigger::Update(_))));
        let eta = event(EVENT_SOURCE, "Eta", serde_json::json!({}));
        let refused = read_trigger(&eta, UpdateKind::Stop).unwrap_err();
        assert_eq!(refused.error_type(), "NotRetryable.MisroutedUpdate");
        assert!(refused.message.contains("\"Eta\"") && refused.message.contains("fix the bus rule"), "{refused}");
        let not_an_update = event(EVENT_SOURCE, "Stop", serde_json::json!({"what": "else"}));
        assert_eq!(read_trigger(&not_an_update, UpdateKind::Stop).unwrap_err().kind, "MisroutedUpdate");
    }
}
