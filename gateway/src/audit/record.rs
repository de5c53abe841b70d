//! What the audit log records: one [`AuditRecord`] per event, version 1.
//!
//! A record is an envelope (format version, position, time) around one [`AuditEvent`]. Its
//! canonical JSON ([`crate::audit::canonical`]) is the Merkle leaf, so the position is bound
//! into the hash: a record moved elsewhere no longer matches its own index.
//!
//! What is deliberately absent: key material of any kind, bearer tokens (only
//! [`TokenDigest`]s), and the packed Safe signatures a signer returned — until the
//! transaction executes they authorise it, so the log keeps their hash and the signer
//! addresses. Operator approvals are kept in full: an ed25519 signature over a domain-tagged
//! message proves who approved and is useless for anything else.
//!
//! The proposal and decision records carry the policy [`Evidence`] the decision was made
//! from, so `signgate audit replay` can re-run `evaluate` under another policy.

use alloy_primitives::{Address, B256, FixedBytes, U256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signgate_policy::{
    Decision, Evidence, PolicyHash, evidence::Verdict, governance::AdminSignature,
    sanctions::ListDiff, time::Timestamp,
};

use super::canonical::{CanonicalError, parse_canonical, to_canonical};

/// The record format this code writes; readers refuse any other.
pub const RECORD_VERSION: u32 = 1;

/// A position in the log: the 0-based leaf index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeafIndex(pub u64);

impl std::fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One log entry as it is hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Always [`RECORD_VERSION`].
    pub v: u32,
    /// Position in the log, bound into the leaf hash.
    pub index: u64,
    /// Unix milliseconds, from the gateway's clock when the record was appended.
    pub at_ms: u64,
    pub event: AuditEvent,
}

impl AuditRecord {
    /// The canonical bytes (the Merkle leaf data).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        to_canonical(self)
    }

    /// Parses a record from its canonical bytes; refuses any other version or encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CanonicalError> {
        Self::check_version(parse_canonical(bytes)?)
    }

    /// Builds a record from an already parsed canonical `value` whose canonical bytes are
    /// `bytes` (the verifier has both), with the same strictness as [`Self::from_bytes`].
    pub fn from_value(value: serde_json::Value, bytes: &[u8]) -> Result<Self, CanonicalError> {
        let r: Self =
            serde_json::from_value(value).map_err(|e| CanonicalError::Schema(e.to_string()))?;
        if to_canonical(&r)? != bytes {
            return Err(CanonicalError::NotCanonical);
        }
        Self::check_version(r)
    }

    fn check_version(r: Self) -> Result<Self, CanonicalError> {
        if r.v != RECORD_VERSION {
            return Err(CanonicalError::Schema(format!(
                "record version {} is not {RECORD_VERSION}",
                r.v
            )));
        }
        Ok(r)
    }

    /// The proposal this record is about, if any.
    pub fn proposal_id(&self) -> Option<&str> {
        match &self.event {
            AuditEvent::ProposalSubmitted(e) => Some(&e.proposal_id),
            AuditEvent::DecisionMade(e) => Some(&e.proposal_id),
            AuditEvent::ApprovalReceived(e) => Some(&e.proposal_id),
            AuditEvent::ReleaseTicketIssued(e) => Some(&e.proposal_id),
            AuditEvent::SignaturesReturned(e) => Some(&e.proposal_id),
            AuditEvent::ProposalCancelled(e) => Some(&e.proposal_id),
            _ => None,
        }
    }
}

/// Everything the gateway records. Adding a variant is compatible; changing one is a new
/// [`RECORD_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    ServerStarted(ServerStarted),
    ServerStopped(ServerStopped),
    ProposalSubmitted(Box<ProposalSubmitted>),
    DecisionMade(Box<DecisionMade>),
    ApprovalReceived(ApprovalReceived),
    ReleaseTicketIssued(ReleaseTicketIssued),
    SignaturesReturned(SignaturesReturned),
    ProposalCancelled(ProposalCancelled),
    PolicyApplied(PolicyApplied),
    SanctionsList(SanctionsListChange),
    OperatorChanged(OperatorChanged),
}

impl AuditEvent {
    /// The `type` tag, for listings.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::ServerStarted(_) => "server_started",
            Self::ServerStopped(_) => "server_stopped",
            Self::ProposalSubmitted(_) => "proposal_submitted",
            Self::DecisionMade(_) => "decision_made",
            Self::ApprovalReceived(_) => "approval_received",
            Self::ReleaseTicketIssued(_) => "release_ticket_issued",
            Self::SignaturesReturned(_) => "signatures_returned",
            Self::ProposalCancelled(_) => "proposal_cancelled",
            Self::PolicyApplied(_) => "policy_applied",
            Self::SanctionsList(_) => "sanctions_list",
            Self::OperatorChanged(_) => "operator_changed",
        }
    }
}

/// Who called, without anything that would let a reader act as them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    /// The mTLS client identity (certificate subject), or `loopback` in demo mode.
    pub identity: String,
    /// A bearer token's digest, when the caller presented one.
    pub token: Option<TokenDigest>,
}

/// SHA-256 of a domain tag and a bearer token: lets an operator confirm "this token made
/// that call" without the log ever holding a usable token. Only [`TokenDigest::of`] builds
/// one, so a raw token cannot be put in its place by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenDigest(B256);

impl TokenDigest {
    /// Digests a token.
    pub fn of(token: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"signgate/audit/token/v1\0");
        h.update(token);
        Self(B256::from(<[u8; 32]>::from(h.finalize())))
    }
}

/// The gateway came up with this configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerStarted {
    pub version: String,
    /// Public half of the key that signs checkpoints.
    pub audit_key: FixedBytes<32>,
    /// Public half of the key that signs release tickets, when configured.
    pub release_key: Option<FixedBytes<32>>,
    pub policy_hash: Option<PolicyHash>,
    /// SHA-256 of the effective configuration, so a changed config is visible.
    pub config_sha256: Option<B256>,
}

/// The gateway stopped cleanly (a crash leaves no such record, which is itself evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerStopped {
    pub reason: String,
}

/// A list version the decision screened against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListVersion {
    pub list: String,
    /// SHA-256 of the loaded list; `null`: the list was unavailable, which denies (a record
    /// never leaves an unavailable list out).
    pub sha256: Option<B256>,
}

/// A proposal arrived and was decoded and simulated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSubmitted {
    pub proposal_id: String,
    pub chain_id: u64,
    pub safe: Address,
    pub nonce: U256,
    /// Recomputed by the gateway from the SafeTx fields.
    pub safe_tx_hash: B256,
    /// SHA-256 of the canonical submitted request (what the initiator signed).
    pub input_sha256: B256,
    pub initiator: String,
    /// The initiator's ed25519 key and signature over the submission.
    pub initiator_key: FixedBytes<32>,
    pub initiator_signature: FixedBytes<64>,
    /// The decoded actions in words, as the API returned them.
    pub summary: Vec<String>,
    /// SHA-256 of the canonical simulation report.
    pub simulation_sha256: B256,
    pub lists: Vec<ListVersion>,
    pub policy_hash: PolicyHash,
    pub caller: Caller,
    /// Everything the first evaluation read.
    pub evidence: Evidence,
}

/// What caused an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionTrigger {
    Submitted,
    Approval,
    Rejection,
    Release,
    Cancel,
}

/// The policy decided; `evidence` is exactly what `evaluate` read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionMade {
    pub proposal_id: String,
    pub safe_tx_hash: B256,
    pub trigger: DecisionTrigger,
    pub policy_hash: PolicyHash,
    /// `deny`, `needs_approvals` or `approved`.
    pub outcome: String,
    /// Stable reason codes, in order (empty unless denied).
    pub reason_codes: Vec<String>,
    pub decision: Decision,
    pub evidence: Evidence,
}

impl DecisionMade {
    /// Builds the record, deriving the outcome word and codes from the decision so they
    /// cannot disagree with it.
    pub fn new(
        trigger: DecisionTrigger,
        policy_hash: PolicyHash,
        decision: Decision,
        evidence: Evidence,
    ) -> Self {
        Self {
            proposal_id: evidence.proposal.id.clone(),
            safe_tx_hash: evidence.proposal.safe_tx_hash,
            trigger,
            policy_hash,
            outcome: decision.kind().to_owned(),
            reason_codes: decision
                .reason_codes()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            decision,
            evidence,
        }
    }
}

/// An operator's signed approval or rejection as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalReceived {
    pub proposal_id: String,
    pub safe_tx_hash: B256,
    pub verdict: Verdict,
    /// The operator the key belongs to under the active policy, if any.
    pub operator: Option<String>,
    pub public_key: FixedBytes<32>,
    pub signature: FixedBytes<64>,
    pub expires_at: Timestamp,
    pub received_at: Timestamp,
    pub caller: Caller,
}

/// The gateway signed a release ticket for the signers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseTicketIssued {
    pub proposal_id: String,
    pub chain_id: u64,
    pub safe: Address,
    pub nonce: U256,
    pub safe_tx_hash: B256,
    pub policy_hash: PolicyHash,
    pub expires_at: Timestamp,
    /// SHA-256 of the encoded ticket (the ticket itself is a bearer authorisation).
    pub ticket_sha256: B256,
    /// The signer backends asked.
    pub signers: Vec<String>,
}

/// Signatures went back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignaturesReturned {
    pub proposal_id: String,
    pub safe_tx_hash: B256,
    /// The Safe owners whose signatures were packed, in blob order.
    pub owners: Vec<Address>,
    /// SHA-256 of the packed signature blob.
    pub signatures_sha256: B256,
    pub caller: Caller,
}

/// An open proposal was cancelled; no approval or release can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalCancelled {
    pub proposal_id: String,
    pub safe_tx_hash: B256,
    /// The caller's reason, as given.
    pub reason: String,
    pub caller: Caller,
}

/// A new policy took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyApplied {
    pub policy_hash: PolicyHash,
    pub name: String,
    pub previous: Option<PolicyHash>,
    pub admin_signatures: Vec<AdminSignature>,
    pub caller: Caller,
}

/// Whether a list version was taken or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ListOutcome {
    Loaded,
    /// The previous version (if any) stays in use.
    Refused {
        reason: String,
    },
}

/// A sanctions list load or reload, with the address-level diff when one was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsListChange {
    pub list: String,
    pub outcome: ListOutcome,
    pub previous_sha256: Option<B256>,
    /// The version now in use (the new one, or the kept one after a refusal).
    pub current_sha256: Option<B256>,
    pub added: Vec<Address>,
    pub removed: Vec<Address>,
}

impl SanctionsListChange {
    /// The record of an accepted list version.
    pub fn loaded(diff: &ListDiff) -> Self {
        Self {
            list: diff.list.to_string(),
            outcome: ListOutcome::Loaded,
            previous_sha256: diff.previous_sha256.map(|d| B256::from(d.0)),
            current_sha256: Some(B256::from(diff.new_sha256.0)),
            added: diff.added.clone(),
            removed: diff.removed.clone(),
        }
    }
}

/// What happened to an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorChange {
    Added,
    Removed,
    KeyEnrolled,
    KeyRevoked,
    StatusChanged,
    RolesChanged,
}

/// An operator was added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorChanged {
    pub operator: String,
    pub change: OperatorChange,
    pub public_key: Option<FixedBytes<32>>,
    /// Plain words: the new status, roles, …
    pub detail: String,
    /// The policy version that made the change.
    pub policy_hash: Option<PolicyHash>,
}
