//! The local bridge: the product's main job on one machine, with no AWS account.
//!
//! [`start`] runs the Nexus and Qargo simulators (or points at given URLs), builds the bridge over
//! embedded storage (a redb file and a folder of documents under the data directory), and serves the
//! bridge's HTTP API — the same routes and the same library code as the dispatch Lambda behind API
//! Gateway ([`bridge::api`]). Only the adapters differ from the cloud.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use bridge::clock::{Clock, SystemClock};
use bridge::config::{Secrets, Settings};
use bridge::routing::InProcessRouter;
use bridge::store::embedded::{DirectoryDocuments, EmbeddedStore};
use bridge::wiring::Bridge;
use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub mod demo;
pub mod relay;

/// Serves the bridge's HTTP API (`POST /qargo/dispatch`, `POST /qargo/visibility`) on `listener`.
/// Visibility updates run their jobs in process ([`InProcessRouter`]) before the answer, where the
/// cloud puts them on the event bus.
pub fn serve_api(bridge: Arc<Bridge>, listener: TcpListener) -> JoinHandle<()> {
    let router = Arc::new(InProcessRouter::new(bridge.clone()));
    let app = axum::Router::new()
        .fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Result<Bytes, BytesRejection>| {
            let (bridge, router) = (bridge.clone(), router.clone());
            async move {
                let authorization = headers.get("authorization").and_then(|value| value.to_str().ok());
                let answer = match body {
                    Ok(body) => {
                        bridge::api::route(&bridge, router.as_ref(), method.as_str(), uri.path(), authorization, &body)
                            .await
                    }
                    // Over the limit while reading: the same JSON 413 as in Lambda, not axum's text.
                    Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        bridge::api::too_large("the body is larger")
                    }
                    Err(rejection) => bridge::api::HttpAnswer {
                        status: 400,
                        body: serde_json::json!({"errors": [{"error_type": "USER_INPUT_ERROR",
                        "error_message": format!("the body could not be read: {}", rejection.body_text())}]}),
                    },
                };
                let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, axum::Json(answer.body)).into_response()
            }
        })
        .layer(axum::extract::DefaultBodyLimit::max(bridge::api::MAX_BODY_BYTES));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the bridge's HTTP API stopped");
        }
    })
}

/// Runs the scheduled jobs on a timer, as EventBridge does in the cloud: the order import (and the
/// status, POD and ETA jobs as they arrive). Each run's outcome is logged in one line.
pub fn spawn_pollers(bridge: Arc<Bridge>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            run_order_import(&bridge).await;
            run_status_sync(&bridge).await;
            run_pod_sync(&bridge).await;
        }
    })
}

/// One order-import run, logged.
pub async fn run_order_import(bridge: &Bridge) {
    use bridge::jobs::order_import::{ImportOptions, import_orders};
    match import_orders(bridge, &ImportOptions::unbounded()).await {
        Ok(report) => {
            let rejected: Vec<String> = report.rejected().map(|r| format!("{r:?}")).collect();
            tracing::info!(
                listed = report.total(|n| n.listed),
                created = report.total(|n| n.created),
                updated = report.total(|n| n.updated),
                cancelled = report.total(|n| n.cancelled),
                rejected = ?rejected,
                "order import run"
            );
        }
        Err(failed) => tracing::warn!(error = %failed, "order import run stopped; the next run resumes"),
    }
}

/// One status-sync run (Nexus scans into Qargo); it logs its own summary.
pub async fn run_status_sync(bridge: &Bridge) {
    use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
    if let Err(failed) = sync_statuses(bridge, &SyncOptions::unbounded()).await {
        tracing::warn!(error = %failed, "status sync run stopped; the next run resumes");
    }
}

/// One POD-sync run (new Nexus documents into Qargo, pending uploads again); it logs its own summary.
pub async fn run_pod_sync(bridge: &Bridge) {
    use bridge::jobs::pod_sync::sync_documents;
    use bridge::jobs::status_sync::SyncOptions;
    if let Err(failed) = sync_documents(bridge, &SyncOptions::unbounded()).await {
        tracing::warn!(error = %failed, "POD sync run stopped; the next run resumes");
    }
}

/// The bridge's clock when it runs beside the Nexus simulator: the simulator's clock, so that the
/// cut-off and working days agree with the network the bridge books on.
#[derive(Clone)]
pub struct SimulatorClock(pub nexus_sim::SimHandle);

impl std::fmt::Debug for SimulatorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimulatorClock")
    }
}

impl Clock for SimulatorClock {
    fn now(&self) -> Timestamp {
        let london = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
        self.0.now().to_zoned(london).map(|at| at.timestamp()).unwrap_or_else(|_| Timestamp::now())
    }
}

/// The customer the two simulators share: Project Timber Ltd, Nexus customer 64086 on PALL-EX and
/// 71520 on Fortec, booked by depot PGD302.
pub fn shared_customer() -> qargo_sim::CustomerInput {
    let mut fields = serde_json::Map::new();
    fields.insert("PallexID".into(), "64086".into());
    fields.insert("FortecID".into(), "71520".into());
    qargo_sim::CustomerInput {
        name: "Project Timber Ltd".into(),
        code: Some("TIMBER".into()),
        additional_fields: fields,
        email: Some("transport@timber.example".into()),
        phone_number: Some("+441777700100".into()),
        contact_name: Some("Transport Desk".into()),
    }
}

/// The secrets document for the simulators' default credentials (see both simulators' READMEs).
pub fn simulator_secrets(depots: &[&str]) -> serde_json::Value {
    let nexus: serde_json::Map<String, serde_json::Value> = depots
        .iter()
        .map(|depot| {
            let user = serde_json::json!({"username": format!("{}.api", depot.to_ascii_lowercase()), "password": format!("Sim!{}", depot.to_ascii_uppercase())});
            (depot.to_ascii_uppercase(), user)
        })
        .collect();
    serde_json::json!({
        "nexus": nexus,
        "qargo": {"client_id": "bridge-client", "client_secret": "bridge-secret"},
        "qargo_webhook": {"username": "bridge-webhook", "password": "webhook-pass"},
        "inbound": {"username": "qargo", "password": "inbound-pass"},
    })
}

/// The Nexus simulator's API user of a depot (`<depot>.api` / `Sim!<DEPOT>`, see its README).
pub fn depot_user(nexus_base_url: &str, depot: &str, retry: bridge::http::RetryPolicy) -> bridge::nexus::NexusClient {
    let credentials = bridge::config::Credentials {
        username: format!("{}.api", depot.to_ascii_lowercase()),
        password: bridge::config::Secret::new(format!("Sim!{}", depot.to_ascii_uppercase())),
    };
    bridge::nexus::NexusClient::new(nexus_base_url, credentials, retry)
}

/// A plain next-day booking collected on 2026-06-17 (the simulators' first day) from the customer's
/// own address: `pallets` full pallets of 300 kg to `delivery_postcode`.
pub fn simple_booking(
    customer_id: i64,
    network: &str,
    number: &str,
    delivery_postcode: &str,
    pallets: usize,
) -> bridge::nexus::wire::CreateConsignment {
    use bridge::nexus::wire::{Address, CollectionInfo, CreateConsignment, DeliveryInfo, General, PalletInput};
    let pallet = PalletInput {
        pallet_base_id: 1,
        pallet_type_id: 7,
        length: 120,
        width: 100,
        height: 120,
        weight: 300,
        limited_quantity_weight: 0,
        do_not_stack: false,
    };
    CreateConsignment {
        general: General {
            consignment_type_id: 2,
            customer_id,
            consignment_number: number.into(),
            customer_reference: None,
            description_of_goods: None,
            limited_quantities: false,
            network_code: Some(network.into()),
            requesting_depot_code: None,
        },
        collection_info: CollectionInfo {
            service_id: 1,
            due_date: "2026-06-17".parse().expect("a date"),
            contact: None,
            email: None,
            extras: vec![],
        },
        delivery_info: DeliveryInfo {
            service_id: 1,
            due_date: None,
            contact: None,
            email: None,
            time_window_code: None,
            start_window: None,
            end_window: None,
            book_in: None,
            extras: vec![],
            instructions: None,
        },
        collection_address: None,
        delivery_address: Address {
            country_id: 233,
            name: format!("Receiver {number}"),
            line1: "1 Industrial Estate".into(),
            line2: None,
            town: "Town".into(),
            county: None,
            postcode: delivery_postcode.into(),
            telephone: None,
        },
        pallets: vec![pallet; pallets],
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Where the bridge's HTTP API listens.
    pub listen: SocketAddr,
    /// Where embedded storage lives.
    pub data_dir: PathBuf,
    /// Our depots, as `BRIDGE_DEPOTS` spells them.
    pub depots: String,
    /// Use this Nexus instead of starting the simulator.
    pub nexus_url: Option<String>,
    /// Use this Qargo instead of starting the simulator.
    pub qargo_url: Option<String>,
    /// Port of the Nexus simulator (0 = any).
    pub nexus_port: u16,
    /// Port of the Qargo simulator (0 = any).
    pub qargo_port: u16,
    /// The secrets document (JSON); `None` = the simulators' default credentials.
    pub secrets_json: Option<String>,
    /// Nexus customer → Qargo customer for imported consignments (`BRIDGE_CUSTOMER_MAP`).
    pub customer_map: String,
    /// How often the pollers run (the cloud's EventBridge schedule); `None` = not at all.
    pub poll_every: Option<Duration>,
    /// The Nexus simulator's profile (`full` or `seen`); the bridge runs with the capabilities of
    /// that profile (`NEXUS_CAPABILITIES` `full` or `seen`).
    pub nexus_profile: nexus_sim::Profile,
}

/// Where the simulators' depots are (`BRIDGE_DEPOT_ADDRESSES`), for those of `codes`.
pub fn simulator_depot_addresses(codes: &[&str]) -> String {
    const ADDRESSES: [(&str, &str); 3] = [
        ("PGD302", "Unit 4 Randall Way|Retford|DN22 7GR"),
        ("UKD101", "Crossways Business Park|Dartford|DA2 6QG"),
        ("FTD118", "Pride Park|Derby|DE24 8HX"),
    ];
    ADDRESSES
        .iter()
        .filter(|(code, _)| codes.iter().any(|c| c.eq_ignore_ascii_case(code)))
        .map(|(code, address)| format!("{code}={address}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// The settings and secrets of a bridge for `depots` (`BRIDGE_DEPOTS`, e.g. `PGD302:zpl`) over the
/// simulators at `nexus_url` and `qargo_url`, with the simulators' users and
/// [`SIMULATOR_CUSTOMER_MAP`]; `more` adds variables or replaces these. For the tests and
/// benchmarks, which assemble the bridge over ports of their choosing.
pub async fn simulator_settings(
    nexus_url: &str,
    qargo_url: &str,
    depots: &str,
    more: &[(&str, String)],
) -> Result<(Settings, Arc<Secrets>), String> {
    let codes: Vec<&str> = depots.split(',').map(|depot| depot.split(':').next().unwrap_or(depot).trim()).collect();
    let base = [
        ("BRIDGE_TABLE", "t".to_owned()),
        ("BRIDGE_BUCKET", "b".to_owned()),
        ("BRIDGE_DEPOTS", depots.to_owned()),
        ("NEXUS_BASE_URL", nexus_url.to_owned()),
        ("QARGO_BASE_URL", qargo_url.to_owned()),
        ("BRIDGE_SECRETS_JSON", simulator_secrets(&codes).to_string()),
        ("BRIDGE_CUSTOMER_MAP", SIMULATOR_CUSTOMER_MAP.to_owned()),
        ("BRIDGE_DEPOT_ADDRESSES", simulator_depot_addresses(&codes)),
        // The simulator's full profile; tests of the seen profile give `seen` in `more`.
        ("NEXUS_CAPABILITIES", "full".to_owned()),
    ];
    let settings =
        Settings::from_lookup(|name| more.iter().chain(&base).find(|(key, _)| *key == name).map(|(_, v)| v.clone()))
            .map_err(|err| format!("settings: {err}"))?;
    let secrets = Secrets::load(&settings.secrets_source, None).await.map_err(|err| format!("secrets: {err}"))?;
    Ok((settings, Arc::new(secrets)))
}

/// A Qargo order for Project Timber (the shared customer, [`shared_customer`]) collected at PGD302
/// on `date`, two full pallets to Derby with a tail lift, on a trip with the subcontractor resource
/// `resource` (`PALLEX_OUT` or `FORTEC_OUT`): the tests' and the benchmarks' plain dispatch.
pub fn timber_order(resource: &str, date: &str) -> serde_json::Value {
    serde_json::json!({
        "customer": {"code": "TIMBER"},
        "customer_reference_number": "PO-7781",
        "service_level": {"code": "A"},
        "consignments": [{
            "consignment_reference_number": "TIMBER-1",
            "transport_network": {"requesting_depot_code": "PGD302", "collection_depot_code": "PGD302"},
            "pickup_stop": {
                "location": {"name": "Project Timber Ltd", "address": "Sawmill Lane", "postal_code": "DN22 7SS",
                             "city": "Retford", "country": "GB"},
                "date": date, "phone_number": "+441777700100"
            },
            "delivery_stop": {
                "location": {"name": "Derby Builders", "address": "1 Friar Gate", "postal_code": "DE1 1AA",
                             "city": "Derby", "country": "GB"},
                "phone_number": "+441332000000",
                "extras": [{"code": "TL"}]
            },
            "goods": [{"description": "Timber sheets", "quantity": 2, "packaging_type": {"code": "F"},
                       "unit_length_m": 1.2, "unit_width_m": 1.0, "unit_height_m": 1.2, "unit_weight_kg": 450.0}]
        }],
        "trip": {"resource_code": resource}
    })
}

/// The simulators' other depots that book for PGD302's area: (depot, its Nexus customer, network).
/// Their customers are in [`SIMULATOR_CUSTOMER_MAP`], so the import follows what they book.
pub const INBOUND_BOOKERS: [(&str, i64, &str); 5] = [
    ("UKD101", 52011, "PALLEX"),
    ("UKD205", 60233, "PALLEX"),
    ("UKD330", 55120, "PALLEX"),
    ("FTD118", 83007, "FORTEC"),
    ("FTD240", 88410, "FORTEC"),
];

/// Delivery postcodes in PGD302's area.
pub const PGD302_POSTCODES: [&str; 6] = ["DN22 7SS", "S1 2HE", "NG1 5FS", "LN1 1DF", "HU1 1UU", "YO1 7HH"];

/// The simulators' other-depot customers mapped onto the Qargo simulator's default customers.
pub const SIMULATOR_CUSTOMER_MAP: &str =
    "52011:ACME:PALLEX,60233:BOLT:PALLEX,55120:ACME:PALLEX,83007:DUNE:FORTEC,88410:DUNE:FORTEC";

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from("target/bridge-local"),
            depots: "PGD302".into(),
            nexus_url: None,
            qargo_url: None,
            nexus_port: 8081,
            qargo_port: 8082,
            secrets_json: None,
            customer_map: SIMULATOR_CUSTOMER_MAP.into(),
            poll_every: Some(Duration::from_secs(30)),
            nexus_profile: nexus_sim::Profile::Full,
        }
    }
}

/// A running local bridge. Dropping it stops the simulators; the API task ends with the process.
pub struct LocalBridge {
    /// The bridge the API and pollers share.
    pub bridge: Arc<Bridge>,
    /// `http://127.0.0.1:PORT`.
    pub api_url: String,
    /// The Nexus simulator, when started here.
    pub nexus: Option<nexus_sim::RunningSim>,
    /// The Qargo simulator, when started here.
    pub qargo: Option<qargo_sim::RunningSim>,
    /// The HTTP API task.
    pub api: JoinHandle<()>,
}

impl std::fmt::Debug for LocalBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBridge").field("api_url", &self.api_url).finish_non_exhaustive()
    }
}

/// How fast the local bridge may talk to the simulators.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Keep the simulators' rate limits (Qargo: 2 API requests/s and 5 token calls an hour; Nexus:
    /// 100 requests a minute per user). Off only where speed matters more than realism (the demo).
    pub simulator_limits: bool,
    /// How the bridge's clients retry and pace (Qargo's pace is 2 requests/s by default).
    pub clients: bridge::wiring::ClientTuning,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { simulator_limits: true, clients: bridge::wiring::ClientTuning::default() }
    }
}

impl Pace {
    /// No simulator rate limits and a Qargo pace of 200 requests/s: a simulated day in seconds.
    pub fn unlimited() -> Pace {
        let clients = bridge::wiring::ClientTuning { qargo_requests_per_second: 200.0, ..Default::default() };
        Pace { simulator_limits: false, clients }
    }
}

/// Starts the simulators (unless URLs are given), the embedded storage and the bridge's HTTP API.
pub async fn start(options: LocalOptions) -> Result<LocalBridge, String> {
    start_with(options, Pace::default()).await
}

/// [`start`] at the given [`Pace`]: the simulators' rate limits on or off, the clients tuned.
pub async fn start_with(options: LocalOptions, pace: Pace) -> Result<LocalBridge, String> {
    let listener =
        TcpListener::bind(options.listen).await.map_err(|err| format!("cannot listen on {}: {err}", options.listen))?;
    let address = listener.local_addr().map_err(|err| err.to_string())?;
    let api_url = format!("http://{address}");

    let (nexus, nexus_url, clock): (_, _, Arc<dyn Clock>) = match &options.nexus_url {
        Some(url) => (None, url.clone(), Arc::new(SystemClock)),
        None => {
            let sim = nexus_sim::NexusSim::start(
                nexus_sim::SimOptions::new().port(options.nexus_port).profile(options.nexus_profile),
            )
            .await
            .map_err(|err| format!("cannot start the Nexus simulator: {err}"))?;
            let url = sim.base_url();
            if !pace.simulator_limits {
                sim.handle().set_rate_limit(0);
            }
            let clock = Arc::new(SimulatorClock(sim.handle().clone()));
            (Some(sim), url, clock)
        }
    };
    let (qargo, qargo_url) = match &options.qargo_url {
        Some(url) => (None, url.clone()),
        None => {
            let mut sim_options = qargo_sim::SimOptions::with_bridge(api_url.clone());
            sim_options.bind = SocketAddr::from(([127, 0, 0, 1], options.qargo_port));
            sim_options.seed.customers.push(shared_customer());
            // Anything the bridge sends that Qargo would silently ignore is refused (422).
            sim_options.strict_unknown_keys = true;
            if !pace.simulator_limits {
                sim_options.limits = qargo_sim::Limits::off();
            }
            let sim = qargo_sim::QargoSim::start(sim_options)
                .await
                .map_err(|err| format!("cannot start the Qargo simulator: {err}"))?;
            let url = sim.base_url();
            (Some(sim), url)
        }
    };

    std::fs::create_dir_all(&options.data_dir)
        .map_err(|err| format!("cannot create {}: {err}", options.data_dir.display()))?;
    let depot_codes: Vec<&str> =
        options.depots.split(',').map(|d| d.split(':').next().unwrap_or(d).trim()).filter(|d| !d.is_empty()).collect();
    let secrets_json = options.secrets_json.clone().unwrap_or_else(|| {
        let mut secrets = simulator_secrets(&depot_codes);
        // The Optimize module is on locally when the Nexus simulator runs here: its key is known.
        if let Some(sim) = &nexus {
            secrets["optimize_api_key"] = serde_json::Value::from(sim.handle().optimize_key());
        }
        secrets.to_string()
    });
    let values = [
        ("BRIDGE_TABLE", "local".to_owned()),
        ("BRIDGE_BUCKET", "local".to_owned()),
        ("BRIDGE_DEPOTS", options.depots.clone()),
        ("NEXUS_BASE_URL", nexus_url.clone()),
        ("QARGO_BASE_URL", qargo_url.clone()),
        ("BRIDGE_SECRETS_JSON", secrets_json),
        ("BRIDGE_CUSTOMER_MAP", options.customer_map.clone()),
        ("NEXUS_CAPABILITIES", options.nexus_profile.name().to_owned()),
        ("BRIDGE_DEPOT_ADDRESSES", simulator_depot_addresses(&depot_codes)),
    ];
    let settings = Settings::from_lookup(|name| {
        values.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone()).or_else(|| std::env::var(name).ok())
    })
    .map_err(|err| err.to_string())?;
    let secrets = Secrets::load(&settings.secrets_source, None).await.map_err(|err| err.to_string())?;
    secrets.check_covers(&settings).map_err(|err| err.to_string())?;
    let store = EmbeddedStore::open(&options.data_dir.join("bridge.redb")).map_err(|err| err.to_string())?;
    let documents = DirectoryDocuments::new(options.data_dir.join("documents"));
    let bridge = Arc::new(Bridge::assemble_tuned(
        settings,
        Arc::new(secrets),
        Arc::new(store),
        Arc::new(documents),
        clock,
        pace.clients,
    ));
    let api = serve_api(bridge.clone(), listener);
    if let Some(every) = options.poll_every {
        spawn_pollers(bridge.clone(), every);
    }
    tracing::info!(api = %api_url, nexus = %nexus_url, qargo = %qargo_url, data = %options.data_dir.display(), "local bridge running");
    Ok(LocalBridge { bridge, api_url, nexus, qargo, api })
}
