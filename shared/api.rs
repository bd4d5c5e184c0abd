//! The bridge's HTTP API, the same behind API Gateway (the dispatch Lambda) and on the local
//! bridge: `POST /qargo/dispatch` and `POST /qargo/visibility`. Each route authenticates Qargo's
//! outbound credential (HTTP Basic, compared in constant time) before reading the body, then parses
//! it and hands it to its job — or, for visibility updates, to the [`VisibilityRouter`] the caller
//! chose (the event bus in the cloud, the jobs in process locally). Answers are Qargo's
//! `{errors:[{error_type, error_message}]}` shape.

use base64::Engine;
use serde_json::{Value, json};

use crate::config::Credentials;
use crate::jobs::dispatch::{DispatchAnswer, handle_dispatch};
use crate::qargo::dispatch_webhook::DispatchWebhook;
use crate::routing::VisibilityRouter;
use crate::visibility::parse_visibility;
use crate::wiring::Bridge;

/// The dispatch webhook's path.
pub const DISPATCH_PATH: &str = "/qargo/dispatch";
/// The visibility webhook's path.
pub const VISIBILITY_PATH: &str = "/qargo/visibility";
/// The largest body either route reads (Lambda's synchronous payload limit); larger ones are
/// refused with 413 before any parsing.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    /// HTTP status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl HttpAnswer {
    fn error(status: u16, error_type: &str, message: impl Into<String>) -> HttpAnswer {
        HttpAnswer { status, body: json!({"errors": [{"error_type": error_type, "error_message": message.into()}]}) }
    }
}

/// Routes one request by method and path; visibility updates go to `router`.
pub async fn route(
    bridge: &Bridge,
    router: &dyn VisibilityRouter,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> HttpAnswer {
    let path = path.trim_end_matches('/');
    match (method, path) {
        ("POST", DISPATCH_PATH) => dispatch_route(bridge, authorization, body).await,
        ("POST", VISIBILITY_PATH) => visibility_route(bridge, router, authorization, body).await,
        (_, DISPATCH_PATH | VISIBILITY_PATH) => {
            HttpAnswer::error(405, "USER_INPUT_ERROR", format!("{path} takes POST, not {method}"))
        }
        _ => HttpAnswer::error(
            404,
            "USER_INPUT_ERROR",
            format!("no route {method} {path}: the bridge serves POST {DISPATCH_PATH} and POST {VISIBILITY_PATH}"),
        ),
    }
}

/// `POST /qargo/dispatch`: Qargo's Subcontractor Dispatch webhook.
pub async fn dispatch_route(bridge: &Bridge, authorization: Option<&str>, body: &[u8]) -> HttpAnswer {
    if let Err(refusal) = authenticate(authorization, &bridge.secrets.inbound).and_then(|()| within_limit(body)) {
        return refusal;
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, DispatchWebhook>(&mut reader);
    let webhook = match parsed.map(|webhook| (webhook, reader.end())) {
        Ok((webhook, Ok(()))) => webhook,
        // One document only: anything after it (a second body) is refused, not ignored.
        Ok((_, Err(err))) => {
            return HttpAnswer::error(
                400,
                "USER_INPUT_ERROR",
                format!("the body is not a Subcontractor Dispatch payload ({err}): send JSON {{operation, payload}}"),
            );
        }
        Err(err) => {
            // The path names the field (`payload.orders[0].consignments[0].goods`), when there is one.
            let field = err.path().to_string();
            let message = format!(
                "the body is not a Subcontractor Dispatch payload ({}): send JSON {{operation, payload}}",
                err.inner()
            );
            let mut answer = HttpAnswer::error(400, "USER_INPUT_ERROR", message);
            if field != "." && !field.is_empty() {
                answer.body["errors"][0]["field"] = json!(crate::error::shown(&field));
            }
            return answer;
        }
    };
    answer_of(handle_dispatch(bridge, webhook).await)
}

/// Qargo's documented answer to a dispatch: HTTP 200 with `SubcontractorDispatchResponse`, whose
/// `errors` say what failed (`USER_INPUT_ERROR`, `NOT_SUPPORTED`, or `INTERNAL_ERROR` for what a
/// retry can fix); our `field`, `result` and `booking` ride along as extra keys.
fn answer_of(answer: DispatchAnswer) -> HttpAnswer {
    HttpAnswer { status: 200, body: serde_json::to_value(&answer).unwrap_or_else(|_| json!({"errors": []})) }
}

/// `POST /qargo/visibility`: Qargo's visibility events. Authenticated, checked (400 naming what is
/// wrong), split into self-contained updates and handed to `router`: 202 once routed, 503 when
/// routing failed, so that Qargo sends the body again and nothing is lost.
pub async fn visibility_route(
    bridge: &Bridge,
    router: &dyn VisibilityRouter,
    authorization: Option<&str>,
    body: &[u8],
) -> HttpAnswer {
    if let Err(refusal) = authenticate(authorization, &bridge.secrets.inbound).and_then(|()| within_limit(body)) {
        return refusal;
    }
    let updates = match parse_visibility(body) {
        Ok(updates) => updates,
        Err(invalid) => {
            return HttpAnswer::error(
                400,
                "USER_INPUT_ERROR",
                format!("the body is not a visibility update: {invalid}"),
            );
        }
    };
    match router.route(updates).await {
        Ok(()) => HttpAnswer { status: 202, body: json!({"errors": []}) },
        Err(err @ crate::routing::RoutingError::Invalid { .. }) => {
            let message: String = err.to_string().chars().take(500).collect();
            HttpAnswer::error(422, "USER_INPUT_ERROR", message)
        }
        Err(err) => {
            tracing::warn!(error = %err, "visibility updates not routed; Qargo will send them again");
            HttpAnswer::error(503, "INTERNAL_ERROR", format!("{err}; retry later"))
        }
    }
}

/// Refuses a body over [`MAX_BODY_BYTES`] before it is parsed.
fn within_limit(body: &[u8]) -> Result<(), HttpAnswer> {
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large(&format!("the body is {} bytes", body.len())));
    }
    Ok(())
}

/// The answer to a body over [`MAX_BODY_BYTES`] (`what` says how large, when known): the same
/// JSON 413 wherever the limit is enforced (here, or by the local server while reading).
pub fn too_large(what: &str) -> HttpAnswer {
    HttpAnswer::error(413, "USER_INPUT_ERROR", format!("{what}; the bridge takes at most {MAX_BODY_BYTES} bytes"))
}

/// Checks an `Authorization: Basic …` header against the expected credential, in constant time.
/// A missing or wrong credential is a 401 naming what is expected, never the expected value.
pub fn authenticate(authorization: Option<&str>, expected: &Credentials) -> Result<(), HttpAnswer> {
    let wanted = format!("{}:{}", expected.username, expected.password.expose());
    let given = authorization
        // The scheme name is case-insensitive (RFC 9110 §11.1): `Basic`, `basic`, `BASIC`.
        .and_then(|header| header.trim().split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic")))
        .map(|(_, encoded)| encoded)
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok());
    match given {
        Some(given) if constant_time_eq(&given, wanted.as_bytes()) => Ok(()),
        Some(_) => Err(HttpAnswer::error(
            401,
            "USER_INPUT_ERROR",
            "wrong credentials: set the integration's webhook user and password to the bridge's inbound credential",
        )),
        None => Err(HttpAnswer::error(
            401,
            "USER_INPUT_ERROR",
            "missing credentials: the bridge needs HTTP Basic authentication (the inbound credential)",
        )),
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let length_differs = u8::from(a.len() != b.len());
    let folded = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    (folded | length_differs) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn expected() -> Credentials {
        Credentials { username: "qargo".into(), password: Secret::new("inbound-pass") }
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn basic_credentials_are_checked() {
        assert!(authenticate(Some(&basic("qargo", "inbound-pass")), &expected()).is_ok());
        let wrong = authenticate(Some(&basic("qargo", "inbound-pas")), &expected()).unwrap_err();
        assert_eq!(wrong.status, 401);
        assert!(!wrong.body.to_string().contains("inbound-pass"));
        assert!(wrong.body.to_string().contains("wrong credentials"));
        let missing = authenticate(None, &expected()).unwrap_err();
        assert!(missing.body.to_string().contains("missing credentials"));
        assert!(authenticate(Some("Bearer abc"), &expected()).is_err());
        assert!(authenticate(Some("Basic !!!"), &expected()).is_err());
        let encoded = basic("qargo", "inbound-pass").split_once(' ').unwrap().1.to_owned();
        for scheme in ["BASIC", "basic", "bAsIc"] {
            assert!(authenticate(Some(&format!("{scheme} {encoded}")), &expected()).is_ok(), "{scheme}");
        }
        assert!(authenticate(Some(&format!("Basicx {encoded}")), &expected()).is_err());
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        assert!(within_limit(&vec![b' '; MAX_BODY_BYTES]).is_ok());
        let refused = within_limit(&vec![b' '; MAX_BODY_BYTES + 1]).unwrap_err();
        assert_eq!(refused.status, 413);
        assert!(refused.body.to_string().contains("at most"));
    }

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
