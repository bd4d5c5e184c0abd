//! The eta-export function: delivery ETAs from Qargo's optimiser to Nexus (the Optimize module),
//! one `Eta` update from the visibility bus per invocation (source `nexus-bridge.qargo-visibility`,
//! detail-type `Eta`, detail a `RoutedUpdate`) → `bridge::jobs::eta_export`.
//!
//! Thin by design: it builds the bridge once at cold start, calls the job and answers its report as
//! JSON. A failure worth retrying is a `Retryable.…` error, so Lambda's retries, the dead-letter
//! queue and its alarm see it; an event of another kind routed here by mistake is
//! `NotRetryable.MisroutedUpdate`, dead-lettered instead of lost (`bridge::lambda`). Without an
//! Optimize API key the job acknowledges every update and sends nothing.

use bridge::lambda::{EventBridgeEvent, Failure, Trigger, handle_update, read_trigger};
use bridge::routing::EVENT_SOURCE;
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
    let Trigger::Update(update) = read_trigger(&event.payload, UpdateKind::Eta)? else {
        return Err(Failure::not_retryable(
            "MisroutedUpdate",
            format!(
                "eta-export takes Eta updates from the bus ({EVENT_SOURCE}), not a {:?} event",
                event.payload.detail_type
            ),
        ));
    };
    handle_update(bridge, &update).await
}
