//! `POST /v1/Consignments`: a good booking, then one failing case per validation of §3.4.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, booking, error_keys, read};

/// Books `body` as `username` and asserts a 400 whose errors include `key`.
async fn refused(sim: &Sim, username: &str, body: &Value, key: &str) -> Value {
    let token = sim.token(username).await;
    let (status, problem) = sim.post_json(&token, "Consignments", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["title"], "One or more validation errors occurred.");
    assert!(error_keys(&problem).contains(&key.to_owned()), "expected {key} in {problem}");
    problem
}

/// `body` with the field at `pointer` set (created if the template lacks it).
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = body.pointer_mut(parent).unwrap_or_else(|| panic!("{parent} in the template"));
    match parent {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(fields) => {
            fields.insert(key.to_owned(), value);
        }
        _ => panic!("{pointer} is not inside an object or array"),
    }
    body
}

fn with_delivery(body: Value, fields: Value) -> Value {
    let mut body = body;
    for (k, v) in fields.as_object().unwrap() {
        body["deliveryInfo"][k] = v.clone();
    }
    body
}

#[tokio::test]
async fn a_good_booking_is_201_with_location_barcodes_and_depots() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let response = sim.send(reqwest::Method::POST, Some(&token), "Consignments", Some(&booking())).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, c) = read(response).await;
    assert_eq!(location, format!("/v1/consignments/{}", c["consignmentID"]));
    assert_eq!(c["status"], json!({ "id": 10, "name": "Booked" }));
    assert_eq!(c["network"]["code"], "PALLEX");
    assert_eq!(c["requestingDepotCode"], "PGD302");
    assert_eq!(c["collectingDepotCode"], "PGD302");
    assert_eq!(c["deliveryDepotCode"], "UKD101");
    assert_eq!(c["colDate"], "2026-06-17");
    assert_eq!(c["estimatedDelDate"], "2026-06-18", "Premium: next working day");
    assert_eq!(c["delAddressPostcode"], "E8 4RP");
    assert_eq!(c["totalWeight"], 640);
    assert_eq!(c["palletCount"], 1);
    assert_eq!(c["createdDate"], "2026-06-17T09:00:00");
    assert_eq!(c["lastUpdated"], "2026-06-17T09:00:00");
    assert!(c["consignmentNumber"].as_str().unwrap().starts_with("NX"), "assigned when not sent");
    let codes = c["successfulTrackingCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 1);
    let barcode = codes[0].as_str().unwrap();
    assert!(barcode.len() == 16 && barcode.bytes().all(|b| b.is_ascii_digit()), "{barcode}");
    assert_eq!(c["pallets"][0]["barcode"], barcode);
    let (status, fetched) = sim.get_json(&token, &location["/v1/".len()..]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["consignmentID"], c["consignmentID"]);
}

#[tokio::test]
async fn the_seen_payload_shape_binds_case_insensitively_with_string_numbers() {
    let sim = Sim::start().await;
    let body = json!({
        "General": { "ConsignmentTypeID": "2", "CustomerID": "64086", "ConsignmentNumber": "ORDER-1",
                     "customerReference": "ORDER-1", "descriptionOfGoods": "Decking", "limitedQuantities": true },
        "collectionInfo": { "serviceID": 1, "contact": "01777 000000", "email": "shop@example.com" },
        "deliveryInfo": { "serviceID": 3, "contact": "07700 900000", "email": "buyer@example.com", "dueDate": "2026-06-19" },
        "deliveryAddress": { "countryID": 233, "name": "A Buyer", "line1": "1 High Street", "postcode": "de11aa",
                             "telephone": "07700 900000", "town": "Derby" },
        "pallets": [ { "palletBaseID": 1, "palletTypeID": 6, "length": 150, "width": 120, "height": 220,
                       "weight": 640, "limitedQuantityWeight": 640, "doNotStack": true } ]
    });
    let c = sim.book("pgd302.api", &body).await;
    assert_eq!(c["consignmentNumber"], "ORDER-1");
    assert_eq!(c["delAddressPostcode"], "DE1 1AA");
    assert_eq!(c["deliveryDepotCode"], "UKD205");
    assert_eq!(c["estimatedDelDate"], "2026-06-19");
    assert_eq!(c["palletSpaces"], 2, "oversize counts two spaces");
    assert_eq!(c["service"]["code"], "SD");
}

#[tokio::test]
async fn economy_delivers_on_the_second_working_day() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &with(booking(), "/deliveryInfo/serviceID", json!(2))).await;
    assert_eq!(c["estimatedDelDate"], "2026-06-19");
    // Friday collection, Economy: Tuesday.
    let friday =
        with(with(booking(), "/deliveryInfo/serviceID", json!(2)), "/collectionInfo/dueDate", json!("2026-06-19"));
    let c = sim.book("pgd302.api", &friday).await;
    assert_eq!(c["estimatedDelDate"], "2026-06-23");
}

#[tokio::test]
async fn a_customer_user_books_for_itself_through_its_depot() {
    let sim = Sim::start().await;
    let c = sim.book("timber.fortec", &with(booking(), "/general/customerID", json!(71520))).await;
    assert_eq!(c["network"]["code"], "FORTEC");
    assert_eq!(c["requestingDepotCode"], "PGD302");
    assert_eq!(c["deliveryDepotCode"], "FTD118", "London on Fortec is FTD118's");
    refused(&sim, "timber.fortec", &booking(), "General.CustomerID").await;
}

#[tokio::test]
async fn malformed_json_is_keyed_dollar_and_a_wrong_type_by_its_path() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let response = sim
        .http
        .post(sim.url("Consignments"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"general\": {")
        .send()
        .await
        .unwrap();
    let (status, problem) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["$"]);
    refused(&sim, "pgd302.api", &with(booking(), "/pallets/0/weight", json!("heavy")), "$.pallets[0].weight").await;
}

#[tokio::test]
async fn a_non_json_content_type_is_415() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let response = sim
        .http
        .post(sim.url("Consignments"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(booking().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn customer_must_be_visible_to_the_user() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/general/customerID", json!(52011)), "General.CustomerID").await;
    refused(&sim, "pgd302.api", &with(booking(), "/general/customerID", json!(99999)), "General.CustomerID").await;
}

#[tokio::test]
async fn customer_must_belong_to_the_requested_network() {
    let sim = Sim::start().await;
    let body = with(booking(), "/general/networkCode", json!("FORTEC"));
    let problem = refused(&sim, "pgd302.api", &body, "General.CustomerID").await;
    assert!(problem["errors"]["General.CustomerID"][0].as_str().unwrap().contains("PALL-EX"));
}

#[tokio::test]
async fn unknown_network_code_is_refused() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/general/networkCode", json!("PALLETWAYS")), "General.NetworkCode")
        .await;
}

#[tokio::test]
async fn a_depot_cannot_book_as_another_depot() {
    let sim = Sim::start().await;
    let body = with(booking(), "/general/requestingDepotCode", json!("UKD101"));
    refused(&sim, "pgd302.api", &body, "General.RequestingDepotCode").await;
}

#[tokio::test]
async fn unknown_consignment_type_is_refused() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/general/consignmentTypeID", json!(9)), "General.ConsignmentTypeID")
        .await;
}

#[tokio::test]
async fn a_third_party_consignment_needs_a_collection_address() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/general/consignmentTypeID", json!(3)), "CollectionAddress").await;
}

#[tokio::test]
async fn the_general_section_is_required() {
    let sim = Sim::start().await;
    let mut body = booking();
    body.as_object_mut().unwrap().remove("general");
    refused(&sim, "pgd302.api", &body, "General").await;
}

#[tokio::test]
async fn at_least_one_pallet() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/pallets", json!([])), "Pallets").await;
}

#[tokio::test]
async fn at_most_twenty_six_pallets() {
    let sim = Sim::start().await;
    let pallets: Vec<Value> = (0..27).map(|_| booking()["pallets"][0].clone()).collect();
    refused(&sim, "pgd302.api", &with(booking(), "/pallets", json!(pallets)), "Pallets").await;
}

#[tokio::test]
async fn oversize_pallets_count_extra_spaces() {
    let sim = Sim::start().await;
    let oversize = json!({ "palletTypeID": 6, "height": 200, "weight": 800 });
    let pallets: Vec<Value> = (0..14).map(|_| oversize.clone()).collect();
    let problem = refused(&sim, "pgd302.api", &with(booking(), "/pallets", json!(pallets)), "Pallets").await;
    assert!(problem["errors"]["Pallets"][0].as_str().unwrap().contains("28"));
}

#[tokio::test]
async fn weight_within_the_pallet_type_limit() {
    let sim = Sim::start().await;
    let problem =
        refused(&sim, "pgd302.api", &with(booking(), "/pallets/0/weight", json!(1400)), "Pallets[0].Weight").await;
    assert_eq!(
        problem["errors"]["Pallets[0].Weight"][0],
        "Weight 1400kg exceeds the maximum of 1200kg for pallet type Full."
    );
}

#[tokio::test]
async fn height_within_the_pallet_type_limit() {
    let sim = Sim::start().await;
    let body = with(with(booking(), "/pallets/0/palletTypeID", json!(2)), "/pallets/0/weight", json!(200));
    refused(&sim, "pgd302.api", &body, "Pallets[0].Height").await;
}

#[tokio::test]
async fn pallet_type_and_base_must_exist() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/pallets/0/palletTypeID", json!(42)), "Pallets[0].PalletTypeID")
        .await;
    refused(&sim, "pgd302.api", &with(booking(), "/pallets/0/palletBaseID", json!(9)), "Pallets[0].PalletBaseID").await;
}

#[tokio::test]
async fn limited_quantity_weight_cannot_exceed_the_weight() {
    let sim = Sim::start().await;
    let body = with(booking(), "/pallets/0/limitedQuantityWeight", json!(700));
    refused(&sim, "pgd302.api", &body, "Pallets[0].LimitedQuantityWeight").await;
}

#[tokio::test]
async fn specific_day_needs_a_due_date() {
    let sim = Sim::start().await;
    let problem =
        refused(&sim, "pgd302.api", &with(booking(), "/deliveryInfo/serviceID", json!(3)), "DeliveryInfo.DueDate")
            .await;
    assert_eq!(problem["errors"]["DeliveryInfo.DueDate"][0], "A due date is required for service SD.");
}

#[tokio::test]
async fn specific_day_must_be_a_working_day() {
    let sim = Sim::start().await;
    let body = with_delivery(booking(), json!({ "serviceID": 3, "dueDate": "2026-06-20" }));
    let problem = refused(&sim, "pgd302.api", &body, "DeliveryInfo.DueDate").await;
    assert!(problem["errors"]["DeliveryInfo.DueDate"][0].as_str().unwrap().contains("2026-06-22"));
    // The August bank holiday is no working day either.
    let body = with_delivery(booking(), json!({ "serviceID": 3, "dueDate": "2026-08-31" }));
    refused(&sim, "pgd302.api", &body, "DeliveryInfo.DueDate").await;
}

#[tokio::test]
async fn specific_day_cannot_be_before_the_next_working_day() {
    let sim = Sim::start().await;
    let body = with_delivery(booking(), json!({ "serviceID": 3, "dueDate": "2026-06-17" }));
    refused(&sim, "pgd302.api", &body, "DeliveryInfo.DueDate").await;
}

#[tokio::test]
async fn saturday_needs_the_sat_extra_and_sat_needs_a_saturday() {
    let sim = Sim::start().await;
    let saturday = with_delivery(booking(), json!({ "serviceID": 3, "dueDate": "2026-06-20", "extras": ["SAT"] }));
    let c = sim.book("pgd302.api", &saturday).await;
    assert_eq!(c["estimatedDelDate"], "2026-06-20");
    let weekday = with_delivery(booking(), json!({ "extras": ["TL", "SAT"] }));
    refused(&sim, "pgd302.api", &weekday, "DeliveryInfo.Extras[1]").await;
}

#[tokio::test]
async fn premium_and_economy_lead_times_are_fixed() {
    let sim = Sim::start().await;
    let body = with_delivery(booking(), json!({ "dueDate": "2026-06-19" }));
    let problem = refused(&sim, "pgd302.api", &body, "DeliveryInfo.DueDate").await;
    assert!(problem["errors"]["DeliveryInfo.DueDate"][0].as_str().unwrap().contains("2026-06-18"));
    let body = with_delivery(booking(), json!({ "serviceID": 2, "dueDate": "2026-06-18" }));
    refused(&sim, "pgd302.api", &body, "DeliveryInfo.DueDate").await;
    // Sending the date the lead time gives is fine.
    sim.book("pgd302.api", &with_delivery(booking(), json!({ "dueDate": "2026-06-18" }))).await;
}

#[tokio::test]
async fn the_twelve_o_clock_cut_off_refuses_collection_today() {
    let sim = Sim::start().await;
    sim.handle().set_now("2026-06-17T12:00:00".parse().unwrap()).unwrap();
    let problem = refused(&sim, "pgd302.api", &booking(), "CollectionInfo.DueDate").await;
    assert!(problem["errors"]["CollectionInfo.DueDate"][0].as_str().unwrap().contains("2026-06-18"));
    // Without a date, the collection goes to the next working day.
    let mut body = booking();
    body["collectionInfo"].as_object_mut().unwrap().remove("dueDate");
    let c = sim.book("pgd302.api", &body).await;
    assert_eq!(c["estimatedColDate"], "2026-06-18");
}

#[tokio::test]
async fn the_cut_off_is_noon_uk_time_in_winter_too() {
    let sim = Sim::start().await;
    sim.handle().set_now("2026-12-02T11:59:00".parse().unwrap()).unwrap();
    let body = with(booking(), "/collectionInfo/dueDate", json!("2026-12-02"));
    sim.book("pgd302.api", &body).await;
    sim.handle().advance(Duration::from_secs(60));
    refused(&sim, "pgd302.api", &body, "CollectionInfo.DueDate").await;
}

#[tokio::test]
async fn collection_dates_in_the_past_or_at_weekends_are_refused() {
    let sim = Sim::start().await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/collectionInfo/dueDate", json!("2026-06-16")),
        "CollectionInfo.DueDate",
    )
    .await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/collectionInfo/dueDate", json!("2026-06-21")),
        "CollectionInfo.DueDate",
    )
    .await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/collectionInfo/dueDate", json!("17/06/2026")),
        "CollectionInfo.DueDate",
    )
    .await;
}

#[tokio::test]
async fn timed_delivery_needs_a_window() {
    let sim = Sim::start().await;
    let problem = refused(
        &sim,
        "pgd302.api",
        &with_delivery(booking(), json!({ "timeWindowCode": "TD" })),
        "DeliveryInfo.StartWindow",
    )
    .await;
    assert!(error_keys(&problem).contains(&"DeliveryInfo.EndWindow".to_owned()));
}

#[tokio::test]
async fn timed_window_at_most_four_hours() {
    let sim = Sim::start().await;
    let body =
        with_delivery(booking(), json!({ "timeWindowCode": "TD", "startWindow": "09:00", "endWindow": "13:30" }));
    refused(&sim, "pgd302.api", &body, "DeliveryInfo.EndWindow").await;
}

#[tokio::test]
async fn timed_window_within_eight_to_five() {
    let sim = Sim::start().await;
    let early =
        with_delivery(booking(), json!({ "timeWindowCode": "TD", "startWindow": "07:00", "endWindow": "09:00" }));
    refused(&sim, "pgd302.api", &early, "DeliveryInfo.StartWindow").await;
    let late =
        with_delivery(booking(), json!({ "timeWindowCode": "TD", "startWindow": "15:00", "endWindow": "18:00" }));
    refused(&sim, "pgd302.api", &late, "DeliveryInfo.EndWindow").await;
    let good =
        with_delivery(booking(), json!({ "timeWindowCode": "TD", "startWindow": "13:00", "endWindow": "17:00" }));
    let c = sim.book("pgd302.api", &good).await;
    assert_eq!((c["startWindow"].as_str(), c["endWindow"].as_str()), (Some("13:00"), Some("17:00")));
    assert_eq!(c["timeWindow"]["code"], "TD");
}

#[tokio::test]
async fn book_in_needs_contact_name_and_phone() {
    let sim = Sim::start().await;
    let body = with_delivery(booking(), json!({ "timeWindowCode": "BI", "bookIn": { "reference": "GATE-5" } }));
    let problem = refused(&sim, "pgd302.api", &body, "DeliveryInfo.BookIn.ContactName").await;
    assert!(error_keys(&problem).contains(&"DeliveryInfo.BookIn.ContactPhone".to_owned()));
}

#[tokio::test]
async fn unknown_time_window_and_extras_are_refused() {
    let sim = Sim::start().await;
    refused(
        &sim,
        "pgd302.api",
        &with_delivery(booking(), json!({ "timeWindowCode": "PM" })),
        "DeliveryInfo.TimeWindowCode",
    )
    .await;
    refused(&sim, "pgd302.api", &with_delivery(booking(), json!({ "extras": ["XX"] })), "DeliveryInfo.Extras[0]").await;
}

#[tokio::test]
async fn delivery_service_is_required_and_must_exist() {
    let sim = Sim::start().await;
    let mut body = booking();
    body["deliveryInfo"].as_object_mut().unwrap().remove("serviceID");
    refused(&sim, "pgd302.api", &body, "DeliveryInfo.ServiceID").await;
    refused(&sim, "pgd302.api", &with(booking(), "/deliveryInfo/serviceID", json!(7)), "DeliveryInfo.ServiceID").await;
}

#[tokio::test]
async fn premium_is_not_offered_to_remote_areas() {
    let sim = Sim::start().await;
    let body = with(booking(), "/deliveryAddress/postcode", json!("ZE1 0AA"));
    let problem = refused(&sim, "pgd302.api", &body, "DeliveryInfo.ServiceID").await;
    assert!(problem["errors"]["DeliveryInfo.ServiceID"][0].as_str().unwrap().contains("Shetland"));
    sim.book("pgd302.api", &with(body, "/deliveryInfo/serviceID", json!(2))).await;
}

#[tokio::test]
async fn uk_postcode_format_and_area_are_checked() {
    let sim = Sim::start().await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/deliveryAddress/postcode", json!("12345")),
        "DeliveryAddress.Postcode",
    )
    .await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/deliveryAddress/postcode", json!("QQ1 1AA")),
        "DeliveryAddress.Postcode",
    )
    .await;
}

#[tokio::test]
async fn delivery_address_is_required_with_its_lines() {
    let sim = Sim::start().await;
    let mut body = booking();
    body.as_object_mut().unwrap().remove("deliveryAddress");
    refused(&sim, "pgd302.api", &body, "DeliveryAddress").await;
    refused(&sim, "pgd302.api", &with(booking(), "/deliveryAddress/line1", json!("")), "DeliveryAddress.Line1").await;
}

#[tokio::test]
async fn countries_outside_the_networks_are_refused_and_ireland_goes_via_belfast() {
    let sim = Sim::start().await;
    refused(&sim, "pgd302.api", &with(booking(), "/deliveryAddress/countryID", json!(75)), "DeliveryAddress.CountryID")
        .await;
    refused(
        &sim,
        "pgd302.api",
        &with(booking(), "/deliveryAddress/countryID", json!(999)),
        "DeliveryAddress.CountryID",
    )
    .await;
    let ireland =
        with(with(booking(), "/deliveryAddress/countryID", json!(105)), "/deliveryAddress/postcode", json!("d02x285"));
    let c = sim.book("pgd302.api", &ireland).await;
    assert_eq!(c["delAddressPostcode"], "D02 X285");
    assert_eq!(c["deliveryDepotCode"], "UKD330", "the depot serving BT");
    refused(
        &sim,
        "pgd302.api",
        &with(ireland, "/deliveryAddress/postcode", json!("E8 4RP")),
        "DeliveryAddress.Postcode",
    )
    .await;
}

#[tokio::test]
async fn consignment_number_is_unique_per_customer() {
    let sim = Sim::start().await;
    let body = with(booking(), "/general/consignmentNumber", json!("SO-100231"));
    sim.book("pgd302.api", &body).await;
    let token = sim.token("pgd302.api").await;
    let (status, problem) = sim.post_json(&token, "Consignments", &body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_keys(&problem), ["General.ConsignmentNumber"]);
    // Another customer may use the same number.
    let other = with(body, "/general/customerID", json!(71520));
    sim.book("pgd302.api", &other).await;
}
