//! The built status-poll binary against a stand-in of Lambda's runtime API (the real HTTP
//! protocol over a socket): its log lines are the runtime's JSON with the request id and the
//! cold-start flag on each, and its failures reach Lambda with an `error_type` that says whether a
//! retry can help. Nothing else is reachable: the store, Nexus and Qargo are closed ports.

use end_to_end::lambda_runtime_api::run_function;
use serde_json::{Value, json};

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
        env!("CARGO_BIN_EXE_status-poll"),
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
