//! The Nexus REST API: wire types (`wire`) and the client (`client`), one per depot API user.

pub mod booking;
pub mod capabilities;
pub mod client;
pub mod error;
pub mod tolerant;
pub mod wire;

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

/// One Nexus client per depot API user. A PGD depot's user books on either network: the network
/// follows the customer ID it books for.
#[derive(Debug, Clone, Default)]
pub struct NexusClients {
    by_depot: BTreeMap<DepotCode, Arc<NexusClient>>,
}

impl NexusClients {
    /// Clients for every depot user in `secrets`; the Optimize key, when configured, goes to all.
    pub fn from_secrets(base_url: &str, secrets: &Secrets, retry: RetryPolicy) -> NexusClients {
        let by_depot = secrets
            .nexus
            .iter()
            .map(|(depot, credentials)| {
                let client = NexusClient::new(base_url, credentials.clone(), retry)
                    .with_optimize_key(secrets.optimize_api_key.clone());
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
