//! The `/_sim/` harness endpoints and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Sim, booking, http_client, id_of};

#[tokio::test]
async fn the_clock_starts_at_the_documented_time_and_moves_only_forward() {
    let sim = Sim::start().await;
    let (status, clock) = sim.admin_get("clock").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clock["now"], "2026-06-17T09:00:00");
    assert_eq!(clock["timeZone"], "Europe/London");
    let (_, clock) = sim.admin_post("clock", &json!({ "advance": "PT6H" })).await;
    assert_eq!(clock["now"], "2026-06-17T15:00:00");
    assert!(clock["actionsApplied"].as_u64().unwrap() > 0, "six hours of a working day move pallets");
    let (_, clock) = sim.admin_post("clock", &json!({ "advance": "1d 30m" })).await;
    assert_eq!(clock["now"], "2026-06-18T15:30:00");
    let (status, problem) = sim.admin_post("clock", &json!({ "now": "2026-06-17T10:00:00" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _) = sim.admin_post("clock", &json!({ "advance": "soon" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sim.admin_post("clock", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sim.handle().now().to_string(), "2026-06-18T15:30:00");
}

#[tokio::test]
async fn a_day_across_the_autumn_clock_change_is_twenty_five_hours() {
    let sim = Sim::start().await;
    sim.handle().set_now("2026-10-24T12:00:00".parse().unwrap()).unwrap();
    let (_, clock) = sim.admin_post("clock", &json!({ "advance": "P1D" })).await;
    assert_eq!(clock["now"], "2026-10-25T12:00:00");
}

#[tokio::test]
async fn step_through_the_admin_api() {
    let sim = Sim::start().await;
    let id = id_of(&sim.book("pgd302.api", &booking()).await);
    let (status, c) = sim.admin_post("step", &json!({ "consignmentID": id, "stage": "Out for Delivery" })).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"]["id"], 90);
    assert!(c["scansApplied"].as_u64().unwrap() >= 7);
    let (status, _) = sim.admin_post("step", &json!({ "consignmentID": id, "stage": "COL" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = sim.admin_post("step", &json!({ "consignmentID": id, "stage": "teleported" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sim.admin_post("step", &json!({ "consignmentID": 1, "stage": "DEL" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, c) = sim.admin_post("step", &json!({ "consignmentID": id, "stage": "100" })).await;
    assert_eq!((status, &c["status"]["name"]), (StatusCode::OK, &json!("Delivered")));
}

#[tokio::test]
async fn the_world_lists_users_customers_depots_and_the_optimize_key() {
    let sim = Sim::start().await;
    let (status, world) = sim.admin_get("world").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(world["optimizeKey"], "sim-optimize-key-0001");
    assert_eq!(world["optimizeKeyHeader"], "X-Optimize-Key");
    let depots: Vec<&str> = world["depots"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    for prefix in ["PGD", "UKD", "FTD"] {
        assert!(depots.iter().any(|d| d.starts_with(prefix)), "{prefix}");
    }
    let users = world["users"].as_array().unwrap();
    assert!(users.iter().any(|u| u["username"] == "pgd302.api" && u["password"] == "Sim!PGD302"));
    let networks: Vec<&str> =
        world["customers"].as_array().unwrap().iter().map(|c| c["network"].as_str().unwrap()).collect();
    assert!(networks.contains(&"PALLEX") && networks.contains(&"FORTEC"));
    assert_eq!(world["statusCounts"].as_object().unwrap().len(), 15, "every stage");
    let (status, index) = sim.admin_get("").await;
    assert_eq!(status, StatusCode::OK);
    assert!(index["endpoints"].as_array().unwrap().len() > 10);
}

#[tokio::test]
async fn the_driver_settings_and_a_reset() {
    let sim = Sim::start().await;
    let (status, driver) = sim
        .admin_post("driver", &json!({ "manualDepots": ["pgd302"], "failedDeliveryPercent": 0, "exceptionPercent": 0 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(driver["manualDepots"], json!(["PGD302"]));
    assert_eq!(driver["failedDeliveryPercent"], 0);
    let (status, _) = sim.admin_post("driver", &json!({ "failedDeliveryPercent": 101 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sim.book("pgd302.api", &booking()).await;
    sim.handle().set_outage(true);
    let (status, clock) = sim.admin_post("reset", &json!({})).await;
    assert_eq!((status, &clock["now"]), (StatusCode::OK, &json!("2026-06-17T09:00:00")));
    let (_, world) = sim.admin_get("world").await;
    assert_eq!(world["consignments"].as_array().unwrap().len(), 19, "the booking is gone");
    assert!(!sim.handle().faults_now().outage.eq(&nexus_sim::FaultSwitch::On));
    let (_, driver) = sim.admin_get("driver").await;
    assert_eq!(driver["manualDepots"], json!([]));
}

#[test]
fn the_binary_explains_the_admin_endpoints() {
    let output = Command::new(env!("CARGO_BIN_EXE_nexus-sim")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for text in ["--port", "--seed", "/_sim/clock", "/_sim/faults", "/_sim/requests", "/_sim/step"] {
        assert!(help.contains(text), "--help lacks {text}");
    }
}

#[test]
fn the_binary_prints_the_default_seed() {
    let output = Command::new(env!("CARGO_BIN_EXE_nexus-sim")).arg("--print-default-seed").output().unwrap();
    let seed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seed["clock"], "2026-06-17T09:00:00");
}

#[tokio::test]
async fn the_binary_serves_the_default_world_on_the_given_port() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus-sim"))
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains(&format!("http://127.0.0.1:{port}/v1/")), "{line}");
    let http = http_client();
    let login = http
        .post(format!("http://127.0.0.1:{port}/v1/Account/login"))
        .json(&json!({ "username": "pgd302.api", "password": "Sim!PGD302" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let world: serde_json::Value =
        http.get(format!("http://127.0.0.1:{port}/_sim/world")).send().await.unwrap().json().await.unwrap();
    assert_eq!(world["consignments"].as_array().unwrap().len(), 19);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_binary_loads_a_seed_file_and_refuses_a_bad_one() {
    let directory = std::env::temp_dir().join(format!("nexus-sim-seed-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let mut seed: serde_json::Value = serde_json::from_str(nexus_sim::WorldSeed::default_world_json()).unwrap();
    seed["consignments"] = json!([]);
    seed["clock"] = json!("2026-12-01T08:00:00");
    let good = directory.join("empty.json");
    std::fs::write(&good, seed.to_string()).unwrap();
    let loaded = nexus_sim::WorldSeed::from_file(&good).unwrap();
    assert_eq!(loaded.clock(), "2026-12-01T08:00:00");
    let running = nexus_sim::NexusSim::start(nexus_sim::SimOptions::default().seed(loaded)).await.unwrap();
    assert_eq!(running.handle().now().to_string(), "2026-12-01T08:00:00");
    assert!(running.handle().consignment_json(10001).is_none());

    seed["depots"][0]["code"] = json!("XYZ1");
    let bad = directory.join("bad.json");
    std::fs::write(&bad, seed.to_string()).unwrap();
    let output =
        Command::new(env!("CARGO_BIN_EXE_nexus-sim")).args(["--port", "0", "--seed"]).arg(&bad).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("XYZ1"));
    std::fs::remove_dir_all(&directory).unwrap();
}

/// The README documents these; demos and the local bridge rely on them.
#[tokio::test]
async fn the_default_world_is_the_documented_one() {
    let sim = Sim::start().await;
    let (_, world) = sim.admin_get("world").await;
    let rows: Vec<String> = world["consignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}>{}>{}",
                c["consignmentID"],
                c["consignmentNumber"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["requestingDepotCode"].as_str().unwrap(),
                c["collectingDepotCode"].as_str().unwrap(),
                c["deliveryDepotCode"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "10001 PT-50090 RTN PGD302>PGD302>UKD330",
            "10002 PT-50101 DEL PGD302>PGD302>UKD330",
            "10003 TK-88120 DLX UKD101>UKD101>UKD205",
            "10004 DD-3301 DEL FTD118>FTD118>PGD302",
            "10005 PT-F-20011 DEL PGD302>PGD302>FTD118",
            "10006 DD-3320 NDL FTD118>FTD118>PGD302",
            "10007 PT-50120 AHB PGD302>PGD302>UKD205",
            "10008 TK-88131 DHB UKD101>UKD101>PGD302",
            "10009 DD-3315 ADD FTD118>FTD118>PGD302",
            "10010 PP-4410 HLD UKD330>UKD330>PGD302",
            "10011 PT-50131 OFD PGD302>PGD302>UKD101",
            "10012 TK-88140 CAN UKD101>UKD101>UKD101",
            "10013 SG-2201 THB UKD205>UKD205>PGD302",
            "10014 PT-F-20030 ACD PGD302>PGD302>FTD118",
            "10015 DD-3331 COL FTD118>FTD118>FTD240",
            "10016 PT-50140 BKD PGD302>PGD302>UKD101",
            "10017 TK-88150 MAN UKD101>UKD101>PGD302",
            "10018 PT-F-20031 BKD PGD302>PGD302>FTD118",
            "10019 PT-50141 BKD PGD302>PGD302>UKD330",
        ]
    );
    let customers: Vec<String> = world["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["customerID"], c["network"].as_str().unwrap(), c["depotCode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        customers,
        [
            "52011 PALLEX UKD101",
            "55120 PALLEX UKD330",
            "60233 PALLEX UKD205",
            "64086 PALLEX PGD302",
            "71520 FORTEC PGD302",
            "83007 FORTEC FTD118",
            "88410 FORTEC FTD240"
        ]
    );
}
