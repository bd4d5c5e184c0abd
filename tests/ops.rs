//! The operations CLI's logic (`bridge::ops`) against local storage — the embedded store and the
//! document folder the local bridge uses — with the two simulators where Nexus and Qargo are read,
//! and the dead-letter queues against moto's SQS and EventBridge.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge::domain::{NexusConsignmentId, QargoConsignmentId};
use bridge::jobs::order_import::state::{ImportState, Rejected};
use bridge::ops::dlq::{DeadLetters, RedriveOptions, RedriveTarget, aws_sdk_eventbridge, aws_sdk_sqs};
use bridge::ops::progress::{FanOut, LineProgress, ProgressEvent, RecordedProgress};
use bridge::ops::reconcile::{DisagreementKind, reconcile};
use bridge::ops::rerun::{Job, LabelAttachment, edit_position, rerun_consignment, rerun_labels, reset_cursor};
use bridge::ops::story::{Remote, tell_story};
use bridge::ops::target::{Target, open};
use bridge::ops::{ConsignmentRef, Ops, OpsError};
use bridge::qargo::wire::OrderOperation;
use bridge::store::embedded::{DirectoryDocuments, EmbeddedStore};
use bridge::store::{Booking, ClaimOutcome, CursorKey, DispatchLedger, DispatchState, DocumentStore, SyncKey};
use bridge::wiring::Bridge;
use nexus_sim::Stage;
use serde_json::{Value, json};

use crate::dispatch::{Storage, World, booking_of, order, quick_retries, response, world_with};

/// The dispatch test world with the local bridge's storage: an embedded store and a document folder
/// in a temporary data folder, shared by the bridge and the operations.
struct OpsWorld {
    world: World,
    ops: Ops,
    data: tempfile::TempDir,
}

async fn ops_world(adjust: impl FnOnce(&mut Bridge)) -> OpsWorld {
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&data.path().join("bridge.redb")).unwrap());
    let documents = Arc::new(DirectoryDocuments::new(data.path().join("documents")));
    let (ports, folder) = (store.clone(), documents.clone());
    let world = world_with(Storage::Memory, move |bridge| {
        bridge.ledger = ports.clone();
        bridge.cursors = ports.clone();
        bridge.sync_state = ports;
        bridge.documents = folder;
        adjust(bridge);
    })
    .await;
    let ops = Ops::online((*world.bridge).clone(), store);
    OpsWorld { world, ops, data }
}

/// A dispatch booked and labelled through Qargo's webhook.
struct Dispatched {
    qargo_id: QargoConsignmentId,
    key: SyncKey,
    order_id: uuid::Uuid,
}

impl OpsWorld {
    async fn dispatch(&self, resource: &str) -> Dispatched {
        let created = self.world.create_order(order(resource, "2026-06-17"));
        let record = self.world.dispatch(&created, "CREATE").await;
        assert!(record.accepted, "{}", response(&record));
        let (network, nexus_id, _) = booking_of(&response(&record));
        Dispatched {
            qargo_id: created.consignments[0].consignment_id.to_string().parse().unwrap(),
            key: SyncKey { network: network.parse().unwrap(), nexus_consignment_id: NexusConsignmentId(nexus_id) },
            order_id: created.order_id,
        }
    }

    fn label_file(&self, key: &str) -> std::path::PathBuf {
        self.data.path().join("documents").join(key)
    }

    /// Loses a stored document as a store loses an object: its bytes and what is known of it.
    fn lose_document(&self, key: &str) {
        let documents = self.data.path().join("documents");
        std::fs::remove_file(documents.join(key)).unwrap();
        std::fs::remove_file(documents.join(".meta").join(format!("{key}.json"))).unwrap();
    }

    fn labels_in_qargo(&self, order_id: uuid::Uuid) -> usize {
        let detail = self.world.qargo.handle.order_detail(order_id).unwrap();
        detail["documents"].as_array().unwrap().iter().filter(|d| d["type"] == "PALLET_LABEL_EXTERNAL").count()
    }

    /// Moves a cursor's `since` far ahead, so the job's own listing finds nothing: whatever it does
    /// next, it does because of the operation under test.
    async fn skip_listing(&self, job: Job) {
        let key =
            CursorKey { job: job.name(), depot: "PGD302".parse().unwrap(), network: bridge::domain::Network::Pallex };
        edit_position(self.ops.cursors.as_ref(), &key, self.ops.clock.now(), |position| {
            position.insert("since".into(), json!("2030-01-01T00:00:00"));
        })
        .await
        .unwrap();
    }
}

fn kinds(report: &bridge::ops::reconcile::ReconcileReport) -> Vec<(DisagreementKind, Option<String>)> {
    report.disagreements.iter().map(|d| (d.kind, d.qargo_consignment_id.clone())).collect()
}

#[tokio::test]
async fn story_tells_the_ledger_sync_state_documents_and_both_sides() {
    let w = ops_world(|_| {}).await;
    let booked = w.dispatch("PALLEX_OUT").await;
    w.world.nexus.handle().step(booked.key.nexus_consignment_id.0 as u64, Stage::Delivered).unwrap();
    bridge::jobs::status_sync::sync_statuses(&w.world.bridge, &bridge::jobs::status_sync::SyncOptions::unbounded())
        .await
        .expect("a status sync run");

    let by_qargo = tell_story(&w.ops, &ConsignmentRef::Qargo(booked.qargo_id.clone())).await.unwrap();
    let by_nexus = tell_story(&w.ops, &ConsignmentRef::Nexus(booked.key)).await.unwrap();
    for story in [&by_qargo, &by_nexus] {
        let ledger = story.ledger.as_ref().expect("the ledger record");
        assert_eq!(ledger.state, DispatchState::Labelled);
        assert_eq!(story.qargo_consignment_id.as_deref(), Some(booked.qargo_id.as_str()));
        assert_eq!(story.labels.len(), 2, "PDF and ZPL");
        assert!(story.labels.iter().all(|l| l.stored.as_ref().is_some_and(|d| d.size > 0)), "{:?}", story.labels);
        let sync = story.sync.as_ref().expect("sync state");
        assert!(!sync.applied_event_ids.is_empty(), "the delivery's scans were applied");
        assert_eq!(sync.stop_statuses_set.get("DELIVERY").map(String::as_str), Some("COMPLETED"));
        let nexus = story.on_nexus.found().expect("read from Nexus");
        assert_eq!(nexus.status.as_deref(), Some("DEL"));
        assert_eq!(nexus.pallets.len(), 2);
        assert!(!nexus.last_events.is_empty() && nexus.last_events.len() <= nexus.event_count);
        let qargo = story.in_qargo.found().expect("read from Qargo");
        assert_eq!(qargo.order_id, booked.order_id.to_string());
        assert_eq!(qargo.stop_status("DELIVERY"), Some("COMPLETED"));
    }
    let text = by_nexus.render();
    for expected in ["LABELLED", "labels/PALLEX/", "event(s) applied in Qargo", "DEL Delivered", "DELIVERY COMPLETED"] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    let as_json = serde_json::to_value(&by_nexus).unwrap();
    assert_eq!(as_json["on_nexus"]["outcome"], "found");
    assert_eq!(as_json["ledger"]["state"], "LABELLED");

    let unknown = tell_story(&w.ops, &"not-booked-here".parse().unwrap()).await.unwrap_err();
    assert!(matches!(unknown, OpsError::NotFound(_)), "{unknown}");
}

/// Writes a labelled dispatch (on Fortec, Nexus id 20001) as the dispatch would, with its PDF label
/// stored and its ZPL label lost.
async fn write_labelled_dispatch(
    store: &dyn DispatchLedger,
    documents: &dyn DocumentStore,
    id: &QargoConsignmentId,
) -> Vec<String> {
    let now = "2026-06-17T08:30:00Z".parse().unwrap();
    let ClaimOutcome::Claimed { claim, .. } = store.claim(id, now, jiff::SignedDuration::from_secs(60)).await.unwrap()
    else {
        panic!("a new dispatch is claimed")
    };
    let booking = Booking {
        network: bridge::domain::Network::Fortec,
        nexus_consignment_id: NexusConsignmentId(20001),
        consignment_number: "OR-77".into(),
        barcodes: vec![],
        label_keys: vec![],
        depot: Some("PGD302".parse().unwrap()),
        request_fingerprint: None,
        superseded_fingerprints: vec![],
    };
    store.record_booked(&claim, booking, now).await.unwrap();
    let keys = vec!["labels/FORTEC/20001/all.pdf".to_owned(), "labels/FORTEC/20001/all.zpl".to_owned()];
    documents.put(&keys[0], b"%PDF-1.4 labels".to_vec(), "application/pdf").await.unwrap();
    store.record_labelled(id, keys.clone(), now).await.unwrap();
    keys
}

#[tokio::test]
async fn the_local_data_folder_is_read_offline_and_a_running_bridge_is_named() {
    let data = tempfile::tempdir().unwrap();
    let id: QargoConsignmentId = "c-offline-1".parse().unwrap();
    let store = EmbeddedStore::open(&data.path().join("bridge.redb")).unwrap();
    let keys = write_labelled_dispatch(&store, &DirectoryDocuments::new(data.path().join("documents")), &id).await;
    drop(store);

    let target = Target::Local { data_dir: data.path().to_path_buf() };
    let ops = open(&target, |_| None, None).await.expect("the data folder opens");
    assert!(ops.bridge.is_none());
    assert!(ops.offline_reason.as_deref().unwrap().contains("BRIDGE_DEPOTS"), "{:?}", ops.offline_reason);

    let story = tell_story(&ops, &"FORTEC:20001".parse().unwrap()).await.unwrap();
    assert_eq!(story.qargo_consignment_id.as_deref(), Some("c-offline-1"), "found through the ledger");
    assert_eq!(story.labels[0].key, keys[0]);
    assert!(story.labels[0].stored.is_some());
    assert!(story.labels[1].stored.is_none(), "the ZPL was never stored");
    assert!(matches!(&story.on_nexus, Remote::NotAsked { reason } if reason.contains("BRIDGE_DEPOTS")));
    assert!(story.render().contains("all.zpl MISSING from the document store"), "{}", story.render());

    let report = reconcile(&ops, None).await.unwrap();
    assert_eq!(kinds(&report), vec![(DisagreementKind::LabelMissing, Some("c-offline-1".into()))]);
    assert!(report.render().contains("bridge-ops rerun labels c-offline-1"), "{}", report.render());
    let needs_nexus = rerun_labels(&ops, &id).await.unwrap_err();
    assert!(matches!(needs_nexus, OpsError::Offline { .. }), "{needs_nexus}");

    let held = open(&target, |_| None, None).await.unwrap_err();
    assert!(held.to_string().contains("running local bridge"), "{held}");
    drop(ops);
    let missing = open(&Target::Local { data_dir: data.path().join("nothing") }, |_| None, None).await.unwrap_err();
    assert!(missing.to_string().contains("cargo run -p bridge-local"), "{missing}");
}

#[tokio::test]
async fn a_deployed_stacks_table_and_bucket_are_read_by_name_on_moto() {
    let aws = end_to_end::aws_config();
    let dynamo = bridge::aws::dynamodb_client(&aws);
    let table = end_to_end::unique_name("ops");
    bridge::store::dynamo::DynamoStore::create_table(&dynamo, &table).await.unwrap();
    let bucket = end_to_end::create_bucket().await;
    let store = bridge::store::dynamo::DynamoStore::new(dynamo, &table);
    let documents = bridge::store::s3::S3Documents::new(bridge::aws::s3_client(&aws), &bucket);
    let id: QargoConsignmentId = "c-cloud-1".parse().unwrap();
    write_labelled_dispatch(&store, &documents, &id).await;
    let key = SyncKey { network: bridge::domain::Network::Fortec, nexus_consignment_id: NexusConsignmentId(20001) };
    let mut state = bridge::store::ConsignmentSync::default();
    state.applied_event_ids.extend([7, 8, 9]);
    assert!(bridge::store::SyncState::save(&store, &key, &state).await.unwrap());

    let target = Target::Cloud { table: table.clone(), bucket };
    let ops = open(&target, |_| None, Some(&aws)).await.expect("the stack's storage opens");
    let story = tell_story(&ops, &"FORTEC:20001".parse().unwrap()).await.unwrap();
    assert_eq!(story.qargo_consignment_id.as_deref(), Some("c-cloud-1"), "found by scanning the ledger");
    assert_eq!(story.sync.as_ref().unwrap().applied_event_ids, vec![7, 8, 9]);
    assert!(story.labels[0].stored.as_ref().is_some_and(|doc| doc.content_type == "application/pdf"));
    assert!(story.labels[1].stored.is_none());
    let report = reconcile(&ops, None).await.unwrap();
    assert_eq!(kinds(&report), vec![(DisagreementKind::LabelMissing, Some("c-cloud-1".into()))]);
    let dispatches = ops.records.dispatch_records().await.unwrap();
    assert_eq!(dispatches.len(), 1, "only this table's records");
    assert_eq!(
        ops.records.sync_records().await.unwrap(),
        vec![(key, bridge::store::ConsignmentSync { version: 1, ..state })]
    );
}

#[tokio::test]
async fn rerun_labels_finishes_a_booked_dispatch_and_restores_lost_files_without_attaching_twice() {
    let w = ops_world(|_| {}).await;
    let created = w.world.create_order(order("FORTEC_OUT", "2026-06-17"));
    let payload = w.world.payload(&created, "CREATE").await;
    w.world.qargo.handle.set_faults(qargo_sim::Faults { outage: true, ..qargo_sim::Faults::default() });
    let (status, answer) = w.world.post(&payload).await;
    assert_eq!((status, &answer["errors"][0]["error_type"]), (200, &json!("INTERNAL_ERROR")), "{answer}");
    w.world.qargo.handle.set_faults(qargo_sim::Faults::default());
    let id: QargoConsignmentId = created.consignments[0].consignment_id.to_string().parse().unwrap();
    assert_eq!(w.world.ledger(&created).await.state, DispatchState::Booked);
    assert_eq!(w.labels_in_qargo(created.order_id), 0);

    let done = rerun_labels(&w.ops, &id).await.unwrap();
    assert_eq!((done.state_before.as_str(), done.state_after.as_str()), ("BOOKED", "LABELLED"));
    assert_eq!(done.stored.len(), 2);
    assert_eq!(done.attachment, LabelAttachment::Attached { stop_id: created.pickup_stop_id.to_string() });
    assert_eq!(w.labels_in_qargo(created.order_id), 1);

    // Lost files: reconcile sees it, the re-run restores them and Qargo keeps one label.
    w.lose_document(&done.stored[0].key);
    let report = reconcile(&w.ops, None).await.unwrap();
    assert!(kinds(&report).contains(&(DisagreementKind::LabelMissing, Some(id.to_string()))), "{report:?}");
    let again = rerun_labels(&w.ops, &id).await.unwrap();
    assert_eq!(again.attachment, LabelAttachment::AlreadyAttached);
    assert!(std::fs::read(w.label_file(&done.stored[0].key)).unwrap().starts_with(b"%PDF"));
    assert_eq!(w.labels_in_qargo(created.order_id), 1, "attached once");
    assert_eq!(w.world.creates(), 1, "nothing booked again");
    assert!(reconcile(&w.ops, None).await.unwrap().disagreements.is_empty());
}

#[tokio::test]
async fn rerun_of_one_consignment_uses_the_jobs_retry_lists_and_a_reset_cursor_reapplies_nothing() {
    let w = ops_world(|_| {}).await;
    let booked = w.dispatch("PALLEX_OUT").await;
    w.world.nexus.handle().step(booked.key.nexus_consignment_id.0 as u64, Stage::Delivered).unwrap();
    w.skip_listing(Job::StatusSync).await;
    w.skip_listing(Job::PodSync).await;
    let report = reconcile(&w.ops, None).await.unwrap();
    assert_eq!(kinds(&report), vec![(DisagreementKind::DeliveredNotCompleted, Some(booked.qargo_id.to_string()))]);
    let reference = format!("{}:{}", booked.key.network, booked.key.nexus_consignment_id);
    assert!(report.disagreements[0].fix.ends_with(&format!("rerun status-sync {reference}")));

    let status = rerun_consignment(&w.ops, Job::StatusSync, booked.key).await.unwrap();
    assert_eq!(status.depot, "PGD302");
    assert_eq!(status.events_applied.0, 0);
    assert!(status.events_applied.1 > 0, "{status:?}");
    assert!(!status.still_queued, "{status:?}");
    assert!(reconcile(&w.ops, None).await.unwrap().disagreements.is_empty(), "Qargo's delivery stop is completed");

    let pod = rerun_consignment(&w.ops, Job::PodSync, booked.key).await.unwrap();
    assert_eq!(pod.documents_synced.0, 0);
    assert!(pod.documents_synced.1 > 0, "the delivery's signature and photos came over: {pod:?}");
    let pod_again = rerun_consignment(&w.ops, Job::PodSync, booked.key).await.unwrap();
    assert_eq!(pod_again.documents_synced, (pod.documents_synced.1, pod.documents_synced.1), "nothing twice");
    assert_eq!(pod_again.report["sent_to_qargo"], 0);

    let since = bridge::ops::parse_uk_time("2026-06-16").unwrap();
    let applied = w.ops.sync_state.load(&booked.key).await.unwrap().unwrap().applied_event_ids;
    let reset = reset_cursor(&w.ops, Job::StatusSync, since, true).await.unwrap();
    assert_eq!(reset.cursors.len(), 1);
    assert_eq!(reset.cursors[0].key, "CURSOR#status-sync#PGD302#PALLEX");
    assert_eq!(reset.cursors[0].before.as_deref(), Some("2030-01-01T00:00:00"));
    assert_eq!(reset.cursors[0].after, "2026-06-16T00:00:00");
    let run = reset.report.expect("the job ran");
    assert!(run["listed"].as_u64().unwrap() >= 1, "re-read from the date: {run}");
    assert_eq!(run["events_applied"], 0, "every scan was applied before: {run}");
    assert_eq!(w.ops.sync_state.load(&booked.key).await.unwrap().unwrap().applied_event_ids, applied);

    let no_run = reset_cursor(&w.ops, Job::OrderImport, since, false).await.unwrap();
    assert_eq!(no_run.cursors.len(), 2, "one import cursor per network of PGD302");
    assert!(no_run.report.is_none());
    let labels_by_date = reset_cursor(&w.ops, Job::Labels, since, true).await.unwrap_err();
    assert!(labels_by_date.to_string().contains("rerun labels"), "{labels_by_date}");
    let import_one = rerun_consignment(&w.ops, Job::OrderImport, booked.key).await.unwrap_err();
    assert!(import_one.to_string().contains("--since"), "{import_one}");
}

#[tokio::test]
async fn reconcile_lists_each_kind_of_disagreement() {
    let w = ops_world(|_| {}).await;
    let delivered = w.dispatch("PALLEX_OUT").await;
    let cancelled = w.dispatch("FORTEC_OUT").await;
    let lost = w.dispatch("PALLEX_OUT").await;
    w.world.nexus.handle().step(delivered.key.nexus_consignment_id.0 as u64, Stage::Delivered).unwrap();
    // Cancelled on Nexus behind the bridge's back (by the depot's own user, not through Qargo).
    let pgd302 = end_to_end::depot_user(&w.world.nexus.base_url(), "PGD302", quick_retries());
    pgd302.cancel(cancelled.key.nexus_consignment_id).await.unwrap();
    let record = w.ops.ledger.get(&lost.qargo_id).await.unwrap().unwrap();
    w.lose_document(&record.booking.unwrap().label_keys[1]);
    // A consignment another depot booked for us that the import could not put into Qargo.
    let import_key = CursorKey {
        job: bridge::jobs::order_import::JOB,
        depot: "PGD302".parse().unwrap(),
        network: bridge::domain::Network::Pallex,
    };
    let mut state = ImportState::default();
    let at = "2026-06-17T08:00:00Z".parse().unwrap();
    state.reject(
        4242,
        Rejected {
            number: "TK-9".into(),
            reason: "Nexus customer 99999 is not in BRIDGE_CUSTOMER_MAP".into(),
            attempts: 0,
            first_at: at,
            last_at: at,
            operation: OrderOperation::Create,
            customer: Some(99999),
            order: None,
        },
    );
    let (position, _) = state.encode();
    w.ops.cursors.compare_and_set(&import_key, None, &position, at).await.unwrap();

    let report = reconcile(&w.ops, None).await.unwrap();
    let mut found = kinds(&report);
    found.sort_by_key(|(kind, _)| format!("{kind:?}"));
    assert_eq!(
        found,
        vec![
            (DisagreementKind::CancelledOnNexus, Some(cancelled.qargo_id.to_string())),
            (DisagreementKind::DeliveredNotCompleted, Some(delivered.qargo_id.to_string())),
            (DisagreementKind::LabelMissing, Some(lost.qargo_id.to_string())),
            (DisagreementKind::NotImported, None),
        ],
        "{}",
        report.render()
    );
    assert_eq!(report.dispatches_checked, 3);
    assert!(report.unchecked.is_empty(), "{:?}", report.unchecked);
    let text = report.render();
    assert!(text.contains("cancelled_on_nexus") && text.contains("BRIDGE_CUSTOMER_MAP"), "{text}");

    // Only what changed since a date is checked.
    let later = w.ops.clock.now() + jiff::SignedDuration::from_hours(1);
    let recent = reconcile(&w.ops, Some(later)).await.unwrap();
    assert_eq!(recent.dispatches_checked, 0);
}

/// A writer the test can read while a sink holds it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn backfill_imports_from_a_date_with_progress() {
    // BOLT (Nexus customer 60233, booked by UKD205) is left out of the map: its orders are rejected.
    let w = ops_world(|bridge| bridge.settings.customer_map.remove(60233)).await;
    let nexus = w.world.nexus.base_url();
    let ukd101 = end_to_end::depot_user(&nexus, "UKD101", quick_retries());
    let ukd205 = end_to_end::depot_user(&nexus, "UKD205", quick_retries());
    for n in 0..30 {
        let booking = end_to_end::simple_booking(52011, "PALLEX", &format!("TK-BF-{n}"), "DN22 7SS", 1);
        ukd101.create_consignment(&booking).await.expect("booked by UKD101");
    }
    for n in 0..2 {
        let booking = end_to_end::simple_booking(60233, "PALLEX", &format!("BOLT-BF-{n}"), "DN22 7SS", 1);
        ukd205.create_consignment(&booking).await.expect("booked by UKD205");
    }

    let since = bridge::ops::parse_uk_time("2026-06-16").unwrap();
    let recorded = Arc::new(RecordedProgress::default());
    let lines = Shared::default();
    let sink = Arc::new(FanOut(vec![recorded.clone(), Arc::new(LineProgress::new(lines.clone()))]));
    let report = bridge::ops::backfill::backfill_imports(&w.ops, since, sink, Duration::from_millis(5)).await.unwrap();
    // The simulator's world holds a few consignments for PGD302 of its own: at least ours are imported.
    assert!(report.created >= 30, "{}", report.render());
    assert_eq!(report.duplicates, 0);
    let bolt: Vec<_> = report.rejected.iter().filter(|r| r.consignment_number.starts_with("BOLT-BF-")).collect();
    assert_eq!(bolt.len(), 2, "{:?}", report.rejected);
    assert!(bolt.iter().all(|r| r.reason.contains("60233")), "{bolt:?}");
    assert!(!report.rejected.iter().any(|r| r.consignment_number.starts_with("TK-BF-")), "{:?}", report.rejected);
    assert!(report.stopped.is_empty(), "{:?}", report.stopped);
    assert!(
        w.world.qargo.handle.order_by_identifier(&format!("NEXUS-PALLEX-{}", bolt[0].nexus_consignment_id)).is_none()
    );

    let events = recorded.events();
    let Some(ProgressEvent::Started { total: Some(total), what }) = events.first().cloned() else {
        panic!("starts with the total: {events:?}")
    };
    assert!(what.contains("2026-06-16"), "{what}");
    assert!(total >= 32, "every consignment listed from the date is counted: {total}");
    let done: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Advanced { done, .. } => Some(*done),
            _ => None,
        })
        .collect();
    assert_eq!(done.first(), Some(&0));
    assert_eq!(done.last(), Some(&total), "ends at the total: {done:?}");
    assert!(done.windows(2).all(|pair| pair[0] <= pair[1]), "never goes back: {done:?}");
    assert!(
        matches!(events.last(), Some(ProgressEvent::Finished { summary }) if *summary == report.summary()),
        "{events:?}"
    );
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.starts_with(&format!("order import since 2026-06-16T00:00:00: {total} consignments to read\n")),
        "{text}"
    );
    assert!(text.contains(&format!("  {total}/{total} consignments")), "{text}");
    assert!(report.summary().starts_with(&format!("created {}, duplicates 0", report.created)));
    assert!(text.trim_end().ends_with(&format!("rejected {}", report.rejected.len())), "{text}");

    // The same backfill again sends nothing new: the import remembers what Qargo has.
    let again = bridge::ops::backfill::backfill_imports(
        &w.ops,
        since,
        Arc::new(RecordedProgress::default()),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    assert_eq!((again.created, again.duplicates, again.updated), (0, 0, 0), "{}", again.render());
    assert!(again.unchanged >= 30, "{}", again.render());
}

// ---- dead-letter queues on moto -------------------------------------------------------------------

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url().unwrap().to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &Value, attributes: &[(&str, &str)]) {
    let mut request = sqs.send_message().queue_url(url).message_body(body.to_string());
    for (name, value) in attributes {
        let value = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(*value)
            .build()
            .unwrap();
        request = request.message_attributes(*name, value);
    }
    request.send().await.unwrap();
}

async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let answer = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
    answer.messages().iter().map(|m| serde_json::from_str(m.body().unwrap()).unwrap()).collect()
}

fn visibility_event(kind: &str, order_name: &str) -> Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": kind,
        "source": bridge::routing::EVENT_SOURCE, "account": "123456789012", "time": "2026-06-17T10:00:00Z",
        "region": "eu-west-2", "resources": [],
        "detail": {"kind": kind, "timestamp": "2026-06-17T10:00:00Z", "update": {"id": "u-1"},
                   "order": {"id": "o-1", "order_name": order_name,
                             "custom_fields": {"NexusNetwork": "PALLEX", "NexusConsignmentID": "10001"}}}
    })
}

#[tokio::test]
async fn dead_letter_queues_are_listed_shown_and_redriven_on_moto() {
    let aws = end_to_end::aws_config();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let events = aws_sdk_eventbridge::Client::new(&aws);
    let stack = end_to_end::unique_name("ops");
    let (dlq, _) = create_queue(&sqs, &format!("{stack}-VisibilityRulesDeadLetterQueue-X1")).await;
    let (landing, landing_arn) = create_queue(&sqs, &format!("{stack}-landing")).await;
    let (elsewhere, _) = create_queue(&sqs, &format!("{stack}-elsewhere")).await;
    let bus = format!("{stack}-visibility");
    events.create_event_bus().name(&bus).send().await.unwrap();
    events
        .put_rule()
        .name("StopRule")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": [bridge::routing::EVENT_SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("landing").arn(&landing_arn).build().unwrap();
    events.put_targets().rule("StopRule").event_bus_name(&bus).targets(target).send().await.unwrap();

    // As EventBridge leaves a rule's dead letter; as Lambda leaves an ETA export's; a scheduled tick.
    let rule_arn = format!("arn:aws:events:eu-west-2:123456789012:rule/{bus}/StopRule");
    let stop = visibility_event("Stop", "OR-1");
    send(
        &sqs,
        &dlq,
        &stop,
        &[("RULE_ARN", &rule_arn), ("ERROR_CODE", "Throttled"), ("ERROR_MESSAGE", "Rate exceeded")],
    )
    .await;
    send(&sqs, &dlq, &visibility_event("Eta", "OR-2"), &[("ErrorCode", "200"), ("ErrorMessage", "Nexus unavailable")])
        .await;
    send(&sqs, &dlq, &json!({}), &[("ErrorMessage", "order import did not finish")]).await;

    let letters = DeadLetters::new(&aws);
    let queues = letters.list(Some(&stack)).await.unwrap();
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let listed = queues.iter().find(|q| q.url == dlq).expect("the dead-letter queue");
    assert_eq!((listed.waiting, listed.holds), (3, Some("visibility rules")));

    let shown = letters.show(&dlq, 10, None).await.unwrap();
    assert_eq!(shown.len(), 3);
    let stop_letter = shown.iter().find(|l| l.rule_arn.is_some()).unwrap();
    assert_eq!(stop_letter.source, Some(RedriveTarget::Bus(bus.clone())));
    assert_eq!(stop_letter.error.as_deref(), Some("Throttled: Rate exceeded"));
    assert!(stop_letter.summary.contains("Stop update of Qargo order OR-1 (PALLEX:10001)"), "{}", stop_letter.summary);
    let eta_letter = shown.iter().find(|l| l.summary.starts_with("Eta")).unwrap();
    assert_eq!(eta_letter.source, None, "names no bus");
    assert!(eta_letter.summary.contains("--to bus:NAME"), "{}", eta_letter.summary);
    assert!(shown.iter().any(|l| l.summary.starts_with("a scheduled run")));
    assert_eq!(letters.show(&dlq, 10, None).await.unwrap().len(), 3, "show leaves the messages on the queue");

    // Without a default bus: only the rule's dead letter knows where to go.
    let first = letters.redrive(&dlq, &RedriveOptions::default()).await.unwrap();
    assert_eq!(first.sent.len(), 1, "{}", first.render());
    assert_eq!(first.kept.len(), 2);
    let landed = drain(&sqs, &landing).await;
    assert_eq!(landed.len(), 1, "the event went back on the bus and its rule delivered it");
    assert_eq!(landed[0]["detail"], stop["detail"]);
    assert_eq!(landed[0]["detail-type"], "Stop");

    let dry = RedriveOptions { default_bus: Some(bus.clone()), dry_run: true, ..RedriveOptions::default() };
    let dry_run = letters.redrive(&dlq, &dry).await.unwrap();
    assert_eq!((dry_run.would_send.len(), dry_run.sent.len()), (1, 0));
    let options = RedriveOptions { default_bus: Some(bus.clone()), settle_ticks: true, ..RedriveOptions::default() };
    let second = letters.redrive(&dlq, &options).await.unwrap();
    assert_eq!((second.sent.len(), second.settled.len(), second.kept.len()), (1, 1, 0), "{}", second.render());
    assert_eq!(drain(&sqs, &landing).await[0]["detail-type"], "Eta");
    assert!(letters.show(&dlq, 10, None).await.unwrap().is_empty(), "the queue is empty");

    // To a given queue, with its attributes.
    send(&sqs, &dlq, &json!({"tick": 1}), &[("ErrorMessage", "boom")]).await;
    let to_queue =
        RedriveOptions { to: Some(format!("sqs:{stack}-elsewhere").parse().unwrap()), ..RedriveOptions::default() };
    let moved = letters.redrive(&dlq, &to_queue).await.unwrap();
    assert_eq!(moved.sent.len(), 1, "{}", moved.render());
    assert_eq!(drain(&sqs, &elsewhere).await, vec![json!({"tick": 1})]);
    assert!(letters.show(&dlq, 10, None).await.unwrap().is_empty());
}
