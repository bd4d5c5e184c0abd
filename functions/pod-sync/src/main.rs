//! The pod-sync function: signatures, POD images and pallet photos both ways.
//!
//! Thin by design: the library builds the ports and runs the job; this binary only names it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::wiring::run_until_built("pod-sync").await
}
