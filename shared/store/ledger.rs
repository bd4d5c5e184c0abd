//! The dispatch ledger: the idempotency record of each dispatch, keyed by Qargo consignment id.
//!
//! Modelled on AWS Lambda Powertools' idempotency utility: a conditional put claims the dispatch
//! with an in-progress record that carries a lease; the holder then records the booking; retries
//! and concurrent calls get the recorded answer. A claim whose lease ran out (its invocation
//! crashed) can be claimed again, and the new holder is handed the previous record so that it looks
//! the consignment up on Nexus instead of booking it twice.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::domain::{Barcode, Network, NexusConsignmentId, QargoConsignmentId};
use crate::error::StoreError;

/// Where a dispatch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DispatchState {
    /// Claimed; the holder is booking it.
    InProgress,
    /// Booked on Nexus; labels not yet stored.
    Booked,
    /// Booked, and its labels are stored and attached.
    Labelled,
    /// Refused or failed before booking; may be dispatched again.
    Failed,
    /// Cancelled on Nexus; may be dispatched again.
    Cancelled,
}

/// What Nexus gave us for a booked dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// The network it was booked on.
    pub network: Network,
    /// Nexus `consignmentID`.
    pub nexus_consignment_id: NexusConsignmentId,
    /// The consignment number we sent (our idempotency key on Nexus too).
    pub consignment_number: String,
    /// Pallet barcodes, in pallet order.
    pub barcodes: Vec<Barcode>,
    /// Document-store keys of the stored labels; empty until labelled.
    #[serde(default)]
    pub label_keys: Vec<String>,
    /// Our depot that booked it (whose Nexus user cancels it).
    #[serde(default)]
    pub depot: Option<crate::domain::DepotCode>,
    /// Digest of what Nexus was asked to book, so an UPDATE that changes nothing Nexus knows is
    /// acknowledged without re-booking.
    #[serde(default)]
    pub request_fingerprint: Option<String>,
    /// The request fingerprints of the bookings this one replaced (newest last, at most
    /// 20, `MAX_SUPERSEDED`): an UPDATE that brings one of them again is an old update replayed, and is
    /// refused rather than booked over the newer one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_fingerprints: Vec<String>,
}

/// How many replaced versions a booking remembers.
pub const MAX_SUPERSEDED: usize = 20;

impl Booking {
    /// The versions a booking that replaces this one supersedes: these and this one's own.
    pub fn superseded_by_next(&self) -> Vec<String> {
        let mut superseded = self.superseded_fingerprints.clone();
        superseded.extend(self.request_fingerprint.clone());
        let excess = superseded.len().saturating_sub(MAX_SUPERSEDED);
        superseded.drain(..excess);
        superseded
    }
}

/// The ledger's record of one dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchRecord {
    /// Qargo's consignment id.
    pub qargo_consignment_id: QargoConsignmentId,
    /// Where it stands.
    pub state: DispatchState,
    /// The token of the claim that last held it.
    pub claim_token: String,
    /// How many times it has been claimed.
    pub attempt: u32,
    /// Until when the in-progress claim is held.
    pub lease_expires_at: Timestamp,
    /// The booking, once booked.
    pub booking: Option<Booking>,
    /// Why it failed, when failed.
    pub failure: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
}

impl DispatchRecord {
    /// Whether a new claim may take this record over at `now`.
    pub fn is_claimable(&self, now: Timestamp) -> bool {
        match self.state {
            DispatchState::Failed | DispatchState::Cancelled => true,
            DispatchState::InProgress => self.lease_expires_at <= now,
            DispatchState::Booked | DispatchState::Labelled => false,
        }
    }
}

/// A held claim: proof that this invocation may book the dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchClaim {
    /// The dispatch claimed.
    pub qargo_consignment_id: QargoConsignmentId,
    /// Unique to this claim.
    pub token: String,
    /// Which claim this is (1 for the first).
    pub attempt: u32,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This caller holds the dispatch. `previous` is the record it took over, if any: an
    /// in-progress one means an earlier attempt crashed mid-booking (look it up on Nexus first).
    Claimed {
        /// The held claim.
        claim: DispatchClaim,
        /// The record taken over.
        previous: Option<DispatchRecord>,
    },
    /// Another invocation holds a live claim; try again after `lease_expires_at`.
    Busy {
        /// When the other claim's lease ends.
        lease_expires_at: Timestamp,
    },
    /// Already booked: here is the recorded answer.
    Done(DispatchRecord),
}

/// The dispatch ledger port.
#[async_trait]
pub trait DispatchLedger: Send + Sync {
    /// Claims the dispatch at `now` for `lease`. Exactly one of any number of concurrent callers
    /// gets [`ClaimOutcome::Claimed`].
    async fn claim(
        &self,
        id: &QargoConsignmentId,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Records the booking made under `claim`. Fails with [`StoreError::ClaimLost`] if the claim is
    /// no longer held.
    async fn record_booked(
        &self,
        claim: &DispatchClaim,
        booking: Booking,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError>;

    /// Records that the dispatch failed before booking, under `claim`; it may be claimed again.
    async fn record_failed(
        &self,
        claim: &DispatchClaim,
        reason: &str,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError>;

    /// Records the stored labels of a booked dispatch. Needs no claim: any invocation that finds a
    /// booked dispatch without labels may finish the labelling, and doing it twice is harmless.
    async fn record_labelled(
        &self,
        id: &QargoConsignmentId,
        label_keys: Vec<String>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError>;

    /// Records that a booked dispatch was cancelled on Nexus.
    async fn record_cancelled(&self, id: &QargoConsignmentId, now: Timestamp) -> Result<DispatchRecord, StoreError>;

    /// Reads the record of a dispatch.
    async fn get(&self, id: &QargoConsignmentId) -> Result<Option<DispatchRecord>, StoreError>;
}

/// Storage key of a dispatch's ledger record, `DISPATCH#<qargo consignment id>`.
pub(crate) fn ledger_key(id: &QargoConsignmentId) -> String {
    format!("DISPATCH#{id}")
}

/// A new unique claim token.
pub(crate) fn new_claim_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = Timestamp::now().as_nanosecond();
    format!("{:x}-{:x}-{:x}", std::process::id(), nanos, SEQUENCE.fetch_add(1, Ordering::Relaxed))
}

/// The ledger's rules as pure transitions, shared by the adapters that apply them under a lock
/// (in-memory, embedded); the DynamoDB adapter expresses the same rules as condition expressions.
pub(crate) mod transition {
    use super::*;

    /// Claims `current` (absent or claimable) for a new claim: answers the record to write, if
    /// any, and the outcome to give the caller.
    pub fn claim(
        id: &QargoConsignmentId,
        current: Option<&DispatchRecord>,
        now: Timestamp,
        lease: SignedDuration,
        token: String,
    ) -> (Option<DispatchRecord>, ClaimOutcome) {
        if let Some(record) = current
            && !record.is_claimable(now)
        {
            return (None, refusal(record));
        }
        let claim =
            DispatchClaim { qargo_consignment_id: id.clone(), token, attempt: current.map_or(1, |r| r.attempt + 1) };
        let record = DispatchRecord {
            qargo_consignment_id: id.clone(),
            state: DispatchState::InProgress,
            claim_token: claim.token.clone(),
            attempt: claim.attempt,
            lease_expires_at: now + lease,
            booking: current.and_then(|r| r.booking.clone()),
            failure: None,
            updated_at: now,
        };
        (Some(record), ClaimOutcome::Claimed { claim, previous: current.cloned() })
    }

    /// What a caller that cannot claim `record` is told.
    pub fn refusal(record: &DispatchRecord) -> ClaimOutcome {
        match record.state {
            DispatchState::InProgress => ClaimOutcome::Busy { lease_expires_at: record.lease_expires_at },
            _ => ClaimOutcome::Done(record.clone()),
        }
    }

    /// Completes the claim with a booking or a failure.
    pub fn complete(
        current: Option<&DispatchRecord>,
        claim: &DispatchClaim,
        booking: Option<Booking>,
        failure: Option<&str>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        let record = current.filter(|r| r.state == DispatchState::InProgress && r.claim_token == claim.token);
        let Some(record) = record else {
            return Err(StoreError::ClaimLost {
                qargo_consignment_id: claim.qargo_consignment_id.to_string(),
                reason: lost_reason(current),
            });
        };
        Ok(DispatchRecord {
            state: if booking.is_some() { DispatchState::Booked } else { DispatchState::Failed },
            booking: booking.or_else(|| record.booking.clone()),
            failure: failure.map(str::to_owned),
            updated_at: now,
            ..record.clone()
        })
    }

    /// Moves a booked dispatch to labelled or cancelled.
    pub fn after_booking(
        id: &QargoConsignmentId,
        current: Option<&DispatchRecord>,
        state: DispatchState,
        label_keys: Option<Vec<String>>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        let booked = current.filter(|r| matches!(r.state, DispatchState::Booked | DispatchState::Labelled));
        let Some(record) = booked else {
            return Err(StoreError::ClaimLost { qargo_consignment_id: id.to_string(), reason: lost_reason(current) });
        };
        let mut booking = record.booking.clone();
        if let (Some(booking), Some(keys)) = (booking.as_mut(), label_keys) {
            booking.label_keys = keys;
        }
        Ok(DispatchRecord { state, booking, updated_at: now, ..record.clone() })
    }

    /// Why an update found the record in another state.
    pub fn lost_reason(current: Option<&DispatchRecord>) -> String {
        match current {
            None => "no dispatch is recorded".into(),
            Some(record) => format!("the ledger says {:?} under claim attempt {}", record.state, record.attempt),
        }
    }
}
