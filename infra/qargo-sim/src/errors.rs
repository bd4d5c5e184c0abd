//! Qargo's error bodies and the simulator's error type.
//!
//! * `400` `ValidationErrorResponse`: `{message, errors:[{message, field, path, detail}]}` (`errors`
//!   never empty; `path` is a JSON path such as `$.consignments[0].delivery_stop.location.postal_code`).
//! * `422` `HTTPValidationError`: `{detail:[{loc, msg, type}]}` for a body that is not JSON or has a
//!   value of the wrong type.
//! * `401`, `404`, `409`, `503`: `{detail: "…"}`.
//! * `429`: `Retry-After` header and `{"error":"Rate limit exceeded"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::limits::RetryAfter;

/// One entry of a `400` answer (`ValidationErrorDetail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// Human-readable summary.
    pub message: String,
    /// The field's name.
    pub field: Option<String>,
    /// JSON path to the field, e.g. `$.consignments[0].pickup_stop.date`.
    pub path: Option<String>,
    /// A short machine-readable reason: `missing`, `invalid_format`, `invalid_value`, `not_found`.
    pub detail: Option<Value>,
}

impl FieldError {
    /// An error on the field at `path` (`$`-rooted); `field` is the path's last name.
    pub fn at(path: &str, message: impl Into<String>, detail: &str) -> FieldError {
        let field = path.rsplit('.').next().map(|last| last.split('[').next().unwrap_or(last).to_string());
        FieldError { message: message.into(), field, path: Some(path.to_string()), detail: Some(detail.into()) }
    }
}

/// One entry of a `422` answer (`ValidationError`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpValidationIssue {
    /// Where: `["body", "consignments", 0, …]`.
    pub loc: Vec<Value>,
    /// What.
    pub msg: String,
    /// Kind, as pydantic names them (`json_invalid`, `string_type`, `missing`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

/// What a simulator operation can fail with; each maps to Qargo's answer for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// `400` with one entry per failure.
    #[error("{message}")]
    BadRequest {
        /// Summary.
        message: String,
        /// The failures (never empty).
        errors: Vec<FieldError>,
    },
    /// `422`.
    #[error("unprocessable body: {0:?}")]
    Unprocessable(Vec<HttpValidationIssue>),
    /// `401` on an API route (`WWW-Authenticate: Bearer`).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// `401` on a webhook route (`WWW-Authenticate: Basic`).
    #[error("unauthorized webhook call: {0}")]
    WebhookUnauthorized(String),
    /// `404`.
    #[error("not found: {0}")]
    NotFound(String),
    /// `409`.
    #[error("conflict: {0}")]
    Conflict(String),
    /// `429`.
    #[error("rate limit exceeded, retry after {}s", .0.header_seconds())]
    RateLimited(RetryAfter),
    /// `503`.
    #[error("service unavailable")]
    Unavailable,
}

impl ApiError {
    /// A `400` with a single failure.
    pub fn bad_request(error: FieldError) -> ApiError {
        ApiError::BadRequest { message: error.message.clone(), errors: vec![error] }
    }

    /// A `400` from a list of failures (which must not be empty).
    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        let message = match errors.len() {
            1 => errors[0].message.clone(),
            n => format!("{n} validation errors"),
        };
        ApiError::BadRequest { message, errors }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) | ApiError::WebhookUnauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON body this error is answered with.
    pub fn body(&self) -> Value {
        match self {
            ApiError::BadRequest { message, errors } => json!({ "message": message, "errors": errors }),
            ApiError::Unprocessable(issues) => json!({ "detail": issues }),
            ApiError::Unauthorized(detail)
            | ApiError::WebhookUnauthorized(detail)
            | ApiError::NotFound(detail)
            | ApiError::Conflict(detail) => {
                json!({ "detail": detail })
            }
            ApiError::RateLimited(_) => json!({ "error": "Rate limit exceeded" }),
            ApiError::Unavailable => json!({ "detail": "Service Unavailable" }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        match &self {
            ApiError::RateLimited(retry) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry.header_seconds()));
            }
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::WebhookUnauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Qargo webhooks\""));
            }
            ApiError::Unavailable => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
