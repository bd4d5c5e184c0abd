//! `bridge-ops tenant-check` (`bridge::ops::tenant`) against the Qargo simulator's default tenant:
//! a good set-up passes every check the API allows, a wrong webhook password and a wrong OAuth
//! secret are each reported missing with the secret to fix, and what the API cannot show is listed
//! with the value to set.

use std::collections::BTreeMap;
use std::sync::Arc;

use bridge::config::{Secrets, Settings};
use bridge::ops::tenant::{CheckStatus, TenantInput, TenantReport, check_tenant, mapped_customers};
use bridge::store::memory::MemoryStore;
use qargo_sim::{QargoSim, RunningSim, SimOptions};

const TOKEN: &str = "OAuth token (POST /v1/auth/token, secret qargo)";
const ME: &str = "API access (GET /me)";
const WEBHOOK: &str = "webhook credential (POST /v1/webhook/…, secret qargo_webhook)";

async fn sim() -> RunningSim {
    QargoSim::start(SimOptions { strict_unknown_keys: true, ..Default::default() })
        .await
        .expect("start the Qargo simulator")
}

/// The check's input for the simulator's default tenant, with the given OAuth secret and webhook
/// password.
fn input(sim: &RunningSim, client_secret: &str, webhook_password: &str) -> TenantInput {
    let secrets = serde_json::json!({
        "nexus": {},
        "qargo": {"client_id": "bridge-client", "client_secret": client_secret},
        "qargo_webhook": {"username": "bridge-webhook", "password": webhook_password},
        "inbound": {"username": "qargo", "password": "inbound-pass"},
    });
    let variables: BTreeMap<&str, String> = [
        ("BRIDGE_TABLE", "t".to_owned()),
        ("BRIDGE_BUCKET", "b".to_owned()),
        ("BRIDGE_DEPOTS", "PGD302".to_owned()),
        ("BRIDGE_SECRETS_JSON", secrets.to_string()),
        ("QARGO_BASE_URL", sim.base_url()),
    ]
    .into_iter()
    .collect();
    let settings = Settings::from_lookup(|name| variables.get(name).cloned()).unwrap();
    TenantInput {
        settings,
        secrets: Arc::new(Secrets::from_json(&secrets.to_string(), "test").unwrap()),
        mapped_customers: mapped_customers("52011:ACME,55120:ACME,83007:DUNE").unwrap(),
        dispatch_customers: vec!["ACME".into()],
        api_url: Some("https://bridge.example/".into()),
        tokens: Arc::new(MemoryStore::in_memory()),
        shared_tokens: false,
        retry: bridge::ops::target::ops_tuning().retry,
        requests_per_second: 2.0,
    }
}

fn status(report: &TenantReport, check: &str) -> CheckStatus {
    report.row(check).unwrap_or_else(|| panic!("no row {check:?} in\n{}", report.render())).status
}

#[tokio::test]
async fn a_good_tenant_passes_every_check_the_api_allows_and_lists_the_rest() {
    let sim = sim().await;
    let report = check_tenant(&input(&sim, "bridge-secret", "webhook-pass")).await;
    let text = report.render();
    assert!(!report.has_missing(), "{text}");
    assert_eq!(status(&report, TOKEN), CheckStatus::Ok, "{text}");
    assert_eq!(status(&report, ME), CheckStatus::Ok, "{text}");
    assert!(report.row(ME).unwrap().evidence.contains("nexus-bridge-demo"), "{text}");
    assert_eq!(status(&report, WEBHOOK), CheckStatus::Ok, "{text}");

    // The simulator serves no company or resource list: said, with the manual step.
    for check in ["customer ACME (BRIDGE_CUSTOMER_MAP)", "customer DUNE (BRIDGE_CUSTOMER_MAP)"] {
        let row = report.row(check).unwrap_or_else(|| panic!("{check} in\n{text}"));
        assert_eq!(row.status, CheckStatus::CannotCheck, "{text}");
        assert!(row.evidence.contains("404 for GET /v1/companies/company"), "{text}");
        assert!(row.fix.as_deref().unwrap().contains("APPROVED"), "{text}");
    }
    assert_eq!(status(&report, "customer ACME: PallexID / FortecID"), CheckStatus::CannotCheck);
    for code in ["PALLEX_OUT", "FORTEC_OUT"] {
        let row = report.checks.iter().find(|row| row.check.contains(code)).expect(code);
        assert_eq!(row.status, CheckStatus::Manual, "{text}");
        assert!(row.fix.as_deref().unwrap().contains(&format!("code {code}")), "{text}");
    }

    // What the API cannot show, with the exact values.
    let fixes: String = report.with_status(CheckStatus::Manual).filter_map(|row| row.fix.clone()).collect();
    for value in [
        "https://bridge.example/qargo/dispatch",
        "https://bridge.example/qargo/visibility",
        "Stop, Document and Eta",
        "scan_barcode",
        "status_note",
        "signed_by",
        "MPOD → document type CONSIGNEE_SIGNATURE",
        "POD → document type PROOF_OF_DELIVERY_SIGNED",
        "MPODPHOTOE → document type PHOTO_OF_GOODS_DELIVERY",
        "NexusOrigin",
        "NexusLabels",
        "failure_reason",
        "contact_name",
        "A, B, SD",
        "AM, TD, BI",
        "TL, HB, PP, RA, RES, SAT, AZ",
        "MQ, Q, H, L, E, OS, F",
        "EURO",
    ] {
        assert!(fixes.contains(value), "{value:?} missing from the manual checks:\n{text}");
    }

    // One token call, and the empty status update changed nothing.
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count("POST", "/v1/auth/token"), 1);
    assert_eq!(counts.count("POST", "/v1/webhook/subco-status-update"), 1);
    assert!(sim.handle.status_updates().is_empty(), "the empty update recorded nothing");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["checks"][0]["status"], "ok");
}

#[tokio::test]
async fn a_wrong_webhook_password_is_reported_missing_with_the_fix() {
    let sim = sim().await;
    let report = check_tenant(&input(&sim, "bridge-secret", "not-the-password")).await;
    let text = report.render();
    assert!(report.has_missing(), "{text}");
    let row = report.row(WEBHOOK).unwrap();
    assert_eq!(row.status, CheckStatus::Missing, "{text}");
    assert!(row.evidence.contains("bridge-webhook"), "{text}");
    assert!(row.fix.as_deref().unwrap().contains("\"qargo_webhook\" username / password"), "{text}");
    assert!(!text.contains("not-the-password"), "the password is never printed:\n{text}");
    // The OAuth client is fine all the same.
    assert_eq!(status(&report, TOKEN), CheckStatus::Ok, "{text}");
    assert_eq!(status(&report, ME), CheckStatus::Ok, "{text}");
    assert_eq!(report.with_status(CheckStatus::Missing).count(), 1, "{text}");
}

#[tokio::test]
async fn a_wrong_oauth_secret_is_reported_and_nothing_is_read_without_a_token() {
    let sim = sim().await;
    let report = check_tenant(&input(&sim, "not-the-secret", "webhook-pass")).await;
    let text = report.render();
    assert!(report.has_missing(), "{text}");
    let row = report.row(TOKEN).unwrap();
    assert_eq!(row.status, CheckStatus::Missing, "{text}");
    assert!(row.evidence.contains("refused client_id \"bridge-client\""), "{text}");
    assert!(row.fix.as_deref().unwrap().contains("\"qargo\" client_id / client_secret"), "{text}");
    assert!(!text.contains("not-the-secret"), "the secret is never printed:\n{text}");
    assert_eq!(status(&report, ME), CheckStatus::CannotCheck, "{text}");
    assert_eq!(status(&report, WEBHOOK), CheckStatus::Ok, "{text}");
    assert!(report.row("customer ACME (BRIDGE_CUSTOMER_MAP)").unwrap().evidence.contains("no working OAuth token"));
    let counts = sim.handle.request_counts();
    assert_eq!(counts.count("GET", "/me"), 0, "no API call without a token");
}
