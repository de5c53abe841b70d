//! Issue 2's differential tests: our hashing and signature checking against the real Safe
//! contracts (1.1.1, 1.3.0, 1.4.1, 1.5.0) deployed behind a proxy and set up in revm.
//!
//! Case counts are modest on purpose (CI has two cores); every case runs real Safe code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::cell::RefCell;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use revm::context_interface::result::ExecutionResult;
use signgate_simulator::{
    Operation, SafeContext, SafeTx,
    abi::ISafe,
    constants::slots,
    evm::exec_transaction_calldata,
    hash::{eth_sign_digest, safe_tx_hashes},
    safe_tx_hash,
    signature::{SignatureCheck, check_n_signatures, check_signatures},
};

use crate::support::{CHAIN_ID, DEPLOYER, RELEASES, Release, V111, World, owners};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn arb_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::ZERO),
        any::<[u8; 20]>().prop_map(Address::from)
    ]
}

fn arb_u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes)
    ]
}

fn arb_safe_tx() -> impl Strategy<Value = SafeTx> {
    (
        arb_address(),
        arb_u256(),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        (arb_u256(), arb_u256(), arb_u256()),
        (arb_address(), arb_address(), arb_u256()),
    )
        .prop_map(
            |(to, value, data, delegate, (stg, bg, gp), (gt, rr, nonce))| SafeTx {
                to,
                value,
                data: data.into(),
                operation: if delegate {
                    Operation::DelegateCall
                } else {
                    Operation::Call
                },
                safe_tx_gas: stg,
                base_gas: bg,
                gas_price: gp,
                gas_token: gt,
                refund_receiver: rr,
                nonce,
            },
        )
}

fn safe_with_owners(
    release: Release,
    keys: &[PrivateKeySigner],
    threshold: u64,
) -> (World, Address) {
    let mut world = World::new();
    let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = world.deploy_safe(release, &addrs, threshold);
    (world, safe)
}

#[test]
fn get_transaction_hash_equals_ours_for_every_version() {
    for release in RELEASES {
        let keys = owners(3);
        let (world, safe) = safe_with_owners(release, &keys, 2);
        let world = RefCell::new(world);
        let ctx = SafeContext {
            chain_id: CHAIN_ID,
            safe,
            version: release.version,
        };
        runner(40)
            .run(&arb_safe_tx(), |tx| {
                let call = ISafe::getTransactionHashCall {
                    to: tx.to,
                    value: tx.value,
                    data: tx.data.clone(),
                    operation: tx.operation.as_u8(),
                    safeTxGas: tx.safe_tx_gas,
                    baseGas: tx.base_gas,
                    gasPrice: tx.gas_price,
                    gasToken: tx.gas_token,
                    refundReceiver: tx.refund_receiver,
                    _nonce: tx.nonce,
                };
                let out = world.borrow_mut().view(safe, call.abi_encode().into());
                let ExecutionResult::Success { output, .. } = out else {
                    return Err(TestCaseError::fail(format!("{}: {out:?}", release.dir)));
                };
                let theirs =
                    ISafe::getTransactionHashCall::abi_decode_returns(output.data()).unwrap();
                prop_assert_eq!(theirs, safe_tx_hash(&ctx, &tx), "{}", release.dir);
                Ok(())
            })
            .unwrap();
    }
}

/// How one 65-byte part of a generated blob is made.
#[derive(Debug, Clone)]
enum Part {
    /// ECDSA over the safeTxHash by key `i` (owners are 0..4, 4 and 5 are strangers).
    Ecdsa(usize),
    /// eth_sign (v = 31/32) by key `i`.
    EthSign(usize),
    /// Approved hash (v = 1) for key `i`'s address.
    Approved(usize),
    /// Contract signature (v = 0) naming key `i` as signer, with an arbitrary offset.
    Contract(usize, u16),
    /// ECDSA by key `i` with its v byte replaced.
    OddV(usize, u8),
}

#[derive(Debug, Clone)]
struct BlobCase {
    parts: Vec<Part>,
    /// Sort the parts by signer address (as a wallet would) before packing.
    sorted: bool,
    /// Bytes cut off the end (malformed, short blobs).
    cut: usize,
    /// Trailing bytes (dynamic parts, garbage).
    tail: Vec<u8>,
    /// Owners that approved the hash on chain.
    approvals: [bool; 4],
    /// Whether the executor (msg.sender) is owner 1 rather than a stranger.
    owner_executes: bool,
}

fn arb_part() -> impl Strategy<Value = Part> {
    let who = 0usize..6;
    prop_oneof![
        4 => who.clone().prop_map(Part::Ecdsa),
        2 => who.clone().prop_map(Part::EthSign),
        2 => who.clone().prop_map(Part::Approved),
        1 => (who.clone(), any::<u16>()).prop_map(|(i, o)| Part::Contract(i, o)),
        1 => (who, prop_oneof![Just(2u8), Just(26), Just(29), Just(30), Just(33), any::<u8>()])
            .prop_map(|(i, v)| Part::OddV(i, v)),
    ]
}

fn arb_parts() -> impl Strategy<Value = Vec<Part>> {
    let owner = 0usize..4;
    let good = prop_oneof![
        owner.clone().prop_map(Part::Ecdsa),
        owner.clone().prop_map(Part::EthSign),
        owner.prop_map(Part::Approved),
    ];
    prop_oneof![
        // Two owner signatures of valid kinds: accepted when distinct, sorted and approved.
        2 => proptest::collection::vec(good, 2..=2),
        3 => proptest::collection::vec(arb_part(), 0..4),
    ]
}

fn arb_blob_case() -> impl Strategy<Value = BlobCase> {
    (
        arb_parts(),
        prop::bool::weighted(0.8),
        prop_oneof![8 => Just(0usize), 1 => 1usize..70],
        prop_oneof![8 => Just(Vec::new()), 1 => proptest::collection::vec(any::<u8>(), 1..80)],
        any::<[bool; 4]>(),
        any::<bool>(),
    )
        .prop_map(
            |(parts, sorted, cut, tail, approvals, owner_executes)| BlobCase {
                parts,
                sorted,
                cut,
                tail,
                approvals,
                owner_executes,
            },
        )
}

fn part_bytes(p: &Part, keys: &[PrivateKeySigner], hash: B256) -> Vec<u8> {
    let ecdsa = |i: usize, digest: B256| {
        let sig = keys[i].sign_hash_sync(&digest).unwrap();
        let mut b = sig.as_bytes().to_vec();
        b[64] = 27 + u8::from(sig.v());
        b
    };
    match p {
        Part::Ecdsa(i) => ecdsa(*i, hash),
        Part::EthSign(i) => {
            let mut b = ecdsa(*i, eth_sign_digest(hash));
            b[64] += 4;
            b
        }
        Part::Approved(i) | Part::Contract(i, _) => {
            let mut b = keys[*i].address().into_word().to_vec();
            let s = match p {
                Part::Contract(_, o) => U256::from(*o),
                _ => U256::ZERO,
            };
            b.extend_from_slice(&s.to_be_bytes::<32>());
            b.push(u8::from(matches!(p, Part::Approved(_))));
            b
        }
        Part::OddV(i, v) => {
            let mut b = ecdsa(*i, hash);
            b[64] = *v;
            b
        }
    }
}

fn signer_of(p: &Part, keys: &[PrivateKeySigner]) -> Address {
    let (Part::Ecdsa(i)
    | Part::EthSign(i)
    | Part::Approved(i)
    | Part::Contract(i, _)
    | Part::OddV(i, _)) = p;
    keys[*i].address()
}

fn build_blob(case: &BlobCase, keys: &[PrivateKeySigner], hash: B256) -> Vec<u8> {
    let mut parts = case.parts.clone();
    if case.sorted {
        parts.sort_by_key(|p| signer_of(p, keys));
    }
    let mut blob: Vec<u8> = parts
        .iter()
        .flat_map(|p| part_bytes(p, keys, hash))
        .collect();
    blob.extend_from_slice(&case.tail);
    let keep = blob.len().saturating_sub(case.cut);
    blob.truncate(keep);
    blob
}

/// Sorted keys: 0..4 are the Safe's owners (threshold 2), 4 and 5 are strangers.
fn six_keys() -> Vec<PrivateKeySigner> {
    let mut keys = owners(6);
    // Interleave strangers among owners in address order so sorting tests mean something.
    let strangers = vec![keys.remove(1), keys.remove(3)];
    keys.extend(strangers);
    keys
}

#[test]
fn contract_accepts_exactly_the_blobs_our_checker_accepts() {
    for release in RELEASES {
        let keys = six_keys();
        let owner_addrs: Vec<Address> = keys[..4].iter().map(|k| k.address()).collect();
        let (world, safe) = safe_with_owners(release, &keys[..4], 2);
        let world = RefCell::new(world);
        let ctx = SafeContext {
            chain_id: CHAIN_ID,
            safe,
            version: release.version,
        };
        let tx = SafeTx::call(
            crate::support::RECIPIENT,
            U256::ZERO,
            Bytes::new(),
            U256::ZERO,
        );
        let hashes = safe_tx_hashes(&ctx, &tx);
        let hash = hashes.safe_tx_hash;
        let tally = RefCell::new((0u32, 0u32));
        runner(if release.version == V111.version {
            48
        } else {
            64
        })
        .run(&arb_blob_case(), |case| {
            let blob = build_blob(&case, &keys, hash);
            let executor = if case.owner_executes {
                keys[1].address()
            } else {
                DEPLOYER
            };
            let mut w = world.borrow_mut();
            for (i, approved) in case.approvals.iter().enumerate() {
                let slot = slots::approved_hash(keys[i].address(), hash);
                w.set_storage(safe, slot, U256::from(u8::from(*approved)));
            }
            let check = SignatureCheck::for_safe_tx(
                release.version,
                &hashes,
                &blob,
                &owner_addrs,
                executor,
            );
            let approved = |a: Address| {
                keys[..4]
                    .iter()
                    .zip(case.approvals)
                    .any(|(k, ok)| ok && k.address() == a)
            };
            // No owner is a contract here: every EIP-1271 question is answered "no" on chain.
            let ours = if release.version.has_public_check_signatures() {
                check_n_signatures(&check, U256::from(2), approved, |_| false)
            } else {
                check_signatures(&check, U256::from(2), approved, |_| false)
            };
            let theirs = if release.version.has_public_check_signatures() {
                let data = if release.version.uses_bytes32_eip1271() {
                    ISafe::checkNSignatures_1Call {
                        executor,
                        dataHash: hash,
                        signatures: blob.clone().into(),
                        requiredSignatures: U256::from(2),
                    }
                    .abi_encode()
                } else {
                    ISafe::checkNSignatures_0Call {
                        dataHash: hash,
                        data: hashes.preimage.clone(),
                        signatures: blob.clone().into(),
                        requiredSignatures: U256::from(2),
                    }
                    .abi_encode()
                };
                w.view_from(executor, safe, data.into())
            } else {
                w.view_from(
                    executor,
                    safe,
                    exec_transaction_calldata(&tx, blob.clone().into()),
                )
            };
            let contract_ok = theirs.is_success();
            let mut t = tally.borrow_mut();
            if contract_ok {
                t.0 += 1
            } else {
                t.1 += 1
            }
            prop_assert_eq!(
                ours.accepted(),
                contract_ok,
                "{}: ours {:?} / contract {:?} for {:?}",
                release.dir,
                ours.failure,
                theirs,
                case
            );
            Ok(())
        })
        .unwrap();
        let (accepted, rejected) = *tally.borrow();
        // Both verdicts must be exercised, or the comparison proves little.
        assert!(
            accepted >= 3 && rejected >= 3,
            "{}: {accepted} accepted, {rejected} rejected",
            release.dir
        );
    }
}
