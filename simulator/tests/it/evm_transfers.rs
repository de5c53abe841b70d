//! Issue 3, test 2: benign ERC-20 and ETH transfers through Safe 1.4.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Bytes, U256};
use alloy_sol_types::SolCall;
use signgate_simulator::{
    Operation,
    abi::IERC20,
    evm::simulate,
    report::{BalanceChange, Outcome, SafeSlot, SignatureMode, TokenEventKind},
};

use crate::support::{CHAIN_ID, Lab, RECIPIENT, V141, uint};

fn only_the_nonce_changed(report: &signgate_simulator::report::SimulationReport, nonce: u64) {
    let changes = report.safe_changes();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].meaning, SafeSlot::Nonce);
    assert_eq!(
        (changes[0].before, changes[0].after),
        (uint(nonce), uint(nonce + 1))
    );
    assert!(!report.is_permission_change());
    assert_eq!(
        report
            .delegatecalls()
            .filter(|c| c.target == report.safe)
            .count(),
        1,
        "only the proxy's delegatecall into its singleton"
    );
    assert!(report.proxy_upgrades.is_empty());
}

#[test]
fn erc20_transfer_shows_the_token_movement_and_nothing_else() {
    let mut lab = Lab::new(V141, 3, 2);
    let data: Bytes = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(250),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(lab.token, U256::ZERO, data, Operation::Call);
    let report = lab.simulate(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert_eq!(report.signatures, SignatureMode::ApprovedHashOverrides);
    assert_eq!(report.overrides.len(), 2);
    only_the_nonce_changed(&report, 0);
    assert_eq!(report.token_events.len(), 1);
    let ev = &report.token_events[0];
    assert_eq!(ev.token, lab.token);
    assert_eq!(
        ev.event,
        TokenEventKind::Erc20Transfer {
            from: lab.safe,
            to: RECIPIENT,
            value: U256::from(250)
        }
    );
    // The log comes from the token CALL made by the Safe, at depth 2 (proxy → singleton → token).
    let frame = &report.calls[ev.frame];
    assert_eq!(
        (frame.caller, frame.target, frame.depth),
        (lab.safe, lab.token, 2)
    );
    assert!(report.eth_transfers.is_empty() && report.balance_changes.is_empty());
    // Token storage changed (two balances), reported outside the Safe.
    assert_eq!(
        report
            .other_storage
            .iter()
            .filter(|c| c.address == lab.token)
            .count(),
        2
    );
    let locations: Vec<String> = report
        .touched_addresses()
        .iter()
        .filter(|t| t.address == RECIPIENT)
        .map(|t| t.location.to_string())
        .collect();
    assert!(
        locations.contains(&"simulation: Transfer log 0 topic 2".to_owned()),
        "{locations:?}"
    );
}

#[test]
fn real_signatures_reaching_the_threshold_run_without_overrides() {
    let mut lab = Lab::new(V141, 3, 2);
    let data: Bytes = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(7),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(lab.token, U256::ZERO, data, Operation::Call);
    let sigs = lab.signatures(&tx, 2);
    let report = simulate(
        &lab.world.snapshot(),
        CHAIN_ID,
        lab.safe,
        V141.version,
        &tx,
        Some(&sigs),
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert_eq!(report.signatures, SignatureMode::Supplied);
    assert!(report.overrides.is_empty());
    only_the_nonce_changed(&report, 0);
    assert_eq!(report.token_events.len(), 1);
    // One signature short: the real Safe refuses (GS020), and the report says so.
    let short = lab.signatures(&tx, 1);
    let refused = simulate(
        &lab.world.snapshot(),
        CHAIN_ID,
        lab.safe,
        V141.version,
        &tx,
        Some(&short),
    )
    .unwrap();
    assert!(
        matches!(&refused.outcome, Outcome::Revert { reason } if reason.to_string().contains("GS020")),
        "{:?}",
        refused.outcome
    );
    assert!(refused.safe_changes().is_empty() && refused.token_events.is_empty());
}

#[test]
fn eth_transfer_shows_the_movement_and_balances() {
    let mut lab = Lab::new(V141, 3, 2);
    let one = U256::from(10).pow(U256::from(18));
    let tx = lab.tx(RECIPIENT, one, Bytes::new(), Operation::Call);
    let report = lab.simulate(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    only_the_nonce_changed(&report, 0);
    let t: Vec<_> = report
        .eth_transfers
        .iter()
        .map(|t| (t.from, t.to, t.value))
        .collect();
    assert_eq!(t, vec![(lab.safe, RECIPIENT, one)]);
    let safe_before = U256::from(10).pow(U256::from(19));
    let mut expected = vec![
        BalanceChange {
            address: lab.safe,
            before: safe_before,
            after: safe_before - one,
        },
        BalanceChange {
            address: RECIPIENT,
            before: U256::ZERO,
            after: one,
        },
    ];
    expected.sort_by_key(|b| b.address);
    assert_eq!(report.balance_changes, expected);
    assert!(report.token_events.is_empty());
}
