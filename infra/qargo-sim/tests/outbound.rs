//! Sending Qargo's webhooks: the Subcontractor Dispatch payload and the visibility events, with the
//! configured credential, and the recording of the bridge's answers.

use std::time::Duration;

use base64::Engine;
use qargo_sim::{PhotoInput, ScenarioOrder, SignatureInput, StopAction, TripInput, TripSpec};
use serde_json::{Value, json};

use crate::support::{Client, FakeBridge, options, options_with_bridge, order_input, start};

fn scenario(reference: &str, customer: &str, barcodes: &[&str], resource: Option<&str>) -> ScenarioOrder {
    let mut input = order_input(&format!("ID-{reference}"), customer, reference, barcodes);
    input["consignments"][0]["delivery_stop"]["extras"] = json!([
        { "code": "TL", "name": "Tail-lift" },
        { "code": "AZ", "name": "Amazon Book In", "amazon": { "carton_count": "120", "po_number": "PO-77", "booking_date": "2030-06-04", "booking_time": "10:30" } }
    ]);
    if let Some(code) = resource {
        input["trip"] = json!({ "resource_code": code });
    }
    serde_json::from_value(input).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test]
async fn completing_the_dispatch_task_sends_the_subcontractor_dispatch_payload() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let order = sim.handle.create_order(&scenario("REF-D1", "ACME", &["PX1", "PX2"], Some("PALLEX_OUT"))).unwrap();
    let trip = order.trip.clone().unwrap();
    let record = sim.handle.dispatch_trip(trip.trip_id, "CREATE").await.unwrap();
    assert!(record.accepted, "{record:?}");
    assert_eq!(record.status, Some(200));
    assert_eq!(record.url.as_deref(), Some(format!("{}/qargo/dispatch", bridge.url).as_str()));

    let received = bridge.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/qargo/dispatch");
    assert_eq!(received[0].authorization.as_deref(), Some(basic("qargo", "inbound-pass").as_str()));
    let body = &received[0].body;
    assert_eq!(body["operation"], "CREATE");
    let payload = &body["payload"];
    assert_eq!(payload["id"], trip.trip_id.to_string());
    assert_eq!(payload["name"], trip.trip_name);
    let resource = &payload["resource_allocations"][0]["resource"];
    assert_eq!(resource["code"], "PALLEX_OUT");
    assert_eq!(resource["resource_type"], "SUBCONTRACTOR");
    assert_eq!(resource["is_external_resource"], true);
    let orders = payload["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    let o = &orders[0];
    assert_eq!(o["id"], order.order_id.to_string());
    assert_eq!(o["name"], order.order_name);
    assert_eq!(o["customer_reference_number"], "REF-D1");
    assert_eq!(o["service_level"]["code"], "A");
    assert_eq!(o["customer"]["name"], "Acme Retail Ltd");
    assert_eq!(o["customer"]["code"], "ACME");
    assert_eq!(o["customer"]["custom_fields"], json!({ "PallexID": "64086", "FortecID": "71002" }));
    assert_eq!(o["customer"]["contacts"][0]["phone_number"], "+441234567890");
    let c = &o["consignments"][0];
    assert_eq!(c["consignment_reference_number"], "REF-D1-C1");
    assert_eq!(c["custom_fields"]["AmazonCartonCount"], "12");
    let pickup = &c["pickup_stop"];
    assert_eq!(pickup["location"]["postal_code"], "DE24 8UP");
    assert_eq!(pickup["location"]["country"], "GB");
    assert_eq!(pickup["date"], "2030-06-03");
    assert_eq!(
        pickup["time_window"],
        json!({ "code": "AM", "name": null, "start_time": "08:00", "end_time": "12:00", "is_enforced": null, "custom_fields": {} })
    );
    let delivery = &c["delivery_stop"];
    assert_eq!(delivery["time_window"]["code"], "TD");
    assert_eq!(delivery["extras"][0]["code"], "TL");
    assert_eq!(delivery["extras"][1]["amazon"]["carton_count"], "120");
    assert_eq!(delivery["email"], "goods-in@retail.example");
    assert_eq!(delivery["status"], "PLANNED");
    assert_eq!(delivery["start_timestamp"], "2030-06-04T08:00:00Z", "09:00 BST, the window's start");
    assert!(delivery.get("eta_start").is_none() && delivery.get("stop_type").is_none(), "only the spec's keys");
    let good = &c["goods"][0];
    assert_eq!(good["packaging_type"]["code"], "F");
    assert_eq!(good["quantity"], 2);
    assert_eq!(good["unit_length_m"], 1.2);
    assert_eq!(good["unit_weight_kg"], 400.0);
    let barcodes: Vec<&str> =
        good["handling_units"].as_array().unwrap().iter().map(|h| h["barcode"]["value"].as_str().unwrap()).collect();
    assert_eq!(barcodes, ["PX1", "PX2"]);
    let stops = payload["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 2);
    // The spec's dispatch `StopOutput` has no `stop_type`: the planned order tells them apart.
    assert!(stops.iter().all(|s| s.get("stop_type").is_none()), "only the spec's keys");
    assert_eq!(stops[0]["id"], order.pickup_stop_id.to_string());
    assert_eq!(stops[1]["id"], order.delivery_stop_id.to_string());

    assert_eq!(sim.handle.stop_status(order.delivery_stop_id).unwrap(), "DISPATCHED");
    assert_eq!(sim.handle.trips()[0]["dispatch_state"], "DISPATCHED");

    // UPDATE and CANCEL go to the same endpoint; a cancelled dispatch puts the stops back to PLANNED.
    sim.handle.dispatch_trip(trip.trip_id, "UPDATE").await.unwrap();
    let cancel = sim.handle.dispatch_trip(trip.trip_id, "CANCEL").await.unwrap();
    assert!(cancel.accepted);
    let operations: Vec<String> =
        bridge.received().iter().map(|r| r.body["operation"].as_str().unwrap().to_string()).collect();
    assert_eq!(operations, ["CREATE", "UPDATE", "CANCEL"]);
    assert_eq!(sim.handle.stop_status(order.delivery_stop_id).unwrap(), "PLANNED");
    assert_eq!(sim.handle.trips()[0]["dispatch_state"], "CANCELLED");
    assert!(sim.handle.dispatch_trip(trip.trip_id, "DELETE").await.is_err());
}

#[tokio::test]
async fn the_bridges_errors_are_recorded_and_fail_the_dispatch() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    // A customer without any network ID, on a resource that is neither network: both are the bridge's to refuse.
    let order = sim.handle.create_order(&scenario("REF-E", "CEDAR", &[], Some("OWN_FLEET"))).unwrap();
    let trip_id = order.trip.unwrap().trip_id;
    bridge.answer_with(200, json!({ "errors": [{ "error_type": "USER_INPUT_ERROR", "error_message": "Customer Cedar Foods Ltd has no PallexID" }], "booking": null }));
    let record = sim.handle.dispatch_trip(trip_id, "CREATE").await.unwrap();
    assert!(!record.accepted);
    assert_eq!(record.status, Some(200));
    assert_eq!(record.errors.len(), 1);
    assert_eq!(record.errors[0].error_type, "USER_INPUT_ERROR");
    assert_eq!(record.response.as_ref().unwrap()["booking"], Value::Null, "the whole answer is kept");
    assert_eq!(bridge.received()[0].body["payload"]["resource_allocations"][0]["resource"]["code"], "OWN_FLEET");
    assert_eq!(bridge.received()[0].body["payload"]["orders"][0]["customer"]["custom_fields"], json!({}));
    assert_eq!(sim.handle.trips()[0]["dispatch_state"], "FAILED");
    assert_eq!(sim.handle.stop_status(order.delivery_stop_id).unwrap(), "PLANNED");

    bridge.answer_with(500, json!({ "message": "boom" }));
    let record = sim.handle.dispatch_trip(trip_id, "CREATE").await.unwrap();
    assert!(!record.accepted);
    assert_eq!(record.status, Some(500));
    bridge.answer_with(200, json!({}));
    assert!(sim.handle.dispatch_trip(trip_id, "CREATE").await.unwrap().accepted, "a re-triggered dispatch");

    let client = Client::new(&sim);
    let over_http = client.sim_get("/_sim/outbound?kind=dispatch").await.body;
    assert_eq!(over_http.as_array().unwrap().len(), 3);
    assert_eq!(over_http[0]["errors"][0]["error_message"], "Customer Cedar Foods Ltd has no PallexID");
}

#[tokio::test]
async fn a_multi_consignment_trip_is_sent_as_it_is() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let a = sim.handle.create_order(&scenario("REF-M1", "ACME", &[], None)).unwrap();
    let b = sim.handle.create_order(&scenario("REF-M2", "BOLT", &[], None)).unwrap();
    let trip = sim
        .handle
        .create_trip(&TripInput {
            order_ids: vec![a.order_id, b.order_id],
            spec: TripSpec { resource_code: "FORTEC_OUT".into(), ..Default::default() },
        })
        .unwrap();
    assert!(
        sim.handle
            .create_trip(&TripInput {
                order_ids: vec![a.order_id],
                spec: TripSpec { resource_code: "X".into(), ..Default::default() }
            })
            .is_err(),
        "one trip per order"
    );
    sim.handle.dispatch_trip(trip.trip_id, "CREATE").await.unwrap();
    let payload = &bridge.received()[0].body["payload"];
    assert_eq!(payload["orders"].as_array().unwrap().len(), 2);
    let types: Vec<&str> =
        payload["stops"].as_array().unwrap().iter().map(|s| s["activity_label"].as_str().unwrap()).collect();
    assert_eq!(types, ["Pickup", "Pickup", "Delivery", "Delivery"]);
    assert_eq!(payload["resource_allocations"][0]["resource"]["name"], "Fortec");
}

#[tokio::test]
async fn transport_failures_are_recorded_not_hung_on() {
    // No bridge configured.
    let sim = start(options()).await;
    let order = sim.handle.create_order(&scenario("REF-N", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let record = sim.handle.dispatch_trip(order.trip.unwrap().trip_id, "CREATE").await.unwrap();
    assert!(!record.accepted);
    assert!(record.error.as_deref().unwrap().contains("no bridge URL"));

    // A bridge slower than the outbound timeout.
    let bridge = FakeBridge::start().await;
    bridge.delay(Duration::from_secs(5));
    let mut opts = options_with_bridge(&bridge);
    opts.outbound.timeout = Duration::from_millis(200);
    let sim = start(opts).await;
    let order = sim.handle.create_order(&scenario("REF-T", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let record = sim.handle.dispatch_trip(order.trip.unwrap().trip_id, "CREATE").await.unwrap();
    assert!(!record.accepted);
    assert!(record.error.as_deref().unwrap().contains("timed out"), "{:?}", record.error);
    assert_eq!(sim.handle.outbound().len(), 1);

    // Nothing listening.
    let mut opts = options();
    opts.outbound.bridge_url = Some("http://127.0.0.1:9".into());
    let sim = start(opts).await;
    let order = sim.handle.create_order(&scenario("REF-C", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let record = sim.handle.dispatch_trip(order.trip.unwrap().trip_id, "CREATE").await.unwrap();
    assert!(record.error.is_some() && record.status.is_none());
}

#[tokio::test]
async fn stop_events_follow_the_driver() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let order = sim.handle.create_order(&scenario("REF-V", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let arrive = sim
        .handle
        .arrive_at_stop(order.delivery_stop_id, &StopAction { at: Some("2030-06-04T10:05:00+01:00".into()) })
        .await
        .unwrap();
    assert!(arrive.outbound[0].accepted);
    sim.handle
        .complete_stop(order.delivery_stop_id, &StopAction { at: Some("2030-06-04T10:20:00+01:00".into()) })
        .await
        .unwrap();
    assert!(sim.handle.complete_stop(order.delivery_stop_id, &StopAction::default()).await.is_err(), "completed once");
    let received = bridge.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.path == "/qargo/visibility"));
    let first = &received[0].body;
    let update = &first["events"][0]["update"];
    assert_eq!(update["type"], "Stop");
    assert_eq!(update["id"], order.delivery_stop_id.to_string());
    assert_eq!(update["stop"]["status"], "AT_STOP");
    assert_eq!(update["stop"]["stop_type"], "DELIVERY");
    assert_eq!(update["stop"]["actual_start_timestamp"], "2030-06-04T09:05:00Z");
    assert_eq!(update["stop"]["stop_reference"], "REF-V-D");
    assert_eq!(update["stop"]["location"]["country_code"], "GB");
    assert_eq!(update["stop"]["location"]["postal_code"], "G2 1DY");
    assert!(first["events"][0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["order"]["id"], order.order_id.to_string());
    assert_eq!(first["order"]["order_name"], order.order_name);
    assert_eq!(first["order"]["customer"]["custom_fields"]["PallexID"], "64086");
    assert_eq!(first["order"]["status"], "IN_TRANSIT");
    let second = &received[1].body["events"][0]["update"]["stop"];
    assert_eq!(second["status"], "COMPLETED");
    assert_eq!(second["actual_end_timestamp"], "2030-06-04T09:20:00Z");
}

#[tokio::test]
async fn signatures_and_photos_become_document_events() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let client = Client::new(&sim);
    let order = sim.handle.create_order(&scenario("REF-P", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let signed = sim
        .handle
        .capture_signature(
            order.delivery_stop_id,
            &SignatureInput { name: "J. Smith".into(), at: Some("2030-06-04T10:30:00Z".into()), ..Default::default() },
        )
        .await
        .unwrap();
    let document_id = signed.document_id.unwrap();
    let body = &bridge.received()[0].body;
    let update = &body["events"][0]["update"];
    assert_eq!(update["type"], "Document");
    assert_eq!(update["status"], "CREATED");
    assert_eq!(update["id"], document_id.to_string());
    let document = &update["document"];
    assert_eq!(document["document_type"], "CONSIGNEE_SIGNATURE");
    assert_eq!(document["name"], "signature.png");
    assert_eq!(document["subject"], json!({ "reference_number": "REF-P-D" }));
    let url = document["document_content"]["download_url"].as_str().unwrap();
    assert_eq!(url, format!("{}v1/documents/document/{document_id}/download", sim.base_url()));
    let token = client.token().await;
    let png = client.http.get(url).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png.to_vec(), sim.handle.document_bytes(document_id).unwrap());
    // The signatory's name is on the order, as Qargo's Signature data.
    let read = client.get(&format!("/v1/orders/order/{}", order.order_id), &token).await.body;
    assert_eq!(
        read["consignments"][0]["signatures"][0],
        json!({ "type": "CONSIGNEE", "name": "J. Smith", "timestamp": "2030-06-04T10:30:00Z", "position": null })
    );

    let photo = sim
        .handle
        .capture_photo(order.delivery_stop_id, &PhotoInput { embed: Some(true), ..Default::default() })
        .await
        .unwrap();
    let body = &bridge.received()[1].body;
    let content = &body["events"][0]["update"]["document"]["document_content"];
    assert_eq!(content["mime_type"], "image/jpeg");
    assert_eq!(content["filename"], "photo.jpg");
    let bytes = base64::engine::general_purpose::STANDARD.decode(content["content"].as_str().unwrap()).unwrap();
    assert_eq!(&bytes[..3], b"\xFF\xD8\xFF");
    assert_eq!(bytes, sim.handle.document_bytes(photo.document_id.unwrap()).unwrap());
    let another = sim.handle.capture_photo(order.delivery_stop_id, &PhotoInput::default()).await.unwrap();
    let docs = sim.handle.documents();
    let hashes: Vec<&str> = docs.iter().map(|d| d["sha256"].as_str().unwrap()).collect();
    assert_eq!(hashes.len(), 3);
    assert_ne!(hashes[1], hashes[2], "two photos never share a hash");
    assert!(another.outbound[0].accepted);
}

#[tokio::test]
async fn reoptimising_sends_eta_events_for_the_stops_that_moved() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let order = sim.handle.create_order(&scenario("REF-ETA", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let trip_id = order.trip.as_ref().unwrap().trip_id;
    sim.handle.complete_stop(order.pickup_stop_id, &StopAction::default()).await.unwrap();
    let outcome = sim
        .handle
        .reoptimise_etas(trip_id, &qargo_sim::EtaInput { shift_minutes: Some(45), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(outcome.outbound.len(), 1);
    let body = &bridge.received()[1].body;
    let update = &body["events"][0]["update"];
    assert_eq!(update["type"], "Eta");
    let stops = update["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 1, "the completed pickup did not move");
    assert_eq!(stops[0]["id"], order.delivery_stop_id.to_string());
    assert_eq!(stops[0]["eta_start_time"], "2030-06-04T08:45:00Z");
    assert_eq!(stops[0]["eta_end_time"], "2030-06-04T09:15:00Z");

    let explicit = qargo_sim::EtaInput {
        stops: vec![qargo_sim::EtaStop {
            stop_id: order.delivery_stop_id,
            eta_start: "2030-06-04T14:00:00+01:00".into(),
            eta_end: None,
        }],
        shift_minutes: None,
    };
    sim.handle.reoptimise_etas(trip_id, &explicit).await.unwrap();
    let stop = &bridge.received()[2].body["events"][0]["update"]["stops"][0];
    assert_eq!(stop["eta_start_time"], "2030-06-04T13:00:00Z");
    assert_eq!(stop["eta_end_time"], "2030-06-04T13:30:00Z", "the window keeps its length");
    let same = sim.handle.reoptimise_etas(trip_id, &explicit).await.unwrap();
    assert!(same.outbound.is_empty(), "nothing moved, nothing sent");
}

#[tokio::test]
async fn status_webhook_changes_can_be_echoed_as_visibility_events() {
    let bridge = FakeBridge::start().await;
    let mut opts = options_with_bridge(&bridge);
    opts.echo_webhook_updates = true;
    let sim = start(opts).await;
    let client = Client::new(&sim);
    let order = sim.handle.create_order(&scenario("REF-ECHO", "ACME", &[], Some("PALLEX_OUT"))).unwrap();
    let body = json!({ "updates": [{ "event_time": "2030-06-04T09:00:00Z", "stop": { "id": order.delivery_stop_id, "status": "AT_STOP" } }] });
    assert_eq!(client.webhook("/v1/webhook/subco-status-update", &body).await.body["errors"], json!([]));
    for _ in 0..200 {
        if !bridge.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let received = bridge.received();
    assert_eq!(received.len(), 1, "one echo for one status change");
    assert_eq!(received[0].body["events"][0]["update"]["stop"]["status"], "AT_STOP");
}
