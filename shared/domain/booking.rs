//! A booking on a pallet network, in the domain's own words: what a TMS asked for
//! ([`BookingRequest`], plain text and numbers as the dispatcher typed them, read from the vendor's
//! payload by the vendor's module), and what the dispatch rules made of it ([`Booking`], every value
//! checked and typed). Neither knows a vendor's JSON: `crate::qargo::dispatch_booking` reads a
//! Qargo dispatch into a request, `crate::rules::dispatch` checks it, `crate::nexus::booking`
//! writes the Nexus create body.
//!
//! A rule that fails names the field with a [`BookingField`]; the vendor's [`FieldNames`] turns it
//! into the path of its payload (e.g. `payload.orders[0].customer.custom_fields.PallexID`), so the
//! dispatcher is told what to correct where they typed it.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::{DepotCode, Extra, Network, PalletBase, PalletType, ServiceLevel, TimeWindow};

/// One broken rule: the field of the vendor's payload and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The field's path in the payload, e.g. `payload.orders[0].customer.custom_fields.PallexID`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Which of a booking's two stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRole {
    /// Where the goods are collected.
    Pickup,
    /// Where they are delivered.
    Delivery,
}

/// A part of a stop's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPart {
    /// The first line.
    Line1,
    /// The town.
    Town,
    /// The postcode.
    Postcode,
    /// The country.
    Country,
}

/// A field of a booking request, as the rules name it; [`FieldNames`] says where it is in the
/// vendor's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingField {
    /// The resources that choose the network.
    Network,
    /// The list of orders (exactly one consignment).
    Orders,
    /// The customer.
    Customer,
    /// The customer's account id on a network.
    CustomerNetworkId(Network),
    /// The order's name (or id).
    OrderName,
    /// The consignment's id.
    ConsignmentId,
    /// The customer's reference.
    CustomerReference,
    /// The service level code.
    ServiceLevel,
    /// The depot that books, as given or as it should be given.
    RequestingDepot,
    /// The depot that collects, when it names the booking depot.
    CollectionDepot,
    /// A stop as a whole.
    Stop(StopRole),
    /// A stop's date.
    StopDate(StopRole),
    /// A part of a stop's address.
    Address(StopRole, AddressPart),
    /// The delivery's time window.
    TimeWindow,
    /// The delivery's time window code.
    TimeWindowCode,
    /// The timed window's start.
    TimeWindowStart,
    /// The timed window's end.
    TimeWindowEnd,
    /// The person who books a book-in slot.
    ContactName,
    /// The delivery's phone number.
    DeliveryPhone,
    /// A stop's phone number.
    StopPhone(StopRole),
    /// A stop's mobile number.
    StopMobile(StopRole),
    /// The delivery extra at this index.
    Extra(usize),
    /// The carton count of the Amazon extra at this index.
    AmazonCartonCount(usize),
    /// The booking reference of the Amazon extra at this index.
    AmazonBookingReference(usize),
    /// The goods lines as a whole.
    Goods,
    /// The pallet type of a goods line.
    PalletType(usize),
    /// The pallet count of a goods line.
    Quantity(usize),
    /// The unit length of a goods line.
    Length(usize),
    /// The unit width of a goods line.
    Width(usize),
    /// The unit height of a goods line.
    Height(usize),
    /// The unit weight of a goods line.
    Weight(usize),
}

/// Where a vendor's payload holds each [`BookingField`].
pub trait FieldNames {
    /// The field's path in the payload.
    fn name(&self, field: &BookingField) -> String;
}

/// What a TMS asked to book, as typed: nothing checked yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookingRequest {
    /// Codes of the resources allocated to the trip (`PALLEX_OUT`, `FORTEC_OUT`, …).
    pub resource_codes: Vec<String>,
    /// The order's name, the stem of the consignment number.
    pub order_name: Option<String>,
    /// The customer.
    pub customer: Option<CustomerRequest>,
    /// The customer's reference.
    pub customer_reference: Option<String>,
    /// The service level code (`A`, `B`, `SD`).
    pub service_code: Option<String>,
    /// The depot that books, if named.
    pub requesting_depot: Option<String>,
    /// The depot that collects, if named.
    pub collection_depot: Option<String>,
    /// Where the goods are collected.
    pub pickup: Option<StopRequest>,
    /// Where they are delivered.
    pub delivery: Option<StopRequest>,
    /// The goods lines.
    pub goods: Vec<GoodsRequest>,
    /// Amazon booking data kept on the order rather than on the AZ extra.
    pub order_amazon: AmazonRequest,
}

/// The customer as the TMS knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerRequest {
    /// Its name.
    pub name: Option<String>,
    /// Its code.
    pub code: Option<String>,
    /// Its account id on each network, as typed.
    pub network_ids: BTreeMap<Network, String>,
}

/// A stop as the TMS knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StopRequest {
    /// `YYYY-MM-DD`, as typed.
    pub date: Option<String>,
    /// The time window.
    pub time_window: Option<WindowRequest>,
    /// The address, if the stop has a location.
    pub address: Option<AddressRequest>,
    /// Phone.
    pub phone: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Note for the driver.
    pub note: Option<String>,
    /// Planner instructions.
    pub instructions: Option<String>,
    /// The stop's reference.
    pub reference: Option<String>,
    /// Who to call to book a slot.
    pub contact_name: Option<String>,
    /// The extras, in the order given.
    pub extras: Vec<ExtraRequest>,
}

/// A time window as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowRequest {
    /// `AM`, `TD`, `BI`.
    pub code: Option<String>,
    /// `HH:mm`.
    pub start: Option<String>,
    /// `HH:mm`.
    pub end: Option<String>,
}

/// An address as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressRequest {
    /// Company or person.
    pub name: Option<String>,
    /// First line.
    pub line1: Option<String>,
    /// Second line.
    pub line2: Option<String>,
    /// Town.
    pub town: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Postcode or Eircode.
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

/// A stop extra as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraRequest {
    /// Its code (`TL`, `AZ`, …).
    pub code: Option<String>,
    /// Amazon's booking data, on an `AZ` extra.
    pub amazon: AmazonRequest,
}

/// Amazon's booking data, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmazonRequest {
    /// The carton count.
    pub carton_count: Option<String>,
    /// Amazon's booking reference (PO number).
    pub booking_reference: Option<String>,
    /// The slot's date.
    pub booking_date: Option<String>,
    /// The slot's time.
    pub booking_time: Option<String>,
}

/// A goods line as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoodsRequest {
    /// The TMS's id of the line, to give the pallet barcodes back to it.
    pub id: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// How many pallets.
    pub quantity: Option<f64>,
    /// The pallet type code.
    pub pallet_type: Option<String>,
    /// The packaging size code (`EURO` marks a Euro base).
    pub packaging_size: Option<String>,
    /// Metres.
    pub unit_length_m: Option<f64>,
    /// Metres.
    pub unit_width_m: Option<f64>,
    /// Metres.
    pub unit_height_m: Option<f64>,
    /// Kilograms per pallet.
    pub unit_weight_kg: Option<f64>,
    /// Kilograms for the line.
    pub total_weight_kg: Option<f64>,
    /// `Some(false)`: do not stack.
    pub stackable: Option<bool>,
}

/// A country the networks collect in or deliver to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    /// The United Kingdom (collections and deliveries).
    UnitedKingdom,
    /// Ireland (deliveries only).
    Ireland,
}

/// A checked address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The country.
    pub country: Country,
    /// Company or person (at most 60 characters).
    pub name: String,
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// Town.
    pub town: String,
    /// County.
    pub county: Option<String>,
    /// A UK postcode or an Eircode, in its written form.
    pub postcode: String,
    /// The stop's phone.
    pub telephone: Option<String>,
}

/// A checked stop's contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// One pallet as it is booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pallet {
    /// Standard or Euro base.
    pub base: PalletBase,
    /// The pallet type.
    pub pallet_type: PalletType,
    /// Centimetres.
    pub length_cm: u32,
    /// Centimetres.
    pub width_cm: u32,
    /// Centimetres.
    pub height_cm: u32,
    /// Kilograms.
    pub weight_kg: u32,
    /// Must not be stacked.
    pub do_not_stack: bool,
}

/// A goods line and how many pallets it became, in booking order, so the network's barcodes can be
/// given back to the right line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PalletLine {
    /// The TMS's id of the goods line.
    pub goods_id: Option<String>,
    /// Pallets booked for it.
    pub pallets: u32,
}

/// A booking that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    /// The network it is booked on.
    pub network: Network,
    /// The network the dispatcher's resource asked for, when the depot books that work elsewhere
    /// (a depot that moved its Fortec work to PALL-EX).
    pub requested_network: Option<Network>,
    /// Our depot that books it.
    pub depot: DepotCode,
    /// The customer's account on the network.
    pub customer_id: i64,
    /// The customer's reference (at most 35 characters).
    pub customer_reference: Option<String>,
    /// The order's name, the stem of the consignment number.
    pub order_name: String,
    /// The service level.
    pub service: ServiceLevel,
    /// The collection date asked for (before the cut-off rule).
    pub collection_date: Date,
    /// The delivery date asked for, if any (booked as a date only for a specific-day service).
    pub delivery_date: Option<Date>,
    /// Where it is collected.
    pub collection_address: Address,
    /// Who to reach at the collection.
    pub collection_contact: Contact,
    /// Where it is delivered.
    pub delivery_address: Address,
    /// Who to reach at the delivery.
    pub delivery_contact: Contact,
    /// The delivery window.
    pub window: Option<TimeWindow>,
    /// The delivery extras.
    pub extras: Vec<Extra>,
    /// One per pallet.
    pub pallets: Vec<Pallet>,
    /// How the pallets came from the goods lines.
    pub pallet_lines: Vec<PalletLine>,
    /// What the goods are (at most 100 characters).
    pub description: Option<String>,
    /// Instructions for the delivery (at most 250 characters).
    pub instructions: Option<String>,
}
