//! Re-deciding recorded proposals under a candidate policy.
//!
//! Every `decision_made` record carries the exact [`signgate_policy::Evidence`] the decision
//! read (including `now` and the signed approvals), so replay is `evaluate(candidate,
//! evidence)` and a comparison — no clock, no network, no state source. What it answers is
//! the question policy admins ask before signing a change: "which past decisions would have
//! gone the other way?" It does not answer what operators would have done differently had
//! the policy been in force (they might have collected more approvals).

use std::fmt;

use signgate_policy::{Decision, Policy, PolicyHash, evaluate};

use crate::record::{AuditEvent, AuditRecord};

/// One decision that would differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedDecision {
    /// The `decision_made` record.
    pub index: u64,
    /// The proposal decided.
    pub proposal_id: String,
    /// The policy the recorded decision was made under.
    pub recorded_policy: PolicyHash,
    /// `deny`, `needs_approvals` or `approved`.
    pub recorded: String,
    /// What the candidate policy decides on the same evidence.
    pub candidate: Decision,
}

impl fmt::Display for ChangedDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "proposal {} (record #{}): {} under {} -> {}",
            self.proposal_id, self.index, self.recorded, self.recorded_policy, self.candidate
        )
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Decisions re-evaluated.
    pub evaluated: usize,
    /// Those whose outcome differs, in log order.
    pub changed: Vec<ChangedDecision>,
}

impl ReplayReport {
    /// Changes from anything to `deny`: what the candidate would newly refuse.
    pub fn newly_denied(&self) -> impl Iterator<Item = &ChangedDecision> {
        self.changed
            .iter()
            .filter(|c| matches!(c.candidate, Decision::Deny { .. }))
    }

    /// Changes to `approved`: what the candidate would newly let through.
    pub fn newly_approved(&self) -> impl Iterator<Item = &ChangedDecision> {
        self.changed.iter().filter(|c| c.candidate.is_approved())
    }
}

/// Re-evaluates every recorded decision under `candidate` and lists those that change.
pub fn replay<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    candidate: &Policy,
) -> ReplayReport {
    let mut report = ReplayReport::default();
    for r in records {
        let AuditEvent::DecisionMade(d) = &r.event else {
            continue;
        };
        report.evaluated += 1;
        let decision = evaluate(candidate, &d.evidence);
        if decision.kind() != d.outcome {
            report.changed.push(ChangedDecision {
                index: r.index,
                proposal_id: d.proposal_id.clone(),
                recorded_policy: d.policy_hash,
                recorded: d.outcome.clone(),
                candidate: decision,
            });
        }
    }
    report
}
