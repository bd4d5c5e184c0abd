//! The dispatch function: Qargo's dispatch webhook and the visibility router, behind API Gateway.
//!
//! Thin by design: the library builds the ports and runs the job; this binary only names it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::wiring::run_until_built("dispatch").await
}
