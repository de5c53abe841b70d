//! The one path of every state change: the store changes and its audit records are written in
//! one database transaction ([`ProposalStore`](crate::store::ProposalStore): the log lives in
//! the store's database), so they are durable together, with one flush, or not at all.
//! Submissions, approvals, rejections, cancellations, releases (the nonce reserved, the
//! velocity events written, other proposals for that nonce expired) and refused releases all go
//! through [`Pipeline::commit`]. A proposal can therefore never exist, gather an approval, lose
//! its cancellation or be released without its record in the log — if the records cannot be
//! written nothing is stored and the caller gets `UNAVAILABLE`.
//!
//! A change the store refuses (a lost race, a nonce already taken) leaves no record either: the
//! log says what took effect and, for refusals the pipeline decides itself (a release over a
//! velocity limit), why it did not.

use std::future::Future;

use signgate_audit::AuditEvent;

use super::{Pipeline, records};
use crate::{error::GatewayError, store::StoreError};

impl<S, T> Pipeline<S, T> {
    /// Counts the decisions among `events`, then runs `change` with them: the store writes the
    /// records in the same transaction as the change.
    pub(super) async fn commit<R, Fut>(
        &self,
        events: Vec<AuditEvent>,
        change: impl FnOnce(Vec<AuditEvent>) -> Fut,
    ) -> Result<R, GatewayError>
    where
        Fut: Future<Output = Result<R, StoreError>>,
    {
        records::count(&self.metrics, &events);
        match change(events).await {
            Ok(value) => Ok(value),
            Err(e @ StoreError::Unrecorded(_)) => {
                self.metrics.audit_append_failed();
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}
