//! Fault suite: the status and import polling survive being killed anywhere, and storms of faults
//! from both APIs, with Qargo's records ending equal to Nexus's: nothing lost, and nothing applied
//! twice but the scans of status updates sent to Qargo whose consignment's sync state a killed run
//! never saved afterwards (Qargo's API can neither read scans back nor de-duplicate an update). The
//! switch counts those scans, consignment by consignment, and the repeats found in Qargo must not
//! exceed them. (The duplicate-dispatch storm on DynamoDB is in `dispatch.rs`.)
//!
//! Every external call the bridge makes goes through a [`KillSwitch`]: Nexus and Qargo requests
//! through a loopback proxy in front of each simulator, cursor and sync-state operations through a
//! wrapper of the store. A run is armed to die at its N-th call, before the call (it never happens)
//! or after it (it happened, the answer is lost), and is then dropped mid-flight as a Lambda timeout
//! or a crash would end it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use bridge::clock::{Clock, ManualClock};
use bridge::domain::NexusConsignmentId;
use bridge::error::StoreError;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::store::{ConsignmentSync, Cursor, CursorKey, Cursors, SyncKey, SyncState};
use bridge::wiring::{Bridge, ClientTuning};
use jiff::Timestamp;

use crate::dispatch::quick_retries;

const OUR_DEPOT: &str = "PGD302";
// Other depots that book for PGD302's area (their customers mapped for import), and where.
use bridge_local::{INBOUND_BOOKERS as BOOKERS, PGD302_POSTCODES as POSTCODES};

// ---- the kill switch ---------------------------------------------------------------------------

/// When the fatal call dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    /// Dies before the call: it never happens.
    Before,
    /// Dies after the call happened, before its answer reaches the bridge.
    After,
}

/// Counts the external calls of a run and kills the run at the armed one.
#[derive(Default)]
struct KillSwitch {
    calls: AtomicU64,
    /// The call that dies (1-based); 0: disarmed.
    fatal: AtomicU64,
    /// Whether the fatal call dies after it happened (else before).
    after: AtomicBool,
    killed: tokio::sync::Notify,
    /// The fatal call.
    death: Mutex<Option<Death>>,
    /// Scans sent to Qargo in status updates since their consignment's last saved sync state, by
    /// consignment (`NEXUS-<network>-<id>`): what a run killed now could make Qargo hold twice.
    unsaved_scans: Mutex<BTreeMap<String, usize>>,
}

/// Where a run died.
#[derive(Debug, Clone)]
struct Death {
    call: String,
    fate: Fate,
}

impl Death {
    /// The fatal call's route, ids folded: `GET /v1/consignments/{id}/events`, `sync_state.save`.
    fn route(&self) -> String {
        let call: Vec<&str> = self.call.split_whitespace().take(2).collect();
        call.join(" ")
            .split('/')
            .map(
                |part| {
                    if part.len() > 3 && part.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                        "{id}"
                    } else {
                        part
                    }
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl KillSwitch {
    fn arm(&self, fatal: u64, after: bool) {
        self.calls.store(0, Ordering::SeqCst);
        self.unsaved_scans.lock().unwrap().clear();
        *self.death.lock().unwrap() = None;
        self.after.store(after, Ordering::SeqCst);
        self.fatal.store(fatal, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.fatal.store(0, Ordering::SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Counts a call; answers its fate.
    fn call(&self, what: &str) -> Fate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fatal.load(Ordering::SeqCst) {
            return Fate::Live;
        }
        let fate = if self.after.load(Ordering::SeqCst) { Fate::After } else { Fate::Before };
        *self.death.lock().unwrap() = Some(Death { call: what.to_owned(), fate });
        fate
    }

    /// The fatal call: tells the runner to drop the run, and never returns.
    async fn die(&self) {
        self.killed.notify_one();
        std::future::pending::<()>().await;
    }

    /// Runs `call` as one external call.
    async fn around<T>(&self, what: &str, call: impl Future<Output = T>) -> T {
        let fate = self.call(what);
        if fate == Fate::Before {
            self.die().await;
        }
        let out = call.await;
        if fate == Fate::After {
            self.die().await;
        }
        out
    }

    /// Runs a job; `None` when it was killed.
    async fn run<T>(&self, job: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.killed.notified() => None,
            out = job => Some(out),
        }
    }

    fn death(&self) -> Option<Death> {
        self.death.lock().unwrap().clone()
    }

    /// Counts the scans of a status update call about to reach Qargo against their consignments.
    fn sending_scans(&self, body: &[u8]) -> BTreeMap<String, usize> {
        let scans = scans_by_consignment(body);
        let mut unsaved = self.unsaved_scans.lock().unwrap();
        for (consignment, n) in &scans {
            *unsaved.entry(consignment.clone()).or_default() += n;
        }
        scans
    }

    /// Takes back what [`KillSwitch::sending_scans`] counted: Qargo refused the call.
    fn refused_scans(&self, scans: &BTreeMap<String, usize>) {
        let mut unsaved = self.unsaved_scans.lock().unwrap();
        for (consignment, n) in scans {
            if let Some(count) = unsaved.get_mut(consignment) {
                *count = count.saturating_sub(*n);
            }
        }
    }

    /// The consignment's sync state was saved: what was sent before is recorded.
    fn saved(&self, key: &SyncKey) {
        self.unsaved_scans.lock().unwrap().remove(&format!(
            "NEXUS-{}-{}",
            key.network.code(),
            key.nexus_consignment_id.0
        ));
    }

    /// Scans sent to Qargo whose consignment's state was not saved after: the most a killed run
    /// leaves Qargo holding twice.
    fn unsaved(&self) -> usize {
        self.unsaved_scans.lock().unwrap().values().sum()
    }
}

/// The scans of a `subco-status-update` body, by the consignment its stop reference names.
fn scans_by_consignment(body: &[u8]) -> BTreeMap<String, usize> {
    let mut scans = BTreeMap::new();
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) else { return scans };
    for update in body["updates"].as_array().into_iter().flatten() {
        let stop = &update["stop"];
        let Some(reference) = stop["match"]["matches_all"][0]["stop"]["reference_number"]["matches_any"][0].as_str()
        else {
            continue;
        };
        let consignment = reference.trim_end_matches("-P").trim_end_matches("-D").to_owned();
        let n = stop["question_answers"]["scan_barcode"].as_array().map_or(0, Vec::len);
        *scans.entry(consignment).or_default() += n;
    }
    scans
}

/// A loopback proxy in front of a simulator; answers the URL to use instead of `upstream`.
async fn kill_proxy(upstream: &str, switch: Arc<KillSwitch>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let upstream_url = reqwest::Url::parse(upstream).unwrap();
    let origin = format!("{}://{}", upstream_url.scheme(), upstream_url.authority());
    let proxy = Arc::new(Proxy { origin, switch, http: bridge::http::client_builder().build().unwrap() });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}{}", upstream_url.path())
}

struct Proxy {
    origin: String,
    switch: Arc<KillSwitch>,
    http: reqwest::Client,
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let what = format!("{method} {}", uri.path());
    let fate = proxy.switch.call(&what);
    if fate == Fate::Before {
        proxy.switch.die().await;
    }
    // Counted before the call leaves: a run dropped while it is under way may still have it applied.
    let scans = if what.ends_with("subco-status-update") { proxy.switch.sending_scans(&body) } else { BTreeMap::new() };
    let answer = match bridge_local::relay::relay(&proxy.http, &proxy.origin, method, &uri, &headers, body).await {
        Ok(answer) => answer,
        Err(err) => return bridge_local::relay::bad_gateway(err),
    };
    if !answer.status.is_success() {
        proxy.switch.refused_scans(&scans);
    }
    if fate == Fate::After {
        proxy.switch.die().await;
    }
    answer.into_response()
}

/// The store's cursor and sync-state ports, each operation an external call of the switch.
struct KillableStore {
    cursors: Arc<dyn Cursors>,
    sync_state: Arc<dyn SyncState>,
    switch: Arc<KillSwitch>,
}

#[async_trait]
impl Cursors for KillableStore {
    async fn read(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError> {
        self.switch.around("cursors.read", self.cursors.read(key)).await
    }

    async fn compare_and_set(
        &self,
        key: &CursorKey,
        expected_version: Option<u64>,
        position: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.switch
            .around("cursors.compare_and_set", self.cursors.compare_and_set(key, expected_version, position, now))
            .await
    }
}

#[async_trait]
impl SyncState for KillableStore {
    async fn load(&self, key: &SyncKey) -> Result<Option<ConsignmentSync>, StoreError> {
        self.switch.around("sync_state.load", self.sync_state.load(key)).await
    }

    async fn save(&self, key: &SyncKey, state: &ConsignmentSync) -> Result<bool, StoreError> {
        let saved = self.switch.around("sync_state.save", self.sync_state.save(key, state)).await;
        if matches!(saved, Ok(true)) {
            self.switch.saved(key);
        }
        saved
    }
}

// ---- the world ---------------------------------------------------------------------------------

struct FaultWorld {
    nexus: nexus_sim::RunningSim,
    qargo: qargo_sim::RunningSim,
    bridge: Arc<Bridge>,
    clock: ManualClock,
    switch: Arc<KillSwitch>,
    /// Consignments other depots booked for us: (network code, Nexus id).
    booked: Vec<(&'static str, u64)>,
}

/// Both simulators, each behind a kill proxy, and the bridge over the in-memory store with its
/// cursors and sync state behind the kill switch.
async fn fault_world(retry: bridge::http::RetryPolicy) -> FaultWorld {
    let nexus = nexus_sim::NexusSim::start(nexus_sim::SimOptions::default()).await.expect("Nexus simulator");
    nexus.handle().set_rate_limit(0);
    let mut qargo_options =
        qargo_sim::SimOptions { limits: qargo_sim::Limits::off(), strict_unknown_keys: true, ..Default::default() };
    qargo_options.seed.customers.push(bridge_local::shared_customer());
    let qargo = qargo_sim::QargoSim::start(qargo_options).await.expect("Qargo simulator");
    let switch = Arc::new(KillSwitch::default());
    let nexus_url = kill_proxy(&nexus.base_url(), switch.clone()).await;
    let qargo_url = kill_proxy(&qargo.base_url(), switch.clone()).await;
    let (settings, secrets) = bridge_local::simulator_settings(&nexus_url, &qargo_url, OUR_DEPOT, &[]).await.unwrap();
    let clock = ManualClock::new(bridge_local::SimulatorClock(nexus.handle().clone()).now());
    let mut bridge = Bridge::assemble_tuned(
        settings,
        secrets,
        Arc::new(MemoryStore::in_memory()),
        Arc::new(MemoryDocuments::default()),
        Arc::new(clock.clone()),
        ClientTuning { retry, qargo_requests_per_second: 500.0, shared_budgets: false },
    );
    let store = Arc::new(KillableStore {
        cursors: bridge.cursors.clone(),
        sync_state: bridge.sync_state.clone(),
        switch: switch.clone(),
    });
    bridge.cursors = store.clone();
    bridge.sync_state = store;
    FaultWorld { nexus, qargo, bridge: Arc::new(bridge), clock, switch, booked: Vec::new() }
}

impl FaultWorld {
    fn advance(&self, by: Duration) {
        self.nexus.handle().advance(by);
        self.clock.set(bridge_local::SimulatorClock(self.nexus.handle().clone()).now());
    }

    /// Other depots book `count` more consignments for delivery in our area (1 to 3 pallets),
    /// straight on the simulator (not through the proxy).
    async fn book(&mut self, count: usize) {
        for _ in 0..count {
            let i = self.booked.len();
            let (depot, customer, network) = BOOKERS[i % BOOKERS.len()];
            let client = bridge_local::depot_user(&self.nexus.base_url(), depot, quick_retries());
            let mut body = bridge_local::simple_booking(
                customer,
                network,
                &format!("FS-{i:05}"),
                POSTCODES[i % POSTCODES.len()],
                1 + i % 3,
            );
            body.collection_info.due_date = self.next_collection_date();
            let booked = client.create_consignment(&body).await.expect("booked by another depot");
            self.booked.push((network, u64::try_from(booked.consignment_id).unwrap()));
        }
    }

    /// Today before 11:00 on a weekday, else the next weekday (no bank holiday falls in the runs).
    fn next_collection_date(&self) -> jiff::civil::Date {
        let now = self.nexus.handle().now();
        let mut date = if now.hour() < 11 { now.date() } else { now.date().tomorrow().unwrap() };
        while matches!(date.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday) {
            date = date.tomorrow().unwrap();
        }
        date
    }

    async fn import(&self) -> Result<String, String> {
        import_orders(&self.bridge, &ImportOptions::unbounded())
            .await
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string())
    }

    async fn sync(&self) -> Result<String, String> {
        sync_statuses(&self.bridge, &SyncOptions::unbounded())
            .await
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string())
    }

    /// Each barcode's scans on Nexus, in time order: (code, time).
    async fn nexus_scans(&self, id: u64) -> BTreeMap<String, Vec<(String, Timestamp)>> {
        let client = bridge_local::depot_user(&self.nexus.base_url(), OUR_DEPOT, quick_retries());
        let mut events = client.events(NexusConsignmentId(id as i64)).await.expect("events read");
        events.sort_by_key(|e| (e.event_date_time, e.event_id));
        let mut scans: BTreeMap<String, Vec<(String, Timestamp)>> = BTreeMap::new();
        for event in events {
            if let Some(barcode) = event.barcode {
                let at = event.event_date_time.to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap()).unwrap();
                scans.entry(barcode).or_default().push((event.code, at.timestamp()));
            }
        }
        scans
    }

    /// The barcode's scans in Qargo, in the order received: (code, time). Qargo's scan has no field
    /// for the network's code; the bridge puts it first in the description.
    fn qargo_scans(&self, barcode: &str) -> Vec<(String, Timestamp)> {
        self.qargo
            .handle
            .scans(barcode)
            .into_iter()
            .map(|s| (end_to_end::nexus_code(&s).unwrap_or_default(), s.timestamp.parse().expect("a scan time")))
            .collect()
    }

    /// Checks that every consignment booked for us is one order in Qargo, with every Nexus scan of
    /// each pallet once and in order (a status update repeated right after itself is counted, not
    /// refused: see [`KillSwitch::unsaved`]), and its pickup stop completed once
    /// collected on Nexus.
    async fn assert_qargo_agrees_with_nexus(&self) -> Agreement {
        let mut per_identifier: BTreeMap<String, usize> = BTreeMap::new();
        for order in self.qargo.handle.orders() {
            if let Some(identifier) = order["order_identifier"].as_str() {
                *per_identifier.entry(identifier.to_owned()).or_default() += 1;
            }
        }
        let mut agreement = Agreement::default();
        for (network, id) in &self.booked {
            let identifier = format!("NEXUS-{network}-{id}");
            assert_eq!(per_identifier.get(&identifier), Some(&1), "{identifier}: one order in Qargo");
            for (barcode, on_nexus) in self.nexus_scans(*id).await {
                let mut in_qargo = self.qargo_scans(&barcode);
                let received = in_qargo.len();
                in_qargo.dedup();
                agreement.repeated += received - in_qargo.len();
                assert_eq!(in_qargo, on_nexus, "{identifier} pallet {barcode}: every scan once, in order");
                agreement.scans += on_nexus.len();
            }
            // Another depot collects: its collection completes our order's pickup stop (our own
            // driver completes the delivery stop, so Nexus scans leave that one alone).
            if !matches!(self.nexus.handle().status_of(*id), Some("BKD" | "MAN" | "CAN") | None) {
                agreement.collected += 1;
                let detail = self.qargo.handle.order_by_identifier(&identifier).expect("the order");
                let stops = detail["stops"].as_array().expect("stops");
                let pickup = stops.iter().find(|s| s["stop_type"] == "PICKUP").expect("a pickup stop");
                assert_eq!(pickup["status"], "COMPLETED", "{identifier} collected on Nexus: {pickup}");
            }
            agreement.delivered += usize::from(self.nexus.handle().status_of(*id) == Some("DEL"));
        }
        agreement
    }
}

/// What the comparison of Qargo with Nexus counted.
#[derive(Debug, Default)]
struct Agreement {
    /// Scans on Nexus, each found once in Qargo.
    scans: usize,
    /// Scans Qargo received twice in a row (a repeated status update).
    repeated: usize,
    /// Consignments collected on Nexus, their pickup stop completed in Qargo.
    collected: usize,
    /// Consignments delivered on Nexus.
    delivered: usize,
}

/// Which polling job a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Import,
    Status,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_runs_killed_at_random_points_lose_nothing_and_apply_nothing_twice() {
    let mut world = fault_world(quick_retries()).await;
    let mut rng = fastrand::Rng::with_seed(0x5EED_0012);
    // Each run is armed to die at a call drawn from 1..=cap, cap being the calls of the last run of
    // its kind that finished (so deaths spread over whole runs as the work grows).
    let mut cap: BTreeMap<Job, u64> = [(Job::Import, 30), (Job::Status, 30)].into();
    let (mut killed, mut finished, mut repeats_window) = (0, 0, 0_usize);
    let mut deaths: BTreeMap<String, u32> = BTreeMap::new();
    for run in 0..100 {
        if run < 30 {
            world.book(10).await;
        }
        world.advance(Duration::from_secs(20 * 60));
        let job = if run % 2 == 0 { Job::Import } else { Job::Status };
        let fatal = rng.u64(1..=cap[&job]);
        world.switch.arm(fatal, rng.bool());
        let outcome = match job {
            Job::Import => world.switch.run(world.import()).await,
            Job::Status => world.switch.run(world.sync()).await,
        };
        world.switch.disarm();
        let Some(_) = outcome else {
            killed += 1;
            let death = world.switch.death().expect("a killed run has a fatal call");
            // Calls the dropped run had under way finish or fail at the proxy first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            repeats_window += world.switch.unsaved();
            *deaths.entry(format!("{:?} {}", death.fate, death.route())).or_default() += 1;
            // The next run of the kind may die further in.
            if let Some(cap) = cap.get_mut(&job) {
                *cap += (*cap / 4).max(1);
            }
            continue;
        };
        finished += 1;
        cap.insert(job, world.switch.calls().max(1) + 1);
    }
    eprintln!("{killed} runs killed, {finished} finished; deaths by call: {deaths:#?}");
    assert!(killed >= 70, "most runs died mid-way: {killed} of 100");

    // Then clean runs until every consignment has finished on Nexus, and two quiet ones.
    for _ in 0..40 {
        world.advance(Duration::from_secs(3 * 3600));
        world.import().await.expect("a clean import run");
        world.sync().await.expect("a clean status run");
    }
    world.import().await.expect("a quiet import run");
    world.sync().await.expect("a quiet status run");

    let agreement = world.assert_qargo_agrees_with_nexus().await;
    eprintln!(
        "{} consignments: {agreement:?}; {repeats_window} scans sent by killed runs and never saved",
        world.booked.len()
    );
    assert_eq!(world.booked.len(), 300);
    assert!(agreement.scans >= 300 * 5, "the consignments moved: {agreement:?}");
    assert!(agreement.delivered >= 200, "most were delivered: {agreement:?}");
    assert!(
        agreement.repeated <= repeats_window,
        "{agreement:?}: more scans repeated than the {repeats_window} a killed run sent and never saved"
    );
}

/// A storm: switched on before a polling round, off after it; `hit` tells from what the
/// simulators saw that it really struck.
struct Storm {
    name: &'static str,
    start: fn(&FaultWorld),
    hit: fn(&Seen) -> bool,
}

/// What the simulators saw during a round.
#[derive(Debug)]
struct Seen {
    nexus_statuses: BTreeMap<u16, u64>,
    nexus_delay: Duration,
    nexus_faults_left: nexus_sim::FaultSettings,
    qargo_statuses: BTreeMap<u16, u64>,
    qargo_slowest: Duration,
}

impl Seen {
    fn of(world: &FaultWorld) -> Seen {
        let counts = world.nexus.handle().request_counts();
        let mut nexus_statuses = BTreeMap::new();
        for (status, n) in counts.routes.iter().flat_map(|r| r.statuses.iter()) {
            *nexus_statuses.entry(*status).or_default() += n;
        }
        let log = world.qargo.handle.request_log();
        let mut qargo_statuses = BTreeMap::new();
        for record in &log {
            *qargo_statuses.entry(record.status).or_default() += 1;
        }
        Seen {
            nexus_statuses,
            nexus_delay: Duration::from_millis(counts.routes.iter().map(|r| r.injected_delay_ms).sum()),
            nexus_faults_left: world.nexus.handle().faults_now(),
            qargo_statuses,
            qargo_slowest: log.iter().map(|r| r.took).max().unwrap_or_default(),
        }
    }

    fn nexus(&self, status: u16) -> u64 {
        self.nexus_statuses.get(&status).copied().unwrap_or(0)
    }

    fn qargo(&self, status: u16) -> u64 {
        self.qargo_statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Turns a Qargo fault on, and off again after `after` in the background.
fn qargo_fault_for(world: &FaultWorld, faults: qargo_sim::Faults, after: Duration) {
    world.qargo.handle.set_faults(faults);
    let qargo = world.qargo.handle.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        qargo.set_faults(qargo_sim::Faults::default());
    });
}

const STORMS: [Storm; 8] = [
    Storm {
        name: "Nexus 429s with Retry-After",
        start: |w| w.nexus.handle().set_faults(throttled(4)),
        hit: |seen| seen.nexus(429) >= 4,
    },
    Storm {
        name: "Nexus 503 burst",
        start: |w| w.nexus.handle().set_outage_for_next(5),
        hit: |seen| seen.nexus(503) >= 5,
    },
    Storm {
        name: "Qargo 503 burst",
        start: |w| {
            let faults = qargo_sim::Faults { outage: true, ..Default::default() };
            qargo_fault_for(w, faults, Duration::from_millis(1500));
        },
        hit: |seen| seen.qargo(503) >= 1,
    },
    Storm {
        name: "Nexus 10 s latency spike",
        start: |w| {
            w.nexus.handle().set_latency(Duration::from_secs(10), Duration::ZERO);
            let nexus = w.nexus.handle().clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                nexus.set_latency(Duration::ZERO, Duration::ZERO);
            });
        },
        hit: |seen| seen.nexus_delay >= Duration::from_secs(10),
    },
    Storm {
        name: "Qargo 10 s latency spike",
        start: |w| {
            let faults = qargo_sim::Faults { latency_ms: 10_000, ..Default::default() };
            qargo_fault_for(w, faults, Duration::from_secs(2));
        },
        hit: |seen| seen.qargo_slowest >= Duration::from_secs(10),
    },
    Storm {
        name: "tokens of both APIs expire mid-run",
        start: |w| {
            // 10 ms a Nexus request stretches the round over the expiries; a quarter of a second
            // between them leaves a loaded machine time to log in again and use the new token.
            w.nexus.handle().set_latency(Duration::from_millis(10), Duration::ZERO);
            let (nexus, qargo) = (w.nexus.handle().clone(), w.qargo.handle.clone());
            tokio::spawn(async move {
                for wait in [40, 250, 250, 250] {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    nexus.expire_all_tokens();
                    qargo.expire_all_tokens();
                }
                nexus.set_latency(Duration::ZERO, Duration::ZERO);
            });
        },
        hit: |seen| seen.nexus(401) + seen.qargo(401) >= 1,
    },
    Storm {
        name: "truncated JSON from Nexus",
        start: |w| {
            let faults = nexus_sim::FaultSettings {
                truncate_bodies: nexus_sim::FaultSwitch::NextRequests(4),
                ..w.nexus.handle().faults_now()
            };
            w.nexus.handle().set_faults(faults);
        },
        hit: |seen| seen.nexus_faults_left.truncate_bodies == nexus_sim::FaultSwitch::Off,
    },
    Storm {
        name: "HTML instead of JSON from Nexus",
        start: |w| {
            let faults = nexus_sim::FaultSettings {
                malformed_bodies: nexus_sim::FaultSwitch::NextRequests(3),
                ..w.nexus.handle().faults_now()
            };
            w.nexus.handle().set_faults(faults);
        },
        hit: |seen| seen.nexus_faults_left.malformed_bodies == nexus_sim::FaultSwitch::Off,
    },
];

fn throttled(requests: u32) -> nexus_sim::FaultSettings {
    nexus_sim::FaultSettings {
        throttle: nexus_sim::FaultSwitch::NextRequests(requests),
        rate_limit_per_minute: 0,
        ..nexus_sim::FaultSettings::default()
    }
}

/// The status-poll and order-poll functions' time limits (template.yaml `Timeout`).
const STATUS_POLL_TIMEOUT: Duration = Duration::from_secs(300);
const ORDER_POLL_TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_from_both_apis_are_ridden_out_within_the_time_limit_and_lose_nothing() {
    // The production retry policy: the storms are what it is for.
    let mut world = fault_world(bridge::http::RetryPolicy::default()).await;
    world.book(40).await;
    world.advance(Duration::from_secs(3600));
    world.import().await.expect("the first import");
    world.sync().await.expect("the first status run");
    for (round, storm) in STORMS.iter().enumerate() {
        if round < 4 {
            world.book(5).await;
        }
        world.advance(Duration::from_secs(2 * 3600));
        world.nexus.handle().reset_request_counts();
        world.qargo.handle.reset_request_counts();
        (storm.start)(&world);
        let started = std::time::Instant::now();
        let imported = import_orders(&world.bridge, &ImportOptions::within(ORDER_POLL_TIMEOUT)).await;
        let synced =
            sync_statuses(&world.bridge, &SyncOptions::within(STATUS_POLL_TIMEOUT - bridge::http::DEADLINE_RESERVE))
                .await;
        let took = started.elapsed();
        let seen = Seen::of(&world);
        world.nexus.handle().set_faults(nexus_sim::FaultSettings { rate_limit_per_minute: 0, ..Default::default() });
        world.qargo.handle.set_faults(qargo_sim::Faults::default());
        eprintln!("{}: both runs in {took:.1?}; {seen:?}", storm.name);
        assert!((storm.hit)(&seen), "{}: the storm did not strike: {seen:?}", storm.name);
        let imported = imported.unwrap_or_else(|failed| panic!("{}: the import run failed: {failed}", storm.name));
        let synced = synced.unwrap_or_else(|failed| panic!("{}: the status run failed: {failed}", storm.name));
        assert!(took < STATUS_POLL_TIMEOUT, "{}: {took:?} is past the function's time limit", storm.name);
        assert!(synced.problems.is_empty(), "{}: {:?}", storm.name, synced.problems);
        assert!(synced.events_applied > 0, "{}: the storm hit a run with work to do: {synced:?}", storm.name);
        assert!(imported.rejected().next().is_none(), "{}: {imported:?}", storm.name);
    }
    // Calm: the consignments go on to delivery.
    for _ in 0..6 {
        world.advance(Duration::from_secs(8 * 3600));
        world.import().await.expect("a calm import run");
        world.sync().await.expect("a calm status run");
    }
    let agreement = world.assert_qargo_agrees_with_nexus().await;
    eprintln!("after the storms: {agreement:?}");
    assert_eq!(agreement.repeated, 0, "no status update was repeated");
    assert!(agreement.scans >= 60 * 5 && agreement.delivered >= 40, "{agreement:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_run_at_its_deadline_stops_cleanly_and_the_next_one_resumes() {
    let mut world = fault_world(quick_retries()).await;
    world.book(30).await;
    world.advance(Duration::from_secs(3600));
    world.import().await.expect("imported");
    world.advance(Duration::from_secs(8 * 3600));
    // 30 ms a Nexus request: the run needs about a second, and has a quarter of that.
    world.nexus.handle().set_latency(Duration::from_millis(30), Duration::ZERO);
    let cut_short =
        sync_statuses(&world.bridge, &SyncOptions::within(Duration::from_millis(250))).await.expect("not a failure");
    assert!(cut_short.left_for_next_run > 0, "the deadline came mid-run: {cut_short:?}");
    assert!(cut_short.events_applied > 0, "it did some work first: {cut_short:?}");
    assert!(cut_short.lag_seconds.is_some_and(|lag| lag < 60), "lag from its own start: {cut_short:?}");
    // Two minutes on, a run out of time before it starts anything: the lag counts from the first
    // run that left work.
    world.advance(Duration::from_secs(120));
    let again = sync_statuses(&world.bridge, &SyncOptions::within(Duration::ZERO)).await.expect("not a failure");
    assert!(again.left_for_next_run > 0, "the deadline came before any work: {again:?}");
    assert!(again.lag_seconds.is_some_and(|lag| lag >= 120), "lag from the first run behind: {again:?}");
    world.nexus.handle().set_latency(Duration::ZERO, Duration::ZERO);
    let next = sync_statuses(&world.bridge, &SyncOptions::unbounded()).await.expect("the next run");
    assert_eq!(next.left_for_next_run, 0, "{next:?}");
    assert!(next.lag_seconds.is_some_and(|lag| lag < 60), "caught up: the lag is the run's own: {next:?}");
    eprintln!("cut short: {cut_short:?}\nagain: {again:?}\nnext: {next:?}");
    let agreement = world.assert_qargo_agrees_with_nexus().await;
    assert_eq!(agreement.repeated, 0, "{agreement:?}");
}

/// The status sync paced against a per-user Nexus budget: the simulator's real limit of
/// `per_minute` a minute and the bridge's `NEXUS_REQUESTS_PER_MINUTE` set to it.
fn paced_nexus(world: &FaultWorld, per_minute: u32, budgets: Arc<dyn bridge::store::RateBudgets>) -> Bridge {
    let mut paced = (*world.bridge).clone();
    paced.settings.nexus_requests_per_minute = per_minute;
    paced.nexus = bridge::nexus::NexusClients::paced(
        &paced.settings.nexus_base_url,
        &paced.secrets,
        quick_retries(),
        per_minute,
        Some(budgets),
    );
    world.nexus.handle().set_rate_limit(per_minute);
    paced
}

fn nexus_429s(world: &FaultWorld) -> u64 {
    world.nexus.handle().request_counts().routes.iter().filter_map(|route| route.statuses.get(&429)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_run_keeps_inside_the_nexus_budget_and_leaves_the_rest_for_the_next_run() {
    let mut world = fault_world(quick_retries()).await;
    world.book(30).await;
    world.advance(Duration::from_secs(3600));
    world.import().await.expect("imported");
    world.advance(Duration::from_secs(8 * 3600));
    let budgets: Arc<dyn bridge::store::RateBudgets> = Arc::new(MemoryStore::in_memory());
    // 30 a minute: 30 changed consignments need about 40 requests, more than the minute's limit
    // (unpaced, the run would draw 429s within a second); at the pace, one every 2.2 s, and the
    // run has 5 s.
    let paced = paced_nexus(&world, 30, budgets.clone());
    world.nexus.handle().reset_request_counts();
    let first = sync_statuses(&paced, &SyncOptions::within(Duration::from_secs(5))).await.expect("not a failure");
    eprintln!("paced run: {first:?}");
    assert_eq!(nexus_429s(&world), 0, "paced inside the limit: {first:?}");
    assert!(first.left_for_next_run > 0 && first.events_applied > 0, "{first:?}");
    assert!(first.lag_seconds.is_some(), "the lag is reported: {first:?}");

    // Another instance has taken the user's budget over a minute ahead, further than a call waits (10 s):
    // the run sends nothing, fails nothing, and says so.
    let user = paced.nexus.for_depot(&OUR_DEPOT.parse().unwrap()).expect("our user").username().to_owned();
    let rate = bridge::store::Rate::per_minute(30.0 * 0.9, 1);
    let now_ms = Timestamp::now().as_millisecond();
    for _ in 0..40 {
        budgets.reserve(&format!("nexus#{user}"), rate, now_ms, Duration::from_secs(60)).await.unwrap();
    }
    let requests_before = world.nexus.handle().request_counts().total;
    let spent = sync_statuses(&paced, &SyncOptions::unbounded()).await.expect("a spent budget is not a failure");
    eprintln!("spent budget: {spent:?}");
    assert!(spent.nexus_budget_spent, "{spent:?}");
    // The import and the POD sync of that instance stop as cleanly.
    import_orders(&paced, &ImportOptions::unbounded()).await.expect("a spent budget stops the import cleanly");
    let pods = bridge::jobs::pod_sync::sync_documents(&paced, &SyncOptions::unbounded())
        .await
        .expect("a spent budget stops the POD sync cleanly");
    assert!(pods.nexus_budget_spent, "{pods:?}");
    assert_eq!(world.nexus.handle().request_counts().total, requests_before, "nothing sent");
    assert!(spent.lag_seconds.is_some(), "{spent:?}");
    assert_eq!(nexus_429s(&world), 0);

    // No budget configured (the default): the first 429s, whose `Retry-After` is longer than a
    // call waits, pause the user's requests and the run leaves the rest: a few 429s, no storm.
    let before = nexus_429s(&world);
    world.advance(Duration::from_secs(3600));
    let unpaced = sync_statuses(&world.bridge, &SyncOptions::unbounded()).await.expect("a 429 pause is not a failure");
    let drew = nexus_429s(&world) - before;
    eprintln!("unpaced: {drew} × 429; {unpaced:?}");
    assert!(unpaced.nexus_budget_spent, "{unpaced:?}");
    assert!((1..=9).contains(&drew), "at most one 429 per consignment in flight: {drew}");

    // Unlimited again, the next run (a fresh instance: this one's pause lasts a minute) finishes
    // what was left: nothing lost, nothing twice.
    world.nexus.handle().set_rate_limit(0);
    let fresh = paced_nexus(&world, 0, Arc::new(MemoryStore::in_memory()));
    let last = sync_statuses(&fresh, &SyncOptions::unbounded()).await.expect("the next run");
    assert_eq!((last.left_for_next_run, last.nexus_budget_spent), (0, false), "{last:?}");
    let agreement = world.assert_qargo_agrees_with_nexus().await;
    assert_eq!(agreement.repeated, 0, "{agreement:?}");
}
