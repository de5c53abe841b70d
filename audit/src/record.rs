//! What the audit log records: one [`AuditRecord`] per event, version 1.
//!
//! A record is an envelope (format version, position, time) around one [`AuditEvent`]. Its
//! canonical JSON ([`crate::canonical`]) is the Merkle leaf, so the position is bound
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

use alloy_primitives::{Address, B256, Bytes, FixedBytes, U256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signgate_policy::{
    Decision, Evidence, PolicyHash,
    anomaly::{Alert, Observation},
    evidence::Verdict,
    governance::AdminSignature,
    sanctions::ListDiff,
    time::Timestamp,
};

use crate::canonical::{CanonicalError, parse_canonical, to_canonical};

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
    /// What happened.
    pub event: AuditEvent,
}

impl AuditRecord {
    /// The canonical bytes (the Merkle leaf data).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        to_canonical(self)
    }

    /// The canonical bytes of the record of `event` at `index`, dated `at_ms`: exactly
    /// [`to_bytes`](Self::to_bytes) of that record, from the event's bytes encoded beforehand.
    /// Canonical JSON writes an object's keys in byte order (`at_ms`, `event`, `index`, `v`)
    /// and a nested value as it is written alone, so the event's bytes go in unchanged.
    pub fn bytes_of(index: u64, at_ms: u64, event: &EncodedEvent) -> Vec<u8> {
        let mut out = Vec::with_capacity(event.bytes.len().saturating_add(64));
        out.extend_from_slice(b"{\"at_ms\":");
        out.extend_from_slice(at_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"event\":");
        out.extend_from_slice(&event.bytes);
        out.extend_from_slice(b",\"index\":");
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(b",\"v\":");
        out.extend_from_slice(RECORD_VERSION.to_string().as_bytes());
        out.push(b'}');
        out
    }

    /// Parses a record from its canonical bytes; refuses any other version or encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CanonicalError> {
        Self::check_version(parse_canonical(bytes)?)
    }

    /// Builds a record from an already parsed canonical `value` whose canonical bytes are
    /// `bytes` (the verifier has both), with the same strictness as [`Self::from_bytes`].
    pub(crate) fn from_value(
        value: serde_json::Value,
        bytes: &[u8],
    ) -> Result<Self, CanonicalError> {
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

/// An event in canonical bytes, encoded before its position in the log is known, so that
/// the writer that gives it one only splices it in ([`AuditRecord::bytes_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    kind: &'static str,
    bytes: Vec<u8>,
}

impl EncodedEvent {
    /// Encodes `event`.
    pub fn new(event: &AuditEvent) -> Result<Self, CanonicalError> {
        Ok(Self {
            kind: event.kind(),
            bytes: to_canonical(event)?,
        })
    }

    /// The event's kind ([`AuditEvent::kind`]).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// Everything the gateway records. Adding a variant is compatible; changing one is a new
/// [`RECORD_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The gateway started (its first append, which proves the log is writable).
    ServerStarted(ServerStarted),
    /// The gateway stopped cleanly.
    ServerStopped(ServerStopped),
    /// A proposal arrived and was decoded and simulated.
    ProposalSubmitted(Box<ProposalSubmitted>),
    /// The policy decided on a proposal.
    DecisionMade(Box<DecisionMade>),
    /// An operator approved or rejected a proposal.
    ApprovalReceived(ApprovalReceived),
    /// The gateway signed a release ticket for the signers.
    ReleaseTicketIssued(ReleaseTicketIssued),
    /// Signatures went back to the client.
    SignaturesReturned(SignaturesReturned),
    /// An open proposal was cancelled.
    ProposalCancelled(ProposalCancelled),
    /// A new policy took effect.
    PolicyApplied(PolicyApplied),
    /// A sanctions list was loaded, reloaded or refused.
    SanctionsList(SanctionsListChange),
    /// An operator was added, changed or removed by a policy.
    OperatorChanged(OperatorChanged),
    /// One call the anomaly rules observed (issue 18): who, from where, when, what and how it
    /// ended. Recorded with the profile change it causes, so profiles can be rebuilt from the
    /// log alone ([`signgate_policy::anomaly::Profile::rebuild`]).
    CallObserved(Box<Observation>),
    /// An anomaly rule fired on a call: the operator, the evidence, the rule and its action.
    Anomaly(Box<Alert>),
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
            Self::CallObserved(_) => "call_observed",
            Self::Anomaly(_) => "anomaly",
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
    /// The gateway's version.
    pub version: String,
    /// Public half of the key that signs checkpoints.
    pub audit_key: FixedBytes<32>,
    /// Public half of the key that signs release tickets, when configured.
    pub release_key: Option<FixedBytes<32>>,
    /// The policy in force at start, if one was configured.
    pub policy_hash: Option<PolicyHash>,
    /// SHA-256 of the effective configuration, so a changed config is visible.
    pub config_sha256: Option<B256>,
}

/// The gateway stopped cleanly (a crash leaves no such record, which is itself evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerStopped {
    /// Why it stopped, in words.
    pub reason: String,
}

/// A list version the decision screened against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListVersion {
    /// The list's name.
    pub list: String,
    /// SHA-256 of the loaded list; `null`: the list was unavailable, which denies (a record
    /// never leaves an unavailable list out).
    pub sha256: Option<B256>,
}

/// A proposal arrived and was decoded and simulated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSubmitted {
    /// The gateway's id for the proposal.
    pub proposal_id: String,
    /// The chain the Safe is on.
    pub chain_id: u64,
    /// The Safe.
    pub safe: Address,
    /// The SafeTx's nonce.
    pub nonce: U256,
    /// Recomputed by the gateway from the SafeTx fields.
    pub safe_tx_hash: B256,
    /// SHA-256 of the canonical submitted request (what the initiator signed).
    pub input_sha256: B256,
    /// Who proposed it (the initiator id in the signed submission).
    pub initiator: String,
    /// The initiator's ed25519 key.
    pub initiator_key: FixedBytes<32>,
    /// The initiator's signature over the submission.
    pub initiator_signature: FixedBytes<64>,
    /// The decoded actions in words, as the API returned them.
    pub summary: Vec<String>,
    /// SHA-256 of the canonical simulation report.
    pub simulation_sha256: B256,
    /// The sanctions list versions screened against.
    pub lists: Vec<ListVersion>,
    /// The policy in force.
    pub policy_hash: PolicyHash,
    /// Who made the call.
    pub caller: Caller,
    /// Everything the first evaluation read.
    pub evidence: Evidence,
}

/// What caused an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionTrigger {
    /// The proposal was submitted.
    Submitted,
    /// An approval arrived.
    Approval,
    /// A rejection arrived.
    Rejection,
    /// Signatures were requested (re-evaluated before release).
    Release,
    /// The proposal was cancelled.
    Cancel,
    /// A sanctions list changed version while the proposal was not yet released: re-screened
    /// against the new version at once.
    ListUpdate,
}

/// The policy decided; `evidence` is exactly what `evaluate` read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionMade {
    /// The proposal decided.
    pub proposal_id: String,
    /// The proposal's safeTxHash.
    pub safe_tx_hash: B256,
    /// What caused the evaluation.
    pub trigger: DecisionTrigger,
    /// The policy that decided.
    pub policy_hash: PolicyHash,
    /// `deny`, `needs_approvals` or `approved`.
    pub outcome: String,
    /// Stable reason codes, in order (empty unless denied).
    pub reason_codes: Vec<String>,
    /// The full decision, with reasons or approvals counted.
    pub decision: Decision,
    /// Everything `evaluate` read, so `replay` can evaluate it again.
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
    /// The proposal approved or rejected.
    pub proposal_id: String,
    /// The safeTxHash the operator signed over.
    pub safe_tx_hash: B256,
    /// Approve or reject.
    pub verdict: Verdict,
    /// The operator the key belongs to under the active policy, if any.
    pub operator: Option<String>,
    /// The operator's ed25519 key, or the key id of the WebAuthn credential that signed.
    pub public_key: FixedBytes<32>,
    /// The operator's signature over the domain-tagged approval message; all zero when a
    /// WebAuthn credential signed (`webauthn` holds its assertion).
    pub signature: FixedBytes<64>,
    /// Until when the signed approval is valid.
    pub expires_at: Timestamp,
    /// When the gateway received it.
    pub received_at: Timestamp,
    /// Who made the call.
    pub caller: Caller,
    /// An approval signed with a security key or passkey: everything an auditor needs to check
    /// the signature offline ([`WebAuthnApproval::check`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<Box<WebAuthnApproval>>,
}

/// An approval signed with a WebAuthn credential, as recorded: the statement, the assertion,
/// the credential the policy enrolled and the console origins the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebAuthnApproval {
    /// The `ApprovalStatement` as signed, byte for byte.
    pub statement: Bytes,
    /// The assertion in its binary form ([`signgate_webauthn::Assertion::to_bytes`]).
    pub assertion: Bytes,
    /// The enrolled credential; its key id is the record's `public_key`.
    pub credential: signgate_webauthn::Credential,
    /// The origins the gateway accepted the assertion from.
    pub origins: Vec<String>,
}

/// Why a recorded WebAuthn approval does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnApprovalError {
    /// The credential's key id is not the key the record names.
    #[error("the recorded credential's key id is not the record's public key")]
    KeyMismatch,
    /// The assertion's binary form does not parse.
    #[error("the assertion does not parse: {0}")]
    Format(#[from] signgate_webauthn::AssertionFormatError),
    /// The assertion does not verify for the statement.
    #[error("the assertion does not verify: {0}")]
    Assertion(#[from] signgate_webauthn::AssertionError),
}

impl WebAuthnApproval {
    /// Checks the recorded assertion as the gateway did on receipt: the credential is the one
    /// the record names, and it signed this statement's challenge from an accepted origin with
    /// the user present and verified. (Whether the policy in force enrolled the credential for
    /// the operator is the policy chain's to tell.)
    pub fn check(&self, public_key: &FixedBytes<32>) -> Result<(), WebAuthnApprovalError> {
        if self.credential.key_id() != public_key.0 {
            return Err(WebAuthnApprovalError::KeyMismatch);
        }
        let assertion = signgate_webauthn::Assertion::from_bytes(&self.assertion)?;
        let expected = signgate_webauthn::AssertionExpected {
            challenge: signgate_keys::signed::webauthn_challenge(
                signgate_keys::signed::APPROVAL_CONTEXT,
                &self.statement,
            )
            .to_vec(),
            origins: self.origins.clone(),
            require_user_verification: true,
        };
        signgate_webauthn::verify_assertion(&self.credential, &assertion, &expected)?;
        Ok(())
    }
}

/// The gateway signed a release ticket for the signers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseTicketIssued {
    /// The proposal released.
    pub proposal_id: String,
    /// The chain the Safe is on.
    pub chain_id: u64,
    /// The Safe.
    pub safe: Address,
    /// The SafeTx's nonce.
    pub nonce: U256,
    /// The safeTxHash the signers may sign.
    pub safe_tx_hash: B256,
    /// The policy that approved the release.
    pub policy_hash: PolicyHash,
    /// Until when the ticket is valid.
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
    /// The proposal signed.
    pub proposal_id: String,
    /// The safeTxHash signed.
    pub safe_tx_hash: B256,
    /// The Safe owners whose signatures were packed, in blob order.
    pub owners: Vec<Address>,
    /// SHA-256 of the packed signature blob.
    pub signatures_sha256: B256,
    /// Who made the call.
    pub caller: Caller,
}

/// An open proposal was cancelled; no approval or release can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalCancelled {
    /// The proposal.
    pub proposal_id: String,
    /// Its transaction.
    pub safe_tx_hash: B256,
    /// The caller's reason, as given.
    pub reason: String,
    /// Who cancelled it.
    pub caller: Caller,
    /// The operator's signed `CancelStatement` (records written before cancels were signed
    /// have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<SignedCancel>,
}

/// An operator's signed withdrawal of a proposal, kept whole so an auditor can check the
/// signature offline: `signature` is ed25519 by `public_key` over the `signgate.v1` envelope
/// message for context `signgate.v1.CancelStatement` and `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCancel {
    /// The operator the key belongs to under the policy in force.
    pub operator: String,
    /// The operator's ed25519 key.
    pub public_key: FixedBytes<32>,
    /// The encoded `CancelStatement`, byte for byte.
    pub payload: Bytes,
    /// The operator's signature over it.
    pub signature: FixedBytes<64>,
}

/// A new policy took effect.
///
/// Since versioned signatures, each record carries everything needed to check its link of the
/// chain of applied policies offline: the version, the predecessor, the admins' signatures over
/// both and the content hash, and the policy text (whose admins judge the next link). Records
/// written before carry `version` 0 and no text; they are history, not links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyApplied {
    /// The new policy.
    pub policy_hash: PolicyHash,
    /// The policy's name.
    pub name: String,
    /// The policy it replaced, if any.
    pub previous: Option<PolicyHash>,
    /// The policy admins' signatures that authorised it.
    pub admin_signatures: Vec<AdminSignature>,
    /// Who made the call.
    pub caller: Caller,
    /// The version it took effect as (the configured genesis policy is version 1); 0 in
    /// records written before versioned signatures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
    /// The policy text exactly as signed; absent in records written before versioned
    /// signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set on the record that migrated an applied policy stored before versioned signatures:
    /// its signatures are over the content hash alone, and the chain is checked from it on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migrated: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Whether a list version was taken or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ListOutcome {
    /// The new version is in use.
    Loaded,
    /// The previous version (if any) stays in use.
    Refused {
        /// Why it was refused.
        reason: String,
    },
}

/// A sanctions list load or reload, with the address-level diff when one was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsListChange {
    /// The list's name.
    pub list: String,
    /// Taken or refused.
    pub outcome: ListOutcome,
    /// The version in use before, if any.
    pub previous_sha256: Option<B256>,
    /// The version now in use (the new one, or the kept one after a refusal).
    pub current_sha256: Option<B256>,
    /// Addresses the new version adds (empty after a refusal).
    pub added: Vec<Address>,
    /// Addresses the new version removes (empty after a refusal).
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
    /// A new operator.
    Added,
    /// The operator is gone.
    Removed,
    /// A key was added to the operator.
    KeyEnrolled,
    /// One of the operator's keys was revoked.
    KeyRevoked,
    /// The operator's status changed (active, suspended, offboarded).
    StatusChanged,
    /// The operator's roles changed.
    RolesChanged,
}

/// An operator was added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorChanged {
    /// The operator id.
    pub operator: String,
    /// What changed.
    pub change: OperatorChange,
    /// The key concerned, for key changes.
    pub public_key: Option<FixedBytes<32>>,
    /// Plain words: the new status, roles, …
    pub detail: String,
    /// The policy version that made the change.
    pub policy_hash: Option<PolicyHash>,
}
