//! The simulated tenant's state and the operations on it. Everything sits behind one mutex held by
//! the server; no operation here awaits.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::limits::{SlidingLog, TokenBucket};
use crate::model::{
    Consignment, Customer, Document, Good, HandlingUnit, Order, OutboundRecord, Resource, ScanRecord,
    StatusUpdateRecord, Stop, StopEvent, StopType, Trip, Upload,
};
use crate::options::SimOptions;
use crate::scenario::CustomerInput;
use crate::validate::{find_customer, parse_date, parse_hh_mm};
use crate::wire::{ConsignmentInput, GoodInput, OrderInput, StopInput};

/// A file posted to `upload_content`, waiting to be referenced by a `remote_document`.
#[derive(Debug, Clone)]
pub struct PendingFile {
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// Where a stop lives: order index, consignment index, which stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopRef {
    /// Index into `World::orders`.
    pub order: usize,
    /// Index into the order's consignments.
    pub consignment: usize,
    /// Pickup or delivery.
    pub stop_type: StopType,
}

/// The simulated tenant.
#[derive(Debug)]
pub struct World {
    pub(crate) tokens: crate::auth::Tokens,
    pub(crate) token_log: Option<SlidingLog>,
    pub(crate) api_bucket: Option<TokenBucket>,
    pub(crate) token_ttl: Duration,
    pub(crate) customers: Vec<Customer>,
    pub(crate) orders: Vec<Order>,
    order_index: HashMap<Uuid, usize>,
    identifier_index: HashMap<String, usize>,
    stop_index: HashMap<Uuid, StopRef>,
    pub(crate) trips: Vec<Trip>,
    pub(crate) documents: Vec<Document>,
    pub(crate) pending_files: HashMap<Uuid, PendingFile>,
    pub(crate) uploads: Vec<Upload>,
    pub(crate) scans: Vec<ScanRecord>,
    pub(crate) status_log: Vec<StatusUpdateRecord>,
    pub(crate) outbound: Vec<OutboundRecord>,
    order_serial: u64,
    trip_serial: u64,
}

/// Now, rounded to the second (Qargo's datetime format is `YYYY-MM-DDTHH:mm:ssZ`).
pub fn now() -> Timestamp {
    Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now())
}

/// `Europe/London`, where the stops' dates and windows are.
pub fn london() -> TimeZone {
    TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC)
}

/// A UUID derived from `seed` (stable across runs, for seeded records).
pub fn stable_uuid(seed: &str) -> Uuid {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

impl World {
    /// The state at start: the seed's customers (orders are added by the server through the
    /// scenario API so they take the same path as later ones).
    pub fn new(options: &SimOptions) -> World {
        let mut world = World {
            tokens: Default::default(),
            token_log: options.limits.token.clone().map(SlidingLog::new),
            api_bucket: options.limits.api.clone().map(TokenBucket::new),
            token_ttl: options.token_ttl,
            customers: Vec::new(),
            orders: Vec::new(),
            order_index: HashMap::new(),
            identifier_index: HashMap::new(),
            stop_index: HashMap::new(),
            trips: Vec::new(),
            documents: Vec::new(),
            pending_files: HashMap::new(),
            uploads: Vec::new(),
            scans: Vec::new(),
            status_log: Vec::new(),
            outbound: Vec::new(),
            order_serial: 10000,
            trip_serial: 20000,
        };
        for customer in &options.seed.customers {
            // A seed with an invalid customer is a programming error in the seed; skip it loudly.
            if let Err(e) = world.add_customer(customer) {
                tracing::warn!("seed customer {:?} skipped: {e}", customer.name);
            }
        }
        world
    }

    /// Adds a customer; its UUID is derived from its code (or name) so seeded ids are stable.
    pub fn add_customer(&mut self, input: &CustomerInput) -> Result<&Customer, ApiError> {
        let name = input.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request(crate::errors::FieldError::at("$.name", "name is required", "missing")));
        }
        let code = text(&input.code);
        let taken = self.customers.iter().any(|c| {
            c.name.eq_ignore_ascii_case(name)
                || matches!((&c.code, &code), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
        });
        if taken {
            return Err(ApiError::Conflict(format!("a customer named '{name}' or coded {code:?} already exists")));
        }
        let key = code.clone().unwrap_or_else(|| name.to_string());
        let mut id = stable_uuid(&format!("customer:{key}"));
        if self.customers.iter().any(|c| c.id == id) {
            id = Uuid::new_v4();
        }
        self.customers.push(Customer {
            id,
            name: name.to_string(),
            code,
            custom_fields: input.additional_fields.clone(),
            contact_name: text(&input.contact_name),
            email: text(&input.email),
            phone_number: text(&input.phone_number),
        });
        Ok(self.customers.last().expect("just pushed"))
    }

    /// The customer with `id`.
    pub fn customer(&self, id: Uuid) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    /// The order with `id`.
    pub fn order(&self, id: Uuid) -> Option<&Order> {
        self.order_index.get(&id).map(|&i| &self.orders[i])
    }

    /// The index of the order with `id`.
    pub fn order_position(&self, id: Uuid) -> Option<usize> {
        self.order_index.get(&id).copied()
    }

    /// The index of the order holding `identifier`.
    pub fn order_by_identifier(&self, identifier: &str) -> Option<usize> {
        self.identifier_index.get(identifier).copied()
    }

    /// Where the stop with `id` is.
    pub fn stop_ref(&self, id: Uuid) -> Option<StopRef> {
        self.stop_index.get(&id).copied()
    }

    /// The stop at `at`.
    pub fn stop(&self, at: StopRef) -> &Stop {
        let consignment = &self.orders[at.order].consignments[at.consignment];
        match at.stop_type {
            StopType::Pickup => &consignment.pickup,
            StopType::Delivery => &consignment.delivery,
        }
    }

    /// The stop at `at`, mutably.
    pub fn stop_mut(&mut self, at: StopRef) -> &mut Stop {
        let consignment = &mut self.orders[at.order].consignments[at.consignment];
        match at.stop_type {
            StopType::Pickup => &mut consignment.pickup,
            StopType::Delivery => &mut consignment.delivery,
        }
    }

    /// The trip with `id`.
    pub fn trip(&self, id: Uuid) -> Option<&Trip> {
        self.trips.iter().find(|t| t.id == id)
    }

    /// The trip an order is planned on.
    pub fn trip_of(&self, order: &Order) -> Option<&Trip> {
        order.trip_id.and_then(|id| self.trip(id))
    }

    /// Creates an order from a validated input.
    pub fn create_order(&mut self, input: &OrderInput, created_by: &str) -> Uuid {
        let customer_id = input
            .customer
            .as_ref()
            .and_then(|c| find_customer(&self.customers, c))
            .map(|c| c.id)
            .expect("validated: the customer exists");
        self.order_serial += 1;
        let id = Uuid::new_v4();
        let consignments = input.consignments.iter().flatten().map(|c| build_consignment(c, None)).collect();
        let order = Order {
            id,
            name: format!("OR-{}", self.order_serial),
            order_identifier: text(&input.order_identifier),
            customer_id,
            customer_reference_number: text(&input.customer_reference_number),
            service_level: input.service_level.clone(),
            transport_service: input.transport_service.clone(),
            transport_network: input.transport_network.clone(),
            department: input.department.clone(),
            planning_instructions: text(&input.planning_instructions),
            contact_emails: input.contact_emails.clone().unwrap_or_default(),
            custom_fields: input.custom_fields.clone().unwrap_or_default(),
            order_status: input.order_status.clone().unwrap_or_else(|| "TO_PLAN".into()),
            cancelled: false,
            created: now(),
            created_by: created_by.to_string(),
            consignments,
            trip_id: None,
            raw_input: serde_json::to_value(input).ok(),
        };
        let position = self.orders.len();
        self.orders.push(order);
        self.index_order(position);
        id
    }

    /// Replaces an order's content with `input`, keeping the ids (and so the status history) of the
    /// consignments, stops and goods at the same positions.
    pub fn update_order(&mut self, position: usize, input: &OrderInput) {
        let customer_id = input.customer.as_ref().and_then(|c| find_customer(&self.customers, c)).map(|c| c.id);
        let old_stops: Vec<Uuid> = self.orders[position].stops().map(|s| s.id).collect();
        for id in old_stops {
            self.stop_index.remove(&id);
        }
        let order = &mut self.orders[position];
        if let Some(customer_id) = customer_id {
            order.customer_id = customer_id;
        }
        let old = std::mem::take(&mut order.consignments);
        order.consignments =
            input.consignments.iter().flatten().enumerate().map(|(i, c)| build_consignment(c, old.get(i))).collect();
        order.customer_reference_number = text(&input.customer_reference_number);
        order.service_level = input.service_level.clone();
        order.transport_service = input.transport_service.clone();
        order.transport_network = input.transport_network.clone();
        order.department = input.department.clone();
        order.planning_instructions = text(&input.planning_instructions);
        order.contact_emails = input.contact_emails.clone().unwrap_or_default();
        order.custom_fields = input.custom_fields.clone().unwrap_or_default();
        if let Some(status) = &input.order_status {
            order.order_status = status.clone();
        }
        order.raw_input = serde_json::to_value(input).ok();
        self.index_order(position);
    }

    /// Cancels an order: every stop becomes CANCELLED; its identifier can never be reused.
    pub fn cancel_order(&mut self, position: usize, source: &str) {
        let at = now().to_string();
        let order = &mut self.orders[position];
        order.cancelled = true;
        for consignment in &mut order.consignments {
            for stop in [&mut consignment.pickup, &mut consignment.delivery] {
                stop.status = "CANCELLED".into();
                stop.history.push(StopEvent {
                    status: Some("CANCELLED".into()),
                    eta_start: None,
                    eta_end: None,
                    event_time: at.clone(),
                    received_at: at.clone(),
                    source: source.into(),
                });
            }
        }
    }

    fn index_order(&mut self, position: usize) {
        let order = &self.orders[position];
        self.order_index.insert(order.id, position);
        if let Some(identifier) = &order.order_identifier {
            self.identifier_index.insert(identifier.clone(), position);
        }
        for (c, consignment) in order.consignments.iter().enumerate() {
            for stop in consignment.stops() {
                self.stop_index.insert(stop.id, StopRef { order: position, consignment: c, stop_type: stop.stop_type });
            }
        }
    }

    /// Plans `order_ids` on a new trip with a subcontractor resource coded `resource_code`; the
    /// stops become PLANNED and get ETAs from their dates and time windows.
    pub fn create_trip(
        &mut self,
        order_ids: &[Uuid],
        resource_code: &str,
        resource_name: Option<&str>,
        name: Option<&str>,
        custom_fields: Map<String, Value>,
    ) -> Result<Uuid, ApiError> {
        if order_ids.is_empty() {
            return Err(ApiError::bad_request(crate::errors::FieldError::at(
                "$.order_ids",
                "a trip needs at least one order",
                "missing",
            )));
        }
        if resource_code.trim().is_empty() {
            return Err(ApiError::bad_request(crate::errors::FieldError::at(
                "$.resource_code",
                "a trip needs the subcontractor resource's code (PALLEX_OUT, FORTEC_OUT, …)",
                "missing",
            )));
        }
        let mut positions = Vec::new();
        for id in order_ids {
            let position = self.order_position(*id).ok_or_else(|| ApiError::NotFound(format!("order {id}")))?;
            let order = &self.orders[position];
            if order.cancelled {
                return Err(ApiError::Conflict(format!("order {} is cancelled", order.name)));
            }
            if let Some(trip) = self.trip_of(order) {
                return Err(ApiError::Conflict(format!("order {} is already on trip {}", order.name, trip.name)));
            }
            positions.push(position);
        }
        self.trip_serial += 1;
        let id = Uuid::new_v4();
        let code = resource_code.trim().to_string();
        let (default_name, subcontractor) = match code.as_str() {
            "PALLEX_OUT" => ("PALL-EX", "PALL-EX Network"),
            "FORTEC_OUT" => ("Fortec", "Fortec Network"),
            _ => ("Subcontractor", "Other Subcontractor"),
        };
        let resource = Resource {
            id: stable_uuid(&format!("resource:{code}")),
            name: resource_name.map(str::to_string).unwrap_or_else(|| default_name.to_string()),
            code: code.clone(),
            subcontractor_id: stable_uuid(&format!("subcontractor:{subcontractor}")),
            subcontractor_name: subcontractor.to_string(),
        };
        let trip_name = name.map(str::to_string).unwrap_or_else(|| format!("TR-{}", self.trip_serial));
        let at = now().to_string();
        for position in positions {
            let order = &mut self.orders[position];
            order.trip_id = Some(id);
            for consignment in &mut order.consignments {
                for stop in [&mut consignment.pickup, &mut consignment.delivery] {
                    if let Some((start, end)) = planned_eta(stop) {
                        stop.eta_start = Some(start);
                        stop.eta_end = Some(end);
                    }
                    stop.status = "PLANNED".into();
                    stop.history.push(StopEvent {
                        status: Some("PLANNED".into()),
                        eta_start: stop.eta_start.map(|t| t.to_string()),
                        eta_end: stop.eta_end.map(|t| t.to_string()),
                        event_time: at.clone(),
                        received_at: at.clone(),
                        source: "scenario".into(),
                    });
                }
            }
        }
        self.trips.push(Trip {
            id,
            name: trip_name,
            order_ids: order_ids.to_vec(),
            resource,
            custom_fields,
            dispatch_state: "NOT_DISPATCHED".into(),
        });
        Ok(id)
    }

    /// Stores a document; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn add_document(
        &mut self,
        name: String,
        document_type: String,
        content_type: String,
        subject_type: &str,
        order_id: Option<Uuid>,
        stop_id: Option<Uuid>,
        bytes: Vec<u8>,
        source: &str,
        question_path_key: Option<String>,
    ) -> Uuid {
        let id = Uuid::new_v4();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.documents.push(Document {
            id,
            name,
            document_type,
            content_type,
            subject_type: subject_type.to_string(),
            order_id,
            stop_id,
            bytes,
            sha256,
            source: source.to_string(),
            question_path_key,
            created: now(),
        });
        id
    }

    /// The document with `id`.
    pub fn document(&self, id: Uuid) -> Option<&Document> {
        self.documents.iter().find(|d| d.id == id)
    }
}

fn build_stop(stop_type: StopType, input: Option<&StopInput>, old: Option<&Stop>) -> Stop {
    let input = input.cloned().unwrap_or_default();
    match old {
        Some(old) => Stop { input, ..old.clone() },
        None => Stop {
            id: Uuid::new_v4(),
            stop_type,
            input,
            status: "TO_PLAN".into(),
            eta_start: None,
            eta_end: None,
            actual_start: None,
            actual_end: None,
            history: Vec::new(),
            answers: Vec::new(),
        },
    }
}

fn build_good(input: &GoodInput, old: Option<&Good>) -> Good {
    let handling_units = input
        .handling_units
        .iter()
        .flatten()
        .map(|unit| {
            let barcode = unit.barcode.as_ref().and_then(|b| text(&b.value));
            let existing =
                old.and_then(|g| g.handling_units.iter().find(|h| h.barcode == barcode && barcode.is_some()));
            HandlingUnit {
                id: existing.map(|h| h.id).unwrap_or_else(Uuid::new_v4),
                barcode,
                source: unit.barcode.as_ref().and_then(|b| text(&b.source)),
            }
        })
        .collect();
    Good { id: old.map(|g| g.id).unwrap_or_else(Uuid::new_v4), input: input.clone(), handling_units }
}

fn build_consignment(input: &ConsignmentInput, old: Option<&Consignment>) -> Consignment {
    Consignment {
        id: old.map(|c| c.id).unwrap_or_else(Uuid::new_v4),
        reference_number: text(&input.consignment_reference_number),
        cmr_reference_number: text(&input.cmr_reference_number),
        planning_instructions: text(&input.planning_instructions),
        custom_fields: input.custom_fields.clone().unwrap_or_default(),
        transport_network: input.transport_network.clone(),
        pickup: build_stop(StopType::Pickup, input.pickup_stop.as_ref(), old.map(|c| &c.pickup)),
        delivery: build_stop(StopType::Delivery, input.delivery_stop.as_ref(), old.map(|c| &c.delivery)),
        goods: input
            .goods
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, g)| build_good(g, old.and_then(|c| c.goods.get(i))))
            .collect(),
        signatures: old.map(|c| c.signatures.clone()).unwrap_or_default(),
    }
}

/// The ETA a planner's trip gives a stop: its date at the window's start (09:00 for a pickup and
/// 12:00 for a delivery without one), Europe/London, lasting until the window's end or the stop's
/// duration (30 minutes by default).
pub fn planned_eta(stop: &Stop) -> Option<(Timestamp, Timestamp)> {
    let date: Date = stop.input.date.as_deref().and_then(parse_date)?;
    let window = stop.input.time_window.as_ref();
    let default_start = if stop.stop_type == StopType::Pickup { 9 * 60 } else { 12 * 60 };
    let start_min = window.and_then(|w| w.start_time.as_deref()).and_then(parse_hh_mm).unwrap_or(default_start);
    let duration_min = stop.input.duration.map(|s| (s / 60).max(1) as u32).unwrap_or(30);
    let end_min = window
        .and_then(|w| w.end_time.as_deref())
        .and_then(parse_hh_mm)
        .filter(|end| *end > start_min)
        .map(|end| end.min(start_min + duration_min.max(30)))
        .unwrap_or(start_min + duration_min);
    let at = |minutes: u32| {
        let minutes = minutes.min(24 * 60 - 1);
        let time = jiff::civil::time((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
        date.to_datetime(time).to_zoned(london()).ok().map(|z| z.timestamp())
    };
    Some((at(start_min)?, at(end_min)?))
}
