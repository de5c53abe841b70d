//! Real simulation reports through the policy: the simulator's own output (stored as JSON in
//! `tests/fixtures/reports/`, see its PROVENANCE.md) goes through `adapters::simulation_facts`,
//! the decoded transaction through `adapters::action_facts`, and both into `evaluate` with
//! the standard fixture policy and signed approvals. Hand-written facts in the case corpus can
//! drift from what the simulator really emits; these cannot.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use std::{collections::BTreeSet, path::PathBuf};

use alloy_primitives::{Address, U256};
use serde::Deserialize;
use signgate_policy::{
    Decision, Policy,
    adapters::{action_facts, simulation_facts},
    approvals::SignatureChecks,
    assess,
    cases::{ApprovalSpec, Case, SignatureMode},
    evaluate,
    evidence::{ActionFactKind, SafeChangeKind, SimulationOutcome, Verdict},
};
use signgate_simulator::{SafeContext, SafeTx, decode_transaction, report::SimulationReport};

/// One stored report: the transaction as proposed and what its simulation did.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReportFixture {
    description: String,
    tx: SafeTx,
    report: SimulationReport,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> ReportFixture {
    let path = fixtures().join(format!("reports/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The standard policy, with its `treasury` wallet governing `safe` (the Bybit report is of
/// Bybit's own Safe; the others already run at the treasury's address).
fn standard_policy_for(safe: Address) -> Policy {
    let text = std::fs::read_to_string(fixtures().join("policies/standard.toml")).unwrap();
    let treasury = r#"safe = "0x1111111111111111111111111111111111111111""#;
    assert_eq!(text.matches(treasury).count(), 1, "standard.toml changed");
    Policy::compile(&text.replace(treasury, &format!(r#"safe = "{safe}""#))).unwrap()
}

/// A case whose actions and simulation are the real decoder's and simulator's output.
fn real_case(toml: &str, f: &ReportFixture) -> Case {
    let mut case = Case::parse(toml).unwrap();
    let ctx = SafeContext {
        chain_id: f.report.chain_id,
        safe: f.report.safe,
        version: f.report.version,
    };
    let decoded = decode_transaction(&ctx, &f.tx).unwrap();
    // The report is of this very transaction.
    assert_eq!(decoded.hashes.safe_tx_hash, f.report.safe_tx_hash);
    case.proposal.safe_tx_hash = Some(decoded.hashes.safe_tx_hash);
    case.actions = action_facts(&decoded.root, ctx.safe);
    case.simulation = Some(simulation_facts(&f.report));
    case
}

/// Decides `case` with real ed25519 approvals signed by the corpus test keys; checks the case's
/// own expectation too.
fn decide(case: &Case, policy: &Policy, f: &ReportFixture) -> Decision {
    let (evidence, _) = case.evidence(policy, SignatureMode::TestKeys).unwrap();
    let decision = evaluate(policy, &evidence);
    let evaluation = assess(
        policy,
        &evidence,
        &SignatureChecks::verify(&evidence.approvals),
    );
    let failures = case.expect.compare(&evaluation);
    assert!(
        failures.is_empty(),
        "{} ({}):\n  {}\n  decision: {}",
        case.description,
        f.description,
        failures.join("\n  "),
        signgate_policy::cases::render(&evaluation)
    );
    decision
}

fn approval(operator: &str, key: usize) -> ApprovalSpec {
    ApprovalSpec {
        operator: operator.to_owned(),
        key,
        verdict: Verdict::Approve,
        received_at: None,
        expires_at: None,
        tamper: None,
        alerts: Vec::new(),
    }
}

fn codes(d: &Decision) -> BTreeSet<&'static str> {
    d.reason_codes().into_iter().collect()
}

fn missing_roles(d: &Decision) -> BTreeSet<String> {
    match d {
        Decision::NeedsApprovals { missing } => missing.iter().map(|m| m.role.0.clone()).collect(),
        _ => BTreeSet::new(),
    }
}

const BYBIT: &str = r#"
description = "the real Bybit report with three treasury approvals and security"
now = "2025-03-01T12:00:00Z"

[proposal]
wallet = "treasury"
initiator = "alice"

[[velocity]]
asset = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
window_hours = 24
spent = "0"

[[approvals]]
operator = "bob"

[[approvals]]
operator = "carol"

[[approvals]]
operator = "henry"

[[approvals]]
operator = "dave"

[expect]
decision = "deny"
reasons = ["delegatecall.not_allowlisted", "upgrade.singleton_changed"]
message_contains = [
  "DELEGATECALLs 0x96221423681A6d52E184D440a8eFCEbB105C7242",
  "from 0x34CfAC646f301356fAa8B21e94227e3583Fe3F5F to 0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516",
]
"#;

#[test]
fn bybit_report_is_denied_for_its_delegatecall_and_singleton_change_whatever_the_quorum() {
    let f = fixture("bybit-replay");
    let facts = simulation_facts(&f.report);
    assert_eq!(facts.outcome, SimulationOutcome::Success);
    let kinds: Vec<_> = facts.safe_changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![SafeChangeKind::Singleton, SafeChangeKind::Nonce]
    );
    assert_eq!(facts.delegatecalls.len(), 1, "{:#?}", facts.delegatecalls);
    let policy = standard_policy_for(f.report.safe);
    let case = real_case(BYBIT, &f);
    let d = decide(&case, &policy, &f);
    assert!(matches!(d, Decision::Deny { .. }), "{d}");
    let got = codes(&d);
    assert!(got.contains("delegatecall.not_allowlisted"), "{got:?}");
    assert!(got.contains("upgrade.singleton_changed"), "{got:?}");
}

const BENIGN: &str = r#"
description = "the real 250,000 USDC transfer to the prime brokerage deposit"
now = "2025-03-01T12:00:00Z"

[proposal]
wallet = "treasury"
initiator = "alice"

[[velocity]]
asset = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
window_hours = 24
spent = "0"

[[approvals]]
operator = "bob"

[[approvals]]
operator = "henry"

[expect]
decision = "approved"
"#;

#[test]
fn benign_usdc_transfer_report_is_approved_with_the_tier_quorum() {
    let f = fixture("benign-usdc-transfer");
    let facts = simulation_facts(&f.report);
    let kinds: Vec<_> = facts.safe_changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![SafeChangeKind::Nonce]);
    assert!(facts.delegatecalls.is_empty(), "{:#?}", facts.delegatecalls);
    let policy = standard_policy_for(f.report.safe);
    let case = real_case(BENIGN, &f);
    assert!(
        case.actions
            .iter()
            .any(|a| matches!(a.kind, ActionFactKind::TokenTransfer { .. })),
        "{:#?}",
        case.actions
    );
    let d = decide(&case, &policy, &f);
    assert!(matches!(d, Decision::Approved { .. }), "{d}");

    // One approval short: waiting for treasury, never denied for what it does.
    let mut one = case.clone();
    one.approvals.truncate(1);
    one.expect.decision = "needs_approvals".to_owned();
    one.expect.missing_roles = Some(vec!["treasury".to_owned()]);
    let d = decide(&one, &policy, &f);
    assert_eq!(
        missing_roles(&d),
        BTreeSet::from(["treasury".to_owned()]),
        "{d}"
    );
}

const SWAP_OWNER: &str = r#"
description = "the real swapOwner report approved by treasury only"
now = "2025-03-01T12:00:00Z"

[proposal]
wallet = "treasury"
initiator = "alice"

[[approvals]]
operator = "bob"

[[approvals]]
operator = "carol"

[expect]
decision = "needs_approvals"
missing_roles = ["security"]
"#;

#[test]
fn swap_owner_report_is_a_permission_change_that_needs_the_security_role() {
    let f = fixture("swap-owner");
    let facts = simulation_facts(&f.report);
    let kinds: BTreeSet<_> = facts.safe_changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([SafeChangeKind::Owners, SafeChangeKind::Nonce])
    );
    // The self-call re-enters the proxy, whose hop into its singleton is no library
    // DELEGATECALL: the only finding is the owner change.
    assert!(facts.delegatecalls.is_empty(), "{:#?}", facts.delegatecalls);
    let policy = standard_policy_for(f.report.safe);
    let case = real_case(SWAP_OWNER, &f);
    let d = decide(&case, &policy, &f);
    assert_eq!(
        missing_roles(&d),
        BTreeSet::from(["security".to_owned()]),
        "{d}"
    );

    // The security approver completes the elevated tier.
    let mut with_security = case.clone();
    with_security.approvals.push(approval("dave", 0));
    with_security.expect.decision = "approved".to_owned();
    with_security.expect.missing_roles = None;
    let d = decide(&with_security, &policy, &f);
    assert!(matches!(d, Decision::Approved { .. }), "{d}");

    // A probationary key cannot stand in for security (Grace's key #1 is two weeks old).
    let mut probationary = case.clone();
    probationary.approvals.push(approval("grace", 1));
    let d = decide(&probationary, &policy, &f);
    assert_eq!(
        missing_roles(&d),
        BTreeSet::from(["security".to_owned()]),
        "{d}"
    );
}

/// A grant left in place by the run is an outflow to its spender: an allowance up to the Safe's
/// balance after the run (unlimited = the whole balance), an ERC-721 approval one token, an
/// operator right the whole balance, or unlimited when the token did not say.
#[test]
fn grants_in_a_report_are_outflows_to_the_spender_capped_at_the_balance() {
    use signgate_simulator::report::{Grant, GrantKind};
    let mut report = fixture("benign-usdc-transfer").report;
    let token = Address::repeat_byte(0x70);
    let spender = Address::repeat_byte(0xcc);
    let grant = |kind, holder_balance| Grant {
        token,
        spender,
        kind,
        emitter: token,
        log_index: Some(0),
        frame: 1,
        holder_balance,
    };
    let balance = U256::from(1_000u64);
    report.grants = vec![
        grant(GrantKind::Allowance { value: U256::MAX }, Some(balance)),
        grant(
            GrantKind::Allowance {
                value: U256::from(10),
            },
            Some(balance),
        ),
        grant(
            GrantKind::Token {
                token_id: U256::from(77),
            },
            None,
        ),
        grant(GrantKind::All, Some(balance)),
        grant(GrantKind::All, None),
    ];
    let amounts: Vec<U256> = signgate_policy::adapters::grant_outflows(&report)
        .iter()
        .inspect(|o| {
            assert_eq!(o.to, spender);
            assert!(
                o.source
                    .as_deref()
                    .is_some_and(|s| s.contains("call path 0→1")),
                "{o:?}"
            );
        })
        .map(|o| o.amount)
        .collect();
    assert_eq!(
        amounts,
        vec![balance, U256::from(10), U256::from(1), balance, U256::MAX]
    );
    let facts = simulation_facts(&report);
    assert!(
        facts
            .outflows
            .iter()
            .any(|o| o.to == spender && o.amount == balance)
    );
}
