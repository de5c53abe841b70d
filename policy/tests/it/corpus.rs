//! The case corpus: every file under `tests/fixtures/cases/` is one proposal with the decision
//! it must get. One test walks them all and reports every failing case at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use std::path::{Path, PathBuf};

use signgate_policy::{
    Policy,
    cases::{Case, SignatureMode},
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Loads a case and its policy.
pub fn load(path: &Path) -> (Case, Policy) {
    let case = Case::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rel = case
        .policy
        .clone()
        .unwrap_or_else(|| "../policies/standard.toml".to_owned());
    let policy_path = path.parent().unwrap().join(rel);
    let policy = Policy::compile(&std::fs::read_to_string(&policy_path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", policy_path.display()));
    (case, policy)
}

/// Every case file, sorted.
pub fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_case_gets_its_expected_decision() {
    let files = case_files();
    assert!(files.len() >= 20, "the corpus lost cases: {}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let (case, policy) = load(path);
        let (evaluation, problems) = case.run(&policy, SignatureMode::TestKeys).unwrap();
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({}):\n  {}\n  decision: {}",
                path.file_name().unwrap().to_string_lossy(),
                case.description,
                problems.join("\n  "),
                signgate_policy::cases::render(&evaluation)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every rule's code appears in at least one case, so the corpus covers every rule.
#[test]
fn corpus_covers_every_deny_code() {
    let mut seen = std::collections::BTreeSet::new();
    for path in case_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let (case, _) = load(&path);
        seen.extend(case.expect.reasons.iter().cloned());
        seen.extend(case.expect.not_counted.iter().cloned());
        drop(text);
    }
    for code in [
        "sanctions.listed_address",
        "sanctions.cannot_screen",
        "upgrade.singleton_changed",
        "upgrade.implementation_changed",
        "delegatecall.not_allowlisted",
        "delegatecall.mutable_code",
        "simulation.failed",
        "simulation.mismatch",
        "refund.hidden_channel",
        "refund.above_cap",
        "intent.outside",
        "velocity.exceeded",
        "velocity.total_missing",
        "wallet.unknown",
        "asset.unknown",
        "tier.none",
        "initiator.unknown",
        "initiator.inactive",
        "initiator.not_on_wallet",
        "probation.initiator",
        "approval.rejected",
        "approval.foreign_proposal",
        "approval.invalid_signature",
        "approval.key_revoked",
        "approval.expired",
        "approval.operator_inactive",
        "approval.duplicate_operator",
        "approval.initiator",
        "approval.not_on_wallet",
        "approval.added_destination",
        "approval.probationary",
        "approval.stale",
    ] {
        assert!(seen.contains(code), "no case exercises {code}");
    }
}
