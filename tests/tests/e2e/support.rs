//! Starting a real gateway (store, pipeline, gRPC server) on 127.0.0.1:0 and talking to it as
//! an initiator and operators would: signed envelopes over the real API.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use ed25519_dalek::SigningKey;
use prost::Message;
use signgate_chain::{SnapshotProvider, StateProvider};
use signgate_gateway::{
    audit::{AuditLog, AuditReader},
    clock,
    config::{GatewayConfig, OracleConfig, PostgresSettings, SanctionsListConfig},
    lists::ListStore,
    pipeline::{DecisionPipeline as _, Pipeline, Release, setup},
    serve::serve_with,
    store::{ProposalStore, SqliteStore, postgres::PgStore},
};
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, CANCEL_CONTEXT, SUBMISSION_CONTEXT},
    prost_types::Timestamp,
    v1::{self as pb, gateway_client::GatewayClient},
};
use signgate_simulator::{
    SafeTx,
    evm::{Snapshot, StateSource},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::transport::Channel;

use crate::demo;

/// The gateway's release key in tests (the reference signers trust its public half).
pub fn release_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5e; 32])
}

/// The key the test gateways sign audit checkpoints with.
pub fn audit_key() -> SigningKey {
    SigningKey::from_bytes(&[0xa7; 32])
}

/// The kinds of every record in the audit log of the gateway that ran in `dir`, in order.
pub fn audit_kinds(dir: &Path) -> Vec<String> {
    audit_events(dir)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The event of every record of the gateway's audit log in `dir`, in order.
pub fn audit_events(dir: &Path) -> Vec<serde_json::Value> {
    audit_leaves(dir)
        .iter()
        .map(|leaf| {
            let mut v: serde_json::Value = serde_json::from_slice(leaf).unwrap();
            v["event"].take()
        })
        .collect()
}

/// Every record of the audit log of the gateway that ran in `dir`, in order, as stored: from
/// its SQLite file, or from its PostgreSQL database.
pub fn audit_leaves(dir: &Path) -> Vec<Vec<u8>> {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres.url")) {
        // The export runs a runtime of its own: not on a thread of the test's.
        return std::thread::spawn(move || signgate_gateway::audit::postgres::export(&url, None))
            .join()
            .unwrap()
            .unwrap()
            .0;
    }
    let cfg = config(dir, &[]);
    AuditReader::open(&setup::audit_path(&cfg))
        .unwrap()
        .leaves()
        .unwrap()
}

/// The store and audit log in the PostgreSQL database at `url`, the log opened with the test
/// audit key.
async fn postgres_store_and_log(url: String) -> (Arc<PgStore>, Arc<AuditLog>) {
    let store = PgStore::connect(&PostgresSettings {
        url,
        pool_size: 8,
        statement_timeout: std::time::Duration::from_secs(10),
        ca: None,
    })
    .await
    .unwrap();
    let audit = AuditLog::open_postgres(
        store.pool(),
        store.location().to_owned(),
        audit_key(),
        clock::system(),
    )
    .await
    .unwrap();
    (Arc::new(store), Arc::new(audit))
}

/// The audit log of the gateway that ran in `dir` (stopped), opened with the test audit key.
pub async fn open_log(dir: &Path) -> Arc<AuditLog> {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres.url")) {
        return postgres_store_and_log(url).await.1;
    }
    Arc::new(AuditLog::open(&setup::audit_path(&config(dir, &[])), audit_key()).unwrap())
}

/// Signs a checkpoint of the log of the gateway that ran in `dir` (stopped) with the test audit
/// key and returns every record and checkpoint note, as `signgate audit export` reads them.
pub async fn audit_export(dir: &Path) -> (Vec<Vec<u8>>, Vec<String>) {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres.url")) {
        let log = open_log(dir).await;
        let _ = tokio::task::spawn_blocking(move || log.checkpoint().unwrap()).await;
        return std::thread::spawn(move || signgate_gateway::audit::postgres::export(&url, None))
            .join()
            .unwrap()
            .unwrap();
    }
    let path = setup::audit_path(&config(dir, &[]));
    let log = AuditLog::open(&path, audit_key()).unwrap();
    log.checkpoint().unwrap();
    drop(log);
    let reader = AuditReader::open(&path).unwrap();
    (reader.leaves().unwrap(), reader.checkpoints().unwrap())
}

/// The embedded default configuration with data in `dir` and `env` overrides.
pub fn config(dir: &Path, env: &[(&str, &str)]) -> GatewayConfig {
    let mut vars = vec![(
        "SIGNGATE_STORE__DATA_DIR".to_owned(),
        dir.join("data").to_string_lossy().into_owned(),
    )];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    GatewayConfig::load(None, vars).unwrap()
}

/// What a test may change about the gateway it starts.
pub struct Options<T> {
    /// The state source (the demo snapshot unless a test wraps or replaces it).
    pub state: T,
    /// Replaces the demo sanctions lists.
    pub lists: Option<Vec<SanctionsListConfig>>,
    /// Signer backends.
    pub signers: Vec<String>,
    /// Replaces the configured simulation deadline.
    pub simulation_timeout: Option<std::time::Duration>,
    /// `[audit] checkpoint_hook`: the program every release's checkpoint is handed to (`None`:
    /// the drop directory alone is the witness).
    pub checkpoint_hook: Option<Vec<String>>,
    /// `[alerts.webhook]`.
    pub webhook: Option<signgate_gateway::config::WebhookSettings>,
    /// `SIGNGATE_*` configuration overrides (mutual TLS, for one).
    pub env: Vec<(String, String)>,
    /// Serve the web console on 127.0.0.1 and a free port (`console.listen`; under mutual
    /// TLS also `console.url = https://localhost:PORT`), as `signgate serve` does.
    pub console: bool,
}

/// The demo state snapshot as the gateway bundles it.
pub fn demo_state() -> Snapshot {
    Snapshot::from_json(setup::DEMO_STATE).unwrap()
}

impl<T: StateSource + Send + Sync + 'static> Options<T> {
    /// The same options with the state source served for every chain.
    pub fn served(self) -> Options<SnapshotProvider<T>> {
        let Self {
            state,
            lists,
            signers,
            simulation_timeout,
            checkpoint_hook,
            webhook,
            env,
            console,
        } = self;
        Options {
            state: SnapshotProvider::new(state),
            lists,
            signers,
            simulation_timeout,
            checkpoint_hook,
            webhook,
            env,
            console,
        }
    }
}

impl Options<Snapshot> {
    pub fn demo() -> Self {
        Self {
            state: demo_state(),
            lists: None,
            signers: Vec::new(),
            simulation_timeout: None,
            checkpoint_hook: None,
            webhook: None,
            env: Vec::new(),
            console: false,
        }
    }
}

/// A running gateway; `stop` shuts it down and joins it.
pub struct Running {
    pub addr: SocketAddr,
    /// Its Prometheus endpoint (`GET /metrics`), as `metrics.listen` would serve it.
    pub metrics: SocketAddr,
    pub dir: PathBuf,
    /// The audit log the gateway writes (the console reads it).
    pub audit: Arc<AuditLog>,
    /// The web console's address, when [`Options::console`] asked for one.
    pub console: Option<SocketAddr>,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), signgate_gateway::serve::ServeError>>,
    stop_metrics: oneshot::Sender<()>,
    metrics_handle: JoinHandle<()>,
    /// The list tasks (fetchers, watcher, re-screen) of a gateway started by
    /// [`start_following_lists`].
    list_tasks: Option<(TaskTracker, CancellationToken)>,
}

impl Running {
    pub async fn client(&self) -> GatewayClient<Channel> {
        GatewayClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().unwrap();
        self.stop_metrics.send(()).unwrap();
        self.metrics_handle.await.unwrap();
        if let Some((tasks, stopped)) = self.list_tasks {
            stopped.cancel();
            tasks.close();
            tasks.wait().await;
        }
    }
}

/// Starts the full gateway on the demo assets (written to `dir/data/demo`) with `opts`, its
/// state served for every chain.
pub async fn start<T: StateSource + Send + Sync + 'static>(
    dir: &Path,
    opts: Options<T>,
) -> Running {
    start_provider(dir, opts.served()).await
}

/// [`start`] with any state provider (live chains included).
pub async fn start_provider<T: StateProvider>(dir: &Path, opts: Options<T>) -> Running {
    start_provider_with_policy(dir, opts, None).await
}

/// [`start`] with `oracles` asked beside the lists (the demo lists, unless `opts` replaces them).
pub async fn start_with_oracles(
    dir: &Path,
    opts: Options<Snapshot>,
    oracles: Vec<OracleConfig>,
) -> Running {
    start_inner(dir, opts.served(), None, false, oracles).await
}

/// [`start`] with the list tasks `signgate serve` runs: lists with a `url` fetched from their
/// publisher, file lists watched, and proposals in flight re-screened on every version change;
/// deciding under `policy` (TOML) instead of the demo policy when given.
pub async fn start_following_lists(
    dir: &Path,
    opts: Options<Snapshot>,
    policy: Option<&str>,
) -> Running {
    start_inner(dir, opts.served(), policy, true, Vec::new()).await
}

/// [`start_provider`] deciding under `policy` (TOML) instead of the demo policy.
pub async fn start_provider_with_policy<T: StateProvider>(
    dir: &Path,
    opts: Options<T>,
    policy: Option<&str>,
) -> Running {
    start_inner(dir, opts, policy, false, Vec::new()).await
}

async fn start_inner<T: StateProvider>(
    dir: &Path,
    mut opts: Options<T>,
    policy: Option<&str>,
    follow_lists: bool,
    oracles: Vec<OracleConfig>,
) -> Running {
    // The console's port first: the gateway accepts security-key assertions from its origin.
    let console = if opts.console {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        opts.env.push((
            "SIGNGATE_CONSOLE__LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ));
        if opts
            .env
            .iter()
            .any(|(k, v)| k == "SIGNGATE_TLS__PLAINTEXT_LOOPBACK" && v == "false")
        {
            opts.env.push((
                "SIGNGATE_CONSOLE__URL".to_owned(),
                format!("https://localhost:{port}"),
            ));
        }
        Some(listener)
    } else {
        None
    };
    let env: Vec<(&str, &str)> = opts
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut cfg = config(dir, &env);
    cfg.signers = opts
        .signers
        .iter()
        .map(|e| signgate_gateway::config::SignerEndpoint {
            endpoint: e.clone(),
        })
        .collect();
    if let Some(t) = opts.simulation_timeout {
        cfg.limits.simulation_timeout = t;
    }
    cfg.audit.checkpoint_hook = opts.checkpoint_hook.clone();
    cfg.webhook = opts.webhook.clone();
    let mut files = setup::write_demo(&cfg.data_dir).unwrap();
    if let Some(text) = policy {
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).unwrap();
        files.policy = path;
    }
    let extras = Extras {
        follow_lists,
        oracles,
        console,
    };
    match Backend::from_env() {
        Backend::Sqlite => {
            let store = Arc::new(SqliteStore::open(cfg.store_path()).await.unwrap());
            let audit = Arc::new(AuditLog::open(&setup::audit_path(&cfg), audit_key()).unwrap());
            store.record_into(audit.clone()).unwrap();
            assemble(dir, cfg, files, opts, store, audit, extras).await
        }
        Backend::Postgres => {
            let (store, audit) = postgres_store_and_log(postgres_url(dir)).await;
            store.record_into(audit.clone()).unwrap();
            assemble(dir, cfg, files, opts, store, audit, extras).await
        }
    }
}

/// Which store the end-to-end gateways run on: `SIGNGATE_E2E_STORE=postgres` runs them on a
/// fresh PostgreSQL database per test directory (`scripts/test` runs the suite both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_env() -> Self {
        match std::env::var("SIGNGATE_E2E_STORE").as_deref() {
            Ok("postgres") => Self::Postgres,
            _ => Self::Sqlite,
        }
    }
}

/// The database of the gateway in `dir`: created at its first start and named in
/// `dir/postgres.url`, so a restart on the same directory finds the same state. The databases
/// outlive the test process (a restart needs them after the first gateway is gone);
/// `scripts/test` drops those of earlier runs before it starts the suite.
pub fn postgres_url(dir: &Path) -> String {
    let file = dir.join("postgres.url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    let db = signgate_testkit::postgres::TestDatabase::create("signgate_e2e");
    let url = db.url();
    std::mem::forget(db);
    std::fs::write(&file, &url).unwrap();
    url
}

/// What [`start_inner`] adds to the demo's assembly.
struct Extras {
    /// Run the list tasks `signgate serve` runs.
    follow_lists: bool,
    /// Sanctions oracles asked beside the lists.
    oracles: Vec<OracleConfig>,
    /// The console's listener, when there is a console.
    console: Option<TcpListener>,
}

/// The rest of [`start_inner`], for either store.
async fn assemble<S: ProposalStore, T: StateProvider>(
    dir: &Path,
    cfg: GatewayConfig,
    files: setup::SourceFiles,
    opts: Options<T>,
    store: Arc<S>,
    audit: Arc<AuditLog>,
    Extras {
        follow_lists,
        oracles,
        console,
    }: Extras,
) -> Running {
    // As `signgate serve`: a policy applied through Admin.ApplyPolicy wins over the file.
    let policy = setup::governed_policy(&cfg.data_dir, &files.policy, audit.clone()).unwrap();
    let lists: ListStore = setup::load_lists(
        opts.lists.as_ref().unwrap_or(&files.lists),
        Some(audit.clone()),
        std::time::SystemTime::now(),
    )
    .unwrap()
    .with_oracles(setup::oracles(&oracles).unwrap());
    let witness = setup::witness(&cfg, audit.clone()).unwrap();
    let log = audit.clone();
    let pipeline = Pipeline::new(
        store.clone(),
        Arc::new(policy),
        Arc::new(lists),
        Arc::new(opts.state),
        cfg.limits.clone(),
        Release {
            key: release_key(),
            ticket_ttl: cfg.ticket_ttl,
            signers: cfg.signers.clone(),
            tls: None,
        },
        audit,
        witness,
        clock::system(),
    )
    .with_webauthn_origins(cfg.console_origins());
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = metrics_listener.local_addr().unwrap();
    let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
    let metrics_handle = tokio::spawn(signgate_gateway::metrics::serve(
        metrics_listener,
        pipeline.metrics().unwrap(),
        async move {
            let _ = metrics_stopped.await;
        },
    ));
    let pipeline = Arc::new(pipeline);
    let list_tasks = follow_lists.then(|| {
        let tasks = TaskTracker::new();
        let stopped = CancellationToken::new();
        signgate_gateway::serve::spawn_list_tasks(&pipeline, &tasks, stopped.clone());
        (tasks, stopped)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let console_addr = console.as_ref().map(|l| l.local_addr().unwrap());
    let listeners = signgate_gateway::serve::Listeners {
        grpc: listener,
        console,
    };
    let (shutdown, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_with(listeners, cfg, store, pipeline, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        metrics,
        dir: dir.to_path_buf(),
        audit: log,
        console: console_addr,
        shutdown,
        handle,
        stop_metrics,
        metrics_handle,
        list_tasks,
    }
}

fn now_ts() -> Option<Timestamp> {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Some(Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap(),
        nanos: 0,
    })
}

fn seal(context: &str, payload: Vec<u8>, key: &SigningKey) -> pb::SignedEnvelope {
    envelope::seal(key, context, payload)
}

/// A submission payload for `tx` on `safe` (chain 1), signed later by [`submit_request`].
pub fn submission(safe: Address, tx: &SafeTx) -> pb::ProposalSubmission {
    pb::ProposalSubmission {
        chain_id: 1,
        safe: safe.to_checksum(None),
        safe_version: String::new(),
        tx: Some(pb::proposal_submission::Tx::Transaction(
            signgate_gateway::domain::wire::safe_tx_to_proto(tx),
        )),
        issued_at: now_ts(),
        request_id: format!("req-{}", tx.nonce),
        ..Default::default()
    }
}

/// `payload` signed by `key` as a `SubmitProposal` request.
pub fn submit_request(
    payload: &pb::ProposalSubmission,
    key: &SigningKey,
) -> pb::SubmitProposalRequest {
    pb::SubmitProposalRequest {
        submission: Some(seal(SUBMISSION_CONTEXT, payload.encode_to_vec(), key)),
    }
}

/// An approval statement for `p` (its id, Safe and safeTxHash as the gateway reported them).
pub fn statement(p: &pb::Proposal, kind: pb::ApprovalKind) -> pb::ApprovalStatement {
    pb::ApprovalStatement {
        proposal_id: p.id.clone(),
        chain_id: p.chain_id,
        safe: p.safe.clone(),
        safe_tx_hash: p.hashes.as_ref().unwrap().safe_tx_hash.clone(),
        kind: kind.into(),
        issued_at: now_ts(),
        comment: "checked the decoded actions".into(),
    }
}

/// `statement` signed by `key` as an `Approve` request.
pub fn approve_request(statement: &pb::ApprovalStatement, key: &SigningKey) -> pb::ApproveRequest {
    pb::ApproveRequest {
        approval: Some(seal(APPROVAL_CONTEXT, statement.encode_to_vec(), key)),
    }
}

/// A cancellation of `p` signed by `operator`'s demo key.
pub fn cancel_request(p: &pb::Proposal, operator: &str, reason: &str) -> pb::CancelRequest {
    let statement = pb::CancelStatement {
        proposal_id: p.id.clone(),
        chain_id: p.chain_id,
        safe: p.safe.clone(),
        safe_tx_hash: p.hashes.as_ref().unwrap().safe_tx_hash.clone(),
        issued_at: now_ts(),
        reason: reason.into(),
    };
    pb::CancelRequest {
        cancellation: Some(seal(
            CANCEL_CONTEXT,
            statement.encode_to_vec(),
            &demo::operator(operator),
        )),
    }
}

/// Submits `tx` as `initiator`.
pub async fn submit(
    c: &mut GatewayClient<Channel>,
    safe: Address,
    tx: &SafeTx,
    initiator: &str,
) -> pb::Proposal {
    let req = submit_request(&submission(safe, tx), &demo::operator(initiator));
    c.submit_proposal(req).await.unwrap().into_inner()
}

/// `operator` approves `p`.
pub async fn approve(
    c: &mut GatewayClient<Channel>,
    p: &pb::Proposal,
    operator: &str,
) -> pb::Proposal {
    let req = approve_request(
        &statement(p, pb::ApprovalKind::Approve),
        &demo::operator(operator),
    );
    c.approve(req).await.unwrap().into_inner()
}

/// The deny reason codes of a proposal's decision (empty unless denied).
pub fn deny_codes(p: &pb::Proposal) -> Vec<String> {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::Denied(d)) => {
            d.reasons.iter().map(|r| r.code.clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// The deny reasons of a proposal's decision.
pub fn deny_reasons(p: &pb::Proposal) -> Vec<pb::Reason> {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::Denied(d)) => d.reasons.clone(),
        _ => Vec::new(),
    }
}

/// The state of a proposal.
pub fn state(p: &pb::Proposal) -> pb::ProposalState {
    pb::ProposalState::try_from(p.state).unwrap()
}

/// ERC-20 `transfer(to, amount)` calldata.
pub fn erc20_transfer(to: Address, amount: U256) -> Bytes {
    use alloy_sol_types::SolCall;
    signgate_simulator::abi::IERC20::transferCall { to, amount }
        .abi_encode()
        .into()
}

/// A demo-token transfer from the demo Safe.
pub fn token_transfer(to: Address, amount: U256, nonce: u64) -> SafeTx {
    SafeTx::call(
        demo::DEMO_TOKEN,
        U256::ZERO,
        erc20_transfer(to, amount),
        U256::from(nonce),
    )
}

/// Parses a 0x-hash from the API.
pub fn hash(s: &str) -> B256 {
    s.parse().unwrap()
}

/// A reference signer (`signgate signer`) for one demo owner, on 127.0.0.1:0.
pub struct RunningSigner {
    pub url: String,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), signgate_signer::SignerError>>,
}

impl RunningSigner {
    pub async fn stop(self) {
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().unwrap();
    }
}

/// The demo gateway with one reference signer (DEMO key) for each of the demo owners at
/// `owners` (indices into `demo::owners()`), asked by `RequestSignatures` in that order.
pub async fn start_with_signers<const N: usize>(
    dir: &Path,
    owners: [usize; N],
) -> (Running, [RunningSigner; N]) {
    start_with_signers_and(dir, owners, Options::demo()).await
}

/// [`start_with_signers`] with `opts` (its signers replaced by the reference signers started).
pub async fn start_with_signers_and<const N: usize>(
    dir: &Path,
    owners: [usize; N],
    mut opts: Options<Snapshot>,
) -> (Running, [RunningSigner; N]) {
    let keys = crate::demo::owners();
    let mut signers = Vec::with_capacity(N);
    for i in owners {
        signers.push(start_signer(dir, keys[i].clone()).await);
    }
    opts.signers = signers.iter().map(|s| s.url.clone()).collect();
    let gw = start(dir, opts).await;
    let Ok(signers) = signers.try_into() else {
        unreachable!("one signer per owner index")
    };
    (gw, signers)
}

/// Starts a reference signer holding `key`, trusting the test release key, its double-sign
/// ledger under `dir`.
pub async fn start_signer(dir: &Path, key: alloy_signer_local::PrivateKeySigner) -> RunningSigner {
    use signgate_signer::{Ledger, SignerSetup, SystemClock, serve};
    let ledger = Ledger::open(&dir.join(format!("ledger-{}.sqlite3", key.address()))).unwrap();
    let setup = SignerSetup {
        key,
        gateway_key: release_key().verifying_key(),
        ledger,
        clock: std::sync::Arc::new(SystemClock),
        tls: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, setup, async move {
        let _ = rx.await;
    }));
    RunningSigner {
        url,
        shutdown,
        handle,
    }
}
