//! The order-poll function: on each scheduled event, imports the consignments other depots booked
//! for our depots into Qargo (`bridge::jobs::order_import`).
//!
//! Thin by design: it builds the bridge once at cold start, runs the job within the invocation's
//! deadline and answers its report. A run stopped by a failure worth retrying (Nexus or Qargo
//! unavailable, storage) is a `Retryable.OrderImportFailed` error, so Lambda's retries and the
//! dead-letter queue see it; its report is logged first (`bridge::lambda`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::lambda::{EventBridgeEvent, Failure};
use bridge::wiring::Bridge;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// Starts the function and serves its invocations until the process ends.
pub async fn run() -> Result<(), Error> {
    let bridge = bridge::lambda::start().await?;
    bridge::lambda::serve_events(|event| handle(&bridge, event)).await
}

async fn handle(bridge: &Bridge, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<Value, Failure> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let options = ImportOptions::within(Duration::from_millis(event.context.deadline.saturating_sub(now_ms)));
    match import_orders(bridge, &options).await {
        Ok(report) => Ok(serde_json::to_value(report)?),
        Err(failed) => {
            tracing::error!(report = %serde_json::to_string(&failed.report)?, "order import failed");
            Err(failed.into())
        }
    }
}
