//! What a Lambda function builds once at cold start: settings, secrets and the cloud adapters.
//! Handlers borrow it for every invocation, so SDK clients and the secrets are reused.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clock::{Clock, SystemClock};
use crate::config::{Secrets, Settings};
use crate::error::ConfigError;
use crate::nexus::{NexusClients, RetryPolicy};
use crate::qargo::{Pacer, QargoClient};
use crate::store::dynamo::DynamoStore;
use crate::store::s3::S3Documents;
use crate::store::{Cursors, DispatchLedger, DocumentStore, RateBudgets, SyncState, TokenCache};

/// Everything a job may need, built once: settings, the clock, the storage ports and the two
/// clients. The Lambda functions build it over DynamoDB and S3 ([`CloudPorts::bridge`]); the
/// local bridge over embedded storage; tests over whatever they inject. Jobs borrow what they use.
#[derive(Clone)]
pub struct Bridge {
    /// Settings.
    pub settings: Settings,
    /// Secrets (credentials stay masked).
    pub secrets: Arc<Secrets>,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// The dispatch ledger.
    pub ledger: Arc<dyn DispatchLedger>,
    /// Poll cursors.
    pub cursors: Arc<dyn Cursors>,
    /// Per-consignment sync state.
    pub sync_state: Arc<dyn SyncState>,
    /// Labels and POD files.
    pub documents: Arc<dyn DocumentStore>,
    /// One Nexus client per depot user.
    pub nexus: NexusClients,
    /// The Qargo client (token shared through the store).
    pub qargo: Arc<QargoClient>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").field("settings", &self.settings).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl Bridge {
    /// Assembles the bridge over one store that holds the ledger, cursors, sync state and tokens
    /// (DynamoDB, embedded or in memory), a document store and a clock.
    pub fn assemble<S>(
        settings: Settings,
        secrets: Arc<Secrets>,
        store: Arc<S>,
        documents: Arc<dyn DocumentStore>,
        clock: Arc<dyn Clock>,
    ) -> Bridge
    where
        S: DispatchLedger + Cursors + SyncState + TokenCache + RateBudgets + 'static,
    {
        Bridge::assemble_tuned(settings, secrets, store, documents, clock, ClientTuning::default())
    }

    /// [`Bridge::assemble`] with the clients tuned (tests use short retry budgets, and a faster
    /// pace against a simulator whose rate limits are off).
    pub fn assemble_tuned<S>(
        settings: Settings,
        secrets: Arc<Secrets>,
        store: Arc<S>,
        documents: Arc<dyn DocumentStore>,
        clock: Arc<dyn Clock>,
        tuning: ClientTuning,
    ) -> Bridge
    where
        S: DispatchLedger + Cursors + SyncState + TokenCache + RateBudgets + 'static,
    {
        let retry = tuning.retry;
        let shared: Option<Arc<dyn RateBudgets>> = if tuning.shared_budgets { Some(store.clone()) } else { None };
        let nexus = NexusClients::paced(
            &settings.nexus_base_url,
            &secrets,
            retry,
            settings.nexus_requests_per_minute,
            shared.clone(),
        );
        let mut pacer = Pacer::for_qargo(tuning.qargo_requests_per_second);
        if let Some(budgets) = shared {
            pacer = pacer.shared(budgets, QARGO_BUDGET);
        }
        let qargo = QargoClient::new(
            &settings.qargo_base_url,
            secrets.qargo.clone(),
            secrets.qargo_webhook.clone(),
            store.clone(),
            Arc::new(pacer),
            retry,
        );
        Bridge {
            settings,
            secrets,
            clock,
            ledger: store.clone(),
            cursors: store.clone(),
            sync_state: store,
            documents,
            nexus,
            qargo: Arc::new(qargo),
        }
    }
}

/// The name of the tenant's Qargo request budget in the store.
pub const QARGO_BUDGET: &str = "qargo";

/// How the clients retry and pace.
#[derive(Debug, Clone, Copy)]
pub struct ClientTuning {
    /// Retries of both clients.
    pub retry: RetryPolicy,
    /// Qargo API calls per second (Qargo allows 2).
    pub qargo_requests_per_second: f64,
    /// Whether the request budgets (Qargo's per tenant, Nexus's per user) are shared through the
    /// store with every other process on it (the Lambda functions), or kept by this process alone
    /// (the local bridge, one process).
    pub shared_budgets: bool,
}

impl Default for ClientTuning {
    fn default() -> Self {
        ClientTuning { retry: RetryPolicy::default(), qargo_requests_per_second: 2.0, shared_budgets: false }
    }
}

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

    /// The bridge over these ports, on the system clock, its request budgets shared through
    /// DynamoDB by every instance of every function.
    pub fn bridge(&self) -> Bridge {
        Bridge::assemble_tuned(
            self.settings.clone(),
            self.secrets.clone(),
            self.store.clone(),
            self.documents.clone(),
            Arc::new(SystemClock),
            ClientTuning { shared_budgets: true, ..ClientTuning::default() },
        )
    }
}
