//! Issue 3, test 4: each permission change seen as a typed Safe change, including one hidden in a
//! batch. The Safe has a guard that allows everything, so `setGuard(0)` has something to remove.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, Bytes, U256, address};
use alloy_sol_types::SolCall;
use signgate_simulator::{
    Operation,
    abi::{IERC20, ISafe},
    constants::SENTINEL,
    report::{Outcome, SafeSlot, SimulationReport},
};

use crate::support::{Lab, RECIPIENT, V141, multisend, uint, word};

const NEW_OWNER: Address = address!("0x00000000000000000000000000000000000a11ce");
const MODULE: Address = address!("0x000000000000000000000000000000000000d0d0");
const HANDLER: Address = address!("0x0000000000000000000000000000000000000fb1");

fn lab_with_guard() -> (Lab, Address) {
    let mut lab = Lab::new(V141, 3, 2);
    let guard = lab.deploy("AllowGuard", Vec::new());
    let data: Bytes = ISafe::setGuardCall { guard }.abi_encode().into();
    // Install the guard through the Safe itself (a real, signed self-call).
    let tx = lab.tx(lab.safe, U256::ZERO, data, Operation::Call);
    let sigs = lab.signatures(&tx, 2);
    let call = signgate_simulator::evm::exec_transaction_calldata(&tx, sigs.into());
    let executor = lab.keys[0].address();
    lab.world.call(executor, lab.safe, call, U256::ZERO);
    (lab, guard)
}

fn self_call(lab: &mut Lab, data: Vec<u8>) -> SimulationReport {
    let tx = lab.tx(lab.safe, U256::ZERO, data.into(), Operation::Call);
    let report = lab.simulate(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert!(report.is_permission_change());
    report
}

fn change(
    report: &SimulationReport,
    meaning: SafeSlot,
) -> (alloy_primitives::B256, alloy_primitives::B256) {
    let c = report
        .safe_changes()
        .iter()
        .find(|c| c.meaning == meaning)
        .unwrap_or_else(|| panic!("no {meaning:?} in {:#?}", report.safe_changes()));
    (c.before, c.after)
}

#[test]
fn add_owner_with_threshold() {
    let (mut lab, _) = lab_with_guard();
    let first = lab.owner_addresses()[0];
    let r = self_call(
        &mut lab,
        ISafe::addOwnerWithThresholdCall {
            owner: NEW_OWNER,
            _threshold: U256::from(3),
        }
        .abi_encode(),
    );
    assert_eq!(
        change(&r, SafeSlot::Owner { owner: SENTINEL }),
        (word(first), word(NEW_OWNER))
    );
    assert_eq!(
        change(&r, SafeSlot::Owner { owner: NEW_OWNER }).1,
        word(first)
    );
    assert_eq!(change(&r, SafeSlot::OwnerCount), (uint(3), uint(4)));
    assert_eq!(change(&r, SafeSlot::Threshold), (uint(2), uint(3)));
}

#[test]
fn swap_owner_the_radiant_pattern() {
    let (mut lab, _) = lab_with_guard();
    let owners = lab.owner_addresses();
    let (prev, old) = (owners[0], owners[1]);
    let r = self_call(
        &mut lab,
        ISafe::swapOwnerCall {
            prevOwner: prev,
            oldOwner: old,
            newOwner: NEW_OWNER,
        }
        .abi_encode(),
    );
    assert_eq!(
        change(&r, SafeSlot::Owner { owner: prev }),
        (word(old), word(NEW_OWNER))
    );
    assert_eq!(
        change(&r, SafeSlot::Owner { owner: old }),
        (word(owners[2]), word(Address::ZERO))
    );
    assert_eq!(
        change(&r, SafeSlot::Owner { owner: NEW_OWNER }),
        (word(Address::ZERO), word(owners[2]))
    );
    // The count and threshold do not change: only the list does.
    assert!(
        r.safe_changes()
            .iter()
            .all(|c| c.meaning != SafeSlot::OwnerCount && c.meaning != SafeSlot::Threshold)
    );
}

#[test]
fn change_threshold() {
    let (mut lab, _) = lab_with_guard();
    let r = self_call(
        &mut lab,
        ISafe::changeThresholdCall {
            _threshold: U256::from(1),
        }
        .abi_encode(),
    );
    assert_eq!(change(&r, SafeSlot::Threshold), (uint(2), uint(1)));
    // The simulation's own overrides did not hide it: "before" is the real threshold.
    assert_eq!(r.overrides.len(), 2);
}

#[test]
fn enable_module() {
    let (mut lab, _) = lab_with_guard();
    let r = self_call(
        &mut lab,
        ISafe::enableModuleCall { module: MODULE }.abi_encode(),
    );
    assert_eq!(
        change(&r, SafeSlot::Module { module: SENTINEL }),
        (word(SENTINEL), word(MODULE))
    );
    assert_eq!(
        change(&r, SafeSlot::Module { module: MODULE }),
        (word(Address::ZERO), word(SENTINEL))
    );
}

#[test]
fn set_guard_to_zero_with_the_guard_active() {
    let (mut lab, guard) = lab_with_guard();
    let r = self_call(
        &mut lab,
        ISafe::setGuardCall {
            guard: Address::ZERO,
        }
        .abi_encode(),
    );
    assert_eq!(
        change(&r, SafeSlot::Guard),
        (word(guard), word(Address::ZERO))
    );
    // The guard stayed active during the simulation: the Safe consulted it.
    assert!(r.calls.iter().any(|c| c.target == guard), "{:#?}", r.calls);
}

#[test]
fn set_fallback_handler() {
    let (mut lab, _) = lab_with_guard();
    let r = self_call(
        &mut lab,
        ISafe::setFallbackHandlerCall { handler: HANDLER }.abi_encode(),
    );
    assert_eq!(
        change(&r, SafeSlot::FallbackHandler),
        (word(Address::ZERO), word(HANDLER))
    );
}

#[test]
fn threshold_change_hidden_in_a_batch_is_seen() {
    let (mut lab, _) = lab_with_guard();
    let mso = lab.world.place_canonical("v1.4.1", "MultiSendCallOnly");
    let batch = multisend(&[
        (
            Operation::Call,
            lab.token,
            U256::ZERO,
            IERC20::transferCall {
                to: RECIPIENT,
                amount: U256::from(5),
            }
            .abi_encode()
            .into(),
        ),
        (
            Operation::Call,
            lab.safe,
            U256::ZERO,
            ISafe::changeThresholdCall {
                _threshold: U256::from(1),
            }
            .abi_encode()
            .into(),
        ),
    ]);
    let tx = lab.tx(mso, U256::ZERO, batch, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(r.is_permission_change());
    assert_eq!(change(&r, SafeSlot::Threshold), (uint(2), uint(1)));
    assert_eq!(r.token_events.len(), 1);
}
