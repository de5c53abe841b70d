//! `RequestSignatures`: the only way a Safe signature comes out of signgate.
//!
//! The proposal is re-evaluated at the moment of release (current lists, current clock), so an
//! approval that lapsed, a list that went stale or a time lock that has not passed stops it.
//! Only then is the (chain, Safe, nonce) reserved — a unique row, so two transactions for one
//! nonce can never both be released — in the same store transaction that checks the wallet's
//! velocity limits against every earlier release (so two releases racing each other cannot
//! together cross a limit), and a ticket signed for the signer backends. Their
//! signatures are verified against the released hash before they are packed, together with any
//! valid ECDSA owner signatures supplied with the submission (recovered again over the released
//! hash, their signers still owners), one per owner, owner-sorted.

use std::time::Duration;

use signgate_audit::{AuditEvent, record::DecisionTrigger};
use signgate_chain::StateProvider;
use signgate_policy::{Decision, DenyReasons, Evidence, Policy, Reason};
use signgate_signer::ticket;
use signgate_simulator::evm::exec_transaction_calldata;

use super::{Pipeline, Released, approve::reanalyse, evidence, records, velocity};
use crate::{
    call_span,
    domain::Caller,
    error::GatewayError,
    signer_backends as client,
    store::{
        OverLimit, ProposalId, ProposalState, ProposalStore, Release, ReleaseOutcome,
        StoredProposal, UnixMillis,
    },
};

/// How long the gateway waits for the signer backends, at most.
const SIGNER_DEADLINE: Duration = Duration::from_secs(5);

fn plus(t: UnixMillis, d: Duration) -> UnixMillis {
    UnixMillis(t.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

/// `RequestSignatures`.
pub(super) async fn request_signatures<S: ProposalStore, T: StateProvider>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    id: ProposalId,
) -> Result<Released, GatewayError> {
    call_span::record_id(&id);
    let policy = p.policy.load();
    let stored = p.load(&id).await?;
    call_span::record_hash(&stored.record.safe_tx_hash);
    crate::call_facts::record_wallet(stored.record.chain_id, stored.record.safe);
    let record = stored.record.clone();
    if !matches!(
        record.state,
        ProposalState::Approved | ProposalState::Released
    ) {
        return Err(GatewayError::FailedPrecondition(format!(
            "proposal {id} is {}; only an approved proposal can be signed",
            record.state.as_str()
        )));
    }
    // A fresh pin: the release reflects the chain at this moment (owners, nonce, balances),
    // not the block the approvals were decided on.
    let pinned = p.state.pin(record.chain_id, true).await?;
    let analysis = reanalyse(p, &pinned, &record).await?;
    let (ev, evaluation, decided_at) = super::assess_now(
        p,
        &policy,
        &analysis,
        &record.id,
        super::Submitted::of(&record),
        &stored.approvals,
    )
    .await?;
    // The decision is recorded before anything it leads to: a refusal is stored with it, a
    // release reserves the nonce with it; a time lock or an already released proposal only
    // records it.
    let decided = records::decision(DecisionTrigger::Release, &evaluation, &ev);
    match &evaluation.decision {
        Decision::Approved { release_after, .. } => {
            if ev.now < *release_after {
                records::append(&p.audit, &p.metrics, vec![decided]).await?;
                return Err(GatewayError::FailedPrecondition(format!(
                    "proposal {id} is time-locked until {release_after}"
                )));
            }
        }
        _ if record.state == ProposalState::Approved => {
            // The approval no longer holds: record why, release nothing.
            return Err(refuse(p, &record, &analysis, &evaluation, decided_at, decided).await);
        }
        other => {
            records::append(&p.audit, &p.metrics, vec![decided]).await?;
            return Err(GatewayError::FailedPrecondition(format!(
                "proposal {id} no longer passes policy ({}); nothing was signed",
                other.kind()
            )));
        }
    }
    let (outflows, caps) = velocity::release_caps(&policy, &ev)?;
    // The release is screened against the newest lists, in the same step that reserves the
    // nonce: no version is swapped in between this check and the reservation (the hold), and
    // a version swapped in while the evaluation ran (the simulation takes time) sends the
    // caller back to request again, which screens against it; the re-screen of proposals in
    // flight denies a listed one meanwhile.
    let hold = p.lists.hold_swaps().await;
    if super::analysis::list_versions(&p.lists.snapshot()) != analysis.lists {
        return Err(GatewayError::Aborted(format!(
            "proposal {id}: a sanctions list changed version during the release; nothing was \
             signed; request signatures again"
        )));
    }
    let outcome = p
        .commit(vec![decided], |audit| {
            p.store.release(
                audit,
                Release {
                    id: record.id.clone(),
                    expected_revision: record.revision,
                    policy_hash: evaluation.policy.to_string(),
                    released_at: decided_at,
                    outflows,
                    caps,
                },
            )
        })
        .await;
    drop(hold);
    let outcome = outcome?;
    let reservation = match outcome {
        ReleaseOutcome::Released(reservation) => reservation,
        ReleaseOutcome::OverLimit(over) => {
            return Err(over_limit(p, &policy, &stored, &analysis, ev, &over, decided_at).await);
        }
    };
    tracing::info!(
        proposal_id = %record.id,
        safe_tx_hash = %record.safe_tx_hash,
        nonce = %reservation.nonce,
        "nonce reserved; asking signer backends"
    );
    let d = &analysis.decoded;
    let expires_at = plus(decided_at, p.release.ticket_ttl);
    let signed = ticket::issue_content(
        &p.release.key,
        &ticket::TicketContent {
            ticket_id: format!("{}-{}", record.id, decided_at.0),
            proposal_id: record.id.to_string(),
            context: d.context,
            tx: d.tx.clone(),
            safe_tx_hash: record.safe_tx_hash,
            policy_hash: evaluation.policy.to_string(),
            issued_at_ms: decided_at.0,
            expires_at_ms: expires_at.0,
        },
    );
    let ticket_expiry = evidence::seconds(expires_at);
    records::append(
        &p.audit,
        &p.metrics,
        vec![records::ticket(
            &record,
            evaluation.policy,
            ticket_expiry,
            &signed.ticket,
            p.release
                .signers
                .iter()
                .map(|s| s.endpoint.clone())
                .collect(),
        )],
    )
    .await?;
    let outcomes = client::collect(
        &p.release.signers,
        &signed,
        record.safe_tx_hash,
        p.release.tls.as_ref(),
        SIGNER_DEADLINE,
    )
    .await;
    for o in &outcomes {
        if let Err(e) = &o.result {
            tracing::warn!(proposal_id = %record.id, endpoint = %o.endpoint, error = %e, "signer backend refused or failed");
        }
    }
    if outcomes.iter().all(|o| o.result.is_err()) {
        return Err(GatewayError::Unavailable(
            "no signer backend returned a valid signature".to_owned(),
        ));
    }
    // Owner signatures supplied with the submission, re-verified now, join the backends'.
    let supplied = super::supplied::still_valid(
        &pinned,
        record.safe,
        record.safe_tx_hash,
        &record.body.supplied,
        p.limits.simulation_timeout,
    )
    .await;
    let packed = client::pack_with(&outcomes, &supplied)
        .map_err(|e| GatewayError::Internal(format!("packing signatures: {e}")))?;
    // The packed signatures run exactly as `execTransaction` would run them, at the release's
    // pin: an owner removed or a threshold raised since the approvals, or a backend holding a
    // key that is no longer an owner, shows here and nothing leaves the gateway.
    would_execute(p, &pinned, &record, &analysis, &packed).await?;
    let mut owners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok().map(|(owner, _)| *owner))
        .collect();
    for (owner, _) in &supplied {
        if !owners.contains(owner) {
            owners.push(*owner);
        }
    }
    records::append(
        &p.audit,
        &p.metrics,
        vec![records::signatures(&record, owners, &packed, caller)],
    )
    .await?;
    // The record is durable, but only inside the gateway: whoever holds the data directory
    // could cut it off the log. The signatures leave only once a checkpoint covering it has.
    if let Err(e) = p.witness.confirm().await {
        tracing::error!(
            proposal_id = %record.id,
            "release recorded but its checkpoint was not delivered; signatures withheld"
        );
        return Err(GatewayError::ReleaseUnwitnessed {
            detail: e.to_string(),
        });
    }
    let calldata = exec_transaction_calldata(&d.tx, packed.clone());
    Ok(Released {
        proposal: p.load(&record.id).await?,
        signatures: packed,
        exec_transaction_calldata: calldata,
        signers: outcomes,
    })
}

/// Refuses unless `execTransaction` with `packed` succeeds at `pinned`.
async fn would_execute<S, T: StateProvider>(
    p: &Pipeline<S, T>,
    pinned: &T::Pinned,
    record: &crate::store::ProposalRecord,
    analysis: &super::analysis::Analysis,
    packed: &alloy_primitives::Bytes,
) -> Result<(), GatewayError> {
    use signgate_chain::PinnedState as _;
    let (run, _) = super::analysis::simulate(
        pinned,
        analysis.decoded.context,
        record.body.tx.clone(),
        Some(packed.to_vec()),
        p.limits.simulation_timeout,
    )
    .await?;
    let block = pinned.block().number;
    match run {
        Ok(report) if report.outcome == signgate_simulator::report::Outcome::Success => Ok(()),
        Ok(report) => {
            tracing::warn!(
                proposal_id = %record.id,
                block,
                outcome = ?report.outcome,
                "release refused: the Safe would not execute with the collected signatures"
            );
            Err(GatewayError::FailedPrecondition(format!(
                "proposal {}: execTransaction with the collected signatures would not succeed at \
                 block {block} ({}); the Safe's owners or threshold may have changed since the \
                 approvals; nothing was signed",
                record.id,
                match &report.outcome {
                    signgate_simulator::report::Outcome::Revert { reason } => {
                        format!("reverts: {reason}")
                    }
                    other => format!("{other:?}"),
                }
            )))
        }
        Err(failure) => Err(GatewayError::Unavailable(format!(
            "proposal {}: the release could not be checked at block {block}: {failure}; nothing \
             was signed",
            record.id
        ))),
    }
}

/// A release the store refused because a velocity limit would be crossed: re-decided on the
/// totals the store saw (so the policy words the denial, `velocity.exceeded`), recorded in the
/// audit log and the store as the proposal's decision, and answered as a failed precondition.
/// Every failure on this path is itself an error: nothing is released either way.
async fn over_limit<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    policy: &Policy,
    stored: &StoredProposal,
    analysis: &super::analysis::Analysis,
    released_ev: Evidence,
    over: &OverLimit,
    decided_at: UnixMillis,
) -> GatewayError {
    let record = &stored.record;
    let velocity = velocity::refused_totals(policy, &released_ev, over)
        .unwrap_or_else(|| released_ev.velocity.clone());
    let (ev, mut evaluation) = super::assess_at(
        policy,
        analysis,
        &record.id,
        super::Submitted::of(record),
        &stored.approvals,
        velocity,
        decided_at,
        &p.webauthn_origins,
    );
    if !matches!(evaluation.decision, Decision::Deny { .. }) {
        // The store's arithmetic refused what the policy's would allow; the refusal stands.
        let reason = velocity::crossed_reason(policy, &released_ev, over).unwrap_or(
            Reason::ArithmeticOverflow {
                context: "the velocity check at release".to_owned(),
            },
        );
        evaluation.decision = Decision::Deny {
            reasons: DenyReasons::one(reason),
        };
    }
    tracing::info!(proposal_id = %record.id, "release refused: a velocity limit would be crossed");
    let decided = records::decision(DecisionTrigger::Release, &evaluation, &ev);
    refuse(p, record, analysis, &evaluation, decided_at, decided).await
}

/// An approved proposal whose release was just refused by `evaluation`: the refusal (`decided`)
/// is recorded in the audit log and then stored as the proposal's decision, and the caller is
/// told why nothing was signed.
async fn refuse<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    record: &crate::store::ProposalRecord,
    analysis: &super::analysis::Analysis,
    evaluation: &signgate_policy::Evaluation,
    decided_at: UnixMillis,
    decided: AuditEvent,
) -> GatewayError {
    let (decision, state) = super::stored_decision(evaluation, &analysis.lists, decided_at);
    let committed = p
        .commit(vec![decided], |audit| {
            p.store
                .record_decision(audit, record.id.clone(), record.revision, decision, state)
        })
        .await;
    if let Err(e) = committed {
        return e;
    }
    GatewayError::FailedPrecondition(format!(
        "proposal {} is no longer approved ({}); nothing was signed",
        record.id,
        decision_words(&evaluation.decision)
    ))
}

fn decision_words(d: &Decision) -> String {
    match d {
        Decision::Deny { reasons } => {
            let words: Vec<String> = reasons
                .iter()
                .map(|r| format!("{}: {r}", r.code()))
                .collect();
            format!("deny: {}", words.join("; "))
        }
        other => other.kind().to_owned(),
    }
}
