//! The delta listing's run: the consignments changed since the cursor (with the poll overlap) and
//! those on its retry list, each synced in its turn.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::FutureExt;
use jiff::civil::DateTime;

use super::consignment::{Outcome, sync_consignment};
use super::{DepotRun, Position, StatusReport, Stop, SyncOptions, Turn, bounded, is_finished, roles_of};
use crate::domain::{Network, NexusConsignmentId};
use crate::jobs::lookup::network_of;
use crate::nexus::wire::Consignment;
use crate::nexus::{NexusClient, NexusError};
use crate::rules::status_effects::is_status_synced;
use crate::wiring::Bridge;

/// With the delta listing: the consignments changed since the cursor (with the poll overlap), and
/// those on its retry list. Answers the cursor's next position, with the reason when the run
/// stopped early (a listing that failed leaves the position as it was).
pub(super) async fn sync_depot_delta(
    bridge: &Bridge,
    options: &SyncOptions,
    nexus: &NexusClient,
    position: Position,
    uk_now: DateTime,
    report: &mut StatusReport,
) -> (Position, Option<Stop>) {
    let window_start = match position.since {
        Some(since) => since.checked_sub(bridge.settings.poll_overlap).unwrap_or(since),
        None => uk_now.checked_sub(bridge.settings.import_lookback).unwrap_or(uk_now),
    };
    let mut changed: BTreeMap<(Network, i64), Consignment> = BTreeMap::new();
    let mut read_up_to = position.since;
    let listed = list_changed(bridge, nexus, window_start, report, |consignment| {
        read_up_to = read_up_to.max(crate::jobs::lookup::cursor_time(consignment.last_updated, uk_now));
        if let Some(network) = network_of(consignment) {
            changed.insert((network, consignment.consignment_id), consignment.clone());
        }
    })
    .await;
    if let Err(reason) = listed {
        return (position, Some(reason));
    }
    // The retry list's consignments the listing did not bring again are read in their turn.
    let mut work: BTreeMap<(Network, i64), Option<Consignment>> =
        changed.into_iter().map(|(key, consignment)| (key, Some(consignment))).collect();
    for key in &position.retry {
        work.entry(*key).or_insert(None);
    }

    let run = DepotRun::new(bridge, options, nexus);
    let retried = &position.retry;
    let turns = bounded(bridge.settings.status_sync_concurrency, work, |(key, listed)| {
        // One left from an earlier run may have stopped at a refused update: sent alone first.
        let probe = retried.contains(&key);
        run.sync_listed(key, listed, probe).map(move |turn| (key, turn)).boxed()
    })
    .await;
    let mut retry = BTreeSet::new();
    for (key, turn) in turns {
        report.absorb(turn.part);
        if turn.again {
            retry.insert(key);
        }
    }
    let next = Position { since: read_up_to, retry, behind_since: position.behind_since, ..Position::default() };
    (next, run.stopped.into_inner())
}

impl DepotRun<'_> {
    /// One consignment of the delta listing (`listed`), or of the retry list (`None`: read first);
    /// `probe`: its first update is sent alone (it may be one Qargo refused last run).
    async fn sync_listed(&self, (network, id): (Network, i64), listed: Option<Consignment>, probe: bool) -> Turn {
        let mut part = StatusReport::default();
        if !self.may_start(&mut part) {
            return Turn::new(true, part);
        }
        let consignment = match listed {
            Some(consignment) => consignment,
            None => {
                part.nexus_requests += 1;
                part.retried += 1;
                match self.nexus.consignment(NexusConsignmentId(id), &[]).await {
                    Ok(consignment) => consignment,
                    Err(NexusError::NotFound { .. }) => return Turn::new(false, part),
                    Err(err) => {
                        self.could_not_finish(format!("Nexus: {err}"), &mut part);
                        return Turn::new(true, part);
                    }
                }
            }
        };
        let roles = roles_of(&consignment, &self.ours);
        if !is_status_synced(&roles) {
            part.not_synced += 1;
            return Turn::new(false, part);
        }
        let synced = sync_consignment(self.bridge, self.nexus, network, &consignment, &roles, probe, &mut part).await;
        let again = match synced {
            Ok(Outcome::Done) => false,
            Ok(Outcome::Later(reason)) if is_finished(&consignment) => {
                // Finished on Nexus and still not matched in Qargo (e.g. the import skipped it as
                // already delivered): nothing more will arrive, so it is reported once and left.
                part.not_followed += 1;
                part.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
                false
            }
            Ok(Outcome::Later(reason)) => {
                part.retry_later += 1;
                part.problems.push(format!("{network} {id}: {reason}"));
                true
            }
            Err(reason) => {
                // Keep this and the ones not started for the next run.
                self.could_not_finish(reason, &mut part);
                true
            }
        };
        Turn::new(again, part)
    }
}

/// Reads the consignments changed since `since`, page by page.
async fn list_changed(
    bridge: &Bridge,
    nexus: &NexusClient,
    since: DateTime,
    report: &mut StatusReport,
    mut each: impl FnMut(&Consignment),
) -> Result<(), Stop> {
    let mut pages = nexus.changed_since(since, bridge.settings.nexus_list_page_size());
    while let Some(page) = pages.next_page().await.map_err(|err| format!("Nexus: {err}"))? {
        report.nexus_requests += 1;
        report.listed += page.len() as u32;
        page.iter().for_each(&mut each);
    }
    report.unreadable += pages.skipped() as u32;
    Ok(())
}
