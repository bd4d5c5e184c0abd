//! `bridge-ops nexus-check`: first contact with a Nexus API in one command. It logs in with one
//! depot's credentials, reads the seen lookups, and probes each [`Capability`] the bridge can use
//! beyond what public code shows of Nexus (research notes §1.9), deciding each from evidence:
//!
//! | capability | probe (no side effects) | found when |
//! |---|---|---|
//! | `delta-listing` | `GET consignments?minLastUpdated=<far future>` against the plain list; `lastUpdated` in a listed consignment | the filter changes the answer and the field exists |
//! | `depot-filters` | `deliveryDepotCode` / `collectingDepotCode` = a code no depot has, against the plain list | both change the answer (an ignored key gives the same answer) |
//! | `depot-fields` | `network`, `requestingDepotCode`, `collectingDepotCode`, `deliveryDepotCode` in a listed consignment | all four are there |
//! | `pallets-field` | `pallets[]` in a listed consignment | it is an array |
//! | `events-read` | `GET consignments/{id}/events` of a listed consignment | 200 |
//! | `events-write`, `cancel`, `eta`, `attachment-upload` | `POST consignments/0/events` (`[]`), `POST consignments/0/cancel`, `PUT consignments/0/eta` (no Optimize key), `POST consignments/0/attachments` (JSON, not multipart): id 0 exists nowhere, so nothing can change | the answer differs from what a path no route matches gets (a control request to `consignments/0/nexus-check-no-such-route` with the same method): an entity 404 as ProblemDetails, 400, 401, 415 … mean the route exists; a bare 404 like the control, or 405, mean it does not |
//! | `attachment-content` | `GET attachments/0/content`, judged the same way | as above |
//! | `page-100` | `GET consignments?limit=100`; when fewer come back, `offset=<count>` | 100 come back (not found when the next page holds others; unknown when fewer than 100 exist) |
//! | `full-create-answer` | only with `--book`: the create answer | it carries more than `consignmentID` and `successfulTrackingCodes` |
//!
//! Beside the capabilities it reports the shapes it saw: datetimes with or without an offset and
//! fractional seconds, ids as numbers or strings, bare array or envelope, property-name case,
//! `X-Total-Count`, the status ids of `consignmentStatuses`, the token answer, what an unknown path
//! and a missing consignment answer, and the label format (sniffed from the bytes of the labels of a
//! listed consignment that is past `Booked`, so getting them cannot manifest anything).
//!
//! With `--book` (refused against the LIVE host `rest-api-nexus.pallex.com`) it books a test
//! consignment with the seen create fields only (§1.6), fetches its labels and cancels it, reporting
//! each step; where there is no cancel route it says to cancel by hand.
//!
//! The requests are raw (`reqwest`), not the bridge's `NexusClient`: the point is to see the raw
//! shapes, which the client would normalise or refuse. A 429 or 503 is waited out (its
//! `Retry-After`, at most three tries).

mod book;
mod probes;
mod raw;

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::OpsError;
use crate::config::Secret;
use crate::nexus::capabilities::{Capabilities, Capability};

use book::book;
use probes::{Controls, datetime_row, filter_acts, judge_route, label_row, page_100};
use raw::{Answer, Http, clip, datetimes, field, id_of, ids_of, items_of, join_keys, text_of};

/// The LIVE Nexus host; `--book` is refused against it.
pub const LIVE_HOST: &str = "rest-api-nexus.pallex.com";

/// A depot code no depot has, for the depot-filter probes.
pub const NO_SUCH_DEPOT: &str = "ZZZ999";

/// A `minLastUpdated` nothing can have been updated after.
pub const FAR_FUTURE: &str = "2999-12-31T00:00:00";

/// The last path segment of the control requests: no API has a route there.
pub const NO_SUCH_ROUTE: &str = "nexus-check-no-such-route";

/// What the check works from.
#[derive(Clone)]
pub struct CheckInput {
    /// The Nexus API base, e.g. `https://s-nexus-rest-api-test.pallex.com/v1/`.
    pub base_url: String,
    /// The depot's API user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// Book, label and cancel a test consignment (refused against [`LIVE_HOST`]).
    pub book: bool,
    /// The Nexus customer ID to book the test consignment for (`--customer-id`).
    pub customer_id: Option<String>,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for CheckInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckInput")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("book", &self.book)
            .field("customer_id", &self.customer_id)
            .finish_non_exhaustive()
    }
}

impl CheckInput {
    /// A check of `base_url` as `username`, without booking.
    pub fn new(base_url: impl Into<String>, username: impl Into<String>, password: Secret) -> CheckInput {
        CheckInput {
            base_url: base_url.into(),
            username: username.into(),
            password,
            book: false,
            customer_id: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether `base_url` is the LIVE Nexus host.
pub fn is_live_host(base_url: &str) -> bool {
    reqwest::Url::parse(base_url.trim())
        .ok()
        .and_then(|url| url.host_str().map(|h| h.trim_end_matches('.').eq_ignore_ascii_case(LIVE_HOST)))
        .unwrap_or_else(|| base_url.to_ascii_lowercase().contains(LIVE_HOST))
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The evidence shows the capability is there.
    Found,
    /// The evidence shows it is not (an ignored filter, a missing field, no route).
    NotFound,
    /// The evidence cannot tell (too little data, an unexpected answer, or not probed).
    Unknown,
}

impl Finding {
    /// The word printed in the text report.
    pub fn label(self) -> &'static str {
        match self {
            Finding::Found => "found",
            Finding::NotFound => "not found",
            Finding::Unknown => "unknown",
        }
    }
}

/// One capability's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityRow {
    /// The capability's name in `NEXUS_CAPABILITIES`, e.g. `delta-listing`.
    pub capability: String,
    /// What the probe found.
    pub finding: Finding,
    /// The requests and answers it was decided from.
    pub evidence: String,
}

/// One shape the check saw (informational; the bridge's client has to cope with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeRow {
    /// What, e.g. `datetimes`.
    pub shape: String,
    /// What was seen, e.g. `no offset, no fractional seconds`.
    pub seen: String,
    /// Where, with an example.
    pub evidence: String,
}

/// One step of `--book`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookStep {
    /// `book`, `labels`, `cancel` or `read back`.
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// What Nexus answered, and what to do when it did not work.
    pub detail: String,
}

/// Everything the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NexusCheckReport {
    /// The API checked.
    pub base_url: String,
    /// The user it logged in as.
    pub username: String,
    /// One row per capability, in [`Capability::ALL`] order.
    pub capabilities: Vec<CapabilityRow>,
    /// The shapes seen.
    pub shapes: Vec<ShapeRow>,
    /// The `--book` steps; empty without `--book`.
    pub booking: Vec<BookStep>,
    /// The capabilities found, as a comma list.
    pub found: String,
    /// The capabilities the evidence could not decide.
    pub unknown: Vec<String>,
    /// The `NEXUS_CAPABILITIES` value to deploy with: the found ones (`full`, `seen` or a list).
    pub setting: String,
}

impl NexusCheckReport {
    /// The row of `capability`.
    pub fn row(&self, capability: Capability) -> Option<&CapabilityRow> {
        self.capabilities.iter().find(|row| row.capability == capability.name())
    }

    /// The finding of `capability` (unknown when there is no row).
    pub fn finding(&self, capability: Capability) -> Finding {
        self.row(capability).map_or(Finding::Unknown, |row| row.finding)
    }

    /// The shape row named `shape`.
    pub fn shape(&self, shape: &str) -> Option<&ShapeRow> {
        self.shapes.iter().find(|row| row.shape == shape)
    }

    /// The report as text: the capability table, the shapes, the booking steps, the setting.
    pub fn render(&self) -> String {
        let mut text = format!("Nexus at {} as {}\n\n", self.base_url, self.username);
        text.push_str(&format!("{:<20} {:<10} {}\n", "capability", "result", "evidence"));
        for row in &self.capabilities {
            text.push_str(&format!("{:<20} {:<10} {}\n", row.capability, row.finding.label(), row.evidence));
        }
        text.push_str(&format!("\n{:<20} {}\n", "shape", "seen (evidence)"));
        for row in &self.shapes {
            text.push_str(&format!("{:<20} {} ({})\n", row.shape, row.seen, row.evidence));
        }
        if !self.booking.is_empty() {
            text.push_str("\n--book\n");
            for step in &self.booking {
                text.push_str(&format!(
                    "{:<20} {:<10} {}\n",
                    step.step,
                    if step.ok { "ok" } else { "FAILED" },
                    step.detail
                ));
            }
        }
        text.push_str(&format!("\nfound: {}\n", if self.found.is_empty() { "(none)" } else { &self.found }));
        if !self.unknown.is_empty() {
            text.push_str(&format!(
                "unknown: {} (left off; check by hand{})\n",
                self.unknown.join(","),
                if self.booking.is_empty() { ", or run with --book against a test host" } else { "" }
            ));
        }
        text.push_str(&format!("deploy with: NEXUS_CAPABILITIES={}\n", self.setting));
        text
    }
}

// ---- the check -----------------------------------------------------------------------------------

/// Logs in, reads the lookups, probes every capability (module docs) and, with `--book`, books,
/// labels and cancels a test consignment. Fails only when `--book` is asked against LIVE, the base
/// URL is no URL, or the login does not work; every other problem is a row saying so.
pub async fn check_nexus(input: &CheckInput) -> Result<NexusCheckReport, OpsError> {
    if input.book && is_live_host(&input.base_url) {
        return Err(OpsError::Invalid(format!(
            "--book is refused against the LIVE host {LIVE_HOST}: it would book a real consignment; run it against \
             the TEST host (https://s-nexus-rest-api-test.pallex.com/v1/) or a simulator"
        )));
    }
    let mut http = Http::new(input)?;
    let mut shapes = Vec::new();
    let mut rows: Vec<(Capability, Finding, String)> = Vec::new();

    // Login.
    let login = http
        .send(
            Method::POST,
            "Account/login",
            Some(&json!({ "username": input.username, "password": input.password.expose() })),
        )
        .await
        .map_err(|err| OpsError::Failed(format!("Nexus could not be reached: {err}")))?;
    let answer = login.json().filter(|_| login.status.is_success()).ok_or_else(|| {
        OpsError::Failed(format!(
            "login as {} refused: POST Account/login answered {}",
            input.username,
            login.describe()
        ))
    })?;
    let token = ["bearerToken", "token", "accessToken", "access_token"]
        .iter()
        .find_map(|key| field(&answer, key).and_then(Value::as_str))
        .ok_or_else(|| {
            OpsError::Failed(format!("the login answer has no bearer token: {}", clip(&answer.to_string(), 200)))
        })?
        .to_owned();
    http.token = Some(token);
    let login_keys: Vec<String> = answer.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    shapes.push(ShapeRow {
        shape: "login answer".into(),
        seen: join_keys(&login_keys),
        evidence: format!("POST Account/login {}", login.status.as_u16()),
    });

    // Lookups.
    let mut lookup_notes = Vec::new();
    let mut status_ids: Vec<String> = Vec::new();
    let mut row_keys = String::new();
    for lookup in
        ["consignmentStatuses", "consignmentTypes", "consignmentAttachmentTypes", "countries", "currencyTypes"]
    {
        match http.get(&format!("{lookup}?limit=50")).await {
            Ok(answer) if answer.status.is_success() => {
                let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
                lookup_notes.push(format!("{lookup} {}", items.len()));
                if lookup == "consignmentStatuses" {
                    status_ids = items.iter().filter_map(|row| field(row, "id").map(|v| text_of(Some(v)))).collect();
                    row_keys =
                        items.first().and_then(Value::as_object).map(|m| join_keys(m.keys())).unwrap_or_default();
                }
            }
            Ok(answer) => lookup_notes.push(format!("{lookup} {}", answer.describe())),
            Err(err) => lookup_notes.push(format!("{lookup}: {err}")),
        }
    }
    shapes.push(ShapeRow {
        shape: "lookups".into(),
        seen: lookup_notes.join("; "),
        evidence: format!("GET <lookup>?limit=50; consignmentStatuses rows have {row_keys}"),
    });
    let numeric: Vec<i64> = status_ids.iter().filter_map(|id| id.parse().ok()).collect();
    shapes.push(ShapeRow {
        shape: "status ids".into(),
        seen: match (numeric.iter().min(), numeric.iter().max()) {
            (Some(min), Some(max)) => format!("{} statuses, ids {min}–{max}", status_ids.len()),
            _ => format!("{} statuses: {}", status_ids.len(), status_ids.join(",")),
        },
        evidence: "GET consignmentStatuses: the ids to map (the bridge must not assume 10–130)".into(),
    });

    // The plain list, and what an unknown path answers.
    let plain = http.get("consignments").await;
    let (items, list_shape) = match &plain {
        Ok(answer) if answer.status.is_success() => match answer.json().as_ref().and_then(items_of) {
            Some(found) => found,
            None => (Vec::new(), format!("not a list: {}", answer.describe())),
        },
        Ok(answer) => (Vec::new(), format!("GET consignments answered {}", answer.describe())),
        Err(err) => (Vec::new(), err.clone()),
    };
    let listed = ids_of(&items);
    shapes.push(ShapeRow {
        shape: "list shape".into(),
        seen: list_shape,
        evidence: format!(
            "GET consignments: {} consignments, X-Total-Count {}",
            items.len(),
            plain.as_ref().ok().and_then(|a| a.total_count.clone()).unwrap_or_else(|| "absent".into())
        ),
    });
    let first = items.first().cloned().unwrap_or(Value::Null);
    if let Some(map) = first.as_object() {
        let upper = map.keys().filter(|k| k.starts_with(|c: char| c.is_ascii_uppercase())).count();
        shapes.push(ShapeRow {
            shape: "property names".into(),
            seen: if upper == 0 {
                "camelCase".into()
            } else if upper == map.len() {
                "PascalCase".into()
            } else {
                format!("mixed ({upper} of {} start upper-case)", map.len())
            },
            evidence: format!(
                "consignment {}: {}",
                id_of(&first).unwrap_or_default(),
                clip(&join_keys(map.keys()), 160)
            ),
        });
        let id_kind = match field(&first, "consignmentID") {
            Some(Value::Number(_)) => "numbers",
            Some(Value::String(_)) => "strings",
            Some(_) => "neither numbers nor strings",
            None => "no consignmentID field",
        };
        shapes.push(ShapeRow {
            shape: "ids".into(),
            seen: id_kind.into(),
            evidence: format!("consignmentID {}", field(&first, "consignmentID").map_or("-".into(), Value::to_string)),
        });
    }
    let mut stamps = Vec::new();
    items.iter().for_each(|item| datetimes(item, &mut stamps));
    shapes.push(datetime_row(&stamps));

    let controls = Controls::read(&http).await;
    shapes.push(ShapeRow {
        shape: "unknown path".into(),
        seen: controls.get.as_ref().map_or_else(|e| e.clone(), Answer::describe),
        evidence: format!("GET consignments/0/{NO_SUCH_ROUTE}"),
    });
    if let Ok(missing) = http.get("consignments/0").await {
        shapes.push(ShapeRow {
            shape: "missing consignment".into(),
            seen: missing.describe(),
            evidence: "GET consignments/0".into(),
        });
    }

    // delta-listing, depot-filters.
    let plain_ok = plain.as_ref().is_ok_and(|a| a.status.is_success()) && !listed.is_empty();
    let delta = filter_acts(&http, "minLastUpdated", FAR_FUTURE, &listed, plain_ok).await;
    let last_updated = if first.is_null() { None } else { Some(field(&first, "lastUpdated").is_some()) };
    let (finding, evidence) = match (delta.0, last_updated) {
        (Finding::Found, Some(true)) => (Finding::Found, format!("{}; lastUpdated present", delta.1)),
        (Finding::NotFound, _) | (_, Some(false)) => (
            Finding::NotFound,
            format!("{}; lastUpdated {}", delta.1, if last_updated == Some(true) { "present" } else { "absent" }),
        ),
        _ => (Finding::Unknown, delta.1),
    };
    rows.push((Capability::DeltaListing, finding, evidence));
    let delivery = filter_acts(&http, "deliveryDepotCode", NO_SUCH_DEPOT, &listed, plain_ok).await;
    let collecting = filter_acts(&http, "collectingDepotCode", NO_SUCH_DEPOT, &listed, plain_ok).await;
    let finding = match (delivery.0, collecting.0) {
        (Finding::Found, Finding::Found) => Finding::Found,
        (Finding::NotFound, _) | (_, Finding::NotFound) => Finding::NotFound,
        _ => Finding::Unknown,
    };
    rows.push((Capability::DepotFilters, finding, format!("{}; {}", delivery.1, collecting.1)));

    // Read-model fields.
    let fields_row = |names: &[&str]| -> (Finding, String) {
        if first.is_null() {
            return (Finding::Unknown, "no consignment listed to look at".into());
        }
        let present: Vec<&str> = names.iter().copied().filter(|n| field(&first, n).is_some()).collect();
        let absent: Vec<&str> = names.iter().copied().filter(|n| field(&first, n).is_none()).collect();
        let id = id_of(&first).unwrap_or_default();
        let evidence = match (present.is_empty(), absent.is_empty()) {
            (_, true) => format!("consignment {id} has {}", present.join(", ")),
            (true, _) => format!("consignment {id} has none of {}", absent.join(", ")),
            _ => format!("consignment {id} has {} but not {}", present.join(", "), absent.join(", ")),
        };
        (if absent.is_empty() { Finding::Found } else { Finding::NotFound }, evidence)
    };
    let (finding, evidence) =
        fields_row(&["network", "requestingDepotCode", "collectingDepotCode", "deliveryDepotCode"]);
    rows.push((Capability::DepotFields, finding, evidence));
    let (finding, evidence) = match field(&first, "pallets") {
        _ if first.is_null() => (Finding::Unknown, "no consignment listed to look at".into()),
        Some(Value::Array(pallets)) => (
            Finding::Found,
            format!("consignment {} has pallets[] ({} pallets)", id_of(&first).unwrap_or_default(), pallets.len()),
        ),
        Some(other) => (Finding::NotFound, format!("pallets is not an array: {}", clip(&other.to_string(), 60))),
        None => (Finding::NotFound, format!("consignment {} has no pallets field", id_of(&first).unwrap_or_default())),
    };
    rows.push((Capability::PalletsField, finding, evidence));

    // Routes.
    rows.push(match listed.first() {
        None => (Capability::EventsRead, Finding::Unknown, "no consignment listed to ask for events of".into()),
        Some(id) => {
            let path = format!("consignments/{id}/events");
            let (finding, evidence) = match http.get(&path).await {
                Ok(answer) if answer.status.is_success() => {
                    let count = answer.json().as_ref().and_then(items_of).map_or(0, |(items, _)| items.len());
                    (Finding::Found, format!("GET {path}: {} ({count} events)", answer.describe()))
                }
                probe => judge_route(&format!("GET {path}"), &probe, &controls.get),
            };
            (Capability::EventsRead, finding, evidence)
        }
    });
    for (capability, method, path, body, control) in [
        (Capability::EventsWrite, Method::POST, "consignments/0/events", json!([]), &controls.post),
        (Capability::Cancel, Method::POST, "consignments/0/cancel", json!({}), &controls.post),
        (Capability::Eta, Method::PUT, "consignments/0/eta", json!({}), &controls.put),
        (Capability::AttachmentUpload, Method::POST, "consignments/0/attachments", json!({}), &controls.post),
    ] {
        let probe = http.send(method.clone(), path, Some(&body)).await;
        let (finding, evidence) = judge_route(&format!("{method} {path}"), &probe, control);
        rows.push((capability, finding, evidence));
    }
    let probe = http.get("attachments/0/content").await;
    let (finding, evidence) = judge_route("GET attachments/0/content", &probe, &controls.get);
    rows.push((Capability::AttachmentContent, finding, evidence));

    // page-100.
    rows.push(page_100(&http).await);

    // Labels of a listed consignment past Booked (getting them cannot manifest it).
    shapes.push(label_row(&http, &items).await);

    // --book.
    let mut booking = Vec::new();
    let create = if input.book { book(&http, input, &mut booking).await } else { None };
    rows.push(match create {
        None if input.book => {
            (Capability::FullCreateAnswer, Finding::Unknown, "the test booking did not get through".into())
        }
        None => (
            Capability::FullCreateAnswer,
            Finding::Unknown,
            "only a booking shows the create answer: run with --book against a test host".into(),
        ),
        Some(keys) => {
            let extra: Vec<&String> = keys
                .iter()
                .filter(|k| {
                    !k.eq_ignore_ascii_case("consignmentID") && !k.eq_ignore_ascii_case("successfulTrackingCodes")
                })
                .collect();
            if extra.is_empty() {
                (
                    Capability::FullCreateAnswer,
                    Finding::NotFound,
                    format!("the create answer has only {}", join_keys(&keys)),
                )
            } else {
                (
                    Capability::FullCreateAnswer,
                    Finding::Found,
                    format!("the create answer has {} fields, e.g. {}", keys.len(), clip(&join_keys(extra), 80)),
                )
            }
        }
    });

    let capabilities: Vec<CapabilityRow> = Capability::ALL
        .iter()
        .filter_map(|c| rows.iter().find(|(r, _, _)| r == c))
        .map(|(c, finding, evidence)| CapabilityRow {
            capability: c.name().into(),
            finding: *finding,
            evidence: evidence.clone(),
        })
        .collect();
    let found: Vec<String> =
        capabilities.iter().filter(|r| r.finding == Finding::Found).map(|r| r.capability.clone()).collect();
    let unknown = capabilities.iter().filter(|r| r.finding == Finding::Unknown).map(|r| r.capability.clone()).collect();
    let setting = found.join(",").parse::<Capabilities>().map(|c| c.setting()).unwrap_or_else(|_| found.join(","));
    Ok(NexusCheckReport {
        base_url: http.base.clone(),
        username: input.username.clone(),
        capabilities,
        shapes,
        booking,
        found: found.join(","),
        unknown,
        setting,
    })
}

/// The credentials and base URL from flags, else from the settings and secrets the functions use.
#[derive(Debug, Clone, Default)]
pub struct CredentialArgs {
    /// `--base-url`; else `NEXUS_BASE_URL`; else the LIVE host.
    pub base_url: Option<String>,
    /// `--username`; with `--password-env`.
    pub username: Option<String>,
    /// `--password-env VAR`: the variable holding the password.
    pub password_env: Option<String>,
    /// `--depot CODE`: whose credentials in the secrets (default: the first of `BRIDGE_DEPOTS`).
    pub depot: Option<String>,
    /// `--customer-id`; else the first Nexus ID of `BRIDGE_CUSTOMER_MAP`.
    pub customer_id: Option<String>,
}

/// The check's input from `args` and `lookup` (the process environment in the binary); the secrets
/// are read as the functions read them (`BRIDGE_SECRET_ID` with `aws`, `BRIDGE_SECRETS_FILE`,
/// `BRIDGE_SECRETS_JSON`) unless `--username` and `--password-env` are given.
pub async fn input_from(
    args: &CredentialArgs,
    lookup: impl Fn(&str) -> Option<String>,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<CheckInput, OpsError> {
    let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let base_url =
        args.base_url.clone().or_else(|| get("NEXUS_BASE_URL")).unwrap_or_else(|| format!("https://{LIVE_HOST}/v1/"));
    let customer_id = args.customer_id.clone().or_else(|| {
        get("BRIDGE_CUSTOMER_MAP")
            .and_then(|map| map.split(',').find_map(|e| e.split_once(':').map(|(id, _)| id.trim().to_owned())))
    });
    if let Some(username) = &args.username {
        let variable = args.password_env.as_deref().ok_or_else(|| {
            OpsError::Invalid("--username needs --password-env VAR, the variable holding the password".into())
        })?;
        let password = get(variable).ok_or_else(|| OpsError::Invalid(format!("{variable} is not set")))?;
        let mut input = CheckInput::new(base_url, username.clone(), Secret::new(password));
        input.customer_id = customer_id;
        return Ok(input);
    }
    let settings = crate::config::Settings::from_lookup(|name| match (name, lookup(name)) {
        ("BRIDGE_TABLE" | "BRIDGE_BUCKET", None) => Some("unused-by-nexus-check".to_owned()),
        ("BRIDGE_DEPOTS", None) => args.depot.clone(),
        (_, value) => value,
    })
    .map_err(|err| OpsError::Offline { reason: format!("{err} (or give --username and --password-env)") })?;
    let secrets = crate::config::Secrets::load(&settings.secrets_source, aws)
        .await
        .map_err(|err| OpsError::Offline { reason: err.to_string() })?;
    let depot = match &args.depot {
        Some(code) => code.parse().map_err(|err| OpsError::Invalid(format!("--depot {code}: {err}")))?,
        None => settings
            .depots
            .first()
            .map(|d| d.code.clone())
            .ok_or_else(|| OpsError::Invalid("no depot: set BRIDGE_DEPOTS or --depot".into()))?,
    };
    let credentials = secrets
        .nexus
        .get(&depot)
        .ok_or_else(|| OpsError::Offline { reason: format!("the secrets have no Nexus user for depot {depot}") })?;
    let mut input = CheckInput::new(
        args.base_url.clone().unwrap_or(settings.nexus_base_url),
        credentials.username.clone(),
        credentials.password.clone(),
    );
    input.customer_id = customer_id;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_host_is_recognised() {
        assert!(is_live_host("https://rest-api-nexus.pallex.com/v1/"));
        assert!(is_live_host("https://REST-API-NEXUS.PALLEX.COM/v1"));
        assert!(!is_live_host("https://s-nexus-rest-api-test.pallex.com/v1/"));
        assert!(!is_live_host("http://127.0.0.1:7700/v1/"));
    }
}
