//! A CANCEL: each booked consignment of the trip cancelled on Nexus before collection, the ledger
//! marked, and the Qargo order's Nexus fields marked void.

use serde_json::json;

use super::{DispatchAnswer, DispatchErrorType, nexus_failure};
use crate::domain::QargoConsignmentId;
use crate::domain::booking::Violation;
use crate::nexus::capabilities::Capability;
use crate::nexus::{NexusClient, NexusError};
use crate::qargo::QargoError;
use crate::qargo::dispatch_webhook::DispatchTrip;
use crate::qargo::order_update::order_update;
use crate::store::{Booking, DispatchState, SyncKey};
use crate::wiring::Bridge;

/// A CANCEL: cancel each booked consignment of the trip on Nexus and mark it.
pub(super) async fn cancel(bridge: &Bridge, trip: &DispatchTrip) -> DispatchAnswer {
    let targets: Vec<(Option<String>, &str)> = trip
        .orders
        .iter()
        .flat_map(|o| o.consignments.iter().filter_map(move |c| Some((o.id.clone(), c.id.as_deref()?))))
        .collect();
    if targets.is_empty() {
        return DispatchAnswer::refused(vec![Violation {
            field: "payload.orders".into(),
            message: "the cancel names no consignment: re-send it from Qargo".into(),
        }]);
    }
    let mut last = DispatchAnswer { result: "nothing to cancel".into(), ..DispatchAnswer::default() };
    for (order_id, raw_id) in targets {
        let Ok(id) = raw_id.parse::<QargoConsignmentId>() else { continue };
        let answer = cancel_one(bridge, order_id, &id).await;
        if !answer.errors.is_empty() {
            return answer;
        }
        if answer.booking.is_some() {
            last = answer;
        }
    }
    last
}

async fn cancel_one(bridge: &Bridge, order_id: Option<String>, id: &QargoConsignmentId) -> DispatchAnswer {
    let record = match bridge.ledger.get(id).await {
        Ok(record) => record,
        Err(err) => return DispatchAnswer::internal(format!("the dispatch ledger is unavailable ({err}); retry")),
    };
    let Some(record) = record else {
        return DispatchAnswer { result: "nothing to cancel".into(), ..DispatchAnswer::default() };
    };
    match record.state {
        DispatchState::InProgress if record.lease_expires_at > bridge.clock.now() => {
            return DispatchAnswer::internal(
                "this consignment is being booked right now; retry the cancel in a minute",
            );
        }
        DispatchState::Booked | DispatchState::Labelled | DispatchState::InProgress => {}
        DispatchState::Cancelled => return DispatchAnswer::with_booking("cancelled", &record, Vec::new()),
        DispatchState::Failed => {
            return DispatchAnswer { result: "nothing to cancel".into(), ..DispatchAnswer::default() };
        }
    }
    let Some(booking) = record.booking.clone() else {
        return DispatchAnswer { result: "nothing to cancel".into(), ..DispatchAnswer::default() };
    };
    // The order the booking was made for, as the bridge recorded it: the body names it, never decides it.
    let key = SyncKey { network: booking.network, nexus_consignment_id: booking.nexus_consignment_id };
    let linked_order = match bridge.sync_state.load(&key).await {
        Ok(state) => state.and_then(|s| s.qargo).and_then(|link| link.order_id),
        Err(err) => return DispatchAnswer::internal(format!("the sync state is unavailable ({err}); retry")),
    };
    if let (Some(named), Some(linked)) = (&order_id, &linked_order)
        && !named.trim().eq_ignore_ascii_case(linked)
    {
        return DispatchAnswer::refused(vec![Violation {
            field: "payload.orders[0].id".into(),
            message: format!(
                "the cancel names order {} but {} was booked for order {linked}: nothing was cancelled",
                crate::error::shown(named),
                booking.consignment_number
            ),
        }]);
    }
    let Some(depot) = booking.depot.clone() else {
        return DispatchAnswer::internal("the booking does not say which depot made it; cancel it on Nexus by hand");
    };
    let Some(nexus) = bridge.nexus.for_depot(&depot) else {
        return DispatchAnswer::internal(format!("no Nexus credentials for depot {depot}"));
    };
    let number = &booking.consignment_number;
    let (what, by_hand) = (format!("cancelling {number}"), format!("cancel {number} on Nexus by hand"));
    if let Err(answer) = cancel_on_nexus(bridge, &nexus, &booking, what, &by_hand).await {
        return answer;
    }
    let record = match bridge.ledger.record_cancelled(id, bridge.clock.now()).await {
        Ok(record) => record,
        Err(err) => {
            return DispatchAnswer::internal(format!(
                "cancelled on Nexus but the ledger could not record it ({err}); retry the cancel"
            ));
        }
    };
    let mut warnings = Vec::new();
    if linked_order.is_none() {
        warnings.push(format!(
            "the Qargo order of {} is not recorded, so it was not marked void: mark its labels void by hand",
            booking.consignment_number
        ));
    }
    if let Some(order_id) = linked_order {
        let mut fields = serde_json::Map::new();
        fields.insert("NexusState".into(), json!("CANCELLED"));
        fields.insert("NexusLabels".into(), json!(format!("VOID: {} cancelled", booking.consignment_number)));
        let void = order_update(&order_id, fields, None, &[]);
        match bridge.qargo.partial_order_update(&void).await {
            Ok(answer) if answer.errors.is_empty() => {}
            Ok(answer) => warnings.push(format!("Qargo did not take the void mark: {:?}", answer.errors)),
            Err(err) => warnings.push(qargo_warning(&err)),
        }
    }
    DispatchAnswer::with_booking("cancelled", &record, warnings)
}

/// Cancels `booking` on Nexus where this Nexus offers cancelling. `what` names the step in the
/// messages ("cancelling OR-1"); `instead` is what the dispatcher can do when Nexus does not offer
/// it ("cancel OR-1 on Nexus by hand"). A booking Nexus will no longer cancel (collected, or
/// already cancelled there) is refused as not supported; any other failure is `nexus_failure`'s.
pub(super) async fn cancel_on_nexus(
    bridge: &Bridge,
    nexus: &NexusClient,
    booking: &Booking,
    what: String,
    instead: &str,
) -> Result<(), DispatchAnswer> {
    if let Err(refusal) = bridge.settings.nexus_capabilities.require(Capability::Cancel, what.as_str()) {
        return Err(DispatchAnswer::error(DispatchErrorType::NotSupported, format!("{refusal}: {instead}")));
    }
    match nexus.cancel(booking.nexus_consignment_id).await {
        Ok(_) => Ok(()),
        Err(err @ NexusError::Conflict { .. }) => Err(DispatchAnswer::error(
            DispatchErrorType::NotSupported,
            format!("{} cannot be cancelled: {err}", booking.consignment_number),
        )),
        Err(err) => Err(nexus_failure(&err, &what)),
    }
}

fn qargo_warning(err: &QargoError) -> String {
    format!("cancelled on Nexus; marking the Qargo order failed ({err}) — its labels are void")
}
