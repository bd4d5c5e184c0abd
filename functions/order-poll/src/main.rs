//! The order-poll function: imports consignments other depots booked for us, on a schedule.
//!
//! Thin by design: the library builds the ports and runs the job; this binary only names it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::wiring::run_until_built("order-poll").await
}
