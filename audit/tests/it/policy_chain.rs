//! The chain of applied policies, checked from `policy_applied` records alone: each link must
//! name the policy before it, have a higher version and carry enough signatures of the admins
//! of the policy before it.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::B256;
use signgate_audit::{
    policy_chain::{ChainError, check_chain, check_chain_from_records},
    record::{Caller, PolicyApplied},
};
use signgate_policy::{
    Policy, PolicyHash,
    cases::test_signing_key,
    governance::{ActivationError, PolicyStatement, sign_policy},
};

fn standard() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policy/tests/fixtures/policies/standard.toml"
    ))
    .unwrap()
}

fn applied(source: &str, version: u64, previous: PolicyHash, signers: &[&str]) -> PolicyApplied {
    let statement = PolicyStatement {
        version,
        replaces: previous,
        policy: PolicyHash::of(source),
    };
    PolicyApplied {
        policy_hash: statement.policy,
        name: "p".to_owned(),
        previous: Some(previous),
        admin_signatures: signers
            .iter()
            .map(|s| sign_policy(&test_signing_key(s), &statement))
            .collect(),
        caller: Caller {
            identity: "test".to_owned(),
            token: None,
        },
        version,
        source: Some(source.to_owned()),
        migrated: false,
    }
}

const AT: u64 = 1_740_830_400_000;

#[test]
fn a_chain_of_properly_signed_successors_verifies_and_each_break_is_named() {
    let v1 = standard();
    let v2 = v1.replace("limit = \"5000000\"", "limit = \"50000000\"");
    let v3 = v1.replace("limit = \"5000000\"", "limit = \"500000\"");
    let genesis = Policy::compile(&v1).unwrap();
    let r2 = applied(&v2, 2, PolicyHash::of(&v1), &["frank#0", "dave#0"]);
    let r3 = applied(&v3, 3, PolicyHash::of(&v2), &["dave#0", "erin#0"]);
    let chain = check_chain(&genesis, [(4, AT, &r2), (9, AT, &r3)]).unwrap();
    assert_eq!((chain.links, chain.head.hash()), (2, PolicyHash::of(&v3)));
    // Without the genesis policy the first record is taken as given, the rest checked.
    let (first, chain) = check_chain_from_records([(4, AT, &r2), (9, AT, &r3)])
        .unwrap()
        .unwrap();
    assert_eq!((first, chain.links), (4, 1));

    // One admin's signature and a throwaway key's: too few.
    let weak = applied(&v3, 3, PolicyHash::of(&v2), &["dave#0", "mallory#0"]);
    let err = check_chain(&genesis, [(4, AT, &r2), (9, AT, &weak)]).unwrap_err();
    assert!(
        matches!(
            &err,
            ChainError::Link {
                index: 9,
                source: ActivationError::NotEnoughSignatures {
                    have: 1,
                    need: 2,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    // v2 replayed after v3: version not above.
    let replay = applied(&v2, 2, PolicyHash::of(&v3), &["frank#0", "dave#0"]);
    let err = check_chain(&genesis, [(4, AT, &r2), (9, AT, &r3), (12, AT, &replay)]).unwrap_err();
    assert!(
        matches!(
            &err,
            ChainError::Link {
                index: 12,
                source: ActivationError::VersionNotAbove { .. },
                ..
            }
        ),
        "{err}"
    );
    // A fork: v4 naming v2 while v3 is in force.
    let fork = applied(&v1, 4, PolicyHash::of(&v2), &["frank#0", "dave#0"]);
    let err = check_chain(&genesis, [(4, AT, &r2), (9, AT, &r3), (12, AT, &fork)]).unwrap_err();
    assert!(
        matches!(
            &err,
            ChainError::Link {
                source: ActivationError::WrongPredecessor { .. },
                ..
            }
        ),
        "{err}"
    );
    // A record whose text is not the one its hash (and signatures) name.
    let mut swapped = r2.clone();
    swapped.source = Some(v3.clone());
    let err = check_chain(&genesis, [(4, AT, &swapped)]).unwrap_err();
    assert!(
        matches!(err, ChainError::HashMismatch { index: 4, .. }),
        "{err}"
    );
    // Against another genesis the first link fails.
    let other = Policy::compile(&v3).unwrap();
    assert!(check_chain(&other, [(4, AT, &r2)]).is_err());
    // A versioned record after one written before versions, with no migration between.
    let mut legacy = r2.clone();
    (legacy.version, legacy.source, legacy.previous) = (0, None, Some(PolicyHash(B256::ZERO)));
    let err = check_chain(&genesis, [(4, AT, &legacy), (9, AT, &r3)]).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::AfterLegacy {
                index: 9,
                legacy: 4
            }
        ),
        "{err}"
    );
}
