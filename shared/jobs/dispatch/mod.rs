//! Dispatch: a dispatcher completes the resource dispatch task in Qargo, Qargo sends its
//! Subcontractor Dispatch webhook, and the consignment is booked on PALL-EX or Fortec, labelled and
//! attached in Qargo — exactly once.
//!
//! - **CREATE**: every rule of [`crate::rules::dispatch`] is checked before Nexus is touched. The
//!   dispatch ledger is then claimed for the Qargo consignment; a retry or a concurrent delivery of
//!   the same webhook waits for the holder and answers the recorded booking. The holder books under
//!   a consignment number derived from the Qargo order (unique per customer on Nexus), records the
//!   booking, and at once fetches the labels (PDF, and ZPL for thermal-printer depots), stores them
//!   and attaches the PDF to the pickup stop in Qargo, then writes the Nexus identity and pallet
//!   barcodes onto the Qargo order.
//! - **Recovery**: a holder that died mid-booking leaves an in-progress claim whose lease runs out;
//!   the next holder first looks the consignment up on Nexus by its number and adopts it, so a crash
//!   between booking and recording never books twice. A Nexus call that failed with an unknown
//!   outcome (timeout) is recorded as failed and recovered the same way.
//! - **Labels** that fail after a good booking leave the record `BOOKED` and the answer is a
//!   retryable `INTERNAL_ERROR` carrying the booking; Qargo's retry finishes the labels without
//!   booking again.
//! - **UPDATE**: unchanged for Nexus → acknowledged; changed before collection → cancelled and
//!   re-booked under the same ledger entry with the next consignment number; after collection →
//!   `NOT_SUPPORTED` with the reason.
//! - **CANCEL**: cancelled on Nexus before collection (after it, Nexus's reason is passed on), the
//!   ledger marked, and the Qargo order's Nexus fields marked void.
//! - Nexus or Qargo unavailable → `INTERNAL_ERROR`, which Qargo may retry; nothing is half-done: the
//!   ledger says exactly how far the dispatch got.

mod cancel;
mod labels;
mod update;

use std::time::Duration;

use jiff::SignedDuration;
use serde::Serialize;

use crate::domain::booking::Violation;
use crate::domain::{Barcode, NexusConsignmentId};
use crate::jobs::dispatch_plan::{DispatchPlan, plan_dispatch};
use crate::jobs::lookup::consignment_status;
use crate::nexus::wire::Consignment;
use crate::nexus::{ConsignmentQuery, NexusClient, NexusError};
use crate::qargo::dispatch_webhook::DispatchWebhook;
use crate::store::{Booking, ClaimOutcome, DispatchClaim, DispatchRecord, DispatchState, QargoLink};
use crate::wiring::Bridge;

use cancel::cancel;
use labels::{Attached, finish_labels};
use update::{remove_replaced_barcodes, update};

/// How long a claim protects a booking in progress; a holder that dies is replaced after it.
pub const CLAIM_LEASE: SignedDuration = SignedDuration::from_secs(120);
/// How long a delivery waits for another holder of the same dispatch before answering "retry".
pub const BUSY_WAIT: Duration = Duration::from_secs(10);
/// Qargo's document type for labels made by the network.
pub const LABEL_DOCUMENT_TYPE: &str = "PALLET_LABEL_EXTERNAL";

/// Qargo's three error types for a dispatch answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DispatchErrorType {
    /// The dispatch is wrong; the user must change it.
    UserInputError,
    /// Something failed on our side or at Nexus; Qargo may retry.
    InternalError,
    /// The operation cannot be done in this state.
    NotSupported,
}

/// One error of the answer, in Qargo's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchError {
    /// The kind.
    pub error_type: DispatchErrorType,
    /// What happened and what to do.
    pub error_message: String,
    /// The payload field at fault, when there is one (ours; Qargo ignores it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// What the booking is now, for the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookingSummary {
    /// `PALLEX` or `FORTEC`.
    pub network: String,
    /// Nexus `consignmentID`.
    pub nexus_consignment_id: i64,
    /// The consignment number on Nexus.
    pub consignment_number: String,
    /// One barcode per pallet.
    pub pallet_barcodes: Vec<String>,
    /// Where the labels are stored.
    pub label_keys: Vec<String>,
    /// The ledger state: `BOOKED`, `LABELLED` or `CANCELLED`.
    pub state: DispatchState,
}

/// The answer to a dispatch webhook: Qargo's `{errors}` plus what was done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DispatchAnswer {
    /// Empty on success.
    pub errors: Vec<DispatchError>,
    /// What happened, in a word: `booked`, `already booked`, `rebooked`, `unchanged`, `cancelled`,
    /// `nothing to cancel`, `refused`, `failed`.
    pub result: String,
    /// The booking, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingSummary>,
    /// Things the dispatcher should know that did not stop the dispatch (e.g. a rolled collection
    /// date, labels still pending).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The most refusals one answer lists; the rest are counted.
pub const MAX_VIOLATIONS_LISTED: usize = 50;

impl DispatchAnswer {
    fn refused(mut violations: Vec<Violation>) -> DispatchAnswer {
        if violations.len() > MAX_VIOLATIONS_LISTED {
            let more = violations.len() - MAX_VIOLATIONS_LISTED;
            violations.truncate(MAX_VIOLATIONS_LISTED);
            violations.push(Violation {
                field: "payload".into(),
                message: format!("and {more} more problems of the same kinds: fix these and send it again"),
            });
        }
        let errors = violations
            .into_iter()
            .map(|v| DispatchError {
                error_type: DispatchErrorType::UserInputError,
                error_message: v.to_string(),
                field: Some(v.field),
            })
            .collect();
        DispatchAnswer { errors, result: "refused".into(), ..DispatchAnswer::default() }
    }

    fn error(error_type: DispatchErrorType, message: impl Into<String>) -> DispatchAnswer {
        let result = match error_type {
            DispatchErrorType::UserInputError | DispatchErrorType::NotSupported => "refused",
            DispatchErrorType::InternalError => "failed",
        };
        DispatchAnswer {
            errors: vec![DispatchError { error_type, error_message: message.into(), field: None }],
            result: result.into(),
            ..DispatchAnswer::default()
        }
    }

    fn internal(message: impl Into<String>) -> DispatchAnswer {
        DispatchAnswer::error(DispatchErrorType::InternalError, message)
    }

    /// The answer for a recorded booking. A booking whose labels are not attached yet is answered
    /// with a retryable error (and the booking), so that Qargo's retry attaches them — a retry
    /// finds the booking on the ledger and never books again.
    fn with_booking(result: &str, record: &DispatchRecord, warnings: Vec<String>) -> DispatchAnswer {
        let mut answer =
            DispatchAnswer { result: result.into(), booking: summary(record), warnings, errors: Vec::new() };
        if let (DispatchState::Booked, Some(booking)) = (record.state, &answer.booking) {
            answer.errors.push(DispatchError {
                error_type: DispatchErrorType::InternalError,
                error_message: format!(
                    "booked on {} as {} (Nexus {}), but the labels are not attached yet: {}; retry the dispatch to attach them — it will not book again",
                    booking.network,
                    booking.consignment_number,
                    booking.nexus_consignment_id,
                    answer.warnings.join("; ")
                ),
                field: None,
            });
            answer.result = format!("{result}, labels pending");
        }
        answer
    }

    /// Whether Qargo should send the dispatch again (an `INTERNAL_ERROR`: an outage, a booking in
    /// progress), as opposed to a success or a refusal that needs a person.
    pub fn is_retryable(&self) -> bool {
        self.errors.iter().any(|e| e.error_type == DispatchErrorType::InternalError)
    }
}

fn summary(record: &DispatchRecord) -> Option<BookingSummary> {
    let booking = record.booking.as_ref()?;
    Some(BookingSummary {
        network: booking.network.code().to_owned(),
        nexus_consignment_id: booking.nexus_consignment_id.0,
        consignment_number: booking.consignment_number.clone(),
        pallet_barcodes: booking.barcodes.iter().map(ToString::to_string).collect(),
        label_keys: booking.label_keys.clone(),
        state: record.state,
    })
}

/// Handles one Subcontractor Dispatch webhook.
pub async fn handle_dispatch(bridge: &Bridge, webhook: DispatchWebhook) -> DispatchAnswer {
    let Some(trip) = webhook.payload else {
        return DispatchAnswer::refused(vec![Violation {
            field: "payload".into(),
            message: "the dispatch has no payload (the trip): check the integration's webhook format".into(),
        }]);
    };
    let operation = webhook.operation.unwrap_or_default().trim().to_ascii_uppercase();
    let answer = match operation.as_str() {
        "CREATE" => match plan_dispatch(&trip, &bridge.settings) {
            Ok(plan) => create(bridge, plan).await,
            Err(violations) => DispatchAnswer::refused(violations),
        },
        "UPDATE" => match plan_dispatch(&trip, &bridge.settings) {
            Ok(plan) => update(bridge, plan).await,
            Err(violations) => DispatchAnswer::refused(violations),
        },
        "CANCEL" => cancel(bridge, &trip).await,
        other => DispatchAnswer::refused(vec![Violation {
            field: "operation".into(),
            message: format!(
                "'{}' is not a dispatch operation: Qargo sends CREATE, UPDATE or CANCEL",
                crate::error::shown(other)
            ),
        }]),
    };
    tracing::info!(
        operation = %operation,
        trip = trip.name.as_deref().unwrap_or("?"),
        result = %answer.result,
        network = answer.booking.as_ref().map(|b| b.network.as_str()).unwrap_or("-"),
        consignment = answer.booking.as_ref().map(|b| b.consignment_number.as_str()).unwrap_or("-"),
        nexus_id = answer.booking.as_ref().map(|b| b.nexus_consignment_id).unwrap_or_default(),
        pallets = answer.booking.as_ref().map(|b| b.pallet_barcodes.len()).unwrap_or_default(),
        labels = ?answer.booking.as_ref().map(|b| &b.label_keys),
        errors = ?answer.errors.iter().map(|e| e.error_message.as_str()).collect::<Vec<_>>(),
        warnings = ?answer.warnings,
        "dispatch handled"
    );
    answer
}

/// Books a planned dispatch once, however often and however concurrently it is delivered.
async fn create(bridge: &Bridge, mut plan: DispatchPlan) -> DispatchAnswer {
    let id = plan.qargo_consignment_id.clone();
    let started = tokio::time::Instant::now();
    let mut waits = 0u32;
    // The depot user's Nexus session is opened while the ledger claims (a cold start's login and
    // its first DynamoDB write at once); a failed login is only logged here: the booking reports it.
    let nexus = bridge.nexus.for_depot(&plan.depot);
    let log_in = async {
        if let Some(nexus) = &nexus {
            nexus.log_in_ahead().await;
        }
    };
    let (first_claim, ()) = tokio::join!(bridge.ledger.claim(&id, bridge.clock.now(), CLAIM_LEASE), log_in);
    let mut first_claim = Some(first_claim);
    loop {
        let claim = match first_claim.take() {
            Some(claimed) => claimed,
            None => bridge.ledger.claim(&id, bridge.clock.now(), CLAIM_LEASE).await,
        };
        let claimed = match claim {
            Ok(outcome) => outcome,
            Err(err) => return DispatchAnswer::internal(format!("the dispatch ledger is unavailable ({err}); retry")),
        };
        match claimed {
            ClaimOutcome::Claimed { claim, previous } => return book_claimed(bridge, &mut plan, claim, previous).await,
            ClaimOutcome::Done(record) => {
                let (record, warnings) = finish_labels(bridge, &plan, record, Attached::Maybe, None).await;
                return DispatchAnswer::with_booking("already booked", &record, warnings);
            }
            ClaimOutcome::Busy { lease_expires_at } => {
                if started.elapsed() >= BUSY_WAIT {
                    return DispatchAnswer::internal(format!(
                        "this consignment is being booked by another delivery of the same dispatch (its claim runs until {lease_expires_at}); retry in a minute"
                    ));
                }
                // Back off (100 ms doubling to 1 s, jittered) so many waiting deliveries do not
                // hammer the ledger while the holder books.
                waits += 1;
                let ceiling = (100u64 << waits.min(4)).min(1000);
                tokio::time::sleep(Duration::from_millis(ceiling / 2 + fastrand::u64(0..=ceiling / 2))).await;
            }
        }
    }
}

/// The holder's part: recover a booking a previous holder made, or book, then record and label.
async fn book_claimed(
    bridge: &Bridge,
    plan: &mut DispatchPlan,
    claim: DispatchClaim,
    previous: Option<DispatchRecord>,
) -> DispatchAnswer {
    let Some(nexus) = bridge.nexus.for_depot(&plan.depot) else {
        let reason = format!("no Nexus credentials for depot {}: add its user to the bridge's secret", plan.depot);
        return fail(bridge, &claim, DispatchAnswer::internal(reason)).await;
    };
    let mut generation = 1;
    let mut warnings = Vec::new();
    if let Some(asked) = plan.requested_network {
        warnings.push(format!(
            "{} booked on {}: depot {} books its {} work there (BRIDGE_DEPOTS flag fortec-via-pallex)",
            asked.resource_code(),
            plan.network.display_name(),
            plan.depot,
            asked.display_name()
        ));
    }
    let mut adopted = None;
    if let Some(previous) = &previous {
        match recover(&nexus, plan, previous).await {
            Ok(Recovery::Adopt(consignment)) => adopted = Some(*consignment),
            Ok(Recovery::BookGeneration(next)) => generation = next,
            Err(err) => return fail(bridge, &claim, nexus_failure(&err, "looking up the earlier booking")).await,
        }
    }
    let consignment = match adopted {
        Some(consignment) => {
            tracing::warn!(number = %consignment.consignment_number, "adopted a booking made by an interrupted dispatch");
            consignment
        }
        None => {
            match plan.schedule_collection(bridge.clock.now(), bridge.settings.cutoff_policy) {
                Ok(note) => warnings.extend(note),
                Err(violation) => {
                    let _ = bridge.ledger.record_failed(&claim, &violation.to_string(), bridge.clock.now()).await;
                    return DispatchAnswer::refused(vec![violation]);
                }
            }
            let number = consignment_number(&plan.qargo_order_name, generation);
            plan.body.general.consignment_number = number.clone();
            match nexus.create_consignment(&plan.body).await {
                Ok(consignment) => consignment,
                Err(NexusError::Conflict { .. }) => match find_by_number(&nexus, plan, &number).await {
                    Ok(Some(consignment)) => consignment,
                    Ok(None) => {
                        let answer = DispatchAnswer::internal(format!(
                            "Nexus says consignment number {number} exists but it cannot be found; retry"
                        ));
                        return fail(bridge, &claim, answer).await;
                    }
                    Err(err) => return fail(bridge, &claim, nexus_failure(&err, "finding the booking")).await,
                },
                Err(err) => return fail(bridge, &claim, nexus_failure(&err, "booking")).await,
            }
        }
    };
    // The create answer's `successfulTrackingCodes` (seen) are the barcodes when the read model
    // lists no pallets (capability `pallets-field` off).
    let tracking_codes = consignment.successful_tracking_codes.clone();
    let consignment = match with_pallets(&nexus, consignment).await {
        Ok(consignment) => consignment,
        Err(err) => return fail(bridge, &claim, nexus_failure(&err, "reading the booked pallets")).await,
    };
    let barcodes: Vec<Barcode> = if consignment.pallets.is_empty() {
        tracking_codes.iter().filter_map(|code| code.trim().parse::<Barcode>().ok()).collect()
    } else {
        consignment.pallets.iter().filter_map(|p| p.barcode.parse::<Barcode>().ok()).collect()
    };
    let booking = Booking {
        network: plan.network,
        nexus_consignment_id: NexusConsignmentId(consignment.consignment_id),
        consignment_number: consignment.consignment_number.clone(),
        barcodes,
        label_keys: Vec::new(),
        depot: Some(plan.depot.clone()),
        request_fingerprint: Some(plan.fingerprint()),
        superseded_fingerprints: previous
            .as_ref()
            .filter(|p| p.state == DispatchState::Cancelled)
            .and_then(|p| p.booking.as_ref())
            .map(Booking::superseded_by_next)
            .unwrap_or_default(),
    };
    let record = match bridge.ledger.record_booked(&claim, booking, bridge.clock.now()).await {
        Ok(record) => record,
        Err(err) => {
            // The claim stays in progress; when its lease runs out the next delivery adopts the
            // booking by its number instead of booking again.
            return DispatchAnswer::internal(format!(
                "booked on Nexus as {} but the ledger could not record it ({err}); retry — the booking will be found, not repeated",
                consignment.consignment_number
            ));
        }
    };
    // A booking made by this delivery cannot have labels in Qargo yet: no need to ask Qargo.
    let booked_before = previous.as_ref().and_then(|p| p.booking.as_ref()).map(|b| b.nexus_consignment_id);
    let attached = match record.booking.as_ref().map(|b| b.nexus_consignment_id) {
        Some(id) if booked_before != Some(id) => Attached::No,
        _ => Attached::Maybe,
    };
    // The Qargo link is written with the label lease: one save of the sync state, not two.
    let (record, label_warnings) = finish_labels(bridge, plan, record, attached, Some(qargo_link(plan))).await;
    warnings.extend(label_warnings);
    let replaced = previous.as_ref().filter(|p| p.state == DispatchState::Cancelled).and_then(|p| p.booking.as_ref());
    if let Some(old) = replaced
        && let Err(warning) = remove_replaced_barcodes(bridge, plan, old).await
    {
        warnings.push(warning);
    }
    let result = if replaced.is_some() { "rebooked" } else { "booked" };
    DispatchAnswer::with_booking(result, &record, warnings)
}

/// Where the dispatch lives in Qargo (order and stop ids).
fn qargo_link(plan: &DispatchPlan) -> QargoLink {
    QargoLink {
        order_id: plan.qargo_order_id.clone(),
        order_name: Some(plan.qargo_order_name.clone()),
        consignment_id: Some(plan.qargo_consignment_id.to_string()),
        pickup_stop_id: plan.pickup_stop_id.clone(),
        delivery_stop_id: plan.delivery_stop_id.clone(),
    }
}

enum Recovery {
    Adopt(Box<Consignment>),
    BookGeneration(u32),
}

/// What an earlier claim left behind: a live booking to adopt, or the number to book under next.
async fn recover(nexus: &NexusClient, plan: &DispatchPlan, previous: &DispatchRecord) -> Result<Recovery, NexusError> {
    let mut generation = 1;
    if let Some(booking) = &previous.booking {
        generation = number_generation(&booking.consignment_number);
        let cancelled = previous.state == DispatchState::Cancelled || {
            let current = nexus.consignment(booking.nexus_consignment_id, &[]).await?;
            consignment_status(&current).is_some_and(|s| s.code() == "CAN")
        };
        if !cancelled {
            let current = nexus.consignment(booking.nexus_consignment_id, &["pallets"]).await?;
            return Ok(Recovery::Adopt(Box::new(current)));
        }
        generation += 1;
    }
    if previous.state == DispatchState::Cancelled {
        return Ok(Recovery::BookGeneration(generation));
    }
    // The previous holder may have booked without recording it: look for the number it used.
    let number = consignment_number(&plan.qargo_order_name, generation);
    Ok(match find_by_number(nexus, plan, &number).await? {
        Some(found) if consignment_status(&found).is_none_or(|s| s.code() != "CAN") => Recovery::Adopt(Box::new(found)),
        Some(_) => Recovery::BookGeneration(generation + 1),
        None => Recovery::BookGeneration(generation),
    })
}

/// Our consignment number for the `generation`-th booking of a Qargo order: the order name, then
/// `R2`, `R3`… for re-bookings after a cancel (Nexus numbers are unique per customer).
pub fn consignment_number(order_name: &str, generation: u32) -> String {
    let stem: String = order_name.chars().filter(|c| !c.is_whitespace()).take(30).collect();
    if generation <= 1 { stem } else { format!("{stem}R{generation}") }
}

fn number_generation(number: &str) -> u32 {
    number.rsplit_once('R').and_then(|(_, n)| n.parse::<u32>().ok()).filter(|n| *n >= 2).unwrap_or(1)
}

async fn find_by_number(
    nexus: &NexusClient,
    plan: &DispatchPlan,
    number: &str,
) -> Result<Option<Consignment>, NexusError> {
    let query = ConsignmentQuery {
        search_term: Some(number.to_owned()),
        customer_id: Some(plan.body.general.customer_id),
        ..ConsignmentQuery::default()
    };
    let page = nexus.list_consignments(&query, 20, 0).await?;
    let found = page.items.into_iter().find(|c| c.consignment_number.eq_ignore_ascii_case(number));
    match found {
        Some(c) => Ok(Some(nexus.consignment(NexusConsignmentId(c.consignment_id), &["pallets"]).await?)),
        None => Ok(None),
    }
}

async fn with_pallets(nexus: &NexusClient, consignment: Consignment) -> Result<Consignment, NexusError> {
    if !consignment.pallets.is_empty() || !consignment.successful_tracking_codes.is_empty() {
        return Ok(consignment);
    }
    nexus.consignment(NexusConsignmentId(consignment.consignment_id), &["pallets"]).await
}

/// Records a failed attempt (so the next claim recovers rather than trusts) and passes the answer on.
async fn fail(bridge: &Bridge, claim: &DispatchClaim, answer: DispatchAnswer) -> DispatchAnswer {
    let reason = answer.errors.iter().map(|e| e.error_message.as_str()).collect::<Vec<_>>().join("; ");
    if let Err(err) = bridge.ledger.record_failed(claim, &reason, bridge.clock.now()).await {
        tracing::warn!(error = %err, "could not record the failed dispatch; its claim will expire");
    }
    answer
}

/// Maps a Nexus failure to the answer: the user's to fix, the state's, or ours to retry.
fn nexus_failure(err: &NexusError, doing: &str) -> DispatchAnswer {
    match err {
        NexusError::Rejected { .. } => {
            DispatchAnswer::error(DispatchErrorType::UserInputError, format!("Nexus refused the booking: {err}"))
        }
        NexusError::Conflict { .. } => DispatchAnswer::error(DispatchErrorType::NotSupported, err.to_string()),
        NexusError::Unauthorized { .. } => DispatchAnswer::internal(format!(
            "{err}: check the depot's Nexus API user in the bridge's secret, then retry"
        )),
        _ => DispatchAnswer::internal(format!("Nexus failed while {doing}: {err}; retry")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_per_generation() {
        assert_eq!(consignment_number("OR-10001", 1), "OR-10001");
        assert_eq!(consignment_number("OR-10001", 2), "OR-10001R2");
        assert_eq!(number_generation("OR-10001"), 1);
        assert_eq!(number_generation("OR-10001R2"), 2);
        assert_eq!(number_generation("OR-10001R12"), 12);
        assert_eq!(number_generation("ROR-1"), 1);
    }

    #[test]
    fn a_refusal_lists_at_most_fifty_problems_and_counts_the_rest() {
        let many = (0..60).map(|n| Violation { field: format!("f{n}"), message: "m".into() }).collect();
        let answer = DispatchAnswer::refused(many);
        assert_eq!(answer.errors.len(), MAX_VIOLATIONS_LISTED + 1);
        assert!(answer.errors.last().unwrap().error_message.contains("10 more"), "{:?}", answer.errors.last());
    }

    #[test]
    fn errors_are_typed_for_qargo() {
        let mut answer = DispatchAnswer::default();
        assert!(answer.errors.is_empty() && !answer.is_retryable());
        answer = DispatchAnswer::refused(vec![Violation { field: "f".into(), message: "m".into() }]);
        assert_eq!(answer.errors[0].error_type, DispatchErrorType::UserInputError);
        assert_eq!(answer.errors[0].error_message, "f: m");
        assert!(!answer.is_retryable());
        assert!(!DispatchAnswer::error(DispatchErrorType::NotSupported, "x").is_retryable());
        assert!(DispatchAnswer::internal("x").is_retryable());
    }
}
