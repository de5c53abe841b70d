//! The one path of every state change: its audit records are appended durably, then the store
//! changes. Submissions, approvals, rejections, cancellations, releases (the nonce reserved,
//! the velocity events written, other proposals for that nonce expired, all in one store
//! transaction) and refused releases all go through [`Pipeline::record_then_store`]. A proposal
//! can therefore never exist, gather an approval, lose its cancellation or be released without
//! its record in the log — if the log cannot be written the store is never touched and the
//! caller gets `UNAVAILABLE`.
//!
//! The converse is accepted: a record whose store change then fails (a lost race, a full disk)
//! stays in the log, followed by whatever did happen. The log says what the gateway was about
//! to do and why; the store says what took effect.

use std::future::Future;

use signgate_audit::AuditEvent;

use super::{Pipeline, records};
use crate::{error::GatewayError, store::StoreError};

impl<S, T> Pipeline<S, T> {
    /// Appends `events` (in one durable write), then runs `change` on the store.
    pub(super) async fn record_then_store<R>(
        &self,
        events: Vec<AuditEvent>,
        change: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, GatewayError> {
        records::append(&self.audit, &self.metrics, events).await?;
        Ok(change.await?)
    }
}
