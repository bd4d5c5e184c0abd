//! The partial order update webhook: matching exactly one active order, merging custom fields,
//! replacing handling units, refusing the whole body when any part is wrong, and recording calls.

use qargo_sim::{CreatedOrder, RunningSim, ScenarioOrder};
use serde_json::{Value, json};

use crate::support::{Client, FakeBridge, options, options_with_bridge, order_input, start};

const URL: &str = "/v1/webhook/partial-order-update";

fn create(sim: &RunningSim, identifier: &str, reference: &str, barcodes: &[&str]) -> CreatedOrder {
    let mut input = order_input(identifier, "ACME", reference, barcodes);
    input["trip"] = json!({ "resource_code": "PALLEX_OUT" });
    let order: ScenarioOrder = serde_json::from_value(input).unwrap();
    sim.handle.create_order(&order).expect("order created")
}

/// The order as `GET /v1/orders/order/{id}` shows it (the admin view embeds the same shape).
fn order_output(sim: &RunningSim, order: &CreatedOrder) -> Value {
    sim.handle.order_detail(order.order_id).unwrap()["order"].clone()
}

fn goods_id(sim: &RunningSim, order: &CreatedOrder, line: usize) -> String {
    order_output(sim, order)["consignments"][0]["goods"][line]["id"].as_str().unwrap().to_string()
}

fn messages(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["error_message"].as_str().unwrap().to_string()).collect()
}

fn barcodes(order: &Value, line: usize) -> Vec<Value> {
    order["consignments"][0]["goods"][line]["handling_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| unit["barcode"].clone())
        .collect()
}

#[tokio::test]
async fn an_update_merges_custom_fields_and_replaces_handling_units() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "ID-P1", "REF-P1", &["PX1", "PX2"]);
    let consignment_id = order.consignments[0].consignment_id;
    let before = order_output(&sim, &order);
    let kept_unit_id = before["consignments"][0]["goods"][0]["handling_units"][1]["id"].clone();
    let body = json!({
        "match": { "id": { "matches_any": [order.order_id.to_string().to_uppercase()] } },
        "custom_fields": { "NexusNetwork": "PALLEX", "NexusConsignmentID": "10001", "NexusOrigin": null },
        "consignments": [{
            "id": consignment_id,
            "custom_fields": { "NexusLabel": "labels/PALLEX/10001/all.pdf" },
            "goods": [{ "id": goods_id(&sim, &order, 0), "handling_units": [
                { "barcode": { "value": "1044000106606774", "source": "PALLEX" } },
                { "barcode": { "value": "PX2", "source": "PALLEX" } }
            ]}]
        }]
    });
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "errors": [] }));

    let token = client.token().await;
    let read = client.get(&format!("/v1/orders/order/{}", order.order_id), &token).await;
    assert_eq!(read.status, 200);
    let after = read.body;
    assert_eq!(after["custom_fields"], json!({ "NexusNetwork": "PALLEX", "NexusConsignmentID": "10001" }));
    assert_eq!(
        after["consignments"][0]["custom_fields"],
        json!({ "AmazonCartonCount": "12", "NexusLabel": "labels/PALLEX/10001/all.pdf" }),
        "merged into the existing fields"
    );
    assert_eq!(
        barcodes(&after, 0),
        [json!({ "value": "1044000106606774", "source": "PALLEX" }), json!({ "value": "PX2", "source": "PALLEX" })]
    );
    assert_eq!(after["consignments"][0]["goods"][0]["handling_units"][1]["id"], kept_unit_id, "PX2 keeps its id");

    let records = sim.handle.partial_updates();
    assert_eq!(records.len(), 1);
    assert!(records[0].applied);
    assert_eq!(records[0].order_id, Some(order.order_id));
    assert_eq!(records[0].request, body);
    let listed = client.sim_get(&format!("/_sim/partial-updates?order_id={}", order.order_id)).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.body);
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert!(detail["barcodes"].get("1044000106606774").is_some(), "the admin view lists the new barcode");
    assert_eq!(sim.handle.request_counts().count_with_status("POST", URL, 200), 1);
}

#[tokio::test]
async fn later_dispatch_webhooks_carry_the_changes() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let client = Client::new(&sim);
    let order = create(&sim, "ID-P2", "REF-P2", &["PX1"]);
    let body = json!({
        "match": { "name": { "matches_any": [order.order_name] } },
        "custom_fields": { "NexusConsignmentID": "10002" },
        "consignments": [{ "id": order.consignments[0].consignment_id, "goods": [{
            "id": goods_id(&sim, &order, 0),
            "handling_units": [{ "barcode": { "value": "1044000106606775", "source": "PALLEX" } }]
        }]}]
    });
    assert_eq!(client.webhook(URL, &body).await.body, json!({ "errors": [] }));
    let trip_id = order.trip.as_ref().unwrap().trip_id;
    let record = sim.handle.dispatch_trip(trip_id, "UPDATE").await.unwrap();
    assert!(record.accepted, "{record:?}");
    let sent = &bridge.received()[0].body["payload"]["orders"][0];
    assert_eq!(sent["custom_fields"]["NexusConsignmentID"], "10002");
    assert_eq!(sent["custom_fields"]["NexusOrigin"], "PALLEX:900001", "untouched fields stay");
    assert_eq!(barcodes(sent, 0), [json!({ "value": "1044000106606775", "source": "PALLEX" })]);
}

#[tokio::test]
async fn exactly_one_active_order_must_match() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let first = create(&sim, "ID-P3", "SHARED-REF", &["PX1"]);
    let second = create(&sim, "ID-P4", "SHARED-REF", &["PX2"]);
    let by_reference = json!({
        "match": { "customer_reference_number": { "matches_any": ["SHARED-REF"] } },
        "custom_fields": { "NexusNetwork": "PALLEX" }
    });
    let answer = client.webhook(URL, &by_reference).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["errors"][0]["error_type"], "USER_INPUT_ERROR");
    assert!(messages(&answer.body)[0].starts_with("2 orders match customer_reference_number in [\"SHARED-REF\"]"));

    // AND across keys narrows it to one.
    let narrowed = json!({
        "match": { "customer_reference_number": { "matches_any": ["SHARED-REF"] },
                   "name": { "matches_any": [second.order_name, "OR-0"] } },
        "custom_fields": { "NexusNetwork": "PALLEX" }
    });
    assert_eq!(client.webhook(URL, &narrowed).await.body, json!({ "errors": [] }));
    assert_eq!(order_output(&sim, &second)["custom_fields"]["NexusNetwork"], "PALLEX");
    assert!(order_output(&sim, &first)["custom_fields"].get("NexusNetwork").is_none());

    let nobody = json!({ "match": { "customer_reference_number": { "matches_any": ["NO-SUCH"] } } });
    assert!(messages(&client.webhook(URL, &nobody).await.body)[0].starts_with("No order matches"));
    let empty = json!({ "match": {}, "custom_fields": { "X": "1" } });
    assert!(messages(&client.webhook(URL, &empty).await.body)[0].starts_with("match has no criteria"));
    let missing = json!({ "custom_fields": { "X": "1" } });
    assert!(messages(&client.webhook(URL, &missing).await.body)[0].starts_with("match is required"));
}

#[tokio::test]
async fn a_cancelled_order_is_not_matched() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let upload = order_input("NEXUS-CANCEL", "ACME", "REF-CANCEL", &["PX1"]);
    assert_eq!(client.import(&token, &upload).await["upload_status"], "COMPLETED");
    let delete = json!({ "operation": "DELETE", "order_identifier": "NEXUS-CANCEL" });
    assert_eq!(client.import(&token, &delete).await["upload_status"], "COMPLETED");
    let body = json!({
        "match": { "customer_reference_number": { "matches_any": ["REF-CANCEL"] } },
        "custom_fields": { "NexusNetwork": "PALLEX" }
    });
    let refused = messages(&client.webhook(URL, &body).await.body);
    assert!(refused[0].starts_with("Only cancelled orders"), "{refused:?}");

    // A new active order with the same reference is the one match.
    let active = create(&sim, "ID-P5", "REF-CANCEL", &["PX9"]);
    assert_eq!(client.webhook(URL, &body).await.body, json!({ "errors": [] }));
    assert_eq!(order_output(&sim, &active)["custom_fields"]["NexusNetwork"], "PALLEX");
}

#[tokio::test]
async fn nothing_is_applied_when_any_part_is_wrong() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let mut input = order_input("ID-P6", "ACME", "REF-P6", &["PX1"]);
    let mut second_line = input["consignments"][0]["goods"][0].clone();
    second_line["handling_units"] = json!([{ "barcode": { "value": "PX9", "source": "PALLEX" } }]);
    input["consignments"][0]["goods"].as_array_mut().unwrap().push(second_line);
    let order = sim.handle.create_order(&serde_json::from_value(input).unwrap()).unwrap();
    let other = create(&sim, "ID-P7", "REF-P7", &["PX1"]);
    let consignment_id = order.consignments[0].consignment_id;
    let body = json!({
        "match": { "id": { "matches_any": [order.order_id] } },
        "custom_fields": { "NexusNetwork": "PALLEX" },
        "consignments": [
            { "id": consignment_id, "custom_fields": { "NexusLabel": "x" }, "goods": [
                { "id": goods_id(&sim, &order, 0), "handling_units": [
                    { "barcode": { "value": "PX9" } },
                    { "barcode": { "value": " " } },
                    { "barcode": { "value": "B".repeat(256) } }
                ]},
                { "id": goods_id(&sim, &other, 0), "handling_units": [] },
                { "handling_units": [] }
            ]},
            { "id": other.consignments[0].consignment_id },
            { "id": "not-a-uuid" }
        ]
    });
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    let errors = messages(&answer.body);
    assert_eq!(errors.len(), 7, "{errors:#?}");
    let expected = [
        "consignments[0].goods[0].handling_units[1].barcode.value: a handling unit needs a barcode value",
        "consignments[0].goods[0].handling_units[2].barcode.value: a barcode is at most 255 characters",
        "is not a goods line of consignment REF-P6-C1",
        "consignments[0].goods[2].id is required",
        &format!(
            "consignments[1].id {} is not a consignment of order {}",
            other.consignments[0].consignment_id, order.order_name
        ),
        "consignments[2].id 'not-a-uuid' is not a UUID",
        &format!("barcode 'PX9' would appear more than once in order {}", order.order_name),
    ];
    for (error, wanted) in errors.iter().zip(expected) {
        assert!(error.contains(wanted), "{error} should contain {wanted}");
    }

    let after = order_output(&sim, &order);
    assert!(after["custom_fields"].get("NexusNetwork").is_none(), "nothing applied");
    assert!(after["consignments"][0]["custom_fields"].get("NexusLabel").is_none());
    assert_eq!(barcodes(&after, 0), [json!({ "value": "PX1", "source": "PALLEX" })]);
    let record = sim.handle.partial_updates().pop().unwrap();
    assert!(!record.applied);
    assert_eq!(record.order_id, Some(order.order_id));
    assert_eq!(record.errors.len(), 7);

    // The same consignment twice is refused too; an empty list removes a line's units.
    let twice = json!({
        "match": { "id": { "matches_any": [order.order_id] } },
        "consignments": [{ "id": consignment_id }, { "id": consignment_id }]
    });
    assert!(messages(&client.webhook(URL, &twice).await.body)[0].contains("appears twice"));
    let clear = json!({
        "match": { "id": { "matches_any": [order.order_id] } },
        "consignments": [{ "id": consignment_id, "goods": [{ "id": goods_id(&sim, &order, 1), "handling_units": [] }] }]
    });
    assert_eq!(client.webhook(URL, &clear).await.body, json!({ "errors": [] }));
    assert!(barcodes(&order_output(&sim, &order), 1).is_empty());
}

#[tokio::test]
async fn the_route_needs_the_webhook_credential_and_a_known_shape() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let body = json!({ "match": { "name": { "matches_any": ["OR-1"] } } });
    assert_eq!(client.post_json(URL, &token, &body).await.status, 401, "an OAuth token does not work here");
    let not_json = client
        .http
        .post(client.url(URL))
        .basic_auth(crate::support::WEBHOOK_USER, Some(crate::support::WEBHOOK_PASS))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 422);
    let unknown_key = json!({ "match": { "reference": { "matches_any": ["X"] } } });
    let answer = client.webhook(URL, &unknown_key).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(answer.body["detail"][0]["loc"], json!(["body", "match", "reference"]));
    let bad_fields = json!({ "match": { "name": { "matches_any": ["OR-1"] } }, "custom_fields": "PALLEX" });
    assert_eq!(client.webhook(URL, &bad_fields).await.status, 422);
}
