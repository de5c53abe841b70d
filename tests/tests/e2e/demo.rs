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
/// A do-nothing library (`STOP`): the implementation the mutable-code contracts below point at
/// in the demo state, harmless when the decision is made.
pub const NOOP_LIB: Address = address!("0x0000000000000000000000000000000000c0de00");
/// A library that DELEGATECALLs [`NOOP_LIB`], an address written in its own code: what it runs
/// is fixed by its code hash (the benign control of issue 13 item 9).
pub const FIXED_LIB: Address = address!("0x0000000000000000000000000000000000c0de01");
/// A beacon: `implementation()` (any call) returns its slot 0, which holds [`NOOP_LIB`].
pub const BEACON: Address = address!("0x0000000000000000000000000000000000c0de02");
/// A beacon-proxy-style library: asks [`BEACON`] (written in its code) for the implementation
/// and DELEGATECALLs the answer. Its code hash never changes; what it runs is whatever the
/// beacon's owner sets next.
pub const BEACON_LIB: Address = address!("0x0000000000000000000000000000000000c0de03");
/// An EIP-1967 proxy: DELEGATECALLs the address in the EIP-1967 implementation slot of the
/// storage it runs against; its own slot holds [`NOOP_LIB`].
pub const PROXY_LIB: Address = address!("0x0000000000000000000000000000000000c0de04");
/// A token that grants without a trace: every call returns one word (one million tokens, 18
/// decimals: its `balanceOf` answer) and emits no event, so an `approve` on it shows no
/// `Approval` (issue 13 item 4).
pub const SILENT_TOKEN: Address = address!("0x5115115115115115115115115115115115115115");
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

/// `PUSH32 word`.
fn push32(word: &[u8; 32]) -> Vec<u8> {
    let mut code = vec![0x7f];
    code.extend_from_slice(word);
    code
}

/// `PUSH20 address`.
fn push20(a: Address) -> Vec<u8> {
    let mut code = vec![0x73];
    code.extend_from_slice(a.as_slice());
    code
}

/// Runtime that DELEGATECALLs the address `target` leaves on the stack with the whole
/// calldata (copied to memory 0x100, so `target` may use memory 0..32), then stops whatever it
/// returned: `calldatacopy(0x100, 0, calldatasize); pop(delegatecall(gas, <target>, 0x100,
/// calldatasize, 0, 0)); stop`. Assembled by hand, no compiler needed to rebuild the demo.
fn delegating_runtime(target: &[u8]) -> Bytes {
    let mut code = vec![
        0x36, 0x60, 0x00, 0x61, 0x01, 0x00, 0x37, // calldatacopy(0x100, 0, calldatasize)
        0x60, 0x00, 0x60, 0x00, 0x36, 0x61, 0x01,
        0x00, // retSize, retOffset, argsSize, argsOffset
    ];
    code.extend_from_slice(target);
    code.extend_from_slice(&[0x5a, 0xf4, 0x50, 0x00]); // gas, delegatecall, pop, stop
    code.into()
}

/// The target of [`BEACON_LIB`]: `staticcall(gas, BEACON, 0, 4, 0, 32); mload(0)` with
/// `implementation()`'s selector in memory.
fn beacon_answer() -> Vec<u8> {
    let mut code = vec![0x63];
    code.extend_from_slice(&keccak256("implementation()")[..4]);
    code.extend_from_slice(&[0x60, 0xe0, 0x1b, 0x60, 0x00, 0x52]); // shl 224, mstore(0)
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0x60, 0x04, 0x60, 0x00]);
    code.extend(push20(BEACON));
    code.extend_from_slice(&[0x5a, 0xfa, 0x50, 0x60, 0x00, 0x51]); // staticcall, pop, mload(0)
    code
}

/// Runtime of [`BEACON`]: `mstore(0, sload(0)); return(0, 32)`.
fn beacon_runtime() -> Bytes {
    vec![
        0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ]
    .into()
}

/// Runtime of [`SILENT_TOKEN`]: `mstore(0, 10^24); return(0, 32)`.
fn silent_token_runtime() -> Bytes {
    let million = U256::from(10u64).pow(U256::from(24u64));
    let mut code = push32(&million.to_be_bytes::<32>());
    code.extend_from_slice(&[0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
    code.into()
}

/// The runtime code of each mutable-code demo contract, by address.
pub fn mutable_code_contracts() -> Vec<(Address, Bytes)> {
    let mut sload_impl = push32(&slots::eip1967_implementation().to_be_bytes::<32>());
    sload_impl.push(0x54);
    vec![
        (NOOP_LIB, vec![0x00].into()),
        (FIXED_LIB, delegating_runtime(&push20(NOOP_LIB))),
        (BEACON, beacon_runtime()),
        (BEACON_LIB, delegating_runtime(&beacon_answer())),
        (PROXY_LIB, delegating_runtime(&sload_impl)),
    ]
}

/// `keccak256` of the runtime code at `at` in the demo state, for allowlist entries.
pub fn code_hash(at: Address) -> B256 {
    mutable_code_contracts()
        .into_iter()
        .find(|(a, _)| *a == at)
        .map(|(_, code)| keccak256(&code))
        .unwrap_or_else(|| panic!("{at} is not a demo library"))
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
    for (at, code) in mutable_code_contracts() {
        s.set_account(at, U256::ZERO, 1, code);
    }
    let noop = U256::from_be_slice(NOOP_LIB.as_slice());
    s.set_storage(BEACON, U256::ZERO, noop);
    s.set_storage(PROXY_LIB, slots::eip1967_implementation(), noop);
    s.set_account(SILENT_TOKEN, U256::ZERO, 1, silent_token_runtime());
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
