//! Scan-to-Qargo latency: from the moment a scan is recorded on Nexus to the moment the Qargo
//! simulator holds it in the barcode's history, when the status poller runs on its schedule, with
//! simulated latency on both APIs.
//!
//! The latency of a scan has two parts:
//!
//! - **schedule wait**: from the scan to the start of the next poll run. The poller runs every
//!   `PollIntervalMinutes` (2 by default); the scans of a cycle are spread evenly over the
//!   interval, so the k-th of n waits `interval × (1 − (k + ½) / n)` (in whole seconds, as the
//!   Nexus simulator's clock). The interval passes on the
//!   simulators' clocks, not in wall time (the schedule is compressed): this part is computed from
//!   each scan's place in the interval.
//! - **run part**: measured in wall time, from the moment the scan is recorded on the Nexus
//!   simulator to the moment the Qargo simulator's answer to the status-update call carrying it
//!   came back (noted by a proxy in front of the simulator, [`crate::qargo_proxy`]: a call may
//!   carry several updates, and several calls run at once). It holds the few milliseconds between
//!   the scan and the run's start, then the run up to that update.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::status_sync::{StatusReport, SyncOptions, sync_statuses};

use crate::poll::{BOOKERS, book, next_stage};
use crate::world::{OUR_DEPOT, Setup, World};

/// The benchmark's parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Active consignments, one world each.
    pub sizes: Vec<usize>,
    /// Measured cycles per size.
    pub cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    pub change_percent: f64,
    /// Latency the Nexus simulator adds to every request.
    pub nexus_latency: Duration,
    /// Latency the Qargo simulator adds to every request.
    pub qargo_latency: Duration,
    /// The poller's schedule (`PollIntervalMinutes`).
    pub interval: Duration,
}

/// One scan made by the benchmark.
struct Scan {
    barcode: String,
    /// Time from the scan to the next run's start, on the schedule.
    wait: Duration,
    /// When it was recorded on the Nexus simulator (wall time).
    recorded: Instant,
}

/// What one size gave.
struct SizeResult {
    consignments: usize,
    per_cycle: usize,
    runs: Vec<Duration>,
    nexus_requests: Vec<u64>,
    run_part: Vec<Duration>,
    wait: Vec<Duration>,
    total: Vec<Duration>,
    missing: usize,
}

/// Runs the benchmark for every size and prints the tables and summary.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    println!(
        "scan-to-qargo latency: Nexus latency {} ms, Qargo latency {} ms, poll interval {} s (compressed: the \
         interval passes on the simulators' clocks), {}% of the consignments changed per cycle, {} cycles per size, \
         Nexus per-minute limit off, {} build, {} CPUs",
        params.nexus_latency.as_millis(),
        params.qargo_latency.as_millis(),
        params.interval.as_secs(),
        params.change_percent,
        params.cycles,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "| consignments | cycle | changed | listed | events reads | re-reads | Nexus requests | status updates | run (s) \
         | run part p50 (ms) | p95 (ms) | max (ms) |"
    );
    println!(
        "|-------------:|------:|--------:|-------:|-------------:|---------:|---------------:|---------------:|\
         --------:|------------------:|---------:|---------:|"
    );
    let mut results = Vec::new();
    for &size in &params.sizes {
        results.push(measure_size(&params, size).await?);
    }

    println!();
    println!(
        "| consignments | changed/cycle | scans | run mean (s) | run max (s) | Nexus req/run | run part p50 / p95 / max \
         (ms) | schedule wait p50 / p95 / max (s) | total p50 / p95 / max (s) |"
    );
    println!(
        "|-------------:|--------------:|------:|-------------:|------------:|--------------:|\
         ----------------------------:|----------------------------------:|--------------------------:|"
    );
    for r in &results {
        println!(
            "| {:>12} | {:>13} | {:>5} | {:>12.2} | {:>11.2} | {:>13.1} | {:>8.0} / {:>6.0} / {:>6.0} | {:>10.1} / \
             {:>5.1} / {:>5.1} | {:>7.1} / {:>5.1} / {:>5.1} |",
            r.consignments,
            r.per_cycle,
            r.total.len(),
            mean(&r.runs).as_secs_f64(),
            r.runs.iter().max().copied().unwrap_or_default().as_secs_f64(),
            r.nexus_requests.iter().sum::<u64>() as f64 / r.nexus_requests.len().max(1) as f64,
            ms(percentile(&r.run_part, 50.0)),
            ms(percentile(&r.run_part, 95.0)),
            ms(percentile(&r.run_part, 100.0)),
            percentile(&r.wait, 50.0).as_secs_f64(),
            percentile(&r.wait, 95.0).as_secs_f64(),
            percentile(&r.wait, 100.0).as_secs_f64(),
            percentile(&r.total, 50.0).as_secs_f64(),
            percentile(&r.total, 95.0).as_secs_f64(),
            percentile(&r.total, 100.0).as_secs_f64(),
        );
        if r.missing > 0 {
            println!("note: {} scans of {} consignments never reached Qargo in their cycle", r.missing, r.consignments);
        }
    }
    println!();
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && results.len() > 1
    {
        println!(
            "growth {} -> {} consignments ({:.1}x): mean run {:.2} s -> {:.2} s ({:.1}x), run part p95 {:.0} ms -> {:.0} \
             ms ({:.1}x), total p95 {:.1} s -> {:.1} s",
            small.consignments,
            large.consignments,
            large.consignments as f64 / small.consignments.max(1) as f64,
            mean(&small.runs).as_secs_f64(),
            mean(&large.runs).as_secs_f64(),
            mean(&large.runs).as_secs_f64() / mean(&small.runs).as_secs_f64().max(1e-9),
            ms(percentile(&small.run_part, 95.0)),
            ms(percentile(&large.run_part, 95.0)),
            ms(percentile(&large.run_part, 95.0)) / ms(percentile(&small.run_part, 95.0)).max(1e-9),
            percentile(&small.total, 95.0).as_secs_f64(),
            percentile(&large.total, 95.0).as_secs_f64(),
        );
    }
    for r in &results {
        let per_run = r.nexus_requests.iter().copied().max().unwrap_or(0);
        // The simulator's limit: 100 requests in any rolling 60 s per user; a run starting with an
        // empty window sends 100 at once, then waits for the window for each further 100.
        let waits = per_run.saturating_sub(1) / 100 * 60;
        let allowance = 100 * params.interval.as_secs() / 60;
        println!(
            "computed, not measured: with Nexus's 100 requests/min per user, a run of {per_run} requests ({} \
             consignments) takes {:.0}% of the user's {allowance} requests per {} s interval, and waits at least \
             {waits} s for the rolling minute (0 while a run stays within 100 requests, if nothing else used the \
             minute); the order import and the POD sync use the same user",
            r.consignments,
            100.0 * per_run as f64 / allowance.max(1) as f64,
            params.interval.as_secs(),
        );
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// One world of `size` consignments: booking and import, a catch-up run and a warm-up cycle (both
/// without latency, not measured), then the measured cycles with latency on.
async fn measure_size(params: &Params, size: usize) -> Result<SizeResult, String> {
    let started = Instant::now();
    let world = World::start_with(Setup { qargo_proxy: true, ..Setup::default() }).await?;
    let proxy = world.qargo_proxy.as_ref().ok_or("no proxy in front of the Qargo simulator")?;
    let manual: Vec<&str> = BOOKERS.iter().map(|(depot, ..)| *depot).chain([OUR_DEPOT]).collect();
    world.nexus.handle().set_manual_depots(&manual);
    let ids = book(&world, size).await?;
    import_orders(&world.bridge, &ImportOptions::unbounded()).await.map_err(|e| format!("{e}"))?;
    let mut barcodes = HashMap::new();
    for id in &ids {
        let json =
            world.nexus.handle().consignment_json(*id).ok_or_else(|| format!("consignment {id} not on Nexus"))?;
        let barcode = json["pallets"][0]["barcode"].as_str().ok_or_else(|| format!("consignment {id}: no barcode"))?;
        barcodes.insert(*id, barcode.to_owned());
    }
    eprintln!("{size}: booked and imported in {:.1?}", started.elapsed());

    let per_cycle = ((ids.len() as f64 * params.change_percent / 100.0).round() as usize).clamp(1, ids.len());
    let mut changes = Changes { per_cycle, next: 0, interval: params.interval };
    // Catch-up and warm-up (see poll-efficiency): they read every consignment once or twice, which
    // is not the steady state this benchmark is about.
    world.advance(params.interval);
    run_sync(&world).await?;
    changes.make(&world, &ids, &barcodes);
    run_sync(&world).await?;

    world.nexus.handle().set_latency(params.nexus_latency, Duration::ZERO);
    world.qargo.handle.set_faults(qargo_sim::Faults {
        latency_ms: params.qargo_latency.as_millis() as u64,
        ..qargo_sim::Faults::default()
    });

    let mut result = SizeResult {
        consignments: ids.len(),
        per_cycle,
        runs: Vec::new(),
        nexus_requests: Vec::new(),
        run_part: Vec::new(),
        wait: Vec::new(),
        total: Vec::new(),
        missing: 0,
    };
    for cycle in 1..=params.cycles {
        let scans = changes.make(&world, &ids, &barcodes);
        let calls_from = proxy.calls_made();
        let nexus_before = world.nexus_requests();
        let run_started = Instant::now();
        let report = run_sync(&world).await?;
        let run = run_started.elapsed();
        let nexus_requests = world.nexus_requests() - nexus_before;

        // A call may carry several updates (`QARGO_UPDATE_BATCH`): each barcode is held from the
        // answer to the last call that carried it.
        let requests = proxy.calls_since(calls_from);
        let mut held: HashMap<String, Instant> = HashMap::new();
        for request in &requests {
            for barcode in &request.barcodes {
                let entry = held.entry(barcode.clone()).or_insert(request.answered);
                *entry = (*entry).max(request.answered);
            }
        }
        let mut run_part = Vec::new();
        for scan in &scans {
            match held.get(&scan.barcode) {
                Some(at) => {
                    let measured = at.saturating_duration_since(scan.recorded);
                    run_part.push(measured);
                    result.wait.push(scan.wait);
                    result.total.push(scan.wait + measured);
                }
                None => result.missing += 1,
            }
        }
        print_row(size, cycle, scans.len(), &report, nexus_requests, requests.len(), run, &run_part);
        result.runs.push(run);
        result.nexus_requests.push(nexus_requests);
        result.run_part.extend(run_part);
    }
    eprintln!("{size}: done in {:.1?}", started.elapsed());
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
fn print_row(
    size: usize,
    cycle: usize,
    changed: usize,
    report: &StatusReport,
    nexus_requests: u64,
    status_updates: usize,
    run: Duration,
    run_part: &[Duration],
) {
    let reads = report.consignments_read + report.retried;
    println!(
        "| {:>12} | {:>5} | {:>7} | {:>6} | {:>12} | {:>8} | {:>14} | {:>14} | {:>7.2} | {:>18.0} | {:>8.0} | {:>8.0} |",
        size,
        cycle,
        changed,
        report.listed,
        reads,
        (reads as usize).saturating_sub(changed),
        nexus_requests,
        status_updates,
        run.as_secs_f64(),
        ms(percentile(run_part, 50.0)),
        ms(percentile(run_part, 95.0)),
        ms(percentile(run_part, 100.0)),
    );
}

/// One status-sync run, as the scheduled function makes it.
async fn run_sync(world: &World) -> Result<StatusReport, String> {
    let report = sync_statuses(&world.bridge, &SyncOptions::unbounded()).await.map_err(|e| e.to_string())?;
    if let Some(first) = report.problems.first() {
        eprintln!("{} problems, first: {first}", report.problems.len());
    }
    Ok(report)
}

/// The benchmark's changes on Nexus, cycle after cycle.
struct Changes {
    per_cycle: usize,
    next: usize,
    interval: Duration,
}

impl Changes {
    /// One interval of simulated time: steps `per_cycle` consignments one stage on (round robin),
    /// the k-th at `(k + ½) / per_cycle` of the interval (whole seconds), and moves the clocks to its
    /// end. Answers the scans made.
    fn make(&mut self, world: &World, ids: &[u64], barcodes: &HashMap<u64, String>) -> Vec<Scan> {
        let sim = world.nexus.handle();
        let mut scans = Vec::new();
        let mut tried = 0;
        let mut elapsed = Duration::ZERO;
        while scans.len() < self.per_cycle && tried < ids.len() {
            let id = ids[self.next % ids.len()];
            self.next += 1;
            tried += 1;
            let Some(stage) = sim.status_of(id).and_then(next_stage) else { continue };
            // The simulator's clock holds whole seconds: so do the scans' places in the interval.
            let at = Duration::from_secs(
                (2 * scans.len() as u64 + 1) * self.interval.as_secs() / (2 * self.per_cycle as u64),
            );
            sim.advance(at.saturating_sub(elapsed));
            elapsed = elapsed.max(at);
            if sim.step(id, stage).is_ok() {
                let recorded = Instant::now();
                scans.push(Scan { barcode: barcodes[&id].clone(), wait: self.interval - at, recorded });
            }
        }
        world.advance(self.interval.saturating_sub(elapsed));
        scans
    }
}

/// The `p`-th percentile (nearest rank) of `values`; zero when empty.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The mean of `values`; zero when empty.
pub fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / values.len() as u32
}

/// Milliseconds, as a float.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
