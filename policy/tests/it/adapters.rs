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

fn demo_ctx() -> SafeContext {
    SafeContext {
        chain_id: 1,
        safe: address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe"),
        version: SafeVersion::V1_4_1,
    }
}

fn call_to(to: Address, data: Vec<u8>) -> SafeTx {
    SafeTx {
        to,
        value: U256::ZERO,
        data: data.into(),
        operation: Operation::Call,
        safe_tx_gas: U256::ZERO,
        base_gas: U256::ZERO,
        gas_price: U256::ZERO,
        gas_token: Address::ZERO,
        refund_receiver: Address::ZERO,
        nonce: U256::ZERO,
    }
}

/// Every way of granting in calldata becomes a grant fact naming the asset and the spender.
#[test]
fn grants_in_calldata_are_grant_facts() {
    use alloy_sol_types::SolCall as _;
    use signgate_simulator::abi::{IERC20, IERC721, IPermit2};
    let ctx = demo_ctx();
    let token = Address::repeat_byte(0x70);
    let spender = Address::repeat_byte(0xcc);
    let cases: Vec<(SafeTx, Address, U256)> = vec![
        (
            call_to(
                token,
                IERC20::approveCall {
                    spender,
                    amount: U256::MAX,
                }
                .abi_encode(),
            ),
            token,
            U256::MAX,
        ),
        (
            call_to(
                token,
                IERC20::increaseAllowanceCall {
                    spender,
                    addedValue: U256::from(7),
                }
                .abi_encode(),
            ),
            token,
            U256::from(7),
        ),
        (
            call_to(
                token,
                IERC721::setApprovalForAllCall {
                    operator: spender,
                    approved: true,
                }
                .abi_encode(),
            ),
            token,
            U256::MAX,
        ),
        (
            call_to(
                signgate_simulator::deployments::PERMIT2,
                IPermit2::approveCall {
                    token,
                    spender,
                    amount: alloy_primitives::aliases::U160::from(9),
                    expiration: alloy_primitives::aliases::U48::from(0),
                }
                .abi_encode(),
            ),
            token,
            U256::from(9),
        ),
    ];
    for (tx, want_token, want_amount) in cases {
        let decoded = decode_transaction(&ctx, &tx).unwrap();
        let facts = action_facts(&decoded.root, ctx.safe);
        assert_eq!(
            facts[0].kind,
            ActionFactKind::TokenGrant {
                token: want_token,
                spender,
                amount: want_amount
            },
            "{tx:?}"
        );
    }
}

/// A revocation grants nothing: it stays a contract call.
#[test]
fn a_revocation_is_no_grant() {
    use alloy_sol_types::SolCall as _;
    use signgate_simulator::abi::IERC721;
    let ctx = demo_ctx();
    let tx = call_to(
        Address::repeat_byte(0x70),
        IERC721::setApprovalForAllCall {
            operator: Address::repeat_byte(0xcc),
            approved: false,
        }
        .abi_encode(),
    );
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    let facts = action_facts(&decoded.root, ctx.safe);
    assert_eq!(facts[0].kind, ActionFactKind::ContractCall);
}
