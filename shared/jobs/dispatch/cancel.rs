//! A CANCEL: each booked consignment of the trip cancelled on Nexus before collection, the ledger
//! marked, and the Qargo order's Nexus fields marked void.

use serde_json::json;

use super::{DispatchAnswer, DispatchErrorType, nexus_failure};
use crate::domain::QargoConsignmentId;
use crate::domain::booking::Violation;
use crate::nexus::NexusError;
use crate::nexus::capabilities::Capability;
use crate::qargo::QargoError;
use crate::qargo::dispatch_webhook::DispatchTrip;
use crate::qargo::order_update::order_update;
use crate::store::{DispatchState, SyncKey};
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
    if let Err(refusal) = bridge
        .settings
        .nexus_capabilities
        .require(Capability::Cancel, format!("cancelling {}", booking.consignment_number))
    {
        return DispatchAnswer::error(
            DispatchErrorType::NotSupported,
            format!("{refusal}: cancel {} on Nexus by hand", booking.consignment_number),
        );
    }
    if let Err(err) = nexus.cancel(booking.nexus_consignment_id).await {
        return match err {
            NexusError::Conflict { .. } => DispatchAnswer::error(
                DispatchErrorType::NotSupported,
                format!("{} cannot be cancelled: {err}", booking.consignment_number),
            ),
            other => nexus_failure(&other, "cancelling"),
        };
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

fn qargo_warning(err: &QargoError) -> String {
    format!("cancelled on Nexus; marking the Qargo order failed ({err}) — its labels are void")
}
