//! A reverse proxy in front of a Qargo simulator that notes, for every status-update call, the
//! barcodes of the scans it carried, how many updates, and when Qargo's answer came back: what a
//! benchmark needs to time scans to Qargo when one call carries several updates and several calls
//! run at once (the simulator's own logs cannot be paired then).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;

/// The status-update webhook's route.
pub const STATUS_ROUTE: &str = "/v1/webhook/subco-status-update";

/// A reverse proxy in front of a Qargo simulator that notes, for every status-update call, the
/// barcodes of the scans it carried, how many updates, and when Qargo's answer came back.
pub struct StatusProxy {
    base_url: String,
    state: Arc<ProxyState>,
}

struct ProxyState {
    origin: String,
    http: reqwest::Client,
    calls: Mutex<Vec<Call>>,
}

/// One status-update call seen by the proxy.
#[derive(Clone)]
pub struct Call {
    /// When Qargo's answer came back.
    pub answered: Instant,
    /// The barcodes of the scans the call carried.
    pub barcodes: Vec<String>,
    /// How many updates it carried.
    pub updates: usize,
}

impl StatusProxy {
    /// Starts a proxy in front of the Qargo simulator at `upstream` (its base URL).
    pub async fn start(upstream: &str) -> Result<StatusProxy, String> {
        let url = reqwest::Url::parse(upstream).map_err(|e| e.to_string())?;
        let origin = format!("{}://{}", url.scheme(), url.authority());
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let address: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        let state = Arc::new(ProxyState {
            origin,
            http: bridge::http::client_builder().build().expect("an HTTP client builds"),
            calls: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(forward).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StatusProxy { base_url: format!("http://{address}{}", url.path()), state })
    }

    /// The base URL to give the bridge instead of the simulator's.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// How many status-update calls it has seen.
    pub fn calls_made(&self) -> usize {
        self.state.calls.lock().map(|calls| calls.len()).unwrap_or(0)
    }

    /// The status-update calls after the first `from`.
    pub fn calls_since(&self, from: usize) -> Vec<Call> {
        self.state.calls.lock().map(|calls| calls.iter().skip(from).cloned().collect()).unwrap_or_default()
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status_update = method == Method::POST && uri.path().ends_with(STATUS_ROUTE);
    let (barcodes, updates) = if status_update { carried(&body) } else { (Vec::new(), 0) };
    let answer = match bridge_local::relay::relay(&state.http, &state.origin, method, &uri, &headers, body).await {
        Ok(answer) => answer,
        Err(err) => return bridge_local::relay::bad_gateway(err),
    };
    if status_update && let Ok(mut calls) = state.calls.lock() {
        calls.push(Call { answered: Instant::now(), barcodes, updates });
    }
    answer.into_response()
}

/// The barcodes of the scans a `subco-status-update` body carries, and how many updates it has.
fn carried(body: &[u8]) -> (Vec<String>, usize) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else { return (Vec::new(), 0) };
    let updates = body["updates"].as_array().cloned().unwrap_or_default();
    let barcodes = updates
        .iter()
        .filter_map(|update| update["stop"]["question_answers"]["scan_barcode"].as_array())
        .flatten()
        .filter_map(|scan| scan["barcode"].as_str().map(str::to_owned))
        .collect();
    (barcodes, updates.len())
}
