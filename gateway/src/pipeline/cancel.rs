//! `Cancel`: an operator's signed withdrawal of an open proposal, bound to its chain, Safe and
//! safeTxHash like an approval, allowed by the policy (the initiator, or a holder of a role
//! `[cancellation]` names), and recorded in the audit log with the signed statement in the
//! same transaction as the store change, like every other state change. A cancelled transaction can be proposed again:
//! the next submission of it becomes a new proposal ([`super::submit`]).

use signgate_policy::{
    admission::{Act, may_cancel},
    operators::OperatorId,
};

use super::{Pipeline, submit::admitted};
use crate::{
    call_span,
    domain::{Caller, CancelRequest},
    error::GatewayError,
    pipeline::records,
    store::{ProposalStore, StoredProposal},
};

/// Cancels the proposal `request` names if it is still open and its signer may cancel it.
pub(super) async fn cancel<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    request: CancelRequest,
) -> Result<StoredProposal, GatewayError> {
    let received = p.clock.now();
    let policy = p.policy.load();
    let b = &request.says.binding;
    // Who signed it first, before the store is read: an unknown or revoked key, an inactive
    // operator or one not on the wallet learns nothing about the proposal.
    let operator = admitted(
        &policy,
        &alloy_primitives::FixedBytes(request.signed.public_key.to_bytes()),
        Act::Cancel,
        (b.chain_id, b.safe),
        received,
        "cancellation.public_key",
    )?;
    let stored = p.load(request.id()).await?;
    crate::call_facts::record_wallet(stored.record.chain_id, stored.record.safe);
    let record = &stored.record;
    call_span::record_hash(&record.safe_tx_hash);
    request.check_binding("cancellation", record)?;
    may_cancel(&policy, &operator, &OperatorId(record.initiator.clone())).map_err(|refusal| {
        tracing::info!(code = refusal.code(), %refusal, "cancel refused");
        GatewayError::PermissionDenied(format!("cancellation.public_key: {refusal}"))
    })?;
    if record.state.is_terminal() {
        return Err(GatewayError::FailedPrecondition(format!(
            "proposal {} is {} and cannot be cancelled",
            record.id,
            record.state.as_str()
        )));
    }
    p.commit(
        vec![records::cancelled(record, &request, &operator.0, caller)],
        |audit| {
            p.store.cancel(
                audit,
                record.id.clone(),
                request.says.reason.clone(),
                received,
                policy.hash().to_string(),
            )
        },
    )
    .await?;
    tracing::info!(
        proposal_id = %record.id,
        operator = %operator,
        caller = caller.identity(),
        "proposal cancelled"
    );
    p.load(request.id()).await
}
