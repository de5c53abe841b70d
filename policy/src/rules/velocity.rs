//! Rolling-window limits. The gateway supplies what each window already holds; this rule
//! adds the proposal with checked arithmetic and compares.

use std::collections::BTreeMap;

use alloy_primitives::U256;

use crate::{
    compile::Policy,
    evidence::{ActionFactKind, Evidence},
    reasons::Reason,
    time::HOUR,
    wallets::{Asset, Wallet},
};

/// What the proposal sends per asset: the larger of what the calldata declares and what the
/// simulation shows leaving the Safe (grants included, as the simulation caps them at the
/// Safe's balance; a calldata grant's stated allowance is not a movement by itself). `Err`
/// names the overflowing asset.
pub fn proposed_outflows(evidence: &Evidence) -> Result<BTreeMap<Asset, U256>, Asset> {
    let mut calldata: BTreeMap<Asset, U256> = BTreeMap::new();
    let add = |map: &mut BTreeMap<Asset, U256>, asset: Asset, amount: U256| {
        let slot = map.entry(asset).or_insert(U256::ZERO);
        *slot = slot.checked_add(amount).ok_or(asset)?;
        Ok::<(), Asset>(())
    };
    for a in &evidence.actions {
        if a.operation == signgate_simulator::Operation::Call {
            add(&mut calldata, Asset::Native, a.value)?;
        }
        if let ActionFactKind::TokenTransfer { amount, .. } = a.kind {
            add(&mut calldata, Asset::Token(a.to), amount)?;
        }
    }
    let mut simulated: BTreeMap<Asset, U256> = BTreeMap::new();
    for o in &evidence.simulation.outflows {
        add(&mut simulated, o.asset, o.amount)?;
    }
    for (asset, amount) in simulated {
        let slot = calldata.entry(asset).or_insert(U256::ZERO);
        *slot = (*slot).max(amount);
    }
    Ok(calldata)
}

/// Appends a reason for every limit of `wallet` the proposal crosses or cannot be checked
/// against.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    let proposed = match proposed_outflows(evidence) {
        Ok(p) => p,
        Err(asset) => {
            out.push(Reason::ArithmeticOverflow {
                context: format!("the total outflow of {asset}"),
            });
            return;
        }
    };
    for limit in policy.velocity().iter().filter(|l| l.wallet == wallet.name) {
        let amount = proposed
            .get(&limit.asset.asset)
            .copied()
            .unwrap_or(U256::ZERO);
        if amount.is_zero() {
            continue;
        }
        let window_hours = limit.window / HOUR;
        let asset = limit.asset.symbol.clone();
        let total = evidence.velocity.iter().find(|t| {
            t.safe == wallet.safe && t.asset == limit.asset.asset && t.window_hours == window_hours
        });
        let Some(total) = total else {
            out.push(Reason::VelocityTotalMissing {
                wallet: wallet.name.clone(),
                asset,
                window_hours,
            });
            continue;
        };
        let Ok(cap) = limit.limit.to_base_units(limit.asset.decimals) else {
            out.push(Reason::ArithmeticOverflow {
                context: format!("the velocity limit of {asset}"),
            });
            continue;
        };
        match total.spent.checked_add(amount) {
            None => out.push(Reason::ArithmeticOverflow {
                context: format!("the {window_hours}h total of {asset}"),
            }),
            Some(sum) if sum > cap => out.push(Reason::VelocityExceeded {
                wallet: wallet.name.clone(),
                asset,
                decimals: limit.asset.decimals,
                window_hours,
                spent: total.spent,
                proposed: amount,
                limit: cap,
            }),
            Some(_) => {}
        }
    }
}
