//! The analysis of one Safe transaction: decode, simulate on a blocking thread with a deadline,
//! and screen against the current sanctions snapshot.
//!
//! Nothing here decides. A simulation that cannot run (state source error, deadline) is kept as
//! a typed [`SimulationFailure`] and becomes a `SimulationFailed` deny reason in the evidence;
//! stale or missing lists come back as `CannotScreen`, which the policy also denies. Only
//! malformed input (undecodable calldata) is an error of this module, because then there is
//! nothing to decide.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use signgate_chain::{PinnedState, SafeFacts};
use signgate_policy::{
    adapters,
    evidence::{SanctionsHit, Screening},
    sanctions::{
        ListAction, ListSlot, SanctionsSnapshot, ScreeningSubject, screen, simulation_subjects,
    },
};
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion,
    decode::DecodedTransaction,
    decode_transaction,
    evm::{SimulationError, SimulationOptions, simulate_with},
    report::SimulationReport,
};

use crate::{
    clock::SharedClock,
    domain::{ListVersion, RecordedAnalysis, SimulationFailure},
    error::GatewayError,
    lists::Oracle,
    metrics::{Metrics, SimulationOutcome},
};

/// Extra time the gateway waits past the simulator's own deadline before giving up on the
/// blocking thread: the simulator checks its deadline between state reads, and a source that
/// blocks inside one read would otherwise hold the request forever.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Everything the policy needs from one transaction, computed once per evaluation.
#[derive(Debug)]
pub struct Analysis {
    /// The decoded transaction with its recomputed hashes.
    pub decoded: DecodedTransaction,
    /// The simulation report, or why the simulation could not run (a deny reason).
    pub simulation: Result<SimulationReport, SimulationFailure>,
    /// The sanctions screen of calldata and simulation addresses.
    pub screening: Screening,
    /// The version of every configured list screened against, unavailable ones included.
    pub lists: Vec<ListVersion>,
}

impl Analysis {
    /// What is kept with the proposal (the decoded part is recomputed when shown).
    pub fn recorded(&self) -> RecordedAnalysis {
        RecordedAnalysis {
            simulation: self.simulation.clone(),
            screening: self.screening.clone(),
            lists: self.lists.clone(),
        }
    }
}

/// Decodes `tx`; malformed calldata is `INVALID_ARGUMENT` naming `field`.
pub fn decode(
    ctx: &SafeContext,
    tx: &SafeTx,
    field: &str,
) -> Result<DecodedTransaction, GatewayError> {
    decode_transaction(ctx, tx).map_err(|e| GatewayError::invalid(field, e.to_string()))
}

/// Runs `tx` at `pinned`, bounded by `timeout` (the simulator's own deadline, per run) plus a
/// short grace for a source stuck inside one read. A simulation that runs and fails is
/// described (a deny reason); a chain that cannot be read is an error (the call is refused).
pub async fn simulate<P: PinnedState>(
    pinned: &P,
    ctx: SafeContext,
    tx: SafeTx,
    signatures: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<
    (
        Result<SimulationReport, SimulationFailure>,
        SimulationOutcome,
    ),
    GatewayError,
> {
    let opts = SimulationOptions {
        timeout,
        ..SimulationOptions::default()
    };
    let job = pinned.run(move |view| {
        let started = Instant::now();
        let result = simulate_with(
            view,
            ctx.chain_id,
            ctx.safe,
            ctx.version,
            &tx,
            signatures.as_deref(),
            &opts,
        );
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis(),
            ran = result.is_ok(),
            "simulation run finished"
        );
        result
    });
    let started = Instant::now();
    let finished = tokio::time::timeout(timeout.saturating_add(DEADLINE_GRACE), job).await;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        block = pinned.block().number,
        "simulation finished"
    );
    Ok(match finished {
        Err(_) => (
            Err(SimulationFailure::Timeout {
                ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            SimulationOutcome::Timeout,
        ),
        Ok(Err(signgate_chain::ChainError::Task)) => {
            (Err(SimulationFailure::TaskFailed), SimulationOutcome::Error)
        }
        Ok(Err(chain)) => return Err(chain.into()),
        Ok(Ok(Err(e))) => {
            let outcome = if matches!(e, SimulationError::DeadlineExceeded { .. }) {
                SimulationOutcome::Timeout
            } else {
                SimulationOutcome::Error
            };
            (Err(SimulationFailure::Simulator(e.to_string())), outcome)
        }
        Ok(Ok(Ok(report))) => (Ok(report), SimulationOutcome::Ran),
    })
}

/// Screens the decoded addresses and, when the simulation ran, every address it touched,
/// against `snapshot` as of `now` (a list past its maximum age cannot screen).
pub fn screen_at(
    snapshot: &SanctionsSnapshot,
    decoded: &DecodedTransaction,
    simulation: Option<&SimulationReport>,
    now: std::time::SystemTime,
) -> Screening {
    let involvements = decoded.involvements();
    let touched = simulation.map(simulation_subjects).unwrap_or_default();
    adapters::screening(&screen(snapshot, &involvements, &touched, now))
}

/// Adds the oracles' answers to the lists' screening: every decoded and simulated address is
/// asked; a sanctioned one is a hit named after the oracle, with where it occurs. An oracle that
/// cannot answer makes the whole screening "cannot screen" (denied), like a stale list. When the
/// lists already cannot screen, the oracles are not asked (the proposal is denied anyway).
pub async fn ask_oracles(
    oracles: &[Arc<Oracle>],
    screening: Screening,
    decoded: &DecodedTransaction,
    simulation: Option<&SimulationReport>,
) -> Screening {
    let mut hits = match screening {
        Screening::Screened { hits } if !oracles.is_empty() => hits,
        other => return other,
    };
    let subjects: Vec<ScreeningSubject> = decoded
        .involvements()
        .iter()
        .map(ScreeningSubject::from)
        .chain(simulation.map(simulation_subjects).unwrap_or_default())
        .collect();
    let addresses: Vec<Address> = subjects.iter().map(|s| s.address).collect();
    for oracle in oracles {
        let listed = match oracle.sanctioned(&addresses).await {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(%error, "sanctions oracle did not answer; cannot screen");
                return Screening::CannotScreen {
                    reason: error.to_string(),
                };
            }
        };
        let config = oracle.config();
        hits.extend(
            subjects
                .iter()
                .filter(|s| listed.contains(&s.address))
                .map(|s| SanctionsHit {
                    address: s.address,
                    list: oracle.display_name(),
                    entry: format!("isSanctioned = true at {}", config.contract),
                    location: s.location.to_string(),
                    deny: config.action >= ListAction::Escalate,
                }),
        );
    }
    Screening::Screened { hits }
}

/// The Safe's own state at `pinned` (on live chains: from every endpoint, compared), within
/// `timeout`. The accounts `tx` certainly reads are fetched in the same round trip, so the
/// simulation's first round already has them.
pub async fn read_safe<P: PinnedState>(
    pinned: &P,
    safe: Address,
    tx: &SafeTx,
    timeout: Duration,
) -> Result<SafeFacts, GatewayError> {
    let prefetch = [tx.to, tx.gas_token, tx.refund_receiver]
        .into_iter()
        .filter(|a| *a != Address::ZERO)
        .collect();
    match tokio::time::timeout(timeout, pinned.safe_facts(safe, prefetch)).await {
        Ok(facts) => Ok(facts?),
        Err(_) => Err(GatewayError::ChainUnavailable(format!(
            "cannot simulate: the Safe's state was not read within {} ms; retry",
            timeout.as_millis()
        ))),
    }
}

/// The Safe version a proposal is hashed and simulated with. On a live chain it is the chain's
/// (the singleton in slot 0, or its `VERSION()`), and a submission naming another one is
/// refused: the version decides the safeTxHash, and the request is not trusted with it. On a
/// fixed state the submitted version is taken, else the canonical singleton's.
pub fn resolve_version(
    live: bool,
    facts: Option<&SafeFacts>,
    submitted: Option<SafeVersion>,
) -> Result<SafeVersion, GatewayError> {
    const FIELD: &str = "submission.payload.safe_version";
    let on_chain = facts.and_then(|f| f.version);
    match (live, on_chain, submitted) {
        (true, Some(chain), Some(claimed)) if chain != claimed => Err(GatewayError::invalid(
            FIELD,
            format!(
                "the Safe runs version {chain} on chain (singleton {}), not {claimed}; omit the \
                 field or name {chain}",
                facts.map(|f| f.singleton).unwrap_or_default()
            ),
        )),
        (true, Some(chain), _) | (false, Some(chain), None) => Ok(chain),
        (false, _, Some(claimed)) => Ok(claimed),
        _ => Err(GatewayError::invalid(
            FIELD,
            format!(
                "required: the Safe's singleton {} is not a canonical Safe deployment",
                facts.map(|f| f.singleton).unwrap_or_default()
            ),
        )),
    }
}

/// Where a simulation runs: the pre-state, its deadline, and the metrics it is recorded in.
#[derive(Debug)]
pub struct Runner<'a, P> {
    /// The chain state at the decision's pin.
    pub state: &'a P,
    /// Deadline of the simulation (`server.simulation_timeout_ms`); a simulation that misses
    /// it fails, and a failed simulation is a deny reason.
    pub timeout: Duration,
    /// Where the simulation's outcome and duration are recorded.
    pub metrics: &'a Metrics,
    /// The clock list freshness is judged by.
    pub clock: SharedClock,
    /// On-chain screens asked beside the lists, live, at every evaluation.
    pub oracles: &'a [Arc<Oracle>],
}

/// Decodes, simulates and screens `tx` for `ctx`. `signatures`: a blob the Safe would accept
/// as it is, run unmodified; `None` runs approved-hash overrides. `field` names the calldata in
/// a decoding error.
pub async fn analyse<P: PinnedState>(
    runner: Runner<'_, P>,
    snapshot: Arc<SanctionsSnapshot>,
    ctx: SafeContext,
    tx: SafeTx,
    signatures: Option<Vec<u8>>,
    field: &str,
) -> Result<Analysis, GatewayError> {
    let decoded = decode(&ctx, &tx, field)?;
    analyse_decoded(runner, snapshot, ctx, tx, decoded, signatures).await
}

/// [`analyse`] for a transaction the caller already decoded (submission tags its log span with
/// the hash before the simulation starts).
pub async fn analyse_decoded<P: PinnedState>(
    runner: Runner<'_, P>,
    snapshot: Arc<SanctionsSnapshot>,
    ctx: SafeContext,
    tx: SafeTx,
    decoded: DecodedTransaction,
    signatures: Option<Vec<u8>>,
) -> Result<Analysis, GatewayError> {
    let Runner {
        state,
        timeout,
        metrics,
        clock,
        oracles,
    } = runner;
    let started = Instant::now();
    let (simulation, outcome) = simulate(state, ctx, tx, signatures, timeout).await?;
    metrics.simulation(outcome, started.elapsed());
    let screening = screen_at(
        &snapshot,
        &decoded,
        simulation.as_ref().ok(),
        clock.system_time(),
    );
    let screening = ask_oracles(oracles, screening, &decoded, simulation.as_ref().ok()).await;
    let lists = list_versions(&snapshot);
    Ok(Analysis {
        decoded,
        simulation,
        screening,
        lists,
    })
}

/// The version of every list in `snapshot`, as decisions record them.
pub fn list_versions(snapshot: &SanctionsSnapshot) -> Vec<ListVersion> {
    snapshot
        .slots()
        .iter()
        .map(|s| match s {
            ListSlot::Loaded(list) => ListVersion {
                list: list.spec().id.to_string(),
                sha256: Some(alloy_primitives::B256::from(list.sha256().0)),
            },
            ListSlot::Unavailable { spec, .. } => ListVersion {
                list: spec.id.to_string(),
                sha256: None,
            },
        })
        .collect()
}
