//! The ETA rules (DESIGN.md §2, "ETA export"): which Qargo delivery stops may send their ETA to Nexus,
//! what that ETA is in Nexus's terms, and when it moved enough to be worth sending. Qargo documents
//! none of this for PALL-EX / Fortec; Palletline's ETA upload is the model
//! (research/qargo-pallex-help.md §7, §9.1): sent when a stop's estimated start changes, only while
//! the trip is planned or in progress and the stop has not started, and only by the delivery depot
//! (that last rule needs the consignment's depots, so the job applies it).
//!
//! **The stop** ([`stop_readiness`]): Qargo's stop statuses are TEMPLATE, BLOCKED, TO_PLAN, PLANNED,
//! DISPATCHED, ROUTE_TO_STOP, AT_STOP, COMPLETED, CANCELLED and IGNORED (research/qargo-api.md §4).
//! A stop on a planned trip is `PLANNED` or `DISPATCHED`, one the driver is heading for
//! `ROUTE_TO_STOP`: those three are ready. `AT_STOP`, `COMPLETED` or an actual start means started;
//! `CANCELLED` and `IGNORED` will not happen; anything else (not on a trip yet, or a status Qargo adds
//! later) sends nothing, since a wrong ETA on Nexus is worse than none.
//!
//! **The estimate** ([`DeliveryEstimate::from_eta`]): Qargo's ETA is the stop's estimated start and
//! end, instants with an offset; Nexus keeps `estimatedDelDate`, `estimatedDelTime` and the window
//! `startWindow`/`endWindow` as UK local date and `HH:mm` (nexus-api.md §1.7, §3.3 #11). So the start,
//! in Europe/London (BST or GMT as that day has it) and rounded to the minute, gives the date and
//! time, and the start and end give the window. A window that does not fit one local day with its
//! end after its start (past midnight, or folded by the October clock change) is left out rather
//! than sent back to front.
//!
//! **Worth sending** ([`is_worth_sending`]): always the first time; after that only when the start
//! moved by at least the threshold (`ETA_THRESHOLD_MINUTES`, default 15) from the ETA last sent, or
//! the window changed: it appeared or went, or an edge of it moved by at least the threshold. An edge
//! creeping by less than the threshold is not a new window to the consignee; the comparison is with
//! what was last sent, so small moves that add up are sent once they reach the threshold. Moves are
//! measured between instants, so an estimate across a clock change is compared in real time.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Unit, Zoned};

/// Whether a Qargo stop may send its ETA (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReadiness {
    /// On a planned or running trip, not started: its ETA may go to Nexus.
    Ready,
    /// Not on a planned trip (`TO_PLAN`, `BLOCKED`, `TEMPLATE`, or a status the bridge does not know).
    NotPlanned,
    /// The driver is there or has been (`AT_STOP`, `COMPLETED`, or an actual start): Nexus hears of
    /// the delivery itself, not of an estimate.
    Started,
    /// The stop will not happen (`CANCELLED`, `IGNORED`).
    Cancelled,
}

impl StopReadiness {
    /// Why an ETA is not sent, for reports and logs; `None` when it may be.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            StopReadiness::Ready => None,
            StopReadiness::NotPlanned => Some("the stop is not on a planned or running trip"),
            StopReadiness::Started => Some("the stop has started"),
            StopReadiness::Cancelled => Some("the stop is cancelled"),
        }
    }
}

/// Whether a stop with Qargo status `status` (and an actual start when `started`) may send its ETA.
pub fn stop_readiness(status: &str, started: bool) -> StopReadiness {
    let readiness = match status.trim().to_ascii_uppercase().as_str() {
        "PLANNED" | "DISPATCHED" | "ROUTE_TO_STOP" => StopReadiness::Ready,
        "AT_STOP" | "COMPLETED" => StopReadiness::Started,
        "CANCELLED" | "IGNORED" => StopReadiness::Cancelled,
        _ => StopReadiness::NotPlanned,
    };
    match readiness {
        StopReadiness::Ready | StopReadiness::NotPlanned if started => StopReadiness::Started,
        other => other,
    }
}

/// A delivery estimate as Nexus keeps it: UK local date, time to the minute, and an optional window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryEstimate {
    /// `estimatedDelDate`.
    pub date: Date,
    /// `estimatedDelTime` (whole minutes).
    pub time: Time,
    /// `startWindow` and `endWindow` (whole minutes, end after start, both on `date`).
    pub window: Option<(Time, Time)>,
}

impl DeliveryEstimate {
    /// The estimate of a stop Qargo expects to start at `start` and end at `end` (module docs).
    pub fn from_eta(start: Timestamp, end: Option<Timestamp>) -> DeliveryEstimate {
        let start = uk_minute(start);
        let window = end
            .map(uk_minute)
            .filter(|end| end.date() == start.date() && end.time() > start.time())
            .map(|end| (start.time(), end.time()));
        DeliveryEstimate { date: start.date(), time: start.time(), window }
    }

    /// The instant of the estimated start (the earlier one when the October clock change makes the
    /// local time occur twice).
    pub fn start(&self) -> Option<Timestamp> {
        uk_instant(self.date, self.time)
    }

    /// The instants of the window's edges.
    pub fn window_instants(&self) -> Option<(Option<Timestamp>, Option<Timestamp>)> {
        self.window.map(|(start, end)| (uk_instant(self.date, start), uk_instant(self.date, end)))
    }
}

/// A time as Nexus writes it: `HH:mm`.
pub fn hh_mm(time: Time) -> String {
    time.strftime("%H:%M").to_string()
}

/// Whether `next` is worth sending when `last` is what Nexus was last sent (module docs).
pub fn is_worth_sending(last: Option<&DeliveryEstimate>, next: &DeliveryEstimate, threshold: SignedDuration) -> bool {
    let Some(last) = last else {
        return true;
    };
    let moved = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(a), Some(b)) => a.duration_since(b).abs() >= threshold,
        // An estimate that cannot be placed in time (never the case for ours) is sent again.
        _ => true,
    };
    if moved(last.start(), next.start()) {
        return true;
    }
    match (last.window_instants(), next.window_instants()) {
        (None, None) => false,
        (Some((last_start, last_end)), Some((next_start, next_end))) => {
            moved(last_start, next_start) || moved(last_end, next_end)
        }
        _ => true,
    }
}

fn london() -> TimeZone {
    // The tz database is bundled into the binary, so the zone is always there.
    TimeZone::get("Europe/London").expect("the bundled tz database has Europe/London")
}

/// `at` in UK local time, to the nearest minute.
fn uk_minute(at: Timestamp) -> Zoned {
    let zoned = at.to_zoned(london());
    zoned.round(Unit::Minute).unwrap_or(zoned)
}

fn uk_instant(date: Date, time: Time) -> Option<Timestamp> {
    date.to_datetime(time).to_zoned(london()).ok().map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn estimate(start: &str, end: Option<&str>) -> DeliveryEstimate {
        DeliveryEstimate::from_eta(ts(start), end.map(ts))
    }

    fn local(estimate: &DeliveryEstimate) -> (String, String, Option<(String, String)>) {
        (estimate.date.to_string(), hh_mm(estimate.time), estimate.window.map(|(s, e)| (hh_mm(s), hh_mm(e))))
    }

    fn expect(date: &str, time: &str, window: Option<(&str, &str)>) -> (String, String, Option<(String, String)>) {
        (date.to_owned(), time.to_owned(), window.map(|(s, e)| (s.to_owned(), e.to_owned())))
    }

    #[test]
    fn stops_on_planned_or_running_trips_that_have_not_started_are_ready() {
        for status in ["PLANNED", "DISPATCHED", "ROUTE_TO_STOP", "planned"] {
            assert_eq!(stop_readiness(status, false), StopReadiness::Ready, "{status}");
        }
        for status in ["TO_PLAN", "BLOCKED", "TEMPLATE", "SOMETHING_NEW", ""] {
            assert_eq!(stop_readiness(status, false), StopReadiness::NotPlanned, "{status}");
        }
        for status in ["AT_STOP", "COMPLETED"] {
            assert_eq!(stop_readiness(status, false), StopReadiness::Started, "{status}");
        }
        assert_eq!(stop_readiness("PLANNED", true), StopReadiness::Started, "an actual start means started");
        assert_eq!(stop_readiness("CANCELLED", true), StopReadiness::Cancelled);
        assert_eq!(stop_readiness("IGNORED", false), StopReadiness::Cancelled);
        assert_eq!(StopReadiness::Ready.reason(), None);
        assert!(StopReadiness::Started.reason().unwrap().contains("started"));
    }

    #[test]
    fn the_estimate_is_uk_local_time_in_summer_and_winter() {
        // BST (UTC+1) in June and on the Saturday before the clocks go back; GMT on the Monday after.
        let summer = estimate("2026-06-18T09:30:00Z", Some("2026-06-18T10:00:00Z"));
        assert_eq!(local(&summer), expect("2026-06-18", "10:30", Some(("10:30", "11:00"))));
        let saturday = estimate("2026-10-24T09:30:00Z", Some("2026-10-24T10:00:00Z"));
        assert_eq!(local(&saturday), expect("2026-10-24", "10:30", Some(("10:30", "11:00"))));
        let monday = estimate("2026-10-26T09:30:00Z", Some("2026-10-26T10:00:00Z"));
        assert_eq!(local(&monday), expect("2026-10-26", "09:30", Some(("09:30", "10:00"))));
        // Offsets other than Z are instants too.
        let offset = estimate("2026-06-18T11:30:00+02:00", None);
        assert_eq!(local(&offset), expect("2026-06-18", "10:30", None));
    }

    #[test]
    fn the_nights_of_the_clock_changes_convert_by_the_instant() {
        // 25 October 2026: 01:00 UTC is 02:00 BST, which becomes 01:00 GMT; 01:xx happens twice.
        assert_eq!(local(&estimate("2026-10-25T00:30:00Z", None)), expect("2026-10-25", "01:30", None));
        assert_eq!(local(&estimate("2026-10-25T01:30:00Z", None)), expect("2026-10-25", "01:30", None));
        // A window folded by the change would end before it starts in local time: left out.
        let folded = estimate("2026-10-25T00:40:00Z", Some("2026-10-25T01:10:00Z"));
        assert_eq!(local(&folded), expect("2026-10-25", "01:40", None));
        // 29 March 2026: 01:00 UTC is 01:00 GMT, which becomes 02:00 BST.
        assert_eq!(local(&estimate("2026-03-29T00:30:00Z", None)), expect("2026-03-29", "00:30", None));
        let spring = estimate("2026-03-29T00:45:00Z", Some("2026-03-29T01:15:00Z"));
        assert_eq!(local(&spring), expect("2026-03-29", "00:45", Some(("00:45", "02:15"))));
    }

    #[test]
    fn late_evenings_in_summer_are_the_next_uk_day_and_windows_past_midnight_are_left_out() {
        let late = estimate("2026-06-17T23:20:00Z", Some("2026-06-17T23:50:00Z"));
        assert_eq!(local(&late), expect("2026-06-18", "00:20", Some(("00:20", "00:50"))));
        let across = estimate("2026-06-17T22:45:00Z", Some("2026-06-17T23:15:00Z"));
        assert_eq!(local(&across), expect("2026-06-17", "23:45", None), "the window would end the next day");
        assert_eq!(local(&estimate("2026-06-18T09:30:00Z", Some("2026-06-18T09:30:00Z"))).2, None);
    }

    #[test]
    fn times_round_to_the_nearest_minute() {
        assert_eq!(hh_mm(estimate("2026-06-18T09:30:29Z", None).time), "10:30");
        assert_eq!(hh_mm(estimate("2026-06-18T09:30:31Z", None).time), "10:31");
        assert_eq!(local(&estimate("2026-06-18T22:59:45Z", None)), expect("2026-06-19", "00:00", None));
    }

    #[test]
    fn only_moves_of_the_threshold_or_a_changed_window_are_worth_sending() {
        let threshold = SignedDuration::from_mins(15);
        let first = estimate("2026-06-18T09:30:00Z", Some("2026-06-18T10:00:00Z"));
        assert!(is_worth_sending(None, &first, threshold), "the first estimate is always sent");
        assert!(!is_worth_sending(Some(&first), &first, threshold));
        let five = estimate("2026-06-18T09:35:00Z", Some("2026-06-18T10:05:00Z"));
        assert!(!is_worth_sending(Some(&first), &five, threshold), "5 minutes is no news");
        let earlier = estimate("2026-06-18T09:15:00Z", Some("2026-06-18T09:45:00Z"));
        assert!(is_worth_sending(Some(&first), &earlier, threshold), "15 minutes earlier is");
        let fourteen = estimate("2026-06-18T09:44:00Z", Some("2026-06-18T10:14:00Z"));
        assert!(!is_worth_sending(Some(&first), &fourteen, threshold));
        let wider = estimate("2026-06-18T09:30:00Z", Some("2026-06-18T11:00:00Z"));
        assert!(is_worth_sending(Some(&first), &wider, threshold), "the window's end moved an hour");
        let no_window = estimate("2026-06-18T09:30:00Z", None);
        assert!(is_worth_sending(Some(&first), &no_window, threshold), "the window went");
        assert!(is_worth_sending(Some(&no_window), &first, threshold), "a window appeared");
        let next_day = estimate("2026-06-19T09:30:00Z", Some("2026-06-19T10:00:00Z"));
        assert!(is_worth_sending(Some(&first), &next_day, threshold));
        let tight = SignedDuration::from_mins(5);
        assert!(is_worth_sending(Some(&first), &five, tight), "the threshold is a setting");
    }

    #[test]
    fn moves_across_the_clock_change_are_measured_in_real_time() {
        let threshold = SignedDuration::from_mins(15);
        // 00:50 BST then 01:05 GMT: 15 minutes on the clock face, 75 in real time.
        let before = estimate("2026-10-24T23:50:00Z", None);
        let after = estimate("2026-10-25T01:05:00Z", None);
        assert_eq!((hh_mm(before.time), hh_mm(after.time)), ("00:50".to_owned(), "01:05".to_owned()));
        assert!(is_worth_sending(Some(&before), &after, threshold));
    }

    proptest! {
        /// Away from the clock changes, a move of the whole estimate is worth sending exactly when it
        /// reaches the threshold.
        #[test]
        fn a_shift_is_sent_exactly_when_it_reaches_the_threshold(
            minute in 0i64..(100 * 24 * 60),
            shift in -180i64..180,
            length in 0i64..120,
            threshold in 1i64..60,
        ) {
            // 1 June to 8 September 2026: all BST.
            let start = ts("2026-06-01T00:00:00Z") + SignedDuration::from_mins(minute);
            let end = start + SignedDuration::from_mins(length);
            let shift = SignedDuration::from_mins(shift);
            let last = DeliveryEstimate::from_eta(start, Some(end));
            let next = DeliveryEstimate::from_eta(start + shift, Some(end + shift));
            let expected = shift.abs() >= SignedDuration::from_mins(threshold) || last.window.is_some() != next.window.is_some();
            prop_assert_eq!(is_worth_sending(Some(&last), &next, SignedDuration::from_mins(threshold)), expected);
        }

        /// The local date and time always name the instant they came from (to the minute).
        #[test]
        fn the_local_estimate_names_its_instant(seconds in 0i64..(2 * 365 * 24 * 3600)) {
            let at = ts("2026-01-01T00:00:00Z") + SignedDuration::from_secs(seconds);
            let estimate = DeliveryEstimate::from_eta(at, None);
            let back = estimate.start().unwrap();
            let off = back.duration_since(at).abs();
            // Within the rounding, or an hour in the October fold where the earlier instant is named.
            prop_assert!(off <= SignedDuration::from_secs(30) || (off - SignedDuration::from_hours(1)).abs() <= SignedDuration::from_secs(30));
        }
    }
}
