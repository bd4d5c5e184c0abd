//! Attachments (§3.3 #8–#10): the list with direct URLs, multipart upload of delivery evidence, and
//! the raw content.
//!
//! Invented rules: only the delivery depot uploads (customers and other depots get 403); the
//! uploadable types are `MPOD` (needs `signedBy`), `POD` and `MPODPHOTOE` (`LABEL` is Nexus's own);
//! uploads to a cancelled consignment are 409; the content URL needs the same bearer token and
//! visibility as the consignment.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::render;
use super::{base_url, json_response, list_response, visible_consignment};
use crate::auth;
use crate::clock;
use crate::handle::SimHandle;
use crate::lifecycle;
use crate::problem::{ApiError, FieldErrors};
use crate::reference;
use crate::world::Attachment;

pub(crate) async fn list(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    let base = base_url(&headers);
    let items: Vec<Value> = c
        .attachment_ids
        .iter()
        .filter_map(|a| world.attachments.get(a))
        .map(|a| render::attachment(a, &base))
        .collect();
    let total = items.len();
    Ok(list_response(items, total))
}

/// The multipart fields of an upload.
#[derive(Default)]
struct Upload {
    type_code: Option<String>,
    file: Option<(String, String, Vec<u8>)>,
    signed_by: Option<String>,
    captured_at: Option<String>,
}

async fn read_upload(request: Request) -> Result<Upload, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::field("$", format!("The multipart body cannot be read: {}", e.body_text())))?;
    let mut upload = Upload::default();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::field("$", format!("The multipart body cannot be read: {}", e.body_text())))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        match name.as_str() {
            "file" => {
                let file_name = field.file_name().unwrap_or("upload.bin").to_owned();
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::field("file", format!("The file cannot be read: {}", e.body_text())))?;
                upload.file = Some((file_name, content_type, bytes.to_vec()));
            }
            "attachmenttypecode" | "signedby" | "capturedat" => {
                let text = field.text().await.map_err(|e| ApiError::field(name.clone(), e.body_text()))?;
                let text = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
                match name.as_str() {
                    "attachmenttypecode" => upload.type_code = text,
                    "signedby" => upload.signed_by = text,
                    _ => upload.captured_at = text,
                }
            }
            _ => {}
        }
    }
    Ok(upload)
}

pub(crate) async fn upload(
    State(sim): State<SimHandle>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    {
        let world = sim.world();
        auth::authenticate(&world, &headers)?;
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type").with_detail(format!(
            "Upload attachments as multipart/form-data with the fields attachmentTypeCode and file \
             (Content-Type was '{content_type}')."
        )));
    }
    let upload = read_upload(request).await?;

    let mut world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let c = visible_consignment(&world, &principal, &id)?;
    if !world.roles(&principal, c).delivering {
        return Err(ApiError::forbidden(format!(
            "Only the delivery depot {} can upload delivery evidence for consignment {id}.",
            c.delivery_depot
        )));
    }
    if c.cancelled {
        return Err(ApiError::conflict(
            "The consignment is cancelled.",
            format!("Consignment {id} is cancelled; attachments cannot be added."),
        ));
    }
    let mut errors = FieldErrors::default();
    let attachment_type = match upload.type_code.as_deref() {
        None => {
            errors.add("attachmentTypeCode", "The attachmentTypeCode field is required.");
            None
        }
        Some(code) => match reference::attachment_type(code) {
            Some(t) if t.code != "LABEL" => Some(t),
            Some(_) => {
                errors.add("attachmentTypeCode", "LABEL attachments are produced by Nexus and cannot be uploaded.");
                None
            }
            None => {
                errors.add(
                    "attachmentTypeCode",
                    format!("'{code}' is not an attachment type; use MPOD, POD or MPODPHOTOE."),
                );
                None
            }
        },
    };
    if upload.file.as_ref().is_none_or(|(_, _, bytes)| bytes.is_empty()) {
        errors.add("file", "A non-empty file is required.");
    }
    if attachment_type.is_some_and(|t| t.code == "MPOD") && upload.signed_by.is_none() {
        errors.add("signedBy", "An MPOD (signature) needs the name of the person who signed (signedBy).");
    }
    let captured_at = match upload.captured_at.as_deref() {
        None => None,
        Some(raw) => {
            let parsed = clock::parse_datetime(raw);
            if parsed.is_none() {
                errors.add("capturedAt", format!("'{raw}' is not a datetime like 2026-06-18T10:41:00."));
            }
            parsed
        }
    };
    errors.into_result()?;
    let (Some(attachment_type), Some((file_name, content_type, bytes))) = (attachment_type, upload.file) else {
        return Err(FieldErrors::default().into_error());
    };
    let consignment_id = c.id;
    let depot = principal.depot().map(str::to_owned);
    let attachment = Attachment {
        id: world.allocate_attachment_id(),
        consignment_id,
        type_id: attachment_type.id,
        type_code: attachment_type.code,
        file_name,
        content_type,
        bytes,
        signed_by: upload.signed_by,
        captured_at: captured_at.map(clock::whole_seconds),
        created_at: world.now,
        uploaded_by_depot: depot,
    };
    let attachment_id = attachment.id;
    lifecycle::upload_attachment(&mut world, attachment);
    let body = render::attachment(&world.attachments[&attachment_id], &base_url(&headers));
    Ok(json_response(StatusCode::CREATED, &body))
}

pub(crate) async fn content(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let world = sim.world();
    let principal = auth::authenticate(&world, &headers)?;
    let not_found = || ApiError::not_found(format!("Attachment {id} was not found."));
    let attachment = id.parse::<u64>().ok().and_then(|a| world.attachments.get(&a)).ok_or_else(not_found)?;
    let consignment = world.consignments.get(&attachment.consignment_id).ok_or_else(not_found)?;
    if !world.can_see(&principal, consignment) {
        return Err(not_found());
    }
    let disposition = format!("attachment; filename=\"{}\"", attachment.file_name.replace('"', ""));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, attachment.content_type.clone()), (header::CONTENT_DISPOSITION, disposition)],
        attachment.bytes.clone(),
    )
        .into_response())
}
