//! The tamper-evident audit log: what was decided, on what evidence, by whom — provable to
//! an auditor who does not trust the gateway's operator.
//!
//! - [`record`]: the record types (one per event) and their version;
//! - [`canonical`]: the canonical JSON bytes that are hashed;
//! - [`merkle`]: RFC 6962 hashing, inclusion and consistency proofs;
//! - [`log`]: the durable SQLite-backed [`AuditLog`] the gateway appends to;
//! - [`checkpoint`]: signed checkpoints (C2SP signed notes);
//! - [`export`]: JSON Lines export and checkpoint delivery (file drop, command hook);
//! - [`verify`]: the offline verifier behind `signgate audit verify`;
//! - [`replay`]: recorded decisions re-evaluated under a candidate policy;
//! - [`story`]: one proposal's records in plain words.
//!
//! The pipeline's contract: append the record **before** sending the response that depends
//! on it; if [`AuditLog::append`] fails, release nothing and answer `UNAVAILABLE`.
//!
//! Which record at which step (all in [`record`]):
//!
//! | step | record |
//! |---|---|
//! | `serve` starts / stops | `ServerStarted` (first append: proves the log is writable) / `ServerStopped` |
//! | `SubmitProposal` | `ProposalSubmitted` (with the evidence), then `DecisionMade::new(Submitted, ..)` |
//! | `Approve` / `Reject` | `ApprovalReceived`, then `DecisionMade::new(Approval \| Rejection, ..)` |
//! | `RequestSignatures` | `ReleaseTicketIssued` before asking signers, `SignaturesReturned` before answering |
//! | apply policy | `PolicyApplied` (admin signatures), `OperatorChanged` per operator difference |
//! | list load / reload | `SanctionsListChange::loaded(&diff)` or a `Refused` outcome |
//!
//! Run [`export::run_checkpoints`] beside the server to sign and export checkpoints.

pub mod canonical;
pub mod checkpoint;
pub mod export;
pub mod log;
pub mod merkle;
pub mod record;
pub mod replay;
pub mod story;
pub mod verify;

use std::path::PathBuf;

pub use log::{AuditLog, AuditOptions, AuditReader, SignedCheckpoint};
pub use record::{AuditEvent, AuditRecord, LeafIndex};

/// Why the audit log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path} cannot be opened or written: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "audit log {path} was written under a different audit key; use that key or start a new log file"
    )]
    WrongKey { path: PathBuf },
    #[error("audit log is damaged at record #{index}: {why}")]
    Corrupt { index: u64, why: String },
    #[error("audit log refuses writes after an earlier write failed; restart the gateway")]
    Poisoned,
    #[error("audit record cannot be encoded: {0}")]
    Encode(#[from] canonical::CanonicalError),
    #[error("audit proof: {0}")]
    Proof(#[from] merkle::ProofError),
    #[error("audit checkpoint: {0}")]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("audit export to {target} failed: {source}")]
    Export {
        target: String,
        #[source]
        source: std::io::Error,
    },
}
