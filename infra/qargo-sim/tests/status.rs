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
    // What the schema cannot say is checked per update (200, the update discarded).
    let body = json!({ "updates": [
        { "event_time": "2030-06-04T08:00:00", "stop": { "id": id, "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": id, "eta_start": "2030-06-04 09:00" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": uuid::Uuid::new_v4(), "status": "AT_STOP" } },
        { "event_time": "2030-06-04T08:00:00Z", "stop": { "id": "stop-1", "status": "AT_STOP" } }
    ]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let found = messages(&answer.body);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found[0].contains("event_time") && found[0].contains("offset"));
    assert!(found[1].contains("eta_start") && found[1].contains("offset"));
    assert!(found[2].contains("stop.id or stop.match"));
    assert!(found[3].contains("No stop with id"));
    assert!(found[4].contains("not a UUID"));
    assert_eq!(stop_status(&sim, id), "TO_PLAN");

    // What the schema says is FastAPI's: a status outside `StopStatusUpdateEnum` or a missing
    // `event_time` refuses the whole request with a 422 naming the place.
    let delivered =
        json!({ "updates": [{ "event_time": "2030-06-04T08:00:00Z", "stop": { "id": id, "status": "DELIVERED" } }] });
    let refused = client.webhook(URL, &delivered).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["detail"][0]["loc"], json!(["body", "updates", 0, "stop", "status"]));
    assert_eq!(refused.body["detail"][0]["type"], "enum");
    let no_time = json!({ "updates": [{ "stop": { "id": id, "status": "AT_STOP" } }] });
    let refused = client.webhook(URL, &no_time).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body["detail"][0]["loc"], json!(["body", "updates", 0, "event_time"]));
    assert_eq!(refused.body["detail"][0]["type"], "missing");
    assert_eq!(stop_status(&sim, id), "TO_PLAN");
    assert_eq!(sim.handle.status_updates().len(), 5, "a refused request records no update");

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
    // Exactly what the bridge sends: an array of scan objects with a string barcode.
    let body = json!({ "updates": [{
        "event_time": "2030-06-03T18:00:00Z",
        "stop": { "id": order.pickup_stop_id, "question_answers": {
            "scan_barcode": [
                { "barcode": "PX100A", "status": "SCANNED_IN", "timestamp": "2030-06-03T18:00:00+01:00",
                  "stop_location_code": "UKD101", "description": "ARRC Arrived at collecting depot" },
                { "barcode": "PX100B", "timestamp": "2030-06-03T18:05:00+01:00",
                  "stop_match": { "stop_type": "DELIVERY", "location": { "postal_code": { "matches_any": ["g2 1dy"] } } } }
            ],
            "status_note": "Arrived at collecting depot"
        }}
    }, {
        "event_time": "2030-06-04T06:00:00Z",
        "stop": { "id": order.delivery_stop_id, "question_answers": {
            "scan_barcode": [{ "barcode": "PX100A", "status": "SCANNED_OUT", "timestamp": "2030-06-04T07:00:00+01:00",
                               "stop_location_code": "PGD302", "description": "SCDV Out for delivery" }]
        }}
    }]});
    let answer = client.webhook(URL, &body).await;
    assert_eq!(answer.body["errors"], json!([]), "{}", answer.body);
    let history = sim.handle.scans("PX100A");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].status.as_deref(), Some("SCANNED_IN"));
    assert_eq!(history[0].timestamp, "2030-06-03T17:00:00Z", "kept in UTC");
    assert_eq!(history[0].stop_location_code.as_deref(), Some("UKD101"));
    assert_eq!(history[0].source.as_deref(), Some("PALLEX"), "the handling unit's source, from the order");
    assert_eq!(history[1].status.as_deref(), Some("SCANNED_OUT"));
    assert_eq!(history[1].description.as_deref(), Some("SCDV Out for delivery"));
    assert_eq!(history[1].code(), Some("SCDV"), "the Nexus scan code is the description's first word");
    assert_eq!(history[1].stop_id, order.delivery_stop_id);
    let b = sim.handle.scans("PX100B");
    assert_eq!(b[0].status, None, "status is optional");
    assert_eq!(b[0].matched_stop_id, Some(order.delivery_stop_id), "stop_match names the delivery stop");
    assert_eq!(stop_status(&sim, order.pickup_stop_id), "PLANNED", "scans alone move no stop");

    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert_eq!(detail["barcodes"]["PX100A"].as_array().unwrap().len(), 2);
    assert_eq!(detail["barcodes"]["PX100B"].as_array().unwrap().len(), 1);
    assert_eq!(detail["stops"][0]["answers"][0]["key"], "status_note");
    assert_eq!(detail["stops"][0]["answers"][0]["value"], "Arrived at collecting depot");
    assert!(sim.handle.unknown_keys().is_empty(), "{:?}", sim.handle.unknown_keys());

    // Each of these discards its whole update.
    let delivery = order.delivery_stop_id;
    let scans = |scans: Value| {
        json!({ "event_time": "2030-06-04T07:00:00Z", "stop": { "id": delivery, "status": "AT_STOP",
        "question_answers": { "scan_barcode": scans } } })
    };
    let bad = json!({ "updates": [
        scans(json!([{ "barcode": "PX100A", "status": "STORED", "timestamp": "2030-06-04T07:00:00Z" },
                     { "barcode": "PX999", "status": "STORED", "timestamp": "2030-06-04T07:00:00Z" }])),
        scans(json!([{ "barcode": "PX100A", "status": "DELIVERED", "timestamp": "2030-06-04T07:00:00Z" }])),
        scans(json!([{ "barcode": { "value": "PX100A", "source": "PALLEX" }, "status": "STORED", "timestamp": "2030-06-04T07:00:00Z" }])),
        scans(json!({ "barcode": "PX100A", "status": "STORED", "timestamp": "2030-06-04T07:00:00Z" })),
        scans(json!([{ "barcode": "PX100A", "status": "STORED" }])),
        scans(json!([{ "status": "STORED", "timestamp": "2030-06-04T07:00:00Z" }]))
    ]});
    let found = messages(&client.webhook(URL, &bad).await.body);
    assert_eq!(found.len(), 6, "{found:?}");
    assert!(found[0].contains("PX999") && found[0].contains("not a handling unit"), "{found:?}");
    assert!(found[1].contains("SCANNED_IN, STORED, SCANNED_OUT"));
    assert!(found[2].starts_with("scan_barcode[0].barcode must be a string"), "{}", found[2]);
    assert!(found[3].contains("a JSON array of scan objects"));
    assert!(found[4].contains("timestamp is required"));
    assert!(found[5].contains("barcode is required"));
    assert_eq!(sim.handle.scans("PX100A").len(), 2, "nothing from the discarded updates");
    assert_eq!(stop_status(&sim, delivery), "PLANNED");
}

#[tokio::test]
async fn unknown_scan_keys_are_ignored_and_recorded_or_refused_when_strict() {
    let body = |stop_id: uuid::Uuid| {
        json!({ "updates": [{ "event_time": "2030-06-03T18:00:00Z", "stop": { "id": stop_id, "question_answers": {
            "scan_barcode": [{ "barcode": "PX1", "status": "SCANNED_IN", "timestamp": "2030-06-03T18:00:00Z",
                               "source_status": "ARRC", "created_by": "driver" }]
        }}}]})
    };
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-U", &["PX1"], None);
    let answer = client.webhook(URL, &body(order.pickup_stop_id)).await;
    assert_eq!((answer.status, &answer.body["errors"]), (200, &json!([])), "{}", answer.body);
    assert_eq!(sim.handle.scans("PX1").len(), 1, "the scan is kept, its unknown keys ignored");
    let unknown = sim.handle.unknown_keys();
    let paths: Vec<&str> = unknown.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.updates[0].stop.question_answers.scan_barcode[0].created_by",
            "$.updates[0].stop.question_answers.scan_barcode[0].source_status"
        ]
    );
    assert!(unknown.iter().all(|k| k.route == "POST /v1/webhook/subco-status-update" && !k.refused));
    let listed = client.sim_get("/_sim/unknown-keys").await.body;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let strict = start(qargo_sim::SimOptions { strict_unknown_keys: true, ..options() }).await;
    let client = Client::new(&strict);
    let order = create(&strict, "REF-U", &["PX1"], None);
    let answer = client.webhook(URL, &body(order.pickup_stop_id)).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let locs: Vec<Value> = answer.body["detail"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
    assert!(locs.contains(&json!([
        "body",
        "updates",
        0,
        "stop",
        "question_answers",
        "scan_barcode",
        0,
        "source_status"
    ])));
    assert!(answer.body["detail"].as_array().unwrap().iter().all(|d| d["type"] == "extra_forbidden"));
    assert!(strict.handle.scans("PX1").is_empty(), "a refused request changes nothing");
    assert!(strict.handle.unknown_keys().iter().all(|k| k.refused));
}

#[tokio::test]
async fn documents_come_inside_question_answers_as_arrays_typed_by_their_key() {
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
    let jpeg = base64::engine::general_purpose::STANDARD.encode(b"\xFF\xD8\xFF photo");
    // What the bridge sends: each key a JSON array of document objects; the type is the key's mapping.
    let body = json!({ "updates": [{
        "event_time": "2030-06-04T12:00:00Z",
        "stop": { "id": order.delivery_stop_id, "status": "COMPLETED", "question_answers": {
            "MPOD": [{ "embedded_document": { "content": png, "content_type": "image/png", "filename": "x.png" } }],
            "MPODPHOTOE": [
                { "embedded_document": { "content": jpeg, "content_type": "image/jpeg", "filename": "p1.jpg" } },
                { "embedded_document": { "content": jpeg, "content_type": "image/jpeg", "filename": "p2.jpg" } }
            ],
            "POD": [{ "remote_document": { "upload_id": upload_id } }],
            "signed_by": "J Smith"
        }}
    }]});
    assert_eq!(client.webhook(URL, &body).await.body["errors"], json!([]));
    let docs = client.get(&format!("/v1/orders/order/{}/documents", order.order_id), &token).await.body;
    let mut named: Vec<(String, String)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d["type"].as_str().unwrap().to_string()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("p1.jpg".to_string(), "PHOTO_OF_GOODS_DELIVERY".to_string()),
            ("p2.jpg".to_string(), "PHOTO_OF_GOODS_DELIVERY".to_string()),
            ("pod.pdf".to_string(), "PROOF_OF_DELIVERY_SIGNED".to_string()),
            ("x.png".to_string(), "CONSIGNEE_SIGNATURE".to_string()),
        ]
    );
    assert!(docs.as_array().unwrap().iter().all(|d| d["subject_type"] == "STOP"));
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    assert_eq!(
        detail["stops"][1]["answers"],
        json!([{ "key": "signed_by", "value": "J Smith", "event_time": "2030-06-04T12:00:00Z" }])
    );
    let stored = detail["documents"].as_array().unwrap();
    assert!(
        stored.iter().all(|d| d["source"] == "status-update" && d["stop_id"] == order.delivery_stop_id.to_string())
    );
    assert!(stored.iter().any(|d| d["question_path_key"] == "MPOD"));
    let again = client.webhook(URL, &body).await;
    assert!(messages(&again.body)[0].contains("no uploaded content"), "an upload_id is used once");

    // Not Qargo's format: a document object outside an array, both kinds in one object, a
    // `document_type` inside the answer (ignored and recorded: the key decides the type).
    let png_doc = json!({ "content": png, "content_type": "image/png", "filename": "s.png" });
    let update = |answers: Value| json!({ "event_time": "2030-06-04T12:05:00Z", "stop": { "id": order.delivery_stop_id, "question_answers": answers } });
    let bad = json!({ "updates": [
        update(json!({ "MPOD": { "embedded_document": png_doc } })),
        update(json!({ "MPOD": [{ "embedded_document": png_doc, "remote_document": { "upload_id": uuid::Uuid::new_v4() } }] })),
        update(json!({ "POD": [{ "embedded_document": png_doc, "document_type": "PROOF_OF_DELIVERY_SIGNED" }] }))
    ]});
    let answer = client.webhook(URL, &bad).await;
    let errors = answer.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{}", answer.body);
    assert!(errors[0]["error_message"].as_str().unwrap().contains("a JSON array"), "{}", errors[0]);
    assert!(
        errors[1]["error_message"].as_str().unwrap().contains("exactly one of remote_document or embedded_document")
    );
    let documents = sim.handle.documents();
    let last = documents.last().unwrap();
    assert_eq!((&last["name"], &last["type"]), (&json!("s.png"), &json!("PROOF_OF_DELIVERY_SIGNED")));
    let unknown: Vec<String> = sim.handle.unknown_keys().into_iter().map(|k| k.path).collect();
    assert_eq!(unknown, ["$.updates[2].stop.question_answers.POD[0].document_type"]);
}
