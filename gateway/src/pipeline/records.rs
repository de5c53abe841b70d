//! The pipeline's audit records, appended to the tamper-evident [`AuditLog`] before the
//! response that depends on them is sent.
//!
//! The contract (gateway/src/audit): if an append fails, nothing is released and the caller
//! sees `UNAVAILABLE`. Appends are synchronous SQLite writes with `synchronous=FULL`, so they
//! run on a blocking thread.

use std::sync::Arc;

use alloy_primitives::{Address, B256, FixedBytes};
use sha2::{Digest, Sha256};
use signgate_audit::{
    AuditEvent,
    canonical::to_canonical,
    record::{
        ApprovalReceived, Caller as AuditCaller, DecisionMade, DecisionTrigger, ListVersion,
        ProposalCancelled, ProposalSubmitted, ReleaseTicketIssued, SignaturesReturned,
        SignedCancel, WebAuthnApproval,
    },
};
use signgate_policy::{
    Evaluation, Evidence, Policy, PolicyHash, evidence::Verdict, time::Timestamp,
};
use signgate_simulator::render::AssetBook;

use crate::{
    audit::AuditLog,
    domain::{Caller, CancelRequest, SignedBytes},
    error::GatewayError,
    metrics::Metrics,
    pipeline::analysis::Analysis,
    store::{ApprovalKind, ApprovalRecord, NewProposal, ProposalRecord},
};

/// Writes `events` durably in one write, or fails the request with `UNAVAILABLE`.
///
/// Every decision the pipeline makes is recorded through here with its trigger, so this is
/// also the one place decisions are counted in `metrics` (whether or not the append succeeds:
/// the decision was made; a failed append is counted on its own).
pub(crate) async fn append(
    log: &Arc<AuditLog>,
    metrics: &Metrics,
    events: Vec<AuditEvent>,
) -> Result<(), GatewayError> {
    count(metrics, &events);
    let log = log.clone();
    let kind: Vec<&'static str> = events.iter().map(AuditEvent::kind).collect();
    let span = tracing::Span::current();
    let appended = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        log.append_all(events)
    })
    .await;
    match appended {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            metrics.audit_append_failed();
            tracing::error!(error = %e, records = ?kind, "audit append failed; refusing the request");
            Err(GatewayError::Unavailable(
                "the audit log could not record this; nothing was released".to_owned(),
            ))
        }
        Err(_) => {
            metrics.audit_append_failed();
            Err(GatewayError::Unavailable(
                "the audit log could not record this; nothing was released".to_owned(),
            ))
        }
    }
}

/// Counts the decisions among `events` in `metrics`: every decision the pipeline makes is
/// recorded, through `append` or a store change, with its trigger.
pub fn count(metrics: &Metrics, events: &[AuditEvent]) {
    for event in events {
        if let AuditEvent::DecisionMade(d) = event {
            metrics.decision(d.trigger, &d.decision);
        }
    }
}

/// The caller as the log names it (never a credential).
pub fn caller(c: &Caller) -> AuditCaller {
    AuditCaller {
        identity: c.identity().to_owned(),
        token: None,
    }
}

/// A cancellation, before it is stored.
pub fn cancelled(
    record: &ProposalRecord,
    request: &CancelRequest,
    operator: &str,
    by: &Caller,
) -> AuditEvent {
    AuditEvent::ProposalCancelled(ProposalCancelled {
        proposal_id: record.id.to_string(),
        safe_tx_hash: record.safe_tx_hash,
        reason: request.says.reason.clone(),
        caller: caller(by),
        statement: Some(SignedCancel {
            operator: operator.to_owned(),
            public_key: FixedBytes(request.signed.public_key.to_bytes()),
            payload: request.signed.payload.clone().into(),
            signature: FixedBytes(request.signed.signature),
        }),
    })
}

/// One evaluation and exactly the evidence it read.
pub fn decision(
    trigger: DecisionTrigger,
    evaluation: &Evaluation,
    evidence: &Evidence,
) -> AuditEvent {
    AuditEvent::DecisionMade(Box::new(DecisionMade::new(
        trigger,
        evaluation.policy,
        evaluation.decision.clone(),
        evidence.clone(),
    )))
}

/// An operator's statement as received (`expires_at` as the evidence carried it): its ed25519
/// `signature`, or (all zero) the security key's assertion with what checks it, `webauthn`.
pub fn approval(
    record: &ProposalRecord,
    a: &ApprovalRecord,
    expires_at: Timestamp,
    received_at: Timestamp,
    by: &Caller,
    signature: [u8; 64],
    webauthn: Option<Box<WebAuthnApproval>>,
) -> AuditEvent {
    AuditEvent::ApprovalReceived(ApprovalReceived {
        proposal_id: record.id.to_string(),
        safe_tx_hash: record.safe_tx_hash,
        verdict: match a.kind {
            ApprovalKind::Approve => Verdict::Approve,
            ApprovalKind::Reject => Verdict::Reject,
        },
        operator: Some(a.operator.clone()),
        public_key: FixedBytes(a.public_key),
        signature: FixedBytes(signature),
        expires_at,
        received_at,
        caller: caller(by),
        webauthn,
    })
}

fn sha256(bytes: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(bytes)))
}

/// A release ticket about to be sent (its hash only: the ticket is a bearer authorisation).
pub fn ticket(
    record: &ProposalRecord,
    policy: PolicyHash,
    expires_at: Timestamp,
    ticket_bytes: &[u8],
    signers: Vec<String>,
) -> AuditEvent {
    AuditEvent::ReleaseTicketIssued(ReleaseTicketIssued {
        proposal_id: record.id.to_string(),
        chain_id: record.chain_id,
        safe: record.safe,
        nonce: record.nonce,
        safe_tx_hash: record.safe_tx_hash,
        policy_hash: policy,
        expires_at,
        ticket_sha256: sha256(ticket_bytes),
        signers,
    })
}

/// The packed signatures handed back to the caller.
pub fn signatures(
    record: &ProposalRecord,
    owners: Vec<Address>,
    packed: &[u8],
    by: &Caller,
) -> AuditEvent {
    AuditEvent::SignaturesReturned(SignaturesReturned {
        proposal_id: record.id.to_string(),
        safe_tx_hash: record.safe_tx_hash,
        owners,
        signatures_sha256: sha256(packed),
        caller: caller(by),
    })
}

/// The submission as the initiator signed it, with what the gateway made of it: the actions in
/// words, the simulation report's hash, the lists and the evidence of the first evaluation.
pub fn submitted(
    record: &NewProposal,
    signed: &SignedBytes,
    analysis: &Analysis,
    evaluation: &Evaluation,
    evidence: &Evidence,
    by: &Caller,
    policy: &Policy,
) -> AuditEvent {
    // The actions in the words an approver reads: amounts in the policy's units of its assets,
    // else in those the tokens gave of themselves in the simulation.
    let book = AssetBook::new(
        policy.named_assets(record.chain_id, record.safe),
        analysis
            .simulation
            .as_ref()
            .map(|r| r.tokens.clone())
            .unwrap_or_default(),
    );
    let simulation_sha256 = match &analysis.simulation {
        Ok(report) => to_canonical(report).map_or(B256::ZERO, |b| sha256(&b)),
        Err(why) => sha256(why.to_string().as_bytes()),
    };
    let lists = analysis
        .lists
        .iter()
        .map(|l| ListVersion {
            list: l.list.clone(),
            sha256: l.sha256,
        })
        .collect();
    AuditEvent::ProposalSubmitted(Box::new(ProposalSubmitted {
        proposal_id: record.id.to_string(),
        chain_id: record.chain_id,
        safe: record.safe,
        nonce: record.nonce,
        safe_tx_hash: record.safe_tx_hash,
        input_sha256: sha256(&signed.payload),
        initiator: record.initiator.clone(),
        initiator_key: FixedBytes(signed.public_key.to_bytes()),
        initiator_signature: FixedBytes(signed.signature),
        summary: analysis
            .decoded
            .root
            .words(Some(record.safe), &book)
            .lines()
            .map(str::to_owned)
            .collect(),
        simulation_sha256,
        lists,
        policy_hash: evaluation.policy,
        caller: caller(by),
        evidence: evidence.clone(),
    }))
}
