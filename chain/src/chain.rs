//! A configured chain: its endpoints, their health, and the pin decisions share.
//!
//! A refresh asks every endpoint for its chain id and its head (`latest`, `safe` or `finalized`)
//! in one batch each, picks the block to decide on (the lowest head among the answering
//! endpoints, less the confirmations), and requires every answering endpoint to report the same
//! hash for it. A pin is shared by every decision until the next refresh, so concurrent
//! decisions share one cache; a release asks for a refresh first, so it sees the chain as it is.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256};
use serde_json::{Value, json};
use signgate_simulator::evm::BlockInfo;

use crate::{
    error::{Answer, ChainError, EndpointError},
    pin::Pin,
    rpc::{Call, EndpointClient, read},
    safe::join_all,
    settings::{BlockChoice, ChainSettings},
};

/// How one endpoint looked at the last check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointState {
    /// Not checked yet.
    Unchecked,
    /// Answered with the configured chain id.
    Ok {
        /// The block it reported for the configured tag.
        head: u64,
    },
    /// Reports another chain: never used until it reports the right one.
    WrongChain {
        /// What it reported.
        reported: u64,
    },
    /// Did not answer usably.
    Failing {
        /// Why.
        error: String,
    },
}

/// One endpoint's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    /// Scheme, host and port.
    pub endpoint: String,
    /// Its state at the last check.
    pub state: EndpointState,
}

/// A chain's health, for `admin health` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHealth {
    /// The chain id.
    pub chain_id: u64,
    /// Its configured name.
    pub name: String,
    /// Whether decisions can be taken on it now.
    pub usable: bool,
    /// Why not, when it is not.
    pub problem: Option<String>,
    /// The block decisions are pinned to, when there is one.
    pub pinned: Option<(u64, B256)>,
    /// Milliseconds since the last successful check.
    pub age_ms: Option<u64>,
    /// Each endpoint.
    pub endpoints: Vec<EndpointHealth>,
}

#[derive(Debug)]
struct Current {
    pin: Option<Arc<Pin>>,
    refreshed_at: Option<Instant>,
    problem: Option<String>,
    endpoints: Vec<EndpointState>,
}

/// One configured chain.
#[derive(Debug)]
pub struct Chain {
    settings: Arc<ChainSettings>,
    clients: Vec<Arc<EndpointClient>>,
    current: Mutex<Current>,
    /// One refresh at a time; decisions waiting for it share its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl Chain {
    /// A chain with clients for its endpoints; nothing is sent yet.
    pub fn new(settings: ChainSettings) -> Result<Self, EndpointError> {
        let clients = settings
            .endpoints
            .iter()
            .map(|u| {
                EndpointClient::new(
                    u.clone(),
                    settings.request_timeout,
                    settings.max_response_bytes,
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = clients.len();
        Ok(Self {
            settings: Arc::new(settings),
            clients,
            current: Mutex::new(Current {
                pin: None,
                refreshed_at: None,
                problem: Some("not checked yet".into()),
                endpoints: vec![EndpointState::Unchecked; n],
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// HTTP requests sent to each endpoint so far, in configured order (for measurements).
    pub fn round_trips(&self) -> Vec<u64> {
        self.clients.iter().map(|c| c.round_trips()).collect()
    }

    /// The pin to decide on. `fresh`: look for a new head now (a release); otherwise the pin of
    /// the last `poll_interval` is shared.
    pub async fn pin(&self, fresh: bool) -> Result<Arc<Pin>, ChainError> {
        let asked = Instant::now();
        if !fresh && let Some(p) = self.recent(asked) {
            return Ok(p);
        }
        let _one = self.refreshing.lock().await;
        // Someone else may have refreshed while this call waited.
        if let Ok(c) = self.current.lock()
            && let (Some(p), Some(at)) = (&c.pin, c.refreshed_at)
            && at >= asked
            && c.problem.is_none()
        {
            return Ok(p.clone());
        }
        self.refresh_locked().await
    }

    fn recent(&self, now: Instant) -> Option<Arc<Pin>> {
        let c = self.current.lock().ok()?;
        let at = c.refreshed_at?;
        if c.problem.is_none() && now.saturating_duration_since(at) < self.settings.poll_interval {
            c.pin.clone()
        } else {
            None
        }
    }

    /// Checks every endpoint and moves the pin to the current block (the periodic check).
    pub async fn refresh(&self) -> Result<Arc<Pin>, ChainError> {
        let _one = self.refreshing.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<Arc<Pin>, ChainError> {
        let result = self.find_pin().await;
        let mut c = self.current.lock().map_err(|_| ChainError::Task)?;
        match result {
            Ok((block, hash, agreeing, states)) => {
                c.endpoints = states;
                c.problem = None;
                c.refreshed_at = Some(Instant::now());
                if let Some(p) = &c.pin
                    && p.hash() == hash
                {
                    return Ok(p.clone());
                }
                let pin = Pin::new(self.settings.clone(), block, hash, agreeing, c.pin.clone())
                    .map(Arc::new)
                    .ok_or(ChainError::Task)?;
                tracing::debug!(
                    chain_id = self.settings.chain_id,
                    block = block.number,
                    %hash,
                    "chain pinned"
                );
                c.pin = Some(pin.clone());
                Ok(pin)
            }
            Err((error, states)) => {
                if !states.is_empty() {
                    c.endpoints = states;
                }
                c.problem = Some(error.to_string());
                tracing::warn!(
                    chain_id = self.settings.chain_id,
                    chain = %self.settings.name,
                    %error,
                    "chain unusable: every decision on it is refused until it recovers"
                );
                Err(error)
            }
        }
    }

    async fn find_pin(
        &self,
    ) -> Result<
        (
            BlockInfo,
            B256,
            Vec<Arc<EndpointClient>>,
            Vec<EndpointState>,
        ),
        (ChainError, Vec<EndpointState>),
    > {
        let s = &self.settings;
        let chain_id = s.chain_id;
        let tag = s.block.tag();
        let asks = self.clients.iter().map(|c| {
            let c = c.clone();
            async move {
                c.batch(&[
                    Call::new("eth_chainId", json!([])),
                    Call::new("eth_getBlockByNumber", json!([tag, false])),
                ])
                .await
            }
        });
        let answers = join_all(asks).await;
        let mut states = vec![EndpointState::Unchecked; self.clients.len()];
        let mut heads: Vec<(usize, Value)> = Vec::new();
        let mut failures: Vec<(String, EndpointError)> = Vec::new();
        for (i, (client, answer)) in self.clients.iter().zip(answers).enumerate() {
            let checked = answer
                .unwrap_or_else(|| Err(EndpointError::Transport("the request task failed".into())))
                .and_then(|a| head_of(chain_id, tag, &a));
            match checked {
                Ok((number, header)) => {
                    if let Some(st) = states.get_mut(i) {
                        *st = EndpointState::Ok { head: number };
                    }
                    heads.push((i, header));
                }
                Err(e) => {
                    if let Some(st) = states.get_mut(i) {
                        *st = match &e {
                            EndpointError::WrongChain { reported, .. } => {
                                EndpointState::WrongChain {
                                    reported: *reported,
                                }
                            }
                            other => EndpointState::Failing {
                                error: other.to_string(),
                            },
                        };
                    }
                    failures.push((client.label().to_owned(), e));
                }
            }
        }
        let unavailable =
            |answered: usize, failures: Vec<(String, EndpointError)>| ChainError::Unavailable {
                chain_id,
                answered,
                configured: self.clients.len(),
                min_agreeing: s.min_agreeing,
                failures,
            };
        if heads.len() < s.min_agreeing || heads.is_empty() {
            return Err((unavailable(heads.len(), failures), states));
        }
        let lowest = heads
            .iter()
            .filter_map(|(_, h)| number_of(h))
            .min()
            .unwrap_or_default();
        let target = match s.block {
            BlockChoice::Latest { confirmations } => {
                lowest.checked_sub(confirmations).ok_or_else(|| {
                    (
                        ChainError::NoBlock {
                            chain_id,
                            detail: format!(
                                "head {lowest} is lower than the {confirmations} confirmations asked"
                            ),
                        },
                        states.clone(),
                    )
                })?
            }
            BlockChoice::Safe | BlockChoice::Finalized => lowest,
        };
        // The block at `target` from every answering endpoint: the head answer where it is that
        // block, one more request where it is not.
        let asks = heads.iter().map(|(i, header)| {
            let client = self.clients.get(*i).cloned();
            let header = header.clone();
            async move {
                if number_of(&header) == Some(target) {
                    return Ok(header);
                }
                let Some(client) = client else {
                    return Err(EndpointError::Transport("no client".into()));
                };
                let mut a = client
                    .batch(&[Call::new(
                        "eth_getBlockByNumber",
                        json!([format!("{target:#x}"), false]),
                    )])
                    .await?;
                match a.pop() {
                    Some(Ok(v)) if !v.is_null() => Ok(v),
                    Some(Err(e)) => Err(e),
                    _ => Err(EndpointError::Malformed {
                        method: "eth_getBlockByNumber".into(),
                        detail: format!("no block {target}"),
                    }),
                }
            }
        });
        let at_target = join_all(asks).await;
        let mut blocks: BTreeMap<usize, (B256, Value)> = BTreeMap::new();
        for ((i, _), header) in heads.iter().zip(at_target) {
            let label = self
                .clients
                .get(*i)
                .map(|c| c.label().to_owned())
                .unwrap_or_default();
            let parsed = header
                .unwrap_or_else(|| Err(EndpointError::Transport("the request task failed".into())))
                .and_then(|h| {
                    let hash = read::b256(
                        "eth_getBlockByNumber",
                        read::field("eth_getBlockByNumber", &h, "hash")?,
                    )?;
                    Ok((hash, h))
                });
            match parsed {
                Ok(v) => {
                    blocks.insert(*i, v);
                }
                Err(e) => {
                    if let Some(st) = states.get_mut(*i) {
                        *st = EndpointState::Failing {
                            error: e.to_string(),
                        };
                    }
                    failures.push((label, e));
                }
            }
        }
        if blocks.len() < s.min_agreeing || blocks.is_empty() {
            return Err((unavailable(blocks.len(), failures), states));
        }
        let hashes: Vec<B256> = blocks.values().map(|(h, _)| *h).collect();
        if hashes.windows(2).any(|w| w.first() != w.get(1)) {
            let answers = blocks
                .iter()
                .map(|(i, (h, _))| Answer {
                    endpoint: self
                        .clients
                        .get(*i)
                        .map(|c| c.label().to_owned())
                        .unwrap_or_default(),
                    value: h.to_string(),
                })
                .collect();
            return Err((
                ChainError::Disagreement {
                    chain_id,
                    what: format!("the hash of block {target}"),
                    answers,
                },
                states,
            ));
        }
        let Some((&first, (hash, header))) = blocks.iter().next() else {
            return Err((unavailable(0, failures), states));
        };
        let block = block_info(header).map_err(|e| {
            (
                ChainError::Endpoint {
                    chain_id,
                    endpoint: self
                        .clients
                        .get(first)
                        .map(|c| c.label().to_owned())
                        .unwrap_or_default(),
                    error: e,
                },
                states.clone(),
            )
        })?;
        let agreeing = blocks
            .keys()
            .filter_map(|i| self.clients.get(*i).cloned())
            .collect();
        Ok((block, *hash, agreeing, states))
    }

    /// The chain's health now.
    pub fn health(&self) -> ChainHealth {
        let (pin, refreshed_at, problem, states) = match self.current.lock() {
            Ok(c) => (
                c.pin.clone(),
                c.refreshed_at,
                c.problem.clone(),
                c.endpoints.clone(),
            ),
            Err(_) => (None, None, Some("state lock poisoned".into()), Vec::new()),
        };
        ChainHealth {
            chain_id: self.settings.chain_id,
            name: self.settings.name.clone(),
            usable: problem.is_none() && pin.is_some(),
            problem,
            pinned: pin.map(|p| (p.block().number, p.hash())),
            age_ms: refreshed_at
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            endpoints: self
                .clients
                .iter()
                .zip(states)
                .map(|(c, state)| EndpointHealth {
                    endpoint: c.label().to_owned(),
                    state,
                })
                .collect(),
        }
    }
}

fn number_of(header: &Value) -> Option<u64> {
    header
        .get("number")
        .and_then(|n| read::u64("eth_getBlockByNumber", n).ok())
}

/// The chain id check and the head of one endpoint's answer to the refresh batch.
fn head_of(
    expected: u64,
    tag: &str,
    answers: &[Result<Value, EndpointError>],
) -> Result<(u64, Value), EndpointError> {
    let id = match answers.first() {
        Some(Ok(v)) => read::u64("eth_chainId", v)?,
        Some(Err(e)) => return Err(e.clone()),
        None => {
            return Err(EndpointError::Malformed {
                method: "eth_chainId".into(),
                detail: "no answer".into(),
            });
        }
    };
    if id != expected {
        return Err(EndpointError::WrongChain {
            reported: id,
            expected,
        });
    }
    let header = match answers.get(1) {
        Some(Ok(v)) if !v.is_null() => v.clone(),
        Some(Err(e)) => return Err(e.clone()),
        _ => {
            return Err(EndpointError::Malformed {
                method: "eth_getBlockByNumber".into(),
                detail: format!("no `{tag}` block"),
            });
        }
    };
    let number = read::u64(
        "eth_getBlockByNumber",
        read::field("eth_getBlockByNumber", &header, "number")?,
    )?;
    Ok((number, header))
}

/// The parts of a header the simulated block is built from.
fn block_info(h: &Value) -> Result<BlockInfo, EndpointError> {
    const M: &str = "eth_getBlockByNumber";
    let opt_u64 = |name: &str| -> Result<Option<u64>, EndpointError> {
        match h.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => read::u64(M, v).map(Some),
        }
    };
    let beneficiary = match h.get("miner") {
        Some(Value::String(s)) => s.parse::<Address>().map_err(|e| EndpointError::Malformed {
            method: M.into(),
            detail: format!("miner: {e}"),
        })?,
        _ => Address::ZERO,
    };
    let prevrandao = match h.get("mixHash") {
        Some(v @ Value::String(_)) => read::b256(M, v)?,
        _ => B256::ZERO,
    };
    Ok(BlockInfo {
        number: read::u64(M, read::field(M, h, "number")?)?,
        hash: Some(read::b256(M, read::field(M, h, "hash")?)?),
        timestamp: read::u64(M, read::field(M, h, "timestamp")?)?,
        base_fee: opt_u64("baseFeePerGas")?.unwrap_or_default(),
        gas_limit: read::u64(M, read::field(M, h, "gasLimit")?)?,
        beneficiary,
        prevrandao,
    })
}

/// Every configured chain, by id.
#[derive(Debug, Default)]
pub struct Chains {
    chains: BTreeMap<u64, Arc<Chain>>,
}

impl Chains {
    /// The chains of `settings` (ids must be unique; the configuration checks that).
    pub fn new(settings: Vec<ChainSettings>) -> Result<Self, EndpointError> {
        let mut chains = BTreeMap::new();
        for s in settings {
            chains.insert(s.chain_id, Arc::new(Chain::new(s)?));
        }
        Ok(Self { chains })
    }

    /// The chain `chain_id`, or why a proposal on it is refused.
    pub fn get(&self, chain_id: u64) -> Result<Arc<Chain>, ChainError> {
        self.chains
            .get(&chain_id)
            .cloned()
            .ok_or_else(|| ChainError::Unconfigured {
                chain_id,
                configured: self
                    .chains
                    .keys()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every chain's health.
    pub fn health(&self) -> Vec<ChainHealth> {
        self.chains.values().map(|c| c.health()).collect()
    }

    /// Refreshes every chain once (at start, and from [`Chains::follow`]).
    pub async fn refresh_all(&self) {
        let all: Vec<Arc<Chain>> = self.chains.values().cloned().collect();
        let tasks = all.into_iter().map(|c| async move {
            let _ = c.refresh().await;
        });
        join_all(tasks).await;
    }

    /// Refreshes every chain each `poll_interval` until `stop` resolves, so health is current
    /// and an endpoint that starts reporting the wrong chain is noticed between decisions.
    pub async fn follow(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let every = self
            .chains
            .values()
            .map(|c| c.settings.poll_interval)
            .min()
            .unwrap_or(Duration::from_secs(2))
            .max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = tick.tick() => self.refresh_all().await,
            }
        }
    }
}
