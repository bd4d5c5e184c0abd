//! Raw requests to Nexus (`reqwest`, not the bridge's client) and reading what they answer: JSON
//! fields in any case, list envelopes, datetime shapes, and what a file's bytes are.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::CheckInput;
use crate::ops::OpsError;

// ---- raw HTTP ------------------------------------------------------------------------------------

/// One raw answer.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) content_type: String,
    pub(super) total_count: Option<String>,
    pub(super) bytes: Vec<u8>,
}

impl Answer {
    pub(super) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.bytes).ok()
    }

    /// A ProblemDetails body (by media type, or a JSON object with `status` and `title`).
    pub(super) fn is_problem(&self) -> bool {
        self.content_type.contains("problem+json")
            || self.json().is_some_and(|v| field(&v, "status").is_some() && field(&v, "title").is_some())
    }

    /// `404 ProblemDetails "Not Found"`, `404 (no body)`, `200 application/json`, …
    pub(super) fn describe(&self) -> String {
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
    pub(super) fn signature(&self) -> (u16, bool, String) {
        let title =
            if self.is_problem() { text_of(self.json().as_ref().and_then(|v| field(v, "title"))) } else { "".into() };
        (self.status.as_u16(), self.is_problem(), title)
    }
}

pub(super) struct Http {
    client: reqwest::Client,
    pub(super) base: String,
    pub(super) token: Option<String>,
}

impl Http {
    pub(super) fn new(input: &CheckInput) -> Result<Http, OpsError> {
        let base = format!("{}/", input.base_url.trim().trim_end_matches('/'));
        let url = reqwest::Url::parse(&base).map_err(|err| OpsError::Invalid(format!("{base}: {err}")))?;
        let mut builder =
            crate::http::client_builder().timeout(input.request_timeout).connect_timeout(Duration::from_secs(10));
        if matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "::1" | "[::1]")) {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|err| OpsError::Failed(format!("HTTP client: {err}")))?;
        Ok(Http { client, base, token: None })
    }

    /// `method` on `path` (relative to the base, query included), JSON `body` if any; a 429 or
    /// 503 is waited out (at most three tries).
    pub(super) async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer, String> {
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

    pub(super) async fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, None).await
    }
}

// ---- JSON helpers --------------------------------------------------------------------------------

/// `value[key]`, the key matched case-insensitively.
pub(super) fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

pub(super) fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn clip(text: &str, at: usize) -> String {
    if text.chars().count() <= at {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(at).collect::<String>())
    }
}

/// A list's items: a bare array, or the first array in an envelope object (`items`, `data`, …).
pub(super) fn items_of(value: &Value) -> Option<(Vec<Value>, String)> {
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

pub(super) fn join_keys<'a>(keys: impl IntoIterator<Item = &'a String>) -> String {
    let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
    if keys.is_empty() { "nothing".into() } else { keys.join(", ") }
}

pub(super) fn id_of(item: &Value) -> Option<String> {
    field(item, "consignmentID").map(|v| text_of(Some(v)))
}

pub(super) fn ids_of(items: &[Value]) -> Vec<String> {
    items.iter().filter_map(id_of).collect()
}

/// What a listed consignment's status is called (`Booked`, …).
pub(super) fn status_name(item: &Value) -> String {
    match field(item, "status") {
        Some(status @ Value::Object(_)) => text_of(field(status, "name")),
        other => text_of(other),
    }
}

/// Every datetime-looking string in `value` (`yyyy-MM-ddTHH:mm…`).
pub(super) fn datetimes(value: &Value, out: &mut Vec<String>) {
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
pub(super) fn datetime_kind(text: &str) -> (String, usize) {
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
pub(super) fn sniff(bytes: &[u8]) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

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
