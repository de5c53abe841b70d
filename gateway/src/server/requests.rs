//! Signed requests, verified and parsed before any work is done: the initiator's
//! `ProposalSubmission` and operators' `ApprovalStatement`s.
//!
//! Verification here covers what needs no policy: the envelope's ed25519 signature over the
//! exact payload bytes, the payload's shape (every field parsed, each failure naming it), the
//! calldata bound, and freshness (`issued_at` no older than the configured age and not in the
//! future beyond the same skew). Whether the key belongs to an operator allowed to act is the
//! policy's question, answered by the pipeline.

use std::{str::FromStr, time::Duration};

use alloy_primitives::{Address, B256};
use ed25519_dalek::VerifyingKey;
use prost::Message;
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, SUBMISSION_CONTEXT},
    v1 as pb,
};
use signgate_simulator::{SafeTx, SafeVersion};

use super::{GatewayError, convert};
use crate::{
    config::Limits,
    store::{ApprovalKind, ApprovalRecord, ProposalRecord, UnixMillis},
};

/// Longest client request id and comment kept.
const MAX_TEXT: usize = 1000;

/// Where the submitted transaction comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxSource {
    /// The ten fields, parsed (boxed: far larger than the other variant).
    Fields(Box<SafeTx>),
    /// A Safe Transaction Service document, for the simulator's importer to parse and check.
    TransactionService(String),
}

/// A submission whose signature, shape and freshness were checked.
#[derive(Debug, Clone)]
pub struct VerifiedSubmission {
    /// The initiator's key (the pipeline maps it to an operator).
    pub public_key: VerifyingKey,
    pub chain_id: u64,
    pub safe: Address,
    /// `None`: read it from the state source.
    pub safe_version: Option<SafeVersion>,
    pub tx: TxSource,
    /// Packed owner signatures collected so far.
    pub signatures: Vec<u8>,
    pub intent: Option<pb::DeclaredIntent>,
    pub issued_at: UnixMillis,
    pub request_id: String,
    /// The hash the client expects; the pipeline compares it with the recomputed one.
    pub expected_safe_tx_hash: Option<B256>,
}

/// An approval or rejection whose signature, shape and freshness were checked.
#[derive(Debug, Clone)]
pub struct VerifiedApproval {
    pub public_key: VerifyingKey,
    pub statement: pb::ApprovalStatement,
    pub proposal_id: crate::store::ProposalId,
    pub chain_id: u64,
    pub safe: Address,
    pub safe_tx_hash: B256,
    pub kind: ApprovalKind,
    pub issued_at: UnixMillis,
    /// The payload and signature exactly as received, kept for re-verification and audit.
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

impl VerifiedApproval {
    /// Refuses a statement made for another chain, Safe or transaction than `proposal`.
    pub fn check_binding(&self, proposal: &ProposalRecord) -> Result<(), GatewayError> {
        let f = |name: &str| format!("approval.payload.{name}");
        if self.chain_id != proposal.chain_id {
            return Err(GatewayError::invalid(
                f("chain_id"),
                "does not match the proposal",
            ));
        }
        if self.safe != proposal.safe {
            return Err(GatewayError::invalid(
                f("safe"),
                "does not match the proposal",
            ));
        }
        if self.safe_tx_hash != proposal.safe_tx_hash {
            return Err(GatewayError::invalid(
                f("safe_tx_hash"),
                format!(
                    "the statement approves {:#x}, but proposal {} is {:#x}",
                    self.safe_tx_hash, proposal.id, proposal.safe_tx_hash
                ),
            ));
        }
        Ok(())
    }

    /// The store record, with `operator` as the pipeline resolved it.
    pub fn record(&self, operator: String, received_at: UnixMillis) -> ApprovalRecord {
        ApprovalRecord {
            operator,
            public_key: self.public_key.to_bytes(),
            kind: self.kind,
            payload: self.payload.clone(),
            signature: self.signature.clone(),
            comment: self.statement.comment.clone(),
            received_at,
        }
    }
}

fn fresh(
    field: &str,
    issued_at: UnixMillis,
    now: UnixMillis,
    max_age: Duration,
) -> Result<(), GatewayError> {
    let skew = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    if issued_at.0 < now.0.saturating_sub(skew) {
        return Err(GatewayError::invalid(
            field,
            format!("older than {}s; sign a fresh request", max_age.as_secs()),
        ));
    }
    if issued_at.0 > now.0.saturating_add(skew) {
        return Err(GatewayError::invalid(
            field,
            "in the future; check the signer's clock",
        ));
    }
    Ok(())
}

fn open_envelope(
    field: &str,
    env: Option<&pb::SignedEnvelope>,
    context: &str,
) -> Result<(VerifyingKey, Vec<u8>, Vec<u8>), GatewayError> {
    let env = env.ok_or_else(|| GatewayError::invalid(field, "required"))?;
    let key = envelope::verifying_key(&env.public_key)
        .map_err(|e| GatewayError::invalid(format!("{field}.public_key"), e.to_string()))?;
    envelope::verify(&key, context, &env.payload, &env.signature)
        .map_err(|e| GatewayError::invalid(format!("{field}.signature"), e.to_string()))?;
    Ok((key, env.payload.clone(), env.signature.clone()))
}

fn bounded(field: &str, s: &str) -> Result<(), GatewayError> {
    if s.len() > MAX_TEXT {
        return Err(GatewayError::invalid(
            field,
            format!("longer than {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

/// Verifies and parses a `SubmitProposal` request.
pub fn submission(
    req: &pb::SubmitProposalRequest,
    limits: &Limits,
    now: UnixMillis,
) -> Result<VerifiedSubmission, GatewayError> {
    let (public_key, payload, _) =
        open_envelope("submission", req.submission.as_ref(), SUBMISSION_CONTEXT)?;
    let p = pb::ProposalSubmission::decode(payload.as_slice()).map_err(|_| {
        GatewayError::invalid("submission.payload", "not an encoded ProposalSubmission")
    })?;
    let f = |name: &str| format!("submission.payload.{name}");
    if p.chain_id == 0 {
        return Err(GatewayError::invalid(f("chain_id"), "required"));
    }
    let safe = convert::address(&f("safe"), &p.safe)?;
    let safe_version = (!p.safe_version.is_empty())
        .then(|| SafeVersion::from_str(&p.safe_version))
        .transpose()
        .map_err(|_| GatewayError::invalid(f("safe_version"), "not a supported Safe version"))?;
    let tx = match &p.tx {
        Some(pb::proposal_submission::Tx::Transaction(t)) => TxSource::Fields(Box::new(
            convert::safe_tx(&f("transaction"), t, limits.max_calldata_bytes)?,
        )),
        Some(pb::proposal_submission::Tx::TransactionServiceJson(json)) => {
            // Hex calldata inside JSON takes two characters per byte.
            if json.len()
                > limits
                    .max_calldata_bytes
                    .saturating_mul(2)
                    .saturating_add(64 * 1024)
            {
                return Err(GatewayError::invalid(
                    f("transaction_service_json"),
                    "too large",
                ));
            }
            TxSource::TransactionService(json.clone())
        }
        None => {
            return Err(GatewayError::invalid(
                f("transaction"),
                "required (or transaction_service_json)",
            ));
        }
    };
    let issued = p
        .issued_at
        .as_ref()
        .ok_or_else(|| GatewayError::invalid(f("issued_at"), "required"))?;
    let issued_at = convert::unix_millis(&f("issued_at"), issued)?;
    fresh(&f("issued_at"), issued_at, now, limits.max_request_age)?;
    if p.request_id.is_empty() {
        return Err(GatewayError::invalid(f("request_id"), "required"));
    }
    bounded(&f("request_id"), &p.request_id)?;
    if let Some(intent) = &p.intent {
        bounded(&f("intent.description"), &intent.description)?;
        if !intent.recipient.is_empty() {
            convert::address(&f("intent.recipient"), &intent.recipient)?;
        }
        if !intent.amount.is_empty() {
            convert::decimal(&f("intent.amount"), &intent.amount, true)?;
        }
    }
    let expected_safe_tx_hash = (!p.expected_safe_tx_hash.is_empty())
        .then(|| convert::hash(&f("expected_safe_tx_hash"), &p.expected_safe_tx_hash))
        .transpose()?;
    Ok(VerifiedSubmission {
        public_key,
        chain_id: p.chain_id,
        safe,
        safe_version,
        tx,
        signatures: p.signatures,
        intent: p.intent,
        issued_at,
        request_id: p.request_id,
        expected_safe_tx_hash,
    })
}

/// Verifies and parses the statement of an `Approve` (`expected` = Approve) or `Reject` call.
pub fn approval(
    field: &str,
    env: Option<&pb::SignedEnvelope>,
    expected: ApprovalKind,
    limits: &Limits,
    now: UnixMillis,
) -> Result<VerifiedApproval, GatewayError> {
    let (public_key, payload, signature) = open_envelope(field, env, APPROVAL_CONTEXT)?;
    let statement = pb::ApprovalStatement::decode(payload.as_slice()).map_err(|_| {
        GatewayError::invalid(
            format!("{field}.payload"),
            "not an encoded ApprovalStatement",
        )
    })?;
    let f = |name: &str| format!("{field}.payload.{name}");
    let proposal_id = convert::proposal_id(&f("proposal_id"), &statement.proposal_id)?;
    if statement.chain_id == 0 {
        return Err(GatewayError::invalid(f("chain_id"), "required"));
    }
    let safe = convert::address(&f("safe"), &statement.safe)?;
    let safe_tx_hash = convert::hash(&f("safe_tx_hash"), &statement.safe_tx_hash)?;
    let kind = match pb::ApprovalKind::try_from(statement.kind) {
        Ok(pb::ApprovalKind::Approve) => ApprovalKind::Approve,
        Ok(pb::ApprovalKind::Reject) => ApprovalKind::Reject,
        _ => {
            return Err(GatewayError::invalid(
                f("kind"),
                "must be APPROVE or REJECT",
            ));
        }
    };
    if kind != expected {
        return Err(GatewayError::invalid(
            f("kind"),
            format!(
                "a {} statement sent to the {} call",
                kind.as_str(),
                expected.as_str()
            ),
        ));
    }
    let issued = statement
        .issued_at
        .as_ref()
        .ok_or_else(|| GatewayError::invalid(f("issued_at"), "required"))?;
    let issued_at = convert::unix_millis(&f("issued_at"), issued)?;
    fresh(&f("issued_at"), issued_at, now, limits.max_request_age)?;
    bounded(&f("comment"), &statement.comment)?;
    Ok(VerifiedApproval {
        public_key,
        proposal_id,
        chain_id: statement.chain_id,
        safe,
        safe_tx_hash,
        kind,
        issued_at,
        statement,
        payload,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use ed25519_dalek::SigningKey;
    use signgate_proto::prost_types::Timestamp;

    use super::*;
    use crate::{
        config::GatewayConfig,
        store::{ProposalId, ProposalState},
    };

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn limits() -> Limits {
        GatewayConfig::embedded_default().unwrap().limits
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn ts(ms: i64) -> Option<Timestamp> {
        Some(Timestamp {
            seconds: ms / 1000,
            nanos: 0,
        })
    }

    fn seal(context: &str, payload: Vec<u8>, key: &SigningKey) -> pb::SignedEnvelope {
        let signature = envelope::sign(key, context, &payload).to_vec();
        pb::SignedEnvelope {
            payload,
            public_key: key.verifying_key().to_bytes().to_vec(),
            signature,
        }
    }

    fn submission_payload() -> pb::ProposalSubmission {
        pb::ProposalSubmission {
            chain_id: 1,
            safe: format!("0x{}", "5a".repeat(20)),
            safe_version: "1.4.1".into(),
            tx: Some(pb::proposal_submission::Tx::Transaction(
                pb::SafeTransaction {
                    to: format!("0x{}", "77".repeat(20)),
                    value: "1000".into(),
                    nonce: "3".into(),
                    ..Default::default()
                },
            )),
            issued_at: ts(NOW.0),
            request_id: "r-1".into(),
            ..Default::default()
        }
    }

    fn submit(p: &pb::ProposalSubmission) -> Result<VerifiedSubmission, GatewayError> {
        let req = pb::SubmitProposalRequest {
            submission: Some(seal(SUBMISSION_CONTEXT, p.encode_to_vec(), &key())),
        };
        submission(&req, &limits(), NOW)
    }

    fn field_of(e: GatewayError) -> String {
        match e {
            GatewayError::InvalidArgument { field, .. } => field,
            other => panic!("expected InvalidArgument, got {other}"),
        }
    }

    #[test]
    fn a_valid_submission_parses() {
        let v = submit(&submission_payload()).unwrap();
        assert_eq!(v.chain_id, 1);
        assert_eq!(v.safe_version, Some(SafeVersion::V1_4_1));
        let TxSource::Fields(tx) = v.tx else {
            panic!("fields expected")
        };
        assert_eq!(tx.nonce, U256::from(3));
        assert_eq!(v.public_key, key().verifying_key());
    }

    #[test]
    fn bad_submissions_name_their_field() {
        let mut p = submission_payload();
        p.safe = "0xnot-an-address".into();
        assert_eq!(field_of(submit(&p).unwrap_err()), "submission.payload.safe");

        let mut p = submission_payload();
        if let Some(pb::proposal_submission::Tx::Transaction(t)) = &mut p.tx {
            t.data = vec![0; limits().max_calldata_bytes + 1];
        }
        assert_eq!(
            field_of(submit(&p).unwrap_err()),
            "submission.payload.transaction.data"
        );

        let mut p = submission_payload();
        p.issued_at = ts(NOW.0 - 3_600_000);
        assert_eq!(
            field_of(submit(&p).unwrap_err()),
            "submission.payload.issued_at"
        );

        let mut p = submission_payload();
        p.request_id.clear();
        assert_eq!(
            field_of(submit(&p).unwrap_err()),
            "submission.payload.request_id"
        );

        // Signed by one key, presented under another.
        let mut env = seal(
            SUBMISSION_CONTEXT,
            submission_payload().encode_to_vec(),
            &key(),
        );
        env.public_key = SigningKey::from_bytes(&[1; 32])
            .verifying_key()
            .to_bytes()
            .to_vec();
        let req = pb::SubmitProposalRequest {
            submission: Some(env),
        };
        assert_eq!(
            field_of(submission(&req, &limits(), NOW).unwrap_err()),
            "submission.signature"
        );

        // An approval signature replayed as a submission.
        let env = seal(
            APPROVAL_CONTEXT,
            submission_payload().encode_to_vec(),
            &key(),
        );
        let req = pb::SubmitProposalRequest {
            submission: Some(env),
        };
        assert_eq!(
            field_of(submission(&req, &limits(), NOW).unwrap_err()),
            "submission.signature"
        );

        let req = pb::SubmitProposalRequest { submission: None };
        assert_eq!(
            field_of(submission(&req, &limits(), NOW).unwrap_err()),
            "submission"
        );
    }

    fn statement(kind: pb::ApprovalKind, hash: B256) -> pb::ApprovalStatement {
        pb::ApprovalStatement {
            proposal_id: "p-1".into(),
            chain_id: 1,
            safe: format!("0x{}", "5a".repeat(20)),
            safe_tx_hash: format!("{hash:#x}"),
            kind: kind.into(),
            issued_at: ts(NOW.0),
            comment: "ok".into(),
        }
    }

    fn record(hash: B256) -> ProposalRecord {
        ProposalRecord {
            id: ProposalId::new("p-1"),
            chain_id: 1,
            safe: Address::repeat_byte(0x5a),
            nonce: U256::from(3),
            safe_tx_hash: hash,
            initiator: "alice".into(),
            state: ProposalState::NeedsApprovals,
            revision: 1,
            created_at: NOW,
            updated_at: NOW,
            cancel_reason: None,
            view: vec![],
        }
    }

    #[test]
    fn approvals_are_bound_to_their_rpc_and_transaction() {
        let hash = B256::repeat_byte(0xab);
        let env = seal(
            APPROVAL_CONTEXT,
            statement(pb::ApprovalKind::Approve, hash).encode_to_vec(),
            &key(),
        );
        let v = approval(
            "approval",
            Some(&env),
            ApprovalKind::Approve,
            &limits(),
            NOW,
        )
        .unwrap();
        v.check_binding(&record(hash)).unwrap();
        let err = v
            .check_binding(&record(B256::repeat_byte(0xcd)))
            .unwrap_err();
        assert_eq!(field_of(err), "approval.payload.safe_tx_hash");
        assert_eq!(
            v.record("bob".into(), NOW).public_key,
            key().verifying_key().to_bytes()
        );

        let err = approval(
            "rejection",
            Some(&env),
            ApprovalKind::Reject,
            &limits(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "rejection.payload.kind");

        let mut forged = env.clone();
        forged.payload = statement(pb::ApprovalKind::Approve, B256::repeat_byte(1)).encode_to_vec();
        let err = approval(
            "approval",
            Some(&forged),
            ApprovalKind::Approve,
            &limits(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "approval.signature");
    }
}
