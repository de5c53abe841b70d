//! Getting the log and its checkpoints out of the operator's hands.
//!
//! **Records** export as JSON Lines, one [`ExportLine`] per record, each line itself canonical
//! JSON: the record object, the leaf hash the gateway stored for it and, on request, an
//! inclusion proof against the newest checkpoint. The leaf hash is a convenience that lets the
//! verifier name the exact record an edit touched; it is never trusted — the signed roots are.
//!
//! **Checkpoints** go to a file drop directory (one `checkpoint-<size>.note` per checkpoint,
//! written to a temporary name, fsynced and renamed, so a reader never sees half a note)
//! and/or to a command hook that receives the note on stdin (to mail it, post it to a witness
//! or another account's bucket). Where the drop lives decides what it proves: a directory the
//! operator can also rewrite proves nothing.

use std::{
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    AuditError,
    canonical::{CanonicalError, parse_canonical_value, value_to_canonical},
    checkpoint::parse_note,
    log::{AuditLog, SignedCheckpoint},
    merkle::{Tree, leaf_hash},
};

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
    pub tree_size: u64,
    pub path: Vec<B256>,
}

impl ExportLine {
    /// Parses one line; it must be canonical JSON.
    pub fn parse(line: &[u8]) -> Result<Self, CanonicalError> {
        let v = parse_canonical_value(line)?;
        serde_json::from_value(v).map_err(|e| CanonicalError::Schema(e.to_string()))
    }

    /// The bytes that were hashed for this record.
    pub fn record_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        value_to_canonical(&self.record)
    }

    /// The canonical line (without newline).
    pub fn to_line(&self) -> Result<Vec<u8>, CanonicalError> {
        super::canonical::to_canonical(self)
    }
}

/// Writes the log as JSON Lines to `out`; with `proofs`, each line carries its inclusion
/// proof against the newest checkpoint that covers it (records after it get none).
pub fn export_jsonl(
    leaves: &[Vec<u8>],
    checkpoint_notes: &[String],
    proofs: bool,
    out: &mut dyn Write,
) -> Result<(), AuditError> {
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
        out.write_all(&bytes).map_err(|e| AuditError::Export {
            target: "output".to_owned(),
            source: e,
        })?;
    }
    Ok(())
}

/// Where checkpoints go.
#[derive(Debug, Clone, Default)]
pub struct CheckpointSink {
    /// A directory to drop notes in.
    pub drop_dir: Option<PathBuf>,
    /// A program (and arguments) that receives each note on stdin; non-zero exit is a failure.
    pub hook: Option<Vec<String>>,
}

/// The file name a checkpoint of `size` gets in a drop directory (sorts by size).
pub fn note_file_name(size: u64) -> String {
    format!("checkpoint-{size:020}.note")
}

impl CheckpointSink {
    /// Delivers one checkpoint to every configured destination.
    pub fn deliver(&self, cp: &SignedCheckpoint) -> Result<(), AuditError> {
        if let Some(dir) = &self.drop_dir {
            write_atomically(dir, &note_file_name(cp.checkpoint.size), cp.note.as_bytes())?;
        }
        if let Some(hook) = &self.hook {
            run_hook(hook, &cp.note)?;
        }
        Ok(())
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
    let err = |e: std::io::Error| AuditError::Export {
        target: dir.display().to_string(),
        source: e,
    };
    fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fs::rename(&tmp, dir.join(name)).map_err(err)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)
}

fn run_hook(hook: &[String], note: &str) -> Result<(), AuditError> {
    let Some((program, args)) = hook.split_first() else {
        return Ok(());
    };
    let err = |e: std::io::Error| AuditError::Export {
        target: program.clone(),
        source: e,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(err)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(note.as_bytes()).map_err(err)?;
    }
    let status = child.wait().map_err(err)?;
    if !status.success() {
        return Err(AuditError::Export {
            target: program.clone(),
            source: std::io::Error::other(format!("hook exited with {status}")),
        });
    }
    Ok(())
}

/// Signs and delivers a checkpoint every `every` until `shutdown` resolves, then once more
/// (so the stop record is covered). Failures are logged and retried at the next tick; they
/// do not stop the gateway, because the records themselves are already durable.
pub async fn run_checkpoints(
    log: Arc<AuditLog>,
    sink: CheckpointSink,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let tick = |log: Arc<AuditLog>, sink: CheckpointSink| async move {
        let done = tokio::task::spawn_blocking(move || {
            let cp = log.checkpoint()?;
            sink.deliver(&cp).map(|()| cp.checkpoint.size)
        })
        .await;
        match done {
            Ok(Ok(size)) => tracing::debug!(size, "audit checkpoint exported"),
            Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint export failed"),
            Err(e) => tracing::error!(error = %e, "audit checkpoint task failed"),
        }
    };
    let mut interval = tokio::time::interval(every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = interval.tick() => tick(log.clone(), sink.clone()).await,
            () = &mut shutdown => break,
        }
    }
    tick(log, sink).await;
}

/// Reads the records of an export (for `show` and `replay`); refuses the first bad line,
/// naming it. Run `signgate audit verify` first to know the records are the logged ones.
pub fn records_from_export(
    log: &[u8],
) -> Result<Vec<super::record::AuditRecord>, (usize, CanonicalError)> {
    let body = log.strip_suffix(b"\n").unwrap_or(log);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(n, raw)| {
            ExportLine::parse(raw)
                .and_then(|l| l.record_bytes())
                .and_then(|b| super::record::AuditRecord::from_bytes(&b))
                .map_err(|e| (n + 1, e))
        })
        .collect()
}
