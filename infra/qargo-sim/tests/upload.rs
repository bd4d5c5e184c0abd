//! Order upload: OrderInput validation (400 / 422), the asynchronous upload status, de-duplication
//! on order_identifier, UPDATE, DELETE (cancel) and the order reads.

use serde_json::{Value, json};

use crate::support::{Client, options, order_input, start};

fn paths(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_invalid_order_is_refused_with_one_entry_per_failure() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let mut order = order_input("ORD-1", "ACME", "REF-1", &["PX1"]);
    let consignment = &mut order["consignments"][0];
    consignment["delivery_stop"]["location"]["postal_code"] = Value::Null;
    consignment["delivery_stop"]["location"]["country"] = json!("UK");
    consignment["pickup_stop"]["date"] = json!("03/06/2030");
    consignment["pickup_stop"]["time_window"]["start_time"] = json!("8am");
    consignment["delivery_stop"]["time_window"]["end_time"] = json!("08:30");
    consignment["goods"][0]["quantity"] = json!(0);
    consignment["goods"][0]["handling_units"] = json!([{ "barcode": { "value": "" } }]);
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let found = paths(&answer.body);
    for expected in [
        "$.consignments[0].delivery_stop.location.postal_code",
        "$.consignments[0].delivery_stop.location.country",
        "$.consignments[0].pickup_stop.date",
        "$.consignments[0].pickup_stop.time_window.start_time",
        "$.consignments[0].delivery_stop.time_window.end_time",
        "$.consignments[0].goods[0].quantity",
        "$.consignments[0].goods[0].handling_units[0].barcode.value",
    ] {
        assert!(found.iter().any(|p| p == expected), "missing {expected} in {found:?}");
    }
    assert_eq!(found.len(), 7, "{found:?}");
    let entry = &answer.body["errors"][0];
    for key in ["message", "field", "path", "detail"] {
        assert!(entry.get(key).is_some(), "{key} in {entry}");
    }
    let postal = answer.body["errors"].as_array().unwrap().iter().find(|e| e["field"] == "postal_code").unwrap();
    assert_eq!(postal["detail"], "missing");
    assert!(answer.body["message"].as_str().unwrap().contains("7"));
    assert!(sim.handle.uploads().is_empty(), "nothing was queued");
}

fn locs(body: &Value) -> Vec<String> {
    let mut found: Vec<String> = body["detail"].as_array().unwrap().iter().map(|e| spec_path(&e["loc"])).collect();
    found.sort();
    found
}

/// `["body", "consignments", 0, "pickup_stop"]` → `$.consignments[0].pickup_stop`.
fn spec_path(loc: &Value) -> String {
    let segments: Vec<Value> = loc.as_array().unwrap().iter().skip(1).cloned().collect();
    qargo_sim::spec::json_path(&segments)
}

/// Why an upload ended as it did: the admin view keeps it (`OrderImport` has no message).
fn upload_message(sim: &qargo_sim::RunningSim, import: &Value) -> String {
    let id = &import["upload_id"];
    let upload = sim.handle.uploads().into_iter().find(|u| &u["upload_id"] == id).expect("the upload is listed");
    upload["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn required_fields_and_known_customers() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    // What the spec requires is FastAPI's to refuse: 422 `missing`, one entry per key.
    let answer = client.post_json("/v1/orders/order/upload", &token, &json!({})).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(locs(&answer.body), ["$.consignments", "$.customer", "$.operation", "$.order_identifier"]);
    assert!(answer.body["detail"].as_array().unwrap().iter().all(|e| e["type"] == "missing"));

    // An operation outside the enum and a null pickup stop are the schema's too.
    let mut order = order_input("ORD-2", "ACME", "REF-2", &[]);
    order["operation"] = json!("UPSERT");
    order["consignments"][0]["pickup_stop"] = Value::Null;
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(locs(&answer.body), ["$.consignments[0].pickup_stop", "$.operation"]);

    // A customer the tenant does not know is a semantic check: 400.
    let order = order_input("ORD-2", "NOBODY", "REF-2", &[]);
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(paths(&answer.body), ["$.customer.code"]);
    assert!(answer.body["errors"][0]["message"].as_str().unwrap().contains("NOBODY"));

    // A customer by name works as well as by code; a delivery date may be left out with a service level.
    let mut order = order_input("ORD-3", "ACME", "REF-3", &[]);
    order["customer"] = json!({ "name": "Acme Retail Ltd" });
    order["consignments"][0]["delivery_stop"]["date"] = Value::Null;
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    order["service_level"] = Value::Null;
    order["order_identifier"] = json!("ORD-4");
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 400);
    assert_eq!(paths(&answer.body), ["$.consignments[0].delivery_stop.date"]);
}

#[tokio::test]
async fn a_body_that_is_not_json_or_has_wrong_types_is_a_422() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let answer = client.post_raw("/v1/orders/order/upload", &token, "application/json", "{not json").await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body["detail"][0]["type"], "json_invalid");
    assert_eq!(answer.body["detail"][0]["loc"][0], "body");

    let mut order = order_input("ORD-5", "ACME", "REF-5", &[]);
    order["consignments"][0]["goods"][0]["quantity"] = json!("two");
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let issue = &answer.body["detail"][0];
    assert_eq!(issue["loc"], json!(["body", "consignments", 0, "goods", 0, "quantity"]));
    assert_eq!(issue["type"], "int_type");
    assert!(issue["msg"].as_str().is_some());
}

#[tokio::test]
async fn an_upload_is_asynchronous_and_the_order_can_be_read() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let order = order_input("NEXUS-PALLEX-900001", "ACME", "REF-9", &["PX900001A", "PX900001B"]);
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["upload_status"], "TODO");
    assert_eq!(answer.body["order_id"], Value::Null, "a new identifier has no order yet");
    let upload_url = answer.body["upload_url"].as_str().unwrap().to_string();
    assert!(upload_url.starts_with("/v1/orders/order/upload/"));
    let first = client.get(&upload_url, &token).await;
    assert_eq!(first.body["upload_status"], "IN_PROGRESS");
    assert_eq!(first.body["order_id"], Value::Null);
    let second = client.get(&upload_url, &token).await;
    assert_eq!(second.body["upload_status"], "COMPLETED", "{}", second.body);
    let order_id = second.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(second.body["order_url"], format!("/v1/orders/order/{order_id}"));
    let third = client.get(&upload_url, &token).await;
    assert_eq!(third.body, second.body, "a final status stays");

    let read = client.get(&format!("/v1/orders/order/{order_id}"), &token).await;
    assert_eq!(read.status, 200);
    let o = &read.body;
    assert!(o["name"].as_str().unwrap().starts_with("OR-"));
    assert_eq!(o["order_identifier"], "NEXUS-PALLEX-900001");
    assert_eq!(o["customer"]["code"], "ACME");
    assert_eq!(o["customer"]["custom_fields"]["PallexID"], "64086");
    assert_eq!(o["custom_fields"]["NexusOrigin"], "PALLEX:900001");
    let c = &o["consignments"][0];
    assert_eq!(c["transport_network"]["delivery_depot_code"], "PGD302");
    assert_eq!(c["pickup_stop"]["stop_type"], "PICKUP");
    assert_eq!(c["pickup_stop"]["status"], "TO_PLAN");
    assert_eq!(c["delivery_stop"]["location"]["postal_code"], "G2 1DY");
    assert_eq!(c["goods"][0]["packaging_type"]["code"], "F");
    let units = c["goods"][0]["handling_units"].as_array().unwrap();
    assert_eq!(units.len(), 2);
    assert_eq!(units[0]["barcode"]["value"], "PX900001A");
    assert!(uuid::Uuid::parse_str(units[0]["id"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(c["delivery_stop"]["id"].as_str().unwrap()).is_ok());

    let status = client.get(&format!("/v1/orders/order/{order_id}/status"), &token).await;
    assert_eq!(status.body["status"], "TO_PLAN");
    assert_eq!(status.body["stops"].as_array().unwrap().len(), 2);
    assert_eq!(status.body["first_pickup_stop"]["stop_type"], "PICKUP");
    assert_eq!(status.body["last_delivery_stop"]["id"], c["delivery_stop"]["id"]);
    assert_eq!(status.body["stops"][1]["consignment_id"], c["id"]);

    let docs = client.get(&format!("/v1/orders/order/{order_id}/documents"), &token).await;
    assert_eq!(docs.body, json!([]), "a plain array, as the real endpoint");
    let bad = client.get("/v1/orders/order/not-a-uuid", &token).await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn the_number_of_polls_before_completion_is_configurable() {
    let mut opts = options();
    opts.upload_polls_before_done = 3;
    let sim = start(opts).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let answer = client.post_json("/v1/orders/order/upload", &token, &order_input("X1", "ACME", "R", &[])).await;
    let url = answer.body["upload_url"].as_str().unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(client.get(&url, &token).await.body["upload_status"], "IN_PROGRESS");
    }
    assert_eq!(client.get(&url, &token).await.body["upload_status"], "COMPLETED");

    let mut opts = options();
    opts.upload_polls_before_done = 0;
    let sim = start(opts).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let answer = client.post_json("/v1/orders/order/upload", &token, &order_input("X2", "ACME", "R", &[])).await;
    assert_eq!(answer.body["upload_status"], "TODO");
    let url = answer.body["upload_url"].as_str().unwrap().to_string();
    assert_eq!(client.get(&url, &token).await.body["upload_status"], "COMPLETED");
}

#[tokio::test]
async fn order_identifier_deduplicates_updates_and_cancels() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let order = order_input("NEXUS-1", "ACME", "REF-A", &["PXA1"]);
    let created = client.import(&token, &order).await;
    assert_eq!(created["upload_status"], "COMPLETED");
    let order_id = created["order_id"].as_str().unwrap().to_string();

    // The same identifier again: DUPLICATE with the existing order, and the answer says so at once.
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.body["order_id"], order_id.as_str());
    let duplicate = client.import(&token, &order).await;
    assert_eq!(duplicate["upload_status"], "DUPLICATE");
    assert_eq!(duplicate["order_id"], order_id.as_str());
    assert_eq!(sim.handle.orders().len(), 1, "no second order");

    // UPDATE changes the order and keeps its stop ids.
    let before = client.get(&format!("/v1/orders/order/{order_id}"), &token).await.body;
    let mut update = order.clone();
    update["operation"] = json!("UPDATE");
    update["customer_reference_number"] = json!("REF-A2");
    update["consignments"][0]["delivery_stop"]["location"]["postal_code"] = json!("G1 1AA");
    let updated = client.import(&token, &update).await;
    assert_eq!(updated["upload_status"], "COMPLETED");
    assert_eq!(updated["order_id"], order_id.as_str());
    let after = client.get(&format!("/v1/orders/order/{order_id}"), &token).await.body;
    assert_eq!(after["customer_reference_number"], "REF-A2");
    assert_eq!(after["consignments"][0]["delivery_stop"]["location"]["postal_code"], "G1 1AA");
    assert_eq!(after["consignments"][0]["delivery_stop"]["id"], before["consignments"][0]["delivery_stop"]["id"]);
    assert_eq!(after["name"], before["name"]);

    // UPDATE of an unknown identifier is an ERROR.
    let mut stray = order.clone();
    stray["operation"] = json!("UPDATE");
    stray["order_identifier"] = json!("NEXUS-UNKNOWN");
    let error = client.import(&token, &stray).await;
    assert_eq!(error["upload_status"], "ERROR");
    assert!(error.get("message").is_none(), "OrderImport has no message: {error}");
    assert!(upload_message(&sim, &error).contains("NEXUS-UNKNOWN"));

    // A DELETE carries the whole OrderInput, as the spec requires (the identifier alone is a 422).
    let bare = json!({ "operation": "DELETE", "order_identifier": "NEXUS-1" });
    assert_eq!(client.post_json("/v1/orders/order/upload", &token, &bare).await.status, 422);

    // DELETE cancels: the stops become CANCELLED; a second DELETE is SKIPPED.
    let mut delete = order.clone();
    delete["operation"] = json!("DELETE");
    let cancelled = client.import(&token, &delete).await;
    assert_eq!(cancelled["upload_status"], "COMPLETED", "{cancelled}");
    let status = client.get(&format!("/v1/orders/order/{order_id}/status"), &token).await.body;
    assert_eq!(status["status"], "CANCELLED");
    assert!(status["stops"].as_array().unwrap().iter().all(|s| s["status"] == "CANCELLED"));
    assert_eq!(client.import(&token, &delete).await["upload_status"], "SKIPPED");

    // A cancelled identifier cannot be reused.
    let reuse = client.import(&token, &order).await;
    assert_eq!(reuse["upload_status"], "ERROR");
    assert!(upload_message(&sim, &reuse).contains("cannot be reused"), "{reuse}");
    assert_eq!(sim.handle.orders().len(), 1);
}

#[tokio::test]
async fn the_first_of_two_creates_in_flight_wins() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let order = order_input("RACE-1", "BOLT", "REF-R", &[]);
    let a = client.post_json("/v1/orders/order/upload", &token, &order).await.body;
    let b = client.post_json("/v1/orders/order/upload", &token, &order).await.body;
    let poll = |v: &Value| v["upload_url"].as_str().unwrap().to_string();
    for _ in 0..2 {
        client.get(&poll(&b), &token).await;
    }
    for _ in 0..2 {
        client.get(&poll(&a), &token).await;
    }
    let a = client.get(&poll(&a), &token).await.body;
    let b = client.get(&poll(&b), &token).await.body;
    assert_eq!(b["upload_status"], "COMPLETED");
    assert_eq!(a["upload_status"], "DUPLICATE");
    assert_eq!(a["order_id"], b["order_id"]);
}

#[tokio::test]
async fn an_injected_upload_error_ends_uploads_in_error() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    sim.handle
        .set_faults(qargo_sim::Faults { upload_error: Some("Import mapping failed".into()), ..Default::default() });
    let result = client.import(&token, &order_input("F-1", "ACME", "R", &[])).await;
    assert_eq!(result["upload_status"], "ERROR");
    assert_eq!(upload_message(&sim, &result), "Import mapping failed");
    sim.handle.set_faults(Default::default());
    assert_eq!(client.import(&token, &order_input("F-2", "ACME", "R", &[])).await["upload_status"], "COMPLETED");
}

#[tokio::test]
async fn a_barcode_source_outside_the_spec_is_refused_everywhere_an_order_enters() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let mut order = order_input("FT-1", "DUNE", "REF-FT", &["FT0001"]);
    order["consignments"][0]["goods"][0]["handling_units"][0]["barcode"]["source"] = json!("FORTEC");
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let issue = &answer.body["detail"][0];
    assert_eq!(
        issue["loc"],
        json!(["body", "consignments", 0, "goods", 0, "handling_units", 0, "barcode", "source"]),
        "{}",
        answer.body
    );
    assert_eq!(issue["type"], "enum");
    assert!(sim.handle.uploads().is_empty());

    // The same through the scenario API, over HTTP and as a library call, and in a seed.
    let mut scenario = order.clone();
    scenario.as_object_mut().unwrap().remove("operation");
    scenario["trip"] = json!({ "resource_code": "FORTEC_OUT" });
    let over_http = client.sim_post("/_sim/orders", &scenario).await;
    assert_eq!(over_http.status, 422, "{}", over_http.body);
    assert_eq!(over_http.body["detail"][0]["loc"][8], "source");
    let as_library = sim.handle.create_order(&serde_json::from_value(scenario.clone()).unwrap());
    let error = as_library.expect_err("FORTEC is not a BarcodeSource");
    assert_eq!(error.status().as_u16(), 422, "{}", error.body());
    assert!(sim.handle.orders().is_empty());
    let seeded = qargo_sim::QargoSim::start(qargo_sim::SimOptions {
        seed: qargo_sim::Seed {
            orders: vec![serde_json::from_value(scenario).unwrap()],
            ..qargo_sim::Seed::default_tenant()
        },
        ..options()
    })
    .await;
    let Err(error) = seeded else { panic!("a seed order outside the spec stops the start") };
    assert!(error.to_string().contains("seed order 0") && error.to_string().contains("source"), "{error}");

    // EXTERNAL is the spec's name for a barcode of another system.
    order["consignments"][0]["goods"][0]["handling_units"][0]["barcode"]["source"] = json!("EXTERNAL");
    assert_eq!(client.import(&token, &order).await["upload_status"], "COMPLETED");
}

#[tokio::test]
async fn unknown_keys_are_ignored_and_recorded_or_refused_when_strict() {
    let mut order = order_input("UK-1", "ACME", "REF-UK", &["PX1"]);
    order["consignments"][0]["goods"][0]["handling_units"][0]["id"] = json!("unit-1");
    order["nexus_note"] = json!("not Qargo's");

    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    assert_eq!(client.import(&token, &order).await["upload_status"], "COMPLETED", "lenient: ignored");
    let unknown = sim.handle.unknown_keys();
    let paths: Vec<&str> = unknown.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(paths, ["$.consignments[0].goods[0].handling_units[0].id", "$.nexus_note"]);
    assert!(unknown.iter().all(|k| k.route == "POST /v1/orders/order/upload" && !k.refused));
    let listed = client.sim_get("/_sim/unknown-keys").await.body;
    assert_eq!(listed[1]["path"], "$.nexus_note");

    let strict = start(qargo_sim::SimOptions { strict_unknown_keys: true, ..options() }).await;
    let client = Client::new(&strict);
    let token = client.token().await;
    let answer = client.post_json("/v1/orders/order/upload", &token, &order).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let locs: Vec<Value> = answer.body["detail"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
    assert_eq!(
        locs,
        [json!(["body", "consignments", 0, "goods", 0, "handling_units", 0, "id"]), json!(["body", "nexus_note"])]
    );
    assert!(answer.body["detail"].as_array().unwrap().iter().all(|d| d["type"] == "extra_forbidden"));
    assert!(strict.handle.uploads().is_empty());
    assert!(strict.handle.unknown_keys().iter().all(|k| k.refused));
}
