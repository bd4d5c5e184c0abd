//! What may be dispatched to a network (DESIGN.md §2): every rule a Qargo dispatch must pass before
//! the bridge touches Nexus, and the Nexus create body it becomes. All violations are collected, not
//! just the first, and each names the field of Qargo's payload and the fix, so the dispatcher can
//! correct the order in one go.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde_json::{Map, Value};

use crate::config::{CutoffPolicy, Settings};
use crate::domain::{
    BookIn, DepotCode, Extra, Network, PalletBase, PalletType, Postcode, QargoConsignmentId, ServiceLevel, TimeWindow,
    UkRegion,
};
use crate::nexus::wire::{self, CreateConsignment};
use crate::qargo::dispatch_webhook::{DispatchConsignment, DispatchOrder, DispatchStop, DispatchTrip, Goods, Location};
use crate::rules::cutoff::{self, CollectionDate};

/// The most pallets (and pallet spaces) one consignment may carry: a 13.6 m trailer holds 26.
pub const MAX_PALLETS: u32 = 26;
/// Nexus's limit on consignment numbers and references.
pub const MAX_REFERENCE_CHARS: usize = 35;
/// Nexus country ids of the countries the networks deliver to.
const NEXUS_UNITED_KINGDOM: u32 = 233;
const NEXUS_IRELAND: u32 = 105;

/// One broken rule: the field of Qargo's dispatch payload and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON path in the dispatch payload, e.g. `payload.orders[0].customer.custom_fields.PallexID`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Violation {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A goods line and how many Nexus pallets it became, in booking order, so the Nexus barcodes can be
/// given back to the right Qargo goods line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PalletLine {
    /// Qargo goods UUID.
    pub goods_id: Option<String>,
    /// Pallets booked for it.
    pub pallets: u32,
}

/// A dispatch that passed every rule: the network, the depot that books, and the Nexus body.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchPlan {
    /// PALL-EX or Fortec, from the trip's subcontractor resource.
    pub network: Network,
    /// Our depot that books it.
    pub depot: DepotCode,
    /// Whose bank holidays that depot keeps.
    pub region: UkRegion,
    /// Whether the depot wants ZPL labels beside the PDF.
    pub zpl_labels: bool,
    /// The dispatch ledger's key.
    pub qargo_consignment_id: QargoConsignmentId,
    /// Qargo order UUID.
    pub qargo_order_id: Option<String>,
    /// Qargo order name (the stem of our Nexus consignment number).
    pub qargo_order_name: String,
    /// How Qargo's partial order update finds the consignment in its order.
    pub qargo_consignment_key: crate::qargo::order_update::ConsignmentKey,
    /// The pickup stop, where labels are attached.
    pub pickup_stop_id: Option<String>,
    /// The delivery stop.
    pub delivery_stop_id: Option<String>,
    /// The collection date Qargo asked for (before the cut-off rule).
    pub requested_collection: Date,
    /// The delivery date asked for, if any.
    pub requested_delivery: Option<Date>,
    /// Service level.
    pub service: ServiceLevel,
    /// Goods lines → pallet counts.
    pub pallet_lines: Vec<PalletLine>,
    /// The Nexus create body; `consignment_number` is set when booking.
    pub body: CreateConsignment,
}

impl DispatchPlan {
    /// A digest of everything Nexus is told about the consignment as Qargo asked for it — what an
    /// UPDATE must change for the booking to be redone.
    pub fn fingerprint(&self) -> String {
        let mut body = self.body.clone();
        body.general.consignment_number.clear();
        body.collection_info.due_date = self.requested_collection;
        let json = serde_json::to_vec(&body).unwrap_or_default();
        crate::store::sha256_hex(&json)
    }

    /// Applies the 12:00 cut-off and working days to the collection date (and, for a specific-day
    /// service, checks the delivery date against it).
    pub fn schedule_collection(&mut self, now: Timestamp, policy: CutoffPolicy) -> Result<Option<String>, Violation> {
        let field = "payload.orders[0].consignments[0].pickup_stop.date";
        let decided = cutoff::collection_date(now, self.requested_collection, self.region, policy)
            .map_err(|refusal| Violation::new(field, refusal.to_string()))?;
        let date = decided.date();
        if let (ServiceLevel::SpecificDay, Some(delivery)) = (self.service, self.requested_delivery) {
            cutoff::check_specific_day(date, delivery, self.region)
                .map_err(|message| Violation::new("payload.orders[0].consignments[0].delivery_stop.date", message))?;
        }
        self.body.collection_info.due_date = date;
        Ok(match decided {
            CollectionDate::AsRequested(_) => None,
            CollectionDate::Rolled { reason, .. } => Some(reason),
        })
    }
}

/// Checks a dispatched trip against every dispatch rule and maps it to a Nexus create body.
pub fn plan_dispatch(trip: &DispatchTrip, settings: &Settings) -> Result<DispatchPlan, Vec<Violation>> {
    let mut found = Violations::default();
    let network = network_of(trip, &mut found);
    let consignments: Vec<(usize, usize)> = trip
        .orders
        .iter()
        .enumerate()
        .flat_map(|(o, order)| (0..order.consignments.len()).map(move |c| (o, c)))
        .collect();
    let (order_index, consignment_index) = match consignments.as_slice() {
        [only] => *only,
        [] => {
            found.add(
                "payload.orders",
                "the trip carries no consignment: plan exactly one order with one consignment on the PALL-EX/Fortec trip",
            );
            return Err(found.into_vec());
        }
        many => {
            found.add(
                "payload.orders",
                format!(
                    "the trip carries {} consignments; a network booking takes exactly one: give each consignment its own trip",
                    many.len()
                ),
            );
            return Err(found.into_vec());
        }
    };
    let order = &trip.orders[order_index];
    let consignment = &order.consignments[consignment_index];
    let at = Paths::new(order_index, consignment_index);

    let customer_id = network.and_then(|network| customer_id(order, network, &at, &mut found));
    let depot = network.and_then(|network| booking_depot(consignment, network, settings, &at, &mut found));
    let depot_settings = depot.as_ref().and_then(|depot| settings.depot(depot));
    let region = depot_settings.map_or(UkRegion::EnglandAndWales, |d| d.region);

    let qargo_consignment_id = match consignment.id.as_deref().map(str::parse::<QargoConsignmentId>) {
        Some(Ok(id)) => Some(id),
        Some(Err(err)) => found.add_some(at.consignment("id"), err.to_string()),
        None => found
            .add_some(at.consignment("id"), "the consignment has no id: Qargo always sends one; re-send the dispatch"),
    };
    let order_name = order.name.clone().filter(|n| !n.trim().is_empty()).or_else(|| order.id.clone());
    let order_name = match order_name {
        Some(name) => Some(name),
        None => found.add_some(at.order("name"), "the order has no name or id: re-send the dispatch from Qargo"),
    };
    let customer_reference = trimmed(&order.customer_reference_number);
    if let Some(reference) = &customer_reference
        && reference.chars().count() > MAX_REFERENCE_CHARS
    {
        found.add(
            at.order("customer_reference_number"),
            format!("'{reference}' is longer than the {MAX_REFERENCE_CHARS} characters Nexus accepts: shorten it"),
        );
    }

    let service = match order.service_level.as_ref().and_then(|s| trimmed(&s.code)) {
        None => found.add_some(
            at.order("service_level.code"),
            "no service level: set A (Premium, next day), B (Economy, 2 days) or SD (Specific Day) on the order",
        ),
        Some(code) => match code.parse::<ServiceLevel>() {
            Ok(level) => Some(level),
            Err(err) => found.add_some(at.order("service_level.code"), err.to_string()),
        },
    };

    let pickup = stop(consignment.pickup_stop.as_ref(), "pickup_stop", &at, &mut found);
    let delivery = stop(consignment.delivery_stop.as_ref(), "delivery_stop", &at, &mut found);
    let requested_collection = pickup.and_then(|p| date_of(p, "pickup_stop", true, &at, &mut found));
    let requested_delivery = delivery.and_then(|d| date_of(d, "delivery_stop", false, &at, &mut found));
    if service == Some(ServiceLevel::SpecificDay) && requested_delivery.is_none() && delivery.is_some() {
        found.add(
            at.consignment("delivery_stop.date"),
            "service SD (Specific Day) needs the delivery date: set it on the delivery stop, a working day after collection",
        );
    }

    let collection_address = pickup.and_then(|p| address(p, "pickup_stop", false, &at, &mut found));
    let delivery_address = delivery.and_then(|d| address(d, "delivery_stop", true, &at, &mut found));
    let window = delivery.and_then(|d| time_window(order, d, &at, &mut found));
    let extras = delivery.map(|d| extras(d, &at, &mut found)).unwrap_or_default();
    let (pallets, pallet_lines) = pallets(consignment, &at, &mut found);

    let (Some(network), Some(customer_id), Some(depot), Some(qargo_consignment_id), Some(order_name), Some(service)) =
        (network, customer_id, depot, qargo_consignment_id, order_name, service)
    else {
        return Err(found.into_vec());
    };
    let (Some(pickup), Some(delivery), Some(requested_collection), Some(collection_address), Some(delivery_address)) =
        (pickup, delivery, requested_collection, collection_address, delivery_address)
    else {
        return Err(found.into_vec());
    };
    if !found.is_empty() {
        return Err(found.into_vec());
    }
    let window = window.flatten();
    let description: Vec<&str> =
        consignment.goods.iter().filter_map(|g| g.description.as_deref()).filter(|d| !d.trim().is_empty()).collect();
    let instructions = [delivery.note.as_deref(), delivery.planning_instructions.as_deref()]
        .into_iter()
        .flatten()
        .filter(|text| !text.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let body = CreateConsignment {
        general: wire::General {
            consignment_type_id: 2,
            customer_id,
            consignment_number: String::new(),
            customer_reference,
            description_of_goods: (!description.is_empty()).then(|| limit(&description.join(", "), 100)),
            limited_quantities: false,
            network_code: Some(network.code().to_owned()),
            requesting_depot_code: Some(depot.to_string()),
        },
        collection_info: wire::CollectionInfo {
            service_id: service.nexus_service_id(),
            due_date: requested_collection,
            contact: trimmed(&pickup.phone_number),
            email: trimmed(&pickup.email),
            extras: Vec::new(),
        },
        delivery_info: wire::DeliveryInfo {
            service_id: service.nexus_service_id(),
            due_date: if service == ServiceLevel::SpecificDay { requested_delivery } else { None },
            contact: trimmed(&delivery.phone_number).or_else(|| trimmed(&delivery.mobile_number)),
            email: trimmed(&delivery.email),
            time_window_code: window.as_ref().map(|w| w.code().code().to_owned()),
            start_window: match &window {
                Some(TimeWindow::Timed { start, .. }) => Some(start.strftime("%H:%M").to_string()),
                _ => None,
            },
            end_window: match &window {
                Some(TimeWindow::Timed { end, .. }) => Some(end.strftime("%H:%M").to_string()),
                _ => None,
            },
            book_in: match &window {
                Some(TimeWindow::BookIn(book_in)) => Some(wire::BookIn {
                    contact_name: book_in.contact_name.clone(),
                    contact_phone: book_in.contact_phone.clone(),
                    reference: book_in.reference.clone(),
                    notes: book_in.notes.clone(),
                }),
                _ => None,
            },
            extras: extras.iter().map(|e| e.code().to_owned()).collect(),
            instructions: (!instructions.is_empty()).then(|| limit(&instructions, 250)),
        },
        collection_address: Some(collection_address),
        delivery_address,
        pallets,
    };
    let zpl_labels = settings.depot(&depot).is_some_and(|d| d.zpl_labels);
    Ok(DispatchPlan {
        network,
        depot,
        region,
        zpl_labels,
        qargo_consignment_id,
        qargo_order_id: order.id.clone(),
        qargo_consignment_key: match trimmed(&consignment.consignment_reference_number) {
            Some(reference) => crate::qargo::order_update::ConsignmentKey::Reference(reference),
            None => crate::qargo::order_update::ConsignmentKey::Position(
                u32::try_from(consignment_index + 1).unwrap_or(u32::MAX),
            ),
        },
        qargo_order_name: order_name,
        pickup_stop_id: pickup.id.clone(),
        delivery_stop_id: delivery.id.clone(),
        requested_collection,
        requested_delivery,
        service,
        pallet_lines,
        body,
    })
}

/// The network of the trip's subcontractor resource.
fn network_of(trip: &DispatchTrip, found: &mut Violations) -> Option<Network> {
    let codes: Vec<&str> = trip
        .resource_allocations
        .iter()
        .filter_map(|a| a.resource.as_ref()?.code.as_deref())
        .filter(|code| !code.trim().is_empty())
        .collect();
    let networks: BTreeSet<Network> = codes.iter().filter_map(|code| Network::from_resource_code(code).ok()).collect();
    match networks.len() {
        1 => networks.into_iter().next(),
        0 => {
            let seen =
                if codes.is_empty() { "no resource".to_owned() } else { format!("resource {}", codes.join(", ")) };
            found.add_some(
                "payload.resource_allocations",
                format!(
                    "the trip has {seen}: assign the PALLEX_OUT resource (PALL-EX) or the FORTEC_OUT resource (Fortec) to the trip"
                ),
            )
        }
        _ => found.add_some(
            "payload.resource_allocations",
            "the trip has both PALLEX_OUT and FORTEC_OUT assigned: keep only the network that carries it",
        ),
    }
}

/// The customer's Nexus ID on `network`, from the customer's additional fields.
fn customer_id(order: &DispatchOrder, network: Network, at: &Paths, found: &mut Violations) -> Option<i64> {
    let field = network.customer_id_field();
    let path = at.order(&format!("customer.custom_fields.{field}"));
    let Some(customer) = &order.customer else {
        return found.add_some(at.order("customer"), "the order has no customer: set the customer in Qargo");
    };
    let who = match (&customer.name, &customer.code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.clone(),
        (None, Some(code)) => code.clone(),
        (None, None) => "the customer".to_owned(),
    };
    let raw = lookup(&customer.custom_fields, field);
    match raw.as_deref().map(str::trim) {
        None | Some("") => found.add_some(
            path,
            format!(
                "customer {who} has no {field}: add its {} customer ID as the additional field {field} on the customer in Qargo",
                network.display_name()
            ),
        ),
        Some(value) => match value.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => found.add_some(
                path,
                format!("customer {who} has {field} '{value}', which is not a Nexus customer ID (a whole number, e.g. 64086)"),
            ),
        },
    }
}

/// Our depot that books: the consignment's requesting (or collection) depot, else our only
/// configured member of the network.
fn booking_depot(
    consignment: &DispatchConsignment,
    network: Network,
    settings: &Settings,
    at: &Paths,
    found: &mut Violations,
) -> Option<DepotCode> {
    let given = consignment.transport_network.as_ref().and_then(|t| {
        trimmed(&t.requesting_depot_code)
            .map(|code| ("transport_network.requesting_depot_code", code))
            .or_else(|| trimmed(&t.collection_depot_code).map(|code| ("transport_network.collection_depot_code", code)))
    });
    let (path, depot) = match given {
        Some((field, raw)) => match raw.parse::<DepotCode>() {
            Ok(depot) => (at.consignment(field), depot),
            Err(err) => return found.add_some(at.consignment(field), err.to_string()),
        },
        None => {
            let members: Vec<&DepotCode> =
                settings.depots.iter().map(|d| &d.code).filter(|code| code.is_member_of(network)).collect();
            match members.as_slice() {
                [only] => (at.consignment("transport_network.requesting_depot_code"), (*only).clone()),
                _ => {
                    return found.add_some(
                        at.consignment("transport_network.requesting_depot_code"),
                        format!(
                            "no requesting depot on the consignment and this bridge serves {} {} depots: set the depot code",
                            members.len(),
                            network.display_name()
                        ),
                    );
                }
            }
        }
    };
    if !depot.is_member_of(network) {
        let networks: Vec<&str> = depot.networks().iter().map(|n| n.display_name()).collect();
        let other = depot.networks()[0];
        return found.add_some(
            path,
            format!(
                "depot {depot} is a member of {} only and cannot dispatch on {}: assign the {} resource instead",
                networks.join(" and "),
                network.display_name(),
                other.resource_code()
            ),
        );
    }
    if settings.depot(&depot).is_none() {
        let ours: Vec<&str> = settings.depots.iter().map(|d| d.code.as_str()).collect();
        return found.add_some(
            path,
            format!(
                "depot {depot} is not served by this bridge (it serves {}): correct the depot code, or add the depot to BRIDGE_DEPOTS and its Nexus user to the secret",
                ours.join(", ")
            ),
        );
    }
    Some(depot)
}

fn stop<'a>(
    stop: Option<&'a DispatchStop>,
    name: &str,
    at: &Paths,
    found: &mut Violations,
) -> Option<&'a DispatchStop> {
    match stop {
        Some(stop) => Some(stop),
        None => found.add_some(at.consignment(name), format!("the consignment has no {name}: plan it in Qargo")),
    }
}

fn date_of(stop: &DispatchStop, name: &str, required: bool, at: &Paths, found: &mut Violations) -> Option<Date> {
    let path = at.consignment(&format!("{name}.date"));
    match trimmed(&stop.date) {
        None if required => found.add_some(path, "no collection date: set the pickup stop's date"),
        None => None,
        Some(raw) => match raw.parse::<Date>() {
            Ok(date) => Some(date),
            Err(_) => found.add_some(path, format!("'{raw}' is not a date: use YYYY-MM-DD")),
        },
    }
}

fn address(
    stop: &DispatchStop,
    name: &str,
    delivery: bool,
    at: &Paths,
    found: &mut Violations,
) -> Option<wire::Address> {
    let path = |field: &str| at.consignment(&format!("{name}.location.{field}"));
    let Some(location) = &stop.location else {
        return found.add_some(path("address"), format!("the {name} has no address: set its location in Qargo"));
    };
    let before = found.len();
    let required = |value: &Option<String>, field: &str, found: &mut Violations| -> String {
        match trimmed(value) {
            Some(text) => text,
            None => {
                found.add(path(field), format!("the {name}'s {field} is empty: complete the address"));
                String::new()
            }
        }
    };
    let line1 = required(&location.address, "address", found);
    let town = required(&location.city, "city", found);
    let raw_postcode = required(&location.postal_code, "postal_code", found);
    let name_of_place = trimmed(&location.name).unwrap_or_else(|| line1.clone());
    let country_id = country(location, name, delivery, &path("country"), found);
    let postcode = if raw_postcode.is_empty() {
        None
    } else if country_id == Some(NEXUS_IRELAND) {
        match eircode(&raw_postcode) {
            Some(code) => Some(code),
            None => found.add_some(
                path("postal_code"),
                format!("'{raw_postcode}' is not an Eircode (e.g. D02 X285): correct the Irish address"),
            ),
        }
    } else {
        match raw_postcode.parse::<Postcode>() {
            Ok(code) => Some(code.to_string()),
            Err(err) => found.add_some(path("postal_code"), err.to_string()),
        }
    };
    if found.len() != before {
        return None;
    }
    Some(wire::Address {
        country_id: country_id?,
        name: limit(&name_of_place, 60),
        line1: limit(&line1, 60),
        line2: trimmed(&location.address_second_line).map(|l| limit(&l, 60)),
        town: limit(&town, 60),
        county: trimmed(&location.state),
        postcode: postcode?,
        telephone: trimmed(&stop.phone_number),
    })
}

/// Nexus country id: collections only in the UK; deliveries to the UK or Ireland.
fn country(location: &Location, name: &str, delivery: bool, path: &str, found: &mut Violations) -> Option<u32> {
    let code = trimmed(&location.country).unwrap_or_else(|| "GB".to_owned()).to_ascii_uppercase();
    match code.as_str() {
        "GB" | "UK" => Some(NEXUS_UNITED_KINGDOM),
        "IE" if delivery => Some(NEXUS_IRELAND),
        _ if delivery => found.add_some(
            path,
            format!(
                "the networks deliver to the United Kingdom (GB) and Ireland (IE) only, not {code}: use another carrier"
            ),
        ),
        _ => found.add_some(
            path,
            format!("the networks collect in the United Kingdom only, not {code}: the {name} must be in GB"),
        ),
    }
}

/// An Eircode in its written form: routing key (letter + two digits, or D6W) and four characters.
fn eircode(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if compact.len() != 7 || !compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (routing, unique) = compact.split_at(3);
    let routing_ok = routing == "D6W"
        || (routing.as_bytes()[0].is_ascii_alphabetic() && routing.bytes().skip(1).all(|b| b.is_ascii_digit()));
    routing_ok.then(|| format!("{routing} {unique}"))
}

/// The delivery time window (`None` inside when there is none). Amazon deliveries are book-ins
/// carrying the carton count and the booking reference.
fn time_window(
    order: &DispatchOrder,
    delivery: &DispatchStop,
    at: &Paths,
    found: &mut Violations,
) -> Option<Option<TimeWindow>> {
    let amazon = delivery.extras.iter().position(|e| e.code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("AZ")));
    let window = delivery.time_window.as_ref();
    let code = window.and_then(|w| trimmed(&w.code)).map(|c| c.to_ascii_uppercase());
    let path = |field: &str| at.consignment(&format!("delivery_stop.{field}"));
    let contact_name = lookup(&delivery.custom_fields, "contact_name").filter(|n| !n.trim().is_empty());
    let contact_phone = trimmed(&delivery.phone_number).or_else(|| trimmed(&delivery.mobile_number));
    if let Some(index) = amazon {
        let fields = delivery.extras[index].amazon.clone().unwrap_or_default();
        let cartons = lookup(&fields, "carton_count").or_else(|| lookup(&order.custom_fields, "AmazonCartonCount"));
        let booking = lookup(&fields, "po_number")
            .or_else(|| lookup(&fields, "booking_reference"))
            .or_else(|| lookup(&order.custom_fields, "AmazonBookingRef"));
        let before = found.len();
        match cartons.as_deref().map(str::trim).map(str::parse::<u32>) {
            Some(Ok(count)) if count > 0 => {}
            _ => found.add(
                path(&format!("extras[{index}].amazon.carton_count")),
                "an Amazon (AZ) delivery needs the carton count: set it on the AZ extra or as the order's AmazonCartonCount",
            ),
        }
        if booking.as_deref().is_none_or(|b| b.trim().is_empty()) {
            found.add(
                path(&format!("extras[{index}].amazon.po_number")),
                "an Amazon (AZ) delivery needs Amazon's booking reference: set po_number on the AZ extra or the order's AmazonBookingRef",
            );
        }
        if contact_phone.is_none() {
            found.add(path("phone_number"), "an Amazon (AZ) delivery needs the site's phone number for the book-in");
        }
        if found.len() != before {
            return None;
        }
        let slot = [lookup(&fields, "booking_date"), lookup(&fields, "booking_time")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let notes = format!(
            "Amazon: {} cartons{}",
            cartons.unwrap_or_default().trim(),
            if slot.is_empty() { String::new() } else { format!(", slot {slot}") }
        );
        let book_in = BookIn {
            contact_name: contact_name
                .or_else(|| delivery.location.as_ref().and_then(|l| trimmed(&l.name)))
                .unwrap_or_else(|| "Amazon goods-in".to_owned()),
            contact_phone: contact_phone.unwrap_or_default(),
            reference: booking.map(|b| limit(b.trim(), MAX_REFERENCE_CHARS)),
            notes: Some(notes),
        };
        return match TimeWindow::book_in(book_in) {
            Ok(window) => Some(Some(window)),
            Err(err) => found.add_some(path("phone_number"), err.to_string()),
        };
    }
    let Some(code) = code else {
        return Some(None);
    };
    let result = match code.as_str() {
        "AM" => Ok(TimeWindow::Am),
        "TD" | "TIMED" => {
            let time = |value: Option<&String>, field: &str, found: &mut Violations| -> Option<Time> {
                match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    None => found.add_some(
                        path(&format!("time_window.{field}")),
                        "a TD (timed) window needs a start and an end time (HH:mm)",
                    ),
                    Some(raw) => match raw.parse::<Time>() {
                        Ok(time) => Some(time),
                        Err(_) => found.add_some(
                            path(&format!("time_window.{field}")),
                            format!("'{raw}' is not a time: use HH:mm"),
                        ),
                    },
                }
            };
            let start = time(window.and_then(|w| w.start_time.as_ref()), "start_time", found);
            let end = time(window.and_then(|w| w.end_time.as_ref()), "end_time", found);
            let (Some(start), Some(end)) = (start, end) else {
                return None;
            };
            TimeWindow::timed(start, end).map_err(|err| (path("time_window"), err.to_string()))
        }
        "BI" | "BOOK_IN" => {
            let Some(name) = contact_name else {
                return found.add_some(
                    path("custom_fields.contact_name"),
                    "a BI (book-in) delivery needs the name of the person who books the slot: set contact_name on the delivery stop",
                );
            };
            let Some(phone) = contact_phone else {
                return found.add_some(
                    path("phone_number"),
                    "a BI (book-in) delivery needs the phone number the delivery depot calls: set it on the delivery stop",
                );
            };
            TimeWindow::book_in(BookIn {
                contact_name: name,
                contact_phone: phone,
                reference: trimmed(&delivery.reference_number).map(|r| limit(&r, MAX_REFERENCE_CHARS)),
                notes: trimmed(&delivery.note),
            })
            .map_err(|err| (path("phone_number"), err.to_string()))
        }
        other => Err((
            path("time_window.code"),
            format!(
                "'{other}' is not a network time window: use AM (before 12:00), TD (timed, with start and end) or BI (book-in)"
            ),
        )),
    };
    match result {
        Ok(window) => Some(Some(window)),
        Err((field, message)) => found.add_some(field, message),
    }
}

/// The delivery extras (Amazon is handled as a book-in, not an extra).
fn extras(delivery: &DispatchStop, at: &Paths, found: &mut Violations) -> Vec<Extra> {
    let mut out = Vec::new();
    for (index, extra) in delivery.extras.iter().enumerate() {
        let Some(code) = trimmed(&extra.code) else { continue };
        if code.eq_ignore_ascii_case("AZ") {
            continue;
        }
        match code.parse::<Extra>() {
            Ok(extra) if !out.contains(&extra) => out.push(extra),
            Ok(_) => {}
            Err(err) => found.add(at.consignment(&format!("delivery_stop.extras[{index}].code")), err.to_string()),
        }
    }
    out
}

/// One Nexus pallet per unit of each goods line, within the pallet type's limits.
fn pallets(
    consignment: &DispatchConsignment,
    at: &Paths,
    found: &mut Violations,
) -> (Vec<wire::PalletInput>, Vec<PalletLine>) {
    let mut pallets = Vec::new();
    let mut lines = Vec::new();
    let mut spaces = 0.0;
    if consignment.goods.is_empty() {
        found.add(
            at.consignment("goods"),
            "the consignment has no goods: add the pallets (type, quantity, weight, height)",
        );
    }
    for (index, goods) in consignment.goods.iter().enumerate() {
        let path = |field: &str| at.consignment(&format!("goods[{index}].{field}"));
        let Some((pallet, count)) = pallet_of(goods, &path, found) else { continue };
        spaces += PalletType::from_nexus_id(pallet.pallet_type_id).map_or(1.0, PalletType::spaces) * f64::from(count);
        pallets.extend(std::iter::repeat_n(pallet, count as usize));
        lines.push(PalletLine { goods_id: goods.id.clone(), pallets: count });
    }
    if pallets.len() > MAX_PALLETS as usize || spaces > f64::from(MAX_PALLETS) {
        found.add(
            at.consignment("goods"),
            format!(
                "{} pallets taking {spaces} pallet spaces: a consignment carries 1 to {MAX_PALLETS}; split it into several orders",
                pallets.len()
            ),
        );
    }
    (pallets, lines)
}

fn pallet_of(goods: &Goods, path: &dyn Fn(&str) -> String, found: &mut Violations) -> Option<(wire::PalletInput, u32)> {
    let before = found.len();
    let pallet_type = match goods.packaging_type.as_ref().and_then(|p| trimmed(&p.code)) {
        None => found.add_some(
            path("packaging_type.code"),
            "no pallet type: use MQ, Q, H, L, E, OS or F as the packaging type code",
        ),
        Some(code) => match code.parse::<PalletType>() {
            Ok(t) => Some(t),
            Err(err) => found.add_some(path("packaging_type.code"), err.to_string()),
        },
    };
    let count = match goods.quantity {
        Some(q) if q >= 1.0 && q.fract() == 0.0 && q <= f64::from(MAX_PALLETS) => Some(q as u32),
        Some(q) => found.add_some(
            path("quantity"),
            format!("{q} is not a pallet count: use a whole number from 1 to {MAX_PALLETS}"),
        ),
        None => found.add_some(path("quantity"), "no quantity: say how many pallets the line is"),
    };
    let euro_size = goods
        .packaging_type
        .as_ref()
        .and_then(|p| p.packaging_size.as_ref())
        .and_then(|s| trimmed(&s.code))
        .is_some_and(|code| code.eq_ignore_ascii_case("EURO"));
    let base =
        if euro_size || pallet_type.is_some_and(PalletType::is_euro) { PalletBase::Euro } else { PalletBase::Standard };
    let (default_length, default_width) = if base == PalletBase::Euro { (120, 80) } else { (120, 100) };
    let centimetres = |metres: Option<f64>| metres.filter(|m| *m > 0.0).map(|m| (m * 100.0).round() as u32);
    let height = centimetres(goods.unit_height_m);
    let weight = goods
        .unit_weight_kg
        .filter(|w| *w > 0.0)
        .or_else(|| Some(goods.total_weight_kg.filter(|w| *w > 0.0)? / goods.quantity.filter(|q| *q >= 1.0)?))
        .map(|w| w.ceil() as u32);
    if let Some(pallet_type) = pallet_type {
        match height {
            None => found.add(path("unit_height_m"), "no pallet height: set the unit height in metres"),
            Some(cm) if cm > pallet_type.max_height_cm() => found.add(
                path("unit_height_m"),
                format!(
                    "{cm} cm is taller than a {} pallet may be ({} cm): use a larger pallet type or split the load",
                    pallet_type,
                    pallet_type.max_height_cm()
                ),
            ),
            Some(_) => {}
        }
        match weight {
            None => found.add(path("unit_weight_kg"), "no pallet weight: set the unit weight (or total weight) in kg"),
            Some(kg) if kg > pallet_type.max_weight_kg() => found.add(
                path("unit_weight_kg"),
                format!(
                    "{kg} kg is heavier than a {} pallet may be ({} kg): use a heavier pallet type or split the load",
                    pallet_type,
                    pallet_type.max_weight_kg()
                ),
            ),
            Some(_) => {}
        }
    }
    if found.len() != before {
        return None;
    }
    let pallet = wire::PalletInput {
        pallet_base_id: base.nexus_id(),
        pallet_type_id: pallet_type?.nexus_id(),
        length: centimetres(goods.unit_length_m).unwrap_or(default_length),
        width: centimetres(goods.unit_width_m).unwrap_or(default_width),
        height: height?,
        weight: weight?,
        limited_quantity_weight: 0,
        do_not_stack: goods.stackable == Some(false),
    };
    Some((pallet, count?))
}

/// Paths into the payload for the chosen order and consignment.
struct Paths {
    order: usize,
    consignment: usize,
}

impl Paths {
    fn new(order: usize, consignment: usize) -> Paths {
        Paths { order, consignment }
    }

    fn order(&self, field: &str) -> String {
        format!("payload.orders[{}].{field}", self.order)
    }

    fn consignment(&self, field: &str) -> String {
        format!("payload.orders[{}].consignments[{}].{field}", self.order, self.consignment)
    }
}

#[derive(Default)]
struct Violations(Vec<Violation>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Violation::new(field, message));
    }

    /// Records a violation where a value was expected, so callers can `return found.add_some(…)`.
    fn add_some<T>(&mut self, field: impl Into<String>, message: impl Into<String>) -> Option<T> {
        self.add(field, message);
        None
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_vec(self) -> Vec<Violation> {
        self.0
    }
}

/// A trimmed, non-empty copy.
fn trimmed(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// An additional field as text, whether Qargo sent it as a string or a number.
fn lookup(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn limit(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings() -> Settings {
        let values = [
            ("BRIDGE_TABLE", "t"),
            ("BRIDGE_BUCKET", "b"),
            ("BRIDGE_DEPOTS", "PGD302,UKD101"),
            ("NEXUS_BASE_URL", "http://nexus"),
            ("QARGO_BASE_URL", "http://qargo"),
            ("BRIDGE_SECRETS_JSON", "{}"),
        ];
        Settings::from_lookup(|name| values.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
    }

    /// A valid PALL-EX dispatch of two full pallets from PGD302.
    fn trip() -> serde_json::Value {
        json!({
            "id": "trip-1", "name": "TR-1",
            "resource_allocations": [{"resource": {"code": "PALLEX_OUT"}}],
            "orders": [{
                "id": "order-1", "name": "OR-1",
                "customer": {"name": "Project Timber Ltd", "code": "TIMBER", "custom_fields": {"PallexID": "64086", "FortecID": 71520}},
                "customer_reference_number": "PO-1",
                "service_level": {"code": "A"},
                "custom_fields": {},
                "consignments": [{
                    "id": "cons-1",
                    "transport_network": {"requesting_depot_code": "PGD302"},
                    "pickup_stop": {"id": "stop-p", "date": "2026-06-17",
                        "location": {"name": "Timber", "address": "Sawmill Lane", "postal_code": "dn227ss", "city": "Retford", "country": "GB"}},
                    "delivery_stop": {"id": "stop-d", "phone_number": "+441332000000",
                        "custom_fields": {"contact_name": "Goods-in"},
                        "location": {"name": "Builders", "address": "1 Friar Gate", "postal_code": "DE1 1AA", "city": "Derby", "country": "GB"},
                        "extras": [{"code": "TL"}]},
                    "goods": [{"id": "g-1", "quantity": 2, "packaging_type": {"code": "F"},
                               "unit_height_m": 1.2, "unit_weight_kg": 450.0}]
                }]
            }]
        })
    }

    fn plan(value: serde_json::Value) -> Result<DispatchPlan, Vec<Violation>> {
        plan_dispatch(&serde_json::from_value(value).unwrap(), &settings())
    }

    /// Applies `change` to the valid trip and returns the fields of the violations.
    fn refused(change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
        let mut value = trip();
        change(&mut value);
        plan(value).expect_err("refused").into_iter().map(|v| v.field).collect()
    }

    const C: &str = "payload.orders[0].consignments[0]";

    #[test]
    fn a_valid_dispatch_maps_to_the_nexus_body() {
        let plan = plan(trip()).unwrap();
        assert_eq!(plan.network, Network::Pallex);
        assert_eq!(plan.depot.as_str(), "PGD302");
        assert_eq!(plan.body.general.customer_id, 64086);
        assert_eq!(plan.body.pallets.len(), 2);
        assert_eq!(plan.body.pallets[0].height, 120);
        assert_eq!(plan.body.pallets[0].pallet_type_id, PalletType::Full.nexus_id());
        assert_eq!(plan.body.delivery_info.extras, vec!["TL"]);
        assert_eq!(plan.body.collection_address.as_ref().unwrap().postcode, "DN22 7SS");
        assert_eq!(plan.pallet_lines, vec![PalletLine { goods_id: Some("g-1".into()), pallets: 2 }]);
        let mut fortec = trip();
        fortec["resource_allocations"][0]["resource"]["code"] = json!("FORTEC_OUT");
        assert_eq!(
            plan_dispatch(&serde_json::from_value(fortec).unwrap(), &settings()).unwrap().body.general.customer_id,
            71520
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Change, String)> = vec![
            (
                "network",
                Box::new(|t| t["resource_allocations"][0]["resource"]["code"] = json!("OWN_FLEET")),
                "payload.resource_allocations".into(),
            ),
            (
                "customer id",
                Box::new(|t| t["orders"][0]["customer"]["custom_fields"] = json!({})),
                "payload.orders[0].customer.custom_fields.PallexID".into(),
            ),
            (
                "one consignment",
                Box::new(|t| {
                    let c = t["orders"][0]["consignments"][0].clone();
                    t["orders"][0]["consignments"].as_array_mut().unwrap().push(c);
                }),
                "payload.orders".into(),
            ),
            (
                "membership",
                Box::new(|t| {
                    t["resource_allocations"][0]["resource"]["code"] = json!("FORTEC_OUT");
                    t["orders"][0]["consignments"][0]["transport_network"]["requesting_depot_code"] = json!("UKD101");
                }),
                format!("{C}.transport_network.requesting_depot_code"),
            ),
            (
                "our depot",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["transport_network"]["requesting_depot_code"] = json!("UKD205")
                }),
                format!("{C}.transport_network.requesting_depot_code"),
            ),
            (
                "service level",
                Box::new(|t| t["orders"][0]["service_level"]["code"] = json!("C")),
                "payload.orders[0].service_level.code".into(),
            ),
            (
                "specific day date",
                Box::new(|t| t["orders"][0]["service_level"]["code"] = json!("SD")),
                format!("{C}.delivery_stop.date"),
            ),
            (
                "timed window",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] =
                        json!({"code": "TD", "start_time": "09:00", "end_time": "14:00"})
                }),
                format!("{C}.delivery_stop.time_window"),
            ),
            (
                "window code",
                Box::new(|t| t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] = json!({"code": "PM"})),
                format!("{C}.delivery_stop.time_window.code"),
            ),
            (
                "book-in contact",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] = json!({"code": "BI"});
                    t["orders"][0]["consignments"][0]["delivery_stop"]["custom_fields"] = json!({});
                }),
                format!("{C}.delivery_stop.custom_fields.contact_name"),
            ),
            (
                "extra",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] = json!([{"code": "FORKLIFT"}])
                }),
                format!("{C}.delivery_stop.extras[0].code"),
            ),
            (
                "amazon cartons",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
                        json!([{"code": "AZ", "amazon": {"po_number": "AMZ-1"}}])
                }),
                format!("{C}.delivery_stop.extras[0].amazon.carton_count"),
            ),
            (
                "amazon reference",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
                        json!([{"code": "AZ", "amazon": {"carton_count": "12"}}])
                }),
                format!("{C}.delivery_stop.extras[0].amazon.po_number"),
            ),
            (
                "weight",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(1300)),
                format!("{C}.goods[0].unit_weight_kg"),
            ),
            (
                "height",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["goods"][0]["packaging_type"]["code"] = json!("Q");
                    t["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(100);
                }),
                format!("{C}.goods[0].unit_height_m"),
            ),
            (
                "pallet count",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(20);
                    let g = t["orders"][0]["consignments"][0]["goods"][0].clone();
                    t["orders"][0]["consignments"][0]["goods"].as_array_mut().unwrap().push(g);
                }),
                format!("{C}.goods"),
            ),
            (
                "pallet type",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["packaging_type"]["code"] = json!("XL")),
                format!("{C}.goods[0].packaging_type.code"),
            ),
            (
                "postcode",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["location"]["postal_code"] = json!("75008")
                }),
                format!("{C}.delivery_stop.location.postal_code"),
            ),
            (
                "delivery country",
                Box::new(|t| t["orders"][0]["consignments"][0]["delivery_stop"]["location"]["country"] = json!("FR")),
                format!("{C}.delivery_stop.location.country"),
            ),
            (
                "collection country",
                Box::new(|t| t["orders"][0]["consignments"][0]["pickup_stop"]["location"]["country"] = json!("IE")),
                format!("{C}.pickup_stop.location.country"),
            ),
            (
                "collection date",
                Box::new(|t| t["orders"][0]["consignments"][0]["pickup_stop"]["date"] = json!("17/06/2026")),
                format!("{C}.pickup_stop.date"),
            ),
            (
                "reference length",
                Box::new(|t| t["orders"][0]["customer_reference_number"] = json!("X".repeat(36))),
                "payload.orders[0].customer_reference_number".into(),
            ),
        ];
        for (rule, change, field) in cases {
            let fields = refused(change);
            assert!(fields.contains(&field), "{rule}: expected {field} in {fields:?}");
        }
    }

    #[test]
    fn every_violation_is_reported_at_once_with_its_fix() {
        let mut value = trip();
        value["orders"][0]["service_level"]["code"] = json!("Z");
        value["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(5000);
        let violations = plan(value).unwrap_err();
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[1].message.contains("1200 kg"), "{}", violations[1]);
    }

    #[test]
    fn international_euro_pallets_to_ireland() {
        let mut value = trip();
        let delivery = &mut value["orders"][0]["consignments"][0]["delivery_stop"]["location"];
        delivery["country"] = json!("IE");
        delivery["postal_code"] = json!("d02x285");
        value["orders"][0]["consignments"][0]["goods"][0]["packaging_type"] = json!({"code": "E"});
        let plan = plan(value).unwrap();
        assert_eq!(plan.body.delivery_address.country_id, NEXUS_IRELAND);
        assert_eq!(plan.body.delivery_address.postcode, "D02 X285");
        assert_eq!(plan.body.pallets[0].pallet_base_id, PalletBase::Euro.nexus_id());
        assert_eq!((plan.body.pallets[0].length, plan.body.pallets[0].width), (120, 80));
        let mut bad = trip();
        bad["orders"][0]["consignments"][0]["delivery_stop"]["location"]["country"] = json!("IE");
        assert!(refused(|t| *t = bad).contains(&format!("{C}.delivery_stop.location.postal_code")));
    }

    #[test]
    fn amazon_and_book_in_become_a_nexus_book_in() {
        let mut value = trip();
        value["orders"][0]["custom_fields"] = json!({"AmazonCartonCount": "120", "AmazonBookingRef": "AMZ-99812"});
        value["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
            json!([{"code": "TL"}, {"code": "AZ", "amazon": {"booking_date": "2026-06-18", "booking_time": "10:30"}}]);
        let plan = plan(value).unwrap();
        let book_in = plan.body.delivery_info.book_in.unwrap();
        assert_eq!(plan.body.delivery_info.time_window_code.as_deref(), Some("BI"));
        assert_eq!(book_in.reference.as_deref(), Some("AMZ-99812"));
        assert!(book_in.notes.unwrap().contains("120 cartons"));
        assert_eq!(plan.body.delivery_info.extras, vec!["TL"]);
    }

    #[test]
    fn the_cut_off_applies_when_booking() {
        let mut plan = plan(trip()).unwrap();
        let after = "2026-06-17T11:05:00Z".parse().unwrap(); // 12:05 BST
        let refusal = plan.schedule_collection(after, CutoffPolicy::Reject).unwrap_err();
        assert_eq!(refusal.field, format!("{C}.pickup_stop.date"));
        assert!(refusal.message.contains("2026-06-18"), "{refusal}");
        let note = plan.schedule_collection(after, CutoffPolicy::Roll).unwrap();
        assert!(note.is_some());
        assert_eq!(plan.body.collection_info.due_date.to_string(), "2026-06-18");
        assert_eq!(plan.requested_collection.to_string(), "2026-06-17", "the fingerprint keeps what Qargo asked for");
    }
}
