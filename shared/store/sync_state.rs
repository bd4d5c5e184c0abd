//! Sync state per Nexus consignment: which events were applied in Qargo, which documents were
//! synced (by SHA-256), which ETA was last sent. Saved with optimistic versioning so two
//! invocations never both apply the same event.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

use crate::domain::{DepotCode, DocumentKind, Network, NexusConsignmentId};
use crate::error::StoreError;

/// Which consignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncKey {
    /// Its network.
    pub network: Network,
    /// Its Nexus id.
    pub nexus_consignment_id: NexusConsignmentId,
}

impl SyncKey {
    /// The storage key, `CONS#<network>#<nexus id>`.
    pub fn storage_key(&self) -> String {
        format!("CONS#{}#{}", self.network, self.nexus_consignment_id)
    }
}

/// Which way a document travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncDirection {
    /// Nexus → Qargo.
    Download,
    /// Qargo → Nexus.
    Upload,
}

/// A document that has been synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedDocument {
    /// Its kind.
    pub kind: DocumentKind,
    /// Which way it went.
    pub direction: SyncDirection,
    /// Where its bytes are in the document store.
    pub store_key: String,
    /// When it was synced.
    pub synced_at: Timestamp,
}

/// The last ETA sent to Nexus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtaSent {
    /// Estimated delivery date.
    pub date: Date,
    /// Estimated delivery time.
    pub time: Option<Time>,
    /// Window start.
    pub start_window: Option<Time>,
    /// Window end.
    pub end_window: Option<Time>,
    /// When it was sent.
    pub sent_at: Timestamp,
}

/// Where a consignment lives in Qargo, as the bridge recorded it when it booked it (dispatch).
/// Imported consignments need none: their stops carry deterministic references.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QargoLink {
    /// Order UUID.
    pub order_id: Option<String>,
    /// Order name (e.g. `OR-10001`).
    pub order_name: Option<String>,
    /// Consignment UUID.
    pub consignment_id: Option<String>,
    /// Pickup stop UUID.
    pub pickup_stop_id: Option<String>,
    /// Delivery stop UUID.
    pub delivery_stop_id: Option<String>,
}

/// The sync state of one consignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsignmentSync {
    /// Nexus `eventID`s already applied in Qargo.
    #[serde(default)]
    pub applied_event_ids: BTreeSet<i64>,
    /// Documents synced, by SHA-256 of their bytes.
    #[serde(default)]
    pub documents: BTreeMap<String, SyncedDocument>,
    /// The last ETA sent (or, while `eta_pushing_until` is set, being sent).
    #[serde(default)]
    pub eta_last_sent: Option<EtaSent>,
    /// ETA export: Qargo's timestamp of the update that brought `eta_last_sent`, so an older update
    /// delivered late (EventBridge keeps no order) is never sent over a newer one.
    #[serde(default)]
    pub eta_as_of: Option<Timestamp>,
    /// ETA export: set while `eta_last_sent` is being pushed to Nexus, until when the push holds it;
    /// a concurrent update with the same estimate sends nothing, and a crashed push's hold passes.
    #[serde(default)]
    pub eta_pushing_until: Option<Timestamp>,
    /// ETA export: our depot that delivers the consignment, as first read from Nexus, so later ETAs
    /// go straight to it with one request.
    #[serde(default)]
    pub eta_delivery_depot: Option<DepotCode>,
    /// Where the consignment is in Qargo, when known (booked by us).
    #[serde(default)]
    pub qargo: Option<QargoLink>,
    /// Stop statuses the bridge set in Qargo from Nexus scans, by stop type (`PICKUP`, `DELIVERY`)
    /// → status (`AT_STOP`, `COMPLETED`). A Qargo stop update that repeats one is the bridge's own
    /// echo and is never exported back to Nexus.
    #[serde(default)]
    pub stop_statuses_set: BTreeMap<String, String>,
    /// Status sync: the consignment's Nexus `lastUpdated` when all its events were last in Qargo.
    /// A later listing that shows it unchanged (the poll overlap lists each change twice) costs no
    /// events read.
    #[serde(default)]
    pub events_synced_as_of: Option<jiff::civil::DateTime>,
    /// Stop statuses recorded before their update went to Qargo and not yet confirmed, by stop type
    /// → the update as it is sent. A run that dies between recording and Qargo's answer leaves
    /// them here, and the next run sends them again (Qargo setting a status it already has changes
    /// nothing), so a status is never lost; they count as the bridge's own for echo detection.
    #[serde(default)]
    pub stop_statuses_sending: BTreeMap<String, serde_json::Value>,
    /// Set while a dispatch delivery fetches and attaches the booking's labels, so concurrent
    /// deliveries attach them once.
    #[serde(default)]
    pub labels_until: Option<Timestamp>,
    /// Set while a status-sync run sends this consignment's updates, so an overlapping run leaves it
    /// alone; a run that crashed is replaced once it has passed.
    #[serde(default)]
    pub sending_until: Option<Timestamp>,
    /// Nexus events the bridge posted for Qargo stop events, by `<stop type>:<transition>` → the
    /// Nexus code, so each is posted once.
    #[serde(default)]
    pub exported: BTreeMap<String, String>,
    /// Qargo orders confirmed (by reading them from Qargo) to carry this consignment, for orders the
    /// dispatch did not record (imported ones): a visibility update of any other order that names
    /// this consignment is refused.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub linked_orders: BTreeSet<String>,
    /// When the record may be forgotten (set once the consignment is finished and its late-POD
    /// window has passed); DynamoDB's TTL removes it then.
    #[serde(default)]
    pub forget_after: Option<Timestamp>,
    /// POD sync: until when Nexus is asked for this consignment's late documents (its delivery plus
    /// `POD_LATE_WINDOW_HOURS`); `None` until the POD sync has seen it delivered. Past it, the
    /// consignment costs no more requests.
    #[serde(default)]
    pub pod_check_until: Option<Timestamp>,
    /// POD sync: where each synced document came from, `nexus:<attachmentID>` or
    /// `qargo:<document id>` → its SHA-256 (a key of `documents`), so a document seen again is
    /// recognised without fetching its bytes.
    #[serde(default)]
    pub pod_sources: BTreeMap<String, String>,
    /// POD sync: transfers in flight, by source (as in `pod_sources`) → until when the run that
    /// took it holds it; others leave it alone until then, and a crashed run's hold simply passes.
    #[serde(default)]
    pub pod_in_flight: BTreeMap<String, Timestamp>,
    /// Storage version: 0 for a record never saved; compared on save.
    #[serde(default)]
    pub version: u64,
}

/// The sync-state port.
#[async_trait]
pub trait SyncState: Send + Sync {
    /// Reads the state of a consignment (`None` if never saved).
    async fn load(&self, key: &SyncKey) -> Result<Option<ConsignmentSync>, StoreError>;

    /// Saves `state` if the stored version is still `state.version`; the saved record has the
    /// next version. Returns `false` when another writer saved first: reload and re-apply.
    async fn save(&self, key: &SyncKey, state: &ConsignmentSync) -> Result<bool, StoreError>;
}

/// The record a save writes over `current`, or `None` when the versions differ.
pub(crate) fn next_sync(current: Option<&ConsignmentSync>, state: &ConsignmentSync) -> Option<ConsignmentSync> {
    (current.map_or(0, |c| c.version) == state.version)
        .then(|| ConsignmentSync { version: state.version + 1, ..state.clone() })
}
