//! What may be dispatched to a network (DESIGN.md §2): every rule a booking request must pass
//! before the bridge touches Nexus, over domain types only ([`BookingRequest`] in, [`Booking`]
//! out). All violations are collected, not just the first, and each names the field (through the
//! vendor's [`FieldNames`]) and the fix, so the dispatcher can correct the order in one go.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};

use crate::config::Settings;
use crate::domain::booking::{
    Address, AddressPart, AddressRequest, AmazonRequest, Booking, BookingField, BookingRequest, Contact, Country,
    FieldNames, GoodsRequest, Pallet, PalletLine, StopRequest, StopRole, Violation,
};
use crate::domain::{BookIn, DepotCode, Extra, Network, PalletBase, PalletType, Postcode, ServiceLevel, TimeWindow};
use crate::error::shown;

/// The most pallets (and pallet spaces) one consignment may carry: a 13.6 m trailer holds 26.
pub const MAX_PALLETS: u32 = 26;
/// Nexus's limit on consignment numbers and references.
pub const MAX_REFERENCE_CHARS: usize = 35;
/// The longest side a pallet may have, in cm (a load longer than 4 m is not a pallet).
pub const MAX_PALLET_SIDE_CM: u32 = 400;

/// Checks a booking request against every dispatch rule; `names` says where each field is in the
/// vendor's payload.
pub fn check_booking(
    request: &BookingRequest,
    names: &dyn FieldNames,
    settings: &Settings,
) -> Result<Booking, Vec<Violation>> {
    let mut found = Violations { names, list: Vec::new() };
    let requested = network_of(request, &mut found);
    let depot = requested.and_then(|network| booking_depot(request, network, settings, &mut found));
    // A depot that moved its Fortec work to PALL-EX (Fortec runs under Pall-Ex since 2026) books
    // its FORTEC_OUT dispatches there, with the customer's PALL-EX account.
    let moved = |depot: &DepotCode| settings.depot(depot).is_some_and(|d| d.fortec_via_pallex);
    let network = match (requested, &depot) {
        (Some(Network::Fortec), Some(depot)) if moved(depot) => Some(Network::Pallex),
        (requested, _) => requested,
    };
    let customer_id = network.and_then(|network| customer_id(request, network, &mut found));
    let order_name = match &request.order_name {
        Some(name) => Some(name.clone()),
        None => found.add_some(BookingField::OrderName, "the order has no name or id: re-send the dispatch from Qargo"),
    };
    let customer_reference = request.customer_reference.clone();
    if let Some(reference) = &customer_reference
        && reference.chars().count() > MAX_REFERENCE_CHARS
    {
        found.add(
            BookingField::CustomerReference,
            format!(
                "'{}' is longer than the {MAX_REFERENCE_CHARS} characters Nexus accepts: shorten it",
                shown(reference)
            ),
        );
    }

    for (role, stop) in [(StopRole::Pickup, request.pickup.as_ref()), (StopRole::Delivery, request.delivery.as_ref())] {
        let Some(stop) = stop else { continue };
        for (field, number) in
            [(BookingField::StopPhone(role), &stop.phone), (BookingField::StopMobile(role), &stop.mobile)]
        {
            if let Some(number) = number
                && number.chars().count() > MAX_PHONE_CHARS
            {
                found.add(
                    field,
                    format!("'{}' is longer than a phone number ({MAX_PHONE_CHARS} characters at most)", shown(number)),
                );
            }
        }
    }
    let service = match &request.service_code {
        None => found.add_some(
            BookingField::ServiceLevel,
            "no service level: set A (Premium, next day), B (Economy, 2 days) or SD (Specific Day) on the order",
        ),
        Some(code) => match code.parse::<ServiceLevel>() {
            Ok(level) => Some(level),
            Err(err) => found.add_some(BookingField::ServiceLevel, err.to_string()),
        },
    };

    let pickup = stop(request.pickup.as_ref(), StopRole::Pickup, &mut found);
    let delivery = stop(request.delivery.as_ref(), StopRole::Delivery, &mut found);
    let collection_date = pickup.and_then(|p| date_of(p, StopRole::Pickup, &mut found));
    let delivery_date = delivery.and_then(|d| date_of(d, StopRole::Delivery, &mut found));
    if service == Some(ServiceLevel::SpecificDay) && delivery_date.is_none() && delivery.is_some() {
        found.add(
            BookingField::StopDate(StopRole::Delivery),
            "service SD (Specific Day) needs the delivery date: set it on the delivery stop, a working day after collection",
        );
    }

    let collection_address = pickup.and_then(|p| address(p, StopRole::Pickup, &mut found));
    let delivery_address = delivery.and_then(|d| address(d, StopRole::Delivery, &mut found));
    let window = delivery.and_then(|d| time_window(request, d, &mut found));
    let extras = delivery.map(|d| extras(d, &mut found)).unwrap_or_default();
    let (pallets, pallet_lines) = pallets(&request.goods, &mut found);

    let (Some(network), Some(customer_id), Some(depot), Some(order_name), Some(service)) =
        (network, customer_id, depot, order_name, service)
    else {
        return Err(found.list);
    };
    let (Some(pickup), Some(delivery), Some(collection_date), Some(collection_address), Some(delivery_address)) =
        (pickup, delivery, collection_date, collection_address, delivery_address)
    else {
        return Err(found.list);
    };
    if !found.list.is_empty() {
        return Err(found.list);
    }
    let description: Vec<&str> = request.goods.iter().filter_map(|g| g.description.as_deref()).collect();
    let instructions = [delivery.note.as_deref(), delivery.instructions.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
    Ok(Booking {
        network,
        requested_network: requested.filter(|asked| *asked != network),
        depot,
        customer_id,
        customer_reference,
        order_name,
        service,
        collection_date,
        delivery_date,
        collection_address,
        collection_contact: Contact { phone: pickup.phone.clone(), email: pickup.email.clone() },
        delivery_address,
        delivery_contact: Contact {
            phone: delivery.phone.clone().or_else(|| delivery.mobile.clone()),
            email: delivery.email.clone(),
        },
        window: window.flatten(),
        extras,
        pallets,
        pallet_lines,
        description: (!description.is_empty()).then(|| limit(&description.join(", "), 100)),
        instructions: (!instructions.is_empty()).then(|| limit(&instructions, 250)),
    })
}

/// The network of the trip's subcontractor resource.
fn network_of(request: &BookingRequest, found: &mut Violations) -> Option<Network> {
    let codes = &request.resource_codes;
    let networks: BTreeSet<Network> = codes.iter().filter_map(|code| Network::from_resource_code(code).ok()).collect();
    match networks.len() {
        1 => networks.into_iter().next(),
        0 => {
            let seen = if codes.is_empty() {
                "no resource".to_owned()
            } else {
                format!("resource {}", shown(&codes.join(", ")))
            };
            found.add_some(
                BookingField::Network,
                format!(
                    "the trip has {seen}: assign the PALLEX_OUT resource (PALL-EX) or the FORTEC_OUT resource (Fortec) to the trip"
                ),
            )
        }
        _ => found.add_some(
            BookingField::Network,
            "the trip has both PALLEX_OUT and FORTEC_OUT assigned: keep only the network that carries it",
        ),
    }
}

/// The customer's account id on `network`.
fn customer_id(request: &BookingRequest, network: Network, found: &mut Violations) -> Option<i64> {
    let field = network.customer_id_field();
    let Some(customer) = &request.customer else {
        return found.add_some(BookingField::Customer, "the order has no customer: set the customer in Qargo");
    };
    let who = match (&customer.name, &customer.code) {
        (Some(name), Some(code)) => format!("{} ({})", shown(name), shown(code)),
        (Some(name), None) => shown(name),
        (None, Some(code)) => shown(code),
        (None, None) => "the customer".to_owned(),
    };
    let at = BookingField::CustomerNetworkId(network);
    match customer.network_ids.get(&network).map(|id| id.trim()) {
        None | Some("") => found.add_some(
            at,
            format!(
                "customer {who} has no {field}: add its {} customer ID as the additional field {field} on the customer in Qargo",
                network.display_name()
            ),
        ),
        Some(value) => match value.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => found.add_some(
                at,
                format!("customer {who} has {field} '{}', which is not a Nexus customer ID (a whole number, e.g. 64086)", shown(value)),
            ),
        },
    }
}

/// Our depot that books: the requesting (or collection) depot, else our only configured member of
/// the network.
fn booking_depot(
    request: &BookingRequest,
    network: Network,
    settings: &Settings,
    found: &mut Violations,
) -> Option<DepotCode> {
    let given = request
        .requesting_depot
        .as_ref()
        .map(|code| (BookingField::RequestingDepot, code))
        .or_else(|| request.collection_depot.as_ref().map(|code| (BookingField::CollectionDepot, code)));
    let (at, depot) = match given {
        Some((at, raw)) => match raw.parse::<DepotCode>() {
            Ok(depot) => (at, depot),
            Err(err) => return found.add_some(at, err.to_string()),
        },
        None => {
            let members: Vec<&DepotCode> =
                settings.depots.iter().map(|d| &d.code).filter(|code| code.is_member_of(network)).collect();
            match members.as_slice() {
                [only] => (BookingField::RequestingDepot, (*only).clone()),
                _ => {
                    return found.add_some(
                        BookingField::RequestingDepot,
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
            at,
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
            at,
            format!(
                "depot {depot} is not served by this bridge (it serves {}): correct the depot code, or add the depot to BRIDGE_DEPOTS and its Nexus user to the secret",
                ours.join(", ")
            ),
        );
    }
    Some(depot)
}

fn role_name(role: StopRole) -> &'static str {
    match role {
        StopRole::Pickup => "pickup_stop",
        StopRole::Delivery => "delivery_stop",
    }
}

fn stop<'a>(stop: Option<&'a StopRequest>, role: StopRole, found: &mut Violations) -> Option<&'a StopRequest> {
    match stop {
        Some(stop) => Some(stop),
        None => found.add_some(
            BookingField::Stop(role),
            format!("the consignment has no {}: plan it in Qargo", role_name(role)),
        ),
    }
}

fn date_of(stop: &StopRequest, role: StopRole, found: &mut Violations) -> Option<Date> {
    let at = BookingField::StopDate(role);
    match &stop.date {
        None if role == StopRole::Pickup => found.add_some(at, "no collection date: set the pickup stop's date"),
        None => None,
        Some(raw) => match raw.parse::<Date>() {
            Ok(date) => Some(date),
            Err(_) => found.add_some(at, format!("'{}' is not a date: use YYYY-MM-DD", shown(raw))),
        },
    }
}

fn address(stop: &StopRequest, role: StopRole, found: &mut Violations) -> Option<Address> {
    let name = role_name(role);
    let at = |part| BookingField::Address(role, part);
    let Some(location) = &stop.address else {
        return found.add_some(at(AddressPart::Line1), format!("the {name} has no address: set its location in Qargo"));
    };
    let before = found.list.len();
    let mut required = |value: &Option<String>, part: AddressPart, label: &str| -> String {
        match value {
            Some(text) => text.clone(),
            None => {
                found.add(at(part), format!("the {name}'s {label} is empty: complete the address"));
                String::new()
            }
        }
    };
    let line1 = required(&location.line1, AddressPart::Line1, "address");
    let town = required(&location.town, AddressPart::Town, "city");
    let raw_postcode = required(&location.postcode, AddressPart::Postcode, "postal_code");
    let name_of_place = location.name.clone().unwrap_or_else(|| line1.clone());
    let country = country(location, role, found);
    let postcode = if raw_postcode.is_empty() {
        None
    } else if country == Some(Country::Ireland) {
        match eircode(&raw_postcode) {
            Some(code) => Some(code),
            None => found.add_some(
                at(AddressPart::Postcode),
                format!("'{}' is not an Eircode (e.g. D02 X285): correct the Irish address", shown(&raw_postcode)),
            ),
        }
    } else {
        match raw_postcode.parse::<Postcode>() {
            Ok(code) => Some(code.to_string()),
            Err(err) => found.add_some(at(AddressPart::Postcode), err.to_string()),
        }
    };
    if found.list.len() != before {
        return None;
    }
    Some(Address {
        country: country?,
        name: limit(&name_of_place, 60),
        line1: limit(&line1, 60),
        line2: location.line2.as_ref().map(|l| limit(l, 60)),
        town: limit(&town, 60),
        county: location.county.clone(),
        postcode: postcode?,
        telephone: stop.phone.clone(),
    })
}

/// Collections only in the UK; deliveries to the UK or Ireland.
fn country(location: &AddressRequest, role: StopRole, found: &mut Violations) -> Option<Country> {
    let code = location.country.clone().unwrap_or_else(|| "GB".to_owned()).to_ascii_uppercase();
    let at = BookingField::Address(role, AddressPart::Country);
    let delivery = role == StopRole::Delivery;
    match code.as_str() {
        "GB" | "UK" => Some(Country::UnitedKingdom),
        "IE" if delivery => Some(Country::Ireland),
        _ if delivery => found.add_some(
            at,
            format!(
                "the networks deliver to the United Kingdom (GB) and Ireland (IE) only, not {}: use another carrier",
                shown(&code)
            ),
        ),
        _ => found.add_some(
            at,
            format!(
                "the networks collect in the United Kingdom only, not {}: the {} must be in GB",
                shown(&code),
                role_name(role)
            ),
        ),
    }
}

/// The longest phone number passed on (15 digits by E.164, with room for spaces and a `+`).
pub const MAX_PHONE_CHARS: usize = 25;

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
fn time_window(request: &BookingRequest, delivery: &StopRequest, found: &mut Violations) -> Option<Option<TimeWindow>> {
    let amazon =
        delivery.extras.iter().position(|e| e.code.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case("AZ")));
    let window = delivery.time_window.as_ref();
    let code = window.and_then(|w| w.code.clone()).map(|c| c.to_ascii_uppercase());
    let contact_phone = delivery.phone.clone().or_else(|| delivery.mobile.clone());
    if let Some(index) = amazon {
        let fields = &delivery.extras[index].amazon;
        let order: &AmazonRequest = &request.order_amazon;
        let cartons = fields.carton_count.clone().or_else(|| order.carton_count.clone());
        let booking = fields.booking_reference.clone().or_else(|| order.booking_reference.clone());
        let before = found.list.len();
        match cartons.as_deref().map(str::trim).map(str::parse::<u32>) {
            Some(Ok(count)) if count > 0 => {}
            _ => found.add(
                BookingField::AmazonCartonCount(index),
                "an Amazon (AZ) delivery needs the carton count: set it on the AZ extra or as the order's AmazonCartonCount",
            ),
        }
        if booking.as_deref().is_none_or(|b| b.trim().is_empty()) {
            found.add(
                BookingField::AmazonBookingReference(index),
                "an Amazon (AZ) delivery needs Amazon's booking reference: set po_number on the AZ extra or the order's AmazonBookingRef",
            );
        }
        if contact_phone.is_none() {
            found.add(
                BookingField::DeliveryPhone,
                "an Amazon (AZ) delivery needs the site's phone number for the book-in",
            );
        }
        if found.list.len() != before {
            return None;
        }
        let slot = [fields.booking_date.clone(), fields.booking_time.clone()]
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
            contact_name: delivery
                .contact_name
                .clone()
                .or_else(|| delivery.address.as_ref().and_then(|a| a.name.clone()))
                .unwrap_or_else(|| "Amazon goods-in".to_owned()),
            contact_phone: contact_phone.unwrap_or_default(),
            reference: booking.map(|b| limit(b.trim(), MAX_REFERENCE_CHARS)),
            notes: Some(notes),
        };
        return match TimeWindow::book_in(book_in) {
            Ok(window) => Some(Some(window)),
            Err(err) => found.add_some(BookingField::DeliveryPhone, err.to_string()),
        };
    }
    let Some(code) = code else {
        return Some(None);
    };
    let result = match code.as_str() {
        "AM" => Ok(TimeWindow::Am),
        "TD" | "TIMED" => {
            let time = |value: Option<&String>, at: BookingField, found: &mut Violations| -> Option<Time> {
                match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    None => found.add_some(at, "a TD (timed) window needs a start and an end time (HH:mm)"),
                    Some(raw) => match raw.parse::<Time>() {
                        Ok(time) => Some(time),
                        Err(_) => found.add_some(at, format!("'{}' is not a time: use HH:mm", shown(raw))),
                    },
                }
            };
            let start = time(window.and_then(|w| w.start.as_ref()), BookingField::TimeWindowStart, found);
            let end = time(window.and_then(|w| w.end.as_ref()), BookingField::TimeWindowEnd, found);
            let (Some(start), Some(end)) = (start, end) else {
                return None;
            };
            TimeWindow::timed(start, end).map_err(|err| (BookingField::TimeWindow, err.to_string()))
        }
        "BI" | "BOOK_IN" => {
            let Some(name) = delivery.contact_name.clone() else {
                return found.add_some(
                    BookingField::ContactName,
                    "a BI (book-in) delivery needs the name of the person who books the slot: set contact_name on the delivery stop",
                );
            };
            let Some(phone) = contact_phone else {
                return found.add_some(
                    BookingField::DeliveryPhone,
                    "a BI (book-in) delivery needs the phone number the delivery depot calls: set it on the delivery stop",
                );
            };
            TimeWindow::book_in(BookIn {
                contact_name: name,
                contact_phone: phone,
                reference: delivery.reference.as_ref().map(|r| limit(r, MAX_REFERENCE_CHARS)),
                notes: delivery.note.clone(),
            })
            .map_err(|err| (BookingField::DeliveryPhone, err.to_string()))
        }
        other => Err((
            BookingField::TimeWindowCode,
            format!(
                "'{}' is not a network time window: use AM (before 12:00), TD (timed, with start and end) or BI (book-in)",
                shown(other)
            ),
        )),
    };
    match result {
        Ok(window) => Some(Some(window)),
        Err((at, message)) => found.add_some(at, message),
    }
}

/// The delivery extras (Amazon is handled as a book-in, not an extra).
fn extras(delivery: &StopRequest, found: &mut Violations) -> Vec<Extra> {
    let mut out = Vec::new();
    for (index, extra) in delivery.extras.iter().enumerate() {
        let Some(code) = extra.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) else { continue };
        if code.eq_ignore_ascii_case("AZ") {
            continue;
        }
        match code.parse::<Extra>() {
            Ok(extra) if !out.contains(&extra) => out.push(extra),
            Ok(_) => {}
            Err(err) => found.add(BookingField::Extra(index), err.to_string()),
        }
    }
    out
}

/// One pallet per unit of each goods line, within the pallet type's limits.
fn pallets(goods: &[GoodsRequest], found: &mut Violations) -> (Vec<Pallet>, Vec<PalletLine>) {
    let mut pallets = Vec::new();
    let mut lines = Vec::new();
    let mut spaces = 0.0;
    if goods.is_empty() {
        found
            .add(BookingField::Goods, "the consignment has no goods: add the pallets (type, quantity, weight, height)");
    }
    for (index, line) in goods.iter().enumerate() {
        let Some((pallet, count)) = pallet_of(index, line, found) else { continue };
        spaces += pallet.pallet_type.spaces() * f64::from(count);
        pallets.extend(std::iter::repeat_n(pallet, count as usize));
        lines.push(PalletLine { goods_id: line.id.clone(), pallets: count });
    }
    if pallets.len() > MAX_PALLETS as usize || spaces > f64::from(MAX_PALLETS) {
        found.add(
            BookingField::Goods,
            format!(
                "{} pallets taking {spaces} pallet spaces: a consignment carries 1 to {MAX_PALLETS}; split it into several orders",
                pallets.len()
            ),
        );
    }
    (pallets, lines)
}

fn pallet_of(index: usize, goods: &GoodsRequest, found: &mut Violations) -> Option<(Pallet, u32)> {
    let before = found.list.len();
    let pallet_type = match &goods.pallet_type {
        None => found.add_some(
            BookingField::PalletType(index),
            "no pallet type: use MQ, Q, H, L, E, OS or F as the packaging type code",
        ),
        Some(code) => match code.parse::<PalletType>() {
            Ok(t) => Some(t),
            Err(err) => found.add_some(BookingField::PalletType(index), err.to_string()),
        },
    };
    let count = match goods.quantity {
        Some(q) if q >= 1.0 && q.fract() == 0.0 && q <= f64::from(MAX_PALLETS) => Some(q as u32),
        Some(q) => found.add_some(
            BookingField::Quantity(index),
            format!("{q} is not a pallet count: use a whole number from 1 to {MAX_PALLETS}"),
        ),
        None => found.add_some(BookingField::Quantity(index), "no quantity: say how many pallets the line is"),
    };
    let euro_size = goods.packaging_size.as_deref().is_some_and(|code| code.eq_ignore_ascii_case("EURO"));
    let base =
        if euro_size || pallet_type.is_some_and(PalletType::is_euro) { PalletBase::Euro } else { PalletBase::Standard };
    let (default_length, default_width) = if base == PalletBase::Euro { (120, 80) } else { (120, 100) };
    // Whole centimetres; a positive size under half a centimetre rounds to 0, and is refused below.
    let centimetres =
        |metres: Option<f64>| metres.filter(|m| *m > 0.0).map(|m| (m * 100.0).round().min(f64::from(u32::MAX)) as u32);
    let height = centimetres(goods.unit_height_m);
    let length = centimetres(goods.unit_length_m).unwrap_or(default_length);
    let width = centimetres(goods.unit_width_m).unwrap_or(default_width);
    for (cm, field, name) in
        [(length, BookingField::Length(index), "length"), (width, BookingField::Width(index), "width")]
    {
        if !(1..=MAX_PALLET_SIDE_CM).contains(&cm) {
            found.add(
                field,
                format!(
                    "a pallet {name} of {cm} cm is not a pallet's: give the unit {name} in metres, between 0.01 and 4"
                ),
            );
        }
    }
    let weight = goods
        .unit_weight_kg
        .filter(|w| *w > 0.0)
        .or_else(|| Some(goods.total_weight_kg.filter(|w| *w > 0.0)? / goods.quantity.filter(|q| *q >= 1.0)?))
        .map(|w| w.ceil() as u32);
    if let Some(pallet_type) = pallet_type {
        match height {
            None => found.add(BookingField::Height(index), "no pallet height: set the unit height in metres"),
            Some(0) => {
                found.add(BookingField::Height(index), "a pallet height under 1 cm: give the unit height in metres")
            }
            Some(cm) if cm > pallet_type.max_height_cm() => found.add(
                BookingField::Height(index),
                format!(
                    "{cm} cm is taller than a {} pallet may be ({} cm): use a larger pallet type or split the load",
                    pallet_type,
                    pallet_type.max_height_cm()
                ),
            ),
            Some(_) => {}
        }
        match weight {
            None => {
                found.add(BookingField::Weight(index), "no pallet weight: set the unit weight (or total weight) in kg")
            }
            Some(kg) if kg > pallet_type.max_weight_kg() => found.add(
                BookingField::Weight(index),
                format!(
                    "{kg} kg is heavier than a {} pallet may be ({} kg): use a heavier pallet type or split the load",
                    pallet_type,
                    pallet_type.max_weight_kg()
                ),
            ),
            Some(_) => {}
        }
    }
    if found.list.len() != before {
        return None;
    }
    let pallet = Pallet {
        base,
        pallet_type: pallet_type?,
        length_cm: length,
        width_cm: width,
        height_cm: height?,
        weight_kg: weight?,
        do_not_stack: goods.stackable == Some(false),
    };
    Some((pallet, count?))
}

/// The violations found so far, named through the vendor's field names.
struct Violations<'a> {
    names: &'a dyn FieldNames,
    list: Vec<Violation>,
}

impl Violations<'_> {
    fn add(&mut self, field: BookingField, message: impl Into<String>) {
        self.list.push(Violation::new(self.names.name(&field), message));
    }

    /// Records a violation where a value was expected, so callers can `return found.add_some(…)`.
    fn add_some<T>(&mut self, field: BookingField, message: impl Into<String>) -> Option<T> {
        self.add(field, message);
        None
    }
}

fn limit(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}
