//! The built bootstrap against a stand-in of Lambda's runtime API (the real HTTP protocol over a
//! socket), as the function its `Handler` names. Nothing else is reachable (the store, Nexus and
//! Qargo are closed ports), so only answers that need no partner are asked for:
//! - as `dispatch`, API Gateway's request reaches the library's HTTP API and its answer goes back as
//!   API Gateway's response, with the request id and the cold-start flag on the log lines;
//! - as `status-poll`, its log lines are the runtime's JSON with the request id and the cold-start
//!   flag on each, and its failures reach Lambda with an `error_type` that says whether a retry can
//!   help;
//! - with a `Handler` that names none of the five, it does not start, and says why.

use end_to_end::lambda_runtime_api::{closed_address, function_environment, run_function};
use serde_json::{Value, json};

const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_bridge-lambda");

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
        BOOTSTRAP,
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

fn bus_event(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": "2026-12-06T08:00:00Z", "region": "eu-west-2",
        "resources": [], "detail": detail,
    })
}

#[tokio::test]
async fn logs_carry_the_request_and_cold_start_and_failures_say_whether_to_retry() {
    let misrouted = bus_event("nexus-bridge.qargo-visibility", "Eta", json!({}));
    let schedule = bus_event("aws.events", "Scheduled Event", json!({}));
    let (outcomes, lines) = run_function(
        BOOTSTRAP,
        "status-poll",
        vec![("req-misrouted".to_owned(), misrouted), ("req-schedule".to_owned(), schedule)],
    )
    .await;

    // Each failure reaches Lambda as an error whose type says whether a retry can mend it.
    assert_eq!(outcomes[0].request_id, "req-misrouted");
    assert_eq!(
        (outcomes[0].outcome, outcomes[0].body["errorType"].as_str()),
        ("error", Some("NotRetryable.MisroutedUpdate"))
    );
    assert!(outcomes[0].body["errorMessage"].as_str().unwrap().contains("fix the bus rule"), "{:?}", outcomes[0]);
    assert_eq!(outcomes[1].request_id, "req-schedule");
    assert_eq!(
        (outcomes[1].outcome, outcomes[1].body["errorType"].as_str()),
        ("error", Some("Retryable.StatusSyncFailed")),
        "{:?}",
        outcomes[1]
    );

    // Every log line is JSON; those of an invocation name its request and whether it was the cold start.
    let mut seen = Vec::new();
    for line in &lines {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        if line.get("_aws").is_some() {
            seen.push(("metric".to_owned(), line["Retryable"].as_str().unwrap_or_default().to_owned(), None));
            continue;
        }
        let Some(spans) = line["spans"].as_array() else { continue };
        let field = |name: &str| spans.iter().find_map(|span| span.get(name).cloned());
        let request = field("requestId").and_then(|id| id.as_str().map(str::to_owned));
        let request = request.unwrap_or_else(|| panic!("a line of an invocation without its request id: {line}"));
        let cold_start = field("cold_start").and_then(|flag| flag.as_bool());
        assert!(cold_start.is_some(), "a line of an invocation without the cold-start flag: {line}");
        assert!(field("xrayTraceId").is_some(), "no X-Ray trace id: {line}");
        let error_type = line["fields"]["error_type"].as_str().unwrap_or_default().to_owned();
        seen.push((request, error_type, cold_start));
    }
    let failures: Vec<_> = seen.iter().filter(|(_, error_type, _)| !error_type.is_empty()).cloned().collect();
    assert_eq!(
        failures,
        [
            ("req-misrouted".to_owned(), "NotRetryable.MisroutedUpdate".to_owned(), Some(true)),
            ("metric".to_owned(), "false".to_owned(), None),
            ("req-schedule".to_owned(), "Retryable.StatusSyncFailed".to_owned(), Some(false)),
            ("metric".to_owned(), "true".to_owned(), None),
        ],
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_handler_that_names_no_function_does_not_start_and_says_why() {
    let runtime_api = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    // The handler of a single-binary template (`bootstrap`), which names none of the five.
    let output = tokio::process::Command::new(BOOTSTRAP)
        .env_clear()
        .envs(function_environment("bootstrap", runtime_api, &closed_address()))
        .output()
        .await
        .expect("the bootstrap runs");
    assert!(!output.status.success(), "it must not serve as no function: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line: Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|_| panic!("a JSON log line first: {stdout}"));
    assert_eq!(line["fields"]["error_type"], "NotRetryable.Config", "{line}");
    let error = line["fields"]["error"].as_str().unwrap_or_default();
    for needed in ["\"bootstrap\"", "dispatch", "order-poll", "status-poll", "pod-sync", "eta-export", "template.yaml"]
    {
        assert!(error.contains(needed), "the log names {needed}: {error}");
    }
}
