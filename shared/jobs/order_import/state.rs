//! What the order import remembers per depot and network, kept as the `position` of its cursor
//! (`CURSOR#order-import#<depot>#<network>`), so that the watermark and everything the import knows
//! about the consignments before it change together, in one compare-and-set:
//!
//! - `since`: the Nexus `lastUpdated` up to which every listed consignment is handled;
//! - `imported`: consignments that are in Qargo, with the fingerprint of what Qargo holds, so a
//!   consignment that only moved through the network (a scan) costs no Qargo request, and one whose
//!   booking changed is updated; entries are forgotten [`FINISHED_RETENTION`] after the consignment
//!   finished;
//! - `rejected`: consignments not in Qargo yet, with the reason and what to send next time, so they
//!   are retried on every run without reading Nexus again.
//!
//! A per-consignment record (next to the sync state) would scale further than one record per
//! depot and network; [`MAX_STATE_BYTES`] keeps this one well inside DynamoDB's 400 KB item limit.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::jobs::seen_listing::Fingerprints;
use crate::qargo::wire::{OrderInput, OrderOperation};

/// How long a finished consignment is remembered, so that late changes (a POD scanned days later)
/// are recognised as changes of an order already in Qargo.
pub const FINISHED_RETENTION: SignedDuration = SignedDuration::from_hours(14 * 24);

/// Largest encoded state; past it, the oldest rejected consignments drop their stored order and wait
/// for their next change on Nexus.
pub const MAX_STATE_BYTES: usize = 300_000;

/// The import's memory for one depot and network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportState {
    /// Nexus `lastUpdated` (UK local) up to which every listed consignment is handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime>,
    /// Consignments in Qargo, by Nexus `consignmentID`.
    #[serde(default)]
    pub imported: BTreeMap<i64, Imported>,
    /// Consignments refused (by the mapping or by Qargo), by Nexus `consignmentID`.
    #[serde(default)]
    pub rejected: BTreeMap<i64, Rejected>,
    /// With the seen listing ([`crate::jobs::seen_listing`]): how each listed record last read.
    #[serde(default, skip_serializing_if = "Fingerprints::is_empty")]
    pub listed: Fingerprints,
}

/// An order in Qargo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// Fingerprint of the order Qargo holds; empty when unknown (then the next sighting updates it).
    #[serde(rename = "f")]
    pub fingerprint: String,
    /// Cancelled in Qargo.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// The Nexus day it was first seen finished (delivered, returned, cancelled).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Date>,
    /// Its Nexus customer, when known (the seen listing's jobs read it from here).
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<i64>,
}

/// A consignment that is not in Qargo (or not up to date there) yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Nexus's number of the consignment, for people.
    pub number: String,
    /// Why, in words that say what to fix.
    pub reason: String,
    /// Tries so far.
    pub attempts: u32,
    /// First refusal.
    pub first_at: Timestamp,
    /// Latest refusal.
    pub last_at: Timestamp,
    /// What to send: the operation.
    pub operation: OrderOperation,
    /// Its Nexus customer, mapped again on every try (the map may have been fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<i64>,
    /// The order without customer and operation; `None`: wait for the consignment's next change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderInput>,
}

impl ImportState {
    /// Reads a cursor position; an empty position is an empty state.
    pub fn decode(position: &str) -> Result<ImportState, serde_json::Error> {
        if position.trim().is_empty() {
            return Ok(ImportState::default());
        }
        serde_json::from_str(position)
    }

    /// The cursor position: JSON, after forgetting what is old and keeping within
    /// [`MAX_STATE_BYTES`]. Returns what it had to drop, for the log.
    pub fn encode(&mut self) -> (String, usize) {
        if let Some(since) = self.since {
            let horizon = since.date().checked_sub(FINISHED_RETENTION).unwrap_or(since.date());
            self.imported.retain(|_, entry| entry.finished.is_none_or(|day| day >= horizon));
        }
        let mut dropped = 0;
        loop {
            let text = serde_json::to_string(self).expect("the import state serialises");
            if text.len() <= MAX_STATE_BYTES {
                return (text, dropped);
            }
            let oldest = self
                .rejected
                .iter()
                .filter(|(_, entry)| entry.order.is_some())
                .min_by_key(|(_, entry)| entry.first_at)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => {
                    if let Some(entry) = self.rejected.get_mut(&id) {
                        entry.order = None;
                    }
                    dropped += 1;
                }
                // Nothing left to shed: the store will refuse it, and say so.
                None => return (text, dropped),
            }
        }
    }

    /// Records a refusal of consignment `id` (a new one, or another try of an old one).
    pub fn reject(&mut self, id: i64, refusal: Rejected) {
        match self.rejected.get_mut(&id) {
            Some(entry) => {
                entry.attempts += 1;
                entry.reason = refusal.reason;
                entry.last_at = refusal.last_at;
                entry.operation = refusal.operation;
                entry.customer = refusal.customer.or(entry.customer);
                if refusal.order.is_some() {
                    entry.order = refusal.order;
                }
                entry.number = refusal.number;
            }
            None => {
                self.rejected.insert(id, Rejected { attempts: 1, ..refusal });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(at: &str, order: bool) -> Rejected {
        Rejected {
            number: "N-1".into(),
            reason: "no".into(),
            attempts: 0,
            first_at: at.parse().unwrap(),
            last_at: at.parse().unwrap(),
            operation: OrderOperation::Create,
            customer: Some(1),
            order: order.then(|| OrderInput { order_identifier: "x".repeat(2000), ..OrderInput::default() }),
        }
    }

    #[test]
    fn round_trips_and_forgets_old_finished_orders() {
        let mut state = ImportState { since: Some("2026-07-01T09:00:00".parse().unwrap()), ..Default::default() };
        state.imported.insert(1, Imported { fingerprint: "a".into(), ..Default::default() });
        let recent = Imported {
            fingerprint: "b".into(),
            cancelled: true,
            finished: Some("2026-06-20".parse().unwrap()),
            customer: Some(52011),
        };
        state.imported.insert(2, recent);
        state.imported.insert(3, Imported { finished: Some("2026-06-01".parse().unwrap()), ..Default::default() });
        let (text, dropped) = state.encode();
        assert_eq!(dropped, 0);
        assert!(text.contains(r#""1":{"f":"a"}"#), "{text}");
        let back = ImportState::decode(&text).unwrap();
        assert_eq!(back.imported.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert!(back.imported[&2].cancelled);
        assert_eq!(ImportState::decode("").unwrap(), ImportState::default());
        assert!(ImportState::decode("{not json").is_err());
    }

    #[test]
    fn rejections_count_their_attempts_and_shed_the_oldest_orders_when_too_big() {
        let mut state = ImportState::default();
        state.reject(7, refusal("2026-06-17T08:00:00Z", true));
        state.reject(7, Rejected { reason: "still no".into(), order: None, ..refusal("2026-06-17T09:00:00Z", false) });
        assert_eq!(state.rejected[&7].attempts, 2);
        assert_eq!(state.rejected[&7].reason, "still no");
        assert!(state.rejected[&7].order.is_some(), "an older order is kept when a try brings none");

        for id in 0..200 {
            state.reject(id + 100, refusal(&format!("2026-06-17T08:{:02}:00Z", id % 60), true));
        }
        let (text, dropped) = state.encode();
        assert!(text.len() <= MAX_STATE_BYTES && dropped > 0, "{} bytes, {dropped} dropped", text.len());
        assert_eq!(state.rejected.len(), 201, "entries are kept, only their orders go");
    }
}
