//! The applied policy on disk: `<data_dir>/policy/active.json` holds the policy text exactly as
//! the admins signed it and their signatures, in one file so the two can never disagree.
//!
//! An application is written as `pending.json` first (temp file, fsync, rename, fsync of the
//! directory), becomes `active.json` only after its audit records are durable, and a start
//! that finds a `pending.json` promotes it only if the audit log holds its `policy_applied`
//! record (a crash between the two steps) and deletes it otherwise (the records never made it).
//! So no policy the log does not record can ever be picked up by a restart.

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use signgate_audit::{AuditEvent, AuditRecord};
use signgate_policy::{
    CompileError, Policy, PolicyHash,
    governance::{AdminSignature, admin_message},
};

use crate::audit::AuditReader;

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
}

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
    /// The audit log could not be read to decide about a pending application.
    #[error("reading the audit log for a pending policy: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

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

/// Whether the audit log at `audit` holds a `policy_applied` record of `hash`.
fn recorded(audit: &Path, hash: PolicyHash) -> Result<bool, PersistError> {
    let reader = AuditReader::open(audit)?;
    Ok(reader.leaves()?.iter().any(|leaf| {
        AuditRecord::from_bytes(leaf)
            .is_ok_and(|r| matches!(r.event, AuditEvent::PolicyApplied(p) if p.policy_hash == hash))
    }))
}

/// Settles a `pending.json` left by a crash: promoted if the log at `audit` recorded it,
/// deleted otherwise. Run at start, before [`load_active`].
pub fn recover_pending(dir: &Path, audit: &Path) -> Result<(), PersistError> {
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

/// The applied policy in `dir`, compiled, if any. Its hash must match its text and every
/// signature must verify over that hash: a file edited on disk stops the start.
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
    let message = admin_message(policy.hash());
    for s in &stored.signatures {
        let valid = VerifyingKey::from_bytes(&s.public_key.0).is_ok_and(|k| {
            k.verify_strict(&message, &Signature::from_bytes(&s.signature.0))
                .is_ok()
        });
        if !valid {
            return Err(tampered(format!(
                "the signature by {} does not verify over {}",
                s.public_key,
                policy.hash()
            )));
        }
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
        PersistedPolicy {
            policy_hash: hash,
            source: SOURCE.to_owned(),
            signatures: vec![sign_policy(&signing_key(&[0xd0; 32]), hash)],
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
    fn an_edited_policy_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = persisted();
        p.source = p.source.replace("signgate-demo", "signgate-edited");
        stage(dir.path(), &p).unwrap();
        promote(dir.path()).unwrap();
        assert!(matches!(
            load_active(dir.path()),
            Err(PersistError::Tampered { .. })
        ));
        let mut p = persisted();
        p.signatures[0].signature.0[0] ^= 1;
        stage(dir.path(), &p).unwrap();
        promote(dir.path()).unwrap();
        let err = load_active(dir.path()).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
        fs::write(dir.path().join(ACTIVE), "{").unwrap();
        assert!(matches!(
            load_active(dir.path()),
            Err(PersistError::Malformed { .. })
        ));
    }
}
