//! Every outbound payload the simulator can send, validated against Qargo's spec with the strict
//! validator (no key the spec does not define), and the API answers on the bridge's routes.

use qargo_sim::spec;
use qargo_sim::{DocumentInput, EtaInput, PhotoInput, ScenarioOrder, SignatureInput, StopAction};
use serde_json::{Value, json};

use crate::support::{Client, FakeBridge, options_with_bridge, order_input, start};

fn scenario(reference: &str, customer: &str, barcodes: &[&str], resource: &str, consignments: usize) -> ScenarioOrder {
    let mut input = order_input(&format!("ID-{reference}"), customer, reference, barcodes);
    input["consignments"][0]["delivery_stop"]["extras"] = json!([
        { "code": "TL", "name": "Tail-lift" },
        { "code": "AZ", "name": "Amazon Book In", "amazon": { "carton_count": "120", "po_number": "PO-77", "booking_date": "2030-06-04", "booking_time": "10:30" } }
    ]);
    let first = input["consignments"][0].clone();
    for i in 1..consignments {
        let mut more = first.clone();
        more["consignment_reference_number"] = json!(format!("{reference}-C{}", i + 1));
        more["goods"][0]["handling_units"] =
            json!([{ "barcode": { "value": format!("{reference}-X{i}"), "source": "EXTERNAL" } }]);
        input["consignments"].as_array_mut().unwrap().push(more);
    }
    input["trip"] = json!({ "resource_code": resource });
    serde_json::from_value(input).unwrap()
}

#[tokio::test]
async fn every_outbound_payload_is_valid_against_the_spec() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let customers = [("ACME", "PALLEX_OUT"), ("BOLT", "PALLEX_OUT"), ("DUNE", "FORTEC_OUT"), ("CEDAR", "PALLEX_OUT")];
    for (n, (customer, resource)) in customers.iter().enumerate() {
        let reference = format!("SPEC-{n}");
        let b1 = format!("{reference}-B1");
        let b2 = format!("{reference}-B2");
        let order = sim.handle.create_order(&scenario(&reference, customer, &[&b1, &b2], resource, 1 + n % 2)).unwrap();
        let trip = order.trip.clone().unwrap();
        for operation in ["CREATE", "UPDATE", "CANCEL", "CREATE"] {
            sim.handle.dispatch_trip(trip.trip_id, operation).await.unwrap();
        }
        sim.handle
            .reoptimise_etas(trip.trip_id, &EtaInput { shift_minutes: Some(30), ..Default::default() })
            .await
            .unwrap();
        sim.handle.arrive_at_stop(order.pickup_stop_id, &StopAction::default()).await.unwrap();
        sim.handle.complete_stop(order.pickup_stop_id, &StopAction::default()).await.unwrap();
        sim.handle.arrive_at_stop(order.delivery_stop_id, &StopAction::default()).await.unwrap();
        let embed = n % 2 == 1;
        let signature = SignatureInput { name: "J. Smith".into(), embed: Some(embed), ..Default::default() };
        sim.handle.capture_signature(order.delivery_stop_id, &signature).await.unwrap();
        sim.handle
            .capture_photo(order.delivery_stop_id, &PhotoInput { embed: Some(embed), ..Default::default() })
            .await
            .unwrap();
        for document_type in
            ["PROOF_OF_DELIVERY", "PROOF_OF_DELIVERY_SIGNED", "PALLET_LABEL_EXTERNAL", "CUSTOMER_PAPERWORK"]
        {
            let document = DocumentInput {
                document_type: document_type.into(),
                content_base64: "JVBERi0xLjQK".into(),
                content_type: "application/pdf".into(),
                embed: Some(embed),
                ..Default::default()
            };
            sim.handle.add_stop_document(order.delivery_stop_id, &document).await.unwrap();
        }
        sim.handle.complete_stop(order.delivery_stop_id, &StopAction::default()).await.unwrap();
    }
    let sent = bridge.received();
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for received in &sent {
        let schema =
            if received.path.ends_with("/dispatch") { "SubcontractorDispatch" } else { "OperationalVisibilityUpdate" };
        if schema == "SubcontractorDispatch" {
            kinds.insert(format!("dispatch {}", received.body["operation"]));
        } else {
            for event in received.body["events"].as_array().unwrap() {
                let update = &event["update"];
                let what = match update["type"].as_str().unwrap() {
                    "Stop" => format!("Stop {}", update["stop"]["status"]),
                    "Document" => format!("Document {}", update["document"]["document_type"]),
                    other => other.to_string(),
                };
                kinds.insert(what);
            }
        }
        if let Err(errors) = spec::check_output(schema, true, &received.body) {
            failures.push(format!("{schema} {}:\n  {}", received.path, errors.join("\n  ")));
        }
    }
    println!("validated {} outbound payloads against the spec (strict): {kinds:?}", sent.len());
    assert!(
        failures.is_empty(),
        "{} of {} payloads are not valid:\n{}",
        failures.len(),
        sent.len(),
        failures.join("\n")
    );
    assert!(sent.len() >= 40, "{}", sent.len());
}

#[tokio::test]
async fn api_answers_on_the_bridges_routes_match_the_spec() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let order = sim.handle.create_order(&scenario("SPEC-API", "ACME", &["API-1"], "PALLEX_OUT", 2)).unwrap();
    sim.handle.capture_photo(order.delivery_stop_id, &PhotoInput::default()).await.unwrap();
    let token_answer = client.token_call("bridge-client", "bridge-secret").await;
    let upload = client
        .post_json("/v1/orders/order/upload", &token, &order_input("SPEC-UP", "ACME", "SPEC-UP", &["UP-1"]))
        .await;
    let upload_id = upload.body["upload_id"].as_str().unwrap().to_string();
    let status = client.get(&format!("/v1/orders/order/upload/{upload_id}"), &token).await;
    let checks: Vec<(&str, Value)> = vec![
        ("Token", token_answer.body),
        ("OrderImport", upload.body),
        ("OrderImport", status.body),
        ("OrderOutput-Output", client.get(&format!("/v1/orders/order/{}", order.order_id), &token).await.body),
        ("OrderWithStatus", client.get(&format!("/v1/orders/order/{}/status", order.order_id), &token).await.body),
    ];
    let mut failures = Vec::new();
    for (schema, body) in &checks {
        if let Err(errors) = spec::check_output(schema, false, body) {
            failures.push(format!("{schema}:\n  {}", errors.join("\n  ")));
        }
    }
    let documents = client.get(&format!("/v1/orders/order/{}/documents", order.order_id), &token).await.body;
    for document in documents.as_array().unwrap() {
        if let Err(errors) = spec::check_output("Document", false, document) {
            failures.push(format!("Document:\n  {}", errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
