//! `POST /v1/Consignments`: the create request of nexus-api.md §3.4 and every validation listed there.
//!
//! JSON binding follows ASP.NET's web defaults, which is what Nexus appears to run on: property names
//! are matched case-insensitively and numbers may arrive as strings (the §1.6 client sent
//! `"customerID": "64086"`). A body that is not JSON fails with `errors["$"]`; a value of the wrong
//! type fails with the JSON path as the key (`errors["$.pallets[0].weight"]`). Validation failures
//! are keyed by the PascalCase field path (`General.CustomerID`, `Pallets[0].Weight`), all at once.
//!
//! Invented beyond §3.4: a missing `consignmentTypeID` means 2 (Delivery); a missing collection due
//! date means today before the cut-off, else the next working day; collections must be in the UK and
//! deliveries in the UK or Ireland (Irish Eircodes go to the depot serving `BT`); a `SAT` extra makes
//! a Saturday due date acceptable for service SD and is refused without one; when no
//! `consignmentNumber` is sent the simulator assigns `NX` + the zero-padded consignment id; numbers
//! and references are limited to 35 characters; missing pallet length/width default to the base's.

use serde::Deserialize;
use serde_json::Value;

use crate::calendar;
use crate::clock;
use crate::postcode;
use crate::problem::{ApiError, FieldErrors};
use crate::reference::{self, COLLECTION_TYPE, DELIVERY_TYPE, PREMIUM, THIRD_PARTY_TYPE};
use crate::world::{Address, BookIn, Consignment, Contact, Network, Pallet, Principal, World};

/// A number that may also arrive as a numeric string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(pub(crate) f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Num, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim()
                    .parse::<f64>()
                    .map(Num)
                    .map_err(|_| E::custom(format!("The JSON value '{v}' could not be converted to a number.")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Num {
    /// The number as a non-negative whole id, if it is one.
    pub(crate) fn as_id(self) -> Option<u64> {
        (self.0 >= 0.0 && self.0.fract() == 0.0 && self.0 < 1e15).then_some(self.0 as u64)
    }
}

// The request types use lower-case names because keys are lower-cased before binding (see module docs).
#[derive(Debug, Default, Deserialize)]
struct CreateRequest {
    general: Option<GeneralIn>,
    #[serde(rename = "collectioninfo")]
    collection_info: Option<CollectionInfoIn>,
    #[serde(rename = "deliveryinfo")]
    delivery_info: Option<DeliveryInfoIn>,
    #[serde(rename = "collectionaddress")]
    collection_address: Option<AddressIn>,
    #[serde(rename = "deliveryaddress")]
    delivery_address: Option<AddressIn>,
    pallets: Option<Vec<PalletIn>>,
}

#[derive(Debug, Default, Deserialize)]
struct GeneralIn {
    #[serde(rename = "consignmenttypeid")]
    consignment_type_id: Option<Num>,
    #[serde(rename = "customerid")]
    customer_id: Option<Num>,
    #[serde(rename = "customerreference")]
    customer_reference: Option<String>,
    #[serde(rename = "consignmentnumber")]
    consignment_number: Option<String>,
    #[serde(rename = "descriptionofgoods")]
    description_of_goods: Option<String>,
    #[serde(rename = "limitedquantities")]
    limited_quantities: Option<bool>,
    #[serde(rename = "networkcode")]
    network_code: Option<String>,
    #[serde(rename = "requestingdepotcode")]
    requesting_depot_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CollectionInfoIn {
    #[serde(rename = "serviceid")]
    service_id: Option<Num>,
    contact: Option<String>,
    email: Option<String>,
    #[serde(rename = "duedate")]
    due_date: Option<String>,
    #[serde(rename = "timewindowcode")]
    time_window_code: Option<String>,
    extras: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct DeliveryInfoIn {
    #[serde(rename = "serviceid")]
    service_id: Option<Num>,
    #[serde(rename = "duedate")]
    due_date: Option<String>,
    contact: Option<String>,
    email: Option<String>,
    #[serde(rename = "timewindowcode")]
    time_window_code: Option<String>,
    #[serde(rename = "startwindow")]
    start_window: Option<String>,
    #[serde(rename = "endwindow")]
    end_window: Option<String>,
    #[serde(rename = "bookin")]
    book_in: Option<BookInIn>,
    extras: Option<Vec<String>>,
    instructions: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct BookInIn {
    #[serde(rename = "contactname")]
    contact_name: Option<String>,
    #[serde(rename = "contactphone")]
    contact_phone: Option<String>,
    reference: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
struct AddressIn {
    #[serde(rename = "countryid")]
    country_id: Option<Num>,
    name: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    town: Option<String>,
    county: Option<String>,
    postcode: Option<String>,
    telephone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PalletIn {
    #[serde(rename = "palletbaseid")]
    pallet_base_id: Option<Num>,
    #[serde(rename = "pallettypeid")]
    pallet_type_id: Option<Num>,
    length: Option<Num>,
    width: Option<Num>,
    height: Option<Num>,
    weight: Option<Num>,
    #[serde(rename = "limitedquantityweight")]
    limited_quantity_weight: Option<Num>,
    #[serde(rename = "donotstack")]
    do_not_stack: Option<bool>,
}

fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), lowercase_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// Parses a JSON request body the ASP.NET way: malformed JSON is `errors["$"]`, a wrong type is keyed
/// by its JSON path.
pub(crate) fn bind_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    bind_value(parse_json(body)?, "$")
}

/// The body as JSON with its property names lower-cased, or `errors["$"]`.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::field("$", format!("The request body is not valid JSON: {e}.")))?;
    Ok(lowercase_keys(value))
}

/// Binds an already lower-cased JSON value; type errors are keyed `{prefix}.{path}`.
pub(crate) fn bind_value<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { prefix.to_owned() } else { format!("{prefix}.{path}") };
        ApiError::field(key, e.inner().to_string())
    })
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn required_message(field: &str) -> String {
    format!("The {field} field is required.")
}

/// A validated address and the depot that serves it.
struct PlacedAddress {
    address: Address,
    depot: String,
    remote_area: Option<&'static postcode::PostcodeArea>,
}

/// Checks an address and finds the depot serving its postcode area on the network.
fn place_address(
    world: &World,
    errors: &mut FieldErrors,
    key: &str,
    input: &AddressIn,
    network: Option<Network>,
    collection: bool,
) -> Option<PlacedAddress> {
    let errors_before = errors.count();
    let country_id = match input.country_id {
        None => reference::UNITED_KINGDOM as u64,
        Some(n) => n.as_id().unwrap_or(0),
    };
    let country = reference::country(country_id as u32);
    match country {
        None => errors.add(format!("{key}.CountryID"), format!("Country {country_id} is not a known country id.")),
        Some(c) if c.id == reference::UNITED_KINGDOM => {}
        Some(c) if c.id == reference::IRELAND && !collection => {}
        Some(c) => errors.add(
            format!("{key}.CountryID"),
            if collection {
                format!("Collections are only made in the United Kingdom, not {}.", c.name)
            } else {
                format!("The networks do not deliver to {}; deliveries go to the United Kingdom or Ireland.", c.name)
            },
        ),
    }
    for (field, value) in [("Name", &input.name), ("Line1", &input.line1), ("Town", &input.town)] {
        if non_empty(value).is_none() {
            errors.add(format!("{key}.{field}"), required_message(field));
        }
    }
    let raw_postcode = non_empty(&input.postcode);
    let mut area_code = None;
    let mut remote_area = None;
    let mut formatted = raw_postcode.clone().unwrap_or_default();
    match (&raw_postcode, country.map(|c| c.id)) {
        (None, _) => errors.add(format!("{key}.Postcode"), required_message("Postcode")),
        (Some(raw), Some(reference::IRELAND)) => match postcode::parse_eircode(raw) {
            Some(eircode) => {
                formatted = eircode;
                area_code = Some("BT".to_owned());
            }
            None => errors.add(format!("{key}.Postcode"), format!("'{raw}' is not a valid Eircode.")),
        },
        (Some(raw), _) => match postcode::parse_uk_postcode(raw) {
            None => errors.add(format!("{key}.Postcode"), format!("'{raw}' is not a valid UK postcode.")),
            Some(parsed) => match postcode::find_area(&parsed.area) {
                None => {
                    errors.add(format!("{key}.Postcode"), format!("Postcode area '{}' does not exist.", parsed.area))
                }
                Some(area) => {
                    formatted = parsed.formatted;
                    remote_area = area.remote.then_some(area);
                    area_code = Some(area.code.to_owned());
                }
            },
        },
    }
    let mut depot = String::new();
    if let (Some(area), Some(network)) = (&area_code, network) {
        match world.depot_serving(network, area) {
            Some(d) => depot = d.code.clone(),
            None => errors
                .add(format!("{key}.Postcode"), format!("No {} depot serves postcode area {area}.", network.name())),
        }
    }
    if errors.count() != errors_before || depot.is_empty() {
        return None;
    }
    Some(PlacedAddress {
        address: Address {
            country_id: country_id as u32,
            name: non_empty(&input.name).unwrap_or_default(),
            line1: non_empty(&input.line1).unwrap_or_default(),
            line2: non_empty(&input.line2),
            town: non_empty(&input.town).unwrap_or_default(),
            county: non_empty(&input.county),
            postcode: formatted,
            telephone: non_empty(&input.telephone),
        },
        depot,
        remote_area,
    })
}

fn customer_address_input(address: &Address) -> AddressIn {
    AddressIn {
        country_id: Some(Num(f64::from(address.country_id))),
        name: Some(address.name.clone()),
        line1: Some(address.line1.clone()),
        line2: address.line2.clone(),
        town: Some(address.town.clone()),
        county: address.county.clone(),
        postcode: Some(address.postcode.clone()),
        telephone: address.telephone.clone(),
    }
}

fn check_extras(errors: &mut FieldErrors, key: &str, extras: &Option<Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, raw) in extras.iter().flatten().enumerate() {
        match reference::extra(raw) {
            Some(extra) => out.push(extra.code.to_owned()),
            None => {
                errors.add(format!("{key}.Extras[{i}]"), format!("'{raw}' is not an extra code (see GET /v1/extras)."))
            }
        }
    }
    out
}

/// Validates a create request and books it. Returns the new consignment's id.
pub(crate) fn book(world: &mut World, principal: &Principal, body: &[u8]) -> Result<u64, ApiError> {
    let request: CreateRequest = bind_json(body)?;
    let mut errors = FieldErrors::default();
    let now = world.now;
    let today = clock::today(now);

    // General: customer, network, requesting depot.
    let general = request.general.unwrap_or_else(|| {
        errors.add("General", required_message("General"));
        GeneralIn::default()
    });
    let type_id = match general.consignment_type_id {
        None => u64::from(DELIVERY_TYPE),
        Some(n) => n.as_id().unwrap_or(0),
    };
    if !reference::CONSIGNMENT_TYPES.iter().any(|t| u64::from(t.id) == type_id) {
        errors.add("General.ConsignmentTypeID", format!("Consignment type {type_id} does not exist (1, 2 or 3)."));
    }
    let requested_network = match non_empty(&general.network_code) {
        None => None,
        Some(code) => match Network::parse(&code) {
            Some(network) => Some(network),
            None => {
                errors.add("General.NetworkCode", format!("'{code}' is not a network; use PALLEX or FORTEC."));
                None
            }
        },
    };
    let mut customer = None;
    match general.customer_id {
        None => errors.add("General.CustomerID", required_message("CustomerID")),
        Some(n) => {
            let id = n.as_id().unwrap_or(0);
            match world.customers.get(&id).filter(|c| world.can_book_for(principal, c)) {
                None => errors.add("General.CustomerID", format!("Customer {id} is not available to this user.")),
                Some(found) => match requested_network {
                    Some(network) if network != found.network => errors.add(
                        "General.CustomerID",
                        format!(
                            "Customer {id} is a {} customer, not {}; use the customer's {} ID.",
                            found.network.name(),
                            network.name(),
                            network.name()
                        ),
                    ),
                    _ => customer = Some(found.clone()),
                },
            }
        }
    }
    let network = customer.as_ref().map(|c| c.network);
    let mut requesting_depot = customer.as_ref().map(|c| c.depot_code.clone()).unwrap_or_default();
    if let Some(code) = non_empty(&general.requesting_depot_code) {
        let own = principal.depot().map(str::to_owned).unwrap_or_else(|| requesting_depot.clone());
        if !code.eq_ignore_ascii_case(&own) {
            errors.add(
                "General.RequestingDepotCode",
                format!("This user books as depot {own} and cannot book as {}.", code.to_ascii_uppercase()),
            );
        }
    }
    if let Some(depot) = principal.depot() {
        requesting_depot = depot.to_owned();
    }
    let consignment_number = non_empty(&general.consignment_number);
    if consignment_number.as_ref().is_some_and(|n| n.chars().count() > 35) {
        errors.add("General.ConsignmentNumber", "The consignment number can be at most 35 characters.");
    }
    let customer_reference = non_empty(&general.customer_reference);
    if customer_reference.as_ref().is_some_and(|n| n.chars().count() > 35) {
        errors.add("General.CustomerReference", "The customer reference can be at most 35 characters.");
    }

    // Collection date and the 12:00 cut-off.
    let collection_info = request.collection_info.unwrap_or_default();
    if let Some(n) = collection_info.service_id {
        let id = n.as_id().unwrap_or(0) as u32;
        if reference::service(id).is_none() {
            errors.add("CollectionInfo.ServiceID", format!("Service {id} does not exist (see GET /v1/services)."));
        }
    }
    let before_cut_off = clock::civil(now).hour() < 12;
    let default_collection =
        if calendar::is_working_day(today) && before_cut_off { today } else { calendar::next_working_day(today) };
    let collection_date = match non_empty(&collection_info.due_date) {
        None => Some(default_collection),
        Some(raw) => match clock::parse_date(&raw) {
            None => {
                errors.add("CollectionInfo.DueDate", format!("'{raw}' is not a date in the format yyyy-MM-dd."));
                None
            }
            Some(date) if date < today => {
                errors.add("CollectionInfo.DueDate", format!("The collection date {date} is in the past."));
                None
            }
            Some(date) if !calendar::is_working_day(date) => {
                errors.add(
                    "CollectionInfo.DueDate",
                    format!(
                        "{date} is not a working day (weekend or bank holiday); the next working day is {}.",
                        calendar::next_working_day(date)
                    ),
                );
                None
            }
            Some(date) if date == today && !before_cut_off => {
                errors.add(
                    "CollectionInfo.DueDate",
                    format!(
                        "The 12:00 cut-off for collection today has passed; book the collection for {} (the next working day).",
                        calendar::next_working_day(today)
                    ),
                );
                None
            }
            Some(date) => Some(date),
        },
    };
    if let Some(code) = non_empty(&collection_info.time_window_code)
        && reference::time_window(&code).is_none()
    {
        errors.add("CollectionInfo.TimeWindowCode", format!("'{code}' is not a time window (AM, TD or BI)."));
    }
    let collection_extras = check_extras(&mut errors, "CollectionInfo", &collection_info.extras);

    // Delivery service, date, window, book-in, extras.
    let delivery_info = request.delivery_info.unwrap_or_else(|| {
        errors.add("DeliveryInfo", required_message("DeliveryInfo"));
        DeliveryInfoIn::default()
    });
    let service = match delivery_info.service_id {
        None => {
            errors.add("DeliveryInfo.ServiceID", required_message("ServiceID"));
            None
        }
        Some(n) => {
            let id = n.as_id().unwrap_or(0) as u32;
            let found = reference::service(id);
            if found.is_none() {
                errors.add("DeliveryInfo.ServiceID", format!("Service {id} does not exist (see GET /v1/services)."));
            }
            found
        }
    };
    let delivery_extras = check_extras(&mut errors, "DeliveryInfo", &delivery_info.extras);
    let saturday = delivery_extras.iter().any(|e| e == "SAT");
    let requested_due = non_empty(&delivery_info.due_date);
    let parsed_due = match &requested_due {
        None => None,
        Some(raw) => match clock::parse_date(raw) {
            None => {
                errors.add("DeliveryInfo.DueDate", format!("'{raw}' is not a date in the format yyyy-MM-dd."));
                None
            }
            Some(date) => Some(date),
        },
    };
    let mut delivery_date = None;
    if let (Some(service), Some(collection)) = (service, collection_date) {
        match service.lead_working_days {
            Some(days) => {
                let date = calendar::add_working_days(collection, days);
                match parsed_due {
                    Some(due) if due != date => errors.add(
                        "DeliveryInfo.DueDate",
                        format!(
                            "Service {} ({}) delivers on {date}, {} working day(s) after collection on {collection}; \
                             leave dueDate out or use service SD (3) for a specific day.",
                            service.code, service.name, days
                        ),
                    ),
                    _ => delivery_date = Some(date),
                }
            }
            None => {
                let earliest = calendar::next_working_day(collection);
                match (requested_due.as_ref(), parsed_due) {
                    (None, _) => errors.add("DeliveryInfo.DueDate", "A due date is required for service SD."),
                    (Some(_), None) => {}
                    (Some(_), Some(due)) if due < earliest => errors.add(
                        "DeliveryInfo.DueDate",
                        format!("The earliest delivery date for a collection on {collection} is {earliest}."),
                    ),
                    (Some(_), Some(due)) if saturday && due.weekday() == jiff::civil::Weekday::Saturday => {
                        delivery_date = Some(due);
                    }
                    (Some(_), Some(due)) if !calendar::is_working_day(due) => errors.add(
                        "DeliveryInfo.DueDate",
                        format!(
                            "{due} is not a working day (weekend or bank holiday); the next working day is {}.",
                            calendar::next_working_day(due)
                        ),
                    ),
                    (Some(_), Some(due)) => delivery_date = Some(due),
                }
            }
        }
    }
    if saturday && delivery_date.is_some_and(|d| d.weekday() != jiff::civil::Weekday::Saturday) {
        let index = delivery_extras.iter().position(|e| e == "SAT").unwrap_or(0);
        errors.add(
            format!("DeliveryInfo.Extras[{index}]"),
            "SAT (Saturday) needs service SD (3) with a Saturday due date.",
        );
    }
    let mut time_window = None;
    let mut start_window = None;
    let mut end_window = None;
    if let Some(code) = non_empty(&delivery_info.time_window_code) {
        match reference::time_window(&code) {
            None => errors.add("DeliveryInfo.TimeWindowCode", format!("'{code}' is not a time window (AM, TD or BI).")),
            Some(window) => time_window = Some(window.code),
        }
    }
    match time_window {
        Some("AM") => {
            start_window = clock::parse_time("08:00");
            end_window = clock::parse_time("12:00");
        }
        Some("TD") => {
            let parse = |errors: &mut FieldErrors, key: &str, raw: &Option<String>| match non_empty(raw) {
                None => {
                    errors.add(key, "A timed delivery (TD) needs a startWindow and an endWindow (HH:mm).");
                    None
                }
                Some(raw) => {
                    let parsed = clock::parse_time(&raw);
                    if parsed.is_none() {
                        errors.add(key, format!("'{raw}' is not a time in the format HH:mm."));
                    }
                    parsed
                }
            };
            start_window = parse(&mut errors, "DeliveryInfo.StartWindow", &delivery_info.start_window);
            end_window = parse(&mut errors, "DeliveryInfo.EndWindow", &delivery_info.end_window);
            if let (Some(start), Some(end)) = (start_window, end_window) {
                let (from, to) =
                    (start.hour() as i32 * 60 + start.minute() as i32, end.hour() as i32 * 60 + end.minute() as i32);
                if from < 8 * 60 {
                    errors.add("DeliveryInfo.StartWindow", "A timed window cannot start before 08:00.");
                }
                if to > 17 * 60 {
                    errors.add("DeliveryInfo.EndWindow", "A timed window must end by 17:00.");
                }
                if to <= from {
                    errors.add("DeliveryInfo.EndWindow", "The window must end after it starts.");
                } else if to - from > 4 * 60 {
                    errors.add("DeliveryInfo.EndWindow", "A timed window can be at most 4 hours long.");
                }
            }
        }
        _ => {}
    }
    let mut book_in = None;
    if time_window == Some("BI") {
        let input = delivery_info.book_in.unwrap_or_default();
        let name = non_empty(&input.contact_name);
        let phone = non_empty(&input.contact_phone);
        if name.is_none() {
            errors.add(
                "DeliveryInfo.BookIn.ContactName",
                "A book-in (BI) delivery needs the contact name to book in with.",
            );
        }
        if phone.is_none() {
            errors.add("DeliveryInfo.BookIn.ContactPhone", "A book-in (BI) delivery needs the contact's phone number.");
        }
        book_in = Some(BookIn {
            contact_name: name.unwrap_or_default(),
            contact_phone: phone.unwrap_or_default(),
            reference: non_empty(&input.reference),
            notes: non_empty(&input.notes),
        });
    }

    // Addresses and the depots that serve them.
    let customer_address = customer.as_ref().map(|c| customer_address_input(&c.address));
    let (collection_input, delivery_input) = match type_id as u32 {
        COLLECTION_TYPE => (request.collection_address.clone(), request.delivery_address.clone().or(customer_address)),
        THIRD_PARTY_TYPE => (request.collection_address.clone(), request.delivery_address.clone()),
        _ => (request.collection_address.clone().or(customer_address), request.delivery_address.clone()),
    };
    let collection = match &collection_input {
        None => {
            if type_id as u32 == COLLECTION_TYPE || type_id as u32 == THIRD_PARTY_TYPE {
                errors.add("CollectionAddress", "A collection or third-party consignment needs a collection address.");
            }
            None
        }
        Some(input) => place_address(world, &mut errors, "CollectionAddress", input, network, true),
    };
    let delivery = match &delivery_input {
        None => {
            errors.add("DeliveryAddress", required_message("DeliveryAddress"));
            None
        }
        Some(input) => place_address(world, &mut errors, "DeliveryAddress", input, network, false),
    };
    if let (Some(service), Some(placed)) = (service, &delivery)
        && service.id == PREMIUM
        && let Some(area) = placed.remote_area
    {
        errors.add(
            "DeliveryInfo.ServiceID",
            format!(
                "Premium (Next Day) is not available to postcode area {} ({}); use Economy (2) or Specific Day (3).",
                area.code, area.name
            ),
        );
    }

    // Pallets.
    let pallets_in = request.pallets.unwrap_or_default();
    if pallets_in.is_empty() {
        errors.add("Pallets", "At least one pallet is required.");
    } else if pallets_in.len() > 26 {
        errors.add("Pallets", format!("{} pallets were sent; at most 26 fit one consignment.", pallets_in.len()));
    }
    let mut pallets = Vec::new();
    let mut spaces = 0.0;
    for (i, input) in pallets_in.iter().enumerate() {
        let key = |field: &str| format!("Pallets[{i}].{field}");
        let pallet_type = match input.pallet_type_id {
            None => {
                errors.add(key("PalletTypeID"), required_message("PalletTypeID"));
                None
            }
            Some(n) => {
                let id = n.as_id().unwrap_or(0) as u32;
                let found = reference::pallet_type_by_id(id);
                if found.is_none() {
                    errors.add(
                        key("PalletTypeID"),
                        format!("Pallet type {id} does not exist (see GET /v1/palletTypes)."),
                    );
                }
                found
            }
        };
        let base_id = input.pallet_base_id.map_or(1, |n| n.as_id().unwrap_or(0) as u32);
        if !reference::PALLET_BASES.iter().any(|b| b.id == base_id) {
            errors.add(key("PalletBaseID"), format!("Pallet base {base_id} does not exist (see GET /v1/palletBases)."));
        }
        let weight = input.weight.map(|n| n.0);
        let height = input.height.map(|n| n.0);
        match weight {
            None => errors.add(key("Weight"), required_message("Weight")),
            Some(w) if w <= 0.0 => errors.add(key("Weight"), "The weight must be more than 0 kg."),
            Some(w) => {
                if let Some(t) = pallet_type
                    && w > t.max_weight_kg
                {
                    errors.add(
                        key("Weight"),
                        format!(
                            "Weight {w}kg exceeds the maximum of {}kg for pallet type {}.",
                            t.max_weight_kg, t.name
                        ),
                    );
                }
            }
        }
        match height {
            None => errors.add(key("Height"), required_message("Height")),
            Some(h) if h <= 0.0 => errors.add(key("Height"), "The height must be more than 0 cm."),
            Some(h) => {
                if let Some(t) = pallet_type
                    && h > t.max_height_cm
                {
                    errors.add(
                        key("Height"),
                        format!(
                            "Height {h}cm exceeds the maximum of {}cm for pallet type {}.",
                            t.max_height_cm, t.name
                        ),
                    );
                }
            }
        }
        let (default_length, default_width) = if base_id == 2 { (120.0, 80.0) } else { (120.0, 100.0) };
        let length = input.length.map_or(default_length, |n| n.0);
        let width = input.width.map_or(default_width, |n| n.0);
        for (field, value) in [("Length", length), ("Width", width)] {
            if !(1.0..=400.0).contains(&value) {
                errors.add(key(field), format!("The {} must be between 1 and 400 cm.", field.to_ascii_lowercase()));
            }
        }
        let limited = input.limited_quantity_weight.map_or(0.0, |n| n.0);
        if limited < 0.0 || weight.is_some_and(|w| limited > w) {
            errors.add(
                key("LimitedQuantityWeight"),
                "The limited-quantity weight must be between 0 and the pallet weight.",
            );
        }
        spaces += pallet_type.map_or(0.0, |t| t.pallet_spaces);
        pallets.push((
            pallet_type.map_or(0, |t| t.id),
            base_id,
            length,
            width,
            height,
            weight,
            limited,
            input.do_not_stack,
        ));
    }
    if spaces > reference::MAX_PALLET_SPACES && pallets_in.len() <= 26 {
        errors.add("Pallets", format!("The pallets take {spaces} pallet spaces; at most 26 fit one consignment."));
    }

    errors.into_result()?;
    let (Some(customer), Some(collection), Some(delivery), Some(service), Some(collection_date), Some(delivery_date)) =
        (customer, collection, delivery, service, collection_date, delivery_date)
    else {
        return Err(FieldErrors::default().into_error());
    };

    if let Some(number) = &consignment_number
        && let Some(existing) =
            world.consignments.values().find(|c| c.customer_id == customer.id && c.number.eq_ignore_ascii_case(number))
    {
        let mut error = ApiError::conflict(
            "A consignment with this number already exists.",
            format!(
                "Customer {} already has consignment {} with the number {number}; consignment numbers are unique per customer.",
                customer.id, existing.id
            ),
        );
        error.errors.insert("General.ConsignmentNumber".to_owned(), vec![format!("{number} is already used.")]);
        return Err(error);
    }

    let id = world.next_consignment_id;
    world.next_consignment_id += 1;
    let mut built_pallets = Vec::new();
    for (type_id, base_id, length, width, height, weight, limited, do_not_stack) in pallets {
        let pallet_id = world.next_pallet_id;
        world.next_pallet_id += 1;
        built_pallets.push(Pallet {
            id: pallet_id,
            barcode: world.allocate_barcode(&collection.depot, id),
            type_id,
            base_id,
            length,
            width,
            height: height.unwrap_or_default(),
            weight: weight.unwrap_or_default(),
            limited_quantity_weight: limited,
            do_not_stack: do_not_stack.unwrap_or(false),
            stage: None,
            last_event_code: None,
            last_scan_at: None,
            attempt: 0,
        });
    }
    let consignment = Consignment {
        id,
        number: consignment_number.unwrap_or_else(|| format!("NX{id:07}")),
        customer_reference,
        customer_id: customer.id,
        network: customer.network,
        type_id: type_id as u32,
        requesting_depot,
        collecting_depot: collection.depot,
        delivery_depot: delivery.depot,
        service_id: service.id,
        time_window,
        start_window,
        end_window,
        book_in,
        collection_extras,
        delivery_extras,
        instructions: non_empty(&delivery_info.instructions),
        description_of_goods: non_empty(&general.description_of_goods),
        limited_quantities: general.limited_quantities.unwrap_or(false),
        collection_contact: Contact {
            contact: non_empty(&collection_info.contact),
            email: non_empty(&collection_info.email),
        },
        delivery_contact: Contact {
            contact: non_empty(&delivery_info.contact),
            email: non_empty(&delivery_info.email),
        },
        collection_address: collection.address,
        delivery_address: delivery.address,
        planned_collection_date: collection_date,
        collected_at: None,
        estimated_del_date: delivery_date,
        estimated_del_time: None,
        delivered_at: None,
        pallets: built_pallets,
        events: Vec::new(),
        attachment_ids: Vec::new(),
        created_at: now,
        manifested_at: None,
        last_updated: now,
        cancelled: false,
        attempt: 0,
        outcome_override: None,
        late_pod_due: None,
        booked_by: principal.username.clone(),
    };
    world.consignments.insert(id, consignment);
    Ok(id)
}
