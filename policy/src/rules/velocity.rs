//! Rolling-window limits. The gateway supplies what each window already holds; this rule
//! adds the proposal with checked arithmetic and compares.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};

use crate::{
    compile::Policy,
    evidence::Evidence,
    movements::{refunds, totals},
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
    check_amounts(policy, wallet, &proposed, evidence, out);
}

/// What leaves `safe`, a Safe the proposal reaches, per asset: its outflows in the simulation
/// and the worst case of every refund it pays. `Err` names the overflowing asset.
pub fn reached_outflows(
    evidence: &Evidence,
    safe: Address,
) -> Result<BTreeMap<Asset, U256>, Asset> {
    let mut out: BTreeMap<Asset, U256> = BTreeMap::new();
    let mut add = |asset: Asset, amount: U256| {
        let slot = out.entry(asset).or_insert(U256::ZERO);
        *slot = slot.checked_add(amount).ok_or(asset)?;
        Ok::<(), Asset>(())
    };
    for o in evidence
        .simulation
        .outflows
        .iter()
        .filter(|o| o.from == Some(safe))
    {
        add(o.asset, o.amount)?;
    }
    for r in refunds(evidence)
        .iter()
        .filter(|r| r.paid_by.as_ref().is_some_and(|p| p.safe == safe))
    {
        add(r.asset, r.amount)?;
    }
    Ok(out)
}

/// A Safe the proposal reaches that the policy governs as `wallet` is held to that wallet's
/// limits too, for what leaves it (see [`reached_outflows`]), against that Safe's own totals.
pub fn check_reached(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    match reached_outflows(evidence, wallet.safe) {
        Ok(proposed) => check_amounts(policy, wallet, &proposed, evidence, out),
        Err(asset) => out.push(Reason::ArithmeticOverflow {
            context: format!("the total outflow of {asset} from Safe {}", wallet.safe),
        }),
    }
}

/// The limits of `wallet` against `proposed` (per asset) and the totals the gateway supplied
/// for `wallet.safe`.
fn check_amounts(
    policy: &Policy,
    wallet: &Wallet,
    proposed: &BTreeMap<Asset, U256>,
    evidence: &Evidence,
    out: &mut Vec<Reason>,
) {
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
