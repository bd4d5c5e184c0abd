//! The dispatch function: Qargo's dispatch and visibility webhooks behind API Gateway.
//!
//! Thin by design: it builds the bridge and the visibility router (the event bus named by
//! `VISIBILITY_BUS`) once at cold start, hands each request's method, path, `Authorization` header
//! and body to the library's HTTP API, and returns its answer. Logging is the runtime's own, each
//! line of a request naming it and whether it is the cold start (`bridge::lambda`).

use bridge::lambda::ColdStartLayer;
use lambda_http::lambda_runtime::Runtime;
use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::{Adapter, Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bridge::lambda::init_logging();
    let bridge = bridge::wiring::CloudPorts::from_env().await.map_err(bridge::lambda::start_failed)?.bridge();
    let router = bridge::routing::EventBridgeRouter::from_env(&bridge::aws::load_config().await)
        .map_err(bridge::lambda::start_failed)?;
    let (bridge, router) = (&bridge, &router);
    let handler = service_fn(move |request: Request| async move {
        let authorization = request.headers().get("authorization").and_then(|value| value.to_str().ok());
        let answer = bridge::api::route(
            bridge,
            router,
            request.method().as_str(),
            request.uri().path(),
            authorization,
            request.body().as_ref(),
        )
        .await;
        Response::builder()
            .status(answer.status)
            .header("content-type", "application/json")
            .body(Body::from(answer.body.to_string()))
            .map_err(Error::from)
    });
    Runtime::new(Adapter::from(handler)).layer(TracingLayer::new()).layer(ColdStartLayer).run().await
}
