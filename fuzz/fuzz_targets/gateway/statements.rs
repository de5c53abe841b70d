//! The payload inside an operator's `SignedEnvelope`, as the gateway parses it once the
//! signature checks: `statement::parse` (approve / reject) and `statement::parse_cancel`, each
//! directly and through `api::requests::{approval, cancel}` with the payload sealed by a fixed
//! key. Never a panic; a refused payload is an `InvalidArgument` naming a field under the
//! payload, never a default; a parsed statement, re-encoded canonically, parses to the same
//! fields; the request path accepts exactly what the parser accepts (kind and freshness aside)
//! and keeps the signed bytes byte for byte; the same payload sealed under the other
//! statement's context is refused at the signature.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use signgate_gateway::{
    api::requests,
    config::{GatewayConfig, Limits},
    domain::{
        statement::{self, Binding},
        wire,
    },
    error::GatewayError,
    store::{ApprovalKind, UnixMillis},
};
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, CANCEL_CONTEXT},
    v1 as pb,
};

fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| match GatewayConfig::embedded_default() {
        Ok(c) => c.limits,
        Err(e) => panic!("embedded default config: {e}"),
    })
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A refusal must name a field under `prefix`.
fn refused_under(prefix: &str, e: &GatewayError) {
    match e {
        GatewayError::InvalidArgument { field, .. } => {
            assert!(field.starts_with(prefix), "{field} is not under {prefix}");
        }
        other => panic!("refused with {other:?}, not InvalidArgument"),
    }
}

fn binding_fields(
    b: &Binding,
) -> (
    String,
    u64,
    String,
    String,
    Option<signgate_proto::prost_types::Timestamp>,
) {
    (
        b.proposal_id.as_str().to_owned(),
        b.chain_id,
        b.safe.to_checksum(None),
        format!("{:#x}", b.safe_tx_hash),
        Some(wire::timestamp(b.issued_at)),
    )
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, payload)) = input.split_first() else {
        return;
    };
    let through_requests = control & 1 == 1;

    match statement::parse("approval.payload", payload) {
        Ok(s) => {
            let (proposal_id, chain_id, safe, safe_tx_hash, issued_at) = binding_fields(&Binding {
                proposal_id: s.proposal_id.clone(),
                chain_id: s.chain_id,
                safe: s.safe,
                safe_tx_hash: s.safe_tx_hash,
                issued_at: s.issued_at,
            });
            let kind = match s.kind {
                ApprovalKind::Approve => pb::ApprovalKind::Approve,
                ApprovalKind::Reject => pb::ApprovalKind::Reject,
            };
            let canonical = pb::ApprovalStatement {
                proposal_id,
                chain_id,
                safe,
                safe_tx_hash,
                kind: kind.into(),
                issued_at,
                comment: s.comment.clone(),
            }
            .encode_to_vec();
            let again = statement::parse("approval.payload", &canonical);
            assert_eq!(
                again.ok().as_ref(),
                Some(&s),
                "a re-encoded statement parses differently"
            );
            if through_requests {
                let env = envelope::seal(&key(), APPROVAL_CONTEXT, payload.to_vec());
                match requests::approval("approval", Some(&env), s.kind, limits(), s.issued_at) {
                    Ok(v) => {
                        assert_eq!(v.says, s);
                        assert_eq!(v.signed.payload(), payload);
                    }
                    Err(e) => panic!("the parser accepts, the request path refuses: {e:?}"),
                }
                let other = match s.kind {
                    ApprovalKind::Approve => ApprovalKind::Reject,
                    ApprovalKind::Reject => ApprovalKind::Approve,
                };
                let e = requests::approval("approval", Some(&env), other, limits(), s.issued_at);
                assert!(
                    matches!(e, Err(GatewayError::InvalidArgument { ref field, .. }) if field == "approval.payload.kind")
                );
                let as_cancel = pb::CancelRequest {
                    cancellation: Some(envelope::seal(&key(), APPROVAL_CONTEXT, payload.to_vec())),
                };
                let e = requests::cancel(&as_cancel, limits(), s.issued_at);
                assert!(
                    matches!(e, Err(GatewayError::InvalidArgument { ref field, .. }) if field == "cancellation.signature")
                );
            }
        }
        Err(e) => {
            refused_under("approval.payload", &e);
            if through_requests {
                let env = envelope::seal(&key(), APPROVAL_CONTEXT, payload.to_vec());
                let r = requests::approval(
                    "approval",
                    Some(&env),
                    ApprovalKind::Approve,
                    limits(),
                    UnixMillis(0),
                );
                match r {
                    Ok(v) => panic!("the parser refuses, the request path accepts: {:?}", v.says),
                    Err(e) => refused_under("approval.payload", &e),
                }
            }
        }
    }

    match statement::parse_cancel("cancellation.payload", payload) {
        Ok(c) => {
            let (proposal_id, chain_id, safe, safe_tx_hash, issued_at) = binding_fields(&c.binding);
            let canonical = pb::CancelStatement {
                proposal_id,
                chain_id,
                safe,
                safe_tx_hash,
                issued_at,
                reason: c.reason.clone(),
            }
            .encode_to_vec();
            let again = statement::parse_cancel("cancellation.payload", &canonical);
            assert_eq!(
                again.ok().as_ref(),
                Some(&c),
                "a re-encoded cancel parses differently"
            );
            if through_requests {
                let req = pb::CancelRequest {
                    cancellation: Some(envelope::seal(&key(), CANCEL_CONTEXT, payload.to_vec())),
                };
                match requests::cancel(&req, limits(), c.binding.issued_at) {
                    Ok(v) => {
                        assert_eq!(v.says, c);
                        assert_eq!(v.signed.payload, payload);
                    }
                    Err(e) => panic!("the parser accepts, the request path refuses: {e:?}"),
                }
            }
        }
        Err(e) => {
            refused_under("cancellation.payload", &e);
            if through_requests {
                let req = pb::CancelRequest {
                    cancellation: Some(envelope::seal(&key(), CANCEL_CONTEXT, payload.to_vec())),
                };
                match requests::cancel(&req, limits(), UnixMillis(0)) {
                    Ok(v) => panic!("the parser refuses, the request path accepts: {:?}", v.says),
                    Err(e) => refused_under("cancellation.payload", &e),
                }
            }
        }
    }
});
