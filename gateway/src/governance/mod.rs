//! The policy in force and its governed replacement (`Admin.ApplyPolicy`).
//!
//! - [`GovernedPolicy`]: the policy every request decides under, behind an [`ArcSwap`] so a
//!   request loads it once and decides under one version even while a new one is applied;
//! - `persist`: the applied policy in the data directory, and recovery at start;
//! - `diff`: the operator differences between two policies, as audit records.
//!
//! Whether a policy may take effect is decided by `signgate_policy::governance::activate`
//! (pure): enough admins **of the policy in force** signed its content hash. This module does
//! the I/O around that decision, in an order that can never leave an unrecorded policy in
//! force: stage the file → append the records (all or none) → promote the file → swap.

mod diff;
pub mod persist;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use signgate_audit::{
    AuditEvent,
    record::{Caller, PolicyApplied},
};
use signgate_policy::{
    Policy, PolicyHash,
    governance::{ActivationError, AdminSignature, activate},
    time::Timestamp,
};

pub use diff::{describe, operator_changes};
pub use persist::{PersistError, PersistedPolicy};

use crate::audit::{AuditError, AuditLog};

/// Why a policy was not applied. Nothing changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Not UTF-8.
    #[error("the policy is not UTF-8 text: {0}")]
    NotText(std::str::Utf8Error),
    /// Does not compile, or too few valid admin signatures.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// The very policy in force.
    #[error("policy {0} is already in force; nothing changed")]
    AlreadyInForce(PolicyHash),
    /// The policy file could not be staged.
    #[error("the applied policy could not be stored: {0}")]
    Persist(#[from] PersistError),
    /// The audit log refused the records.
    #[error("the audit log could not record the policy change: {0}")]
    Audit(#[from] AuditError),
    /// A blocking task died.
    #[error("policy application task failed: {0}")]
    Task(String),
}

/// A policy that took effect.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The new policy in force.
    pub policy: Arc<Policy>,
    /// The one it replaced.
    pub previous: PolicyHash,
    /// What changed, in plain words.
    pub changes: Vec<String>,
}

/// The policy in force, swappable only through [`GovernedPolicy::apply`].
#[derive(Debug)]
pub struct GovernedPolicy {
    current: ArcSwap<Policy>,
    dir: PathBuf,
    audit: Arc<AuditLog>,
    /// One application at a time: each is judged against the policy in force when it runs.
    applying: tokio::sync::Mutex<()>,
}

/// The directory of the applied policy inside the data directory.
pub fn policy_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("policy")
}

impl GovernedPolicy {
    /// `policy` in force; applications are stored in `dir` and recorded in `audit`.
    pub fn new(policy: Policy, dir: PathBuf, audit: Arc<AuditLog>) -> Self {
        Self {
            current: ArcSwap::from_pointee(policy),
            dir,
            audit,
            applying: tokio::sync::Mutex::new(()),
        }
    }

    /// The policy in force. Load it once per request and decide everything under that `Arc`.
    pub fn load(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// The audit log policy changes are recorded in.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Applies `source` if enough admins of the policy in force signed its content hash.
    /// The new policy is staged on disk, recorded (`policy_applied` and one `operator_changed`
    /// per difference, in one transaction), made durable and only then swapped in.
    pub async fn apply(
        &self,
        source: &[u8],
        signatures: Vec<AdminSignature>,
        caller: Caller,
        now: Timestamp,
    ) -> Result<Applied, ApplyError> {
        let source = std::str::from_utf8(source).map_err(ApplyError::NotText)?;
        let _one_at_a_time = self.applying.lock().await;
        let current = self.load();
        let policy = activate(source, &signatures, Some(&current), now)?;
        if policy.hash() == current.hash() {
            return Err(ApplyError::AlreadyInForce(policy.hash()));
        }
        let changes = operator_changes(&current, &policy);
        let mut words = vec![format!(
            "policy {} ({}) replaces {} ({})",
            policy.name(),
            policy.hash(),
            current.name(),
            current.hash()
        )];
        words.extend(changes.iter().map(describe));
        if changes.is_empty() {
            words.push("no operator changed".to_owned());
        }
        let mut events = vec![AuditEvent::PolicyApplied(PolicyApplied {
            policy_hash: policy.hash(),
            name: policy.name().to_owned(),
            previous: Some(current.hash()),
            admin_signatures: signatures.clone(),
            caller,
        })];
        events.extend(changes.into_iter().map(AuditEvent::OperatorChanged));
        let stored = PersistedPolicy {
            policy_hash: policy.hash(),
            source: source.to_owned(),
            signatures,
        };
        let (dir, audit) = (self.dir.clone(), self.audit.clone());
        tokio::task::spawn_blocking(move || record_and_store(&dir, &audit, &stored, events))
            .await
            .map_err(|e| ApplyError::Task(e.to_string()))??;
        let policy = Arc::new(policy);
        self.current.store(policy.clone());
        tracing::warn!(
            policy = policy.name(),
            policy_hash = %policy.hash(),
            previous = %current.hash(),
            "a new policy is in force"
        );
        Ok(Applied {
            policy,
            previous: current.hash(),
            changes: words,
        })
    }
}

/// Stage → record → promote. A failed record discards the staged file; a failed promotion
/// after the records are durable leaves the staged file for the next start to complete.
fn record_and_store(
    dir: &Path,
    audit: &AuditLog,
    stored: &PersistedPolicy,
    events: Vec<AuditEvent>,
) -> Result<(), ApplyError> {
    persist::stage(dir, stored)?;
    if let Err(e) = audit.append_all(events) {
        if let Err(d) = persist::discard(dir) {
            tracing::error!(error = %d, "could not remove the staged policy; the next start discards it");
        }
        return Err(e.into());
    }
    if let Err(e) = persist::promote(dir) {
        // Recorded, so the next start completes it (recover_pending); in force now so the
        // log and the running gateway agree.
        tracing::error!(error = %e, "the applied policy is recorded but its file could not be moved into place; the next start completes it");
    }
    Ok(())
}

/// The policy to start with: an applied policy in `<data_dir>/policy` (after settling an
/// interrupted application against the audit log at `audit_path`) takes precedence over the
/// configured file, because editing the configuration is not a governed change.
pub fn policy_at_start(
    data_dir: &Path,
    audit_path: &Path,
    configured: Policy,
    configured_path: &Path,
) -> Result<Policy, PersistError> {
    let dir = policy_dir(data_dir);
    persist::recover_pending(&dir, audit_path)?;
    match persist::load_active(&dir)? {
        Some((applied, stored)) => {
            tracing::warn!(
                applied = %applied.hash(),
                applied_file = %dir.join(persist::ACTIVE).display(),
                configured = %configured.hash(),
                configured_file = %configured_path.display(),
                admin_signatures = stored.signatures.len(),
                "using the policy applied through Admin.ApplyPolicy, not the configured file: \
                 an edit of the configured file is not a governed change"
            );
            Ok(applied)
        }
        None => Ok(configured),
    }
}

impl From<ApplyError> for crate::error::GatewayError {
    fn from(e: ApplyError) -> Self {
        use signgate_policy::governance::ActivationError;
        match e {
            e @ ApplyError::NotText(_) => Self::invalid("policy", e.to_string()),
            ApplyError::Activation(ActivationError::Compile(c)) => {
                Self::invalid("policy", format!("does not compile: {c}"))
            }
            // Lists every signature that did not count and how many are needed.
            e @ ApplyError::Activation(ActivationError::NotEnoughSignatures { .. }) => {
                Self::PermissionDenied(format!("policy refused, nothing changed: {e}"))
            }
            e @ ApplyError::AlreadyInForce(_) => Self::FailedPrecondition(e.to_string()),
            e @ (ApplyError::Persist(_) | ApplyError::Audit(_)) => Self::Unavailable(format!(
                "{e}; the policy was not applied and the previous one stays in force"
            )),
            ApplyError::Task(detail) => Self::Internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use signgate_policy::governance::{sign_policy, signing_key};

    use super::*;
    use signgate_audit::record::ServerStopped;

    use crate::{audit::AuditOptions, pipeline::setup::DEMO_POLICY};

    fn caller() -> Caller {
        Caller {
            identity: "test".to_owned(),
            token: None,
        }
    }

    /// The demo policy with a new name, signed by both demo admins.
    fn signed_change() -> (String, Vec<AdminSignature>) {
        let source = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"renamed\"");
        let hash = PolicyHash::of(&source);
        let sigs = [0xd0, 0xee]
            .iter()
            .map(|b| sign_policy(&signing_key(&[*b; 32]), hash))
            .collect();
        (source, sigs)
    }

    fn demo() -> Policy {
        Policy::compile(DEMO_POLICY).unwrap()
    }

    #[tokio::test]
    async fn an_unrecorded_policy_is_neither_in_force_nor_picked_up_by_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.sqlite3");
        let audit = Arc::new(
            AuditLog::open_with(
                &audit_path,
                signing_key(&[7; 32]),
                AuditOptions {
                    max_bytes: Some(64 * 1024),
                },
            )
            .unwrap(),
        );
        // Fill the audit volume: the next append fails.
        while audit
            .append(AuditEvent::ServerStopped(ServerStopped {
                reason: "x".repeat(512),
            }))
            .is_ok()
        {}
        let governed = GovernedPolicy::new(demo(), policy_dir(dir.path()), audit.clone());
        let (source, sigs) = signed_change();
        let err = governed
            .apply(source.as_bytes(), sigs, caller(), Timestamp(1_800_000_000))
            .await
            .unwrap_err();
        assert!(matches!(err, ApplyError::Audit(_)), "{err}");
        assert_eq!(governed.load().hash(), demo().hash());
        drop((governed, audit));
        let configured = dir.path().join("configured.toml");
        let at_start = policy_at_start(dir.path(), &audit_path, demo(), &configured).unwrap();
        assert_eq!(at_start.hash(), demo().hash());
    }

    #[tokio::test]
    async fn an_applied_policy_wins_at_start_and_an_interrupted_one_is_settled_by_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.sqlite3");
        let audit = Arc::new(AuditLog::open(&audit_path, signing_key(&[7; 32])).unwrap());
        let governed = GovernedPolicy::new(demo(), policy_dir(dir.path()), audit.clone());
        let (source, sigs) = signed_change();
        let applied = governed
            .apply(
                source.as_bytes(),
                sigs.clone(),
                caller(),
                Timestamp(1_800_000_000),
            )
            .await
            .unwrap();
        assert_eq!(governed.load().name(), "renamed");
        assert_eq!(applied.previous, demo().hash());
        let configured = dir.path().join("configured.toml");
        let at_start = policy_at_start(dir.path(), &audit_path, demo(), &configured).unwrap();
        assert_eq!(at_start.hash(), PolicyHash::of(&source));

        // A staged file whose records made it (crash before the rename) is completed …
        let pdir = policy_dir(dir.path());
        std::fs::rename(pdir.join(persist::ACTIVE), pdir.join(persist::PENDING)).unwrap();
        let at_start = policy_at_start(dir.path(), &audit_path, demo(), &configured).unwrap();
        assert_eq!(at_start.hash(), PolicyHash::of(&source));
        assert!(pdir.join(persist::ACTIVE).exists());

        // … one the log never recorded is discarded.
        let other = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"unrecorded\"");
        let hash = PolicyHash::of(&other);
        persist::stage(
            &pdir,
            &PersistedPolicy {
                policy_hash: hash,
                source: other,
                signatures: vec![sign_policy(&signing_key(&[0xd0; 32]), hash)],
            },
        )
        .unwrap();
        let at_start = policy_at_start(dir.path(), &audit_path, demo(), &configured).unwrap();
        assert_eq!(at_start.hash(), PolicyHash::of(&source));
        assert!(!pdir.join(persist::PENDING).exists());
    }
}
