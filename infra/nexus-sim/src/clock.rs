//! UK local time. Nexus speaks Europe/London civil time without an offset (`2026-06-17T09:27:00`),
//! dates as `yyyy-MM-dd` and times as `HH:mm` (nexus-api.md §3.1). Internally the simulator keeps
//! instants ([`Timestamp`]) so that comparisons stay right across the clock changes, and converts at
//! the edge.

use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Europe/London, from the tz database bundled into the binary.
pub(crate) fn london() -> &'static TimeZone {
    static LONDON: OnceLock<TimeZone> = OnceLock::new();
    LONDON.get_or_init(|| TimeZone::get("Europe/London").expect("the bundled tz database has Europe/London"))
}

/// The UK wall-clock reading of an instant.
pub(crate) fn civil(at: Timestamp) -> DateTime {
    london().to_datetime(at)
}

/// The instant a UK wall-clock reading names. In the spring-forward gap the later reading is used and
/// in the autumn overlap the earlier one (the "compatible" rule), which is what a person would mean.
pub(crate) fn instant(at: DateTime) -> Timestamp {
    london().to_timestamp(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Whole seconds: the API never shows fractions, so the clock never holds them either.
pub(crate) fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

pub(crate) fn today(at: Timestamp) -> Date {
    civil(at).date()
}

/// A UK wall-clock time on a date, given in minutes after midnight (may exceed a day).
pub(crate) fn at_minutes(date: Date, minutes: i64) -> Timestamp {
    let midnight = date.to_datetime(Time::midnight());
    instant(midnight.checked_add(minutes.minutes()).unwrap_or(midnight))
}

pub(crate) fn format_datetime(at: Timestamp) -> String {
    let dt = civil(at);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", dt.year(), dt.month(), dt.day(), dt.hour(), dt.minute(), dt.second())
}

pub(crate) fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

pub(crate) fn format_time(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// `yyyy-MM-dd`.
pub(crate) fn parse_date(raw: &str) -> Option<Date> {
    let raw = raw.trim();
    if raw.len() != 10 {
        return None;
    }
    raw.parse::<Date>().ok()
}

/// `HH:mm`, also accepting `HH:mm:ss` as ASP.NET's TimeSpan binding would.
pub(crate) fn parse_time(raw: &str) -> Option<Time> {
    let raw = raw.trim();
    let parts: Vec<&str> = raw.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let number = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<i8>());
    Time::new(number(0).ok()?, number(1).ok()?, number(2).ok()?, 0).ok()
}

/// A UK local datetime without offset (`2026-06-17T09:27:00`, seconds optional); a bare date means
/// its midnight. An explicit offset or `Z` is honoured, since a client may well send one.
pub(crate) fn parse_datetime(raw: &str) -> Option<Timestamp> {
    let raw = raw.trim();
    if let Some(date) = parse_date(raw) {
        return Some(instant(date.to_datetime(Time::midnight())));
    }
    if let Ok(at) = raw.parse::<Timestamp>() {
        return Some(at);
    }
    raw.parse::<DateTime>().ok().map(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_uk_local_time_across_summer_time() {
        let summer = parse_datetime("2026-06-17T09:27:00").unwrap();
        assert_eq!(format_datetime(summer), "2026-06-17T09:27:00");
        assert_eq!(summer.to_string(), "2026-06-17T08:27:00Z");
        let winter = parse_datetime("2026-01-05T09:27").unwrap();
        assert_eq!(winter.to_string(), "2026-01-05T09:27:00Z");
        assert_eq!(parse_time("9:30"), None);
        assert_eq!(parse_time("09:30").map(format_time).as_deref(), Some("09:30"));
        assert_eq!(parse_date("2026-6-1"), None);
        assert_eq!(format_datetime(at_minutes(parse_date("2026-06-17").unwrap(), 25 * 60)), "2026-06-18T01:00:00");
    }
}
