//! The pod-sync function, one Lambda for the two directions of the POD sync:
//! - a `Document` update from the visibility bus (source `nexus-bridge.qargo-visibility`,
//!   detail-type `Document`, detail a `RoutedUpdate`) → the upload of a signature, POD or delivery
//!   photo to Nexus (`bridge::jobs::pod_sync::upload_document_update`);
//! - anything else, i.e. the schedule → the download of new Nexus documents into Qargo and the
//!   pending uploads tried again (`bridge::jobs::pod_sync::sync_documents`), within the invocation's
//!   remaining time less a reserve.
//!
//! Thin by design: it builds the bridge once at cold start, calls the job and answers its outcome or
//! report as JSON. A failure worth retrying is a `Retryable.…` error, so EventBridge's and Lambda's
//! retries, the dead-letter queue and its alarm see it; a visibility update of another kind routed
//! here by mistake is `NotRetryable.MisroutedUpdate`, dead-lettered instead of lost
//! (`bridge::lambda`).

use std::time::SystemTime;

use bridge::http::DEADLINE_RESERVE;
use bridge::jobs::pod_sync::sync_documents;
use bridge::jobs::status_sync::SyncOptions;
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
    if let Trigger::Update(update) = read_trigger(&event, UpdateKind::Document)? {
        return handle_update(bridge, &update).await;
    }
    let remaining = context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
    match sync_documents(bridge, &SyncOptions::within(remaining.saturating_sub(DEADLINE_RESERVE))).await {
        Ok(report) => Ok(serde_json::to_value(report)?),
        Err(failed) => {
            tracing::error!(report = %serde_json::to_string(&failed.report)?, "POD sync failed");
            Err(failed.into())
        }
    }
}
