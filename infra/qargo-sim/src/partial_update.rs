//! `POST /v1/webhook/partial-order-update`: changes parts of existing orders (HTTP Basic with the
//! webhook credential). The body is the spec's `OrderUpdatePayload`, validated against the schema
//! first (`422` when it refuses it):
//!
//! ```json
//! {"updates": [{
//!   "match": {"matches_all": [{"order": {"id": {"matches_any": ["<order uuid>"]}}}]},
//!   "update": {"operation": "UPDATE", "data": {"custom_fields": {"NexusNetwork": "PALLEX", "Gone": null}}},
//!   "consignment": {"updates": [{
//!     "match": {"matches_all": [{"consignment": {"order_sequence_number": 1}}]},
//!     "update": {"operation": "UPDATE", "data": {"custom_fields": {"NexusConsignmentID": "10001"}}},
//!     "good": {"updates": [{
//!       "match": {"matches_all": [{"good": {"id": {"matches_any": ["<goods uuid>"]}}}]},
//!       "handling_unit": {"updates": [
//!         {"update": {"operation": "CREATE", "data": {"barcode": {"value": "1044000106606774", "source": "EXTERNAL"}}}}]}}]}}]}}]}
//! ```
//!
//! What the simulator does with it (the spec gives the shapes, not the semantics; README, Inventions):
//!
//! * order: `match.matches_all` entries with `order` `id` / `name` / `customer_reference_number`
//!   (`{matches_any}`), every entry and field ANDed, or the deprecated top-level `id`; **exactly one
//!   order that is not cancelled** must match. `company` matching is `NOT_SUPPORTED`.
//! * `update` (order, consignment, goods line): `operation: UPDATE` with `data.custom_fields`
//!   merged into the existing ones, a `null` value removing the key; other `data` keys and other
//!   operations on these levels are `NOT_SUPPORTED`.
//! * consignment: `match.matches_all[].consignment` by `order_sequence_number` (1-based position in
//!   the order) and/or `reference_number.matches_any`; goods line: `good.id.matches_any`. Exactly
//!   one must match (no `match`: the order's only consignment / the consignment's only line).
//! * handling unit: `CREATE` adds a unit with `data.barcode` (a barcode already on that goods line
//!   is a no-op, so a repeated update is harmless); `DELETE` removes the units whose barcode is in
//!   `match.matches_all[].handling_unit.barcode.matches_any` (none there: a no-op); `UPDATE`
//!   changes the barcode of the one unit matched. Barcodes stay unique within the order.
//! * `question_answers` (any level) are accepted and recorded, not acted on; `stop` updates are
//!   `NOT_SUPPORTED`.
//!
//! The whole body is checked before anything changes (the updates apply in order to a copy, which
//! replaces the orders only when every one of them succeeded). The answer is HTTP 200: `null` when
//! applied, else `{"errors": [{"error_type": "USER_INPUT_ERROR" | "NOT_SUPPORTED", "error_message":
//! "updates[0].consignment.updates[0]: …"}]}` with every problem listed. Every call is recorded for
//! `GET /_sim/partial-updates` and [`SimHandle::partial_updates`].

use std::collections::HashMap;
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
use crate::wire::{BarcodeInput, ConsignmentMatch, FieldMatch, HandlingUnitInput, OrderMatch, parse_body, parse_value};
use crate::world::{World, now};

/// The longest barcode Qargo stores, as for order uploads.
const MAX_BARCODE_LENGTH: usize = 255;

/// `OrderUpdatePayload`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderUpdatePayload {
    /// The updates, applied in order.
    #[serde(default)]
    pub updates: Option<Vec<PartialOrderUpdate>>,
}

/// `{matches_all: [T]}` (`PartialOrderMatchTarget` and its consignment / good / handling-unit kin).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MatchTarget<T> {
    /// Every entry must hold.
    #[serde(default = "Option::default")]
    pub matches_all: Option<Vec<T>>,
}

/// `{updates: [T]}` (`PartialOrderConsignment`, `PartialOrderGood`, `PartialOrderGoodTrace`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Updates<T> {
    /// The updates.
    #[serde(default = "Option::default")]
    pub updates: Option<Vec<T>>,
}

/// `OrderEntityUpdate` / `ConsignmentEntityUpdate` / `GoodEntityUpdate` / `HandlingUnitEntityUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntityUpdate {
    /// `CREATE` | `UPDATE` | `DELETE` | `REPLACE` (by level, as the schema allows).
    #[serde(default)]
    pub operation: Option<String>,
    /// The level's data (`custom_fields`, `barcode`, …).
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

/// `PartialOrderUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PartialOrderUpdate {
    /// Deprecated: the order's UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Which order.
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchTarget<PartialOrderMatchInput>>,
    /// Changes to the order itself.
    #[serde(default)]
    pub update: Option<EntityUpdate>,
    /// Changes to its consignments.
    #[serde(default)]
    pub consignment: Option<Updates<ConsignmentUpdate>>,
    /// Recorded, not acted on.
    #[serde(default)]
    pub question_answers: Option<Map<String, Value>>,
}

/// `PartialOrderMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PartialOrderMatchInput {
    /// `OrderMatch`.
    #[serde(default)]
    pub order: Option<OrderMatch>,
    /// `CompanyMatch` (not supported by the simulator).
    #[serde(default)]
    pub company: Option<Value>,
}

/// `PartialOrderConsignmentUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsignmentUpdate {
    /// Which consignment.
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchTarget<ConsignmentMatchInput>>,
    /// Changes to the consignment.
    #[serde(default)]
    pub update: Option<EntityUpdate>,
    /// Changes to its goods lines.
    #[serde(default)]
    pub good: Option<Updates<GoodUpdate>>,
    /// Stop changes (not supported by the simulator).
    #[serde(default)]
    pub stop: Option<Value>,
    /// Recorded, not acted on.
    #[serde(default)]
    pub question_answers: Option<Map<String, Value>>,
}

/// `PartialOrderConsignmentMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsignmentMatchInput {
    /// `ConsignmentMatch`.
    #[serde(default)]
    pub consignment: Option<ConsignmentMatch>,
}

/// `PartialOrderGoodUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GoodUpdate {
    /// Which goods line.
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchTarget<GoodMatchInput>>,
    /// Changes to the line.
    #[serde(default)]
    pub update: Option<EntityUpdate>,
    /// Changes to its handling units.
    #[serde(default)]
    pub handling_unit: Option<Updates<HandlingUnitUpdate>>,
    /// Recorded, not acted on.
    #[serde(default)]
    pub question_answers: Option<Map<String, Value>>,
}

/// `PartialOrderGoodMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GoodMatchInput {
    /// `GoodMatch`.
    #[serde(default)]
    pub good: Option<IdMatch>,
}

/// `GoodMatch`: `{id: {matches_any}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdMatch {
    /// The line's UUID.
    #[serde(default)]
    pub id: Option<FieldMatch>,
}

/// `PartialOrderGoodTraceUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HandlingUnitUpdate {
    /// Which unit (`DELETE`, `UPDATE`).
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchTarget<HandlingUnitMatchInput>>,
    /// The change.
    #[serde(default)]
    pub update: Option<EntityUpdate>,
    /// Recorded, not acted on.
    #[serde(default)]
    pub question_answers: Option<Map<String, Value>>,
}

/// `PartialOrderGoodTraceMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HandlingUnitMatchInput {
    /// `HandlingUnitMatch`.
    #[serde(default)]
    pub handling_unit: Option<BarcodeMatch>,
}

/// `HandlingUnitMatch`: `{barcode: {matches_any}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BarcodeMatch {
    /// The unit's barcode.
    #[serde(default)]
    pub barcode: Option<FieldMatch>,
}

/// One call received on `partial-order-update`, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialUpdateRecord {
    /// When received.
    pub received_at: String,
    /// The order the first update matched, if it matched exactly one.
    pub order_id: Option<Uuid>,
    /// Every order matched (one per update that matched exactly one).
    pub order_ids: Vec<Uuid>,
    /// The body as sent.
    pub request: Value,
    /// Whether it was applied (all of it; nothing is applied otherwise).
    pub applied: bool,
    /// Why not (empty when applied).
    pub errors: Vec<ErrorStatus>,
    /// Every `question_answers` of the body (path → answers), recorded and not acted on.
    pub question_answers: Vec<(String, Value)>,
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

fn user_error(at: &str, message: impl std::fmt::Display) -> ErrorStatus {
    ErrorStatus { error_type: "USER_INPUT_ERROR".into(), error_message: Some(format!("{at}: {message}")) }
}

fn not_supported(at: &str, message: impl std::fmt::Display) -> ErrorStatus {
    ErrorStatus { error_type: "NOT_SUPPORTED".into(), error_message: Some(format!("{at}: {message}")) }
}

fn criterion(field: &Option<FieldMatch>) -> Option<&[String]> {
    field.as_ref().and_then(|f| f.matches_any.as_deref())
}

fn holds(field: &Option<FieldMatch>, value: Option<&str>) -> bool {
    match criterion(field) {
        None => true,
        Some(values) => value.is_some_and(|v| values.iter().any(|candidate| candidate.trim() == v)),
    }
}

fn id_holds(field: &Option<FieldMatch>, id: Uuid) -> bool {
    match criterion(field) {
        None => true,
        // Ids are compared as UUIDs, so letter case does not matter.
        Some(values) => values.iter().any(|candidate| Uuid::parse_str(candidate.trim()).ok() == Some(id)),
    }
}

fn describe_order(update: &PartialOrderUpdate) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &update.id {
        parts.push(format!("id = {id}"));
    }
    for entry in update.matcher.iter().flat_map(|m| m.matches_all.iter().flatten()) {
        if let Some(o) = &entry.order {
            for (name, field) in
                [("id", &o.id), ("name", &o.name), ("customer_reference_number", &o.customer_reference_number)]
            {
                if let Some(values) = criterion(field) {
                    parts.push(format!("order.{name} in {values:?}"));
                }
            }
        }
    }
    parts.join(" AND ")
}

fn order_matches(order: &Order, update: &PartialOrderUpdate) -> bool {
    let top = update.id.as_deref().is_none_or(|id| Uuid::parse_str(id.trim()).ok() == Some(order.id));
    top && update.matcher.iter().flat_map(|m| m.matches_all.iter().flatten()).all(|entry| {
        entry.order.as_ref().is_none_or(|o| {
            id_holds(&o.id, order.id)
                && holds(&o.name, Some(&order.name))
                && holds(&o.customer_reference_number, order.customer_reference_number.as_deref())
        })
    })
}

/// The position of the one active order an update names.
fn locate(orders: &[Order], update: &PartialOrderUpdate, at: &str) -> Result<usize, ErrorStatus> {
    if update.matcher.iter().flat_map(|m| m.matches_all.iter().flatten()).any(|e| e.company.is_some()) {
        return Err(not_supported(
            at,
            "company matching is not simulated; match the order by id, name or customer_reference_number",
        ));
    }
    let criteria = describe_order(update);
    if criteria.is_empty() {
        return Err(user_error(
            at,
            "match.matches_all has no order criteria (order.id / order.name / order.customer_reference_number {matches_any})",
        ));
    }
    let (active, cancelled): (Vec<usize>, Vec<usize>) =
        (0..orders.len()).filter(|&i| order_matches(&orders[i], update)).partition(|&i| !orders[i].cancelled);
    match active.as_slice() {
        [one] => Ok(*one),
        [] if !cancelled.is_empty() => {
            let names: Vec<&str> = cancelled.iter().map(|&i| orders[i].name.as_str()).collect();
            Err(user_error(
                at,
                format!(
                    "only cancelled orders ({}) match {criteria}; a cancelled order takes no changes",
                    names.join(", ")
                ),
            ))
        }
        [] => Err(user_error(at, format!("no order matches {criteria}"))),
        many => Err(user_error(
            at,
            format!("{} orders match {criteria}; a partial update must match exactly one order", many.len()),
        )),
    }
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

/// Applies an entity `update` of the order / consignment / goods level: `UPDATE` of
/// `custom_fields` only.
fn apply_fields(
    update: &Option<EntityUpdate>,
    fields: &mut Map<String, Value>,
    at: &str,
    errors: &mut Vec<ErrorStatus>,
) {
    let Some(update) = update else { return };
    let at = format!("{at}.update");
    let operation = update.operation.as_deref().unwrap_or("");
    if operation != "UPDATE" {
        errors.push(not_supported(&at, format!("operation {operation} is not simulated on this level; only UPDATE")));
        return;
    }
    let Some(data) = &update.data else { return };
    for (key, value) in data {
        match (key.as_str(), value) {
            ("custom_fields", Value::Object(changes)) => merge(fields, changes),
            (_, Value::Null) => {}
            (other, _) => errors.push(not_supported(
                &format!("{at}.data.{other}"),
                "only custom_fields is simulated; nothing was changed",
            )),
        }
    }
}

fn barcode_of(data: &Option<Map<String, Value>>) -> Option<(String, Option<String>)> {
    let barcode = data.as_ref()?.get("barcode")?;
    let value = barcode.get("value")?.as_str()?.trim().to_string();
    let source = barcode.get("source").and_then(Value::as_str).map(str::to_string);
    (!value.is_empty()).then_some((value, source))
}

fn matched_barcodes(update: &HandlingUnitUpdate) -> Vec<String> {
    update
        .matcher
        .iter()
        .flat_map(|m| m.matches_all.iter().flatten())
        .filter_map(|e| e.handling_unit.as_ref())
        .filter_map(|h| criterion(&h.barcode))
        .flatten()
        .map(|b| b.trim().to_string())
        .collect()
}

fn order_has_barcode(order: &Order, barcode: &str) -> bool {
    order.consignments.iter().any(|c| c.barcodes().any(|b| b == barcode))
}

fn apply_handling_units(
    order: &mut Order,
    c: usize,
    g: usize,
    updates: &[HandlingUnitUpdate],
    at: &str,
    errors: &mut Vec<ErrorStatus>,
) {
    for (k, update) in updates.iter().enumerate() {
        let at = format!("{at}.handling_unit.updates[{k}]");
        let Some(change) = &update.update else { continue };
        let operation = change.operation.as_deref().unwrap_or("");
        match operation {
            "CREATE" => {
                let Some((value, source)) = barcode_of(&change.data) else {
                    errors.push(user_error(&at, "CREATE needs update.data.barcode.value"));
                    continue;
                };
                if value.chars().count() > MAX_BARCODE_LENGTH {
                    errors.push(user_error(&at, format!("a barcode is at most {MAX_BARCODE_LENGTH} characters")));
                    continue;
                }
                let good = &order.consignments[c].goods[g];
                if good.handling_units.iter().any(|h| h.barcode.as_deref() == Some(value.as_str())) {
                    continue; // already on this line: a repeated CREATE changes nothing
                }
                if order_has_barcode(order, &value) {
                    errors.push(user_error(
                        &at,
                        format!("barcode '{value}' is on another goods line of order {}; barcodes are unique within an order", order.name),
                    ));
                    continue;
                }
                let good = &mut order.consignments[c].goods[g];
                good.handling_units.push(HandlingUnit { id: Uuid::new_v4(), barcode: Some(value), source });
            }
            "DELETE" => {
                let barcodes = matched_barcodes(update);
                if barcodes.is_empty() {
                    errors.push(user_error(&at, "DELETE needs match.matches_all[].handling_unit.barcode.matches_any"));
                    continue;
                }
                let good = &mut order.consignments[c].goods[g];
                good.handling_units.retain(|h| h.barcode.as_ref().is_none_or(|b| !barcodes.contains(b)));
            }
            "UPDATE" => {
                let barcodes = matched_barcodes(update);
                let good = &order.consignments[c].goods[g];
                let hits: Vec<usize> = (0..good.handling_units.len())
                    .filter(|&i| good.handling_units[i].barcode.as_ref().is_some_and(|b| barcodes.contains(b)))
                    .collect();
                let [unit] = hits.as_slice() else {
                    errors.push(user_error(
                        &at,
                        format!(
                            "UPDATE must match exactly one handling unit of the line by barcode; {} match",
                            hits.len()
                        ),
                    ));
                    continue;
                };
                let Some((value, source)) = barcode_of(&change.data) else { continue };
                let current = good.handling_units[*unit].barcode.clone();
                if current.as_deref() != Some(value.as_str()) && order_has_barcode(order, &value) {
                    errors.push(user_error(&at, format!("barcode '{value}' is already in order {}", order.name)));
                    continue;
                }
                let unit = &mut order.consignments[c].goods[g].handling_units[*unit];
                unit.barcode = Some(value);
                unit.source = source;
            }
            other => errors.push(not_supported(&at, format!("operation {other} is not simulated on handling units"))),
        }
    }
    let good = &mut order.consignments[c].goods[g];
    // The line as given follows too, so a later UPDATE upload starts from the same units.
    good.input.handling_units = Some(
        good.handling_units
            .iter()
            .map(|h| HandlingUnitInput {
                barcode: Some(BarcodeInput { value: h.barcode.clone(), source: h.source.clone() }),
            })
            .collect(),
    );
}

fn consignment_holds(order: &Order, c: usize, criterion: &ConsignmentMatch) -> bool {
    let consignment = &order.consignments[c];
    criterion.order_sequence_number.is_none_or(|n| n == c as i64 + 1)
        && holds(&criterion.reference_number, consignment.reference_number.as_deref())
}

fn apply_consignment(order: &mut Order, update: &ConsignmentUpdate, at: &str, errors: &mut Vec<ErrorStatus>) {
    let criteria: Vec<&ConsignmentMatch> = update
        .matcher
        .iter()
        .flat_map(|m| m.matches_all.iter().flatten())
        .filter_map(|e| e.consignment.as_ref())
        .collect();
    let hits: Vec<usize> =
        (0..order.consignments.len()).filter(|&c| criteria.iter().all(|k| consignment_holds(order, c, k))).collect();
    let [c] = hits.as_slice() else {
        errors.push(user_error(
            at,
            format!(
                "{} consignments of order {} match; exactly one must (order_sequence_number is 1-based)",
                hits.len(),
                order.name
            ),
        ));
        return;
    };
    let c = *c;
    if update.stop.as_ref().is_some_and(|s| !s.is_null()) {
        errors.push(not_supported(&format!("{at}.stop"), "stop updates are not simulated"));
    }
    apply_fields(&update.update, &mut order.consignments[c].custom_fields, at, errors);
    for (j, good_update) in update.good.iter().flat_map(|g| g.updates.iter().flatten()).enumerate() {
        let at = format!("{at}.good.updates[{j}]");
        let ids: Vec<&FieldMatch> = good_update
            .matcher
            .iter()
            .flat_map(|m| m.matches_all.iter().flatten())
            .filter_map(|e| e.good.as_ref())
            .filter_map(|g| g.id.as_ref())
            .collect();
        let goods = &order.consignments[c].goods;
        let hits: Vec<usize> =
            (0..goods.len()).filter(|&g| ids.iter().all(|f| id_holds(&Some((*f).clone()), goods[g].id))).collect();
        let [g] = hits.as_slice() else {
            errors.push(user_error(
                &at,
                format!("{} goods lines of the consignment match; exactly one must", hits.len()),
            ));
            continue;
        };
        let g = *g;
        let mut fields = order.consignments[c].goods[g].input.custom_fields.clone().unwrap_or_default();
        apply_fields(&good_update.update, &mut fields, &at, errors);
        order.consignments[c].goods[g].input.custom_fields = Some(fields);
        let units: Vec<HandlingUnitUpdate> =
            good_update.handling_unit.iter().flat_map(|h| h.updates.iter().flatten()).cloned().collect();
        if !units.is_empty() {
            apply_handling_units(order, c, g, &units, &at, errors);
        }
    }
}

fn collect_answers(payload: &OrderUpdatePayload) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut push = |at: String, answers: &Option<Map<String, Value>>| {
        if let Some(map) = answers.as_ref().filter(|m| !m.is_empty()) {
            out.push((at, Value::Object(map.clone())));
        }
    };
    for (u, update) in payload.updates.iter().flatten().enumerate() {
        let at = format!("updates[{u}]");
        push(at.clone(), &update.question_answers);
        for (i, c) in update.consignment.iter().flat_map(|c| c.updates.iter().flatten()).enumerate() {
            let at = format!("{at}.consignment.updates[{i}]");
            push(at.clone(), &c.question_answers);
            for (j, g) in c.good.iter().flat_map(|g| g.updates.iter().flatten()).enumerate() {
                let at = format!("{at}.good.updates[{j}]");
                push(at.clone(), &g.question_answers);
                for (k, h) in g.handling_unit.iter().flat_map(|h| h.updates.iter().flatten()).enumerate() {
                    push(format!("{at}.handling_unit.updates[{k}]"), &h.question_answers);
                }
            }
        }
    }
    out
}

/// Checks and applies every update to a copy of the orders; the copy replaces them only when all
/// succeeded. Returns the matched orders and the problems.
fn apply(world: &mut World, payload: &OrderUpdatePayload) -> (Vec<Uuid>, Vec<ErrorStatus>) {
    let mut orders = world.orders.clone();
    let mut errors = Vec::new();
    let mut matched = Vec::new();
    for (u, update) in payload.updates.iter().flatten().enumerate() {
        let at = format!("updates[{u}]");
        let position = match locate(&orders, update, &at) {
            Ok(position) => position,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let order = &mut orders[position];
        matched.push(order.id);
        apply_fields(&update.update, &mut order.custom_fields, &at, &mut errors);
        for (i, change) in update.consignment.iter().flat_map(|c| c.updates.iter().flatten()).enumerate() {
            apply_consignment(order, change, &format!("{at}.consignment.updates[{i}]"), &mut errors);
        }
    }
    if errors.is_empty() {
        world.orders = orders;
    }
    (matched, errors)
}

/// `POST /v1/webhook/partial-order-update`.
pub async fn partial_order_update(
    _auth: WebhookAuth,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let raw: Value = parse_body(&body)?;
    state.check_body("POST /v1/webhook/partial-order-update", "OrderUpdatePayload", &raw)?;
    let payload: OrderUpdatePayload = parse_value(raw.clone())?;
    let received_at = now().to_string();
    let (order_ids, errors) = apply(&mut state.lock(), &payload);
    record(
        &state,
        PartialUpdateRecord {
            received_at,
            order_id: order_ids.first().copied(),
            order_ids,
            request: raw,
            applied: errors.is_empty(),
            errors: errors.clone(),
            question_answers: collect_answers(&payload),
        },
    );
    if errors.is_empty() { Ok(Json(Value::Null)) } else { Ok(Json(json!({ "errors": errors }))) }
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
    Ok(Json(records.into_iter().filter(|r| order_id.is_none_or(|id| r.order_ids.contains(&id))).collect()))
}

/// The admin route of this webhook (`/_sim/partial-updates`), merged beside the other `/_sim/` routes.
pub(crate) fn admin_router() -> Router<AppState> {
    Router::new().route("/_sim/partial-updates", get(list))
}
