//! Sending to Qargo through the configured door (`order_import` docs, *The two doors*): each import
//! followed to its end, DUPLICATE CREATEs followed by an UPDATE, and the outcomes recorded.

use std::time::Duration;

use super::state::{Imported, Rejected};
use super::{DepotRun, NetworkCursor, Stop, Work, state_of};
use crate::config::OrderDoor;
use crate::qargo::QargoError;
use crate::qargo::wire::{OrderInput, OrderOperation, Upload, UploadStatus};

/// Reads of one upload before the chunk is given up as unconfirmed (and redone next run).
const MAX_STATUS_READS: u32 = 12;

/// How Qargo answered one piece of work.
#[derive(Debug, Clone)]
enum Outcome {
    Done,
    Duplicate,
    Refused(String),
}

impl DepotRun<'_> {
    /// Sends `works` through the configured door, follows every import to its end, and records the
    /// outcomes in `draft`. A DUPLICATE CREATE is followed by an UPDATE (Qargo has the order, but
    /// maybe not this version of it).
    pub(super) async fn exchange(&mut self, works: Vec<Work>, draft: &mut [NetworkCursor]) -> Result<(), Stop> {
        let outcomes = self.send_and_follow(&works).await?;
        let mut follow_ups = Vec::new();
        for (work, outcome) in works.into_iter().zip(outcomes) {
            if let (OrderOperation::Create, Outcome::Duplicate) = (work.operation, &outcome) {
                self.report.network_mut(work.network).duplicates += 1;
                follow_ups.push(Work { operation: OrderOperation::Update, ..work });
                continue;
            }
            self.record(work, outcome, draft, false);
        }
        if !follow_ups.is_empty() {
            let outcomes = self.send_and_follow(&follow_ups).await?;
            for (work, outcome) in follow_ups.into_iter().zip(outcomes) {
                self.record(work, outcome, draft, true);
            }
        }
        Ok(())
    }

    fn record(&mut self, work: Work, outcome: Outcome, draft: &mut [NetworkCursor], after_duplicate: bool) {
        let now = self.bridge.clock.now();
        let report = self.report.network_mut(work.network);
        let state = &mut state_of(draft, work.network).state;
        match (work.operation, outcome) {
            (OrderOperation::Delete, outcome) => {
                if let Outcome::Refused(reason) = outcome {
                    // Nothing to cancel in Qargo: the consignment is finished either way.
                    tracing::warn!(id = work.id, %reason, "Qargo refused the cancel; marked cancelled");
                }
                let entry = state.imported.entry(work.id).or_default();
                entry.cancelled = true;
                entry.finished.get_or_insert(work.day);
                state.rejected.remove(&work.id);
                report.cancelled += 1;
            }
            (operation, Outcome::Done | Outcome::Duplicate) => {
                state.imported.insert(
                    work.id,
                    Imported { fingerprint: work.fingerprint, customer: work.customer, ..Imported::default() },
                );
                state.rejected.remove(&work.id);
                match operation {
                    _ if after_duplicate => {}
                    OrderOperation::Create => report.created += 1,
                    _ => report.updated += 1,
                }
            }
            (operation, Outcome::Refused(reason)) => {
                tracing::info!(depot = %self.depot, network = %work.network, id = work.id, %reason, "Qargo refused the order");
                if after_duplicate {
                    // In Qargo, content unknown: the next sighting or retry updates it.
                    state.imported.insert(work.id, Imported::default());
                }
                let mut order = work.order;
                order.customer = None;
                state.reject(
                    work.id,
                    Rejected {
                        number: work.number,
                        reason,
                        attempts: 0,
                        first_at: now,
                        last_at: now,
                        operation,
                        customer: work.customer,
                        order: Some(order),
                    },
                );
            }
        }
    }

    /// Posts every work, then reads each import's status until it ends; outcomes in `works` order.
    async fn send_and_follow(&mut self, works: &[Work]) -> Result<Vec<Outcome>, Stop> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; works.len()];
        let mut following: Vec<(usize, String)> = Vec::new();
        for (index, work) in works.iter().enumerate() {
            let order = OrderInput { operation: Some(work.operation), ..work.order.clone() };
            match self.post(&order).await {
                Ok(Some(upload)) if upload.upload_status.is_final() => outcomes[index] = Some(outcome_of(&upload)),
                Ok(Some(upload)) => following.push((index, upload.upload_id)),
                // The order webhook's answer (`OrderImportResponse | null`) has no upload to follow:
                // no errors means Qargo took the order, and its de-duplication on
                // `order_identifier` makes a repeat harmless.
                Ok(None) => outcomes[index] = Some(Outcome::Done),
                Err(err) if refusal(&err) => outcomes[index] = Some(Outcome::Refused(err.to_string())),
                Err(err) => return Err(Stop::Qargo(err)),
            }
        }
        let mut reads = 0;
        while !following.is_empty() {
            if reads > 0 {
                // Give Qargo's importer time; the pacer spaces the reads themselves.
                tokio::time::sleep(Duration::from_millis(250 * u64::from(reads.min(8)))).await;
            }
            reads += 1;
            if reads > MAX_STATUS_READS {
                return Err(Stop::Unconfirmed(format!(
                    "Qargo had not finished {} imports after {MAX_STATUS_READS} status reads; they are sent again next run",
                    following.len()
                )));
            }
            let mut still = Vec::new();
            for (index, upload_id) in following {
                self.report.qargo_api_requests += 1;
                match self.bridge.qargo.upload_status(&upload_id).await {
                    Ok(upload) if upload.upload_status.is_final() => outcomes[index] = Some(outcome_of(&upload)),
                    Ok(_) => still.push((index, upload_id)),
                    Err(err) if refusal(&err) => outcomes[index] = Some(Outcome::Refused(err.to_string())),
                    Err(err) => return Err(Stop::Qargo(err)),
                }
            }
            following = still;
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every work has an outcome")).collect())
    }

    async fn post(&mut self, order: &OrderInput) -> Result<Option<Upload>, QargoError> {
        match self.bridge.settings.order_door {
            OrderDoor::Webhook => {
                self.report.qargo_webhook_requests += 1;
                self.bridge.qargo.order_webhook(order).await.map(|_| None)
            }
            OrderDoor::Upload => {
                self.report.qargo_api_requests += 1;
                self.bridge.qargo.upload_order(order).await.map(Some)
            }
        }
    }
}

/// Whether Qargo refused this order for good (as opposed to being unavailable).
fn refusal(err: &QargoError) -> bool {
    matches!(
        err,
        QargoError::Invalid { .. }
            | QargoError::Unprocessable { .. }
            | QargoError::NotFound { .. }
            | QargoError::UploadFailed { .. }
    ) || matches!(err, QargoError::WebhookRefused { errors } if errors.iter().all(|e| e.error_type != "INTERNAL_ERROR"))
}

fn outcome_of(upload: &Upload) -> Outcome {
    match upload.upload_status {
        UploadStatus::Duplicate => Outcome::Duplicate,
        UploadStatus::Completed => Outcome::Done,
        status => Outcome::Refused(format!("Qargo answered {status:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qargo_outcomes() {
        let upload = |status| Upload {
            upload_id: "u".into(),
            upload_status: status,
            upload_url: None,
            order_id: None,
            order_url: None,
        };
        assert!(matches!(outcome_of(&upload(UploadStatus::Completed)), Outcome::Done));
        assert!(matches!(outcome_of(&upload(UploadStatus::Duplicate)), Outcome::Duplicate));
        let Outcome::Refused(why) = outcome_of(&upload(UploadStatus::Error)) else { panic!("an error is a refusal") };
        assert_eq!(why, "Qargo answered Error");
        let refused = |error_type: &str| QargoError::WebhookRefused {
            errors: vec![crate::qargo::wire::WebhookError { error_type: error_type.into(), error_message: "x".into() }],
        };
        assert!(refusal(&refused("USER_INPUT_ERROR")), "the order webhook refused the order for good");
        assert!(!refusal(&refused("INTERNAL_ERROR")), "Qargo's own failure is worth a retry");
        assert!(refusal(&QargoError::Invalid { message: "bad".into(), errors: vec![] }));
        assert!(!refusal(&QargoError::TokenLimit { retry_after: Duration::from_secs(60) }));
    }
}
