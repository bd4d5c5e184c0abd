//! `bridge-bench`: benchmarks of nexus-bridge against the Nexus and Qargo simulators, started
//! in-process. They print figures (see `BENCHMARKS.md` at the repository root).
//!
//! ```text
//! cargo run --release -p bridge-bench -- poll-efficiency [--consignments 5000] [--cycles 10]
//! cargo run --release -p bridge-bench -- latency [--consignments 500,5000] [--cycles 10]
//! cargo run --release -p bridge-bench -- qargo-pacing [--consignments 1000] [--door webhook]
//! cargo run --release -p bridge-bench -- dispatch [--dispatches 200] [--invocations 100]
//! cargo run --release -p bridge-bench -- status-run [--consignments 5000] [--cycles 3] [--nexus-budget 100]
//! cargo run --release -p bridge-bench -- tenant-budget [--dispatches 20] [--dispatch-instances 3] [--orders 20] [--importers 2]
//! ```

mod dispatch;
mod latency;
mod pacing;
mod poll;
mod qargo_proxy;
mod status_run;
mod tenant;
mod world;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "bridge-bench", about = "Benchmarks of nexus-bridge against the simulators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Nexus requests per status-sync cycle against the delta bound and a naive per-consignment poller.
    PollEfficiency(PollArgs),
    /// Scan-to-Qargo latency (schedule wait + run) with simulated latency on both APIs.
    Latency(LatencyArgs),
    /// Qargo requests per second, token calls and 429s during an order import at Qargo's real limits.
    QargoPacing(PacingArgs),
    /// Dispatch handler overhead, the function binary's cold start and peak memory, and its size.
    Dispatch(DispatchArgs),
    /// One status-sync run at scale, one after another and one Qargo call per update ("old") against
    /// the concurrency and batching defaults ("new"), on identical changes.
    StatusRun(StatusRunArgs),
    /// Dispatch, import, status and POD sync as four instances at once against Qargo's real limits,
    /// each instance pacing itself ("old") against one budget shared through the store ("new").
    TenantBudget(TenantArgs),
}

#[derive(Debug, Args)]
struct TenantArgs {
    /// Dispatch CREATEs.
    #[arg(long, default_value_t = 20)]
    dispatches: usize,
    /// Dispatch instances at once.
    #[arg(long, default_value_t = 3)]
    dispatch_instances: usize,
    /// Consignments other depots book for us, imported through the upload door.
    #[arg(long, default_value_t = 20)]
    orders: usize,
    /// Import instances at once (the schedule's and an operator's backfill).
    #[arg(long, default_value_t = 2)]
    importers: usize,
}

#[derive(Debug, Args)]
struct StatusRunArgs {
    /// Active consignments.
    #[arg(long, default_value_t = 5000)]
    consignments: usize,
    /// Measured cycles (after a catch-up run and a warm-up cycle without latency).
    #[arg(long, default_value_t = 3)]
    cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    #[arg(long, default_value_t = 2.0)]
    change_percent: f64,
    /// Consignment i has 1 + i % N pallets (1 to N; each change scans every pallet).
    #[arg(long, default_value_t = 3)]
    max_pallets: usize,
    /// Latency of every Nexus request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    nexus_latency_ms: u64,
    /// Latency of every Qargo request, in milliseconds.
    #[arg(long, default_value_t = 30)]
    qargo_latency_ms: u64,
    /// The status poller's schedule, in seconds (`PollIntervalMinutes` = 2 by default).
    #[arg(long, default_value_t = 120)]
    interval_seconds: u64,
    /// Each run's time budget, in seconds (default: the interval); past it a run carries the rest over.
    #[arg(long)]
    deadline_seconds: Option<u64>,
    /// A Nexus per-user limit a minute, kept by the simulator in the measured cycles: "old" unpaced
    /// against "new" paced to it (`NEXUS_REQUESTS_PER_MINUTE`).
    #[arg(long)]
    nexus_budget: Option<u32>,
}

#[derive(Debug, Args)]
struct DispatchArgs {
    /// Measured dispatch CREATEs in process.
    #[arg(long, default_value_t = 200)]
    dispatches: usize,
    /// Invocations of the function binary (needs moto: `BRIDGE_TEST_AWS_ENDPOINT`).
    #[arg(long, default_value_t = 100)]
    invocations: usize,
    /// The release bootstrap, run as the dispatch function (`cargo build --release -p bridge-lambda`).
    #[arg(long, default_value = "target/release/bridge-lambda")]
    function_binary: std::path::PathBuf,
    /// Latency of every Nexus request in the function binary's run, in milliseconds.
    #[arg(long, default_value_t = 0)]
    nexus_latency_ms: u64,
}

#[derive(Debug, Args)]
struct LatencyArgs {
    /// Active consignments, one run of the benchmark per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "500,5000")]
    consignments: Vec<usize>,
    /// Measured cycles per size (after a catch-up run and a warm-up cycle without latency).
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    #[arg(long, default_value_t = 2.0)]
    change_percent: f64,
    /// Latency of every Nexus request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    nexus_latency_ms: u64,
    /// Latency of every Qargo request, in milliseconds.
    #[arg(long, default_value_t = 30)]
    qargo_latency_ms: u64,
    /// The status poller's schedule, in seconds (`PollIntervalMinutes` = 2 by default).
    #[arg(long, default_value_t = 120)]
    interval_seconds: u64,
}

#[derive(Debug, Args)]
struct PacingArgs {
    /// Consignments other depots book for us before the import.
    #[arg(long, default_value_t = 1000)]
    consignments: usize,
    /// Qargo's door for imported orders (`QARGO_ORDER_DOOR`): webhook or upload.
    #[arg(long, default_value = "webhook")]
    door: String,
}

#[derive(Debug, Args)]
struct PollArgs {
    /// Active consignments of the depot.
    #[arg(long, default_value_t = 5000)]
    consignments: usize,
    /// Measured cycles (after a catch-up run and a warm-up cycle, both shown but not counted).
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    #[arg(long, default_value_t = 2.0)]
    change_percent: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bridge-bench: no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::PollEfficiency(args) => {
                poll::run(poll::Params {
                    consignments: args.consignments.max(1),
                    cycles: args.cycles,
                    change_percent: args.change_percent,
                })
                .await
            }
            Command::Latency(args) => {
                latency::run(latency::Params {
                    sizes: args.consignments.into_iter().map(|n| n.max(1)).collect(),
                    cycles: args.cycles.max(1),
                    change_percent: args.change_percent,
                    nexus_latency: Duration::from_millis(args.nexus_latency_ms),
                    qargo_latency: Duration::from_millis(args.qargo_latency_ms),
                    interval: Duration::from_secs(args.interval_seconds.max(1)),
                })
                .await
            }
            Command::Dispatch(args) => {
                dispatch::run(dispatch::Params {
                    dispatches: args.dispatches.max(1),
                    invocations: args.invocations.max(1),
                    function_binary: args.function_binary,
                    aws_endpoint: std::env::var("BRIDGE_TEST_AWS_ENDPOINT").ok().filter(|v| !v.is_empty()),
                    nexus_latency: Duration::from_millis(args.nexus_latency_ms),
                })
                .await
            }
            Command::StatusRun(args) => {
                let interval = Duration::from_secs(args.interval_seconds.max(1));
                status_run::run(status_run::Params {
                    consignments: args.consignments.max(1),
                    cycles: args.cycles.max(1),
                    change_percent: args.change_percent,
                    max_pallets: args.max_pallets.max(1),
                    nexus_latency: Duration::from_millis(args.nexus_latency_ms),
                    qargo_latency: Duration::from_millis(args.qargo_latency_ms),
                    interval,
                    deadline: args.deadline_seconds.map_or(interval, |s| Duration::from_secs(s.max(1))),
                    nexus_budget: args.nexus_budget,
                })
                .await
            }
            Command::TenantBudget(args) => {
                tenant::run(tenant::Params {
                    dispatches: args.dispatches.max(1),
                    dispatch_instances: args.dispatch_instances.max(1),
                    orders: args.orders.max(1),
                    importers: args.importers.max(1),
                })
                .await
            }
            Command::QargoPacing(args) => {
                pacing::run(pacing::Params { consignments: args.consignments.max(1), door: args.door }).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bridge-bench: {err}");
            ExitCode::FAILURE
        }
    }
}
