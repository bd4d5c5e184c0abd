//! Test support: the AWS stand-in (moto) the real adapters are tested against.
//!
//! The tests never skip: without `BRIDGE_TEST_AWS_ENDPOINT` they fail and say how to start moto.
//! `infra/scripts/test.sh` (the README's test command) starts it and sets the variable.

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
    let client = bridge::aws::s3_client(&aws_config());
    let bucket = unique_name("bridge-test");
    client
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest2)
                .build(),
        )
        .send()
        .await
        .expect("create bucket on moto");
    bucket
}

/// An S3 document store on a new bucket.
pub async fn s3_documents() -> S3Documents {
    S3Documents::new(bridge::aws::s3_client(&aws_config()), create_bucket().await)
}

/// The Nexus simulator's API user of a depot (`<depot>.api` / `Sim!<DEPOT>`, see its README).
pub fn depot_user(nexus_base_url: &str, depot: &str, retry: bridge::http::RetryPolicy) -> bridge::nexus::NexusClient {
    let credentials = bridge::config::Credentials {
        username: format!("{}.api", depot.to_ascii_lowercase()),
        password: bridge::config::Secret::new(format!("Sim!{}", depot.to_ascii_uppercase())),
    };
    bridge::nexus::NexusClient::new(nexus_base_url, credentials, retry)
}

/// A plain next-day booking collected on 2026-06-17 (the simulators' first day) from the customer's
/// own address: `pallets` full pallets of 300 kg to `delivery_postcode`.
pub fn simple_booking(
    customer_id: i64,
    network: &str,
    number: &str,
    delivery_postcode: &str,
    pallets: usize,
) -> bridge::nexus::wire::CreateConsignment {
    use bridge::nexus::wire::{Address, CollectionInfo, CreateConsignment, DeliveryInfo, General, PalletInput};
    let pallet = PalletInput {
        pallet_base_id: 1,
        pallet_type_id: 7,
        length: 120,
        width: 100,
        height: 120,
        weight: 300,
        limited_quantity_weight: 0,
        do_not_stack: false,
    };
    CreateConsignment {
        general: General {
            consignment_type_id: 2,
            customer_id,
            consignment_number: number.into(),
            customer_reference: None,
            description_of_goods: None,
            limited_quantities: false,
            network_code: Some(network.into()),
            requesting_depot_code: None,
        },
        collection_info: CollectionInfo {
            service_id: 1,
            due_date: "2026-06-17".parse().expect("a date"),
            contact: None,
            email: None,
            extras: vec![],
        },
        delivery_info: DeliveryInfo {
            service_id: 1,
            due_date: None,
            contact: None,
            email: None,
            time_window_code: None,
            start_window: None,
            end_window: None,
            book_in: None,
            extras: vec![],
            instructions: None,
        },
        collection_address: None,
        delivery_address: Address {
            country_id: 233,
            name: format!("Receiver {number}"),
            line1: "1 Industrial Estate".into(),
            line2: None,
            town: "Town".into(),
            county: None,
            postcode: delivery_postcode.into(),
            telephone: None,
        },
        pallets: vec![pallet; pallets],
    }
}
