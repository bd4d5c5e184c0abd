//! The order import from a date, with progress: after an outage longer than the import's overlap, for
//! a depot newly added to `BRIDGE_DEPOTS`, or when a customer was missing from the map for days.
//!
//! The import's cursors go back to the date (what they remember stays: consignments already in Qargo
//! with an unchanged booking cost no request) and the order import runs, exactly as its schedule runs
//! it, to the end. Progress is measured in consignments listed, from Nexus's own counts: before the
//! run, `X-Total-Count` of the listing from the date; while it runs, each time a depot's cursor moves
//! (every chunk of [`CHUNK`](crate::jobs::order_import::CHUNK) consignments), the count of what is
//! still after the cursor. Nothing of the import itself changes, and the watcher only reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::DateTime;
use serde::Serialize;

use super::progress::{ProgressEvent, ProgressSink};
use super::rerun::{Job, edit_position};
use super::{Ops, OpsError};
use crate::domain::DepotCode;
use crate::jobs::order_import::state::ImportState;
use crate::jobs::order_import::{ImportOptions, ImportReport, Rejection, import_orders};
use crate::nexus::ConsignmentQuery;
use crate::store::CursorKey;
use crate::wiring::Bridge;

/// How often the watcher looks at the cursors.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);

/// What a backfill did.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    /// The date it read from (UK time).
    pub since: DateTime,
    /// Consignments Nexus listed from the date when it began, over all depots (when Nexus counts).
    pub total: Option<u64>,
    /// Orders created in Qargo.
    pub created: u32,
    /// CREATEs Qargo already had (then updated).
    pub duplicates: u32,
    /// Orders updated.
    pub updated: u32,
    /// Orders cancelled.
    pub cancelled: u32,
    /// Consignments seen with nothing new for Qargo.
    pub unchanged: u32,
    /// Consignments listed for our depots.
    pub listed: u32,
    /// Consignments not in Qargo after the run, and why.
    pub rejected: Vec<Rejection>,
    /// Why a depot stopped early, one line each (empty: every depot finished).
    pub stopped: Vec<String>,
    /// The import's own report.
    pub import: ImportReport,
}

impl BackfillReport {
    /// The outcome in one line.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "created {}, duplicates {}, updated {}, cancelled {}, unchanged {}, rejected {}",
            self.created,
            self.duplicates,
            self.updated,
            self.cancelled,
            self.unchanged,
            self.rejected.len()
        );
        if !self.stopped.is_empty() {
            text.push_str(&format!("; stopped early: {}", self.stopped.join("; ")));
        }
        text
    }

    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = format!("Order import since {}: {}\n", self.since, self.summary());
        for rejection in &self.rejected {
            out.push_str(&format!(
                "  not imported: {} (Nexus {}) after {} tries: {}\n",
                rejection.consignment_number, rejection.nexus_consignment_id, rejection.attempts, rejection.reason
            ));
        }
        out
    }
}

/// Runs the order import from `since` (UK time), telling `progress` how far it is every `watch_every`.
pub async fn backfill_imports(
    ops: &Ops,
    since: DateTime,
    progress: Arc<dyn ProgressSink>,
    watch_every: Duration,
) -> Result<BackfillReport, OpsError> {
    let bridge = ops.bridge()?;
    let now = ops.clock.now();
    for depot in &bridge.settings.depots {
        for key in Job::OrderImport.cursor_keys(&depot.code) {
            edit_position(ops.cursors.as_ref(), &key, now, |position| {
                let current = position.get("since").and_then(|v| v.as_str()).and_then(|t| t.parse::<DateTime>().ok());
                let target = current.map_or(since, |current| current.min(since));
                position.insert("since".into(), serde_json::json!(target.to_string()));
            })
            .await?;
        }
    }
    let mut watcher = Watcher::start(bridge).await?;
    let total = watcher.total();
    progress.report(&ProgressEvent::Started { what: format!("order import since {since}"), total });
    progress.report(&ProgressEvent::Advanced { done: 0, total, note: "listing".into() });

    let finished = tokio::sync::Notify::new();
    let import = async {
        let outcome = import_orders(bridge, &ImportOptions::unbounded()).await;
        finished.notify_one();
        outcome
    };
    let watch = async {
        loop {
            tokio::select! {
                () = finished.notified() => break,
                () = tokio::time::sleep(watch_every) => {
                    if let Some((done, note)) = watcher.look(bridge).await {
                        progress.report(&ProgressEvent::Advanced { done, total: watcher.total(), note });
                    }
                }
            }
        }
    };
    let (outcome, ()) = tokio::join!(import, watch);
    let (import, stopped) = match outcome {
        Ok(report) => (report, Vec::new()),
        Err(failed) => (failed.report, failed.reasons),
    };
    if let Some(total) = watcher.total() {
        progress.report(&ProgressEvent::Advanced { done: total, total: Some(total), note: "listing read".into() });
    }
    let report = BackfillReport {
        since,
        total,
        created: import.total(|n| n.created),
        duplicates: import.total(|n| n.duplicates),
        updated: import.total(|n| n.updated),
        cancelled: import.total(|n| n.cancelled),
        unchanged: import.total(|n| n.unchanged),
        listed: import.total(|n| n.listed),
        rejected: import.rejected().cloned().collect(),
        stopped,
        import,
    };
    progress.report(&ProgressEvent::Finished { summary: report.summary() });
    Ok(report)
}

/// Watches the import's cursors and turns them into consignments done.
struct Watcher {
    depots: BTreeMap<DepotCode, DepotWatch>,
}

struct DepotWatch {
    keys: Vec<CursorKey>,
    /// Consignments the depot's listing held when it began; `None` when Nexus does not count.
    total: Option<u64>,
    /// The cursor last seen, and how many were done then.
    seen: Option<DateTime>,
    done: u64,
}

impl Watcher {
    async fn start(bridge: &Bridge) -> Result<Watcher, OpsError> {
        let mut depots = BTreeMap::new();
        for depot in &bridge.settings.depots {
            let keys = Job::OrderImport.cursor_keys(&depot.code);
            let since = cursor_since(bridge, &keys).await;
            let window_start = since.map(|since| since.checked_sub(bridge.settings.poll_overlap).unwrap_or(since));
            let total = match window_start {
                Some(start) => count_after(bridge, &depot.code, start).await,
                None => None,
            };
            depots.insert(depot.code.clone(), DepotWatch { keys, total, seen: since, done: 0 });
        }
        Ok(Watcher { depots })
    }

    fn total(&self) -> Option<u64> {
        self.depots.values().map(|d| d.total).sum()
    }

    /// Reads the cursors; when one moved, how many consignments are done over all depots, and where.
    async fn look(&mut self, bridge: &Bridge) -> Option<(u64, String)> {
        let mut moved = None;
        for (depot, watch) in &mut self.depots {
            let since = cursor_since(bridge, &watch.keys).await;
            if since.is_none() || since == watch.seen {
                continue;
            }
            watch.seen = since;
            let (Some(total), Some(since)) = (watch.total, since) else { continue };
            if let Some(remaining) = count_after(bridge, depot, since).await {
                watch.done = watch.done.max(total.saturating_sub(remaining));
            }
            moved = Some(format!("{depot} read up to {since}"));
        }
        moved.map(|note| (self.depots.values().map(|d| d.done).sum(), note))
    }
}

/// Where the depot's import stands: the earliest of its cursors (they move together).
async fn cursor_since(bridge: &Bridge, keys: &[CursorKey]) -> Option<DateTime> {
    let mut earliest: Option<DateTime> = None;
    for key in keys {
        let cursor = bridge.cursors.read(key).await.ok().flatten()?;
        let since = ImportState::decode(&cursor.position).ok()?.since?;
        earliest = Some(earliest.map_or(since, |e| e.min(since)));
    }
    earliest
}

/// How many consignments the depot's user sees changed at or after `since` (one request, `limit=1`).
async fn count_after(bridge: &Bridge, depot: &DepotCode, since: DateTime) -> Option<u64> {
    let nexus = bridge.nexus.for_depot(depot)?;
    let query = ConsignmentQuery { min_last_updated: Some(since), ..ConsignmentQuery::default() };
    nexus.list_consignments(&query, 1, 0).await.ok()?.total_count
}
