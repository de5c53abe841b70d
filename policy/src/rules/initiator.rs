//! Who may propose: a known, active operator assigned to the wallet, and not a probationary
//! one on a restricted (production) wallet.
//!
//! The bars are computed once, by [`bars`], for two callers: the evaluation (as deny reasons, so
//! a policy changed after a proposal was admitted still denies it) and
//! [`admission`](crate::admission) (as a refusal before anything is stored, so a submitter the
//! policy does not let initiate can never claim a transaction by submitting it first).

use crate::{
    compile::Policy,
    evidence::Evidence,
    operators::{Operator, OperatorStatus, Probation},
    reasons::Reason,
    time::Timestamp,
    wallets::Wallet,
};

/// One reason a known operator may not initiate on a wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bar {
    /// The operator is suspended or offboarded.
    Inactive {
        /// Their status in the policy.
        status: OperatorStatus,
    },
    /// The operator is not assigned to the wallet.
    NotOnWallet,
    /// The operator is on probation and the wallet carries a tag that excludes probationary
    /// initiators.
    Probationary {
        /// The restricted tag the wallet carries.
        tag: String,
        /// Which probation applies, and until when.
        probation: Probation,
    },
}

/// Every bar to `op` initiating on `wallet` at `now`, in a fixed order (status, wallet,
/// probation); empty when they may initiate.
pub fn bars(policy: &Policy, wallet: &Wallet, op: &Operator, now: Timestamp) -> Vec<Bar> {
    let mut out = Vec::new();
    if op.status != OperatorStatus::Active {
        out.push(Bar::Inactive { status: op.status });
    }
    if !op.may_act_on(&wallet.name) {
        out.push(Bar::NotOnWallet);
    }
    let rules = policy.probation();
    let tag = rules
        .restricted_wallet_tags
        .iter()
        .find(|t| wallet.has_tag(t));
    // The evaluation does not know which key signed the submission, so new-key probation is
    // judged on the operator's newest unrevoked key: if the signing key is new, the newest is at
    // least as new.
    let newest = op
        .keys
        .iter()
        .filter(|k| !k.is_revoked(now))
        .max_by_key(|k| k.enrolled_at);
    if let (Some(tag), Some(probation)) = (
        tag,
        op.probation(now, rules.days, newest, rules.new_keys_probationary),
    ) {
        out.push(Bar::Probationary {
            tag: tag.clone(),
            probation,
        });
    }
    out
}

/// Appends the initiator's reasons, if any.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    let id = &evidence.proposal.initiator;
    let Some(op) = policy.operator(id) else {
        out.push(Reason::InitiatorUnknown {
            initiator: id.clone(),
        });
        return;
    };
    out.extend(
        bars(policy, wallet, op, evidence.now)
            .into_iter()
            .map(|bar| match bar {
                Bar::Inactive { status } => Reason::InitiatorInactive {
                    initiator: id.clone(),
                    status,
                },
                Bar::NotOnWallet => Reason::InitiatorNotOnWallet {
                    initiator: id.clone(),
                    wallet: wallet.name.clone(),
                },
                Bar::Probationary { tag, probation } => Reason::InitiatorProbationary {
                    initiator: id.clone(),
                    wallet: wallet.name.clone(),
                    tag,
                    probation,
                },
            }),
    );
}
