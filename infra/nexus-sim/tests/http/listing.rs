//! `GET /v1/consignments` and `GET /v1/consignments/{id}`: visibility, paging, filters, delta.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, barcodes_of, booking, error_keys, id_of, read};

fn ids(list: &Value) -> Vec<u64> {
    list.as_array().unwrap().iter().map(id_of).collect()
}

/// Every consignment `username` can list (one page of 100 is enough for the default world).
async fn all_visible(sim: &Sim, username: &str) -> BTreeSet<u64> {
    let token = sim.token(username).await;
    let (status, list) = sim.get_json(&token, "consignments?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    ids(&list).into_iter().collect()
}

/// What the visibility rule says a depot should see, from the admin view of the world.
async fn expected_for_depot(sim: &Sim, depot: &str) -> BTreeSet<u64> {
    let (_, world) = sim.admin_get("world").await;
    world["consignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["requestingDepotCode", "collectingDepotCode", "deliveryDepotCode"].iter().any(|k| c[*k] == depot))
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn depots_see_what_they_requested_collect_or_deliver_and_nothing_else() {
    let sim = Sim::start().await;
    for (user, depot) in [("pgd302.api", "PGD302"), ("ukd205.api", "UKD205"), ("ftd240.api", "FTD240")] {
        let expected = expected_for_depot(&sim, depot).await;
        assert!(!expected.is_empty(), "{depot} has consignments in the default world");
        assert_eq!(all_visible(&sim, user).await, expected, "{depot}");
    }
    // PGD302 sees inbound consignments another depot booked for it to deliver.
    let (_, world) = sim.admin_get("world").await;
    let inbound = world["consignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["deliveryDepotCode"] == "PGD302" && c["requestingDepotCode"] != "PGD302")
        .map(id_of)
        .unwrap();
    assert!(all_visible(&sim, "pgd302.api").await.contains(&inbound));
}

#[tokio::test]
async fn a_customer_account_sees_only_its_own_consignments() {
    let sim = Sim::start().await;
    let token = sim.token("timber.pallex").await;
    let (_, list) = sim.get_json(&token, "consignments?limit=100").await;
    assert!(!list.as_array().unwrap().is_empty());
    assert!(list.as_array().unwrap().iter().all(|c| c["customerID"] == 64086));
}

#[tokio::test]
async fn an_invisible_consignment_is_404_even_by_id() {
    let sim = Sim::start().await;
    let (_, world) = sim.admin_get("world").await;
    let foreign = world["consignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| ["requestingDepotCode", "collectingDepotCode", "deliveryDepotCode"].iter().all(|k| c[*k] != "PGD302"))
        .map(id_of)
        .unwrap();
    let token = sim.token("pgd302.api").await;
    let (status, problem) = sim.get_json(&token, &format!("consignments/{foreign}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["status"], 404);
    assert_eq!(sim.get(&token, "consignments/not-a-number").await.status(), StatusCode::NOT_FOUND);
    assert!(!all_visible(&sim, "pgd302.api").await.contains(&foreign));
    let (status, _) = sim.get_json(&sim.token("ukd101.api").await, &format!("consignments/{foreign}")).await;
    assert_eq!(status, StatusCode::OK, "its own depot sees it");
}

#[tokio::test]
async fn the_list_is_a_bare_array_with_x_total_count_and_default_limit_twenty() {
    let sim = Sim::start().await;
    for _ in 0..8 {
        sim.book("pgd302.api", &booking()).await;
    }
    let token = sim.token("pgd302.api").await;
    let response = sim.get(&token, "consignments").await;
    let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let (_, list) = read(response).await;
    assert!(list.is_array());
    assert!(total > 20, "{total}");
    assert_eq!(list.as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn pages_follow_last_updated_then_id_and_add_up_to_the_total() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, everything) = sim.get_json(&token, "consignments?limit=100").await;
    let all = everything.as_array().unwrap();
    let keys: Vec<(String, u64)> =
        all.iter().map(|c| (c["lastUpdated"].as_str().unwrap().to_owned(), id_of(c))).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let mut paged = Vec::new();
    for offset in (0..all.len() + 5).step_by(5) {
        let response = sim.get(&token, &format!("consignments?limit=5&offset={offset}")).await;
        assert_eq!(response.headers()["x-total-count"], all.len().to_string().as_str());
        let (_, page) = read(response).await;
        assert!(page.as_array().unwrap().len() <= 5);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&everything));
}

#[tokio::test]
async fn limit_above_one_hundred_or_bad_offset_is_400() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (status, problem) = sim.get_json(&token, "consignments?limit=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["limit"]);
    let (status, problem) = sim.get_json(&token, "consignments?offset=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["offset"]);
}

#[tokio::test]
async fn status_filter_takes_several_ids() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, delivered) = sim.get_json(&token, "consignments?statusID=100&limit=100").await;
    assert!(!delivered.as_array().unwrap().is_empty());
    assert!(delivered.as_array().unwrap().iter().all(|c| c["status"]["id"] == 100));
    let (_, repeated) = sim.get_json(&token, "consignments?statusID=100&statusID=110&limit=100").await;
    let (_, comma) = sim.get_json(&token, "consignments?statusid=100,110&limit=100").await;
    assert_eq!(repeated, comma);
    let statuses: BTreeSet<u64> =
        repeated.as_array().unwrap().iter().map(|c| c["status"]["id"].as_u64().unwrap()).collect();
    assert_eq!(statuses, BTreeSet::from([100, 110]));
    let (status, problem) = sim.get_json(&token, "consignments?statusID=999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["statusID"]);
}

#[tokio::test]
async fn depot_customer_and_type_filters() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, inbound) = sim.get_json(&token, "consignments?deliveryDepotCode=pgd302&limit=100").await;
    assert!(inbound.as_array().unwrap().len() >= 3);
    assert!(inbound.as_array().unwrap().iter().all(|c| c["deliveryDepotCode"] == "PGD302"));
    let (_, outbound) = sim.get_json(&token, "consignments?collectingDepotCode=PGD302&limit=100").await;
    assert!(outbound.as_array().unwrap().iter().all(|c| c["collectingDepotCode"] == "PGD302"));
    let (_, fortec) = sim.get_json(&token, "consignments?customerID=71520&limit=100").await;
    assert!(!fortec.as_array().unwrap().is_empty());
    assert!(fortec.as_array().unwrap().iter().all(|c| c["customerID"] == 71520 && c["network"]["code"] == "FORTEC"));
    let (_, deliveries) = sim.get_json(&token, "consignments?consignmentTypeID=2&limit=100").await;
    let (_, collections) = sim.get_json(&token, "consignments?consignmentTypeID=1&limit=100").await;
    assert!(!deliveries.as_array().unwrap().is_empty());
    assert!(collections.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn date_filters_are_inclusive_and_validated() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let check = |list: &Value, field: &str, from: &str, to: &str| {
        assert!(!list.as_array().unwrap().is_empty(), "{field}");
        for c in list.as_array().unwrap() {
            let value = c[field].as_str().unwrap_or_default();
            assert!(value >= from && value[..10].le(to), "{field} {value} outside {from}..{to}");
        }
    };
    let (_, created) =
        sim.get_json(&token, "consignments?minCreatedDate=2026-06-16&maxCreatedDate=2026-06-16&limit=100").await;
    check(&created, "createdDate", "2026-06-16", "2026-06-16");
    let (_, due) = sim.get_json(&token, "consignments?minEstimatedDeliveryDate=2026-06-18&limit=100").await;
    check(&due, "estimatedDelDate", "2026-06-18", "9999-12-31");
    let (_, collected) =
        sim.get_json(&token, "consignments?minCollectionDate=2026-06-15&maxCollectionDate=2026-06-15&limit=100").await;
    check(&collected, "colDate", "2026-06-15", "2026-06-15");
    let (_, delivered) =
        sim.get_json(&token, "consignments?minDeliveryDate=2026-06-16&maxDeliveryDate=2026-06-16&limit=100").await;
    check(&delivered, "delDateTime", "2026-06-16", "2026-06-16");
    let (_, manifested) = sim.get_json(&token, "consignments?minManifestDate=2026-06-17&limit=100").await;
    check(&manifested, "manifestDate", "2026-06-17", "9999-12-31");
    let (_, planned) = sim
        .get_json(
            &token,
            "consignments?minEstimatedCollectionDate=2026-06-17&maxEstimatedCollectionDate=2026-06-17&limit=100",
        )
        .await;
    check(&planned, "estimatedColDate", "2026-06-17", "2026-06-17");
    let (status, problem) = sim.get_json(&token, "consignments?minCreatedDate=16/06/2026").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["minCreatedDate"]);
}

#[tokio::test]
async fn search_term_matches_number_ends_reference_barcode_and_id() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["general"]["consignmentNumber"] = json!("SO-100231");
    body["general"]["customerReference"] = json!("PO-7781X");
    let c = sim.book("pgd302.api", &body).await;
    let id = id_of(&c);
    let token = sim.token("pgd302.api").await;
    for term in ["SO-10", "100231", "po-7781x", &barcodes_of(&c)[0], &id.to_string()] {
        let (_, found) = sim.get_json(&token, &format!("consignments?searchTerm={term}")).await;
        assert_eq!(ids(&found), [id], "searchTerm={term}");
    }
    let (_, none) = sim.get_json(&token, "consignments?searchTerm=1002").await;
    assert!(!ids(&none).contains(&id), "the middle of the number does not match");
}

#[tokio::test]
async fn min_last_updated_gives_the_delta_since_a_cursor() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let cursor = "2026-06-17T09:00:00";
    let (_, before) = sim.get_json(&token, &format!("consignments?minLastUpdated={cursor}&limit=100")).await;
    assert!(before.as_array().unwrap().is_empty(), "nothing changed since the seed's clock: {before}");
    let booked = id_of(&sim.book("pgd302.api", &booking()).await);
    let (_, after_booking) = sim.get_json(&token, &format!("consignments?minLastUpdated={cursor}&limit=100")).await;
    assert_eq!(ids(&after_booking), [booked]);

    sim.handle().advance(Duration::from_secs(3 * 3600));
    let token = sim.token("pgd302.api").await;
    let (_, everything) = sim.get_json(&token, "consignments?limit=100").await;
    let (_, changed) = sim.get_json(&token, "consignments?minLastUpdated=2026-06-17T09:00:01&limit=100").await;
    let changed_ids = ids(&changed);
    assert!(!changed_ids.is_empty(), "three hours of a working morning moves something");
    for c in everything.as_array().unwrap() {
        let moved = c["lastUpdated"].as_str().unwrap() >= "2026-06-17T09:00:01";
        assert_eq!(changed_ids.contains(&id_of(c)), moved, "{}", c["consignmentID"]);
    }
    let (status, problem) = sim.get_json(&token, "consignments?minLastUpdated=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["minLastUpdated"]);
}

#[tokio::test]
async fn include_adds_route_details_events_and_attachments() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, delivered) = sim.get_json(&token, "consignments?statusID=100").await;
    let id = id_of(&delivered[0]);
    let (_, plain) = sim.get_json(&token, &format!("consignments/{id}")).await;
    assert_eq!(plain["routeDetails"], json!([]));
    assert!(plain.get("events").is_none() && plain.get("attachments").is_none());
    assert!(!plain["pallets"].as_array().unwrap().is_empty());
    let (_, full) =
        sim.get_json(&token, &format!("consignments/{id}?include=routedetails,pallets,events,attachments")).await;
    let routes = full["routeDetails"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0]["type"], "Collection");
    assert_eq!(routes[1]["type"], "Delivery");
    assert_eq!(routes[1]["status"], "Completed");
    for key in ["routeDate", "regNo", "round", "status", "palletCount"] {
        assert!(routes[1].get(key).is_some(), "{key}");
    }
    assert!(!full["events"].as_array().unwrap().is_empty());
    assert!(!full["attachments"].as_array().unwrap().is_empty());
    let (status, problem) = sim.get_json(&token, &format!("consignments/{id}?include=drivers")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["include"]);
}

#[tokio::test]
async fn the_read_model_keeps_the_seen_field_names() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, list) = sim.get_json(&token, "consignments?limit=1").await;
    let c = &list[0];
    for key in [
        "consignmentNumber",
        "consignmentID",
        "customerReference",
        "status",
        "estimatedDelDate",
        "estimatedDelTime",
        "startWindow",
        "endWindow",
        "delAddressLine1",
        "delAddressTown",
        "delAddressPostcode",
        "colDate",
        "delDateTime",
        "routeDetails",
        "requestingDepotCode",
        "collectingDepotCode",
        "deliveryDepotCode",
        "createdDate",
        "manifestDate",
        "lastUpdated",
        "pallets",
    ] {
        assert!(c.get(key).is_some(), "{key} missing from {c}");
    }
    assert!(c["status"]["id"].is_u64() && c["status"]["name"].is_string());
}
