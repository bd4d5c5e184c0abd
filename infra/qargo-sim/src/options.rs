//! How a simulator is configured: the tenant's credentials, limits, the outbound webhook target and
//! the seed. [`SimOptions::default`] is the documented default tenant (see the crate README), which
//! the local bridge and the demos rely on: keep it stable.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock};
use crate::limits::Limits;
use crate::scenario::{CustomerInput, ScenarioOrder};

/// The OAuth client (`client_id` / `client_secret`) that may call `POST /v1/auth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// The client id (the Basic username on the token call).
    pub client_id: String,
    /// The client secret (the Basic password on the token call).
    pub client_secret: String,
}

/// An HTTP Basic credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicCredential {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl BasicCredential {
    /// A credential from its two parts.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> BasicCredential {
        BasicCredential { username: username.into(), password: password.into() }
    }
}

/// How a `Document` visibility event carries its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentDelivery {
    /// `RemoteDocument{download_url}`: an absolute URL of `GET /v1/documents/document/{id}/download` on
    /// the simulator (needs an OAuth bearer token, as on the real API).
    #[default]
    DownloadUrl,
    /// `EmbeddedDocument{content (base64), mime_type, filename}`.
    Embedded,
}

/// Where the simulator sends Qargo's outbound webhooks (the bridge) and how it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundTarget {
    /// The bridge's base URL, e.g. `http://127.0.0.1:9000`; `None` records sends as failed.
    pub bridge_url: Option<String>,
    /// The HTTP Basic credential presented on every outbound call; `None` sends no `Authorization`.
    pub credential: Option<BasicCredential>,
    /// Path of the Subcontractor Dispatch webhook, appended to `bridge_url`.
    pub dispatch_path: String,
    /// Path of the visibility webhook, appended to `bridge_url`.
    pub visibility_path: String,
    /// How long one outbound call may take before it is recorded as timed out.
    pub timeout: Duration,
}

impl Default for OutboundTarget {
    fn default() -> Self {
        OutboundTarget {
            bridge_url: None,
            credential: Some(BasicCredential::new("qargo", "inbound-pass")),
            dispatch_path: "/qargo/dispatch".into(),
            visibility_path: "/qargo/visibility".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the simulator holds when it starts: customers and (optionally) orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seed {
    /// Customers, with their `PallexID` / `FortecID` additional fields.
    #[serde(default)]
    pub customers: Vec<CustomerInput>,
    /// Orders created through the scenario API at start (each may carry its own trip).
    #[serde(default)]
    pub orders: Vec<ScenarioOrder>,
}

/// A seed file: `{"customers": [...], "orders": [...], "replace_default_customers": false}`.
#[derive(Debug, Clone, Default, Deserialize)]
struct SeedFile {
    #[serde(default)]
    customers: Vec<CustomerInput>,
    #[serde(default)]
    orders: Vec<ScenarioOrder>,
    #[serde(default)]
    replace_default_customers: bool,
}

impl Seed {
    /// The default tenant's customers: one with both network IDs, one PALL-EX only, one Fortec only
    /// and one with neither (to provoke the "missing customer ID" dispatch error).
    pub fn default_tenant() -> Seed {
        let customer = |name: &str, code: &str, pallex: Option<&str>, fortec: Option<&str>| {
            let mut fields = serde_json::Map::new();
            if let Some(id) = pallex {
                fields.insert("PallexID".into(), id.into());
            }
            if let Some(id) = fortec {
                fields.insert("FortecID".into(), id.into());
            }
            CustomerInput {
                name: name.into(),
                code: Some(code.into()),
                additional_fields: fields,
                email: Some(format!("transport@{}.example", code.to_ascii_lowercase())),
                phone_number: Some("+441234567890".into()),
                contact_name: Some("Transport Desk".into()),
            }
        };
        Seed {
            customers: vec![
                customer("Acme Retail Ltd", "ACME", Some("64086"), Some("71002")),
                customer("Bolt Hardware Ltd", "BOLT", Some("64087"), None),
                customer("Dune Garden Supplies Ltd", "DUNE", None, Some("71004")),
                customer("Cedar Foods Ltd", "CEDAR", None, None),
            ],
            orders: Vec::new(),
        }
    }

    /// Reads a seed file; its customers are added to the default tenant's unless it says
    /// `"replace_default_customers": true`.
    pub fn from_file(path: &Path) -> Result<Seed, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: SeedFile =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a valid seed file: {e}", path.display()))?;
        let mut seed = if file.replace_default_customers { Seed::default() } else { Seed::default_tenant() };
        seed.customers.extend(file.customers);
        seed.orders.extend(file.orders);
        Ok(seed)
    }
}

/// Everything a simulator is started with. `SimOptions::default()` is the documented default tenant.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The tenant's name (shown by `GET /me` and inside tokens).
    pub tenant: String,
    /// The OAuth API client.
    pub api_client: OAuthClient,
    /// The webhook Basic credential (`/v1/webhook/*`).
    pub webhook: BasicCredential,
    /// The outbound webhook target.
    pub outbound: OutboundTarget,
    /// Rate limits.
    pub limits: Limits,
    /// Lifetime of an access token (`expires_in`).
    pub token_ttl: Duration,
    /// How many polls of an upload answer `IN_PROGRESS` before the one that gives the outcome.
    pub upload_polls_before_done: u32,
    /// How `Document` visibility events carry the file.
    pub document_delivery: DocumentDelivery,
    /// Also send a `Stop` visibility event when a status webhook changes a stop (as real Qargo
    /// would), so the bridge's loop avoidance can be tested. Off by default.
    pub echo_webhook_updates: bool,
    /// The base URL written into absolute `download_url`s; `None` uses the bound address.
    pub public_base_url: Option<String>,
    /// Refuse (`422`, naming each path) request bodies with keys Qargo's spec does not define,
    /// instead of ignoring them as real Qargo does. Either way they are recorded
    /// (`SimHandle::unknown_keys`, `GET /_sim/unknown-keys`). Off by default.
    pub strict_unknown_keys: bool,
    /// What the simulator holds at start.
    pub seed: Seed,
    /// The clock for rate limits and token expiry.
    pub clock: Arc<dyn Clock>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenant: "nexus-bridge-demo".into(),
            api_client: OAuthClient { client_id: "bridge-client".into(), client_secret: "bridge-secret".into() },
            webhook: BasicCredential::new("bridge-webhook", "webhook-pass"),
            outbound: OutboundTarget::default(),
            limits: Limits::qargo(),
            token_ttl: Duration::from_secs(3600),
            upload_polls_before_done: 1,
            document_delivery: DocumentDelivery::DownloadUrl,
            echo_webhook_updates: false,
            public_base_url: None,
            strict_unknown_keys: false,
            seed: Seed::default_tenant(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl SimOptions {
    /// The default tenant sending its outbound webhooks to `bridge_url`.
    pub fn with_bridge(bridge_url: impl Into<String>) -> SimOptions {
        let mut options = SimOptions::default();
        options.outbound.bridge_url = Some(bridge_url.into());
        options
    }
}
