//! Status export end to end: the Qargo simulator sends its visibility webhook to the bridge's HTTP
//! API (served as the local bridge serves it, routing in process), and a stop event of a leg we
//! perform becomes one Nexus event per pallet on the Nexus simulator — once, never an echo of what
//! came from Nexus, and not at all when both legs are ours. Then the cloud's router onto the event
//! bus, against moto.

use std::sync::Arc;

use bridge::clock::ManualClock;
use bridge::domain::{Network, NexusConsignmentId};
use bridge::jobs::status_export::ExportOutcome;
use bridge::nexus::RetryPolicy;
use bridge::nexus::capabilities::{Capabilities, Capability};
use bridge::routing::{EventBridgeRouter, RoutingError, VisibilityRouter};
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::store::{ConsignmentSync, SyncKey};
use bridge::visibility::{RoutedUpdate, UpdateKind};
use bridge::wiring::Bridge;
use nexus_sim::NexusSim;
use qargo_sim::{CreatedOrder, Limits, OutboundRecord, QargoSim, SignatureInput, StopAction};
use serde_json::{Value, json};

const EVENTS_ROUTE: &str = "POST /v1/consignments/{id}/events";
/// The Nexus simulator's clock, on which the whole scenario happens: Wednesday 17 June 2026, 09:00 BST.
const NOW: &str = "2026-06-17T08:00:00Z";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Storage {
    Memory,
    Moto,
}

struct World {
    nexus: nexus_sim::RunningSim,
    qargo: qargo_sim::RunningSim,
    bridge: Arc<Bridge>,
    api_url: String,
    http: reqwest::Client,
}

/// Both simulators and the bridge's API for depot PGD302, sync state on `storage`; the Qargo
/// simulator echoes the status updates it receives as `Stop` events when `echo` is set.
async fn world(storage: Storage, echo: bool) -> World {
    world_of(storage, echo, Capabilities::full()).await
}

async fn world_of(storage: Storage, echo: bool, capabilities: Capabilities) -> World {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let nexus = NexusSim::start(nexus_sim::SimOptions::default()).await.expect("Nexus simulator");
    nexus.handle().set_rate_limit(0);
    let mut qargo_options = qargo_sim::SimOptions::with_bridge(api_url.clone());
    qargo_options.limits = Limits::off();
    qargo_options.strict_unknown_keys = true;
    qargo_options.echo_webhook_updates = echo;
    qargo_options.seed.customers.push(bridge_local::shared_customer());
    let qargo = QargoSim::start(qargo_options).await.expect("Qargo simulator");
    // No customer map: nothing is imported, every consignment here is booked through the bridge.
    let no_imports = [("BRIDGE_CUSTOMER_MAP", String::new())];
    let (mut settings, secrets) =
        bridge_local::simulator_settings(&nexus.base_url(), &qargo.base_url(), "PGD302", &no_imports).await.unwrap();
    settings.nexus_capabilities = capabilities;
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let documents = Arc::new(MemoryDocuments::default());
    let bridge = match storage {
        Storage::Memory => Bridge::assemble_tuned(
            settings,
            secrets,
            Arc::new(MemoryStore::in_memory()),
            documents,
            clock,
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
            documents,
            clock,
            bridge::wiring::ClientTuning {
                retry: quick_retries(),
                qargo_requests_per_second: 200.0,
                shared_budgets: false,
            },
        ),
    };
    let bridge = Arc::new(bridge);
    bridge_local::serve_api(bridge.clone(), listener);
    World { nexus, qargo, bridge, api_url, http: bridge::http::client_builder().build().unwrap() }
}

/// Retries that give up within two seconds, so the outage test does not wait out production budgets.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(100),
        budget: std::time::Duration::from_secs(2),
        request_timeout: std::time::Duration::from_secs(5),
    }
}

/// A Qargo order for Project Timber collected at PGD302 (Retford), two pallets to `postcode`, on a
/// PALL-EX trip.
fn order(postcode: &str) -> Value {
    let mut order = bridge_local::timber_order("PALLEX_OUT", "2026-06-17");
    order["consignments"][0]["delivery_stop"] = json!({
        "location": {"name": "Builders", "address": "1 High Street", "postal_code": postcode,
                     "city": "Town", "country": "GB"},
        "phone_number": "+441332000000"
    });
    order
}

/// A consignment booked through the bridge, as Qargo and Nexus know it.
struct Booked {
    order: CreatedOrder,
    nexus_id: i64,
    barcodes: Vec<String>,
}

impl World {
    /// Creates the order in Qargo and dispatches its trip: the bridge books it on Nexus and writes
    /// the Nexus identity onto the order.
    async fn book(&self, postcode: &str) -> Booked {
        let order = self.qargo.handle.create_order(&serde_json::from_value(order(postcode)).unwrap()).unwrap();
        let trip = order.trip.as_ref().unwrap().trip_id;
        let record = self.qargo.handle.dispatch_trip(trip, "CREATE").await.unwrap();
        assert!(record.accepted, "{:?} {:?}", record.errors, record.response);
        let fields = self.qargo.handle.order_detail(order.order_id).unwrap()["order"]["custom_fields"].clone();
        let nexus_id: i64 = fields["NexusConsignmentID"].as_str().expect("the Nexus identity").parse().unwrap();
        let barcodes = self.barcodes(nexus_id);
        assert_eq!(barcodes.len(), 2);
        Booked { order, nexus_id, barcodes }
    }

    fn barcodes(&self, nexus_id: i64) -> Vec<String> {
        let consignment = self.nexus.handle().consignment_json(nexus_id as u64).expect("on Nexus");
        consignment["pallets"].as_array().unwrap().iter().map(|p| p["barcode"].as_str().unwrap().to_owned()).collect()
    }

    /// The events the bridge posted on Nexus for a consignment: (code, barcode, depot).
    fn posted_events(&self, nexus_id: i64) -> Vec<(String, String, String)> {
        let consignment = self.nexus.handle().consignment_json(nexus_id as u64).expect("on Nexus");
        let text = |event: &Value, key: &str| event[key].as_str().unwrap_or_default().to_owned();
        consignment["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["source"] == "DEPOT_API")
            .map(|event| (text(event, "code"), text(event, "barcode"), text(event, "depotCode")))
            .collect()
    }

    fn event_posts(&self) -> u64 {
        self.nexus.handle().request_counts().for_route(EVENTS_ROUTE)
    }

    fn at() -> StopAction {
        StopAction { at: Some(NOW.to_owned()) }
    }

    async fn arrive(&self, stop: uuid::Uuid) -> OutboundRecord {
        let outcome = self.qargo.handle.arrive_at_stop(stop, &World::at()).await.unwrap();
        outcome.outbound.into_iter().next().expect("a Stop event sent")
    }

    async fn complete(&self, stop: uuid::Uuid) -> OutboundRecord {
        let outcome = self.qargo.handle.complete_stop(stop, &World::at()).await.unwrap();
        outcome.outbound.into_iter().next().expect("a Stop event sent")
    }

    async fn post_visibility(&self, body: &[u8], credentials: Option<(&str, &str)>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/qargo/visibility", self.api_url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn sync_state(&self, network: Network, nexus_id: i64) -> ConsignmentSync {
        let key = SyncKey { network, nexus_consignment_id: NexusConsignmentId(nexus_id) };
        self.bridge.sync_state.load(&key).await.unwrap().unwrap_or_default()
    }
}

fn accepted(record: &OutboundRecord) -> bool {
    record.accepted && record.status == Some(202)
}

async fn a_pickup_completion_posts_poc_once_per_pallet(storage: Storage) {
    let world = world(storage, false).await;
    let booked = world.book("DE1 1AA").await;
    assert_eq!(world.event_posts(), 0);

    let arrival = world.arrive(booked.order.pickup_stop_id).await;
    assert!(accepted(&arrival), "{arrival:?}");
    assert_eq!(world.event_posts(), 0, "Nexus has no code for a driver at the pickup");

    let completion = world.complete(booked.order.pickup_stop_id).await;
    assert!(accepted(&completion), "{completion:?}");
    let expected: Vec<(String, String, String)> =
        booked.barcodes.iter().map(|b| ("POC".to_owned(), b.clone(), "PGD302".to_owned())).collect();
    assert_eq!(world.posted_events(booked.nexus_id), expected, "one POC per pallet, by the collecting depot");
    assert_eq!(world.event_posts(), 2);
    let state = world.sync_state(Network::Pallex, booked.nexus_id).await;
    assert_eq!(state.exported.get("PICKUP:COMPLETED").map(String::as_str), Some("POC"));

    // Qargo sends the same update again (a retry, or EventBridge delivering twice): nothing more.
    world.nexus.handle().reset_request_counts();
    let body = serde_json::to_vec(&completion.request).unwrap();
    let (status, answer) = world.post_visibility(&body, Some(("qargo", "inbound-pass"))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(world.nexus.handle().request_counts().total, 0, "a repeat is answered from the sync state");
    assert_eq!(world.posted_events(booked.nexus_id).len(), 2);

    // The delivery stop is the delivery depot's leg (UKD205): nothing to post for it.
    assert!(accepted(&world.arrive(booked.order.delivery_stop_id).await));
    assert!(accepted(&world.complete(booked.order.delivery_stop_id).await));
    assert_eq!(world.event_posts(), 0, "the delivery leg is not ours");
}

#[tokio::test]
async fn a_pickup_completion_posts_poc_once_per_pallet_in_memory() {
    a_pickup_completion_posts_poc_once_per_pallet(Storage::Memory).await;
}

#[tokio::test]
async fn a_pickup_completion_posts_poc_once_per_pallet_on_dynamodb() {
    a_pickup_completion_posts_poc_once_per_pallet(Storage::Moto).await;
}

/// A consignment UKD101 booked on PALL-EX for delivery by PGD302 (Retford), and its Qargo order as
/// the order import makes it (`NexusOrigin`).
async fn inbound(world: &World, number: &str) -> Booked {
    let ukd101 = end_to_end::depot_user(&world.nexus.base_url(), "UKD101", RetryPolicy::default());
    let body = end_to_end::simple_booking(52011, "PALLEX", number, "DN22 6AA", 2);
    let made = ukd101.create_consignment(&body).await.expect("booked by UKD101");
    assert_eq!(made.delivery_depot_code.as_deref(), Some("PGD302"));
    let barcodes: Vec<String> = made.pallets.iter().map(|p| p.barcode.clone()).collect();
    let stop = |postcode: &str| {
        json!({"location": {"address": "1 Industrial Estate", "postal_code": postcode, "city": "Town", "country": "GB"},
               "date": "2026-06-17"})
    };
    let order = json!({
        "order_identifier": format!("NEXUS-PALLEX-{}", made.consignment_id),
        "customer": {"code": "ACME"},
        "custom_fields": {"NexusOrigin": format!("PALLEX:{}", made.consignment_id)},
        "consignments": [{
            "pickup_stop": stop("DA1 1AA"),
            "delivery_stop": stop("DN22 6AA"),
            "goods": [{"quantity": 2, "packaging_type": {"code": "F"},
                       "handling_units": barcodes.iter().map(|b| json!({"barcode": {"value": b}})).collect::<Vec<_>>()}]
        }]
    });
    let order = world.qargo.handle.create_order(&serde_json::from_value(order).unwrap()).expect("order accepted");
    Booked { order, nexus_id: made.consignment_id, barcodes }
}

#[tokio::test]
async fn a_delivery_we_perform_posts_arrival_then_delivered_signed_or_not() {
    let world = world(Storage::Memory, false).await;
    let signed = inbound(&world, "INBOUND-SIGNED").await;
    let unsigned = inbound(&world, "INBOUND-UNSIGNED").await;

    assert!(accepted(&world.complete(signed.order.pickup_stop_id).await));
    assert_eq!(world.event_posts(), 0, "the collection leg is UKD101's");

    assert!(accepted(&world.arrive(signed.order.delivery_stop_id).await));
    let signature = SignatureInput { name: "J. Smith".into(), at: Some(NOW.into()), ..SignatureInput::default() };
    let document = world.qargo.handle.capture_signature(signed.order.delivery_stop_id, &signature).await.unwrap();
    assert!(document.outbound.iter().all(|r| r.accepted), "Document updates are acknowledged: {document:?}");
    assert!(accepted(&world.complete(signed.order.delivery_stop_id).await));
    let codes = |booked: &Booked, code: &str| -> Vec<(String, String, String)> {
        booked.barcodes.iter().map(|b| (code.to_owned(), b.clone(), "PGD302".to_owned())).collect()
    };
    let expected = [codes(&signed, "ARRI"), codes(&signed, "MPOD")].concat();
    assert_eq!(world.posted_events(signed.nexus_id), expected, "arrived, then delivered with a signature");

    assert!(accepted(&world.complete(unsigned.order.delivery_stop_id).await));
    assert_eq!(world.posted_events(unsigned.nexus_id), codes(&unsigned, "EPOD"), "delivered without a signature");
    assert_eq!(world.event_posts(), 6);
}

#[tokio::test]
async fn without_an_events_endpoint_nothing_is_posted_and_the_refusal_is_named() {
    let world = world_of(Storage::Memory, false, Capabilities::full().without(Capability::EventsWrite)).await;
    let booked = inbound(&world, "INBOUND-NO-EVENTS").await;
    let arrival = world.arrive(booked.order.delivery_stop_id).await;
    assert!(accepted(&arrival), "acknowledged, not retried: {arrival:?}");
    assert_eq!(world.event_posts(), 0, "no event posted to a Nexus without the route");
    let routed = bridge::visibility::parse_visibility(&serde_json::to_vec(&arrival.request).unwrap()).unwrap();
    let outcome = bridge::jobs::status_export::export_stop_update(&world.bridge, &routed[0]).await.unwrap();
    let ExportOutcome::Refused { reason, .. } = outcome else { panic!("refused: {outcome:?}") };
    assert!(reason.contains("not supported by this Nexus") && reason.contains("events-write"), "{reason}");
}

#[tokio::test]
async fn a_failed_delivery_posts_the_not_delivered_code_of_its_reason() {
    let world = world(Storage::Memory, false).await;
    let booked = inbound(&world, "INBOUND-FAILED").await;
    let arrival = world.arrive(booked.order.delivery_stop_id).await;
    let mut body = arrival.request.clone();
    // Qargo's visibility stop has no failed status: the attempt ends COMPLETED with the reason in
    // the stop's `failure_reason` additional field (README, "Set up Qargo for the bridge").
    body["events"][0]["update"]["stop"]["status"] = json!("COMPLETED");
    body["events"][0]["update"]["stop"]["custom_fields"] = json!({"failure_reason": "Premises closed"});
    let (status, answer) =
        world.post_visibility(&serde_json::to_vec(&body).unwrap(), Some(("qargo", "inbound-pass"))).await;
    assert_eq!(status, 202, "{answer}");
    let not_delivered: Vec<String> = world
        .posted_events(booked.nexus_id)
        .into_iter()
        .filter(|(code, ..)| code.starts_with("ND"))
        .map(|(code, ..)| code)
        .collect();
    assert_eq!(not_delivered, ["NDPC", "NDPC"]);
}

#[tokio::test]
async fn a_status_the_import_side_set_is_not_exported_back() {
    let world = world(Storage::Memory, true).await;
    let booked = world.book("DE1 1AA").await;
    // The import side applies a Nexus scan: it records the status, then sets it in Qargo.
    let key = SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(booked.nexus_id) };
    let mut state = world.sync_state(Network::Pallex, booked.nexus_id).await;
    state.stop_statuses_set.insert("PICKUP".into(), "COMPLETED".into());
    assert!(world.bridge.sync_state.save(&key, &state).await.unwrap());
    let update = json!({"updates": [{"event_time": "2026-06-17T09:00:00+01:00",
                                     "stop": {"id": booked.order.pickup_stop_id, "status": "COMPLETED"}}]});
    let answer = world.bridge.qargo.subco_status_update(&update).await.unwrap();
    assert!(answer.errors.is_empty(), "{answer:?}");

    // Qargo echoes the change as a Stop event, in the background.
    let mut echo = None;
    for _ in 0..2000 {
        echo = world.qargo.handle.outbound().into_iter().find(|r| r.kind == "visibility" && r.label == "Stop");
        if echo.as_ref().is_some_and(|r| r.status.is_some() || r.error.is_some()) {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let echo = echo.expect("the Qargo simulator echoed the status update");
    assert!(accepted(&echo), "{echo:?}");
    assert_eq!(echo.request["events"][0]["update"]["stop"]["status"], json!("COMPLETED"));
    assert_eq!(world.event_posts(), 0, "the collection came from Nexus: not sent back");
    assert!(world.sync_state(Network::Pallex, booked.nexus_id).await.exported.is_empty());
}

#[tokio::test]
async fn a_consignment_both_of_whose_legs_are_ours_is_not_synced() {
    let world = world(Storage::Memory, false).await;
    // Retford to Nottingham: PGD302 collects and delivers.
    let booked = world.book("NG1 5FT").await;
    let on_nexus = world.nexus.handle().consignment_json(booked.nexus_id as u64).unwrap();
    assert_eq!(
        (on_nexus["collectingDepotCode"].as_str(), on_nexus["deliveryDepotCode"].as_str()),
        (Some("PGD302"), Some("PGD302"))
    );
    for record in [
        world.complete(booked.order.pickup_stop_id).await,
        world.arrive(booked.order.delivery_stop_id).await,
        world.complete(booked.order.delivery_stop_id).await,
    ] {
        assert!(accepted(&record), "{record:?}");
    }
    assert_eq!(world.event_posts(), 0);
    assert!(world.posted_events(booked.nexus_id).is_empty());
    assert!(world.sync_state(Network::Pallex, booked.nexus_id).await.exported.is_empty());
}

#[tokio::test]
async fn a_nexus_outage_is_answered_503_and_the_update_sent_again_is_exported() {
    let world = world(Storage::Memory, false).await;
    let booked = world.book("DE1 1AA").await;
    world.nexus.handle().set_outage(true);
    let completion = world.complete(booked.order.pickup_stop_id).await;
    assert_eq!(completion.status, Some(503), "{completion:?}");
    assert!(!completion.accepted);
    assert_eq!(completion.errors[0].error_type, "INTERNAL_ERROR");
    world.nexus.handle().set_outage(false);
    assert!(world.posted_events(booked.nexus_id).is_empty());

    let body = serde_json::to_vec(&completion.request).unwrap();
    let (status, answer) = world.post_visibility(&body, Some(("qargo", "inbound-pass"))).await;
    assert_eq!(status, 202, "{answer}");
    let codes: Vec<String> = world.posted_events(booked.nexus_id).into_iter().map(|(code, ..)| code).collect();
    assert_eq!(codes, ["POC", "POC"]);
}

#[tokio::test]
async fn a_bad_visibility_body_is_a_400_naming_the_problem() {
    let world = world(Storage::Memory, false).await;
    let auth = Some(("qargo", "inbound-pass"));
    let cases: [(Value, &str); 4] = [
        (json!({"order": {"id": "o-1"}}), "events is missing"),
        (json!({"events": [{"update": {"type": "Stop"}}]}), "events[0].timestamp is missing"),
        (
            json!({"events": [{"timestamp": "2026-06-17T08:00:00Z",
                               "update": {"id": "s", "type": "Stop", "stop": {"id": "s", "stop_type": "PICKUP"}}}]}),
            "events[0].update.stop: missing field `status`",
        ),
        (json!({"events": [], "order": {"custom_fields": {}}}), "order: missing field `id`"),
    ];
    for (body, expected) in cases {
        let (status, answer) = world.post_visibility(&serde_json::to_vec(&body).unwrap(), auth).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"][0]["error_type"], json!("USER_INPUT_ERROR"));
        let message = answer["errors"][0]["error_message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (status, answer) = world.post_visibility(b"{not json", auth).await;
    assert_eq!(status, 400);
    assert!(answer.to_string().contains("not JSON"), "{answer}");
    assert_eq!(world.nexus.handle().request_counts().total, 0, "nothing reached Nexus");
}

#[tokio::test]
async fn an_unauthenticated_visibility_call_is_a_401() {
    let world = world(Storage::Memory, false).await;
    let booked = world.book("DE1 1AA").await;
    let completion = world.complete(booked.order.pickup_stop_id).await;
    assert_eq!(world.event_posts(), 2);
    let body = serde_json::to_vec(&completion.request).unwrap();
    world.nexus.handle().reset_request_counts();
    for credentials in [None, Some(("qargo", "wrong")), Some(("someone", "inbound-pass"))] {
        let (status, answer) = world.post_visibility(&body, credentials).await;
        assert_eq!(status, 401, "{credentials:?}: {answer}");
        assert!(!answer.to_string().contains("inbound-pass"), "{answer}");
    }
    assert_eq!(world.nexus.handle().request_counts().total, 0, "nothing was routed");
}

// ---- the cloud's router: the visibility bus on moto ------------------------------------------------

/// One call of an AWS JSON-protocol API on moto (EventBridge, SQS), for the set-up the bridge itself
/// never does: buses, rules and queues. moto reads the service from the credential scope and does
/// not check signatures.
async fn aws_json(service: &str, target: &str, body: Value) -> Value {
    let content_type = if service == "sqs" { "application/x-amz-json-1.0" } else { "application/x-amz-json-1.1" };
    let response = bridge::http::client_builder().build().unwrap()
        .post(format!("{}/", end_to_end::aws_endpoint()))
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260617/eu-west-2/{service}/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer = response.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {answer}");
    serde_json::from_str(&answer).unwrap_or(Value::Null)
}

fn routed(n: usize) -> RoutedUpdate {
    let (kind, update) = if n.is_multiple_of(3) {
        (UpdateKind::Document, json!({"id": format!("d-{n}"), "type": "Document", "status": "CREATED", "document": {}}))
    } else {
        let stop = json!({"id": format!("s-{n}"), "stop_type": "PICKUP", "status": "COMPLETED"});
        (UpdateKind::Stop, json!({"id": format!("s-{n}"), "type": "Stop", "stop": stop}))
    };
    let order = json!({"id": "o-1", "custom_fields": {"NexusOrigin": "PALLEX:10020"}, "order_name": "OR-1"});
    RoutedUpdate { kind, timestamp: NOW.parse().unwrap(), update, order: Some(serde_json::from_value(order).unwrap()) }
}

#[tokio::test]
async fn the_eventbridge_router_puts_every_update_on_the_bus_for_the_rule_of_its_kind() {
    let bus = end_to_end::unique_name("visibility");
    let bus_arn = aws_json("events", "AWSEvents.CreateEventBus", json!({"Name": bus})).await["EventBusArn"].clone();
    assert!(bus_arn.is_string(), "{bus_arn}");
    // The template's rule for status-poll, with a queue as its target.
    let queue = aws_json("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": end_to_end::unique_name("stops")})).await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let attributes = json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]});
    let queue_arn = aws_json("sqs", "AmazonSQS.GetQueueAttributes", attributes).await["Attributes"]["QueueArn"].clone();
    let pattern = json!({"source": [bridge::routing::EVENT_SOURCE], "detail-type": ["Stop"]});
    let rule = json!({"Name": "stop-updates", "EventBusName": bus, "EventPattern": pattern.to_string()});
    aws_json("events", "AWSEvents.PutRule", rule).await;
    let target =
        json!({"Rule": "stop-updates", "EventBusName": bus, "Targets": [{"Id": "status-poll", "Arn": queue_arn}]});
    aws_json("events", "AWSEvents.PutTargets", target).await;

    // 23 updates: more than one call may carry (moto, like EventBridge, refuses more than ten).
    let updates: Vec<RoutedUpdate> = (0..23).map(routed).collect();
    let router = EventBridgeRouter::with_config(&end_to_end::aws_config(), &bus);
    router.route(updates.clone()).await.expect("every update put on the bus");
    router.route(Vec::new()).await.expect("nothing to put");

    let mut received: Vec<RoutedUpdate> = Vec::new();
    loop {
        let receive = json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10});
        let answer = aws_json("sqs", "AmazonSQS.ReceiveMessage", receive).await;
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let event: Value = serde_json::from_str(message["Body"].as_str().unwrap()).unwrap();
            assert_eq!(event["source"], json!(bridge::routing::EVENT_SOURCE));
            assert_eq!(event["detail-type"], json!("Stop"));
            received.push(serde_json::from_value(event["detail"].clone()).expect("the detail is a RoutedUpdate"));
            let delete = json!({"QueueUrl": queue_url, "ReceiptHandle": message["ReceiptHandle"]});
            aws_json("sqs", "AmazonSQS.DeleteMessage", delete).await;
        }
    }
    received.sort_by_key(|update| update.update["id"].as_str().map(str::to_owned));
    let mut stops: Vec<RoutedUpdate> = updates.into_iter().filter(|u| u.kind == UpdateKind::Stop).collect();
    stops.sort_by_key(|update| update.update["id"].as_str().map(str::to_owned));
    assert_eq!(stops.len(), 15);
    assert_eq!(received, stops, "each Stop update reached the Stop rule once, whole");
}

#[tokio::test]
async fn a_bus_that_cannot_take_the_updates_is_an_error() {
    let bus = end_to_end::unique_name("no-such-bus");
    let router = EventBridgeRouter::with_config(&end_to_end::aws_config(), &bus);
    let err = router.route(vec![routed(1)]).await.expect_err("the bus does not exist");
    assert!(matches!(err, RoutingError::Refused { .. } | RoutingError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&bus), "{err}");
}

/// A Stop update whose body names another consignment than the one the bridge linked to its order
/// (forged Nexus fields, or another order's consignment) is refused as never possible, naming the
/// link, and nothing reaches Nexus; the genuine update of the same order still posts.
#[tokio::test]
async fn a_stop_update_naming_another_orders_consignment_acts_on_nothing() {
    let world = world(Storage::Memory, false).await;
    let mine = world.book("DE1 1AA").await;
    let other = world.book("DE1 2AA").await;
    let completion = world.complete(mine.order.pickup_stop_id).await;
    assert!(accepted(&completion), "{completion:?}");
    world.nexus.handle().reset_request_counts();
    let auth = Some(("qargo", "inbound-pass"));

    // The same update, its order's Nexus fields pointing at the other booking.
    let mut forged = completion.request.clone();
    forged["order"]["custom_fields"]["NexusConsignmentID"] = json!(other.nexus_id.to_string());
    let (status, answer) = world.post_visibility(&serde_json::to_vec(&forged).unwrap(), auth).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("was booked for Qargo order"), "{answer}");
    // An order id that is no UUID (a path, say) is refused before anything is read.
    let mut traversal = completion.request.clone();
    traversal["order"]["id"] = json!(format!("../../orders/order/{}#", other.order.order_id));
    let (status, answer) = world.post_visibility(&serde_json::to_vec(&traversal).unwrap(), auth).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("not a Qargo order id"), "{answer}");
    assert_eq!(world.event_posts(), 0, "nothing posted for a consignment the body chose");
    assert!(world.posted_events(other.nexus_id).is_empty());

    // An imported order: the link is read from Qargo (its identifier), once, then remembered.
    let inbound = inbound(&world, "INBOUND-LINKED").await;
    let arrival = world.arrive(inbound.order.delivery_stop_id).await;
    assert!(accepted(&arrival), "{arrival:?}");
    let state = world.sync_state(Network::Pallex, inbound.nexus_id).await;
    assert!(state.linked_orders.contains(&inbound.order.order_id.to_string()), "{state:?}");
    let mut imported_forged = arrival.request.clone();
    imported_forged["order"]["custom_fields"]["NexusOrigin"] = json!(format!("PALLEX:{}", mine.nexus_id));
    let (status, answer) = world.post_visibility(&serde_json::to_vec(&imported_forged).unwrap(), auth).await;
    assert_eq!(status, 422, "{answer}");
    assert!(world.posted_events(mine.nexus_id).iter().all(|(code, ..)| code == "POC"), "only its own collection");
}
