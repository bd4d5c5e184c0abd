//! The lifecycle of nexus-api.md §3.8, driven by the simulator's clock.
//!
//! Every pallet moves through the scans of §3.5 (`POC`, `ARRC`, `SCOT`, `ARRH`, `DEPH`, `ARRD`,
//! [`HIND`, `BKIN`,] `SCDV`, `ARRI`, then `MPOD` / `DELD` / `DELS` / `ND**`); the consignment status
//! is rolled up from the least advanced pallet. When the clock advances, [`advance_to`] replays every
//! scan that falls due, in time order across all consignments, each at its own planned time. The
//! times are invented but plausible, and derived from the world seed, the consignment id and the
//! delivery attempt, so a run is deterministic:
//!
//! | scan | when (UK local time) |
//! |---|---|
//! | `POC` | collection day 10:00–15:00 (never sooner than 30 min after booking) |
//! | `ARRC` | 1–3 h after the planned `POC` |
//! | `SCOT` | collection day 19:00–21:00 |
//! | `ARRH` | collection day 22:30–24:00 |
//! | `DEPH` | delivery day 02:00–03:30 (so Economy waits an extra night at the hub) |
//! | `ARRD` | delivery day 04:30–06:30 |
//! | `HIND` | 20–40 min after `ARRD`, book-in (`BI`) consignments only |
//! | `BKIN` | delivery day 09:30–11:30, with the slot in `notes` |
//! | `SCDV` | 06:45–08:30; for `TD` / `BI` windows about 2½ h before arrival |
//! | `ARRI` | `AM` 08:00–11:00, `TD` inside the window, `BI` 13:00–15:00, otherwise 09:15–15:30; an Optimize ETA (`estimatedDelTime`) overrides |
//! | outcome | 8–25 min after `ARRI` |
//! | late `POD` | 2–20 h after delivery, for `PP` (paper POD) consignments and a seeded share of others |
//!
//! Pallets of one consignment are scanned 15 s apart. Invented rules beyond §3.8: a seeded 10 % of
//! attempts fail with one of `NDPC`/`NDRE`/`NDOT`/`NDOE` (status `NDL`), re-planned for the next working
//! day (new `estimatedDelDate`, the ETA time cleared); 3 % end `DELD`/`DELS` (`DLX`); after the third
//! failed attempt the pallets are returned (`RTNS`, status `RTN`). A successful delivery by the
//! driver adds an `MPOD` signature (PNG, `signedBy`) and one or two `MPODPHOTOE` photos (JPEG) from the
//! delivery depot, as its handheld would. Scans a depot posted itself are never repeated, because the
//! driver always plans a pallet's *next* scan from where the pallet is; depots listed as manual get no
//! driver scans on their legs at all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use jiff::civil::Time;
use jiff::{SignedDuration, Timestamp};

use crate::calendar;
use crate::clock;
use crate::evidence;
use crate::problem::ApiError;
use crate::random::{hash_of, tag};
use crate::reference::{self, Leg, ScanDef, StatusDef};
use crate::world::{Attachment, Consignment, Event, Outcome, Source, World};

/// One thing the driver will do next to a consignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Scan { pallet: usize, code: &'static str },
    LatePod,
}

/// Runs the world forward to `target`, applying every scan that falls due on the way; returns how
/// many actions it applied.
pub(crate) fn advance_to(world: &mut World, target: Timestamp) -> usize {
    let target = clock::whole_seconds(target);
    if target <= world.now {
        return 0;
    }
    let mut queue = BinaryHeap::new();
    for consignment in world.consignments.values() {
        if let Some((due, _)) = next_action(world, consignment) {
            queue.push(Reverse((due.max(world.now), consignment.id)));
        }
    }
    let mut applied = 0;
    while let Some(Reverse((due, id))) = queue.pop() {
        if due > target {
            break;
        }
        let Some((planned, action)) = world.consignments.get(&id).and_then(|c| next_action(world, c)) else {
            continue;
        };
        let at = planned.max(world.now);
        if at != due {
            queue.push(Reverse((at, id)));
            continue;
        }
        world.now = at;
        apply(world, id, action);
        applied += 1;
        if let Some((next, _)) = world.consignments.get(&id).and_then(|c| next_action(world, c)) {
            queue.push(Reverse((next.max(world.now), id)));
        }
    }
    world.now = target;
    applied
}

fn next_action(world: &World, consignment: &Consignment) -> Option<(Timestamp, Action)> {
    if consignment.cancelled {
        return None;
    }
    let mut best: Option<(Timestamp, Action)> = None;
    for index in 0..consignment.pallets.len() {
        let Some(code) = successor(world, consignment, index, None) else { continue };
        if is_manual_leg(world, consignment, code) {
            continue;
        }
        let due = due_time(world, consignment, index, code);
        if best.is_none_or(|(t, _)| due < t) {
            best = Some((due, Action::Scan { pallet: index, code }));
        }
    }
    if let Some(due) = consignment.late_pod_due
        && best.is_none_or(|(t, _)| due < t)
    {
        best = Some((due, Action::LatePod));
    }
    best
}

/// The scan a pallet gets next. `target` is set when stepping by hand and bends the path towards
/// that status (e.g. a forced outcome).
fn successor(world: &World, c: &Consignment, index: usize, target: Option<&str>) -> Option<&'static str> {
    let pallet = &c.pallets[index];
    let stage = pallet.stage;
    let next = match stage {
        None => "POC",
        Some("POC") => "ARRC",
        Some("ARRC") => "SCOT",
        Some("SCOT") => "ARRH",
        Some("ARRH") => "DEPH",
        Some("DEPH") => "ARRD",
        Some("ARRD") if target == Some("HLD") || (c.time_window == Some("BI") && target != Some("ADD")) => "HIND",
        Some("ARRD") => "SCDV",
        Some("HIND") => "BKIN",
        Some("BKIN") => "SCDV",
        Some("SCDV") => "ARRI",
        Some("ARRI") => {
            let outcome = match target {
                Some("DEL") => Outcome::Delivered,
                Some("DLX") => Outcome::Damaged,
                Some("NDL") | Some("RTN") => Outcome::Failed,
                _ => natural_outcome(world, c, pallet.attempt),
            };
            outcome_code(world, c, pallet.attempt, outcome)
        }
        Some(code) if reference::is_not_delivered(code) => match target {
            Some("RTN") => "RTNS",
            Some("DEL") | Some("DLX") | Some("OFD") => "SCDV",
            _ if c.attempt <= pallet.attempt => return None,
            _ if c.attempt >= world.driver.max_delivery_attempts => "RTNS",
            _ => "SCDV",
        },
        Some(_) => return None,
    };
    Some(next)
}

fn natural_outcome(world: &World, c: &Consignment, attempt: u32) -> Outcome {
    if let Some(outcome) = c.outcome_override {
        return outcome;
    }
    let roll = hash_of(&[world.seed, c.id, tag("outcome"), u64::from(attempt)]) % 100;
    let failed = world.driver.failed_delivery_percent;
    if roll < failed {
        Outcome::Failed
    } else if roll < failed + world.driver.exception_percent {
        if roll.is_multiple_of(2) { Outcome::Damaged } else { Outcome::Short }
    } else {
        Outcome::Delivered
    }
}

fn outcome_code(world: &World, c: &Consignment, attempt: u32, outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered => "MPOD",
        Outcome::Damaged => "DELD",
        Outcome::Short => "DELS",
        Outcome::Failed => {
            let pick = hash_of(&[world.seed, c.id, tag("failure"), u64::from(attempt)]);
            reference::DRIVER_FAILURE_CODES[(pick % reference::DRIVER_FAILURE_CODES.len() as u64) as usize]
        }
    }
}

fn is_manual_leg(world: &World, c: &Consignment, code: &str) -> bool {
    match reference::scan_def(code).map(|s| s.leg) {
        Some(Leg::Collection) => world.driver.manual_depots.contains(&c.collecting_depot),
        Some(Leg::Delivery) => world.driver.manual_depots.contains(&c.delivery_depot),
        _ => false,
    }
}

fn minutes_of(time: Time) -> i64 {
    i64::from(time.hour()) * 60 + i64::from(time.minute())
}

/// When the driver plans to make `code` happen to pallet `index` (see the table in the module docs).
fn due_time(world: &World, c: &Consignment, index: usize, code: &str) -> Timestamp {
    let jitter = |what: &str, range: i64| -> i64 {
        let range = range.max(1) as u64;
        (hash_of(&[world.seed, c.id, tag(what), u64::from(c.attempt)]) % range) as i64
    };
    let collection_day = c.planned_collection_date;
    let delivery_day = c.estimated_del_date;
    let poc = 600 + jitter("POC", 300);
    let arrival = match (c.estimated_del_time, c.time_window, c.start_window, c.end_window) {
        (Some(eta), _, _, _) => minutes_of(eta),
        (None, Some("AM"), _, _) => 480 + jitter("ARRI", 180),
        (None, Some("TD"), Some(start), Some(end)) => {
            minutes_of(start) + jitter("ARRI", minutes_of(end) - minutes_of(start) - 30)
        }
        (None, Some("BI"), _, _) => 780 + jitter("ARRI", 120),
        _ => 555 + jitter("ARRI", 375),
    };
    let loading = 405 + jitter("SCDV", 105);
    let timed = matches!(c.time_window, Some("TD") | Some("BI")) || c.estimated_del_time.is_some();
    let scdv = if timed { loading.max(arrival - 150) } else { loading }.min(arrival - 20);
    let pallet = &c.pallets[index];
    let planned = match code {
        "POC" => clock::at_minutes(collection_day, poc),
        "ARRC" => clock::at_minutes(collection_day, poc + 60 + jitter("ARRC", 120)),
        "SCOT" => clock::at_minutes(collection_day, 1140 + jitter("SCOT", 120)),
        "ARRH" => clock::at_minutes(collection_day, 1350 + jitter("ARRH", 90)),
        "DEPH" => clock::at_minutes(delivery_day, 120 + jitter("DEPH", 90)),
        "ARRD" => clock::at_minutes(delivery_day, 270 + jitter("ARRD", 120)),
        "HIND" => clock::at_minutes(delivery_day, 290 + jitter("ARRD", 120) + jitter("HIND", 20)),
        "BKIN" => clock::at_minutes(delivery_day, 570 + jitter("BKIN", 120)),
        "SCDV" => clock::at_minutes(delivery_day, scdv),
        "ARRI" => clock::at_minutes(delivery_day, arrival),
        "RTNS" => pallet
            .last_scan_at
            .unwrap_or(world.now)
            .checked_add(SignedDuration::from_mins(60 + jitter("RTNS", 120)))
            .unwrap_or(world.now),
        _ => clock::at_minutes(delivery_day, arrival + 8 + jitter("OUTCOME", 17)),
    };
    let mut due = planned.checked_add(SignedDuration::from_secs(15 * index as i64)).unwrap_or(planned);
    if let Some(last) = pallet.last_scan_at {
        due = due.max(last.checked_add(SignedDuration::from_mins(1)).unwrap_or(last));
    }
    if code == "POC" {
        due = due.max(c.created_at.checked_add(SignedDuration::from_mins(30)).unwrap_or(c.created_at));
    }
    due
}

/// The depot that performs a scan of `leg` on this consignment.
fn depot_for_leg(world: &World, c: &Consignment, leg: Leg) -> String {
    match leg {
        Leg::Collection => c.collecting_depot.clone(),
        Leg::Hub => world.hub_code(c.network),
        Leg::Delivery => c.delivery_depot.clone(),
        Leg::Admin => c.requesting_depot.clone(),
    }
}

/// Who signs for a delivery: the same invented person for one consignment and attempt.
fn signer(world: &World, c: &Consignment) -> &'static str {
    const NAMES: &[&str] =
        &["J SMITH", "A PATEL", "K JONES", "M WILLIAMS", "S BROWN", "R TAYLOR", "D EVANS", "L WALKER", "P HUGHES"];
    NAMES[(hash_of(&[world.seed, c.id, tag("signer"), u64::from(c.attempt)]) % NAMES.len() as u64) as usize]
}

fn apply(world: &mut World, id: u64, action: Action) {
    let at = world.now;
    match action {
        Action::Scan { pallet, code } => {
            let Some(scan) = reference::scan_def(code) else { return };
            let Some(c) = world.consignments.get(&id) else { return };
            let depot = depot_for_leg(world, c, scan.leg);
            let notes = match code {
                "BKIN" => Some(book_in_note(c, world)),
                "MPOD" | "DELD" | "DELS" => Some(format!("Signed By: {}", signer(world, c))),
                "RTNS" => Some(format!("Returned after {} failed delivery attempts", c.attempt)),
                _ => None,
            };
            record_scan(world, id, pallet, scan, at, Source::Network, Some(depot), notes);
            let Some(c) = world.consignments.get(&id) else { return };
            let status = c.status().code;
            let finished_now = scan.rank == Some(reference::TERMINAL_RANK) && matches!(status, "DEL" | "DLX");
            if finished_now && !c.attachment_ids.iter().any(|a| world.attachments.get(a).is_some_and(is_signature)) {
                add_delivery_evidence(world, id);
            }
        }
        Action::LatePod => add_late_pod(world, id),
    }
}

fn is_signature(attachment: &Attachment) -> bool {
    attachment.type_code == "MPOD"
}

fn book_in_note(c: &Consignment, world: &World) -> String {
    let reference = c.book_in.as_ref().and_then(|b| b.reference.clone()).unwrap_or_else(|| "-".to_owned());
    let arrival = clock::civil(due_time(world, c, 0, "ARRI"));
    format!(
        "Booked in for {} {:02}:{:02}, ref {reference}",
        clock::format_date(c.estimated_del_date),
        arrival.hour(),
        arrival.minute()
    )
}

/// Records a scan on one pallet and applies what it means: the pallet's stage (only ever forwards,
/// except that a failed delivery brings it back to the depot), the collection time, the delivery
/// attempt and re-planning after a failure, the delivery time. `lastUpdated` moves to now.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_scan(
    world: &mut World,
    id: u64,
    pallet_index: usize,
    scan: &'static ScanDef,
    at: Timestamp,
    source: Source,
    depot: Option<String>,
    notes: Option<String>,
) -> u64 {
    let event_id = world.allocate_event_id();
    let now = world.now;
    let Some(c) = world.consignments.get_mut(&id) else { return event_id };
    let Some(pallet) = c.pallets.get_mut(pallet_index) else { return event_id };
    c.events.push(Event {
        id: event_id,
        pallet_id: Some(pallet.id),
        barcode: Some(pallet.barcode.clone()),
        code: scan.code.to_owned(),
        description: scan.description.to_owned(),
        depot_code: depot,
        at,
        notes,
        source,
    });
    pallet.last_event_code = Some(scan.code.to_owned());
    let current = pallet.rank();
    let moves = match scan.rank {
        None => false,
        Some(_) if pallet.is_terminal() => false,
        Some(_) if scan.status == "NDL" => current >= 60,
        Some(rank) => rank > current,
    };
    if moves {
        pallet.stage = Some(scan.code);
        pallet.last_scan_at = Some(pallet.last_scan_at.map_or(at, |last| last.max(at)));
        if scan.code == "SCDV" {
            pallet.attempt = c.attempt;
        }
        if scan.code == "POC" && c.collected_at.is_none() {
            c.collected_at = Some(at);
        }
        if scan.status == "NDL" && pallet.attempt >= c.attempt {
            c.attempt = pallet.attempt + 1;
            c.estimated_del_date = calendar::next_working_day(clock::today(at));
            c.estimated_del_time = None;
        }
        if c.pallets.iter().all(|p| p.is_terminal()) && c.delivered_at.is_none() {
            let delivered = c.pallets.iter().all(|p| matches!(p.stage, Some("MPOD" | "EPOD" | "DELD" | "DELS")));
            if delivered {
                c.delivered_at = Some(at);
            }
        }
    }
    c.last_updated = now;
    event_id
}

fn add_attachment(world: &mut World, id: u64, attachment: Attachment) {
    let attachment_id = attachment.id;
    world.attachments.insert(attachment_id, attachment);
    let now = world.now;
    if let Some(c) = world.consignments.get_mut(&id) {
        c.attachment_ids.push(attachment_id);
        c.last_updated = now;
    }
}

/// What the delivering depot's handheld uploads at delivery: the signature and pallet photos. A late
/// scanned POD is planned for paper-POD consignments and a seeded share of the rest.
fn add_delivery_evidence(world: &mut World, id: u64) {
    let Some(c) = world.consignments.get(&id) else { return };
    let signed_by = signer(world, c).to_owned();
    let depot = c.delivery_depot.clone();
    let number = c.number.clone();
    let photo_count = 1 + hash_of(&[world.seed, id, tag("photos")]) % 2;
    let wants_paper = c.delivery_extras.iter().any(|e| e == "PP")
        || hash_of(&[world.seed, id, tag("latepod")]) % 100 < world.driver.late_pod_percent;
    let late_after = 120 + (hash_of(&[world.seed, id, tag("latepod-delay")]) % 1080) as i64;
    let now = world.now;
    let seed = hash_of(&[world.seed, id]);
    let signature = Attachment {
        id: world.allocate_attachment_id(),
        consignment_id: id,
        type_id: 1,
        type_code: "MPOD",
        file_name: format!("MPOD_{id}.png"),
        content_type: "image/png".to_owned(),
        bytes: evidence::signature_png(seed),
        signed_by: Some(signed_by),
        captured_at: Some(now),
        created_at: now,
        uploaded_by_depot: Some(depot.clone()),
    };
    add_attachment(world, id, signature);
    for n in 1..=photo_count {
        let photo = Attachment {
            id: world.allocate_attachment_id(),
            consignment_id: id,
            type_id: 3,
            type_code: "MPODPHOTOE",
            file_name: format!("MPODPHOTOE_{id}_{n}.jpg"),
            content_type: "image/jpeg".to_owned(),
            bytes: evidence::pallet_photo_jpeg(seed ^ n, &format!("Consignment {number}, photo {n}")),
            signed_by: None,
            captured_at: Some(now),
            created_at: now,
            uploaded_by_depot: Some(depot.clone()),
        };
        add_attachment(world, id, photo);
    }
    if wants_paper && let Some(c) = world.consignments.get_mut(&id) {
        c.late_pod_due = now.checked_add(SignedDuration::from_mins(late_after)).ok();
    }
}

fn add_late_pod(world: &mut World, id: u64) {
    let Some(c) = world.consignments.get_mut(&id) else { return };
    c.late_pod_due = None;
    let Some(c) = world.consignments.get(&id) else { return };
    let delivered = c.delivered_at.map(clock::format_datetime).unwrap_or_default();
    let bytes = evidence::delivery_note_pdf(&c.number, signer(world, c), &delivered, c.pallets.len());
    let depot = c.delivery_depot.clone();
    let now = world.now;
    let pod = Attachment {
        id: world.allocate_attachment_id(),
        consignment_id: id,
        type_id: 2,
        type_code: "POD",
        file_name: format!("POD_{id}.pdf"),
        content_type: "application/pdf".to_owned(),
        bytes,
        signed_by: None,
        captured_at: Some(now),
        created_at: now,
        uploaded_by_depot: Some(depot),
    };
    add_attachment(world, id, pod);
}

/// Why a consignment cannot be stepped to a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepError {
    NotFound,
    AlreadyPast(String),
    Unreachable(String),
}

/// How far along a status is, for deciding whether a step target lies ahead.
fn status_rank(code: &str) -> u8 {
    match code {
        "BKD" | "MAN" => 0,
        "COL" => 10,
        "ACD" => 20,
        "THB" => 30,
        "AHB" => 40,
        "DHB" => 50,
        "ADD" => 75,
        "HLD" => 70,
        _ => u8::MAX,
    }
}

/// Moves a consignment to `target` now, with the scans the driver would have made (ignoring planned
/// times and manual depots). Returns the number of scans applied.
pub(crate) fn step(world: &mut World, id: u64, target: &'static StatusDef) -> Result<usize, StepError> {
    let Some(c) = world.consignments.get(&id) else { return Err(StepError::NotFound) };
    let current = c.status();
    let describe = |c: &Consignment| format!("consignment {} is {} ({})", c.id, c.status().name, c.status().code);
    match target.code {
        "BKD" if current.code == "BKD" => return Ok(0),
        "BKD" => return Err(StepError::AlreadyPast(describe(c))),
        "MAN" => {
            return match current.code {
                "BKD" => {
                    mark_manifested(world, id);
                    Ok(1)
                }
                "MAN" => Ok(0),
                _ => Err(StepError::AlreadyPast(describe(c))),
            };
        }
        "CAN" => {
            return cancel(world, id, "the simulator")
                .map(usize::from)
                .map_err(|e| StepError::AlreadyPast(e.detail.unwrap_or_else(|| "cannot cancel".to_owned())));
        }
        _ => {}
    }
    // Each pass applies one scan, so the pass number is the number of scans applied so far.
    for applied in 0..1000 {
        let Some(c) = world.consignments.get(&id) else { return Err(StepError::NotFound) };
        let status = c.status();
        if status.code == target.code {
            return Ok(applied);
        }
        if status.terminal {
            return Err(StepError::AlreadyPast(describe(c)));
        }
        let least = c.pallets.iter().map(|p| p.rank()).min().unwrap_or(0);
        if status_rank(target.code) < least {
            return Err(StepError::AlreadyPast(describe(c)));
        }
        let next = c
            .pallets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| successor(world, c, i, Some(target.code)).map(|code| (p.rank(), i, code)))
            .min();
        let Some((_, pallet, code)) = next else {
            return Err(StepError::Unreachable(format!("{} cannot move on towards {}", describe(c), target.code)));
        };
        apply(world, id, Action::Scan { pallet, code });
    }
    Err(StepError::Unreachable(format!("consignment {id} did not reach {} in 1000 scans", target.code)))
}

/// Labels printed: `BKD` becomes `MAN` (§3.8 step 1).
pub(crate) fn mark_manifested(world: &mut World, id: u64) {
    let now = world.now;
    if let Some(c) = world.consignments.get_mut(&id)
        && c.manifested_at.is_none()
        && c.status().code == "BKD"
    {
        c.manifested_at = Some(now);
        c.last_updated = now;
    }
}

/// Cancels a consignment that has not been collected (§3.8 step 5). Cancelling a cancelled
/// consignment succeeds again without change (invented: idempotent, so a retried cancel is safe).
/// Returns whether anything changed.
pub(crate) fn cancel(world: &mut World, id: u64, by: &str) -> Result<bool, ApiError> {
    let Some(c) = world.consignments.get(&id) else { return Err(ApiError::consignment_not_found(&id.to_string())) };
    let status = c.status();
    match status.code {
        "CAN" => return Ok(false),
        "BKD" | "MAN" => {}
        _ => {
            let since = c.collected_at.map(|t| format!(" since {}", clock::format_datetime(t))).unwrap_or_default();
            return Err(ApiError::conflict(
                "The consignment can no longer be cancelled.",
                format!(
                    "Consignment {} ({}) is {}{since}; it can only be cancelled while Booked or Manifested, \
                     before collection. Contact the collecting depot {} instead.",
                    c.id, c.number, status.name, c.collecting_depot
                ),
            ));
        }
    }
    let requesting = c.requesting_depot.clone();
    let at = world.now;
    let cancel_scan = reference::scan_def("CANC").expect("CANC is a scan code");
    for index in 0..c.pallets.len() {
        record_scan(
            world,
            id,
            index,
            cancel_scan,
            at,
            Source::Network,
            Some(requesting.clone()),
            Some(format!("Cancelled by {by}")),
        );
    }
    if let Some(c) = world.consignments.get_mut(&id) {
        c.cancelled = true;
        c.late_pod_due = None;
    }
    Ok(true)
}

/// The Optimize ETA (§3.3 #11): writes the estimate fields and records an `ETA` event.
pub(crate) struct Eta {
    pub(crate) date: Option<jiff::civil::Date>,
    pub(crate) time: Option<Time>,
    pub(crate) start_window: Option<Time>,
    pub(crate) end_window: Option<Time>,
}

pub(crate) fn set_eta(world: &mut World, id: u64, depot: &str, eta: &Eta) -> Result<(), ApiError> {
    let event_id = world.allocate_event_id();
    let now = world.now;
    let Some(c) = world.consignments.get_mut(&id) else { return Err(ApiError::consignment_not_found(&id.to_string())) };
    let status = c.status();
    if status.terminal {
        return Err(ApiError::conflict(
            "The consignment is finished.",
            format!("Consignment {} is {}; an ETA can only be set before delivery.", c.id, status.name),
        ));
    }
    if let Some(date) = eta.date {
        c.estimated_del_date = date;
    }
    if eta.time.is_some() {
        c.estimated_del_time = eta.time;
    }
    if eta.start_window.is_some() {
        c.start_window = eta.start_window;
    }
    if eta.end_window.is_some() {
        c.end_window = eta.end_window;
    }
    let mut note = format!("ETA {}", clock::format_date(c.estimated_del_date));
    if let Some(time) = c.estimated_del_time {
        note.push_str(&format!(" {}", clock::format_time(time)));
    }
    if let (Some(start), Some(end)) = (c.start_window, c.end_window) {
        note.push_str(&format!(", window {}-{}", clock::format_time(start), clock::format_time(end)));
    }
    c.events.push(Event {
        id: event_id,
        pallet_id: None,
        barcode: None,
        code: "ETA".to_owned(),
        description: "ETA Updated".to_owned(),
        depot_code: Some(depot.to_owned()),
        at: now,
        notes: Some(note),
        source: Source::Optimize,
    });
    c.last_updated = now;
    Ok(())
}

/// Adds an attachment a depot uploaded through the API.
pub(crate) fn upload_attachment(world: &mut World, attachment: Attachment) {
    let id = attachment.consignment_id;
    add_attachment(world, id, attachment);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::WorldSeed;

    #[test]
    fn a_consignment_left_to_the_clock_finishes_and_never_goes_backwards() {
        let mut world = WorldSeed::default_world().build().unwrap();
        let start = world.now;
        let week_later = start.checked_add(SignedDuration::from_hours(24 * 7)).unwrap();
        advance_to(&mut world, week_later);
        for c in world.consignments.values() {
            assert!(c.status().terminal, "consignment {} stuck at {}", c.id, c.status().code);
            let mut times: Vec<Timestamp> = c.events.iter().map(|e| e.at).collect();
            let sorted = {
                let mut t = times.clone();
                t.sort();
                t
            };
            // events of the driver are recorded in time order
            times.dedup();
            assert!(!times.is_empty());
            assert_eq!(c.events.first().map(|e| e.at), sorted.first().copied());
        }
    }

    #[test]
    fn stepping_respects_the_order_of_stages() {
        let mut world = WorldSeed::default_world().build().unwrap();
        let booked = world.consignments.values().find(|c| c.status().code == "BKD").unwrap().id;
        let pallets = world.consignments[&booked].pallets.len();
        assert_eq!(step(&mut world, booked, reference::status_by_code("ACD")), Ok(2 * pallets));
        assert!(matches!(step(&mut world, booked, reference::status_by_code("COL")), Err(StepError::AlreadyPast(_))));
        assert!(step(&mut world, booked, reference::status_by_code("NDL")).is_ok());
        assert_eq!(world.consignments[&booked].attempt, 1);
        assert!(step(&mut world, booked, reference::status_by_code("DEL")).is_ok());
        assert!(world.consignments[&booked].attachment_ids.len() >= 2);
    }
}
