//! One block of one chain: its header, a cache of every state read answered at it, and the
//! rounds a computation over that state runs in.
//!
//! revm reads state synchronously, one value at a time; a JSON-RPC round trip per read would
//! cost a cold Safe transfer dozens of sequential round trips. So nothing here reads the network
//! from inside the EVM. A computation (a simulation, a signature check) runs against a
//! [`PinView`] that answers from the cache and, for anything not cached, records the miss and
//! answers a *speculative* value: a hint (the same read at the previous pinned block, the Safe's
//! owner list as `getOwners()` reported it, a canonical singleton's known code) or a guess (zero,
//! then a large value, so both sides of a balance check are explored). Every miss of the round
//! is then fetched in one batch and the computation runs again. Its result is used only from a
//! run that read nothing but fetched values: speculation decides how many round trips a
//! computation costs, never what it computes.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy_primitives::{Address, B256, U256, keccak256};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use serde_json::{Value, json};
use signgate_simulator::{
    deployments,
    evm::{BlockInfo, StateError, StateSource, account_info, fixtures},
    report::StateSourceKind,
};

use crate::{
    error::{ChainError, EndpointError},
    rpc::{Call, EndpointClient, read},
    safe::join_all,
    settings::{Addressing, ChainSettings},
};

/// Most rounds one computation may take before it is refused (each round fetches at least one
/// new value, so this only bounds pathological transactions; the request bound usually
/// stops them first).
const MAX_ROUNDS: usize = 24;

/// A value read (or to be read) at the pinned block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Account(Address),
    Storage(Address, U256),
    BlockHash(u64),
}

/// Values at one block.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    accounts: HashMap<Address, AccountInfo>,
    codes: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    block_hashes: HashMap<u64, B256>,
}

impl Cache {
    fn has(&self, key: &Key) -> bool {
        match key {
            Key::Account(a) => self.accounts.contains_key(a),
            Key::Storage(a, s) => self.storage.contains_key(&(*a, *s)),
            Key::BlockHash(n) => self.block_hashes.contains_key(n),
        }
    }

    pub(crate) fn put_account_info(&mut self, address: Address, info: AccountInfo) {
        if let Some(code) = &info.code {
            self.codes.insert(info.code_hash, code.clone());
        }
        self.accounts.insert(address, info);
    }

    pub(crate) fn put_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.storage.insert((address, slot), value);
    }
}

/// The JSON-RPC calls made for one decision, against the chain's bound.
#[derive(Debug)]
pub struct Budget {
    used: AtomicU64,
    bound: u64,
    chain_id: u64,
}

impl Budget {
    /// A fresh budget of `bound` calls on `chain_id`.
    pub fn new(chain_id: u64, bound: u64) -> Self {
        Self {
            used: AtomicU64::new(0),
            bound,
            chain_id,
        }
    }

    /// Takes `n` calls from the budget, or refuses.
    pub(crate) fn take(&self, n: usize) -> Result<(), ChainError> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.bound {
            Err(ChainError::RequestBound {
                chain_id: self.chain_id,
                bound: self.bound,
            })
        } else {
            Ok(())
        }
    }

    /// Calls taken so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// One pinned block of one chain, shared by every decision taken while it is current.
#[derive(Debug)]
pub struct Pin {
    pub(crate) settings: Arc<ChainSettings>,
    pub(crate) block: BlockInfo,
    /// The block's hash (a live pin always has one).
    pub(crate) hash: B256,
    /// Every endpoint that agreed on this block; every read at the pin is asked of each and
    /// compared.
    pub(crate) agreeing: Vec<Arc<EndpointClient>>,
    cache: Arc<RwLock<Cache>>,
    /// Speculative values learned without reading them at this block.
    hints: RwLock<Cache>,
    /// The previous pin's cache: the same read one block earlier is the best guess there is.
    previous: Option<Arc<RwLock<Cache>>>,
    /// Each Safe's state once every endpoint agreed on it at this block: later decisions on the
    /// same pin need not ask again.
    facts: Mutex<HashMap<Address, crate::safe::SafeFacts>>,
}

impl Pin {
    pub(crate) fn new(
        settings: Arc<ChainSettings>,
        block: BlockInfo,
        hash: B256,
        agreeing: Vec<Arc<EndpointClient>>,
        previous: Option<Arc<Pin>>,
    ) -> Option<Self> {
        if agreeing.is_empty() {
            return None;
        }
        // Only the previous pin's cache is kept, not the pin: pins never form a chain in
        // memory.
        let previous = previous.map(|p| p.cache.clone());
        Some(Self {
            settings,
            block,
            hash,
            agreeing,
            cache: Arc::new(RwLock::new(Cache::default())),
            hints: RwLock::new(Cache::default()),
            previous,
            facts: Mutex::new(HashMap::new()),
        })
    }

    /// The pinned block.
    pub fn block(&self) -> BlockInfo {
        self.block
    }

    /// The pinned block's hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.settings.chain_id
    }

    /// The block parameter every read at this pin carries.
    pub(crate) fn block_param(&self) -> Value {
        match self.settings.addressing {
            Addressing::BlockHash => json!({"blockHash": self.hash, "requireCanonical": true}),
            Addressing::BlockNumber => json!(format!("{:#x}", self.block.number)),
        }
    }

    /// The header call that proves the pinned block is still the chain's block at its height.
    pub(crate) fn header_check(&self) -> Call {
        Call::new(
            "eth_getBlockByNumber",
            json!([format!("{:#x}", self.block.number), false]),
        )
    }

    /// Checks `label`'s answer to `header_check` against the pin.
    pub(crate) fn check_header(&self, label: &str, answer: &Value) -> Result<(), ChainError> {
        let endpoint = |error| ChainError::Endpoint {
            chain_id: self.chain_id(),
            endpoint: label.to_owned(),
            error,
        };
        if answer.is_null() {
            return Err(ChainError::NoBlock {
                chain_id: self.chain_id(),
                detail: format!("block {} is no longer known", self.block.number),
            });
        }
        let field = read::field("eth_getBlockByNumber", answer, "hash").map_err(endpoint)?;
        let now = read::b256("eth_getBlockByNumber", field).map_err(endpoint)?;
        if now == self.hash {
            Ok(())
        } else {
            Err(ChainError::Reorganised {
                chain_id: self.chain_id(),
                number: self.block.number,
                pinned: self.hash,
                now,
            })
        }
    }

    /// The Safe's agreed state at this pin, if it was read already.
    pub(crate) fn known_facts(&self, safe: Address) -> Option<crate::safe::SafeFacts> {
        self.facts.lock().ok()?.get(&safe).cloned()
    }

    /// Remembers the Safe's agreed state at this pin.
    pub(crate) fn remember_facts(&self, safe: Address, facts: &crate::safe::SafeFacts) {
        if let Ok(mut f) = self.facts.lock() {
            f.insert(safe, facts.clone());
        }
    }

    pub(crate) fn put_hint_storage(&self, address: Address, slot: U256, value: U256) {
        if let Ok(mut h) = self.hints.write() {
            h.put_storage(address, slot, value);
        }
    }

    pub(crate) fn cache_put(&self, f: impl FnOnce(&mut Cache)) {
        if let Ok(mut c) = self.cache.write() {
            f(&mut c);
        }
    }

    fn cached(&self, key: &Key) -> bool {
        self.cache.read().map(|c| c.has(key)).unwrap_or(false)
    }

    /// The calls that read `key` at this pin.
    pub(crate) fn calls_for(&self, key: &Key) -> Vec<Call> {
        let at = self.block_param();
        match key {
            Key::Account(a) => vec![
                Call::new("eth_getBalance", json!([a, at])),
                Call::new("eth_getTransactionCount", json!([a, at])),
                Call::new("eth_getCode", json!([a, at])),
            ],
            Key::Storage(a, s) => vec![Call::new(
                "eth_getStorageAt",
                json!([a, format!("{s:#x}"), at]),
            )],
            Key::BlockHash(n) => vec![Call::new(
                "eth_getBlockByNumber",
                json!([format!("{n:#x}"), false]),
            )],
        }
    }

    /// Stores an agreed value.
    pub(crate) fn store(&self, key: &Key, value: &Fetched) {
        self.cache_put(|c| match (key, value) {
            (Key::Account(a), Fetched::Account(balance, nonce, code)) => {
                c.put_account_info(*a, account_info(*balance, *nonce, code.clone()));
            }
            (Key::Storage(a, s), Fetched::Word(v)) => c.put_storage(*a, *s, *v),
            (Key::BlockHash(n), Fetched::Hash(h)) => {
                c.block_hashes.insert(*n, *h);
            }
            // `parse_keys` builds each value from its key; a mismatch cannot be stored.
            _ => {}
        });
    }

    /// Fetches every key in `keys` in one round trip from every endpoint that agreed on the pin
    /// (in parallel), each batch with the header check that detects a reorganised pin, and
    /// stores the values only if every answering endpoint reported the same ones. So no value a
    /// decision reads (code, balances, storage) rests on one provider's word.
    pub(crate) async fn fetch(&self, keys: &[Key], budget: &Budget) -> Result<(), ChainError> {
        let keys: Vec<Key> = keys.iter().filter(|k| !self.cached(k)).copied().collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut calls = vec![self.header_check()];
        for k in &keys {
            calls.extend(self.calls_for(k));
        }
        budget.take(calls.len().saturating_mul(self.agreeing.len()))?;
        let asks = self.agreeing.iter().map(|c| {
            let c = c.clone();
            let calls = calls.clone();
            async move { (c.label().to_owned(), c.batch(&calls).await) }
        });
        let mut reported = Vec::new();
        let mut failures = Vec::new();
        for (answer, client) in join_all(asks).await.into_iter().zip(&self.agreeing) {
            let (label, result) = answer.unwrap_or_else(|| {
                (
                    client.label().to_owned(),
                    Err(EndpointError::Transport("the request task failed".into())),
                )
            });
            let parsed = result.and_then(|answers| {
                let header = match answers.first() {
                    Some(Ok(h)) => h.clone(),
                    Some(Err(e)) => return Err(e.clone()),
                    None => return Err(too_few()),
                };
                Ok((
                    header,
                    parse_keys(&keys, answers.get(1..).unwrap_or_default())?,
                ))
            });
            match parsed {
                Ok((header, values)) => {
                    self.check_header(&label, &header)?;
                    reported.push((label, values));
                }
                Err(e) => failures.push((label, e)),
            }
        }
        self.require_quorum(reported.len(), failures)?;
        let agreed = agree(self.chain_id(), &keys, &reported)?;
        for (k, v) in keys.iter().zip(agreed) {
            self.store(k, v);
        }
        Ok(())
    }

    /// Refuses when fewer endpoints answered than must.
    pub(crate) fn require_quorum(
        &self,
        answered: usize,
        failures: Vec<(String, EndpointError)>,
    ) -> Result<(), ChainError> {
        if answered >= self.settings.min_agreeing.max(1) {
            return Ok(());
        }
        if let ([(endpoint, error)], 1) = (failures.as_slice(), self.settings.endpoints.len()) {
            return Err(ChainError::Endpoint {
                chain_id: self.chain_id(),
                endpoint: endpoint.clone(),
                error: error.clone(),
            });
        }
        Err(ChainError::Unavailable {
            chain_id: self.chain_id(),
            answered,
            configured: self.settings.endpoints.len(),
            min_agreeing: self.settings.min_agreeing,
            failures,
        })
    }

    /// Runs `f` until it completes having read only fetched values (see the module docs),
    /// fetching what each speculative run missed in one round trip. `f` must be a pure function
    /// of the state it reads: it is run several times.
    pub async fn run<R, F>(self: &Arc<Self>, budget: &Budget, f: F) -> Result<R, ChainError>
    where
        F: Fn(&PinView) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        for _ in 0..MAX_ROUNDS {
            let (result, mut misses) = self.attempt(&f, Speculation::Zero).await?;
            if misses.is_empty() {
                return Ok(result);
            }
            drop(result);
            // A second speculation that takes the other side of every unknown comparison finds
            // the reads the first one's early exit skipped.
            let (_, more) = self.attempt(&f, Speculation::Large).await?;
            misses.extend(more);
            let keys: Vec<Key> = misses.into_iter().collect();
            self.fetch(&keys, budget).await?;
        }
        Err(ChainError::RequestBound {
            chain_id: self.chain_id(),
            bound: budget.bound,
        })
    }

    async fn attempt<R, F>(
        self: &Arc<Self>,
        f: &Arc<F>,
        speculation: Speculation,
    ) -> Result<(R, HashSet<Key>), ChainError>
    where
        F: Fn(&PinView) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let view = PinView {
            pin: self.clone(),
            speculation,
            misses: Mutex::new(HashSet::new()),
        };
        let f = f.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let r = f(&view);
            let misses = view.misses.into_inner().unwrap_or_default();
            (r, misses)
        })
        .await
        .map_err(|_| ChainError::Task)
    }

    fn speculative_account_info(&self, address: Address) -> AccountInfo {
        if let Some(info) = self
            .hints
            .read()
            .ok()
            .and_then(|h| h.accounts.get(&address).cloned())
        {
            return info;
        }
        if let Some(info) = self.previous.as_ref().and_then(|p| {
            p.read()
                .ok()
                .and_then(|c| c.accounts.get(&address).cloned())
        }) {
            return info;
        }
        if let Some(code) = canonical_code(address) {
            return account_info(U256::ZERO, 1, code);
        }
        AccountInfo::default()
    }

    fn speculative_storage(&self, address: Address, slot: U256) -> Option<U256> {
        let hinted = self
            .hints
            .read()
            .ok()
            .and_then(|h| h.storage.get(&(address, slot)).copied());
        hinted.or_else(|| {
            self.previous.as_ref().and_then(|p| {
                p.read()
                    .ok()
                    .and_then(|c| c.storage.get(&(address, slot)).copied())
            })
        })
    }
}

/// The runtime code of a canonical Safe singleton, as a guess for an address the chain has not
/// been asked about yet (its real code is fetched before any result counts).
fn canonical_code(address: Address) -> Option<alloy_primitives::Bytes> {
    let d = deployments::lookup(address)?;
    let names: &[&str] = match d.contract {
        deployments::SafeContract::Singleton => &["Safe", "GnosisSafe"],
        deployments::SafeContract::SingletonL2 => &["SafeL2", "GnosisSafeL2"],
        _ => return None,
    };
    names
        .iter()
        .find_map(|n| fixtures::code(&format!("v{}/{n}", d.version)))
}

/// A value as an endpoint reported it, for comparison and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Balance, nonce and code.
    Account(U256, u64, alloy_primitives::Bytes),
    /// A storage word.
    Word(U256),
    /// A block hash.
    Hash(B256),
}

impl Fetched {
    fn show(&self) -> String {
        match self {
            Self::Account(balance, nonce, code) => format!(
                "balance {balance}, nonce {nonce}, code hash {}",
                keccak256(code)
            ),
            Self::Word(w) => format!("{w:#x}"),
            Self::Hash(h) => h.to_string(),
        }
    }
}

fn too_few() -> EndpointError {
    EndpointError::Malformed {
        method: "batch".into(),
        detail: "too few answers".into(),
    }
}

/// Parses one endpoint's answers to the calls of `keys` (laid out as `calls_for` each).
pub(crate) fn parse_keys(
    keys: &[Key],
    answers: &[Result<Value, EndpointError>],
) -> Result<Vec<Fetched>, EndpointError> {
    let mut answers = answers.iter();
    let mut next = || -> Result<&Value, EndpointError> {
        match answers.next() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err(too_few()),
        }
    };
    keys.iter()
        .map(|k| match k {
            Key::Account(_) => {
                let balance = read::u256("eth_getBalance", next()?)?;
                let nonce = read::u64("eth_getTransactionCount", next()?)?;
                let code = read::bytes("eth_getCode", next()?)?;
                Ok(Fetched::Account(balance, nonce, code))
            }
            Key::Storage(..) => Ok(Fetched::Word(read::word("eth_getStorageAt", next()?)?)),
            Key::BlockHash(n) => {
                let header = next()?;
                if header.is_null() {
                    return Err(EndpointError::Malformed {
                        method: "eth_getBlockByNumber".into(),
                        detail: format!("block {n} (BLOCKHASH) is not known"),
                    });
                }
                let h = read::field("eth_getBlockByNumber", header, "hash")?;
                Ok(Fetched::Hash(read::b256("eth_getBlockByNumber", h)?))
            }
        })
        .collect()
}

/// The values every endpoint reported, or the first key they disagree on with each answer.
pub(crate) fn agree<'a>(
    chain_id: u64,
    keys: &[Key],
    reported: &'a [(String, Vec<Fetched>)],
) -> Result<&'a [Fetched], ChainError> {
    let Some((_, first)) = reported.first() else {
        return Ok(&[]);
    };
    for (i, key) in keys.iter().enumerate() {
        if reported.iter().any(|(_, v)| v.get(i) != first.get(i)) {
            return Err(ChainError::Disagreement {
                chain_id,
                what: match key {
                    Key::Account(a) => format!("account {a}"),
                    Key::Storage(a, s) => format!("storage of {a} at slot {s:#x}"),
                    Key::BlockHash(n) => format!("the hash of block {n}"),
                },
                answers: reported
                    .iter()
                    .map(|(e, v)| crate::error::Answer {
                        endpoint: e.clone(),
                        value: v.get(i).map(Fetched::show).unwrap_or_default(),
                    })
                    .collect(),
            });
        }
    }
    Ok(first)
}

/// What an unknown storage value is guessed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speculation {
    /// Zero: what an untouched slot holds.
    Zero,
    /// 2^128: passes `balance >= amount` checks, so the reads after them are found too.
    Large,
}

/// A computation's view of a pin: fetched values, and speculative ones for everything else,
/// each recorded as a miss.
#[derive(Debug)]
pub struct PinView {
    pin: Arc<Pin>,
    speculation: Speculation,
    misses: Mutex<HashSet<Key>>,
}

impl PinView {
    fn miss(&self, key: Key) {
        if let Ok(mut m) = self.misses.lock() {
            m.insert(key);
        }
    }
}

impl DatabaseRef for PinView {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(info) = self
            .pin
            .cache
            .read()
            .ok()
            .and_then(|c| c.accounts.get(&address).cloned())
        {
            return Ok(Some(info));
        }
        self.miss(Key::Account(address));
        Ok(Some(self.pin.speculative_account_info(address)))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let lookup =
            |c: &RwLock<Cache>| c.read().ok().and_then(|c| c.codes.get(&code_hash).cloned());
        lookup(&self.pin.cache)
            .or_else(|| lookup(&self.pin.hints))
            .or_else(|| self.pin.previous.as_ref().and_then(|p| lookup(p)))
            .ok_or(StateError::UnknownCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(v) = self
            .pin
            .cache
            .read()
            .ok()
            .and_then(|c| c.storage.get(&(address, index)).copied())
        {
            return Ok(v);
        }
        self.miss(Key::Storage(address, index));
        Ok(self
            .pin
            .speculative_storage(address, index)
            .unwrap_or(match self.speculation {
                Speculation::Zero => U256::ZERO,
                Speculation::Large => U256::from(1) << 128,
            }))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        if let Some(h) = self
            .pin
            .cache
            .read()
            .ok()
            .and_then(|c| c.block_hashes.get(&number).copied())
        {
            return Ok(h);
        }
        self.miss(Key::BlockHash(number));
        Ok(B256::ZERO)
    }
}

impl StateSource for PinView {
    fn block(&self) -> BlockInfo {
        self.pin.block
    }

    fn kind(&self) -> StateSourceKind {
        StateSourceKind::Rpc
    }
}
