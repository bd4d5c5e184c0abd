//! Status sync, Nexus → Qargo, end to end: the Nexus simulator's lifecycle driver scans the
//! pallets, the bridge's poll carries every scan into the Qargo simulator's history per barcode and
//! moves the stops exactly when the last pallet gets there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bridge::domain::{Network, NexusConsignmentId};
use bridge::error::StoreError;
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::status_sync::{StatusReport, SyncOptions, sync_statuses};
use bridge::nexus::capabilities::{Capabilities, Capability};
use bridge::store::{ConsignmentSync, SyncKey, SyncState};
use jiff::Timestamp;
use nexus_sim::Stage;
use serde_json::{Value, json};

use crate::dispatch::{Storage, World, booking_of, order, quick_retries, response, world, world_with};

const LONDON: &str = "Europe/London";

impl World {
    /// Moves the Nexus simulator's clock (running its lifecycle driver) and the bridge's with it.
    pub(crate) fn advance(&self, by: Duration) {
        self.nexus.handle().advance(by);
        let now = self.nexus.handle().now().to_zoned(jiff::tz::TimeZone::get(LONDON).unwrap()).unwrap();
        self.clock.set(now.timestamp());
    }

    pub(crate) async fn sync(&self) -> StatusReport {
        sync_statuses(&self.bridge, &SyncOptions::unbounded()).await.expect("a status sync run")
    }

    async fn nexus_events(&self, id: i64) -> Vec<bridge::nexus::wire::Event> {
        let client = self.bridge.nexus.for_depot(&"PGD302".parse().unwrap()).unwrap();
        client.events(NexusConsignmentId(id)).await.unwrap()
    }
}

fn uk_time(at: jiff::civil::DateTime) -> Timestamp {
    at.to_zoned(jiff::tz::TimeZone::get(LONDON).unwrap()).unwrap().timestamp()
}

/// Each barcode's scan codes in Qargo, in the order received.
pub(crate) fn qargo_scans(world: &World, barcodes: &[String]) -> BTreeMap<String, Vec<String>> {
    barcodes
        .iter()
        .map(|b| {
            let codes =
                world.qargo.handle.scans(b).into_iter().filter_map(|scan| end_to_end::nexus_code(&scan)).collect();
            (b.clone(), codes)
        })
        .collect()
}

/// Each barcode's scan codes on Nexus, in time order.
pub(crate) fn nexus_scans(events: &[bridge::nexus::wire::Event]) -> BTreeMap<String, Vec<String>> {
    let mut sorted: Vec<&bridge::nexus::wire::Event> = events.iter().collect();
    sorted.sort_by_key(|e| (e.event_date_time, e.event_id));
    let mut scans: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in sorted {
        if let Some(barcode) = &event.barcode {
            scans.entry(barcode.clone()).or_default().push(event.code.clone());
        }
    }
    scans
}

/// The stop's status history in Qargo: (status, event time).
pub(crate) fn stop_history(world: &World, order_id: uuid::Uuid, stop_id: uuid::Uuid) -> Vec<(String, Timestamp)> {
    let detail = world.qargo.handle.order_detail(order_id).unwrap();
    let stop = detail["stops"].as_array().unwrap().iter().find(|s| s["id"] == json!(stop_id)).unwrap().clone();
    stop["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["source"] != json!("planning") && h["status"].is_string())
        .filter(|h| matches!(h["status"].as_str(), Some("AT_STOP" | "COMPLETED")))
        .map(|h| (h["status"].as_str().unwrap().to_owned(), h["event_time"].as_str().unwrap().parse().unwrap()))
        .collect()
}

/// When the last pallet first reached one of `codes`.
pub(crate) fn last_pallet_reached(events: &[bridge::nexus::wire::Event], codes: &[&str]) -> Timestamp {
    let mut first: BTreeMap<String, Timestamp> = BTreeMap::new();
    for event in events.iter().filter(|e| codes.contains(&e.code.as_str())) {
        let at = uk_time(event.event_date_time);
        let barcode = event.barcode.clone().unwrap();
        first.entry(barcode).and_modify(|t| *t = (*t).min(at)).or_insert(at);
    }
    *first.values().max().expect("every pallet reached it")
}

async fn book_three_pallets(world: &World) -> (qargo_sim::CreatedOrder, i64) {
    let mut input = order("PALLEX_OUT", "2026-06-17");
    input["consignments"][0]["goods"][0]["quantity"] = json!(3);
    let created = world.create_order(input);
    let record = world.dispatch(&created, "CREATE").await;
    assert!(record.accepted, "{}", response(&record));
    (created, booking_of(&response(&record)).1)
}

#[tokio::test]
async fn a_booked_consignment_is_followed_to_delivery_pallet_by_pallet() {
    let world = world(Storage::Memory).await;
    world.nexus.handle().set_delivery_odds(0, 0);
    let (created, id) = book_three_pallets(&world).await;
    let delivery_stop = created.consignments[0].delivery_stop_id;
    let mut runs = 0;
    while world.nexus.handle().status_of(id as u64) != Some("DEL") {
        assert!(runs < 400, "delivered within 400 runs of 20 minutes");
        world.advance(Duration::from_secs(20 * 60));
        world.sync().await;
        runs += 1;
        // The delivery stop never moves before every pallet has got there.
        let history = stop_history(&world, created.order_id, delivery_stop);
        let events = world.nexus_events(id).await;
        let at_stop_pallets = events
            .iter()
            .filter(|e| matches!(e.code.as_str(), "SCDV" | "ARRI"))
            .filter_map(|e| e.barcode.clone())
            .collect::<std::collections::BTreeSet<_>>();
        if at_stop_pallets.len() < 3 {
            assert!(history.is_empty(), "the stop moved before the last pallet: {history:?}");
        }
    }
    let last = world.sync().await;
    assert_eq!(last.events_applied, 0, "nothing left after delivery");
    assert_eq!(last.lag_seconds, Some(0), "a completed run reports its lag (the test clock stands still)");

    let events = world.nexus_events(id).await;
    let nexus = nexus_scans(&events);
    assert_eq!(nexus.len(), 3);
    let barcodes: Vec<String> = nexus.keys().cloned().collect();
    assert_eq!(qargo_scans(&world, &barcodes), nexus, "every scan, per barcode, once, in order");

    let history = stop_history(&world, created.order_id, delivery_stop);
    let statuses: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["AT_STOP", "COMPLETED"]);
    assert_eq!(history[0].1, last_pallet_reached(&events, &["SCDV", "ARRI"]), "AT_STOP when the last pallet went out");
    assert_eq!(history[1].1, last_pallet_reached(&events, &["MPOD", "EPOD"]), "COMPLETED when the last was delivered");
    assert_eq!(world.qargo.handle.stop_status(delivery_stop).as_deref(), Some("COMPLETED"));
    // As the collecting depot we drive the pickup ourselves: Nexus scans do not move it.
    let pickup = stop_history(&world, created.order_id, created.consignments[0].pickup_stop_id);
    assert!(pickup.is_empty(), "{pickup:?}");
}

#[tokio::test]
async fn without_an_events_endpoint_the_consignment_status_moves_the_stops_and_reads_no_events() {
    let world = world_with(Storage::Memory, |bridge| {
        bridge.settings.nexus_capabilities = Capabilities::full().without(Capability::EventsRead)
    })
    .await;
    world.nexus.handle().set_delivery_odds(0, 0);
    let (created, id) = book_three_pallets(&world).await;
    let delivery_stop = created.consignments[0].delivery_stop_id;
    world.nexus.handle().reset_request_counts();

    world.nexus.handle().step(id as u64, Stage::OutForDelivery).unwrap();
    world.advance(Duration::from_secs(60));
    world.sync().await;
    assert_eq!(world.qargo.handle.stop_status(delivery_stop).as_deref(), Some("AT_STOP"), "out for delivery");
    world.nexus.handle().step(id as u64, Stage::Delivered).unwrap();
    world.advance(Duration::from_secs(60));
    let report = world.sync().await;
    assert!(report.events_applied > 0, "{report:?}");
    assert_eq!(world.qargo.handle.stop_status(delivery_stop).as_deref(), Some("COMPLETED"));
    let again = world.sync().await;
    assert_eq!(again.events_applied, 0, "a status is applied once: {again:?}");

    let barcodes: Vec<String> = world.nexus_events(id).await.iter().filter_map(|e| e.barcode.clone()).collect();
    for (barcode, codes) in qargo_scans(&world, &barcodes) {
        assert_eq!(codes, ["POC", "SCDV", "EPOD"], "{barcode}: the statuses seen, once each");
    }
    let events_reads: u64 = world
        .nexus
        .handle()
        .request_counts()
        .routes
        .iter()
        .filter(|r| r.route.contains("/events"))
        .map(|r| r.count)
        .sum();
    assert_eq!(events_reads, 1, "only this test's own read of the events, none by the bridge");
}

#[tokio::test]
async fn without_a_delta_listing_the_status_sync_lists_by_creation_day_and_reads_each_change_once() {
    let world = world_with(Storage::Memory, |bridge| {
        bridge.settings.nexus_capabilities =
            Capabilities::full().without(Capability::DeltaListing).without(Capability::DepotFields)
    })
    .await;
    world.nexus.handle().set_delivery_odds(0, 0);
    let (created, id) = book_three_pallets(&world).await;
    let delivery_stop = created.consignments[0].delivery_stop_id;

    world.nexus.handle().step(id as u64, Stage::Delivered).unwrap();
    world.advance(Duration::from_secs(60));
    let report = world.sync().await;
    assert!(report.listed >= 1 && report.events_applied > 0, "{report:?}");
    assert_eq!(world.qargo.handle.stop_status(delivery_stop).as_deref(), Some("COMPLETED"), "{report:?}");
    let again = world.sync().await;
    assert_eq!(again.events_applied, 0, "{again:?}");
    assert!(again.unchanged >= 1, "the same record read again costs nothing more: {again:?}");
    let imports = import_orders(&world.bridge, &ImportOptions::unbounded()).await.unwrap();
    assert_eq!(imports.depots[0].own, 0, "our own booking is not listed under another customer: {imports:?}");
}

#[tokio::test]
async fn a_failed_delivery_is_visible_then_the_redelivery_completes() {
    let world = world(Storage::Memory).await;
    world.nexus.handle().set_delivery_odds(0, 0);
    let (created, id) = book_three_pallets(&world).await;
    world.nexus.handle().set_delivery_outcome(id as u64, Some("failed")).unwrap();
    let mut failed_code = None;
    for _ in 0..600 {
        world.advance(Duration::from_secs(30 * 60));
        world.sync().await;
        let events = world.nexus_events(id).await;
        if failed_code.is_none()
            && let Some(failed) = events.iter().find(|e| e.code.starts_with("ND"))
        {
            failed_code = Some(failed.code.clone());
            world.nexus.handle().set_delivery_outcome(id as u64, None).unwrap();
        }
        if world.nexus.handle().status_of(id as u64) == Some("DEL") {
            break;
        }
    }
    let failed_code = failed_code.expect("the first attempt failed");
    world.sync().await;
    let detail = world.qargo.handle.order_detail(created.order_id).unwrap();
    let delivery = detail["stops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(created.consignments[0].delivery_stop_id))
        .unwrap()
        .clone();
    let notes: Vec<String> = delivery["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["key"] == "status_note")
        .map(|a| a["value"].to_string())
        .collect();
    assert!(notes.iter().any(|n| n.contains(&failed_code)), "the planner sees the failed {failed_code}: {notes:?}");
    assert_eq!(world.qargo.handle.stop_status(created.consignments[0].delivery_stop_id).as_deref(), Some("COMPLETED"));
    let events = world.nexus_events(id).await;
    let barcodes: Vec<String> = nexus_scans(&events).keys().cloned().collect();
    assert_eq!(qargo_scans(&world, &barcodes), nexus_scans(&events));
}

#[tokio::test]
async fn an_unknown_scan_code_is_kept_in_history_and_moves_nothing() {
    let world = world(Storage::Memory).await;
    let (created, id) = book_three_pallets(&world).await;
    world.advance(Duration::from_secs(60));
    world.nexus.handle().record_raw_scan(id as u64, 0, "ZZQX").unwrap();
    let report = world.sync().await;
    assert_eq!(report.unknown_codes, 1, "{report:?}");
    let events = world.nexus_events(id).await;
    let barcode = events.iter().find(|e| e.code == "ZZQX").unwrap().barcode.clone().unwrap();
    let scans = world.qargo.handle.scans(&barcode);
    assert!(scans.iter().any(|s| end_to_end::nexus_code(s).as_deref() == Some("ZZQX")), "{scans:?}");
    assert!(stop_history(&world, created.order_id, created.consignments[0].delivery_stop_id).is_empty());
    let again = world.sync().await;
    assert_eq!(again.events_applied, 0, "applied once");
    // Listed again through the poll overlap, unchanged since: its events are not read again.
    assert!(again.listed >= 1 && again.unchanged >= 1, "{again:?}");
    assert_eq!(again.consignments_read, again.retried, "only the retry list's consignments were read: {again:?}");
}

/// A sync-state port that dies (panics, like a crashed invocation) on one chosen `load`.
struct CrashingSyncState {
    inner: Arc<dyn SyncState>,
    loads: AtomicUsize,
    crash_at: AtomicUsize,
}

#[async_trait]
impl SyncState for CrashingSyncState {
    async fn load(&self, key: &SyncKey) -> Result<Option<ConsignmentSync>, StoreError> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.crash_at.load(Ordering::SeqCst) {
            panic!("injected crash in the middle of a status sync run");
        }
        self.inner.load(key).await
    }

    async fn save(&self, key: &SyncKey, state: &ConsignmentSync) -> Result<bool, StoreError> {
        self.inner.save(key, state).await
    }
}

/// `count` consignments booked by UKD101 for Thames Kitchens (52011 → ACME) to PGD302's area.
async fn book_inbound(world: &World, count: usize) -> Vec<i64> {
    let ukd101 = end_to_end::depot_user(&world.nexus.base_url(), "UKD101", quick_retries());
    let postcodes = ["DN22 7SS", "S1 2HE", "NG1 5FS", "LN1 1DF", "HU1 1UU", "YO1 7HH"];
    let mut ids = Vec::new();
    for i in 0..count {
        let body =
            end_to_end::simple_booking(52011, "PALLEX", &format!("TK-{i:05}"), postcodes[i % postcodes.len()], 1);
        ids.push(ukd101.create_consignment(&body).await.expect("booked by UKD101").consignment_id);
    }
    ids
}

#[tokio::test]
async fn a_thousand_consignments_over_ten_runs_with_a_crash_apply_every_event_once() {
    let switch: Arc<std::sync::OnceLock<Arc<CrashingSyncState>>> = Arc::default();
    let installed = switch.clone();
    let world = world_with(Storage::Memory, move |bridge| {
        let crashing = Arc::new(CrashingSyncState {
            inner: bridge.sync_state.clone(),
            loads: AtomicUsize::new(0),
            crash_at: AtomicUsize::new(usize::MAX),
        });
        bridge.sync_state = crashing.clone();
        let _ = installed.set(crashing);
    })
    .await;
    let crashing = switch.get().expect("installed").clone();
    world.nexus.handle().set_delivery_odds(0, 0);
    let count: usize = std::env::var("STATUS_SYNC_COUNT").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let started = std::time::Instant::now();
    let ids = book_inbound(&world, count).await;
    eprintln!("booked {count} in {:?}", started.elapsed());
    let imported = import_orders(&world.bridge, &ImportOptions::unbounded()).await.expect("imported");
    eprintln!("imported in {:?}", started.elapsed());
    for id in &ids {
        let identifier = format!("NEXUS-PALLEX-{id}");
        assert!(world.qargo.handle.order_by_identifier(&identifier).is_some(), "{identifier} imported");
    }
    assert!(imported.total(|n| n.created) as usize >= count);

    let page_size = u64::from(world.bridge.settings.nexus_page_size);
    for run in 1..=10 {
        world.advance(Duration::from_secs(4 * 3600));
        if run == 4 {
            crashing.loads.store(0, Ordering::SeqCst);
            crashing.crash_at.store(count / 2, Ordering::SeqCst);
            let bridge = world.bridge.clone();
            let crashed = tokio::spawn(async move { sync_statuses(&bridge, &SyncOptions::unbounded()).await }).await;
            assert!(crashed.is_err(), "run 4 died mid-way");
            crashing.crash_at.store(usize::MAX, Ordering::SeqCst);
            continue;
        }
        let before = world.nexus.handle().request_counts().total;
        let report = world.sync().await;
        eprintln!("run {run} at {:?}: {report:?}", started.elapsed());
        let requests = world.nexus.handle().request_counts().total - before;
        let listed = u64::from(report.listed);
        // List pages, one events read per changed consignment, one read per retried one, and a login
        // when the token has run out on the simulator's clock.
        let bound =
            listed.div_ceil(page_size) + 1 + u64::from(report.consignments_read) + u64::from(report.retried) + 1;
        assert!(
            requests <= bound,
            "run {run}: {requests} Nexus requests for {listed} listed and {} read (bound {bound})",
            report.consignments_read
        );
    }
    // A last quiet run picks up anything the crash left.
    world.sync().await;

    let mut compared = 0;
    for id in &ids {
        let events = world.nexus_events(*id).await;
        let nexus = nexus_scans(&events);
        let barcodes: Vec<String> = nexus.keys().cloned().collect();
        assert_eq!(qargo_scans(&world, &barcodes), nexus, "consignment {id}: every event once");
        compared += events.len();
    }
    assert!(compared >= count * 5, "events were spread over the runs: {compared}");
}

/// Where the Qargo simulator's log of status updates stands.
fn updates_logged(world: &World) -> usize {
    world.qargo.handle.status_updates().len()
}

/// The status-update calls addressing `order`'s stops since the log stood at `from` (a call's
/// updates address one consignment's stop; its first is at index 0). The test world's Nexus has
/// other consignments for us, which the sync tries too.
fn calls_for(world: &World, order: &qargo_sim::CreatedOrder, from: usize) -> usize {
    let stops: Vec<Value> =
        order.consignments.iter().flat_map(|c| [json!(c.pickup_stop_id), json!(c.delivery_stop_id)]).collect();
    world
        .qargo
        .handle
        .status_updates()
        .iter()
        .skip(from)
        .filter(|u| u.update_index == 0 && u.stop_id.is_some_and(|stop| stops.contains(&json!(stop))))
        .count()
}

/// The run's problems with consignment `id`.
fn problems_of(report: &StatusReport, id: i64) -> Vec<&String> {
    report.problems.iter().filter(|p| p.starts_with(&format!("PALLEX {id}:"))).collect()
}

/// Freezes the lifecycle driver on the consignment's collecting and delivery legs: the test steps it.
fn freeze(world: &World, id: i64) {
    let json = world.nexus.handle().consignment_json(id as u64).expect("on Nexus");
    let depots: Vec<String> = ["collectingDepotCode", "deliveryDepotCode"]
        .iter()
        .filter_map(|field| json[*field].as_str().map(str::to_owned))
        .collect();
    world.nexus.handle().set_manual_depots(&depots);
}

/// Steps the consignment on to `stage` (a scan per pallet per stage passed), then a minute passes.
fn step(world: &World, id: i64, stage: Stage) {
    world.nexus.handle().step(id as u64, stage).expect("stepped on");
    world.advance(Duration::from_secs(60));
}

#[tokio::test]
async fn a_consignments_scans_go_to_qargo_in_batches_with_fewer_calls_than_scans() {
    let stages = [Stage::Collected, Stage::AtHub, Stage::OutForDelivery, Stage::Delivered];
    for batch in [1, 25] {
        let world = world_with(Storage::Memory, move |bridge| bridge.settings.qargo_update_batch = batch).await;
        let (created, id) = book_three_pallets(&world).await;
        freeze(&world, id);
        let from = updates_logged(&world);
        let (mut scans, mut statuses) = (0, 0);
        for stage in stages {
            step(&world, id, stage);
            let report = world.sync().await;
            assert!(problems_of(&report, id).is_empty() && report.scans_sent_twice == 0, "batch {batch}: {report:?}");
            (scans, statuses) = (scans + report.events_applied, statuses + report.stop_statuses_set);
        }
        let received = calls_for(&world, &created, from) as u32;
        eprintln!("QARGO_UPDATE_BATCH={batch}: {scans} scans and {statuses} stop statuses in {received} calls");

        let events = world.nexus_events(id).await;
        let nexus = nexus_scans(&events);
        let barcodes: Vec<String> = nexus.keys().cloned().collect();
        assert_eq!(qargo_scans(&world, &barcodes), nexus, "batch {batch}: every scan, per barcode, once, in order");
        assert_eq!(scans as usize, nexus.values().map(Vec::len).sum::<usize>());
        let history = stop_history(&world, created.order_id, created.consignments[0].delivery_stop_id);
        let moved: Vec<&str> = history.iter().map(|(status, _)| status.as_str()).collect();
        assert_eq!(moved, ["AT_STOP", "COMPLETED"], "batch {batch}");
        assert_eq!(history[0].1, last_pallet_reached(&events, &["SCDV", "ARRI"]), "AT_STOP with the last pallet out");
        if batch == 1 {
            assert_eq!(received, scans + statuses, "one call per update");
        } else {
            // Three pallets: a call carries a scan of each (and the stop status reached with them).
            assert!(received * 3 <= scans + 3, "{received} calls for {scans} scans");
        }
    }
}

/// Points the sync state's delivery stop of a consignment we booked at `stop`; answers the old one.
async fn set_delivery_stop(world: &World, id: i64, stop: Option<String>) -> Option<String> {
    let key = SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(id) };
    let mut state = world.bridge.sync_state.load(&key).await.unwrap().expect("booked: a sync state");
    let link = state.qargo.as_mut().expect("the dispatch recorded the Qargo order");
    let old = std::mem::replace(&mut link.delivery_stop_id, stop);
    assert!(world.bridge.sync_state.save(&key, &state).await.unwrap());
    old
}

#[tokio::test]
async fn a_refused_update_inside_a_batch_is_neither_lost_nor_applied_twice() {
    let world = world(Storage::Memory).await;
    let (created, id) = book_three_pallets(&world).await;
    freeze(&world, id);
    let delivery_stop = created.consignments[0].delivery_stop_id;
    let codes = |world: &World| -> BTreeMap<String, Vec<String>> {
        let barcodes: Vec<String> = world.nexus.handle().consignment_json(id as u64).unwrap()["pallets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["barcode"].as_str().unwrap().to_owned())
            .collect();
        qargo_scans(world, &barcodes)
    };

    // What Qargo received for the consignment's stops since the log stood at `from`: per update,
    // (scan code or stop status, applied).
    let received = |world: &World, from: usize| -> Vec<(String, bool)> {
        let stops = [json!(created.consignments[0].pickup_stop_id), json!(delivery_stop)];
        world
            .qargo
            .handle
            .status_updates()
            .into_iter()
            .skip(from)
            .filter(|u| u.stop_id.is_some_and(|stop| stops.contains(&json!(stop))))
            .map(|u| {
                let stop = &u.update["stop"];
                let scan = stop["question_answers"]["scan_barcode"][0]["description"].as_str().map(|d| d[..4].trim());
                (scan.or(stop["status"].as_str()).unwrap_or("?").to_owned(), u.applied)
            })
            .collect()
    };
    let applied = |list: &[(&str, usize)]| -> Vec<(String, bool)> {
        list.iter().flat_map(|(what, n)| std::iter::repeat_n(((*what).to_owned(), true), *n)).collect()
    };

    // 1. A stop Qargo cannot match: the batch addressing it is discarded whole, the others kept.
    let nowhere = uuid::Uuid::new_v4().to_string();
    let real = set_delivery_stop(&world, id, Some(nowhere.clone())).await;
    step(&world, id, Stage::AtHub);
    let from = updates_logged(&world);
    let report = world.sync().await;
    assert_eq!(report.scans_sent_twice, 0, "{report:?}");
    let problems = problems_of(&report, id);
    assert!(problems.len() == 1 && problems[0].contains("No stop with id"), "{problems:?}");
    assert_eq!(received(&world, from), applied(&[("POC", 3), ("ARRC", 3), ("SCOT", 3)]));
    assert_eq!(calls_for(&world, &created, from), 3, "three calls taken: POC, ARRC and SCOT of the three pallets");
    let refused: Vec<(usize, bool)> = world
        .qargo
        .handle
        .status_updates()
        .into_iter()
        .skip(from)
        .filter(|u| u.update["stop"]["id"] == json!(nowhere))
        .map(|u| (u.update_index, u.applied))
        .collect();
    assert_eq!(refused, [(0, false), (1, false), (2, false)], "the ARRH of each pallet, in one call, discarded whole");
    for (barcode, codes) in codes(&world) {
        assert_eq!(codes, ["POC", "ARRC", "SCOT"], "{barcode}: the refused ARRH not applied");
    }
    set_delivery_stop(&world, id, real).await;
    let from = updates_logged(&world);
    let report = world.sync().await;
    assert!(problems_of(&report, id).is_empty(), "{report:?}");
    assert_eq!(received(&world, from), applied(&[("ARRH", 3)]), "the three ARRH now, once each");
    assert_eq!(calls_for(&world, &created, from), 2, "the update refused last run alone first, then the rest");
    assert_eq!(codes(&world), nexus_scans(&world.nexus_events(id).await), "each scan once, in order");

    // 2. The delivery stop completed in Qargo first (say by the delivering depot's driver): the
    // AT_STOP reached with the last SCDV is refused, inside the batch of the three SCDV scans.
    let completed = json!({"updates": [{
        "event_time": Timestamp::now().to_string(),
        "stop": {"id": delivery_stop, "status": "COMPLETED"},
    }]});
    world.bridge.qargo.subco_status_update(&completed).await.expect("completed in Qargo");
    step(&world, id, Stage::OutForDelivery);
    let from = updates_logged(&world);
    let report = world.sync().await;
    assert_eq!(report.scans_sent_twice, 0, "the refused update was found without sending a scan again");
    let problems = problems_of(&report, id);
    assert!(problems.len() == 1 && problems[0].contains("AT_STOP"), "{problems:?}");
    let mut expected = applied(&[("DEPH", 3), ("ARRD", 3), ("SCDV", 3)]);
    expected.extend([("AT_STOP".to_owned(), false), ("AT_STOP".to_owned(), false)]);
    assert_eq!(received(&world, from), expected, "AT_STOP refused in the batch, and alone again; each scan once");
    assert_eq!(calls_for(&world, &created, from), 4, "three batches, then the stop status alone again");
    assert_eq!(codes(&world), nexus_scans(&world.nexus_events(id).await), "each scan once, in order");
    let key = SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(id) };
    let state = world.bridge.sync_state.load(&key).await.unwrap().unwrap();
    assert_eq!(state.stop_statuses_set.get("DELIVERY").map(String::as_str), Some("AT_STOP"), "not sent again");
    let from = updates_logged(&world);
    let again = world.sync().await;
    assert!(problems_of(&again, id).is_empty(), "{again:?}");
    assert_eq!(calls_for(&world, &created, from), 0, "nothing left to send");

    // 3. Delivered (ARRI, then MPOD or EPOD, of each pallet): the scans and COMPLETED (the status
    // the stop has: Qargo takes it) in two calls.
    step(&world, id, Stage::Delivered);
    let from = updates_logged(&world);
    let report = world.sync().await;
    assert!(problems_of(&report, id).is_empty(), "{report:?}");
    let last = received(&world, from);
    assert!(last.len() == 7 && last.iter().all(|(_, applied)| *applied), "{last:?}");
    assert_eq!(last[6].0, "COMPLETED", "{last:?}");
    assert_eq!(calls_for(&world, &created, from), 2);
    assert_eq!(codes(&world), nexus_scans(&world.nexus_events(id).await), "each scan once, in order");
    assert_eq!(world.qargo.handle.stop_status(delivery_stop).as_deref(), Some("COMPLETED"));
}

#[tokio::test]
async fn consignments_with_both_legs_ours_are_not_synced() {
    let world = world(Storage::Memory).await;
    // Collected in PGD302's area and delivered in it: both legs are ours.
    let mut input = order("PALLEX_OUT", "2026-06-17");
    input["consignments"][0]["delivery_stop"]["location"]["postal_code"] = json!("S1 2HE");
    input["consignments"][0]["delivery_stop"]["location"]["city"] = json!("Sheffield");
    let created = world.create_order(input);
    let record = world.dispatch(&created, "CREATE").await;
    assert!(record.accepted, "{}", response(&record));
    world.advance(Duration::from_secs(8 * 3600));
    let report = world.sync().await;
    assert!(report.not_synced >= 1, "{report:?}");
    assert_eq!(report.events_applied, 0);
    let scans: Vec<Value> = world.qargo.handle.orders();
    assert!(!scans.is_empty());
}
