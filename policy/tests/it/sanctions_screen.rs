//! Screening and snapshot updates: hits with their paths, case-insensitivity, failing closed on
//! stale, missing, empty, truncated or mis-checksummed lists, and the Tornado Cash delisting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed fixture read is a failed test"
)]

use std::time::Duration;

use alloy_primitives::Address;
use alloy_primitives::{U256, aliases::U48, aliases::U160};
use alloy_sol_types::SolCall;
use signgate_policy::sanctions::{
    ListAction, ListCategory, ListFormat, ListInput, ListLoadError, ListSlot, ListSpec,
    ParseLimits, SanctionsSnapshot, ScreeningOutcome, ScreeningProblem, ScreeningSubject,
    Sha256Digest, UpdateOutcome, load_list, parse_evm_address, screen, screen_subjects,
};
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{IERC20, IMultiSend, IPermit2},
    decode::{ActionPath, AddressRole, BatchEntry, Involvement, decode_transaction, encode_batch},
    deployments::{self, PERMIT2, SafeContract},
};

use crate::sanctions_support::*;

const LAZARUS: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";

fn addr(text: &str) -> Address {
    parse_evm_address(text).unwrap().0
}

fn involvement(
    address: Address,
    role: AddressRole,
    path: &[usize],
    function: &'static str,
) -> Involvement {
    Involvement {
        address,
        role,
        path: ActionPath(path.to_vec()),
        function,
    }
}

fn excerpt_snapshot() -> SanctionsSnapshot {
    let (snapshot, diff) =
        SanctionsSnapshot::new(Vec::new()).with_list(load_ofac(&read(EXCERPT_2025_11_19), t0()));
    // Lazarus 8, Sim Hyon Sop 1, Kim Sang Man 2, Sokolovski Rolan 3 unique EVM addresses.
    assert_eq!(diff.added.len(), 14);
    snapshot
}

#[test]
fn lazarus_is_found_in_a_nested_multisend_as_permit2_spender_and_as_refund_receiver() {
    let snapshot = excerpt_snapshot();
    let lazarus = addr(LAZARUS);
    let clean = addr("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    let involvements = vec![
        involvement(
            addr("0x40A2aCCbd92BCA938b02010E17A5b8929b49130D"),
            AddressRole::DelegatecallTarget,
            &[],
            "execTransaction",
        ),
        involvement(clean, AddressRole::CallTarget, &[0], "transfer"),
        involvement(clean, AddressRole::CallTarget, &[1, 0], "transfer"),
        involvement(lazarus, AddressRole::Recipient, &[1, 0], "transfer"),
        involvement(lazarus, AddressRole::Spender, &[2], "permit"),
        involvement(lazarus, AddressRole::RefundReceiver, &[], "execTransaction"),
    ];
    let outcome = screen(
        &snapshot,
        &involvements,
        &[],
        t0() + Duration::from_secs(60),
    );
    let ScreeningOutcome::Screened {
        hits,
        subjects,
        snapshot_id,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(*subjects, 6);
    assert_eq!(*snapshot_id, snapshot.id());
    let places: Vec<String> = hits.iter().map(|h| h.location.to_string()).collect();
    assert_eq!(
        places,
        [
            "multiSend[1] → multiSend[0] → transfer.recipient",
            "multiSend[2] → permit.spender",
            "tx → execTransaction.refund receiver",
        ]
    );
    for hit in hits {
        assert_eq!(hit.action(), ListAction::Deny);
        let m = &hit.matches[0];
        assert_eq!(
            (m.uid.as_deref(), m.name.as_deref()),
            (Some("27307"), Some("Lazarus Group"))
        );
        assert_eq!(m.label.as_deref(), Some("Digital Currency Address - ETH"));
        assert_eq!(m.list.as_str(), "ofac-sdn");
        assert_eq!(m.listed_as, LAZARUS);
        assert_eq!(m.snapshot_id, snapshot.id());
        assert_eq!(
            m.list_sha256,
            snapshot
                .slots()
                .iter()
                .find_map(|s| match s {
                    ListSlot::Loaded(l) => Some(l.sha256()),
                    _ => None,
                })
                .unwrap()
        );
    }
    let text = hits[0].to_string();
    assert!(
        text.contains("UID 27307 Lazarus Group, Digital Currency Address - ETH"),
        "{text}"
    );
}

fn multisend(entries: &[(Operation, Address, Vec<u8>)]) -> Vec<u8> {
    let transactions = encode_batch(entries.iter().map(|(operation, to, data)| BatchEntry {
        operation: *operation,
        to: *to,
        value: U256::ZERO,
        data,
    }));
    IMultiSend::multiSendCall {
        transactions: transactions.into(),
    }
    .abi_encode()
}

#[test]
fn lazarus_is_found_through_the_real_decoder() {
    let snapshot = excerpt_snapshot();
    // Spelled in lower case everywhere: the list has it mixed-case.
    let lazarus = addr("0x098b716b8aaf21512996dc57eb0615e2383e2f96");
    let bob = addr("0xb0b0000000000000000000000000000000000002");
    let token = addr("0xdAC17F958D2ee523a2206206994597C13D831ec7");
    let multi_send = deployments::canonical(SafeContract::MultiSend, SafeVersion::V1_3_0).unwrap();
    let transfer = |to| {
        IERC20::transferCall {
            to,
            amount: U256::from(5),
        }
        .abi_encode()
    };
    let inner = multisend(&[(Operation::Call, token, transfer(lazarus))]);
    let approve = IPermit2::approveCall {
        token,
        spender: lazarus,
        amount: U160::from(5),
        expiration: U48::from(9),
    }
    .abi_encode();
    let outer = multisend(&[
        (Operation::Call, token, transfer(bob)),
        (Operation::DelegateCall, multi_send, inner),
        (Operation::Call, PERMIT2, approve),
    ]);
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        refund_receiver: lazarus,
        ..SafeTx::call(multi_send, U256::ZERO, outer.into(), U256::ZERO)
    };
    let ctx = SafeContext {
        chain_id: 1,
        safe: addr("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe"),
        version: SafeVersion::V1_3_0,
    };
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    let outcome = screen(&snapshot, &decoded.involvements(), &[], t0());
    let ScreeningOutcome::Screened { hits, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    let places: Vec<String> = hits.iter().map(|h| h.location.to_string()).collect();
    assert_eq!(places.len(), 3, "{places:?}");
    assert!(
        places[0].starts_with("multiSend[1] → multiSend[0] → transfer.recipient"),
        "{places:?}"
    );
    assert!(
        places[1].starts_with("multiSend[2] → ") && places[1].ends_with(".spender"),
        "{places:?}"
    );
    assert_eq!(places[2], "tx → execTransaction.refund receiver");
    assert!(
        hits.iter()
            .all(|h| h.matches[0].uid.as_deref() == Some("27307"))
    );
}

#[test]
fn mixed_case_lowercase_and_uppercase_spellings_all_hit() {
    let snapshot = excerpt_snapshot();
    // Listed mixed-case (Lazarus) and listed lower-case (Sim Hyon Sop), queried in other cases.
    for text in [
        LAZARUS,
        "0x098b716b8aaf21512996dc57eb0615e2383e2f96",
        "0x098B716B8AAF21512996DC57EB0615E2383E2F96",
        "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",
        "0x4F47BC496083C727C5FBE3CE9CDF2B0F6496270C",
    ] {
        let a = addr(text);
        assert!(snapshot.is_listed(&a), "{text}");
        let outcome = screen_subjects(
            &snapshot,
            &[ScreeningSubject::simulation(a, "Transfer log topic 2")],
            t0(),
        );
        assert_eq!(outcome.hits().len(), 1, "{text}");
        assert_eq!(
            outcome.hits()[0].location.to_string(),
            "simulation: Transfer log topic 2"
        );
    }
    // Sim Hyon Sop's one address is listed under three labels: three matches.
    assert_eq!(
        snapshot
            .lookup(&addr("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c"))
            .len(),
        3
    );
}

#[test]
fn stale_future_unavailable_and_missing_lists_cannot_screen() {
    let snapshot = excerpt_snapshot();
    let lazarus = [ScreeningSubject::simulation(addr(LAZARUS), "call target")];
    let clean = [ScreeningSubject::simulation(
        addr("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        "call target",
    )];
    let max_age = ofac_spec().max_age;

    // Exactly at the maximum age: still fresh. One second later: stale, for clean and listed alike.
    assert!(screen_subjects(&snapshot, &clean, t0() + max_age).is_clear());
    for subjects in [&clean, &lazarus] {
        let outcome = screen_subjects(&snapshot, subjects, t0() + max_age + Duration::from_secs(1));
        let ScreeningOutcome::CannotScreen { problems, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(matches!(problems[0], ScreeningProblem::Stale { .. }));
        assert!(!outcome.is_clear());
    }
    // Hits on a stale list are still reported alongside the problem.
    assert_eq!(
        screen_subjects(&snapshot, &lazarus, t0() + max_age * 2)
            .hits()
            .len(),
        1
    );

    // A clock that moved back: the age is unknown.
    let outcome = screen_subjects(&snapshot, &clean, t0() - Duration::from_secs(1));
    assert!(
        matches!(&outcome, ScreeningOutcome::CannotScreen { problems, .. } if matches!(problems[0], ScreeningProblem::LoadedInFuture { .. }))
    );

    // A configured list that never loaded, next to a fresh one.
    let fbi = ListSpec::new(
        "fbi-bybit",
        "IC3 PSA 250226",
        ListCategory::LawEnforcement,
        ListAction::Escalate,
        ListFormat::Plain,
        max_age,
    )
    .unwrap();
    let mut slots = snapshot.slots().to_vec();
    slots.push(ListSlot::Unavailable {
        spec: fbi,
        reason: "file not found".into(),
    });
    let partial = SanctionsSnapshot::new(slots);
    assert!(matches!(
        screen_subjects(&partial, &clean, t0()),
        ScreeningOutcome::CannotScreen { .. }
    ));

    // No lists at all.
    let none = SanctionsSnapshot::new(Vec::new());
    let outcome = screen_subjects(&none, &clean, t0());
    assert!(
        matches!(&outcome, ScreeningOutcome::CannotScreen { problems, .. } if problems == &[ScreeningProblem::NoLists])
    );
}

#[test]
fn failed_updates_keep_the_previous_snapshot() {
    let before = excerpt_snapshot();
    let spec = ofac_spec();
    let limits = ParseLimits::default();
    let later = t0() + Duration::from_secs(3600);
    let excerpt = read(EXCERPT_2025_11_19);
    let truncated = &excerpt[..excerpt.len() / 2];
    let attempts: Vec<Result<_, ListLoadError>> = vec![
        load_list(&spec, ListInput::Single(&b""[..]), None, later, &limits),
        load_list(&spec, ListInput::Single(truncated), None, later, &limits),
        load_list(
            &spec,
            ListInput::Single(&read(TORNADO_2025_03_04)[..]),
            Some(Sha256Digest([7; 32])),
            later,
            &limits,
        ),
    ];
    for attempt in attempts {
        let outcome = before.apply_update(attempt);
        let UpdateOutcome::Rejected { error } = outcome else {
            panic!("accepted: {outcome:?}")
        };
        assert_eq!(error.list().as_str(), "ofac-sdn");
    }
    // `before` is untouched: still screens, still hits.
    assert!(before.is_listed(&addr(LAZARUS)));
    assert!(before.problems(t0()).is_empty());

    // The right checksum is accepted.
    let sha = "36c517bd264d8d97eff353eadd8d84427d5eb293505a8ce07271a5bc258c3117"
        .parse()
        .unwrap();
    let full = load_list(
        &spec,
        ListInput::Single(full_sdn_reader()),
        Some(sha),
        later,
        &limits,
    );
    assert!(matches!(
        before.apply_update(full),
        UpdateOutcome::Accepted { .. }
    ));
}

#[test]
fn tornado_cash_delisting_removes_90_addresses_and_they_stop_hitting() {
    let tornado_addresses =
        address_lines("uid39796_eth_addresses_as_listed_2025-03-04_delisted_2025-03-21.txt");
    let (march, _) =
        SanctionsSnapshot::new(Vec::new()).with_list(load_ofac(&read(TORNADO_2025_03_04), t0()));
    let subjects: Vec<ScreeningSubject> = tornado_addresses
        .iter()
        .map(|a| ScreeningSubject::simulation(*a, "call target"))
        .collect();
    assert_eq!(screen_subjects(&march, &subjects, t0()).hits().len(), 90);

    let later = t0() + Duration::from_secs(3600);
    let update = load_list(
        &ofac_spec(),
        ListInput::Single(full_sdn_reader()),
        None,
        later,
        &ParseLimits::default(),
    );
    let UpdateOutcome::Accepted {
        snapshot: november,
        diff,
    } = march.apply_update(update)
    else {
        panic!()
    };
    assert_eq!(diff.removed.len(), 90);
    assert_eq!(
        diff.removed
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        tornado_addresses
    );
    assert_eq!(diff.added.len(), 81);
    assert_ne!(march.id(), november.id());
    let outcome = screen_subjects(&november, &subjects, later);
    assert!(outcome.is_clear(), "{outcome:?}");
    // Roman Semenov (UID 44718) stays listed.
    assert!(november.is_listed(&addr("0xdcbEfFBECcE100cCE9E4b153C4e15cB885643193")));
}
