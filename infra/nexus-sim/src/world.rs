//! The simulated Nexus: depots, customers, users, consignments with their pallets, scan events and
//! attachments, API sessions, and the simulator's clock. One `World` sits behind a mutex in the
//! [`SimHandle`](crate::SimHandle); every HTTP request and every driver step works on it under that
//! lock, so the world is always consistent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};

use crate::random::SplitMix64;
use crate::reference::{self, StatusDef};

/// A pallet network on the Nexus platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Network {
    Pallex,
    Fortec,
}

impl Network {
    #[cfg(test)]
    pub(crate) const ALL: [Network; 2] = [Network::Pallex, Network::Fortec];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Network::Pallex => "PALLEX",
            Network::Fortec => "FORTEC",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Network::Pallex => "PALL-EX",
            Network::Fortec => "Fortec",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Network> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "PALLEX" | "PALL-EX" => Some(Network::Pallex),
            "FORTEC" => Some(Network::Fortec),
            _ => None,
        }
    }

    /// The networks a depot belongs to, from its code's prefix (seen: `UKD` PALL-EX, `FTD` Fortec,
    /// `PGD` both).
    pub(crate) fn of_depot_code(code: &str) -> Option<Vec<Network>> {
        let upper = code.to_ascii_uppercase();
        let digits = upper.get(3..).unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match &upper[..3] {
            "UKD" => Some(vec![Network::Pallex]),
            "FTD" => Some(vec![Network::Fortec]),
            "PGD" => Some(vec![Network::Pallex, Network::Fortec]),
            _ => None,
        }
    }
}

/// The hub of a network, which scans pallets in (`ARRH`) and out (`DEPH`) overnight.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    pub(crate) code: String,
    pub(crate) name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Depot {
    pub(crate) id: u32,
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) town: String,
    pub(crate) postcode: String,
    pub(crate) networks: Vec<Network>,
    pub(crate) postcode_areas: Vec<String>,
}

impl Depot {
    pub(crate) fn is_member_of(&self, network: Network) -> bool {
        self.networks.contains(&network)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Address {
    pub(crate) country_id: u32,
    pub(crate) name: String,
    pub(crate) line1: String,
    pub(crate) line2: Option<String>,
    pub(crate) town: String,
    pub(crate) county: Option<String>,
    pub(crate) postcode: String,
    pub(crate) telephone: Option<String>,
}

/// A customer account on one network (seen: a customer has one Nexus ID per network).
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: u64,
    pub(crate) network: Network,
    pub(crate) name: String,
    /// The member depot whose customer this is; it is the requesting depot of what the customer books.
    pub(crate) depot_code: String,
    pub(crate) address: Address,
}

/// What an API user is bound to (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Depot(String),
    Customer(u64),
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) scope: Scope,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) username: String,
    pub(crate) scope: Scope,
}

impl Principal {
    pub(crate) fn depot(&self) -> Option<&str> {
        match &self.scope {
            Scope::Depot(code) => Some(code),
            Scope::Customer(_) => None,
        }
    }
}

/// Where an event came from (§3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Network,
    DepotApi,
    Optimize,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Network => "NETWORK",
            Source::DepotApi => "DEPOT_API",
            Source::Optimize => "OPTIMIZE",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) id: u64,
    pub(crate) pallet_id: Option<u64>,
    pub(crate) barcode: Option<String>,
    pub(crate) code: String,
    pub(crate) description: String,
    pub(crate) depot_code: Option<String>,
    pub(crate) at: Timestamp,
    pub(crate) notes: Option<String>,
    pub(crate) source: Source,
}

#[derive(Debug, Clone)]
pub(crate) struct Pallet {
    pub(crate) id: u64,
    pub(crate) barcode: String,
    pub(crate) type_id: u32,
    pub(crate) base_id: u32,
    pub(crate) length: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) weight: f64,
    pub(crate) limited_quantity_weight: f64,
    pub(crate) do_not_stack: bool,
    /// The scan that decides where the pallet is (ETA and stale scans do not change it).
    pub(crate) stage: Option<&'static str>,
    /// The code of the most recent event recorded for the pallet.
    pub(crate) last_event_code: Option<String>,
    pub(crate) last_scan_at: Option<Timestamp>,
    /// The delivery attempt the pallet last went out on (0 = first attempt).
    pub(crate) attempt: u32,
}

impl Pallet {
    pub(crate) fn rank(&self) -> u8 {
        self.stage.and_then(reference::scan_def).and_then(|s| s.rank).unwrap_or(0)
    }

    pub(crate) fn is_terminal(&self) -> bool {
        self.rank() >= reference::TERMINAL_RANK
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BookIn {
    pub(crate) contact_name: String,
    pub(crate) contact_phone: String,
    pub(crate) reference: Option<String>,
    pub(crate) notes: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Contact {
    pub(crate) contact: Option<String>,
    pub(crate) email: Option<String>,
}

/// How a delivery attempt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    Damaged,
    Short,
    Failed,
}

impl Outcome {
    pub(crate) fn parse(raw: &str) -> Option<Outcome> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "delivered" => Some(Outcome::Delivered),
            "damaged" => Some(Outcome::Damaged),
            "short" => Some(Outcome::Short),
            "failed" | "returned" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Consignment {
    pub(crate) id: u64,
    pub(crate) number: String,
    pub(crate) customer_reference: Option<String>,
    pub(crate) customer_id: u64,
    pub(crate) network: Network,
    pub(crate) type_id: u32,
    pub(crate) requesting_depot: String,
    pub(crate) collecting_depot: String,
    pub(crate) delivery_depot: String,
    pub(crate) service_id: u32,
    pub(crate) time_window: Option<&'static str>,
    pub(crate) start_window: Option<Time>,
    pub(crate) end_window: Option<Time>,
    pub(crate) book_in: Option<BookIn>,
    pub(crate) collection_extras: Vec<String>,
    pub(crate) delivery_extras: Vec<String>,
    pub(crate) instructions: Option<String>,
    pub(crate) description_of_goods: Option<String>,
    pub(crate) limited_quantities: bool,
    pub(crate) collection_contact: Contact,
    pub(crate) delivery_contact: Contact,
    pub(crate) collection_address: Address,
    pub(crate) delivery_address: Address,
    pub(crate) planned_collection_date: Date,
    pub(crate) collected_at: Option<Timestamp>,
    pub(crate) estimated_del_date: Date,
    pub(crate) estimated_del_time: Option<Time>,
    pub(crate) delivered_at: Option<Timestamp>,
    pub(crate) pallets: Vec<Pallet>,
    pub(crate) events: Vec<Event>,
    pub(crate) attachment_ids: Vec<u64>,
    pub(crate) created_at: Timestamp,
    pub(crate) manifested_at: Option<Timestamp>,
    pub(crate) last_updated: Timestamp,
    pub(crate) cancelled: bool,
    /// Failed delivery attempts so far; the next attempt is number `attempt`.
    pub(crate) attempt: u32,
    /// Forces the outcome of every delivery attempt (seed files and the admin API use it).
    pub(crate) outcome_override: Option<Outcome>,
    /// When the delivering depot will upload a scanned paper POD, if it will.
    pub(crate) late_pod_due: Option<Timestamp>,
    pub(crate) booked_by: String,
}

impl Consignment {
    /// The consignment status: that of the least advanced pallet; terminal only when every pallet is.
    pub(crate) fn status(&self) -> &'static StatusDef {
        if self.cancelled {
            return reference::status_by_code("CAN");
        }
        let least = self.pallets.iter().min_by_key(|p| p.rank());
        let Some(least) = least else { return reference::status_by_code("BKD") };
        if least.is_terminal() {
            let codes: Vec<&str> = self.pallets.iter().filter_map(|p| p.stage).collect();
            let status = if codes.contains(&"CANC") {
                "CAN"
            } else if codes.contains(&"RTNS") {
                "RTN"
            } else if codes.iter().any(|c| matches!(*c, "DELD" | "DELS")) {
                "DLX"
            } else {
                "DEL"
            };
            return reference::status_by_code(status);
        }
        match least.stage.and_then(reference::scan_def) {
            Some(scan) => reference::status_by_code(scan.status),
            None if self.manifested_at.is_some() => reference::status_by_code("MAN"),
            None => reference::status_by_code("BKD"),
        }
    }

    pub(crate) fn is_collected(&self) -> bool {
        self.pallets.iter().any(|p| p.rank() > 0) && !self.cancelled
    }

    pub(crate) fn total_weight(&self) -> f64 {
        self.pallets.iter().map(|p| p.weight).sum()
    }

    pub(crate) fn pallet_spaces(&self) -> f64 {
        self.pallets.iter().filter_map(|p| reference::pallet_type_by_id(p.type_id)).map(|t| t.pallet_spaces).sum()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) id: u64,
    pub(crate) consignment_id: u64,
    pub(crate) type_id: u32,
    pub(crate) type_code: &'static str,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) signed_by: Option<String>,
    pub(crate) captured_at: Option<Timestamp>,
    pub(crate) created_at: Timestamp,
    pub(crate) uploaded_by_depot: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) username: String,
    pub(crate) expires_at: Timestamp,
    pub(crate) forced_expired: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshSession {
    pub(crate) username: String,
    pub(crate) expires_at: Timestamp,
}

/// The lifecycle driver's knobs.
#[derive(Debug, Clone)]
pub(crate) struct DriverSettings {
    pub(crate) failed_delivery_percent: u64,
    pub(crate) exception_percent: u64,
    pub(crate) late_pod_percent: u64,
    pub(crate) max_delivery_attempts: u32,
    /// Depots whose legs the driver leaves alone: their scans come only from `POST …/events`.
    pub(crate) manual_depots: BTreeSet<String>,
}

impl Default for DriverSettings {
    fn default() -> Self {
        DriverSettings {
            failed_delivery_percent: 10,
            exception_percent: 3,
            late_pod_percent: 30,
            max_delivery_attempts: 3,
            manual_depots: BTreeSet::new(),
        }
    }
}

/// The roles a principal plays on one consignment (§1.5).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Roles {
    pub(crate) requesting: bool,
    pub(crate) collecting: bool,
    pub(crate) delivering: bool,
    pub(crate) customer: bool,
}

impl Roles {
    pub(crate) fn any(self) -> bool {
        self.requesting || self.collecting || self.delivering || self.customer
    }
}

pub(crate) struct World {
    pub(crate) now: Timestamp,
    pub(crate) seed: u64,
    pub(crate) rng: SplitMix64,
    pub(crate) hubs: BTreeMap<Network, Hub>,
    pub(crate) depots: BTreeMap<String, Depot>,
    pub(crate) customers: BTreeMap<u64, Customer>,
    /// Keyed by lower-cased username: user names are not case-sensitive, passwords are.
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) consignments: BTreeMap<u64, Consignment>,
    pub(crate) attachments: BTreeMap<u64, Attachment>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) refresh_sessions: HashMap<String, RefreshSession>,
    pub(crate) barcodes: HashMap<String, u64>,
    pub(crate) optimize_key: String,
    pub(crate) token_lifetime: SignedDuration,
    pub(crate) refresh_lifetime: SignedDuration,
    pub(crate) driver: DriverSettings,
    pub(crate) next_consignment_id: u64,
    pub(crate) next_pallet_id: u64,
    pub(crate) next_event_id: u64,
    pub(crate) next_attachment_id: u64,
    pub(crate) next_barcode_serial: u64,
}

impl World {
    pub(crate) fn new(now: Timestamp, seed: u64, optimize_key: String) -> World {
        let mut rng = SplitMix64::new(seed);
        let next_barcode_serial = 100_000_000 + rng.below(800_000_000);
        World {
            now,
            seed,
            rng,
            hubs: BTreeMap::new(),
            depots: BTreeMap::new(),
            customers: BTreeMap::new(),
            users: BTreeMap::new(),
            consignments: BTreeMap::new(),
            attachments: BTreeMap::new(),
            sessions: HashMap::new(),
            refresh_sessions: HashMap::new(),
            barcodes: HashMap::new(),
            optimize_key,
            token_lifetime: SignedDuration::from_mins(60),
            refresh_lifetime: SignedDuration::from_hours(24),
            driver: DriverSettings::default(),
            next_consignment_id: 10001,
            next_pallet_id: 5001,
            next_event_id: 1,
            next_attachment_id: 9001,
            next_barcode_serial,
        }
    }

    pub(crate) fn roles(&self, principal: &Principal, consignment: &Consignment) -> Roles {
        match &principal.scope {
            Scope::Depot(code) => Roles {
                requesting: consignment.requesting_depot == *code,
                collecting: consignment.collecting_depot == *code,
                delivering: consignment.delivery_depot == *code,
                customer: false,
            },
            Scope::Customer(id) => Roles { customer: consignment.customer_id == *id, ..Roles::default() },
        }
    }

    /// The seen visibility rule: originating depot, collecting depot, delivery depot or originating
    /// customer account.
    pub(crate) fn can_see(&self, principal: &Principal, consignment: &Consignment) -> bool {
        self.roles(principal, consignment).any()
    }

    /// The customers a principal may book for: a depot's own customers, or the customer itself.
    pub(crate) fn can_book_for(&self, principal: &Principal, customer: &Customer) -> bool {
        match &principal.scope {
            Scope::Depot(code) => customer.depot_code == *code,
            Scope::Customer(id) => customer.id == *id,
        }
    }

    /// The depot that serves a postcode area on a network.
    pub(crate) fn depot_serving(&self, network: Network, area: &str) -> Option<&Depot> {
        self.depots
            .values()
            .find(|d| d.is_member_of(network) && d.postcode_areas.iter().any(|a| a.eq_ignore_ascii_case(area)))
    }

    pub(crate) fn hub_code(&self, network: Network) -> String {
        self.hubs.get(&network).map(|h| h.code.clone()).unwrap_or_else(|| format!("{}-HUB", network.code()))
    }

    pub(crate) fn allocate_event_id(&mut self) -> u64 {
        let id = self.next_event_id;
        self.next_event_id += 1;
        id
    }

    pub(crate) fn allocate_attachment_id(&mut self) -> u64 {
        let id = self.next_attachment_id;
        self.next_attachment_id += 1;
        id
    }

    /// A new 16-digit pallet barcode: `10`, the collecting depot's four-digit number, a nine-digit
    /// serial (starting at a seeded offset) and a Luhn check digit. The layout is invented; only the
    /// length and the digits-only shape are seen.
    pub(crate) fn allocate_barcode(&mut self, collecting_depot: &str, consignment_id: u64) -> String {
        let depot_number: u64 = collecting_depot.get(3..).and_then(|d| d.parse().ok()).unwrap_or(0) % 10_000;
        loop {
            let serial = self.next_barcode_serial % 1_000_000_000;
            self.next_barcode_serial += 1;
            let body = format!("10{depot_number:04}{serial:09}");
            let barcode = format!("{body}{}", luhn_check_digit(&body));
            if !self.barcodes.contains_key(&barcode) {
                self.barcodes.insert(barcode.clone(), consignment_id);
                return barcode;
            }
        }
    }

    pub(crate) fn principal_for(&self, username: &str) -> Option<Principal> {
        self.users
            .get(&username.to_ascii_lowercase())
            .map(|u| Principal { username: u.username.clone(), scope: u.scope.clone() })
    }
}

fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_are_sixteen_unique_digits_with_a_check_digit() {
        let mut world = World::new(Timestamp::UNIX_EPOCH, 1, String::new());
        let a = world.allocate_barcode("PGD302", 1);
        let b = world.allocate_barcode("PGD302", 1);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert!(a.starts_with("100302"));
        assert_ne!(a, b);
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }

    #[test]
    fn the_default_world_serves_every_postcode_area_on_both_networks() {
        let world = crate::seed::WorldSeed::default_world().build().unwrap();
        for network in Network::ALL {
            for area in crate::postcode::AREAS {
                assert!(world.depot_serving(network, area.code).is_some(), "{} {}", network.name(), area.code);
            }
        }
    }

    #[test]
    fn depot_prefixes_give_networks() {
        assert_eq!(Network::of_depot_code("PGD302"), Some(vec![Network::Pallex, Network::Fortec]));
        assert_eq!(Network::of_depot_code("ukd101"), Some(vec![Network::Pallex]));
        assert_eq!(Network::of_depot_code("XYZ1"), None);
        assert_eq!(Network::of_depot_code("FTD"), None);
    }
}
