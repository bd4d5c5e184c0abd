//! The built status-poll binary against a stand-in of Lambda's runtime API (the real HTTP
//! protocol over a socket): its log lines are the runtime's JSON with the request id and the
//! cold-start flag on each, and its failures reach Lambda with an `error_type` that says whether a
//! retry can help. Nothing else is reachable: the store, Nexus and Qargo are closed ports.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, mpsc};

/// The invocations to hand out, and what the function answered (request id, `response`/`error`, body).
struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    answers: mpsc::UnboundedSender<(String, &'static str, Value)>,
}

async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> axum::response::Response {
    let next = api.events.lock().unwrap().pop_front();
    let Some((request_id, event)) = next else {
        // No more work: keep the function waiting, as Lambda does between invocations.
        Notify::new().notified().await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&request_id).unwrap());
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:eu-west-2:123456789012:function:status-poll"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793"));
    (headers, event.to_string()).into_response()
}

async fn answered(
    State(api): State<Arc<RuntimeApi>>,
    Path((request_id, outcome)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let outcome = if outcome == "error" { "error" } else { "response" };
    let body = serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    let _ = api.answers.send((request_id, outcome, body));
    StatusCode::ACCEPTED
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
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(VecDeque::from([
            ("req-misrouted".to_owned(), misrouted),
            ("req-schedule".to_owned(), schedule),
        ])),
        answers: answers_tx,
    });
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/{outcome}", post(answered))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A port nothing listens on: the store, Nexus and Qargo are all down.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", probe.local_addr().unwrap())
    };
    let secrets = json!({
        "nexus": {"PGD302": {"username": "pgd302.api", "password": "not-a-real-one"}},
        "qargo": {"client_id": "bridge-client", "client_secret": "not-a-real-one"},
        "qargo_webhook": {"username": "bridge-webhook", "password": "not-a-real-one"},
        "inbound": {"username": "qargo", "password": "not-a-real-one"},
    });
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_status-poll"))
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "status-poll".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
            ("AWS_REGION", "eu-west-2".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("AWS_ENDPOINT_URL", closed.clone()),
            ("BRIDGE_TABLE", "bridge".to_owned()),
            ("BRIDGE_BUCKET", "bridge".to_owned()),
            ("BRIDGE_DEPOTS", "PGD302".to_owned()),
            ("BRIDGE_SECRETS_JSON", secrets.to_string()),
            ("NEXUS_BASE_URL", format!("{closed}/v1/")),
            ("QARGO_BASE_URL", format!("{closed}/")),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the status-poll binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let lines = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            lines.push(line);
        }
        lines
    });

    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let answer = tokio::time::timeout(Duration::from_secs(60), answers.recv()).await;
        outcomes.push(answer.expect("the function answers within a minute").unwrap());
    }
    child.kill().await.unwrap();
    let lines = lines.await.unwrap();

    // Each failure reaches Lambda as an error whose type says whether a retry can mend it.
    assert_eq!(outcomes[0].0, "req-misrouted");
    assert_eq!((outcomes[0].1, outcomes[0].2["errorType"].as_str()), ("error", Some("NotRetryable.MisroutedUpdate")));
    assert!(outcomes[0].2["errorMessage"].as_str().unwrap().contains("fix the bus rule"), "{:?}", outcomes[0]);
    assert_eq!(outcomes[1].0, "req-schedule");
    assert_eq!(
        (outcomes[1].1, outcomes[1].2["errorType"].as_str()),
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
