//! The tolerant reader of Nexus answers: what an ASP.NET API plausibly sends for the same data is
//! read as the same data. Writes (request bodies) are untouched: only answers pass through here.
//!
//! - **Property names in any case**: `consignmentID`, `ConsignmentID`, `consignmentId`,
//!   `CONSIGNMENTID` and `consignment_id` all fill the field named `consignmentID` ([`from_value`]:
//!   an object's keys are matched to the struct's field names ignoring case and `_`/`-`, an exact
//!   match winning over a folded one).
//! - **Numbers as JSON numbers or numeric strings** (`"customerID": "64086"`), integers also as
//!   `640.0`; booleans also as `"true"`/`"false"`; a number where a string is expected is read as its
//!   text (a numeric barcode or consignment number).
//! - **`null` for a field** reads as the field being absent (its default, when it has one).
//! - **Unknown properties** anywhere are ignored (no wire type denies them).
//! - **Datetimes and dates**: [`uk_datetime`] and [`uk_date_opt`] are THE one place that decides what a
//!   Nexus datetime means (see there).
//! - **Lists** as a bare array or an envelope object ([`list`]); one unreadable record is skipped
//!   and counted, never the whole page.
//! - **Files** (labels, attachment content) are typed by their bytes ([`sniff`]).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Number, Value};

/// Nexus's civil time zone: a datetime without an offset is wall-clock time here.
pub const UK_TIME_ZONE: &str = "Europe/London";

// ---- datetimes: the one place that decides what they mean ---------------------------------------

/// Reads a Nexus datetime as UK local civil time (`Europe/London`), the type the bridge uses.
///
/// THE rule, for every datetime and date the bridge reads from Nexus:
/// - **without an offset** (`2026-06-17T09:27:00`) it is UK local wall-clock time, taken as is;
/// - **with `Z` or an offset** (`2026-06-17T08:27:00Z`, `2026-06-17T09:27:00+01:00`) it is an
///   instant, converted to UK local time (so the two examples both read `2026-06-17T09:27:00`);
/// - seconds optional, 0–9 fractional digits (ASP.NET writes up to 7), `T` or a space between date
///   and time, offsets as `±HH:MM`, `±HHMM` or `±HH`;
/// - a bare date (`2026-06-17`) is that day's midnight.
pub fn parse_uk_datetime(text: &str) -> Result<DateTime, String> {
    let text = text.trim();
    let unreadable = |why: String| format!("unreadable datetime {text:?}: {why}");
    if has_offset(text) {
        let instant: jiff::Timestamp = text.parse().map_err(|err: jiff::Error| unreadable(err.to_string()))?;
        return Ok(instant.to_zoned(uk_time_zone()).datetime());
    }
    if let Ok(civil) = text.parse::<DateTime>() {
        return Ok(civil);
    }
    text.parse::<Date>()
        .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|err| unreadable(err.to_string()))
}

/// Reads a Nexus date: `yyyy-MM-dd`, or any datetime [`parse_uk_datetime`] reads (ASP.NET sends a
/// `DateTime` for a date), as its UK local day.
pub fn parse_uk_date(text: &str) -> Result<Date, String> {
    let trimmed = text.trim();
    if let Ok(date) = trimmed.parse::<Date>()
        && trimmed.len() == 10
    {
        return Ok(date);
    }
    parse_uk_datetime(trimmed).map(|at| at.date()).map_err(|err| err.replacen("datetime", "date", 1))
}

/// The UK time zone (bundled tz database; UTC only if it were missing).
pub fn uk_time_zone() -> TimeZone {
    TimeZone::get(UK_TIME_ZONE).unwrap_or(TimeZone::UTC)
}

/// Whether the text after the date ends in `Z` or a `±` offset.
fn has_offset(text: &str) -> bool {
    let Some(time) = text.get(10..) else { return false };
    time.ends_with(['Z', 'z']) || time.contains(['+', '-'])
}

/// Serde `deserialize_with` for a required datetime (see [`parse_uk_datetime`]).
pub fn uk_datetime<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_uk_datetime(&text).map_err(de::Error::custom)
}

/// Serde `deserialize_with` for an optional datetime (`null` or `""` is none; needs
/// `#[serde(default)]`).
pub fn uk_datetime_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.trim().is_empty() => parse_uk_datetime(&text).map(Some).map_err(de::Error::custom),
        _ => Ok(None),
    }
}

/// Serde `deserialize_with` for an optional date (see [`parse_uk_date`]; needs `#[serde(default)]`).
pub fn uk_date_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.trim().is_empty() => parse_uk_date(&text).map(Some).map_err(de::Error::custom),
        _ => Ok(None),
    }
}

// ---- lists ----------------------------------------------------------------------------------------

/// The keys an envelope may hold its list under (compared ignoring case).
pub const ENVELOPE_KEYS: [&str; 5] = ["items", "data", "results", "value", "consignments"];
/// The keys an envelope may give the total under (compared ignoring case and `_`, `@`, `.`).
const TOTAL_KEYS: [&str; 4] = ["totalcount", "total", "odatacount", "totalitems"];

/// A list as read: the readable records, how many were skipped, and what the answer said of the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    /// The records read, in the answer's order.
    pub items: Vec<T>,
    /// Records in the answer, readable or not.
    pub received: usize,
    /// Records that could not be read (each logged with its index and reason).
    pub skipped: usize,
    /// The total an envelope gave (`totalCount`, `total`, `@odata.count`), if any.
    pub total: Option<u64>,
}

/// Reads a list answer of `what`: a bare JSON array, or an object holding the array under one of
/// [`ENVELOPE_KEYS`]. Each record is read on its own; an unreadable one is logged (index, reason)
/// and skipped. Any other shape is an error naming the shape received.
pub fn list<T: DeserializeOwned>(value: Value, what: &str) -> Result<Listed<T>, String> {
    let (records, total) = match value {
        Value::Array(records) => (records, None),
        Value::Object(mut map) => {
            let key =
                map.keys().find(|k| ENVELOPE_KEYS.iter().any(|e| k.eq_ignore_ascii_case(e)) && map[*k].is_array());
            let Some(key) = key.cloned() else {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(format!(
                    "{what}: expected a JSON array, or an object holding one under {}; got an object with keys [{}]",
                    ENVELOPE_KEYS.join("/"),
                    keys.join(", ")
                ));
            };
            let total = map
                .iter()
                .find(|(k, _)| TOTAL_KEYS.contains(&fold(k).as_str()))
                .and_then(|(_, v)| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
            let Some(Value::Array(records)) = map.remove(&key) else { unreachable!("checked to be an array") };
            (records, total)
        }
        other => {
            return Err(format!("{what}: expected a JSON array or an envelope object; got {}", shape(&other)));
        }
    };
    let received = records.len();
    let mut items = Vec::with_capacity(received);
    let mut skipped = 0;
    for (index, record) in records.into_iter().enumerate() {
        let id = record_id(&record);
        match from_value::<T>(record) {
            Ok(item) => items.push(item),
            Err(reason) => {
                skipped += 1;
                tracing::warn!(list = what, index, id = id.as_deref().unwrap_or("?"), %reason, "skipped an unreadable Nexus record");
            }
        }
    }
    Ok(Listed { items, received, skipped, total })
}

/// The record's `…ID` as text, for the log of a skipped one.
fn record_id(record: &Value) -> Option<String> {
    let map = record.as_object()?;
    let (_, id) = map.iter().find(|(k, _)| fold(k).ends_with("id") && !fold(k).ends_with("typeid"))?;
    Some(match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A short description of a JSON value's shape, for errors.
pub fn shape(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(s) => format!("a string ({:?})", s.chars().take(40).collect::<String>()),
        Value::Array(_) => "an array".into(),
        Value::Object(map) => {
            format!("an object with keys [{}]", map.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
        }
    }
}

// ---- files ----------------------------------------------------------------------------------------

/// What a file is, read from its first bytes: (MIME type, extension). PDF (`%PDF`), PNG (its
/// signature), JPEG (`FF D8 FF`), GIF, and ZPL (`^XA`, after any whitespace) are known.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let body = &bytes[start..];
    if bytes.starts_with(b"\xEF\xBB\xBF%PDF") || body.starts_with(b"%PDF") {
        Some(("application/pdf", "pdf"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if body.starts_with(b"^XA") || body.starts_with(b"\xEF\xBB\xBF^XA") {
        Some(("text/plain", "zpl"))
    } else {
        None
    }
}

/// A file extension for a MIME type (for files [`sniff`] could not place): `bin` when unknown.
pub fn extension_of(content_type: &str) -> &'static str {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/gif" => "gif",
        "application/zpl" | "text/zpl" | "x-application/zpl" | "application/x-zpl" => "zpl",
        "text/plain" => "txt",
        _ => "bin",
    }
}

// ---- the key- and number-tolerant deserializer --------------------------------------------------

/// Reads `T` from a JSON value tolerantly (see the module notes): keys matched to field names
/// ignoring case and `_`/`-`, numbers from numeric strings, `null` fields as absent. Errors name the
/// path of the field that failed (`` `pallets`[1].`barcode`: … ``).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    T::deserialize(Tolerant(value)).map_err(|err| err.to_string())
}

/// A key folded for matching: lower case, letters and digits only.
fn fold(key: &str) -> String {
    key.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A JSON value read tolerantly.
struct Tolerant(Value);

type Error = serde_json::Error;

fn integral(value: Value) -> Value {
    match value {
        Value::String(text) => {
            let text = text.trim();
            if let Ok(n) = text.parse::<i64>() {
                Value::Number(n.into())
            } else if let Ok(n) = text.parse::<u64>() {
                Value::Number(n.into())
            } else if let Ok(n) = text.parse::<f64>()
                && n.fract() == 0.0
                && n.abs() < 9.0e15
            {
                Value::Number((n as i64).into())
            } else {
                Value::String(text.to_owned())
            }
        }
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Number((f as i64).into()),
            _ => Value::Number(n),
        },
        other => other,
    }
}

fn numeric(value: Value) -> Value {
    match value {
        Value::String(text) => match text.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(text),
        },
        other => other,
    }
}

macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            integral(self.0).$method(visitor)
        }
    )*};
}

macro_rules! floats {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            numeric(self.0).$method(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Tolerant {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items::new(items)),
            Value::Object(map) => visitor.visit_map(Fields::plain(map)),
            other => other.deserialize_any(visitor),
        }
    }

    integers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
              deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);
    floats!(deserialize_f32 deserialize_f64);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(text) if text.trim().eq_ignore_ascii_case("true") => visitor.visit_bool(true),
            Value::String(text) if text.trim().eq_ignore_ascii_case("false") => visitor.visit_bool(false),
            other => other.deserialize_bool(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            other => other.deserialize_string(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Tolerant(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items::new(items)),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Fields::plain(map)),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Fields::for_struct(map, fields)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! { char bytes byte_buf unit unit_struct identifier }
}

/// An array's items, each read tolerantly.
struct Items {
    items: std::vec::IntoIter<Value>,
    index: usize,
}

impl Items {
    fn new(items: Vec<Value>) -> Items {
        Items { items: items.into_iter(), index: 0 }
    }
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let index = self.index;
        self.index += 1;
        match self.items.next() {
            Some(value) => seed.deserialize(Tolerant(value)).map(Some).map_err(|err| at(&format!("[{index}]"), err)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's entries, keys renamed to the struct's field names, values read tolerantly.
struct Fields {
    entries: std::vec::IntoIter<(String, Value)>,
    current: Option<(String, Value)>,
}

impl Fields {
    fn plain(map: Map<String, Value>) -> Fields {
        Fields { entries: map.into_iter().collect::<Vec<_>>().into_iter(), current: None }
    }

    /// Keys matched to `fields`: exactly, else folded (an exact key wins over a folded duplicate,
    /// the first folded one over later ones); unmatched keys pass as they are (and are ignored).
    /// `null` values are dropped, so a `null` field reads as absent.
    fn for_struct(map: Map<String, Value>, fields: &'static [&'static str]) -> Fields {
        let mut taken: Vec<&str> =
            map.keys().filter_map(|k| fields.iter().find(|f| **f == k.as_str()).copied()).collect();
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            if fields.contains(&key.as_str()) {
                entries.push((key, value));
                continue;
            }
            let folded = fold(&key);
            match fields.iter().find(|f| fold(f) == folded) {
                Some(field) if taken.contains(field) => {}
                Some(field) => {
                    taken.push(field);
                    entries.push(((*field).to_owned(), value));
                }
                None => entries.push((key, value)),
            }
        }
        Fields { entries: entries.into_iter(), current: None }
    }
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                let read = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(key.clone()));
                self.current = Some((key, value));
                read.map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self.current.take().ok_or_else(|| de::Error::custom("a value without a key"))?;
        seed.deserialize(Tolerant(value)).map_err(|err| at(&format!("`{key}`"), err))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The error `err` of the value at `step`, with the step prefixed to its path.
fn at(step: &str, err: Error) -> Error {
    let text = err.to_string();
    if text.starts_with('`') || text.starts_with('[') {
        de::Error::custom(format!("{step}.{text}").replace(".[", "["))
    } else {
        de::Error::custom(format!("{step}: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::nexus::wire::{Consignment, Event, IdName, TokenResponse};

    fn at(text: &str) -> DateTime {
        text.parse().unwrap()
    }

    #[test]
    fn datetimes_without_an_offset_are_uk_local_and_with_one_are_instants() {
        let cases = [
            ("2026-06-17T09:27:00", "2026-06-17T09:27:00"),
            ("2026-06-17T09:27", "2026-06-17T09:27:00"),
            ("2026-06-17 09:27:00", "2026-06-17T09:27:00"),
            ("2026-06-17T09:27:00.0000000", "2026-06-17T09:27:00"),
            ("2026-06-17T09:27:00.1234567", "2026-06-17T09:27:00.1234567"),
            ("2026-06-17T08:27:00Z", "2026-06-17T09:27:00"),
            ("2026-06-17T08:27:00.1234567Z", "2026-06-17T09:27:00.1234567"),
            ("2026-06-17T09:27:00+01:00", "2026-06-17T09:27:00"),
            ("2026-06-17T09:27:00+0100", "2026-06-17T09:27:00"),
            ("2026-06-17T10:27:00+02:00", "2026-06-17T09:27:00"),
            ("2026-06-17T04:27:00-04:00", "2026-06-17T09:27:00"),
            // GMT in winter: UTC is UK time.
            ("2026-01-10T09:27:00Z", "2026-01-10T09:27:00"),
            ("2026-01-10T09:27:00+00:00", "2026-01-10T09:27:00"),
            ("2026-06-17", "2026-06-17T00:00:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_uk_datetime(text), Ok(at(expected)), "{text}");
        }
        for bad in ["", "yesterday", "2026-13-01T00:00:00", "2026-06-17T25:00:00Z"] {
            assert!(parse_uk_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_read_as_their_uk_day() {
        let day: Date = "2026-06-17".parse().unwrap();
        for text in ["2026-06-17", "2026-06-17T00:00:00", "2026-06-17T00:00:00.0000000", "2026-06-16T23:00:00Z"] {
            assert_eq!(parse_uk_date(text), Ok(day), "{text}");
        }
        assert!(parse_uk_date("17/06/2026").is_err());
    }

    fn plain_consignment() -> Value {
        json!({
            "consignmentID": 10020, "consignmentNumber": "SO-1", "customerID": 64086,
            "status": {"id": 10, "name": "Booked"}, "palletCount": 2, "totalWeight": 640.5,
            "colDate": "2026-06-17", "lastUpdated": "2026-06-17T09:27:00", "extras": ["TL"],
            "pallets": [{"palletID": 5001, "barcode": "1044000106606774", "length": 120}]
        })
    }

    #[test]
    fn a_consignment_reads_the_same_in_every_dialect() {
        let plain: Consignment = from_value(plain_consignment()).unwrap();
        assert_eq!(serde_json::from_value::<Consignment>(plain_consignment()).unwrap(), plain);
        let dialects = [
            json!({
                "ConsignmentID": "10020", "ConsignmentNumber": "SO-1", "CustomerID": "64086",
                "Status": {"Id": "10", "Name": "Booked", "Extra": 1}, "PalletCount": "2", "TotalWeight": "640.5",
                "ColDate": "2026-06-17T00:00:00", "LastUpdated": "2026-06-17T08:27:00.0000000Z", "Extras": ["TL"],
                "Pallets": [{"PalletId": "5001", "Barcode": 1044000106606774_u64, "Length": "120.0"}],
                "SomethingNew": {"nested": [1, 2]}
            }),
            json!({
                "consignment_id": 10020, "consignment_number": "SO-1", "customer_id": 64086,
                "status": {"ID": 10, "NAME": "Booked"}, "pallet_count": 2.0, "total_weight": 640.5,
                "col_date": "2026-06-17", "last_updated": "2026-06-17T09:27:00+01:00", "extras": ["TL"],
                "pallets": [{"pallet_id": 5001, "barcode": "1044000106606774", "length": 120}],
                "routeDetails": null, "delDateTime": null, "deliveryDepotCode": null
            }),
            json!({
                "CONSIGNMENTID": 10020, "CONSIGNMENTNUMBER": "SO-1", "consignmentId": 99, "customerID": 64086,
                "status": {"id": 10, "name": "Booked"}, "palletCount": 2, "totalWeight": 640.5,
                "colDate": "2026-06-17", "lastUpdated": "2026-06-17T09:27:00", "extras": ["TL"],
                "pallets": [{"palletID": 5001, "barcode": "1044000106606774", "length": 120}]
            }),
        ];
        for dialect in dialects {
            let read: Consignment = from_value(dialect.clone()).unwrap_or_else(|err| panic!("{err}: {dialect}"));
            assert_eq!(read, plain, "{dialect}");
        }
    }

    #[test]
    fn an_exact_name_wins_over_a_folded_one() {
        let read: IdName = from_value(json!({"ID": 7, "id": 10, "Name": "x"})).unwrap();
        assert_eq!(read, IdName { id: 10, name: "x".into() });
    }

    #[test]
    fn errors_name_the_field_path() {
        let mut bad = plain_consignment();
        bad["pallets"][0]["palletID"] = json!("abc");
        let err = from_value::<Consignment>(bad).unwrap_err();
        assert!(err.contains("`pallets`[0].`palletID`"), "{err}");
        let err = from_value::<Event>(json!({"eventID": 1, "code": "ARRD", "eventDateTime": "soon"})).unwrap_err();
        assert!(err.contains("eventDateTime") && err.contains("soon"), "{err}");
    }

    #[test]
    fn tokens_read_in_pascal_case() {
        let read: TokenResponse =
            from_value(json!({"BearerToken": "b", "RefreshToken": "r", "ExpiresIn": "60"})).unwrap();
        assert_eq!(
            (read.bearer_token.as_str(), read.refresh_token.as_deref(), read.expires_in),
            ("b", Some("r"), Some(60))
        );
    }

    #[test]
    fn lists_are_bare_or_in_an_envelope_and_skip_unreadable_records() {
        let mut bad = plain_consignment();
        bad["consignmentID"] = json!("abc");
        let records = json!([plain_consignment(), bad, plain_consignment()]);
        let bare: Listed<Consignment> = list(records.clone(), "consignments").unwrap();
        assert_eq!((bare.items.len(), bare.received, bare.skipped, bare.total), (2, 3, 1, None));
        for key in ["items", "Data", "results", "value", "consignments"] {
            let envelope = json!({key: records.clone(), "totalCount": 12, "page": 1});
            let read: Listed<Consignment> = list(envelope, "consignments").unwrap();
            assert_eq!((read.items.len(), read.received, read.skipped, read.total), (2, 3, 1, Some(12)), "{key}");
        }
        let odata: Listed<Consignment> = list(json!({"@odata.count": "3", "value": []}), "c").unwrap();
        assert_eq!(odata.total, Some(3));
        let err = list::<Consignment>(json!({"rows": [], "count": 0}), "consignments").unwrap_err();
        assert!(err.contains("an object with keys [count, rows]") && err.contains("items/data"), "{err}");
        let err = list::<Consignment>(json!("nothing"), "consignments").unwrap_err();
        assert!(err.contains("a string (\"nothing\")"), "{err}");
    }

    #[test]
    fn files_are_typed_by_their_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(("application/pdf", "pdf")));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(("image/png", "png")));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(("image/jpeg", "jpg")));
        assert_eq!(sniff(b"\r\n^XA^FO50,50^XZ"), Some(("text/plain", "zpl")));
        assert_eq!(sniff(b"GIF89a"), Some(("image/gif", "gif")));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(extension_of("image/png; charset=binary"), "png");
        assert_eq!(extension_of("application/x-unknown"), "bin");

        use crate::nexus::FetchedFile;
        let png = FetchedFile::new("application/pdf", b"\x89PNG\r\n\x1a\n\0".to_vec());
        assert_eq!((png.content_type.as_str(), png.extension()), ("image/png", "png"));
        assert_eq!(png.declared_content_type, "application/pdf");
        let zpl = FetchedFile::new("text/plain; charset=utf-8", b"^XA^XZ".to_vec());
        assert_eq!((zpl.content_type.as_str(), zpl.extension()), ("text/plain; charset=utf-8", "zpl"));
        let zpl = FetchedFile::new("application/octet-stream", b"^XA^XZ".to_vec());
        assert_eq!((zpl.content_type.as_str(), zpl.extension()), ("text/plain", "zpl"));
        let unknown = FetchedFile::new("image/jpeg", b"????".to_vec());
        assert_eq!((unknown.content_type.as_str(), unknown.extension()), ("image/jpeg", "jpg"));
    }
}
