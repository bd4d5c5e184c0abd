//! `nexus-sim`: the Nexus simulator as a process, for the local bridge, demos and manual testing.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use nexus_sim::{ADMIN_ENDPOINTS, NexusSim, Profile, SimOptions, WorldSeed};

#[derive(Parser)]
#[command(
    name = "nexus-sim",
    version,
    about = "A simulator of the Nexus REST API (PALL-EX / Fortec) for developing and testing the bridge.",
    long_about = "A simulator of the Nexus REST API (PALL-EX / Fortec).\n\n\
        Serves the simulated API under http://HOST:PORT/v1/ (bearer tokens from POST /v1/Account/login)\n\
        and test-harness endpoints under http://HOST:PORT/_sim/ (no token; never faulted).\n\
        Starts from the default world (see infra/nexus-sim/README.md) unless --seed is given.\n\
        The clock stands still unless moved through /_sim/clock or --clock-speed.\n\n\
        --profile seen serves only what public code shows of Nexus (see the README, \"Profiles\")."
)]
struct Arguments {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 7700)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// A seed file (JSON) describing the world to start with; default: the built-in default world.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Let the clock run by itself at this many simulated seconds per real second (e.g. 60).
    #[arg(long)]
    clock_speed: Option<f64>,
    /// Which Nexus to play: `full` (today's model, everything the bridge uses) or `seen` (only the
    /// routes, filters and fields public code shows; invented ones are ignored, dropped or 404).
    #[arg(long, default_value = "full", value_name = "full|seen")]
    profile: Profile,
    /// Print the default world's seed file and exit.
    #[arg(long)]
    print_default_seed: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let command = Arguments::command()
        .after_help(format!("Admin endpoints (same port, no token needed, never faulted):\n\n{ADMIN_ENDPOINTS}"));
    let arguments = match Arguments::from_arg_matches(&command.get_matches()) {
        Ok(arguments) => arguments,
        Err(error) => error.exit(),
    };
    if arguments.print_default_seed {
        print!("{}", WorldSeed::default_world_json());
        return std::process::ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("nexus_sim=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let seed = match &arguments.seed {
        Some(path) => match WorldSeed::from_file(path) {
            Ok(seed) => seed,
            Err(error) => {
                eprintln!("nexus-sim: {error}");
                return std::process::ExitCode::FAILURE;
            }
        },
        None => WorldSeed::default_world(),
    };
    let options = SimOptions {
        bind: arguments.bind,
        port: arguments.port,
        seed,
        clock_speed: arguments.clock_speed,
        profile: arguments.profile,
    };
    let sim = match NexusSim::start(options).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("nexus-sim: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "nexus-sim ({} profile) listening on {} (admin {}) at simulated time {}",
        sim.handle().profile(),
        sim.base_url(),
        sim.admin_url(),
        sim.handle().now()
    );
    sim.serve_until(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    std::process::ExitCode::SUCCESS
}
