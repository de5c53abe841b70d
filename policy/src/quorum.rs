//! Counting approvals: segregation of duties, probation, and the per-role quorum.
//!
//! Each operator counts once, for one role, whatever keys and roles they hold: approvers are
//! assigned to role slots by a maximum bipartite matching, so an operator with two roles
//! never fills two slots, and an assignment that fills every slot is found if one exists.
//! Non-probationary approvers are matched first; probationary ones may then fill at most the
//! configured number of remaining slots.

use alloy_primitives::Address;

use crate::{
    approvals::{ApprovalCheck, NotCounted, ProbationLimit},
    compile::Policy,
    evidence::{Evidence, Verdict},
    facets::Facet,
    operators::{OperatorId, Role},
    reasons::{MissingApprovals, Reason},
    tiers::{ActionClass, Requirement},
    time::Timestamp,
    wallets::Wallet,
};

/// What counting found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Each role whose quorum is not met, with the approvals that did not count.
    pub missing: Vec<MissingApprovals>,
    /// A [`Reason::Rejected`] for every valid rejection; any one denies.
    pub rejections: Vec<Reason>,
    /// When the last counted approval arrived plus the time lock.
    pub release_after: Timestamp,
    /// When the first counted approval lapses.
    pub expires_at: Timestamp,
}

/// Applies segregation of duties and probation to the valid approvals in `checks` (marking the
/// ones that do not count) and counts the rest against `req`.
pub fn tally(
    policy: &Policy,
    wallet: &Wallet,
    evidence: &Evidence,
    facets: &[Facet],
    req: &Requirement,
    checks: &mut [ApprovalCheck],
) -> Tally {
    let now = evidence.now;
    let rules = policy.probation();
    let restricted_tag = rules
        .restricted_wallet_tags
        .iter()
        .find(|t| wallet.has_tag(t));
    let first_payments: Vec<Address> = facets
        .iter()
        .filter(|f| f.class == ActionClass::Transfer)
        .filter_map(|f| f.destination)
        .filter(|d| !evidence.paid_before.contains(d))
        .collect();

    let mut rejections = Vec::new();
    // (check index, operator id, probationary)
    let mut candidates: Vec<(usize, OperatorId, bool)> = Vec::new();
    for (i, c) in checks.iter_mut().enumerate() {
        if c.not_counted.is_some() {
            continue;
        }
        let Some((op, key)) = policy.key_holder(&c.public_key) else {
            continue;
        };
        if !op.may_act_on(&wallet.name) {
            c.not_counted = Some(NotCounted::NotOnWallet {
                wallet: wallet.name.clone(),
            });
            continue;
        }
        if c.verdict == Verdict::Reject {
            rejections.push(Reason::Rejected {
                operator: op.id.clone(),
            });
            c.not_counted = Some(NotCounted::Rejection);
            continue;
        }
        if op.id == evidence.proposal.initiator {
            c.not_counted = Some(NotCounted::Initiator);
            continue;
        }
        if let Some(destination) = first_payments.iter().find(|d| {
            policy
                .address_book()
                .iter()
                .any(|e| e.address == **d && e.added_by == op.id)
        }) {
            c.not_counted = Some(NotCounted::AddedDestination {
                destination: *destination,
            });
            continue;
        }
        if now >= c.received_at.plus(req.approval_expiry) {
            c.not_counted = Some(NotCounted::Stale {
                received_at: c.received_at,
                expiry_hours: req.approval_expiry / crate::time::HOUR,
            });
            continue;
        }
        let probation = op.probation(now, rules.days, Some(key), rules.new_keys_probationary);
        if let Some(probation) = probation {
            let detail = if let Some(tag) = restricted_tag {
                Some(ProbationLimit::RestrictedWallet {
                    wallet: wallet.name.clone(),
                    tag: tag.clone(),
                })
            } else if !req.admits_probationary {
                Some(ProbationLimit::ProposalClass)
            } else {
                None
            };
            if let Some(detail) = detail {
                c.not_counted = Some(NotCounted::Probationary { probation, detail });
                continue;
            }
        }
        candidates.push((i, op.id.clone(), probation.is_some()));
    }

    // Role slots, one per required approval.
    let slots: Vec<&Role> = req
        .approvals
        .iter()
        .flat_map(|(role, n)| std::iter::repeat_n(role, usize::try_from(*n).unwrap_or(usize::MAX)))
        .collect();
    let mut matching: Vec<Option<usize>> = vec![None; slots.len()];
    let holds = |cand: usize, slot: usize| -> bool {
        let (Some((_, id, _)), Some(role)) = (candidates.get(cand), slots.get(slot)) else {
            return false;
        };
        policy.operator(id).is_some_and(|o| o.has_role(role))
    };
    let mut probationary_used = 0u32;
    let order: Vec<usize> = (0..candidates.len())
        .filter(|c| candidates.get(*c).is_some_and(|x| !x.2))
        .chain((0..candidates.len()).filter(|c| candidates.get(*c).is_some_and(|x| x.2)))
        .collect();
    for cand in order {
        let probationary = candidates.get(cand).is_some_and(|x| x.2);
        if probationary && probationary_used >= rules.max_probationary_approvers {
            // Would it have helped? Only then is the cap the reason it did not count.
            let mut trial = matching.clone();
            let mut seen = vec![false; slots.len()];
            if augment(cand, &mut trial, &mut seen, &holds)
                && let Some(c) = candidates.get(cand).and_then(|x| checks.get_mut(x.0))
            {
                {
                    let key = c.public_key;
                    let probation = policy.key_holder(&key).and_then(|(o, k)| {
                        o.probation(now, rules.days, Some(k), rules.new_keys_probationary)
                    });
                    if let Some(probation) = probation {
                        c.not_counted = Some(NotCounted::Probationary {
                            probation,
                            detail: ProbationLimit::CapReached {
                                max: rules.max_probationary_approvers,
                            },
                        });
                    }
                }
            }
            continue;
        }
        let mut seen = vec![false; slots.len()];
        if augment(cand, &mut matching, &mut seen, &holds) && probationary {
            probationary_used += 1;
        }
    }

    let counted: Vec<&ApprovalCheck> = matching
        .iter()
        .flatten()
        .filter_map(|cand| candidates.get(*cand).and_then(|x| checks.get(x.0)))
        .collect();
    let last = counted.iter().map(|c| c.received_at).max().unwrap_or(now);
    let expires_at = counted
        .iter()
        .map(|c| c.expires_at.min(c.received_at.plus(req.approval_expiry)))
        .min()
        .unwrap_or(now);

    let mut missing = Vec::new();
    for (role, need) in &req.approvals {
        let have = slots
            .iter()
            .zip(&matching)
            .filter(|(r, m)| **r == role && m.is_some())
            .count();
        let have = u32::try_from(have).unwrap_or(u32::MAX);
        if have < *need {
            let not_counted = checks
                .iter()
                .filter_map(|c| {
                    let why = c.not_counted.as_ref()?;
                    let op = policy.operator(c.operator.as_ref()?)?;
                    (op.has_role(role) && c.verdict == Verdict::Approve)
                        .then(|| (op.id.clone(), why.clone()))
                })
                .collect();
            missing.push(MissingApprovals {
                role: role.clone(),
                need: *need,
                have,
                probationary_admitted: req.admits_probationary && restricted_tag.is_none(),
                not_counted,
                eligible: Vec::new(),
                asked_by_alerts: Vec::new(),
            });
        }
    }
    Tally {
        missing,
        rejections,
        release_after: last.plus(req.time_lock),
        expires_at,
    }
}

/// Kuhn's augmenting path from candidate `cand`. Recursion depth is bounded by the number of
/// slots (each is visited once per search).
fn augment(
    cand: usize,
    matching: &mut [Option<usize>],
    seen: &mut [bool],
    holds: &dyn Fn(usize, usize) -> bool,
) -> bool {
    for slot in 0..matching.len() {
        if !holds(cand, slot) || seen.get(slot).copied().unwrap_or(true) {
            continue;
        }
        if let Some(s) = seen.get_mut(slot) {
            *s = true;
        }
        let current = matching.get(slot).copied().flatten();
        let free = match current {
            None => true,
            Some(other) => augment(other, matching, seen, holds),
        };
        if free {
            if let Some(m) = matching.get_mut(slot) {
                *m = Some(cand);
            }
            return true;
        }
    }
    false
}
