//! The order-poll function: on each scheduled event, imports the consignments other depots booked
//! for our depots into Qargo (`bridge::jobs::order_import`).
//!
//! Thin by design: it builds the bridge once at cold start, runs the job within the invocation's
//! deadline and answers its report. A run stopped by a failure worth retrying (Nexus or Qargo
//! unavailable, storage) is an error, so Lambda's retries and the dead-letter queue see it; its
//! report is logged first.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bridge::jobs::order_import::{ImportOptions, import_orders};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bridge::telemetry::init_tracing();
    let bridge = bridge::wiring::CloudPorts::from_env().await?.bridge();
    let bridge = &bridge;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let options = ImportOptions::within(Duration::from_millis(event.context.deadline.saturating_sub(now_ms)));
        match import_orders(bridge, &options).await {
            Ok(report) => Ok(serde_json::to_value(report)?),
            Err(failed) => {
                tracing::error!(report = %serde_json::to_string(&failed.report)?, "order import failed");
                Err(Error::from(failed))
            }
        }
    }))
    .await
}
