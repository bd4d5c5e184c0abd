//! A Qargo dispatch made a Nexus booking plan, layer by layer: Qargo's payload read as a domain
//! booking request (`crate::qargo::dispatch_booking`), the dispatch rules over domain types
//! (`crate::rules::dispatch`), and the Nexus create body (`crate::nexus::booking`). The plan keeps
//! the Qargo ids the job writes back to and the payload paths its own refusals name.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::config::{CutoffPolicy, Settings};
use crate::domain::booking::{BookingField, FieldNames, PalletLine, StopRole, Violation};
use crate::domain::{DepotCode, Network, QargoConsignmentId, ServiceLevel, UkRegion};
use crate::nexus::booking::create_body;
use crate::nexus::wire::CreateConsignment;
use crate::qargo::dispatch_booking::{DispatchPaths, read_dispatch};
use crate::qargo::dispatch_webhook::DispatchTrip;
use crate::qargo::order_update::ConsignmentKey;
use crate::rules::cutoff::{self, CollectionDate};
use crate::rules::dispatch::check_booking;

/// A dispatch that passed every rule: the network, the depot that books, and the Nexus body.
#[derive(Debug, Clone)]
pub struct DispatchPlan {
    /// PALL-EX or Fortec, from the trip's subcontractor resource (and the depot's settings).
    pub network: Network,
    /// The network the resource asked for, when the depot books that work on another one.
    pub requested_network: Option<Network>,
    /// Our depot that books it.
    pub depot: DepotCode,
    /// Whose bank holidays that depot keeps.
    pub region: UkRegion,
    /// Whether the depot wants ZPL labels beside the PDF.
    pub zpl_labels: bool,
    /// The dispatch ledger's key.
    pub qargo_consignment_id: QargoConsignmentId,
    /// Qargo order UUID.
    pub qargo_order_id: Option<String>,
    /// Qargo order name (the stem of our Nexus consignment number).
    pub qargo_order_name: String,
    /// How Qargo's partial order update finds the consignment in its order.
    pub qargo_consignment_key: ConsignmentKey,
    /// The pickup stop, where labels are attached.
    pub pickup_stop_id: Option<String>,
    /// The delivery stop.
    pub delivery_stop_id: Option<String>,
    /// The collection date Qargo asked for (before the cut-off rule).
    pub requested_collection: Date,
    /// The delivery date asked for, if any.
    pub requested_delivery: Option<Date>,
    /// Service level.
    pub service: ServiceLevel,
    /// Goods lines → pallet counts.
    pub pallet_lines: Vec<PalletLine>,
    /// The Nexus create body; `consignment_number` is set when booking.
    pub body: CreateConsignment,
    /// Where the booking's fields are in the dispatch payload.
    pub paths: DispatchPaths,
}

/// Reads, checks and maps a dispatched trip; every violation names its payload field.
pub fn plan_dispatch(trip: &DispatchTrip, settings: &Settings) -> Result<DispatchPlan, Vec<Violation>> {
    let dispatch = read_dispatch(trip)?;
    let booking = check_booking(&dispatch.request, &dispatch.paths, settings)?;
    let depot_settings = settings.depot(&booking.depot);
    Ok(DispatchPlan {
        network: booking.network,
        requested_network: booking.requested_network,
        depot: booking.depot.clone(),
        region: depot_settings.map_or(UkRegion::EnglandAndWales, |d| d.region),
        zpl_labels: depot_settings.is_some_and(|d| d.zpl_labels),
        qargo_consignment_id: dispatch.link.consignment_id,
        qargo_order_id: dispatch.link.order_id,
        qargo_order_name: booking.order_name.clone(),
        qargo_consignment_key: dispatch.link.consignment_key,
        pickup_stop_id: dispatch.link.pickup_stop_id,
        delivery_stop_id: dispatch.link.delivery_stop_id,
        requested_collection: booking.collection_date,
        requested_delivery: booking.delivery_date,
        service: booking.service,
        pallet_lines: booking.pallet_lines.clone(),
        body: create_body(&booking),
        paths: dispatch.paths,
    })
}

impl DispatchPlan {
    /// A digest of everything Nexus is told about the consignment as Qargo asked for it — what an
    /// UPDATE must change for the booking to be redone.
    pub fn fingerprint(&self) -> String {
        let mut body = self.body.clone();
        body.general.consignment_number.clear();
        body.collection_info.due_date = self.requested_collection;
        let json = serde_json::to_vec(&body).unwrap_or_default();
        crate::store::sha256_hex(&json)
    }

    /// Applies the 12:00 cut-off and working days to the collection date (and, for a specific-day
    /// service, checks the delivery date against it).
    pub fn schedule_collection(&mut self, now: Timestamp, policy: CutoffPolicy) -> Result<Option<String>, Violation> {
        let field = |role| self.paths.name(&BookingField::StopDate(role));
        let decided = cutoff::collection_date(now, self.requested_collection, self.region, policy)
            .map_err(|refusal| Violation::new(field(StopRole::Pickup), refusal.to_string()))?;
        let date = decided.date();
        if let (ServiceLevel::SpecificDay, Some(delivery)) = (self.service, self.requested_delivery) {
            cutoff::check_specific_day(date, delivery, self.region)
                .map_err(|message| Violation::new(field(StopRole::Delivery), message))?;
        }
        self.body.collection_info.due_date = date;
        Ok(match decided {
            CollectionDate::AsRequested(_) => None,
            CollectionDate::Rolled { reason, .. } => Some(reason),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{PalletBase, PalletType};

    fn settings() -> Settings {
        let values = [
            ("BRIDGE_TABLE", "t"),
            ("BRIDGE_BUCKET", "b"),
            ("BRIDGE_DEPOTS", "PGD302,UKD101"),
            ("NEXUS_BASE_URL", "http://nexus"),
            ("QARGO_BASE_URL", "http://qargo"),
            ("BRIDGE_SECRETS_JSON", "{}"),
        ];
        Settings::from_lookup(|name| values.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
    }

    /// A valid PALL-EX dispatch of two full pallets from PGD302.
    fn trip() -> serde_json::Value {
        json!({
            "id": "trip-1", "name": "TR-1",
            "resource_allocations": [{"resource": {"code": "PALLEX_OUT"}}],
            "orders": [{
                "id": "0b6f4c1e-1c7a-4a55-9d6e-00000000000a", "name": "OR-1",
                "customer": {"name": "Project Timber Ltd", "code": "TIMBER", "custom_fields": {"PallexID": "64086", "FortecID": 71520}},
                "customer_reference_number": "PO-1",
                "service_level": {"code": "A"},
                "custom_fields": {},
                "consignments": [{
                    "id": "cons-1",
                    "transport_network": {"requesting_depot_code": "PGD302"},
                    "pickup_stop": {"id": "0b6f4c1e-1c7a-4a55-9d6e-0000000000b1", "date": "2026-06-17",
                        "location": {"name": "Timber", "address": "Sawmill Lane", "postal_code": "dn227ss", "city": "Retford", "country": "GB"}},
                    "delivery_stop": {"id": "0b6f4c1e-1c7a-4a55-9d6e-0000000000b2", "phone_number": "+441332000000",
                        "custom_fields": {"contact_name": "Goods-in"},
                        "location": {"name": "Builders", "address": "1 Friar Gate", "postal_code": "DE1 1AA", "city": "Derby", "country": "GB"},
                        "extras": [{"code": "TL"}]},
                    "goods": [{"id": "0b6f4c1e-1c7a-4a55-9d6e-0000000000c1", "quantity": 2, "packaging_type": {"code": "F"},
                               "unit_height_m": 1.2, "unit_weight_kg": 450.0}]
                }]
            }]
        })
    }

    fn plan(value: serde_json::Value) -> Result<DispatchPlan, Vec<Violation>> {
        plan_dispatch(&serde_json::from_value(value).unwrap(), &settings())
    }

    /// Applies `change` to the valid trip and returns the fields of the violations.
    fn refused(change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
        let mut value = trip();
        change(&mut value);
        plan(value).expect_err("refused").into_iter().map(|v| v.field).collect()
    }

    const C: &str = "payload.orders[0].consignments[0]";

    #[test]
    fn a_valid_dispatch_maps_to_the_nexus_body() {
        let plan = plan(trip()).unwrap();
        assert_eq!(plan.network, Network::Pallex);
        assert_eq!(plan.depot.as_str(), "PGD302");
        assert_eq!(plan.body.general.customer_id, 64086);
        assert_eq!(plan.body.pallets.len(), 2);
        assert_eq!(plan.body.pallets[0].height, 120);
        assert_eq!(plan.body.pallets[0].pallet_type_id, PalletType::Full.nexus_id());
        assert_eq!(plan.body.delivery_info.extras, vec!["TL"]);
        assert_eq!(plan.body.collection_address.as_ref().unwrap().postcode, "DN22 7SS");
        assert_eq!(
            plan.pallet_lines,
            vec![PalletLine { goods_id: Some("0b6f4c1e-1c7a-4a55-9d6e-0000000000c1".into()), pallets: 2 }]
        );
        let mut fortec = trip();
        fortec["resource_allocations"][0]["resource"]["code"] = json!("FORTEC_OUT");
        assert_eq!(
            plan_dispatch(&serde_json::from_value(fortec).unwrap(), &settings()).unwrap().body.general.customer_id,
            71520
        );
    }

    #[test]
    fn a_depot_that_moved_its_fortec_work_books_it_on_pallex() {
        let mut fortec = trip();
        fortec["resource_allocations"][0]["resource"]["code"] = json!("FORTEC_OUT");
        let trip: DispatchTrip = serde_json::from_value(fortec).unwrap();
        let today = plan_dispatch(&trip, &settings()).unwrap();
        assert_eq!((today.network, today.body.general.customer_id), (Network::Fortec, 71520), "the default");
        let values = [
            ("BRIDGE_TABLE", "t"),
            ("BRIDGE_BUCKET", "b"),
            ("BRIDGE_DEPOTS", "PGD302:fortec-via-pallex,UKD101"),
            ("NEXUS_BASE_URL", "http://nexus"),
            ("QARGO_BASE_URL", "http://qargo"),
            ("BRIDGE_SECRETS_JSON", "{}"),
        ];
        let moved = Settings::from_lookup(|name| values.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
            .unwrap();
        let plan = plan_dispatch(&trip, &moved).unwrap();
        assert_eq!((plan.network, plan.requested_network), (Network::Pallex, Some(Network::Fortec)));
        assert_eq!(plan.body.general.customer_id, 64086, "the customer's PallexID");
        assert_eq!(plan.body.general.network_code.as_deref(), Some("PALLEX"));
    }

    #[test]
    fn far_future_dates_are_refused_naming_the_field_not_a_panic() {
        let now = "2026-06-17T08:00:00Z".parse().unwrap();
        let mut value = trip();
        value["orders"][0]["service_level"]["code"] = json!("SD");
        value["orders"][0]["consignments"][0]["pickup_stop"]["date"] = json!("9999-12-31");
        value["orders"][0]["consignments"][0]["delivery_stop"]["date"] = json!("9999-12-31");
        let mut far = plan(value).unwrap();
        let refusal = far.schedule_collection(now, CutoffPolicy::Roll).unwrap_err();
        assert_eq!(refusal.field, format!("{C}.pickup_stop.date"));
        assert!(refusal.message.contains("more than a year ahead"), "{refusal}");

        let mut value = trip();
        value["orders"][0]["service_level"]["code"] = json!("SD");
        value["orders"][0]["consignments"][0]["delivery_stop"]["date"] = json!("9999-12-31");
        let mut late_delivery = plan(value).unwrap();
        let refusal = late_delivery.schedule_collection(now, CutoffPolicy::Roll).unwrap_err();
        assert_eq!(refusal.field, format!("{C}.delivery_stop.date"));
        assert!(refusal.message.contains("more than a year after"), "{refusal}");
    }

    #[test]
    fn nulls_the_spec_allows_are_read_as_absent() {
        // `SubcontractorDispatch` makes these `anyOf [..., null]`: a legal null must still book.
        let mut value = trip();
        value["custom_fields"] = json!(null);
        value["orders"][0]["custom_fields"] = json!(null);
        let consignment = &mut value["orders"][0]["consignments"][0];
        consignment["custom_fields"] = json!(null);
        consignment["pickup_stop"]["extras"] = json!(null);
        consignment["pickup_stop"]["custom_fields"] = json!(null);
        consignment["goods"][0]["handling_units"] = json!(null);
        let plan = plan(value).unwrap();
        assert_eq!(plan.body.pallets.len(), 2);
        let mut no_extras = trip();
        no_extras["orders"][0]["consignments"][0]["delivery_stop"]["extras"] = json!(null);
        assert!(
            plan_dispatch(&serde_json::from_value(no_extras).unwrap(), &settings())
                .unwrap()
                .body
                .delivery_info
                .extras
                .is_empty()
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Change, String)> = vec![
            (
                "network",
                Box::new(|t| t["resource_allocations"][0]["resource"]["code"] = json!("OWN_FLEET")),
                "payload.resource_allocations".into(),
            ),
            (
                "customer id",
                Box::new(|t| t["orders"][0]["customer"]["custom_fields"] = json!({})),
                "payload.orders[0].customer.custom_fields.PallexID".into(),
            ),
            (
                "one consignment",
                Box::new(|t| {
                    let c = t["orders"][0]["consignments"][0].clone();
                    t["orders"][0]["consignments"].as_array_mut().unwrap().push(c);
                }),
                "payload.orders".into(),
            ),
            (
                "membership",
                Box::new(|t| {
                    t["resource_allocations"][0]["resource"]["code"] = json!("FORTEC_OUT");
                    t["orders"][0]["consignments"][0]["transport_network"]["requesting_depot_code"] = json!("UKD101");
                }),
                format!("{C}.transport_network.requesting_depot_code"),
            ),
            (
                "our depot",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["transport_network"]["requesting_depot_code"] = json!("UKD205")
                }),
                format!("{C}.transport_network.requesting_depot_code"),
            ),
            (
                "service level",
                Box::new(|t| t["orders"][0]["service_level"]["code"] = json!("C")),
                "payload.orders[0].service_level.code".into(),
            ),
            (
                "specific day date",
                Box::new(|t| t["orders"][0]["service_level"]["code"] = json!("SD")),
                format!("{C}.delivery_stop.date"),
            ),
            (
                "timed window",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] =
                        json!({"code": "TD", "start_time": "09:00", "end_time": "14:00"})
                }),
                format!("{C}.delivery_stop.time_window"),
            ),
            (
                "window code",
                Box::new(|t| t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] = json!({"code": "PM"})),
                format!("{C}.delivery_stop.time_window.code"),
            ),
            (
                "book-in contact",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["time_window"] = json!({"code": "BI"});
                    t["orders"][0]["consignments"][0]["delivery_stop"]["custom_fields"] = json!({});
                }),
                format!("{C}.delivery_stop.custom_fields.contact_name"),
            ),
            (
                "extra",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] = json!([{"code": "FORKLIFT"}])
                }),
                format!("{C}.delivery_stop.extras[0].code"),
            ),
            (
                "amazon cartons",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
                        json!([{"code": "AZ", "amazon": {"po_number": "AMZ-1"}}])
                }),
                format!("{C}.delivery_stop.extras[0].amazon.carton_count"),
            ),
            (
                "amazon reference",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
                        json!([{"code": "AZ", "amazon": {"carton_count": "12"}}])
                }),
                format!("{C}.delivery_stop.extras[0].amazon.po_number"),
            ),
            (
                "weight",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(1300)),
                format!("{C}.goods[0].unit_weight_kg"),
            ),
            (
                "height",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["goods"][0]["packaging_type"]["code"] = json!("Q");
                    t["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(100);
                }),
                format!("{C}.goods[0].unit_height_m"),
            ),
            (
                "pallet count",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["goods"][0]["quantity"] = json!(20);
                    let g = t["orders"][0]["consignments"][0]["goods"][0].clone();
                    t["orders"][0]["consignments"][0]["goods"].as_array_mut().unwrap().push(g);
                }),
                format!("{C}.goods"),
            ),
            (
                "width",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["unit_width_m"] = json!(1_000_000.0)),
                format!("{C}.goods[0].unit_width_m"),
            ),
            (
                "length",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["unit_length_m"] = json!(0.004)),
                format!("{C}.goods[0].unit_length_m"),
            ),
            (
                "height under a centimetre",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["unit_height_m"] = json!(0.004)),
                format!("{C}.goods[0].unit_height_m"),
            ),
            (
                "pallet type",
                Box::new(|t| t["orders"][0]["consignments"][0]["goods"][0]["packaging_type"]["code"] = json!("XL")),
                format!("{C}.goods[0].packaging_type.code"),
            ),
            (
                "postcode",
                Box::new(|t| {
                    t["orders"][0]["consignments"][0]["delivery_stop"]["location"]["postal_code"] = json!("75008")
                }),
                format!("{C}.delivery_stop.location.postal_code"),
            ),
            (
                "delivery country",
                Box::new(|t| t["orders"][0]["consignments"][0]["delivery_stop"]["location"]["country"] = json!("FR")),
                format!("{C}.delivery_stop.location.country"),
            ),
            (
                "collection country",
                Box::new(|t| t["orders"][0]["consignments"][0]["pickup_stop"]["location"]["country"] = json!("IE")),
                format!("{C}.pickup_stop.location.country"),
            ),
            (
                "collection date",
                Box::new(|t| t["orders"][0]["consignments"][0]["pickup_stop"]["date"] = json!("17/06/2026")),
                format!("{C}.pickup_stop.date"),
            ),
            (
                "reference length",
                Box::new(|t| t["orders"][0]["customer_reference_number"] = json!("X".repeat(36))),
                "payload.orders[0].customer_reference_number".into(),
            ),
        ];
        for (rule, change, field) in cases {
            let fields = refused(change);
            assert!(fields.contains(&field), "{rule}: expected {field} in {fields:?}");
        }
    }

    #[test]
    fn every_violation_is_reported_at_once_with_its_fix() {
        let mut value = trip();
        value["orders"][0]["service_level"]["code"] = json!("Z");
        value["orders"][0]["consignments"][0]["goods"][0]["unit_weight_kg"] = json!(5000);
        let violations = plan(value).unwrap_err();
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[1].message.contains("1200 kg"), "{}", violations[1]);
    }

    #[test]
    fn international_euro_pallets_to_ireland() {
        let mut value = trip();
        let delivery = &mut value["orders"][0]["consignments"][0]["delivery_stop"]["location"];
        delivery["country"] = json!("IE");
        delivery["postal_code"] = json!("d02x285");
        value["orders"][0]["consignments"][0]["goods"][0]["packaging_type"] = json!({"code": "E"});
        let plan = plan(value).unwrap();
        assert_eq!(plan.body.delivery_address.country_id, 105, "Nexus's Ireland");
        assert_eq!(plan.body.delivery_address.postcode, "D02 X285");
        assert_eq!(plan.body.pallets[0].pallet_base_id, PalletBase::Euro.nexus_id());
        assert_eq!((plan.body.pallets[0].length, plan.body.pallets[0].width), (120, 80));
        let mut bad = trip();
        bad["orders"][0]["consignments"][0]["delivery_stop"]["location"]["country"] = json!("IE");
        assert!(refused(|t| *t = bad).contains(&format!("{C}.delivery_stop.location.postal_code")));
    }

    #[test]
    fn amazon_and_book_in_become_a_nexus_book_in() {
        let mut value = trip();
        value["orders"][0]["custom_fields"] = json!({"AmazonCartonCount": "120", "AmazonBookingRef": "AMZ-99812"});
        value["orders"][0]["consignments"][0]["delivery_stop"]["extras"] =
            json!([{"code": "TL"}, {"code": "AZ", "amazon": {"booking_date": "2026-06-18", "booking_time": "10:30"}}]);
        let plan = plan(value).unwrap();
        let book_in = plan.body.delivery_info.book_in.unwrap();
        assert_eq!(plan.body.delivery_info.time_window_code.as_deref(), Some("BI"));
        assert_eq!(book_in.reference.as_deref(), Some("AMZ-99812"));
        assert!(book_in.notes.unwrap().contains("120 cartons"));
        assert_eq!(plan.body.delivery_info.extras, vec!["TL"]);
    }

    #[test]
    fn the_cut_off_applies_when_booking() {
        let mut plan = plan(trip()).unwrap();
        let after = "2026-06-17T11:05:00Z".parse().unwrap(); // 12:05 BST
        let refusal = plan.schedule_collection(after, CutoffPolicy::Reject).unwrap_err();
        assert_eq!(refusal.field, format!("{C}.pickup_stop.date"));
        assert!(refusal.message.contains("2026-06-18"), "{refusal}");
        let note = plan.schedule_collection(after, CutoffPolicy::Roll).unwrap();
        assert!(note.is_some());
        assert_eq!(plan.body.collection_info.due_date.to_string(), "2026-06-18");
        assert_eq!(plan.requested_collection.to_string(), "2026-06-17", "the fingerprint keeps what Qargo asked for");
    }

    #[test]
    fn the_rules_see_no_vendor() {
        let rules = include_str!("../rules/dispatch.rs");
        let domain = include_str!("../domain/booking.rs");
        for (file, source) in [("rules/dispatch.rs", rules), ("domain/booking.rs", domain)] {
            let code = source.lines().filter(|line| !line.trim_start().starts_with("//"));
            for line in code {
                for vendor in ["crate::qargo", "crate::nexus", "serde_json"] {
                    assert!(!line.contains(vendor), "{file} uses {vendor}: keep vendors at the edges ({line})");
                }
            }
        }
    }
}
