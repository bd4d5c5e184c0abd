//! Qargo JSON as its public API writes it (research/qargo-api.md). Requests are typed where the
//! bridge builds them; Qargo's documents of its own (orders, statuses) are read leniently: unknown
//! fields are ignored, as Qargo asks of its clients.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads a field Qargo's spec makes nullable (`anyOf [..., null]`) as its default when `null`, so a
/// legal `null` collection or map is read as empty rather than refused.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A Qargo id as the bridge keeps and sends it: Qargo's ids are UUIDs, read in any of their written
/// forms and given back hyphenated in lower case; `None` for anything else.
pub fn qargo_id(raw: &str) -> Option<String> {
    uuid::Uuid::parse_str(raw.trim()).ok().map(|uuid| uuid.hyphenated().to_string())
}

/// A list of at most `N` entries, `null` read as empty. A longer list is refused while it is read,
/// entry `N + 1` already, so a body of a million tiny entries never becomes a million values.
pub fn bounded_list<'de, D, T, const N: usize>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T, const N: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Bounded<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {N} entries")
        }
        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, deserializer: D2) -> Result<Vec<T>, D2::Error> {
            deserializer.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                if items.len() == N {
                    return Err(serde::de::Error::custom(format!(
                        "more than {N} entries: the bridge reads at most {N}"
                    )));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    deserializer.deserialize_option(Bounded::<T, N>(std::marker::PhantomData))
}

/// `POST /v1/auth/token` answer. Its `Debug` never shows the token.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds it lasts.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// One field of a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// What is wrong.
    pub message: String,
    /// The field.
    #[serde(default)]
    pub field: Option<String>,
    /// Its path in the body.
    #[serde(default)]
    pub path: Option<String>,
    /// More: a string or an object (`ValidationErrorDetail.detail` is `string | object | null`).
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// A 400 answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValidationErrors {
    /// Summary.
    #[serde(default)]
    pub message: Option<String>,
    /// Per field.
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<FieldError>,
}

/// One entry of a webhook answer's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookError {
    /// `USER_INPUT_ERROR`, `INTERNAL_ERROR`, `NOT_SUPPORTED`, …
    pub error_type: String,
    /// The reason (`error_message` is nullable in `ErrorStatus`; read as empty then).
    #[serde(default, deserialize_with = "null_as_default")]
    pub error_message: String,
}

/// A webhook answer (`SubcontractorDispatchResponse`, `PartialOrderUpdateResponse`,
/// `OrderImportResponse`): `{errors: [...] | null}`, or the body `null`; empty, omitted or `null`
/// errors mean success.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAnswer {
    /// Empty on success.
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<WebhookError>,
}

/// Where an order upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadStatus {
    /// Queued.
    Todo,
    /// Being read.
    InProgress,
    /// Read, waiting to be written.
    ReadyToUpsert,
    /// Being written.
    UpsertInProgress,
    /// Imported.
    Completed,
    /// Refused.
    Error,
    /// Skipped.
    Skipped,
    /// Already imported under this `order_identifier`.
    Duplicate,
}

impl UploadStatus {
    /// Whether the upload will not move again.
    pub fn is_final(self) -> bool {
        matches!(self, UploadStatus::Completed | UploadStatus::Error | UploadStatus::Skipped | UploadStatus::Duplicate)
    }
}

/// `POST /v1/orders/order/upload` and `GET …/upload/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upload {
    /// The upload.
    pub upload_id: String,
    /// Where it stands.
    pub upload_status: UploadStatus,
    /// Its URL.
    #[serde(default)]
    pub upload_url: Option<String>,
    /// The order, once known.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The order's URL.
    #[serde(default)]
    pub order_url: Option<String>,
}

/// A document of an order (`Document{id, name, type, download_url, subject_type, content_type}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Document {
    /// Id.
    pub id: String,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
    /// Document type (`CONSIGNEE_SIGNATURE`, …).
    #[serde(rename = "type", default)]
    pub document_type: Option<String>,
    /// Where to fetch it.
    #[serde(default)]
    pub download_url: Option<String>,
    /// What it belongs to.
    #[serde(default)]
    pub subject_type: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `POST /v1/documents/document/upload_content` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentUpload {
    /// To reference as `remote_document{upload_id}`.
    pub upload_id: String,
}

// ---- the order the bridge sends: `OrderInput` (order upload and order webhook) ------------------

/// `operation` of an `OrderInput`: `order_identifier` names the order for all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderOperation {
    /// A new order (Qargo answers DUPLICATE when the identifier is taken).
    Create,
    /// Replace the order's content.
    Update,
    /// Cancel the order; its identifier can never be used again.
    Delete,
}

impl OrderOperation {
    /// As Qargo spells it.
    pub fn code(self) -> &'static str {
        match self {
            OrderOperation::Create => "CREATE",
            OrderOperation::Update => "UPDATE",
            OrderOperation::Delete => "DELETE",
        }
    }
}

/// `{code, name}`: how Qargo refers to a customer, service level, packaging size, ….
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityRef {
    /// Machine readable identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human readable identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl EntityRef {
    /// A reference by code.
    pub fn code(code: impl Into<String>) -> EntityRef {
        EntityRef { code: Some(code.into()), name: None }
    }
}

/// `OrderInput`: one order with its consignments (research/qargo-api.md §3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderInput {
    /// CREATE, UPDATE or DELETE; absent while the order is being built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OrderOperation>,
    /// The idempotency and de-duplication key.
    pub order_identifier: String,
    /// The customer, by code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<EntityRef>,
    /// Service level (`A`, `B`, `SD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level: Option<EntityRef>,
    /// The customer's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_reference_number: Option<String>,
    /// Free text for the planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planning_instructions: Option<String>,
    /// Additional fields of the order.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// `QUOTE` or `TO_PLAN` (Qargo's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_status: Option<String>,
    /// The consignments (at least one).
    #[serde(default)]
    pub consignments: Vec<ConsignmentInput>,
}

/// The pallet network's depot codes on a consignment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentTransportNetwork {
    /// The depot that booked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requesting_depot_code: Option<String>,
    /// The depot that collects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_depot_code: Option<String>,
    /// The depot that delivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_depot_code: Option<String>,
}

/// `ConsignmentInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentInput {
    /// The consignment's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consignment_reference_number: Option<String>,
    /// Free text for the planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planning_instructions: Option<String>,
    /// Additional fields of the consignment.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// Depot codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_network: Option<ConsignmentTransportNetwork>,
    /// Where the goods are collected.
    pub pickup_stop: StopInput,
    /// Where they are delivered.
    pub delivery_stop: StopInput,
    /// What travels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goods: Vec<GoodInput>,
}

/// `LocationInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationInput {
    /// The tenant's own identifier of a location it keeps (e.g. a depot's code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_identifier: Option<String>,
    /// Company or site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Second address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_second_line: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// City or town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// County.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 (`GB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// `TimeWindow` of a stop; times are `HH:mm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeWindowInput {
    /// `AM`, `TD` or `BI` for the pallet networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Start, `HH:mm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// End, `HH:mm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Whether the window must be kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enforced: Option<bool>,
}

/// A stop extra (`{code, name}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopExtraInput {
    /// `TL`, `HB`, `PP`, `RA`, `RES`, `SAT`.
    pub code: String,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `StopInput`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopInput {
    /// Where.
    pub location: LocationInput,
    /// The day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<jiff::civil::Date>,
    /// The time window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindowInput>,
    /// The stop's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// A note for the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Contact e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Contact phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Extras.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<StopExtraInput>,
    /// Additional fields of the stop.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

/// `PackagingType` of goods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackagingTypeInput {
    /// The pallet type code (`F`, `H`, `Q`, `MQ`, `L`, `E`, `OS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The base (`STANDARD`, `EURO`, `OTHER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaging_size: Option<EntityRef>,
}

/// The `BarcodeSource` of a network's pallet barcodes. Qargo's enum has `PALLEX` but no Fortec, so a
/// Fortec barcode is `EXTERNAL`.
pub fn barcode_source(network: crate::domain::Network) -> &'static str {
    match network {
        crate::domain::Network::Pallex => "PALLEX",
        crate::domain::Network::Fortec => "EXTERNAL",
    }
}

/// `{value, source}` of a handling unit's barcode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BarcodeInput {
    /// The barcode.
    pub value: String,
    /// The system that issued it: a `BarcodeSource` (`PALLEX`; `EXTERNAL` for Fortec, which has no
    /// source of its own in Qargo's enum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A handling unit (one pallet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HandlingUnitInput {
    /// Its barcode.
    pub barcode: BarcodeInput,
}

/// `GoodInput`: a line of goods, here one kind of pallet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoodInput {
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many.
    pub quantity: u32,
    /// The pallet type and base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaging_type: Option<PackagingTypeInput>,
    /// kg, all units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_weight_kg: Option<f64>,
    /// Pallet spaces, all units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pallet_spaces: Option<f64>,
    /// m, one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_length_m: Option<f64>,
    /// m, one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_width_m: Option<f64>,
    /// m, one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_height_m: Option<f64>,
    /// kg, one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_weight_kg: Option<f64>,
    /// One per pallet, with its barcode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handling_units: Vec<HandlingUnitInput>,
}
