//! Release tickets: the gateway's ed25519-signed permission to sign one Safe transaction.
//!
//! [`issue`] is the gateway's side; [`verify`] is the signer's. A ticket carries the whole
//! transaction, so the signer recomputes the safeTxHash with the simulator's EIP-712 code and
//! signs only that — a ticket naming another hash than its transaction is refused, as is an
//! expired one or one not signed by the configured gateway key.

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256};
use ed25519_dalek::{SigningKey, VerifyingKey};
use prost::Message;
use signgate_proto::{
    envelope::{self, EnvelopeError, TICKET_CONTEXT},
    v1 as pb,
};
use signgate_simulator::{SafeContext, SafeTx, SafeVersion, safe_tx_hash};

use crate::{
    server::{GatewayError, convert},
    store::UnixMillis,
};

/// Largest calldata a ticket may carry; a ticket is never bigger than the gateway's messages.
const MAX_TICKET_CALLDATA: usize = 1 << 20;

/// Why a ticket was refused. Nothing is signed and nothing is recorded when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The request or ticket is malformed; the message names the field.
    #[error(transparent)]
    Malformed(GatewayError),
    /// Not signed by the gateway's release key.
    #[error("release ticket is not signed by the gateway's release key: {0}")]
    Signature(EnvelopeError),
    /// Past its expiry.
    #[error("release ticket expired at {expires_at} ms, now is {now} ms")]
    Expired {
        /// The ticket's expiry.
        expires_at: i64,
        /// The signer's clock.
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

impl From<TicketError> for GatewayError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::Malformed(e) => e,
            e @ TicketError::Signature(_) => GatewayError::PermissionDenied(e.to_string()),
            e @ TicketError::Expired { .. } => GatewayError::FailedPrecondition(e.to_string()),
            e @ TicketError::HashMismatch { .. } => {
                GatewayError::invalid("ticket.safe_tx_hash", e.to_string())
            }
        }
    }
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
    pub expires_at: UnixMillis,
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

fn malformed(field: &str, reason: impl Into<String>) -> TicketError {
    TicketError::Malformed(GatewayError::invalid(field, reason))
}

/// Checks a signed ticket against the gateway key and the signer's clock.
pub fn verify(
    gateway_key: &VerifyingKey,
    signed: &pb::SignedReleaseTicket,
    now: UnixMillis,
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
    let expires_at =
        convert::unix_millis("ticket.expires_at", expires).map_err(TicketError::Malformed)?;
    if now >= expires_at {
        return Err(TicketError::Expired {
            expires_at: expires_at.0,
            now: now.0,
        });
    }
    if t.chain_id == 0 {
        return Err(malformed("ticket.chain_id", "required"));
    }
    let safe = convert::address("ticket.safe", &t.safe).map_err(TicketError::Malformed)?;
    let version = SafeVersion::from_str(&t.safe_version)
        .map_err(|_| malformed("ticket.safe_version", "not a supported Safe version"))?;
    let tx_proto = t
        .transaction
        .as_ref()
        .ok_or_else(|| malformed("ticket.transaction", "required"))?;
    let tx = convert::safe_tx("ticket.transaction", tx_proto, MAX_TICKET_CALLDATA)
        .map_err(TicketError::Malformed)?;
    let nonce = convert::decimal("ticket.nonce", &t.nonce, true).map_err(TicketError::Malformed)?;
    if nonce != tx.nonce {
        return Err(malformed(
            "ticket.nonce",
            "differs from ticket.transaction.nonce",
        ));
    }
    let claimed =
        convert::hash("ticket.safe_tx_hash", &t.safe_tx_hash).map_err(TicketError::Malformed)?;
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
