//! The status-poll function, one Lambda for the two directions of the status sync:
//! - a `Stop` update from the visibility bus (source `nexus-bridge.qargo-visibility`, detail-type
//!   `Stop`, detail a `RoutedUpdate`) → the status export to Nexus (`bridge::jobs::status_export`);
//! - anything else, i.e. the schedule → the status import into Qargo (`bridge::jobs::status_sync`),
//!   within the invocation's remaining time less a reserve.
//!
//! Thin by design: it builds the bridge once at cold start, calls the job and answers its outcome or
//! report as JSON. A failure worth retrying is a `Retryable.…` error, so EventBridge's and Lambda's
//! retries, the dead-letter queue and its alarm see it; a visibility update of another kind routed
//! here by mistake is `NotRetryable.MisroutedUpdate`, dead-lettered instead of lost
//! (`bridge::lambda`).

use std::time::SystemTime;

use bridge::http::DEADLINE_RESERVE;
use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
use bridge::lambda::{EventBridgeEvent, Failure, Trigger, handle_update, read_trigger};
use bridge::visibility::UpdateKind;
use bridge::wiring::Bridge;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// Starts the function and serves its invocations until the process ends.
pub async fn run() -> Result<(), Error> {
    let bridge = bridge::lambda::start().await?;
    bridge::lambda::serve_events(|event| handle(&bridge, event)).await
}

async fn handle(bridge: &Bridge, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<Value, Failure> {
    let (event, context) = event.into_parts();
    if let Trigger::Update(update) = read_trigger(&event, UpdateKind::Stop)? {
        return handle_update(bridge, &update).await;
    }
    let remaining = context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
    match sync_statuses(bridge, &SyncOptions::within(remaining.saturating_sub(DEADLINE_RESERVE))).await {
        Ok(report) => {
            if let Some(lag) = report.lag_seconds {
                bridge::telemetry::emit_metric("PollLagSeconds", lag as f64, "Seconds", &[("Job", "status-sync")]);
            }
            Ok(serde_json::to_value(report)?)
        }
        Err(failed) => {
            tracing::error!(report = %serde_json::to_string(&failed.report)?, "status sync failed");
            Err(failed.into())
        }
    }
}
