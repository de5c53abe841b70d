//! Approval tiers: which proposals need which approvals.
//!
//! A proposal is cut into facets (one per transfer, call, permission change …, see
//! [`crate::facets`]). Every tier that matches a facet applies, and the requirement is the
//! per-role maximum over all of them, with the longest time lock and the shortest approval
//! expiry. Tiers compose instead of shadowing each other, so file order never matters, and a
//! facet no tier matches denies.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::{
    amount::{AmountOverflow, HumanAmount},
    facets::Facet,
    operators::Role,
    wallets::Wallet,
};

/// What kind of thing a facet of a proposal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionClass {
    /// Native coin or tokens leave the Safe.
    Transfer,
    /// A CALL to a contract that is not a plain transfer.
    ContractCall,
    /// Owners, threshold, modules, guard, fallback handler or module guard change.
    PermissionChange,
    /// A DELEGATECALL to an allowlisted library that is not a pure batch.
    Delegatecall,
    /// The transaction is executed by a module rather than by the owners.
    ModuleTransaction,
}

impl ActionClass {
    /// The word used in policy files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::ContractCall => "contract_call",
            Self::PermissionChange => "permission_change",
            Self::Delegatecall => "delegatecall",
            Self::ModuleTransaction => "module_transaction",
        }
    }

    /// Parses the policy-file word.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Transfer,
            Self::ContractCall,
            Self::PermissionChange,
            Self::Delegatecall,
            Self::ModuleTransaction,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ActionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How well the policy knows a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationStatus {
    /// In the address book past its cooling-off period, or another governed wallet.
    AddressBook,
    /// In the address book but still inside its cooling-off period.
    New,
    /// Not in the address book.
    Unknown,
}

impl DestinationStatus {
    /// The word used in policy files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AddressBook => "address_book",
            Self::New => "new",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the policy-file word.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::AddressBook, Self::New, Self::Unknown]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One compiled tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier's name from the policy file, shown in decisions.
    pub name: String,
    /// The wallet must carry every one of these tags; empty matches every wallet.
    pub wallet_tags: Vec<String>,
    /// Action classes the tier covers; a facet of another class does not match.
    pub classes: Vec<ActionClass>,
    /// Asset symbols the tier covers; `None` matches every asset (and facets moving none).
    pub assets: Option<Vec<String>>,
    /// Lower bound on the proposal's total of a facet's asset, in human units of the asset;
    /// compared in base units.
    pub min_amount: Option<HumanAmount>,
    /// Upper bound on the proposal's total of a facet's asset, in human units of the asset;
    /// compared in base units.
    pub max_amount: Option<HumanAmount>,
    /// Destination statuses the tier covers; empty matches every status.
    pub destinations: Vec<DestinationStatus>,
    /// Role → distinct approvers needed; every count is at least 1.
    pub approvals: BTreeMap<Role, u32>,
    /// Seconds to wait after the last needed approval before the transaction is released.
    pub time_lock: u64,
    /// Seconds an approval counts for after the gateway received it; never zero.
    pub approval_expiry: u64,
    /// Above this amount (human units; the proposal's total of the asset), probationary approvals
    /// do not count on this tier.
    pub probationary_limit: Option<HumanAmount>,
}

impl Tier {
    /// Whether this tier governs `facet` on `wallet`. Amount bounds are compared in base
    /// units with checked arithmetic; an overflow is returned so the caller denies.
    pub fn matches(&self, wallet: &Wallet, facet: &Facet) -> Result<bool, AmountOverflow> {
        if !self.wallet_tags.iter().all(|t| wallet.has_tag(t))
            || !self.classes.contains(&facet.class)
        {
            return Ok(false);
        }
        if let Some(symbols) = &self.assets {
            match &facet.asset {
                Some(spec) if symbols.contains(&spec.symbol) => {}
                _ => return Ok(false),
            }
        }
        if !self.destinations.is_empty() {
            match facet.destination_status {
                Some(s) if self.destinations.contains(&s) => {}
                _ => return Ok(false),
            }
        }
        // Bounds compare the proposal's total of the asset, not this facet's share of it.
        if let (Some(amount), Some(spec)) = (facet.total.or(facet.amount), &facet.asset) {
            if let Some(min) = &self.min_amount
                && amount < min.to_base_units(spec.decimals)?
            {
                return Ok(false);
            }
            if let Some(max) = &self.max_amount
                && amount > max.to_base_units(spec.decimals)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether a probationary approval may count toward this tier for `facet`: never for
    /// permission changes or delegatecalls, and not for transfers above `probationary_limit`.
    pub fn admits_probationary(&self, facet: &Facet) -> Result<bool, AmountOverflow> {
        match facet.class {
            ActionClass::PermissionChange | ActionClass::Delegatecall => Ok(false),
            _ => match (
                &self.probationary_limit,
                facet.total.or(facet.amount),
                &facet.asset,
            ) {
                (Some(limit), Some(amount), Some(spec)) => {
                    Ok(amount <= limit.to_base_units(spec.decimals)?)
                }
                _ => Ok(true),
            },
        }
    }
}

/// The combined requirement of every tier that applies to a proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// Role → distinct approvers needed (per-role maximum over matched tiers).
    pub approvals: BTreeMap<Role, u32>,
    /// Longest time lock, seconds.
    pub time_lock: u64,
    /// Shortest approval expiry, seconds (`u64::MAX` until a tier is added).
    pub approval_expiry: u64,
    /// Whether probationary approvals may count at all.
    pub admits_probationary: bool,
    /// Names of the tiers that applied, in file order, deduplicated.
    pub tiers: Vec<String>,
}

impl Requirement {
    /// The requirement before any tier applies: nothing needed, probation admitted.
    pub fn empty() -> Self {
        Self {
            approvals: BTreeMap::new(),
            time_lock: 0,
            approval_expiry: u64::MAX,
            admits_probationary: true,
            tiers: Vec::new(),
        }
    }

    /// Folds one matched tier in.
    pub fn add(&mut self, tier: &Tier, admits_probationary: bool) {
        for (role, n) in &tier.approvals {
            let slot = self.approvals.entry(role.clone()).or_insert(0);
            *slot = (*slot).max(*n);
        }
        self.time_lock = self.time_lock.max(tier.time_lock);
        self.approval_expiry = self.approval_expiry.min(tier.approval_expiry);
        self.admits_probationary &= admits_probationary;
        if !self.tiers.contains(&tier.name) {
            self.tiers.push(tier.name.clone());
        }
    }
}
