//! `POST /v1/Account/login` and `POST /v1/Account/refresh` (§3.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{json_response, require_json};
use crate::auth;
use crate::booking::bind_json;
use crate::handle::SimHandle;
use crate::problem::{ApiError, FieldErrors};

#[derive(Deserialize)]
struct LoginRequest {
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct RefreshRequest {
    #[serde(rename = "refreshtoken")]
    refresh_token: Option<String>,
}

pub(crate) async fn login(State(sim): State<SimHandle>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let request: LoginRequest = bind_json(&body)?;
    let mut errors = FieldErrors::default();
    let username = request.username.filter(|u| !u.trim().is_empty());
    let password = request.password.filter(|p| !p.is_empty());
    if username.is_none() {
        errors.add("Username", "The Username field is required.");
    }
    if password.is_none() {
        errors.add("Password", "The Password field is required.");
    }
    errors.into_result()?;
    let pair = auth::login(&mut sim.world(), &username.unwrap_or_default(), &password.unwrap_or_default())?;
    Ok(json_response(StatusCode::OK, &pair.body()))
}

pub(crate) async fn refresh(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let request: RefreshRequest = bind_json(&body)?;
    let Some(token) = request.refresh_token.filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::field("RefreshToken", "The RefreshToken field is required."));
    };
    let pair = auth::refresh(&mut sim.world(), &token)?;
    Ok(json_response(StatusCode::OK, &pair.body()))
}
