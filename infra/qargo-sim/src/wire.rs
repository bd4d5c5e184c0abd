//! Request bodies as Qargo's OpenAPI names them (`OrderInput`, `StopInput`, …), every field optional
//! so that a wrong *type* is a `422` (FastAPI's `{detail:[{loc, msg, type}]}`) while a missing or
//! invalid *value* is found by [`crate::validate`] and answered `400` (`{message, errors:[…]}`).
//! Unknown fields are ignored, as Qargo does.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::errors::{ApiError, HttpValidationIssue};

/// `Entity` / `ServiceLevel` / `Department`: `{code, name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityInput {
    /// Machine readable identifier.
    #[serde(default)]
    pub code: Option<String>,
    /// Human readable identifier.
    #[serde(default)]
    pub name: Option<String>,
}

/// `OrderInput` (the fields the simulator keeps; others are accepted and ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderInput {
    /// `CREATE` | `UPDATE` | `DELETE`.
    #[serde(default)]
    pub operation: Option<String>,
    /// The idempotency and de-duplication key.
    #[serde(default)]
    pub order_identifier: Option<String>,
    /// `{code}` or `{name}` of a customer known to the tenant.
    #[serde(default)]
    pub customer: Option<EntityInput>,
    /// At least one.
    #[serde(default)]
    pub consignments: Option<Vec<ConsignmentInput>>,
    /// Transport service.
    #[serde(default)]
    pub transport_service: Option<EntityInput>,
    /// Service level (`A`, `B`, `SD` for the pallet networks).
    #[serde(default)]
    pub service_level: Option<EntityInput>,
    /// The customer's reference.
    #[serde(default)]
    pub customer_reference_number: Option<String>,
    /// Import source.
    #[serde(default)]
    pub import_configuration: Option<EntityInput>,
    /// Transport network (Depot).
    #[serde(default)]
    pub transport_network: Option<EntityInput>,
    /// Department.
    #[serde(default)]
    pub department: Option<EntityInput>,
    /// Free text for the planner.
    #[serde(default)]
    pub planning_instructions: Option<String>,
    /// Who to notify.
    #[serde(default)]
    pub contact_emails: Option<Vec<String>>,
    /// Additional fields of the order.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// `QUOTE` | `TO_PLAN` (default `TO_PLAN`).
    #[serde(default)]
    pub order_status: Option<String>,
}

/// `ConsignmentTransportNetwork`: the pallet network's depot codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentTransportNetwork {
    /// Requesting depot.
    #[serde(default)]
    pub requesting_depot_code: Option<String>,
    /// Collection depot.
    #[serde(default)]
    pub collection_depot_code: Option<String>,
    /// Delivery depot.
    #[serde(default)]
    pub delivery_depot_code: Option<String>,
}

/// `ConsignmentInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentInput {
    /// Required.
    #[serde(default)]
    pub pickup_stop: Option<StopInput>,
    /// Required.
    #[serde(default)]
    pub delivery_stop: Option<StopInput>,
    /// The consignment's reference.
    #[serde(default)]
    pub consignment_reference_number: Option<String>,
    /// CMR reference.
    #[serde(default)]
    pub cmr_reference_number: Option<String>,
    /// Free text for the planner.
    #[serde(default)]
    pub planning_instructions: Option<String>,
    /// Goods lines.
    #[serde(default)]
    pub goods: Option<Vec<GoodInput>>,
    /// Additional fields of the consignment.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Depot codes.
    #[serde(default)]
    pub transport_network: Option<ConsignmentTransportNetwork>,
}

/// `Location`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationInput {
    /// Name (company / site).
    #[serde(default)]
    pub name: Option<String>,
    /// First address line (required by the simulator).
    #[serde(default)]
    pub address: Option<String>,
    /// Second address line.
    #[serde(default)]
    pub address_second_line: Option<String>,
    /// Postal code (required).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// City (required).
    #[serde(default)]
    pub city: Option<String>,
    /// State / county.
    #[serde(default)]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 (required).
    #[serde(default)]
    pub country: Option<String>,
    /// Location code.
    #[serde(default)]
    pub code: Option<String>,
    /// External id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// `TimeWindow`: times are `HH:mm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeWindowInput {
    /// Window code (`AM`, `TD`, `BI` for the pallet networks).
    #[serde(default)]
    pub code: Option<String>,
    /// Window name.
    #[serde(default)]
    pub name: Option<String>,
    /// `HH:mm`.
    #[serde(default)]
    pub start_time: Option<String>,
    /// `HH:mm`.
    #[serde(default)]
    pub end_time: Option<String>,
    /// Whether the window is enforced.
    #[serde(default)]
    pub is_enforced: Option<bool>,
}

/// `StopExtra`: `{code, name, amazon}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopExtraInput {
    /// Extra code (e.g. `TL`, `HB`, `PP`, `RA`, `RES`, `SAT`, `AZ`).
    #[serde(default)]
    pub code: Option<String>,
    /// Extra name.
    #[serde(default)]
    pub name: Option<String>,
    /// `AmazonExtraFields` (`carton_count`, `po_number`, `booking_date`, `booking_time`, …).
    #[serde(default)]
    pub amazon: Option<Map<String, Value>>,
}

/// `StopInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopInput {
    /// Required: where.
    #[serde(default)]
    pub location: Option<LocationInput>,
    /// `YYYY-MM-DD`; required on pickups, and on deliveries unless the order has a service level.
    #[serde(default)]
    pub date: Option<String>,
    /// Time window.
    #[serde(default)]
    pub time_window: Option<TimeWindowInput>,
    /// Stop reference.
    #[serde(default)]
    pub reference_number: Option<String>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// Free text for the planner.
    #[serde(default)]
    pub planning_instructions: Option<String>,
    /// Contact e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Contact phone.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Contact mobile.
    #[serde(default)]
    pub mobile_number: Option<String>,
    /// Extras.
    #[serde(default)]
    pub extras: Option<Vec<StopExtraInput>>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<i64>,
    /// Additional fields of the stop.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Activity label.
    #[serde(default)]
    pub activity_label: Option<String>,
}

/// `PackagingType`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackagingTypeInput {
    /// Code (pallet type: `F`, `H`, `Q`, `MQ`, `L`, `E`, `OS`).
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Packaging size.
    #[serde(default)]
    pub packaging_size: Option<EntityInput>,
}

/// `BarcodeInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BarcodeInput {
    /// The barcode (≤ 255 characters).
    #[serde(default)]
    pub value: Option<String>,
    /// Its source system (`PALLEX`, `EXTERNAL`, `QARGO`, …).
    #[serde(default)]
    pub source: Option<String>,
}

/// `HandlingUnitInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HandlingUnitInput {
    /// Barcode.
    #[serde(default)]
    pub barcode: Option<BarcodeInput>,
}

/// `GoodInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoodInput {
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Quantity (> 0).
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Packaging type.
    #[serde(default)]
    pub packaging_type: Option<PackagingTypeInput>,
    /// Total weight, kg.
    #[serde(default)]
    pub total_weight_kg: Option<f64>,
    /// Total volume, m³.
    #[serde(default)]
    pub total_volume_m3: Option<f64>,
    /// Pallet spaces.
    #[serde(default)]
    pub total_pallet_spaces: Option<f64>,
    /// Loading metres.
    #[serde(default)]
    pub total_loading_meters: Option<f64>,
    /// Unit length, m.
    #[serde(default)]
    pub unit_length_m: Option<f64>,
    /// Unit width, m.
    #[serde(default)]
    pub unit_width_m: Option<f64>,
    /// Unit height, m.
    #[serde(default)]
    pub unit_height_m: Option<f64>,
    /// Unit weight, kg.
    #[serde(default)]
    pub unit_weight_kg: Option<f64>,
    /// Stackable.
    #[serde(default)]
    pub stackable: Option<bool>,
    /// Handling units (one per pallet) with their barcodes.
    #[serde(default)]
    pub handling_units: Option<Vec<HandlingUnitInput>>,
    /// Packaged items, kept as given.
    #[serde(default)]
    pub packaged_items: Option<Vec<Value>>,
    /// ADR, kept as given.
    #[serde(default)]
    pub adr: Option<Value>,
    /// Additional fields of the goods line.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
}

/// `SubcontractorStatusUpdatePayload`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusUpdatePayload {
    /// The updates, each handled on its own.
    #[serde(default)]
    pub updates: Option<Vec<BaseStatusUpdate>>,
}

/// `BaseStatusUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BaseStatusUpdate {
    /// The stop and what changes on it.
    #[serde(default)]
    pub stop: Option<StopStatusUpdate>,
    /// Required, with an offset.
    #[serde(default)]
    pub event_time: Option<String>,
}

/// `StopStatusUpdate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopStatusUpdate {
    /// The stop's UUID (preferred).
    #[serde(default)]
    pub id: Option<String>,
    /// Matching criteria when the id is not known.
    #[serde(rename = "match", default)]
    pub matcher: Option<StopMatchTarget>,
    /// `AT_STOP` | `COMPLETED`; omitted for an ETA or data only.
    #[serde(default)]
    pub status: Option<String>,
    /// ETA start, with an offset.
    #[serde(default)]
    pub eta_start: Option<String>,
    /// ETA end, with an offset.
    #[serde(default)]
    pub eta_end: Option<String>,
    /// Data for the stop (see the crate docs for the shapes the simulator understands).
    #[serde(default)]
    pub question_answers: Option<Map<String, Value>>,
}

/// `StopMatchTarget`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopMatchTarget {
    /// All entries must match (AND).
    #[serde(default)]
    pub matches_all: Option<Vec<StopMatchInput>>,
}

/// `FieldMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldMatch {
    /// The value matches if it equals any of these.
    #[serde(default)]
    pub matches_any: Option<Vec<String>>,
}

/// `StopMatchInput`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopMatchInput {
    /// `TripMatch`.
    #[serde(default)]
    pub trip: Option<TripMatch>,
    /// `OrderMatch`.
    #[serde(default)]
    pub order: Option<OrderMatch>,
    /// `ConsignmentMatch`.
    #[serde(default)]
    pub consignment: Option<ConsignmentMatch>,
    /// `StopMatch`.
    #[serde(default)]
    pub stop: Option<StopMatch>,
}

/// `TripMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TripMatch {
    /// Trip name.
    #[serde(default)]
    pub name: Option<FieldMatch>,
}

/// `OrderMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderMatch {
    /// Customer reference number.
    #[serde(default)]
    pub customer_reference_number: Option<FieldMatch>,
    /// Order name (`OR-…`).
    #[serde(default)]
    pub name: Option<FieldMatch>,
    /// Order UUID.
    #[serde(default)]
    pub id: Option<FieldMatch>,
}

/// `ConsignmentMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsignmentMatch {
    /// Consignment reference number.
    #[serde(default)]
    pub reference_number: Option<FieldMatch>,
    /// 1-based position of the consignment in its order.
    #[serde(default)]
    pub order_sequence_number: Option<i64>,
}

/// `StopMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StopMatch {
    /// Stop reference number.
    #[serde(default)]
    pub reference_number: Option<FieldMatch>,
    /// `PICKUP` | `DELIVERY`.
    #[serde(default)]
    pub stop_type: Option<String>,
}

/// Parses a JSON body into `T`, answering FastAPI-style `422`s for a body that is not JSON or has a
/// value of the wrong type.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::Unprocessable(vec![HttpValidationIssue {
            loc: vec!["body".into(), Value::from(e.column())],
            msg: format!("JSON decode error: {e}"),
            kind: "json_invalid".into(),
        }])
    })?;
    parse_value(value)
}

/// Like [`parse_body`] from an already parsed JSON value.
pub fn parse_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut loc = vec![Value::from("body")];
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
                serde_path_to_error::Segment::Map { key } => loc.push(Value::from(key.as_str())),
                serde_path_to_error::Segment::Enum { variant } => loc.push(Value::from(variant.as_str())),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let msg = e.inner().to_string();
        ApiError::Unprocessable(vec![HttpValidationIssue { loc, kind: type_of_error(&msg).into(), msg }])
    })
}

fn type_of_error(msg: &str) -> &'static str {
    let expected = msg.split("expected").nth(1).unwrap_or("");
    if expected.contains("string") {
        "string_type"
    } else if expected.contains("i64") || expected.contains("integer") || expected.contains("u64") {
        "int_type"
    } else if expected.contains("f64") || expected.contains("float") {
        "float_type"
    } else if expected.contains("bool") {
        "bool_type"
    } else if expected.contains("sequence") {
        "list_type"
    } else if expected.contains("map") || expected.contains("struct") {
        "dict_type"
    } else {
        "value_error"
    }
}
