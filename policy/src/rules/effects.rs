//! Rules over what the transaction does, which no quorum can override.

use alloy_primitives::Address;
use signgate_simulator::Operation;

use crate::{
    compile::Policy,
    evidence::{ActionFactKind, Evidence, SafeChangeKind, Screening, SimulationOutcome},
    facets::delegate_target,
    reasons::Reason,
};

/// Runs every effect rule and appends its reasons.
pub fn check(policy: &Policy, evidence: &Evidence, out: &mut Vec<Reason>) {
    sanctions(evidence, out);
    simulation(evidence, out);
    upgrades(policy, evidence, out);
    delegatecalls(policy, evidence, out);
}

/// A deny-action list hit anywhere denies; an unscreened transaction denies.
fn sanctions(evidence: &Evidence, out: &mut Vec<Reason>) {
    match &evidence.screening {
        Screening::CannotScreen { reason } => out.push(Reason::CannotScreen {
            reason: reason.clone(),
        }),
        Screening::Screened { hits } => {
            out.extend(
                hits.iter()
                    .filter(|h| h.deny)
                    .map(|h| Reason::SanctionedAddress {
                        address: h.address,
                        list: h.list.clone(),
                        entry: h.entry.clone(),
                        location: h.location.clone(),
                    }),
            );
        }
    }
}

/// Anything but a successful simulation of this exact safeTxHash denies.
fn simulation(evidence: &Evidence, out: &mut Vec<Reason>) {
    let sim = &evidence.simulation;
    if sim.outcome != SimulationOutcome::Success {
        out.push(Reason::SimulationFailed {
            outcome: sim.outcome.clone(),
        });
        return;
    }
    if sim.safe_tx_hash != Some(evidence.proposal.safe_tx_hash) {
        out.push(Reason::SimulationMismatch {
            proposed: evidence.proposal.safe_tx_hash,
            simulated: sim.safe_tx_hash,
        });
    }
}

/// Singleton and proxy implementation changes deny unless declared with the exact code hash.
fn upgrades(policy: &Policy, evidence: &Evidence, out: &mut Vec<Reason>) {
    let declared = |proxy: Address, to: Address, code_hash: Option<alloy_primitives::B256>| {
        policy
            .declared_upgrades()
            .iter()
            .any(|u| u.proxy == proxy && u.implementation == to && code_hash == Some(u.code_hash))
    };
    let safe = evidence.proposal.safe;
    for c in evidence
        .simulation
        .safe_changes
        .iter()
        .filter(|c| c.kind == SafeChangeKind::Singleton)
    {
        let (from, to) = (Address::from_word(c.before), Address::from_word(c.after));
        if !declared(safe, to, c.new_code_hash) {
            out.push(Reason::SingletonChanged {
                safe,
                from,
                to,
                code_hash: c.new_code_hash,
            });
        }
    }
    for u in &evidence.simulation.proxy_upgrades {
        if !declared(u.proxy, u.after, u.new_code_hash) {
            out.push(Reason::ImplementationChanged {
                proxy: u.proxy,
                from: u.before,
                to: u.after,
                code_hash: u.new_code_hash,
            });
        }
    }
}

/// A DELEGATECALL at any depth must hit an allowlisted target: by address in the calldata,
/// by address and code hash in the simulation.
fn delegatecalls(policy: &Policy, evidence: &Evidence, out: &mut Vec<Reason>) {
    let mut denied: Vec<Address> = Vec::new();
    for a in evidence
        .actions
        .iter()
        .filter(|a| a.operation == Operation::DelegateCall)
    {
        let known = delegate_target(policy, a.to);
        // A batch-shaped call into a non-batch library is not what the allowlist vouched for.
        let shape_ok = known.is_some_and(|t| t.batch || !matches!(a.kind, ActionFactKind::Batch));
        if !shape_ok && !denied.contains(&a.to) {
            denied.push(a.to);
            let code_hash = evidence
                .simulation
                .delegatecalls
                .iter()
                .find(|d| d.target == a.to)
                .and_then(|d| d.code_hash);
            out.push(Reason::DelegatecallNotAllowlisted {
                target: a.to,
                code_hash,
                location: format!("calldata {}", a.path),
            });
        }
    }
    for d in &evidence.simulation.delegatecalls {
        let ok = d.code_hash.is_some_and(|h| {
            policy
                .delegate_targets()
                .iter()
                .any(|t| t.address == d.target && t.code_hash == h)
        });
        if !ok && !denied.contains(&d.target) {
            denied.push(d.target);
            out.push(Reason::DelegatecallNotAllowlisted {
                target: d.target,
                code_hash: d.code_hash,
                location: format!("simulation depth {} (from {})", d.depth, d.caller),
            });
        }
    }
}
