//! What changed on Nexus, and whose it is, with seen names only: the fallback of the order import,
//! the status sync and the POD download for a Nexus without the delta listing (`minLastUpdated`
//! and `lastUpdated`, capability `delta-listing`) or without the network and depot codes in its
//! read model (capability `depot-fields`).
//!
//! - **What**: `GET consignments?minCreatedDate=<UK today − WINDOW_DAYS>` — a seen filter — by the
//!   depot's user, who sees only what it is associated with (§1.5 of the research notes), paged by
//!   the seen `limit`/`offset`. The import lists once per mapped customer (seen `customerID`), which
//!   is how it learns whose customer a consignment is. Every run lists the whole window again.
//! - **Changed**: a [`fingerprint`] of each record as read, kept in the job's own cursor
//!   ([`Fingerprints`]); a record read again unchanged costs nothing more.
//! - **Whose** ([`Followed`](crate::jobs::order_import::Followed), kept beside the import's state it
//!   reads): a consignment whose sync state holds the Qargo link the dispatch
//!   recorded is one we booked (our depot requested it); one in the import's state is one another
//!   depot booked for us, which the bridge takes as delivered by our depot (a seen record does not
//!   say whether our depot collects or delivers it). [`fill`] writes that into the record, so the
//!   jobs decide as they do with the depot fields.
//!
//! **The cost**: each run lists every consignment of the window, `ceil(n / page)` requests per depot
//! (per depot and mapped customer for the import), against one per changed page with the delta
//! listing. **The loss**: a consignment created more than [`WINDOW_DAYS`] ago is no longer seen; a
//! customer missing from `BRIDGE_CUSTOMER_MAP` is not listed at all (so not reported either); an
//! imported consignment's collection address, pallets and service are not in the seen read model
//! (the order is collected at our depot, with the pallet count of its route details).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{DepotCode, Network};
use crate::nexus::capabilities::Capability;
use crate::nexus::client::ConsignmentQuery;
use crate::nexus::wire::{CodeName, Consignment};
use crate::nexus::{NexusClient, NexusError};
use crate::wiring::Bridge;

/// How far back (by creation day) the seen listing reaches.
pub const WINDOW_DAYS: i64 = 14;

/// The most pages one listing reads: past it, the listing stops and says so (a Nexus that ignored
/// `offset` would otherwise answer the same page for ever).
pub const MAX_PAGES: u32 = 500;

/// Whether the jobs must use the seen listing: the delta listing or the depot fields are off.
pub fn in_use(bridge: &Bridge) -> bool {
    let capabilities = &bridge.settings.nexus_capabilities;
    !(capabilities.has(Capability::DeltaListing) && capabilities.has(Capability::DepotFields))
}

/// One listing of the window.
#[derive(Debug, Default)]
pub struct Listing {
    /// The records that could be read.
    pub consignments: Vec<Consignment>,
    /// Nexus requests made.
    pub requests: u32,
    /// Records left out because they could not be read (each logged by the client).
    pub skipped: usize,
}

/// Lists the consignments created from [`WINDOW_DAYS`] before `uk_today` that `nexus`'s user may
/// see, of `customer` when given, page by page until a short page.
pub async fn list_recent(
    nexus: &NexusClient,
    customer: Option<i64>,
    uk_today: Date,
    page_size: u32,
) -> Result<Listing, NexusError> {
    let query = ConsignmentQuery {
        customer_id: customer,
        min_created_date: Some(uk_today.checked_sub(jiff::Span::new().days(WINDOW_DAYS)).unwrap_or(uk_today)),
        ..ConsignmentQuery::default()
    };
    let page_size = page_size.clamp(1, 100);
    let mut listing = Listing::default();
    let mut offset = 0u64;
    let mut previous_ids: Option<Vec<i64>> = None;
    loop {
        if listing.requests >= MAX_PAGES {
            return Err(NexusError::Malformed(format!(
                "list consignments: more than {MAX_PAGES} pages of consignments created in {WINDOW_DAYS} days"
            )));
        }
        let page = nexus.list_consignments(&query, page_size, offset).await?;
        listing.requests += 1;
        listing.skipped += page.skipped;
        let ids: Vec<i64> = page.items.iter().map(|c| c.consignment_id).collect();
        if !ids.is_empty() && previous_ids.as_ref() == Some(&ids) {
            return Err(NexusError::Malformed(format!(
                "list consignments: offset {offset} answered the same page as the one before (this Nexus ignores offset)"
            )));
        }
        offset += page.received as u64;
        let short = (page.received as u32) < page_size;
        listing.consignments.extend(page.items);
        if short {
            return Ok(listing);
        }
        previous_ids = Some(ids);
    }
}

/// A short fingerprint of a record as read: equal fingerprints, nothing changed that the record
/// shows.
pub fn fingerprint(consignment: &Consignment) -> String {
    let digest = Sha256::digest(format!("{consignment:?}").as_bytes());
    hex::encode(&digest[..8])
}

/// What a job last read of each consignment of the window, by network and id: kept in its
/// cursor, pruned to what the latest complete listing showed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints(BTreeMap<String, String>);

impl Fingerprints {
    fn key(network: Option<Network>, id: i64) -> String {
        match network {
            Some(network) => format!("{}:{id}", network.code()),
            None => id.to_string(),
        }
    }

    /// Whether `consignment` reads as it did when [`Fingerprints::remember`] last saw it.
    pub fn unchanged(&self, network: Option<Network>, consignment: &Consignment) -> bool {
        self.0.get(&Self::key(network, consignment.consignment_id)) == Some(&fingerprint(consignment))
    }

    /// Remembers how `consignment` reads now (after it was dealt with).
    pub fn remember(&mut self, network: Option<Network>, consignment: &Consignment) {
        self.0.insert(Self::key(network, consignment.consignment_id), fingerprint(consignment));
    }

    /// Forgets `consignment`, so the next listing deals with it again.
    pub fn forget(&mut self, network: Option<Network>, id: i64) {
        self.0.remove(&Self::key(network, id));
    }

    /// Keeps only the consignments of `listed` (the rest left the window).
    pub fn keep_only(&mut self, listed: &BTreeSet<i64>) {
        self.0.retain(|key, _| {
            let id = key.rsplit(':').next().and_then(|id| id.parse::<i64>().ok());
            id.is_some_and(|id| listed.contains(&id))
        });
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whose a consignment is, from what the bridge itself did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// One of our depots booked it (the dispatch recorded its Qargo link).
    Booked {
        /// Its network.
        network: Network,
    },
    /// Another depot booked it for us and the import brought it into Qargo.
    Imported {
        /// Its network.
        network: Network,
        /// Its Nexus customer, as the import listed it.
        customer: Option<i64>,
    },
}

impl Whose {
    /// The consignment's network.
    pub fn network(&self) -> Network {
        match self {
            Whose::Booked { network } | Whose::Imported { network, .. } => *network,
        }
    }
}

/// Writes what the bridge knows of a consignment into a record that does not say it: the network,
/// and our depot as the one that requested it (booked by us) or delivers it (imported for us), with
/// the customer the import listed. What the record says is kept.
pub fn fill(consignment: &mut Consignment, depot: &DepotCode, whose: &Whose) {
    consignment.network.get_or_insert_with(|| CodeName { code: whose.network().code().to_owned(), name: None });
    match whose {
        Whose::Booked { .. } => {
            consignment.requesting_depot_code.get_or_insert_with(|| depot.as_str().to_owned());
        }
        Whose::Imported { customer, .. } => {
            consignment.delivery_depot_code.get_or_insert_with(|| depot.as_str().to_owned());
            if consignment.customer_id.is_none() {
                consignment.customer_id = *customer;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: i64) -> Consignment {
        serde_json::from_value(serde_json::json!({
            "consignmentID": 41, "consignmentNumber": "OR-1", "status": {"id": status, "name": "Booked"}
        }))
        .unwrap()
    }

    #[test]
    fn a_record_read_again_unchanged_is_known_and_a_change_is_not() {
        let mut seen = Fingerprints::default();
        assert!(!seen.unchanged(Some(Network::Pallex), &record(1)));
        seen.remember(Some(Network::Pallex), &record(1));
        assert!(seen.unchanged(Some(Network::Pallex), &record(1)));
        assert!(!seen.unchanged(Some(Network::Fortec), &record(1)), "another network's consignment 41");
        assert!(!seen.unchanged(Some(Network::Pallex), &record(2)), "the status moved");
        seen.keep_only(&BTreeSet::from([7]));
        assert!(seen.is_empty());
    }

    #[test]
    fn fill_keeps_what_the_record_says() {
        let depot: DepotCode = "PGD302".parse().unwrap();
        let mut booked = record(1);
        fill(&mut booked, &depot, &Whose::Booked { network: Network::Fortec });
        assert_eq!(booked.requesting_depot_code.as_deref(), Some("PGD302"));
        assert_eq!(booked.network.as_ref().map(|n| n.code.as_str()), Some("FORTEC"));
        assert_eq!(booked.delivery_depot_code, None);

        let mut imported = record(1);
        imported.delivery_depot_code = Some("UKD101".into());
        fill(&mut imported, &depot, &Whose::Imported { network: Network::Pallex, customer: Some(52011) });
        assert_eq!(imported.delivery_depot_code.as_deref(), Some("UKD101"));
        assert_eq!(imported.customer_id, Some(52011));
    }
}
