//! Replay: the recorded policy changes nothing; a stricter one reports what it would deny.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use signgate_audit::{AuditRecord, replay::replay, story::story};
use signgate_policy::{Decision, Policy};

use super::{
    memory::MemoryLog,
    realistic::{audit_key, run_server, standard_source},
};

fn records() -> (Vec<AuditRecord>, Vec<String>) {
    let mut memory = MemoryLog::new(audit_key());
    let ids = run_server(&mut memory, 1_000, usize::MAX);
    (
        memory
            .leaves()
            .iter()
            .map(|b| AuditRecord::from_bytes(b).unwrap())
            .collect(),
        ids,
    )
}

#[test]
fn replay_under_the_recorded_policy_changes_nothing() {
    let (records, _) = records();
    let report = replay(&records, &Policy::compile(&standard_source()).unwrap());
    assert!(report.evaluated > 40);
    assert!(report.changed.is_empty(), "{:?}", report.changed);
}

#[test]
fn a_stricter_velocity_limit_reports_the_proposals_it_would_deny() {
    let (records, _) = records();
    let strict = standard_source().replace(
        "wallet = \"treasury\"\nasset = \"USDC\"\nwindow_hours = 24\nlimit = \"5000000\"",
        "wallet = \"treasury\"\nasset = \"USDC\"\nwindow_hours = 24\nlimit = \"1000\"",
    );
    assert_ne!(
        strict,
        standard_source(),
        "the fixture's velocity block moved"
    );
    let report = replay(&records, &Policy::compile(&strict).unwrap());
    let denied: Vec<&str> = report
        .newly_denied()
        .map(|c| c.proposal_id.as_str())
        .collect();
    assert!(denied.contains(&"approved-production-usdc"), "{denied:?}");
    assert_eq!(report.newly_approved().count(), 0);
    for c in report.newly_denied() {
        let Decision::Deny { reasons } = &c.candidate else {
            unreachable!()
        };
        assert!(
            reasons.codes().iter().any(|code| code.contains("velocity")),
            "{c}"
        );
    }
}

#[test]
fn show_tells_one_proposal_in_words() {
    let (records, _) = records();
    let s = story(&records, "approved-production-usdc").unwrap();
    for needle in [
        "alice proposed",
        "bob approved",
        "carol approved",
        "APPROVED",
        "release ticket",
        "Signatures by 2 owner(s)",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
    assert!(story(&records, "no-such-proposal").is_none());
}
