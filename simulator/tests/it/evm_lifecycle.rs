//! Contract lifecycle effects: SELFDESTRUCT under post-Cancun (EIP-6780) rules, a contract
//! created and destroyed in one transaction, and a slot-0 proxy (Safe style, not EIP-1967)
//! administered by the Safe whose implementation the transaction replaces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, Bytes, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolValue, sol};
use signgate_simulator::{
    Operation,
    abi::IUpgradeable,
    report::{
        BalanceChange, CallKind, EthTransfer, ImplementationSlot, Outcome, ProxyUpgrade, SafeSlot,
        SelfDestruct, SimulationReport,
    },
};

use crate::support::{Lab, RECIPIENT, V141, multisend, safe_artifact};

sol! {
    function performCreate(uint256 value, bytes deploymentData) external returns (address newContract);
}

/// A pre-existing contract holding ETH whose code self-destructs.
const VAULT: Address = address!("0x000000000000000000000000000000000000d00d");

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10).pow(U256::from(18))
}

/// Runtime `PUSH20 beneficiary SELFDESTRUCT`: any call sends the whole balance to
/// `beneficiary` and self-destructs.
fn bomb_runtime(beneficiary: Address) -> Vec<u8> {
    let mut code = vec![0x73];
    code.extend_from_slice(beneficiary.as_slice());
    code.push(0xff);
    code
}

/// Init code returning `runtime`: `PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN`.
fn init_code(runtime: &[u8]) -> Bytes {
    let len = u8::try_from(runtime.len()).unwrap();
    let mut code = vec![
        0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    assert_eq!(code.len(), 0x0b);
    code.extend_from_slice(runtime);
    code.into()
}

/// Slot-0 implementation with a Safe-only upgrade:
/// `upgradeTo(address)` from `admin` stores the argument in slot 0; anything else reverts.
///
/// ```text
/// PUSH1 0 CALLDATALOAD PUSH1 0xe0 SHR PUSH4 upgradeTo EQ         ; selector matches?
/// CALLER PUSH20 admin EQ AND PUSH1 0x2b JUMPI                    ; and the caller is admin?
/// PUSH1 0 DUP1 REVERT
/// JUMPDEST PUSH1 4 CALLDATALOAD PUSH1 0 SSTORE STOP              ; slot0 = arg0
/// ```
fn slot0_implementation(admin: Address) -> Bytes {
    let mut code = vec![0x60, 0x00, 0x35, 0x60, 0xe0, 0x1c, 0x63];
    code.extend_from_slice(IUpgradeable::upgradeToCall::SELECTOR.as_slice());
    code.extend_from_slice(&[0x14, 0x33, 0x73]);
    code.extend_from_slice(admin.as_slice());
    code.extend_from_slice(&[0x14, 0x16, 0x60, 0x2b, 0x57, 0x60, 0x00, 0x80, 0xfd]);
    assert_eq!(code.len(), 0x2b, "jump destination");
    code.extend_from_slice(&[0x5b, 0x60, 0x04, 0x35, 0x60, 0x00, 0x55, 0x00]);
    code.into()
}

fn balance_change(r: &SimulationReport, a: Address) -> Option<(U256, U256)> {
    r.balance_changes
        .iter()
        .find(|b| b.address == a)
        .map(|b| (b.before, b.after))
}

fn only_the_nonce_changed(r: &SimulationReport) {
    let kinds: Vec<_> = r.safe_changes().iter().map(|c| c.meaning.clone()).collect();
    assert_eq!(kinds, vec![SafeSlot::Nonce], "{:#?}", r.safe_storage);
}

#[test]
fn contract_created_and_self_destructed_in_the_same_transaction() {
    let mut lab = Lab::new(V141, 3, 2);
    let multi = lab.world.place_canonical("v1.4.1", "MultiSend");
    let create_call = lab.world.place_canonical("v1.4.1", "CreateCall");
    let runtime = bomb_runtime(RECIPIENT);
    // The Safe (nonce 1, as every contract starts) creates the bomb at its first CREATE address.
    let bomb = lab.safe.create(1);
    let create: Bytes = performCreateCall {
        value: U256::ZERO,
        deploymentData: init_code(&runtime),
    }
    .abi_encode()
    .into();
    let data = multisend(&[
        (Operation::DelegateCall, create_call, U256::ZERO, create),
        (Operation::Call, bomb, ether(1), Bytes::new()),
    ]);
    let tx = lab.tx(multi, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");

    // Created by the Safe (CreateCall ran in its context), with the bomb's runtime code.
    assert_eq!(r.created.len(), 1, "{:#?}", r.calls);
    let c = &r.created[0];
    assert_eq!(
        (c.address, c.creator, c.kind),
        (bomb, lab.safe, CallKind::Create)
    );
    assert_eq!(c.code_hash, keccak256(&runtime));

    // Then called with 1 ETH, and self-destructed to the recipient.
    assert_eq!(r.self_destructed.len(), 1, "{:#?}", r.calls);
    let s = &r.self_destructed[0];
    assert_eq!(
        (s.address, s.beneficiary, s.value),
        (bomb, RECIPIENT, ether(1))
    );
    let frame = &r.calls[s.frame];
    assert_eq!(frame.kind, CallKind::SelfDestruct);
    assert!(frame.effective);
    let parent = &r.calls[frame.parent.unwrap()];
    assert_eq!(
        (parent.kind, parent.caller, parent.target, parent.value),
        (CallKind::Call, lab.safe, bomb, ether(1))
    );

    // ETH: Safe → bomb → recipient; the bomb ends with nothing (destroyed: created this tx).
    let moves: Vec<_> = r
        .eth_transfers
        .iter()
        .map(|t| (t.from, t.to, t.value))
        .collect();
    assert_eq!(
        moves,
        vec![(lab.safe, bomb, ether(1)), (bomb, RECIPIENT, ether(1))]
    );
    assert_eq!(balance_change(&r, lab.safe), Some((ether(10), ether(9))));
    assert_eq!(balance_change(&r, RECIPIENT), Some((U256::ZERO, ether(1))));
    assert_eq!(balance_change(&r, bomb), None);
    only_the_nonce_changed(&r);

    let touched = r.touched_addresses();
    for (a, loc) in [
        (
            bomb,
            format!("simulation: contract created in call {}", c.frame),
        ),
        (
            RECIPIENT,
            format!("simulation: self-destruct beneficiary in call {}", s.frame),
        ),
    ] {
        assert!(
            touched
                .iter()
                .any(|t| t.address == a && t.location.to_string() == loc),
            "{a} {loc}"
        );
    }
}

#[test]
fn called_contract_self_destructs_and_only_moves_its_eth() {
    let mut lab = Lab::new(V141, 3, 2);
    lab.world.set_code(VAULT, bomb_runtime(RECIPIENT).into());
    lab.world.set_balance(VAULT, ether(2));
    let tx = lab.tx(VAULT, U256::ZERO, Bytes::new(), Operation::Call);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(
        r.self_destructed,
        vec![SelfDestruct {
            address: VAULT,
            beneficiary: RECIPIENT,
            value: ether(2),
            frame: r.self_destructed[0].frame,
        }]
    );
    assert_eq!(
        r.calls[r.self_destructed[0].frame]
            .parent
            .map(|p| r.calls[p].target),
        Some(VAULT)
    );
    // Not created in this transaction: post-Cancun it keeps its code; only the ETH moves.
    assert!(r.created.is_empty());
    assert_eq!(
        r.eth_transfers,
        vec![EthTransfer {
            from: VAULT,
            to: RECIPIENT,
            value: ether(2),
            frame: r.self_destructed[0].frame,
        }]
    );
    assert_eq!(balance_change(&r, VAULT), Some((ether(2), U256::ZERO)));
    assert_eq!(balance_change(&r, RECIPIENT), Some((U256::ZERO, ether(2))));
    assert_eq!(balance_change(&r, lab.safe), None);
    only_the_nonce_changed(&r);
}

/// A SELFDESTRUCT that moves nothing is still an intent to destroy: it is listed with value 0
/// and its beneficiary is screened like any other touched address.
#[test]
fn self_destruct_of_an_empty_contract_is_listed_with_zero_value() {
    let mut lab = Lab::new(V141, 3, 2);
    lab.world.set_code(VAULT, bomb_runtime(RECIPIENT).into());
    let tx = lab.tx(VAULT, U256::ZERO, Bytes::new(), Operation::Call);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(r.self_destructed.len(), 1, "{:#?}", r.calls);
    let s = &r.self_destructed[0];
    assert_eq!(
        (s.address, s.beneficiary, s.value),
        (VAULT, RECIPIENT, U256::ZERO)
    );
    assert!(r.eth_transfers.is_empty(), "{:#?}", r.eth_transfers);
    assert!(
        r.touched_addresses().iter().any(|t| t.address == RECIPIENT
            && t.location.to_string()
                == format!("simulation: self-destruct beneficiary in call {}", s.frame)),
        "the beneficiary of an empty self-destruct is screened"
    );
}

#[test]
fn delegatecalled_self_destruct_drains_the_safe_but_leaves_it_standing() {
    let mut lab = Lab::new(V141, 3, 2);
    lab.world.set_code(VAULT, bomb_runtime(RECIPIENT).into());
    let tx = lab.tx(VAULT, U256::ZERO, Bytes::new(), Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    // The code ran in the Safe's context: the Safe is what self-destructs, all 10 ETH go.
    let dc: Vec<_> = r
        .safe_context_delegatecalls()
        .filter(|c| c.code_address == VAULT)
        .collect();
    assert_eq!(dc.len(), 1, "{:#?}", r.calls);
    assert_eq!(r.self_destructed.len(), 1, "{:#?}", r.calls);
    let s = &r.self_destructed[0];
    assert_eq!(
        (s.address, s.beneficiary, s.value),
        (lab.safe, RECIPIENT, ether(10))
    );
    assert_eq!(r.calls[s.frame].parent, Some(dc[0].id));
    let mut expected = vec![
        BalanceChange {
            address: RECIPIENT,
            before: U256::ZERO,
            after: ether(10),
        },
        BalanceChange {
            address: lab.safe,
            before: ether(10),
            after: U256::ZERO,
        },
    ];
    expected.sort_by_key(|b| b.address);
    assert_eq!(r.balance_changes, expected);
    // Post-Cancun the Safe is not destroyed: the nonce still increments, nothing else changes.
    only_the_nonce_changed(&r);
    assert!(r.created.is_empty());
}

#[test]
fn slot0_proxy_administered_by_the_safe_changes_implementation() {
    let mut lab = Lab::new(V141, 3, 2);
    let v1 = lab.world.deploy(init_code(&slot0_implementation(lab.safe)));
    let v2 = lab.world.deploy(init_code(&slot0_implementation(lab.safe)));
    // The protocol's proxy is a real Safe proxy: `masterCopy` in slot 0, everything delegated.
    let mut creation = safe_artifact("v1.4.1", "SafeProxy")
        .creation_bytecode
        .to_vec();
    creation.extend(v1.abi_encode());
    let proxy = lab.world.deploy(creation.into());
    let data: Bytes = IUpgradeable::upgradeToCall {
        newImplementation: v2,
    }
    .abi_encode()
    .into();
    let tx = lab.tx(proxy, U256::ZERO, data, Operation::Call);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(
        r.proxy_upgrades,
        vec![ProxyUpgrade {
            proxy,
            slot: ImplementationSlot::Slot0,
            before: v1,
            after: v2
        }]
    );
    // The write happened in the proxy's storage, through its delegatecall into v1.
    let other: Vec<_> = r
        .other_storage
        .iter()
        .map(|s| (s.address, s.slot, s.before, s.after))
        .collect();
    assert_eq!(
        other,
        vec![(proxy, U256::ZERO, v1.into_word(), v2.into_word())]
    );
    assert!(
        r.calls
            .iter()
            .any(|c| c.kind == CallKind::DelegateCall && c.target == proxy && c.code_address == v1)
    );
    // The Safe's own permissions are untouched; the proxy's are what changed.
    assert!(!r.is_permission_change());
    only_the_nonce_changed(&r);
    let touched = r.touched_addresses();
    let new_impl = format!("simulation: new implementation of proxy {proxy}");
    assert!(
        touched
            .iter()
            .any(|t| t.address == v2 && t.location.to_string() == new_impl)
    );
}

#[test]
fn slot0_proxy_upgrade_by_someone_else_is_refused_and_reports_nothing() {
    let mut lab = Lab::new(V141, 3, 2);
    // Administered by another address: the Safe's call reverts inside, the Safe tx fails.
    let admin = Address::repeat_byte(0x77);
    let v1 = lab.world.deploy(init_code(&slot0_implementation(admin)));
    let mut creation = safe_artifact("v1.4.1", "SafeProxy")
        .creation_bytecode
        .to_vec();
    creation.extend(v1.abi_encode());
    let proxy = lab.world.deploy(creation.into());
    let data: Bytes = IUpgradeable::upgradeToCall {
        newImplementation: Address::repeat_byte(0x99),
    }
    .abi_encode()
    .into();
    let tx = lab.tx(proxy, U256::ZERO, data, Operation::Call);
    let r = lab.simulate(&tx);
    assert_ne!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(r.proxy_upgrades.is_empty() && r.other_storage.is_empty());
}
