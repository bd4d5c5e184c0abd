use std::str::FromStr;

use jiff::civil::DateTime;

use super::{Barcode, DepotCode, coded_enum};
use crate::error::ParseError;

/// A per-pallet scan code of the Nexus `events` resource. Codes we do not know are kept as
/// [`ScanCode::Unrecognised`]: they go into history and the log, never dropped, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ScanCode {
    /// `POC` collected from the customer.
    Collected,
    /// `ARRC` arrived at the collecting depot.
    ArrivedCollectingDepot,
    /// `SCOT` scanned out to the hub.
    ScannedOutToHub,
    /// `ARRH` arrived at the hub.
    ArrivedHub,
    /// `DEPH` departed the hub.
    DepartedHub,
    /// `ARRD` arrived at the delivery depot.
    ArrivedDeliveryDepot,
    /// `HIND` held in depot.
    HeldInDepot,
    /// `BKIN` booked in (carries the slot).
    BookedIn,
    /// `SCDV` scanned onto the delivery vehicle: out for delivery.
    OutForDelivery,
    /// `ARRI` arrived at the delivery location.
    ArrivedAtDelivery,
    /// `MPOD` delivered with an e-signature.
    DeliveredSigned,
    /// `EPOD` clean delivery.
    Delivered,
    /// `DELD` delivered damaged.
    DeliveredDamaged,
    /// `DELS` delivered short.
    DeliveredShort,
    /// `ND…` not delivered, with the reason code (`NDPC`, `NDRE`, `NDOT`, `NDOE`, or another).
    NotDelivered(String),
    /// `ETA` ETA updated.
    EtaUpdated,
    /// `CANC` cancelled.
    Cancelled,
    /// `RTN…` returned to sender.
    Returned,
    /// A code this version does not know.
    Unrecognised(String),
}

const FIXED_CODES: [(&str, ScanCode); 17] = [
    ("POC", ScanCode::Collected),
    ("ARRC", ScanCode::ArrivedCollectingDepot),
    ("SCOT", ScanCode::ScannedOutToHub),
    ("ARRH", ScanCode::ArrivedHub),
    ("DEPH", ScanCode::DepartedHub),
    ("ARRD", ScanCode::ArrivedDeliveryDepot),
    ("HIND", ScanCode::HeldInDepot),
    ("BKIN", ScanCode::BookedIn),
    ("SCDV", ScanCode::OutForDelivery),
    ("ARRI", ScanCode::ArrivedAtDelivery),
    ("MPOD", ScanCode::DeliveredSigned),
    ("EPOD", ScanCode::Delivered),
    ("DELD", ScanCode::DeliveredDamaged),
    ("DELS", ScanCode::DeliveredShort),
    ("ETA", ScanCode::EtaUpdated),
    ("CANC", ScanCode::Cancelled),
    ("RTN", ScanCode::Returned),
];

impl ScanCode {
    /// The code as Nexus writes it.
    pub fn code(&self) -> &str {
        match self {
            ScanCode::NotDelivered(code) | ScanCode::Unrecognised(code) => code,
            known => FIXED_CODES.iter().find(|(_, c)| c == known).map(|(code, _)| *code).unwrap_or("?"),
        }
    }

    /// Whether the pallet reached the consignee (cleanly or with an exception).
    pub fn is_delivery(&self) -> bool {
        matches!(
            self,
            ScanCode::DeliveredSigned | ScanCode::Delivered | ScanCode::DeliveredDamaged | ScanCode::DeliveredShort
        )
    }

    /// Whether a planner must see this scan: failed delivery, damage, shortage, hold, return, cancel.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            ScanCode::NotDelivered(_)
                | ScanCode::DeliveredDamaged
                | ScanCode::DeliveredShort
                | ScanCode::HeldInDepot
                | ScanCode::Returned
                | ScanCode::Cancelled
        )
    }
}

impl From<String> for ScanCode {
    fn from(raw: String) -> Self {
        let code = raw.trim().to_ascii_uppercase();
        if let Some((_, known)) = FIXED_CODES.iter().find(|(c, _)| *c == code) {
            return known.clone();
        }
        if code.starts_with("ND") && code.len() > 2 {
            return ScanCode::NotDelivered(code);
        }
        ScanCode::Unrecognised(code)
    }
}

impl FromStr for ScanCode {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(ScanCode::from(raw.to_owned()))
    }
}

impl From<ScanCode> for String {
    fn from(code: ScanCode) -> String {
        code.code().to_owned()
    }
}

impl std::fmt::Display for ScanCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

coded_enum! {
    /// Who recorded a scan on Nexus.
    ScanSource, what = "scan source" {
        /// The network's own scanning (depots' handhelds, hub).
        Network = "NETWORK",
        /// A member depot's system through the API (possibly this bridge).
        DepotApi = "DEPOT_API",
        /// The Optimize module.
        Optimize = "OPTIMIZE",
    }
}

/// One scan of one pallet on Nexus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanEvent {
    /// Nexus `eventID`: unique, the key by which we apply each event once.
    pub event_id: i64,
    /// The scanned pallet's barcode.
    pub barcode: Barcode,
    /// What happened.
    pub code: ScanCode,
    /// The depot that scanned, where Nexus says.
    pub depot_code: Option<DepotCode>,
    /// When, in UK local time as Nexus writes it.
    pub at: DateTime,
    /// Who recorded it.
    pub source: ScanSource,
    /// Free text from the scanner (reason, book-in slot, …).
    pub notes: Option<String>,
}

/// A consignment-level status rolled up by Nexus (`consignmentStatuses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsignmentStatus {
    id: u16,
}

const STATUSES: [(u16, &str, &str, bool); 15] = [
    (10, "BKD", "Booked", false),
    (20, "MAN", "Manifested", false),
    (30, "COL", "Collected", false),
    (40, "ACD", "At Collecting Depot", false),
    (50, "THB", "Trunked to Hub", false),
    (60, "AHB", "At Hub", false),
    (70, "DHB", "Departed Hub", false),
    (80, "ADD", "At Delivery Depot", false),
    (85, "HLD", "Held at Depot", false),
    (90, "OFD", "Out for Delivery", false),
    (100, "DEL", "Delivered", true),
    (101, "DLX", "Delivered with exception", true),
    (110, "NDL", "Not Delivered", false),
    (120, "RTN", "Returned to sender", true),
    (130, "CAN", "Cancelled", true),
];

impl ConsignmentStatus {
    /// The status with Nexus id `id`.
    pub fn from_id(id: u16) -> Result<ConsignmentStatus, ParseError> {
        STATUSES.iter().find(|(known, ..)| *known == id).map(|_| ConsignmentStatus { id }).ok_or_else(|| {
            ParseError::new(
                "consignment status id",
                id.to_string(),
                "expected a Nexus consignmentStatuses id, e.g. 10 (Booked) or 100 (Delivered)",
            )
        })
    }

    fn entry(self) -> &'static (u16, &'static str, &'static str, bool) {
        STATUSES.iter().find(|(id, ..)| *id == self.id).expect("constructed from the table")
    }

    /// The Nexus id.
    pub fn id(self) -> u16 {
        self.id
    }

    /// The short code (`BKD`, `DEL`, …).
    pub fn code(self) -> &'static str {
        self.entry().1
    }

    /// The name people read.
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Whether the consignment will not move again (delivered, returned, cancelled).
    pub fn is_terminal(self) -> bool {
        self.entry().3
    }

    /// Whether the consignment can still be cancelled (before collection).
    pub fn is_cancellable(self) -> bool {
        self.id < 30
    }
}

impl FromStr for ConsignmentStatus {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wanted = raw.trim();
        if let Ok(id) = wanted.parse::<u16>() {
            return ConsignmentStatus::from_id(id);
        }
        STATUSES
            .iter()
            .find(|(_, code, name, _)| code.eq_ignore_ascii_case(wanted) || name.eq_ignore_ascii_case(wanted))
            .map(|(id, ..)| ConsignmentStatus { id: *id })
            .ok_or_else(|| {
                ParseError::new("consignment status", raw, "expected a Nexus status code such as BKD, OFD or DEL")
            })
    }
}

impl TryFrom<String> for ConsignmentStatus {
    type Error = ParseError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<ConsignmentStatus> for String {
    fn from(status: ConsignmentStatus) -> String {
        status.code().to_owned()
    }
}

impl std::fmt::Display for ConsignmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip() {
        for (code, known) in FIXED_CODES {
            assert_eq!(ScanCode::from(code.to_lowercase()), known);
            assert_eq!(known.code(), code);
        }
    }

    #[test]
    fn not_delivered_family_and_unknown_codes_are_kept() {
        assert_eq!("NDPC".parse::<ScanCode>().unwrap(), ScanCode::NotDelivered("NDPC".into()));
        let novel = "NDXX".parse::<ScanCode>().unwrap();
        assert!(novel.is_exception() && !novel.is_delivery());
        let unknown = "ZZTOP".parse::<ScanCode>().unwrap();
        assert_eq!(unknown, ScanCode::Unrecognised("ZZTOP".into()));
        assert_eq!(unknown.code(), "ZZTOP");
        assert!(!unknown.is_exception());
        assert!(ScanCode::DeliveredDamaged.is_delivery() && ScanCode::DeliveredDamaged.is_exception());
        assert_eq!(serde_json::to_string(&ScanCode::OutForDelivery).unwrap(), "\"SCDV\"");
    }

    #[test]
    fn statuses_by_id_code_or_name() {
        let delivered = ConsignmentStatus::from_id(100).unwrap();
        assert_eq!(delivered.code(), "DEL");
        assert!(delivered.is_terminal());
        assert_eq!("at hub".parse::<ConsignmentStatus>().unwrap().id(), 60);
        assert_eq!("OFD".parse::<ConsignmentStatus>().unwrap().name(), "Out for Delivery");
        assert!("MAN".parse::<ConsignmentStatus>().unwrap().is_cancellable());
        assert!(!"COL".parse::<ConsignmentStatus>().unwrap().is_cancellable());
        assert!(ConsignmentStatus::from_id(55).is_err());
        assert!("SHIPPED".parse::<ConsignmentStatus>().is_err());
    }

    #[test]
    fn scan_event_serde() {
        let event = ScanEvent {
            event_id: 1,
            barcode: "1044000106606774".parse().unwrap(),
            code: ScanCode::ArrivedDeliveryDepot,
            depot_code: Some("FTD118".parse().unwrap()),
            at: "2026-06-18T05:42:00".parse().unwrap(),
            source: ScanSource::Network,
            notes: None,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains("\"ARRD\"") && json.contains("\"FTD118\""), "{json}");
        assert_eq!(serde_json::from_str::<ScanEvent>(&json).unwrap(), event);
    }
}
