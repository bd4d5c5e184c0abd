//! The status-poll function: Nexus scans into Qargo on a schedule; Qargo stop events out to Nexus.
//!
//! Thin by design: the library builds the ports and runs the job; this binary only names it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::wiring::run_until_built("status-poll").await
}
