//! Cost of a full simulation from an in-memory snapshot, beside the floor: the same
//! `execTransaction` (same state, same overrides, same calldata) in bare revm without inspector
//! or report. Cases: an ERC-20 transfer through a Safe 1.4.1 proxy, and a 20-action
//! MultiSendCallOnly batch of ERC-20 transfers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench setup: fail loudly"
)]

use std::hint::black_box;

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::SolCall;
use criterion::{Criterion, criterion_group, criterion_main};
use revm::{
    ExecuteEvm, MainBuilder, MainContext,
    context::{Context, TxEnv},
    database::CacheDB,
    primitives::{TxKind, hardfork::SpecId},
};
use serde_json::Value;
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{IERC20, IMultiSend},
    constants::{SENTINEL, slots},
    evm::{BlockInfo, Snapshot, exec_transaction_calldata, fixtures, simulate},
    safe_tx_hash,
};

const CHAIN: u64 = 1;
const SAFE: Address = address!("0x00000000000000000000000000000000005afe01");
const SINGLETON: Address = address!("0x41675C099F32341bf84BFc5382aF534df5C7461a");
const MSO: Address = address!("0x9641d764fc13c8B624c04430C7356C1C7C8102e2");
const TOKEN: Address = address!("0x0000000000000000000000000000000000070c3e");
const OWNERS: [Address; 3] = [
    address!("0x00000000000000000000000000000000000a0001"),
    address!("0x00000000000000000000000000000000000a0002"),
    address!("0x00000000000000000000000000000000000a0003"),
];

fn word(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// A Safe 1.4.1 proxy (2 of 3), MultiSendCallOnly 1.4.1 and the test ERC-20 with the Safe's
/// balance, written directly as storage.
fn snapshot() -> Snapshot {
    let contracts: Value =
        serde_json::from_str(include_str!("../tests/fixtures/evm/contracts.json")).unwrap();
    let token_code: Bytes = contracts["contracts"]["Token"]["deployedBytecode"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut s = Snapshot::new(BlockInfo {
        number: 1,
        timestamp: 1_700_000_000,
        ..BlockInfo::default()
    });
    s.set_account(
        SAFE,
        U256::ZERO,
        1,
        fixtures::code("v1.4.1/SafeProxy").unwrap(),
    );
    s.set_account(
        SINGLETON,
        U256::ZERO,
        1,
        fixtures::code("v1.4.1/Safe").unwrap(),
    );
    s.set_account(
        MSO,
        U256::ZERO,
        1,
        fixtures::code("v1.4.1/MultiSendCallOnly").unwrap(),
    );
    s.set_account(TOKEN, U256::ZERO, 1, token_code);
    s.set_storage(SAFE, slots::SINGLETON, word(SINGLETON));
    let mut prev = SENTINEL;
    for o in OWNERS {
        s.set_storage(SAFE, slots::owner(prev), word(o));
        prev = o;
    }
    s.set_storage(SAFE, slots::owner(prev), word(SENTINEL));
    s.set_storage(SAFE, slots::module(SENTINEL), word(SENTINEL));
    s.set_storage(SAFE, slots::OWNER_COUNT, U256::from(3));
    s.set_storage(SAFE, slots::THRESHOLD, U256::from(2));
    // Token.balanceOf is the mapping at slot 0.
    s.set_storage(
        TOKEN,
        slots::mapping_slot(SAFE.into_word(), U256::ZERO),
        U256::from(1_000_000),
    );
    s
}

fn transfer(to: Address) -> Bytes {
    IERC20::transferCall {
        to,
        amount: U256::from(1),
    }
    .abi_encode()
    .into()
}

fn batch(n: u64) -> Bytes {
    let mut packed = Vec::new();
    for i in 0..n {
        let data = transfer(Address::with_last_byte(0x10).create(i));
        packed.push(0u8);
        packed.extend_from_slice(TOKEN.as_slice());
        packed.extend_from_slice(&[0u8; 32]);
        packed.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
        packed.extend_from_slice(&data);
    }
    IMultiSend::multiSendCall {
        transactions: packed.into(),
    }
    .abi_encode()
    .into()
}

/// The floor: the same run in bare revm, overrides included, no inspector, no report.
fn bare(state: &Snapshot, tx: &SafeTx) -> bool {
    let h = safe_tx_hash(
        &SafeContext {
            chain_id: CHAIN,
            safe: SAFE,
            version: SafeVersion::V1_4_1,
        },
        tx,
    );
    let mut db = CacheDB::new(state);
    let mut sigs = Vec::with_capacity(130);
    for o in OWNERS.iter().take(2) {
        db.insert_account_storage(SAFE, slots::approved_hash(*o, h), U256::from(1))
            .unwrap();
        sigs.extend_from_slice(o.into_word().as_slice());
        sigs.extend_from_slice(B256::ZERO.as_slice());
        sigs.push(1);
    }
    let calldata = exec_transaction_calldata(tx, sigs.into());
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.set_spec_and_mainnet_gas_params(SpecId::PRAGUE);
            c.chain_id = CHAIN;
            c.disable_nonce_check = true;
            c.disable_balance_check = true;
            c.disable_base_fee = true;
        })
        .build_mainnet();
    let env = TxEnv::builder()
        .caller(OWNERS[0])
        .kind(TxKind::Call(SAFE))
        .data(calldata)
        .gas_limit(15_000_000)
        .gas_price(0)
        .chain_id(Some(CHAIN))
        .build()
        .unwrap();
    evm.transact(env).unwrap().result.is_success()
}

fn bench(c: &mut Criterion) {
    let state = snapshot();
    let cases = [
        (
            "erc20_transfer",
            SafeTx::call(TOKEN, U256::ZERO, transfer(OWNERS[1]), U256::ZERO),
        ),
        (
            "multisend_20",
            SafeTx {
                operation: Operation::DelegateCall,
                ..SafeTx::call(MSO, U256::ZERO, batch(20), U256::ZERO)
            },
        ),
    ];
    for (name, tx) in &cases {
        let r = simulate(&state, CHAIN, SAFE, SafeVersion::V1_4_1, tx, None).unwrap();
        assert!(r.outcome.is_success(), "{name}: {:?}", r.outcome);
        assert!(bare(&state, tx), "{name}: bare run failed");
        let mut g = c.benchmark_group(*name);
        g.bench_function("simulate", |b| {
            b.iter(|| {
                simulate(
                    black_box(&state),
                    CHAIN,
                    SAFE,
                    SafeVersion::V1_4_1,
                    tx,
                    None,
                )
                .unwrap()
            })
        });
        g.bench_function("bare_revm", |b| b.iter(|| bare(black_box(&state), tx)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
