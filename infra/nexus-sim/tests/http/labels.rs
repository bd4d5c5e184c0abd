//! `GET /v1/consignments/{id}/labels`: PDF (one 6×4 in page per pallet) and ZPL.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Sim, barcodes_of, booking, error_keys, id_of, read};

fn three_pallets() -> serde_json::Value {
    let mut body = booking();
    body["general"]["consignmentNumber"] = json!("LBL-3001");
    body["pallets"] = json!([
        { "palletTypeID": 7, "height": 180, "weight": 640 },
        { "palletTypeID": 3, "height": 100, "weight": 300 },
        { "palletTypeID": 5, "palletBaseID": 2, "height": 150, "weight": 500 }
    ]);
    body
}

#[tokio::test]
async fn the_pdf_has_one_six_by_four_page_per_pallet_with_the_barcode_text() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &three_pallets()).await;
    let token = sim.token("pgd302.api").await;
    let response = sim.get(&token, &format!("consignments/{}/labels", id_of(&c))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let document = lopdf::Document::load_mem(&bytes).expect("a readable PDF");
    let pages = document.get_pages();
    assert_eq!(pages.len(), 3);
    for (number, barcode) in (1..=3).zip(barcodes_of(&c)) {
        let page_id = pages[&number];
        let media_box: Vec<f32> = document
            .get_dictionary(page_id)
            .unwrap()
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_float().unwrap())
            .collect();
        assert_eq!(media_box, [0.0, 0.0, 432.0, 288.0], "6 x 4 inches");
        let text = document.extract_text(&[number]).unwrap();
        assert!(text.contains(&barcode), "page {number} lacks {barcode}: {text}");
        assert!(text.contains("LBL-3001"), "{text}");
        assert!(text.contains("PGD302 -> UKD101"), "{text}");
        assert!(text.contains("Premium"), "{text}");
        assert!(text.contains(&format!("Pallet {number} of 3")), "{text}");
    }
}

#[tokio::test]
async fn one_pallet_s_label_by_pallet_id() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &three_pallets()).await;
    let second = &c["pallets"][1];
    let token = sim.token("pgd302.api").await;
    let response = sim.get(&token, &format!("consignments/{}/labels?palletID={}", id_of(&c), second["palletID"])).await;
    let document = lopdf::Document::load_mem(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(document.get_pages().len(), 1);
    assert!(document.extract_text(&[1]).unwrap().contains(second["barcode"].as_str().unwrap()));
    let missing = sim.get(&token, &format!("consignments/{}/labels?palletID=1", id_of(&c))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn zpl_has_one_block_per_pallet() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &three_pallets()).await;
    let token = sim.token("pgd302.api").await;
    let response = sim.get(&token, &format!("consignments/{}/labels?format=ZPL", id_of(&c))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let zpl = response.text().await.unwrap();
    assert_eq!(zpl.matches("^XA").count(), 3);
    assert_eq!(zpl.matches("^XZ").count(), 3);
    for barcode in barcodes_of(&c) {
        assert!(zpl.contains(&format!("^FD{barcode}^FS")));
    }
    let (status, problem) = read(sim.get(&token, &format!("consignments/{}/labels?format=png", id_of(&c))).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["format"]);
}

#[tokio::test]
async fn printing_labels_manifests_a_booked_consignment() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &booking()).await;
    let id = id_of(&c);
    sim.handle().advance(std::time::Duration::from_secs(60));
    let token = sim.token("pgd302.api").await;
    assert_eq!(sim.get(&token, &format!("consignments/{id}/labels")).await.status(), StatusCode::OK);
    let (_, after) = sim.get_json(&token, &format!("consignments/{id}")).await;
    assert_eq!(after["status"], json!({ "id": 20, "name": "Manifested" }));
    assert_eq!(after["manifestDate"], "2026-06-17T09:01:00");
    assert_eq!(after["lastUpdated"], "2026-06-17T09:01:00");
}

#[tokio::test]
async fn labels_of_an_invisible_or_cancelled_consignment_are_404() {
    let sim = Sim::start().await;
    let c = sim.book("pgd302.api", &booking()).await;
    let id = id_of(&c);
    let stranger = sim.token("ftd240.api").await;
    assert_eq!(sim.get(&stranger, &format!("consignments/{id}/labels")).await.status(), StatusCode::NOT_FOUND);
    let token = sim.token("pgd302.api").await;
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.get(&token, &format!("consignments/{id}/labels")).await.status(), StatusCode::NOT_FOUND);
}
