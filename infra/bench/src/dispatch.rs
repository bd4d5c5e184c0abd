//! Dispatch: the handler's own time per dispatch CREATE, the function binary's cold start and peak
//! memory, and its size.
//!
//! - **Handler overhead**, in process: `bridge::api::route` is called with Qargo's Subcontractor
//!   Dispatch payloads (taken from the Qargo simulator), over the in-memory store, both simulators
//!   without injected latency. Each call's wall time is split into the time the simulators spent
//!   on its requests — Nexus through a timing proxy in front of the Nexus simulator (request sent
//!   to answer read, one loopback hop included), Qargo from the Qargo simulator's request log
//!   (arrival to answer) — and the rest, the overhead. Overlapping simulator calls are counted once.
//! - **Function binary**: the release `dispatch` binary runs as a child process against a minimal
//!   Lambda Runtime API served here, with DynamoDB and S3 on moto and the simulators above; the
//!   benchmark hands it API Gateway HTTP API (v2) events one at a time and reads its peak RSS
//!   (`VmHWM` of `/proc/<pid>/status`) after them. Cold start: process start to the first answer.
//! - **Size**: the binary's file size.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bridge::routing::InProcessRouter;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

use crate::latency::{mean, ms, percentile};
use crate::world::{Setup, World};

/// The benchmark's parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Measured dispatches in process.
    pub dispatches: usize,
    /// Invocations of the function binary.
    pub invocations: usize,
    /// The release `dispatch` binary.
    pub function_binary: PathBuf,
    /// moto's endpoint (DynamoDB and S3 for the function binary), if any.
    pub aws_endpoint: Option<String>,
    /// Latency the Nexus simulator adds to every request in the function binary's run.
    pub nexus_latency: Duration,
}

/// Dispatches before the measured ones (connections, Nexus login, token), not counted.
const WARM_UP: usize = 5;

/// Runs both parts and prints their figures.
pub async fn run(params: Params) -> Result<(), String> {
    let started = Instant::now();
    let stub = webhook_stub().await?;
    let proxy = TimingProxy::start().await?;
    // Qargo's limits are off here, and so, in effect, is the client's pacer: a wait for its turn
    // would be counted as overhead.
    let tuning = bridge::wiring::ClientTuning {
        retry: crate::world::quick_retries(),
        qargo_requests_per_second: 1e9,
        shared_budgets: false,
    };
    let world = World::start_with(Setup {
        tuning,
        qargo_sends_to: Some(stub.clone()),
        nexus_url_override: Some(proxy.base_url()),
        ..Setup::default()
    })
    .await?;
    proxy.point_at(&world.nexus.base_url())?;
    // The function binary reads the real clock: the simulator's moves to now, and the collections
    // are for the next working day, inside the cut-off whatever the hour.
    let london = jiff::Zoned::now().in_tz("Europe/London").map_err(|e| e.to_string())?;
    world.nexus.handle().set_now(london.datetime()).map_err(|e| format!("Nexus clock: {e}"))?;
    world.follow_clock();
    let date = next_working_day(london.date());
    let timed = world.bridge.clone();
    let router = InProcessRouter::new(timed.clone());
    let inbound = &timed.secrets.inbound;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", inbound.username, inbound.password.expose()))
    );

    println!(
        "dispatch: {} dispatch CREATEs in process after {WARM_UP} warm-up ones, simulators without injected \
         latency or limits, Qargo pacer off, in-memory store, {} build, {} CPUs",
        params.dispatches,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let (mut wall, mut outside, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
    let (mut nexus_requests, mut qargo_requests, mut failures) = (0usize, 0usize, Vec::new());
    for i in 0..WARM_UP + params.dispatches {
        let payload = dispatch_payload(&world, i, &date).await?;
        let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let nexus_from = proxy.calls().len();
        let qargo_from = world.qargo.handle.request_log().len();
        let call_started = Instant::now();
        let answer = bridge::api::route(&timed, &router, "POST", "/qargo/dispatch", Some(&authorization), &body).await;
        let call_ended = Instant::now();
        if answer.status != 200 {
            failures.push(format!("{}: {}", answer.status, answer.body));
            continue;
        }
        if i < WARM_UP {
            continue;
        }
        let nexus_calls: Vec<(Instant, Instant)> = proxy.calls().into_iter().skip(nexus_from).collect();
        let qargo_calls: Vec<(Instant, Instant)> = world
            .qargo
            .handle
            .request_log()
            .into_iter()
            .skip(qargo_from)
            .map(|r| (r.arrived, r.arrived + r.took))
            .collect();
        nexus_requests += nexus_calls.len();
        qargo_requests += qargo_calls.len();
        let mut spans = nexus_calls;
        spans.extend(qargo_calls);
        let sims = covered(&mut spans, call_started, call_ended);
        let total = call_ended - call_started;
        wall.push(total);
        outside.push(sims);
        overhead.push(total.saturating_sub(sims));
    }
    let measured = wall.len().max(1) as f64;
    let direct = direct_wall(params.dispatches, tuning, &stub, &authorization).await?;
    println!();
    println!("| per dispatch CREATE | p50 (ms) | p99 (ms) | max (ms) | mean (ms) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, values) in [
        ("wall time of `api::route`", &wall),
        ("in the simulators", &outside),
        ("handler overhead", &overhead),
        ("wall time without the timing proxy (another world)", &direct),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ms(percentile(values, 50.0)),
            ms(percentile(values, 99.0)),
            ms(percentile(values, 100.0)),
            ms(mean(values)),
        );
    }
    println!();
    println!(
        "{} dispatches measured, {:.1} Nexus and {:.1} Qargo requests each, {} refused{}",
        wall.len(),
        nexus_requests as f64 / measured,
        qargo_requests as f64 / measured,
        failures.len(),
        failures.first().map(|f| format!(" (first: {f})")).unwrap_or_default(),
    );
    println!(
        "summary: handler overhead excluding the simulators' time p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&overhead, 50.0)),
        ms(percentile(&overhead, 99.0)),
    );

    println!();
    match std::fs::metadata(&params.function_binary) {
        Ok(meta) => println!(
            "function binary {}: {} bytes (host target {}, release profile)",
            params.function_binary.display(),
            meta.len(),
            std::env::consts::ARCH,
        ),
        Err(err) => println!("function binary {}: not found ({err})", params.function_binary.display()),
    }
    match &params.aws_endpoint {
        None => println!(
            "function binary run: skipped (no moto: run under `source infra/scripts/moto.sh`, which sets \
             BRIDGE_TEST_AWS_ENDPOINT)"
        ),
        Some(endpoint) => {
            world.nexus.handle().set_latency(params.nexus_latency, Duration::ZERO);
            println!("Nexus latency in the function binary's run: {} ms a request", params.nexus_latency.as_millis());
            let outcome = run_function(&params, &world, endpoint, &authorization, &date).await;
            if let Err(err) = outcome {
                println!("function binary run: failed: {err}");
            }
        }
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// The `i`-th order for Project Timber (alternately PALL-EX and Fortec), planned on a trip, and the
/// dispatch CREATE payload Qargo sends for it (taken from a CANCEL sent to the stub, which books
/// nothing).
pub(crate) async fn dispatch_payload(world: &World, i: usize, date: &str) -> Result<Value, String> {
    let resource = if i.is_multiple_of(2) { "PALLEX_OUT" } else { "FORTEC_OUT" };
    let mut order = bridge_local::timber_order(resource, date);
    order["customer_reference_number"] = json!(format!("BENCH-{i}"));
    order["consignments"][0]["consignment_reference_number"] = json!(format!("BENCH-{i}"));
    let input = serde_json::from_value(order).map_err(|e| format!("order {i}: {e}"))?;
    let created = world.qargo.handle.create_order(&input).map_err(|e| format!("order {i}: {e} {}", e.body()))?;
    let trip = created.trip.as_ref().ok_or_else(|| format!("order {i} is on no trip"))?.trip_id;
    let record = world.qargo.handle.dispatch_trip(trip, "CANCEL").await.map_err(|e| format!("order {i}: {e}"))?;
    let mut payload = record.request;
    payload["operation"] = json!("CREATE");
    Ok(payload)
}

/// The wall time of `count` dispatch CREATEs (after the warm-up ones) in a world whose bridge talks
/// to the Nexus simulator directly: what the timing proxy's extra hop adds to the overhead.
async fn direct_wall(
    count: usize,
    tuning: bridge::wiring::ClientTuning,
    stub: &str,
    authorization: &str,
) -> Result<Vec<Duration>, String> {
    let world = World::start_with(Setup { tuning, qargo_sends_to: Some(stub.to_owned()), ..Setup::default() }).await?;
    let london = jiff::Zoned::now().in_tz("Europe/London").map_err(|e| e.to_string())?;
    world.nexus.handle().set_now(london.datetime()).map_err(|e| format!("Nexus clock: {e}"))?;
    world.follow_clock();
    let date = next_working_day(london.date());
    let router = InProcessRouter::new(world.bridge.clone());
    let mut wall = Vec::new();
    for i in 0..WARM_UP + count {
        let payload = dispatch_payload(&world, i, &date).await?;
        let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let answer =
            bridge::api::route(&world.bridge, &router, "POST", "/qargo/dispatch", Some(authorization), &body).await;
        if answer.status == 200 && i >= WARM_UP {
            wall.push(started.elapsed());
        }
    }
    Ok(wall)
}

/// The first Monday-to-Friday day after `today`, as `YYYY-MM-DD`.
pub(crate) fn next_working_day(today: jiff::civil::Date) -> String {
    let mut day = today;
    loop {
        day = day.tomorrow().unwrap_or(day);
        if !matches!(day.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday) {
            return day.to_string();
        }
    }
}

/// The time within `[from, to]` covered by at least one of `spans`.
fn covered(spans: &mut [(Instant, Instant)], from: Instant, to: Instant) -> Duration {
    spans.sort();
    let mut total = Duration::ZERO;
    let mut reach = from;
    for &(start, end) in spans.iter() {
        let (start, end) = (start.max(reach), end.min(to));
        if end > start {
            total += end - start;
            reach = end;
        }
    }
    total
}

/// A receiver for the Qargo simulator's outbound webhooks that answers every post with `{}`.
pub(crate) async fn webhook_stub() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let app = axum::Router::new().fallback(|| async { axum::Json(json!({})) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// A reverse proxy in front of the Nexus simulator that records when each request was sent on and
/// when its answer had been read.
#[derive(Clone)]
struct TimingProxy {
    address: std::net::SocketAddr,
    inner: Arc<ProxyState>,
}

struct ProxyState {
    target: Mutex<String>,
    calls: Mutex<Vec<(Instant, Instant)>>,
    http: reqwest::Client,
}

impl TimingProxy {
    async fn start() -> Result<TimingProxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let inner = Arc::new(ProxyState {
            target: Mutex::new(String::new()),
            calls: Mutex::new(Vec::new()),
            http: bridge::http::client_builder().build().expect("an HTTP client builds"),
        });
        let app = axum::Router::new().fallback(forward).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TimingProxy { address, inner })
    }

    /// Sends everything on to `base_url`'s host (`http://host:port/v1/` → `http://host:port`).
    fn point_at(&self, base_url: &str) -> Result<(), String> {
        let origin: String = base_url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        *self.inner.target.lock().map_err(|e| e.to_string())? = origin;
        Ok(())
    }

    fn base_url(&self) -> String {
        format!("http://{}/v1/", self.address)
    }

    fn calls(&self) -> Vec<(Instant, Instant)> {
        self.inner.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = state.target.lock().map(|t| t.clone()).unwrap_or_default();
    let sent = Instant::now();
    let answer = match bridge_local::relay::relay(&state.http, &target, method, &uri, &headers, body).await {
        Ok(answer) => answer,
        Err(err) => return bridge_local::relay::bad_gateway(err),
    };
    let done = Instant::now();
    if let Ok(mut calls) = state.calls.lock() {
        calls.push((sent, done));
    }
    answer.into_response()
}

// ---- the function binary -------------------------------------------------------------------------

/// The Lambda Runtime API, as much as a function needs: events queued by the benchmark are handed
/// out on `GET …/invocation/next`; answers come back on `POST …/invocation/{id}/response`.
struct RuntimeApi {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    /// First `GET …/next`: the function finished its initialisation.
    first_poll: Mutex<Option<Instant>>,
    answers: mpsc::UnboundedSender<(String, Instant, Result<Value, String>)>,
}

async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> Response {
    if let Ok(mut first) = api.first_poll.lock() {
        first.get_or_insert_with(Instant::now);
    }
    loop {
        let notified = api.queued.notified();
        let item = api.queue.lock().ok().and_then(|mut q| q.pop_front());
        if let Some((id, event)) = item {
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
                    + 29_000;
            let mut response = axum::Json(event).into_response();
            let headers = response.headers_mut();
            for (name, value) in [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-2:123456789012:function:dispatch".to_owned(),
                ),
                ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned()),
            ] {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            return response;
        }
        notified.await;
    }
}

async fn invocation_response(State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let answer = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"));
    let _ = api.answers.send((id, Instant::now(), answer));
    StatusCode::ACCEPTED
}

async fn invocation_error(State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = api.answers.send((id, Instant::now(), Err(String::from_utf8_lossy(&body).into_owned())));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    let _ = api.answers.send(("init".to_owned(), Instant::now(), Err(String::from_utf8_lossy(&body).into_owned())));
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0) event for `POST /qargo/dispatch`.
fn api_gateway_event(id: &str, authorization: &str, body: &Value) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /qargo/dispatch",
        "rawPath": "/qargo/dispatch",
        "rawQueryString": "",
        "headers": {"authorization": authorization, "content-type": "application/json", "host": "bench.local"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.local",
            "domainPrefix": "bench",
            "http": {"method": "POST", "path": "/qargo/dispatch", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "qargo-sim"},
            "requestId": id,
            "routeKey": "POST /qargo/dispatch",
            "stage": "$default",
            "time": "17/Jun/2026:08:00:00 +0000",
            "timeEpoch": 1_781_683_200_000u64
        },
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

/// Memory figures of a running process, in kB, from `/proc/<pid>/status`.
fn memory_of(pid: u32) -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmHWM:"), field("VmRSS:")))
}

/// Creates the table and the bucket on moto, starts the function binary against the runtime API,
/// invokes it `params.invocations` times and prints its cold start, times and peak memory.
async fn run_function(
    params: &Params,
    world: &World,
    endpoint: &str,
    authorization: &str,
    date: &str,
) -> Result<(), String> {
    let aws = moto_config(endpoint);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let table = format!("bench-{}", &suffix[..12]);
    let bucket = format!("bench-{}", &suffix[..12]);
    bridge::store::dynamo::DynamoStore::create_table(&bridge::aws::dynamodb_client(&aws), &table)
        .await
        .map_err(|e| format!("table on moto: {e}"))?;
    bridge::store::s3::S3Documents::create_bucket(&bridge::aws::s3_client(&aws), &bucket)
        .await
        .map_err(|e| format!("bucket on moto: {e}"))?;

    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        queue: Mutex::new(VecDeque::new()),
        queued: Notify::new(),
        first_poll: Mutex::new(None),
        answers: answers_tx,
    });
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let runtime_address = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let log_path = std::env::temp_dir().join(format!("bridge-bench-dispatch-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let secrets = bridge_local::simulator_secrets(&["PGD302"]).to_string();
    let environment: Vec<(&str, String)> = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "dispatch".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/dispatch".to_owned()),
        ("AWS_REGION", "eu-west-2".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("BRIDGE_TABLE", table.clone()),
        ("BRIDGE_BUCKET", bucket.clone()),
        ("BRIDGE_DEPOTS", "PGD302:zpl".to_owned()),
        ("BRIDGE_SECRETS_JSON", secrets),
        ("NEXUS_BASE_URL", world.nexus.base_url()),
        ("QARGO_BASE_URL", world.qargo.base_url()),
        // Without the networks: the dispatch does not read the map, and a binary from before the
        // map took networks (a baseline to compare with) starts with it too.
        ("BRIDGE_CUSTOMER_MAP", bridge_local::SIMULATOR_CUSTOMER_MAP.replace(":PALLEX", "").replace(":FORTEC", "")),
        ("CUTOFF_POLICY", "reject".to_owned()),
        ("VISIBILITY_BUS", "bench-bus".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        // The bootstrap runs the function its Handler names (a binary from before the five shared
        // one bootstrap ignores it).
        ("_HANDLER", "dispatch".to_owned()),
    ];
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&params.function_binary)
        .env_clear()
        .envs(environment)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", params.function_binary.display()))?;
    let pid = child.id().ok_or("the function binary has no pid")?;

    let mut times = Vec::new();
    let mut errors = Vec::new();
    let mut cold_start = None;
    let mut after_first = (0, 0);
    for i in 0..params.invocations {
        let payload = dispatch_payload(world, 100_000 + i, date).await?;
        let id = format!("bench-{i}");
        let event = api_gateway_event(&id, authorization, &payload);
        let handed = Instant::now();
        if let Ok(mut queue) = api.queue.lock() {
            queue.push_back((id.clone(), event));
        }
        api.queued.notify_one();
        let (answered_id, at, answer) = tokio::select! {
            answer = answers.recv() => answer.ok_or("the runtime API closed")?,
            exit = child.wait() => return Err(format!("the function binary exited ({exit:?}); its log: {}", log_path.display())),
            () = tokio::time::sleep(Duration::from_secs(60)) => {
                return Err(format!("no answer to invocation {i} in 60 s; its log: {}", log_path.display()))
            }
        };
        if answered_id == "init" {
            return Err(format!("initialisation failed: {answer:?}; log {}", log_path.display()));
        }
        match answer {
            Ok(value) if value["statusCode"] == 200 => {}
            Ok(value) => errors.push(format!("{}: {}", value["statusCode"], value["body"])),
            Err(err) => errors.push(err),
        }
        if i == 0 {
            cold_start = Some(at - spawned);
            after_first = memory_of(pid)?;
        } else {
            times.push(at - handed);
        }
    }
    let (peak, rss) = memory_of(pid)?;
    let init = api.first_poll.lock().ok().and_then(|first| *first).map(|at| at - spawned);
    let _ = child.start_kill();
    let _ = child.wait().await;

    println!();
    println!(
        "function binary run: {} invocations of {} (DynamoDB and S3 on moto at {endpoint}, secrets inline in \
         BRIDGE_SECRETS_JSON, production client tuning: Qargo pacer 2 requests/s), log {}",
        params.invocations,
        params.function_binary.display(),
        log_path.display(),
    );
    println!();
    println!("| function binary | figure |");
    println!("|---|---:|");
    if let Some(init) = init {
        println!("| start to first `GET /invocation/next` (init) | {:.1} ms |", ms(init));
    }
    if let Some(cold) = cold_start {
        println!("| cold start: process start to first answer | {:.1} ms |", ms(cold));
    }
    println!(
        "| warm invocation, event handed out to answer, p50 / p99 | {:.1} / {:.1} ms |",
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0))
    );
    println!("| peak RSS (VmHWM) after the first invocation | {} kB |", after_first.0);
    println!(
        "| peak RSS (VmHWM) after {} invocations | {peak} kB ({:.1} MiB) |",
        params.invocations,
        peak as f64 / 1024.0
    );
    println!("| RSS at the end (VmRSS) | {rss} kB |");
    println!("| answers other than 200 | {} |", errors.len());
    if let Some(first) = errors.first() {
        println!();
        println!("first refusal: {first}");
    }
    Ok(())
}

/// AWS configuration for moto: dummy credentials, eu-west-2.
fn moto_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto");
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-2"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
        .http_client(bridge::aws::https_client())
        .build()
}
