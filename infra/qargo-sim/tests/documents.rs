//! Document webhooks (per stop, per order), the document reads and downloads.

use qargo_sim::{RunningSim, ScenarioOrder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Client, WEBHOOK_PASS, WEBHOOK_USER, options, order_input, start};

fn create(sim: &RunningSim, reference: &str) -> qargo_sim::CreatedOrder {
    let order: ScenarioOrder =
        serde_json::from_value(order_input(&format!("ID-{reference}"), "ACME", reference, &[])).unwrap();
    sim.handle.create_order(&order).unwrap()
}

async fn post_file(
    client: &Client,
    path_and_query: &str,
    content_type: Option<&str>,
    disposition: Option<&str>,
    body: &[u8],
) -> (u16, Value) {
    let mut request =
        client.http.post(client.url(path_and_query)).basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASS)).body(body.to_vec());
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(cd) = disposition {
        request = request.header("content-disposition", cd);
    }
    let answer = Client::answer(request.send().await.unwrap()).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn a_stop_document_is_stored_with_its_name_type_and_hash() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-1");
    let pdf = b"%PDF-1.4 delivery note";
    let path = format!("/v1/webhook/subco-document-upload?question_path_key=POD&stop_id={}", order.delivery_stop_id);
    let (status, body) =
        post_file(&client, &path, Some("application/pdf"), Some("attachment; filename=\"pod1234.pdf\""), pdf).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "pod1234_POD.pdf", "Qargo combines the sender's name with the key's default");
    assert_eq!(body["document_type"], "PROOF_OF_DELIVERY_SIGNED");
    assert_eq!(body["sha256"], hex::encode(Sha256::digest(pdf)));
    let (_, plain) =
        post_file(&client, &path.replace("POD", "MPODPHOTOE"), Some("image/jpeg"), None, b"\xFF\xD8\xFF photo").await;
    assert_eq!(plain["name"], "MPODPHOTOE.jpg");
    assert_eq!(plain["document_type"], "PHOTO_OF_GOODS_DELIVERY");

    let token = client.token().await;
    let docs = client.get(&format!("/v1/orders/order/{}/documents", order.order_id), &token).await.body;
    let docs = docs.as_array().unwrap().clone();
    assert_eq!(docs.len(), 2);
    let first = &docs[0];
    assert_eq!(first["subject_type"], "STOP");
    assert_eq!(first["content_type"], "application/pdf");
    let download_url = first["download_url"].as_str().unwrap();
    assert_eq!(download_url, format!("/v1/documents/document/{}/download", first["id"].as_str().unwrap()));
    for url in [download_url.to_string(), format!("{download_url}?direct=true")] {
        let bytes = client.http.get(client.url(&url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(bytes.status().as_u16(), 200);
        assert_eq!(bytes.headers()["content-type"], "application/pdf");
        assert_eq!(bytes.bytes().await.unwrap().as_ref(), pdf);
    }
    let unauthenticated = client.http.get(client.url(download_url)).send().await.unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);

    // The admin view keeps every upload (the simulator never de-duplicates), with SHA-256 and size.
    post_file(&client, &path, Some("application/pdf"), Some("attachment; filename=\"pod1234.pdf\""), pdf).await;
    let detail = sim.handle.order_detail(order.order_id).unwrap();
    let stored = detail["documents"].as_array().unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0]["sha256"], stored[2]["sha256"]);
    assert_eq!(stored[0]["size"], pdf.len());
    assert_eq!(stored[0]["stop_id"], order.delivery_stop_id.to_string());
    assert_eq!(stored[0]["question_path_key"], "POD");
    assert_eq!(stored[0]["source"], "subco-document-upload");
}

#[tokio::test]
async fn a_stop_document_needs_key_stop_content_type_and_bytes() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-2");
    let (status, body) = post_file(&client, "/v1/webhook/subco-document-upload", None, None, b"").await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["question_path_key", "stop_id", "Content-Type", "body"]);
    let path = format!("/v1/webhook/subco-document-upload?question_path_key=POD&stop_id={}", order.delivery_stop_id);
    let (status, body) = post_file(&client, &path, None, None, b"bytes").await;
    assert_eq!(status, 400, "Content-Type is required");
    assert_eq!(body["errors"][0]["field"], "Content-Type");
    let unknown = format!("/v1/webhook/subco-document-upload?question_path_key=POD&stop_id={}", uuid::Uuid::new_v4());
    let (status, body) = post_file(&client, &unknown, Some("application/pdf"), None, b"bytes").await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["detail"], "not_found");
    let token = client.token().await;
    let with_token = client
        .http
        .post(client.url(&path))
        .bearer_auth(token)
        .header("content-type", "application/pdf")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status().as_u16(), 401, "webhooks take Basic only");
}

#[tokio::test]
async fn an_order_document_must_match_exactly_one_order() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = create(&sim, "REF-ONE");
    create(&sim, "REF-TWICE");
    let mut second = order_input("ID-REF-TWICE-2", "BOLT", "REF-TWICE", &[]);
    second["order_identifier"] = json!("ID-REF-TWICE-2");
    sim.handle.create_order(&serde_json::from_value(second).unwrap()).unwrap();
    let url = |reference: &str| {
        format!(
            "/v1/webhook/document-import?filename=label.pdf&document_type=PALLET_LABEL_EXTERNAL&customer_reference_number={reference}"
        )
    };
    let (status, body) = post_file(&client, &url("REF-ONE"), Some("application/pdf"), None, b"%PDF label").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_id"], order.order_id.to_string());
    let (status, body) = post_file(&client, &url("REF-TWICE"), Some("application/pdf"), None, b"%PDF label").await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("matches 2 orders"));
    let (status, _) = post_file(&client, &url("REF-NONE"), Some("application/pdf"), None, b"%PDF label").await;
    assert_eq!(status, 400);
    let (status, body) =
        post_file(&client, "/v1/webhook/document-import?filename=x.pdf", Some("application/pdf"), None, b"x").await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "document_type and customer_reference_number");

    let token = client.token().await;
    let docs = client.get(&format!("/v1/orders/order/{}/documents", order.order_id), &token).await.body;
    assert_eq!(docs[0]["type"], "PALLET_LABEL_EXTERNAL");
    assert_eq!(docs[0]["subject_type"], "ORDER");
    assert_eq!(docs[0]["name"], "label.pdf");
}

#[tokio::test]
async fn upload_content_needs_a_file_part() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let token = client.token().await;
    let form = reqwest::multipart::Form::new().text("other", "x");
    let answer = client
        .http
        .post(client.url("/v1/documents/document/upload_content"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let not_multipart = client.post_json("/v1/documents/document/upload_content", &token, &json!({})).await;
    assert_eq!(not_multipart.status, 422);
}
