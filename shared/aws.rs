//! AWS clients, built once per process from the environment. Locally and in tests an endpoint
//! override (`AWS_ENDPOINT_URL`) points them at a stand-in such as moto; S3 then needs path-style
//! addressing, since a stand-in on loopback has no per-bucket host names.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Loads the AWS configuration from the environment (region, credentials, endpoint override), with
/// [`https_client`] for every call, the credential providers' included.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).load().await
}

/// The AWS clients' HTTPS client: rustls with the ring provider, as the partners' clients
/// ([`crate::http::client_builder`]). The SDK's own default would be rustls with aws-lc, which the
/// workspace does not build.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tls_probe::{first_bytes_to_loopback, is_tls_handshake};

    #[tokio::test]
    async fn the_aws_clients_speak_tls_through_the_ring_provider() {
        let bytes = first_bytes_to_loopback(|url| {
            Box::pin(async move {
                let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test");
                let config = SdkConfig::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(aws_config::Region::new("eu-west-2"))
                    .endpoint_url(url)
                    .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
                    .http_client(https_client())
                    .build();
                let _ = dynamodb_client(&config).list_tables().send().await;
            })
        })
        .await;
        assert!(is_tls_handshake(&bytes), "a TLS ClientHello, not {bytes:?}");
    }
}
