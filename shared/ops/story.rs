//! A consignment's whole story: what the bridge recorded (the dispatch ledger, the sync state, the
//! documents it stored, what the order import remembers) and, when they can be reached, what Nexus
//! and Qargo say now.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use serde::Serialize;
use serde_json::Value;

use super::{ConsignmentRef, Ops, OpsError};
use crate::domain::{ConsignmentStatus, DepotCode, Network};
use crate::jobs::order_import;
use crate::jobs::order_import::state::ImportState;
use crate::nexus::NexusError;
use crate::nexus::wire::Consignment;
use crate::store::{
    ConsignmentSync, DispatchRecord, DispatchState, EtaSent, QargoLink, StoredDocument, SyncDirection, SyncKey,
};
use crate::wiring::Bridge;

/// How many of the latest Nexus events a story shows.
pub const LAST_EVENTS: usize = 8;

/// Everything known about one consignment.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    /// What was asked for, as given.
    pub asked: String,
    /// Qargo's consignment id, when the bridge booked it.
    pub qargo_consignment_id: Option<String>,
    /// The consignment on Nexus, when known.
    pub nexus: Option<NexusKey>,
    /// The dispatch ledger's record (booked by us).
    pub ledger: Option<DispatchRecord>,
    /// The booking's label files, each checked in the document store.
    pub labels: Vec<DocumentCheck>,
    /// The sync state (events applied, statuses set, documents synced, ETA last sent).
    pub sync: Option<SyncSummary>,
    /// What the order import remembers of it (booked for us by another depot), per depot and network.
    pub imports: Vec<ImportEntry>,
    /// Nexus's current state.
    pub on_nexus: Remote<NexusView>,
    /// Qargo's current state.
    pub in_qargo: Remote<QargoView>,
}

/// A consignment on Nexus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NexusKey {
    /// Its network.
    pub network: Network,
    /// Its Nexus `consignmentID`.
    pub consignment_id: i64,
}

impl From<SyncKey> for NexusKey {
    fn from(key: SyncKey) -> NexusKey {
        NexusKey { network: key.network, consignment_id: key.nexus_consignment_id.0 }
    }
}

/// A document the bridge recorded, and whether the document store has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentCheck {
    /// Its key.
    pub key: String,
    /// What the store holds under the key; `None`: missing.
    pub stored: Option<StoredDocument>,
}

/// The sync state, as a person reads it.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    /// Nexus event ids applied in Qargo.
    pub applied_event_ids: Vec<i64>,
    /// Stop statuses set in Qargo, by stop type.
    pub stop_statuses_set: BTreeMap<String, String>,
    /// Nexus events posted for Qargo stop events.
    pub exported: BTreeMap<String, String>,
    /// Documents synced, by SHA-256.
    pub documents: Vec<SyncedDocumentView>,
    /// The last ETA sent to Nexus.
    pub eta_last_sent: Option<EtaSent>,
    /// Until when late PODs are looked for.
    pub pod_check_until: Option<Timestamp>,
    /// Where the consignment is in Qargo (booked by us).
    pub qargo: Option<QargoLink>,
    /// When the record may be forgotten.
    pub forget_after: Option<Timestamp>,
    /// Storage version.
    pub version: u64,
}

/// One synced document.
#[derive(Debug, Clone, Serialize)]
pub struct SyncedDocumentView {
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its kind (`MPOD`, `POD`, `MPODPHOTOE`).
    pub kind: String,
    /// Which way it went.
    pub direction: SyncDirection,
    /// Its key in the document store.
    pub store_key: String,
    /// Whether the document store has it.
    pub stored: bool,
    /// When it was synced.
    pub synced_at: Timestamp,
}

/// What the order import remembers of a consignment on one depot's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportEntry {
    /// Our depot.
    pub depot: String,
    /// The network.
    pub network: String,
    /// `imported`, `cancelled` or `rejected`.
    pub state: String,
    /// When it was seen finished on Nexus.
    pub finished: Option<Date>,
    /// Why it is not in Qargo (rejected).
    pub reason: Option<String>,
    /// Tries so far (rejected).
    pub attempts: Option<u32>,
}

/// A remote system's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Remote<T> {
    /// Not asked: why.
    NotAsked {
        /// Why.
        reason: String,
    },
    /// Asked, and it does not know the consignment (or none of our users may see it).
    NotFound {
        /// What was asked.
        detail: String,
    },
    /// The call failed.
    Failed {
        /// How.
        error: String,
    },
    /// The answer.
    Found(T),
}

impl<T> Remote<T> {
    /// The answer, if there is one.
    pub fn found(&self) -> Option<&T> {
        match self {
            Remote::Found(value) => Some(value),
            _ => None,
        }
    }
}

/// A consignment as Nexus shows it now.
#[derive(Debug, Clone, Serialize)]
pub struct NexusView {
    /// The depot whose user read it.
    pub read_as: String,
    /// Nexus's number of it.
    pub consignment_number: String,
    /// Status code (`BKD` … `DEL`, `CAN`), when known.
    pub status: Option<String>,
    /// Status name.
    pub status_name: String,
    /// Requesting, collecting and delivery depots.
    pub depots: [Option<String>; 3],
    /// Collection date.
    pub collection_date: Option<Date>,
    /// Delivered at (UK time).
    pub delivered_at: Option<DateTime>,
    /// Last change on Nexus (UK time).
    pub last_updated: Option<DateTime>,
    /// Pallets and their latest scan.
    pub pallets: Vec<PalletView>,
    /// How many events it has.
    pub event_count: usize,
    /// The latest events, oldest first.
    pub last_events: Vec<EventView>,
}

/// A pallet on Nexus.
#[derive(Debug, Clone, Serialize)]
pub struct PalletView {
    /// Its barcode.
    pub barcode: String,
    /// Its latest scan code.
    pub last_event_code: Option<String>,
}

/// An event on Nexus.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// Event id.
    pub event_id: i64,
    /// When (UK time).
    pub at: DateTime,
    /// Scan code.
    pub code: String,
    /// Pallet barcode.
    pub barcode: Option<String>,
    /// Scanning depot.
    pub depot: Option<String>,
}

/// An order as Qargo shows it now.
#[derive(Debug, Clone, Serialize)]
pub struct QargoView {
    /// Order id.
    pub order_id: String,
    /// Order name.
    pub name: Option<String>,
    /// The order's status (`PLANNED`, `IN_TRANSIT`, `COMPLETED`, `CANCELLED`, …).
    pub status: Option<String>,
    /// Its stops.
    pub stops: Vec<StopView>,
    /// The Nexus fields on the order (`NexusState`, `NexusConsignmentID`, …).
    pub nexus_fields: BTreeMap<String, Value>,
}

/// A Qargo stop.
#[derive(Debug, Clone, Serialize)]
pub struct StopView {
    /// Stop id.
    pub id: String,
    /// `PICKUP` or `DELIVERY`.
    pub stop_type: String,
    /// Its status.
    pub status: Option<String>,
}

impl QargoView {
    /// The status of the first stop of `stop_type`.
    pub fn stop_status(&self, stop_type: &str) -> Option<&str> {
        self.stops.iter().find(|s| s.stop_type.eq_ignore_ascii_case(stop_type)).and_then(|s| s.status.as_deref())
    }
}

/// Tells the story of `consignment`.
pub async fn tell_story(ops: &Ops, consignment: &ConsignmentRef) -> Result<Story, OpsError> {
    let (ledger, key) = match consignment {
        ConsignmentRef::Qargo(id) => {
            let record = ops.ledger.get(id).await?;
            let key = record
                .as_ref()
                .and_then(|r| r.booking.as_ref())
                .map(|b| SyncKey { network: b.network, nexus_consignment_id: b.nexus_consignment_id });
            if record.is_none() {
                return Err(OpsError::NotFound(format!(
                    "the dispatch ledger has no consignment {id}: the bridge never booked it (an imported one is named NETWORK:ID)"
                )));
            }
            (record, key)
        }
        ConsignmentRef::Nexus(key) => (find_dispatch(ops, *key).await?, Some(*key)),
    };
    let sync = match key {
        Some(key) => ops.sync_state.load(&key).await?,
        None => None,
    };
    let mut labels = Vec::new();
    for label in ledger.iter().filter_map(|r| r.booking.as_ref()).flat_map(|b| b.label_keys.iter()) {
        labels.push(DocumentCheck { key: label.clone(), stored: ops.documents.head(label).await? });
    }
    let sync_summary = match &sync {
        Some(state) => Some(summarise_sync(ops, state).await?),
        None => None,
    };
    let imports = match key {
        Some(key) => import_entries(ops, key).await?,
        None => Vec::new(),
    };
    if ledger.is_none() && sync.is_none() && imports.is_empty() && ops.bridge.is_none() {
        return Err(OpsError::NotFound(format!("the bridge has recorded nothing about {consignment}")));
    }
    let booked_by = ledger.as_ref().and_then(|r| r.booking.as_ref()).and_then(|b| b.depot.clone());
    let on_nexus = match (ops.bridge.as_ref(), key) {
        (None, _) => Remote::NotAsked { reason: ops.offline_reason.clone().unwrap_or_default() },
        (Some(_), None) => Remote::NotAsked { reason: "the dispatch was never booked on Nexus".into() },
        (Some(bridge), Some(key)) => nexus_view(bridge, key, booked_by.as_ref()).await,
    };
    let order_id = sync.as_ref().and_then(|s| s.qargo.as_ref()).and_then(|link| link.order_id.clone());
    let in_qargo = match (ops.bridge.as_ref(), order_id) {
        (None, _) => Remote::NotAsked { reason: ops.offline_reason.clone().unwrap_or_default() },
        (Some(_), None) => Remote::NotAsked {
            reason: match key {
                Some(key) if ledger.is_none() => format!(
                    "an imported order ({}); the bridge reaches its stops by reference and keeps no Qargo order id",
                    crate::qargo::inbound_order::order_identifier(key.network, key.nexus_consignment_id)
                ),
                _ => "the bridge recorded no Qargo order id for it".into(),
            },
        },
        (Some(bridge), Some(order_id)) => qargo_view(bridge, &order_id).await,
    };
    Ok(Story {
        asked: consignment.to_string(),
        qargo_consignment_id: ledger.as_ref().map(|r| r.qargo_consignment_id.to_string()),
        nexus: key.map(NexusKey::from),
        ledger,
        labels,
        sync: sync_summary,
        imports,
        on_nexus,
        in_qargo,
    })
}

/// The dispatch behind a Nexus consignment: through the Qargo link the dispatch records in the sync
/// state, else by looking through the ledger.
pub async fn find_dispatch(ops: &Ops, key: SyncKey) -> Result<Option<DispatchRecord>, OpsError> {
    let linked = ops.sync_state.load(&key).await?.and_then(|s| s.qargo).and_then(|link| link.consignment_id);
    if let Some(id) = linked.and_then(|id| id.parse().ok())
        && let Some(record) = ops.ledger.get(&id).await?
    {
        return Ok(Some(record));
    }
    let booked_as = |record: &DispatchRecord| {
        record
            .booking
            .as_ref()
            .is_some_and(|b| b.network == key.network && b.nexus_consignment_id == key.nexus_consignment_id)
    };
    Ok(ops.records.dispatch_records().await?.into_iter().find(booked_as))
}

async fn summarise_sync(ops: &Ops, state: &ConsignmentSync) -> Result<SyncSummary, OpsError> {
    let mut documents = Vec::new();
    for (sha256, document) in &state.documents {
        documents.push(SyncedDocumentView {
            sha256: sha256.clone(),
            kind: document.kind.to_string(),
            direction: document.direction,
            store_key: document.store_key.clone(),
            stored: ops.documents.head(&document.store_key).await?.is_some(),
            synced_at: document.synced_at,
        });
    }
    Ok(SyncSummary {
        applied_event_ids: state.applied_event_ids.iter().copied().collect(),
        stop_statuses_set: state.stop_statuses_set.clone(),
        exported: state.exported.clone(),
        documents,
        eta_last_sent: state.eta_last_sent.clone(),
        pod_check_until: state.pod_check_until,
        qargo: state.qargo.clone(),
        forget_after: state.forget_after,
        version: state.version,
    })
}

/// What every order-import cursor remembers of `key`.
pub async fn import_entries(ops: &Ops, key: SyncKey) -> Result<Vec<ImportEntry>, OpsError> {
    let mut entries = Vec::new();
    for (storage_key, cursor) in ops.records.cursor_records(order_import::JOB).await? {
        let Some((depot, network)) = cursor_depot_network(&storage_key) else { continue };
        if network != key.network.code() {
            continue;
        }
        let state = ImportState::decode(&cursor.position)
            .map_err(|err| OpsError::Failed(format!("the cursor {storage_key} is unreadable: {err}")))?;
        let id = key.nexus_consignment_id.0;
        if let Some(imported) = state.imported.get(&id) {
            entries.push(ImportEntry {
                depot: depot.clone(),
                network: network.clone(),
                state: if imported.cancelled { "cancelled" } else { "imported" }.into(),
                finished: imported.finished,
                reason: None,
                attempts: None,
            });
        }
        if let Some(rejected) = state.rejected.get(&id) {
            entries.push(ImportEntry {
                depot,
                network,
                state: "rejected".into(),
                finished: None,
                reason: Some(rejected.reason.clone()),
                attempts: Some(rejected.attempts),
            });
        }
    }
    Ok(entries)
}

/// `CURSOR#<job>#<depot>#<network>` → (depot, network).
pub(crate) fn cursor_depot_network(storage_key: &str) -> Option<(String, String)> {
    let mut parts = storage_key.rsplitn(3, '#');
    let network = parts.next()?.to_owned();
    let depot = parts.next()?.to_owned();
    Some((depot, network))
}

/// Reads `key` as the depots in `first`, then as each of our depots on its network, and answers the
/// depot whose user may see it with what it saw. `Ok(None)`: none may (or Nexus does not know it).
pub async fn read_as_ours(
    bridge: &Bridge,
    key: SyncKey,
    first: Option<&DepotCode>,
    include: &[&str],
) -> Result<Option<(DepotCode, Consignment)>, NexusError> {
    let ours = bridge.settings.depots.iter().map(|d| &d.code).filter(|code| code.is_member_of(key.network));
    let mut tried: Vec<&DepotCode> = Vec::new();
    for depot in first.into_iter().chain(ours) {
        if tried.contains(&depot) {
            continue;
        }
        tried.push(depot);
        let Some(nexus) = bridge.nexus.for_depot(depot) else { continue };
        match nexus.consignment(key.nexus_consignment_id, include).await {
            Ok(consignment) => return Ok(Some((depot.clone(), consignment))),
            Err(NexusError::NotFound { .. } | NexusError::Rejected { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// The status of a consignment read from Nexus.
pub fn status_of(consignment: &Consignment) -> Option<ConsignmentStatus> {
    crate::jobs::lookup::consignment_status(consignment)
}

async fn nexus_view(bridge: &Bridge, key: SyncKey, booked_by: Option<&DepotCode>) -> Remote<NexusView> {
    let (depot, consignment) = match read_as_ours(bridge, key, booked_by, &["pallets"]).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Remote::NotFound {
                detail: format!("none of our depots' Nexus users sees {}:{}", key.network, key.nexus_consignment_id),
            };
        }
        Err(err) => return Remote::Failed { error: err.to_string() },
    };
    let events = match bridge.nexus.for_depot(&depot) {
        Some(nexus) => match nexus.events(key.nexus_consignment_id).await {
            Ok(events) => events,
            Err(err) => return Remote::Failed { error: format!("events: {err}") },
        },
        None => Vec::new(),
    };
    let mut events: Vec<EventView> = events
        .into_iter()
        .map(|e| EventView {
            event_id: e.event_id,
            at: e.event_date_time,
            code: e.code,
            barcode: e.barcode,
            depot: e.depot_code,
        })
        .collect();
    events.sort_by_key(|e| (e.at, e.event_id));
    let event_count = events.len();
    let last_events = events.split_off(event_count.saturating_sub(LAST_EVENTS));
    let status = status_of(&consignment);
    Remote::Found(NexusView {
        read_as: depot.to_string(),
        consignment_number: consignment.consignment_number.clone(),
        status: status.map(|s| s.code().to_owned()),
        status_name: status.map_or_else(|| consignment.status.name.clone(), |s| s.name().to_owned()),
        depots: [
            consignment.requesting_depot_code.clone(),
            consignment.collecting_depot_code.clone(),
            consignment.delivery_depot_code.clone(),
        ],
        collection_date: consignment.col_date,
        delivered_at: consignment.del_date_time,
        last_updated: consignment.last_updated,
        pallets: consignment
            .pallets
            .iter()
            .map(|p| PalletView { barcode: p.barcode.clone(), last_event_code: p.last_event_code.clone() })
            .collect(),
        event_count,
        last_events,
    })
}

/// Qargo's order `order_id` with its status and stops.
pub async fn qargo_view(bridge: &Bridge, order_id: &str) -> Remote<QargoView> {
    let order = match bridge.qargo.order_status(order_id).await {
        Ok(order) => order,
        Err(crate::qargo::QargoError::NotFound { .. }) => {
            return Remote::NotFound { detail: format!("Qargo has no order {order_id}") };
        }
        Err(err) => return Remote::Failed { error: err.to_string() },
    };
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let stops = order["stops"]
        .as_array()
        .map(|stops| {
            stops
                .iter()
                .map(|stop| StopView {
                    id: text(&stop["id"]).unwrap_or_default(),
                    stop_type: text(&stop["stop_type"]).unwrap_or_default(),
                    status: text(&stop["status"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let nexus_fields = order["custom_fields"]
        .as_object()
        .map(|fields| {
            fields.iter().filter(|(k, _)| k.starts_with("Nexus")).map(|(k, v)| (k.clone(), v.clone())).collect()
        })
        .unwrap_or_default();
    Remote::Found(QargoView {
        order_id: order_id.to_owned(),
        name: text(&order["name"]),
        status: text(&order["status"]),
        stops,
        nexus_fields,
    })
}

impl Story {
    /// The story as a person reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |label: &str, text: String| {
            let _ = writeln!(out, "{label:<12}{text}");
        };
        let title = match (&self.nexus, &self.qargo_consignment_id) {
            (Some(key), Some(id)) => format!("{}:{} (Qargo consignment {id})", key.network, key.consignment_id),
            (Some(key), None) => format!("{}:{}", key.network, key.consignment_id),
            (None, Some(id)) => format!("Qargo consignment {id}"),
            (None, None) => self.asked.clone(),
        };
        line("Consignment", title);
        match &self.ledger {
            None => line("Ledger", "no dispatch record (not booked through the bridge)".into()),
            Some(record) => {
                line(
                    "Ledger",
                    format!(
                        "{} after {} claim(s), last change {}",
                        state_code(record.state),
                        record.attempt,
                        record.updated_at
                    ),
                );
                if let Some(booking) = &record.booking {
                    let barcodes: Vec<String> = booking.barcodes.iter().map(ToString::to_string).collect();
                    line(
                        "",
                        format!(
                            "booked on {} as {} by {}: {} pallet(s) {}",
                            booking.network.display_name(),
                            booking.consignment_number,
                            booking.depot.as_ref().map_or("?".to_owned(), ToString::to_string),
                            barcodes.len(),
                            barcodes.join(", ")
                        ),
                    );
                }
                if let Some(failure) = &record.failure {
                    line("", format!("failure: {failure}"));
                }
                for label in &self.labels {
                    line("", format!("label {}", describe_document(&label.key, label.stored.as_ref())));
                }
            }
        }
        match &self.sync {
            None => line("Sync state", "none yet".into()),
            Some(sync) => {
                let statuses: Vec<String> = sync.stop_statuses_set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                line(
                    "Sync state",
                    format!(
                        "{} event(s) applied in Qargo; stops set: {}",
                        sync.applied_event_ids.len(),
                        if statuses.is_empty() { "none".into() } else { statuses.join(", ") }
                    ),
                );
                if !sync.exported.is_empty() {
                    let exported: Vec<String> = sync.exported.iter().map(|(k, v)| format!("{k}→{v}")).collect();
                    line("", format!("posted to Nexus: {}", exported.join(", ")));
                }
                for document in &sync.documents {
                    line(
                        "",
                        format!(
                            "document {} {:?} sha256 {} at {} ({}), {}",
                            document.kind,
                            document.direction,
                            document.sha256,
                            document.store_key,
                            if document.stored { "stored" } else { "MISSING from the document store" },
                            document.synced_at
                        ),
                    );
                }
                if let Some(eta) = &sync.eta_last_sent {
                    let time = eta.time.map(|t| format!(" {t}")).unwrap_or_default();
                    line("", format!("ETA last sent: {}{time}, sent {}", eta.date, eta.sent_at));
                }
                if let Some(until) = sync.pod_check_until {
                    line("", format!("late PODs looked for until {until}"));
                }
                if let Some(link) = &sync.qargo {
                    line(
                        "",
                        format!(
                            "in Qargo: order {} ({}), pickup stop {}, delivery stop {}",
                            link.order_id.as_deref().unwrap_or("?"),
                            link.order_name.as_deref().unwrap_or("?"),
                            link.pickup_stop_id.as_deref().unwrap_or("?"),
                            link.delivery_stop_id.as_deref().unwrap_or("?")
                        ),
                    );
                }
            }
        }
        for entry in &self.imports {
            let detail = match (&entry.reason, entry.attempts) {
                (Some(reason), Some(attempts)) => format!(" after {attempts} tries: {reason}"),
                _ => entry.finished.map(|d| format!(", finished {d}")).unwrap_or_default(),
            };
            line("Import", format!("{} {}: {}{detail}", entry.depot, entry.network, entry.state));
        }
        match &self.on_nexus {
            Remote::Found(view) => {
                line(
                    "Nexus",
                    format!(
                        "{} {} ({}), read as {}; requesting {}, collecting {}, delivering {}",
                        view.status.as_deref().unwrap_or("?"),
                        view.status_name,
                        view.consignment_number,
                        view.read_as,
                        view.depots[0].as_deref().unwrap_or("?"),
                        view.depots[1].as_deref().unwrap_or("?"),
                        view.depots[2].as_deref().unwrap_or("?"),
                    ),
                );
                if let Some(at) = view.delivered_at {
                    line("", format!("delivered {at}"));
                }
                let pallets: Vec<String> = view
                    .pallets
                    .iter()
                    .map(|p| format!("{} {}", p.barcode, p.last_event_code.as_deref().unwrap_or("-")))
                    .collect();
                line("", format!("pallets: {}", pallets.join(", ")));
                line("", format!("{} event(s); the latest:", view.event_count));
                for event in &view.last_events {
                    line(
                        "",
                        format!(
                            "  {} {} {} {}",
                            event.at,
                            event.code,
                            event.barcode.as_deref().unwrap_or("-"),
                            event.depot.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
            other => line("Nexus", describe_remote(other)),
        }
        match &self.in_qargo {
            Remote::Found(view) => {
                let stops: Vec<String> = view
                    .stops
                    .iter()
                    .map(|s| format!("{} {}", s.stop_type, s.status.as_deref().unwrap_or("?")))
                    .collect();
                line(
                    "Qargo",
                    format!(
                        "order {} {}; stops: {}",
                        view.name.as_deref().unwrap_or(&view.order_id),
                        view.status.as_deref().unwrap_or("?"),
                        stops.join(", ")
                    ),
                );
                if let Some(state) = view.nexus_fields.get("NexusState") {
                    line("", format!("NexusState {state}"));
                }
            }
            other => line("Qargo", describe_remote(other)),
        }
        out
    }
}

/// The ledger state as stored (`BOOKED`, `LABELLED`, …).
pub fn state_code(state: DispatchState) -> String {
    serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn describe_document(key: &str, stored: Option<&StoredDocument>) -> String {
    match stored {
        Some(doc) => format!("{key} ({}, {} bytes, sha256 {})", doc.content_type, doc.size, doc.sha256),
        None => format!("{key} MISSING from the document store"),
    }
}

fn describe_remote<T>(remote: &Remote<T>) -> String {
    match remote {
        Remote::NotAsked { reason } => format!("not asked: {reason}"),
        Remote::NotFound { detail } => format!("not found: {detail}"),
        Remote::Failed { error } => format!("could not be read: {error}"),
        Remote::Found(_) => "found".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keys_name_depot_and_network() {
        assert_eq!(
            cursor_depot_network("CURSOR#order-import#PGD302#FORTEC"),
            Some(("PGD302".to_owned(), "FORTEC".to_owned()))
        );
    }
}
