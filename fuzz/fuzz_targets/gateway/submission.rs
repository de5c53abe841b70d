//! The `ProposalSubmission` inside an initiator's `SignedEnvelope`, sealed by a fixed key and
//! passed through `api::requests::submission`, the parse the gateway runs before any policy.
//! `now` is the payload's own `issued_at` when it has one, so freshness rarely hides the rest.
//! Never a panic; a refused payload is an `InvalidArgument` naming a field under `submission`,
//! never a default; an accepted one keeps the signed bytes, and re-encoded canonically it is
//! accepted again with the same fields; a Transaction Service document it carries goes through
//! the importer the pipeline calls.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use signgate_gateway::{
    api::requests,
    config::{GatewayConfig, Limits},
    domain::{IntentAsset, Submission, TxSource, wire},
    error::GatewayError,
    store::UnixMillis,
};
use signgate_proto::{
    envelope::{self, SUBMISSION_CONTEXT},
    v1 as pb,
};
use signgate_simulator::tx_service;

fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| match GatewayConfig::embedded_default() {
        Ok(c) => c.limits,
        Err(e) => panic!("embedded default config: {e}"),
    })
}

fn submit(payload: Vec<u8>, now: UnixMillis) -> Result<Submission, GatewayError> {
    let req = pb::SubmitProposalRequest {
        submission: Some(envelope::seal(
            &SigningKey::from_bytes(&[7; 32]),
            SUBMISSION_CONTEXT,
            payload,
        )),
    };
    requests::submission(&req, limits(), now)
}

/// The submission written back as the client library would write it.
fn canonical(s: &Submission) -> pb::ProposalSubmission {
    pb::ProposalSubmission {
        chain_id: s.chain_id,
        safe: s.safe.to_checksum(None),
        safe_version: s
            .safe_version
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default(),
        tx: Some(match &s.tx {
            TxSource::Fields(tx) => {
                pb::proposal_submission::Tx::Transaction(wire::safe_tx_to_proto(tx))
            }
            TxSource::TransactionService(json) => {
                pb::proposal_submission::Tx::TransactionServiceJson(json.clone())
            }
        }),
        signatures: s.signatures.clone(),
        intent: s.intent.as_ref().map(|i| pb::DeclaredIntent {
            description: i.description.clone(),
            recipient: i.recipient.map(|a| a.to_checksum(None)).unwrap_or_default(),
            asset: match i.asset {
                None => String::new(),
                Some(IntentAsset::Native) => "native".to_owned(),
                Some(IntentAsset::Token(t)) => t.to_checksum(None),
            },
            amount: i.amount.map(|a| a.to_string()).unwrap_or_default(),
        }),
        issued_at: Some(wire::timestamp(s.issued_at)),
        request_id: s.request_id.clone(),
        expected_safe_tx_hash: s
            .expected_safe_tx_hash
            .map(|h| format!("{h:#x}"))
            .unwrap_or_default(),
    }
}

fuzz_target!(|payload: &[u8]| {
    let now = pb::ProposalSubmission::decode(payload)
        .ok()
        .and_then(|p| p.issued_at)
        .and_then(|t| wire::unix_millis("t", &t).ok())
        .unwrap_or(UnixMillis(1_800_000_000_000));
    let s = match submit(payload.to_vec(), now) {
        Ok(s) => s,
        Err(GatewayError::InvalidArgument { field, .. }) => {
            assert!(field.starts_with("submission."), "refusal names {field}");
            return;
        }
        Err(other) => panic!("refused with {other:?}, not InvalidArgument"),
    };
    assert_ne!(s.chain_id, 0);
    assert!(!s.request_id.is_empty() && s.request_id.len() <= 1000);
    assert_eq!(s.signed.payload, payload);
    if let TxSource::Fields(tx) = &s.tx {
        assert!(tx.data.len() <= limits().max_calldata_bytes);
    }

    let again = match submit(canonical(&s).encode_to_vec(), now) {
        Ok(again) => again,
        Err(e) => panic!("the canonical re-encoding is refused: {e:?}"),
    };
    assert_eq!(again.chain_id, s.chain_id);
    assert_eq!(again.safe, s.safe);
    assert_eq!(again.safe_version, s.safe_version);
    assert_eq!(again.tx, s.tx);
    assert_eq!(again.signatures, s.signatures);
    assert_eq!(again.intent, s.intent);
    assert_eq!(again.issued_at, s.issued_at);
    assert_eq!(again.request_id, s.request_id);
    assert_eq!(again.expected_safe_tx_hash, s.expected_safe_tx_hash);

    if let TxSource::TransactionService(json) = &s.tx
        && let Ok(docs) = tx_service::parse_document(json)
    {
        for (i, doc) in docs.iter().enumerate() {
            let _ = doc.to_safe_tx(i);
        }
    }
});
