//! The people who initiate and approve: roles, teams, onboarding date, status and keys.
//!
//! Probation lives here because it is a property of an operator (or of one of their keys) at
//! an instant: a new hire is probationary for `probation_days` after `started_at`, and any key
//! enrolled within the last `probation_days` makes even a senior operator probationary — a
//! freshly enrolled key is how a stolen credential would show up.

use std::fmt;

use alloy_primitives::{Address, FixedBytes};
use serde::{Deserialize, Serialize};

use crate::time::{DAY, Timestamp};

/// An operator's stable identifier as the policy file writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperatorId(pub String);

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for OperatorId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A role name (treasury, security, admin …). Roles are data of the policy file; the rules
/// that care about one (permission changes) name it in the file too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Role(pub String);

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Employment status. Only `Active` operators count for anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStatus {
    /// May initiate and approve.
    Active,
    /// Temporarily barred: initiates nothing and their approvals do not count.
    Suspended,
    /// Left the organisation: initiates nothing and their approvals do not count.
    Offboarded,
}

impl fmt::Display for OperatorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Offboarded => "offboarded",
        })
    }
}

/// An approval key (ed25519, or a WebAuthn credential) and its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKey {
    /// The ed25519 public key approvals are verified against; for a WebAuthn credential, its
    /// key id ([`Credential::key_id`](signgate_webauthn::Credential::key_id)), which names it
    /// wherever an ed25519 key would be named (approvals, duplicates, probation, alerts).
    pub public_key: FixedBytes<32>,
    /// The WebAuthn credential, when the key is a security key or passkey rather than ed25519.
    pub webauthn: Option<signgate_webauthn::Credential>,
    /// When the key was enrolled; a key enrolled within the probation period can make its holder
    /// probationary.
    pub enrolled_at: Timestamp,
    /// When the key was revoked, if it was; approvals it signs count only before this instant.
    pub revoked_at: Option<Timestamp>,
}

impl OperatorKey {
    /// Whether the key was revoked at or before `now`.
    pub fn is_revoked(&self, now: Timestamp) -> bool {
        self.revoked_at.is_some_and(|r| r <= now)
    }
}

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Stable identifier, as the policy file writes it.
    pub id: OperatorId,
    /// The person's name, for summaries and reasons.
    pub name: String,
    /// Roles the operator's approvals count towards.
    pub roles: Vec<Role>,
    /// Team names, for the record and the admin views; no rule reads them.
    pub teams: Vec<String>,
    /// Start date; the operator is probationary for the probation period after it.
    pub started_at: Timestamp,
    /// Employment status; only active operators initiate or approve.
    pub status: OperatorStatus,
    /// Enrolled approval keys, revoked ones included (with their revocation instant).
    pub keys: Vec<OperatorKey>,
    /// Safe owner addresses the operator controls, for the record; no rule reads them.
    pub owner_addresses: Vec<Address>,
    /// Wallet names; `None` means every wallet.
    pub wallets: Option<Vec<String>>,
}

/// Why, and until when, an operator is probationary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Probation {
    /// Started less than the probation period ago.
    NewHire {
        /// The operator's start date.
        started_at: Timestamp,
        /// When the probation ends: `started_at` plus the probation period.
        until: Timestamp,
    },
    /// Signed with a key enrolled less than the probation period ago.
    NewKey {
        /// When the signing key was enrolled.
        enrolled_at: Timestamp,
        /// When the probation ends: `enrolled_at` plus the probation period.
        until: Timestamp,
    },
}

impl Probation {
    /// The instant the probation ends.
    pub const fn until(&self) -> Timestamp {
        match self {
            Self::NewHire { until, .. } | Self::NewKey { until, .. } => *until,
        }
    }
}

impl fmt::Display for Probation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewHire { started_at, until } => {
                write!(
                    f,
                    "probationary new hire (started {started_at}, probation ends {until})"
                )
            }
            Self::NewKey { enrolled_at, until } => write!(
                f,
                "signed with a key enrolled {enrolled_at}, probationary until {until}"
            ),
        }
    }
}

impl Operator {
    /// Whether the operator holds `role`.
    pub fn has_role(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }

    /// Whether the operator may act on the wallet named `wallet`.
    pub fn may_act_on(&self, wallet: &str) -> bool {
        self.wallets
            .as_ref()
            .is_none_or(|ws| ws.iter().any(|w| w == wallet))
    }

    /// The key with these public bytes.
    pub fn key(&self, public_key: &FixedBytes<32>) -> Option<&OperatorKey> {
        self.keys.iter().find(|k| &k.public_key == public_key)
    }

    /// The operator's probation at `now`, considering the key used (if any). New-hire
    /// probation is reported first because it lasts at least as long for the same start.
    pub fn probation(
        &self,
        now: Timestamp,
        days: u64,
        key: Option<&OperatorKey>,
        new_keys_probationary: bool,
    ) -> Option<Probation> {
        let span = days.saturating_mul(DAY);
        let until = self.started_at.plus(span);
        if now < until {
            return Some(Probation::NewHire {
                started_at: self.started_at,
                until,
            });
        }
        let key = key.filter(|_| new_keys_probationary)?;
        let until = key.enrolled_at.plus(span);
        (now < until).then_some(Probation::NewKey {
            enrolled_at: key.enrolled_at,
            until,
        })
    }
}
