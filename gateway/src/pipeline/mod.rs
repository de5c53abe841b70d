//! The decision pipeline: a domain service behind `SubmitProposal`, `Approve`, `Reject`,
//! `Cancel` and `RequestSignatures`. It takes verified [`domain`](crate::domain) requests and
//! returns stored proposals and releases; it never sees an API message.
//!
//! verify (done by `api`) → decode → simulate → screen → evaluate → record → store → (release →
//! sign).
//!
//! - [`analysis`]: decoding, the simulation on a blocking thread with its deadline, screening;
//! - [`evidence`]: gateway facts into the policy's `Evidence`;
//! - `commit`: the one path of every state change — its audit records first, then the store;
//! - `records`: the audit records themselves;
//! - `submit`, `approve`, `cancel`: the calls that change a proposal (`supplied`: owner
//!   signatures sent with a submission, checked and reported); `release`: nonce reservation,
//!   the release ticket and the signer backends;
//! - [`rescreen`]: every proposal not yet released evaluated again when a list changes version;
//! - [`velocity`]: rolling-window totals read for the evidence, and the caps the store enforces
//!   inside the release transaction;
//! - [`setup`]: building a pipeline from the configuration (demo assets included).
//!
//! The policy decides (`signgate_policy::assess`, pure); this module only gathers its inputs
//! and stores its output. Every failure of a dependency either becomes a deny reason (the
//! simulation, the lists) or `UNAVAILABLE` (the store, the audit log, the state source before a
//! hash exists); nothing here can turn an error into a release.

pub mod analysis;
mod approve;
mod cancel;
mod commit;
pub mod evidence;
mod judged;
pub mod records;
mod release;
pub mod rescreen;
pub mod setup;
mod submit;
mod supplied;
pub mod velocity;
pub mod webauthn;

use std::{future::Future, sync::Arc, time::Duration};

use alloy_primitives::Bytes;
use ed25519_dalek::SigningKey;
use signgate_chain::StateProvider;
use signgate_policy::{Decision, Policy, Reason};

pub use setup::{SetupError, from_config};

use crate::{
    audit::{AuditLog, export::Witness},
    clock::{self, SharedClock},
    config::{Limits, SignerEndpoint},
    domain::{
        Caller, CancelRequest, DecisionDetail, DeclaredIntent, EvaluatedDecision, ListVersion,
        Statement, Submission,
    },
    error::GatewayError,
    governance::GovernedPolicy,
    lists::ListStore,
    metrics::{Metrics, chains::ChainsHealth},
    signer_backends::{BackendSignature, ClientTls},
    store::{
        ApprovalRecord, NewDecision, Outcome, ProposalId, ProposalState, ProposalStore,
        StoredProposal, UnixMillis,
    },
};

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

/// What `RequestSignatures` hands back: the released proposal and the packed owner signatures.
#[derive(Debug, Clone)]
pub struct Released {
    /// The proposal after its release.
    pub proposal: StoredProposal,
    /// The owner-sorted signature blob `execTransaction` takes.
    pub signatures: Bytes,
    /// `execTransaction` calldata with those signatures.
    pub exec_transaction_calldata: Bytes,
    /// What each signer backend answered.
    pub signers: Vec<BackendSignature>,
}

/// What a pipeline shares with the rest of the gateway: the policy `Admin.ApplyPolicy`
/// replaces and `Admin.ListOperators` reads, and the audit log the server records its start
/// and stop in.
#[derive(Debug, Clone)]
pub struct Governance {
    /// The policy in force.
    pub policy: Arc<GovernedPolicy>,
    /// The audit log every decision is recorded in.
    pub audit: Arc<AuditLog>,
    /// Public half of the key release tickets are signed with (for `server_started`).
    pub release_key: ed25519_dalek::VerifyingKey,
}

/// The calls that change a proposal. Implementations must fail closed: any dependency error is
/// a denial or [`GatewayError::Unavailable`], never a release.
pub trait DecisionPipeline: Send + Sync + 'static {
    /// A new proposal (or the stored one, for a resubmission).
    fn submit(
        &self,
        caller: Caller,
        submission: Submission,
    ) -> impl Future<Output = Result<StoredProposal, GatewayError>> + Send;

    /// An approval or rejection (the statement says which).
    fn act(
        &self,
        caller: Caller,
        statement: Statement,
    ) -> impl Future<Output = Result<StoredProposal, GatewayError>> + Send;

    /// Cancels an open proposal.
    fn cancel(
        &self,
        caller: Caller,
        request: CancelRequest,
    ) -> impl Future<Output = Result<StoredProposal, GatewayError>> + Send;

    /// Releases an approved proposal to the signer backends.
    fn request_signatures(
        &self,
        caller: Caller,
        id: ProposalId,
    ) -> impl Future<Output = Result<Released, GatewayError>> + Send;

    /// The clock requests are checked and decided against.
    fn clock(&self) -> SharedClock {
        clock::system()
    }

    /// The policy in force, for rendering what only it knows; `None` without a policy.
    fn policy(&self) -> Option<Arc<Policy>> {
        None
    }

    /// The sanctions lists the pipeline screens against, so that `Admin.ReloadSanctionsLists`
    /// reloads exactly those. `None` when the pipeline has none (nothing to reload).
    fn sanctions_lists(&self) -> Option<Arc<ListStore>> {
        None
    }

    /// The metrics the pipeline records into (decisions, simulations, releases), so that the
    /// server records call latencies into the same registry and serves it. `None`: the server
    /// uses a registry of its own.
    fn metrics(&self) -> Option<Arc<Metrics>> {
        None
    }

    /// Every live chain's health, for `GetHealthDetails`; `None` when decisions run on a fixed
    /// state.
    fn chains(&self) -> Option<ChainsHealth> {
        None
    }

    /// The governed policy and the audit log, so `Admin.ApplyPolicy` / `ListOperators` act on
    /// exactly the policy the pipeline decides under and the server records its start and stop.
    /// `None` when the pipeline has none (those calls then answer UNIMPLEMENTED).
    fn governance(&self) -> Option<Governance> {
        None
    }
}

/// The pipeline before it is wired (a gateway serving only its store): every call that would
/// change a proposal is UNIMPLEMENTED, which releases nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelinePending;

impl DecisionPipeline for PipelinePending {
    async fn submit(&self, _: Caller, _: Submission) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "SubmitProposal arrives with the decision pipeline",
        ))
    }

    async fn act(&self, _: Caller, _: Statement) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "Approve and Reject arrive with the decision pipeline",
        ))
    }

    async fn cancel(&self, _: Caller, _: CancelRequest) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented(
            "Cancel arrives with the decision pipeline",
        ))
    }

    async fn request_signatures(&self, _: Caller, _: ProposalId) -> Result<Released, GatewayError> {
        Err(GatewayError::Unimplemented(
            "RequestSignatures arrives with the decision pipeline",
        ))
    }
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
    /// Confirms each release outside the gateway before its signatures are returned.
    witness: Witness,
    /// This pipeline's own registry (per instance: tests run several gateways in one process).
    metrics: Arc<Metrics>,
    clock: SharedClock,
    /// The turns of judged calls, per subject, with their chained profiles: per instance, as
    /// they describe this store's queue.
    turns: judged::Turns,
    /// The console's origins: the only ones a WebAuthn approval may come from (none: every
    /// WebAuthn approval is refused).
    webauthn_origins: Vec<String>,
}

impl<S: ProposalStore, T: StateProvider> Pipeline<S, T> {
    /// A pipeline over its parts. `policy` is loaded once per call (`Admin.ApplyPolicy` swaps
    /// it between calls, never under one); `state` pins the chain each decision is taken on
    /// (live chains, or one fixed state);
    /// `lists` is read once per evaluation (a reload never changes the lists under a request);
    /// every state change is appended to `audit` before it is stored; `witness` must deliver a
    /// checkpoint covering a release's `signatures_returned` record before the signatures are
    /// returned; `clock` is the only time it reads.
    #[expect(
        clippy::too_many_arguments,
        reason = "the pipeline's dependencies, each built elsewhere"
    )]
    pub fn new(
        store: Arc<S>,
        policy: Arc<GovernedPolicy>,
        lists: Arc<ListStore>,
        state: Arc<T>,
        limits: Limits,
        release: Release,
        audit: Arc<AuditLog>,
        witness: Witness,
        clock: SharedClock,
    ) -> Self {
        let chains = chains_health(&state);
        Self {
            store,
            policy,
            lists: lists.clone(),
            state,
            limits,
            release,
            audit,
            witness,
            metrics: Arc::new(Metrics::with_chains(Some(lists), chains, clock.clone())),
            clock,
            turns: judged::Turns::default(),
            webauthn_origins: Vec::new(),
        }
    }

    /// The origins (`http://localhost:8080`) of the console that WebAuthn approvals come
    /// from; the browser writes its origin into what the authenticator signs.
    pub fn with_webauthn_origins(mut self, origins: Vec<String>) -> Self {
        self.webauthn_origins = origins;
        self
    }

    /// Every live chain's health, for `GetHealthDetails`.
    pub fn chains_health(&self) -> Option<ChainsHealth> {
        chains_health(&self.state)
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
    fn runner<'a, P>(&'a self, pinned: &'a P) -> analysis::Runner<'a, P> {
        analysis::Runner {
            state: pinned,
            timeout: self.limits.simulation_timeout,
            metrics: &self.metrics,
            clock: self.clock.clone(),
            oracles: self.lists.oracles(),
        }
    }
}

impl<S: ProposalStore, T> Pipeline<S, T> {
    /// A stored proposal, or NOT_FOUND.
    async fn load(&self, id: &ProposalId) -> Result<StoredProposal, GatewayError> {
        self.store
            .get(id.clone())
            .await?
            .ok_or_else(|| GatewayError::NotFound(format!("proposal {id}")))
    }
}

impl<S: ProposalStore, T: StateProvider> DecisionPipeline for Pipeline<S, T> {
    fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    fn policy(&self) -> Option<Arc<Policy>> {
        Some(self.policy.load())
    }

    fn sanctions_lists(&self) -> Option<Arc<ListStore>> {
        Some(self.lists.clone())
    }

    fn metrics(&self) -> Option<Arc<Metrics>> {
        Some(self.metrics.clone())
    }

    fn chains(&self) -> Option<ChainsHealth> {
        self.chains_health()
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
        submission: Submission,
    ) -> Result<StoredProposal, GatewayError> {
        submit::submit(self, &caller, submission).await
    }

    async fn act(
        &self,
        caller: Caller,
        statement: Statement,
    ) -> Result<StoredProposal, GatewayError> {
        approve::act(self, &caller, statement).await
    }

    async fn cancel(
        &self,
        caller: Caller,
        request: CancelRequest,
    ) -> Result<StoredProposal, GatewayError> {
        cancel::cancel(self, &caller, request).await
    }

    async fn request_signatures(
        &self,
        caller: Caller,
        id: ProposalId,
    ) -> Result<Released, GatewayError> {
        let released = release::request_signatures(self, &caller, id).await;
        self.metrics.release(released.is_ok());
        released
    }
}

/// Reads `state`'s chain health on demand; `None` for a fixed state.
fn chains_health<T: StateProvider>(state: &Arc<T>) -> Option<ChainsHealth> {
    if !state.is_live() {
        return None;
    }
    let state = state.clone();
    Some(ChainsHealth::new(move || state.health()))
}

/// The store outcome and proposal state of a decision. A denial caused by an operator's
/// rejection is REJECTED (what happened), any other denial DENIED (what the policy found).
pub fn outcome(d: &Decision) -> (Outcome, ProposalState) {
    match d {
        Decision::Deny { reasons }
            if reasons.iter().any(|r| matches!(r, Reason::Rejected { .. })) =>
        {
            (Outcome::Denied, ProposalState::Rejected)
        }
        Decision::Deny { .. } => (Outcome::Denied, ProposalState::Denied),
        Decision::NeedsApprovals { .. } => (Outcome::NeedsApprovals, ProposalState::NeedsApprovals),
        Decision::Approved { .. } => (Outcome::Approved, ProposalState::Approved),
    }
}

/// How `evaluation` is stored: the decision row (outcome, policy, instant, the evaluation with
/// the list versions it screened against) and the state it puts the proposal in.
pub fn stored_decision(
    evaluation: &signgate_policy::Evaluation,
    lists: &[ListVersion],
    decided_at: UnixMillis,
) -> (NewDecision, ProposalState) {
    let (outcome, state) = outcome(&evaluation.decision);
    let decision = NewDecision {
        outcome,
        policy_hash: evaluation.policy.to_string(),
        decided_at,
        detail: DecisionDetail::Evaluated(Box::new(EvaluatedDecision {
            evaluation: evaluation.clone(),
            lists: lists.to_vec(),
        })),
    };
    (decision, state)
}

/// What a proposal brought with its submission that every decision on it reads: who submitted
/// it, what they said it does, and the decision-changing anomaly alerts their call raised.
#[derive(Debug, Clone)]
pub(super) struct Submitted<'a> {
    /// The initiator.
    pub(super) initiator: signgate_policy::operators::OperatorId,
    /// Their declared intent.
    pub(super) declared: Option<&'a DeclaredIntent>,
    /// The submission's alerts (`ProposalBody::alerts`).
    pub(super) alerts: &'a [signgate_policy::anomaly::ProposalAlert],
}

impl<'a> Submitted<'a> {
    /// As the stored proposal keeps it.
    pub(super) fn of(r: &'a crate::store::ProposalRecord) -> Self {
        Self {
            initiator: signgate_policy::operators::OperatorId(r.initiator.clone()),
            declared: r.body.intent.as_ref(),
            alerts: &r.body.alerts,
        }
    }
}

/// One evaluation of a proposal as of now: the evidence (with the wallet's velocity totals read
/// from the store at the same instant) and the policy's assessment. Submit, approve and release
/// all decide through here, so the three can never assemble evidence differently.
pub(super) async fn assess_now<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    policy: &Policy,
    analysis: &analysis::Analysis,
    id: &ProposalId,
    submitted: Submitted<'_>,
    approvals: &[ApprovalRecord],
) -> Result<
    (
        signgate_policy::Evidence,
        signgate_policy::Evaluation,
        UnixMillis,
    ),
    GatewayError,
> {
    let decided_at = p.clock.now();
    let (chain_id, safe) = (
        analysis.decoded.context.chain_id,
        analysis.decoded.context.safe,
    );
    let mut velocity =
        velocity::totals(p.store.as_ref(), policy, chain_id, safe, decided_at).await?;
    // A governed Safe the transaction reaches is held to its own wallet's limits too.
    if let Ok(report) = &analysis.simulation {
        for r in report.reached_safes.iter().filter(|r| r.address != safe) {
            velocity.extend(
                velocity::totals(p.store.as_ref(), policy, chain_id, r.address, decided_at).await?,
            );
        }
    }
    let (ev, evaluation) = assess_at(
        policy,
        analysis,
        id,
        submitted,
        approvals,
        velocity,
        decided_at,
        &p.webauthn_origins,
    );
    Ok((ev, evaluation, decided_at))
}

/// One evaluation at `decided_at` with the given velocity totals: [`assess_now`]'s core, and
/// how a release refused by the store's velocity check is re-decided on the totals the store
/// saw.
#[expect(
    clippy::too_many_arguments,
    reason = "the facts of one evaluation, each read elsewhere"
)]
pub(super) fn assess_at(
    policy: &Policy,
    analysis: &analysis::Analysis,
    id: &ProposalId,
    submitted: Submitted<'_>,
    approvals: &[ApprovalRecord],
    velocity: Vec<signgate_policy::evidence::VelocityTotal>,
    decided_at: UnixMillis,
    webauthn_origins: &[String],
) -> (signgate_policy::Evidence, signgate_policy::Evaluation) {
    // The alerts of the submission, then those of each approval's call, in the approvals' order.
    let alerts = submitted
        .alerts
        .iter()
        .chain(approvals.iter().flat_map(|a| &a.alerts))
        .cloned()
        .collect();
    let facts = evidence::ProposalFacts {
        id,
        initiator: submitted.initiator,
        declared: submitted.declared,
        approvals,
        velocity,
        alerts,
        webauthn: Some(evidence::WebAuthnKeys {
            policy,
            origins: webauthn_origins,
        }),
        now: decided_at,
    };
    let (ev, checks) = evidence::build(analysis, &facts);
    let evaluation = signgate_policy::assess(policy, &ev, &checks);
    (ev, evaluation)
}

#[cfg(test)]
mod tests {
    use signgate_policy::{DenyReasons, operators::OperatorId};

    use super::*;

    #[test]
    fn a_rejection_is_rejected_any_other_denial_denied() {
        let rejected = Decision::Deny {
            reasons: DenyReasons::one(Reason::Rejected {
                operator: OperatorId("carol".into()),
            }),
        };
        assert_eq!(outcome(&rejected).1, ProposalState::Rejected);
        let denied = Decision::Deny {
            reasons: DenyReasons::one(Reason::CannotScreen {
                reason: "stale".into(),
            }),
        };
        assert_eq!(outcome(&denied), (Outcome::Denied, ProposalState::Denied));
    }
}
