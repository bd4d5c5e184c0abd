//! Reference data: the lookup tables of nexus-api.md §3.5. Ids and codes marked "seen" there are kept
//! exactly (consignment type 2, service 3 = SD, pallet types 6 and 7, pallet base 1, country 233, the
//! attachment codes `MPOD`, `POD`, `MPODPHOTOE`); the rest is the §3.5 design. Invented here, beyond
//! §3.5: numeric ids for time windows and extras, codes for pallet bases, the country ids other than
//! 233, the currency table, and the scan code `RTNS` (returned to sender) with the rank order used to
//! roll pallet scans up into a consignment status.

/// A consignment status (consignment-level rollup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) terminal: bool,
}

const fn status(id: u32, code: &'static str, name: &'static str, terminal: bool) -> StatusDef {
    StatusDef { id, code, name, terminal }
}

pub(crate) const STATUSES: &[StatusDef] = &[
    status(10, "BKD", "Booked", false),
    status(20, "MAN", "Manifested", false),
    status(30, "COL", "Collected", false),
    status(40, "ACD", "At Collecting Depot", false),
    status(50, "THB", "Trunked to Hub", false),
    status(60, "AHB", "At Hub", false),
    status(70, "DHB", "Departed Hub", false),
    status(80, "ADD", "At Delivery Depot", false),
    status(85, "HLD", "Held at Depot", false),
    status(90, "OFD", "Out for Delivery", false),
    status(100, "DEL", "Delivered", true),
    status(101, "DLX", "Delivered with exception", true),
    status(110, "NDL", "Not Delivered", false),
    status(120, "RTN", "Returned to sender", true),
    status(130, "CAN", "Cancelled", true),
];

pub(crate) fn status_by_code(code: &str) -> &'static StatusDef {
    STATUSES.iter().find(|s| s.code == code).expect("status codes used by the simulator are in the table")
}

pub(crate) fn find_status(code_or_name: &str) -> Option<&'static StatusDef> {
    let wanted = code_or_name.trim();
    STATUSES.iter().find(|s| {
        s.code.eq_ignore_ascii_case(wanted) || s.name.eq_ignore_ascii_case(wanted) || s.id.to_string() == wanted
    })
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsignmentTypeDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const COLLECTION_TYPE: u32 = 1;
pub(crate) const DELIVERY_TYPE: u32 = 2;
pub(crate) const THIRD_PARTY_TYPE: u32 = 3;

pub(crate) const CONSIGNMENT_TYPES: &[ConsignmentTypeDef] = &[
    ConsignmentTypeDef { id: COLLECTION_TYPE, code: "C", name: "Collection" },
    ConsignmentTypeDef { id: DELIVERY_TYPE, code: "D", name: "Delivery" },
    ConsignmentTypeDef { id: THIRD_PARTY_TYPE, code: "3", name: "Third-party" },
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    /// Working days from collection to delivery; `None` for a service that takes a given date.
    pub(crate) lead_working_days: Option<u32>,
}

pub(crate) const PREMIUM: u32 = 1;
pub(crate) const SPECIFIC_DAY: u32 = 3;

pub(crate) const SERVICES: &[ServiceDef] = &[
    ServiceDef { id: PREMIUM, code: "A", name: "Premium (Next Day)", lead_working_days: Some(1) },
    ServiceDef { id: 2, code: "B", name: "Economy", lead_working_days: Some(2) },
    ServiceDef { id: SPECIFIC_DAY, code: "SD", name: "Specific Day", lead_working_days: None },
];

pub(crate) fn service(id: u32) -> Option<&'static ServiceDef> {
    SERVICES.iter().find(|s| s.id == id)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeWindowDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) rule: &'static str,
}

pub(crate) const TIME_WINDOWS: &[TimeWindowDef] = &[
    TimeWindowDef { id: 1, code: "AM", name: "AM delivery", rule: "Delivered before 12:00." },
    TimeWindowDef {
        id: 2,
        code: "TD",
        name: "Timed delivery",
        rule: "startWindow and endWindow required, at most 4 hours apart, within 08:00-17:00.",
    },
    TimeWindowDef {
        id: 3,
        code: "BI",
        name: "Book-in",
        rule: "bookIn.contactName and bookIn.contactPhone required; the slot is returned as a BKIN event.",
    },
];

pub(crate) fn time_window(code: &str) -> Option<&'static TimeWindowDef> {
    TIME_WINDOWS.iter().find(|w| w.code.eq_ignore_ascii_case(code.trim()))
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtraDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const EXTRAS: &[ExtraDef] = &[
    ExtraDef { id: 1, code: "TL", name: "Tail-lift" },
    ExtraDef { id: 2, code: "HB", name: "Handball (hand unload)" },
    ExtraDef { id: 3, code: "PP", name: "Paper POD required" },
    ExtraDef { id: 4, code: "RA", name: "Restricted access / small vehicle" },
    ExtraDef { id: 5, code: "RES", name: "Residential (B2C)" },
    ExtraDef { id: 6, code: "SAT", name: "Saturday" },
];

pub(crate) fn extra(code: &str) -> Option<&'static ExtraDef> {
    EXTRAS.iter().find(|e| e.code.eq_ignore_ascii_case(code.trim()))
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PalletTypeDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) max_weight_kg: f64,
    pub(crate) max_height_cm: f64,
    pub(crate) pallet_spaces: f64,
}

const fn pallet_type(id: u32, code: &'static str, name: &'static str, kg: f64, cm: f64, spaces: f64) -> PalletTypeDef {
    PalletTypeDef { id, code, name, max_weight_kg: kg, max_height_cm: cm, pallet_spaces: spaces }
}

pub(crate) const PALLET_TYPES: &[PalletTypeDef] = &[
    pallet_type(1, "MQ", "Micro / Mini Quarter", 150.0, 60.0, 0.25),
    pallet_type(2, "Q", "Quarter", 250.0, 80.0, 0.25),
    pallet_type(3, "H", "Half", 500.0, 110.0, 0.5),
    pallet_type(4, "L", "Light", 750.0, 220.0, 1.0),
    pallet_type(5, "E", "Euro", 1000.0, 220.0, 1.0),
    pallet_type(6, "OS", "Oversize full", 1200.0, 220.0, 2.0),
    pallet_type(7, "F", "Full", 1200.0, 220.0, 1.0),
];

pub(crate) fn pallet_type_by_id(id: u32) -> Option<&'static PalletTypeDef> {
    PALLET_TYPES.iter().find(|t| t.id == id)
}

/// The most pallet spaces one consignment may take: a 13.6 m trailer holds 26.
pub(crate) const MAX_PALLET_SPACES: f64 = 26.0;

#[derive(Debug, Clone, Copy)]
pub(crate) struct PalletBaseDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const PALLET_BASES: &[PalletBaseDef] = &[
    PalletBaseDef { id: 1, code: "UK", name: "Standard UK 1200×1000" },
    PalletBaseDef { id: 2, code: "EURO", name: "Euro 1200×800" },
    PalletBaseDef { id: 3, code: "OTHER", name: "Non-standard / other" },
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct CountryDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const UNITED_KINGDOM: u32 = 233;
pub(crate) const IRELAND: u32 = 105;

pub(crate) const COUNTRIES: &[CountryDef] = &[
    CountryDef { id: 22, code: "BE", name: "Belgium" },
    CountryDef { id: 75, code: "FR", name: "France" },
    CountryDef { id: 82, code: "DE", name: "Germany" },
    CountryDef { id: IRELAND, code: "IE", name: "Ireland" },
    CountryDef { id: 110, code: "IT", name: "Italy" },
    CountryDef { id: 155, code: "NL", name: "Netherlands" },
    CountryDef { id: 177, code: "PL", name: "Poland" },
    CountryDef { id: 209, code: "ES", name: "Spain" },
    CountryDef { id: UNITED_KINGDOM, code: "GB", name: "United Kingdom" },
];

pub(crate) fn country(id: u32) -> Option<&'static CountryDef> {
    COUNTRIES.iter().find(|c| c.id == id)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CurrencyDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const CURRENCIES: &[CurrencyDef] = &[
    CurrencyDef { id: 1, code: "GBP", name: "Pound Sterling" },
    CurrencyDef { id: 2, code: "EUR", name: "Euro" },
    CurrencyDef { id: 3, code: "USD", name: "US Dollar" },
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct AttachmentTypeDef {
    pub(crate) id: u32,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const ATTACHMENT_TYPES: &[AttachmentTypeDef] = &[
    AttachmentTypeDef { id: 1, code: "MPOD", name: "Digital signature captured at delivery" },
    AttachmentTypeDef { id: 2, code: "POD", name: "Image of signed delivery note" },
    AttachmentTypeDef { id: 3, code: "MPODPHOTOE", name: "Photo of pallets at delivery location" },
    AttachmentTypeDef { id: 4, code: "LABEL", name: "Pallet label PDF" },
];

pub(crate) fn attachment_type(code: &str) -> Option<&'static AttachmentTypeDef> {
    ATTACHMENT_TYPES.iter().find(|t| t.code.eq_ignore_ascii_case(code.trim()))
}

/// Who performs a scan: the authority for posting it through the API follows the leg (§3.3 #7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    /// The collecting depot.
    Collection,
    /// The network's hub; never posted by a depot.
    Hub,
    /// The delivery depot.
    Delivery,
    /// Not a movement: ETA updates and cancellations.
    Admin,
}

/// A pallet-level scan code (Palletline-style mnemonics, §3.5).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanDef {
    pub(crate) code: &'static str,
    pub(crate) description: &'static str,
    /// The consignment status a pallet at this scan stands for.
    pub(crate) status: &'static str,
    /// How far along the journey the scan is; the consignment status is that of the lowest-ranked
    /// pallet. `None` for scans that do not move the pallet (ETA).
    pub(crate) rank: Option<u8>,
    pub(crate) leg: Leg,
}

const fn scan(code: &'static str, description: &'static str, status: &'static str, rank: u8, leg: Leg) -> ScanDef {
    ScanDef { code, description, status, rank: Some(rank), leg }
}

/// The rank of pallets at a terminal scan.
pub(crate) const TERMINAL_RANK: u8 = 100;
/// The rank of a failed delivery: back in the depot, before the next `SCDV`.
pub(crate) const NOT_DELIVERED_RANK: u8 = 78;

pub(crate) const SCANS: &[ScanDef] = &[
    scan("POC", "Collected", "COL", 10, Leg::Collection),
    scan("ARRC", "Arrived at Collecting Depot", "ACD", 20, Leg::Collection),
    scan("SCOT", "Scanned Out to Hub", "THB", 30, Leg::Collection),
    scan("ARRH", "Arrived at Hub", "AHB", 40, Leg::Hub),
    scan("DEPH", "Departed Hub", "DHB", 50, Leg::Hub),
    scan("ARRD", "Arrived at Depot", "ADD", 60, Leg::Delivery),
    scan("HIND", "Held In Depot", "HLD", 70, Leg::Delivery),
    scan("BKIN", "Booked In", "ADD", 75, Leg::Delivery),
    scan("SCDV", "Scanned Onto Delivery Vehicle", "OFD", 80, Leg::Delivery),
    scan("ARRI", "Arrived at Location", "OFD", 85, Leg::Delivery),
    scan("MPOD", "Delivered OK", "DEL", TERMINAL_RANK, Leg::Delivery),
    scan("EPOD", "Successful Clean Delivery", "DEL", TERMINAL_RANK, Leg::Delivery),
    scan("DELD", "Delivered Damaged", "DLX", TERMINAL_RANK, Leg::Delivery),
    scan("DELS", "Delivered with Shortages", "DLX", TERMINAL_RANK, Leg::Delivery),
    scan("NDNV", "Not Delivered - Not on Vehicle", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDOE", "Not Delivered - Order Error", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDOT", "Not Delivered - Out of Time", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDPC", "Not Delivered - Premises Closed", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDRD", "Not Delivered - Refused Damaged", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDRE", "Not Delivered - Refused and Return", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDRS", "Not Delivered - Refused Short", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("NDTC", "Not Delivered - T&Cs Refused", "NDL", NOT_DELIVERED_RANK, Leg::Delivery),
    scan("RTNS", "Returned to Sender", "RTN", TERMINAL_RANK, Leg::Delivery),
    scan("CANC", "Cancelled", "CAN", TERMINAL_RANK, Leg::Admin),
    ScanDef { code: "ETA", description: "ETA Updated", status: "", rank: None, leg: Leg::Admin },
];

pub(crate) fn scan_def(code: &str) -> Option<&'static ScanDef> {
    SCANS.iter().find(|s| s.code.eq_ignore_ascii_case(code.trim()))
}

/// The failure codes the lifecycle driver picks from (the four §3.5 names).
pub(crate) const DRIVER_FAILURE_CODES: &[&str] = &["NDPC", "NDRE", "NDOT", "NDOE"];

pub(crate) fn is_not_delivered(code: &str) -> bool {
    scan_def(code).is_some_and(|s| s.status == "NDL")
}
