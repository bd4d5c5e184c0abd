//! The eta-export function: delivery ETAs from Qargo's optimiser to Nexus (the Optimize module),
//! one `Eta` update from the visibility bus per invocation (source `nexus-bridge.qargo-visibility`,
//! detail-type `Eta`, detail a `RoutedUpdate`) → `bridge::jobs::eta_export`.
//!
//! Thin by design: it builds the bridge once at cold start, calls the job and answers its report as
//! JSON. A failure worth retrying is an error, so Lambda's retries, the dead-letter queue and its
//! alarm see it; so is an event of another kind routed here by mistake, which would otherwise be
//! lost. Without an Optimize API key the job acknowledges every update and sends nothing.

use bridge::jobs::eta_export::export_eta_update;
use bridge::visibility::{EVENT_SOURCE, RoutedUpdate, UpdateKind};
use bridge::wiring::Bridge;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bridge::telemetry::init_tracing();
    let bridge = bridge::wiring::CloudPorts::from_env().await?.bridge();
    let bridge = &bridge;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| handle(bridge, event))).await
}

async fn handle(bridge: &Bridge, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, _context) = event.into_parts();
    let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
    let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    if source != EVENT_SOURCE || detail_type != UpdateKind::Eta.as_str() {
        return Err(format!(
            "a {detail_type:?} event from {source:?} reached eta-export, which takes Eta updates from \
             {EVENT_SOURCE}: fix the bus rule"
        )
        .into());
    }
    let update: RoutedUpdate = serde_json::from_value(payload.get("detail").cloned().unwrap_or_default())?;
    let report = export_eta_update(bridge, &update).await?;
    tracing::info!(report = %serde_json::to_string(&report)?, "ETA update exported");
    Ok(serde_json::to_value(report)?)
}
