//! Qargo JSON as its public API writes it (research/qargo-api.md). Requests are typed where the
//! bridge builds them; Qargo's documents of its own (orders, statuses) are read leniently: unknown
//! fields are ignored, as Qargo asks of its clients.

use serde::{Deserialize, Serialize};

/// `POST /v1/auth/token` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds it lasts.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// One field of a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// What is wrong.
    pub message: String,
    /// The field.
    #[serde(default)]
    pub field: Option<String>,
    /// Its path in the body.
    #[serde(default)]
    pub path: Option<String>,
    /// More.
    #[serde(default)]
    pub detail: Option<String>,
}

/// A 400 answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValidationErrors {
    /// Summary.
    #[serde(default)]
    pub message: Option<String>,
    /// Per field.
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

/// One entry of a webhook answer's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookError {
    /// `USER_INPUT_ERROR`, `INTERNAL_ERROR`, `NOT_SUPPORTED`, …
    pub error_type: String,
    /// The reason.
    pub error_message: String,
}

/// A webhook answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAnswer {
    /// Empty on success.
    #[serde(default)]
    pub errors: Vec<WebhookError>,
}

/// Where an order upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadStatus {
    /// Queued.
    Todo,
    /// Being read.
    InProgress,
    /// Read, waiting to be written.
    ReadyToUpsert,
    /// Being written.
    UpsertInProgress,
    /// Imported.
    Completed,
    /// Refused.
    Error,
    /// Skipped.
    Skipped,
    /// Already imported under this `order_identifier`.
    Duplicate,
}

impl UploadStatus {
    /// Whether the upload will not move again.
    pub fn is_final(self) -> bool {
        matches!(self, UploadStatus::Completed | UploadStatus::Error | UploadStatus::Skipped | UploadStatus::Duplicate)
    }
}

/// `POST /v1/orders/order/upload` and `GET …/upload/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upload {
    /// The upload.
    pub upload_id: String,
    /// Where it stands.
    pub upload_status: UploadStatus,
    /// Its URL.
    #[serde(default)]
    pub upload_url: Option<String>,
    /// The order, once known.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The order's URL.
    #[serde(default)]
    pub order_url: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, alias = "error_message", alias = "error")]
    pub message: Option<String>,
}

/// A document of an order (`Document{id, name, type, download_url, subject_type, content_type}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Document {
    /// Id.
    pub id: String,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
    /// Document type (`CONSIGNEE_SIGNATURE`, …).
    #[serde(rename = "type", default)]
    pub document_type: Option<String>,
    /// Where to fetch it.
    #[serde(default)]
    pub download_url: Option<String>,
    /// What it belongs to.
    #[serde(default)]
    pub subject_type: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `POST /v1/documents/document/upload_content` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentUpload {
    /// To reference as `remote_document{upload_id}`.
    pub upload_id: String,
}
