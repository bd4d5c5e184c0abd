//! Fault switches (library and `/_sim/faults`) and request counts.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Sim, booking, id_of, read};

#[tokio::test]
async fn an_outage_answers_503_until_switched_off_but_never_on_the_admin_api() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    sim.handle().set_outage(true);
    let response = sim.get(&token, "consignments").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    let (_, problem) = read(response).await;
    assert_eq!(problem["status"], 503);
    let (status, _) = sim.admin_get("clock").await;
    assert_eq!(status, StatusCode::OK, "/_sim is never faulted");
    sim.handle().set_outage(false);
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_outage_for_the_next_requests_through_the_admin_api() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (status, faults) = sim.admin_post("faults", &json!({ "outage": 2 })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["outage"], 2);
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::OK);
    let (_, faults) = sim.admin_get("faults").await;
    assert_eq!(faults["outage"], false);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_principal() {
    let sim = Sim::start().await;
    let pgd302 = sim.token("pgd302.api").await;
    let ukd101 = sim.token("ukd101.api").await;
    let (status, _) = sim.admin_post("faults", &json!({ "rateLimitPerMinute": 3 })).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(sim.get(&pgd302, "consignments").await.status(), StatusCode::OK);
    }
    let response = sim.get(&pgd302, "consignments").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(sim.get(&ukd101, "consignments").await.status(), StatusCode::OK, "another user has its own allowance");
    let counts = sim.handle().request_counts();
    let limited =
        counts.routes.iter().find(|r| r.principal == "pgd302.api" && r.route == "GET /v1/consignments").unwrap();
    assert_eq!(limited.statuses.get(&429), Some(&1));
    assert_eq!(limited.count, 4);
}

#[tokio::test]
async fn the_default_rate_limit_is_one_hundred_a_minute() {
    let sim = Sim::start().await;
    assert_eq!(sim.handle().faults_now().rate_limit_per_minute, 100);
    let token = sim.token("pgd302.api").await;
    let mut statuses = Vec::new();
    for _ in 0..101 {
        statuses.push(sim.get(&token, "currencyTypes").await.status());
    }
    assert!(statuses[..100].iter().all(|s| *s == StatusCode::OK));
    assert_eq!(statuses[100], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn truncated_bodies_are_cut_mid_json_with_a_matching_content_length() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let whole = sim.get(&token, "consignments?limit=5").await.text().await.unwrap();
    sim.handle().set_truncate_bodies(true);
    let response = sim.get(&token, "consignments?limit=5").await;
    assert_eq!(response.status(), StatusCode::OK);
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let text = response.text().await.unwrap();
    assert_eq!(text.len(), length);
    assert_eq!(text, whole[..whole.len() / 2]);
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    sim.handle().set_truncate_bodies(false);
    assert_eq!(sim.get(&token, "consignments?limit=5").await.text().await.unwrap(), whole);
}

#[tokio::test]
async fn malformed_bodies_are_html_with_status_200() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (status, _) = sim.admin_post("faults", &json!({ "malformedBodies": true })).await;
    assert_eq!(status, StatusCode::OK);
    let response = sim.send(reqwest::Method::POST, Some(&token), "Consignments", Some(&booking())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).is_err());
    sim.handle().set_malformed_bodies(false);
    let (status, _) = sim.admin_post("faults", &json!({ "malformedBodies": false, "truncateBodies": 1 })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        serde_json::from_str::<serde_json::Value>(&sim.get(&token, "countries").await.text().await.unwrap()).is_err()
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&sim.get(&token, "countries").await.text().await.unwrap()).is_ok()
    );
}

#[tokio::test]
async fn latency_is_injected_and_accounted_for_without_timing_anything() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    sim.handle().reset_request_counts();
    sim.handle().set_latency(Duration::from_millis(20), Duration::from_millis(10));
    for _ in 0..3 {
        assert_eq!(sim.get(&token, "countries").await.status(), StatusCode::OK);
    }
    let counts = sim.handle().request_counts();
    let route = counts.routes.iter().find(|r| r.route == "GET /v1/countries").unwrap();
    assert_eq!(route.count, 3);
    assert!((60..=90).contains(&route.injected_delay_ms), "{}", route.injected_delay_ms);
    let (_, faults) = sim.admin_post("faults", &json!({ "latencyMs": 0, "jitterMs": 0 })).await;
    assert_eq!((faults["latencyMs"].as_u64(), faults["jitterMs"].as_u64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn slow_labels_still_arrive_and_are_accounted_for() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let token = sim.token("pgd302.api").await;
    let (_, faults) = sim.admin_post("faults", &json!({ "labelDelayMs": 50 })).await;
    assert_eq!(faults["labelDelayMs"], 50);
    let response = sim.get(&token, &format!("consignments/{id}/labels")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));
    let counts = sim.handle().request_counts();
    let labels = counts.routes.iter().find(|r| r.route == "GET /v1/consignments/{id}/labels").unwrap();
    assert_eq!(labels.injected_delay_ms, 50);
}

#[tokio::test]
async fn expired_tokens_and_a_short_lifetime_through_the_admin_api() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, faults) = sim.admin_post("faults", &json!({ "tokenLifetimeSeconds": 300, "expireTokens": true })).await;
    assert_eq!(faults["tokenLifetimeSeconds"], 300);
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sim.login("pgd302.api").await["expiresIn"], 300);
    let (status, problem) = sim.admin_post("faults", &json!({ "outage": "maybe" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

#[tokio::test]
async fn request_counts_per_route_and_principal_can_be_read_and_reset() {
    let sim = Sim::start().await;
    let pgd302 = sim.token("pgd302.api").await;
    let ukd101 = sim.token("ukd101.api").await;
    sim.get(&pgd302, "consignments").await;
    sim.get(&pgd302, "Consignments?limit=2").await;
    sim.get(&ukd101, "consignments/10001").await;
    let (status, counts) = sim.admin_get("requests").await;
    assert_eq!(status, StatusCode::OK);
    let routes = counts["routes"].as_array().unwrap();
    let count = |route: &str, principal: &str| {
        routes
            .iter()
            .find(|r| r["route"] == route && r["principal"] == principal)
            .map_or(0, |r| r["count"].as_u64().unwrap())
    };
    assert_eq!(count("GET /v1/consignments", "pgd302.api"), 2);
    assert_eq!(count("GET /v1/consignments/{id}", "ukd101.api"), 1);
    assert_eq!(count("POST /v1/account/login", "anonymous"), 2);
    assert_eq!(counts["total"], 5);
    let (_, reset) = sim.admin_post("requests/reset", &json!({})).await;
    assert_eq!(reset["total"], 0);
    assert_eq!(sim.handle().request_counts().total, 0);
    sim.get(&pgd302, "consignments").await;
    assert_eq!(sim.handle().request_counts().for_principal("pgd302.api"), 1);
    assert_eq!(sim.handle().request_counts().for_route("GET /v1/consignments"), 1);
}
