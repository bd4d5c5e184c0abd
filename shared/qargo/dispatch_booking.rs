//! A Qargo Subcontractor Dispatch read as a domain [`BookingRequest`]: the one consignment of the
//! trip, its order, stops and goods as the dispatcher typed them (additional fields read as text,
//! whether Qargo sent a string or a number), the Qargo ids the bridge needs to write back
//! ([`QargoLink`]), and where each booking field sits in Qargo's payload ([`DispatchPaths`]).
//! Only what is structural to Qargo's payload is refused here (no consignment or several, no
//! consignment id); every booking rule is the rules' (`crate::rules::dispatch`).

use serde_json::{Map, Value};

use super::dispatch_webhook::{DispatchConsignment, DispatchOrder, DispatchStop, DispatchTrip, Goods};
use super::order_update::ConsignmentKey;
use crate::domain::booking::{
    AddressPart, AddressRequest, AmazonRequest, BookingField, BookingRequest, CustomerRequest, ExtraRequest,
    FieldNames, GoodsRequest, StopRequest, StopRole, Violation, WindowRequest,
};
use crate::domain::{Network, QargoConsignmentId};

/// The most goods lines a dispatch may carry (a consignment carries at most 26 pallets).
pub const MAX_GOODS_LINES: usize = 100;

/// The Qargo ids of a dispatched consignment: the ledger's key and where the bridge writes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QargoLink {
    /// The consignment's UUID: the dispatch ledger's key.
    pub consignment_id: QargoConsignmentId,
    /// How a partial order update finds the consignment in its order.
    pub consignment_key: ConsignmentKey,
    /// The order's UUID.
    pub order_id: Option<String>,
    /// The pickup stop, where labels are attached.
    pub pickup_stop_id: Option<String>,
    /// The delivery stop.
    pub delivery_stop_id: Option<String>,
}

/// A dispatch read: the request, its Qargo link and the payload paths of its fields.
#[derive(Debug, Clone)]
pub struct QargoDispatch {
    /// What was asked.
    pub request: BookingRequest,
    /// The Qargo ids.
    pub link: QargoLink,
    /// Where each field is in the payload.
    pub paths: DispatchPaths,
}

/// Paths into the dispatch payload for the chosen order and consignment.
#[derive(Debug, Clone, Copy)]
pub struct DispatchPaths {
    order: usize,
    consignment: usize,
}

impl DispatchPaths {
    fn order(&self, field: &str) -> String {
        format!("payload.orders[{}].{field}", self.order)
    }

    fn consignment(&self, field: &str) -> String {
        format!("payload.orders[{}].consignments[{}].{field}", self.order, self.consignment)
    }
}

impl FieldNames for DispatchPaths {
    fn name(&self, field: &BookingField) -> String {
        let stop = |role: &StopRole| match role {
            StopRole::Pickup => "pickup_stop",
            StopRole::Delivery => "delivery_stop",
        };
        match field {
            BookingField::Network => "payload.resource_allocations".into(),
            BookingField::Orders => "payload.orders".into(),
            BookingField::Customer => self.order("customer"),
            BookingField::CustomerNetworkId(network) => {
                self.order(&format!("customer.custom_fields.{}", network.customer_id_field()))
            }
            BookingField::OrderName => self.order("name"),
            BookingField::ConsignmentId => self.consignment("id"),
            BookingField::CustomerReference => self.order("customer_reference_number"),
            BookingField::ServiceLevel => self.order("service_level.code"),
            BookingField::RequestingDepot => self.consignment("transport_network.requesting_depot_code"),
            BookingField::CollectionDepot => self.consignment("transport_network.collection_depot_code"),
            BookingField::Stop(role) => self.consignment(stop(role)),
            BookingField::StopDate(role) => self.consignment(&format!("{}.date", stop(role))),
            BookingField::Address(role, part) => {
                let part = match part {
                    AddressPart::Line1 => "address",
                    AddressPart::Town => "city",
                    AddressPart::Postcode => "postal_code",
                    AddressPart::Country => "country",
                };
                self.consignment(&format!("{}.location.{part}", stop(role)))
            }
            BookingField::TimeWindow => self.consignment("delivery_stop.time_window"),
            BookingField::TimeWindowCode => self.consignment("delivery_stop.time_window.code"),
            BookingField::TimeWindowStart => self.consignment("delivery_stop.time_window.start_time"),
            BookingField::TimeWindowEnd => self.consignment("delivery_stop.time_window.end_time"),
            BookingField::ContactName => self.consignment("delivery_stop.custom_fields.contact_name"),
            BookingField::DeliveryPhone => self.consignment("delivery_stop.phone_number"),
            BookingField::StopPhone(role) => self.consignment(&format!("{}.phone_number", stop(role))),
            BookingField::StopMobile(role) => self.consignment(&format!("{}.mobile_number", stop(role))),
            BookingField::Extra(index) => self.consignment(&format!("delivery_stop.extras[{index}].code")),
            BookingField::AmazonCartonCount(index) => {
                self.consignment(&format!("delivery_stop.extras[{index}].amazon.carton_count"))
            }
            BookingField::AmazonBookingReference(index) => {
                self.consignment(&format!("delivery_stop.extras[{index}].amazon.po_number"))
            }
            BookingField::Goods => self.consignment("goods"),
            BookingField::PalletType(index) => self.consignment(&format!("goods[{index}].packaging_type.code")),
            BookingField::Quantity(index) => self.consignment(&format!("goods[{index}].quantity")),
            BookingField::Length(index) => self.consignment(&format!("goods[{index}].unit_length_m")),
            BookingField::Width(index) => self.consignment(&format!("goods[{index}].unit_width_m")),
            BookingField::Height(index) => self.consignment(&format!("goods[{index}].unit_height_m")),
            BookingField::Weight(index) => self.consignment(&format!("goods[{index}].unit_weight_kg")),
        }
    }
}

/// Reads the dispatched trip's one consignment as a booking request.
pub fn read_dispatch(trip: &DispatchTrip) -> Result<QargoDispatch, Vec<Violation>> {
    let consignments: Vec<(usize, usize)> = trip
        .orders
        .iter()
        .enumerate()
        .flat_map(|(o, order)| (0..order.consignments.len()).map(move |c| (o, c)))
        .collect();
    let (order_index, consignment_index) = match consignments.as_slice() {
        [only] => *only,
        [] => {
            return Err(vec![Violation::new(
                "payload.orders",
                "the trip carries no consignment: plan exactly one order with one consignment on the PALL-EX/Fortec trip",
            )]);
        }
        many => {
            return Err(vec![Violation::new(
                "payload.orders",
                format!(
                    "the trip carries {} consignments; a network booking takes exactly one: give each consignment its own trip",
                    many.len()
                ),
            )]);
        }
    };
    let order = &trip.orders[order_index];
    let consignment = &order.consignments[consignment_index];
    let paths = DispatchPaths { order: order_index, consignment: consignment_index };
    if consignment.goods.len() > MAX_GOODS_LINES {
        return Err(vec![Violation::new(
            paths.consignment("goods"),
            format!(
                "{} goods lines: a network consignment carries at most {MAX_GOODS_LINES} (one per pallet type is usual); merge the lines",
                consignment.goods.len()
            ),
        )]);
    }
    let consignment_id = match consignment.id.as_deref().map(str::parse::<QargoConsignmentId>) {
        Some(Ok(id)) => id,
        Some(Err(err)) => return Err(vec![Violation::new(paths.consignment("id"), err.to_string())]),
        None => {
            return Err(vec![Violation::new(
                paths.consignment("id"),
                "the consignment has no id: Qargo always sends one; re-send the dispatch",
            )]);
        }
    };
    // Every id the bridge later puts into a Qargo path or body is a UUID, checked before booking: a
    // booking whose Qargo side can never be written is not made.
    let mut bad_ids = Vec::new();
    let mut uuid = |value: &Option<String>, path: String, required: bool| match value.as_deref().map(str::trim) {
        Some(id) if super::wire::qargo_id(id).is_some() => {}
        None if !required => {}
        Some(id) => bad_ids.push(Violation::new(
            path,
            format!("'{}' is not a Qargo id (a UUID): re-send the dispatch from Qargo", crate::error::shown(id)),
        )),
        None => bad_ids.push(Violation::new(path, "the id is missing: Qargo always sends one; re-send the dispatch")),
    };
    uuid(&order.id, format!("payload.orders[{order_index}].id"), true);
    uuid(&consignment.pickup_stop.as_ref().and_then(|s| s.id.clone()), paths.consignment("pickup_stop.id"), false);
    uuid(&consignment.delivery_stop.as_ref().and_then(|s| s.id.clone()), paths.consignment("delivery_stop.id"), false);
    for (index, goods) in consignment.goods.iter().enumerate() {
        uuid(&goods.id, paths.consignment(&format!("goods[{index}].id")), false);
    }
    if !bad_ids.is_empty() {
        return Err(bad_ids);
    }
    let link = QargoLink {
        consignment_id,
        consignment_key: match trimmed(&consignment.consignment_reference_number) {
            Some(reference) => ConsignmentKey::Reference(reference),
            None => ConsignmentKey::Position(u32::try_from(consignment_index + 1).unwrap_or(u32::MAX)),
        },
        order_id: order.id.clone(),
        pickup_stop_id: consignment.pickup_stop.as_ref().and_then(|s| s.id.clone()),
        delivery_stop_id: consignment.delivery_stop.as_ref().and_then(|s| s.id.clone()),
    };
    Ok(QargoDispatch { request: request_of(trip, order, consignment), link, paths })
}

fn request_of(trip: &DispatchTrip, order: &DispatchOrder, consignment: &DispatchConsignment) -> BookingRequest {
    let transport = consignment.transport_network.as_ref();
    BookingRequest {
        resource_codes: trip.resource_allocations.iter().filter_map(|a| trimmed(&a.resource.as_ref()?.code)).collect(),
        order_name: trimmed(&order.name).or_else(|| trimmed(&order.id)),
        customer: order.customer.as_ref().map(|customer| CustomerRequest {
            name: trimmed(&customer.name),
            code: trimmed(&customer.code),
            network_ids: Network::ALL
                .iter()
                .filter_map(|network| Some((*network, text(&customer.custom_fields, network.customer_id_field())?)))
                .collect(),
        }),
        customer_reference: trimmed(&order.customer_reference_number),
        service_code: order.service_level.as_ref().and_then(|s| trimmed(&s.code)),
        requesting_depot: transport.and_then(|t| trimmed(&t.requesting_depot_code)),
        collection_depot: transport.and_then(|t| trimmed(&t.collection_depot_code)),
        pickup: consignment.pickup_stop.as_ref().map(stop_of),
        delivery: consignment.delivery_stop.as_ref().map(stop_of),
        goods: consignment.goods.iter().map(goods_of).collect(),
        order_amazon: AmazonRequest {
            carton_count: text(&order.custom_fields, "AmazonCartonCount"),
            booking_reference: text(&order.custom_fields, "AmazonBookingRef"),
            booking_date: None,
            booking_time: None,
        },
    }
}

fn stop_of(stop: &DispatchStop) -> StopRequest {
    StopRequest {
        date: trimmed(&stop.date),
        time_window: stop.time_window.as_ref().map(|w| WindowRequest {
            code: trimmed(&w.code),
            start: trimmed(&w.start_time),
            end: trimmed(&w.end_time),
        }),
        address: stop.location.as_ref().map(|l| AddressRequest {
            name: trimmed(&l.name),
            line1: trimmed(&l.address),
            line2: trimmed(&l.address_second_line),
            town: trimmed(&l.city),
            county: trimmed(&l.state),
            postcode: trimmed(&l.postal_code),
            country: trimmed(&l.country),
        }),
        phone: trimmed(&stop.phone_number),
        mobile: trimmed(&stop.mobile_number),
        email: trimmed(&stop.email),
        note: trimmed(&stop.note),
        instructions: trimmed(&stop.planning_instructions),
        reference: trimmed(&stop.reference_number),
        contact_name: text(&stop.custom_fields, "contact_name").filter(|n| !n.trim().is_empty()),
        extras: stop
            .extras
            .iter()
            .map(|extra| {
                let fields = extra.amazon.clone().unwrap_or_default();
                ExtraRequest {
                    code: trimmed(&extra.code),
                    amazon: AmazonRequest {
                        carton_count: text(&fields, "carton_count"),
                        booking_reference: text(&fields, "po_number").or_else(|| text(&fields, "booking_reference")),
                        booking_date: text(&fields, "booking_date"),
                        booking_time: text(&fields, "booking_time"),
                    },
                }
            })
            .collect(),
    }
}

fn goods_of(goods: &Goods) -> GoodsRequest {
    let packaging = goods.packaging_type.as_ref();
    GoodsRequest {
        id: goods.id.clone(),
        description: trimmed(&goods.description),
        quantity: goods.quantity,
        pallet_type: packaging.and_then(|p| trimmed(&p.code)),
        packaging_size: packaging.and_then(|p| p.packaging_size.as_ref()).and_then(|s| trimmed(&s.code)),
        unit_length_m: goods.unit_length_m,
        unit_width_m: goods.unit_width_m,
        unit_height_m: goods.unit_height_m,
        unit_weight_kg: goods.unit_weight_kg,
        total_weight_kg: goods.total_weight_kg,
        stackable: goods.stackable,
    }
}

/// A trimmed, non-empty copy.
fn trimmed(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// An additional field as text, whether Qargo sent it as a string or a number.
fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}
