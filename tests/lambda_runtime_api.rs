//! A stand-in for Lambda's runtime API (the real HTTP protocol over a socket), to run a built
//! function binary as Lambda would: it hands out the queued events one at a time and reports what
//! the function answered. With [`function_environment`], the functions' own tests start their
//! bootstrap as one of the five functions with nothing else reachable.

use std::collections::VecDeque;
use std::net::SocketAddr;
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

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The invocation's request id.
    pub request_id: String,
    /// `response` or `error`.
    pub outcome: &'static str,
    /// The answer's body as JSON (a string when it is not JSON).
    pub body: Value,
}

struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    answers: mpsc::UnboundedSender<Answer>,
}

/// Starts the stand-in on loopback with `events` (request id, event) to hand out, in order; after
/// the last one the function waits, as between Lambda invocations. Answers arrive on the receiver.
pub async fn start(events: Vec<(String, Value)>) -> (SocketAddr, mpsc::UnboundedReceiver<Answer>) {
    let (answers, received) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi { events: Mutex::new(events.into()), answers });
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/{outcome}", post(answered))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}

async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> axum::response::Response {
    let next = api.events.lock().unwrap().pop_front();
    let Some((request_id, event)) = next else {
        Notify::new().notified().await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&request_id).unwrap());
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:eu-west-2:123456789012:function:under-test"),
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
    let _ = api.answers.send(Answer { request_id, outcome, body });
    StatusCode::ACCEPTED
}

/// Runs the bootstrap `binary` as Lambda would run the function whose `Handler` is `function`, with nothing else reachable
/// ([`function_environment`]), hands it `events` (request id, event) and waits up to a minute for
/// each answer; answers them with the lines the function wrote to standard output.
pub async fn run_function(binary: &str, function: &str, events: Vec<(String, Value)>) -> (Vec<Answer>, Vec<String>) {
    let expected = events.len();
    let (runtime_api, mut answers) = start(events).await;
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(function_environment(function, runtime_api, &closed_address()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("{binary} does not start: {err}"));
    let mut stdout = BufReader::new(child.stdout.take().expect("its standard output")).lines();
    let lines = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            lines.push(line);
        }
        lines
    });
    let mut received = Vec::new();
    for _ in 0..expected {
        let answer = tokio::time::timeout(Duration::from_secs(60), answers.recv()).await;
        received.push(answer.expect("the function answers within a minute").expect("the stand-in runs"));
    }
    child.kill().await.expect("the function stops");
    (received, lines.await.expect("its output was read"))
}

/// A loopback address nothing listens on: the store, Nexus and Qargo, down.
pub fn closed_address() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    format!("http://{}", probe.local_addr().expect("its address"))
}

/// A function's environment as Lambda sets it (its `Handler`, here `function`, in `_HANDLER`; JSON
/// logs at INFO), with the bridge's settings and placeholder secrets for depot PGD302, and every
/// service it could call at `closed`.
pub fn function_environment(function: &str, runtime_api: SocketAddr, closed: &str) -> Vec<(&'static str, String)> {
    let secrets = json!({
        "nexus": {"PGD302": {"username": "pgd302.api", "password": "not-a-real-one"}},
        "qargo": {"client_id": "bridge-client", "client_secret": "not-a-real-one"},
        "qargo_webhook": {"username": "bridge-webhook", "password": "not-a-real-one"},
        "inbound": {"username": "qargo", "password": "inbound-pass"},
    });
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("_HANDLER", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_REGION", "eu-west-2".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_MAX_ATTEMPTS", "1".to_owned()),
        ("AWS_ENDPOINT_URL", closed.to_owned()),
        ("BRIDGE_TABLE", "bridge".to_owned()),
        ("BRIDGE_BUCKET", "bridge".to_owned()),
        ("BRIDGE_DEPOTS", "PGD302".to_owned()),
        ("BRIDGE_SECRETS_JSON", secrets.to_string()),
        ("NEXUS_BASE_URL", format!("{closed}/v1/")),
        ("QARGO_BASE_URL", format!("{closed}/")),
        ("VISIBILITY_BUS", "bridge-visibility".to_owned()),
    ]
}
