//! Who may propose: a known, active operator assigned to the wallet, and not a probationary
//! one on a restricted (production) wallet.

use crate::{compile::Policy, evidence::Evidence, reasons::Reason, wallets::Wallet};

/// Appends the initiator's reasons, if any.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    let id = &evidence.proposal.initiator;
    let Some(op) = policy.operator(id) else {
        out.push(Reason::InitiatorUnknown {
            initiator: id.clone(),
        });
        return;
    };
    if op.status != crate::operators::OperatorStatus::Active {
        out.push(Reason::InitiatorInactive {
            initiator: id.clone(),
            status: op.status,
        });
    }
    if !op.may_act_on(&wallet.name) {
        out.push(Reason::InitiatorNotOnWallet {
            initiator: id.clone(),
            wallet: wallet.name.clone(),
        });
    }
    let rules = policy.probation();
    let tag = rules
        .restricted_wallet_tags
        .iter()
        .find(|t| wallet.has_tag(t));
    // The initiator signs nothing here, so only new-hire probation (and any new key the
    // operator holds) applies; the newest key is the one that matters.
    let newest = op
        .keys
        .iter()
        .filter(|k| !k.is_revoked(evidence.now))
        .max_by_key(|k| k.enrolled_at);
    if let (Some(tag), Some(probation)) = (
        tag,
        op.probation(
            evidence.now,
            rules.days,
            newest,
            rules.new_keys_probationary,
        ),
    ) {
        out.push(Reason::InitiatorProbationary {
            initiator: id.clone(),
            wallet: wallet.name.clone(),
            tag: tag.clone(),
            probation,
        });
    }
}
