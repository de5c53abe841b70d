//! The policy in force and its governed replacement (`Admin.ApplyPolicy`).
//!
//! - [`GovernedPolicy`]: the policy every request decides under, behind an [`ArcSwap`] so a
//!   request loads it once and decides under one version even while a new one is applied;
//! - `persist`: the applied policy in the data directory, and recovery at start;
//! - `diff`: the operator differences between two policies, as audit records.
//!
//! Whether a policy may take effect is decided by `signgate_policy::governance::activate`
//! (pure): its version is above the one in force, it names the policy in force as the one it
//! replaces, and enough admins **of the policy in force** signed those three facts. This module
//! does the I/O around that decision, in an order that can never leave an unrecorded policy in
//! force: stage the file → append the records (all or none) → promote the file → swap.
//!
//! At start ([`policy_at_start`]) the stored file is trusted only as the end of the audit
//! log's chain of applied policies, checked from the configured (genesis) policy.

mod diff;
pub mod persist;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use signgate_audit::{
    AuditEvent,
    policy_chain::{ChainHead, check_chain},
    record::{Caller, PolicyApplied},
};
use signgate_policy::{
    Policy, PolicyHash,
    governance::{
        ActivationError, AdminSignature, GENESIS_VERSION, InForce, activate, legacy_admin_message,
        verifies, verify_link,
    },
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
    /// The version it took effect as.
    pub version: u64,
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
    /// Holds the version in force, which only an application changes.
    applying: tokio::sync::Mutex<u64>,
}

/// The policy to start under and the version it took effect as.
#[derive(Debug, Clone)]
pub struct AtStart {
    /// The policy.
    pub policy: Policy,
    /// Its version ([`GENESIS_VERSION`] for the configured policy).
    pub version: u64,
}

/// The directory of the applied policy inside the data directory.
pub fn policy_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("policy")
}

impl GovernedPolicy {
    /// `start` in force; applications are stored in `dir` and recorded in `audit`.
    pub fn new(start: AtStart, dir: PathBuf, audit: Arc<AuditLog>) -> Self {
        Self {
            current: ArcSwap::from_pointee(start.policy),
            dir,
            audit,
            applying: tokio::sync::Mutex::new(start.version),
        }
    }

    /// The version in force (waits for an application under way).
    pub async fn version(&self) -> u64 {
        *self.applying.lock().await
    }

    /// The policy in force. Load it once per request and decide everything under that `Arc`.
    pub fn load(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// The audit log policy changes are recorded in.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Applies `source` as `version`, replacing `replaces`, if that is the succession of the
    /// policy in force and enough of its admins signed it. The new policy is staged on disk,
    /// recorded (`policy_applied` with its text, version and predecessor, and one
    /// `operator_changed` per difference, in one transaction), made durable and only then
    /// swapped in.
    pub async fn apply(
        &self,
        source: &[u8],
        version: u64,
        replaces: PolicyHash,
        signatures: Vec<AdminSignature>,
        caller: Caller,
        now: Timestamp,
    ) -> Result<Applied, ApplyError> {
        let source = std::str::from_utf8(source).map_err(ApplyError::NotText)?;
        let mut in_force = self.applying.lock().await;
        let current = self.load();
        let at = InForce {
            policy: &current,
            version: *in_force,
        };
        let policy = activate(source, version, replaces, &signatures, Some(at), now)?;
        if policy.hash() == current.hash() {
            return Err(ApplyError::AlreadyInForce(policy.hash()));
        }
        let changes = operator_changes(&current, &policy);
        let mut words = vec![format!(
            "policy {} version {version} ({}) replaces {} version {} ({})",
            policy.name(),
            policy.hash(),
            current.name(),
            *in_force,
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
            version,
            source: Some(source.to_owned()),
            migrated: false,
        })];
        events.extend(changes.into_iter().map(AuditEvent::OperatorChanged));
        let stored = PersistedPolicy {
            policy_hash: policy.hash(),
            source: source.to_owned(),
            signatures,
            version,
            replaces: Some(replaces),
            legacy_signatures: false,
        };
        let (dir, audit) = (self.dir.clone(), self.audit.clone());
        tokio::task::spawn_blocking(move || record_and_store(&dir, &audit, &stored, events))
            .await
            .map_err(|e| ApplyError::Task(e.to_string()))??;
        let policy = Arc::new(policy);
        self.swap_in(
            &policy,
            version,
            &mut in_force,
            &current,
            "a new policy is in force",
        );
        Ok(Applied {
            policy,
            version,
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

/// The policy to start with. The configured file is the genesis policy (version
/// [`GENESIS_VERSION`]); the audit log's `policy_applied` records must form a chain from it,
/// each signed by enough admins of the policy before it. The applied policy stored in
/// `<data_dir>/policy` (after settling an interrupted application) is used only if its
/// signatures are those of the admins of the policy it replaces **and** it is where the chain
/// ends; otherwise the start is refused, naming the check. With no stored file the chain's end
/// is used (and the file rebuilt from its record). Editing the configured file or the data
/// directory is not a governed change, so neither can change what is enforced.
///
/// A file written before versioned signatures is migrated once: accepted only if it is the
/// policy the log's latest record names, then recorded as a `migrated` link and rewritten.
pub fn policy_at_start(
    data_dir: &Path,
    audit: &AuditLog,
    configured: Policy,
    configured_path: &Path,
) -> Result<AtStart, PersistError> {
    if audit.path().is_none() {
        return shared_policy_at_start(audit, configured, configured_path);
    }
    let dir = policy_dir(data_dir);
    let path = dir.join(persist::ACTIVE);
    persist::recover_pending(&dir, audit)?;
    let persist::GovernanceRecords {
        applied: records,
        first_started,
    } = persist::governance_records(audit)?;
    let chain = check_chain(&configured, records.iter().map(|(i, t, p)| (*i, *t, p))).map_err(
        |source| PersistError::Chain {
            genesis: configured_path.to_path_buf(),
            source: Box::new(source),
        },
    )?;
    if records.is_empty()
        && let Some((index, recorded)) = first_started
        && recorded != configured.hash()
    {
        return Err(PersistError::GenesisChanged {
            genesis: configured_path.to_path_buf(),
            configured: configured.hash(),
            recorded,
            index,
        });
    }
    let untrusted = |check: &'static str, why: String| PersistError::Untrusted {
        path: path.clone(),
        check,
        why,
    };
    let Some((stored_policy, stored)) = persist::load_active(&dir)? else {
        return match chain.head {
            ChainHead::Known {
                policy,
                version,
                record: Some(record),
                ..
            } => {
                tracing::warn!(
                    policy_hash = %policy.hash(),
                    version,
                    file = %path.display(),
                    "the applied policy file is missing; rebuilding it from the audit log's chain of applied policies"
                );
                persist::rewrite_active(&dir, &from_record(&record, &policy))?;
                Ok(AtStart {
                    policy: *policy,
                    version,
                })
            }
            ChainHead::Known {
                policy, version, ..
            } => Ok(AtStart {
                policy: *policy,
                version,
            }),
            ChainHead::Legacy { record, .. } => Err(PersistError::MissingLegacy {
                path,
                hash: record.policy_hash,
            }),
        };
    };
    let at = if stored.version == 0 {
        migrate(&dir, audit, &chain.head, &stored, &stored_policy)
            .map_err(|why| untrusted("audit log (migration)", why))??
    } else {
        // 1. Signatures: enough admins of the policy it names as its predecessor. A migrated
        // file has none to check (they cover the hash alone); the log check alone decides it.
        if stored.replaces.is_none() && !stored.legacy_signatures {
            return Err(untrusted(
                "signatures",
                "it names no policy it replaces, so no admins' signatures can be checked"
                    .to_owned(),
            ));
        }
        if let Some(statement) = stored.statement() {
            let Some(predecessor) = chain.find(statement.replaces) else {
                return Err(untrusted(
                    "signatures",
                    format!(
                        "it replaces policy {}, which is neither the configured genesis policy nor one the audit log records as applied",
                        statement.replaces
                    ),
                ));
            };
            let when = match &chain.head {
                ChainHead::Known {
                    record: Some(r), ..
                } if r.policy_hash == stored.policy_hash => records
                    .iter()
                    .rev()
                    .find(|(_, _, p)| p.policy_hash == stored.policy_hash)
                    .map_or(Timestamp(0), |(_, t, _)| Timestamp(t / 1000)),
                _ => now(),
            };
            verify_link(predecessor, &statement, &stored.signatures, when).map_err(|e| {
                untrusted(
                    "signatures",
                    format!(
                        "version {} replacing {}: {e}",
                        statement.version, statement.replaces
                    ),
                )
            })?;
        }
        // 2. The audit log: the chain's end is this very application.
        match &chain.head {
            ChainHead::Known {
                policy,
                version,
                record: Some(record),
                ..
            } if policy.hash() == stored.policy_hash
                && *version == stored.version
                && record.previous == stored.replaces
                && record.admin_signatures == stored.signatures
                && record.migrated == stored.legacy_signatures =>
            {
                AtStart {
                    policy: stored_policy,
                    version: stored.version,
                }
            }
            head => {
                return Err(untrusted(
                    "audit log",
                    format!(
                        "it holds version {} ({}), but the latest policy_applied record of the audit log {} is {}",
                        stored.version,
                        stored.policy_hash,
                        audit.location(),
                        describe_head(head)
                    ),
                ));
            }
        }
    };
    tracing::warn!(
        applied = %at.policy.hash(),
        version = at.version,
        applied_file = %path.display(),
        configured = %configured.hash(),
        configured_file = %configured_path.display(),
        admin_signatures = stored.signatures.len(),
        "using the policy applied through Admin.ApplyPolicy (checked against the audit log's chain from the configured genesis policy), not the configured file: \
         an edit of the configured file is not a governed change"
    );
    Ok(at)
}

/// [`policy_at_start`] for a log several replicas share (PostgreSQL): the policy in force is
/// where the log's chain of `policy_applied` records, checked link by link from the configured
/// genesis policy, ends. No file in a replica's data directory takes part: another replica may
/// have applied a newer policy since this one last ran.
fn shared_policy_at_start(
    audit: &AuditLog,
    configured: Policy,
    configured_path: &Path,
) -> Result<AtStart, PersistError> {
    let persist::GovernanceRecords {
        applied: records,
        first_started,
    } = persist::governance_records(audit)?;
    if let Some((index, recorded)) = first_started
        && recorded != configured.hash()
        && records.is_empty()
    {
        return Err(PersistError::GenesisChanged {
            genesis: configured_path.to_path_buf(),
            configured: configured.hash(),
            recorded,
            index,
        });
    }
    let chain = check_chain(&configured, records.iter().map(|(i, t, p)| (*i, *t, p))).map_err(
        |source| PersistError::Chain {
            genesis: configured_path.to_path_buf(),
            source: Box::new(source),
        },
    )?;
    match chain.head {
        ChainHead::Known {
            policy, version, ..
        } => Ok(AtStart {
            policy: *policy,
            version,
        }),
        ChainHead::Legacy { record, .. } => Err(PersistError::MissingLegacy {
            path: configured_path.to_path_buf(),
            hash: record.policy_hash,
        }),
    }
}

impl GovernedPolicy {
    /// Adopts a policy another replica put in force: reads the shared log's chain of applied
    /// policies, checks every link from `genesis` (each signed by enough admins of the policy
    /// before it) and swaps in its end if it is newer than the version in force here. Returns
    /// the version adopted, if any. A chain that does not check is an error and changes
    /// nothing: the store then keeps refusing this replica's decisions (the recorded policy is
    /// not the one it holds), which fails closed.
    pub async fn catch_up(&self, genesis: &Policy) -> Result<Option<u64>, ApplyError> {
        let mut in_force = self.applying.lock().await;
        let audit = self.audit.clone();
        let records = tokio::task::spawn_blocking(move || persist::governance_records(&audit))
            .await
            .map_err(|e| ApplyError::Task(e.to_string()))?
            .map_err(|e| ApplyError::Task(e.to_string()))?;
        let chain = check_chain(genesis, records.applied.iter().map(|(i, t, p)| (*i, *t, p)))
            .map_err(|e| ApplyError::Task(format!("the shared log's policy chain: {e}")))?;
        let ChainHead::Known {
            policy, version, ..
        } = chain.head
        else {
            return Err(ApplyError::Task(
                "the shared log's policy chain ends at a policy applied before versioned signatures"
                    .to_owned(),
            ));
        };
        let current = self.load();
        if version <= *in_force || policy.hash() == current.hash() {
            return Ok(None);
        }
        let policy: Arc<Policy> = Arc::from(policy);
        self.swap_in(
            &policy,
            version,
            &mut in_force,
            &current,
            "a policy applied through another replica is now in force here",
        );
        Ok(Some(version))
    }

    /// Puts `policy` in force as `version` (the caller holds the application lock, whose
    /// guarded value is `in_force`), replacing `previous`, and says so in the log.
    fn swap_in(
        &self,
        policy: &Arc<Policy>,
        version: u64,
        in_force: &mut u64,
        previous: &Policy,
        message: &'static str,
    ) {
        self.current.store(policy.clone());
        *in_force = version;
        tracing::warn!(
            policy = policy.name(),
            policy_hash = %policy.hash(),
            version,
            previous = %previous.hash(),
            "{message}"
        );
    }
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

fn describe_head(head: &ChainHead) -> String {
    match head {
        ChainHead::Known {
            index: None,
            policy,
            ..
        } => format!(
            "absent: no policy was applied, so the configured genesis policy {} is in force",
            policy.hash()
        ),
        ChainHead::Known {
            index: Some(i),
            policy,
            version,
            ..
        } => format!("#{i}: version {version} ({})", policy.hash()),
        ChainHead::Legacy { index, record } => format!(
            "#{index}: {} (written before versioned signatures)",
            record.policy_hash
        ),
    }
}

/// The stored form of a policy the chain ends at.
fn from_record(record: &PolicyApplied, policy: &Policy) -> PersistedPolicy {
    PersistedPolicy {
        policy_hash: policy.hash(),
        source: record.source.clone().unwrap_or_default(),
        signatures: record.admin_signatures.clone(),
        version: record.version,
        replaces: record.previous,
        legacy_signatures: record.migrated,
    }
}

/// Migrates a file written before versioned signatures. Accepted once, only if the audit log's
/// latest record applied exactly it (same hash, same signatures, each verifying over the hash
/// as signatures then did): recorded as a `migrated` link (the chain is checked from it on)
/// and rewritten in the current form. A crash between the two steps finds the migrated record
/// and finishes the rewrite. The outer `Err` is why it is refused.
fn migrate(
    dir: &Path,
    audit: &AuditLog,
    head: &ChainHead,
    stored: &PersistedPolicy,
    policy: &Policy,
) -> Result<Result<AtStart, PersistError>, String> {
    let message = legacy_admin_message(stored.policy_hash);
    if let Some(bad) = stored.signatures.iter().find(|s| !verifies(s, &message)) {
        return Err(format!(
            "the signature by {} does not verify over {}",
            bad.public_key, stored.policy_hash
        ));
    }
    let record = match head {
        ChainHead::Legacy { record, .. }
            if record.policy_hash == stored.policy_hash
                && record.admin_signatures == stored.signatures =>
        {
            record
        }
        ChainHead::Known {
            record: Some(record),
            policy: p,
            version,
            ..
        } if record.migrated
            && p.hash() == stored.policy_hash
            && record.admin_signatures == stored.signatures =>
        {
            return Ok(
                persist::rewrite_active(dir, &from_record(record, p)).map(|()| AtStart {
                    policy: policy.clone(),
                    version: *version,
                }),
            );
        }
        other => {
            return Err(format!(
                "it was written before versioned signatures and is accepted only if it is the policy the audit log's latest policy_applied record applied (with the same signatures), but that record is {}",
                describe_head(other)
            ));
        }
    };
    let legacy_links = u64::try_from(
        persist::applied_records(audit)
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|(_, _, p)| p.version == 0)
            .count(),
    )
    .unwrap_or(u64::MAX);
    let version = GENESIS_VERSION.saturating_add(legacy_links);
    let migrated = PolicyApplied {
        policy_hash: stored.policy_hash,
        name: policy.name().to_owned(),
        previous: record.previous,
        admin_signatures: stored.signatures.clone(),
        caller: Caller {
            identity: "signgate (migration at start)".to_owned(),
            token: None,
        },
        version,
        source: Some(stored.source.clone()),
        migrated: true,
    };
    let written = audit
        .append(AuditEvent::PolicyApplied(migrated.clone()))
        .map_err(PersistError::from)
        .and_then(|_| persist::rewrite_active(dir, &from_record(&migrated, policy)));
    tracing::warn!(
        policy_hash = %stored.policy_hash,
        version,
        "migrated the applied policy written before versioned signatures (it matches the audit log's latest record); the next application must be signed as version {} or higher",
        version.saturating_add(1)
    );
    Ok(written.map(|()| AtStart {
        policy: policy.clone(),
        version,
    }))
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
            e @ ApplyError::Activation(
                ActivationError::VersionNotAbove { .. } | ActivationError::WrongPredecessor { .. },
            ) => Self::FailedPrecondition(format!("policy refused, nothing changed: {e}")),
            e @ ApplyError::AlreadyInForce(_) => Self::FailedPrecondition(e.to_string()),
            e @ ApplyError::Audit(AuditError::PolicyRaced { .. }) => {
                Self::FailedPrecondition(e.to_string())
            }
            e @ (ApplyError::Persist(_) | ApplyError::Audit(_)) => Self::Unavailable(format!(
                "{e}; the policy was not applied and the previous one stays in force"
            )),
            ApplyError::Task(detail) => Self::Internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use signgate_policy::governance::{PolicyStatement, sign_policy, signing_key};

    use super::*;
    use signgate_audit::record::ServerStopped;

    use crate::{audit::AuditOptions, pipeline::setup::DEMO_POLICY};

    fn caller() -> Caller {
        Caller {
            identity: "test".to_owned(),
            token: None,
        }
    }

    /// The demo policy with a new name, signed by both demo admins as version 2 replacing the
    /// demo (genesis) policy.
    fn signed_change() -> (String, Vec<AdminSignature>) {
        signed(
            &DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"renamed\""),
            2,
            demo().hash(),
        )
    }

    fn signed(source: &str, version: u64, replaces: PolicyHash) -> (String, Vec<AdminSignature>) {
        let statement = PolicyStatement {
            version,
            replaces,
            policy: PolicyHash::of(source),
        };
        let sigs = [0xd0, 0xee]
            .iter()
            .map(|b| sign_policy(&signing_key(&[*b; 32]), &statement))
            .collect();
        (source.to_owned(), sigs)
    }

    fn demo() -> Policy {
        Policy::compile(DEMO_POLICY).unwrap()
    }

    fn genesis() -> AtStart {
        AtStart {
            policy: demo(),
            version: GENESIS_VERSION,
        }
    }

    /// An `[anomaly]` table on the demo policy, `new_device` with `action`.
    fn with_anomaly(action: &str) -> String {
        format!(
            "{}\n[anomaly]\n\n[anomaly.new_device]\naction = {action}\n\n\
             [anomaly.off_hours]\naction = \"alert\"\n",
            crate::pipeline::setup::demo_policy_without_anomaly()
        )
    }

    /// `source`, signed by the demo admins, applied as version 2 over the demo policy.
    async fn apply_as_version_2(
        governed: &GovernedPolicy,
        source: &str,
    ) -> Result<Applied, ApplyError> {
        let (source, sigs) = signed(source, 2, demo().hash());
        governed
            .apply(
                source.as_bytes(),
                2,
                demo().hash(),
                sigs,
                caller(),
                Timestamp(1_800_000_000),
            )
            .await
    }

    #[tokio::test]
    async fn a_policy_whose_anomaly_rules_change_decisions_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let audit =
            Arc::new(AuditLog::open(&dir.path().join("a.sqlite3"), signing_key(&[7; 32])).unwrap());
        let governed = GovernedPolicy::new(genesis(), policy_dir(dir.path()), audit.clone());
        let applied = apply_as_version_2(
            &governed,
            &with_anomaly("{ extra_approval = { role = \"security\" } }"),
        )
        .await
        .unwrap();
        assert!(applied.policy.anomaly().enabled);
        assert_eq!(applied.policy.anomaly().deciding().len(), 1);
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
        let governed = GovernedPolicy::new(genesis(), policy_dir(dir.path()), audit.clone());
        let (source, sigs) = signed_change();
        let err = governed
            .apply(
                source.as_bytes(),
                2,
                demo().hash(),
                sigs,
                caller(),
                Timestamp(1_800_000_000),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ApplyError::Audit(_)), "{err}");
        assert_eq!(governed.load().hash(), demo().hash());
        drop(governed);
        let configured = dir.path().join("configured.toml");
        let at_start = policy_at_start(dir.path(), &audit, demo(), &configured).unwrap();
        assert_eq!(at_start.policy.hash(), demo().hash());
    }

    #[tokio::test]
    async fn an_applied_policy_wins_at_start_and_an_interrupted_one_is_settled_by_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.sqlite3");
        let audit = Arc::new(AuditLog::open(&audit_path, signing_key(&[7; 32])).unwrap());
        let governed = GovernedPolicy::new(genesis(), policy_dir(dir.path()), audit.clone());
        let (source, sigs) = signed_change();
        let applied = governed
            .apply(
                source.as_bytes(),
                2,
                demo().hash(),
                sigs.clone(),
                caller(),
                Timestamp(1_800_000_000),
            )
            .await
            .unwrap();
        assert_eq!(governed.load().name(), "renamed");
        assert_eq!(applied.previous, demo().hash());
        let configured = dir.path().join("configured.toml");
        let at_start = policy_at_start(dir.path(), &audit, demo(), &configured).unwrap();
        assert_eq!(at_start.policy.hash(), PolicyHash::of(&source));

        // A staged file whose records made it (crash before the rename) is completed …
        let pdir = policy_dir(dir.path());
        std::fs::rename(pdir.join(persist::ACTIVE), pdir.join(persist::PENDING)).unwrap();
        let at_start = policy_at_start(dir.path(), &audit, demo(), &configured).unwrap();
        assert_eq!(at_start.policy.hash(), PolicyHash::of(&source));
        assert!(pdir.join(persist::ACTIVE).exists());

        // … one the log never recorded is discarded.
        let other = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"unrecorded\"");
        let (other, signatures) = signed(&other, 3, PolicyHash::of(&source));
        persist::stage(
            &pdir,
            &PersistedPolicy {
                policy_hash: PolicyHash::of(&other),
                source: other,
                signatures,
                version: 3,
                replaces: Some(PolicyHash::of(&source)),
                legacy_signatures: false,
            },
        )
        .unwrap();
        let at_start = policy_at_start(dir.path(), &audit, demo(), &configured).unwrap();
        assert_eq!(at_start.policy.hash(), PolicyHash::of(&source));
        assert!(!pdir.join(persist::PENDING).exists());
    }

    fn log(dir: &Path) -> Arc<AuditLog> {
        Arc::new(AuditLog::open(&dir.join("audit.sqlite3"), signing_key(&[7; 32])).unwrap())
    }

    async fn apply(g: &GovernedPolicy, source: &str, version: u64, replaces: PolicyHash) {
        let (source, sigs) = signed(source, version, replaces);
        g.apply(
            source.as_bytes(),
            version,
            replaces,
            sigs,
            caller(),
            Timestamp(1_800_000_000),
        )
        .await
        .unwrap();
    }

    fn write_active(dir: &Path, p: &PersistedPolicy) {
        persist::rewrite_active(&policy_dir(dir), p).unwrap();
    }

    #[test]
    fn a_self_signed_policy_file_is_refused_at_start_naming_the_signature_check() {
        let dir = tempfile::tempdir().unwrap();
        let audit = log(dir.path());
        let forged = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"forged\"");
        let throwaway = signing_key(&[0x42; 32]);
        let statement = PolicyStatement {
            version: 2,
            replaces: demo().hash(),
            policy: PolicyHash::of(&forged),
        };
        write_active(
            dir.path(),
            &PersistedPolicy {
                policy_hash: PolicyHash::of(&forged),
                source: forged.clone(),
                signatures: vec![sign_policy(&throwaway, &statement)],
                version: 2,
                replaces: Some(demo().hash()),
                legacy_signatures: false,
            },
        );
        let err = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the signatures check failed"), "{text}");
        assert!(text.contains("is not a key of a policy admin"), "{text}");
        assert!(text.contains("signgate admin apply-policy"), "{text}");
    }

    #[tokio::test]
    async fn an_older_applied_policy_put_back_on_disk_is_refused_by_the_audit_log_check() {
        let dir = tempfile::tempdir().unwrap();
        let audit = log(dir.path());
        let g = GovernedPolicy::new(genesis(), policy_dir(dir.path()), audit.clone());
        let v2 = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"v2\"");
        let v3 = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"v3\"");
        apply(&g, &v2, 2, demo().hash()).await;
        let v2_file = std::fs::read(policy_dir(dir.path()).join(persist::ACTIVE)).unwrap();
        apply(&g, &v3, 3, PolicyHash::of(&v2)).await;
        assert_eq!(g.version().await, 3);
        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!((at.policy.name(), at.version), ("v3", 3));

        std::fs::write(policy_dir(dir.path()).join(persist::ACTIVE), v2_file).unwrap();
        let err = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("the audit log check failed"),
            "{err}"
        );

        // Moved aside, the file is rebuilt from the chain's last record.
        std::fs::remove_file(policy_dir(dir.path()).join(persist::ACTIVE)).unwrap();
        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!((at.policy.name(), at.version), ("v3", 3));
        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!(at.version, 3);

        // Another genesis than the one the chain starts from stops the start.
        let other = Policy::compile(&v2).unwrap();
        let err = policy_at_start(dir.path(), &audit, other, Path::new("c.toml")).unwrap_err();
        assert!(matches!(err, PersistError::Chain { .. }), "{err}");
    }

    #[test]
    fn a_file_from_before_versions_is_migrated_once_when_it_matches_the_log() {
        use ed25519_dalek::Signer as _;
        let dir = tempfile::tempdir().unwrap();
        let audit = log(dir.path());
        let old = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"old\"");
        let hash = PolicyHash::of(&old);
        let sigs: Vec<AdminSignature> = [0xd0, 0xee]
            .iter()
            .map(|b| {
                let k = signing_key(&[*b; 32]);
                AdminSignature {
                    public_key: alloy_primitives::FixedBytes(k.verifying_key().to_bytes()),
                    signature: alloy_primitives::FixedBytes(
                        k.sign(&legacy_admin_message(hash)).to_bytes(),
                    ),
                }
            })
            .collect();
        audit
            .append(AuditEvent::PolicyApplied(PolicyApplied {
                policy_hash: hash,
                name: "old".to_owned(),
                previous: Some(demo().hash()),
                admin_signatures: sigs.clone(),
                caller: caller(),
                version: 0,
                source: None,
                migrated: false,
            }))
            .unwrap();
        // The file as written before versions: no version, predecessor or flag.
        let legacy = serde_json::json!({
            "policy_hash": hash,
            "source": old,
            "signatures": sigs,
        });
        let pdir = policy_dir(dir.path());
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(pdir.join(persist::ACTIVE), legacy.to_string()).unwrap();

        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!((at.policy.hash(), at.version), (hash, 2));
        let (_, stored) = persist::load_active(&pdir).unwrap().unwrap();
        assert!(stored.legacy_signatures && stored.version == 2);
        // Again: the migrated form is accepted as the migrated record, not migrated twice.
        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!(at.version, 2);
        let migrations = persist::applied_records(&audit)
            .unwrap()
            .iter()
            .filter(|(_, _, p)| p.migrated)
            .count();
        assert_eq!(migrations, 1);
        // The legacy form once more (a backup restored): the same policy and signatures as the
        // migrated record, so it only finishes the rewrite; nothing else is accepted this way.
        std::fs::write(pdir.join(persist::ACTIVE), legacy.to_string()).unwrap();
        let at = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap();
        assert_eq!(
            at.version, 2,
            "finishes an interrupted rewrite of the same policy"
        );
    }

    #[test]
    fn a_legacy_file_the_log_does_not_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let audit = log(dir.path());
        let forged = DEMO_POLICY.replace("name = \"signgate-demo\"", "name = \"forged\"");
        let k = signing_key(&[0x42; 32]);
        use ed25519_dalek::Signer as _;
        let hash = PolicyHash::of(&forged);
        let legacy = serde_json::json!({
            "policy_hash": hash,
            "source": forged,
            "signatures": [AdminSignature {
                public_key: alloy_primitives::FixedBytes(k.verifying_key().to_bytes()),
                signature: alloy_primitives::FixedBytes(k.sign(&legacy_admin_message(hash)).to_bytes()),
            }],
        });
        let pdir = policy_dir(dir.path());
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(pdir.join(persist::ACTIVE), legacy.to_string()).unwrap();
        let err = policy_at_start(dir.path(), &audit, demo(), Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string()
                .contains("the audit log (migration) check failed"),
            "{err}"
        );
    }
}
