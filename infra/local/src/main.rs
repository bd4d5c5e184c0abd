//! `bridge-local`: the whole bridge on this machine — the Nexus and Qargo simulators, the bridge's
//! HTTP API on localhost and embedded storage under a data folder — until Ctrl-C (`run`, the
//! default); or `demo`: a working day across both networks, ending with a summary and its checks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bridge_local::demo::{DemoOptions, Output, run_demo};
use bridge_local::{LocalOptions, start};
use clap::{Args, Parser, Subcommand};

/// Runs nexus-bridge locally against the Nexus and Qargo simulators (no AWS account needed).
#[derive(Debug, Parser)]
#[command(name = "bridge-local", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bridge and both simulators until Ctrl-C (the default).
    Run(RunArgs),
    /// Play a working day across PALL-EX and Fortec from Qargo's side, print a summary and exit 0
    /// only if every expected outcome happened (also a smoke test).
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Where the bridge's HTTP API listens (POST /qargo/dispatch, POST /qargo/visibility).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Folder for the embedded store (bridge.redb) and the documents (labels, PODs).
    #[arg(long, default_value = "target/bridge-local")]
    data_dir: PathBuf,
    /// Our depots: CODE[:REGION][:zpl], comma-separated.
    #[arg(long, default_value = "PGD302")]
    depots: String,
    /// Use this Nexus base URL instead of starting the simulator.
    #[arg(long)]
    nexus_url: Option<String>,
    /// Use this Qargo base URL instead of starting the simulator.
    #[arg(long)]
    qargo_url: Option<String>,
    /// Port of the Nexus simulator.
    #[arg(long, default_value_t = 8081)]
    nexus_port: u16,
    /// The Nexus simulator's profile: `full` (every route the bridge can use) or `seen` (only what
    /// public code shows of Nexus); the bridge runs with that profile's capabilities.
    #[arg(long, default_value = "full")]
    nexus_profile: nexus_sim::Profile,
    /// Port of the Qargo simulator.
    #[arg(long, default_value_t = 8082)]
    qargo_port: u16,
    /// Nexus customer ID → Qargo customer code for imported consignments.
    #[arg(long, default_value = bridge_local::SIMULATOR_CUSTOMER_MAP)]
    customer_map: String,
    /// Seconds between poll runs (order import; status, POD and ETA as they arrive); 0 = no polling.
    #[arg(long, default_value_t = 30)]
    poll_seconds: u64,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Folder for the demo's store, labels, PODs and log (must not hold a bridge's storage);
    /// default: a new folder under the system's temporary directory, printed at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    plain: bool,
    /// The Nexus simulator's profile: `full` or `seen` (only what public code shows of Nexus); the
    /// bridge runs with that profile's capabilities.
    #[arg(long, default_value = "full")]
    nexus_profile: nexus_sim::Profile,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Demo(args)) => demo(args).await,
        Some(Command::Run(args)) => run(args).await,
        None => run(cli.run).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bridge-local: {err}");
            ExitCode::FAILURE
        }
    }
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,nexus_sim=warn,qargo_sim=warn".into())
}

async fn run(args: RunArgs) -> Result<ExitCode, String> {
    tracing_subscriber::fmt().with_env_filter(log_filter()).init();
    let local = start(LocalOptions {
        listen: args.listen,
        data_dir: args.data_dir,
        depots: args.depots,
        nexus_url: args.nexus_url,
        qargo_url: args.qargo_url,
        nexus_port: args.nexus_port,
        qargo_port: args.qargo_port,
        secrets_json: std::env::var("BRIDGE_SECRETS_JSON").ok(),
        customer_map: args.customer_map,
        poll_every: (args.poll_seconds > 0).then(|| std::time::Duration::from_secs(args.poll_seconds)),
        nexus_profile: args.nexus_profile,
    })
    .await?;
    println!("nexus-bridge is running locally");
    println!(
        "  bridge API   {}/qargo/dispatch  {}/qargo/visibility  (HTTP Basic qargo / inbound-pass)",
        local.api_url, local.api_url
    );
    if let Some(nexus) = &local.nexus {
        println!("  Nexus sim    {}  (admin {})", nexus.base_url(), nexus.admin_url());
    }
    if let Some(qargo) = &local.qargo {
        println!("  Qargo sim    {}  (scenario API {}_sim/)", qargo.base_url(), qargo.base_url());
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.map_err(|err| err.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The demo: the bridge's log goes to a file in the data folder, so the terminal shows the progress.
async fn demo(args: DemoArgs) -> Result<ExitCode, String> {
    let data_dir = bridge_local::demo::prepare_data_dir(args.data_dir)?;
    let log_path = data_dir.join(bridge_local::demo::LOG_FILE);
    let log = std::fs::File::create(&log_path).map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .init();
    let output = if args.plain { Output::Plain } else { Output::for_stdout() };
    let summary = run_demo(DemoOptions { data_dir: Some(data_dir), output, nexus_profile: args.nexus_profile }).await?;
    print!("{}", summary.render());
    if summary.passed() {
        println!("\ndemo passed: every expected outcome happened");
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<String> = summary.failed_checks().iter().map(|c| c.name.clone()).collect();
        println!("\ndemo FAILED: {}", failed.join("; "));
        Ok(ExitCode::FAILURE)
    }
}
