//! What the seen profile ([`Profile::Seen`]) serves differently: the seen read model, the create
//! body cut down to §1.6 and its two-field answer, the attachment list with direct links, and the
//! five seen lookups.
//!
//! The read model has exactly the fields of nexus-api.md §1.7: `consignmentNumber`,
//! `consignmentID`, `customerReference`, `status{id,name}`, `estimatedDelDate`, `estimatedDelTime`,
//! `startWindow`, `endWindow`, `delAddressLine1`, `delAddressTown`, `delAddressPostcode`, `colDate`,
//! `delDateTime` and `routeDetails[]` (filled only with `include=routedetails`). `status.id` is the
//! seen profile's id, the one `consignmentStatuses` lists.
//!
//! Invented here (nothing public shows it): attachment items are `{attachmentTypeID, url}` — the
//! `url` is seen ("links directly to the attachment"), the type id is implied by the seen
//! `consignmentAttachmentTypes` lookup — and the link is a token-less `/blob/attachments/{id}/{name}`
//! outside `/v1/`, standing in for storage; lookup rows are `{id, name}`; the create answer is
//! 200 with no `Location`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::query::{Params, page};
use super::render;
use super::{json_response, visible_consignment};
use crate::auth;
use crate::booking::parse_json;
use crate::clock;
use crate::handle::SimHandle;
use crate::problem::ApiError;
use crate::profile::Profile;
use crate::reference;
use crate::world::{Consignment, World};

/// The §1.7 read model, with the route details when asked for.
pub(crate) fn consignment(world: &World, c: &Consignment, route_details: bool) -> Value {
    let status = c.status();
    let col_date = c.collected_at.map_or(c.planned_collection_date, clock::today);
    let time = |t: Option<jiff::civil::Time>| t.map_or(Value::Null, |t| json!(clock::format_time(t)));
    json!({
        "consignmentNumber": c.number,
        "consignmentID": c.id,
        "customerReference": c.customer_reference,
        "status": { "id": Profile::Seen.id_of(status), "name": status.name },
        "estimatedDelDate": clock::format_date(c.estimated_del_date),
        "estimatedDelTime": time(c.estimated_del_time),
        "startWindow": time(c.start_window),
        "endWindow": time(c.end_window),
        "delAddressLine1": c.delivery_address.line1,
        "delAddressTown": c.delivery_address.town,
        "delAddressPostcode": c.delivery_address.postcode,
        "colDate": clock::format_date(col_date),
        "delDateTime": c.delivered_at.map_or(Value::Null, |t| json!(clock::format_datetime(t))),
        "routeDetails": if route_details { render::route_details(world, c) } else { json!([]) },
    })
}

/// The create properties public code sends (§1.6), by object, lower-cased.
const SEEN_CREATE_FIELDS: &[(&str, &[&str])] = &[
    (
        "general",
        &[
            "consignmenttypeid",
            "customerid",
            "customerreference",
            "consignmentnumber",
            "descriptionofgoods",
            "limitedquantities",
        ],
    ),
    ("collectioninfo", &["serviceid", "contact", "email", "duedate"]),
    ("deliveryinfo", &["serviceid", "contact", "email", "duedate"]),
    ("deliveryaddress", &["countryid", "name", "line1", "postcode", "telephone", "town"]),
    (
        "pallets",
        &["palletbaseid", "pallettypeid", "length", "width", "height", "weight", "limitedquantityweight", "donotstack"],
    ),
];

/// The create body with every property §1.6 does not show dropped, as ASP.NET's binder drops what
/// the bound type does not declare (names matched case-insensitively). Broken JSON is still `$`.
pub(crate) fn create_body(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let value = parse_json(body)?;
    let Value::Object(top) = value else {
        // Not an object: let the booking's binder say so.
        return Ok(body.to_vec());
    };
    let keep = |fields: &[&str], value: Value| match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(k, _)| fields.contains(&k.as_str())).collect()),
        other => other,
    };
    let mut out = Map::new();
    for (key, value) in top {
        let Some((_, fields)) = SEEN_CREATE_FIELDS.iter().find(|(name, _)| *name == key) else {
            continue;
        };
        let value = match value {
            Value::Array(items) if key == "pallets" => {
                Value::Array(items.into_iter().map(|item| keep(fields, item)).collect())
            }
            other => keep(fields, other),
        };
        out.insert(key, value);
    }
    Ok(serde_json::to_vec(&Value::Object(out)).unwrap_or_default())
}

/// The create answer public code reads: `consignmentID` and `successfulTrackingCodes` (the pallet
/// barcodes).
pub(crate) fn create_answer(c: &Consignment) -> Value {
    json!({
        "consignmentID": c.id,
        "successfulTrackingCodes": c.pallets.iter().map(|p| p.barcode.clone()).collect::<Vec<_>>(),
    })
}

/// `http://host:port` as the client addressed us.
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET consignments/{id}/attachments`: `[{attachmentTypeID, url}]`, the url a direct link.
pub(crate) async fn attachments(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    let origin = origin(&headers);
    let items: Vec<Value> = c
        .attachment_ids
        .iter()
        .filter_map(|a| world.attachments.get(a))
        .map(|a| {
            json!({
                "attachmentTypeID": a.type_id,
                "url": format!("{origin}/blob/attachments/{}/{}", a.id, a.file_name),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(items)))
}

/// `GET /blob/attachments/{id}/{name}`: an attachment's bytes, no token (a direct link).
pub(crate) async fn blob(State(sim): State<SimHandle>, Path((id, _name)): Path<(String, String)>) -> Response {
    let world = sim.world();
    match id.parse::<u64>().ok().and_then(|id| world.attachments.get(&id)) {
        Some(a) => (StatusCode::OK, [(header::CONTENT_TYPE, a.content_type.clone())], a.bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The five seen lookups, `{id, name}` rows; `searchTerm` matches names containing it.
fn lookup_rows(lookup: &str) -> Option<Vec<Value>> {
    let rows = match lookup {
        "consignmentstatuses" => Profile::Seen.statuses().map(|(id, s)| json!({ "id": id, "name": s.name })).collect(),
        "consignmenttypes" => {
            reference::CONSIGNMENT_TYPES.iter().map(|t| json!({ "id": t.id, "name": t.name })).collect()
        }
        "consignmentattachmenttypes" => {
            reference::ATTACHMENT_TYPES.iter().map(|t| json!({ "id": t.id, "name": t.name })).collect()
        }
        "countries" => reference::COUNTRIES.iter().map(|c| json!({ "id": c.id, "name": c.name })).collect(),
        "currencytypes" => reference::CURRENCIES.iter().map(|c| json!({ "id": c.id, "name": c.name })).collect(),
        _ => return None,
    };
    Some(rows)
}

/// The lookup routes of the seen profile (each its own route, so anything else is no route at all).
pub(crate) const LOOKUPS: &[&str] =
    &["consignmentstatuses", "consignmenttypes", "consignmentattachmenttypes", "countries", "currencytypes"];

/// `GET {lookup}` for one of [`LOOKUPS`].
pub(crate) async fn lookup(
    sim: SimHandle,
    name: &'static str,
    headers: HeaderMap,
    query: Vec<(String, String)>,
) -> Result<Response, ApiError> {
    auth::authenticate(&sim.world(), &headers)?;
    let params = Params::new(query);
    let (limit, offset) = params.paging_in(Profile::Seen)?;
    let term = params.get("searchTerm").map(str::to_lowercase);
    let rows: Vec<Value> = lookup_rows(name)
        .unwrap_or_default()
        .into_iter()
        .filter(|row| {
            term.as_ref().is_none_or(|term| row["name"].as_str().is_some_and(|n| n.to_lowercase().contains(term)))
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(page(rows, limit, offset))))
}
