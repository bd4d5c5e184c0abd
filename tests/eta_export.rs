//! ETA export, Qargo → Nexus, end to end: consignments other depots booked for us are imported into
//! the Qargo simulator, planned on one of our trips, and re-optimised through its scenario API, so
//! Qargo sends real `Eta` visibility webhooks to the bridge's API; the bridge pushes the delivery
//! estimates to the Nexus simulator with the Optimize key.

use std::sync::Arc;

use bridge::config::Secret;
use bridge::domain::{Network, NexusConsignmentId};
use bridge::jobs::eta_export::EtaOutcome;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::nexus::NexusClients;
use bridge::nexus::capabilities::{Capabilities, Capability};
use bridge::store::{ConsignmentSync, SyncKey};
use bridge::wiring::Bridge;
use jiff::{SignedDuration, Timestamp};
use nexus_sim::Stage;
use qargo_sim::{EtaInput, EtaStop, OutboundRecord, StopAction, TripInput};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dispatch::{Storage, World, booking_of, order, quick_retries, response, world_with};

const ETA_ROUTE: &str = "PUT /v1/consignments/{id}/eta";
const READ_ROUTE: &str = "GET /v1/consignments/{id}";

/// The Optimize key of the Nexus simulator's default world (the world `world_with` starts).
fn default_optimize_key() -> String {
    let seed: Value = serde_json::from_str(nexus_sim::WorldSeed::default_world_json()).unwrap();
    seed["optimizeKey"].as_str().expect("the default world has an Optimize key").to_owned()
}

/// The test world of the dispatch tests, with the Optimize key in the bridge's secrets when
/// `optimize` is set (ETA export is off without it).
async fn eta_world(storage: Storage, optimize: bool) -> World {
    let world = world_with(storage, move |bridge: &mut Bridge| {
        if optimize {
            let mut secrets = (*bridge.secrets).clone();
            secrets.optimize_api_key = Some(Secret::new(default_optimize_key()));
            bridge.nexus = NexusClients::from_secrets(&bridge.settings.nexus_base_url, &secrets, quick_retries());
            bridge.secrets = Arc::new(secrets);
        }
    })
    .await;
    assert_eq!(world.nexus.handle().optimize_key(), default_optimize_key());
    world
}

/// A consignment another depot booked for us, imported into Qargo.
#[derive(Debug, Clone)]
struct Inbound {
    nexus_id: i64,
    order_id: Uuid,
    delivery_stop: Uuid,
}

/// Books a consignment as UKD101 for Thames Kitchens (52011, imported for ACME), to `delivery` and,
/// when given, collected at `collection` instead of the customer's address in Dartford.
async fn book_for_us(world: &World, number: &str, delivery: &str, collection: Option<&str>) -> i64 {
    let credentials =
        bridge::config::Credentials { username: "ukd101.api".into(), password: Secret::new("Sim!UKD101") };
    let ukd101 = bridge::nexus::NexusClient::new(&world.nexus.base_url(), credentials, quick_retries());
    let address = |postcode: &str| json!({"countryID": 233, "name": "Receiver", "line1": "1 High Street", "town": "Town", "postcode": postcode});
    let mut body = json!({
        "general": {"consignmentTypeID": 2, "customerID": 52011, "consignmentNumber": number, "limitedQuantities": false},
        "collectionInfo": {"serviceID": 1, "dueDate": "2026-06-17"},
        "deliveryInfo": {"serviceID": 1},
        "deliveryAddress": address(delivery),
        "pallets": [{"palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 100,
                     "weight": 300, "limitedQuantityWeight": 0, "doNotStack": false}]
    });
    if let Some(collection) = collection {
        body["collectionAddress"] = address(collection);
    }
    let body: bridge::nexus::wire::CreateConsignment = serde_json::from_value(body).unwrap();
    ukd101.create_consignment(&body).await.expect("booked by UKD101").consignment_id
}

/// `count` consignments UKD101 booked for delivery by PGD302 (Retford's areas).
async fn book_deliveries_for_us(world: &World, prefix: &str, count: usize) -> Vec<i64> {
    let postcodes = ["DN22 7SS", "S1 2HE", "NG1 5FS", "LN1 1DF", "HU1 1UU", "YO1 7HH"];
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(book_for_us(world, &format!("{prefix}-{i:03}"), postcodes[i % postcodes.len()], None).await);
    }
    ids
}

/// Runs the order import and finds the Qargo orders of `ids`.
async fn import(world: &World, ids: &[i64]) -> Vec<Inbound> {
    import_orders(&world.bridge, &ImportOptions::unbounded()).await.expect("imported");
    ids.iter()
        .map(|id| {
            let detail = world
                .qargo
                .handle
                .order_by_identifier(&format!("NEXUS-PALLEX-{id}"))
                .unwrap_or_else(|| panic!("consignment {id} imported"));
            let delivery_stop = {
                let stop = detail["stops"].as_array().unwrap().iter().find(|s| s["stop_type"] == "DELIVERY").unwrap();
                stop["id"].as_str().unwrap().parse().unwrap()
            };
            Inbound { nexus_id: *id, order_id: detail["order"]["id"].as_str().unwrap().parse().unwrap(), delivery_stop }
        })
        .collect()
}

/// Plans orders on one of our own delivery trips (the Optimize module plans these).
fn plan_trip(world: &World, orders: &[Uuid]) -> Uuid {
    let input: TripInput =
        serde_json::from_value(json!({"order_ids": orders, "resource_code": "PGD302-VAN-1", "name": "Retford van 1"}))
            .unwrap();
    world.qargo.handle.create_trip(&input).expect("trip planned").trip_id
}

/// Re-optimises the trip: every `Eta` call the Qargo simulator made, each answered 202.
async fn reoptimise(world: &World, trip: Uuid, input: EtaInput) -> Vec<OutboundRecord> {
    let outcome = world.qargo.handle.reoptimise_etas(trip, &input).await.expect("re-optimised");
    for record in &outcome.outbound {
        assert_eq!(record.label, "Eta");
        assert!(record.accepted && record.status == Some(202), "{:?} {:?}", record.status, record.response);
    }
    outcome.outbound
}

fn shift(minutes: i64) -> EtaInput {
    EtaInput { stops: vec![], shift_minutes: Some(minutes) }
}

fn explicit(stops: &[(Uuid, &str, &str)]) -> EtaInput {
    let stops = stops
        .iter()
        .map(|(stop_id, start, end)| EtaStop {
            stop_id: *stop_id,
            eta_start: (*start).to_owned(),
            eta_end: Some((*end).to_owned()),
        })
        .collect();
    EtaInput { stops, shift_minutes: None }
}

impl World {
    /// The Nexus estimate fields: (`estimatedDelDate`, `estimatedDelTime`, `startWindow`, `endWindow`).
    fn estimate(&self, id: i64) -> (Value, Value, Value, Value) {
        let c = self.nexus.handle().consignment_json(id as u64).expect("on Nexus");
        (c["estimatedDelDate"].clone(), c["estimatedDelTime"].clone(), c["startWindow"].clone(), c["endWindow"].clone())
    }

    /// The `ETA` events on a consignment: (depot, source, notes).
    fn eta_events(&self, id: i64) -> Vec<(String, String, String)> {
        let c = self.nexus.handle().consignment_json(id as u64).expect("on Nexus");
        let text = |event: &Value, key: &str| event[key].as_str().unwrap_or_default().to_owned();
        c["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["code"] == "ETA")
            .map(|event| (text(event, "depotCode"), text(event, "source"), text(event, "notes")))
            .collect()
    }

    fn eta_puts(&self) -> u64 {
        self.nexus.handle().request_counts().for_route(ETA_ROUTE)
    }

    fn nexus_requests(&self) -> u64 {
        self.nexus.handle().request_counts().total
    }

    async fn sync_state(&self, id: i64) -> ConsignmentSync {
        let key = SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(id) };
        self.bridge.sync_state.load(&key).await.unwrap().unwrap_or_default()
    }

    async fn post_visibility(&self, body: &Value) -> u16 {
        let answer = self
            .http
            .post(format!("{}/qargo/visibility", self.api_url))
            .basic_auth("qargo", Some("inbound-pass"))
            .json(body)
            .send()
            .await
            .unwrap();
        answer.status().as_u16()
    }
}

fn expected(date: &str, time: &str, start: &str, end: &str) -> (Value, Value, Value, Value) {
    (json!(date), json!(time), json!(start), json!(end))
}

#[tokio::test]
async fn an_eta_for_a_stop_we_deliver_reaches_nexus_and_a_five_minute_move_sends_nothing() {
    let world = eta_world(Storage::Memory, true).await;
    let ids = book_deliveries_for_us(&world, "ETA", 1).await;
    let inbound = import(&world, &ids).await.remove(0);
    let id = inbound.nexus_id;
    let before = world.estimate(id);
    let trip = plan_trip(&world, &[inbound.order_id]);

    let records = reoptimise(
        &world,
        trip,
        explicit(&[(inbound.delivery_stop, "2026-06-18T10:40:00+01:00", "2026-06-18T11:10:00+01:00")]),
    )
    .await;
    assert_eq!(records.len(), 1, "one Eta call for the order");
    assert_eq!(world.estimate(id), expected("2026-06-18", "10:40", "10:40", "11:10"), "was {before:?}");
    let events = world.eta_events(id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].0.as_str(), events[0].1.as_str()), ("PGD302", "OPTIMIZE"));
    assert_eq!(world.eta_puts(), 1);
    let state = world.sync_state(id).await;
    let sent = state.eta_last_sent.expect("the ETA sent is recorded");
    assert_eq!(
        (sent.date.to_string(), sent.time.map(|t| t.to_string())),
        ("2026-06-18".into(), Some("10:40:00".into()))
    );
    assert_eq!(state.eta_pushing_until, None, "the push's hold is released");
    assert_eq!(state.eta_delivery_depot.as_ref().map(|d| d.as_str()), Some("PGD302"));

    // Qargo sends the same body again (a retry): nothing more.
    assert_eq!(world.post_visibility(&records[0].request).await, 202);
    assert_eq!(world.eta_puts(), 1);

    // Five minutes later is no news; the pickup stop moved too and is never sent.
    let moved = reoptimise(&world, trip, shift(5)).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].request["events"][0]["update"]["stops"].as_array().unwrap().len(), 2, "pickup and delivery");
    assert_eq!(world.eta_puts(), 1, "a 5-minute move sends nothing");
    assert_eq!(world.estimate(id), expected("2026-06-18", "10:40", "10:40", "11:10"));

    // Another 20 minutes makes 25 from what Nexus has: sent, and the depot is known, so one request.
    let requests = world.nexus_requests();
    reoptimise(&world, trip, shift(20)).await;
    assert_eq!(world.nexus_requests() - requests, 1, "one PUT, no read");
    assert_eq!(world.estimate(id), expected("2026-06-18", "11:05", "11:05", "11:35"));
    assert_eq!(world.eta_events(id).len(), 2);
}

#[tokio::test]
async fn forty_stops_reoptimised_at_once_make_at_most_one_nexus_call_per_consignment() {
    let world = eta_world(Storage::Memory, true).await;
    let ids = book_deliveries_for_us(&world, "BURST", 40).await;
    let inbound = import(&world, &ids).await;
    let orders: Vec<Uuid> = inbound.iter().map(|i| i.order_id).collect();
    let trip = plan_trip(&world, &orders);

    let requests = world.nexus_requests();
    let reads = world.nexus.handle().request_counts().for_route(READ_ROUTE);
    let records = reoptimise(&world, trip, shift(30)).await;
    assert_eq!(records.len(), 40, "one Eta call per order");
    assert_eq!(world.eta_puts(), 40, "one ETA per consignment, none for the 40 pickups");
    let reads = world.nexus.handle().request_counts().for_route(READ_ROUTE) - reads;
    assert!(reads <= 40, "at most one read per consignment, to learn it is ours to deliver: {reads}");
    // A login per depot user at most, besides the reads and the pushes.
    assert!(world.nexus_requests() - requests <= 80 + 1, "{}", world.nexus_requests() - requests);
    for i in &inbound {
        assert_eq!(world.eta_events(i.nexus_id).len(), 1, "consignment {}", i.nexus_id);
    }

    // The next re-optimisation of the trip: exactly one Nexus call per consignment.
    let requests = world.nexus_requests();
    reoptimise(&world, trip, shift(30)).await;
    assert_eq!(world.nexus_requests() - requests, 40, "one PUT each, nothing else");
    for i in &inbound {
        assert_eq!(world.eta_events(i.nexus_id).len(), 2, "consignment {}", i.nexus_id);
        let state = world.sync_state(i.nexus_id).await;
        let (_, time, _, _) = world.estimate(i.nexus_id);
        let sent = state.eta_last_sent.unwrap().time.unwrap();
        assert_eq!(time, json!(sent.strftime("%H:%M").to_string()), "what Nexus has is what was recorded");
    }
}

/// The same `Eta` update delivered `copies` times at once (EventBridge at-least-once, Qargo's
/// retries, concurrent invocations): one push.
async fn concurrent_deliveries_push_once(storage: Storage) {
    let world = Arc::new(eta_world(storage, true).await);
    let ids = book_deliveries_for_us(&world, "RACE", 1).await;
    let inbound = import(&world, &ids).await.remove(0);
    let trip = plan_trip(&world, &[inbound.order_id]);
    let first = reoptimise(&world, trip, shift(30)).await.remove(0);
    assert_eq!(world.eta_puts(), 1);

    // The body Qargo would send after an hour's re-optimisation, delivered 10 times at once.
    let mut body = first.request.clone();
    let later = |value: &mut Value| {
        if let Some(at) = value.as_str().and_then(|text| text.parse::<Timestamp>().ok()) {
            *value = json!((at + SignedDuration::from_hours(1)).to_string());
        }
    };
    later(&mut body["events"][0]["timestamp"]);
    for stop in body["events"][0]["update"]["stops"].as_array_mut().unwrap() {
        later(&mut stop["eta_start_time"]);
        later(&mut stop["eta_end_time"]);
    }
    let deliveries: Vec<_> = (0..10)
        .map(|_| {
            let world = world.clone();
            let body = body.clone();
            tokio::spawn(async move { world.post_visibility(&body).await })
        })
        .collect();
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap(), 202);
    }
    assert_eq!(world.eta_puts(), 2, "ten deliveries of one update, one push");
    assert_eq!(world.eta_events(inbound.nexus_id).len(), 2);
    let state = world.sync_state(inbound.nexus_id).await;
    assert_eq!(state.eta_pushing_until, None);
    let (_, time, _, _) = world.estimate(inbound.nexus_id);
    assert_eq!(time, json!(state.eta_last_sent.unwrap().time.unwrap().strftime("%H:%M").to_string()));

    // The older update, delivered late, is not sent over the newer one.
    assert_eq!(world.post_visibility(&first.request).await, 202);
    assert_eq!(world.eta_puts(), 2, "a stale update sends nothing");
}

#[tokio::test]
async fn concurrent_deliveries_of_one_eta_update_push_once_in_memory() {
    concurrent_deliveries_push_once(Storage::Memory).await;
}

#[tokio::test]
async fn concurrent_deliveries_of_one_eta_update_push_once_on_dynamodb() {
    concurrent_deliveries_push_once(Storage::Moto).await;
}

#[tokio::test]
async fn stops_we_do_not_deliver_and_started_stops_send_nothing() {
    let world = eta_world(Storage::Memory, true).await;
    // UKD101 books a collection in Retford (PGD302 collects) for delivery in Dartford (UKD101 delivers).
    let collected = book_for_us(&world, "COLLECT-1", "DA1 5BS", Some("DN22 7SS")).await;
    let on_nexus = world.nexus.handle().consignment_json(collected as u64).unwrap();
    assert_eq!(
        (on_nexus["collectingDepotCode"].as_str(), on_nexus["deliveryDepotCode"].as_str()),
        (Some("PGD302"), Some("UKD101"))
    );
    // One we deliver, whose driver is already at the door.
    let delivered = book_deliveries_for_us(&world, "STARTED", 1).await[0];
    let imported = import(&world, &[collected, delivered]).await;
    let (collect, started) = (&imported[0], &imported[1]);
    // One we booked ourselves (dispatch) for delivery in Derby by UKD205: its stops are on the PALL-EX trip.
    let booked = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let record = world.dispatch(&booked, "CREATE").await;
    assert!(record.accepted, "{}", response(&record));
    let booked_id = booking_of(&response(&record)).1;

    let trip = plan_trip(&world, &[collect.order_id, started.order_id]);
    let at = StopAction { at: Some("2026-06-18T10:00:00+01:00".into()) };
    world.qargo.handle.arrive_at_stop(started.delivery_stop, &at).await.expect("the driver arrives");
    let before: Vec<_> = [collected, delivered, booked_id].iter().map(|id| world.estimate(*id)).collect();
    let reads = world.nexus.handle().request_counts().for_route(READ_ROUTE);

    reoptimise(&world, trip, shift(45)).await;
    reoptimise(
        &world,
        trip,
        explicit(&[(started.delivery_stop, "2026-06-18T11:00:00+01:00", "2026-06-18T11:30:00+01:00")]),
    )
    .await;
    let booked_trip = booked.trip.as_ref().unwrap().trip_id;
    let calls = reoptimise(&world, booked_trip, shift(60)).await;
    assert_eq!(calls.len(), 1, "the booked order's ETA reached the bridge");

    assert_eq!(world.eta_puts(), 0, "nothing sent for a collection, a started stop or our own booking");
    let after: Vec<_> = [collected, delivered, booked_id].iter().map(|id| world.estimate(*id)).collect();
    assert_eq!(after, before);
    for id in [collected, delivered, booked_id] {
        assert!(world.eta_events(id).is_empty(), "consignment {id}");
    }
    assert!(
        world.nexus.handle().request_counts().for_route(READ_ROUTE) - reads <= 1,
        "only the collection was read, to learn it is not ours to deliver"
    );
    assert_eq!(world.sync_state(collected).await.eta_last_sent, None, "the claim was undone");
}

#[tokio::test]
async fn without_the_optimize_key_nothing_is_sent() {
    let world = eta_world(Storage::Memory, false).await;
    let ids = book_deliveries_for_us(&world, "NOKEY", 2).await;
    let inbound = import(&world, &ids).await;
    let trip = plan_trip(&world, &inbound.iter().map(|i| i.order_id).collect::<Vec<_>>());
    let before: Vec<_> = ids.iter().map(|id| world.estimate(*id)).collect();
    let requests = world.nexus_requests();
    let records = reoptimise(&world, trip, shift(60)).await;
    assert_eq!(records.len(), 2, "Qargo's Eta calls are acknowledged");
    assert_eq!(world.nexus_requests(), requests, "no Nexus request at all");
    assert_eq!(ids.iter().map(|id| world.estimate(*id)).collect::<Vec<_>>(), before);
    assert_eq!(world.sync_state(ids[0]).await, ConsignmentSync::default(), "nothing recorded");
}

#[tokio::test]
async fn without_an_eta_endpoint_nothing_is_sent_and_the_refusal_is_named() {
    let world = world_with(Storage::Memory, |bridge: &mut Bridge| {
        let mut secrets = (*bridge.secrets).clone();
        secrets.optimize_api_key = Some(Secret::new(default_optimize_key()));
        bridge.nexus = NexusClients::from_secrets(&bridge.settings.nexus_base_url, &secrets, quick_retries());
        bridge.secrets = Arc::new(secrets);
        bridge.settings.nexus_capabilities = Capabilities::full().without(Capability::Eta);
    })
    .await;
    let ids = book_deliveries_for_us(&world, "NOETA", 1).await;
    let inbound = import(&world, &ids).await;
    let trip = plan_trip(&world, &inbound.iter().map(|i| i.order_id).collect::<Vec<_>>());
    let requests = world.nexus_requests();
    let records = reoptimise(&world, trip, shift(60)).await;
    assert!(records.iter().all(|r| r.accepted), "acknowledged, not retried");
    assert_eq!(world.nexus_requests(), requests, "no Nexus request");
    let routed = bridge::visibility::parse_visibility(&serde_json::to_vec(&records[0].request).unwrap()).unwrap();
    let report = bridge::jobs::eta_export::export_eta_update(&world.bridge, &routed[0]).await.unwrap();
    let EtaOutcome::NotSupported { reason } = &report.stops[0].outcome else { panic!("{report:?}") };
    assert!(reason.contains("not supported by this Nexus") && reason.contains("eta"), "{reason}");
}

#[tokio::test]
async fn etas_across_the_october_clock_change_are_sent_in_uk_local_time() {
    let world = eta_world(Storage::Memory, true).await;
    let ids = book_deliveries_for_us(&world, "DST", 3).await;
    let inbound = import(&world, &ids).await;
    let trip = plan_trip(&world, &inbound.iter().map(|i| i.order_id).collect::<Vec<_>>());
    reoptimise(
        &world,
        trip,
        explicit(&[
            // Saturday 24 October 2026, still BST (UTC+1).
            (inbound[0].delivery_stop, "2026-10-24T09:30:00Z", "2026-10-24T10:00:00Z"),
            // Monday 26 October 2026, GMT.
            (inbound[1].delivery_stop, "2026-10-26T09:30:00Z", "2026-10-26T10:00:00Z"),
            // 23:30 UTC on the Saturday is 00:30 BST on the Sunday of the change.
            (inbound[2].delivery_stop, "2026-10-24T23:30:00Z", "2026-10-25T00:15:00Z"),
        ]),
    )
    .await;
    assert_eq!(world.estimate(ids[0]), expected("2026-10-24", "10:30", "10:30", "11:00"));
    assert_eq!(world.estimate(ids[1]), expected("2026-10-26", "09:30", "09:30", "10:00"));
    assert_eq!(world.estimate(ids[2]), expected("2026-10-25", "00:30", "00:30", "01:15"));
}

#[tokio::test]
async fn an_eta_nexus_refuses_is_logged_and_dropped() {
    let world = eta_world(Storage::Memory, true).await;
    let ids = book_deliveries_for_us(&world, "DONE", 2).await;
    let inbound = import(&world, &ids).await;
    let trip = plan_trip(&world, &inbound.iter().map(|i| i.order_id).collect::<Vec<_>>());
    reoptimise(
        &world,
        trip,
        explicit(&[(inbound[0].delivery_stop, "2026-06-18T10:00:00+01:00", "2026-06-18T10:30:00+01:00")]),
    )
    .await;
    assert_eq!(world.eta_puts(), 1);
    let sent = world.sync_state(ids[0]).await.eta_last_sent;

    // Both are delivered on Nexus while Qargo's stops still wait for the driver.
    for id in &ids {
        world.nexus.handle().step(*id as u64, Stage::Delivered).unwrap();
    }
    let estimates: Vec<_> = ids.iter().map(|id| world.estimate(*id)).collect();
    for _ in 0..2 {
        // Answered 202 each time: Qargo does not send them again.
        reoptimise(&world, trip, shift(60)).await;
    }
    // The first goes straight to its known depot and is refused (409) each time; the second is read
    // first and found finished, so it is never sent.
    assert_eq!(world.eta_puts(), 1 + 2);
    assert_eq!(ids.iter().map(|id| world.estimate(*id)).collect::<Vec<_>>(), estimates);
    assert_eq!(world.eta_events(ids[0]).len(), 1);
    assert!(world.eta_events(ids[1]).is_empty());
    let state = world.sync_state(ids[0]).await;
    assert_eq!(state.eta_last_sent, sent, "what Nexus has is still what is recorded");
    assert_eq!(state.eta_pushing_until, None);
    assert_eq!(world.sync_state(ids[1]).await.eta_last_sent, None);
}
