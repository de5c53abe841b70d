//! The realistic log of `audit/tests/it/realistic.rs` (one definition, shared with the audit
//! crate's tests), appended to the durable SQLite log, and its export as the CLI makes it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::path::Path;

use signgate_audit::{AuditEvent, export::export_jsonl};
use signgate_gateway::audit::{AuditLog, AuditReader};

use super::realistic::{Sink, run_server};
pub use super::realistic::{audit_key, policy_dir};

impl Sink for AuditLog {
    fn append(&mut self, event: AuditEvent) {
        AuditLog::append(self, event).unwrap();
    }

    fn size(&self) -> u64 {
        self.head().unwrap().0
    }

    fn checkpoint(&mut self) {
        AuditLog::checkpoint(self).unwrap();
    }
}

/// A log at `path` holding a server run over the corpus, with a checkpoint every
/// `checkpoint_every` records and one at the end. Returns the proposal ids.
pub fn build_log(path: &Path, checkpoint_every: u64) -> Vec<String> {
    let mut log = AuditLog::open(path, audit_key()).unwrap();
    run_server(&mut log, checkpoint_every, usize::MAX)
}

/// The JSON Lines export and the named checkpoint notes of the log at `path`.
pub fn export(path: &Path, proofs: bool) -> (Vec<u8>, Vec<(String, String)>) {
    let reader = AuditReader::open(path).unwrap();
    let leaves = reader.leaves().unwrap();
    let notes = reader.checkpoints().unwrap();
    let mut out = Vec::new();
    export_jsonl(&leaves, &notes, proofs, &mut out).unwrap();
    let named = notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("checkpoint-{i}"), n))
        .collect();
    (out, named)
}
