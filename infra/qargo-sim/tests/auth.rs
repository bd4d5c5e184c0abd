//! Token endpoint, its 5-per-hour limit, bearer tokens, the API rate limit and the separation of
//! OAuth and webhook credentials.

use std::sync::Arc;
use std::time::Duration;

use qargo_sim::{ApiLimit, Limits, ManualClock, TokenLimit};
use serde_json::json;

use crate::support::{CLIENT_ID, CLIENT_SECRET, Client, WEBHOOK_PASS, WEBHOOK_USER, options, start};

#[tokio::test]
async fn token_endpoint_issues_jwt_shaped_tokens_that_open_the_api() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let answer = client.token_call(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 3600);
    let token = answer.body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "header.payload.signature");
    let me = client.get("/me", token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["name"], CLIENT_ID);
    assert_eq!(me.body["tenant"], "nexus-bridge-demo");
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count("POST", "/v1/auth/token"), 1, "exactly one token call");
    assert_eq!(counts.count_with_auth("POST", "/v1/auth/token", "basic"), 1);
    assert_eq!(counts.count_with_auth("GET", "/me", "oauth"), 1);
}

#[tokio::test]
async fn wrong_or_missing_client_credentials_are_refused() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    assert_eq!(client.token_call(CLIENT_ID, "nope").await.status, 401);
    assert_eq!(client.token_call(WEBHOOK_USER, WEBHOOK_PASS).await.status, 401, "webhook credentials get no token");
    let bare = client.http.post(client.url("/v1/auth/token")).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 401);
}

#[tokio::test]
async fn api_routes_need_a_valid_bearer_token() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let path = format!("/v1/orders/order/{}", uuid::Uuid::new_v4());
    let none = Client::answer(client.http.get(client.url(&path)).send().await.unwrap()).await;
    assert_eq!(none.status, 401);
    assert_eq!(client.get(&path, "not-a-token").await.status, 401);
    let basic = client.http.get(client.url(&path)).basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).send().await.unwrap();
    assert_eq!(basic.status().as_u16(), 401, "Basic credentials do not open API routes");
    let token = client.token().await;
    let unknown = client.get(&path, &token).await;
    assert_eq!(unknown.status, 404, "a valid token passes auth: {}", unknown.body);
}

#[tokio::test]
async fn oauth_tokens_do_not_open_webhooks_and_webhook_credentials_do() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let body = json!({ "updates": [] });
    let with_token = client.post_json("/v1/webhook/subco-status-update", &token, &body).await;
    assert_eq!(with_token.status, 401);
    let wrong = client
        .http
        .post(client.url("/v1/webhook/subco-status-update"))
        .basic_auth(WEBHOOK_USER, Some("wrong"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let api_client_on_webhook = client
        .http
        .post(client.url("/v1/webhook/subco-status-update"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(api_client_on_webhook.status().as_u16(), 401, "API client credentials are not webhook credentials");
    let ok = client.webhook("/v1/webhook/subco-status-update", &body).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["errors"], json!([]));
}

#[tokio::test]
async fn the_token_endpoint_allows_five_calls_per_rolling_hour() {
    let clock = Arc::new(ManualClock::new());
    let mut opts = options();
    opts.limits = Limits { token: Some(TokenLimit::qargo()), api: None };
    opts.clock = clock.clone();
    let sim = start(opts).await;
    let client = Client::new(&sim);
    for i in 0..5 {
        assert_eq!(client.token_call(CLIENT_ID, CLIENT_SECRET).await.status, 200, "call {i}");
        clock.advance(Duration::from_secs(60));
    }
    let refused = client.token_call(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body, json!({ "error": "Rate limit exceeded" }));
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry, 3600 - 300, "the first call leaves the window 3600 s after it was made");
    // Tokens already issued keep working while the endpoint refuses.
    clock.advance(Duration::from_secs(retry));
    assert_eq!(client.token_call(CLIENT_ID, CLIENT_SECRET).await.status, 200, "a slot freed up");
    assert_eq!(client.token_call(CLIENT_ID, CLIENT_SECRET).await.status, 429);
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count("POST", "/v1/auth/token"), 8);
    assert_eq!(counts.count_with_status("POST", "/v1/auth/token", 429), 2);
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime_and_on_demand() {
    let clock = Arc::new(ManualClock::new());
    let mut opts = options();
    opts.token_ttl = Duration::from_secs(120);
    opts.clock = clock.clone();
    let sim = start(opts).await;
    let client = Client::new(&sim);
    let answer = client.token_call(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(answer.body["expires_in"], 120);
    let token = answer.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(client.get("/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(119));
    assert_eq!(client.get("/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(1));
    let expired = client.get("/me", &token).await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.body["detail"], "Access token expired");

    let fresh = client.token().await;
    assert_eq!(client.get("/me", &fresh).await.status, 200);
    sim.handle.expire_all_tokens();
    assert_eq!(client.get("/me", &fresh).await.status, 401, "forced expiry");
    let newest = client.token().await;
    assert_eq!(client.get("/me", &newest).await.status, 200, "tokens issued after the switch work");
}

#[tokio::test]
async fn the_api_allows_a_burst_of_three_then_two_per_second() {
    let clock = Arc::new(ManualClock::new());
    let mut opts = options();
    opts.limits = Limits { token: None, api: Some(ApiLimit::qargo()) };
    opts.clock = clock.clone();
    let sim = start(opts).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    for i in 0..3 {
        assert_eq!(client.get("/me", &token).await.status, 200, "burst {i}");
    }
    let refused = client.get("/me", &token).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.body["error"], "Rate limit exceeded");
    // Webhooks are outside the API limit.
    let webhook = client.webhook("/v1/webhook/subco-status-update", &json!({ "updates": [] })).await;
    assert_eq!(webhook.status, 200);
    clock.advance(Duration::from_millis(500));
    assert_eq!(client.get("/me", &token).await.status, 200, "one token refilled");
    assert_eq!(client.get("/me", &token).await.status, 429);
    clock.advance(Duration::from_secs(1));
    assert_eq!(client.get("/me", &token).await.status, 200);
    assert_eq!(client.get("/me", &token).await.status, 200);
    assert_eq!(client.get("/me", &token).await.status, 429);
    // The token endpoint is outside the API limit too.
    assert_eq!(client.token_call(CLIENT_ID, CLIENT_SECRET).await.status, 200);
    assert_eq!(sim.handle.request_counts().count_with_status("GET", "/me", 429), 3);
}
