//! `signgate serve`: the wiring. Loads the configuration, opens the store and the audit log,
//! builds the decision pipeline, and serves the [`server`](crate::server) services behind mTLS
//! (or loopback plaintext for the demo) with a message size bound and the transport of
//! [`crate::transport`] (a deadline on every call, concurrency limits and load shedding,
//! keepalive, the rapid-reset bound, TCP_NODELAY), standard health and reflection, and the
//! metrics endpoint; on shutdown, drains the calls and records the stop.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use signgate_proto::v1::{self as pb, admin_server::AdminServer, gateway_server::GatewayServer};
use tokio::{net::TcpListener, sync::broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Certificate, Identity, ServerTlsConfig},
};
use tower::Layer as _;

use crate::anomaly::{
    observer::{self, Observer},
    webhook,
};
use crate::server::{AdminService, Authorizer, GatewayService, Permission, lifecycle, observe};

use crate::pipeline::{DecisionPipeline, Pipeline, PipelinePending, setup::Configured};
use signgate_chain::StateProvider;

use crate::{
    config::{GatewayConfig, StoreBackend, TlsFiles, Transport},
    store::{ProposalStore, SqliteStore, StoreError, postgres::PgStore},
};

/// `signgate serve`: run the gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML file layered over the embedded default (environment variables SIGNGATE_* override
    /// both).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid; the message names the key.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A gateway key could not be read or created.
    #[error("gateway key: {0}")]
    Key(#[from] signgate_keys::KeyError),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The metrics endpoint's address could not be bound.
    #[error(
        "binding metrics.listen {addr}: {source}; free the port or set metrics.listen = \"\" to turn metrics off"
    )]
    MetricsBind {
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The console's address could not be bound.
    #[error(
        "binding console.listen {addr}: {source}; free the port or set console.listen = \"\" to turn the console off"
    )]
    ConsoleBind {
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A console listener was handed over, but the configuration has no console.
    #[error(
        "a console listener was given, but the configuration has no console (console.listen \
         empty, or console.url empty under mutual TLS)"
    )]
    ConsoleOff,
    /// The console's TLS configuration could not be built.
    #[error(transparent)]
    ConsoleTls(#[from] crate::console::connections::ConsoleTlsError),
    /// The clear-signing descriptors could not be loaded.
    #[error(transparent)]
    Descriptors(#[from] crate::descriptors::DescriptorsError),
    /// The decision pipeline (policy, state snapshot, lists) could not be built.
    #[error("decision pipeline: {0}")]
    Pipeline(#[from] crate::pipeline::SetupError),
    /// `[alerts.webhook]` could not be set up.
    #[error(transparent)]
    Webhook(#[from] crate::anomaly::webhook::WebhookError),
    /// The store could not be opened; the gateway does not start without it.
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    /// A TLS file could not be read.
    #[error("reading {}: {source}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Plaintext was configured but the listener is not on loopback.
    #[error("plaintext mode needs a loopback listener, got {0}")]
    NotLoopback(SocketAddr),
    /// The listener's address could not be read.
    #[error("listener: {0}")]
    Listener(std::io::Error),
    /// The reflection service could not be built from the descriptor set.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// TLS setup or serving failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The start or stop could not be recorded; a gateway that cannot record does not serve.
    #[error("audit log: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

fn read_pem(path: &PathBuf) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::TlsFile {
        path: path.clone(),
        source,
    })
}

fn tls_config(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    let identity = Identity::from_pem(read_pem(&files.cert)?, read_pem(&files.key)?);
    let ca = Certificate::from_pem(read_pem(&files.client_ca)?);
    Ok(ServerTlsConfig::new().identity(identity).client_ca_root(ca))
}

/// `signgate serve`: loads the configuration (`env` is the process environment, passed in by
/// the binary), creates the gateway's release key on first start, binds `server.listen` and
/// serves until `shutdown` completes.
///
/// Shutdown runs in this order:
/// 1. [`serve_with`] stops accepting connections, ends every watch stream and drains the calls
///    in flight, then appends the `server_stopped` record;
/// 2. `stopped` is cancelled: the checkpoint task signs and exports one last checkpoint — after
///    the stop record, so a checkpoint commits to it and its truncation is detectable — and the
///    metrics endpoint (scrapeable until here) and the list watcher end;
/// 3. the [`TaskTracker`] waits for every one of those background tasks.
///
/// If setup fails half-way, `stopped` is cancelled on the way out all the same (its drop guard),
/// so no background task outlives the error.
pub async fn run(
    args: &ServeArgs,
    env: impl IntoIterator<Item = (String, String)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let cfg = GatewayConfig::load(args.config.as_deref(), env)?;
    let release = signgate_keys::load_or_create_ed25519(&cfg.release_key)?;
    tracing::info!(
        data_dir = %cfg.data_dir.display(),
        store = %match &cfg.store {
            StoreBackend::Sqlite => cfg.store_path().display().to_string(),
            StoreBackend::Postgres(_) => "postgres (store.postgres.url)".to_owned(),
        },
        release_key = %signgate_keys::public_path(&cfg.release_key).display(),
        release_public_key = %hex::encode(release.verifying_key().as_bytes()),
        "gateway state; give the release public key to every signer backend"
    );
    let audit_key = signgate_keys::load_or_create_ed25519(&cfg.audit_key)?;
    let clock = crate::clock::system();
    match cfg.store.clone() {
        StoreBackend::Sqlite => {
            let audit_path = crate::pipeline::setup::audit_path(&cfg);
            let legacy = crate::pipeline::setup::legacy_audit_path(&cfg);
            if crate::audit::merge_legacy(&audit_path, &legacy)
                .map_err(crate::pipeline::SetupError::from)?
            {
                tracing::warn!(
                    from = %legacy.display(),
                    into = %audit_path.display(),
                    "the audit log kept in a file of its own was merged into the store's database (renamed *.merged)"
                );
            }
            let store = Arc::new(SqliteStore::open(cfg.store_path()).await?);
            let audit = crate::audit::AuditLog::open(&audit_path, audit_key)
                .map_err(crate::pipeline::SetupError::from)?
                .with_clock(clock.clone());
            tracing::info!(audit_log = %audit_path.display(), "audit log open");
            let audit = Arc::new(audit);
            // Every change the store makes commits its audit records in the same transaction.
            store.record_into(audit.clone())?;
            run_with(cfg, store, audit, release, clock, None, shutdown).await
        }
        StoreBackend::Postgres(settings) => {
            let store = Arc::new(PgStore::connect(&settings).await?);
            let audit = crate::audit::AuditLog::open_postgres(
                store.pool(),
                store.location().to_owned(),
                audit_key,
                clock.clone(),
            )
            .await
            .map_err(crate::pipeline::SetupError::from)?;
            tracing::info!(
                database = store.location(),
                "store and audit log in PostgreSQL, shared with every replica of this database"
            );
            audit
                .check_signers(&cfg.audit.replica_keys)
                .map_err(crate::pipeline::SetupError::from)?;
            let audit = Arc::new(audit);
            store.record_into(audit.clone())?;
            let follow = PolicyFollower {
                store: store.clone(),
            };
            run_with(cfg, store, audit, release, clock, Some(follow), shutdown).await
        }
    }
}

/// What a replica on a shared database runs beside its server: the follower of the policy put
/// in force through other replicas.
struct PolicyFollower {
    store: Arc<PgStore>,
}

impl PolicyFollower {
    /// Until `stopped`: whenever a replica records a policy put in force (and every two seconds,
    /// in case an announcement was missed), compares
    /// the policy recorded as in force with this replica's and adopts the recorded one
    /// ([`crate::governance::GovernedPolicy::catch_up`]). Meanwhile the store refuses every
    /// decision made under the older policy, so none is ever committed under it.
    async fn run(
        self,
        governance: crate::pipeline::Governance,
        genesis: signgate_policy::Policy,
        stopped: CancellationToken,
    ) {
        let mut moved = self.store.policy_moved();
        loop {
            tokio::select! {
                () = stopped.cancelled() => return,
                _ = moved.changed() => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
            let recorded = match self.store.policy_in_force().await {
                Ok(Some((_, hash))) => hash,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the policy in force from the database");
                    continue;
                }
            };
            if recorded == governance.policy.load().hash().to_string() {
                continue;
            }
            if let Err(e) = governance.policy.catch_up(&genesis).await {
                tracing::error!(error = %e, recorded, "the policy recorded as in force cannot be adopted; this replica's decisions are refused until it can");
                // Not again at once: the database is read at most a few times a second.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

/// The rest of [`run`] for either store.
async fn run_with<S: ProposalStore>(
    cfg: GatewayConfig,
    store: Arc<S>,
    audit: Arc<crate::audit::AuditLog>,
    release: ed25519_dalek::SigningKey,
    clock: crate::clock::SharedClock,
    follow: Option<PolicyFollower>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // Signed checkpoints (`[audit]`, and once more at shutdown) into a drop directory that an
    // auditor's collector copies out of the operator's reach, and to the hook if configured.
    tracing::info!(
        checkpoints = %cfg.audit.checkpoint_dir.display(),
        every_secs = cfg.audit.checkpoint_interval.as_secs(),
        hook = ?cfg.audit.checkpoint_hook,
        "audit checkpoints exported"
    );
    let stopped = CancellationToken::new();
    let stop_background_on_error = stopped.clone().drop_guard();
    let tasks = TaskTracker::new();
    tasks.spawn(crate::audit::export::run_checkpoints(
        audit.clone(),
        crate::pipeline::setup::checkpoint_sink(&cfg),
        cfg.audit.checkpoint_interval,
        stopped.clone().cancelled_owned(),
    ));
    let background = Background {
        tasks,
        stopped,
        stop_on_error: stop_background_on_error,
    };
    let configured = crate::pipeline::from_config(&cfg, store.clone(), release, audit, clock)?;
    if let Some(follow) = follow {
        let governance = match &configured {
            Configured::Snapshot(p) => p.governance(),
            Configured::Live(p, _) => p.governance(),
        };
        let files = crate::pipeline::setup::resolve(&cfg)?;
        let genesis = crate::pipeline::setup::load_policy(&files.policy)?;
        if let Some(governance) = governance {
            background
                .tasks
                .spawn(follow.run(governance, genesis, background.stopped.clone()));
        }
    }
    match configured {
        Configured::Snapshot(pipeline) => {
            serve_pipeline(cfg, store, pipeline, background, shutdown).await
        }
        Configured::Live(pipeline, chains) => {
            // Every chain is checked once before the first call (an unusable one is logged and
            // refuses its proposals; it does not stop the start), then every poll interval.
            chains.refresh_all().await;
            for h in chains.health() {
                if h.usable {
                    tracing::info!(chain_id = h.chain_id, chain = %h.name, pinned = ?h.pinned, "chain usable");
                } else {
                    tracing::error!(
                        chain_id = h.chain_id,
                        chain = %h.name,
                        problem = h.problem.as_deref().unwrap_or_default(),
                        "chain unusable at start: its proposals are refused until it recovers"
                    );
                }
            }
            background
                .tasks
                .spawn(chains.follow(background.stopped.clone().cancelled_owned()));
            serve_pipeline(cfg, store, pipeline, background, shutdown).await
        }
    }
}

/// The background tasks of a running gateway and the token that stops them.
struct Background {
    tasks: TaskTracker,
    stopped: CancellationToken,
    stop_on_error: tokio_util::sync::DropGuard,
}

/// The rest of [`run`], for either kind of state.
async fn serve_pipeline<S: ProposalStore, T: StateProvider>(
    cfg: GatewayConfig,
    store: Arc<S>,
    pipeline: Pipeline<S, T>,
    background: Background,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Background {
        tasks,
        stopped,
        stop_on_error,
    } = background;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let console = match cfg.console_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::ConsoleBind { addr, source })?,
        ),
        None => None,
    };
    if let Some(addr) = cfg.metrics_listen {
        let metrics = pipeline.metrics().unwrap_or_default();
        serve_metrics(addr, metrics, &tasks, stopped.clone()).await?;
    }
    let pipeline = Arc::new(pipeline);
    spawn_list_tasks(&pipeline, &tasks, stopped.clone());
    let listeners = Listeners {
        grpc: listener,
        console,
    };
    let served = serve_with(listeners, cfg, store, pipeline, shutdown).await;
    // The server has stopped (and recorded it, on a graceful stop): now the background tasks.
    stop_on_error.disarm();
    stopped.cancel();
    tasks.close();
    tasks.wait().await;
    served
}

/// The background work that keeps a pipeline's sanctions lists current and applies every new
/// version to what is in flight, as tasks of `tasks` until `stopped`: the file watcher (lists
/// written by something else), the fetchers (lists with a `url`) and the re-screen of every
/// proposal not yet released on each version change.
pub fn spawn_list_tasks<S: ProposalStore, T: StateProvider>(
    pipeline: &Arc<Pipeline<S, T>>,
    tasks: &TaskTracker,
    stopped: CancellationToken,
) {
    // Reload lists when their files change; without it they go stale and every proposal is
    // denied ("cannot screen"), which is safe but noisy.
    match crate::lists::spawn_watcher(
        pipeline.lists().clone(),
        crate::lists::WatchConfig::default(),
    ) {
        Ok(watcher) => {
            let stopped = stopped.clone();
            tasks.spawn(async move {
                stopped.cancelled().await;
                watcher.shutdown().await;
            });
        }
        Err(e) => tracing::error!(error = %e, "sanctions list watcher did not start"),
    }
    // Lists with a `url` are fetched from their publisher by the gateway itself.
    let fetchers = crate::lists::spawn_fetchers(pipeline.lists().clone());
    {
        let stopped = stopped.clone();
        tasks.spawn(async move {
            stopped.cancelled().await;
            fetchers.shutdown().await;
        });
    }
    tasks.spawn(crate::pipeline::rescreen::follow_list_changes(
        Arc::clone(pipeline),
        stopped,
    ));
}

/// Binds `addr` (`metrics.listen`) and serves `metrics` there, as a task of `tasks`, until
/// `stopped` is cancelled.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<crate::metrics::Metrics>,
    tasks: &TaskTracker,
    stopped: CancellationToken,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::MetricsBind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Listener)?;
    if local.ip().is_loopback() {
        tracing::info!(metrics = %local, "metrics endpoint: GET /metrics");
    } else {
        tracing::warn!(
            metrics = %local,
            "metrics endpoint on a non-loopback address: it holds no secrets, but anyone who \
             can reach it sees decision counts and latencies"
        );
    }
    tasks.spawn(crate::metrics::serve(
        listener,
        metrics,
        stopped.cancelled_owned(),
    ));
    Ok(())
}

/// Serves the gateway on `listener` with the SQLite store of `cfg` until `shutdown` completes,
/// then drains in-flight calls and ends every watch stream. Binding the listener is the
/// caller's job (tests bind 127.0.0.1:0; `cfg.listen` is not used here).
pub async fn serve(
    listener: TcpListener,
    cfg: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = SqliteStore::open(cfg.store_path()).await?;
    serve_with_store(listener, cfg, Arc::new(store), shutdown).await
}

/// [`serve`] with a store the caller opened and no decision pipeline yet (tests with another
/// backend use this).
pub async fn serve_with_store<S: ProposalStore>(
    listener: TcpListener,
    cfg: GatewayConfig,
    store: Arc<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(listener, cfg, store, Arc::new(PipelinePending), shutdown).await
}

/// The sockets one gateway serves on: gRPC, and the console's when there is one (bound by
/// [`run`] from `console.listen`, or by a test).
#[derive(Debug)]
pub struct Listeners {
    /// `server.listen`.
    pub grpc: TcpListener,
    /// `console.listen`, already bound.
    pub console: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Self {
            grpc,
            console: None,
        }
    }
}

/// Serves the console on `listener` as a task that ends once `stopping` is cancelled and its
/// connections have drained. Its pages call `services` in process for each browser.
fn start_console(
    listener: TcpListener,
    cfg: &GatewayConfig,
    services: tonic::service::Routes,
    authorizer: Authorizer,
    audit: Option<Arc<crate::audit::AuditLog>>,
    clock: crate::clock::SharedClock,
    stopping: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let local = listener.local_addr().map_err(ServeError::Listener)?;
    let tls = match &cfg.transport {
        Transport::PlaintextLoopback => {
            if !local.ip().is_loopback() {
                return Err(ServeError::NotLoopback(local));
            }
            None
        }
        Transport::MutualTls(files) => Some(crate::console::connections::server_config(files)?),
    };
    let site = crate::config::ConsoleSite::new(cfg.console_url.as_ref(), local);
    let url = match &cfg.console_url {
        Some(url) => url.origin.clone(),
        // Security keys are scoped to `localhost`, not to an IP address: say which to open.
        None => format!("http://localhost:{}", local.port()),
    };
    tracing::info!(
        console = %url,
        console_listen = %local,
        tls = tls.is_some(),
        "web console (security keys work under this name only)"
    );
    let console = crate::console::Console::new(services, authorizer, audit, clock, site);
    Ok(tokio::spawn(crate::console::serve(
        listener, console, tls, stopping,
    )))
}

/// The full assembly: a store and the decision pipeline that SubmitProposal, Approve, Reject
/// and RequestSignatures delegate to. A pipeline with [`Governance`](crate::pipeline::Governance) gets its start recorded
/// in the audit log before anything is served (no serving without a writable log) and its
/// graceful stop after the last call drained.
///
/// When `shutdown` completes: health reports NOT_SERVING, the `stopping` token is cancelled —
/// which ends every watch stream (a stream would otherwise hold the drain open until its
/// proposal ends) — and tonic stops accepting and drains the calls in flight; then the stop is
/// recorded. The token is also cancelled if serving fails, so no watch stream outlives it.
pub async fn serve_with<S: ProposalStore, P: DecisionPipeline>(
    listeners: impl Into<Listeners>,
    cfg: GatewayConfig,
    store: Arc<S>,
    pipeline: Arc<P>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // ring is the only rustls provider in the graph; the process default still matters for the
    // JSON-RPC state source's HTTP client, which panics without one.
    signgate_simulator::evm::install_crypto_provider();
    let Listeners {
        grpc: listener,
        console: console_listener,
    } = listeners.into();
    let local = listener.local_addr().map_err(ServeError::Listener)?;
    if console_listener.is_some() && cfg.console_listen.is_none() {
        return Err(ServeError::ConsoleOff);
    }
    let (authorizer, tls) = match &cfg.transport {
        Transport::PlaintextLoopback => {
            if !local.ip().is_loopback() {
                return Err(ServeError::NotLoopback(local));
            }
            (Authorizer::Loopback, None)
        }
        Transport::MutualTls(files) => (
            Authorizer::Certificates(Arc::new(cfg.access.clone())),
            Some(tls_config(files)?),
        ),
    };
    let limits = cfg.limits.clone();
    let max_message = limits.max_message_bytes;
    let stopping = CancellationToken::new();
    let _end_watch_streams_on_error = stopping.clone().drop_guard();

    let lists = pipeline.sanctions_lists();
    let chains = pipeline.chains();
    let metrics = pipeline.metrics().unwrap_or_default();
    // The anomaly rules: every call observed by the layer, judged by one worker that ends once
    // the server (and with it every observer) is gone, after writing the last call's records.
    let (observer, observed_calls) =
        Observer::new(pipeline.clock(), pipeline.clone(), metrics.clone());
    let alerts = broadcast::channel(observer::ALERT_BUFFER).0;
    let serving_ended = CancellationToken::new();
    let webhook_ended = CancellationToken::new();
    let _stop_webhook_on_error = webhook_ended.clone().drop_guard();
    let webhook = cfg
        .webhook
        .as_ref()
        .map(|w| webhook::start(w, metrics.clone(), pipeline.clock(), webhook_ended.clone()))
        .transpose()?;
    let (webhook, webhook_task) = webhook.unzip();
    let anomaly_worker = tokio::spawn(observer::run(
        store.clone(),
        observed_calls,
        pipeline.clone(),
        pipeline.clock(),
        metrics.clone(),
        observer::AlertSinks {
            watchers: alerts.clone(),
            webhook,
        },
        serving_ended.clone(),
    ));
    let observed = observe::ObserveLayer::new(metrics).with_observer(observer);
    let trusted_proxies: Arc<[std::net::IpAddr]> = cfg.trusted_proxies.clone().into();
    let governance = pipeline.governance();
    if let Some(g) = &governance {
        lifecycle::record_start(g, &cfg).await?;
    }
    let clock = pipeline.clock();
    let descriptors = Arc::new(crate::descriptors::load(cfg.descriptors_dir.as_deref())?);
    let gateway = GatewayServer::new(GatewayService::new(
        store.clone(),
        pipeline,
        limits.clone(),
        stopping.clone(),
        descriptors,
    ))
    .max_decoding_message_size(max_message)
    .max_encoding_message_size(max_message);
    let admin = AdminServer::new(
        AdminService::new(store, clock.clone())
            .with_lists(lists)
            .with_governance(governance.clone())
            .with_chains(chains)
            .with_alerts(alerts.clone(), stopping.clone()),
    )
    .max_decoding_message_size(max_message)
    .max_encoding_message_size(max_message);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<GatewayServer<GatewayService<S, P>>>()
        .await;
    health.set_serving::<AdminServer<AdminService<S>>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // Older tools (grpcurl before v1 support) still ask v1alpha.
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The two services as every caller reaches them, the console included: span and latency
    // outside the interceptor, so refused calls are logged and timed too.
    let services = tonic::service::Routes::new(observed.layer(InterceptedService::new(
        gateway,
        authorizer.require(Permission::Gateway, trusted_proxies.clone()),
    )))
    .add_service(observed.layer(InterceptedService::new(
        admin,
        authorizer.require(Permission::Admin, trusted_proxies),
    )));
    let console = match console_listener {
        Some(l) => Some(start_console(
            l,
            &cfg,
            services.clone(),
            authorizer,
            governance.as_ref().map(|g| g.audit.clone()),
            clock.clone(),
            stopping.clone(),
        )?),
        None => None,
    };
    let mut builder = crate::transport::server_builder(&limits);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        .add_routes(services)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha);

    tracing::info!(%local, tls = matches!(cfg.transport, Transport::MutualTls(_)), "serving");
    let signal = async move {
        shutdown.await;
        health
            .set_not_serving::<GatewayServer<GatewayService<S, P>>>()
            .await;
        stopping.cancel();
    };
    router
        .serve_with_incoming_shutdown(crate::transport::incoming(listener), signal)
        .await?;
    // The console stopped taking requests with `stopping`; its open ones have drained.
    if let Some(console) = console
        && console.await.is_err()
    {
        tracing::error!("the console panicked");
    }
    // No call is served any more: the worker judges what was queued and ends.
    serving_ended.cancel();
    drop(alerts);
    if anomaly_worker.await.is_err() {
        tracing::error!("the anomaly worker panicked; calls queued for it were not judged");
    }
    // Then the webhook: one last attempt at what it still holds.
    webhook_ended.cancel();
    if let Some(task) = webhook_task
        && task.await.is_err()
    {
        tracing::error!("the webhook sender panicked; alerts queued for it were not delivered");
    }
    if let Some(g) = &governance {
        lifecycle::record_stop(g).await;
    }
    Ok(())
}
