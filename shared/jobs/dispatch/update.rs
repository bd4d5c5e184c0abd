//! An UPDATE of a booked dispatch: acknowledged when Nexus's view is unchanged, cancelled and
//! booked again before collection, refused after it.

use super::cancel::cancel_on_nexus;
use super::labels::{Attached, finish_labels, webhook_ok};
use super::{DispatchAnswer, DispatchErrorType, create, nexus_failure};
use crate::domain::booking::Violation;
use crate::jobs::dispatch_plan::DispatchPlan;
use crate::jobs::lookup::consignment_status;
use crate::qargo::order_update::{GoodsBarcodes, order_update};
use crate::store::{Booking, DispatchState};
use crate::wiring::Bridge;

/// An UPDATE: acknowledge when Nexus's view is unchanged, re-book before collection, refuse after.
pub(super) async fn update(bridge: &Bridge, plan: DispatchPlan) -> DispatchAnswer {
    let record = match bridge.ledger.get(&plan.qargo_consignment_id).await {
        Ok(record) => record,
        Err(err) => return DispatchAnswer::internal(format!("the dispatch ledger is unavailable ({err}); retry")),
    };
    let Some(record) = record.filter(|r| matches!(r.state, DispatchState::Booked | DispatchState::Labelled)) else {
        // Never booked (or cancelled): the update is the booking.
        return create(bridge, plan).await;
    };
    let Some(booking) = record.booking.clone() else {
        return create(bridge, plan).await;
    };
    if booking.request_fingerprint.as_deref() == Some(plan.fingerprint().as_str()) {
        let (record, warnings) = finish_labels(bridge, &plan, record, Attached::Maybe, None).await;
        return DispatchAnswer::with_booking("unchanged", &record, warnings);
    }
    if booking.superseded_fingerprints.contains(&plan.fingerprint()) {
        // No version travels with Qargo's dispatch: what a replaced booking asked for, asked again,
        // is an old update delivered late or replayed, never booked over the newer one.
        return DispatchAnswer::refused(vec![Violation {
            field: "payload.orders[0].consignments[0]".into(),
            message: format!(
                "this UPDATE asks for what {} replaced: an older update sent again, so nothing was changed; \
                 to go back to these details on purpose, change one of them in Qargo (e.g. the reference) and dispatch again",
                booking.consignment_number
            ),
        }]);
    }
    let depot = booking.depot.clone().unwrap_or_else(|| plan.depot.clone());
    let Some(nexus) = bridge.nexus.for_depot(&depot) else {
        return DispatchAnswer::internal(format!("no Nexus credentials for depot {depot}"));
    };
    let current = match nexus.consignment(booking.nexus_consignment_id, &[]).await {
        Ok(current) => current,
        Err(err) => return nexus_failure(&err, "reading the booking"),
    };
    if let Some(status) = consignment_status(&current)
        && !status.is_cancellable()
    {
        return DispatchAnswer::error(
            DispatchErrorType::NotSupported,
            format!(
                "consignment {} is {} on {}; a booking can only be changed before collection — ask the network to amend it",
                booking.consignment_number,
                status.name(),
                booking.network.display_name()
            ),
        );
    }
    let number = &booking.consignment_number;
    let (what, amend) = (format!("re-booking {number} with the change"), format!("ask the network to amend {number}"));
    if let Err(answer) = cancel_on_nexus(bridge, &nexus, &booking, what, &amend).await {
        return answer;
    }
    if let Err(err) = bridge.ledger.record_cancelled(&plan.qargo_consignment_id, bridge.clock.now()).await {
        return DispatchAnswer::internal(format!(
            "cancelled {} on Nexus to re-book it, but the ledger could not record it ({err}); retry",
            booking.consignment_number
        ));
    }
    let mut answer = create(bridge, plan).await;
    answer.warnings.insert(0, format!("the change needed a new booking: {} was cancelled", booking.consignment_number));
    answer
}

/// Deletes the handling units of a replaced booking's pallet barcodes from the Qargo order, so the
/// order carries the new booking's barcodes only (a barcode not on a line is left alone by Qargo).
pub(super) async fn remove_replaced_barcodes(
    bridge: &Bridge,
    plan: &DispatchPlan,
    old: &Booking,
) -> Result<(), String> {
    let Some(order_id) = &plan.qargo_order_id else { return Ok(()) };
    let removed: Vec<String> = old.barcodes.iter().map(ToString::to_string).collect();
    let goods: Vec<GoodsBarcodes> = plan
        .pallet_lines
        .iter()
        .filter_map(|line| {
            Some(GoodsBarcodes { goods_id: line.goods_id.clone()?, barcodes: Vec::new(), removed: removed.clone() })
        })
        .collect();
    if removed.is_empty() || goods.is_empty() {
        return Ok(());
    }
    let body = order_update(order_id, serde_json::Map::new(), Some(&plan.qargo_consignment_key), &goods);
    let answer = bridge
        .qargo
        .partial_order_update(&body)
        .await
        .map_err(|err| format!("removing the old pallet barcodes from the Qargo order: {err}"))?;
    webhook_ok(&answer, "removing the old pallet barcodes from the Qargo order")
}
