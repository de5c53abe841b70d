//! Issue 3, test 3: a MultiSend 1.3.0 batch (DELEGATECALL) with three token transfers, one in a
//! nested batch; every movement appears with its path in the call tree.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use signgate_simulator::{
    Operation,
    abi::IERC20,
    report::{CallKind, Outcome, SafeSlot, TokenEventKind},
};

use crate::support::{Lab, RECIPIENT, RECIPIENT_2, RECIPIENT_3, V130, multisend};

fn transfer(to: Address, amount: u64) -> Bytes {
    IERC20::transferCall {
        to,
        amount: U256::from(amount),
    }
    .abi_encode()
    .into()
}

#[test]
fn nested_multisend_transfers_appear_with_their_paths() {
    let mut lab = Lab::new(V130, 2, 2);
    let ms = lab.world.place_canonical("v1.3.0", "MultiSend");
    let inner = multisend(&[(
        Operation::Call,
        lab.token,
        U256::ZERO,
        transfer(RECIPIENT_3, 3),
    )]);
    let outer = multisend(&[
        (
            Operation::Call,
            lab.token,
            U256::ZERO,
            transfer(RECIPIENT, 1),
        ),
        (
            Operation::Call,
            lab.token,
            U256::ZERO,
            transfer(RECIPIENT_2, 2),
        ),
        (Operation::DelegateCall, ms, U256::ZERO, inner),
    ]);
    let tx = lab.tx(ms, U256::ZERO, outer, Operation::DelegateCall);
    let report = lab.simulate(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");

    let moves: Vec<_> = report
        .token_events
        .iter()
        .map(|e| (e.token, e.event.clone()))
        .collect();
    let t = |to, v: u64| {
        (
            lab.token,
            TokenEventKind::Erc20Transfer {
                from: lab.safe,
                to,
                value: U256::from(v),
            },
        )
    };
    assert_eq!(
        moves,
        vec![t(RECIPIENT, 1), t(RECIPIENT_2, 2), t(RECIPIENT_3, 3)]
    );

    let path = |frame: usize| -> Vec<(CallKind, Address)> {
        report
            .path_to(frame)
            .iter()
            .map(|id| (report.calls[*id].kind, report.calls[*id].code_address))
            .collect()
    };
    let singleton = report.singleton;
    let direct = vec![
        (CallKind::Call, lab.safe),
        (CallKind::DelegateCall, singleton),
        (CallKind::DelegateCall, ms),
        (CallKind::Call, lab.token),
    ];
    assert_eq!(path(report.token_events[0].frame), direct);
    assert_eq!(path(report.token_events[1].frame), direct);
    let nested = vec![
        (CallKind::Call, lab.safe),
        (CallKind::DelegateCall, singleton),
        (CallKind::DelegateCall, ms),
        (CallKind::DelegateCall, ms),
        (CallKind::Call, lab.token),
    ];
    assert_eq!(path(report.token_events[2].frame), nested);
    // Both MultiSend frames ran in the Safe's storage context; every token call's caller is the Safe.
    assert_eq!(
        report
            .safe_context_delegatecalls()
            .filter(|c| c.code_address == ms)
            .count(),
        2
    );
    assert!(
        report
            .token_events
            .iter()
            .all(|e| report.calls[e.frame].caller == lab.safe)
    );
    let kinds: Vec<_> = report
        .safe_changes()
        .iter()
        .map(|c| c.meaning.clone())
        .collect();
    assert_eq!(kinds, vec![SafeSlot::Nonce]);
}
