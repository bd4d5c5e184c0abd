//! Qargo's Subcontractor Dispatch webhook as the bridge receives it on `POST /qargo/dispatch`
//! (research/qargo-api.md §2): `{operation, payload: trip}` with the trip's orders, stops and
//! resource allocations. Every field is optional here so that what is missing is reported by the
//! dispatch rules with its path and the fix, rather than as a parse error; unknown fields are ignored.
//! Every collection and map is read with [`null_as_default`]: Qargo's `SubcontractorDispatch` makes
//! most of them `anyOf [..., null]`, and a legal `null` must not be refused.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire::{bounded_list, null_as_default};

/// The webhook body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchWebhook {
    /// `CREATE`, `UPDATE` or `CANCEL`.
    #[serde(default)]
    pub operation: Option<String>,
    /// The trip being dispatched.
    #[serde(default)]
    pub payload: Option<DispatchTrip>,
}

/// The dispatched trip.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchTrip {
    /// Trip UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Trip name, e.g. `TR-20001`.
    #[serde(default)]
    pub name: Option<String>,
    /// The orders on the trip (the networks take exactly one consignment per trip).
    #[serde(default, deserialize_with = "bounded_list::<_, _, 100>")]
    pub orders: Vec<DispatchOrder>,
    /// The trip's stops in planned order.
    #[serde(default, deserialize_with = "bounded_list::<_, _, 200>")]
    pub stops: Vec<DispatchStop>,
    /// Which resources carry the trip; the subcontractor resource's code picks the network.
    #[serde(default, deserialize_with = "bounded_list::<_, _, 100>")]
    pub resource_allocations: Vec<ResourceAllocation>,
    /// Trip additional fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
}

/// `{resource}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceAllocation {
    /// The allocated resource.
    #[serde(default)]
    pub resource: Option<Resource>,
}

/// A resource (vehicle, driver or subcontractor).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resource {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Code, e.g. `PALLEX_OUT`.
    #[serde(default)]
    pub code: Option<String>,
}

/// An order on the trip.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchOrder {
    /// Order UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Order name, e.g. `OR-10001`.
    #[serde(default)]
    pub name: Option<String>,
    /// The customer, with its additional fields (`PallexID`, `FortecID`).
    #[serde(default)]
    pub customer: Option<Company>,
    /// The customer's reference.
    #[serde(default)]
    pub customer_reference_number: Option<String>,
    /// `{code}`: `A`, `B` or `SD`.
    #[serde(default)]
    pub service_level: Option<Coded>,
    /// Order additional fields (Amazon data may sit here).
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
    /// Planner notes.
    #[serde(default)]
    pub planning_instructions: Option<String>,
    /// The order's consignments.
    #[serde(default, deserialize_with = "bounded_list::<_, _, 100>")]
    pub consignments: Vec<DispatchConsignment>,
}

/// A company (customer).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Company {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Additional fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
}

/// `{code, name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Coded {
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A consignment of an order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchConsignment {
    /// Consignment UUID: the key of the dispatch ledger.
    #[serde(default)]
    pub id: Option<String>,
    /// Consignment reference.
    #[serde(default)]
    pub consignment_reference_number: Option<String>,
    /// Depot codes.
    #[serde(default)]
    pub transport_network: Option<TransportNetwork>,
    /// Where it is collected.
    #[serde(default)]
    pub pickup_stop: Option<DispatchStop>,
    /// Where it is delivered.
    #[serde(default)]
    pub delivery_stop: Option<DispatchStop>,
    /// Goods lines.
    #[serde(default, deserialize_with = "bounded_list::<_, _, 1000>")]
    pub goods: Vec<Goods>,
    /// Additional fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
}

/// Depot codes of a consignment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransportNetwork {
    /// The depot that books.
    #[serde(default)]
    pub requesting_depot_code: Option<String>,
    /// The depot that collects.
    #[serde(default)]
    pub collection_depot_code: Option<String>,
    /// The depot that delivers.
    #[serde(default)]
    pub delivery_depot_code: Option<String>,
}

/// A stop (`StopOutput`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchStop {
    /// Stop UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// `PICKUP` or `DELIVERY`.
    #[serde(default)]
    pub stop_type: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// The stop's time window.
    #[serde(default)]
    pub time_window: Option<StopTimeWindow>,
    /// The address.
    #[serde(default)]
    pub location: Option<Location>,
    /// Stop reference.
    #[serde(default)]
    pub reference_number: Option<String>,
    /// Note for the driver.
    #[serde(default)]
    pub note: Option<String>,
    /// Planner instructions.
    #[serde(default)]
    pub planning_instructions: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Mobile.
    #[serde(default)]
    pub mobile_number: Option<String>,
    /// Extras (`TL`, `AZ`, …).
    #[serde(default, deserialize_with = "bounded_list::<_, _, 100>")]
    pub extras: Vec<StopExtra>,
    /// Additional fields (`contact_name` for book-in).
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Map<String, Value>,
}

/// `{code, start_time, end_time}` (`HH:mm`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StopTimeWindow {
    /// `AM`, `TD` or `BI`.
    #[serde(default)]
    pub code: Option<String>,
    /// `HH:mm`.
    #[serde(default)]
    pub start_time: Option<String>,
    /// `HH:mm`.
    #[serde(default)]
    pub end_time: Option<String>,
}

/// A stop extra; `AZ` carries Qargo's `AmazonExtraFields`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StopExtra {
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Amazon booking data.
    #[serde(default, deserialize_with = "null_as_default")]
    pub amazon: Option<Map<String, Value>>,
}

/// An address.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Location {
    /// Company or person.
    #[serde(default)]
    pub name: Option<String>,
    /// First line.
    #[serde(default)]
    pub address: Option<String>,
    /// Second line.
    #[serde(default)]
    pub address_second_line: Option<String>,
    /// Postcode.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Town.
    #[serde(default)]
    pub city: Option<String>,
    /// County.
    #[serde(default)]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
}

/// A goods line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Goods {
    /// Goods UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// How many pallets.
    #[serde(default)]
    pub quantity: Option<f64>,
    /// `{code}`: the pallet type (`F`, `H`, `Q`, `MQ`, `L`, `E`, `OS`).
    #[serde(default)]
    pub packaging_type: Option<PackagingType>,
    /// Metres.
    #[serde(default)]
    pub unit_length_m: Option<f64>,
    /// Metres.
    #[serde(default)]
    pub unit_width_m: Option<f64>,
    /// Metres.
    #[serde(default)]
    pub unit_height_m: Option<f64>,
    /// Kilograms per pallet.
    #[serde(default)]
    pub unit_weight_kg: Option<f64>,
    /// Kilograms for the line.
    #[serde(default)]
    pub total_weight_kg: Option<f64>,
    /// `false` = do not stack.
    #[serde(default)]
    pub stackable: Option<bool>,
    /// Handling units (Qargo's barcodes; replaced by the Nexus barcodes once booked).
    #[serde(default, deserialize_with = "bounded_list::<_, _, 1000>")]
    pub handling_units: Vec<Value>,
}

/// `{code, name, packaging_size}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PackagingType {
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `{code}`: `EURO` marks a Euro (1200×800) base.
    #[serde(default)]
    pub packaging_size: Option<Coded>,
}
