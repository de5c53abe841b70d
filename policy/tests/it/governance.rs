//! Governed policy changes: admin signatures over the content hash.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use signgate_policy::{
    Policy,
    cases::test_signing_key,
    governance::{ActivationError, activate, sign_policy},
    time::Timestamp,
};

const NOW: Timestamp = Timestamp(1_740_830_400); // 2025-03-01T12:00:00Z

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
        sign_policy(&test_signing_key("frank#0"), hash),
        sign_policy(&test_signing_key("dave#0"), hash),
    ];
    let p = activate(&src, &sigs, None, NOW).unwrap();
    assert_eq!(p.hash(), hash);
}

#[test]
fn one_admin_or_a_non_admin_is_not_enough() {
    let src = standard();
    let hash = Policy::compile(&src).unwrap().hash();
    let sigs = [
        sign_policy(&test_signing_key("frank#0"), hash),
        sign_policy(&test_signing_key("alice#0"), hash),
    ];
    let err = activate(&src, &sigs, None, NOW).unwrap_err();
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
        sign_policy(&test_signing_key("frank#0"), old_hash),
        sign_policy(&test_signing_key("dave#0"), old_hash),
    ];
    let err = activate(&changed, &sigs, None, NOW).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not verify over this content hash"),
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
    let sigs = [sign_policy(&test_signing_key("alice#0"), hash)];
    assert!(
        activate(&grab, &sigs, None, NOW).is_ok(),
        "bootstrap would accept it"
    );
    assert!(activate(&grab, &sigs, Some(&current), NOW).is_err());
}

#[test]
fn the_same_admin_twice_counts_once() {
    let src = standard();
    let hash = Policy::compile(&src).unwrap().hash();
    let s = sign_policy(&test_signing_key("frank#0"), hash);
    let err = activate(&src, &[s.clone(), s], None, NOW).unwrap_err();
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
