//! The probes behind the capability and shape rows: a route judged against a control request no
//! route matches, a list filter that acts or not, `limit=100`, datetimes, and the labels' format.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::raw::{Answer, Http, datetime_kind, id_of, ids_of, items_of, sniff, status_name};
use super::{Finding, NO_SUCH_ROUTE, ShapeRow};
use crate::nexus::capabilities::Capability;

/// What a path no route matches answers, per method.
pub(super) struct Controls {
    pub(super) get: Result<Answer, String>,
    pub(super) post: Result<Answer, String>,
    pub(super) put: Result<Answer, String>,
}

impl Controls {
    pub(super) async fn read(http: &Http) -> Controls {
        let path = format!("consignments/0/{NO_SUCH_ROUTE}");
        Controls {
            get: http.get(&path).await,
            post: http.send(Method::POST, &path, Some(&json!({}))).await,
            put: http.send(Method::PUT, &path, Some(&json!({}))).await,
        }
    }
}

/// Whether a route exists, from a request to it that cannot change anything and the control.
pub(super) fn judge_route(
    what: &str,
    probe: &Result<Answer, String>,
    control: &Result<Answer, String>,
) -> (Finding, String) {
    let probe = match probe {
        Ok(answer) => answer,
        Err(err) => return (Finding::Unknown, err.clone()),
    };
    let seen = format!("{what}: {}", probe.describe());
    let control = match control {
        Ok(answer) => answer,
        Err(err) => return (Finding::Unknown, format!("{seen}; no control answer ({err})")),
    };
    let status = probe.status.as_u16();
    if probe.status.is_success() {
        return (Finding::Found, seen);
    }
    if status == 405 {
        return (Finding::NotFound, format!("{seen}: the path takes other methods only"));
    }
    if probe.signature() == control.signature() {
        if probe.is_problem() && status == 404 {
            // Both ProblemDetails 404s with one title: only the detail could tell, and it is free text.
            return (
                Finding::Unknown,
                format!(
                    "{seen}; an unknown path answers the same kind of 404 ({}), so this cannot tell",
                    control.describe()
                ),
            );
        }
        return (Finding::NotFound, format!("{seen}, as an unknown path does: no route"));
    }
    match status {
        400 | 401 | 403 | 404 | 409 | 415 | 422 => {
            (Finding::Found, format!("{seen}, while an unknown path answers {}: the route exists", control.describe()))
        }
        _ => (Finding::Unknown, format!("{seen}; an unknown path answers {}", control.describe())),
    }
}

/// Whether `key=value` changes the list: `(finding, evidence)`.
pub(super) async fn filter_acts(
    http: &Http,
    key: &str,
    value: &str,
    plain: &[String],
    plain_ok: bool,
) -> (Finding, String) {
    if !plain_ok {
        return (Finding::Unknown, format!("{key}: no consignments listed to compare with"));
    }
    let path = format!("consignments?{key}={value}");
    match http.get(&path).await {
        Ok(answer) if answer.status.is_success() => {
            let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
            let ids = ids_of(&items);
            let same = ids.iter().collect::<BTreeSet<_>>() == plain.iter().collect::<BTreeSet<_>>();
            if same {
                (Finding::NotFound, format!("{key}={value} gives the same {} consignments: ignored", ids.len()))
            } else {
                (Finding::Found, format!("{key}={value} gives {} consignments, not {}: acts", ids.len(), plain.len()))
            }
        }
        Ok(answer) => (Finding::Unknown, format!("GET {path}: {}", answer.describe())),
        Err(err) => (Finding::Unknown, err),
    }
}

/// `limit=100` honoured?
pub(super) async fn page_100(http: &Http) -> (Capability, Finding, String) {
    let capability = Capability::Page100;
    let answer = match http.get("consignments?limit=100").await {
        Ok(answer) => answer,
        Err(err) => return (capability, Finding::Unknown, err),
    };
    if !answer.status.is_success() {
        let finding = if answer.status == StatusCode::BAD_REQUEST { Finding::NotFound } else { Finding::Unknown };
        return (capability, finding, format!("GET consignments?limit=100: {}", answer.describe()));
    }
    let items = answer.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
    let count = items.len();
    if count >= 100 {
        return (capability, Finding::Found, format!("limit=100 gave {count}"));
    }
    if count == 0 {
        return (capability, Finding::Unknown, "limit=100 gave none: nothing listed".into());
    }
    let first_page: BTreeSet<String> = ids_of(&items).into_iter().collect();
    match http.get(&format!("consignments?offset={count}&limit={count}")).await {
        Ok(next) if next.status.is_success() => {
            let more = next.json().as_ref().and_then(items_of).map(|(items, _)| items).unwrap_or_default();
            let new: Vec<String> = ids_of(&more).into_iter().filter(|id| !first_page.contains(id)).collect();
            if new.is_empty() {
                (
                    capability,
                    Finding::Unknown,
                    format!("limit=100 gave {count}, and only {count} exist: too few to tell"),
                )
            } else {
                (
                    capability,
                    Finding::NotFound,
                    format!("limit=100 gave {count}, yet offset={count} lists {} more: capped at {count}", new.len()),
                )
            }
        }
        Ok(next) => {
            (capability, Finding::Unknown, format!("limit=100 gave {count}; offset={count}: {}", next.describe()))
        }
        Err(err) => (capability, Finding::Unknown, err),
    }
}

pub(super) fn datetime_row(stamps: &[String]) -> ShapeRow {
    if stamps.is_empty() {
        return ShapeRow {
            shape: "datetimes".into(),
            seen: "none seen".into(),
            evidence: "no datetime in the list".into(),
        };
    }
    let mut offsets: Vec<(String, usize)> = Vec::new();
    let mut fractions: BTreeSet<usize> = BTreeSet::new();
    for stamp in stamps {
        let (offset, fraction) = datetime_kind(stamp);
        fractions.insert(fraction);
        match offsets.iter_mut().find(|(o, _)| *o == offset) {
            Some((_, n)) => *n += 1,
            None => offsets.push((offset, 1)),
        }
    }
    let offset_text: Vec<String> = offsets.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
    let fraction_text = if fractions.iter().all(|f| *f == 0) {
        "no fractional seconds".to_owned()
    } else {
        format!("fractional digits {}", fractions.iter().map(usize::to_string).collect::<Vec<_>>().join("/"))
    };
    ShapeRow {
        shape: "datetimes".into(),
        seen: format!("{}; {fraction_text}", offset_text.join(", ")),
        evidence: format!("{} datetimes in the list, e.g. {}", stamps.len(), stamps[0]),
    }
}

pub(super) async fn label_row(http: &Http, items: &[Value]) -> ShapeRow {
    let candidate = items.iter().find(|item| {
        let name = status_name(item).to_ascii_lowercase();
        !name.is_empty() && !name.contains("book") && !name.contains("cancel") && !name.contains("return")
    });
    let Some(item) = candidate else {
        return ShapeRow {
            shape: "labels".into(),
            seen: "not fetched".into(),
            evidence: "no listed consignment past Booked (getting labels of a booked one may manifest it)".into(),
        };
    };
    let id = id_of(item).unwrap_or_default();
    let path = format!("consignments/{id}/labels");
    match http.get(&path).await {
        Ok(answer) if answer.status.is_success() => ShapeRow {
            shape: "labels".into(),
            seen: format!("{} by its bytes ({} bytes)", sniff(&answer.bytes), answer.bytes.len()),
            evidence: format!(
                "GET {path} ({}): Content-Type {}",
                status_name(item),
                if answer.content_type.is_empty() { "absent" } else { &answer.content_type }
            ),
        },
        Ok(answer) => ShapeRow {
            shape: "labels".into(),
            seen: "not fetched".into(),
            evidence: format!("GET {path}: {}", answer.describe()),
        },
        Err(err) => ShapeRow { shape: "labels".into(), seen: "not fetched".into(), evidence: err },
    }
}
