//! Status run: how long one status-sync run takes at scale, and what it sends, with today's
//! behaviour and the new defaults side by side on identical changes, from one run of the benchmark.
//!
//! - **old**: `STATUS_SYNC_CONCURRENCY=1`, `QARGO_UPDATE_BATCH=1` — one consignment after another,
//!   one Qargo call per update (the request pattern before concurrency and batching);
//! - **new**: the defaults (8 consignments at once, up to 25 updates per Qargo call).
//!
//! One Nexus simulator holds the N active consignments and makes the changes; two bridges follow
//! it, each with its own store, clock and Qargo simulator, so both read the very same changes
//! (the status sync only reads Nexus). Each Qargo simulator sits behind a small proxy that notes,
//! for every status-update call, the barcodes it carried and when Qargo's answer came back: the
//! *scan-to-Qargo* time of a scan is measured from the run's start to that answer (the run part of
//! the latency bench; the schedule wait before the run is the same for both sides and left out).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge::clock::{Clock, ManualClock};
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::status_sync::{StatusReport, SyncOptions, sync_statuses};
use bridge::nexus::NexusClient;
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::wiring::{Bridge, ClientTuning};

use crate::latency::{mean, ms, percentile};
use crate::poll::{BOOKERS, POSTCODES, next_stage};
use crate::qargo_proxy::StatusProxy;
use crate::world::{OUR_DEPOT, depot_user, quick_retries, simple_booking};

/// The status-update webhook's route in the Qargo simulator's request log.
const STATUS_ROUTE: &str = crate::qargo_proxy::STATUS_ROUTE;

/// The benchmark's parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Active consignments followed for our depot.
    pub consignments: usize,
    /// Measured cycles (after a catch-up run and a warm-up cycle without latency).
    pub cycles: usize,
    /// Share of the consignments that change per cycle, in percent.
    pub change_percent: f64,
    /// Consignment i has `1 + i % max_pallets` pallets.
    pub max_pallets: usize,
    /// Latency the Nexus simulator adds to every request.
    pub nexus_latency: Duration,
    /// Latency the Qargo simulators add to every request.
    pub qargo_latency: Duration,
    /// The poller's schedule (`PollIntervalMinutes`): simulated time per cycle.
    pub interval: Duration,
    /// Each run's time budget (`SyncOptions::within`): past it a run starts no new consignment and
    /// carries the rest over.
    pub deadline: Duration,
    /// A Nexus per-user limit a minute: the simulator keeps it in the measured cycles, "old" sends
    /// unpaced (`NEXUS_REQUESTS_PER_MINUTE=0`) and "new" paces to it; both with the defaults
    /// otherwise and production retries, each run after the simulator's minute window is clear.
    pub nexus_budget: Option<u32>,
}

/// One bridge following the Nexus simulator, with its own Qargo simulator.
struct Side {
    name: &'static str,
    settings: String,
    bridge: Arc<Bridge>,
    clock: ManualClock,
    qargo: qargo_sim::RunningSim,
    proxy: StatusProxy,
}

/// One side's measured run.
struct Run {
    took: Duration,
    nexus_requests: u64,
    qargo_calls: usize,
    qargo_updates: usize,
    report: StatusReport,
    /// Scan-to-Qargo times of the cycle's scans that reached Qargo in this run.
    latencies: Vec<Duration>,
    /// The cycle's scans that did not reach Qargo in this run (carried over).
    missing: usize,
    /// The Qargo simulator's own time per status-update call, from arrival to answer (its request
    /// log), the injected latency left out: its handling, and its wait for its one lock.
    qargo_handling: Vec<Duration>,
    /// Nexus's 429 answers during the run.
    nexus_429: u64,
    /// Why the run failed, if it did.
    failed: Option<String>,
}

/// Runs the benchmark and prints its tables.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    let nexus =
        nexus_sim::NexusSim::start(nexus_sim::SimOptions::default()).await.map_err(|e| format!("Nexus sim: {e}"))?;
    nexus.handle().set_rate_limit(0);
    // Freeze the lifecycle driver on every leg involved: the benchmark decides what changes.
    let manual: Vec<&str> = BOOKERS.iter().map(|(depot, ..)| *depot).chain([OUR_DEPOT]).collect();
    nexus.handle().set_manual_depots(&manual);
    let budget = params.nexus_budget.map(|n| n.to_string());
    let sides = match &budget {
        None => [
            side(&nexus, "old", &[("STATUS_SYNC_CONCURRENCY", "1"), ("QARGO_UPDATE_BATCH", "1")], quick_retries())
                .await?,
            side(&nexus, "new", &[], quick_retries()).await?,
        ],
        // Both unpaced until the measured cycles (the catch-up reads every consignment).
        Some(_) => [
            side(&nexus, "old", &[("NEXUS_REQUESTS_PER_MINUTE", "0")], bridge::http::RetryPolicy::default()).await?,
            side(&nexus, "new", &[("NEXUS_REQUESTS_PER_MINUTE", "0")], bridge::http::RetryPolicy::default()).await?,
        ],
    };
    let mut sides = sides;

    let ids = book(&nexus, params.consignments, params.max_pallets.max(1)).await?;
    eprintln!("booked {} consignments in {:.1?}", ids.len(), started.elapsed());
    let mut barcodes: HashMap<u64, Vec<String>> = HashMap::new();
    for id in &ids {
        let json = nexus.handle().consignment_json(*id).ok_or_else(|| format!("consignment {id} not on Nexus"))?;
        let pallets = json["pallets"].as_array().cloned().unwrap_or_default();
        let codes = pallets.iter().filter_map(|p| p["barcode"].as_str().map(str::to_owned)).collect();
        barcodes.insert(*id, codes);
    }
    for side in &sides {
        let imported = import_orders(&side.bridge, &ImportOptions::unbounded()).await.map_err(|e| format!("{e}"))?;
        eprintln!(
            "{}: imported {} orders into its Qargo in {:.1?}",
            side.name,
            imported.total(|n| n.created),
            started.elapsed()
        );
    }

    let per_cycle = ((ids.len() as f64 * params.change_percent / 100.0).round() as usize).clamp(1, ids.len());
    let pallets: usize = ids.iter().map(|id| barcodes[id].len()).sum();
    println!(
        "status-run: {} active consignments for {OUR_DEPOT} ({pallets} pallets, 1 to {} per consignment), {per_cycle} \
         changed per cycle ({}%) over {} s, Nexus latency {} ms, Qargo latency {} ms, run budget {} s, {} measured \
         cycles, {} build, {} CPUs",
        ids.len(),
        params.max_pallets.max(1),
        params.change_percent,
        params.interval.as_secs(),
        params.nexus_latency.as_millis(),
        params.qargo_latency.as_millis(),
        params.deadline.as_secs(),
        params.cycles,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    for side in &sides {
        println!("  {}: {}", side.name, side.settings);
    }
    println!();

    // Catch-up and warm-up without latency, not measured (see the latency bench): they read every
    // consignment once or twice, which is not the steady state.
    let mut changes = Changes { per_cycle, next: 0, interval: params.interval, step_failures: Vec::new() };
    advance(&nexus, &sides, params.interval);
    for side in &sides {
        sync(side, SyncOptions::unbounded()).await?;
    }
    changes.make(&nexus, &sides, &ids, &barcodes);
    for side in &sides {
        sync(side, SyncOptions::unbounded()).await?;
    }
    eprintln!("caught up and warmed up in {:.1?}", started.elapsed());

    nexus.handle().set_latency(params.nexus_latency, Duration::ZERO);
    if let Some(per_minute) = params.nexus_budget {
        // "new" paces its Nexus user from here on.
        let mut paced = (*sides[1].bridge).clone();
        paced.settings.nexus_requests_per_minute = per_minute;
        paced.nexus = bridge::nexus::NexusClients::paced(
            &paced.settings.nexus_base_url,
            &paced.secrets,
            bridge::http::RetryPolicy::default(),
            per_minute,
            None,
        );
        sides[1].bridge = Arc::new(paced);
        sides[1].settings = sides[1]
            .settings
            .replace("NEXUS_REQUESTS_PER_MINUTE=0", &format!("NEXUS_REQUESTS_PER_MINUTE={per_minute}"));
        nexus.handle().set_rate_limit(per_minute);
        println!(
            "measured cycles: the Nexus simulator limits each user to {per_minute} requests a minute; new paces its \
             user to it (NEXUS_REQUESTS_PER_MINUTE={per_minute}), old sends unpaced (NEXUS_REQUESTS_PER_MINUTE=0); \
             production retries on both"
        );
        println!();
    }
    for side in &sides {
        side.qargo.handle.set_faults(qargo_sim::Faults {
            latency_ms: params.qargo_latency.as_millis() as u64,
            ..qargo_sim::Faults::default()
        });
    }

    println!(
        "| cycle | side | changed | scans made | run (s) | Nexus requests | Qargo requests | updates sent | scans applied \
         | stop statuses | left for next run | scan-to-Qargo p50 (ms) | p95 (ms) | max (ms) |"
    );
    println!(
        "|------:|:-----|--------:|-----------:|--------:|---------------:|---------------:|-------------:|-------------:|\
         --------------:|------------------:|-----------------------:|---------:|---------:|"
    );
    let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    for cycle in 1..=params.cycles {
        let (changed, scans) = changes.make(&nexus, &sides, &ids, &barcodes);
        // Alternate which side runs first, so that neither always has the machine's warmer moment.
        let order: [usize; 2] = if cycle % 2 == 1 { [0, 1] } else { [1, 0] };
        for index in order {
            let side = &sides[index];
            if params.nexus_budget.is_some() {
                // Each side's run starts with the simulator's minute window clear of the other's.
                tokio::time::sleep(Duration::from_secs(61)).await;
            }
            let run = measure(&nexus, side, &scans, params.deadline).await?;
            print_row(cycle, side.name, changed, scans.len(), &run);
            runs[index].push(run);
        }
    }

    println!();
    println!(
        "| side | runs | run mean (s) | run max (s) | Nexus req/run | Qargo req/run | updates/run | scans applied/run \
         | Qargo req per scan | scan-to-Qargo p50 / p95 / max (ms) | Qargo sim's own time per call p50 / max (ms) \
         | runs complete |"
    );
    println!(
        "|:-----|-----:|-------------:|------------:|--------------:|--------------:|------------:|------------------:|\
         -------------------:|-----------------------------------:|---------------------------------------------:|\
         --------------:|"
    );
    for (side, runs) in sides.iter().zip(&runs) {
        let count = runs.len().max(1) as f64;
        let took: Vec<Duration> = runs.iter().map(|r| r.took).collect();
        let latencies: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        let calls: usize = runs.iter().map(|r| r.qargo_calls).sum();
        let scans: u32 = runs.iter().map(|r| r.report.events_applied).sum();
        let handling: Vec<Duration> = runs.iter().flat_map(|r| r.qargo_handling.iter().copied()).collect();
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0} / {:.0} / {:.0} | {:.1} / {:.1} | \
             {} of {} |",
            side.name,
            runs.len(),
            mean(&took).as_secs_f64(),
            took.iter().max().copied().unwrap_or_default().as_secs_f64(),
            runs.iter().map(|r| r.nexus_requests).sum::<u64>() as f64 / count,
            calls as f64 / count,
            runs.iter().map(|r| r.qargo_updates).sum::<usize>() as f64 / count,
            f64::from(scans) / count,
            calls as f64 / f64::from(scans.max(1)),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 95.0)),
            ms(percentile(&latencies, 100.0)),
            ms(percentile(&handling, 50.0)),
            ms(percentile(&handling, 100.0)),
            runs.iter().filter(|r| r.report.left_for_next_run == 0).count(),
            runs.len(),
        );
    }
    if params.nexus_budget.is_some() {
        println!();
        println!(
            "| cycle | side | NEXUS_REQUESTS_PER_MINUTE | run (s) | Nexus requests | Nexus 429s | left for next run | budget \
             spent | lag reported (s) | outcome |"
        );
        println!("|---:|:---|---:|---:|---:|---:|---:|:---|---:|:---|");
        for (cycle, pair) in (1..).zip(runs[0].iter().zip(&runs[1])) {
            for (side, run) in sides.iter().zip([pair.0, pair.1]) {
                println!(
                    "| {cycle} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
                    side.name,
                    side.bridge.settings.nexus_requests_per_minute,
                    run.took.as_secs_f64(),
                    run.nexus_requests,
                    run.nexus_429,
                    run.report.left_for_next_run,
                    if run.report.nexus_budget_spent { "yes" } else { "no" },
                    run.report.lag_seconds.map_or("none".to_owned(), |lag| lag.to_string()),
                    run.failed.as_deref().map_or("complete or carried over".to_owned(), |why| {
                        format!("failed: {}", why.chars().take(120).collect::<String>())
                    }),
                );
            }
        }
    }
    println!();
    let [old, new] = &runs;
    let (old_mean, new_mean) =
        (mean(&old.iter().map(|r| r.took).collect::<Vec<_>>()), mean(&new.iter().map(|r| r.took).collect::<Vec<_>>()));
    println!(
        "new against old: run {:.2} s -> {:.2} s ({:.1}x faster); Qargo requests {} -> {}; scans applied {} -> {}",
        old_mean.as_secs_f64(),
        new_mean.as_secs_f64(),
        old_mean.as_secs_f64() / new_mean.as_secs_f64().max(1e-9),
        old.iter().map(|r| r.qargo_calls).sum::<usize>(),
        new.iter().map(|r| r.qargo_calls).sum::<usize>(),
        old.iter().map(|r| r.report.events_applied).sum::<u32>(),
        new.iter().map(|r| r.report.events_applied).sum::<u32>(),
    );
    let missing: usize = runs.iter().flatten().map(|r| r.missing).sum();
    if missing > 0 {
        println!("note: {missing} scans were not in Qargo at the end of their cycle's run (carried over)");
    }
    let problems: usize = runs.iter().flatten().map(|r| r.report.problems.len()).sum();
    if problems > 0 {
        println!("note: the runs reported {problems} problems (see stderr)");
    }
    if let Some(first) = changes.step_failures.first() {
        println!("note: {} steps refused, first: {first}", changes.step_failures.len());
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// A bridge over the Nexus simulator with its own Qargo simulator (behind a [`StatusProxy`]) and
/// in-memory store; `more` are its extra settings.
async fn side(
    nexus: &nexus_sim::RunningSim,
    name: &'static str,
    more: &[(&'static str, &str)],
    retry: bridge::http::RetryPolicy,
) -> Result<Side, String> {
    let mut options = qargo_sim::SimOptions { limits: qargo_sim::Limits::off(), ..Default::default() };
    options.strict_unknown_keys = true;
    options.seed.customers.push(bridge_local::shared_customer());
    let qargo = qargo_sim::QargoSim::start(options).await.map_err(|e| format!("Qargo sim: {e}"))?;
    let proxy = StatusProxy::start(&qargo.base_url()).await?;
    let more: Vec<(&str, String)> = more.iter().map(|(name, value)| (*name, (*value).to_owned())).collect();
    let (settings, secrets) =
        bridge_local::simulator_settings(&nexus.base_url(), &proxy.base_url(), &format!("{OUR_DEPOT}:zpl"), &more)
            .await?;
    let described = format!(
        "STATUS_SYNC_CONCURRENCY={}, QARGO_UPDATE_BATCH={}, NEXUS_REQUESTS_PER_MINUTE={}",
        settings.status_sync_concurrency, settings.qargo_update_batch, settings.nexus_requests_per_minute
    );
    let clock = ManualClock::new(bridge_local::SimulatorClock(nexus.handle().clone()).now());
    let bridge = Bridge::assemble_tuned(
        settings,
        secrets,
        Arc::new(MemoryStore::in_memory()),
        Arc::new(MemoryDocuments::default()),
        Arc::new(clock.clone()),
        ClientTuning { retry, qargo_requests_per_second: 1000.0, shared_budgets: false },
    );
    Ok(Side { name, settings: described, bridge: Arc::new(bridge), clock, qargo, proxy })
}

/// Moves the Nexus simulator's clock and both bridges' with it.
fn advance(nexus: &nexus_sim::RunningSim, sides: &[Side], by: Duration) {
    nexus.handle().advance(by);
    let now = bridge_local::SimulatorClock(nexus.handle().clone()).now();
    for side in sides {
        side.clock.set(now);
    }
}

/// One unmeasured run.
async fn sync(side: &Side, options: SyncOptions) -> Result<StatusReport, String> {
    let report = sync_statuses(&side.bridge, &options).await.map_err(|e| format!("{}: {e}", side.name))?;
    if let Some(first) = report.problems.first() {
        eprintln!("{}: {} problems, first: {first}", side.name, report.problems.len());
    }
    Ok(report)
}

/// One measured run of `side` after a cycle whose scans were on `scans` (barcodes).
async fn measure(
    nexus: &nexus_sim::RunningSim,
    side: &Side,
    scans: &[String],
    budget: Duration,
) -> Result<Run, String> {
    let calls_from = side.proxy.calls_made();
    let log_from = side.qargo.handle.request_log().len();
    let refused = |counts: nexus_sim::RequestCounts| -> u64 {
        counts.routes.iter().filter_map(|route| route.statuses.get(&429)).sum()
    };
    let nexus_before = nexus.handle().request_counts().total;
    let refused_before = refused(nexus.handle().request_counts());
    let started = Instant::now();
    let (report, failed) = match sync(side, SyncOptions::within(budget)).await {
        Ok(report) => (report, None),
        Err(reason) => (StatusReport::default(), Some(reason)),
    };
    let took = started.elapsed();
    let nexus_requests = nexus.handle().request_counts().total - nexus_before;
    let nexus_429 = refused(nexus.handle().request_counts()) - refused_before;
    let calls = side.proxy.calls_since(calls_from);
    let injected = Duration::from_millis(side.qargo.handle.faults().latency_ms);
    let qargo_handling: Vec<Duration> = side
        .qargo
        .handle
        .request_log()
        .iter()
        .skip(log_from)
        .filter(|record| record.route == STATUS_ROUTE)
        .map(|record| record.took.saturating_sub(injected))
        .collect();
    let mut held: HashMap<&str, Instant> = HashMap::new();
    for call in &calls {
        for barcode in &call.barcodes {
            let at = held.entry(barcode.as_str()).or_insert(call.answered);
            *at = (*at).max(call.answered);
        }
    }
    let mut latencies = Vec::with_capacity(scans.len());
    let mut missing = 0;
    for barcode in scans {
        match held.get(barcode.as_str()) {
            Some(at) => latencies.push(at.saturating_duration_since(started)),
            None => missing += 1,
        }
    }
    Ok(Run {
        took,
        nexus_requests,
        qargo_calls: calls.len(),
        qargo_updates: calls.iter().map(|c| c.updates).sum(),
        report,
        latencies,
        missing,
        qargo_handling,
        nexus_429,
        failed,
    })
}

fn print_row(cycle: usize, side: &str, changed: usize, scans: usize, run: &Run) {
    println!(
        "| {:>5} | {:<4} | {:>7} | {:>10} | {:>7.2} | {:>14} | {:>14} | {:>12} | {:>12} | {:>13} | {:>17} | {:>22.0} | \
         {:>8.0} | {:>8.0} |",
        cycle,
        side,
        changed,
        scans,
        run.took.as_secs_f64(),
        run.nexus_requests,
        run.qargo_calls,
        run.qargo_updates,
        run.report.events_applied,
        run.report.stop_statuses_set,
        run.report.left_for_next_run,
        ms(percentile(&run.latencies, 50.0)),
        ms(percentile(&run.latencies, 95.0)),
        ms(percentile(&run.latencies, 100.0)),
    );
}

/// Books `count` consignments for delivery in our depot's area, spread over the other depots,
/// consignment i with `1 + i % max_pallets` pallets.
async fn book(nexus: &nexus_sim::RunningSim, count: usize, max_pallets: usize) -> Result<Vec<u64>, String> {
    let base_url = nexus.base_url();
    let clients: Vec<NexusClient> =
        BOOKERS.iter().map(|(depot, ..)| depot_user(&base_url, depot, quick_retries())).collect();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let which = i % BOOKERS.len();
        let (depot, customer, network) = BOOKERS[which];
        let pallets = 1 + i % max_pallets;
        let body = simple_booking(customer, network, &format!("RUN-{i:06}"), POSTCODES[i % POSTCODES.len()], pallets);
        let booked =
            clients[which].create_consignment(&body).await.map_err(|e| format!("booking {i} by {depot}: {e}"))?;
        ids.push(u64::try_from(booked.consignment_id).map_err(|e| e.to_string())?);
        if (i + 1) % 10_000 == 0 {
            eprintln!("booked {}", i + 1);
        }
    }
    Ok(ids)
}

/// The benchmark's changes on Nexus, cycle after cycle.
struct Changes {
    per_cycle: usize,
    next: usize,
    interval: Duration,
    step_failures: Vec<String>,
}

impl Changes {
    /// One interval of simulated time: steps `per_cycle` consignments one stage on (round robin),
    /// spread evenly over it, and moves the clocks to its end. Answers how many changed and the
    /// barcodes scanned (one scan per pallet of each).
    fn make(
        &mut self,
        nexus: &nexus_sim::RunningSim,
        sides: &[Side],
        ids: &[u64],
        barcodes: &HashMap<u64, Vec<String>>,
    ) -> (usize, Vec<String>) {
        let sim = nexus.handle();
        let mut changed = 0;
        let mut scans = Vec::new();
        let mut tried = 0;
        let mut elapsed = Duration::ZERO;
        while changed < self.per_cycle && tried < ids.len() {
            let id = ids[self.next % ids.len()];
            self.next += 1;
            tried += 1;
            let Some(stage) = sim.status_of(id).and_then(next_stage) else { continue };
            let at =
                Duration::from_secs((2 * changed as u64 + 1) * self.interval.as_secs() / (2 * self.per_cycle as u64));
            sim.advance(at.saturating_sub(elapsed));
            elapsed = elapsed.max(at);
            match sim.step(id, stage) {
                Ok(_) => {
                    changed += 1;
                    scans.extend(barcodes[&id].iter().cloned());
                }
                Err(err) => self.step_failures.push(format!("{id} to {stage}: {err}")),
            }
        }
        advance(nexus, sides, self.interval.saturating_sub(elapsed));
        (changed, scans)
    }
}
