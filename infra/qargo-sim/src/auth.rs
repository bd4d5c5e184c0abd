//! Authentication: the OAuth token endpoint, bearer tokens on API routes and HTTP Basic on webhook
//! routes — the two never mix (an OAuth token on a webhook route is a `401`, and so is Basic on an
//! API route).
//!
//! Tokens are JWT-shaped (`header.payload.signature`, base64url) but the simulator only checks that
//! it issued them and that they have not expired; [`Tokens::expire_all`] forces every issued token
//! to expire so a client's refresh path can be tested.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::server::AppState;

/// The credentials an `Authorization` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Bearer <token>`.
    Bearer(String),
    /// `Basic base64(user:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// No header, or one the simulator cannot read.
    Nothing,
}

impl Presented {
    /// Reads the `Authorization` header of a request.
    pub fn from_header(value: Option<&str>) -> Presented {
        let Some(value) = value.map(str::trim) else { return Presented::Nothing };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
            return Presented::Bearer(rest.trim().to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(rest.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some((username, password)) = decoded.as_deref().and_then(|s| s.split_once(':')) {
                return Presented::Basic { username: username.to_string(), password: password.to_string() };
            }
        }
        Presented::Nothing
    }

    /// The auth kind as the request counters name it: `oauth`, `basic` or `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            Presented::Bearer(_) => "oauth",
            Presented::Basic { .. } => "basic",
            Presented::Nothing => "none",
        }
    }
}

/// The tokens the simulator has issued.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: HashMap<String, Instant>,
    serial: u64,
}

impl Tokens {
    /// Issues a token for `tenant` that expires `ttl` after `now`.
    pub fn issue(&mut self, tenant: &str, client_id: &str, now: Instant, ttl: Duration) -> String {
        self.serial += 1;
        let issued_at = jiff::Timestamp::now().as_second();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "sub": client_id,
            "tenant": tenant,
            "iat": issued_at,
            "exp": issued_at + ttl.as_secs() as i64,
            "jti": format!("{}-{}", self.serial, uuid::Uuid::new_v4()),
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signature = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{header}.{payload}.qargo-sim")));
        let token = format!("{header}.{payload}.{signature}");
        self.issued.insert(token.clone(), now + ttl);
        token
    }

    /// Whether `token` was issued here and is still valid at `now`.
    pub fn check(&self, token: &str, now: Instant) -> Result<(), &'static str> {
        match self.issued.get(token) {
            None => Err("Invalid access token"),
            Some(expires) if *expires <= now => Err("Access token expired"),
            Some(_) => Ok(()),
        }
    }

    /// Makes every issued token expire at `now`.
    pub fn expire_all(&mut self, now: Instant) {
        for expires in self.issued.values_mut() {
            *expires = now;
        }
    }
}

/// Extractor for API routes: a valid bearer token, then the API rate limit.
#[derive(Debug, Clone, Copy)]
pub struct ApiAuth;

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = Presented::from_header(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
        let token = match presented {
            Presented::Bearer(token) => token,
            Presented::Basic { .. } => {
                return Err(ApiError::Unauthorized(
                    "API routes need an OAuth bearer token from POST /v1/auth/token, not Basic credentials".into(),
                ));
            }
            Presented::Nothing => return Err(ApiError::Unauthorized("Not authenticated".into())),
        };
        let now = state.clock.now();
        let mut guard = state.lock();
        guard.tokens.check(&token, now).map_err(|why| ApiError::Unauthorized(why.into()))?;
        if let Some(bucket) = guard.api_bucket.as_mut() {
            bucket.admit(now).map_err(ApiError::RateLimited)?;
        }
        Ok(ApiAuth)
    }
}

/// Extractor for webhook routes: the webhook Basic credential (no rate limit).
#[derive(Debug, Clone, Copy)]
pub struct WebhookAuth;

impl FromRequestParts<AppState> for WebhookAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = Presented::from_header(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
        match presented {
            Presented::Basic { username, password }
                if username == state.options.webhook.username && password == state.options.webhook.password =>
            {
                Ok(WebhookAuth)
            }
            Presented::Basic { .. } => Err(ApiError::WebhookUnauthorized("Invalid webhook credentials".into())),
            Presented::Bearer(_) => Err(ApiError::WebhookUnauthorized(
                "Webhook routes use HTTP Basic with the webhook credentials; OAuth tokens do not work here".into(),
            )),
            Presented::Nothing => Err(ApiError::WebhookUnauthorized("Not authenticated".into())),
        }
    }
}
