//! Poll cursors: how far each job has read Nexus, per depot and network.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{DepotCode, Network};
use crate::error::StoreError;

/// Which cursor: one per job, depot and network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CursorKey {
    /// The job that owns it (`order-import`, `status-sync`, …).
    pub job: &'static str,
    /// Our depot.
    pub depot: DepotCode,
    /// The network polled.
    pub network: Network,
}

impl CursorKey {
    /// The storage key, `CURSOR#<job>#<depot>#<network>`.
    pub fn storage_key(&self) -> String {
        format!("CURSOR#{}#{}#{}", self.job, self.depot, self.network)
    }
}

/// A stored cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The job's own encoding of how far it has read (e.g. a Nexus `lastUpdated` timestamp).
    pub position: String,
    /// Incremented by every successful set; the compare in compare-and-set.
    pub version: u64,
    /// When it was last set.
    pub updated_at: Timestamp,
}

/// The cursor port.
#[async_trait]
pub trait Cursors: Send + Sync {
    /// Reads a cursor.
    async fn read(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError>;

    /// Sets the cursor to `position` if its version is still `expected_version` (`None`: it must
    /// not exist yet). Returns whether this call won; a loser re-reads and decides again.
    async fn compare_and_set(
        &self,
        key: &CursorKey,
        expected_version: Option<u64>,
        position: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// The cursor that a compare-and-set against `current` writes, or `None` if the compare fails.
pub(crate) fn next_cursor(
    current: Option<&Cursor>,
    expected_version: Option<u64>,
    position: &str,
    now: Timestamp,
) -> Option<Cursor> {
    (current.map(|c| c.version) == expected_version).then(|| Cursor {
        position: position.to_owned(),
        version: expected_version.map_or(1, |v| v + 1),
        updated_at: now,
    })
}
