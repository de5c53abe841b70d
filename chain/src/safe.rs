//! The Safe's own state, read from every agreeing endpoint at the pin and compared: the block
//! hash, the singleton (and so the version), owners, threshold, nonce, guard, module guard,
//! modules and fallback handler. These decide what `execTransaction` checks and which code
//! runs; a provider that lies about one of them can make a decision about another Safe than
//! the one on chain, so they are never taken from the request and never from one endpoint
//! alone.

use std::{str::FromStr, sync::Arc};

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use signgate_simulator::{
    SafeVersion,
    abi::ISafe,
    constants::{SENTINEL, slots},
    deployments,
};

use crate::{
    error::{Answer, ChainError, EndpointError},
    pin::{Budget, Fetched, Key, Pin, agree, parse_keys},
    rpc::{Call, EndpointClient, read},
};

/// Most modules read and compared (a Safe with more is still simulated in full; only the
/// comparison stops here).
const MODULE_PAGE: u64 = 100;

/// The Safe's state at the pin, as every agreeing endpoint reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeFacts {
    /// The singleton the proxy delegates to (slot 0).
    pub singleton: Address,
    /// The version: the canonical deployment's, else what `VERSION()` answers; `None` when
    /// neither is known (only from a snapshot).
    pub version: Option<SafeVersion>,
    /// Owners, in list order.
    pub owners: Vec<Address>,
    /// Signatures required.
    pub threshold: U256,
    /// The next nonce to execute.
    pub nonce: U256,
    /// The transaction guard (zero: none).
    pub guard: Address,
    /// The module guard (1.5.0; zero: none).
    pub module_guard: Address,
    /// Enabled modules (the first page of them).
    pub modules: Vec<Address>,
    /// The fallback handler (zero: none).
    pub fallback_handler: Address,
}

/// What each endpoint answered, field by field, for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reported {
    block_hash: String,
    words: Vec<U256>,
    owners: Option<Bytes>,
    modules: Option<Bytes>,
    version: Option<Bytes>,
}

const WORD_NAMES: [&str; 7] = [
    "singleton (slot 0)",
    "owner count (slot 3)",
    "threshold (slot 4)",
    "nonce (slot 5)",
    "guard",
    "fallback handler",
    "module guard",
];

fn word_slots() -> [U256; 7] {
    [
        slots::SINGLETON,
        slots::OWNER_COUNT,
        slots::THRESHOLD,
        slots::NONCE,
        slots::guard(),
        slots::fallback_handler(),
        slots::module_guard(),
    ]
}

fn core_calls(pin: &Pin, safe: Address) -> Vec<Call> {
    let at = pin.block_param();
    let mut calls = vec![pin.header_check()];
    for slot in word_slots() {
        calls.push(Call::new(
            "eth_getStorageAt",
            json!([safe, format!("{slot:#x}"), at]),
        ));
    }
    let eth_call = |data: Vec<u8>| {
        Call::new(
            "eth_call",
            json!([{"to": safe, "data": Bytes::from(data)}, at]),
        )
    };
    calls.push(eth_call(ISafe::getOwnersCall {}.abi_encode()));
    calls.push(eth_call(
        ISafe::getModulesPaginatedCall {
            start: SENTINEL,
            pageSize: U256::from(MODULE_PAGE),
        }
        .abi_encode(),
    ));
    calls.push(eth_call(ISafe::VERSIONCall {}.abi_encode()));
    calls
}

/// Parses one endpoint's answers to [`core_calls`]. An eth_call that fails is `None` (nodes word
/// reverts differently, so only "it failed" is compared); anything else failing fails the
/// endpoint.
fn reported(answers: &[Result<Value, EndpointError>]) -> Result<Reported, EndpointError> {
    let get = |i: usize| -> Result<&Value, EndpointError> {
        match answers.get(i) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err(EndpointError::Malformed {
                method: "batch".into(),
                detail: "too few answers".into(),
            }),
        }
    };
    let header = get(0)?;
    let block_hash = if header.is_null() {
        "no such block".to_owned()
    } else {
        read::b256(
            "eth_getBlockByNumber",
            read::field("eth_getBlockByNumber", header, "hash")?,
        )?
        .to_string()
    };
    let mut words = Vec::with_capacity(7);
    for i in 1..=7 {
        words.push(read::word("eth_getStorageAt", get(i)?)?);
    }
    let call = |i: usize| -> Option<Bytes> {
        answers
            .get(i)
            .and_then(|a| a.as_ref().ok())
            .and_then(|v| read::bytes("eth_call", v).ok())
    };
    Ok(Reported {
        block_hash,
        words,
        owners: call(8),
        modules: call(9),
        version: call(10),
    })
}

fn addr(w: U256) -> Address {
    Address::from_word(w.to_be_bytes::<32>().into())
}

/// Reads the Safe's state at `pin` from every agreeing endpoint (in parallel, one batch each)
/// and checks they agree; the same batch fetches the accounts in `prefetch` (compared too), so
/// the simulation that follows starts warm.
pub(crate) async fn read_safe(
    pin: &Arc<Pin>,
    safe: Address,
    prefetch: &[Address],
    budget: &Budget,
) -> Result<SafeFacts, ChainError> {
    let chain_id = pin.chain_id();
    if let Some(known) = pin.known_facts(safe) {
        // Agreed at this very block already; the accounts to prefetch were fetched with it or
        // are fetched by the simulation's rounds.
        return Ok(known);
    }
    let core = core_calls(pin, safe);
    let mut accounts: Vec<Key> = Vec::new();
    for a in std::iter::once(safe).chain(prefetch.iter().copied()) {
        let k = Key::Account(a);
        if !accounts.contains(&k) {
            accounts.push(k);
        }
    }
    let mut calls = core.clone();
    for k in &accounts {
        calls.extend(pin.calls_for(k));
    }
    budget.take(calls.len().saturating_mul(pin.agreeing.len()))?;
    let asks = pin.agreeing.iter().map(|client| {
        let calls = calls.clone();
        let client: Arc<EndpointClient> = client.clone();
        async move { (client.label().to_owned(), client.batch(&calls).await) }
    });
    let results = join_all(asks).await;

    let mut answered: Vec<(String, Reported)> = Vec::new();
    let mut fetched: Vec<(String, Vec<Fetched>)> = Vec::new();
    let mut failures: Vec<(String, EndpointError)> = Vec::new();
    for (result, client) in results.into_iter().zip(&pin.agreeing) {
        let (label, result) = result.unwrap_or_else(|| {
            (
                client.label().to_owned(),
                Err(EndpointError::Transport("the request task failed".into())),
            )
        });
        let parsed = result.and_then(|a| {
            let r = reported(&a)?;
            let v = parse_keys(&accounts, a.get(core.len()..).unwrap_or_default())?;
            Ok((r, v))
        });
        match parsed {
            Ok((r, v)) => {
                answered.push((label.clone(), r));
                fetched.push((label, v));
            }
            Err(e) => failures.push((label, e)),
        }
    }
    pin.require_quorum(answered.len(), failures)?;
    compare(chain_id, safe, pin, &answered)?;
    let values = agree(chain_id, &accounts, &fetched)?;
    let (_, mine) = answered.first().cloned().ok_or(ChainError::Task)?;
    if mine.block_hash != pin.hash().to_string() {
        return Err(ChainError::Reorganised {
            chain_id,
            number: pin.block().number,
            pinned: pin.hash(),
            now: alloy_primitives::B256::from_str(&mine.block_hash).unwrap_or_default(),
        });
    }
    // The agreed values are facts at the pin; the lists from getOwners()/getModules() are only
    // hints for the storage walk, fetched (and compared) in the next round.
    for (slot, value) in word_slots().into_iter().zip(&mine.words) {
        pin.cache_put(|c| c.put_storage(safe, slot, *value));
    }
    for (k, v) in accounts.iter().zip(values) {
        pin.store(k, v);
    }
    let owners = mine
        .owners
        .as_ref()
        .and_then(|b| ISafe::getOwnersCall::abi_decode_returns(b).ok())
        .unwrap_or_default();
    let modules = mine
        .modules
        .as_ref()
        .and_then(|b| ISafe::getModulesPaginatedCall::abi_decode_returns(b).ok())
        .map(|r| r.array)
        .unwrap_or_default();
    hint_list(pin, safe, &owners, slots::owner);
    hint_list(pin, safe, &modules, slots::module);

    let [
        singleton,
        _count,
        threshold,
        nonce,
        guard,
        fallback,
        module_guard,
    ] = <[U256; 7]>::try_from(mine.words.clone()).map_err(|_| ChainError::Task)?;
    let singleton = addr(singleton);
    let version = deployments::lookup(singleton)
        .filter(|d| {
            matches!(
                d.contract,
                deployments::SafeContract::Singleton | deployments::SafeContract::SingletonL2
            )
        })
        .map(|d| d.version)
        .or_else(|| {
            mine.version
                .as_ref()
                .and_then(|b| ISafe::VERSIONCall::abi_decode_returns(b).ok())
                .and_then(|s| SafeVersion::from_str(&s).ok())
        });
    let Some(version) = version else {
        return Err(ChainError::NotASafe {
            chain_id,
            detail: format!(
                "{safe} delegates to {singleton}, which is no canonical Safe singleton and \
                 answers no known VERSION()"
            ),
        });
    };
    if threshold.is_zero() {
        return Err(ChainError::NotASafe {
            chain_id,
            detail: format!("{safe} is not an initialised Safe (threshold 0)"),
        });
    }
    let facts = SafeFacts {
        singleton,
        version: Some(version),
        owners,
        threshold,
        nonce,
        guard: addr(guard),
        module_guard: addr(module_guard),
        modules,
        fallback_handler: addr(fallback),
    };
    pin.remember_facts(safe, &facts);
    Ok(facts)
}

/// Hints the linked-list storage (`list[SENTINEL] = first`, …, `list[last] = SENTINEL`) of a
/// list an eth_call reported.
fn hint_list(pin: &Pin, safe: Address, list: &[Address], slot_of: fn(Address) -> U256) {
    let mut prev = SENTINEL;
    for a in list {
        pin.put_hint_storage(safe, slot_of(prev), a.into_word().into());
        prev = *a;
    }
    pin.put_hint_storage(safe, slot_of(prev), SENTINEL.into_word().into());
}

/// Every answered endpoint must report the same values; the first field that differs is the
/// evidence.
fn compare(
    chain_id: u64,
    safe: Address,
    pin: &Pin,
    answered: &[(String, Reported)],
) -> Result<(), ChainError> {
    let Some((_, first)) = answered.first() else {
        return Ok(());
    };
    let disagree = |what: String, show: &dyn Fn(&Reported) -> String| {
        Err(ChainError::Disagreement {
            chain_id,
            what,
            answers: answered
                .iter()
                .map(|(e, r)| Answer {
                    endpoint: e.clone(),
                    value: show(r),
                })
                .collect(),
        })
    };
    for (_, r) in answered.iter().skip(1) {
        if r.block_hash != first.block_hash {
            return disagree(format!("the hash of block {}", pin.block().number), &|r| {
                r.block_hash.clone()
            });
        }
        for (i, name) in WORD_NAMES.iter().enumerate() {
            if r.words.get(i) != first.words.get(i) {
                return disagree(format!("Safe {safe} {name}"), &|r| {
                    r.words
                        .get(i)
                        .map(|w| format!("{w:#x}"))
                        .unwrap_or_default()
                });
            }
        }
        let show = |b: &Option<Bytes>| {
            b.as_ref()
                .map_or("a failed call".to_owned(), |b| b.to_string())
        };
        if r.owners != first.owners {
            return disagree(format!("Safe {safe} getOwners()"), &|r| show(&r.owners));
        }
        if r.modules != first.modules {
            return disagree(format!("Safe {safe} modules"), &|r| show(&r.modules));
        }
        if r.version != first.version {
            return disagree(format!("Safe {safe} VERSION()"), &|r| show(&r.version));
        }
    }
    Ok(())
}

/// Runs every future concurrently (each on its own task) and returns their outputs in order.
pub(crate) async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<Option<F::Output>>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.ok());
    }
    out
}
