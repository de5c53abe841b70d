//! Reports and snapshot files are stable data: the Bybit report as an insta JSON snapshot, the
//! report's serde round trip, and the Bybit state as a snapshot file naming Safe fixtures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use signgate_simulator::{
    SafeVersion,
    evm::{Snapshot, simulate_with},
    report::SimulationReport,
};

use crate::evm_bybit::{bybit, bybit_options, bybit_state};

const BYBIT_SNAPSHOT_FILE: &str = include_str!("../fixtures/evm/bybit-snapshot.json");

fn bybit_report(state: &Snapshot) -> SimulationReport {
    let b = bybit();
    simulate_with(
        state,
        b.chain_id,
        b.safe,
        SafeVersion::V1_1_1,
        &b.tx,
        Some(&b.signatures),
        &bybit_options(&b),
    )
    .unwrap()
}

#[test]
fn bybit_report_snapshot() {
    let report = bybit_report(&bybit_state(&bybit()));
    insta::assert_json_snapshot!("bybit_report", report);
    let json = serde_json::to_string(&report).unwrap();
    let back: SimulationReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn bybit_snapshot_file_names_fixtures_and_simulates_identically() {
    let built = bybit_state(&bybit());
    let file = built.to_file();
    let json = serde_json::to_string_pretty(&file).unwrap() + "\n";
    assert_eq!(
        json, BYBIT_SNAPSHOT_FILE,
        "regenerate tests/fixtures/evm/bybit-snapshot.json"
    );
    assert!(json.contains("\"codeFixture\": \"v1.1.1/GnosisSafe\""));
    let loaded = Snapshot::from_json(BYBIT_SNAPSHOT_FILE).unwrap();
    assert_eq!(bybit_report(&loaded), bybit_report(&built));
}

#[test]
fn snapshot_files_fail_closed() {
    let unknown =
        r#"{"accounts":{"0x0000000000000000000000000000000000000001":{"codeFixture":"v9/Nope"}}}"#;
    assert!(Snapshot::from_json(unknown).is_err());
    let extra = r#"{"accounts":{},"surprise":1}"#;
    assert!(Snapshot::from_json(extra).is_err());
}
