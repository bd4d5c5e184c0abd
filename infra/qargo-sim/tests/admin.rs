//! The `/_sim/` routes: scenario API over HTTP, request counters, faults, seeds.

use std::time::Duration;

use qargo_sim::{QargoSim, Seed, SimOptions};
use serde_json::json;

use crate::support::{Client, FakeBridge, options, options_with_bridge, order_input, start};

#[tokio::test]
async fn the_default_tenant_is_seeded_with_its_customers() {
    let sim = start(SimOptions::default()).await;
    let client = Client::new(&sim);
    assert_eq!(client.sim_get("/_sim/health").await.body["status"], "ok");
    let customers = client.sim_get("/_sim/customers").await.body;
    let by_code = |code: &str| customers.as_array().unwrap().iter().find(|c| c["code"] == code).unwrap().clone();
    assert_eq!(by_code("ACME")["custom_fields"], json!({ "PallexID": "64086", "FortecID": "71002" }));
    assert_eq!(by_code("BOLT")["custom_fields"], json!({ "PallexID": "64087" }));
    assert_eq!(by_code("DUNE")["custom_fields"], json!({ "FortecID": "71004" }));
    assert_eq!(by_code("CEDAR")["custom_fields"], json!({}));
    // Seeded ids are stable from run to run.
    let again = start(SimOptions::default()).await;
    assert_eq!(again.handle.customers()[0]["id"], customers[0]["id"]);
}

#[tokio::test]
async fn a_whole_scenario_runs_over_http() {
    let bridge = FakeBridge::start().await;
    let sim = start(options_with_bridge(&bridge)).await;
    let client = Client::new(&sim);
    let customer = client
        .sim_post(
            "/_sim/customers",
            &json!({ "name": "Elm Builders", "code": "ELM", "additional_fields": { "FortecID": "71009" } }),
        )
        .await;
    assert_eq!(customer.status, 201, "{}", customer.body);
    assert_eq!(customer.body["custom_fields"]["FortecID"], "71009");
    assert_eq!(client.sim_post("/_sim/customers", &json!({ "name": "Elm Builders" })).await.status, 409);

    let mut order = order_input("SCN-1", "ELM", "ELM-1", &["FT1"]);
    order["trip"] = json!({ "resource_code": "FORTEC_OUT", "name": "TR-DEMO" });
    let created = client.sim_post("/_sim/orders", &order).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["trip"]["trip_name"], "TR-DEMO");
    assert_eq!(created.body["consignments"][0]["barcodes"], json!(["FT1"]));
    let trip_id = created.body["trip"]["trip_id"].as_str().unwrap().to_string();
    let stop_id = created.body["delivery_stop_id"].as_str().unwrap().to_string();

    let record = client.sim_post(&format!("/_sim/trips/{trip_id}/dispatch"), &json!({})).await;
    assert_eq!(record.status, 200);
    assert_eq!(record.body["accepted"], true);
    assert_eq!(record.body["label"], "CREATE");
    assert_eq!(bridge.received()[0].body["payload"]["orders"][0]["customer"]["custom_fields"]["FortecID"], "71009");

    let empty_body = client.http.post(client.url(&format!("/_sim/stops/{stop_id}/arrive"))).send().await.unwrap();
    assert_eq!(empty_body.status().as_u16(), 200, "an empty body is {{}}");
    let done =
        client.sim_post(&format!("/_sim/stops/{stop_id}/complete"), &json!({ "at": "2030-06-04T12:00:00Z" })).await;
    assert_eq!(done.body["outbound"][0]["label"], "Stop");
    let signature = client.sim_post(&format!("/_sim/stops/{stop_id}/signature"), &json!({ "name": "A. Jones" })).await;
    assert!(signature.body["document_id"].is_string(), "{}", signature.body);
    let photo = client.sim_post(&format!("/_sim/stops/{stop_id}/photo"), &json!({})).await;
    assert_eq!(photo.status, 200);
    let pod = client
        .sim_post(
            &format!("/_sim/stops/{stop_id}/document"),
            &json!({ "document_type": "PROOF_OF_DELIVERY_SIGNED", "content_base64": "JVBERi0xLjQ=", "content_type": "application/pdf" }),
        )
        .await;
    assert_eq!(pod.status, 200, "{}", pod.body);
    let eta = client.sim_post(&format!("/_sim/trips/{trip_id}/eta"), &json!({ "shift_minutes": 10 })).await;
    assert_eq!(eta.status, 200);
    assert_eq!(eta.body["outbound"].as_array().unwrap().len(), 1, "the pickup was not started, so it moved");

    let labels: Vec<String> = client
        .sim_get("/_sim/outbound")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["CREATE", "Stop", "Stop", "Document", "Document", "Document", "Eta"]);

    let orders = client.sim_get("/_sim/orders").await.body;
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["trip"]["dispatch_state"], "DISPATCHED");
    let order_id = orders[0]["id"].as_str().unwrap();
    let detail = client.sim_get(&format!("/_sim/orders/{order_id}")).await.body;
    assert_eq!(detail["status"], "IN_TRANSIT");
    let docs = detail["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 3);
    assert!(docs.iter().all(|d| d["sha256"].as_str().unwrap().len() == 64));
    let pdf = docs.iter().find(|d| d["type"] == "PROOF_OF_DELIVERY_SIGNED").unwrap();
    let content = client
        .http
        .get(client.url(&format!("/_sim/documents/{}/content", pdf["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), b"%PDF-1.4");
    let history = detail["stops"][1]["history"].as_array().unwrap();
    let statuses: Vec<&str> = history.iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(statuses, ["PLANNED", "DISPATCHED", "AT_STOP", "COMPLETED"]);

    assert_eq!(client.sim_get(&format!("/_sim/orders/{}", uuid::Uuid::new_v4())).await.status, 404);
    let invalid = client.sim_post("/_sim/orders", &json!({ "customer": { "code": "ELM" }, "consignments": [] })).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["errors"][0]["path"], "$.consignments");
}

#[tokio::test]
async fn request_counts_can_be_read_and_reset_over_http() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    client.get("/me", &token).await;
    client.get("/me", &token).await;
    client.get(&format!("/v1/orders/order/{}", uuid::Uuid::new_v4()), &token).await;
    let counts = client.sim_get("/_sim/requests").await.body;
    assert_eq!(counts["total"], 4, "{counts}");
    let routes = counts["routes"].as_array().unwrap();
    let order = routes.iter().find(|r| r["route"] == "/v1/orders/order/{order_id}").unwrap();
    assert_eq!(order["method"], "GET");
    assert_eq!(order["by_status"]["404"], 1);
    assert_eq!(order["by_auth"]["oauth"], 1);
    assert_eq!(client.sim_post("/_sim/requests/reset", &json!({})).await.body["total"], 0);
    assert_eq!(sim.handle.request_counts().total, 0);
}

#[tokio::test]
async fn the_request_log_keeps_each_request_in_order_with_its_time() {
    let mut limited = options();
    limited.limits = qargo_sim::Limits::qargo();
    let sim = start(limited).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    sim.handle.set_faults(qargo_sim::Faults { latency_ms: 20, ..qargo_sim::Faults::default() });
    for _ in 0..4 {
        client.get("/me", &token).await;
    }
    client.sim_get("/_sim/requests").await;
    let log = sim.handle.request_log();
    let lines: Vec<(&str, &str, &str, u16)> =
        log.iter().map(|r| (r.method.as_str(), r.route.as_str(), r.auth.as_str(), r.status)).collect();
    assert_eq!(
        lines,
        [
            ("POST", "/v1/auth/token", "basic", 200),
            ("GET", "/me", "oauth", 200),
            ("GET", "/me", "oauth", 200),
            ("GET", "/me", "oauth", 200),
            ("GET", "/me", "oauth", 429),
        ],
        "the burst of 3 then a refusal; /_sim/ reads are not logged"
    );
    assert!(log.windows(2).all(|pair| pair[0].arrived <= pair[1].arrived), "in arrival order");
    assert!(log[1..].iter().all(|r| r.took >= Duration::from_millis(20)), "took includes the injected latency");
    assert_eq!(log.len() as u64, sim.handle.request_counts().total);
    sim.handle.reset_request_counts();
    assert!(sim.handle.request_log().is_empty(), "reset empties the log with the counts");
}

#[tokio::test]
async fn faults_switch_outages_latency_and_token_expiry() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let outage = client.sim_post("/_sim/faults", &json!({ "outage": true })).await;
    assert_eq!(outage.body["faults"]["outage"], true);
    let down = client.get("/me", &token).await;
    assert_eq!(down.status, 503);
    assert!(down.headers.contains_key("retry-after"));
    assert_eq!(client.token_call("bridge-client", "bridge-secret").await.status, 503);
    assert_eq!(client.webhook("/v1/webhook/subco-status-update", &json!({ "updates": [] })).await.status, 503);
    assert_eq!(sim.handle.request_counts().count_with_status("GET", "/me", 503), 1, "outages are counted");
    client.sim_post("/_sim/faults", &json!({})).await;
    assert_eq!(client.get("/me", &token).await.status, 200);

    client.sim_post("/_sim/faults", &json!({ "expire_tokens": true, "token_ttl_seconds": 60, "latency_ms": 1 })).await;
    assert_eq!(client.get("/me", &token).await.status, 401);
    let fresh = client.token_call("bridge-client", "bridge-secret").await;
    assert_eq!(fresh.body["expires_in"], 60);
    let state = client.sim_get("/_sim/faults").await.body;
    assert_eq!(state["faults"]["latency_ms"], 1);
    assert_eq!(state["token_ttl_seconds"], 60);
}

#[tokio::test]
async fn a_seed_file_adds_customers_and_orders() {
    let path = std::env::temp_dir().join(format!("qargo-sim-seed-{}.json", uuid::Uuid::new_v4()));
    let mut order = order_input("SEED-1", "FIG", "FIG-1", &["PXS1"]);
    order["trip"] = json!({ "resource_code": "PALLEX_OUT" });
    let seed = json!({
        "customers": [{ "name": "Fig Fabrics", "code": "FIG", "additional_fields": { "PallexID": "64099" } }],
        "orders": [order]
    });
    std::fs::write(&path, seed.to_string()).unwrap();
    let loaded = Seed::from_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.customers.len(), 5, "the default four plus one");
    let sim = QargoSim::start(SimOptions { seed: loaded, ..options() }).await.unwrap();
    let orders = sim.handle.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["trip"]["resource_code"], "PALLEX_OUT");
    assert_eq!(sim.handle.order_by_identifier("SEED-1").unwrap()["barcodes"], json!({ "PXS1": [] }));

    let bad = SimOptions {
        seed: Seed {
            customers: vec![],
            orders: vec![serde_json::from_value(order_input("X", "NOBODY", "R", &[])).unwrap()],
        },
        ..options()
    };
    let error = QargoSim::start(bad).await.unwrap_err();
    assert!(error.to_string().contains("seed order 0"), "{error}");
    assert!(Seed::from_file(std::path::Path::new("/nonexistent/seed.json")).is_err());
}

#[tokio::test]
async fn a_stopped_simulator_frees_its_port() {
    let sim = start(options()).await;
    let addr = sim.addr();
    sim.stop().await;
    let result = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await;
    assert!(!matches!(result, Ok(Ok(_))), "nothing answers on {addr} any more");
}
