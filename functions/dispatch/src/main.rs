//! The dispatch function: Qargo's dispatch and visibility webhooks behind API Gateway.
//!
//! Thin by design: it builds the bridge and the visibility router (the event bus named by
//! `VISIBILITY_BUS`) once at cold start and hands each request to the library's HTTP API
//! (`bridge::lambda::answer_http`). Logging is the runtime's own, every line of a request naming it
//! and whether it is the cold start (`bridge::lambda`).

use bridge::lambda::ColdStartLayer;
use lambda_http::lambda_runtime::Runtime;
use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::{Adapter, Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bridge::lambda::init_logging();
    let bridge = bridge::wiring::CloudPorts::from_env().await.map_err(bridge::lambda::start_failed)?.bridge();
    let router = bridge::routing::EventBridgeRouter::from_env(&bridge::aws::load_config().await)
        .map_err(bridge::lambda::start_failed)?;
    let (bridge, router) = (&bridge, &router);
    let handler = service_fn(move |request: Request| bridge::lambda::answer_http(bridge, router, request));
    Runtime::new(Adapter::from(handler)).layer(TracingLayer::new()).layer(ColdStartLayer).run().await
}
