//! The OAuth client (the token call and `GET /me`) and the webhook credential (an empty status
//! update), checked through the bridge's own Qargo client.

use serde_json::{Value, json};

use super::reader::WatchedTokens;
use super::{TenantCheck, TenantInput};
use crate::config::{OrderDoor, Secret};
use crate::qargo::{QargoClient, QargoError};

/// The token call and `GET /me`; answers the token the client used when the client works.
pub(super) async fn check_oauth(
    input: &TenantInput,
    qargo: &QargoClient,
    tokens: &WatchedTokens,
    checks: &mut Vec<TenantCheck>,
) -> Option<Secret> {
    const TOKEN: &str = "OAuth token (POST /v1/auth/token, secret qargo)";
    const ME: &str = "API access (GET /me)";
    let client_id = &input.secrets.qargo.client_id;
    let fix_client = format!(
        "set the secret's \"qargo\" client_id / client_secret to the tenant's API client (Qargo's API credentials, issued \
         by Qargo for the integration); the bridge now uses client_id {client_id:?}"
    );
    let me = qargo.me().await;
    let fetched = tokens.fetched();
    let token_row = |status_ok: bool| {
        if !status_ok {
            return None;
        }
        Some(if fetched {
            TenantCheck::ok(TOKEN, format!("Qargo issued a token to API client {client_id:?} now"))
        } else if input.shared_tokens {
            TenantCheck::ok(
                TOKEN,
                format!(
                    "the token of API client {client_id:?} in the stack's shared cache was accepted (no token call spent)"
                ),
            )
        } else {
            TenantCheck::ok(TOKEN, format!("a cached token of API client {client_id:?} was accepted"))
        })
    };
    match me {
        Ok(answer) => {
            checks.extend(token_row(true));
            checks.push(TenantCheck::ok(ME, format!("Qargo answered {}", summary_of_me(&answer))));
            tokens.used()
        }
        Err(QargoError::Unauthorized { .. }) if fetched => {
            checks.extend(token_row(true));
            checks.push(TenantCheck::missing(
                ME,
                "Qargo issued a token but refused it on GET /me (401)",
                format!("give API client {client_id:?} access to the tenant's API (ask Qargo support)"),
            ));
            None
        }
        Err(QargoError::Unauthorized { .. }) => {
            checks.push(TenantCheck::missing(
                TOKEN,
                format!(
                    "Qargo refused client_id {client_id:?} and its secret on POST /v1/auth/token (401/403): every API call \
                     of the bridge fails — order reads, label checks, document downloads, the upload door"
                ),
                fix_client,
            ));
            checks.push(TenantCheck::cannot(ME, "no token", "fix the OAuth client first, then run this again"));
            None
        }
        Err(QargoError::TokenLimit { retry_after }) => {
            checks.push(TenantCheck::cannot(
                TOKEN,
                format!(
                    "Qargo's 5 token calls an hour for the tenant are spent; the next is allowed in {} s",
                    retry_after.as_secs()
                ),
                "run again later, or with --table <TableName> to use the token the deployed functions share",
            ));
            checks.push(TenantCheck::cannot(ME, "no token", "run again once a token can be had"));
            None
        }
        Err(err) => {
            let (token_ok, me_check) = match &err {
                QargoError::NotFound { .. } => (
                    true,
                    TenantCheck::cannot(
                        ME,
                        "Qargo answered 404 for GET /me",
                        "check QARGO_BASE_URL is the API host (e.g. https://api.qargo.com/)",
                    ),
                ),
                _ => (
                    fetched,
                    TenantCheck::cannot(
                        ME,
                        format!("Qargo could not be asked: {err}"),
                        "check QARGO_BASE_URL and the network path to Qargo, then run again",
                    ),
                ),
            };
            if token_ok {
                checks.extend(token_row(true));
            } else {
                checks.push(TenantCheck::cannot(
                    TOKEN,
                    format!("no answer to judge the OAuth client by: {err}"),
                    "check QARGO_BASE_URL and the network path to Qargo, then run again",
                ));
            }
            checks.push(me_check);
            tokens.used().filter(|_| token_ok)
        }
    }
}

/// A short description of `GET /me`'s answer (the spec types it only as an object).
fn summary_of_me(answer: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["name", "tenant", "type", "roles"] {
        if let Some(value) = answer.get(key).filter(|v| !v.is_null()) {
            let shown = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{key} {shown}"));
        }
    }
    if parts.is_empty() { "an API user".to_owned() } else { parts.join(", ") }
}

/// An empty status update with the webhook credential.
pub(super) async fn check_webhook(input: &TenantInput, qargo: &QargoClient) -> TenantCheck {
    const CHECK: &str = "webhook credential (POST /v1/webhook/…, secret qargo_webhook)";
    let user = &input.secrets.qargo_webhook.username;
    let door = match input.settings.order_door {
        OrderDoor::Webhook => ", the order import (QARGO_ORDER_DOOR=webhook: POST /v1/webhook)",
        OrderDoor::Upload => "",
    };
    let uses = format!(
        "scans and stop statuses (subco-status-update), PODs into Qargo, labels (subco-document-upload), the Nexus identity \
         and barcodes on orders (partial-order-update){door}"
    );
    match qargo.subco_status_update(&json!({"updates": []})).await {
        Ok(_) => TenantCheck::ok(
            CHECK,
            format!(
                "user {user:?} accepted: POST /v1/webhook/subco-status-update with an empty list answered without errors"
            ),
        ),
        Err(QargoError::Unauthorized { .. }) => TenantCheck::missing(
            CHECK,
            format!(
                "Qargo refused user {user:?} (401/403) on POST /v1/webhook/subco-status-update; without it nothing reaches Qargo: {uses}"
            ),
            "set the secret's \"qargo_webhook\" username / password to the tenant's webhook credentials (Qargo's integration \
             settings for PALL-EX / Fortec), then restart the functions (or the local bridge) so they read them",
        ),
        Err(
            refused @ (QargoError::Invalid { .. }
            | QargoError::Unprocessable { .. }
            | QargoError::WebhookRefused { .. }),
        ) => {
            TenantCheck::ok(CHECK, format!("user {user:?} accepted (Qargo answered the empty list itself: {refused})"))
        }
        Err(err) => TenantCheck::cannot(
            CHECK,
            format!("Qargo could not be asked: {err}"),
            "check QARGO_BASE_URL and the network path to Qargo, then run again",
        ),
    }
}
