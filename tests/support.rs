//! Test support: the AWS stand-in (moto) the real adapters are tested against, and a stand-in of
//! Lambda's runtime API for the functions' own tests ([`lambda_runtime_api`]).
//!
//! The tests never skip: without `BRIDGE_TEST_AWS_ENDPOINT` they fail and say how to start moto.
//! `infra/scripts/test.sh` (the README's test command) starts it and sets the variable.

pub mod lambda_runtime_api;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use bridge::store::dynamo::DynamoStore;
use bridge::store::s3::S3Documents;

/// The variable that points the tests at the AWS stand-in.
pub const ENDPOINT_VARIABLE: &str = "BRIDGE_TEST_AWS_ENDPOINT";

/// The stand-in's endpoint, e.g. `http://127.0.0.1:5055`.
pub fn aws_endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VARIABLE} is not set: the DynamoDB and S3 adapters are tested against moto. \
             Run the tests with infra/scripts/test.sh, which starts moto, or start \
             `moto_server -H 127.0.0.1 -p 5055` yourself and set {ENDPOINT_VARIABLE}=http://127.0.0.1:5055"
        )
    })
}

/// AWS configuration for the stand-in: dummy credentials, eu-west-2.
pub fn aws_config() -> SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-2"))
        .endpoint_url(aws_endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
        .http_client(bridge::aws::https_client())
        .build()
}

/// A unique resource name, so tests never share state on the stand-in.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A DynamoDB store on a new table.
pub async fn dynamo_store() -> DynamoStore {
    let config = aws_config();
    let client = bridge::aws::dynamodb_client(&config);
    let table = unique_name("bridge-test");
    DynamoStore::create_table(&client, &table).await.expect("create table on moto");
    DynamoStore::new(client, table)
}

/// A new S3 bucket on the stand-in; answers its name.
pub async fn create_bucket() -> String {
    let bucket = unique_name("bridge-test");
    S3Documents::create_bucket(&bridge::aws::s3_client(&aws_config()), &bucket).await.expect("create bucket on moto");
    bucket
}

/// An S3 document store on a new bucket.
pub async fn s3_documents() -> S3Documents {
    S3Documents::new(bridge::aws::s3_client(&aws_config()), create_bucket().await)
}

/// The simulators' depot users and a plain booking, shared with the benchmarks.
pub use bridge_local::{depot_user, simple_booking};

/// The Nexus scan code of a scan the bridge recorded in Qargo: the first word of its description
/// (Qargo's `scan_barcode` answer has no field of its own for the network's code).
pub fn nexus_code(scan: &qargo_sim::ScanRecord) -> Option<String> {
    scan.description.as_deref().and_then(|d| d.split_whitespace().next()).map(str::to_owned)
}
