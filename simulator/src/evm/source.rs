//! Where the pre-state of a simulation comes from: one trait, two sources (snapshot, RPC fork).
//!
//! A source answers revm's [`DatabaseRef`] with the *real* pre-state at one pinned block and
//! never invents an account: a source that cannot answer returns a [`StateError`], and the
//! simulation fails with it (fail closed). Overrides are never applied to a source; the
//! simulation layers them in its own cache so that "before" values stay the real ones.

use std::time::Instant;

use alloy_primitives::{Address, B256, U256};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    state::AccountInfo,
};

use crate::report::StateSourceKind;

/// The block a source is pinned to; the simulation runs in the block after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// The pinned block's number.
    pub number: u64,
    /// `None` for snapshots that do not name a real block.
    pub hash: Option<B256>,
    /// The pinned block's timestamp, in Unix seconds; the simulated block runs 12 seconds later.
    pub timestamp: u64,
    /// The pinned block's base fee, in wei; only what BASEFEE returns, since fee checks are off.
    pub base_fee: u64,
    /// The block gas limit; the simulated block uses at least the simulation's gas cap.
    pub gas_limit: u64,
    /// The pinned block's fee recipient (what COINBASE returns).
    pub beneficiary: Address,
    /// The pinned block's `mixHash` (what PREVRANDAO returns); zero for snapshots.
    pub prevrandao: B256,
}

impl Default for BlockInfo {
    fn default() -> Self {
        Self {
            number: 0,
            hash: None,
            timestamp: 0,
            base_fee: 0,
            gas_limit: 30_000_000,
            beneficiary: Address::ZERO,
            prevrandao: B256::ZERO,
        }
    }
}

/// An account as the EVM sees it, from what every source can read: balance, nonce and runtime
/// code (empty: no code). The code hash is computed here, once for every source.
pub fn account_info(balance: U256, nonce: u64, code: alloy_primitives::Bytes) -> AccountInfo {
    if code.is_empty() {
        AccountInfo {
            balance,
            nonce,
            code_hash: revm::primitives::KECCAK_EMPTY,
            ..AccountInfo::default()
        }
    } else {
        AccountInfo {
            balance,
            nonce,
            code_hash: alloy_primitives::keccak256(&code),
            code: Some(Bytecode::new_raw(code)),
            ..AccountInfo::default()
        }
    }
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The RPC endpoint failed or answered something unusable.
    #[error("rpc {method} failed: {message}")]
    Rpc {
        /// The JSON-RPC method that failed (`connect` or `runtime` while the client is built).
        method: &'static str,
        /// The client's error, or what was wrong with the answer.
        message: String,
    },
    /// One RPC request took longer than the per-request timeout.
    #[error("rpc {method} timed out after {timeout_ms} ms")]
    RpcTimeout {
        /// The JSON-RPC method that timed out (`connect` while the client is built).
        method: &'static str,
        /// The per-request timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// The simulation deadline passed while reading state.
    #[error("simulation deadline exceeded while reading state")]
    Deadline,
    /// A code hash was asked for that the source never served (a revm invariant breach).
    #[error("unknown code hash {0}")]
    UnknownCode(B256),
    /// The snapshot itself is malformed.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// A block hash outside what the source can answer.
    #[error("block hash of block {0} is not available")]
    BlockHash(u64),
}

impl DBErrorMarker for StateError {}

/// A pinned, read-only view of chain state that the simulator can execute against.
///
/// Implementations must be deterministic for their lifetime (same question, same answer) and
/// must return an error rather than a default when they cannot answer.
pub trait StateSource: DatabaseRef<Error = StateError> + Sync {
    /// The block the state is taken at.
    fn block(&self) -> BlockInfo;
    /// What kind of source this is (for the report).
    fn kind(&self) -> StateSourceKind;
    /// Whether every read is answered from memory and can never wait on I/O. A caller may then
    /// make a short, bounded set of reads (a Safe's owners, modules and settings) on its own
    /// task instead of a thread pool's, whose round trip costs more than those reads. A
    /// source that may wait (the network, a disk) keeps the default, `false`, and is read
    /// where a stalled read cannot hold up anything else.
    fn in_memory(&self) -> bool {
        false
    }
}

/// Reads through to a source and refuses once the simulation deadline has passed, so a slow RPC
/// or a state-heavy transaction cannot run past it.
#[derive(Debug)]
pub(crate) struct Deadlined<'a, S> {
    pub(crate) inner: &'a S,
    pub(crate) deadline: Instant,
}

impl<S> Deadlined<'_, S> {
    fn check(&self) -> Result<(), StateError> {
        if Instant::now() >= self.deadline {
            Err(StateError::Deadline)
        } else {
            Ok(())
        }
    }
}

impl<S: StateSource> DatabaseRef for Deadlined<'_, S> {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        self.check()?;
        self.inner.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        self.check()?;
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        self.check()?;
        self.inner.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        self.check()?;
        self.inner.block_hash_ref(number)
    }
}
