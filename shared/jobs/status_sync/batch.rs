//! Batching of Qargo updates: a consignment's updates cut into `subco-status-update` calls, and
//! each call's answer read back into which updates Qargo applied (`status_sync` docs, *Refusals*).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{StatusReport, Stop, save_progress};
use crate::qargo::QargoError;
use crate::qargo::wire::WebhookError;
use crate::rules::status_effects::{StopKind, StopStatus};
use crate::store::{ConsignmentSync, SyncKey};
use crate::wiring::Bridge;

/// One update to send to Qargo.
pub(super) struct Update {
    /// The update, as `subco-status-update` takes it.
    pub(super) body: Value,
    /// The stop it addresses.
    pub(super) stop: StopKind,
    pub(super) carries: Carries,
}

/// What an update records.
pub(super) enum Carries {
    /// A Nexus event (a pallet's scan, or a consignment-level event's note).
    Scan(Scan),
    /// The status its stop reached with the scan before it.
    Status(StopStatus),
}

/// The event an update records.
pub(super) struct Scan {
    pub(super) event_id: i64,
    pub(super) barcode: Option<String>,
    pub(super) code: String,
    pub(super) exception: bool,
    pub(super) known: bool,
}

/// Cuts `updates` into Qargo calls, keeping their order: at most `size` updates each, all
/// addressing one stop (a stop Qargo cannot match discards the whole call, never part of it), at
/// most one scan per pallet (a repeated call shows in a pallet's history as one scan twice in a
/// row, never as a step back) and at most one stop status (the one the state keeps as sending).
pub(super) fn batches(updates: Vec<Update>, size: usize) -> Vec<Vec<Update>> {
    let mut batches: Vec<Vec<Update>> = Vec::new();
    for update in updates {
        let fits = |batch: &Vec<Update>| {
            batch.len() < size.max(1)
                && batch.iter().all(|other| other.stop == update.stop)
                && match &update.carries {
                    Carries::Scan(Scan { barcode: Some(barcode), .. }) => !batch.iter().any(
                        |other| matches!(&other.carries, Carries::Scan(Scan { barcode: Some(b), .. }) if b == barcode),
                    ),
                    Carries::Scan(Scan { barcode: None, .. }) => true,
                    Carries::Status(_) => !batch.iter().any(|other| matches!(other.carries, Carries::Status(_))),
                }
        };
        match batches.last_mut() {
            Some(batch) if fits(batch) => batch.push(update),
            _ => batches.push(vec![update]),
        }
    }
    batches
}

/// How a batch went.
pub(super) enum Sent {
    /// Every update applied and recorded.
    Accepted,
    /// Some update refused (the reason of the first); those applied are recorded.
    Refused(String),
    /// Another run holds the consignment now.
    TakenOver,
}

/// Sends one batch and records in the state what Qargo applied, saving it before the call when the
/// batch sets a stop status, and after. `who` names the consignment in problems; `took` holds the
/// stops that took an update in this run so far.
pub(super) async fn send_batch(
    bridge: &Bridge,
    key: &SyncKey,
    state: &mut ConsignmentSync,
    batch: &[Update],
    (who, took): (&str, &mut BTreeSet<StopKind>),
    report: &mut StatusReport,
) -> Result<Sent, Stop> {
    // Stop statuses are recorded before they are sent: Qargo may echo the change back through the
    // visibility webhook while the call is still open, and the export must know it as ours. Kept as
    // sending until Qargo answers, so a run that dies in between sends them again.
    let mut before: Vec<(&'static str, Option<String>)> = Vec::new();
    for update in batch {
        if let Carries::Status(status) = update.carries {
            let stop = update.stop.code();
            before.push((stop, state.stop_statuses_set.insert(stop.to_owned(), status.code().to_owned())));
            state.stop_statuses_sending.insert(stop.to_owned(), update.body.clone());
        }
    }
    if !before.is_empty() && !save_progress(bridge, key, state).await? {
        return Ok(Sent::TakenOver);
    }
    for update in batch {
        if let Carries::Scan(scan) = &update.carries
            && !scan.known
        {
            tracing::warn!(code = %scan.code, event = scan.event_id, "unknown Nexus scan code: recorded in Qargo's history, no stop effect");
            report.unknown_codes += 1;
        }
    }
    let verdicts = deliver(bridge, report, batch).await?;
    took.extend(batch.iter().zip(&verdicts).filter(|(_, verdict)| verdict.is_ok()).map(|(update, _)| update.stop));
    let mut refused = None;
    let mut confirmed: BTreeMap<&'static str, StopStatus> = BTreeMap::new();
    for (update, verdict) in batch.iter().zip(verdicts) {
        match (&update.carries, verdict) {
            // The stop takes updates, but not this status: Qargo has it past that point (a planner
            // or driver moved it). Sending it again would not help, and holding the scans back for
            // it would lose them once Nexus finishes the consignment: reported once, kept as
            // reached so that it is not sent again, and the scans go on.
            (Carries::Status(status), Err(reason)) if took.contains(&update.stop) => {
                tracing::warn!(consignment = who, stop = update.stop.code(), %reason, "Qargo refused a stop status");
                report.problems.push(format!("{who}: {reason} (the stop status only; the stop stays as Qargo has it)"));
                confirmed.insert(update.stop.code(), *status);
            }
            (_, Err(reason)) => {
                refused.get_or_insert(reason);
            }
            (Carries::Scan(scan), Ok(())) => {
                state.applied_event_ids.insert(scan.event_id);
                report.events_applied += 1;
                report.exceptions += u32::from(scan.exception);
            }
            (Carries::Status(status), Ok(())) => {
                confirmed.insert(update.stop.code(), *status);
                report.stop_statuses_set += 1;
            }
        }
    }
    for (stop, previous) in before {
        state.stop_statuses_sending.remove(stop);
        match (confirmed.get(stop), previous) {
            (Some(status), _) => state.stop_statuses_set.insert(stop.to_owned(), status.code().to_owned()),
            (None, Some(previous)) => state.stop_statuses_set.insert(stop.to_owned(), previous),
            (None, None) => state.stop_statuses_set.remove(stop),
        };
    }
    if !save_progress(bridge, key, state).await? {
        return Ok(Sent::TakenOver);
    }
    Ok(refused.map_or(Sent::Accepted, Sent::Refused))
}

/// Sends a batch in one call; answers each update's fate in order: `Ok` applied, `Err(reason)`
/// refused (see the `status_sync` module docs, *Refusals*). `Err` when Qargo could not be reached.
async fn deliver(
    bridge: &Bridge,
    report: &mut StatusReport,
    batch: &[Update],
) -> Result<Vec<Result<(), String>>, Stop> {
    let bodies: Vec<&Value> = batch.iter().map(|update| &update.body).collect();
    let errors = match post(bridge, report, &bodies).await? {
        Answer::Applied => return Ok(vec![Ok(()); batch.len()]),
        // Every update discarded (one error each): nothing was applied.
        Answer::Discarded(errors) if errors.len() >= batch.len() => {
            return Ok(vec![Err(discarded(&errors)); batch.len()]);
        }
        Answer::Refused(reason) if batch.len() == 1 => return Ok(vec![Err(reason)]),
        // Refused whole: nothing was applied, so sending each again repeats nothing.
        Answer::Refused(_) => {
            let mut verdicts = Vec::with_capacity(batch.len());
            for body in bodies {
                verdicts.push(send(bridge, report, body).await?);
            }
            return Ok(verdicts);
        }
        Answer::Discarded(errors) => errors,
    };
    // Some discarded, the rest applied, and the answer does not say which. First the batch's stop
    // status again, alone (Qargo setting a status a stop already has changes nothing): when it is
    // refused again and that accounts for every error, the scans were all applied.
    tracing::warn!(
        updates = batch.len(),
        discarded = errors.len(),
        first = %discarded(&errors),
        "Qargo discarded part of a batch without saying which updates: finding them one at a time"
    );
    let mut verdicts: Vec<Option<Result<(), String>>> = vec![None; batch.len()];
    let mut refused_again = 0;
    for (verdict, update) in verdicts.iter_mut().zip(batch) {
        if matches!(update.carries, Carries::Status(_)) {
            let again = send(bridge, report, &update.body).await?;
            refused_again += usize::from(again.is_err());
            *verdict = Some(again);
        }
    }
    let scans_applied = refused_again >= errors.len();
    for (verdict, update) in verdicts.iter_mut().zip(batch) {
        if verdict.is_some() {
            continue;
        }
        *verdict = Some(if scans_applied {
            Ok(())
        } else {
            // Sent again to learn whether Qargo takes it: if it does, it had taken it in the batch.
            let again = send(bridge, report, &update.body).await?;
            report.scans_sent_twice += u32::from(again.is_ok());
            again
        });
    }
    Ok(verdicts.into_iter().flatten().collect())
}

/// Qargo's answer to a status-update call.
enum Answer {
    /// Every update applied.
    Applied,
    /// Qargo discarded some updates (or all): its errors, one per discarded update, not saying
    /// which.
    Discarded(Vec<WebhookError>),
    /// The call was refused as a whole (`400`, `422`, …): nothing applied.
    Refused(String),
}

/// The reason of a discarded update, from Qargo's first error.
fn discarded(errors: &[WebhookError]) -> String {
    match errors.first() {
        Some(error) => format!("Qargo discarded the update: {}: {}", error.error_type, error.error_message),
        None => "Qargo discarded the update".to_owned(),
    }
}

/// One `subco-status-update` call with `updates`; `Err` when Qargo could not be reached.
async fn post(bridge: &Bridge, report: &mut StatusReport, updates: &[&Value]) -> Result<Answer, Stop> {
    report.qargo_calls += 1;
    match bridge.qargo.subco_status_update(&json!({ "updates": updates })).await {
        Ok(answer) if answer.errors.is_empty() => Ok(Answer::Applied),
        Ok(answer) => Ok(Answer::Discarded(answer.errors)),
        Err(QargoError::WebhookRefused { errors }) => Ok(Answer::Discarded(errors)),
        Err(err @ (QargoError::Unavailable { .. } | QargoError::Malformed(_) | QargoError::Unauthorized { .. })) => {
            Err(format!("Qargo: {err}"))
        }
        Err(refused) => Ok(Answer::Refused(format!("Qargo refused the update: {refused}"))),
    }
}

/// One Qargo status update alone; `Ok(Err(reason))` when Qargo discarded it (worth a later
/// retry), `Err` when Qargo could not be reached.
pub(super) async fn send(
    bridge: &Bridge,
    report: &mut StatusReport,
    update: &Value,
) -> Result<Result<(), String>, Stop> {
    Ok(match post(bridge, report, &[update]).await? {
        Answer::Applied => Ok(()),
        Answer::Discarded(errors) => Err(discarded(&errors)),
        Answer::Refused(reason) => Err(reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(event_id: i64, barcode: &str, stop: StopKind) -> Update {
        let scan =
            Scan { event_id, barcode: Some(barcode.to_owned()), code: "ARRD".into(), exception: false, known: true };
        Update { body: json!({"event": event_id}), stop, carries: Carries::Scan(scan) }
    }

    fn status(stop: StopKind, status: StopStatus) -> Update {
        Update { body: json!({"status": status.code()}), stop, carries: Carries::Status(status) }
    }

    /// Each batch as `<barcode><event id>` and status codes.
    fn shape(batches: &[Vec<Update>]) -> Vec<Vec<String>> {
        let name = |update: &Update| match &update.carries {
            Carries::Scan(scan) => format!("{}{}", scan.barcode.as_deref().unwrap_or("-"), scan.event_id),
            Carries::Status(status) => status.code().to_owned(),
        };
        batches.iter().map(|batch| batch.iter().map(name).collect()).collect()
    }

    #[test]
    fn batches_keep_the_order_and_hold_one_stop_one_scan_per_pallet_and_one_status() {
        use StopKind::{Delivery, Pickup};
        let updates = vec![
            scan(1, "a", Pickup),
            scan(2, "b", Pickup),
            scan(3, "c", Pickup),
            status(Pickup, StopStatus::Completed),
            // Another stop: a new batch.
            scan(4, "a", Delivery),
            scan(5, "b", Delivery),
            // Pallet a again: a new batch.
            scan(6, "a", Delivery),
            scan(7, "c", Delivery),
            status(Delivery, StopStatus::AtStop),
            scan(8, "b", Delivery),
            // A second status: a new batch.
            status(Delivery, StopStatus::Completed),
        ];
        assert_eq!(
            shape(&batches(updates, 25)),
            [
                vec!["a1", "b2", "c3", "COMPLETED"],
                vec!["a4", "b5"],
                vec!["a6", "c7", "AT_STOP", "b8"],
                vec!["COMPLETED"]
            ]
        );
    }

    #[test]
    fn batches_hold_at_most_the_batch_size() {
        let updates = || (1..=5).map(|i| scan(i, &format!("p{i}-"), StopKind::Delivery)).collect::<Vec<_>>();
        assert_eq!(shape(&batches(updates(), 2)), [vec!["p1-1", "p2-2"], vec!["p3-3", "p4-4"], vec!["p5-5"]]);
        assert_eq!(shape(&batches(updates(), 1)).len(), 5, "one call per update");
        assert_eq!(shape(&batches(updates(), 100)).len(), 1);
        assert!(batches(Vec::new(), 25).is_empty());
    }
}
