//! Approval messages, their signatures, and which approvals are valid at all.
//!
//! An approval is an ed25519 signature over a canonical, domain-separated message that binds
//! the verdict, chain id, Safe, safeTxHash, proposal id and expiry. The domain tag and the
//! fixed-width, length-prefixed layout mean a signature made for anything else (another
//! proposal, another chain, a policy admin signature) never verifies here.
//!
//! Validity is checked in a fixed order and the first failure is reported: binding, key,
//! signature, revocation, expiry, operator status, duplicates. Segregation of duties and
//! probation come later, in [`crate::quorum`], because they depend on the proposal.

use alloy_primitives::FixedBytes;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{
    compile::Policy,
    evidence::{Evidence, Proposal, SignedApproval, Verdict},
    operators::{OperatorId, OperatorStatus},
    time::Timestamp,
};

/// Domain tag of approval messages; bump the version if the layout ever changes.
pub const APPROVAL_DOMAIN: &[u8] = b"signgate/approval/v1\0";

/// The exact bytes an operator key signs for one verdict on one proposal.
pub fn approval_message(verdict: Verdict, proposal: &Proposal, expires_at: Timestamp) -> Vec<u8> {
    message_bytes(
        verdict,
        proposal.chain_id,
        proposal.safe.as_slice(),
        proposal.safe_tx_hash.as_slice(),
        &proposal.id,
        expires_at,
    )
}

fn message_bytes(
    verdict: Verdict,
    chain_id: u64,
    safe: &[u8],
    safe_tx_hash: &[u8],
    proposal_id: &str,
    expires_at: Timestamp,
) -> Vec<u8> {
    let id = proposal_id.as_bytes();
    let mut m = Vec::with_capacity(APPROVAL_DOMAIN.len() + 1 + 8 + 20 + 32 + 8 + 4 + id.len());
    m.extend_from_slice(APPROVAL_DOMAIN);
    m.push(match verdict {
        Verdict::Approve => 1,
        Verdict::Reject => 2,
    });
    m.extend_from_slice(&chain_id.to_be_bytes());
    m.extend_from_slice(safe);
    m.extend_from_slice(safe_tx_hash);
    m.extend_from_slice(&expires_at.as_secs().to_be_bytes());
    // A length prefix, so no id can be extended into another field.
    m.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(id);
    m
}

/// The message a [`SignedApproval`] claims to have signed (its own fields, not the proposal's).
pub fn signed_message(a: &SignedApproval) -> Vec<u8> {
    message_bytes(
        a.verdict,
        a.chain_id,
        a.safe.as_slice(),
        a.safe_tx_hash.as_slice(),
        &a.proposal_id,
        a.expires_at,
    )
}

/// Signs a verdict on `proposal`: what an approver's client does.
pub fn sign_approval(
    key: &SigningKey,
    verdict: Verdict,
    proposal: &Proposal,
    expires_at: Timestamp,
    received_at: Timestamp,
) -> SignedApproval {
    let signature = key.sign(&approval_message(verdict, proposal, expires_at));
    SignedApproval {
        verdict,
        chain_id: proposal.chain_id,
        safe: proposal.safe,
        safe_tx_hash: proposal.safe_tx_hash,
        proposal_id: proposal.id.clone(),
        expires_at,
        public_key: FixedBytes(key.verifying_key().to_bytes()),
        signature: FixedBytes(signature.to_bytes()),
        received_at,
    }
}

/// The result of the (costly) signature checks, one per approval in evidence order. Kept apart
/// so the gateway can verify once on receipt and re-evaluate cheaply as time passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureChecks(Vec<bool>);

impl SignatureChecks {
    /// Verifies every approval's signature against the key it names (strict verification:
    /// no malleable or small-order signatures).
    pub fn verify(approvals: &[SignedApproval]) -> Self {
        Self(
            approvals
                .iter()
                .map(|a| {
                    VerifyingKey::from_bytes(&a.public_key.0).is_ok_and(|k| {
                        k.verify_strict(&signed_message(a), &Signature::from_bytes(&a.signature.0))
                            .is_ok()
                    })
                })
                .collect(),
        )
    }

    /// Treats every signature as valid. Only for dry runs of policy authors (`signgate policy
    /// test`), who hold no operator keys; the gateway never calls this.
    pub fn assume_valid_for_dry_run(count: usize) -> Self {
        Self(vec![true; count])
    }

    /// Builds checks from explicit results (the dry-run harness marks tampered ones false).
    pub fn from_results(results: Vec<bool>) -> Self {
        Self(results)
    }

    /// These checks and one more approval, appended last, taken as verified: a hypothetical
    /// approval the policy made itself (see [`crate::evaluate::assess`]).
    pub(crate) fn with_one_more(&self) -> Self {
        let mut results = self.0.clone();
        results.push(true);
        Self(results)
    }

    fn is_valid(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// Which field of an approval binds another proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundField {
    /// The approval's chain id differs.
    ChainId,
    /// The approval's Safe differs.
    Safe,
    /// The approval's `safeTxHash` differs.
    SafeTxHash,
    /// The approval's proposal id differs.
    ProposalId,
}

/// Why an approval does not count. Every variant is reported with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum NotCounted {
    /// The approval binds another proposal.
    ForeignProposal {
        /// The first bound field that differs.
        field: BoundField,
    },
    /// The key is not enrolled for any operator of the policy.
    UnknownKey,
    /// The signature does not verify against the key over the approval's own fields.
    InvalidSignature,
    /// The key was revoked before the decision.
    KeyRevoked {
        /// When it was revoked.
        revoked_at: Timestamp,
    },
    /// The approval passed its signed expiry (rejections never expire).
    Expired {
        /// The signed expiry.
        expires_at: Timestamp,
    },
    /// The key's holder is not active.
    OperatorInactive {
        /// Their status.
        status: OperatorStatus,
    },
    /// The operator already has a counted verdict of the same kind; each operator counts once,
    /// whatever number of keys they hold.
    DuplicateOperator {
        /// The key of the verdict that counted, the earliest received.
        first_key: FixedBytes<32>,
    },
    /// The initiator's own approval: nobody approves their own proposal.
    Initiator,
    /// The approver is not an operator of the proposal's wallet.
    NotOnWallet {
        /// Wallet name in the policy.
        wallet: String,
    },
    /// The approver added a destination of this proposal to the address book and it has not been
    /// paid before: whoever vouched for an address does not approve the first payment to it.
    AddedDestination {
        /// The destination they added.
        destination: alloy_primitives::Address,
    },
    /// The approver is on probation and a probation limit excludes them.
    Probationary {
        /// Which probation, and until when.
        probation: crate::operators::Probation,
        /// Which limit.
        detail: ProbationLimit,
    },
    /// The approval is older than the shortest approval expiry of the tiers that apply.
    Stale {
        /// When the gateway received it.
        received_at: Timestamp,
        /// That expiry, in hours.
        expiry_hours: u64,
    },
    /// A rejection: it counts against, never for (it denies).
    Rejection,
    /// The call that brought the approval raised anomaly alerts whose rules say `not_counted`
    /// (an approval from a new device at 3 a.m., say): an approval from a call that raised no such
    /// alert must replace it.
    Anomalous {
        /// The rules, with what each saw, in words.
        alerts: Vec<(crate::anomaly::AnomalyRule, String)>,
    },
}

/// Which probation limit excluded an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "limit")]
pub enum ProbationLimit {
    /// No probationary approvals on wallets with this tag.
    RestrictedWallet {
        /// Wallet name in the policy.
        wallet: String,
        /// The restricted tag the wallet carries.
        tag: String,
    },
    /// Permission changes, delegatecalls, or amounts above the tier's probationary limit.
    ProposalClass,
    /// The proposal already counts the maximum number of probationary approvers.
    CapReached {
        /// The policy's `probation.max_probationary_approvers`.
        max: u32,
    },
}

impl NotCounted {
    /// Stable code for audit records.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::ForeignProposal { .. } => "approval.foreign_proposal",
            Self::UnknownKey => "approval.unknown_key",
            Self::InvalidSignature => "approval.invalid_signature",
            Self::KeyRevoked { .. } => "approval.key_revoked",
            Self::Expired { .. } => "approval.expired",
            Self::OperatorInactive { .. } => "approval.operator_inactive",
            Self::DuplicateOperator { .. } => "approval.duplicate_operator",
            Self::Initiator => "approval.initiator",
            Self::NotOnWallet { .. } => "approval.not_on_wallet",
            Self::AddedDestination { .. } => "approval.added_destination",
            Self::Probationary { .. } => "approval.probationary",
            Self::Stale { .. } => "approval.stale",
            Self::Rejection => "approval.rejection",
            Self::Anomalous { .. } => "approval.anomalous",
        }
    }
}

impl std::fmt::Display for NotCounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ForeignProposal { field } => {
                let field = match field {
                    BoundField::ChainId => "chain id",
                    BoundField::Safe => "Safe",
                    BoundField::SafeTxHash => "safeTxHash",
                    BoundField::ProposalId => "proposal id",
                };
                write!(f, "signed for another proposal (its {field} differs)")
            }
            Self::UnknownKey => f.write_str("signed by a key no operator holds"),
            Self::InvalidSignature => f.write_str("signature does not verify"),
            Self::KeyRevoked { revoked_at } => write!(f, "key revoked at {revoked_at}"),
            Self::Expired { expires_at } => write!(f, "approval expired at {expires_at}"),
            Self::OperatorInactive { status } => write!(f, "operator is {status}"),
            Self::DuplicateOperator { first_key } => {
                write!(
                    f,
                    "operator already approved with key {first_key}; each operator counts once"
                )
            }
            Self::Initiator => f.write_str("the initiator cannot approve their own proposal"),
            Self::NotOnWallet { wallet } => write!(f, "operator may not act on wallet `{wallet}`"),
            Self::AddedDestination { destination } => write!(
                f,
                "operator added {destination} to the address book and cannot approve the first payment to it"
            ),
            Self::Probationary { probation, detail } => match detail {
                ProbationLimit::RestrictedWallet { wallet, tag } => write!(
                    f,
                    "{probation}: probationary operators may not approve on {tag} wallet `{wallet}`"
                ),
                ProbationLimit::ProposalClass => write!(
                    f,
                    "{probation}: probationary approvals do not count for permission changes, delegatecalls or amounts above the tier's probationary limit"
                ),
                ProbationLimit::CapReached { max } => {
                    write!(
                        f,
                        "{probation}: at most {max} probationary approver(s) count per proposal"
                    )
                }
            },
            Self::Stale {
                received_at,
                expiry_hours,
            } => write!(
                f,
                "approval received {received_at} is older than the tier's {expiry_hours}h approval expiry"
            ),
            Self::Rejection => f.write_str("a rejection"),
            Self::Anomalous { alerts } => {
                f.write_str("the call that brought it raised anomaly alerts whose rules void it")?;
                for (_, words) in alerts {
                    write!(f, "; {words}")?;
                }
                Ok(())
            }
        }
    }
}

/// One approval after the validity checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalCheck {
    /// Position in the evidence.
    pub index: usize,
    /// Approve or reject.
    pub verdict: Verdict,
    /// The holder of the key, when the key is enrolled.
    pub operator: Option<OperatorId>,
    /// The key that signed it.
    pub public_key: FixedBytes<32>,
    /// When the gateway received it.
    pub received_at: Timestamp,
    /// The signed expiry.
    pub expires_at: Timestamp,
    /// `None` while the approval still counts.
    pub not_counted: Option<NotCounted>,
}

/// [`NotCounted::Anomalous`] when the call that brought approval `a` raised anomaly alerts whose
/// rules void it.
fn voided(evidence: &Evidence, a: &SignedApproval) -> Option<NotCounted> {
    if a.verdict != Verdict::Approve {
        return None;
    }
    let alerts: Vec<_> = evidence
        .alerts
        .iter()
        .filter(|x| x.voids(&a.public_key, a.received_at))
        .map(|x| (x.rule, x.message.clone()))
        .collect();
    (!alerts.is_empty()).then_some(NotCounted::Anomalous { alerts })
}

/// Runs the validity checks of every approval in evidence order. Rejections that pass them
/// are kept valid (they deny later); duplicates are judged per verdict, earliest receipt first.
pub fn check_validity(
    policy: &Policy,
    evidence: &Evidence,
    sigs: &SignatureChecks,
) -> Vec<ApprovalCheck> {
    let p = &evidence.proposal;
    let now = evidence.now;
    let mut order: Vec<usize> = (0..evidence.approvals.len()).collect();
    order.sort_by_key(|i| {
        evidence
            .approvals
            .get(*i)
            .map(|a| (a.received_at, a.public_key))
    });
    let mut out: Vec<ApprovalCheck> = Vec::with_capacity(order.len());
    for index in order {
        let Some(a) = evidence.approvals.get(index) else {
            continue;
        };
        let holder = policy.key_holder(&a.public_key);
        let mut check = ApprovalCheck {
            index,
            verdict: a.verdict,
            operator: holder.map(|(o, _)| o.id.clone()),
            public_key: a.public_key,
            received_at: a.received_at,
            expires_at: a.expires_at,
            not_counted: None,
        };
        let field = if a.chain_id != p.chain_id {
            Some(BoundField::ChainId)
        } else if a.safe != p.safe {
            Some(BoundField::Safe)
        } else if a.safe_tx_hash != p.safe_tx_hash {
            Some(BoundField::SafeTxHash)
        } else if a.proposal_id != p.id {
            Some(BoundField::ProposalId)
        } else {
            None
        };
        check.not_counted = if let Some(field) = field {
            Some(NotCounted::ForeignProposal { field })
        } else if let Some((operator, key)) = holder {
            if !sigs.is_valid(index) {
                Some(NotCounted::InvalidSignature)
            } else if let Some(revoked_at) = key.revoked_at.filter(|r| *r <= now) {
                Some(NotCounted::KeyRevoked { revoked_at })
            } else if a.verdict == Verdict::Approve && now >= a.expires_at {
                // A rejection is a veto and does not lapse; an approval does.
                Some(NotCounted::Expired {
                    expires_at: a.expires_at,
                })
            } else if operator.status != OperatorStatus::Active {
                Some(NotCounted::OperatorInactive {
                    status: operator.status,
                })
            } else if let Some(anomalous) = voided(evidence, a) {
                // Before duplicates, like every other reason an approval does not count: the
                // operator's approval from a call that raised no such alert still counts, and
                // taking an approval away never approves a proposal.
                Some(anomalous)
            } else {
                out.iter()
                    .find(|c| {
                        c.not_counted.is_none()
                            && c.verdict == a.verdict
                            && c.operator.as_ref() == Some(&operator.id)
                    })
                    .map(|first| NotCounted::DuplicateOperator {
                        first_key: first.public_key,
                    })
            }
        } else {
            Some(NotCounted::UnknownKey)
        };
        out.push(check);
    }
    out.sort_by_key(|c| c.index);
    out
}
