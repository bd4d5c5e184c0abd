//! Storage ports and their adapters.
//!
//! Each port is a small trait that a job takes on its own (`&dyn DispatchLedger`, `&dyn Cursors`, …).
//! Adapters: [`dynamo::DynamoStore`] and [`s3::S3Documents`] in the cloud, [`memory::MemoryStore`]
//! and [`memory::MemoryDocuments`] for unit tests, and [`embedded::EmbeddedStore`] with
//! [`embedded::DirectoryDocuments`] for the local bridge. One contract suite (`tests/storage.rs`)
//! runs against all of them.

pub mod dynamo;
#[cfg(feature = "local")]
pub mod embedded;
pub mod kv;
pub mod memory;
pub mod s3;

mod budget;
mod cursor;
mod documents;
mod ledger;
mod records;
mod sync_state;
mod token;

pub use budget::{Rate, RateBudgets, Turn};
pub use cursor::{Cursor, CursorKey, Cursors};
pub use documents::{DocumentStore, StoredDocument, document_key, sha256_hex};
pub use ledger::{Booking, ClaimOutcome, DispatchClaim, DispatchLedger, DispatchRecord, DispatchState};
pub use records::{DISPATCH_PREFIX, RecordScan, SYNC_PREFIX, cursor_prefix, sync_key_of};
pub use sync_state::{ConsignmentSync, EtaSent, QargoLink, SyncDirection, SyncKey, SyncState, SyncedDocument};
pub use token::{CachedToken, TokenCache};

use jiff::Timestamp;

/// Seconds since the Unix epoch, the form DynamoDB compares and expires on.
pub(crate) fn epoch_seconds(at: Timestamp) -> i64 {
    at.as_second()
}
