//! What a call's alerts do to the decision on its proposal, as data the gateway applies:
//! extra approvals to require, a hold, and whether the call's approval counts.
//!
//! Kept apart from [`crate::evaluate()`] on purpose: the quorum and deny rules stay exactly as
//! they are, and the gateway adds these effects where it assembles the decision, naming the
//! alerts in the reasons it shows approvers.

use serde::{Deserialize, Serialize};

use super::{
    rules::{Alert, AnomalyRule},
    settings::Action,
};
use crate::{
    operators::Role,
    time::{HOUR, Timestamp},
};

/// The combined effect of one call's alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEffects {
    /// One more approval from each listed role, with the rule that asks for it. A role asked
    /// for by two rules is listed twice; the gateway requires one extra approval per distinct
    /// role ([`AlertEffects::extra_roles`]) and shows every reason.
    pub extra_approvals: Vec<(Role, AnomalyRule)>,
    /// The proposal may not be released before this instant: the latest of each `hold`
    /// alert's time plus its hours.
    pub hold_until: Option<Timestamp>,
    /// The rules that void the call's approval (`not_counted`); empty when it counts. Only an
    /// approval has anything to void.
    pub not_counted: Vec<AnomalyRule>,
}

impl AlertEffects {
    /// The effects of `alerts` (those of one call).
    pub fn of<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Self {
        let mut fx = Self::default();
        for a in alerts {
            match &a.action {
                Action::Alert => {}
                Action::ExtraApproval { role } => {
                    let entry = (role.clone(), a.rule());
                    if !fx.extra_approvals.contains(&entry) {
                        fx.extra_approvals.push(entry);
                    }
                }
                Action::Hold { hours } => {
                    let until = a.at.plus(hours.saturating_mul(HOUR));
                    fx.hold_until = Some(fx.hold_until.map_or(until, |h| h.max(until)));
                }
                Action::NotCounted => {
                    if !fx.not_counted.contains(&a.rule()) {
                        fx.not_counted.push(a.rule());
                    }
                }
            }
        }
        fx
    }

    /// Whether the alerts change nothing.
    pub fn is_none(&self) -> bool {
        self.extra_approvals.is_empty() && self.hold_until.is_none() && self.not_counted.is_empty()
    }

    /// Whether the call's approval counts.
    pub fn approval_counts(&self) -> bool {
        self.not_counted.is_empty()
    }

    /// The distinct roles that must each give one more approval, in order of first mention.
    pub fn extra_roles(&self) -> Vec<&Role> {
        let mut roles: Vec<&Role> = Vec::new();
        for (r, _) in &self.extra_approvals {
            if !roles.contains(&r) {
                roles.push(r);
            }
        }
        roles
    }
}
