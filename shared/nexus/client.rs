//! The Nexus REST client: one per depot API user.
//!
//! - **One token source** per client: login, refresh, re-login on 401. Concurrent callers share one
//!   login (the session lock is held across it), and a 401 invalidates only the session that got it,
//!   so twenty callers hitting an expired token cause one login.
//! - **Retries** with exponential back-off and full jitter on 5xx, connection failures and (for
//!   calls safe to repeat) timeouts and unreadable bodies; 429 waits for `Retry-After`. All bounded
//!   by a time budget.
//! - **Errors**: ProblemDetails become [`NexusError`] with Nexus's field messages kept.
//! - **Tolerant reads**: every JSON answer is read through [`super::tolerant`] (property names in
//!   any case, numbers as strings, datetimes with or without offsets, lists bare or in an envelope,
//!   one unreadable list record skipped and counted); files are typed by their bytes.
//!
//! Kept as one file: one client, one method per Nexus route; the token source, the retries and the
//! routes are methods of the one `NexusClient` sharing its session and pacer, which a split would
//! only scatter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::error::NexusError;
use super::tolerant;
use super::wire::{
    Attachment, Consignment, CreateConsignment, EtaUpdate, Event, LoginRequest, LookupRow, ProblemDetails,
    RefreshRequest, TokenResponse,
};
use crate::config::{Credentials, Secret};
use crate::domain::{DocumentKind, NexusConsignmentId};
use crate::http::{
    Attempt, MAX_DOWNLOAD_BYTES, ReadFailed, RetryPolicy, base_with_slash, read_capped, retry_after, with_retries,
};
use crate::pacing::Pacer;

/// Token lifetime when Nexus does not say (the seen 60 minutes).
const DEFAULT_TOKEN_SECONDS: i64 = 3600;
/// The longest token lifetime believed (a day); a larger `expiresIn` is read as this.
const MAX_TOKEN_SECONDS: i64 = 86_400;
/// How many times one call logs in again after a 401 before it reports the credentials refused.
const TOKEN_RENEWALS: u32 = 2;
/// Renew this long before expiry, so a token never dies in flight.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Session {
    bearer: Secret,
    refresh: Option<Secret>,
    expires: Instant,
    /// Renew this long before expiry: a minute, or a tenth of a short lifetime.
    renew_margin: Duration,
    generation: u64,
}

/// Filters of `GET consignments` (seen ones and our delta additions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsignmentQuery {
    /// Consignments this depot delivers.
    pub delivery_depot_code: Option<String>,
    /// Consignments this depot collects.
    pub collecting_depot_code: Option<String>,
    /// Changed at or after this UK local time (`yyyy-MM-ddTHH:mm:ss`).
    pub min_last_updated: Option<jiff::civil::DateTime>,
    /// Seen `searchTerm`: number, reference, barcode or id.
    pub search_term: Option<String>,
    /// Seen `customerID`.
    pub customer_id: Option<i64>,
    /// Seen `statusID` (repeated).
    pub status_ids: Vec<u16>,
    /// Seen `minCreatedDate`.
    pub min_created_date: Option<Date>,
}

impl ConsignmentQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key, value));
            }
        };
        push("deliveryDepotCode", self.delivery_depot_code.clone());
        push("collectingDepotCode", self.collecting_depot_code.clone());
        push("minLastUpdated", self.min_last_updated.map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string()));
        push("searchTerm", self.search_term.clone());
        push("customerID", self.customer_id.map(|id| id.to_string()));
        push("minCreatedDate", self.min_created_date.map(|d| d.to_string()));
        for status in &self.status_ids {
            pairs.push(("statusID", status.to_string()));
        }
        pairs
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items that could be read.
    pub items: Vec<T>,
    /// `X-Total-Count` (or an envelope's total), when Nexus sends it.
    pub total_count: Option<u64>,
    /// Records on the page, readable or not: what the paging advances by.
    pub received: usize,
    /// Records on the page that could not be read: each logged (index, reason) and left out.
    pub skipped: usize,
}

/// Label formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelFormat {
    /// A PDF, one 6×4 in page per pallet.
    Pdf,
    /// ZPL for thermal printers, one `^XA…^XZ` block per pallet.
    Zpl,
}

impl LabelFormat {
    /// The `format=` value.
    pub fn query_value(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "pdf",
            LabelFormat::Zpl => "zpl",
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        self.query_value()
    }
}

/// A file fetched from Nexus, typed by its bytes: a label asked for as PDF may come back as a PNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// MIME type read from the bytes (PDF, PNG, JPEG, GIF, ZPL); Nexus's `Content-Type` when the
    /// bytes are none of those.
    pub content_type: String,
    /// MIME type as Nexus sent it.
    pub declared_content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl FetchedFile {
    /// A file of `bytes`, typed by them (see [`tolerant::sniff`]), else by `declared`.
    pub fn new(declared: &str, bytes: Vec<u8>) -> FetchedFile {
        let content_type = match tolerant::sniff(&bytes) {
            // ZPL is text: Nexus's own text type (with its charset) is kept.
            Some((_, "zpl")) if declared.trim().to_ascii_lowercase().starts_with("text/") => declared.to_owned(),
            Some((detected, _)) => detected.to_owned(),
            None => declared.to_owned(),
        };
        FetchedFile { content_type, declared_content_type: declared.to_owned(), bytes }
    }

    /// The file extension of what the bytes are (`pdf`, `png`, `jpg`, `gif`, `zpl`), else of the
    /// declared type (`bin` when unknown).
    pub fn extension(&self) -> &'static str {
        match tolerant::sniff(&self.bytes) {
            Some((_, extension)) => extension,
            None => tolerant::extension_of(&self.content_type),
        }
    }
}

/// An attachment to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentUpload {
    /// Its kind.
    pub kind: DocumentKind,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Signatory, for MPOD.
    pub signed_by: Option<String>,
    /// When captured, UK local time.
    pub captured_at: Option<jiff::civil::DateTime>,
}

/// A scan or status this depot performed, for `POST consignments/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPost {
    /// Pallet barcode (one event per pallet).
    pub barcode: String,
    /// Scan code.
    pub code: String,
    /// When, UK local time.
    pub event_date_time: jiff::civil::DateTime,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeatable {
    /// Reads, cancel, ETA: the same request twice has the effect of once.
    Yes,
    /// Creates, event and attachment posts: only re-sent when Nexus surely did not act.
    No,
}

/// A delta listing of `GET consignments` by `minLastUpdated`, read page by page. After a full page
/// it carries on from the last `lastUpdated` read (skipping the consignments of that instant already
/// read) rather than by a growing offset, so a consignment that changes during the listing moves
/// to the end instead of pushing an unread one out of reach. Ends after a short page or when
/// `X-Total-Count` says everything was read.
#[derive(Debug)]
pub struct ChangedPages<'a> {
    client: &'a NexusClient,
    query: ConsignmentQuery,
    page_size: u32,
    offset: u64,
    done: bool,
    skipped: usize,
}

impl ChangedPages<'_> {
    /// Records left out so far because they could not be read (each logged with its index).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The next page, or `None` when the listing is complete. Each call is one Nexus request.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Consignment>>, NexusError> {
        if self.done {
            return Ok(None);
        }
        let page = self.client.list_consignments(&self.query, self.page_size, self.offset).await?;
        self.skipped += page.skipped;
        // Unreadable records count as read for paging (they were on the page), and the tie count
        // below sees only readable ones, so a skipped record can only make a record be read twice.
        let fetched = page.received as u64;
        let all_read = page.total_count.is_some_and(|total| self.offset + fetched >= total);
        if fetched < u64::from(self.page_size) || all_read {
            self.done = true;
            return Ok(Some(page.items));
        }
        let last = page.items.last().and_then(|c| c.last_updated);
        match last {
            Some(last) if self.query.min_last_updated.is_some_and(|min| last > min) => {
                let ties = page.items.iter().rev().take_while(|c| c.last_updated == Some(last)).count();
                self.query.min_last_updated = Some(last);
                self.offset = ties as u64;
            }
            _ => self.offset += fetched,
        }
        Ok(Some(page.items))
    }
}

/// A client for one Nexus API user.
#[derive(Debug)]
pub struct NexusClient {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    optimize_key: Option<Secret>,
    retry: RetryPolicy,
    /// This API user's request budget (shared by every function instance when it draws on the store).
    pacer: Arc<Pacer>,
    session: Mutex<Option<Session>>,
    /// `consignmentAttachmentTypes`, id → code, read once when an attachment list gives only ids.
    attachment_types: tokio::sync::OnceCell<BTreeMap<i64, String>>,
    /// `consignmentStatuses`, id → name, read once when a consignment's status comes without a name.
    status_names: tokio::sync::OnceCell<BTreeMap<i64, String>>,
}

impl NexusClient {
    /// A client for `credentials` on the API at `base_url` (ending in `/v1/`).
    pub fn new(base_url: &str, credentials: Credentials, retry: RetryPolicy) -> NexusClient {
        let http = retry.http_client();
        let base_url = base_with_slash(base_url);
        NexusClient {
            http,
            base_url,
            credentials,
            optimize_key: None,
            retry,
            pacer: Arc::new(Pacer::unpaced()),
            session: Mutex::new(None),
            attachment_types: tokio::sync::OnceCell::new(),
            status_names: tokio::sync::OnceCell::new(),
        }
    }

    /// Adds the Optimize module's key, which ETA pushes need.
    pub fn with_optimize_key(mut self, key: Option<Secret>) -> NexusClient {
        self.optimize_key = key;
        self
    }

    /// Paces this user's requests with `pacer` (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> NexusClient {
        self.pacer = pacer;
        self
    }

    /// Whether this user's request budget is spent for now: a run should start no new work (what
    /// it leaves is for the next run).
    pub fn budget_spent(&self) -> bool {
        self.pacer.is_spent()
    }

    /// Opens the user's session now if it has none (a cold start overlaps it with other work);
    /// a failure is logged, and the next call tries again and reports it.
    pub async fn log_in_ahead(&self) {
        if let Err(err) = self.bearer(Instant::now()).await {
            tracing::debug!(user = %self.credentials.username, error = %err, "Nexus login ahead of the first call failed");
        }
    }

    /// The API user this client logs in as.
    pub fn username(&self) -> &str {
        &self.credentials.username
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    // ---- the token source ------------------------------------------------------------------------

    /// A bearer token and its session generation; logs in or refreshes when there is none or it is
    /// about to expire. Holding the lock across the login makes concurrent callers share it.
    async fn bearer(&self, started: Instant) -> Result<(Secret, u64), NexusError> {
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_ref()
            && current.expires > Instant::now() + current.renew_margin
        {
            return Ok((current.bearer.clone(), current.generation));
        }
        let generation = session.as_ref().map_or(1, |s| s.generation + 1);
        let refreshed = match session.as_ref().and_then(|s| s.refresh.clone()) {
            Some(refresh) => self.refresh_session(&refresh, started).await.ok(),
            None => None,
        };
        let tokens = match refreshed {
            Some(tokens) => tokens,
            None => self.login(started).await?,
        };
        // Clamped to a day: a lifetime from outside must not overflow the clock.
        let seconds = token_seconds(tokens.expires_in);
        let fresh = Session {
            bearer: Secret::new(tokens.bearer_token),
            refresh: tokens.refresh_token.map(Secret::new),
            expires: Instant::now() + Duration::from_secs(seconds),
            renew_margin: RENEW_MARGIN.min(Duration::from_secs(seconds) / 10),
            generation,
        };
        let answer = (fresh.bearer.clone(), generation);
        *session = Some(fresh);
        Ok(answer)
    }

    /// Forgets the session `generation` after a 401 on it; a newer session is kept.
    async fn invalidate(&self, generation: u64) {
        let mut session = self.session.lock().await;
        if session.as_ref().is_some_and(|s| s.generation == generation) {
            // Keep the generation counting up, but no usable token or refresh token.
            *session = Some(Session {
                bearer: Secret::new(""),
                refresh: None,
                expires: Instant::now(),
                renew_margin: Duration::ZERO,
                generation,
            });
        }
    }

    async fn login(&self, started: Instant) -> Result<TokenResponse, NexusError> {
        self.asking_again_if_unreadable(|| self.login_once(started)).await
    }

    async fn login_once(&self, started: Instant) -> Result<TokenResponse, NexusError> {
        let body = LoginRequest { username: &self.credentials.username, password: self.credentials.password.expose() };
        let response = self
            .send_with_retries(started, Repeatable::Yes, || self.http.post(self.url("Account/login")).json(&body))
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let problem = read_problem(response).await;
            return Err(NexusError::Unauthorized {
                username: self.credentials.username.clone(),
                title: problem.title.unwrap_or_else(|| "Invalid username or password.".into()),
            });
        }
        decode(ensure_success(response, "login").await?).await
    }

    async fn refresh_session(&self, refresh: &Secret, started: Instant) -> Result<TokenResponse, NexusError> {
        self.asking_again_if_unreadable(|| self.refresh_once(refresh, started)).await
    }

    async fn refresh_once(&self, refresh: &Secret, started: Instant) -> Result<TokenResponse, NexusError> {
        let body = RefreshRequest { refresh_token: refresh.expose() };
        let response = self
            .send_with_retries(started, Repeatable::Yes, || self.http.post(self.url("Account/refresh")).json(&body))
            .await?;
        decode(ensure_success(response, "token refresh").await?).await
    }

    // ---- sending ---------------------------------------------------------------------------------

    /// Sends the request `build` makes until it gets an answer worth returning: success or a
    /// definite refusal. Retries transient failures within the policy.
    async fn send_with_retries(
        &self,
        started: Instant,
        repeatable: Repeatable,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, NexusError> {
        let spent = std::sync::Mutex::new(None);
        let sent = with_retries(&self.retry, started, |_| async {
            if let Err(budget) = self.pacer.turn().await {
                *spent.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(budget);
                return Attempt::Stop(budget.to_string());
            }
            match build().send().await {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    // The user's limit: every request of this user waits, not just this one.
                    let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                    self.pacer.hold(wait);
                    Attempt::Retry { failure: "429 rate limited".into(), wait: Some(wait) }
                }
                sent => Attempt::classify(sent, repeatable == Repeatable::Yes),
            }
        })
        .await;
        // Out of turns, or refused with a 429 whose pause outlasts a call's wait: the budget is spent.
        let spent = spent.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).map(|budget| budget.wait);
        sent.map_err(|gave_up| match spent.or_else(|| self.pacer.spent_for()) {
            Some(wait) => NexusError::BudgetSpent { username: self.credentials.username.clone(), wait },
            None => {
                NexusError::Unavailable { attempts: gave_up.attempts, elapsed: gave_up.elapsed, last: gave_up.last }
            }
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry.backoff(attempt)
    }

    /// An authenticated call: adds the bearer, logs in again on 401 (up to [`TOKEN_RENEWALS`]
    /// times: a token another caller just fetched may be the one that died), maps refusals to
    /// errors.
    async fn call(
        &self,
        what: &str,
        repeatable: Repeatable,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, NexusError> {
        let started = Instant::now();
        let mut renewals = 0;
        loop {
            let (bearer, generation) = self.bearer(started).await?;
            let response =
                self.send_with_retries(started, repeatable, || build(&self.http).bearer_auth(bearer.expose())).await?;
            if response.status() == StatusCode::UNAUTHORIZED && renewals < TOKEN_RENEWALS {
                renewals += 1;
                self.invalidate(generation).await;
                continue;
            }
            if response.status() == StatusCode::UNAUTHORIZED {
                let problem = read_problem(response).await;
                return Err(NexusError::Unauthorized {
                    username: self.credentials.username.clone(),
                    title: problem.title.unwrap_or_else(|| "token refused".into()),
                });
            }
            return ensure_success(response, what).await;
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        what: &str,
        repeatable: Repeatable,
        build: impl Fn(&reqwest::Client) -> RequestBuilder + Clone,
    ) -> Result<T, NexusError> {
        self.call_json_with_headers(what, repeatable, build).await.map(|(body, _)| body)
    }

    /// An authenticated call whose JSON answer is decoded, with the answer's headers. An
    /// unreadable body on a repeatable call is re-fetched whole.
    async fn call_json_with_headers<T: DeserializeOwned>(
        &self,
        what: &str,
        repeatable: Repeatable,
        build: impl Fn(&reqwest::Client) -> RequestBuilder + Clone,
    ) -> Result<(T, reqwest::header::HeaderMap), NexusError> {
        let fetch = || async {
            let response = self.call(what, repeatable, build.clone()).await?;
            let headers = response.headers().clone();
            decode(response).await.map(|body| (body, headers))
        };
        match repeatable {
            Repeatable::Yes => self.asking_again_if_unreadable(fetch).await,
            Repeatable::No => fetch().await,
        }
    }

    /// Runs `fetch` again while its answer is unreadable (cut short, not JSON), within the retry
    /// policy: for calls that can be asked again (reads, logins).
    async fn asking_again_if_unreadable<T, Fetched>(&self, mut fetch: impl FnMut() -> Fetched) -> Result<T, NexusError>
    where
        Fetched: Future<Output = Result<T, NexusError>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match fetch().await {
                Err(NexusError::Malformed(reason))
                    if attempt < self.retry.max_attempts && started.elapsed() < self.retry.budget =>
                {
                    tracing::debug!(attempt, %reason, "unreadable Nexus answer; asking again");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    // ---- the routes ------------------------------------------------------------------------------

    /// `POST Consignments`: books a consignment. Not repeated on an unknown outcome; Nexus's
    /// duplicate-number 409 makes a repeat by the caller safe.
    ///
    /// The answer is the full consignment, or (as seen in public code) only `consignmentID` and
    /// `successfulTrackingCodes`, or a bare id: then the consignment is read back with its pallets.
    pub async fn create_consignment(&self, body: &CreateConsignment) -> Result<Consignment, NexusError> {
        let answer: serde_json::Value = self
            .call_json("create consignment", Repeatable::No, |http| http.post(self.url("Consignments")).json(body))
            .await?;
        let full_read = match tolerant::from_value::<Consignment>(answer.clone()) {
            Ok(consignment) => return Ok(consignment),
            Err(reason) => reason,
        };
        let created = created_id(answer).map_err(|shape| {
            NexusError::Malformed(format!(
                "the create answer is neither a consignment ({full_read}) nor holds a consignmentID: {shape}"
            ))
        })?;
        tracing::debug!(id = created.consignment_id, "the create answer was short; reading the consignment");
        let mut full = self.consignment(NexusConsignmentId(created.consignment_id), &["pallets"]).await?;
        if full.successful_tracking_codes.is_empty() {
            full.successful_tracking_codes = created.successful_tracking_codes;
        }
        Ok(full)
    }

    /// `GET consignments/{id}`, with `include=` parts (e.g. `pallets,events,attachments,routedetails`).
    pub async fn consignment(&self, id: NexusConsignmentId, include: &[&str]) -> Result<Consignment, NexusError> {
        let include = include.join(",");
        let mut consignment = self
            .call_json(&format!("consignment {id}"), Repeatable::Yes, |http| {
                let request = http.get(self.url(&format!("consignments/{id}")));
                if include.is_empty() { request } else { request.query(&[("include", &include)]) }
            })
            .await?;
        self.name_statuses(std::slice::from_mut(&mut consignment)).await;
        Ok(consignment)
    }

    /// Names the statuses read without a name from the seen `consignmentStatuses` lookup (read once
    /// per client), so that a status is told by the name Nexus gives its id, never by a numbering
    /// the bridge assumed. A lookup that cannot be read leaves them as read, and says so in the log.
    async fn name_statuses(&self, consignments: &mut [Consignment]) {
        if consignments.iter().all(|c| !c.status.name.trim().is_empty()) {
            return;
        }
        let names = self
            .status_names
            .get_or_try_init(|| async {
                let rows = self.lookup("consignmentStatuses", None).await?;
                Ok::<_, NexusError>(
                    rows.iter()
                        .filter_map(|row| Some((lookup_id(row)?, row.name.clone()?)))
                        .collect::<BTreeMap<_, _>>(),
                )
            })
            .await;
        let names = match names {
            Ok(names) => names,
            Err(err) => {
                tracing::warn!(error = %err, "consignmentStatuses could not be read: statuses without a name stay unnamed");
                return;
            }
        };
        for consignment in consignments.iter_mut().filter(|c| c.status.name.trim().is_empty()) {
            if let Some(name) = names.get(&consignment.status.id) {
                consignment.status.name = name.clone();
            }
        }
    }

    /// One page of `GET consignments`.
    pub async fn list_consignments(
        &self,
        query: &ConsignmentQuery,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Consignment>, NexusError> {
        let mut pairs = query.pairs();
        pairs.push(("limit", limit.to_string()));
        pairs.push(("offset", offset.to_string()));
        let (answer, headers) = self
            .call_json_with_headers("list consignments", Repeatable::Yes, |http| {
                http.get(self.url("consignments")).query(&pairs)
            })
            .await?;
        let mut listed = read_list::<Consignment>(answer, "consignments")?;
        self.name_statuses(&mut listed.items).await;
        let total_count = headers
            .get("x-total-count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok())
            .or(listed.total);
        Ok(Page { items: listed.items, total_count, received: listed.received, skipped: listed.skipped })
    }

    /// Every consignment matching `query`, paged by `page_size` until a short page.
    pub async fn list_all_consignments(
        &self,
        query: &ConsignmentQuery,
        page_size: u32,
    ) -> Result<Vec<Consignment>, NexusError> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.list_consignments(query, page_size, offset).await?;
            offset += page.received as u64;
            let short = (page.received as u32) < page_size;
            all.extend(page.items);
            if short {
                return Ok(all);
            }
        }
    }

    /// The consignments changed at or after `since`, page by page (see [`ChangedPages`]).
    pub fn changed_since(&self, since: jiff::civil::DateTime, page_size: u32) -> ChangedPages<'_> {
        ChangedPages {
            client: self,
            query: ConsignmentQuery { min_last_updated: Some(since), ..ConsignmentQuery::default() },
            page_size: page_size.clamp(1, 100),
            offset: 0,
            done: false,
            skipped: 0,
        }
    }

    /// `GET consignments/{id}/labels` in `format`, for one pallet or all.
    pub async fn labels(
        &self,
        id: NexusConsignmentId,
        format: LabelFormat,
        pallet_id: Option<i64>,
    ) -> Result<FetchedFile, NexusError> {
        let response = self
            .call(&format!("labels of {id}"), Repeatable::Yes, |http| {
                let request =
                    http.get(self.url(&format!("consignments/{id}/labels"))).query(&[("format", format.query_value())]);
                match pallet_id {
                    Some(pallet) => request.query(&[("palletID", pallet)]),
                    None => request,
                }
            })
            .await?;
        fetched(response).await
    }

    /// `POST consignments/{id}/cancel`.
    pub async fn cancel(&self, id: NexusConsignmentId) -> Result<(), NexusError> {
        self.call(&format!("cancel {id}"), Repeatable::Yes, |http| {
            http.post(self.url(&format!("consignments/{id}/cancel")))
        })
        .await
        .map(drop)
    }

    /// `GET consignments/{id}/events`, oldest first.
    /// An unreadable event is logged and left out.
    pub async fn events(&self, id: NexusConsignmentId) -> Result<Vec<Event>, NexusError> {
        let answer = self
            .call_json(&format!("events of {id}"), Repeatable::Yes, |http| {
                http.get(self.url(&format!("consignments/{id}/events")))
            })
            .await?;
        read_list(answer, &format!("events of {id}")).map(|listed| listed.items)
    }

    /// `POST consignments/{id}/events`: a scan this depot performed.
    pub async fn post_event(&self, id: NexusConsignmentId, event: &EventPost) -> Result<(), NexusError> {
        self.call(&format!("post event on {id}"), Repeatable::No, |http| {
            http.post(self.url(&format!("consignments/{id}/events"))).json(event)
        })
        .await
        .map(drop)
    }

    /// `GET consignments/{id}/attachments`.
    /// An unreadable attachment is logged and left out. An item that gives only its type's id (the
    /// seen `attachmentTypeID`) gets its code from the `consignmentAttachmentTypes` lookup, read
    /// once per client.
    pub async fn attachments(&self, id: NexusConsignmentId) -> Result<Vec<Attachment>, NexusError> {
        let answer = self
            .call_json(&format!("attachments of {id}"), Repeatable::Yes, |http| {
                http.get(self.url(&format!("consignments/{id}/attachments")))
            })
            .await?;
        let mut attachments = read_list::<Attachment>(answer, &format!("attachments of {id}"))?.items;
        for attachment in &mut attachments {
            if attachment.attachment_type.code.trim().is_empty()
                && let Some(type_id) = attachment.attachment_type_id.or(attachment.attachment_type.id)
            {
                let types = self
                    .attachment_types
                    .get_or_try_init(|| async {
                        let rows = self.lookup("consignmentAttachmentTypes", None).await?;
                        Ok::<_, NexusError>(attachment_type_codes(&rows))
                    })
                    .await?;
                if let Some(code) = types.get(&type_id) {
                    attachment.attachment_type.code = code.clone();
                }
            }
        }
        Ok(attachments)
    }

    /// `GET attachments/{id}/content`.
    pub async fn attachment_content(&self, attachment_id: i64) -> Result<FetchedFile, NexusError> {
        let response = self
            .call(&format!("attachment {attachment_id}"), Repeatable::Yes, |http| {
                http.get(self.url(&format!("attachments/{attachment_id}/content")))
            })
            .await?;
        fetched(response).await
    }

    /// An attachment by the `url` its listing gives (seen: the link "points directly to the
    /// attachment"), for a Nexus without `attachments/{id}/content`. A link on the API's own host
    /// is fetched with the depot's token; a link elsewhere (a storage host) without it, so the token
    /// never leaves Nexus.
    pub async fn attachment_by_url(&self, url: &str) -> Result<FetchedFile, NexusError> {
        let base = reqwest::Url::parse(&self.base_url).map_err(|err| NexusError::Malformed(err.to_string()))?;
        let target = base
            .join(url)
            .map_err(|err| NexusError::Malformed(format!("attachment url {:?}: {err}", crate::error::shown(url))))?;
        let same_host = (target.scheme(), target.host_str(), target.port_or_known_default())
            == (base.scheme(), base.host_str(), base.port_or_known_default());
        let what = "attachment by url";
        let response = if same_host {
            self.call(what, Repeatable::Yes, |http| http.get(target.clone())).await?
        } else {
            let started = Instant::now();
            let response = self.send_with_retries(started, Repeatable::Yes, || self.http.get(target.clone())).await?;
            if !response.status().is_success() {
                return Err(NexusError::Malformed(format!(
                    "{what}: {} answered {}",
                    target.host_str().unwrap_or("?"),
                    response.status()
                )));
            }
            response
        };
        fetched(response).await
    }

    /// `POST consignments/{id}/attachments` (multipart).
    pub async fn upload_attachment(
        &self,
        id: NexusConsignmentId,
        upload: &AttachmentUpload,
    ) -> Result<Attachment, NexusError> {
        self.call_json(&format!("upload attachment to {id}"), Repeatable::No, |http| {
            let file = reqwest::multipart::Part::bytes(upload.bytes.clone())
                .file_name(upload.file_name.clone())
                .mime_str(&upload.content_type)
                .unwrap_or_else(|_| {
                    reqwest::multipart::Part::bytes(upload.bytes.clone()).file_name(upload.file_name.clone())
                });
            let mut form =
                reqwest::multipart::Form::new().text("attachmentTypeCode", upload.kind.code()).part("file", file);
            if let Some(signed_by) = &upload.signed_by {
                form = form.text("signedBy", signed_by.clone());
            }
            if let Some(captured_at) = upload.captured_at {
                form = form.text("capturedAt", captured_at.strftime("%Y-%m-%dT%H:%M:%S").to_string());
            }
            http.post(self.url(&format!("consignments/{id}/attachments"))).multipart(form)
        })
        .await
    }

    /// `PUT consignments/{id}/eta` with the Optimize key.
    pub async fn put_eta(&self, id: NexusConsignmentId, eta: &EtaUpdate) -> Result<(), NexusError> {
        let key = self.optimize_key.clone().ok_or_else(|| NexusError::Rejected {
            status: 0,
            title: "no Optimize API key is configured: ETA export is off".into(),
            field_errors: Default::default(),
        })?;
        self.call(&format!("ETA of {id}"), Repeatable::Yes, |http| {
            http.request(Method::PUT, self.url(&format!("consignments/{id}/eta")))
                .header(OPTIMIZE_KEY_HEADER, key.expose())
                .json(eta)
        })
        .await
        .map(drop)
    }

    /// A lookup table (`consignmentStatuses`, `services`, `palletTypes`, …), all pages.
    pub async fn lookup(&self, table: &str, search_term: Option<&str>) -> Result<Vec<LookupRow>, NexusError> {
        let mut rows: Vec<LookupRow> = Vec::new();
        let mut received = 0;
        loop {
            let offset = received.to_string();
            let answer = self
                .call_json(&format!("lookup {table}"), Repeatable::Yes, |http| {
                    let request = http.get(self.url(table)).query(&[("limit", "100"), ("offset", offset.as_str())]);
                    match search_term {
                        Some(term) => request.query(&[("searchTerm", term)]),
                        None => request,
                    }
                })
                .await?;
            let page = read_list::<LookupRow>(answer, table)?;
            received += page.received;
            let short = page.received < 100;
            rows.extend(page.items);
            if short {
                return Ok(rows);
            }
        }
    }
}

/// A token's lifetime in seconds as Nexus states it, believed only between a second and a day (the
/// seen hour when it says nothing), so no answer can overflow the clock.
fn token_seconds(expires_in: Option<i64>) -> u64 {
    expires_in.unwrap_or(DEFAULT_TOKEN_SECONDS).clamp(1, MAX_TOKEN_SECONDS) as u64
}

/// A lookup row's id, as a number or a numeric string.
fn lookup_id(row: &LookupRow) -> Option<i64> {
    match &row.id {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The attachment type code of each `consignmentAttachmentTypes` row, by id: its `code`, else its
/// name when that is a code (`MPOD`, `POD`, `MPODPHOTOE`), else the evidence kind its name
/// describes (a signature, a photo, a delivery note); rows that are none of these are left out.
pub fn attachment_type_codes(rows: &[LookupRow]) -> BTreeMap<i64, String> {
    let mut codes = BTreeMap::new();
    for row in rows {
        let Some(id) = lookup_id(row) else { continue };
        let named = |text: &str| {
            let text = text.trim();
            if let Ok(kind) = text.parse::<DocumentKind>() {
                return Some(kind);
            }
            let lower = text.to_ascii_lowercase();
            if lower.contains("signature") {
                Some(DocumentKind::Mpod)
            } else if lower.contains("photo") {
                Some(DocumentKind::PalletPhoto)
            } else if lower.contains("delivery note") || lower.contains("proof of delivery") {
                Some(DocumentKind::Pod)
            } else {
                None
            }
        };
        let code = row.code.as_deref().filter(|code| !code.trim().is_empty()).map(|code| code.trim().to_owned());
        match code.or_else(|| row.name.as_deref().and_then(named).map(|kind| kind.code().to_owned())) {
            Some(code) => {
                codes.insert(id, code);
            }
            None => continue,
        }
    }
    codes
}

/// The header that carries the Optimize module's key on ETA pushes.
pub const OPTIMIZE_KEY_HEADER: &str = "X-Optimize-Key";

async fn read_problem(response: Response) -> ProblemDetails {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let read = serde_json::from_str::<serde_json::Value>(&text).map_err(|err| err.to_string());
    read.and_then(|value| match value {
        serde_json::Value::Object(_) => tolerant::from_value::<ProblemDetails>(value),
        other => Err(tolerant::shape(&other)),
    })
    .unwrap_or_else(|_| ProblemDetails {
        title: Some(if text.trim().is_empty() { status.to_string() } else { text.chars().take(300).collect() }),
        status: Some(status.as_u16()),
        ..ProblemDetails::default()
    })
}

/// Passes a success through; maps a refusal to its error.
async fn ensure_success(response: Response, what: &str) -> Result<Response, NexusError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let problem = read_problem(response).await;
    let title = problem.title.or(problem.detail).unwrap_or_else(|| status.to_string());
    Err(match status {
        StatusCode::NOT_FOUND => NexusError::NotFound { what: what.to_owned() },
        StatusCode::CONFLICT => NexusError::Conflict { title, field_errors: problem.errors },
        _ => NexusError::Rejected { status: status.as_u16(), title, field_errors: problem.errors },
    })
}

/// Reads a JSON answer tolerantly (see [`tolerant::from_value`]).
async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, NexusError> {
    let bytes = response.bytes().await.map_err(|err| NexusError::Malformed(format!("body cut short: {err}")))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|err| NexusError::Malformed(format!("{err}")))?;
    tolerant::from_value(value).map_err(NexusError::Malformed)
}

/// A list answer, bare or in an envelope; unreadable records skipped (see [`tolerant::list`]).
fn read_list<T: DeserializeOwned>(answer: serde_json::Value, what: &str) -> Result<tolerant::Listed<T>, NexusError> {
    tolerant::list(answer, what).map_err(NexusError::Malformed)
}

/// What a short create answer holds.
#[derive(Debug, serde::Deserialize)]
struct Created {
    #[serde(rename = "consignmentID")]
    consignment_id: i64,
    #[serde(default, rename = "successfulTrackingCodes")]
    successful_tracking_codes: Vec<String>,
}

/// The id of a short create answer: `{consignmentID, successfulTrackingCodes?}`, or a bare id.
fn created_id(answer: serde_json::Value) -> Result<Created, String> {
    match answer {
        serde_json::Value::Object(_) => tolerant::from_value::<Created>(answer),
        serde_json::Value::Number(_) | serde_json::Value::String(_) => tolerant::from_value::<i64>(answer.clone())
            .map(|consignment_id| Created { consignment_id, successful_tracking_codes: Vec::new() })
            .map_err(|_| tolerant::shape(&answer)),
        other => Err(tolerant::shape(&other)),
    }
}

async fn fetched(response: Response) -> Result<FetchedFile, NexusError> {
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let bytes = read_capped(response, MAX_DOWNLOAD_BYTES).await.map_err(|failed| match failed {
        ReadFailed::TooLarge(reason) => NexusError::TooLarge(reason),
        ReadFailed::CutShort(reason) => NexusError::Malformed(format!("body cut short: {reason}")),
    })?;
    Ok(FetchedFile::new(&declared, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_from_outside_is_bounded() {
        assert_eq!(token_seconds(Some(i64::MAX)), 86_400);
        assert_eq!(token_seconds(Some(-5)), 1);
        assert_eq!(token_seconds(None), 3600);
        assert_eq!(token_seconds(Some(1800)), 1800);
    }
}
