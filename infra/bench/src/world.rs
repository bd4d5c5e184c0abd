//! The world a benchmark runs in: both simulators in-process (rate limits off) and a bridge
//! assembled over the in-memory store, with a manual clock that follows the Nexus simulator's.

use std::sync::Arc;

use bridge::clock::{Clock, ManualClock};
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::wiring::{Bridge, ClientTuning};
use nexus_sim::NexusSim;
use qargo_sim::{Limits, QargoSim};

use crate::qargo_proxy::StatusProxy;

/// Our depot: the one whose consignments are followed.
pub const OUR_DEPOT: &str = "PGD302";

/// Both simulators and the bridge.
pub struct World {
    pub nexus: nexus_sim::RunningSim,
    pub qargo: qargo_sim::RunningSim,
    pub bridge: Arc<Bridge>,
    pub clock: ManualClock,
    /// The proxy in front of the Qargo simulator, when the setup asked for one.
    pub qargo_proxy: Option<StatusProxy>,
}

/// How a world is set up.
pub struct Setup {
    /// The Qargo simulator's rate limits.
    pub qargo_limits: Limits,
    /// The bridge's client tuning.
    pub tuning: ClientTuning,
    /// Where the Qargo simulator sends its dispatch and visibility webhooks, if anywhere.
    pub qargo_sends_to: Option<String>,
    /// Nexus base URL the bridge is given instead of the simulator's own (a timing proxy).
    pub nexus_url_override: Option<String>,
    /// More settings (environment variables), e.g. `QARGO_ORDER_DOOR`.
    pub more_settings: Vec<(&'static str, String)>,
    /// Whether the bridge reaches Qargo through a [`StatusProxy`] that notes its status-update calls.
    pub qargo_proxy: bool,
}

impl Default for Setup {
    /// Rate limits off, quick retries and a Qargo pace of 1000 requests/s.
    fn default() -> Self {
        Setup {
            qargo_limits: Limits::off(),
            tuning: ClientTuning { retry: quick_retries(), qargo_requests_per_second: 1000.0, shared_budgets: false },
            qargo_sends_to: None,
            nexus_url_override: None,
            more_settings: Vec::new(),
            qargo_proxy: false,
        }
    }
}

impl World {
    /// Starts both simulators (rate limits off) and assembles the bridge over them.
    pub async fn start() -> Result<World, String> {
        World::start_with(Setup::default()).await
    }

    /// Starts both simulators and assembles the bridge over them, as `setup` says. The Nexus
    /// simulator's per-minute limit is always off.
    pub async fn start_with(setup: Setup) -> Result<World, String> {
        let nexus = NexusSim::start(nexus_sim::SimOptions::default()).await.map_err(|e| format!("Nexus sim: {e}"))?;
        nexus.handle().set_rate_limit(0);
        let mut qargo_options = match &setup.qargo_sends_to {
            Some(url) => qargo_sim::SimOptions::with_bridge(url.clone()),
            None => qargo_sim::SimOptions::default(),
        };
        qargo_options.limits = setup.qargo_limits;
        qargo_options.strict_unknown_keys = true;
        qargo_options.seed.customers.push(bridge_local::shared_customer());
        let qargo = QargoSim::start(qargo_options).await.map_err(|e| format!("Qargo sim: {e}"))?;
        let nexus_url = setup.nexus_url_override.clone().unwrap_or_else(|| nexus.base_url());
        let qargo_proxy = match setup.qargo_proxy {
            true => Some(StatusProxy::start(&qargo.base_url()).await?),
            false => None,
        };
        let qargo_url = qargo_proxy.as_ref().map_or_else(|| qargo.base_url(), StatusProxy::base_url);
        let (settings, secrets) =
            bridge_local::simulator_settings(&nexus_url, &qargo_url, &format!("{OUR_DEPOT}:zpl"), &setup.more_settings)
                .await?;
        let clock = ManualClock::new(bridge_local::SimulatorClock(nexus.handle().clone()).now());
        let bridge = Bridge::assemble_tuned(
            settings,
            secrets,
            Arc::new(MemoryStore::in_memory()),
            Arc::new(MemoryDocuments::default()),
            Arc::new(clock.clone()),
            setup.tuning,
        );
        Ok(World { nexus, qargo, bridge: Arc::new(bridge), clock, qargo_proxy })
    }

    /// Moves the Nexus simulator's clock (running its lifecycle driver) and the bridge's with it;
    /// answers the number of driver actions applied.
    pub fn advance(&self, by: std::time::Duration) -> usize {
        let applied = self.nexus.handle().advance(by);
        self.follow_clock();
        applied
    }

    /// Sets the bridge's clock to the Nexus simulator's.
    pub fn follow_clock(&self) {
        self.clock.set(bridge_local::SimulatorClock(self.nexus.handle().clone()).now());
    }

    /// The Nexus simulator's request counter (every route, every user).
    pub fn nexus_requests(&self) -> u64 {
        self.nexus.handle().request_counts().total
    }
}

/// Retries that give up quickly: the simulators run without faults here.
pub fn quick_retries() -> bridge::http::RetryPolicy {
    bridge::http::RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        budget: std::time::Duration::from_secs(2),
        request_timeout: std::time::Duration::from_secs(10),
    }
}

pub use bridge_local::{depot_user, simple_booking};
