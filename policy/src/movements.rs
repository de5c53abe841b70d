//! What the proposal moves out of the Safe, as a whole: the one place tiers, velocity and the
//! refund rule get their amounts from.
//!
//! Amounts are totals over the proposal, never per call: four 1M transfers in one MultiSend are a
//! 4M outflow, judged exactly as one 4M transfer would be. Calldata and simulation are both read
//! and the larger wins per asset (and per destination), so neither a transfer the simulation
//! hides nor one the decoder does not know gets through smaller. The gas refund is a movement
//! of its own, at the worst case its SafeTx fields allow, added on top: it never shows in
//! calldata and the run pays only one instance of it.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};
use signgate_simulator::{Operation, tx::max_refund};

use crate::{
    evidence::{ActionFactKind, Evidence, RefundPaidFact, RefundSettings},
    reasons::RefundPayer,
    wallets::Asset,
};

/// A gas refund, as a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The gas token, or the native coin when `gasToken` is zero.
    pub asset: Asset,
    /// `refundReceiver`; `None` when it is zero, and the refund goes to whoever executes the
    /// transaction (`tx.origin`), a party nobody vouched for.
    pub receiver: Option<Address>,
    /// The most it can pay: the larger of the bound from the SafeTx fields and what the
    /// simulation paid.
    pub amount: U256,
    /// The SafeTx refund fields it comes from.
    pub settings: RefundSettings,
    /// The Safe that pays it when that is not the proposing Safe: an inner `execTransaction`.
    pub paid_by: Option<RefundPayer>,
}

/// Every refund the proposal can pay: its own (when its `gasPrice` is not zero) and that of
/// every inner `execTransaction` the simulation ran with a non-zero `gasPrice`, at any depth.
/// An inner Safe pays its refund on chain at the executor's gas price, which the simulation
/// cannot know, so each is judged at its worst case like the outer one.
pub fn refunds(evidence: &Evidence) -> Vec<Refund> {
    let mut out: Vec<Refund> = refund(evidence).into_iter().collect();
    for inner in &evidence.simulation.inner_refunds {
        let s = &inner.settings;
        let paid = inner.paid.map(|amount| RefundPaidFact {
            asset: if s.gas_token == Address::ZERO {
                Asset::Native
            } else {
                Asset::Token(s.gas_token)
            },
            paid_to: s.refund_receiver,
            amount,
        });
        if let Some(mut r) = refund_of(s, paid.as_ref()) {
            r.paid_by = Some(RefundPayer {
                safe: inner.safe,
                location: inner.location.clone(),
            });
            out.push(r);
        }
    }
    out
}

/// The refund the proposal can pay, when its `gasPrice` is not zero.
pub fn refund(evidence: &Evidence) -> Option<Refund> {
    refund_of(
        &evidence.proposal.refund,
        evidence.simulation.refund.as_ref(),
    )
}

/// The refund of these SafeTx refund settings, given what a simulation paid (if it ran).
pub fn refund_of(r: &RefundSettings, paid: Option<&RefundPaidFact>) -> Option<Refund> {
    if r.gas_price.is_zero() {
        return None;
    }
    let asset = if r.gas_token == Address::ZERO {
        Asset::Native
    } else {
        Asset::Token(r.gas_token)
    };
    let paid = paid
        .filter(|p| p.asset == asset)
        .map_or(U256::ZERO, |p| p.amount);
    Some(Refund {
        asset,
        receiver: (r.refund_receiver != Address::ZERO).then_some(r.refund_receiver),
        amount: max_refund(r.safe_tx_gas, r.base_gas, r.gas_price).max(paid),
        settings: r.clone(),
        paid_by: None,
    })
}

/// Where value goes: a named address, or whoever executes the transaction.
pub type Destination = Option<Address>;

/// The proposal's outflows summed per asset and per (asset, destination). `Err` names the asset
/// whose sum overflowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Per asset: what the proposal sends of it in all.
    pub per_asset: BTreeMap<Asset, U256>,
    /// Per asset and destination.
    pub per_destination: BTreeMap<(Asset, Destination), U256>,
}

/// Sums every outflow of the proposal: calldata (native value of every CALL, every token
/// transfer), simulation (every outflow the run observed) and every refund (see [`refunds`]).
pub fn totals(evidence: &Evidence) -> Result<Totals, Asset> {
    type Sums = BTreeMap<(Asset, Destination), U256>;
    let add = |map: &mut Sums, asset: Asset, to: Destination, amount: U256| {
        let slot = map.entry((asset, to)).or_insert(U256::ZERO);
        *slot = slot.checked_add(amount).ok_or(asset)?;
        Ok::<(), Asset>(())
    };
    let mut calldata = Sums::new();
    for a in &evidence.actions {
        if a.operation == Operation::Call && !a.value.is_zero() {
            add(&mut calldata, Asset::Native, Some(a.to), a.value)?;
        }
        if let ActionFactKind::TokenTransfer { recipient, amount } = a.kind {
            add(&mut calldata, Asset::Token(a.to), Some(recipient), amount)?;
        }
    }
    let mut simulated = Sums::new();
    for o in &evidence.simulation.outflows {
        add(&mut simulated, o.asset, Some(o.to), o.amount)?;
    }
    let sum_by_asset = |map: &Sums| {
        let mut out: BTreeMap<Asset, U256> = BTreeMap::new();
        for ((asset, _), amount) in map {
            let slot = out.entry(*asset).or_insert(U256::ZERO);
            *slot = slot.checked_add(*amount).ok_or(*asset)?;
        }
        Ok::<_, Asset>(out)
    };
    let mut per_asset = sum_by_asset(&calldata)?;
    for (asset, amount) in sum_by_asset(&simulated)? {
        let slot = per_asset.entry(asset).or_insert(U256::ZERO);
        *slot = (*slot).max(amount);
    }
    let mut per_destination = calldata;
    for (key, amount) in simulated {
        let slot = per_destination.entry(key).or_insert(U256::ZERO);
        *slot = (*slot).max(amount);
    }
    for r in refunds(evidence) {
        add(&mut per_destination, r.asset, r.receiver, r.amount)?;
        let slot = per_asset.entry(r.asset).or_insert(U256::ZERO);
        *slot = slot.checked_add(r.amount).ok_or(r.asset)?;
    }
    per_asset.retain(|_, v| !v.is_zero());
    per_destination.retain(|_, v| !v.is_zero());
    Ok(Totals {
        per_asset,
        per_destination,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test assertions")]

    use alloy_primitives::B256;
    use signgate_simulator::decode::ActionPath;

    use super::*;
    use crate::{
        evidence::{ActionFact, OutflowFact, Proposal, SimulationFacts},
        time::Timestamp,
    };

    const TOKEN: Address = Address::repeat_byte(0x70);
    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    fn evidence(actions: Vec<ActionFact>, outflows: Vec<OutflowFact>) -> Evidence {
        Evidence {
            now: Timestamp(0),
            proposal: Proposal {
                id: "p".into(),
                chain_id: 1,
                safe: Address::repeat_byte(0x5a),
                safe_tx_hash: B256::ZERO,
                initiator: "alice".into(),
                refund: RefundSettings::default(),
                via_module: None,
                intent: None,
            },
            actions,
            simulation: SimulationFacts {
                outflows,
                ..SimulationFacts::default()
            },
            screening: crate::evidence::Screening::default(),
            approvals: Vec::new(),
            velocity: Vec::new(),
            paid_before: Vec::new(),
            alerts: Vec::new(),
        }
    }

    fn send(i: usize, to: Address, amount: u64) -> ActionFact {
        ActionFact {
            path: ActionPath::default().child(i),
            operation: Operation::Call,
            to: TOKEN,
            value: U256::ZERO,
            kind: ActionFactKind::TokenTransfer {
                recipient: to,
                amount: U256::from(amount),
            },
        }
    }

    fn out(to: Address, amount: u64) -> OutflowFact {
        OutflowFact {
            asset: Asset::Token(TOKEN),
            to,
            amount: U256::from(amount),
            source: None,
            from: None,
        }
    }

    #[test]
    fn a_split_payment_is_summed_per_asset_and_destination() {
        let e = evidence(
            vec![send(0, A, 1), send(1, A, 2), send(2, B, 4)],
            vec![out(A, 1), out(A, 2), out(B, 4)],
        );
        let t = totals(&e).unwrap();
        assert_eq!(t.per_asset[&Asset::Token(TOKEN)], U256::from(7));
        assert_eq!(
            t.per_destination[&(Asset::Token(TOKEN), Some(A))],
            U256::from(3)
        );
        assert_eq!(
            t.per_destination[&(Asset::Token(TOKEN), Some(B))],
            U256::from(4)
        );
    }

    #[test]
    fn the_larger_of_calldata_and_simulation_counts_never_both() {
        // The simulation shows more than the calldata declares (a token with a fee, a hidden
        // transfer): the simulation wins. Calldata the simulation does not show still counts.
        let e = evidence(vec![send(0, A, 5)], vec![out(A, 5), out(B, 9)]);
        let t = totals(&e).unwrap();
        assert_eq!(t.per_asset[&Asset::Token(TOKEN)], U256::from(14));
        let e = evidence(vec![send(0, A, 5)], Vec::new());
        assert_eq!(
            totals(&e).unwrap().per_asset[&Asset::Token(TOKEN)],
            U256::from(5)
        );
    }

    #[test]
    fn the_refund_is_its_worst_case_on_top_to_the_executor_when_no_receiver() {
        let mut e = evidence(vec![send(0, A, 5)], vec![out(A, 5)]);
        e.proposal.refund = RefundSettings {
            safe_tx_gas: U256::from(100_000),
            base_gas: U256::from(999_000_000),
            gas_price: U256::from(10_000_000_000u64),
            gas_token: Address::ZERO,
            refund_receiver: Address::ZERO,
        };
        let r = refund(&e).unwrap();
        let worst = U256::from(100_000 + 40_000 + 999_000_000u64) * U256::from(10_000_000_000u64);
        assert_eq!(
            (r.asset, r.receiver, r.amount),
            (Asset::Native, None, worst)
        );
        assert_eq!(r.paid_by, None);
        let t = totals(&e).unwrap();
        assert_eq!(t.per_asset[&Asset::Native], worst);
        assert_eq!(t.per_destination[&(Asset::Native, None)], worst);

        // A run that paid more than the bound (it cannot, but the evidence says so) wins.
        e.simulation.refund = Some(RefundPaidFact {
            asset: Asset::Native,
            paid_to: B,
            amount: worst + U256::from(1),
        });
        assert_eq!(refund(&e).unwrap().amount, worst + U256::from(1));

        // In a token, to a named receiver: the token total grows by the refund.
        e.simulation.refund = None;
        e.proposal.refund.gas_token = TOKEN;
        e.proposal.refund.refund_receiver = B;
        e.proposal.refund.gas_price = U256::from(1);
        let t = totals(&e).unwrap();
        let worst = U256::from(100_000 + 40_000 + 999_000_000u64);
        assert_eq!(t.per_asset[&Asset::Token(TOKEN)], worst + U256::from(5));
        assert_eq!(t.per_destination[&(Asset::Token(TOKEN), Some(B))], worst);

        // An inner execTransaction's refund is a refund of its own, on top, paid by that Safe.
        let inner = RefundSettings {
            safe_tx_gas: U256::from(60_000),
            base_gas: U256::ZERO,
            gas_price: U256::from(2),
            gas_token: TOKEN,
            refund_receiver: A,
        };
        e.simulation
            .inner_refunds
            .push(crate::evidence::InnerRefundFact {
                safe: B,
                location: "call path 0→1→2".into(),
                settings: inner,
                paid: Some(U256::from(3)),
            });
        let all = refunds(&e);
        assert_eq!(all.len(), 2);
        let inner_worst = U256::from((60_000 + 40_000) * 2u64);
        assert_eq!(all[1].amount, inner_worst);
        assert_eq!(all[1].paid_by.as_ref().map(|p| p.safe), Some(B));
        let t = totals(&e).unwrap();
        assert_eq!(
            t.per_asset[&Asset::Token(TOKEN)],
            worst + U256::from(5) + inner_worst
        );
        assert_eq!(
            t.per_destination[&(Asset::Token(TOKEN), Some(A))],
            U256::from(5) + inner_worst
        );
        // A zero inner gasPrice pays nothing.
        e.simulation.inner_refunds[0].settings.gas_price = U256::ZERO;
        assert_eq!(refunds(&e).len(), 1);
        e.simulation.inner_refunds.clear();

        // No gasPrice, no refund, whatever baseGas says.
        e.proposal.refund.gas_price = U256::ZERO;
        assert_eq!(refund(&e), None);
        assert_eq!(
            totals(&e).unwrap().per_asset[&Asset::Token(TOKEN)],
            U256::from(5)
        );
    }
}
