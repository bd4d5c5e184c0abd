//! Query strings, matched case-insensitively by key as ASP.NET does (§3.1): `statusID`, `statusid`
//! and `STATUSID` are the same parameter. Repeated keys, `key[]` and comma-separated values all make
//! lists.

use jiff::civil::Date;

use crate::clock;
use crate::problem::ApiError;
use crate::profile::Profile;

pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

pub(crate) const DEFAULT_LIMIT: usize = 20;
pub(crate) const MAX_LIMIT: usize = 100;

impl Params {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Params {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| (k.trim().trim_end_matches("[]").to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Params { pairs }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// `limit` (default 20, at most 100) and `offset` (default 0).
    pub(crate) fn paging(&self) -> Result<(usize, usize), ApiError> {
        self.paging_in(Profile::Full)
    }

    /// `limit` and `offset` as `profile` reads them: full refuses a `limit` outside 1–100 (400);
    /// seen clamps it to 1–[`Profile::max_limit`] silently.
    pub(crate) fn paging_in(&self, profile: Profile) -> Result<(usize, usize), ApiError> {
        let max = profile.max_limit();
        debug_assert!(max <= MAX_LIMIT);
        let limit = match (self.get("limit"), profile) {
            (None, _) => DEFAULT_LIMIT,
            (Some(raw), Profile::Full) => match raw.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => return Err(ApiError::field("limit", format!("The limit must be between 1 and {max}."))),
            },
            (Some(raw), Profile::Seen) => match raw.parse::<i64>() {
                Ok(n) => n.clamp(1, max as i64) as usize,
                Err(_) => return Err(ApiError::field("limit", format!("The value '{raw}' is not valid."))),
            },
        };
        let offset = match self.get("offset") {
            None => 0,
            Some(raw) => {
                raw.parse::<usize>().map_err(|_| ApiError::field("offset", "The offset must be 0 or more."))?
            }
        };
        Ok((limit, offset))
    }

    pub(crate) fn date(&self, key: &str) -> Result<Option<Date>, ApiError> {
        self.get(key)
            .map(|raw| {
                clock::parse_date(raw)
                    .ok_or_else(|| ApiError::field(key, format!("'{raw}' is not a date in the format yyyy-MM-dd.")))
            })
            .transpose()
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|raw| raw.parse::<u64>().map_err(|_| ApiError::field(key, format!("'{raw}' is not a number."))))
            .transpose()
    }
}

/// Applies `limit`/`offset` to a list.
pub(crate) fn page<T>(items: Vec<T>, limit: usize, offset: usize) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}
