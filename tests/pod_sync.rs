//! POD sync end to end, against both simulators and the bridge's API served as the local bridge
//! serves it (visibility updates routed in process):
//! - **download**: a consignment we booked is delivered by another depot on the Nexus simulator; its
//!   signature (with the signatory) and pallet photos reach the Qargo delivery stop once, a scanned
//!   POD uploaded two days later still does, and after the late window the consignment costs no
//!   request (the simulator's request counter);
//! - **upload**: a consignment we deliver gets its signature and photos from Qargo onto Nexus once;
//!   the same Qargo event again uploads nothing, and a document that came from Nexus is never sent
//!   back;
//! - **failures**: a 503 during a transfer (Qargo on the way down, Nexus on the way up) is retried
//!   by the next scheduled run and nothing is lost; on moto, S3 holds each file once under its hash.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bridge::domain::{DocumentKind, Network, NexusConsignmentId};
use bridge::jobs::pod_sync::{PodReport, UploadOutcome, sync_documents};
use bridge::jobs::status_sync::SyncOptions;
use bridge::nexus::AttachmentUpload;
use bridge::nexus::capabilities::{Capabilities, Capability};
use bridge::store::s3::S3Documents;
use bridge::store::{ConsignmentSync, SyncDirection, SyncKey, sha256_hex};
use nexus_sim::Stage;
use qargo_sim::{CreatedOrder, PhotoInput, SignatureInput};
use serde_json::{Value, json};

use crate::dispatch::{Storage, World, booking_of, order, quick_retries, response, world, world_with};

const ATTACHMENTS_ROUTE: &str = "GET /v1/consignments/{id}/attachments";
const CONTENT_ROUTE: &str = "GET /v1/attachments/{id}/content";
const UPLOAD_ROUTE: &str = "POST /v1/consignments/{id}/attachments";

// ---- the world -------------------------------------------------------------------------------------

/// The test world with its documents in a new S3 bucket on moto (and the rest on DynamoDB); answers
/// the bucket too.
async fn world_on_moto() -> (World, String) {
    let bucket = end_to_end::create_bucket().await;
    let documents = Arc::new(S3Documents::new(bridge::aws::s3_client(&end_to_end::aws_config()), bucket.clone()));
    let world = world_with(Storage::Moto, move |bridge| bridge.documents = documents).await;
    (world, bucket)
}

/// No late scanned POD from the simulator's driver: the tests upload the late ones themselves.
async fn no_driver_late_pods(world: &World) {
    let answer = bridge::http::client_builder()
        .build()
        .unwrap()
        .post(format!("{}driver", world.nexus.admin_url()))
        .json(&json!({"latePodPercent": 0}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    world.nexus.handle().set_delivery_odds(0, 0);
}

/// Moves the Nexus simulator's clock (running its lifecycle driver) and the bridge's with it.
fn advance_both(world: &World, by: Duration) {
    world.nexus.handle().advance(by);
    let london = jiff::tz::TimeZone::get("Europe/London").unwrap();
    world.clock.set(world.nexus.handle().now().to_zoned(london).unwrap().timestamp());
}

/// Nexus requests so far, logins, token refreshes and the 401s that call for them left out (the
/// simulator's tokens expire on its clock, which the tests move by days).
fn nexus_requests(world: &World) -> u64 {
    let counts = world.nexus.handle().request_counts();
    counts
        .routes
        .iter()
        .filter(|r| !r.route.starts_with("POST /v1/account/"))
        .map(|r| r.count - r.statuses.get(&401).copied().unwrap_or(0))
        .sum()
}

/// One scheduled run; its report counts exactly the Nexus requests the simulator saw.
async fn run(world: &World) -> PodReport {
    let before = nexus_requests(world);
    let report = sync_documents(&world.bridge, &SyncOptions::unbounded()).await.expect("a POD sync run");
    let spent = nexus_requests(world) - before;
    eprintln!("POD sync run: {spent} Nexus requests: {report:?}");
    assert_eq!(spent, u64::from(report.nexus_requests), "{report:?}");
    report
}

/// A PALL-EX consignment booked through the bridge for Project Timber, collected by PGD302 and
/// delivered in Derby by UKD205.
async fn book_to_derby(world: &World) -> (CreatedOrder, i64) {
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let record = world.dispatch(&created, "CREATE").await;
    assert!(record.accepted, "{}", response(&record));
    let id = booking_of(&response(&record)).1;
    let on_nexus = world.nexus.handle().consignment_json(id as u64).unwrap();
    assert_eq!(on_nexus["deliveryDepotCode"], json!("UKD205"));
    (created, id)
}

/// A consignment UKD101 booked on PALL-EX for delivery by PGD302, and its Qargo order as the order
/// import makes it (`NexusOrigin`, customer ACME).
async fn inbound(world: &World, number: &str) -> (CreatedOrder, i64) {
    let ukd101 = end_to_end::depot_user(&world.nexus.base_url(), "UKD101", quick_retries());
    let booking = end_to_end::simple_booking(52011, "PALLEX", number, "DN22 6AA", 2);
    let made = ukd101.create_consignment(&booking).await.expect("booked by UKD101");
    assert_eq!(made.delivery_depot_code.as_deref(), Some("PGD302"));
    let stop = |postcode: &str| {
        json!({"location": {"address": "1 Industrial Estate", "postal_code": postcode, "city": "Town", "country": "GB"},
               "date": "2026-06-17"})
    };
    let order = json!({
        "order_identifier": format!("NEXUS-PALLEX-{}", made.consignment_id),
        "customer": {"code": "ACME"},
        "custom_fields": {"NexusOrigin": format!("PALLEX:{}", made.consignment_id)},
        "consignments": [{"pickup_stop": stop("DA1 1AA"), "delivery_stop": stop("DN22 6AA"),
                          "goods": [{"quantity": 2, "packaging_type": {"code": "F"}}]}]
    });
    let created = world.qargo.handle.create_order(&serde_json::from_value(order).unwrap()).expect("order accepted");
    (created, made.consignment_id)
}

// ---- what the simulators hold ----------------------------------------------------------------------

/// A document as the Qargo simulator holds it.
#[derive(Debug, Clone, PartialEq)]
struct QargoDocument {
    id: String,
    document_type: String,
    sha256: String,
    stop_id: Option<String>,
}

fn qargo_documents(world: &World, order_id: uuid::Uuid) -> Vec<QargoDocument> {
    let detail = world.qargo.handle.order_detail(order_id).expect("the order");
    detail["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] != "PALLET_LABEL_EXTERNAL")
        .map(|d| QargoDocument {
            id: d["id"].as_str().unwrap().to_owned(),
            document_type: d["type"].as_str().unwrap().to_owned(),
            sha256: d["sha256"].as_str().unwrap().to_owned(),
            stop_id: d["stop_id"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The answers (key → values) on a Qargo stop.
fn stop_answers(world: &World, order_id: uuid::Uuid, stop_id: uuid::Uuid) -> Vec<(String, Value)> {
    let detail = world.qargo.handle.order_detail(order_id).unwrap();
    let stop = detail["stops"].as_array().unwrap().iter().find(|s| s["id"] == json!(stop_id)).unwrap().clone();
    stop["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_owned(), a["value"].clone()))
        .collect()
}

/// A Nexus attachment with the SHA-256 of its bytes (read as PGD302).
#[derive(Debug, Clone, PartialEq)]
struct NexusAttachment {
    code: String,
    sha256: String,
    signed_by: Option<String>,
    uploaded_by: Option<String>,
}

async fn nexus_attachments(world: &World, id: i64) -> Vec<NexusAttachment> {
    let client = world.bridge.nexus.for_depot(&"PGD302".parse().unwrap()).unwrap();
    let mut found = Vec::new();
    for attachment in client.attachments(NexusConsignmentId(id)).await.unwrap() {
        let content = client.attachment_content(attachment.attachment_id).await.unwrap();
        found.push(NexusAttachment {
            code: attachment.attachment_type.code.clone(),
            sha256: sha256_hex(&content.bytes),
            signed_by: attachment.signed_by.clone(),
            uploaded_by: attachment.uploaded_by_depot_code.clone(),
        });
    }
    found
}

async fn sync_state(world: &World, id: i64) -> ConsignmentSync {
    let key = SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(id) };
    world.bridge.sync_state.load(&key).await.unwrap().unwrap_or_default()
}

fn count(world: &World, route: &str) -> u64 {
    world.nexus.handle().request_counts().for_route(route)
}

/// Every object under `pod/` in the bucket, with the SHA-256 of its bytes.
async fn pod_objects(bucket: &str) -> BTreeMap<String, String> {
    let s3 = bridge::aws::s3_client(&end_to_end::aws_config());
    let listed = s3.list_objects_v2().bucket(bucket).prefix("pod/").send().await.expect("list on moto");
    let mut objects = BTreeMap::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
        objects.insert(key, sha256_hex(&body.into_bytes()));
    }
    objects
}

/// Each object is stored under the SHA-256 of its bytes: `pod/PALLEX/<id>/<kind>/<sha256>.<ext>`.
fn assert_stored_under_their_hash(objects: &BTreeMap<String, String>, id: i64) {
    for (key, sha256) in objects {
        let prefix = format!("pod/PALLEX/{id}/");
        assert!(key.starts_with(&prefix), "{key}");
        let name = key.rsplit('/').next().unwrap();
        assert_eq!(name.split('.').next().unwrap(), sha256, "{key} holds other bytes");
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn post_visibility(world: &World, body: &Value) -> (u16, Value) {
    let response = world
        .http
        .post(format!("{}/qargo/visibility", world.api_url))
        .basic_auth("qargo", Some("inbound-pass"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

// ---- download --------------------------------------------------------------------------------------

#[tokio::test]
async fn delivered_by_another_depot_the_evidence_arrives_once_late_pods_too_until_the_window_closes() {
    let world = world(Storage::Memory).await;
    no_driver_late_pods(&world).await;
    let (created, id) = book_to_derby(&world).await;
    let delivery_stop = created.consignments[0].delivery_stop_id;

    // Not delivered yet: nothing to fetch, and no error.
    let before = run(&world).await;
    assert_eq!((before.delivered, before.attachments_listed, before.sent_to_qargo), (0, 0, 0), "{before:?}");
    assert_eq!(count(&world, ATTACHMENTS_ROUTE), 0);

    world.nexus.handle().step(id as u64, Stage::Delivered).unwrap();
    let on_nexus = nexus_attachments(&world, id).await;
    let photos = on_nexus.iter().filter(|a| a.code == "MPODPHOTOE").count();
    assert!((1..=2).contains(&photos) && on_nexus.iter().filter(|a| a.code == "MPOD").count() == 1, "{on_nexus:?}");
    let signer = on_nexus.iter().find(|a| a.code == "MPOD").unwrap().signed_by.clone().expect("signedBy");
    world.nexus.handle().reset_request_counts();

    let report = run(&world).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(report.sent_to_qargo as usize, 1 + photos, "{report:?}");
    assert_eq!(count(&world, ATTACHMENTS_ROUTE), 1);
    assert_eq!(count(&world, CONTENT_ROUTE) as usize, 1 + photos, "each file fetched once");
    let documents = qargo_documents(&world, created.order_id);
    let mut expected: Vec<(String, String)> = on_nexus
        .iter()
        .map(|a| (a.code.parse::<DocumentKind>().unwrap().qargo_document_type().to_owned(), a.sha256.clone()))
        .collect();
    let mut got: Vec<(String, String)> =
        documents.iter().map(|d| (d.document_type.clone(), d.sha256.clone())).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "the same bytes, with the Qargo type of each kind");
    assert!(documents.iter().all(|d| d.stop_id == Some(delivery_stop.to_string())), "on the delivery stop");
    let answers = stop_answers(&world, created.order_id, delivery_stop);
    assert_eq!(answers, [("signed_by".to_owned(), json!(signer))], "the signatory travels with the signature");
    let state = sync_state(&world, id).await;
    assert_eq!(state.documents.len(), 1 + photos);
    assert!(state.documents.values().all(|d| d.direction == SyncDirection::Download));
    assert!(state.pod_in_flight.is_empty());

    // Again: the overlap lists it once more, nothing is fetched or sent.
    let again = run(&world).await;
    assert_eq!((again.downloaded, again.sent_to_qargo), (0, 0), "{again:?}");
    assert_eq!(qargo_documents(&world, created.order_id), documents);

    // Qargo reports one of those documents back (as it would a planner's upload): it came from Nexus
    // and is not sent back, whether the event carries the bytes or only a link.
    let signature = documents.iter().find(|d| d.document_type == "CONSIGNEE_SIGNATURE").unwrap();
    let bytes = world.qargo.handle.document_bytes(signature.id.parse().unwrap()).unwrap();
    let fields = world.qargo.handle.order_detail(created.order_id).unwrap()["order"]["custom_fields"].clone();
    let event = |content: Value| {
        json!({"events": [{"timestamp": "2026-06-17T09:30:00Z", "update": {"id": signature.id, "type": "Document",
                "status": "CREATED", "document": {"name": "signature.png", "document_type": "CONSIGNEE_SIGNATURE",
                                                  "document_content": content}}}],
               "order": {"id": created.order_id, "custom_fields": fields}})
    };
    world.nexus.handle().reset_request_counts();
    let embedded = event(json!({"content": base64(&bytes), "mime_type": "image/png", "filename": "signature.png"}));
    let (status, answer) = post_visibility(&world, &embedded).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(world.nexus.handle().request_counts().total, 0, "recognised by its SHA-256 without asking Nexus");
    let mut linked = event(json!({"download_url": "http://qargo.invalid/download"}));
    linked["events"][0]["update"]["id"] = json!(uuid::Uuid::new_v4());
    let (status, answer) = post_visibility(&world, &linked).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(count(&world, UPLOAD_ROUTE), 0, "UKD205 delivers it: nothing of ours to upload");

    // Two days later UKD205 uploads a scanned POD: 6 MB, so it reaches Qargo through upload_content.
    advance_both(&world, Duration::from_secs(48 * 3600));
    let ukd205 = end_to_end::depot_user(&world.nexus.base_url(), "UKD205", quick_retries());
    let mut scan = b"%PDF-1.4\n% scanned delivery note\n".to_vec();
    scan.extend((0..6 * 1024 * 1024).map(|n: u32| (n.wrapping_mul(2_654_435_761) >> 24) as u8));
    let pod = |bytes: Vec<u8>| AttachmentUpload {
        kind: DocumentKind::Pod,
        file_name: "POD_scan.pdf".into(),
        content_type: "application/pdf".into(),
        bytes,
        signed_by: None,
        captured_at: None,
    };
    // Uploaded twice (a double tap on the handheld): the same bytes reach Qargo once.
    for _ in 0..2 {
        ukd205.upload_attachment(NexusConsignmentId(id), &pod(scan.clone())).await.expect("UKD205 uploads its POD");
    }
    let late = run(&world).await;
    assert_eq!((late.downloaded, late.sent_to_qargo, late.already_synced), (2, 1, 1), "{late:?}");
    let uploads = world.qargo.handle.request_counts().count("POST", "/v1/documents/document/upload_content");
    assert_eq!(uploads, 1, "a file over the embedding limit goes through upload_content");
    let documents = qargo_documents(&world, created.order_id);
    let signed_pods: Vec<&QargoDocument> =
        documents.iter().filter(|d| d.document_type == "PROOF_OF_DELIVERY_SIGNED").collect();
    assert_eq!(signed_pods.len(), 1, "{documents:?}");
    assert_eq!(signed_pods[0].sha256, sha256_hex(&scan));
    assert_eq!(signed_pods[0].stop_id, Some(delivery_stop.to_string()));

    // Past the window (72 h after delivery) another upload changes the consignment, but the bridge
    // no longer asks for its attachments.
    advance_both(&world, Duration::from_secs(25 * 3600));
    ukd205.upload_attachment(NexusConsignmentId(id), &pod(b"%PDF-1.4\nlater still\n".to_vec())).await.unwrap();
    world.nexus.handle().reset_request_counts();
    let closed = run(&world).await;
    assert_eq!(closed.window_closed, 1, "{closed:?}");
    assert_eq!(count(&world, ATTACHMENTS_ROUTE) + count(&world, CONTENT_ROUTE), 0, "no request for it");
    assert_eq!(qargo_documents(&world, created.order_id), documents, "nothing more in Qargo");
    let state = sync_state(&world, id).await;
    assert!(state.forget_after.is_some_and(|at| at > state.pod_check_until.unwrap()), "{state:?}");
}

#[tokio::test]
async fn a_qargo_outage_during_a_download_is_retried_on_the_next_run_and_s3_holds_each_file_once() {
    let (world, bucket) = world_on_moto().await;
    no_driver_late_pods(&world).await;
    let (created, id) = book_to_derby(&world).await;
    world.nexus.handle().step(id as u64, Stage::Delivered).unwrap();
    let on_nexus = nexus_attachments(&world, id).await;

    world.qargo.handle.set_faults(qargo_sim::Faults { outage: true, ..qargo_sim::Faults::default() });
    let failed = sync_documents(&world.bridge, &SyncOptions::unbounded()).await.expect_err("Qargo is down");
    assert!(failed.reasons[0].contains("Qargo"), "{failed}");
    assert_eq!(failed.report.sent_to_qargo, 0);
    assert!(failed.report.downloaded >= 1, "{:?}", failed.report);
    assert!(qargo_documents(&world, created.order_id).is_empty());

    world.qargo.handle.set_faults(qargo_sim::Faults::default());
    advance_both(&world, Duration::from_secs(600));
    let report = run(&world).await;
    assert_eq!(report.sent_to_qargo as usize, on_nexus.len(), "{report:?}");
    assert!(report.retried <= 1, "read again from the retry list at most once: {report:?}");
    assert_eq!(run(&world).await.sent_to_qargo, 0);

    let mut in_qargo: Vec<String> = qargo_documents(&world, created.order_id).into_iter().map(|d| d.sha256).collect();
    let mut expected: Vec<String> = on_nexus.iter().map(|a| a.sha256.clone()).collect();
    in_qargo.sort();
    expected.sort();
    assert_eq!(in_qargo, expected, "each document once, none lost");
    let objects = pod_objects(&bucket).await;
    assert_eq!(objects.len(), on_nexus.len(), "{objects:?}");
    assert_stored_under_their_hash(&objects, id);
    let mut stored: Vec<String> = objects.values().cloned().collect();
    stored.sort();
    assert_eq!(stored, expected);
}

// ---- upload ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_document_update_that_can_never_be_handled_is_a_422_not_a_retry() {
    let world = world(Storage::Memory).await;
    let body = json!({"events": [{"timestamp": "2026-06-17T10:00:00Z", "update": {
        "type": "Document", "status": "CREATED",
        "document": {"name": "s.png", "document_type": "CONSIGNEE_SIGNATURE",
                     "document_content": {"content": "%%% not base64", "mime_type": "image/png", "filename": "s.png"},
                     "subject": {"id": "00000000-0000-4000-8000-000000000001"}}}}],
        "order": {"id": "00000000-0000-4000-8000-000000000002", "order_name": "OR-1", "status": "PLANNED", "stops": [],
                  "custom_fields": {"NexusNetwork": "PALLEX", "NexusConsignmentID": "10001"}}});
    let (status, answer) = post_visibility(&world, &body).await;
    assert_eq!(status, 422, "sending it again cannot help: {answer}");
    assert_eq!(answer["errors"][0]["error_type"], "USER_INPUT_ERROR");
    assert!(answer["errors"][0]["error_message"].as_str().unwrap().contains("base64"), "{answer}");
    // From the bus, the same update is logged and answered as handled, so it is not retried for a day.
    let routed = bridge::visibility::parse_visibility(&serde_json::to_vec(&body).unwrap()).unwrap();
    let handled = bridge::routing::handle_bus_update(&world.bridge, &routed[0]).await.unwrap();
    assert_eq!(handled["outcome"], "invalid", "{handled}");
}

#[tokio::test]
async fn without_an_upload_endpoint_no_pod_is_sent_and_the_refusal_is_named() {
    let world = world_with(Storage::Memory, |bridge| {
        bridge.settings.nexus_capabilities = Capabilities::full().without(Capability::AttachmentUpload)
    })
    .await;
    let (created, id) = inbound(&world, "INBOUND-NO-UPLOAD").await;
    let signature = SignatureInput { name: "J. Smith".into(), ..SignatureInput::default() };
    let signed = world.qargo.handle.capture_signature(created.delivery_stop_id, &signature).await.unwrap();
    assert!(signed.outbound.iter().all(|r| r.accepted), "acknowledged, not retried: {signed:?}");
    assert_eq!(count(&world, UPLOAD_ROUTE), 0, "nothing sent to a Nexus without the route");
    assert!(nexus_attachments(&world, id).await.is_empty());
    let routed =
        bridge::visibility::parse_visibility(&serde_json::to_vec(&signed.outbound[0].request).unwrap()).unwrap();
    let outcome = bridge::jobs::pod_sync::upload_document_update(&world.bridge, &routed[0]).await.unwrap();
    let UploadOutcome::Refused { reason } = outcome else { panic!("refused: {outcome:?}") };
    assert!(reason.contains("not supported by this Nexus") && reason.contains("attachment-upload"), "{reason}");
}

#[tokio::test]
async fn delivered_by_us_the_signature_and_photos_reach_nexus_once_and_a_repeat_uploads_nothing() {
    let (world, bucket) = world_on_moto().await;
    let (created, id) = inbound(&world, "INBOUND-POD").await;
    let stop = created.delivery_stop_id;

    let signature = SignatureInput { name: "J. Smith".into(), ..SignatureInput::default() };
    let signed = world.qargo.handle.capture_signature(stop, &signature).await.unwrap();
    let photo = world.qargo.handle.capture_photo(stop, &PhotoInput::default()).await.unwrap();
    let embedded = PhotoInput { embed: Some(true), ..PhotoInput::default() };
    let photo_embedded = world.qargo.handle.capture_photo(stop, &embedded).await.unwrap();
    let outcomes = [&signed, &photo, &photo_embedded];
    for outcome in outcomes {
        assert!(outcome.outbound.iter().all(|r| r.accepted && r.status == Some(202)), "{outcome:?}");
    }
    assert_eq!(count(&world, UPLOAD_ROUTE), 3);

    let bytes = |outcome: &qargo_sim::ScenarioOutcome| {
        sha256_hex(&world.qargo.handle.document_bytes(outcome.document_id.unwrap()).unwrap())
    };
    let mut got = nexus_attachments(&world, id).await;
    got.sort_by(|a, b| (&a.code, &a.sha256).cmp(&(&b.code, &b.sha256)));
    let attachment = |code: &str, sha256: String, signed_by: Option<&str>| NexusAttachment {
        code: code.into(),
        sha256,
        signed_by: signed_by.map(str::to_owned),
        uploaded_by: Some("PGD302".into()),
    };
    let mut expected = vec![
        attachment("MPOD", bytes(&signed), Some("J. Smith")),
        attachment("MPODPHOTOE", bytes(&photo), None),
        attachment("MPODPHOTOE", bytes(&photo_embedded), None),
    ];
    expected.sort_by(|a, b| (&a.code, &a.sha256).cmp(&(&b.code, &b.sha256)));
    assert_eq!(got, expected, "each file once, by the delivery depot, the signature with its signatory");

    // Qargo (or the bus) delivers the same events again: nothing is asked of Nexus at all.
    world.nexus.handle().reset_request_counts();
    for outcome in outcomes {
        let (status, answer) = post_visibility(&world, &outcome.outbound[0].request).await;
        assert_eq!(status, 202, "{answer}");
    }
    assert_eq!(world.nexus.handle().request_counts().total, 0, "a repeat is answered from the sync state");
    assert_eq!(nexus_attachments(&world, id).await.len(), 3);

    let state = sync_state(&world, id).await;
    assert_eq!(state.documents.len(), 3);
    assert!(state.documents.values().all(|d| d.direction == SyncDirection::Upload));
    // The scheduled run does not bring our own uploads back down.
    let report = run(&world).await;
    assert_eq!((report.downloaded, report.sent_to_qargo), (0, 0), "{report:?}");
    assert_eq!(qargo_documents(&world, created.order_id).len(), 3, "nothing came back into Qargo");

    let objects = pod_objects(&bucket).await;
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert_stored_under_their_hash(&objects, id);
    let kinds: Vec<&str> = objects.keys().map(|key| key.split('/').nth(3).unwrap()).collect();
    assert_eq!(kinds, ["MPOD", "MPODPHOTOE", "MPODPHOTOE"]);
}

#[tokio::test]
async fn a_nexus_outage_during_an_upload_is_retried_on_the_next_run_and_nothing_is_lost() {
    let world = world(Storage::Memory).await;
    let (created, id) = inbound(&world, "INBOUND-OUTAGE").await;
    let stop = created.delivery_stop_id;

    world.nexus.handle().set_outage(true);
    let signature = SignatureInput { name: "A. Patel".into(), embed: Some(true), ..SignatureInput::default() };
    let signed = world.qargo.handle.capture_signature(stop, &signature).await.unwrap();
    let photo = world.qargo.handle.capture_photo(stop, &PhotoInput::default()).await.unwrap();
    for outcome in [&signed, &photo] {
        let record = &outcome.outbound[0];
        assert!(record.accepted, "kept for the next run, so Qargo need not send it again: {record:?}");
    }
    world.nexus.handle().set_outage(false);
    assert!(nexus_attachments(&world, id).await.is_empty());

    let report = run(&world).await;
    assert_eq!((report.uploads_retried, report.uploaded), (2, 2), "{report:?}");
    let got = nexus_attachments(&world, id).await;
    let codes: Vec<(&str, Option<&str>)> = got.iter().map(|a| (a.code.as_str(), a.signed_by.as_deref())).collect();
    assert_eq!(codes.len(), 2, "{got:?}");
    assert!(codes.contains(&("MPOD", Some("A. Patel"))) && codes.contains(&("MPODPHOTOE", None)), "{codes:?}");
    let signed_sha = sha256_hex(&world.qargo.handle.document_bytes(signed.document_id.unwrap()).unwrap());
    assert!(got.iter().any(|a| a.code == "MPOD" && a.sha256 == signed_sha));

    let quiet = run(&world).await;
    assert_eq!((quiet.uploads_retried, quiet.uploaded), (0, 0), "done once: {quiet:?}");
    let (status, _) = post_visibility(&world, &photo.outbound[0].request).await;
    assert_eq!(status, 202);
    assert_eq!(nexus_attachments(&world, id).await.len(), 2, "and never again");
}
