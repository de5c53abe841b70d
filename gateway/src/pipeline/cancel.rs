//! `Cancel`: an open proposal closed for good, recorded in the audit log before the store
//! changes, like every other state change.

use super::Pipeline;
use crate::{
    domain::{Caller, CancelRequest},
    error::GatewayError,
    pipeline::records,
    store::{ProposalStore, StoredProposal},
};

/// Cancels `request.id` if it is still open.
pub(super) async fn cancel<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    request: CancelRequest,
) -> Result<StoredProposal, GatewayError> {
    let stored = p.load(&request.id).await?;
    let record = &stored.record;
    if record.state.is_terminal() {
        return Err(GatewayError::FailedPrecondition(format!(
            "proposal {} is {} and cannot be cancelled",
            record.id,
            record.state.as_str()
        )));
    }
    let now = p.clock.now();
    p.record_then_store(
        vec![records::cancelled(record, &request.reason, caller)],
        p.store
            .cancel(request.id.clone(), request.reason.clone(), now),
    )
    .await?;
    tracing::info!(proposal_id = %record.id, caller = caller.identity(), "proposal cancelled");
    p.load(&request.id).await
}
