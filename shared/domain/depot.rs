use std::str::FromStr;

use super::{Network, coded_enum, string_newtype_serde};
use crate::error::ParseError;

/// A depot code assigned by the networks: `UKD…` (PALL-EX only), `FTD…` (Fortec only) or `PGD…`
/// (member of both), followed by digits, e.g. `PGD302`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DepotCode(String);

impl DepotCode {
    /// The networks this depot belongs to, from its prefix.
    pub fn networks(&self) -> &'static [Network] {
        match &self.0[..3] {
            "UKD" => &[Network::Pallex],
            "FTD" => &[Network::Fortec],
            _ => &[Network::Pallex, Network::Fortec],
        }
    }

    /// Whether this depot may send and receive consignments on `network`.
    pub fn is_member_of(&self, network: Network) -> bool {
        self.networks().contains(&network)
    }
}

impl FromStr for DepotCode {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let code = raw.trim().to_ascii_uppercase();
        let valid_prefix = ["UKD", "FTD", "PGD"].iter().any(|p| code.starts_with(p));
        let digits = code.get(3..).unwrap_or("");
        if !valid_prefix || digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(
                "depot code",
                raw,
                "a depot code is UKD (PALL-EX), FTD (Fortec) or PGD (both networks) followed by its number, e.g. PGD302",
            ));
        }
        Ok(DepotCode(code))
    }
}

string_newtype_serde!(DepotCode);

coded_enum! {
    /// The part a depot plays on one consignment. A depot can play several (e.g. requesting and
    /// collecting its own customer's freight); what a scan means for Qargo depends on the role.
    DepotRole, what = "depot role" {
        /// The depot that booked the consignment on Nexus.
        Requesting = "REQUESTING",
        /// The depot that collects the freight and trunks it to the hub.
        Collecting = "COLLECTING",
        /// The depot that delivers the freight to the consignee.
        Delivery = "DELIVERY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_follows_the_prefix() {
        let pgd: DepotCode = "pgd302".parse().unwrap();
        assert_eq!(pgd.as_str(), "PGD302");
        assert!(pgd.is_member_of(Network::Pallex) && pgd.is_member_of(Network::Fortec));
        let ukd: DepotCode = "UKD101".parse().unwrap();
        assert_eq!(ukd.networks(), &[Network::Pallex]);
        assert!(!ukd.is_member_of(Network::Fortec));
        let ftd: DepotCode = "FTD118".parse().unwrap();
        assert_eq!(ftd.networks(), &[Network::Fortec]);
    }

    #[test]
    fn refuses_malformed_codes_with_the_fix() {
        for bad in ["", "PGD", "XYZ302", "PGD30A", "PGD1234567", "302"] {
            let err = bad.parse::<DepotCode>().unwrap_err();
            assert!(err.fix.contains("e.g. PGD302"), "{bad}: {err}");
        }
    }

    #[test]
    fn roles_parse() {
        assert_eq!("delivery".parse::<DepotRole>().unwrap(), DepotRole::Delivery);
        assert!("HUB".parse::<DepotRole>().is_err());
    }
}
