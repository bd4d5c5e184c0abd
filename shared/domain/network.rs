use super::coded_enum;
use crate::error::ParseError;

coded_enum! {
    /// A pallet network on the Nexus platform.
    Network, what = "network" {
        /// PALL-EX; depot codes `UKD…`.
        Pallex = "PALLEX" | "PALL-EX",
        /// Fortec; depot codes `FTD…`.
        Fortec = "FORTEC",
    }
}

impl Network {
    /// The name people use for the network.
    pub fn display_name(self) -> &'static str {
        match self {
            Network::Pallex => "PALL-EX",
            Network::Fortec => "Fortec",
        }
    }

    /// The Qargo subcontractor resource code that dispatches to this network.
    pub fn resource_code(self) -> &'static str {
        match self {
            Network::Pallex => "PALLEX_OUT",
            Network::Fortec => "FORTEC_OUT",
        }
    }

    /// The Qargo customer field holding the customer's Nexus ID on this network.
    pub fn customer_id_field(self) -> &'static str {
        match self {
            Network::Pallex => "PallexID",
            Network::Fortec => "FortecID",
        }
    }

    /// The network a trip's subcontractor resource code dispatches to (`PALLEX_OUT`, `FORTEC_OUT`).
    pub fn from_resource_code(code: &str) -> Result<Network, ParseError> {
        Network::ALL
            .iter()
            .copied()
            .find(|network| network.resource_code().eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| {
                ParseError::new(
                    "subcontractor resource code",
                    code,
                    "assign the PALLEX_OUT resource (PALL-EX) or the FORTEC_OUT resource (Fortec) to the trip",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_aliases_case_insensitively() {
        assert_eq!("PALLEX".parse::<Network>().unwrap(), Network::Pallex);
        assert_eq!("pall-ex".parse::<Network>().unwrap(), Network::Pallex);
        assert_eq!(" Fortec ".parse::<Network>().unwrap(), Network::Fortec);
        let err = "PALLETWAYS".parse::<Network>().unwrap_err();
        assert_eq!(err.what, "network");
        assert!(err.to_string().contains("PALLEX, FORTEC"), "{err}");
    }

    #[test]
    fn resource_codes_choose_the_network() {
        assert_eq!(Network::from_resource_code("PALLEX_OUT").unwrap(), Network::Pallex);
        assert_eq!(Network::from_resource_code("fortec_out").unwrap(), Network::Fortec);
        let err = Network::from_resource_code("OWN_FLEET").unwrap_err();
        assert!(err.fix.contains("PALLEX_OUT"), "{err}");
    }

    #[test]
    fn serialises_as_its_code() {
        assert_eq!(serde_json::to_string(&Network::Fortec).unwrap(), "\"FORTEC\"");
        let back: Network = serde_json::from_str("\"PALL-EX\"").unwrap();
        assert_eq!(back, Network::Pallex);
        assert!(serde_json::from_str::<Network>("\"X\"").is_err());
    }
}
