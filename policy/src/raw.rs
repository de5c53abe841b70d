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
    /// `[probation]`: how long new hires and new keys are probationary and what that bars them
    /// from. Absent: 90 days, `production` wallets restricted, one probationary approver.
    #[serde(default)]
    pub probation: RawProbation,
    /// `[permission_changes]`: the role that must approve any change to a Safe's owners,
    /// threshold, modules or guards. Absent: `security`.
    #[serde(default)]
    pub permission_changes: RawPermissionChanges,
    /// `[cancellation]`: who besides a proposal's initiator may withdraw it.
    #[serde(default)]
    pub cancellation: RawCancellation,
    /// `[address_book_settings]`: how long a new address-book entry waits before it counts as
    /// known. Absent: 72 hours.
    #[serde(default)]
    pub address_book_settings: RawAddressBookSettings,
    /// `[delegatecall]`: which libraries a Safe may DELEGATECALL. Absent: the canonical Safe
    /// libraries only.
    #[serde(default)]
    pub delegatecall: RawDelegatecall,
    /// `[[wallet]]`: the Safes this policy governs. A Safe not listed is denied outright.
    #[serde(default, rename = "wallet")]
    pub wallets: Vec<RawWallet>,
    /// `[[operator]]`: the people who initiate and approve, with their roles and keys.
    #[serde(default, rename = "operator")]
    pub operators: Vec<RawOperator>,
    /// `[[address_book]]`: destinations someone vouched for; tiers can treat them as known.
    #[serde(default)]
    pub address_book: Vec<RawAddressBookEntry>,
    /// `[[tier]]`: which approvals each kind of action needs. Every matching tier applies; an
    /// action no tier matches is denied.
    #[serde(default, rename = "tier")]
    pub tiers: Vec<RawTier>,
    /// `[[velocity]]`: rolling-window caps on what a wallet may send of one asset.
    #[serde(default)]
    pub velocity: Vec<RawVelocity>,
    /// `[[refund_cap]]`: the gas refunds a wallet may pay, per asset. A SafeTx with a non-zero
    /// `gasPrice` pays one; without a cap for its wallet and asset it is denied.
    #[serde(default, rename = "refund_cap")]
    pub refund_caps: Vec<RawRefundCap>,
    /// `[[declared_upgrades]]`: implementation changes the admins approved in advance, pinned to
    /// address and code hash; any other upgrade is denied.
    #[serde(default)]
    pub declared_upgrades: Vec<RawDeclaredUpgrade>,
    /// `[anomaly]`: alerts on anomalous operator behaviour and what they do to a decision.
    /// Absent: no rule runs (declared working hours are still checked for shape).
    #[serde(default)]
    pub anomaly: Option<RawAnomaly>,
}

/// `[governance]`: who may change the policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGovernance {
    /// Operator ids of the policy admins.
    pub admins: Vec<String>,
    /// How many distinct admins must sign a new policy's content hash.
    pub threshold: u32,
}

/// `[probation]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbation {
    /// `days`: how long, in days, an operator is probationary after `started_at`, and (with
    /// `new_keys_probationary`) how long a newly enrolled key keeps its holder probationary.
    /// Default 90.
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

/// `[cancellation]`. A cancel is an operator's signed statement: the proposal's initiator may
/// always withdraw their own proposal; operators holding one of `roles` may withdraw any open
/// proposal of a wallet they are assigned to (a security team stopping a suspicious one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCancellation {
    /// Roles whose holders may cancel proposals they did not initiate. Default: none.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[permission_changes]`.
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

/// `[address_book_settings]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddressBookSettings {
    /// `cooling_off_hours`: hours after an entry's `added_at` before its destination counts as
    /// `address_book` rather than `new` for tiers. Default 72.
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

/// `[delegatecall]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelegatecall {
    /// Include the canonical MultiSendCallOnly, SignMessageLib, CreateCall and SafeMigration.
    #[serde(default = "yes")]
    pub canonical_defaults: bool,
    /// `[[delegatecall.allow]]`: further libraries a Safe may DELEGATECALL, each pinned to its
    /// code.
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

/// One `[[delegatecall.allow]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelegateTarget {
    /// `label`: a name for the library, shown in reasons and summaries.
    pub label: String,
    /// `address`: the library's address.
    pub address: Address,
    /// `code_hash`: the `keccak256` of its runtime code. A DELEGATECALL is allowed only if both
    /// address and code hash match, so code redeployed or changed at the address is refused.
    pub code_hash: B256,
    /// A pure batching library whose inner calls are classified on their own.
    #[serde(default)]
    pub batch: bool,
}

/// One `[[wallet]]`: a Safe the policy governs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWallet {
    /// `name`: how tiers, operators and velocity limits refer to this wallet; unique in the file.
    pub name: String,
    /// `chain_id`: the EIP-155 chain id the Safe is on.
    pub chain_id: u64,
    /// `safe`: the Safe's address; one wallet per Safe and chain.
    pub safe: Address,
    /// `tags`: free words (e.g. `production`, `hot`) that tiers select wallets by and that
    /// `probation.restricted_wallet_tags` names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Symbol → asset. The symbol is what tiers and velocity limits name.
    #[serde(default)]
    pub assets: BTreeMap<String, RawAsset>,
}

/// One asset under `[wallet.assets]`, keyed by its symbol.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsset {
    /// The token contract; absent for the chain's native coin.
    #[serde(default)]
    pub token: Option<Address>,
    /// `decimals`: the token's decimals; converts the human amounts the file writes (tiers,
    /// velocity limits) into base units. A wrong value scales every limit on this asset by a
    /// power of ten. At most 77.
    pub decimals: u8,
}

/// One `[[operator]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    /// `id`: stable identifier; what admins, address-book entries and approvals name. Unique.
    pub id: String,
    /// `name`: the person's name, shown in summaries and reasons.
    pub name: String,
    /// `roles`: role names (e.g. `treasury`, `security`) that tiers require approvals from.
    /// At least one.
    pub roles: Vec<String>,
    /// `teams`: team names, for the record only; no rule reads them.
    #[serde(default)]
    pub teams: Vec<String>,
    /// `started_at`: the operator's start date; they are probationary for `probation.days`
    /// after it.
    pub started_at: Timestamp,
    /// `status`: `active`, `suspended` or `offboarded`. Only active operators initiate or approve.
    /// Default `active`.
    #[serde(default = "default_status")]
    pub status: String,
    /// `owner_addresses`: the Safe owner addresses this operator controls, for the record only;
    /// no rule reads them.
    #[serde(default)]
    pub owner_addresses: Vec<Address>,
    /// Wallet names, or `["*"]` for all.
    pub wallets: Vec<String>,
    /// `[[operator.keys]]`: the operator's ed25519 approval keys.
    #[serde(default)]
    pub keys: Vec<RawKey>,
    /// `working_hours`: when the operator works, in their time zone; calls outside it raise
    /// `anomaly.off_hours` when `[anomaly]` is present. Absent: only the hours seen in the
    /// operator's history count.
    #[serde(default)]
    pub working_hours: Option<RawWorkingHours>,
}

/// `working_hours = { zone = "Europe/Berlin", days = ["mon", "tue"], from = "08:00", to =
/// "19:00" }` on an operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkingHours {
    /// `zone`: an IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub zone: String,
    /// `days`: working days, three-letter English names (`mon` … `sun`); at least one.
    pub days: Vec<String>,
    /// `from`: start of the working day, local `HH:MM`.
    pub from: String,
    /// `to`: end of the working day, local `HH:MM` (`24:00` for midnight), after `from`.
    pub to: String,
}

/// `[anomaly]`: the anomaly rules. Each rule's table is optional; present or not, a rule runs
/// with its defaults unless it says `enabled = false`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomaly {
    /// `window_days`: how far back an operator's profile remembers. Default 30, at most 366.
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    /// `min_history_days`: active days a profile needs before the learned rules (learned hours,
    /// new device, new network, new wallet, reconnaissance) judge by it. Default 14; at most
    /// `window_days`.
    #[serde(default = "default_min_history_days")]
    pub min_history_days: u32,
    /// `[anomaly.off_hours]`.
    #[serde(default)]
    pub off_hours: RawOffHours,
    /// `[anomaly.new_device]`: a client certificate not seen in the window.
    #[serde(default)]
    pub new_device: RawRule,
    /// `[anomaly.new_network]`: a /24 or /48 not seen in the window.
    #[serde(default)]
    pub new_network: RawRule,
    /// `[anomaly.out_of_scope_wallet]`: a wallet the operator has not acted on in the window.
    #[serde(default)]
    pub out_of_scope_wallet: RawRule,
    /// `[anomaly.gateway_identity_admin]`: a gateway (service) client calling the Admin API.
    #[serde(default)]
    pub gateway_identity_admin: RawRule,
    /// `[anomaly.cloned_authenticator]`: a security-key approval refused because its signature
    /// counter did not increase (a cloned key, or a replayed assertion).
    #[serde(default)]
    pub cloned_authenticator: RawRule,
    /// `[anomaly.probationary_restricted]`: a probationary operator acting on a restricted
    /// wallet.
    #[serde(default)]
    pub probationary_restricted: RawRule,
    /// `[anomaly.reconnaissance]`.
    #[serde(default)]
    pub reconnaissance: RawReconnaissance,
    /// `[anomaly.approval_burst]`.
    #[serde(default)]
    pub approval_burst: RawApprovalBurst,
    /// `[anomaly.rubber_stamp]`.
    #[serde(default)]
    pub rubber_stamp: RawRubberStamp,
    /// `[anomaly.repeated_refusals]`.
    #[serde(default)]
    pub repeated_refusals: RawRepeatedRefusals,
}

/// What a rule's alert does to the decision: `"alert"`, `"not_counted"`, `{ extra_approval =
/// { role = "security" } }` or `{ hold = { hours = 24 } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawAction {
    /// Record and notify only (the default).
    #[default]
    Alert,
    /// The proposal needs one more approval from `role`.
    ExtraApproval {
        /// A role some operator holds.
        role: String,
    },
    /// The proposal waits `hours` more before release.
    Hold {
        /// More than 0.
        hours: u64,
    },
    /// The anomalous approval does not count.
    NotCounted,
}

/// A rule with no threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
}

impl Default for RawRule {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
        }
    }
}

/// `[anomaly.off_hours]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOffHours {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
    /// `learned`: also alert outside the hours of the week seen in the profile (once it has
    /// `min_history_days`). Default true.
    #[serde(default = "yes")]
    pub learned: bool,
    /// `grace_minutes`: a call this close to the declared span still counts as in hours —
    /// people start early and finish late; the rule is after the 3 a.m. call. Default 60; at
    /// most 720.
    #[serde(default = "default_grace_minutes")]
    pub grace_minutes: u32,
}

impl Default for RawOffHours {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
            learned: true,
            grace_minutes: default_grace_minutes(),
        }
    }
}

/// `[anomaly.reconnaissance]`: reads in one UTC day above `max(factor × median, floor)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReconnaissance {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
    /// `factor`: multiple of the median daily reads. Default 5; more than 0.
    #[serde(default = "default_recon_factor")]
    pub factor: u32,
    /// `floor`: reads a day that never alert, whatever the median. Default 200; more than 0.
    #[serde(default = "default_recon_floor")]
    pub floor: u32,
}

impl Default for RawReconnaissance {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
            factor: default_recon_factor(),
            floor: default_recon_floor(),
        }
    }
}

/// `[anomaly.approval_burst]`: more than `max_approvals` approvals within `minutes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprovalBurst {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
    /// `max_approvals`: default 5; 1 to 1000.
    #[serde(default = "default_burst_max")]
    pub max_approvals: u32,
    /// `minutes`: default 10; 1 to 1440.
    #[serde(default = "default_burst_minutes")]
    pub minutes: u32,
}

impl Default for RawApprovalBurst {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
            max_approvals: default_burst_max(),
            minutes: default_burst_minutes(),
        }
    }
}

/// `[anomaly.rubber_stamp]`: an approval of a large transfer within `seconds` of its
/// submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRubberStamp {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
    /// `seconds`: default 60; more than 0.
    #[serde(default = "default_rubber_stamp_seconds")]
    pub seconds: u32,
}

impl Default for RawRubberStamp {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
            seconds: default_rubber_stamp_seconds(),
        }
    }
}

/// `[anomaly.repeated_refusals]`: `count` refusals of the listed `kinds` within `minutes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepeatedRefusals {
    /// `enabled`: default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `action`: default `"alert"`.
    #[serde(default)]
    pub action: RawAction,
    /// `count`: default 3; 1 to 1000.
    #[serde(default = "default_refusal_count")]
    pub count: u32,
    /// `minutes`: default 15; 1 to 1440.
    #[serde(default = "default_refusal_minutes")]
    pub minutes: u32,
    /// `kinds`: forged_signature, stale_signature, unknown_key, permission_denied,
    /// wrong_hash_approval, denied_sanctions, denied_delegatecall, other. Default: the forged,
    /// stale, wrong-hash, sanctions and delegatecall ones.
    #[serde(default = "default_refusal_kinds")]
    pub kinds: Vec<String>,
}

impl Default for RawRepeatedRefusals {
    fn default() -> Self {
        Self {
            enabled: true,
            action: RawAction::Alert,
            count: default_refusal_count(),
            minutes: default_refusal_minutes(),
            kinds: default_refusal_kinds(),
        }
    }
}

/// One `[[operator.keys]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// `public_key`: the ed25519 public key, 32 bytes in hex. Enrolled at most once in the file.
    /// Exactly one of `public_key` and `webauthn` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<FixedBytes<32>>,
    /// `webauthn = { id, public_key, rp_id }`: a security key or passkey enrolled through the
    /// console (credential id and COSE public key in unpadded base64url, the relying party id
    /// it is scoped to); it approves only from the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<signgate_webauthn::Credential>,
    /// `enrolled_at`: when the key was enrolled; with `probation.new_keys_probationary`, its holder
    /// is probationary for `probation.days` after it.
    pub enrolled_at: Timestamp,
    /// `revoked_at`: from this instant on, approvals signed with the key no longer count.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// One `[[address_book]]` entry: a destination someone vouched for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddressBookEntry {
    /// `address`: the destination.
    pub address: Address,
    /// `label`: a name for it, shown in summaries.
    pub label: String,
    /// `added_by`: the id of the operator who vouched for it.
    pub added_by: String,
    /// `added_at`: when it was added; the cooling-off period runs from here.
    pub added_at: Timestamp,
    /// Wallet names this destination is known for; empty means every wallet.
    #[serde(default)]
    pub wallets: Vec<String>,
}

/// One `[[tier]]`: a set of actions and the approvals they need.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    /// `name`: shown in decisions and reasons.
    pub name: String,
    /// The wallet must carry every one of these tags; empty matches every wallet.
    #[serde(default)]
    pub wallet_tags: Vec<String>,
    /// transfer, contract_call, permission_change, delegatecall, module_transaction.
    pub actions: Vec<String>,
    /// Asset symbols; absent matches every asset.
    #[serde(default)]
    pub assets: Option<Vec<String>>,
    /// `min_amount`: the tier matches only amounts at or above this, in human units of the asset
    /// (a string: `"1.5"` for 1.5 tokens), not base units. Absent: no lower bound.
    #[serde(default)]
    pub min_amount: Option<HumanAmount>,
    /// `max_amount`: the tier matches only amounts at or below this, in human units of the asset.
    /// Absent: no upper bound.
    #[serde(default)]
    pub max_amount: Option<HumanAmount>,
    /// address_book, new, unknown; empty matches every status.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Role → number of distinct approvers with that role.
    pub approvals: BTreeMap<String, u32>,
    /// `time_lock_hours`: hours to wait after the last needed approval before the transaction is
    /// released for signing. Default 0.
    #[serde(default)]
    pub time_lock_hours: u64,
    /// `approval_expiry_hours`: an approval counts for this many hours after the gateway received
    /// it; must be more than 0. Default 72.
    #[serde(default = "default_expiry_hours")]
    pub approval_expiry_hours: u64,
    /// Above this amount, probationary approvals do not count on this tier.
    #[serde(default)]
    pub probationary_limit: Option<HumanAmount>,
}

/// One `[[velocity]]` limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVelocity {
    /// `wallet`: the wallet's name.
    pub wallet: String,
    /// `asset`: the asset's symbol, as the wallet declares it.
    pub asset: String,
    /// `window_hours`: length of the rolling window, in hours; more than 0.
    pub window_hours: u64,
    /// `limit`: the most the wallet may send of the asset in any window, in human units.
    pub limit: HumanAmount,
}

/// One `[[refund_cap]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefundCap {
    /// `wallet`: the wallet's name.
    pub wallet: String,
    /// `asset`: the symbol of the gas token (or the native coin), as the wallet declares it.
    pub asset: String,
    /// `max`: the most one transaction's refund may pay, at its worst case, in human units.
    pub max: HumanAmount,
}

/// One `[[declared_upgrades]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeclaredUpgrade {
    /// The proxy (a Safe or another administered proxy) being upgraded.
    pub proxy: Address,
    /// `implementation`: the only implementation the proxy may be changed to.
    pub implementation: Address,
    /// `code_hash`: the `keccak256` of the implementation's runtime code; it must match as well.
    pub code_hash: B256,
    /// `reason`: why the upgrade is declared, for whoever reviews the policy.
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
const fn default_window_days() -> u32 {
    30
}
const fn default_min_history_days() -> u32 {
    14
}
const fn default_grace_minutes() -> u32 {
    60
}
const fn default_recon_factor() -> u32 {
    5
}
const fn default_recon_floor() -> u32 {
    200
}
const fn default_burst_max() -> u32 {
    5
}
const fn default_burst_minutes() -> u32 {
    10
}
const fn default_rubber_stamp_seconds() -> u32 {
    60
}
const fn default_refusal_count() -> u32 {
    3
}
const fn default_refusal_minutes() -> u32 {
    15
}
fn default_refusal_kinds() -> Vec<String> {
    [
        "forged_signature",
        "stale_signature",
        "wrong_hash_approval",
        "denied_sanctions",
        "denied_delegatecall",
    ]
    .map(str::to_owned)
    .to_vec()
}
const fn one() -> u32 {
    1
}
const fn yes() -> bool {
    true
}
