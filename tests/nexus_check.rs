//! `bridge-ops nexus-check` (`bridge::ops::nexus_check`) against the Nexus simulator: in the full
//! profile it finds every capability, in the seen profile none, each from evidence; through a relay
//! that speaks a dialect (datetimes with `Z`, lists in an envelope) it reports the dialect and still
//! finds what is there; `--book` is refused against the LIVE host.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bridge::config::Secret;
use bridge::nexus::capabilities::Capability;
use bridge::ops::OpsError;
use bridge::ops::nexus_check::{CheckInput, Finding, NexusCheckReport, check_nexus};
use nexus_sim::{NexusSim, Profile, RunningSim, SimOptions};
use serde_json::{Value, json};

/// A simulator in `profile` where PGD302 sees more than 100 consignments (so `limit=100` can be
/// judged): the default world plus 100 bookings for Project Timber.
async fn sim(profile: Profile) -> RunningSim {
    let sim = NexusSim::start(SimOptions::default().profile(profile)).await.expect("the simulator starts");
    sim.handle().set_rate_limit(0);
    let http = bridge::http::client_builder().no_proxy().build().unwrap();
    let login: Value = http
        .post(format!("{}Account/login", sim.base_url()))
        .json(&json!({ "username": "pgd302.api", "password": "Sim!PGD302" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["bearerToken"].as_str().unwrap().to_owned();
    for n in 0..100 {
        let body = json!({
            "general": { "consignmentTypeID": 2, "customerID": 64086, "consignmentNumber": format!("FILL-{n:03}") },
            "collectionInfo": { "serviceID": 1 },
            "deliveryInfo": { "serviceID": 1 },
            "deliveryAddress": { "countryID": 233, "name": "Filler", "line1": "1 Road", "town": "London", "postcode": "E8 4RP" },
            "pallets": [ { "palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 100, "weight": 100 } ]
        });
        let response =
            http.post(format!("{}Consignments", sim.base_url())).bearer_auth(&token).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "filler booking {n}: {}", response.text().await.unwrap());
    }
    sim.handle().reset_request_counts();
    sim
}

fn input(base_url: String, book: bool) -> CheckInput {
    let mut input = CheckInput::new(base_url, "pgd302.api", Secret::new("Sim!PGD302"));
    input.book = book;
    input.customer_id = Some("64086".into());
    input
}

fn finding(report: &NexusCheckReport, capability: Capability) -> Finding {
    report.finding(capability)
}

#[tokio::test]
async fn the_full_profile_has_every_capability() {
    let sim = sim(Profile::Full).await;
    let report = check_nexus(&input(sim.base_url(), true)).await.expect("the check runs");
    println!("{}", report.render());
    for capability in Capability::ALL {
        assert_eq!(finding(&report, capability), Finding::Found, "{capability} in\n{}", report.render());
    }
    assert_eq!(report.setting, "full");
    assert!(report.unknown.is_empty());
    assert!(report.booking.iter().all(|step| step.ok), "{}", report.render());
    let cancelled = report.booking.iter().find(|s| s.step == "read back").unwrap();
    assert!(cancelled.detail.contains("Cancelled"), "{}", cancelled.detail);
    assert_eq!(report.shape("labels").unwrap().seen.split(' ').next(), Some("PDF"));
    assert!(report.shape("datetimes").unwrap().seen.starts_with("no offset"));
    assert!(report.shape("status ids").unwrap().seen.contains("10–130"));
    // JSON for --json.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["capabilities"][0]["capability"], "delta-listing");
    assert_eq!(json["capabilities"][0]["finding"], "found");
}

#[tokio::test]
async fn the_seen_profile_has_none_of_the_invented_ones() {
    let sim = sim(Profile::Seen).await;
    let report = check_nexus(&input(sim.base_url(), true)).await.expect("the check runs");
    println!("{}", report.render());
    for capability in Capability::ALL {
        assert_eq!(finding(&report, capability), Finding::NotFound, "{capability} in\n{}", report.render());
    }
    assert_eq!(report.setting, "seen");
    assert_eq!(report.found, "");
    // Booked and labelled, but there is no cancel route: the report says to cancel by hand.
    let steps: Vec<(&str, bool)> = report.booking.iter().map(|s| (s.step.as_str(), s.ok)).collect();
    assert_eq!(steps, [("book", true), ("labels", true), ("cancel", false), ("read back", true)]);
    let cancel = &report.booking[2];
    assert!(cancel.detail.contains("by hand"), "{}", cancel.detail);
    assert!(report.shape("status ids").unwrap().seen.contains("1–15"));
    assert!(report.shape("list shape").unwrap().evidence.contains("X-Total-Count absent"));
}

#[tokio::test]
async fn without_book_nothing_changes_and_the_create_answer_is_unknown() {
    let sim = sim(Profile::Full).await;
    let world_before = sim.handle().consignment_json(10016);
    let report = check_nexus(&input(sim.base_url(), false)).await.expect("the check runs");
    assert_eq!(finding(&report, Capability::FullCreateAnswer), Finding::Unknown);
    assert_eq!(report.unknown, ["full-create-answer"]);
    assert!(report.booking.is_empty());
    assert!(report.render().contains("--book"));
    // Every capability but the create answer found; the setting lists them.
    assert_eq!(report.setting.split(',').count(), Capability::ALL.len() - 1);
    // Nothing was booked, cancelled or scanned: no consignment beyond the default world and the fillers.
    assert_eq!(sim.handle().consignment_json(10120), None);
    assert_eq!(sim.handle().consignment_json(10016), world_before);
    let counts = sim.handle().request_counts();
    let writes: Vec<_> = counts
        .routes
        .iter()
        .filter(|r| !r.route.starts_with("GET") && !r.route.contains("account/login"))
        .filter(|r| r.statuses.keys().any(|s| (200..300).contains(s)))
        .collect();
    assert!(writes.is_empty(), "no write succeeded: {writes:?}");
}

#[tokio::test]
async fn booking_is_refused_against_the_live_host() {
    let live = input("https://rest-api-nexus.pallex.com/v1/".into(), true);
    match check_nexus(&live).await {
        Err(OpsError::Invalid(message)) => assert!(message.contains("LIVE"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---- a dialect: datetimes with Z, lists in an envelope --------------------------------------------

struct Relay {
    origin: String,
    http: reqwest::Client,
}

/// Adds `Z` to every offset-less datetime string.
fn with_z(value: Value) -> Value {
    match value {
        Value::String(s) if s.len() == 19 && s.as_bytes()[10] == b'T' && s.as_bytes()[4] == b'-' => {
            Value::String(format!("{s}Z"))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(with_z).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, with_z(v))).collect()),
        other => other,
    }
}

async fn forward(
    State(relay): State<Arc<Relay>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}{}", relay.origin, uri.path_and_query().map_or("/", |p| p.as_str()));
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
    let mut request = relay.http.request(method, url).body(body.to_vec());
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) {
            request = request.header(name.as_str(), value);
        }
    }
    let answer = request.send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = answer.bytes().await.unwrap();
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Array(items)) => {
            let total = items.len();
            serde_json::to_vec(&json!({ "totalCount": total, "items": with_z(Value::Array(items)) })).unwrap()
        }
        Ok(other) => serde_json::to_vec(&with_z(other)).unwrap(),
        Err(_) => bytes.to_vec(),
    };
    let mut response = (status, body).into_response();
    if !content_type.is_empty() {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    }
    response
}

/// A loopback relay in front of `sim` speaking the dialect; answers its `/v1/` base URL.
async fn dialect_relay(sim: &RunningSim) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let relay = Arc::new(Relay {
        origin: format!("http://{}", sim.address()),
        http: bridge::http::client_builder().no_proxy().build().unwrap(),
    });
    let app = axum::Router::new().fallback(forward).with_state(relay);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/v1/")
}

#[tokio::test]
async fn a_dialect_is_reported_and_the_capabilities_still_found() {
    let sim = sim(Profile::Full).await;
    let base = dialect_relay(&sim).await;
    let report = check_nexus(&input(base, false)).await.expect("the check runs through the relay");
    println!("{}", report.render());
    let datetimes = report.shape("datetimes").unwrap();
    assert!(datetimes.seen.starts_with("Z ×"), "{datetimes:?}");
    assert!(!datetimes.seen.contains("no offset"), "{datetimes:?}");
    let list = report.shape("list shape").unwrap();
    assert!(list.seen.contains("envelope") && list.seen.contains("\"items\""), "{list:?}");
    for capability in Capability::ALL.into_iter().filter(|c| *c != Capability::FullCreateAnswer) {
        assert_eq!(finding(&report, capability), Finding::Found, "{capability} in\n{}", report.render());
    }
}
