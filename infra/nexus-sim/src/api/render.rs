//! JSON shapes of nexus-api.md §3.6: the consignment read model, pallets, events and attachments.
//!
//! Seen names (§1.7) are kept exactly: `consignmentNumber`, `consignmentID`, `customerReference`,
//! `status{id,name}`, `estimatedDelDate`, `estimatedDelTime`, `startWindow`, `endWindow`,
//! `delAddressLine1`, `delAddressTown`, `delAddressPostcode`, `colDate`, `delDateTime`,
//! `routeDetails[]{type, routeDate, regNo, round, status, palletCount}`. The rest is the §3.6 design,
//! plus these inventions, needed by a depot importing inbound orders: `estimatedColDate` (the booked
//! collection date; `colDate` becomes the actual collection date once collected), the full delivery
//! and collection addresses and contacts (`delAddressName`, `delAddressLine2`, `delAddressCounty`,
//! `delAddressCountryID`, `delAddressTelephone`, `delContact`, `delEmail`, `deliveryInstructions`,
//! and the `col…` equivalents), `bookIn`, `collectionExtras`, `descriptionOfGoods`,
//! `limitedQuantities`, and on pallets `limitedQuantityWeight` and `doNotStack`; on attachments
//! `capturedAt` and `fileSize`. Pallets are always included (`include=pallets` is accepted);
//! `routeDetails` is `[]` unless `include=routedetails`; `events` and `attachments` appear only when
//! included.

use serde_json::{Value, json};

use crate::clock;
use crate::profile::Profile;
use crate::random::{hash_of, tag};
use crate::reference;
use crate::world::{Attachment, Consignment, Event, Pallet, World};

/// Which optional parts of a consignment to render (`include=routedetails,pallets,events,attachments`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Include {
    pub(crate) route_details: bool,
    pub(crate) events: bool,
    pub(crate) attachments: bool,
}

impl Include {
    pub(crate) fn all() -> Include {
        Include { route_details: true, events: true, attachments: true }
    }

    pub(crate) fn parse(values: &[&str]) -> Result<Include, String> {
        let mut include = Include::default();
        for part in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "routedetails" => include.route_details = true,
                "events" => include.events = true,
                "attachments" => include.attachments = true,
                "pallets" => {}
                other => {
                    return Err(format!(
                        "'{other}' cannot be included; use routedetails, pallets, events or attachments."
                    ));
                }
            }
        }
        Ok(include)
    }
}

/// Whole numbers render without a fraction (`640`, not `640.0`), as .NET decimals do.
pub(crate) fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 { json!(value as i64) } else { json!(value) }
}

fn option_time(time: Option<jiff::civil::Time>) -> Value {
    time.map_or(Value::Null, |t| json!(clock::format_time(t)))
}

fn option_datetime(at: Option<jiff::Timestamp>) -> Value {
    at.map_or(Value::Null, |t| json!(clock::format_datetime(t)))
}

/// The consignment read shape. `base_url` (e.g. `http://127.0.0.1:7700/v1/`) is needed for
/// attachment URLs when attachments are included.
pub(crate) fn consignment(world: &World, c: &Consignment, include: &Include, base_url: Option<&str>) -> Value {
    let status = c.status();
    let service = reference::service(c.service_id);
    let consignment_type = reference::CONSIGNMENT_TYPES.iter().find(|t| t.id == c.type_id);
    let col_date = c.collected_at.map_or(c.planned_collection_date, clock::today);
    let mut body = json!({
        "consignmentID": c.id,
        "consignmentNumber": c.number,
        "customerReference": c.customer_reference,
        "customerID": c.customer_id,
        "network": { "code": c.network.code(), "name": c.network.name() },
        "consignmentType": { "id": c.type_id, "name": consignment_type.map_or("", |t| t.name) },
        "status": { "id": Profile::Full.id_of(status), "name": status.name },
        "requestingDepotCode": c.requesting_depot,
        "collectingDepotCode": c.collecting_depot,
        "deliveryDepotCode": c.delivery_depot,
        "service": service.map_or(Value::Null, |s| json!({ "id": s.id, "code": s.code, "name": s.name })),
        "timeWindow": c.time_window.map_or(Value::Null, |w| json!({ "code": w })),
        "extras": c.delivery_extras,
        "collectionExtras": c.collection_extras,
        "colDate": clock::format_date(col_date),
        "estimatedColDate": clock::format_date(c.planned_collection_date),
        "estimatedDelDate": clock::format_date(c.estimated_del_date),
        "estimatedDelTime": option_time(c.estimated_del_time),
        "startWindow": option_time(c.start_window),
        "endWindow": option_time(c.end_window),
        "delDateTime": option_datetime(c.delivered_at),
        "delAddressName": c.delivery_address.name,
        "delAddressLine1": c.delivery_address.line1,
        "delAddressLine2": c.delivery_address.line2,
        "delAddressTown": c.delivery_address.town,
        "delAddressCounty": c.delivery_address.county,
        "delAddressPostcode": c.delivery_address.postcode,
        "delAddressCountryID": c.delivery_address.country_id,
        "delAddressTelephone": c.delivery_address.telephone,
        "delContact": c.delivery_contact.contact,
        "delEmail": c.delivery_contact.email,
        "deliveryInstructions": c.instructions,
        "colAddressName": c.collection_address.name,
        "colAddressLine1": c.collection_address.line1,
        "colAddressLine2": c.collection_address.line2,
        "colAddressTown": c.collection_address.town,
        "colAddressCounty": c.collection_address.county,
        "colAddressPostcode": c.collection_address.postcode,
        "colAddressCountryID": c.collection_address.country_id,
        "colAddressTelephone": c.collection_address.telephone,
        "colContact": c.collection_contact.contact,
        "colEmail": c.collection_contact.email,
        "bookIn": c.book_in.as_ref().map_or(Value::Null, |b| json!({
            "contactName": b.contact_name,
            "contactPhone": b.contact_phone,
            "reference": b.reference,
            "notes": b.notes,
        })),
        "descriptionOfGoods": c.description_of_goods,
        "limitedQuantities": c.limited_quantities,
        "totalWeight": number(c.total_weight()),
        "palletCount": c.pallets.len(),
        "palletSpaces": number(c.pallet_spaces()),
        "pallets": c.pallets.iter().map(pallet).collect::<Vec<_>>(),
        "routeDetails": if include.route_details { route_details(world, c) } else { json!([]) },
        "createdDate": clock::format_datetime(c.created_at),
        "manifestDate": option_datetime(c.manifested_at),
        "lastUpdated": clock::format_datetime(c.last_updated),
    });
    if include.events {
        body["events"] = json!(sorted_events(c).into_iter().map(event).collect::<Vec<_>>());
    }
    if include.attachments {
        let base = base_url.unwrap_or("/v1/");
        body["attachments"] = json!(
            c.attachment_ids
                .iter()
                .filter_map(|id| world.attachments.get(id))
                .map(|a| attachment(a, base))
                .collect::<Vec<_>>()
        );
    }
    body
}

pub(crate) fn pallet(p: &Pallet) -> Value {
    json!({
        "palletID": p.id,
        "barcode": p.barcode,
        "palletTypeID": p.type_id,
        "palletBaseID": p.base_id,
        "length": number(p.length),
        "width": number(p.width),
        "height": number(p.height),
        "weight": number(p.weight),
        "limitedQuantityWeight": number(p.limited_quantity_weight),
        "doNotStack": p.do_not_stack,
        "lastEventCode": p.last_event_code,
    })
}

/// Events oldest first ("newest last", §3.3 #6); a late scan posted for an earlier time sorts by its
/// time, not by when it was posted.
pub(crate) fn sorted_events(c: &Consignment) -> Vec<&Event> {
    let mut events: Vec<&Event> = c.events.iter().collect();
    events.sort_by_key(|e| (e.at, e.id));
    events
}

pub(crate) fn event(e: &Event) -> Value {
    json!({
        "eventID": e.id,
        "palletID": e.pallet_id,
        "barcode": e.barcode,
        "code": e.code,
        "description": e.description,
        "depotCode": e.depot_code,
        "eventDateTime": clock::format_datetime(e.at),
        "notes": e.notes,
        "source": e.source.as_str(),
    })
}

pub(crate) fn attachment(a: &Attachment, base_url: &str) -> Value {
    json!({
        "attachmentID": a.id,
        "attachmentType": { "id": a.type_id, "code": a.type_code },
        "fileName": a.file_name,
        "contentType": a.content_type,
        "url": format!("{base_url}attachments/{}/content", a.id),
        "signedBy": a.signed_by,
        "createdDate": clock::format_datetime(a.created_at),
        "capturedAt": option_datetime(a.captured_at),
        "uploadedByDepotCode": a.uploaded_by_depot,
        "fileSize": a.bytes.len(),
    })
}

/// Collection and delivery rounds, invented but stable per consignment (UK-style registrations).
pub(crate) fn route_details(world: &World, c: &Consignment) -> Value {
    if c.cancelled {
        return json!([]);
    }
    let registration = |what: &str| {
        let h = hash_of(&[world.seed, c.id, tag(what)]);
        let letter = |shift: u32| (b'A' + ((h >> shift) % 26) as u8) as char;
        format!("{}{}{:02} {}{}{}", letter(0), letter(5), (h >> 10) % 30 + 51, letter(20), letter(25), letter(30))
    };
    let round = |what: &str| format!("R{:02}", hash_of(&[world.seed, c.id, tag(what)]) % 20 + 1);
    let status = c.status().code;
    let collection_status = if c.is_collected() { "Completed" } else { "Planned" };
    let delivery_status = match status {
        "OFD" => "In Progress",
        "DEL" | "DLX" => "Completed",
        "RTN" => "Cancelled",
        _ => "Planned",
    };
    json!([
        {
            "type": "Collection",
            "routeDate": clock::format_date(c.planned_collection_date),
            "regNo": registration("collection-vehicle"),
            "round": round("collection-round"),
            "status": collection_status,
            "palletCount": c.pallets.len(),
        },
        {
            "type": "Delivery",
            "routeDate": clock::format_date(c.estimated_del_date),
            "regNo": registration(&format!("delivery-vehicle-{}", c.attempt)),
            "round": round(&format!("delivery-round-{}", c.attempt)),
            "status": delivery_status,
            "palletCount": c.pallets.len(),
        }
    ])
}
