//! Lookups (§3.3 #12): `consignmentStatuses`, `consignmentTypes`, `consignmentAttachmentTypes`,
//! `countries`, `currencyTypes` (seen) and `services`, `timeWindows`, `extras`, `palletTypes`,
//! `palletBases`, `depots` (designed). Each answers a bare array of `{id, code, name, …}` with
//! `X-Total-Count`; `searchTerm` matches names containing it (seen) or, an addition, the code exactly.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::list_response;
use super::query::{Params, page};
use super::render::number;
use crate::auth;
use crate::handle::SimHandle;
use crate::problem::ApiError;
use crate::profile::Profile;
use crate::reference;
use crate::world::World;

fn rows(world: &World, lookup: &str) -> Option<Vec<Value>> {
    let rows = match lookup {
        // The lookup is the source of truth for status ids; the read model and the statusID filter
        // use the same table (Profile::statuses).
        "consignmentstatuses" => Profile::Full
            .statuses()
            .map(|(id, s)| json!({ "id": id, "code": s.code, "name": s.name, "terminal": s.terminal }))
            .collect(),
        "consignmenttypes" => {
            reference::CONSIGNMENT_TYPES.iter().map(|t| json!({ "id": t.id, "code": t.code, "name": t.name })).collect()
        }
        "consignmentattachmenttypes" => {
            reference::ATTACHMENT_TYPES.iter().map(|t| json!({ "id": t.id, "code": t.code, "name": t.name })).collect()
        }
        "countries" => {
            reference::COUNTRIES.iter().map(|c| json!({ "id": c.id, "code": c.code, "name": c.name })).collect()
        }
        "currencytypes" => {
            reference::CURRENCIES.iter().map(|c| json!({ "id": c.id, "code": c.code, "name": c.name })).collect()
        }
        "services" => reference::SERVICES
            .iter()
            .map(|s| json!({ "id": s.id, "code": s.code, "name": s.name, "leadTimeWorkingDays": s.lead_working_days }))
            .collect(),
        "timewindows" => reference::TIME_WINDOWS
            .iter()
            .map(|w| json!({ "id": w.id, "code": w.code, "name": w.name, "rule": w.rule }))
            .collect(),
        "extras" => reference::EXTRAS.iter().map(|e| json!({ "id": e.id, "code": e.code, "name": e.name })).collect(),
        "pallettypes" => reference::PALLET_TYPES
            .iter()
            .map(|t| {
                json!({
                    "id": t.id,
                    "code": t.code,
                    "name": t.name,
                    "maxWeight": number(t.max_weight_kg),
                    "maxHeight": number(t.max_height_cm),
                    "palletSpaces": number(t.pallet_spaces),
                })
            })
            .collect(),
        "palletbases" => {
            reference::PALLET_BASES.iter().map(|b| json!({ "id": b.id, "code": b.code, "name": b.name })).collect()
        }
        "depots" => world
            .depots
            .values()
            .map(|d| {
                json!({
                    "id": d.id,
                    "code": d.code,
                    "name": d.name,
                    "town": d.town,
                    "postcode": d.postcode,
                    "networks": d.networks.iter().map(|n| n.code()).collect::<Vec<_>>(),
                    "postcodeAreas": d.postcode_areas,
                })
            })
            .collect(),
        _ => return None,
    };
    Some(rows)
}

pub(crate) async fn lookup(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(lookup): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let Some(all) = rows(&world, &lookup.to_ascii_lowercase()) else {
        // No such lookup is no route: a bare 404, as for any other unknown path.
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    auth::authenticate(&world, &headers)?;
    let params = Params::new(query);
    let (limit, offset) = params.paging()?;
    let term = params.get("searchTerm").map(str::to_lowercase);
    let matching: Vec<Value> = all
        .into_iter()
        .filter(|row| {
            term.as_ref().is_none_or(|term| {
                row["name"].as_str().is_some_and(|n| n.to_lowercase().contains(term))
                    || row["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(term))
            })
        })
        .collect();
    let total = matching.len();
    Ok(list_response(page(matching, limit, offset), total))
}
