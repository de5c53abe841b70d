//! Effects outside the initiator's declared intent deny: the Bybit signers believed they
//! approved a transfer to a known address, and the transaction did something else.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};

use crate::{
    compile::Policy,
    evidence::{Evidence, SafeChangeKind},
    facets::delegate_target,
    movements::refunds,
    reasons::{IntentDeviation, Reason},
    wallets::{Asset, Wallet},
};

/// Appends a reason per deviation when the proposal carries an intent.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    let units = |asset: Asset| wallet.asset(asset).map(|a| (a.symbol.clone(), a.decimals));
    let Some(intent) = &evidence.proposal.intent else {
        return;
    };
    let mut push = |deviation| {
        out.push(Reason::OutsideIntent {
            intent: intent.summary.clone(),
            deviation,
        })
    };
    let sim = &evidence.simulation;

    let mut declared: BTreeMap<(Asset, Address), U256> = BTreeMap::new();
    for t in &intent.transfers {
        let slot = declared.entry((t.asset, t.to)).or_insert(U256::ZERO);
        *slot = slot.saturating_add(t.amount);
    }
    let mut actual: BTreeMap<(Asset, Address), U256> = BTreeMap::new();
    for o in &sim.outflows {
        let slot = actual.entry((o.asset, o.to)).or_insert(U256::ZERO);
        *slot = slot.saturating_add(o.amount);
    }
    for ((asset, to), amount) in &actual {
        match declared.get(&(*asset, *to)) {
            None => push(IntentDeviation::UndeclaredOutflow {
                asset: *asset,
                to: *to,
                amount: *amount,
                units: units(*asset),
            }),
            Some(d) if amount > d => push(IntentDeviation::ExcessOutflow {
                asset: *asset,
                to: *to,
                declared: *d,
                actual: *amount,
                units: units(*asset),
            }),
            Some(_) => {}
        }
    }
    for ((asset, to), amount) in &declared {
        if !actual.contains_key(&(*asset, *to)) {
            push(IntentDeviation::MissingTransfer {
                asset: *asset,
                to: *to,
                amount: *amount,
                units: units(*asset),
            });
        }
    }
    let mut kinds: Vec<SafeChangeKind> = sim
        .safe_changes
        .iter()
        .map(|c| c.kind)
        .filter(|k| !matches!(k, SafeChangeKind::Nonce | SafeChangeKind::ApprovedHash))
        .filter(|k| !intent.safe_changes.contains(k))
        .collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        push(IntentDeviation::UndeclaredSafeChange { kind });
    }
    for u in &sim.proxy_upgrades {
        push(IntentDeviation::UndeclaredUpgrade { proxy: u.proxy });
    }
    let mut targets: Vec<Address> = sim
        .delegatecalls
        .iter()
        .map(|d| d.target)
        .filter(|t| !delegate_target(policy, *t).is_some_and(|x| x.batch))
        .collect();
    targets.sort();
    targets.dedup();
    for target in targets {
        push(IntentDeviation::UndeclaredDelegatecall { target });
    }
    for r in refunds(evidence) {
        push(IntentDeviation::UndeclaredRefund {
            asset: r.asset,
            refund_receiver: r.receiver.unwrap_or(Address::ZERO),
            amount: r.amount,
            units: units(r.asset),
        });
    }
}
