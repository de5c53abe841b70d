//! Issue 6: queued nonces run with the Safe's nonce set to the transaction's (and the report
//! says so); a nonce the Safe already used is an error, never a report.

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
    Operation, SafeTx,
    abi::IERC20,
    constants::slots,
    evm::{SimulationError, simulate},
    report::{Outcome, OverrideReason, SafeSlot, SignatureMode, SimulationReport, TokenEventKind},
};

use crate::support::{CHAIN_ID, Lab, RECIPIENT, V141, safe_tx, uint};

fn transfer(lab: &Lab, nonce: u64) -> SafeTx {
    let data: Bytes = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(250),
    }
    .abi_encode()
    .into();
    safe_tx(lab.token, U256::ZERO, data, Operation::Call, nonce)
}

/// The run assumed `current..assumed` executed: one override says so, the transfer happened
/// and the nonce moved on from the assumed one.
fn assert_queued(report: &SimulationReport, lab: &Lab, current: u64, assumed: u64) {
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let queued: Vec<_> = report
        .overrides
        .iter()
        .filter(|o| matches!(o.reason, OverrideReason::QueuedNonce { .. }))
        .collect();
    assert_eq!(queued.len(), 1, "{:#?}", report.overrides);
    let o = queued[0];
    assert_eq!((o.address, o.slot), (lab.safe, slots::NONCE));
    assert_eq!((o.real, o.value), (uint(current), uint(assumed)));
    assert_eq!(
        o.reason,
        OverrideReason::QueuedNonce {
            current: U256::from(current),
            assumed: U256::from(assumed)
        }
    );
    let nonce = report
        .safe_changes()
        .iter()
        .find(|c| c.meaning == SafeSlot::Nonce)
        .unwrap();
    assert_eq!(
        (nonce.before, nonce.after),
        (uint(current), uint(assumed + 1)),
        "before is the real pre-state"
    );
    assert!(matches!(
        report.token_events[..],
        [ref ev] if ev.event == TokenEventKind::Erc20Transfer {
            from: lab.safe,
            to: RECIPIENT,
            value: U256::from(250)
        }
    ));
}

#[test]
fn a_queued_nonce_runs_with_approved_hash_overrides_and_says_what_it_assumed() {
    let lab = Lab::new(V141, 3, 2);
    let report = lab.simulate(&transfer(&lab, 3));
    assert_eq!(report.signatures, SignatureMode::ApprovedHashOverrides);
    assert_eq!(
        report.overrides.len(),
        3,
        "two approved hashes and the nonce"
    );
    assert_queued(&report, &lab, 0, 3);
}

#[test]
fn a_queued_nonce_runs_real_signatures_unmodified() {
    let lab = Lab::new(V141, 3, 2);
    let tx = transfer(&lab, 2);
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
    assert_eq!(report.signatures, SignatureMode::Supplied);
    assert_eq!(report.overrides.len(), 1, "only the nonce");
    assert_queued(&report, &lab, 0, 2);
}

#[test]
fn the_current_nonce_needs_no_nonce_override() {
    let mut lab = Lab::new(V141, 3, 2);
    lab.world.set_storage(lab.safe, slots::NONCE, U256::from(4));
    let report = lab.simulate(&transfer(&lab, 4));
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert!(
        report
            .overrides
            .iter()
            .all(|o| matches!(o.reason, OverrideReason::ApprovedHash { .. })),
        "{:#?}",
        report.overrides
    );
}

#[test]
fn a_used_nonce_is_an_error_naming_both_nonces() {
    let mut lab = Lab::new(V141, 3, 2);
    lab.world.set_storage(lab.safe, slots::NONCE, U256::from(5));
    let tx = transfer(&lab, 4);
    for sigs in [None, Some(lab.signatures(&tx, 2))] {
        let err = simulate(
            &lab.world.snapshot(),
            CHAIN_ID,
            lab.safe,
            V141.version,
            &tx,
            sigs.as_deref(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            SimulationError::NonceUsed {
                nonce: U256::from(4),
                current: U256::from(5)
            }
        );
        assert_eq!(
            err.to_string(),
            "nonce 4 was already used; the Safe is at 5"
        );
    }
}
