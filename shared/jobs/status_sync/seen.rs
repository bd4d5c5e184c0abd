//! The seen listing's run ([`seen_listing`]): every consignment of the window the depot may see,
//! those changed since last synced and followed by the bridge each synced from its listed status.

use std::collections::BTreeSet;

use futures::future::FutureExt;

use super::consignment::{Outcome, sync_consignment};
use super::{DepotRun, Position, StatusReport, Stop, SyncOptions, Turn, bounded, is_finished, roles_of};
use crate::domain::{DepotCode, Network};
use crate::jobs::order_import::Followed;
use crate::jobs::seen_listing;
use crate::nexus::NexusClient;
use crate::nexus::wire::Consignment;
use crate::rules::status_effects::is_status_synced;
use crate::wiring::Bridge;

/// With the seen listing ([`seen_listing`]): every consignment of the window the depot may see;
/// each whose record changed since it was last synced, and that the bridge follows (booked by us, or
/// imported for us), is synced from its status as listed. Answers the cursor's next position, with
/// the reason when the run stopped early.
pub(super) async fn sync_depot_seen(
    bridge: &Bridge,
    options: &SyncOptions,
    depot: &DepotCode,
    nexus: &NexusClient,
    position: Position,
    report: &mut StatusReport,
) -> Result<Position, (Position, Stop)> {
    let mut next = position;
    let (listing, followed) = match crate::jobs::order_import::list_followed(bridge, depot, nexus).await {
        Ok(listed) => listed,
        Err(reason) => return Err((next, reason)),
    };
    report.nexus_requests += listing.requests;
    report.listed += listing.consignments.len() as u32;
    report.unreadable += listing.skipped as u32;
    let listed: BTreeSet<i64> = listing.consignments.iter().map(|c| c.consignment_id).collect();
    // By index: a stream of borrowed records would keep the run's future from being `Send`.
    let mut fresh: Vec<usize> = Vec::new();
    for (index, record) in listing.consignments.iter().enumerate() {
        if next.listed.unchanged(None, record) {
            report.unchanged += 1;
        } else {
            fresh.push(index);
        }
    }
    let run = DepotRun::new(bridge, options, nexus);
    let records = &listing.consignments;
    let refused = &next.refused;
    let turns = bounded(bridge.settings.status_sync_concurrency, fresh.iter().copied(), |index| {
        run.sync_seen(depot, &followed, refused, &records[index]).map(move |turn| (index, turn)).boxed()
    })
    .await;
    for (index, turn) in turns {
        report.absorb(turn.part);
        if !turn.again {
            next.listed.remember(None, &records[index]);
        }
        match turn.refused {
            Some((key, true)) => next.refused.insert(key),
            Some((key, false)) => next.refused.remove(&key),
            None => false,
        };
    }
    let stopped = run.stopped.into_inner();
    match stopped {
        Some(reason) => Err((next, reason)),
        None => {
            if listing.skipped == 0 && report.left_for_next_run == 0 {
                next.listed.keep_only(&listed);
                next.refused.retain(|(_, id)| listed.contains(id));
            }
            Ok(next)
        }
    }
}
impl DepotRun<'_> {
    /// One changed record of the seen listing; `refused`: the consignments whose last run stopped
    /// at an update Qargo refused.
    async fn sync_seen(
        &self,
        depot: &DepotCode,
        followed: &Followed,
        refused: &BTreeSet<(Network, i64)>,
        record: &Consignment,
    ) -> Turn {
        let mut part = StatusReport::default();
        if !self.may_start(&mut part) {
            return Turn::new(true, part);
        }
        let whose = match followed.whose(self.bridge, depot, record.consignment_id).await {
            Ok(Some(whose)) => whose,
            // Not (yet) ours to follow: looked at again on the next run.
            Ok(None) => return Turn::new(true, part),
            Err(reason) => {
                self.stop(reason);
                return Turn::new(true, part);
            }
        };
        let mut consignment = record.clone();
        seen_listing::fill(&mut consignment, depot, &whose);
        let roles = roles_of(&consignment, &self.ours);
        if !is_status_synced(&roles) {
            part.not_synced += 1;
            return Turn::new(false, part);
        }
        let network = whose.network();
        let id = record.consignment_id;
        let key = (network, id);
        let probe = refused.contains(&key);
        let synced = sync_consignment(self.bridge, self.nexus, network, &consignment, &roles, probe, &mut part).await;
        let (again, stopped_at_refusal) = match synced {
            Ok(Outcome::Done) => (false, false),
            Ok(Outcome::Later(reason)) if is_finished(&consignment) => {
                part.not_followed += 1;
                part.problems.push(format!("{network} {id}: {reason} (finished on Nexus; not retried)"));
                (false, false)
            }
            // Not remembered: the next listing brings it again.
            Ok(Outcome::Later(reason)) => {
                part.retry_later += 1;
                part.problems.push(format!("{network} {id}: {reason}"));
                (true, true)
            }
            Err(reason) => {
                self.could_not_finish(reason, &mut part);
                return Turn::new(true, part);
            }
        };
        Turn { again, refused: Some((key, stopped_at_refusal)), part }
    }
}
