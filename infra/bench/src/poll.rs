//! Poll efficiency: Nexus requests per status-sync cycle for a depot with many active consignments
//! of which a small share changes, against the delta bound and against a naive poller that reads
//! every followed consignment's events every cycle. Every figure comes from the Nexus simulator's
//! request counter.

use std::time::{Duration, Instant};

use bridge::domain::NexusConsignmentId;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
use bridge::nexus::NexusClient;
use nexus_sim::Stage;

use crate::world::{OUR_DEPOT, World, depot_user, quick_retries, simple_booking};

// The other depots that book for us, and where they deliver.
pub(crate) use bridge_local::{INBOUND_BOOKERS as BOOKERS, PGD302_POSTCODES as POSTCODES};

/// Simulated time between two cycles: the status poller's schedule (`PollIntervalMinutes`, 2 by
/// default in template.yaml). The changes of a cycle are spread evenly over it.
const CYCLE_SECONDS: u64 = 120;

/// The benchmark's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Active consignments followed for our depot.
    pub consignments: usize,
    /// Measured cycles.
    pub cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    pub change_percent: f64,
}

/// One measured cycle.
struct Row {
    cycle: String,
    changed: usize,
    listed: u64,
    reads: u64,
    /// Scan events the bridge recorded in Qargo: it did the work, not only the requests.
    applied: u32,
    bridge: u64,
    bound: u64,
    naive: u64,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.naive as f64 / self.bridge.max(1) as f64
    }

    fn print(&self) {
        let within = if self.bridge <= self.bound { "yes" } else { "NO" };
        println!(
            "| {:>8} | {:>7} | {:>6} | {:>12} | {:>7} | {:>15} | {:>5} | {:>6} | {:>14} | {:>6.1}x |",
            self.cycle,
            self.changed,
            self.listed,
            self.reads,
            self.applied,
            self.bridge,
            self.bound,
            within,
            self.naive,
            self.ratio()
        );
    }
}

/// Runs the benchmark and prints its table and summary.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    let world = World::start().await?;
    // Freeze the lifecycle driver on every leg involved: the benchmark decides what changes.
    let manual: Vec<&str> = BOOKERS.iter().map(|(depot, ..)| *depot).chain([OUR_DEPOT]).collect();
    world.nexus.handle().set_manual_depots(&manual);

    let ids = book(&world, params.consignments).await?;
    eprintln!("booked {} consignments for {OUR_DEPOT} in {:.1?}", ids.len(), started.elapsed());
    let imported = import_orders(&world.bridge, &ImportOptions::unbounded()).await.map_err(|e| format!("{e}"))?;
    eprintln!("imported {} orders into Qargo in {:.1?}", imported.total(|n| n.created), started.elapsed());

    let page_size = u64::from(world.bridge.settings.nexus_page_size);
    let naive_client = depot_user(&world.nexus.base_url(), OUR_DEPOT, quick_retries());
    let per_cycle = ((ids.len() as f64 * params.change_percent / 100.0).round() as usize).clamp(1, ids.len());

    println!(
        "poll-efficiency: {} active consignments for {OUR_DEPOT}, {per_cycle} changed per cycle ({}%) spread over \
         {CYCLE_SECONDS}s, page size {page_size}, poll overlap {}s, {} build, {} CPUs",
        ids.len(),
        params.change_percent,
        world.bridge.settings.poll_overlap.as_secs(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "| {:>8} | {:>7} | {:>6} | {:>12} | {:>7} | {:>15} | {:>5} | {:>6} | {:>14} | {:>7} |",
        "cycle",
        "changed",
        "listed",
        "events reads",
        "applied",
        "bridge requests",
        "bound",
        "within",
        "naive requests",
        "ratio"
    );
    println!(concat!(
        "|---------:|--------:|-------:|-------------:|--------:|",
        "----------------:|------:|:------:|---------------:|--------:|"
    ));

    // Warm-up, shown but not counted in the summary: the first run catches up with everything
    // imported (and the naive poller's first pass logs in); the first cycle with changes still
    // lists every booking, because the cursor stands at their `lastUpdated` and the poll overlap
    // reaches back over them until a later change moves it.
    world.advance(Duration::from_secs(CYCLE_SECONDS));
    let catch_up = measure(&world, &naive_client, &ids, "catch-up", 0, page_size).await?;
    catch_up.print();
    let mut warm_up = vec![catch_up];

    let mut rows = Vec::new();
    let mut changes = Changes { per_cycle, next: 0, driver_actions: 0, step_failures: Vec::new() };
    for cycle in 0..=params.cycles {
        let changed = changes.make(&world, &ids);
        let label = if cycle == 0 { "warm-up".to_owned() } else { cycle.to_string() };
        let row = measure(&world, &naive_client, &ids, &label, changed, page_size).await?;
        row.print();
        if cycle == 0 { warm_up.push(row) } else { rows.push(row) }
    }

    let bridge: u64 = rows.iter().map(|r| r.bridge).sum();
    let naive: u64 = rows.iter().map(|r| r.naive).sum();
    let changed: usize = rows.iter().map(|r| r.changed).sum();
    let cycles = rows.len().max(1) as f64;
    let worst = rows.iter().map(Row::ratio).fold(f64::INFINITY, f64::min);
    let over = rows.iter().filter(|r| r.bridge > r.bound).count();
    println!();
    println!(
        "summary (steady state, warm-up rows excluded): {} cycles, {:.1} changed/cycle; bridge {:.1} Nexus \
         requests/cycle, naive poller {:.1}/cycle; ratio naive/bridge {:.1}x (worst cycle {:.1}x); \
         bridge over the delta bound in {over} of {} cycles",
        rows.len(),
        changed as f64 / cycles,
        bridge as f64 / cycles,
        naive as f64 / cycles,
        naive as f64 / bridge.max(1) as f64,
        if worst.is_finite() { worst } else { 0.0 },
        rows.len(),
    );
    let all = warm_up.iter().chain(&rows);
    let (bridge_all, naive_all) = all.fold((0, 0), |(b, n), r| (b + r.bridge, n + r.naive));
    println!(
        "with the warm-up rows: bridge {bridge_all}, naive {naive_all} Nexus requests, ratio {:.1}x",
        naive_all as f64 / bridge_all.max(1) as f64
    );
    if changes.driver_actions > 0 {
        println!("note: the lifecycle driver applied {} scans of its own during the cycles", changes.driver_actions);
    }
    if let Some(first) = changes.step_failures.first() {
        println!("note: {} steps refused, first: {first}", changes.step_failures.len());
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// The changes the benchmark makes on Nexus, cycle after cycle.
struct Changes {
    per_cycle: usize,
    /// The next consignment to step (round robin over all of them).
    next: usize,
    /// Scans the lifecycle driver made itself (none expected: every leg is manual).
    driver_actions: usize,
    step_failures: Vec<String>,
}

impl Changes {
    /// One cycle of simulated time: steps `per_cycle` consignments one stage on, spread evenly over
    /// the cycle, and moves the bridge's clock to its end. Answers how many were stepped.
    fn make(&mut self, world: &World, ids: &[u64]) -> usize {
        let sim = world.nexus.handle();
        let mut changed = 0;
        let mut tried = 0;
        let mut elapsed = 0;
        while changed < self.per_cycle && tried < ids.len() {
            let id = ids[self.next % ids.len()];
            self.next += 1;
            tried += 1;
            let Some(stage) = sim.status_of(id).and_then(next_stage) else { continue };
            // The k-th change of the cycle happens k/per_cycle of the way through it.
            let at = (changed as u64 + 1) * CYCLE_SECONDS / self.per_cycle as u64;
            self.driver_actions += sim.advance(Duration::from_secs(at - elapsed));
            elapsed = at;
            match sim.step(id, stage) {
                Ok(_) => changed += 1,
                Err(err) => self.step_failures.push(format!("{id} to {stage}: {err}")),
            }
        }
        self.driver_actions += world.advance(Duration::from_secs(CYCLE_SECONDS - elapsed));
        changed
    }
}

/// One cycle: the bridge's status sync, then the naive poller, each counted on the simulator.
async fn measure(
    world: &World,
    naive_client: &NexusClient,
    ids: &[u64],
    cycle: &str,
    changed: usize,
    page_size: u64,
) -> Result<Row, String> {
    let before = world.nexus_requests();
    let report = sync_statuses(&world.bridge, &SyncOptions::unbounded()).await.map_err(|e| e.to_string())?;
    let bridge = world.nexus_requests() - before;
    if !report.problems.is_empty() {
        eprintln!("cycle {cycle}: {} problems, first: {}", report.problems.len(), report.problems[0]);
    }

    let before = world.nexus_requests();
    naive_poll(naive_client, ids).await?;
    let naive = world.nexus_requests() - before;

    let listed = u64::from(report.listed);
    let reads = u64::from(report.consignments_read) + u64::from(report.retried);
    // ceil(listed / page size) + 1 (the last, short or empty, page) + one events read per
    // consignment read.
    let bound = listed.div_ceil(page_size) + 1 + reads;
    Ok(Row { cycle: cycle.to_owned(), changed, listed, reads, applied: report.events_applied, bridge, bound, naive })
}

/// The naive poller: `GET …/events` of every followed consignment, every cycle.
async fn naive_poll(client: &NexusClient, ids: &[u64]) -> Result<(), String> {
    for id in ids {
        let id = i64::try_from(*id).map_err(|e| e.to_string())?;
        client.events(NexusConsignmentId(id)).await.map_err(|e| format!("naive poller: {e}"))?;
    }
    Ok(())
}

/// Books `count` consignments for delivery in our depot's area, spread over the other depots.
pub(crate) async fn book(world: &World, count: usize) -> Result<Vec<u64>, String> {
    book_from(world, 0..count, None).await
}

/// Books consignments numbered `numbers`, collected on `due` (the simulator's first day if `None`).
pub(crate) async fn book_from(
    world: &World,
    numbers: std::ops::Range<usize>,
    due: Option<jiff::civil::Date>,
) -> Result<Vec<u64>, String> {
    let base_url = world.nexus.base_url();
    let clients: Vec<NexusClient> =
        BOOKERS.iter().map(|(depot, ..)| depot_user(&base_url, depot, quick_retries())).collect();
    let mut ids = Vec::with_capacity(numbers.len());
    for i in numbers {
        let which = i % BOOKERS.len();
        let (depot, customer, network) = BOOKERS[which];
        let mut body = simple_booking(customer, network, &format!("BENCH-{i:05}"), POSTCODES[i % POSTCODES.len()], 1);
        if let Some(due) = due {
            body.collection_info.due_date = due;
        }
        let booked =
            clients[which].create_consignment(&body).await.map_err(|e| format!("booking {i} by {depot}: {e}"))?;
        ids.push(u64::try_from(booked.consignment_id).map_err(|e| e.to_string())?);
    }
    Ok(ids)
}

/// The next stage of a consignment's journey, or `None` once it is finished.
pub(crate) fn next_stage(status: &str) -> Option<Stage> {
    Some(match status {
        "BKD" | "MAN" => Stage::Collected,
        "COL" => Stage::AtCollectingDepot,
        "ACD" => Stage::TrunkedToHub,
        "THB" => Stage::AtHub,
        "AHB" => Stage::DepartedHub,
        "DHB" => Stage::AtDeliveryDepot,
        "ADD" | "HLD" => Stage::OutForDelivery,
        "OFD" => Stage::Delivered,
        _ => return None,
    })
}
