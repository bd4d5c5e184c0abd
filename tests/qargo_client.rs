//! The Qargo client against the Qargo simulator, over real sockets: one shared token for many
//! instances, pacing and 429s, order upload followed to its end, typed refusals.

use std::sync::Arc;
use std::time::Duration;

use bridge::config::{Credentials, QargoClient as OAuthClient, Secret};
use bridge::http::RetryPolicy;
use bridge::qargo::wire::UploadStatus;
use bridge::qargo::{Pacer, QargoClient, QargoError};
use bridge::store::TokenCache;
use bridge::store::memory::MemoryStore;
use qargo_sim::{QargoSim, RunningSim, SimOptions};

const TOKEN: (&str, &str) = ("POST", "/v1/auth/token");

async fn sim(options: SimOptions) -> RunningSim {
    QargoSim::start(SimOptions { strict_unknown_keys: true, ..options }).await.expect("start the Qargo simulator")
}

fn client(sim: &RunningSim, tokens: Arc<dyn TokenCache>, pacer: Arc<Pacer>) -> QargoClient {
    QargoClient::new(
        &sim.base_url(),
        OAuthClient { client_id: "bridge-client".into(), client_secret: Secret::new("bridge-secret") },
        Credentials { username: "bridge-webhook".into(), password: Secret::new("webhook-pass") },
        tokens,
        pacer,
        RetryPolicy { budget: Duration::from_secs(20), ..RetryPolicy::default() },
    )
}

fn order(identifier: &str) -> serde_json::Value {
    let stop = |name: &str, postcode: &str, city: &str| {
        serde_json::json!({
            "location": {"name": name, "address": "1 Test Street", "postal_code": postcode, "city": city, "country": "GB"},
            "date": "2030-06-04"
        })
    };
    serde_json::json!({
        "operation": "CREATE",
        "order_identifier": identifier,
        "customer": {"code": "ACME"},
        "customer_reference_number": identifier,
        "consignments": [{
            "pickup_stop": stop("Sender", "DN22 7SS", "Retford"),
            "delivery_stop": stop("Receiver", "DE1 1AA", "Derby"),
            "goods": [{"description": "Pallets", "quantity": 1, "packaging_type": {"code": "F"},
                        "handling_units": [{"barcode": {"value": "1044000106606774"}}]}]
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_calls_across_ten_instances_make_one_token_call() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let tokens: Arc<dyn TokenCache> = Arc::new(MemoryStore::in_memory());
    let pacer = Arc::new(Pacer::new(1000.0));
    let mut instances = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let qargo = client(&sim, Arc::clone(&tokens), Arc::clone(&pacer));
        instances.spawn(async move {
            for _ in 0..10 {
                qargo.me().await.unwrap();
            }
        });
    }
    instances.join_all().await;
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count("GET", "/me"), 100);
    assert_eq!(counts.count(TOKEN.0, TOKEN.1), 1, "one token for all instances");
}

#[tokio::test]
async fn an_expired_token_is_replaced_once() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let tokens: Arc<dyn TokenCache> = Arc::new(MemoryStore::in_memory());
    let qargo = client(&sim, tokens, Arc::new(Pacer::new(1000.0)));
    qargo.me().await.unwrap();
    sim.handle.expire_all_tokens();
    qargo.me().await.unwrap();
    qargo.me().await.unwrap();
    assert_eq!(sim.handle.request_counts().count(TOKEN.0, TOKEN.1), 2);
}

#[tokio::test]
async fn rate_limit_answers_are_waited_out() {
    // Qargo's own limits (3 at once, 2 a second); a client paced far faster gets 429s and waits.
    let sim = sim(SimOptions::default()).await;
    let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(100.0)));
    for _ in 0..6 {
        qargo.me().await.unwrap();
    }
    let counts = sim.handle.request_counts();
    assert!(counts.count_with_status("GET", "/me", 429) >= 1, "the limit was hit");
    assert_eq!(counts.count_with_status("GET", "/me", 200), 6, "and every call still succeeded");
}

#[tokio::test]
async fn the_token_limit_is_reported_not_hammered() {
    let sim = sim(SimOptions::default()).await;
    // Five instances that cannot share (separate caches) spend the hour's five token calls.
    for _ in 0..5 {
        let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(2.0)));
        qargo.me().await.unwrap();
    }
    let sixth = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(2.0)));
    let err = sixth.me().await.unwrap_err();
    assert!(matches!(err, QargoError::TokenLimit { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(sim.handle.request_counts().count(TOKEN.0, TOKEN.1), 6);
}

#[tokio::test]
async fn an_order_is_uploaded_once_and_a_repeat_is_a_duplicate() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(1000.0)));
    let wait = Duration::from_millis(10);
    let first = qargo
        .upload_order_and_wait("NX-PALLEX-10001", &order("NX-PALLEX-10001"), wait, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(first.upload_status, UploadStatus::Completed);
    let order_id = first.order_id.clone().expect("an imported order has an id");
    let again = qargo
        .upload_order_and_wait("NX-PALLEX-10001", &order("NX-PALLEX-10001"), wait, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(again.upload_status, UploadStatus::Duplicate);
    assert_eq!(again.order_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(sim.handle.orders().len(), 1);

    let read = qargo.order(&order_id).await.unwrap();
    assert_eq!(read["customer_reference_number"], "NX-PALLEX-10001");
    let status = qargo.order_status(&order_id).await.unwrap();
    assert!(status["stops"].as_array().is_some_and(|stops| stops.len() == 2), "{status}");
}

#[tokio::test]
async fn a_refused_order_names_its_fields() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(1000.0)));
    let mut bad = order("NX-FORTEC-1");
    bad["consignments"][0]["delivery_stop"]["location"].as_object_mut().unwrap().remove("postal_code");
    let err = qargo.upload_order(&bad).await.unwrap_err();
    let QargoError::Invalid { errors, .. } = &err else { panic!("expected a 400, got {err}") };
    assert!(
        errors.iter().any(|e| e.path.as_deref().unwrap_or("").contains("delivery_stop.location.postal_code")),
        "{errors:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_status_update_matching_no_stop_is_refused_with_qargo_reasons() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(1000.0)));
    let update = serde_json::json!({"updates": [{
        "event_time": "2030-06-04T09:00:00+01:00",
        "stop": {"match": {"matches_all": [{"order": {"customer_reference_number": {"matches_any": ["NO-SUCH-ORDER"]}}}]},
                 "status": "COMPLETED"}
    }]});
    let err = qargo.subco_status_update(&update).await.unwrap_err();
    assert!(matches!(&err, QargoError::WebhookRefused { errors } if !errors.is_empty()), "{err}");
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count_with_auth("POST", "/v1/webhook/subco-status-update", "basic"), 1);
    assert_eq!(counts.count(TOKEN.0, TOKEN.1), 0, "webhooks need no OAuth token");
}

#[tokio::test]
async fn documents_and_scans_reach_the_order_and_come_back() {
    let sim = sim(SimOptions { limits: qargo_sim::Limits::off(), ..SimOptions::default() }).await;
    let qargo = client(&sim, Arc::new(MemoryStore::in_memory()), Arc::new(Pacer::new(1000.0)));
    let wait = Duration::from_millis(10);
    let upload =
        qargo.upload_order_and_wait("NX-FORTEC-2", &order("NX-FORTEC-2"), wait, Duration::from_secs(5)).await.unwrap();
    let order_id = upload.order_id.unwrap();
    let status = qargo.order_status(&order_id).await.unwrap();
    let delivery = status["stops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stop| stop["stop_type"] == "DELIVERY")
        .expect("a delivery stop")
        .clone();
    let stop_id = delivery["id"].as_str().unwrap().to_owned();

    // A scan per pallet barcode and an arrival, by stop id.
    let update = serde_json::json!({"updates": [{
        "event_time": "2030-06-04T09:00:00+01:00",
        "stop": {"id": stop_id, "status": "AT_STOP",
                 "question_answers": {"scan_barcode": [{"barcode": "1044000106606774", "status": "SCANNED_IN",
                                                        "timestamp": "2030-06-04T09:00:00+01:00"}]}}
    }]});
    qargo.subco_status_update(&update).await.unwrap();
    assert_eq!(sim.handle.stop_status(stop_id.parse().unwrap()).as_deref(), Some("AT_STOP"));
    assert_eq!(sim.handle.scans("1044000106606774").len(), 1);

    let png = b"\x89PNG\r\n\x1a\nsignature".to_vec();
    qargo.subco_document_upload(&stop_id, "MPOD", "signature.png", "image/png", png.clone()).await.unwrap();
    let pdf = b"%PDF-1.4 signed note".to_vec();
    qargo
        .document_import("NX-FORTEC-2", "PROOF_OF_DELIVERY_SIGNED", "pod.pdf", "application/pdf", pdf.clone())
        .await
        .unwrap();
    let upload_id = qargo.upload_content("photo.jpg", "image/jpeg", b"\xff\xd8\xff photo".to_vec()).await.unwrap();
    assert!(!upload_id.is_empty());

    let documents = qargo.order_documents(&order_id).await.unwrap();
    let signed = documents
        .iter()
        .find(|d| d.document_type.as_deref() == Some("PROOF_OF_DELIVERY_SIGNED"))
        .unwrap_or_else(|| panic!("{documents:?}"));
    let (content_type, bytes) = qargo.download_document(&signed.id).await.unwrap();
    assert_eq!((content_type.as_str(), bytes), ("application/pdf", pdf.clone()));
    assert!(documents.len() >= 2, "{documents:?}");

    // A visibility document's download_url is fetched only from Qargo's own host.
    let url = signed.download_url.clone().expect("a download URL");
    assert_eq!(qargo.download_url(&url).await.unwrap().1, pdf);
    let path = url.split_once("/v1/").map(|(_, rest)| format!("/v1/{rest}")).unwrap();
    assert_eq!(qargo.download_url(&path).await.unwrap().1, pdf, "a path is taken on Qargo's host");
    let total = || sim.handle.request_counts().routes.iter().map(|r| r.total).sum::<u64>();
    let requests_before = total();
    for foreign in ["http://127.0.0.2:1/v1/documents/document/x/download", "https://qargo.invalid/v1/x"] {
        let err = qargo.download_url(foreign).await.unwrap_err();
        assert!(matches!(err, QargoError::ForeignUrl { .. }), "{foreign}: {err}");
    }
    assert_eq!(total(), requests_before, "no request for a foreign URL");

    let nowhere = qargo.document_import("NO-SUCH-ORDER", "POD", "x.pdf", "application/pdf", b"x".to_vec()).await;
    assert!(nowhere.is_err(), "a document for no order is refused");
}
