//! Real [`SimulationReport`]s for the policy crate's tests, kept under
//! `policy/tests/fixtures/reports/` (see its PROVENANCE.md).
//!
//! Each fixture is regenerated here from real Safe bytecode and compared with the stored file:
//! a report that changes is a failing test and a review item. The only switch is the file
//! itself: a missing file is written (delete one to regenerate it); nothing reads the
//! environment.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::path::PathBuf;

use alloy_primitives::{Address, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolValue};
use serde::{Deserialize, Serialize};
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{IERC20, ISafe},
    evm::{simulate, simulate_with},
    report::{Outcome, SimulationReport},
    safe_tx_hash,
};

use crate::{
    evm_bybit::{bybit, bybit_options, bybit_state},
    support::{V141, World, owners, safe_tx, sign, test_contract},
};

/// The wallet the policy fixture `standard.toml` calls `treasury` (chain 1).
const TREASURY: Address = address!("0x1111111111111111111111111111111111111111");
/// USDC's mainnet address, as `standard.toml` declares the asset.
const USDC: Address = address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
/// "Prime brokerage deposit" in the fixture policy's address book.
const PRIME_BROKERAGE: Address = address!("0xC0FFEE254729296a45a3885639AC7E10F9d54979");
/// The owner swapped in by the permission-change fixture.
const NEW_OWNER: Address = address!("0x00000000000000000000000000000000000a11ce");
const MAINNET: u64 = 1;

/// One stored fixture: the transaction as proposed and the report of its simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportFixture {
    pub description: String,
    pub tx: SafeTx,
    pub report: SimulationReport,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/fixtures/reports")
}

/// Compares `fixture` with the stored file, or writes the file when there is none.
fn compare_or_write(name: &str, fixture: &ReportFixture) {
    let path = fixture_dir().join(format!("{name}.json"));
    let mut text = serde_json::to_string_pretty(fixture).unwrap();
    text.push('\n');
    match std::fs::read_to_string(&path) {
        Ok(stored) => {
            let stored: ReportFixture =
                serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                &stored,
                fixture,
                "{} is stale: delete it and rerun to regenerate, then review the diff",
                path.display()
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(fixture_dir()).unwrap();
            std::fs::write(&path, text).unwrap();
            eprintln!("wrote {}", path.display());
        }
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// The treasury: a Safe 1.4.1 with three owners, threshold 2, 100 ETH and 5,000,000 USDC,
/// set up by real transactions and then placed at the treasury's address.
struct Treasury {
    world: World,
    keys: Vec<alloy_signer_local::PrivateKeySigner>,
}

impl Treasury {
    fn new() -> Self {
        let mut world = World::new();
        let keys = owners(3);
        let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let deployed = world.deploy_safe(V141, &addrs, 2);
        relocate(&mut world, deployed, TREASURY);
        world.set_balance(
            TREASURY,
            U256::from(100) * U256::from(10).pow(U256::from(18)),
        );
        let mut token = test_contract("Token").to_vec();
        token.extend((TREASURY, usdc(5_000_000)).abi_encode_params());
        let token = world.deploy(token.into());
        relocate(&mut world, token, USDC);
        Self { world, keys }
    }

    /// Simulates `tx` with threshold-many real ECDSA signatures for chain 1.
    fn run(&self, tx: &SafeTx) -> SimulationReport {
        let ctx = SafeContext {
            chain_id: MAINNET,
            safe: TREASURY,
            version: SafeVersion::V1_4_1,
        };
        let hash = safe_tx_hash(&ctx, tx);
        let sigs: Vec<u8> = self
            .keys
            .iter()
            .take(2)
            .flat_map(|k| sign(k, hash))
            .collect();
        simulate(
            &self.world.snapshot(),
            MAINNET,
            TREASURY,
            SafeVersion::V1_4_1,
            tx,
            Some(&sigs),
        )
        .unwrap()
    }
}

/// Moves an account (code, balance, nonce, storage) to another address.
fn relocate(world: &mut World, from: Address, to: Address) {
    let account = world.db.cache.accounts.remove(&from).unwrap();
    world.db.cache.accounts.insert(to, account);
}

fn usdc(whole: u64) -> U256 {
    U256::from(whole) * U256::from(1_000_000u64)
}

fn bybit_fixture() -> ReportFixture {
    let b = bybit();
    let report = simulate_with(
        &bybit_state(&b),
        b.chain_id,
        b.safe,
        SafeVersion::V1_1_1,
        &b.tx,
        Some(&b.signatures),
        &bybit_options(&b),
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Success);
    assert_eq!(report.singleton_change(), Some((b.singleton, b.backdoor)));
    ReportFixture {
        description: "Bybit cold wallet, nonce 71: the real transaction and its three real \
                      signatures on Safe 1.1.1; DELEGATECALL to the trojan rewrites slot 0"
            .to_owned(),
        tx: b.tx,
        report,
    }
}

fn benign_transfer_fixture() -> ReportFixture {
    let t = Treasury::new();
    let data: Bytes = IERC20::transferCall {
        to: PRIME_BROKERAGE,
        amount: usdc(250_000),
    }
    .abi_encode()
    .into();
    let tx = safe_tx(USDC, U256::ZERO, data, Operation::Call, 0);
    let report = t.run(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert!(!report.is_permission_change());
    assert_eq!(report.token_events.len(), 1);
    ReportFixture {
        description: "Treasury Safe 1.4.1: 250,000 USDC to the prime brokerage deposit, two real \
                      owner signatures"
            .to_owned(),
        tx,
        report,
    }
}

fn swap_owner_fixture() -> ReportFixture {
    let t = Treasury::new();
    let owners: Vec<Address> = t.keys.iter().map(|k| k.address()).collect();
    let data: Bytes = ISafe::swapOwnerCall {
        prevOwner: owners[0],
        oldOwner: owners[1],
        newOwner: NEW_OWNER,
    }
    .abi_encode()
    .into();
    let tx = safe_tx(TREASURY, U256::ZERO, data, Operation::Call, 0);
    let report = t.run(&tx);
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert!(report.is_permission_change());
    ReportFixture {
        description: "Treasury Safe 1.4.1: swapOwner replaces the second owner (the Radiant \
                      pattern), two real owner signatures"
            .to_owned(),
        tx,
        report,
    }
}

#[test]
fn bybit_report_fixture_is_current() {
    compare_or_write("bybit-replay", &bybit_fixture());
}

#[test]
fn benign_usdc_transfer_report_fixture_is_current() {
    compare_or_write("benign-usdc-transfer", &benign_transfer_fixture());
}

#[test]
fn swap_owner_report_fixture_is_current() {
    compare_or_write("swap-owner", &swap_owner_fixture());
}
