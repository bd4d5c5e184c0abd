use std::str::FromStr;

use super::{coded_enum, string_newtype_serde};
use crate::error::ParseError;

/// A UK postcode in its normal form: upper case, one space before the inward code (`DE1 1AA`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

impl Postcode {
    /// The postcode area: its leading letters (`DE` of `DE1 1AA`, `G` of `G2 1DY`).
    pub fn area(&self) -> &str {
        let end = self.0.find(|c: char| c.is_ascii_digit()).unwrap_or(self.0.len());
        &self.0[..end]
    }

    /// The outward code (`DE1` of `DE1 1AA`).
    pub fn outward(&self) -> &str {
        self.0.split(' ').next().unwrap_or(&self.0)
    }
}

/// Whether `outward` has one of the UK outward shapes: A9, A99, AA9, AA99, A9A, AA9A.
fn is_outward_code(outward: &[u8]) -> bool {
    let letters = outward.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if !(1..=2).contains(&letters) {
        return false;
    }
    match &outward[letters..] {
        [d] => d.is_ascii_digit(),
        [d, e] => d.is_ascii_digit() && (e.is_ascii_digit() || e.is_ascii_alphabetic()),
        _ => false,
    }
}

impl FromStr for Postcode {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let bytes = compact.as_bytes();
        let valid = (5..=7).contains(&bytes.len()) && {
            let (outward, inward) = bytes.split_at(bytes.len() - 3);
            inward[0].is_ascii_digit()
                && inward[1].is_ascii_alphabetic()
                && inward[2].is_ascii_alphabetic()
                && is_outward_code(outward)
        };
        if !valid {
            return Err(ParseError::new(
                "UK postcode",
                raw,
                "a UK postcode is an outward code (e.g. DE1, SW1A) and an inward code (e.g. 1AA): check the address",
            ));
        }
        let split = compact.len() - 3;
        Ok(Postcode(format!("{} {}", &compact[..split], &compact[split..])))
    }
}

string_newtype_serde!(Postcode);

coded_enum! {
    /// The UK jurisdictions with their own bank holidays; a depot's working days follow its own.
    UkRegion, what = "UK region" {
        /// England and Wales.
        EnglandAndWales = "ENGLAND_AND_WALES" | "england-and-wales" | "EW" | "ENGLAND" | "WALES",
        /// Scotland.
        Scotland = "SCOTLAND" | "SCT",
        /// Northern Ireland.
        NorthernIreland = "NORTHERN_IRELAND" | "northern-ireland" | "NI",
    }
}

impl UkRegion {
    /// The region a postcode lies in, by its area (`BT` is Northern Ireland; the Scottish areas
    /// are Scotland; the rest England and Wales). Border areas (`TD`, `DG`) count as Scotland.
    pub fn of_postcode(postcode: &Postcode) -> UkRegion {
        const SCOTTISH_AREAS: [&str; 16] =
            ["AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "TD", "ZE"];
        match postcode.area() {
            "BT" => UkRegion::NorthernIreland,
            area if SCOTTISH_AREAS.contains(&area) => UkRegion::Scotland,
            _ => UkRegion::EnglandAndWales,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_valid_postcodes() {
        for (raw, normal, area) in [
            ("de11aa", "DE1 1AA", "DE"),
            ("SW1A 1AA", "SW1A 1AA", "SW"),
            ("  g2 1dy ", "G2 1DY", "G"),
            ("M60 1NW", "M60 1NW", "M"),
            ("W1A 0AX", "W1A 0AX", "W"),
            ("EC1A1BB", "EC1A 1BB", "EC"),
            ("CR2 6XH", "CR2 6XH", "CR"),
            ("DN55 1PT", "DN55 1PT", "DN"),
        ] {
            let postcode: Postcode = raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(postcode.as_str(), normal);
            assert_eq!(postcode.area(), area);
        }
    }

    #[test]
    fn refuses_what_is_not_a_uk_postcode() {
        for bad in ["", "DE1", "12345", "DE1 AAA", "DEF1 1AA", "D 1AA", "DE1 1A", "75008", "DE1-1AA"] {
            let err = bad.parse::<Postcode>().unwrap_err();
            assert_eq!(err.what, "UK postcode", "{bad}");
        }
    }

    #[test]
    fn region_by_area() {
        let region = |p: &str| UkRegion::of_postcode(&p.parse().unwrap());
        assert_eq!(region("BT1 1AA"), UkRegion::NorthernIreland);
        assert_eq!(region("EH1 1YZ"), UkRegion::Scotland);
        assert_eq!(region("G2 1DY"), UkRegion::Scotland);
        assert_eq!(region("GL1 1AA"), UkRegion::EnglandAndWales);
        assert_eq!(region("CF10 1AA"), UkRegion::EnglandAndWales);
        assert_eq!("england-and-wales".parse::<UkRegion>().unwrap(), UkRegion::EnglandAndWales);
    }
}
