//! The decision and its guarantees: a deny always has a reason, and any reason denies.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    approvals::ApprovalCheck,
    compile::PolicyHash,
    reasons::{MissingApprovals, Reason},
    time::Timestamp,
};

/// At least one reason. There is no way to build an empty one, so `Deny` always explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Reason>", into = "Vec<Reason>")]
pub struct DenyReasons {
    first: Reason,
    rest: Vec<Reason>,
}

/// An empty reason list where one is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a denial needs at least one reason")]
pub struct NoReasons;

impl DenyReasons {
    /// One reason.
    pub fn one(first: Reason) -> Self {
        Self {
            first,
            rest: Vec::new(),
        }
    }

    /// All reasons, first one first.
    pub fn iter(&self) -> impl Iterator<Item = &Reason> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }

    /// Their codes, in order.
    pub fn codes(&self) -> Vec<&'static str> {
        self.iter().map(Reason::code).collect()
    }

    /// How many.
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Never true; present for API symmetry.
    pub const fn is_empty(&self) -> bool {
        false
    }
}

impl TryFrom<Vec<Reason>> for DenyReasons {
    type Error = NoReasons;
    fn try_from(mut v: Vec<Reason>) -> Result<Self, NoReasons> {
        if v.is_empty() {
            return Err(NoReasons);
        }
        let first = v.remove(0);
        Ok(Self { first, rest: v })
    }
}

impl From<DenyReasons> for Vec<Reason> {
    fn from(r: DenyReasons) -> Self {
        let mut v = Vec::with_capacity(r.len());
        v.push(r.first);
        v.extend(r.rest);
        v
    }
}

/// What signgate does with a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Refused; no approvals can change it.
    Deny {
        /// Every deny reason found; never empty.
        reasons: DenyReasons,
    },
    /// Nothing forbids it, but the quorum is not met yet.
    NeedsApprovals {
        /// Each role whose quorum is not met yet, with the approvals that did not count.
        missing: Vec<MissingApprovals>,
    },
    /// May be signed from `release_after` (the time lock) until `expires_at` (the first
    /// counted approval to lapse).
    Approved {
        /// The earliest instant the transaction may be signed: the last counted approval's receipt
        /// plus the longest time lock of the tiers that apply.
        release_after: Timestamp,
        /// The instant the approval lapses: the first counted approval to expire.
        expires_at: Timestamp,
    },
}

impl Decision {
    /// Combines what the rules found. Any reason denies; otherwise missing approvals wait.
    pub(crate) fn from_findings(
        reasons: Vec<Reason>,
        missing: Vec<MissingApprovals>,
        release_after: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        match DenyReasons::try_from(reasons) {
            Ok(reasons) => Self::Deny { reasons },
            Err(NoReasons) if !missing.is_empty() => Self::NeedsApprovals { missing },
            Err(NoReasons) => Self::Approved {
                release_after,
                expires_at,
            },
        }
    }

    /// Whether this is `Approved`.
    pub const fn is_approved(&self) -> bool {
        matches!(self, Self::Approved { .. })
    }

    /// The deny codes (empty unless `Deny`).
    pub fn reason_codes(&self) -> Vec<&'static str> {
        match self {
            Self::Deny { reasons } => reasons.codes(),
            _ => Vec::new(),
        }
    }

    /// A short word: `deny`, `needs_approvals`, `approved`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Deny { .. } => "deny",
            Self::NeedsApprovals { .. } => "needs_approvals",
            Self::Approved { .. } => "approved",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deny { reasons } => {
                f.write_str("DENY")?;
                for r in reasons.iter() {
                    write!(f, "\n  - {r}")?;
                }
                Ok(())
            }
            Self::NeedsApprovals { missing } => {
                f.write_str("NEEDS APPROVALS")?;
                for m in missing {
                    write!(f, "\n  - {m}")?;
                }
                Ok(())
            }
            Self::Approved {
                release_after,
                expires_at,
            } => {
                write!(
                    f,
                    "APPROVED: may be signed from {release_after} until {expires_at}"
                )
            }
        }
    }
}

/// A decision with everything needed to audit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// What signgate does with the proposal.
    pub decision: Decision,
    /// The policy that decided.
    pub policy: PolicyHash,
    /// The governed wallet, when the Safe is one.
    pub wallet: Option<String>,
    /// Tiers that applied.
    pub tiers: Vec<String>,
    /// Every approval and, where it did not count, why.
    pub approvals: Vec<ApprovalCheck>,
    /// The anomaly alerts on the proposal that asked for more than a record, as the evidence
    /// carried them: what the extra approvals, holds and voided approvals above come from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<crate::anomaly::ProposalAlert>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reason(n: u8) -> Reason {
        Reason::ArithmeticOverflow {
            context: format!("rule {n}"),
        }
    }

    proptest! {
        /// An erroring rule (any reason at all) denies, whatever else was found.
        #[test]
        fn any_reason_denies(n in 1u8..5, missing in any::<bool>()) {
            let reasons: Vec<Reason> = (0..n).map(reason).collect();
            let m = if missing {
                vec![MissingApprovals { role: crate::operators::Role("x".into()), need: 1, have: 0, probationary_admitted: true, not_counted: vec![], eligible: vec![], asked_by_alerts: vec![] }]
            } else {
                vec![]
            };
            let d = Decision::from_findings(reasons, m, Timestamp(0), Timestamp(1));
            let denied = matches!(d, Decision::Deny { ref reasons } if reasons.len() == usize::from(n));
            prop_assert!(denied);
        }
    }

    #[test]
    fn empty_reasons_do_not_deserialize() {
        let err = serde_json::from_str::<DenyReasons>("[]");
        assert!(err.is_err());
    }
}
