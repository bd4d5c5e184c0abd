//! Create, list, detail, labels and cancel (§3.3 #1–#5). In the seen profile (see [`Profile`])
//! the list acts only on the seen filters, the read model is the seen one ([`seen`]), the create
//! body keeps only the §1.6 fields and the answer is `{consignmentID, successfulTrackingCodes}`,
//! and labels ignore `format`/`palletID`; cancel is not routed at all.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde_json::json;

use super::query::{Params, page};
use super::render::{self, Include};
use super::seen;
use super::{InjectedDelay, base_url, json_response, list_response, require_json, visible_consignment};
use crate::auth;
use crate::booking;
use crate::clock;
use crate::handle::SimHandle;
use crate::labels::{self, LabelContext};
use crate::lifecycle;
use crate::problem::ApiError;
use crate::profile::Profile;
use crate::world::{Consignment, Pallet};

pub(crate) async fn create(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    require_json(&headers)?;
    if sim.profile() == Profile::Seen {
        // ASP.NET drops what the bound type does not declare: only the §1.6 fields reach the booking.
        let seen_body = seen::create_body(&body)?;
        let id = booking::book(&mut world, &principal, &seen_body)?;
        return Ok(json_response(StatusCode::OK, &seen::create_answer(&world.consignments[&id])));
    }
    let id = booking::book(&mut world, &principal, &body)?;
    let c = &world.consignments[&id];
    let mut body = render::consignment(&world, c, &Include::default(), Some(&base_url(&headers)));
    body["successfulTrackingCodes"] = json!(c.pallets.iter().map(|p| p.barcode.clone()).collect::<Vec<_>>());
    let mut response = json_response(StatusCode::CREATED, &body);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/consignments/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// An inclusive date range filter, from `min…`/`max…` parameters.
struct DateRange {
    min: Option<Date>,
    max: Option<Date>,
}

impl DateRange {
    fn parse(params: &Params, name: &str) -> Result<DateRange, ApiError> {
        Ok(DateRange { min: params.date(&format!("min{name}"))?, max: params.date(&format!("max{name}"))? })
    }

    fn is_set(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    fn admits(&self, date: Option<Date>) -> bool {
        if !self.is_set() {
            return true;
        }
        date.is_some_and(|d| self.min.is_none_or(|min| d >= min) && self.max.is_none_or(|max| d <= max))
    }
}

/// The `GET /v1/consignments` filters: the seen ones (§1.4) and the designed `deliveryDepotCode`,
/// `collectingDepotCode`, `minLastUpdated`.
struct ListFilter {
    customer_id: Option<u64>,
    consignment_type_id: Option<u64>,
    /// The statuses asked for by `statusID`, by code (ids are the profile's, see [`Profile::statuses`]).
    status_codes: Vec<&'static str>,
    created: DateRange,
    manifest: DateRange,
    estimated_collection: DateRange,
    estimated_delivery: DateRange,
    collection: DateRange,
    delivery: DateRange,
    search_term: Option<String>,
    delivery_depot: Option<String>,
    collecting_depot: Option<String>,
    min_last_updated: Option<jiff::Timestamp>,
}

impl ListFilter {
    /// The filters `profile` acts on; in seen, the invented `deliveryDepotCode`,
    /// `collectingDepotCode` and `minLastUpdated` are ignored like any unknown query key.
    fn parse(params: &Params, profile: Profile) -> Result<ListFilter, ApiError> {
        let mut status_codes = Vec::new();
        for raw in params.all("statusID") {
            match raw.parse::<u32>().ok().map(|id| profile.status_with_id(id)) {
                Some(Some(status)) => status_codes.push(status.code),
                // A number that is no status matches nothing in seen (ASP.NET binds any int).
                Some(None) if profile == Profile::Seen => status_codes.push("(none)"),
                _ => {
                    return Err(ApiError::field(
                        "statusID",
                        format!("'{raw}' is not a consignment status id (see GET /v1/consignmentStatuses)."),
                    ));
                }
            }
        }
        let invented = profile == Profile::Full;
        let min_last_updated = match params.get("minLastUpdated").filter(|_| invented) {
            None => None,
            Some(raw) => Some(clock::parse_datetime(raw).ok_or_else(|| {
                ApiError::field("minLastUpdated", format!("'{raw}' is not a datetime like 2026-06-17T10:00:00."))
            })?),
        };
        Ok(ListFilter {
            customer_id: params.number("customerID")?,
            consignment_type_id: params.number("consignmentTypeID")?,
            status_codes,
            created: DateRange::parse(params, "CreatedDate")?,
            manifest: DateRange::parse(params, "ManifestDate")?,
            estimated_collection: DateRange::parse(params, "EstimatedCollectionDate")?,
            estimated_delivery: DateRange::parse(params, "EstimatedDeliveryDate")?,
            collection: DateRange::parse(params, "CollectionDate")?,
            delivery: DateRange::parse(params, "DeliveryDate")?,
            search_term: params.get("searchTerm").map(str::to_owned),
            delivery_depot: params.get("deliveryDepotCode").filter(|_| invented).map(str::to_ascii_uppercase),
            collecting_depot: params.get("collectingDepotCode").filter(|_| invented).map(str::to_ascii_uppercase),
            min_last_updated,
        })
    }

    fn admits(&self, c: &Consignment) -> bool {
        self.customer_id.is_none_or(|id| c.customer_id == id)
            && self.consignment_type_id.is_none_or(|id| u64::from(c.type_id) == id)
            && (self.status_codes.is_empty() || self.status_codes.contains(&c.status().code))
            && self.created.admits(Some(clock::today(c.created_at)))
            && self.manifest.admits(c.manifested_at.map(clock::today))
            && self.estimated_collection.admits(Some(c.planned_collection_date))
            && self.estimated_delivery.admits(Some(c.estimated_del_date))
            && self.collection.admits(c.collected_at.map(clock::today))
            && self.delivery.admits(c.delivered_at.map(clock::today))
            && self.delivery_depot.as_ref().is_none_or(|d| c.delivery_depot == *d)
            && self.collecting_depot.as_ref().is_none_or(|d| c.collecting_depot == *d)
            && self.min_last_updated.is_none_or(|t| c.last_updated >= t)
            && self.search_term.as_ref().is_none_or(|term| matches_search(c, term))
    }
}

/// `searchTerm` (§1.4): start or end of the consignment number, the customer reference exactly, a
/// pallet barcode, or the consignment id.
fn matches_search(c: &Consignment, term: &str) -> bool {
    let term = term.trim().to_ascii_lowercase();
    if term.is_empty() {
        return true;
    }
    let number = c.number.to_ascii_lowercase();
    number.starts_with(&term)
        || number.ends_with(&term)
        || c.customer_reference.as_ref().is_some_and(|r| r.eq_ignore_ascii_case(&term))
        || c.pallets.iter().any(|p| p.barcode == term)
        || c.id.to_string() == term
}

pub(crate) async fn list(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let profile = sim.profile();
    let params = Params::new(query);
    let (limit, offset) = params.paging_in(profile)?;
    let filter = ListFilter::parse(&params, profile)?;
    let mut matches: Vec<&Consignment> =
        world.consignments.values().filter(|c| world.can_see(&principal, c) && filter.admits(c)).collect();
    if profile == Profile::Seen {
        // No `lastUpdated` to order by: by id, and no `X-Total-Count` (not seen).
        matches.sort_by_key(|c| c.id);
        let items = page(matches, limit, offset).into_iter().map(|c| seen::consignment(&world, c, false)).collect();
        return Ok(json_response(StatusCode::OK, &serde_json::Value::Array(items)));
    }
    matches.sort_by_key(|c| (c.last_updated, c.id));
    let total = matches.len();
    let base = base_url(&headers);
    let items = page(matches, limit, offset)
        .into_iter()
        .map(|c| render::consignment(&world, c, &Include::default(), Some(&base)))
        .collect();
    Ok(list_response(items, total))
}

pub(crate) async fn detail(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    let params = Params::new(query);
    if sim.profile() == Profile::Seen {
        // Only `include=routedetails` is seen; other values are ignored.
        let route_details = params
            .all("include")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|part| part.trim().eq_ignore_ascii_case("routedetails"));
        return Ok(json_response(StatusCode::OK, &seen::consignment(&world, c, route_details)));
    }
    let include = Include::parse(&params.all("include")).map_err(|e| ApiError::field("include", e))?;
    Ok(json_response(StatusCode::OK, &render::consignment(&world, c, &include, Some(&base_url(&headers)))))
}

pub(crate) async fn labels(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::new(query);
    // `format` and `palletID` are invented: the seen profile ignores them (a PDF of every pallet).
    let invented = sim.profile() == Profile::Full;
    let (bytes, content_type, file_name) = {
        let mut world = sim.world();
        let principal = auth::authenticate(&world, &headers)?;
        let c = visible_consignment(&world, &principal, &id)?;
        if c.cancelled {
            return Err(ApiError::not_found(format!("Consignment {id} is cancelled; its labels are no longer valid.")));
        }
        let format = params.get("format").filter(|_| invented).unwrap_or("pdf").to_ascii_lowercase();
        if format != "pdf" && format != "zpl" {
            return Err(ApiError::field("format", format!("'{format}' is not a label format; use pdf or zpl.")));
        }
        let pallets: Vec<&Pallet> = match params.get("palletID").filter(|_| invented) {
            None => c.pallets.iter().collect(),
            Some(raw) => {
                let found = c.pallets.iter().find(|p| p.id.to_string() == raw);
                vec![found.ok_or_else(|| ApiError::not_found(format!("Consignment {id} has no pallet {raw}.")))?]
            }
        };
        let roles = world.roles(&principal, c);
        let context = LabelContext { consignment: c, network_name: c.network.name() };
        let number = c.number.clone();
        let consignment_id = c.id;
        let output = if format == "pdf" {
            (labels::pdf_labels(&context, &pallets), "application/pdf", format!("labels_{number}.pdf"))
        } else {
            (
                labels::zpl_labels(&context, &pallets).into_bytes(),
                "text/plain; charset=utf-8",
                format!("labels_{number}.zpl"),
            )
        };
        // Printing labels manifests the consignment when its sender or collector prints them.
        if roles.requesting || roles.collecting || roles.customer {
            lifecycle::mark_manifested(&mut world, consignment_id);
        }
        output
    };
    let delay = sim.faults().settings.label_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let disposition = format!("inline; filename=\"{}\"", file_name.replace('"', ""));
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response();
    response.extensions_mut().insert(InjectedDelay(delay));
    Ok(response)
}

pub(crate) async fn cancel(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    let roles = world.roles(&principal, c);
    if !(roles.requesting || roles.customer) {
        return Err(ApiError::forbidden(format!(
            "Only the booking depot {} or the customer can cancel consignment {id}.",
            c.requesting_depot
        )));
    }
    let consignment_id = c.id;
    lifecycle::cancel(&mut world, consignment_id, &principal.username)?;
    let c = &world.consignments[&consignment_id];
    Ok(json_response(StatusCode::OK, &render::consignment(&world, c, &Include::default(), Some(&base_url(&headers)))))
}
