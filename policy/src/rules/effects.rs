//! Rules over what the transaction does, which no quorum can override.

use alloy_primitives::{Address, B256};
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
    reached_safes(policy, evidence, out);
}

/// Every other Safe the run reached gets the proposing Safe's rules: a DELEGATECALL in its
/// context must hit allowlisted code (by address and code hash), a singleton change must be a
/// declared upgrade, and an approved hash (a signature on a transaction of that Safe which
/// anyone may then execute, unseen here) denies. A configuration change of a Safe the policy
/// does not govern denies; of a governed one it takes the permission-change tier (facets).
fn reached_safes(policy: &Policy, evidence: &Evidence, out: &mut Vec<Reason>) {
    let chain_id = evidence.proposal.chain_id;
    for r in &evidence.simulation.reached_safes {
        let mut denied: Vec<Address> = Vec::new();
        for d in &r.delegatecalls {
            if !allowlisted(policy, d.target, d.code_hash) && !denied.contains(&d.target) {
                denied.push(d.target);
                out.push(Reason::DelegatecallNotAllowlisted {
                    target: d.target,
                    code_hash: d.code_hash,
                    location: format!(
                        "Safe {} (reached at {}), at simulation depth {} (from {}),",
                        r.safe, r.location, d.depth, d.caller
                    ),
                });
            }
        }
        let governed = policy.wallet_for(chain_id, r.safe).is_some();
        let mut seen: Vec<SafeChangeKind> = Vec::new();
        for c in &r.safe_changes {
            match c.kind {
                SafeChangeKind::Nonce => {}
                SafeChangeKind::Singleton => {
                    let (from, to) = (Address::from_word(c.before), Address::from_word(c.after));
                    if !declared_upgrade(policy, r.safe, to, c.new_code_hash) {
                        out.push(Reason::SingletonChanged {
                            safe: r.safe,
                            from,
                            to,
                            code_hash: c.new_code_hash,
                        });
                    }
                }
                SafeChangeKind::ApprovedHash if !seen.contains(&c.kind) => {
                    seen.push(c.kind);
                    out.push(Reason::ForeignHashApproved {
                        safe: r.safe,
                        location: r.location.clone(),
                    });
                }
                SafeChangeKind::ApprovedHash => {}
                kind if !governed && !seen.contains(&kind) => {
                    seen.push(kind);
                    out.push(Reason::UngovernedSafeChanged {
                        safe: r.safe,
                        change: kind,
                        location: r.location.clone(),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Code whose behaviour can change between the decision and the execution is never vouched
/// for, allowlisted or not: a code hash pins bytes, and these bytes defer to state (a proxy
/// slot, a beacon, a target read at run time) or to a key (an EIP-7702 delegation). One reason
/// per code and why, in whichever Safe it ran (the proposing Safe or one it reaches). The
/// release re-simulates at its own pin, so this rule, and the allowlist's code hashes, are
/// checked again against the state of that moment.
fn mutable_code(evidence: &Evidence, out: &mut Vec<Reason>) {
    let sim = &evidence.simulation;
    let mut seen: Vec<(Address, Address, &str)> = Vec::new();
    for m in &sim.mutable_code {
        let key = (m.safe, m.target, m.why.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(Reason::DelegatecallMutableCode {
            target: m.target,
            safe: Some(m.safe),
            location: m.location.clone(),
            why: m.why.clone(),
        });
    }
    // Records written before `mutable_code`: EIP-7702 delegations.
    for target in &sim.delegated_code {
        if !sim.mutable_code.iter().any(|m| m.target == *target) {
            out.push(Reason::DelegatecallMutableCode {
                target: *target,
                safe: None,
                location: String::new(),
                why: String::new(),
            });
        }
    }
}

/// Whether `target` with `code_hash` is on the delegatecall allowlist (both must match).
fn allowlisted(policy: &Policy, target: Address, code_hash: Option<B256>) -> bool {
    code_hash.is_some_and(|h| {
        policy
            .delegate_targets()
            .iter()
            .any(|t| t.address == target && t.code_hash == h)
    })
}

/// Whether the policy declares the upgrade of `proxy` to `to` with exactly `code_hash`.
fn declared_upgrade(policy: &Policy, proxy: Address, to: Address, code_hash: Option<B256>) -> bool {
    policy
        .declared_upgrades()
        .iter()
        .any(|u| u.proxy == proxy && u.implementation == to && code_hash == Some(u.code_hash))
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
    let declared = |proxy: Address, to: Address, code_hash: Option<B256>| {
        declared_upgrade(policy, proxy, to, code_hash)
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
    mutable_code(evidence, out);
    for d in &evidence.simulation.delegatecalls {
        if !allowlisted(policy, d.target, d.code_hash) && !denied.contains(&d.target) {
            denied.push(d.target);
            out.push(Reason::DelegatecallNotAllowlisted {
                target: d.target,
                code_hash: d.code_hash,
                location: format!("simulation depth {} (from {})", d.depth, d.caller),
            });
        }
    }
}
