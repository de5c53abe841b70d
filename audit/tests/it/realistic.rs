//! A realistic log built from the policy corpus: the standard policy, each case as a
//! proposal with its approvals, decision and (when approved) release.
//!
//! Written against [`Sink`] so one definition serves both places a log is built: the audit
//! crate's tests append to an in-memory log, and the gateway's tests (which include this file
//! with `#[path]`) append to the durable SQLite log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};
use ed25519_dalek::SigningKey;
use signgate_audit::{AuditEvent, record::*};
use signgate_policy::{
    Evidence, Policy, PolicyHash,
    cases::{Case, SignatureMode},
    evaluate,
    governance::{PolicyStatement, sign_policy},
};

/// A log the fixture appends to.
pub trait Sink {
    /// Appends one record.
    fn append(&mut self, event: AuditEvent);
    /// Records appended so far.
    fn size(&self) -> u64;
    /// Signs a checkpoint of everything appended so far.
    fn checkpoint(&mut self);
}

pub fn policy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/fixtures")
}

pub fn standard_source() -> String {
    std::fs::read_to_string(policy_dir().join("policies/standard.toml")).unwrap()
}

pub fn audit_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

pub fn caller() -> Caller {
    Caller {
        identity: "CN=treasury-ui".to_owned(),
        token: Some(TokenDigest::of(b"bearer-secret-token")),
    }
}

/// Every corpus case that runs under the standard policy, with a unique proposal id.
pub fn corpus(policy: &Policy) -> Vec<(String, Evidence)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(policy_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut case = Case::parse(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if case.policy.is_some() {
            continue;
        }
        let id = f.file_stem().unwrap().to_string_lossy().into_owned();
        case.proposal.id = id.clone();
        if let Ok((evidence, _)) = case.evidence(policy, SignatureMode::TestKeys) {
            out.push((id, evidence));
        }
    }
    out
}

/// Appends the events of one proposal the way the pipeline will.
pub fn record_proposal(log: &mut impl Sink, policy: &Policy, evidence: &Evidence) {
    let p = &evidence.proposal;
    let mut submitted = evidence.clone();
    submitted.approvals.clear();
    log.append(AuditEvent::ProposalSubmitted(Box::new(ProposalSubmitted {
        proposal_id: p.id.clone(),
        chain_id: p.chain_id,
        safe: p.safe,
        nonce: U256::from(7),
        safe_tx_hash: p.safe_tx_hash,
        input_sha256: keccak256(p.id.as_bytes()),
        initiator: p.initiator.0.clone(),
        initiator_key: FixedBytes([1; 32]),
        initiator_signature: FixedBytes([2; 64]),
        summary: vec![format!("{} action(s) decoded", evidence.actions.len())],
        simulation_sha256: keccak256(b"report"),
        lists: vec![ListVersion {
            list: "ofac-sdn".to_owned(),
            sha256: Some(B256::repeat_byte(0x0f)),
        }],
        policy_hash: policy.hash(),
        caller: caller(),
        evidence: submitted.clone(),
    })));
    log.append(AuditEvent::DecisionMade(Box::new(DecisionMade::new(
        DecisionTrigger::Submitted,
        policy.hash(),
        evaluate(policy, &submitted),
        submitted,
    ))));
    for a in &evidence.approvals {
        log.append(AuditEvent::ApprovalReceived(ApprovalReceived {
            proposal_id: p.id.clone(),
            safe_tx_hash: p.safe_tx_hash,
            verdict: a.verdict,
            operator: policy
                .key_holder(&a.public_key)
                .map(|(o, _)| o.id.0.clone()),
            public_key: a.public_key,
            signature: a.signature,
            expires_at: a.expires_at,
            received_at: a.received_at,
            caller: caller(),
            webauthn: None,
        }));
    }
    let decision = evaluate(policy, evidence);
    let approved = decision.is_approved();
    if !evidence.approvals.is_empty() {
        log.append(AuditEvent::DecisionMade(Box::new(DecisionMade::new(
            DecisionTrigger::Approval,
            policy.hash(),
            decision,
            evidence.clone(),
        ))));
    }
    if approved {
        log.append(AuditEvent::ReleaseTicketIssued(ReleaseTicketIssued {
            proposal_id: p.id.clone(),
            chain_id: p.chain_id,
            safe: p.safe,
            nonce: U256::from(7),
            safe_tx_hash: p.safe_tx_hash,
            policy_hash: policy.hash(),
            expires_at: evidence.now.plus(600),
            ticket_sha256: keccak256(b"ticket"),
            signers: vec!["signer-a".to_owned(), "signer-b".to_owned()],
        }));
        log.append(AuditEvent::SignaturesReturned(SignaturesReturned {
            proposal_id: p.id.clone(),
            safe_tx_hash: p.safe_tx_hash,
            owners: vec![Address::repeat_byte(0xa1), Address::repeat_byte(0xb2)],
            signatures_sha256: keccak256(b"blob"),
            caller: caller(),
        }));
    }
}

/// A server run over the first `cases` corpus cases, appended to `log`, with a checkpoint
/// every `checkpoint_every` records and one at the end. Returns the proposal ids.
pub fn run_server(log: &mut impl Sink, checkpoint_every: u64, cases: usize) -> Vec<String> {
    let source = standard_source();
    let policy = Policy::compile(&source).unwrap();
    log.append(AuditEvent::ServerStarted(ServerStarted {
        version: "0.1.0".to_owned(),
        audit_key: FixedBytes(audit_key().verifying_key().to_bytes()),
        release_key: Some(FixedBytes([3; 32])),
        policy_hash: Some(policy.hash()),
        config_sha256: Some(B256::repeat_byte(0xcc)),
    }));
    let statement = PolicyStatement {
        version: 2,
        replaces: PolicyHash(B256::ZERO),
        policy: policy.hash(),
    };
    log.append(AuditEvent::PolicyApplied(PolicyApplied {
        policy_hash: policy.hash(),
        name: policy.name().to_owned(),
        previous: None,
        admin_signatures: vec![
            sign_policy(&SigningKey::from_bytes(&[9; 32]), &statement),
            sign_policy(&SigningKey::from_bytes(&[10; 32]), &statement),
        ],
        caller: caller(),
        version: statement.version,
        source: Some(source.clone()),
        migrated: false,
    }));
    log.append(AuditEvent::SanctionsList(SanctionsListChange {
        list: "ofac-sdn".to_owned(),
        outcome: ListOutcome::Loaded,
        previous_sha256: None,
        current_sha256: Some(B256::repeat_byte(0x0f)),
        added: vec![Address::repeat_byte(0x66)],
        removed: vec![],
    }));
    log.append(AuditEvent::OperatorChanged(OperatorChanged {
        operator: "mallory".to_owned(),
        change: OperatorChange::Added,
        public_key: Some(FixedBytes([4; 32])),
        detail: "joined treasury, probationary until 2025-05-02".to_owned(),
        policy_hash: Some(policy.hash()),
    }));
    let mut ids = Vec::new();
    let mut next_cp = checkpoint_every;
    for (id, evidence) in corpus(&policy).into_iter().take(cases) {
        record_proposal(log, &policy, &evidence);
        ids.push(id);
        if log.size() >= next_cp {
            log.checkpoint();
            next_cp += checkpoint_every;
        }
    }
    log.append(AuditEvent::SanctionsList(SanctionsListChange {
        list: "ofac-sdn".to_owned(),
        outcome: ListOutcome::Refused {
            reason: "published checksum does not match".to_owned(),
        },
        previous_sha256: Some(B256::repeat_byte(0x0f)),
        current_sha256: Some(B256::repeat_byte(0x0f)),
        added: vec![],
        removed: vec![],
    }));
    log.append(AuditEvent::ServerStopped(ServerStopped {
        reason: "SIGTERM".to_owned(),
    }));
    log.checkpoint();
    ids
}
