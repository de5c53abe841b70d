//! Case files: an example proposal with the decision it must get.
//!
//! One format serves the test corpus (`policy/tests/fixtures/cases/`) and policy authors'
//! dry runs (`signgate policy test`). A case names a wallet and operators of the policy
//! instead of raw addresses and keys, and describes approvals instead of carrying
//! signatures: the harness signs them, with deterministic test keys
//! ([`test_signing_key`]) when the policy enrols those, or marks them valid for a dry run
//! of a real policy whose private keys nobody should hand to a test tool.
//!
//! Conveniences, all explicit here: a case without `[simulation]` simulates successfully
//! with no effects, a simulation without `safe_tx_hash` ran the proposal's hash, and a case
//! without `[screening]` screened clean.

use std::collections::BTreeSet;

use alloy_primitives::{Address, B256, FixedBytes, keccak256};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::{
    anomaly::{Action, AnomalyRule, CallKind, ProposalAlert, Subject},
    approvals::{SignatureChecks, sign_approval},
    compile::Policy,
    decision::{Decision, Evaluation},
    evaluate::assess,
    evidence::{
        ActionFact, Evidence, Intent, Proposal, RefundSettings, Screening, SignedApproval,
        SimulationFacts, SimulationOutcome, VelocityTotal, Verdict,
    },
    operators::OperatorId,
    time::{HOUR, Timestamp},
    wallets::Asset,
};

/// One case file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows, printed when it fails.
    pub description: String,
    /// Path of the policy file relative to the case file (the caller reads it).
    #[serde(default)]
    pub policy: Option<String>,
    /// The instant of the decision.
    pub now: Timestamp,
    /// The proposal, by wallet and operator names.
    pub proposal: CaseProposal,
    /// The decoded action tree, flattened, as in [`Evidence::actions`].
    #[serde(default)]
    pub actions: Vec<ActionFact>,
    /// What the simulation observed. Absent: succeeded with no effects.
    #[serde(default)]
    pub simulation: Option<SimulationFacts>,
    /// The sanctions screen. Absent: screened, no hits.
    #[serde(default)]
    pub screening: Option<Screening>,
    /// Running totals already spent by the case's wallet.
    #[serde(default)]
    pub velocity: Vec<CaseVelocity>,
    /// Destinations the wallet has paid before.
    #[serde(default)]
    pub paid_before: Vec<Address>,
    /// Approvals and rejections, signed by the harness.
    #[serde(default)]
    pub approvals: Vec<ApprovalSpec>,
    /// Anomaly alerts the initiator's submission raised (received at `now` minus two hours).
    #[serde(default)]
    pub submission_alerts: Vec<CaseAlert>,
    /// The decision the case must get.
    pub expect: Expectation,
}

/// The proposal, by wallet name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseProposal {
    /// The gateway's proposal id. Default `proposal-1`.
    #[serde(default = "default_id")]
    pub id: String,
    /// Name of the wallet in the policy; gives the chain and the Safe.
    pub wallet: String,
    /// Overrides the wallet's Safe (to propose for a Safe the policy does not govern).
    #[serde(default)]
    pub safe: Option<Address>,
    /// Defaults to `keccak256(id)`.
    #[serde(default)]
    pub safe_tx_hash: Option<B256>,
    /// Id of the initiating operator.
    pub initiator: String,
    /// The SafeTx refund settings. Absent: no refund.
    #[serde(default)]
    pub refund: RefundSettings,
    /// The module executing the transaction, if a module does.
    #[serde(default)]
    pub via_module: Option<Address>,
    /// The initiator's declared intent, if any.
    #[serde(default)]
    pub intent: Option<Intent>,
}

fn default_id() -> String {
    "proposal-1".to_owned()
}

/// A running total for the case's wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseVelocity {
    /// The asset.
    pub asset: Asset,
    /// The window in hours; must equal the velocity limit's to be found.
    pub window_hours: u64,
    /// Already spent in the window, in base units.
    pub spent: alloy_primitives::U256,
    /// The Safe the total is for, when not the proposal's (a governed Safe the proposal
    /// reaches).
    #[serde(default)]
    pub safe: Option<Address>,
}

/// An approval to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// Id of the operator whose key signs.
    pub operator: String,
    /// Index into the operator's keys.
    #[serde(default)]
    pub key: usize,
    /// Approve or reject. Default: approve.
    #[serde(default = "approve")]
    pub verdict: Verdict,
    /// Defaults to one hour before `now`.
    #[serde(default)]
    pub received_at: Option<Timestamp>,
    /// Defaults to a day after `now`.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// How to spoil the approval, for a negative case. Absent: a good approval.
    #[serde(default)]
    pub tamper: Option<Tamper>,
    /// Anomaly alerts the call that brought this approval raised.
    #[serde(default)]
    pub alerts: Vec<CaseAlert>,
}

/// An anomaly alert on the case's proposal, by rule and action; the harness fills in who, when
/// and which key from the approval (or the submission) it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseAlert {
    /// The rule that fired.
    pub rule: AnomalyRule,
    /// What it does to the decision; `alert` is recorded only and does not reach the evidence.
    pub action: Action,
}

const fn approve() -> Verdict {
    Verdict::Approve
}

/// Ways to spoil an approval for negative cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// Sign correctly, then corrupt the signature.
    BadSignature,
    /// Sign for another proposal id.
    OtherProposal,
    /// Sign for another chain id.
    OtherChain,
    /// Sign for another `safeTxHash`.
    OtherSafeTxHash,
}

/// What the decision must be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `deny`, `needs_approvals` or `approved`.
    pub decision: String,
    /// Exactly these deny codes (as a set).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Exactly these roles still missing (as a set), when given.
    #[serde(default)]
    pub missing_roles: Option<Vec<String>>,
    /// Codes that must appear among the approvals that did not count.
    #[serde(default)]
    pub not_counted: Vec<String>,
    /// Substrings the rendered decision must contain.
    #[serde(default)]
    pub message_contains: Vec<String>,
    /// For an approved decision, the exact instant it must be released.
    #[serde(default)]
    pub release_after: Option<Timestamp>,
}

/// How approvals are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMode {
    /// Sign with [`test_signing_key`]; the policy must enrol those keys. Real verification.
    TestKeys,
    /// Treat signatures as valid (dry run of a real policy); tampered ones as invalid.
    AssumeValid,
}

/// Why a case could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The case file is not valid TOML or does not have the case's shape (the parser's message).
    #[error("case file is not valid: {0}")]
    Syntax(String),
    /// The case names a wallet the policy does not declare.
    #[error("case names wallet `{0}`, which the policy does not declare")]
    UnknownWallet(String),
    /// The case names an operator the policy does not declare.
    #[error("case names operator `{0}`, who the policy does not declare")]
    UnknownOperator(String),
    /// An approval names a key index the operator does not have.
    #[error("operator `{operator}` has no key #{index}")]
    NoSuchKey {
        /// The operator's id.
        operator: String,
        /// The key index asked for.
        index: usize,
    },
    #[error(
        "key #{index} of `{operator}` is not the test key `{operator}#{index}`; run with assumed-valid signatures"
    )]
    /// With test keys: the operator's enrolled key is not the deterministic test key, so the
    /// harness cannot sign with it.
    NotATestKey {
        /// The operator's id.
        operator: String,
        /// The key index.
        index: usize,
    },
}

impl CaseAlert {
    /// The alert as the evidence carries it; `None` for `action = "alert"`.
    fn raised(
        &self,
        call: CallKind,
        subject: &Subject,
        at: Timestamp,
        key: Option<FixedBytes<32>>,
    ) -> Option<ProposalAlert> {
        (self.action != Action::Alert).then(|| ProposalAlert {
            rule: self.rule,
            subject: Some(subject.clone()),
            call,
            at,
            action: self.action.clone(),
            key,
            message: format!("[{}] {subject} {} at {at}", self.rule.code(), call.verb()),
        })
    }
}

/// The deterministic test key for `label` (`alice#0`). Never enrol one in a real policy.
pub fn test_signing_key(label: &str) -> SigningKey {
    let seed = keccak256([b"signgate test key\0".as_slice(), label.as_bytes()].concat());
    SigningKey::from_bytes(&seed.0)
}

impl Case {
    /// Parses a case file.
    pub fn parse(source: &str) -> Result<Self, CaseError> {
        toml::from_str(source).map_err(|e| CaseError::Syntax(e.to_string()))
    }

    /// The evidence and signature checks this case describes under `policy`.
    pub fn evidence(
        &self,
        policy: &Policy,
        mode: SignatureMode,
    ) -> Result<(Evidence, SignatureChecks), CaseError> {
        let wallet = policy
            .wallets()
            .iter()
            .find(|w| w.name == self.proposal.wallet)
            .ok_or_else(|| CaseError::UnknownWallet(self.proposal.wallet.clone()))?;
        let safe_tx_hash = self
            .proposal
            .safe_tx_hash
            .unwrap_or_else(|| keccak256(self.proposal.id.as_bytes()));
        let proposal = Proposal {
            id: self.proposal.id.clone(),
            chain_id: wallet.chain_id,
            safe: self.proposal.safe.unwrap_or(wallet.safe),
            safe_tx_hash,
            initiator: OperatorId(self.proposal.initiator.clone()),
            refund: self.proposal.refund.clone(),
            via_module: self.proposal.via_module,
            intent: self.proposal.intent.clone(),
        };
        let mut simulation = self.simulation.clone().unwrap_or(SimulationFacts {
            outcome: SimulationOutcome::Success,
            ..SimulationFacts::default()
        });
        if simulation.safe_tx_hash.is_none() {
            simulation.safe_tx_hash = Some(safe_tx_hash);
        }
        let mut approvals = Vec::with_capacity(self.approvals.len());
        let mut valid = Vec::with_capacity(self.approvals.len());
        let initiator = Subject::Operator(proposal.initiator.clone());
        let submitted_at = Timestamp(self.now.0.saturating_sub(2 * HOUR));
        let mut alerts: Vec<ProposalAlert> = self
            .submission_alerts
            .iter()
            .filter_map(|c| c.raised(CallKind::Submit, &initiator, submitted_at, None))
            .collect();
        for spec in &self.approvals {
            let (a, ok) = self.sign(policy, &proposal, spec, mode)?;
            let approver = Subject::Operator(OperatorId(spec.operator.clone()));
            alerts.extend(spec.alerts.iter().filter_map(|c| {
                c.raised(
                    CallKind::Approve,
                    &approver,
                    a.received_at,
                    Some(a.public_key),
                )
            }));
            approvals.push(a);
            valid.push(ok);
        }
        let checks = match mode {
            SignatureMode::TestKeys => SignatureChecks::verify(&approvals),
            SignatureMode::AssumeValid => SignatureChecks::from_results(valid),
        };
        let evidence = Evidence {
            now: self.now,
            proposal,
            actions: self.actions.clone(),
            simulation,
            screening: self
                .screening
                .clone()
                .unwrap_or(Screening::Screened { hits: Vec::new() }),
            approvals,
            velocity: self
                .velocity
                .iter()
                .map(|v| VelocityTotal {
                    safe: v.safe.unwrap_or(wallet.safe),
                    asset: v.asset,
                    window_hours: v.window_hours,
                    spent: v.spent,
                })
                .collect(),
            paid_before: self.paid_before.clone(),
            alerts,
        };
        Ok((evidence, checks))
    }

    fn sign(
        &self,
        policy: &Policy,
        proposal: &Proposal,
        spec: &ApprovalSpec,
        mode: SignatureMode,
    ) -> Result<(SignedApproval, bool), CaseError> {
        let op = policy
            .operator(&OperatorId(spec.operator.clone()))
            .ok_or_else(|| CaseError::UnknownOperator(spec.operator.clone()))?;
        let enrolled = op.keys.get(spec.key).ok_or_else(|| CaseError::NoSuchKey {
            operator: spec.operator.clone(),
            index: spec.key,
        })?;
        let signing = test_signing_key(&format!("{}#{}", spec.operator, spec.key));
        if mode == SignatureMode::TestKeys
            && signing.verifying_key().to_bytes() != enrolled.public_key.0
        {
            return Err(CaseError::NotATestKey {
                operator: spec.operator.clone(),
                index: spec.key,
            });
        }
        let mut signed_for = proposal.clone();
        match spec.tamper {
            Some(Tamper::OtherProposal) => signed_for.id.push_str("-other"),
            Some(Tamper::OtherChain) => signed_for.chain_id = signed_for.chain_id.wrapping_add(1),
            Some(Tamper::OtherSafeTxHash) => {
                signed_for.safe_tx_hash = keccak256(signed_for.safe_tx_hash)
            }
            Some(Tamper::BadSignature) | None => {}
        }
        let expires_at = spec.expires_at.unwrap_or(self.now.plus(24 * HOUR));
        let received_at = spec
            .received_at
            .unwrap_or(Timestamp(self.now.0.saturating_sub(HOUR)));
        let mut a = sign_approval(&signing, spec.verdict, &signed_for, expires_at, received_at);
        if mode == SignatureMode::AssumeValid {
            a.public_key = enrolled.public_key;
        }
        if spec.tamper == Some(Tamper::BadSignature) {
            let mut bytes = a.signature.0;
            if let Some(b) = bytes.first_mut() {
                *b ^= 1;
            }
            a.signature = FixedBytes(bytes);
        }
        Ok((a, spec.tamper != Some(Tamper::BadSignature)))
    }

    /// Runs the case: the evaluation and every way it differs from the expectation.
    pub fn run(
        &self,
        policy: &Policy,
        mode: SignatureMode,
    ) -> Result<(Evaluation, Vec<String>), CaseError> {
        let (evidence, checks) = self.evidence(policy, mode)?;
        let evaluation = assess(policy, &evidence, &checks);
        let failures = self.expect.compare(&evaluation);
        Ok((evaluation, failures))
    }
}

/// Renders an evaluation as an operator reads it: the decision, then approvals that did not count.
pub fn render(evaluation: &Evaluation) -> String {
    let mut s = evaluation.decision.to_string();
    for c in &evaluation.approvals {
        if let Some(why) = &c.not_counted {
            let who = c
                .operator
                .as_ref()
                .map_or_else(|| c.public_key.to_string(), ToString::to_string);
            s.push_str(&format!("\n  approval by {who} not counted: {why}"));
        }
    }
    s
}

impl Expectation {
    /// Every difference between this expectation and `evaluation`, as sentences.
    pub fn compare(&self, evaluation: &Evaluation) -> Vec<String> {
        let mut failures = Vec::new();
        let d = &evaluation.decision;
        if d.kind() != self.decision {
            failures.push(format!("expected {}, got {}", self.decision, d.kind()));
        }
        let got: BTreeSet<&str> = d.reason_codes().into_iter().collect();
        let want: BTreeSet<&str> = self.reasons.iter().map(String::as_str).collect();
        if got != want {
            failures.push(format!("expected reasons {want:?}, got {got:?}"));
        }
        if let Some(roles) = &self.missing_roles {
            let got: BTreeSet<String> = match d {
                Decision::NeedsApprovals { missing } => {
                    missing.iter().map(|m| m.role.0.clone()).collect()
                }
                _ => BTreeSet::new(),
            };
            let want: BTreeSet<String> = roles.iter().cloned().collect();
            if got != want {
                failures.push(format!("expected missing roles {want:?}, got {got:?}"));
            }
        }
        let not_counted: BTreeSet<&str> = evaluation
            .approvals
            .iter()
            .filter_map(|c| c.not_counted.as_ref().map(|n| n.code()))
            .collect();
        for code in &self.not_counted {
            if !not_counted.contains(code.as_str()) {
                failures.push(format!(
                    "expected an approval not counted as {code}, got {not_counted:?}"
                ));
            }
        }
        let text = render(evaluation);
        for needle in &self.message_contains {
            if !text.contains(needle.as_str()) {
                failures.push(format!(
                    "expected the message to contain {needle:?}; it reads:\n{text}"
                ));
            }
        }
        if let (Some(want), Decision::Approved { release_after, .. }) = (self.release_after, d)
            && want != *release_after
        {
            failures.push(format!(
                "expected release after {want}, got {release_after}"
            ));
        }
        failures
    }
}
