//! The seam decisions read state through: [`StateProvider`] pins a chain for one decision,
//! [`PinnedState`] answers what is asked of it at that pin. Two providers: the live chains
//! ([`Chains`]) and one fixed state for every chain ([`SnapshotProvider`]: the demo, offline
//! tests, air-gapped use).

use std::{future::Future, sync::Arc};

use alloy_primitives::{Address, U256};
use signgate_simulator::{
    constants::slots,
    deployments,
    evm::{BlockInfo, StateError, StateSource, read_list},
};

use crate::{
    chain::{ChainHealth, Chains},
    error::ChainError,
    pin::{Budget, Pin, PinView},
    safe::{SafeFacts, read_safe},
};

/// Where a decision's state comes from.
pub trait StateProvider: Send + Sync + 'static {
    /// One decision's view of one chain at one block.
    type Pinned: PinnedState;

    /// Pins `chain_id` for one decision. `fresh`: look for a new head now (a release must see
    /// the chain as it is), otherwise a pin of the last poll interval may be shared.
    fn pin(
        &self,
        chain_id: u64,
        fresh: bool,
    ) -> impl Future<Output = Result<Self::Pinned, ChainError>> + Send;

    /// Every live chain's health (none for a fixed state).
    fn health(&self) -> Vec<ChainHealth> {
        Vec::new()
    }

    /// Whether state comes from live chains: then the Safe's version is the chain's, never the
    /// request's.
    fn is_live(&self) -> bool;
}

/// One decision's state at one block.
pub trait PinnedState: Send + Sync + 'static {
    /// What computations read.
    type View: StateSource + Send + Sync + 'static;

    /// The block.
    fn block(&self) -> BlockInfo;

    /// The Safe's own state; `prefetch` names accounts the computation will read (the
    /// transaction's target), fetched in the same round trip.
    fn safe_facts(
        &self,
        safe: Address,
        prefetch: Vec<Address>,
    ) -> impl Future<Output = Result<SafeFacts, ChainError>> + Send;

    /// Runs `f` over the state at this block (on a blocking thread). `f` may run more than once
    /// and must be a pure function of what it reads.
    fn run<R, F>(&self, f: F) -> impl Future<Output = Result<R, ChainError>> + Send
    where
        F: Fn(&Self::View) -> R + Send + Sync + 'static,
        R: Send + 'static;
}

impl StateProvider for Chains {
    type Pinned = LivePin;

    async fn pin(&self, chain_id: u64, fresh: bool) -> Result<LivePin, ChainError> {
        let chain = self.get(chain_id)?;
        let pin = chain.pin(fresh).await?;
        let budget = Arc::new(Budget::new(chain_id, chain.settings().max_requests));
        Ok(LivePin { pin, budget })
    }

    fn health(&self) -> Vec<ChainHealth> {
        Chains::health(self)
    }

    fn is_live(&self) -> bool {
        true
    }
}

impl<T: StateProvider> StateProvider for Arc<T> {
    type Pinned = T::Pinned;

    fn pin(
        &self,
        chain_id: u64,
        fresh: bool,
    ) -> impl Future<Output = Result<Self::Pinned, ChainError>> + Send {
        self.as_ref().pin(chain_id, fresh)
    }

    fn health(&self) -> Vec<ChainHealth> {
        self.as_ref().health()
    }

    fn is_live(&self) -> bool {
        self.as_ref().is_live()
    }
}

/// A live pin with the request budget of the decision holding it.
#[derive(Debug, Clone)]
pub struct LivePin {
    pin: Arc<Pin>,
    budget: Arc<Budget>,
}

impl LivePin {
    /// The shared pin.
    pub fn pin(&self) -> &Arc<Pin> {
        &self.pin
    }

    /// JSON-RPC calls this decision made so far.
    pub fn calls_used(&self) -> u64 {
        self.budget.used()
    }
}

impl PinnedState for LivePin {
    type View = PinView;

    fn block(&self) -> BlockInfo {
        self.pin.block()
    }

    async fn safe_facts(
        &self,
        safe: Address,
        prefetch: Vec<Address>,
    ) -> Result<SafeFacts, ChainError> {
        read_safe(&self.pin, safe, &prefetch, &self.budget).await
    }

    async fn run<R, F>(&self, f: F) -> Result<R, ChainError>
    where
        F: Fn(&PinView) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        self.pin.run(&self.budget, f).await
    }
}

/// One fixed state for every chain id: a snapshot file (the demo, offline tests) or any other
/// [`StateSource`]. Nothing is live, so the submitted Safe version is taken when the state's
/// singleton is not a canonical one.
#[derive(Debug)]
pub struct SnapshotProvider<T> {
    state: Arc<T>,
}

impl<T> SnapshotProvider<T> {
    /// Serves `state` for every chain.
    pub fn new(state: T) -> Self {
        Self {
            state: Arc::new(state),
        }
    }
}

impl<T: StateSource + Send + Sync + 'static> StateProvider for SnapshotProvider<T> {
    type Pinned = FixedPin<T>;

    async fn pin(&self, _chain_id: u64, _fresh: bool) -> Result<FixedPin<T>, ChainError> {
        Ok(FixedPin {
            state: self.state.clone(),
        })
    }

    fn is_live(&self) -> bool {
        false
    }
}

/// [`SnapshotProvider`]'s pin: the state itself.
#[derive(Debug)]
pub struct FixedPin<T> {
    state: Arc<T>,
}

impl<T: StateSource + Send + Sync + 'static> PinnedState for FixedPin<T> {
    type View = T;

    fn block(&self) -> BlockInfo {
        self.state.block()
    }

    async fn safe_facts(
        &self,
        safe: Address,
        _prefetch: Vec<Address>,
    ) -> Result<SafeFacts, ChainError> {
        let facts = if self.state.in_memory() {
            // A few dozen reads from memory, bounded by the lists' maximum length: less than
            // the blocking pool's round trip.
            fixed_facts(self.state.as_ref(), safe)
        } else {
            let state = self.state.clone();
            tokio::task::spawn_blocking(move || fixed_facts(state.as_ref(), safe))
                .await
                .map_err(|_| ChainError::Task)?
        };
        facts.map_err(|e| ChainError::Source(format!("reading Safe {safe}: {e}")))
    }

    async fn run<R, F>(&self, f: F) -> Result<R, ChainError>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let state = self.state.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            f(state.as_ref())
        })
        .await
        .map_err(|_| ChainError::Task)
    }
}

fn fixed_facts<T: StateSource>(state: &T, safe: Address) -> Result<SafeFacts, String> {
    let word = |slot: U256| {
        state
            .storage_ref(safe, slot)
            .map_err(|e: StateError| e.to_string())
    };
    let addr = |w: U256| Address::from_word(w.to_be_bytes::<32>().into());
    let singleton = addr(word(slots::SINGLETON)?);
    let version = deployments::lookup(singleton)
        .filter(|d| {
            matches!(
                d.contract,
                deployments::SafeContract::Singleton | deployments::SafeContract::SingletonL2
            )
        })
        .map(|d| d.version);
    Ok(SafeFacts {
        singleton,
        version,
        owners: read_list(state, safe, slots::owner, "owners").map_err(|e| e.to_string())?,
        threshold: word(slots::THRESHOLD)?,
        nonce: word(slots::NONCE)?,
        guard: addr(word(slots::guard())?),
        module_guard: addr(word(slots::module_guard())?),
        modules: read_list(state, safe, slots::module, "modules").map_err(|e| e.to_string())?,
        fallback_handler: addr(word(slots::fallback_handler())?),
    })
}
