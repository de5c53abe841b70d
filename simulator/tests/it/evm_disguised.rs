//! Issue 3, test 5: a guard and module write made by a delegatecalled contract (no Safe
//! self-call), and an EIP-1967 upgrade of a protocol proxy the Safe administers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolValue, sol};
use signgate_simulator::{
    Operation,
    abi::{ISafe, IUpgradeable},
    constants::SENTINEL,
    report::{CallKind, ImplementationSlot, Outcome, ProxyUpgrade, SafeSlot},
};

use crate::support::{Lab, V130, V141, V150, uint, word};

sol! {
    function claimRewards(address guard, address module) external;
}

const MODULE: Address = address!("0x00000000000000000000000000000000000bad01");

#[test]
fn guard_and_module_written_by_a_delegatecalled_library() {
    let mut lab = Lab::new(V141, 3, 2);
    let lib = lab.deploy("SneakyLib", Vec::new());
    let guard = lab.deploy("AllowGuard", Vec::new());
    let data: Bytes = claimRewardsCall {
        guard,
        module: MODULE,
    }
    .abi_encode()
    .into();
    let tx = lab.tx(lib, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    // The calldata says "claimRewards"; the effects say: a new guard and a new module.
    let m: Vec<_> = r
        .safe_changes()
        .iter()
        .map(|c| (c.meaning.clone(), c.before, c.after))
        .collect();
    assert!(
        m.contains(&(SafeSlot::Guard, word(Address::ZERO), word(guard))),
        "{m:#?}"
    );
    assert!(m.contains(&(
        SafeSlot::Module { module: SENTINEL },
        word(SENTINEL),
        word(MODULE)
    )));
    assert!(m.contains(&(
        SafeSlot::Module { module: MODULE },
        word(Address::ZERO),
        word(SENTINEL)
    )));
    assert!(m.contains(&(SafeSlot::Nonce, uint(0), uint(1))));
    assert!(r.is_permission_change());
    let dc: Vec<_> = r
        .safe_context_delegatecalls()
        .filter(|c| c.code_address == lib)
        .collect();
    assert_eq!(dc.len(), 1);
    assert_eq!(dc[0].kind, CallKind::DelegateCall);
}

#[test]
fn eip1967_upgrade_of_a_safe_administered_proxy() {
    let mut lab = Lab::new(V141, 3, 2);
    let v1 = lab.deploy("Implementation", Vec::new());
    let v2 = lab.deploy("Implementation", Vec::new());
    let proxy = lab.deploy("AdminedProxy", (v1, lab.safe).abi_encode_params());
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
            slot: ImplementationSlot::Eip1967,
            before: v1,
            after: v2
        }]
    );
    // The Safe's own permissions are untouched.
    assert!(!r.is_permission_change());
}

sol! {
    function performCreate(uint256 value, bytes deploymentData) external returns (address newContract);
}

#[test]
fn contract_created_by_a_delegatecalled_create_call() {
    let mut lab = Lab::new(V141, 3, 2);
    let create_call = lab.world.place_canonical("v1.4.1", "CreateCall");
    let code = crate::support::test_contract("Implementation");
    let data: Bytes = performCreateCall {
        value: U256::ZERO,
        deploymentData: code,
    }
    .abi_encode()
    .into();
    let tx = lab.tx(create_call, U256::ZERO, data, Operation::DelegateCall);
    let r = lab.simulate(&tx);
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(r.created.len(), 1, "{:#?}", r.calls);
    let c = &r.created[0];
    // Run in the Safe's context, so the Safe is the creator (nonce-derived address).
    assert_eq!((c.creator, c.kind), (lab.safe, CallKind::Create));
    assert_eq!(c.address, lab.safe.create(1));
    assert!(r.touched_addresses().iter().any(|t| t.address == c.address));
}

/// Issue 13 item 1: the Safe executes a transaction of a Safe it owns (threshold 1, the
/// Safe's `v = 1` signature as `msg.sender`), which DELEGATECALLs SneakyLib. The owned Safe
/// is reached (its singleton, a non-canonical copy here, is recognised by code hash) and its
/// writes are classified in Safe terms, not left as anonymous storage or a proxy upgrade.
#[test]
fn a_safe_owned_by_the_safe_is_reached_and_its_writes_classified() {
    for release in [V130, V141, V150] {
        let mut lab = Lab::new(release, 3, 2);
        let owned = lab.world.deploy_safe(release, &[lab.safe], 1);
        let lib = lab.deploy("SneakyLib", Vec::new());
        let inner: Bytes = claimRewardsCall {
            guard: Address::ZERO,
            module: MODULE,
        }
        .abi_encode()
        .into();
        let mut signatures = lab.safe.into_word().to_vec();
        signatures.extend([0u8; 32]);
        signatures.push(1);
        let data: Bytes = ISafe::execTransactionCall {
            to: lib,
            value: U256::ZERO,
            data: inner,
            operation: 1,
            safeTxGas: U256::ZERO,
            baseGas: U256::ZERO,
            gasPrice: U256::ZERO,
            gasToken: Address::ZERO,
            refundReceiver: Address::ZERO,
            signatures: signatures.into(),
        }
        .abi_encode()
        .into();
        let tx = lab.tx(owned, U256::ZERO, data, Operation::Call);
        let r = lab.simulate(&tx);
        assert_eq!(r.outcome, Outcome::Success, "{}: {r:#?}", release.dir);
        assert_eq!(r.reached_safes.len(), 1, "{}: {r:#?}", release.dir);
        let reached = &r.reached_safes[0];
        assert_eq!(reached.address, owned);
        assert!(reached.frame.is_some());
        let m: Vec<_> = reached.storage.iter().map(|c| c.meaning.clone()).collect();
        assert!(m.contains(&SafeSlot::Module { module: MODULE }), "{m:#?}");
        assert!(m.contains(&SafeSlot::Module { module: SENTINEL }), "{m:#?}");
        assert!(m.contains(&SafeSlot::Nonce), "{m:#?}");
        assert!(!r.proxy_upgrades.iter().any(|u| u.proxy == owned));
        // Its DELEGATECALL into SneakyLib is in the report, in its context.
        assert!(
            r.delegatecalls()
                .any(|c| c.target == owned && c.code_address == lib)
        );
    }
}
