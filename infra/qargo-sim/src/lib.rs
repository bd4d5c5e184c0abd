//! # qargo-sim — a stand-in for the parts of Qargo's public API the nexus-bridge uses
//!
//! It serves, with the names and shapes of Qargo's public OpenAPI 1.2.0 (vendored trimmed in
//! `spec/`, see [`spec`]; every JSON request body is validated against it first, `422` when the
//! schema refuses it, keys it does not define recorded or, with
//! `SimOptions::strict_unknown_keys`, refused):
//!
//! * `POST /v1/auth/token` (HTTP Basic `client_id:client_secret` → `{access_token, token_type,
//!   expires_in}`), limited to **5 calls per rolling hour**; `GET /me`;
//! * the OAuth API, limited to **2 requests/s sustained, 3 burst** (a token bucket): order upload
//!   with `OrderInput` validation and asynchronous upload status, order, status and document reads,
//!   document download and `upload_content`;
//! * the webhooks, with their own HTTP Basic credential and no rate limit: the order import webhook
//!   (`POST /v1/webhook`, answering `null` / `{errors}`), `subco-status-update` (stop matching:
//!   exactly one stop or the update is discarded; `question_answers` in Qargo's documented formats:
//!   `scan_barcode` history, document arrays, other answers), `partial-order-update`
//!   (`OrderUpdatePayload`), `subco-document-upload`, `document-import`;
//! * **outbound**: the Subcontractor Dispatch webhook and the visibility webhook (`Stop`, `Eta`,
//!   `Document` events), spec-valid, sent to the bridge with a configured credential and recorded
//!   with the answers;
//! * a scenario API and admin views under `/_sim/` (see [`SimHandle`] and the README).
//!
//! Start it in-process:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = qargo_sim::QargoSim::start(qargo_sim::SimOptions::with_bridge("http://127.0.0.1:9000")).await?;
//! println!("Qargo at {}", sim.base_url());
//! let counts = sim.handle.request_counts();
//! assert_eq!(counts.count("POST", "/v1/auth/token"), 0);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod clock;
pub mod errors;
pub mod limits;
pub mod model;
pub mod options;
pub mod order_webhook;
pub mod outbound;
pub mod partial_update;
pub mod render;
pub mod samples;
pub mod scenario;
pub mod server;
pub mod spec;
pub mod uploads;
pub mod validate;
pub mod webhooks;
pub mod wire;
pub mod world;

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock, SystemClock};

/// A builder of HTTP clients whose TLS is rustls with the ring provider, installed first as the
/// process's default: reqwest takes its provider from there and, without one, does not build a
/// client. The simulator's own outbound client and its tests start here.
#[expect(clippy::disallowed_methods, reason = "the simulator's one place reqwest's builder is called")]
pub fn http_client_builder() -> reqwest::ClientBuilder {
    // Once per process: a second call finds the provider installed, which is what it asks for.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
pub use errors::{ApiError, FieldError};
pub use limits::{ApiLimit, Limits, TokenLimit};
pub use model::{ErrorStatus, OutboundRecord, ScanRecord, StatusUpdateRecord};
pub use options::{BasicCredential, DocumentDelivery, OAuthClient, OutboundTarget, Seed, SimOptions};
pub use scenario::{
    CreatedConsignment, CreatedOrder, CreatedTrip, CustomerInput, DispatchRequest, DocumentInput, EtaInput, EtaStop,
    PhotoInput, ScenarioOrder, ScenarioOutcome, SignatureInput, SimHandle, StopAction, TripInput, TripSpec,
};
pub use server::{Faults, RequestCounts, RequestRecord, RouteCount, SPEC_LOG_VARIABLE, SpecChecks, UnknownKeyRecord};

/// The simulator.
#[derive(Debug)]
pub struct QargoSim;

/// A simulator serving on a local port; it stops when dropped (or with [`RunningSim::stop`]).
#[derive(Debug)]
pub struct RunningSim {
    /// The library handle: scenario API, admin reads, switches.
    pub handle: SimHandle,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl QargoSim {
    /// Binds `options.bind` (port 0 picks a free port), seeds the tenant and starts serving.
    pub async fn start(options: SimOptions) -> std::io::Result<RunningSim> {
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let seed_orders = options.seed.orders.clone();
        let state = server::AppState::new(options, addr);
        let handle = SimHandle { state: state.clone() };
        for (i, order) in seed_orders.iter().enumerate() {
            handle.create_order(order).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("seed order {i} is invalid: {e} {}", e.body()),
                )
            })?;
        }
        let app = server::router(state);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("qargo-sim stopped: {e}");
            }
        });
        Ok(RunningSim { handle, addr, shutdown: Some(tx), task: Some(task) })
    }
}

impl RunningSim {
    /// `http://127.0.0.1:PORT/` (with the trailing slash).
    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// `base_url` joined with `path` (`/v1/…` or `v1/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
