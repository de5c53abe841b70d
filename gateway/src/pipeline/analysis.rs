//! The analysis of one Safe transaction: decode, simulate on a blocking thread with a deadline,
//! and screen against the current sanctions snapshot.
//!
//! Nothing here decides. A simulation that cannot run (state source error, deadline) is kept as
//! a failure message and becomes a `SimulationFailed` deny reason in the evidence; stale or
//! missing lists come back as `CannotScreen`, which the policy also denies. Only malformed input
//! (undecodable calldata) is an error of this module, because then there is nothing to decide.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, U256};
use signgate_policy::sanctions::{
    ListSlot, SanctionsSnapshot, ScreeningOutcome, screen, simulation_subjects,
};
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion,
    decode::DecodedTransaction,
    decode_transaction, deployments,
    evm::{SimulationError, SimulationOptions, StateSource, simulate_with},
    report::SimulationReport,
};

use crate::{
    metrics::{Metrics, SimulationOutcome},
    server::GatewayError,
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
    pub simulation: Result<SimulationReport, String>,
    /// The sanctions screen of calldata and simulation addresses.
    pub screening: ScreeningOutcome,
    /// Content hashes of the lists screened against, for the decision record.
    pub list_hashes: Vec<String>,
}

/// Decodes `tx`; malformed calldata is `INVALID_ARGUMENT` naming `field`.
pub fn decode(
    ctx: &SafeContext,
    tx: &SafeTx,
    field: &str,
) -> Result<DecodedTransaction, GatewayError> {
    decode_transaction(ctx, tx).map_err(|e| GatewayError::invalid(field, e.to_string()))
}

/// Runs `tx` on a blocking thread, bounded by `timeout` (the simulator's own deadline) plus a
/// short grace for a source stuck inside one read. Any failure is described, never retried.
/// The blocking thread runs inside the caller's span, so its log lines carry the proposal.
pub async fn simulate<T: StateSource + Send + 'static>(
    state: Arc<T>,
    ctx: SafeContext,
    tx: SafeTx,
    signatures: Option<Vec<u8>>,
    timeout: Duration,
) -> (Result<SimulationReport, String>, SimulationOutcome) {
    let opts = SimulationOptions {
        timeout,
        ..SimulationOptions::default()
    };
    let span = tracing::Span::current();
    let job = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let started = Instant::now();
        let result = simulate_with(
            state.as_ref(),
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
            "simulation finished"
        );
        result
    });
    match tokio::time::timeout(timeout.saturating_add(DEADLINE_GRACE), job).await {
        Err(_) => (
            Err(format!(
                "simulation could not run: no result within {} ms",
                timeout.as_millis()
            )),
            SimulationOutcome::Timeout,
        ),
        Ok(Err(_)) => (
            Err("simulation could not run: the simulation task failed".to_owned()),
            SimulationOutcome::Error,
        ),
        Ok(Ok(Err(e))) => {
            let outcome = if matches!(e, SimulationError::DeadlineExceeded { .. }) {
                SimulationOutcome::Timeout
            } else {
                SimulationOutcome::Error
            };
            (Err(format!("simulation could not run: {e}")), outcome)
        }
        Ok(Ok(Ok(report))) => (Ok(report), SimulationOutcome::Ran),
    }
}

/// Screens the decoded addresses and, when the simulation ran, every address it touched.
pub fn screen_now(
    snapshot: &SanctionsSnapshot,
    decoded: &DecodedTransaction,
    simulation: Option<&SimulationReport>,
) -> ScreeningOutcome {
    let involvements = decoded.involvements();
    let touched = simulation.map(simulation_subjects).unwrap_or_default();
    screen(
        snapshot,
        &involvements,
        &touched,
        std::time::SystemTime::now(),
    )
}

/// The Safe version when the submission did not name it: the singleton in slot 0, looked up
/// among the canonical deployments. Read on a blocking thread with the simulation deadline; a
/// failure is `UNAVAILABLE` (nothing is stored), an unknown singleton asks for the version.
pub async fn detect_version<T: StateSource + Send + 'static>(
    state: Arc<T>,
    safe: Address,
    timeout: Duration,
) -> Result<SafeVersion, GatewayError> {
    let job = tokio::task::spawn_blocking(move || state.storage_ref(safe, U256::ZERO));
    let slot0 = match tokio::time::timeout(timeout, job).await {
        Ok(Ok(Ok(v))) => v,
        Ok(Ok(Err(e))) => {
            tracing::warn!(%safe, error = %e, "reading the Safe's singleton failed");
            return Err(GatewayError::Unavailable(
                "the state source could not be read; name submission.payload.safe_version or retry"
                    .to_owned(),
            ));
        }
        _ => {
            return Err(GatewayError::Unavailable(
                "the state source did not answer in time".to_owned(),
            ));
        }
    };
    let singleton = Address::from_word(slot0.to_be_bytes::<32>().into());
    match deployments::lookup(singleton) {
        Some(d)
            if matches!(
                d.contract,
                deployments::SafeContract::Singleton | deployments::SafeContract::SingletonL2
            ) =>
        {
            Ok(d.version)
        }
        _ => Err(GatewayError::invalid(
            "submission.payload.safe_version",
            format!(
                "required: the Safe's singleton {singleton} is not a canonical Safe deployment"
            ),
        )),
    }
}

/// Where a simulation runs: the pre-state, its deadline, and the metrics it is recorded in.
#[derive(Debug)]
pub struct Runner<'a, T> {
    pub state: Arc<T>,
    pub timeout: Duration,
    pub metrics: &'a Metrics,
}

/// Decodes, simulates and screens `tx` for `ctx`. `signatures`: a blob the Safe would accept
/// as it is, run unmodified; `None` runs approved-hash overrides. `field` names the calldata in
/// a decoding error.
pub async fn analyse<T: StateSource + Send + 'static>(
    runner: Runner<'_, T>,
    snapshot: Arc<SanctionsSnapshot>,
    ctx: SafeContext,
    tx: SafeTx,
    signatures: Option<Vec<u8>>,
    field: &str,
) -> Result<Analysis, GatewayError> {
    let decoded = decode(&ctx, &tx, field)?;
    Ok(analyse_decoded(runner, snapshot, ctx, tx, decoded, signatures).await)
}

/// [`analyse`] for a transaction the caller already decoded (submission tags its log span with
/// the hash before the simulation starts).
pub async fn analyse_decoded<T: StateSource + Send + 'static>(
    runner: Runner<'_, T>,
    snapshot: Arc<SanctionsSnapshot>,
    ctx: SafeContext,
    tx: SafeTx,
    decoded: DecodedTransaction,
    signatures: Option<Vec<u8>>,
) -> Analysis {
    let Runner {
        state,
        timeout,
        metrics,
    } = runner;
    let started = Instant::now();
    let (simulation, outcome) = simulate(state, ctx, tx, signatures, timeout).await;
    metrics.simulation(outcome, started.elapsed());
    let screening = screen_now(&snapshot, &decoded, simulation.as_ref().ok());
    let list_hashes = snapshot
        .slots()
        .iter()
        .map(|s| match s {
            ListSlot::Loaded(list) => format!("{}:{}", list.spec().id, list.sha256()),
            ListSlot::Unavailable { spec, .. } => format!("{}:unavailable", spec.id),
        })
        .collect();
    Analysis {
        decoded,
        simulation,
        screening,
        list_hashes,
    }
}
