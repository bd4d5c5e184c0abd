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

mod credentials;
mod lists;
mod manual;
mod reader;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::OpsError;
use crate::config::{CustomerMap, Secrets, Settings};
use crate::domain::Network;
use crate::http::{RetryPolicy, base_with_slash};
use crate::qargo::{Pacer, QargoClient};
use crate::store::TokenCache;

use credentials::{check_oauth, check_webhook};
use lists::{check_customers, check_resources};
use manual::manual_checks;
use reader::{ApiReader, ListFailure, WatchedTokens};

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
