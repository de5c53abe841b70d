//! Running `execTransaction` on the Safe proxy exactly as the chain would.
//!
//! The outer transaction calls the proxy, the proxy delegates to its singleton, and the
//! singleton executes the SafeTx: a DELEGATECALL SafeTx therefore runs in the Safe's own storage
//! context, which is the whole point (Bybit). There is no shortcut that calls `to` directly.
//!
//! Signatures: supplied signatures run unmodified. Without them, only
//! `approvedHashes[owner][safeTxHash]` of `threshold` real owners is set, and v=1 signatures are
//! passed: owners, threshold, nonce and guard stay real, so a malicious `changeThreshold` or
//! `setGuard` still shows in the diff, and the guard still runs.
//!
//! Refunds: the outer transaction runs at `tx.gasprice = gasPrice`, so an ETH refund moves
//! (see `refund_gas_price`); the Safe's reported payment is in the report's `refund`.
//!
//! Nonces: a transaction for the Safe's current nonce runs as is. One queued behind others
//! (`tx.nonce` above the Safe's nonce) runs with the nonce slot set to `tx.nonce`, listed as an
//! [`OverrideReason::QueuedNonce`] override: the run assumes the earlier nonces executed, without
//! replaying them. One below the Safe's nonce can never execute and is an error.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use revm::{
    ExecuteCommitEvm, ExecuteEvm, InspectEvm, MainBuilder, MainContext,
    context::{Context, TxEnv},
    context_interface::result::{EVMError, ExecutionResult, HaltReason},
    database::CacheDB,
    database_interface::DatabaseRef,
    primitives::{TxKind, hardfork::SpecId},
};

use super::{
    diff::{self, RunFacts},
    inspector::EffectsInspector,
    source::{Deadlined, StateError, StateSource},
};
use crate::{
    abi::{IERC20, IERC20Metadata, ISafe},
    constants::{SENTINEL, slots},
    hash::{SafeContext, safe_tx_hash},
    report::{OverrideReason, SignatureMode, SimulationReport, StateOverride, TokenMetadata},
    tx::SafeTx,
    version::SafeVersion,
};

/// Upper bound on the owners and modules lists walked in the pre-state. Safe itself has no
/// limit; a list longer than this is treated as an error rather than truncated.
pub const MAX_LIST_LEN: usize = 1_000;

/// Knobs of one simulation. The defaults suit a mainnet custody Safe.
#[derive(Debug, Clone)]
pub struct SimulationOptions {
    /// `tx.origin`/`msg.sender` of the outer transaction. `None`: the first owner in the
    /// Safe's list (an owner usually executes; guards may check `msg.sender`).
    pub executor: Option<Address>,
    /// Gas limit of the outer transaction; running out at the top is [`SimulationError::GasCapExceeded`].
    pub gas_cap: u64,
    /// Wall-clock budget of the whole simulation, state reads included.
    pub timeout: Duration,
    /// The hardfork rules to execute under.
    pub spec: SpecId,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        Self {
            executor: None,
            gas_cap: 15_000_000,
            timeout: Duration::from_secs(10),
            spec: SpecId::PRAGUE,
        }
    }
}

/// Why a simulation produced no report. A reverting transaction is *not* an error: it is a
/// report with [`crate::report::Outcome::Revert`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// Reading the pre-state failed (RPC error or timeout, malformed snapshot).
    #[error("state source: {0}")]
    State(#[source] StateError),
    /// The whole simulation took longer than [`SimulationOptions::timeout`].
    #[error("simulation exceeded its deadline of {timeout_ms} ms")]
    DeadlineExceeded {
        /// The budget, in milliseconds.
        timeout_ms: u64,
    },
    /// The outer call ran out of [`SimulationOptions::gas_cap`]; a larger cap may succeed.
    #[error("simulation ran out of its gas cap of {cap}")]
    GasCapExceeded {
        /// The gas limit the outer transaction had.
        cap: u64,
    },
    /// Approved-hash overrides were asked for on a Safe whose threshold is 0: no Safe lives at
    /// the address, or it was never set up.
    #[error("{safe} is not an initialised Safe: threshold 0")]
    NotInitialised {
        /// The address simulated as a Safe.
        safe: Address,
    },
    /// The threshold is larger than the owners list, so no set of approved-hash overrides can pass.
    #[error("the Safe's threshold {threshold} exceeds its {owners} owners")]
    NotEnoughOwners {
        /// The Safe's threshold.
        threshold: U256,
        /// How many owners its list holds.
        owners: usize,
    },
    /// The owners or modules list has more than [`MAX_LIST_LEN`] entries or loops.
    #[error("the Safe's {list} list is longer than {max} or does not terminate")]
    ListTooLong {
        /// `owners` or `modules`.
        list: &'static str,
        /// The bound.
        max: usize,
    },
    /// revm refused to run the transaction (invalid transaction or internal error), with its
    /// message.
    #[error("the EVM refused the transaction: {0}")]
    Evm(String),
    /// The transaction's nonce is below the Safe's: it executed already or was replaced.
    #[error("nonce {nonce} was already used; the Safe is at {current}")]
    NonceUsed {
        /// The transaction's nonce.
        nonce: U256,
        /// The Safe's nonce at the pinned state.
        current: U256,
    },
}

impl From<StateError> for SimulationError {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

/// Simulates with [`SimulationOptions::default`]; see [`simulate_with`].
pub fn simulate<S: StateSource>(
    state: &S,
    chain_id: u64,
    safe: Address,
    version: SafeVersion,
    tx: &SafeTx,
    signatures: Option<&[u8]>,
) -> Result<SimulationReport, SimulationError> {
    simulate_with(
        state,
        chain_id,
        safe,
        version,
        tx,
        signatures,
        &SimulationOptions::default(),
    )
}

/// Runs `tx` through `execTransaction` of the Safe proxy `safe` on top of `state`.
///
/// `signatures`: `Some` runs them unmodified (the Safe decides whether they suffice; if not, the
/// report shows its revert). `None` uses approved-hash overrides for `threshold` real owners.
pub fn simulate_with<S: StateSource>(
    state: &S,
    chain_id: u64,
    safe: Address,
    version: SafeVersion,
    tx: &SafeTx,
    signatures: Option<&[u8]>,
    opts: &SimulationOptions,
) -> Result<SimulationReport, SimulationError> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let timeout_ms = u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX);
    let to_deadline = |e: StateError| match e {
        StateError::Deadline => SimulationError::DeadlineExceeded { timeout_ms },
        other => SimulationError::State(other),
    };
    let src = Deadlined {
        inner: state,
        deadline,
    };

    let safe_tx_hash = safe_tx_hash(
        &SafeContext {
            chain_id,
            safe,
            version,
        },
        tx,
    );
    let owners = read_list(&src, safe, slots::owner, "owners").map_err(|e| lift(e, timeout_ms))?;
    let modules =
        read_list(&src, safe, slots::module, "modules").map_err(|e| lift(e, timeout_ms))?;
    let threshold = src
        .storage_ref(safe, slots::THRESHOLD)
        .map_err(to_deadline)?;
    let singleton = Address::from_word(
        src.storage_ref(safe, slots::SINGLETON)
            .map_err(to_deadline)?
            .into(),
    );

    let mut sorted = owners.clone();
    sorted.sort();
    let executor = opts
        .executor
        .or_else(|| owners.first().copied())
        .unwrap_or(SENTINEL);

    let mut db = CacheDB::new(&src);
    let mut overrides = Vec::new();
    let current_nonce = src.storage_ref(safe, slots::NONCE).map_err(to_deadline)?;
    if tx.nonce < current_nonce {
        return Err(SimulationError::NonceUsed {
            nonce: tx.nonce,
            current: current_nonce,
        });
    }
    if tx.nonce > current_nonce {
        db.insert_account_storage(safe, slots::NONCE, tx.nonce)
            .map_err(to_deadline)?;
        overrides.push(StateOverride {
            address: safe,
            slot: slots::NONCE,
            real: current_nonce.into(),
            value: tx.nonce.into(),
            reason: OverrideReason::QueuedNonce {
                current: current_nonce,
                assumed: tx.nonce,
            },
        });
    }
    let (mode, sig_bytes) = match signatures {
        Some(sigs) => (SignatureMode::Supplied, Bytes::copy_from_slice(sigs)),
        None => {
            if threshold.is_zero() {
                return Err(SimulationError::NotInitialised { safe });
            }
            let needed = usize::try_from(threshold).unwrap_or(usize::MAX);
            if needed > sorted.len() {
                return Err(SimulationError::NotEnoughOwners {
                    threshold,
                    owners: sorted.len(),
                });
            }
            let mut sigs = Vec::with_capacity(needed * 65);
            for owner in sorted.iter().take(needed) {
                let slot = slots::approved_hash(*owner, safe_tx_hash);
                let real = src.storage_ref(safe, slot).map_err(to_deadline)?;
                db.insert_account_storage(safe, slot, U256::from(1))
                    .map_err(to_deadline)?;
                overrides.push(StateOverride {
                    address: safe,
                    slot,
                    real: real.into(),
                    value: U256::from(1).into(),
                    reason: OverrideReason::ApprovedHash {
                        owner: *owner,
                        safe_tx_hash,
                    },
                });
                sigs.extend_from_slice(owner.into_word().as_slice());
                sigs.extend_from_slice(&[0u8; 32]);
                sigs.push(1);
            }
            (SignatureMode::ApprovedHashOverrides, Bytes::from(sigs))
        }
    };

    let block = state.block();
    let calldata = exec_transaction_calldata(tx, sig_bytes);
    let gas_cap = opts.gas_cap;
    let spec = opts.spec;
    let ctx = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.set_spec_and_mainnet_gas_params(spec);
            c.chain_id = chain_id;
            c.tx_gas_limit_cap = Some(gas_cap.max(revm::primitives::eip7825::TX_GAS_LIMIT_CAP));
            c.disable_nonce_check = true;
            c.disable_balance_check = true;
            c.disable_base_fee = true;
            c.disable_eip3607 = true;
        })
        .modify_block_chained(|b| {
            b.number = U256::from(block.number.saturating_add(1));
            b.timestamp = U256::from(block.timestamp.saturating_add(12));
            b.basefee = block.base_fee;
            b.gas_limit = block.gas_limit.max(gas_cap);
            b.beneficiary = block.beneficiary;
            b.prevrandao = Some(block.prevrandao);
        });
    let mut evm = ctx.build_mainnet_with_inspector(EffectsInspector::new(deadline));
    let tx_env = TxEnv::builder()
        .caller(executor)
        .kind(TxKind::Call(safe))
        .data(calldata)
        .value(U256::ZERO)
        .gas_limit(gas_cap)
        .gas_price(refund_gas_price(tx))
        .chain_id(Some(chain_id))
        .build()
        .map_err(|e| SimulationError::Evm(format!("{e:?}")))?;

    let out = evm.inspect_tx(tx_env).map_err(|e| match e {
        EVMError::Database(db) => to_deadline(db),
        other => SimulationError::Evm(other.to_string()),
    })?;
    if evm.inspector.deadline_hit || Instant::now() >= deadline {
        return Err(SimulationError::DeadlineExceeded { timeout_ms });
    }
    if let ExecutionResult::Halt {
        reason: HaltReason::OutOfGas(_),
        ..
    } = &out.result
    {
        return Err(SimulationError::GasCapExceeded { cap: gas_cap });
    }

    let facts = RunFacts {
        safe,
        chain_id,
        version,
        singleton,
        safe_tx_hash,
        executor,
        mode,
        overrides,
        owners,
        modules,
        block,
        kind: state.kind(),
        gas_token: tx.gas_token,
        refund_receiver: tx.refund_receiver,
    };
    let mut report = diff::build_report(&src, facts, &evm.inspector, &out.result, &out.state)
        .map_err(to_deadline)?;
    // Token metadata on the pre-state (nothing is committed yet): the transaction cannot
    // rename or rescale a token for its own display. The journal is cleared after the reads.
    report.tokens = token_metadata(&mut evm, executor, &report, tx, chain_id, deadline)
        .ok_or(SimulationError::DeadlineExceeded { timeout_ms })?;
    let _ = evm.finalize();
    let any_grant =
        !report.grants.is_empty() || report.reached_safes.iter().any(|r| !r.grants.is_empty());
    if any_grant {
        // What a grant puts within the spender's reach: the Safe's balance once the
        // transaction has run, asked of the token on the post-state.
        evm.commit(out.state);
        for g in &mut report.grants {
            if Instant::now() >= deadline {
                return Err(SimulationError::DeadlineExceeded { timeout_ms });
            }
            g.holder_balance = balance_of(&mut evm, executor, g.token, safe, chain_id);
        }
        for r in &mut report.reached_safes {
            for g in &mut r.grants {
                if Instant::now() >= deadline {
                    return Err(SimulationError::DeadlineExceeded { timeout_ms });
                }
                g.holder_balance = balance_of(&mut evm, executor, g.token, r.address, chain_id);
            }
        }
    }
    Ok(report)
}

/// `token.balanceOf(holder)` on the EVM's committed state; `None` when the call fails or does
/// not return one word (an ERC-1155, a contract that is no token).
fn balance_of<E>(
    evm: &mut E,
    caller: Address,
    token: Address,
    holder: Address,
    chain_id: u64,
) -> Option<U256>
where
    E: ExecuteEvm<Tx = TxEnv, ExecutionResult = ExecutionResult<HaltReason>>,
{
    let tx = TxEnv::builder()
        .caller(caller)
        .kind(TxKind::Call(token))
        .data(IERC20::balanceOfCall { owner: holder }.abi_encode().into())
        .value(U256::ZERO)
        .gas_limit(BALANCE_OF_GAS)
        .gas_price(0)
        .chain_id(Some(chain_id))
        .build()
        .ok()?;
    match evm.transact_one(tx).ok()? {
        ExecutionResult::Success { output, .. } => {
            let data = output.into_data();
            (data.len() == 32).then(|| U256::from_be_slice(&data))
        }
        _ => None,
    }
}

/// The most tokens whose metadata one run reads.
const MAX_TOKENS: usize = 32;

/// `decimals()` and `symbol()` of every token the run touched (ERC-20 events, grants, token
/// calls at any depth, the refund's gas token), in address order; `None` when the deadline
/// passes.
fn token_metadata<E>(
    evm: &mut E,
    caller: Address,
    report: &SimulationReport,
    tx: &SafeTx,
    chain_id: u64,
    deadline: Instant,
) -> Option<Vec<TokenMetadata>>
where
    E: ExecuteEvm<Tx = TxEnv, ExecutionResult = ExecutionResult<HaltReason>>,
{
    use std::collections::BTreeSet;
    let token_selectors = [
        IERC20::transferCall::SELECTOR,
        IERC20::transferFromCall::SELECTOR,
        IERC20::approveCall::SELECTOR,
        IERC20::increaseAllowanceCall::SELECTOR,
    ];
    let mut tokens: BTreeSet<Address> = BTreeSet::new();
    tokens.extend(report.token_events.iter().map(|e| e.token));
    tokens.extend(report.grants.iter().map(|g| g.token));
    tokens.extend(
        report
            .reached_safes
            .iter()
            .flat_map(|r| r.grants.iter().map(|g| g.token)),
    );
    tokens.extend(
        report
            .calls
            .iter()
            .filter(|c| !c.kind.runs_in_caller_context())
            .filter(|c| c.selector.is_some_and(|s| token_selectors.contains(&s.0)))
            .map(|c| c.target),
    );
    tokens.extend(report.refund.iter().map(|r| r.gas_token));
    tokens.insert(tx.gas_token);
    tokens.remove(&Address::ZERO);
    let mut out = Vec::new();
    for token in tokens.into_iter().take(MAX_TOKENS) {
        if Instant::now() >= deadline {
            return None;
        }
        let decimals = view_call(
            evm,
            caller,
            token,
            IERC20Metadata::decimalsCall {}.abi_encode(),
            chain_id,
        )
        .and_then(|d| IERC20Metadata::decimalsCall::abi_decode_returns(&d).ok())
        .filter(|d| *d <= 77);
        let symbol = view_call(
            evm,
            caller,
            token,
            IERC20Metadata::symbolCall {}.abi_encode(),
            chain_id,
        )
        .and_then(|d| {
            if d.len() == 32 {
                // bytes32 symbols (MKR and other early tokens)
                let end = d.iter().position(|b| *b == 0).unwrap_or(d.len());
                d.get(..end)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::to_owned)
            } else {
                IERC20Metadata::symbolCall::abi_decode_returns(&d).ok()
            }
        })
        .and_then(|s| TokenMetadata::clean_symbol(&s));
        out.push(TokenMetadata {
            token,
            decimals,
            symbol,
        });
    }
    Some(out)
}

/// One read-only call's return data; `None` when it fails.
fn view_call<E>(
    evm: &mut E,
    caller: Address,
    to: Address,
    data: Vec<u8>,
    chain_id: u64,
) -> Option<Bytes>
where
    E: ExecuteEvm<Tx = TxEnv, ExecutionResult = ExecutionResult<HaltReason>>,
{
    let tx = TxEnv::builder()
        .caller(caller)
        .kind(TxKind::Call(to))
        .data(data.into())
        .value(U256::ZERO)
        .gas_limit(METADATA_GAS)
        .gas_price(0)
        .chain_id(Some(chain_id))
        .build()
        .ok()?;
    match evm.transact_one(tx).ok()? {
        ExecutionResult::Success { output, .. } => Some(output.into_data()),
        _ => None,
    }
}

/// Gas for one `decimals()` or `symbol()` read.
const METADATA_GAS: u64 = 200_000;

/// Gas for one `balanceOf` read of a grant's token: ample for any real token's view.
const BALANCE_OF_GAS: u64 = 1_000_000;

/// `tx.gasprice` of the run. An ETH refund is `(gasUsed + baseGas) × min(gasPrice, tx.gasprice)`,
/// and the executor chooses `tx.gasprice`: running at `gasPrice` makes the refund move as it
/// would at worst, instead of vanishing at a price of zero. Without a refund the price is zero.
/// (The balance check is disabled, so the executor needs no funds for it.)
fn refund_gas_price(tx: &SafeTx) -> u128 {
    u128::try_from(tx.gas_price).unwrap_or(u128::MAX)
}

fn lift(e: SimulationError, timeout_ms: u64) -> SimulationError {
    match e {
        SimulationError::State(StateError::Deadline) => {
            SimulationError::DeadlineExceeded { timeout_ms }
        }
        other => other,
    }
}

/// The `execTransaction` calldata for `tx` with `signatures`.
pub fn exec_transaction_calldata(tx: &SafeTx, signatures: Bytes) -> Bytes {
    ISafe::execTransactionCall {
        to: tx.to,
        value: tx.value,
        data: tx.data.clone(),
        operation: tx.operation.as_u8(),
        safeTxGas: tx.safe_tx_gas,
        baseGas: tx.base_gas,
        gasPrice: tx.gas_price,
        gasToken: tx.gas_token,
        refundReceiver: tx.refund_receiver,
        signatures,
    }
    .abi_encode()
    .into()
}

/// Walks a Safe linked list (`owners` or `modules`) in the pre-state, in list order.
///
/// An uninitialised list (`list[SENTINEL] == 0`) is empty. A list that does not return to the
/// sentinel within [`MAX_LIST_LEN`] entries is an error, never silently truncated.
pub fn read_list<D: DatabaseRef<Error = StateError>>(
    db: &D,
    safe: Address,
    slot_of: fn(Address) -> U256,
    list: &'static str,
) -> Result<Vec<Address>, SimulationError> {
    let mut out = Vec::new();
    let mut cur = SENTINEL;
    loop {
        let next = Address::from_word(B256::from(db.storage_ref(safe, slot_of(cur))?));
        if next == SENTINEL || next == Address::ZERO {
            return Ok(out);
        }
        if out.len() >= MAX_LIST_LEN || out.contains(&next) {
            return Err(SimulationError::ListTooLong {
                list,
                max: MAX_LIST_LEN,
            });
        }
        out.push(next);
        cur = next;
    }
}
