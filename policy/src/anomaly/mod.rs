//! Anomalous operator behaviour (issue 18): the pure decision core.
//!
//! The threat is an insider — a remote hire working for someone else, or a colleague whose
//! laptop was taken over — acting with real credentials. What gives them away is behaviour:
//! odd hours, a new device or network, wallets outside their usual scope, mapping the system
//! with reads, approving in bursts or without reading, and refused attempts. The gateway
//! observes every call; this module turns one call and the caller's history into alerts.
//!
//! - [`event`]: one observed call ([`Observation`]) with typed identities and outcome;
//! - [`profile`]: what a subject usually does, a deterministic bounded fold of their calls;
//! - [`settings`]: `[anomaly]` and operators' `working_hours`, compiled at load;
//! - [`rules`]: [`evaluate`], the pure rules, and [`Alert`]s with stable codes;
//! - [`effects`]: what alerts do to a decision ([`ProposalAlert`]).
//!
//! The gateway's loop for each call: `alerts = evaluate(&profile, &call, settings)`, then
//! `profile.observe(&call, settings)`, then record the alerts and put each that asks for more
//! than a record into the proposal's evidence ([`ProposalAlert::of`]). No clock and no I/O
//! here.
//!
//! Choices worth knowing:
//! - probation arrives on the observation ([`Observation::probation`], filled by
//!   [`ProbationFacts::from_policy`]) rather than being looked up here, so the rules stay a
//!   function of (profile, call, settings) and the gateway decides which key signed;
//! - "out of scope" is per operator and per wallet: the policy gives wallets no team, so a
//!   team's usual scope is the union of its members' and is not judged separately;
//! - the source network is whatever address the gateway hands in; which forwarded addresses
//!   to trust is the gateway's call.

pub mod effects;
pub mod event;
pub mod profile;
pub mod rules;
pub mod settings;

pub use effects::{ProposalAlert, extra_roles};
pub use event::{
    AdminCall, ApprovalContext, CallKind, CertFingerprint, IdentityClass, KeyId, Observation,
    Outcome, ProbationFacts, ReadCall, RefusalKind, SourceNetwork, Subject, WalletId,
};
pub use profile::Profile;
pub use rules::{Alert, Anomaly, AnomalyRule, evaluate};
pub use settings::{Action, Settings, WorkingHours};

use crate::{Policy, operators::OperatorId, time::Timestamp};

impl ProbationFacts {
    /// The probation facts of `operator` signing with `key` on `wallet` at `at`, from the
    /// compiled policy: `Some` only when the operator is probationary (as [`crate::quorum`]
    /// judges it) and the wallet carries one of `probation.restricted_wallet_tags`. This is
    /// what the gateway puts in [`Observation::probation`].
    pub fn from_policy(
        policy: &Policy,
        operator: &OperatorId,
        key: Option<&KeyId>,
        wallet: &WalletId,
        at: Timestamp,
    ) -> Option<Self> {
        let op = policy.operator(operator)?;
        let w = policy.wallet_for(wallet.chain_id, wallet.safe)?;
        let rules = policy.probation();
        let tag = w
            .tags
            .iter()
            .find(|t| rules.restricted_wallet_tags.contains(t))?;
        let key = key.and_then(|k| op.key(&k.0));
        let probation = op.probation(at, rules.days, key, rules.new_keys_probationary)?;
        Some(Self {
            probation,
            restricted_tag: tag.clone(),
        })
    }
}
