//! `bridge-local`: the whole bridge on this machine — the Nexus and Qargo simulators, the bridge's
//! HTTP API on localhost and embedded storage under a data folder — until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use bridge_local::{LocalOptions, start};
use clap::Parser;

/// Runs nexus-bridge locally against the Nexus and Qargo simulators (no AWS account needed).
#[derive(Debug, Parser)]
#[command(name = "bridge-local", version)]
struct Args {
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

#[tokio::main]
async fn main() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,nexus_sim=warn,qargo_sim=warn".into()),
        )
        .init();
    let args = Args::parse();
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
    Ok(())
}
