//! The seam between the server and the decision pipeline (decode → simulate → screen →
//! policy → store → sign). [`GatewayService`](super::GatewayService) delegates the four calls
//! that decide or release to a [`DecisionPipeline`]; until the real one is wired in,
//! [`PipelinePending`] answers UNIMPLEMENTED, which releases nothing.

use std::{future::Future, sync::Arc};

use signgate_proto::v1 as pb;

use super::{Caller, GatewayError};
use crate::{audit::AuditLog, governance::GovernedPolicy};

/// What a real pipeline shares with the rest of the server: the policy `Admin.ApplyPolicy`
/// replaces and `Admin.ListOperators` reads, and the audit log the server records its start and
/// stop in.
#[derive(Debug, Clone)]
pub struct Governance {
    /// The policy in force.
    pub policy: Arc<GovernedPolicy>,
    /// The audit log every decision is recorded in.
    pub audit: Arc<AuditLog>,
    /// Public half of the key release tickets are signed with (for `server_started`).
    pub release_key: ed25519_dalek::VerifyingKey,
}

/// The calls that need decoding, simulation, screening and policy. Implementations must fail
/// closed: any dependency error is a denial or [`GatewayError::Unavailable`], never a release.
pub trait DecisionPipeline: Send + Sync + 'static {
    /// `SubmitProposal`.
    fn submit(
        &self,
        caller: Caller,
        req: pb::SubmitProposalRequest,
    ) -> impl Future<Output = Result<pb::Proposal, GatewayError>> + Send;

    /// `Approve`.
    fn approve(
        &self,
        caller: Caller,
        req: pb::ApproveRequest,
    ) -> impl Future<Output = Result<pb::Proposal, GatewayError>> + Send;

    /// `Reject`.
    fn reject(
        &self,
        caller: Caller,
        req: pb::RejectRequest,
    ) -> impl Future<Output = Result<pb::Proposal, GatewayError>> + Send;

    /// The sanctions lists the pipeline screens against, so that `Admin.ReloadSanctionsLists`
    /// reloads exactly those. `None` when the pipeline has none (nothing to reload).
    fn sanctions_lists(&self) -> Option<std::sync::Arc<crate::lists::ListStore>> {
        None
    }

    /// The metrics the pipeline records into (decisions, simulations, releases), so that the
    /// server records call latencies into the same registry and serves it. `None`: the server
    /// uses a registry of its own.
    fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::Metrics>> {
        None
    }

    /// The governed policy and the audit log, so `Admin.ApplyPolicy` / `ListOperators` act on
    /// exactly the policy the pipeline decides under and the server records its start and stop.
    /// `None` when the pipeline has none (those calls then answer UNIMPLEMENTED).
    fn governance(&self) -> Option<Governance> {
        None
    }

    /// `RequestSignatures`.
    fn request_signatures(
        &self,
        caller: Caller,
        req: pb::RequestSignaturesRequest,
    ) -> impl Future<Output = Result<pb::RequestSignaturesResponse, GatewayError>> + Send;
}

/// The pipeline before it is wired: every deciding call is UNIMPLEMENTED.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelinePending;

impl DecisionPipeline for PipelinePending {
    async fn submit(
        &self,
        _: Caller,
        _: pb::SubmitProposalRequest,
    ) -> Result<pb::Proposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "SubmitProposal arrives with the decision pipeline",
        ))
    }

    async fn approve(
        &self,
        _: Caller,
        _: pb::ApproveRequest,
    ) -> Result<pb::Proposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "Approve arrives with the decision pipeline",
        ))
    }

    async fn reject(&self, _: Caller, _: pb::RejectRequest) -> Result<pb::Proposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "Reject arrives with the decision pipeline",
        ))
    }

    async fn request_signatures(
        &self,
        _: Caller,
        _: pb::RequestSignaturesRequest,
    ) -> Result<pb::RequestSignaturesResponse, GatewayError> {
        Err(GatewayError::Unimplemented(
            "RequestSignatures arrives with the decision pipeline",
        ))
    }
}
