//! ETA export, Qargo → Nexus: an `Eta` update of the visibility webhook (the stops of one order whose
//! ETA moved) becomes `PUT consignments/{id}/eta` on Nexus for each consignment we deliver. This is
//! the optional Optimize module: without an Optimize API key in the secrets it is off and every
//! update is acknowledged and dropped. The rules are in [`crate::rules::eta`]; this job finds the
//! consignments, keeps the pushes to one per consignment, and sends.
//!
//! For one update, the cheap checks first, so the many updates that send nothing cost no request:
//!
//! 1. **Optimize key** configured, else nothing ([`EtaOutcome::OptimizeOff`]).
//! 2. **Per stop**: a `DELIVERY` stop of a consignment another depot booked for us, i.e. one the
//!    order import created, whose stop reference is `NEXUS-<network>-<id>-D`
//!    ([`crate::qargo::inbound_order::stop_reference`]). Orders the bridge booked itself (dispatch) are
//!    on the network's trip: their delivery is another depot's, or both legs are ours, and then
//!    Palletline sends nothing either (no sync when both depots are the tenant's). Then the stop must
//!    be ready ([`stop_readiness`]: on a planned or running trip, not started) and carry an ETA.
//! 3. **Group by consignment**: one Qargo call lists many stops; each consignment is handled once
//!    per update, with the last of its stops ([`EtaOutcome::Coalesced`] for the others).
//! 4. **Worth sending**, against what Nexus was last sent ([`ConsignmentSync::eta_last_sent`]):
//!    [`is_worth_sending`] (threshold `ETA_THRESHOLD_MINUTES`). An update older than the one last sent
//!    is stale (EventBridge does not keep order).
//! 5. **Claim** the push under the versioned save of the sync state: the new ETA is recorded as last
//!    sent with a hold (`eta_pushing_until`) *before* the request. Of any number of deliveries of the
//!    same burst (EventBridge's at-least-once delivery, Qargo's retries, concurrent invocations) one
//!    wins the save; the others reload, find the ETA there and send nothing. A different ETA arriving
//!    while a push holds the record is an error, so it is retried once that push is over and Nexus
//!    receives the estimates in order. A crashed push's hold passes and the next update sends again.
//! 6. **Our delivery depot**: the first time, the consignment is read from Nexus (as each of our depots
//!    on its network until one sees it); the ETA goes only when one of our depots is its delivery
//!    depot and not also its collecting depot, and it is not finished. The depot is remembered
//!    (`eta_delivery_depot`), so later ETAs cost the one `PUT`; if Nexus refuses that depot (403,
//!    404: re-routed), the consignment is read again.
//! 7. **Push** as that depot, with the Optimize key: `estimatedDelDate`, `estimatedDelTime`,
//!    `startWindow`, `endWindow` in UK local time. Then the hold is released (`eta_last_sent` stays);
//!    on any failure the claim is undone, so `eta_last_sent` is always what Nexus has.
//!
//! Failures that may pass (Nexus unavailable, our credentials refused, the store, a push in flight)
//! are errors: the update is retried (EventBridge, then the dead-letter queue; in process, Qargo's
//! retry). A refusal that will not pass (the consignment finished or cancelled on Nexus: 409, or a
//! validation error) is logged and dropped: [`EtaOutcome::Refused`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::domain::{DepotCode, DepotRole, Network, NexusConsignmentId};
use crate::error::StoreError;
use crate::jobs::lookup::{LinkRefused, check_order_link, read_consignment};
use crate::jobs::status_sync::roles_of;
use crate::nexus::NexusError;
use crate::nexus::capabilities::Capability;
use crate::nexus::wire::EtaUpdate as NexusEta;
use crate::qargo::inbound_order::stop_reference;
use crate::rules::eta::{DeliveryEstimate, StopReadiness, hh_mm, is_worth_sending, stop_readiness};
use crate::rules::status_effects::{StopKind, is_status_synced};
use crate::store::{ConsignmentSync, EtaSent, SyncKey};
use crate::visibility::{InvalidVisibility, RoutedUpdate, VisibilityStop};
use crate::wiring::Bridge;

/// How long a claimed push holds the consignment's record: longer than a push with its retries and
/// a read takes (two Nexus calls of at most 25 s each), within the function's timeout.
pub const PUSH_HOLD: SignedDuration = SignedDuration::from_secs(120);
/// Saves of the sync state tried before giving up on a record others keep changing.
const SAVE_ATTEMPTS: u32 = 10;
/// Nexus's `source` of an Optimize ETA.
const OPTIMIZE_SOURCE: &str = "OPTIMIZE";

/// What the export did with one `Eta` update: an outcome for every stop it listed, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EtaReport {
    /// The Qargo order the update concerns.
    pub order_id: String,
    /// One per stop of the update.
    pub stops: Vec<StopOutcome>,
}

impl EtaReport {
    /// How many ETAs went to Nexus.
    pub fn sent(&self) -> usize {
        self.stops.iter().filter(|stop| matches!(stop.outcome, EtaOutcome::Sent { .. })).count()
    }
}

/// What happened to one stop of the update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopOutcome {
    /// The Qargo stop.
    pub stop_id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: EtaOutcome,
}

/// What the export did with one stop. Every variant but [`EtaOutcome::Sent`] sent nothing, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EtaOutcome {
    /// The ETA was sent to Nexus.
    Sent {
        /// Network.
        network: Network,
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Our depot that delivers it, which sent it.
        depot: DepotCode,
        /// `estimatedDelDate`.
        estimated_del_date: jiff::civil::Date,
        /// `estimatedDelTime`, `HH:mm` UK local time.
        estimated_del_time: String,
        /// `startWindow`, when there is a window.
        start_window: Option<String>,
        /// `endWindow`, when there is a window.
        end_window: Option<String>,
    },
    /// No Optimize API key is configured: ETA export is off.
    OptimizeOff,
    /// This Nexus has no ETA endpoint (the `eta` capability is off): refused, logged.
    NotSupported {
        /// The refusal.
        reason: String,
    },
    /// A pickup (or another kind of) stop: only delivery ETAs go to Nexus.
    NotADelivery {
        /// The stop's type.
        stop_type: String,
    },
    /// Not the delivery stop of a consignment another depot booked for us (module docs, step 2).
    NotInbound {
        /// The stop's reference, if any.
        stop_reference: Option<String>,
    },
    /// The stop is not on a planned or running trip, has started, or is cancelled.
    NotReady {
        /// The stop's status.
        status: String,
        /// Why.
        reason: &'static str,
    },
    /// The stop carries no estimated start.
    NoEta,
    /// The estimate is further from now than any delivery can be (more than a year): not sent.
    OutOfRange {
        /// The estimate as given.
        eta: String,
    },
    /// Another stop of the same update stands for this consignment.
    Coalesced {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
    },
    /// The ETA moved less than the threshold from the one last sent (or being sent).
    Unchanged {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
    },
    /// The update is older than the one whose ETA was last sent.
    Stale {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
    },
    /// None of our depots delivers the consignment (or both its legs are ours).
    NotOurDelivery {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Our roles on it.
        roles: Vec<DepotRole>,
    },
    /// The consignment is finished on Nexus (delivered, returned, cancelled).
    Finished {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// Its status.
        status: String,
    },
    /// None of our depots sees the consignment on Nexus.
    UnknownConsignment {
        /// Network.
        network: Network,
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
    },
    /// Nexus refused the ETA (finished, or invalid); retrying will not help, so it is dropped.
    Refused {
        /// Nexus consignment.
        nexus_consignment_id: NexusConsignmentId,
        /// What Nexus said.
        reason: String,
    },
}

/// A failure worth retrying: the caller fails, and the update comes again.
#[derive(Debug, thiserror::Error)]
pub enum EtaExportError {
    /// The update is not a readable `Eta` update.
    #[error(transparent)]
    Invalid(#[from] InvalidVisibility),
    /// Nexus did not answer usefully, or refused our credentials.
    #[error("Nexus: {0}")]
    Nexus(#[from] NexusError),
    /// The sync state could not be read or written.
    #[error("sync state: {0}")]
    Store(#[from] StoreError),
    /// The order's link to the consignment could not be checked (Qargo or the store unavailable).
    #[error("{0}")]
    Link(String),
    /// Another ETA of this consignment is being pushed; this one goes after it.
    #[error("an ETA push for {key} is in flight; this later estimate is sent after it")]
    InFlight {
        /// The record.
        key: String,
    },
    /// The sync state kept changing under us.
    #[error("the sync state of {key} kept changing; retry")]
    Contention {
        /// The record.
        key: String,
    },
    /// Our delivery depot has no Nexus user in the secrets.
    #[error("no Nexus user for depot {depot} in the secrets: add it to send its ETAs")]
    NoCredentials {
        /// The depot.
        depot: DepotCode,
    },
}

/// Exports one `Eta` update (module docs). Every consignment of the update is tried; the first
/// retryable failure is returned after the others were handled.
pub async fn export_eta_update(bridge: &Bridge, update: &RoutedUpdate) -> Result<EtaReport, EtaExportError> {
    let eta = update.eta_update()?;
    let order_id = update.order.as_ref().map(|order| order.id.clone()).or_else(|| eta.id.clone()).unwrap_or_default();
    if bridge.secrets.optimize_api_key.is_none() {
        tracing::debug!(order_id, "ETA update dropped: no Optimize API key, ETA export is off");
        let stops = eta.stops.iter().map(|s| StopOutcome { stop_id: s.id.clone(), outcome: EtaOutcome::OptimizeOff });
        return Ok(EtaReport { order_id, stops: stops.collect() });
    }
    if let Err(refusal) =
        bridge.settings.nexus_capabilities.require(Capability::Eta, format!("sending the ETAs of order {order_id}"))
    {
        let outcome = EtaOutcome::NotSupported { reason: refusal.to_string() };
        let stops = eta.stops.iter().map(|s| StopOutcome { stop_id: s.id.clone(), outcome: outcome.clone() });
        return Ok(EtaReport { order_id, stops: stops.collect() });
    }

    let mut outcomes: Vec<Option<EtaOutcome>> = vec![None; eta.stops.len()];
    let mut wanted: BTreeMap<(Network, NexusConsignmentId), (usize, DeliveryEstimate)> = BTreeMap::new();
    for (index, stop) in eta.stops.iter().enumerate() {
        match plan_stop(stop, update.timestamp) {
            Err(outcome) => outcomes[index] = Some(outcome),
            Ok((key, estimate)) => {
                let entry = (key.network, key.nexus_consignment_id);
                if let Some((earlier, _)) = wanted.insert(entry, (index, estimate)) {
                    outcomes[earlier] = Some(EtaOutcome::Coalesced { nexus_consignment_id: key.nexus_consignment_id });
                }
            }
        }
    }

    // Only consignments the bridge linked to this order: the stop references in the body decide nothing.
    for (network, nexus_consignment_id) in wanted.keys() {
        let key = SyncKey { network: *network, nexus_consignment_id: *nexus_consignment_id };
        match check_order_link(bridge, key, &order_id).await {
            Ok(()) => {}
            Err(LinkRefused::NotLinked(reason)) => return Err(EtaExportError::Invalid(InvalidVisibility(reason))),
            Err(LinkRefused::Unavailable(reason)) => return Err(EtaExportError::Link(reason)),
        }
    }
    let mut first_failure = None;
    for ((network, nexus_consignment_id), (index, estimate)) in wanted {
        let key = SyncKey { network, nexus_consignment_id };
        match export_consignment(bridge, key, &estimate, update.timestamp).await {
            Ok(outcome) => outcomes[index] = Some(outcome),
            Err(err) => {
                tracing::warn!(consignment = %nexus_consignment_id, %network, error = %err, "ETA not exported; retried");
                first_failure.get_or_insert(err);
            }
        }
    }
    if let Some(err) = first_failure {
        return Err(err);
    }
    let stops = eta
        .stops
        .iter()
        .zip(outcomes)
        .map(|(stop, outcome)| StopOutcome { stop_id: stop.id.clone(), outcome: outcome.expect("every stop decided") })
        .collect();
    Ok(EtaReport { order_id, stops })
}

/// The consignment and estimate a stop stands for, or why it sends nothing (steps 2 and 3).
fn plan_stop(stop: &VisibilityStop, sent_at: Timestamp) -> Result<(SyncKey, DeliveryEstimate), EtaOutcome> {
    if stop.stop_type.parse::<StopKind>() != Ok(StopKind::Delivery) {
        return Err(EtaOutcome::NotADelivery { stop_type: stop.stop_type.clone() });
    }
    let key =
        inbound_delivery(stop).ok_or_else(|| EtaOutcome::NotInbound { stop_reference: stop.stop_reference.clone() })?;
    let readiness = stop_readiness(&stop.status, stop.actual_start_timestamp.is_some());
    if let Some(reason) = readiness.reason() {
        return Err(EtaOutcome::NotReady { status: stop.status.clone(), reason });
    }
    debug_assert_eq!(readiness, StopReadiness::Ready);
    let start = stop.eta_start_time.ok_or(EtaOutcome::NoEta)?;
    // The same horizon as a booking's dates: an estimate a year away is a mistake, not a plan.
    let horizon = jiff::SignedDuration::from_hours(24 * i64::from(crate::rules::cutoff::BOOKING_HORIZON_DAYS));
    if start.duration_since(sent_at).abs() > horizon {
        return Err(EtaOutcome::OutOfRange { eta: start.to_string() });
    }
    Ok((key, DeliveryEstimate::from_eta(start, stop.eta_end_time)))
}

/// The consignment whose imported delivery stop this is: its reference is the order import's
/// `NEXUS-<network>-<id>-D`, read back through [`stop_reference`] so the format lives in one place.
pub fn inbound_delivery(stop: &VisibilityStop) -> Option<SyncKey> {
    let reference = stop.stop_reference.as_deref()?.trim();
    let (rest, _kind) = reference.rsplit_once('-')?;
    let (rest, id) = rest.rsplit_once('-')?;
    let (_prefix, network) = rest.split_once('-')?;
    let network: Network = network.parse().ok()?;
    let nexus_consignment_id: NexusConsignmentId = id.parse().ok()?;
    (stop_reference(network, nexus_consignment_id, StopKind::Delivery) == reference)
        .then_some(SyncKey { network, nexus_consignment_id })
}

/// A push this invocation holds (step 5): what it recorded, and what to put back if it fails.
#[derive(Debug, Clone)]
struct Claim {
    sent: EtaSent,
    hold_until: Timestamp,
    previous: (Option<EtaSent>, Option<Timestamp>),
    known_depot: Option<DepotCode>,
}

/// Steps 4 to 7 for one consignment.
async fn export_consignment(
    bridge: &Bridge,
    key: SyncKey,
    estimate: &DeliveryEstimate,
    as_of: Timestamp,
) -> Result<EtaOutcome, EtaExportError> {
    let claim = match claim_push(bridge, key, estimate, as_of).await? {
        Ok(claim) => claim,
        Err(outcome) => return Ok(outcome),
    };
    let pushed = push(bridge, key, estimate, &claim).await;
    match &pushed {
        Ok(EtaOutcome::Sent { depot, .. }) => confirm(bridge, key, &claim, depot).await?,
        _ => release(bridge, key, &claim).await?,
    }
    pushed
}

/// Records the new ETA as last sent, with a hold, if it is worth sending; `Err(outcome)` when not.
async fn claim_push(
    bridge: &Bridge,
    key: SyncKey,
    estimate: &DeliveryEstimate,
    as_of: Timestamp,
) -> Result<Result<Claim, EtaOutcome>, EtaExportError> {
    let id = key.nexus_consignment_id;
    for _ in 0..SAVE_ATTEMPTS {
        let mut state = bridge.sync_state.load(&key).await?.unwrap_or_default();
        let now = bridge.clock.now();
        if state.eta_as_of.is_some_and(|last| as_of < last) {
            return Ok(Err(EtaOutcome::Stale { nexus_consignment_id: id }));
        }
        let in_flight = state.eta_pushing_until.is_some_and(|until| until > now);
        let crashed = state.eta_pushing_until.is_some_and(|until| until <= now);
        // A push that crashed may not have reached Nexus: compare with nothing, send again.
        let last = if crashed { None } else { state.eta_last_sent.as_ref().and_then(estimate_of) };
        if !is_worth_sending(last.as_ref(), estimate, bridge.settings.eta_threshold) {
            return Ok(Err(EtaOutcome::Unchanged { nexus_consignment_id: id }));
        }
        if in_flight {
            return Err(EtaExportError::InFlight { key: key.storage_key() });
        }
        let claim = Claim {
            sent: sent(estimate, now),
            hold_until: now + PUSH_HOLD,
            previous: (state.eta_last_sent.clone(), state.eta_as_of),
            known_depot: state.eta_delivery_depot.clone(),
        };
        state.eta_last_sent = Some(claim.sent.clone());
        state.eta_as_of = Some(as_of);
        state.eta_pushing_until = Some(claim.hold_until);
        if bridge.sync_state.save(&key, &state).await? {
            return Ok(Ok(claim));
        }
    }
    Err(EtaExportError::Contention { key: key.storage_key() })
}

/// Sends the claimed ETA as our delivery depot (steps 6 and 7); a refusal that will not pass is an
/// outcome, not an error.
async fn push(
    bridge: &Bridge,
    key: SyncKey,
    estimate: &DeliveryEstimate,
    claim: &Claim,
) -> Result<EtaOutcome, EtaExportError> {
    let id = key.nexus_consignment_id;
    let body = nexus_eta(estimate);
    if let Some(depot) = &claim.known_depot {
        match put(bridge, key, depot, &body).await? {
            Put::Sent => return Ok(sent_outcome(key, depot, &body)),
            // Re-routed, or no longer visible to that depot: find the delivery depot again.
            Put::Refused(NexusError::NotFound { .. } | NexusError::Rejected { status: 403, .. }) => {}
            Put::Refused(err) => return Ok(refused(id, &err)),
        }
    }
    let mut requests = 0;
    let Some(consignment) = read_consignment(bridge, key, &[], &[], &mut requests).await? else {
        return Ok(EtaOutcome::UnknownConsignment { network: key.network, nexus_consignment_id: id });
    };
    let ours: BTreeSet<&DepotCode> = bridge.settings.depots.iter().map(|depot| &depot.code).collect();
    let roles = roles_of(&consignment, &ours);
    let delivery_depot = consignment.delivery_depot_code.as_deref().and_then(|code| code.parse::<DepotCode>().ok());
    let depot = match delivery_depot {
        Some(depot) if roles.contains(&DepotRole::Delivery) && is_status_synced(&roles) => depot,
        _ => return Ok(EtaOutcome::NotOurDelivery { nexus_consignment_id: id, roles }),
    };
    let status = crate::jobs::lookup::consignment_status(&consignment);
    if let Some(status) = status.filter(|status| status.is_terminal()) {
        return Ok(EtaOutcome::Finished { nexus_consignment_id: id, status: status.code().to_owned() });
    }
    match put(bridge, key, &depot, &body).await? {
        Put::Sent => Ok(sent_outcome(key, &depot, &body)),
        Put::Refused(err) => Ok(refused(id, &err)),
    }
}

/// What one `PUT …/eta` came to, when it was not a failure worth retrying.
enum Put {
    Sent,
    Refused(NexusError),
}

async fn put(bridge: &Bridge, key: SyncKey, depot: &DepotCode, body: &NexusEta) -> Result<Put, EtaExportError> {
    let nexus = bridge.nexus.for_depot(depot).ok_or_else(|| EtaExportError::NoCredentials { depot: depot.clone() })?;
    match nexus.put_eta(key.nexus_consignment_id, body).await {
        Ok(()) => Ok(Put::Sent),
        // Unavailable, unreadable, or our credentials refused (fixed in the secrets, then the
        // retried update goes through).
        Err(err) if err.is_transient() || matches!(err, NexusError::Unauthorized { .. }) => Err(err.into()),
        Err(err) => Ok(Put::Refused(err)),
    }
}

fn refused(id: NexusConsignmentId, err: &NexusError) -> EtaOutcome {
    tracing::warn!(consignment = %id, error = %err, "Nexus refused the ETA; dropped");
    EtaOutcome::Refused { nexus_consignment_id: id, reason: err.to_string() }
}

fn sent_outcome(key: SyncKey, depot: &DepotCode, body: &NexusEta) -> EtaOutcome {
    tracing::info!(
        consignment = %key.nexus_consignment_id,
        network = %key.network,
        %depot,
        date = %body.estimated_del_date,
        time = body.estimated_del_time.as_deref().unwrap_or_default(),
        "ETA sent to Nexus"
    );
    EtaOutcome::Sent {
        network: key.network,
        nexus_consignment_id: key.nexus_consignment_id,
        depot: depot.clone(),
        estimated_del_date: body.estimated_del_date,
        estimated_del_time: body.estimated_del_time.clone().unwrap_or_default(),
        start_window: body.start_window.clone(),
        end_window: body.end_window.clone(),
    }
}

/// Releases the hold of a push that went through, and remembers the depot that sent it.
async fn confirm(bridge: &Bridge, key: SyncKey, claim: &Claim, depot: &DepotCode) -> Result<(), EtaExportError> {
    update_claim(bridge, key, claim, |state| {
        state.eta_pushing_until = None;
        state.eta_delivery_depot = Some(depot.clone());
    })
    .await
}

/// Undoes the claim of a push that did not go through, so `eta_last_sent` stays what Nexus has.
async fn release(bridge: &Bridge, key: SyncKey, claim: &Claim) -> Result<(), EtaExportError> {
    update_claim(bridge, key, claim, |state| {
        state.eta_last_sent = claim.previous.0.clone();
        state.eta_as_of = claim.previous.1;
        state.eta_pushing_until = None;
    })
    .await
}

/// Applies `change` if the record still holds `claim` (a push whose hold passed may have been
/// claimed again by another invocation: then its record is left alone).
async fn update_claim(
    bridge: &Bridge,
    key: SyncKey,
    claim: &Claim,
    change: impl Fn(&mut ConsignmentSync),
) -> Result<(), EtaExportError> {
    for _ in 0..SAVE_ATTEMPTS {
        let Some(mut state) = bridge.sync_state.load(&key).await? else { return Ok(()) };
        if state.eta_last_sent.as_ref() != Some(&claim.sent) || state.eta_pushing_until != Some(claim.hold_until) {
            return Ok(());
        }
        change(&mut state);
        if bridge.sync_state.save(&key, &state).await? {
            return Ok(());
        }
    }
    Err(EtaExportError::Contention { key: key.storage_key() })
}

/// The body of `PUT consignments/{id}/eta` for `estimate`.
pub fn nexus_eta(estimate: &DeliveryEstimate) -> NexusEta {
    NexusEta {
        estimated_del_date: estimate.date,
        estimated_del_time: Some(hh_mm(estimate.time)),
        start_window: estimate.window.map(|(start, _)| hh_mm(start)),
        end_window: estimate.window.map(|(_, end)| hh_mm(end)),
        source: OPTIMIZE_SOURCE,
    }
}

fn sent(estimate: &DeliveryEstimate, at: Timestamp) -> EtaSent {
    EtaSent {
        date: estimate.date,
        time: Some(estimate.time),
        start_window: estimate.window.map(|(start, _)| start),
        end_window: estimate.window.map(|(_, end)| end),
        sent_at: at,
    }
}

/// What was sent, as an estimate; `None` for a record without a time (sent again).
fn estimate_of(sent: &EtaSent) -> Option<DeliveryEstimate> {
    let window = sent.start_window.zip(sent.end_window);
    Some(DeliveryEstimate { date: sent.date, time: sent.time?, window })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn stop(stop_type: &str, status: &str, extra: Value) -> VisibilityStop {
        let mut value = json!({"id": "s-1", "stop_type": stop_type, "status": status,
                               "stop_reference": "NEXUS-PALLEX-10020-D", "eta_start_time": "2026-06-18T09:30:00Z",
                               "eta_end_time": "2026-06-18T10:00:00Z"});
        value.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        serde_json::from_value(value).unwrap()
    }

    fn key(network: Network, id: i64) -> SyncKey {
        SyncKey { network, nexus_consignment_id: NexusConsignmentId(id) }
    }

    #[test]
    fn imported_delivery_stops_name_their_consignment() {
        let reference = |text: &str| stop("DELIVERY", "PLANNED", json!({"stop_reference": text}));
        assert_eq!(inbound_delivery(&reference("NEXUS-PALLEX-10020-D")), Some(key(Network::Pallex, 10020)));
        assert_eq!(inbound_delivery(&reference(" NEXUS-FORTEC-7-D ")), Some(key(Network::Fortec, 7)));
        let made = stop_reference(Network::Fortec, NexusConsignmentId(10031), StopKind::Delivery);
        assert_eq!(inbound_delivery(&reference(&made)), Some(key(Network::Fortec, 10031)));
        for other in ["NEXUS-PALLEX-10020-P", "DEL-4411", "NEXUS-DHL-1-D", "NEXUS-PALLEX-x-D", "", "NEXUS-PALLEX-0-D"] {
            assert_eq!(inbound_delivery(&reference(other)), None, "{other}");
        }
        assert_eq!(inbound_delivery(&stop("DELIVERY", "PLANNED", json!({"stop_reference": null}))), None);
    }

    /// The stops above are sent the day before their ETA.
    fn plan_stop_now(stop: &VisibilityStop) -> Result<(SyncKey, DeliveryEstimate), EtaOutcome> {
        plan_stop(stop, "2026-06-17T16:00:00Z".parse().unwrap())
    }

    #[test]
    fn an_eta_more_than_a_year_away_is_not_sent() {
        let far = stop("DELIVERY", "PLANNED", json!({"eta_start_time": "9999-12-30T21:00:00Z", "eta_end_time": null}));
        assert!(matches!(plan_stop_now(&far), Err(EtaOutcome::OutOfRange { .. })));
        let past = stop("DELIVERY", "PLANNED", json!({"eta_start_time": "2020-01-01T09:00:00Z", "eta_end_time": null}));
        assert!(matches!(plan_stop_now(&past), Err(EtaOutcome::OutOfRange { .. })));
    }

    #[test]
    fn only_ready_imported_delivery_stops_with_an_eta_are_planned() {
        let (planned_key, estimate) = plan_stop_now(&stop("DELIVERY", "DISPATCHED", json!({}))).unwrap();
        assert_eq!(planned_key, key(Network::Pallex, 10020));
        assert_eq!(
            (hh_mm(estimate.time), estimate.window.map(|(s, e)| (hh_mm(s), hh_mm(e)))),
            ("10:30".to_owned(), Some(("10:30".to_owned(), "11:00".to_owned())))
        );
        let pickup = plan_stop_now(&stop("PICKUP", "PLANNED", json!({"stop_reference": "NEXUS-PALLEX-10020-P"})));
        assert_eq!(pickup.unwrap_err(), EtaOutcome::NotADelivery { stop_type: "PICKUP".into() });
        let booked = plan_stop_now(&stop("DELIVERY", "PLANNED", json!({"stop_reference": "DEL-4411"})));
        assert_eq!(booked.unwrap_err(), EtaOutcome::NotInbound { stop_reference: Some("DEL-4411".into()) });
        let started = plan_stop_now(&stop("DELIVERY", "AT_STOP", json!({})));
        assert!(matches!(started, Err(EtaOutcome::NotReady { reason, .. }) if reason.contains("started")));
        let quietly_started = plan_stop_now(&stop(
            "DELIVERY",
            "ROUTE_TO_STOP",
            json!({"actual_start_timestamp": "2026-06-18T09:00:00Z"}),
        ));
        assert!(matches!(quietly_started, Err(EtaOutcome::NotReady { .. })));
        let unplanned = plan_stop_now(&stop("DELIVERY", "TO_PLAN", json!({})));
        assert!(matches!(unplanned, Err(EtaOutcome::NotReady { reason, .. }) if reason.contains("planned")));
        let no_eta = plan_stop_now(&stop("DELIVERY", "PLANNED", json!({"eta_start_time": null})));
        assert_eq!(no_eta.unwrap_err(), EtaOutcome::NoEta);
    }

    #[test]
    fn the_nexus_body_carries_the_estimate_fields_in_uk_time() {
        let estimate = DeliveryEstimate::from_eta(
            "2026-10-26T09:30:00Z".parse().unwrap(),
            Some("2026-10-26T10:15:00Z".parse().unwrap()),
        );
        let body = serde_json::to_value(nexus_eta(&estimate)).unwrap();
        assert_eq!(
            body,
            json!({"estimatedDelDate": "2026-10-26", "estimatedDelTime": "09:30", "startWindow": "09:30",
                   "endWindow": "10:15", "source": "OPTIMIZE"})
        );
        let without = nexus_eta(&DeliveryEstimate::from_eta("2026-06-18T09:30:00Z".parse().unwrap(), None));
        let body = serde_json::to_value(without).unwrap();
        assert_eq!(body, json!({"estimatedDelDate": "2026-06-18", "estimatedDelTime": "10:30", "source": "OPTIMIZE"}));
    }

    #[test]
    fn what_was_sent_reads_back_as_the_same_estimate() {
        let estimate = DeliveryEstimate::from_eta(
            "2026-06-18T09:30:00Z".parse().unwrap(),
            Some("2026-06-18T10:00:00Z".parse().unwrap()),
        );
        let record = sent(&estimate, "2026-06-17T08:00:00Z".parse().unwrap());
        assert_eq!(estimate_of(&record), Some(estimate));
        assert_eq!(estimate_of(&EtaSent { time: None, ..record }), None);
    }

    #[test]
    fn outcomes_serialise_with_their_name() {
        let outcome = StopOutcome {
            stop_id: "s-1".into(),
            outcome: EtaOutcome::Unchanged { nexus_consignment_id: NexusConsignmentId(10020) },
        };
        assert_eq!(
            serde_json::to_value(outcome).unwrap(),
            json!({"stop_id": "s-1", "outcome": "unchanged", "nexus_consignment_id": 10020})
        );
    }
}
