//! Release tickets: the gateway's ed25519-signed permission to sign one Safe transaction.
//!
//! [`issue`] is the gateway's side; [`verify`] is the signer's. Both live here so the signed
//! bytes and their domain separation ([`TICKET_CONTEXT`]) have one definition. A ticket
//! carries the whole transaction, so the signer recomputes the safeTxHash with the
//! simulator's EIP-712 code and signs only that — a ticket naming another hash than its
//! transaction is refused, as is an expired one or one not signed by the configured gateway
//! key.
//!
//! The ticket's fields are parsed strictly here (0x-prefixed addresses and hashes of exact
//! length, decimal numbers below 2^256), each failure naming its field.

use std::{
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use ed25519_dalek::{SigningKey, VerifyingKey};
use prost::Message;
use signgate_proto::{
    envelope::{self, EnvelopeError, TICKET_CONTEXT},
    prost_types::Timestamp,
    v1 as pb,
};
use signgate_simulator::{Operation, SafeContext, SafeTx, SafeVersion, safe_tx_hash};

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

/// Signs `ticket` with the gateway's release key.
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
    let tx = safe_tx("ticket.transaction", tx_proto)?;
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

/// A 20-byte address written as 0x-hex (any case).
fn address(field: &str, s: &str) -> Result<Address, TicketError> {
    if s.is_empty() {
        return Err(malformed(field, "required"));
    }
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| malformed(field, "must start with 0x"))?;
    if hex.len() != 40 {
        return Err(malformed(field, "must be 20 bytes (40 hex digits)"));
    }
    Address::from_str(s).map_err(|_| malformed(field, "not a hex address"))
}

/// An optional address: empty means the zero address.
fn address_or_zero(field: &str, s: &str) -> Result<Address, TicketError> {
    if s.is_empty() {
        Ok(Address::ZERO)
    } else {
        address(field, s)
    }
}

/// A 32-byte hash written as 0x-hex.
fn hash(field: &str, s: &str) -> Result<B256, TicketError> {
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| malformed(field, "must start with 0x"))?;
    if hex.len() != 64 {
        return Err(malformed(field, "must be 32 bytes (64 hex digits)"));
    }
    B256::from_str(s).map_err(|_| malformed(field, "not a hex hash"))
}

/// A uint256 written in decimal; empty means 0 unless `required`.
fn decimal(field: &str, s: &str, required: bool) -> Result<U256, TicketError> {
    if s.is_empty() {
        return if required {
            Err(malformed(field, "required"))
        } else {
            Ok(U256::ZERO)
        };
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 78 {
        return Err(malformed(field, "must be a decimal number below 2^256"));
    }
    U256::from_str_radix(s, 10).map_err(|_| malformed(field, "does not fit in uint256"))
}

/// The ticket's Safe transaction; `prefix` is the field path of the message.
fn safe_tx(prefix: &str, tx: &pb::SafeTransaction) -> Result<SafeTx, TicketError> {
    let f = |name: &str| format!("{prefix}.{name}");
    if tx.data.len() > MAX_TICKET_CALLDATA {
        return Err(malformed(
            f("data"),
            format!(
                "{} bytes of calldata exceed the limit of {MAX_TICKET_CALLDATA}",
                tx.data.len()
            ),
        ));
    }
    let operation = u8::try_from(tx.operation)
        .ok()
        .and_then(|op| Operation::from_u8(op).ok())
        .ok_or_else(|| malformed(f("operation"), "must be 0 (CALL) or 1 (DELEGATECALL)"))?;
    Ok(SafeTx {
        to: address(&f("to"), &tx.to)?,
        value: decimal(&f("value"), &tx.value, false)?,
        data: Bytes::copy_from_slice(&tx.data),
        operation,
        safe_tx_gas: decimal(&f("safe_tx_gas"), &tx.safe_tx_gas, false)?,
        base_gas: decimal(&f("base_gas"), &tx.base_gas, false)?,
        gas_price: decimal(&f("gas_price"), &tx.gas_price, false)?,
        gas_token: address_or_zero(&f("gas_token"), &tx.gas_token)?,
        refund_receiver: address_or_zero(&f("refund_receiver"), &tx.refund_receiver)?,
        nonce: decimal(&f("nonce"), &tx.nonce, true)?,
    })
}

#[cfg(test)]
mod tests {
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
