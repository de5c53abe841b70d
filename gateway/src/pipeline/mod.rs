//! The decision pipeline behind `SubmitProposal`, `Approve`, `Reject` and `RequestSignatures`:
//! verify → convert → decode → simulate → screen → evaluate → store → (release → sign).
//!
//! - [`analysis`]: decoding, the simulation on a blocking thread with its deadline, screening;
//! - [`evidence`]: gateway facts into the policy's `Evidence`;
//! - [`view`]: the analysis and each decision as API messages;
//! - `records`: the audit records appended before each response that depends on them;
//! - `submit`, `approve`: the two deciding calls (`supplied`: owner signatures sent with a
//!   submission, checked and reported); `release`: nonce reservation, the release
//!   ticket and the signer backends;
//! - [`velocity`]: rolling-window totals read for the evidence, and the caps the store enforces
//!   inside the release transaction;
//! - [`setup`]: building a pipeline from the configuration (demo assets included).
//!
//! The policy decides (`signgate_policy::assess`, pure); this module only gathers its inputs
//! and stores its output. Every failure of a dependency either becomes a deny reason (the
//! simulation, the lists) or `UNAVAILABLE` (the store, the state source before a hash exists);
//! nothing here can turn an error into a release.

pub mod analysis;
mod approve;
pub mod evidence;
pub(crate) mod records;
mod release;
pub mod setup;
mod submit;
mod supplied;
pub mod velocity;
pub mod view;

use std::{sync::Arc, time::Duration};

use ed25519_dalek::SigningKey;
use signgate_policy::Policy;
use signgate_proto::v1 as pb;
use signgate_simulator::evm::StateSource;

use crate::{
    audit::AuditLog,
    config::{Limits, SignerEndpoint},
    governance::GovernedPolicy,
    lists::ListStore,
    metrics::Metrics,
    server::{Caller, DecisionPipeline, GatewayError, Governance},
    signer_backends::ClientTls,
    store::ProposalStore,
};

pub use setup::{SetupError, from_config};

/// Where release tickets go and how they are signed.
#[derive(Debug, Clone)]
pub struct Release {
    /// The gateway's ed25519 release key; signer backends trust its public half.
    pub key: SigningKey,
    /// Lifetime of a ticket.
    pub ticket_ttl: Duration,
    /// The signer backends asked for signatures.
    pub signers: Vec<SignerEndpoint>,
    /// Client TLS toward the backends (`None`: plaintext, loopback only).
    pub tls: Option<ClientTls>,
}

/// The real [`DecisionPipeline`].
#[derive(Debug)]
pub struct Pipeline<S, T> {
    store: Arc<S>,
    /// The policy in force; each call loads it once and decides under that version.
    policy: Arc<GovernedPolicy>,
    lists: Arc<ListStore>,
    state: Arc<T>,
    limits: Limits,
    release: Release,
    audit: Arc<AuditLog>,
    /// This pipeline's own registry (per instance: tests run several gateways in one process).
    metrics: Arc<Metrics>,
}

impl<S: ProposalStore, T: StateSource + Send + 'static> Pipeline<S, T> {
    /// A pipeline over its parts. `policy` is loaded once per call (`Admin.ApplyPolicy` swaps
    /// it between calls, never under one); `state` is the pre-state every simulation runs on;
    /// `lists` is read once per evaluation (a reload never changes the lists under a request);
    /// every decision, approval and release is appended to `audit` before it is answered.
    pub fn new(
        store: Arc<S>,
        policy: Arc<GovernedPolicy>,
        lists: Arc<ListStore>,
        state: Arc<T>,
        limits: Limits,
        release: Release,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            policy,
            lists: lists.clone(),
            state,
            limits,
            release,
            audit,
            metrics: Arc::new(Metrics::new(Some(lists))),
        }
    }

    /// The store, for callers that serve it too.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The sanctions lists, for the file watcher that keeps them current.
    pub fn lists(&self) -> &Arc<ListStore> {
        &self.lists
    }
}

impl<S, T> Pipeline<S, T> {
    /// Where this pipeline's simulations run.
    fn runner(&self) -> analysis::Runner<'_, T> {
        analysis::Runner {
            state: self.state.clone(),
            timeout: self.limits.simulation_timeout,
            metrics: &self.metrics,
        }
    }
}

impl<S: ProposalStore, T: StateSource + Send + 'static> DecisionPipeline for Pipeline<S, T> {
    fn sanctions_lists(&self) -> Option<Arc<ListStore>> {
        Some(self.lists.clone())
    }

    fn metrics(&self) -> Option<Arc<Metrics>> {
        Some(self.metrics.clone())
    }

    fn governance(&self) -> Option<Governance> {
        Some(Governance {
            policy: self.policy.clone(),
            audit: self.audit.clone(),
            release_key: self.release.key.verifying_key(),
        })
    }

    async fn submit(
        &self,
        caller: Caller,
        req: pb::SubmitProposalRequest,
    ) -> Result<pb::Proposal, GatewayError> {
        submit::submit(self, &caller, req).await
    }

    async fn approve(
        &self,
        caller: Caller,
        req: pb::ApproveRequest,
    ) -> Result<pb::Proposal, GatewayError> {
        approve::act(
            self,
            &caller,
            "approval",
            req.approval.as_ref(),
            crate::store::ApprovalKind::Approve,
        )
        .await
    }

    async fn reject(
        &self,
        caller: Caller,
        req: pb::RejectRequest,
    ) -> Result<pb::Proposal, GatewayError> {
        approve::act(
            self,
            &caller,
            "rejection",
            req.rejection.as_ref(),
            crate::store::ApprovalKind::Reject,
        )
        .await
    }

    async fn request_signatures(
        &self,
        caller: Caller,
        req: pb::RequestSignaturesRequest,
    ) -> Result<pb::RequestSignaturesResponse, GatewayError> {
        let released = release::request_signatures(self, &caller, req).await;
        self.metrics.release(released.is_ok());
        released
    }
}

/// One evaluation of a proposal as of now: the evidence (with the wallet's velocity totals read
/// from the store at the same instant) and the policy's assessment. Submit, approve and release
/// all decide through here, so the three can never assemble evidence differently.
pub(super) async fn assess_now<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    policy: &Policy,
    analysis: &analysis::Analysis,
    id: &crate::store::ProposalId,
    initiator: signgate_policy::operators::OperatorId,
    declared: Option<&pb::DeclaredIntent>,
    approvals: &[crate::store::ApprovalRecord],
) -> Result<
    (
        signgate_policy::Evidence,
        signgate_policy::Evaluation,
        crate::store::UnixMillis,
    ),
    GatewayError,
> {
    let decided_at = crate::server::gateway::now();
    let (chain_id, safe) = (
        analysis.decoded.context.chain_id,
        analysis.decoded.context.safe,
    );
    let velocity = velocity::totals(p.store.as_ref(), policy, chain_id, safe, decided_at).await?;
    let (ev, evaluation) = assess_at(
        policy, analysis, id, initiator, declared, approvals, velocity, decided_at,
    );
    Ok((ev, evaluation, decided_at))
}

/// One evaluation at `decided_at` with the given velocity totals: [`assess_now`]'s core, and
/// how a release refused by the store's velocity check is re-decided on the totals the store
/// saw.
#[expect(
    clippy::too_many_arguments,
    reason = "the facts of one evaluation, each from a different place"
)]
pub(super) fn assess_at(
    policy: &Policy,
    analysis: &analysis::Analysis,
    id: &crate::store::ProposalId,
    initiator: signgate_policy::operators::OperatorId,
    declared: Option<&pb::DeclaredIntent>,
    approvals: &[crate::store::ApprovalRecord],
    velocity: Vec<signgate_policy::evidence::VelocityTotal>,
    decided_at: crate::store::UnixMillis,
) -> (signgate_policy::Evidence, signgate_policy::Evaluation) {
    let facts = evidence::ProposalFacts {
        id,
        initiator,
        declared,
        approvals,
        velocity,
        now: decided_at,
    };
    let (ev, checks) = evidence::build(analysis, &facts);
    let evaluation = signgate_policy::assess(policy, &ev, &checks);
    (ev, evaluation)
}
