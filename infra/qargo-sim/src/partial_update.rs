//! `POST /v1/webhook/partial-order-update`: changes part of one existing order (HTTP Basic with the
//! webhook credential, like the other webhooks). Qargo documents the route and its matching on
//! `customer_reference_number`, `name` or `id` with `{matches_any: […]}`, but not the body, so the
//! shape below is the simulator's (README, Inventions):
//!
//! ```json
//! {"match": {"id": {"matches_any": ["<order uuid>"]}},
//!  "custom_fields": {"NexusNetwork": "PALLEX", "NexusConsignmentID": "10001", "Stale": null},
//!  "consignments": [{"id": "<consignment uuid>", "custom_fields": {…},
//!                    "goods": [{"id": "<goods uuid>",
//!                               "handling_units": [{"barcode": {"value": "1044000106606774", "source": "PALLEX"}}]}]}]}
//! ```
//!
//! * `match`: any of `id`, `name`, `customer_reference_number`, each `{matches_any: […]}`; every key
//!   given must hold (AND). Exactly one order that is not cancelled must match.
//! * `custom_fields` (order and consignment): merged into the existing ones; a `null` value removes
//!   the key.
//! * `consignments[].id` must be a consignment of the matched order, `goods[].id` a goods line of that
//!   consignment; `handling_units`, when given, **replaces** the line's handling units (a unit keeps
//!   its id when its barcode was already on the line). Barcodes stay unique within the order.
//!
//! The whole body is checked before anything changes; the answer is always `200 {errors: […]}`
//! (`USER_INPUT_ERROR` entries, every problem listed) except for a body that is not JSON or has
//! unknown keys or wrong types (`422`). Every call, applied or not, is recorded for
//! `GET /_sim/partial-updates` and [`SimHandle::partial_updates`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::WebhookAuth;
use crate::errors::{ApiError, FieldError};
use crate::model::{ErrorStatus, HandlingUnit, Order};
use crate::scenario::SimHandle;
use crate::server::{AppState, Shared};
use crate::wire::{FieldMatch, HandlingUnitInput, parse_body, parse_value};
use crate::world::{World, now};

/// The longest barcode Qargo stores, as for order uploads.
const MAX_BARCODE_LENGTH: usize = 255;

/// The body of `partial-order-update`. Unknown keys are refused (`422`) rather than ignored, so a
/// caller expecting a change the simulator does not make finds out at once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialOrderUpdate {
    /// Which order.
    #[serde(default, rename = "match")]
    pub matcher: Option<OrderMatcher>,
    /// Merged into the order's custom fields; `null` removes a key.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Changes to the order's consignments.
    #[serde(default)]
    pub consignments: Option<Vec<ConsignmentChange>>,
}

/// `match`: every field given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderMatcher {
    /// Order UUID.
    #[serde(default)]
    pub id: Option<FieldMatch>,
    /// Order name (`OR-…`).
    #[serde(default)]
    pub name: Option<FieldMatch>,
    /// Customer reference number.
    #[serde(default)]
    pub customer_reference_number: Option<FieldMatch>,
}

/// A change to one consignment of the matched order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsignmentChange {
    /// The consignment's UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Merged into the consignment's custom fields; `null` removes a key.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Changes to its goods lines.
    #[serde(default)]
    pub goods: Option<Vec<GoodsChange>>,
}

/// A change to one goods line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodsChange {
    /// The goods line's UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// The line's new handling units, replacing all of the old ones.
    #[serde(default)]
    pub handling_units: Option<Vec<HandlingUnitInput>>,
}

/// One call received on `partial-order-update`, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialUpdateRecord {
    /// When received.
    pub received_at: String,
    /// The order it matched, if exactly one did.
    pub order_id: Option<Uuid>,
    /// The body as sent.
    pub request: Value,
    /// Whether it was applied.
    pub applied: bool,
    /// Why not (empty when applied).
    pub errors: Vec<ErrorStatus>,
}

/// The received calls of every running simulator. They live here rather than in [`World`] so this
/// route stays in one file; an entry is keyed by its simulator's shared state and dropped once that
/// simulator is gone (the weak reference also keeps its address from being reused meanwhile).
static RECEIVED: Mutex<Vec<(Weak<Shared>, Vec<PartialUpdateRecord>)>> = Mutex::new(Vec::new());

fn record(state: &AppState, entry: PartialUpdateRecord) {
    let mut all = RECEIVED.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|(sim, _)| sim.strong_count() > 0);
    let key = Arc::downgrade(&state.0);
    match all.iter_mut().find(|(sim, _)| sim.ptr_eq(&key)) {
        Some((_, records)) => records.push(entry),
        None => all.push((key, vec![entry])),
    }
}

fn received(state: &AppState) -> Vec<PartialUpdateRecord> {
    let key = Arc::downgrade(&state.0);
    let all = RECEIVED.lock().unwrap_or_else(|e| e.into_inner());
    all.iter().find(|(sim, _)| sim.ptr_eq(&key)).map(|(_, records)| records.clone()).unwrap_or_default()
}

impl SimHandle {
    /// Every call received on `partial-order-update`, oldest first, applied or not.
    pub fn partial_updates(&self) -> Vec<PartialUpdateRecord> {
        received(&self.state)
    }
}

fn user_error(message: impl Into<String>) -> ErrorStatus {
    ErrorStatus { error_type: "USER_INPUT_ERROR".into(), error_message: Some(message.into()) }
}

fn criterion(field: &Option<FieldMatch>) -> Option<&[String]> {
    field.as_ref().and_then(|f| f.matches_any.as_deref())
}

fn describe(matcher: &OrderMatcher) -> String {
    [("id", &matcher.id), ("name", &matcher.name), ("customer_reference_number", &matcher.customer_reference_number)]
        .into_iter()
        .filter_map(|(name, field)| criterion(field).map(|values| format!("{name} in {values:?}")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn order_matches(order: &Order, matcher: &OrderMatcher) -> bool {
    let holds = |field: &Option<FieldMatch>, value: Option<&str>| match criterion(field) {
        None => true,
        Some(values) => value.is_some_and(|v| values.iter().any(|candidate| candidate.trim() == v)),
    };
    // Ids are compared as UUIDs, so letter case and braces-free spellings all match.
    let id_holds = match criterion(&matcher.id) {
        None => true,
        Some(values) => values.iter().any(|candidate| Uuid::parse_str(candidate.trim()).ok() == Some(order.id)),
    };
    id_holds
        && holds(&matcher.name, Some(&order.name))
        && holds(&matcher.customer_reference_number, order.customer_reference_number.as_deref())
}

/// The position of the one active order `matcher` names.
fn locate(world: &World, matcher: Option<&OrderMatcher>) -> Result<usize, ErrorStatus> {
    const SHAPE: &str = r#"{"id" | "name" | "customer_reference_number": {"matches_any": […]}}"#;
    let Some(matcher) = matcher else {
        return Err(user_error(format!("match is required: {SHAPE}; nothing was changed")));
    };
    let criteria = describe(matcher);
    if criteria.is_empty() {
        return Err(user_error(format!("match has no criteria: give {SHAPE}; nothing was changed")));
    }
    let (active, cancelled): (Vec<usize>, Vec<usize>) = (0..world.orders.len())
        .filter(|&i| order_matches(&world.orders[i], matcher))
        .partition(|&i| !world.orders[i].cancelled);
    match active.as_slice() {
        [one] => Ok(*one),
        [] if !cancelled.is_empty() => {
            let names: Vec<&str> = cancelled.iter().map(|&i| world.orders[i].name.as_str()).collect();
            Err(user_error(format!(
                "Only cancelled orders ({}) match {criteria}; a cancelled order takes no changes, so nothing was changed",
                names.join(", ")
            )))
        }
        [] => Err(user_error(format!("No order matches {criteria}; nothing was changed"))),
        many => Err(user_error(format!(
            "{} orders match {criteria}; a partial update must match exactly one order, so nothing was changed",
            many.len()
        ))),
    }
}

/// A handling-unit replacement that passed the checks: the goods line and its new units.
struct Replacement {
    consignment: usize,
    good: usize,
    units: Vec<HandlingUnitInput>,
}

/// Where each id of the body points in the order, once every check has passed.
#[derive(Default)]
struct Plan {
    consignment_fields: Vec<(usize, Map<String, Value>)>,
    replacements: Vec<Replacement>,
}

fn parse_id(text: Option<&str>, path: &str) -> Result<Uuid, ErrorStatus> {
    let text =
        text.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| user_error(format!("{path} is required")))?;
    Uuid::parse_str(text).map_err(|_| user_error(format!("{path} '{text}' is not a UUID")))
}

fn barcode_value(unit: &HandlingUnitInput) -> Option<&str> {
    unit.barcode.as_ref().and_then(|b| b.value.as_deref()).map(str::trim).filter(|v| !v.is_empty())
}

/// Checks every consignment and goods change against `order`; lists every problem.
fn plan(order: &Order, changes: &[ConsignmentChange]) -> Result<Plan, Vec<ErrorStatus>> {
    let mut errors = Vec::new();
    let mut plan = Plan::default();
    let mut seen_consignments = HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        let path = format!("consignments[{i}]");
        let id = match parse_id(change.id.as_deref(), &format!("{path}.id")) {
            Ok(id) => id,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Some(c) = order.consignments.iter().position(|c| c.id == id) else {
            errors.push(user_error(format!("{path}.id {id} is not a consignment of order {}", order.name)));
            continue;
        };
        if !seen_consignments.insert(id) {
            errors.push(user_error(format!("{path}.id {id} appears twice; give each consignment once")));
            continue;
        }
        if let Some(fields) = &change.custom_fields {
            plan.consignment_fields.push((c, fields.clone()));
        }
        let consignment = &order.consignments[c];
        let mut seen_goods = HashSet::new();
        for (j, goods) in change.goods.iter().flatten().enumerate() {
            let path = format!("{path}.goods[{j}]");
            let id = match parse_id(goods.id.as_deref(), &format!("{path}.id")) {
                Ok(id) => id,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let Some(g) = consignment.goods.iter().position(|g| g.id == id) else {
                errors.push(user_error(format!(
                    "{path}.id {id} is not a goods line of consignment {}",
                    consignment.reference_number.as_deref().unwrap_or(&consignment.id.to_string())
                )));
                continue;
            };
            if !seen_goods.insert(id) {
                errors.push(user_error(format!("{path}.id {id} appears twice; give each goods line once")));
                continue;
            }
            let Some(units) = &goods.handling_units else { continue };
            for (k, unit) in units.iter().enumerate() {
                let at = format!("{path}.handling_units[{k}].barcode.value");
                match barcode_value(unit) {
                    None => errors.push(user_error(format!("{at}: a handling unit needs a barcode value"))),
                    Some(value) if value.chars().count() > MAX_BARCODE_LENGTH => {
                        errors.push(user_error(format!("{at}: a barcode is at most {MAX_BARCODE_LENGTH} characters")))
                    }
                    Some(_) => {}
                }
            }
            plan.replacements.push(Replacement { consignment: c, good: g, units: units.clone() });
        }
    }
    // Barcodes as they would stand after the change: replaced lines' new units, the others' old ones.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (c, consignment) in order.consignments.iter().enumerate() {
        for (g, good) in consignment.goods.iter().enumerate() {
            match plan.replacements.iter().find(|r| r.consignment == c && r.good == g) {
                Some(replacement) => replacement.units.iter().filter_map(barcode_value).for_each(|b| {
                    *counts.entry(b).or_default() += 1;
                }),
                None => good.handling_units.iter().filter_map(|h| h.barcode.as_deref()).for_each(|b| {
                    *counts.entry(b).or_default() += 1;
                }),
            }
        }
    }
    let mut twice: Vec<&str> = counts.into_iter().filter(|(_, n)| *n > 1).map(|(b, _)| b).collect();
    twice.sort_unstable();
    for barcode in twice {
        errors.push(user_error(format!(
            "barcode '{barcode}' would appear more than once in order {}; barcodes are unique within an order",
            order.name
        )));
    }
    if errors.is_empty() { Ok(plan) } else { Err(errors) }
}

/// Keys with a `null` value are removed; the others are set.
fn merge(fields: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (key, value) in changes {
        if value.is_null() {
            fields.remove(key);
        } else {
            fields.insert(key.clone(), value.clone());
        }
    }
}

fn trimmed(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// Checks the whole update, then applies it; returns the order's id, or why nothing changed.
fn apply(world: &mut World, update: &PartialOrderUpdate) -> Result<Uuid, (Option<Uuid>, Vec<ErrorStatus>)> {
    let position = locate(world, update.matcher.as_ref()).map_err(|e| (None, vec![e]))?;
    let order = &world.orders[position];
    let order_id = order.id;
    let plan = plan(order, update.consignments.as_deref().unwrap_or_default()).map_err(|e| (Some(order_id), e))?;
    let order = &mut world.orders[position];
    if let Some(fields) = &update.custom_fields {
        merge(&mut order.custom_fields, fields);
    }
    for (c, fields) in &plan.consignment_fields {
        merge(&mut order.consignments[*c].custom_fields, fields);
    }
    for replacement in plan.replacements {
        let good = &mut order.consignments[replacement.consignment].goods[replacement.good];
        let units = replacement
            .units
            .iter()
            .map(|unit| {
                let barcode = barcode_value(unit).map(str::to_string);
                // A pallet whose barcode stays on the line keeps its id, as an order UPDATE does.
                let kept = good.handling_units.iter().find(|h| h.barcode == barcode).map(|h| h.id);
                HandlingUnit {
                    id: kept.unwrap_or_else(Uuid::new_v4),
                    barcode,
                    source: trimmed(unit.barcode.as_ref().and_then(|b| b.source.as_deref())),
                }
            })
            .collect();
        good.handling_units = units;
        // The line as given follows too, so a later UPDATE upload starts from the same units.
        good.input.handling_units = Some(replacement.units);
    }
    Ok(order_id)
}

/// `POST /v1/webhook/partial-order-update`.
pub async fn partial_order_update(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    let update: PartialOrderUpdate = parse_value(raw.clone())?;
    let received_at = now().to_string();
    let outcome = apply(&mut state.lock(), &update);
    let (order_id, errors) = match outcome {
        Ok(order_id) => (Some(order_id), Vec::new()),
        Err((order_id, errors)) => (order_id, errors),
    };
    record(
        &state,
        PartialUpdateRecord { received_at, order_id, request: raw, applied: errors.is_empty(), errors: errors.clone() },
    );
    Ok(Json(json!({ "errors": errors })))
}

/// `GET /_sim/partial-updates[?order_id=…]`: the received calls, oldest first.
async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<PartialUpdateRecord>>, ApiError> {
    let order_id = match query.get("order_id") {
        None => None,
        Some(text) => Some(Uuid::parse_str(text.trim()).map_err(|_| {
            ApiError::bad_request(FieldError::at(
                "$.query.order_id",
                format!("order_id '{text}' is not a UUID"),
                "invalid_format",
            ))
        })?),
    };
    let records = received(&state);
    Ok(Json(records.into_iter().filter(|r| order_id.is_none() || r.order_id == order_id).collect()))
}

/// The admin route of this webhook (`/_sim/partial-updates`), merged beside the other `/_sim/` routes.
pub(crate) fn admin_router() -> Router<AppState> {
    Router::new().route("/_sim/partial-updates", get(list))
}
