//! Starting and stopping the HTTP server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::ServiceExt;
use axum::extract::Request;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_layer::Layer;

use crate::api;
use crate::error::SimError;
use crate::handle::SimHandle;
use crate::profile::Profile;
use crate::seed::WorldSeed;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The address to listen on; loopback by default.
    pub bind: IpAddr,
    /// The port; 0 picks a free one (tests).
    pub port: u16,
    /// The world to start with.
    pub seed: WorldSeed,
    /// `None` (default): the clock moves only when told to. `Some(x)`: it also runs by itself at `x`
    /// simulated seconds per real second (ticking once a second), e.g. 60 for a minute per second.
    pub clock_speed: Option<f64>,
    /// Which Nexus to play: [`Profile::Full`] (default, today's model) or [`Profile::Seen`] (only
    /// what public code shows of Nexus; see the crate README, "Profiles").
    pub profile: Profile,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: WorldSeed::default_world(),
            clock_speed: None,
            profile: Profile::Full,
        }
    }
}

impl SimOptions {
    /// The default world on a free loopback port.
    pub fn new() -> SimOptions {
        SimOptions::default()
    }

    /// Listens on this port.
    pub fn port(mut self, port: u16) -> SimOptions {
        self.port = port;
        self
    }

    /// Starts from this world.
    pub fn seed(mut self, seed: WorldSeed) -> SimOptions {
        self.seed = seed;
        self
    }

    /// Serves this profile.
    pub fn profile(mut self, profile: Profile) -> SimOptions {
        self.profile = profile;
        self
    }
}

/// The entry point: `NexusSim::start(SimOptions::default()).await?`.
pub struct NexusSim;

impl NexusSim {
    /// Builds the world and serves it until the returned [`RunningSim`] is shut down or dropped.
    pub async fn start(options: SimOptions) -> Result<RunningSim, SimError> {
        let handle = SimHandle::with_profile(options.seed.clone(), options.profile)?;
        let listener = TcpListener::bind(SocketAddr::new(options.bind, options.port)).await?;
        let address = listener.local_addr()?;
        let app = axum::middleware::map_request(api::normalise_path).layer(api::router(handle.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let service = ServiceExt::<Request>::into_make_service(app);
            let result = axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "nexus-sim server failed");
            }
        });
        let ticker = options.clock_speed.filter(|speed| *speed > 0.0).map(|speed| {
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_secs(1));
                interval.tick().await;
                loop {
                    interval.tick().await;
                    let step = Duration::from_secs_f64(speed);
                    let clone = handle.clone();
                    let _ = tokio::task::spawn_blocking(move || clone.advance(step)).await;
                }
            })
        });
        tracing::info!(%address, profile = %options.profile, "nexus-sim listening");
        Ok(RunningSim { address, handle, stop: Some(stop), server: Some(server), ticker })
    }
}

/// A simulator serving HTTP. Dropping it stops the server.
pub struct RunningSim {
    address: SocketAddr,
    handle: SimHandle,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim").field("address", &self.address).finish()
    }
}

impl RunningSim {
    /// `http://127.0.0.1:PORT/v1/`: the base URL a Nexus client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1/", self.address)
    }

    /// `http://127.0.0.1:PORT/_sim/`: the admin endpoints.
    pub fn admin_url(&self) -> String {
        format!("http://{}/_sim/", self.address)
    }

    /// The socket the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The clock, driver, faults and counts of this simulator.
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }

    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Serves until the server stops (the binary uses this with Ctrl-C as the stop signal).
    pub async fn serve_until(mut self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
