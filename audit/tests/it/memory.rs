//! An in-memory log: what the gateway's durable log does to records (index them, hash them,
//! sign checkpoints of the tree), without a database, so the audit crate's tests exercise the
//! export file and the verifier exactly as an auditor meets them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use ed25519_dalek::SigningKey;
use signgate_audit::{
    AuditEvent, AuditRecord,
    checkpoint::{Checkpoint, origin_for},
    export::export_jsonl,
    merkle::{Frontier, leaf_hash},
    record::{EncodedEvent, RECORD_VERSION},
};

use super::realistic::Sink;

/// 2026-01-01T00:00:00Z in milliseconds: record times count up from here, one per record.
const T0_MS: u64 = 1_767_225_600_000;

pub struct MemoryLog {
    key: SigningKey,
    leaves: Vec<Vec<u8>>,
    frontier: Frontier,
    notes: Vec<(u64, String)>,
}

impl MemoryLog {
    pub fn new(key: SigningKey) -> Self {
        Self {
            key,
            leaves: Vec::new(),
            frontier: Frontier::default(),
            notes: Vec::new(),
        }
    }

    /// Every record's canonical bytes, in order (what the live log stores).
    pub fn leaves(&self) -> &[Vec<u8>] {
        &self.leaves
    }

    /// Every signed checkpoint note, oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.notes.iter().map(|(_, n)| n.clone()).collect()
    }

    /// The JSON Lines export and the checkpoint notes named `checkpoint-<i>`.
    pub fn export(&self, proofs: bool) -> (Vec<u8>, Vec<(String, String)>) {
        let notes = self.notes();
        let mut out = Vec::new();
        export_jsonl(&self.leaves, &notes, proofs, &mut out).unwrap();
        let named = notes
            .into_iter()
            .enumerate()
            .map(|(i, n)| (format!("checkpoint-{i}"), n))
            .collect();
        (out, named)
    }
}

impl Sink for MemoryLog {
    fn append(&mut self, event: AuditEvent) {
        let index = self.leaves.len() as u64;
        // The live log's way (issue 17): the event encoded first, spliced into its record once
        // its position is known. It must give exactly the record's canonical bytes.
        let encoded = EncodedEvent::new(&event).unwrap();
        let bytes = AuditRecord {
            v: RECORD_VERSION,
            index,
            at_ms: T0_MS + index,
            event,
        }
        .to_bytes()
        .unwrap();
        assert_eq!(
            AuditRecord::bytes_of(index, T0_MS + index, &encoded),
            bytes,
            "a spliced record differs from its canonical encoding"
        );
        self.frontier.push(leaf_hash(&bytes));
        self.leaves.push(bytes);
    }

    fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Like the live log: no second checkpoint of a tree that has not grown.
    fn checkpoint(&mut self) {
        let size = self.frontier.size();
        if self.notes.last().is_some_and(|(s, _)| *s == size) {
            return;
        }
        let note = Checkpoint {
            origin: origin_for(&self.key.verifying_key()),
            size,
            root: self.frontier.root(),
            time: T0_MS / 1000 + size,
        }
        .sign(&self.key);
        self.notes.push((size, note));
    }
}
