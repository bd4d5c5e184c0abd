//! The eta-export function: delivery ETAs from Qargo's optimiser to Nexus (the Optimize module),
//! one `Eta` update from the visibility bus per invocation (source `nexus-bridge.qargo-visibility`,
//! detail-type `Eta`, detail a `RoutedUpdate`) → `bridge::jobs::eta_export`.
//!
//! Thin by design: it builds the bridge once at cold start, calls the job and answers its report as
//! JSON. A failure worth retrying is an error, so Lambda's retries, the dead-letter queue and its
//! alarm see it; so is an event of another kind routed here by mistake, which would otherwise be
//! lost. Without an Optimize API key the job acknowledges every update and sends nothing.

use bridge::routing::{EVENT_SOURCE, Trigger, handle_bus_update, read_trigger};
use bridge::visibility::UpdateKind;
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
    let Trigger::Update(update) = read_trigger(&payload, UpdateKind::Eta)? else {
        return Err(format!("eta-export takes Eta updates from the bus ({EVENT_SOURCE}), not {payload}").into());
    };
    Ok(handle_bus_update(bridge, &update).await?)
}
