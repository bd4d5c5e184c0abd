//! Qargo's visibility webhook (`POST /qargo/visibility`, research/qargo-api.md §6), parsed.
//!
//! Qargo sends `{events: [{timestamp, update}], order?, trip?}`, one body for several updates of one
//! order. [`parse_visibility`] checks the body and splits it into [`RoutedUpdate`]s, each one event
//! made self-contained (kind, timestamp, update, order), so that each can travel and be retried on
//! its own. Only three kinds are used by the bridge: `Stop`, `Document` and `Eta`. The others
//! (`Order`, `OrderImport`, `Trip`, `Position`, `Resource`, `HandlingUnit`, and whatever Qargo adds)
//! are acknowledged and dropped with a debug log. How the updates reach their jobs is
//! [`crate::routing`]'s part: this module is below the jobs, which take its types.

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::qargo::wire::null_as_default;

/// The most events one visibility body may carry (Qargo sends one order's updates together).
pub const MAX_EVENTS: usize = 500;
/// The most stops one ETA update may carry (a trip's stops).
pub const MAX_ETA_STOPS: usize = 500;

/// The webhook's body as Qargo sends it (`OperationalVisibilityUpdate`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VisibilityWebhook {
    /// The updates, oldest first.
    pub events: Vec<VisibilityEvent>,
    /// The order the updates concern, when they concern one.
    #[serde(default)]
    pub order: Option<VisibilityOrder>,
    /// The trip, when they concern one (not used by the bridge).
    #[serde(default)]
    pub trip: Option<Value>,
}

/// One event of the webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VisibilityEvent {
    /// When it happened.
    pub timestamp: Timestamp,
    /// What happened: an object with a `type` (`Stop`, `Document`, `Eta`, …) and that type's fields.
    pub update: Value,
}

/// Qargo's `VisibilityOrder`: the fields the bridge reads, and every other field kept as sent, so a
/// routed update carries the whole order to the job that takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisibilityOrder {
    /// Order UUID.
    pub id: String,
    /// Order name, e.g. `OR-10001`.
    #[serde(default)]
    pub order_name: Option<String>,
    /// The order's additional fields: where the bridge keeps its Nexus identity (`NexusNetwork`,
    /// `NexusConsignmentID`, `NexusDepot`) or the origin of an imported order (`NexusOrigin`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
    /// Every other field (`customer`, `status`, `stops`, `consignment`, …).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Qargo's `VisibilityStop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisibilityStop {
    /// Stop UUID.
    pub id: String,
    /// `PICKUP` or `DELIVERY` (other types are possible in Qargo and are not exported).
    pub stop_type: String,
    /// `PLANNED`, `DISPATCHED`, `ROUTE_TO_STOP`, `AT_STOP`, `COMPLETED`, `CANCELLED`, …
    pub status: String,
    /// When the stop actually started.
    #[serde(default)]
    pub actual_start_timestamp: Option<Timestamp>,
    /// When the stop actually ended.
    #[serde(default)]
    pub actual_end_timestamp: Option<Timestamp>,
    /// Estimated start.
    #[serde(default)]
    pub eta_start_time: Option<Timestamp>,
    /// Estimated end.
    #[serde(default)]
    pub eta_end_time: Option<Timestamp>,
    /// The stop's reference number.
    #[serde(default)]
    pub stop_reference: Option<String>,
    /// The stop's additional fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
    /// Every other field (`location`, `resources`, and whatever Qargo adds, e.g. incidents).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A `Stop` update: a stop of the order changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopUpdate {
    /// The stop's id (`uuid | null` in Qargo's spec; the stop carries its own `id`).
    #[serde(default)]
    pub id: Option<String>,
    /// The stop as it is now.
    pub stop: VisibilityStop,
}

/// An `Eta` update: the stops whose ETA moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtaUpdate {
    /// The order's id (optional in Qargo's spec; the body's `order` names it too).
    #[serde(default)]
    pub id: Option<String>,
    /// The stops, with their new ETAs.
    pub stops: Vec<VisibilityStop>,
}

/// The kinds of update the bridge routes; also the events' detail-type on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UpdateKind {
    /// A stop changed: status export.
    Stop,
    /// A document was added: POD upload.
    Document,
    /// ETAs moved: ETA export.
    Eta,
}

impl UpdateKind {
    /// The kind as Qargo spells it (`Stop`, `Document`, `Eta`).
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Stop => "Stop",
            UpdateKind::Document => "Document",
            UpdateKind::Eta => "Eta",
        }
    }

    fn from_type(update_type: &str) -> Option<UpdateKind> {
        [UpdateKind::Stop, UpdateKind::Document, UpdateKind::Eta].into_iter().find(|kind| kind.as_str() == update_type)
    }
}

impl std::fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One visibility event made self-contained: what a job needs, with nothing left in the body it
/// came in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedUpdate {
    /// Which kind.
    pub kind: UpdateKind,
    /// When it happened (the event's timestamp).
    pub timestamp: Timestamp,
    /// The update as Qargo sent it (`{id, type, stop}`, `{id, type, stops}`, `{id, type, status, document}`).
    pub update: Value,
    /// The order the update concerns.
    #[serde(default)]
    pub order: Option<VisibilityOrder>,
}

impl RoutedUpdate {
    /// The update read as a `Stop` update.
    pub fn stop_update(&self) -> Result<StopUpdate, InvalidVisibility> {
        self.read("Stop update")
    }

    /// The update read as an `Eta` update.
    pub fn eta_update(&self) -> Result<EtaUpdate, InvalidVisibility> {
        self.read("Eta update")
    }

    fn read<T: DeserializeOwned>(&self, what: &str) -> Result<T, InvalidVisibility> {
        serde_json::from_value(self.update.clone())
            .map_err(|err| InvalidVisibility(format!("the update is not a {what}: {err}")))
    }
}

/// A visibility body that cannot be read; the message names the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidVisibility(pub String);

/// Reads a webhook body into the updates the bridge routes, checked: every event needs a timestamp
/// and an `update` object with a `type`; a `Stop` update needs its `stop` (id, stop_type, status), an
/// `Eta` update its `stops`, a `Document` update its `document`. Kinds the bridge does not use are
/// dropped here, with a debug log.
pub fn parse_visibility(body: &[u8]) -> Result<Vec<RoutedUpdate>, InvalidVisibility> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|err| InvalidVisibility(format!("the body is not JSON: {err}")))?;
    if !raw.is_object() {
        return Err(InvalidVisibility("the body must be a JSON object {events:[…], order}".into()));
    }
    if raw.get("events").is_none() {
        return Err(InvalidVisibility("events is missing: send {events:[{timestamp, update}], order}".into()));
    }
    if let Some(events) = raw.get("events").and_then(Value::as_array) {
        if events.len() > MAX_EVENTS {
            return Err(InvalidVisibility(format!(
                "events has {} entries; the bridge takes at most {MAX_EVENTS} in one body",
                events.len()
            )));
        }
        for (index, event) in events.iter().enumerate() {
            check_event(index, event)?;
        }
    }
    if let Some(order) = raw.get("order").filter(|order| !order.is_null()) {
        serde_json::from_value::<VisibilityOrder>(order.clone())
            .map_err(|err| InvalidVisibility(format!("order: {err}")))?;
    }
    let webhook: VisibilityWebhook =
        serde_json::from_value(raw).map_err(|err| InvalidVisibility(format!("events: {err}")))?;
    let order = webhook.order;
    let mut routed = Vec::new();
    for event in webhook.events {
        let update_type = event.update.get("type").and_then(Value::as_str).unwrap_or_default();
        match UpdateKind::from_type(update_type) {
            Some(kind) => routed.push(RoutedUpdate {
                kind,
                timestamp: event.timestamp,
                update: event.update,
                order: order.clone(),
            }),
            None => tracing::debug!(update_type, "visibility update of a kind the bridge does not use; dropped"),
        }
    }
    Ok(routed)
}

/// Checks one event, naming its place in the body (`events[2].update.stop`) in the message.
fn check_event(index: usize, event: &Value) -> Result<(), InvalidVisibility> {
    let at = |field: &str| format!("events[{index}].{field}");
    let timestamp =
        event.get("timestamp").ok_or_else(|| InvalidVisibility(format!("{} is missing", at("timestamp"))))?;
    serde_json::from_value::<Timestamp>(timestamp.clone()).map_err(|err| {
        InvalidVisibility(format!(
            "{} is not a date-time with an offset ({err}): {}",
            at("timestamp"),
            crate::error::shown(&timestamp.to_string())
        ))
    })?;
    let update = event.get("update").ok_or_else(|| InvalidVisibility(format!("{} is missing", at("update"))))?;
    let update_type = update
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| InvalidVisibility(format!("{} must be an object with a string type", at("update"))))?;
    let field = |name: &str| -> Result<&Value, InvalidVisibility> {
        update.get(name).ok_or_else(|| InvalidVisibility(format!("{} is missing", at(&format!("update.{name}")))))
    };
    match UpdateKind::from_type(update_type) {
        Some(UpdateKind::Stop) => {
            serde_json::from_value::<VisibilityStop>(field("stop")?.clone())
                .map_err(|err| InvalidVisibility(format!("{}: {err}", at("update.stop"))))?;
        }
        Some(UpdateKind::Eta) => {
            let stops = field("stops")?;
            if stops.as_array().is_some_and(|stops| stops.len() > MAX_ETA_STOPS) {
                return Err(InvalidVisibility(format!(
                    "{} has more than {MAX_ETA_STOPS} stops: the bridge takes at most {MAX_ETA_STOPS} in one update",
                    at("update.stops")
                )));
            }
            serde_json::from_value::<Vec<VisibilityStop>>(stops.clone())
                .map_err(|err| InvalidVisibility(format!("{}: {err}", at("update.stops"))))?;
        }
        Some(UpdateKind::Document) => {
            field("document")?
                .as_object()
                .ok_or_else(|| InvalidVisibility(format!("{} must be an object", at("update.document"))))?;
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stop(status: &str) -> Value {
        json!({"id": "s-1", "stop_type": "DELIVERY", "status": status, "actual_end_timestamp": null,
               "custom_fields": null, "location": {"city": "Derby"}})
    }

    fn body(events: Value) -> Vec<u8> {
        json!({"events": events, "order": {"id": "o-1", "custom_fields": {"NexusOrigin": "PALLEX:10020"},
                                            "customer": {"name": "Acme"}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn splits_the_body_into_self_contained_updates_of_the_kinds_used() {
        let events = json!([
            {"timestamp": "2026-06-17T09:00:00Z", "update": {"id": "s-1", "type": "Stop", "stop": stop("AT_STOP")}},
            {"timestamp": "2026-06-17T09:01:00Z", "update": {"id": "o-1", "type": "Order"}},
            {"timestamp": "2026-06-17T09:02:00Z", "update": {"id": "o-1", "type": "Eta", "stops": [stop("PLANNED")]}},
            {"timestamp": "2026-06-17T09:03:00+01:00", "update": {"id": "d-1", "type": "Document", "document": {}}},
        ]);
        let routed = parse_visibility(&body(events)).unwrap();
        let kinds: Vec<UpdateKind> = routed.iter().map(|u| u.kind).collect();
        assert_eq!(kinds, [UpdateKind::Stop, UpdateKind::Eta, UpdateKind::Document]);
        let order = routed[0].order.as_ref().unwrap();
        assert_eq!(order.custom_fields["NexusOrigin"], json!("PALLEX:10020"));
        assert_eq!(order.other["customer"]["name"], json!("Acme"), "other fields travel with the order");
        let stop_update = routed[0].stop_update().unwrap();
        assert_eq!((stop_update.stop.stop_type.as_str(), stop_update.stop.status.as_str()), ("DELIVERY", "AT_STOP"));
        assert_eq!(stop_update.stop.other["location"]["city"], json!("Derby"));
        assert_eq!(routed[1].eta_update().unwrap().stops.len(), 1);
        assert_eq!(routed[2].timestamp, "2026-06-17T08:03:00Z".parse().unwrap());
        assert!(routed[2].stop_update().is_err());

        let round_trip: RoutedUpdate = serde_json::from_str(&serde_json::to_string(&routed[0]).unwrap()).unwrap();
        assert_eq!(round_trip, routed[0]);
    }

    #[test]
    fn bad_bodies_name_what_is_wrong() {
        let cases: [(&[u8], &str); 8] = [
            (b"not json", "not JSON"),
            (b"[]", "JSON object"),
            (b"{}", "events is missing"),
            (br#"{"events": 3}"#, "expected a sequence"),
            (br#"{"events": [{"update": {"type": "Stop"}}]}"#, "events[0].timestamp is missing"),
            (br#"{"events": [{"timestamp": "yesterday", "update": {"type": "Stop"}}]}"#, "events[0].timestamp"),
            (br#"{"events": [{"timestamp": "2026-06-17T09:00:00Z", "update": {"id": 1}}]}"#, "string type"),
            (
                br#"{"events": [{"timestamp": "2026-06-17T09:00:00Z", "update": {"type": "Stop"}}]}"#,
                "update.stop is missing",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_visibility(body).unwrap_err();
            assert!(err.0.contains(expected), "{}: {err}", String::from_utf8_lossy(body));
        }
        let no_status = body(json!([{"timestamp": "2026-06-17T09:00:00Z",
                                     "update": {"type": "Stop", "stop": {"id": "s", "stop_type": "PICKUP"}}}]));
        let err = parse_visibility(&no_status).unwrap_err();
        assert!(err.0.contains("events[0].update.stop") && err.0.contains("status"), "{err}");
        let bad_eta = body(json!([{"timestamp": "2026-06-17T09:00:00Z", "update": {"type": "Eta", "stops": {}}}]));
        assert!(parse_visibility(&bad_eta).unwrap_err().0.contains("events[0].update.stops"));
        let no_order_id = json!({"events": [], "order": {"order_name": "OR-1"}}).to_string();
        let err = parse_visibility(no_order_id.as_bytes()).unwrap_err();
        assert!(err.0.starts_with("order: ") && err.0.contains("`id`"), "{err}");
    }

    #[test]
    fn update_ids_are_optional_as_qargo_s_spec_says() {
        let events = json!([
            {"timestamp": "2026-06-17T09:00:00Z", "update": {"id": null, "type": "Stop", "stop": stop("AT_STOP")}},
            {"timestamp": "2026-06-17T09:05:00Z", "update": {"type": "Eta", "stops": [stop("PLANNED")]}},
        ]);
        let routed = parse_visibility(&body(events)).unwrap();
        assert_eq!(routed[0].stop_update().unwrap().id, None);
        assert_eq!(routed[0].stop_update().unwrap().stop.status, "AT_STOP");
        assert_eq!(routed[1].eta_update().unwrap().id, None);
    }

    #[test]
    fn an_empty_list_and_unused_kinds_route_nothing() {
        assert!(parse_visibility(br#"{"events": []}"#).unwrap().is_empty());
        let unused = body(json!([{"timestamp": "2026-06-17T09:00:00Z", "update": {"type": "Position"}}]));
        assert!(parse_visibility(&unused).unwrap().is_empty());
    }
}
