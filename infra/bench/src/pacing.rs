//! Qargo pacing: the order import of many consignments, with the Qargo simulator's real limits on
//! (2 requests/s sustained with bursts of 3 on the OAuth API, 5 token calls an hour) and the
//! bridge's production Qargo client (2 requests/s pacer, production retries). Every figure comes
//! from the Qargo simulator's own request log.

use std::time::{Duration, Instant};

use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::wiring::ClientTuning;
use qargo_sim::{Limits, RequestRecord};

use crate::poll::{BOOKERS, book};
use crate::world::{OUR_DEPOT, Setup, World};

/// The order-poll function's timeout in template.yaml: each run gets this long, as in the cloud.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// The benchmark's parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Consignments other depots book for us before the import.
    pub consignments: usize,
    /// `QARGO_ORDER_DOOR`: `webhook` (the default) or `upload`.
    pub door: String,
}

/// Runs the import until nothing is left and prints what the Qargo simulator saw.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    let world = World::start_with(Setup {
        qargo_limits: Limits::qargo(),
        tuning: ClientTuning::default(),
        more_settings: vec![("QARGO_ORDER_DOOR", params.door.clone())],
        ..Setup::default()
    })
    .await?;
    let manual: Vec<&str> = BOOKERS.iter().map(|(depot, ..)| *depot).chain([OUR_DEPOT]).collect();
    world.nexus.handle().set_manual_depots(&manual);
    let ids = book(&world, params.consignments).await?;
    eprintln!("booked {} consignments for {OUR_DEPOT} in {:.1?}", ids.len(), started.elapsed());
    world.qargo.handle.reset_request_counts();

    let import_started = Instant::now();
    let mut runs = 0;
    let (mut created, mut duplicates) = (0, 0);
    let mut rejected;
    loop {
        runs += 1;
        let report = import_orders(&world.bridge, &ImportOptions::within(RUN_TIMEOUT))
            .await
            .map_err(|e| format!("import run {runs}: {e}"))?;
        let new = report.total(|n| n.created) + report.total(|n| n.duplicates);
        created += report.total(|n| n.created);
        duplicates += report.total(|n| n.duplicates);
        rejected = report.rejected().count();
        eprintln!("run {runs}: {new} orders in {:.1?}", import_started.elapsed());
        if new == 0 || runs >= 10 {
            break;
        }
    }
    let wall = import_started.elapsed();
    let log = world.qargo.handle.request_log();

    let api: Vec<&RequestRecord> = log.iter().filter(|r| r.auth == "oauth").collect();
    let tokens = log.iter().filter(|r| r.route == "/v1/auth/token").count();
    let webhooks: Vec<&RequestRecord> = log.iter().filter(|r| r.route.starts_with("/v1/webhook")).collect();
    let refused = log.iter().filter(|r| r.status == 429).count();
    let all: Vec<&RequestRecord> = log.iter().collect();

    println!(
        "qargo-pacing: {} consignments booked for {OUR_DEPOT} by other depots, QARGO_ORDER_DOOR={}, Qargo simulator \
         limits on (API 2/s sustained, burst 3; token 5/h), production client (pacer 2 requests/s, default \
         retries), {} build, {} CPUs",
        ids.len(),
        params.door,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "import: {runs} run(s) of import_orders (each within {} s), {created} orders created, {duplicates} \
         duplicates, {rejected} rejected, {:.1} s wall time",
        RUN_TIMEOUT.as_secs(),
        wall.as_secs_f64()
    );
    println!();
    println!("| requests | count | max in any 1 s | max in any 10 s | average rate (/s) | 429 answers |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, records) in [
        ("OAuth API (inside Qargo's 2/s)", &api),
        ("webhooks (outside the limit)", &webhooks),
        ("all, token included", &all),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.2} | {} |",
            records.len(),
            most_within(records, Duration::from_secs(1)),
            most_within(records, Duration::from_secs(10)),
            records.len() as f64 / wall.as_secs_f64().max(1e-9),
            records.iter().filter(|r| r.status == 429).count(),
        );
    }
    println!();
    let mut routes: Vec<(String, usize)> = Vec::new();
    for r in &log {
        let key = format!("{} {}", r.method, r.route);
        match routes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => routes.push((key, 1)),
        }
    }
    for (route, n) in &routes {
        println!("- {route}: {n}");
    }
    let gaps: Vec<Duration> = api.windows(2).map(|w| w[1].arrived.saturating_duration_since(w[0].arrived)).collect();
    println!();
    println!(
        "gaps between consecutive OAuth API requests: min {:.1} ms, median {:.1} ms; {} of {} under 500 ms",
        gaps.iter().min().map_or(0.0, |g| g.as_secs_f64() * 1000.0),
        crate::latency::percentile(&gaps, 50.0).as_secs_f64() * 1000.0,
        gaps.iter().filter(|g| **g < Duration::from_millis(500)).count(),
        gaps.len(),
    );
    println!();
    println!(
        "summary: {} OAuth API requests, at most {} in any 1 s window, {:.2}/s on average over the import; {tokens} \
         token call(s); {refused} answers 429; {created} orders in {:.1} s ({:.2} s per order)",
        api.len(),
        most_within(&api, Duration::from_secs(1)),
        api.len() as f64 / wall.as_secs_f64().max(1e-9),
        wall.as_secs_f64(),
        wall.as_secs_f64() / f64::from(created.max(1)),
    );
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// The most requests that arrived within any window of `width` (records in arrival order).
pub fn most_within(records: &[&RequestRecord], width: Duration) -> usize {
    let mut most = 0;
    let mut first = 0;
    for (last, record) in records.iter().enumerate() {
        while record.arrived.saturating_duration_since(records[first].arrived) >= width {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    most
}
