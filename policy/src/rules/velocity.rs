//! Rolling-window limits. The gateway supplies what each window already holds; this rule
//! adds the proposal with checked arithmetic and compares.

use std::collections::BTreeMap;

use alloy_primitives::U256;

use crate::{
    compile::Policy,
    evidence::Evidence,
    movements::totals,
    reasons::Reason,
    time::HOUR,
    wallets::{Asset, Wallet},
};

/// What the proposal sends per asset, in all (see [`crate::movements::totals`]): calldata and
/// simulation, the larger per asset (grants included as the simulation caps them at the Safe's
/// balance; a calldata grant's stated allowance is not a movement by itself), plus the
/// worst-case gas refund. `Err` names the overflowing asset.
pub fn proposed_outflows(evidence: &Evidence) -> Result<BTreeMap<Asset, U256>, Asset> {
    totals(evidence).map(|t| t.per_asset)
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
