//! Reading every record of a kind, for the operations CLI ([`crate::ops`]): reconciling all booked
//! dispatches, finding a dispatch by its Nexus id, reading every depot's cursor of a job. These are
//! scans (a DynamoDB `Scan` of the table, a key-range read of the embedded store), meant for a person
//! at a terminal, never for the jobs' paths.

use async_trait::async_trait;

use super::{ConsignmentSync, Cursor, DispatchRecord, SyncKey};
use crate::domain::NexusConsignmentId;
use crate::error::StoreError;

/// The storage-key prefix of dispatch ledger records.
pub const DISPATCH_PREFIX: &str = "DISPATCH#";
/// The storage-key prefix of sync-state records.
pub const SYNC_PREFIX: &str = "CONS#";

/// The storage-key prefix of the cursors of `job` (`CURSOR#<job>#`).
pub fn cursor_prefix(job: &str) -> String {
    format!("CURSOR#{job}#")
}

/// The sync key a storage key `CONS#<network>#<nexus id>` names, if it is one.
pub fn sync_key_of(storage_key: &str) -> Option<SyncKey> {
    let rest = storage_key.strip_prefix(SYNC_PREFIX)?;
    let (network, id) = rest.split_once('#')?;
    Some(SyncKey { network: network.parse().ok()?, nexus_consignment_id: id.parse::<NexusConsignmentId>().ok()? })
}

/// Every record of a kind, read in one go.
#[async_trait]
pub trait RecordScan: Send + Sync {
    /// Every dispatch ledger record.
    async fn dispatch_records(&self) -> Result<Vec<DispatchRecord>, StoreError>;

    /// Every sync-state record, with its key.
    async fn sync_records(&self) -> Result<Vec<(SyncKey, ConsignmentSync)>, StoreError>;

    /// Every cursor of `job`, with its storage key (`CURSOR#<job>#<depot>#<network>`).
    async fn cursor_records(&self, job: &str) -> Result<Vec<(String, Cursor)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Network;

    #[test]
    fn sync_keys_read_back_from_storage_keys() {
        let key = SyncKey { network: Network::Fortec, nexus_consignment_id: NexusConsignmentId(10020) };
        assert_eq!(sync_key_of(&key.storage_key()), Some(key));
        assert_eq!(sync_key_of("CONS#DHL#1"), None);
        assert_eq!(sync_key_of("DISPATCH#x"), None);
        assert_eq!(cursor_prefix("status-sync"), "CURSOR#status-sync#");
    }
}
