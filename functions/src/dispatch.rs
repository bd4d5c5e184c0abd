//! The dispatch function: Qargo's dispatch and visibility webhooks behind API Gateway.
//!
//! Thin by design: it builds the bridge and the visibility router (the event bus named by
//! `VISIBILITY_BUS`) once at cold start and hands each request to the library's HTTP API
//! (`bridge::lambda::answer_http`). Logging is the runtime's own, every line of a request naming it
//! and whether it is the cold start (`bridge::lambda`).

use lambda_http::Error;

/// Starts the function and serves its invocations until the process ends.
pub async fn run() -> Result<(), Error> {
    let bridge = bridge::lambda::start().await?;
    let router = bridge::routing::EventBridgeRouter::from_env(&bridge::aws::load_config().await)
        .map_err(bridge::lambda::start_failed)?;
    bridge::lambda::serve_http(&bridge, &router).await
}
