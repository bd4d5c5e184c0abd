//! Working days: Monday to Friday except the England & Wales bank holidays, computed by rule
//! (Easter by the Gregorian computus, substitute days when a fixed holiday falls at a weekend), so the
//! calendar never runs out. One-off holidays proclaimed for royal events (e.g. 8 May 2023) are not
//! rules and are not modelled; Scottish and Northern Irish holidays are left to the bridge, which picks
//! the calendar by depot region (DESIGN.md §2) — the simulator's networks use England & Wales.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

pub(crate) fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

pub(crate) fn is_working_day(date: Date) -> bool {
    !is_weekend(date) && !bank_holidays(date.year()).contains(&date)
}

/// The first working day strictly after `date`.
pub(crate) fn next_working_day(date: Date) -> Date {
    add_working_days(date, 1)
}

/// The `count`-th working day after `date` (`date` itself never counts).
pub(crate) fn add_working_days(date: Date, count: u32) -> Date {
    let mut day = date;
    let mut left = count;
    while left > 0 {
        day = day.checked_add(1.day()).unwrap_or(day);
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
pub(crate) fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).expect("the computus yields a real date")
}

/// The England & Wales bank holidays of a year, substitute days included.
pub(crate) fn bank_holidays(year: i16) -> Vec<Date> {
    let date = |month: i8, day: i8| Date::new(year, month, day).expect("fixed holiday dates exist");
    let easter = easter_sunday(year);
    let mut holidays = vec![
        easter.checked_sub(2.days()).expect("Good Friday exists"),
        easter.checked_add(1.day()).expect("Easter Monday exists"),
        date(5, 1).nth_weekday_of_month(1, Weekday::Monday).expect("May has a first Monday"),
        date(5, 1).nth_weekday_of_month(-1, Weekday::Monday).expect("May has a last Monday"),
        date(8, 1).nth_weekday_of_month(-1, Weekday::Monday).expect("August has a last Monday"),
    ];
    // Fixed-date holidays: those on weekdays keep their day; those at a weekend move to the next
    // weekday not already taken, which yields 27/28 December in the years Christmas falls at a weekend.
    let fixed = [date(1, 1), date(12, 25), date(12, 26)];
    holidays.extend(fixed.iter().copied().filter(|d| !is_weekend(*d)));
    for day in fixed.iter().copied().filter(|d| is_weekend(*d)) {
        let mut substitute = day;
        while is_weekend(substitute) || holidays.contains(&substitute) {
            substitute = substitute.checked_add(1.day()).expect("substitutes stay within the year's end");
        }
        holidays.push(substitute);
    }
    holidays.sort();
    holidays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(raw: &str) -> Date {
        raw.parse().unwrap()
    }

    #[test]
    fn easter_and_bank_holidays_match_published_dates() {
        assert_eq!(easter_sunday(2024), d("2024-03-31"));
        assert_eq!(easter_sunday(2026), d("2026-04-05"));
        assert_eq!(easter_sunday(2027), d("2027-03-28"));
        let h2026: Vec<String> = bank_holidays(2026).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            h2026,
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
        // 2022: Christmas on a Sunday, so Boxing Day stays Monday and Christmas moves to Tuesday 27th.
        assert!(bank_holidays(2022).contains(&d("2022-12-27")));
        assert!(bank_holidays(2022).contains(&d("2022-12-26")));
        // 2021: Christmas on a Saturday, substitutes Monday 27th and Tuesday 28th.
        assert!(bank_holidays(2021).contains(&d("2021-12-28")));
        // 2028: New Year's Day on a Saturday, substitute Monday 3rd.
        assert!(bank_holidays(2028).contains(&d("2028-01-03")));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        assert_eq!(next_working_day(d("2026-06-19")), d("2026-06-22"));
        assert_eq!(next_working_day(d("2026-04-02")), d("2026-04-07"));
        assert_eq!(add_working_days(d("2026-06-17"), 2), d("2026-06-19"));
        assert!(!is_working_day(d("2026-12-28")));
    }
}
