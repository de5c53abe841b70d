//! The policy file exactly as written: TOML with `deny_unknown_fields` everywhere.
//!
//! Nothing here is trusted or checked beyond its shape; [`crate::compile`] turns a
//! [`RawPolicy`] into a typed [`crate::Policy`] once, at load, so that evaluation never
//! re-validates. A misspelt key is a load error, not a silently ignored rule.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, FixedBytes};
use serde::{Deserialize, Serialize};

use crate::{amount::HumanAmount, time::Timestamp};

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// A name shown in summaries and reasons.
    pub name: String,
    /// Who may change this policy and how many of them must sign.
    pub governance: RawGovernance,
    #[serde(default)]
    pub probation: RawProbation,
    #[serde(default)]
    pub permission_changes: RawPermissionChanges,
    #[serde(default)]
    pub address_book_settings: RawAddressBookSettings,
    #[serde(default)]
    pub delegatecall: RawDelegatecall,
    #[serde(default, rename = "wallet")]
    pub wallets: Vec<RawWallet>,
    #[serde(default, rename = "operator")]
    pub operators: Vec<RawOperator>,
    #[serde(default)]
    pub address_book: Vec<RawAddressBookEntry>,
    #[serde(default, rename = "tier")]
    pub tiers: Vec<RawTier>,
    #[serde(default)]
    pub velocity: Vec<RawVelocity>,
    #[serde(default)]
    pub declared_upgrades: Vec<RawDeclaredUpgrade>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGovernance {
    /// Operator ids of the policy admins.
    pub admins: Vec<String>,
    /// How many distinct admins must sign a new policy's content hash.
    pub threshold: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbation {
    #[serde(default = "default_probation_days")]
    pub days: u64,
    /// Wallet tags on which probationary operators may neither initiate nor approve.
    #[serde(default = "default_restricted_tags")]
    pub restricted_wallet_tags: Vec<String>,
    /// At most this many probationary approvers count on one proposal.
    #[serde(default = "one")]
    pub max_probationary_approvers: u32,
    /// Whether a key enrolled less than `days` ago makes its holder probationary.
    #[serde(default = "yes")]
    pub new_keys_probationary: bool,
}

impl Default for RawProbation {
    fn default() -> Self {
        Self {
            days: default_probation_days(),
            restricted_wallet_tags: default_restricted_tags(),
            max_probationary_approvers: 1,
            new_keys_probationary: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPermissionChanges {
    /// The role every tier covering permission changes must require at least once.
    #[serde(default = "default_security_role")]
    pub required_role: String,
}

impl Default for RawPermissionChanges {
    fn default() -> Self {
        Self {
            required_role: default_security_role(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddressBookSettings {
    #[serde(default = "default_cooling_off_hours")]
    pub cooling_off_hours: u64,
}

impl Default for RawAddressBookSettings {
    fn default() -> Self {
        Self {
            cooling_off_hours: default_cooling_off_hours(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelegatecall {
    /// Include the canonical MultiSendCallOnly, SignMessageLib, CreateCall and SafeMigration.
    #[serde(default = "yes")]
    pub canonical_defaults: bool,
    #[serde(default)]
    pub allow: Vec<RawDelegateTarget>,
}

impl Default for RawDelegatecall {
    fn default() -> Self {
        Self {
            canonical_defaults: true,
            allow: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelegateTarget {
    pub label: String,
    pub address: Address,
    pub code_hash: B256,
    /// A pure batching library whose inner calls are classified on their own.
    #[serde(default)]
    pub batch: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWallet {
    pub name: String,
    pub chain_id: u64,
    pub safe: Address,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Symbol → asset. The symbol is what tiers and velocity limits name.
    #[serde(default)]
    pub assets: BTreeMap<String, RawAsset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsset {
    /// The token contract; absent for the chain's native coin.
    #[serde(default)]
    pub token: Option<Address>,
    pub decimals: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    pub started_at: Timestamp,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub owner_addresses: Vec<Address>,
    /// Wallet names, or `["*"]` for all.
    pub wallets: Vec<String>,
    #[serde(default)]
    pub keys: Vec<RawKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub public_key: FixedBytes<32>,
    pub enrolled_at: Timestamp,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddressBookEntry {
    pub address: Address,
    pub label: String,
    pub added_by: String,
    pub added_at: Timestamp,
    /// Wallet names this destination is known for; empty means every wallet.
    #[serde(default)]
    pub wallets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub name: String,
    /// The wallet must carry every one of these tags; empty matches every wallet.
    #[serde(default)]
    pub wallet_tags: Vec<String>,
    /// transfer, contract_call, permission_change, delegatecall, module_transaction.
    pub actions: Vec<String>,
    /// Asset symbols; absent matches every asset.
    #[serde(default)]
    pub assets: Option<Vec<String>>,
    #[serde(default)]
    pub min_amount: Option<HumanAmount>,
    #[serde(default)]
    pub max_amount: Option<HumanAmount>,
    /// address_book, new, unknown; empty matches every status.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Role → number of distinct approvers with that role.
    pub approvals: BTreeMap<String, u32>,
    #[serde(default)]
    pub time_lock_hours: u64,
    #[serde(default = "default_expiry_hours")]
    pub approval_expiry_hours: u64,
    /// Above this amount, probationary approvals do not count on this tier.
    #[serde(default)]
    pub probationary_limit: Option<HumanAmount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVelocity {
    pub wallet: String,
    pub asset: String,
    pub window_hours: u64,
    pub limit: HumanAmount,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeclaredUpgrade {
    /// The proxy (a Safe or another administered proxy) being upgraded.
    pub proxy: Address,
    pub implementation: Address,
    pub code_hash: B256,
    pub reason: String,
}

const fn default_probation_days() -> u64 {
    90
}
fn default_restricted_tags() -> Vec<String> {
    vec!["production".to_owned()]
}
fn default_security_role() -> String {
    "security".to_owned()
}
const fn default_cooling_off_hours() -> u64 {
    72
}
const fn default_expiry_hours() -> u64 {
    72
}
fn default_status() -> String {
    "active".to_owned()
}
const fn one() -> u32 {
    1
}
const fn yes() -> bool {
    true
}
