//! Scan events (§3.3 #6, #7) and the Optimize ETA (§3.3 #11).
//!
//! `POST …/events` takes one scan or an array of them: `{"code": "ARRD", "barcode": "…",
//! "palletID": 5001, "eventDateTime": "2026-06-18T05:42:00", "notes": "…"}`; without `barcode` and
//! `palletID` the scan applies to every pallet (one event per barcode). Invented rules: the collecting
//! depot may post `POC`/`ARRC`/`SCOT`, the delivery depot `ARRD`…`RTNS` (a depot with both roles, both);
//! hub scans and `ETA`/`CANC` are the network's own (403); customers get 403; an `eventDateTime` in the
//! future is refused, one in the past is accepted (a late scan) and `lastUpdated` still moves to now;
//! a scan that would move a pallet backwards is recorded in the history without changing its stage.
//! `GET …/events` returns the whole history unless `limit`/`offset` are given.
//!
//! `PUT …/eta` needs the bearer token of the delivery depot and the Optimize key in the
//! `X-Optimize-Key` header (invented name): missing key 401, wrong key 403.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::query::{Params, page};
use super::render::{self, Include};
use super::{base_url, json_response, list_response, require_json, visible_consignment};
use crate::OPTIMIZE_KEY_HEADER;
use crate::auth;
use crate::booking::{Num, bind_value, parse_json};
use crate::clock;
use crate::handle::SimHandle;
use crate::lifecycle::{self, Eta};
use crate::problem::{ApiError, FieldErrors};
use crate::reference::{self, Leg};
use crate::world::Source;

pub(crate) async fn list_events(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    let params = Params::new(query);
    let events: Vec<Value> = render::sorted_events(c).into_iter().map(render::event).collect();
    let total = events.len();
    let events = if params.get("limit").is_some() || params.get("offset").is_some() {
        let (limit, offset) = params.paging()?;
        page(events, limit, offset)
    } else {
        events
    };
    Ok(list_response(events, total))
}

#[derive(Debug, Deserialize)]
struct ScanIn {
    code: Option<String>,
    barcode: Option<String>,
    #[serde(rename = "palletid")]
    pallet_id: Option<Num>,
    #[serde(rename = "eventdatetime")]
    event_date_time: Option<String>,
    notes: Option<String>,
}

pub(crate) async fn post_events(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    require_json(&headers)?;
    let (items, many) = match parse_json(&body)? {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    let mut scans = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if many { format!("$[{i}]") } else { "$".to_owned() };
        scans.push(bind_value::<ScanIn>(item, &prefix)?);
    }
    let c = visible_consignment(&world, &principal, &id)?;
    let Some(depot) = principal.depot().map(str::to_owned) else {
        return Err(ApiError::forbidden("Customer accounts cannot post scan events; only member depots can."));
    };
    if c.cancelled {
        return Err(ApiError::conflict("The consignment is cancelled.", format!("Consignment {id} is cancelled.")));
    }
    if scans.is_empty() {
        return Err(ApiError::field("$", "Send at least one scan event."));
    }
    let roles = world.roles(&principal, c);
    let mut errors = FieldErrors::default();
    let mut planned = Vec::new();
    for (i, scan) in scans.iter().enumerate() {
        let key = |field: &str| if many { format!("[{i}].{field}") } else { field.to_owned() };
        let Some(code) = scan.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            errors.add(key("Code"), "The Code field is required.");
            continue;
        };
        let Some(definition) = reference::scan_def(code) else {
            errors.add(key("Code"), format!("'{code}' is not a scan code."));
            continue;
        };
        match definition.leg {
            Leg::Collection if !roles.collecting => {
                return Err(ApiError::forbidden(format!(
                    "{} is a collection scan; only the collecting depot {} can post it for consignment {id}.",
                    definition.code, c.collecting_depot
                )));
            }
            Leg::Delivery if !roles.delivering => {
                return Err(ApiError::forbidden(format!(
                    "{} is a delivery scan; only the delivery depot {} can post it for consignment {id}.",
                    definition.code, c.delivery_depot
                )));
            }
            Leg::Hub | Leg::Admin => {
                return Err(ApiError::forbidden(format!(
                    "{} is recorded by the network itself; depots cannot post it.",
                    definition.code
                )));
            }
            _ => {}
        }
        let mut pallets: Vec<usize> = (0..c.pallets.len()).collect();
        if let Some(barcode) = scan.barcode.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            match c.pallets.iter().position(|p| p.barcode == barcode) {
                Some(index) => pallets = vec![index],
                None => errors.add(key("Barcode"), format!("Barcode {barcode} is not on consignment {id}.")),
            }
        }
        if let Some(pallet_id) = scan.pallet_id {
            let wanted = pallet_id.as_id().unwrap_or(0);
            match c.pallets.iter().position(|p| p.id == wanted) {
                Some(index) if pallets.len() == 1 && pallets[0] != index => {
                    errors.add(key("PalletID"), format!("Pallet {wanted} does not carry the barcode given."));
                }
                Some(index) => pallets = vec![index],
                None => errors.add(key("PalletID"), format!("Pallet {wanted} is not on consignment {id}.")),
            }
        }
        let at = match scan.event_date_time.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => world.now,
            Some(raw) => match clock::parse_datetime(raw) {
                None => {
                    errors.add(key("EventDateTime"), format!("'{raw}' is not a datetime like 2026-06-18T05:42:00."));
                    continue;
                }
                Some(at) if at > world.now => {
                    errors.add(
                        key("EventDateTime"),
                        format!("{raw} is in the future (it is now {}).", clock::format_datetime(world.now)),
                    );
                    continue;
                }
                Some(at) => clock::whole_seconds(at),
            },
        };
        planned.push((definition, pallets, at, scan.notes.clone()));
    }
    errors.into_result()?;
    let consignment_id = c.id;
    let mut created = Vec::new();
    for (definition, pallets, at, notes) in planned {
        for index in pallets {
            created.push(lifecycle::record_scan(
                &mut world,
                consignment_id,
                index,
                definition,
                at,
                Source::DepotApi,
                Some(depot.clone()),
                notes.clone(),
            ));
        }
    }
    let c = &world.consignments[&consignment_id];
    let events: Vec<Value> = c.events.iter().filter(|e| created.contains(&e.id)).map(render::event).collect();
    Ok(json_response(StatusCode::CREATED, &Value::Array(events)))
}

#[derive(Debug, Deserialize)]
struct EtaIn {
    #[serde(rename = "estimateddeldate")]
    estimated_del_date: Option<String>,
    #[serde(rename = "estimateddeltime")]
    estimated_del_time: Option<String>,
    #[serde(rename = "startwindow")]
    start_window: Option<String>,
    #[serde(rename = "endwindow")]
    end_window: Option<String>,
}

pub(crate) async fn put_eta(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let key = headers.get(OPTIMIZE_KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::unauthorized(format!(
            "The Optimize key is required in the {OPTIMIZE_KEY_HEADER} header."
        )));
    }
    if key != world.optimize_key {
        return Err(ApiError::forbidden("The Optimize key is not valid."));
    }
    require_json(&headers)?;
    let input: EtaIn = bind_value(parse_json(&body)?, "$")?;
    let mut errors = FieldErrors::default();
    let today = clock::today(world.now);
    let time_field = |errors: &mut FieldErrors, name: &str, raw: &Option<String>| {
        raw.as_deref().map(str::trim).filter(|r| !r.is_empty()).and_then(|raw| {
            let parsed = clock::parse_time(raw);
            if parsed.is_none() {
                errors.add(name, format!("'{raw}' is not a time in the format HH:mm."));
            }
            parsed
        })
    };
    let time = time_field(&mut errors, "EstimatedDelTime", &input.estimated_del_time);
    let start_window = time_field(&mut errors, "StartWindow", &input.start_window);
    let end_window = time_field(&mut errors, "EndWindow", &input.end_window);
    let date = match input.estimated_del_date.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(raw) => match clock::parse_date(raw) {
            None => {
                errors.add("EstimatedDelDate", format!("'{raw}' is not a date in the format yyyy-MM-dd."));
                None
            }
            Some(date) if date < today => {
                errors.add("EstimatedDelDate", format!("{raw} is in the past."));
                None
            }
            Some(date) => Some(date),
        },
    };
    if input.estimated_del_date.is_none() && input.estimated_del_time.is_none() {
        errors.add("EstimatedDelDate", "Send estimatedDelDate and/or estimatedDelTime.");
    }
    if start_window.is_some() != end_window.is_some() {
        errors.add("EndWindow", "Send startWindow and endWindow together.");
    }
    if let (Some(start), Some(end)) = (start_window, end_window)
        && end <= start
    {
        errors.add("EndWindow", "The window must end after it starts.");
    }
    errors.into_result()?;
    let c = visible_consignment(&world, &principal, &id)?;
    if !world.roles(&principal, c).delivering {
        return Err(ApiError::forbidden(format!(
            "Only the delivery depot {} can send an ETA for consignment {id}.",
            c.delivery_depot
        )));
    }
    let consignment_id = c.id;
    let depot = principal.depot().unwrap_or_default().to_owned();
    lifecycle::set_eta(&mut world, consignment_id, &depot, &Eta { date, time, start_window, end_window })?;
    let c = &world.consignments[&consignment_id];
    Ok(json_response(StatusCode::OK, &render::consignment(&world, c, &Include::default(), Some(&base_url(&headers)))))
}
