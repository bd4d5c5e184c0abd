//! AWS clients, built once per process from the environment. Locally and in tests an endpoint
//! override (`AWS_ENDPOINT_URL`) points them at a stand-in such as moto; S3 then needs path-style
//! addressing, since a stand-in on loopback has no per-bucket host names.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the AWS configuration from the environment (region, credentials, endpoint override).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A DynamoDB client.
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// An S3 client; path-style when an endpoint override is set.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}
