//! The live audit log: the durable SQLite log the gateway appends to, and checkpoint delivery.
//!
//! What a record is, how it is hashed, how checkpoints are signed and how an export is
//! verified offline live in the `signgate-audit` crate ([`signgate_audit`]), so an auditor can
//! build that alone; this module is the part that needs the gateway's database and runtime:
//!
//! - [`log`]: the durable SQLite-backed [`AuditLog`] the gateway appends to, and the
//!   read-only [`AuditReader`] behind `signgate audit export`;
//! - [`export`]: checkpoint delivery (file drop, command hook) and the periodic task that
//!   signs them.
//!
//! The pipeline's contract: append the record **before** sending the response that depends
//! on it; if [`AuditLog::append`] fails, release nothing and answer `UNAVAILABLE`.
//!
//! Which record at which step (all in [`signgate_audit::record`]):
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

pub mod export;
pub mod log;
pub mod postgres;

use std::path::PathBuf;

use signgate_audit::{canonical::CanonicalError, checkpoint::CheckpointError};

pub use log::{
    AuditLog, AuditOptions, AuditReader, AuditWriter, SignedCheckpoint, Staged, merge_legacy,
};

/// Why the audit log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The SQLite file could not be opened, read or written.
    #[error("audit log {path} cannot be opened or written: {source}")]
    Store {
        /// The audit log file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The log was started under another audit key, so checkpoints signed now would not verify
    /// against the earlier ones. Refused at open.
    #[error(
        "audit log {path} was written under a different audit key; use that key or start a new log file"
    )]
    WrongKey {
        /// The audit log file.
        path: PathBuf,
    },
    /// The stored records do not rebuild the tree they were logged into (a record missing or
    /// altered, or a stored checkpoint that does not match): the file was changed outside the
    /// gateway.
    #[error("audit log is damaged at record #{index}: {why}")]
    Corrupt {
        /// Index (from 0) of the record where the damage was found.
        index: u64,
        /// What did not match.
        why: String,
    },
    /// An earlier write failed, so the log may lack a record; every append and checkpoint is
    /// refused until the gateway restarts and reopens it.
    #[error("audit log refuses writes after an earlier write failed; restart the gateway")]
    Poisoned,
    /// The PostgreSQL database of a shared log failed (unreachable, a failover, a statement
    /// timeout). Nothing was appended; the caller answers `UNAVAILABLE`.
    #[error("audit log database: {0}")]
    Database(String),
    /// A policy application replaces a policy that is no longer in force: another replica put
    /// a different one in force meanwhile. Nothing was recorded; apply again as the successor
    /// of the one in force.
    #[error(
        "the policy being applied replaces {replaces}, but {in_force} was put in force meanwhile \
         (through another replica); nothing was applied"
    )]
    PolicyRaced {
        /// The predecessor the application names.
        replaces: String,
        /// The policy recorded as in force.
        in_force: String,
    },
    /// `[audit] replica_keys` does not list an audit key that writes (or wrote) this log.
    #[error(
        "audit key {key} {} not listed in audit.replica_keys; list every replica's audit public \
         key (auditors verify checkpoints against that list)",
        if *own { "of this replica is" } else { "has opened this shared log but is" }
    )]
    UnlistedSigner {
        /// The key, hex.
        key: String,
        /// Whether it is this replica's own.
        own: bool,
    },
    /// An event has no canonical encoding, so it was not recorded.
    #[error("audit record cannot be encoded: {0}")]
    Encode(#[from] CanonicalError),
    /// A checkpoint note could not be built, signed or read back.
    #[error("audit checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A log merged from its old file of its own could not have that file renamed aside.
    #[error("audit log {legacy} was merged, but could not be renamed aside: {source}")]
    Merged {
        /// The old log file.
        legacy: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint note could not be written to the checkpoint directory, or the hook could
    /// not be run or exited non-zero.
    #[error("audit export to {target} failed: {source}")]
    Export {
        /// The checkpoint directory, or the hook's program.
        target: String,
        /// The I/O error, or the hook's exit status.
        #[source]
        source: std::io::Error,
    },
}
