//! Reading Qargo's cursor-paged lists (companies, resources) with the token the client used and
//! paced with the client, and the token cache wrapper that catches that token.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::MAX_PAGES;
use crate::config::Secret;
use crate::error::StoreError;
use crate::http::{Attempt, RetryPolicy, with_retries};
use crate::qargo::Pacer;
use crate::store::{CachedToken, TokenCache};

/// What a company list read ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ListFailure {
    /// No token to read with (the OAuth client failed above).
    NoToken,
    /// The route answered 404 or 405: this Qargo does not serve it to the bridge.
    NotServed(u16),
    /// 401/403: the API client may not read it.
    Forbidden(u16),
    /// Anything else.
    Failed(String),
}

impl ListFailure {
    pub(super) fn evidence(&self, route: &str) -> String {
        match self {
            ListFailure::NoToken => format!("{route} not read: no working OAuth token"),
            ListFailure::NotServed(status) => {
                format!("Qargo answered {status} for {route}: it cannot be checked through the API here")
            }
            ListFailure::Forbidden(status) => {
                format!("Qargo answered {status} for {route}: the API client may not read it")
            }
            ListFailure::Failed(reason) => format!("{route} could not be read: {reason}"),
        }
    }
}

/// A list read: the rows, and whether every page was read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Listed {
    pub(super) items: Vec<Value>,
    pub(super) complete: bool,
}

pub(super) fn text_field(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads Qargo's cursor-paged lists with the token the client used, paced with the client.
pub(super) struct ApiReader {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) token: Secret,
    pub(super) pacer: Arc<Pacer>,
    pub(super) retry: RetryPolicy,
}

impl ApiReader {
    /// Every item of `path`'s pages (`{items, next_cursor}`), up to [`MAX_PAGES`].
    pub(super) async fn list(&self, path: &str) -> Result<Listed, ListFailure> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(path, cursor.as_deref()).await?;
            if let Some(rows) = page.get("items").and_then(Value::as_array) {
                items.extend(rows.iter().cloned());
            } else {
                return Err(ListFailure::Failed("the answer has no items list".into()));
            }
            cursor = text_field(&page, "next_cursor");
            if cursor.is_none() {
                return Ok(Listed { items, complete: true });
            }
        }
        Ok(Listed { items, complete: false })
    }

    async fn page(&self, path: &str, cursor: Option<&str>) -> Result<Value, ListFailure> {
        let url = format!("{}{path}", self.base_url);
        let started = Instant::now();
        let response = with_retries(&self.retry, started, |_| async {
            self.pacer.wait_turn().await;
            let mut request = self.http.get(&url).bearer_auth(self.token.expose());
            if let Some(cursor) = cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            Attempt::classify(request.send().await, true)
        })
        .await
        .map_err(|gave_up| ListFailure::Failed(format!("after {} attempts: {}", gave_up.attempts, gave_up.last)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => response.json::<Value>().await.map_err(|err| ListFailure::Failed(err.to_string())),
            404 | 405 => Err(ListFailure::NotServed(status)),
            401 | 403 => Err(ListFailure::Forbidden(status)),
            _ => {
                let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
                Err(ListFailure::Failed(format!("{status}: {text}")))
            }
        }
    }
}

/// A token cache that passes everything to the real one and remembers the token the client used
/// and whether it fetched one, so the check can tell the token call from `GET /me` and read lists
/// without a token call of its own.
pub(super) struct WatchedTokens {
    inner: Arc<dyn TokenCache>,
    seen: Mutex<(Option<Secret>, bool)>,
}

impl WatchedTokens {
    pub(super) fn new(inner: Arc<dyn TokenCache>) -> WatchedTokens {
        WatchedTokens { inner, seen: Mutex::new((None, false)) }
    }

    /// The last valid token handed to or stored by the client.
    pub(super) fn used(&self) -> Option<Secret> {
        self.seen.lock().map(|seen| seen.0.clone()).unwrap_or(None)
    }

    /// Whether the client fetched a token (the token call answered).
    pub(super) fn fetched(&self) -> bool {
        self.seen.lock().map(|seen| seen.1).unwrap_or(false)
    }
}

/// A stored token expiring this soon is the client marking a refused token dead, not a new one.
const DEAD_MARK: SignedDuration = SignedDuration::from_secs(5);

#[async_trait]
impl TokenCache for WatchedTokens {
    async fn get(&self, name: &str) -> Result<Option<CachedToken>, StoreError> {
        let cached = self.inner.get(name).await?;
        if let Some(token) = &cached
            && token.expires_at > Timestamp::now() + DEAD_MARK
            && let Ok(mut seen) = self.seen.lock()
        {
            seen.0 = Some(token.token.clone());
        }
        Ok(cached)
    }

    async fn put(&self, name: &str, token: &CachedToken) -> Result<(), StoreError> {
        self.inner.put(name, token).await?;
        if let Ok(mut seen) = self.seen.lock() {
            if token.expires_at > Timestamp::now() + DEAD_MARK {
                *seen = (Some(token.token.clone()), true);
            } else if seen.0.as_ref() == Some(&token.token) {
                seen.0 = None;
            }
        }
        Ok(())
    }

    async fn claim_refresh(&self, name: &str, now: Timestamp, lease: SignedDuration) -> Result<bool, StoreError> {
        self.inner.claim_refresh(name, now, lease).await
    }

    async fn release_refresh(&self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        self.inner.release_refresh(name, now).await
    }
}
