//! Nexus dialects, end to end: a loopback proxy in front of the Nexus simulator rewrites its answers
//! into what an ASP.NET API plausibly sends for the same data (datetimes with `Z`, with `+01:00`,
//! with 7 fractional digits; ids and numbers as strings; extra properties; PascalCase names; image
//! labels; a short create answer; an envelope around lists; one unreadable record in a listing), and
//! the bridge's three main flows run through it as on the plain simulator: booking (a dispatch
//! CREATE through the bridge's HTTP API, labels stored and attached), order import and status sync.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bridge::clock::ManualClock;
use bridge::domain::NexusConsignmentId;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::nexus::ConsignmentQuery;
use bridge::store::DispatchState;
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::wiring::Bridge;
use bridge_local::{INBOUND_BOOKERS, PGD302_POSTCODES};
use jiff::civil::{Date, DateTime};
use serde_json::{Map, Value, json};

use crate::dispatch::{World, booking_of, order, quick_retries, response};
use crate::status_sync::{last_pallet_reached, nexus_scans, qargo_scans, stop_history};

const LONDON: &str = "Europe/London";
/// Inbound consignments whose number holds this are made unreadable in listings by that dialect.
const POISON: &str = "POISON";

/// A 1×1 PNG: what an image-label Nexus sends instead of the PDF.
const PNG: [u8; 68] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0xb5, 0x1c, 0x0c, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0x30, 0x81, 0xd0, 0x2f, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// How the proxy rewrites Nexus's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// As the simulator answers.
    Plain,
    /// Datetimes as UTC instants with `Z` (`2026-06-17T08:27:00Z` for 09:27 in London).
    Zulu,
    /// Datetimes with the UK offset (`2026-06-17T09:27:00+01:00` in BST).
    UkOffset,
    /// Datetimes with 7 fractional digits, dates as midnight datetimes (ASP.NET `DateTime`).
    SevenDigits,
    /// Every JSON number as a string.
    NumbersAsStrings,
    /// Extra properties in every object.
    ExtraProperties,
    /// Every property name in PascalCase.
    PascalCase,
    /// Labels asked for as PDF come back as a PNG (`image/png`).
    ImageLabels,
    /// The create answer holds only `consignmentID` and `successfulTrackingCodes`.
    ShortCreate,
    /// Lists in an envelope: `{"items": [...], "totalCount": n}`.
    Envelope,
    /// One record of a listing is unreadable (`consignmentID: "abc"`).
    UnreadableRecord,
    /// Statuses numbered otherwise (ids + 500, in the lookup too) and given without a name in the
    /// read model: only the `consignmentStatuses` lookup says what an id means.
    StatusIdsOnly,
}

impl Dialect {
    fn rewrite_text(self, text: &str) -> Option<String> {
        let london = jiff::tz::TimeZone::get(LONDON).unwrap();
        if text.len() >= 16 && text.as_bytes()[10] == b'T' && !text[10..].contains(['Z', '+', '-']) {
            let civil: DateTime = text.parse().ok()?;
            let zoned = civil.to_zoned(london).ok()?;
            return match self {
                Dialect::Zulu => Some(format!("{}", zoned.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ"))),
                Dialect::UkOffset => Some(zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()),
                Dialect::SevenDigits => {
                    Some(format!("{}.{:07}", civil.strftime("%Y-%m-%dT%H:%M:%S"), civil.subsec_nanosecond() / 100))
                }
                _ => None,
            };
        }
        if self == Dialect::SevenDigits && text.len() == 10 && text.parse::<Date>().is_ok() {
            return Some(format!("{text}T00:00:00.0000000"));
        }
        None
    }

    /// `value` in this dialect (`key`: the property holding it).
    fn rewrite(self, value: Value, key: &str) -> Value {
        match value {
            Value::String(text) => match self.rewrite_text(&text) {
                Some(rewritten) => Value::String(rewritten),
                None => Value::String(text),
            },
            Value::Number(n) if self == Dialect::NumbersAsStrings => Value::String(n.to_string()),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.rewrite(v, key)).collect()),
            Value::Object(map) => {
                // A ProblemDetails `errors` dictionary is data, not properties.
                let data = key == "errors";
                let mut out = Map::new();
                for (k, v) in map {
                    let v = self.rewrite(v, &k);
                    let k = if self == Dialect::PascalCase && !data { pascal(&k) } else { k };
                    out.insert(k, v);
                }
                if self == Dialect::ExtraProperties && !data {
                    out.insert("$id".into(), json!("7"));
                    out.insert("auditInfo".into(), json!({"by": "nexus-proxy", "version": 3, "tags": ["a", "b"]}));
                    out.insert("links".into(), json!([{"rel": "self", "href": "/v1/x"}]));
                    out.insert("isArchived".into(), json!(false));
                }
                Value::Object(out)
            }
            other => other,
        }
    }
}

/// Every `status` object: id + 500, no name or code.
fn renumber_statuses(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(renumber_statuses),
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match inner {
                    Value::Object(status) if key == "status" && status.contains_key("id") => {
                        let id = status["id"].as_i64().unwrap_or_default();
                        status.insert("id".into(), json!(id + 500));
                        status.remove("name");
                        status.remove("code");
                    }
                    other => renumber_statuses(other),
                }
            }
        }
        _ => {}
    }
}

fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

struct Proxy {
    origin: String,
    dialect: Dialect,
    http: reqwest::Client,
}

/// A loopback proxy in front of the Nexus simulator speaking `dialect`; answers the base URL to use.
async fn dialect_proxy(upstream: &str, dialect: Dialect) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let upstream_url = reqwest::Url::parse(upstream).unwrap();
    let origin = format!("{}://{}", upstream_url.scheme(), upstream_url.authority());
    let proxy = Arc::new(Proxy { origin, dialect, http: bridge::http::client_builder().build().unwrap() });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}{}", upstream_url.path())
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = proxy.http.request(method.clone(), format!("{}{path_and_query}", proxy.origin)).body(body);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(err) => return (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
    let path = uri.path().to_ascii_lowercase();
    let query = uri.query().unwrap_or("").to_ascii_lowercase();
    let dialect = proxy.dialect;
    let is_json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    if dialect == Dialect::ImageLabels && status.is_success() && path.ends_with("/labels") && !query.contains("zpl") {
        bytes = PNG.to_vec();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    } else if is_json && let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) {
        let listing = method == Method::GET && path == "/v1/consignments";
        if dialect == Dialect::ShortCreate
            && method == Method::POST
            && path == "/v1/consignments"
            && status.is_success()
        {
            let codes: Vec<Value> =
                value["pallets"].as_array().into_iter().flatten().map(|p| p["barcode"].clone()).collect();
            value = json!({"consignmentID": value["consignmentID"], "successfulTrackingCodes": codes});
        }
        if dialect == Dialect::UnreadableRecord && listing {
            for record in value.as_array_mut().into_iter().flatten() {
                if record["consignmentNumber"].as_str().is_some_and(|n| n.contains(POISON)) {
                    record["consignmentID"] = json!("abc");
                }
            }
        }
        if dialect == Dialect::StatusIdsOnly {
            if path == "/v1/consignmentstatuses" {
                for row in value.as_array_mut().into_iter().flatten() {
                    row["id"] = json!(row["id"].as_i64().unwrap_or_default() + 500);
                }
            } else {
                renumber_statuses(&mut value);
            }
        }
        if dialect == Dialect::Envelope && value.is_array() {
            let total = headers.get("x-total-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
            value = json!({"items": value, "totalCount": total, "page": {"limit": 100}});
        }
        value = dialect.rewrite(value, "");
        bytes = serde_json::to_vec(&value).unwrap();
    }
    for hop in [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION] {
        headers.remove(hop);
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Both simulators and the bridge's API (as in `dispatch.rs`), the bridge talking to Nexus through
/// a proxy speaking `dialect`.
async fn dialect_world(dialect: Dialect) -> (World, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let nexus = nexus_sim::NexusSim::start(nexus_sim::SimOptions::default()).await.expect("Nexus simulator");
    nexus.handle().set_rate_limit(0);
    let mut qargo_options = qargo_sim::SimOptions::with_bridge(api_url.clone());
    qargo_options.limits = qargo_sim::Limits::off();
    qargo_options.strict_unknown_keys = true;
    qargo_options.seed.customers.push(bridge_local::shared_customer());
    let qargo = qargo_sim::QargoSim::start(qargo_options).await.expect("Qargo simulator");
    let nexus_url = dialect_proxy(&nexus.base_url(), dialect).await;
    let (settings, secrets) =
        bridge_local::simulator_settings(&nexus_url, &qargo.base_url(), "PGD302:zpl", &[]).await.unwrap();
    let clock = ManualClock::new(bridge::clock::Clock::now(&bridge_local::SimulatorClock(nexus.handle().clone())));
    let bridge = Bridge::assemble_tuned(
        settings,
        secrets,
        Arc::new(MemoryStore::in_memory()),
        Arc::new(MemoryDocuments::default()),
        Arc::new(clock.clone()),
        bridge::wiring::ClientTuning {
            retry: quick_retries(),
            qargo_requests_per_second: 200.0,
            shared_budgets: false,
        },
    );
    let bridge = Arc::new(bridge);
    bridge_local::serve_api(bridge.clone(), listener);
    (World { nexus, qargo, bridge, clock, api_url, http: bridge::http::client_builder().build().unwrap() }, nexus_url)
}

/// The Nexus record's pallet barcodes, as the simulator holds them.
fn nexus_barcodes(world: &World, id: i64) -> Vec<String> {
    let on_nexus = world.nexus.handle().consignment_json(id as u64).expect("on Nexus");
    on_nexus["pallets"].as_array().unwrap().iter().map(|p| p["barcode"].as_str().unwrap().to_owned()).collect()
}

/// Booking: a dispatch CREATE through the bridge's API; answers (Qargo order, Nexus id, what passed).
async fn booking(world: &World, dialect: Dialect) -> (qargo_sim::CreatedOrder, i64, String) {
    let mut input = order("PALLEX_OUT", "2026-06-17");
    input["consignments"][0]["goods"][0]["quantity"] = json!(3);
    let created = world.create_order(input);
    let record = world.dispatch(&created, "CREATE").await;
    assert!(record.accepted, "{dialect:?}: {:?} {}", record.errors, response(&record));
    let (network, id, number) = booking_of(&response(&record));
    assert_eq!((network.as_str(), number.as_str()), ("PALLEX", created.order_name.as_str()));
    assert_eq!(world.creates(), 1, "{dialect:?}: booked once");

    let ledger = world.ledger(&created).await;
    assert_eq!(ledger.state, DispatchState::Labelled, "{dialect:?}");
    let booking = ledger.booking.unwrap();
    let barcodes: Vec<String> = booking.barcodes.iter().map(ToString::to_string).collect();
    assert_eq!(barcodes, nexus_barcodes(world, id), "{dialect:?}: the booked barcodes");

    let (extension, content_type) =
        if dialect == Dialect::ImageLabels { ("png", "image/png") } else { ("pdf", "application/pdf") };
    assert_eq!(booking.label_keys.len(), 2, "{dialect:?}: {:?}", booking.label_keys);
    assert!(booking.label_keys[0].ends_with(&format!(".{extension}")), "{dialect:?}: {:?}", booking.label_keys);
    let (label, bytes) = world.bridge.documents.get(&booking.label_keys[0]).await.unwrap().expect("label stored");
    assert_eq!(label.content_type, content_type, "{dialect:?}");
    if dialect == Dialect::ImageLabels {
        assert_eq!(bytes, PNG);
    } else {
        assert!(bytes.starts_with(b"%PDF"));
    }
    let (zpl, zpl_bytes) = world.bridge.documents.get(&booking.label_keys[1]).await.unwrap().expect("ZPL stored");
    assert!(zpl.key.ends_with(".zpl") && String::from_utf8_lossy(&zpl_bytes).matches("^XA").count() == 3);

    let detail = world.qargo.handle.order_detail(created.order_id).expect("order in Qargo");
    let labels: Vec<&Value> =
        detail["documents"].as_array().unwrap().iter().filter(|d| d["type"] == "PALLET_LABEL_EXTERNAL").collect();
    assert_eq!(labels.len(), 1, "{dialect:?}: {}", detail["documents"]);
    let name = labels[0]["name"].as_str().unwrap_or_default();
    assert!(name.ends_with(&format!(".{extension}")), "{dialect:?}: attached as {name}: {}", labels[0]);
    assert_eq!(detail["order"]["custom_fields"]["NexusConsignmentID"], json!(id.to_string()));
    let units: Vec<String> = detail["order"]["consignments"][0]["goods"][0]["handling_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["barcode"]["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(units, barcodes, "{dialect:?}: Qargo's handling units carry the Nexus barcodes");
    (created, id, format!("booked {id}, 3 barcodes, labels {name} + .zpl"))
}

/// Order import: other depots book for PGD302 straight on the simulator; the bridge imports them.
async fn import(world: &World, nexus_url: &str, dialect: Dialect) -> String {
    let mut booked = Vec::new();
    let count = if dialect == Dialect::UnreadableRecord { 4 } else { 3 };
    for i in 0..count {
        let (depot, customer, network) = INBOUND_BOOKERS[i % INBOUND_BOOKERS.len()];
        let client = bridge_local::depot_user(&world.nexus.base_url(), depot, quick_retries());
        let number = if i == 1 && count == 4 { format!("DI-{POISON}-{i}") } else { format!("DI-{i:03}") };
        let body = bridge_local::simple_booking(customer, network, &number, PGD302_POSTCODES[i], 1 + i % 2);
        let made = client.create_consignment(&body).await.expect("booked by another depot");
        booked.push((network, made.consignment_id, number));
    }
    let report = import_orders(&world.bridge, &ImportOptions::unbounded())
        .await
        .unwrap_or_else(|failed| panic!("{dialect:?}: import failed: {failed}"));
    let mut imported = 0;
    for (network, id, number) in &booked {
        let identifier = format!("NEXUS-{network}-{id}");
        let detail = world.qargo.handle.order_by_identifier(&identifier);
        if number.contains(POISON) {
            assert!(detail.is_none(), "{dialect:?}: the unreadable record is not imported");
            continue;
        }
        let detail = detail.unwrap_or_else(|| panic!("{dialect:?}: {identifier} imported; {report:?}"));
        let mut units: Vec<String> = detail["order"]["consignments"][0]["goods"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["handling_units"].as_array().cloned().unwrap_or_default())
            .map(|u| u["barcode"]["value"].as_str().unwrap().to_owned())
            .collect();
        units.sort();
        let mut expected = nexus_barcodes(world, *id);
        expected.sort();
        assert_eq!(units, expected, "{dialect:?}: {identifier}'s pallets");
        imported += 1;
    }
    let mut line = format!("imported {imported}/{}", booked.len());
    let unreadable = report.depot("PGD302").map_or(0, |d| d.unreadable);
    let expected_unreadable = u32::from(dialect == Dialect::UnreadableRecord);
    assert_eq!(unreadable, expected_unreadable, "{dialect:?}: the import's report counts what it could not read");
    if dialect == Dialect::UnreadableRecord {
        // The bridge's own reader, through the proxy: the page is read, the bad record counted.
        let pgd302 = bridge_local::depot_user(nexus_url, "PGD302", quick_retries());
        let query = ConsignmentQuery { delivery_depot_code: Some("PGD302".into()), ..ConsignmentQuery::default() };
        let page = pgd302.list_consignments(&query, 100, 0).await.expect("the page is read");
        assert_eq!(page.skipped, 1, "{dialect:?}: the unreadable record is counted");
        assert_eq!(page.items.len() + 1, page.received);
        line.push_str(&format!(" (1 unreadable skipped: Page::skipped = {})", page.skipped));
    }
    line
}

/// Status sync of the booked consignment until delivered: every scan in Qargo once per barcode in
/// order, and the delivery stop moved at the right instants (the datetimes read right).
async fn status_sync(world: &World, created: &qargo_sim::CreatedOrder, id: i64, dialect: Dialect) -> String {
    world.nexus.handle().set_delivery_odds(0, 0);
    let mut runs = 0;
    while world.nexus.handle().status_of(id as u64) != Some("DEL") {
        assert!(runs < 200, "{dialect:?}: delivered within 200 runs of an hour");
        world.advance(Duration::from_secs(60 * 60));
        world.sync().await;
        runs += 1;
    }
    world.sync().await;
    let plain = bridge_local::depot_user(&world.nexus.base_url(), "PGD302", quick_retries());
    let events = plain.events(NexusConsignmentId(id)).await.unwrap();
    let nexus = nexus_scans(&events);
    assert_eq!(nexus.len(), 3);
    let barcodes: Vec<String> = nexus.keys().cloned().collect();
    assert_eq!(qargo_scans(world, &barcodes), nexus, "{dialect:?}: every scan, per barcode, once, in order");
    let delivery_stop = created.consignments[0].delivery_stop_id;
    let history = stop_history(world, created.order_id, delivery_stop);
    let statuses: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["AT_STOP", "COMPLETED"], "{dialect:?}");
    assert_eq!(history[0].1, last_pallet_reached(&events, &["SCDV", "ARRI"]), "{dialect:?}: AT_STOP instant");
    assert_eq!(history[1].1, last_pallet_reached(&events, &["MPOD", "EPOD"]), "{dialect:?}: COMPLETED instant");
    let scans: usize = nexus.values().map(Vec::len).sum();
    format!("synced {scans} scans in {runs} runs, stop AT_STOP/COMPLETED at the Nexus instants")
}

async fn through(dialect: Dialect) {
    let (world, nexus_url) = dialect_world(dialect).await;
    let (created, id, booked) = booking(&world, dialect).await;
    let imported = import(&world, &nexus_url, dialect).await;
    let synced = status_sync(&world, &created, id, dialect).await;
    // The status as the bridge reads it, by the name Nexus gives its id.
    let pgd302 = bridge_local::depot_user(&nexus_url, "PGD302", quick_retries());
    let read = pgd302.consignment(bridge::domain::NexusConsignmentId(id), &[]).await.expect("read through the proxy");
    let status = bridge::jobs::lookup::consignment_status(&read).map(|s| s.code().to_owned());
    assert_eq!(status.as_deref(), world.nexus.handle().status_of(id as u64), "{dialect:?}: the status read");
    println!("nexus dialect {dialect:?}: PASSED booking ({booked}); import ({imported}); status sync ({synced})");
}

macro_rules! dialect_tests {
    ($($name:ident => $dialect:expr,)*) => {$(
        #[tokio::test]
        async fn $name() {
            through($dialect).await;
        }
    )*};
}

dialect_tests! {
    plain_simulator => Dialect::Plain,
    datetimes_with_z => Dialect::Zulu,
    datetimes_with_the_uk_offset => Dialect::UkOffset,
    datetimes_with_seven_fractional_digits => Dialect::SevenDigits,
    ids_and_numbers_as_strings => Dialect::NumbersAsStrings,
    extra_properties_everywhere => Dialect::ExtraProperties,
    pascal_case_property_names => Dialect::PascalCase,
    image_labels => Dialect::ImageLabels,
    a_create_answer_with_only_the_id => Dialect::ShortCreate,
    lists_in_an_envelope => Dialect::Envelope,
    one_unreadable_record_in_a_listing => Dialect::UnreadableRecord,
    status_ids_numbered_otherwise_without_names => Dialect::StatusIdsOnly,
}

#[test]
fn the_proxy_rewrites_datetimes_as_the_dialect_says() {
    let bst = "2026-06-17T09:27:00";
    assert_eq!(Dialect::Zulu.rewrite_text(bst).as_deref(), Some("2026-06-17T08:27:00Z"));
    assert_eq!(Dialect::UkOffset.rewrite_text(bst).as_deref(), Some("2026-06-17T09:27:00+01:00"));
    assert_eq!(Dialect::SevenDigits.rewrite_text(bst).as_deref(), Some("2026-06-17T09:27:00.0000000"));
    assert_eq!(Dialect::UkOffset.rewrite_text("2026-12-17T09:27:00").as_deref(), Some("2026-12-17T09:27:00+00:00"));
    assert_eq!(Dialect::Zulu.rewrite_text("1044000106606774"), None);
}
