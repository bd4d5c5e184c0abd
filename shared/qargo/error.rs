//! What can go wrong talking to Qargo, typed for the jobs: a refused order names its fields, a
//! refused webhook update keeps Qargo's reasons, limits and outages are transient.

use std::time::Duration;

use super::wire::{FieldError, WebhookError};
use crate::error::StoreError;

/// A failed Qargo call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QargoError {
    /// 400: Qargo's validation refused the input.
    #[error("Qargo refused the input: {message}{}", fields(.errors))]
    Invalid {
        /// The summary.
        message: String,
        /// One entry per field.
        errors: Vec<FieldError>,
    },
    /// 422: the body did not have the expected types.
    #[error("Qargo could not process the body: {detail}")]
    Unprocessable {
        /// Qargo's `detail` list, rendered.
        detail: String,
    },
    /// A webhook answered with `errors` (e.g. a status update that matched no stop or several).
    #[error("Qargo refused the webhook call: {}", webhook_errors(.errors))]
    WebhookRefused {
        /// Qargo's reasons.
        errors: Vec<WebhookError>,
    },
    /// A download URL that is not on Qargo's API host: never fetched with the bridge's token.
    #[error("the document URL {url} is not on Qargo's API host; the bridge fetches documents only from Qargo")]
    ForeignUrl {
        /// The URL, shortened.
        url: String,
    },
    /// A file larger than the bridge reads: not read further, and not worth a retry.
    #[error("Qargo sent a file too large: {0}")]
    TooLarge(String),
    /// 404.
    #[error("not found in Qargo: {what}")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// The client id/secret or the webhook credentials were refused.
    #[error("Qargo refused the {which} credentials")]
    Unauthorized {
        /// `OAuth client` or `webhook`.
        which: &'static str,
    },
    /// The tenant's 5 token calls per hour are spent; the next one is allowed after `retry_after`.
    #[error("Qargo's token limit (5 per hour) is reached; next token in {retry_after:?}")]
    TokenLimit {
        /// Qargo's `Retry-After`.
        retry_after: Duration,
    },
    /// Qargo did not answer usefully within the retry budget.
    #[error("Qargo unavailable after {attempts} attempts over {elapsed:?}: {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// An answer that could not be read.
    #[error("Qargo answered something unreadable: {0}")]
    Malformed(String),
    /// An order upload ended in ERROR.
    #[error("Qargo could not import order {order_identifier}: {reason}")]
    UploadFailed {
        /// The order's identifier.
        order_identifier: String,
        /// Qargo's reason.
        reason: String,
    },
    /// The shared token cache failed.
    #[error("token cache: {0}")]
    TokenCache(String),
}

impl From<StoreError> for QargoError {
    fn from(err: StoreError) -> Self {
        QargoError::TokenCache(err.to_string())
    }
}

impl QargoError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            QargoError::Unavailable { .. }
                | QargoError::TokenLimit { .. }
                | QargoError::Malformed(_)
                | QargoError::TokenCache(_)
        )
    }
}

fn fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("; {}: {}", e.path.as_deref().or(e.field.as_deref()).unwrap_or("?"), e.message))
        .collect()
}

fn webhook_errors(errors: &[WebhookError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.error_type, e.error_message)).collect::<Vec<_>>().join("; ")
}
