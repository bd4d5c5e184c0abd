//! The status webhook: stop matching (exactly one stop or the update is discarded), statuses,
//! ETAs, scans per barcode and other question answers.

use base64::Engine;
use qargo_sim::{CreatedOrder, RunningSim, ScenarioOrder};
use serde_json::{Value, json};

use crate::support::{Client, options, order_input, start};

const URL: &str = "/v1/webhook/subco-status-update";

fn create(sim: &RunningSim, reference: &str, barcodes: &[&str], resource: Option<&str>) -> CreatedOrder {
    let mut input = order_input(&format!("ID-{reference}"), "ACME", reference, barcodes);
    if let Some(code) = resource {
        input["trip"] = json!({ "resource_code": code });
    }
    let order: ScenarioOrder = serde_json::from_value(input).unwrap();
    sim.handle.create_order(&order).expect("order created")
}

fn stop_status(sim: &RunningSim, stop_id: uuid::Uuid) -> String {
    sim.handle.stop_status(stop_id).unwrap()
}

fn messages(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["error_message"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_update_by_stop_id_sets_status_times_and_eta() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-1", &["PX1"], Some("PALLEX_OUT"));
    let body = json!({ "updates": [{
        "event_time": "2030-06-04T10:15:00+01:00",
        "stop": { "id": order.delivery_stop_id, "status": "AT_STOP",
                  "eta_start": "2030-06-04T10:00:00+01:00", "eta_end": "2030-06-04T10:30:00Z" }
    }]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "errors": [] }));
    assert_eq!(stop_status(&sim, order.delivery_stop_id), "AT_STOP");
    let token = client.token().await;
    let status = client.get(&format!("/v1/orders/order/{}/status", order.order_id), &token).await.body;
    let delivery = &status["last_delivery_stop"];
    assert_eq!(delivery["status"], "AT_STOP");
    assert_eq!(delivery["actual_start_timestamp"], "2030-06-04T09:15:00Z", "kept in UTC");
    assert_eq!(delivery["eta_start"], "2030-06-04T09:00:00Z");
    assert_eq!(delivery["eta_end"], "2030-06-04T10:30:00Z");
    assert_eq!(delivery["start_timestamp"], "2030-06-04T09:15:00Z", "actual once at the stop");
    assert_eq!(status["status"], "IN_TRANSIT");

    let done = json!({ "updates": [{ "event_time": "2030-06-04T10:40:00Z", "stop": { "id": order.delivery_stop_id, "status": "COMPLETED" } }] });
    assert_eq!(client.webhook(URL, &done).await.body["errors"], json!([]));
    assert_eq!(client.webhook(URL, &done).await.body["errors"], json!([]), "repeating a status is accepted");
    let back = json!({ "updates": [{ "event_time": "2030-06-04T10:45:00Z", "stop": { "id": order.delivery_stop_id, "status": "AT_STOP" } }] });
    let refused = client.webhook(URL, &back).await;
    assert!(messages(&refused.body)[0].contains("already COMPLETED"), "{}", refused.body);
    assert_eq!(stop_status(&sim, order.delivery_stop_id), "COMPLETED");
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    let history = detail["stops"][1]["history"].as_array().unwrap();
    let statuses: Vec<&str> = history.iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(statuses, ["PLANNED", "AT_STOP", "COMPLETED", "COMPLETED"]);
    assert_eq!(detail["stops"][1]["actual_end"], "2030-06-04T10:40:00Z");
}

#[tokio::test]
async fn matches_all_finds_exactly_one_stop_by_references_trip_and_type() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let first = create(&sim, "REF-A", &[], Some("PALLEX_OUT"));
    let second = create(&sim, "REF-B", &[], Some("FORTEC_OUT"));
    let trip_name = first.trip.as_ref().unwrap().trip_name.clone();
    let body = json!({ "updates": [
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP", "match": { "matches_all": [{
            "order": { "customer_reference_number": { "matches_any": ["REF-B"] } },
            "stop": { "stop_type": "DELIVERY" }
        }]}}},
        { "event_time": "2030-06-03T08:00:00Z", "stop": { "status": "COMPLETED", "match": { "matches_all": [
            { "trip": { "name": { "matches_any": [trip_name] } } },
            { "consignment": { "reference_number": { "matches_any": ["REF-A-C1"] }, "order_sequence_number": 1 },
              "stop": { "reference_number": { "matches_any": ["REF-A-P"] } } }
        ]}}},
        { "event_time": "2030-06-03T08:00:00Z", "stop": { "status": "COMPLETED", "match": { "matches_all": [{
            "order": { "name": { "matches_any": [second.order_name] }, "id": { "matches_any": [second.order_id.to_string()] } },
            "stop": { "stop_type": "PICKUP" }
        }]}}}
    ]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.body["errors"], json!([]), "{}", answer.body);
    assert_eq!(stop_status(&sim, second.delivery_stop_id), "AT_STOP");
    assert_eq!(stop_status(&sim, first.pickup_stop_id), "COMPLETED");
    assert_eq!(stop_status(&sim, second.pickup_stop_id), "COMPLETED");
    assert_eq!(stop_status(&sim, first.delivery_stop_id), "PLANNED", "untouched");
}

#[tokio::test]
async fn no_match_or_several_matches_discard_only_that_update() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let a = create(&sim, "SHARED", &[], None);
    let mut other = order_input("ID-2", "BOLT", "SHARED", &[]);
    other["consignments"][0]["consignment_reference_number"] = json!("OTHER-C1");
    let b = sim.handle.create_order(&serde_json::from_value(other).unwrap()).unwrap();
    let body = json!({ "updates": [
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP", "match": { "matches_all": [{
            "order": { "customer_reference_number": { "matches_any": ["SHARED"] } }, "stop": { "stop_type": "DELIVERY" }
        }]}}},
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP", "match": { "matches_all": [{
            "order": { "customer_reference_number": { "matches_any": ["NOPE"] } }
        }]}}},
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP", "match": { "matches_all": [{
            "order": { "customer_reference_number": { "matches_any": ["SHARED"] } },
            "consignment": { "reference_number": { "matches_any": ["OTHER-C1"] } },
            "stop": { "stop_type": "DELIVERY" }
        }]}}},
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP", "match": { "matches_all": [{}] } } }
    ]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200);
    let errors = answer.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{}", answer.body);
    assert_eq!(errors[0]["update_index"], 0);
    assert_eq!(errors[0]["error_type"], "USER_INPUT_ERROR");
    assert!(errors[0]["error_message"].as_str().unwrap().starts_with("2 stops match"), "{}", errors[0]);
    assert_eq!(errors[1]["update_index"], 1);
    assert!(errors[1]["error_message"].as_str().unwrap().starts_with("No stop matches"));
    assert_eq!(errors[2]["update_index"], 3);
    assert!(errors[2]["error_message"].as_str().unwrap().contains("no criteria"));
    assert_eq!(stop_status(&sim, a.delivery_stop_id), "TO_PLAN", "the ambiguous update was discarded");
    assert_eq!(stop_status(&sim, b.delivery_stop_id), "AT_STOP", "the precise one was applied");
    let log = sim.handle.status_updates();
    assert_eq!(log.len(), 4);
    assert_eq!(log.iter().filter(|r| r.applied).count(), 1);
    assert!(log[0].error.is_some() && log[0].stop_id.is_none());
    let over_http = client.sim_get("/_sim/status-updates").await.body;
    assert_eq!(over_http.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn statuses_and_datetimes_are_checked() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-V", &[], None);
    let id = order.delivery_stop_id;
    let body = json!({ "updates": [
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": id, "status": "DELIVERED" } },
        { "event_time": "2030-06-04T08:00:00", "stop": { "id": id, "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": id, "eta_start": "2030-06-04 09:00" } },
        { "stop": { "id": id, "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": uuid::Uuid::new_v4(), "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": "stop-1", "status": "AT_STOP" } }
    ]});
    let answer = client.webhook(URL, &body).await;
    let found = messages(&answer.body);
    assert_eq!(found.len(), 7, "{found:?}");
    assert!(found[0].contains("only AT_STOP or COMPLETED"));
    assert!(found[1].contains("event_time") && found[1].contains("offset"));
    assert!(found[2].contains("eta_start") && found[2].contains("offset"));
    assert!(found[3].contains("event_time is required"));
    assert!(found[4].contains("stop.id or stop.match"));
    assert!(found[5].contains("No stop with id"));
    assert!(found[6].contains("not a UUID"));
    assert_eq!(stop_status(&sim, id), "TO_PLAN");

    // An ETA alone changes no status.
    let eta = json!({ "updates": [{ "event_time": "2030-06-04T08:00:00Z", "stop": { "id": id, "eta_start": "2030-06-04T11:00:00+01:00" } }] });
    assert_eq!(client.webhook(URL, &eta).await.body["errors"], json!([]));
    assert_eq!(stop_status(&sim, id), "TO_PLAN");
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert_eq!(detail["stops"][1]["eta_start"], "2030-06-04T10:00:00Z");

    // A wrong type in the body is a 422 for the whole request; a missing `updates` too.
    let wrong = client.webhook(URL, &json!({ "updates": [{ "event_time": 5, "stop": {} }] })).await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.body["detail"][0]["loc"], json!(["body", "updates", 0, "event_time"]));
    assert_eq!(client.webhook(URL, &json!({})).await.status, 422);
}

#[tokio::test]
async fn barcode_scans_are_kept_as_history_per_barcode() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-S", &["PX100A", "PX100B"], Some("PALLEX_OUT"));
    let body = json!({ "updates": [{
        "event_time": "2030-06-03T18:00:00Z",
        "stop": { "id": order.pickup_stop_id, "question_answers": {
            "scan_barcode": [
                { "barcode": "PX100A", "status": "SCANNED_IN", "stop_location_code": "UKD101", "source_status": "ARRC" },
                { "barcode": { "value": "PX100B", "source": "PALLEX" }, "status": "SCANNED_IN", "timestamp": "2030-06-03T18:05:00+01:00" }
            ],
            "status_note": "Arrived at collecting depot"
        }}
    }, {
        "event_time": "2030-06-04T06:00:00Z",
        "stop": { "id": order.delivery_stop_id, "question_answers": {
            "scan_barcode": { "barcode": "PX100A", "status": "SCANNED_OUT", "description": "Out for delivery", "source_status": "SCDV" }
        }}
    }]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.body["errors"], json!([]), "{}", answer.body);
    let history = sim.handle.scans("PX100A");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].status, "SCANNED_IN");
    assert_eq!(history[0].timestamp, "2030-06-03T18:00:00Z", "defaults to event_time");
    assert_eq!(history[0].stop_location_code.as_deref(), Some("UKD101"));
    assert_eq!(history[1].status, "SCANNED_OUT");
    assert_eq!(history[1].source_status.as_deref(), Some("SCDV"));
    assert_eq!(history[1].stop_id, order.delivery_stop_id);
    let b = sim.handle.scans("PX100B");
    assert_eq!(b[0].timestamp, "2030-06-03T17:05:00Z");
    assert_eq!(b[0].source.as_deref(), Some("PALLEX"));
    assert_eq!(stop_status(&sim, order.pickup_stop_id), "PLANNED", "scans alone move no stop");

    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert_eq!(detail["barcodes"]["PX100A"].as_array().unwrap().len(), 2);
    assert_eq!(detail["barcodes"]["PX100B"].as_array().unwrap().len(), 1);
    assert_eq!(detail["stops"][0]["answers"][0]["key"], "status_note");
    assert_eq!(detail["stops"][0]["answers"][0]["value"], "Arrived at collecting depot");

    // An unknown barcode or a wrong scan status discards the whole update.
    let bad = json!({ "updates": [
        { "event_time": "2030-06-04T07:00:00Z", "stop": { "id": order.delivery_stop_id, "status": "AT_STOP",
          "question_answers": { "scan_barcode": [{ "barcode": "PX100A", "status": "STORED" }, { "barcode": "PX999", "status": "STORED" }] } } },
        { "event_time": "2030-06-04T07:00:00Z", "stop": { "id": order.delivery_stop_id,
          "question_answers": { "scan_barcode": { "barcode": "PX100A", "status": "DELIVERED" } } } }
    ]});
    let found = messages(&client.webhook(URL, &bad).await.body);
    assert!(found[0].contains("PX999") && found[0].contains("not a handling unit"), "{found:?}");
    assert!(found[1].contains("SCANNED_IN, STORED, SCANNED_OUT"));
    assert_eq!(sim.handle.scans("PX100A").len(), 2, "nothing from the discarded update");
    assert_eq!(stop_status(&sim, order.delivery_stop_id), "PLANNED");
}

#[tokio::test]
async fn documents_can_come_inside_question_answers() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-D", &[], None);
    let token = client.token().await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 signed".to_vec())
            .file_name("pod.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let uploaded = client
        .http
        .post(client.url("/v1/documents/document/upload_content"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status().as_u16(), 201);
    let upload_id = uploaded.json::<Value>().await.unwrap()["upload_id"].as_str().unwrap().to_string();
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG signature");
    let body = json!({ "updates": [{
        "event_time": "2030-06-04T12:00:00Z",
        "stop": { "id": order.delivery_stop_id, "status": "COMPLETED", "question_answers": {
            "SIGNATURE": { "embedded_document": { "content": png, "content_type": "image/png", "filename": "sig.png" } },
            "POD": { "remote_document": { "upload_id": upload_id }, "document_type": "PROOF_OF_DELIVERY_SIGNED" }
        }}
    }]});
    assert_eq!(client.webhook(URL, &body).await.body["errors"], json!([]));
    let docs = client.get(&format!("/v1/orders/order/{}/documents", order.order_id), &token).await.body;
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2);
    let types: Vec<&str> = docs.iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"CONSIGNEE_SIGNATURE") && types.contains(&"PROOF_OF_DELIVERY_SIGNED"), "{types:?}");
    assert!(docs.iter().all(|d| d["subject_type"] == "STOP"));
    let again = client.webhook(URL, &body).await;
    assert!(messages(&again.body)[0].contains("no uploaded content"), "an upload_id is used once");
}
