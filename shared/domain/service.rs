use jiff::civil::{Time, time};

use super::coded_enum;
use crate::error::ParseError;

coded_enum! {
    /// The delivery speed booked on the network.
    ServiceLevel, what = "service level" {
        /// Premium: next working day.
        Premium = "A" | "PREMIUM",
        /// Economy: two working days.
        Economy = "B" | "ECONOMY",
        /// Specific day: needs a delivery date on a working day.
        SpecificDay = "SD" | "SPECIFIC_DAY",
    }
}

impl ServiceLevel {
    /// The Nexus `serviceID`.
    pub fn nexus_service_id(self) -> u32 {
        match self {
            ServiceLevel::Premium => 1,
            ServiceLevel::Economy => 2,
            ServiceLevel::SpecificDay => 3,
        }
    }

    /// The level with Nexus `serviceID` `id`.
    pub fn from_nexus_service_id(id: u32) -> Option<ServiceLevel> {
        ServiceLevel::ALL.iter().copied().find(|s| s.nexus_service_id() == id)
    }

    /// Working days from collection to delivery; `None` when the date is the customer's choice.
    pub fn lead_working_days(self) -> Option<u32> {
        match self {
            ServiceLevel::Premium => Some(1),
            ServiceLevel::Economy => Some(2),
            ServiceLevel::SpecificDay => None,
        }
    }
}

coded_enum! {
    /// The kind of delivery time window, as Nexus codes it.
    TimeWindowCode, what = "time window" {
        /// Before 12:00.
        Am = "AM",
        /// A timed slot with start and end.
        Timed = "TD" | "TIMED",
        /// Book-in: the consignee is called for a slot.
        BookIn = "BI" | "BOOK_IN" | "BOOKIN",
    }
}

/// Who the delivery depot calls to book a book-in (`BI`) delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BookIn {
    /// The person to call.
    pub contact_name: String,
    /// Their phone number.
    pub contact_phone: String,
    /// The consignee's booking reference, if any.
    pub reference: Option<String>,
    /// Notes for the delivery depot.
    pub notes: Option<String>,
}

/// A delivery time window with what its kind requires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeWindow {
    /// Before 12:00.
    Am,
    /// A timed slot within the working day.
    Timed {
        /// Earliest delivery.
        start: Time,
        /// Latest delivery.
        end: Time,
    },
    /// A booked slot.
    BookIn(BookIn),
}

impl TimeWindow {
    /// The earliest start and latest end of a timed (`TD`) window.
    pub const TIMED_OPENS: Time = time(8, 0, 0, 0);
    /// See [`TimeWindow::TIMED_OPENS`].
    pub const TIMED_CLOSES: Time = time(17, 0, 0, 0);
    /// The widest timed window, in minutes.
    pub const TIMED_MAX_MINUTES: i64 = 4 * 60;

    /// A timed window: start before end, at most 4 hours, within 08:00–17:00.
    pub fn timed(start: Time, end: Time) -> Result<TimeWindow, ParseError> {
        let shown = format!("{}–{}", start.strftime("%H:%M"), end.strftime("%H:%M"));
        if start >= end {
            return Err(ParseError::new("timed window", shown, "the start must be before the end"));
        }
        if start < Self::TIMED_OPENS || end > Self::TIMED_CLOSES {
            return Err(ParseError::new("timed window", shown, "a TD window must lie within 08:00–17:00"));
        }
        if end.duration_since(start).as_mins() > Self::TIMED_MAX_MINUTES {
            return Err(ParseError::new("timed window", shown, "a TD window is at most 4 hours wide"));
        }
        Ok(TimeWindow::Timed { start, end })
    }

    /// A book-in window: contact name and phone are required.
    pub fn book_in(book_in: BookIn) -> Result<TimeWindow, ParseError> {
        if book_in.contact_name.trim().is_empty() {
            return Err(ParseError::new(
                "book-in contact name",
                "",
                "a BI delivery needs the name of the person who books the slot",
            ));
        }
        let digits = book_in.contact_phone.chars().filter(char::is_ascii_digit).count();
        if digits < 10 {
            return Err(ParseError::new(
                "book-in contact phone",
                book_in.contact_phone.clone(),
                "a BI delivery needs a phone number of at least 10 digits for the delivery depot to call",
            ));
        }
        Ok(TimeWindow::BookIn(book_in))
    }

    /// The window's code.
    pub fn code(&self) -> TimeWindowCode {
        match self {
            TimeWindow::Am => TimeWindowCode::Am,
            TimeWindow::Timed { .. } => TimeWindowCode::Timed,
            TimeWindow::BookIn(_) => TimeWindowCode::BookIn,
        }
    }
}

coded_enum! {
    /// A chargeable extra on the delivery (Nexus `extras`).
    Extra, what = "extra" {
        /// Tail-lift vehicle.
        TailLift = "TL" | "TAIL_LIFT" | "TAIL-LIFT",
        /// Hand unload.
        Handball = "HB" | "HANDBALL",
        /// Paper POD required.
        PaperPod = "PP" | "PAPER_POD",
        /// Restricted access / small vehicle.
        RestrictedAccess = "RA" | "RESTRICTED_ACCESS",
        /// Residential (B2C) address.
        Residential = "RES" | "RESIDENTIAL",
        /// Saturday delivery.
        Saturday = "SAT" | "SATURDAY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_levels() {
        assert_eq!("sd".parse::<ServiceLevel>().unwrap(), ServiceLevel::SpecificDay);
        assert_eq!(ServiceLevel::SpecificDay.nexus_service_id(), 3);
        assert_eq!(ServiceLevel::from_nexus_service_id(1), Some(ServiceLevel::Premium));
        assert_eq!(ServiceLevel::Economy.lead_working_days(), Some(2));
        assert_eq!(ServiceLevel::SpecificDay.lead_working_days(), None);
        assert!("C".parse::<ServiceLevel>().unwrap_err().fix.contains("A, B, SD"));
    }

    #[test]
    fn timed_windows() {
        let t = |h, m| time(h, m, 0, 0);
        assert_eq!(TimeWindow::timed(t(9, 0), t(13, 0)).unwrap().code(), TimeWindowCode::Timed);
        assert!(TimeWindow::timed(t(8, 0), t(12, 0)).is_ok());
        assert!(TimeWindow::timed(t(13, 0), t(17, 0)).is_ok());
        assert!(TimeWindow::timed(t(9, 0), t(13, 1)).unwrap_err().fix.contains("4 hours"));
        assert!(TimeWindow::timed(t(7, 30), t(9, 0)).unwrap_err().fix.contains("08:00–17:00"));
        assert!(TimeWindow::timed(t(15, 0), t(17, 30)).unwrap_err().fix.contains("08:00–17:00"));
        assert!(TimeWindow::timed(t(12, 0), t(10, 0)).unwrap_err().fix.contains("before"));
    }

    #[test]
    fn book_in_needs_contact() {
        let book_in = |name: &str, phone: &str| BookIn {
            contact_name: name.into(),
            contact_phone: phone.into(),
            reference: None,
            notes: None,
        };
        assert!(TimeWindow::book_in(book_in("Jo", "01234 567890")).is_ok());
        assert_eq!(TimeWindow::book_in(book_in(" ", "01234 567890")).unwrap_err().what, "book-in contact name");
        assert_eq!(TimeWindow::book_in(book_in("Jo", "123")).unwrap_err().what, "book-in contact phone");
    }

    #[test]
    fn extras_by_code_or_name() {
        assert_eq!("tail-lift".parse::<Extra>().unwrap(), Extra::TailLift);
        assert_eq!("RES".parse::<Extra>().unwrap(), Extra::Residential);
        assert!("FORKLIFT".parse::<Extra>().is_err());
        let json = serde_json::to_string(&TimeWindow::timed(time(9, 0, 0, 0), time(11, 0, 0, 0)).unwrap()).unwrap();
        assert!(json.contains("\"TIMED\""), "{json}");
    }
}
