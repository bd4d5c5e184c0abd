//! Secrets read from AWS Secrets Manager (moto), as the functions do in the cloud.

use bridge::config::{Secrets, SecretsSource};

#[tokio::test]
async fn secrets_come_from_secrets_manager() {
    let config = end_to_end::aws_config();
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let name = end_to_end::unique_name("nexus-bridge/credentials");
    let document = serde_json::json!({
        "nexus": {"PGD302": {"username": "pgd302-api", "password": "pw-302"}},
        "qargo": {"client_id": "client", "client_secret": "client-secret"},
        "qargo_webhook": {"username": "hook", "password": "hook-pw"},
        "inbound": {"username": "qargo", "password": "inbound-pw"},
        "optimize_api_key": "opt-key"
    });
    client.create_secret().name(&name).secret_string(document.to_string()).send().await.expect("create secret on moto");

    let secrets = Secrets::load(&SecretsSource::SecretsManager(name.clone()), Some(&config)).await.unwrap();
    assert_eq!(secrets.nexus[&"PGD302".parse().unwrap()].password.expose(), "pw-302");
    assert_eq!(secrets.optimize_api_key.as_ref().unwrap().expose(), "opt-key");
    assert!(!format!("{secrets:?}").contains("pw-302"));

    let missing =
        Secrets::load(&SecretsSource::SecretsManager(format!("{name}-absent")), Some(&config)).await.unwrap_err();
    assert!(missing.to_string().contains("absent"), "{missing}");
}
