//! The consignments a depot's runs follow ([`Followed`]): those the bridge booked (the dispatch's
//! link in their sync state) and those the import brought into Qargo (the import's own state). Beside
//! the import's state it reads, so that the seen listing, which the import uses, does not read it.

use std::collections::BTreeMap;

use crate::domain::Network;
use crate::domain::{DepotCode, NexusConsignmentId};
use crate::jobs::seen_listing::{Listing, Whose, list_recent};
use crate::nexus::NexusClient;
use crate::store::{CursorKey, SyncKey};
use crate::wiring::Bridge;

use super::state::ImportState;

/// The consignments a depot's runs follow, as far as the import's state says (read once a run).
#[derive(Debug, Default)]
pub struct Followed {
    imported: BTreeMap<(Network, i64), Option<i64>>,
}

impl Followed {
    /// Reads what the import brought into Qargo for `depot`, on each of its networks.
    pub async fn load(bridge: &Bridge, depot: &DepotCode) -> Result<Followed, String> {
        let mut imported = BTreeMap::new();
        for network in depot.networks() {
            let key = CursorKey { job: super::JOB, depot: depot.clone(), network: *network };
            let Some(cursor) = bridge.cursors.read(&key).await.map_err(|err| err.to_string())? else { continue };
            let state = ImportState::decode(&cursor.position)
                .map_err(|err| format!("the cursor {} is unreadable ({err})", key.storage_key()))?;
            for (id, entry) in state.imported {
                imported.insert((*network, id), entry.customer);
            }
        }
        Ok(Followed { imported })
    }

    /// Whose consignment `id` is, as seen by `depot`: booked by us (its sync state holds a Qargo
    /// link) or imported for us; `None` when the bridge does not follow it.
    pub async fn whose(&self, bridge: &Bridge, depot: &DepotCode, id: i64) -> Result<Option<Whose>, String> {
        for network in depot.networks() {
            let key = SyncKey { network: *network, nexus_consignment_id: NexusConsignmentId(id) };
            let state = bridge.sync_state.load(&key).await.map_err(|err| err.to_string())?;
            if state.is_some_and(|state| state.qargo.is_some()) {
                return Ok(Some(Whose::Booked { network: *network }));
            }
        }
        Ok(depot.networks().iter().find_map(|network| {
            let customer = self.imported.get(&(*network, id))?;
            Some(Whose::Imported { network: *network, customer: *customer })
        }))
    }
}

/// What the status sync and the POD download start from: the depot user's whole window (today in
/// the UK on the bridge's clock), and what the bridge follows of it.
pub async fn list_followed(
    bridge: &Bridge,
    depot: &DepotCode,
    nexus: &NexusClient,
) -> Result<(Listing, Followed), String> {
    let uk_today = bridge.clock.now().to_zoned(crate::clock::london()).date();
    let listing = list_recent(nexus, None, uk_today, bridge.settings.nexus_list_page_size())
        .await
        .map_err(|err| format!("Nexus: {err}"))?;
    let followed = Followed::load(bridge, depot).await?;
    Ok((listing, followed))
}
