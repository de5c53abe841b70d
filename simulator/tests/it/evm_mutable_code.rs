//! Issue 13 item 9: code run in a Safe's storage whose behaviour can change after the
//! decision (a proxy, a beacon, a target read from state, an EIP-7702 delegation) is reported
//! as mutable code, whatever its code hash; code that fixes what it runs is not. Item 4: a grant
//! is found from the granting call's input even when the token emits no event. And every inner
//! `execTransaction` is reported with its refund fields.
//!
//! The contracts are assembled by hand: each is a few opcodes and says exactly what it does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, Bytes, U256, address, keccak256};
use alloy_sol_types::SolCall;
use signgate_simulator::{
    Operation,
    abi::{IERC20, IERC721, IPermit2, ISafe},
    constants::slots,
    deployments::PERMIT2,
    report::{GrantKind, MutableWhy, Outcome, ProxySlot, SimulationReport},
};

use crate::support::{Lab, V141, multisend};

const NOOP: Address = address!("0x0000000000000000000000000000000000c0de00");
const FIXED: Address = address!("0x0000000000000000000000000000000000c0de01");
const BEACON: Address = address!("0x0000000000000000000000000000000000c0de02");
const BEACON_LIB: Address = address!("0x0000000000000000000000000000000000c0de03");
const PROXY_LIB: Address = address!("0x0000000000000000000000000000000000c0de04");
const UUPS_LIB: Address = address!("0x0000000000000000000000000000000000c0de05");
const CALLCODE_LIB: Address = address!("0x0000000000000000000000000000000000c0de06");
const DELEGATED: Address = address!("0x0000000000000000000000000000000000c0de07");
const SILENT: Address = address!("0x0000000000000000000000000000000000c0de08");
const SPENDER: Address = address!("0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e");

fn push20(a: Address) -> Vec<u8> {
    let mut code = vec![0x73];
    code.extend_from_slice(a.as_slice());
    code
}

fn push32(w: U256) -> Vec<u8> {
    let mut code = vec![0x7f];
    code.extend_from_slice(&w.to_be_bytes::<32>());
    code
}

/// `calldatacopy(0x100, 0, calldatasize); pop(<call>(gas, <target>, [0,] 0x100,
/// calldatasize, 0, 0)); stop`, where `<call>` is DELEGATECALL (`0xf4`) or CALLCODE (`0xf2`,
/// which takes a value).
fn forwarding(target: &[u8], opcode: u8) -> Bytes {
    let mut code = vec![
        0x36, 0x60, 0x00, 0x61, 0x01, 0x00, 0x37, 0x60, 0x00, 0x60, 0x00, 0x36, 0x61, 0x01, 0x00,
    ];
    if opcode == 0xf2 {
        code.extend_from_slice(&[0x60, 0x00]); // value
    }
    code.extend_from_slice(target);
    code.extend_from_slice(&[0x5a, opcode, 0x50, 0x00]);
    code.into()
}

/// Leaves `BEACON.implementation()` on the stack.
fn beacon_answer() -> Vec<u8> {
    let mut code = vec![0x63];
    code.extend_from_slice(&keccak256("implementation()")[..4]);
    code.extend_from_slice(&[0x60, 0xe0, 0x1b, 0x60, 0x00, 0x52]);
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0x60, 0x04, 0x60, 0x00]);
    code.extend(push20(BEACON));
    code.extend_from_slice(&[0x5a, 0xfa, 0x50, 0x60, 0x00, 0x51]);
    code
}

fn sload(slot: U256) -> Vec<u8> {
    let mut code = push32(slot);
    code.push(0x54);
    code
}

fn word(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// A 1.4.1 lab with every contract above placed.
fn lab() -> Lab {
    let mut lab = Lab::new(V141, 2, 1);
    let w = &mut lab.world;
    w.set_code(NOOP, vec![0x00].into());
    w.set_code(FIXED, forwarding(&push20(NOOP), 0xf4));
    w.set_code(
        BEACON,
        vec![
            0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
        ]
        .into(),
    );
    w.set_storage(BEACON, U256::ZERO, word(NOOP));
    w.set_code(BEACON_LIB, forwarding(&beacon_answer(), 0xf4));
    w.set_code(
        PROXY_LIB,
        forwarding(&sload(slots::eip1967_implementation()), 0xf4),
    );
    w.set_storage(PROXY_LIB, slots::eip1967_implementation(), word(NOOP));
    // UUPS: the logic slot of its own storage is set, and it runs a fixed address.
    w.set_code(UUPS_LIB, forwarding(&push20(NOOP), 0xf4));
    w.set_storage(UUPS_LIB, slots::eip1822_proxiable(), word(NOOP));
    w.set_code(CALLCODE_LIB, forwarding(&beacon_answer(), 0xf2));
    let mut designator = vec![0xef, 0x01, 0x00];
    designator.extend_from_slice(NOOP.as_slice());
    w.set_code(DELEGATED, designator.into());
    // A token that answers every call with 10^24 and emits nothing.
    let mut silent = push32(U256::from(10u64).pow(U256::from(24u64)));
    silent.extend_from_slice(&[0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
    w.set_code(SILENT, silent.into());
    lab
}

fn delegatecall(lab: &mut Lab, to: Address) -> SimulationReport {
    let tx = lab.tx(to, U256::ZERO, Bytes::new(), Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    r
}

#[test]
fn a_beacon_library_runs_code_chosen_at_run_time_and_says_where_it_came_from() {
    let mut lab = lab();
    let r = delegatecall(&mut lab, BEACON_LIB);
    assert_eq!(r.mutable_code.len(), 1, "{:#?}", r.mutable_code);
    let m = &r.mutable_code[0];
    assert_eq!((m.safe, m.code), (lab.safe, NOOP));
    let MutableWhy::ChosenAtRunTime {
        by_code, held_in, ..
    } = &m.why
    else {
        panic!("{m:#?}")
    };
    assert_eq!(*by_code, BEACON_LIB);
    let held = held_in.as_ref().unwrap();
    assert_eq!(
        (held.address, held.slot, held.name),
        (BEACON, U256::ZERO, None)
    );
    assert!(m.why.to_string().contains("slot 0x0 of"), "{}", m.why);
}

#[test]
fn a_beacon_answer_written_into_the_transaction_as_a_decoy_is_still_chosen_at_run_time() {
    let mut lab = lab();
    // The implementation's address as an unused argument: in the signed transaction, but the
    // library reads it from the beacon, whose slot holds it.
    let mut data = vec![0xde, 0xad, 0xbe, 0xef];
    data.extend_from_slice(NOOP.into_word().as_slice());
    let tx = lab.tx(BEACON_LIB, U256::ZERO, data.into(), Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(
        r.mutable_code.iter().any(|m| m.code == NOOP
            && matches!(&m.why, MutableWhy::ChosenAtRunTime { written: true, held_in: Some(w), .. } if w.address == BEACON)),
        "{:#?}",
        r.mutable_code
    );
}

#[test]
fn a_callcode_to_a_beacon_answer_is_chosen_at_run_time_too() {
    let mut lab = lab();
    let r = delegatecall(&mut lab, CALLCODE_LIB);
    assert!(
        r.mutable_code.iter().any(|m| m.code == NOOP
            && matches!(m.why, MutableWhy::ChosenAtRunTime { by_code, .. } if by_code == CALLCODE_LIB)),
        "{:#?}",
        r.mutable_code
    );
}

#[test]
fn an_eip1967_proxy_is_a_proxy_by_its_own_slot_and_reads_the_safes_slot_at_run_time() {
    let mut lab = lab();
    let r = delegatecall(&mut lab, PROXY_LIB);
    let whys: Vec<&MutableWhy> = r.mutable_code.iter().map(|m| &m.why).collect();
    assert!(
        whys.iter().any(|w| matches!(w, MutableWhy::ProxySlot { slot: ProxySlot::Eip1967Implementation, value } if U256::from_be_bytes(value.0) == word(NOOP))),
        "{whys:#?}"
    );
    // In the Safe's storage the implementation slot is empty: the proxy DELEGATECALLs the zero
    // address, read from the Safe's own EIP-1967 slot.
    let run_time = r
        .mutable_code
        .iter()
        .find_map(|m| match &m.why {
            MutableWhy::ChosenAtRunTime { held_in, .. } => Some((m.code, held_in.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(run_time.0, Address::ZERO);
    let held = run_time.1.unwrap();
    assert_eq!(
        (held.address, held.name),
        (lab.safe, Some(ProxySlot::Eip1967Implementation))
    );
}

#[test]
fn a_uups_proxy_is_a_proxy_by_its_logic_slot() {
    let mut lab = lab();
    let r = delegatecall(&mut lab, UUPS_LIB);
    assert_eq!(r.mutable_code.len(), 1, "{:#?}", r.mutable_code);
    assert!(matches!(
        r.mutable_code[0].why,
        MutableWhy::ProxySlot {
            slot: ProxySlot::Eip1822Proxiable,
            ..
        }
    ));
    assert_eq!(r.mutable_code[0].code, UUPS_LIB);
}

#[test]
fn an_eip7702_delegation_is_mutable_code() {
    let mut lab = lab();
    let r = delegatecall(&mut lab, DELEGATED);
    assert!(
        r.mutable_code
            .iter()
            .any(|m| m.code == DELEGATED && m.why == MutableWhy::Delegation { delegate: NOOP }),
        "{:#?}",
        r.mutable_code
    );
}

#[test]
fn code_that_fixes_what_it_runs_and_multisend_entries_are_not_mutable() {
    let mut lab = lab();
    // A library delegating to an address written in its code.
    let r = delegatecall(&mut lab, FIXED);
    assert!(r.mutable_code.is_empty(), "{:#?}", r.mutable_code);
    // MultiSend delegating to entries of the signed transaction, one of them FIXED.
    let ms = lab.world.place_canonical("v1.4.1", "MultiSend");
    let data = multisend(&[
        (Operation::DelegateCall, FIXED, U256::ZERO, Bytes::new()),
        (Operation::DelegateCall, NOOP, U256::ZERO, Bytes::new()),
    ]);
    let tx = lab.tx(ms, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(r.delegatecalls().count() >= 4, "{:#?}", r.calls);
    assert!(r.mutable_code.is_empty(), "{:#?}", r.mutable_code);
    // A Safe self-call hops through its proxy into its singleton: the Safe's own singleton,
    // judged by its own rules, not mutable code.
    let data: Bytes = ISafe::changeThresholdCall {
        _threshold: U256::from(2),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(lab.safe, U256::ZERO, data, Operation::Call);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(r.mutable_code.is_empty(), "{:#?}", r.mutable_code);
}

fn approve(spender: Address, amount: U256) -> Bytes {
    IERC20::approveCall { spender, amount }.abi_encode().into()
}

#[test]
fn a_grant_without_an_event_is_read_from_the_granting_call_at_any_depth() {
    let mut lab = lab();
    // Directly.
    let tx = lab.tx(
        SILENT,
        U256::ZERO,
        approve(SPENDER, U256::MAX),
        Operation::Call,
    );
    let r = lab.simulate(&tx);
    assert_eq!(r.grants.len(), 1, "{:#?}", r.grants);
    let g = &r.grants[0];
    assert_eq!((g.token, g.spender, g.log_index), (SILENT, SPENDER, None));
    assert_eq!(g.kind, GrantKind::Allowance { value: U256::MAX });
    assert_eq!(
        g.holder_balance,
        Some(U256::from(10u64).pow(U256::from(24u64)))
    );
    // Inside a MultiSend (depth 3), with increaseAllowance adding to an approve; a grant
    // revoked later in the batch is no grant.
    let ms = lab.world.place_canonical("v1.4.1", "MultiSendCallOnly");
    let other = Address::repeat_byte(0x77);
    let increase: Bytes = IERC20::increaseAllowanceCall {
        spender: SPENDER,
        addedValue: U256::from(5),
    }
    .abi_encode()
    .into();
    let data = multisend(&[
        (
            Operation::Call,
            SILENT,
            U256::ZERO,
            approve(SPENDER, U256::from(10)),
        ),
        (Operation::Call, SILENT, U256::ZERO, increase),
        (
            Operation::Call,
            SILENT,
            U256::ZERO,
            approve(other, U256::MAX),
        ),
        (
            Operation::Call,
            SILENT,
            U256::ZERO,
            approve(other, U256::ZERO),
        ),
    ]);
    let tx = lab.tx(ms, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(r.grants.len(), 1, "{:#?}", r.grants);
    assert_eq!(r.grants[0].spender, SPENDER);
    assert_eq!(
        r.grants[0].kind,
        GrantKind::Allowance {
            value: U256::from(15)
        }
    );
    assert!(r.calls[r.grants[0].frame].depth >= 2);
    // Permit2's `approve` at its canonical address, with nothing there to emit an event (and
    // setApprovalForAll on the silent token): both read from the call's input.
    let permit2: Bytes = IPermit2::approveCall {
        token: SILENT,
        spender: SPENDER,
        amount: alloy_primitives::aliases::U160::MAX,
        expiration: alloy_primitives::aliases::U48::from(1u8),
    }
    .abi_encode()
    .into();
    let for_all: Bytes = IERC721::setApprovalForAllCall {
        operator: other,
        approved: true,
    }
    .abi_encode()
    .into();
    let data = multisend(&[
        (Operation::Call, PERMIT2, U256::ZERO, permit2),
        (Operation::Call, SILENT, U256::ZERO, for_all),
    ]);
    let tx = lab.tx(ms, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(r.grants.len(), 2, "{:#?}", r.grants);
    assert!(r.grants.iter().any(|g| g.token == SILENT
        && g.spender == SPENDER
        && g.emitter == PERMIT2
        && g.log_index.is_none()
        && matches!(g.kind, GrantKind::Allowance { .. })));
    assert!(
        r.grants
            .iter()
            .any(|g| g.spender == other && g.kind == GrantKind::All)
    );
    // A token that emits its Approval: one grant, the event's.
    let tx = lab.tx(
        lab.token,
        U256::ZERO,
        approve(SPENDER, U256::from(7)),
        Operation::Call,
    );
    let r = lab.simulate(&tx);
    assert_eq!(r.grants.len(), 1, "{:#?}", r.grants);
    assert!(r.grants[0].log_index.is_some());
}

#[test]
fn every_inner_exec_transaction_is_reported_with_its_refund_fields() {
    let mut lab = lab();
    let owned = lab.world.deploy_safe(V141, &[lab.safe], 1);
    let mut signatures = lab.safe.into_word().to_vec();
    signatures.extend([0u8; 32]);
    signatures.push(1);
    let data: Bytes = ISafe::execTransactionCall {
        to: Address::repeat_byte(0x99),
        value: U256::ZERO,
        data: Bytes::new(),
        operation: 0,
        safeTxGas: U256::from(100_000),
        baseGas: U256::from(999_000_000u64),
        gasPrice: U256::from(10_000_000_000u64),
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        signatures: signatures.into(),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(owned, U256::ZERO, data, Operation::Call);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(r.inner_safe_txs.len(), 1, "{:#?}", r.inner_safe_txs);
    let t = &r.inner_safe_txs[0];
    assert_eq!(t.safe, owned);
    assert_eq!(t.gas_price, U256::from(10_000_000_000u64));
    assert_eq!(t.base_gas, U256::from(999_000_000u64));
    // The outer transaction's gas price is zero: the ETH refund the owned Safe pays on chain at
    // the executor's price is invisible in the run.
    assert_eq!(t.paid, None);
    assert!(r.mutable_code.is_empty(), "{:#?}", r.mutable_code);
}
