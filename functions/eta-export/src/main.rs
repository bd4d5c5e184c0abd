//! The eta-export function: delivery ETAs from Qargo's optimiser to Nexus (Optimize module).
//!
//! Thin by design: the library builds the ports and runs the job; this binary only names it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::wiring::run_until_built("eta-export").await
}
