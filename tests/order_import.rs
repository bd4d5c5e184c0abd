//! Order import end to end: consignments that other depots book on the Nexus simulator for PGD302
//! (both networks) become orders in the Qargo simulator, once each, through the bridge's job, with
//! the cursors on DynamoDB (moto).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge::clock::ManualClock;
use bridge::config::{Credentials, OrderDoor, Secret, Secrets, Settings};
use bridge::domain::Network;
use bridge::jobs::order_import::{ImportOptions, ImportReport, import_orders};
use bridge::nexus::wire::{Address, BookIn, CollectionInfo, CreateConsignment, DeliveryInfo, General, PalletInput};
use bridge::nexus::{NexusClient, RetryPolicy};
use bridge::qargo::inbound_order::ORIGIN_FIELD;
use bridge::qargo::{Pacer, QargoClient};
use bridge::store::memory::MemoryDocuments;
use bridge::wiring::Bridge;
use serde_json::Value;

const PGD302: &str = "PGD302";
/// What PGD302's listing returns per request.
const PAGE: u64 = 100;

/// The depots that book for PGD302's area in the default world, with their customer.
const BOOKERS: [(&str, &str, i64, &str, &str); 5] = [
    ("ukd101.api", "Sim!UKD101", 52011, "PALLEX", "DA1 2AA"),
    ("ukd205.api", "Sim!UKD205", 60233, "PALLEX", "WR4 9AA"),
    ("ftd118.api", "Sim!FTD118", 83007, "FORTEC", "DE24 8AA"),
    ("ukd330.api", "Sim!UKD330", 55120, "PALLEX", "LS10 1AA"),
    ("ftd240.api", "Sim!FTD240", 88410, "FORTEC", "WA2 8AA"),
];
/// Postcodes PGD302 serves on both networks.
const PGD302_POSTCODES: [&str; 6] = ["DN22 6AA", "S1 2HE", "NG1 5FT", "LN1 1AB", "HU1 2AB", "YO1 7HH"];
/// Where PGD302 is (`BRIDGE_DEPOT_ADDRESSES`).
const PGD302_ADDRESS: &str = "Unit 4 Randall Way|Retford|DN22 7GR";
/// [`CUSTOMER_MAP`] with each customer's network, as a depot on both networks needs it when Nexus
/// does not say a consignment's network.
const CUSTOMER_MAP_WITH_NETWORKS: &str =
    "52011:ACME:PALLEX,60233:BOLT:PALLEX,83007:DUNE:FORTEC,55120:ACME:PALLEX,88410:DUNE:FORTEC";
/// Every other depot's customer, mapped to a customer of the Qargo simulator's default tenant.
const CUSTOMER_MAP: &str = "52011:ACME,60233:BOLT,83007:DUNE,55120:ACME,88410:DUNE";

struct World {
    nexus: nexus_sim::RunningSim,
    qargo: qargo_sim::RunningSim,
    bridge: Bridge,
}

struct Setup {
    /// The Nexus simulator's profile; the bridge runs with that profile's capabilities.
    profile: nexus_sim::Profile,
    customer_map: &'static str,
    door: OrderDoor,
    /// Qargo's real limits and the production pacer, or no API limit and a fast pacer.
    real_pace: bool,
    upload_polls_before_done: u32,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            profile: nexus_sim::Profile::Full,
            customer_map: CUSTOMER_MAP,
            door: OrderDoor::Webhook,
            real_pace: false,
            upload_polls_before_done: 1,
        }
    }
}

async fn world(setup: Setup) -> World {
    let nexus = nexus_sim::NexusSim::start(nexus_sim::SimOptions::default().profile(setup.profile))
        .await
        .expect("start the Nexus simulator");
    nexus.handle().set_rate_limit(0);
    let mut options = qargo_sim::SimOptions {
        upload_polls_before_done: setup.upload_polls_before_done,
        strict_unknown_keys: true,
        ..qargo_sim::SimOptions::default()
    };
    if !setup.real_pace {
        options.limits.api = None;
    }
    let qargo = qargo_sim::QargoSim::start(options).await.expect("start the Qargo simulator");

    let store = Arc::new(end_to_end::dynamo_store().await);
    let door = match setup.door {
        OrderDoor::Webhook => "webhook",
        OrderDoor::Upload => "upload",
    };
    let variables: BTreeMap<&str, String> = [
        ("BRIDGE_TABLE", "unused-the-store-is-given".to_owned()),
        ("BRIDGE_BUCKET", "unused".to_owned()),
        ("BRIDGE_DEPOTS", PGD302.to_owned()),
        ("BRIDGE_SECRETS_FILE", "/dev/null".to_owned()),
        ("NEXUS_BASE_URL", nexus.base_url()),
        ("QARGO_BASE_URL", qargo.base_url()),
        ("NEXUS_PAGE_SIZE", PAGE.to_string()),
        ("NEXUS_CAPABILITIES", setup.profile.name().to_owned()),
        ("BRIDGE_DEPOT_ADDRESSES", format!("{PGD302}={PGD302_ADDRESS}")),
        ("BRIDGE_CUSTOMER_MAP", setup.customer_map.to_owned()),
        ("QARGO_ORDER_DOOR", door.to_owned()),
    ]
    .into();
    let settings = Settings::from_lookup(|name| variables.get(name).cloned()).unwrap();
    let secrets = Secrets::from_json(
        &serde_json::json!({
            "nexus": {"PGD302": {"username": "pgd302.api", "password": "Sim!PGD302"}},
            "qargo": {"client_id": "bridge-client", "client_secret": "bridge-secret"},
            "qargo_webhook": {"username": "bridge-webhook", "password": "webhook-pass"},
            "inbound": {"username": "qargo", "password": "inbound-pass"}
        })
        .to_string(),
        "test",
    )
    .unwrap();
    let secrets = Arc::new(secrets);
    // The Nexus simulator's clock: Wednesday 17 June 2026, 09:00 in London.
    let clock = Arc::new(ManualClock::new("2026-06-17T08:00:00Z".parse().unwrap()));
    let mut bridge =
        Bridge::assemble(settings, secrets.clone(), store.clone(), Arc::new(MemoryDocuments::default()), clock);
    if !setup.real_pace {
        bridge.qargo = Arc::new(QargoClient::new(
            &qargo.base_url(),
            secrets.qargo.clone(),
            secrets.qargo_webhook.clone(),
            store,
            Arc::new(Pacer::new(1000.0)),
            RetryPolicy::default(),
        ));
    }
    World { nexus, qargo, bridge }
}

/// A consignment booked on the Nexus simulator.
#[derive(Debug, Clone)]
struct Booked {
    id: i64,
    network: Network,
    barcodes: Vec<String>,
}

impl Booked {
    fn identifier(&self) -> String {
        format!("NEXUS-{}-{}", self.network, self.id)
    }
}

fn nexus_user(world: &World, username: &str, password: &str) -> NexusClient {
    let credentials = Credentials { username: username.into(), password: Secret::new(password) };
    NexusClient::new(&world.nexus.base_url(), credentials, RetryPolicy::default())
}

fn address(name: &str, postcode: &str) -> Address {
    Address {
        country_id: 233,
        name: name.into(),
        line1: format!("{} Industrial Estate", postcode.len()),
        line2: None,
        town: "Testtown".into(),
        county: None,
        postcode: postcode.into(),
        telephone: None,
    }
}

/// `count` consignments for PGD302 from the five other depots, in turn: most delivered by PGD302,
/// every tenth collected by it instead; services, windows, extras and pallets varied.
async fn book_inbound(world: &World, count: usize, tag: &str) -> Vec<Booked> {
    let clients: Vec<NexusClient> =
        BOOKERS.iter().map(|(user, password, ..)| nexus_user(world, user, password)).collect();
    let mut booked = Vec::new();
    for i in 0..count {
        let (_, _, customer, network, home) = BOOKERS[i % BOOKERS.len()];
        let ours = PGD302_POSTCODES[i % PGD302_POSTCODES.len()];
        let collected_by_us = i % 10 == 9;
        let (from, to) = if collected_by_us { (Some(address("Sender", ours)), home) } else { (None, ours) };
        let service_id = match i % 9 {
            8 => 3,
            3 | 7 => 2,
            _ => 1,
        };
        let (window, start, end, book_in) = match i % 13 {
            2 | 6 => (Some("TD"), Some("13:00".to_owned()), Some("16:00".to_owned()), None),
            4 => (Some("AM"), None, None, None),
            11 => (
                Some("BI"),
                None,
                None,
                Some(BookIn {
                    contact_name: "Goods In".into(),
                    contact_phone: "01777 700200".into(),
                    reference: None,
                    notes: None,
                }),
            ),
            _ => (None, None, None, None),
        };
        let pallet = |n: usize| {
            let euro = (i + n).is_multiple_of(4);
            PalletInput {
                pallet_base_id: if euro { 2 } else { 1 },
                pallet_type_id: if euro { 5 } else { 7 },
                length: 120,
                width: if euro { 80 } else { 100 },
                height: 120 + 10 * (n as u32),
                weight: 250 + 50 * ((i % 5) as u32),
                limited_quantity_weight: 0,
                do_not_stack: false,
            }
        };
        let body = CreateConsignment {
            general: General {
                consignment_type_id: 2,
                customer_id: customer,
                consignment_number: format!("{tag}-{i:04}"),
                customer_reference: Some(format!("PO-{tag}-{i}")),
                description_of_goods: Some("Mixed goods".into()),
                limited_quantities: false,
                network_code: Some(network.into()),
                requesting_depot_code: None,
            },
            collection_info: CollectionInfo {
                service_id,
                due_date: "2026-06-17".parse().unwrap(),
                contact: Some("01234 567890".into()),
                email: None,
                extras: vec![],
            },
            delivery_info: DeliveryInfo {
                service_id,
                due_date: (service_id == 3).then(|| "2026-06-22".parse().unwrap()),
                contact: Some("07700 900000".into()),
                email: None,
                time_window_code: window.map(str::to_owned),
                start_window: start,
                end_window: end,
                book_in,
                extras: if i.is_multiple_of(5) { vec!["TL".into()] } else { vec![] },
                instructions: None,
            },
            collection_address: from,
            delivery_address: address("Receiver", to),
            pallets: (0..1 + i % 3).map(pallet).collect(),
        };
        let client = &clients[i % BOOKERS.len()];
        let made = client
            .create_consignment(&body)
            .await
            .unwrap_or_else(|err| panic!("booking {i} by {}: {err}", client.username()));
        let network: Network = made.network.as_ref().unwrap().code.parse().unwrap();
        booked.push(Booked {
            id: made.consignment_id,
            network,
            barcodes: made.pallets.iter().map(|p| p.barcode.clone()).collect(),
        });
    }
    booked
}

/// Consignments PGD302 booked itself (and one its customer booked), including one it delivers.
async fn book_own(world: &World) -> Vec<Booked> {
    let pgd302 = nexus_user(world, "pgd302.api", "Sim!PGD302");
    let customer_user = nexus_user(world, "timber.pallex", "Sim!64086");
    let mut booked = Vec::new();
    for (n, (client, customer, network, to)) in [
        (&pgd302, 64086, "PALLEX", "DA1 2AA"),
        (&pgd302, 64086, "PALLEX", "DN22 6AA"),
        (&pgd302, 71520, "FORTEC", "NG1 5FT"),
        (&customer_user, 64086, "PALLEX", "S1 2HE"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = CreateConsignment {
            general: General {
                consignment_type_id: 2,
                customer_id: customer,
                consignment_number: format!("OWN-{n}"),
                customer_reference: None,
                description_of_goods: None,
                limited_quantities: false,
                network_code: Some(network.into()),
                requesting_depot_code: None,
            },
            collection_info: CollectionInfo {
                service_id: 1,
                due_date: "2026-06-17".parse().unwrap(),
                contact: None,
                email: None,
                extras: vec![],
            },
            delivery_info: DeliveryInfo {
                service_id: 1,
                due_date: None,
                contact: None,
                email: None,
                time_window_code: None,
                start_window: None,
                end_window: None,
                book_in: None,
                extras: vec![],
                instructions: None,
            },
            collection_address: None,
            delivery_address: address("Own receiver", to),
            pallets: vec![PalletInput {
                pallet_base_id: 1,
                pallet_type_id: 7,
                length: 120,
                width: 100,
                height: 150,
                weight: 300,
                limited_quantity_weight: 0,
                do_not_stack: false,
            }],
        };
        let made = client.create_consignment(&body).await.unwrap();
        booked.push(Booked { id: made.consignment_id, network: network.parse().unwrap(), barcodes: vec![] });
    }
    booked
}

async fn run(world: &World) -> ImportReport {
    import_orders(&world.bridge, &ImportOptions::unbounded()).await.unwrap_or_else(|failed| panic!("{failed}"))
}

/// Imported orders in the Qargo simulator by identifier, with how many orders carry each.
fn imported_orders(world: &World) -> BTreeMap<String, usize> {
    let mut orders = BTreeMap::new();
    for order in world.qargo.handle.orders() {
        if let Some(identifier) = order["order_identifier"].as_str().filter(|id| id.starts_with("NEXUS-")) {
            *orders.entry(identifier.to_owned()).or_insert(0) += 1;
        }
    }
    orders
}

/// How many origin fields name each Nexus consignment, across all orders: "once each" is about
/// the consignment, whatever identifier an order got.
fn origins(world: &World) -> BTreeMap<String, usize> {
    let mut origins = BTreeMap::new();
    for summary in world.qargo.handle.orders() {
        let id = summary["id"].as_str().unwrap().parse().unwrap();
        let detail = world.qargo.handle.order_detail(id).unwrap();
        if detail["cancelled"].as_bool() == Some(true) {
            continue;
        }
        if let Some(origin) = detail["order"]["custom_fields"][ORIGIN_FIELD].as_str() {
            *origins.entry(origin.to_owned()).or_insert(0) += 1;
        }
    }
    origins
}

fn order_of(world: &World, booked: &Booked) -> Value {
    world
        .qargo
        .handle
        .order_by_identifier(&booked.identifier())
        .unwrap_or_else(|| panic!("no Qargo order for {}", booked.identifier()))
}

/// Consignments PGD302 may see whose `lastUpdated` is at or after `since`: what a listing from
/// `since` returns, counted from the simulator's own records.
fn changed_since(world: &World, since: jiff::civil::DateTime) -> u64 {
    let mut changed = 0;
    for id in 10001.. {
        let Some(c) = world.nexus.handle().consignment_json(id) else { break };
        let visible = ["requestingDepotCode", "collectingDepotCode", "deliveryDepotCode"]
            .iter()
            .any(|field| c[field].as_str() == Some(PGD302));
        let updated: jiff::civil::DateTime = c["lastUpdated"].as_str().unwrap().parse().unwrap();
        if visible && updated >= since {
            changed += 1;
        }
    }
    changed
}

/// The delta bound of the issue: `ceil(changed / page size) + 1` Nexus requests.
fn assert_within_delta_bound(world: &World, report: &ImportReport) {
    let depot = report.depot(PGD302).unwrap();
    let changed = changed_since(world, depot.window_start.unwrap());
    let bound = changed.div_ceil(PAGE) + 1;
    let counted = world.nexus.handle().request_counts().for_principal("pgd302.api");
    assert!(
        counted <= bound && u64::from(depot.nexus_requests) <= bound,
        "{counted} Nexus requests counted by the simulator ({} by the job) for {changed} changed consignments: bound {bound}",
        depot.nexus_requests
    );
    let logins = world.nexus.handle().request_counts().for_route("POST /v1/account/login");
    assert!(logins <= 1, "{logins} logins");
}

fn qargo_count(world: &World, method: &str, route: &str) -> u64 {
    world.qargo.handle.request_counts().count(method, route)
}

const WEBHOOK: (&str, &str) = ("POST", "/v1/webhook");
const UPLOAD: (&str, &str) = ("POST", "/v1/orders/order/upload");
const STATUS: (&str, &str) = ("GET", "/v1/orders/order/upload/{upload_id}");
const TOKEN: (&str, &str) = ("POST", "/v1/auth/token");

fn rate_limited(world: &World) -> u64 {
    world.qargo.handle.request_counts().routes.iter().filter_map(|r| r.by_status.get("429")).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_inbound_consignments_become_orders_once_each() {
    let world = world(Setup::default()).await;
    let baseline = run(&world).await;
    let seeded = imported_orders(&world).len();
    assert!(seeded > 0 && baseline.total(|n| n.created) as usize == seeded, "the seed's inbound consignments");

    let inbound = book_inbound(&world, 250, "IN").await;
    let own = book_own(&world).await;
    assert!(
        inbound.iter().any(|b| b.network == Network::Pallex) && inbound.iter().any(|b| b.network == Network::Fortec)
    );
    world.nexus.handle().reset_request_counts();
    world.qargo.handle.reset_request_counts();

    let report = run(&world).await;
    assert_eq!(report.total(|n| n.created), 250, "{report:#?}");
    assert_eq!(report.rejected().count(), 0, "{report:#?}");
    let depot = report.depot(PGD302).unwrap();
    assert!(depot.own >= own.len() as u32, "our own bookings are listed and skipped: {}", depot.own);
    assert_eq!(report.network(PGD302, Network::Pallex).unwrap().created, 150);
    assert_eq!(report.network(PGD302, Network::Fortec).unwrap().created, 100);

    let orders = imported_orders(&world);
    assert_eq!(orders.len(), seeded + 250);
    for booked in &inbound {
        assert_eq!(orders.get(&booked.identifier()), Some(&1), "{}", booked.identifier());
    }
    for booked in &own {
        assert!(!orders.contains_key(&booked.identifier()), "own booking {} imported back", booked.id);
    }
    assert!(origins(&world).values().all(|n| *n == 1), "one order per Nexus consignment");

    for booked in &inbound {
        assert_order_matches_nexus(&world, booked);
    }

    assert_within_delta_bound(&world, &report);
    assert_eq!(qargo_count(&world, WEBHOOK.0, WEBHOOK.1), 250, "one webhook post per order");
    // The order webhook answers `OrderImportResponse | null`: nothing to follow, no API call.
    assert_eq!(qargo_count(&world, STATUS.0, STATUS.1), 0, "no upload to follow");
    assert_eq!(qargo_count(&world, UPLOAD.0, UPLOAD.1), 0);
    assert_eq!(qargo_count(&world, TOKEN.0, TOKEN.1), 0, "the webhook door needs no OAuth token");
    assert_eq!(u64::from(depot.qargo_webhook_requests), 250);
    assert_eq!(u64::from(depot.qargo_api_requests), 0);

    // A second run finds the same consignments (overlap) and has nothing for Qargo.
    world.nexus.handle().reset_request_counts();
    world.qargo.handle.reset_request_counts();
    let again = run(&world).await;
    assert_eq!(again.total(|n| n.created + n.updated + n.duplicates + n.cancelled), 0, "{again:#?}");
    assert!(again.total(|n| n.unchanged) >= 250);
    assert_eq!(world.qargo.handle.request_counts().total, 0, "no Qargo request at all");
    assert_eq!(imported_orders(&world).len(), seeded + 250);
    assert_within_delta_bound(&world, &again);
}

/// Everything a planner needs, against the Nexus simulator's own record of the consignment.
fn assert_order_matches_nexus(world: &World, booked: &Booked) {
    let nexus = world.nexus.handle().consignment_json(booked.id as u64).unwrap();
    let admin = order_of(world, booked);
    let order = &admin["order"];
    let what = booked.identifier();
    assert_eq!(order["custom_fields"][ORIGIN_FIELD], format!("{}:{}", booked.network, booked.id), "{what}");
    assert_eq!(order["customer_reference_number"], nexus["customerReference"], "{what}");
    assert_eq!(order["service_level"]["code"], nexus["service"]["code"], "{what}");
    let customer = order["customer"]["code"].as_str().unwrap();
    let expected =
        CUSTOMER_MAP.split(',').find_map(|entry| entry.strip_prefix(&format!("{}:", nexus["customerID"]))).unwrap();
    assert_eq!(customer, expected, "{what}");

    let consignments = order["consignments"].as_array().unwrap();
    assert_eq!(consignments.len(), 1, "{what}");
    let c = &consignments[0];
    assert_eq!(c["consignment_reference_number"], nexus["consignmentNumber"], "{what}");
    assert_eq!(c["transport_network"]["requesting_depot_code"], nexus["requestingDepotCode"], "{what}");
    assert_eq!(c["transport_network"]["collection_depot_code"], nexus["collectingDepotCode"], "{what}");
    assert_eq!(c["transport_network"]["delivery_depot_code"], nexus["deliveryDepotCode"], "{what}");

    let pickup = &c["pickup_stop"];
    assert_eq!(pickup["location"]["postal_code"], nexus["colAddressPostcode"], "{what}");
    assert_eq!(pickup["location"]["address"], nexus["colAddressLine1"], "{what}");
    assert_eq!(pickup["location"]["city"], nexus["colAddressTown"], "{what}");
    assert_eq!(pickup["location"]["country"], "GB", "{what}");
    assert_eq!(pickup["date"], nexus["colDate"], "{what}");
    assert_eq!(pickup["reference_number"], format!("{what}-P"));
    let delivery = &c["delivery_stop"];
    assert_eq!(delivery["location"]["postal_code"], nexus["delAddressPostcode"], "{what}");
    assert_eq!(delivery["location"]["address"], nexus["delAddressLine1"], "{what}");
    assert_eq!(delivery["date"], nexus["estimatedDelDate"], "{what}");
    assert_eq!(delivery["reference_number"], format!("{what}-D"));
    assert_eq!(delivery["time_window"]["code"], nexus["timeWindow"]["code"], "{what}");
    if nexus["timeWindow"]["code"] == "TD" {
        assert_eq!(delivery["time_window"]["start_time"], nexus["startWindow"], "{what}");
        assert_eq!(delivery["time_window"]["end_time"], nexus["endWindow"], "{what}");
    }
    let extras: Vec<&str> = delivery["extras"].as_array().unwrap().iter().filter_map(|e| e["code"].as_str()).collect();
    let nexus_extras: Vec<&str> = nexus["extras"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(extras, nexus_extras, "{what}");

    let goods = c["goods"].as_array().unwrap();
    let quantity: u64 = goods.iter().map(|g| g["quantity"].as_u64().unwrap()).sum();
    assert_eq!(quantity, nexus["palletCount"].as_u64().unwrap(), "{what}");
    let weight: f64 = goods.iter().map(|g| g["total_weight_kg"].as_f64().unwrap()).sum();
    assert_eq!(weight, nexus["totalWeight"].as_f64().unwrap(), "{what}");
    let mut barcodes: Vec<String> = goods
        .iter()
        .flat_map(|g| g["handling_units"].as_array().unwrap().iter())
        .map(|h| h["barcode"]["value"].as_str().unwrap().to_owned())
        .collect();
    barcodes.sort();
    let mut expected: Vec<String> = booked.barcodes.clone();
    expected.sort();
    assert_eq!(barcodes, expected, "{what}");
    assert!(barcodes.iter().all(|b| b.len() == 16 && b.bytes().all(|d| d.is_ascii_digit())), "{what}");
    for good in goods {
        let code = good["packaging_type"]["code"].as_str().unwrap();
        let pallet = nexus["pallets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["barcode"] == good["handling_units"][0]["barcode"]["value"])
            .unwrap();
        let expected_code = if pallet["palletTypeID"] == 5 { "E" } else { "F" };
        assert_eq!(code, expected_code, "{what}");
        assert_eq!(good["unit_height_m"].as_f64().unwrap() * 100.0, pallet["height"].as_f64().unwrap(), "{what}");
        assert_eq!(good["unit_width_m"].as_f64().unwrap() * 100.0, pallet["width"].as_f64().unwrap(), "{what}");
        assert_eq!(good["unit_weight_kg"].as_f64(), pallet["weight"].as_f64(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_halfway_then_run_again_still_imports_each_once() {
    let world = world(Setup::default()).await;
    run(&world).await;
    let seeded = imported_orders(&world).len();
    let inbound = book_inbound(&world, 250, "KILL").await;
    world.qargo.handle.reset_request_counts();

    // The kill: the run is dropped mid-flight once it has posted half the orders, as a Lambda
    // timeout or a crash would end it — whatever call it was in the middle of.
    let options = ImportOptions::unbounded();
    let job = import_orders(&world.bridge, &options);
    let halfway = async {
        while qargo_count(&world, WEBHOOK.0, WEBHOOK.1) < 125 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        finished = job => panic!("the run finished before it could be killed: {finished:?}"),
        () = halfway => {}
    }
    // A post in flight when the run was dropped may still land: count once the orders settle.
    let mut after_kill = imported_orders(&world).len() - seeded;
    let mut steady = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = imported_orders(&world).len() - seeded;
        steady = if now == after_kill { steady + 1 } else { 0 };
        after_kill = now;
        if steady == 3 {
            break;
        }
    }
    assert!((100..250).contains(&after_kill), "{after_kill} orders when the run was killed");

    let report = run(&world).await;
    let orders = imported_orders(&world);
    assert_eq!(orders.len(), seeded + 250, "{report:#?}");
    for booked in &inbound {
        assert_eq!(orders.get(&booked.identifier()), Some(&1), "{}", booked.identifier());
    }
    assert!(origins(&world).values().all(|n| *n == 1));
    // The webhook's answer cannot tell a new order from a duplicate (Qargo de-duplicates on the
    // identifier): the rerun sends the rest, and at most the chunk in flight again.
    let sent = report.total(|n| n.created + n.duplicates) as usize;
    assert!(sent + after_kill >= 250, "the rerun sent the rest: {report:#?}");
    assert!(sent + after_kill <= 250 + bridge::jobs::order_import::CHUNK, "at most a chunk redone: {report:#?}");

    let quiet = run(&world).await;
    assert_eq!(quiet.total(|n| n.created + n.updated + n.duplicates), 0, "{quiet:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_delivery_date_and_a_cancel_on_nexus_reach_the_qargo_orders() {
    let world = world(Setup::default()).await;
    let inbound = book_inbound(&world, 12, "UPD").await;
    run(&world).await;
    let (moved, cancelled) = (&inbound[0], &inbound[1]);
    assert_eq!(order_of(&world, moved)["order"]["consignments"][0]["delivery_stop"]["date"], "2026-06-18");

    // UKD101 cancels one before collection; another gets a new delivery day; then the network
    // moves every other consignment on (collections, scans) without changing its booking.
    let booker = nexus_user(&world, BOOKERS[1].0, BOOKERS[1].1);
    booker.cancel(bridge::domain::NexusConsignmentId(cancelled.id)).await.unwrap();
    world.nexus.handle().set_delivery_date(moved.id as u64, "2026-06-22".parse().unwrap()).unwrap();
    world.nexus.handle().set_delivery_odds(0, 0);
    world.nexus.handle().advance(Duration::from_secs(8 * 3600));
    world.nexus.handle().reset_request_counts();
    world.qargo.handle.reset_request_counts();

    let report = run(&world).await;
    assert_eq!(report.total(|n| n.updated), 1, "{report:#?}");
    assert_eq!(report.total(|n| n.cancelled), 1, "{report:#?}");
    assert_eq!(report.total(|n| n.created), 0, "{report:#?}");
    assert!(report.total(|n| n.unchanged) >= 10, "the scanned ones are seen and left alone: {report:#?}");
    assert_eq!(qargo_count(&world, WEBHOOK.0, WEBHOOK.1), 2, "one update, one cancel; scans cost nothing");

    let moved_order = order_of(&world, moved);
    assert_eq!(moved_order["order"]["consignments"][0]["delivery_stop"]["date"], "2026-06-22");
    assert_eq!(moved_order["cancelled"], false);
    let cancelled_order = order_of(&world, cancelled);
    assert_eq!(cancelled_order["cancelled"], true);
    assert!(
        cancelled_order["stops"].as_array().unwrap().iter().all(|s| s["status"] == "CANCELLED"),
        "{cancelled_order:#}"
    );
    for other in &inbound[2..] {
        assert_eq!(order_of(&world, other)["cancelled"], false);
    }
    assert_within_delta_bound(&world, &report);

    world.qargo.handle.reset_request_counts();
    let quiet = run(&world).await;
    assert_eq!(quiet.total(|n| n.created + n.updated + n.cancelled + n.duplicates), 0, "{quiet:#?}");
    assert_eq!(world.qargo.handle.request_counts().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_customer_is_reported_retried_and_blocks_nothing() {
    // UKD205's customer (60233) is not mapped; UKD330's (55120) is mapped to a code Qargo lacks.
    let mut world =
        world(Setup { customer_map: "52011:ACME,83007:DUNE,88410:DUNE,55120:NOPE", ..Setup::default() }).await;
    let inbound = book_inbound(&world, 20, "UNK").await;
    let customer_of = |booked: &Booked| BOOKERS[inbound.iter().position(|b| b.id == booked.id).unwrap() % 5].2;
    let (blocked, fine): (Vec<&Booked>, Vec<&Booked>) =
        inbound.iter().partition(|b| matches!(customer_of(b), 60233 | 55120));
    assert_eq!((blocked.len(), fine.len()), (8, 12));

    let report = run(&world).await;
    let orders = imported_orders(&world);
    for booked in &fine {
        assert!(orders.contains_key(&booked.identifier()), "{} not imported", booked.identifier());
    }
    let rejected: BTreeMap<i64, String> =
        report.rejected().map(|r| (r.nexus_consignment_id, r.reason.clone())).collect();
    for booked in &blocked {
        assert!(!orders.contains_key(&booked.identifier()));
        let reason = rejected.get(&booked.id).unwrap_or_else(|| panic!("{} not reported: {report:#?}", booked.id));
        match customer_of(booked) {
            60233 => assert!(reason.contains("60233") && reason.contains("BRIDGE_CUSTOMER_MAP"), "{reason}"),
            _ => assert!(reason.contains("NOPE"), "Qargo's reason is kept: {reason}"),
        }
    }

    // Seen again in the next listing (the overlap): tried again, reported again.
    let again = run(&world).await;
    for booked in &blocked {
        let entry = again.rejected().find(|r| r.nexus_consignment_id == booked.id).unwrap();
        assert_eq!(entry.attempts, 2, "{entry:?}");
    }

    // Once the cursor has moved past them, they are retried from what the import stored, without
    // reading Nexus for them: still refused, still reported.
    world.nexus.handle().advance(Duration::from_secs(5 * 60));
    let late = book_inbound(&world, 1, "UNK-LATE").await;
    run(&world).await;
    world.nexus.handle().reset_request_counts();
    let retried = run(&world).await;
    let listed = retried.total(|n| n.listed) as usize;
    assert_eq!(listed, late.len(), "only the late booking is listed (again, in the overlap): {retried:#?}");
    assert!(retried.total(|n| n.retried) as usize >= blocked.len(), "{retried:#?}");
    for booked in &blocked {
        let entry = retried.rejected().find(|r| r.nexus_consignment_id == booked.id).unwrap();
        assert_eq!(entry.attempts, 4, "{entry:?}");
    }
    assert_within_delta_bound(&world, &retried);

    // Once the map is fixed they are imported, still without any change on Nexus.
    world.bridge.settings.customer_map.insert(60233, "BOLT");
    world.bridge.settings.customer_map.insert(55120, "ACME");
    world.nexus.handle().reset_request_counts();
    let fixed = run(&world).await;
    assert_eq!(fixed.rejected().count(), 0, "{fixed:#?}");
    assert!(fixed.total(|n| n.created) as usize >= blocked.len(), "{fixed:#?}");
    let orders = imported_orders(&world);
    for booked in inbound.iter().chain(&late) {
        assert_eq!(orders.get(&booked.identifier()), Some(&1), "{}", booked.identifier());
    }
    assert_within_delta_bound(&world, &fixed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_keeps_to_qargos_two_requests_a_second() {
    // Qargo's limits on, and the bridge exactly as `Bridge::assemble` builds it (its own pacer).
    let world = world(Setup { real_pace: true, door: OrderDoor::Upload, ..Setup::default() }).await;
    book_inbound(&world, 6, "PACE").await;
    let report = run(&world).await;
    assert!(report.total(|n| n.created) >= 6, "{report:#?}");
    assert_eq!(rate_limited(&world), 0, "no 429 from Qargo");
    assert_eq!(qargo_count(&world, TOKEN.0, TOKEN.1), 1, "one token for the whole run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_door_costs_what_the_module_docs_say() {
    for door in [OrderDoor::Upload, OrderDoor::Webhook] {
        let world = world(Setup { door, upload_polls_before_done: 0, ..Setup::default() }).await;
        book_inbound(&world, 30, "DOOR").await;
        let report = run(&world).await;
        let created = u64::from(report.total(|n| n.created));
        let api = qargo_count(&world, UPLOAD.0, UPLOAD.1) + qargo_count(&world, STATUS.0, STATUS.1);
        let webhook = qargo_count(&world, WEBHOOK.0, WEBHOOK.1);
        match door {
            OrderDoor::Upload => assert_eq!((api, webhook), (2 * created, 0), "upload door"),
            OrderDoor::Webhook => assert_eq!((api, webhook), (0, created), "webhook door"),
        }
    }
}

/// The figures in `jobs::order_import`'s docs: both doors at Qargo's real pace. Prints; asserts only
/// what does not depend on time. `cargo test -p end-to-end --test end_to_end
/// order_import::measure_the_two_qargo_doors -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement at Qargo's real 2 requests/s: about a minute"]
async fn measure_the_two_qargo_doors() {
    const ORDERS: usize = 40;
    for door in [OrderDoor::Upload, OrderDoor::Webhook] {
        let world = world(Setup { door, real_pace: true, upload_polls_before_done: 0, ..Setup::default() }).await;
        // Import the seed's consignments first, so the measured run holds exactly the new orders.
        run(&world).await;
        book_inbound(&world, ORDERS, "MEASURE").await;
        world.qargo.handle.reset_request_counts();
        let started = Instant::now();
        let report = run(&world).await;
        let seconds = started.elapsed().as_secs_f64();
        let created = report.total(|n| n.created) as usize;
        assert_eq!(created, ORDERS);
        let api = qargo_count(&world, UPLOAD.0, UPLOAD.1) + qargo_count(&world, STATUS.0, STATUS.1);
        let webhook = qargo_count(&world, WEBHOOK.0, WEBHOOK.1);
        let per_order = seconds / created as f64;
        println!(
            "{door:?} door: {created} orders, {api} Qargo API requests (inside 2/s), {webhook} webhook posts, \
             {} x 429, {} new token calls, {seconds:.1} s = {per_order:.2} s per order -> 1,000 orders: {:.0} s ({:.1} min)",
            rate_limited(&world),
            qargo_count(&world, TOKEN.0, TOKEN.1),
            per_order * 1000.0,
            per_order * 1000.0 / 60.0,
        );
        assert_eq!(rate_limited(&world), 0);
    }
}

/// On a Nexus with only the seen routes and fields (the simulator's `seen` profile, the bridge on
/// the `seen` capabilities): the import lists by creation day once per mapped customer, imports each
/// consignment once under the right customer and network, collected at PGD302's address with the
/// route details' pallet count, and a second run with nothing changed reads only the listings.
#[tokio::test]
async fn on_a_seen_nexus_the_import_lists_per_customer_and_collects_at_the_depot() {
    let world = world(Setup {
        profile: nexus_sim::Profile::Seen,
        customer_map: CUSTOMER_MAP_WITH_NETWORKS,
        ..Setup::default()
    })
    .await;
    let mut booked = Vec::new();
    for (i, (user, password, customer, network, _)) in BOOKERS.iter().enumerate() {
        let pallet = serde_json::json!({"palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100,
            "height": 110, "weight": 280, "limitedQuantityWeight": 0, "doNotStack": false});
        let body = serde_json::json!({
            "general": {"consignmentTypeID": 2, "customerID": customer, "consignmentNumber": format!("SEEN-{i}"),
                        "customerReference": format!("PO-SEEN-{i}"), "limitedQuantities": false},
            "collectionInfo": {"serviceID": 1, "dueDate": "2026-06-17"},
            "deliveryInfo": {"serviceID": 1},
            "deliveryAddress": {"countryID": 233, "name": "Trade Counter", "line1": "1 High Street",
                                "town": "Retford", "postcode": PGD302_POSTCODES[i]},
            "pallets": vec![pallet; i + 1],
        });
        let made = nexus_user(&world, user, password)
            .create_consignment(&serde_json::from_value(body).unwrap())
            .await
            .unwrap();
        booked.push((made.consignment_id, *network, *customer, i + 1));
    }

    let report = run(&world).await;
    // The simulator's world starts with consignments of its own for PGD302: these five among them.
    assert!(report.total(|n| n.created) >= 5 && report.rejected().count() == 0, "{report:?}");
    assert!(report.depot(PGD302).unwrap().problems.is_empty(), "{report:?}");
    for (id, network, customer, pallets) in &booked {
        let what = format!("NEXUS-{network}-{id}");
        let order = world.qargo.handle.order_by_identifier(&what).unwrap_or_else(|| panic!("no order {what}"));
        let order = &order["order"];
        let expected = CUSTOMER_MAP.split(',').find_map(|e| e.strip_prefix(&format!("{customer}:"))).unwrap();
        assert_eq!(order["customer"]["code"], expected, "{what}");
        let c = &order["consignments"][0];
        let pickup = &c["pickup_stop"]["location"];
        assert_eq!(
            (pickup["address"].as_str(), pickup["city"].as_str(), pickup["postal_code"].as_str()),
            (Some("Unit 4 Randall Way"), Some("Retford"), Some("DN22 7GR")),
            "{what}: collected at the depot"
        );
        let quantity: u64 = c["goods"].as_array().unwrap().iter().map(|g| g["quantity"].as_u64().unwrap()).sum();
        assert_eq!(quantity, *pallets as u64, "{what}: the route details' pallet count");
    }

    let before = world.nexus.handle().request_counts().for_principal("pgd302.api");
    let again = run(&world).await;
    assert_eq!(again.total(|n| n.created) + again.total(|n| n.updated), 0, "{again:?}");
    assert_eq!(again.total(|n| n.unchanged), report.total(|n| n.listed), "{again:?}");
    let listings = world.nexus.handle().request_counts().for_principal("pgd302.api") - before;
    assert_eq!(listings, 5, "one listing per mapped customer, no detail read for an unchanged record");
    assert_eq!(imported_orders(&world).values().copied().max(), Some(1), "once each");
}
