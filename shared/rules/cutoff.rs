//! The 12:00 Europe/London collection cut-off and the dates a collection or a specific-day delivery
//! may be booked for (DESIGN.md §2).
//!
//! Everything is judged on the London wall clock, not UTC: in summer (BST) the cut-off is 11:00Z,
//! and a dispatch at 23:30Z on a summer evening already belongs to the next London day.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::calendar::{holiday_name, is_working_day, next_working_day};
use crate::config::CutoffPolicy;
use crate::domain::UkRegion;

/// The collection cut-off: a collection for today must be booked before 12:00 London time.
pub const CUTOFF: Time = jiff::civil::time(12, 0, 0, 0);

/// `now` on the London wall clock (GMT in winter, BST in summer).
pub fn london_now(now: Timestamp) -> Zoned {
    // The tz database is bundled into the binary, so the zone is always there.
    let london = TimeZone::get("Europe/London").expect("the bundled tz database has Europe/London");
    now.to_zoned(london)
}

/// The collection date to book: the one asked for, or the next working day when the policy is
/// [`CutoffPolicy::Roll`] and the asked-for date could not be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionDate {
    /// The requested date is bookable.
    AsRequested(Date),
    /// The requested date was not bookable and the collection was moved.
    Rolled {
        /// The date asked for.
        requested: Date,
        /// The date booked instead.
        date: Date,
        /// Why it moved, for the dispatcher.
        reason: String,
    },
}

impl CollectionDate {
    /// The date to book the collection for.
    pub fn date(&self) -> Date {
        match self {
            CollectionDate::AsRequested(date) | CollectionDate::Rolled { date, .. } => *date,
        }
    }
}

/// A collection date that cannot be booked, with the date to book instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct CutoffRefusal {
    /// The date asked for.
    pub requested: Date,
    /// The first date that can be booked instead.
    pub suggested: Date,
    /// Why, and what to do, in words a depot dispatcher acts on; names `suggested` in ISO form.
    pub reason: String,
}

/// How far ahead a dispatch may date a collection or a delivery, in days: a year. Dates from outside are
/// checked against it before any calendar arithmetic.
pub const BOOKING_HORIZON_DAYS: i32 = 366;

/// The latest date allowed from `from`, when `date` lies beyond it.
fn beyond_horizon(from: Date, date: Date) -> Option<Date> {
    let latest = from.checked_add(jiff::Span::new().days(BOOKING_HORIZON_DAYS)).unwrap_or(Date::MAX);
    (date > latest).then_some(latest)
}

fn region_name(region: UkRegion) -> &'static str {
    match region {
        UkRegion::EnglandAndWales => "England and Wales",
        UkRegion::Scotland => "Scotland",
        UkRegion::NorthernIreland => "Northern Ireland",
    }
}

/// Why `date` is not a working day in `region` ("a Saturday", "Easter Monday, a bank holiday in
/// England and Wales"), or `None` when it is one.
fn not_working_because(region: UkRegion, date: Date) -> Option<String> {
    match (date.weekday(), holiday_name(region, date)) {
        (Weekday::Saturday, _) => Some("a Saturday".to_string()),
        (Weekday::Sunday, _) => Some("a Sunday".to_string()),
        (_, Some(holiday)) => Some(format!("{holiday}, a bank holiday in {}", region_name(region))),
        (_, None) => None,
    }
}

/// The collection date to book for a dispatch made at `now` asking for `requested`, at a depot in
/// `region`, or why not.
///
/// * A date before today (in London) is always refused, whatever the policy: a collection in the
///   past is a mistake in the order, not something to move silently.
/// * A weekend or bank holiday is refused with the next working day; [`CutoffPolicy::Roll`] books
///   that day instead and says so.
/// * Today at or after 12:00 London time is refused with the next working day; `Roll` books it.
pub fn collection_date(
    now: Timestamp,
    requested: Date,
    region: UkRegion,
    policy: CutoffPolicy,
) -> Result<CollectionDate, CutoffRefusal> {
    let london = london_now(now);
    let today = london.date();
    let past_cutoff = london.time() >= CUTOFF;
    if let Some(horizon) = beyond_horizon(today, requested) {
        return Err(CutoffRefusal {
            requested,
            suggested: today,
            reason: format!(
                "The collection date {requested} is more than a year ahead (the latest is {horizon}); \
                 correct the pickup stop's date."
            ),
        });
    }
    if requested < today {
        let today_open = is_working_day(region, today) && !past_cutoff;
        let (suggested, which) = if today_open {
            (today, "today, if booked before the 12:00 cut-off")
        } else {
            (next_working_day(region, today), "the next working day")
        };
        return Err(CutoffRefusal {
            requested,
            suggested,
            reason: format!(
                "The collection date {requested} is in the past (today is {today} in London); \
                 book the collection for {suggested}, {which}."
            ),
        });
    }
    if let Some(because) = not_working_because(region, requested) {
        let suggested = next_working_day(region, requested);
        return match policy {
            CutoffPolicy::Reject => Err(CutoffRefusal {
                requested,
                suggested,
                reason: format!(
                    "There are no collections on {requested}: it is {because}; \
                     book the collection for {suggested}, the next working day."
                ),
            }),
            CutoffPolicy::Roll => Ok(CollectionDate::Rolled {
                requested,
                date: suggested,
                reason: format!(
                    "The collection was moved from {requested} ({because}) to {suggested}, the next working day."
                ),
            }),
        };
    }
    if requested == today && past_cutoff {
        let suggested = next_working_day(region, today);
        let clock = london.strftime("%H:%M");
        return match policy {
            CutoffPolicy::Reject => Err(CutoffRefusal {
                requested,
                suggested,
                reason: format!(
                    "The 12:00 cut-off for collection today ({today}) has passed (it is {clock} in London); \
                     book the collection for {suggested}, the next working day."
                ),
            }),
            CutoffPolicy::Roll => Ok(CollectionDate::Rolled {
                requested,
                date: suggested,
                reason: format!(
                    "The 12:00 cut-off for collection today ({today}) had passed (it was {clock} in London), \
                     so the collection was moved to {suggested}, the next working day."
                ),
            }),
        };
    }
    Ok(CollectionDate::AsRequested(requested))
}

/// Checks a specific-day (SD) delivery date: it must be a working day in `region` (the delivering
/// depot's) and later than the collection date. The message names the next valid date.
pub fn check_specific_day(collection: Date, delivery: Date, region: UkRegion) -> Result<(), String> {
    if let Some(horizon) = beyond_horizon(collection, delivery) {
        return Err(format!(
            "The specific-day delivery date {delivery} is more than a year after the collection (the latest is \
             {horizon}); correct the delivery stop's date."
        ));
    }
    if delivery <= collection {
        let earliest = next_working_day(region, collection);
        return Err(format!(
            "The specific-day delivery date {delivery} must be after the collection date {collection}; \
             the earliest valid delivery date is {earliest}."
        ));
    }
    if let Some(because) = not_working_because(region, delivery) {
        let next = next_working_day(region, delivery);
        return Err(format!(
            "The specific-day delivery date {delivery} is {because}, when there are no deliveries; \
             the next valid delivery date is {next}."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EW: UkRegion = UkRegion::EnglandAndWales;
    const SCOT: UkRegion = UkRegion::Scotland;

    fn d(raw: &str) -> Date {
        raw.parse().unwrap()
    }

    fn at(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    fn reject(now: &str, requested: &str, region: UkRegion) -> Result<CollectionDate, CutoffRefusal> {
        collection_date(at(now), d(requested), region, CutoffPolicy::Reject)
    }

    fn refusal(now: &str, requested: &str, region: UkRegion) -> CutoffRefusal {
        reject(now, requested, region).expect_err("refused")
    }

    #[test]
    fn london_now_follows_gmt_and_bst() {
        assert_eq!(london_now(at("2026-01-14T12:00:00Z")).time(), CUTOFF);
        assert_eq!(london_now(at("2026-06-17T11:00:00Z")).time(), CUTOFF);
        assert_eq!(london_now(at("2026-06-17T23:30:00Z")).date(), d("2026-06-18"), "after midnight in London");
    }

    #[test]
    fn in_winter_the_cutoff_is_noon_utc() {
        // Wednesday 14 January 2026, GMT.
        assert_eq!(reject("2026-01-14T11:59:00Z", "2026-01-14", EW), Ok(CollectionDate::AsRequested(d("2026-01-14"))));
        assert_eq!(reject("2026-01-14T11:30:00Z", "2026-01-14", EW).unwrap().date(), d("2026-01-14"));
        let refused = refusal("2026-01-14T12:00:00Z", "2026-01-14", EW);
        assert_eq!(refused.suggested, d("2026-01-15"));
        assert!(refused.reason.contains("(it is 12:00 in London)"), "{}", refused.reason);
    }

    #[test]
    fn in_summer_the_cutoff_is_eleven_utc() {
        assert_eq!(reject("2026-06-17T10:55:00Z", "2026-06-17", EW), Ok(CollectionDate::AsRequested(d("2026-06-17"))));
        let refused = refusal("2026-06-17T11:05:00Z", "2026-06-17", EW);
        assert_eq!(refused.requested, d("2026-06-17"));
        assert_eq!(refused.suggested, d("2026-06-18"));
        assert_eq!(
            refused.to_string(),
            "The 12:00 cut-off for collection today (2026-06-17) has passed (it is 12:05 in London); \
             book the collection for 2026-06-18, the next working day."
        );
        // 11:30Z is before the cut-off in winter but after it in summer.
        assert!(reject("2026-06-17T11:30:00Z", "2026-06-17", EW).is_err());
    }

    #[test]
    fn later_dates_are_not_subject_to_todays_cutoff() {
        assert_eq!(
            reject("2026-06-17T16:00:00Z", "2026-06-18", EW).unwrap(),
            CollectionDate::AsRequested(d("2026-06-18"))
        );
        assert_eq!(reject("2026-06-17T16:00:00Z", "2027-03-01", EW).unwrap().date(), d("2027-03-01"));
    }

    #[test]
    fn a_friday_afternoon_suggests_monday() {
        let refused = refusal("2026-06-19T12:30:00Z", "2026-06-19", EW);
        assert_eq!(refused.suggested, d("2026-06-22"));
        assert!(refused.reason.contains("book the collection for 2026-06-22"), "{}", refused.reason);
    }

    #[test]
    fn before_easter_the_next_working_day_depends_on_the_region() {
        // Thursday 2 April 2026 at 12:30 BST; Good Friday follows, and Easter Monday only outside Scotland.
        assert_eq!(refusal("2026-04-02T11:30:00Z", "2026-04-02", EW).suggested, d("2026-04-07"));
        assert_eq!(refusal("2026-04-02T11:30:00Z", "2026-04-02", SCOT).suggested, d("2026-04-06"));
        assert_eq!(refusal("2026-04-02T11:30:00Z", "2026-04-02", UkRegion::NorthernIreland).suggested, d("2026-04-07"));
    }

    #[test]
    fn a_bank_holiday_is_refused_by_name() {
        let refused = refusal("2026-04-01T09:00:00Z", "2026-04-06", EW);
        assert_eq!(refused.suggested, d("2026-04-07"));
        assert_eq!(
            refused.reason,
            "There are no collections on 2026-04-06: it is Easter Monday, a bank holiday in England and Wales; \
             book the collection for 2026-04-07, the next working day."
        );
        // Easter Monday is a working day in Scotland.
        assert_eq!(reject("2026-04-01T09:00:00Z", "2026-04-06", SCOT).unwrap().date(), d("2026-04-06"));
        let boxing_day = refusal("2026-12-01T09:00:00Z", "2026-12-28", EW);
        assert!(boxing_day.reason.contains("Boxing Day (substitute day)"), "{}", boxing_day.reason);
        assert_eq!(boxing_day.suggested, d("2026-12-29"));
    }

    #[test]
    fn a_weekend_is_refused() {
        let refused = refusal("2026-06-17T09:00:00Z", "2026-06-20", EW);
        assert_eq!(refused.suggested, d("2026-06-22"));
        assert!(refused.reason.contains("it is a Saturday"), "{}", refused.reason);
        // Today being a Sunday morning does not make it bookable.
        assert_eq!(refusal("2026-06-21T08:00:00Z", "2026-06-21", EW).suggested, d("2026-06-22"));
    }

    #[test]
    fn a_past_date_is_refused_whatever_the_policy() {
        let morning = refusal("2026-06-17T09:00:00Z", "2026-06-16", EW);
        assert_eq!(morning.suggested, d("2026-06-17"), "today is still open before the cut-off");
        assert!(morning.reason.starts_with("The collection date 2026-06-16 is in the past"), "{}", morning.reason);
        assert_eq!(refusal("2026-06-17T13:00:00Z", "2026-06-16", EW).suggested, d("2026-06-18"));
        // 23:30Z on 17 June is already 18 June in London.
        assert_eq!(refusal("2026-06-17T23:30:00Z", "2026-06-17", EW).suggested, d("2026-06-18"));
        // A Saturday morning: today is no working day, so Monday.
        assert_eq!(refusal("2026-06-20T08:00:00Z", "2026-06-19", EW).suggested, d("2026-06-22"));
        let rolled = collection_date(at("2026-06-17T09:00:00Z"), d("2026-06-16"), EW, CutoffPolicy::Roll);
        assert!(rolled.is_err());
    }

    #[test]
    fn roll_moves_the_collection_and_says_why() {
        let after_cutoff = collection_date(at("2026-06-17T11:05:00Z"), d("2026-06-17"), EW, CutoffPolicy::Roll);
        let CollectionDate::Rolled { requested, date, reason } = after_cutoff.unwrap() else { panic!("not rolled") };
        assert_eq!((requested, date), (d("2026-06-17"), d("2026-06-18")));
        assert_eq!(
            reason,
            "The 12:00 cut-off for collection today (2026-06-17) had passed (it was 12:05 in London), \
             so the collection was moved to 2026-06-18, the next working day."
        );
        let holiday = collection_date(at("2026-04-01T09:00:00Z"), d("2026-04-03"), EW, CutoffPolicy::Roll).unwrap();
        assert_eq!(holiday.date(), d("2026-04-07"));
        let CollectionDate::Rolled { reason, .. } = holiday else { panic!("not rolled") };
        assert!(reason.contains("(Good Friday, a bank holiday in England and Wales)"), "{reason}");
        let kept = collection_date(at("2026-06-17T10:00:00Z"), d("2026-06-17"), EW, CutoffPolicy::Roll).unwrap();
        assert_eq!(kept, CollectionDate::AsRequested(d("2026-06-17")));
    }

    #[test]
    fn a_specific_day_delivery_needs_a_working_day_after_collection() {
        assert_eq!(check_specific_day(d("2026-06-17"), d("2026-06-19"), EW), Ok(()));
        let same_day = check_specific_day(d("2026-06-19"), d("2026-06-19"), EW).unwrap_err();
        assert!(same_day.contains("the earliest valid delivery date is 2026-06-22"), "{same_day}");
        let saturday = check_specific_day(d("2026-06-17"), d("2026-06-20"), EW).unwrap_err();
        assert!(saturday.contains("is a Saturday"), "{saturday}");
        assert!(saturday.contains("the next valid delivery date is 2026-06-22"), "{saturday}");
        let summer = check_specific_day(d("2026-07-29"), d("2026-08-03"), SCOT).unwrap_err();
        assert!(summer.contains("Summer bank holiday, a bank holiday in Scotland"), "{summer}");
        assert!(summer.contains("2026-08-04"), "{summer}");
        assert_eq!(check_specific_day(d("2026-07-29"), d("2026-08-03"), EW), Ok(()));
    }
}
