//! The partial order update webhook with the spec's `OrderUpdatePayload`: matching exactly one
//! active order, merging custom fields, adding and removing handling units, refusing the whole body
//! when any part is wrong, answering `null` / `{errors}`, and recording calls.

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

fn by_id(id: impl ToString) -> Value {
    json!({ "matches_all": [{ "order": { "id": { "matches_any": [id.to_string()] } } }] })
}

fn fields(custom_fields: Value) -> Value {
    json!({ "operation": "UPDATE", "data": { "custom_fields": custom_fields } })
}

fn create_unit(barcode: &str) -> Value {
    json!({ "update": { "operation": "CREATE", "data": { "barcode": { "value": barcode, "source": "EXTERNAL" } } } })
}

fn delete_unit(barcode: &str) -> Value {
    json!({ "match": { "matches_all": [{ "handling_unit": { "barcode": { "matches_any": [barcode] } } }] },
            "update": { "operation": "DELETE" } })
}

/// A consignment update (by 1-based `order_sequence_number`) of one goods line's handling units.
fn units_of_line(sequence: u64, goods_id: &str, units: Vec<Value>) -> Value {
    json!({
        "match": { "matches_all": [{ "consignment": { "order_sequence_number": sequence } }] },
        "good": { "updates": [{
            "match": { "matches_all": [{ "good": { "id": { "matches_any": [goods_id] } } }] },
            "handling_unit": { "updates": units }
        }]}
    })
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
async fn an_update_merges_custom_fields_and_adds_handling_units_and_a_repeat_changes_nothing() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "ID-P1", "REF-P1", &["PX1", "PX2"]);
    let before = order_output(&sim, &order);
    let kept_unit_id = before["consignments"][0]["goods"][0]["handling_units"][1]["id"].clone();
    let mut consignment = units_of_line(1, &goods_id(&sim, &order, 0), vec![create_unit("1044000106606774")]);
    consignment["update"] = fields(json!({ "NexusLabel": "labels/PALLEX/10001/all.pdf" }));
    let body = json!({ "updates": [{
        "match": by_id(order.order_id.to_string().to_uppercase()),
        "update": fields(json!({ "NexusNetwork": "PALLEX", "NexusConsignmentID": "10001", "NexusOrigin": null })),
        "consignment": { "updates": [consignment] }
    }]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, Value::Null, "PartialOrderUpdateResponse | null: null when applied");

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
    let expected = [
        json!({ "value": "PX1", "source": "PALLEX" }),
        json!({ "value": "PX2", "source": "PALLEX" }),
        json!({ "value": "1044000106606774", "source": "EXTERNAL" }),
    ];
    assert_eq!(barcodes(&after, 0), expected);
    assert_eq!(after["consignments"][0]["goods"][0]["handling_units"][1]["id"], kept_unit_id, "PX2 keeps its id");

    // The identical update again: accepted, and nothing changes (CREATE of a barcode already on the line).
    let again = client.webhook(URL, &body).await;
    assert_eq!((again.status, again.body), (200, Value::Null));
    let repeated = client.get(&format!("/v1/orders/order/{}", order.order_id), &token).await.body;
    assert_eq!(repeated["consignments"], after["consignments"], "a repeat is a no-op");
    assert_eq!(repeated["custom_fields"], after["custom_fields"]);

    let records = sim.handle.partial_updates();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.applied && r.errors.is_empty()));
    assert_eq!(records[0].order_id, Some(order.order_id));
    assert_eq!(records[0].request, body);
    let listed = client.sim_get(&format!("/_sim/partial-updates?order_id={}", order.order_id)).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "{}", listed.body);
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert!(detail["barcodes"].get("1044000106606774").is_some(), "the admin view lists the new barcode");
    assert_eq!(sim.handle.request_counts().count_with_status("POST", URL, 200), 2);
    assert!(sim.handle.unknown_keys().is_empty(), "{:?}", sim.handle.unknown_keys());
}

#[tokio::test]
async fn later_dispatch_webhooks_carry_the_changes() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let client = Client::new(&sim);
    let order = create(&sim, "ID-P2", "REF-P2", &["PX1"]);
    let body = json!({ "updates": [{
        "match": { "matches_all": [{ "order": { "name": { "matches_any": [order.order_name] } } }] },
        "update": fields(json!({ "NexusConsignmentID": "10002" })),
        "consignment": { "updates": [units_of_line(1, &goods_id(&sim, &order, 0), vec![
            delete_unit("PX1"), create_unit("1044000106606775")
        ])] }
    }]});
    assert_eq!(client.webhook(URL, &body).await.body, Value::Null);
    let trip_id = order.trip.as_ref().unwrap().trip_id;
    let record = sim.handle.dispatch_trip(trip_id, "UPDATE").await.unwrap();
    assert!(record.accepted, "{record:?}");
    let sent = &bridge.received()[0].body["payload"]["orders"][0];
    assert_eq!(sent["custom_fields"]["NexusConsignmentID"], "10002");
    assert_eq!(sent["custom_fields"]["NexusOrigin"], "PALLEX:900001", "untouched fields stay");
    assert_eq!(barcodes(sent, 0), [json!({ "value": "1044000106606775", "source": "EXTERNAL" })]);
}

#[tokio::test]
async fn exactly_one_active_order_must_match() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let first = create(&sim, "ID-P3", "SHARED-REF", &["PX1"]);
    let second = create(&sim, "ID-P4", "SHARED-REF", &["PX2"]);
    let update = fields(json!({ "NexusNetwork": "PALLEX" }));
    let by_reference = json!({ "updates": [{
        "match": { "matches_all": [{ "order": { "customer_reference_number": { "matches_any": ["SHARED-REF"] } } }] },
        "update": update
    }]});
    let answer = client.webhook(URL, &by_reference).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["errors"][0]["error_type"], "USER_INPUT_ERROR");
    let found = messages(&answer.body);
    assert!(
        found[0].starts_with("updates[0]: 2 orders match order.customer_reference_number in [\"SHARED-REF\"]"),
        "{found:?}"
    );

    // AND across entries and keys narrows it to one.
    let narrowed = json!({ "updates": [{
        "match": { "matches_all": [
            { "order": { "customer_reference_number": { "matches_any": ["SHARED-REF"] } } },
            { "order": { "name": { "matches_any": [second.order_name, "OR-0"] } } }
        ]},
        "update": update
    }]});
    assert_eq!(client.webhook(URL, &narrowed).await.body, Value::Null);
    assert_eq!(order_output(&sim, &second)["custom_fields"]["NexusNetwork"], "PALLEX");
    assert!(order_output(&sim, &first)["custom_fields"].get("NexusNetwork").is_none());

    let nobody = json!({ "updates": [{
        "match": { "matches_all": [{ "order": { "customer_reference_number": { "matches_any": ["NO-SUCH"] } } }] },
        "update": update
    }]});
    assert!(messages(&client.webhook(URL, &nobody).await.body)[0].contains("no order matches"));
    let empty = json!({ "updates": [{ "match": { "matches_all": [] }, "update": update }] });
    assert!(messages(&client.webhook(URL, &empty).await.body)[0].contains("has no order criteria"));
    let missing = json!({ "updates": [{ "update": update }] });
    assert!(messages(&client.webhook(URL, &missing).await.body)[0].contains("has no order criteria"));
    let company = json!({ "updates": [{
        "match": { "matches_all": [{ "company": { "code": { "matches_any": ["ACME"] } } }] }, "update": update
    }]});
    let answer = client.webhook(URL, &company).await;
    assert_eq!(answer.body["errors"][0]["error_type"], "NOT_SUPPORTED", "{}", answer.body);
}

#[tokio::test]
async fn a_cancelled_order_is_not_matched() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let upload = order_input("NEXUS-CANCEL", "ACME", "REF-CANCEL", &["PX1"]);
    assert_eq!(client.import(&token, &upload).await["upload_status"], "COMPLETED");
    let mut delete = upload.clone();
    delete["operation"] = json!("DELETE");
    assert_eq!(client.import(&token, &delete).await["upload_status"], "COMPLETED");
    let body = json!({ "updates": [{
        "match": { "matches_all": [{ "order": { "customer_reference_number": { "matches_any": ["REF-CANCEL"] } } }] },
        "update": fields(json!({ "NexusNetwork": "PALLEX" }))
    }]});
    let refused = messages(&client.webhook(URL, &body).await.body);
    assert!(refused[0].contains("only cancelled orders"), "{refused:?}");

    // A new active order with the same reference is the one match.
    let active = create(&sim, "ID-P5", "REF-CANCEL", &["PX9"]);
    assert_eq!(client.webhook(URL, &body).await.body, Value::Null);
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
    let line0 = goods_id(&sim, &order, 0);
    let mut first = units_of_line(
        1,
        &line0,
        vec![
            create_unit("PX9"),
            create_unit(&"B".repeat(256)),
            json!({ "update": { "operation": "CREATE", "data": {} } }),
        ],
    );
    first["update"] = fields(json!({ "NexusLabel": "x" }));
    first["good"]["updates"].as_array_mut().unwrap().push(json!({
        "match": { "matches_all": [{ "good": { "id": { "matches_any": [goods_id(&sim, &other, 0)] } } }] },
        "update": fields(json!({ "X": "1" }))
    }));
    let body = json!({ "updates": [
        { "match": by_id(order.order_id), "update": fields(json!({ "NexusNetwork": "PALLEX" })),
          "consignment": { "updates": [
              first,
              { "match": { "matches_all": [{ "consignment": { "order_sequence_number": 2 } }] }, "update": fields(json!({})) },
              { "update": { "operation": "DELETE" } }
          ]}},
        { "match": by_id(order.order_id), "update": { "operation": "UPDATE", "data": { "planning_instructions": "Ring first" } } }
    ]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    let errors = messages(&answer.body);
    let expected = [
        "updates[0].consignment.updates[0].good.updates[0].handling_unit.updates[0]: barcode 'PX9' is on another goods line",
        "updates[0].consignment.updates[0].good.updates[0].handling_unit.updates[1]: a barcode is at most 255 characters",
        "updates[0].consignment.updates[0].good.updates[0].handling_unit.updates[2]: CREATE needs update.data.barcode.value",
        "updates[0].consignment.updates[0].good.updates[1]: 0 goods lines of the consignment match",
        &format!("updates[0].consignment.updates[1]: 0 consignments of order {} match", order.order_name),
        "updates[0].consignment.updates[2].update: operation DELETE is not simulated",
        "updates[1].update.data.planning_instructions: only custom_fields is simulated",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, wanted) in errors.iter().zip(expected) {
        assert!(error.starts_with(wanted), "{error} should start with {wanted}");
    }
    let types: Vec<&str> =
        answer.body["errors"].as_array().unwrap().iter().map(|e| e["error_type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "NOT_SUPPORTED").count(), 2, "{types:?}");

    let after = order_output(&sim, &order);
    assert!(after["custom_fields"].get("NexusNetwork").is_none(), "nothing applied");
    assert!(after["consignments"][0]["custom_fields"].get("NexusLabel").is_none());
    assert_eq!(barcodes(&after, 0), [json!({ "value": "PX1", "source": "PALLEX" })]);
    let record = sim.handle.partial_updates().pop().unwrap();
    assert!(!record.applied);
    assert_eq!(record.order_id, Some(order.order_id));
    assert_eq!(record.errors.len(), expected.len());

    // DELETE of a barcode that is not on the line changes nothing; of one that is, removes it.
    let line1 = goods_id(&sim, &order, 1);
    let missing = json!({ "updates": [{ "match": by_id(order.order_id),
        "consignment": { "updates": [units_of_line(1, &line1, vec![delete_unit("NOT-THERE")])] } }] });
    assert_eq!(client.webhook(URL, &missing).await.body, Value::Null);
    assert_eq!(barcodes(&order_output(&sim, &order), 1).len(), 1);
    let remove = json!({ "updates": [{ "match": by_id(order.order_id),
        "consignment": { "updates": [units_of_line(1, &line1, vec![delete_unit("PX9")])] } }] });
    assert_eq!(client.webhook(URL, &remove).await.body, Value::Null);
    assert!(barcodes(&order_output(&sim, &order), 1).is_empty());
}

#[tokio::test]
async fn the_route_needs_the_webhook_credential_and_the_specs_shape() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let order = create(&sim, "ID-P8", "REF-P8", &["PX1"]);
    let body = json!({ "updates": [{ "match": by_id(order.order_id), "update": fields(json!({ "A": "1" })) }] });
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

    // A value of the wrong type is a 422 naming the place, with pydantic's type.
    let bad_fields = json!({ "updates": [{ "match": by_id(order.order_id),
        "update": { "operation": "UPDATE", "data": { "custom_fields": "PALLEX" } } }] });
    let answer = client.webhook(URL, &bad_fields).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(answer.body["detail"][0]["loc"], json!(["body", "updates", 0, "update", "data", "custom_fields"]));
    assert_eq!(answer.body["detail"][0]["type"], "dict_type");
    // A handling unit's barcode source is `EXTERNAL` only (`UpdateBarcodeInput`).
    let pallex = json!({ "updates": [{ "match": by_id(order.order_id), "consignment": { "updates": [
        units_of_line(1, &goods_id(&sim, &order, 0), vec![json!({ "update": { "operation": "CREATE",
            "data": { "barcode": { "value": "PX7", "source": "PALLEX" } } } })])
    ]}}]});
    let answer = client.webhook(URL, &pallex).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let loc = answer.body["detail"][0]["loc"].as_array().unwrap();
    assert_eq!(loc[loc.len() - 2..], [json!("barcode"), json!("source")]);

    // The old invented body has no key of the spec's: real Qargo ignores it all, and so does the
    // simulator (lenient), recording the keys; nothing changes.
    let invented = json!({
        "match": { "id": { "matches_any": [order.order_id] } },
        "custom_fields": { "NexusNetwork": "PALLEX" }
    });
    let answer = client.webhook(URL, &invented).await;
    assert_eq!((answer.status, answer.body), (200, Value::Null));
    assert!(order_output(&sim, &order)["custom_fields"].get("NexusNetwork").is_none());
    let unknown: Vec<String> = sim.handle.unknown_keys().into_iter().map(|k| k.path).collect();
    assert_eq!(unknown, ["$.custom_fields", "$.match"]);
}
