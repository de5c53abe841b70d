//! Calldata decoding: self-calls, batches, bounds, warnings and involvements; call families in
//! `calls`, round trips and the alloy-dyn-abi cross-check in `roundtrip`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a broken fixture must fail loudly"
)]

mod calls;
mod roundtrip;

use alloy_dyn_abi::{DynSolType, DynSolValue};
use alloy_primitives::{Address, B256, Bytes, U256, address, aliases::U160};
use alloy_sol_types::SolCall;
use proptest::prelude::*;
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{ICreateCall, IERC20, IERC721, IERC1155, IMultiSend, IPermit2, ISafe, ISignMessageLib},
    decode::{
        Action, ActionKind, ActionPath, AddressRole, BatchEntry, BatchError, DecodeError,
        Permit2Call, SafeConfigCall, SafeLibraryCall, TokenCall, decode_calldata,
        decode_transaction, encode_batch, known_function,
    },
    deployments::{self, PERMIT2, SafeContract},
    limits::{MAX_BATCH_DEPTH, MAX_BATCH_ENTRIES, MAX_CALLDATA_BYTES, MAX_TOTAL_ACTIONS},
    warnings::Warning,
};

pub const SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
pub const ALICE: Address = address!("0xa11ce00000000000000000000000000000000001");
pub const BOB: Address = address!("0xb0b0000000000000000000000000000000000002");
pub const TOKEN: Address = address!("0x70c0000000000000000000000000000000000003");

pub fn ctx(version: SafeVersion) -> SafeContext {
    SafeContext {
        chain_id: 1,
        safe: SAFE,
        version,
    }
}

pub fn canonical(contract: SafeContract, version: SafeVersion) -> Address {
    deployments::canonical(contract, version).unwrap()
}

pub fn multisend(entries: &[(Operation, Address, U256, Vec<u8>)]) -> Bytes {
    let transactions =
        encode_batch(
            entries
                .iter()
                .map(|(operation, to, value, data)| BatchEntry {
                    operation: *operation,
                    to: *to,
                    value: *value,
                    data,
                }),
        );
    IMultiSend::multiSendCall {
        transactions: transactions.into(),
    }
    .abi_encode()
    .into()
}

pub fn tx(operation: Operation, to: Address, data: Bytes) -> SafeTx {
    SafeTx {
        operation,
        ..SafeTx::call(to, U256::ZERO, data, U256::ZERO)
    }
}

pub fn decode(operation: Operation, to: Address, data: Bytes) -> Result<Action, DecodeError> {
    decode_calldata(SAFE, operation, to, U256::ZERO, &data)
}

pub fn transfer(to: Address, amount: u64) -> Vec<u8> {
    IERC20::transferCall {
        to,
        amount: U256::from(amount),
    }
    .abi_encode()
}

#[test]
fn self_calls_are_config_changes_with_roles_and_warnings() {
    let data = ISafe::swapOwnerCall {
        prevOwner: ALICE,
        oldOwner: BOB,
        newOwner: TOKEN,
    }
    .abi_encode();
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::Call, SAFE, data.into()),
    )
    .unwrap();
    assert_eq!(
        decoded.root.kind,
        ActionKind::SafeConfig {
            call: SafeConfigCall::SwapOwner {
                prev_owner: ALICE,
                old_owner: BOB,
                new_owner: TOKEN
            }
        }
    );
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::SafeConfigChange { .. }]
    ));
    let roles: Vec<_> = decoded
        .involvements()
        .iter()
        .map(|i| (i.address, i.role))
        .collect();
    assert_eq!(
        roles,
        vec![
            (SAFE, AddressRole::CallTarget),
            (ALICE, AddressRole::ListPredecessor),
            (BOB, AddressRole::RemovedOwner),
            (TOKEN, AddressRole::NewOwner),
        ]
    );
    assert!(decoded.to_string().contains("this Safe"));

    for (data, role) in [
        (
            ISafe::enableModuleCall { module: ALICE }.abi_encode(),
            AddressRole::Module,
        ),
        (
            ISafe::setGuardCall { guard: ALICE }.abi_encode(),
            AddressRole::Guard,
        ),
        (
            ISafe::setModuleGuardCall { moduleGuard: ALICE }.abi_encode(),
            AddressRole::ModuleGuard,
        ),
        (
            ISafe::setFallbackHandlerCall { handler: ALICE }.abi_encode(),
            AddressRole::FallbackHandler,
        ),
        (
            ISafe::changeMasterCopyCall { _masterCopy: ALICE }.abi_encode(),
            AddressRole::NewSingleton,
        ),
        (
            ISafe::addOwnerWithThresholdCall {
                owner: ALICE,
                _threshold: U256::from(2),
            }
            .abi_encode(),
            AddressRole::NewOwner,
        ),
    ] {
        let decoded = decode_transaction(
            &ctx(SafeVersion::V1_5_0),
            &tx(Operation::Call, SAFE, data.into()),
        )
        .unwrap();
        assert!(
            decoded
                .involvements()
                .iter()
                .any(|i| i.address == ALICE && i.role == role),
            "{role:?}"
        );
        assert!(matches!(
            decoded.warnings.as_slice(),
            [Warning::SafeConfigChange { .. }]
        ));
    }

    let data = ISafe::changeThresholdCall {
        _threshold: U256::from(1),
    }
    .abi_encode();
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_5_0),
        &tx(Operation::Call, SAFE, data.into()),
    )
    .unwrap();
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::SafeConfigChange { .. }]
    ));

    let unknown = decode(Operation::Call, SAFE, Bytes::from_static(&[1, 2, 3, 4, 5])).unwrap();
    assert_eq!(
        unknown.kind,
        ActionKind::UnknownSelfCall {
            selector: Some([1, 2, 3, 4])
        }
    );
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::Call, SAFE, Bytes::from_static(&[1, 2, 3, 4])),
    )
    .unwrap();
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::UnknownSelfCall { .. }]
    ));
}

#[test]
fn undecodable_arguments_are_unknown_with_a_warning() {
    let mut data = transfer(BOB, 1);
    data.truncate(4 + 20);
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::Call, TOKEN, data.into()),
    )
    .unwrap();
    assert!(matches!(
        decoded.root.kind,
        ActionKind::Unknown {
            selector: Some(_),
            ..
        }
    ));
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::UndecodableArguments {
            interface: "ERC-20",
            ..
        }]
    ));
}

/// Known selectors the decoder does not decode at that address are plainly unknown: no claim that
/// their arguments failed to decode, and no Permit2 label on a look-alike contract.
#[test]
fn selectors_decoded_only_where_they_apply() {
    let permit2_like = IPermit2::lockdownCall { approvals: vec![] }.abi_encode();
    let balance = IERC20::balanceOfCall { owner: SAFE }.abi_encode();
    // (`approveHash` on another contract is decoded as another Safe's: see
    // `calls_into_another_safe_are_decoded_as_such`.)
    for (to, data) in [(BOB, permit2_like), (TOKEN, balance)] {
        let decoded = decode_transaction(
            &ctx(SafeVersion::V1_3_0),
            &tx(Operation::Call, to, data.into()),
        )
        .unwrap();
        assert!(matches!(
            decoded.root.kind,
            ActionKind::Unknown {
                selector: Some(_),
                ..
            }
        ));
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    }
}

#[test]
fn call_only_batches_are_trusted_and_every_address_is_listed() {
    let batch = canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_4_1);
    let data = multisend(&[
        (Operation::Call, TOKEN, U256::ZERO, transfer(ALICE, 5)),
        (Operation::Call, BOB, U256::from(10u64.pow(18)), vec![]),
    ]);
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_4_1),
        &tx(Operation::DelegateCall, batch, data),
    )
    .unwrap();
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let ActionKind::Batch {
        deployment: Some(d),
        actions,
    } = &decoded.root.kind
    else {
        panic!()
    };
    assert_eq!(d.contract, SafeContract::MultiSendCallOnly);
    assert_eq!(actions.len(), 2);
    let found: Vec<_> = decoded
        .involvements()
        .iter()
        .map(|i| (i.address, i.role, i.path.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (batch, AddressRole::DelegatecallTarget, ActionPath(vec![])),
            (TOKEN, AddressRole::CallTarget, ActionPath(vec![0])),
            (ALICE, AddressRole::Recipient, ActionPath(vec![0])),
            (BOB, AddressRole::CallTarget, ActionPath(vec![1])),
        ]
    );
    let words = decoded.to_string();
    let expected = format!("[1] CALL {BOB}: plain ETH transfer, no calldata, sending 1 ETH");
    assert!(words.contains(&expected), "{words}");
}

#[test]
fn nested_delegatecalls_and_plain_multisend_are_flagged() {
    let multi = canonical(SafeContract::MultiSend, SafeVersion::V1_3_0);
    let data = multisend(&[
        (Operation::Call, TOKEN, U256::ZERO, transfer(ALICE, 5)),
        (Operation::DelegateCall, BOB, U256::ZERO, transfer(ALICE, 0)),
    ]);
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::DelegateCall, multi, data),
    )
    .unwrap();
    let codes: Vec<_> = decoded.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(
        codes,
        vec![
            "untrusted_delegatecall",
            "untrusted_delegatecall",
            "nested_delegatecall"
        ]
    );
    assert!(matches!(
        &decoded.warnings[0],
        Warning::UntrustedDelegatecall {
            known_as: Some(SafeContract::MultiSend),
            ..
        }
    ));

    let call_only = canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_3_0);
    let data = multisend(&[(Operation::DelegateCall, BOB, U256::ZERO, vec![])]);
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::DelegateCall, call_only, data),
    )
    .unwrap();
    assert!(
        decoded
            .warnings
            .iter()
            .any(|w| w.code() == "delegatecall_in_call_only_batch")
    );
}

#[test]
fn version_1_5_0_batches_read_zero_as_the_safe() {
    let inner = ISafe::changeThresholdCall {
        _threshold: U256::from(3),
    }
    .abi_encode();
    let entries = [(Operation::Call, Address::ZERO, U256::ZERO, inner)];
    let v150 = canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_5_0);
    let root = decode(Operation::DelegateCall, v150, multisend(&entries)).unwrap();
    let ActionKind::Batch { actions, .. } = root.kind else {
        panic!()
    };
    assert_eq!(actions[0].to, SAFE);
    assert!(matches!(
        actions[0].kind,
        ActionKind::SafeConfig {
            call: SafeConfigCall::ChangeThreshold { .. }
        }
    ));

    // CALLed instead of DELEGATECALLed, `address()` is the library itself.
    let root = decode(Operation::Call, v150, multisend(&entries)).unwrap();
    let ActionKind::Batch { actions, .. } = root.kind else {
        panic!()
    };
    assert_eq!(actions[0].to, v150);

    let v141 = canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_4_1);
    let root = decode(Operation::DelegateCall, v141, multisend(&entries)).unwrap();
    let ActionKind::Batch { actions, .. } = root.kind else {
        panic!()
    };
    assert_eq!(actions[0].to, Address::ZERO);
}

#[test]
fn batch_shaped_calls_to_unknown_contracts_are_decoded_and_flagged() {
    let data = multisend(&[(Operation::Call, TOKEN, U256::ZERO, transfer(ALICE, 5))]);
    let decoded =
        decode_transaction(&ctx(SafeVersion::V1_3_0), &tx(Operation::Call, BOB, data)).unwrap();
    assert!(matches!(
        decoded.root.kind,
        ActionKind::Batch {
            deployment: None,
            ..
        }
    ));
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::UnknownBatchContract { .. }]
    ));
    assert!(decoded.involvements().iter().any(|i| i.address == ALICE));
}

#[test]
fn refund_settings_are_listed_and_warned() {
    let mut t = tx(Operation::Call, BOB, Bytes::new());
    t.gas_price = U256::from(1);
    t.gas_token = TOKEN;
    t.refund_receiver = ALICE;
    let decoded = decode_transaction(&ctx(SafeVersion::V1_3_0), &t).unwrap();
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::HiddenRefundChannel { .. }]
    ));
    let roles: Vec<_> = decoded.involvements().iter().map(|i| i.role).collect();
    assert_eq!(
        roles,
        vec![
            AddressRole::CallTarget,
            AddressRole::RefundReceiver,
            AddressRole::GasToken
        ]
    );
}

#[test]
fn malformed_batches_are_typed_errors() {
    let batch = canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_3_0);
    let raw = |transactions: Vec<u8>| -> Bytes {
        IMultiSend::multiSendCall {
            transactions: transactions.into(),
        }
        .abi_encode()
        .into()
    };
    let good = encode_batch([BatchEntry {
        operation: Operation::Call,
        to: BOB,
        value: U256::ZERO,
        data: &[1, 2, 3],
    }]);

    let truncated = good[..good.len() - 1].to_vec();
    assert!(matches!(
        decode(Operation::DelegateCall, batch, raw(truncated)),
        Err(DecodeError::MalformedBatch {
            source: BatchError::DataOverrun { .. },
            ..
        })
    ));
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 10]);
    assert!(matches!(
        decode(Operation::DelegateCall, batch, raw(trailing)),
        Err(DecodeError::MalformedBatch {
            source: BatchError::Truncated {
                offset: 88,
                remaining: 10
            },
            ..
        })
    ));
    let mut bad_op = good.clone();
    bad_op[0] = 7;
    assert!(matches!(
        decode(Operation::DelegateCall, batch, raw(bad_op)),
        Err(DecodeError::MalformedBatch {
            source: BatchError::InvalidOperation { value: 7, .. },
            ..
        })
    ));
    // Bytes after the ABI encoding of multiSend(bytes) itself.
    let mut abi_trailing = raw(good.clone()).to_vec();
    abi_trailing.extend_from_slice(&[0; 32]);
    assert!(matches!(
        decode(Operation::DelegateCall, batch, abi_trailing.into()),
        Err(DecodeError::MalformedBatchCall { .. })
    ));

    let too_big = vec![0u8; MAX_CALLDATA_BYTES + 1];
    assert!(matches!(
        decode(Operation::Call, BOB, too_big.into()),
        Err(DecodeError::CalldataTooLarge { .. })
    ));

    let many = encode_batch((0..=MAX_BATCH_ENTRIES).map(|_| BatchEntry {
        operation: Operation::Call,
        to: BOB,
        value: U256::ZERO,
        data: &[],
    }));
    assert!(matches!(
        decode(Operation::DelegateCall, batch, raw(many)),
        Err(DecodeError::MalformedBatch {
            source: BatchError::TooManyEntries { .. },
            ..
        })
    ));

    // Each level holds many entries: total actions overflow before any single batch does.
    let leaf: Vec<(Operation, Address, U256, Vec<u8>)> = (0..MAX_BATCH_ENTRIES / 2)
        .map(|_| (Operation::Call, BOB, U256::ZERO, vec![]))
        .collect();
    let level = multisend(&leaf).to_vec();
    let wide: Vec<_> = (0..MAX_TOTAL_ACTIONS / leaf.len() + 1)
        .map(|_| (Operation::DelegateCall, batch, U256::ZERO, level.clone()))
        .collect();
    assert!(matches!(
        decode(Operation::DelegateCall, batch, multisend(&wide)),
        Err(DecodeError::TooManyActions { .. })
    ));

    let mut nested = multisend(&[(Operation::Call, BOB, U256::ZERO, vec![])]);
    for _ in 0..MAX_BATCH_DEPTH {
        nested = multisend(&[(Operation::DelegateCall, batch, U256::ZERO, nested.to_vec())]);
    }
    assert!(matches!(
        decode(Operation::DelegateCall, batch, nested),
        Err(DecodeError::BatchTooDeep { .. })
    ));
}

#[test]
fn calls_into_another_safe_are_decoded_as_such() {
    let other = address!("0x5afeb0b05afeb0b05afeb0b05afeb0b05afeb0b0");
    let add_owner = ISafe::addOwnerWithThresholdCall {
        owner: ALICE,
        _threshold: U256::from(1),
    }
    .abi_encode();
    // The proposing Safe's approval as the caller: r = the Safe, s = 0, v = 1.
    let mut signatures = vec![0u8; 12];
    signatures.extend_from_slice(SAFE.as_slice());
    signatures.extend_from_slice(&[0u8; 32]);
    signatures.push(1);
    let exec = |to: Address, data: Vec<u8>, operation: u8| ISafe::execTransactionCall {
        to,
        value: U256::ZERO,
        data: data.into(),
        operation,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        signatures: signatures.clone().into(),
    };
    let root = decode(
        Operation::Call,
        other,
        exec(other, add_owner, 0).abi_encode().into(),
    )
    .unwrap();
    let ActionKind::SafeTransaction { inner, settings } = &root.kind else {
        panic!("{root:?}")
    };
    assert_eq!(settings.signatures.len(), 65);
    // The inner self-call is the other Safe's configuration change, not an unknown call.
    assert!(
        matches!(
            &inner.kind,
            ActionKind::SafeConfig {
                call: SafeConfigCall::AddOwnerWithThreshold { owner, .. }
            } if *owner == ALICE
        ),
        "{inner:?}"
    );
    let words = root.plain_words(Some(SAFE));
    assert!(
        words.contains("executes a transaction of that Safe"),
        "{words}"
    );
    assert!(words.contains("addOwnerWithThreshold"), "{words}");
    let alice = root
        .involvements(&ActionPath::default(), "execTransaction")
        .into_iter()
        .find(|i| i.address == ALICE)
        .unwrap();
    assert_eq!(alice.path.to_string(), "execTransaction");

    // Two levels: the inner transaction is itself another Safe's.
    let two = decode(
        Operation::Call,
        other,
        exec(TOKEN, exec(BOB, transfer(ALICE, 1), 1).abi_encode(), 0)
            .abi_encode()
            .into(),
    )
    .unwrap();
    let ActionKind::SafeTransaction { inner, .. } = &two.kind else {
        panic!("{two:?}")
    };
    let ActionKind::SafeTransaction { inner, .. } = &inner.kind else {
        panic!("{inner:?}")
    };
    assert_eq!(inner.operation, Operation::DelegateCall);

    let approve = ISafe::approveHashCall {
        hashToApprove: B256::repeat_byte(7),
    }
    .abi_encode();
    assert_eq!(
        decode(Operation::Call, other, approve.into()).unwrap().kind,
        ActionKind::ForeignApproveHash {
            hash: B256::repeat_byte(7)
        }
    );
    // An operation other than CALL or DELEGATECALL is not a transaction the Safe runs.
    let bad = exec(other, Vec::new(), 2).abi_encode();
    assert!(matches!(
        decode(Operation::Call, other, bad.into()).unwrap().kind,
        ActionKind::Unknown { .. }
    ));
}
