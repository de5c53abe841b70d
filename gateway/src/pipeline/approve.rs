//! `Approve` and `Reject`: an operator's signed statement, bound to the proposal's safeTxHash,
//! stored together with the decision it leads to.
//!
//! The transaction is analysed again from the stored fields: the lists screened against are the
//! current ones (a list gone stale since submission denies now), and the simulation is the same
//! deterministic run on the configured state. Approvals that do not count are stored anyway and
//! the decision says why (initiator, probation, …): an operator learns it from the response.

use std::str::FromStr;

use prost::Message;
use signgate_audit::record::DecisionTrigger;
use signgate_policy::operators::OperatorId;
use signgate_proto::v1 as pb;
use signgate_simulator::{SafeContext, SafeVersion, evm::StateSource};

use super::{Pipeline, analysis, analysis::Analysis, records, submit::operator_of, view};
use crate::{
    server::{Caller, GatewayError, call_span, convert, gateway::now, requests},
    store::{ApprovalKind, NewDecision, ProposalRecord, ProposalStore, StoreError, StoredProposal},
};

/// Re-evaluations attempted when a concurrent change moves the proposal's revision.
const MAX_ATTEMPTS: usize = 4;

/// The analysis of a stored proposal, recomputed from the transaction stored in its view.
pub(super) async fn reanalyse<S, T: StateSource + Send + 'static>(
    p: &Pipeline<S, T>,
    record: &ProposalRecord,
) -> Result<(Analysis, pb::Proposal), GatewayError> {
    let corrupt =
        |what: &str| GatewayError::Internal(format!("stored view of {}: {what}", record.id));
    let stored =
        pb::Proposal::decode(record.view.as_slice()).map_err(|_| corrupt("undecodable"))?;
    let version =
        SafeVersion::from_str(&stored.safe_version).map_err(|_| corrupt("safe version"))?;
    let tx_pb = stored
        .transaction
        .as_ref()
        .ok_or_else(|| corrupt("no transaction"))?;
    let tx =
        convert::safe_tx("transaction", tx_pb, usize::MAX).map_err(|_| corrupt("transaction"))?;
    let ctx = SafeContext {
        chain_id: record.chain_id,
        safe: record.safe,
        version,
    };
    let analysis = analysis::analyse(
        p.runner(),
        p.lists.snapshot(),
        ctx,
        tx,
        None,
        "transaction.data",
    )
    .await
    .map_err(|_| corrupt("transaction no longer decodes"))?;
    if analysis.decoded.hashes.safe_tx_hash != record.safe_tx_hash {
        return Err(corrupt("safeTxHash changed"));
    }
    Ok((analysis, stored))
}

async fn load<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    id: &crate::store::ProposalId,
) -> Result<StoredProposal, GatewayError> {
    p.store
        .get(id.clone())
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("proposal {id}")))
}

/// `Approve` (`kind` = Approve) or `Reject`; `field` names the envelope in errors.
pub(super) async fn act<S: ProposalStore, T: StateSource + Send + 'static>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    field: &str,
    env: Option<&pb::SignedEnvelope>,
    kind: ApprovalKind,
) -> Result<pb::Proposal, GatewayError> {
    let received = now();
    let policy = p.policy.load();
    let v = requests::approval(field, env, kind, &p.limits, received)?;
    call_span::record_id(&v.proposal_id);
    let mut stored = load(p, &v.proposal_id).await?;
    call_span::record_hash(&stored.record.safe_tx_hash);
    v.check_binding(&stored.record)?;
    let operator = operator_of(&policy, &v.public_key, &format!("{field}.public_key"))?;
    if stored.record.state.is_terminal() {
        return Err(GatewayError::FailedPrecondition(format!(
            "proposal {} is {} and takes no more approvals",
            stored.record.id,
            stored.record.state.as_str()
        )));
    }
    let (analysis, stored_view) = reanalyse(p, &stored.record).await?;
    let record = v.record(operator.to_string(), received);
    // The statement is recorded as received before it is stored: an approval can never count
    // toward a release without its own record in the log, even if the log fails right after.
    records::append(
        &p.audit,
        &p.metrics,
        records::approval(
            &stored.record,
            &record,
            super::evidence::approval_expiry(v.issued_at),
            super::evidence::seconds(received),
            caller,
        ),
    )
    .await?;
    for attempt in 1..=MAX_ATTEMPTS {
        let mut approvals = stored.approvals.clone();
        approvals.push(record.clone());
        let r = &stored.record;
        let (ev, evaluation, decided_at) = super::assess_now(
            p,
            &policy,
            &analysis,
            &r.id,
            OperatorId(r.initiator.clone()),
            stored_view.intent.as_ref(),
            &approvals,
        )
        .await?;
        let decision = view::decision(
            &evaluation,
            &analysis.list_hashes,
            decided_at,
            &policy,
            &stored.record.initiator,
        );
        let (outcome, state) = view::outcome(&evaluation.decision);
        let result = p
            .store
            .add_approval(
                stored.record.id.clone(),
                stored.record.revision,
                record.clone(),
                NewDecision {
                    outcome,
                    policy_hash: evaluation.policy.to_string(),
                    decided_at,
                    detail: decision.encode_to_vec(),
                },
                state,
            )
            .await;
        match result {
            Ok(updated) => {
                tracing::info!(
                    proposal_id = %updated.id,
                    safe_tx_hash = %updated.safe_tx_hash,
                    operator = %operator,
                    kind = kind.as_str(),
                    decision = evaluation.decision.kind(),
                    "approval recorded"
                );
                let trigger = match kind {
                    ApprovalKind::Approve => DecisionTrigger::Approval,
                    ApprovalKind::Reject => DecisionTrigger::Rejection,
                };
                records::append(
                    &p.audit,
                    &p.metrics,
                    records::decision(trigger, &evaluation, &ev),
                )
                .await?;
                return convert::proposal_view(&load(p, &updated.id).await?);
            }
            Err(StoreError::StaleRevision { .. }) if attempt < MAX_ATTEMPTS => {
                // Another approval landed first: count again with it included.
                stored = load(p, &v.proposal_id).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(GatewayError::Aborted(format!(
        "proposal {} kept changing; retry the approval",
        v.proposal_id
    )))
}
