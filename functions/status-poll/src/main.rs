//! The status-poll function: Nexus scans into Qargo on a schedule; Qargo stop events out to Nexus.
//!
//! Thin by design: build the ports once, hand each event to the library, map the outcome.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bridge::telemetry::init_tracing();
    // Built now so that a misconfigured function fails at cold start, naming what to fix.
    let _ports = bridge::wiring::CloudPorts::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        tracing::warn!(request_id = %event.context.request_id, "event refused");
        Err::<Value, Error>(bridge::wiring::job_not_built("status-poll").into())
    }))
    .await
}
