//! Admission: whether a key's holder may submit, approve or reject at all, before any work.
//!
//! The gateway asks before it decodes, simulates, stores or records anything.
//!
//! The evaluation judges a proposal by its stored initiator and its approvals. Two things it
//! cannot judge are *who signed this request*: it never sees the key of a submission, and it
//! runs only after the proposal exists. Admission closes both gaps:
//!
//! - a revoked key, or the key of an operator who is not active, is refused outright rather
//!   than mapped to its operator (a submission signed by a revoked key was otherwise accepted
//!   as long as its holder had some other key);
//! - a submission refused because of *who* submits it is never stored, so nobody can claim a
//!   colleague's transaction (the proposal id derives from chain, Safe and safeTxHash, and its
//!   first submitter becomes the initiator) by submitting it first and leaving it denied.
//!
//! For a submission every initiator rule applies, through the same
//! [`rules::initiator::bars`](crate::rules::initiator::bars) the evaluation uses; the evaluation
//! still applies them too, so a policy changed between admission and decision still denies.
//! For approvals and rejections admission refuses unknown and revoked keys, inactive operators
//! and operators not assigned to the wallet (none of their statements could count); whether a
//! probationary approval counts stays the quorum's business.
//!
//! A Safe the policy does not govern is not a reason to refuse: no operator could make it pass,
//! so storing its denial lets nobody claim anything, and the evaluation denies it with
//! [`Reason::UnknownWallet`](crate::Reason::UnknownWallet), the answer clients already get.
//! Only the wallet-specific bars (assignment, restricted-wallet probation) are skipped for it.

use std::fmt;

use alloy_primitives::{Address, FixedBytes};

use crate::{
    compile::Policy,
    operators::{OperatorId, OperatorStatus, Probation, Role},
    rules::initiator::{self, Bar},
    time::Timestamp,
};

/// What the key's holder is trying to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Submit a proposal, becoming its initiator.
    Submit,
    /// Approve a proposal.
    Approve,
    /// Reject a proposal.
    Reject,
    /// Withdraw an open proposal.
    Cancel,
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
        })
    }
}

/// Why a signed request is refused before any work. `Display` says what happened and what
/// would pass; [`code`](Self::code) is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No operator of the policy holds the key.
    UnknownKey {
        /// The key that signed.
        key: FixedBytes<32>,
    },
    /// The key was revoked at or before the request.
    KeyRevoked {
        /// Its holder.
        operator: OperatorId,
        /// The key that signed.
        key: FixedBytes<32>,
        /// When it was revoked.
        revoked_at: Timestamp,
    },
    /// The key's holder is suspended or offboarded.
    OperatorInactive {
        /// The holder.
        operator: OperatorId,
        /// Their status.
        status: OperatorStatus,
    },
    /// The key's holder is not assigned to the wallet of the Safe.
    NotOnWallet {
        /// The holder.
        operator: OperatorId,
        /// What they tried to do.
        act: Act,
        /// Wallet name in the policy.
        wallet: String,
    },
    /// The key's holder is on probation and the wallet's tag does not let probationary
    /// operators initiate.
    Probationary {
        /// The holder.
        operator: OperatorId,
        /// Wallet name in the policy.
        wallet: String,
        /// The restricted tag the wallet carries.
        tag: String,
        /// Which probation, and until when.
        probation: Probation,
    },
    /// The key's holder neither initiated the proposal nor holds a role the policy lets
    /// cancel others' proposals.
    MayNotCancel {
        /// The holder.
        operator: OperatorId,
        /// The proposal's initiator.
        initiator: OperatorId,
        /// The roles `[cancellation]` names.
        roles: Vec<Role>,
    },
}

impl Refusal {
    /// Stable code, for logs and clients.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownKey { .. } => "admission.unknown_key",
            Self::KeyRevoked { .. } => "admission.key_revoked",
            Self::OperatorInactive { .. } => "admission.operator_inactive",
            Self::NotOnWallet { .. } => "admission.not_on_wallet",
            Self::Probationary { .. } => "admission.probationary",
            Self::MayNotCancel { .. } => "admission.may_not_cancel",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey { key } => write!(
                f,
                "key {key} is not enrolled for any operator in the policy; sign with an enrolled key"
            ),
            Self::KeyRevoked {
                operator,
                key,
                revoked_at,
            } => write!(
                f,
                "key {key} of {operator} was revoked at {revoked_at}; sign with an enrolled key that is not revoked"
            ),
            Self::OperatorInactive { operator, status } => write!(
                f,
                "operator {operator} is {status}; only active operators submit, approve, reject or cancel"
            ),
            Self::NotOnWallet {
                operator,
                act,
                wallet,
            } => write!(
                f,
                "operator {operator} is not assigned to wallet `{wallet}` and may not {act} for it; an operator of the wallet must"
            ),
            Self::Probationary {
                operator,
                wallet,
                tag,
                probation,
            } => write!(
                f,
                "operator {operator} is on probation ({probation}) and may not initiate on {tag} wallet `{wallet}`; a non-probationary operator of the wallet must submit it"
            ),
            Self::MayNotCancel {
                operator,
                initiator,
                roles,
            } if roles.is_empty() => write!(
                f,
                "operator {operator} did not initiate this proposal and the policy lets only its initiator ({initiator}) cancel it; ask {initiator}, or reject it instead"
            ),
            Self::MayNotCancel {
                operator,
                initiator,
                roles,
            } => {
                let roles: Vec<&str> = roles.iter().map(|r| r.0.as_str()).collect();
                write!(
                    f,
                    "operator {operator} did not initiate this proposal and holds none of the roles that may cancel others' proposals ({}); ask its initiator ({initiator}) or a holder of one of those roles, or reject it instead",
                    roles.join(", ")
                )
            }
        }
    }
}

/// Admits the holder of `key` to `act` on the Safe `safe` of chain `chain_id` at `now`: their
/// operator id, or why not. Refusals are reported in a fixed order (key, status, wallet,
/// probation), the first one found.
pub fn admit(
    policy: &Policy,
    key: &FixedBytes<32>,
    act: Act,
    chain_id: u64,
    safe: Address,
    now: Timestamp,
) -> Result<OperatorId, Refusal> {
    let Some((op, k)) = policy.key_holder(key) else {
        return Err(Refusal::UnknownKey { key: *key });
    };
    if let Some(revoked_at) = k.revoked_at.filter(|r| *r <= now) {
        return Err(Refusal::KeyRevoked {
            operator: op.id.clone(),
            key: *key,
            revoked_at,
        });
    }
    let Some(wallet) = policy.wallet_for(chain_id, safe) else {
        // No wallet: the evaluation denies it as unknown whoever submits (see the module
        // documentation); the operator's status still bars them.
        if op.status != OperatorStatus::Active {
            return Err(Refusal::OperatorInactive {
                operator: op.id.clone(),
                status: op.status,
            });
        }
        return Ok(op.id.clone());
    };
    let bars = initiator::bars(policy, wallet, op, now);
    let refusal = bars.into_iter().find_map(|bar| match bar {
        Bar::Inactive { status } => Some(Refusal::OperatorInactive {
            operator: op.id.clone(),
            status,
        }),
        Bar::NotOnWallet => Some(Refusal::NotOnWallet {
            operator: op.id.clone(),
            act,
            wallet: wallet.name.clone(),
        }),
        // A probationary approval is stored and shown as not counted, by the quorum.
        Bar::Probationary { tag, probation } => {
            (act == Act::Submit).then(|| Refusal::Probationary {
                operator: op.id.clone(),
                wallet: wallet.name.clone(),
                tag,
                probation,
            })
        }
    });
    match refusal {
        Some(r) => Err(r),
        None => Ok(op.id.clone()),
    }
}

/// Whether `operator` (already admitted to [`Act::Cancel`] on the proposal's Safe) may
/// withdraw a proposal `initiator` made: their own always, others' only with a role
/// `[cancellation] roles` names.
pub fn may_cancel(
    policy: &Policy,
    operator: &OperatorId,
    initiator: &OperatorId,
) -> Result<(), Refusal> {
    if operator == initiator {
        return Ok(());
    }
    let holds = policy
        .operators
        .iter()
        .find(|o| &o.id == operator)
        .is_some_and(|o| o.roles.iter().any(|r| policy.cancel_roles.contains(r)));
    if holds {
        Ok(())
    } else {
        Err(Refusal::MayNotCancel {
            operator: operator.clone(),
            initiator: initiator.clone(),
            roles: policy.cancel_roles.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    const SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
    const OTHER_SAFE: Address = address!("0x0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc");
    const UNGOVERNED: Address = address!("0x1111111111111111111111111111111111111111");

    /// The public half of the test key seeded with `byte`.
    fn key(byte: u8) -> FixedBytes<32> {
        FixedBytes(
            ed25519_dalek::SigningKey::from_bytes(&[byte; 32])
                .verifying_key()
                .to_bytes(),
        )
    }

    fn operator(id: &str, byte: u8, extra: &str) -> String {
        let wallets = if extra.contains("wallets") {
            ""
        } else {
            "wallets = [\"*\"]\n"
        };
        format!(
            "[[operator]]\nid = \"{id}\"\nname = \"{id}\"\nroles = [\"treasury\"]\n\
             {wallets}{extra}\nkeys = [{{ public_key = \"{}\", enrolled_at = \"2015-01-01\" }}]\n\n",
            key(byte)
        )
    }

    /// alice may do everything; revoked holds only a revoked key; suspended is suspended;
    /// outsider is assigned to the other wallet only; newbie started recently.
    fn policy() -> Policy {
        Policy::compile(&policy_source()).unwrap()
    }

    fn policy_source() -> String {
        let mut src = String::from(
            r#"name = "admission"
[governance]
admins = ["alice"]
threshold = 1
[probation]
days = 90
restricted_wallet_tags = ["production"]
max_probationary_approvers = 1
[[wallet]]
name = "treasury"
chain_id = 1
safe = "0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe"
tags = ["production"]
assets.ETH = { decimals = 18 }
[[wallet]]
name = "sandbox"
chain_id = 1
safe = "0x0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc0ddc"
tags = ["test"]
assets.ETH = { decimals = 18 }
[[tier]]
name = "transfers"
actions = ["transfer"]
assets = ["ETH"]
approvals = { treasury = 2 }

"#,
        );
        src += &operator("alice", 1, "started_at = \"2015-01-01\"");
        src += &format!(
            "[[operator]]\nid = \"revoked\"\nname = \"r\"\nroles = [\"treasury\"]\n\
             wallets = [\"*\"]\nstarted_at = \"2015-01-01\"\nkeys = [{{ public_key = \"{}\", enrolled_at = \"2015-01-01\", revoked_at = \"2020-01-01\" }}, {{ public_key = \"{}\", enrolled_at = \"2015-01-01\" }}]\n\n",
            key(2),
            key(7)
        );
        src += &operator(
            "suspended",
            3,
            "started_at = \"2015-01-01\"\nstatus = \"suspended\"",
        );
        src += &operator(
            "outsider",
            4,
            "started_at = \"2015-01-01\"\nwallets = [\"sandbox\"]",
        );
        src += &operator("newbie", 5, "started_at = \"2024-12-01\"");
        src
    }

    fn now() -> Timestamp {
        "2025-01-01".parse().unwrap()
    }

    fn admit_on(byte: u8, act: Act, safe: Address) -> Result<OperatorId, Refusal> {
        admit(&policy(), &key(byte), act, 1, safe, now())
    }

    #[test]
    fn an_active_assigned_seasoned_operator_is_admitted_for_every_act() {
        for act in [Act::Submit, Act::Approve, Act::Reject, Act::Cancel] {
            assert_eq!(admit_on(1, act, SAFE), Ok(OperatorId::from("alice")));
        }
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let r = admit_on(9, Act::Approve, SAFE).unwrap_err();
        assert_eq!(r.code(), "admission.unknown_key");
        assert!(r.to_string().contains("sign with an enrolled key"), "{r}");
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_its_holder_has_another_key() {
        for act in [Act::Submit, Act::Approve, Act::Reject, Act::Cancel] {
            let r = admit_on(2, act, SAFE).unwrap_err();
            assert_eq!(r.code(), "admission.key_revoked", "{act}");
            let m = r.to_string();
            assert!(m.contains("of revoked was revoked at 2020-01-01"), "{m}");
            assert!(m.contains("sign with an enrolled key"), "{m}");
        }
        // The holder's other key is fine.
        assert_eq!(
            admit_on(7, Act::Submit, SAFE),
            Ok(OperatorId::from("revoked"))
        );
    }

    #[test]
    fn a_key_revoked_later_still_admits_until_then() {
        let early = "2019-12-31".parse().unwrap();
        assert_eq!(
            admit(&policy(), &key(2), Act::Submit, 1, SAFE, early),
            Ok(OperatorId::from("revoked"))
        );
    }

    #[test]
    fn an_inactive_operator_is_refused_for_every_act_and_any_safe() {
        for act in [Act::Submit, Act::Approve, Act::Reject, Act::Cancel] {
            for safe in [SAFE, UNGOVERNED] {
                let r = admit_on(3, act, safe).unwrap_err();
                assert_eq!(r.code(), "admission.operator_inactive");
                assert!(r.to_string().contains("is suspended"), "{r}");
            }
        }
    }

    #[test]
    fn an_operator_not_on_the_wallet_is_refused_there_only() {
        for act in [Act::Submit, Act::Approve, Act::Reject, Act::Cancel] {
            let r = admit_on(4, act, SAFE).unwrap_err();
            assert_eq!(r.code(), "admission.not_on_wallet");
            assert!(r.to_string().contains("wallet `treasury`"), "{r}");
            assert_eq!(
                admit_on(4, act, OTHER_SAFE),
                Ok(OperatorId::from("outsider"))
            );
        }
    }

    #[test]
    fn a_probationary_operator_may_not_initiate_on_a_restricted_wallet_but_may_approve() {
        let r = admit_on(5, Act::Submit, SAFE).unwrap_err();
        assert_eq!(r.code(), "admission.probationary");
        assert!(
            r.to_string().contains("production wallet `treasury`"),
            "{r}"
        );
        // Whether the approval counts is the quorum's business.
        assert_eq!(
            admit_on(5, Act::Approve, SAFE),
            Ok(OperatorId::from("newbie"))
        );
        // Not restricted: may initiate.
        assert_eq!(
            admit_on(5, Act::Submit, OTHER_SAFE),
            Ok(OperatorId::from("newbie"))
        );
    }

    #[test]
    fn only_the_initiator_cancels_unless_the_policy_names_a_role() {
        let p = policy();
        let alice = OperatorId::from("alice");
        let newbie = OperatorId::from("newbie");
        assert_eq!(may_cancel(&p, &alice, &alice), Ok(()));
        let r = may_cancel(&p, &newbie, &alice).unwrap_err();
        assert_eq!(r.code(), "admission.may_not_cancel");
        assert!(r.to_string().contains("only its initiator (alice)"), "{r}");

        // With `[cancellation] roles`, a holder of the role cancels others' proposals; the
        // holder of another role still may not.
        let mut src = policy_source();
        src = src.replace(
            "[[wallet]]\nname = \"treasury\"",
            "[cancellation]\nroles = [\"security\"]\n[[wallet]]\nname = \"treasury\"",
        );
        src = src.replace(
            "id = \"newbie\"\nname = \"newbie\"\nroles = [\"treasury\"]",
            "id = \"newbie\"\nname = \"newbie\"\nroles = [\"security\"]",
        );
        let p = Policy::compile(&src).unwrap();
        assert_eq!(may_cancel(&p, &newbie, &alice), Ok(()));
        let r = may_cancel(&p, &alice, &newbie).unwrap_err();
        assert!(r.to_string().contains("(security)"), "{r}");

        // A role nobody holds is a typo, refused at load.
        let typo = policy_source().replace(
            "[[wallet]]\nname = \"treasury\"",
            "[cancellation]\nroles = [\"securty\"]\n[[wallet]]\nname = \"treasury\"",
        );
        let e = Policy::compile(&typo).unwrap_err();
        assert!(e.to_string().contains("`securty`"), "{e}");
    }

    #[test]
    fn an_ungoverned_safe_is_left_to_the_evaluation() {
        assert_eq!(
            admit_on(4, Act::Submit, UNGOVERNED),
            Ok(OperatorId::from("outsider"))
        );
        assert_eq!(
            admit_on(5, Act::Submit, UNGOVERNED),
            Ok(OperatorId::from("newbie"))
        );
    }
}
