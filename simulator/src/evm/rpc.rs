//! A live fork of an Ethereum JSON-RPC endpoint, pinned to one block.
//!
//! Why not revm's `AlloyDB` (revm-database 43.0.1, read for this): it propagates transport
//! errors, but it has no per-request timeout (a stalled endpoint hangs the simulation), caches
//! nothing itself, `panic!`s in `code_by_hash`, and is async-only (its sync adapter
//! `WrapDatabaseAsync::new` returns `None` without a multi-thread runtime). Here every request
//! has a timeout, every failure is a typed [`StateError`] naming the RPC method, answers are
//! cached in memory, and a failed request is an error, never an empty account.
//!
//! The block given as a number is resolved once to its hash; every later read is addressed by
//! that hash, so all reads see one consistent state even if the chain moves on.
//!
//! Blocking: each read runs on the source's own single-threaded tokio runtime. Call the
//! simulator from a blocking context (`spawn_blocking`), never from inside an async task.

use std::{collections::HashMap, future::Future, sync::Mutex, time::Duration};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

use super::source::{BlockInfo, StateError, StateSource};
use crate::report::StateSourceKind;

/// Makes ring rustls' process-wide crypto provider unless one is already chosen.
///
/// ring is the only provider compiled in (tonic's `tls-ring`; reqwest's `rustls-no-provider`, see
/// the workspace manifest), but reqwest does not fall back to it: building its client reads the
/// process default and panics when there is none, and it builds its TLS configuration even for an
/// `http://` endpoint. So [`RpcSource::connect`] installs it first, and so may anything else that
/// builds a rustls client through a library reading the default. Idempotent and race-free.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another caller installing a provider is fine: either way one
        // is installed, and ring is the only one there is.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Which block to fork at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockPin {
    /// The block with this number; its header is read once when the fork is opened.
    Number(u64),
    /// The block with this hash.
    Hash(B256),
}

/// How every state read names the pinned block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// EIP-1898 `{"blockHash": …}`: every read is bound to the exact block, reorg-proof. Default.
    #[default]
    BlockHash,
    /// The block number, for nodes without EIP-1898 (ganache). A reorg between reads could
    /// mix states; [`RpcSource::verify_pin`] detects that the number now names another block.
    BlockNumber,
}

#[derive(Debug, Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountInfo>>,
    codes: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    block_hashes: HashMap<u64, B256>,
    requests: u64,
}

/// A pinned JSON-RPC state source with an in-memory read-through cache.
#[derive(Debug)]
pub struct RpcSource {
    rt: tokio::runtime::Runtime,
    provider: DynProvider,
    pin: BlockId,
    block: BlockInfo,
    timeout: Duration,
    cache: Mutex<Cache>,
}

impl RpcSource {
    /// Connects to `endpoint` (an `http://` URL) and pins `at`. Fails within about two
    /// `timeout`s when the endpoint is down or the block does not exist.
    pub fn connect(endpoint: &str, at: BlockPin, timeout: Duration) -> Result<Self, StateError> {
        Self::connect_with(endpoint, at, timeout, Addressing::BlockHash)
    }

    /// [`RpcSource::connect`] with an explicit [`Addressing`].
    pub fn connect_with(
        endpoint: &str,
        at: BlockPin,
        timeout: Duration,
        addressing: Addressing,
    ) -> Result<Self, StateError> {
        install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StateError::Rpc {
                method: "runtime",
                message: e.to_string(),
            })?;
        let provider = with_timeout(&rt, timeout, "connect", async {
            ProviderBuilder::new()
                .connect(endpoint)
                .await
                .map(|p| p.erased())
        })?;
        let block = with_timeout(&rt, timeout, "eth_getBlockByNumber", async {
            match at {
                BlockPin::Number(n) => {
                    provider
                        .get_block_by_number(BlockNumberOrTag::Number(n))
                        .await
                }
                BlockPin::Hash(h) => provider.get_block_by_hash(h).await,
            }
        })?
        .ok_or(StateError::Rpc {
            method: "eth_getBlockByNumber",
            message: format!("block {at:?} not found"),
        })?;
        let h = &block.header;
        let info = BlockInfo {
            number: h.number,
            hash: Some(h.hash),
            timestamp: h.timestamp,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            gas_limit: h.gas_limit,
            beneficiary: h.beneficiary,
            prevrandao: h.mix_hash,
        };
        Ok(Self {
            rt,
            provider,
            pin: match addressing {
                Addressing::BlockHash => BlockId::hash(h.hash),
                Addressing::BlockNumber => BlockId::number(h.number),
            },
            block: info,
            timeout,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// Checks that the pinned block number still names the pinned block (call it after a
    /// simulation when using [`Addressing::BlockNumber`]); a mismatch is an error.
    pub fn verify_pin(&self) -> Result<(), StateError> {
        let p = &self.provider;
        let number = self.block.number;
        let block = with_timeout(&self.rt, self.timeout, "eth_getBlockByNumber", async {
            p.get_block_by_number(BlockNumberOrTag::Number(number))
                .await
        })?
        .ok_or(StateError::BlockHash(number))?;
        if Some(block.header.hash) == self.block.hash {
            Ok(())
        } else {
            Err(StateError::Rpc {
                method: "eth_getBlockByNumber",
                message: format!("block {number} was reorganised away from the pinned hash"),
            })
        }
    }

    /// How many RPC requests this source has made (cache misses), for measurements.
    pub fn request_count(&self) -> u64 {
        self.cache.lock().map(|c| c.requests).unwrap_or_default()
    }

    fn cache(&self) -> Result<std::sync::MutexGuard<'_, Cache>, StateError> {
        self.cache.lock().map_err(|_| StateError::Rpc {
            method: "cache",
            message: "cache lock poisoned".into(),
        })
    }

    fn count(&self, n: u64) -> Result<(), StateError> {
        self.cache()?.requests += n;
        Ok(())
    }
}

fn with_timeout<T, E: std::fmt::Display>(
    rt: &tokio::runtime::Runtime,
    timeout: Duration,
    method: &'static str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, StateError> {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    rt.block_on(async { tokio::time::timeout(timeout, fut).await })
        .map_err(|_| StateError::RpcTimeout { method, timeout_ms })?
        .map_err(|e| StateError::Rpc {
            method,
            message: e.to_string(),
        })
}

impl DatabaseRef for RpcSource {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(hit) = self.cache()?.accounts.get(&address) {
            return Ok(hit.clone());
        }
        let p = &self.provider;
        let pin = self.pin;
        let (balance, nonce, code) =
            with_timeout(&self.rt, self.timeout, "eth_getBalance", async {
                tokio::try_join!(
                    p.get_balance(address).block_id(pin),
                    p.get_transaction_count(address).block_id(pin),
                    p.get_code_at(address).block_id(pin),
                )
            })?;
        self.count(3)?;
        let info = super::source::account_info(balance, nonce, code);
        if let Some(code) = &info.code {
            self.cache()?.codes.insert(info.code_hash, code.clone());
        }
        // JSON-RPC cannot tell "absent" from "empty"; an empty account is what the EVM sees.
        let info = Some(info);
        self.cache()?.accounts.insert(address, info.clone());
        Ok(info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        // Code is only ever learned through `basic_ref`, which caches it first.
        self.cache()?
            .codes
            .get(&code_hash)
            .cloned()
            .ok_or(StateError::UnknownCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(v) = self.cache()?.storage.get(&(address, index)) {
            return Ok(*v);
        }
        let p = &self.provider;
        let pin = self.pin;
        let v = with_timeout(&self.rt, self.timeout, "eth_getStorageAt", async {
            p.get_storage_at(address, index).block_id(pin).await
        })?;
        self.count(1)?;
        self.cache()?.storage.insert((address, index), v);
        Ok(v)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        if let Some(h) = self.cache()?.block_hashes.get(&number) {
            return Ok(*h);
        }
        let p = &self.provider;
        let block = with_timeout(&self.rt, self.timeout, "eth_getBlockByNumber", async {
            p.get_block_by_number(BlockNumberOrTag::Number(number))
                .await
        })?
        .ok_or(StateError::BlockHash(number))?;
        self.count(1)?;
        self.cache()?.block_hashes.insert(number, block.header.hash);
        Ok(block.header.hash)
    }
}

impl StateSource for RpcSource {
    fn block(&self) -> BlockInfo {
        self.block
    }

    fn kind(&self) -> StateSourceKind {
        StateSourceKind::Rpc
    }
}
