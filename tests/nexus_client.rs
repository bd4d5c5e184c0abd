//! The Nexus client against the Nexus simulator, over real sockets: every route the bridge uses,
//! token recovery, single-flight login, retries, and refusals kept with Nexus's field messages.

use std::sync::Arc;
use std::time::Duration;

use bridge::config::{Credentials, Secret};
use bridge::domain::{DocumentKind, NexusConsignmentId};
use bridge::nexus::wire::{Address, CollectionInfo, CreateConsignment, DeliveryInfo, EtaUpdate, General, PalletInput};
use bridge::nexus::{AttachmentUpload, ConsignmentQuery, EventPost, LabelFormat, NexusClient, NexusError, RetryPolicy};
use nexus_sim::{NexusSim, RunningSim, SimOptions, Stage};

const LOGIN: &str = "POST /v1/Account/login";

async fn sim() -> RunningSim {
    NexusSim::start(SimOptions::default()).await.expect("start the Nexus simulator")
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        budget: Duration::from_secs(10),
        request_timeout: Duration::from_secs(5),
    }
}

fn client(sim: &RunningSim, username: &str, password: &str) -> NexusClient {
    let credentials = Credentials { username: username.into(), password: Secret::new(password) };
    NexusClient::new(&sim.base_url(), credentials, quick_retries())
}

fn pgd302(sim: &RunningSim) -> NexusClient {
    client(sim, "pgd302.api", "Sim!PGD302").with_optimize_key(Some(Secret::new(sim.handle().optimize_key())))
}

/// A valid PALL-EX booking for Project Timber (64086), collected today from PGD302's area.
fn booking(number: &str) -> CreateConsignment {
    CreateConsignment {
        general: General {
            consignment_type_id: 2,
            customer_id: 64086,
            consignment_number: number.into(),
            customer_reference: Some("PO-7781".into()),
            description_of_goods: Some("Timber sheets".into()),
            limited_quantities: false,
            network_code: Some("PALLEX".into()),
            requesting_depot_code: Some("PGD302".into()),
        },
        collection_info: CollectionInfo {
            service_id: 1,
            due_date: "2026-06-17".parse().unwrap(),
            contact: Some("01777 700100".into()),
            email: None,
            extras: vec![],
        },
        delivery_info: DeliveryInfo {
            service_id: 1,
            due_date: None,
            contact: Some("07700 900000".into()),
            email: None,
            time_window_code: None,
            start_window: None,
            end_window: None,
            book_in: None,
            extras: vec!["TL".into()],
            instructions: None,
        },
        collection_address: None,
        delivery_address: Address {
            country_id: 233,
            name: "Derby Builders".into(),
            line1: "1 Industrial Estate".into(),
            line2: None,
            town: "Derby".into(),
            county: None,
            postcode: "DE1 1AA".into(),
            telephone: None,
        },
        pallets: vec![pallet(), pallet()],
    }
}

fn pallet() -> PalletInput {
    PalletInput {
        pallet_base_id: 1,
        pallet_type_id: 7,
        length: 120,
        width: 100,
        height: 180,
        weight: 640,
        limited_quantity_weight: 0,
        do_not_stack: false,
    }
}

#[tokio::test]
async fn books_reads_labels_tracks_and_cancels() {
    let sim = sim().await;
    let nexus = pgd302(&sim);

    let booked = nexus.create_consignment(&booking("QG-1001")).await.unwrap();
    let id = NexusConsignmentId(booked.consignment_id);
    assert_eq!(booked.consignment_number, "QG-1001");
    assert_eq!(booked.pallets.len(), 2);
    assert!(booked.pallets.iter().all(|p| p.barcode.len() == 16), "{:?}", booked.pallets);
    assert_eq!(booked.requesting_depot_code.as_deref(), Some("PGD302"));
    assert!(booked.delivery_depot_code.is_some());

    let read = nexus.consignment(id, &["pallets", "routedetails"]).await.unwrap();
    assert_eq!(read.consignment_id, booked.consignment_id);
    assert_eq!(read.status.id, 10, "Booked");

    let pdf = nexus.labels(id, LabelFormat::Pdf, None).await.unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF"), "{}", pdf.content_type);
    let zpl = nexus.labels(id, LabelFormat::Zpl, None).await.unwrap();
    let text = String::from_utf8(zpl.bytes).unwrap();
    assert_eq!(text.matches("^XA").count(), 2, "one ZPL label per pallet");
    let one = nexus.labels(id, LabelFormat::Zpl, Some(booked.pallets[0].pallet_id)).await.unwrap();
    assert_eq!(String::from_utf8(one.bytes).unwrap().matches("^XA").count(), 1);

    let searched = nexus
        .list_consignments(&ConsignmentQuery { search_term: Some("QG-1001".into()), ..Default::default() }, 20, 0)
        .await
        .unwrap();
    assert_eq!(searched.items.len(), 1);
    assert_eq!(searched.total_count, Some(1));

    nexus.cancel(id).await.unwrap();
    assert_eq!(nexus.consignment(id, &[]).await.unwrap().status.id, 130, "Cancelled");
    assert!(matches!(nexus.labels(id, LabelFormat::Pdf, None).await, Err(NexusError::NotFound { .. })));
    // A repeated cancel (a retry) is harmless.
    nexus.cancel(id).await.unwrap();
    assert_eq!(nexus.consignment(id, &[]).await.unwrap().status.id, 130);
}

#[tokio::test]
async fn duplicate_number_is_a_conflict_and_cancel_after_collection_is_refused() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    let booked = nexus.create_consignment(&booking("QG-2002")).await.unwrap();
    let again = nexus.create_consignment(&booking("QG-2002")).await.unwrap_err();
    assert!(matches!(again, NexusError::Conflict { .. }), "{again}");

    sim.handle().step(booked.consignment_id as u64, Stage::Collected).unwrap();
    let refused = nexus.cancel(NexusConsignmentId(booked.consignment_id)).await.unwrap_err();
    assert!(matches!(refused, NexusError::Conflict { .. }), "{refused}");
}

#[tokio::test]
async fn events_attachments_and_eta_of_a_delivery() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    let booked = nexus.create_consignment(&booking("QG-3003")).await.unwrap();
    let id = NexusConsignmentId(booked.consignment_id);
    sim.handle().step(booked.consignment_id as u64, Stage::OutForDelivery).unwrap();
    // Only the delivery depot pushes ETAs, with the Optimize key.
    assert_eq!(booked.delivery_depot_code.as_deref(), Some("UKD205"));
    let delivery =
        client(&sim, "ukd205.api", "Sim!UKD205").with_optimize_key(Some(Secret::new(sim.handle().optimize_key())));

    let eta = EtaUpdate {
        estimated_del_date: sim.handle().now().date(),
        estimated_del_time: Some("14:30".into()),
        start_window: Some("14:00".into()),
        end_window: Some("15:00".into()),
        source: "OPTIMIZE",
    };
    let refused = nexus.put_eta(id, &eta).await.unwrap_err();
    assert!(matches!(refused, NexusError::Rejected { status: 403, .. }), "{refused}");
    delivery.put_eta(id, &eta).await.unwrap();
    let read = nexus.consignment(id, &[]).await.unwrap();
    assert_eq!(read.estimated_del_time.as_deref(), Some("14:30"));
    assert_eq!(read.start_window.as_deref(), Some("14:00"));

    sim.handle().step(booked.consignment_id as u64, Stage::Delivered).unwrap();
    let events = nexus.events(id).await.unwrap();
    let barcodes: std::collections::BTreeSet<_> = events.iter().filter_map(|e| e.barcode.clone()).collect();
    assert_eq!(barcodes.len(), 2, "events are per pallet");
    assert!(events.iter().any(|e| e.code == "ETA"));
    assert!(events.windows(2).all(|w| w[0].event_date_time <= w[1].event_date_time), "oldest first");

    let attachments = nexus.attachments(id).await.unwrap();
    let signature = attachments.iter().find(|a| a.attachment_type.code == "MPOD").expect("an MPOD at delivery");
    assert!(signature.signed_by.is_some());
    let content = nexus.attachment_content(signature.attachment_id).await.unwrap();
    assert!(content.bytes.starts_with(b"\x89PNG"), "{}", content.content_type);
}

#[tokio::test]
async fn a_delivery_depot_posts_scans_and_uploads_proof() {
    let sim = sim().await;
    let booker = pgd302(&sim);
    let booked = booker.create_consignment(&booking("QG-4004")).await.unwrap();
    let id = NexusConsignmentId(booked.consignment_id);
    let delivery_depot = booked.delivery_depot_code.clone().unwrap();
    sim.handle().step(booked.consignment_id as u64, Stage::AtDeliveryDepot).unwrap();

    // The delivery depot's own user posts the scans it performs.
    let depot_user = match delivery_depot.as_str() {
        "UKD205" => client(&sim, "ukd205.api", "Sim!UKD205"),
        "PGD302" => client(&sim, "pgd302.api", "Sim!PGD302"),
        other => panic!("unexpected delivery depot {other}"),
    };
    for pallet in &booked.pallets {
        let scan = EventPost {
            barcode: pallet.barcode.clone(),
            code: "SCDV".into(),
            event_date_time: sim.handle().now(),
            notes: Some("out on R03".into()),
        };
        depot_user.post_event(id, &scan).await.unwrap();
    }
    let events = depot_user.events(id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.code == "SCDV").count(), 2);

    let upload = AttachmentUpload {
        kind: DocumentKind::Mpod,
        file_name: "signature.png".into(),
        content_type: "image/png".into(),
        bytes: b"\x89PNG\r\n\x1a\nsignature".to_vec(),
        signed_by: Some("J SMITH".into()),
        captured_at: Some(sim.handle().now()),
    };
    let stored = depot_user.upload_attachment(id, &upload).await.unwrap();
    assert_eq!(stored.attachment_type.code, "MPOD");
    assert_eq!(stored.signed_by.as_deref(), Some("J SMITH"));
    let back = depot_user.attachment_content(stored.attachment_id).await.unwrap();
    assert_eq!(back.bytes, upload.bytes);
    // The seen way: the listing's own link to the file.
    let listed = depot_user.attachments(id).await.unwrap();
    let url = listed.iter().find(|a| a.attachment_id == stored.attachment_id).and_then(|a| a.url.clone());
    let by_url = depot_user.attachment_by_url(&url.expect("a url on the listed attachment")).await.unwrap();
    assert_eq!(by_url.bytes, upload.bytes);
}

#[tokio::test]
async fn lists_page_until_a_short_page_and_lookups_read() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    for n in 0..7 {
        nexus.create_consignment(&booking(&format!("QG-PAGE-{n}"))).await.unwrap();
    }
    let query = ConsignmentQuery { search_term: Some("QG-PAGE".into()), ..Default::default() };
    let first = nexus.list_consignments(&query, 3, 0).await.unwrap();
    assert_eq!((first.items.len(), first.total_count), (3, Some(7)));
    let all = nexus.list_all_consignments(&query, 3).await.unwrap();
    assert_eq!(all.len(), 7);
    let numbers: std::collections::BTreeSet<_> = all.iter().map(|c| c.consignment_number.clone()).collect();
    assert_eq!(numbers.len(), 7, "no duplicates across pages");

    let services = nexus.lookup("services", None).await.unwrap();
    assert!(services.iter().any(|row| row.code.as_deref() == Some("SD")));
    let statuses = nexus.lookup("consignmentStatuses", Some("deliver")).await.unwrap();
    assert!(
        !statuses.is_empty()
            && statuses.iter().all(|r| r.name.as_deref().unwrap_or("").to_lowercase().contains("deliver"))
    );
}

#[tokio::test]
async fn a_401_mid_run_costs_one_login() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    nexus.lookup("services", None).await.unwrap();
    assert_eq!(sim.handle().request_counts().for_route(LOGIN), 1);

    sim.handle().expire_all_tokens();
    sim.handle().revoke_refresh_tokens();
    nexus.lookup("services", None).await.unwrap();
    nexus.lookup("extras", None).await.unwrap();
    assert_eq!(sim.handle().request_counts().for_route(LOGIN), 2, "one new login after the 401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_callers_on_an_expired_token_share_one_login() {
    let sim = sim().await;
    let nexus = Arc::new(pgd302(&sim));
    nexus.lookup("services", None).await.unwrap();
    sim.handle().expire_all_tokens();
    sim.handle().revoke_refresh_tokens();
    sim.handle().reset_request_counts();

    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let nexus = Arc::clone(&nexus);
        callers.spawn(async move { nexus.lookup("palletTypes", None).await.map(|rows| rows.len()) });
    }
    for answer in callers.join_all().await {
        assert!(answer.unwrap() >= 7);
    }
    assert_eq!(sim.handle().request_counts().for_route(LOGIN), 1, "exactly one login for twenty callers");
}

#[tokio::test]
async fn a_503_burst_is_ridden_out_within_the_budget() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    nexus.lookup("services", None).await.unwrap();
    sim.handle().set_outage_for_next(3);
    let rows = nexus.lookup("extras", None).await.unwrap();
    assert!(rows.iter().any(|r| r.code.as_deref() == Some("TL")));

    sim.handle().set_outage(true);
    let err = nexus.lookup("extras", None).await.unwrap_err();
    assert!(matches!(err, NexusError::Unavailable { attempts: 6, .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_permanent_400_fails_at_once_with_the_field_message() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    let mut bad = booking("QG-5005");
    bad.delivery_address.postcode = "NOT A POSTCODE".into();
    sim.handle().reset_request_counts();
    let err = nexus.create_consignment(&bad).await.unwrap_err();
    let messages = err.field_messages("DeliveryAddress.Postcode");
    assert!(!messages.is_empty(), "{err}");
    assert!(matches!(err, NexusError::Rejected { status: 400, .. }), "{err}");
    assert!(!err.is_transient());
    assert_eq!(sim.handle().request_counts().for_route("POST /v1/Consignments"), 1, "no retry");
}

#[tokio::test]
async fn wrong_password_is_unauthorized_naming_the_user() {
    let sim = sim().await;
    let nexus = client(&sim, "pgd302.api", "wrong");
    let err = nexus.lookup("services", None).await.unwrap_err();
    assert!(matches!(&err, NexusError::Unauthorized { username, .. } if username == "pgd302.api"), "{err}");
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn truncated_answers_to_reads_are_fetched_again() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    nexus.lookup("services", None).await.unwrap();
    sim.handle().set_faults(nexus_sim::FaultSettings {
        truncate_bodies: nexus_sim::FaultSwitch::NextRequests(2),
        ..sim.handle().faults_now()
    });
    let rows = nexus.lookup("palletTypes", None).await.unwrap();
    assert_eq!(rows.len(), 7);
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after() {
    let sim = sim().await;
    let nexus = pgd302(&sim);
    nexus.lookup("services", None).await.unwrap();
    sim.handle().set_faults(nexus_sim::FaultSettings {
        throttle: nexus_sim::FaultSwitch::NextRequests(1),
        ..sim.handle().faults_now()
    });
    sim.handle().reset_request_counts();
    let rows = nexus.lookup("extras", None).await.unwrap();
    assert!(rows.iter().any(|r| r.code.as_deref() == Some("TL")));
    let counts = sim.handle().request_counts();
    let extras: Vec<_> = counts.routes.iter().filter(|r| r.route.eq_ignore_ascii_case("GET /v1/extras")).collect();
    let statuses: std::collections::BTreeMap<u16, u64> =
        extras.iter().flat_map(|r| r.statuses.iter().map(|(s, n)| (*s, *n))).collect();
    assert_eq!(statuses.get(&429), Some(&1), "{statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
}

/// The partners' HTTP client follows a redirect on the host first asked, and never one to another
/// host (which would carry the request, and its token, elsewhere): that answer stops at the 302.
#[tokio::test]
async fn redirects_are_followed_on_the_same_host_only() {
    use axum::response::Redirect;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}", elsewhere.local_addr().unwrap());
    let away = axum::Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            "taken elsewhere"
        }
    });
    tokio::spawn(async move { axum::serve(elsewhere, away).await });

    let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let first_url = format!("http://{}", first.local_addr().unwrap());
    let target = format!("{elsewhere_url}/stolen");
    let app = axum::Router::new()
        .route("/same", axum::routing::get(|| async { Redirect::temporary("/target") }))
        .route("/target", axum::routing::get(|| async { "followed" }))
        .route("/away", axum::routing::get(move || async move { Redirect::temporary(&target) }));
    tokio::spawn(async move { axum::serve(first, app).await });

    let http = RetryPolicy::default().http_client();
    let same = http.get(format!("{first_url}/same")).send().await.unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(same.text().await.unwrap(), "followed");
    let away = http.get(format!("{first_url}/away")).send().await.unwrap();
    assert_eq!(away.status(), 307, "the redirect to another host is not followed");
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0, "nothing reached the other host");
}
