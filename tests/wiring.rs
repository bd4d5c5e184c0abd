//! A function's cold start against moto: settings from the environment, secrets from Secrets
//! Manager, the DynamoDB table and S3 bucket the settings name.

use std::collections::BTreeMap;

use bridge::config::Settings;
use bridge::store::{ClaimOutcome, DispatchLedger, DocumentStore};
use bridge::wiring::CloudPorts;

async fn create_secret(document: serde_json::Value) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&end_to_end::aws_config());
    let name = end_to_end::unique_name("nexus-bridge/credentials");
    client.create_secret().name(&name).secret_string(document.to_string()).send().await.unwrap();
    name
}

fn settings(table: &str, bucket: &str, secret: &str, depots: &str) -> Settings {
    let variables: BTreeMap<&str, String> = [
        ("BRIDGE_TABLE", table.to_owned()),
        ("BRIDGE_BUCKET", bucket.to_owned()),
        ("BRIDGE_DEPOTS", depots.to_owned()),
        ("BRIDGE_SECRET_ID", secret.to_owned()),
    ]
    .into();
    Settings::from_lookup(|name| variables.get(name).cloned()).unwrap()
}

fn secrets_for_pgd302() -> serde_json::Value {
    serde_json::json!({
        "nexus": {"PGD302": {"username": "pgd302-api", "password": "pw"}},
        "qargo": {"client_id": "c", "client_secret": "s"},
        "qargo_webhook": {"username": "h", "password": "p"},
        "inbound": {"username": "qargo", "password": "in"}
    })
}

#[tokio::test]
async fn cold_start_builds_ports_on_the_named_table_and_bucket() {
    let aws = end_to_end::aws_config();
    let table = end_to_end::unique_name("bridge-wiring");
    bridge::store::dynamo::DynamoStore::create_table(&bridge::aws::dynamodb_client(&aws), &table).await.unwrap();
    let bucket = end_to_end::create_bucket().await;
    let documents = bridge::store::s3::S3Documents::new(bridge::aws::s3_client(&aws), bucket.clone());
    let secret = create_secret(secrets_for_pgd302()).await;

    let ports = CloudPorts::build(settings(&table, &bucket, &secret, "PGD302"), &aws).await.unwrap();
    assert_eq!(ports.secrets.qargo.client_id, "c");

    let id = "wired-1".parse().unwrap();
    let now = jiff::Timestamp::now();
    let outcome = ports.store.claim(&id, now, jiff::SignedDuration::from_secs(30)).await.unwrap();
    assert!(matches!(outcome, ClaimOutcome::Claimed { .. }));
    ports.documents.put("labels/PALLEX/1/all.pdf", b"%PDF".to_vec(), "application/pdf").await.unwrap();
    assert!(documents.head("labels/PALLEX/1/all.pdf").await.unwrap().is_some(), "written to the named bucket");
}

#[tokio::test]
async fn cold_start_names_the_depot_without_nexus_credentials() {
    let aws = end_to_end::aws_config();
    let secret = create_secret(secrets_for_pgd302()).await;
    let err = CloudPorts::build(settings("t", "b", &secret, "PGD302,FTD118"), &aws).await.unwrap_err();
    assert!(err.to_string().contains("FTD118"), "{err}");
}
