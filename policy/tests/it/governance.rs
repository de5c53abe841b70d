//! Governed policy changes: admin signatures over (version, predecessor, content hash).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use signgate_policy::{
    Policy, PolicyHash,
    cases::test_signing_key,
    governance::{
        ActivationError, GENESIS_VERSION, InForce, PolicyStatement, activate, sign_policy,
        verify_link,
    },
    time::Timestamp,
};

const NOW: Timestamp = Timestamp(1_740_830_400); // 2025-03-01T12:00:00Z

/// The predecessor named in tests of a first policy (nothing in force, so not compared).
const NONE: PolicyHash = PolicyHash(alloy_primitives::B256::ZERO);

fn first(hash: PolicyHash) -> PolicyStatement {
    PolicyStatement {
        version: 2,
        replaces: NONE,
        policy: hash,
    }
}

fn standard() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/policies/standard.toml"
    ))
    .unwrap()
}

#[test]
fn two_admins_activate_the_first_policy() {
    let src = standard();
    let hash = Policy::compile(&src).unwrap().hash();
    let sigs = [
        sign_policy(&test_signing_key("frank#0"), &first(hash)),
        sign_policy(&test_signing_key("dave#0"), &first(hash)),
    ];
    let p = activate(&src, 2, NONE, &sigs, None, NOW).unwrap();
    assert_eq!(p.hash(), hash);
}

#[test]
fn one_admin_or_a_non_admin_is_not_enough() {
    let src = standard();
    let hash = Policy::compile(&src).unwrap().hash();
    let sigs = [
        sign_policy(&test_signing_key("frank#0"), &first(hash)),
        sign_policy(&test_signing_key("alice#0"), &first(hash)),
    ];
    let err = activate(&src, 2, NONE, &sigs, None, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            ActivationError::NotEnoughSignatures {
                have: 1,
                need: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("is not a key of a policy admin"),
        "{err}"
    );
}

#[test]
fn a_signature_over_another_version_is_refused() {
    let src = standard();
    let changed = src.replace("limit = \"5000000\"", "limit = \"50000000\"");
    let old_hash = Policy::compile(&src).unwrap().hash();
    let sigs = [
        sign_policy(&test_signing_key("frank#0"), &first(old_hash)),
        sign_policy(&test_signing_key("dave#0"), &first(old_hash)),
    ];
    let err = activate(&changed, 2, NONE, &sigs, None, NOW).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not verify over this version, predecessor and content hash"),
        "{err}"
    );
}

#[test]
fn the_policy_in_force_decides_who_may_change_it() {
    let current = Policy::compile(&standard()).unwrap();
    // The new file names alice as sole admin with threshold 1; her signature is still judged
    // by the admins in force, so it does not count.
    let grab = standard().replace(
        "admins = [\"frank\", \"dave\", \"erin\"]\nthreshold = 2",
        "admins = [\"alice\"]\nthreshold = 1",
    );
    let hash = Policy::compile(&grab).unwrap().hash();
    let statement = PolicyStatement {
        version: 2,
        replaces: current.hash(),
        policy: hash,
    };
    let sigs = [sign_policy(&test_signing_key("alice#0"), &statement)];
    assert!(
        activate(&grab, 2, current.hash(), &sigs, None, NOW).is_ok(),
        "bootstrap would accept it"
    );
    let in_force = InForce {
        policy: &current,
        version: GENESIS_VERSION,
    };
    assert!(activate(&grab, 2, current.hash(), &sigs, Some(in_force), NOW).is_err());
}

/// v1 (genesis) → v2 → v3: v2's signatures cannot bring v2 back after v3, neither as they are
/// (version not above) nor relabelled as v4 (they do not verify over that statement); a
/// statement naming another predecessor is refused before any signature is counted.
#[test]
fn an_old_policy_cannot_be_replayed_and_the_chain_links() {
    let v1 = Policy::compile(&standard()).unwrap();
    let v2_src = standard().replace("limit = \"5000000\"", "limit = \"50000000\"");
    let v3_src = standard().replace("limit = \"5000000\"", "limit = \"500000\"");
    let admins = ["frank#0", "dave#0"];
    let sign = |s: &PolicyStatement| -> Vec<_> {
        admins
            .iter()
            .map(|a| sign_policy(&test_signing_key(a), s))
            .collect()
    };
    let s2 = PolicyStatement {
        version: 2,
        replaces: v1.hash(),
        policy: PolicyHash::of(&v2_src),
    };
    let sigs2 = sign(&s2);
    let at_v1 = InForce {
        policy: &v1,
        version: GENESIS_VERSION,
    };
    let v2 = activate(&v2_src, 2, v1.hash(), &sigs2, Some(at_v1), NOW).unwrap();
    verify_link(at_v1, &s2, &sigs2, NOW).unwrap();
    let s3 = PolicyStatement {
        version: 3,
        replaces: v2.hash(),
        policy: PolicyHash::of(&v3_src),
    };
    let at_v2 = InForce {
        policy: &v2,
        version: 2,
    };
    let v3 = activate(&v3_src, 3, v2.hash(), &sign(&s3), Some(at_v2), NOW).unwrap();
    let at_v3 = InForce {
        policy: &v3,
        version: 3,
    };
    let err = activate(&v2_src, 2, v1.hash(), &sigs2, Some(at_v3), NOW).unwrap_err();
    assert!(
        matches!(
            err,
            ActivationError::VersionNotAbove {
                version: 2,
                in_force: 3
            }
        ),
        "{err}"
    );
    let err = activate(&v2_src, 4, v3.hash(), &sigs2, Some(at_v3), NOW).unwrap_err();
    assert!(
        matches!(err, ActivationError::NotEnoughSignatures { have: 0, .. }),
        "{err}"
    );
    // Properly signed, but for a chain where v2 was never replaced by v3.
    let fork = PolicyStatement {
        version: 4,
        replaces: v2.hash(),
        policy: PolicyHash::of(&v2_src),
    };
    let err = activate(&v2_src, 4, v2.hash(), &sign(&fork), Some(at_v3), NOW).unwrap_err();
    assert!(
        matches!(err, ActivationError::WrongPredecessor { .. }),
        "{err}"
    );
    assert!(verify_link(at_v3, &fork, &sign(&fork), NOW).is_err());
}

#[test]
fn the_same_admin_twice_counts_once() {
    let src = standard();
    let hash = Policy::compile(&src).unwrap().hash();
    let s = sign_policy(&test_signing_key("frank#0"), &first(hash));
    let err = activate(&src, 2, NONE, &[s.clone(), s], None, NOW).unwrap_err();
    assert!(err.to_string().contains("each admin counts once"), "{err}");
}

#[test]
fn load_time_validation_refuses_bad_files() {
    let src = standard();
    for (from, to, needle) in [
        (
            "name = \"acme-custody\"",
            "name = \"acme-custody\"\ncolour = \"blue\"",
            "unknown field",
        ),
        (
            "approvals = { treasury = 1, security = 1 }",
            "approvals = { treasury = 1, securty = 1 }",
            "which no operator holds",
        ),
        (
            "actions = [\"permission_change\"]\napprovals = { treasury = 2, security = 1 }",
            "actions = [\"permission_change\"]\napprovals = { treasury = 2 }",
            "does not require role `security`",
        ),
        ("threshold = 2", "threshold = 4", "cannot be met"),
        (
            "added_by = \"alice\"",
            "added_by = \"nobody\"",
            "who is not declared",
        ),
        (
            "actions = [\"module_transaction\"]",
            "actions = [\"module_tx\"]",
            "names action `module_tx`",
        ),
    ] {
        assert!(src.contains(from), "fixture changed: {from}");
        let err = Policy::compile(&src.replacen(from, to, 1)).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}
