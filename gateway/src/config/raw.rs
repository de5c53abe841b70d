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
    /// `[audit]`.
    pub audit: RawAudit,
}

/// `[audit]`: where signed checkpoints of the audit log go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub checkpoint_dir: String,
    pub checkpoint_interval_secs: u64,
    pub checkpoint_hook: Vec<String>,
}

/// `[server]`: listener and limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    pub max_message_bytes: u64,
    pub call_timeout_ms: u64,
    pub concurrency_limit: u64,
    pub max_concurrent_streams: u64,
    pub simulation_timeout_ms: u64,
    pub max_calldata_bytes: u64,
    pub max_page_size: u64,
    pub max_request_age_secs: u64,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: String,
}

/// `[tls]`: mutual TLS or the loopback-only plaintext demo mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub plaintext_loopback: bool,
    pub cert: String,
    pub key: String,
    pub client_ca: String,
    pub gateway_clients: Vec<String>,
    pub admin_clients: Vec<String>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub data_dir: String,
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    pub audit_key: String,
    pub release_key: String,
    pub ticket_ttl_secs: u64,
}

/// One `[[signers]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigner {
    pub endpoint: String,
}

/// `[pipeline]`: what decisions are made from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub demo: bool,
    pub state_snapshot: String,
    pub policy: String,
}

/// One `[[sanctions]]` list.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSanctionsList {
    pub id: String,
    pub path: String,
    pub format: String,
    #[serde(default = "default_category")]
    pub category: String,
    #[serde(default = "default_action")]
    pub action: String,
    pub max_age_hours: u64,
}

fn default_category() -> String {
    "sanctions".to_owned()
}

fn default_action() -> String {
    "deny".to_owned()
}
