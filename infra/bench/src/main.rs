//! `bridge-bench`: benchmarks of nexus-bridge against the Nexus and Qargo simulators, started
//! in-process. They print figures (see `BENCHMARKS.md` at the repository root).
//!
//! ```text
//! cargo run --release -p bridge-bench -- poll-efficiency [--consignments 5000] [--cycles 10]
//! ```

mod poll;
mod world;

use std::process::ExitCode;

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
