//! The Qargo order of an inbound Nexus consignment: the one place where a Nexus read model
//! (`nexus::wire::Consignment`) becomes a Qargo `OrderInput` for the order import.
//!
//! What a planner gets, and where it comes from:
//!
//! | Qargo | Nexus |
//! |---|---|
//! | `order_identifier` `NEXUS-<network>-<consignmentID>` | network + `consignmentID` (Qargo de-duplicates on it) |
//! | order `custom_fields.NexusOrigin` `<network>:<consignmentID>` | the "Nexus origin" additional field |
//! | `customer {code}` | `customerID` through `BRIDGE_CUSTOMER_MAP` |
//! | `service_level {code}` | `service` (`A`, `B`, `SD`) |
//! | `customer_reference_number` | `customerReference` (else `consignmentNumber`) |
//! | consignment `consignment_reference_number` | `consignmentNumber` |
//! | consignment `transport_network` | `requestingDepotCode`, `collectingDepotCode`, `deliveryDepotCode`, as received |
//! | consignment `custom_fields` | `NexusNetwork`, `NexusConsignmentID`, `NexusConsignmentNumber`, `NexusCustomerID` |
//! | pickup stop | `colAddress…`, `colDate`, reference `NEXUS-<network>-<id>-P`; without a collection address (the seen read model has none), the delivering depot: `location_identifier` = its code |
//! | delivery stop | `delAddress…`, `estimatedDelDate`, `timeWindow` (+ `startWindow`/`endWindow` for `TD`), `extras`, reference `NEXUS-<network>-<id>-D` |
//! | goods | one line per kind of pallet: type and base, dimensions (cm → m), weights, spaces, one handling unit per 16-digit barcode; without `pallets`, one line of `palletCount` (or the route details' `palletCount`) pallets |
//!
//! The stop references are derived, never stored: a later job (status sync) finds the stop with
//! `stop.match` on `reference_number` alone, which matches exactly one stop.
//!
//! Left out on purpose: status, scans and the ETA fields (`estimatedDelTime`; the window unless the
//! booking is timed). They change all day long and are not part of the booking, so leaving them out
//! keeps the order's fingerprint still while a consignment only moves through the network; status
//! reaches Qargo through the status sync.
//!
//! The read model our Nexus client parses has no address names, second lines, counties, country
//! ids, contacts, book-in details, delivery instructions or goods descriptions (the simulator
//! serves them as `delAddressName`, `delContact`, `bookIn`, …); stops therefore carry street, town
//! and postcode, and the country is `GB`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::wire::{
    BarcodeInput, ConsignmentInput, ConsignmentTransportNetwork, EntityRef, GoodInput, HandlingUnitInput,
    LocationInput, OrderInput, PackagingTypeInput, StopExtraInput, StopInput, TimeWindowInput,
};
use crate::config::{CustomerMap, DepotAddress};
use crate::domain::{Extra, Network, NexusConsignmentId, PalletBase, PalletType, ServiceLevel, TimeWindowCode};
use crate::nexus::wire::{Consignment, Pallet};
use crate::rules::status_effects::StopKind;

/// The order additional field that says where an imported order came from (`PALLEX:10020`).
pub const ORIGIN_FIELD: &str = "NexusOrigin";

/// The `order_identifier` of the consignment `id` on `network`: `NEXUS-PALLEX-10020`.
pub fn order_identifier(network: Network, id: NexusConsignmentId) -> String {
    format!("NEXUS-{network}-{id}")
}

/// The value of the "Nexus origin" field: `PALLEX:10020`.
pub fn origin(network: Network, id: NexusConsignmentId) -> String {
    format!("{network}:{id}")
}

/// The reference of one stop of an imported order: `NEXUS-PALLEX-10020-P` / `-D`.
pub fn stop_reference(network: Network, id: NexusConsignmentId, kind: StopKind) -> String {
    let suffix = match kind {
        StopKind::Pickup => "P",
        StopKind::Delivery => "D",
    };
    format!("{}-{suffix}", order_identifier(network, id))
}

/// Why a consignment cannot become a Qargo order; each says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The consignment's customer is not in `BRIDGE_CUSTOMER_MAP`.
    #[error(
        "Nexus customer {nexus_customer_id} has no Qargo customer: add {nexus_customer_id}:<Qargo customer code> to BRIDGE_CUSTOMER_MAP"
    )]
    UnmappedCustomer {
        /// The Nexus `customerID`.
        nexus_customer_id: i64,
    },
    /// Nexus sent no `customerID`.
    #[error("consignment {consignment_number} has no customerID on Nexus, so its Qargo customer is unknown")]
    NoCustomer {
        /// Nexus's number of the consignment.
        consignment_number: String,
    },
    /// An address part Qargo requires is empty.
    #[error("consignment {consignment_number} has no {field} on Nexus; Qargo needs it on the {stop} stop")]
    MissingAddress {
        /// Nexus's number of the consignment.
        consignment_number: String,
        /// The Nexus field.
        field: &'static str,
        /// `pickup` or `delivery`.
        stop: &'static str,
    },
    /// No collection address on Nexus, and no address of the delivering depot to collect at.
    #[error(
        "consignment {consignment_number} has no collection address on Nexus, so Qargo's pickup is depot {depot}, \
         whose address is not set: add it to BRIDGE_DEPOT_ADDRESSES, e.g. {depot}=Unit 4 Randall Way|Retford|DN22 7GR"
    )]
    NoDepotAddress {
        /// Nexus's number of the consignment.
        consignment_number: String,
        /// The delivering depot.
        depot: String,
    },
    /// Neither a collection date nor a creation date.
    #[error("consignment {consignment_number} has no collection date on Nexus; Qargo needs a pickup date")]
    NoPickupDate {
        /// Nexus's number of the consignment.
        consignment_number: String,
    },
}

/// The Qargo customer of `consignment`, by its Nexus `customerID`.
pub fn customer_of(consignment: &Consignment, customers: &CustomerMap) -> Result<EntityRef, MappingError> {
    let id = consignment
        .customer_id
        .ok_or_else(|| MappingError::NoCustomer { consignment_number: consignment.consignment_number.clone() })?;
    customer_by_id(id, customers)
}

/// The Qargo customer of Nexus customer `nexus_customer_id`.
pub fn customer_by_id(nexus_customer_id: i64, customers: &CustomerMap) -> Result<EntityRef, MappingError> {
    customers
        .qargo_customer(nexus_customer_id)
        .map(EntityRef::code)
        .ok_or(MappingError::UnmappedCustomer { nexus_customer_id })
}

/// The order for `consignment` on `network`, without `operation` and without `customer` (see
/// [`customer_of`]): everything the booking says, nothing that moves with its progress. Without a
/// collection address on Nexus the order is collected at the delivering depot, at `depot_address`.
pub fn order_content(
    consignment: &Consignment,
    network: Network,
    depot_address: Option<&DepotAddress>,
) -> Result<OrderInput, MappingError> {
    let c = consignment;
    let id = NexusConsignmentId(c.consignment_id);
    let number = c.consignment_number.clone();
    let missing = |field: &'static str, stop: &'static str| MappingError::MissingAddress {
        consignment_number: number.clone(),
        field,
        stop,
    };
    let no_collection_address =
        c.col_address_line1.is_none() && c.col_address_town.is_none() && c.col_address_postcode.is_none();
    let pickup_location = match c.delivery_depot_code.as_deref().map(str::trim) {
        // The goods reach the delivering depot through the network: the order is collected there.
        Some(depot) if no_collection_address => {
            let address = depot_address.ok_or_else(|| MappingError::NoDepotAddress {
                consignment_number: number.clone(),
                depot: depot.to_owned(),
            })?;
            LocationInput {
                location_identifier: Some(depot.to_owned()),
                name: Some(format!("Depot {depot}")),
                ..location(&address.line1, &address.town, &address.postcode)
            }
        }
        _ => location(
            c.col_address_line1.as_deref().ok_or_else(|| missing("colAddressLine1", "pickup"))?,
            c.col_address_town.as_deref().ok_or_else(|| missing("colAddressTown", "pickup"))?,
            c.col_address_postcode.as_deref().ok_or_else(|| missing("colAddressPostcode", "pickup"))?,
        ),
    };
    let delivery_location = location(
        c.del_address_line1.as_deref().ok_or_else(|| missing("delAddressLine1", "delivery"))?,
        c.del_address_town.as_deref().ok_or_else(|| missing("delAddressTown", "delivery"))?,
        c.del_address_postcode.as_deref().ok_or_else(|| missing("delAddressPostcode", "delivery"))?,
    );
    let pickup_date = c
        .col_date
        .or(c.created_date.map(|created| created.date()))
        .ok_or_else(|| MappingError::NoPickupDate { consignment_number: number.clone() })?;

    let pickup_stop = StopInput {
        location: pickup_location,
        date: Some(pickup_date),
        reference_number: Some(stop_reference(network, id, StopKind::Pickup)),
        ..StopInput::default()
    };
    let delivery_stop = StopInput {
        location: delivery_location,
        date: c.estimated_del_date,
        time_window: time_window(c),
        reference_number: Some(stop_reference(network, id, StopKind::Delivery)),
        extras: c.extras.iter().map(|code| extra(code)).collect(),
        ..StopInput::default()
    };

    let mut consignment_fields = Map::new();
    consignment_fields.insert("NexusNetwork".into(), Value::from(network.code()));
    consignment_fields.insert("NexusConsignmentID".into(), Value::from(id.to_string()));
    consignment_fields.insert("NexusConsignmentNumber".into(), Value::from(number.clone()));
    if let Some(customer) = c.customer_id {
        consignment_fields.insert("NexusCustomerID".into(), Value::from(customer.to_string()));
    }
    let mut order_fields = Map::new();
    order_fields.insert(ORIGIN_FIELD.into(), Value::from(origin(network, id)));

    Ok(OrderInput {
        operation: None,
        order_identifier: order_identifier(network, id),
        customer: None,
        service_level: service_level(c),
        customer_reference_number: Some(
            c.customer_reference.clone().filter(|r| !r.trim().is_empty()).unwrap_or_else(|| number.clone()),
        ),
        planning_instructions: None,
        custom_fields: order_fields,
        order_status: None,
        consignments: vec![ConsignmentInput {
            consignment_reference_number: Some(number),
            planning_instructions: None,
            custom_fields: consignment_fields,
            transport_network: Some(ConsignmentTransportNetwork {
                requesting_depot_code: c.requesting_depot_code.clone(),
                collection_depot_code: c.collecting_depot_code.clone(),
                delivery_depot_code: c.delivery_depot_code.clone(),
            }),
            pickup_stop,
            delivery_stop,
            goods: if c.pallets.is_empty() { counted_goods(c) } else { goods(&c.pallets, network) },
        }],
    })
}

/// A short fingerprint of what an order says (its `operation` aside): equal fingerprints, nothing
/// for Qargo to update.
pub fn fingerprint(order: &OrderInput) -> String {
    let content = OrderInput { operation: None, ..order.clone() };
    // serde_json's maps are ordered, so equal orders give equal bytes.
    let bytes = serde_json::to_vec(&content).expect("an order serialises");
    hex::encode(&Sha256::digest(&bytes)[..8])
}

fn location(line1: &str, town: &str, postcode: &str) -> LocationInput {
    LocationInput {
        address: Some(line1.trim().to_owned()),
        city: Some(town.trim().to_owned()),
        postal_code: Some(postcode.trim().to_owned()),
        country: Some("GB".into()),
        ..LocationInput::default()
    }
}

fn service_level(c: &Consignment) -> Option<EntityRef> {
    let service = c.service.as_ref()?;
    let level = service
        .code
        .as_deref()
        .and_then(|code| code.parse::<ServiceLevel>().ok())
        .or_else(|| ServiceLevel::from_nexus_service_id(service.id));
    let name = |level: ServiceLevel| match level {
        ServiceLevel::Premium => "Premium (next day)",
        ServiceLevel::Economy => "Economy (2 days)",
        ServiceLevel::SpecificDay => "Specific day",
    };
    match level {
        Some(level) => Some(EntityRef { code: Some(level.code().into()), name: Some(name(level).into()) }),
        None => service.code.clone().map(EntityRef::code),
    }
}

/// `HH:mm`, or nothing when Nexus sent something else.
fn hh_mm(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    let short = text.get(..5).unwrap_or(text);
    jiff::civil::Time::strptime("%H:%M", short).ok().map(|_| short.to_owned())
}

fn time_window(c: &Consignment) -> Option<TimeWindowInput> {
    let raw = c.time_window.as_ref()?.code.trim().to_owned();
    if raw.is_empty() {
        return None;
    }
    Some(match raw.parse::<TimeWindowCode>() {
        // The booked slot. Other windows on the read model are estimates that move with the ETA.
        Ok(TimeWindowCode::Timed) => TimeWindowInput {
            code: Some(TimeWindowCode::Timed.code().into()),
            start_time: hh_mm(c.start_window.as_deref()),
            end_time: hh_mm(c.end_window.as_deref()),
            is_enforced: Some(true),
        },
        Ok(TimeWindowCode::Am) => TimeWindowInput {
            code: Some(TimeWindowCode::Am.code().into()),
            end_time: Some("12:00".into()),
            ..TimeWindowInput::default()
        },
        Ok(code) => TimeWindowInput { code: Some(code.code().into()), ..TimeWindowInput::default() },
        Err(_) => TimeWindowInput { code: Some(raw), ..TimeWindowInput::default() },
    })
}

fn extra(code: &str) -> StopExtraInput {
    match code.parse::<Extra>() {
        Ok(extra) => {
            let name = match extra {
                Extra::TailLift => "Tail-lift",
                Extra::Handball => "Handball (hand unload)",
                Extra::PaperPod => "Paper POD required",
                Extra::RestrictedAccess => "Restricted access",
                Extra::Residential => "Residential",
                Extra::Saturday => "Saturday",
            };
            StopExtraInput { code: extra.code().into(), name: Some(name.into()) }
        }
        // Kept as received: the planner sees it even if this version does not know it.
        Err(_) => StopExtraInput { code: code.trim().to_owned(), name: None },
    }
}

fn pallet_type_name(kind: PalletType) -> &'static str {
    match kind {
        PalletType::MiniQuarter => "Mini quarter pallet",
        PalletType::Quarter => "Quarter pallet",
        PalletType::Half => "Half pallet",
        PalletType::Light => "Light pallet",
        PalletType::Euro => "Euro pallet",
        PalletType::Oversize => "Oversize pallet",
        PalletType::Full => "Full pallet",
    }
}

/// One goods line per kind of pallet (type, base, size and weight), in the order Nexus lists them.
fn goods(pallets: &[Pallet], network: Network) -> Vec<GoodInput> {
    type Kind = (Option<u32>, Option<u32>, [Option<u64>; 4]);
    let kind_of = |p: &Pallet| -> Kind {
        let bits = |v: Option<f64>| v.map(f64::to_bits);
        (p.pallet_type_id, p.pallet_base_id, [bits(p.length), bits(p.width), bits(p.height), bits(p.weight)])
    };
    let mut order: Vec<Kind> = Vec::new();
    let mut groups: BTreeMap<Kind, Vec<&Pallet>> = BTreeMap::new();
    for pallet in pallets {
        let kind = kind_of(pallet);
        if !groups.contains_key(&kind) {
            order.push(kind);
        }
        groups.entry(kind).or_default().push(pallet);
    }
    order
        .into_iter()
        .map(|kind| {
            let members = &groups[&kind];
            let first = members[0];
            let quantity = members.len() as u32;
            let pallet_type = first.pallet_type_id.and_then(PalletType::from_nexus_id);
            let base =
                first.pallet_base_id.and_then(|id| PalletBase::ALL.iter().copied().find(|base| base.nexus_id() == id));
            let metres = |cm: Option<f64>| cm.map(|cm| cm / 100.0);
            GoodInput {
                description: Some(pallet_type.map_or("Pallet", pallet_type_name).into()),
                quantity,
                packaging_type: Some(PackagingTypeInput {
                    code: pallet_type.map(|t| t.code().to_owned()),
                    name: pallet_type.map(|t| pallet_type_name(t).to_owned()),
                    packaging_size: base.map(|b| EntityRef::code(b.code())),
                }),
                total_weight_kg: first.weight.map(|kg| kg * f64::from(quantity)),
                total_pallet_spaces: pallet_type.map(|t| t.spaces() * f64::from(quantity)),
                unit_length_m: metres(first.length),
                unit_width_m: metres(first.width),
                unit_height_m: metres(first.height),
                unit_weight_kg: first.weight,
                handling_units: members
                    .iter()
                    .map(|p| HandlingUnitInput {
                        barcode: BarcodeInput {
                            value: p.barcode.trim().to_owned(),
                            source: Some(super::wire::barcode_source(network).into()),
                        },
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Without a `pallets` list: one line of as many pallets as Nexus counts (`palletCount`, else the
/// route details' largest `palletCount`); none when it counts none.
fn counted_goods(c: &Consignment) -> Vec<GoodInput> {
    let routed = c.route_details.iter().filter_map(|route| route.pallet_count).max();
    match c.pallet_count.or(routed) {
        Some(quantity) if quantity > 0 => {
            vec![GoodInput { description: Some("Pallet".into()), quantity, ..GoodInput::default() }]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consignment() -> Consignment {
        serde_json::from_value(serde_json::json!({
            "consignmentID": 10020, "consignmentNumber": "TK-90001", "customerReference": "PO-1",
            "customerID": 52011, "network": {"code": "PALLEX"}, "status": {"id": 10, "name": "Booked"},
            "requestingDepotCode": "UKD101", "collectingDepotCode": "UKD101", "deliveryDepotCode": "PGD302",
            "service": {"id": 1, "code": "A"}, "timeWindow": {"code": "TD"}, "extras": ["TL", "XYZ"],
            "colDate": "2026-06-17", "estimatedDelDate": "2026-06-18", "estimatedDelTime": "10:30",
            "startWindow": "13:00", "endWindow": "16:00",
            "delAddressLine1": "1 Mill Lane", "delAddressTown": "Retford", "delAddressPostcode": "DN22 6AA",
            "colAddressLine1": "5 Dock Road", "colAddressTown": "Dartford", "colAddressPostcode": "DA1 5BS",
            "pallets": [
                {"palletID": 1, "barcode": "1010100000000001", "palletTypeID": 7, "palletBaseID": 1,
                 "length": 120, "width": 100, "height": 150, "weight": 400},
                {"palletID": 2, "barcode": "1010100000000002", "palletTypeID": 5, "palletBaseID": 2,
                 "length": 120, "width": 80, "height": 100, "weight": 200},
                {"palletID": 3, "barcode": "1010100000000003", "palletTypeID": 7, "palletBaseID": 1,
                 "length": 120, "width": 100, "height": 150, "weight": 400}
            ],
            "lastUpdated": "2026-06-17T09:00:00"
        }))
        .unwrap()
    }

    #[test]
    fn maps_stops_goods_references_and_origin() {
        let order = order_content(&consignment(), Network::Pallex, None).unwrap();
        assert_eq!(order.order_identifier, "NEXUS-PALLEX-10020");
        assert_eq!(order.custom_fields[ORIGIN_FIELD], "PALLEX:10020");
        assert_eq!(order.customer_reference_number.as_deref(), Some("PO-1"));
        assert_eq!(order.service_level.as_ref().unwrap().code.as_deref(), Some("A"));
        let c = &order.consignments[0];
        assert_eq!(c.consignment_reference_number.as_deref(), Some("TK-90001"));
        let depots = c.transport_network.as_ref().unwrap();
        assert_eq!(depots.requesting_depot_code.as_deref(), Some("UKD101"));
        assert_eq!(depots.delivery_depot_code.as_deref(), Some("PGD302"));
        assert_eq!(c.pickup_stop.reference_number.as_deref(), Some("NEXUS-PALLEX-10020-P"));
        assert_eq!(c.pickup_stop.location.postal_code.as_deref(), Some("DA1 5BS"));
        assert_eq!(c.delivery_stop.date, Some("2026-06-18".parse().unwrap()));
        let window = c.delivery_stop.time_window.as_ref().unwrap();
        assert_eq!((window.start_time.as_deref(), window.end_time.as_deref()), (Some("13:00"), Some("16:00")));
        let extras: Vec<&str> = c.delivery_stop.extras.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(extras, ["TL", "XYZ"], "unknown extras are kept");
        assert_eq!(c.goods.len(), 2, "two full pallets share a line");
        assert_eq!(c.goods[0].quantity, 2);
        assert_eq!(c.goods[0].total_weight_kg, Some(800.0));
        assert_eq!(c.goods[0].unit_length_m, Some(1.2));
        assert_eq!(c.goods[1].packaging_type.as_ref().unwrap().code.as_deref(), Some("E"));
        let barcodes: Vec<&str> =
            c.goods.iter().flat_map(|g| g.handling_units.iter().map(|h| h.barcode.value.as_str())).collect();
        assert_eq!(barcodes, ["1010100000000001", "1010100000000003", "1010100000000002"]);
    }

    #[test]
    fn progress_leaves_the_fingerprint_alone_and_a_new_date_does_not() {
        let base = consignment();
        let print = |c: &Consignment| fingerprint(&order_content(c, Network::Pallex, None).unwrap());
        let mut scanned = base.clone();
        scanned.status.id = 80;
        scanned.estimated_del_time = Some("14:45".into());
        scanned.last_updated = Some("2026-06-18T05:42:00".parse().unwrap());
        scanned.pallets[0].last_event_code = Some("ARRD".into());
        assert_eq!(print(&base), print(&scanned));
        let mut moved = base.clone();
        moved.estimated_del_date = Some("2026-06-19".parse().unwrap());
        assert_ne!(print(&base), print(&moved));
        assert_eq!(print(&base).len(), 16);
    }

    #[test]
    fn customers_come_from_the_map_or_say_what_to_add() {
        let mut customers = CustomerMap::default();
        let err = customer_of(&consignment(), &customers).unwrap_err();
        assert!(err.to_string().contains("add 52011:<Qargo customer code> to BRIDGE_CUSTOMER_MAP"), "{err}");
        customers.insert(52011, "ACME");
        assert_eq!(customer_of(&consignment(), &customers).unwrap().code.as_deref(), Some("ACME"));

        let mut no_address = consignment();
        no_address.del_address_postcode = None;
        let err = order_content(&no_address, Network::Pallex, None).unwrap_err();
        assert!(err.to_string().contains("delAddressPostcode") && err.to_string().contains("delivery"), "{err}");
    }
}
