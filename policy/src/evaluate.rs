//! `evaluate`: evidence in, decision out. Pure, synchronous, no clock.
//!
//! Every rule runs (a deny does not short-circuit the others), so an operator sees every
//! reason at once and fixing one never reveals another. Reasons deny; missing approvals wait;
//! otherwise the proposal is approved for a window bounded by the time lock and the earliest
//! approval expiry.

use alloy_primitives::FixedBytes;

use crate::{
    approvals::{SignatureChecks, check_validity},
    compile::Policy,
    decision::{Decision, Evaluation},
    evidence::{Evidence, ReachedSafeFacts, SignedApproval, Verdict},
    facets::{classify, classify_reached},
    quorum::tally,
    reasons::{MissingApprovals, Reason},
    rules,
    tiers::{DestinationStatus, Requirement},
    wallets::Wallet,
};

/// Every Safe the run reached that the policy governs under a wallet other than `wallet`, with
/// its facts, in report order.
fn reached_wallets<'a>(
    policy: &'a Policy,
    wallet: &Wallet,
    evidence: &'a Evidence,
) -> Vec<(&'a Wallet, &'a ReachedSafeFacts)> {
    let chain_id = evidence.proposal.chain_id;
    evidence
        .simulation
        .reached_safes
        .iter()
        .filter_map(|r| {
            policy
                .wallet_for(chain_id, r.safe)
                .filter(|w| w.name != wallet.name)
                .map(|w| (w, r))
        })
        .collect()
}

/// Decides `evidence` under `policy`, verifying every approval signature.
pub fn evaluate(policy: &Policy, evidence: &Evidence) -> Decision {
    assess(
        policy,
        evidence,
        &SignatureChecks::verify(&evidence.approvals),
    )
    .decision
}

/// Decides with signature checks done earlier (the gateway verifies once on receipt).
pub fn evaluate_with(policy: &Policy, evidence: &Evidence, sigs: &SignatureChecks) -> Decision {
    assess(policy, evidence, sigs).decision
}

/// The decision with its audit trail: tiers applied and the fate of every approval. A
/// decision waiting for approvals names, per role, whom to ask: every holder of the role whose
/// approval given now would count, found by deciding again with that approval added — the same
/// counting, never a second opinion on who may approve.
pub fn assess(policy: &Policy, evidence: &Evidence, sigs: &SignatureChecks) -> Evaluation {
    let mut evaluation = assess_once(policy, evidence, sigs);
    if let Decision::NeedsApprovals { missing } = &mut evaluation.decision {
        name_eligible(policy, evidence, sigs, missing);
    }
    evaluation
}

/// The approvals still missing, counted as their shortfall.
fn shortfall(decision: &Decision) -> Option<u64> {
    match decision {
        Decision::NeedsApprovals { missing } => Some(
            missing
                .iter()
                .map(|m| u64::from(m.need.saturating_sub(m.have)))
                .sum(),
        ),
        Decision::Approved { .. } => Some(0),
        Decision::Deny { .. } => None,
    }
}

/// Fills each missing role's `eligible`: a holder of the role is named when one of their keys
/// not revoked now, approving now, lowers the shortfall. Hypothetical approvals are bound to
/// this proposal and taken as verified; everything else (initiator, probation, duplicates,
/// wallets, address-book segregation, expiry) is judged by the counting itself.
fn name_eligible(
    policy: &Policy,
    evidence: &Evidence,
    sigs: &SignatureChecks,
    missing: &mut [MissingApprovals],
) {
    let Some(before) = shortfall(&Decision::NeedsApprovals {
        missing: missing.to_vec(),
    }) else {
        return;
    };
    let now = evidence.now;
    let p = &evidence.proposal;
    let mut trial = evidence.clone();
    let trial_sigs = sigs.with_one_more();
    let mut helps = |key: FixedBytes<32>| -> bool {
        let hypothetical = SignedApproval {
            verdict: Verdict::Approve,
            chain_id: p.chain_id,
            safe: p.safe,
            safe_tx_hash: p.safe_tx_hash,
            proposal_id: p.id.clone(),
            expires_at: now.plus(crate::time::DAY),
            public_key: key,
            signature: FixedBytes::ZERO,
            received_at: now,
        };
        trial.approvals.truncate(evidence.approvals.len());
        trial.approvals.push(hypothetical);
        shortfall(&assess_once(policy, &trial, &trial_sigs).decision)
            .is_some_and(|after| after < before)
    };
    for m in missing.iter_mut() {
        m.eligible = policy
            .operators()
            .iter()
            .filter(|o| o.has_role(&m.role))
            .filter(|o| {
                o.keys
                    .iter()
                    .filter(|k| !k.is_revoked(now))
                    .any(|k| helps(k.public_key))
            })
            .map(|o| o.id.clone())
            .collect();
    }
}

fn assess_once(policy: &Policy, evidence: &Evidence, sigs: &SignatureChecks) -> Evaluation {
    let mut reasons: Vec<Reason> = Vec::new();
    rules::effects::check(policy, evidence, &mut reasons);
    let mut checks = check_validity(policy, evidence, sigs);
    let p = &evidence.proposal;

    let Some(wallet) = policy.wallet_for(p.chain_id, p.safe) else {
        reasons.push(Reason::UnknownWallet {
            chain_id: p.chain_id,
            safe: p.safe,
        });
        let decision = Decision::from_findings(reasons, Vec::new(), evidence.now, evidence.now);
        return Evaluation {
            decision,
            policy: policy.hash(),
            wallet: None,
            tiers: Vec::new(),
            approvals: checks,
            alerts: evidence.alerts.clone(),
        };
    };

    rules::initiator::check(policy, wallet, evidence, &mut reasons);
    rules::velocity::check(policy, wallet, evidence, &mut reasons);
    rules::refund::check(policy, wallet, evidence, &mut reasons);
    rules::intent::check(policy, wallet, evidence, &mut reasons);

    let (facets, classification) = classify(policy, wallet, evidence);
    reasons.extend(classification);
    let mut req = Requirement::empty();
    for facet in &facets {
        let mut matched = false;
        for tier in policy.tiers() {
            match tier
                .matches(wallet, facet)
                .and_then(|m| Ok((m, tier.admits_probationary(facet)?)))
            {
                Ok((true, admits)) => {
                    matched = true;
                    req.add(tier, admits);
                }
                Ok((false, _)) => {}
                Err(_) => reasons.push(Reason::ArithmeticOverflow {
                    context: format!("tier `{}` for {facet}", tier.name),
                }),
            }
        }
        if !matched {
            let cooling_off_until = facet
                .destination
                .filter(|_| facet.destination_status == Some(DestinationStatus::New))
                .and_then(|d| policy.address_book().iter().find(|e| e.address == d))
                .map(|e| e.added_at.plus(policy.cooling_off()));
            reasons.push(Reason::NoTier {
                wallet: wallet.name.clone(),
                facet: facet.to_string(),
                cooling_off_until,
            });
        }
    }

    // Anomaly alerts asking for one more approval from a role: one more slot of that role on
    // the proposing wallet's quorum, whatever the tiers asked of it (none, even).
    let extra = crate::anomaly::effects::extra_roles(&evidence.alerts);
    for (role, _) in &extra {
        let slot = req.approvals.entry(role.clone()).or_insert(0);
        *slot = slot.saturating_add(1);
    }
    let t = tally(policy, wallet, evidence, &facets, &req, &mut checks);
    reasons.extend(t.rejections);
    let (mut missing, mut release_after, mut expires_at) =
        (t.missing, t.release_after, t.expires_at);

    // A reached Safe the policy governs under another wallet is judged under that wallet too:
    // its tiers, its velocity limits, its operators. The same approvals count for both; each
    // wallet's quorum must be met.
    for (other, r) in reached_wallets(policy, wallet, evidence) {
        rules::velocity::check_reached(policy, other, evidence, &mut reasons);
        let (facets, classification) = classify_reached(policy, other, evidence, r);
        reasons.extend(classification);
        if facets.is_empty() {
            continue;
        }
        let mut other_req = Requirement::empty();
        for facet in &facets {
            let mut matched = false;
            for tier in policy.tiers() {
                match tier
                    .matches(other, facet)
                    .and_then(|m| Ok((m, tier.admits_probationary(facet)?)))
                {
                    Ok((true, admits)) => {
                        matched = true;
                        other_req.add(tier, admits);
                        req.add(tier, admits);
                    }
                    Ok((false, _)) => {}
                    Err(_) => reasons.push(Reason::ArithmeticOverflow {
                        context: format!("tier `{}` for {facet}", tier.name),
                    }),
                }
            }
            if !matched {
                reasons.push(Reason::NoTier {
                    wallet: other.name.clone(),
                    facet: facet.to_string(),
                    cooling_off_until: None,
                });
            }
        }
        // Counted on a copy: the record keeps how each approval counted for the proposing
        // wallet; an approval that does not count here only leaves this wallet's quorum short.
        let mut other_checks = checks.clone();
        let t = tally(
            policy,
            other,
            evidence,
            &facets,
            &other_req,
            &mut other_checks,
        );
        for rejection in t.rejections {
            if !reasons.contains(&rejection) {
                reasons.push(rejection);
            }
        }
        // One entry per role: the larger shortfall of the two wallets' quorums.
        for m in t.missing {
            let short = |x: &crate::reasons::MissingApprovals| x.need.saturating_sub(x.have);
            match missing.iter_mut().find(|x| x.role == m.role) {
                Some(x) if short(x) >= short(&m) => {}
                Some(x) => *x = m,
                None => missing.push(m),
            }
        }
        release_after = release_after.max(t.release_after);
        // A tier asking no approvals counts none, and its tally's expiry (now) says nothing.
        if !other_req.approvals.is_empty() {
            expires_at = expires_at.min(t.expires_at);
        }
    }
    for m in &mut missing {
        if let Some((_, rules)) = extra.iter().find(|(r, _)| *r == m.role) {
            m.asked_by_alerts.clone_from(rules);
        }
    }
    // A `hold` alert: no release before its time plus its hours, however the quorum went.
    for hold in evidence.alerts.iter().filter_map(|a| a.hold_until()) {
        release_after = release_after.max(hold);
    }
    let decision = Decision::from_findings(reasons, missing, release_after, expires_at);
    Evaluation {
        decision,
        policy: policy.hash(),
        wallet: Some(wallet.name.clone()),
        tiers: req.tiers,
        approvals: checks,
        alerts: evidence.alerts.clone(),
    }
}
