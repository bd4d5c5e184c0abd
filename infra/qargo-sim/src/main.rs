//! `qargo-sim --port N [--seed FILE] [--bridge-url URL]`: runs the Qargo simulator until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use qargo_sim::{BasicCredential, DocumentDelivery, Limits, QargoSim, Seed, SimOptions};

/// The Qargo simulator (defaults: the documented default tenant; see infra/qargo-sim/README.md).
#[derive(Debug, Parser)]
#[command(name = "qargo-sim", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8082)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// A seed file: {"customers": [...], "orders": [...], "replace_default_customers": false}.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// The bridge's base URL; dispatch goes to <URL>/qargo/dispatch, visibility to <URL>/qargo/visibility.
    #[arg(long)]
    bridge_url: Option<String>,
    /// HTTP Basic user presented to the bridge.
    #[arg(long, default_value = "qargo")]
    outbound_username: String,
    /// HTTP Basic password presented to the bridge.
    #[arg(long, default_value = "inbound-pass")]
    outbound_password: String,
    /// Seconds an outbound call may take.
    #[arg(long, default_value_t = 30)]
    outbound_timeout: u64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Polls of an upload answered IN_PROGRESS before the one with the outcome.
    #[arg(long, default_value_t = 1)]
    upload_polls: u32,
    /// Switch off the token and API rate limits.
    #[arg(long)]
    no_rate_limits: bool,
    /// Embed files in Document events instead of sending a download_url.
    #[arg(long)]
    embed_documents: bool,
    /// Also send a Stop visibility event when a status webhook changes a stop.
    #[arg(long)]
    echo_webhook_updates: bool,
    /// The base URL written into download URLs (default http://HOST:PORT).
    #[arg(long)]
    public_url: Option<String>,
    /// Refuse (422) request bodies with keys Qargo's spec does not define, instead of ignoring
    /// (and recording) them as real Qargo does.
    #[arg(long)]
    strict: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,qargo_sim=info".into()),
        )
        .init();
    let args = Args::parse();
    let mut options = SimOptions { bind: SocketAddr::new(args.host, args.port), ..SimOptions::default() };
    if let Some(path) = &args.seed {
        options.seed = Seed::from_file(path)?;
    }
    options.outbound.bridge_url = args.bridge_url.clone();
    options.outbound.credential = Some(BasicCredential::new(args.outbound_username, args.outbound_password));
    options.outbound.timeout = Duration::from_secs(args.outbound_timeout.max(1));
    options.token_ttl = Duration::from_secs(args.token_ttl.max(1));
    options.upload_polls_before_done = args.upload_polls;
    options.echo_webhook_updates = args.echo_webhook_updates;
    options.public_base_url = args.public_url.clone();
    options.strict_unknown_keys = args.strict;
    if args.no_rate_limits {
        options.limits = Limits::off();
    }
    if args.embed_documents {
        options.document_delivery = DocumentDelivery::Embedded;
    }
    let client = options.api_client.clone();
    let webhook = options.webhook.clone();
    let sim = QargoSim::start(options).await?;
    tracing::info!(
        base_url = %sim.base_url(),
        client_id = %client.client_id,
        webhook_user = %webhook.username,
        bridge = ?args.bridge_url,
        "qargo-sim listening"
    );
    println!("qargo-sim listening on {}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    sim.stop().await;
    Ok(())
}
