//! UK working days by region: Monday to Friday except the bank holidays of England & Wales,
//! Scotland or Northern Ireland, computed by rule (Easter by the Gregorian computus, substitute days
//! when a fixed-date holiday falls at a weekend), so the calendar never runs out.
//!
//! One-off holidays proclaimed for royal or national events (e.g. 8 May 2023, or the Spring bank
//! holiday moved to 2 June 2022) follow no rule and are not modelled: they are announced months
//! ahead and would need a configured list of extra dates.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

use crate::domain::UkRegion;

/// A bank holiday of one region: its date and its name as gov.uk writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BankHoliday {
    date: Date,
    name: &'static str,
}

/// A holiday held on a fixed date, with the name of its substitute day.
struct FixedHoliday {
    month: i8,
    day: i8,
    name: &'static str,
    substitute_name: &'static str,
}

const NEW_YEARS_DAY: FixedHoliday =
    FixedHoliday { month: 1, day: 1, name: "New Year's Day", substitute_name: "New Year's Day (substitute day)" };
const SECOND_JANUARY: FixedHoliday =
    FixedHoliday { month: 1, day: 2, name: "2nd January", substitute_name: "2nd January (substitute day)" };
const ST_PATRICKS_DAY: FixedHoliday =
    FixedHoliday { month: 3, day: 17, name: "St Patrick's Day", substitute_name: "St Patrick's Day (substitute day)" };
const BATTLE_OF_THE_BOYNE: FixedHoliday = FixedHoliday {
    month: 7,
    day: 12,
    name: "Battle of the Boyne (Orangemen's Day)",
    substitute_name: "Battle of the Boyne (Orangemen's Day) (substitute day)",
};
const ST_ANDREWS_DAY: FixedHoliday =
    FixedHoliday { month: 11, day: 30, name: "St Andrew's Day", substitute_name: "St Andrew's Day (substitute day)" };
const CHRISTMAS_DAY: FixedHoliday =
    FixedHoliday { month: 12, day: 25, name: "Christmas Day", substitute_name: "Christmas Day (substitute day)" };
const BOXING_DAY: FixedHoliday =
    FixedHoliday { month: 12, day: 26, name: "Boxing Day", substitute_name: "Boxing Day (substitute day)" };

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous algorithm of Meeus, Jones and
/// Butcher). Euclidean division keeps it valid for every year jiff can represent.
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).expect("the computus yields a day between 22 March and 25 April")
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The `nth` Monday of `month` (`-1` for the last).
fn monday_of(year: i16, month: i8, nth: i8) -> Date {
    Date::new(year, month, 1)
        .and_then(|first| first.nth_weekday_of_month(nth, Weekday::Monday))
        .expect("every month has a first and a last Monday")
}

/// Every bank holiday of `region` in `year`, sorted by date, substitute days included.
fn holidays_of(region: UkRegion, year: i16) -> Vec<BankHoliday> {
    let easter = easter_sunday(year);
    let good_friday = easter.checked_sub(2.days()).expect("Good Friday lies in the same year as Easter");
    let easter_monday = easter.checked_add(1.day()).expect("Easter Monday lies in the same year as Easter");
    let early_may = BankHoliday { date: monday_of(year, 5, 1), name: "Early May bank holiday" };
    let spring = BankHoliday { date: monday_of(year, 5, -1), name: "Spring bank holiday" };
    let mut holidays = vec![BankHoliday { date: good_friday, name: "Good Friday" }, early_may, spring];
    let fixed: &[FixedHoliday] = match region {
        UkRegion::EnglandAndWales => {
            holidays.push(BankHoliday { date: easter_monday, name: "Easter Monday" });
            holidays.push(BankHoliday { date: monday_of(year, 8, -1), name: "Summer bank holiday" });
            &[NEW_YEARS_DAY, CHRISTMAS_DAY, BOXING_DAY]
        }
        UkRegion::Scotland => {
            // Scotland keeps its summer holiday at the start of August and has no Easter Monday.
            holidays.push(BankHoliday { date: monday_of(year, 8, 1), name: "Summer bank holiday" });
            &[NEW_YEARS_DAY, SECOND_JANUARY, ST_ANDREWS_DAY, CHRISTMAS_DAY, BOXING_DAY]
        }
        UkRegion::NorthernIreland => {
            holidays.push(BankHoliday { date: easter_monday, name: "Easter Monday" });
            holidays.push(BankHoliday { date: monday_of(year, 8, -1), name: "Summer bank holiday" });
            &[NEW_YEARS_DAY, ST_PATRICKS_DAY, BATTLE_OF_THE_BOYNE, CHRISTMAS_DAY, BOXING_DAY]
        }
    };
    let on_date = |holiday: &FixedHoliday| Date::new(year, holiday.month, holiday.day).expect("fixed dates exist");
    // Fixed holidays on weekdays keep their day and are placed first, so that a weekend holiday's
    // substitute skips them: Christmas on a Sunday moves to Tuesday 27th because Boxing Day holds
    // Monday 26th; Christmas on a Saturday takes Monday 27th and Boxing Day Tuesday 28th.
    for holiday in fixed.iter().filter(|holiday| !is_weekend(on_date(holiday))) {
        holidays.push(BankHoliday { date: on_date(holiday), name: holiday.name });
    }
    for holiday in fixed.iter().filter(|holiday| is_weekend(on_date(holiday))) {
        let mut substitute = on_date(holiday);
        while is_weekend(substitute) || holidays.iter().any(|taken| taken.date == substitute) {
            substitute = substitute.checked_add(1.day()).expect("a substitute lies within the same year");
        }
        holidays.push(BankHoliday { date: substitute, name: holiday.substitute_name });
    }
    holidays.sort_by_key(|holiday| holiday.date);
    holidays
}

/// The bank holidays of `region` in `year`, sorted, substitute days included.
pub fn bank_holidays(region: UkRegion, year: i16) -> Vec<Date> {
    holidays_of(region, year).into_iter().map(|holiday| holiday.date).collect()
}

/// The name of the bank holiday `date` is in `region` (e.g. "Easter Monday", "Boxing Day
/// (substitute day)"), or `None` when it is not one.
pub fn holiday_name(region: UkRegion, date: Date) -> Option<&'static str> {
    holidays_of(region, date.year()).into_iter().find(|holiday| holiday.date == date).map(|holiday| holiday.name)
}

/// Whether `date` is a working day in `region`: Monday to Friday and not a bank holiday.
pub fn is_working_day(region: UkRegion, date: Date) -> bool {
    !is_weekend(date) && holiday_name(region, date).is_none()
}

/// The first working day in `region` strictly after `date`.
pub fn next_working_day(region: UkRegion, date: Date) -> Date {
    add_working_days(region, date, 1)
}

/// The `count`-th working day in `region` after `date`; `date` itself never counts, so a count of 0
/// gives `date` back. Counting stops at the calendar's end (9999-12-31), which is then the answer:
/// dates from outside are range-checked long before (`cutoff::BOOKING_HORIZON_DAYS`), and nothing here
/// may panic on data.
pub fn add_working_days(region: UkRegion, date: Date, count: u32) -> Date {
    let mut day = date;
    let mut left = count;
    while left > 0 {
        let Ok(next) = day.tomorrow() else { return day };
        day = next;
        if is_working_day(region, day) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EW: UkRegion = UkRegion::EnglandAndWales;
    const SCOT: UkRegion = UkRegion::Scotland;
    const NI: UkRegion = UkRegion::NorthernIreland;

    fn d(raw: &str) -> Date {
        raw.parse().unwrap()
    }

    fn listed(region: UkRegion, year: i16) -> Vec<String> {
        bank_holidays(region, year).iter().map(Date::to_string).collect()
    }

    #[test]
    fn easter_matches_published_dates() {
        for (year, easter) in [
            (1818, "1818-03-22"),
            (1943, "1943-04-25"),
            (2000, "2000-04-23"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2038, "2038-04-25"),
        ] {
            assert_eq!(easter_sunday(year), d(easter), "{year}");
        }
    }

    // Every expectation below is gov.uk's published list (www.gov.uk/bank-holidays).
    #[test]
    fn england_and_wales_2026_and_2027() {
        assert_eq!(
            listed(EW, 2026),
            [
                "2026-01-01",
                "2026-04-03",
                "2026-04-06",
                "2026-05-04",
                "2026-05-25",
                "2026-08-31",
                "2026-12-25",
                "2026-12-28"
            ]
        );
        assert_eq!(
            listed(EW, 2027),
            [
                "2027-01-01",
                "2027-03-26",
                "2027-03-29",
                "2027-05-03",
                "2027-05-31",
                "2027-08-30",
                "2027-12-27",
                "2027-12-28"
            ]
        );
    }

    #[test]
    fn scotland_2026_and_2027() {
        assert_eq!(
            listed(SCOT, 2026),
            [
                "2026-01-01",
                "2026-01-02",
                "2026-04-03",
                "2026-05-04",
                "2026-05-25",
                "2026-08-03",
                "2026-11-30",
                "2026-12-25",
                "2026-12-28"
            ]
        );
        // 2 January 2027 is a Saturday: its substitute is Monday 4th.
        assert_eq!(
            listed(SCOT, 2027),
            [
                "2027-01-01",
                "2027-01-04",
                "2027-03-26",
                "2027-05-03",
                "2027-05-31",
                "2027-08-02",
                "2027-11-30",
                "2027-12-27",
                "2027-12-28"
            ]
        );
    }

    #[test]
    fn northern_ireland_2026_and_2027() {
        assert_eq!(
            listed(NI, 2026),
            [
                "2026-01-01",
                "2026-03-17",
                "2026-04-03",
                "2026-04-06",
                "2026-05-04",
                "2026-05-25",
                "2026-07-13",
                "2026-08-31",
                "2026-12-25",
                "2026-12-28"
            ]
        );
        assert_eq!(
            listed(NI, 2027),
            [
                "2027-01-01",
                "2027-03-17",
                "2027-03-26",
                "2027-03-29",
                "2027-05-03",
                "2027-05-31",
                "2027-07-12",
                "2027-08-30",
                "2027-12-27",
                "2027-12-28"
            ]
        );
    }

    #[test]
    fn substitute_days_skip_days_already_taken() {
        // 2022: Christmas on a Sunday; Boxing Day keeps Monday 26th, Christmas moves to Tuesday 27th.
        assert_eq!(holiday_name(EW, d("2022-12-26")), Some("Boxing Day"));
        assert_eq!(holiday_name(EW, d("2022-12-27")), Some("Christmas Day (substitute day)"));
        // 2021: Christmas on a Saturday.
        assert_eq!(holiday_name(EW, d("2021-12-27")), Some("Christmas Day (substitute day)"));
        assert_eq!(holiday_name(EW, d("2021-12-28")), Some("Boxing Day (substitute day)"));
        // Scotland 2022: 1 January a Saturday and 2 January a Sunday, so Monday 3rd and Tuesday 4th.
        assert_eq!(holiday_name(SCOT, d("2022-01-03")), Some("New Year's Day (substitute day)"));
        assert_eq!(holiday_name(SCOT, d("2022-01-04")), Some("2nd January (substitute day)"));
        // Scotland 2023: 1 January a Sunday; 2 January keeps Monday, New Year's Day moves to Tuesday.
        assert_eq!(holiday_name(SCOT, d("2023-01-02")), Some("2nd January"));
        assert_eq!(holiday_name(SCOT, d("2023-01-03")), Some("New Year's Day (substitute day)"));
        // St Andrew's Day 2025 fell on a Sunday.
        assert_eq!(holiday_name(SCOT, d("2025-12-01")), Some("St Andrew's Day (substitute day)"));
        // Northern Ireland 2026: the Boyne's 12 July is a Sunday.
        assert_eq!(holiday_name(NI, d("2026-07-13")), Some("Battle of the Boyne (Orangemen's Day) (substitute day)"));
        // 2028: New Year's Day on a Saturday.
        assert!(bank_holidays(EW, 2028).contains(&d("2028-01-03")));
    }

    #[test]
    fn names_differ_by_region() {
        assert_eq!(holiday_name(EW, d("2026-04-06")), Some("Easter Monday"));
        assert_eq!(holiday_name(SCOT, d("2026-04-06")), None);
        assert_eq!(holiday_name(SCOT, d("2026-08-03")), Some("Summer bank holiday"));
        assert_eq!(holiday_name(EW, d("2026-08-03")), None);
        assert_eq!(holiday_name(NI, d("2026-03-17")), Some("St Patrick's Day"));
        assert_eq!(holiday_name(EW, d("2026-03-17")), None);
        assert_eq!(holiday_name(EW, d("2026-06-17")), None);
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        assert!(is_working_day(EW, d("2026-06-17")));
        assert!(!is_working_day(EW, d("2026-06-20")), "Saturday");
        assert!(!is_working_day(EW, d("2026-12-28")));
        assert_eq!(next_working_day(EW, d("2026-06-19")), d("2026-06-22"), "Friday to Monday");
        assert_eq!(next_working_day(EW, d("2026-04-02")), d("2026-04-07"), "over Easter");
        assert_eq!(next_working_day(SCOT, d("2026-04-02")), d("2026-04-06"), "no Easter Monday in Scotland");
        assert_eq!(next_working_day(SCOT, d("2026-12-31")), d("2027-01-05"), "over the Scottish new year");
        assert_eq!(add_working_days(EW, d("2026-06-17"), 2), d("2026-06-19"));
        assert_eq!(add_working_days(EW, d("2026-12-24"), 1), d("2026-12-29"));
        assert_eq!(add_working_days(EW, d("2026-06-20"), 0), d("2026-06-20"), "a count of 0 moves nothing");
    }

    fn any_region() -> impl Strategy<Value = UkRegion> {
        prop_oneof![Just(EW), Just(SCOT), Just(NI)]
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (0i32..365 * 300).prop_map(|offset| d("1900-01-01").checked_add(offset.days()).unwrap())
    }

    proptest! {
        #[test]
        fn next_working_day_is_the_first_working_day_after(region in any_region(), date in any_date()) {
            let next = next_working_day(region, date);
            prop_assert!(next > date);
            prop_assert!(is_working_day(region, next));
            let mut between = date.tomorrow().unwrap();
            while between < next {
                prop_assert!(!is_working_day(region, between), "{between} is a working day before {next}");
                between = between.tomorrow().unwrap();
            }
        }

        #[test]
        fn every_year_has_its_regions_holiday_count(region in any_region(), year in 1900i16..2200) {
            let expected = match region {
                UkRegion::EnglandAndWales => 8,
                UkRegion::Scotland => 9,
                UkRegion::NorthernIreland => 10,
            };
            let holidays = bank_holidays(region, year);
            prop_assert_eq!(holidays.len(), expected);
            prop_assert!(holidays.windows(2).all(|pair| pair[0] < pair[1]), "sorted and distinct");
            prop_assert!(holidays.iter().all(|day| day.year() == year && !is_weekend(*day)));
        }
    }

    #[test]
    fn counting_stops_at_the_calendar_s_end_without_a_panic() {
        let end = d("9999-12-31");
        assert_eq!(add_working_days(UkRegion::Scotland, end, 3), end);
        assert_eq!(next_working_day(UkRegion::EnglandAndWales, d("9999-12-30")), end);
    }
}
