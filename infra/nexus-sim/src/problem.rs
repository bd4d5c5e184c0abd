//! Errors as ASP.NET ProblemDetails (nexus-api.md §3.7): `type`, `title`, `status`, `traceId`, an
//! optional `detail`, and for validation failures the field-keyed `errors` dictionary
//! (`{"General.CustomerID": ["…"]}`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::random::{SplitMix64, hash_of};

/// An API failure, rendered as `application/problem+json`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) title: String,
    pub(crate) detail: Option<String>,
    pub(crate) errors: BTreeMap<String, Vec<String>>,
    pub(crate) retry_after_seconds: Option<u64>,
    pub(crate) www_authenticate: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, title: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title: title.into(),
            detail: None,
            errors: BTreeMap::new(),
            retry_after_seconds: None,
            www_authenticate: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = Some(detail.into());
        self
    }

    /// 400 with a single field error.
    pub(crate) fn field(key: impl Into<String>, message: impl Into<String>) -> ApiError {
        let mut errors = FieldErrors::default();
        errors.add(key, message);
        errors.into_error()
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized").with_detail(detail.clone());
        error.www_authenticate =
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{}\"", detail.replace('"', "'")));
        error
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden").with_detail(detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found").with_detail(detail)
    }

    pub(crate) fn conflict(title: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, title).with_detail(detail)
    }

    pub(crate) fn consignment_not_found(id: &str) -> ApiError {
        ApiError::not_found(format!("Consignment {id} was not found."))
    }

    fn type_uri(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "https://tools.ietf.org/html/rfc7231#section-6.5.1",
            401 => "https://tools.ietf.org/html/rfc7235#section-3.1",
            403 => "https://tools.ietf.org/html/rfc7231#section-6.5.3",
            404 => "https://tools.ietf.org/html/rfc7231#section-6.5.4",
            409 => "https://tools.ietf.org/html/rfc7231#section-6.5.8",
            415 => "https://tools.ietf.org/html/rfc7231#section-6.5.13",
            429 => "https://tools.ietf.org/html/rfc6585#section-4",
            503 => "https://tools.ietf.org/html/rfc7231#section-6.6.4",
            _ => "https://tools.ietf.org/html/rfc7231#section-6.6.1",
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "traceId": next_trace_id(),
        });
        if let Some(detail) = &self.detail {
            body["detail"] = json!(detail);
        }
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, serde_json::to_string(&self.body()).unwrap_or_default()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json; charset=utf-8"));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.www_authenticate.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// Trace ids only need to look like ASP.NET's and differ between responses; they come from a counter
/// mixed through the simulator's hash so they stay deterministic.
fn next_trace_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let mut rng = SplitMix64::new(hash_of(&[COUNTER.fetch_add(1, Ordering::Relaxed)]));
    format!("00-{}-{}-00", rng.hex(16), rng.hex(8))
}

/// Collects field errors, ASP.NET style: every failing field, not just the first.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors {
    errors: BTreeMap<String, Vec<String>>,
}

impl FieldErrors {
    pub(crate) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.entry(key.into()).or_default().push(message.into());
    }

    /// How many messages have been collected so far.
    pub(crate) fn count(&self) -> usize {
        self.errors.values().map(Vec::len).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn into_error(self) -> ApiError {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "One or more validation errors occurred.");
        error.errors = self.errors;
        error
    }

    pub(crate) fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }
}
