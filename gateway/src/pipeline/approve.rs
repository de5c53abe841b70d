//! `Approve` and `Reject`: an operator's signed statement, bound to the proposal's safeTxHash,
//! stored together with the decision it leads to — both recorded in the audit log first.
//!
//! The transaction is analysed again from the stored fields: the lists screened against are the
//! current ones (a list gone stale since submission denies now), and the simulation is the same
//! deterministic run on the configured state. Approvals that do not count are stored anyway and
//! the decision says why (initiator, probation, …): an operator learns it from the response.

use signgate_audit::record::DecisionTrigger;
use signgate_chain::StateProvider;
use signgate_policy::{
    Policy,
    admission::Act,
    anomaly::{ApprovalContext, CallKind, ProposalAlert, RefusalKind},
};
use signgate_simulator::SafeContext;

use super::{Pipeline, analysis, analysis::Analysis, judged, records, submit::admitted};
use crate::{
    call_facts, call_span,
    domain::{Caller, Statement, StatementSignature},
    error::GatewayError,
    store::{ApprovalKind, ProposalRecord, ProposalStore, StoredProposal},
};

/// Re-evaluations attempted when a concurrent change moves the proposal's revision.
const MAX_ATTEMPTS: usize = 4;

/// The analysis of a stored proposal, recomputed from its stored transaction and version at
/// `pinned`.
pub(super) async fn reanalyse<S, T: StateProvider>(
    p: &Pipeline<S, T>,
    pinned: &T::Pinned,
    record: &ProposalRecord,
) -> Result<Analysis, GatewayError> {
    let corrupt =
        |what: &str| GatewayError::Internal(format!("stored proposal {}: {what}", record.id));
    if p.state.is_live() {
        // The Safe's state from every endpoint again, compared: a provider that starts lying
        // after the submission is caught at the approval or release it would sway.
        let facts = analysis::read_safe(
            pinned,
            record.safe,
            &record.body.tx,
            p.limits.simulation_timeout,
        )
        .await?;
        if facts.version != Some(record.body.version) {
            return Err(GatewayError::FailedPrecondition(format!(
                "proposal {}: the Safe now delegates to {} ({}), but the proposal was hashed \
                 for version {}; its safeTxHash no longer applies, so nothing can be approved or \
                 signed; propose it again",
                record.id,
                facts.singleton,
                facts
                    .version
                    .map_or("an unknown version".to_owned(), |v| format!("version {v}")),
                record.body.version
            )));
        }
    }
    let ctx = SafeContext {
        chain_id: record.chain_id,
        safe: record.safe,
        version: record.body.version,
    };
    let analysis = analysis::analyse(
        p.runner(pinned),
        p.lists.snapshot(),
        ctx,
        record.body.tx.clone(),
        None,
        "transaction.data",
    )
    .await
    .map_err(|e| match e {
        GatewayError::InvalidArgument { .. } => corrupt("the transaction no longer decodes"),
        other => other,
    })?;
    if analysis.decoded.hashes.safe_tx_hash != record.safe_tx_hash {
        return Err(corrupt("safeTxHash changed"));
    }
    Ok(analysis)
}

/// Whether a proposal counts as a large transfer for the anomaly rules (a quick approval of one
/// looks like rubber-stamping): some tier that applied to it has a `min_amount`, i.e. the
/// policy singles out proposals of its size. A proposal that only matched tiers without a lower
/// bound is not large, whatever it moves.
fn large_transfer(policy: &Policy, applied: &[String]) -> bool {
    policy
        .tiers()
        .iter()
        .any(|t| t.min_amount.is_some() && applied.contains(&t.name))
}

/// `Approve` or `Reject`, as the statement says.
pub(super) async fn act<S: ProposalStore, T: StateProvider>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    v: Statement,
) -> Result<StoredProposal, GatewayError> {
    let received = p.clock.now();
    let policy = p.policy.load();
    let (field, act) = match v.says.kind {
        ApprovalKind::Approve => ("approval", Act::Approve),
        ApprovalKind::Reject => ("rejection", Act::Reject),
    };
    call_span::record_id(&v.says.proposal_id);
    call_facts::record_wallet(v.says.chain_id, v.says.safe);
    // Admission first, on the chain and Safe the statement is signed for (the binding check
    // below refuses a statement whose chain or Safe is not the proposal's): a revoked key, an
    // inactive operator or one not on the wallet is refused before the store is read.
    let (key, signature, webauthn, counter) = match &v.signed {
        StatementSignature::Ed25519(s) => (
            alloy_primitives::FixedBytes(s.public_key.to_bytes()),
            s.signature,
            None,
            None,
        ),
        StatementSignature::WebAuthn { payload, assertion } => {
            let (key, evidence, counter) = super::webauthn::signer(
                p.store.as_ref(),
                &policy,
                &p.webauthn_origins,
                payload,
                assertion,
                field,
            )
            .await?;
            // A security key signs no ed25519 signature: the record keeps its assertion.
            (key, [0; 64], Some(Box::new(evidence)), Some(counter))
        }
    };
    let operator = admitted(
        &policy,
        &key,
        act,
        (v.says.chain_id, v.says.safe),
        received,
        &format!("{field}.public_key"),
    )?;
    let mut stored = p.load(&v.says.proposal_id).await?;
    call_span::record_hash(&stored.record.safe_tx_hash);
    if v.says.safe_tx_hash != stored.record.safe_tx_hash {
        call_facts::record_refusal(RefusalKind::WrongHashApproval);
    }
    v.check_binding(field, &stored.record)?;
    if stored.record.state.is_terminal() {
        return Err(GatewayError::FailedPrecondition(format!(
            "proposal {} is {} and takes no more approvals",
            stored.record.id,
            stored.record.state.as_str()
        )));
    }
    let pinned = p.state.pin(stored.record.chain_id, false).await?;
    let analysis = reanalyse(p, &pinned, &stored.record).await?;
    let mut record = v.record(operator.to_string(), key.0, received);
    // The policy's anomaly rules change decisions: an approval is judged before it is decided,
    // and its alerts travel with it into every later decision.
    let judging = v.says.kind == ApprovalKind::Approve && judged::needed(&policy);
    let trigger = match v.says.kind {
        ApprovalKind::Approve => DecisionTrigger::Approval,
        ApprovalKind::Reject => DecisionTrigger::Rejection,
    };
    let attempts = if judging {
        judged::MAX_ATTEMPTS
    } else {
        MAX_ATTEMPTS
    };
    for attempt in 1..=attempts {
        let mut approvals = stored.approvals.clone();
        record.alerts.clear();
        approvals.push(record.clone());
        let r = &stored.record;
        let assess = |approvals: Vec<_>| {
            let (policy, analysis) = (&policy, &analysis);
            async move {
                super::assess_now(
                    p,
                    policy,
                    analysis,
                    &r.id,
                    super::Submitted::of(r),
                    &approvals,
                )
                .await
            }
        };
        let (mut ev, mut evaluation, mut decided_at) = assess(approvals.clone()).await?;
        call_facts::record_approval(ApprovalContext {
            submitted_at: super::evidence::seconds(r.created_at),
            large_transfer: large_transfer(&policy, &evaluation.tiers),
        });
        let judgement = if judging {
            judged::judge(p.store.as_ref(), &p.turns, &policy, CallKind::Approve).await?
        } else {
            None
        };
        if let Some(j) = &judgement {
            let at = super::evidence::seconds(record.received_at);
            let key = Some(alloy_primitives::FixedBytes(record.public_key));
            record.alerts = j
                .alerts
                .iter()
                .filter_map(|a| ProposalAlert::of(a, at, key))
                .collect();
            if !record.alerts.is_empty() {
                if let Some(last) = approvals.last_mut() {
                    last.alerts.clone_from(&record.alerts);
                }
                (ev, evaluation, decided_at) = assess(approvals).await?;
            }
        }
        let (decision, state) = super::stored_decision(&evaluation, &analysis.lists, decided_at);
        // The statement as received and the decision it leads to are recorded in the same
        // transaction that stores them: an approval can never count toward a release without
        // its record in the log, and a lost race (retried below) leaves neither. The anomaly
        // rules' judgement of the call comes first, with the profile it changes.
        let (mut events, observed, alerts, turn) = match judgement {
            Some(j) => (j.events, Some(j.write), j.alerts, Some(j.turn)),
            None => (Vec::new(), None, Vec::new(), None),
        };
        events.push(records::approval(
            r,
            &record,
            super::evidence::approval_expiry(v.says.issued_at),
            super::evidence::seconds(received),
            caller,
            signature,
            webauthn.clone(),
        ));
        events.push(records::decision(trigger, &evaluation, &ev));
        let judged_call = observed.is_some();
        let change = p.commit(events, |audit| async {
            p.store
                .add_approval_observed(
                    audit,
                    (r.id.clone(), r.revision),
                    record.clone(),
                    counter,
                    (decision, state),
                    observed,
                )
                .await
                // A clone used at the same moment on another proposal lands here.
                .inspect_err(|e| super::webauthn::note_counter_refusal(&operator, e))
        });
        let committed = judged::in_turn(turn, change, |_| true).await;
        if judged_call && committed.is_ok() {
            call_facts::judged(alerts);
        }
        match committed {
            Ok(updated) => {
                tracing::info!(
                    proposal_id = %updated.id,
                    safe_tx_hash = %updated.safe_tx_hash,
                    operator = %operator,
                    kind = v.says.kind.as_str(),
                    decision = evaluation.decision.kind(),
                    "approval recorded"
                );
                return p.load(&updated.id).await;
            }
            Err(GatewayError::Aborted(_)) if attempt < attempts => {
                // Another approval landed first, or another call of this operator was judged
                // first: count and judge again (nothing of this attempt was written, records
                // included).
                stored = p.load(&v.says.proposal_id).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(GatewayError::Aborted(format!(
        "proposal {} kept changing; retry the approval",
        v.says.proposal_id
    )))
}
