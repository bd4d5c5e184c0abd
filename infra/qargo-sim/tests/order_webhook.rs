//! `POST /v1/webhook`, Qargo's order import webhook: the spec's `OrderImportResponse | null`.

use serde_json::{Value, json};

use crate::support::{Client, options, order_input, start};

const URL: &str = "/v1/webhook";

#[tokio::test]
async fn an_accepted_order_is_answered_null_and_a_refused_one_with_errors() {
    let sim = start(options()).await;
    let client = Client::new(&sim);
    let order = order_input("WH-1", "ACME", "REF-WH", &["PX1"]);
    let answer = client.webhook(URL, &order).await;
    assert_eq!((answer.status, &answer.body), (200, &Value::Null), "{}", answer.body);
    let created = sim.handle.order_by_identifier("WH-1").expect("imported at once");
    assert_eq!(created["order"]["customer_reference_number"], "REF-WH");
    assert_eq!(sim.handle.uploads()[0]["upload_status"], "COMPLETED");

    // The same identifier again is a duplicate: accepted (null), no second order.
    assert_eq!(client.webhook(URL, &order).await.body, Value::Null);
    assert_eq!(sim.handle.orders().len(), 1);

    // A semantic refusal (unknown customer) and an import that resolves to ERROR (UPDATE of an
    // unknown identifier): 200 with `errors`.
    let stranger = order_input("WH-2", "NOBODY", "REF-WH2", &[]);
    let refused = client.webhook(URL, &stranger).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.body["errors"][0]["error_type"], "USER_INPUT_ERROR");
    assert!(
        refused.body["errors"][0]["error_message"].as_str().unwrap().contains("$.customer.code"),
        "{}",
        refused.body
    );
    let mut update = order_input("WH-UNKNOWN", "ACME", "REF-WH3", &[]);
    update["operation"] = json!("UPDATE");
    let refused = client.webhook(URL, &update).await;
    assert_eq!(refused.body["errors"][0]["error_type"], "USER_INPUT_ERROR", "{}", refused.body);
    assert!(refused.body["errors"][0]["error_message"].as_str().unwrap().contains("WH-UNKNOWN"));
    assert_eq!(qargo_sim::spec::check_output("OrderImportResponse", true, &refused.body), Ok(()));

    // A body the spec refuses is FastAPI's 422; a Bearer token is not the webhook credential.
    let answer = client.webhook(URL, &json!({ "operation": "CREATE" })).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let token = client.token().await;
    assert_eq!(client.post_json(URL, &token, &order).await.status, 401);
}
