//! `RawPolicy` → typed [`Policy`], once, at load.
//!
//! Every cross-reference (operator ids, wallet names, asset symbols, roles) is resolved and
//! checked here, so evaluation never meets a dangling name. A policy that does not compile
//! is refused whole: there is no partially loaded policy.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, B256, FixedBytes, keccak256};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use signgate_simulator::deployments;

use crate::{
    amount::{AmountOverflow, HumanAmount, MAX_DECIMALS},
    anomaly::{Settings as AnomalySettings, WorkingHours},
    operators::{Operator, OperatorId, OperatorKey, OperatorStatus, Role},
    raw::{RawPolicy, RawTier},
    tiers::{ActionClass, DestinationStatus, Tier},
    time::{HOUR, Timestamp},
    wallets::{Asset, AssetSpec, Wallet},
};

/// A policy's identity: `keccak256` of the exact bytes of its file. Admins sign this; every
/// decision names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicyHash(pub B256);

impl PolicyHash {
    /// The content hash of a policy source.
    pub fn of(source: &str) -> Self {
        Self(keccak256(source.as_bytes()))
    }
}

impl std::fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A destination a person vouched for, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBookEntry {
    /// The destination address.
    pub address: Address,
    /// A human name for it, shown in summaries.
    pub label: String,
    /// The operator who vouched for it (an operator of this policy).
    pub added_by: OperatorId,
    /// When it was added; it counts as known only once the policy's cooling-off period has passed
    /// since then, so a freshly added address cannot be paid out at once.
    pub added_at: Timestamp,
    /// Wallet names; `None` means every wallet.
    pub wallets: Option<Vec<String>>,
}

/// A DELEGATECALL target the policy trusts: address and code hash must both match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateTarget {
    /// A human name for it, shown in reasons and summaries.
    pub label: String,
    /// The library's address.
    pub address: Address,
    /// The `keccak256` of its runtime code; a DELEGATECALL matches only if this matches too, so
    /// different code at the same address is not trusted.
    pub code_hash: B256,
    /// A pure batching library (MultiSendCallOnly): inner calls are classified on their own,
    /// the batch itself is not a `delegatecall` facet.
    pub batch: bool,
}

/// A rolling-window cap on what one wallet may send of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityLimit {
    /// Wallet name in the policy.
    pub wallet: String,
    /// The asset capped, with its decimals.
    pub asset: AssetSpec,
    /// Length of the rolling window, in seconds (the file writes hours).
    pub window: u64,
    /// The most the wallet may send of the asset within the window, in human units; compared in
    /// base units through the asset's decimals.
    pub limit: HumanAmount,
}

/// The most one transaction's gas refund may pay from one wallet in one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCap {
    /// Wallet name in the policy.
    pub wallet: String,
    /// The refund's asset, with its decimals.
    pub asset: AssetSpec,
    /// The cap, in human units; the refund's worst case is compared in base units.
    pub max: HumanAmount,
}

/// An implementation change the admins declared in advance, pinned to the exact code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredUpgrade {
    /// The proxy (a Safe or another administered proxy) being upgraded.
    pub proxy: Address,
    /// The only implementation it may be changed to.
    pub implementation: Address,
    /// The `keccak256` of that implementation's runtime code; address and hash must both match.
    pub code_hash: B256,
    /// Why the upgrade was declared, for reviewers of the policy.
    pub reason: String,
}

/// What probation means in this policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbationRules {
    /// Length of the probation period, in days, both after an operator's start date and after a
    /// key's enrolment.
    pub days: u64,
    /// Wallet tags on which probationary operators may neither initiate nor approve.
    pub restricted_wallet_tags: Vec<String>,
    /// At most this many probationary approvals count towards one proposal.
    pub max_probationary_approvers: u32,
    /// Whether a key enrolled within the probation period makes its holder probationary, whatever
    /// their start date.
    pub new_keys_probationary: bool,
}

/// Who may change the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governance {
    /// The operators who may sign a new policy's content hash.
    pub admins: Vec<OperatorId>,
    /// How many distinct admins must sign; at least 1 and at most the number of admins.
    pub threshold: u32,
}

/// A compiled, validated policy. Built only by [`Policy::compile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) hash: PolicyHash,
    pub(crate) name: String,
    pub(crate) governance: Governance,
    pub(crate) probation: ProbationRules,
    pub(crate) permission_role: Role,
    pub(crate) cancel_roles: Vec<Role>,
    pub(crate) cooling_off: u64,
    pub(crate) wallets: Vec<Wallet>,
    pub(crate) operators: Vec<Operator>,
    pub(crate) address_book: Vec<AddressBookEntry>,
    pub(crate) tiers: Vec<Tier>,
    pub(crate) velocity: Vec<VelocityLimit>,
    pub(crate) refund_caps: Vec<RefundCap>,
    pub(crate) delegate_targets: Vec<DelegateTarget>,
    pub(crate) declared_upgrades: Vec<DeclaredUpgrade>,
    pub(crate) anomaly: AnomalySettings,
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The file is not valid TOML or does not have the policy's shape (the parser's message).
    #[error("policy file is not valid: {0}")]
    Syntax(String),
    /// Two wallets have the same name.
    #[error("wallet `{0}` is declared twice")]
    DuplicateWallet(String),
    /// Two wallets govern the same Safe.
    #[error("safe {safe} on chain {chain_id} is declared by two wallets")]
    DuplicateSafe {
        /// The chain both wallets name.
        chain_id: u64,
        /// The Safe both wallets name.
        safe: Address,
    },
    /// An asset declares more decimals than amounts can be computed with.
    #[error("asset {asset} of wallet `{wallet}` has {decimals} decimals (at most {MAX_DECIMALS})")]
    Decimals {
        /// The wallet declaring the asset.
        wallet: String,
        /// The asset's symbol.
        asset: String,
        /// The decimals declared.
        decimals: u8,
    },
    /// Two operators have the same id.
    #[error("operator `{0}` is declared twice")]
    DuplicateOperator(String),
    /// An operator's `status` is not `active`, `suspended` or `offboarded`.
    #[error("operator `{operator}` has unknown status `{status}` (active, suspended, offboarded)")]
    UnknownStatus {
        /// The operator's id.
        operator: String,
        /// The status as written.
        status: String,
    },
    /// An operator has no role, so could never count towards a quorum.
    #[error("operator `{operator}` has no roles")]
    NoRoles {
        /// The operator's id.
        operator: String,
    },
    /// One public key is enrolled twice, for one operator or two: a key must identify exactly one
    /// operator and one enrolment.
    #[error("key {key} is enrolled twice (operator `{operator}`)")]
    DuplicateKey {
        /// The operator the second enrolment is for.
        operator: String,
        /// The key.
        key: FixedBytes<32>,
    },
    /// A key gives both or neither of `public_key` and `webauthn`.
    #[error(
        "a key of operator `{operator}` must give exactly one of `public_key` (ed25519) and \
         `webauthn` (a security key or passkey)"
    )]
    KeyKind {
        /// The operator's id.
        operator: String,
    },
    /// A WebAuthn credential id is enrolled twice: an assertion names its credential by id.
    #[error("WebAuthn credential {credential} is enrolled twice (operator `{operator}`)")]
    DuplicateCredential {
        /// The operator the second enrolment is for.
        operator: String,
        /// The credential id, base64url.
        credential: String,
    },
    /// A key is not a valid ed25519 public key, so no approval could ever verify against it.
    #[error("key {key} of operator `{operator}` is not a valid ed25519 public key")]
    InvalidKey {
        /// The operator's id.
        operator: String,
        /// The key as written.
        key: FixedBytes<32>,
    },
    /// A part of the policy names a wallet that is not declared.
    #[error("{context} names wallet `{wallet}`, which is not declared")]
    UnknownWallet {
        /// What names it: an operator, an address-book entry or a velocity limit.
        context: String,
        /// The undeclared wallet name.
        wallet: String,
    },
    /// A part of the policy names an operator who is not declared.
    #[error("{context} names operator `{operator}`, who is not declared")]
    UnknownOperator {
        /// What names them: governance or an address-book entry.
        context: String,
        /// The undeclared operator id.
        operator: String,
    },
    /// A tier or velocity limit names an asset symbol that no wallet (for a velocity limit: not
    /// its wallet) declares.
    #[error("{context} names asset `{symbol}`, which no wallet declares")]
    UnknownAsset {
        /// What names it.
        context: String,
        /// The undeclared symbol.
        symbol: String,
    },
    #[error(
        "tier `{tier}` names action `{word}` (transfer, contract_call, permission_change, delegatecall, module_transaction)"
    )]
    /// A tier names an action class that does not exist.
    UnknownAction {
        /// The tier's name.
        tier: String,
        /// The word as written.
        word: String,
    },
    /// A tier names a destination status that does not exist.
    #[error("tier `{tier}` names destination status `{word}` (address_book, new, unknown)")]
    UnknownDestination {
        /// The tier's name.
        tier: String,
        /// The word as written.
        word: String,
    },
    /// A tier (named) requires no approvals; such a tier would let anything it matches through.
    #[error("tier `{0}` requires no approvals; every tier must require at least one")]
    NoApprovals(String),
    /// A tier asks for zero approvals from a role.
    #[error("tier `{tier}` asks for 0 approvals from role `{role}`; leave the role out instead")]
    ZeroCount {
        /// The tier's name.
        tier: String,
        /// The role.
        role: String,
    },
    /// A tier requires a role no operator holds, so it could never be met.
    #[error("tier `{tier}` requires role `{role}`, which no operator holds")]
    UnheldRole {
        /// The tier's name.
        tier: String,
        /// The role.
        role: String,
    },
    /// `[cancellation] roles` names a role no operator holds: a typo that would leave nobody
    /// able to stop a suspicious proposal but its initiator.
    #[error("[cancellation] roles names `{role}`, which no operator holds")]
    UnheldCancelRole {
        /// The role.
        role: String,
    },
    /// A tier covers permission changes without requiring the policy's permission-change role.
    #[error("tier `{tier}` covers permission changes but does not require role `{role}`")]
    PermissionTierWithoutRole {
        /// The tier's name.
        tier: String,
        /// The role it must require (`permission_changes.required_role`).
        role: String,
    },
    /// A tier's (named) `min_amount` is above its `max_amount`, so it could match nothing.
    #[error("tier `{0}` has min_amount above max_amount")]
    EmptyRange(String),
    /// A tier's (named) approvals would expire the instant they arrive.
    #[error("tier `{0}` has an approval expiry of zero")]
    ZeroExpiry(String),
    /// A velocity limit has a zero-length window.
    #[error("velocity limit for `{wallet}`/{asset} has a zero window")]
    ZeroWindow {
        /// The limit's wallet name.
        wallet: String,
        /// The limit's asset symbol.
        asset: String,
    },
    /// The governance threshold is zero or more than the number of distinct admins.
    #[error("governance threshold {threshold} cannot be met by {admins} admins (or is zero)")]
    GovernanceThreshold {
        /// The threshold as written.
        threshold: u32,
        /// The number of distinct admins.
        admins: usize,
    },
    /// An operator's `working_hours` names a time zone the bundled IANA database does not
    /// know.
    #[error(
        "operator `{operator}` declares working hours in unknown time zone `{zone}` (an IANA name such as Europe/Berlin)"
    )]
    UnknownTimeZone {
        /// The operator's id.
        operator: String,
        /// The zone as written.
        zone: String,
    },
    /// An operator's `working_hours.days` names something that is not a day.
    #[error(
        "operator `{operator}` declares working day `{word}` (mon, tue, wed, thu, fri, sat, sun)"
    )]
    UnknownWorkDay {
        /// The operator's id.
        operator: String,
        /// The word as written.
        word: String,
    },
    /// An operator's `working_hours` has no day, so every call would be off hours.
    #[error("operator `{operator}` declares working hours on no day")]
    NoWorkDays {
        /// The operator's id.
        operator: String,
    },
    /// A `from` or `to` of working hours is not a local `HH:MM` between 00:00 and 24:00.
    #[error(
        "operator `{operator}` declares working hours at `{value}` (expected HH:MM, 00:00 to 24:00)"
    )]
    BadTimeOfDay {
        /// The operator's id.
        operator: String,
        /// The value as written.
        value: String,
    },
    /// Working hours whose `from` is not before `to` cover no time (spans across midnight are
    /// not supported).
    #[error(
        "operator `{operator}` declares working hours from {from} to {to}; `from` must be before `to`"
    )]
    EmptyWorkingHours {
        /// The operator's id.
        operator: String,
        /// `from` as written.
        from: String,
        /// `to` as written.
        to: String,
    },
    /// An `[anomaly]` number is out of its bounds (a zero threshold would alert on everything
    /// or nothing).
    #[error("{setting} is {value}; it must be {bounds}")]
    AnomalyValue {
        /// The setting's path in the file.
        setting: String,
        /// The value as written.
        value: u64,
        /// What it may be.
        bounds: String,
    },
    /// An anomaly rule's `extra_approval` names a role no operator holds, so the proposal could
    /// never pass.
    #[error("{rule} asks for an extra approval from role `{role}`, which no operator holds")]
    AnomalyUnheldRole {
        /// The rule's path in the file.
        rule: String,
        /// The role.
        role: String,
    },
    /// A rule that fires only on calls that decide nothing is given an action that changes
    /// decisions.
    #[error(
        "{rule} fires only on {calls}, which have no proposal whose decision an alert could \
         change; its action must be `alert`"
    )]
    AnomalyActionWithoutProposal {
        /// The rule's path in the file.
        rule: String,
        /// The calls it fires on.
        calls: &'static str,
    },
    /// `[anomaly.repeated_refusals] kinds` names an unknown kind.
    #[error(
        "anomaly.repeated_refusals names refusal kind `{word}` (forged_signature, stale_signature, unknown_key, permission_denied, wrong_hash_approval, denied_sanctions, denied_delegatecall, other)"
    )]
    UnknownRefusalKind {
        /// The word as written.
        word: String,
    },
    /// An amount does not fit in 256 bits once in base units.
    #[error("amount in {context} does not fit in 256 bits")]
    Overflow {
        /// Which amount: a tier's bounds or a velocity limit.
        context: String,
    },
}

impl Policy {
    /// Parses and compiles a policy file. The content hash is taken over `source` exactly.
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let raw: RawPolicy =
            toml::from_str(source).map_err(|e| CompileError::Syntax(e.to_string()))?;
        compile_raw(raw, PolicyHash::of(source))
    }

    /// The content hash admins sign.
    pub const fn hash(&self) -> PolicyHash {
        self.hash
    }
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Who may change it.
    pub const fn governance(&self) -> &Governance {
        &self.governance
    }
    /// Probation settings.
    pub const fn probation(&self) -> &ProbationRules {
        &self.probation
    }
    /// The role every permission change needs.
    pub const fn permission_role(&self) -> &Role {
        &self.permission_role
    }
    /// Cooling-off period of new address-book entries, seconds.
    pub const fn cooling_off(&self) -> u64 {
        self.cooling_off
    }
    /// Governed wallets.
    pub fn wallets(&self) -> &[Wallet] {
        &self.wallets
    }
    /// Operators.
    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }
    /// Address book.
    pub fn address_book(&self) -> &[AddressBookEntry] {
        &self.address_book
    }
    /// Tiers in file order.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }
    /// Velocity limits.
    pub fn velocity(&self) -> &[VelocityLimit] {
        &self.velocity
    }
    /// Gas refund caps; a refund without one denies.
    pub fn refund_caps(&self) -> &[RefundCap] {
        &self.refund_caps
    }
    /// Trusted DELEGATECALL targets (defaults included).
    pub fn delegate_targets(&self) -> &[DelegateTarget] {
        &self.delegate_targets
    }
    /// Declared upgrades.
    pub fn declared_upgrades(&self) -> &[DeclaredUpgrade] {
        &self.declared_upgrades
    }
    /// The anomaly rules' settings ([`AnomalySettings::off`] without an `[anomaly]` table).
    pub const fn anomaly(&self) -> &AnomalySettings {
        &self.anomaly
    }

    /// The wallet governing `safe` on `chain_id`.
    pub fn wallet_for(&self, chain_id: u64, safe: Address) -> Option<&Wallet> {
        self.wallets
            .iter()
            .find(|w| w.chain_id == chain_id && w.safe == safe)
    }
    /// The operator with this id.
    pub fn operator(&self, id: &OperatorId) -> Option<&Operator> {
        self.operators.iter().find(|o| &o.id == id)
    }
    /// The operator holding this key, with the key.
    pub fn key_holder(&self, key: &FixedBytes<32>) -> Option<(&Operator, &OperatorKey)> {
        self.operators
            .iter()
            .find_map(|o| o.key(key).map(|k| (o, k)))
    }
    /// The enrolled WebAuthn credential with this id (an assertion names its credential by
    /// id), with its holder.
    pub fn webauthn_credential(
        &self,
        credential_id: &[u8],
    ) -> Option<(&Operator, &OperatorKey, &signgate_webauthn::Credential)> {
        self.operators.iter().find_map(|o| {
            o.keys.iter().find_map(|k| {
                k.webauthn
                    .as_ref()
                    .filter(|c| c.id().as_bytes() == credential_id)
                    .map(|c| (o, k, c))
            })
        })
    }
}

fn compile_raw(raw: RawPolicy, hash: PolicyHash) -> Result<Policy, CompileError> {
    let wallets = compile_wallets(&raw)?;
    let wallet_names: BTreeSet<&str> = wallets.iter().map(|w| w.name.as_str()).collect();
    let check_wallet = |context: String, wallet: &str| {
        if wallet_names.contains(wallet) {
            Ok(())
        } else {
            Err(CompileError::UnknownWallet {
                context,
                wallet: wallet.to_owned(),
            })
        }
    };

    let mut operators = Vec::with_capacity(raw.operators.len());
    let mut working_hours = BTreeMap::new();
    let mut seen_keys = BTreeSet::new();
    let mut seen_credentials = BTreeSet::new();
    for o in &raw.operators {
        if operators.iter().any(|x: &Operator| x.id.0 == o.id) {
            return Err(CompileError::DuplicateOperator(o.id.clone()));
        }
        if o.roles.is_empty() {
            return Err(CompileError::NoRoles {
                operator: o.id.clone(),
            });
        }
        let status = match o.status.as_str() {
            "active" => OperatorStatus::Active,
            "suspended" => OperatorStatus::Suspended,
            "offboarded" => OperatorStatus::Offboarded,
            other => {
                return Err(CompileError::UnknownStatus {
                    operator: o.id.clone(),
                    status: other.to_owned(),
                });
            }
        };
        let wallets = if o.wallets.iter().any(|w| w == "*") {
            None
        } else {
            for w in &o.wallets {
                check_wallet(format!("operator `{}`", o.id), w)?;
            }
            Some(o.wallets.clone())
        };
        let mut keys = Vec::with_capacity(o.keys.len());
        for k in &o.keys {
            let public_key = match (&k.public_key, &k.webauthn) {
                (Some(key), None) => {
                    if VerifyingKey::from_bytes(&key.0).is_err() {
                        return Err(CompileError::InvalidKey {
                            operator: o.id.clone(),
                            key: *key,
                        });
                    }
                    *key
                }
                (None, Some(credential)) => FixedBytes(credential.key_id()),
                _ => {
                    return Err(CompileError::KeyKind {
                        operator: o.id.clone(),
                    });
                }
            };
            if !seen_keys.insert(public_key) {
                return Err(CompileError::DuplicateKey {
                    operator: o.id.clone(),
                    key: public_key,
                });
            }
            if let Some(c) = &k.webauthn
                && !seen_credentials.insert(c.id().as_bytes().to_vec())
            {
                return Err(CompileError::DuplicateCredential {
                    operator: o.id.clone(),
                    credential: c.id().to_string(),
                });
            }
            keys.push(OperatorKey {
                public_key,
                webauthn: k.webauthn.clone(),
                enrolled_at: k.enrolled_at,
                revoked_at: k.revoked_at,
            });
        }
        if let Some(wh) = &o.working_hours {
            working_hours.insert(OperatorId(o.id.clone()), WorkingHours::compile(&o.id, wh)?);
        }
        operators.push(Operator {
            id: OperatorId(o.id.clone()),
            name: o.name.clone(),
            roles: o.roles.iter().cloned().map(Role).collect(),
            teams: o.teams.clone(),
            started_at: o.started_at,
            status,
            keys,
            owner_addresses: o.owner_addresses.clone(),
            wallets,
        });
    }
    let check_operator = |context: String, id: &str| {
        if operators.iter().any(|o| o.id.0 == id) {
            Ok(())
        } else {
            Err(CompileError::UnknownOperator {
                context,
                operator: id.to_owned(),
            })
        }
    };

    let admins: Vec<OperatorId> = raw
        .governance
        .admins
        .iter()
        .map(|a| OperatorId(a.clone()))
        .collect();
    for a in &raw.governance.admins {
        check_operator("governance.admins".to_owned(), a)?;
    }
    let distinct_admins = admins.iter().collect::<BTreeSet<_>>().len();
    if raw.governance.threshold == 0
        || usize::try_from(raw.governance.threshold).map_or(true, |t| t > distinct_admins)
    {
        return Err(CompileError::GovernanceThreshold {
            threshold: raw.governance.threshold,
            admins: distinct_admins,
        });
    }

    let mut address_book = Vec::with_capacity(raw.address_book.len());
    for e in &raw.address_book {
        let context = format!("address book entry {}", e.address);
        check_operator(context.clone(), &e.added_by)?;
        for w in &e.wallets {
            check_wallet(context.clone(), w)?;
        }
        address_book.push(AddressBookEntry {
            address: e.address,
            label: e.label.clone(),
            added_by: OperatorId(e.added_by.clone()),
            added_at: e.added_at,
            wallets: (!e.wallets.is_empty()).then(|| e.wallets.clone()),
        });
    }

    let permission_role = Role(raw.permission_changes.required_role.clone());
    let held: BTreeSet<&Role> = operators.iter().flat_map(|o| o.roles.iter()).collect();
    let symbols: BTreeSet<&str> = wallets
        .iter()
        .flat_map(|w| w.assets.iter().map(|a| a.symbol.as_str()))
        .collect();
    let mut cancel_roles = Vec::with_capacity(raw.cancellation.roles.len());
    for r in &raw.cancellation.roles {
        let role = Role(r.clone());
        if !held.contains(&role) {
            return Err(CompileError::UnheldCancelRole { role: role.0 });
        }
        cancel_roles.push(role);
    }
    let mut tiers = Vec::with_capacity(raw.tiers.len());
    for t in &raw.tiers {
        tiers.push(compile_tier(t, &held, &symbols, &permission_role)?);
    }

    let anomaly =
        AnomalySettings::compile(raw.anomaly.as_ref(), working_hours, |r| held.contains(r))?;

    let mut velocity = Vec::with_capacity(raw.velocity.len());
    for v in &raw.velocity {
        let context = format!("velocity limit `{}`/{}", v.wallet, v.asset);
        let wallet = wallets.iter().find(|w| w.name == v.wallet).ok_or_else(|| {
            CompileError::UnknownWallet {
                context: context.clone(),
                wallet: v.wallet.clone(),
            }
        })?;
        let asset = wallet
            .asset_by_symbol(&v.asset)
            .ok_or_else(|| CompileError::UnknownAsset {
                context: context.clone(),
                symbol: v.asset.clone(),
            })?;
        if v.window_hours == 0 {
            return Err(CompileError::ZeroWindow {
                wallet: v.wallet.clone(),
                asset: v.asset.clone(),
            });
        }
        v.limit
            .to_base_units(asset.decimals)
            .map_err(|AmountOverflow { .. }| CompileError::Overflow { context })?;
        velocity.push(VelocityLimit {
            wallet: v.wallet.clone(),
            asset: asset.clone(),
            window: v.window_hours.saturating_mul(HOUR),
            limit: v.limit,
        });
    }

    let mut refund_caps = Vec::with_capacity(raw.refund_caps.len());
    for r in &raw.refund_caps {
        let context = format!("refund cap `{}`/{}", r.wallet, r.asset);
        let wallet = wallets.iter().find(|w| w.name == r.wallet).ok_or_else(|| {
            CompileError::UnknownWallet {
                context: context.clone(),
                wallet: r.wallet.clone(),
            }
        })?;
        let asset = wallet
            .asset_by_symbol(&r.asset)
            .ok_or_else(|| CompileError::UnknownAsset {
                context: context.clone(),
                symbol: r.asset.clone(),
            })?;
        r.max
            .to_base_units(asset.decimals)
            .map_err(|AmountOverflow { .. }| CompileError::Overflow { context })?;
        refund_caps.push(RefundCap {
            wallet: r.wallet.clone(),
            asset: asset.clone(),
            max: r.max,
        });
    }

    let mut delegate_targets: Vec<DelegateTarget> = Vec::new();
    if raw.delegatecall.canonical_defaults {
        for d in deployments::all()
            .iter()
            .filter(|d| d.contract.is_trusted_delegate_target())
        {
            if let Some(code_hash) = d.code_hash {
                delegate_targets.push(DelegateTarget {
                    label: format!("{:?} {}", d.contract, d.version.as_str()),
                    address: d.address,
                    code_hash,
                    batch: d.contract.is_batch(),
                });
            }
        }
    }
    delegate_targets.extend(raw.delegatecall.allow.iter().map(|t| DelegateTarget {
        label: t.label.clone(),
        address: t.address,
        code_hash: t.code_hash,
        batch: t.batch,
    }));

    Ok(Policy {
        hash,
        name: raw.name,
        governance: Governance {
            admins,
            threshold: raw.governance.threshold,
        },
        probation: ProbationRules {
            days: raw.probation.days,
            restricted_wallet_tags: raw.probation.restricted_wallet_tags,
            max_probationary_approvers: raw.probation.max_probationary_approvers,
            new_keys_probationary: raw.probation.new_keys_probationary,
        },
        permission_role,
        cancel_roles,
        cooling_off: raw
            .address_book_settings
            .cooling_off_hours
            .saturating_mul(HOUR),
        wallets,
        operators,
        address_book,
        tiers,
        velocity,
        refund_caps,
        delegate_targets,
        declared_upgrades: raw
            .declared_upgrades
            .iter()
            .map(|u| DeclaredUpgrade {
                proxy: u.proxy,
                implementation: u.implementation,
                code_hash: u.code_hash,
                reason: u.reason.clone(),
            })
            .collect(),
        anomaly,
    })
}

fn compile_wallets(raw: &RawPolicy) -> Result<Vec<Wallet>, CompileError> {
    let mut wallets: Vec<Wallet> = Vec::with_capacity(raw.wallets.len());
    for w in &raw.wallets {
        if wallets.iter().any(|x| x.name == w.name) {
            return Err(CompileError::DuplicateWallet(w.name.clone()));
        }
        if wallets
            .iter()
            .any(|x| x.chain_id == w.chain_id && x.safe == w.safe)
        {
            return Err(CompileError::DuplicateSafe {
                chain_id: w.chain_id,
                safe: w.safe,
            });
        }
        let mut assets = Vec::with_capacity(w.assets.len());
        for (symbol, a) in &w.assets {
            if a.decimals > MAX_DECIMALS {
                return Err(CompileError::Decimals {
                    wallet: w.name.clone(),
                    asset: symbol.clone(),
                    decimals: a.decimals,
                });
            }
            assets.push(AssetSpec {
                symbol: symbol.clone(),
                asset: a.token.map_or(Asset::Native, Asset::Token),
                decimals: a.decimals,
            });
        }
        let mut tags = w.tags.clone();
        tags.sort();
        tags.dedup();
        wallets.push(Wallet {
            name: w.name.clone(),
            chain_id: w.chain_id,
            safe: w.safe,
            tags,
            assets,
        });
    }
    Ok(wallets)
}

fn compile_tier(
    t: &RawTier,
    held: &BTreeSet<&Role>,
    symbols: &BTreeSet<&str>,
    permission_role: &Role,
) -> Result<Tier, CompileError> {
    let name = t.name.clone();
    let mut classes = Vec::with_capacity(t.actions.len());
    for word in &t.actions {
        let class = ActionClass::parse(word).ok_or_else(|| CompileError::UnknownAction {
            tier: name.clone(),
            word: word.clone(),
        })?;
        classes.push(class);
    }
    let mut destinations = Vec::with_capacity(t.destinations.len());
    for word in &t.destinations {
        destinations.push(DestinationStatus::parse(word).ok_or_else(|| {
            CompileError::UnknownDestination {
                tier: name.clone(),
                word: word.clone(),
            }
        })?);
    }
    if let Some(assets) = &t.assets {
        for s in assets {
            if !symbols.contains(s.as_str()) {
                return Err(CompileError::UnknownAsset {
                    context: format!("tier `{name}`"),
                    symbol: s.clone(),
                });
            }
        }
    }
    let mut approvals = BTreeMap::new();
    for (role, n) in &t.approvals {
        let role = Role(role.clone());
        if *n == 0 {
            return Err(CompileError::ZeroCount {
                tier: name,
                role: role.0,
            });
        }
        if !held.contains(&role) {
            return Err(CompileError::UnheldRole {
                tier: name,
                role: role.0,
            });
        }
        approvals.insert(role, *n);
    }
    if approvals.is_empty() {
        return Err(CompileError::NoApprovals(name));
    }
    if classes.contains(&ActionClass::PermissionChange) && !approvals.contains_key(permission_role)
    {
        return Err(CompileError::PermissionTierWithoutRole {
            tier: name,
            role: permission_role.0.clone(),
        });
    }
    if let (Some(min), Some(max)) = (&t.min_amount, &t.max_amount) {
        match min.checked_cmp(max) {
            Some(std::cmp::Ordering::Greater) => return Err(CompileError::EmptyRange(name)),
            Some(_) => {}
            None => {
                return Err(CompileError::Overflow {
                    context: format!("tier `{name}`"),
                });
            }
        }
    }
    if t.approval_expiry_hours == 0 {
        return Err(CompileError::ZeroExpiry(name));
    }
    Ok(Tier {
        name,
        wallet_tags: t.wallet_tags.clone(),
        classes,
        assets: t.assets.clone(),
        min_amount: t.min_amount,
        max_amount: t.max_amount,
        destinations,
        approvals,
        time_lock: t.time_lock_hours.saturating_mul(HOUR),
        approval_expiry: t.approval_expiry_hours.saturating_mul(HOUR),
        probationary_limit: t.probationary_limit,
    })
}
