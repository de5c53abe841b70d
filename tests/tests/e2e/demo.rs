//! The bundled demo assets (gateway/config/demo/): the state snapshot is generated here from
//! the real Safe fixtures, and the committed file must match what this code builds, so the
//! demo never drifts from the keys and addresses the tests use.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::SigningKey;
use signgate_simulator::{
    SafeVersion,
    constants::{SENTINEL, slots},
    deployments::{self, SafeContract},
    evm::{BlockInfo, Snapshot, SnapshotFile},
};

/// The demo Safe (1.4.1).
pub const DEMO_SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
/// The demo ERC-20 ("DEMO", 18 decimals).
pub const DEMO_TOKEN: Address = address!("0x7070707070707070707070707070707070707070");
/// An address-book destination of the demo policy.
pub const PAYEE: Address = address!("0xC0FFEE254729296a45a3885639AC7E10F9d54979");
/// Listed on the demo sanctions list (the Ronin bridge exploiter, OFAC SDN, Lazarus Group).
pub const SANCTIONED: Address = address!("0x098B716B8Aaf21512996dC57EB0615e2383E2f96");
/// A bridge-style contract: any call (`depositFor(address)`, …) emits `Deposit(address)` with
/// the recipient it stores in slot 0 (zero in the demo state) as event data, and keeps the
/// call's value. A recipient named only in its calldata is on the other chain.
pub const BRIDGE: Address = address!("0xb1d9eb1d9eb1d9eb1d9eb1d9eb1d9eb1d9eb1d9e");
/// The same bridge code with the sanctioned address stored as its recipient: a call to it
/// names that address only in the event it emits.
pub const RELAY: Address = address!("0xb2e1a7b2e1a7b2e1a7b2e1a7b2e1a7b2e1a7b2e1");
/// A token-like contract whose only function (any selector) grants: it emits
/// `Approval(msg.sender, <first argument>, type(uint256).max)`. The decoder knows none of its
/// functions; only the event tells the grant.
pub const GRANTER: Address = address!("0x6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a");
/// A Safe 1.4.1 owned by the demo treasury alone (threshold 1), holding [`NESTED_SAFE_TOKENS`]:
/// a proposal on the demo treasury can execute its transactions (issue 13 item 1).
pub const NESTED_SAFE: Address = address!("0x5afeb0b05afeb0b05afeb0b05afeb0b05afeb0b0");
/// A Safe 1.4.1 owned by [`NESTED_SAFE`] alone (threshold 1): two levels below the treasury.
pub const INNER_SAFE: Address = address!("0x5afec0c05afec0c05afec0c05afec0c05afec0c0");
/// The `SneakyLib` test contract (`simulator/tests/fixtures/evm/TestContracts.sol`): when
/// DELEGATECALLed, `claimRewards(guard, module)` sets the guard and enables a module with raw
/// SSTOREs. Not on the demo delegatecall allowlist.
pub const SNEAKY_LIB: Address = address!("0x5eea5eea5eea5eea5eea5eea5eea5eea5eea5eea");
/// The Bybit Safe (1.1.1), also in the demo state.
pub const BYBIT_SAFE: Address = address!("0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4");
/// The demo Safe's threshold.
pub const THRESHOLD: u64 = 2;
/// DEMO ONLY: the demo Safe owners' secp256k1 secrets (also in gateway/config/demo/keys/).
pub const OWNER_SECRETS: [u8; 3] = [0xd1, 0xd2, 0xd3];
/// DEMO ONLY: operators' ed25519 seeds (also in gateway/config/demo/keys/).
pub const OPERATORS: [(&str, u8); 6] = [
    ("alice", 0xa1),
    ("bob", 0xb0),
    ("carol", 0xc0),
    ("dave", 0xd0),
    ("erin", 0xee),
    ("mallory", 0xe0),
];

/// Demo token balance of the demo Safe: one million DEMO.
pub fn safe_token_balance() -> U256 {
    U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// Demo token balance of [`NESTED_SAFE`] and of [`INNER_SAFE`]: one thousand DEMO each.
pub fn nested_safe_token_balance() -> U256 {
    U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// An operator's DEMO ONLY ed25519 key.
pub fn operator(name: &str) -> SigningKey {
    let seed = OPERATORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap();
    SigningKey::from_bytes(&[seed; 32])
}

/// The demo owners, ascending by address.
pub fn owners() -> Vec<PrivateKeySigner> {
    let mut keys: Vec<PrivateKeySigner> = OWNER_SECRETS
        .iter()
        .map(|b| PrivateKeySigner::from_bytes(&B256::repeat_byte(*b)).unwrap())
        .collect();
    keys.sort_by_key(|k| k.address());
    keys
}

/// `balanceOf[holder]` of the demo token (mapping at slot 0).
pub fn balance_slot(holder: Address) -> U256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(keccak256(buf).0)
}

fn test_contract_runtime(name: &str) -> Bytes {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/evm/contracts.json"
    ))
    .unwrap();
    let hex = file["contracts"][name]["deployedBytecode"]
        .as_str()
        .unwrap();
    hex.parse().unwrap()
}

fn token_runtime() -> Bytes {
    test_contract_runtime("Token")
}

/// Sets up `safe` as a Safe proxy (1.4.1) with the given owners and threshold, no modules.
fn add_safe(
    s: &mut Snapshot,
    safe: Address,
    singleton: Address,
    owners: &[Address],
    threshold: u64,
) {
    s.set_account_fixture(safe, U256::ZERO, 1, "v1.4.1/SafeProxy")
        .unwrap();
    let word = |a: Address| U256::from_be_slice(a.as_slice());
    s.set_storage(safe, slots::SINGLETON, word(singleton));
    s.set_storage(safe, slots::module(SENTINEL), word(SENTINEL));
    let mut prev = SENTINEL;
    for o in owners {
        s.set_storage(safe, slots::owner(prev), word(*o));
        prev = *o;
    }
    s.set_storage(safe, slots::owner(prev), word(SENTINEL));
    s.set_storage(safe, slots::OWNER_COUNT, U256::from(owners.len()));
    s.set_storage(safe, slots::THRESHOLD, U256::from(threshold));
}

/// Runtime of [`BRIDGE`] and [`RELAY`], assembled by hand (no compiler needed to rebuild the
/// demo): `mstore(0, sload(0)); log1(0, 32, keccak256("Deposit(address)")); stop`.
fn bridge_runtime() -> Bytes {
    let mut code = vec![0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x7f];
    code.extend_from_slice(keccak256("Deposit(address)").as_slice());
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1, 0x00]);
    code.into()
}

/// Runtime of [`GRANTER`], assembled by hand: `mstore(0, not(0)); log3(0, 32,
/// keccak256("Approval(address,address,uint256)"), caller(), calldataload(4)); stop`.
fn granter_runtime() -> Bytes {
    let mut code = vec![
        0x60, 0x00, 0x19, 0x60, 0x00, 0x52, 0x60, 0x04, 0x35, 0x33, 0x7f,
    ];
    code.extend_from_slice(keccak256("Approval(address,address,uint256)").as_slice());
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa3, 0x00]);
    code.into()
}

/// The demo state, built from the real Safe fixtures and the Bybit snapshot.
pub fn build_state() -> SnapshotFile {
    let bybit: SnapshotFile = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/evm/bybit-snapshot.json"
    ))
    .unwrap();
    let b = &bybit.block;
    let mut s = Snapshot::new(BlockInfo {
        number: b.number,
        timestamp: b.timestamp,
        ..BlockInfo::default()
    });
    let singleton = deployments::canonical(SafeContract::Singleton, SafeVersion::V1_4_1).unwrap();
    let multisend = deployments::canonical(SafeContract::MultiSend, SafeVersion::V1_4_1).unwrap();
    let call_only =
        deployments::canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_4_1).unwrap();
    let eth = U256::from(10u64).pow(U256::from(18u64));
    s.set_account_fixture(DEMO_SAFE, U256::from(10u64) * eth, 1, "v1.4.1/SafeProxy")
        .unwrap();
    s.set_account_fixture(singleton, U256::ZERO, 1, "v1.4.1/Safe")
        .unwrap();
    s.set_account_fixture(multisend, U256::ZERO, 1, "v1.4.1/MultiSend")
        .unwrap();
    s.set_account_fixture(call_only, U256::ZERO, 1, "v1.4.1/MultiSendCallOnly")
        .unwrap();
    s.set_storage(
        DEMO_SAFE,
        slots::SINGLETON,
        U256::from_be_slice(singleton.as_slice()),
    );
    s.set_storage(
        DEMO_SAFE,
        slots::module(SENTINEL),
        U256::from_be_slice(SENTINEL.as_slice()),
    );
    let mut prev = SENTINEL;
    for o in owners() {
        s.set_storage(
            DEMO_SAFE,
            slots::owner(prev),
            U256::from_be_slice(o.address().as_slice()),
        );
        prev = o.address();
    }
    s.set_storage(
        DEMO_SAFE,
        slots::owner(prev),
        U256::from_be_slice(SENTINEL.as_slice()),
    );
    s.set_storage(
        DEMO_SAFE,
        slots::OWNER_COUNT,
        U256::from(OWNER_SECRETS.len()),
    );
    s.set_storage(DEMO_SAFE, slots::THRESHOLD, U256::from(THRESHOLD));
    s.set_account(DEMO_TOKEN, U256::ZERO, 1, token_runtime());
    s.set_storage(DEMO_TOKEN, balance_slot(DEMO_SAFE), safe_token_balance());
    s.set_account(BRIDGE, U256::ZERO, 1, bridge_runtime());
    s.set_account(RELAY, U256::ZERO, 1, bridge_runtime());
    s.set_storage(
        RELAY,
        U256::ZERO,
        U256::from_be_slice(SANCTIONED.as_slice()),
    );
    s.set_account(GRANTER, U256::ZERO, 1, granter_runtime());
    add_safe(&mut s, NESTED_SAFE, singleton, &[DEMO_SAFE], 1);
    add_safe(&mut s, INNER_SAFE, singleton, &[NESTED_SAFE], 1);
    for held in [NESTED_SAFE, INNER_SAFE] {
        s.set_storage(DEMO_TOKEN, balance_slot(held), nested_safe_token_balance());
    }
    s.set_account(
        SNEAKY_LIB,
        U256::ZERO,
        1,
        test_contract_runtime("SneakyLib"),
    );
    let mut file = s.to_file();
    let accounts: BTreeMap<_, _> = bybit.accounts.into_iter().collect();
    file.accounts.extend(accounts);
    file
}

/// The committed demo state as the gateway embeds it.
pub fn committed_state() -> String {
    signgate_gateway::pipeline::setup::DEMO_STATE.to_owned()
}

const DEMO_STATE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../gateway/config/demo/state.json"
);

fn built_state() -> String {
    serde_json::to_string_pretty(&build_state()).unwrap() + "\n"
}

#[test]
fn the_committed_demo_state_is_what_this_code_builds() {
    assert_eq!(
        committed_state(),
        built_state(),
        "regenerate with: cargo test -p signgate-e2e -- --ignored regenerate_demo_state"
    );
}

/// Writes gateway/config/demo/state.json (run by hand after changing the demo).
#[test]
#[ignore = "writes a repository file; run by hand"]
fn regenerate_demo_state() {
    std::fs::write(DEMO_STATE_PATH, built_state()).unwrap();
}

/// The DEMO ONLY key files, the demo policy and the demo state name the same identities.
#[test]
fn the_demo_key_files_match_the_policy_and_the_state() {
    let owners_file = include_str!("../../../gateway/config/demo/keys/owners.toml");
    for b in OWNER_SECRETS {
        let k = PrivateKeySigner::from_bytes(&B256::repeat_byte(b)).unwrap();
        let line = format!("\"{}\" = \"0x{}\"", k.address(), hex::encode([b; 32]));
        assert!(owners_file.contains(&line), "owners.toml lacks {line}");
    }
    let operators_file = include_str!("../../../gateway/config/demo/keys/operators.toml");
    let policy = signgate_gateway::pipeline::setup::DEMO_POLICY;
    for (name, seed) in OPERATORS {
        let line = format!("{name} = \"{}\"", hex::encode([seed; 32]));
        assert!(
            operators_file.contains(&line),
            "operators.toml lacks {line}"
        );
        let public = format!(
            "0x{}",
            hex::encode(operator(name).verifying_key().to_bytes())
        );
        assert!(
            policy.contains(&public),
            "policy lacks {name}'s key {public}"
        );
    }
}
