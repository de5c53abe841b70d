//! The validated configuration: typed values checked once at load, so the server never
//! re-parses a string or meets a zero limit at run time.

use std::{
    net::SocketAddr,
    num::{NonZeroU32, NonZeroUsize},
    path::{Path, PathBuf},
    time::Duration,
};

use super::{ClientName, ConfigError, RawConfig};

/// Everything the gateway server needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address to listen on (tests bind their own listener and ignore it).
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics endpoint; `None` when `metrics.listen` is empty.
    pub metrics_listen: Option<SocketAddr>,
    /// Address of the web console; `None` when there is no console: `console.listen` empty,
    /// or, under mutual TLS, `console.url` empty (production serves no console unless asked).
    pub console_listen: Option<SocketAddr>,
    /// `[console] url` under mutual TLS: where browsers open the console (`None` in the
    /// loopback demo, whose console is `http://localhost:PORT`).
    pub console_url: Option<ConsoleUrl>,
    /// Bounds on requests and work.
    pub limits: Limits,
    /// mTLS or loopback plaintext.
    pub transport: Transport,
    /// Which client certificate identities may use which service.
    pub access: AccessLists,
    /// Directory of the SQLite store and default key files.
    pub data_dir: PathBuf,
    /// Where the shared state and the audit log live.
    pub store: StoreBackend,
    /// ed25519 key signing audit checkpoints.
    pub audit_key: PathBuf,
    /// ed25519 key signing release tickets.
    pub release_key: PathBuf,
    /// Lifetime of a release ticket.
    pub ticket_ttl: Duration,
    /// Signer backends asked by `RequestSignatures`.
    pub signers: Vec<SignerEndpoint>,
    /// What decisions are made from: the bundled demo, or files.
    pub sources: PipelineSources,
    /// Where signed audit checkpoints go.
    pub audit: AuditSettings,
    /// `[display] descriptors_dir`: more ERC-7730 descriptors to read at start (`None`: only
    /// the bundled ones).
    pub descriptors_dir: Option<PathBuf>,
    /// SHA-256 of the effective configuration (every layer merged, as canonical JSON), so the
    /// audit log's `server_started` record shows when the configuration changed.
    pub effective_sha256: alloy_primitives::B256,
    /// `[server] trusted_proxies`: the only peers whose `x-forwarded-for` is believed when the
    /// anomaly rules place a call's source network (empty: the TCP peer always).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `[alerts.webhook]`, if configured.
    pub webhook: Option<WebhookSettings>,
}

impl GatewayConfig {
    /// The origins a browser writes into what a security key signs when it approves from the
    /// console: `http://localhost:PORT` (WebAuthn accepts `localhost` as a relying party, not
    /// an IP address) and `http://127.0.0.1:PORT`. None without a console, or with port 0 (the
    /// port is not known before the console binds it): WebAuthn approvals are then refused.
    ///
    /// Under mutual TLS: the one origin of `console.url`.
    pub fn console_origins(&self) -> Vec<String> {
        match self.console_listen {
            Some(addr) if self.console_url.is_some() || addr.port() != 0 => {
                ConsoleSite::new(self.console_url.as_ref(), addr).origins
            }
            _ => Vec::new(),
        }
    }
}

/// Where browsers reach the console and what they write into what a security key signs there:
/// one derivation for the console (which answers these hosts) and the pipeline (which accepts
/// assertions from these origins only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSite {
    /// `Host` header values the console answers.
    pub hosts: Vec<String>,
    /// Origins browsers put into WebAuthn's client data here.
    pub origins: Vec<String>,
    /// The relying party id of security keys enrolled here.
    pub rp_id: String,
}

impl ConsoleSite {
    /// The console at `url` (mutual TLS), or on the loopback address `local` (the demo:
    /// `http://localhost:PORT`, the name security keys accept as a relying party, and the
    /// address itself).
    pub fn new(url: Option<&ConsoleUrl>, local: SocketAddr) -> Self {
        match url {
            Some(url) => Self {
                hosts: url.hosts(),
                origins: vec![url.origin.clone()],
                rp_id: url.host.clone(),
            },
            None => {
                let mut hosts = Vec::new();
                if local.ip().is_loopback() {
                    hosts.push(format!("localhost:{}", local.port()));
                }
                hosts.push(local.to_string());
                Self {
                    origins: hosts.iter().map(|h| format!("http://{h}")).collect(),
                    hosts,
                    rp_id: "localhost".to_owned(),
                }
            }
        }
    }
}

/// `[console] url`, validated: the console's address as browsers open it under mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUrl {
    /// `https://host[:port]`, serialised as a browser writes it into what a security key signs
    /// (no port when it is 443).
    pub origin: String,
    /// The DNS name: the relying party of the security keys enrolled through this console.
    pub host: String,
    /// The port browsers connect to (443 when the URL names none).
    pub port: u16,
}

impl ConsoleUrl {
    /// The `Host` header values a browser sends for this console: the name with its port, or
    /// for port 443 the name alone (as browsers send it) and with the port.
    pub fn hosts(&self) -> Vec<String> {
        let with_port = format!("{}:{}", self.host, self.port);
        if self.port == 443 {
            vec![self.host.clone(), with_port]
        } else {
            vec![with_port]
        }
    }
}

/// `[alerts.webhook]`, validated.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where alerts are POSTed.
    pub url: reqwest::Url,
    /// The HMAC key's file, read when the server starts (a missing key stops the start).
    pub secret_file: PathBuf,
    /// Deadline of one delivery attempt.
    pub timeout: Duration,
    /// Alerts waiting for delivery at most.
    pub queue_limit: NonZeroUsize,
}

/// `[store] backend`, validated.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    /// One gateway, a SQLite file in the data directory.
    Sqlite,
    /// Several replicas on one PostgreSQL database.
    Postgres(PostgresSettings),
}

/// `[store.postgres]`, validated.
#[derive(Clone)]
pub struct PostgresSettings {
    /// libpq URL (may hold a password: never logged).
    pub url: String,
    /// Connections per replica.
    pub pool_size: usize,
    /// Longest a statement runs or waits for a lock, and a call for a connection.
    pub statement_timeout: Duration,
    /// The CA (PEM file) the server's certificate must chain to: TLS with the server's name
    /// checked. `None`: plaintext.
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

/// `[audit]`, validated.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Directory checkpoint notes are written to.
    pub checkpoint_dir: PathBuf,
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
    /// Program and arguments receiving each note on stdin; `None`: no hook.
    pub checkpoint_hook: Option<Vec<String>>,
    /// Audit public keys of every replica sharing the log (`replica_keys`).
    pub replica_keys: Vec<ed25519_dalek::VerifyingKey>,
}

/// Where the pipeline's state, policy and lists come from.
#[derive(Debug, Clone)]
pub enum PipelineSources {
    /// The bundled demo assets, written to `<data_dir>/demo/` at start.
    Demo,
    /// Operator-supplied files.
    Files {
        /// Where chain state comes from.
        state: StateConfig,
        /// Policy TOML.
        policy: PathBuf,
        /// At least one sanctions list.
        lists: Vec<SanctionsListConfig>,
        /// On-chain screens asked beside the lists (`kind = "chainalysis_oracle"`).
        oracles: Vec<OracleConfig>,
    },
}

/// Chainalysis's sanctions oracle on Ethereum mainnet.
pub const CHAINALYSIS_ORACLE: alloy_primitives::Address =
    alloy_primitives::address!("0x40C57923924B5c5c5455c48D93317139ADDaC8fb");

/// A `[[sanctions]]` table of `kind = "chainalysis_oracle"`, validated: every address a
/// proposal touches is checked with `isSanctioned(address)` on `contract` through `endpoint`.
#[derive(Debug, Clone)]
pub struct OracleConfig {
    /// The screen's id, as hits and reasons name it.
    pub id: signgate_policy::sanctions::ListId,
    /// Whose designations the oracle reflects, shown with its hits.
    pub jurisdiction: Option<signgate_policy::sanctions::Jurisdiction>,
    /// What a hit asks policy to do.
    pub action: signgate_policy::sanctions::ListAction,
    /// The JSON-RPC endpoint asked.
    pub endpoint: signgate_chain::EndpointUrl,
    /// The oracle contract.
    pub contract: alloy_primitives::Address,
    /// Deadline of one batch of calls; a miss is "cannot screen".
    pub timeout: Duration,
    /// Most addresses asked in one batch.
    pub max_batch: usize,
}

/// Where decisions read chain state.
#[derive(Debug, Clone)]
pub enum StateConfig {
    /// One JSON state snapshot for every chain (offline use and tests).
    Snapshot(PathBuf),
    /// Live chains through their JSON-RPC endpoints.
    Chains(Vec<signgate_chain::ChainSettings>),
}

/// One configured sanctions list, validated.
#[derive(Debug, Clone)]
pub struct SanctionsListConfig {
    /// Its validated spec (id, format, category, action, maximum age).
    pub spec: signgate_policy::sanctions::ListSpec,
    /// The list file; for a fetched list, its last good copy.
    pub path: PathBuf,
    /// Format `sdn_csv`: the `sdn_comments.csv` file (for a fetched pair, its last good copy).
    pub comments_path: Option<PathBuf>,
    /// Where the gateway fetches the list from; `None`: something else writes `path`.
    pub remote: Option<RemoteSource>,
}

/// Where and how the gateway fetches a list itself (a `[[sanctions]]` list with a `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSource {
    /// The list's URL (`https` only).
    pub url: reqwest::Url,
    /// Format `sdn_csv`: the URL of `sdn_comments.csv`, fetched with the list as one version.
    pub comments_url: Option<reqwest::Url>,
    /// A URL serving the publisher's SHA-256 of the list (bare hex, `sha256sum` or OpenSSL
    /// output); when set, a copy whose digest differs is refused.
    pub checksum_url: Option<reqwest::Url>,
    /// Time between two polls.
    pub poll_interval: Duration,
    /// Largest body accepted, in bytes; a larger one is refused while it streams.
    pub max_bytes: u64,
    /// Deadline of the TCP and TLS connection.
    pub connect_timeout: Duration,
    /// Deadline of one whole fetch (connection, redirects, body).
    pub timeout: Duration,
    /// A PEM file of the only roots trusted for this list's URLs (a private mirror, tests);
    /// `None`: the platform's roots.
    pub tls_roots: Option<PathBuf>,
}

impl GatewayConfig {
    /// The SQLite database file inside the data directory.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("signgate.sqlite3")
    }

    /// Whether nothing outside the data directory receives checkpoints: the drop directory is
    /// inside it and there is no hook. Whoever can rewrite the data directory can then erase
    /// the tail of the audit log together with the checkpoints that commit to it, so the
    /// configuration refuses this outside demo mode.
    pub fn checkpoints_unwitnessed(&self) -> bool {
        self.audit.checkpoint_hook.is_none()
            && is_within(&self.audit.checkpoint_dir, &self.data_dir)
    }
}

/// Whether `path` is `base` or below it, comparing the paths as the filesystem resolves them:
/// made absolute, `.` and `..` removed, and the longest part that exists resolved through its
/// symbolic links (the directories need not exist yet at load time). This guards against a
/// mistaken configuration, not against an operator set on fooling it (who controls the
/// configuration anyway); the hook or a collector outside the operator's reach is what binds.
fn is_within(path: &Path, base: &Path) -> bool {
    resolved(path).starts_with(resolved(base))
}

fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    // An absolute path cannot be formed only if the current directory is unknown; the path
    // as given then compares as well as anything.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut lexical = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// Request and work bounds; every one is enforced by the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest encoded message in either direction.
    pub max_message_bytes: usize,
    /// Server-side deadline of every unary call.
    pub call_timeout: Duration,
    /// Requests in service at once; the rest are shed.
    pub concurrency_limit: NonZeroUsize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: NonZeroU32,
    /// Deadline of one EVM simulation.
    pub simulation_timeout: Duration,
    /// Largest Safe transaction calldata.
    pub max_calldata_bytes: usize,
    /// Largest `ListProposals` page.
    pub max_page_size: NonZeroU32,
    /// Oldest acceptable `issued_at` of a signed submission or approval.
    pub max_request_age: Duration,
}

/// How clients connect.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plaintext on a loopback address only: the single-machine demo.
    PlaintextLoopback,
    /// Mutual TLS: clients must present a certificate issued by `client_ca`.
    MutualTls(TlsFiles),
}

/// PEM files for mutual TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain.
    pub cert: PathBuf,
    /// Server private key.
    pub key: PathBuf,
    /// CA of client certificates.
    pub client_ca: PathBuf,
}

/// Client identities (exact DNS or SPIFFE subjectAltNames of their certificates) per
/// permission. Anyone not listed may use only the standard health and reflection services.
#[derive(Debug, Clone, Default)]
pub struct AccessLists {
    /// May call `Gateway`.
    pub gateway: Vec<ClientName>,
    /// May call `Admin` and `Gateway`.
    pub admin: Vec<ClientName>,
}

/// One signer backend.
#[derive(Debug, Clone)]
pub struct SignerEndpoint {
    /// `http://` (loopback only) or `https://` URL.
    pub endpoint: String,
}

/// The names of one access list, each checked by [`ClientName::parse`]; the first one refused
/// fails the load under `key`.
fn client_names(key: &'static str, names: &[String]) -> Result<Vec<ClientName>, ConfigError> {
    names
        .iter()
        .map(|name| ClientName::parse(name).map_err(|reason| ConfigError::invalid(key, reason)))
        .collect()
}

fn millis(key: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(ConfigError::invalid(key, "must be greater than 0"));
    }
    Ok(Duration::from_millis(value))
}

fn non_zero_usize(key: &'static str, value: u64) -> Result<NonZeroUsize, ConfigError> {
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| ConfigError::invalid(key, format!("must be between 1 and {}", usize::MAX)))
}

fn non_zero_u32(key: &'static str, value: u64) -> Result<NonZeroU32, ConfigError> {
    u32::try_from(value)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| ConfigError::invalid(key, format!("must be between 1 and {}", u32::MAX)))
}

fn path_or(value: &str, default: PathBuf) -> PathBuf {
    if value.is_empty() {
        default
    } else {
        PathBuf::from(value)
    }
}

fn required_path(key: &'static str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(
            key,
            "required when tls.plaintext_loopback = false (a PEM file path)",
        ));
    }
    Ok(PathBuf::from(value))
}

impl TryFrom<RawConfig> for GatewayConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        let s = &raw.server;
        let listen: SocketAddr = s.listen.parse().map_err(|_| {
            ConfigError::invalid(
                "server.listen",
                format!(
                    "{:?} is not an IP address with a port, like 127.0.0.1:50051",
                    s.listen
                ),
            )
        })?;
        let metrics_listen = metrics_listen(&raw.metrics.listen)?;
        let (console_listen, console_url) = console(&raw.console, &raw.tls)?;
        let max_message_bytes = non_zero_usize("server.max_message_bytes", s.max_message_bytes)?;
        let limits = Limits {
            max_message_bytes: max_message_bytes.get(),
            call_timeout: millis("server.call_timeout_ms", s.call_timeout_ms)?,
            concurrency_limit: non_zero_usize("server.concurrency_limit", s.concurrency_limit)?,
            max_concurrent_streams: non_zero_u32(
                "server.max_concurrent_streams",
                s.max_concurrent_streams,
            )?,
            simulation_timeout: millis("server.simulation_timeout_ms", s.simulation_timeout_ms)?,
            max_calldata_bytes: non_zero_usize("server.max_calldata_bytes", s.max_calldata_bytes)?
                .get(),
            max_page_size: non_zero_u32("server.max_page_size", s.max_page_size)?,
            max_request_age: Duration::from_secs(s.max_request_age_secs),
        };
        if limits.max_calldata_bytes >= limits.max_message_bytes {
            return Err(ConfigError::invalid(
                "server.max_calldata_bytes",
                "must be smaller than server.max_message_bytes",
            ));
        }
        let webhook = raw
            .alerts
            .as_ref()
            .and_then(|a| a.webhook.as_ref())
            .map(|w| -> Result<WebhookSettings, ConfigError> {
                let url: reqwest::Url = w.url.parse().map_err(|e| {
                    ConfigError::invalid("alerts.webhook.url", format!("not a URL: {e}"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::invalid(
                        "alerts.webhook.url",
                        "must be an http:// or https:// URL",
                    ));
                }
                if w.secret_file.trim().is_empty() {
                    return Err(ConfigError::invalid(
                        "alerts.webhook.secret_file",
                        "required: the file with the key the alerts are signed with",
                    ));
                }
                Ok(WebhookSettings {
                    url,
                    secret_file: PathBuf::from(w.secret_file.trim()),
                    timeout: millis("alerts.webhook.timeout_ms", w.timeout_ms)?,
                    queue_limit: non_zero_usize("alerts.webhook.queue_limit", w.queue_limit)?,
                })
            })
            .transpose()?;
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    ConfigError::invalid(
                        "server.trusted_proxies",
                        format!("`{p}` is not an IP address (one address per entry, no ranges)"),
                    )
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
        if s.max_request_age_secs == 0 {
            return Err(ConfigError::invalid(
                "server.max_request_age_secs",
                "must be greater than 0",
            ));
        }

        let t = &raw.tls;
        let transport = if t.plaintext_loopback {
            if !listen.ip().is_loopback() {
                return Err(ConfigError::invalid(
                    "tls.plaintext_loopback",
                    format!(
                        "plaintext is allowed only on a loopback address, but server.listen is \
                         {listen}; configure tls.cert, tls.key and tls.client_ca instead"
                    ),
                ));
            }
            Transport::PlaintextLoopback
        } else {
            Transport::MutualTls(TlsFiles {
                cert: required_path("tls.cert", &t.cert)?,
                key: required_path("tls.key", &t.key)?,
                client_ca: required_path("tls.client_ca", &t.client_ca)?,
            })
        };
        let access = AccessLists {
            gateway: client_names("tls.gateway_clients", &t.gateway_clients)?,
            admin: client_names("tls.admin_clients", &t.admin_clients)?,
        };

        if raw.store.data_dir.is_empty() {
            return Err(ConfigError::invalid(
                "store.data_dir",
                "must name a directory",
            ));
        }
        let data_dir = PathBuf::from(&raw.store.data_dir);
        let store = store_backend(&raw.store)?;
        let audit_key = path_or(&raw.keys.audit_key, data_dir.join("audit.key"));
        let release_key = path_or(&raw.keys.release_key, data_dir.join("release.key"));
        if raw.keys.ticket_ttl_secs == 0 {
            return Err(ConfigError::invalid(
                "keys.ticket_ttl_secs",
                "must be greater than 0",
            ));
        }
        let ticket_ttl = Duration::from_secs(raw.keys.ticket_ttl_secs);

        let signers = raw
            .signers
            .iter()
            .map(|s| {
                if s.endpoint.starts_with("https://") || s.endpoint.starts_with("http://") {
                    Ok(SignerEndpoint {
                        endpoint: s.endpoint.clone(),
                    })
                } else {
                    Err(ConfigError::invalid(
                        "signers.endpoint",
                        format!("{:?} must start with http:// or https://", s.endpoint),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;

        let sources = pipeline_sources(&raw, &data_dir)?;
        let audit = audit_settings(&raw.audit, &data_dir)?;
        if matches!(sources, PipelineSources::Files { .. })
            && audit.checkpoint_hook.is_none()
            && is_within(&audit.checkpoint_dir, &data_dir)
        {
            return Err(ConfigError::invalid(
                "audit.checkpoint_dir",
                format!(
                    "{} is inside store.data_dir ({}) and audit.checkpoint_hook is empty: \
                     whoever can rewrite the data directory could erase the tail of the audit \
                     log with the checkpoints that commit to it. Set audit.checkpoint_dir to a \
                     directory outside store.data_dir that an auditor's collector copies away, \
                     or set audit.checkpoint_hook to a program that sends each checkpoint note \
                     off the host (pipeline.demo = false)",
                    audit.checkpoint_dir.display(),
                    data_dir.display()
                ),
            ));
        }
        let effective_sha256 = {
            use sha2::Digest as _;
            // Plain strings and numbers always encode; an empty input would only change the
            // digest, never the configuration in use.
            let json = serde_json::to_vec(&raw).unwrap_or_default();
            alloy_primitives::B256::from(<[u8; 32]>::from(sha2::Sha256::digest(&json)))
        };

        Ok(Self {
            sources,
            listen,
            metrics_listen,
            console_listen,
            console_url,
            limits,
            transport,
            access,
            data_dir,
            store,
            audit_key,
            release_key,
            ticket_ttl,
            signers,
            audit,
            descriptors_dir: (!raw.display.descriptors_dir.trim().is_empty())
                .then(|| PathBuf::from(raw.display.descriptors_dir.trim())),
            effective_sha256,
            trusted_proxies,
            webhook,
        })
    }
}

/// `metrics.listen`: an address, or empty for no endpoint. Port 0 picks a free port.
fn metrics_listen(value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        ConfigError::invalid(
            "metrics.listen",
            format!(
                "{value:?} is not an IP address with a port, like 127.0.0.1:9464 \
                 (empty: no metrics endpoint)"
            ),
        )
    })
}

/// `[console]`: an address and, under mutual TLS, the URL browsers open, or no console.
///
/// - In the plaintext loopback demo the console serves plain HTTP, so its address must be
///   loopback (a browser would otherwise send approvals across the network in the clear) and
///   `url` must be empty: the console is `http://localhost:PORT`.
/// - Under mutual TLS (production) the console is off unless `url` is set: it then serves
///   HTTPS with the server's certificate on `listen` (any address) and asks every browser for
///   a client certificate from `tls.client_ca`, as the gRPC API does.
fn console(
    raw: &super::RawConsole,
    tls: &super::RawTls,
) -> Result<(Option<SocketAddr>, Option<ConsoleUrl>), ConfigError> {
    let value = raw.listen.as_str();
    let url = raw.url.trim();
    if tls.plaintext_loopback && !url.is_empty() {
        return Err(ConfigError::invalid(
            "console.url",
            "set only under mutual TLS: the loopback demo's console is http://localhost:PORT \
             (leave console.url empty, or set tls.plaintext_loopback = false)",
        ));
    }
    if value.trim().is_empty() || (!tls.plaintext_loopback && url.is_empty()) {
        return Ok((None, None));
    }
    let addr: SocketAddr = value.parse().map_err(|_| {
        ConfigError::invalid(
            "console.listen",
            format!(
                "{value:?} is not an IP address with a port, like 127.0.0.1:8080 \
                 (empty: no console)"
            ),
        )
    })?;
    if tls.plaintext_loopback {
        if !addr.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "console.listen",
                format!(
                    "{addr} is not a loopback address: the console serves plain HTTP in the \
                     demo, so it listens on loopback only (under mutual TLS it serves HTTPS on \
                     any address)"
                ),
            ));
        }
        return Ok((Some(addr), None));
    }
    Ok((Some(addr), Some(console_url(url)?)))
}

/// `console.url`: an `https://` URL naming the console by a DNS name (security keys are bound
/// to a domain, never to an IP address), with no path, query, fragment or credentials.
fn console_url(text: &str) -> Result<ConsoleUrl, ConfigError> {
    let bad = |why: &str| {
        ConfigError::invalid(
            "console.url",
            format!("{text:?} {why}, like https://console.treasury.example:8443"),
        )
    };
    let url = reqwest::Url::parse(text).map_err(|_| bad("is not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad(
            "is not an https:// URL (the console serves HTTPS under mutual TLS)",
        ));
    }
    let Some(host) = url.domain() else {
        return Err(bad(
            "does not name the console by a DNS name (security keys are bound to a domain, \
             not an IP address)",
        ));
    };
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("has more than a scheme, a name and a port"));
    }
    Ok(ConsoleUrl {
        origin: url.origin().ascii_serialization(),
        host: host.to_ascii_lowercase(),
        port: url.port_or_known_default().unwrap_or(443),
    })
}

fn audit_settings(
    raw: &super::RawAudit,
    data_dir: &std::path::Path,
) -> Result<AuditSettings, ConfigError> {
    if raw.checkpoint_interval_secs == 0 {
        return Err(ConfigError::invalid(
            "audit.checkpoint_interval_secs",
            "must be greater than 0",
        ));
    }
    let checkpoint_hook = match raw.checkpoint_hook.as_slice() {
        [] => None,
        [program, ..] if program.trim().is_empty() => {
            return Err(ConfigError::invalid(
                "audit.checkpoint_hook",
                "the first element must name a program",
            ));
        }
        argv => Some(argv.to_vec()),
    };
    let replica_keys = raw
        .replica_keys
        .iter()
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(k.trim().trim_start_matches("0x"))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "audit.replica_keys",
                        format!("{k:?} is not 64 hex digits"),
                    )
                })?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
                ConfigError::invalid(
                    "audit.replica_keys",
                    format!("{k} is not an ed25519 public key"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditSettings {
        checkpoint_dir: path_or(&raw.checkpoint_dir, data_dir.join("checkpoints")),
        checkpoint_interval: Duration::from_secs(raw.checkpoint_interval_secs),
        checkpoint_hook,
        replica_keys,
    })
}

/// `[store] backend` and `[store.postgres]`.
fn store_backend(raw: &super::raw::RawStore) -> Result<StoreBackend, ConfigError> {
    match raw.backend.as_str() {
        "sqlite" => Ok(StoreBackend::Sqlite),
        "postgres" => {
            let pg = &raw.postgres;
            if pg.url.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "store.postgres.url",
                    "must name the database with backend = \"postgres\" (postgres://user@host:port/db)",
                ));
            }
            if pg.pool_size == 0 {
                return Err(ConfigError::invalid(
                    "store.postgres.pool_size",
                    "must be at least 1",
                ));
            }
            if pg.statement_timeout_ms == 0 {
                return Err(ConfigError::invalid(
                    "store.postgres.statement_timeout_ms",
                    "must be at least 1",
                ));
            }
            Ok(StoreBackend::Postgres(PostgresSettings {
                url: pg.url.clone(),
                pool_size: pg.pool_size,
                statement_timeout: Duration::from_millis(pg.statement_timeout_ms),
                ca: (!pg.ca.trim().is_empty()).then(|| PathBuf::from(&pg.ca)),
            }))
        }
        other => Err(ConfigError::invalid(
            "store.backend",
            format!(
                "{other:?} is neither \"sqlite\" (one gateway) nor \"postgres\" (several replicas)"
            ),
        )),
    }
}

/// An `https` URL of `[[sanctions]]`, or the error naming `key`.
fn https_url(key: &'static str, text: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(text)
        .map_err(|e| ConfigError::invalid(key, format!("{text:?}: {e}")))?;
    if url.scheme() != "https" {
        return Err(ConfigError::invalid(
            key,
            format!("{text:?}: must be https (a list is fetched over TLS only)"),
        ));
    }
    Ok(url)
}

/// The fetch settings of a list with a `url`; `None` without one.
fn remote_config(l: &super::RawSanctionsList) -> Result<Option<RemoteSource>, ConfigError> {
    if l.url.is_empty() {
        if !l.checksum_url.is_empty() || !l.tls_roots.is_empty() || !l.comments_url.is_empty() {
            return Err(ConfigError::invalid(
                "sanctions.url",
                "checksum_url, comments_url and tls_roots apply to a fetched list; set url too",
            ));
        }
        return Ok(None);
    }
    let positive = |key: &'static str, v: u64| {
        if v == 0 {
            Err(ConfigError::invalid(key, "must be greater than zero"))
        } else {
            Ok(v)
        }
    };
    Ok(Some(RemoteSource {
        url: https_url("sanctions.url", &l.url)?,
        comments_url: (!l.comments_url.is_empty())
            .then(|| https_url("sanctions.comments_url", &l.comments_url))
            .transpose()?,
        checksum_url: (!l.checksum_url.is_empty())
            .then(|| https_url("sanctions.checksum_url", &l.checksum_url))
            .transpose()?,
        poll_interval: Duration::from_secs(positive(
            "sanctions.poll_interval_secs",
            l.poll_interval_secs,
        )?),
        max_bytes: positive("sanctions.max_mib", l.max_mib)?.saturating_mul(1024 * 1024),
        connect_timeout: Duration::from_secs(positive(
            "sanctions.connect_timeout_secs",
            l.connect_timeout_secs,
        )?),
        timeout: Duration::from_secs(positive(
            "sanctions.fetch_timeout_secs",
            l.fetch_timeout_secs,
        )?),
        tls_roots: (!l.tls_roots.is_empty()).then(|| PathBuf::from(&l.tls_roots)),
    }))
}

fn list_config(
    l: &super::RawSanctionsList,
    data_dir: &std::path::Path,
) -> Result<SanctionsListConfig, ConfigError> {
    use signgate_policy::sanctions::{ListCategory, ListFormat, ListSpec};
    let format = match l.format.as_str() {
        "plain" => ListFormat::Plain,
        "sdn_csv" => ListFormat::SdnCsv,
        "sdn_advanced_xml" => ListFormat::SdnAdvancedXml,
        other => {
            return Err(ConfigError::invalid(
                "sanctions.format",
                format!("{other:?}: use plain, sdn_csv or sdn_advanced_xml"),
            ));
        }
    };
    let category = match l.category.as_str() {
        "sanctions" => ListCategory::Sanctions,
        "law_enforcement" => ListCategory::LawEnforcement,
        "internal" => ListCategory::Internal,
        other => {
            return Err(ConfigError::invalid(
                "sanctions.category",
                format!("{other:?}: use sanctions, law_enforcement or internal"),
            ));
        }
    };
    let action = list_action(&l.action)?;
    let remote = remote_config(l)?;
    let pair = !l.comments_path.is_empty() || !l.comments_url.is_empty();
    if pair && format != ListFormat::SdnCsv {
        return Err(ConfigError::invalid(
            "sanctions.comments_url",
            "comments_path and comments_url belong to format = \"sdn_csv\" (OFAC's \
             sdn_comments.csv)",
        ));
    }
    if format == ListFormat::SdnCsv && remote.is_some() && l.comments_url.is_empty() {
        // Remarks cut at 1,000 characters continue in sdn_comments.csv: without it an address
        // straddling the cut is missed.
        return Err(ConfigError::invalid(
            "sanctions.comments_url",
            "a fetched sdn_csv list needs its sdn_comments.csv too (OFAC: \
             https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN_COMMENTS.CSV), \
             or use sdn_advanced_xml, OFAC's primary format",
        ));
    }
    if l.path.is_empty() && remote.is_none() {
        return Err(ConfigError::invalid(
            "sanctions.path",
            "must name the list file (or set url to have the gateway fetch it)",
        ));
    }
    let max_age = Duration::from_secs(l.max_age_hours.saturating_mul(3600));
    let source = match &remote {
        Some(r) => shown_url(&r.url),
        None => l.path.clone(),
    };
    let mut spec = ListSpec::new(&l.id, source, category, action, format, max_age)
        .map_err(|e| ConfigError::invalid("sanctions", e.to_string()))?;
    if !l.jurisdiction.is_empty() {
        let jurisdiction = signgate_policy::sanctions::Jurisdiction::new(&l.jurisdiction)
            .map_err(|e| ConfigError::invalid("sanctions.jurisdiction", e.to_string()))?;
        spec = spec.with_jurisdiction(jurisdiction);
    }
    let path = if l.path.is_empty() {
        data_dir.join("lists").join(spec.id.as_str())
    } else {
        PathBuf::from(&l.path)
    };
    let comments_path = match (l.comments_path.is_empty(), &remote) {
        (false, _) => Some(PathBuf::from(&l.comments_path)),
        (true, Some(r)) if r.comments_url.is_some() => {
            let mut name = path.as_os_str().to_owned();
            name.push(".comments");
            Some(PathBuf::from(name))
        }
        (true, _) => None,
    };
    Ok(SanctionsListConfig {
        spec,
        path,
        comments_path,
        remote,
    })
}

/// A URL as reasons and health show it: without query (signed URLs carry credentials there).
fn shown_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

fn pipeline_sources(
    raw: &RawConfig,
    data_dir: &std::path::Path,
) -> Result<PipelineSources, ConfigError> {
    let p = &raw.pipeline;
    if p.demo {
        return Ok(PipelineSources::Demo);
    }
    let needed = |key: &'static str, v: &str| {
        if v.is_empty() {
            Err(ConfigError::invalid(
                key,
                "required when pipeline.demo = false (a file path)",
            ))
        } else {
            Ok(PathBuf::from(v))
        }
    };
    let mut lists = Vec::new();
    let mut oracles = Vec::new();
    for l in &raw.sanctions {
        match l.kind.as_str() {
            "list" => lists.push(list_config(l, data_dir)?),
            "chainalysis_oracle" => oracles.push(oracle_config(l)?),
            other => {
                return Err(ConfigError::invalid(
                    "sanctions.kind",
                    format!("{other:?}: use list or chainalysis_oracle"),
                ));
            }
        }
    }
    if lists.is_empty() {
        return Err(ConfigError::invalid(
            "sanctions",
            "at least one [[sanctions]] list is required when pipeline.demo = false; \
             signgate does not run unscreened",
        ));
    }
    let state = match (p.state_snapshot.is_empty(), raw.chains.is_empty()) {
        (true, true) => {
            return Err(ConfigError::invalid(
                "chains",
                "at least one [[chains]] table (or pipeline.state_snapshot, for offline use) is \
                 required when pipeline.demo = false",
            ));
        }
        (false, false) => {
            return Err(ConfigError::invalid(
                "pipeline.state_snapshot",
                "is set together with [[chains]]: decide either on live chains or on a \
                 snapshot, never on both",
            ));
        }
        (false, true) => StateConfig::Snapshot(PathBuf::from(&p.state_snapshot)),
        (true, false) => StateConfig::Chains(chains(&raw.chains)?),
    };
    Ok(PipelineSources::Files {
        state,
        policy: needed("pipeline.policy", &p.policy)?,
        lists,
        oracles,
    })
}

/// A `[[sanctions]]` table of `kind = "chainalysis_oracle"`.
fn oracle_config(l: &super::RawSanctionsList) -> Result<OracleConfig, ConfigError> {
    use signgate_policy::sanctions::{Jurisdiction, ListId};
    for (key, set) in [
        ("sanctions.path", !l.path.is_empty()),
        ("sanctions.url", !l.url.is_empty()),
        ("sanctions.format", !l.format.is_empty()),
        ("sanctions.max_age_hours", l.max_age_hours != 0),
    ] {
        if set {
            return Err(ConfigError::invalid(
                key,
                "does not apply to kind = \"chainalysis_oracle\" (it answers live; a timeout or \
                 an error is \"cannot screen\")",
            ));
        }
    }
    let id = ListId::new(&l.id).map_err(|e| ConfigError::invalid("sanctions.id", e.to_string()))?;
    let endpoint = signgate_chain::EndpointUrl::parse(&l.rpc_url)
        .map_err(|e| ConfigError::invalid("sanctions.rpc_url", e.to_string()))?;
    let contract = if l.contract.is_empty() {
        CHAINALYSIS_ORACLE
    } else {
        l.contract.parse().map_err(|_| {
            ConfigError::invalid(
                "sanctions.contract",
                format!("{:?} is not an address", l.contract),
            )
        })?
    };
    if l.request_timeout_ms == 0 || l.max_batch == 0 {
        return Err(ConfigError::invalid(
            "sanctions.request_timeout_ms",
            "request_timeout_ms and max_batch must be greater than zero",
        ));
    }
    Ok(OracleConfig {
        id,
        jurisdiction: (!l.jurisdiction.is_empty())
            .then(|| Jurisdiction::new(&l.jurisdiction))
            .transpose()
            .map_err(|e| ConfigError::invalid("sanctions.jurisdiction", e.to_string()))?,
        action: list_action(&l.action)?,
        endpoint,
        contract,
        timeout: Duration::from_millis(l.request_timeout_ms),
        max_batch: usize::try_from(l.max_batch).unwrap_or(usize::MAX),
    })
}

fn list_action(text: &str) -> Result<signgate_policy::sanctions::ListAction, ConfigError> {
    use signgate_policy::sanctions::ListAction;
    match text {
        "deny" => Ok(ListAction::Deny),
        "escalate" => Ok(ListAction::Escalate),
        "flag" => Ok(ListAction::Flag),
        other => Err(ConfigError::invalid(
            "sanctions.action",
            format!("{other:?}: use deny, escalate or flag"),
        )),
    }
}

/// Every `[[chains]]` table, validated.
fn chains(raw: &[super::raw::RawChain]) -> Result<Vec<signgate_chain::ChainSettings>, ConfigError> {
    use signgate_chain::{Addressing, BlockChoice, ChainSettings, EndpointUrl};
    let mut out: Vec<ChainSettings> = Vec::with_capacity(raw.len());
    for c in raw {
        if c.chain_id == 0 {
            return Err(ConfigError::invalid(
                "chains.chain_id",
                "must be greater than 0",
            ));
        }
        if out.iter().any(|o| o.chain_id == c.chain_id) {
            return Err(ConfigError::invalid(
                "chains.chain_id",
                format!("chain {} is configured twice", c.chain_id),
            ));
        }
        if c.endpoints.is_empty() {
            return Err(ConfigError::invalid(
                "chains.endpoints",
                format!("chain {} needs at least one endpoint", c.chain_id),
            ));
        }
        let endpoints = c
            .endpoints
            .iter()
            .map(|e| {
                EndpointUrl::parse(e)
                    .map_err(|err| ConfigError::invalid("chains.endpoints", err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut s = ChainSettings::new(c.chain_id, c.name.clone(), endpoints);
        s.block = match c.block.as_str() {
            "latest" => BlockChoice::Latest {
                confirmations: c.confirmations,
            },
            "safe" => BlockChoice::Safe,
            "finalized" => BlockChoice::Finalized,
            other => {
                return Err(ConfigError::invalid(
                    "chains.block",
                    format!("{other:?}: must be \"latest\", \"safe\" or \"finalized\""),
                ));
            }
        };
        s.addressing = match c.addressing.as_str() {
            "block_hash" => Addressing::BlockHash,
            "block_number" => Addressing::BlockNumber,
            other => {
                return Err(ConfigError::invalid(
                    "chains.addressing",
                    format!("{other:?}: must be \"block_hash\" or \"block_number\""),
                ));
            }
        };
        let n = u64::try_from(s.endpoints.len()).unwrap_or(u64::MAX);
        if c.min_agreeing > n {
            return Err(ConfigError::invalid(
                "chains.min_agreeing",
                format!(
                    "chain {}: {} is more than its {n} endpoints",
                    c.chain_id, c.min_agreeing
                ),
            ));
        }
        if c.min_agreeing > 0 {
            s.min_agreeing = usize::try_from(c.min_agreeing).unwrap_or(usize::MAX);
        }
        for (key, v) in [
            ("chains.request_timeout_ms", c.request_timeout_ms),
            ("chains.max_requests", c.max_requests),
            ("chains.poll_interval_ms", c.poll_interval_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        s.request_timeout = Duration::from_millis(c.request_timeout_ms);
        s.max_requests = c.max_requests;
        s.poll_interval = Duration::from_millis(c.poll_interval_ms);
        out.push(s);
    }
    Ok(out)
}
