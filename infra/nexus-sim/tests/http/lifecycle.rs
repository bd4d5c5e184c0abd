//! The lifecycle of §3.8 under the driver: the clock advances, scans appear per pallet, evidence at
//! delivery, failed deliveries re-planned, cancel rules, determinism.

use nexus_sim::{NexusSim, SimOptions, Stage};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, booking, codes_of, id_of};

const ORDER: [&str; 12] = ["BKD", "MAN", "COL", "ACD", "THB", "AHB", "DHB", "ADD", "HLD", "OFD", "NDL", "DEL"];

fn status_code(sim: &Sim, id: u64) -> &'static str {
    sim.handle().status_of(id).unwrap()
}

async fn set_clock(sim: &Sim, now: &str) {
    let (status, body) = sim.admin_post("clock", &json!({ "now": now })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["now"], now);
}

fn events_of_pallet<'a>(consignment: &'a Value, barcode: &str) -> Vec<&'a Value> {
    consignment["events"].as_array().unwrap().iter().filter(|e| e["barcode"] == barcode).collect()
}

#[tokio::test]
async fn a_booking_reaches_delivered_with_signature_and_photos() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["pallets"] = json!([{ "palletTypeID": 7, "height": 180, "weight": 640 }, { "palletTypeID": 3, "height": 90, "weight": 300 }]);
    let id = id_of(&sim.book("pgd302.api", &body).await);
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();

    // Watch the status hour by hour: it only ever moves forward.
    let mut seen = vec![status_code(&sim, id)];
    for hour in 10..=42 {
        let day = if hour < 24 { 17 } else { 18 };
        set_clock(&sim, &format!("2026-06-{day}T{:02}:00:00", hour % 24)).await;
        let now = status_code(&sim, id);
        if seen.last() != Some(&now) {
            seen.push(now);
        }
    }
    let positions: Vec<usize> = seen.iter().map(|s| ORDER.iter().position(|o| o == s).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "status went backwards: {seen:?}");
    assert_eq!(seen.last(), Some(&"DEL"), "{seen:?}");
    assert!(seen.contains(&"AHB") && seen.contains(&"OFD"), "{seen:?}");

    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"], json!({ "id": 100, "name": "Delivered" }));
    assert!(c["delDateTime"].as_str().unwrap().starts_with("2026-06-18T"));
    for pallet in c["pallets"].as_array().unwrap() {
        let barcode = pallet["barcode"].as_str().unwrap();
        let codes: Vec<&str> = events_of_pallet(&c, barcode).iter().map(|e| e["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["POC", "ARRC", "SCOT", "ARRH", "DEPH", "ARRD", "SCDV", "ARRI", "MPOD"], "{barcode}");
        assert!(events_of_pallet(&c, barcode).iter().all(|e| e["source"] == "NETWORK"));
        assert_eq!(pallet["lastEventCode"], "MPOD");
    }
    let times: Vec<&str> =
        c["events"].as_array().unwrap().iter().map(|e| e["eventDateTime"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "events newest last");
    let hub = c["events"].as_array().unwrap().iter().find(|e| e["code"] == "ARRH").unwrap();
    assert_eq!(hub["depotCode"], "PXHUB");

    // The delivering depot's evidence, as its handheld would upload it.
    let token = sim.token("pgd302.api").await;
    let (status, attachments) = sim.get_json(&token, &format!("consignments/{id}/attachments")).await;
    assert_eq!(status, StatusCode::OK);
    let attachments = attachments.as_array().unwrap();
    let signature = attachments.iter().find(|a| a["attachmentType"]["code"] == "MPOD").expect("an MPOD");
    assert!(signature["signedBy"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(signature["uploadedByDepotCode"], "UKD101");
    assert!(attachments.iter().any(|a| a["attachmentType"]["code"] == "MPODPHOTOE"));
    for attachment in attachments {
        let url = attachment["url"].as_str().unwrap();
        assert!(url.starts_with(&sim.running.base_url()), "{url}");
        let response = sim.http.get(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], attachment["contentType"].as_str().unwrap());
        let bytes = response.bytes().await.unwrap();
        match attachment["contentType"].as_str().unwrap() {
            "image/png" => assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n")),
            "image/jpeg" => assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])),
            "application/pdf" => assert!(bytes.starts_with(b"%PDF-")),
            other => panic!("unexpected content type {other}"),
        }
    }
}

#[tokio::test]
async fn a_failed_delivery_is_re_planned_for_the_next_working_day() {
    let sim = Sim::start().await;
    let friday_collection = {
        let mut body = booking();
        body["collectionInfo"]["dueDate"] = json!("2026-06-19");
        body
    };
    let id = id_of(&sim.book("pgd302.api", &friday_collection).await);
    let (status, _) = sim.admin_post(&format!("consignments/{id}/outcome"), &json!({ "outcome": "failed" })).await;
    assert_eq!(status, StatusCode::OK);
    set_clock(&sim, "2026-06-22T18:00:00").await;
    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"], json!({ "id": 110, "name": "Not Delivered" }));
    assert_eq!(c["estimatedDelDate"], "2026-06-23", "Monday's failure goes out again on Tuesday");
    let failure =
        c["events"].as_array().unwrap().iter().find(|e| e["code"].as_str().unwrap().starts_with("ND")).unwrap();
    assert!(failure["eventDateTime"].as_str().unwrap().starts_with("2026-06-22"));

    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    set_clock(&sim, "2026-06-23T18:00:00").await;
    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"]["name"], "Delivered");
    let codes = codes_of(&c["events"]);
    assert_eq!(codes.iter().filter(|c| *c == "SCDV").count(), 2, "{codes:?}");
    assert!(c["delDateTime"].as_str().unwrap().starts_with("2026-06-23"));
}

#[tokio::test]
async fn three_failed_attempts_return_the_pallets() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    sim.handle().set_delivery_outcome(id, Some("failed")).unwrap();
    set_clock(&sim, "2026-06-24T18:00:00").await;
    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"]["name"], "Returned to sender");
    let codes = codes_of(&c["events"]);
    assert_eq!(codes.iter().filter(|c| c.starts_with("ND")).count(), 3, "{codes:?}");
    assert_eq!(codes.last().map(String::as_str), Some("RTNS"));
    assert!(c["delDateTime"].is_null());
}

#[tokio::test]
async fn economy_waits_a_night_at_the_hub() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["deliveryInfo"]["serviceID"] = json!(2);
    let id = id_of(&sim.book("pgd302.api", &body).await);
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    set_clock(&sim, "2026-06-18T18:00:00").await;
    assert_eq!(status_code(&sim, id), "AHB");
    set_clock(&sim, "2026-06-19T18:00:00").await;
    assert_eq!(status_code(&sim, id), "DEL");
}

#[tokio::test]
async fn book_in_deliveries_are_held_then_booked_in_with_a_slot() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["deliveryInfo"]["timeWindowCode"] = json!("BI");
    body["deliveryInfo"]["bookIn"] =
        json!({ "contactName": "Jo", "contactPhone": "01234 567890", "reference": "GATE-5" });
    let id = id_of(&sim.book("pgd302.api", &body).await);
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    set_clock(&sim, "2026-06-18T08:00:00").await;
    assert_eq!(status_code(&sim, id), "HLD");
    set_clock(&sim, "2026-06-18T18:00:00").await;
    let c = sim.admin_consignment(id).await;
    assert_eq!(
        codes_of(&c["events"]),
        ["POC", "ARRC", "SCOT", "ARRH", "DEPH", "ARRD", "HIND", "BKIN", "SCDV", "ARRI", "MPOD"]
    );
    let book_in = c["events"].as_array().unwrap().iter().find(|e| e["code"] == "BKIN").unwrap();
    let arrival = c["events"].as_array().unwrap().iter().find(|e| e["code"] == "ARRI").unwrap();
    let slot = &arrival["eventDateTime"].as_str().unwrap()[11..16];
    let notes = book_in["notes"].as_str().unwrap();
    assert!(notes.contains("GATE-5") && notes.contains(slot), "{notes} should name the slot {slot}");
}

#[tokio::test]
async fn status_rolls_up_from_the_least_advanced_pallet() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["pallets"] = json!([{ "palletTypeID": 7, "height": 180, "weight": 640 }, { "palletTypeID": 7, "height": 180, "weight": 640 }]);
    let c = sim.book("pgd302.api", &body).await;
    let id = id_of(&c);
    let token = sim.token("pgd302.api").await;
    let barcode = c["pallets"][0]["barcode"].as_str().unwrap();
    let (status, _) = sim
        .post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "POC", "barcode": barcode }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(status_code(&sim, id), "BKD", "one pallet still waits for collection");
    let (_, after) = sim.get_json(&token, &format!("consignments/{id}")).await;
    assert_eq!(after["pallets"][0]["lastEventCode"], "POC");
    assert!(after["pallets"][1]["lastEventCode"].is_null());
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "ARRC" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(status_code(&sim, id), "ACD", "ARRC on both pallets moves both past POC");
}

#[tokio::test]
async fn terminal_only_when_every_pallet_is() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["pallets"] = json!([{ "palletTypeID": 7, "height": 180, "weight": 640 }, { "palletTypeID": 7, "height": 180, "weight": 640 }]);
    let c = sim.book("pgd302.api", &body).await;
    let id = id_of(&c);
    sim.handle().step(id, Stage::OutForDelivery).unwrap();
    let token = sim.token("ukd101.api").await;
    let first = c["pallets"][0]["barcode"].as_str().unwrap();
    let (status, _) =
        sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "EPOD", "barcode": first })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(status_code(&sim, id), "OFD");
    let second = c["pallets"][1]["barcode"].as_str().unwrap();
    let (status, _) = sim
        .post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "DELS", "barcode": second }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(status_code(&sim, id), "DLX", "one short pallet makes it an exception");
}

#[tokio::test]
async fn cancel_before_collection_and_409_after() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let early = id_of(&sim.book("pgd302.api", &booking()).await);
    let (status, cancelled) = sim.post_json(&token, &format!("consignments/{early}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], json!({ "id": 130, "name": "Cancelled" }));
    let (status, again) = sim.post_json(&token, &format!("consignments/{early}/cancel"), &json!({})).await;
    assert_eq!((status, &again["status"]["id"]), (StatusCode::OK, &json!(130)), "cancelling twice is harmless");
    let events = sim.admin_consignment(early).await["events"].clone();
    assert_eq!(codes_of(&events), ["CANC"]);
    let late = id_of(&sim.book("pgd302.api", &booking()).await);
    set_clock(&sim, "2026-06-18T18:00:00").await;
    assert_eq!(status_code(&sim, early), "CAN", "the driver leaves cancelled consignments alone");
    assert_ne!(status_code(&sim, late), "BKD");
    let token = sim.token("pgd302.api").await;
    let (status, problem) = sim.post_json(&token, &format!("consignments/{late}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(problem["detail"].as_str().unwrap().contains("before collection"), "{problem}");
    assert_ne!(status_code(&sim, late), "CAN");
}

#[tokio::test]
async fn only_the_booking_depot_or_customer_may_cancel() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let delivering = sim.token("ukd101.api").await;
    let (status, _) = sim.post_json(&delivering, &format!("consignments/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let customer = sim.token("timber.pallex").await;
    let (status, _) = sim.post_json(&customer, &format!("consignments/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn stepping_moves_forward_only_and_delivers_with_evidence() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    assert!(sim.handle().step(id, Stage::AtHub).unwrap() >= 4);
    assert_eq!(status_code(&sim, id), "AHB");
    assert!(sim.handle().step(id, Stage::Collected).is_err());
    sim.handle().step(id, Stage::Delivered).unwrap();
    let c = sim.admin_consignment(id).await;
    let kinds: Vec<&str> =
        c["attachments"].as_array().unwrap().iter().map(|a| a["attachmentType"]["code"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"MPOD") && kinds.contains(&"MPODPHOTOE"), "{kinds:?}");
    assert!(sim.handle().step(id, Stage::NotDelivered).is_err());
    assert!(sim.handle().step(999_999, Stage::Delivered).is_err());
}

#[tokio::test]
async fn last_updated_moves_on_every_change() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let last = |sim: &Sim| sim.handle().consignment_json(id).unwrap()["lastUpdated"].as_str().unwrap().to_owned();
    assert_eq!(last(&sim), "2026-06-17T09:00:00");
    set_clock(&sim, "2026-06-17T09:05:00").await;
    let token = sim.token("pgd302.api").await;
    sim.get(&token, &format!("consignments/{id}/labels")).await;
    assert_eq!(last(&sim), "2026-06-17T09:05:00", "labels printed");
    set_clock(&sim, "2026-06-17T23:59:00").await;
    let c = sim.admin_consignment(id).await;
    let newest = c["events"].as_array().unwrap().last().unwrap()["eventDateTime"].as_str().unwrap().to_owned();
    assert_eq!(last(&sim), newest, "the last scan");
    set_clock(&sim, "2026-06-18T00:30:00").await;
    let before = last(&sim);
    let ukd101 = sim.token("ukd101.api").await;
    let (status, _) = sim
        .http
        .put(sim.url(&format!("consignments/{id}/eta")))
        .bearer_auth(&ukd101)
        .header("X-Optimize-Key", sim.handle().optimize_key())
        .json(&json!({ "estimatedDelDate": "2026-06-18", "estimatedDelTime": "11:00" }))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_ne!(last(&sim), before);
    assert_eq!(last(&sim), "2026-06-18T00:30:00", "the ETA");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_week() {
    let a = NexusSim::start(SimOptions::default()).await.unwrap();
    let b = NexusSim::start(SimOptions::default()).await.unwrap();
    for sim in [&a, &b] {
        sim.handle().set_now("2026-06-24T09:00:00".parse().unwrap()).unwrap();
    }
    for id in 10001..=10019 {
        assert_eq!(a.handle().consignment_json(id), b.handle().consignment_json(id), "consignment {id}");
    }
    assert!(a.handle().consignments_at(Stage::Delivered).len() >= 10);
}

#[tokio::test]
async fn the_default_world_has_a_consignment_in_every_stage() {
    let sim = Sim::start().await;
    for stage in Stage::ALL {
        assert!(!sim.handle().consignments_at(stage).is_empty(), "no consignment at {stage}");
    }
}

#[tokio::test]
async fn a_late_paper_pod_follows_delivery_for_pp_consignments() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["deliveryInfo"]["extras"] = json!(["PP"]);
    let id = id_of(&sim.book("pgd302.api", &body).await);
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    set_clock(&sim, "2026-06-19T18:00:00").await;
    let c = sim.admin_consignment(id).await;
    let delivered = c["delDateTime"].as_str().unwrap();
    let attachments = c["attachments"].as_array().unwrap();
    let signature = attachments.iter().find(|a| a["attachmentType"]["code"] == "MPOD").unwrap();
    assert_eq!(signature["createdDate"], delivered, "the signature comes with the delivery");
    let pod = attachments.iter().find(|a| a["attachmentType"]["code"] == "POD").expect("a scanned POD");
    assert_eq!(pod["contentType"], "application/pdf");
    let pod_time = pod["createdDate"].as_str().unwrap();
    let hours_later = |a: &str, b: &str| {
        let a: jiff::civil::DateTime = a.parse().unwrap();
        let b: jiff::civil::DateTime = b.parse().unwrap();
        (b - a).get_hours() + (b - a).get_days() * 24
    };
    assert!(hours_later(delivered, pod_time) >= 2, "{delivered} -> {pod_time}");
    assert_eq!(c["lastUpdated"], pod_time);
}
