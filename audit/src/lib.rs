//! The audit log's format and offline verifier: all an auditor needs, without the gateway.
//!
//! The gateway appends records to a live SQLite log and exports it; an auditor who does not
//! trust the gateway's operator checks the export here, with nothing but the export, the
//! signed checkpoints and the audit public key. This crate therefore does no network I/O,
//! holds no database and needs no async runtime: it builds without revm, tonic, rusqlite or
//! tokio (`scripts/check-crate-deps` keeps it that way), so `cargo install --path audit` gives
//! an auditor the `signgate-audit` binary in a fraction of the gateway's build.
//!
//! - [`record`]: the record types (one per event) and their version;
//! - [`canonical`]: the canonical JSON bytes that are hashed;
//! - [`merkle`]: RFC 6962 hashing, inclusion and consistency proofs;
//! - [`policy_chain`]: the chain of applied policies, from genesis, checked link by link;
//! - [`checkpoint`]: signed checkpoints (C2SP signed notes): format, signing, verification;
//! - [`export`]: the JSON Lines export file: writing it from record bytes and reading it;
//! - [`files`]: what an auditor holds, read from disk (checkpoint notes, the public key file);
//! - [`verify`]: the offline verifier behind `signgate audit verify` and `signgate-audit verify`;
//! - [`replay`]: recorded decisions re-evaluated under a candidate policy;
//! - [`story`]: one proposal's records in plain words.
//!
//! The live log (appending durably, signing checkpoints on a timer, delivering them) stays in
//! the gateway, which builds its records from the types here.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod canonical;
pub mod checkpoint;
pub mod export;
pub mod files;
pub mod merkle;
pub mod policy_chain;
pub mod record;
pub mod replay;
pub mod story;
pub mod verify;

pub use record::{AuditEvent, AuditRecord, LeafIndex};
