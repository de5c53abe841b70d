//! The simulator → evidence adapters on real decoder output.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test assertions"
)]

use alloy_primitives::{Address, U256, address, bytes};
use signgate_policy::{
    adapters::action_facts,
    evidence::{ActionFactKind, SafeChangeKind},
};
use signgate_simulator::{Operation, SafeContext, SafeTx, SafeVersion, decode_transaction};

/// Bybit's malicious transaction decodes as a `transfer` executed by DELEGATECALL: the adapter
/// keeps the operation, which is what the delegatecall rule needs.
#[test]
fn bybit_calldata_keeps_its_delegatecall() {
    let ctx = SafeContext {
        chain_id: 1,
        safe: address!("0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"),
        version: SafeVersion::V1_1_1,
    };
    let tx = SafeTx {
        to: address!("0x96221423681A6d52E184D440a8eFCEbB105C7242"),
        value: U256::ZERO,
        data: bytes!(
            "0xa9059cbb000000000000000000000000bdd077f651ebe7f7b3ce16fe5f2b025be29695160000000000000000000000000000000000000000000000000000000000000000"
        ),
        operation: Operation::DelegateCall,
        safe_tx_gas: U256::from(45746),
        base_gas: U256::ZERO,
        gas_price: U256::ZERO,
        gas_token: Address::ZERO,
        refund_receiver: Address::ZERO,
        nonce: U256::from(71),
    };
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    let facts = action_facts(&decoded.root, ctx.safe);
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].operation, Operation::DelegateCall);
    assert!(
        matches!(facts[0].kind, ActionFactKind::TokenTransfer { .. }),
        "{:?}",
        facts[0].kind
    );
}

#[test]
fn swap_owner_is_an_owners_change() {
    let call = signgate_simulator::decode::SafeConfigCall::SwapOwner {
        prev_owner: Address::ZERO,
        old_owner: Address::repeat_byte(1),
        new_owner: Address::repeat_byte(2),
    };
    assert_eq!(
        signgate_policy::adapters::config_kind(&call),
        SafeChangeKind::Owners
    );
    assert!(SafeChangeKind::Owners.is_permission());
}
