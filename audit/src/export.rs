//! The export file: the log as JSON Lines, what an auditor receives and verifies.
//!
//! One [`ExportLine`] per record, each line itself canonical JSON: the record object, the leaf
//! hash the gateway stored for it and, on request, an inclusion proof against the newest
//! checkpoint. The leaf hash is a convenience that lets the verifier name the exact record an
//! edit touched; it is never trusted — the signed roots are.
//!
//! Writing takes record bytes and checkpoint notes, not a database: the gateway reads them
//! from its live log and hands them over, a test or a bench builds them in memory, and both
//! produce the same bytes. Checkpoints travel beside the export as one
//! [`note_file_name`]-named file per checkpoint (the gateway's file drop uses the same names).

use std::io::Write;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    canonical::{CanonicalError, parse_canonical_value, to_canonical, value_to_canonical},
    checkpoint::parse_note,
    merkle::{ProofError, Tree, leaf_hash},
    record::AuditRecord,
};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A stored record is not canonical JSON (the live log only stores canonical records, so
    /// this means the store was damaged).
    #[error("audit record cannot be exported: {0}")]
    Encode(#[from] CanonicalError),
    /// An inclusion proof could not be computed.
    #[error("audit inclusion proof: {0}")]
    Proof(#[from] ProofError),
    /// The destination refused the bytes.
    #[error("audit export could not be written: {0}")]
    Write(#[source] std::io::Error),
}

/// A line of an export that is not a canonical export line holding a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct UnreadableLine {
    /// 1-based line number in the export.
    pub line: usize,
    /// What is wrong with it.
    #[source]
    pub source: CanonicalError,
}

/// One exported line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLine {
    /// `H(0x00 ‖ canonical(record))`.
    pub leaf_hash: B256,
    /// The record, exactly as hashed once written canonically.
    pub record: Value,
    /// Present when exported with proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<InclusionProof>,
}

/// An audit path from a record to the root of a tree of `tree_size` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The size of the checkpoint whose root the path leads to.
    pub tree_size: u64,
    /// The RFC 6962 audit path, leaf side first.
    pub path: Vec<B256>,
}

impl ExportLine {
    /// Parses one line; it must be the line's one canonical encoding. Canonical JSON alone is
    /// not enough: serde also reads a struct from an array and a hash from an array of
    /// numbers, so `[[11,0,…],110]` parsed as a line it is not (found by the `audit_record`
    /// fuzz target). A line must write back to exactly its own bytes.
    pub fn parse(line: &[u8]) -> Result<Self, CanonicalError> {
        let v = parse_canonical_value(line)?;
        let parsed: Self =
            serde_json::from_value(v).map_err(|e| CanonicalError::Schema(e.to_string()))?;
        if parsed.to_line()? != line {
            return Err(CanonicalError::Schema(
                "not an export line as written: an object with a hex leaf_hash, the record and \
                 an optional inclusion proof, in canonical form"
                    .to_owned(),
            ));
        }
        Ok(parsed)
    }

    /// The bytes that were hashed for this record.
    pub fn record_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        value_to_canonical(&self.record)
    }

    /// The canonical line (without newline).
    pub fn to_line(&self) -> Result<Vec<u8>, CanonicalError> {
        to_canonical(self)
    }
}

/// Writes the log as JSON Lines to `out`; with `proofs`, each line carries its inclusion
/// proof against the newest checkpoint that covers it (records after it get none).
pub fn export_jsonl(
    leaves: &[Vec<u8>],
    checkpoint_notes: &[String],
    proofs: bool,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let proof_size = checkpoint_notes
        .iter()
        .filter_map(|n| parse_note(n).ok())
        .map(|(c, _)| c.size)
        .filter(|&s| s <= hashes.len() as u64)
        .max();
    let tree = Tree::new(hashes.clone());
    for (i, (data, hash)) in leaves.iter().zip(&hashes).enumerate() {
        let index = i as u64;
        let inclusion = match proof_size {
            Some(size) if proofs && index < size => Some(InclusionProof {
                tree_size: size,
                path: tree
                    .inclusion_proof(index, size)?
                    .into_iter()
                    .map(B256::from)
                    .collect(),
            }),
            _ => None,
        };
        let line = ExportLine {
            leaf_hash: B256::from(*hash),
            record: serde_json::from_slice(data)
                .map_err(|e| CanonicalError::Syntax(e.to_string()))?,
            inclusion,
        };
        let mut bytes = line.to_line()?;
        bytes.push(b'\n');
        out.write_all(&bytes).map_err(ExportError::Write)?;
    }
    Ok(())
}

/// The file name a checkpoint of `size` gets in a checkpoint directory: zero-padded so
/// the names sort by tree size and a directory listing shows the log growing.
pub fn note_file_name(size: u64) -> String {
    format!("checkpoint-{size:020}.note")
}

/// Reads the records of an export (for `show` and `replay`); refuses the first bad line,
/// naming it. This checks no hash or signature: verify the export first
/// ([`crate::verify::verify_export`]) to know the records are the logged ones.
pub fn records_from_export(log: &[u8]) -> Result<Vec<AuditRecord>, UnreadableLine> {
    let body = log.strip_suffix(b"\n").unwrap_or(log);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(n, raw)| {
            ExportLine::parse(raw)
                .and_then(|l| l.record_bytes())
                .and_then(|b| AuditRecord::from_bytes(&b))
                .map_err(|source| UnreadableLine {
                    line: n + 1,
                    source,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test: fail loudly")]

    use super::*;

    /// The `audit_record` fuzz target's find: a JSON array that serde read as a line (hash from
    /// 32 numbers, record 110) but that is not the line it writes back.
    #[test]
    fn a_line_that_is_not_its_own_canonical_encoding_is_refused() {
        let found =
            include_bytes!("../tests/fixtures/fuzz-crashes/audit_record-export-line-as-array.json");
        let err = ExportLine::parse(found).unwrap_err();
        assert!(
            err.to_string().contains("not an export line as written"),
            "{err}"
        );

        // A line as written parses and writes back unchanged.
        let line = ExportLine {
            leaf_hash: B256::repeat_byte(0x0b),
            record: serde_json::json!({"index": 0}),
            inclusion: None,
        };
        let bytes = line.to_line().unwrap();
        assert_eq!(ExportLine::parse(&bytes).unwrap(), line);
        // The same fields with the hash as an array of numbers: refused.
        let numbers: Vec<u8> = vec![0x0b; 32];
        let as_array = format!(
            "{{\"leaf_hash\":{},\"record\":{{\"index\":0}}}}",
            serde_json::to_string(&numbers).unwrap()
        );
        assert!(ExportLine::parse(as_array.as_bytes()).is_err());
    }
}
