//! A simulator per test, on a free loopback port, and an HTTP client that talks to it for real.

use nexus_sim::{NexusSim, RunningSim, SimHandle, SimOptions};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub struct Sim {
    pub running: RunningSim,
    pub http: reqwest::Client,
}

/// The default world's password of each user (see the README).
pub fn password_for(username: &str) -> String {
    match username {
        "timber.pallex" => "Sim!64086".to_owned(),
        "timber.fortec" => "Sim!71520".to_owned(),
        "thameskitchens" => "Sim!52011".to_owned(),
        "derbydrinks" => "Sim!83007".to_owned(),
        depot_user => format!("Sim!{}", depot_user.trim_end_matches(".api").to_ascii_uppercase()),
    }
}

impl Sim {
    pub async fn start() -> Sim {
        Sim::start_with(SimOptions::default()).await
    }

    pub async fn start_with(options: SimOptions) -> Sim {
        let running = NexusSim::start(options).await.expect("the simulator starts");
        let http = http_client();
        Sim { running, http }
    }

    pub fn handle(&self) -> &SimHandle {
        self.running.handle()
    }

    /// `path` relative to `/v1/`, query string included.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path.trim_start_matches('/'))
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{}", self.running.admin_url(), path.trim_start_matches('/'))
    }

    pub async fn login(&self, username: &str) -> Value {
        let response = self
            .http
            .post(self.url("Account/login"))
            .json(&json!({ "username": username, "password": password_for(username) }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        response.json().await.unwrap()
    }

    /// A fresh bearer token for a default-world user.
    pub async fn token(&self, username: &str) -> String {
        self.login(username).await["bearerToken"].as_str().unwrap().to_owned()
    }

    pub async fn send(&self, method: Method, token: Option<&str>, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.send(Method::GET, Some(token), path, None).await
    }

    pub async fn get_json(&self, token: &str, path: &str) -> (StatusCode, Value) {
        read(self.get(token, path).await).await
    }

    pub async fn post_json(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        read(self.send(Method::POST, Some(token), path, Some(body)).await).await
    }

    /// Books `body` as `username`, expecting success; returns the consignment.
    pub async fn book(&self, username: &str, body: &Value) -> Value {
        let token = self.token(username).await;
        let (status, consignment) = self.post_json(&token, "Consignments", body).await;
        assert_eq!(status, StatusCode::CREATED, "booking refused: {consignment}");
        consignment
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        read(self.http.post(self.admin_url(path)).json(body).send().await.unwrap()).await
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        read(self.http.get(self.admin_url(path)).send().await.unwrap()).await
    }

    /// A consignment as the admin API sees it (with events and attachments).
    pub async fn admin_consignment(&self, id: u64) -> Value {
        let (status, body) = self.admin_get(&format!("consignments/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        body
    }
}

pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

/// The field keys of a ProblemDetails `errors` dictionary.
pub fn error_keys(problem: &Value) -> Vec<String> {
    problem["errors"].as_object().map(|errors| errors.keys().cloned().collect()).unwrap_or_default()
}

/// A valid booking by PGD302 for Project Timber (PALL-EX 64086): collection today (the default clock is
/// Wednesday 09:00, before the cut-off), Premium, one full pallet to London (UKD101).
pub fn booking() -> Value {
    json!({
        "general": {
            "consignmentTypeID": 2,
            "customerID": 64086,
            "customerReference": "PO-TEST",
            "descriptionOfGoods": "Timber sheets",
            "limitedQuantities": false
        },
        "collectionInfo": { "serviceID": 1, "dueDate": "2026-06-17", "contact": "01777 000000" },
        "deliveryInfo": { "serviceID": 1, "contact": "07700 900000", "email": "buyer@example.com" },
        "deliveryAddress": {
            "countryID": 233, "name": "Hackney Build Ltd", "line1": "4 Mare Street", "town": "London",
            "postcode": "E8 4RP", "telephone": "020 7000 0000"
        },
        "pallets": [
            { "palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 180,
              "weight": 640, "limitedQuantityWeight": 0, "doNotStack": false }
        ]
    })
}

pub fn id_of(consignment: &Value) -> u64 {
    consignment["consignmentID"].as_u64().expect("a consignmentID")
}

pub fn barcodes_of(consignment: &Value) -> Vec<String> {
    consignment["pallets"].as_array().unwrap().iter().map(|p| p["barcode"].as_str().unwrap().to_owned()).collect()
}

pub fn codes_of(events: &Value) -> Vec<String> {
    events.as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap().to_owned()).collect()
}

/// A plain HTTP client. reqwest takes its TLS provider from the process's default (rustls with ring,
/// installed here first) and, without one, does not build a client.
#[expect(clippy::disallowed_methods, reason = "the tests' one place reqwest's builder is called")]
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().expect("a client")
}
