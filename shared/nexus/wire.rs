//! Nexus JSON, as the API writes it (research/nexus-api.md §1 seen names, §3 our model). Field
//! names marked seen there are kept exactly, including the `…ID` casing, and requests are written
//! with exactly these names. Answers are read through [`super::tolerant`]: property names in any
//! case, numbers as numeric strings, unknown fields ignored (no type here denies them), `null` as
//! absent. Every datetime and date of the read model goes through `tolerant::uk_datetime*` /
//! `tolerant::uk_date_opt`, the one place that decides offsets (an offset-less value is UK local
//! time; one with `Z` or an offset is an instant, converted to UK local). Times stay strings
//! (`HH:mm`) here and are parsed where they are mapped to domain types.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

use super::tolerant;

/// `POST Account/login` body. Its `Debug` never shows the password.
#[derive(Serialize)]
pub struct LoginRequest<'a> {
    /// API user name.
    pub username: &'a str,
    /// Its password.
    pub password: &'a str,
}

impl std::fmt::Debug for LoginRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).field("password", &"***").finish()
    }
}

/// `POST Account/refresh` body. Its `Debug` never shows the token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest<'a> {
    /// The refresh token of the last login.
    pub refresh_token: &'a str,
}

impl std::fmt::Debug for RefreshRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").field("refresh_token", &"***").finish()
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("bearer_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Login and refresh answer. Its `Debug` never shows the tokens.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The bearer token (seen).
    pub bearer_token: String,
    /// The refresh token (seen).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the bearer lasts (our model; 3600 when absent, the seen lifetime).
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// ASP.NET ProblemDetails (§3.7).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    /// Summary.
    #[serde(default)]
    pub title: Option<String>,
    /// Longer explanation, when given.
    #[serde(default)]
    pub detail: Option<String>,
    /// HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Field path → messages.
    #[serde(default)]
    pub errors: BTreeMap<String, Vec<String>>,
}

/// `POST Consignments` body (§1.6 seen fields, §3.4 additions).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreateConsignment {
    /// Who, what and which network.
    pub general: General,
    /// Collection service and date.
    pub collection_info: CollectionInfo,
    /// Delivery service, date, window, extras.
    pub delivery_info: DeliveryInfo,
    /// Where to collect; the customer account's address when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_address: Option<Address>,
    /// Where to deliver.
    pub delivery_address: Address,
    /// One entry per pallet.
    pub pallets: Vec<PalletInput>,
}

/// `general` of a create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct General {
    /// 2 = Delivery (seen).
    #[serde(rename = "consignmentTypeID")]
    pub consignment_type_id: u32,
    /// The customer's Nexus ID on the network (seen).
    #[serde(rename = "customerID")]
    pub customer_id: i64,
    /// Our consignment number; unique per customer on Nexus, so also our idempotency key there.
    pub consignment_number: String,
    /// The customer's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_reference: Option<String>,
    /// What the goods are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_of_goods: Option<String>,
    /// ADR limited quantities.
    pub limited_quantities: bool,
    /// `PALLEX` or `FORTEC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_code: Option<String>,
    /// The depot booking it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requesting_depot_code: Option<String>,
}

/// `collectionInfo` of a create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CollectionInfo {
    /// Nexus service id.
    #[serde(rename = "serviceID")]
    pub service_id: u32,
    /// Collection date.
    pub due_date: Date,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Extras at collection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
}

/// `deliveryInfo` of a create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryInfo {
    /// Nexus service id (3 = SD needs `dueDate`).
    #[serde(rename = "serviceID")]
    pub service_id: u32,
    /// Delivery date (required for SD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<Date>,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `AM`, `TD` or `BI`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_window_code: Option<String>,
    /// `HH:mm`, for TD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_window: Option<String>,
    /// `HH:mm`, for TD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_window: Option<String>,
    /// For BI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub book_in: Option<BookIn>,
    /// Extra codes (`TL`, `HB`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    /// Notes for the driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// Book-in contact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BookIn {
    /// Who to call.
    pub contact_name: String,
    /// Their number.
    pub contact_phone: String,
    /// Booking reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// An address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Nexus country id (233 = UK, seen).
    #[serde(rename = "countryID")]
    pub country_id: u32,
    /// Company or person.
    pub name: String,
    /// First line.
    pub line1: String,
    /// Second line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// Town.
    pub town: String,
    /// County.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    /// Postcode.
    pub postcode: String,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
}

/// One pallet of a create (cm, kg; seen).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PalletInput {
    /// Base id.
    #[serde(rename = "palletBaseID")]
    pub pallet_base_id: u32,
    /// Type id.
    #[serde(rename = "palletTypeID")]
    pub pallet_type_id: u32,
    /// cm.
    pub length: u32,
    /// cm.
    pub width: u32,
    /// cm.
    pub height: u32,
    /// kg.
    pub weight: u32,
    /// kg of ADR limited quantities.
    pub limited_quantity_weight: u32,
    /// Must not be stacked.
    pub do_not_stack: bool,
}

/// `{id, name}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IdName {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `{code, name}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CodeName {
    /// Code.
    pub code: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A consignment as Nexus returns it (§1.7 seen fields, §3.6 model).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Consignment {
    /// Seen.
    #[serde(rename = "consignmentID")]
    pub consignment_id: i64,
    /// Seen.
    pub consignment_number: String,
    /// Seen.
    #[serde(default)]
    pub customer_reference: Option<String>,
    /// The customer's Nexus ID.
    #[serde(default, rename = "customerID")]
    pub customer_id: Option<i64>,
    /// Network.
    #[serde(default)]
    pub network: Option<CodeName>,
    /// Seen: `{id, name}`.
    pub status: IdName,
    /// The depot that booked it.
    #[serde(default)]
    pub requesting_depot_code: Option<String>,
    /// The depot that collects.
    #[serde(default)]
    pub collecting_depot_code: Option<String>,
    /// The depot that delivers.
    #[serde(default)]
    pub delivery_depot_code: Option<String>,
    /// Service.
    #[serde(default)]
    pub service: Option<ServiceRef>,
    /// Time window.
    #[serde(default)]
    pub time_window: Option<CodeName>,
    /// Extras.
    #[serde(default)]
    pub extras: Vec<String>,
    /// Seen: collection date.
    #[serde(default, deserialize_with = "tolerant::uk_date_opt")]
    pub col_date: Option<Date>,
    /// Seen: estimated delivery date.
    #[serde(default, deserialize_with = "tolerant::uk_date_opt")]
    pub estimated_del_date: Option<Date>,
    /// Seen: `HH:mm`.
    #[serde(default)]
    pub estimated_del_time: Option<String>,
    /// Seen: `HH:mm`.
    #[serde(default)]
    pub start_window: Option<String>,
    /// Seen: `HH:mm`.
    #[serde(default)]
    pub end_window: Option<String>,
    /// Seen: actual delivery, UK local time.
    #[serde(default, deserialize_with = "tolerant::uk_datetime_opt")]
    pub del_date_time: Option<DateTime>,
    /// Seen.
    #[serde(default)]
    pub del_address_line1: Option<String>,
    /// Seen.
    #[serde(default)]
    pub del_address_town: Option<String>,
    /// Seen.
    #[serde(default)]
    pub del_address_postcode: Option<String>,
    /// Collection address line 1.
    #[serde(default)]
    pub col_address_line1: Option<String>,
    /// Collection town.
    #[serde(default)]
    pub col_address_town: Option<String>,
    /// Collection postcode.
    #[serde(default)]
    pub col_address_postcode: Option<String>,
    /// kg.
    #[serde(default)]
    pub total_weight: Option<f64>,
    /// Pallets.
    #[serde(default)]
    pub pallet_count: Option<u32>,
    /// Pallet spaces.
    #[serde(default)]
    pub pallet_spaces: Option<f64>,
    /// Pallets with barcodes.
    #[serde(default)]
    pub pallets: Vec<Pallet>,
    /// Seen: with `include=routedetails`.
    #[serde(default)]
    pub route_details: Vec<RouteDetail>,
    /// Created, UK local time.
    #[serde(default, deserialize_with = "tolerant::uk_datetime_opt")]
    pub created_date: Option<DateTime>,
    /// Last change, UK local time: the delta cursor.
    #[serde(default, deserialize_with = "tolerant::uk_datetime_opt")]
    pub last_updated: Option<DateTime>,
    /// Pallet barcodes on a create answer (kept for clients written like §1.6).
    #[serde(default)]
    pub successful_tracking_codes: Vec<String>,
}

/// Service of a consignment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServiceRef {
    /// Nexus service id.
    pub id: u32,
    /// `A`, `B`, `SD`.
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A pallet of a consignment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pallet {
    /// Pallet id.
    #[serde(rename = "palletID")]
    pub pallet_id: i64,
    /// 16-digit barcode.
    pub barcode: String,
    /// Type id.
    #[serde(default, rename = "palletTypeID")]
    pub pallet_type_id: Option<u32>,
    /// Base id.
    #[serde(default, rename = "palletBaseID")]
    pub pallet_base_id: Option<u32>,
    /// cm.
    #[serde(default)]
    pub length: Option<f64>,
    /// cm.
    #[serde(default)]
    pub width: Option<f64>,
    /// cm.
    #[serde(default)]
    pub height: Option<f64>,
    /// kg.
    #[serde(default)]
    pub weight: Option<f64>,
    /// Latest scan code.
    #[serde(default)]
    pub last_event_code: Option<String>,
}

/// Seen route detail.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteDetail {
    /// `Collection` or `Delivery`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Date.
    #[serde(default, deserialize_with = "tolerant::uk_date_opt")]
    pub route_date: Option<Date>,
    /// Vehicle registration.
    #[serde(default)]
    pub reg_no: Option<String>,
    /// Round.
    #[serde(default)]
    pub round: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<String>,
    /// Pallets.
    #[serde(default)]
    pub pallet_count: Option<u32>,
}

/// A scan event (§3.5).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique id.
    #[serde(rename = "eventID")]
    pub event_id: i64,
    /// Pallet id.
    #[serde(default, rename = "palletID")]
    pub pallet_id: Option<i64>,
    /// Pallet barcode.
    #[serde(default)]
    pub barcode: Option<String>,
    /// Scan code.
    pub code: String,
    /// Text.
    #[serde(default)]
    pub description: Option<String>,
    /// Scanning depot.
    #[serde(default)]
    pub depot_code: Option<String>,
    /// UK local time.
    #[serde(deserialize_with = "tolerant::uk_datetime")]
    pub event_date_time: DateTime,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// `NETWORK`, `DEPOT_API`, `OPTIMIZE`.
    #[serde(default)]
    pub source: Option<String>,
}

/// An attachment (§3.6).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Id; 0 when Nexus gives none (the seen item is only a type id and a `url`).
    #[serde(default, rename = "attachmentID")]
    pub attachment_id: i64,
    /// Type; an empty code when Nexus gives only [`Attachment::attachment_type_id`] (the client
    /// fills it from the `consignmentAttachmentTypes` lookup).
    #[serde(default)]
    pub attachment_type: AttachmentType,
    /// Seen (implied by the `consignmentAttachmentTypes` lookup): the type's id.
    #[serde(default, rename = "attachmentTypeID")]
    pub attachment_type_id: Option<i64>,
    /// File name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Direct link to the content (seen).
    #[serde(default)]
    pub url: Option<String>,
    /// Signatory (MPOD).
    #[serde(default)]
    pub signed_by: Option<String>,
    /// Uploaded, UK local time.
    #[serde(default, deserialize_with = "tolerant::uk_datetime_opt")]
    pub created_date: Option<DateTime>,
    /// Uploading depot.
    #[serde(default)]
    pub uploaded_by_depot_code: Option<String>,
}

/// Attachment type.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct AttachmentType {
    /// Id.
    #[serde(default)]
    pub id: Option<i64>,
    /// `MPOD`, `POD`, `MPODPHOTOE`, …
    #[serde(default)]
    pub code: String,
}

/// `PUT consignments/{id}/eta` body (§3.3 #11).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EtaUpdate {
    /// Date.
    pub estimated_del_date: Date,
    /// `HH:mm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_del_time: Option<String>,
    /// `HH:mm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_window: Option<String>,
    /// `HH:mm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_window: Option<String>,
    /// Always `OPTIMIZE`.
    pub source: &'static str,
}

/// A lookup row (`[{id, code, name, …}]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LookupRow {
    /// Id.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_token_bodies_never_show_their_secrets_in_debug() {
        let login = LoginRequest { username: "pgd302.api", password: "Sim!PGD302" };
        let refresh = RefreshRequest { refresh_token: "refresh-secret" };
        let nexus: TokenResponse = serde_json::from_value(serde_json::json!({
            "bearerToken": "bearer-secret", "refreshToken": "refresh-secret", "expiresIn": 3600
        }))
        .unwrap();
        let qargo: crate::qargo::wire::TokenResponse =
            serde_json::from_value(serde_json::json!({"access_token": "eyJ-secret", "expires_in": 3600})).unwrap();
        let shown = format!("{login:?} {refresh:?} {nexus:?} {qargo:?}");
        for secret in ["Sim!PGD302", "refresh-secret", "bearer-secret", "eyJ-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("pgd302.api") && shown.contains("***"), "{shown}");
    }
}
