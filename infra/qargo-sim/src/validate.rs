//! `OrderInput` semantic checks: what the schema (validated first, `422`) cannot say. Every failure
//! becomes a `400` `ValidationErrorDetail` `{message, field, path, detail}` with a `$`-rooted JSON
//! path (`$.consignments[0].delivery_stop.location.postal_code`).
//!
//! Types, required keys (`operation`, `order_identifier`, `customer`, `consignments`, each
//! consignment's `pickup_stop` / `delivery_stop`, each stop's `location`) and enums (`operation`,
//! `order_status`, barcode `source`) are the schema's: see [`crate::spec`]. Checked here:
//! * `order_identifier` is not blank (uploads);
//! * `customer` `{code | name}` names a customer of the tenant;
//! * `consignments` is not empty;
//! * each stop's `location` has `address`, `postal_code`, `city` and an ISO 3166-1 alpha-2
//!   `country` (`UK` is refused: the code is `GB`), and a `date` (`YYYY-MM-DD`) — on a delivery the
//!   date may be left out when the order has a `service_level` (as Qargo's schema says); a delivery
//!   date may not precede its pickup date;
//! * time-window times are `HH:mm` and the start is before the end;
//! * goods quantities are > 0, weights, volumes and dimensions are ≥ 0, handling units have a
//!   barcode `value` of at most 255 characters and no barcode appears twice in an order;
//! * e-mail addresses contain `@`.
//!
//! A `DELETE` is checked like any other operation: the spec requires the full `OrderInput`.

use jiff::civil::Date;

use crate::errors::FieldError;
use crate::model::Customer;
use crate::wire::{EntityInput, GoodInput, OrderInput, StopInput};

/// Whether the input came through the upload API or the scenario API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST /v1/orders/order/upload`: `operation` and `order_identifier` are required.
    Upload,
    /// The scenario API: neither is needed.
    Scenario,
}

/// ISO 3166-1 alpha-2 country codes.
const ISO_COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI \
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT \
JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ \
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS \
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA \
UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Whether `code` is an ISO 3166-1 alpha-2 country code.
pub fn is_iso_country(code: &str) -> bool {
    code.len() == 2 && ISO_COUNTRIES.split(' ').any(|c| c == code)
}

/// Parses an `HH:mm` time into minutes after midnight.
pub fn parse_hh_mm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    text.parse::<Date>().ok()
}

/// Finds the tenant's customer named by `{code}` (preferred) or `{name}`, case-insensitively.
pub fn find_customer<'a>(customers: &'a [Customer], entity: &EntityInput) -> Option<&'a Customer> {
    let code = entity.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let name = entity.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(code) = code {
        return customers.iter().find(|c| c.code.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(code)));
    }
    let name = name?;
    customers.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// Validates an order input; `Ok` or every failure found.
pub fn validate_order(input: &OrderInput, mode: Mode, customers: &[Customer]) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if mode == Mode::Upload && blank(&input.order_identifier) {
        errors.push(FieldError::at("$.order_identifier", "order_identifier must not be blank", "missing"));
    }
    match &input.customer {
        None => errors.push(FieldError::at("$.customer", "customer is required ({code} or {name})", "missing")),
        Some(entity) if blank(&entity.code) && blank(&entity.name) => {
            errors.push(FieldError::at("$.customer.code", "customer needs a code or a name", "missing"))
        }
        Some(entity) => {
            if find_customer(customers, entity).is_none() {
                let (path, shown) = match &entity.code {
                    Some(code) if !code.trim().is_empty() => ("$.customer.code", code.clone()),
                    _ => ("$.customer.name", entity.name.clone().unwrap_or_default()),
                };
                errors.push(FieldError::at(path, format!("Customer '{shown}' not found"), "not_found"));
            }
        }
    }
    for (i, email) in input.contact_emails.iter().flatten().enumerate() {
        if !looks_like_email(email) {
            errors.push(FieldError::at(
                &format!("$.contact_emails[{i}]"),
                format!("'{email}' is not an e-mail address"),
                "invalid_format",
            ));
        }
    }
    let has_service_level = input.service_level.as_ref().is_some_and(|s| !blank(&s.code) || !blank(&s.name));
    let mut barcodes: Vec<String> = Vec::new();
    match input.consignments.as_deref() {
        None | Some([]) => {
            errors.push(FieldError::at("$.consignments", "at least one consignment is required", "missing"))
        }
        Some(consignments) => {
            for (i, consignment) in consignments.iter().enumerate() {
                let base = format!("$.consignments[{i}]");
                let pickup_date = match &consignment.pickup_stop {
                    None => {
                        errors.push(FieldError::at(
                            &format!("{base}.pickup_stop"),
                            "pickup_stop is required",
                            "missing",
                        ));
                        None
                    }
                    Some(stop) => validate_stop(stop, &format!("{base}.pickup_stop"), true, &mut errors),
                };
                match &consignment.delivery_stop {
                    None => errors.push(FieldError::at(
                        &format!("{base}.delivery_stop"),
                        "delivery_stop is required",
                        "missing",
                    )),
                    Some(stop) => {
                        let path = format!("{base}.delivery_stop");
                        let delivery_date = validate_stop(stop, &path, !has_service_level, &mut errors);
                        if let (Some(pickup), Some(delivery)) = (pickup_date, delivery_date)
                            && delivery < pickup
                        {
                            errors.push(FieldError::at(
                                &format!("{path}.date"),
                                format!("the delivery date {delivery} is before the pickup date {pickup}"),
                                "invalid_value",
                            ));
                        }
                    }
                }
                for (j, good) in consignment.goods.iter().flatten().enumerate() {
                    validate_good(good, &format!("{base}.goods[{j}]"), &mut barcodes, &mut errors);
                }
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn looks_like_email(text: &str) -> bool {
    let Some((user, domain)) = text.trim().split_once('@') else { return false };
    !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
}

/// Validates one stop; returns its date when it has a valid one.
fn validate_stop(stop: &StopInput, path: &str, date_required: bool, errors: &mut Vec<FieldError>) -> Option<Date> {
    match &stop.location {
        None => errors.push(FieldError::at(&format!("{path}.location"), "location is required", "missing")),
        Some(location) => {
            for (field, value) in
                [("address", &location.address), ("postal_code", &location.postal_code), ("city", &location.city)]
            {
                if blank(value) {
                    errors.push(FieldError::at(
                        &format!("{path}.location.{field}"),
                        format!("location.{field} is required"),
                        "missing",
                    ));
                }
            }
            match location.country.as_deref().map(str::trim) {
                None | Some("") => errors.push(FieldError::at(
                    &format!("{path}.location.country"),
                    "location.country is required (ISO 3166-1 alpha-2)",
                    "missing",
                )),
                Some("UK") => errors.push(FieldError::at(
                    &format!("{path}.location.country"),
                    "country 'UK' is not ISO 3166-1 alpha-2: use 'GB'",
                    "invalid_value",
                )),
                Some(country) if !is_iso_country(country) => errors.push(FieldError::at(
                    &format!("{path}.location.country"),
                    format!("country '{country}' is not an ISO 3166-1 alpha-2 code"),
                    "invalid_value",
                )),
                Some(_) => {}
            }
        }
    }
    let date = match stop.date.as_deref() {
        None | Some("") => {
            if date_required {
                errors.push(FieldError::at(&format!("{path}.date"), "date is required (YYYY-MM-DD)", "missing"));
            }
            None
        }
        Some(text) => {
            let parsed = parse_date(text);
            if parsed.is_none() {
                errors.push(FieldError::at(
                    &format!("{path}.date"),
                    format!("date '{text}' is not a YYYY-MM-DD date"),
                    "invalid_format",
                ));
            }
            parsed
        }
    };
    if let Some(window) = &stop.time_window {
        let mut times = [None, None];
        for (k, (field, value)) in
            [("start_time", &window.start_time), ("end_time", &window.end_time)].into_iter().enumerate()
        {
            if let Some(text) = value.as_deref() {
                times[k] = parse_hh_mm(text);
                if times[k].is_none() {
                    errors.push(FieldError::at(
                        &format!("{path}.time_window.{field}"),
                        format!("time_window.{field} '{text}' is not an HH:mm time"),
                        "invalid_format",
                    ));
                }
            }
        }
        if let [Some(start), Some(end)] = times
            && start >= end
        {
            errors.push(FieldError::at(
                &format!("{path}.time_window.end_time"),
                "time_window.end_time must be after start_time",
                "invalid_value",
            ));
        }
    }
    if let Some(email) = stop.email.as_deref()
        && !looks_like_email(email)
    {
        errors.push(FieldError::at(
            &format!("{path}.email"),
            format!("'{email}' is not an e-mail address"),
            "invalid_format",
        ));
    }
    for (k, extra) in stop.extras.iter().flatten().enumerate() {
        if blank(&extra.code) && blank(&extra.name) {
            errors.push(FieldError::at(
                &format!("{path}.extras[{k}].code"),
                "an extra needs a code or a name",
                "missing",
            ));
        }
    }
    if let Some(duration) = stop.duration
        && duration < 0
    {
        errors.push(FieldError::at(&format!("{path}.duration"), "duration must not be negative", "invalid_value"));
    }
    date
}

fn validate_good(good: &GoodInput, path: &str, barcodes: &mut Vec<String>, errors: &mut Vec<FieldError>) {
    if let Some(quantity) = good.quantity
        && quantity <= 0
    {
        errors.push(FieldError::at(
            &format!("{path}.quantity"),
            format!("quantity must be greater than 0, got {quantity}"),
            "invalid_value",
        ));
    }
    for (field, value) in [
        ("total_weight_kg", good.total_weight_kg),
        ("total_volume_m3", good.total_volume_m3),
        ("total_pallet_spaces", good.total_pallet_spaces),
        ("total_loading_meters", good.total_loading_meters),
        ("unit_length_m", good.unit_length_m),
        ("unit_width_m", good.unit_width_m),
        ("unit_height_m", good.unit_height_m),
        ("unit_weight_kg", good.unit_weight_kg),
    ] {
        if let Some(v) = value
            && (v < 0.0 || !v.is_finite())
        {
            errors.push(FieldError::at(
                &format!("{path}.{field}"),
                format!("{field} must not be negative, got {v}"),
                "invalid_value",
            ));
        }
    }
    if let Some(packaging) = &good.packaging_type
        && blank(&packaging.code)
        && blank(&packaging.name)
    {
        errors.push(FieldError::at(
            &format!("{path}.packaging_type.code"),
            "packaging_type needs a code or a name",
            "missing",
        ));
    }
    for (k, unit) in good.handling_units.iter().flatten().enumerate() {
        let at = format!("{path}.handling_units[{k}].barcode.value");
        match unit.barcode.as_ref().and_then(|b| b.value.as_deref()).map(str::trim) {
            None | Some("") => errors.push(FieldError::at(&at, "a handling unit needs a barcode value", "missing")),
            Some(value) if value.len() > 255 => {
                errors.push(FieldError::at(&at, "a barcode is at most 255 characters", "invalid_value"))
            }
            Some(value) if barcodes.iter().any(|b| b == value) => errors.push(FieldError::at(
                &at,
                format!("barcode '{value}' appears twice in the order"),
                "invalid_value",
            )),
            Some(value) => barcodes.push(value.to_string()),
        }
    }
}
