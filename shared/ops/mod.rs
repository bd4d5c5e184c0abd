//! Operations: what a person looking after the bridge runs, through the `bridge-ops` binary
//! (`infra/ops`), against the local bridge's data folder or a deployed stack's table and bucket.
//!
//! | command | what it does | safe to repeat? |
//! |---|---|---|
//! | [`story`](story::tell_story) | one consignment's whole story: ledger, sync state, documents, import state, and Nexus's and Qargo's current state when they can be reached | reads only |
//! | [`rerun labels`](rerun::rerun_labels) | fetches a booked dispatch's labels again, stores them, attaches the PDF to the pickup stop unless Qargo has it, records the dispatch labelled | yes: same keys overwritten, Qargo checked before attaching |
//! | [`rerun status-sync / pod-sync <consignment>`](rerun::rerun_consignment) | puts the consignment on the job's own retry list (of the depot that can read it) and runs the job | yes: events by id, documents by source and SHA-256 are sent once |
//! | [`rerun <job> --since`](rerun::reset_cursor) | moves the job's cursors back to a date (keeping what they remember) and runs the job | yes, within what the bridge remembers (see [`rerun`]) |
//! | [`backfill-imports`](backfill::backfill_imports) | the order import from a date, with progress | yes: fingerprints, then Qargo's `order_identifier` |
//! | [`reconcile`](reconcile::reconcile) | lists consignments whose ledger, Nexus and Qargo disagree, each with the command that fixes it | reads only |
//! | [`dlq list / show / redrive`](dlq::DeadLetters) | the dead-letter queues: counts, messages, and sending them back | `redrive` deletes a message only after it was sent on |
//! | [`nexus-check`](nexus_check::check_nexus) | first contact with a Nexus API: which capabilities it has (from evidence), the shapes it answers in, the `NEXUS_CAPABILITIES` to deploy with | reads only; `--book` books and cancels one test consignment (refused against LIVE) |
//!
//! Everything works on an [`Ops`]: the storage ports (always) and a [`Bridge`] with the Nexus and
//! Qargo clients when settings and secrets are configured, read as the functions read them
//! ([`target::open`]). Without them the commands that only read storage still work, and the others
//! say which setting is missing.

pub mod backfill;
pub mod dlq;
pub mod nexus_check;
pub mod progress;
pub mod reconcile;
pub mod rerun;
pub mod story;
pub mod target;
pub mod tenant;

use std::sync::Arc;

use jiff::civil::DateTime;

use crate::clock::Clock;
use crate::domain::{Network, NexusConsignmentId, QargoConsignmentId};
use crate::error::StoreError;
use crate::store::{Cursors, DispatchLedger, DocumentStore, RecordScan, SyncKey, SyncState};
use crate::wiring::Bridge;

/// What the operations work on: the storage ports, and the bridge when Nexus and Qargo can be called.
#[derive(Clone)]
pub struct Ops {
    /// The dispatch ledger.
    pub ledger: Arc<dyn DispatchLedger>,
    /// Poll cursors.
    pub cursors: Arc<dyn Cursors>,
    /// Per-consignment sync state.
    pub sync_state: Arc<dyn SyncState>,
    /// Whole-table reads of the same store.
    pub records: Arc<dyn RecordScan>,
    /// Labels and POD files.
    pub documents: Arc<dyn DocumentStore>,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// Settings, secrets and both clients; `None` when they are not configured.
    pub bridge: Option<Bridge>,
    /// Why there is no bridge (the setting to set), when there is none.
    pub offline_reason: Option<String>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("online", &self.bridge.is_some()).finish_non_exhaustive()
    }
}

impl Ops {
    /// Operations over `bridge`, whose ledger, cursors and sync state live in `records`' store.
    pub fn online(bridge: Bridge, records: Arc<dyn RecordScan>) -> Ops {
        Ops {
            ledger: bridge.ledger.clone(),
            cursors: bridge.cursors.clone(),
            sync_state: bridge.sync_state.clone(),
            records,
            documents: bridge.documents.clone(),
            clock: bridge.clock.clone(),
            bridge: Some(bridge),
            offline_reason: None,
        }
    }

    /// Operations over storage alone; `reason` says why Nexus and Qargo cannot be called.
    pub fn offline<S>(store: Arc<S>, documents: Arc<dyn DocumentStore>, clock: Arc<dyn Clock>, reason: &str) -> Ops
    where
        S: DispatchLedger + Cursors + SyncState + RecordScan + 'static,
    {
        Ops {
            ledger: store.clone(),
            cursors: store.clone(),
            sync_state: store.clone(),
            records: store,
            documents,
            clock,
            bridge: None,
            offline_reason: Some(reason.to_owned()),
        }
    }

    /// The bridge, or an error that says what to configure.
    pub fn bridge(&self) -> Result<&Bridge, OpsError> {
        self.bridge.as_ref().ok_or_else(|| OpsError::Offline {
            reason: self.offline_reason.clone().unwrap_or_else(|| "no settings".into()),
        })
    }
}

/// Why an operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The operation needs Nexus or Qargo, and the settings or secrets to reach them are missing.
    #[error("this needs Nexus and Qargo, but {reason}")]
    Offline {
        /// What is missing, and how to set it.
        reason: String,
    },
    /// What was asked for is not there.
    #[error("{0}")]
    NotFound(String),
    /// The request does not make sense as given.
    #[error("{0}")]
    Invalid(String),
    /// Nexus, Qargo, AWS or a job failed.
    #[error("{0}")]
    Failed(String),
}

/// How a person names a consignment: Qargo's consignment id (the dispatch ledger's key) or
/// `<NETWORK>:<Nexus consignment id>`, e.g. `PALLEX:10001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsignmentRef {
    /// A Qargo consignment id.
    Qargo(QargoConsignmentId),
    /// A consignment on Nexus.
    Nexus(SyncKey),
}

impl std::str::FromStr for ConsignmentRef {
    type Err = OpsError;

    fn from_str(raw: &str) -> Result<ConsignmentRef, OpsError> {
        let raw = raw.trim();
        if let Some((network, id)) = raw.split_once(':')
            && let Ok(network) = network.parse::<Network>()
        {
            let id = id.parse::<NexusConsignmentId>().map_err(|err| OpsError::Invalid(err.to_string()))?;
            return Ok(ConsignmentRef::Nexus(SyncKey { network, nexus_consignment_id: id }));
        }
        raw.parse::<QargoConsignmentId>()
            .map(ConsignmentRef::Qargo)
            .map_err(|err| OpsError::Invalid(format!("{err}; or name it on Nexus as NETWORK:ID, e.g. PALLEX:10001")))
    }
}

impl std::fmt::Display for ConsignmentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsignmentRef::Qargo(id) => write!(f, "{id}"),
            ConsignmentRef::Nexus(key) => write!(f, "{}:{}", key.network, key.nexus_consignment_id),
        }
    }
}

/// Reads a date given on the command line as UK local time: `2026-06-10` (midnight) or
/// `2026-06-10T08:30`.
pub fn parse_uk_time(raw: &str) -> Result<DateTime, OpsError> {
    let raw = raw.trim();
    raw.parse::<DateTime>()
        .or_else(|_| raw.parse::<jiff::civil::Date>().map(|date| date.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|_| {
            OpsError::Invalid(format!("{raw:?} is not a date: write 2026-06-10 or 2026-06-10T08:30 (UK time)"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consignments_are_named_by_qargo_id_or_network_and_nexus_id() {
        let nexus: ConsignmentRef = "pallex:10001".parse().unwrap();
        assert_eq!(
            nexus,
            ConsignmentRef::Nexus(SyncKey {
                network: Network::Pallex,
                nexus_consignment_id: NexusConsignmentId(10001)
            })
        );
        assert_eq!(nexus.to_string(), "PALLEX:10001");
        let qargo: ConsignmentRef = "3f2c1e9a-0000-4000-8000-000000000001".parse().unwrap();
        assert!(matches!(qargo, ConsignmentRef::Qargo(_)));
        assert!("FORTEC:abc".parse::<ConsignmentRef>().is_err());
        assert!("".parse::<ConsignmentRef>().is_err());
    }

    #[test]
    fn dates_are_uk_days_or_times() {
        assert_eq!(parse_uk_time("2026-06-10").unwrap().to_string(), "2026-06-10T00:00:00");
        assert_eq!(parse_uk_time("2026-06-10T08:30").unwrap().to_string(), "2026-06-10T08:30:00");
        assert!(parse_uk_time("last tuesday").is_err());
    }
}
