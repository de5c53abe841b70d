//! The applied policy on disk: `<data_dir>/policy/active.json` holds the policy text exactly as
//! the admins signed it and their signatures, in one file so the two can never disagree.
//!
//! An application is written as `pending.json` first (temp file, fsync, rename, fsync of the
//! directory), becomes `active.json` only after its audit records are durable, and a start
//! that finds a `pending.json` promotes it only if the audit log holds its `policy_applied`
//! record (a crash between the two steps) and deletes it otherwise (the records never made it).
//! So no policy the log does not record can ever be picked up by a restart.
//!
//! The file alone is never trusted: anyone who can write the data directory can write it. At
//! start (`super::policy_at_start`) its signatures must be those of the admins of the policy it
//! replaces, and it must be the policy the audit log's chain of `policy_applied` records ends
//! at, checked link by link from the configured genesis policy.

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use signgate_audit::{AuditEvent, AuditRecord, policy_chain::ChainError, record::PolicyApplied};
use signgate_policy::{
    CompileError, Policy, PolicyHash,
    governance::{AdminSignature, PolicyStatement},
};

use crate::audit::AuditLog;

/// The file name of the policy in force.
pub const ACTIVE: &str = "active.json";
/// The file name of an application whose audit records are not yet known to be durable.
pub const PENDING: &str = "pending.json";

/// An applied policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistedPolicy {
    /// The content hash of `source`, repeated so a reader sees what the admins signed.
    pub policy_hash: PolicyHash,
    /// The policy TOML exactly as signed.
    pub source: String,
    /// The admin signatures that let it take effect.
    pub signatures: Vec<AdminSignature>,
    /// The version it took effect as; 0 in files written before versioned signatures.
    #[serde(default)]
    pub version: u64,
    /// The content hash of the policy it replaced; absent in files written before versioned
    /// signatures.
    #[serde(default)]
    pub replaces: Option<PolicyHash>,
    /// The signatures are over the content hash alone (made before versions): the file was
    /// migrated once, against the audit log's record, and is trusted only as that record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_signatures: bool,
}

impl PersistedPolicy {
    /// What the admins signed, for a file written with versioned signatures.
    pub fn statement(&self) -> Option<PolicyStatement> {
        (self.version != 0 && !self.legacy_signatures)
            .then_some(())
            .and(self.replaces)
            .map(|replaces| PolicyStatement {
                version: self.version,
                replaces,
                policy: self.policy_hash,
            })
    }
}

/// Where the recovery advice points: moving the file aside makes the gateway start under the
/// policy the audit log's chain ends at, from which the intended one can be re-applied.
const RECOVER: &str = "to recover, move the file aside (the gateway then starts under the policy the audit log's chain of applied policies ends at, or the configured genesis policy if none was applied) and re-apply the intended policy through `signgate admin apply-policy` with signatures of the admins of the policy it replaces";

/// Why the persisted policy cannot be used; the gateway does not start over one.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// A file could not be read, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or its directory.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The file is not a persisted policy.
    #[error("{} is not an applied policy file: {why}", path.display())]
    Malformed {
        /// The applied-policy file.
        path: PathBuf,
        /// What could not be read.
        why: String,
    },
    /// The stored text no longer compiles.
    #[error("{} holds a policy that does not compile: {source}", path.display())]
    Compile {
        /// The applied-policy file.
        path: PathBuf,
        /// Why the compiler refused it.
        source: CompileError,
    },
    /// The stored text, hash and signatures disagree (edited or damaged on disk).
    #[error("{} is damaged: {why}; restore it from a backup or remove it to fall back to the configured policy", path.display())]
    Tampered {
        /// The applied-policy file.
        path: PathBuf,
        /// Which of text, hash and signatures disagree.
        why: String,
    },
    /// The audit log could not be read or written to decide about the stored policy.
    #[error("reading the audit log for the applied policy: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// The stored policy verifies on its own but is not the governed policy in force: `check`
    /// names which test failed (signatures of the predecessor's admins, or the audit log).
    #[error("{} is not accepted as the policy in force: the {check} check failed: {why}; the gateway does not start over it; {RECOVER}", path.display())]
    Untrusted {
        /// The applied-policy file.
        path: PathBuf,
        /// The check that failed.
        check: &'static str,
        /// What it found.
        why: String,
    },
    /// The audit log's chain of applied policies does not verify from the configured genesis
    /// policy: the configured file was changed, or the log was.
    #[error("the audit log's chain of applied policies does not verify from the configured genesis policy {}: {source}; `pipeline.policy` must stay the policy this data directory was first started with (restore it), and a log whose chain breaks cannot say which policy is in force", genesis.display())]
    Chain {
        /// The configured genesis policy file.
        genesis: PathBuf,
        /// The broken link (boxed: it carries the activation error of the link).
        source: Box<ChainError>,
    },
    /// No policy was ever applied, and the configured genesis policy is not the one the
    /// gateway first started under: the file was edited, which is not a governed change.
    #[error("the configured genesis policy {} (hash {configured}) is not the policy this data directory was first started under ({recorded}, audit record #{index}); a new policy takes effect only through `signgate admin apply-policy` with the admins' signatures, so restore the file (the audit log holds the first start's policy hash)", genesis.display())]
    GenesisChanged {
        /// The configured genesis policy file.
        genesis: PathBuf,
        /// Its hash now.
        configured: PolicyHash,
        /// The hash the first start recorded.
        recorded: PolicyHash,
        /// The `server_started` record that pinned it.
        index: u64,
    },
    /// The audit log records applied policies but no stored policy file matches what it needs.
    #[error("the audit log records policy {hash} as in force, applied before versioned signatures, but {} is missing; restore it from a backup ({RECOVER_LEGACY})", path.display())]
    MissingLegacy {
        /// The applied-policy file.
        path: PathBuf,
        /// The policy the log names.
        hash: PolicyHash,
    },
}

const RECOVER_LEGACY: &str = "its text is not in the log, so the gateway cannot rebuild it";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `policy` as `dir/pending.json`, durably (temp file, fsync, rename, directory fsync).
pub fn stage(dir: &Path, policy: &PersistedPolicy) -> Result<(), PersistError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let json = serde_json::to_vec_pretty(policy).map_err(|e| PersistError::Malformed {
        path: dir.join(PENDING),
        why: e.to_string(),
    })?;
    let tmp = dir.join(".pending.json.tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&json).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let pending = dir.join(PENDING);
    fs::rename(&tmp, &pending).map_err(io(&pending))?;
    sync_dir(dir)
}

/// Makes the staged application the one a restart picks up (one atomic rename).
pub fn promote(dir: &Path) -> Result<(), PersistError> {
    let active = dir.join(ACTIVE);
    fs::rename(dir.join(PENDING), &active).map_err(io(&active))?;
    sync_dir(dir)
}

/// Drops a staged application whose audit records were not written.
pub fn discard(dir: &Path) -> Result<(), PersistError> {
    let pending = dir.join(PENDING);
    match fs::remove_file(&pending) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(&pending)(e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn read(path: &Path) -> Result<Option<PersistedPolicy>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PersistError::Malformed {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
}

/// What the audit log says about governance, read in one pass: every `policy_applied` record
/// (position, time in ms, record), and the policy the first `server_started` record that names
/// one started under (position, hash). Before any policy is applied the latter pins the genesis
/// policy, so an edit of the configured file is refused like any other change that did not go
/// through `Admin.ApplyPolicy`.
#[derive(Debug, Default)]
pub struct GovernanceRecords {
    /// Every `policy_applied` record, in order.
    pub applied: Vec<(u64, u64, PolicyApplied)>,
    /// The first start's policy, if any start named one.
    pub first_started: Option<(u64, PolicyHash)>,
}

/// Reads [`GovernanceRecords`] from `audit`.
pub fn governance_records(audit: &AuditLog) -> Result<GovernanceRecords, PersistError> {
    let reader = audit.reader()?;
    let mut out = GovernanceRecords::default();
    for r in reader
        .governance_leaves()?
        .iter()
        .filter_map(|leaf| AuditRecord::from_bytes(leaf).ok())
    {
        match r.event {
            AuditEvent::PolicyApplied(p) => out.applied.push((r.index, r.at_ms, p)),
            AuditEvent::ServerStarted(s) if out.first_started.is_none() => {
                out.first_started = s.policy_hash.map(|h| (r.index, h));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Every `policy_applied` record of the log at `audit`, in order.
pub fn applied_records(audit: &AuditLog) -> Result<Vec<(u64, u64, PolicyApplied)>, PersistError> {
    Ok(governance_records(audit)?.applied)
}

/// Whether the audit log at `audit` holds a `policy_applied` record of `hash`.
fn recorded(audit: &AuditLog, hash: PolicyHash) -> Result<bool, PersistError> {
    Ok(applied_records(audit)?
        .iter()
        .any(|(_, _, p)| p.policy_hash == hash))
}

/// Settles a `pending.json` left by a crash: promoted if the log at `audit` recorded it,
/// deleted otherwise. Run at start, before [`load_active`].
pub fn recover_pending(dir: &Path, audit: &AuditLog) -> Result<(), PersistError> {
    let pending = dir.join(PENDING);
    let Some(staged) = read(&pending)? else {
        return Ok(());
    };
    if recorded(audit, staged.policy_hash)? {
        tracing::warn!(
            policy_hash = %staged.policy_hash,
            "a policy application was recorded in the audit log but interrupted before it took effect; completing it"
        );
        promote(dir)
    } else {
        tracing::warn!(
            policy_hash = %staged.policy_hash,
            "discarding a policy application the audit log never recorded"
        );
        discard(dir)
    }
}

/// Writes `policy` as `dir/active.json` directly (stage and promote): for a file rebuilt or
/// migrated at start from what the audit log already records.
pub fn rewrite_active(dir: &Path, policy: &PersistedPolicy) -> Result<(), PersistError> {
    stage(dir, policy)?;
    promote(dir)
}

/// The applied policy in `dir`, compiled, if any. Its hash must match its text (a file edited
/// on disk stops the start); whether it may be in force is decided by the caller against the
/// audit log's chain.
pub fn load_active(dir: &Path) -> Result<Option<(Policy, PersistedPolicy)>, PersistError> {
    let path = dir.join(ACTIVE);
    let Some(stored) = read(&path)? else {
        return Ok(None);
    };
    let policy = Policy::compile(&stored.source).map_err(|source| PersistError::Compile {
        path: path.clone(),
        source,
    })?;
    let tampered = |why: String| PersistError::Tampered {
        path: path.clone(),
        why,
    };
    if policy.hash() != stored.policy_hash {
        return Err(tampered(format!(
            "its text hashes to {}, not the recorded {}",
            policy.hash(),
            stored.policy_hash
        )));
    }
    if stored.signatures.is_empty() {
        return Err(tampered("it holds no admin signature".to_owned()));
    }
    Ok(Some((policy, stored)))
}

#[cfg(test)]
mod tests {
    use signgate_policy::governance::{sign_policy, signing_key};

    use super::*;

    const SOURCE: &str = include_str!("../../config/demo/policy.toml");

    fn persisted() -> PersistedPolicy {
        let hash = PolicyHash::of(SOURCE);
        let statement = PolicyStatement {
            version: 2,
            replaces: hash,
            policy: hash,
        };
        PersistedPolicy {
            policy_hash: hash,
            source: SOURCE.to_owned(),
            signatures: vec![sign_policy(&signing_key(&[0xd0; 32]), &statement)],
            version: 2,
            replaces: Some(hash),
            legacy_signatures: false,
        }
    }

    #[test]
    fn a_promoted_policy_loads_and_a_staged_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        stage(dir.path(), &persisted()).unwrap();
        assert!(load_active(dir.path()).unwrap().is_none());
        promote(dir.path()).unwrap();
        let (policy, stored) = load_active(dir.path()).unwrap().unwrap();
        assert_eq!(policy.hash(), stored.policy_hash);
        assert!(!dir.path().join(PENDING).exists());
    }

    #[test]
    fn a_policy_file_edited_on_disk_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = persisted();
        p.source = p.source.replace("signgate-demo", "signgate-edited");
        stage(dir.path(), &p).unwrap();
        promote(dir.path()).unwrap();
        assert!(matches!(
            load_active(dir.path()),
            Err(PersistError::Tampered { .. })
        ));
        fs::write(dir.path().join(ACTIVE), "{").unwrap();
        assert!(matches!(
            load_active(dir.path()),
            Err(PersistError::Malformed { .. })
        ));
    }
}
