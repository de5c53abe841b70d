//! Velocity: what a wallet already released per asset in each configured rolling window, read
//! from the store for the evidence, and the caps the store enforces when a proposal is released.
//!
//! A window is rolling: the releases in `(now - window, now]`, summed from the store's release
//! events. Reading totals for the evidence explains a decision, but cannot by itself stop two
//! releases racing each other (each would be checked before the other's amount lands), so the
//! release hands the store every cap and the proposal's outflows, and the store checks and
//! records them inside the transaction that reserves the nonce. A refusal there comes back with
//! the totals the store saw, and [`refused_totals`] turns them into evidence, so the policy
//! states the denial in its own words (`velocity.exceeded`).

use alloy_primitives::U256;
use signgate_policy::{
    Evidence, Policy, Reason,
    compile::VelocityLimit,
    evidence::VelocityTotal,
    rules::velocity::{proposed_outflows, reached_outflows},
    time::HOUR,
};

use crate::{
    error::GatewayError,
    store::{OverLimit, ProposalStore, UnixMillis, VelocityCap, VelocityOutflow},
};

/// The limits of the wallet governing `(chain_id, safe)`, in policy order. Totals, caps and a
/// refusal's totals all walk this one sequence, so their positions always match.
fn wallet_limits(
    policy: &Policy,
    chain_id: u64,
    safe: alloy_primitives::Address,
) -> impl Iterator<Item = &VelocityLimit> {
    let wallet = policy.wallet_for(chain_id, safe).map(|w| w.name.clone());
    policy
        .velocity()
        .iter()
        .filter(move |l| wallet.as_ref() == Some(&l.wallet))
}

/// The store's name for an asset: `native` or the token's checksummed address.
fn asset_key(limit: &VelocityLimit) -> String {
    limit.asset.asset.to_string()
}

/// A limit's window in milliseconds.
fn window_ms(limit: &VelocityLimit) -> i64 {
    i64::try_from(limit.window.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The rolling totals every velocity limit of the Safe's wallet needs; empty for an ungoverned
/// Safe.
pub async fn totals<S: ProposalStore>(
    store: &S,
    policy: &Policy,
    chain_id: u64,
    safe: alloy_primitives::Address,
    now: UnixMillis,
) -> Result<Vec<VelocityTotal>, GatewayError> {
    let mut out = Vec::new();
    for limit in wallet_limits(policy, chain_id, safe) {
        let since = UnixMillis(now.0.saturating_sub(window_ms(limit)));
        let spent = store
            .velocity_spent(chain_id, safe, asset_key(limit), since)
            .await?;
        out.push(total(limit, safe, spent));
    }
    Ok(out)
}

fn total(limit: &VelocityLimit, safe: alloy_primitives::Address, spent: U256) -> VelocityTotal {
    VelocityTotal {
        safe,
        asset: limit.asset.asset,
        window_hours: limit.window / HOUR,
        spent,
    }
}

/// Every limit a release is checked against, in one order that caps, a refusal's totals and
/// its reason all walk: the proposing Safe's wallet's limits, then those of each governed Safe
/// the transaction reaches (what leaves a reached Safe counts in its own windows too).
fn release_limits<'p>(
    policy: &'p Policy,
    evidence: &Evidence,
) -> Vec<(alloy_primitives::Address, &'p VelocityLimit)> {
    let p = &evidence.proposal;
    let mut safes = vec![p.safe];
    for r in &evidence.simulation.reached_safes {
        if !safes.contains(&r.safe) {
            safes.push(r.safe);
        }
    }
    safes
        .into_iter()
        .flat_map(|safe| wallet_limits(policy, p.chain_id, safe).map(move |l| (safe, l)))
        .collect()
}

/// What leaves `safe` per asset: the proposal's totals for the proposing Safe, the reached
/// Safe's own outflows and refunds for a reached one. `Err` names an overflowing asset.
fn outflows_from(
    evidence: &Evidence,
    safe: alloy_primitives::Address,
) -> Result<std::collections::BTreeMap<signgate_policy::wallets::Asset, U256>, GatewayError> {
    let found = if safe == evidence.proposal.safe {
        proposed_outflows(evidence)
    } else {
        reached_outflows(evidence, safe)
    };
    found.map_err(|asset| {
        GatewayError::Internal(format!(
            "the outflow of {asset} from {safe} overflows; nothing released"
        ))
    })
}

/// What a release hands the store: for the proposing Safe and every governed Safe it reaches,
/// the outflow of each limited asset (once per Safe and asset, however many windows limit it)
/// and every cap of that Safe's wallet. A cap whose limit does not fit in base units is zero,
/// so nothing passes it (the policy already denies it).
pub fn release_caps(
    policy: &Policy,
    evidence: &Evidence,
) -> Result<(Vec<VelocityOutflow>, Vec<VelocityCap>), GatewayError> {
    let mut out: Vec<VelocityOutflow> = Vec::new();
    let mut caps = Vec::new();
    let mut flows = std::collections::BTreeMap::new();
    for (safe, limit) in release_limits(policy, evidence) {
        let from_safe = match flows.entry(safe) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(outflows_from(evidence, safe)?)
            }
        };
        let asset = asset_key(limit);
        let amount = from_safe
            .get(&limit.asset.asset)
            .copied()
            .unwrap_or(U256::ZERO);
        if !amount.is_zero() && !out.iter().any(|o| o.asset == asset && o.safe == safe) {
            out.push(VelocityOutflow {
                safe,
                asset: asset.clone(),
                amount,
            });
        }
        caps.push(VelocityCap {
            safe,
            asset,
            window_ms: window_ms(limit),
            max: limit
                .limit
                .to_base_units(limit.asset.decimals)
                .unwrap_or(U256::ZERO),
        });
    }
    Ok((out, caps))
}

/// The totals a store refusal saw, as evidence for re-deciding the proposal. `None` when the
/// refusal does not line up with the policy's limits (it always does for caps built by
/// [`release_caps`] from the same policy and evidence).
pub fn refused_totals(
    policy: &Policy,
    evidence: &Evidence,
    over: &OverLimit,
) -> Option<Vec<VelocityTotal>> {
    let limits = release_limits(policy, evidence);
    (limits.len() == over.spent.len()).then(|| {
        limits
            .iter()
            .zip(&over.spent)
            .map(|((safe, limit), spent)| total(limit, *safe, *spent))
            .collect()
    })
}

/// The policy's `velocity.exceeded` reason for the cap a store refusal names, built directly
/// from the refusal: used only if re-deciding on the refusal's totals did not deny (the store's
/// refusal stands either way). `None` if the refusal names no limit of this policy.
pub fn crossed_reason(policy: &Policy, evidence: &Evidence, over: &OverLimit) -> Option<Reason> {
    let (safe, limit) = release_limits(policy, evidence)
        .into_iter()
        .nth(over.crossed)?;
    let proposed = outflows_from(evidence, safe)
        .ok()
        .and_then(|o| o.get(&limit.asset.asset).copied())
        .unwrap_or(U256::MAX);
    Some(Reason::VelocityExceeded {
        wallet: limit.wallet.clone(),
        asset: limit.asset.symbol.clone(),
        decimals: limit.asset.decimals,
        window_hours: limit.window / HOUR,
        spent: over.spent.get(over.crossed).copied().unwrap_or(U256::MAX),
        proposed,
        limit: limit
            .limit
            .to_base_units(limit.asset.decimals)
            .unwrap_or(U256::ZERO),
    })
}
