//! What Qargo's lists show: the customers of `BRIDGE_CUSTOMER_MAP` and of dispatch with their
//! Nexus customer IDs (`GET /v1/companies/company`), and the networks' subcontractor resources.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::reader::{ListFailure, Listed, text_field};
use super::{CheckStatus, TenantCheck, TenantInput};
use crate::domain::Network;

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

pub(super) fn check_customers(
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

pub(super) fn check_resources(
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
#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use serde_json::json;

    use crate::config::{Secrets, Settings};
    use crate::http::RetryPolicy;
    use crate::ops::tenant::mapped_customers;

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
}
