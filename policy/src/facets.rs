//! Cuts a proposal into facets: the separately governed things it does.
//!
//! Calldata and simulation are both read, and a facet from either side counts: a permission
//! change that the simulation shows but the calldata hides still needs the elevated tier, and
//! a transfer the calldata declares still needs its tier even if the simulation disagrees
//! (a disagreement denies elsewhere). When nothing at all is found, the root call becomes a
//! `contract_call` facet, so an empty-looking transaction still needs a tier and approvals.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, U256};

use crate::{
    compile::{DelegateTarget, Policy},
    evidence::{ActionFactKind, DelegatecallFact, Evidence, ReachedSafeFacts, SafeChangeFact},
    movements::{Destination, refunds, totals},
    reasons::Reason,
    tiers::{ActionClass, DestinationStatus},
    time::Timestamp,
    wallets::{Asset, AssetSpec, Wallet},
};
use signgate_simulator::Operation;

/// One governed thing the proposal does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// What kind of action it is; tiers select on it.
    pub class: ActionClass,
    /// The asset moved, with its decimals, for transfers and value-carrying calls.
    pub asset: Option<AssetSpec>,
    /// Base units, for transfers: what the whole proposal sends to this destination.
    pub amount: Option<U256>,
    /// Base units, for transfers: what the whole proposal sends of this asset, to every
    /// destination. Tier amount bounds and probationary limits compare this.
    pub total: Option<U256>,
    /// Where the value goes or the call is made, when there is one.
    pub destination: Option<Address>,
    /// How the policy knows the destination at the decision's `now`.
    pub destination_status: Option<DestinationStatus>,
    /// Where it was found (`tx`, `multiSend[1]`, `simulation`).
    pub location: String,
}

impl std::fmt::Display for Facet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a {} at {}", self.class, self.location)?;
        if let (Some(amount), Some(asset)) = (self.amount, &self.asset) {
            write!(
                f,
                " of {} {}",
                crate::amount::format_units(amount, asset.decimals),
                asset.symbol
            )?;
        }
        match (self.class, self.destination) {
            (_, Some(d)) => write!(f, " to {d}")?,
            (ActionClass::Transfer, None) => f.write_str(" to whoever executes it (tx.origin)")?,
            _ => {}
        }
        if let (Some(total), Some(amount), Some(asset)) = (self.total, self.amount, &self.asset)
            && total != amount
        {
            write!(
                f,
                " (the proposal sends {} {} in all)",
                crate::amount::format_units(total, asset.decimals),
                asset.symbol
            )?;
        }
        if let Some(s) = self.destination_status {
            write!(f, " ({} destination)", s.as_str())?;
        }
        Ok(())
    }
}

/// How the policy knows `to` as a destination of `wallet` at `now`.
pub fn destination_status(
    policy: &Policy,
    wallet: &Wallet,
    to: Address,
    now: Timestamp,
) -> DestinationStatus {
    if policy
        .wallets()
        .iter()
        .any(|w| w.chain_id == wallet.chain_id && w.safe == to)
    {
        return DestinationStatus::AddressBook;
    }
    let entry = policy.address_book().iter().find(|e| {
        e.address == to
            && e.wallets
                .as_ref()
                .is_none_or(|ws| ws.contains(&wallet.name))
    });
    match entry {
        Some(e) if e.added_at.plus(policy.cooling_off()) <= now => DestinationStatus::AddressBook,
        Some(_) => DestinationStatus::New,
        None => DestinationStatus::Unknown,
    }
}

/// The allowlisted DELEGATECALL target at `address`, by address only (code hash is checked
/// against the simulation separately).
pub fn delegate_target(policy: &Policy, address: Address) -> Option<&DelegateTarget> {
    policy
        .delegate_targets()
        .iter()
        .find(|t| t.address == address)
}

/// Facets of the proposal, and the reasons classification itself had to deny.
pub fn classify(
    policy: &Policy,
    wallet: &Wallet,
    evidence: &Evidence,
) -> (Vec<Facet>, Vec<Reason>) {
    let mut facets = Vec::new();
    let mut reasons = Vec::new();
    let now = evidence.now;
    // Every place an asset leaves for a destination; the amounts come from the proposal's totals.
    let mut moved: BTreeMap<(Asset, Destination), Vec<String>> = BTreeMap::new();
    let mut transfer = |asset: Asset, to: Destination, location: String| {
        if wallet.asset(asset).is_none() {
            reasons.push(Reason::UnknownAsset {
                wallet: wallet.name.clone(),
                asset,
                location: location.clone(),
            });
        }
        let places = moved.entry((asset, to)).or_default();
        if !places.contains(&location) {
            places.push(location);
        }
    };

    if evidence.proposal.via_module.is_some() {
        facets.push(Facet {
            class: ActionClass::ModuleTransaction,
            asset: None,
            amount: None,
            total: None,
            destination: evidence.proposal.via_module,
            destination_status: None,
            location: "tx".to_owned(),
        });
    }

    for a in &evidence.actions {
        let location = a.path.to_string();
        let batch_lib = matches!(a.kind, ActionFactKind::Batch)
            && delegate_target(policy, a.to).is_some_and(|t| t.batch);
        if a.operation == Operation::DelegateCall && !batch_lib {
            facets.push(Facet {
                class: ActionClass::Delegatecall,
                asset: None,
                amount: None,
                total: None,
                destination: Some(a.to),
                destination_status: None,
                location: location.clone(),
            });
            continue;
        }
        match &a.kind {
            ActionFactKind::Batch | ActionFactKind::NestedSafeTransaction { .. } => {}
            ActionFactKind::NativeTransfer => transfer(Asset::Native, Some(a.to), location),
            ActionFactKind::TokenTransfer { recipient, .. } => {
                transfer(Asset::Token(a.to), Some(*recipient), location.clone());
                if !a.value.is_zero() {
                    transfer(Asset::Native, Some(a.to), location);
                }
            }
            // A grant is judged as the transfer it permits, to the spender.
            // The amount comes from the simulation (capped at the Safe's balance), like
            // velocity's: the stated allowance alone moves nothing.
            ActionFactKind::TokenGrant { token, spender, .. } => {
                transfer(
                    Asset::Token(*token),
                    Some(*spender),
                    format!("{location} (grant)"),
                );
                if !a.value.is_zero() {
                    transfer(Asset::Native, Some(a.to), location);
                }
            }
            ActionFactKind::SafeConfig { change } => {
                if change.is_permission() {
                    facets.push(Facet {
                        class: ActionClass::PermissionChange,
                        asset: None,
                        amount: None,
                        total: None,
                        destination: None,
                        destination_status: None,
                        location,
                    });
                }
            }
            ActionFactKind::SafeLibrary | ActionFactKind::ContractCall => {
                facets.push(Facet {
                    class: ActionClass::ContractCall,
                    asset: None,
                    amount: None,
                    total: None,
                    destination: Some(a.to),
                    destination_status: Some(destination_status(policy, wallet, a.to, now)),
                    location: location.clone(),
                });
                if !a.value.is_zero() {
                    transfer(Asset::Native, Some(a.to), location);
                }
            }
        }
    }

    let sim = &evidence.simulation;
    configuration_facets(
        policy,
        None,
        &sim.safe_changes,
        &sim.delegatecalls,
        &mut facets,
    );
    // Another Safe the run reached: its configuration changes and its allowlisted library
    // calls are governed like the proposing Safe's own (an ungoverned Safe's change also
    // denies, in `rules::effects`).
    for r in &sim.reached_safes {
        configuration_facets(
            policy,
            Some(r),
            &r.safe_changes,
            &r.delegatecalls,
            &mut facets,
        );
    }
    for o in &sim.outflows {
        transfer(
            o.asset,
            Some(o.to),
            o.source.clone().unwrap_or_else(|| "simulation".to_owned()),
        );
    }
    for r in refunds(evidence) {
        let payer = r.paid_by.as_ref().map_or_else(String::new, |p| {
            format!(
                " paid by Safe {} (execTransaction at {})",
                p.safe, p.location
            )
        });
        transfer(
            r.asset,
            r.receiver,
            format!(
                "gas refund{payer} (gasPrice {}, up to {})",
                r.settings.gas_price,
                refund_words(wallet, r.asset, r.amount)
            ),
        );
    }

    // One transfer facet per asset and destination, carrying what the whole proposal sends there
    // and of that asset in all: tiers and probationary limits compare the total, so splitting a
    // payment into many calls never selects a lower tier than sending it at once.
    match totals(evidence) {
        Err(asset) => reasons.push(Reason::ArithmeticOverflow {
            context: format!("the total outflow of {asset}"),
        }),
        Ok(t) => {
            let keys: BTreeSet<(Asset, Destination)> = moved
                .keys()
                .chain(t.per_destination.keys())
                .copied()
                .collect();
            for (asset, to) in keys {
                let Some(spec) = wallet.asset(asset) else {
                    if !moved.contains_key(&(asset, to)) {
                        reasons.push(Reason::UnknownAsset {
                            wallet: wallet.name.clone(),
                            asset,
                            location: "the proposal's outflows".to_owned(),
                        });
                    }
                    continue;
                };
                let location = moved
                    .get(&(asset, to))
                    .map_or_else(|| "calldata".to_owned(), |l| l.join(", "));
                facets.push(Facet {
                    class: ActionClass::Transfer,
                    asset: Some(spec.clone()),
                    amount: Some(
                        t.per_destination
                            .get(&(asset, to))
                            .copied()
                            .unwrap_or(U256::ZERO),
                    ),
                    total: t.per_asset.get(&asset).copied(),
                    destination: to,
                    // Whoever executes the transaction is nobody the policy knows.
                    destination_status: Some(to.map_or(DestinationStatus::Unknown, |to| {
                        destination_status(policy, wallet, to, now)
                    })),
                    location,
                });
            }
        }
    }

    if facets.is_empty() && reasons.is_empty() {
        let root = evidence.actions.iter().find(|a| a.path.depth() == 0);
        facets.push(Facet {
            class: ActionClass::ContractCall,
            asset: None,
            amount: None,
            total: None,
            destination: root.map(|a| a.to),
            destination_status: root.map(|a| destination_status(policy, wallet, a.to, now)),
            location: "tx".to_owned(),
        });
    }
    (facets, reasons)
}

/// The facets of one Safe's own configuration: its permission changes and its calls into
/// allowlisted (non-batch) libraries. The proposing Safe's (`reached` is `None`) and every
/// Safe the run reached are governed by this one function, so the two can never drift.
fn configuration_facets(
    policy: &Policy,
    reached: Option<&ReachedSafeFacts>,
    changes: &[SafeChangeFact],
    delegatecalls: &[DelegatecallFact],
    facets: &mut Vec<Facet>,
) {
    let within = reached.map_or_else(String::new, |r| {
        format!(" in Safe {} (reached at {})", r.safe, r.location)
    });
    for change in changes.iter().filter(|c| c.kind.is_permission()) {
        facets.push(Facet {
            class: ActionClass::PermissionChange,
            asset: None,
            amount: None,
            total: None,
            destination: reached.map(|r| r.safe),
            destination_status: None,
            location: format!("simulation: Safe {} changed{within}", change.kind.as_str()),
        });
    }
    for d in delegatecalls {
        if delegate_target(policy, d.target).is_some_and(|t| !t.batch) {
            facets.push(Facet {
                class: ActionClass::Delegatecall,
                asset: None,
                amount: None,
                total: None,
                destination: Some(d.target),
                destination_status: None,
                location: format!("simulation: depth {}{within}", d.depth),
            });
        }
    }
}

/// The most a refund can pay, in the wallet's units of its asset when it declares them.
fn refund_words(wallet: &Wallet, asset: Asset, amount: U256) -> String {
    match wallet.asset(asset) {
        Some(spec) => format!(
            "{} {}",
            crate::amount::format_units(amount, spec.decimals),
            spec.symbol
        ),
        None => format!("{amount} base units"),
    }
}

/// Facets of what the proposal does to and in `r`, a Safe it reaches that the policy governs as
/// `wallet`: judged under that wallet's own tiers, as if the Safe had done it by a proposal of
/// its own. Its configuration changes, its allowlisted (non-batch) library calls, and what leaves
/// it (outflows and grants in the simulation, refunds it pays), summed per asset and
/// destination; the reasons classification itself had to deny (an asset its wallet does not
/// declare).
pub fn classify_reached(
    policy: &Policy,
    wallet: &Wallet,
    evidence: &Evidence,
    r: &ReachedSafeFacts,
) -> (Vec<Facet>, Vec<Reason>) {
    let mut facets = Vec::new();
    let mut reasons = Vec::new();
    let now = evidence.now;
    configuration_facets(
        policy,
        Some(r),
        &r.safe_changes,
        &r.delegatecalls,
        &mut facets,
    );
    let mut per_destination: BTreeMap<(Asset, Destination), U256> = BTreeMap::new();
    let mut places: BTreeMap<(Asset, Destination), Vec<String>> = BTreeMap::new();
    let mut overflow = None;
    let mut add = |asset: Asset, to: Destination, amount: U256, place: String| {
        let slot = per_destination.entry((asset, to)).or_insert(U256::ZERO);
        match slot.checked_add(amount) {
            Some(sum) => *slot = sum,
            None => overflow = Some(asset),
        }
        let p = places.entry((asset, to)).or_default();
        if !p.contains(&place) {
            p.push(place);
        }
    };
    for o in evidence
        .simulation
        .outflows
        .iter()
        .filter(|o| o.from == Some(r.safe))
    {
        add(
            o.asset,
            Some(o.to),
            o.amount,
            o.source.clone().unwrap_or_else(|| "simulation".to_owned()),
        );
    }
    for refund in refunds(evidence)
        .into_iter()
        .filter(|x| x.paid_by.as_ref().is_some_and(|p| p.safe == r.safe))
    {
        add(
            refund.asset,
            refund.receiver,
            refund.amount,
            format!(
                "gas refund of Safe {} (gasPrice {}, up to {})",
                r.safe,
                refund.settings.gas_price,
                refund_words(wallet, refund.asset, refund.amount)
            ),
        );
    }
    if let Some(asset) = overflow {
        reasons.push(Reason::ArithmeticOverflow {
            context: format!("the total outflow of {asset} from Safe {}", r.safe),
        });
        return (facets, reasons);
    }
    let mut per_asset: BTreeMap<Asset, U256> = BTreeMap::new();
    for ((asset, _), amount) in &per_destination {
        let slot = per_asset.entry(*asset).or_insert(U256::ZERO);
        *slot = slot.saturating_add(*amount);
    }
    for ((asset, to), amount) in per_destination {
        let location = places
            .get(&(asset, to))
            .map_or_else(|| "simulation".to_owned(), |l| l.join(", "));
        let Some(spec) = wallet.asset(asset) else {
            reasons.push(Reason::UnknownAsset {
                wallet: wallet.name.clone(),
                asset,
                location,
            });
            continue;
        };
        if amount.is_zero() {
            continue;
        }
        facets.push(Facet {
            class: ActionClass::Transfer,
            asset: Some(spec.clone()),
            amount: Some(amount),
            total: per_asset.get(&asset).copied(),
            destination: to,
            destination_status: Some(to.map_or(DestinationStatus::Unknown, |to| {
                destination_status(policy, wallet, to, now)
            })),
            location,
        });
    }
    (facets, reasons)
}
