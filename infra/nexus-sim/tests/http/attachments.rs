//! `GET`/`POST /v1/consignments/{id}/attachments` and `GET /v1/attachments/{id}/content`.

use nexus_sim::Stage;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::support::{Sim, booking, error_keys, id_of, read};

fn form(type_code: &str, signed_by: Option<&str>, bytes: &'static [u8]) -> Form {
    let mut form = Form::new()
        .text("attachmentTypeCode", type_code.to_owned())
        .part("file", Part::bytes(bytes).file_name("evidence.png").mime_str("image/png").unwrap());
    if let Some(name) = signed_by {
        form = form.text("signedBy", name.to_owned()).text("capturedAt", "2026-06-17T09:00:00");
    }
    form
}

async fn upload(sim: &Sim, token: &str, id: u64, form: Form) -> (StatusCode, serde_json::Value) {
    let response = sim
        .http
        .post(sim.url(&format!("consignments/{id}/attachments")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    read(response).await
}

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\nnot-really-a-png";

#[tokio::test]
async fn the_delivery_depot_uploads_evidence_and_anyone_who_sees_the_consignment_downloads_it() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    sim.handle().step(id, Stage::OutForDelivery).unwrap();
    let delivering = sim.token("ukd101.api").await;
    let (status, attachment) = upload(&sim, &delivering, id, form("MPOD", Some("J SMITH"), SIGNATURE)).await;
    assert_eq!(status, StatusCode::CREATED, "{attachment}");
    assert_eq!(attachment["attachmentType"], json!({ "id": 1, "code": "MPOD" }));
    assert_eq!(attachment["signedBy"], "J SMITH");
    assert_eq!(attachment["fileName"], "evidence.png");
    assert_eq!(attachment["uploadedByDepotCode"], "UKD101");
    assert_eq!(attachment["capturedAt"], "2026-06-17T09:00:00");
    assert_eq!(attachment["createdDate"], "2026-06-17T09:00:00");

    let requester = sim.token("pgd302.api").await;
    let (status, list) = sim.get_json(&requester, &format!("consignments/{id}/attachments")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let url = list[0]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}attachments/{}/content", sim.running.base_url(), attachment["attachmentID"]));
    let response = sim.http.get(url).bearer_auth(&requester).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(&response.bytes().await.unwrap()[..], SIGNATURE);

    let stranger = sim.token("ftd240.api").await;
    assert_eq!(sim.http.get(url).bearer_auth(&stranger).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(sim.http.get(url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn uploads_must_be_multipart() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let token = sim.token("ukd101.api").await;
    let (status, _) = sim.post_json(&token, &format!("consignments/{id}/attachments"), &json!({ "file": "abc" })).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn unknown_or_missing_fields_are_400_keyed_by_form_field() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let token = sim.token("ukd101.api").await;
    let (status, problem) = upload(&sim, &token, id, form("SELFIE", None, SIGNATURE)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["attachmentTypeCode"]);
    let (status, problem) = upload(&sim, &token, id, form("MPOD", None, SIGNATURE)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["signedBy"]);
    let no_file = Form::new().text("attachmentTypeCode", "POD");
    let (status, problem) = upload(&sim, &token, id, no_file).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["file"]);
    let bad_time = form("MPODPHOTOE", None, SIGNATURE).text("capturedAt", "teatime");
    let (status, problem) = upload(&sim, &token, id, bad_time).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_keys(&problem), ["capturedAt"]);
}

#[tokio::test]
async fn only_the_delivery_depot_uploads() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    for user in ["pgd302.api", "timber.pallex"] {
        let token = sim.token(user).await;
        let (status, _) = upload(&sim, &token, id, form("POD", None, SIGNATURE)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
    }
}

#[tokio::test]
async fn uploads_to_a_cancelled_consignment_are_409() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let (status, _) =
        sim.post_json(&sim.token("pgd302.api").await, &format!("consignments/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = upload(&sim, &sim.token("ukd101.api").await, id, form("POD", None, SIGNATURE)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

#[tokio::test]
async fn an_uploaded_signature_stops_the_driver_adding_its_own() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    sim.handle().step(id, Stage::OutForDelivery).unwrap();
    let (status, _) = upload(&sim, &sim.token("ukd101.api").await, id, form("MPOD", Some("A DRIVER"), SIGNATURE)).await;
    assert_eq!(status, StatusCode::CREATED);
    sim.handle().step(id, Stage::Delivered).unwrap();
    let c = sim.admin_consignment(id).await;
    let signatures =
        c["attachments"].as_array().unwrap().iter().filter(|a| a["attachmentType"]["code"] == "MPOD").count();
    assert_eq!(signatures, 1);
}
