//! Issue 3, test 6: reverting and out-of-gas transactions are reported as such, with no false
//! effects; the gas cap and the deadline are typed errors; an active guard is honoured.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, sol};
use signgate_simulator::{
    Operation,
    abi::{IERC20, ISafe},
    evm::{SimulationError, SimulationOptions, simulate_with},
    report::{FrameFailure, Outcome, RevertReason, SafeSlot, SimulationReport},
};

use crate::support::{CHAIN_ID, Lab, RECIPIENT, V141};

sol! {
    function fail() external;
    function burn() external;
}

fn no_effects(r: &SimulationReport) {
    assert!(r.safe_changes().is_empty(), "{:#?}", r.safe_changes());
    assert!(
        r.token_events.is_empty() && r.eth_transfers.is_empty() && r.balance_changes.is_empty()
    );
    assert!(r.other_storage.is_empty() && r.created.is_empty() && r.proxy_upgrades.is_empty());
}

fn trap_tx(lab: &mut Lab, data: Vec<u8>, safe_tx_gas: u64) -> signgate_simulator::SafeTx {
    let trap = lab.deploy("Trap", Vec::new());
    let mut tx = lab.tx(trap, U256::ZERO, data.into(), Operation::Call);
    tx.safe_tx_gas = U256::from(safe_tx_gas);
    tx
}

#[test]
fn reverting_inner_call_reverts_the_transaction() {
    let mut lab = Lab::new(V141, 2, 1);
    let tx = trap_tx(&mut lab, failCall {}.abi_encode(), 0);
    let r = lab.simulate(&tx);
    assert_eq!(
        r.outcome,
        Outcome::Revert {
            reason: RevertReason::Error {
                message: "GS013".into()
            }
        }
    );
    no_effects(&r);
    let inner = r.calls.iter().find(|c| c.target == tx.to).unwrap();
    assert_eq!(
        inner.failure,
        Some(FrameFailure::Revert {
            reason: RevertReason::Error {
                message: "trap: refused".into()
            },
        })
    );
}

#[test]
fn failed_inner_call_with_safe_tx_gas_is_an_execution_failure() {
    let mut lab = Lab::new(V141, 2, 1);
    let tx = trap_tx(&mut lab, failCall {}.abi_encode(), 100_000);
    let r = lab.simulate(&tx);
    // The outer call succeeds, the Safe emits ExecutionFailure: not a success.
    assert!(
        matches!(
            &r.outcome,
            Outcome::ExecutionFailure {
                inner: Some(FrameFailure::Revert { .. })
            }
        ),
        "{:?}",
        r.outcome
    );
    assert!(!r.outcome.is_success());
    // Only the nonce moved (as on chain); no false token or ETH effects.
    let kinds: Vec<_> = r.safe_changes().iter().map(|c| c.meaning.clone()).collect();
    assert_eq!(kinds, vec![SafeSlot::Nonce]);
    assert!(r.token_events.is_empty() && r.eth_transfers.is_empty());
}

#[test]
fn out_of_gas_inner_call() {
    let mut lab = Lab::new(V141, 2, 1);
    let tx = trap_tx(&mut lab, burnCall {}.abi_encode(), 0);
    let r = lab.simulate(&tx);
    assert_eq!(
        r.outcome,
        Outcome::Revert {
            reason: RevertReason::Error {
                message: "GS013".into()
            }
        }
    );
    no_effects(&r);
    let inner = r.calls.iter().find(|c| c.target == tx.to).unwrap();
    assert!(
        inner
            .failure
            .as_ref()
            .is_some_and(FrameFailure::is_out_of_gas),
        "{inner:?}"
    );

    let tx = trap_tx(&mut lab, burnCall {}.abi_encode(), 50_000);
    let r = lab.simulate(&tx);
    assert!(
        matches!(&r.outcome, Outcome::ExecutionFailure { inner: Some(f) } if f.is_out_of_gas()),
        "{:?}",
        r.outcome
    );
}

#[test]
fn gas_cap_and_deadline_are_typed_errors() {
    let mut lab = Lab::new(V141, 2, 1);
    let data: Bytes = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(1),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(lab.token, U256::ZERO, data, Operation::Call);
    let snap = lab.world.snapshot();
    let small = SimulationOptions {
        gas_cap: 30_000,
        ..Default::default()
    };
    let err =
        simulate_with(&snap, CHAIN_ID, lab.safe, V141.version, &tx, None, &small).unwrap_err();
    assert_eq!(err, SimulationError::GasCapExceeded { cap: 30_000 });
    let instant = SimulationOptions {
        timeout: Duration::ZERO,
        ..Default::default()
    };
    let err =
        simulate_with(&snap, CHAIN_ID, lab.safe, V141.version, &tx, None, &instant).unwrap_err();
    assert_eq!(err, SimulationError::DeadlineExceeded { timeout_ms: 0 });
}

#[test]
fn uninitialised_safe_is_an_error_not_an_empty_report() {
    let lab = Lab::new(V141, 2, 1);
    let tx = signgate_simulator::SafeTx::call(RECIPIENT, U256::ZERO, Bytes::new(), U256::ZERO);
    let err = signgate_simulator::evm::simulate(
        &lab.world.snapshot(),
        CHAIN_ID,
        Address::repeat_byte(7),
        V141.version,
        &tx,
        None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        SimulationError::NotInitialised {
            safe: Address::repeat_byte(7)
        }
    );
}

#[test]
fn an_active_guard_can_refuse_and_the_report_says_so() {
    let mut lab = Lab::new(V141, 2, 1);
    let guard = lab.deploy("NoDelegateCallGuard", Vec::new());
    let set: Bytes = ISafe::setGuardCall { guard }.abi_encode().into();
    let tx = lab.tx(lab.safe, U256::ZERO, set, Operation::Call);
    let sigs = lab.signatures(&tx, 1);
    let call = signgate_simulator::evm::exec_transaction_calldata(&tx, sigs.into());
    let executor = lab.keys[0].address();
    lab.world.call(executor, lab.safe, call, U256::ZERO);

    let lib = lab.deploy("SneakyLib", Vec::new());
    let tx = lab.tx(
        lib,
        U256::ZERO,
        Bytes::from(vec![0u8; 4]),
        Operation::DelegateCall,
    );
    let r = lab.simulate(&tx);
    assert_eq!(
        r.outcome,
        Outcome::Revert {
            reason: RevertReason::Error {
                message: "guard: no delegatecall".into()
            },
        }
    );
    no_effects(&r);
}
