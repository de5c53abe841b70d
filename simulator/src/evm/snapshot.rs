//! A state snapshot: accounts with balance, nonce, code and storage, as JSON.
//!
//! Used by tests, air-gapped deployments and the gateway's embedded demo. Code may be given
//! inline (`code`) or by the name of a Safe fixture (`codeFixture`, e.g. `"v1.4.1/Safe"`), so a
//! snapshot of a Safe stays readable. An account absent from the snapshot is an empty account:
//! that is what a snapshot *means* (it is the whole world), unlike an RPC source, which errors.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use serde::{Deserialize, Serialize};

use super::{
    fixtures,
    source::{BlockInfo, StateError, StateSource},
};
use crate::report::StateSourceKind;

/// The JSON shape of a snapshot file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotFile {
    /// The block the state stands for; all zero when absent.
    #[serde(default)]
    pub block: SnapshotBlock,
    /// Every account the simulation may read; any other address reads as empty.
    pub accounts: BTreeMap<Address, SnapshotAccount>,
}

/// The block a snapshot stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotBlock {
    /// The block number (the simulated block is this + 1).
    #[serde(default)]
    pub number: u64,
    /// The block hash, when the snapshot was taken from a real block.
    #[serde(default)]
    pub hash: Option<B256>,
    /// The block timestamp, in Unix seconds (the simulated block runs 12 seconds later).
    #[serde(default)]
    pub timestamp: u64,
    /// The base fee, in wei; only what BASEFEE returns.
    #[serde(default)]
    pub base_fee: u64,
    /// The block gas limit; absent means 30,000,000.
    #[serde(default)]
    pub gas_limit: Option<u64>,
    /// The fee recipient (what COINBASE returns).
    #[serde(default)]
    pub beneficiary: Address,
}

/// One account of a snapshot file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotAccount {
    /// Balance in wei.
    #[serde(default)]
    pub balance: U256,
    /// The account nonce.
    #[serde(default)]
    pub nonce: u64,
    /// Runtime code; absent (and no `code_fixture`) means no code. At most one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    /// Name of a Safe fixture whose runtime code this account has (see [`fixtures::code`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_fixture: Option<String>,
    /// Storage slots and their values; any slot not listed reads as zero.
    #[serde(default)]
    pub storage: BTreeMap<U256, U256>,
}

/// An in-memory state source built from a [`SnapshotFile`] or by hand.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    block: BlockInfo,
    accounts: HashMap<Address, AccountInfo>,
    codes: HashMap<B256, Bytecode>,
    storage: HashMap<Address, HashMap<U256, U256>>,
    /// Fixture names by address, kept so that [`Snapshot::to_file`] round-trips.
    fixture_names: HashMap<Address, String>,
}

impl Snapshot {
    /// An empty world at `block`.
    pub fn new(block: BlockInfo) -> Self {
        Self {
            block,
            ..Self::default()
        }
    }

    /// Parses a snapshot file. Unknown fields and unknown fixture names are errors.
    pub fn from_json(json: &str) -> Result<Self, StateError> {
        let file: SnapshotFile =
            serde_json::from_str(json).map_err(|e| StateError::Snapshot(e.to_string()))?;
        Self::from_file(&file)
    }

    /// Builds the source from a parsed snapshot file.
    pub fn from_file(file: &SnapshotFile) -> Result<Self, StateError> {
        let b = &file.block;
        let mut snap = Self::new(BlockInfo {
            number: b.number,
            hash: b.hash,
            timestamp: b.timestamp,
            base_fee: b.base_fee,
            gas_limit: b.gas_limit.unwrap_or(BlockInfo::default().gas_limit),
            beneficiary: b.beneficiary,
            prevrandao: B256::ZERO,
        });
        for (address, acc) in &file.accounts {
            let code = match (&acc.code, &acc.code_fixture) {
                (Some(_), Some(_)) => {
                    return Err(StateError::Snapshot(format!(
                        "account {address} has both code and codeFixture"
                    )));
                }
                (Some(code), None) => code.clone(),
                (None, Some(name)) => {
                    snap.fixture_names.insert(*address, name.clone());
                    fixtures::code(name).ok_or_else(|| {
                        StateError::Snapshot(format!("unknown code fixture {name:?}"))
                    })?
                }
                (None, None) => Bytes::new(),
            };
            snap.set_account(*address, acc.balance, acc.nonce, code);
            for (slot, value) in &acc.storage {
                snap.set_storage(*address, *slot, *value);
            }
        }
        Ok(snap)
    }

    /// Sets an account's balance, nonce and code (keeping its storage).
    pub fn set_account(&mut self, address: Address, balance: U256, nonce: u64, code: Bytes) {
        self.fixture_names.remove(&address);
        let info = super::source::account_info(balance, nonce, code);
        if let Some(code) = &info.code {
            self.codes.insert(info.code_hash, code.clone());
        }
        self.accounts.insert(address, info);
    }

    /// Sets an account whose code is the Safe fixture `name` (kept as `codeFixture` by
    /// [`Snapshot::to_file`]). Unknown names are an error.
    pub fn set_account_fixture(
        &mut self,
        address: Address,
        balance: U256,
        nonce: u64,
        name: &str,
    ) -> Result<(), StateError> {
        let code = fixtures::code(name)
            .ok_or_else(|| StateError::Snapshot(format!("unknown code fixture {name:?}")))?;
        self.set_account(address, balance, nonce, code);
        self.fixture_names.insert(address, name.to_owned());
        Ok(())
    }

    /// Sets one storage slot (creating an empty account if needed).
    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.accounts.entry(address).or_default();
        self.storage.entry(address).or_default().insert(slot, value);
    }

    /// Sets the block the snapshot stands for.
    pub fn set_block(&mut self, block: BlockInfo) {
        self.block = block;
    }

    /// Serialises the snapshot back into its file shape (zero slots dropped, sorted).
    pub fn to_file(&self) -> SnapshotFile {
        let mut accounts = BTreeMap::new();
        for (address, info) in &self.accounts {
            let fixture = self.fixture_names.get(address).cloned();
            let code = match (&fixture, &info.code) {
                (None, Some(code)) if !code.is_empty() => Some(code.original_bytes()),
                _ => None,
            };
            let storage = self
                .storage
                .get(address)
                .map(|s| {
                    s.iter()
                        .filter(|(_, v)| !v.is_zero())
                        .map(|(k, v)| (*k, *v))
                        .collect()
                })
                .unwrap_or_default();
            accounts.insert(
                *address,
                SnapshotAccount {
                    balance: info.balance,
                    nonce: info.nonce,
                    code,
                    code_fixture: fixture,
                    storage,
                },
            );
        }
        SnapshotFile {
            block: SnapshotBlock {
                number: self.block.number,
                hash: self.block.hash,
                timestamp: self.block.timestamp,
                base_fee: self.block.base_fee,
                gas_limit: Some(self.block.gas_limit),
                beneficiary: self.block.beneficiary,
            },
            accounts,
        }
    }
}

impl DatabaseRef for Snapshot {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.accounts.get(&address).cloned())
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or(StateError::UnknownCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        Ok(self
            .storage
            .get(&address)
            .and_then(|s| s.get(&index))
            .copied()
            .unwrap_or(U256::ZERO))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        // A snapshot has no history; answer the EVM's own convention for unknown blocks
        // deterministically so BLOCKHASH-using code behaves the same on every run.
        Ok(keccak256(number.to_be_bytes()))
    }
}

impl StateSource for Snapshot {
    fn block(&self) -> BlockInfo {
        self.block
    }

    fn kind(&self) -> StateSourceKind {
        StateSourceKind::Snapshot
    }

    /// A snapshot is held in memory whole (loaded and checked before it serves).
    fn in_memory(&self) -> bool {
        true
    }
}
