//! `PUT /v1/consignments/{id}/eta` (Optimize).

use nexus_sim::{OPTIMIZE_KEY_HEADER, Stage};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, booking, error_keys, id_of, read};

async fn put_eta(sim: &Sim, user: &str, key: Option<&str>, id: u64, body: &Value) -> (StatusCode, Value) {
    let token = sim.token(user).await;
    let mut request = sim.http.put(sim.url(&format!("consignments/{id}/eta"))).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header(OPTIMIZE_KEY_HEADER, key);
    }
    read(request.send().await.unwrap()).await
}

fn eta() -> Value {
    json!({ "estimatedDelDate": "2026-06-18", "estimatedDelTime": "10:30", "startWindow": "09:00", "endWindow": "12:00", "source": "OPTIMIZE" })
}

#[tokio::test]
async fn the_delivery_depot_pushes_an_eta_with_the_optimize_key() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let key = sim.handle().optimize_key();
    assert_eq!(key, "sim-optimize-key-0001", "the documented default key");
    let (status, c) = put_eta(&sim, "ukd101.api", Some(&key), id, &eta()).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["estimatedDelDate"], "2026-06-18");
    assert_eq!(c["estimatedDelTime"], "10:30");
    assert_eq!(c["startWindow"], "09:00");
    assert_eq!(c["endWindow"], "12:00");
    let (_, events) = sim.get_json(&sim.token("pgd302.api").await, &format!("consignments/{id}/events")).await;
    let eta_event = events.as_array().unwrap().iter().find(|e| e["code"] == "ETA").expect("an ETA event");
    assert_eq!(eta_event["source"], "OPTIMIZE");
    assert_eq!(eta_event["depotCode"], "UKD101");
    assert!(eta_event["barcode"].is_null());

    // The driver keeps to the ETA: the van arrives at 10:30.
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    sim.handle().set_now("2026-06-18T18:00:00".parse().unwrap()).unwrap();
    let c = sim.admin_consignment(id).await;
    let arrival = c["events"].as_array().unwrap().iter().find(|e| e["code"] == "ARRI").unwrap();
    assert_eq!(arrival["eventDateTime"], "2026-06-18T10:30:00");
}

#[tokio::test]
async fn a_missing_key_is_401_and_a_wrong_key_403() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let (status, _) = put_eta(&sim, "ukd101.api", None, id, &eta()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = put_eta(&sim, "ukd101.api", Some("guess"), id, &eta()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_the_delivery_depot_sends_etas() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let key = sim.handle().optimize_key();
    let (status, _) = put_eta(&sim, "pgd302.api", Some(&key), id, &eta()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put_eta(&sim, "ftd118.api", Some(&key), id, &eta()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_eta_fields_are_400() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let key = sim.handle().optimize_key();
    for (body, key_name) in [
        (json!({ "estimatedDelDate": "2026-06-18", "estimatedDelTime": "10.30" }), "EstimatedDelTime"),
        (json!({ "estimatedDelDate": "2026-06-01" }), "EstimatedDelDate"),
        (json!({ "startWindow": "09:00" }), "EstimatedDelDate"),
        (json!({ "estimatedDelDate": "2026-06-18", "startWindow": "12:00", "endWindow": "09:00" }), "EndWindow"),
    ] {
        let (status, problem) = put_eta(&sim, "ukd101.api", Some(&key), id, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(error_keys(&problem).contains(&key_name.to_owned()), "{body}: {problem}");
    }
}

#[tokio::test]
async fn an_eta_after_delivery_is_409() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    sim.handle().step(id, Stage::Delivered).unwrap();
    let (status, problem) = put_eta(&sim, "ukd101.api", Some(&sim.handle().optimize_key()), id, &eta()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}
