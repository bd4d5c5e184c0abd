use std::str::FromStr;

use super::string_newtype_serde;
use crate::error::ParseError;

/// A Nexus consignment id (`consignmentID`, an integer on Nexus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct NexusConsignmentId(pub i64);

impl FromStr for NexusConsignmentId {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(NexusConsignmentId(id)),
            _ => Err(ParseError::new(
                "Nexus consignment id",
                raw,
                "a Nexus consignmentID is a positive whole number, e.g. 10001",
            )),
        }
    }
}

impl std::fmt::Display for NexusConsignmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A Qargo consignment id: the key of the dispatch ledger. Opaque to us, but never empty and never
/// containing `#`, which separates the parts of our storage keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QargoConsignmentId(String);

impl FromStr for QargoConsignmentId {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let id = raw.trim();
        if id.is_empty() || id.len() > 128 || id.contains('#') || id.chars().any(char::is_control) {
            return Err(ParseError::new(
                "Qargo consignment id",
                raw,
                "expected Qargo's consignment id (1 to 128 characters, no '#')",
            ));
        }
        Ok(QargoConsignmentId(id.to_owned()))
    }
}

string_newtype_serde!(QargoConsignmentId);

/// A pallet barcode: the 16-digit number printed on the label and scanned across the network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Barcode(String);

impl FromStr for Barcode {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let code = raw.trim();
        if code.len() != 16 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(
                "pallet barcode",
                raw,
                "a Nexus pallet barcode is 16 digits, e.g. 1044000106606774",
            ));
        }
        Ok(Barcode(code.to_owned()))
    }
}

string_newtype_serde!(Barcode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_are_sixteen_digits() {
        assert_eq!("1044000106606774".parse::<Barcode>().unwrap().as_str(), "1044000106606774");
        for bad in ["104400010660677", "10440001066067745", "104400010660677X", ""] {
            assert!(bad.parse::<Barcode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!("10001".parse::<NexusConsignmentId>().unwrap(), NexusConsignmentId(10001));
        assert!("0".parse::<NexusConsignmentId>().is_err());
        assert!("abc".parse::<NexusConsignmentId>().is_err());
        assert_eq!("  c-42 ".parse::<QargoConsignmentId>().unwrap().as_str(), "c-42");
        assert!("a#b".parse::<QargoConsignmentId>().is_err());
        assert!("".parse::<QargoConsignmentId>().is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let id: QargoConsignmentId = serde_json::from_str("\"ord-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ord-1\"");
        assert!(serde_json::from_str::<Barcode>("\"12\"").is_err());
        assert_eq!(serde_json::to_string(&NexusConsignmentId(7)).unwrap(), "7");
    }
}
