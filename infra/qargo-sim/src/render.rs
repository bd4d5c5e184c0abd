//! The JSON the simulator serves and sends, named as Qargo's OpenAPI names it: `OrderOutput`,
//! `OrderWithStatus`, `StopOutput`, `GoodOutput`, `CompanyOutput`, `Document`, the
//! `SubcontractorDispatch` payload and the visibility `VisibilityOrder` / `VisibilityStop`.
//!
//! Additions to the real shapes (clients must ignore unknown fields, so these are safe): every
//! `StopOutput` also carries `stop_type`, `consignment_id`, `eta_start`, `eta_end`,
//! `actual_start_timestamp`, `actual_end_timestamp` and `duration`; `OrderOutput` carries the
//! order-level `transport_network`.

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::{Consignment, Customer, Document, Good, Order, Stop, StopType, Trip};
use crate::wire::{EntityInput, LocationInput};
use crate::world::World;

fn ts(value: Option<Timestamp>) -> Value {
    value.map(|t| Value::from(t.to_string())).unwrap_or(Value::Null)
}

fn entity(value: &Option<EntityInput>) -> Value {
    match value {
        None => Value::Null,
        Some(e) => json!({ "code": e.code, "name": e.name, "custom_fields": {} }),
    }
}

/// `CompanyOutput` of a customer; its additional fields (`PallexID`, `FortecID`) are
/// `custom_fields`.
pub fn company(customer: &Customer) -> Value {
    let contacts: Vec<Value> =
        if customer.contact_name.is_some() || customer.email.is_some() || customer.phone_number.is_some() {
            vec![json!({
                "id": crate::world::stable_uuid(&format!("contact:{}", customer.id)),
                "name": customer.contact_name,
                "email": customer.email,
                "phone_number": customer.phone_number,
                "roles": ["OPERATIONS"],
            })]
        } else {
            Vec::new()
        };
    json!({
        "id": customer.id,
        "name": customer.name,
        "code": customer.code,
        "currency": "GBP",
        "custom_fields": customer.custom_fields,
        "is_customer": true,
        "is_subcontractor": false,
        "status": "APPROVED",
        "locale": "en-GB",
        "contacts": contacts,
        "reference_numbers": {},
        "bank_accounts": [],
    })
}

/// `LocationWithTerminalOutput`.
pub fn location(location: &Option<LocationInput>) -> Value {
    let l = location.clone().unwrap_or_default();
    json!({
        "name": l.name,
        "display_name": l.name,
        "address": l.address,
        "address_second_line": l.address_second_line,
        "postal_code": l.postal_code,
        "city": l.city,
        "state": l.state,
        "country": l.country,
        "code": l.code,
        "external_id": l.external_id,
        "description": l.description,
        "latitude": l.latitude,
        "longitude": l.longitude,
    })
}

/// `StopOutput` (plus the additions listed in the module docs).
pub fn stop(stop: &Stop, consignment_id: Uuid) -> Value {
    let input = &stop.input;
    let window = input.time_window.as_ref().map(|w| {
        json!({
            "code": w.code,
            "name": w.name,
            "start_time": w.start_time,
            "end_time": w.end_time,
            "is_enforced": w.is_enforced,
            "custom_fields": {},
        })
    });
    let extras: Vec<Value> =
        input.extras.iter().flatten().map(|e| json!({ "code": e.code, "name": e.name, "amazon": e.amazon })).collect();
    json!({
        "id": stop.id,
        "stop_type": stop.stop_type.as_str(),
        "consignment_id": consignment_id,
        "activity_label": input.activity_label.clone().unwrap_or_else(|| match stop.stop_type {
            StopType::Pickup => "Pickup".into(),
            StopType::Delivery => "Delivery".into(),
        }),
        "note": input.note,
        "reference_number": input.reference_number,
        "email": input.email,
        "phone_number": input.phone_number,
        "mobile_number": input.mobile_number,
        "time_window": window,
        "planning_instructions": input.planning_instructions,
        "extras": extras,
        "custom_fields": input.custom_fields.clone().unwrap_or_default(),
        "date": input.date,
        "duration": input.duration,
        "location": location(&input.location),
        "start_timestamp": ts(stop.actual_start.or(stop.eta_start)),
        "end_timestamp": ts(stop.actual_end.or(stop.eta_end)),
        "eta_start": ts(stop.eta_start),
        "eta_end": ts(stop.eta_end),
        "actual_start_timestamp": ts(stop.actual_start),
        "actual_end_timestamp": ts(stop.actual_end),
        "incidents": [],
        "status": stop.status,
    })
}

/// `GoodOutput`.
pub fn good(good: &Good) -> Value {
    let g = &good.input;
    let units: Vec<Value> = good
        .handling_units
        .iter()
        .map(|h| json!({ "id": h.id, "barcode": { "value": h.barcode, "source": h.source } }))
        .collect();
    json!({
        "id": good.id,
        "description": g.description,
        "quantity": g.quantity,
        "packaging_type": g.packaging_type.as_ref().map(|p| json!({
            "code": p.code,
            "name": p.name,
            "packaging_size": entity(&p.packaging_size),
            "custom_fields": {},
        })),
        "total_weight_kg": g.total_weight_kg,
        "total_volume_m3": g.total_volume_m3,
        "total_pallet_spaces": g.total_pallet_spaces,
        "total_loading_meters": g.total_loading_meters,
        "unit_length_m": g.unit_length_m,
        "unit_width_m": g.unit_width_m,
        "unit_height_m": g.unit_height_m,
        "unit_weight_kg": g.unit_weight_kg,
        "stackable": g.stackable,
        "packaged_items": g.packaged_items.clone().unwrap_or_default(),
        "adr": g.adr,
        "custom_fields": g.custom_fields.clone().unwrap_or_default(),
        "handling_units": units,
    })
}

/// `ConsignmentOutput`.
pub fn consignment(c: &Consignment) -> Value {
    json!({
        "id": c.id,
        "consignment_reference_number": c.reference_number,
        "cmr_reference_number": c.cmr_reference_number,
        "planning_instructions": c.planning_instructions,
        "custom_fields": c.custom_fields,
        "transport_network": c.transport_network,
        "pickup_stop": stop(&c.pickup, c.id),
        "delivery_stop": stop(&c.delivery, c.id),
        "goods": c.goods.iter().map(good).collect::<Vec<_>>(),
        "signatures": c.signatures,
    })
}

/// `OrderOutput` (also the `DispatchOrder` of the dispatch payload).
pub fn order(order: &Order, customer: Option<&Customer>) -> Value {
    let stops: Vec<Value> =
        order.consignments.iter().flat_map(|c| [stop(&c.pickup, c.id), stop(&c.delivery, c.id)]).collect();
    json!({
        "id": order.id,
        "name": order.name,
        "order_identifier": order.order_identifier,
        "customer": customer.map(company),
        "customer_reference_number": order.customer_reference_number,
        "service_level": entity(&order.service_level),
        "transport_service": entity(&order.transport_service),
        "transport_network": entity(&order.transport_network),
        "department": entity(&order.department),
        "planning_instructions": order.planning_instructions,
        "contact_emails": order.contact_emails,
        "custom_fields": order.custom_fields,
        "consignments": order.consignments.iter().map(consignment).collect::<Vec<_>>(),
        "start_stop": stops.first(),
        "end_stop": stops.last(),
        "stops": stops,
        "created_timestamp": order.created.to_string(),
        "created_by_user": order.created_by,
    })
}

/// The order's overall status (Qargo's `VisibilityOrderStatus` values).
pub fn order_status(order: &Order) -> &'static str {
    let statuses: Vec<&str> = order.stops().map(|s| s.status.as_str()).collect();
    if order.cancelled {
        "CANCELLED"
    } else if !statuses.is_empty() && statuses.iter().all(|s| *s == "COMPLETED") {
        "COMPLETED"
    } else if statuses.iter().any(|s| *s == "AT_STOP" || *s == "COMPLETED") {
        "IN_TRANSIT"
    } else if order.trip_id.is_some() {
        "PLANNED"
    } else if order.order_status == "QUOTE" {
        "QUOTE"
    } else {
        "TO_PLAN"
    }
}

/// `OrderWithStatus`: the order plus `status`, `stops` (`OrderStatusStopOutput`, with
/// `consignment_id`), `first_pickup_stop` and `last_delivery_stop`.
pub fn order_with_status(o: &Order, customer: Option<&Customer>) -> Value {
    let mut value = order(o, customer);
    let first_pickup = o.consignments.first().map(|c| stop(&c.pickup, c.id));
    let last_delivery = o.consignments.last().map(|c| stop(&c.delivery, c.id));
    if let Some(map) = value.as_object_mut() {
        map.insert("status".into(), order_status(o).into());
        map.insert("first_pickup_stop".into(), first_pickup.unwrap_or(Value::Null));
        map.insert("last_delivery_stop".into(), last_delivery.unwrap_or(Value::Null));
    }
    value
}

/// `Document` (with a relative `download_url`).
pub fn document(doc: &Document) -> Value {
    json!({
        "id": doc.id,
        "name": doc.name,
        "type": doc.document_type,
        "download_url": format!("/v1/documents/document/{}/download", doc.id),
        "subject_type": doc.subject_type,
        "content_type": doc.content_type,
    })
}

/// The admin view of a document: the API's fields plus the stop, SHA-256, size and origin.
pub fn document_admin(doc: &Document) -> Value {
    let mut value = document(doc);
    if let Some(map) = value.as_object_mut() {
        map.insert("order_id".into(), json!(doc.order_id));
        map.insert("stop_id".into(), json!(doc.stop_id));
        map.insert("sha256".into(), doc.sha256.clone().into());
        map.insert("size".into(), doc.bytes.len().into());
        map.insert("source".into(), doc.source.clone().into());
        map.insert("question_path_key".into(), json!(doc.question_path_key));
        map.insert("created".into(), doc.created.to_string().into());
    }
    value
}

/// The trip's stops in planned sequence: every pickup, then every delivery.
pub fn trip_stops(world: &World, trip: &Trip) -> Vec<Value> {
    let orders: Vec<&Order> = trip.order_ids.iter().filter_map(|id| world.order(*id)).collect();
    let pickups = orders.iter().flat_map(|o| o.consignments.iter().map(|c| stop(&c.pickup, c.id)));
    let deliveries = orders.iter().flat_map(|o| o.consignments.iter().map(|c| stop(&c.delivery, c.id)));
    pickups.chain(deliveries).collect()
}

/// The `ResourceAllocation` of a trip's subcontractor resource.
pub fn resource_allocation(trip: &Trip) -> Value {
    let r = &trip.resource;
    json!({
        "resource": {
            "id": r.id,
            "name": r.name,
            "code": r.code,
            "is_archived": false,
            "is_external_resource": true,
            "resource_type": "SUBCONTRACTOR",
            "custom_fields": {},
            "subcontractor": {
                "id": r.subcontractor_id,
                "name": r.subcontractor_name,
                "code": r.code.trim_end_matches("_OUT"),
                "currency": "GBP",
                "custom_fields": {},
                "is_customer": false,
                "is_subcontractor": true,
                "status": "APPROVED",
            },
        }
    })
}

/// Keys of the simulator's `StopOutput` that the spec's dispatch `StopOutput` does not define.
const STOP_ADDITIONS: [&str; 7] = [
    "stop_type",
    "consignment_id",
    "eta_start",
    "eta_end",
    "duration",
    "actual_start_timestamp",
    "actual_end_timestamp",
];

/// A `StopOutput` as the dispatch payload carries it: only keys the spec defines.
fn spec_stop(mut value: Value) -> Value {
    if let Some(map) = value.as_object_mut() {
        for key in STOP_ADDITIONS {
            map.remove(key);
        }
        if let Some(location) = map.get_mut("location").and_then(Value::as_object_mut) {
            location.remove("description");
        }
    }
    value
}

/// A goods line as the outbound payloads carry it (no `adr`: the spec has `adr_type`).
fn spec_good(good_value: &mut Value) {
    if let Some(map) = good_value.as_object_mut() {
        map.remove("adr");
    }
}

/// The `DispatchOrder` of the dispatch payload: `OrderOutput` with only keys the spec defines.
pub fn dispatch_order(o: &Order, customer: Option<&Customer>) -> Value {
    let mut value = order(o, customer);
    if let Some(map) = value.as_object_mut() {
        map.remove("transport_network");
        if let Some(service) = map.get_mut("transport_service").and_then(Value::as_object_mut) {
            service.remove("custom_fields");
        }
        for key in ["start_stop", "end_stop"] {
            if let Some(stop) = map.get_mut(key) {
                *stop = spec_stop(stop.take());
            }
        }
        if let Some(Value::Array(stops)) = map.get_mut("stops") {
            for stop in stops.iter_mut() {
                *stop = spec_stop(stop.take());
            }
        }
        if let Some(Value::Array(consignments)) = map.get_mut("consignments") {
            for c in consignments.iter_mut().filter_map(Value::as_object_mut) {
                for key in ["pickup_stop", "delivery_stop"] {
                    if let Some(stop) = c.get_mut(key) {
                        *stop = spec_stop(stop.take());
                    }
                }
                if let Some(Value::Array(goods)) = c.get_mut("goods") {
                    goods.iter_mut().for_each(spec_good);
                }
            }
        }
    }
    value
}

/// The `SubcontractorDispatch` webhook body.
pub fn dispatch_payload(world: &World, trip: &Trip, operation: &str) -> Value {
    let orders: Vec<Value> = trip
        .order_ids
        .iter()
        .filter_map(|id| world.order(*id))
        .map(|o| dispatch_order(o, world.customer(o.customer_id)))
        .collect();
    let stops: Vec<Value> = trip_stops(world, trip).into_iter().map(spec_stop).collect();
    json!({
        "operation": operation,
        "payload": {
            "id": trip.id,
            "name": trip.name,
            "orders": orders,
            "stops": stops,
            "resource_allocations": [resource_allocation(trip)],
            "custom_fields": trip.custom_fields,
        }
    })
}

/// `VisibilityStop`.
pub fn visibility_stop(stop: &Stop) -> Value {
    let l = stop.input.location.clone().unwrap_or_default();
    let position = match (l.latitude, l.longitude) {
        (Some(latitude), Some(longitude)) => json!({ "latitude": latitude, "longitude": longitude }),
        _ => Value::Null,
    };
    json!({
        "id": stop.id,
        "location": {
            "name": l.name.clone().unwrap_or_default(),
            "address": l.address,
            "address_second_line": l.address_second_line,
            "city": l.city,
            "state": l.state,
            "country_code": l.country,
            "postal_code": l.postal_code,
            "position": position,
        },
        "resources": Value::Null,
        "status": stop.status,
        "stop_type": stop.stop_type.as_str(),
        "eta_start_time": ts(stop.eta_start),
        "eta_end_time": ts(stop.eta_end),
        "actual_start_timestamp": ts(stop.actual_start),
        "actual_end_timestamp": ts(stop.actual_end),
        "stop_reference": stop.input.reference_number,
        "custom_fields": stop.input.custom_fields.clone().unwrap_or_default(),
    })
}

/// `VisibilityOrder` (its `consignment` is the order's first).
pub fn visibility_order(order: &Order, customer: Option<&Customer>) -> Value {
    let first = order.consignments.first();
    json!({
        "id": order.id,
        "order_name": order.name,
        "customer_reference_number": order.customer_reference_number,
        "customer": customer.map(|c| json!({ "id": c.id, "name": c.name, "custom_fields": c.custom_fields })),
        "status": order_status(order),
        "custom_fields": order.custom_fields,
        "stops": order.stops().map(visibility_stop).collect::<Vec<_>>(),
        "consignment": first.map(|c| {
            let goods: Vec<Value> = c.goods.iter().map(|g| { let mut v = good(g); spec_good(&mut v); v }).collect();
            json!({ "id": c.id, "goods": goods })
        }),
    })
}

/// A summary line of an order for `GET /_sim/orders`.
pub fn order_summary(world: &World, order: &Order) -> Value {
    let trip = world.trip_of(order);
    json!({
        "id": order.id,
        "name": order.name,
        "order_identifier": order.order_identifier,
        "customer": world.customer(order.customer_id).map(|c| c.name.clone()),
        "customer_reference_number": order.customer_reference_number,
        "status": order_status(order),
        "created_by": order.created_by,
        "trip": trip.map(|t| json!({ "id": t.id, "name": t.name, "resource_code": t.resource.code, "dispatch_state": t.dispatch_state })),
        "stops": order.consignments.iter().flat_map(|c| c.stops().map(move |s| json!({
            "id": s.id, "consignment_id": c.id, "stop_type": s.stop_type.as_str(), "status": s.status,
        }))).collect::<Vec<_>>(),
        "documents": world.documents.iter().filter(|d| d.order_id == Some(order.id)).count(),
    })
}

/// The admin view of one order: the API shape plus status history per stop, scan history per
/// barcode, documents with their SHA-256, uploads and received status updates.
pub fn order_admin(world: &World, order: &Order) -> Value {
    let stop_ids: Vec<Uuid> = order.stops().map(|s| s.id).collect();
    let stops: Vec<Value> = order
        .consignments
        .iter()
        .flat_map(|c| {
            c.stops().map(move |s| {
                json!({
                    "id": s.id,
                    "consignment_id": c.id,
                    "stop_type": s.stop_type.as_str(),
                    "status": s.status,
                    "eta_start": ts(s.eta_start),
                    "eta_end": ts(s.eta_end),
                    "actual_start": ts(s.actual_start),
                    "actual_end": ts(s.actual_end),
                    "history": s.history,
                    "answers": s.answers,
                })
            })
        })
        .collect();
    let mut barcodes: Map<String, Value> = Map::new();
    for barcode in order.consignments.iter().flat_map(|c| c.barcodes()) {
        barcodes.insert(barcode.to_string(), Value::Array(Vec::new()));
    }
    for scan in world.scans.iter().filter(|s| s.order_id == order.id) {
        let entry = barcodes.entry(scan.barcode.clone()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!(scan));
        }
    }
    let documents: Vec<Value> =
        world.documents.iter().filter(|d| d.order_id == Some(order.id)).map(document_admin).collect();
    let uploads: Vec<Value> = world
        .uploads
        .iter()
        .filter(|u| u.order_id == Some(order.id) || Some(&u.order_identifier) == order.order_identifier.as_ref())
        .map(upload_admin)
        .collect();
    let updates: Vec<Value> = world
        .status_log
        .iter()
        .filter(|r| r.stop_id.is_some_and(|id| stop_ids.contains(&id)))
        .map(|r| json!(r))
        .collect();
    let trip = world.trip_of(order);
    json!({
        "order": order_with_status(order, world.customer(order.customer_id)),
        "status": order_status(order),
        "cancelled": order.cancelled,
        "trip": trip.map(|t| json!({ "id": t.id, "name": t.name, "resource_code": t.resource.code, "dispatch_state": t.dispatch_state })),
        "stops": stops,
        "barcodes": barcodes,
        "documents": documents,
        "uploads": uploads,
        "status_updates": updates,
        "raw_input": order.raw_input,
    })
}

/// `OrderImport` (the upload answer).
pub fn order_import(upload: &crate::model::Upload) -> Value {
    json!({
        "upload_id": upload.id,
        "upload_status": upload.status,
        "upload_url": format!("/v1/orders/order/upload/{}", upload.id),
        "order_id": upload.order_id,
        "order_url": upload.order_id.map(|id| format!("/v1/orders/order/{id}")),
    })
}

/// The admin view of an upload.
pub fn upload_admin(upload: &crate::model::Upload) -> Value {
    let mut value = order_import(upload);
    if let Some(map) = value.as_object_mut() {
        map.insert("operation".into(), upload.operation.clone().into());
        map.insert("order_identifier".into(), upload.order_identifier.clone().into());
        map.insert("polls".into(), upload.polls.into());
        map.insert("message".into(), json!(upload.message));
        map.insert("created".into(), upload.created.to_string().into());
        map.insert("input".into(), upload.raw.clone());
    }
    value
}

/// The admin view of a trip.
pub fn trip_admin(world: &World, trip: &Trip) -> Value {
    json!({
        "id": trip.id,
        "name": trip.name,
        "order_ids": trip.order_ids,
        "resource_allocations": [resource_allocation(trip)],
        "dispatch_state": trip.dispatch_state,
        "custom_fields": trip.custom_fields,
        "stops": trip_stops(world, trip),
    })
}

/// The admin view of a customer.
pub fn customer_admin(customer: &Customer) -> Value {
    let mut value = company(customer);
    if let Some(map) = value.as_object_mut() {
        map.insert("additional_fields".into(), Value::Object(customer.custom_fields.clone()));
    }
    value
}
