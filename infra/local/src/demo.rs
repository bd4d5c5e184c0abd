//! `bridge-local demo`: a realistic working day across both networks, driven from Qargo's side.
//!
//! [`run_demo`] starts everything as `bridge-local` does (free ports, a fresh data folder) and plays
//! Wednesday 17 June 2026 to Friday evening on the simulators' clock:
//!
//! 1. depot PGD302 dispatches consignments for Project Timber to PALL-EX and Fortec from Qargo (the
//!    Qargo simulator sends the Subcontractor Dispatch webhook to the bridge's HTTP API); one customer
//!    has no Nexus ID and is refused, the others are booked and labelled;
//! 2. other depots book consignments for PGD302 to deliver, the order import brings them into Qargo
//!    and the planner puts them on Thursday's van;
//! 3. our drivers collect at Project Timber (the pickup stops' visibility events become `POC` scans);
//! 4. a dispatch after 12:00 for collection today is refused by the cut-off;
//! 5. the optimiser times the van's stops and Qargo sends the ETAs, which the bridge pushes to Nexus,
//!    then again when it re-optimises on Thursday morning;
//! 6. the clock runs through trunking, the hub and delivery while the status and POD jobs run on the
//!    schedule: scans and stop statuses reach Qargo, one delivery fails and is made on Friday, one
//!    arrives damaged, the other depots' signatures and photos come down into Qargo, and our van's
//!    signatures and photos go up to Nexus.
//!
//! The jobs run directly where the cloud runs them on a schedule (import, status, POD); everything
//! Qargo does reaches the bridge over HTTP, as in production. The run ends with a [`DemoSummary`]:
//! what happened, and a named check for every outcome that was expected.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bridge::config::{Credentials, Secret};
use bridge::jobs::order_import::{ImportOptions, import_orders};
use bridge::jobs::pod_sync::sync_documents;
use bridge::jobs::status_sync::{SyncOptions, sync_statuses};
use bridge::nexus::capabilities::Capability;
use bridge::nexus::{NexusClient, RetryPolicy};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use qargo_sim::{CreatedOrder, EtaInput, EtaStop, OutboundRecord, PhotoInput, SignatureInput, StopAction, TripInput};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{LocalBridge, LocalOptions, Pace, start_with};

/// Where the demo's progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A live status line per stage, rewritten in place (stdout is a terminal).
    Live,
    /// One plain line per stage and event (stdout is a file or a pipe, e.g. CI).
    Plain,
    /// Nothing (tests read the summary).
    Quiet,
}

impl Output {
    /// [`Output::Live`] when stdout is a terminal, else [`Output::Plain`].
    pub fn for_stdout() -> Output {
        if std::io::stdout().is_terminal() { Output::Live } else { Output::Plain }
    }
}

/// What to run the demo with.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The data folder (embedded store, labels, PODs); `None` = a fresh folder under the system's
    /// temporary directory. It must not hold a bridge's storage already.
    pub data_dir: Option<PathBuf>,
    /// Where progress goes.
    pub output: Output,
    /// The Nexus simulator's profile; the bridge runs with that profile's capabilities.
    pub nexus_profile: nexus_sim::Profile,
}

/// A consignment the bridge booked on Nexus for one of our dispatches.
#[derive(Debug, Clone)]
pub struct BookedLine {
    /// The Qargo order (`OR-…`), which is also the Nexus consignment number.
    pub order: String,
    /// `PALLEX` or `FORTEC`.
    pub network: String,
    /// The Nexus consignment id.
    pub nexus_id: i64,
    /// Where it goes.
    pub destination: String,
    /// Pallet barcodes.
    pub pallets: usize,
    /// Label files stored (PDF, plus ZPL for a thermal-label depot).
    pub label_files: usize,
    /// Its Nexus status at the end.
    pub final_status: String,
}

/// A dispatch the bridge refused, with what it told the dispatcher.
#[derive(Debug, Clone)]
pub struct RefusedLine {
    /// The Qargo order.
    pub order: String,
    /// Why the demo sent it (e.g. "after the 12:00 cut-off").
    pub case: String,
    /// The error type of the bridge's answer (`USER_INPUT_ERROR`, …; HTTP 200, as Qargo documents).
    pub error_type: String,
    /// The payload field named by the refusal.
    pub field: String,
    /// The message Qargo shows.
    pub message: String,
}

/// One expected outcome and whether it happened.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was expected, in a few words.
    pub name: String,
    /// Whether it happened.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// What the demo did, and the checks of what it expected.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    /// The data folder: `documents/labels/…`, `documents/pod/…`, `bridge.redb`.
    pub data_dir: PathBuf,
    /// Consignments booked on Nexus from our dispatches.
    pub booked: Vec<BookedLine>,
    /// Dispatches refused, with the reasons.
    pub refused: Vec<RefusedLine>,
    /// Consignments whose labels were stored and attached in Qargo.
    pub labelled: usize,
    /// Orders the order import created in Qargo.
    pub imported: u32,
    /// Of those, the consignments the other depots booked during the demo.
    pub imported_booked_today: usize,
    /// Nexus scans applied to Qargo handling units.
    pub scans_applied: u32,
    /// Qargo stop statuses set from Nexus scans.
    pub stop_statuses: u32,
    /// Exceptions (failed or damaged deliveries, holds) noted on Qargo stops.
    pub exceptions: u32,
    /// Our own stop events sent to Nexus as scans (collections, arrivals, deliveries).
    pub scans_sent: usize,
    /// Documents brought down from Nexus into Qargo (signatures, photos, PODs).
    pub documents_down: u32,
    /// Documents sent up from Qargo to Nexus (our drivers' signatures and photos).
    pub documents_up: usize,
    /// ETAs the optimiser's updates pushed to Nexus.
    pub etas_sent: usize,
    /// Scheduled job runs.
    pub job_runs: u32,
    /// Errors: job runs that stopped, webhooks the bridge did not accept, unexpected answers.
    pub errors: Vec<String>,
    /// Things the jobs reported and will retry (not errors).
    pub notes: Vec<String>,
    /// Every expected outcome.
    pub checks: Vec<Check>,
    /// The simulators' clock at the start and the end.
    pub simulated: (String, String),
    /// Wall time of the whole run.
    pub wall_time: Duration,
}

impl DemoSummary {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The checks that failed.
    pub fn failed_checks(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// The summary table, the checks and the folders, as printed at the end of `bridge-local demo`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let networks = |network: &str| self.booked.iter().filter(|b| b.network == network).count();
        let rows: Vec<(&str, String, String)> = vec![
            (
                "booked on Nexus",
                self.booked.len().to_string(),
                format!("PALL-EX {}, Fortec {}", networks("PALLEX"), networks("FORTEC")),
            ),
            ("refused", self.refused.len().to_string(), "with the reasons below".into()),
            (
                "labelled",
                self.labelled.to_string(),
                format!(
                    "{} label files stored and attached to the Qargo orders",
                    self.booked.iter().map(|b| b.label_files).sum::<usize>()
                ),
            ),
            (
                "imported into Qargo",
                self.imported.to_string(),
                format!("{} booked today by other depots, the rest already on the network", self.imported_booked_today),
            ),
            ("scans applied in Qargo", self.scans_applied.to_string(), "Nexus → Qargo, per pallet barcode".into()),
            (
                "stop statuses set",
                self.stop_statuses.to_string(),
                "AT_STOP / COMPLETED from the network's scans".into(),
            ),
            ("exceptions noted", self.exceptions.to_string(), "failed, damaged or held, on the Qargo stop".into()),
            ("scans sent to Nexus", self.scans_sent.to_string(), "our drivers' collections and deliveries".into()),
            ("documents down", self.documents_down.to_string(), "signatures, photos, PODs: Nexus → Qargo".into()),
            ("documents up", self.documents_up.to_string(), "our van's signatures and photos: Qargo → Nexus".into()),
            ("ETAs sent", self.etas_sent.to_string(), "optimiser → Nexus (Optimize key)".into()),
            ("errors", self.errors.len().to_string(), format!("{} scheduled job runs", self.job_runs)),
        ];
        let _ = writeln!(out, "\n  {:<24} {:>6}  detail", "summary", "count");
        let _ = writeln!(out, "  {}", "─".repeat(92));
        for (name, count, detail) in rows {
            let _ = writeln!(out, "  {name:<24} {count:>6}  {detail}");
        }
        let _ = writeln!(out, "\n  booked");
        for b in &self.booked {
            let _ = writeln!(
                out,
                "    {:<9} {:<7} Nexus {:<6} {} pallet(s) to {:<22} {} label file(s)  now {}",
                b.order, b.network, b.nexus_id, b.pallets, b.destination, b.label_files, b.final_status
            );
        }
        let _ = writeln!(out, "\n  refused");
        for r in &self.refused {
            let _ = writeln!(out, "    {:<9} {} — {}", r.order, r.case, r.error_type);
            let _ = writeln!(out, "              {}", r.message);
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\n  errors");
            for error in &self.errors {
                let _ = writeln!(out, "    {error}");
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\n  reported by the jobs, retried on their next run ({})", self.notes.len());
            for note in self.notes.iter().take(5) {
                let _ = writeln!(out, "    {note}");
            }
        }
        let passed = self.checks.iter().filter(|c| c.passed).count();
        let _ = writeln!(out, "\n  checks: {passed} of {} passed", self.checks.len());
        for check in &self.checks {
            let mark = if check.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(out, "    {mark} {:<44} {}", check.name, check.detail);
        }
        let documents = self.data_dir.join("documents");
        let _ = writeln!(
            out,
            "\n  simulated {} → {}, in {:.1} s",
            self.simulated.0,
            self.simulated.1,
            self.wall_time.as_secs_f64()
        );
        let _ = writeln!(out, "  labels   {}", documents.join("labels").display());
        let _ = writeln!(out, "  PODs     {}", documents.join("pod").display());
        let _ = writeln!(out, "  log      {}", self.data_dir.join(LOG_FILE).display());
        out
    }
}

/// An attachment the bridge uploaded: its file name carries the first 16 hex digits of the file's
/// SHA-256 (`MPOD_<id>_<sha256>.png`); the depots the simulator plays name theirs otherwise.
fn uploaded_by_bridge(attachment: &Value) -> bool {
    let name = attachment["fileName"].as_str().unwrap_or_default();
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let hash = stem.rsplit('_').next().unwrap_or_default();
    attachment["uploadedByDepotCode"] == OUR_DEPOT && hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit())
}

/// The bridge's log file in the data folder (`bridge-local demo` writes its tracing there).
pub const LOG_FILE: &str = "bridge-local.log";

/// The data folder to use: `given`, or a new folder under the system's temporary directory. Refuses
/// a folder that already holds a bridge's storage: the demo's simulators start from the same morning
/// every time, so an old store's cursors would skip the new day.
pub fn prepare_data_dir(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = match given {
        Some(dir) => dir,
        None => {
            let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            std::env::temp_dir().join(format!("nexus-bridge-demo-{}-{}", std::process::id(), stamp.as_millis()))
        }
    };
    if dir.join("bridge.redb").exists() {
        return Err(format!(
            "{} already holds a bridge's storage (bridge.redb); the demo needs a fresh folder: \
             give an empty one with --data-dir, or none",
            dir.display()
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    Ok(dir)
}

// ---- the day's script ------------------------------------------------------------------------------

const LONDON: &str = "Europe/London";
const OUR_DEPOT: &str = "PGD302";
/// Thursday's van: the five inbound deliveries, ETA windows of 30 minutes.
const VAN_ETAS: [&str; 5] = ["10:00", "10:45", "11:30", "12:15", "13:00"];
/// The optimiser's re-plan on Thursday morning moves every stop by this much.
const REOPTIMISE_MINUTES: i64 = 30;

/// A dispatch PGD302 makes from Qargo.
struct Dispatch {
    customer: &'static str,
    resource: &'static str,
    service: &'static str,
    pallets: u32,
    to: (&'static str, &'static str, &'static str, &'static str),
    /// How the network's delivery ends (`None` = delivered).
    outcome: Option<&'static str>,
    /// Why the demo sends it when it is expected to be refused.
    refused: Option<&'static str>,
}

impl Dispatch {
    /// Project Timber's consignment (or `customer`'s), collected at Retford today, delivered.
    const fn to(
        customer: &'static str,
        resource: &'static str,
        service: &'static str,
        pallets: u32,
        to: (&'static str, &'static str, &'static str, &'static str),
    ) -> Dispatch {
        Dispatch { customer, resource, service, pallets, to, outcome: None, refused: None }
    }

    /// The network's delivery ends so (`failed` once, `damaged`).
    const fn ending(mut self, outcome: &'static str) -> Dispatch {
        self.outcome = Some(outcome);
        self
    }

    /// The bridge is expected to refuse it, for this reason.
    const fn refused(mut self, why: &'static str) -> Dispatch {
        self.refused = Some(why);
        self
    }
}

const DERBY: (&str, &str, &str, &str) = ("Derby Builders", "1 Friar Gate", "DE1 1AA", "Derby");

/// The morning's dispatches: three to PALL-EX, two to Fortec, one for a customer without its Nexus ID.
const DISPATCHES: [Dispatch; 6] = [
    Dispatch::to("TIMBER", "PALLEX_OUT", "A", 2, DERBY),
    Dispatch::to("TIMBER", "PALLEX_OUT", "A", 1, ("Southwark Joinery", "10 Bankside", "SE1 9TG", "London"))
        .ending("failed"),
    Dispatch::to("TIMBER", "PALLEX_OUT", "B", 3, ("Leeds Decking", "3 Kirkstall Road", "LS3 1HS", "Leeds")),
    Dispatch::to("TIMBER", "FORTEC_OUT", "A", 2, ("Derwent Garden Centre", "12 Ashbourne Road", "DE22 3FS", "Derby"))
        .ending("damaged"),
    Dispatch::to("TIMBER", "FORTEC_OUT", "A", 1, ("Warrington Fencing", "5 Winwick Road", "WA2 7NE", "Warrington")),
    Dispatch::to("CEDAR", "PALLEX_OUT", "A", 1, DERBY).refused("customer without a Nexus ID"),
];

/// The dispatch after the cut-off (12:30, collection today).
const LATE_DISPATCH: Dispatch =
    Dispatch::to("TIMBER", "FORTEC_OUT", "A", 1, ("Clyde Decking", "20 Argyle Street", "G2 8BW", "Glasgow"))
        .refused("after the 12:00 cut-off");

/// Consignments other depots book for PGD302 to deliver: (user, password, customer, network,
/// delivery postcode, town, pallets).
const INBOUND: [(&str, &str, i64, &str, &str, &str, usize); 5] = [
    ("ukd101.api", "Sim!UKD101", 52011, "PALLEX", "S1 2HE", "Sheffield", 2),
    ("ukd205.api", "Sim!UKD205", 60233, "PALLEX", "NG1 5FS", "Nottingham", 1),
    ("ftd118.api", "Sim!FTD118", 83007, "FORTEC", "LN1 1DF", "Lincoln", 1),
    ("ukd330.api", "Sim!UKD330", 55120, "PALLEX", "HU1 1UU", "Hull", 1),
    ("ftd240.api", "Sim!FTD240", 88410, "FORTEC", "YO1 7HH", "York", 2),
];
/// Who signs for our van's deliveries.
const SIGNERS: [&str; 5] = ["R. Khan", "E. Novak", "T. Murphy", "S. Okafor", "H. Lindqvist"];

fn london() -> TimeZone {
    TimeZone::get(LONDON).unwrap_or(TimeZone::UTC)
}

fn civil(text: &str) -> DateTime {
    text.parse().unwrap_or_else(|err| panic!("the demo's own time '{text}' is invalid: {err}"))
}

/// `2026-06-17T09:50:00+01:00`: what Qargo's scenario actions take.
fn with_offset(at: DateTime) -> String {
    at.to_zoned(london()).map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()).unwrap_or_default()
}

fn short(at: DateTime) -> String {
    at.strftime("%a %d %b %H:%M").to_string()
}

/// A dispatch the bridge booked.
struct Outbound {
    order: CreatedOrder,
    network: String,
    nexus_id: i64,
    barcodes: Vec<String>,
    label_keys: Vec<String>,
    destination: String,
    outcome: Option<&'static str>,
}

/// A consignment another depot booked for us, and its order in Qargo once imported.
struct Inbound {
    network: String,
    nexus_id: i64,
    town: &'static str,
    order_id: Option<Uuid>,
    pickup_stop: Option<Uuid>,
    delivery_stop: Option<Uuid>,
    delivered_by_van: bool,
}

impl Inbound {
    fn identifier(&self) -> String {
        format!("NEXUS-{}-{}", self.network, self.nexus_id)
    }
}

/// The stages' progress: an indicatif bar per stage on a terminal (stage name, bar, live counters,
/// events printed above it), plain lines otherwise, nothing when quiet.
struct Progress {
    output: Output,
    index: usize,
    name: String,
    started: Instant,
    bar: Option<ProgressBar>,
}

const STAGES: usize = 9;

impl Progress {
    fn new(output: Output) -> Progress {
        Progress { output, index: 0, name: String::new(), started: Instant::now(), bar: None }
    }

    fn print(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    fn begin(&mut self, name: &str) {
        self.index += 1;
        self.name = name.to_owned();
        self.started = Instant::now();
        if self.output == Output::Live {
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stdout());
            if let Ok(style) =
                ProgressStyle::with_template("  {spinner:.cyan} {prefix:.bold}\n      {bar:28.cyan/blue} {wide_msg}")
            {
                bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
            }
            bar.set_prefix(format!("[{}/{STAGES}] {name}", self.index));
            bar.enable_steady_tick(Duration::from_millis(80));
            self.bar = Some(bar);
        }
    }

    /// The stage's live counters and how far it is (terminal only).
    fn status(&mut self, text: &str, done: f64) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_owned());
            bar.set_position((done.clamp(0.0, 1.0) * 1000.0) as u64);
        }
    }

    /// A line that stays: an event inside the stage.
    fn line(&mut self, text: &str) {
        match (&self.bar, self.output) {
            (_, Output::Quiet) => {}
            (Some(bar), _) => bar.println(format!("        {text}")),
            (None, _) => self.print(&format!("        {text}")),
        }
    }

    fn finish(&mut self, text: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let index = self.index;
        match self.output {
            Output::Quiet => {}
            Output::Live => {
                self.print(&format!("  \x1b[32m✔\x1b[0m [{index}/{STAGES}] {:<46} {text}  ({seconds:.1} s)", self.name))
            }
            Output::Plain => self.print(&format!("  [{index}/{STAGES}] {:<46} {text}  ({seconds:.1} s)", self.name)),
        }
    }

    /// A line of its own (the header).
    fn say(&mut self, text: &str) {
        if self.output != Output::Quiet {
            self.print(text);
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Totals of the scheduled job runs.
#[derive(Debug, Default)]
struct Totals {
    runs: u32,
    imported: u32,
    scans_applied: u32,
    stop_statuses: u32,
    exceptions: u32,
    documents_down: u32,
}

struct Demo {
    local: LocalBridge,
    nexus: nexus_sim::SimHandle,
    qargo: qargo_sim::SimHandle,
    data_dir: PathBuf,
    progress: Progress,
    totals: Totals,
    outbound: Vec<Outbound>,
    refused: Vec<RefusedLine>,
    inbound: Vec<Inbound>,
    van_trip: Option<Uuid>,
    /// The clock's span of a stage that runs it in several legs (for its progress bar).
    span: Option<(DateTime, DateTime)>,
    /// The consignment whose first delivery fails: its outcome is left to chance once it has.
    failing: Option<i64>,
    errors: Vec<String>,
    notes: Vec<String>,
}

/// Runs the demo day (see the module docs). `Err` only when it cannot start; a day whose outcomes
/// were not all as expected is answered with failed [`DemoSummary::checks`].
pub async fn run_demo(options: DemoOptions) -> Result<DemoSummary, String> {
    let started = Instant::now();
    let data_dir = prepare_data_dir(options.data_dir)?;
    let mut progress = Progress::new(options.output);
    progress.say("nexus-bridge demo: one working day of depot PGD302 on PALL-EX and Fortec, driven from Qargo");
    progress.say(
        "  (simulators' rate limits off for speed: Qargo's 2 requests/s and 5 tokens/hour, Nexus's 100 requests/min)",
    );
    progress.begin("Start the simulators and the bridge");
    let local = start_with(
        LocalOptions {
            listen: "127.0.0.1:0".parse().map_err(|err| format!("{err}"))?,
            data_dir: data_dir.clone(),
            nexus_port: 0,
            qargo_port: 0,
            poll_every: None,
            nexus_profile: options.nexus_profile,
            ..LocalOptions::default()
        },
        Pace::unlimited(),
    )
    .await?;
    let nexus = local.nexus.as_ref().map(|sim| sim.handle().clone()).ok_or("the Nexus simulator did not start")?;
    let qargo = local.qargo.as_ref().map(|sim| sim.handle.clone()).ok_or("the Qargo simulator did not start")?;
    // Outcomes are chosen per consignment below, so the day ends the same way every time.
    nexus.set_delivery_odds(0, 0);
    let simulated_start = short(nexus.now());
    progress.finish(&format!(
        "bridge {}, Nexus {}, Qargo {}",
        local.api_url,
        local.nexus.as_ref().map(|s| s.base_url()).unwrap_or_default(),
        local.qargo.as_ref().map(|s| s.base_url()).unwrap_or_default()
    ));
    let mut demo = Demo {
        local,
        nexus,
        qargo,
        data_dir: data_dir.clone(),
        progress,
        totals: Totals::default(),
        outbound: Vec::new(),
        refused: Vec::new(),
        inbound: Vec::new(),
        van_trip: None,
        span: None,
        failing: None,
        errors: Vec::new(),
        notes: Vec::new(),
    };
    demo.dispatch_morning().await;
    demo.inbound_bookings().await;
    demo.collections().await;
    demo.late_dispatch().await;
    demo.time_van().await;
    demo.night().await;
    demo.delivery_day().await;
    demo.redelivery().await;
    let mut summary = demo.summarise().await;
    summary.simulated.0 = simulated_start;
    summary.wall_time = started.elapsed();
    Ok(summary)
}

impl Demo {
    fn now(&self) -> DateTime {
        self.nexus.now()
    }

    fn set_clock(&mut self, at: DateTime) {
        if at > self.now()
            && let Err(err) = self.nexus.set_now(at)
        {
            self.errors.push(format!("clock: {err}"));
        }
    }

    // ---- Qargo's side --------------------------------------------------------------------------------

    fn order_json(&self, dispatch: &Dispatch, n: usize) -> Value {
        let date = self.now().date().to_string();
        let (name, address, postcode, city) = dispatch.to;
        json!({
            "customer": {"code": dispatch.customer},
            "customer_reference_number": format!("PO-{}", 7780 + n),
            "service_level": {"code": dispatch.service},
            "consignments": [{
                "consignment_reference_number": format!("{}-{}", dispatch.customer, n),
                "transport_network": {"requesting_depot_code": OUR_DEPOT, "collection_depot_code": OUR_DEPOT},
                "pickup_stop": {
                    "location": {"name": "Project Timber Ltd", "address": "Sawmill Lane", "postal_code": "DN22 7SS",
                                 "city": "Retford", "country": "GB"},
                    "date": date, "phone_number": "+441777700100"
                },
                "delivery_stop": {
                    "location": {"name": name, "address": address, "postal_code": postcode, "city": city,
                                 "country": "GB"},
                    "phone_number": "+441332000000",
                    "extras": [{"code": "TL"}]
                },
                "goods": [{"description": "Timber sheets", "quantity": dispatch.pallets,
                           "packaging_type": {"code": "F"}, "unit_length_m": 1.2, "unit_width_m": 1.0,
                           "unit_height_m": 1.2, "unit_weight_kg": 420.0}]
            }],
            "trip": {"resource_code": dispatch.resource}
        })
    }

    /// Creates the order in Qargo on a subcontractor trip and completes its dispatch task: Qargo sends
    /// CREATE to the bridge. Records the booking or the refusal; answers whether it went as expected.
    async fn dispatch(&mut self, dispatch: &Dispatch, n: usize) -> bool {
        let input = match serde_json::from_value(self.order_json(dispatch, n)) {
            Ok(input) => input,
            Err(err) => {
                self.errors.push(format!("dispatch {n}: the demo's order does not parse: {err}"));
                return false;
            }
        };
        let created = match self.qargo.create_order(&input) {
            Ok(created) => created,
            Err(err) => {
                self.errors.push(format!("dispatch {n}: the Qargo simulator refused the order: {err}"));
                return false;
            }
        };
        let Some(trip) = created.trip.as_ref().map(|t| t.trip_id) else {
            self.errors.push(format!("dispatch {n}: the order was not planned on a trip"));
            return false;
        };
        let record = match self.qargo.dispatch_trip(trip, "CREATE").await {
            Ok(record) => record,
            Err(err) => {
                self.errors.push(format!("dispatch {}: not sent: {err}", created.order_name));
                return false;
            }
        };
        let answer = record.response.clone().unwrap_or(Value::Null);
        let network = if dispatch.resource == "PALLEX_OUT" { "PALL-EX" } else { "Fortec" };
        match (dispatch.refused, record.accepted) {
            (None, true) => {
                let booking = &answer["booking"];
                let text = |key: &str| booking[key].as_str().unwrap_or_default().to_owned();
                let list = |key: &str| -> Vec<String> {
                    booking[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                };
                let outbound = Outbound {
                    network: text("network"),
                    nexus_id: booking["nexus_consignment_id"].as_i64().unwrap_or_default(),
                    barcodes: list("pallet_barcodes"),
                    label_keys: list("label_keys"),
                    destination: format!("{} {}", dispatch.to.3, dispatch.to.2),
                    outcome: dispatch.outcome,
                    order: created,
                };
                if let Some(outcome) = dispatch.outcome {
                    if let Err(err) = self.nexus.set_delivery_outcome(outbound.nexus_id as u64, Some(outcome)) {
                        self.errors.push(format!("outcome of {}: {err}", outbound.nexus_id));
                    }
                    if outcome == "failed" {
                        self.failing = Some(outbound.nexus_id);
                    }
                }
                let line = format!(
                    "{} booked on {network}: Nexus {} ({} pallet(s), {} label file(s)) to {}",
                    outbound.order.order_name,
                    outbound.nexus_id,
                    outbound.barcodes.len(),
                    outbound.label_keys.len(),
                    outbound.destination
                );
                self.progress.line(&line);
                self.outbound.push(outbound);
                true
            }
            (Some(case), false) => {
                let error = &answer["errors"][0];
                let refused = RefusedLine {
                    order: created.order_name.clone(),
                    case: case.to_owned(),
                    error_type: error["error_type"].as_str().unwrap_or("-").to_owned(),
                    field: error["field"].as_str().unwrap_or("-").to_owned(),
                    message: error["error_message"].as_str().unwrap_or_default().to_owned(),
                };
                self.progress.line(&format!("{} refused ({case}): {}", refused.order, refused.message));
                self.refused.push(refused);
                true
            }
            (None, false) => {
                self.errors.push(format!(
                    "{} to {network} was not booked: HTTP {:?} {answer}",
                    created.order_name, record.status
                ));
                false
            }
            (Some(case), true) => {
                self.errors.push(format!("{} ({case}) was accepted, but should have been refused", created.order_name));
                false
            }
        }
    }

    /// A driver's stop action, sent by Qargo as a visibility event; counts an unaccepted one as an error.
    fn check_sent(&mut self, what: &str, outcome: Result<qargo_sim::ScenarioOutcome, qargo_sim::ApiError>) -> bool {
        match outcome {
            Ok(outcome) => {
                let refused: Vec<&OutboundRecord> = outcome.outbound.iter().filter(|r| !r.accepted).collect();
                for record in &refused {
                    self.errors.push(format!(
                        "{what}: the bridge answered {:?} {}",
                        record.status,
                        record.response.clone().unwrap_or_default()
                    ));
                }
                refused.is_empty()
            }
            Err(err) => {
                self.errors.push(format!("{what}: {err}"));
                false
            }
        }
    }

    // ---- the scheduled jobs ---------------------------------------------------------------------------

    /// One round of the cloud's schedules: order import, status sync, POD sync.
    async fn run_jobs(&mut self) {
        let bridge = self.local.bridge.clone();
        self.totals.runs += 3;
        match import_orders(&bridge, &ImportOptions::unbounded()).await {
            Ok(report) => {
                self.totals.imported += report.total(|n| n.created);
                for rejection in report.rejected() {
                    self.note(format!("import: {} {}", rejection.consignment_number, rejection.reason));
                }
            }
            Err(failed) => {
                self.totals.imported += failed.report.total(|n| n.created);
                self.errors.push(format!("order import at {}: {failed}", short(self.now())));
            }
        }
        let report = match sync_statuses(&bridge, &SyncOptions::unbounded()).await {
            Ok(report) => report,
            Err(failed) => {
                self.errors.push(format!("status sync at {}: {failed}", short(self.now())));
                failed.report
            }
        };
        self.totals.scans_applied += report.events_applied;
        self.totals.stop_statuses += report.stop_statuses_set;
        self.totals.exceptions += report.exceptions;
        for problem in report.problems {
            self.note(format!("status sync: {problem}"));
        }
        let report = match sync_documents(&bridge, &SyncOptions::unbounded()).await {
            Ok(report) => report,
            Err(failed) => {
                self.errors.push(format!("POD sync at {}: {failed}", short(self.now())));
                failed.report
            }
        };
        self.totals.documents_down += report.sent_to_qargo;
        for problem in report.problems {
            self.note(format!("POD sync: {problem}"));
        }
        // The failed delivery has failed once: the next attempt is left to the (now certain) odds.
        if let Some(id) = self.failing
            && self.nexus.status_of(id as u64) == Some("NDL")
        {
            let _ = self.nexus.set_delivery_outcome(id as u64, None);
            self.failing = None;
            self.progress
                .line(&format!("{}: Nexus {id} not delivered, re-planned for the next working day", short(self.now())));
        }
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Runs the clock to `until` in steps of `step`, the scheduled jobs after each, with a live line.
    async fn run_clock(&mut self, until: DateTime, step: Duration) {
        let (from, to) = self.span.unwrap_or((self.now(), until));
        let span = to.duration_since(from).as_secs_f64().max(1.0);
        while self.now() < until {
            let next = self.now().checked_add(step).unwrap_or(until).min(until);
            self.set_clock(next);
            self.run_jobs().await;
            let done = self.now().duration_since(from).as_secs_f64() / span;
            let line = format!(
                "{}  scans {} · stops {} · exceptions {} · docs ↓{} ↑{} · ETAs {}",
                short(self.now()),
                self.totals.scans_applied,
                self.totals.stop_statuses,
                self.totals.exceptions,
                self.totals.documents_down,
                self.documents_up(),
                self.etas_sent()
            );
            self.progress.status(&line, done);
        }
    }

    // ---- the day ------------------------------------------------------------------------------------

    async fn dispatch_morning(&mut self) {
        self.progress.begin("Wed 09:00  PGD302 dispatches from Qargo");
        for (n, dispatch) in DISPATCHES.iter().enumerate() {
            self.progress.status(&format!("{} of {}", n + 1, DISPATCHES.len()), n as f64 / DISPATCHES.len() as f64);
            self.dispatch(dispatch, n + 1).await;
        }
        let text = format!("{} booked and labelled, {} refused", self.outbound.len(), self.refused.len());
        self.progress.finish(&text);
    }

    async fn inbound_bookings(&mut self) {
        self.progress.begin("Wed 09:30  Other depots book for PGD302");
        self.set_clock(civil("2026-06-17T09:30:00"));
        let base = self.local.nexus.as_ref().map(|s| s.base_url()).unwrap_or_default();
        for (i, (user, password, customer, network, postcode, town, pallets)) in INBOUND.iter().enumerate() {
            self.progress.status(&format!("{user} books for PGD302"), i as f64 / INBOUND.len() as f64);
            let credentials = Credentials { username: (*user).to_owned(), password: Secret::new(*password) };
            let client = NexusClient::new(&base, credentials, RetryPolicy::default());
            let pallet = json!({"palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 110,
                                "weight": 280, "limitedQuantityWeight": 0, "doNotStack": false});
            let number = format!("IN-{}-{}", user[..6].to_uppercase(), 501 + i);
            let body = json!({
                "general": {"consignmentTypeID": 2, "customerID": customer, "consignmentNumber": number,
                            "customerReference": format!("REF-{}", 9100 + i), "limitedQuantities": false},
                "collectionInfo": {"serviceID": 1, "dueDate": "2026-06-17"},
                "deliveryInfo": {"serviceID": 1},
                "deliveryAddress": {"countryID": 233, "name": format!("{town} Trade Counter"), "line1": "1 High Street",
                                    "town": town, "postcode": postcode},
                "pallets": vec![pallet; *pallets]
            });
            let booked = match serde_json::from_value(body) {
                Ok(body) => client.create_consignment(&body).await.map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match booked {
                Ok(consignment) => self.inbound.push(Inbound {
                    network: (*network).to_owned(),
                    nexus_id: consignment.consignment_id,
                    town,
                    order_id: None,
                    pickup_stop: None,
                    delivery_stop: None,
                    delivered_by_van: false,
                }),
                Err(err) => self.errors.push(format!("{user} could not book for PGD302: {err}")),
            }
        }
        self.set_clock(civil("2026-06-17T09:35:00"));
        self.run_jobs().await;
        self.find_imported();
        let found = self.inbound.iter().filter(|i| i.order_id.is_some()).count();
        let line = format!(
            "{} booked for PGD302 by UKD101, UKD205, FTD118, UKD330, FTD240; {found} of them in Qargo",
            self.inbound.len()
        );
        self.progress.line(&line);
        self.plan_van_trip();
        let text = format!("{} orders imported into Qargo", self.totals.imported);
        self.progress.finish(&text);
    }

    /// The planner puts the imported orders on Thursday's van (our own resource, no dispatch).
    fn plan_van_trip(&mut self) {
        let orders: Vec<Uuid> = self.inbound.iter().filter_map(|i| i.order_id).collect();
        let input: Result<TripInput, _> = serde_json::from_value(
            json!({"order_ids": orders, "resource_code": "PGD302-VAN-1", "name": "Retford van 1 (Thursday)"}),
        );
        match input
            .map_err(|err| err.to_string())
            .and_then(|input| self.qargo.create_trip(&input).map_err(|e| e.to_string()))
        {
            Ok(trip) => {
                self.van_trip = Some(trip.trip_id);
                self.progress
                    .line(&format!("the planner puts them on Thursday's van: {} (PGD302-VAN-1)", trip.trip_name));
            }
            Err(err) => self.errors.push(format!("the van could not be planned: {err}")),
        }
    }

    /// Finds the Qargo orders the import made for the consignments booked for us.
    fn find_imported(&mut self) {
        for inbound in &mut self.inbound {
            let Some(detail) = self.qargo.order_by_identifier(&inbound.identifier()) else { continue };
            let stop = |kind: &str| -> Option<Uuid> {
                detail["stops"].as_array()?.iter().find(|s| s["stop_type"] == kind)?["id"].as_str()?.parse().ok()
            };
            inbound.order_id = detail["order"]["id"].as_str().and_then(|id| id.parse().ok());
            inbound.pickup_stop = stop("PICKUP");
            inbound.delivery_stop = stop("DELIVERY");
        }
    }

    async fn collections(&mut self) {
        self.progress.begin("Wed 09:50  Our drivers collect");
        self.set_clock(civil("2026-06-17T09:50:00"));
        let at = StopAction { at: Some(with_offset(self.now())) };
        let stops: Vec<(String, Uuid)> =
            self.outbound.iter().map(|o| (o.order.order_name.clone(), o.order.pickup_stop_id)).collect();
        for (name, stop) in stops {
            self.progress.status(&format!("collecting {name}"), 0.0);
            let arrived = self.qargo.arrive_at_stop(stop, &at).await;
            self.check_sent(&format!("{name} pickup arrival"), arrived);
            let completed = self.qargo.complete_stop(stop, &at).await;
            self.check_sent(&format!("{name} pickup completion"), completed);
        }
        let collected = self.posted_scans("POC");
        self.progress
            .line(&format!("{} collections completed in Qargo → {collected} POC scans on Nexus", self.outbound.len()));
        self.run_clock(civil("2026-06-17T12:30:00"), Duration::from_secs(30 * 60)).await;
        let text = format!("clock at {}, {} scans applied in Qargo", short(self.now()), self.totals.scans_applied);
        self.progress.finish(&text);
    }

    async fn late_dispatch(&mut self) {
        self.progress.begin("Wed 12:30  A late order after the cut-off");
        self.dispatch(&LATE_DISPATCH, DISPATCHES.len() + 1).await;
        let text = format!("{} refused in all", self.refused.len());
        self.progress.finish(&text);
    }

    async fn time_van(&mut self) {
        self.progress.begin("Wed 12:30  Afternoon; the optimiser times ETAs");
        self.run_clock(civil("2026-06-17T16:00:00"), Duration::from_secs(60 * 60)).await;
        let stops: Vec<EtaStop> = self
            .inbound
            .iter()
            .zip(VAN_ETAS)
            .filter_map(|(inbound, time)| {
                let start = civil(&format!("2026-06-18T{time}:00"));
                let end = start.checked_add(jiff::SignedDuration::from_mins(30)).ok()?;
                Some(EtaStop {
                    stop_id: inbound.delivery_stop?,
                    eta_start: with_offset(start),
                    eta_end: Some(with_offset(end)),
                })
            })
            .collect();
        let planned = stops.len();
        self.reoptimise(EtaInput { stops, shift_minutes: None }, "planned").await;
        let text = format!("{planned} stops timed on the van, {} ETAs sent to Nexus", self.etas_sent());
        self.progress.finish(&text);
    }

    async fn reoptimise(&mut self, input: EtaInput, what: &str) {
        let Some(trip) = self.van_trip else { return };
        let before = self.etas_sent();
        let outcome = self.qargo.reoptimise_etas(trip, &input).await;
        self.check_sent(&format!("the optimiser's {what} ETAs"), outcome);
        let sent = self.etas_sent() - before;
        self.progress.line(&format!("{}: optimiser {what} the van's ETAs → {sent} sent to Nexus", short(self.now())));
    }

    async fn night(&mut self) {
        self.progress.begin("Wed 16:00  Trunking and the hub overnight");
        self.run_clock(civil("2026-06-18T07:30:00"), Duration::from_secs(60 * 60)).await;
        let at_depot = self
            .outbound
            .iter()
            .filter(|o| matches!(self.nexus.status_of(o.nexus_id as u64), Some("ADD" | "OFD" | "AHB" | "DHB")))
            .count();
        let text =
            format!("{at_depot} of ours at the hub or the delivery depot; {} scans applied", self.totals.scans_applied);
        self.progress.finish(&text);
    }

    async fn delivery_day(&mut self) {
        self.progress.begin("Thu 07:30  Delivery day");
        self.reoptimise(EtaInput { stops: Vec::new(), shift_minutes: Some(REOPTIMISE_MINUTES) }, "re-optimised").await;
        let end = civil("2026-06-18T20:00:00");
        self.span = Some((self.now(), end));
        // Our van reaches each stop five minutes before its (re-optimised) ETA.
        for (index, time) in VAN_ETAS.iter().enumerate().take(self.inbound.len()) {
            let eta = civil(&format!("2026-06-18T{time}:00"));
            let arrival = eta.checked_add(jiff::SignedDuration::from_mins(REOPTIMISE_MINUTES - 5)).unwrap_or(eta);
            self.run_clock(arrival, Duration::from_secs(30 * 60)).await;
            self.van_delivers(index).await;
        }
        self.run_clock(end, Duration::from_secs(60 * 60)).await;
        self.span = None;
        let delivered = self.outbound.iter().filter(|o| self.is_delivered(o.nexus_id)).count();
        let text = format!(
            "van delivered {} of {}; {delivered} of ours delivered by the network; docs ↓{} ↑{}",
            self.inbound.iter().filter(|i| i.delivered_by_van).count(),
            self.inbound.len(),
            self.totals.documents_down,
            self.documents_up()
        );
        self.progress.finish(&text);
    }

    /// Our van at an inbound consignment's delivery stop: arrival, signature, photo, completion —
    /// each a visibility event Qargo sends to the bridge.
    async fn van_delivers(&mut self, index: usize) {
        let Some(stop) = self.inbound[index].delivery_stop else {
            self.errors.push(format!("{} was never imported: nothing to deliver", self.inbound[index].identifier()));
            return;
        };
        let now = with_offset(self.now());
        let name = format!("{} ({})", self.inbound[index].identifier(), self.inbound[index].town);
        let arrived = self.qargo.arrive_at_stop(stop, &StopAction { at: Some(now.clone()) }).await;
        let mut ok = self.check_sent(&format!("{name} arrival"), arrived);
        let signature = SignatureInput {
            name: SIGNERS[index % SIGNERS.len()].to_owned(),
            at: Some(now.clone()),
            ..SignatureInput::default()
        };
        let signed = self.qargo.capture_signature(stop, &signature).await;
        ok &= self.check_sent(&format!("{name} signature"), signed);
        let photo =
            self.qargo.capture_photo(stop, &PhotoInput { at: Some(now.clone()), ..PhotoInput::default() }).await;
        ok &= self.check_sent(&format!("{name} photo"), photo);
        let completed = self.qargo.complete_stop(stop, &StopAction { at: Some(now) }).await;
        ok &= self.check_sent(&format!("{name} completion"), completed);
        self.inbound[index].delivered_by_van = ok;
        let line = format!(
            "{}: van delivers {name}, signed by {} → Nexus {}",
            short(self.now()),
            SIGNERS[index % SIGNERS.len()],
            self.nexus.status_of(self.inbound[index].nexus_id as u64).unwrap_or("?")
        );
        self.progress.line(&line);
    }

    async fn redelivery(&mut self) {
        self.progress.begin("Fri        Redelivery and late PODs");
        self.run_clock(civil("2026-06-19T21:00:00"), Duration::from_secs(60 * 60)).await;
        let finished = self.outbound.iter().filter(|o| self.is_finished(o.nexus_id)).count();
        let text =
            format!("{finished} of {} of ours finished; docs ↓{}", self.outbound.len(), self.totals.documents_down);
        self.progress.finish(&text);
    }

    // ---- what the simulators hold -----------------------------------------------------------------

    fn consignment(&self, id: i64) -> Value {
        self.nexus.consignment_json(id as u64).unwrap_or(Value::Null)
    }

    fn is_delivered(&self, id: i64) -> bool {
        matches!(self.nexus.status_of(id as u64), Some("DEL"))
    }

    fn is_finished(&self, id: i64) -> bool {
        matches!(self.nexus.status_of(id as u64), Some("DEL" | "DLX"))
    }

    /// Scans PGD302 posted itself (from Qargo's stop events) with `code`, on every consignment.
    fn posted_scans(&self, code: &str) -> usize {
        let ids = self.outbound.iter().map(|o| o.nexus_id).chain(self.inbound.iter().map(|i| i.nexus_id));
        ids.map(|id| {
            let c = self.consignment(id);
            c["events"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .filter(|e| e["source"] == "DEPOT_API" && e["depotCode"] == OUR_DEPOT)
                        .filter(|e| code.is_empty() || e["code"] == code)
                        .count()
                })
                .unwrap_or(0)
        })
        .sum()
    }

    fn etas_sent(&self) -> usize {
        self.inbound
            .iter()
            .map(|i| {
                let c = self.consignment(i.nexus_id);
                c["events"]
                    .as_array()
                    .map(|e| e.iter().filter(|e| e["code"] == "ETA" && e["source"] == "OPTIMIZE").count())
            })
            .map(Option::unwrap_or_default)
            .sum()
    }

    /// Visibility updates of `label` (`Stop`, `Eta`, `Document`) Qargo delivered to the bridge.
    fn visibility_delivered(&self, label: &str) -> usize {
        self.qargo
            .outbound()
            .iter()
            .filter(|r| r.kind == "visibility" && r.accepted && r.label.split(',').any(|l| l.trim() == label))
            .count()
    }

    /// A consignment's attachments on Nexus (the simulator's own view).
    fn nexus_attachments(&self, id: i64) -> Vec<Value> {
        self.consignment(id)["attachments"].as_array().cloned().unwrap_or_default()
    }

    fn documents_up(&self) -> usize {
        self.inbound
            .iter()
            .filter(|i| i.delivered_by_van)
            .map(|i| self.nexus_attachments(i.nexus_id).iter().filter(|a| uploaded_by_bridge(a)).count())
            .sum()
    }

    /// The Qargo documents of an order, by type (labels included).
    fn qargo_documents(&self, order: Uuid) -> BTreeMap<String, usize> {
        let mut kinds = BTreeMap::new();
        if let Some(detail) = self.qargo.order_detail(order) {
            for document in detail["documents"].as_array().into_iter().flatten() {
                *kinds.entry(document["type"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
            }
        }
        kinds
    }

    /// The planner notes on a Qargo stop.
    fn stop_notes(&self, order: Uuid, stop: Uuid) -> Vec<String> {
        let Some(detail) = self.qargo.order_detail(order) else { return Vec::new() };
        let stops = detail["stops"].as_array().cloned().unwrap_or_default();
        let Some(found) = stops.iter().find(|s| s["id"].as_str() == Some(stop.to_string().as_str())) else {
            return Vec::new();
        };
        found["answers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["key"] == "status_note")
            .map(|a| a["value"].to_string())
            .collect()
    }

    fn label_files(&self, outbound: &Outbound) -> usize {
        let root = self.data_dir.join("documents");
        outbound.label_keys.iter().filter(|key| file_with_bytes(&root.join(key))).count()
    }

    // ---- the summary and its checks -------------------------------------------------------------------

    async fn summarise(mut self) -> DemoSummary {
        self.find_imported();
        let mut checks = Vec::new();
        let mut check = |name: &str, passed: bool, detail: String| {
            checks.push(Check { name: name.to_owned(), passed, detail });
        };
        let expected_bookings = DISPATCHES.iter().filter(|d| d.refused.is_none()).count();
        let networks: Vec<&str> = self.outbound.iter().map(|o| o.network.as_str()).collect();
        check(
            "dispatches booked on both networks",
            self.outbound.len() == expected_bookings && networks.contains(&"PALLEX") && networks.contains(&"FORTEC"),
            format!("{} of {expected_bookings} ({})", self.outbound.len(), networks.join(", ")),
        );
        let missing_id = self.refused.iter().find(|r| r.case == DISPATCHES[5].refused.unwrap_or_default());
        check(
            "missing Nexus customer ID refused",
            missing_id.is_some_and(|r| r.error_type == "USER_INPUT_ERROR" && r.field.ends_with("PallexID")),
            missing_id.map(|r| format!("{} {}", r.error_type, r.field)).unwrap_or_else(|| "not refused".into()),
        );
        let late = self.refused.iter().find(|r| r.case == LATE_DISPATCH.refused.unwrap_or_default());
        check(
            "dispatch after the 12:00 cut-off refused",
            late.is_some_and(|r| r.error_type == "USER_INPUT_ERROR" && r.message.contains("12:00")),
            late.map(|r| format!("{} {}", r.error_type, r.field)).unwrap_or_else(|| "not refused".into()),
        );
        let labelled: Vec<&Outbound> = self
            .outbound
            .iter()
            .filter(|o| {
                !o.label_keys.is_empty()
                    && self.label_files(o) == o.label_keys.len()
                    && self.qargo_documents(o.order.order_id).contains_key("PALLET_LABEL_EXTERNAL")
            })
            .collect();
        let labelled_count = labelled.len();
        check(
            "labels stored and attached in Qargo",
            labelled_count == self.outbound.len() && labelled_count > 0,
            format!("{labelled_count} of {} consignments", self.outbound.len()),
        );
        let imported = self.inbound.iter().filter(|i| i.order_id.is_some()).count();
        check(
            "other depots' consignments imported",
            imported == INBOUND.len(),
            format!(
                "{imported} of {} booked for PGD302 today; {} orders imported in all",
                INBOUND.len(),
                self.totals.imported
            ),
        );
        let pallets: usize = self.outbound.iter().map(|o| o.barcodes.len()).sum();
        let pocs = self.posted_scans("POC");
        let capabilities = self.local.bridge.settings.nexus_capabilities.clone();
        if capabilities.has(Capability::EventsWrite) {
            check(
                "our collections sent to Nexus (POC)",
                pocs == pallets && pallets > 0,
                format!("{pocs} POC scans for {pallets} pallets"),
            );
        } else {
            let delivered = self.visibility_delivered("Stop");
            check(
                "our collections not sent: no events route",
                pocs == 0 && delivered > 0,
                format!("{pocs} POC scans for {delivered} stop updates (events-write off: refused and logged)"),
            );
        }
        check(
            "network scans applied in Qargo",
            self.totals.scans_applied > 0 && self.totals.stop_statuses > 0,
            format!("{} scans, {} stop statuses", self.totals.scans_applied, self.totals.stop_statuses),
        );
        let completed_deliveries = self
            .outbound
            .iter()
            .filter(|o| self.qargo.stop_status(o.order.delivery_stop_id).as_deref() == Some("COMPLETED"))
            .count();
        let finished = self.outbound.iter().filter(|o| self.is_finished(o.nexus_id)).count();
        check(
            "our consignments delivered, stops completed",
            finished == self.outbound.len() && completed_deliveries == self.outbound.len(),
            format!("{finished} delivered on Nexus, {completed_deliveries} delivery stops COMPLETED in Qargo"),
        );
        let pickups_done = self
            .inbound
            .iter()
            .filter(|i| i.pickup_stop.and_then(|stop| self.qargo.stop_status(stop)).as_deref() == Some("COMPLETED"))
            .count();
        check(
            "other depots' collections complete pickups",
            pickups_done == INBOUND.len(),
            format!("{pickups_done} of {} inbound pickup stops COMPLETED from Nexus scans", INBOUND.len()),
        );
        // The exception's note on the Qargo delivery stop, and the Nexus status it ends in.
        let exception = |outcome: &str, code: &str, status: &str| -> (bool, String) {
            let Some(o) = self.outbound.iter().find(|o| o.outcome == Some(outcome)) else {
                return (false, format!("no {outcome} consignment"));
            };
            let notes = self.stop_notes(o.order.order_id, o.order.delivery_stop_id);
            let note = notes.iter().find(|n| n.contains(code)).cloned();
            let now = self.nexus.status_of(o.nexus_id as u64).unwrap_or("?");
            let detail = format!("{}: {}; now {now}", o.order.order_name, note.as_deref().unwrap_or("no note"));
            (note.is_some() && now == status, detail)
        };
        let (failed_ok, failed_detail) = exception("failed", "(ND", "DEL");
        check("failed delivery noted, then redelivered", failed_ok, failed_detail);
        let (damaged_ok, damaged_detail) = exception("damaged", "(DELD)", "DLX");
        check("damaged delivery noted", damaged_ok, damaged_detail);
        let with_pod: Vec<String> = self
            .outbound
            .iter()
            .filter(|o| self.is_delivered(o.nexus_id))
            .filter(|o| {
                let kinds = self.qargo_documents(o.order.order_id);
                kinds.contains_key("CONSIGNEE_SIGNATURE") && kinds.contains_key("PHOTO_OF_GOODS_DELIVERY")
            })
            .map(|o| o.order.order_name.clone())
            .collect();
        let delivered = self.outbound.iter().filter(|o| self.is_delivered(o.nexus_id)).count();
        check(
            "signatures and photos down into Qargo",
            with_pod.len() == delivered && delivered > 0 && self.totals.documents_down > 0,
            format!(
                "{} of {delivered} delivered consignments, {} documents",
                with_pod.len(),
                self.totals.documents_down
            ),
        );
        let van: Vec<&Inbound> = self.inbound.iter().filter(|i| i.delivered_by_van).collect();
        let uploaded_ok = van
            .iter()
            .filter(|i| {
                let attachments = self.nexus_attachments(i.nexus_id);
                let ours = |code: &str| {
                    attachments.iter().any(|a| uploaded_by_bridge(a) && a["attachmentType"]["code"] == code)
                };
                ours("MPOD") && ours("MPODPHOTOE") && self.is_delivered(i.nexus_id)
            })
            .count();
        if capabilities.has(Capability::AttachmentUpload) {
            check(
                "our van's signatures and photos up to Nexus",
                uploaded_ok == INBOUND.len(),
                format!("{uploaded_ok} of {} deliveries (MPOD + MPODPHOTOE, status DEL)", INBOUND.len()),
            );
        } else {
            let delivered = self.visibility_delivered("Document");
            check(
                "our van's evidence not sent: no upload route",
                self.documents_up() == 0 && delivered > 0,
                format!(
                    "{} files uploaded for {delivered} document updates (attachment-upload off: refused and logged)",
                    self.documents_up()
                ),
            );
        }
        let etas = self.etas_sent();
        if capabilities.has(Capability::Eta) {
            check(
                "optimiser ETAs pushed to Nexus",
                etas == 2 * INBOUND.len(),
                format!("{etas} ETA events (planned + re-optimised, {} stops)", INBOUND.len()),
            );
        } else {
            let delivered = self.visibility_delivered("Eta");
            check(
                "optimiser ETAs not sent: no ETA route",
                etas == 0 && delivered > 0,
                format!("{etas} ETA events for {delivered} ETA updates (eta off: refused and logged)"),
            );
        }
        let spec = self.qargo.spec_checks();
        check(
            "every message to Qargo passes its spec",
            spec.checked > 0 && spec.invalid == 0 && spec.refused_unknown_keys == 0 && spec.strict == spec.checked,
            format!(
                "{} checked in strict mode, {} invalid, {} with keys the spec does not define",
                spec.strict, spec.invalid, spec.refused_unknown_keys
            ),
        );
        check("no errors", self.errors.is_empty(), format!("{} errors", self.errors.len()));

        let booked = self
            .outbound
            .iter()
            .map(|o| BookedLine {
                order: o.order.order_name.clone(),
                network: o.network.clone(),
                nexus_id: o.nexus_id,
                destination: o.destination.clone(),
                pallets: o.barcodes.len(),
                label_files: self.label_files(o),
                final_status: self.nexus.status_of(o.nexus_id as u64).unwrap_or("?").to_owned(),
            })
            .collect();
        let summary = DemoSummary {
            data_dir: self.data_dir.clone(),
            booked,
            refused: self.refused.clone(),
            labelled: labelled_count,
            imported: self.totals.imported,
            imported_booked_today: imported,
            scans_applied: self.totals.scans_applied,
            stop_statuses: self.totals.stop_statuses,
            exceptions: self.totals.exceptions,
            scans_sent: self.posted_scans(""),
            documents_down: self.totals.documents_down,
            documents_up: self.documents_up(),
            etas_sent: etas,
            job_runs: self.totals.runs,
            errors: self.errors.clone(),
            notes: self.notes.clone(),
            checks,
            simulated: (String::new(), short(self.now())),
            wall_time: Duration::ZERO,
        };
        self.progress.clear();
        summary
    }
}

fn file_with_bytes(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}
