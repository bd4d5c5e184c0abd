//! What can go wrong talking to Nexus, typed so a job can decide: tell the user (rejected, with
//! Nexus's own field messages), look the consignment up (conflict), or try again later (unavailable).

use std::collections::BTreeMap;
use std::time::Duration;

/// A failed Nexus call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NexusError {
    /// Nexus refused the request as invalid (400, 403, 415): retrying will not help.
    #[error("Nexus refused the request ({status}): {title}{}", field_list(.field_errors))]
    Rejected {
        /// HTTP status.
        status: u16,
        /// ProblemDetails title.
        title: String,
        /// Field path → Nexus's messages.
        field_errors: BTreeMap<String, Vec<String>>,
    },
    /// The consignment or attachment does not exist, or this depot's user may not see it.
    #[error("not found on Nexus, or not visible to this depot's user: {what}")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// The request conflicts with the consignment's state (duplicate number, cancel after
    /// collection, upload to a cancelled consignment).
    #[error("Nexus conflict: {title}{}", field_list(.field_errors))]
    Conflict {
        /// ProblemDetails title.
        title: String,
        /// Field path → messages.
        field_errors: BTreeMap<String, Vec<String>>,
    },
    /// The depot's API user was refused even after a fresh login.
    #[error("Nexus refused the credentials of API user {username}: {title}")]
    Unauthorized {
        /// The user name (never the password).
        username: String,
        /// What Nexus said.
        title: String,
    },
    /// Nexus did not answer usefully within the retry budget (outage, 5xx, rate limit, timeouts).
    #[error("Nexus unavailable after {attempts} attempts over {elapsed:?}: {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// The API user's request budget is taken further ahead than a call waits (the configured
    /// `NEXUS_REQUESTS_PER_MINUTE`, or a 429's `Retry-After`): nothing was sent; the work is for a
    /// later run.
    #[error(
        "Nexus request budget of API user {username} spent for the next {} s: left for the next run",
        .wait.as_secs_f64().ceil()
    )]
    BudgetSpent {
        /// The user name.
        username: String,
        /// How long until its next free turn.
        wait: Duration,
    },
    /// The answer could not be read (malformed or cut short) and the call was not safe to repeat.
    #[error("Nexus answered something unreadable: {0}")]
    Malformed(String),
    /// A file larger than the bridge reads: not read further, and not worth a retry.
    #[error("Nexus sent a file too large: {0}")]
    TooLarge(String),
}

impl NexusError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NexusError::Unavailable { .. } | NexusError::Malformed(_) | NexusError::BudgetSpent { .. })
    }

    /// Nexus's messages for fields whose path starts with `prefix` (case-insensitive), e.g.
    /// `"Pallets[0]"` or `"General.CustomerID"`.
    pub fn field_messages(&self, prefix: &str) -> Vec<&str> {
        let fields = match self {
            NexusError::Rejected { field_errors, .. } | NexusError::Conflict { field_errors, .. } => field_errors,
            _ => return Vec::new(),
        };
        let prefix = prefix.to_ascii_lowercase();
        fields
            .iter()
            .filter(|(field, _)| field.to_ascii_lowercase().starts_with(&prefix))
            .flat_map(|(_, messages)| messages.iter().map(String::as_str))
            .collect()
    }
}

fn field_list(fields: &BTreeMap<String, Vec<String>>) -> String {
    fields.iter().map(|(field, messages)| format!("; {field}: {}", messages.join(" "))).collect()
}
