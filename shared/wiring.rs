//! What a Lambda function builds once at cold start: settings, secrets and the cloud adapters.
//! Handlers borrow it for every invocation, so SDK clients and the secrets are reused.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::config::{Secrets, Settings};
use crate::error::ConfigError;
use crate::store::dynamo::DynamoStore;
use crate::store::s3::S3Documents;

/// The ports of a function in the cloud.
#[derive(Debug, Clone)]
pub struct CloudPorts {
    /// Settings from the environment.
    pub settings: Settings,
    /// Secrets from Secrets Manager (or a local source).
    pub secrets: Arc<Secrets>,
    /// Ledger, cursors, sync state and tokens.
    pub store: Arc<DynamoStore>,
    /// Labels and POD files.
    pub documents: Arc<S3Documents>,
}

impl CloudPorts {
    /// Builds the ports from the process environment and the default AWS configuration.
    pub async fn from_env() -> Result<CloudPorts, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = crate::aws::load_config().await;
        CloudPorts::build(settings, &aws).await
    }

    /// Builds the ports from `settings` with the AWS configuration `aws`.
    pub async fn build(settings: Settings, aws: &SdkConfig) -> Result<CloudPorts, ConfigError> {
        let secrets = Secrets::load(&settings.secrets_source, Some(aws)).await?;
        secrets.check_covers(&settings)?;
        let store = DynamoStore::new(crate::aws::dynamodb_client(aws), settings.table_name.clone());
        let documents = S3Documents::new(crate::aws::s3_client(aws), settings.bucket_name.clone());
        tracing::info!(
            table = %settings.table_name,
            bucket = %settings.bucket_name,
            depots = ?settings.depots.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
            "ports ready"
        );
        Ok(CloudPorts { settings, secrets: Arc::new(secrets), store: Arc::new(store), documents: Arc::new(documents) })
    }
}

/// Runs a function whose job is not part of this build yet: it builds its ports (so configuration
/// errors show at cold start) and answers every event with an error, so that a deployed stack never
/// reports success for work it did not do and the event goes to the dead-letter queue.
pub async fn run_until_built(function: &'static str) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init_tracing();
    let _ports = CloudPorts::from_env().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            tracing::warn!(request_id = %event.context.request_id, function, "event refused: job not built yet");
            Err::<serde_json::Value, lambda_runtime::Error>(crate::error::BridgeError::NotBuilt { function }.into())
        },
    ))
    .await
}
