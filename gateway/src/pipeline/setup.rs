//! Building the pipeline from the configuration: the policy compiled once (an applied policy in
//! the data directory takes precedence over the configured file), the state snapshot parsed
//! once, every sanctions list loaded once and recorded in the audit log (then kept current by
//! reloads), the release key and the signer backends.
//!
//! In demo mode the bundled assets (gateway/config/demo/) are written to `<data_dir>/demo/` at
//! every start, so an operator can read and replace them, and the demo list is always fresh.
//! The demo keys are **DEMO ONLY**: they are public in the repository.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use ed25519_dalek::SigningKey;
use signgate_chain::{Chains, EndpointError, SnapshotProvider, StateProvider};
use signgate_policy::{
    CompileError, Policy,
    sanctions::{ListAction, ListCategory, ListFormat, ListSpec, ListSpecError, ParseLimits},
};
use signgate_simulator::evm::{Snapshot, StateError};

use super::{Pipeline, Release};
use crate::{
    audit::{
        AuditLog,
        export::{CheckpointSink, Witness},
    },
    clock::SharedClock,
    config::{
        GatewayConfig, OracleConfig, PipelineSources, SanctionsListConfig, StateConfig, Transport,
    },
    governance::{GovernedPolicy, PersistError, policy_at_start, policy_dir},
    lists::{ListEvent, ListSource, ListStore, Oracle},
    signer_backends::ClientTls,
    store::ProposalStore,
};

/// The bundled demo state: a Safe 1.4.1 with demo owners and a demo ERC-20, and the Bybit
/// Safe 1.1.1 at the parent of the attack block.
pub const DEMO_STATE: &str = include_str!("../../config/demo/state.json");
/// The bundled demo policy: the demo wallets and operators.
pub const DEMO_POLICY: &str = include_str!("../../config/demo/policy.toml");

/// The demo policy without its `[anomaly]` table (the last table of the file): what tests
/// extend with anomaly settings of their own, or run with no call observed.
pub fn demo_policy_without_anomaly() -> &'static str {
    DEMO_POLICY
        .find("\n[anomaly]")
        .and_then(|at| DEMO_POLICY.get(..at))
        .unwrap_or(DEMO_POLICY)
}
/// The bundled demo sanctions list (plain format).
pub const DEMO_SANCTIONS: &str = include_str!("../../config/demo/sanctions.txt");
/// Id of the demo sanctions list.
pub const DEMO_LIST_ID: &str = "demo-sanctions";
/// How long the demo list stays fresh after a start (it is rewritten at every start).
const DEMO_LIST_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why the pipeline could not be built; each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The policy does not compile; the gateway does not start without one.
    #[error("policy {}: {source}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// Why the compiler refused it.
        source: CompileError,
    },
    /// The state snapshot is malformed.
    #[error("state snapshot {}: {source}", path.display())]
    State {
        /// The state snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        source: StateError,
    },
    /// The list configuration is inconsistent (duplicate ids).
    #[error("sanctions lists: {0}")]
    Lists(#[from] ListSpecError),
    /// The audit log cannot be opened; the gateway does not decide without one.
    #[error("audit log: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// Outside demo mode, checkpoints would stay in the data directory with no hook, so no
    /// release could be witnessed outside the gateway. The configuration refuses this at load;
    /// this catches a configuration built or changed in code after it.
    #[error(
        "audit.checkpoint_dir {} is inside store.data_dir and audit.checkpoint_hook is empty; \
         set one of them to reach outside the data directory (pipeline.demo = false)",
        checkpoint_dir.display()
    )]
    Unwitnessed {
        /// The configured checkpoint directory.
        checkpoint_dir: PathBuf,
    },
    /// An oracle's endpoint client could not be built.
    #[error("sanctions oracle {id}: {source}")]
    Oracle {
        /// The oracle's id.
        id: String,
        /// Why its client could not be built.
        source: EndpointError,
    },
    /// A chain's endpoint client could not be built.
    #[error("chains: {0}")]
    Chains(#[from] EndpointError),
    /// The policy applied through `Admin.ApplyPolicy` is damaged; the gateway does not fall
    /// back silently to the configured one.
    #[error("applied policy: {0}")]
    AppliedPolicy(#[from] PersistError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files the pipeline reads, resolved.
#[derive(Debug, Clone)]
pub struct SourceFiles {
    /// Where chain state comes from (the demo: its snapshot).
    pub state: StateConfig,
    /// The configured policy file; a policy applied through `Admin.ApplyPolicy` takes its place.
    pub policy: PathBuf,
    /// Every sanctions list screened against, with its spec.
    pub lists: Vec<SanctionsListConfig>,
    /// The on-chain screens asked beside the lists.
    pub oracles: Vec<OracleConfig>,
}

/// Writes the demo assets to `<data_dir>/demo/` and names them as sources.
pub fn write_demo(data_dir: &Path) -> Result<SourceFiles, SetupError> {
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let write = |name: &str, text: &str| -> Result<PathBuf, SetupError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(path)
    };
    let state_snapshot = write("state.json", DEMO_STATE)?;
    let policy = write("policy.toml", DEMO_POLICY)?;
    let list = write("sanctions.txt", DEMO_SANCTIONS)?;
    let spec = ListSpec::new(
        DEMO_LIST_ID,
        list.display().to_string(),
        ListCategory::Internal,
        ListAction::Deny,
        ListFormat::Plain,
        DEMO_LIST_MAX_AGE,
    )?;
    Ok(SourceFiles {
        state: StateConfig::Snapshot(state_snapshot),
        policy,
        lists: vec![SanctionsListConfig {
            spec,
            path: list,
            comments_path: None,
            remote: None,
        }],
        oracles: Vec::new(),
    })
}

/// The configured files (demo assets written first in demo mode).
pub fn resolve(cfg: &GatewayConfig) -> Result<SourceFiles, SetupError> {
    match &cfg.sources {
        PipelineSources::Demo => {
            let files = write_demo(&cfg.data_dir)?;
            tracing::warn!(
                state = ?files.state,
                policy = %files.policy.display(),
                sanctions = ?files.lists.iter().map(|l| l.path.display().to_string()).collect::<Vec<_>>(),
                "DEMO MODE: bundled demo state, policy, operators and sanctions list (keys are public, \
                 DEMO ONLY); set pipeline.demo = false with pipeline.state_snapshot, pipeline.policy \
                 and [[sanctions]] lists to replace them"
            );
            Ok(files)
        }
        PipelineSources::Files {
            state,
            policy,
            lists,
            oracles,
        } => Ok(SourceFiles {
            state: state.clone(),
            policy: policy.clone(),
            lists: lists.clone(),
            oracles: oracles.clone(),
        }),
    }
}

/// Compiles the policy file.
pub fn load_policy(path: &Path) -> Result<Policy, SetupError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    Policy::compile(&text).map_err(|source| SetupError::Policy {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses the state snapshot file.
pub fn load_state(path: &Path) -> Result<Snapshot, SetupError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    Snapshot::from_json(&text).map_err(|source| SetupError::State {
        path: path.to_path_buf(),
        source,
    })
}

/// The policy in force at start: the one applied through `Admin.ApplyPolicy` (kept in
/// `<data_dir>/policy`) if there is one, else the configured file; changes are recorded in
/// `audit`.
pub fn governed_policy(
    data_dir: &Path,
    configured: &Path,
    audit: Arc<AuditLog>,
) -> Result<GovernedPolicy, SetupError> {
    let policy = policy_at_start(data_dir, &audit, load_policy(configured)?, configured)?;
    Ok(GovernedPolicy::new(policy, policy_dir(data_dir), audit))
}

/// Loads every list once, each load recorded in `audit` (and so every later reload). A list
/// that fails stays unavailable (every proposal is then denied with "cannot screen") and the
/// failure is logged and recorded; it does not stop the start.
pub fn load_lists(
    lists: &[SanctionsListConfig],
    audit: Option<Arc<AuditLog>>,
    now: SystemTime,
) -> Result<ListStore, SetupError> {
    let sources = lists
        .iter()
        .map(|l| ListSource {
            spec: l.spec.clone(),
            path: l.path.clone(),
            comments_path: l.comments_path.clone(),
            checksum_path: None,
            remote: l.remote.clone(),
        })
        .collect();
    for l in lists.iter().filter(|l| l.remote.is_none()) {
        tracing::warn!(
            list = %l.spec.id,
            path = %l.path.display(),
            "sanctions list read from a file: its age is the file's modification time, which \
             whoever writes the file decides; set url to have the gateway fetch it from the \
             publisher"
        );
    }
    let (store, events) =
        ListStore::load_at_start_recorded(sources, ParseLimits::default(), now, audit)?;
    for e in &events {
        if let ListEvent::Rejected { error, .. } = e {
            tracing::error!(%error, "sanctions list unavailable: every proposal is denied until it loads");
        }
    }
    Ok(store)
}

/// The clients of the configured oracles.
pub fn oracles(configs: &[OracleConfig]) -> Result<Vec<Oracle>, SetupError> {
    configs
        .iter()
        .map(|c| {
            Oracle::new(c.clone()).map_err(|source| SetupError::Oracle {
                id: c.id.to_string(),
                source,
            })
        })
        .collect()
}

/// The pipeline `signgate serve` runs, over the state the configuration names.
#[derive(Debug)]
pub enum Configured<S> {
    /// One snapshot for every chain (the demo, offline use).
    Snapshot(Pipeline<S, SnapshotProvider<Snapshot>>),
    /// Live chains; the caller keeps them current with [`Chains::follow`].
    Live(Pipeline<S, Arc<Chains>>, Arc<Chains>),
}

/// The pipeline `signgate serve` runs: configured (or demo) sources, the release key, the
/// configured signer backends, and the state the configuration names (live chains, or a
/// snapshot).
pub fn from_config<S: ProposalStore>(
    cfg: &GatewayConfig,
    store: Arc<S>,
    release_key: SigningKey,
    audit: Arc<AuditLog>,
    clock: SharedClock,
) -> Result<Configured<S>, SetupError> {
    let files = resolve(cfg)?;
    Ok(match &files.state {
        StateConfig::Snapshot(path) => {
            let state = SnapshotProvider::new(load_state(path)?);
            Configured::Snapshot(with_state(
                cfg,
                &files,
                store,
                release_key,
                audit,
                clock,
                Arc::new(state),
            )?)
        }
        StateConfig::Chains(settings) => {
            for s in settings {
                tracing::info!(
                    chain_id = s.chain_id,
                    chain = %s.name,
                    endpoints = ?s.endpoints,
                    block = %s.block,
                    min_agreeing = s.min_agreeing,
                    "live chain configured"
                );
            }
            let chains = Arc::new(Chains::new(settings.clone())?);
            let pipeline = with_state(
                cfg,
                &files,
                store,
                release_key,
                audit,
                clock,
                Arc::new(chains.clone()),
            )?;
            Configured::Live(pipeline, chains)
        }
    })
}

/// [`from_config`] over a given state provider.
fn with_state<S: ProposalStore, T: StateProvider>(
    cfg: &GatewayConfig,
    files: &SourceFiles,
    store: Arc<S>,
    release_key: SigningKey,
    audit: Arc<AuditLog>,
    clock: SharedClock,
    state: Arc<T>,
) -> Result<Pipeline<S, T>, SetupError> {
    let policy = governed_policy(&cfg.data_dir, &files.policy, audit.clone())?;
    let lists = load_lists(&files.lists, Some(audit.clone()), clock.system_time())?
        .with_oracles(oracles(&files.oracles)?);
    let tls = match &cfg.transport {
        Transport::MutualTls(tls) => Some(ClientTls::from_files(tls).map_err(io(&tls.cert))?),
        Transport::PlaintextLoopback => None,
    };
    let witness = witness(cfg, audit.clone())?;
    let in_force = policy.load();
    tracing::info!(
        policy = in_force.name(),
        policy_hash = %in_force.hash(),
        signers = cfg.signers.len(),
        live = state.is_live(),
        "decision pipeline ready"
    );
    Ok(Pipeline::new(
        store,
        Arc::new(policy),
        Arc::new(lists),
        state,
        cfg.limits.clone(),
        Release {
            key: release_key,
            ticket_ttl: cfg.ticket_ttl,
            signers: cfg.signers.clone(),
            tls,
        },
        audit,
        witness,
        clock,
    )
    .with_webauthn_origins(cfg.console_origins()))
}

/// Where checkpoints go, as `[audit]` configures it: the drop directory, and the hook if any.
/// The periodic checkpoint task and the release [`Witness`] deliver to the same places.
pub fn checkpoint_sink(cfg: &GatewayConfig) -> CheckpointSink {
    CheckpointSink {
        drop_dir: Some(cfg.audit.checkpoint_dir.clone()),
        hook: cfg.audit.checkpoint_hook.clone(),
    }
}

/// The witness every release waits for: a checkpoint signed with `audit`'s key, delivered to
/// [`checkpoint_sink`]. In demo mode the drop directory may stay inside the data directory (the
/// configuration refuses that in production); that is logged, because such a witness proves
/// nothing against whoever holds the data directory.
pub fn witness(cfg: &GatewayConfig, audit: Arc<AuditLog>) -> Result<Witness, SetupError> {
    if cfg.checkpoints_unwitnessed() {
        if !matches!(cfg.sources, PipelineSources::Demo) {
            return Err(SetupError::Unwitnessed {
                checkpoint_dir: cfg.audit.checkpoint_dir.clone(),
            });
        }
        tracing::warn!(
            checkpoints = %cfg.audit.checkpoint_dir.display(),
            data_dir = %cfg.data_dir.display(),
            "DEMO MODE: audit checkpoints stay in the data directory and no audit.checkpoint_hook \
             is set, so nothing outside the gateway witnesses releases"
        );
    }
    Ok(Witness::new(audit, checkpoint_sink(cfg))?)
}

/// The database the audit log lives in: the store's own, so a change and its records commit
/// in one transaction.
pub fn audit_path(cfg: &GatewayConfig) -> PathBuf {
    cfg.store_path()
}

/// Where versions before the single database kept the audit log, in a file of its own; merged
/// into [`audit_path`] at the first start that finds it.
pub fn legacy_audit_path(cfg: &GatewayConfig) -> PathBuf {
    cfg.data_dir.join("audit.sqlite3")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production(dir: &Path) -> GatewayConfig {
        let mut cfg = GatewayConfig::embedded_default().unwrap();
        cfg.data_dir = dir.join("data");
        cfg.audit.checkpoint_dir = cfg.data_dir.join("checkpoints");
        cfg.sources = PipelineSources::Files {
            state: StateConfig::Snapshot(dir.join("state.json")),
            policy: dir.join("policy.toml"),
            lists: Vec::new(),
            oracles: Vec::new(),
        };
        cfg
    }

    #[test]
    fn a_production_pipeline_is_not_built_without_a_witness_outside_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Arc::new(
            AuditLog::open(
                &dir.path().join("audit.sqlite3"),
                SigningKey::from_bytes(&[9; 32]),
            )
            .unwrap(),
        );
        let mut cfg = production(dir.path());
        let err = witness(&cfg, audit.clone()).unwrap_err().to_string();
        assert!(
            err.contains("audit.checkpoint_dir") && err.contains("audit.checkpoint_hook"),
            "{err}"
        );
        cfg.audit.checkpoint_hook = Some(vec!["/bin/true".to_owned()]);
        assert!(witness(&cfg, audit.clone()).is_ok());
        cfg.audit.checkpoint_hook = None;
        cfg.sources = PipelineSources::Demo;
        assert!(witness(&cfg, audit).is_ok());
    }
}
