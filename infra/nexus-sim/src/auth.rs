//! Login, refresh and bearer-token checks (nexus-api.md §1.3, §3.2).
//!
//! Tokens are JWT-shaped (`header.payload.signature`, base64url) because the real one is described as
//! a JWT; the claims carry `sub`, `scope`, `iat` and `exp`. Invented here: expiry is measured on the
//! **simulator's clock** (so advancing the clock by a day expires tokens, as a day would), `exp` is in
//! that clock's Unix seconds, refresh tokens are single use (a refresh consumes the refresh token it
//! presents and returns a new pair), and the server keeps every issued token, so a token altered by
//! the client or issued by another simulator instance is simply unknown (401).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;
use crate::world::{Principal, RefreshSession, Scope, Session, World};

/// What login and refresh answer.
pub(crate) struct TokenPair {
    pub(crate) bearer_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in_seconds: i64,
}

impl TokenPair {
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({
            "bearerToken": self.bearer_token,
            "refreshToken": self.refresh_token,
            "expiresIn": self.expires_in_seconds,
        })
    }
}

pub(crate) fn login(world: &mut World, username: &str, password: &str) -> Result<TokenPair, ApiError> {
    let user = world.users.get(&username.trim().to_ascii_lowercase()).filter(|u| u.password == password).cloned();
    let Some(user) = user else {
        return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "Invalid username or password."));
    };
    Ok(issue(world, &user.username, &user.scope))
}

pub(crate) fn refresh(world: &mut World, refresh_token: &str) -> Result<TokenPair, ApiError> {
    let session = world.refresh_sessions.remove(refresh_token.trim());
    let Some(session) = session else {
        return Err(ApiError::unauthorized("The refresh token is invalid or has already been used."));
    };
    if session.expires_at <= world.now {
        return Err(ApiError::unauthorized("The refresh token has expired; log in again."));
    }
    let Some(principal) = world.principal_for(&session.username) else {
        return Err(ApiError::unauthorized("The user no longer exists."));
    };
    Ok(issue(world, &principal.username, &principal.scope))
}

fn issue(world: &mut World, username: &str, scope: &Scope) -> TokenPair {
    forget_stale_sessions(world);
    let issued = world.now;
    let expires_at = issued.checked_add(world.token_lifetime).unwrap_or(issued);
    let scope_claim = match scope {
        Scope::Depot(code) => format!("depot:{code}"),
        Scope::Customer(id) => format!("customer:{id}"),
    };
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "sub": username,
        "scope": scope_claim,
        "iat": issued.as_second(),
        "exp": expires_at.as_second(),
        "jti": world.rng.hex(8),
        "iss": "nexus-sim",
    });
    let payload = base64url(claims.to_string().as_bytes());
    let signature = base64url(&Sha256::digest(format!("{}.{header}.{payload}", world.seed).as_bytes()));
    let bearer_token = format!("{header}.{payload}.{signature}");
    let refresh_token = world.rng.hex(32);
    world
        .sessions
        .insert(bearer_token.clone(), Session { username: username.to_owned(), expires_at, forced_expired: false });
    let refresh_expires_at = issued.checked_add(world.refresh_lifetime).unwrap_or(issued);
    world.refresh_sessions.insert(
        refresh_token.clone(),
        RefreshSession { username: username.to_owned(), expires_at: refresh_expires_at },
    );
    TokenPair { bearer_token, refresh_token, expires_in_seconds: world.token_lifetime.as_secs() }
}

/// Sessions long past their expiry are dropped so a long benchmark does not grow the table forever.
fn forget_stale_sessions(world: &mut World) {
    if world.sessions.len() < 10_000 {
        return;
    }
    let cutoff = world.now;
    world.sessions.retain(|_, s| s.expires_at > cutoff && !s.forced_expired);
    world.refresh_sessions.retain(|_, s| s.expires_at > cutoff);
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller of a request, or 401.
pub(crate) fn authenticate(world: &World, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::unauthorized("An Authorization: Bearer token is required."));
    };
    let Some(session) = world.sessions.get(token) else {
        return Err(ApiError::unauthorized("The bearer token is invalid."));
    };
    if session.forced_expired || session.expires_at <= world.now {
        return Err(ApiError::unauthorized("The bearer token has expired."));
    }
    world.principal_for(&session.username).ok_or_else(|| ApiError::unauthorized("The user no longer exists."))
}

/// Who to count a request against (rate limit, request counts): the token's user even when the token
/// has expired, otherwise `anonymous`.
pub(crate) fn principal_label(world: &World, headers: &HeaderMap) -> String {
    bearer(headers)
        .and_then(|token| world.sessions.get(token))
        .map(|session| session.username.clone())
        .unwrap_or_else(|| "anonymous".to_owned())
}

pub(crate) fn expire_all_bearer_tokens(world: &mut World) {
    for session in world.sessions.values_mut() {
        session.forced_expired = true;
    }
}

pub(crate) fn revoke_refresh_tokens(world: &mut World) {
    world.refresh_sessions.clear();
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64url;

    #[test]
    fn base64url_matches_rfc_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
