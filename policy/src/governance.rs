//! Policy changes are governed: a policy takes effect only with ed25519 signatures from the
//! configured number of distinct policy admins over a [`PolicyStatement`]: the policy's
//! version, the content hash of the policy it replaces, and its own content hash.
//!
//! Binding the version and the predecessor is what makes the applied policies a chain: a
//! signature for "version 2, replacing genesis" cannot be replayed after version 3 is in force
//! (its version is not above 3, and it names the wrong predecessor), so an old policy that
//! still had an offboarded operator cannot be brought back with its old signatures.
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

/// Domain tag of policy-admin signatures, distinct from approval messages. Version 2 signs a
/// [`PolicyStatement`]; version 1 signed the content hash alone ([`legacy_admin_message`]).
pub const POLICY_DOMAIN: &[u8] = b"signgate/policy/v2\0";

/// Domain tag of the signatures made before versions: over the content hash alone. Only read,
/// to migrate an applied policy stored before versioned signatures.
pub const LEGACY_POLICY_DOMAIN: &[u8] = b"signgate/policy/v1\0";

/// The version the configured (genesis) policy has: the first policy applied through
/// `Admin.ApplyPolicy` must be above it.
pub const GENESIS_VERSION: u64 = 1;

/// What admins sign: this policy, as version `version`, replacing exactly `replaces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyStatement {
    /// The version the policy takes effect as; must be above the version in force.
    pub version: u64,
    /// The content hash of the policy it replaces; must be the one in force.
    pub replaces: PolicyHash,
    /// The content hash of the policy itself.
    pub policy: PolicyHash,
}

/// One admin's signature over a [`PolicyStatement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSignature {
    /// The admin's ed25519 public key, as enrolled for them in the policy in force.
    pub public_key: FixedBytes<32>,
    /// The ed25519 signature over [`admin_message`] of the statement.
    pub signature: FixedBytes<64>,
}

/// The bytes an admin signs: the domain tag, the version (8 bytes, big-endian), the replaced
/// policy's content hash, then the policy's content hash. Fixed length, so no field can be
/// shifted into another.
pub fn admin_message(statement: &PolicyStatement) -> Vec<u8> {
    let mut m = Vec::with_capacity(POLICY_DOMAIN.len() + 8 + 64);
    m.extend_from_slice(POLICY_DOMAIN);
    m.extend_from_slice(&statement.version.to_be_bytes());
    m.extend_from_slice(statement.replaces.0.as_slice());
    m.extend_from_slice(statement.policy.0.as_slice());
    m
}

/// The bytes admins signed before versions (content hash alone). Accepted only to migrate a
/// stored policy the audit log recorded; never for a new application.
pub fn legacy_admin_message(hash: PolicyHash) -> Vec<u8> {
    let mut m = Vec::with_capacity(LEGACY_POLICY_DOMAIN.len() + 32);
    m.extend_from_slice(LEGACY_POLICY_DOMAIN);
    m.extend_from_slice(hash.0.as_slice());
    m
}

/// Signs `statement` with an admin key (what `signgate policy sign` does).
pub fn sign_policy(key: &SigningKey, statement: &PolicyStatement) -> AdminSignature {
    AdminSignature {
        public_key: FixedBytes(key.verifying_key().to_bytes()),
        signature: FixedBytes(key.sign(&admin_message(statement)).to_bytes()),
    }
}

/// Whether `signature` verifies over `message` with the key it names (nothing about who holds
/// the key).
pub fn verifies(signature: &AdminSignature, message: &[u8]) -> bool {
    VerifyingKey::from_bytes(&signature.public_key.0).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(&signature.signature.0))
            .is_ok()
    })
}

/// Why a signature was not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum RejectedSignature {
    /// Does not verify over this statement (signed another policy, version or predecessor, or
    /// forged).
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
                    "signature by {key} does not verify over this version, predecessor and content hash (signed another policy or an older succession?)"
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
    /// The version is not above the one in force: an old policy replayed, or a typo.
    #[error(
        "version {version} is not above version {in_force} in force; sign the policy as version {} or higher",
        in_force.saturating_add(1)
    )]
    VersionNotAbove {
        /// The version the signatures name.
        version: u64,
        /// The version in force.
        in_force: u64,
    },
    /// The statement names a predecessor other than the policy in force: signed for another
    /// point of the chain.
    #[error(
        "the signatures replace policy {named}, but policy {in_force} is in force; sign again naming it"
    )]
    WrongPredecessor {
        /// The predecessor the signatures name.
        named: PolicyHash,
        /// The content hash in force.
        in_force: PolicyHash,
    },
}

/// The policy in force and the version it took effect as: what a new policy is judged against.
#[derive(Debug, Clone, Copy)]
pub struct InForce<'a> {
    /// The policy in force; its admins and threshold decide.
    pub policy: &'a Policy,
    /// Its version ([`GENESIS_VERSION`] for the configured policy).
    pub version: u64,
}

/// The admins who validly signed, and the signatures that did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureTally {
    /// Admins whose signatures counted, each once, in signature order.
    pub signers: Vec<OperatorId>,
    /// Every signature that did not count, and why.
    pub rejected: Vec<RejectedSignature>,
}

/// Counts valid admin signatures over `statement` according to `authority` (the policy in
/// force).
pub fn tally_signatures(
    authority: &Policy,
    statement: &PolicyStatement,
    signatures: &[AdminSignature],
    now: Timestamp,
) -> SignatureTally {
    tally_message(authority, &admin_message(statement), signatures, now)
}

/// Counts valid admin signatures over `message` according to `authority`.
fn tally_message(
    authority: &Policy,
    message: &[u8],
    signatures: &[AdminSignature],
    now: Timestamp,
) -> SignatureTally {
    let mut signers: Vec<OperatorId> = Vec::new();
    let mut rejected = Vec::new();
    for s in signatures {
        let key = s.public_key;
        if !verifies(s, message) {
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

/// Compiles `source` and lets it take effect as `version`, replacing `replaces`, only if the
/// succession holds (version above the one in force, predecessor the one in force) and enough
/// admins of `current` signed that statement. With no policy in force (only `signgate policy
/// check` of a first policy) the new policy's own admins decide and nothing is compared.
pub fn activate(
    source: &str,
    version: u64,
    replaces: PolicyHash,
    signatures: &[AdminSignature],
    current: Option<InForce<'_>>,
    now: Timestamp,
) -> Result<Policy, ActivationError> {
    let policy = Policy::compile(source)?;
    if let Some(c) = current {
        if version <= c.version {
            return Err(ActivationError::VersionNotAbove {
                version,
                in_force: c.version,
            });
        }
        if replaces != c.policy.hash() {
            return Err(ActivationError::WrongPredecessor {
                named: replaces,
                in_force: c.policy.hash(),
            });
        }
    }
    let statement = PolicyStatement {
        version,
        replaces,
        policy: policy.hash(),
    };
    let authority = current.map_or(&policy, |c| c.policy);
    enough(
        authority,
        policy.hash(),
        &admin_message(&statement),
        signatures,
        now,
    )?;
    Ok(policy)
}

/// Whether enough admins of `authority` signed `message` (about the policy `hash`).
fn enough(
    authority: &Policy,
    hash: PolicyHash,
    message: &[u8],
    signatures: &[AdminSignature],
    now: Timestamp,
) -> Result<(), ActivationError> {
    let tally = tally_message(authority, message, signatures, now);
    let need = authority.governance().threshold;
    let have = u32::try_from(tally.signers.len()).unwrap_or(u32::MAX);
    if have < need {
        return Err(ActivationError::NotEnoughSignatures {
            hash,
            have,
            need,
            rejected: tally.rejected,
        });
    }
    Ok(())
}

/// Checks one link of the chain of applied policies: `statement` follows `previous` (version
/// above, predecessor its hash) and enough admins of `previous` signed it, judged at `now`
/// (the time of the application, so a key revoked since then does not break the history).
/// What the gateway runs at start over each `policy_applied` record, and what an offline
/// verifier of the audit export runs.
pub fn verify_link(
    previous: InForce<'_>,
    statement: &PolicyStatement,
    signatures: &[AdminSignature],
    now: Timestamp,
) -> Result<(), ActivationError> {
    if statement.version <= previous.version {
        return Err(ActivationError::VersionNotAbove {
            version: statement.version,
            in_force: previous.version,
        });
    }
    if statement.replaces != previous.policy.hash() {
        return Err(ActivationError::WrongPredecessor {
            named: statement.replaces,
            in_force: previous.policy.hash(),
        });
    }
    enough(
        previous.policy,
        statement.policy,
        &admin_message(statement),
        signatures,
        now,
    )
}
