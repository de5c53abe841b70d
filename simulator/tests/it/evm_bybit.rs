//! Issue 3, test 1: the Bybit transaction replayed byte for byte on the real Safe 1.1.1 code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Address, B256, Bytes, Selector, U256};
use serde::Deserialize;
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion,
    constants::{SENTINEL, slots},
    evm::{
        BlockInfo, SimulationError, SimulationOptions, Snapshot, SpecId, exec_transaction_calldata,
        simulate_with,
    },
    report::{CallKind, Outcome, SafeSlot, SignatureMode},
    safe_tx_hash,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bybit {
    pub chain_id: u64,
    pub safe: Address,
    pub singleton: Address,
    pub domain_separator: B256,
    pub threshold: u64,
    pub nonce: u64,
    pub owners: Vec<Address>,
    pub tx: SafeTx,
    pub safe_tx_hash: B256,
    pub signatures: Bytes,
    pub executor: Address,
    pub block_number: u64,
    pub block_timestamp: u64,
    pub backdoor: Address,
    pub trojan_runtime: Bytes,
}

pub fn bybit() -> Bybit {
    serde_json::from_str(include_str!("../fixtures/evm/bybit.json")).unwrap()
}

/// The Bybit Safe at the parent of the attack block: Proxy 1.1.1 → GnosisSafe 1.1.1, six owners
/// in a linked list, threshold 3, nonce 71, the stored legacy domain separator, and the trojan.
pub fn bybit_state(b: &Bybit) -> Snapshot {
    let mut s = Snapshot::new(BlockInfo {
        number: b.block_number - 1,
        timestamp: b.block_timestamp - 12,
        ..BlockInfo::default()
    });
    s.set_account_fixture(
        b.safe,
        U256::from(401_346u64) * U256::from(10).pow(U256::from(18)),
        1,
        "v1.1.1/Proxy",
    )
    .unwrap();
    s.set_account_fixture(b.singleton, U256::ZERO, 1, "v1.1.1/GnosisSafe")
        .unwrap();
    s.set_account(b.tx.to, U256::ZERO, 1, b.trojan_runtime.clone());
    s.set_storage(
        b.safe,
        slots::SINGLETON,
        U256::from_be_slice(b.singleton.as_slice()),
    );
    let mut prev = SENTINEL;
    for owner in &b.owners {
        s.set_storage(
            b.safe,
            slots::owner(prev),
            U256::from_be_slice(owner.as_slice()),
        );
        prev = *owner;
    }
    s.set_storage(
        b.safe,
        slots::owner(prev),
        U256::from_be_slice(SENTINEL.as_slice()),
    );
    s.set_storage(
        b.safe,
        slots::module(SENTINEL),
        U256::from_be_slice(SENTINEL.as_slice()),
    );
    s.set_storage(b.safe, slots::OWNER_COUNT, U256::from(b.owners.len()));
    s.set_storage(b.safe, slots::THRESHOLD, U256::from(b.threshold));
    s.set_storage(b.safe, slots::NONCE, U256::from(b.nonce));
    s.set_storage(b.safe, slots::DOMAIN_SEPARATOR, b.domain_separator.into());
    s
}

pub fn bybit_options(b: &Bybit) -> SimulationOptions {
    SimulationOptions {
        executor: Some(b.executor),
        spec: SpecId::CANCUN,
        ..Default::default()
    }
}

fn assert_bybit_effect(report: &signgate_simulator::report::SimulationReport, b: &Bybit) {
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    // The DELEGATECALL ran the trojan's code against the Safe's own storage.
    let dc: Vec<_> = report
        .safe_context_delegatecalls()
        .filter(|c| c.code_address == b.tx.to)
        .collect();
    assert_eq!(dc.len(), 1, "{:#?}", report.calls);
    assert_eq!(dc[0].kind, CallKind::DelegateCall);
    assert_eq!(
        dc[0].selector,
        Some(Selector::from([0xa9, 0x05, 0x9c, 0xbb]))
    );
    assert!(dc[0].success && dc[0].effective);
    assert_eq!(dc[0].depth, 2, "proxy → singleton → trojan");
    // Slot 0 of the Safe: the singleton is replaced by the backdoor.
    assert_eq!(report.singleton_change(), Some((b.singleton, b.backdoor)));
    assert!(report.is_permission_change());
    let kinds: Vec<_> = report
        .safe_changes()
        .iter()
        .map(|c| c.meaning.clone())
        .collect();
    assert_eq!(kinds, vec![SafeSlot::Singleton, SafeSlot::Nonce]);
    let nonce = &report.safe_changes()[1];
    assert_eq!(U256::from_be_bytes(nonce.before.0), U256::from(71));
    assert_eq!(U256::from_be_bytes(nonce.after.0), U256::from(72));
    // Nothing else moved: no ETH, no tokens.
    assert!(report.eth_transfers.is_empty() && report.token_events.is_empty());
    let touched = report.touched_addresses();
    assert!(touched.iter().any(|t| t.address == b.backdoor
        && t.location.to_string() == "simulation: new value of Safe slot Singleton"));
}

#[test]
fn bybit_replay_with_the_real_signatures_byte_for_byte() {
    let b = bybit();
    assert_eq!(
        safe_tx_hash(
            &SafeContext {
                chain_id: 1,
                safe: b.safe,
                version: SafeVersion::V1_1_1
            },
            &b.tx
        ),
        b.safe_tx_hash
    );
    // The calldata the attacker's EOA sent: 708 bytes of execTransaction.
    let calldata = exec_transaction_calldata(&b.tx, b.signatures.clone());
    assert_eq!(calldata.len(), 708);
    assert_eq!(calldata.get(..4), Some(&[0x6a, 0x76, 0x12, 0x02][..]));

    let state = bybit_state(&b);
    let report = simulate_with(
        &state,
        b.chain_id,
        b.safe,
        SafeVersion::V1_1_1,
        &b.tx,
        Some(&b.signatures),
        &bybit_options(&b),
    )
    .unwrap();
    // The real Safe 1.1.1 code accepted the three eth_sign signatures; nothing was overridden.
    assert_eq!(report.signatures, SignatureMode::Supplied);
    assert!(report.overrides.is_empty());
    assert_eq!(report.executor, b.executor);
    assert_eq!(report.safe_tx_hash, b.safe_tx_hash);
    assert_bybit_effect(&report, &b);
    // Three ecrecover precompile calls, one per signature.
    let ecrecovers = report
        .calls
        .iter()
        .filter(|c| c.target == Address::with_last_byte(1))
        .count();
    assert_eq!(ecrecovers, 3);
}

#[test]
fn bybit_replay_without_signatures_uses_only_approved_hash_overrides() {
    let b = bybit();
    let state = bybit_state(&b);
    let report = simulate_with(
        &state,
        b.chain_id,
        b.safe,
        SafeVersion::V1_1_1,
        &b.tx,
        None,
        &bybit_options(&b),
    )
    .unwrap();
    assert_eq!(report.signatures, SignatureMode::ApprovedHashOverrides);
    assert_eq!(report.overrides.len(), 3, "threshold 3");
    let mut sorted = b.owners.clone();
    sorted.sort();
    for (o, owner) in report.overrides.iter().zip(&sorted) {
        assert_eq!(o.slot, slots::approved_hash(*owner, b.safe_tx_hash));
        assert_eq!(o.real, B256::ZERO);
    }
    assert_bybit_effect(&report, &b);
}

/// Once the Safe moved past nonce 71 the transaction can never execute again: the simulator
/// says so instead of running the real signatures against another nonce.
#[test]
fn bybit_transaction_after_its_nonce_was_used_is_an_error() {
    let b = bybit();
    let mut state = bybit_state(&b);
    state.set_storage(b.safe, slots::NONCE, U256::from(72));
    let err = simulate_with(
        &state,
        b.chain_id,
        b.safe,
        SafeVersion::V1_1_1,
        &b.tx,
        Some(&b.signatures),
        &bybit_options(&b),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SimulationError::NonceUsed {
            nonce: U256::from(71),
            current: U256::from(72)
        }
    );
}
