//! Velocity totals: what a wallet already released per asset in each configured window, read
//! from the store for the evidence, and added to the store when a proposal is released.
//!
//! Windows sit on a fixed grid (a 24-hour window starts at 00:00 UTC), because the store keys a
//! total by its window start. This is coarser than a rolling window; where two limits' grids
//! share a start, their totals share a row, which can only over-count (deny more), never
//! under-count. The check at release reads the totals again, but two releases for *different*
//! nonces racing each other are each checked before the other's amount lands (a known gap:
//! closing it needs the limit check inside the store's release transaction).

use std::collections::BTreeSet;

use alloy_primitives::{Address, U256};
use signgate_policy::{
    Evidence, Policy, evidence::VelocityTotal, rules::velocity::proposed_outflows, time::HOUR,
};

use crate::{
    server::GatewayError,
    store::{ProposalStore, UnixMillis, VelocityDelta},
};

/// The start of the grid window of `window_secs` that contains `now`.
pub fn window_start(now: UnixMillis, window_secs: u64) -> UnixMillis {
    let window_ms = i64::try_from(window_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX)
        .max(1);
    UnixMillis(now.0 - now.0.rem_euclid(window_ms))
}

/// The totals every velocity limit of the Safe's wallet needs; empty for an ungoverned Safe.
pub async fn totals<S: ProposalStore>(
    store: &S,
    policy: &Policy,
    chain_id: u64,
    safe: Address,
    now: UnixMillis,
) -> Result<Vec<VelocityTotal>, GatewayError> {
    let Some(wallet) = policy.wallet_for(chain_id, safe) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for limit in policy.velocity().iter().filter(|l| l.wallet == wallet.name) {
        let spent = store
            .velocity_total(
                chain_id,
                safe,
                limit.asset.asset.to_string(),
                window_start(now, limit.window),
            )
            .await?;
        out.push(VelocityTotal {
            safe,
            asset: limit.asset.asset,
            window_hours: limit.window / HOUR,
            spent,
        });
    }
    Ok(out)
}

/// What a release adds: the proposal's outflow of each limited asset, once per distinct window
/// start. An outflow sum that overflows adds nothing here; the policy already denied it.
pub fn deltas(policy: &Policy, evidence: &Evidence, now: UnixMillis) -> Vec<VelocityDelta> {
    let p = &evidence.proposal;
    let (Some(wallet), Ok(outflows)) = (
        policy.wallet_for(p.chain_id, p.safe),
        proposed_outflows(evidence),
    ) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for limit in policy.velocity().iter().filter(|l| l.wallet == wallet.name) {
        let amount = outflows
            .get(&limit.asset.asset)
            .copied()
            .unwrap_or(U256::ZERO);
        let start = window_start(now, limit.window);
        let asset = limit.asset.asset.to_string();
        if amount.is_zero() || !seen.insert((asset.clone(), start.0)) {
            continue;
        }
        out.push(VelocityDelta {
            asset,
            window_start: start,
            amount,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_sit_on_a_grid() {
        let day = 24 * 3600;
        assert_eq!(window_start(UnixMillis(0), day), UnixMillis(0));
        assert_eq!(
            window_start(UnixMillis(86_400_000 + 5), day),
            UnixMillis(86_400_000)
        );
        assert_eq!(window_start(UnixMillis(86_399_999), day), UnixMillis(0));
        // A zero window cannot divide by zero.
        assert_eq!(window_start(UnixMillis(7), 0), UnixMillis(7));
    }
}
