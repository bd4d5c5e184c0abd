//! A shared API token cache. Qargo allows 5 token calls per hour per tenant, so every function
//! instance must use one stored token, and only one of them may fetch a new one at a time.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::config::Secret;
use crate::error::StoreError;

/// A cached token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The token.
    pub token: Secret,
    /// When the API stops accepting it.
    pub expires_at: Timestamp,
}

/// The token cache port.
#[async_trait]
pub trait TokenCache: Send + Sync {
    /// The cached token called `name`, if any (it may have expired: the caller checks).
    async fn get(&self, name: &str) -> Result<Option<CachedToken>, StoreError>;

    /// Stores a token.
    async fn put(&self, name: &str, token: &CachedToken) -> Result<(), StoreError>;

    /// Asks for the right to fetch a new token called `name` for `lease`. Exactly one of any number
    /// of concurrent callers gets `true`; the others wait and read the token it stores.
    async fn claim_refresh(&self, name: &str, now: Timestamp, lease: SignedDuration) -> Result<bool, StoreError>;

    /// Ends a refresh claim early (the token is stored), so that a later refresh, e.g. after the
    /// API refused the token, need not wait for the lease to run out.
    async fn release_refresh(&self, name: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// Storage key of a token.
pub(crate) fn token_key(name: &str) -> String {
    format!("TOKEN#{name}")
}

/// Storage key of a token's refresh lock.
pub(crate) fn refresh_lock_key(name: &str) -> String {
    format!("TOKENLOCK#{name}")
}
