//! Hostile input against the parsers that face the outside: the two webhook bodies and Nexus's
//! wire types. Whatever arrives — random bytes, JSON of the wrong shape, wrong types, huge strings,
//! injection attempts — parsing and the dispatch rules answer with a clean refusal, never a panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::jobs::dispatch_plan::plan_dispatch;
use crate::qargo::dispatch_webhook::{DispatchTrip, DispatchWebhook};
use crate::visibility::parse_visibility;

fn settings() -> Settings {
    let values = [
        ("BRIDGE_TABLE", "t"),
        ("BRIDGE_BUCKET", "b"),
        ("BRIDGE_DEPOTS", "PGD302"),
        ("NEXUS_BASE_URL", "http://nexus"),
        ("QARGO_BASE_URL", "http://qargo"),
        ("BRIDGE_SECRETS_JSON", "{}"),
    ];
    Settings::from_lookup(|name| values.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
}

/// Any JSON value, with strings that include quotes, control characters, markup and long runs.
fn any_json() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        ".{0,40}",
        Just("'; DROP TABLE ledger; --".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("\u{0000}\u{202e}PALLEX_OUT".to_owned()),
        Just("9".repeat(400)),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("operation".to_owned()),
                    Just("payload".to_owned()),
                    Just("orders".to_owned()),
                    Just("consignments".to_owned()),
                    Just("goods".to_owned()),
                    Just("events".to_owned()),
                    Just("update".to_owned()),
                    Just("type".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A structurally plausible dispatch trip whose values are hostile.
fn hostile_trip() -> impl Strategy<Value = Value> {
    (any_json(), any_json(), any_json(), any_json()).prop_map(|(code, customer, stop, goods)| {
        json!({
            "resource_allocations": [{"resource": {"code": code}}],
            "orders": [{"id": "o", "name": "OR-1", "customer": customer, "service_level": {"code": "A"},
                        "consignments": [{"id": "c", "pickup_stop": stop.clone(), "delivery_stop": stop,
                                          "goods": [goods]}]}]
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic_the_webhook_parsers(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = serde_json::from_slice::<DispatchWebhook>(&body);
        prop_assert!(parse_visibility(&body).is_err() || serde_json::from_slice::<Value>(&body).is_ok());
    }

    #[test]
    fn any_json_is_parsed_or_refused_cleanly(value in any_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Ok(webhook) = serde_json::from_slice::<DispatchWebhook>(&body)
            && let Some(trip) = webhook.payload
        {
            let _ = plan_dispatch(&trip, &settings());
        }
        let _ = parse_visibility(&body);
        let _ = serde_json::from_slice::<crate::nexus::wire::Consignment>(&body);
        let _ = serde_json::from_slice::<Vec<crate::nexus::wire::Event>>(&body);
    }

    #[test]
    fn hostile_values_in_a_dispatch_are_refused_with_fields(value in hostile_trip()) {
        if let Ok(trip) = serde_json::from_value::<DispatchTrip>(value) {
            match plan_dispatch(&trip, &settings()) {
                Ok(plan) => prop_assert!(!plan.body.pallets.is_empty()),
                Err(violations) => {
                    prop_assert!(!violations.is_empty());
                    prop_assert!(violations.iter().all(|v| v.field.starts_with("payload")));
                }
            }
        }
    }
}
