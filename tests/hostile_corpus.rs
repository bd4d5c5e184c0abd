//! An HTTP-level hostile corpus against the local bridge (`bridge_local::start_with`: both
//! simulators, embedded storage, the bridge's HTTP API as `bridge-local` serves it).
//!
//! Every named case sends one or more hostile requests to `POST /qargo/dispatch` or
//! `POST /qargo/visibility` — malformed JSON, random bytes, empty bodies, wrong content types,
//! bodies just over the limit, deep nesting, wrong types and hostile strings in every field of a
//! real dispatch body and of a real `Stop`, `Eta` and `Document` visibility body (taken from the
//! Qargo simulator), extreme numbers and dates, ids of every shape, huge arrays, bad credentials,
//! replayed and reordered operations — and checks for each answer:
//!
//! * the status the contract of `bridge::api` gives it: a dispatch is answered HTTP 200 with Qargo's
//!   typed `errors` (a refusal is `USER_INPUT_ERROR` naming the payload `field`, or `NOT_SUPPORTED`),
//!   a body that is no payload 400, a bad credential 401, a body over `MAX_BODY_BYTES` 413; a
//!   visibility body 202 (routed), 400 (not a visibility update) or 422 (can never be handled);
//!   never a 5xx (nothing is down here) and never `INTERNAL_ERROR` (a retry cannot fix hostile input);
//! * an answer of at most [`ANSWER_LIMIT`] bytes, whatever the size of the request;
//! * that the simulators changed only as the answer says: nothing written on Nexus or Qargo for a
//!   refusal (or for any case that must not act), at most the one booking an accepted dispatch makes.
//!
//! Then the bridge must still book a valid dispatch, no thread of this module's runtime may have
//! panicked, and the process's peak memory (`VmHWM`) may not have grown by more than
//! [`MEMORY_GROWTH_LIMIT_MB`] over the corpus. On Linux the peak is reset before each request
//! (`/proc/self/clear_refs`) after the allocator gave its free memory back (glibc's `malloc_trim`),
//! so each request's own peak is read: the corpus's peak is the highest of them (requests of known
//! bugs left out), and the huge-array requests are memory probes, each allowed
//! [`PROBE_BASE_KIB`] plus [`PROBE_FACTOR`] times its body. The peak is the whole process's: other
//! tests of the binary running meanwhile count too. One summary line is printed, and written to the
//! file named by `HOSTILE_CORPUS_SUMMARY` (the test command prints it after the run);
//! `HOSTILE_CORPUS_VERBOSE=1` prints each case's time and each request that took over 16 MB.
//!
//! Bridge bugs the corpus found are in [`EXPECTED_TO_FAIL`]: those requests are still sent and
//! judged, their failures are reported as known, and an entry that stops failing fails the test so
//! that it is switched back on.
//!
//! Two property tests mutate one field at a time of the valid bodies (type changes, extreme values,
//! hostile strings, dates) and check that no answer is a 5xx or over the bound, and that enough of
//! the mutated bodies get past the parsers into the jobs' checks and the date code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bridge_local::{LocalBridge, LocalOptions, Pace};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use qargo_sim::{CreatedOrder, EtaInput, SignatureInput, StopAction, TripInput};
use serde_json::{Value, json};

use crate::dispatch::quick_retries;

/// The largest answer allowed, whatever the request.
const ANSWER_LIMIT: usize = 16 * 1024;
/// How much the process's peak memory may grow over the corpus. Run alone the corpus grows it by
/// about 150 MB (the ~330 bookings it makes keep labels and records in both simulators and the
/// store, and one 3.7 MB body of 50,000 events takes ~60 MB while it is read); in the whole test
/// command other tests' memory counts too (~210 MB seen).
const MEMORY_GROWTH_LIMIT_MB: u64 = 300;
/// One mebibyte: the "very long string".
const MIB: usize = 1 << 20;
/// The name of this module's runtime threads (the panic hook counts panics on them).
const THREADS: &str = "hostile-corpus";
/// The test threads of this module (libtest names them after the test).
const TEST_THREADS: &str = "hostile_corpus::";
/// Placeholder replaced by raw JSON text (`NaN`, `1e400`) after serialising a body.
const RAW: &str = "__hostile_corpus_raw__";
/// The two routes.
const DISPATCH: &str = bridge::api::DISPATCH_PATH;
const VISIBILITY: &str = bridge::api::VISIBILITY_PATH;
/// Property-test cases per webhook (kept modest: each is an HTTP request, some book on Nexus).
const DISPATCH_PROPERTY_CASES: u32 = 256;
const VISIBILITY_PROPERTY_CASES: u32 = 512;
/// The property tests' seed (`HOSTILE_CORPUS_SEED` overrides it).
const PROPERTY_SEED: u64 = 0x0405_711e_c0de;

/// Requests that fail because of a bridge bug, as `case` or `case/label` (a trailing `*` matches a
/// prefix), with the bug. They are sent and judged like the others; their failures are reported as
/// known. Remove an entry once the bug is fixed (the test fails while an entry no longer fails).
const EXPECTED_TO_FAIL: &[(&str, &str)] = &[
    // Empty: the ids, echoes, phone numbers and huge arrays the corpus found are fixed (ids are
    // checked as UUIDs before booking, messages show values through `error::shown`, phone numbers
    // have a length, lists are bounded while they are read).
];

// ---- process-wide observations -------------------------------------------------------------------

static PANICS: AtomicUsize = AtomicUsize::new(0);
static PANIC_HOOK: Once = Once::new();

/// Counts panics on this module's threads (its runtime's workers and its test threads), then calls
/// the hook that was there before. Other tests of the binary run beside these; their panics are not
/// counted unless they happen on these threads.
fn count_panics() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            if name.starts_with(THREADS) || name.starts_with(TEST_THREADS) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// A multi-threaded runtime whose threads are named [`THREADS`]: the bridge's API, the simulators
/// and every task they spawn run on it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_name(THREADS)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`); 0 where `/proc` has no answer.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        })
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_memory_kib() -> u64 {
    status_kib("VmHWM:")
}

/// The process's resident memory now (`VmRSS`), in KiB.
fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Resets the peak (`VmHWM`) to the resident memory now (Linux 4.0 and later), so that the next
/// reading is the peak of what happened in between; false where it cannot be reset.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Gives the memory the allocator keeps free back to the system (glibc's `malloc_trim`), so that
/// the resident memory is what is in use: what earlier requests freed is not counted again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The one `unsafe` of the workspace: a measuring aid of this test.
fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: `malloc_trim` takes no pointers; it only returns free pages of the heap to the system.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

/// A memory probe may take at most this much, plus [`PROBE_FACTOR`] times its body.
const PROBE_BASE_KIB: u64 = 16 * 1024;
const PROBE_FACTOR: u64 = 32;

fn is_expected_to_fail(key: &str) -> bool {
    EXPECTED_TO_FAIL.iter().any(|(pattern, _)| pattern_matches(pattern, key))
}

/// `HOSTILE_CORPUS_VERBOSE=1` prints each case's time and each request that took over 16 MB.
fn verbose() -> bool {
    std::env::var_os("HOSTILE_CORPUS_VERBOSE").is_some_and(|v| v != "0")
}

// ---- the world -----------------------------------------------------------------------------------

/// The local bridge with both simulators.
struct Env {
    local: LocalBridge,
    _data: tempfile::TempDir,
    http: reqwest::Client,
    nexus: nexus_sim::SimHandle,
    qargo: qargo_sim::SimHandle,
    /// The inbound credential as Qargo sends it: `Basic <base64>`.
    good_auth: String,
    user: String,
    password: String,
    /// The simulators' today, `YYYY-MM-DD`.
    today: String,
}

/// Real bodies the mutations start from.
struct Bases {
    /// A `Stop` update (our delivery leg, already exported: a replay does nothing).
    stop: Value,
    /// An `Eta` update (our delivery of an imported consignment, already sent: a replay does nothing).
    eta: Value,
    /// A `Document` update (the consignee's signature, embedded; already uploaded).
    document: Value,
    /// An order the bridge booked: the target of the path traversals.
    booked: CreatedOrder,
}

impl Env {
    async fn start() -> Env {
        let data = tempfile::tempdir().expect("a temporary folder");
        let pace = Pace {
            simulator_limits: false,
            clients: bridge::wiring::ClientTuning {
                retry: quick_retries(),
                qargo_requests_per_second: 200.0,
                shared_budgets: false,
            },
        };
        let local = bridge_local::start_with(
            LocalOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: data.path().join("bridge"),
                nexus_port: 0,
                qargo_port: 0,
                poll_every: None,
                ..LocalOptions::default()
            },
            pace,
        )
        .await
        .expect("the local bridge starts");
        let nexus = local.nexus.as_ref().expect("the Nexus simulator").handle().clone();
        let qargo = local.qargo.as_ref().expect("the Qargo simulator").handle.clone();
        let inbound = bridge_local::simulator_secrets(&[])["inbound"].clone();
        let user = inbound["username"].as_str().unwrap().to_owned();
        let password = inbound["password"].as_str().unwrap().to_owned();
        let http = bridge::http::client_builder().timeout(Duration::from_secs(60)).build().unwrap();
        // The header reqwest writes for the credential: the exact bytes Qargo sends.
        let probe = http.post("http://127.0.0.1/").basic_auth(&user, Some(&password)).build().unwrap();
        let good_auth = probe.headers()["authorization"].to_str().unwrap().to_owned();
        let today = nexus.now().date().to_string();
        Env { local, _data: data, http, nexus, qargo, good_auth, user, password, today }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.local.api_url)
    }

    fn create_order(&self, order: Value) -> CreatedOrder {
        self.qargo.create_order(&serde_json::from_value(order).unwrap()).expect("order accepted by the Qargo simulator")
    }

    /// A fresh order and the dispatch payload Qargo sends for it, not yet booked (taken from a
    /// CANCEL, which books nothing), with `operation`.
    async fn fresh_payload(&self, operation: &str) -> (CreatedOrder, Value) {
        let created = self.create_order(bridge_local::timber_order("PALLEX_OUT", &self.today));
        let trip = created.trip.as_ref().expect("planned on a trip").trip_id;
        let mut payload = self.qargo.dispatch_trip(trip, "CANCEL").await.expect("dispatch sent").request;
        payload["operation"] = json!(operation);
        (created, payload)
    }

    /// Books a consignment as UKD101 for delivery by our depot, imports it into Qargo, plans it on
    /// our van and makes Qargo send an `Eta`, a `Stop` (arrival) and a `Document` (signature) update
    /// for its delivery; and books one dispatch of ours. Each base body is then posted again until a
    /// replay changes nothing.
    async fn bases(&self) -> Bases {
        let at = || StopAction { at: Some(format!("{}T08:00:00Z", self.today)) };
        let booked = self.create_order(bridge_local::timber_order("PALLEX_OUT", &self.today));
        let record = self.qargo.dispatch_trip(booked.trip.as_ref().unwrap().trip_id, "CREATE").await.unwrap();
        assert!(record.accepted, "the base dispatch books: {:?} {:?}", record.errors, record.response);

        let ukd101 = bridge_local::depot_user(&self.nexus_url(), "UKD101", quick_retries());
        let made = ukd101
            .create_consignment(&bridge_local::simple_booking(52011, "PALLEX", "HOSTILE-IN-1", "DN22 7SS", 2))
            .await
            .expect("booked by UKD101");
        bridge_local::run_order_import(&self.local.bridge).await;
        let detail = self
            .qargo
            .order_by_identifier(&format!("NEXUS-PALLEX-{}", made.consignment_id))
            .expect("the inbound consignment imported into Qargo");
        let order_id: uuid::Uuid = detail["order"]["id"].as_str().unwrap().parse().unwrap();
        let delivery_stop: uuid::Uuid = detail["stops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stop_type"] == "DELIVERY")
            .and_then(|s| s["id"].as_str())
            .unwrap()
            .parse()
            .unwrap();
        let van: TripInput = serde_json::from_value(
            json!({"order_ids": [order_id], "resource_code": "PGD302-VAN-1", "name": "Retford van 1"}),
        )
        .unwrap();
        let van = self.qargo.create_trip(&van).expect("trip planned").trip_id;
        let eta = self.qargo.reoptimise_etas(van, &EtaInput { stops: vec![], shift_minutes: Some(30) }).await.unwrap();
        let eta = eta.outbound.into_iter().find(|r| r.label == "Eta").expect("an Eta update").request;
        self.nexus.step(made.consignment_id as u64, nexus_sim::Stage::AtDeliveryDepot).expect("at our depot");
        let arrival = self.qargo.arrive_at_stop(delivery_stop, &at()).await.unwrap();
        let stop = arrival.outbound.into_iter().find(|r| r.label == "Stop").expect("a Stop update").request;
        let signature = SignatureInput {
            name: "J. Smith".into(),
            at: Some(format!("{}T08:10:00Z", self.today)),
            embed: Some(true),
            ..SignatureInput::default()
        };
        let signed = self.qargo.capture_signature(delivery_stop, &signature).await.unwrap();
        let document = signed.outbound.into_iter().find(|r| r.label == "Document").expect("a Document update").request;
        // Each did its work once (an ETA, an arrival event, the signature as a POD on Nexus), so
        // that a replay doing nothing is the bridge's idempotency, not a body that never acts.
        let counts = self.nexus.request_counts();
        let taken = |route: &str| {
            counts
                .routes
                .iter()
                .filter(|r| r.route.eq_ignore_ascii_case(route))
                .flat_map(|r| r.statuses.iter())
                .filter(|(status, _)| (200..300).contains(*status))
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        for route in [
            "PUT /v1/consignments/{id}/eta",
            "POST /v1/consignments/{id}/events",
            "POST /v1/consignments/{id}/attachments",
        ] {
            assert!(taken(route) > 0, "the base bodies never reached Nexus's {route}: {counts:?}");
        }
        for (name, base) in [("Stop", &stop), ("Eta", &eta), ("Document", &document)] {
            self.settle(name, base).await;
        }
        Bases { stop, eta, document, booked }
    }

    fn nexus_url(&self) -> String {
        self.local.nexus.as_ref().unwrap().base_url()
    }

    /// Posts a base body until a replay of it changes nothing (the first deliveries may still have
    /// work to finish).
    async fn settle(&self, name: &str, base: &Value) {
        let mut last = String::new();
        for _ in 0..4 {
            let before = self.snapshot();
            let answer = self.send(&Req::post(VISIBILITY, base.to_string())).await.expect("an answer");
            let changed = self.snapshot().changes_since(&before);
            if answer.status == 202 && changed.is_empty() {
                return;
            }
            last = format!("HTTP {} {} (changed: {changed:?})", answer.status, answer.preview());
        }
        panic!("the {name} base body does something new each time it is posted: {last}");
    }

    async fn send(&self, req: &Req) -> Result<Answer, String> {
        let mut request = self.http.request(req.method.clone(), self.url(&req.path)).body(req.body.clone());
        match &req.auth {
            Auth::Good => request = request.header("authorization", &self.good_auth),
            Auth::Missing => {}
            Auth::Header(bytes) => {
                let value =
                    reqwest::header::HeaderValue::from_bytes(bytes).map_err(|err| format!("unsendable: {err}"))?;
                request = request.header("authorization", value);
            }
        }
        if let Some(content_type) = &req.content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.map_err(|err| format!("no answer: {err}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|err| format!("no body: {err}"))?;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(600)]).into_owned();
        Ok(Answer { status, size: bytes.len(), json, text })
    }

    /// What the simulators have been asked to write, and what they took.
    fn snapshot(&self) -> Snapshot {
        let nexus = self.nexus.request_counts();
        let mut snapshot = Snapshot::default();
        for route in &nexus.routes {
            let method = route.route.split(' ').next().unwrap_or_default();
            let writes = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
            if !writes || route.route.to_ascii_lowercase().contains("/account") {
                continue;
            }
            snapshot.nexus_writes += route.count;
            snapshot.nexus_writes_ok +=
                route.statuses.iter().filter(|(status, _)| (200..300).contains(*status)).map(|(_, n)| n).sum::<u64>();
        }
        for route in &self.qargo.request_counts().routes {
            let writes = !route.method.eq_ignore_ascii_case("GET") && route.route != "/v1/auth/token";
            if !writes {
                continue;
            }
            snapshot.qargo_writes += route.total;
            snapshot.qargo_writes_ok +=
                route.by_status.iter().filter(|(status, _)| status.starts_with('2')).map(|(_, n)| n).sum::<u64>();
        }
        snapshot
    }
}

/// Writes asked of the simulators so far.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    nexus_writes: u64,
    nexus_writes_ok: u64,
    qargo_writes: u64,
    qargo_writes_ok: u64,
}

impl Snapshot {
    /// What was written (taken) since `before`; requests the simulators refused are not changes.
    fn changes_since(&self, before: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        if self.nexus_writes_ok != before.nexus_writes_ok {
            out.push(format!("{} write(s) taken by Nexus", self.nexus_writes_ok - before.nexus_writes_ok));
        }
        if self.qargo_writes_ok != before.qargo_writes_ok {
            out.push(format!("{} write(s) taken by Qargo", self.qargo_writes_ok - before.qargo_writes_ok));
        }
        out
    }

    /// Write requests that reached a simulator (taken or refused) since `before`.
    fn attempts_since(&self, before: &Snapshot) -> u64 {
        (self.nexus_writes - before.nexus_writes) + (self.qargo_writes - before.qargo_writes)
    }
}

// ---- requests and answers ------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Auth {
    /// The inbound credential, as Qargo sends it.
    Good,
    /// No `Authorization` header.
    Missing,
    /// This header value.
    Header(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Req {
    label: String,
    method: reqwest::Method,
    path: String,
    auth: Auth,
    content_type: Option<String>,
    body: Vec<u8>,
    /// The body names well-formed ids (or a consignment reference) Qargo does not know: the bridge
    /// cannot tell before it books, so a booking whose labels stay pending (a retryable
    /// `INTERNAL_ERROR` with the booking) is allowed, as in `spec_bodies`.
    unknown_ids: bool,
    /// Check the peak memory the request took against its body size ([`PROBE_FACTOR`]).
    memory_probe: bool,
}

impl Req {
    /// `POST path` with the good credential and `Content-Type: application/json`.
    fn post(path: &str, body: impl Into<Vec<u8>>) -> Req {
        Req {
            label: String::new(),
            method: reqwest::Method::POST,
            path: path.to_owned(),
            auth: Auth::Good,
            content_type: Some("application/json".into()),
            body: body.into(),
            unknown_ids: false,
            memory_probe: false,
        }
    }

    fn json(path: &str, body: &Value) -> Req {
        Req::post(path, with_raw(body))
    }

    fn label(mut self, label: impl Into<String>) -> Req {
        self.label = label.into();
        self
    }

    fn memory_probe(mut self) -> Req {
        self.memory_probe = true;
        self
    }

    fn unknown_ids(mut self) -> Req {
        self.unknown_ids = true;
        self
    }

    fn auth(mut self, auth: Auth) -> Req {
        self.auth = auth;
        self
    }

    fn content_type(mut self, content_type: Option<&str>) -> Req {
        self.content_type = content_type.map(str::to_owned);
        self
    }

    fn method(mut self, method: reqwest::Method) -> Req {
        self.method = method;
        self
    }

    /// The request in a line: method, path, auth, body (cut).
    fn describe(&self) -> String {
        let auth = match &self.auth {
            Auth::Good => "good credential".to_owned(),
            Auth::Missing => "no credential".to_owned(),
            Auth::Header(bytes) => format!("Authorization: {}", cut(&String::from_utf8_lossy(bytes), 80)),
        };
        format!(
            "{} {} ({auth}, content-type {:?}, {} bytes): {}",
            self.method,
            self.path,
            self.content_type,
            self.body.len(),
            cut(&String::from_utf8_lossy(&self.body), 300)
        )
    }
}

/// `body` as JSON text, with [`RAW`] placeholders (`"__hostile_corpus_raw__:NaN"`) replaced by
/// their raw text.
fn with_raw(body: &Value) -> Vec<u8> {
    let text = body.to_string();
    if !text.contains(RAW) {
        return text.into_bytes();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let marker = format!("\"{RAW}:");
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(&after[..end]);
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// `base` as JSON text with the node at `pointer` replaced by the JSON text `text` (a large array
/// written directly, never built as a value).
fn spliced(base: &Value, pointer: &str, text: &str) -> Vec<u8> {
    const MARK: &str = "__hostile_corpus_splice__";
    let marked = set(base, pointer, json!(MARK)).to_string();
    marked.replacen(&format!("\"{MARK}\""), text, 1).into_bytes()
}

/// A value that serialises as the raw JSON text `text` (e.g. `NaN`, `1e400`).
fn raw(text: &str) -> Value {
    json!(format!("{RAW}:{text}"))
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}… ({} chars)", &text[..at], text.chars().count()),
        None => text.to_owned(),
    }
}

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    size: usize,
    json: Value,
    /// The first bytes, as text.
    text: String,
}

impl Answer {
    fn preview(&self) -> String {
        format!("{} bytes: {}", self.size, cut(&self.text, 400))
    }

    fn errors(&self) -> Vec<Value> {
        self.json.get("errors").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    fn result(&self) -> &str {
        self.json.get("result").and_then(Value::as_str).unwrap_or_default()
    }

    fn booked(&self) -> bool {
        self.json.get("booking").is_some_and(Value::is_object)
    }

    /// A dispatch answer that made a booking now (so the simulators may change).
    fn booked_now(&self) -> bool {
        self.status == 200 && self.booked() && matches!(self.result(), "booked" | "rebooked")
    }
}

/// What a request's answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 413 (the body is over `MAX_BODY_BYTES`), or the connection closed by the server while a
    /// body well over the limit was still being sent.
    TooLarge,
    /// Exactly this 4xx, as Qargo's `{errors: [{error_type: USER_INPUT_ERROR, error_message}]}`.
    Status(u16),
    /// Dispatch: 200 with errors, each `USER_INPUT_ERROR` naming a payload field or `NOT_SUPPORTED`,
    /// and no booking.
    DispatchRefused,
    /// Dispatch: [`Expect::DispatchRefused`], or 400 (not a payload).
    DispatchNotAccepted,
    /// Dispatch: booked, refused ([`Expect::DispatchRefused`]) or 400; never `INTERNAL_ERROR`.
    DispatchHandled,
    /// Dispatch: 200 without errors, `nothing to cancel`.
    NothingToCancel,
    /// Visibility: 202 routed, or 400 / 422 refused.
    VisibilityHandled,
    /// Visibility: 400 or 422.
    VisibilityRefused,
}

/// How much a request may change on the simulators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acts {
    /// Nothing, whatever the answer says.
    Never,
    /// As the answer says: a dispatch answered `booked` (or a visibility body answered 202) may
    /// write, anything else may not.
    PerAnswer,
}

/// Whether `answer` is a booking whose labels are pending (a retryable `INTERNAL_ERROR` carrying the
/// booking): what a dispatch naming ids Qargo does not know gets.
fn labels_pending(answer: &Answer) -> bool {
    answer.status == 200
        && answer.booked()
        && answer.errors().iter().all(|e| {
            e["error_type"] == "INTERNAL_ERROR"
                && e["error_message"].as_str().is_some_and(|m| m.contains("labels are not attached yet"))
        })
}

/// Problems with an answer, in words; `unknown_ids`: see [`Req::unknown_ids`].
fn judge(expect: Expect, answer: &Answer, unknown_ids: bool) -> Vec<String> {
    let pending_allowed = unknown_ids && labels_pending(answer);
    let mut problems = Vec::new();
    if answer.status >= 500 {
        problems.push(format!("HTTP {} (a 5xx with nothing down)", answer.status));
    }
    if answer.size > ANSWER_LIMIT {
        problems.push(format!("an answer of {} bytes (over {ANSWER_LIMIT})", answer.size));
    }
    let errors = answer.errors();
    if !answer.json.is_object() || answer.json.get("errors").is_none_or(|e| !e.is_array()) {
        problems.push("not Qargo's answer shape ({errors: [...]})".into());
        return problems;
    }
    for error in &errors {
        let kind = error.get("error_type").and_then(Value::as_str).unwrap_or_default();
        let message = error.get("error_message").and_then(Value::as_str).unwrap_or_default();
        if message.trim().is_empty() {
            problems.push(format!("a {kind:?} error without a message"));
        }
        if kind == "INTERNAL_ERROR" && !pending_allowed {
            problems.push(format!(
                "INTERNAL_ERROR (retry) for hostile input: a retry cannot fix it ({})",
                cut(message, 200)
            ));
        }
    }
    let user_input_4xx = |wanted: &[u16]| {
        wanted.contains(&answer.status)
            && errors.first().and_then(|e| e.get("error_type")) == Some(&json!("USER_INPUT_ERROR"))
    };
    let refused_200 = || {
        answer.status == 200
            && !errors.is_empty()
            && !answer.booked()
            && errors.iter().all(|e| match e.get("error_type").and_then(Value::as_str) {
                Some("USER_INPUT_ERROR") => e
                    .get("field")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.starts_with("payload") || f.starts_with("operation")),
                Some("NOT_SUPPORTED") => true,
                _ => false,
            })
    };
    let fits = pending_allowed
        || match expect {
            Expect::Status(status) => user_input_4xx(&[status]),
            Expect::TooLarge => user_input_4xx(&[413]),
            Expect::DispatchRefused => refused_200(),
            Expect::DispatchNotAccepted => refused_200() || user_input_4xx(&[400]),
            Expect::DispatchHandled => {
                refused_200()
                    || user_input_4xx(&[400])
                    || (answer.status == 200 && errors.is_empty() && answer.booked())
            }
            Expect::NothingToCancel => {
                answer.status == 200 && errors.is_empty() && !answer.booked() && answer.result() == "nothing to cancel"
            }
            Expect::VisibilityHandled => (answer.status == 202 && errors.is_empty()) || user_input_4xx(&[400, 422]),
            Expect::VisibilityRefused => user_input_4xx(&[400, 422]),
        };
    if !fits {
        let unnamed = answer.status == 200
            && errors
                .iter()
                .any(|e| e["error_type"] == "USER_INPUT_ERROR" && e.get("field").is_none_or(Value::is_null));
        let why = if unnamed { " (a USER_INPUT_ERROR that names no payload field)" } else { "" };
        problems.push(format!("expected {expect:?}, got HTTP {}{why}", answer.status));
    }
    problems
}

// ---- the corpus runner ---------------------------------------------------------------------------

/// One failed check of one request.
#[derive(Debug, Clone)]
struct Failure {
    key: String,
    request: String,
    problems: Vec<String>,
    answer: String,
}

#[derive(Default)]
struct Tally {
    requests: usize,
    cases: usize,
    /// Answers over [`ANSWER_LIMIT`], and changes no answer allowed: (of requests not in
    /// [`EXPECTED_TO_FAIL`], of requests in it).
    over_limit: (usize, usize),
    unexpected_changes: (usize, usize),
    /// Requests whose writes reached a simulator although it took none (the simulator refused).
    refused_writes: usize,
    failures: Vec<Failure>,
    notes: Vec<String>,
    by_status: BTreeMap<u16, usize>,
    /// The highest peak memory seen while a request was handled (requests of known bugs left out).
    peak_kib: u64,
    /// Memory probes that could not be measured (the peak could not be reset).
    unmeasured: Vec<String>,
}

impl Tally {
    /// Sends `requests` in order, judging each answer against `expect` and what changed against
    /// `acts`. The requests are made one at a time, so that large bodies are not all held at once.
    async fn case(
        &mut self,
        env: &Env,
        name: &str,
        expect: Expect,
        acts: Acts,
        requests: impl IntoIterator<Item = Req>,
    ) {
        self.cases += 1;
        let (started, mut count) = (Instant::now(), 0);
        for (index, req) in requests.into_iter().enumerate() {
            count += 1;
            let label = if req.label.is_empty() { index.to_string() } else { req.label.clone() };
            self.one(env, name, &label, expect, acts, &req).await;
        }
        if verbose() {
            eprintln!(
                "hostile corpus: {name}: {count} requests in {:.2}s, peak memory so far {} MB, resident {} MB",
                started.elapsed().as_secs_f64(),
                self.peak_kib / 1024,
                resident_kib() / 1024
            );
        }
    }

    /// Sends one request and judges its answer, what it changed and (where the peak can be reset)
    /// the memory it took.
    async fn one(
        &mut self,
        env: &Env,
        name: &str,
        label: &str,
        expect: Expect,
        acts: Acts,
        req: &Req,
    ) -> Option<Answer> {
        let key = format!("{name}/{label}");
        let known = is_expected_to_fail(&key);
        let before = env.snapshot();
        release_free_memory();
        let resident = resident_kib();
        let reset = reset_peak();
        let answer = env.send(req).await;
        let peak = peak_memory_kib();
        let after = env.snapshot();
        // The peak of a request that shows a known bug is left out of the corpus's peak.
        if !known {
            self.peak_kib = self.peak_kib.max(peak);
        }
        let grown = peak.saturating_sub(resident);
        if verbose() && reset && grown > 16 * 1024 {
            eprintln!("hostile corpus: {key}: peak memory +{} MB", grown / 1024);
        }
        let mut problems = Vec::new();
        if req.memory_probe {
            let bound = PROBE_BASE_KIB + PROBE_FACTOR * req.body.len() as u64 / 1024;
            if !reset {
                self.unmeasured.push(key.clone());
            } else if grown > bound {
                problems.push(format!(
                    "peak memory grew by {} MB while handling a {} KiB body (more than {} MB + {PROBE_FACTOR}x the body)",
                    grown / 1024,
                    req.body.len() / 1024,
                    PROBE_BASE_KIB / 1024
                ));
            }
        }
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) if err.starts_with("unsendable") => {
                self.notes.push(format!("{key}: not sent ({err})"));
                return None;
            }
            Err(err) if expect == Expect::TooLarge && req.body.len() > bridge::api::MAX_BODY_BYTES => {
                // The server answered 413 and closed the connection while the body was still being
                // sent: the client saw the connection close before it read the answer.
                self.requests += 1;
                self.notes.push(format!("{key}: the connection was closed while sending the body ({err})"));
                return None;
            }
            Err(err) => {
                self.requests += 1;
                problems.push(format!("{err} (did the bridge panic or drop the connection?)"));
                self.failures.push(Failure { key, request: req.describe(), problems, answer: String::new() });
                return None;
            }
        };
        self.requests += 1;
        *self.by_status.entry(answer.status).or_default() += 1;
        problems.extend(judge(expect, &answer, req.unknown_ids));
        if answer.size > ANSWER_LIMIT {
            if known { self.over_limit.1 += 1 } else { self.over_limit.0 += 1 }
        }
        let changes = after.changes_since(&before);
        let allowed = acts == Acts::PerAnswer
            && if req.path == DISPATCH {
                (answer.status == 200 && matches!(answer.result(), "booked" | "rebooked" | "cancelled"))
                    || (req.unknown_ids && labels_pending(&answer))
            } else {
                answer.status == 202
            };
        if !changes.is_empty() && !allowed {
            if known {
                self.unexpected_changes.1 += 1
            } else {
                self.unexpected_changes.0 += 1
            }
            problems.push(format!("changed the simulators: {}", changes.join(", ")));
        } else if !changes.is_empty() && req.path == VISIBILITY {
            self.notes.push(format!("{key}: HTTP {}, {}", answer.status, changes.join(", ")));
        } else if changes.is_empty() && after.attempts_since(&before) > 0 {
            self.refused_writes += 1;
        }
        if !problems.is_empty() {
            self.failures.push(Failure { key, request: req.describe(), problems, answer: answer.preview() });
        }
        Some(answer)
    }

    /// Records a failure found outside [`Tally::one`] (a sequence's own check).
    fn fail(&mut self, key: &str, request: &str, problem: String, answer: Option<&Answer>) {
        self.failures.push(Failure {
            key: key.to_owned(),
            request: request.to_owned(),
            problems: vec![problem],
            answer: answer.map(Answer::preview).unwrap_or_default(),
        });
    }
}

fn pattern_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern || key.starts_with(&format!("{pattern}/")),
    }
}

// ---- mutations -----------------------------------------------------------------------------------

/// Every node of `value` but the root, in pre-order: (JSON pointer, node).
fn nodes(value: &Value) -> Vec<(String, Value)> {
    fn walk(value: &Value, at: &str, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                    out.push((path.clone(), child.clone()));
                    walk(child, &path, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let path = format!("{at}/{i}");
                    out.push((path.clone(), child.clone()));
                    walk(child, &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

/// The string leaves of `value`.
fn string_leaves(value: &Value) -> Vec<String> {
    nodes(value).into_iter().filter(|(_, v)| v.is_string()).map(|(p, _)| p).collect()
}

/// `base` with the node at `pointer` set to `value` (a missing parent leaves it as it was).
fn set(base: &Value, pointer: &str, value: Value) -> Value {
    let mut body = base.clone();
    if let Some(slot) = body.pointer_mut(pointer) {
        *slot = value;
    } else if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = body.pointer_mut(parent)
    {
        map.insert(key.replace("~1", "/").replace("~0", "~"), value);
    }
    body
}

/// `base` without the object key at `pointer`.
fn without(base: &Value, pointer: &str) -> Value {
    let mut body = base.clone();
    if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = body.pointer_mut(parent)
    {
        map.remove(&key.replace("~1", "/").replace("~0", "~"));
    }
    body
}

/// `payload.orders[0].id` for `/payload/orders/0/id`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        if segment.parse::<usize>().is_ok() {
            let _ = write!(out, "[{segment}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// A value of another type than `value` (the `n`-th of two alternatives).
fn wrong_type(value: &Value, n: usize) -> Value {
    let alternatives = match value {
        Value::String(_) => [json!(12345), json!({"$ne": null})],
        Value::Number(_) => [json!("12"), json!([1])],
        Value::Bool(_) => [json!("true"), json!(1)],
        Value::Null => [json!({"unexpected": true}), json!(-1)],
        Value::Array(_) => [json!({"0": "x"}), json!("[]")],
        Value::Object(_) => [json!([]), json!("{}")],
    };
    alternatives[n % 2].clone()
}

/// SQL, path traversal towards `order` (a real order), CRLF, NUL, markup and template injections in
/// one string.
fn injection(order: uuid::Uuid) -> String {
    format!(
        "'; DROP TABLE ledger; -- \" OR 1=1 -- ../../orders/order/{order}# \r\nX-Injected: 1\r\n\r\n\u{0}<script>alert(1)</script>{{{{7*7}}}}${{jndi:ldap://x/a}}\u{202e}"
    )
}

/// A string of 1 MiB that is not base64 (so that it never reads as a document's content).
fn one_mib() -> String {
    "hostile;".repeat(MIB / 8)
}

/// The ids of every shape, for an id field: (label, value).
fn id_shapes(other_order: uuid::Uuid) -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!("")),
        ("blank", json!("   ")),
        ("not-a-uuid", json!("not-a-uuid")),
        ("never-linked-uuid", json!(uuid::Uuid::new_v4().to_string())),
        ("path-traversal", json!(format!("../../orders/order/{other_order}#"))),
        ("percent-encoded-slashes", json!(format!("..%2F..%2Forders%2Forder%2F{other_order}"))),
        ("thousand-chars", json!("9".repeat(1000))),
        ("uppercase-braced-uuid", json!(format!("{{{}}}", other_order.to_string().to_uppercase()))),
        ("control-chars", json!("id\r\n\u{0}\u{7}")),
        ("null", Value::Null),
        ("number", json!(42)),
    ]
}

/// Extreme numbers: (label, value).
fn extreme_numbers() -> Vec<(&'static str, Value)> {
    vec![
        ("i64-max", json!(i64::MAX)),
        ("i64-min", json!(i64::MIN)),
        ("u64-max", json!(u64::MAX)),
        ("1e308", json!(1e308)),
        ("-1e308", json!(-1e308)),
        ("smallest-subnormal", json!(5e-324)),
        ("negative-count", json!(-1)),
        ("minus-zero", raw("-0")),
        ("fraction", json!(0.5)),
        ("nan-string", json!("NaN")),
        ("infinity-string", json!("Infinity")),
        ("raw-nan", raw("NaN")),
        ("raw-1e400", raw("1e400")),
        ("raw-hex", raw("0x10")),
    ]
}

/// Extreme and malformed dates for a `YYYY-MM-DD` field.
fn extreme_dates(today: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("9999-12-31", json!("9999-12-31")),
        ("0001-01-01", json!("0001-01-01")),
        ("2026-02-30", json!("2026-02-30")),
        ("with-offset", json!(format!("{today}T10:00:00+01:00"))),
        ("date-plus-offset", json!(format!("{today}+01:00"))),
        ("empty", json!("")),
        ("compact", json!(today.replace('-', ""))),
        ("six-digit-year", json!("+010000-01-01")),
        ("negative-year", json!("-000001-01-01")),
        ("trailing-nul", json!(format!("{today}\u{0}"))),
        ("number", json!(20260617)),
    ]
}

/// Extreme and malformed instants for a date-time field.
fn extreme_instants(today: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("9999-12-31T23:59:59Z", json!("9999-12-31T23:59:59Z")),
        ("9999-12-30T21:00:00Z", json!("9999-12-30T21:00:00Z")),
        ("0001-01-01T00:00:00Z", json!("0001-01-01T00:00:00Z")),
        ("2026-02-30", json!("2026-02-30T10:00:00Z")),
        ("plus-14", json!(format!("{today}T10:00:00+14:00"))),
        ("minus-23-59", json!(format!("{today}T10:00:00-23:59"))),
        ("no-offset", json!(format!("{today}T10:00:00"))),
        ("date-only", json!(today)),
        ("empty", json!("")),
        ("epoch-number", json!(1_781_683_200)),
        ("nanoseconds-and-more", json!(format!("{today}T10:00:00.1234567891234Z"))),
        ("leap-second", json!(format!("{today}T23:59:60Z"))),
    ]
}

// ---- the corpus ----------------------------------------------------------------------------------

/// Deeply nested JSON: `open` `depth` times, `leaf`, then `close` as many times.
fn nested(open: &str, leaf: &str, close: &str, depth: usize) -> String {
    format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
}

/// A valid JSON body padded with spaces to exactly `size` bytes.
fn padded(body: &Value, size: usize) -> Vec<u8> {
    let mut bytes = body.to_string().into_bytes();
    bytes.resize(size.max(bytes.len()), b' ');
    bytes
}

fn basic(credentials: &str) -> Vec<u8> {
    // The header reqwest writes for `user:password` split at the first colon.
    let (user, password) = credentials.split_once(':').map_or((credentials, None), |(u, p)| (u, Some(p)));
    let probe = bridge::http::client_builder()
        .build()
        .unwrap()
        .post("http://127.0.0.1/")
        .basic_auth(user, password)
        .build()
        .unwrap();
    probe.headers()["authorization"].as_bytes().to_vec()
}

/// A value with the label of its request.
type Labelled<T> = (&'static str, T);

/// The bad `Authorization` headers, and the good credential with the scheme cased otherwise.
fn auth_headers(env: &Env) -> (Vec<Labelled<Auth>>, Vec<Labelled<Auth>>) {
    let encoded = env.good_auth.split_once(' ').unwrap().1.to_owned();
    let bad = vec![
        ("missing", Auth::Missing),
        ("empty", Auth::Header(Vec::new())),
        ("scheme-only", Auth::Header(b"Basic".to_vec())),
        ("scheme-and-space", Auth::Header(b"Basic ".to_vec())),
        ("not-base64", Auth::Header(b"Basic !!!not-base64!!!".to_vec())),
        ("bearer", Auth::Header(format!("Bearer {encoded}").into_bytes())),
        ("wrong-password", Auth::Header(basic(&format!("{}:wrong", env.user)))),
        ("password-prefix", Auth::Header(basic(&format!("{}:{}", env.user, &env.password[..env.password.len() - 1])))),
        ("password-longer", Auth::Header(basic(&format!("{}:{}x", env.user, env.password)))),
        ("username-cased", Auth::Header(basic(&format!("{}:{}", env.user.to_uppercase(), env.password)))),
        ("no-colon", Auth::Header(basic(&format!("{}{}", env.user, env.password)))),
        ("empty-user-and-password", Auth::Header(basic(":"))),
        ("scheme-glued", Auth::Header(format!("Basic{encoded}").into_bytes())),
        ("digest", Auth::Header(b"Digest username=\"qargo\", realm=\"x\"".to_vec())),
        ("garbage-bytes", Auth::Header(vec![b'B', b'a', b's', b'i', b'c', b' ', 0xff, 0xfe, 0x80, 0x81])),
        ("eight-kib", Auth::Header(format!("Basic {}", "QUFB".repeat(2048)).into_bytes())),
    ];
    let cased = vec![
        ("BASIC", Auth::Header(format!("BASIC {encoded}").into_bytes())),
        ("basic", Auth::Header(format!("basic {encoded}").into_bytes())),
        ("extra-spaces", Auth::Header(format!("Basic   {encoded}  ").into_bytes())),
    ];
    (bad, cased)
}

async fn run_corpus(env: &Env, bases: &Bases) -> Tally {
    let mut tally = Tally::default();
    let other = bases.booked.order_id;
    let (_, dispatch) = env.fresh_payload("CREATE").await;
    let refusable = set(&dispatch, "/operation", json!("NOT-AN-OPERATION"));
    let visibility = [("stop", &bases.stop), ("eta", &bases.eta), ("document", &bases.document)];

    // Credentials: a valid body with a bad credential is refused before it is read.
    let (bad, cased) = auth_headers(env);
    for (route, body) in [(DISPATCH, &dispatch), (VISIBILITY, &bases.stop)] {
        let requests =
            bad.iter().map(|(label, auth)| Req::json(route, body).auth(auth.clone()).label(*label)).collect::<Vec<_>>();
        tally.case(env, &format!("bad-credentials{route}"), Expect::Status(401), Acts::Never, requests).await;
    }
    let requests = cased
        .iter()
        .map(|(label, auth)| Req::json(DISPATCH, &refusable).auth(auth.clone()).label(*label))
        .collect::<Vec<_>>();
    tally.case(env, "credential-scheme-cased/dispatch", Expect::DispatchRefused, Acts::Never, requests).await;
    let requests = cased
        .iter()
        .map(|(label, auth)| Req::post(VISIBILITY, r#"{"events": []}"#).auth(auth.clone()).label(*label))
        .collect::<Vec<_>>();
    tally.case(env, "credential-scheme-cased/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;

    // Methods and paths that are not the two routes.
    let mut requests = Vec::new();
    for route in [DISPATCH, VISIBILITY] {
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::PATCH] {
            requests.push(Req::json(route, &dispatch).method(method.clone()).label(format!("{method}{route}")));
        }
    }
    tally.case(env, "wrong-method", Expect::Status(405), Acts::Never, requests).await;
    let paths = [
        "/",
        "/qargo",
        "/qargo/Dispatch",
        "/QARGO/DISPATCH",
        "/qargo/dispatch.json",
        "/qargo/dispatch%2F..%2Fvisibility",
        "/qargo/dispatch/x",
        "/qargo//dispatch",
        "/qargo/visibility;x=1",
        "/qargo/%64ispatch",
    ];
    let requests = paths.iter().map(|path| Req::json(path, &dispatch).label(*path)).collect::<Vec<_>>();
    tally.case(env, "unknown-path", Expect::Status(404), Acts::Never, requests).await;

    // Malformed JSON.
    let text = dispatch.to_string();
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("open-brace", b"{".to_vec()),
        ("key-without-value", br#"{"operation":"#.to_vec()),
        ("missing-value", br#"{"operation": "CREATE", "payload": }"#.to_vec()),
        ("trailing-comma", br#"{"operation": "CREATE",}"#.to_vec()),
        ("single-quotes", b"{'operation': 'CREATE'}".to_vec()),
        ("unquoted-keys", b"{operation: CREATE}".to_vec()),
        ("two-documents", format!("{text}{text}").into_bytes()),
        ("truncated", text.as_bytes()[..text.len() / 2].to_vec()),
        ("bom", [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat()),
        ("comment", format!("// hi\n{text}").into_bytes()),
        ("invalid-utf8-in-string", b"{\"operation\": \"CR\xff\xfeATE\"}".to_vec()),
        ("lone-surrogate", br#"{"operation": "\ud800"}"#.to_vec()),
        ("bad-escape", br#"{"operation": "\x41"}"#.to_vec()),
        ("raw-control-char", b"{\"operation\": \"CRE\nATE\"}".to_vec()),
        ("utf16", text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
    ];
    for route in [DISPATCH, VISIBILITY] {
        let requests =
            malformed.iter().map(|(label, body)| Req::post(route, body.clone()).label(*label)).collect::<Vec<_>>();
        tally.case(env, &format!("malformed-json{route}"), Expect::Status(400), Acts::Never, requests).await;
    }
    // JSON that is not an object.
    for (route, expect) in [(DISPATCH, Expect::DispatchNotAccepted), (VISIBILITY, Expect::VisibilityRefused)] {
        let requests = ["null", "true", "42", "\"CREATE\"", "[]", "[{}]", "{}"]
            .iter()
            .map(|body| Req::post(route, *body).label(*body))
            .collect::<Vec<_>>();
        tally.case(env, &format!("not-an-object{route}"), expect, Acts::Never, requests).await;
    }

    // Random bytes (seeded), empty and blank bodies.
    let mut rng = fastrand::Rng::with_seed(0x0405_711e);
    for route in [DISPATCH, VISIBILITY] {
        let requests = (0..12)
            .map(|i| {
                let len = [1, 2, 7, 64, 500, 4096][i % 6] + rng.usize(0..16);
                let mut bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                // Never valid JSON: a byte no JSON text starts with.
                bytes[0] = [0x00, 0xff, b'#', b'<'][i % 4];
                Req::post(route, bytes).label(format!("random-{i}"))
            })
            .collect::<Vec<_>>();
        tally.case(env, &format!("random-bytes{route}"), Expect::Status(400), Acts::Never, requests).await;
        let requests = vec![
            Req::post(route, Vec::new()).label("empty"),
            Req::post(route, Vec::new()).content_type(None).label("empty-no-content-type"),
            Req::post(route, "   \r\n\t ").label("blank"),
            Req::post(route, vec![0u8; 64]).label("nul-bytes"),
        ];
        tally.case(env, &format!("empty-body{route}"), Expect::Status(400), Acts::Never, requests).await;
    }

    // Wrong content types: the body decides, never the header (Qargo always sends JSON); a valid
    // body still books, a form or XML body is not a payload.
    let types = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/json; charset=utf-16"),
        Some("x/y; charset=\"'; DROP TABLE x; --"),
    ];
    let mut requests = Vec::new();
    for content_type in types {
        let (_, fresh) = env.fresh_payload("CREATE").await;
        requests.push(Req::json(DISPATCH, &fresh).content_type(content_type).label(format!("{content_type:?}")));
    }
    tally.case(env, "wrong-content-type/dispatch", Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    let requests = types
        .iter()
        .map(|t| Req::json(VISIBILITY, &bases.stop).content_type(*t).label(format!("{t:?}")))
        .collect::<Vec<_>>();
    tally.case(env, "wrong-content-type/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;
    for route in [DISPATCH, VISIBILITY] {
        let requests = vec![
            Req::post(route, "operation=CREATE&payload=%7B%7D")
                .content_type(Some("application/x-www-form-urlencoded"))
                .label("form"),
            Req::post(route, "<dispatch><operation>CREATE</operation></dispatch>")
                .content_type(Some("application/xml"))
                .label("xml"),
            Req::post(route, "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{}\r\n--x--\r\n")
                .content_type(Some("multipart/form-data; boundary=x"))
                .label("multipart"),
        ];
        tally.case(env, &format!("not-json-bodies{route}"), Expect::Status(400), Acts::Never, requests).await;
    }

    // Sizes around the limit.
    let max = bridge::api::MAX_BODY_BYTES;
    for (route, body) in [(DISPATCH, &refusable), (VISIBILITY, &json!({"events": []}))] {
        let sizes =
            [("limit-plus-one", max + 1), ("limit-plus-64k", max + 64 * 1024), ("three-times-the-limit", 3 * max)];
        let requests = sizes.into_iter().map(|(label, size)| Req::post(route, padded(body, size)).label(label));
        tally.case(env, &format!("oversized{route}"), Expect::TooLarge, Acts::Never, requests).await;
    }
    let requests = vec![Req::post(DISPATCH, padded(&refusable, max)).label("exactly-the-limit")];
    tally.case(env, "at-the-limit/dispatch", Expect::DispatchRefused, Acts::Never, requests).await;
    let requests = vec![Req::post(VISIBILITY, padded(&json!({"events": []}), max)).label("exactly-the-limit")];
    tally.case(env, "at-the-limit/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;

    // Deeply nested JSON, 10,000 levels, at the root and inside a field.
    let deep = 10_000;
    for route in [DISPATCH, VISIBILITY] {
        let requests = vec![
            Req::post(route, nested("[", "1", "]", deep)).label("arrays"),
            Req::post(route, nested("{\"a\":", "1", "}", deep)).label("objects"),
            Req::post(
                route,
                format!("{{\"operation\":\"CREATE\",\"payload\":{}}}", nested("{\"orders\":", "[]", "}", deep)),
            )
            .label("in-payload"),
            Req::post(route, format!("{{\"events\":{}}}", nested("[", "{}", "]", deep))).label("in-events"),
            Req::post(route, nested("[", "", "", deep)).label("unclosed"),
        ];
        // Unknown keys are skipped (without recursing) by the dispatch parser: a refusal then.
        let expect = if route == DISPATCH { Expect::DispatchNotAccepted } else { Expect::Status(400) };
        tally.case(env, &format!("deeply-nested{route}"), expect, Acts::Never, requests).await;
    }
    // Nesting inside fields the bridge keeps as JSON (additional fields), at a depth the parser takes.
    let fields_deep = json!(serde_json::from_str::<Value>(&nested("{\"a\":", "1", "}", 120)).unwrap());
    let requests = vec![
        Req::json(DISPATCH, &set(&refusable, "/payload/orders/0/custom_fields/deep", fields_deep.clone()))
            .label("order"),
        Req::json(DISPATCH, &set(&refusable, "/payload/custom_fields/deep", fields_deep.clone())).label("trip"),
    ];
    tally.case(env, "nested-custom-fields/dispatch", Expect::DispatchRefused, Acts::Never, requests).await;
    let requests = visibility
        .iter()
        .map(|(kind, base)| {
            Req::json(VISIBILITY, &set(base, "/order/custom_fields/deep", fields_deep.clone())).label(*kind)
        })
        .collect::<Vec<_>>();
    tally.case(env, "nested-custom-fields/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;

    // Wrong types in every field: of the dispatch body (a fresh order, so that a body the bridge
    // still takes may book once) and of each visibility update kind.
    let (_, fresh) = env.fresh_payload("CREATE").await;
    let requests = nodes(&fresh)
        .iter()
        .enumerate()
        .map(|(i, (pointer, value))| {
            Req::json(DISPATCH, &set(&fresh, pointer, wrong_type(value, i))).label(dotted(pointer))
        })
        .collect::<Vec<_>>();
    tally.case(env, "wrong-types/dispatch", Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    for (kind, base) in visibility {
        let requests = nodes(base)
            .iter()
            .enumerate()
            .map(|(i, (pointer, value))| {
                Req::json(VISIBILITY, &set(base, pointer, wrong_type(value, i))).label(dotted(pointer))
            })
            .collect::<Vec<_>>();
        tally.case(env, &format!("wrong-types/{kind}"), Expect::VisibilityHandled, Acts::Never, requests).await;
    }

    // Injection strings and 1 MiB strings in every string field. Each dispatch is of a fresh order:
    // a hostile text in a free-text field may be booked, and must reach Nexus safely.
    let hostile = injection(other);
    let long = one_mib();
    for (variant, text) in [("injection", &hostile), ("one-mib", &long)] {
        let mut fresh = Vec::new();
        for pointer in string_leaves(&dispatch).into_iter().filter(|p| p != "/operation") {
            fresh.push((env.fresh_payload("CREATE").await.1, pointer));
        }
        // The consignment reference is how the bridge finds the consignment in Qargo's order: any text
        // is a well-formed reference, one Qargo does not know (so labels may stay pending).
        let requests = fresh.into_iter().map(|(fresh, pointer)| {
            let req = Req::json(DISPATCH, &set(&fresh, &pointer, json!(text))).label(dotted(&pointer));
            if pointer.ends_with("/consignment_reference_number") { req.unknown_ids() } else { req }
        });
        tally
            .case(env, &format!("{variant}-strings/dispatch"), Expect::DispatchHandled, Acts::PerAnswer, requests)
            .await;
        for (kind, base) in visibility {
            let requests = string_leaves(base)
                .into_iter()
                .map(|pointer| Req::json(VISIBILITY, &set(base, &pointer, json!(text))).label(dotted(&pointer)));
            tally
                .case(env, &format!("{variant}-strings/{kind}"), Expect::VisibilityHandled, Acts::Never, requests)
                .await;
        }
    }
    // A 1 MiB operation, and hostile operations.
    let mut requests = vec![
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!(format!("CREATE{long}")))).label("create-and-1-mib"),
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!(long))).label("1-mib"),
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!(hostile))).label("injection"),
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!("CREATE\u{0}"))).label("create-nul"),
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!("DELETE"))).label("delete"),
        Req::json(DISPATCH, &set(&dispatch, "/operation", json!(""))).label("empty"),
        Req::json(DISPATCH, &without(&dispatch, "/operation")).label("missing"),
    ];
    for (label, value) in [("number", json!(1)), ("array", json!(["CREATE"])), ("object", json!({"op": "CREATE"}))] {
        requests.push(Req::json(DISPATCH, &set(&dispatch, "/operation", value)).label(label));
    }
    tally.case(env, "hostile-operation", Expect::DispatchNotAccepted, Acts::Never, requests).await;
    let (_, fresh) = env.fresh_payload("CREATE").await;
    let padded_op = format!("{}create{}", " ".repeat(MIB / 2), " ".repeat(MIB / 2));
    let requests =
        vec![Req::json(DISPATCH, &set(&fresh, "/operation", json!(padded_op))).label("create-in-1-mib-of-spaces")];
    tally.case(env, "padded-operation", Expect::DispatchHandled, Acts::PerAnswer, requests).await;

    // Extreme numbers in every number field of the dispatch body (a fresh order each: a value the
    // rules take may book), and pallet counts that can never be booked.
    let quantity = "/payload/orders/0/consignments/0/goods/0/quantity";
    let number_fields: Vec<String> = nodes(&dispatch)
        .into_iter()
        .filter(|(p, v)| v.is_number() && p != quantity)
        .map(|(p, _)| p)
        .collect::<Vec<_>>();
    let mut requests = Vec::new();
    for pointer in &number_fields {
        for (label, value) in extreme_numbers() {
            let (_, fresh) = env.fresh_payload("CREATE").await;
            requests
                .push(Req::json(DISPATCH, &set(&fresh, pointer, value)).label(format!("{}={label}", dotted(pointer))));
        }
    }
    tally.case(env, "extreme-numbers/dispatch", Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    let mut requests = Vec::new();
    for (label, value) in extreme_numbers() {
        let (_, fresh) = env.fresh_payload("CREATE").await;
        requests.push(Req::json(DISPATCH, &set(&fresh, quantity, value)).label(format!("quantity={label}")));
    }
    for count in [0, -1, -26, 27, 1_000_000] {
        requests.push(Req::json(DISPATCH, &set(&dispatch, quantity, json!(count))).label(format!("quantity={count}")));
    }
    tally.case(env, "extreme-pallet-counts", Expect::DispatchNotAccepted, Acts::Never, requests).await;
    for (kind, base) in visibility {
        let numbers: Vec<String> = nodes(base).into_iter().filter(|(_, v)| v.is_number()).map(|(p, _)| p).collect();
        let mut requests = Vec::new();
        for pointer in numbers.iter().take(4) {
            for (label, value) in extreme_numbers() {
                requests.push(
                    Req::json(VISIBILITY, &set(base, pointer, value)).label(format!("{}={label}", dotted(pointer))),
                );
            }
        }
        tally.case(env, &format!("extreme-numbers/{kind}"), Expect::VisibilityHandled, Acts::Never, requests).await;
    }

    // Extreme dates: the collection date can never be one of these (refused before Nexus); the
    // delivery date of a next-day service is not read; a time window of impossible times.
    let pickup_date = "/payload/orders/0/consignments/0/pickup_stop/date";
    let ambiguous = ["with-offset", "date-plus-offset", "compact"];
    let requests = extreme_dates(&env.today)
        .into_iter()
        .filter(|(label, _)| !ambiguous.contains(label))
        .map(|(label, value)| Req::json(DISPATCH, &set(&dispatch, pickup_date, value)).label(label))
        .collect::<Vec<_>>();
    tally.case(env, "extreme-dates/collection", Expect::DispatchNotAccepted, Acts::Never, requests).await;
    let mut requests = Vec::new();
    for (label, value) in extreme_dates(&env.today) {
        let (_, fresh) = env.fresh_payload("CREATE").await;
        let body = set(&fresh, "/payload/orders/0/consignments/0/delivery_stop/date", value.clone());
        requests.push(Req::json(DISPATCH, &body).label(format!("delivery={label}")));
        let (_, fresh) = env.fresh_payload("CREATE").await;
        let body = set(&fresh, "/payload/orders/0/service_level", json!({"code": "SD"}));
        let body = set(&body, "/payload/orders/0/consignments/0/delivery_stop/date", value);
        requests.push(Req::json(DISPATCH, &body).label(format!("specific-day-delivery={label}")));
    }
    for (label, value) in extreme_dates(&env.today).into_iter().filter(|(label, _)| ambiguous.contains(label)) {
        let (_, fresh) = env.fresh_payload("CREATE").await;
        requests.push(Req::json(DISPATCH, &set(&fresh, pickup_date, value)).label(format!("collection={label}")));
    }
    for (label, start, end) in [
        ("25h", "25:00", "26:00"),
        ("24h", "24:00", "24:30"),
        ("negative", "-01:00", "10:00"),
        ("60-minutes", "10:60", "11:00"),
        ("backwards", "17:00", "08:00"),
        ("empty", "", ""),
    ] {
        let (_, fresh) = env.fresh_payload("CREATE").await;
        let window = json!({"code": "TD", "start_time": start, "end_time": end});
        let body = set(&fresh, "/payload/orders/0/consignments/0/delivery_stop/time_window", window);
        requests.push(Req::json(DISPATCH, &body).label(format!("time-window={label}")));
    }
    tally.case(env, "extreme-dates/delivery", Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    // Visibility: every date-time field of the Stop and Document bodies (a replay does nothing, so a
    // date changes nothing either).
    for (kind, base) in [("stop", &bases.stop), ("document", &bases.document)] {
        let mut requests = Vec::new();
        for pointer in instant_fields(base) {
            for (label, value) in extreme_instants(&env.today) {
                requests.push(
                    Req::json(VISIBILITY, &set(base, &pointer, value)).label(format!("{}={label}", dotted(&pointer))),
                );
            }
        }
        tally.case(env, &format!("extreme-dates/{kind}"), Expect::VisibilityHandled, Acts::Never, requests).await;
    }

    // Ids of every shape in every id field.
    let id_fields = [
        "/payload/id",
        "/payload/orders/0/id",
        "/payload/orders/0/consignments/0/id",
        "/payload/orders/0/consignments/0/pickup_stop/id",
        "/payload/orders/0/consignments/0/delivery_stop/id",
        "/payload/orders/0/consignments/0/goods/0/id",
        "/payload/orders/0/customer/id",
    ];
    // A UUID (however written) is an id Qargo may know: the bridge cannot tell before it books. Any
    // other shape is no Qargo id at all.
    let well_formed = ["never-linked-uuid", "uppercase-braced-uuid"];
    for (case, wanted) in [("unknown-ids/dispatch", true), ("malformed-ids/dispatch", false)] {
        let mut requests = Vec::new();
        for pointer in id_fields {
            for (label, value) in id_shapes(other).into_iter().filter(|(l, _)| well_formed.contains(l) == wanted) {
                let (_, fresh) = env.fresh_payload("CREATE").await;
                let req =
                    Req::json(DISPATCH, &set(&fresh, pointer, value)).label(format!("{}={label}", dotted(pointer)));
                requests.push(if wanted { req.unknown_ids() } else { req });
            }
        }
        tally.case(env, case, Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    }
    for (kind, base) in visibility {
        let mut requests = Vec::new();
        for pointer in id_fields_of(base) {
            for (label, value) in id_shapes(other) {
                requests.push(
                    Req::json(VISIBILITY, &set(base, &pointer, value)).label(format!("{}={label}", dotted(&pointer))),
                );
            }
        }
        tally.case(env, &format!("id-shapes/{kind}"), Expect::VisibilityHandled, Acts::Never, requests).await;
    }

    // Huge arrays (written as JSON text, not built as values).
    let goods = "/payload/orders/0/consignments/0/goods";
    let line = dispatch.pointer(&format!("{goods}/0")).unwrap().to_string();
    let array = |item: &str, count: usize| format!("[{}]", vec![item; count].join(","));
    let resources = format!(
        "[{}]",
        (0..50_000)
            .map(|i| format!("{{\"resource\":{{\"code\":\"{}\"}}}}", ["PALLEX_OUT", "FORTEC_OUT"][i % 2]))
            .collect::<Vec<_>>()
            .join(",")
    );
    let huge = [
        ("100k-empty-goods-lines", goods, array("{}", 100_000)),
        ("12k-real-goods-lines", goods, array(&line, 12_000)),
        ("100k-empty-orders", "/payload/orders", array("{}", 100_000)),
        ("100k-empty-consignments", "/payload/orders/0/consignments", array("{}", 100_000)),
        ("50k-resources-of-two-networks", "/payload/resource_allocations", resources),
    ];
    let requests = huge.iter().map(|(label, pointer, text)| {
        Req::post(DISPATCH, spliced(&dispatch, pointer, text)).label(*label).memory_probe()
    });
    tally.case(env, "huge-arrays/dispatch", Expect::DispatchNotAccepted, Acts::Never, requests).await;
    let requests =
        [Req::post(DISPATCH, spliced(&dispatch, goods, &array("null", 100_000))).label("100k-null-goods-lines")];
    tally.case(env, "huge-arrays/null-goods", Expect::DispatchNotAccepted, Acts::Never, requests).await;
    let event = |base: &Value| base["events"][0].to_string();
    let position = json!({"timestamp": format!("{}T08:00:00Z", env.today), "update": {"type": "Position"}}).to_string();
    let huge = [
        ("1k-stop-events", &bases.stop, "/events", array(&event(&bases.stop), 1_000)),
        ("1k-eta-events", &bases.eta, "/events", array(&event(&bases.eta), 1_000)),
        ("200-document-events", &bases.document, "/events", array(&event(&bases.document), 200)),
        ("50k-unused-events", &bases.stop, "/events", array(&position, 50_000)),
        ("100k-empty-eta-stops", &bases.eta, "/events/0/update/stops", array("{}", 100_000)),
        ("100k-empty-events", &bases.stop, "/events", array("{}", 100_000)),
    ];
    let requests = huge.iter().map(|(label, base, pointer, text)| {
        Req::post(VISIBILITY, spliced(base, pointer, text)).label(*label).memory_probe()
    });
    tally.case(env, "huge-arrays/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;

    // Updates without ids.
    let (_, fresh) = env.fresh_payload("UPDATE").await;
    let requests = vec![
        Req::json(DISPATCH, &without(&fresh, "/payload/orders/0/consignments/0/id")).label("consignment"),
        Req::json(DISPATCH, &set(&fresh, "/payload/orders/0/consignments/0/id", Value::Null)).label("consignment-null"),
        Req::json(
            DISPATCH,
            &without(
                &without(
                    &without(
                        &without(&without(&fresh, "/payload/id"), "/payload/orders/0/id"),
                        "/payload/orders/0/consignments/0/id",
                    ),
                    "/payload/orders/0/consignments/0/pickup_stop/id",
                ),
                "/payload/orders/0/consignments/0/delivery_stop/id",
            ),
        )
        .label("every-id"),
        Req::json(DISPATCH, &set(&fresh, "/payload/orders", json!([]))).label("no-orders"),
        Req::json(DISPATCH, &without(&fresh, "/payload")).label("no-payload"),
    ];
    tally.case(env, "update-without-ids/dispatch", Expect::DispatchRefused, Acts::Never, requests).await;
    let (_, fresh) = env.fresh_payload("UPDATE").await;
    let requests = vec![Req::json(DISPATCH, &without(&fresh, "/payload/orders/0/id")).label("order")];
    tally.case(env, "update-without-order-id/dispatch", Expect::DispatchHandled, Acts::PerAnswer, requests).await;
    let mut requests = Vec::new();
    for (kind, base) in visibility {
        requests.push(Req::json(VISIBILITY, &without(base, "/events/0/update/id")).label(format!("{kind}/update")));
        requests.push(
            Req::json(VISIBILITY, &set(base, "/events/0/update/id", Value::Null)).label(format!("{kind}/update-null")),
        );
        requests.push(Req::json(VISIBILITY, &without(base, "/order/id")).label(format!("{kind}/order")));
        requests.push(Req::json(VISIBILITY, &without(base, "/order")).label(format!("{kind}/no-order")));
    }
    requests.push(Req::json(VISIBILITY, &without(&bases.stop, "/events/0/update/stop/id")).label("stop/stop"));
    requests.push(Req::json(VISIBILITY, &without(&bases.eta, "/events/0/update/stops/0/id")).label("eta/stop"));
    tally.case(env, "update-without-ids/visibility", Expect::VisibilityHandled, Acts::Never, requests).await;

    // Cancels naming what the bridge never booked.
    let (_, fresh) = env.fresh_payload("CANCEL").await;
    let never = uuid::Uuid::new_v4().to_string();
    let requests = vec![
        Req::json(DISPATCH, &fresh).label("unbooked-consignment"),
        Req::json(
            DISPATCH,
            &set(
                &set(&fresh, "/payload/orders/0/id", json!(never)),
                "/payload/orders/0/consignments/0/id",
                json!(uuid::Uuid::new_v4().to_string()),
            ),
        )
        .label("never-linked-ids"),
        Req::json(
            DISPATCH,
            &set(&fresh, "/payload/orders/0/consignments/0/id", json!(format!("../../orders/order/{other}"))),
        )
        .label("path-traversal"),
        Req::json(DISPATCH, &set(&fresh, "/payload/orders/0/consignments/0/id", json!("x".repeat(1000))))
            .label("thousand-chars"),
    ];
    tally.case(env, "cancel-never-booked", Expect::NothingToCancel, Acts::Never, requests).await;
    let requests = vec![
        Req::json(DISPATCH, &set(&fresh, "/payload/orders", json!([]))).label("no-orders"),
        Req::json(DISPATCH, &without(&fresh, "/payload/orders/0/consignments/0/id")).label("no-consignment-id"),
    ];
    tally.case(env, "cancel-naming-nothing", Expect::DispatchRefused, Acts::Never, requests).await;

    // Extreme ETAs: a legal estimate, however far out, may be sent to Nexus (the answer says 202);
    // last of the Eta cases, and the base sent again afterwards so that Nexus has its ETA back.
    let mut requests = Vec::new();
    for pointer in instant_fields(&bases.eta) {
        for (label, value) in extreme_instants(&env.today) {
            requests.push(
                Req::json(VISIBILITY, &set(&bases.eta, &pointer, value)).label(format!("{}={label}", dotted(&pointer))),
            );
        }
    }
    requests.push(Req::json(VISIBILITY, &bases.eta).label("base-again"));
    tally.case(env, "extreme-dates/eta", Expect::VisibilityHandled, Acts::PerAnswer, requests).await;

    replays(env, &mut tally).await;
    tally
}

/// The date-time fields of a visibility body (by name).
fn instant_fields(base: &Value) -> Vec<String> {
    let names = ["/timestamp", "_timestamp", "eta_start_time", "eta_end_time"];
    nodes(base)
        .into_iter()
        .filter(|(pointer, value)| {
            (value.is_string() || value.is_null())
                && names.iter().any(|n| pointer.ends_with(n))
                && pointer.starts_with("/events/0")
        })
        .map(|(pointer, _)| pointer)
        .collect()
}

/// The id fields of a visibility body: every `id` key.
fn id_fields_of(base: &Value) -> Vec<String> {
    nodes(base)
        .into_iter()
        .filter(|(pointer, _)| pointer.ends_with("/id"))
        .map(|(pointer, _)| pointer)
        .take(8)
        .collect()
}

/// Replayed and reordered operations, each a sequence with its own checks.
async fn replays(env: &Env, tally: &mut Tally) {
    // The same CREATE twice: one booking, the same answer.
    let (_, create) = env.fresh_payload("CREATE").await;
    let req = Req::json(DISPATCH, &create);
    let first = tally.one(env, "create-twice", "first", Expect::DispatchHandled, Acts::PerAnswer, &req).await;
    let second = tally.one(env, "create-twice", "replayed", Expect::DispatchHandled, Acts::Never, &req).await;
    tally.cases += 1;
    if let (Some(first), Some(second)) = (&first, &second) {
        let id = |a: &Answer| a.json["booking"]["nexus_consignment_id"].clone();
        if !first.booked_now() || id(first) != id(second) || second.result() != "already booked" {
            tally.fail(
                "create-twice/replayed",
                &req.describe(),
                format!("the replay is not the same booking: first {} / replay {}", first.preview(), second.preview()),
                Some(second),
            );
        }
    }

    // CREATE, a changed UPDATE, then the older UPDATE (the CREATE's content) delivered late: at most
    // one live booking on Nexus at any time.
    let (_, create) = env.fresh_payload("CREATE").await;
    let mut ids = Vec::new();
    let booked = tally
        .one(env, "reordered-update", "create", Expect::DispatchHandled, Acts::PerAnswer, &Req::json(DISPATCH, &create))
        .await;
    let older = set(&create, "/operation", json!("UPDATE"));
    let newer = set(&older, "/payload/orders/0/consignments/0/goods/0/quantity", json!(3));
    for (label, body) in [("update", &newer), ("older-update-replayed", &older), ("newer-update-again", &newer)] {
        let answer = tally
            .one(env, "reordered-update", label, Expect::DispatchHandled, Acts::PerAnswer, &Req::json(DISPATCH, body))
            .await;
        if let Some(answer) = answer {
            tally.notes.push(format!("reordered-update/{label}: {} ({})", answer.result(), cut(&answer.text, 160)));
            ids.extend(answer.json["booking"]["nexus_consignment_id"].as_u64());
        }
    }
    ids.extend(booked.and_then(|a| a.json["booking"]["nexus_consignment_id"].as_u64()));
    ids.sort_unstable();
    ids.dedup();
    let live: Vec<u64> =
        ids.iter().copied().filter(|id| env.nexus.status_of(*id).is_some_and(|s| s != "CAN")).collect();
    if live.len() != 1 {
        tally.fail(
            "reordered-update/live-bookings",
            "CREATE, UPDATE (3 pallets), the older UPDATE (2 pallets), the UPDATE again",
            format!("{} live bookings on Nexus for one consignment: {live:?} of {ids:?}", live.len()),
            None,
        );
    }
    tally.cases += 1;

    // CANCEL, then the CREATE delivered late: the bridge cannot tell it from a new dispatch (Qargo's
    // payload has no version); whatever it does, at most one live booking.
    let (_, create) = env.fresh_payload("CREATE").await;
    let cancel = set(&create, "/operation", json!("CANCEL"));
    let mut ids = Vec::new();
    for (label, body) in
        [("create", &create), ("cancel", &cancel), ("create-replayed-after-cancel", &create), ("cancel-again", &cancel)]
    {
        let answer = tally
            .one(env, "reordered-cancel", label, Expect::DispatchHandled, Acts::PerAnswer, &Req::json(DISPATCH, body))
            .await;
        if let Some(answer) = answer {
            tally.notes.push(format!("reordered-cancel/{label}: {} ({})", answer.result(), cut(&answer.text, 160)));
            ids.extend(answer.json["booking"]["nexus_consignment_id"].as_u64());
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let live: Vec<u64> =
        ids.iter().copied().filter(|id| env.nexus.status_of(*id).is_some_and(|s| s != "CAN")).collect();
    if live.len() > 1 {
        tally.fail(
            "reordered-cancel/live-bookings",
            "CREATE, CANCEL, the CREATE again, CANCEL again",
            format!("{} live bookings on Nexus for one consignment: {live:?}", live.len()),
            None,
        );
    }
    tally.cases += 1;
}

fn report(failures: &[&Failure], limit: usize) -> String {
    let mut out = String::new();
    for failure in failures.iter().take(limit) {
        let _ = writeln!(
            out,
            "- {}\n    request: {}\n    problems: {}\n    answer: {}",
            failure.key,
            failure.request,
            failure.problems.join("; "),
            failure.answer
        );
    }
    if failures.len() > limit {
        let _ = writeln!(out, "  … and {} more", failures.len() - limit);
    }
    out
}

#[test]
fn hostile_requests_are_refused_cleanly_change_nothing_and_leave_the_bridge_booking() {
    count_panics();
    let started = Instant::now();
    let rt = runtime();
    let (tally, memory_before, memory_after, booked_after) = rt.block_on(async {
        let env = Env::start().await;
        let bases = env.bases().await;
        // Where the peak can be reset, each request's peak is read on its own (see `Tally::one`);
        // otherwise this is the process's peak before and after.
        let resettable = reset_peak();
        let memory_before = peak_memory_kib();
        let mut tally = run_corpus(&env, &bases).await;
        let memory_after = if resettable { tally.peak_kib } else { peak_memory_kib() };

        // Still alive: a valid dispatch books, and the base bodies are still handled.
        let (_, create) = env.fresh_payload("CREATE").await;
        let answer = tally
            .one(
                &env,
                "alive-after",
                "valid-dispatch",
                Expect::DispatchHandled,
                Acts::PerAnswer,
                &Req::json(DISPATCH, &create),
            )
            .await;
        let booked_after = answer.as_ref().is_some_and(Answer::booked_now);
        for (kind, base) in [("stop", &bases.stop), ("eta", &bases.eta), ("document", &bases.document)] {
            tally
                .one(&env, "alive-after", kind, Expect::VisibilityHandled, Acts::Never, &Req::json(VISIBILITY, base))
                .await;
        }
        tally.cases += 1;
        (tally, memory_before, memory_after, booked_after)
    });
    drop(rt);
    let panics = PANICS.load(Ordering::SeqCst);

    let (expected, unexpected): (Vec<&Failure>, Vec<&Failure>) =
        tally.failures.iter().partition(|f| is_expected_to_fail(&f.key));
    // An entry that no longer fails is to be switched on, unless its requests could not be judged
    // here (a memory probe where the peak cannot be reset).
    let switched_on: Vec<&str> = EXPECTED_TO_FAIL
        .iter()
        .filter(|(pattern, _)| !tally.failures.iter().any(|f| pattern_matches(pattern, &f.key)))
        .filter(|(pattern, _)| !tally.unmeasured.iter().any(|key| pattern_matches(pattern, key)))
        .map(|(pattern, _)| *pattern)
        .collect::<Vec<_>>();
    let growth_mb = memory_after.saturating_sub(memory_before) / 1024;
    let summary = format!(
        "hostile corpus: {} requests in {} cases, {panics} panics, {} answers over {} KiB, {} unexpected changes, \
         peak memory {} MB (+{growth_mb} MB); known bridge bugs: {} failing requests expected ({} answers over the \
         bound, {} changes among them), {} unexpected failures; {:.1}s",
        tally.requests,
        tally.cases,
        tally.over_limit.0,
        ANSWER_LIMIT / 1024,
        tally.unexpected_changes.0,
        memory_after / 1024,
        expected.len(),
        tally.over_limit.1,
        tally.unexpected_changes.1,
        unexpected.len(),
        started.elapsed().as_secs_f64(),
    );
    println!("{summary}");
    println!(
        "hostile corpus: answers by status {:?}; {} requests whose writes the simulators refused",
        tally.by_status, tally.refused_writes
    );
    if !tally.unmeasured.is_empty() {
        println!("hostile corpus: memory probes not measured (the peak cannot be reset here): {:?}", tally.unmeasured);
    }
    for note in &tally.notes {
        println!("hostile corpus note: {note}");
    }
    if !expected.is_empty() {
        println!("hostile corpus: known bridge bugs (EXPECTED_TO_FAIL):\n{}", report(&expected, 60));
    }
    if let Some(path) = std::env::var_os("HOSTILE_CORPUS_SUMMARY") {
        let _ = std::fs::write(path, format!("{summary}\n"));
    }

    assert!(tally.requests >= 200, "the corpus sent only {} requests", tally.requests);
    assert!(unexpected.is_empty(), "hostile requests answered wrongly:\n{}", report(&unexpected, 80));
    assert!(switched_on.is_empty(), "these EXPECTED_TO_FAIL entries no longer fail: remove them {switched_on:?}");
    assert!(booked_after, "after the corpus a valid dispatch no longer books");
    assert_eq!(panics, 0, "threads of this module panicked");
    assert!(
        growth_mb < MEMORY_GROWTH_LIMIT_MB,
        "peak memory grew by {growth_mb} MB over the corpus ({} -> {} MB)",
        memory_before / 1024,
        memory_after / 1024
    );
}

// ---- property tests --------------------------------------------------------------------------------

/// A hostile value: JSON, or raw text in place of a JSON value.
fn hostile_value(today: String) -> impl Strategy<Value = Value> {
    let strings = prop_oneof![
        ".{0,40}",
        Just("'; DROP TABLE ledger; --".to_owned()),
        Just("../../orders/order/00000000-0000-0000-0000-000000000000#".to_owned()),
        Just("..%2F..%2Fx".to_owned()),
        Just("a\r\nX-Injected: 1\r\n\r\n".to_owned()),
        Just("\u{0}\u{202e}PALLEX_OUT".to_owned()),
        Just("9".repeat(2000)),
        Just(String::new()),
        Just("NaN".to_owned()),
    ];
    let numbers = prop_oneof![
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(-1)),
        Just(json!(0)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        Just(raw("NaN")),
        Just(raw("1e400")),
    ];
    let dates = (0u32..=10_000, 0u32..=13, 0u32..=32).prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}")));
    let instants = (
        prop_oneof![Just(2026u32), Just(1u32), Just(9999u32), 0u32..=10_000],
        0u32..=13,
        0u32..=32,
        0u32..=25,
        0u32..=61,
        prop_oneof![
            Just("Z"),
            Just("+01:00"),
            Just("+14:00"),
            Just("-12:00"),
            Just("-23:59"),
            Just(""),
            Just("+25:00")
        ],
    )
        .prop_map(|(y, mo, d, h, mi, offset)| json!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{offset}")));
    let near = {
        let today = today.clone();
        (0i64..=800, prop_oneof![Just("Z"), Just("+01:00"), Just("+14:00"), Just("-12:00")], 0u32..24).prop_map(
            move |(days, offset, hour)| {
                let date: jiff::civil::Date = today.parse().unwrap();
                let day = date.checked_add(jiff::Span::new().days(days - 400)).unwrap_or(date);
                json!(format!("{day}T{hour:02}:17:00{offset}"))
            },
        )
    };
    prop_oneof![
        3 => strings.prop_map(Value::from),
        2 => numbers,
        2 => dates,
        3 => instants,
        3 => near,
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(json!([])),
        1 => Just(json!({})),
        1 => Just(json!([{}])),
        1 => Just(json!({"$ne": null})),
    ]
}

/// A runner of `cases` cases, seeded: the same cases on every run (up to the simulators' fresh
/// uuids); `HOSTILE_CORPUS_SEED=n` runs others. No regression files are written.
fn property_runner(cases: u32) -> TestRunner {
    let seed: u64 =
        std::env::var("HOSTILE_CORPUS_SEED").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(PROPERTY_SEED);
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.rotate_left(i as u32 * 16).to_le_bytes());
    }
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// What the property tests saw.
#[derive(Debug, Default)]
struct Seen {
    by_status: BTreeMap<u16, usize>,
    refused_with_field: usize,
    booked: usize,
    /// Mutated dates, times and date-times that got past the parser (into the date code).
    dates_past_the_parser: usize,
    /// Visibility bodies that got past the parser into the job, by update kind.
    reached: BTreeMap<&'static str, usize>,
}

/// The keys of the dispatch payload the bridge reads (`bridge::qargo::dispatch_webhook`).
const DISPATCH_READS: &[&str] = &[
    "id",
    "name",
    "code",
    "custom_fields",
    "PallexID",
    "FortecID",
    "customer",
    "customer_reference_number",
    "service_level",
    "planning_instructions",
    "consignments",
    "consignment_reference_number",
    "transport_network",
    "requesting_depot_code",
    "collection_depot_code",
    "delivery_depot_code",
    "pickup_stop",
    "delivery_stop",
    "stop_type",
    "date",
    "time_window",
    "location",
    "address",
    "address_second_line",
    "postal_code",
    "city",
    "state",
    "country",
    "reference_number",
    "note",
    "email",
    "phone_number",
    "mobile_number",
    "extras",
    "goods",
    "description",
    "quantity",
    "packaging_type",
    "packaging_size",
    "unit_length_m",
    "unit_width_m",
    "unit_height_m",
    "unit_weight_kg",
    "total_weight_kg",
    "stackable",
    "handling_units",
];

fn property_problem(answer: &Answer) -> Option<String> {
    if answer.status >= 500 {
        return Some(format!("HTTP {} with nothing down: {}", answer.status, answer.preview()));
    }
    if answer.size > ANSWER_LIMIT {
        return Some(format!("an answer of {} bytes", answer.size));
    }
    if answer.json.get("errors").is_none_or(|e| !e.is_array()) {
        return Some(format!("not Qargo's answer shape: {}", answer.preview()));
    }
    None
}

#[test]
fn one_mutated_field_of_a_valid_dispatch_never_answers_5xx_or_unbounded() {
    count_panics();
    let rt = runtime();
    let env = rt.block_on(Env::start());
    let (_, base) = rt.block_on(env.fresh_payload("CREATE"));
    // The fields the dispatch reads (`DispatchWebhook`), so that the mutations reach the rules and
    // the booking, and the dates and time window, so that they reach the date code.
    let read = |pointer: &str| {
        let key = pointer.rsplit('/').next().unwrap_or_default();
        (pointer.starts_with("/payload/orders/0/") || pointer.starts_with("/payload/resource_allocations/0/resource/"))
            && !pointer.contains("/start_stop/")
            && !pointer.contains("/end_stop/")
            && !pointer.contains("/stops/")
            && DISPATCH_READS.contains(&key)
    };
    let paths: Vec<String> = nodes(&base).into_iter().map(|(p, _)| p).filter(|p| read(p)).collect();
    let window = "/payload/orders/0/consignments/0/delivery_stop/time_window";
    let mut dates: Vec<String> = paths.iter().filter(|p| p.ends_with("/date")).cloned().collect();
    dates.extend([format!("{window}/start_time"), format!("{window}/end_time")]);
    let seen = std::sync::Mutex::new(Seen::default());
    let mut runner = property_runner(DISPATCH_PROPERTY_CASES);
    let place = prop_oneof![2 => proptest::sample::select(paths), 1 => proptest::sample::select(dates)];
    let result = runner.run(&(place, hostile_value(env.today.clone())), |(pointer, value)| {
        rt.block_on(async {
            let (_, mut fresh) = env.fresh_payload("CREATE").await;
            if pointer.starts_with(window) {
                fresh = set(&fresh, window, json!({"code": "TD", "start_time": "08:00", "end_time": "12:00"}));
            }
            let req = Req::json(DISPATCH, &set(&fresh, &pointer, value.clone()));
            let answer =
                env.send(&req).await.map_err(|err| TestCaseError::fail(format!("{}: {err}", dotted(&pointer))))?;
            let mut seen = seen.lock().unwrap();
            *seen.by_status.entry(answer.status).or_default() += 1;
            seen.booked += usize::from(answer.booked_now());
            seen.refused_with_field +=
                usize::from(answer.errors().iter().any(|e| e.get("field").is_some_and(Value::is_string)));
            let is_date = pointer.ends_with("/date") || pointer.starts_with(window);
            seen.dates_past_the_parser += usize::from(is_date && answer.status == 200);
            match property_problem(&answer) {
                Some(problem) => Err(TestCaseError::fail(format!(
                    "{} = {}: {problem}",
                    dotted(&pointer),
                    cut(&value.to_string(), 200)
                ))),
                None => Ok(()),
            }
        })
    });
    let seen = seen.into_inner().unwrap();
    println!("hostile corpus property (dispatch): {seen:?}");
    rt.block_on(async move { drop(env) });
    drop(rt);
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let past_the_parser = seen.by_status.get(&200).copied().unwrap_or_default();
    assert!(
        past_the_parser * 3 >= DISPATCH_PROPERTY_CASES as usize,
        "too few mutated dispatches got past the parser into the rules: {seen:?}"
    );
    assert!(
        seen.refused_with_field > 0 && seen.booked > 0 && seen.dates_past_the_parser > 0,
        "the rules, the booking and the date code were not all reached: {seen:?}"
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "threads of this module panicked");
}

#[test]
fn one_mutated_field_of_a_valid_stop_eta_or_document_update_never_answers_5xx_or_unbounded() {
    count_panics();
    let rt = runtime();
    let env = rt.block_on(Env::start());
    let bases = rt.block_on(env.bases());
    let bodies = [bases.stop.clone(), bases.eta.clone(), bases.document.clone()];
    let mut focus = Vec::new();
    let mut all = Vec::new();
    let mut dates = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        for (pointer, _) in nodes(body) {
            if pointer.starts_with("/events/0") {
                focus.push((index, pointer.clone()));
            }
            all.push((index, pointer));
        }
        dates.extend(instant_fields(body).into_iter().map(|p| (index, p)));
    }
    let seen = std::sync::Mutex::new(Seen::default());
    let mut runner = property_runner(VISIBILITY_PROPERTY_CASES);
    let place = prop_oneof![
        3 => proptest::sample::select(focus),
        1 => proptest::sample::select(all),
        2 => proptest::sample::select(dates),
    ];
    let kinds = ["Stop", "Eta", "Document"];
    let result = runner.run(&(place, hostile_value(env.today.clone())), |((index, pointer), value)| {
        rt.block_on(async {
            let req = Req::json(VISIBILITY, &set(&bodies[index], &pointer, value.clone()));
            let what = format!("{} {} = {}", kinds[index], dotted(&pointer), cut(&value.to_string(), 200));
            let answer = env.send(&req).await.map_err(|err| TestCaseError::fail(format!("{what}: {err}")))?;
            let mut seen = seen.lock().unwrap();
            *seen.by_status.entry(answer.status).or_default() += 1;
            let is_date = instant_fields(&bodies[index]).contains(&pointer);
            seen.dates_past_the_parser += usize::from(is_date && matches!(answer.status, 202 | 422));
            let kind = seen.reached.entry(kinds[index]).or_default();
            *kind += usize::from(matches!(answer.status, 202 | 422));
            match property_problem(&answer) {
                Some(problem) => Err(TestCaseError::fail(format!("{what}: {problem}"))),
                None => Ok(()),
            }
        })
    });
    let seen = seen.into_inner().unwrap();
    println!("hostile corpus property (visibility): {seen:?}");
    rt.block_on(async move { drop(env) });
    drop(rt);
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let reached_jobs =
        seen.by_status.get(&202).copied().unwrap_or_default() + seen.by_status.get(&422).copied().unwrap_or_default();
    assert!(
        reached_jobs * 3 >= VISIBILITY_PROPERTY_CASES as usize,
        "too few mutated updates got past the parser into the Stop / Eta / Document jobs: {seen:?}"
    );
    assert!(
        kinds.iter().all(|kind| seen.reached.get(kind).is_some_and(|n| *n > 0)) && seen.dates_past_the_parser > 0,
        "not every job (Stop, Eta, Document) and the date code were reached: {seen:?}"
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "threads of this module panicked");
}
