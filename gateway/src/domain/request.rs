//! Requests as the pipeline receives them: signature, shape and freshness already verified by
//! the `api` layer, every field parsed into its type.

use alloy_primitives::{Address, B256};
use ed25519_dalek::VerifyingKey;
use signgate_simulator::{SafeTx, SafeVersion};

use super::records::{ApprovalRecord, ProposalId, ProposalRecord, UnixMillis};
use super::{
    DeclaredIntent,
    statement::{CancelFields, StatementFields},
};
use crate::error::GatewayError;

/// A signed request exactly as received: the key, the payload bytes it signed and the
/// signature, kept so the audit log can prove who asked for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBytes {
    /// The signer's ed25519 key (verified against the payload).
    pub public_key: VerifyingKey,
    /// The encoded payload, byte for byte.
    pub payload: Vec<u8>,
    /// The ed25519 signature over it.
    pub signature: [u8; 64],
}

/// Where the submitted transaction comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxSource {
    /// The ten fields, parsed (boxed: far larger than the other variant).
    Fields(Box<SafeTx>),
    /// A Safe Transaction Service document, for the simulator's importer to parse and check.
    TransactionService(String),
}

/// An initiator's submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The signed submission as received.
    pub signed: SignedBytes,
    /// EIP-155 chain id (non-zero).
    pub chain_id: u64,
    /// The Safe.
    pub safe: Address,
    /// `None`: read it from the state source.
    pub safe_version: Option<SafeVersion>,
    /// The transaction.
    pub tx: TxSource,
    /// Packed owner signatures collected so far (may be empty).
    pub signatures: Vec<u8>,
    /// What the initiator says it is for.
    pub intent: Option<DeclaredIntent>,
    /// When the initiator signed it.
    pub issued_at: UnixMillis,
    /// The client's idempotency key.
    pub request_id: String,
    /// The hash the client expects; compared with the recomputed one.
    pub expected_safe_tx_hash: Option<B256>,
}

/// How an approval statement is signed.
#[derive(Debug, Clone)]
pub enum StatementSignature {
    /// By an operator's ed25519 key; the signature was verified on receipt.
    Ed25519(SignedBytes),
    /// By an operator's enrolled WebAuthn credential (a security key or passkey, from the
    /// console). Not verified yet: the credential is the policy's, so the pipeline verifies it
    /// ([`signgate_webauthn::verify_assertion`]) once it holds the policy in force.
    WebAuthn {
        /// The encoded statement, byte for byte.
        payload: Vec<u8>,
        /// What the browser returned.
        assertion: signgate_webauthn::Assertion,
    },
}

impl StatementSignature {
    /// The encoded statement, byte for byte.
    pub fn payload(&self) -> &[u8] {
        match self {
            Self::Ed25519(s) => &s.payload,
            Self::WebAuthn { payload, .. } => payload,
        }
    }

    /// The signature as the store keeps it: the 64 ed25519 bytes, or the assertion's binary
    /// form ([`signgate_webauthn::Assertion::to_bytes`]); the policy's key says which.
    pub fn stored(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(s) => s.signature.to_vec(),
            Self::WebAuthn { assertion, .. } => assertion.to_bytes(),
        }
    }
}

/// An operator's approval or rejection of one proposal: the signed bytes and what they say.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The signed statement as received.
    pub signed: StatementSignature,
    /// What it says, parsed from `signed.payload` by [`statement::parse`](super::statement::parse).
    pub says: StatementFields,
}

impl Statement {
    /// Refuses a statement made for another chain, Safe or transaction than `proposal`; `field`
    /// names the statement in the error.
    pub fn check_binding(
        &self,
        field: &str,
        proposal: &ProposalRecord,
    ) -> Result<(), GatewayError> {
        check_binding(
            field,
            (self.says.chain_id, self.says.safe, self.says.safe_tx_hash),
            proposal,
        )
    }

    /// The store record, with `operator` and the key (an ed25519 key or a WebAuthn
    /// credential's key id) as the pipeline resolved them.
    pub fn record(
        &self,
        operator: String,
        public_key: [u8; 32],
        received_at: UnixMillis,
    ) -> ApprovalRecord {
        ApprovalRecord {
            operator,
            public_key,
            kind: self.says.kind,
            payload: self.signed.payload().to_vec(),
            signature: self.signed.stored(),
            comment: self.says.comment.clone(),
            received_at,
            alerts: Vec::new(),
        }
    }
}

/// An operator's signed withdrawal of one open proposal: the signed bytes and what they say.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    /// The signed statement as received.
    pub signed: SignedBytes,
    /// What it says, parsed from `signed.payload` by
    /// [`statement::parse_cancel`](super::statement::parse_cancel).
    pub says: CancelFields,
}

impl CancelRequest {
    /// The proposal it withdraws.
    pub fn id(&self) -> &ProposalId {
        &self.says.binding.proposal_id
    }

    /// Refuses a cancellation made for another chain, Safe or transaction than `proposal`.
    pub fn check_binding(
        &self,
        field: &str,
        proposal: &ProposalRecord,
    ) -> Result<(), GatewayError> {
        let b = &self.says.binding;
        check_binding(field, (b.chain_id, b.safe, b.safe_tx_hash), proposal)
    }
}

/// Refuses a statement whose (chain, Safe, safeTxHash) is not `proposal`'s: whatever proposal
/// id it names, a statement only ever acts on the exact transaction it was signed for.
fn check_binding(
    field: &str,
    (chain_id, safe, safe_tx_hash): (u64, Address, B256),
    proposal: &ProposalRecord,
) -> Result<(), GatewayError> {
    let f = |name: &str| format!("{field}.payload.{name}");
    if chain_id != proposal.chain_id {
        return Err(GatewayError::invalid(
            f("chain_id"),
            "does not match the proposal",
        ));
    }
    if safe != proposal.safe {
        return Err(GatewayError::invalid(
            f("safe"),
            "does not match the proposal",
        ));
    }
    if safe_tx_hash != proposal.safe_tx_hash {
        return Err(GatewayError::invalid(
            f("safe_tx_hash"),
            format!(
                "the statement names {safe_tx_hash:#x}, but proposal {} is {:#x}",
                proposal.id, proposal.safe_tx_hash
            ),
        ));
    }
    Ok(())
}
