//! Query strings, matched case-insensitively by key as ASP.NET does (§3.1): `statusID`, `statusid`
//! and `STATUSID` are the same parameter. Repeated keys, `key[]` and comma-separated values all make
//! lists.

use jiff::civil::Date;

use crate::clock;
use crate::problem::ApiError;

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
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(ApiError::field("limit", format!("The limit must be between 1 and {MAX_LIMIT}."))),
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
