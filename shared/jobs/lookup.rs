//! How the jobs find the Nexus consignment behind something: a Qargo order's Nexus identity (set by
//! the dispatch or the import), and a read of the consignment as whichever of our depots may see it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::domain::{ConsignmentStatus, DepotCode, DepotRole, Network, NexusConsignmentId};
use crate::nexus::NexusError;
use crate::nexus::wire::Consignment;
use crate::qargo::inbound_order::{ORIGIN_FIELD, stop_reference};
use crate::rules::status_effects::StopKind;
use crate::store::{ConsignmentSync, SyncKey};
use crate::visibility::VisibilityOrder;
use crate::wiring::Bridge;

/// Where an order's consignment is on Nexus, from the order's additional fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexusIdentity {
    /// Network and Nexus id.
    pub key: SyncKey,
    /// The depot that booked it (dispatch), tried first to read it.
    pub depot: Option<DepotCode>,
}

/// The order's Nexus identity: dispatch's `NexusNetwork` + `NexusConsignmentID` (+ `NexusDepot`), or
/// the import's `NexusOrigin` `<NETWORK>:<id>`; `None` for an order that has none, an error naming
/// the field for one that is malformed.
pub fn nexus_identity(order: &VisibilityOrder) -> Option<Result<NexusIdentity, String>> {
    let field = |name: &str| match order.custom_fields.get(name) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    let (network, id) = match (field("NexusNetwork"), field("NexusConsignmentID"), field(ORIGIN_FIELD)) {
        (Some(network), Some(id), _) => (network, id),
        (_, _, Some(origin)) => match origin.split_once(':') {
            Some((network, id)) => (network.to_owned(), id.to_owned()),
            None => return Some(Err(format!("{ORIGIN_FIELD} {origin:?} of order {} is not NETWORK:ID", order.id))),
        },
        _ => return None,
    };
    let parsed = network.parse::<Network>().and_then(|network| Ok((network, id.parse::<NexusConsignmentId>()?)));
    Some(match parsed {
        Ok((network, nexus_consignment_id)) => Ok(NexusIdentity {
            key: SyncKey { network, nexus_consignment_id },
            depot: field("NexusDepot").and_then(|depot| depot.parse().ok()),
        }),
        Err(err) => Err(format!("order {} has an unreadable Nexus identity: {err}", order.id)),
    })
}

/// Why a visibility update may not act on the consignment its body names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkRefused {
    /// The body's order is not the one the bridge linked to the consignment: permanent.
    #[error("{0}")]
    NotLinked(String),
    /// Qargo or the store could not answer: worth a retry.
    #[error("the link of the consignment to its Qargo order could not be checked: {0}")]
    Unavailable(String),
}

/// Whether the Qargo order `order_id` is the one the bridge itself linked to consignment `key`: the
/// order the dispatch booked it for (its sync state's Qargo link), or an order already confirmed, or
/// — read from Qargo, never from the update's body — an order whose own additional fields (as the
/// dispatch or the import wrote them) or `order_identifier` name this consignment; the last is
/// recorded so it costs one Qargo request once. A body cannot make the bridge act on a consignment
/// of another order.
pub async fn check_order_link(bridge: &Bridge, key: SyncKey, order_id: &str) -> Result<(), LinkRefused> {
    let Some(order_id) = crate::qargo::wire::qargo_id(order_id) else {
        return Err(LinkRefused::NotLinked(format!(
            "the order id {} is not a Qargo order id (a UUID)",
            crate::error::shown(order_id)
        )));
    };
    let consignment = format!("consignment {} on {}", key.nexus_consignment_id, key.network);
    let unavailable = |err: &dyn std::fmt::Display| LinkRefused::Unavailable(err.to_string());
    let state = bridge.sync_state.load(&key).await.map_err(|err| unavailable(&err))?.unwrap_or_default();
    if let Some(linked) = state.qargo.as_ref().and_then(|link| link.order_id.as_deref()) {
        return if linked.eq_ignore_ascii_case(&order_id) {
            Ok(())
        } else {
            Err(LinkRefused::NotLinked(format!(
                "{consignment} was booked for Qargo order {linked}, not {order_id}: nothing done"
            )))
        };
    }
    if state.linked_orders.contains(&order_id) {
        return Ok(());
    }
    let order = match bridge.qargo.order(&order_id).await {
        Ok(order) => order,
        Err(err) if err.is_transient() => return Err(unavailable(&err)),
        Err(err) => return Err(LinkRefused::NotLinked(format!("Qargo order {order_id}: {err}"))),
    };
    if !carries(&order, key) {
        return Err(LinkRefused::NotLinked(format!(
            "Qargo order {order_id} does not carry {consignment} (its Nexus fields and identifier name another): nothing done"
        )));
    }
    // Remembered, best effort: a lost race only costs one more Qargo read later.
    let mut state = state;
    state.linked_orders.insert(order_id);
    if let Err(err) = bridge.sync_state.save(&key, &state).await {
        tracing::warn!(error = %err, "could not record a confirmed order link");
    }
    Ok(())
}

/// Whether a Qargo order (as Qargo answers `GET /v1/orders/order/{id}`) carries consignment `key`:
/// by its Nexus identity fields or by the import's `order_identifier`.
fn carries(order: &Value, key: SyncKey) -> bool {
    let imported = crate::qargo::inbound_order::order_identifier(key.network, key.nexus_consignment_id);
    if order.get("order_identifier").and_then(Value::as_str).is_some_and(|id| id.trim() == imported) {
        return true;
    }
    let Ok(order) = serde_json::from_value::<VisibilityOrder>(order.clone()) else { return false };
    matches!(nexus_identity(&order), Some(Ok(identity)) if identity.key == key)
}

/// Reads a consignment as the depots in `first` (e.g. the one that booked it), then as each of our
/// depots on its network, until one may see it; `None` when none does. `requests` counts the
/// Nexus calls made.
pub async fn read_consignment(
    bridge: &Bridge,
    key: SyncKey,
    first: &[&DepotCode],
    include: &[&str],
    requests: &mut u32,
) -> Result<Option<Consignment>, NexusError> {
    let ours = bridge.settings.depots.iter().map(|d| &d.code).filter(|code| code.is_member_of(key.network));
    let mut seen = BTreeSet::new();
    for depot in first.iter().copied().chain(ours).filter(|depot| seen.insert(*depot)) {
        let Some(nexus) = bridge.nexus.for_depot(depot) else { continue };
        *requests += 1;
        match nexus.consignment(key.nexus_consignment_id, include).await {
            Ok(consignment) => return Ok(Some(consignment)),
            // Not there, or this depot's user may not see it (403): ask the next depot.
            Err(NexusError::NotFound { .. } | NexusError::Rejected { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// How a stop of a consignment the bridge follows is addressed in Qargo's status and document
/// webhooks, or `None` when the bridge does not follow it. Booked by us (`Requesting` among
/// `roles`): the stop id the dispatch recorded, else the order's stop of that type. Booked by
/// another depot for us: the stop reference the import gave it, when the customer is mapped
/// (otherwise there is no Qargo order).
pub fn stop_target(
    bridge: &Bridge,
    consignment: &Consignment,
    state: &ConsignmentSync,
    roles: &[DepotRole],
    kind: StopKind,
) -> Option<Value> {
    if roles.contains(&DepotRole::Requesting) {
        let link = state.qargo.as_ref()?;
        let stop_id = match kind {
            StopKind::Pickup => link.pickup_stop_id.as_ref(),
            StopKind::Delivery => link.delivery_stop_id.as_ref(),
        };
        if let Some(stop) = stop_id {
            return Some(json!({"id": stop}));
        }
        let order = link.order_id.as_ref()?;
        return Some(json!({"match": {"matches_all": [
            {"order": {"id": {"matches_any": [order]}}},
            // `StopMatch.stop_type` is a plain `StopType`, not a `{matches_any}`.
            {"stop": {"stop_type": kind.code()}},
        ]}}));
    }
    let network = network_of(consignment)?;
    bridge.settings.customer_map.qargo_customer(consignment.customer_id?)?;
    let reference = stop_reference(network, NexusConsignmentId(consignment.consignment_id), kind);
    Some(json!({"match": {"matches_all": [{"stop": {"reference_number": {"matches_any": [reference]}}}]}}))
}

/// A consignment's status as Nexus reports it: by the `status.name` each record carries (the same
/// names as the seen `consignmentStatuses` lookup), then by its id, so that a Nexus numbering its
/// statuses differently is still read right. `None` for a status the bridge does not know.
pub fn consignment_status(consignment: &Consignment) -> Option<ConsignmentStatus> {
    consignment
        .status
        .name
        .parse()
        .ok()
        .or_else(|| ConsignmentStatus::from_id(u16::try_from(consignment.status.id).ok()?).ok())
}

/// How far Nexus's clock may run ahead of ours before a `lastUpdated` is taken as a mistake.
pub const CURSOR_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// A consignment's `lastUpdated` as a cursor may take it: never later than now (UK local) plus
/// [`CURSOR_SKEW`], so one record dated in the future cannot move a cursor past every real change
/// to come.
pub fn cursor_time(
    last_updated: Option<jiff::civil::DateTime>,
    uk_now: jiff::civil::DateTime,
) -> Option<jiff::civil::DateTime> {
    let latest = uk_now.checked_add(CURSOR_SKEW).unwrap_or(uk_now);
    last_updated.map(|at| at.min(latest))
}

/// The network a listed consignment is on.
pub fn network_of(consignment: &Consignment) -> Option<Network> {
    consignment.network.as_ref().and_then(|n| n.code.parse().ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order(fields: Value) -> VisibilityOrder {
        serde_json::from_value(json!({"id": "o-1", "custom_fields": fields})).unwrap()
    }

    #[test]
    fn the_identity_comes_from_dispatch_fields_or_the_import_origin() {
        let booked = nexus_identity(&order(json!({"NexusNetwork": "PALLEX", "NexusConsignmentID": "10001",
                                                  "NexusDepot": "PGD302"})));
        let booked = booked.unwrap().unwrap();
        assert_eq!(booked.key, SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(10001) });
        assert_eq!(booked.depot, Some("PGD302".parse().unwrap()));
        let numeric = nexus_identity(&order(json!({"NexusNetwork": "FORTEC", "NexusConsignmentID": 10001}))).unwrap();
        assert_eq!(numeric.unwrap().key.network, Network::Fortec);
        let imported = nexus_identity(&order(json!({"NexusOrigin": "FORTEC:10020"}))).unwrap().unwrap();
        assert_eq!(imported.key.network, Network::Fortec);
        assert_eq!(imported.key.nexus_consignment_id, NexusConsignmentId(10020));
        assert_eq!(imported.depot, None);
        assert_eq!(nexus_identity(&order(json!({"Other": "x"}))), None);
        assert_eq!(nexus_identity(&order(json!(null))), None);
        let bad = nexus_identity(&order(json!({"NexusOrigin": "PALLEX-10020"}))).unwrap().unwrap_err();
        assert!(bad.contains("NETWORK:ID"), "{bad}");
        let bad = nexus_identity(&order(json!({"NexusOrigin": "DHL:1"}))).unwrap().unwrap_err();
        assert!(bad.contains("network"), "{bad}");
    }

    #[test]
    fn a_status_is_read_by_its_name_first_then_its_id() {
        let consignment = |id: i64, name: &str| -> Consignment {
            serde_json::from_value(
                json!({"consignmentID": 1, "consignmentNumber": "N", "status": {"id": id, "name": name}}),
            )
            .unwrap()
        };
        assert_eq!(consignment_status(&consignment(7, "Delivered")).map(|s| s.code()), Some("DEL"), "by name");
        assert_eq!(consignment_status(&consignment(100, "")).map(|s| s.code()), Some("DEL"), "by id");
        assert_eq!(consignment_status(&consignment(7, "In Transit")), None, "unknown: not guessed");
    }

    #[test]
    fn a_cursor_never_runs_ahead_of_now() {
        let now: jiff::civil::DateTime = "2026-06-17T10:00:00".parse().unwrap();
        let future: jiff::civil::DateTime = "9999-12-31T23:59:59".parse().unwrap();
        assert_eq!(cursor_time(Some(future), now), Some("2026-06-17T10:15:00".parse().unwrap()));
        let past: jiff::civil::DateTime = "2026-06-17T09:00:00".parse().unwrap();
        assert_eq!(cursor_time(Some(past), now), Some(past));
        assert_eq!(cursor_time(None, now), None);
    }
}
