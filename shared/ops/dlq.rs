//! The dead-letter queues (SQS): one per asynchronous function (order-poll, status-poll, pod-sync,
//! eta-export: Lambda puts an invocation there after its retries, the event as the body and
//! `ErrorCode` / `ErrorMessage` attributes) and one for the visibility bus's rules (EventBridge puts
//! an event there when it cannot invoke the target, with `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`,
//! `ERROR_MESSAGE` attributes).
//!
//! **Redrive** sends each message back, then deletes it — never the other way round, so a failed send
//! leaves the message where it was:
//!
//! - to the target given (`--to bus:NAME` puts the event on an event bus, `--to sqs:QUEUE` moves the
//!   message to a queue);
//! - else to the source the message names: a rule's event goes back on the bus its `RULE_ARN` names
//!   (its rule routes it to the same function again);
//! - else, for a visibility update the message does not name a bus for (an ETA export's own
//!   dead letter), to the bus given as the default (`VISIBILITY_BUS`, the stack's `VisibilityBusName`);
//! - a scheduled run's tick names nothing to send back: the job's next scheduled run reads from its
//!   cursor and does the work the failed run did not. Such messages are kept, or deleted as settled
//!   when asked (`settle_ticks`).
//!
//! Sending twice is harmless: every job behind the bus applies an update once (by event id, document
//! id and SHA-256, ETA value).

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The SDKs the dead-letter operations speak, for callers that create queues, buses and rules of
/// their own (the tests against the AWS stand-in, scripts).
pub use {aws_sdk_eventbridge, aws_sdk_sqs};

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use serde::Serialize;
use serde_json::Value;

use super::OpsError;
use crate::routing::EVENT_SOURCE;

/// Messages read per `ReceiveMessage` (SQS's largest).
const BATCH: i32 = 10;
/// How long read messages stay hidden from others while a redrive handles them.
const HOLD_SECONDS: i32 = 120;

/// Where a redriven message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum RedriveTarget {
    /// An EventBridge bus (name or ARN).
    Bus(String),
    /// An SQS queue (name or URL).
    Queue(String),
}

impl std::str::FromStr for RedriveTarget {
    type Err = OpsError;

    /// `bus:NAME`, `sqs:NAME`, an event bus ARN, a queue ARN or URL.
    fn from_str(raw: &str) -> Result<RedriveTarget, OpsError> {
        let raw = raw.trim();
        if let Some(name) = raw.strip_prefix("bus:") {
            return Ok(RedriveTarget::Bus(name.to_owned()));
        }
        if let Some(name) = raw.strip_prefix("sqs:") {
            return Ok(RedriveTarget::Queue(name.to_owned()));
        }
        if raw.starts_with("arn:") && raw.contains(":event-bus/") {
            return Ok(RedriveTarget::Bus(raw.to_owned()));
        }
        if let Some(name) =
            raw.strip_prefix("arn:").and_then(|_| raw.split(':').nth(5)).filter(|_| raw.contains(":sqs:"))
        {
            return Ok(RedriveTarget::Queue(name.to_owned()));
        }
        if raw.starts_with("https://") || raw.starts_with("http://") {
            return Ok(RedriveTarget::Queue(raw.to_owned()));
        }
        Err(OpsError::Invalid(format!(
            "{raw:?} is not a redrive target: write bus:NAME (an event bus) or sqs:NAME (a queue)"
        )))
    }
}

impl std::fmt::Display for RedriveTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedriveTarget::Bus(name) => write!(f, "bus:{name}"),
            RedriveTarget::Queue(name) => write!(f, "sqs:{name}"),
        }
    }
}

/// A queue and how many messages it holds.
#[derive(Debug, Clone, Serialize)]
pub struct QueueSummary {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Messages waiting.
    pub waiting: u64,
    /// Messages being handled (received, not deleted yet).
    pub in_flight: u64,
    /// Whose dead letters they are, read from the name (`order-poll`, `visibility rules`, …).
    pub holds: Option<&'static str>,
}

/// A dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// SQS message id.
    pub message_id: String,
    /// When it was put on the queue.
    pub sent_at: Option<String>,
    /// How often it was received (a redrive that failed counts too).
    pub receive_count: Option<u64>,
    /// Why it is dead: the error code and message the sender attached.
    pub error: Option<String>,
    /// The bus rule it came from (EventBridge dead letters).
    pub rule_arn: Option<String>,
    /// What the body is: `Stop update of order …`, `scheduled run`, ….
    pub summary: String,
    /// Where a redrive without `--to` sends it; `None`: nowhere (see `summary`).
    pub source: Option<RedriveTarget>,
    /// The message attributes.
    pub attributes: BTreeMap<String, String>,
    /// The body, as JSON when it is JSON.
    pub body: Value,
}

/// What a redrive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedriveReport {
    /// Sent back and deleted: message id → where.
    pub sent: Vec<(String, String)>,
    /// Scheduled ticks deleted as settled.
    pub settled: Vec<String>,
    /// Left on the queue: message id → why.
    pub kept: Vec<(String, String)>,
    /// Would have been sent (a dry run): message id → where.
    pub would_send: Vec<(String, String)>,
}

impl RedriveReport {
    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = format!(
            "sent back {}, settled {}, kept {}{}\n",
            self.sent.len(),
            self.settled.len(),
            self.kept.len(),
            if self.would_send.is_empty() { String::new() } else { format!(", would send {}", self.would_send.len()) }
        );
        for (id, to) in &self.sent {
            out.push_str(&format!("  sent     {id} → {to}\n"));
        }
        for id in &self.settled {
            out.push_str(&format!("  settled  {id} (a scheduled run; the next run covers it)\n"));
        }
        for (id, to) in &self.would_send {
            out.push_str(&format!("  would send {id} → {to}\n"));
        }
        for (id, why) in &self.kept {
            out.push_str(&format!("  kept     {id}: {why}\n"));
        }
        out
    }
}

/// How to redrive.
#[derive(Debug, Clone, Default)]
pub struct RedriveOptions {
    /// Send everything here instead of to each message's source.
    pub to: Option<RedriveTarget>,
    /// The bus for visibility updates whose message names none (`VISIBILITY_BUS`).
    pub default_bus: Option<String>,
    /// At most this many messages (`None`: until the queue is empty).
    pub max: Option<usize>,
    /// Only say what would be done.
    pub dry_run: bool,
    /// Delete scheduled ticks (their job's next run covers them) instead of keeping them.
    pub settle_ticks: bool,
}

/// The dead-letter queues, through SQS (and EventBridge to send events back).
#[derive(Debug, Clone)]
pub struct DeadLetters {
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
}

fn aws_failed<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    what: &'static str,
) -> impl Fn(aws_sdk_sqs::error::SdkError<E, R>) -> OpsError {
    move |err| OpsError::Failed(format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(err)))
}

impl DeadLetters {
    /// Clients from the AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig) -> DeadLetters {
        DeadLetters { sqs: aws_sdk_sqs::Client::new(aws), events: aws_sdk_eventbridge::Client::new(aws) }
    }

    /// The queues whose name contains `filter` (case-insensitive), or, without one, the dead-letter
    /// queues (names containing `DeadLetter` or `dlq`), with their message counts.
    pub async fn list(&self, filter: Option<&str>) -> Result<Vec<QueueSummary>, OpsError> {
        let mut urls = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let answer = self
                .sqs
                .list_queues()
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(aws_failed("ListQueues"))?;
            urls.extend(answer.queue_urls().iter().cloned());
            match answer.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        let wanted = |name: &str| {
            let name = name.to_ascii_lowercase();
            match filter {
                Some(filter) => name.contains(&filter.to_ascii_lowercase()),
                None => name.contains("deadletter") || name.contains("dlq"),
            }
        };
        let mut queues = Vec::new();
        for url in urls {
            let name = queue_name(&url).to_owned();
            if !wanted(&name) {
                continue;
            }
            let (waiting, in_flight) = self.counts(&url).await?;
            queues.push(QueueSummary { holds: holder(&name), name, url, waiting, in_flight });
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(queues)
    }

    async fn counts(&self, url: &str) -> Result<(u64, u64), OpsError> {
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(aws_failed("GetQueueAttributes"))?;
        let count = |name: QueueAttributeName| {
            answer.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok((
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// The URL of a queue given by name or URL.
    pub async fn queue_url(&self, queue: &str) -> Result<String, OpsError> {
        if queue.starts_with("https://") || queue.starts_with("http://") {
            return Ok(queue.to_owned());
        }
        let name = queue.rsplit(':').next().unwrap_or(queue);
        let answer = self.sqs.get_queue_url().queue_name(name).send().await.map_err(aws_failed("GetQueueUrl"))?;
        answer.queue_url().map(str::to_owned).ok_or_else(|| OpsError::NotFound(format!("no queue {queue}")))
    }

    /// Up to `max` messages of `queue`, left on it (they are visible again at once).
    pub async fn show(&self, queue: &str, max: usize, default_bus: Option<&str>) -> Result<Vec<DeadLetter>, OpsError> {
        let url = self.queue_url(queue).await?;
        let mut seen = BTreeSet::new();
        let mut letters = Vec::new();
        let mut handles = Vec::new();
        while letters.len() < max {
            let batch = self.receive(&url, (max - letters.len()).min(BATCH as usize) as i32, 30).await?;
            let fresh: Vec<_> =
                batch.into_iter().filter(|(letter, _)| seen.insert(letter.message_id.clone())).collect();
            if fresh.is_empty() {
                break;
            }
            for (letter, handle) in fresh {
                handles.push(handle);
                letters.push(with_source(letter, default_bus));
            }
        }
        for handle in handles {
            self.release(&url, &handle).await?;
        }
        Ok(letters)
    }

    /// Sends the messages of `queue` back (see the module docs) and deletes each one sent.
    pub async fn redrive(&self, queue: &str, options: &RedriveOptions) -> Result<RedriveReport, OpsError> {
        let url = self.queue_url(queue).await?;
        let mut report = RedriveReport::default();
        let mut seen = BTreeSet::new();
        let mut held = Vec::new();
        let max = options.max.unwrap_or(usize::MAX);
        while seen.len() < max {
            let want = (max - seen.len()).min(BATCH as usize) as i32;
            let batch = self.receive(&url, want, HOLD_SECONDS).await?;
            let fresh: Vec<_> =
                batch.into_iter().filter(|(letter, _)| seen.insert(letter.message_id.clone())).collect();
            if fresh.is_empty() {
                break;
            }
            for (letter, handle) in fresh {
                let letter = with_source(letter, options.default_bus.as_deref());
                let id = letter.message_id.clone();
                let target = options.to.clone().or_else(|| letter.source.clone());
                match target {
                    Some(target) if options.dry_run => {
                        report.would_send.push((id, target.to_string()));
                        held.push(handle);
                    }
                    Some(target) => match self.send(&letter, &target).await {
                        Ok(()) => {
                            self.delete(&url, &handle).await?;
                            report.sent.push((id, target.to_string()));
                        }
                        Err(err) => {
                            report.kept.push((id, format!("sending to {target} failed: {err}")));
                            held.push(handle);
                        }
                    },
                    None if is_tick(&letter) && options.settle_ticks && !options.dry_run => {
                        self.delete(&url, &handle).await?;
                        report.settled.push(id);
                    }
                    None => {
                        let why = if is_tick(&letter) {
                            format!("{}; settle_ticks (--settle-ticks) deletes it", letter.summary)
                        } else {
                            letter.summary.clone()
                        };
                        report.kept.push((id, why));
                        held.push(handle);
                    }
                }
            }
        }
        for handle in held {
            self.release(&url, &handle).await?;
        }
        Ok(report)
    }

    async fn receive(&self, url: &str, count: i32, hold: i32) -> Result<Vec<(DeadLetter, String)>, OpsError> {
        #[allow(deprecated)] // Some SQS stand-ins still read only the older `AttributeNames`.
        let answer = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(count.clamp(1, BATCH))
            .visibility_timeout(hold)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(aws_failed("ReceiveMessage"))?;
        Ok(answer
            .messages()
            .iter()
            .filter_map(|message| {
                let handle = message.receipt_handle()?.to_owned();
                let system =
                    |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name)).cloned();
                let attributes: BTreeMap<String, String> = message
                    .message_attributes()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .filter_map(|(name, value)| Some((name.clone(), value.string_value()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                let raw = message.body().unwrap_or_default();
                let body = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
                let error = error_of(&attributes);
                let letter = DeadLetter {
                    message_id: message.message_id().unwrap_or_default().to_owned(),
                    sent_at: system(MessageSystemAttributeName::SentTimestamp).map(|ms| millis_to_time(&ms)),
                    receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| n.parse().ok()),
                    error,
                    rule_arn: attributes.get("RULE_ARN").cloned(),
                    summary: summarise(&body),
                    source: None,
                    attributes,
                    body,
                };
                Some((letter, handle))
            })
            .collect())
    }

    async fn release(&self, url: &str, handle: &str) -> Result<(), OpsError> {
        self.sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(aws_failed("ChangeMessageVisibility"))?;
        Ok(())
    }

    async fn delete(&self, url: &str, handle: &str) -> Result<(), OpsError> {
        self.sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(aws_failed("DeleteMessage"))?;
        Ok(())
    }

    async fn send(&self, letter: &DeadLetter, target: &RedriveTarget) -> Result<(), OpsError> {
        match target {
            RedriveTarget::Queue(queue) => {
                let url = self.queue_url(queue).await?;
                let body = match &letter.body {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let attributes: HashMap<String, MessageAttributeValue> = letter
                    .attributes
                    .iter()
                    .filter_map(|(name, value)| {
                        let value =
                            MessageAttributeValue::builder().data_type("String").string_value(value).build().ok()?;
                        Some((name.clone(), value))
                    })
                    .collect();
                self.sqs
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .set_message_attributes((!attributes.is_empty()).then_some(attributes))
                    .send()
                    .await
                    .map_err(aws_failed("SendMessage"))?;
                Ok(())
            }
            RedriveTarget::Bus(bus) => {
                let event = &letter.body;
                let (Some(source), Some(detail_type)) = (event["source"].as_str(), event["detail-type"].as_str())
                else {
                    return Err(OpsError::Invalid(
                        "the message is not an EventBridge event: send it to a queue".into(),
                    ));
                };
                let resources: Vec<String> = event["resources"]
                    .as_array()
                    .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(source)
                    .detail_type(detail_type)
                    .detail(event["detail"].to_string())
                    .set_resources((!resources.is_empty()).then_some(resources))
                    .build();
                let answer = self.events.put_events().entries(entry).send().await.map_err(|err| {
                    OpsError::Failed(format!("PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(err)))
                })?;
                if answer.failed_entry_count() > 0 {
                    let why = answer
                        .entries()
                        .iter()
                        .filter_map(|e| e.error_message().or(e.error_code()))
                        .collect::<Vec<_>>()
                        .join("; ");
                    return Err(OpsError::Failed(format!("the bus refused the event: {why}")));
                }
                Ok(())
            }
        }
    }
}

/// Where the message itself says it came from.
fn with_source(mut letter: DeadLetter, default_bus: Option<&str>) -> DeadLetter {
    letter.source = if let Some(bus) = letter.rule_arn.as_deref().and_then(bus_of_rule) {
        Some(RedriveTarget::Bus(bus))
    } else if letter.body["source"].as_str() == Some(EVENT_SOURCE) {
        default_bus.map(|bus| RedriveTarget::Bus(bus.to_owned()))
    } else {
        None
    };
    if letter.source.is_none() && !is_tick(&letter) {
        letter.summary.push_str(": it names no bus to go back to; give --to bus:NAME (the stack's VisibilityBusName)");
    }
    letter
}

/// The bus of a rule ARN: `arn:aws:events:<region>:<account>:rule/<bus>/<rule>` (`rule/<rule>` on the
/// default bus).
pub fn bus_of_rule(rule_arn: &str) -> Option<String> {
    let path = rule_arn.split_once(":rule/")?.1;
    Some(match path.split_once('/') {
        Some((bus, _rule)) => bus.to_owned(),
        None => "default".to_owned(),
    })
}

/// Whether a dead letter is a scheduled run's tick rather than an update.
fn is_tick(letter: &DeadLetter) -> bool {
    letter.body["source"].as_str() != Some(EVENT_SOURCE) && letter.rule_arn.is_none()
}

fn error_of(attributes: &BTreeMap<String, String>) -> Option<String> {
    let get = |names: &[&str]| names.iter().find_map(|n| attributes.get(*n).cloned());
    match (get(&["ERROR_CODE", "ErrorCode"]), get(&["ERROR_MESSAGE", "ErrorMessage"])) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    }
}

/// What a body is, in a few words.
fn summarise(body: &Value) -> String {
    if body["source"].as_str() == Some(EVENT_SOURCE) {
        let kind = body["detail-type"].as_str().unwrap_or("?");
        let detail = &body["detail"];
        let order = detail["order"]["order_name"].as_str().or(detail["order"]["id"].as_str()).unwrap_or("?");
        let fields = &detail["order"]["custom_fields"];
        let nexus = match (fields["NexusNetwork"].as_str(), fields["NexusConsignmentID"].as_str()) {
            (Some(network), Some(id)) => format!(" ({network}:{id})"),
            _ => fields["NexusOrigin"].as_str().map(|o| format!(" ({o})")).unwrap_or_default(),
        };
        return format!("{kind} update of Qargo order {order}{nexus}");
    }
    match body["detail-type"].as_str() {
        Some(kind) => format!(
            "{kind} event from {}, a scheduled run: its next run covers it",
            body["source"].as_str().unwrap_or("?")
        ),
        None => "a scheduled run (no update in it): the job's next run covers it".into(),
    }
}

fn millis_to_time(millis: &str) -> String {
    millis
        .parse::<i64>()
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| millis.to_owned(), |t| t.to_string())
}

fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// Whose dead letters a queue of the template holds, from its name.
fn holder(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    [
        ("orderpoll", "order-poll"),
        ("statuspoll", "status-poll"),
        ("podsync", "pod-sync"),
        ("etaexport", "eta-export"),
        ("visibilityrules", "visibility rules"),
    ]
    .into_iter()
    .find_map(|(part, holder)| name.replace(['-', '_'], "").contains(part).then_some(holder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_rule_buses_are_read() {
        assert_eq!("bus:b1".parse::<RedriveTarget>().unwrap(), RedriveTarget::Bus("b1".into()));
        assert_eq!("sqs:q1".parse::<RedriveTarget>().unwrap(), RedriveTarget::Queue("q1".into()));
        assert_eq!(
            "arn:aws:sqs:eu-west-2:123456789012:q2".parse::<RedriveTarget>().unwrap(),
            RedriveTarget::Queue("q2".into())
        );
        assert!("nowhere".parse::<RedriveTarget>().is_err());
        assert_eq!(
            bus_of_rule("arn:aws:events:eu-west-2:1:rule/nexus-bridge-visibility/StopRule").unwrap(),
            "nexus-bridge-visibility"
        );
        assert_eq!(bus_of_rule("arn:aws:events:eu-west-2:1:rule/Nightly").unwrap(), "default");
        assert_eq!(holder("nexus-bridge-StatusPollDeadLetterQueue-AB12"), Some("status-poll"));
    }
}
