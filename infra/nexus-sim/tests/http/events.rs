//! `GET`/`POST /v1/consignments/{id}/events`: depot-posted scans, their authority, and the driver
//! never repeating them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, booking, codes_of, error_keys, id_of, read};

/// A PALL-EX consignment booked by UKD101 for PGD302 to deliver (inbound for PGD302).
fn inbound_for_pgd302() -> Value {
    let mut body = booking();
    body["general"]["customerID"] = json!(52011);
    body["deliveryAddress"] =
        json!({ "name": "Retford Home Store", "line1": "12 Bridgegate", "town": "Retford", "postcode": "DN22 7UF" });
    body
}

fn scans_by_code(consignment: &Value, code: &str) -> Vec<Value> {
    consignment["events"].as_array().unwrap().iter().filter(|e| e["code"] == code).cloned().collect()
}

#[tokio::test]
async fn the_delivery_depot_posts_its_scans_and_the_driver_does_not_repeat_them() {
    let sim = Sim::start().await;
    let mut body = inbound_for_pgd302();
    body["pallets"] = json!([{ "palletTypeID": 7, "height": 180, "weight": 640 }, { "palletTypeID": 7, "height": 180, "weight": 640 }]);
    let c = sim.book("ukd101.api", &body).await;
    let id = id_of(&c);
    sim.handle().set_delivery_outcome(id, Some("delivered")).unwrap();
    sim.handle().set_now("2026-06-18T04:00:00".parse().unwrap()).unwrap();
    assert_eq!(sim.handle().status_of(id), Some("DHB"));

    let token = sim.token("pgd302.api").await;
    let (status, created) =
        sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "ARRD", "notes": "Bay 4" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = created.as_array().unwrap();
    assert_eq!(created.len(), 2, "one event per barcode");
    for event in created {
        assert_eq!(event["source"], "DEPOT_API");
        assert_eq!(event["depotCode"], "PGD302");
        assert_eq!(event["eventDateTime"], "2026-06-18T04:00:00");
        assert_eq!(event["notes"], "Bay 4");
    }
    assert_eq!(sim.handle().status_of(id), Some("ADD"));

    sim.handle().set_now("2026-06-18T20:00:00".parse().unwrap()).unwrap();
    let after = sim.admin_consignment(id).await;
    assert_eq!(after["status"]["name"], "Delivered");
    assert_eq!(scans_by_code(&after, "ARRD").len(), 2, "the driver did not scan ARRD again");
    assert_eq!(scans_by_code(&after, "SCDV").len(), 2);
    let (status, events) = sim.get_json(&sim.token("pgd302.api").await, &format!("consignments/{id}/events")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events, after["events"]);
}

#[tokio::test]
async fn a_manual_depot_runs_its_own_delivery_leg() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("ukd101.api", &inbound_for_pgd302()).await);
    sim.handle().set_manual_depots(["PGD302"]);
    sim.handle().set_now("2026-06-20T12:00:00".parse().unwrap()).unwrap();
    assert_eq!(sim.handle().status_of(id), Some("DHB"), "the driver waits for PGD302");
    let token = sim.token("pgd302.api").await;
    let scans = json!([
        { "code": "ARRD", "eventDateTime": "2026-06-20T06:00:00" },
        { "code": "SCDV", "eventDateTime": "2026-06-20T07:30:00" },
        { "code": "ARRI", "eventDateTime": "2026-06-20T10:10:00" },
        { "code": "MPOD", "eventDateTime": "2026-06-20T10:20:00", "notes": "Signed By: J BLOGGS" }
    ]);
    let (status, created) = sim.post_json(&token, &format!("consignments/{id}/events"), &scans).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"]["name"], "Delivered");
    assert_eq!(c["delDateTime"], "2026-06-20T10:20:00");
    assert_eq!(c["lastUpdated"], "2026-06-20T12:00:00", "late scans still move lastUpdated to now");
    assert_eq!(c["attachments"], json!([]), "PGD302 uploads its own evidence");
}

#[tokio::test]
async fn the_collecting_depot_posts_collection_scans() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let token = sim.token("pgd302.api").await;
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "POC" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sim.handle().status_of(id), Some("COL"));
    sim.handle().set_now("2026-06-17T23:59:59".parse().unwrap()).unwrap();
    assert_eq!(scans_by_code(&sim.admin_consignment(id).await, "POC").len(), 1);
    let token = sim.token("pgd302.api").await;
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "ARRD" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "PGD302 does not deliver this one");
}

#[tokio::test]
async fn customers_and_depots_without_a_role_cannot_post() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["collectionAddress"] =
        json!({ "name": "Project Timber London", "line1": "1 Dock Road", "town": "London", "postcode": "E16 1AA" });
    let c = sim.book("pgd302.api", &body).await;
    assert_eq!(c["collectingDepotCode"], "UKD101");
    let id = id_of(&c);
    let requester = sim.token("pgd302.api").await;
    let (status, problem) =
        sim.post_json(&requester, &format!("consignments/{id}/events"), &json!({ "code": "POC" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let customer = sim.token("timber.pallex").await;
    let (status, _) = sim.post_json(&customer, &format!("consignments/{id}/events"), &json!({ "code": "POC" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let collector = sim.token("ukd101.api").await;
    let (status, _) = sim.post_json(&collector, &format!("consignments/{id}/events"), &json!({ "code": "ARRH" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "hub scans are the network's");
    let stranger = sim.token("ftd118.api").await;
    let (status, _) = sim.post_json(&stranger, &format!("consignments/{id}/events"), &json!({ "code": "POC" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_scans_are_400_keyed_by_field() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let token = sim.token("pgd302.api").await;
    let path = format!("consignments/{id}/events");
    for (body, key) in [
        (json!({ "code": "XXXX" }), "Code"),
        (json!({}), "Code"),
        (json!({ "code": "POC", "barcode": "1234567890123456" }), "Barcode"),
        (json!({ "code": "POC", "palletID": 1 }), "PalletID"),
        (json!({ "code": "POC", "eventDateTime": "2026-06-17T10:00:00" }), "EventDateTime"),
        (json!({ "code": "POC", "eventDateTime": "soon" }), "EventDateTime"),
        (json!([{ "code": "POC" }, { "code": "??" }]), "[1].Code"),
    ] {
        let (status, problem) = sim.post_json(&token, &path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_keys(&problem), [key], "{body}");
    }
    assert_eq!(sim.handle().status_of(id), Some("BKD"), "nothing was applied");
}

#[tokio::test]
async fn a_failure_posted_by_the_delivery_depot_re_plans_the_delivery() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("ukd101.api", &inbound_for_pgd302()).await);
    sim.handle().set_manual_depots(["PGD302"]);
    sim.handle().set_now("2026-06-18T11:00:00".parse().unwrap()).unwrap();
    let token = sim.token("pgd302.api").await;
    let (status, _) = sim
        .post_json(
            &token,
            &format!("consignments/{id}/events"),
            &json!([{ "code": "ARRD" }, { "code": "SCDV" }, { "code": "NDPC" }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let c = sim.admin_consignment(id).await;
    assert_eq!(c["status"]["name"], "Not Delivered");
    assert_eq!(c["estimatedDelDate"], "2026-06-19");
}

#[tokio::test]
async fn events_of_a_cancelled_consignment_are_409_and_the_list_can_be_paged() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/events"), &json!({ "code": "POC" })).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, delivered) = sim.get_json(&token, "consignments?statusID=100").await;
    let delivered = id_of(&delivered[0]);
    let response = sim.get(&token, &format!("consignments/{delivered}/events?limit=3&offset=2")).await;
    let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let (_, page) = read(response).await;
    let (_, all) = sim.get_json(&token, &format!("consignments/{delivered}/events")).await;
    assert_eq!(all.as_array().unwrap().len(), total);
    assert_eq!(page.as_array().unwrap()[..], all.as_array().unwrap()[2..5]);
    assert!(codes_of(&all).contains(&"POC".to_owned()));
}
