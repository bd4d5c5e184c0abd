//! Dispatch end to end: the Qargo simulator sends its Subcontractor Dispatch webhook to the bridge's
//! HTTP API (served as the local bridge serves it), the bridge books on the Nexus simulator, stores
//! the labels and attaches them in Qargo. Idempotency cases run on the in-memory store and on
//! DynamoDB + S3 (moto).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bridge::clock::ManualClock;
use bridge::domain::{NexusConsignmentId, QargoConsignmentId};
use bridge::error::StoreError;
use bridge::nexus::ConsignmentQuery;
use bridge::nexus::capabilities::{Capabilities, Capability};
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::store::{Booking, ClaimOutcome, DispatchClaim, DispatchLedger, DispatchRecord, DispatchState};
use bridge::wiring::Bridge;
use jiff::{SignedDuration, Timestamp};
use nexus_sim::{NexusSim, Stage};
use qargo_sim::{Limits, OutboundRecord, QargoSim};
use serde_json::{Value, json};

const CREATE_ROUTE: &str = "POST /v1/consignments";

#[derive(Clone, Copy, Debug)]
pub(crate) enum Storage {
    Memory,
    Moto,
}

pub(crate) struct World {
    pub(crate) nexus: nexus_sim::RunningSim,
    pub(crate) qargo: qargo_sim::RunningSim,
    pub(crate) bridge: Arc<Bridge>,
    pub(crate) clock: ManualClock,
    pub(crate) api_url: String,
    pub(crate) http: reqwest::Client,
}

/// Both simulators and the bridge's API, on `storage`, with a ledger wrapped by `wrap`.
pub(crate) async fn world_with(storage: Storage, adjust: impl FnOnce(&mut Bridge)) -> World {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let nexus = NexusSim::start(nexus_sim::SimOptions::default()).await.expect("Nexus simulator");
    // The per-minute request limit is tested with the client; these tests are about the jobs.
    nexus.handle().set_rate_limit(0);
    let mut qargo_options = qargo_sim::SimOptions::with_bridge(api_url.clone());
    qargo_options.limits = Limits::off();
    qargo_options.strict_unknown_keys = true;
    qargo_options.seed.customers.push(bridge_local::shared_customer());
    let qargo = QargoSim::start(qargo_options).await.expect("Qargo simulator");
    let (settings, secrets) =
        bridge_local::simulator_settings(&nexus.base_url(), &qargo.base_url(), "PGD302:zpl", &[]).await.unwrap();
    let clock = ManualClock::new(bridge::clock::Clock::now(&bridge_local::SimulatorClock(nexus.handle().clone())));
    let mut bridge = match storage {
        Storage::Memory => Bridge::assemble_tuned(
            settings,
            secrets,
            Arc::new(MemoryStore::in_memory()),
            Arc::new(MemoryDocuments::default()),
            Arc::new(clock.clone()),
            bridge::wiring::ClientTuning {
                retry: quick_retries(),
                qargo_requests_per_second: 200.0,
                shared_budgets: false,
            },
        ),
        Storage::Moto => Bridge::assemble_tuned(
            settings,
            secrets,
            Arc::new(end_to_end::dynamo_store().await),
            Arc::new(end_to_end::s3_documents().await),
            Arc::new(clock.clone()),
            bridge::wiring::ClientTuning {
                retry: quick_retries(),
                qargo_requests_per_second: 200.0,
                shared_budgets: false,
            },
        ),
    };
    adjust(&mut bridge);
    let bridge = Arc::new(bridge);
    bridge_local::serve_api(bridge.clone(), listener);
    World { nexus, qargo, bridge, clock, api_url, http: bridge::http::client_builder().build().unwrap() }
}

/// Retries that give up within two seconds, so outage tests do not wait out production budgets.
pub(crate) fn quick_retries() -> bridge::http::RetryPolicy {
    bridge::http::RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        budget: std::time::Duration::from_secs(2),
        request_timeout: std::time::Duration::from_secs(5),
    }
}

pub(crate) async fn world(storage: Storage) -> World {
    world_with(storage, |_| {}).await
}

/// A Qargo order for Project Timber, collected at PGD302 on `date`, two full pallets to Derby.
pub(crate) fn order(resource: &str, date: &str) -> Value {
    bridge_local::timber_order(resource, date)
}

impl World {
    pub(crate) fn create_order(&self, order: Value) -> qargo_sim::CreatedOrder {
        self.qargo
            .handle
            .create_order(&serde_json::from_value(order).unwrap())
            .expect("order accepted by the Qargo simulator")
    }

    pub(crate) async fn dispatch(&self, created: &qargo_sim::CreatedOrder, operation: &str) -> OutboundRecord {
        let trip = created.trip.as_ref().expect("order planned on a trip").trip_id;
        self.qargo.handle.dispatch_trip(trip, operation).await.expect("dispatch sent")
    }

    /// The dispatch payload Qargo sends for `created`, without sending it (taken from a CANCEL,
    /// which books nothing).
    pub(crate) async fn payload(&self, created: &qargo_sim::CreatedOrder, operation: &str) -> Value {
        let mut payload = self.dispatch(created, "CANCEL").await.request;
        payload["operation"] = json!(operation);
        payload
    }

    pub(crate) async fn post(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/qargo/dispatch", self.api_url))
            .basic_auth("qargo", Some("inbound-pass"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub(crate) fn set_london_time(&self, at: &str) {
        let civil: jiff::civil::DateTime = at.parse().unwrap();
        self.nexus.handle().set_now(civil).unwrap();
        self.clock.set(civil.to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap()).unwrap().timestamp());
    }

    pub(crate) fn creates(&self) -> u64 {
        self.nexus.handle().request_counts().for_route(CREATE_ROUTE)
    }

    pub(crate) async fn nexus_by_number(&self, number: &str) -> Vec<bridge::nexus::wire::Consignment> {
        let client = self.bridge.nexus.for_depot(&"PGD302".parse().unwrap()).unwrap();
        let query = ConsignmentQuery { search_term: Some(number.to_owned()), ..ConsignmentQuery::default() };
        let page = client.list_consignments(&query, 50, 0).await.unwrap();
        page.items.into_iter().filter(|c| c.consignment_number == number).collect()
    }

    pub(crate) async fn ledger(&self, created: &qargo_sim::CreatedOrder) -> DispatchRecord {
        let id: QargoConsignmentId = created.consignments[0].consignment_id.to_string().parse().unwrap();
        self.bridge.ledger.get(&id).await.unwrap().expect("a ledger record")
    }
}

pub(crate) fn booking_of(answer: &Value) -> (String, i64, String) {
    let booking = &answer["booking"];
    (
        booking["network"].as_str().unwrap_or_default().to_owned(),
        booking["nexus_consignment_id"].as_i64().unwrap_or_default(),
        booking["consignment_number"].as_str().unwrap_or_default().to_owned(),
    )
}

pub(crate) fn response(record: &OutboundRecord) -> Value {
    record.response.clone().unwrap_or(Value::Null)
}

fn pdf_pages(bytes: &[u8]) -> usize {
    lopdf::Document::load_mem(bytes).expect("a PDF").get_pages().len()
}

#[tokio::test]
async fn pallex_and_fortec_dispatches_are_booked_labelled_and_attached() {
    let world = world(Storage::Memory).await;
    for (resource, network, customer) in [("PALLEX_OUT", "PALLEX", 64086), ("FORTEC_OUT", "FORTEC", 71520)] {
        let created = world.create_order(order(resource, "2026-06-17"));
        let record = world.dispatch(&created, "CREATE").await;
        assert!(record.accepted, "{resource}: {:?} {}", record.errors, response(&record));
        let (answer_network, nexus_id, number) = booking_of(&response(&record));
        assert_eq!(answer_network, network);
        assert_eq!(number, created.order_name);

        let on_nexus = world.nexus.handle().consignment_json(nexus_id as u64).expect("on Nexus");
        assert_eq!(on_nexus["customerID"], json!(customer), "{on_nexus}");
        assert_eq!(on_nexus["network"]["code"], json!(network));
        assert_eq!(on_nexus["requestingDepotCode"], json!("PGD302"));
        assert_eq!(on_nexus["palletCount"], json!(2));

        let ledger = world.ledger(&created).await;
        assert_eq!(ledger.state, DispatchState::Labelled);
        let booking = ledger.booking.unwrap();
        assert_eq!(booking.barcodes.len(), 2);
        assert_eq!(booking.label_keys.len(), 2, "PDF and ZPL for a ZPL depot: {:?}", booking.label_keys);
        let (pdf, bytes) = world.bridge.documents.get(&booking.label_keys[0]).await.unwrap().expect("PDF stored");
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf_pages(&bytes), 2, "one page per pallet");
        let (zpl, zpl_bytes) = world.bridge.documents.get(&booking.label_keys[1]).await.unwrap().expect("ZPL stored");
        assert!(zpl.key.ends_with(".zpl") && String::from_utf8_lossy(&zpl_bytes).contains("^XA"));

        let detail = world.qargo.handle.order_detail(created.order_id).expect("order in Qargo");
        let labels: Vec<&Value> =
            detail["documents"].as_array().unwrap().iter().filter(|d| d["type"] == "PALLET_LABEL_EXTERNAL").collect();
        assert_eq!(labels.len(), 1, "{}", detail["documents"]);
        let fields = &detail["order"]["custom_fields"];
        assert_eq!(fields["NexusConsignmentID"], json!(nexus_id.to_string()), "{fields}");
        assert_eq!(fields["NexusNetwork"], json!(network));
        let units: Vec<String> = detail["order"]["consignments"][0]["goods"][0]["handling_units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["barcode"]["value"].as_str().unwrap().to_owned())
            .collect();
        let barcodes: Vec<String> = booking.barcodes.iter().map(ToString::to_string).collect();
        assert_eq!(units, barcodes, "Qargo's handling units carry the Nexus barcodes");
    }
}

async fn concurrent_deliveries_book_once(storage: Storage) {
    let world = Arc::new(world(storage).await);
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let payload = world.payload(&created, "CREATE").await;
    let deliveries: Vec<_> = (0..20)
        .map(|_| {
            let world = world.clone();
            let payload = payload.clone();
            // A delivery told to retry (another one is still booking or labelling) retries, as
            // Qargo does; every answer in the end is the same booking.
            tokio::spawn(async move {
                let mut answer = world.post(&payload).await;
                for _ in 0..10 {
                    if answer.1["errors"][0]["error_type"] != "INTERNAL_ERROR" {
                        break;
                    }
                    answer = world.post(&payload).await;
                }
                answer
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for delivery in deliveries {
        let (status, answer) = delivery.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        ids.insert(booking_of(&answer).1);
    }
    assert_eq!(ids.len(), 1, "every delivery answers the same booking: {ids:?}");
    assert_eq!(world.creates(), 1, "one booking on Nexus for 20 deliveries");
    assert_eq!(world.nexus_by_number(&created.order_name).await.len(), 1);
    let detail = world.qargo.handle.order_detail(created.order_id).unwrap();
    let labels =
        detail["documents"].as_array().unwrap().iter().filter(|d| d["type"] == "PALLET_LABEL_EXTERNAL").count();
    assert_eq!(labels, 1, "the labels are attached once");
}

#[tokio::test]
async fn twenty_concurrent_deliveries_book_once_in_memory() {
    concurrent_deliveries_book_once(Storage::Memory).await;
}

#[tokio::test]
async fn twenty_concurrent_deliveries_book_once_on_dynamodb() {
    concurrent_deliveries_book_once(Storage::Moto).await;
}

/// A ledger whose first `record_booked` fails, as if the function died between booking on Nexus
/// and recording it.
struct CrashAfterBooking {
    inner: Arc<dyn DispatchLedger>,
    crashed: AtomicBool,
}

#[async_trait]
impl DispatchLedger for CrashAfterBooking {
    async fn claim(
        &self,
        id: &QargoConsignmentId,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.inner.claim(id, now, lease).await
    }
    async fn record_booked(
        &self,
        claim: &DispatchClaim,
        booking: Booking,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        if !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(StoreError::Backend {
                backend: "test",
                operation: "record_booked",
                reason: "injected crash after booking".into(),
            });
        }
        self.inner.record_booked(claim, booking, now).await
    }
    async fn record_failed(
        &self,
        claim: &DispatchClaim,
        reason: &str,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.inner.record_failed(claim, reason, now).await
    }
    async fn record_labelled(
        &self,
        id: &QargoConsignmentId,
        keys: Vec<String>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.inner.record_labelled(id, keys, now).await
    }
    async fn record_cancelled(&self, id: &QargoConsignmentId, now: Timestamp) -> Result<DispatchRecord, StoreError> {
        self.inner.record_cancelled(id, now).await
    }
    async fn get(&self, id: &QargoConsignmentId) -> Result<Option<DispatchRecord>, StoreError> {
        self.inner.get(id).await
    }
}

async fn crash_between_booking_and_ledger_is_recovered(storage: Storage) {
    let world = world_with(storage, |bridge| {
        bridge.ledger = Arc::new(CrashAfterBooking { inner: bridge.ledger.clone(), crashed: AtomicBool::new(false) })
    })
    .await;
    let created = world.create_order(order("FORTEC_OUT", "2026-06-17"));
    let payload = world.payload(&created, "CREATE").await;
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "Qargo's documented answer is 200 with typed errors: {answer}");
    assert_eq!(answer["errors"][0]["error_type"], "INTERNAL_ERROR");
    assert_eq!(world.creates(), 1);
    assert_eq!(world.ledger(&created).await.state, DispatchState::InProgress, "the crashed claim is left in progress");

    // The crashed invocation's lease runs out; Qargo retries.
    world.clock.advance(bridge::jobs::dispatch::CLAIM_LEASE + SignedDuration::from_secs(1));
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(world.creates(), 1, "the retry found the booking instead of booking again");
    let on_nexus = world.nexus_by_number(&created.order_name).await;
    assert_eq!(on_nexus.len(), 1);
    assert_eq!(booking_of(&answer).1, on_nexus[0].consignment_id);
    assert_eq!(world.ledger(&created).await.state, DispatchState::Labelled);
}

#[tokio::test]
async fn crash_between_booking_and_ledger_is_recovered_in_memory() {
    crash_between_booking_and_ledger_is_recovered(Storage::Memory).await;
}

#[tokio::test]
async fn crash_between_booking_and_ledger_is_recovered_on_dynamodb() {
    crash_between_booking_and_ledger_is_recovered(Storage::Moto).await;
}

#[tokio::test]
async fn after_the_cut_off_the_next_working_day_is_named() {
    let world = world(Storage::Memory).await;
    // Wednesday 17 June 2026, 11:55 in London (BST, 10:55Z) is still in time.
    world.set_london_time("2026-06-17T11:55:00");
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    assert!(world.dispatch(&created, "CREATE").await.accepted);
    assert_eq!(world.creates(), 1);

    // 12:05 the same day is not.
    world.set_london_time("2026-06-17T12:05:00");
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let record = world.dispatch(&created, "CREATE").await;
    assert!(!record.accepted);
    assert_eq!(record.status, Some(200), "{}", response(&record));
    assert_eq!(response(&record)["errors"][0]["error_type"], "USER_INPUT_ERROR");
    let body = response(&record);
    let error = &body["errors"][0];
    assert_eq!(error["error_type"], "USER_INPUT_ERROR");
    assert_eq!(error["field"], "payload.orders[0].consignments[0].pickup_stop.date");
    assert!(error["error_message"].as_str().unwrap().contains("2026-06-18"), "{error}");
    assert_eq!(world.creates(), 1, "nothing more reaches Nexus");

    // Friday 28 August after noon: the weekend and the Summer bank holiday (31st) are skipped.
    world.set_london_time("2026-08-28T12:30:00");
    let created = world.create_order(order("PALLEX_OUT", "2026-08-28"));
    let message = response(&world.dispatch(&created, "CREATE").await)["errors"][0]["error_message"].to_string();
    assert!(message.contains("2026-09-01"), "{message}");
    // A collection dated on the bank holiday itself.
    let created = world.create_order(order("PALLEX_OUT", "2026-08-31"));
    let message = response(&world.dispatch(&created, "CREATE").await)["errors"][0]["error_message"].to_string();
    assert!(message.contains("2026-09-01") && message.contains("Summer"), "{message}");
    assert_eq!(world.creates(), 1);
}

#[tokio::test]
async fn cancel_before_collection_cancels_and_after_collection_explains() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let booked = world.dispatch(&created, "CREATE").await;
    let nexus_id = booking_of(&response(&booked)).1;
    let record = world.dispatch(&created, "CANCEL").await;
    assert!(record.accepted, "{}", response(&record));
    assert_eq!(response(&record)["result"], "cancelled");
    assert_eq!(world.nexus.handle().status_of(nexus_id as u64), Some("CAN"));
    assert_eq!(world.ledger(&created).await.state, DispatchState::Cancelled);
    let detail = world.qargo.handle.order_detail(created.order_id).unwrap();
    assert_eq!(detail["order"]["custom_fields"]["NexusState"], "CANCELLED");
    // A second cancel is harmless.
    assert!(world.dispatch(&created, "CANCEL").await.accepted);

    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let booked = world.dispatch(&created, "CREATE").await;
    let nexus_id = booking_of(&response(&booked)).1 as u64;
    world.nexus.handle().step(nexus_id, Stage::Collected).unwrap();
    let record = world.dispatch(&created, "CANCEL").await;
    assert!(!record.accepted);
    assert_eq!(record.status, Some(200));
    let body = response(&record);
    let error = &body["errors"][0];
    assert_eq!(error["error_type"], "NOT_SUPPORTED");
    assert!(error["error_message"].as_str().unwrap().contains("cannot be cancelled"), "{error}");
    assert_eq!(world.nexus.handle().status_of(nexus_id), Some("COL"));
    assert_eq!(world.ledger(&created).await.state, DispatchState::Labelled);
}

/// A PALL-EX dispatch booked and labelled on a Nexus that offers no cancel route.
async fn booked_on_a_nexus_without_cancel() -> (World, qargo_sim::CreatedOrder, OutboundRecord) {
    let world = world_with(Storage::Memory, |bridge| {
        bridge.settings.nexus_capabilities = Capabilities::full().without(Capability::Cancel)
    })
    .await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let booked = world.dispatch(&created, "CREATE").await;
    (world, created, booked)
}

#[tokio::test]
async fn a_cancel_this_nexus_cannot_do_is_refused_as_not_supported_and_cancels_nothing() {
    let (world, created, booked) = booked_on_a_nexus_without_cancel().await;
    let nexus_id = booking_of(&response(&booked)).1 as u64;
    let record = world.dispatch(&created, "CANCEL").await;
    let body = response(&record);
    assert_eq!(body["errors"][0]["error_type"], "NOT_SUPPORTED", "{body}");
    let message = body["errors"][0]["error_message"].as_str().unwrap();
    assert!(message.contains("not supported by this Nexus") && message.contains("by hand"), "{message}");
    assert_ne!(world.nexus.handle().status_of(nexus_id), Some("CAN"), "nothing cancelled on Nexus");
    assert_eq!(world.ledger(&created).await.state, DispatchState::Labelled, "the booking stands");
}

#[tokio::test]
async fn an_update_this_nexus_cannot_re_book_is_refused_as_not_supported_and_changes_nothing() {
    let (world, created, booked) = booked_on_a_nexus_without_cancel().await;
    let (_, nexus_id, number) = booking_of(&response(&booked));
    let mut payload = world.payload(&created, "UPDATE").await;
    payload["payload"]["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(3);
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"][0]["error_type"], "NOT_SUPPORTED", "{answer}");
    let message = answer["errors"][0]["error_message"].as_str().unwrap();
    assert!(
        message.contains(&format!("re-booking {number} with the change needs the cancel capability"))
            && message.contains(&format!("ask the network to amend {number}")),
        "{message}"
    );
    assert_ne!(world.nexus.handle().status_of(nexus_id as u64), Some("CAN"), "nothing cancelled on Nexus");
    assert_eq!(world.creates(), 1, "nothing booked again");
    assert_eq!(world.ledger(&created).await.state, DispatchState::Labelled, "the booking stands");
}

#[tokio::test]
async fn huge_inputs_get_small_answers_that_name_the_field() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let mut payload = world.payload(&created, "CREATE").await;
    payload["payload"]["orders"][0]["consignments"][0]["goods"] = json!(vec![json!({}); 100_000]);
    let (status, answer) = world.post(&payload).await;
    // Refused while the list is read (past its bound), naming the list, before any of it is kept.
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["field"], "payload.orders[0].consignments[0].goods", "{answer}");
    assert!(answer.to_string().len() < 2_000, "a bounded answer: {} bytes", answer.to_string().len());

    let mut payload = world.payload(&created, "CREATE").await;
    payload["operation"] = json!("X".repeat(1_000_000));
    let (_, answer) = world.post(&payload).await;
    assert_eq!(answer["errors"][0]["field"], "operation", "{}", &answer.to_string()[..200]);
    assert!(answer.to_string().len() < 2_000, "the name is not echoed whole: {} bytes", answer.to_string().len());

    let mut payload = world.payload(&created, "CREATE").await;
    payload["payload"]["orders"][0]["customer_reference_number"] = json!("R".repeat(100_000));
    let (_, answer) = world.post(&payload).await;
    assert_eq!(answer["errors"][0]["field"], "payload.orders[0].customer_reference_number");
    assert!(answer.to_string().len() < 2_000, "{} bytes", answer.to_string().len());
    assert_eq!(world.creates(), 0, "nothing booked");
}

#[tokio::test]
async fn a_body_over_the_limit_is_our_json_413_on_both_routes() {
    let world = world(Storage::Memory).await;
    let body = vec![b' '; bridge::api::MAX_BODY_BYTES + 10];
    for path in ["/qargo/dispatch", "/qargo/visibility"] {
        let response = world
            .http
            .post(format!("{}{path}", world.api_url))
            .basic_auth("qargo", Some("inbound-pass"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "{path}");
        let answer: Value = response.json().await.expect("our JSON, not a plain-text 413");
        assert_eq!(answer["errors"][0]["error_type"], "USER_INPUT_ERROR", "{path}: {answer}");
        assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("at most"), "{answer}");
    }
    assert_eq!(world.creates(), 0);
}

#[tokio::test]
async fn nexus_outage_is_retryable_and_the_retry_books_once() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let payload = world.payload(&created, "CREATE").await;
    world.nexus.handle().set_outage(true);
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "Qargo's documented answer is 200 with typed errors: {answer}");
    assert_eq!(answer["errors"][0]["error_type"], "INTERNAL_ERROR");
    assert!(world.nexus_by_number_unavailable().await);
    world.nexus.handle().set_outage(false);
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(world.nexus_by_number(&created.order_name).await.len(), 1);
    let (_, again) = world.post(&payload).await;
    assert_eq!(booking_of(&again).1, booking_of(&answer).1);
    assert_eq!(again["result"], "already booked");
}

impl World {
    /// Whether Nexus is really refusing (the outage switch is on).
    async fn nexus_by_number_unavailable(&self) -> bool {
        let client = self.bridge.nexus.for_depot(&"PGD302".parse().unwrap()).unwrap();
        client.consignment(NexusConsignmentId(1), &[]).await.is_err()
    }
}

#[tokio::test]
async fn update_rebooks_before_collection_and_is_refused_after() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let booked = world.dispatch(&created, "CREATE").await;
    let first = booking_of(&response(&booked)).1;
    let unchanged = world.dispatch(&created, "UPDATE").await;
    assert!(unchanged.accepted);
    assert_eq!(response(&unchanged)["result"], "unchanged");

    let mut payload = world.payload(&created, "UPDATE").await;
    payload["payload"]["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(3);
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "rebooked");
    let (_, second, number) = booking_of(&answer);
    assert_ne!(second, first);
    assert_eq!(number, format!("{}R2", created.order_name));
    assert_eq!(world.nexus.handle().status_of(first as u64), Some("CAN"));
    assert_eq!(world.nexus.handle().consignment_json(second as u64).unwrap()["palletCount"], json!(3));
    let detail = world.qargo.handle.order_detail(created.order_id).expect("order in Qargo");
    let units: Vec<&str> = detail["order"]["consignments"][0]["goods"][0]["handling_units"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["barcode"]["value"].as_str())
        .collect();
    let new_barcodes: Vec<&str> =
        answer["booking"]["pallet_barcodes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(units, new_barcodes, "the order carries the new booking's barcodes only: {answer}");
    assert_eq!(detail["order"]["custom_fields"]["NexusConsignmentID"], json!(second.to_string()));

    world.nexus.handle().step(second as u64, Stage::Collected).unwrap();
    payload["payload"]["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(4);
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"][0]["error_type"], "NOT_SUPPORTED");
    assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("Collected"), "{answer}");
}

#[tokio::test]
async fn refusals_name_the_field_and_book_nothing() {
    let world = world(Storage::Memory).await;
    let cases = [
        ("OWN_FLEET", "TIMBER", "payload.resource_allocations"),
        ("FORTEC_OUT", "BOLT", "payload.orders[0].customer.custom_fields.FortecID"),
        ("PALLEX_OUT", "CEDAR", "payload.orders[0].customer.custom_fields.PallexID"),
    ];
    for (resource, customer, field) in cases {
        let mut input = order(resource, "2026-06-17");
        input["customer"] = json!({"code": customer});
        let created = world.create_order(input);
        let record = world.dispatch(&created, "CREATE").await;
        assert_eq!(record.status, Some(200), "{customer}: {}", response(&record));
        assert_eq!(response(&record)["errors"][0]["error_type"], "USER_INPUT_ERROR", "{customer}");
        assert_eq!(response(&record)["errors"][0]["field"], field, "{}", response(&record));
    }
    // Two orders on one trip.
    let unplanned = || {
        let mut input = order("PALLEX_OUT", "2026-06-17");
        input.as_object_mut().unwrap().remove("trip");
        world.create_order(input)
    };
    let (first, second) = (unplanned(), unplanned());
    let trip = world
        .qargo
        .handle
        .create_trip(
            &serde_json::from_value(
                json!({"order_ids": [first.order_id, second.order_id], "resource_code": "PALLEX_OUT"}),
            )
            .unwrap(),
        )
        .unwrap();
    let record = world.qargo.handle.dispatch_trip(trip.trip_id, "CREATE").await.unwrap();
    assert_eq!(response(&record)["errors"][0]["field"], "payload.orders", "{}", response(&record));
    // Unauthenticated calls are refused before the body is read.
    let response = world.http.post(format!("{}/qargo/dispatch", world.api_url)).body("not json").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(world.creates(), 0);
}

#[tokio::test]
async fn both_routes_refuse_calls_without_the_inbound_credential() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let payload = world.payload(&created, "CREATE").await;
    for path in ["/qargo/dispatch", "/qargo/visibility"] {
        for credential in [None, Some(("qargo", "inbound-pas")), Some(("qargo-x", "inbound-pass"))] {
            let mut request = world.http.post(format!("{}{path}", world.api_url)).json(&payload);
            if let Some((user, password)) = credential {
                request = request.basic_auth(user, Some(password));
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401, "{path} with {credential:?}");
            let body = response.text().await.unwrap();
            assert!(body.contains("credentials") && !body.contains("inbound-pass"), "{path}: {body}");
        }
    }
    assert_eq!(world.creates(), 0, "nothing was booked");
}

#[tokio::test]
async fn the_local_bridge_books_the_readme_example() {
    let data = tempfile::tempdir().unwrap();
    let local = bridge_local::start(bridge_local::LocalOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        nexus_port: 0,
        qargo_port: 0,
        ..bridge_local::LocalOptions::default()
    })
    .await
    .expect("the local bridge starts");
    let qargo = local.qargo.as_ref().unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/local/examples/order.json"))
        .expect("the README's example order");
    let created = qargo.handle.create_order(&serde_json::from_str(&example).unwrap()).unwrap();
    let record = qargo.handle.dispatch_trip(created.trip.unwrap().trip_id, "CREATE").await.unwrap();
    assert!(record.accepted, "{}", response(&record));
    let booking = response(&record)["booking"].clone();
    assert_eq!(booking["network"], "PALLEX");
    assert_eq!(booking["state"], "LABELLED");
    let label = data.path().join("documents").join(booking["label_keys"][0].as_str().unwrap());
    assert!(std::fs::read(&label).expect("label PDF in the data folder").starts_with(b"%PDF"));
}

#[tokio::test]
async fn labels_that_fail_after_booking_are_attached_by_the_retry_without_booking_again() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let payload = world.payload(&created, "CREATE").await;
    world.qargo.handle.set_faults(qargo_sim::Faults { outage: true, ..qargo_sim::Faults::default() });
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "Qargo's documented answer is 200 with typed errors: {answer}");
    assert_eq!(answer["errors"][0]["error_type"], "INTERNAL_ERROR");
    assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("labels are not attached yet"), "{answer}");
    assert_eq!(answer["booking"]["state"], "BOOKED", "the answer carries the booking");
    assert_eq!(world.ledger(&created).await.state, DispatchState::Booked);

    world.qargo.handle.set_faults(qargo_sim::Faults::default());
    let (status, answer) = world.post(&payload).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["booking"]["state"], "LABELLED");
    assert_eq!(world.creates(), 1, "the retry attached the labels and did not book again");
    let detail = world.qargo.handle.order_detail(created.order_id).unwrap();
    let labels =
        detail["documents"].as_array().unwrap().iter().filter(|d| d["type"] == "PALLET_LABEL_EXTERNAL").count();
    assert_eq!(labels, 1);
}

#[tokio::test]
async fn the_local_bridge_imports_on_its_timer() {
    let data = tempfile::tempdir().unwrap();
    let local = bridge_local::start(bridge_local::LocalOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        nexus_port: 0,
        qargo_port: 0,
        poll_every: Some(std::time::Duration::from_millis(200)),
        ..bridge_local::LocalOptions::default()
    })
    .await
    .expect("the local bridge starts");
    let nexus = local.nexus.as_ref().unwrap();
    // Thames Kitchens (52011, UKD101) sends two pallets to Retford, PGD302's area.
    let ukd101 = end_to_end::depot_user(&nexus.base_url(), "UKD101", quick_retries());
    let booking = end_to_end::simple_booking(52011, "PALLEX", "TK-LOCAL-1", "DN22 7SS", 2);
    let booked = ukd101.create_consignment(&booking).await.expect("booked by UKD101");
    let identifier = format!("NEXUS-PALLEX-{}", booked.consignment_id);
    let qargo = local.qargo.as_ref().unwrap();
    let mut imported = None;
    for _ in 0..100 {
        imported = qargo.handle.order_by_identifier(&identifier);
        if imported.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let order = imported.expect("the timer imported the consignment into Qargo within 10 s");
    assert!(order.to_string().contains("ACME"), "mapped to ACME: {order}");
}

/// The fault suite's duplicate storm: 1,000 deliveries of 50 distinct dispatches (20 each) on
/// DynamoDB, 100 in flight at a time (moto serves one request at a time, so more only queue in its
/// accept backlog); deliveries told to retry are retried, as Qargo would. Exactly 50 bookings.
#[tokio::test]
async fn a_thousand_duplicate_deliveries_of_fifty_trips_book_fifty_times_on_dynamodb() {
    let world = Arc::new(world(Storage::Moto).await);
    let mut payloads = Vec::new();
    for i in 0..50 {
        let resource = if i % 2 == 0 { "PALLEX_OUT" } else { "FORTEC_OUT" };
        let created = world.create_order(order(resource, "2026-06-17"));
        payloads.push((created.order_name.clone(), world.payload(&created, "CREATE").await));
    }
    let in_flight = Arc::new(tokio::sync::Semaphore::new(100));
    let deliveries: Vec<_> = (0..1000)
        .map(|n| {
            let world = world.clone();
            let in_flight = in_flight.clone();
            let (name, payload) = payloads[n % payloads.len()].clone();
            tokio::spawn(async move {
                let _slot = in_flight.acquire_owned().await.unwrap();
                for _attempt in 0..30 {
                    let (status, answer) = world.post(&payload).await;
                    assert_eq!(status, 200, "{answer}");
                    if answer["errors"].as_array().is_none_or(Vec::is_empty) {
                        return (name, booking_of(&answer).1);
                    }
                    assert_eq!(
                        answer["errors"][0]["error_type"], "INTERNAL_ERROR",
                        "only retryable refusals: {answer}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                panic!("{name}: still refused after 30 attempts");
            })
        })
        .collect();
    let mut booked: std::collections::BTreeMap<String, std::collections::BTreeSet<i64>> = Default::default();
    for delivery in deliveries {
        let (name, id) = delivery.await.unwrap();
        booked.entry(name).or_default().insert(id);
    }
    assert_eq!(booked.len(), 50);
    assert!(booked.values().all(|ids| ids.len() == 1), "each trip answered with one booking: {booked:?}");
    assert_eq!(world.creates(), 50, "exactly 50 bookings on Nexus");
}

/// An UPDATE replayed after a newer one (its details are what the newer booking replaced) is
/// refused as stale, naming why: the newer booking stands, nothing is cancelled or booked.
#[tokio::test]
async fn an_old_update_replayed_after_a_newer_one_changes_nothing() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    // The UPDATE body as first dispatched, taken before the booking (nothing to cancel then).
    let old = world.payload(&created, "UPDATE").await;
    world.dispatch(&created, "CREATE").await;
    let mut newer = old.clone();
    newer["payload"]["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(3);
    let (_, answer) = world.post(&newer).await;
    assert_eq!(answer["result"], "rebooked", "{answer}");
    let current = booking_of(&answer).1;
    let creates = world.creates();

    let (status, answer) = world.post(&old).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"][0]["error_type"], "USER_INPUT_ERROR", "{answer}");
    assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("older update"), "{answer}");
    assert_eq!(world.creates(), creates, "nothing booked again");
    assert_ne!(world.nexus.handle().status_of(current as u64), Some("CAN"), "the newer booking stands");
}

/// A CANCEL whose body names another order than the one the consignment was booked for cancels
/// nothing, and the order it named is not marked void.
#[tokio::test]
async fn a_cancel_naming_another_order_cancels_nothing() {
    let world = world(Storage::Memory).await;
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    // The CANCEL body, taken before the booking (a cancel then has nothing to cancel).
    let mut cancel = world.payload(&created, "CANCEL").await;
    let booked = world.dispatch(&created, "CREATE").await;
    let nexus_id = booking_of(&response(&booked)).1 as u64;
    let bystander = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    cancel["payload"]["orders"][0]["id"] = json!(bystander.order_id.to_string());
    let (status, answer) = world.post(&cancel).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"][0]["error_type"], "USER_INPUT_ERROR", "{answer}");
    assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("was booked for order"), "{answer}");
    assert_ne!(world.nexus.handle().status_of(nexus_id), Some("CAN"), "nothing cancelled on Nexus");
    let detail = world.qargo.handle.order_detail(bystander.order_id).unwrap();
    assert!(detail["order"]["custom_fields"].get("NexusState").is_none(), "the named order is left alone");
}
