//! Typed settings and secrets.
//!
//! Settings come from environment variables (the SAM template sets them in the cloud; a local
//! `.env`-style shell or the local bridge sets them locally). Secrets come from one JSON document,
//! read from AWS Secrets Manager in the cloud (`BRIDGE_SECRET_ID`), or locally from a file
//! (`BRIDGE_SECRETS_FILE`) or an environment variable (`BRIDGE_SECRETS_JSON`). Secret values are held
//! in [`Secret`], which never prints its contents.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use jiff::SignedDuration;
use serde::Deserialize;

use crate::domain::{DepotCode, Network, UkRegion};
use crate::error::{ConfigError, ParseError};

/// A secret value. `Debug` and `Display` print `***`, so it can sit in structs that are logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (an auth header, a login body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What to do with a collection dated today when the dispatch arrives after the 12:00 cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutoffPolicy {
    /// Refuse the dispatch and suggest the next working day (the default).
    Reject,
    /// Move the collection to the next working day and say so in the answer.
    Roll,
}

/// Which of Qargo's two doors imported orders go through (`QARGO_ORDER_DOOR`). Both take the same
/// `OrderInput` and are followed through `GET /v1/orders/order/upload/{id}`; they differ in the
/// credential and in whether the post counts against Qargo's 2 requests/s (see `jobs::order_import`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderDoor {
    /// `POST /v1/webhook`: webhook Basic credential, outside the API limit (the default).
    Webhook,
    /// `POST /v1/orders/order/upload`: OAuth token, inside the API limit.
    Upload,
}

/// Which Qargo customer an imported Nexus consignment belongs to, by its Nexus `customerID`
/// (`BRIDGE_CUSTOMER_MAP`, e.g. `52011:ACME,83007:DUNE:FORTEC`). A consignment whose customer is not
/// listed is not imported: it is reported with the entry to add, and imported once the entry exists.
/// An entry may name the customer's network (`:PALLEX` or `:FORTEC`, each Nexus customer ID belongs
/// to one network): a Nexus that does not say a consignment's network (capability `depot-fields`
/// off) is asked per customer, and a depot on both networks needs to know which one it is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerMap {
    by_nexus_id: BTreeMap<i64, MappedCustomer>,
}

/// One entry of the [`CustomerMap`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct MappedCustomer {
    qargo_code: String,
    network: Option<Network>,
}

impl CustomerMap {
    /// Parses `NEXUS_ID:QARGO_CODE[:NETWORK]` entries separated by commas (blank: an empty map).
    pub fn parse(raw: &str) -> Result<CustomerMap, ParseError> {
        let mut by_nexus_id = BTreeMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let refuse = |fix: &str| ParseError::new("customer map entry", entry, fix);
            let mut parts = entry.split(':');
            let (Some(id), Some(code)) = (parts.next(), parts.next()) else {
                return Err(refuse("write NEXUS_CUSTOMER_ID:QARGO_CUSTOMER_CODE, e.g. 52011:ACME"));
            };
            let id: i64 = match id.trim().parse() {
                Ok(id) if id > 0 => id,
                _ => return Err(refuse("the part before ':' is a Nexus customerID, a positive whole number")),
            };
            let code = code.trim();
            if code.is_empty() {
                return Err(refuse("the part after ':' is one Qargo customer code, e.g. ACME"));
            }
            let network = match parts.next() {
                None => None,
                Some(network) => Some(network.trim().parse::<Network>().map_err(|_| {
                    refuse(
                        "the optional third part is the customer's network, PALLEX or FORTEC, e.g. 52011:ACME:PALLEX",
                    )
                })?),
            };
            if parts.next().is_some() {
                return Err(refuse(
                    "write at most NEXUS_CUSTOMER_ID:QARGO_CUSTOMER_CODE:NETWORK, e.g. 52011:ACME:PALLEX",
                ));
            }
            let mapped = MappedCustomer { qargo_code: code.to_owned(), network };
            if let Some(previous) = by_nexus_id.insert(id, mapped.clone())
                && previous != mapped
            {
                return Err(refuse(&format!(
                    "customer {id} is already mapped to {}; list it once",
                    previous.qargo_code
                )));
            }
        }
        Ok(CustomerMap { by_nexus_id })
    }

    /// The Qargo customer code of Nexus customer `nexus_customer_id`.
    pub fn qargo_customer(&self, nexus_customer_id: i64) -> Option<&str> {
        self.by_nexus_id.get(&nexus_customer_id).map(|mapped| mapped.qargo_code.as_str())
    }

    /// The network the entry of `nexus_customer_id` names, if it names one.
    pub fn network_of(&self, nexus_customer_id: i64) -> Option<Network> {
        self.by_nexus_id.get(&nexus_customer_id).and_then(|mapped| mapped.network)
    }

    /// The mapped Nexus customer IDs, in order.
    pub fn nexus_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_nexus_id.keys().copied()
    }

    /// Maps (or re-maps) one customer; for tests and tools that build settings in code.
    pub fn insert(&mut self, nexus_customer_id: i64, qargo_code: impl Into<String>) {
        self.by_nexus_id.insert(nexus_customer_id, MappedCustomer { qargo_code: qargo_code.into(), network: None });
    }

    /// Removes a customer's entry.
    pub fn remove(&mut self, nexus_customer_id: i64) {
        self.by_nexus_id.remove(&nexus_customer_id);
    }

    /// How many customers are mapped.
    pub fn len(&self) -> usize {
        self.by_nexus_id.len()
    }

    /// Whether no customer is mapped.
    pub fn is_empty(&self) -> bool {
        self.by_nexus_id.is_empty()
    }
}

/// One of our depots, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepotSettings {
    /// The depot's network code.
    pub code: DepotCode,
    /// Whose bank holidays it keeps.
    pub region: UkRegion,
    /// Whether it prints on thermal printers and wants ZPL labels beside the PDF.
    pub zpl_labels: bool,
    /// Whether its `FORTEC_OUT` dispatches are booked on PALL-EX (flag `fortec-via-pallex`): Fortec
    /// runs under the Pall-Ex brand since 1 January 2026, and a depot moves its Fortec work over
    /// with this flag; the customer's `PallexID` is used then. Off by default (booked on Fortec).
    pub fortec_via_pallex: bool,
    /// Where the depot is (`BRIDGE_DEPOT_ADDRESSES`): the pickup of an imported consignment when
    /// Nexus gives no collection address (the seen read model has none).
    pub address: Option<DepotAddress>,
}

/// A depot's street address, for Qargo stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepotAddress {
    /// First line.
    pub line1: String,
    /// Town.
    pub town: String,
    /// Postcode.
    pub postcode: String,
}

/// Parses `BRIDGE_DEPOT_ADDRESSES`, `CODE=line 1|town|postcode` entries separated by `;`, into
/// `depots`; every code must be one of them.
fn parse_depot_addresses(raw: &str, depots: &mut [DepotSettings]) -> Result<(), ConfigError> {
    const EXAMPLE: &str = "PGD302=Unit 4 Randall Way|Retford|DN22 7GR";
    for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let refuse = |fix: String| invalid("BRIDGE_DEPOT_ADDRESSES", entry, &fix);
        let Some((code, address)) = entry.split_once('=') else {
            return Err(refuse(format!("write CODE=line 1|town|postcode, e.g. {EXAMPLE}")));
        };
        let parts: Vec<&str> = address.split('|').map(str::trim).collect();
        let [line1, town, postcode] = parts[..] else {
            return Err(refuse(format!("give three parts, line 1|town|postcode, e.g. {EXAMPLE}")));
        };
        if [line1, town, postcode].iter().any(|part| part.is_empty()) {
            return Err(refuse(format!("none of line 1, town and postcode may be blank, e.g. {EXAMPLE}")));
        }
        let Some(depot) = depots.iter_mut().find(|d| d.code.as_str().eq_ignore_ascii_case(code.trim())) else {
            return Err(refuse("the code must be one of BRIDGE_DEPOTS".to_owned()));
        };
        depot.address =
            Some(DepotAddress { line1: line1.to_owned(), town: town.to_owned(), postcode: postcode.to_owned() });
    }
    Ok(())
}

/// Where the secrets document is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsSource {
    /// AWS Secrets Manager, by secret name or ARN.
    SecretsManager(String),
    /// A local JSON file.
    File(PathBuf),
    /// The JSON document itself, from `BRIDGE_SECRETS_JSON`.
    Inline(Secret),
}

/// All non-secret settings of the bridge.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DynamoDB table (`BRIDGE_TABLE`): ledger, cursors, sync state, tokens.
    pub table_name: String,
    /// S3 bucket (`BRIDGE_BUCKET`): labels and POD files.
    pub bucket_name: String,
    /// Our depots (`BRIDGE_DEPOTS`), e.g. `PGD302:ENGLAND_AND_WALES:zpl,UKD101:SCOTLAND`.
    pub depots: Vec<DepotSettings>,
    /// Nexus API base (`NEXUS_BASE_URL`), default the LIVE host.
    pub nexus_base_url: String,
    /// Qargo API base (`QARGO_BASE_URL`).
    pub qargo_base_url: String,
    /// How far each delta poll reaches back before its cursor (`POLL_OVERLAP_SECONDS`, default
    /// 120): covers clock skew between Nexus and us; events are de-duplicated by id.
    pub poll_overlap: SignedDuration,
    /// Page size of Nexus list calls (`NEXUS_PAGE_SIZE`, 1–100, default 100).
    pub nexus_page_size: u32,
    /// What this Nexus can do beyond what public code shows (`NEXUS_CAPABILITIES`: `full`, `seen`
    /// or a comma list; default `full` until the seen-only fallbacks cover import and status sync).
    pub nexus_capabilities: crate::capabilities::Capabilities,
    /// After-cut-off behaviour (`CUTOFF_POLICY`: `reject` or `roll`).
    pub cutoff_policy: CutoffPolicy,
    /// How long after delivery late PODs are still looked for (`POD_LATE_WINDOW_HOURS`, default 72).
    pub pod_late_window: SignedDuration,
    /// Smallest ETA move worth sending (`ETA_THRESHOLD_MINUTES`, default 15).
    pub eta_threshold: SignedDuration,
    /// Where the secrets are.
    pub secrets_source: SecretsSource,
    /// Nexus customer → Qargo customer for imported orders (`BRIDGE_CUSTOMER_MAP`, default empty).
    pub customer_map: CustomerMap,
    /// Qargo's door for imported orders (`QARGO_ORDER_DOOR`: `webhook`, the default, or `upload`).
    pub order_door: OrderDoor,
    /// How far back the very first import reaches, before any cursor exists
    /// (`ORDER_IMPORT_LOOKBACK_DAYS`, 1–90, default 14).
    pub import_lookback: SignedDuration,
    /// How many consignments a status-sync run works on at once (`STATUS_SYNC_CONCURRENCY`, 1–64,
    /// default 8); 1 is one after another.
    pub status_sync_concurrency: usize,
    /// The most updates one Qargo status-update call carries (`QARGO_UPDATE_BATCH`, 1–100, default
    /// 25); 1 is one call per update.
    pub qargo_update_batch: usize,
    /// Each depot API user's Nexus request budget a minute (`NEXUS_REQUESTS_PER_MINUTE`, 0–10,000,
    /// default 0: Nexus states no limit, so none is assumed). Paced at 90 % of it, shared by every
    /// function instance; a run that would exceed it leaves the rest for the next run.
    pub nexus_requests_per_minute: u32,
}

/// The page size public code shows Nexus answering by default (`limit` 20).
pub const SEEN_NEXUS_PAGE_SIZE: u32 = 20;

impl Settings {
    /// The page size list calls use: `NEXUS_PAGE_SIZE`, at most the seen default of 20 when this
    /// Nexus is not known to take `limit` up to 100 (capability `page-100`).
    pub fn nexus_list_page_size(&self) -> u32 {
        if self.nexus_capabilities.has(crate::capabilities::Capability::Page100) {
            self.nexus_page_size
        } else {
            self.nexus_page_size.min(SEEN_NEXUS_PAGE_SIZE)
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str, fix: &'static str| get(name).ok_or(ConfigError::Missing { name, fix });
        let number =
            |name: &'static str, default: i64, range: std::ops::RangeInclusive<i64>| -> Result<i64, ConfigError> {
                let Some(raw) = get(name) else {
                    return Ok(default);
                };
                match raw.parse::<i64>() {
                    Ok(value) if range.contains(&value) => Ok(value),
                    _ => Err(invalid(
                        name,
                        &raw,
                        format!("expected a whole number from {} to {}", range.start(), range.end()),
                    )),
                }
            };

        let mut depots = parse_depots(&required(
            "BRIDGE_DEPOTS",
            "list our depot codes, e.g. BRIDGE_DEPOTS=PGD302:ENGLAND_AND_WALES:zpl,UKD101",
        )?)?;
        parse_depot_addresses(&get("BRIDGE_DEPOT_ADDRESSES").unwrap_or_default(), &mut depots)?;
        let cutoff_policy = match get("CUTOFF_POLICY").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("reject") => CutoffPolicy::Reject,
            Some("roll") => CutoffPolicy::Roll,
            Some(other) => return Err(invalid("CUTOFF_POLICY", other, "use reject or roll")),
        };
        let customer_map = CustomerMap::parse(&get("BRIDGE_CUSTOMER_MAP").unwrap_or_default())
            .map_err(|source| ConfigError::Invalid { name: "BRIDGE_CUSTOMER_MAP".into(), source })?;
        let order_door = match get("QARGO_ORDER_DOOR").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("webhook") => OrderDoor::Webhook,
            Some("upload") => OrderDoor::Upload,
            Some(other) => return Err(invalid("QARGO_ORDER_DOOR", other, "use webhook or upload")),
        };
        let secrets_source = match (get("BRIDGE_SECRET_ID"), get("BRIDGE_SECRETS_FILE"), get("BRIDGE_SECRETS_JSON")) {
            (Some(id), _, _) => SecretsSource::SecretsManager(id),
            (None, Some(path), _) => SecretsSource::File(PathBuf::from(path)),
            (None, None, Some(json)) => SecretsSource::Inline(Secret::new(json)),
            (None, None, None) => {
                return Err(ConfigError::Missing {
                    name: "BRIDGE_SECRET_ID",
                    fix: "set BRIDGE_SECRET_ID (Secrets Manager) in the cloud, or BRIDGE_SECRETS_FILE / BRIDGE_SECRETS_JSON locally",
                });
            }
        };
        Ok(Settings {
            table_name: required("BRIDGE_TABLE", "name the DynamoDB table, e.g. BRIDGE_TABLE=nexus-bridge")?,
            bucket_name: required("BRIDGE_BUCKET", "name the S3 bucket for labels and PODs")?,
            depots,
            nexus_base_url: get("NEXUS_BASE_URL").unwrap_or_else(|| "https://rest-api-nexus.pallex.com/v1/".into()),
            qargo_base_url: get("QARGO_BASE_URL").unwrap_or_else(|| "https://api.qargo.com/".into()),
            poll_overlap: SignedDuration::from_secs(number("POLL_OVERLAP_SECONDS", 120, 0..=3600)?),
            nexus_page_size: number("NEXUS_PAGE_SIZE", 100, 1..=100)? as u32,
            nexus_capabilities: match get("NEXUS_CAPABILITIES") {
                // Only what public code shows, until `bridge-ops nexus-check` has said otherwise.
                None => crate::capabilities::Capabilities::seen(),
                Some(raw) => raw.parse().map_err(|reason: String| ConfigError::Invalid {
                    name: "NEXUS_CAPABILITIES".into(),
                    source: ParseError::new("Nexus capability list", raw.chars().take(200).collect::<String>(), reason),
                })?,
            },
            cutoff_policy,
            pod_late_window: SignedDuration::from_hours(number("POD_LATE_WINDOW_HOURS", 72, 1..=24 * 30)?),
            eta_threshold: SignedDuration::from_mins(number("ETA_THRESHOLD_MINUTES", 15, 1..=24 * 60)?),
            secrets_source,
            customer_map,
            order_door,
            import_lookback: SignedDuration::from_hours(24 * number("ORDER_IMPORT_LOOKBACK_DAYS", 14, 1..=90)?),
            status_sync_concurrency: number("STATUS_SYNC_CONCURRENCY", 8, 1..=64)? as usize,
            qargo_update_batch: number("QARGO_UPDATE_BATCH", 25, 1..=100)? as usize,
            nexus_requests_per_minute: number("NEXUS_REQUESTS_PER_MINUTE", 0, 0..=10_000)? as u32,
        })
    }

    /// Our settings for `depot`, if it is one of ours.
    pub fn depot(&self, depot: &DepotCode) -> Option<&DepotSettings> {
        self.depots.iter().find(|d| &d.code == depot)
    }

    /// Every (depot, network) pair we poll: a PGD depot polls both networks.
    pub fn depot_networks(&self) -> impl Iterator<Item = (&DepotCode, Network)> {
        self.depots.iter().flat_map(|d| d.code.networks().iter().map(move |network| (&d.code, *network)))
    }
}

fn invalid(name: &str, value: &str, fix: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name: name.to_owned(), source: ParseError::new("setting", value, fix) }
}

/// Parses `CODE[:REGION][:zpl][:fortec-via-pallex]` entries separated by commas.
fn parse_depots(raw: &str) -> Result<Vec<DepotSettings>, ConfigError> {
    let mut depots: Vec<DepotSettings> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split(':').map(str::trim);
        let as_setting = |source: ParseError| ConfigError::Invalid { name: "BRIDGE_DEPOTS".into(), source };
        let code: DepotCode = parts.next().unwrap_or_default().parse().map_err(as_setting)?;
        let mut depot = DepotSettings {
            code,
            region: UkRegion::EnglandAndWales,
            zpl_labels: false,
            fortec_via_pallex: false,
            address: None,
        };
        for part in parts {
            if part.eq_ignore_ascii_case("zpl") {
                depot.zpl_labels = true;
            } else if part.eq_ignore_ascii_case("fortec-via-pallex") {
                if !depot.code.is_member_of(crate::domain::Network::Pallex) {
                    return Err(invalid(
                        "BRIDGE_DEPOTS",
                        entry,
                        "fortec-via-pallex books Fortec work on PALL-EX: the depot must be a PALL-EX member (a PGD or UKD code)",
                    ));
                }
                depot.fortec_via_pallex = true;
            } else {
                depot.region = part.parse().map_err(as_setting)?;
            }
        }
        if depots.iter().any(|d| d.code == depot.code) {
            return Err(invalid("BRIDGE_DEPOTS", entry, "each depot may be listed once"));
        }
        depots.push(depot);
    }
    if depots.is_empty() {
        return Err(invalid("BRIDGE_DEPOTS", raw, "list at least one depot code, e.g. PGD302"));
    }
    Ok(depots)
}

/// A username and password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// Qargo OAuth client credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QargoClient {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
}

/// Everything secret the bridge uses, as one JSON document:
///
/// ```json
/// { "nexus": { "PGD302": { "username": "…", "password": "…" } },
///   "qargo": { "client_id": "…", "client_secret": "…" },
///   "qargo_webhook": { "username": "…", "password": "…" },
///   "inbound": { "username": "…", "password": "…" },
///   "optimize_api_key": "…" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Nexus API users, one per depot.
    pub nexus: BTreeMap<DepotCode, Credentials>,
    /// Qargo OAuth client.
    pub qargo: QargoClient,
    /// HTTP Basic credentials of Qargo's webhooks (`/v1/webhook/…`).
    pub qargo_webhook: Credentials,
    /// The credential Qargo must present when it calls the bridge.
    pub inbound: Credentials,
    /// The Optimize module's key; ETA export is off without it.
    #[serde(default)]
    pub optimize_api_key: Option<Secret>,
}

impl Secrets {
    /// Parses the JSON document; `source_name` says where it came from in errors (never the text).
    pub fn from_json(json: &str, source_name: &str) -> Result<Secrets, ConfigError> {
        serde_json::from_str(json).map_err(|err| {
            let message = err.to_string();
            // Type and value errors quote the offending value, which may be a secret: keep only
            // where it is. Missing and unknown fields are named, which is what the fix needs.
            let reason = if message.starts_with("invalid type") || message.starts_with("invalid value") {
                format!("a value has the wrong type at line {} column {}", err.line(), err.column())
            } else {
                message
            };
            ConfigError::Secrets { source_name: source_name.to_owned(), reason }
        })
    }

    /// Checks that every configured depot has its Nexus user.
    pub fn check_covers(&self, settings: &Settings) -> Result<(), ConfigError> {
        for depot in &settings.depots {
            if !self.nexus.contains_key(&depot.code) {
                return Err(ConfigError::Secrets {
                    source_name: "secrets".into(),
                    reason: format!(
                        "no Nexus user for depot {code}: add \"nexus\": {{\"{code}\": {{\"username\": …, \"password\": …}}}}",
                        code = depot.code
                    ),
                });
            }
        }
        Ok(())
    }

    /// Reads the secrets from `source`. `aws` is needed only for Secrets Manager.
    pub async fn load(source: &SecretsSource, aws: Option<&aws_config::SdkConfig>) -> Result<Secrets, ConfigError> {
        match source {
            SecretsSource::File(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|err| ConfigError::Secrets { source_name: name.clone(), reason: err.to_string() })?;
                Secrets::from_json(&text, &name)
            }
            SecretsSource::Inline(json) => Secrets::from_json(json.expose(), "BRIDGE_SECRETS_JSON"),
            SecretsSource::SecretsManager(id) => {
                let failed = |reason: String| ConfigError::Secrets {
                    source_name: format!("Secrets Manager secret {id}"),
                    reason,
                };
                let aws = aws.ok_or_else(|| failed("no AWS configuration was given".into()))?;
                let answer =
                    aws_sdk_secretsmanager::Client::new(aws).get_secret_value().secret_id(id).send().await.map_err(
                        |err| failed(format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(err))),
                    )?;
                let text = answer.secret_string().ok_or_else(|| failed("the secret has no string value".into()))?;
                Secrets::from_json(text, &format!("Secrets Manager secret {id}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("BRIDGE_TABLE", "t"),
        ("BRIDGE_BUCKET", "b"),
        ("BRIDGE_DEPOTS", "PGD302:ENGLAND_AND_WALES:zpl, ukd101:scotland"),
        ("BRIDGE_SECRETS_FILE", "/tmp/secrets.json"),
    ];

    #[test]
    fn reads_settings_with_defaults() {
        let settings = Settings::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(settings.table_name, "t");
        assert_eq!(settings.depots.len(), 2);
        assert!(settings.depots[0].zpl_labels);
        assert_eq!(settings.depots[1].code.as_str(), "UKD101");
        assert_eq!(settings.depots[1].region, UkRegion::Scotland);
        assert_eq!(settings.cutoff_policy, CutoffPolicy::Reject);
        assert_eq!(settings.eta_threshold, SignedDuration::from_mins(15));
        assert_eq!(settings.pod_late_window, SignedDuration::from_hours(72));
        assert_eq!(settings.nexus_page_size, 100);
        assert_eq!(settings.nexus_capabilities, crate::capabilities::Capabilities::seen(), "the default");
        assert_eq!(settings.nexus_list_page_size(), SEEN_NEXUS_PAGE_SIZE, "a seen-only Nexus is asked 20 at a time");
        let mut full = settings.clone();
        full.nexus_capabilities = crate::capabilities::Capabilities::full();
        assert_eq!(full.nexus_list_page_size(), 100, "with page-100, 100 at a time");
        assert_eq!(settings.secrets_source, SecretsSource::File("/tmp/secrets.json".into()));
        let pairs: Vec<String> = settings.depot_networks().map(|(d, n)| format!("{d}/{n}")).collect();
        assert_eq!(pairs, ["PGD302/PALLEX", "PGD302/FORTEC", "UKD101/PALLEX"]);
    }

    #[test]
    fn names_the_variable_and_the_fix() {
        let without_table: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != "BRIDGE_TABLE").collect();
        let err = Settings::from_lookup(lookup(&without_table)).unwrap_err();
        assert!(err.to_string().contains("BRIDGE_TABLE"), "{err}");

        let mut bad = BASE.to_vec();
        bad.push(("CUTOFF_POLICY", "later"));
        let err = Settings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("CUTOFF_POLICY") && err.to_string().contains("roll"), "{err}");

        let mut bad = BASE.to_vec();
        bad[2] = ("BRIDGE_DEPOTS", "PGD302,XYZ1");
        let err = Settings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("BRIDGE_DEPOTS") && err.to_string().contains("XYZ1"), "{err}");

        let mut bad = BASE.to_vec();
        bad[2] = ("BRIDGE_DEPOTS", "FTD401:fortec-via-pallex");
        let err = Settings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("PALL-EX member"), "a Fortec-only depot cannot book on PALL-EX: {err}");

        let mut bad = BASE.to_vec();
        bad.push(("NEXUS_PAGE_SIZE", "500"));
        let err = Settings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("1 to 100"), "{err}");

        let without_secrets: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != "BRIDGE_SECRETS_FILE").collect();
        let err = Settings::from_lookup(lookup(&without_secrets)).unwrap_err();
        assert!(err.to_string().contains("BRIDGE_SECRET_ID"), "{err}");
    }

    #[test]
    fn reads_the_customer_map_and_the_order_door() {
        let settings = Settings::from_lookup(lookup(&BASE)).unwrap();
        assert!(settings.customer_map.is_empty());
        assert_eq!(settings.order_door, OrderDoor::Webhook);
        assert_eq!(settings.import_lookback, SignedDuration::from_hours(14 * 24));

        let mut more = BASE.to_vec();
        more.push(("BRIDGE_CUSTOMER_MAP", " 52011:ACME, 83007 : DUNE ,"));
        more.push(("QARGO_ORDER_DOOR", "Upload"));
        let settings = Settings::from_lookup(lookup(&more)).unwrap();
        assert_eq!(settings.customer_map.len(), 2);
        assert_eq!(settings.customer_map.qargo_customer(83007), Some("DUNE"));
        assert_eq!(settings.customer_map.qargo_customer(60233), None);
        assert_eq!(settings.order_door, OrderDoor::Upload);

        for (bad, says) in [
            ("52011", "NEXUS_CUSTOMER_ID:QARGO_CUSTOMER_CODE"),
            ("ACME:52011", "positive whole number"),
            ("52011:", "one Qargo customer code"),
            ("52011:ACME,52011:BOLT", "already mapped to ACME"),
        ] {
            let mut wrong = BASE.to_vec();
            wrong.push(("BRIDGE_CUSTOMER_MAP", bad));
            let err = Settings::from_lookup(lookup(&wrong)).unwrap_err().to_string();
            assert!(err.contains("BRIDGE_CUSTOMER_MAP") && err.contains(says), "{bad}: {err}");
        }
        let mut wrong = BASE.to_vec();
        wrong.push(("QARGO_ORDER_DOOR", "fax"));
        let err = Settings::from_lookup(lookup(&wrong)).unwrap_err().to_string();
        assert!(err.contains("QARGO_ORDER_DOOR") && err.contains("webhook or upload"), "{err}");
    }

    #[test]
    fn reads_the_status_sync_concurrency_and_the_qargo_batch() {
        let settings = Settings::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!((settings.status_sync_concurrency, settings.qargo_update_batch), (8, 25), "the defaults");
        assert_eq!(settings.nexus_requests_per_minute, 0, "no Nexus limit assumed");

        let mut more = BASE.to_vec();
        more.push(("STATUS_SYNC_CONCURRENCY", "1"));
        more.push(("QARGO_UPDATE_BATCH", "100"));
        more.push(("NEXUS_REQUESTS_PER_MINUTE", "100"));
        let settings = Settings::from_lookup(lookup(&more)).unwrap();
        assert_eq!((settings.status_sync_concurrency, settings.qargo_update_batch), (1, 100));
        assert_eq!(settings.nexus_requests_per_minute, 100);

        for (name, bad, says) in [
            ("STATUS_SYNC_CONCURRENCY", "0", "1 to 64"),
            ("STATUS_SYNC_CONCURRENCY", "65", "1 to 64"),
            ("STATUS_SYNC_CONCURRENCY", "eight", "1 to 64"),
            ("QARGO_UPDATE_BATCH", "0", "1 to 100"),
            ("QARGO_UPDATE_BATCH", "101", "1 to 100"),
            ("NEXUS_REQUESTS_PER_MINUTE", "10001", "0 to 10000"),
        ] {
            let mut wrong = BASE.to_vec();
            wrong.push((name, bad));
            let err = Settings::from_lookup(lookup(&wrong)).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(says), "{name}={bad}: {err}");
        }
    }

    const SECRETS: &str = r#"{
        "nexus": {"PGD302": {"username": "pgd302-api", "password": "hunter2"}},
        "qargo": {"client_id": "cid", "client_secret": "csecret"},
        "qargo_webhook": {"username": "hook", "password": "hookpw"},
        "inbound": {"username": "qargo", "password": "inpw"}
    }"#;

    #[test]
    fn secrets_never_print() {
        let secrets = Secrets::from_json(SECRETS, "test").unwrap();
        let shown = format!("{secrets:?}");
        for value in ["hunter2", "csecret", "hookpw", "inpw"] {
            assert!(!shown.contains(value), "{value} leaked: {shown}");
        }
        assert!(shown.contains("***") && shown.contains("pgd302-api"));
        assert_eq!(format!("{}", Secret::new("x")), "***");
        assert_eq!(secrets.nexus[&"PGD302".parse().unwrap()].password.expose(), "hunter2");
        assert!(secrets.optimize_api_key.is_none());
    }

    #[test]
    fn secrets_errors_name_the_field_not_the_value() {
        let err = Secrets::from_json(r#"{"nexus": {"PGD302": {"username": "u"}}}"#, "file.json").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("file.json") && text.contains("password"), "{text}");

        let err = Secrets::from_json(&SECRETS.replace("\"hunter2\"", "31337"), "file.json").unwrap_err();
        assert!(!err.to_string().contains("31337"), "{err}");

        let secrets = Secrets::from_json(SECRETS, "test").unwrap();
        let settings = Settings::from_lookup(lookup(&BASE)).unwrap();
        let err = secrets.check_covers(&settings).unwrap_err();
        assert!(err.to_string().contains("UKD101"), "{err}");
    }
}
