//! Every call family the decoder knows, each to its typed kind and roles.

use super::*;

#[test]
fn token_permit2_and_library_calls() {
    let cases: Vec<(Address, Vec<u8>, ActionKind)> = vec![
        (
            TOKEN,
            IERC20::transferFromCall {
                from: ALICE,
                to: BOB,
                amount: U256::from(7),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::TransferFrom {
                    from: ALICE,
                    recipient: BOB,
                    amount_or_token_id: U256::from(7),
                },
            },
        ),
        (
            TOKEN,
            IERC20::approveCall {
                spender: BOB,
                amount: U256::MAX,
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::Approve {
                    spender: BOB,
                    amount_or_token_id: U256::MAX,
                },
            },
        ),
        (
            TOKEN,
            IERC20::increaseAllowanceCall {
                spender: BOB,
                addedValue: U256::from(1),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::IncreaseAllowance {
                    spender: BOB,
                    added: U256::from(1),
                },
            },
        ),
        (
            TOKEN,
            IERC721::safeTransferFrom_0Call {
                from: SAFE,
                to: BOB,
                tokenId: U256::from(3),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::Erc721SafeTransferFrom {
                    from: SAFE,
                    recipient: BOB,
                    token_id: U256::from(3),
                },
            },
        ),
        (
            TOKEN,
            IERC721::safeTransferFrom_1Call {
                from: SAFE,
                to: BOB,
                tokenId: U256::from(3),
                data: Bytes::new(),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::Erc721SafeTransferFrom {
                    from: SAFE,
                    recipient: BOB,
                    token_id: U256::from(3),
                },
            },
        ),
        (
            TOKEN,
            IERC721::setApprovalForAllCall {
                operator: BOB,
                approved: true,
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::SetApprovalForAll {
                    operator: BOB,
                    approved: true,
                },
            },
        ),
        (
            TOKEN,
            IERC1155::safeTransferFromCall {
                from: SAFE,
                to: BOB,
                id: U256::from(1),
                value: U256::from(2),
                data: Bytes::new(),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::Erc1155SafeTransferFrom {
                    from: SAFE,
                    recipient: BOB,
                    id: U256::from(1),
                    amount: U256::from(2),
                },
            },
        ),
        (
            TOKEN,
            IERC1155::safeBatchTransferFromCall {
                from: SAFE,
                to: BOB,
                ids: vec![U256::from(1)],
                values: vec![U256::from(2)],
                data: Bytes::new(),
            }
            .abi_encode(),
            ActionKind::Token {
                call: TokenCall::Erc1155SafeBatchTransferFrom {
                    from: SAFE,
                    recipient: BOB,
                    ids: vec![U256::from(1)],
                    amounts: vec![U256::from(2)],
                },
            },
        ),
        (
            PERMIT2,
            IPermit2::approveCall {
                token: TOKEN,
                spender: BOB,
                amount: U160::from(5),
                expiration: alloy_primitives::aliases::U48::from(9),
            }
            .abi_encode(),
            ActionKind::Permit2 {
                call: Permit2Call::Approve {
                    token: TOKEN,
                    spender: BOB,
                    amount: U256::from(5),
                    expiration: 9,
                },
            },
        ),
        (
            PERMIT2,
            IPermit2::lockdownCall {
                approvals: vec![IPermit2::TokenSpenderPair {
                    token: TOKEN,
                    spender: BOB,
                }],
            }
            .abi_encode(),
            ActionKind::Permit2 {
                call: Permit2Call::Lockdown {
                    pairs: vec![(TOKEN, BOB)],
                },
            },
        ),
        (
            PERMIT2,
            IPermit2::transferFrom_0Call {
                from: ALICE,
                to: BOB,
                amount: U160::from(5),
                token: TOKEN,
            }
            .abi_encode(),
            ActionKind::Permit2 {
                call: Permit2Call::TransferFrom {
                    transfers: vec![signgate_simulator::decode::Permit2Transfer {
                        from: ALICE,
                        recipient: BOB,
                        amount: U256::from(5),
                        token: TOKEN,
                    }],
                },
            },
        ),
        (
            canonical(SafeContract::CreateCall, SafeVersion::V1_4_1),
            ICreateCall::performCreateCall {
                value: U256::ZERO,
                deploymentData: Bytes::from_static(&[0x60, 0]),
            }
            .abi_encode(),
            ActionKind::SafeLibrary {
                call: SafeLibraryCall::PerformCreate {
                    value: U256::ZERO,
                    init_code_len: 2,
                },
            },
        ),
    ];
    for (to, data, expected) in cases {
        assert_eq!(
            decode(Operation::Call, to, data.into()).unwrap().kind,
            expected
        );
    }

    let permit = IPermit2::permit_0Call {
        owner: SAFE,
        permitSingle: IPermit2::PermitSingle {
            details: IPermit2::PermitDetails {
                token: TOKEN,
                amount: U160::from(1),
                expiration: Default::default(),
                nonce: Default::default(),
            },
            spender: BOB,
            sigDeadline: U256::ZERO,
        },
        signature: Bytes::new(),
    };
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_3_0),
        &tx(Operation::Call, PERMIT2, permit.abi_encode().into()),
    )
    .unwrap();
    let roles: Vec<_> = decoded
        .involvements()
        .iter()
        .map(|i| (i.address, i.role))
        .collect();
    assert!(
        roles.contains(&(BOB, AddressRole::Spender))
            && roles.contains(&(TOKEN, AddressRole::Token))
    );

    // A canonical SignMessageLib is a trusted delegatecall target: no warning.
    let lib = canonical(SafeContract::SignMessageLib, SafeVersion::V1_4_1);
    let data = ISignMessageLib::signMessageCall {
        _data: Bytes::from_static(b"hi"),
    }
    .abi_encode();
    let decoded = decode_transaction(
        &ctx(SafeVersion::V1_4_1),
        &tx(Operation::DelegateCall, lib, data.into()),
    )
    .unwrap();
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
}
