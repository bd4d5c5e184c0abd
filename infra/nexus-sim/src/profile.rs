//! Which Nexus the simulator plays: [`Profile::Full`], today's model with everything the bridge
//! relies on (nexus-api.md §3, including the inventions §1.9 lists), or [`Profile::Seen`], only
//! what public code shows of Nexus (§1.3–§1.7) served the way an ASP.NET API would serve it.
//!
//! The seen profile exists so that a client can be tried against the *least* the real API is known
//! to do: an invented query filter is silently ignored, an invented body property silently dropped,
//! an invented route answers a bare 404, and the read model carries only the fields public code
//! reads. Everything it serves is listed in the crate README ("Profiles").

use std::fmt;
use std::str::FromStr;

use crate::reference::{self, StatusDef};

/// The simulator's profile; `Full` unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Today's model: every route, filter and field of nexus-api.md §3 and the README, including
    /// the §1.9 inventions the bridge depends on.
    #[default]
    Full,
    /// Only the seen routes, filters and fields (nexus-api.md §1.3–§1.7), ASP.NET-style: unknown
    /// query keys ignored, unknown body properties dropped, unknown routes a bare 404.
    Seen,
}

impl Profile {
    /// `full` or `seen`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Full => "full",
            Profile::Seen => "seen",
        }
    }

    /// The consignment statuses with the ids this profile gives them, in the order of the
    /// `consignmentStatuses` lookup. The lookup is the source of truth: the read model's
    /// `status.id` and the `statusID` filter use exactly these ids.
    ///
    /// Full: the designed ids 10–130 (invented, §1.9). Seen: the same statuses numbered 1, 2, 3, …
    /// in lookup order (also invented: the real list is not public), so that a client which
    /// hard-codes 10–130 instead of reading the lookup is caught.
    pub(crate) fn statuses(self) -> impl Iterator<Item = (u32, &'static StatusDef)> {
        reference::STATUSES.iter().enumerate().map(move |(index, status)| (self.status_id(status, index), status))
    }

    fn status_id(self, status: &StatusDef, index: usize) -> u32 {
        match self {
            Profile::Full => status.id,
            Profile::Seen => index as u32 + 1,
        }
    }

    /// The id this profile shows for `status`.
    pub(crate) fn id_of(self, status: &StatusDef) -> u32 {
        self.statuses().find(|(_, s)| s.code == status.code).map_or(status.id, |(id, _)| id)
    }

    /// The status this profile calls `id`.
    pub(crate) fn status_with_id(self, id: u32) -> Option<&'static StatusDef> {
        self.statuses().find(|(shown, _)| *shown == id).map(|(_, s)| s)
    }

    /// The largest `limit` a list honours: 100 in full (invented, §1.9); 50 in seen, the largest
    /// default public code uses (CFML: 20 for consignments, 50 for attachment types). A larger
    /// `limit` is clamped silently in seen, refused with 400 in full.
    pub(crate) fn max_limit(self) -> usize {
        match self {
            Profile::Full => 100,
            Profile::Seen => SEEN_MAX_LIMIT,
        }
    }
}

/// The largest page the seen profile serves (`Profile::max_limit` of [`Profile::Seen`]).
pub const SEEN_MAX_LIMIT: usize = 50;

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    /// `full` or `seen`, case-insensitively.
    fn from_str(raw: &str) -> Result<Profile, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Profile::Full),
            "seen" => Ok(Profile::Seen),
            other => Err(format!("'{other}' is not a profile; use full or seen")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_numbers_statuses_per_profile() {
        let delivered = reference::status_by_code("DEL");
        assert_eq!(Profile::Full.id_of(delivered), 100);
        assert_eq!(Profile::Seen.id_of(delivered), 11);
        assert_eq!(Profile::Seen.status_with_id(11).map(|s| s.code), Some("DEL"));
        assert_eq!(Profile::Seen.status_with_id(100), None);
        assert_eq!(Profile::Full.status_with_id(100).map(|s| s.code), Some("DEL"));
        assert_eq!("SEEN".parse::<Profile>(), Ok(Profile::Seen));
        assert!("partial".parse::<Profile>().is_err());
    }
}
