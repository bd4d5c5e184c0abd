//! How parsed visibility updates ([`crate::visibility`]) reach the jobs that use them. This sits
//! above the jobs: the jobs take the parsed update types only, and the routers call the jobs.
//!
//! | `update.type` | job | function in the cloud |
//! |---|---|---|
//! | `Stop` | status export ([`crate::jobs::status_export`]) | status-poll |
//! | `Document` | POD upload ([`crate::jobs::pod_sync`]) | pod-sync |
//! | `Eta` | ETA export ([`crate::jobs::eta_export`]) | eta-export |
//!
//! A [`VisibilityRouter`] takes the updates from the HTTP API:
//! - [`EventBridgeRouter`] in the cloud puts each on the visibility bus (source [`EVENT_SOURCE`],
//!   detail-type the kind, detail the [`RoutedUpdate`] JSON), where one rule per kind invokes the
//!   function with retries and a dead-letter queue. A failed put is an error, so Qargo is answered
//!   5xx and sends the body again: nothing is lost between Qargo and the bus.
//! - [`InProcessRouter`] on the local bridge and in tests runs the jobs before answering.
//!
//! A function invoked by the bus reads its trigger with [`read_trigger`](crate::lambda::read_trigger) and runs the update with
//! [`handle_bus_update`].

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ConfigError;
use crate::jobs::status_export::export_stop_update;
use crate::visibility::{RoutedUpdate, UpdateKind};
use crate::wiring::Bridge;

/// The `source` of the events the bridge puts on the visibility bus.
pub const EVENT_SOURCE: &str = "nexus-bridge.qargo-visibility";
/// The environment variable that names the visibility bus.
pub const BUS_VARIABLE: &str = "VISIBILITY_BUS";
/// EventBridge takes at most this many entries per `PutEvents` call.
pub const MAX_ENTRIES_PER_PUT: usize = 10;
/// EventBridge takes at most this many bytes per `PutEvents` call (and so per entry).
pub const MAX_BYTES_PER_PUT: usize = 256 * 1024;
/// Attempts at entries EventBridge refused (throttled, internal failure) before the call fails.
const PUT_ATTEMPTS: u32 = 3;
/// The pause before retrying refused entries, times the attempt.
const PUT_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Why updates could not be routed. The HTTP API answers 503, and Qargo sends the body again.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The bus could not be reached, or refused the call.
    #[error("the visibility bus {bus} could not be reached: {reason}")]
    Unreachable {
        /// The bus.
        bus: String,
        /// What the SDK said.
        reason: String,
    },
    /// The bus refused some entries, even after retrying them.
    #[error("the visibility bus {bus} refused {failed} of {total} updates: {reason}")]
    Refused {
        /// The bus.
        bus: String,
        /// Entries refused.
        failed: usize,
        /// Entries in the call.
        total: usize,
        /// The first entry's error code and message.
        reason: String,
    },
    /// An update is larger than one event may be, even without embedded file content.
    #[error("a {kind} update of {bytes} bytes is larger than an event may be ({MAX_BYTES_PER_PUT} bytes)")]
    TooLarge {
        /// Its kind.
        kind: UpdateKind,
        /// Its size.
        bytes: usize,
    },
    /// An update can never succeed (answered 422: sending it again cannot help).
    #[error("the {kind} update can never be handled: {reason}")]
    Invalid {
        /// The update's kind.
        kind: UpdateKind,
        /// Why.
        reason: String,
    },
    /// A job that runs in process failed in a way worth retrying.
    #[error("the {kind} update could not be handled: {reason}")]
    Job {
        /// The update's kind.
        kind: UpdateKind,
        /// Why.
        reason: String,
    },
}

/// Hands routed updates to the jobs that take them.
#[async_trait]
pub trait VisibilityRouter: Send + Sync {
    /// Routes every update, or fails (then the caller answers Qargo with a 5xx and it sends again;
    /// the jobs are idempotent, so updates routed before the failure may safely come again).
    async fn route(&self, updates: Vec<RoutedUpdate>) -> Result<(), RoutingError>;
}

/// Routes updates to the visibility bus, for the functions' rules to pick up.
#[derive(Debug, Clone)]
pub struct EventBridgeRouter {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeRouter {
    /// A router onto the bus `bus` (name or ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> EventBridgeRouter {
        EventBridgeRouter { client, bus: bus.into() }
    }

    /// A router onto the bus `bus` with the AWS configuration `aws`.
    pub fn with_config(aws: &SdkConfig, bus: impl Into<String>) -> EventBridgeRouter {
        EventBridgeRouter::new(aws_sdk_eventbridge::Client::new(aws), bus)
    }

    /// A router onto the bus named by [`BUS_VARIABLE`], with the AWS configuration `aws`.
    pub fn from_env(aws: &SdkConfig) -> Result<EventBridgeRouter, ConfigError> {
        let bus =
            std::env::var(BUS_VARIABLE).ok().filter(|bus| !bus.trim().is_empty()).ok_or(ConfigError::Missing {
                name: BUS_VARIABLE,
                fix: "set it to the name of the event bus for Qargo's visibility updates (the stack's VisibilityBus)",
            })?;
        Ok(EventBridgeRouter::with_config(aws, bus.trim()))
    }

    /// The bus.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    fn entry(&self, update: &RoutedUpdate) -> Result<(PutEventsRequestEntry, usize), RoutingError> {
        let mut detail = serde_json::to_string(update).map_err(|err| RoutingError::Job {
            kind: update.kind,
            reason: format!("cannot write the update as JSON: {err}"),
        })?;
        if entry_size(update.kind, &detail) > MAX_BYTES_PER_PUT {
            detail = serde_json::to_string(&without_embedded_content(update)).unwrap_or(detail);
        }
        let bytes = entry_size(update.kind, &detail);
        if bytes > MAX_BYTES_PER_PUT {
            return Err(RoutingError::TooLarge { kind: update.kind, bytes });
        }
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(update.kind.as_str())
            .detail(detail)
            .build();
        Ok((entry, bytes))
    }

    /// Puts one batch, retrying only the entries the bus refused.
    async fn put(&self, mut entries: Vec<PutEventsRequestEntry>) -> Result<(), RoutingError> {
        let total = entries.len();
        for attempt in 1..=PUT_ATTEMPTS {
            let answer = self.client.put_events().set_entries(Some(entries.clone())).send().await.map_err(|err| {
                RoutingError::Unreachable { bus: self.bus.clone(), reason: DisplayErrorContext(&err).to_string() }
            })?;
            if answer.failed_entry_count() == 0 {
                return Ok(());
            }
            let refused = refused_entries(&entries, answer.entries());
            if refused.is_empty() {
                return Ok(());
            }
            tracing::warn!(bus = %self.bus, attempt, refused = refused.len(), "the visibility bus refused entries");
            if attempt == PUT_ATTEMPTS {
                return Err(RoutingError::Refused {
                    bus: self.bus.clone(),
                    failed: refused.len(),
                    total,
                    reason: refused[0].1.clone(),
                });
            }
            entries = refused.into_iter().map(|(entry, _)| entry).collect();
            // Refusals are throttling or the bus's internal failures: give it a moment.
            tokio::time::sleep(PUT_RETRY_PAUSE * attempt).await;
        }
        Ok(())
    }
}

#[async_trait]
impl VisibilityRouter for EventBridgeRouter {
    async fn route(&self, updates: Vec<RoutedUpdate>) -> Result<(), RoutingError> {
        let mut batch: Vec<PutEventsRequestEntry> = Vec::new();
        let mut batch_bytes = 0;
        for update in &updates {
            let (entry, bytes) = self.entry(update)?;
            if batch.len() == MAX_ENTRIES_PER_PUT || batch_bytes + bytes > MAX_BYTES_PER_PUT {
                self.put(std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch.push(entry);
            batch_bytes += bytes;
        }
        if !batch.is_empty() {
            self.put(batch).await?;
        }
        tracing::info!(bus = %self.bus, updates = updates.len(), "visibility updates put on the bus");
        Ok(())
    }
}

/// The entries the bus refused, with the reason: results come in the order of the entries, and a
/// refused one carries an error code (a result without an event id, or a missing result, counts as
/// refused too).
fn refused_entries(
    entries: &[PutEventsRequestEntry],
    results: &[PutEventsResultEntry],
) -> Vec<(PutEventsRequestEntry, String)> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let reason = match results.get(index) {
                Some(result) if result.error_code().is_none() && result.event_id().is_some() => return None,
                Some(result) => format!(
                    "{}: {}",
                    result.error_code().unwrap_or("no event id"),
                    result.error_message().unwrap_or_default()
                ),
                None => "no result for the entry".to_owned(),
            };
            Some((entry.clone(), reason))
        })
        .collect()
}

/// An entry's size as EventBridge counts it: source, detail-type and detail, in UTF-8 bytes.
fn entry_size(kind: UpdateKind, detail: &str) -> usize {
    EVENT_SOURCE.len() + kind.as_str().len() + detail.len()
}

/// The update with a document's embedded (base64) content left out, for an update too large for the
/// bus: the POD job then reads the file from Qargo by the document's id, as it does for a
/// `download_url`.
fn without_embedded_content(update: &RoutedUpdate) -> RoutedUpdate {
    let mut smaller = update.clone();
    if let Some(content) = smaller.update.pointer_mut("/document/document_content")
        && content.get("content").is_some()
    {
        *content = json!({
            "content_omitted": true,
            "filename": content.get("filename").cloned().unwrap_or(Value::Null),
            "mime_type": content.get("mime_type").cloned().unwrap_or(Value::Null),
        });
    }
    smaller
}

/// Runs the jobs in process, before the HTTP answer: the local bridge and the tests. A job's
/// retryable failure fails the call, so Qargo sends the body again, as the bus's retries would.
#[derive(Debug, Clone)]
pub struct InProcessRouter {
    bridge: Arc<Bridge>,
}

impl InProcessRouter {
    /// A router running the jobs on `bridge`.
    pub fn new(bridge: Arc<Bridge>) -> InProcessRouter {
        InProcessRouter { bridge }
    }
}

/// Why a job could not handle a routed update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// The update can never succeed (it is not what its kind must be): not worth a retry.
    Invalid(String),
    /// An outage or contention: worth a retry.
    Retry(String),
}

/// Runs the job that takes `update`'s kind (the one its bus rule reaches in the cloud) and answers
/// its outcome as JSON.
pub async fn run_update_job(bridge: &Bridge, update: &RoutedUpdate) -> Result<Value, JobFailure> {
    fn outcome(value: impl Serialize) -> Value {
        serde_json::to_value(value).unwrap_or_default()
    }
    match update.kind {
        UpdateKind::Stop => export_stop_update(bridge, update).await.map(outcome).map_err(|err| match err {
            crate::jobs::status_export::ExportError::Invalid(invalid) => JobFailure::Invalid(invalid.0),
            other => JobFailure::Retry(other.to_string()),
        }),
        UpdateKind::Eta => {
            crate::jobs::eta_export::export_eta_update(bridge, update).await.map(outcome).map_err(|err| match err {
                crate::jobs::eta_export::EtaExportError::Invalid(invalid) => JobFailure::Invalid(invalid.0),
                other => JobFailure::Retry(other.to_string()),
            })
        }
        UpdateKind::Document => {
            crate::jobs::pod_sync::upload_document_update(bridge, update).await.map(outcome).map_err(|err| match err {
                crate::jobs::pod_sync::PodError::Invalid(invalid) => JobFailure::Invalid(invalid.0),
                other => JobFailure::Retry(other.to_string()),
            })
        }
    }
}

/// One update from the bus, in a function: an update that can never succeed is logged and
/// answered as handled (`{"outcome": "invalid"}`), so the bus does not retry it for a day and
/// dead-letter it; a retryable failure is an error, which the bus retries.
pub async fn handle_bus_update(bridge: &Bridge, update: &RoutedUpdate) -> Result<Value, String> {
    match run_update_job(bridge, update).await {
        Ok(outcome) => {
            tracing::info!(kind = %update.kind, outcome = %outcome, "visibility update handled");
            Ok(outcome)
        }
        Err(JobFailure::Invalid(reason)) => {
            tracing::warn!(kind = %update.kind, %reason, "visibility update can never succeed; not retried");
            Ok(json!({"outcome": "invalid", "reason": reason}))
        }
        Err(JobFailure::Retry(reason)) => Err(reason),
    }
}

#[async_trait]
impl VisibilityRouter for InProcessRouter {
    async fn route(&self, updates: Vec<RoutedUpdate>) -> Result<(), RoutingError> {
        let (mut retry, mut invalid) = (None, None);
        for update in updates {
            match run_update_job(&self.bridge, &update).await {
                Ok(outcome) => tracing::info!(kind = %update.kind, %outcome, "visibility update handled"),
                Err(JobFailure::Invalid(reason)) => {
                    tracing::warn!(kind = %update.kind, %reason, "visibility update can never succeed");
                    invalid.get_or_insert(RoutingError::Invalid { kind: update.kind, reason });
                }
                Err(JobFailure::Retry(reason)) => {
                    tracing::warn!(kind = %update.kind, %reason, "visibility update failed; Qargo will send it again");
                    retry.get_or_insert(RoutingError::Job { kind: update.kind, reason });
                }
            }
        }
        match retry.or(invalid) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_entries_are_those_with_an_error_or_no_result() {
        let entry = |n: usize| PutEventsRequestEntry::builder().detail(format!("{{\"n\":{n}}}")).build();
        let entries: Vec<PutEventsRequestEntry> = (0..4).map(entry).collect();
        let results = [
            PutEventsResultEntry::builder().event_id("e-0").build(),
            PutEventsResultEntry::builder().error_code("ThrottlingException").error_message("slow down").build(),
            PutEventsResultEntry::builder().event_id("e-2").build(),
        ];
        let refused = refused_entries(&entries, &results);
        let details: Vec<(&str, &str)> =
            refused.iter().map(|(entry, reason)| (entry.detail().unwrap_or_default(), reason.as_str())).collect();
        assert_eq!(
            details,
            [(r#"{"n":1}"#, "ThrottlingException: slow down"), (r#"{"n":3}"#, "no result for the entry")]
        );
        let all_put: Vec<PutEventsResultEntry> =
            (0..4).map(|n| PutEventsResultEntry::builder().event_id(format!("e-{n}")).build()).collect();
        assert!(refused_entries(&entries, &all_put).is_empty());
    }

    #[test]
    fn oversized_documents_travel_without_their_embedded_content() {
        let content = "A".repeat(MAX_BYTES_PER_PUT);
        let update = RoutedUpdate {
            kind: UpdateKind::Document,
            timestamp: "2026-06-17T09:00:00Z".parse().unwrap(),
            update: json!({"id": "d-1", "type": "Document", "document": {"document_type": "CONSIGNEE_SIGNATURE",
                "document_content": {"content": content, "mime_type": "image/png", "filename": "s.png"}}}),
            order: None,
        };
        let smaller = without_embedded_content(&update);
        let detail = serde_json::to_string(&smaller).unwrap();
        assert!(entry_size(UpdateKind::Document, &detail) < 1024, "{detail}");
        assert_eq!(smaller.update["document"]["document_content"]["filename"], json!("s.png"));
        assert_eq!(smaller.update["document"]["document_content"]["content_omitted"], json!(true));
        assert_eq!(smaller.update["document"]["document_type"], json!("CONSIGNEE_SIGNATURE"));
    }
}
