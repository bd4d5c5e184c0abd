//! `bridge-local demo` as a library call: the whole demo day runs against both simulators and the
//! bridge's HTTP API, and its summary shows every expected outcome — the same checks that make the
//! binary exit 0.

use bridge_local::demo::{DemoOptions, Output, run_demo};

#[tokio::test]
async fn the_demo_day_happens_as_expected_on_both_networks() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let data_dir = folder.path().join("demo");
    let summary = run_demo(DemoOptions {
        data_dir: Some(data_dir.clone()),
        output: Output::Quiet,
        nexus_profile: nexus_sim::Profile::Full,
    })
    .await
    .expect("the demo starts");
    let table = summary.render();
    assert!(summary.passed(), "failed checks {:?}\n{table}", summary.failed_checks());
    assert!(summary.errors.is_empty(), "{table}");

    // Booked on both networks, each labelled, and the labels on disk.
    assert_eq!(summary.booked.len(), 5, "{table}");
    for network in ["PALLEX", "FORTEC"] {
        assert!(summary.booked.iter().any(|b| b.network == network), "{network}: {table}");
    }
    assert_eq!(summary.labelled, 5, "{table}");
    assert!(summary.booked.iter().all(|b| b.label_files >= 1 && b.nexus_id > 0), "{table}");
    let statuses: Vec<&str> = summary.booked.iter().map(|b| b.final_status.as_str()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "DLX").count(), 1, "one arrives damaged: {statuses:?}");
    assert!(statuses.iter().all(|s| matches!(*s, "DEL" | "DLX")), "{statuses:?}");
    assert!(data_dir.join("documents/labels").is_dir() && data_dir.join("documents/pod").is_dir());

    // The two refusals, each naming its field and the fix.
    let refused: Vec<(&str, &str)> = summary.refused.iter().map(|r| (r.field.as_str(), r.message.as_str())).collect();
    assert_eq!(refused.len(), 2, "{table}");
    assert!(summary.refused.iter().all(|r| r.error_type == "USER_INPUT_ERROR"), "{table}");
    assert_eq!(refused[0].0, "payload.orders[0].customer.custom_fields.PallexID");
    assert_eq!(refused[1].0, "payload.orders[0].consignments[0].pickup_stop.date");
    assert!(refused[1].1.contains("12:00 cut-off") && refused[1].1.contains("2026-06-18"), "{}", refused[1].1);

    // Imported, scanned, excepted, documented both ways, ETAs pushed.
    assert_eq!(summary.imported_booked_today, 5, "{table}");
    assert!(summary.imported >= 5, "{table}");
    assert!(summary.scans_applied > 100 && summary.stop_statuses >= 10, "{table}");
    assert!(summary.exceptions >= 2, "the failed and the damaged delivery: {table}");
    assert!(summary.documents_down >= 8, "{table}");
    assert_eq!(summary.documents_up, 10, "a signature and a photo for each of the van's 5 deliveries: {table}");
    assert_eq!(summary.etas_sent, 10, "planned, then re-optimised, for 5 stops: {table}");
    assert!(table.contains("checks: 16 of 16 passed"), "{table}");
}

/// A log sink shared between the subscriber and the test.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// No configured secret appears in the logs of a whole demo day, at debug level.
#[tokio::test]
async fn no_secret_reaches_the_logs_of_a_demo_day() {
    let log = CapturedLog::default();
    let writer = log.clone();
    // The bridge's own logs (not the simulators'), at debug level, from the whole test process: any
    // test running beside this one that made the bridge log a secret fails it too.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("bridge=debug,bridge_local=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("no other test installs a global subscriber");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let summary = run_demo(DemoOptions {
        data_dir: Some(folder.path().join("demo")),
        output: Output::Quiet,
        nexus_profile: nexus_sim::Profile::Full,
    })
    .await
    .expect("the demo starts");
    assert!(summary.passed(), "{:?}", summary.failed_checks());
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(text.contains("dispatch handled"), "the logs were captured: {} bytes", text.len());
    let secrets = [
        "Sim!PGD302",
        "bridge-secret",
        "webhook-pass",
        "inbound-pass",
        "sim-optimize-key-0001",
        // The Qargo access token is a JWT: its header is the same for every token the simulator issues.
        "eyJ",
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret ({secret}) reached the logs");
    }
    // Nor any personal data of the day: consignees' streets and postcodes, signatories, phones.
    let personal = [
        "10 Bankside",
        "SE1 9TG",
        "3 Kirkstall Road",
        "LS3 1HS",
        "12 Ashbourne Road",
        "WA2 7NE",
        "20 Argyle Street",
        "R. Khan",
        "E. Novak",
        "T. Murphy",
        "S. Okafor",
        "H. Lindqvist",
        "+441332000000",
        "+441777700100",
        "Trade Counter",
    ];
    for value in personal {
        assert!(!text.contains(value), "personal data ({value}) reached the logs");
    }
}

/// The same day against a Nexus that has only what public code shows (the simulator's `seen`
/// profile, the bridge on the `seen` capabilities): booking, labels, import, status and POD download
/// happen through seen routes and fields alone; our stop events and ETAs are refused as not
/// supported and never reach Nexus.
#[tokio::test]
async fn the_demo_day_happens_on_a_nexus_with_only_the_seen_routes() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let summary = run_demo(DemoOptions {
        data_dir: Some(folder.path().join("demo")),
        output: Output::Quiet,
        nexus_profile: nexus_sim::Profile::Seen,
    })
    .await
    .expect("the demo starts");
    let table = summary.render();
    assert!(summary.passed(), "failed checks {:?}\n{table}", summary.failed_checks());
    assert_eq!(summary.booked.len(), 5, "{table}");
    assert!(
        summary.booked.iter().all(|b| b.pallets >= 1 && b.label_files >= 1),
        "barcodes from the create answer: {table}"
    );
    assert_eq!(summary.imported_booked_today, 5, "{table}");
    assert!(summary.scans_applied > 0 && summary.exceptions >= 2, "{table}");
    assert!(summary.documents_down >= 8, "{table}");
    assert_eq!(summary.documents_up, 0, "no upload route on this Nexus: {table}");
    assert_eq!(summary.etas_sent, 0, "no ETA route on this Nexus: {table}");
    assert!(table.contains("our collections not sent: no events route"), "{table}");
}
