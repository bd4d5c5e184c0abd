//! `bridge-ops nexus-check`: first contact with a Nexus API in one command. It logs in with one
//! depot's credentials, reads the seen lookups, and probes each [`Capability`] the bridge can use
//! beyond what public code shows of Nexus (research notes §1.9), deciding each from evidence:
//!
//! | capability | probe (no side effects) | found when |
//! |---|---|---|
//! | `delta-listing` | `GET consignments?minLastUpdated=<far future>` against the plain list; `lastUpdated` in a listed consignment | the filter changes the answer and the field exists |
//! | `depot-filters` | `deliveryDepotCode` / `collectingDepotCode` = a code no depot has, against the plain list | both change the answer (an ignored key gives the same answer) |
//! | `depot-fields` | `network`, `requestingDepotCode`, `collectingDepotCode`, `deliveryDepotCode` in a listed consignment | all four are there |
//! | `pallets-field` | `pallets[]` in a listed consignment | it is an array |
//! | `events-read` | `GET consignments/{id}/events` of a listed consignment | 200 |
//! | `events-write`, `cancel`, `eta`, `attachment-upload` | `POST consignments/0/events` (`[]`), `POST consignments/0/cancel`, `PUT consignments/0/eta` (no Optimize key), `POST consignments/0/attachments` (JSON, not multipart): id 0 exists nowhere, so nothing can change | the answer differs from what a path no route matches gets (a control request to `consignments/0/nexus-check-no-such-route` with the same method): an entity 404 as ProblemDetails, 400, 401, 415 … mean the route exists; a bare 404 like the control, or 405, mean it does not |
//! | `attachment-content` | `GET attachments/0/content`, judged the same way | as above |
//! | `page-100` | `GET consignments?limit=100`; when fewer come back, `offset=<count>` | 100 come back (not found when the next page holds others; unknown when fewer than 100 exist) |
//! | `full-create-answer` | only with `--book`: the create answer | it carries more than `consignmentID` and `successfulTrackingCodes` |
//!
//! Beside the capabilities it reports the shapes it saw: datetimes with or without an offset and
//! fractional seconds, ids as numbers or strings, bare array or envelope, property-name case,
//! `X-Total-Count`, the status ids of `consignmentStatuses`, the token answer, what an unknown path
//! and a missing consignment answer, and the label format (sniffed from the bytes of the labels of a
//! listed consignment that is past `Booked`, so getting them cannot manifest anything).
//!
//! With `--book` (refused against the LIVE host `rest-api-nexus.pallex.com`) it books a test
//! consignment with the seen create fields only (§1.6), fetches its labels and cancels it, reporting
//! each step; where there is no cancel route it says to cancel by hand.
//!
//! The requests are raw (`reqwest`), not the bridge's `NexusClient`: the point is to see the raw
//! shapes, which the client would normalise or refuse. A 429 or 503 is waited out (its
//! `Retry-After`, at most three tries).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use super::OpsError;
use crate::config::Secret;
use crate::nexus::capabilities::{Capabilities, Capability};

/// The LIVE Nexus host; `--book` is refused against it.
pub const LIVE_HOST: &str = "rest-api-nexus.pallex.com";

/// A depot code no depot has, for the depot-filter probes.
pub const NO_SUCH_DEPOT: &str = "ZZZ999";

/// A `minLastUpdated` nothing can have been updated after.
pub const FAR_FUTURE: &str = "2999-12-31T00:00:00";

/// The last path segment of the control requests: no API has a route there.
pub const NO_SUCH_ROUTE: &str = "nexus-check-no-such-route";

/// What the check works from.
#[derive(Clone)]
pub struct CheckInput {
    /// The Nexus API base, e.g. `https://s-nexus-rest-api-test.pallex.com/v1/`.
    pub base_url: String,
    /// The depot's API user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// Book, label and cancel a test consignment (refused against [`LIVE_HOST`]).
    pub book: bool,
    /// The Nexus customer ID to book the test consignment for (`--customer-id`).
    pub customer_id: Option<String>,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for CheckInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckInput")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("book", &self.book)
            .field("customer_id", &self.customer_id)
            .finish_non_exhaustive()
    }
}

impl CheckInput {
    /// A check of `base_url` as `username`, without booking.
    pub fn new(base_url: impl Into<String>, username: impl Into<String>, password: Secret) -> CheckInput {
        CheckInput {
            base_url: base_url.into(),
            username: username.into(),
            password,
            book: false,
            customer_id: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether `base_url` is the LIVE Nexus host.
pub fn is_live_host(base_url: &str) -> bool {
    reqwest::Url::parse(base_url.trim())
        .ok()
        .and_then(|url| url.host_str().map(|h| h.trim_end_matches('.').eq_ignore_ascii_case(LIVE_HOST)))
        .unwrap_or_else(|| base_url.to_ascii_lowercase().contains(LIVE_HOST))
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The evidence shows the capability is there.
    Found,
    /// The evidence shows it is not (an ignored filter, a missing field, no route).
    NotFound,
    /// The evidence cannot tell (too little data, an unexpected answer, or not probed).
    Unknown,
}

impl Finding {
    /// The word printed in the text report.
    pub fn label(self) -> &'static str {
        match self {
            Finding::Found => "found",
            Finding::NotFound => "not found",
            Finding::Unknown => "unknown",
        }
    }
}

/// One capability's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityRow {
    /// The capability's name in `NEXUS_CAPABILITIES`, e.g. `delta-listing`.
    pub capability: String,
    /// What the probe found.
    pub finding: Finding,
    /// The requests and answers it was decided from.
    pub evidence: String,
}

/// One shape the check saw (informational; the bridge's client has to cope with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeRow {
    /// What, e.g. `datetimes`.
    pub shape: String,
    /// What was seen, e.g. `no offset, no fractional seconds`.
    pub seen: String,
    /// Where, with an example.
    pub evidence: String,
}

/// One step of `--book`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookStep {
    /// `book`, `labels`, `cancel` or `read back`.
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// What Nexus answered, and what to do when it did not work.
    pub detail: String,
}

/// Everything the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NexusCheckReport {
    /// The API checked.
    pub base_url: String,
    /// The user it logged in as.
    pub username: String,
    /// One row per capability, in [`Capability::ALL`] order.
    pub capabilities: Vec<CapabilityRow>,
    /// The shapes seen.
    pub shapes: Vec<ShapeRow>,
    /// The `--book` steps; empty without `--book`.
    pub booking: Vec<BookStep>,
    /// The capabilities found, as a comma list.
    pub found: String,
    /// The capabilities the evidence could not decide.
    pub unknown: Vec<String>,
    /// The `NEXUS_CAPABILITIES` value to deploy with: the found ones (`full`, `seen` or a list).
    pub setting: String,
}

impl NexusCheckReport {
    /// The row of `capability`.
    pub fn row(&self, capability: Capability) -> Option<&CapabilityRow> {
        self.capabilities.iter().find(|row| row.capability == capability.name())
    }

    /// The finding of `capability` (unknown when there is no row).
    pub fn finding(&self, capability: Capability) -> Finding {
        self.row(capability).map_or(Finding::Unknown, |row| row.finding)
    }

    /// The shape row named `shape`.
    pub fn shape(&self, shape: &str) -> Option<&ShapeRow> {
        self.shapes.iter().find(|row| row.shape == shape)
    }

    /// The report as text: the capability table, the shapes, the booking steps, the setting.
    pub fn render(&self) -> String {
        let mut text = format!("Nexus at {} as {}\n\n", self.base_url, self.username);
        text.push_str(&format!("{:<20} {:<10} {}\n", "capability", "result", "evidence"));
        for row in &self.capabilities {
            text.push_str(&format!("{:<20} {:<10} {}\n", row.capability, row.finding.label(), row.evidence));
        }
        text.push_str(&format!("\n{:<20} {}\n", "shape", "seen (evidence)"));
        for row in &self.shapes {
            text.push_str(&format!("{:<20} {} ({})\n", row.shape, row.seen, row.evidence));
        }
        if !self.booking.is_empty() {
            text.push_str("\n--book\n");
            for step in &self.booking {
                text.push_str(&format!(
                    "{:<20} {:<10} {}\n",
                    step.step,
                    if step.ok { "ok" } else { "FAILED" },
                    step.detail
                ));
            }
        }
        text.push_str(&format!("\nfound: {}\n", if self.found.is_empty() { "(none)" } else { &self.found }));
        if !self.unknown.is_empty() {
            text.push_str(&format!(
                "unknown: {} (left off; check by hand{})\n",
                self.unknown.join(","),
                if self.booking.is_empty() { ", or run with --book against a test host" } else { "" }
            ));
        }
        text.push_str(&format!("deploy with: NEXUS_CAPABILITIES={}\n", self.setting));
        text
    }
}

// ---- raw HTTP ------------------------------------------------------------------------------------

/// One raw answer.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    content_type: String,
    total_count: Option<String>,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.bytes).ok()
    }

    /// A ProblemDetails body (by media type, or a JSON object with `status` and `title`).
    fn is_problem(&self) -> bool {
        self.content_type.contains("problem+json")
            || self.json().is_some_and(|v| field(&v, "status").is_some() && field(&v, "title").is_some())
    }

    /// `404 ProblemDetails "Not Found"`, `404 (no body)`, `200 application/json`, …
    fn describe(&self) -> String {
        let code = self.status.as_u16();
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return format!("{code} (no body)");
        }
        if self.is_problem() {
            let body = self.json().unwrap_or(Value::Null);
            let title = text_of(field(&body, "title"));
            let detail = text_of(field(&body, "detail"));
            let errors = field(&body, "errors")
                .and_then(Value::as_object)
                .map(|e| format!(" errors {}", e.keys().cloned().collect::<Vec<_>>().join(",")))
                .unwrap_or_default();
            let detail = if detail.is_empty() { String::new() } else { format!(": {}", clip(&detail, 90)) };
            return format!("{code} ProblemDetails \"{title}\"{detail}{errors}");
        }
        let kind = self.content_type.split(';').next().unwrap_or("").trim();
        format!("{code} {}", if kind.is_empty() { "(no content type)" } else { kind })
    }

    /// What tells a "no route" answer apart: status, whether it is ProblemDetails, its title.
    fn signature(&self) -> (u16, bool, String) {
        let title =
            if self.is_problem() { text_of(self.json().as_ref().and_then(|v| field(v, "title"))) } else { "".into() };
        (self.status.as_u16(), self.is_problem(), title)
    }
}

struct Http {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Http {
    fn new(input: &CheckInput) -> Result<Http, OpsError> {
        let base = format!("{}/", input.base_url.trim().trim_end_matches('/'));
        let url = reqwest::Url::parse(&base).map_err(|err| OpsError::Invalid(format!("{base}: {err}")))?;
        let mut builder =
            reqwest::Client::builder().timeout(input.request_timeout).connect_timeout(Duration::from_secs(10));
        if matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "::1" | "[::1]")) {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|err| OpsError::Failed(format!("HTTP client: {err}")))?;
        Ok(Http { client, base, token: None })
    }

    /// `method` on `path` (relative to the base, query included), JSON `body` if any; a 429 or
    /// 503 is waited out (at most three tries).
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut tries = 0;
        loop {
            tries += 1;
            let mut request = self.client.request(method.clone(), &url).header("Accept", "application/json");
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|err| format!("{method} {path}: {err}"))?;
            let status = response.status();
            let wait =
                crate::http::retry_after(&response).unwrap_or(Duration::from_secs(2)).min(Duration::from_secs(30));
            if (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE) && tries < 3 {
                tokio::time::sleep(wait).await;
                continue;
            }
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let content_type = header("content-type").unwrap_or_default().to_ascii_lowercase();
            let total_count = header("x-total-count");
            let bytes = response.bytes().await.map_err(|err| format!("{method} {path}: {err}"))?.to_vec();
            return Ok(Answer { status, content_type, total_count, bytes });
        }
    }

    async fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, None).await
    }
}

// ---- JSON helpers --------------------------------------------------------------------------------

/// `value[key]`, the key matched case-insensitively.
fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn clip(text: &str, at: usize) -> String {
    if text.chars().count() <= at {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(at).collect::<String>())
    }
}

/// A list's items: a bare array, or the first array in an envelope object (`items`, `data`, …).
fn items_of(value: &Value) -> Option<(Vec<Value>, String)> {
    match value {
        Value::Array(items) => Some((items.clone(), "bare array".into())),
        Value::Object(map) => {
            let preferred = ["items", "data", "results", "value", "consignments", "records"];
            let found = preferred
                .iter()
                .find_map(|key| map.iter().find(|(k, v)| k.eq_ignore_ascii_case(key) && v.is_array()))
                .or_else(|| map.iter().find(|(_, v)| v.is_array()));
            found.map(|(key, v)| {
                let others: Vec<&String> = map.keys().filter(|k| *k != key).collect();
                (
                    v.as_array().cloned().unwrap_or_default(),
                    format!("envelope: items under \"{key}\" (beside {})", join_keys(others)),
                )
            })
        }
        _ => None,
    }
}

fn join_keys<'a>(keys: impl IntoIterator<Item = &'a String>) -> String {
    let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
    if keys.is_empty() { "nothing".into() } else { keys.join(", ") }
}

fn id_of(item: &Value) -> Option<String> {
    field(item, "consignmentID").map(|v| text_of(Some(v)))
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items.iter().filter_map(id_of).collect()
}

/// What a listed consignment's status is called (`Booked`, …).
fn status_name(item: &Value) -> String {
    match field(item, "status") {
        Some(status @ Value::Object(_)) => text_of(field(status, "name")),
        other => text_of(other),
    }
}

/// Every datetime-looking string in `value` (`yyyy-MM-ddTHH:mm…`).
fn datetimes(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let b = s.as_bytes();
            let digits =
                |range: std::ops::Range<usize>| range.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
            if b.len() >= 16
                && digits(0..4)
                && b[4] == b'-'
                && digits(5..7)
                && b[7] == b'-'
                && digits(8..10)
                && (b[10] == b'T' || b[10] == b' ')
                && digits(11..13)
                && b[13] == b':'
            {
                out.push(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| datetimes(v, out)),
        Value::Object(map) => map.values().for_each(|v| datetimes(v, out)),
        _ => {}
    }
}

/// `(offset kind, fractional digits)` of a datetime: `none` / `Z` / `+hh:mm`.
fn datetime_kind(text: &str) -> (String, usize) {
    let rest = &text[16..];
    let (time, offset) = if let Some(stripped) = rest.strip_suffix(['Z', 'z']) {
        (stripped, "Z".to_owned())
    } else if let Some(at) = rest.rfind(['+', '-']) {
        (&rest[..at], "±hh:mm".to_owned())
    } else {
        (rest, "no offset".to_owned())
    };
    let fraction = time.split_once('.').map_or(0, |(_, f)| f.chars().take_while(char::is_ascii_digit).count());
    (offset, fraction)
}

/// What the bytes are: PDF, ZPL, PNG, JPEG, GIF, JSON, HTML, or unknown.
fn sniff(bytes: &[u8]) -> &'static str {
    let start: Vec<u8> = bytes.iter().copied().skip_while(u8::is_ascii_whitespace).take(16).collect();
    if start.starts_with(b"%PDF") {
        "PDF"
    } else if start.starts_with(b"^XA") || start.starts_with(b"~") {
        "ZPL"
    } else if start.starts_with(b"\x89PNG") {
        "PNG"
    } else if start.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "JPEG"
    } else if start.starts_with(b"GIF8") {
        "GIF"
    } else if start.starts_with(b"{") || start.starts_with(b"[") || start.starts_with(b"\"") {
        "JSON"
    } else if start.to_ascii_lowercase().starts_with(b"<!doctype html")
        || start.to_ascii_lowercase().starts_with(b"<html")
    {
        "HTML"
    } else if bytes.is_empty() {
        "empty"
    } else {
        "unknown"
    }
}

// ---- the check -----------------------------------------------------------------------------------

/// Logs in, reads the lookups, probes every capability (module docs) and, with `--book`, books,
/// labels and cancels a test consignment. Fails only when `--book` is asked against LIVE, the base
/// URL is no URL, or the login does not work; every other problem is a row saying so.
pub async fn check_nexus(input: &CheckInput) -> Result<NexusCheckReport, OpsError> {
    if input.book && is_live_host(&input.base_url) {
        return Err(OpsError::Invalid(format!(
            "--book is refused against the LIVE host {LIVE_HOST}: it would book a real consignment; run it against \
             the TEST host (https://s-nexus-rest-api-test.pallex.com/v1/) or a simulator"
        )));
    }
    let mut http = Http::new(input)?;
    let mut shapes = Vec::new();
    let mut rows: Vec<(Capability, Finding, String)> = Vec::new();

    // Login.
    let login = http
        .send(
            Method::POST,
            "Account/login",
            Some(&json!({ "username": input.username, "password": input.password.expose() })),
        )
        .await
        .map_err(|err| OpsError::Failed(format!("Nexus could not be reached: {err}")))?;
    let answer = login.json().filter(|_| login.status.is_success()).ok_or_else(|| {
        OpsError::Failed(format!(
            "login as {} refused: POST Account/login answered {}",
            input.username,
            login.describe()
        ))
    })?;
    let token = ["bearerToken", "token", "accessToken", "access_token"]
        .iter()
        .find_map(|key| field(&answer, key).and_then(Value::as_str))
        .ok_or_else(|| {
            OpsError::Failed(format!("the login answer has no bearer token: {}", clip(&answer.to_string(), 200)))
        })?
        .to_owned();
    http.token = Some(token);
    let login_keys: Vec<String> = answer.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    shapes.push(ShapeRow {
        shape: "login answer".into(),
        seen: join_keys(&login_keys),
        evidence: format!("POST Account/login {}", login.status.as_u16()),
    });

    // Lookups.
    let mut lookup_notes = Vec::new();
    let mut status_ids: Vec<String> = Vec::new();
    let mut row_keys = String::new();
    for lookup in
        ["consignmentStatuses", "consignmentTypes", "consignmentAttachmentTypes", "countries", "currencyTypes"]
    {
        match http.get(&format!("{lookup}?limit=50")).await {
            Ok(answer) if answer.status.is_success() => {
                let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
                lookup_notes.push(format!("{lookup} {}", items.len()));
                if lookup == "consignmentStatuses" {
                    status_ids = items.iter().filter_map(|row| field(row, "id").map(|v| text_of(Some(v)))).collect();
                    row_keys =
                        items.first().and_then(Value::as_object).map(|m| join_keys(m.keys())).unwrap_or_default();
                }
            }
            Ok(answer) => lookup_notes.push(format!("{lookup} {}", answer.describe())),
            Err(err) => lookup_notes.push(format!("{lookup}: {err}")),
        }
    }
    shapes.push(ShapeRow {
        shape: "lookups".into(),
        seen: lookup_notes.join("; "),
        evidence: format!("GET <lookup>?limit=50; consignmentStatuses rows have {row_keys}"),
    });
    let numeric: Vec<i64> = status_ids.iter().filter_map(|id| id.parse().ok()).collect();
    shapes.push(ShapeRow {
        shape: "status ids".into(),
        seen: match (numeric.iter().min(), numeric.iter().max()) {
            (Some(min), Some(max)) => format!("{} statuses, ids {min}–{max}", status_ids.len()),
            _ => format!("{} statuses: {}", status_ids.len(), status_ids.join(",")),
        },
        evidence: "GET consignmentStatuses: the ids to map (the bridge must not assume 10–130)".into(),
    });

    // The plain list, and what an unknown path answers.
    let plain = http.get("consignments").await;
    let (items, list_shape) = match &plain {
        Ok(answer) if answer.status.is_success() => match answer.json().as_ref().and_then(items_of) {
            Some(found) => found,
            None => (Vec::new(), format!("not a list: {}", answer.describe())),
        },
        Ok(answer) => (Vec::new(), format!("GET consignments answered {}", answer.describe())),
        Err(err) => (Vec::new(), err.clone()),
    };
    let listed = ids_of(&items);
    shapes.push(ShapeRow {
        shape: "list shape".into(),
        seen: list_shape,
        evidence: format!(
            "GET consignments: {} consignments, X-Total-Count {}",
            items.len(),
            plain.as_ref().ok().and_then(|a| a.total_count.clone()).unwrap_or_else(|| "absent".into())
        ),
    });
    let first = items.first().cloned().unwrap_or(Value::Null);
    if let Some(map) = first.as_object() {
        let upper = map.keys().filter(|k| k.starts_with(|c: char| c.is_ascii_uppercase())).count();
        shapes.push(ShapeRow {
            shape: "property names".into(),
            seen: if upper == 0 {
                "camelCase".into()
            } else if upper == map.len() {
                "PascalCase".into()
            } else {
                format!("mixed ({upper} of {} start upper-case)", map.len())
            },
            evidence: format!(
                "consignment {}: {}",
                id_of(&first).unwrap_or_default(),
                clip(&join_keys(map.keys()), 160)
            ),
        });
        let id_kind = match field(&first, "consignmentID") {
            Some(Value::Number(_)) => "numbers",
            Some(Value::String(_)) => "strings",
            Some(_) => "neither numbers nor strings",
            None => "no consignmentID field",
        };
        shapes.push(ShapeRow {
            shape: "ids".into(),
            seen: id_kind.into(),
            evidence: format!("consignmentID {}", field(&first, "consignmentID").map_or("-".into(), Value::to_string)),
        });
    }
    let mut stamps = Vec::new();
    items.iter().for_each(|item| datetimes(item, &mut stamps));
    shapes.push(datetime_row(&stamps));

    let controls = Controls::read(&http).await;
    shapes.push(ShapeRow {
        shape: "unknown path".into(),
        seen: controls.get.as_ref().map_or_else(|e| e.clone(), Answer::describe),
        evidence: format!("GET consignments/0/{NO_SUCH_ROUTE}"),
    });
    if let Ok(missing) = http.get("consignments/0").await {
        shapes.push(ShapeRow {
            shape: "missing consignment".into(),
            seen: missing.describe(),
            evidence: "GET consignments/0".into(),
        });
    }

    // delta-listing, depot-filters.
    let plain_ok = plain.as_ref().is_ok_and(|a| a.status.is_success()) && !listed.is_empty();
    let delta = filter_acts(&http, "minLastUpdated", FAR_FUTURE, &listed, plain_ok).await;
    let last_updated = if first.is_null() { None } else { Some(field(&first, "lastUpdated").is_some()) };
    let (finding, evidence) = match (delta.0, last_updated) {
        (Finding::Found, Some(true)) => (Finding::Found, format!("{}; lastUpdated present", delta.1)),
        (Finding::NotFound, _) | (_, Some(false)) => (
            Finding::NotFound,
            format!("{}; lastUpdated {}", delta.1, if last_updated == Some(true) { "present" } else { "absent" }),
        ),
        _ => (Finding::Unknown, delta.1),
    };
    rows.push((Capability::DeltaListing, finding, evidence));
    let delivery = filter_acts(&http, "deliveryDepotCode", NO_SUCH_DEPOT, &listed, plain_ok).await;
    let collecting = filter_acts(&http, "collectingDepotCode", NO_SUCH_DEPOT, &listed, plain_ok).await;
    let finding = match (delivery.0, collecting.0) {
        (Finding::Found, Finding::Found) => Finding::Found,
        (Finding::NotFound, _) | (_, Finding::NotFound) => Finding::NotFound,
        _ => Finding::Unknown,
    };
    rows.push((Capability::DepotFilters, finding, format!("{}; {}", delivery.1, collecting.1)));

    // Read-model fields.
    let fields_row = |names: &[&str]| -> (Finding, String) {
        if first.is_null() {
            return (Finding::Unknown, "no consignment listed to look at".into());
        }
        let present: Vec<&str> = names.iter().copied().filter(|n| field(&first, n).is_some()).collect();
        let absent: Vec<&str> = names.iter().copied().filter(|n| field(&first, n).is_none()).collect();
        let id = id_of(&first).unwrap_or_default();
        let evidence = match (present.is_empty(), absent.is_empty()) {
            (_, true) => format!("consignment {id} has {}", present.join(", ")),
            (true, _) => format!("consignment {id} has none of {}", absent.join(", ")),
            _ => format!("consignment {id} has {} but not {}", present.join(", "), absent.join(", ")),
        };
        (if absent.is_empty() { Finding::Found } else { Finding::NotFound }, evidence)
    };
    let (finding, evidence) =
        fields_row(&["network", "requestingDepotCode", "collectingDepotCode", "deliveryDepotCode"]);
    rows.push((Capability::DepotFields, finding, evidence));
    let (finding, evidence) = match field(&first, "pallets") {
        _ if first.is_null() => (Finding::Unknown, "no consignment listed to look at".into()),
        Some(Value::Array(pallets)) => (
            Finding::Found,
            format!("consignment {} has pallets[] ({} pallets)", id_of(&first).unwrap_or_default(), pallets.len()),
        ),
        Some(other) => (Finding::NotFound, format!("pallets is not an array: {}", clip(&other.to_string(), 60))),
        None => (Finding::NotFound, format!("consignment {} has no pallets field", id_of(&first).unwrap_or_default())),
    };
    rows.push((Capability::PalletsField, finding, evidence));

    // Routes.
    rows.push(match listed.first() {
        None => (Capability::EventsRead, Finding::Unknown, "no consignment listed to ask for events of".into()),
        Some(id) => {
            let path = format!("consignments/{id}/events");
            let (finding, evidence) = match http.get(&path).await {
                Ok(answer) if answer.status.is_success() => {
                    let count = answer.json().as_ref().and_then(items_of).map_or(0, |(items, _)| items.len());
                    (Finding::Found, format!("GET {path}: {} ({count} events)", answer.describe()))
                }
                probe => judge_route(&format!("GET {path}"), &probe, &controls.get),
            };
            (Capability::EventsRead, finding, evidence)
        }
    });
    for (capability, method, path, body, control) in [
        (Capability::EventsWrite, Method::POST, "consignments/0/events", json!([]), &controls.post),
        (Capability::Cancel, Method::POST, "consignments/0/cancel", json!({}), &controls.post),
        (Capability::Eta, Method::PUT, "consignments/0/eta", json!({}), &controls.put),
        (Capability::AttachmentUpload, Method::POST, "consignments/0/attachments", json!({}), &controls.post),
    ] {
        let probe = http.send(method.clone(), path, Some(&body)).await;
        let (finding, evidence) = judge_route(&format!("{method} {path}"), &probe, control);
        rows.push((capability, finding, evidence));
    }
    let probe = http.get("attachments/0/content").await;
    let (finding, evidence) = judge_route("GET attachments/0/content", &probe, &controls.get);
    rows.push((Capability::AttachmentContent, finding, evidence));

    // page-100.
    rows.push(page_100(&http).await);

    // Labels of a listed consignment past Booked (getting them cannot manifest it).
    shapes.push(label_row(&http, &items).await);

    // --book.
    let mut booking = Vec::new();
    let create = if input.book { book(&http, input, &mut booking).await } else { None };
    rows.push(match create {
        None if input.book => {
            (Capability::FullCreateAnswer, Finding::Unknown, "the test booking did not get through".into())
        }
        None => (
            Capability::FullCreateAnswer,
            Finding::Unknown,
            "only a booking shows the create answer: run with --book against a test host".into(),
        ),
        Some(keys) => {
            let extra: Vec<&String> = keys
                .iter()
                .filter(|k| {
                    !k.eq_ignore_ascii_case("consignmentID") && !k.eq_ignore_ascii_case("successfulTrackingCodes")
                })
                .collect();
            if extra.is_empty() {
                (
                    Capability::FullCreateAnswer,
                    Finding::NotFound,
                    format!("the create answer has only {}", join_keys(&keys)),
                )
            } else {
                (
                    Capability::FullCreateAnswer,
                    Finding::Found,
                    format!("the create answer has {} fields, e.g. {}", keys.len(), clip(&join_keys(extra), 80)),
                )
            }
        }
    });

    let capabilities: Vec<CapabilityRow> = Capability::ALL
        .iter()
        .filter_map(|c| rows.iter().find(|(r, _, _)| r == c))
        .map(|(c, finding, evidence)| CapabilityRow {
            capability: c.name().into(),
            finding: *finding,
            evidence: evidence.clone(),
        })
        .collect();
    let found: Vec<String> =
        capabilities.iter().filter(|r| r.finding == Finding::Found).map(|r| r.capability.clone()).collect();
    let unknown = capabilities.iter().filter(|r| r.finding == Finding::Unknown).map(|r| r.capability.clone()).collect();
    let setting = found.join(",").parse::<Capabilities>().map(|c| c.setting()).unwrap_or_else(|_| found.join(","));
    Ok(NexusCheckReport {
        base_url: http.base.clone(),
        username: input.username.clone(),
        capabilities,
        shapes,
        booking,
        found: found.join(","),
        unknown,
        setting,
    })
}

/// What a path no route matches answers, per method.
struct Controls {
    get: Result<Answer, String>,
    post: Result<Answer, String>,
    put: Result<Answer, String>,
}

impl Controls {
    async fn read(http: &Http) -> Controls {
        let path = format!("consignments/0/{NO_SUCH_ROUTE}");
        Controls {
            get: http.get(&path).await,
            post: http.send(Method::POST, &path, Some(&json!({}))).await,
            put: http.send(Method::PUT, &path, Some(&json!({}))).await,
        }
    }
}

/// Whether a route exists, from a request to it that cannot change anything and the control.
fn judge_route(what: &str, probe: &Result<Answer, String>, control: &Result<Answer, String>) -> (Finding, String) {
    let probe = match probe {
        Ok(answer) => answer,
        Err(err) => return (Finding::Unknown, err.clone()),
    };
    let seen = format!("{what}: {}", probe.describe());
    let control = match control {
        Ok(answer) => answer,
        Err(err) => return (Finding::Unknown, format!("{seen}; no control answer ({err})")),
    };
    let status = probe.status.as_u16();
    if probe.status.is_success() {
        return (Finding::Found, seen);
    }
    if status == 405 {
        return (Finding::NotFound, format!("{seen}: the path takes other methods only"));
    }
    if probe.signature() == control.signature() {
        if probe.is_problem() && status == 404 {
            // Both ProblemDetails 404s with one title: only the detail could tell, and it is free text.
            return (
                Finding::Unknown,
                format!(
                    "{seen}; an unknown path answers the same kind of 404 ({}), so this cannot tell",
                    control.describe()
                ),
            );
        }
        return (Finding::NotFound, format!("{seen}, as an unknown path does: no route"));
    }
    match status {
        400 | 401 | 403 | 404 | 409 | 415 | 422 => {
            (Finding::Found, format!("{seen}, while an unknown path answers {}: the route exists", control.describe()))
        }
        _ => (Finding::Unknown, format!("{seen}; an unknown path answers {}", control.describe())),
    }
}

/// Whether `key=value` changes the list: `(finding, evidence)`.
async fn filter_acts(http: &Http, key: &str, value: &str, plain: &[String], plain_ok: bool) -> (Finding, String) {
    if !plain_ok {
        return (Finding::Unknown, format!("{key}: no consignments listed to compare with"));
    }
    let path = format!("consignments?{key}={value}");
    match http.get(&path).await {
        Ok(answer) if answer.status.is_success() => {
            let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
            let ids = ids_of(&items);
            let same = ids.iter().collect::<BTreeSet<_>>() == plain.iter().collect::<BTreeSet<_>>();
            if same {
                (Finding::NotFound, format!("{key}={value} gives the same {} consignments: ignored", ids.len()))
            } else {
                (Finding::Found, format!("{key}={value} gives {} consignments, not {}: acts", ids.len(), plain.len()))
            }
        }
        Ok(answer) => (Finding::Unknown, format!("GET {path}: {}", answer.describe())),
        Err(err) => (Finding::Unknown, err),
    }
}

/// `limit=100` honoured?
async fn page_100(http: &Http) -> (Capability, Finding, String) {
    let capability = Capability::Page100;
    let answer = match http.get("consignments?limit=100").await {
        Ok(answer) => answer,
        Err(err) => return (capability, Finding::Unknown, err),
    };
    if !answer.status.is_success() {
        let finding = if answer.status == StatusCode::BAD_REQUEST { Finding::NotFound } else { Finding::Unknown };
        return (capability, finding, format!("GET consignments?limit=100: {}", answer.describe()));
    }
    let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
    let count = items.len();
    if count >= 100 {
        return (capability, Finding::Found, format!("limit=100 gave {count}"));
    }
    if count == 0 {
        return (capability, Finding::Unknown, "limit=100 gave none: nothing listed".into());
    }
    let first_page: BTreeSet<String> = ids_of(&items).into_iter().collect();
    match http.get(&format!("consignments?offset={count}&limit={count}")).await {
        Ok(next) if next.status.is_success() => {
            let more = next.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
            let new: Vec<String> = ids_of(&more).into_iter().filter(|id| !first_page.contains(id)).collect();
            if new.is_empty() {
                (
                    capability,
                    Finding::Unknown,
                    format!("limit=100 gave {count}, and only {count} exist: too few to tell"),
                )
            } else {
                (
                    capability,
                    Finding::NotFound,
                    format!("limit=100 gave {count}, yet offset={count} lists {} more: capped at {count}", new.len()),
                )
            }
        }
        Ok(next) => {
            (capability, Finding::Unknown, format!("limit=100 gave {count}; offset={count}: {}", next.describe()))
        }
        Err(err) => (capability, Finding::Unknown, err),
    }
}

fn datetime_row(stamps: &[String]) -> ShapeRow {
    if stamps.is_empty() {
        return ShapeRow {
            shape: "datetimes".into(),
            seen: "none seen".into(),
            evidence: "no datetime in the list".into(),
        };
    }
    let mut offsets: Vec<(String, usize)> = Vec::new();
    let mut fractions: BTreeSet<usize> = BTreeSet::new();
    for stamp in stamps {
        let (offset, fraction) = datetime_kind(stamp);
        fractions.insert(fraction);
        match offsets.iter_mut().find(|(o, _)| *o == offset) {
            Some((_, n)) => *n += 1,
            None => offsets.push((offset, 1)),
        }
    }
    let offset_text: Vec<String> = offsets.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
    let fraction_text = if fractions.iter().all(|f| *f == 0) {
        "no fractional seconds".to_owned()
    } else {
        format!("fractional digits {}", fractions.iter().map(usize::to_string).collect::<Vec<_>>().join("/"))
    };
    ShapeRow {
        shape: "datetimes".into(),
        seen: format!("{}; {fraction_text}", offset_text.join(", ")),
        evidence: format!("{} datetimes in the list, e.g. {}", stamps.len(), stamps[0]),
    }
}

async fn label_row(http: &Http, items: &[Value]) -> ShapeRow {
    let candidate = items.iter().find(|item| {
        let name = status_name(item).to_ascii_lowercase();
        !name.is_empty() && !name.contains("book") && !name.contains("cancel") && !name.contains("return")
    });
    let Some(item) = candidate else {
        return ShapeRow {
            shape: "labels".into(),
            seen: "not fetched".into(),
            evidence: "no listed consignment past Booked (getting labels of a booked one may manifest it)".into(),
        };
    };
    let id = id_of(item).unwrap_or_default();
    let path = format!("consignments/{id}/labels");
    match http.get(&path).await {
        Ok(answer) if answer.status.is_success() => ShapeRow {
            shape: "labels".into(),
            seen: format!("{} by its bytes ({} bytes)", sniff(&answer.bytes), answer.bytes.len()),
            evidence: format!(
                "GET {path} ({}): Content-Type {}",
                status_name(item),
                if answer.content_type.is_empty() { "absent" } else { &answer.content_type }
            ),
        },
        Ok(answer) => ShapeRow {
            shape: "labels".into(),
            seen: "not fetched".into(),
            evidence: format!("GET {path}: {}", answer.describe()),
        },
        Err(err) => ShapeRow { shape: "labels".into(), seen: "not fetched".into(), evidence: err },
    }
}

/// The §1.6 create body of the test consignment.
fn test_booking(customer_id: &str, number: &str) -> Value {
    json!({
        "general": {
            "consignmentTypeID": 2,
            "customerID": customer_id,
            "customerReference": "NEXUS-CHECK",
            "consignmentNumber": number,
            "descriptionOfGoods": "nexus-check test booking - cancel",
            "limitedQuantities": false
        },
        "collectionInfo": { "serviceID": 1, "contact": "01777 000000" },
        "deliveryInfo": { "serviceID": 1, "contact": "01777 000000" },
        "deliveryAddress": {
            "countryID": 233, "name": "NEXUS CHECK TEST - DO NOT DELIVER", "line1": "1 Test Street",
            "town": "Retford", "postcode": "DN22 7SS", "telephone": "01777 000000"
        },
        "pallets": [
            { "palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 100, "weight": 100,
              "limitedQuantityWeight": 0, "doNotStack": false }
        ]
    })
}

/// Books, labels, cancels; answers the create answer's keys when the booking got through.
async fn book(http: &Http, input: &CheckInput, steps: &mut Vec<BookStep>) -> Option<Vec<String>> {
    let step = |name: &str, ok: bool, detail: String| BookStep { step: name.into(), ok, detail };
    let Some(customer) = input.customer_id.as_deref().filter(|c| !c.trim().is_empty()) else {
        steps.push(step("book", false, "no customer to book for: name one with --customer-id".into()));
        return None;
    };
    let number = format!("NXCHK{}", jiff::Timestamp::now().as_second());
    let answer = match http.send(Method::POST, "Consignments", Some(&test_booking(customer, &number))).await {
        Ok(answer) => answer,
        Err(err) => {
            steps.push(step("book", false, err));
            return None;
        }
    };
    let body = answer.json().unwrap_or(Value::Null);
    let id = field(&body, "consignmentID").map(|v| text_of(Some(v)));
    let (true, Some(id)) = (answer.status.is_success(), id) else {
        steps.push(step(
            "book",
            false,
            format!("POST Consignments ({number} for customer {customer}): {}", answer.describe()),
        ));
        return None;
    };
    let keys: Vec<String> = body.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let codes = field(&body, "successfulTrackingCodes").map_or("none".into(), |v| clip(&v.to_string(), 60));
    steps.push(step(
        "book",
        true,
        format!("POST Consignments: {} consignment {id} ({number}), tracking codes {codes}", answer.status.as_u16()),
    ));
    let path = format!("consignments/{id}/labels");
    steps.push(match http.get(&path).await {
        Ok(labels) if labels.status.is_success() => step(
            "labels",
            true,
            format!(
                "GET {path}: {} by its bytes, Content-Type {} ({} bytes)",
                sniff(&labels.bytes),
                labels.content_type,
                labels.bytes.len()
            ),
        ),
        Ok(labels) => step("labels", false, format!("GET {path}: {}", labels.describe())),
        Err(err) => step("labels", false, err),
    });
    let path = format!("consignments/{id}/cancel");
    steps.push(match http.send(Method::POST, &path, Some(&json!({}))).await {
        Ok(cancel) if cancel.status.is_success() => step("cancel", true, format!("POST {path}: {}", cancel.describe())),
        Ok(cancel) => step(
            "cancel",
            false,
            format!(
                "POST {path}: {}: cancel consignment {id} ({number}) by hand in the Nexus portal",
                cancel.describe()
            ),
        ),
        Err(err) => {
            step("cancel", false, format!("{err}: cancel consignment {id} ({number}) by hand in the Nexus portal"))
        }
    });
    steps.push(match http.get(&format!("consignments/{id}")).await {
        Ok(read) if read.status.is_success() => {
            let status = read.json().map(|v| status_name(&v)).unwrap_or_default();
            step("read back", true, format!("GET consignments/{id}: status {status}"))
        }
        Ok(read) => step("read back", false, format!("GET consignments/{id}: {}", read.describe())),
        Err(err) => step("read back", false, err),
    });
    Some(keys)
}

/// The credentials and base URL from flags, else from the settings and secrets the functions use.
#[derive(Debug, Clone, Default)]
pub struct CredentialArgs {
    /// `--base-url`; else `NEXUS_BASE_URL`; else the LIVE host.
    pub base_url: Option<String>,
    /// `--username`; with `--password-env`.
    pub username: Option<String>,
    /// `--password-env VAR`: the variable holding the password.
    pub password_env: Option<String>,
    /// `--depot CODE`: whose credentials in the secrets (default: the first of `BRIDGE_DEPOTS`).
    pub depot: Option<String>,
    /// `--customer-id`; else the first Nexus ID of `BRIDGE_CUSTOMER_MAP`.
    pub customer_id: Option<String>,
}

/// The check's input from `args` and `lookup` (the process environment in the binary); the secrets
/// are read as the functions read them (`BRIDGE_SECRET_ID` with `aws`, `BRIDGE_SECRETS_FILE`,
/// `BRIDGE_SECRETS_JSON`) unless `--username` and `--password-env` are given.
pub async fn input_from(
    args: &CredentialArgs,
    lookup: impl Fn(&str) -> Option<String>,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<CheckInput, OpsError> {
    let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let base_url =
        args.base_url.clone().or_else(|| get("NEXUS_BASE_URL")).unwrap_or_else(|| format!("https://{LIVE_HOST}/v1/"));
    let customer_id = args.customer_id.clone().or_else(|| {
        get("BRIDGE_CUSTOMER_MAP")
            .and_then(|map| map.split(',').find_map(|e| e.split_once(':').map(|(id, _)| id.trim().to_owned())))
    });
    if let Some(username) = &args.username {
        let variable = args.password_env.as_deref().ok_or_else(|| {
            OpsError::Invalid("--username needs --password-env VAR, the variable holding the password".into())
        })?;
        let password = get(variable).ok_or_else(|| OpsError::Invalid(format!("{variable} is not set")))?;
        let mut input = CheckInput::new(base_url, username.clone(), Secret::new(password));
        input.customer_id = customer_id;
        return Ok(input);
    }
    let settings = crate::config::Settings::from_lookup(|name| match (name, lookup(name)) {
        ("BRIDGE_TABLE" | "BRIDGE_BUCKET", None) => Some("unused-by-nexus-check".to_owned()),
        ("BRIDGE_DEPOTS", None) => args.depot.clone(),
        (_, value) => value,
    })
    .map_err(|err| OpsError::Offline { reason: format!("{err} (or give --username and --password-env)") })?;
    let secrets = crate::config::Secrets::load(&settings.secrets_source, aws)
        .await
        .map_err(|err| OpsError::Offline { reason: err.to_string() })?;
    let depot = match &args.depot {
        Some(code) => code.parse().map_err(|err| OpsError::Invalid(format!("--depot {code}: {err}")))?,
        None => settings
            .depots
            .first()
            .map(|d| d.code.clone())
            .ok_or_else(|| OpsError::Invalid("no depot: set BRIDGE_DEPOTS or --depot".into()))?,
    };
    let credentials = secrets
        .nexus
        .get(&depot)
        .ok_or_else(|| OpsError::Offline { reason: format!("the secrets have no Nexus user for depot {depot}") })?;
    let mut input = CheckInput::new(
        args.base_url.clone().unwrap_or(settings.nexus_base_url),
        credentials.username.clone(),
        credentials.password.clone(),
    );
    input.customer_id = customer_id;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_host_is_recognised() {
        assert!(is_live_host("https://rest-api-nexus.pallex.com/v1/"));
        assert!(is_live_host("https://REST-API-NEXUS.PALLEX.COM/v1"));
        assert!(!is_live_host("https://s-nexus-rest-api-test.pallex.com/v1/"));
        assert!(!is_live_host("http://127.0.0.1:7700/v1/"));
    }

    #[test]
    fn datetimes_and_bytes_are_told_apart() {
        assert_eq!(datetime_kind("2026-06-17T09:27:00"), ("no offset".into(), 0));
        assert_eq!(datetime_kind("2026-06-17T09:27:00Z"), ("Z".into(), 0));
        assert_eq!(datetime_kind("2026-06-17T09:27:00.1234567+01:00"), ("±hh:mm".into(), 7));
        assert_eq!(sniff(b"%PDF-1.7"), "PDF");
        assert_eq!(sniff(b"^XA^FO50"), "ZPL");
        assert_eq!(sniff(b"\x89PNG\r\n"), "PNG");
        let mut found = Vec::new();
        datetimes(&json!({"a": ["2026-06-17T09:27:00", "2026-06-17", "x"]}), &mut found);
        assert_eq!(found, ["2026-06-17T09:27:00"]);
    }

    #[test]
    fn envelopes_and_bare_arrays_give_items() {
        let (items, shape) = items_of(&json!([{"consignmentID": 1}])).unwrap();
        assert_eq!((items.len(), shape.as_str()), (1, "bare array"));
        let (items, shape) = items_of(&json!({"totalCount": 2, "Items": [{}, {}]})).unwrap();
        assert_eq!(items.len(), 2);
        assert!(shape.contains("\"Items\"") && shape.contains("totalCount"), "{shape}");
    }
}
