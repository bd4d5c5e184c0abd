//! The scenario API: what a planner, a driver or the route optimiser would do in Qargo, so a test or
//! a demo can run from Qargo's side. Every operation exists twice with the same JSON: as a method of
//! [`SimHandle`] and as a `POST` under `/_sim/` (no auth). See the README for the request shapes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::errors::{ApiError, FieldError};
use crate::model::{OutboundRecord, ScanRecord, Signature, StatusUpdateRecord, StopEvent};
use crate::options::DocumentDelivery;
use crate::outbound;
use crate::render;
use crate::server::{AppState, Faults, RequestCounts};
use crate::validate::{Mode, validate_order};
use crate::webhooks::parse_offset_datetime;
use crate::wire::OrderInput;
use crate::world::{StopRef, now, planned_eta};

/// A customer to create: `{name, code, additional_fields: {"PallexID": "…", "FortecID": "…"},
/// contact_name, email, phone_number}` (`custom_fields` is accepted for `additional_fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// Name (unique).
    pub name: String,
    /// Code (unique), used by `OrderInput.customer.code`.
    #[serde(default)]
    pub code: Option<String>,
    /// Additional fields, e.g. `PallexID` / `FortecID`; served as the company's `custom_fields`.
    #[serde(default, alias = "custom_fields")]
    pub additional_fields: Map<String, Value>,
    /// Contact person.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// Contact e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Contact phone.
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// The trip an order is planned on: the subcontractor resource's code (`PALLEX_OUT`, `FORTEC_OUT`
/// or any other code, to provoke errors) and optional names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TripSpec {
    /// The resource code.
    pub resource_code: String,
    /// The resource's name (default `PALL-EX` / `Fortec` / `Subcontractor`).
    #[serde(default)]
    pub resource_name: Option<String>,
    /// The trip's name (default `TR-<n>`).
    #[serde(default)]
    pub name: Option<String>,
    /// The trip's additional fields.
    #[serde(default)]
    pub custom_fields: Map<String, Value>,
}

/// An order to create: Qargo's `OrderInput` (without `operation`; `order_identifier` optional) plus
/// an optional `trip` to plan it on at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioOrder {
    /// The order.
    #[serde(flatten)]
    pub order: OrderInput,
    /// Plan it on a new trip with this resource.
    #[serde(default)]
    pub trip: Option<TripSpec>,
}

/// A trip to create: `{order_ids: [...], resource_code, resource_name?, name?, custom_fields?}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TripInput {
    /// The orders on it (several orders make a multi-consignment trip).
    pub order_ids: Vec<Uuid>,
    /// The resource and names.
    #[serde(flatten)]
    pub spec: TripSpec,
}

/// A created trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedTrip {
    /// UUID.
    pub trip_id: Uuid,
    /// `TR-<n>`.
    pub trip_name: String,
    /// The resource code.
    pub resource_code: String,
}

/// A created consignment's ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedConsignment {
    /// UUID.
    pub consignment_id: Uuid,
    /// Pickup stop UUID.
    pub pickup_stop_id: Uuid,
    /// Delivery stop UUID.
    pub delivery_stop_id: Uuid,
    /// Its handling units' barcodes.
    pub barcodes: Vec<String>,
}

/// A created order's ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedOrder {
    /// UUID.
    pub order_id: Uuid,
    /// `OR-<n>`.
    pub order_name: String,
    /// The customer's UUID.
    pub customer_id: Uuid,
    /// The first consignment's pickup stop.
    pub pickup_stop_id: Uuid,
    /// The first consignment's delivery stop.
    pub delivery_stop_id: Uuid,
    /// Every consignment.
    pub consignments: Vec<CreatedConsignment>,
    /// The trip, when one was asked for.
    pub trip: Option<CreatedTrip>,
}

/// `{operation: "CREATE" | "UPDATE" | "CANCEL"}` (default CREATE).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchRequest {
    /// The operation.
    #[serde(default)]
    pub operation: Option<String>,
}

/// `{at?}`: when the driver arrived / completed (datetime with offset; default now).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopAction {
    /// When.
    #[serde(default)]
    pub at: Option<String>,
}

/// A signature captured at a stop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignatureInput {
    /// Who signed.
    pub name: String,
    /// The PNG, base64; default: a small generated PNG.
    #[serde(default)]
    pub png_base64: Option<String>,
    /// File name (default `signature.png`).
    #[serde(default)]
    pub filename: Option<String>,
    /// `CONSIGNEE` (default), `CONSIGNOR` or `DRIVER`.
    #[serde(default)]
    pub signature_type: Option<String>,
    /// `{latitude, longitude}`.
    #[serde(default)]
    pub position: Option<Value>,
    /// When (default now).
    #[serde(default)]
    pub at: Option<String>,
    /// Embed the file in the `Document` event instead of a `download_url`.
    #[serde(default)]
    pub embed: Option<bool>,
}

/// A photo taken at a stop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhotoInput {
    /// The JPEG, base64; default: a small generated JPEG.
    #[serde(default)]
    pub jpeg_base64: Option<String>,
    /// File name (default `photo.jpg`).
    #[serde(default)]
    pub filename: Option<String>,
    /// When (default now).
    #[serde(default)]
    pub at: Option<String>,
    /// Embed the file in the `Document` event instead of a `download_url`.
    #[serde(default)]
    pub embed: Option<bool>,
}

/// Any document attached to a stop (e.g. a scanned signed delivery note).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentInput {
    /// Qargo document type, e.g. `PROOF_OF_DELIVERY_SIGNED`.
    pub document_type: String,
    /// The bytes, base64.
    pub content_base64: String,
    /// MIME type.
    pub content_type: String,
    /// File name (default `<document_type>.<ext>`).
    #[serde(default)]
    pub filename: Option<String>,
    /// Embed the file in the `Document` event instead of a `download_url`.
    #[serde(default)]
    pub embed: Option<bool>,
}

/// One stop's new ETA.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtaStop {
    /// The stop.
    pub stop_id: Uuid,
    /// New ETA start (with offset).
    pub eta_start: String,
    /// New ETA end (with offset; default start + the old window length, or 30 minutes).
    #[serde(default)]
    pub eta_end: Option<String>,
}

/// A re-optimisation: explicit ETAs for some stops, or every stop of the trip not yet started
/// shifted by `shift_minutes` (default 30).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtaInput {
    /// Explicit ETAs.
    #[serde(default)]
    pub stops: Vec<EtaStop>,
    /// Shift when `stops` is empty.
    #[serde(default)]
    pub shift_minutes: Option<i64>,
}

/// What a scenario action did: the document it stored (if any) and the webhook calls it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioOutcome {
    /// The stored document.
    pub document_id: Option<Uuid>,
    /// The outbound calls, with the bridge's answers.
    pub outbound: Vec<OutboundRecord>,
}

/// A file a scenario action stores on a stop.
struct FileToStore {
    name: String,
    document_type: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// The library handle on a running simulator: the scenario API, admin reads and switches.
#[derive(Debug, Clone)]
pub struct SimHandle {
    pub(crate) state: AppState,
}

fn parse_at(at: &Option<String>) -> Result<Timestamp, ApiError> {
    match at.as_deref() {
        None => Ok(now()),
        Some(text) => parse_offset_datetime(text).ok_or_else(|| {
            ApiError::bad_request(FieldError::at(
                "$.at",
                format!("at '{text}' must be a datetime with an offset"),
                "invalid_format",
            ))
        }),
    }
}

fn decode_base64(path: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| ApiError::bad_request(FieldError::at(path, format!("not base64: {e}"), "invalid_format")))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(FieldError::at(path, "the file is empty", "missing")));
    }
    Ok(bytes)
}

/// Removes every `null` (what an absent `Option` serialises to) from `value`, recursively.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Gives a scenario order what the spec's `OrderInput` requires and a scenario order may leave
/// out: `operation` (`CREATE`) and `order_identifier` (a placeholder).
pub(crate) fn with_scenario_defaults(mut value: Value) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.entry("operation").or_insert_with(|| "CREATE".into());
        map.entry("order_identifier").or_insert_with(|| "scenario-order".into());
    }
    value
}

/// The `OrderInput` a scenario order stands for, as the spec's schema checks it.
fn scenario_order_input(order: &OrderInput) -> Value {
    with_scenario_defaults(without_nulls(serde_json::to_value(order).unwrap_or(Value::Null)))
}

impl SimHandle {
    /// `http://host:port/` of the simulator.
    pub fn base_url(&self) -> String {
        format!("{}/", self.state.base_url)
    }

    /// Request counts per route of Qargo's API (not `/_sim/`).
    pub fn request_counts(&self) -> RequestCounts {
        self.state.request_counts()
    }

    /// Zeroes the request counts and empties the request log.
    pub fn reset_request_counts(&self) {
        self.state.reset_request_counts()
    }

    /// Every request to a Qargo route since the start (or the last reset), in arrival order, with
    /// its arrival instant on the simulator's clock and how long it took: what a benchmark needs to
    /// check a client's pace (requests in any 1 s window) or to tell the simulator's time apart.
    pub fn request_log(&self) -> Vec<crate::server::RequestRecord> {
        self.state.request_log()
    }

    /// Every key Qargo's spec does not define that arrived in a request body (path and route),
    /// oldest first — what real Qargo would silently ignore. With `SimOptions::strict_unknown_keys`
    /// the requests carrying them were refused (`refused: true`).
    pub fn unknown_keys(&self) -> Vec<crate::server::UnknownKeyRecord> {
        self.state.unknown_keys()
    }

    /// How many request bodies were checked against Qargo's spec, and how many were refused.
    pub fn spec_checks(&self) -> crate::server::SpecChecks {
        self.state.spec_checks()
    }

    /// Makes every token issued so far expire now.
    pub fn expire_all_tokens(&self) {
        let now = self.state.clock.now();
        self.state.lock().tokens.expire_all(now);
    }

    /// Sets the lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: std::time::Duration) {
        self.state.lock().token_ttl = ttl;
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Creates a customer; returns its `CompanyOutput`.
    pub fn create_customer(&self, input: &CustomerInput) -> Result<Value, ApiError> {
        let mut world = self.state.lock();
        world.add_customer(input).map(render::customer_admin)
    }

    /// Creates an order, planned on a trip if asked. It is validated like an upload: against the
    /// spec's `OrderInput` schema first (`422`; `operation` reads as `CREATE` and a missing
    /// `order_identifier` as a placeholder), then the upload's semantic checks (`400`).
    pub fn create_order(&self, input: &ScenarioOrder) -> Result<CreatedOrder, ApiError> {
        let issues = crate::spec::issues("OrderInput", false, &scenario_order_input(&input.order));
        if !issues.is_empty() {
            return Err(ApiError::Unprocessable(crate::spec::http_issues(&issues)));
        }
        let mut world = self.state.lock();
        validate_order(&input.order, Mode::Scenario, &world.customers).map_err(ApiError::invalid)?;
        if let Some(identifier) = input.order.order_identifier.as_deref().map(str::trim).filter(|i| !i.is_empty())
            && world.order_by_identifier(identifier).is_some()
        {
            return Err(ApiError::Conflict(format!("order_identifier '{identifier}' is already taken")));
        }
        let order_id = world.create_order(&input.order, "scenario");
        let trip = match &input.trip {
            None => None,
            Some(spec) => {
                let trip_id = world.create_trip(
                    &[order_id],
                    &spec.resource_code,
                    spec.resource_name.as_deref(),
                    spec.name.as_deref(),
                    spec.custom_fields.clone(),
                )?;
                let trip = world.trip(trip_id).expect("just created");
                Some(CreatedTrip { trip_id, trip_name: trip.name.clone(), resource_code: trip.resource.code.clone() })
            }
        };
        let order = world.order(order_id).expect("just created");
        let consignments: Vec<CreatedConsignment> = order
            .consignments
            .iter()
            .map(|c| CreatedConsignment {
                consignment_id: c.id,
                pickup_stop_id: c.pickup.id,
                delivery_stop_id: c.delivery.id,
                barcodes: c.barcodes().map(str::to_string).collect(),
            })
            .collect();
        Ok(CreatedOrder {
            order_id,
            order_name: order.name.clone(),
            customer_id: order.customer_id,
            pickup_stop_id: consignments[0].pickup_stop_id,
            delivery_stop_id: consignments[0].delivery_stop_id,
            consignments,
            trip,
        })
    }

    /// Plans orders on a new trip with a subcontractor resource.
    pub fn create_trip(&self, input: &TripInput) -> Result<CreatedTrip, ApiError> {
        let mut world = self.state.lock();
        let spec = &input.spec;
        let trip_id = world.create_trip(
            &input.order_ids,
            &spec.resource_code,
            spec.resource_name.as_deref(),
            spec.name.as_deref(),
            spec.custom_fields.clone(),
        )?;
        let trip = world.trip(trip_id).expect("just created");
        Ok(CreatedTrip { trip_id, trip_name: trip.name.clone(), resource_code: trip.resource.code.clone() })
    }

    /// Completes the trip's resource dispatch task (`CREATE`), or sends `UPDATE` / `CANCEL`: POSTs the
    /// Subcontractor Dispatch webhook and returns the recorded call with the bridge's answer.
    pub async fn dispatch_trip(&self, trip_id: Uuid, operation: &str) -> Result<OutboundRecord, ApiError> {
        outbound::dispatch_trip(&self.state, trip_id, operation).await
    }

    fn stop_ref(&self, stop_id: Uuid) -> Result<StopRef, ApiError> {
        self.state.lock().stop_ref(stop_id).ok_or_else(|| ApiError::NotFound(format!("stop {stop_id}")))
    }

    /// The driver arrives at a stop: AT_STOP, then a `Stop` visibility event.
    pub async fn arrive_at_stop(&self, stop_id: Uuid, action: &StopAction) -> Result<ScenarioOutcome, ApiError> {
        self.move_stop(stop_id, action, "AT_STOP").await
    }

    /// The driver completes a stop: COMPLETED, then a `Stop` visibility event.
    pub async fn complete_stop(&self, stop_id: Uuid, action: &StopAction) -> Result<ScenarioOutcome, ApiError> {
        self.move_stop(stop_id, action, "COMPLETED").await
    }

    async fn move_stop(&self, stop_id: Uuid, action: &StopAction, status: &str) -> Result<ScenarioOutcome, ApiError> {
        let at_time = parse_at(&action.at)?;
        let order_id = {
            let mut world = self.state.lock();
            let at = world.stop_ref(stop_id).ok_or_else(|| ApiError::NotFound(format!("stop {stop_id}")))?;
            let order_id = world.orders[at.order].id;
            let stop = world.stop_mut(at);
            match (stop.status.as_str(), status) {
                ("CANCELLED", _) => return Err(ApiError::Conflict(format!("stop {stop_id} is cancelled"))),
                ("COMPLETED", _) => return Err(ApiError::Conflict(format!("stop {stop_id} is already COMPLETED"))),
                ("AT_STOP", "AT_STOP") => return Err(ApiError::Conflict(format!("stop {stop_id} is already AT_STOP"))),
                _ => {}
            }
            stop.status = status.to_string();
            stop.actual_start.get_or_insert(at_time);
            if status == "COMPLETED" {
                stop.actual_end = Some(at_time);
            }
            stop.history.push(StopEvent {
                status: Some(status.to_string()),
                eta_start: None,
                eta_end: None,
                event_time: at_time.to_string(),
                received_at: now().to_string(),
                source: "scenario".into(),
            });
            order_id
        };
        let record = outbound::send_stop_events(&self.state, order_id, &[stop_id]).await?;
        Ok(ScenarioOutcome { document_id: None, outbound: vec![record] })
    }

    fn delivery(&self, embed: Option<bool>) -> DocumentDelivery {
        match embed {
            Some(true) => DocumentDelivery::Embedded,
            Some(false) => DocumentDelivery::DownloadUrl,
            None => self.state.options.document_delivery,
        }
    }

    async fn store_and_announce(
        &self,
        stop_id: Uuid,
        file: FileToStore,
        embed: Option<bool>,
        signature: Option<Signature>,
    ) -> Result<ScenarioOutcome, ApiError> {
        let at = self.stop_ref(stop_id)?;
        let document_id = {
            let mut world = self.state.lock();
            let order_id = world.orders[at.order].id;
            if let Some(signature) = signature {
                world.orders[at.order].consignments[at.consignment].signatures.push(signature);
            }
            world.add_document(
                file.name,
                file.document_type,
                file.content_type,
                "STOP",
                Some(order_id),
                Some(stop_id),
                file.bytes,
                "scenario",
                None,
            )
        };
        let record = outbound::send_document_event(&self.state, document_id, self.delivery(embed)).await?;
        Ok(ScenarioOutcome { document_id: Some(document_id), outbound: vec![record] })
    }

    /// Captures a signature at a stop: a `CONSIGNEE_SIGNATURE` PNG document and a `Signature` on the
    /// consignment (name, time), then a `Document` visibility event.
    pub async fn capture_signature(&self, stop_id: Uuid, input: &SignatureInput) -> Result<ScenarioOutcome, ApiError> {
        if input.name.trim().is_empty() {
            return Err(ApiError::bad_request(FieldError::at("$.name", "the signatory's name is required", "missing")));
        }
        let at = parse_at(&input.at)?;
        let bytes = match &input.png_base64 {
            Some(text) => decode_base64("$.png_base64", text)?,
            None => crate::samples::png(&format!("Signed by {} at {at} for stop {stop_id}", input.name)),
        };
        let kind = input.signature_type.clone().unwrap_or_else(|| "CONSIGNEE".into());
        if !["CONSIGNEE", "CONSIGNOR", "DRIVER"].contains(&kind.as_str()) {
            return Err(ApiError::bad_request(FieldError::at(
                "$.signature_type",
                "signature_type must be CONSIGNEE, CONSIGNOR or DRIVER",
                "invalid_value",
            )));
        }
        let document_type = if kind == "DRIVER" { "DRIVER_SIGNATURE" } else { "CONSIGNEE_SIGNATURE" };
        let signature = Signature {
            kind,
            name: Some(input.name.trim().to_string()),
            timestamp: Some(at.to_string()),
            position: input.position.clone(),
        };
        let name = input.filename.clone().unwrap_or_else(|| "signature.png".into());
        let file = FileToStore { name, document_type: document_type.into(), content_type: "image/png".into(), bytes };
        self.store_and_announce(stop_id, file, input.embed, Some(signature)).await
    }

    /// Takes a photo at a stop: a `PHOTO_OF_GOODS_DELIVERY` JPEG document, then a `Document` event.
    pub async fn capture_photo(&self, stop_id: Uuid, input: &PhotoInput) -> Result<ScenarioOutcome, ApiError> {
        let at = parse_at(&input.at)?;
        let bytes = match &input.jpeg_base64 {
            Some(text) => decode_base64("$.jpeg_base64", text)?,
            None => crate::samples::jpeg(&format!("Photo at {at} for stop {stop_id} ({})", Uuid::new_v4())),
        };
        let name = input.filename.clone().unwrap_or_else(|| "photo.jpg".into());
        let file = FileToStore {
            name,
            document_type: "PHOTO_OF_GOODS_DELIVERY".into(),
            content_type: "image/jpeg".into(),
            bytes,
        };
        self.store_and_announce(stop_id, file, input.embed, None).await
    }

    /// Attaches any document to a stop, then a `Document` event.
    pub async fn add_stop_document(&self, stop_id: Uuid, input: &DocumentInput) -> Result<ScenarioOutcome, ApiError> {
        if input.document_type.trim().is_empty() {
            return Err(ApiError::bad_request(FieldError::at(
                "$.document_type",
                "document_type is required",
                "missing",
            )));
        }
        let bytes = decode_base64("$.content_base64", &input.content_base64)?;
        let name = input.filename.clone().unwrap_or_else(|| {
            format!("{}.{}", input.document_type, crate::webhooks::extension_for(&input.content_type))
        });
        let file = FileToStore {
            name,
            document_type: input.document_type.clone(),
            content_type: input.content_type.clone(),
            bytes,
        };
        self.store_and_announce(stop_id, file, input.embed, None).await
    }

    /// Re-optimises a trip's ETAs, then sends one `Eta` event per order whose stops moved.
    pub async fn reoptimise_etas(&self, trip_id: Uuid, input: &EtaInput) -> Result<ScenarioOutcome, ApiError> {
        let moved: Vec<(Uuid, Vec<Uuid>)> = {
            let mut world = self.state.lock();
            let trip = world.trip(trip_id).ok_or_else(|| ApiError::NotFound(format!("trip {trip_id}")))?.clone();
            let mut targets: Vec<(StopRef, Timestamp, Timestamp)> = Vec::new();
            if input.stops.is_empty() {
                let shift = jiff::SignedDuration::from_mins(input.shift_minutes.unwrap_or(30));
                for order_id in &trip.order_ids {
                    let Some(position) = world.order_position(*order_id) else { continue };
                    for (c, consignment) in world.orders[position].consignments.iter().enumerate() {
                        for stop in consignment.stops() {
                            if ["AT_STOP", "COMPLETED", "CANCELLED"].contains(&stop.status.as_str()) {
                                continue;
                            }
                            let Some((start, end)) = stop.eta_start.zip(stop.eta_end).or_else(|| planned_eta(stop))
                            else {
                                continue;
                            };
                            let at = StopRef { order: position, consignment: c, stop_type: stop.stop_type };
                            targets.push((at, start + shift, end + shift));
                        }
                    }
                }
            } else {
                for (i, eta) in input.stops.iter().enumerate() {
                    let at = world
                        .stop_ref(eta.stop_id)
                        .ok_or_else(|| ApiError::NotFound(format!("stop {}", eta.stop_id)))?;
                    if !trip.order_ids.contains(&world.orders[at.order].id) {
                        return Err(ApiError::Conflict(format!("stop {} is not on trip {}", eta.stop_id, trip.name)));
                    }
                    let bad = |field: &str, text: &str| {
                        ApiError::bad_request(FieldError::at(
                            &format!("$.stops[{i}].{field}"),
                            format!("{field} '{text}' must be a datetime with an offset"),
                            "invalid_format",
                        ))
                    };
                    let start =
                        parse_offset_datetime(&eta.eta_start).ok_or_else(|| bad("eta_start", &eta.eta_start))?;
                    let end = match &eta.eta_end {
                        Some(text) => parse_offset_datetime(text).ok_or_else(|| bad("eta_end", text))?,
                        None => {
                            let stop = world.stop(at);
                            let length = stop
                                .eta_start
                                .zip(stop.eta_end)
                                .map(|(s, e)| e.duration_since(s))
                                .unwrap_or(jiff::SignedDuration::from_mins(30));
                            start + length
                        }
                    };
                    targets.push((at, start, end));
                }
            }
            let received_at = now().to_string();
            let mut moved: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
            for (at, start, end) in targets {
                let order_id = world.orders[at.order].id;
                let stop = world.stop_mut(at);
                if stop.eta_start == Some(start) && stop.eta_end == Some(end) {
                    continue;
                }
                stop.eta_start = Some(start);
                stop.eta_end = Some(end);
                stop.history.push(StopEvent {
                    status: None,
                    eta_start: Some(start.to_string()),
                    eta_end: Some(end.to_string()),
                    event_time: received_at.clone(),
                    received_at: received_at.clone(),
                    source: "scenario".into(),
                });
                let stop_id = stop.id;
                match moved.iter_mut().find(|(o, _)| *o == order_id) {
                    Some((_, stops)) => stops.push(stop_id),
                    None => moved.push((order_id, vec![stop_id])),
                }
            }
            moved
        };
        let mut records = Vec::new();
        for (order_id, stops) in moved {
            records.push(outbound::send_eta_event(&self.state, order_id, &stops).await?);
        }
        Ok(ScenarioOutcome { document_id: None, outbound: records })
    }

    /// Resolves every pending upload now (as if enough polls had happened); returns how many.
    pub fn process_uploads(&self) -> usize {
        let forced = self.state.faults().upload_error;
        crate::uploads::resolve_all(&mut self.state.lock(), forced.as_deref())
    }

    /// Summaries of every order.
    pub fn orders(&self) -> Vec<Value> {
        let world = self.state.lock();
        world.orders.iter().map(|o| render::order_summary(&world, o)).collect()
    }

    /// The admin view of one order (API shape, status history per stop and per barcode, documents
    /// with SHA-256, uploads, received status updates).
    pub fn order_detail(&self, order_id: Uuid) -> Option<Value> {
        let world = self.state.lock();
        world.order(order_id).map(|o| render::order_admin(&world, o))
    }

    /// The order created from upload `order_identifier`, as the admin view.
    pub fn order_by_identifier(&self, order_identifier: &str) -> Option<Value> {
        let world = self.state.lock();
        world.order_by_identifier(order_identifier).map(|i| render::order_admin(&world, &world.orders[i]))
    }

    /// Every outbound webhook call so far, oldest first.
    pub fn outbound(&self) -> Vec<OutboundRecord> {
        self.state.lock().outbound.clone()
    }

    /// Every update received on `subco-status-update`, with its outcome.
    pub fn status_updates(&self) -> Vec<StatusUpdateRecord> {
        self.state.lock().status_log.clone()
    }

    /// The scan history of one barcode, oldest first.
    pub fn scans(&self, barcode: &str) -> Vec<ScanRecord> {
        self.state.lock().scans.iter().filter(|s| s.barcode == barcode).cloned().collect()
    }

    /// Every stored document (admin view, with SHA-256).
    pub fn documents(&self) -> Vec<Value> {
        self.state.lock().documents.iter().map(render::document_admin).collect()
    }

    /// The bytes of a stored document.
    pub fn document_bytes(&self, document_id: Uuid) -> Option<Vec<u8>> {
        self.state.lock().document(document_id).map(|d| d.bytes.clone())
    }

    /// Every upload job (admin view).
    pub fn uploads(&self) -> Vec<Value> {
        self.state.lock().uploads.iter().map(render::upload_admin).collect()
    }

    /// The status of a stop (`TO_PLAN`, `PLANNED`, `DISPATCHED`, `AT_STOP`, `COMPLETED`, …).
    pub fn stop_status(&self, stop_id: Uuid) -> Option<String> {
        let world = self.state.lock();
        world.stop_ref(stop_id).map(|at| world.stop(at).status.clone())
    }

    /// The customers (admin view).
    pub fn customers(&self) -> Vec<Value> {
        self.state.lock().customers.iter().map(render::customer_admin).collect()
    }

    /// The trips (admin view).
    pub fn trips(&self) -> Vec<Value> {
        let world = self.state.lock();
        world.trips.iter().map(|t| render::trip_admin(&world, t)).collect()
    }
}
