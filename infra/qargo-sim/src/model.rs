//! What the simulated tenant holds: customers, orders with their consignments, stops and goods,
//! trips, documents, upload jobs, barcode scans and the records of what came in and went out.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::wire::{ConsignmentTransportNetwork, EntityInput, GoodInput, StopInput};

/// `PICKUP` or `DELIVERY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopType {
    /// Collection.
    Pickup,
    /// Delivery.
    Delivery,
}

impl StopType {
    /// `PICKUP` / `DELIVERY`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopType::Pickup => "PICKUP",
            StopType::Delivery => "DELIVERY",
        }
    }
}

/// A customer (a Qargo company with `is_customer`).
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// UUID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Code.
    pub code: Option<String>,
    /// Additional fields (`PallexID`, `FortecID`, …), served as `custom_fields`.
    pub custom_fields: Map<String, Value>,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Contact phone.
    pub phone_number: Option<String>,
}

/// One entry of a stop's status history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopEvent {
    /// The status set, if any.
    pub status: Option<String>,
    /// ETA start set, if any.
    pub eta_start: Option<String>,
    /// ETA end set, if any.
    pub eta_end: Option<String>,
    /// When it happened (the caller's `event_time`).
    pub event_time: String,
    /// When the simulator received it.
    pub received_at: String,
    /// Who: `webhook`, `scenario`, `upload`, `dispatch`.
    pub source: String,
}

/// A question answer kept on a stop (anything but scans and documents).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRecord {
    /// The question path key.
    pub key: String,
    /// The answer as sent.
    pub value: Value,
    /// The update's `event_time`.
    pub event_time: String,
}

/// A stop of a consignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// UUID.
    pub id: Uuid,
    /// Pickup or delivery.
    pub stop_type: StopType,
    /// The stop as given (location, date, window, contacts, extras, …).
    pub input: StopInput,
    /// TO_PLAN, PLANNED, DISPATCHED, AT_STOP, COMPLETED, CANCELLED, …
    pub status: String,
    /// Estimated start.
    pub eta_start: Option<Timestamp>,
    /// Estimated end.
    pub eta_end: Option<Timestamp>,
    /// Actual start (arrival).
    pub actual_start: Option<Timestamp>,
    /// Actual end (departure / completion).
    pub actual_end: Option<Timestamp>,
    /// Status and ETA history.
    pub history: Vec<StopEvent>,
    /// Question answers other than scans and documents (e.g. a status note).
    pub answers: Vec<AnswerRecord>,
}

/// A handling unit (pallet) with its barcode.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlingUnit {
    /// UUID.
    pub id: Uuid,
    /// Barcode value.
    pub barcode: Option<String>,
    /// Barcode source.
    pub source: Option<String>,
}

/// A goods line.
#[derive(Debug, Clone, PartialEq)]
pub struct Good {
    /// UUID.
    pub id: Uuid,
    /// The line as given.
    pub input: GoodInput,
    /// Its handling units.
    pub handling_units: Vec<HandlingUnit>,
}

/// A captured signature (`Signature`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signature {
    /// `CONSIGNOR` | `CONSIGNEE` | `DRIVER`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who signed.
    pub name: Option<String>,
    /// When.
    pub timestamp: Option<String>,
    /// Where (`{latitude, longitude}`).
    pub position: Option<Value>,
}

/// A consignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Consignment {
    /// UUID.
    pub id: Uuid,
    /// Consignment reference.
    pub reference_number: Option<String>,
    /// CMR reference.
    pub cmr_reference_number: Option<String>,
    /// Planner text.
    pub planning_instructions: Option<String>,
    /// Additional fields.
    pub custom_fields: Map<String, Value>,
    /// Depot codes.
    pub transport_network: Option<ConsignmentTransportNetwork>,
    /// Pickup stop.
    pub pickup: Stop,
    /// Delivery stop.
    pub delivery: Stop,
    /// Goods.
    pub goods: Vec<Good>,
    /// Signatures.
    pub signatures: Vec<Signature>,
}

impl Consignment {
    /// The pickup and delivery stops.
    pub fn stops(&self) -> [&Stop; 2] {
        [&self.pickup, &self.delivery]
    }

    /// Every barcode of the consignment's handling units.
    pub fn barcodes(&self) -> impl Iterator<Item = &str> {
        self.goods.iter().flat_map(|g| g.handling_units.iter()).filter_map(|h| h.barcode.as_deref())
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// UUID.
    pub id: Uuid,
    /// `OR-<n>`.
    pub name: String,
    /// The upload's idempotency key, if it came through the API.
    pub order_identifier: Option<String>,
    /// The customer.
    pub customer_id: Uuid,
    /// Customer reference.
    pub customer_reference_number: Option<String>,
    /// Service level.
    pub service_level: Option<EntityInput>,
    /// Transport service.
    pub transport_service: Option<EntityInput>,
    /// Transport network (depot).
    pub transport_network: Option<EntityInput>,
    /// Department.
    pub department: Option<EntityInput>,
    /// Planner text.
    pub planning_instructions: Option<String>,
    /// Contact e-mails.
    pub contact_emails: Vec<String>,
    /// Additional fields.
    pub custom_fields: Map<String, Value>,
    /// `TO_PLAN` | `QUOTE` as given.
    pub order_status: String,
    /// Cancelled (DELETE upload).
    pub cancelled: bool,
    /// Created at.
    pub created: Timestamp,
    /// `api` (upload) or `scenario`.
    pub created_by: String,
    /// Consignments.
    pub consignments: Vec<Consignment>,
    /// The trip it is planned on.
    pub trip_id: Option<Uuid>,
    /// The last accepted `OrderInput` (for the admin view).
    pub raw_input: Option<Value>,
}

impl Order {
    /// All stops in sequence: each consignment's pickup, then its delivery.
    pub fn stops(&self) -> impl Iterator<Item = &Stop> {
        self.consignments.iter().flat_map(|c| c.stops())
    }
}

/// The subcontractor resource allocated to a trip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// UUID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Code (`PALLEX_OUT`, `FORTEC_OUT`, or anything else).
    pub code: String,
    /// The subcontractor company's UUID.
    pub subcontractor_id: Uuid,
    /// The subcontractor company's name.
    pub subcontractor_name: String,
}

/// A trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    /// UUID.
    pub id: Uuid,
    /// `TR-<n>`.
    pub name: String,
    /// Orders on it.
    pub order_ids: Vec<Uuid>,
    /// The resource allocation.
    pub resource: Resource,
    /// Additional fields.
    pub custom_fields: Map<String, Value>,
    /// `NOT_DISPATCHED`, `DISPATCHED`, `FAILED`, `CANCELLED`.
    pub dispatch_state: String,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// UUID.
    pub id: Uuid,
    /// File name.
    pub name: String,
    /// Qargo document type (`PROOF_OF_DELIVERY`, `CONSIGNEE_SIGNATURE`, …).
    pub document_type: String,
    /// MIME type.
    pub content_type: String,
    /// `ORDER`, `CONSIGNMENT` or `STOP`.
    pub subject_type: String,
    /// The order it belongs to.
    pub order_id: Option<Uuid>,
    /// The stop it belongs to.
    pub stop_id: Option<Uuid>,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// How it arrived: `subco-document-upload`, `document-import`, `upload_content`,
    /// `status-update`, `scenario`.
    pub source: String,
    /// The question path key it came with.
    pub question_path_key: Option<String>,
    /// Received at.
    pub created: Timestamp,
}

/// An order upload job.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// UUID.
    pub id: Uuid,
    /// `CREATE` | `UPDATE` | `DELETE`.
    pub operation: String,
    /// The idempotency key.
    pub order_identifier: String,
    /// The validated input.
    pub input: crate::wire::OrderInput,
    /// The raw body.
    pub raw: Value,
    /// TODO, IN_PROGRESS, COMPLETED, ERROR, SKIPPED, DUPLICATE.
    pub status: String,
    /// Polls answered so far.
    pub polls: u32,
    /// The order concerned, once known.
    pub order_id: Option<Uuid>,
    /// Why it ended in ERROR / SKIPPED / DUPLICATE.
    pub message: Option<String>,
    /// Received at.
    pub created: Timestamp,
}

/// A handling-unit scan: one scan object of a `scan_barcode` question answer (Qargo's format:
/// `{timestamp, status?, barcode?, stop_match?, stop_location_code?, description?}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanRecord {
    /// The barcode.
    pub barcode: String,
    /// The scanned handling unit's barcode source, as the order holds it (not sent with the scan).
    pub source: Option<String>,
    /// `SCANNED_IN` | `STORED` | `SCANNED_OUT`, if given.
    pub status: Option<String>,
    /// When the scan happened (UTC).
    pub timestamp: String,
    /// The stop of the status update that carried it.
    pub stop_id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// Where (`stop_location_code`).
    pub stop_location_code: Option<String>,
    /// Free text (the bridge puts the Nexus scan code first: `"ARRD Arrived at depot"`).
    pub description: Option<String>,
    /// The scan's `stop_match`, as sent.
    pub stop_match: Option<Value>,
    /// The one stop of the trip (or order) `stop_match` names, if exactly one does.
    pub matched_stop_id: Option<Uuid>,
    /// When the simulator received it.
    pub received_at: String,
}

impl ScanRecord {
    /// The first word of `description` (where the bridge puts the Nexus scan code, e.g. `ARRD`).
    pub fn code(&self) -> Option<&str> {
        self.description.as_deref().and_then(|d| d.split_whitespace().next())
    }
}

/// `ErrorStatus`: `{error_type, error_message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// `USER_INPUT_ERROR` | `INTERNAL_ERROR` | `NOT_SUPPORTED`.
    pub error_type: String,
    /// User visible message.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// One update received on `subco-status-update`, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusUpdateRecord {
    /// When received.
    pub received_at: String,
    /// Position in its request's `updates`.
    pub update_index: usize,
    /// The update as sent.
    pub update: Value,
    /// The stop it hit, if exactly one matched.
    pub stop_id: Option<Uuid>,
    /// Whether it was applied.
    pub applied: bool,
    /// Why not.
    pub error: Option<ErrorStatus>,
}

/// One outbound webhook call and what the receiver answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundRecord {
    /// Sequence number, from 1.
    pub id: u64,
    /// `dispatch` or `visibility`.
    pub kind: String,
    /// The dispatch operation (`CREATE`, `UPDATE`, `CANCEL`) or the visibility update types
    /// (`Stop`, `Eta`, `Document`).
    pub label: String,
    /// The trip concerned (dispatch).
    pub trip_id: Option<Uuid>,
    /// The order concerned (visibility).
    pub order_id: Option<Uuid>,
    /// Where it was sent.
    pub url: Option<String>,
    /// The JSON body sent.
    pub request: Value,
    /// The HTTP status received.
    pub status: Option<u16>,
    /// The answer: parsed JSON, or a JSON string when it was not JSON.
    pub response: Option<Value>,
    /// The `errors` list of the answer.
    pub errors: Vec<ErrorStatus>,
    /// Transport failure (no bridge configured, connection refused, timeout).
    pub error: Option<String>,
    /// A 2xx answer without errors.
    pub accepted: bool,
    /// When sent.
    pub sent_at: String,
}
