//! Round trips of random nested batches, and the cross-check against alloy's dynamic ABI decoder.

use super::*;

/// The decoder agrees with alloy's dynamic ABI decoder on the ABI layer.
#[test]
fn agrees_with_alloy_dyn_abi() {
    let data = transfer(ALICE, 42);
    let ty = DynSolType::Tuple(vec![DynSolType::Address, DynSolType::Uint(256)]);
    let DynSolValue::Tuple(values) = ty.abi_decode_params(&data[4..]).unwrap() else {
        panic!()
    };
    let ActionKind::Token {
        call: TokenCall::Transfer { recipient, amount },
    } = decode(Operation::Call, TOKEN, data.clone().into())
        .unwrap()
        .kind
    else {
        panic!()
    };
    assert_eq!(
        values,
        vec![
            DynSolValue::Address(recipient),
            DynSolValue::Uint(amount, 256)
        ]
    );

    let entries = [(Operation::Call, TOKEN, U256::from(3), data)];
    let encoded = multisend(&entries);
    let DynSolValue::Tuple(outer) = DynSolType::Tuple(vec![DynSolType::Bytes])
        .abi_decode_params(&encoded[4..])
        .unwrap()
    else {
        panic!()
    };
    let DynSolValue::Bytes(transactions) = &outer[0] else {
        panic!()
    };
    let parsed = signgate_simulator::decode::parse_batch(transactions).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!((parsed[0].to, parsed[0].value), (TOKEN, U256::from(3)));
}

#[derive(Debug, Clone)]
enum Node {
    Eth {
        op: Operation,
        to: Address,
        value: U256,
    },
    Transfer {
        op: Operation,
        token: Address,
        recipient: Address,
        amount: U256,
    },
    Opaque {
        op: Operation,
        to: Address,
        tail: Vec<u8>,
    },
    Batch {
        op: Operation,
        entries: Vec<Node>,
    },
}

const OPAQUE_SELECTOR: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

fn batch_address() -> Address {
    canonical(SafeContract::MultiSend, SafeVersion::V1_3_0)
}

fn arb_op() -> impl Strategy<Value = Operation> {
    prop_oneof![Just(Operation::Call), Just(Operation::DelegateCall)]
}

fn arb_address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>()
        .prop_map(Address::from)
        .prop_filter("not special", |a| {
            *a != SAFE && deployments::lookup(*a).is_none() && !a.is_zero()
        })
}

fn arb_node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (arb_op(), arb_address(), any::<u64>()).prop_map(|(op, to, v)| Node::Eth {
            op,
            to,
            value: U256::from(v)
        }),
        (arb_op(), arb_address(), arb_address(), any::<[u8; 32]>()).prop_map(
            |(op, token, recipient, a)| Node::Transfer {
                op,
                token,
                recipient,
                amount: B256::from(a).into()
            }
        ),
        (
            arb_op(),
            arb_address(),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(op, to, tail)| Node::Opaque { op, to, tail }),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        (arb_op(), proptest::collection::vec(inner, 0..5))
            .prop_map(|(op, entries)| Node::Batch { op, entries })
    })
}

impl Node {
    fn encode(&self) -> (Operation, Address, U256, Vec<u8>) {
        match self {
            Node::Eth { op, to, value } => (*op, *to, *value, vec![]),
            Node::Transfer {
                op,
                token,
                recipient,
                amount,
            } => (
                *op,
                *token,
                U256::ZERO,
                IERC20::transferCall {
                    to: *recipient,
                    amount: *amount,
                }
                .abi_encode(),
            ),
            Node::Opaque { op, to, tail } => {
                (*op, *to, U256::ZERO, [&OPAQUE_SELECTOR[..], tail].concat())
            }
            Node::Batch { op, entries } => {
                let encoded: Vec<_> = entries.iter().map(Node::encode).collect();
                (
                    *op,
                    batch_address(),
                    U256::ZERO,
                    multisend(&encoded).to_vec(),
                )
            }
        }
    }

    fn expected(&self) -> Action {
        let (operation, to, value, data) = self.encode();
        let kind = match self {
            Node::Eth { .. } => ActionKind::NativeTransfer,
            Node::Transfer {
                recipient, amount, ..
            } => ActionKind::Token {
                call: TokenCall::Transfer {
                    recipient: *recipient,
                    amount: *amount,
                },
            },
            Node::Opaque { .. } => ActionKind::Unknown {
                selector: Some(OPAQUE_SELECTOR),
                arguments: data.get(4..).unwrap_or_default().to_vec().into(),
            },
            Node::Batch { entries, .. } => ActionKind::Batch {
                deployment: deployments::lookup(batch_address()).copied(),
                actions: entries.iter().map(Node::expected).collect(),
            },
        };
        Action {
            operation,
            to,
            value,
            data_len: data.len(),
            kind,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Encode a random (nested, mixed-operation) batch, decode it, get the same tree back.
    #[test]
    fn batches_round_trip(node in arb_node()) {
        prop_assume!(known_function(PERMIT2, OPAQUE_SELECTOR).is_none());
        let (op, to, value, data) = node.encode();
        let decoded = decode_calldata(SAFE, op, to, value, &data).unwrap();
        prop_assert_eq!(decoded, node.expected());
    }

    /// Arbitrary bytes behind the multiSend selector never panic and never decode partially.
    #[test]
    fn arbitrary_batch_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let data = [&IMultiSend::multiSendCall::SELECTOR[..], &tail].concat();
        let _ = decode_calldata(SAFE, Operation::DelegateCall, batch_address(), U256::ZERO, &data);
    }
}
