//! `bridge-ops tenant-check`: what the bridge needs from the Qargo tenant, checked where Qargo's API
//! can show it and listed as a manual step (with the exact value) where it cannot. The README's
//! "Set up Qargo for the bridge" is the same list in prose.
//!
//! | check | how |
//! |---|---|
//! | OAuth client (secret `qargo`) | the token call `POST /v1/auth/token` and `GET /me`, through the bridge's own client |
//! | webhook credential (secret `qargo_webhook`) | `POST /v1/webhook/subco-status-update` with `{"updates": []}`: an empty list changes nothing; only a 401/403 says the credential is wrong |
//! | customers of `BRIDGE_CUSTOMER_MAP`, customers' `PallexID` / `FortecID` | `GET /v1/companies/company` (paged), when the tenant serves it to the API client; else a manual step |
//! | subcontractor resources `PALLEX_OUT` / `FORTEC_OUT` | `GET /v1/resources/resource` (paged), when served; a resource not listed is a manual step, not a failure (the spec's resource types have no subcontractor output) |
//! | additional fields, question paths, master-data codes, outbound webhooks, the order import webhook | not readable through Qargo's public API: printed as manual checks with the value to set |
//!
//! Every call is a read, or a webhook call that changes nothing. The check spends at most one of
//! the tenant's 5 token calls an hour — none when it shares the deployed stack's token cache
//! (`--table`), which holds the token the functions use.
//!
//! `QargoClient` has no company or resource read, so this module reads those two lists itself,
//! paced by the client's [`Pacer`] and with the token the client just used (caught by a
//! [`TokenCache`] wrapper), never fetching a token of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

use super::OpsError;
use crate::config::{CustomerMap, OrderDoor, Secret, Secrets, Settings};
use crate::domain::{DocumentKind, Extra, Network, PalletBase, PalletType, ServiceLevel, TimeWindowCode};
use crate::error::StoreError;
use crate::http::{Attempt, RetryPolicy, base_with_slash, with_retries};
use crate::qargo::{Pacer, QargoClient, QargoError};
use crate::store::{CachedToken, TokenCache};

/// The most pages of a list read (Qargo's pages are cursor-linked; 40 pages is thousands of rows).
pub const MAX_PAGES: usize = 40;

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Qargo shows it is set up.
    Ok,
    /// Qargo shows it is not: the bridge breaks where the row says (exit code 2).
    Missing,
    /// Qargo's API could not tell (a route it does not serve, an outage, no token): do the fix by hand.
    CannotCheck,
    /// Qargo's public API cannot show it at all: check it in Qargo with the value the row gives.
    Manual,
}

impl CheckStatus {
    /// The word printed in the text report.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Missing => "MISSING",
            CheckStatus::CannotCheck => "cannot check",
            CheckStatus::Manual => "manual",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantCheck {
    /// What is checked, e.g. `webhook credential (secret qargo_webhook)`.
    pub check: String,
    /// What was found.
    pub status: CheckStatus,
    /// What Qargo answered, or what the bridge uses it for and what breaks without it.
    pub evidence: String,
    /// What to set, and where; `None` when nothing is to be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl TenantCheck {
    fn new(check: impl Into<String>, status: CheckStatus, evidence: impl Into<String>, fix: Option<String>) -> Self {
        TenantCheck { check: check.into(), status, evidence: evidence.into(), fix }
    }

    fn ok(check: impl Into<String>, evidence: impl Into<String>) -> Self {
        TenantCheck::new(check, CheckStatus::Ok, evidence, None)
    }

    fn missing(check: impl Into<String>, evidence: impl Into<String>, fix: impl Into<String>) -> Self {
        TenantCheck::new(check, CheckStatus::Missing, evidence, Some(fix.into()))
    }

    fn cannot(check: impl Into<String>, evidence: impl Into<String>, fix: impl Into<String>) -> Self {
        TenantCheck::new(check, CheckStatus::CannotCheck, evidence, Some(fix.into()))
    }

    fn manual(check: impl Into<String>, evidence: impl Into<String>, fix: impl Into<String>) -> Self {
        TenantCheck::new(check, CheckStatus::Manual, evidence, Some(fix.into()))
    }
}

/// Everything the tenant check found, in the order it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantReport {
    /// The Qargo API checked (`QARGO_BASE_URL`).
    pub qargo_base_url: String,
    /// The rows.
    pub checks: Vec<TenantCheck>,
}

impl TenantReport {
    /// The rows with `status`.
    pub fn with_status(&self, status: CheckStatus) -> impl Iterator<Item = &TenantCheck> {
        self.checks.iter().filter(move |check| check.status == status)
    }

    /// Whether Qargo showed something missing (the command then exits with 2).
    pub fn has_missing(&self) -> bool {
        self.with_status(CheckStatus::Missing).next().is_some()
    }

    /// The row named `check`, if any.
    pub fn row(&self, check: &str) -> Option<&TenantCheck> {
        self.checks.iter().find(|row| row.check == check)
    }

    /// The report as text: one block per row, then the counts.
    pub fn render(&self) -> String {
        let mut text = format!("Qargo tenant at {}\n\n", self.qargo_base_url);
        for row in &self.checks {
            text.push_str(&format!("{:<13} {}\n", row.status.label(), row.check));
            text.push_str(&format!("{:<13} {}\n", "", row.evidence));
            if let Some(fix) = &row.fix {
                text.push_str(&format!("{:<13} fix: {fix}\n", ""));
            }
            text.push('\n');
        }
        let count = |status| self.with_status(status).count();
        text.push_str(&format!(
            "{} ok, {} missing, {} cannot be checked through the API, {} to check by hand\n",
            count(CheckStatus::Ok),
            count(CheckStatus::Missing),
            count(CheckStatus::CannotCheck),
            count(CheckStatus::Manual)
        ));
        text
    }
}

/// What the check works from.
#[derive(Clone)]
pub struct TenantInput {
    /// The bridge's settings (Qargo's base URL, depots, `QARGO_ORDER_DOOR`).
    pub settings: Settings,
    /// The bridge's secrets (`qargo`, `qargo_webhook`, `inbound`).
    pub secrets: Arc<Secrets>,
    /// Qargo customer code → the Nexus customer IDs `BRIDGE_CUSTOMER_MAP` maps to it (see
    /// [`mapped_customers`]).
    pub mapped_customers: BTreeMap<String, Vec<i64>>,
    /// Customers (Qargo codes) the depot dispatches to a network, whose `PallexID` / `FortecID`
    /// are checked one by one (`--customer`).
    pub dispatch_customers: Vec<String>,
    /// The bridge's API base (the stack's `ApiUrl` output), to print the outbound webhook URLs;
    /// `None` prints `<ApiUrl>`.
    pub api_url: Option<String>,
    /// Where the OAuth token is kept: the stack's table (shared with the functions, so no token
    /// call is spent while theirs is valid) or memory.
    pub tokens: Arc<dyn TokenCache>,
    /// Whether `tokens` is the deployed stack's shared cache (said in the report).
    pub shared_tokens: bool,
    /// Retries of each call.
    pub retry: RetryPolicy,
    /// API calls per second (Qargo allows 2 per tenant).
    pub requests_per_second: f64,
}

impl std::fmt::Debug for TenantInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantInput")
            .field("qargo_base_url", &self.settings.qargo_base_url)
            .field("mapped_customers", &self.mapped_customers)
            .field("dispatch_customers", &self.dispatch_customers)
            .field("api_url", &self.api_url)
            .field("shared_tokens", &self.shared_tokens)
            .finish_non_exhaustive()
    }
}

/// `BRIDGE_CUSTOMER_MAP` (`52011:ACME,55120:ACME,83007:DUNE`) grouped by Qargo customer code:
/// `ACME → [52011, 55120]`, `DUNE → [83007]`. Refused as the bridge refuses it.
pub fn mapped_customers(raw: &str) -> Result<BTreeMap<String, Vec<i64>>, OpsError> {
    CustomerMap::parse(raw).map_err(|err| OpsError::Invalid(format!("BRIDGE_CUSTOMER_MAP: {err}")))?;
    let mut by_code: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if let Some((id, code)) = entry.split_once(':')
            && let Ok(id) = id.trim().parse::<i64>()
        {
            let ids = by_code.entry(code.trim().to_owned()).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(by_code)
}

/// Reads what the check needs as the functions read it: settings from `lookup` (the process
/// environment in the binary; `BRIDGE_TABLE` / `BRIDGE_BUCKET` need not be set), the secrets (AWS
/// only for Secrets Manager), and the token cache — the stack's table when `table` is given (the
/// token the functions use, so no token call is spent), else memory.
pub async fn input_from(
    lookup: impl Fn(&str) -> Option<String>,
    aws: Option<&aws_config::SdkConfig>,
    table: Option<&str>,
) -> Result<TenantInput, OpsError> {
    let settings = Settings::from_lookup(|name| match (name, lookup(name)) {
        ("BRIDGE_TABLE", None) => Some(table.unwrap_or("unused-by-tenant-check").to_owned()),
        ("BRIDGE_BUCKET", None) => Some("unused-by-tenant-check".to_owned()),
        (_, value) => value,
    })
    .map_err(|err| OpsError::Offline { reason: err.to_string() })?;
    let secrets = Secrets::load(&settings.secrets_source, aws)
        .await
        .map_err(|err| OpsError::Offline { reason: err.to_string() })?;
    let mapped = mapped_customers(&lookup("BRIDGE_CUSTOMER_MAP").unwrap_or_default())?;
    let (tokens, shared_tokens): (Arc<dyn TokenCache>, bool) = match (table, aws) {
        (Some(table), Some(aws)) => {
            (Arc::new(crate::store::dynamo::DynamoStore::new(crate::aws::dynamodb_client(aws), table.to_owned())), true)
        }
        (Some(_), None) => {
            return Err(OpsError::Invalid("reading the stack's token cache needs the AWS configuration".into()));
        }
        (None, _) => (Arc::new(crate::store::memory::MemoryStore::in_memory()), false),
    };
    Ok(TenantInput {
        settings,
        secrets: Arc::new(secrets),
        mapped_customers: mapped,
        dispatch_customers: Vec::new(),
        api_url: None,
        tokens,
        shared_tokens,
        retry: super::target::ops_tuning().retry,
        requests_per_second: 2.0,
    })
}

/// Checks the tenant (module docs). Never fails: what cannot be checked is a row saying so.
pub async fn check_tenant(input: &TenantInput) -> TenantReport {
    let settings = &input.settings;
    let secrets = &input.secrets;
    let tokens = Arc::new(WatchedTokens::new(input.tokens.clone()));
    let pacer = Arc::new(Pacer::new(input.requests_per_second));
    let qargo = QargoClient::new(
        &settings.qargo_base_url,
        secrets.qargo.clone(),
        secrets.qargo_webhook.clone(),
        tokens.clone(),
        pacer.clone(),
        input.retry,
    );
    let networks: BTreeSet<Network> = settings.depot_networks().map(|(_, network)| network).collect();
    let mut checks = Vec::new();

    let token = check_oauth(input, &qargo, &tokens, &mut checks).await;
    checks.push(check_webhook(input, &qargo).await);

    let reader = token.map(|token| ApiReader {
        http: input.retry.http_client(),
        base_url: base_with_slash(&settings.qargo_base_url),
        token,
        pacer,
        retry: input.retry,
    });
    let companies = match &reader {
        Some(reader) => reader.list("v1/companies/company").await,
        None => Err(ListFailure::NoToken),
    };
    check_customers(input, &networks, &companies, &mut checks);
    let resources = match &reader {
        Some(reader) => reader.list("v1/resources/resource").await,
        None => Err(ListFailure::NoToken),
    };
    check_resources(&networks, &resources, &mut checks);
    checks.extend(manual_checks(input, &networks));
    TenantReport { qargo_base_url: base_with_slash(&settings.qargo_base_url), checks }
}

// ---- the OAuth client and the webhook credential --------------------------------------------------

/// The token call and `GET /me`; answers the token the client used when the client works.
async fn check_oauth(
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
async fn check_webhook(input: &TenantInput, qargo: &QargoClient) -> TenantCheck {
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

// ---- customers -----------------------------------------------------------------------------------

/// What a company list read ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListFailure {
    /// No token to read with (the OAuth client failed above).
    NoToken,
    /// The route answered 404 or 405: this Qargo does not serve it to the bridge.
    NotServed(u16),
    /// 401/403: the API client may not read it.
    Forbidden(u16),
    /// Anything else.
    Failed(String),
}

impl ListFailure {
    fn evidence(&self, route: &str) -> String {
        match self {
            ListFailure::NoToken => format!("{route} not read: no working OAuth token"),
            ListFailure::NotServed(status) => {
                format!("Qargo answered {status} for {route}: it cannot be checked through the API here")
            }
            ListFailure::Forbidden(status) => {
                format!("Qargo answered {status} for {route}: the API client may not read it")
            }
            ListFailure::Failed(reason) => format!("{route} could not be read: {reason}"),
        }
    }
}

/// A list read: the rows, and whether every page was read.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    items: Vec<Value>,
    complete: bool,
}

fn text_field(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A customer's Nexus ID field as the dispatch rule reads it: `Ok(None)` absent or blank,
/// `Err(value)` present but not a positive whole number.
fn nexus_id_field(company: &Value, field: &str) -> Result<Option<i64>, String> {
    let Some(raw) = company.get("custom_fields").and_then(|fields| fields.get(field)) else {
        return Ok(None);
    };
    let text = match raw {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Null => return Ok(None),
        other => return Err(other.to_string()),
    };
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(text),
    }
}

fn company_code(company: &Value) -> Option<String> {
    text_field(company, "code")
}

fn company_name(company: &Value) -> String {
    let name = text_field(company, "name").unwrap_or_else(|| "?".into());
    match company_code(company) {
        Some(code) => format!("{name} ({code})"),
        None => name,
    }
}

fn find_company<'a>(companies: &'a [Value], code: &str) -> Option<&'a Value> {
    companies
        .iter()
        .find(|c| company_code(c).as_deref() == Some(code))
        .or_else(|| companies.iter().find(|c| company_code(c).is_some_and(|own| own.eq_ignore_ascii_case(code))))
}

fn is_active_customer(company: &Value) -> bool {
    company.get("is_customer").and_then(Value::as_bool).unwrap_or(false)
        && !company.get("archived_customer").and_then(Value::as_bool).unwrap_or(false)
}

/// `PallexID 64086, FortecID —` for the evidence.
fn nexus_ids_shown(company: &Value) -> String {
    Network::ALL
        .iter()
        .map(|network| {
            let field = network.customer_id_field();
            match nexus_id_field(company, field) {
                Ok(Some(id)) => format!("{field} {id}"),
                Ok(None) => format!("{field} —"),
                Err(raw) => format!("{field} {raw:?} (not a number)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_customers(
    input: &TenantInput,
    networks: &BTreeSet<Network>,
    companies: &Result<Listed, ListFailure>,
    checks: &mut Vec<TenantCheck>,
) {
    const ROUTE: &str = "GET /v1/companies/company";
    let fields: Vec<&str> = networks.iter().map(|n| n.customer_id_field()).collect();
    let fields_text = fields.join(" / ");
    let listed = match companies {
        Ok(listed) => listed,
        Err(failure) => {
            let evidence = failure.evidence(ROUTE);
            for (code, ids) in &input.mapped_customers {
                checks.push(TenantCheck::cannot(
                    format!("customer {code} (BRIDGE_CUSTOMER_MAP)"),
                    format!("{evidence}; imported consignments of Nexus customer(s) {} become orders of customer {code}", ids_text(ids)),
                    format!(
                        "in Qargo (Companies → Customers) check that a customer with code {code} exists, is not archived and has \
                         status APPROVED; else Qargo refuses those imports"
                    ),
                ));
            }
            for code in &input.dispatch_customers {
                checks.push(TenantCheck::cannot(
                    format!("customer {code}: {fields_text}"),
                    evidence.clone(),
                    format!(
                        "in Qargo open customer {code} → additional fields and set {fields_text} to its Nexus customer ID on each \
                         network it ships on (a whole number, e.g. 64086)"
                    ),
                ));
            }
            checks.push(TenantCheck::cannot(
                format!("customers' Nexus customer IDs ({fields_text})"),
                format!("{evidence}; a dispatch of a customer without the ID for the trip's network is refused"),
                format!(
                    "in Qargo: Configuration → Additional fields → Customers: create {fields_text} (text); then on every customer \
                     dispatched to a network set its Nexus customer ID for that network"
                ),
            ));
            return;
        }
    };
    let companies = &listed.items;
    let partial = if listed.complete { "" } else { " (only the first pages were read)" };

    for (code, ids) in &input.mapped_customers {
        let check = format!("customer {code} (BRIDGE_CUSTOMER_MAP)");
        let imports = format!("imported consignments of Nexus customer(s) {}", ids_text(ids));
        let Some(company) = find_company(companies, code) else {
            if listed.complete {
                checks.push(TenantCheck::missing(
                    check,
                    format!("no company with code {code} among the {} Qargo lists; {imports} are refused", companies.len()),
                    format!(
                        "create the customer with code {code} in Qargo (Companies → Customers), or correct BRIDGE_CUSTOMER_MAP"
                    ),
                ));
            } else {
                checks.push(TenantCheck::cannot(
                    check,
                    format!("not among the first {} companies Qargo listed{partial}", companies.len()),
                    format!("in Qargo check that a customer with code {code} exists and is APPROVED"),
                ));
            }
            continue;
        };
        let status = text_field(company, "status").unwrap_or_else(|| "APPROVED".into());
        let shown = format!("{}: status {status}, {}", company_name(company), nexus_ids_shown(company));
        if !company.get("is_customer").and_then(Value::as_bool).unwrap_or(false) {
            checks.push(TenantCheck::missing(
                check,
                format!("{shown}, but it is not a customer; {imports} are refused"),
                format!(
                    "mark company {code} as a customer in Qargo, or map those Nexus customers to a customer's code"
                ),
            ));
        } else if company.get("archived_customer").and_then(Value::as_bool).unwrap_or(false) {
            checks.push(TenantCheck::missing(
                check,
                format!("{shown}, but it is archived as a customer; {imports} are refused"),
                format!("restore customer {code} in Qargo, or map those Nexus customers elsewhere"),
            ));
        } else if matches!(status.as_str(), "BLOCKED" | "PROSPECT" | "NOT_APPROVED") {
            checks.push(TenantCheck::missing(
                check,
                format!("{shown}: Qargo creates no orders for it; {imports} are refused"),
                format!("set customer {code}'s status to APPROVED in Qargo"),
            ));
        } else {
            checks.push(TenantCheck::ok(check, format!("{shown}; receives {imports}")));
        }
    }

    for code in &input.dispatch_customers {
        let check = format!("customer {code}: {fields_text}");
        let Some(company) = find_company(companies, code) else {
            let status = if listed.complete { CheckStatus::Missing } else { CheckStatus::CannotCheck };
            checks.push(TenantCheck::new(
                check,
                status,
                format!("no company with code {code} among the {} Qargo lists{partial}", companies.len()),
                Some(format!("check the customer code {code}")),
            ));
            continue;
        };
        let values: Vec<(&str, Result<Option<i64>, String>)> =
            fields.iter().map(|field| (*field, nexus_id_field(company, field))).collect();
        let malformed: Vec<String> = values
            .iter()
            .filter_map(|(field, value)| value.as_ref().err().map(|raw| format!("{field} {raw:?}")))
            .collect();
        let present = values.iter().any(|(_, value)| matches!(value, Ok(Some(_))));
        let shown = format!("{}: {}", company_name(company), nexus_ids_shown(company));
        if !malformed.is_empty() {
            checks.push(TenantCheck::missing(
                check,
                format!("{shown}; {} is not a Nexus customer ID, so its dispatches are refused", malformed.join(", ")),
                format!("on customer {code} in Qargo set the field to the whole-number Nexus customer ID (e.g. 64086)"),
            ));
        } else if !present {
            checks.push(TenantCheck::missing(
                check,
                format!("{shown}: every dispatch of this customer to a network is refused"),
                format!(
                    "on customer {code} in Qargo set the additional field {fields_text} to its Nexus customer ID on each network \
                     it ships on"
                ),
            ));
        } else {
            checks.push(TenantCheck::ok(
                check,
                format!("{shown} (a network whose field is — refuses this customer's dispatches)"),
            ));
        }
    }

    let customers: Vec<&Value> = companies.iter().filter(|c| is_active_customer(c)).collect();
    let mut malformed = Vec::new();
    let mut without = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for company in &customers {
        let mut any = false;
        for field in &fields {
            match nexus_id_field(company, field) {
                Ok(Some(_)) => {
                    any = true;
                    *counts.entry(field).or_default() += 1;
                }
                Ok(None) => {}
                Err(raw) => malformed.push(format!("{} {field} {raw:?}", company_name(company))),
            }
        }
        if !any {
            without.push(company_name(company));
        }
    }
    let check = format!("customers' Nexus customer IDs ({fields_text})");
    let tally = fields
        .iter()
        .map(|field| format!("{} with {field}", counts.get(field).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ");
    let without_text = if without.is_empty() {
        String::new()
    } else {
        format!("; without any (refused if dispatched to a network): {}", shorten_list(&without, 8))
    };
    let evidence = format!("{} active customers{partial}: {tally}{without_text}", customers.len());
    if malformed.is_empty() {
        checks.push(TenantCheck::ok(check, evidence));
    } else {
        checks.push(TenantCheck::missing(
            check,
            format!("{evidence}; not a Nexus customer ID: {}", shorten_list(&malformed, 8)),
            "set each of those fields to the customer's whole-number Nexus customer ID (e.g. 64086), or clear it",
        ));
    }
}

fn ids_text(ids: &[i64]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn shorten_list(items: &[String], at_most: usize) -> String {
    if items.len() <= at_most {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..at_most].join(", "), items.len() - at_most)
    }
}

// ---- subcontractor resources ---------------------------------------------------------------------

fn check_resources(
    networks: &BTreeSet<Network>,
    resources: &Result<Listed, ListFailure>,
    checks: &mut Vec<TenantCheck>,
) {
    const ROUTE: &str = "GET /v1/resources/resource";
    for network in networks {
        let code = network.resource_code();
        let check = format!("subcontractor resource {code} ({})", network.display_name());
        let breaks = format!(
            "a trip planned on {code} is dispatched to {}; without a resource with this code no trip can be",
            network.display_name()
        );
        let fix = format!(
            "in Qargo create (or open) the {} subcontractor, add a generic resource with code {code}, Active and Pallet \
             network on, and link it to the PALL-EX/Fortec integration so its trips get the resource dispatch task",
            network.display_name()
        );
        let found = match resources {
            Ok(listed) => {
                listed.items.iter().find(|r| text_field(r, "code").is_some_and(|c| c.eq_ignore_ascii_case(code)))
            }
            Err(_) => None,
        };
        match (resources, found) {
            (Ok(_), Some(resource)) => {
                let active = match resource.get("is_active").and_then(Value::as_bool) {
                    Some(false) => " but not active",
                    _ => "",
                };
                let name = text_field(resource, "name").unwrap_or_default();
                if active.is_empty() {
                    checks.push(TenantCheck::ok(check, format!("resource {name:?} has code {code}; {breaks}")));
                } else {
                    checks.push(TenantCheck::missing(
                        check,
                        format!("resource {name:?} has code {code}{active}; {breaks}"),
                        format!("activate resource {name:?} in Qargo"),
                    ));
                }
            }
            (Ok(listed), None) => checks.push(TenantCheck::manual(
                check,
                format!(
                    "no resource with code {code} among the {} the API lists (the spec's resource outputs have no subcontractor \
                     type, so a generic subcontractor resource may not be listed); {breaks}",
                    listed.items.len()
                ),
                fix,
            )),
            (Err(failure), _) => {
                checks.push(TenantCheck::manual(check, format!("{}; {breaks}", failure.evidence(ROUTE)), fix))
            }
        }
    }
}

// ---- what the API cannot show --------------------------------------------------------------------

fn manual_checks(input: &TenantInput, networks: &BTreeSet<Network>) -> Vec<TenantCheck> {
    let api =
        input.api_url.as_deref().map_or_else(|| "<ApiUrl>".to_owned(), |url| url.trim_end_matches('/').to_owned());
    let inbound = &input.secrets.inbound.username;
    let mut rows = Vec::new();
    rows.push(TenantCheck::manual(
        "outbound webhook: Subcontractor Dispatch",
        "Qargo calls the bridge when a dispatcher completes the resource dispatch task (CREATE / UPDATE / CANCEL); without \
         it nothing is booked on Nexus",
        format!(
            "in Qargo's integration settings for PALL-EX / Fortec: Subcontractor Dispatch URL \
             {api}/qargo/dispatch, HTTP Basic user {inbound:?} with the password of the secret's \"inbound\" entry"
        ),
    ));
    rows.push(TenantCheck::manual(
        "outbound webhook: Operational Visibility",
        "stop statuses (→ Nexus scans), documents (→ Nexus PODs) and ETAs (→ Nexus, with the Optimize key); without it \
         nothing goes from Qargo to Nexus after the booking",
        format!(
            "in Qargo's integration settings for PALL-EX / Fortec, operational visibility: URL {api}/qargo/visibility, update types Stop, \
             Document and Eta (others are acknowledged and dropped), HTTP Basic user {inbound:?} with the \"inbound\" password"
        ),
    ));
    if input.settings.order_door == OrderDoor::Webhook {
        rows.push(TenantCheck::manual(
            "order import webhook (QARGO_ORDER_DOOR=webhook)",
            "imported consignments go to POST /v1/webhook, Qargo's asynchronous order import; a refusal decided after the \
             answer shows only in Qargo's import log",
            "in Qargo enable the order import webhook for this integration with the webhook credential above (secret \
             \"qargo_webhook\"), and an order import master that accepts orders with these customers; or set \
             QARGO_ORDER_DOOR=upload (OAuth client, 2 requests per order)",
        ));
    }
    let documents: Vec<String> = DocumentKind::ALL
        .iter()
        .map(|kind| format!("{} → document type {}", kind.code(), kind.qargo_document_type()))
        .collect();
    rows.push(TenantCheck::manual(
        "question paths (status webhook question_answers)",
        "the bridge writes scans, exception notes, signatures, PODs, photos and labels onto stops under these keys; an \
         unmapped key is dropped by Qargo and the scan or document is lost",
        format!(
            "map in the integration's question paths: scan_barcode → the handling-unit scan action (barcode, status \
             SCANNED_IN / STORED / SCANNED_OUT, timestamp, stop_location_code, description); status_note → a free-text \
             answer the planner sees; signed_by → the signatory's name; {}; PALLET_LABEL_EXTERNAL → document type \
             PALLET_LABEL_EXTERNAL (labels, subco-document-upload on the pickup stop)",
            documents.join("; ")
        ),
    ));
    rows.push(TenantCheck::manual(
        "order additional fields",
        "dispatch writes NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, NexusDepot, NexusState (and on cancel \
         NexusLabels) onto the order; the import sets NexusOrigin (NETWORK:ID); status export, POD upload and ETA export \
         find the Nexus consignment only through them",
        "Configuration → Additional fields → Orders: create NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, \
         NexusDepot, NexusState, NexusLabels, NexusOrigin (text); optional AmazonCartonCount, AmazonBookingRef for AZ \
         deliveries",
    ));
    rows.push(TenantCheck::manual(
        "consignment additional fields",
        "imported orders carry NexusNetwork, NexusConsignmentID, NexusConsignmentNumber and NexusCustomerID on the \
         consignment, for the planner",
        "Configuration → Additional fields → Consignments: create NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, \
         NexusCustomerID (text)",
    ));
    rows.push(TenantCheck::manual(
        "stop additional fields",
        "failure_reason: a failed attempt is a stop COMPLETED or CANCELLED with it filled (Qargo's visibility stop has no \
         failed status), its words or a leading ND code choose the Nexus ND… code; without it a failed attempt closed \
         COMPLETED reaches Nexus as delivered (EPOD) and one closed CANCELLED not at all. contact_name: who books a BI \
         (book-in) slot; a BI delivery without it is refused at dispatch",
        "Configuration → Additional fields → Stops: create failure_reason and contact_name (text), and have drivers fill \
         failure_reason when an attempt fails (e.g. NDPC premises closed, NDRE refused)",
    ));
    let served: Vec<&str> = networks.iter().map(|n| n.customer_id_field()).collect();
    rows.push(TenantCheck::manual(
        "customer additional fields",
        format!(
            "{} hold each customer's Nexus customer ID; dispatch sends the one of the trip's network",
            served.join(" / ")
        ),
        format!("Configuration → Additional fields → Customers: create {} (text)", served.join(", ")),
    ));
    let codes = |all: &[&str]| all.join(", ");
    let service: Vec<&str> = ServiceLevel::ALL.iter().map(|s| s.code()).collect();
    let windows: Vec<&str> = TimeWindowCode::ALL.iter().map(|w| w.code()).collect();
    let mut extras: Vec<&str> = Extra::ALL.iter().map(|e| e.code()).collect();
    extras.push("AZ");
    let packaging: Vec<&str> = PalletType::ALL.iter().map(|p| p.code()).collect();
    let sizes: Vec<&str> = PalletBase::ALL.iter().map(|b| b.code()).collect();
    rows.push(TenantCheck::manual(
        "master data codes",
        "dispatch reads these codes from the order (any other is refused naming the field) and the import writes them \
         (an unknown code is refused by Qargo)",
        format!(
            "Configuration → Order input: service levels {} (Premium, Economy, Specific day); time windows {} (AM, timed with \
             start/end, book-in); stop extras {} (AZ = Amazon book-in, with its carton count and PO number); packaging \
             types {}; packaging sizes {} (EURO puts a pallet on a Euro base)",
            codes(&service),
            codes(&windows),
            codes(&extras),
            codes(&packaging),
            codes(&sizes)
        ),
    ));
    rows
}

// ---- reading lists with the client's token ---------------------------------------------------------

/// Reads Qargo's cursor-paged lists with the token the client used, paced with the client.
struct ApiReader {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
    pacer: Arc<Pacer>,
    retry: RetryPolicy,
}

impl ApiReader {
    /// Every item of `path`'s pages (`{items, next_cursor}`), up to [`MAX_PAGES`].
    async fn list(&self, path: &str) -> Result<Listed, ListFailure> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(path, cursor.as_deref()).await?;
            if let Some(rows) = page.get("items").and_then(Value::as_array) {
                items.extend(rows.iter().cloned());
            } else {
                return Err(ListFailure::Failed("the answer has no items list".into()));
            }
            cursor = text_field(&page, "next_cursor");
            if cursor.is_none() {
                return Ok(Listed { items, complete: true });
            }
        }
        Ok(Listed { items, complete: false })
    }

    async fn page(&self, path: &str, cursor: Option<&str>) -> Result<Value, ListFailure> {
        let url = format!("{}{path}", self.base_url);
        let started = Instant::now();
        let response = with_retries(&self.retry, started, |_| async {
            self.pacer.wait_turn().await;
            let mut request = self.http.get(&url).bearer_auth(self.token.expose());
            if let Some(cursor) = cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            Attempt::classify(request.send().await, true)
        })
        .await
        .map_err(|gave_up| ListFailure::Failed(format!("after {} attempts: {}", gave_up.attempts, gave_up.last)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => response.json::<Value>().await.map_err(|err| ListFailure::Failed(err.to_string())),
            404 | 405 => Err(ListFailure::NotServed(status)),
            401 | 403 => Err(ListFailure::Forbidden(status)),
            _ => {
                let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
                Err(ListFailure::Failed(format!("{status}: {text}")))
            }
        }
    }
}

/// A token cache that passes everything to the real one and remembers the token the client used
/// and whether it fetched one, so the check can tell the token call from `GET /me` and read lists
/// without a token call of its own.
struct WatchedTokens {
    inner: Arc<dyn TokenCache>,
    seen: Mutex<(Option<Secret>, bool)>,
}

impl WatchedTokens {
    fn new(inner: Arc<dyn TokenCache>) -> WatchedTokens {
        WatchedTokens { inner, seen: Mutex::new((None, false)) }
    }

    /// The last valid token handed to or stored by the client.
    fn used(&self) -> Option<Secret> {
        self.seen.lock().map(|seen| seen.0.clone()).unwrap_or(None)
    }

    /// Whether the client fetched a token (the token call answered).
    fn fetched(&self) -> bool {
        self.seen.lock().map(|seen| seen.1).unwrap_or(false)
    }
}

/// A stored token expiring this soon is the client marking a refused token dead, not a new one.
const DEAD_MARK: SignedDuration = SignedDuration::from_secs(5);

#[async_trait]
impl TokenCache for WatchedTokens {
    async fn get(&self, name: &str) -> Result<Option<CachedToken>, StoreError> {
        let cached = self.inner.get(name).await?;
        if let Some(token) = &cached
            && token.expires_at > Timestamp::now() + DEAD_MARK
            && let Ok(mut seen) = self.seen.lock()
        {
            seen.0 = Some(token.token.clone());
        }
        Ok(cached)
    }

    async fn put(&self, name: &str, token: &CachedToken) -> Result<(), StoreError> {
        self.inner.put(name, token).await?;
        if let Ok(mut seen) = self.seen.lock() {
            if token.expires_at > Timestamp::now() + DEAD_MARK {
                *seen = (Some(token.token.clone()), true);
            } else if seen.0.as_ref() == Some(&token.token) {
                seen.0 = None;
            }
        }
        Ok(())
    }

    async fn claim_refresh(&self, name: &str, now: Timestamp, lease: SignedDuration) -> Result<bool, StoreError> {
        self.inner.claim_refresh(name, now, lease).await
    }

    async fn release_refresh(&self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        self.inner.release_refresh(name, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_customer_map_is_grouped_by_qargo_code() {
        let map = mapped_customers("52011:ACME, 60233:BOLT,55120:ACME,52011:ACME").unwrap();
        assert_eq!(map["ACME"], vec![52011, 55120]);
        assert_eq!(map["BOLT"], vec![60233]);
        assert!(mapped_customers("").unwrap().is_empty());
        assert!(mapped_customers("ACME").is_err());
    }

    #[test]
    fn nexus_ids_are_read_as_dispatch_reads_them() {
        let company = json!({"custom_fields": {"PallexID": "64086", "FortecID": 71002, "Other": "x"}});
        assert_eq!(nexus_id_field(&company, "PallexID"), Ok(Some(64086)));
        assert_eq!(nexus_id_field(&company, "FortecID"), Ok(Some(71002)));
        assert_eq!(nexus_id_field(&json!({"custom_fields": {"PallexID": " "}}), "PallexID"), Ok(None));
        assert_eq!(nexus_id_field(&json!({"custom_fields": null}), "PallexID"), Ok(None));
        assert_eq!(nexus_id_field(&json!({"custom_fields": {"PallexID": "ACME-1"}}), "PallexID"), Err("ACME-1".into()));
    }

    fn input_for(mapped: &str, dispatch: &[&str]) -> TenantInput {
        let settings = Settings::from_lookup(|name| match name {
            "BRIDGE_TABLE" | "BRIDGE_BUCKET" => Some("x".into()),
            "BRIDGE_DEPOTS" => Some("PGD302".into()),
            "BRIDGE_SECRETS_JSON" => Some("{}".into()),
            _ => None,
        })
        .unwrap();
        let secrets = Secrets::from_json(
            r#"{"nexus": {}, "qargo": {"client_id": "c", "client_secret": "s"},
                "qargo_webhook": {"username": "w", "password": "p"}, "inbound": {"username": "i", "password": "p"}}"#,
            "test",
        )
        .unwrap();
        TenantInput {
            settings,
            secrets: Arc::new(secrets),
            mapped_customers: mapped_customers(mapped).unwrap(),
            dispatch_customers: dispatch.iter().map(|c| (*c).to_owned()).collect(),
            api_url: None,
            tokens: Arc::new(crate::store::memory::MemoryStore::in_memory()),
            shared_tokens: false,
            retry: RetryPolicy::default(),
            requests_per_second: 2.0,
        }
    }

    #[test]
    fn listed_customers_are_checked_for_the_import_and_for_dispatch() {
        let company = |code: &str, status: &str, fields: Value| {
            json!({"code": code, "name": code.to_lowercase(), "is_customer": true, "archived_customer": false,
                   "status": status, "custom_fields": fields})
        };
        let listed = Listed {
            items: vec![
                company("ACME", "APPROVED", json!({"PallexID": "64086", "FortecID": 71002})),
                company("DUNE", "BLOCKED", json!({"FortecID": "71004"})),
                company("CEDAR", "APPROVED", json!({})),
                company("BENT", "APPROVED", json!({"PallexID": "P-1"})),
            ],
            complete: true,
        };
        let input = input_for("52011:ACME,83007:DUNE,90000:GHOST", &["ACME", "CEDAR"]);
        let networks: BTreeSet<Network> = Network::ALL.iter().copied().collect();
        let mut checks = Vec::new();
        check_customers(&input, &networks, &Ok(listed), &mut checks);
        let status = |name: &str| checks.iter().find(|c| c.check == name).map(|c| c.status);
        assert_eq!(status("customer ACME (BRIDGE_CUSTOMER_MAP)"), Some(CheckStatus::Ok), "{checks:#?}");
        assert_eq!(status("customer DUNE (BRIDGE_CUSTOMER_MAP)"), Some(CheckStatus::Missing));
        assert_eq!(status("customer GHOST (BRIDGE_CUSTOMER_MAP)"), Some(CheckStatus::Missing));
        assert_eq!(status("customer ACME: PallexID / FortecID"), Some(CheckStatus::Ok));
        assert_eq!(status("customer CEDAR: PallexID / FortecID"), Some(CheckStatus::Missing));
        let summary = checks.iter().find(|c| c.check == "customers' Nexus customer IDs (PallexID / FortecID)").unwrap();
        assert_eq!(summary.status, CheckStatus::Missing, "{summary:?}");
        assert!(summary.evidence.contains("bent (BENT) PallexID \"P-1\""), "{summary:?}");
        assert!(summary.evidence.contains("4 active customers: 1 with PallexID, 2 with FortecID"), "{summary:?}");
    }

    #[test]
    fn listed_resources_find_the_network_codes() {
        let listed = Listed {
            items: vec![
                json!({"name": "PALL-EX out", "code": "PALLEX_OUT", "is_active": true}),
                json!({"name": "Van 1"}),
            ],
            complete: true,
        };
        let networks: BTreeSet<Network> = Network::ALL.iter().copied().collect();
        let mut checks = Vec::new();
        check_resources(&networks, &Ok(listed), &mut checks);
        assert_eq!(checks[0].check, "subcontractor resource PALLEX_OUT (PALL-EX)");
        assert_eq!(checks[0].status, CheckStatus::Ok);
        assert_eq!(checks[1].status, CheckStatus::Manual);
        assert!(checks[1].fix.as_deref().unwrap().contains("code FORTEC_OUT"));
    }

    #[test]
    fn the_report_counts_and_names_what_is_missing() {
        let report = TenantReport {
            qargo_base_url: "https://api.qargo.com/".into(),
            checks: vec![
                TenantCheck::ok("a", "fine"),
                TenantCheck::missing("b", "refused", "set it"),
                TenantCheck::manual("c", "unseen", "look"),
            ],
        };
        assert!(report.has_missing());
        let text = report.render();
        assert!(text.contains("MISSING       b\n"), "{text}");
        assert!(text.contains("fix: set it"), "{text}");
        assert!(text.ends_with("1 ok, 1 missing, 0 cannot be checked through the API, 1 to check by hand\n"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][2]["status"], "manual");
        assert!(json["checks"][0].get("fix").is_none());
    }
}
