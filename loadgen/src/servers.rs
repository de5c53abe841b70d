//! The two servers a run measures, each on 127.0.0.1:0 in this process: the full gateway on the
//! embedded demo (or, for `--live`, on a configuration with a `[[chains]]` table), and the echo
//! floor.
//!
//! The echo server is built on the gateway's own transport ([`signgate_gateway::transport`]:
//! plaintext HTTP/2 on loopback, the same call deadline, load shedding, per-connection and
//! global concurrency limits, stream limit, keepalive, rapid-reset bound, TCP_NODELAY) with the
//! same message bound, so that what separates the two is the gateway's own work: verification,
//! decoding, simulation, policy, the SQLite store and the audit log.

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc};

use signgate_chain::Chains;
use signgate_gateway::{
    audit::AuditLog,
    config::GatewayConfig,
    pipeline::{self, setup},
    serve::serve_with,
    store::SqliteStore,
    transport,
};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Request, Response, Status};

use crate::{
    LoadError,
    echo::{EchoMessage, echo_server},
};

/// A server task on a loopback port; [`Running::stop`] shuts it down and joins it.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), LoadError>>,
    /// The gateway's data directory, removed when the server is dropped.
    _data: Option<TempDir>,
}

impl Running {
    /// Stops accepting calls, drains the ones in flight and returns the server's result.
    pub async fn stop(self) -> Result<(), LoadError> {
        let _ = self.shutdown.send(());
        self.handle
            .await
            .map_err(|e| LoadError::Server(e.to_string()))?
    }
}

fn shutdown_pair() -> (
    oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

async fn loopback() -> Result<(TcpListener, SocketAddr), LoadError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| LoadError::Server(format!("binding 127.0.0.1:0: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LoadError::Server(e.to_string()))?;
    Ok((listener, addr))
}

/// The embedded default configuration with its data in `dir`: the demo policy, state and
/// sanctions list, plaintext on loopback.
fn demo_config(dir: &TempDir) -> Result<GatewayConfig, LoadError> {
    let vars = [(
        "SIGNGATE_STORE__DATA_DIR".to_owned(),
        dir.path().join("data").to_string_lossy().into_owned(),
    )];
    GatewayConfig::load(None, vars).map_err(|e| LoadError::Server(e.to_string()))
}

/// Starts the full gateway as `signgate serve` assembles it on the embedded demo, in a fresh
/// temporary data directory: SQLite store, audit log, the demo pipeline. No list watcher and
/// no checkpoint exporter run (neither is on the request path).
pub async fn start_gateway() -> Result<Running, LoadError> {
    let data = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
    let cfg = demo_config(&data)?;
    let (running, _) = start_configured(cfg, data).await?;
    Ok(running)
}

/// [`start_gateway`] with `list` (an `SDN_ADVANCED.XML` file) screened against beside the demo
/// list, so that a reload has a real list to parse. The demo policy and state are used as files
/// (not demo mode), with the checkpoints outside the data directory as production requires.
pub async fn start_gateway_with_list(list: &Path) -> Result<Running, LoadError> {
    use signgate_gateway::config::SanctionsListConfig;
    use signgate_policy::sanctions::{ListAction, ListCategory, ListFormat, ListSpec};
    let server = |e: &dyn std::fmt::Display| LoadError::Server(e.to_string());
    let data = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
    let cfg = demo_config(&data)?;
    let mut files = setup::write_demo(&cfg.data_dir).map_err(|e| server(&e))?;
    files.lists.push(SanctionsListConfig {
        spec: ListSpec::new(
            "reloaded-sdn",
            list.display().to_string(),
            ListCategory::Sanctions,
            ListAction::Deny,
            ListFormat::SdnAdvancedXml,
            std::time::Duration::from_secs(365 * 24 * 3600),
        )
        .map_err(|e| server(&e))?,
        path: list.to_path_buf(),
        comments_path: None,
        remote: None,
    });
    start_on_files(cfg, files, data).await
}

/// [`start_gateway`] on the demo policy without its `[anomaly]` table: nothing observed,
/// judged or recorded about operators, for the comparison with the demo as it ships.
pub async fn start_gateway_without_anomaly() -> Result<Running, LoadError> {
    let server = |e: &dyn std::fmt::Display| LoadError::Server(e.to_string());
    let data = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
    let cfg = demo_config(&data)?;
    let files = setup::write_demo(&cfg.data_dir).map_err(|e| server(&e))?;
    std::fs::write(&files.policy, setup::demo_policy_without_anomaly()).map_err(|e| server(&e))?;
    start_on_files(cfg, files, data).await
}

/// Starts the gateway of `cfg` on the demo's source `files` (as files, not demo mode), with the
/// checkpoints outside the data directory as production requires.
async fn start_on_files(
    mut cfg: GatewayConfig,
    files: setup::SourceFiles,
    data: TempDir,
) -> Result<Running, LoadError> {
    cfg.sources = signgate_gateway::config::PipelineSources::Files {
        state: files.state,
        policy: files.policy,
        lists: files.lists,
        oracles: files.oracles,
    };
    cfg.audit.checkpoint_dir = data.path().join("witness");
    let (running, _) = start_configured(cfg, data).await?;
    Ok(running)
}

/// Calls `Admin.ReloadSanctionsLists` on the gateway at `addr` after `delay`; how long the
/// reload took. A list the reload refused is an error (the measurement would be of nothing).
pub async fn reload_lists_after(
    addr: String,
    delay: std::time::Duration,
) -> Result<std::time::Duration, LoadError> {
    use signgate_proto::v1::{ReloadSanctionsListsRequest, admin_client::AdminClient};
    tokio::time::sleep(delay).await;
    let mut admin = AdminClient::connect(format!("http://{addr}"))
        .await
        .map_err(|e| LoadError::Server(format!("admin connection: {e}")))?;
    let started = std::time::Instant::now();
    let answer = admin
        .reload_sanctions_lists(ReloadSanctionsListsRequest::default())
        .await
        .map_err(|e| LoadError::Server(format!("ReloadSanctionsLists: {e}")))?
        .into_inner();
    let took = started.elapsed();
    if let Some(refused) = answer.lists.iter().find(|l| !l.error.is_empty()) {
        return Err(LoadError::Server(format!(
            "list {} was not reloaded: {}",
            refused.id, refused.error
        )));
    }
    Ok(took)
}

/// Starts the full gateway on the configuration file `config` (whose data directory should be
/// inside `data`, removed when the server is dropped), which must configure live chains; returns
/// them beside the server.
///
/// Every chain is checked once before the first call, as `signgate serve` does, and must be
/// usable. Unlike `signgate serve`, nothing follows the chains afterwards: the caller moves the
/// pin itself ([`Chains::refresh_all`], what the follower does every poll interval), so that a
/// measurement knows which submissions decide on a new block.
pub async fn start_live_gateway(
    config: &Path,
    data: TempDir,
) -> Result<(Running, Arc<Chains>), LoadError> {
    let cfg = GatewayConfig::load(Some(config), std::iter::empty())
        .map_err(|e| LoadError::Server(format!("{}: {e}", config.display())))?;
    match start_configured(cfg, data).await? {
        (running, Some(chains)) => Ok((running, chains)),
        (running, None) => {
            running.stop().await?;
            Err(LoadError::Server(format!(
                "{}: no [[chains]] table, the gateway decides on a snapshot",
                config.display()
            )))
        }
    }
}

/// The gateway of `cfg` as `signgate serve` assembles it (see [`start_gateway`]), and its live
/// chains if it has any.
async fn start_configured(
    cfg: GatewayConfig,
    data: TempDir,
) -> Result<(Running, Option<Arc<Chains>>), LoadError> {
    let server = |e: &dyn std::fmt::Display| LoadError::Server(e.to_string());
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| server(&e))?;
    let release =
        signgate_keys::load_or_create_ed25519(&cfg.release_key).map_err(|e| server(&e))?;
    let audit_key =
        signgate_keys::load_or_create_ed25519(&cfg.audit_key).map_err(|e| server(&e))?;
    let store = Arc::new(
        SqliteStore::open(cfg.store_path())
            .await
            .map_err(|e| server(&e))?,
    );
    let audit =
        Arc::new(AuditLog::open(&setup::audit_path(&cfg), audit_key).map_err(|e| server(&e))?);
    store.record_into(audit.clone()).map_err(|e| server(&e))?;
    let pipeline = pipeline::from_config(
        &cfg,
        store.clone(),
        release,
        audit,
        signgate_gateway::clock::system(),
    )
    .map_err(|e| server(&e))?;
    let chains = match &pipeline {
        pipeline::setup::Configured::Snapshot(_) => None,
        pipeline::setup::Configured::Live(_, chains) => {
            chains.refresh_all().await;
            if let Some(h) = chains.health().into_iter().find(|h| !h.usable) {
                return Err(LoadError::Server(format!(
                    "chain {} ({}) is not usable: {}",
                    h.chain_id,
                    h.name,
                    h.problem.unwrap_or_default()
                )));
            }
            Some(chains.clone())
        }
    };
    let (listener, addr) = loopback().await?;
    let (shutdown, signal) = shutdown_pair();
    let handle = tokio::spawn(async move {
        match pipeline {
            pipeline::setup::Configured::Snapshot(p) => {
                serve_with(listener, cfg, store, Arc::new(p), signal).await
            }
            pipeline::setup::Configured::Live(p, _) => {
                serve_with(listener, cfg, store, Arc::new(p), signal).await
            }
        }
        .map_err(|e| LoadError::Server(e.to_string()))
    });
    let running = Running {
        addr,
        shutdown,
        handle,
        _data: Some(data),
    };
    Ok((running, chains))
}

/// The echo service: returns each request unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

#[tonic::async_trait]
impl echo_server::Echo for Echo {
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

/// Starts the echo floor on the gateway's transport ([`transport::server_builder`] and
/// [`transport::incoming`], exactly as `serve::serve_with` serves) with its message bound.
pub async fn start_echo() -> Result<Running, LoadError> {
    let limits = GatewayConfig::embedded_default()
        .map_err(|e| LoadError::Server(e.to_string()))?
        .limits;
    let (listener, addr) = loopback().await?;
    let (shutdown, signal) = shutdown_pair();
    let service = echo_server::EchoServer::new(Echo)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes);
    let router = transport::server_builder(&limits).add_service(service);
    let handle = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(transport::incoming(listener), signal)
            .await
            .map_err(|e| LoadError::Server(e.to_string()))
    });
    Ok(Running {
        addr,
        shutdown,
        handle,
        _data: None,
    })
}

/// Several gateway replicas on one PostgreSQL database, each run in this process by
/// [`signgate_gateway::serve::run`] (what `signgate serve` runs, so with its policy follower,
/// checkpoint exporter and list watcher), each with a data directory of its own (its audit key)
/// and all with one release key (signer backends trust one gateway key). Metrics are off.
#[derive(Debug)]
pub struct ReplicaGroup {
    /// One per replica, in start order.
    pub replicas: Vec<Running>,
    /// The replicas' data directories and the shared release key, removed on drop.
    _dir: TempDir,
}

impl ReplicaGroup {
    /// Where each replica listens.
    pub fn addrs(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.addr.to_string()).collect()
    }

    /// Stops every replica (the calls in flight drain) and returns the first error.
    pub async fn stop(self) -> Result<(), LoadError> {
        let mut first = Ok(());
        for r in self.replicas {
            let stopped = r.stop().await;
            if first.is_ok() {
                first = stopped;
            }
        }
        first
    }
}

/// Starts `n` replicas on the database at `url`, one after the other, each once the one before
/// listens (the first creates the schema and the release key). A replica that does not start
/// fails the run: a start refused while others write is a gateway bug, not noise to retry.
pub async fn start_replicas(url: &str, n: usize) -> Result<ReplicaGroup, LoadError> {
    let dir = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
    let mut replicas = Vec::with_capacity(n);
    for i in 0..n {
        replicas.push(spawn_replica(url, &dir, i).await?.ready().await?);
    }
    Ok(ReplicaGroup {
        replicas,
        _dir: dir,
    })
}

/// A replica started but maybe not yet listening.
struct Starting {
    running: Running,
}

impl Starting {
    /// Waits until the replica accepts connections (it binds only once its store, audit log and
    /// pipeline are set up), or fails with its error if it stopped.
    async fn ready(self) -> Result<Running, LoadError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if self.running.handle.is_finished() {
                let addr = self.running.addr;
                return Err(match self.running.handle.await {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => LoadError::Server(format!("the replica for {addr} stopped")),
                    Err(e) => LoadError::Server(format!("the replica for {addr}: {e}")),
                });
            }
            if tokio::net::TcpStream::connect(self.running.addr)
                .await
                .is_ok()
            {
                return Ok(self.running);
            }
            if std::time::Instant::now() >= deadline {
                return Err(LoadError::Server(format!(
                    "the replica for {} did not listen within 60 s",
                    self.running.addr
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn spawn_replica(url: &str, dir: &TempDir, i: usize) -> Result<Starting, LoadError> {
    // A free port, released for the replica to bind (`serve::run` binds `server.listen`
    // itself).
    let addr = {
        let (listener, addr) = loopback().await?;
        drop(listener);
        addr
    };
    let env = [
        (
            "SIGNGATE_STORE__DATA_DIR",
            dir.path()
                .join(format!("replica-{i}"))
                .display()
                .to_string(),
        ),
        ("SIGNGATE_STORE__BACKEND", "postgres".to_owned()),
        ("SIGNGATE_STORE__POSTGRES__URL", url.to_owned()),
        (
            "SIGNGATE_KEYS__RELEASE_KEY",
            dir.path().join("release.key").display().to_string(),
        ),
        ("SIGNGATE_SERVER__LISTEN", addr.to_string()),
        ("SIGNGATE_METRICS__LISTEN", String::new()),
        ("SIGNGATE_CONSOLE__LISTEN", String::new()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let (shutdown, signal) = shutdown_pair();
    let handle = tokio::spawn(async move {
        let args = signgate_gateway::serve::ServeArgs { config: None };
        signgate_gateway::serve::run(&args, env, signal)
            .await
            .map_err(|e| LoadError::Server(format!("replica {i}: {e}")))
    });
    Ok(Starting {
        running: Running {
            addr,
            shutdown,
            handle,
            _data: None,
        },
    })
}
