//! Differential: a Safe transaction and a signature blob, both built from the input, through our
//! hashing and `check_n_signatures` and through the real Safe contracts in revm (creation code
//! from `simulator/fixtures/safe/v{1.1.1,1.3.0,1.4.1,1.5.0}`, each deployed behind its own proxy
//! and set up with four owners).
//!
//! - **Hash**: our safeTxHash of the transaction, every field taken from the input, equals the
//!   contract's `getTransactionHash` for that version (1.1.1's domain has no chain id).
//! - **Signatures**: 1.3.0, 1.4.1 and 1.5.0 through `checkNSignatures(dataHash, data,
//!   signatures, required)`; 1.1.1, which has no such function, through `execTransaction` itself
//!   (run, never committed) on a Safe whose threshold is the required count, with a transaction
//!   that can only fail by its signatures. Both must agree on accept or reject; when we accept,
//!   the signers we count are distinct owners in ascending order, as the contract requires.
//!
//! Input: a header byte (required signatures 1..=4, whether an owner executes, which owners
//! approved the hash on chain, whether the transaction's fields come from the input), a version
//! byte, eight bytes of nonce, the fields when the header asks for them (to, value, operation,
//! safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, a data length and the data), a part
//! count, then per part a kind byte, a key byte and an extra byte, then a cut byte and any
//! trailing bytes appended to the blob. Parts are made from six fixed keys (four owners, two
//! strangers): ECDSA, eth_sign, approved hash, contract signature (offset from the extra byte),
//! ECDSA with the extra byte as `v`, or 65 bytes of the input as they are.
#![no_main]

use std::cell::RefCell;

use alloy_primitives::{Address, B256, Bytes, U256, address, hex};
use alloy_sol_types::{SolCall, SolValue};
use libfuzzer_sys::fuzz_target;
use revm::{
    ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
    context::{Context, TxEnv},
    context_interface::result::ExecutionResult,
    database::{CacheDB, EmptyDB},
    primitives::{TxKind, hardfork::SpecId},
    state::AccountInfo,
};
use secp256k1::{Message, SECP256K1, SecretKey};
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::ISafe,
    constants::slots,
    hash::{eth_sign_digest, safe_tx_hashes},
    signature::{SignatureCheck, check_n_signatures},
};

const CHAIN_ID: u64 = 1337;
const DEPLOYER: Address = address!("0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
const RECIPIENT: Address = address!("0x00000000000000000000000000000000000beef1");
/// The versions compared, with their singleton's and proxy's artifacts.
const VERSIONS: [(SafeVersion, &str, &str); 4] = [
    (
        SafeVersion::V1_1_1,
        include_str!("../../../simulator/fixtures/safe/v1.1.1/GnosisSafe.json"),
        include_str!("../../../simulator/fixtures/safe/v1.1.1/Proxy.json"),
    ),
    (
        SafeVersion::V1_3_0,
        include_str!("../../../simulator/fixtures/safe/v1.3.0/GnosisSafe.json"),
        include_str!("../../../simulator/fixtures/safe/v1.3.0/GnosisSafeProxy.json"),
    ),
    (
        SafeVersion::V1_4_1,
        include_str!("../../../simulator/fixtures/safe/v1.4.1/Safe.json"),
        include_str!("../../../simulator/fixtures/safe/v1.4.1/SafeProxy.json"),
    ),
    (
        SafeVersion::V1_5_0,
        include_str!("../../../simulator/fixtures/safe/v1.5.0/Safe.json"),
        include_str!("../../../simulator/fixtures/safe/v1.5.0/SafeProxy.json"),
    ),
];

/// The Safes of one version: `by_threshold[t - 1]` has threshold `t` (1.1.1 checks signatures
/// only against its threshold; the others take the required count as an argument and use the
/// first).
struct Deployed {
    version: SafeVersion,
    by_threshold: Vec<Address>,
}

struct World {
    db: CacheDB<EmptyDB>,
    safes: Vec<Deployed>,
    /// Sorted by address: the first four are the Safe's owners, the last two strangers.
    keys: Vec<(SecretKey, Address)>,
}

fn creation_code(artifact: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(artifact).expect("artifact JSON");
    hex::decode(v["creationBytecode"].as_str().expect("creationBytecode")).expect("hex")
}

fn evm_tx(caller: Address, kind: TxKind, data: Bytes, nonce: u64) -> TxEnv {
    TxEnv::builder()
        .caller(caller)
        .kind(kind)
        .data(data)
        .gas_limit(15_000_000)
        .gas_price(0)
        .nonce(nonce)
        .chain_id(Some(CHAIN_ID))
        .build()
        .expect("tx env")
}

fn commit(db: &mut CacheDB<EmptyDB>, kind: TxKind, data: Bytes, nonce: u64) -> ExecutionResult {
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.set_spec_and_mainnet_gas_params(SpecId::SHANGHAI);
            c.chain_id = CHAIN_ID;
            c.disable_base_fee = true;
            c.disable_balance_check = true;
        })
        .build_mainnet();
    evm.transact_commit(evm_tx(DEPLOYER, kind, data, nonce))
        .expect("transact")
}

fn view(db: &mut CacheDB<EmptyDB>, caller: Address, to: Address, data: Bytes) -> ExecutionResult {
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.set_spec_and_mainnet_gas_params(SpecId::SHANGHAI);
            c.chain_id = CHAIN_ID;
            c.disable_base_fee = true;
            c.disable_balance_check = true;
            c.disable_nonce_check = true;
        })
        .build_mainnet();
    evm.transact(evm_tx(caller, TxKind::Call(to), data, 0))
        .expect("transact")
        .result
}

impl World {
    fn new() -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            DEPLOYER,
            AccountInfo::default().with_balance(U256::from(10).pow(U256::from(21))),
        );
        let mut keys: Vec<(SecretKey, Address)> = (1..=6u8)
            .map(|i| {
                let sk = SecretKey::from_byte_array([0x10 + i; 32]).expect("key");
                let pk = sk.public_key(SECP256K1).serialize_uncompressed();
                let address = Address::from_raw_public_key(pk.get(1..).expect("65 bytes"));
                (sk, address)
            })
            .collect();
        keys.sort_by_key(|k| k.1);
        // Interleave the strangers among the owners in address order.
        let strangers = [keys.remove(1), keys.remove(3)];
        keys.extend(strangers);
        let deployed = |r: ExecutionResult| match r {
            ExecutionResult::Success { output, .. } => *output.address().expect("created"),
            other => panic!("deploy failed: {other:?}"),
        };
        let mut nonce = 0;
        let mut next = || {
            nonce += 1;
            nonce - 1
        };
        let owners: Vec<Address> = keys.iter().take(4).map(|k| k.1).collect();
        let mut safes = Vec::new();
        for (version, singleton_json, proxy_json) in VERSIONS {
            let singleton = deployed(commit(
                &mut db,
                TxKind::Create,
                creation_code(singleton_json).into(),
                next(),
            ));
            let mut by_threshold = Vec::new();
            for threshold in 1..=4u64 {
                let mut proxy = creation_code(proxy_json);
                proxy.extend(singleton.abi_encode());
                let safe = deployed(commit(&mut db, TxKind::Create, proxy.into(), next()));
                let setup = ISafe::setupCall {
                    _owners: owners.clone(),
                    _threshold: U256::from(threshold),
                    to: Address::ZERO,
                    data: Bytes::new(),
                    fallbackHandler: Address::ZERO,
                    paymentToken: Address::ZERO,
                    payment: U256::ZERO,
                    paymentReceiver: Address::ZERO,
                };
                let r = commit(
                    &mut db,
                    TxKind::Call(safe),
                    setup.abi_encode().into(),
                    next(),
                );
                assert!(r.is_success(), "{version} setup failed: {r:?}");
                by_threshold.push(safe);
            }
            safes.push(Deployed {
                version,
                by_threshold,
            });
        }
        Self { db, safes, keys }
    }
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new(World::new());
}

fn ecdsa(key: &SecretKey, digest: B256) -> [u8; 65] {
    let sig = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(digest.0), key);
    let (id, rs) = sig.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&rs);
    out[64] = 27 + u8::try_from(i32::from(id)).expect("recovery id 0..3");
    out
}

/// Reads the next `n` bytes, or fewer at the end.
fn take<'a>(input: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = input.split_at(n.min(input.len()));
    *input = rest;
    head
}

/// The next `N` bytes, zero-padded past the end.
fn array<const N: usize>(input: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let head = take(input, N);
    out[..head.len()].copy_from_slice(head);
    out
}

fn word(input: &mut &[u8]) -> U256 {
    U256::from(u64::from_be_bytes(array(input)))
}

/// A transaction with every signed field from the input.
fn fields(input: &mut &[u8], nonce: U256) -> SafeTx {
    let to = Address::from(array::<20>(input));
    let value = word(input);
    let operation = if array::<1>(input)[0] & 1 == 0 {
        Operation::Call
    } else {
        Operation::DelegateCall
    };
    let safe_tx_gas = word(input);
    let base_gas = word(input);
    let gas_price = word(input);
    let gas_token = Address::from(array::<20>(input));
    let refund_receiver = Address::from(array::<20>(input));
    let len = usize::from(array::<1>(input)[0] % 64);
    let data = Bytes::copy_from_slice(take(input, len));
    SafeTx {
        to,
        value,
        data,
        operation,
        safe_tx_gas,
        base_gas,
        gas_price,
        gas_token,
        refund_receiver,
        nonce,
    }
}

fuzz_target!(|input: &[u8]| {
    let mut input = input;
    let header = take(&mut input, 1).first().copied().unwrap_or(0);
    let required = usize::from(header & 3) + 1;
    let owner_executes = header & 4 != 0;
    let approvals = [
        header & 8 != 0,
        header & 16 != 0,
        header & 32 != 0,
        header & 64 != 0,
    ];
    let chosen = usize::from(array::<1>(&mut input)[0]) % VERSIONS.len();
    let nonce = U256::from(u64::from_be_bytes(array(&mut input)));
    let fielded = (header & 128 != 0).then(|| fields(&mut input, nonce));

    WORLD.with_borrow_mut(|w| {
        let Some(deployed) = w.safes.get(chosen) else {
            return;
        };
        let version = deployed.version;
        // 1.1.1 checks against its threshold, through `execTransaction` at its stored nonce
        // (zero): a transaction that can fail by its signatures only.
        let legacy = version == SafeVersion::V1_1_1;
        let safe = if legacy {
            deployed.by_threshold[required - 1]
        } else {
            deployed.by_threshold[0]
        };
        let ctx = SafeContext {
            chain_id: CHAIN_ID,
            safe,
            version,
        };

        // The hash, every field from the input, against the contract's own.
        if let Some(tx) = &fielded {
            let ours = safe_tx_hashes(&ctx, tx).safe_tx_hash;
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
            match view(&mut w.db, DEPLOYER, safe, call.abi_encode().into()) {
                ExecutionResult::Success { output, .. } => {
                    let theirs = B256::abi_decode(output.data()).expect("bytes32");
                    assert_eq!(ours, theirs, "{version} safeTxHash of {tx:?}");
                }
                other => panic!("{version} getTransactionHash failed: {other:?}"),
            }
        }

        let tx = match (&fielded, legacy) {
            (Some(tx), false) => tx.clone(),
            (None, false) => SafeTx::call(RECIPIENT, U256::ZERO, Bytes::new(), nonce),
            (_, true) => SafeTx::call(RECIPIENT, U256::ZERO, Bytes::new(), U256::ZERO),
        };
        let hashes = safe_tx_hashes(&ctx, &tx);
        let hash = hashes.safe_tx_hash;

        let parts = take(&mut input, 1).first().copied().unwrap_or(0) % 6;
        let mut blob = Vec::new();
        for _ in 0..parts {
            let spec = take(&mut input, 3);
            let (kind, who, extra) = match spec {
                [k, w, e] => (*k, usize::from(*w) % 6, *e),
                _ => break,
            };
            let (key, address) = &w.keys[who];
            match kind % 6 {
                0 => blob.extend(ecdsa(key, hash)),
                1 => {
                    let mut s = ecdsa(key, eth_sign_digest(hash));
                    s[64] += 4;
                    blob.extend(s);
                }
                2 | 3 => {
                    blob.extend(address.into_word());
                    let s = if kind % 6 == 3 {
                        U256::from(extra) * U256::from(65)
                    } else {
                        U256::ZERO
                    };
                    blob.extend(s.to_be_bytes::<32>());
                    blob.push(u8::from(kind % 6 == 2));
                }
                4 => {
                    let mut s = ecdsa(key, hash);
                    s[64] = extra;
                    blob.extend(s);
                }
                _ => blob.extend(take(&mut input, 65)),
            }
        }
        let cut = usize::from(take(&mut input, 1).first().copied().unwrap_or(0) % 70);
        blob.extend_from_slice(input);
        if cut > 60 {
            blob.truncate(blob.len().saturating_sub(cut - 60));
        }

        let owners: Vec<Address> = w.keys.iter().take(4).map(|k| k.1).collect();
        let executor = if owner_executes { owners[1] } else { DEPLOYER };
        for (i, approved) in approvals.iter().enumerate() {
            let slot = slots::approved_hash(owners[i], hash);
            w.db.insert_account_storage(safe, slot, U256::from(u8::from(*approved)))
                .expect("storage");
        }
        let check = SignatureCheck::for_safe_tx(version, &hashes, &blob, &owners, executor);
        let approved = |a: Address| owners.iter().zip(approvals).any(|(o, ok)| ok && *o == a);
        // No owner is a contract: on chain every EIP-1271 call to them fails.
        let ours = check_n_signatures(&check, U256::from(required), approved, |_| false);
        let data = if legacy {
            ISafe::execTransactionCall {
                to: tx.to,
                value: tx.value,
                data: tx.data.clone(),
                operation: tx.operation.as_u8(),
                safeTxGas: tx.safe_tx_gas,
                baseGas: tx.base_gas,
                gasPrice: tx.gas_price,
                gasToken: tx.gas_token,
                refundReceiver: tx.refund_receiver,
                signatures: blob.clone().into(),
            }
            .abi_encode()
        } else {
            ISafe::checkNSignatures_0Call {
                dataHash: hash,
                data: hashes.preimage.clone(),
                signatures: blob.clone().into(),
                requiredSignatures: U256::from(required),
            }
            .abi_encode()
        };
        let theirs = view(&mut w.db, executor, safe, data.into());
        assert_eq!(
            ours.accepted(),
            theirs.is_success(),
            "{version}: ours {:?} / contract {theirs:?}\nblob 0x{}",
            ours.failure,
            hex::encode(&blob)
        );
        if ours.accepted() {
            let signers: Vec<Address> = ours.valid_signers().collect();
            assert_eq!(signers.len(), required);
            assert!(
                signers.windows(2).all(|p| p[0] < p[1]),
                "signers not ascending"
            );
            assert!(
                signers.iter().all(|s| owners.contains(s)),
                "a non-owner counted"
            );
        }
    });
});
