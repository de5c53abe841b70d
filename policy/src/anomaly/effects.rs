//! What a call's alerts do to the decision on its proposal: one more approval from a role, a
//! hold, an approval that does not count.
//!
//! An alert whose rule asks for more than a record becomes a [`ProposalAlert`] in the
//! proposal's [`crate::Evidence`], so [`crate::evaluate()`] applies it like any other fact: an
//! extra role slot in the quorum ([`extra_roles`]), a later `release_after`
//! ([`ProposalAlert::hold_until`]), a voided approval ([`ProposalAlert::voids`],
//! `approval.anomalous`). Every later decision, and an auditor re-deciding from the log, sees
//! the same alerts.

use std::fmt;

use alloy_primitives::FixedBytes;
use serde::{Deserialize, Serialize};

use super::{
    event::{CallKind, Subject},
    rules::{Alert, AnomalyRule},
    settings::Action,
};
use crate::{
    operators::Role,
    time::{HOUR, Timestamp},
};

/// An alert raised by a submission or an approval of one proposal whose rule asks for more than
/// a record (`extra_approval`, `hold`, `not_counted`): part of the evidence the proposal is
/// decided on from then on, so every later decision (another approval, a re-screen, the
/// release) applies it, and an auditor re-deciding from the log applies it too.
///
/// The gateway stores it with the call's approval (or the proposal, for a submission); the
/// alert itself, with its evidence, is the `anomaly` record written before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalAlert {
    /// The rule that fired.
    pub rule: AnomalyRule,
    /// Whose call raised it.
    pub subject: Option<Subject>,
    /// The call: [`CallKind::Submit`] or [`CallKind::Approve`].
    pub call: CallKind,
    /// When the call was received (for an approval, the approval's `received_at`).
    pub at: Timestamp,
    /// What the rule does to the decision; never [`Action::Alert`].
    pub action: Action,
    /// For an approval, the key it was signed with: the approval `not_counted` voids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<FixedBytes<32>>,
    /// The alert in words, as approvers read it.
    pub message: String,
}

impl ProposalAlert {
    /// The alert as the evidence of a proposal carries it, raised by the call received `at`
    /// (and for an approval signed with `key`); `None` when its action is only a record.
    pub fn of(alert: &Alert, at: Timestamp, key: Option<FixedBytes<32>>) -> Option<Self> {
        (alert.action != Action::Alert).then(|| Self {
            rule: alert.rule(),
            subject: alert.subject.clone(),
            call: alert.call,
            at,
            action: alert.action.clone(),
            key: key.filter(|_| alert.call == CallKind::Approve),
            message: alert.to_string(),
        })
    }

    /// Until when the proposal is held, for a `hold`.
    pub fn hold_until(&self) -> Option<Timestamp> {
        match self.action {
            Action::Hold { hours } => Some(self.at.plus(hours.saturating_mul(HOUR))),
            _ => None,
        }
    }

    /// Whether this alert voids the approval signed with `key` and received `at`.
    pub fn voids(&self, key: &FixedBytes<32>, at: Timestamp) -> bool {
        self.action == Action::NotCounted
            && self.call == CallKind::Approve
            && self.key.as_ref() == Some(key)
            && self.at == at
    }
}

impl fmt::Display for ProposalAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The distinct roles the alerts of a proposal each ask one more approval from, with the rules
/// that ask, in order of first mention: one more approval per role, however many alerts ask.
pub fn extra_roles(alerts: &[ProposalAlert]) -> Vec<(Role, Vec<AnomalyRule>)> {
    let mut out: Vec<(Role, Vec<AnomalyRule>)> = Vec::new();
    for a in alerts {
        if let Action::ExtraApproval { role } = &a.action {
            match out.iter_mut().find(|(r, _)| r == role) {
                Some((_, rules)) if rules.contains(&a.rule) => {}
                Some((_, rules)) => rules.push(a.rule),
                None => out.push((role.clone(), vec![a.rule])),
            }
        }
    }
    out
}
