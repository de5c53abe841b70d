//! Properties over the case corpus: each takes a random corpus case, perturbs its evidence,
//! and checks a guarantee of `evaluate` that must hold for every policy and proposal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use alloy_primitives::{Address, U256};
use proptest::prelude::*;
use signgate_policy::{
    Decision, Evidence, Policy,
    approvals::{SignatureChecks, sign_approval},
    assess,
    cases::{SignatureMode, test_signing_key},
    evidence::{OutflowFact, SanctionsHit, Screening, SimulationOutcome, Verdict},
    time::{DAY, HOUR},
    wallets::Asset,
};

use crate::corpus::{case_files, load};

fn corpus_case(index: usize) -> (Policy, Evidence) {
    let files = case_files();
    let path = &files[index % files.len()];
    let (case, policy) = load(path);
    let (evidence, _) = case.evidence(&policy, SignatureMode::TestKeys).unwrap();
    (policy, evidence)
}

fn decide(policy: &Policy, evidence: &Evidence) -> Decision {
    assess(
        policy,
        evidence,
        &SignatureChecks::verify(&evidence.approvals),
    )
    .decision
}

fn non_probation_codes(d: &Decision) -> std::collections::BTreeSet<&'static str> {
    match d {
        Decision::Deny { reasons } => reasons
            .iter()
            .filter(|r| !r.is_probation())
            .map(|r| r.code())
            .collect(),
        _ => Default::default(),
    }
}

/// The decision with the `not_counted` reports left out: kind, reasons, and per-role counts.
type Counts = (
    String,
    Vec<&'static str>,
    Vec<(String, u32, u32)>,
    Option<String>,
);

fn counts(d: &Decision) -> Counts {
    let missing = match d {
        Decision::NeedsApprovals { missing } => missing
            .iter()
            .map(|m| (m.role.0.clone(), m.have, m.need))
            .collect(),
        _ => Vec::new(),
    };
    let approved = match d {
        Decision::Approved {
            release_after,
            expires_at,
        } => Some(format!("{release_after}..{expires_at}")),
        _ => None,
    };
    (d.kind().to_owned(), d.reason_codes(), missing, approved)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Adding a sanctioned address anywhere never yields Approved.
    #[test]
    fn sanctioned_address_never_approved(index in 0usize..1000, addr in any::<[u8; 20]>(), depth in 0usize..4) {
        let (policy, mut evidence) = corpus_case(index);
        let hit = SanctionsHit {
            address: Address::from(addr),
            list: "OFAC SDN".into(),
            entry: "generated".into(),
            location: (0..depth).map(|i| format!("multiSend[{i}]")).collect::<Vec<_>>().join(" → "),
            deny: true,
        };
        if let Screening::Screened { hits } = &mut evidence.screening {
            hits.push(hit);
        }
        prop_assert!(!decide(&policy, &evidence).is_approved());
    }

    /// Removing approvals never turns NeedsApprovals or Deny into Approved. (Removing a
    /// *rejection* may, by design: a rejection is a veto.)
    #[test]
    fn removing_approvals_never_approves(index in 0usize..1000, keep in any::<u64>()) {
        let (policy, evidence) = corpus_case(index);
        let before = decide(&policy, &evidence);
        let mut fewer = evidence.clone();
        let mut i = 0u32;
        fewer.approvals.retain(|a| { i += 1; a.verdict == Verdict::Reject || keep & (1 << (i % 64)) != 0 });
        let after = decide(&policy, &fewer);
        prop_assert!(before.is_approved() || !after.is_approved(), "{before} became {after}");
    }

    /// The initiator's own approval never changes the decision.
    #[test]
    fn initiator_approval_never_counts(index in 0usize..1000) {
        let (policy, evidence) = corpus_case(index);
        let initiator = evidence.proposal.initiator.clone();
        let Some(op) = policy.operator(&initiator) else { return Ok(()) };
        if op.keys.is_empty() { return Ok(()) }
        let before = decide(&policy, &evidence);
        let key = test_signing_key(&format!("{initiator}#0"));
        let mut more = evidence.clone();
        more.approvals.push(sign_approval(&key, Verdict::Approve, &evidence.proposal, evidence.now.plus(DAY), evidence.now.plus(0)));
        let after = decide(&policy, &more);
        // Same outcome and the same counts; only the report of what did not count may grow.
        prop_assert_eq!(counts(&before), counts(&after));
    }

    /// A rule that cannot be evaluated (no screen, no simulation, an undeclared asset, an
    /// overflowing total) always denies, whatever the approvals.
    #[test]
    fn erroring_rule_always_denies(index in 0usize..1000, kind in 0u8..4) {
        let (policy, mut evidence) = corpus_case(index);
        match kind {
            0 => evidence.screening = Screening::CannotScreen { reason: "list missing".into() },
            1 => evidence.simulation.outcome = SimulationOutcome::NotRun,
            2 => evidence.simulation.outflows.push(OutflowFact {
                asset: Asset::Token(Address::repeat_byte(0x42)),
                to: Address::repeat_byte(0x43),
                amount: U256::from(1u8),
                source: None,
                from: None,
            }),
            _ => {
                for _ in 0..2 {
                    evidence.simulation.outflows.push(OutflowFact { asset: Asset::Native, to: Address::repeat_byte(0x43), amount: U256::MAX, source: None, from: None });
                }
            }
        }
        let denied = matches!(decide(&policy, &evidence), Decision::Deny { .. });
        prop_assert!(denied);
    }

    /// Moving `now` past every probation never removes a deny reason that is not about
    /// probation (of an operator, a key, or a destination in cooling-off).
    #[test]
    fn time_never_lifts_other_denials(index in 0usize..1000, extra_hours in 0u64..5000) {
        let (policy, evidence) = corpus_case(index);
        let before = non_probation_codes(&decide(&policy, &evidence));
        let mut later = evidence.clone();
        later.now = evidence.now.plus(200 * DAY + extra_hours * HOUR);
        let after = non_probation_codes(&decide(&policy, &later));
        prop_assert!(before.is_subset(&after), "{before:?} lost reasons: {after:?}");
    }
}
