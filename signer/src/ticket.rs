//! Release tickets: the gateway's ed25519-signed permission to sign one Safe transaction.
//!
//! [`issue`] is the gateway's side; [`verify`] is the signer's. Both live here so the signed
//! bytes and their domain separation ([`TICKET_CONTEXT`]) have one definition. A ticket
//! carries the whole transaction, so the signer recomputes the safeTxHash with the
//! simulator's EIP-712 code and signs only that — a ticket naming another hash than its
//! transaction is refused, as is an expired one or one not signed by the configured gateway
//! key.
//!
//! The ticket's fields are parsed strictly by [`signgate_proto::wire`] (0x-prefixed addresses
//! and hashes of exact length, decimal numbers below 2^256) — the parser the gateway uses for
//! the same fields — each failure naming its field.

use std::{
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, U256};
use ed25519_dalek::{SigningKey, VerifyingKey};
use prost::Message;
use signgate_proto::{
    envelope::{self, EnvelopeError, TICKET_CONTEXT},
    prost_types::Timestamp,
    v1 as pb,
    wire::{FieldError, address, decimal, hash, safe_tx, safe_tx_to_proto, timestamp},
};
use signgate_simulator::{SafeContext, SafeTx, SafeVersion, safe_tx_hash};

use crate::clock::unix_millis;

/// Largest calldata a ticket may carry; a ticket is never bigger than the gateway's messages.
const MAX_TICKET_CALLDATA: usize = 1 << 20;

/// Why a ticket was refused. Nothing is signed and nothing is recorded when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The request or ticket is malformed.
    #[error("invalid {field}: {reason}")]
    Malformed {
        /// The field path, as in the proto (`ticket.transaction.to`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Not signed by the gateway's release key.
    #[error("release ticket is not signed by the gateway's release key: {0}")]
    Signature(EnvelopeError),
    /// Past its expiry.
    #[error("release ticket expired at {expires_at} ms, now is {now} ms")]
    Expired {
        /// The ticket's expiry, in milliseconds since the epoch.
        expires_at: i64,
        /// The signer's clock, in milliseconds since the epoch.
        now: i64,
    },
    /// The ticket's safeTxHash is not the hash of its transaction.
    #[error("release ticket is for safeTxHash {ticket}, but its transaction hashes to {computed}")]
    HashMismatch {
        /// What the ticket claims.
        ticket: B256,
        /// What the transaction hashes to.
        computed: B256,
    },
}

/// A ticket whose signature, expiry and hash were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTicket {
    /// Ticket id, for logs.
    pub ticket_id: String,
    /// The proposal released.
    pub proposal_id: String,
    /// Chain, Safe and version: the EIP-712 domain.
    pub context: SafeContext,
    /// The transaction.
    pub tx: SafeTx,
    /// The recomputed (and matching) safeTxHash.
    pub safe_tx_hash: B256,
    /// Policy that approved it.
    pub policy_hash: String,
    /// Expiry.
    pub expires_at: SystemTime,
}

impl VerifiedTicket {
    /// The Safe nonce, which double-sign protection is keyed on.
    pub fn nonce(&self) -> U256 {
        self.tx.nonce
    }

    /// The Safe.
    pub fn safe(&self) -> Address {
        self.context.safe
    }
}

/// What the gateway releases, before it is encoded: the content of one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketContent {
    /// Ticket id, for logs.
    pub ticket_id: String,
    /// The proposal released.
    pub proposal_id: String,
    /// Chain, Safe and version: the EIP-712 domain.
    pub context: SafeContext,
    /// The transaction.
    pub tx: SafeTx,
    /// Its safeTxHash, as the gateway computed it (the signer recomputes it).
    pub safe_tx_hash: B256,
    /// Policy that approved it.
    pub policy_hash: String,
    /// When issued, in milliseconds since the Unix epoch.
    pub issued_at_ms: i64,
    /// When it stops being honoured, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// Encodes `content` as a `ReleaseTicket` and signs it with the gateway's release key: the
/// gateway's side of the one ticket format [`verify`] reads.
pub fn issue_content(key: &SigningKey, content: &TicketContent) -> pb::SignedReleaseTicket {
    issue(
        key,
        &pb::ReleaseTicket {
            ticket_id: content.ticket_id.clone(),
            proposal_id: content.proposal_id.clone(),
            chain_id: content.context.chain_id,
            safe: content.context.safe.to_checksum(None),
            safe_version: content.context.version.to_string(),
            nonce: content.tx.nonce.to_string(),
            transaction: Some(safe_tx_to_proto(&content.tx)),
            safe_tx_hash: format!("{:#x}", content.safe_tx_hash),
            policy_hash: content.policy_hash.clone(),
            issued_at: Some(timestamp(content.issued_at_ms)),
            expires_at: Some(timestamp(content.expires_at_ms)),
        },
    )
}

/// Signs an encoded-to-be `ticket` with the gateway's release key.
pub fn issue(key: &SigningKey, ticket: &pb::ReleaseTicket) -> pb::SignedReleaseTicket {
    let bytes = ticket.encode_to_vec();
    let signature = envelope::sign(key, TICKET_CONTEXT, &bytes).to_vec();
    pb::SignedReleaseTicket {
        ticket: bytes,
        signature,
    }
}

/// Checks a signed ticket against the gateway key and the signer's clock reading `now`.
pub fn verify(
    gateway_key: &VerifyingKey,
    signed: &pb::SignedReleaseTicket,
    now: SystemTime,
) -> Result<VerifiedTicket, TicketError> {
    envelope::verify(
        gateway_key,
        TICKET_CONTEXT,
        &signed.ticket,
        &signed.signature,
    )
    .map_err(TicketError::Signature)?;
    let t = pb::ReleaseTicket::decode(signed.ticket.as_slice())
        .map_err(|_| malformed("ticket.ticket", "not an encoded ReleaseTicket"))?;
    let expires = t
        .expires_at
        .as_ref()
        .ok_or_else(|| malformed("ticket.expires_at", "required"))?;
    let expires_at = system_time("ticket.expires_at", expires)?;
    if now >= expires_at {
        return Err(TicketError::Expired {
            expires_at: unix_millis(expires_at),
            now: unix_millis(now),
        });
    }
    if t.chain_id == 0 {
        return Err(malformed("ticket.chain_id", "required"));
    }
    let safe = address("ticket.safe", &t.safe)?;
    let version = SafeVersion::from_str(&t.safe_version)
        .map_err(|_| malformed("ticket.safe_version", "not a supported Safe version"))?;
    let tx_proto = t
        .transaction
        .as_ref()
        .ok_or_else(|| malformed("ticket.transaction", "required"))?;
    let tx = safe_tx("ticket.transaction", tx_proto, MAX_TICKET_CALLDATA)?;
    let nonce = decimal("ticket.nonce", &t.nonce, true)?;
    if nonce != tx.nonce {
        return Err(malformed(
            "ticket.nonce",
            "differs from ticket.transaction.nonce",
        ));
    }
    let claimed = hash("ticket.safe_tx_hash", &t.safe_tx_hash)?;
    let context = SafeContext {
        chain_id: t.chain_id,
        safe,
        version,
    };
    let computed = safe_tx_hash(&context, &tx);
    if computed != claimed {
        return Err(TicketError::HashMismatch {
            ticket: claimed,
            computed,
        });
    }
    Ok(VerifiedTicket {
        ticket_id: t.ticket_id,
        proposal_id: t.proposal_id,
        context,
        tx,
        safe_tx_hash: computed,
        policy_hash: t.policy_hash,
        expires_at,
    })
}

fn malformed(field: impl Into<String>, reason: impl Into<String>) -> TicketError {
    TicketError::Malformed {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A protobuf timestamp as a point in time; nanos must be in range.
fn system_time(field: &str, t: &Timestamp) -> Result<SystemTime, TicketError> {
    let nanos = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| malformed(field, "nanos out of range"))?;
    let at = match u64::try_from(t.seconds) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.seconds.unsigned_abs()))
            .and_then(|s| s.checked_add(Duration::from_nanos(u64::from(nanos)))),
    };
    at.ok_or_else(|| malformed(field, "out of range"))
}

impl From<FieldError> for TicketError {
    fn from(e: FieldError) -> Self {
        Self::Malformed {
            field: e.field,
            reason: e.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Bytes;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    /// A ticket for a plain call at nonce 7, expiring at 1,000 s after the epoch.
    fn ticket() -> (pb::ReleaseTicket, SafeContext, SafeTx) {
        let context = SafeContext {
            chain_id: 1,
            safe: Address::repeat_byte(0x5a),
            version: SafeVersion::V1_4_1,
        };
        let tx = SafeTx::call(
            Address::repeat_byte(0x77),
            U256::from(5),
            Bytes::new(),
            U256::from(7),
        );
        let t = pb::ReleaseTicket {
            ticket_id: "t".into(),
            proposal_id: "p".into(),
            chain_id: 1,
            safe: context.safe.to_checksum(None),
            safe_version: "1.4.1".into(),
            nonce: "7".into(),
            transaction: Some(pb::SafeTransaction {
                to: tx.to.to_checksum(None),
                value: "5".into(),
                nonce: "7".into(),
                ..Default::default()
            }),
            safe_tx_hash: format!("{:#x}", safe_tx_hash(&context, &tx)),
            policy_hash: "0xp".into(),
            issued_at: None,
            expires_at: Some(Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
        };
        (t, context, tx)
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn issued_tickets_verify_until_their_expiry() {
        let (t, context, tx) = ticket();
        let signed = issue(&key(), &t);
        let ok = verify(&key().verifying_key(), &signed, at(999_999)).unwrap();
        assert_eq!(ok.nonce(), U256::from(7));
        assert_eq!((ok.context, ok.tx), (context, tx));
        assert_eq!(ok.expires_at, at(1_000_000));
        assert_eq!(
            verify(&key().verifying_key(), &signed, at(1_000_000)),
            Err(TicketError::Expired {
                expires_at: 1_000_000,
                now: 1_000_000
            })
        );
    }

    #[test]
    fn a_signature_under_another_context_is_not_a_ticket() {
        let (t, ..) = ticket();
        let bytes = t.encode_to_vec();
        let signed = pb::SignedReleaseTicket {
            signature: envelope::sign(&key(), envelope::APPROVAL_CONTEXT, &bytes).to_vec(),
            ticket: bytes,
        };
        assert_eq!(
            verify(&key().verifying_key(), &signed, at(0)),
            Err(TicketError::Signature(EnvelopeError::Forged))
        );
    }

    #[test]
    fn malformed_fields_are_named() {
        type Spoil = fn(&mut pb::ReleaseTicket);
        let cases: [(&str, Spoil); 5] = [
            ("ticket.expires_at", |t| {
                t.expires_at = Some(Timestamp {
                    seconds: 1_000,
                    nanos: -1,
                });
            }),
            ("ticket.safe", |t| t.safe = "5a5a".into()),
            ("ticket.nonce", |t| t.nonce = "8".into()),
            ("ticket.transaction.value", |t| {
                if let Some(tx) = t.transaction.as_mut() {
                    tx.value = "0x5".into();
                }
            }),
            ("ticket.safe_version", |t| t.safe_version = "0.9".into()),
        ];
        for (field, spoil) in cases {
            let (mut t, ..) = ticket();
            spoil(&mut t);
            match verify(&key().verifying_key(), &issue(&key(), &t), at(0)) {
                Err(TicketError::Malformed { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected malformed, got {other:?}"),
            }
        }
    }
}
