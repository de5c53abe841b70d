//! What signgate does to every request before any simulation: recompute the hashes, decode the
//! calldata, recover and check the owners' signatures.
//!
//! (a) a plain ETH transfer with three ECDSA signatures; (b) a 50-action MultiSendCallOnly batch of
//! ERC-20 transfers with the same three signatures; and, in the same run, the floors: three bare
//! recoveries with libsecp256k1 (what signgate uses) and with k256 (what it used before).

#![expect(
    clippy::unwrap_used,
    reason = "bench setup: broken fixtures must abort the bench loudly"
)]

use std::hint::black_box;

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use criterion::{Criterion, criterion_group, criterion_main};
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{IERC20, IMultiSend},
    decode::{BatchEntry, decode_transaction, encode_batch},
    deployments::{self, SafeContract},
    hash::safe_tx_hashes,
    signature::{OwnerSignature, SignatureCheck, check_signatures, pack_signatures},
};

const SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");

struct Case {
    ctx: SafeContext,
    tx: SafeTx,
    owners: Vec<Address>,
    signatures: Bytes,
}

fn case(tx: SafeTx) -> Case {
    let ctx = SafeContext {
        chain_id: 1,
        safe: SAFE,
        version: SafeVersion::V1_4_1,
    };
    let keys: Vec<PrivateKeySigner> = (1..=3u8)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect();
    let hash = safe_tx_hashes(&ctx, &tx).safe_tx_hash;
    let parts: Vec<_> = keys
        .iter()
        .map(|k| {
            (
                k.address(),
                OwnerSignature::Ecdsa(k.sign_hash_sync(&hash).unwrap()),
            )
        })
        .collect();
    Case {
        ctx,
        tx,
        owners: keys.iter().map(|k| k.address()).collect(),
        signatures: pack_signatures(&parts).unwrap(),
    }
}

/// The case's three signatures as libsecp256k1 recoverable signatures over its safeTxHash.
fn bare_recoveries(
    case: &Case,
) -> Vec<(secp256k1::Message, secp256k1::ecdsa::RecoverableSignature)> {
    let hash = safe_tx_hashes(&case.ctx, &case.tx).safe_tx_hash;
    case.signatures
        .chunks(65)
        .map(|part| {
            let (compact, v) = part.split_at(64);
            let id =
                secp256k1::ecdsa::RecoveryId::try_from(i32::from(v.first().unwrap() - 27)).unwrap();
            let sig = secp256k1::ecdsa::RecoverableSignature::from_compact(compact, id).unwrap();
            (secp256k1::Message::from_digest(hash.0), sig)
        })
        .collect()
}

/// Hash, decode and check: the full static pipeline, returning whether the blob is accepted.
fn pipeline(case: &Case) -> bool {
    let decoded = decode_transaction(&case.ctx, &case.tx).unwrap();
    let check = SignatureCheck::for_safe_tx(
        case.ctx.version,
        &decoded.hashes,
        &case.signatures,
        &case.owners,
        Address::ZERO,
    );
    let report = check_signatures(&check, U256::from(3), |_| false, |_| false);
    black_box(&decoded);
    report.accepted()
}

fn bench(c: &mut Criterion) {
    let transfer = case(SafeTx::call(
        address!("0x88a1493366D48225fc3cEFbdae9eBb23E323Ade3"),
        U256::from(10u64).pow(U256::from(21)),
        Bytes::new(),
        U256::from(7),
    ));
    assert!(pipeline(&transfer));
    c.bench_function("transfer_3_signatures", |b| {
        b.iter(|| pipeline(black_box(&transfer)))
    });
    // The floor the issue measures the pipeline against, in the same run: three bare
    // libsecp256k1 recoveries of the same signatures, no hashing of the transaction, no
    // decoding, no checks.
    // The pure-Rust curve the recovery used before (k256, through alloy), same signatures.
    let k256: Vec<(B256, alloy_primitives::Signature)> = transfer
        .signatures
        .chunks(65)
        .map(|part| {
            let hash = safe_tx_hashes(&transfer.ctx, &transfer.tx).safe_tx_hash;
            (hash, alloy_primitives::Signature::from_raw(part).unwrap())
        })
        .collect();
    c.bench_function("k256_3_recoveries", |b| {
        b.iter(|| {
            for (digest, sig) in &k256 {
                black_box(sig.recover_address_from_prehash(black_box(digest)).unwrap());
            }
        })
    });
    let bare = bare_recoveries(&transfer);
    c.bench_function("libsecp256k1_3_recoveries", |b| {
        b.iter(|| {
            for (digest, sig) in &bare {
                black_box(
                    secp256k1::SECP256K1
                        .recover_ecdsa(*digest, black_box(sig))
                        .unwrap(),
                );
            }
        })
    });

    let token = address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
    let calls: Vec<Vec<u8>> = (0..50u8)
        .map(|i| {
            IERC20::transferCall {
                to: Address::repeat_byte(i + 1),
                amount: U256::from(i),
            }
            .abi_encode()
        })
        .collect();
    let transactions = encode_batch(calls.iter().map(|data| BatchEntry {
        operation: Operation::Call,
        to: token,
        value: U256::ZERO,
        data,
    }));
    let batch =
        deployments::canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_4_1).unwrap();
    let data = IMultiSend::multiSendCall {
        transactions: transactions.into(),
    }
    .abi_encode();
    let multisend = case(SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(batch, U256::ZERO, data.into(), U256::from(8))
    });
    assert!(pipeline(&multisend));
    c.bench_function("multisend_50_actions_3_signatures", |b| {
        b.iter(|| pipeline(black_box(&multisend)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
