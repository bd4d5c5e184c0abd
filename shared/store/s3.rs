//! The S3 adapter of the document store. The SHA-256 travels as object metadata, so `head` answers
//! it without reading the bytes.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::documents::check_key;
use super::{DocumentStore, StoredDocument};
use crate::error::StoreError;

const SHA256_METADATA: &str = "sha256";

/// Documents in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Documents {
    client: Client,
    bucket: String,
}

impl S3Documents {
    /// Documents in `bucket`, through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Documents { client, bucket: bucket.into() }
    }

    /// Creates the bucket in eu-west-2, for tests and benchmarks against a local stand-in (the
    /// SAM template creates the real one).
    pub async fn create_bucket(client: &Client, bucket: &str) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        let location =
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest2).build();
        client
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(location)
            .send()
            .await
            .map_err(failed("CreateBucket"))?;
        Ok(())
    }
}

fn failed<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl Fn(SdkError<E, R>) -> StoreError {
    move |err| StoreError::Backend { backend: "S3", operation, reason: DisplayErrorContext(err).to_string() }
}

fn is_not_found<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response().is_some_and(|response| response.status().as_u16() == 404)
}

#[async_trait]
impl DocumentStore for S3Documents {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<StoredDocument, StoreError> {
        check_key(key)?;
        let stored = StoredDocument::describe(key, content_type, &bytes);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_METADATA, &stored.sha256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(failed("PutObject"))?;
        Ok(stored)
    }

    async fn get(&self, key: &str) -> Result<Option<(StoredDocument, Vec<u8>)>, StoreError> {
        check_key(key)?;
        let answer = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(answer) => answer,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(failed("GetObject")(err)),
        };
        let content_type = answer.content_type().unwrap_or("application/octet-stream").to_owned();
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|err| StoreError::backend("S3", "GetObject body", err))?
            .into_bytes()
            .to_vec();
        // Hash what we read rather than trust the metadata: a reader gets what is there.
        Ok(Some((StoredDocument::describe(key, &content_type, &bytes), bytes)))
    }

    async fn head(&self, key: &str) -> Result<Option<StoredDocument>, StoreError> {
        check_key(key)?;
        let answer = match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(answer) => answer,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(failed("HeadObject")(err)),
        };
        let sha256 = answer.metadata().and_then(|meta| meta.get(SHA256_METADATA)).cloned().ok_or_else(|| {
            StoreError::Corrupt {
                key: key.to_owned(),
                reason: "the object has no sha256 metadata: it was not written by the bridge".into(),
            }
        })?;
        Ok(Some(StoredDocument {
            key: key.to_owned(),
            content_type: answer.content_type().unwrap_or("application/octet-stream").to_owned(),
            sha256,
            size: answer.content_length().unwrap_or(0).max(0) as u64,
        }))
    }
}
