//! Order import: consignments other depots booked for one of our depots appear in Qargo, once each.
//!
//! For each configured depot, one delta listing (`GET consignments?minLastUpdated=…`, paged by
//! `limit`/`offset` until a short page) returns every consignment the depot's user may see that
//! changed since the cursor: those it delivers, those it collects, and those it requested. The ones
//! one of *our* depots requested are never imported back (they came from Qargo through dispatch);
//! the others, on each network the depot belongs to, become Qargo orders with
//! `order_identifier` = `NEXUS-<network>-<consignmentID>` (see [`crate::qargo::inbound_order`]),
//! sent through one of the two doors below:
//!
//! | on Nexus | in Qargo |
//! |---|---|
//! | new, live | CREATE (a DUPLICATE answer — an earlier run was cut short — is followed by an UPDATE) |
//! | booking changed (new delivery date, address, pallets, …) | UPDATE |
//! | only moved on (scans, ETA, POD) | nothing: the order's fingerprint is unchanged |
//! | cancelled, after import | DELETE (cancel) |
//! | finished or cancelled before we saw it | nothing |
//! | customer not in `BRIDGE_CUSTOMER_MAP`, or refused by Qargo | recorded with the reason, reported, retried on every run; the rest go on |
//!
//! **Cursor rules.** The cursor ([`state`]) advances per chunk of [`CHUNK`] consignments, only after
//! every consignment of the chunk is in Qargo or recorded as rejected; a run cut short (deadline,
//! Lambda timeout, Qargo 429 beyond the client's patience, a crash) loses at most the chunk in
//! hand, which the next run does again — Qargo's de-duplication on `order_identifier` makes that
//! harmless. Each run starts `POLL_OVERLAP_SECONDS` before the cursor, and consignments seen again
//! with the same fingerprint cost nothing, so equal timestamps and clock skew lose nothing. Pages
//! after the first are asked by keyset (`minLastUpdated` = the last `lastUpdated` read, `offset` =
//! how many of that instant were read), so a consignment that changes while we page moves behind
//! us instead of shifting one we have not read out of reach. Two runs at once are told apart by the
//! cursor's compare-and-set: the slower one stops.
//!
//! **Requests.** Nexus: one list request per page until a short page (none for an empty page when
//! `X-Total-Count` shows the last full page was the end), so at most `ceil(changed / page size) + 1`
//! per depot and run, where `changed` is what the listing returns — within the bound per
//! depot *and network*, since one listing serves both networks of a PGD depot; earlier rejections
//! are retried from the stored order, without reading Nexus. Qargo: only for orders to create,
//! update or cancel, through the door below, paced by the client to 2 requests/s.
//!
//! # The two doors
//!
//! | door | auth | requests in the 2/s limit per order | what the answer tells |
//! |---|---|---|---|
//! | `POST /v1/orders/order/upload` | OAuth | 2 (post + at least 1 `GET …/upload/{id}`) | COMPLETED, DUPLICATE, ERROR, SKIPPED |
//! | `POST /v1/webhook` | webhook Basic | 0 (outside the limit) | `OrderImportResponse \| null`: accepted, or `errors` |
//!
//! Qargo's order webhook answers only whether it took the order (`null` or `{errors: null}`) or
//! why not (`errors`, e.g. `USER_INPUT_ERROR`); it carries no upload id, so there is nothing to
//! follow. An accepted order counts as sent: Qargo de-duplicates on `order_identifier`, so a run
//! that sends it again (after a crash) changes nothing, and a CREATE it already had is not told
//! apart from a new one (both count as created). What the webhook door cannot see is a refusal
//! that Qargo's background import decides after answering (it shows in Qargo's import log, not to
//! the bridge); the upload door sees every outcome, at twice the requests inside the tenant's
//! limit (1,000 new orders: 2,000 requests, 16 min 40 s at 2/s, against none for the webhook).
//!
//! **Choice: the webhook door** (`QARGO_ORDER_DOOR=webhook`, the default): no request inside the
//! limit that the other jobs share. `QARGO_ORDER_DOOR=upload` keeps the other door, e.g. for a
//! tenant whose webhook integration is not configured yet, or to see every import's outcome.

mod doors;
mod followed;
mod listing;
pub mod state;

pub use followed::{Followed, list_followed};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::civil::DateTime;
use serde::Serialize;

use self::state::{ImportState, Rejected};
use crate::config::OrderDoor;
use crate::domain::{DepotCode, Network};
use crate::error::StoreError;
use crate::jobs::seen_listing;
use crate::nexus::wire::Consignment;
use crate::nexus::{NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::qargo::inbound_order::{MappingError, customer_by_id, fingerprint};
use crate::qargo::wire::{OrderInput, OrderOperation};
use crate::store::CursorKey;
use crate::wiring::Bridge;

/// The job's name in cursor keys.
pub const JOB: &str = "order-import";

/// Consignments handled between two cursor updates: what a cut-short run may have to redo.
pub const CHUNK: usize = 25;

/// How the run is bounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// When the run must be over (a Lambda's deadline); `None`: no limit.
    pub deadline: Option<Instant>,
    /// Time kept back before the deadline: no new chunk or page is started within it.
    pub reserve: Duration,
}

impl ImportOptions {
    /// No deadline: the run goes on until everything is imported (the local bridge, tests).
    pub fn unbounded() -> ImportOptions {
        ImportOptions::default()
    }

    /// A run that must end `within` from now, keeping 45 s back (a Qargo call may wait up to its
    /// retry budget of 25 s, and a chunk's status reads take several seconds at 2 requests/s).
    pub fn within(within: Duration) -> ImportOptions {
        ImportOptions { deadline: Some(Instant::now() + within), reserve: crate::http::DEADLINE_RESERVE }
    }

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() + self.reserve >= deadline)
    }
}

/// A consignment that is not in Qargo, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Nexus `consignmentID`.
    pub nexus_consignment_id: i64,
    /// Nexus's number of it.
    pub consignment_number: String,
    /// Why, and what to do.
    pub reason: String,
    /// Tries so far (retried on every run).
    pub attempts: u32,
}

/// What one run did for one depot on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkReport {
    /// The network.
    pub network: Network,
    /// Consignments for this depot from other depots that the listing returned (overlap included).
    pub listed: u32,
    /// Orders created in Qargo.
    pub created: u32,
    /// CREATEs Qargo already had (an earlier run was cut short); their content was then updated.
    pub duplicates: u32,
    /// Orders updated because the booking changed on Nexus.
    pub updated: u32,
    /// Orders cancelled because the consignment was cancelled on Nexus.
    pub cancelled: u32,
    /// Seen again with nothing new for Qargo.
    pub unchanged: u32,
    /// Finished (delivered, returned, cancelled) before anything was due in Qargo.
    pub finished: u32,
    /// Earlier rejections tried again without a change on Nexus.
    pub retried: u32,
    /// Consignments not in Qargo after this run, with the reasons (all of them, not only today's).
    pub rejected: Vec<Rejection>,
}

impl NetworkReport {
    fn new(network: Network) -> NetworkReport {
        NetworkReport {
            network,
            listed: 0,
            created: 0,
            duplicates: 0,
            updated: 0,
            cancelled: 0,
            unchanged: 0,
            finished: 0,
            retried: 0,
            rejected: Vec::new(),
        }
    }
}

/// What one run did for one depot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepotReport {
    /// Our depot.
    pub depot: DepotCode,
    /// `minLastUpdated` of the listing (Nexus's UK local time).
    pub window_start: Option<DateTime>,
    /// The cursor after the run.
    pub cursor: Option<DateTime>,
    /// Consignments in the listing that one of our depots requested: never imported back.
    pub own: u32,
    /// Nexus requests the job made (list pages; a login, once an hour, is the client's own).
    pub nexus_requests: u32,
    /// Qargo requests inside the 2 requests/s limit (upload posts, upload status reads).
    pub qargo_api_requests: u32,
    /// Qargo requests outside it (order webhook posts).
    pub qargo_webhook_requests: u32,
    /// Per network.
    pub networks: Vec<NetworkReport>,
    /// Records Nexus sent that could not be read: each logged and left out.
    pub unreadable: u32,
    /// What the run could not look at, and what to do (e.g. a customer to give a network).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why the run ended before the listing's end: a deadline, another run, or a failure.
    pub stopped: Option<String>,
    /// Whether that stop should make the invocation fail (and be retried).
    pub failed: bool,
}

impl DepotReport {
    fn new(depot: &DepotCode) -> DepotReport {
        DepotReport {
            depot: depot.clone(),
            window_start: None,
            cursor: None,
            own: 0,
            nexus_requests: 0,
            qargo_api_requests: 0,
            qargo_webhook_requests: 0,
            networks: depot.networks().iter().map(|n| NetworkReport::new(*n)).collect(),
            unreadable: 0,
            problems: Vec::new(),
            stopped: None,
            failed: false,
        }
    }

    fn network_mut(&mut self, network: Network) -> &mut NetworkReport {
        let index = self.networks.iter().position(|n| n.network == network).expect("a network of the depot");
        &mut self.networks[index]
    }
}

/// What a run did, per depot and network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The Qargo door used.
    pub door: OrderDoor,
    /// Per depot.
    pub depots: Vec<DepotReport>,
}

impl ImportReport {
    /// The report of `depot` on `network`.
    pub fn network(&self, depot: &str, network: Network) -> Option<&NetworkReport> {
        self.depots
            .iter()
            .find(|d| d.depot.as_str().eq_ignore_ascii_case(depot))?
            .networks
            .iter()
            .find(|n| n.network == network)
    }

    /// One depot's report.
    pub fn depot(&self, depot: &str) -> Option<&DepotReport> {
        self.depots.iter().find(|d| d.depot.as_str().eq_ignore_ascii_case(depot))
    }

    /// Sum of a count over every depot and network, e.g. `report.total(|n| n.created)`.
    pub fn total(&self, count: impl Fn(&NetworkReport) -> u32) -> u32 {
        self.depots.iter().flat_map(|d| d.networks.iter()).map(count).sum()
    }

    /// Every consignment not in Qargo after the run.
    pub fn rejected(&self) -> impl Iterator<Item = &Rejection> {
        self.depots.iter().flat_map(|d| d.networks.iter()).flat_map(|n| n.rejected.iter())
    }
}

/// A run that did not finish: what it did, and why it stopped. Worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("order import did not finish: {}", .reasons.join("; "))]
pub struct ImportFailed {
    /// What was done before the failure.
    pub report: ImportReport,
    /// One line per depot that failed.
    pub reasons: Vec<String>,
}

/// Imports, for every configured depot, the consignments other depots booked for it.
///
/// `Ok` when every depot finished, or stopped cleanly (deadline, another run holding the cursor);
/// `Err` when a depot was stopped by a failure worth retrying (Nexus or Qargo unavailable, storage,
/// missing credentials), with the report of what was done.
pub async fn import_orders(bridge: &Bridge, options: &ImportOptions) -> Result<ImportReport, ImportFailed> {
    let ours: BTreeSet<DepotCode> = bridge.settings.depots.iter().map(|d| d.code.clone()).collect();
    let mut report = ImportReport { door: bridge.settings.order_door, depots: Vec::new() };
    for depot in &bridge.settings.depots {
        let depot_report = DepotRun::start(bridge, options, &depot.code, &ours).await;
        tracing::info!(
            depot = %depot_report.depot,
            created = depot_report.networks.iter().map(|n| n.created).sum::<u32>(),
            updated = depot_report.networks.iter().map(|n| n.updated).sum::<u32>(),
            cancelled = depot_report.networks.iter().map(|n| n.cancelled).sum::<u32>(),
            rejected = depot_report.networks.iter().map(|n| n.rejected.len()).sum::<usize>(),
            nexus_requests = depot_report.nexus_requests,
            qargo_api_requests = depot_report.qargo_api_requests,
            stopped = depot_report.stopped.as_deref().unwrap_or("-"),
            "order import of the depot done"
        );
        report.depots.push(depot_report);
    }
    let reasons: Vec<String> = report
        .depots
        .iter()
        .filter(|d| d.failed)
        .map(|d| format!("{}: {}", d.depot, d.stopped.as_deref().unwrap_or("failed")))
        .collect();
    if reasons.is_empty() { Ok(report) } else { Err(ImportFailed { report, reasons }) }
}

/// Why a depot's run stopped early.
#[derive(Debug)]
enum Stop {
    /// Out of time: a clean stop, the next run resumes.
    Deadline,
    /// Another run moved the cursor.
    Superseded(Network),
    Nexus(NexusError),
    Qargo(QargoError),
    Store(StoreError),
    /// Qargo did not finish an import within our patience.
    Unconfirmed(String),
    /// Configuration or stored state that a person must fix.
    Broken(String),
}

impl Stop {
    /// Whether the stop is a failure. Out of time, overtaken, or out of Nexus's request budget
    /// (no 429 storm: the rest waits for the next run) are clean stops.
    fn is_failure(&self) -> bool {
        !matches!(self, Stop::Deadline | Stop::Superseded(_) | Stop::Nexus(NexusError::BudgetSpent { .. }))
    }

    fn describe(&self) -> String {
        match self {
            Stop::Deadline => "stopped before the deadline; the next run resumes from the cursor".into(),
            Stop::Superseded(network) => {
                format!("another run moved the {network} cursor; it carries on from there")
            }
            Stop::Nexus(err) => format!("Nexus: {err}"),
            Stop::Qargo(err) => format!("Qargo: {err}"),
            Stop::Store(err) => format!("storage: {err}"),
            Stop::Unconfirmed(what) => what.clone(),
            Stop::Broken(what) => what.clone(),
        }
    }
}

/// One cursor of the depot, as read, and the state it holds.
#[derive(Debug, Clone)]
struct NetworkCursor {
    key: CursorKey,
    version: Option<u64>,
    state: ImportState,
}

/// One thing to send to Qargo.
#[derive(Debug, Clone)]
struct Work {
    network: Network,
    id: i64,
    number: String,
    operation: OrderOperation,
    customer: Option<i64>,
    /// The full order, customer included, operation not set.
    order: OrderInput,
    fingerprint: String,
    /// The Nexus day of the sighting (for `finished`).
    day: jiff::civil::Date,
}

struct DepotRun<'a> {
    bridge: &'a Bridge,
    options: &'a ImportOptions,
    depot: &'a DepotCode,
    ours: &'a BTreeSet<DepotCode>,
    nexus: Arc<NexusClient>,
    cursors: Vec<NetworkCursor>,
    report: DepotReport,
    /// Consignments handled from the listing this run (not retried again from the state).
    touched: BTreeSet<(Network, i64)>,
    /// With the seen listing: how each consignment in hand read when listed, remembered once it is
    /// dealt with.
    listed_as: BTreeMap<(Network, i64), Consignment>,
}

impl<'a> DepotRun<'a> {
    /// Runs the import of one depot and reports it, however it ended.
    async fn start(
        bridge: &'a Bridge,
        options: &'a ImportOptions,
        depot: &'a DepotCode,
        ours: &'a BTreeSet<DepotCode>,
    ) -> DepotReport {
        let mut report = DepotReport::new(depot);
        let Some(nexus) = bridge.nexus.for_depot(depot) else {
            report.stopped = Some(format!("no Nexus user for depot {depot} in the secrets"));
            report.failed = true;
            return report;
        };
        let mut run = DepotRun {
            bridge,
            options,
            depot,
            ours,
            nexus,
            cursors: Vec::new(),
            report,
            touched: BTreeSet::new(),
            listed_as: BTreeMap::new(),
        };
        if let Err(stop) = run.run().await {
            if stop.is_failure() {
                tracing::warn!(depot = %depot, reason = %stop.describe(), "order import stopped");
            }
            run.report.stopped = Some(stop.describe());
            run.report.failed = stop.is_failure();
        }
        run.report.cursor = run.cursors.iter().filter_map(|c| c.state.since).min();
        for cursor in &run.cursors {
            let rejected = cursor
                .state
                .rejected
                .iter()
                .map(|(id, entry)| Rejection {
                    nexus_consignment_id: *id,
                    consignment_number: entry.number.clone(),
                    reason: entry.reason.clone(),
                    attempts: entry.attempts,
                })
                .collect();
            run.report.network_mut(cursor.key.network).rejected = rejected;
        }
        run.report
    }

    async fn run(&mut self) -> Result<(), Stop> {
        for network in self.depot.networks() {
            let key = CursorKey { job: JOB, depot: self.depot.clone(), network: *network };
            let stored = self.bridge.cursors.read(&key).await.map_err(Stop::Store)?;
            let (version, state) = match stored {
                Some(cursor) => {
                    let state = ImportState::decode(&cursor.position).map_err(|err| {
                        Stop::Broken(format!(
                            "the cursor {} is unreadable ({err}); fix or delete it",
                            key.storage_key()
                        ))
                    })?;
                    (Some(cursor.version), state)
                }
                None => (None, ImportState::default()),
            };
            self.cursors.push(NetworkCursor { key, version, state });
        }

        let settings = &self.bridge.settings;
        let uk_now = self.bridge.clock.now().to_zoned(london()).datetime();
        let first_run = uk_now.checked_sub(settings.import_lookback).unwrap_or(uk_now);
        // Every network's cursor moves with the one listing; the earliest is where to start again.
        let since = if self.cursors.iter().all(|c| c.state.since.is_some()) {
            self.cursors.iter().filter_map(|c| c.state.since).min()
        } else {
            None
        };
        let window_start = match since {
            Some(since) => since.checked_sub(settings.poll_overlap).unwrap_or(since),
            None => first_run,
        };
        self.report.window_start = Some(window_start);

        if seen_listing::in_use(self.bridge) {
            self.import_seen().await?;
            self.retry_rejected().await?;
            // Every consignment of the window is handled as of now: the state's retention goes by it.
            let mut draft = self.draft();
            for cursor in &mut draft {
                cursor.state.since = Some(uk_now);
            }
            return self.checkpoint(draft).await;
        }
        self.import_listing(window_start).await?;
        self.retry_rejected().await?;
        if since.is_none() {
            // Nothing listed on a first run: start the next one where this one looked from.
            let untouched = self.cursors.iter().any(|c| c.state.since.is_none());
            if untouched {
                let mut draft = self.draft();
                for cursor in &mut draft {
                    cursor.state.since.get_or_insert(window_start);
                }
                self.checkpoint(draft).await?;
            }
        }
        Ok(())
    }

    // ---- earlier rejections ----------------------------------------------------------------------

    /// Tries again what was refused before and has not changed on Nexus since.
    async fn retry_rejected(&mut self) -> Result<(), Stop> {
        let mut due: Vec<(Network, i64, Rejected)> = Vec::new();
        for cursor in &self.cursors {
            for (id, entry) in &cursor.state.rejected {
                if entry.order.is_some() && !self.touched.contains(&(cursor.key.network, *id)) {
                    due.push((cursor.key.network, *id, entry.clone()));
                }
            }
        }
        for chunk in due.chunks(CHUNK) {
            if self.options.out_of_time() {
                return Err(Stop::Deadline);
            }
            let mut draft = self.draft();
            let mut works = Vec::new();
            for (network, id, entry) in chunk {
                self.report.network_mut(*network).retried += 1;
                let Some(mut order) = entry.order.clone() else { continue };
                let customer = match entry.customer {
                    Some(customer) => customer_by_id(customer, &self.bridge.settings.customer_map),
                    None => Err(MappingError::NoCustomer { consignment_number: entry.number.clone() }),
                };
                let now = self.bridge.clock.now();
                match customer {
                    Ok(customer) => order.customer = Some(customer),
                    Err(reason) => {
                        let refusal =
                            Rejected { reason: reason.to_string(), last_at: now, order: None, ..entry.clone() };
                        state_of(&mut draft, *network).state.reject(*id, refusal);
                        continue;
                    }
                }
                let known = state_of(&mut draft, *network).state.imported.contains_key(id);
                let operation = match entry.operation {
                    OrderOperation::Delete => OrderOperation::Delete,
                    _ if known => OrderOperation::Update,
                    _ => OrderOperation::Create,
                };
                let fingerprint = fingerprint(&order);
                works.push(Work {
                    network: *network,
                    id: *id,
                    number: entry.number.clone(),
                    operation,
                    customer: entry.customer,
                    order,
                    fingerprint,
                    day: self.uk_today(),
                });
            }
            self.exchange(works, &mut draft).await?;
            self.checkpoint(draft).await?;
        }
        Ok(())
    }

    // ---- the cursors -----------------------------------------------------------------------------

    fn draft(&self) -> Vec<NetworkCursor> {
        self.cursors.clone()
    }

    /// Writes every cursor whose state changed, each with compare-and-set; a lost compare means
    /// another run moved on, and this one stops.
    async fn checkpoint(&mut self, mut draft: Vec<NetworkCursor>) -> Result<(), Stop> {
        let now = self.bridge.clock.now();
        for (index, cursor) in draft.iter_mut().enumerate() {
            if cursor.state == self.cursors[index].state && cursor.version.is_some() {
                continue;
            }
            let (position, dropped) = cursor.state.encode();
            if dropped > 0 {
                tracing::warn!(key = %cursor.key.storage_key(), dropped, "import state too large: rejected orders dropped");
            }
            let won = self
                .bridge
                .cursors
                .compare_and_set(&cursor.key, cursor.version, &position, now)
                .await
                .map_err(Stop::Store)?;
            if !won {
                return Err(Stop::Superseded(cursor.key.network));
            }
            cursor.version = Some(cursor.version.map_or(1, |v| v + 1));
            self.cursors[index] = cursor.clone();
        }
        Ok(())
    }

    fn uk_today(&self) -> jiff::civil::Date {
        self.bridge.clock.now().to_zoned(london()).date()
    }
}

fn state_of(draft: &mut [NetworkCursor], network: Network) -> &mut NetworkCursor {
    draft.iter_mut().find(|cursor| cursor.key.network == network).expect("a cursor per network")
}

fn london() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_leaves_the_reserve() {
        assert!(!ImportOptions::unbounded().out_of_time());
        assert!(ImportOptions::within(Duration::from_secs(10)).out_of_time(), "10 s is inside the 45 s reserve");
        assert!(!ImportOptions::within(Duration::from_secs(600)).out_of_time());
    }
}
