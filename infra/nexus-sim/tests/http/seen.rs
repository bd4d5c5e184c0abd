//! The seen profile: only the routes, filters and fields public code shows, ASP.NET-style.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use nexus_sim::{Profile, SimOptions};

use crate::support::{Sim, booking, read};

async fn seen() -> Sim {
    Sim::start_with(SimOptions::default().profile(Profile::Seen)).await
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

const SEEN_FIELDS: [&str; 14] = [
    "colDate",
    "consignmentID",
    "consignmentNumber",
    "customerReference",
    "delAddressLine1",
    "delAddressPostcode",
    "delAddressTown",
    "delDateTime",
    "endWindow",
    "estimatedDelDate",
    "estimatedDelTime",
    "routeDetails",
    "startWindow",
    "status",
];

/// A bare 404 (no body): what ASP.NET answers for a path no route matches.
async fn assert_no_route(sim: &Sim, method: Method, token: &str, path: &str, body: Option<&Value>) {
    let response = sim.send(method.clone(), Some(token), path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
    assert!(text.is_empty(), "{method} {path} is no route, so no ProblemDetails: {text}");
}

#[tokio::test]
async fn invented_routes_are_bare_404s_and_seen_ones_answer() {
    let sim = seen().await;
    let token = sim.token("pgd302.api").await;
    let any = json!({});
    assert_no_route(&sim, Method::GET, &token, "consignments/10016/events", None).await;
    assert_no_route(&sim, Method::POST, &token, "consignments/10016/events", Some(&json!({"code": "POC"}))).await;
    assert_no_route(&sim, Method::POST, &token, "consignments/10016/cancel", Some(&any)).await;
    assert_no_route(&sim, Method::PUT, &token, "consignments/10009/eta", Some(&any)).await;
    assert_no_route(&sim, Method::GET, &token, "attachments/9001/content", None).await;
    for lookup in ["services", "timeWindows", "extras", "palletTypes", "palletBases", "depots"] {
        assert_no_route(&sim, Method::GET, &token, lookup, None).await;
    }
    // The upload shares its path with the seen attachment list: ASP.NET answers 405 there.
    let upload = sim.send(Method::POST, Some(&token), "consignments/10002/attachments", Some(&any)).await;
    assert_eq!(upload.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Nothing changed: 10016 is still booked and has no scans (the admin view is the full one).
    assert_eq!(sim.handle().status_of(10016), Some("BKD"));

    // The seen routes answer, with case-insensitive paths and a trailing slash.
    for path in [
        "CONSIGNMENTS/",
        "consignments/10016",
        "Consignments/10016?include=routedetails",
        "consignments/10002/attachments",
        "consignmentStatuses",
        "consignmenttypes",
        "consignmentAttachmentTypes",
        "countries",
        "currencyTypes",
    ] {
        let (status, body) = sim.get_json(&token, path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    }
    let labels = sim.get(&token, "consignments/10017/labels?format=zpl").await;
    assert_eq!(labels.status(), StatusCode::OK);
    assert!(labels.bytes().await.unwrap().starts_with(b"%PDF"), "format is invented: always the PDF");
    // Login and refresh are seen.
    let pair = sim.login("pgd302.api").await;
    let (status, _) = read(
        sim.http
            .post(sim.url("account/refresh"))
            .json(&json!({ "refreshToken": pair["refreshToken"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The admin routes stay, and say which profile this is.
    let (_, world) = sim.admin_get("world").await;
    assert_eq!(world["profile"], "seen");
}

#[tokio::test]
async fn invented_filters_are_ignored_and_seen_ones_act() {
    let sim = seen().await;
    let token = sim.token("pgd302.api").await;
    let (_, all) = sim.get_json(&token, "consignments?limit=50").await;
    let all = all.as_array().unwrap().clone();
    assert!(all.len() > 10, "PGD302 sees most of the default world");
    for ignored in [
        "minLastUpdated=2999-01-01T00:00:00",
        "minLastUpdated=not-a-date",
        "deliveryDepotCode=ZZZ999",
        "collectingDepotCode=ZZZ999",
        "DELIVERYDEPOTCODE=UKD101",
        "unknownKey=1",
    ] {
        let (status, body) = sim.get_json(&token, &format!("consignments?limit=50&{ignored}")).await;
        assert_eq!(status, StatusCode::OK, "{ignored}: {body}");
        assert_eq!(body.as_array().unwrap(), &all, "{ignored} is ignored silently");
    }
    // A limit above 50 is clamped, not refused.
    let (status, body) = sim.get_json(&token, "consignments?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), all.len());

    // statusID acts, with the lookup's ids, and keys are case-insensitive.
    let (_, statuses) = sim.get_json(&token, "consignmentStatuses?limit=50").await;
    let booked = statuses.as_array().unwrap().iter().find(|s| s["name"] == "Booked").unwrap()["id"].clone();
    assert_eq!(booked, 1, "seen numbers the statuses 1, 2, 3, … in lookup order");
    let (_, listed) = sim.get_json(&token, &format!("consignments?STATUSID={booked}&limit=50")).await;
    let listed = listed.as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|c| c["status"]["id"] == booked));
    // Every status id the read model shows is one the lookup lists.
    let ids: Vec<&Value> = statuses.as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert!(all.iter().all(|c| ids.contains(&&c["status"]["id"])));
    // The other seen filters still act.
    let (_, one) = sim.get_json(&token, "consignments?searchterm=PT-50140").await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (_, by_customer) = sim.get_json(&token, "consignments?customerID=71520&limit=50").await;
    assert!(by_customer.as_array().unwrap().len() < all.len());
}

#[tokio::test]
async fn the_read_model_has_only_the_seen_fields() {
    let sim = seen().await;
    let token = sim.token("pgd302.api").await;
    let (_, list) = sim.get_json(&token, "consignments").await;
    for c in list.as_array().unwrap() {
        assert_eq!(keys(c), SEEN_FIELDS, "{c}");
        assert_eq!(c["routeDetails"], json!([]));
        assert_eq!(keys(&c["status"]), ["id", "name"]);
    }
    let (_, detail) = sim.get_json(&token, "consignments/10016?include=routedetails,events,pallets").await;
    assert_eq!(keys(&detail), SEEN_FIELDS, "events and pallets are not includable: ignored");
    assert_eq!(detail["routeDetails"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&detail["routeDetails"][0]), ["palletCount", "regNo", "round", "routeDate", "status", "type"]);
    assert_eq!(detail["status"], json!({ "id": 1, "name": "Booked" }));

    // Attachments: a direct link that needs no token.
    let (_, attachments) = sim.get_json(&token, "consignments/10002/attachments").await;
    let first = &attachments.as_array().unwrap()[0];
    assert_eq!(keys(first), ["attachmentTypeID", "url"]);
    let file = sim.http.get(first["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(!file.bytes().await.unwrap().is_empty());
    // Lookup rows are {id, name}.
    let (_, countries) = sim.get_json(&token, "countries?searchTerm=united").await;
    assert!(countries.as_array().unwrap().iter().all(|row| keys(row) == ["id", "name"]));
}

#[tokio::test]
async fn create_drops_unknown_properties_and_answers_only_id_and_tracking_codes() {
    let sim = seen().await;
    let token = sim.token("pgd302.api").await;
    let mut body = booking();
    // Invented properties the full profile would act on (and refuse): dropped here.
    body["general"]["networkCode"] = json!("FORTEC");
    body["general"]["requestingDepotCode"] = json!("UKD101");
    body["deliveryInfo"]["timeWindowCode"] = json!("TD");
    body["deliveryInfo"]["extras"] = json!(["NOSUCHEXTRA"]);
    body["deliveryInfo"]["instructions"] = json!("Ring the bell");
    body["collectionAddress"] = json!({ "postcode": "not a postcode" });
    body["somethingElse"] = json!(true);
    let response = sim.send(Method::POST, Some(&token), "Consignments", Some(&body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("location").is_none());
    let (_, answer) = read(response).await;
    assert_eq!(keys(&answer), ["consignmentID", "successfulTrackingCodes"]);
    let id = answer["consignmentID"].as_u64().unwrap();
    assert_eq!(answer["successfulTrackingCodes"].as_array().unwrap().len(), 1);
    // Booked on the customer's network, from its home depot, with none of the dropped properties.
    let admin = sim.admin_consignment(id).await;
    assert_eq!(admin["network"]["code"], "PALLEX");
    assert_eq!(admin["requestingDepotCode"], "PGD302");
    assert_eq!(admin["timeWindow"], Value::Null);
    assert_eq!(admin["extras"], json!([]));
    assert_eq!(admin["deliveryInstructions"], Value::Null);
    assert_eq!(admin["colAddressPostcode"], "DN22 7SS", "the customer's default collection address");

    // The same body in the full profile is refused for the invented fields it acts on.
    let full = Sim::start().await;
    let token = full.token("pgd302.api").await;
    let (status, problem) = full.post_json(&token, "Consignments", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // Validation of the seen fields still applies.
    let seen = seen().await;
    let token = seen.token("pgd302.api").await;
    let mut bad = booking();
    bad["general"]["customerID"] = json!(52011);
    let (status, problem) = seen.post_json(&token, "Consignments", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["errors"]["General.CustomerID"].is_array(), "{problem}");
}

#[tokio::test]
async fn the_full_profile_is_the_default_and_unchanged() {
    let sim = Sim::start().await;
    assert_eq!(sim.handle().profile(), Profile::Full);
    let token = sim.token("pgd302.api").await;
    let (status, events) = sim.get_json(&token, "consignments/10016/events").await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let (_, list) = sim.get_json(&token, "consignments?deliveryDepotCode=ZZZ999").await;
    assert_eq!(list, json!([]), "the full profile acts on the invented filters");
    let (_, statuses) = sim.get_json(&token, "consignmentStatuses?limit=50").await;
    assert_eq!(statuses[0]["id"], 10);
    // An unknown path is a bare 404 in both profiles; a missing consignment is ProblemDetails.
    assert_no_route(&sim, Method::GET, &token, "consignments/10016/nothing-here", None).await;
    let (status, problem) = sim.post_json(&token, "consignments/0/cancel", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["status"], 404);
}
