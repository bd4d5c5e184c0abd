//! The Nexus REST API: wire types (`wire`) and the client (`client`), one per depot API user.

pub mod booking;
pub mod client;
pub mod error;
pub mod tolerant;
pub mod wire;

pub use crate::capabilities;
pub use crate::http::RetryPolicy;
pub use client::{
    AttachmentUpload, ChangedPages, ConsignmentQuery, EventPost, FetchedFile, LabelFormat, NexusClient,
    OPTIMIZE_KEY_HEADER, Page,
};
pub use error::NexusError;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::Secrets;
use crate::domain::DepotCode;
use crate::pacing::Pacer;
use crate::store::RateBudgets;

/// One Nexus client per depot API user. A PGD depot's user books on either network: the network
/// follows the customer ID it books for.
#[derive(Debug, Clone, Default)]
pub struct NexusClients {
    by_depot: BTreeMap<DepotCode, Arc<NexusClient>>,
}

impl NexusClients {
    /// Clients for every depot user in `secrets`, unpaced; the Optimize key, when configured, goes
    /// to all.
    pub fn from_secrets(base_url: &str, secrets: &Secrets, retry: RetryPolicy) -> NexusClients {
        NexusClients::paced(base_url, secrets, retry, 0, None)
    }

    /// [`NexusClients::from_secrets`], each user paced at `per_minute` requests a minute (0: not
    /// paced), drawing on its budget `nexus#<user>` in `shared` when given (every function
    /// instance then shares the user's budget).
    pub fn paced(
        base_url: &str,
        secrets: &Secrets,
        retry: RetryPolicy,
        per_minute: u32,
        shared: Option<Arc<dyn RateBudgets>>,
    ) -> NexusClients {
        let by_depot = secrets
            .nexus
            .iter()
            .map(|(depot, credentials)| {
                let mut pacer = Pacer::for_nexus(per_minute);
                if let Some(budgets) = &shared {
                    pacer = pacer.shared(budgets.clone(), format!("nexus#{}", credentials.username));
                }
                let client = NexusClient::new(base_url, credentials.clone(), retry)
                    .with_optimize_key(secrets.optimize_api_key.clone())
                    .with_pacer(Arc::new(pacer));
                (depot.clone(), Arc::new(client))
            })
            .collect();
        NexusClients { by_depot }
    }

    /// The client of `depot`'s API user.
    pub fn for_depot(&self, depot: &DepotCode) -> Option<Arc<NexusClient>> {
        self.by_depot.get(depot).cloned()
    }
}
