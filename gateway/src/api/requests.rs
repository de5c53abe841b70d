//! Signed requests, verified and parsed before any work is done: the initiator's
//! `ProposalSubmission` and operators' `ApprovalStatement`s, into the pipeline's
//! [`domain`](crate::domain) requests.
//!
//! Verification here covers what needs no policy: the envelope's ed25519 signature over the
//! exact payload bytes, the payload's shape (every field parsed, each failure naming it), the
//! calldata bound, and freshness (`issued_at` no older than the configured age and not in the
//! future beyond the same skew). Whether the key belongs to an operator allowed to act is the
//! policy's question, answered by the pipeline.

use std::{str::FromStr, time::Duration};

use prost::Message;
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, CANCEL_CONTEXT, SUBMISSION_CONTEXT},
    v1 as pb,
};
use signgate_simulator::SafeVersion;

use signgate_policy::anomaly::RefusalKind;

use super::convert;
use crate::{
    call_facts,
    config::Limits,
    domain::{
        CancelRequest, SignedBytes, Statement, StatementSignature, Submission, TxSource, statement,
    },
    error::GatewayError,
    store::{ApprovalKind, UnixMillis},
};

/// Longest client request id, comment and cancel reason kept.
const MAX_TEXT: usize = 1000;

fn fresh(
    field: &str,
    issued_at: UnixMillis,
    now: UnixMillis,
    max_age: Duration,
) -> Result<(), GatewayError> {
    let skew = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let stale =
        issued_at.0 < now.0.saturating_sub(skew) || issued_at.0 > now.0.saturating_add(skew);
    if stale {
        call_facts::record_refusal(RefusalKind::StaleSignature);
    }
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
) -> Result<SignedBytes, GatewayError> {
    let env = env.ok_or_else(|| GatewayError::invalid(field, "required"))?;
    if env.webauthn.is_some() {
        return Err(GatewayError::invalid(
            format!("{field}.webauthn"),
            "only an approval or rejection may be signed with a security key; sign this \
             request with the operator's ed25519 key",
        ));
    }
    // The key the request names, whether or not the signature holds: a forged request is
    // attributed to the key it claims, which is whose profile it concerns.
    call_facts::record_key(&env.public_key);
    let forged = |e: GatewayError| {
        call_facts::record_refusal(RefusalKind::ForgedSignature);
        e
    };
    let key = envelope::verifying_key(&env.public_key)
        .map_err(|e| GatewayError::invalid(format!("{field}.public_key"), e.to_string()))
        .map_err(forged)?;
    envelope::verify(&key, context, &env.payload, &env.signature)
        .map_err(|e| GatewayError::invalid(format!("{field}.signature"), e.to_string()))
        .map_err(forged)?;
    let signature = <[u8; 64]>::try_from(env.signature.as_slice())
        .map_err(|_| GatewayError::invalid(format!("{field}.signature"), "not 64 bytes"))?;
    Ok(SignedBytes {
        public_key: key,
        payload: env.payload.clone(),
        signature,
    })
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
) -> Result<Submission, GatewayError> {
    let signed = open_envelope("submission", req.submission.as_ref(), SUBMISSION_CONTEXT)?;
    let p = pb::ProposalSubmission::decode(signed.payload.as_slice()).map_err(|_| {
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
    let intent = p
        .intent
        .as_ref()
        .map(|d| convert::intent(&f("intent"), d))
        .transpose()?;
    let expected_safe_tx_hash = (!p.expected_safe_tx_hash.is_empty())
        .then(|| convert::hash(&f("expected_safe_tx_hash"), &p.expected_safe_tx_hash))
        .transpose()?;
    Ok(Submission {
        signed,
        chain_id: p.chain_id,
        safe,
        safe_version,
        tx,
        signatures: p.signatures,
        intent,
        issued_at,
        request_id: p.request_id,
        expected_safe_tx_hash,
    })
}

/// Verifies and parses the statement of an `Approve` (`expected` = Approve) or `Reject` call;
/// `field` names the envelope in errors.
pub fn approval(
    field: &str,
    env: Option<&pb::SignedEnvelope>,
    expected: ApprovalKind,
    limits: &Limits,
    now: UnixMillis,
) -> Result<Statement, GatewayError> {
    let signed = match env.and_then(|e| e.webauthn.as_ref().map(|w| (e, w))) {
        Some((env, assertion)) => webauthn_signed(field, env, assertion)?,
        None => StatementSignature::Ed25519(open_envelope(field, env, APPROVAL_CONTEXT)?),
    };
    let s = statement::parse(&format!("{field}.payload"), signed.payload())?;
    let f = |name: &str| format!("{field}.payload.{name}");
    if s.kind != expected {
        return Err(GatewayError::invalid(
            f("kind"),
            format!(
                "a {} statement sent to the {} call",
                s.kind.as_str(),
                expected.as_str()
            ),
        ));
    }
    fresh(&f("issued_at"), s.issued_at, now, limits.max_request_age)?;
    Ok(Statement { signed, says: s })
}

/// An approval envelope signed by a WebAuthn credential: its assertion, bounded and typed.
/// The signature is the pipeline's to verify (the credential is the policy's); the envelope
/// must not also carry an ed25519 key or signature, which would say two things at once.
fn webauthn_signed(
    field: &str,
    env: &pb::SignedEnvelope,
    w: &pb::WebAuthnAssertion,
) -> Result<StatementSignature, GatewayError> {
    let f = |name: &str| format!("{field}.{name}");
    if !env.public_key.is_empty() || !env.signature.is_empty() {
        return Err(GatewayError::invalid(
            f("public_key"),
            "must be empty when `webauthn` signs the statement (the credential id names the key)",
        ));
    }
    let assertion = signgate_webauthn::Assertion::new(
        w.credential_id.clone(),
        w.authenticator_data.clone(),
        w.client_data_json.clone(),
        w.signature.clone(),
    )
    .map_err(|e| GatewayError::invalid(f("webauthn"), e.to_string()))?;
    Ok(StatementSignature::WebAuthn {
        payload: env.payload.clone(),
        assertion,
    })
}

/// Verifies and parses the statement of a `Cancel` call.
pub fn cancel(
    req: &pb::CancelRequest,
    limits: &Limits,
    now: UnixMillis,
) -> Result<CancelRequest, GatewayError> {
    const FIELD: &str = "cancellation";
    if req.cancellation.is_none() {
        return Err(GatewayError::invalid(
            FIELD,
            "required: a cancel is an operator's signed CancelStatement bound to the proposal's \
             chain, Safe and safeTxHash (`signgate cancel ID --key FILE`)",
        ));
    }
    let signed = open_envelope(FIELD, req.cancellation.as_ref(), CANCEL_CONTEXT)?;
    let says = statement::parse_cancel(&format!("{FIELD}.payload"), &signed.payload)?;
    fresh(
        &format!("{FIELD}.payload.issued_at"),
        says.binding.issued_at,
        now,
        limits.max_request_age,
    )?;
    Ok(CancelRequest { signed, says })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, B256, U256};
    use ed25519_dalek::SigningKey;
    use signgate_proto::prost_types::Timestamp;

    use super::*;
    use crate::{
        config::GatewayConfig,
        domain::{ProposalAnalysis, ProposalBody},
        store::{ProposalId, ProposalRecord, ProposalState},
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
        envelope::seal(key, context, payload)
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

    fn submit(p: &pb::ProposalSubmission) -> Result<Submission, GatewayError> {
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
        assert_eq!(v.signed.public_key, key().verifying_key());
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
            body: ProposalBody {
                version: SafeVersion::V1_4_1,
                tx: signgate_simulator::SafeTx::call(
                    Address::repeat_byte(0x77),
                    U256::ZERO,
                    Default::default(),
                    U256::from(3),
                ),
                intent: None,
                supplied: Vec::new(),
                analysis: ProposalAnalysis::Legacy(Vec::new()),
                alerts: Vec::new(),
            },
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
        v.check_binding("approval", &record(hash)).unwrap();
        let err = v
            .check_binding("approval", &record(B256::repeat_byte(0xcd)))
            .unwrap_err();
        assert_eq!(field_of(err), "approval.payload.safe_tx_hash");
        let StatementSignature::Ed25519(signed) = &v.signed else {
            panic!("an ed25519 envelope");
        };
        assert_eq!(
            signed.public_key.to_bytes(),
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
