//! Policy changes are governed: a policy takes effect only with ed25519 signatures over its
//! content hash from the configured number of distinct policy admins.
//!
//! The admins and threshold that count are those of the policy *in force*; only the very
//! first policy (nothing in force yet) is judged by its own admin list. So an insider who
//! writes themselves into a new policy's admin list gains nothing from it.

use alloy_primitives::FixedBytes;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{
    compile::{CompileError, Policy, PolicyHash},
    operators::{OperatorId, OperatorStatus},
    time::Timestamp,
};

/// Re-exported so callers (the CLI) sign without depending on the signature crate directly.
pub use ed25519_dalek::SigningKey;

/// An admin key from its 32-byte secret seed.
pub fn signing_key(seed: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(seed)
}

/// Domain tag of policy-admin signatures, distinct from approval messages.
pub const POLICY_DOMAIN: &[u8] = b"signgate/policy/v1\0";

/// One admin's signature over a policy's content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSignature {
    /// The admin's ed25519 public key, as enrolled for them in the policy in force.
    pub public_key: FixedBytes<32>,
    /// The ed25519 signature over [`admin_message`] of the content hash.
    pub signature: FixedBytes<64>,
}

/// The bytes an admin signs.
pub fn admin_message(hash: PolicyHash) -> Vec<u8> {
    let mut m = Vec::with_capacity(POLICY_DOMAIN.len() + 32);
    m.extend_from_slice(POLICY_DOMAIN);
    m.extend_from_slice(hash.0.as_slice());
    m
}

/// Signs `hash` with an admin key (what `signgate policy sign` does).
pub fn sign_policy(key: &SigningKey, hash: PolicyHash) -> AdminSignature {
    AdminSignature {
        public_key: FixedBytes(key.verifying_key().to_bytes()),
        signature: FixedBytes(key.sign(&admin_message(hash)).to_bytes()),
    }
}

/// Why a signature was not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum RejectedSignature {
    /// Does not verify over this content hash (signed another version, or forged).
    WrongHashOrForged {
        /// The signing key.
        key: FixedBytes<32>,
    },
    /// The key belongs to no admin of the policy in force (or to no operator at all).
    NotAnAdminKey {
        /// The signing key.
        key: FixedBytes<32>,
    },
    /// The admin holding the key is not active.
    AdminInactive {
        /// The admin.
        admin: OperatorId,
    },
    /// The key was revoked before the signature was checked.
    KeyRevoked {
        /// The signing key.
        key: FixedBytes<32>,
    },
    /// The admin already signed with another key; each admin counts once towards the threshold.
    DuplicateAdmin {
        /// The admin.
        admin: OperatorId,
    },
}

impl std::fmt::Display for RejectedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongHashOrForged { key } => {
                write!(
                    f,
                    "signature by {key} does not verify over this content hash (signed another version?)"
                )
            }
            Self::NotAnAdminKey { key } => write!(f, "{key} is not a key of a policy admin"),
            Self::AdminInactive { admin } => write!(f, "admin `{admin}` is not active"),
            Self::KeyRevoked { key } => write!(f, "key {key} is revoked"),
            Self::DuplicateAdmin { admin } => {
                write!(f, "admin `{admin}` already signed; each admin counts once")
            }
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// The new policy does not compile.
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(
        "policy {hash} has {have} valid admin signature(s), {need} required{}",
        rejected.iter().map(|r| format!("; {r}")).collect::<String>()
    )]
    /// Fewer admins of the policy in force (for the first policy: of the new one) validly signed
    /// than its governance threshold.
    NotEnoughSignatures {
        /// Content hash of the refused policy.
        hash: PolicyHash,
        /// Distinct admins whose signatures counted.
        have: u32,
        /// The governance threshold.
        need: u32,
        /// Every signature that did not count, and why.
        rejected: Vec<RejectedSignature>,
    },
}

/// The admins who validly signed, and the signatures that did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureTally {
    /// Admins whose signatures counted, each once, in signature order.
    pub signers: Vec<OperatorId>,
    /// Every signature that did not count, and why.
    pub rejected: Vec<RejectedSignature>,
}

/// Counts valid admin signatures over `hash` according to `authority` (the policy in force).
pub fn tally_signatures(
    authority: &Policy,
    hash: PolicyHash,
    signatures: &[AdminSignature],
    now: Timestamp,
) -> SignatureTally {
    let message = admin_message(hash);
    let mut signers: Vec<OperatorId> = Vec::new();
    let mut rejected = Vec::new();
    for s in signatures {
        let key = s.public_key;
        let verifies = VerifyingKey::from_bytes(&key.0).is_ok_and(|k| {
            k.verify_strict(&message, &Signature::from_bytes(&s.signature.0))
                .is_ok()
        });
        if !verifies {
            rejected.push(RejectedSignature::WrongHashOrForged { key });
            continue;
        }
        let holder = authority
            .key_holder(&key)
            .filter(|(o, _)| authority.governance().admins.contains(&o.id));
        let Some((admin, k)) = holder else {
            rejected.push(RejectedSignature::NotAnAdminKey { key });
            continue;
        };
        if admin.status != OperatorStatus::Active {
            rejected.push(RejectedSignature::AdminInactive {
                admin: admin.id.clone(),
            });
        } else if k.is_revoked(now) {
            rejected.push(RejectedSignature::KeyRevoked { key });
        } else if signers.contains(&admin.id) {
            rejected.push(RejectedSignature::DuplicateAdmin {
                admin: admin.id.clone(),
            });
        } else {
            signers.push(admin.id.clone());
        }
    }
    SignatureTally { signers, rejected }
}

/// Compiles `source` and lets it take effect only if enough admins of `current` (or, for the
/// first policy, of the new one) signed its content hash.
pub fn activate(
    source: &str,
    signatures: &[AdminSignature],
    current: Option<&Policy>,
    now: Timestamp,
) -> Result<Policy, ActivationError> {
    let policy = Policy::compile(source)?;
    let authority = current.unwrap_or(&policy);
    let tally = tally_signatures(authority, policy.hash(), signatures, now);
    let need = authority.governance().threshold;
    let have = u32::try_from(tally.signers.len()).unwrap_or(u32::MAX);
    if have < need {
        return Err(ActivationError::NotEnoughSignatures {
            hash: policy.hash(),
            have,
            need,
            rejected: tally.rejected,
        });
    }
    Ok(policy)
}
