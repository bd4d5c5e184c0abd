//! Postcodes: the UK format check and a small gazetteer of postcode areas (the leading letters,
//! `DN` in `DN22 7XX`). Depots are located by the areas they serve, which is how booked consignments
//! get a collecting and a delivery depot. Irish deliveries use Eircodes (`D02 X285`) and are served by
//! whichever depot serves Northern Ireland (`BT`) — an invention of the simulator.

/// A UK postcode in its canonical form (upper case, one space before the inward code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UkPostcode {
    pub(crate) area: String,
    pub(crate) formatted: String,
}

/// Checks the UK postcode shape: outward code `A9`, `A99`, `A9A`, `AA9`, `AA99` or `AA9A`, then the
/// inward code `9AA`; spaces and case are forgiven.
pub(crate) fn parse_uk_postcode(raw: &str) -> Option<UkPostcode> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return None;
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_bytes = inward.as_bytes();
    if !(inward_bytes[0].is_ascii_digit()
        && inward_bytes[1].is_ascii_alphabetic()
        && inward_bytes[2].is_ascii_alphabetic())
    {
        return None;
    }
    let shape: String = outward
        .bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                '9'
            } else if b.is_ascii_alphabetic() {
                'A'
            } else {
                '?'
            }
        })
        .collect();
    if !matches!(shape.as_str(), "A9" | "A99" | "A9A" | "AA9" | "AA99" | "AA9A") {
        return None;
    }
    let area: String = outward.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    Some(UkPostcode { area, formatted: format!("{outward} {inward}") })
}

/// An Eircode (`A65 F4E2`, `D6W 1234`): routing key of a letter and two characters, then four
/// characters.
pub(crate) fn parse_eircode(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let bytes = compact.as_bytes();
    let valid = compact.len() == 7
        && bytes[0].is_ascii_alphabetic()
        && bytes[1..].iter().all(|b| b.is_ascii_alphanumeric())
        && bytes[1].is_ascii_digit();
    valid.then(|| format!("{} {}", &compact[..3], &compact[3..]))
}

/// One postcode area of the gazetteer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PostcodeArea {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    /// Highlands, islands and offshore areas where next-day (Premium) delivery is not offered.
    pub(crate) remote: bool,
}

const fn area(code: &'static str, name: &'static str) -> PostcodeArea {
    PostcodeArea { code, name, remote: false }
}

const fn remote(code: &'static str, name: &'static str) -> PostcodeArea {
    PostcodeArea { code, name, remote: true }
}

/// The UK postcode areas (plus the Crown Dependencies, which use the same format).
pub(crate) const AREAS: &[PostcodeArea] = &[
    area("AB", "Aberdeen"),
    area("AL", "St Albans"),
    area("B", "Birmingham"),
    area("BA", "Bath"),
    area("BB", "Blackburn"),
    area("BD", "Bradford"),
    area("BH", "Bournemouth"),
    area("BL", "Bolton"),
    area("BN", "Brighton"),
    area("BR", "Bromley"),
    area("BS", "Bristol"),
    area("BT", "Belfast"),
    area("CA", "Carlisle"),
    area("CB", "Cambridge"),
    area("CF", "Cardiff"),
    area("CH", "Chester"),
    area("CM", "Chelmsford"),
    area("CO", "Colchester"),
    area("CR", "Croydon"),
    area("CT", "Canterbury"),
    area("CV", "Coventry"),
    area("CW", "Crewe"),
    area("DA", "Dartford"),
    area("DD", "Dundee"),
    area("DE", "Derby"),
    area("DG", "Dumfries"),
    area("DH", "Durham"),
    area("DL", "Darlington"),
    area("DN", "Doncaster"),
    area("DT", "Dorchester"),
    area("DY", "Dudley"),
    area("E", "London E"),
    area("EC", "London EC"),
    area("EH", "Edinburgh"),
    area("EN", "Enfield"),
    area("EX", "Exeter"),
    area("FK", "Falkirk"),
    area("FY", "Blackpool"),
    area("G", "Glasgow"),
    area("GL", "Gloucester"),
    area("GU", "Guildford"),
    remote("GY", "Guernsey"),
    area("HA", "Harrow"),
    area("HD", "Huddersfield"),
    area("HG", "Harrogate"),
    area("HP", "Hemel Hempstead"),
    area("HR", "Hereford"),
    remote("HS", "Outer Hebrides"),
    area("HU", "Hull"),
    area("HX", "Halifax"),
    area("IG", "Ilford"),
    remote("IM", "Isle of Man"),
    area("IP", "Ipswich"),
    remote("IV", "Inverness"),
    remote("JE", "Jersey"),
    area("KA", "Kilmarnock"),
    area("KT", "Kingston upon Thames"),
    remote("KW", "Kirkwall"),
    area("KY", "Kirkcaldy"),
    area("L", "Liverpool"),
    area("LA", "Lancaster"),
    area("LD", "Llandrindod Wells"),
    area("LE", "Leicester"),
    area("LL", "Llandudno"),
    area("LN", "Lincoln"),
    area("LS", "Leeds"),
    area("LU", "Luton"),
    area("M", "Manchester"),
    area("ME", "Rochester"),
    area("MK", "Milton Keynes"),
    area("ML", "Motherwell"),
    area("N", "London N"),
    area("NE", "Newcastle upon Tyne"),
    area("NG", "Nottingham"),
    area("NN", "Northampton"),
    area("NP", "Newport"),
    area("NR", "Norwich"),
    area("NW", "London NW"),
    area("OL", "Oldham"),
    area("OX", "Oxford"),
    area("PA", "Paisley"),
    area("PE", "Peterborough"),
    area("PH", "Perth"),
    area("PL", "Plymouth"),
    area("PO", "Portsmouth"),
    area("PR", "Preston"),
    area("RG", "Reading"),
    area("RH", "Redhill"),
    area("RM", "Romford"),
    area("S", "Sheffield"),
    area("SA", "Swansea"),
    area("SE", "London SE"),
    area("SG", "Stevenage"),
    area("SK", "Stockport"),
    area("SL", "Slough"),
    area("SM", "Sutton"),
    area("SN", "Swindon"),
    area("SO", "Southampton"),
    area("SP", "Salisbury"),
    area("SR", "Sunderland"),
    area("SS", "Southend-on-Sea"),
    area("ST", "Stoke-on-Trent"),
    area("SW", "London SW"),
    area("SY", "Shrewsbury"),
    area("TA", "Taunton"),
    area("TD", "Galashiels"),
    area("TF", "Telford"),
    area("TN", "Tonbridge"),
    area("TQ", "Torquay"),
    area("TR", "Truro"),
    area("TS", "Cleveland"),
    area("TW", "Twickenham"),
    area("UB", "Southall"),
    area("W", "London W"),
    area("WA", "Warrington"),
    area("WC", "London WC"),
    area("WD", "Watford"),
    area("WF", "Wakefield"),
    area("WN", "Wigan"),
    area("WR", "Worcester"),
    area("WS", "Walsall"),
    area("WV", "Wolverhampton"),
    area("YO", "York"),
    remote("ZE", "Shetland"),
];

pub(crate) fn find_area(code: &str) -> Option<&'static PostcodeArea> {
    AREAS.iter().find(|area| area.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_uk_shapes_and_rejects_others() {
        for good in ["DN22 7XX", "de11aa", "EC1A 1BB", "W1A 0AX", "M1 1AE", "CR2 6XH", "B33 8TH"] {
            assert!(parse_uk_postcode(good).is_some(), "{good}");
        }
        for bad in ["", "DN22", "12345", "DN22 XX7", "DNN2 7XX", "DN22 7XXX", "D-22 7XX"] {
            assert!(parse_uk_postcode(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_uk_postcode("de11aa").unwrap().formatted, "DE1 1AA");
        assert_eq!(parse_uk_postcode("EC1A1BB").unwrap().area, "EC");
        assert_eq!(parse_eircode("d02x285").as_deref(), Some("D02 X285"));
        assert!(parse_eircode("DN22 7XX").is_none());
        assert_eq!(AREAS.len(), 124);
        assert!(find_area("ze").unwrap().remote);
    }
}
