//! The Qargo API client.
//!
//! - **One token for the whole tenant**: the OAuth token lives in the shared [`TokenCache`], so all
//!   function instances together stay inside Qargo's 5 token calls per hour. A new token is fetched
//!   only when the cached one expires or is refused, and only by the instance that wins the cache's
//!   refresh claim; the others wait for it.
//! - **Pacing**: API calls (not webhooks) go through a [`Pacer`] at ≤ 2 requests/s, shared by
//!   every function instance when the pacer draws on the store's budget; a 429 holds every call of
//!   the pacer for its `Retry-After`. A turn further away than the pacer waits fails the call as
//!   unavailable (the caller leaves the work for later).
//! - **Webhooks** (`/v1/webhook/…`) use their own HTTP Basic credentials and answer `{errors}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::QargoError;
use super::wire::{ContentUpload, Document, TokenResponse, Upload, UploadStatus, ValidationErrors, WebhookAnswer};
use crate::config::{Credentials, QargoClient as OAuthClient, Secret};
use crate::error::shown;
use crate::http::{
    Attempt, MAX_DOWNLOAD_BYTES, ReadFailed, RetryPolicy, base_with_slash, read_capped, retry_after, with_retries,
};
use crate::pacing::Pacer;
use crate::store::{CachedToken, TokenCache};

/// How long before expiry a cached token is replaced.
const TOKEN_MARGIN: SignedDuration = SignedDuration::from_secs(120);
/// How long an instance may take to fetch a token before another may try.
const REFRESH_LEASE: SignedDuration = SignedDuration::from_secs(20);

/// Which door of Qargo a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// OAuth API routes: paced, inside the request limit.
    Api,
    /// The token endpoint: its own limit (5 an hour, kept by the shared token cache), not paced.
    Token,
    /// `/v1/webhook/…`: Basic auth, outside the limit.
    Webhook,
}

/// A Qargo client. Cheap to build; the token cache and pacer are what instances share.
#[derive(Clone)]
pub struct QargoClient {
    http: reqwest::Client,
    base_url: String,
    oauth: OAuthClient,
    webhook: Credentials,
    tokens: Arc<dyn TokenCache>,
    /// The token this process last used, kept while it is valid so a call costs no store read.
    held: Arc<std::sync::Mutex<Option<CachedToken>>>,
    pacer: Arc<Pacer>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for QargoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QargoClient")
            .field("base_url", &self.base_url)
            .field("client_id", &self.oauth.client_id)
            .finish()
    }
}

impl QargoClient {
    /// A client of the Qargo API at `base_url` (the host, e.g. `https://api.qargo.com/`).
    pub fn new(
        base_url: &str,
        oauth: OAuthClient,
        webhook: Credentials,
        tokens: Arc<dyn TokenCache>,
        pacer: Arc<Pacer>,
        retry: RetryPolicy,
    ) -> QargoClient {
        QargoClient {
            http: retry.http_client(),
            base_url: base_with_slash(base_url),
            oauth,
            webhook,
            tokens,
            held: Arc::new(std::sync::Mutex::new(None)),
            pacer,
            retry,
        }
    }

    /// The token held in memory, while it is valid.
    fn held_token(&self, now: Timestamp) -> Option<Secret> {
        let held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.as_ref().filter(|token| token.expires_at > now + TOKEN_MARGIN).map(|token| token.token.clone())
    }

    fn hold_token(&self, token: Option<CachedToken>) {
        *self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    fn token_name(&self) -> String {
        format!("qargo#{}", self.oauth.client_id)
    }

    // ---- the shared token ------------------------------------------------------------------------

    /// A valid access token: the cached one, or a new one fetched by exactly one instance.
    async fn access_token(&self, started: Instant) -> Result<Secret, QargoError> {
        let name = self.token_name();
        if let Some(token) = self.held_token(Timestamp::now()) {
            return Ok(token);
        }
        loop {
            let now = Timestamp::now();
            if let Some(cached) = self.tokens.get(&name).await?
                && cached.expires_at > now + TOKEN_MARGIN
            {
                self.hold_token(Some(cached.clone()));
                return Ok(cached.token);
            }
            if self.tokens.claim_refresh(&name, now, REFRESH_LEASE).await? {
                let fetched = self.fetch_token(started).await;
                if let Ok(token) = &fetched {
                    self.tokens.put(&name, token).await?;
                    self.hold_token(Some(token.clone()));
                }
                self.tokens.release_refresh(&name, Timestamp::now()).await?;
                return fetched.map(|token| token.token);
            }
            if started.elapsed() > self.retry.budget {
                return Err(QargoError::Unavailable {
                    attempts: 0,
                    elapsed: started.elapsed(),
                    last: "waited for another instance to fetch the Qargo token".into(),
                });
            }
            // Another instance is fetching it: wait for it to land in the cache.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Marks `refused` as dead in the cache, unless another instance already replaced it.
    async fn forget_token(&self, refused: &Secret) -> Result<(), QargoError> {
        self.hold_token(None);
        let name = self.token_name();
        if let Some(cached) = self.tokens.get(&name).await?
            && cached.token == *refused
        {
            self.tokens.put(&name, &CachedToken { token: cached.token, expires_at: Timestamp::now() }).await?;
        }
        Ok(())
    }

    async fn fetch_token(&self, started: Instant) -> Result<CachedToken, QargoError> {
        let response = self
            .send_with_retries(started, CallKind::Token, || {
                self.http
                    .post(self.url("v1/auth/token"))
                    .basic_auth(&self.oauth.client_id, Some(self.oauth.client_secret.expose()))
                    .json(&serde_json::json!({}))
            })
            .await?;
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(QargoError::TokenLimit {
                    retry_after: retry_after(&response).unwrap_or(Duration::from_secs(60)),
                });
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(QargoError::Unauthorized { which: "OAuth client" });
            }
            _ => {}
        }
        let answer: TokenResponse = decode(check(response, "token").await?).await?;
        let lifetime = token_lifetime(answer.expires_in);
        tracing::info!(expires_in = lifetime.as_secs(), "fetched a new Qargo token");
        Ok(CachedToken { token: Secret::new(answer.access_token), expires_at: Timestamp::now() + lifetime })
    }

    // ---- sending ---------------------------------------------------------------------------------

    /// Sends until an answer other than 429 / 5xx / a connection failure, within the policy; API
    /// calls wait for their turn first. A 429 from the token endpoint is returned at once: its wait
    /// is up to an hour, not a back-off.
    async fn send_with_retries(
        &self,
        started: Instant,
        kind: CallKind,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QargoError> {
        with_retries(&self.retry, started, |_| async {
            if kind == CallKind::Api
                && let Err(spent) = self.pacer.turn().await
            {
                return Attempt::Stop(format!("the tenant's Qargo API budget: {spent}"));
            }
            match build().send().await {
                Ok(response)
                    if response.status() == StatusCode::TOO_MANY_REQUESTS
                        && response.url().path().ends_with("/auth/token") =>
                {
                    Attempt::Answer(response)
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS && kind == CallKind::Api => {
                    // Every API call of the tenant waits, not just this one.
                    let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                    self.pacer.hold(wait);
                    Attempt::Retry { failure: "429 rate limited".into(), wait: Some(wait) }
                }
                // API calls are reads or keyed by an identifier; a webhook call repeated after a
                // timeout could record a scan twice.
                sent => Attempt::classify(sent, kind != CallKind::Webhook),
            }
        })
        .await
        .map_err(|gave_up| QargoError::Unavailable {
            attempts: gave_up.attempts,
            elapsed: gave_up.elapsed,
            last: gave_up.last,
        })
    }

    /// An OAuth API call: paced, with the shared token, one token renewal on 401.
    async fn api_call(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, QargoError> {
        let started = Instant::now();
        let mut renewed = false;
        loop {
            let token = self.access_token(started).await?;
            let response =
                self.send_with_retries(started, CallKind::Api, || build(&self.http).bearer_auth(token.expose())).await;
            let response = match response {
                Ok(response) => response,
                Err(err) => return Err(err),
            };
            if response.status() == StatusCode::UNAUTHORIZED {
                if renewed {
                    return Err(QargoError::Unauthorized { which: "OAuth client" });
                }
                renewed = true;
                self.forget_token(&token).await?;
                continue;
            }
            return check(response, what).await;
        }
    }

    /// A webhook call: HTTP Basic with the webhook credentials, no pacing (outside the API limit).
    async fn webhook_call(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<WebhookAnswer, QargoError> {
        let started = Instant::now();
        let response = self
            .send_with_retries(started, CallKind::Webhook, || {
                build(&self.http).basic_auth(&self.webhook.username, Some(self.webhook.password.expose()))
            })
            .await?;
        if matches!(response.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(QargoError::Unauthorized { which: "webhook" });
        }
        let status = response.status();
        let text = response.text().await.map_err(|err| QargoError::Malformed(err.to_string()))?;
        // `null`, an empty body, `{}` and `{"errors": null}` all mean success.
        let answer: WebhookAnswer = if text.trim().is_empty() {
            WebhookAnswer::default()
        } else {
            match serde_json::from_str::<Option<WebhookAnswer>>(&text) {
                Ok(answer) => answer.unwrap_or_default(),
                Err(_) if !status.is_success() => return Err(refusal(status, &text, what)),
                Err(err) => return Err(QargoError::Malformed(err.to_string())),
            }
        };
        if !answer.errors.is_empty() {
            return Err(QargoError::WebhookRefused { errors: answer.errors });
        }
        if !status.is_success() {
            return Err(refusal(status, &text, what));
        }
        Ok(answer)
    }

    // ---- the routes ------------------------------------------------------------------------------

    /// An API GET whose answer is JSON.
    async fn get_json<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T, QargoError> {
        decode(self.api_call(what, |http| http.get(self.url(path))).await?).await
    }

    /// `GET /me` (no `/v1` prefix in Qargo's spec): who the OAuth client is.
    pub async fn me(&self) -> Result<serde_json::Value, QargoError> {
        self.get_json("me", "me").await
    }

    /// `POST /v1/orders/order/upload`: starts an asynchronous import of `order` (an `OrderInput`).
    pub async fn upload_order(&self, order: &(impl Serialize + Sync)) -> Result<Upload, QargoError> {
        decode(self.api_call("order upload", |http| http.post(self.url("v1/orders/order/upload")).json(order)).await?)
            .await
    }

    /// `GET /v1/orders/order/upload/{id}`.
    pub async fn upload_status(&self, upload_id: &str) -> Result<Upload, QargoError> {
        let path = format!("v1/orders/order/upload/{}", id_segment("upload", upload_id)?);
        self.get_json(&format!("upload {upload_id}"), &path).await
    }

    /// Uploads `order` and follows the upload until COMPLETED, DUPLICATE (both answered) or ERROR
    /// (an error), checking every `poll_every`, for at most `patience`.
    pub async fn upload_order_and_wait(
        &self,
        order_identifier: &str,
        order: &(impl Serialize + Sync),
        poll_every: Duration,
        patience: Duration,
    ) -> Result<Upload, QargoError> {
        let started = Instant::now();
        let mut upload = self.upload_order(order).await?;
        while !upload.upload_status.is_final() {
            if started.elapsed() > patience {
                return Err(QargoError::Unavailable {
                    attempts: 0,
                    elapsed: started.elapsed(),
                    last: format!("upload {} still {:?}", upload.upload_id, upload.upload_status),
                });
            }
            tokio::time::sleep(poll_every).await;
            upload = self.upload_status(&upload.upload_id).await?;
        }
        match upload.upload_status {
            UploadStatus::Error | UploadStatus::Skipped => Err(QargoError::UploadFailed {
                order_identifier: order_identifier.to_owned(),
                reason: format!("Qargo answered {:?}", upload.upload_status),
            }),
            _ => Ok(upload),
        }
    }

    /// `POST /v1/webhook`: Qargo's order import webhook, "the fully asynchronous version of the
    /// order upload": the same `OrderInput` as [`upload_order`](Self::upload_order), sent with the
    /// webhook credentials and outside the API limit, so it is not paced. Qargo answers
    /// `OrderImportResponse | null` — no upload id: an answer without errors means Qargo took the
    /// order for import, and its de-duplication on `order_identifier` makes sending it again safe.
    /// Errors come back as [`QargoError::WebhookRefused`]. Not repeated after a timeout (the
    /// caller's `order_identifier` makes its own retry safe).
    pub async fn order_webhook(&self, order: &(impl Serialize + Sync)) -> Result<WebhookAnswer, QargoError> {
        self.webhook_call("order webhook", |http| http.post(self.url("v1/webhook")).json(order)).await
    }

    /// `GET /v1/orders/order/{id}`.
    pub async fn order(&self, order_id: &str) -> Result<serde_json::Value, QargoError> {
        let path = format!("v1/orders/order/{}", id_segment("order", order_id)?);
        self.get_json(&format!("order {order_id}"), &path).await
    }

    /// `GET /v1/orders/order/{id}/status`.
    pub async fn order_status(&self, order_id: &str) -> Result<serde_json::Value, QargoError> {
        let path = format!("v1/orders/order/{}/status", id_segment("order", order_id)?);
        self.get_json(&format!("status of order {order_id}"), &path).await
    }

    /// `GET /v1/orders/order/{id}/documents`: a plain array (the real endpoint is not paged).
    pub async fn order_documents(&self, order_id: &str) -> Result<Vec<Document>, QargoError> {
        let path = format!("v1/orders/order/{}/documents", id_segment("order", order_id)?);
        self.get_json(&format!("documents of order {order_id}"), &path).await
    }

    /// `GET /v1/documents/document/{id}/download?direct=true`: the bytes and their MIME type.
    pub async fn download_document(&self, document_id: &str) -> Result<(String, Vec<u8>), QargoError> {
        let url = self.url(&format!("v1/documents/document/{}/download", id_segment("document", document_id)?));
        self.download(&format!("document {}", shown(document_id)), &url).await
    }

    /// A visibility document's `download_url`, fetched with the bridge's token — only when it is on
    /// Qargo's own API host (same scheme, host and port as the client's base URL; a path is taken
    /// relative to it). Any other host is refused without a request: the token never leaves Qargo.
    pub async fn download_url(&self, url: &str) -> Result<(String, Vec<u8>), QargoError> {
        let base = reqwest::Url::parse(&self.base_url).map_err(|err| QargoError::Malformed(err.to_string()))?;
        let target = base.join(url).map_err(|_| QargoError::ForeignUrl { url: shown(url) })?;
        if (target.scheme(), target.host_str(), target.port_or_known_default())
            != (base.scheme(), base.host_str(), base.port_or_known_default())
        {
            return Err(QargoError::ForeignUrl { url: shown(url) });
        }
        self.download("document download", target.as_str()).await
    }

    async fn download(&self, what: &str, url: &str) -> Result<(String, Vec<u8>), QargoError> {
        let response = self
            .api_call(what, |http| {
                let request = http.get(url);
                if url.contains("direct=") { request } else { request.query(&[("direct", "true")]) }
            })
            .await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = read_capped(response, MAX_DOWNLOAD_BYTES).await.map_err(|failed| match failed {
            ReadFailed::TooLarge(reason) => QargoError::TooLarge(reason),
            ReadFailed::CutShort(reason) => QargoError::Malformed(format!("body cut short: {reason}")),
        })?;
        Ok((content_type, bytes))
    }

    /// `POST /v1/documents/document/upload_content`: stores a file for a later `remote_document`.
    pub async fn upload_content(
        &self,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String, QargoError> {
        let response = self
            .api_call("upload content", |http| {
                let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(file_name.to_owned());
                let part =
                    part.mime_str(content_type).unwrap_or_else(|_| reqwest::multipart::Part::bytes(bytes.clone()));
                let form = reqwest::multipart::Form::new().part("file", part);
                http.post(self.url("v1/documents/document/upload_content")).multipart(form)
            })
            .await?;
        decode::<ContentUpload>(response).await.map(|upload| upload.upload_id)
    }

    /// `POST /v1/webhook/subco-status-update` with `{updates:[…]}`.
    pub async fn subco_status_update(&self, body: &(impl Serialize + Sync)) -> Result<WebhookAnswer, QargoError> {
        self.webhook_call("status update", |http| http.post(self.url("v1/webhook/subco-status-update")).json(body))
            .await
    }

    /// `POST /v1/webhook/partial-order-update`: changes part of one order (custom fields, handling
    /// units) found by `match`; the body's shape is the simulator's reading (infra/qargo-sim/README.md).
    pub async fn partial_order_update(&self, body: &(impl Serialize + Sync)) -> Result<WebhookAnswer, QargoError> {
        self.webhook_call("partial order update", |http| {
            http.post(self.url("v1/webhook/partial-order-update")).json(body)
        })
        .await
    }

    /// `POST /v1/webhook/subco-document-upload`: a file onto a stop.
    pub async fn subco_document_upload(
        &self,
        stop_id: &str,
        question_path_key: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<WebhookAnswer, QargoError> {
        self.webhook_call("document upload", |http| {
            http.post(self.url("v1/webhook/subco-document-upload"))
                .query(&[("question_path_key", question_path_key), ("stop_id", stop_id)])
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\""))
                .body(bytes.clone())
        })
        .await
    }

    /// `POST /v1/webhook/document-import`: a file onto the one order with this customer reference.
    pub async fn document_import(
        &self,
        customer_reference_number: &str,
        document_type: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<WebhookAnswer, QargoError> {
        self.webhook_call("document import", |http| {
            http.post(self.url("v1/webhook/document-import"))
                .query(&[
                    ("filename", file_name),
                    ("document_type", document_type),
                    ("customer_reference_number", customer_reference_number),
                ])
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes.clone())
        })
        .await
    }
}

/// A token's lifetime from `expires_in`: an hour when absent, clamped to 1 s – a day, so a lifetime
/// from outside cannot overflow the clock.
fn token_lifetime(expires_in: Option<i64>) -> SignedDuration {
    SignedDuration::from_secs(expires_in.unwrap_or(3600).clamp(1, 86_400))
}

/// A Qargo id as the one path segment it stands for: Qargo's ids are UUIDs, and anything else is
/// refused before a request is made (so no id can climb out of its segment, e.g. `../orders/x`).
fn id_segment(what: &str, id: &str) -> Result<String, QargoError> {
    super::wire::qargo_id(id)
        .ok_or_else(|| QargoError::NotFound { what: format!("{what} {} (a Qargo id is a UUID)", shown(id)) })
}

/// Passes a success through; maps a refusal to its error.
async fn check(response: Response, what: &str) -> Result<Response, QargoError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    Err(refusal(status, &text, what))
}

fn refusal(status: StatusCode, text: &str, what: &str) -> QargoError {
    match status {
        StatusCode::NOT_FOUND => QargoError::NotFound { what: what.to_owned() },
        StatusCode::BAD_REQUEST => {
            let parsed: ValidationErrors = serde_json::from_str(text).unwrap_or_default();
            QargoError::Invalid {
                message: parsed.message.unwrap_or_else(|| text.chars().take(300).collect()),
                errors: parsed.errors,
            }
        }
        StatusCode::UNPROCESSABLE_ENTITY => QargoError::Unprocessable { detail: text.chars().take(1000).collect() },
        _ => QargoError::Unavailable {
            attempts: 1,
            elapsed: Duration::ZERO,
            last: format!("{status}: {}", text.chars().take(300).collect::<String>()),
        },
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, QargoError> {
    let bytes = response.bytes().await.map_err(|err| QargoError::Malformed(format!("body cut short: {err}")))?;
    serde_json::from_slice(&bytes).map_err(|err| QargoError::Malformed(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_from_outside_is_bounded() {
        assert_eq!(token_lifetime(None), SignedDuration::from_hours(1));
        assert_eq!(token_lifetime(Some(i64::MAX)), SignedDuration::from_hours(24));
        assert_eq!(token_lifetime(Some(-5)), SignedDuration::from_secs(1));
        let _ = jiff::Timestamp::now() + token_lifetime(Some(i64::MAX)); // no overflow
    }

    #[test]
    fn ids_are_uuids_or_refused() {
        for bad in ["../../orders/order/x#", "..", "%2e%2e", "", "5f0c-aa", "6f1c0e9e-3b2a-4c1d-9f00-000000000000/x"] {
            assert!(matches!(id_segment("order", bad), Err(QargoError::NotFound { .. })), "{bad:?}");
        }
        let id = "6F1C0E9E-3B2A-4C1D-9F00-0000000000AB";
        assert_eq!(id_segment("order", id).unwrap(), id.to_lowercase());
    }
}
