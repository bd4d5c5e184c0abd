//! Shared helpers: a simulator with test-friendly options, an HTTP client that knows the default
//! tenant's credentials, sample orders, and a fake bridge that records what it is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use qargo_sim::{Limits, QargoSim, RunningSim, SimOptions};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "bridge-client";
pub const CLIENT_SECRET: &str = "bridge-secret";
pub const WEBHOOK_USER: &str = "bridge-webhook";
pub const WEBHOOK_PASS: &str = "webhook-pass";

/// The default tenant without rate limits (tests that check limits set their own).
pub fn options() -> SimOptions {
    SimOptions { limits: Limits::off(), ..SimOptions::default() }
}

pub async fn start(options: SimOptions) -> RunningSim {
    QargoSim::start(options).await.expect("simulator starts")
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// A plain HTTP client for one simulator.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(sim: &RunningSim) -> Client {
        Client { http: qargo_sim::http_client_builder().build().unwrap(), base: sim.base_url() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    pub async fn token_call(&self, user: &str, password: &str) -> Answer {
        let response = self
            .http
            .post(self.url("/v1/auth/token"))
            .basic_auth(user, Some(password))
            .header("content-type", "application/json")
            .send()
            .await
            .expect("token call");
        Client::answer(response).await
    }

    pub async fn token(&self) -> String {
        let answer = self.token_call(CLIENT_ID, CLIENT_SECRET).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body["access_token"].as_str().expect("access_token").to_string()
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let response = self.http.get(self.url(path)).bearer_auth(token).send().await.expect("GET");
        Client::answer(response).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Answer {
        let response = self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("POST");
        Client::answer(response).await
    }

    pub async fn post_raw(&self, path: &str, token: &str, content_type: &str, body: &'static str) -> Answer {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST");
        Client::answer(response).await
    }

    pub async fn webhook(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(self.url(path))
            .basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASS))
            .json(body)
            .send()
            .await
            .expect("webhook");
        Client::answer(response).await
    }

    pub async fn sim_get(&self, path: &str) -> Answer {
        Client::answer(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn sim_post(&self, path: &str, body: &Value) -> Answer {
        Client::answer(self.http.post(self.url(path)).json(body).send().await.expect("POST")).await
    }

    /// Uploads an order and polls until the upload is final; returns the final `OrderImport`.
    pub async fn import(&self, token: &str, order: &Value) -> Value {
        let answer = self.post_json("/v1/orders/order/upload", token, order).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let upload_url = answer.body["upload_url"].as_str().expect("upload_url").to_string();
        for _ in 0..10 {
            let poll = self.get(&upload_url, token).await;
            assert_eq!(poll.status, 200, "{}", poll.body);
            let status = poll.body["upload_status"].as_str().unwrap_or_default().to_string();
            if ["COMPLETED", "ERROR", "SKIPPED", "DUPLICATE"].contains(&status.as_str()) {
                return poll.body;
            }
        }
        panic!("upload never finished");
    }
}

/// A realistic PALL-EX order input for customer `customer_code`.
pub fn order_input(identifier: &str, customer_code: &str, reference: &str, barcodes: &[&str]) -> Value {
    let units: Vec<Value> = barcodes.iter().map(|b| json!({ "barcode": { "value": b, "source": "PALLEX" } })).collect();
    json!({
        "operation": "CREATE",
        "order_identifier": identifier,
        "customer": { "code": customer_code },
        "customer_reference_number": reference,
        "service_level": { "code": "A", "name": "Premium" },
        "transport_service": { "code": "PALLETS" },
        "contact_emails": ["ops@acme.example"],
        "custom_fields": { "NexusOrigin": "PALLEX:900001" },
        "consignments": [{
            "consignment_reference_number": format!("{reference}-C1"),
            "transport_network": {
                "requesting_depot_code": "UKD101",
                "collection_depot_code": "UKD101",
                "delivery_depot_code": "PGD302"
            },
            "custom_fields": { "AmazonCartonCount": "12" },
            "pickup_stop": {
                "location": {
                    "name": "Acme Warehouse", "address": "1 Pride Park", "postal_code": "DE24 8UP",
                    "city": "Derby", "country": "GB", "latitude": 52.91, "longitude": -1.45
                },
                "date": "2030-06-03",
                "time_window": { "code": "AM", "start_time": "08:00", "end_time": "12:00" },
                "reference_number": format!("{reference}-P"),
                "phone_number": "+441332000000"
            },
            "delivery_stop": {
                "location": {
                    "name": "Glasgow Retail Park", "address": "2 Argyle St", "postal_code": "G2 1DY",
                    "city": "Glasgow", "country": "GB"
                },
                "date": "2030-06-04",
                "time_window": { "code": "TD", "start_time": "09:00", "end_time": "13:00" },
                "reference_number": format!("{reference}-D"),
                "extras": [{ "code": "TL", "name": "Tail-lift" }],
                "email": "goods-in@retail.example",
                "phone_number": "+441410000000"
            },
            "goods": [{
                "description": "Garden furniture",
                "quantity": barcodes.len().max(1),
                "packaging_type": { "code": "F", "name": "Full pallet" },
                "unit_length_m": 1.2, "unit_width_m": 1.0, "unit_height_m": 1.5,
                "unit_weight_kg": 400.0, "total_weight_kg": 400.0 * barcodes.len().max(1) as f64,
                "handling_units": units
            }]
        }]
    })
}

/// What the fake bridge received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
struct BridgeState {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<(u16, Value)>>,
    delay: Arc<Mutex<Duration>>,
}

/// A stand-in for the bridge's `/qargo/dispatch` and `/qargo/visibility`.
pub struct FakeBridge {
    pub url: String,
    state: BridgeState,
    _task: tokio::task::JoinHandle<()>,
}

async fn record(State(state): State<BridgeState>, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    state.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let (status, answer) = state.answer.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
}

impl FakeBridge {
    pub async fn start() -> FakeBridge {
        let state = BridgeState {
            received: Arc::new(Mutex::new(Vec::new())),
            answer: Arc::new(Mutex::new((200, json!({ "errors": [] })))),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
        };
        let app = Router::new().fallback(record).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeBridge { url, state, _task: task }
    }

    pub fn answer_with(&self, status: u16, body: Value) {
        *self.state.answer.lock().unwrap() = (status, body);
    }

    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

/// Options sending outbound webhooks to `bridge`.
pub fn options_with_bridge(bridge: &FakeBridge) -> SimOptions {
    let mut options = options();
    options.outbound.bridge_url = Some(bridge.url.clone());
    options
}
