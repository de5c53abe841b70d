//! Shared harness for the EVM tests: a local revm world where real Safe bytecode is deployed
//! and set up with real transactions, then exported as a [`Snapshot`] for the simulator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::{collections::BTreeMap, sync::OnceLock};

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue};
use revm::{
    ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
    context::{Context, TxEnv},
    context_interface::result::ExecutionResult,
    database::{CacheDB, EmptyDB},
    database_interface::DatabaseRef,
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use serde::Deserialize;
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    abi::{IMultiSend, ISafe},
    evm::{BlockInfo, Snapshot},
    safe_tx_hash,
};

pub const CHAIN_ID: u64 = 1337;
/// Deploys everything; ganache's first deterministic account, so a node can mirror the world.
pub const DEPLOYER: Address = address!("0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
pub const RECIPIENT: Address = address!("0x00000000000000000000000000000000000beef1");
pub const RECIPIENT_2: Address = address!("0x00000000000000000000000000000000000beef2");
pub const RECIPIENT_3: Address = address!("0x00000000000000000000000000000000000beef3");

/// One Safe release as the fixtures hold it.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub version: SafeVersion,
    pub dir: &'static str,
    pub singleton: &'static str,
    pub proxy: &'static str,
}

pub const V111: Release = Release {
    version: SafeVersion::V1_1_1,
    dir: "v1.1.1",
    singleton: "GnosisSafe",
    proxy: "Proxy",
};
pub const V130: Release = Release {
    version: SafeVersion::V1_3_0,
    dir: "v1.3.0",
    singleton: "GnosisSafe",
    proxy: "GnosisSafeProxy",
};
pub const V141: Release = Release {
    version: SafeVersion::V1_4_1,
    dir: "v1.4.1",
    singleton: "Safe",
    proxy: "SafeProxy",
};
pub const V150: Release = Release {
    version: SafeVersion::V1_5_0,
    dir: "v1.5.0",
    singleton: "Safe",
    proxy: "SafeProxy",
};
pub const RELEASES: [Release; 4] = [V111, V130, V141, V150];

/// A contract artifact from `simulator/fixtures/safe`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeArtifact {
    pub deployed_bytecode: Bytes,
    pub creation_bytecode: Bytes,
    pub canonical_address: Option<Address>,
}

pub fn safe_artifact(dir: &str, name: &str) -> SafeArtifact {
    let path = format!(
        "{}/fixtures/safe/{dir}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compiled {
    bytecode: Bytes,
    deployed_bytecode: Bytes,
}

#[derive(Debug, Deserialize)]
struct ContractsFile {
    contracts: BTreeMap<String, Compiled>,
}

/// Creation code of a test contract from `tests/fixtures/evm/contracts.json`.
pub fn test_contract(name: &str) -> Bytes {
    static FILE: OnceLock<ContractsFile> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        serde_json::from_str(include_str!("../../fixtures/evm/contracts.json")).unwrap()
    });
    file.contracts
        .get(name)
        .unwrap_or_else(|| panic!("no test contract {name}"))
        .bytecode
        .clone()
}

/// Deterministic owner keys, sorted by address (Safe wants ascending signers).
pub fn owners(n: u8) -> Vec<PrivateKeySigner> {
    let mut keys: Vec<PrivateKeySigner> = (1..=n)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(0x10 + i)).unwrap())
        .collect();
    keys.sort_by_key(|k| k.address());
    keys
}

/// A 65-byte ECDSA signature (v = 27/28) over the safeTxHash.
pub fn sign(key: &PrivateKeySigner, hash: B256) -> Vec<u8> {
    let sig = key.sign_hash_sync(&hash).unwrap();
    let mut out = sig.as_bytes().to_vec();
    if let Some(v) = out.last_mut()
        && *v < 27
    {
        *v += 27;
    }
    out
}

/// A local chain in revm: deploy and call with real transactions, then snapshot it.
pub struct World {
    pub db: CacheDB<EmptyDB>,
    pub block: BlockInfo,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        let mut w = Self {
            db: CacheDB::new(EmptyDB::default()),
            block: BlockInfo {
                number: 100,
                timestamp: 1_700_000_000,
                ..BlockInfo::default()
            },
        };
        w.set_balance(DEPLOYER, U256::from(10).pow(U256::from(21)));
        w
    }

    pub fn set_code(&mut self, at: Address, code: Bytes) {
        let balance = self
            .db
            .basic_ref(at)
            .unwrap()
            .map(|i| i.balance)
            .unwrap_or_default();
        let info = AccountInfo::default()
            .with_balance(balance)
            .with_code(Bytecode::new_raw(code));
        self.db.insert_account_info(at, info);
    }

    pub fn set_balance(&mut self, at: Address, balance: U256) {
        let mut info = self.db.basic_ref(at).unwrap().unwrap_or_default();
        info.balance = balance;
        self.db.insert_account_info(at, info);
    }

    pub fn set_storage(&mut self, at: Address, slot: U256, value: U256) {
        self.db.insert_account_storage(at, slot, value).unwrap();
    }

    fn run(&mut self, from: Address, kind: TxKind, data: Bytes, value: U256) -> ExecutionResult {
        let nonce = self
            .db
            .basic_ref(from)
            .unwrap()
            .map(|i| i.nonce)
            .unwrap_or_default();
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data)
            .value(value)
            .gas_limit(15_000_000)
            .gas_price(0)
            .nonce(nonce)
            .chain_id(Some(CHAIN_ID))
            .build()
            .unwrap();
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.set_spec_and_mainnet_gas_params(SpecId::SHANGHAI);
                c.chain_id = CHAIN_ID;
                c.disable_base_fee = true;
                c.disable_balance_check = true;
            })
            .build_mainnet();
        evm.transact_commit(tx).unwrap()
    }

    /// Deploys creation code from `DEPLOYER` and returns the new address.
    pub fn deploy(&mut self, creation: Bytes) -> Address {
        match self.run(DEPLOYER, TxKind::Create, creation, U256::ZERO) {
            ExecutionResult::Success { output, .. } => output.address().copied().unwrap(),
            other => panic!("deploy failed: {other:?}"),
        }
    }

    /// A committed call that must succeed.
    pub fn call(&mut self, from: Address, to: Address, data: Bytes, value: U256) -> Bytes {
        match self.run(from, TxKind::Call(to), data, value) {
            ExecutionResult::Success { output, .. } => output.into_data(),
            other => panic!("call failed: {other:?}"),
        }
    }

    /// A read-only call (not committed).
    pub fn view(&mut self, to: Address, data: Bytes) -> ExecutionResult {
        self.view_from(DEPLOYER, to, data)
    }

    /// A read-only call from `caller` (not committed).
    pub fn view_from(&mut self, caller: Address, to: Address, data: Bytes) -> ExecutionResult {
        let tx = TxEnv::builder()
            .caller(caller)
            .kind(TxKind::Call(to))
            .data(data)
            .gas_limit(15_000_000)
            .gas_price(0)
            .chain_id(Some(CHAIN_ID))
            .build()
            .unwrap();
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.set_spec_and_mainnet_gas_params(SpecId::SHANGHAI);
                c.chain_id = CHAIN_ID;
                c.disable_base_fee = true;
                c.disable_balance_check = true;
                c.disable_nonce_check = true;
            })
            .build_mainnet();
        evm.transact(tx).unwrap().result
    }

    /// Places a Safe library (MultiSend …) at its canonical address with its real code.
    pub fn place_canonical(&mut self, dir: &str, name: &str) -> Address {
        let a = safe_artifact(dir, name);
        let at = a.canonical_address.unwrap();
        self.set_code(at, a.deployed_bytecode);
        at
    }

    /// Deploys `release`'s singleton (creation code, so constructors run) and a proxy, and runs
    /// the real `setup`. Returns the proxy.
    pub fn deploy_safe(&mut self, release: Release, owners: &[Address], threshold: u64) -> Address {
        let singleton =
            self.deploy(safe_artifact(release.dir, release.singleton).creation_bytecode);
        self.deploy_proxy(release, singleton, owners, threshold, Address::ZERO)
    }

    pub fn deploy_proxy(
        &mut self,
        release: Release,
        singleton: Address,
        owners: &[Address],
        threshold: u64,
        fallback: Address,
    ) -> Address {
        let mut creation = safe_artifact(release.dir, release.proxy)
            .creation_bytecode
            .to_vec();
        creation.extend(singleton.abi_encode());
        let proxy = self.deploy(creation.into());
        let setup = ISafe::setupCall {
            _owners: owners.to_vec(),
            _threshold: U256::from(threshold),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: fallback,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        };
        self.call(DEPLOYER, proxy, setup.abi_encode().into(), U256::ZERO);
        proxy
    }

    /// Every account and slot of the world as a simulator snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::new(self.block);
        for (address, acc) in &self.db.cache.accounts {
            let code = acc
                .info
                .code
                .as_ref()
                .map(|c| c.original_bytes())
                .unwrap_or_default();
            snap.set_account(*address, acc.info.balance, acc.info.nonce, code);
            for (slot, value) in &acc.storage {
                snap.set_storage(*address, *slot, *value);
            }
        }
        snap
    }
}

/// A plain SafeTx with everything but `to`, `value`, `data`, `operation` zero.
pub fn safe_tx(to: Address, value: U256, data: Bytes, operation: Operation, nonce: u64) -> SafeTx {
    SafeTx {
        operation,
        ..SafeTx::call(to, value, data, U256::from(nonce))
    }
}

pub fn hash_of(version: SafeVersion, safe: Address, tx: &SafeTx) -> B256 {
    safe_tx_hash(
        &SafeContext {
            chain_id: CHAIN_ID,
            safe,
            version,
        },
        tx,
    )
}

/// Packs MultiSend entries: `op ‖ to ‖ value ‖ len ‖ data`.
pub fn multisend(entries: &[(Operation, Address, U256, Bytes)]) -> Bytes {
    let mut packed = Vec::new();
    for (op, to, value, data) in entries {
        packed.push(op.as_u8());
        packed.extend_from_slice(to.as_slice());
        packed.extend_from_slice(&value.to_be_bytes::<32>());
        packed.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
        packed.extend_from_slice(data);
    }
    IMultiSend::multiSendCall {
        transactions: packed.into(),
    }
    .abi_encode()
    .into()
}

/// A Safe of `release` with `n` owners and `threshold`, 10 ETH, and a test ERC-20 of which
/// the Safe holds 1,000,000 units.
pub struct Lab {
    pub world: World,
    pub release: Release,
    pub safe: Address,
    pub keys: Vec<PrivateKeySigner>,
    pub token: Address,
}

impl Lab {
    pub fn new(release: Release, n: u8, threshold: u64) -> Self {
        let mut world = World::new();
        let keys = owners(n);
        let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let safe = world.deploy_safe(release, &addrs, threshold);
        world.set_balance(safe, U256::from(10).pow(U256::from(19)));
        let mut token = test_contract("Token").to_vec();
        token.extend((safe, U256::from(1_000_000u64)).abi_encode_params());
        let token = world.deploy(token.into());
        Self {
            world,
            release,
            safe,
            keys,
            token,
        }
    }

    pub fn owner_addresses(&self) -> Vec<Address> {
        self.keys.iter().map(|k| k.address()).collect()
    }

    /// Deploys a test contract with ABI-encoded constructor arguments.
    pub fn deploy(&mut self, name: &str, args: Vec<u8>) -> Address {
        let mut code = test_contract(name).to_vec();
        code.extend(args);
        self.world.deploy(code.into())
    }

    pub fn nonce(&mut self) -> u64 {
        let out = self
            .world
            .view(self.safe, ISafe::nonceCall {}.abi_encode().into());
        let data = out.output().cloned().unwrap_or_default();
        ISafe::nonceCall::abi_decode_returns(&data)
            .unwrap()
            .to::<u64>()
    }

    pub fn tx(&mut self, to: Address, value: U256, data: Bytes, operation: Operation) -> SafeTx {
        let nonce = self.nonce();
        safe_tx(to, value, data, operation, nonce)
    }

    /// Simulates without signatures (approved-hash overrides) against a snapshot of the lab.
    pub fn simulate(&self, tx: &SafeTx) -> signgate_simulator::report::SimulationReport {
        signgate_simulator::evm::simulate(
            &self.world.snapshot(),
            CHAIN_ID,
            self.safe,
            self.release.version,
            tx,
            None,
        )
        .unwrap()
    }

    /// Threshold-many real ECDSA signatures of the lowest owners, sorted.
    pub fn signatures(&self, tx: &SafeTx, threshold: usize) -> Vec<u8> {
        let h = hash_of(self.release.version, self.safe, tx);
        self.keys
            .iter()
            .take(threshold)
            .flat_map(|k| sign(k, h))
            .collect()
    }
}

pub fn word(a: Address) -> B256 {
    a.into_word()
}

pub fn uint(v: u64) -> B256 {
    U256::from(v).into()
}
