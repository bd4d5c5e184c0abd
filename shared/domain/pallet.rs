use super::coded_enum;

coded_enum! {
    /// The pallet types of the networks (Nexus `palletTypes`), each with its weight and height
    /// limits and the pallet spaces it takes.
    PalletType, what = "pallet type" {
        /// Micro / mini quarter.
        MiniQuarter = "MQ",
        /// Quarter.
        Quarter = "Q",
        /// Half.
        Half = "H",
        /// Light (full size, light weight).
        Light = "L",
        /// Euro (1.2 × 0.8 m base).
        Euro = "E",
        /// Oversize full (base larger than 1.2 × 1.0 m); counts two spaces.
        Oversize = "OS",
        /// Full.
        Full = "F",
    }
}

impl PalletType {
    /// The Nexus `palletTypeID`.
    pub fn nexus_id(self) -> u32 {
        match self {
            PalletType::MiniQuarter => 1,
            PalletType::Quarter => 2,
            PalletType::Half => 3,
            PalletType::Light => 4,
            PalletType::Euro => 5,
            PalletType::Oversize => 6,
            PalletType::Full => 7,
        }
    }

    /// The type with Nexus `palletTypeID` `id`.
    pub fn from_nexus_id(id: u32) -> Option<PalletType> {
        PalletType::ALL.iter().copied().find(|t| t.nexus_id() == id)
    }

    /// Heaviest accepted pallet, kg.
    pub fn max_weight_kg(self) -> u32 {
        match self {
            PalletType::MiniQuarter => 150,
            PalletType::Quarter => 250,
            PalletType::Half => 500,
            PalletType::Light => 750,
            PalletType::Euro => 1000,
            PalletType::Oversize | PalletType::Full => 1200,
        }
    }

    /// Tallest accepted pallet including the base, cm.
    pub fn max_height_cm(self) -> u32 {
        match self {
            PalletType::MiniQuarter => 60,
            PalletType::Quarter => 80,
            PalletType::Half => 110,
            _ => 220,
        }
    }

    /// Pallet spaces taken on a trailer.
    pub fn spaces(self) -> f64 {
        match self {
            PalletType::MiniQuarter | PalletType::Quarter => 0.25,
            PalletType::Half => 0.5,
            PalletType::Oversize => 2.0,
            _ => 1.0,
        }
    }

    /// Whether the type travels on a Euro base, the one international type we support.
    pub fn is_euro(self) -> bool {
        self == PalletType::Euro
    }
}

coded_enum! {
    /// The pallet base (Nexus `palletBases`).
    PalletBase, what = "pallet base" {
        /// Standard UK 1200 × 1000.
        Standard = "STANDARD" | "UK",
        /// Euro 1200 × 800.
        Euro = "EURO",
        /// Non-standard or other.
        Other = "OTHER",
    }
}

impl PalletBase {
    /// The Nexus `palletBaseID`.
    pub fn nexus_id(self) -> u32 {
        match self {
            PalletBase::Standard => 1,
            PalletBase::Euro => 2,
            PalletBase::Other => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_limits_hold() {
        for pallet_type in PalletType::ALL {
            assert_eq!(PalletType::from_nexus_id(pallet_type.nexus_id()), Some(*pallet_type));
            assert!(pallet_type.max_weight_kg() >= 150 && pallet_type.max_height_cm() >= 60);
        }
        assert_eq!(PalletType::from_nexus_id(99), None);
        assert_eq!("f".parse::<PalletType>().unwrap(), PalletType::Full);
        assert_eq!(PalletType::Full.nexus_id(), 7);
        assert_eq!(PalletType::Oversize.nexus_id(), 6);
        assert_eq!(PalletType::Half.max_weight_kg(), 500);
        assert_eq!(PalletType::Oversize.spaces(), 2.0);
        let err = "XL".parse::<PalletType>().unwrap_err();
        assert!(err.fix.contains("MQ, Q, H, L, E, OS, F"), "{err}");
    }
}
