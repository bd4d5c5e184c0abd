//! Login, refresh, token expiry, case-insensitive routes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Sim, error_keys, read};

#[tokio::test]
async fn login_returns_bearer_and_refresh_tokens_and_the_token_opens_the_api() {
    let sim = Sim::start().await;
    let body = sim.login("pgd302.api").await;
    let token = body["bearerToken"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "JWT-shaped: {token}");
    assert!(body["refreshToken"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["expiresIn"], 3600);
    let (status, _) = sim.get_json(token, "consignments").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn routes_and_query_keys_are_case_insensitive_and_trailing_slashes_are_forgiven() {
    let sim = Sim::start().await;
    let response = sim
        .http
        .post(sim.url("ACCOUNT/Login/"))
        .json(&json!({ "username": "PGD302.API", "password": "Sim!PGD302" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = sim.token("pgd302.api").await;
    let response = sim.get(&token, "Consignments?LIMIT=2&OffSet=1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, items) = read(response).await;
    assert_eq!(items.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn wrong_password_is_401_with_the_problem_title() {
    let sim = Sim::start().await;
    let (status, problem) = read(
        sim.send(Method::POST, None, "Account/login", Some(&json!({ "username": "pgd302.api", "password": "nope" })))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["title"], "Invalid username or password.");
    assert_eq!(problem["status"], 401);
    assert!(problem["traceId"].as_str().is_some_and(|t| t.starts_with("00-")));
}

#[tokio::test]
async fn login_without_fields_or_with_broken_json_is_400_keyed_by_field() {
    let sim = Sim::start().await;
    let (status, problem) = read(sim.send(Method::POST, None, "Account/login", Some(&json!({}))).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["Password", "Username"]);
    let response = sim
        .http
        .post(sim.url("Account/login"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let (status, problem) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["$"]);
}

#[tokio::test]
async fn login_with_a_form_body_is_415() {
    let sim = Sim::start().await;
    let response = sim
        .http
        .post(sim.url("Account/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=pgd302.api&password=Sim!PGD302")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn missing_or_invalid_tokens_are_401() {
    let sim = Sim::start().await;
    let response = sim.send(Method::GET, None, "consignments", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("www-authenticate").is_some());
    let token = sim.token("pgd302.api").await;
    let tampered = format!("{token}x");
    assert_eq!(sim.get(&tampered, "consignments").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_tokens_expire_after_sixty_simulated_minutes() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    sim.handle().advance(Duration::from_secs(59 * 60));
    assert_eq!(sim.get(&token, "consignments").await.status(), StatusCode::OK);
    sim.handle().advance(Duration::from_secs(60));
    let (status, problem) = read(sim.get(&token, "consignments").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_shorter_token_lifetime_applies_to_new_tokens() {
    let sim = Sim::start().await;
    sim.handle().set_token_lifetime(Duration::from_secs(120));
    let body = sim.login("pgd302.api").await;
    assert_eq!(body["expiresIn"], 120);
    sim.handle().advance(Duration::from_secs(121));
    let token = body["bearerToken"].as_str().unwrap();
    assert_eq!(sim.get(token, "consignments").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_gives_a_new_pair_and_the_old_refresh_token_is_spent() {
    let sim = Sim::start().await;
    let first = sim.login("ftd118.api").await;
    sim.handle().advance(Duration::from_secs(2 * 3600));
    let refresh = json!({ "refreshToken": first["refreshToken"] });
    let (status, second) = read(sim.send(Method::POST, None, "Account/refresh", Some(&refresh)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second["bearerToken"], first["bearerToken"]);
    let token = second["bearerToken"].as_str().unwrap();
    assert_eq!(sim.get(token, "consignments").await.status(), StatusCode::OK);
    let (status, _) = read(sim.send(Method::POST, None, "Account/refresh", Some(&refresh)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a refresh token works once");
}

#[tokio::test]
async fn refresh_tokens_expire_after_a_day_and_need_a_body() {
    let sim = Sim::start().await;
    let pair = sim.login("ftd118.api").await;
    let (status, problem) = read(sim.send(Method::POST, None, "Account/refresh", Some(&json!({}))).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["RefreshToken"]);
    sim.handle().advance(Duration::from_secs(24 * 3600 + 1));
    let refresh = json!({ "refreshToken": pair["refreshToken"] });
    let (status, _) = read(sim.send(Method::POST, None, "Account/refresh", Some(&refresh)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forced_expiry_sends_clients_to_refresh_and_revocation_to_login() {
    let sim = Sim::start().await;
    let pair = sim.login("pgd302.api").await;
    let token = pair["bearerToken"].as_str().unwrap();
    sim.handle().expire_all_tokens();
    assert_eq!(sim.get(token, "consignments").await.status(), StatusCode::UNAUTHORIZED);
    let (status, fresh) = read(
        sim.send(Method::POST, None, "Account/refresh", Some(&json!({ "refreshToken": pair["refreshToken"] }))).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.get(fresh["bearerToken"].as_str().unwrap(), "consignments").await.status(), StatusCode::OK);

    let (status, _) = sim.admin_post("faults", &json!({ "expireTokens": true, "revokeRefreshTokens": true })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sim.get(fresh["bearerToken"].as_str().unwrap(), "consignments").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = read(
        sim.send(Method::POST, None, "Account/refresh", Some(&json!({ "refreshToken": fresh["refreshToken"] }))).await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(sim.get(&sim.token("pgd302.api").await, "consignments").await.status(), StatusCode::OK);
}
