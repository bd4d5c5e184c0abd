//! The ports implemented once over a key-value backend that can update one key atomically. The
//! in-memory and embedded adapters differ only in their backend, so they obey the same rules by
//! construction.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::budget::{StoredBudget, budget_key, next_turn};
use super::cursor::next_cursor;
use super::ledger::{ledger_key, new_claim_token, transition};
use super::records::{DISPATCH_PREFIX, RecordScan, SYNC_PREFIX, cursor_prefix, sync_key_of};
use super::sync_state::next_sync;
use super::token::{refresh_lock_key, token_key};
use super::{
    Booking, CachedToken, ClaimOutcome, ConsignmentSync, Cursor, CursorKey, Cursors, DispatchClaim, DispatchLedger,
    DispatchRecord, DispatchState, Rate, RateBudgets, SyncKey, SyncState, TokenCache, Turn,
};
use crate::config::Secret;
use crate::domain::QargoConsignmentId;
use crate::error::StoreError;

/// Decides what an atomic update writes: given the current value, the new one (`None`: keep it).
pub type Decide<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// A store of byte values under string keys that can read-and-replace one key atomically.
pub trait KvBackend: Send + Sync {
    /// The backend's name in errors.
    const NAME: &'static str;

    /// Reads the value at `key`.
    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomically reads `key`, passes its value to `decide`, and writes what `decide` returns
    /// (`None`: leave it as it is). No other update of any key interleaves.
    fn update(&self, key: &str, decide: &mut Decide<'_>) -> Result<(), StoreError>;

    /// Every key starting with `prefix`, with its value, in key order (the operations CLI's scans).
    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
}

/// The storage ports over a [`KvBackend`], records encoded as JSON.
#[derive(Debug, Clone)]
pub struct KvStore<B> {
    backend: B,
}

impl<B: KvBackend> KvStore<B> {
    /// Wraps a backend.
    pub fn new(backend: B) -> Self {
        KvStore { backend }
    }

    fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|err| StoreError::Corrupt { key: key.to_owned(), reason: err.to_string() })
    }

    fn read_record<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.backend.read(key)?.map(|bytes| Self::decode(key, &bytes)).transpose()
    }

    /// Atomically replaces the record at `key` with what `change` makes of it; `change` returns
    /// the new record (or `None` to keep the old) and the caller's answer.
    fn modify<T, R>(&self, key: &str, change: impl FnOnce(Option<T>) -> (Option<T>, R)) -> Result<R, StoreError>
    where
        T: Serialize + DeserializeOwned,
    {
        let mut change = Some(change);
        let mut answer: Option<Result<R, StoreError>> = None;
        self.backend.update(key, &mut |current| {
            let change = change.take().expect("a backend calls decide once");
            let current = match current.map(|bytes| Self::decode::<T>(key, bytes)).transpose() {
                Ok(current) => current,
                Err(err) => {
                    answer = Some(Err(err));
                    return None;
                }
            };
            let (next, reply) = change(current);
            answer = Some(Ok(reply));
            next.map(|record| serde_json::to_vec(&record).expect("records serialise"))
        })?;
        answer.expect("the backend called decide")
    }
}

#[async_trait]
impl<B: KvBackend> DispatchLedger for KvStore<B> {
    async fn claim(
        &self,
        id: &QargoConsignmentId,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.modify(&ledger_key(id), |current: Option<DispatchRecord>| {
            transition::claim(id, current.as_ref(), now, lease, new_claim_token())
        })
    }

    async fn record_booked(
        &self,
        claim: &DispatchClaim,
        booking: Booking,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.modify(&ledger_key(&claim.qargo_consignment_id), |current: Option<DispatchRecord>| {
            split(transition::complete(current.as_ref(), claim, Some(booking), None, now))
        })?
    }

    async fn record_failed(
        &self,
        claim: &DispatchClaim,
        reason: &str,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.modify(&ledger_key(&claim.qargo_consignment_id), |current: Option<DispatchRecord>| {
            split(transition::complete(current.as_ref(), claim, None, Some(reason), now))
        })?
    }

    async fn record_labelled(
        &self,
        id: &QargoConsignmentId,
        label_keys: Vec<String>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.modify(&ledger_key(id), |current: Option<DispatchRecord>| {
            split(transition::after_booking(id, current.as_ref(), DispatchState::Labelled, Some(label_keys), now))
        })?
    }

    async fn record_cancelled(&self, id: &QargoConsignmentId, now: Timestamp) -> Result<DispatchRecord, StoreError> {
        self.modify(&ledger_key(id), |current: Option<DispatchRecord>| {
            split(transition::after_booking(id, current.as_ref(), DispatchState::Cancelled, None, now))
        })?
    }

    async fn get(&self, id: &QargoConsignmentId) -> Result<Option<DispatchRecord>, StoreError> {
        self.read_record(&ledger_key(id))
    }
}

/// Turns a transition's result into "write this, answer that".
fn split(result: Result<DispatchRecord, StoreError>) -> (Option<DispatchRecord>, Result<DispatchRecord, StoreError>) {
    match result {
        Ok(record) => (Some(record.clone()), Ok(record)),
        Err(err) => (None, Err(err)),
    }
}

#[async_trait]
impl<B: KvBackend> Cursors for KvStore<B> {
    async fn read(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError> {
        self.read_record(&key.storage_key())
    }

    async fn compare_and_set(
        &self,
        key: &CursorKey,
        expected_version: Option<u64>,
        position: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.modify(&key.storage_key(), |current: Option<Cursor>| {
            let next = next_cursor(current.as_ref(), expected_version, position, now);
            let won = next.is_some();
            (next, won)
        })
    }
}

#[async_trait]
impl<B: KvBackend> SyncState for KvStore<B> {
    async fn load(&self, key: &SyncKey) -> Result<Option<ConsignmentSync>, StoreError> {
        self.read_record(&key.storage_key())
    }

    async fn save(&self, key: &SyncKey, state: &ConsignmentSync) -> Result<bool, StoreError> {
        self.modify(&key.storage_key(), |current: Option<ConsignmentSync>| {
            let next = next_sync(current.as_ref(), state);
            let saved = next.is_some();
            (next, saved)
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredToken {
    token: String,
    expires_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct RefreshLock {
    lease_until: Timestamp,
}

#[async_trait]
impl<B: KvBackend> TokenCache for KvStore<B> {
    async fn get(&self, name: &str) -> Result<Option<CachedToken>, StoreError> {
        Ok(self
            .read_record::<StoredToken>(&token_key(name))?
            .map(|stored| CachedToken { token: Secret::new(stored.token), expires_at: stored.expires_at }))
    }

    async fn put(&self, name: &str, token: &CachedToken) -> Result<(), StoreError> {
        let stored = StoredToken { token: token.token.expose().to_owned(), expires_at: token.expires_at };
        self.modify(&token_key(name), |_: Option<StoredToken>| (Some(stored), ()))
    }

    async fn claim_refresh(&self, name: &str, now: Timestamp, lease: SignedDuration) -> Result<bool, StoreError> {
        self.modify(&refresh_lock_key(name), |current: Option<RefreshLock>| {
            if current.is_some_and(|lock| lock.lease_until > now) {
                return (None, false);
            }
            (Some(RefreshLock { lease_until: now + lease }), true)
        })
    }

    async fn release_refresh(&self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        self.modify(&refresh_lock_key(name), |_: Option<RefreshLock>| (Some(RefreshLock { lease_until: now }), ()))
    }
}

#[async_trait]
impl<B: KvBackend> RateBudgets for KvStore<B> {
    async fn reserve(
        &self,
        name: &str,
        rate: Rate,
        now_ms: i64,
        max_wait: std::time::Duration,
    ) -> Result<Turn, StoreError> {
        self.modify(&budget_key(name), |current: Option<StoredBudget>| {
            let (next, turn) = next_turn(current.map(|stored| stored.tat_ms), rate, now_ms, max_wait);
            (next.map(|tat_ms| StoredBudget { tat_ms }), turn)
        })
    }
}

impl<B: KvBackend> KvStore<B> {
    fn scan_records<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.backend
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(key, bytes)| Self::decode(&key, &bytes).map(|record| (key, record)))
            .collect()
    }
}

#[async_trait]
impl<B: KvBackend> RecordScan for KvStore<B> {
    async fn dispatch_records(&self) -> Result<Vec<DispatchRecord>, StoreError> {
        Ok(self.scan_records::<DispatchRecord>(DISPATCH_PREFIX)?.into_iter().map(|(_, record)| record).collect())
    }

    async fn sync_records(&self) -> Result<Vec<(SyncKey, ConsignmentSync)>, StoreError> {
        Ok(self
            .scan_records::<ConsignmentSync>(SYNC_PREFIX)?
            .into_iter()
            .filter_map(|(key, state)| Some((sync_key_of(&key)?, state)))
            .collect())
    }

    async fn cursor_records(&self, job: &str) -> Result<Vec<(String, Cursor)>, StoreError> {
        self.scan_records(&cursor_prefix(job))
    }
}
