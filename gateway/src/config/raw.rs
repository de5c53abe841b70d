//! The configuration exactly as written: every layer (embedded default, file, environment)
//! merged, before any value is interpreted. Unknown keys are refused here, so a typo never
//! silently falls back to a default.

use serde::{Deserialize, Serialize};

/// The merged configuration before validation. Field names are the TOML keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`.
    pub server: RawServer,
    /// `[metrics]`.
    pub metrics: RawMetrics,
    /// `[tls]`.
    pub tls: RawTls,
    /// `[store]`.
    pub store: RawStore,
    /// `[keys]`.
    pub keys: RawKeys,
    /// `[[signers]]`.
    #[serde(default)]
    pub signers: Vec<RawSigner>,
    /// `[pipeline]`.
    pub pipeline: RawPipeline,
    /// `[[sanctions]]`.
    #[serde(default)]
    pub sanctions: Vec<RawSanctionsList>,
    /// `[[chains]]`.
    #[serde(default)]
    pub chains: Vec<RawChain>,
    /// `[audit]`.
    pub audit: RawAudit,
    /// `[display]`.
    #[serde(default)]
    pub display: RawDisplay,
    /// `[console]`: the web console for approvers and auditors.
    #[serde(default)]
    pub console: RawConsole,
    /// `[alerts]`: where anomaly alerts go besides the audit log, the metrics, the log and
    /// `Admin.WatchAlerts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<RawAlerts>,
}

/// `[alerts]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// `[alerts.webhook]`: an HTTP endpoint that receives every alert as signed JSON.
    #[serde(default)]
    pub webhook: Option<RawWebhook>,
}

/// `[alerts.webhook]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// `http://` or `https://` URL each alert is POSTed to.
    pub url: String,
    /// File holding the HMAC-SHA256 key the body is signed with (its bytes, trailing newline
    /// removed).
    pub secret_file: String,
    /// Deadline of one delivery attempt, in milliseconds.
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
    /// Alerts waiting for delivery at most; beyond it the newest is dropped, logged and counted.
    #[serde(default = "default_webhook_queue_limit")]
    pub queue_limit: u64,
}

const fn default_webhook_timeout_ms() -> u64 {
    5_000
}

const fn default_webhook_queue_limit() -> u64 {
    10_000
}

/// `[display]`: how proposals are shown to approvers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisplay {
    /// A folder of ERC-7730 clear-signing descriptors (`*.json`) read at start, beside the
    /// bundled ones. Empty: only the bundled ones.
    #[serde(default)]
    pub descriptors_dir: String,
}

/// `[console]`: the web console.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    /// Address the console listens on: plain HTTP on loopback in the plaintext demo; HTTPS
    /// with client certificates under mutual TLS. Empty: no console.
    #[serde(default)]
    pub listen: String,
    /// Under mutual TLS, the console's URL as browsers open it (`https://name:port`); empty:
    /// no console in production.
    #[serde(default)]
    pub url: String,
}

/// `[audit]`: where signed checkpoints of the audit log go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Directory each signed checkpoint note is written to, for an auditor's collector to copy out
    /// of the operator's reach. Empty: `<data_dir>/checkpoints`.
    pub checkpoint_dir: String,
    /// Seconds between checkpoints; one more is written at shutdown. Zero is refused.
    pub checkpoint_interval_secs: u64,
    /// A program and its arguments that receives each note on stdin. A release waits for its
    /// checkpoint's delivery and is refused (no signatures) on a non-zero exit; a periodic
    /// checkpoint's failure is logged and retried at the next. Empty: no hook (refused with
    /// `pipeline.demo = false` when `checkpoint_dir` is inside the data directory).
    pub checkpoint_hook: Vec<String>,
    /// Audit public keys (hex) of every replica sharing the log.
    pub replica_keys: Vec<String>,
}

/// `[server]`: listener and limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address the gRPC server listens on, `IP:port`.
    pub listen: String,
    /// Largest encoded request or response message, in bytes.
    pub max_message_bytes: u64,
    /// Server-side deadline of every unary call, in milliseconds, applied even when the client sets
    /// none.
    pub call_timeout_ms: u64,
    /// Requests in service at once; more are shed with `UNAVAILABLE`, not queued.
    pub concurrency_limit: u64,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u64,
    /// Deadline of one EVM simulation, in milliseconds; a timeout is a deny reason.
    pub simulation_timeout_ms: u64,
    /// Largest Safe transaction calldata accepted, in bytes; must be smaller than
    /// `max_message_bytes`.
    pub max_calldata_bytes: u64,
    /// Most proposals one `ListProposals` page returns.
    pub max_page_size: u64,
    /// How long a signed submission or approval stays valid after its `issued_at`, in seconds;
    /// bounds the replay window.
    pub max_request_age_secs: u64,
    /// Proxies (exact IP addresses) whose `x-forwarded-for` header names the client's address
    /// for the anomaly rules; from any other peer the header is ignored. Default none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of the Prometheus endpoint (plain HTTP, `GET /metrics`); port 0 picks a free port.
    /// Empty: no metrics endpoint.
    pub listen: String,
}

/// `[tls]`: mutual TLS or the loopback-only plaintext demo mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Plaintext HTTP/2 instead of mutual TLS, refused unless `server.listen` is a loopback
    /// address. The demo mode.
    pub plaintext_loopback: bool,
    /// Server certificate chain (PEM file); required unless `plaintext_loopback`.
    pub cert: String,
    /// Server private key (PEM file); required unless `plaintext_loopback`.
    pub key: String,
    /// CA that issues client certificates (PEM file); clients without a certificate from it are
    /// refused. Required unless `plaintext_loopback`.
    pub client_ca: String,
    /// Exact DNS names or SPIFFE IDs (subjectAltName) of client certificates allowed to call
    /// the Gateway service; see [`super::ClientName`]. A name containing `*` is refused.
    pub gateway_clients: Vec<String>,
    /// The same, for the Admin service (and Gateway).
    pub admin_clients: Vec<String>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// Directory of the SQLite store and, by default, the gateway's keys and checkpoints. Must not
    /// be empty.
    pub data_dir: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// `[store.postgres]`.
    pub postgres: RawPostgres,
}

/// `[store.postgres]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// libpq URL of the database; required with `backend = "postgres"`.
    pub url: String,
    /// Connections per replica; at least 1.
    pub pool_size: usize,
    /// Statement, lock and connection timeout in milliseconds; at least 1.
    pub statement_timeout_ms: u64,
    /// PEM CA of the database's certificate; empty: no TLS.
    pub ca: String,
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// Ed25519 key file that signs audit checkpoints. Empty: `<data_dir>/audit.key`.
    pub audit_key: String,
    /// Ed25519 key file that signs release tickets for signer backends. Empty:
    /// `<data_dir>/release.key`.
    pub release_key: String,
    /// How long a release ticket stays valid, in seconds. Zero is refused.
    pub ticket_ttl_secs: u64,
}

/// One `[[signers]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigner {
    /// URL of the signer backend `RequestSignatures` asks; `http://` (loopback only) or `https://`.
    pub endpoint: String,
}

/// `[pipeline]`: what decisions are made from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Run on the bundled demo assets, written to `<data_dir>/demo/` at every start; the other keys
    /// here and every `[[sanctions]]` list are then ignored.
    pub demo: bool,
    /// JSON state snapshot every simulation runs on, for offline use; unless `demo`, exactly one
    /// of this and `[[chains]]` is required.
    pub state_snapshot: String,
    /// The policy file (TOML: wallets, operators and their keys, tiers); required unless `demo`.
    pub policy: String,
}

/// One `[[chains]]` table: a chain decided on live, through its JSON-RPC endpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawChain {
    /// The EIP-155 chain id; every endpoint must report it.
    pub chain_id: u64,
    /// A name for logs, health and metrics (`ethereum`, `base`).
    pub name: String,
    /// JSON-RPC endpoints (`https://`, or `http://` to a loopback address), ideally of different
    /// providers.
    pub endpoints: Vec<String>,
    /// Which block to decide on: `latest` (less `confirmations`), `safe` or `finalized`.
    #[serde(default = "default_block")]
    pub block: String,
    /// With `block = "latest"`: blocks below the head to decide on.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// Endpoints that must answer and agree; 0 (the default): all of them.
    #[serde(default)]
    pub min_agreeing: u64,
    /// Timeout of one request (a batch), in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Most JSON-RPC calls one decision may make on this chain.
    #[serde(default = "default_max_requests")]
    pub max_requests: u64,
    /// How often the head and every endpoint's chain id are checked, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How reads name the pinned block: `block_hash` (EIP-1898, the default) or `block_number`
    /// for nodes without EIP-1898.
    #[serde(default = "default_addressing")]
    pub addressing: String,
}

fn default_block() -> String {
    "latest".into()
}
fn default_confirmations() -> u64 {
    2
}
fn default_request_timeout_ms() -> u64 {
    3_000
}
fn default_max_requests() -> u64 {
    2_000
}
fn default_poll_interval_ms() -> u64 {
    2_000
}
fn default_addressing() -> String {
    "block_hash".into()
}

/// One `[[sanctions]]` list.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSanctionsList {
    /// The list's short name (`ofac-sdn`), used in deny reasons and audit records; 1–64 characters
    /// of `a-z 0-9 - _ .`.
    pub id: String,
    /// `list` (the default): a list file, read from `path` or fetched from `url`.
    /// `chainalysis_oracle`: no file; every address a proposal touches is checked with
    /// `isSanctioned(address)` on the sanctions oracle contract through `rpc_url`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// With `chainalysis_oracle`: the JSON-RPC endpoint asked (`https://`, or `http://` to a
    /// loopback address).
    #[serde(default)]
    pub rpc_url: String,
    /// With `chainalysis_oracle`: the oracle contract. Empty: Chainalysis's on Ethereum mainnet,
    /// `0x40C57923924B5c5c5455c48D93317139ADDaC8fb`.
    #[serde(default)]
    pub contract: String,
    /// With `chainalysis_oracle`: milliseconds one batch of `isSanctioned` calls may take; slower
    /// is "cannot screen" (every proposal denied).
    #[serde(default = "default_oracle_timeout_ms")]
    pub request_timeout_ms: u64,
    /// With `chainalysis_oracle`: most addresses asked in one JSON-RPC batch.
    #[serde(default = "default_oracle_batch")]
    pub max_batch: u64,
    /// The list file. With `url`: where the last good copy is kept (empty: `<data_dir>/lists/<id>`).
    #[serde(default)]
    pub path: String,
    /// The publisher's `https` URL: the gateway fetches the list itself every
    /// `poll_interval_secs`. Empty: the file at `path` is read (something else writes it).
    #[serde(default)]
    pub url: String,
    /// Format `sdn_csv` only: OFAC's `sdn_comments.csv`, where Remarks cut at 1,000 characters
    /// in `sdn.csv` continue (addresses can straddle the cut). With `url`: where its last good
    /// copy is kept (empty: `<path>.comments`). Without: the file something else writes.
    #[serde(default)]
    pub comments_path: String,
    /// Format `sdn_csv` with `url` only: the `https` URL of `sdn_comments.csv`, fetched with
    /// `sdn.csv` as one list (either file changing is a new version).
    #[serde(default)]
    pub comments_url: String,
    /// With `url`: an `https` URL of the publisher's SHA-256 of the list; a copy that does not
    /// match is refused. Empty: no checksum.
    #[serde(default)]
    pub checksum_url: String,
    /// With `url`: seconds between two polls (conditional requests: an unchanged list costs a
    /// `304`).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// With `url`: the largest list accepted, in MiB; a larger body is refused while it
    /// downloads.
    #[serde(default = "default_max_mib")]
    pub max_mib: u64,
    /// With `url`: seconds to establish the connection (TCP and TLS).
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// With `url`: seconds one whole fetch (redirects and body included) may take.
    #[serde(default = "default_fetch_timeout_secs")]
    pub fetch_timeout_secs: u64,
    /// With `url`: a PEM file of the only certificate authorities trusted for this list's URLs
    /// (a private mirror). Empty: the operating system's roots.
    #[serde(default)]
    pub tls_roots: String,
    /// Which parser reads the file: `plain`, `sdn_csv` or `sdn_advanced_xml` (not for an oracle).
    #[serde(default)]
    pub format: String,
    /// Whose list it is (`US-OFAC`, `UN`, `EU`, `UK-OFSI`, `internal` …), shown with every hit
    /// and reason: `ofac-sdn (US-OFAC)`. Empty: the list id alone.
    #[serde(default)]
    pub jurisdiction: String,
    #[serde(default = "default_category")]
    /// What kind of list it is: `sanctions` (the default), `law_enforcement` or `internal`.
    pub category: String,
    #[serde(default = "default_action")]
    /// What a hit asks policy to do: `deny` (the default), `escalate` (require the higher approval
    /// tier) or `flag` (record the hit only).
    pub action: String,
    /// How long a loaded copy may be used, in hours; older than this, screening cannot answer and
    /// every proposal is denied. Zero is refused (not for an oracle: it answers live).
    #[serde(default)]
    pub max_age_hours: u64,
}

fn default_kind() -> String {
    "list".to_owned()
}
fn default_oracle_timeout_ms() -> u64 {
    3_000
}
fn default_oracle_batch() -> u64 {
    100
}
fn default_poll_interval_secs() -> u64 {
    300
}
fn default_max_mib() -> u64 {
    512
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_fetch_timeout_secs() -> u64 {
    300
}

fn default_category() -> String {
    "sanctions".to_owned()
}

fn default_action() -> String {
    "deny".to_owned()
}
