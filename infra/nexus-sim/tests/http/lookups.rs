//! The lookup endpoints.

use reqwest::StatusCode;

use crate::support::{Sim, error_keys, read};

#[tokio::test]
async fn every_lookup_answers_a_bare_array_with_a_total() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    for (lookup, minimum) in [
        ("consignmentStatuses", 15),
        ("consignmentTypes", 3),
        ("consignmentAttachmentTypes", 4),
        ("countries", 2),
        ("currencyTypes", 1),
        ("services", 3),
        ("timeWindows", 3),
        ("extras", 6),
        ("palletTypes", 7),
        ("palletBases", 3),
        ("depots", 3),
    ] {
        let response = sim.get(&token, &format!("{lookup}?limit=100")).await;
        assert_eq!(response.status(), StatusCode::OK, "{lookup}");
        let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
        let (_, rows) = read(response).await;
        let rows = rows.as_array().unwrap();
        assert!(rows.len() >= minimum && rows.len() == total, "{lookup}: {} rows", rows.len());
        assert!(
            rows.iter().all(|r| r.get("id").is_some() && r["code"].is_string() && r["name"].is_string()),
            "{lookup}"
        );
    }
}

#[tokio::test]
async fn the_seen_reference_values_are_kept() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, countries) = sim.get_json(&token, "countries?searchTerm=united%20kingdom").await;
    assert_eq!(countries[0]["id"], 233);
    let (_, services) = sim.get_json(&token, "services?searchTerm=SD").await;
    assert_eq!(services[0]["id"], 3);
    let (_, types) = sim.get_json(&token, "consignmentTypes?searchTerm=delivery").await;
    assert_eq!(types[0]["id"], 2);
    let (_, pallets) = sim.get_json(&token, "palletTypes?limit=100").await;
    let full = pallets.as_array().unwrap().iter().find(|p| p["id"] == 7).unwrap();
    assert_eq!((full["maxWeight"].as_u64(), full["maxHeight"].as_u64()), (Some(1200), Some(220)));
    let (_, attachment_types) = sim.get_json(&token, "consignmentAttachmentTypes").await;
    let codes: Vec<&str> = attachment_types.as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap()).collect();
    for seen in ["MPOD", "POD", "MPODPHOTOE"] {
        assert!(codes.contains(&seen));
    }
    let (_, depots) = sim.get_json(&token, "depots?searchTerm=PGD302").await;
    assert_eq!(depots[0]["networks"], serde_json::json!(["PALLEX", "FORTEC"]));
}

#[tokio::test]
async fn search_term_and_paging_apply_to_lookups() {
    let sim = Sim::start().await;
    let token = sim.token("pgd302.api").await;
    let (_, hub) = sim.get_json(&token, "consignmentStatuses?searchTerm=hub").await;
    let names: Vec<&str> = hub.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Trunked to Hub", "At Hub", "Departed Hub"]);
    let response = sim.get(&token, "consignmentStatuses?limit=5&offset=10").await;
    assert_eq!(response.headers()["x-total-count"], "15");
    let (_, page) = read(response).await;
    assert_eq!(page.as_array().unwrap().len(), 5);
    assert_eq!(page[0]["code"], "DEL");
    let (_, default_page) = sim.get_json(&token, "consignmentStatuses").await;
    assert_eq!(default_page.as_array().unwrap().len(), 15);
    let (status, problem) = sim.get_json(&token, "countries?limit=1000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["limit"]);
}

#[tokio::test]
async fn lookups_need_a_token_and_unknown_ones_are_404() {
    let sim = Sim::start().await;
    let response = sim.http.get(sim.url("countries")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let token = sim.token("pgd302.api").await;
    assert_eq!(sim.get(&token, "unicorns").await.status(), StatusCode::NOT_FOUND);
}
