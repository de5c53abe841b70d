//! Cuts a proposal into facets: the separately governed things it does.
//!
//! Calldata and simulation are both read, and a facet from either side counts: a permission
//! change that the simulation shows but the calldata hides still needs the elevated tier, and
//! a transfer the calldata declares still needs its tier even if the simulation disagrees
//! (a disagreement denies elsewhere). When nothing at all is found, the root call becomes a
//! `contract_call` facet, so an empty-looking transaction still needs a tier and approvals.

use alloy_primitives::{Address, U256};

use crate::{
    compile::{DelegateTarget, Policy},
    evidence::{ActionFactKind, Evidence},
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
    /// Base units, for transfers and value-carrying calls.
    pub amount: Option<U256>,
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
        if let Some(d) = self.destination {
            write!(f, " to {d}")?;
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
    let mut transfer =
        |asset: Asset, to: Address, amount: U256, location: String, facets: &mut Vec<Facet>| {
            match wallet.asset(asset) {
                Some(spec) => facets.push(Facet {
                    class: ActionClass::Transfer,
                    asset: Some(spec.clone()),
                    amount: Some(amount),
                    destination: Some(to),
                    destination_status: Some(destination_status(policy, wallet, to, now)),
                    location,
                }),
                None => reasons.push(Reason::UnknownAsset {
                    wallet: wallet.name.clone(),
                    asset,
                    location,
                }),
            }
        };

    if evidence.proposal.via_module.is_some() {
        facets.push(Facet {
            class: ActionClass::ModuleTransaction,
            asset: None,
            amount: None,
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
                destination: Some(a.to),
                destination_status: None,
                location: location.clone(),
            });
            continue;
        }
        match &a.kind {
            ActionFactKind::Batch | ActionFactKind::NestedSafeTransaction { .. } => {}
            ActionFactKind::NativeTransfer => {
                transfer(Asset::Native, a.to, a.value, location, &mut facets)
            }
            ActionFactKind::TokenTransfer { recipient, amount } => {
                transfer(
                    Asset::Token(a.to),
                    *recipient,
                    *amount,
                    location.clone(),
                    &mut facets,
                );
                if !a.value.is_zero() {
                    transfer(Asset::Native, a.to, a.value, location, &mut facets);
                }
            }
            // A grant is judged as the transfer it permits, to the spender.
            ActionFactKind::TokenGrant {
                token,
                spender,
                amount,
            } => {
                transfer(
                    Asset::Token(*token),
                    *spender,
                    *amount,
                    format!("{location} (grant)"),
                    &mut facets,
                );
                if !a.value.is_zero() {
                    transfer(Asset::Native, a.to, a.value, location, &mut facets);
                }
            }
            ActionFactKind::SafeConfig { change } => {
                if change.is_permission() {
                    facets.push(Facet {
                        class: ActionClass::PermissionChange,
                        asset: None,
                        amount: None,
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
                    destination: Some(a.to),
                    destination_status: Some(destination_status(policy, wallet, a.to, now)),
                    location: location.clone(),
                });
                if !a.value.is_zero() {
                    transfer(Asset::Native, a.to, a.value, location, &mut facets);
                }
            }
        }
    }

    let sim = &evidence.simulation;
    for change in sim.safe_changes.iter().filter(|c| c.kind.is_permission()) {
        facets.push(Facet {
            class: ActionClass::PermissionChange,
            asset: None,
            amount: None,
            destination: None,
            destination_status: None,
            location: format!("simulation: Safe {} changed", change.kind.as_str()),
        });
    }
    for d in &sim.delegatecalls {
        if delegate_target(policy, d.target).is_some_and(|t| !t.batch) {
            facets.push(Facet {
                class: ActionClass::Delegatecall,
                asset: None,
                amount: None,
                destination: Some(d.target),
                destination_status: None,
                location: format!("simulation: depth {}", d.depth),
            });
        }
    }
    // Another Safe the run reached: its configuration changes and its allowlisted library
    // calls are governed like the proposing Safe's own (an ungoverned Safe's change also
    // denies, in `rules::effects`).
    for r in &sim.reached_safes {
        for change in r.safe_changes.iter().filter(|c| c.kind.is_permission()) {
            facets.push(Facet {
                class: ActionClass::PermissionChange,
                asset: None,
                amount: None,
                destination: Some(r.safe),
                destination_status: None,
                location: format!(
                    "simulation: {} of Safe {} changed (reached at {})",
                    change.kind.as_str(),
                    r.safe,
                    r.location
                ),
            });
        }
        for d in &r.delegatecalls {
            if delegate_target(policy, d.target).is_some_and(|t| !t.batch) {
                facets.push(Facet {
                    class: ActionClass::Delegatecall,
                    asset: None,
                    amount: None,
                    destination: Some(d.target),
                    destination_status: None,
                    location: format!("simulation: in Safe {} at depth {}", r.safe, d.depth),
                });
            }
        }
    }
    for o in &sim.outflows {
        transfer(
            o.asset,
            o.to,
            o.amount,
            o.source.clone().unwrap_or_else(|| "simulation".to_owned()),
            &mut facets,
        );
    }

    if facets.is_empty() && reasons.is_empty() {
        let root = evidence.actions.iter().find(|a| a.path.depth() == 0);
        facets.push(Facet {
            class: ActionClass::ContractCall,
            asset: None,
            amount: None,
            destination: root.map(|a| a.to),
            destination_status: root.map(|a| destination_status(policy, wallet, a.to, now)),
            location: "tx".to_owned(),
        });
    }
    (facets, reasons)
}
