//! What a Nexus scan means for Qargo, and which Nexus event a Qargo stop event becomes (DESIGN.md §2,
//! "Status import" and "Status export"): one table each way.
//!
//! # Import: [`scan_meaning`]
//!
//! Every scan is recorded, whatever our role, as a handling-unit scan of its pallet (the `scan_barcode`
//! action of `subco-status-update`) on one of the consignment's two Qargo stops, so the history per
//! barcode is complete. A few codes also move that stop on, and exceptions carry a note the planner
//! sees:
//!
//! | Nexus code | stop | handling unit | stop effect | planner note |
//! |---|---|---|---|---|
//! | `POC` collected | pickup | `SCANNED_IN` | `COMPLETED` | |
//! | `ARRC` at the collecting depot | pickup | `SCANNED_IN` | `COMPLETED` | |
//! | `SCOT` scanned out to the hub | pickup | `SCANNED_OUT` | `COMPLETED` | |
//! | `ARRH` at the hub | delivery | `SCANNED_IN` | | |
//! | `DEPH` departed the hub | delivery | `SCANNED_OUT` | | |
//! | `ARRD` at the delivery depot | delivery | `SCANNED_IN` | | |
//! | `HIND` held in depot | delivery | `STORED` | | held |
//! | `BKIN` booked in | delivery | `STORED` | | |
//! | `SCDV` out for delivery | delivery | `SCANNED_OUT` | `AT_STOP` | |
//! | `ARRI` at the consignee | delivery | `SCANNED_OUT` | `AT_STOP` | |
//! | `MPOD`, `EPOD` delivered | delivery | `SCANNED_OUT` | `COMPLETED` | |
//! | `DELD`, `DELS` delivered damaged / short | delivery | `SCANNED_OUT` | `COMPLETED` | damaged / short |
//! | `ND…` not delivered | delivery | `STORED` | | not delivered, and why |
//! | `RTN…` returned to sender | delivery | `SCANNED_OUT` | | returned |
//! | `CANC` cancelled | pickup | `STORED` | | cancelled |
//! | `ETA` ETA updated | delivery | `STORED` | | |
//! | any other code | delivery | `STORED` | | none: `known` is false, the caller logs it |
//!
//! **A stop effect applies only to the stop of a leg another depot performs**: the pickup stop when we
//! are not the collecting depot, the delivery stop when we are not the delivery depot. On the legs we
//! perform our own drivers move the stops, and the network's scans of those legs only repeat them.
//! This gives the pattern of research/qargo-pallex-help.md §5 and §9.1: as requesting/collecting depot,
//! the delivery depot's out-for-delivery or arrival scan puts the delivery stop `AT_STOP` and a delivered
//! code completes it; as delivery depot, the collection (or the collecting depot's arrival or scan-out)
//! completes the pickup stop; as requesting depot only, both; with both legs ours, none, and such a
//! consignment is not synced at all ([`is_status_synced`], loop avoidance). All three collection-leg
//! scans complete the pickup, so a depot that skips the `POC` scan still completes it (Palletline has
//! no collection scan at all, its `SCOT` completes the pickup). An effect fires only once **every**
//! barcode of the consignment has reached it: [`stop_status_reached`].
//!
//! Exceptions get their note whatever our role, because a note repeated is harmless and a silent
//! exception is not. The handling-unit statuses are our reading of Qargo's three: `SCANNED_IN` when a
//! place takes the pallet in, `SCANNED_OUT` when it hands the pallet on (to the hub, the delivery vehicle
//! or the consignee), `STORED` for a scan that records no movement (waiting, booked in, a failed attempt
//! back at the depot, cancelled, unknown). The Nexus code itself goes with the scan as its source status.
//!
//! # Export: [`export_code`] and [`cross_dock_code`]
//!
//! | Qargo event | our role | Nexus code |
//! |---|---|---|
//! | pickup stop completed | collecting | `POC` |
//! | delivery stop: driver arrived | delivery | `ARRI` |
//! | delivery stop completed | delivery | `MPOD` with a signature, `EPOD` without |
//! | delivery stop failed | delivery | `ND…` chosen by the failure reason, `NDOE` when nothing matches |
//! | cross-dock scan in / out at our collecting depot | collecting | `ARRC` / `SCOT` |
//! | cross-dock scan in / out at our delivery depot | delivery | `ARRD` / `SCDV` |
//! | anything else, a leg we do not perform, or both legs ours | | none |
//!
//! Nexus takes collection-leg codes only from the collecting depot and delivery-leg codes only from
//! the delivery depot (nexus-api.md §3.3 #7), hence the roles. It refuses `ND…` codes it does not list,
//! so a failure always maps to one of the eight the simulator knows (`NDNV`, `NDOE`, `NDOT`, `NDPC`,
//! `NDRD`, `NDRE`, `NDRS`, `NDTC`). nexus-api.md has no failed-collection code, so a failed pickup
//! exports nothing: the requesting depot has to hear of it from the planner.

use crate::domain::{DepotRole, ScanCode, coded_enum};

coded_enum! {
    /// Which Qargo stop of a consignment something concerns; each names a leg too: the pickup stop
    /// ends the collection leg, the delivery stop the delivery leg. Spelt as Qargo's `stop_type`.
    StopKind, what = "stop kind" {
        /// The pickup at the consignor: the collecting depot's leg.
        Pickup = "PICKUP",
        /// The delivery at the consignee: the delivery depot's leg.
        Delivery = "DELIVERY",
    }
}

coded_enum! {
    /// The handling-unit scan status Qargo's `scan_barcode` action takes.
    HandlingUnitStatus, what = "handling-unit scan status" {
        /// A place (collection vehicle, depot, hub) took the pallet in.
        ScannedIn = "SCANNED_IN",
        /// The pallet is waiting where it is; also for scans that record no movement.
        Stored = "STORED",
        /// A place handed the pallet on: to the hub, onto the delivery vehicle, to the consignee.
        ScannedOut = "SCANNED_OUT",
    }
}

coded_enum! {
    /// A stop status the bridge may set through `subco-status-update`, in the order a stop goes
    /// through them (so `AtStop < Completed`).
    StopStatus, what = "stop status" {
        /// The stop has started.
        AtStop = "AT_STOP",
        /// The stop is done.
        Completed = "COMPLETED",
    }
}

/// What one Nexus scan means for Qargo, given our roles on the consignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanMeaning {
    /// The stop the pallet's scan is recorded on.
    pub stop: StopKind,
    /// The handling-unit status the pallet's scan is recorded with.
    pub handling_unit: HandlingUnitStatus,
    /// The status `stop` takes once every barcode of the consignment has reached it (see
    /// [`stop_status_reached`]); `None` for most codes and for the stops of legs we perform.
    pub effect: Option<StopStatus>,
    /// The note the planner must see for an exception (not delivered, damaged, short, held,
    /// returned, cancelled); the caller may add the scan's own notes.
    pub exception: Option<String>,
    /// False for a code the table does not know: it is still recorded, and the caller logs it.
    pub known: bool,
}

/// What the scan `code` means for Qargo when we play `roles` on the consignment (the table in the
/// module docs).
pub fn scan_meaning(code: &ScanCode, roles: &[DepotRole]) -> ScanMeaning {
    use HandlingUnitStatus::{ScannedIn, ScannedOut, Stored};
    use StopKind::{Delivery, Pickup};
    use StopStatus::{AtStop, Completed};

    // One row per code, with no wildcard arm: a new `ScanCode` cannot compile until it has a row.
    let (stop, handling_unit, effect, exception) = match code {
        ScanCode::Collected => (Pickup, ScannedIn, Some(Completed), None),
        ScanCode::ArrivedCollectingDepot => (Pickup, ScannedIn, Some(Completed), None),
        ScanCode::ScannedOutToHub => (Pickup, ScannedOut, Some(Completed), None),
        ScanCode::ArrivedHub => (Delivery, ScannedIn, None, None),
        ScanCode::DepartedHub => (Delivery, ScannedOut, None, None),
        ScanCode::ArrivedDeliveryDepot => (Delivery, ScannedIn, None, None),
        ScanCode::HeldInDepot => (Delivery, Stored, None, Some("Held in depot (HIND)".to_owned())),
        ScanCode::BookedIn => (Delivery, Stored, None, None),
        ScanCode::OutForDelivery => (Delivery, ScannedOut, Some(AtStop), None),
        ScanCode::ArrivedAtDelivery => (Delivery, ScannedOut, Some(AtStop), None),
        ScanCode::DeliveredSigned => (Delivery, ScannedOut, Some(Completed), None),
        ScanCode::Delivered => (Delivery, ScannedOut, Some(Completed), None),
        ScanCode::DeliveredDamaged => {
            (Delivery, ScannedOut, Some(Completed), Some("Delivered damaged (DELD)".to_owned()))
        }
        ScanCode::DeliveredShort => (Delivery, ScannedOut, Some(Completed), Some("Delivered short (DELS)".to_owned())),
        ScanCode::NotDelivered(code) => (Delivery, Stored, None, Some(not_delivered_note(code))),
        ScanCode::EtaUpdated => (Delivery, Stored, None, None),
        ScanCode::Cancelled => (Pickup, Stored, None, Some("Cancelled on Nexus (CANC)".to_owned())),
        ScanCode::Returned => (Delivery, ScannedOut, None, Some(returned_note(code.code()))),
        // `ScanCode` parses only the bare `RTN` as a return, but Nexus writes the family with a
        // suffix (the simulator sends `RTNS`), so the family is read here.
        ScanCode::Unrecognised(raw) if raw.starts_with("RTN") => (Delivery, ScannedOut, None, Some(returned_note(raw))),
        ScanCode::Unrecognised(_) => {
            return ScanMeaning { stop: Delivery, handling_unit: Stored, effect: None, exception: None, known: false };
        }
    };
    let effect = effect.filter(|_| !performs_leg(stop, roles));
    ScanMeaning { stop, handling_unit, effect, exception, known: true }
}

/// The furthest status `stop` has reached on **every** pallet: for each pallet the furthest effect its
/// scans so far have on `stop`, then the least of those. `pallets` gives each barcode's scan codes and
/// must include every barcode of the consignment, those without scans too: a pallet that has not got
/// there holds the stop back, so `None` until each has. Pallets need not share a code (two `MPOD` and
/// one `DELS` complete the delivery), and a failed attempt before a delivery does not hold it back.
pub fn stop_status_reached<'a, P>(
    stop: StopKind,
    pallets: impl IntoIterator<Item = P>,
    roles: &[DepotRole],
) -> Option<StopStatus>
where
    P: IntoIterator<Item = &'a ScanCode>,
{
    let mut reached: Option<StopStatus> = None;
    for scans in pallets {
        let furthest = scans
            .into_iter()
            .map(|code| scan_meaning(code, roles))
            .filter(|meaning| meaning.stop == stop)
            .filter_map(|meaning| meaning.effect)
            .max()?;
        reached = Some(reached.map_or(furthest, |so_far| so_far.min(furthest)));
    }
    reached
}

/// Whether statuses are synced at all for a consignment on which we play `roles`: not when it is not
/// ours, nor when both its collecting and its delivery depot are ours, since then every scan on Nexus
/// started in our own Qargo and syncing would loop (Palletline does the same).
pub fn is_status_synced(roles: &[DepotRole]) -> bool {
    let both_legs_ours = performs_leg(StopKind::Pickup, roles) && performs_leg(StopKind::Delivery, roles);
    !roles.is_empty() && !both_legs_ours
}

/// What happened at a Qargo stop (from a `Stop` update of the visibility webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopTransition {
    /// The driver arrived at the stop (`AT_STOP`).
    Arrived,
    /// The stop was completed.
    Completed,
    /// The stop failed: the driver could not pick up or deliver.
    Failed {
        /// The failure reason as Qargo gives it, if any; it picks the `ND…` code.
        reason: Option<String>,
    },
}

/// Export: the Nexus event a Qargo stop event becomes when we perform that stop's leg, or `None` (the
/// export table in the module docs). `signature_captured` says whether the consignee signed in Qargo.
pub fn export_code(
    stop: StopKind,
    transition: &StopTransition,
    roles: &[DepotRole],
    signature_captured: bool,
) -> Option<ScanCode> {
    if !is_status_synced(roles) || !performs_leg(stop, roles) {
        return None;
    }
    match (stop, transition) {
        (StopKind::Pickup, StopTransition::Completed) => Some(ScanCode::Collected),
        (StopKind::Pickup, StopTransition::Arrived | StopTransition::Failed { .. }) => None,
        (StopKind::Delivery, StopTransition::Arrived) => Some(ScanCode::ArrivedAtDelivery),
        (StopKind::Delivery, StopTransition::Completed) if signature_captured => Some(ScanCode::DeliveredSigned),
        (StopKind::Delivery, StopTransition::Completed) => Some(ScanCode::Delivered),
        (StopKind::Delivery, StopTransition::Failed { reason }) => {
            Some(ScanCode::NotDelivered(not_delivered_code(reason.as_deref()).to_owned()))
        }
    }
}

/// Export: the Nexus event a cross-dock scan at one of our depots becomes, or `None`. `leg` names the
/// depot by the leg it serves: [`StopKind::Pickup`] for our collecting depot, [`StopKind::Delivery`]
/// for our delivery depot.
pub fn cross_dock_code(leg: StopKind, scan: HandlingUnitStatus, roles: &[DepotRole]) -> Option<ScanCode> {
    if !is_status_synced(roles) || !performs_leg(leg, roles) {
        return None;
    }
    match (leg, scan) {
        (StopKind::Pickup, HandlingUnitStatus::ScannedIn) => Some(ScanCode::ArrivedCollectingDepot),
        (StopKind::Pickup, HandlingUnitStatus::ScannedOut) => Some(ScanCode::ScannedOutToHub),
        (StopKind::Delivery, HandlingUnitStatus::ScannedIn) => Some(ScanCode::ArrivedDeliveryDepot),
        (StopKind::Delivery, HandlingUnitStatus::ScannedOut) => Some(ScanCode::OutForDelivery),
        (_, HandlingUnitStatus::Stored) => None,
    }
}

/// Whether our depot performs the leg that ends at `stop`.
fn performs_leg(stop: StopKind, roles: &[DepotRole]) -> bool {
    match stop {
        StopKind::Pickup => roles.contains(&DepotRole::Collecting),
        StopKind::Delivery => roles.contains(&DepotRole::Delivery),
    }
}

/// The not-delivered codes Nexus accepts, what each means, and the words of a Qargo failure reason
/// (lower case) that choose it. The first match wins, so the refusals with a cause come before the
/// plain refusal.
const NOT_DELIVERED_REASONS: [(&str, &str, &[&str]); 8] = [
    ("NDTC", "terms and conditions refused", &["t&c", "t & c", "terms", "conditions"]),
    ("NDRD", "refused damaged", &["damage"]),
    ("NDRS", "refused short", &["short"]),
    ("NDRE", "refused and returned", &["refus", "reject"]),
    ("NDPC", "premises closed", &["closed", "shut", "no answer", "nobody", "no one", "no-one", "not home"]),
    ("NDNV", "not on vehicle", &["not on vehicle", "not loaded", "left at depot", "missing"]),
    ("NDOT", "out of time", &["out of time", "time", "late"]),
    ("NDOE", "order error", &["order error", "address", "wrong", "incorrect", "access"]),
];

/// The code for a failed delivery whose reason matches nothing: an error in the order is the one
/// reason that blames neither the consignee nor the driver.
const GENERIC_NOT_DELIVERED: &str = "NDOE";

/// The `ND…` code for a failed delivery: one named at the start of `reason` (a Qargo failure reason
/// set up with the network's codes), else the first whose words the reason contains, else the generic.
fn not_delivered_code(reason: Option<&str>) -> &'static str {
    let reason = reason.unwrap_or("").trim().to_lowercase();
    let named = reason.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
    NOT_DELIVERED_REASONS
        .iter()
        .find(|(code, ..)| code.eq_ignore_ascii_case(named))
        .or_else(|| NOT_DELIVERED_REASONS.iter().find(|(_, _, words)| words.iter().any(|w| reason.contains(w))))
        .map_or(GENERIC_NOT_DELIVERED, |(code, ..)| code)
}

fn not_delivered_note(code: &str) -> String {
    match NOT_DELIVERED_REASONS.iter().find(|(known, ..)| *known == code) {
        Some((_, meaning, _)) => format!("Not delivered ({code}): {meaning}"),
        // The consignment's status (no events endpoint): Nexus's status names no reason.
        None if code == "NDL" => format!("Not delivered ({code}): the consignment's Nexus status gives no reason"),
        None => format!("Not delivered ({code}): a reason code the bridge does not know"),
    }
}

fn returned_note(code: &str) -> String {
    format!("Returned to sender ({code})")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use DepotRole::{Collecting, Delivery as Delivering, Requesting};
    use HandlingUnitStatus::{ScannedIn, ScannedOut, Stored};
    use StopKind::{Delivery, Pickup};
    use StopStatus::{AtStop, Completed};

    const BOOKED_AND_COLLECTED: &[DepotRole] = &[Requesting, Collecting];
    const DELIVERING: &[DepotRole] = &[Delivering];
    const ALL_THREE: &[DepotRole] = &[Requesting, Collecting, Delivering];

    fn code(raw: &str) -> ScanCode {
        raw.parse().unwrap()
    }

    /// The scan codes the simulator knows (and so may send or accept), read from its source so that
    /// a code added there fails these tests until it has a row here.
    fn simulator_scan_codes() -> Vec<String> {
        let source = include_str!("../../infra/nexus-sim/src/reference.rs");
        let start = source.find("pub(crate) const SCANS").expect("the simulator's scan table");
        let table = &source[start..start + source[start..].find("];").expect("the end of the scan table")];
        let codes: Vec<String> =
            table.lines().skip(1).filter_map(|line| line.split('"').nth(1)).map(str::to_owned).collect();
        assert!(codes.len() >= 20 && codes.contains(&"ETA".to_owned()), "parsed {codes:?}");
        codes
    }

    /// Every row: code, stop, handling unit, the effect as requesting and collecting depot, as delivery
    /// depot, and with all three roles, and a word of the planner's note.
    #[allow(clippy::type_complexity)]
    const ROWS: &[(&str, StopKind, HandlingUnitStatus, Option<StopStatus>, Option<StopStatus>, Option<&str>)] = &[
        ("POC", Pickup, ScannedIn, None, Some(Completed), None),
        ("ARRC", Pickup, ScannedIn, None, Some(Completed), None),
        ("SCOT", Pickup, ScannedOut, None, Some(Completed), None),
        ("ARRH", Delivery, ScannedIn, None, None, None),
        ("DEPH", Delivery, ScannedOut, None, None, None),
        ("ARRD", Delivery, ScannedIn, None, None, None),
        ("HIND", Delivery, Stored, None, None, Some("Held")),
        ("BKIN", Delivery, Stored, None, None, None),
        ("SCDV", Delivery, ScannedOut, Some(AtStop), None, None),
        ("ARRI", Delivery, ScannedOut, Some(AtStop), None, None),
        ("MPOD", Delivery, ScannedOut, Some(Completed), None, None),
        ("EPOD", Delivery, ScannedOut, Some(Completed), None, None),
        ("DELD", Delivery, ScannedOut, Some(Completed), None, Some("damaged")),
        ("DELS", Delivery, ScannedOut, Some(Completed), None, Some("short")),
        ("NDPC", Delivery, Stored, None, None, Some("premises closed")),
        ("NDRE", Delivery, Stored, None, None, Some("refused")),
        ("NDOT", Delivery, Stored, None, None, Some("out of time")),
        ("NDOE", Delivery, Stored, None, None, Some("order error")),
        ("RTNS", Delivery, ScannedOut, None, None, Some("Returned")),
        ("RTN", Delivery, ScannedOut, None, None, Some("Returned")),
        ("CANC", Pickup, Stored, None, None, Some("Cancelled")),
        ("ETA", Delivery, Stored, None, None, None),
    ];

    #[test]
    fn every_row_for_each_role_combination() {
        for &(raw, stop, handling_unit, as_booker, as_deliverer, note) in ROWS {
            for (roles, effect) in [(BOOKED_AND_COLLECTED, as_booker), (DELIVERING, as_deliverer), (ALL_THREE, None)] {
                let meaning = scan_meaning(&code(raw), roles);
                assert_eq!(meaning.stop, stop, "{raw} as {roles:?}");
                assert_eq!(meaning.handling_unit, handling_unit, "{raw} as {roles:?}");
                assert_eq!(meaning.effect, effect, "{raw} as {roles:?}");
                assert!(meaning.known, "{raw}");
                match note {
                    Some(word) => {
                        let exception = meaning.exception.unwrap_or_default();
                        assert!(exception.contains(word) && exception.contains(raw), "{raw}: {exception}");
                    }
                    None => assert_eq!(meaning.exception, None, "{raw}"),
                }
            }
        }
    }

    #[test]
    fn requesting_only_moves_both_stops_and_collecting_only_the_delivery() {
        let requesting = &[Requesting];
        assert_eq!(scan_meaning(&code("POC"), requesting).effect, Some(Completed));
        assert_eq!(scan_meaning(&code("ARRI"), requesting).effect, Some(AtStop));
        assert_eq!(scan_meaning(&code("MPOD"), requesting).effect, Some(Completed));
        let collecting = &[Collecting];
        assert_eq!(scan_meaning(&code("POC"), collecting).effect, None);
        assert_eq!(scan_meaning(&code("SCDV"), collecting).effect, Some(AtStop));
        let booked_for_own_delivery = &[Requesting, Delivering];
        assert_eq!(scan_meaning(&code("SCOT"), booked_for_own_delivery).effect, Some(Completed));
        assert_eq!(scan_meaning(&code("EPOD"), booked_for_own_delivery).effect, None);
    }

    #[test]
    fn every_code_the_simulator_knows_is_known_and_its_exceptions_are_noted() {
        for raw in simulator_scan_codes() {
            let scan = code(&raw);
            let meaning = scan_meaning(&scan, BOOKED_AND_COLLECTED);
            assert!(meaning.known, "{raw} is not in the table");
            let returned = raw.starts_with("RTN");
            assert_eq!(meaning.exception.is_some(), scan.is_exception() || returned, "{raw}");
        }
    }

    #[test]
    fn unknown_codes_are_recorded_without_effect() {
        for raw in ["ZZTOP", "DPDV", "", "POD"] {
            for roles in [BOOKED_AND_COLLECTED, DELIVERING, ALL_THREE, &[Requesting]] {
                let meaning = scan_meaning(&code(raw), roles);
                assert_eq!(
                    meaning,
                    ScanMeaning { stop: Delivery, handling_unit: Stored, effect: None, exception: None, known: false },
                    "{raw}"
                );
            }
        }
    }

    #[test]
    fn not_delivered_codes_are_exceptions_even_when_the_reason_is_new() {
        let known = scan_meaning(&code("NDTC"), BOOKED_AND_COLLECTED);
        assert_eq!(known.exception.as_deref(), Some("Not delivered (NDTC): terms and conditions refused"));
        let novel = scan_meaning(&code("NDXX"), BOOKED_AND_COLLECTED);
        assert!(novel.known && novel.effect.is_none());
        assert_eq!(novel.exception.as_deref(), Some("Not delivered (NDXX): a reason code the bridge does not know"));
    }

    fn reached(stop: StopKind, pallets: &[&[&str]], roles: &[DepotRole]) -> Option<StopStatus> {
        let pallets: Vec<Vec<ScanCode>> =
            pallets.iter().map(|scans| scans.iter().map(|raw| code(raw)).collect()).collect();
        stop_status_reached(stop, &pallets, roles)
    }

    #[test]
    fn a_stop_moves_only_when_every_pallet_got_there() {
        let roles = BOOKED_AND_COLLECTED;
        let out = ["ARRD", "SCDV"];
        assert_eq!(reached(Delivery, &[&out, &out, &["ARRD"]], roles), None);
        assert_eq!(reached(Delivery, &[&out, &out, &out], roles), Some(AtStop));
        assert_eq!(
            reached(Delivery, &[&["SCDV", "ARRI", "MPOD"], &["SCDV", "ARRI", "MPOD"], &out], roles),
            Some(AtStop)
        );
        assert_eq!(
            reached(Delivery, &[&["SCDV", "MPOD"], &["SCDV", "DELS"], &["SCDV", "EPOD"]], roles),
            Some(Completed)
        );
        assert_eq!(reached(Delivery, &[&["SCDV", "MPOD"], &[]], roles), None, "a pallet without scans holds it back");
        assert_eq!(reached(Delivery, &[], roles), None);
    }

    #[test]
    fn a_failed_attempt_then_a_redelivery() {
        let roles = BOOKED_AND_COLLECTED;
        let failed = ["SCDV", "ARRI", "NDPC"];
        assert_eq!(reached(Delivery, &[&failed, &failed], roles), Some(AtStop));
        let redelivered = ["SCDV", "ARRI", "NDPC", "SCDV", "ARRI", "MPOD"];
        assert_eq!(reached(Delivery, &[&redelivered, &failed], roles), Some(AtStop));
        assert_eq!(reached(Delivery, &[&redelivered, &redelivered], roles), Some(Completed));
        assert_eq!(reached(Delivery, &[&redelivered, &["SCDV", "ARRI", "NDPC", "RTNS"]], roles), Some(AtStop));
    }

    #[test]
    fn only_the_stops_of_other_depots_legs_move() {
        let collected = ["POC", "ARRC", "SCOT"];
        assert_eq!(reached(Pickup, &[&collected, &["SCOT"]], DELIVERING), Some(Completed));
        assert_eq!(reached(Pickup, &[&collected, &collected], BOOKED_AND_COLLECTED), None);
        assert_eq!(reached(Delivery, &[&["MPOD"]], DELIVERING), None);
        assert_eq!(reached(Delivery, &[&collected], &[Requesting]), None, "pickup scans leave the delivery stop");
    }

    #[test]
    fn both_legs_ours_is_not_synced() {
        assert!(is_status_synced(BOOKED_AND_COLLECTED));
        assert!(is_status_synced(DELIVERING));
        assert!(is_status_synced(&[Requesting]));
        assert!(is_status_synced(&[Requesting, Delivering]));
        assert!(!is_status_synced(ALL_THREE));
        assert!(!is_status_synced(&[Collecting, Delivering]));
        assert!(!is_status_synced(&[]));
    }

    fn failed(reason: &str) -> StopTransition {
        StopTransition::Failed { reason: Some(reason.to_owned()) }
    }

    #[test]
    fn export_of_the_legs_we_perform() {
        let collecting = BOOKED_AND_COLLECTED;
        assert_eq!(export_code(Pickup, &StopTransition::Completed, collecting, false), Some(ScanCode::Collected));
        assert_eq!(export_code(Pickup, &StopTransition::Completed, &[Collecting], true), Some(ScanCode::Collected));
        assert_eq!(export_code(Pickup, &StopTransition::Arrived, collecting, false), None);
        assert_eq!(export_code(Pickup, &failed("closed"), collecting, false), None);
        assert_eq!(export_code(Delivery, &StopTransition::Completed, collecting, true), None, "not our leg");
        assert_eq!(export_code(Pickup, &StopTransition::Completed, &[Requesting], false), None, "not our leg");

        let arrived = export_code(Delivery, &StopTransition::Arrived, DELIVERING, false);
        assert_eq!(arrived, Some(ScanCode::ArrivedAtDelivery));
        let signed = export_code(Delivery, &StopTransition::Completed, DELIVERING, true);
        assert_eq!(signed, Some(ScanCode::DeliveredSigned));
        let unsigned = export_code(Delivery, &StopTransition::Completed, DELIVERING, false);
        assert_eq!(unsigned, Some(ScanCode::Delivered));
        assert_eq!(export_code(Pickup, &StopTransition::Completed, DELIVERING, false), None, "not our leg");

        for transition in [StopTransition::Arrived, StopTransition::Completed, failed("closed")] {
            for stop in StopKind::ALL {
                assert_eq!(export_code(*stop, &transition, ALL_THREE, true), None, "both legs ours");
            }
        }
    }

    #[test]
    fn failed_deliveries_export_the_code_of_their_reason() {
        let cases = [
            ("Premises closed", "NDPC"),
            ("No answer at the door", "NDPC"),
            ("Customer refused: goods damaged", "NDRD"),
            ("Refused - pallet short", "NDRS"),
            ("Consignee refused delivery", "NDRE"),
            ("Would not sign our T&Cs", "NDTC"),
            ("Pallet not on vehicle", "NDNV"),
            ("Driver ran out of time", "NDOT"),
            ("Wrong address on the order", "NDOE"),
            ("ndrs", "NDRS"),
            ("NDNV - driver's mistake", "NDNV"),
            ("Something else", GENERIC_NOT_DELIVERED),
            ("", GENERIC_NOT_DELIVERED),
        ];
        for (reason, expected) in cases {
            let exported = export_code(Delivery, &failed(reason), DELIVERING, false);
            assert_eq!(exported, Some(ScanCode::NotDelivered(expected.to_owned())), "{reason}");
        }
        let without_reason = export_code(Delivery, &StopTransition::Failed { reason: None }, DELIVERING, false);
        assert_eq!(without_reason, Some(ScanCode::NotDelivered(GENERIC_NOT_DELIVERED.to_owned())));
    }

    #[test]
    fn cross_dock_scans_at_our_depots() {
        assert_eq!(cross_dock_code(Pickup, ScannedIn, BOOKED_AND_COLLECTED), Some(ScanCode::ArrivedCollectingDepot));
        assert_eq!(cross_dock_code(Pickup, ScannedOut, BOOKED_AND_COLLECTED), Some(ScanCode::ScannedOutToHub));
        assert_eq!(cross_dock_code(Delivery, ScannedIn, DELIVERING), Some(ScanCode::ArrivedDeliveryDepot));
        assert_eq!(cross_dock_code(Delivery, ScannedOut, DELIVERING), Some(ScanCode::OutForDelivery));
        assert_eq!(cross_dock_code(Delivery, Stored, DELIVERING), None);
        assert_eq!(cross_dock_code(Delivery, ScannedIn, BOOKED_AND_COLLECTED), None, "not our depot");
        assert_eq!(cross_dock_code(Pickup, ScannedIn, &[Requesting]), None, "not our depot");
        assert_eq!(cross_dock_code(Pickup, ScannedIn, ALL_THREE), None, "both legs ours");
    }

    #[test]
    fn every_exported_code_is_one_the_simulator_accepts() {
        let accepted = simulator_scan_codes();
        let mut exported = Vec::new();
        for transition in [StopTransition::Arrived, StopTransition::Completed] {
            for signature in [true, false] {
                exported.extend(export_code(Pickup, &transition, BOOKED_AND_COLLECTED, signature));
                exported.extend(export_code(Delivery, &transition, DELIVERING, signature));
            }
        }
        for (code, ..) in NOT_DELIVERED_REASONS {
            exported.extend(export_code(Delivery, &failed(code), DELIVERING, false));
        }
        for scan in HandlingUnitStatus::ALL {
            exported.extend(cross_dock_code(Pickup, *scan, BOOKED_AND_COLLECTED));
            exported.extend(cross_dock_code(Delivery, *scan, DELIVERING));
        }
        assert_eq!(exported.len(), 6 + 8 + 4);
        for code in exported {
            assert!(accepted.iter().any(|known| known == code.code()), "{code} is not a simulator scan code");
        }
    }

    #[test]
    fn qargo_codes() {
        assert_eq!(StopStatus::AtStop.code(), "AT_STOP");
        assert_eq!(StopStatus::Completed.code(), "COMPLETED");
        assert!(StopStatus::AtStop < StopStatus::Completed);
        let statuses: Vec<&str> = HandlingUnitStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(statuses, ["SCANNED_IN", "STORED", "SCANNED_OUT"]);
        assert_eq!(StopKind::Pickup.code(), "PICKUP");
        assert_eq!(StopKind::Delivery.code(), "DELIVERY");
    }

    fn any_roles() -> impl Strategy<Value = Vec<DepotRole>> {
        proptest::sample::subsequence(vec![Requesting, Collecting, Delivering], 0..=3)
    }

    proptest! {
        #[test]
        fn any_code_is_recorded_and_moves_only_other_depots_stops(raw in "[A-Z]{0,6}", roles in any_roles()) {
            let scan = code(&raw);
            let meaning = scan_meaning(&scan, &roles);
            if meaning.effect.is_some() {
                prop_assert!(meaning.known && !performs_leg(meaning.stop, &roles));
            }
            if !meaning.known {
                prop_assert!(meaning.effect.is_none() && meaning.exception.is_none());
            }
            if scan.is_exception() {
                prop_assert!(meaning.exception.is_some());
            }
        }
    }
}
