//! One Qargo budget for the whole tenant: function instances — dispatch (several at once, each
//! dispatch delivered twice as Qargo's retry does), order import (`QARGO_ORDER_DOOR=upload`, two API
//! requests an order), status sync and POD sync (consignments delivered with PODs) — each its own
//! bridge with its own Qargo client and pacer, as four Lambda instances are, working at the same
//! time over one store against the Qargo simulator with its real limits (2 API requests/s
//! sustained, bursts of 3). "old": each instance paces itself (`shared_budgets: false`, the
//! pacer before this work); "new": the instances draw on one budget in the store. Every figure
//! comes from the Qargo simulator's own request log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::pod_sync::sync_documents;
use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
use bridge::routing::InProcessRouter;
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::wiring::{Bridge, ClientTuning};
use qargo_sim::{Limits, RequestRecord};

use crate::dispatch::{dispatch_payload, next_working_day, webhook_stub};
use crate::pacing::most_within;
use crate::poll::{book, book_from};
use crate::world::{Setup, World};

/// The benchmark's parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Dispatch CREATEs, shared among the dispatch instances (each one after another).
    pub dispatches: usize,
    /// Dispatch instances at once (API Gateway starts one per concurrent request).
    pub dispatch_instances: usize,
    /// Consignments other depots book for us, for the import.
    pub orders: usize,
    /// Import instances at once (the scheduled run and an operator's backfill).
    pub importers: usize,
}

/// How long the saturation phase lasts.
const SATURATION: Duration = Duration::from_secs(15);

/// What one side saw.
struct Side {
    name: &'static str,
    wall: Duration,
    api: usize,
    most_in_1s: usize,
    most_in_10s: usize,
    refused: usize,
    tokens: usize,
    dispatched: usize,
    imported: u32,
    status_runs: usize,
    pod_runs: usize,
    failures: Vec<String>,
    routes: Vec<(String, usize, usize)>,
    /// The saturation phase: API requests, the most in any second, 429 answers, calls that failed,
    /// first to last request.
    saturation: (usize, usize, usize, usize, Duration),
}

/// Runs both sides, one after the other, each in a fresh world, and prints them side by side.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    let old = side(&params, "old: each instance paces itself", false).await?;
    let new = side(&params, "new: one budget in the store", true).await?;
    println!(
        "tenant-budget: {} function instances at once ({} dispatch instances sharing {} CREATEs, each delivered \
         twice; {} import instances (the schedule's and a backfill) of {} consignments, QARGO_ORDER_DOOR=upload; \
         status sync and POD sync of as many delivered ones every 2 s while those run), each its own \
         bridge and Qargo client over one in-memory store; Qargo simulator with its real limits (OAuth API 2/s \
         sustained, burst 3; token 5/h); production retries; {} build, {} CPUs",
        params.dispatch_instances + params.importers + 2,
        params.dispatch_instances,
        params.dispatches,
        params.importers,
        params.orders,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!(
        "| pacing | wall time (s) | Qargo API requests | max in any 1 s | max in any 10 s | 429 answers | token calls | \
         dispatched | orders created | status runs | POD runs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for side in [&old, &new] {
        println!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            side.name,
            side.wall.as_secs_f64(),
            side.api,
            side.most_in_1s,
            side.most_in_10s,
            side.refused,
            side.tokens,
            side.dispatched,
            side.imported,
            side.status_runs,
            side.pod_runs,
        );
    }
    for side in [&old, &new] {
        println!();
        println!("{}: Qargo API requests by route (429 answers):", side.name);
        for (route, n, refused) in &side.routes {
            println!("- {route}: {n} ({refused})");
        }
        for failure in &side.failures {
            println!("- failure: {failure}");
        }
    }
    println!();
    println!(
        "saturation: then all {} instances call Qargo's API (`GET /me`) at once, as fast as their pacers let them, \
         for {} s",
        params.dispatch_instances + params.importers + 2,
        SATURATION.as_secs()
    );
    println!();
    println!(
        "| pacing | Qargo API requests | first to last (s) | average /s | max in any 1 s | 429 answers | calls failed |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for side in [&old, &new] {
        let (requests, most, refused, failed, span) = side.saturation;
        println!(
            "| {} | {requests} | {:.1} | {:.2} | {most} | {refused} | {failed} |",
            side.name,
            span.as_secs_f64(),
            requests.saturating_sub(1) as f64 / span.as_secs_f64().max(1e-9)
        );
    }
    println!();
    println!(
        "summary: the jobs together: at most {} Qargo API requests in any second and {} × 429 with one shared \
         budget, {} and {} × 429 with a pacer per instance; all instances calling at once: at most {} in any second \
         and {} × 429 shared, {} and {} × 429 per instance",
        new.most_in_1s,
        new.refused,
        old.most_in_1s,
        old.refused,
        new.saturation.1,
        new.saturation.2,
        old.saturation.1,
        old.saturation.2
    );
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// One instance of a function: its own bridge (own clients, own pacer) over the shared store.
fn instance(world: &World, store: &Arc<MemoryStore>, documents: &Arc<MemoryDocuments>, shared: bool) -> Arc<Bridge> {
    let tuning = ClientTuning { shared_budgets: shared, ..ClientTuning::default() };
    Arc::new(Bridge::assemble_tuned(
        world.bridge.settings.clone(),
        world.bridge.secrets.clone(),
        store.clone(),
        documents.clone(),
        world.bridge.clock.clone(),
        tuning,
    ))
}

async fn side(params: &Params, name: &'static str, shared: bool) -> Result<Side, String> {
    let stub = webhook_stub().await?;
    let world = World::start_with(Setup {
        qargo_limits: Limits::qargo(),
        tuning: ClientTuning::default(),
        qargo_sends_to: Some(stub),
        more_settings: vec![("QARGO_ORDER_DOOR", "upload".into())],
        ..Setup::default()
    })
    .await?;
    let store = Arc::new(MemoryStore::in_memory());
    let documents = Arc::new(MemoryDocuments::default());
    let dispatchers: Vec<Arc<Bridge>> =
        (0..params.dispatch_instances).map(|_| instance(&world, &store, &documents, shared)).collect();
    let importers: Vec<Arc<Bridge>> =
        (0..params.importers).map(|_| instance(&world, &store, &documents, shared)).collect();
    let status = instance(&world, &store, &documents, shared);
    let pods = instance(&world, &store, &documents, shared);

    // Before: consignments other depots booked for us, imported and then delivered on Nexus with
    // their PODs (the POD sync's work), and a second batch booked (the import's work).
    book(&world, params.orders).await?;
    import_orders(&importers[0], &ImportOptions::unbounded()).await.map_err(|e| format!("first import: {e}"))?;
    world.advance(Duration::from_secs(3 * 24 * 3600));
    // Dispatches and new bookings for the simulator's next working day.
    let next_day: jiff::civil::Date =
        next_working_day(world.nexus.handle().now().date()).parse().map_err(|e| format!("{e}"))?;
    book_from(&world, params.orders..2 * params.orders, Some(next_day)).await?;
    let date = next_day.to_string();
    let mut payloads = Vec::new();
    for i in 0..params.dispatches {
        payloads.push(serde_json::to_vec(&dispatch_payload(&world, i, &date).await?).map_err(|e| e.to_string())?);
    }
    let inbound = &world.bridge.secrets.inbound;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", inbound.username, inbound.password.expose()))
    );

    world.qargo.handle.reset_request_counts();
    let log_from = world.qargo.handle.request_log().len();

    let busy = AtomicUsize::new(2);
    let finished = AtomicBool::new(false);
    let failures = std::sync::Mutex::new(Vec::new());
    let failed = |what: String| failures.lock().expect("failures").push(what);
    let wall_started = Instant::now();
    let instances = dispatchers.len();
    let dispatching = async {
        let shares = dispatchers.iter().enumerate().map(|(which, dispatcher)| {
            let payloads = &payloads;
            let authorization = &authorization;
            let failed = &failed;
            async move {
                let router = InProcessRouter::new(dispatcher.clone());
                let mut ok = 0;
                for body in payloads.iter().skip(which).step_by(instances) {
                    // Qargo sends each dispatch again (its retry after a slow answer): the second
                    // delivery looks in Qargo for labels attached before attaching.
                    for delivery in 0..2 {
                        let answer = bridge::api::route(
                            dispatcher,
                            &router,
                            "POST",
                            "/qargo/dispatch",
                            Some(authorization),
                            body,
                        )
                        .await;
                        if answer.status != 200 {
                            failed(format!("dispatch answered {}", answer.status));
                        } else if delivery == 0 {
                            ok += 1;
                        }
                    }
                }
                ok
            }
        });
        let ok: usize = futures::future::join_all(shares).await.into_iter().sum();
        if busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            finished.store(true, Ordering::SeqCst);
        }
        ok
    };
    let importing = async {
        let runs = importers.iter().map(|importer| {
            let failed = &failed;
            async move {
                let mut imported = 0;
                for _ in 0..10 {
                    match import_orders(importer, &ImportOptions::unbounded()).await {
                        Ok(report) => {
                            let new = report.total(|n| n.created);
                            imported += new;
                            if new + report.total(|n| n.duplicates) == 0 {
                                break;
                            }
                        }
                        Err(err) => failed(format!("import: {err}")),
                    }
                }
                imported
            }
        });
        let imported: u32 = futures::future::join_all(runs).await.into_iter().sum();
        if busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            finished.store(true, Ordering::SeqCst);
        }
        imported
    };
    let polling = |bridge: Arc<Bridge>, pods: bool| {
        let finished = &finished;
        let failed = &failed;
        async move {
            let mut runs = 0;
            while !finished.load(Ordering::SeqCst) {
                runs += 1;
                let outcome = if pods {
                    sync_documents(&bridge, &SyncOptions::unbounded()).await.map(drop).map_err(|e| e.to_string())
                } else {
                    sync_statuses(&bridge, &SyncOptions::unbounded()).await.map(drop).map_err(|e| e.to_string())
                };
                if let Err(err) = outcome {
                    failed(format!("{}: {err}", if pods { "POD sync" } else { "status sync" }));
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            runs
        }
    };
    let (dispatched, imported, status_runs, pod_runs) =
        tokio::join!(dispatching, importing, polling(status.clone(), false), polling(pods.clone(), true));
    let wall = wall_started.elapsed();

    let jobs_log = world.qargo.handle.request_log();
    let log = &jobs_log[log_from.min(jobs_log.len())..];
    let api: Vec<&RequestRecord> = log.iter().filter(|r| r.auth == "oauth").collect();
    let mut routes: Vec<(String, usize, usize)> = Vec::new();
    for record in &api {
        let key = format!("{} {}", record.method, record.route);
        let refused = usize::from(record.status == 429);
        match routes.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, n, r)) => {
                *n += 1;
                *r += refused;
            }
            None => routes.push((key, 1, refused)),
        }
    }
    // Then every instance at once calls Qargo's API as fast as its pacer lets it, for 15 s.
    let saturation_from = world.qargo.handle.request_log().len();
    let until = Instant::now() + SATURATION;
    let callers = dispatchers.iter().chain(&importers).chain([&status, &pods]).map(|instance| async move {
        let mut failed = 0;
        while Instant::now() < until {
            if instance.qargo.me().await.is_err() {
                failed += 1;
            }
        }
        failed
    });
    let saturation_failed: usize = futures::future::join_all(callers).await.into_iter().sum();
    let log = world.qargo.handle.request_log();
    let saturated: Vec<&RequestRecord> =
        log[saturation_from.min(log.len())..].iter().filter(|r| r.auth == "oauth").collect();
    let span = match (saturated.first(), saturated.last()) {
        (Some(first), Some(last)) => last.arrived.saturating_duration_since(first.arrived),
        _ => Duration::ZERO,
    };
    let saturation = (
        saturated.len(),
        most_within(&saturated, Duration::from_secs(1)),
        saturated.iter().filter(|r| r.status == 429).count(),
        saturation_failed,
        span,
    );
    let mut failures = failures.into_inner().expect("failures");
    failures.sort();
    failures.dedup();
    Ok(Side {
        name,
        wall,
        api: api.len(),
        most_in_1s: most_within(&api, Duration::from_secs(1)),
        most_in_10s: most_within(&api, Duration::from_secs(10)),
        refused: api.iter().filter(|r| r.status == 429).count(),
        tokens: log.iter().filter(|r| r.route == "/v1/auth/token").count(),
        dispatched,
        imported,
        status_runs,
        pod_runs,
        failures,
        routes,
        saturation,
    })
}
