//! The built dispatch binary against a stand-in of Lambda's runtime API: API Gateway's request
//! reaches the library's HTTP API and its answer goes back as API Gateway's response, with the
//! request id and the cold-start flag on the log lines. Nothing else is reachable, so only answers
//! that need no partner are asked for.

use end_to_end::lambda_runtime_api::run_function;
use serde_json::{Value, json};

/// An API Gateway HTTP API (payload 2.0) event for `POST path`.
fn api_gateway_event(path: &str, authorization: Option<&str>, body: &str) -> Value {
    let mut headers = json!({"content-type": "application/json", "host": "bridge.example"});
    if let Some(authorization) = authorization {
        headers["authorization"] = json!(authorization);
    }
    json!({
        "version": "2.0", "routeKey": format!("POST {path}"), "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "bridge.example", "domainPrefix": "bridge",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "qargo"},
            "requestId": "gw-1", "routeKey": format!("POST {path}"), "stage": "$default",
            "time": "06/Dec/2026:08:00:00 +0000", "timeEpoch": 1_796_544_000_000u64
        },
        "body": body, "isBase64Encoded": false
    })
}

#[tokio::test]
async fn api_gateway_requests_reach_the_http_api_and_its_answers_come_back() {
    // "qargo:inbound-pass", the inbound credentials of the test secrets.
    let authorized = "Basic cWFyZ286aW5ib3VuZC1wYXNz";
    let (outcomes, lines) = run_function(
        env!("CARGO_BIN_EXE_dispatch"),
        "dispatch",
        vec![
            ("req-unauthorized".to_owned(), api_gateway_event("/qargo/dispatch", None, "{}")),
            ("req-not-json".to_owned(), api_gateway_event("/qargo/dispatch", Some(authorized), "not json")),
        ],
    )
    .await;

    let unauthorized = &outcomes[0];
    assert_eq!((unauthorized.request_id.as_str(), unauthorized.outcome), ("req-unauthorized", "response"));
    assert_eq!(unauthorized.body["statusCode"], 401, "{unauthorized:?}");
    assert_eq!(unauthorized.body["headers"]["content-type"], "application/json");
    let not_json = &outcomes[1];
    assert_eq!(not_json.body["statusCode"], 400, "{not_json:?}");
    let answer: Value = serde_json::from_str(not_json.body["body"].as_str().unwrap()).unwrap();
    assert!(answer.to_string().contains("JSON"), "the refusal says what is wrong: {answer}");

    let mut cold_starts = Vec::new();
    for line in &lines {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        let Some(spans) = line["spans"].as_array() else { continue };
        let field = |name: &str| spans.iter().find_map(|span| span.get(name).cloned());
        let request = field("requestId").unwrap_or_else(|| panic!("no request id: {line}"));
        let cold_start = field("cold_start").unwrap_or_else(|| panic!("no cold-start flag: {line}"));
        cold_starts.push((request.as_str().unwrap().to_owned(), cold_start.as_bool().unwrap()));
    }
    cold_starts.dedup();
    assert_eq!(cold_starts, [("req-unauthorized".to_owned(), true), ("req-not-json".to_owned(), false)], "{lines:#?}");
}
