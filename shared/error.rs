//! Error types of the library. Each names what was wrong and, where a person can act, how to fix it;
//! the edges (Lambda handlers, the local API) turn them into HTTP answers or Lambda diagnostics.

use std::fmt;

/// How many characters of a value from outside an error message shows.
pub const SHOWN_CHARS: usize = 80;

/// At most [`SHOWN_CHARS`] characters of `text`, with `…` when cut: what error messages echo of
/// input from outside.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A value from outside (Qargo, Nexus, configuration) that could not become a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {fix}")]
pub struct ParseError {
    /// What kind of value was being read, in words a user knows ("depot code", "postcode").
    pub what: &'static str,
    /// The value as received.
    pub value: String,
    /// Why it was refused and what a valid value looks like.
    pub fix: String,
}

impl ParseError {
    /// A refusal of `value` as a `what`, with the fix a user should apply.
    /// The value is kept to [`SHOWN_CHARS`] characters: an error never echoes unbounded input.
    pub fn new(what: &'static str, value: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { what, value: shown(&value.into()), fix: fix.into() }
    }
}

/// Settings or secrets that are missing or malformed. Raised at start-up, so a misconfigured
/// function fails on its first invocation with the variable to set, not later mid-job.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is not set.
    #[error("environment variable {name} is not set: {fix}")]
    Missing {
        /// The variable's name.
        name: &'static str,
        /// What to set it to.
        fix: &'static str,
    },
    /// A variable or secret field holds a value that does not parse.
    #[error("{name}: {source}")]
    Invalid {
        /// The variable or secret field.
        name: String,
        /// Why the value was refused.
        #[source]
        source: ParseError,
    },
    /// The secrets could not be read from their source.
    #[error("could not read secrets from {source_name}: {reason}")]
    Secrets {
        /// Where they were read from (file path, Secrets Manager id, environment).
        source_name: String,
        /// What went wrong.
        reason: String,
    },
}

/// A failure of a storage adapter (DynamoDB, S3, the embedded store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the request; usually worth retrying.
    #[error("{backend} {operation} failed: {reason}")]
    Backend {
        /// Which store ("DynamoDB", "S3", "embedded store", …).
        backend: &'static str,
        /// The operation that failed.
        operation: &'static str,
        /// The backend's own words.
        reason: String,
    },
    /// A stored record could not be read back into its type: written by another version, or damaged.
    #[error("stored record {key} is unreadable: {reason}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The caller tried to act on a dispatch claim it does not hold (its lease expired and another
    /// invocation took over).
    #[error("dispatch {qargo_consignment_id} is not held by this claim: {reason}")]
    ClaimLost {
        /// The Qargo consignment whose claim was lost.
        qargo_consignment_id: String,
        /// What the ledger holds instead.
        reason: String,
    },
}

impl StoreError {
    /// A backend failure, with the backend's error rendered in full (source chain included).
    pub fn backend(backend: &'static str, operation: &'static str, err: impl fmt::Debug) -> Self {
        Self::Backend { backend, operation, reason: format!("{err:?}") }
    }
}

/// The library's top-level error, for the edges to map.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// Settings or secrets are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
