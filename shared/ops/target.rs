//! Which bridge the operations act on: the local bridge's data folder, or a deployed stack's table
//! and bucket. Settings and secrets are read as the functions read them ([`Settings::from_lookup`],
//! [`Secrets::load`]), with the table and bucket taken from the target.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use super::{Ops, OpsError};
use crate::clock::{Clock, SystemClock};
use crate::config::{Secrets, Settings};
use crate::http::RetryPolicy;
use crate::store::dynamo::DynamoStore;
use crate::store::embedded::{DirectoryDocuments, EmbeddedStore};
use crate::store::s3::S3Documents;
use crate::store::{Cursors, DispatchLedger, DocumentStore, RateBudgets, RecordScan, SyncState, TokenCache};
use crate::wiring::{Bridge, ClientTuning};

/// The local bridge's data folder when none is given.
pub const LOCAL_DATA_DIR: &str = "target/bridge-local";

/// Where the bridge's records and documents are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local bridge's data folder: `bridge.redb` and `documents/`.
    Local {
        /// The folder (`bridge-local --data-dir`, default [`LOCAL_DATA_DIR`]).
        data_dir: PathBuf,
    },
    /// A deployed stack.
    Cloud {
        /// The DynamoDB table (the stack's `TableName` output).
        table: String,
        /// The S3 bucket (the stack's `BucketName` output).
        bucket: String,
    },
}

/// How the operations' clients retry: a person is waiting, so they give up within seconds.
pub fn ops_tuning() -> ClientTuning {
    ClientTuning {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(15),
            request_timeout: Duration::from_secs(10),
        },
        qargo_requests_per_second: 2.0,
        // The CLI works beside the deployed functions: it draws on their budgets.
        shared_budgets: true,
    }
}

/// Opens `target`. `lookup` reads settings (the process environment in the binary); `aws` is the
/// AWS configuration, needed for a cloud target and for secrets in Secrets Manager. When the settings
/// or secrets cannot be read, the operations run over storage alone and say what is missing.
pub async fn open(
    target: &Target,
    lookup: impl Fn(&str) -> Option<String>,
    aws: Option<&SdkConfig>,
) -> Result<Ops, OpsError> {
    match target {
        Target::Local { data_dir } => {
            let store = Arc::new(open_local_store(data_dir)?);
            let documents = Arc::new(DirectoryDocuments::new(data_dir.join("documents")));
            Ok(assemble(store, documents, ("local", "local"), lookup, aws).await)
        }
        Target::Cloud { table, bucket } => {
            let aws = aws.ok_or_else(|| OpsError::Invalid("a deployed stack needs the AWS configuration".into()))?;
            let store = Arc::new(DynamoStore::new(crate::aws::dynamodb_client(aws), table.clone()));
            let documents = Arc::new(S3Documents::new(crate::aws::s3_client(aws), bucket.clone()));
            Ok(assemble(store, documents, (table, bucket), lookup, Some(aws)).await)
        }
    }
}

/// Opens the local bridge's store, refusing a folder that holds none and explaining the lock the
/// running local bridge holds.
pub fn open_local_store(data_dir: &Path) -> Result<EmbeddedStore, OpsError> {
    let file = data_dir.join("bridge.redb");
    if !file.exists() {
        return Err(OpsError::NotFound(format!(
            "no local bridge data at {}: run `cargo run -p bridge-local` first, or give --local <its --data-dir>",
            file.display()
        )));
    }
    EmbeddedStore::open(&file).map_err(|err| {
        let text = err.to_string();
        if text.to_ascii_lowercase().replace(' ', "").contains("alreadyopen") {
            OpsError::Failed(format!(
                "{} is held by a running local bridge (one process at a time may open it): stop bridge-local, then run this again",
                file.display()
            ))
        } else {
            OpsError::Store(err)
        }
    })
}

async fn assemble<S>(
    store: Arc<S>,
    documents: Arc<dyn DocumentStore>,
    (table, bucket): (&str, &str),
    lookup: impl Fn(&str) -> Option<String>,
    aws: Option<&SdkConfig>,
) -> Ops
where
    S: DispatchLedger + Cursors + SyncState + TokenCache + RecordScan + RateBudgets + 'static,
{
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let settings = Settings::from_lookup(|name| match name {
        "BRIDGE_TABLE" => Some(table.to_owned()),
        "BRIDGE_BUCKET" => Some(bucket.to_owned()),
        _ => lookup(name),
    });
    let settings = match settings {
        Ok(settings) => settings,
        Err(err) => return Ops::offline(store, documents, clock, &err.to_string()),
    };
    let secrets = match Secrets::load(&settings.secrets_source, aws).await {
        Ok(secrets) => secrets,
        Err(err) => return Ops::offline(store, documents, clock, &err.to_string()),
    };
    if let Err(err) = secrets.check_covers(&settings) {
        return Ops::offline(store, documents, clock, &err.to_string());
    }
    let records: Arc<dyn RecordScan> = store.clone();
    let bridge = Bridge::assemble_tuned(settings, Arc::new(secrets), store, documents, clock, ops_tuning());
    Ops::online(bridge, records)
}
