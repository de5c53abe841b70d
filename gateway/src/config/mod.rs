//! Configuration: the embedded default, an optional TOML file and `SIGNGATE_*` environment
//! variables, merged by the `config` crate into a [`RawConfig`] (unknown keys refused) and
//! converted once into the typed [`GatewayConfig`] the rest of the gateway uses.
//!
//! Nothing else in signgate reads the environment: the caller hands the variables in, so tests
//! pass a map instead of mutating the process environment.

mod client_name;
mod raw;
mod typed;

use std::path::Path;

use config::{Config, Environment, File, FileFormat};

pub use client_name::ClientName;
pub use raw::{
    RawAlerts, RawAudit, RawChain, RawConfig, RawConsole, RawKeys, RawMetrics, RawPipeline,
    RawPostgres, RawSanctionsList, RawServer, RawSigner, RawStore, RawTls, RawWebhook,
};
pub use typed::{
    AccessLists, AuditSettings, CHAINALYSIS_ORACLE, ConsoleSite, ConsoleUrl, GatewayConfig, Limits,
    OracleConfig, PipelineSources, PostgresSettings, RemoteSource, SanctionsListConfig,
    SignerEndpoint, StateConfig, StoreBackend, TlsFiles, Transport, WebhookSettings,
};

/// The embedded default configuration, also printed by `signgate` as a starting point.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of the environment variables read: `SIGNGATE_SERVER__LISTEN` sets `server.listen`.
pub const ENV_PREFIX: &str = "SIGNGATE";

/// Prefix of the variables that belong to the client commands (`signgate status`, `admin` …,
/// see [`crate::cli::connection`]), not to the server: an operator's shell may hold them when
/// it starts `signgate serve`, so they are skipped rather than refused as unknown keys.
pub const CLIENT_ENV_PREFIX: &str = "SIGNGATE_CLIENT_";

/// Why a configuration could not be loaded. Every variant names the key or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or merged, or a value has the wrong type or an unknown key
    /// (the `config` crate's message names the key and its origin).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value has the right type but is not acceptable.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// The dotted key, for example `server.listen`.
        key: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            reason: reason.into(),
        }
    }
}

/// Loads the raw layers without validating values.
///
/// `file`, if given, must exist. `env` is the process environment (or a test's map); only
/// variables starting with `SIGNGATE_` are considered and each must name a known key.
pub fn load_raw(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<RawConfig, ConfigError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
    if let Some(path) = file {
        builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
    }
    merge(builder, env)
}

/// [`load_raw`] with the operator's file given as its text: the same layers and the same
/// checks, without reading a file (the configuration fuzz target, tests).
pub fn load_raw_text(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<RawConfig, ConfigError> {
    let builder = Config::builder()
        .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
        .add_source(File::from_str(text, FileFormat::Toml));
    merge(builder, env)
}

/// The environment layer over `builder`'s files, deserialised with unknown keys refused.
fn merge(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<RawConfig, ConfigError> {
    let vars: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("{ENV_PREFIX}_")) && !k.starts_with(CLIENT_ENV_PREFIX)
        })
        .collect();
    let merged = builder
        .add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("tls.gateway_clients")
                .with_list_parse_key("tls.admin_clients")
                .with_list_parse_key("audit.checkpoint_hook")
                .with_list_parse_key("audit.replica_keys")
                .try_parsing(true)
                .source(Some(vars)),
        )
        .build()?;
    Ok(merged.try_deserialize::<RawConfig>()?)
}

impl GatewayConfig {
    /// Loads and validates the configuration: embedded default, then `file`, then `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::try_from(load_raw(file, env)?)
    }

    /// [`Self::load`] with the operator's file given as its text.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::try_from(load_raw_text(text, env)?)
    }

    /// The embedded default alone, validated; what `signgate serve` runs with no file and no
    /// environment.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::load(None, std::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use std::{net::SocketAddr, time::Duration};

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedded_default_is_valid_and_loopback() {
        let cfg = GatewayConfig::embedded_default().unwrap();
        assert!(cfg.listen.ip().is_loopback());
        assert!(matches!(cfg.transport, Transport::PlaintextLoopback));
        assert_eq!(cfg.limits.call_timeout, Duration::from_secs(10));
        assert_eq!(cfg.store_path(), cfg.data_dir.join("signgate.sqlite3"));
        assert_eq!(cfg.release_key, cfg.data_dir.join("release.key"));
    }

    #[test]
    fn client_variables_are_not_server_configuration() {
        let cfg = GatewayConfig::load(
            None,
            env(&[
                ("SIGNGATE_CLIENT_TLS_CERT", "operator.pem"),
                ("SIGNGATE_CLIENT_GATEWAY", "https://gw:50051"),
            ]),
        )
        .unwrap();
        assert!(matches!(cfg.transport, Transport::PlaintextLoopback));
        // Still refused: an unknown server key that merely looks similar.
        assert!(GatewayConfig::load(None, env(&[("SIGNGATE_CLIENTS", "x")])).is_err());
    }

    #[test]
    fn env_overrides_file_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:7000\"\nconcurrency_limit = 8\n",
        )
        .unwrap();
        let cfg = GatewayConfig::load(
            Some(&file),
            env(&[
                ("SIGNGATE_SERVER__LISTEN", "127.0.0.1:7001"),
                ("OTHER_VAR", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:7001".parse::<SocketAddr>().unwrap());
        assert_eq!(cfg.limits.concurrency_limit.get(), 8);
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_SERVER__LISTNE", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn plaintext_on_a_public_address_is_refused() {
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_SERVER__LISTEN", "0.0.0.0:50051")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tls.plaintext_loopback"), "{err}");
    }

    #[test]
    fn mtls_needs_all_three_files() {
        let err = GatewayConfig::load(
            None,
            env(&[
                ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false"),
                ("SIGNGATE_TLS__CERT", "c.pem"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls.key"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_SERVER__LISTEN", "localhost")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_SERVER__CONCURRENCY_LIMIT", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.concurrency_limit"), "{err}");
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_SERVER__CALL_TIMEOUT_MS", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("call_timeout_ms"), "{err}");
    }

    #[test]
    fn metrics_listen_is_typed_optional_and_names_its_key() {
        let cfg = GatewayConfig::embedded_default().unwrap();
        assert_eq!(
            cfg.metrics_listen,
            Some("127.0.0.1:9464".parse::<SocketAddr>().unwrap())
        );
        let off = GatewayConfig::load(None, env(&[("SIGNGATE_METRICS__LISTEN", "")])).unwrap();
        assert_eq!(off.metrics_listen, None);
        let any =
            GatewayConfig::load(None, env(&[("SIGNGATE_METRICS__LISTEN", "127.0.0.1:0")])).unwrap();
        assert_eq!(any.metrics_listen.map(|a| a.port()), Some(0));
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_METRICS__LISTEN", "localhost")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics.listen"), "{err}");
    }

    #[test]
    fn the_console_is_on_for_the_loopback_demo_only_and_refused_off_loopback() {
        let cfg = GatewayConfig::embedded_default().unwrap();
        assert_eq!(
            cfg.console_listen,
            Some("127.0.0.1:8080".parse::<SocketAddr>().unwrap())
        );
        let off = GatewayConfig::load(None, env(&[("SIGNGATE_CONSOLE__LISTEN", "")])).unwrap();
        assert_eq!(off.console_listen, None);
        for bad in ["0.0.0.0:8080", "192.0.2.1:8080", "localhost:8080"] {
            let err = GatewayConfig::load(None, env(&[("SIGNGATE_CONSOLE__LISTEN", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("console.listen"), "{bad}: {err}");
        }
    }

    #[test]
    fn under_mutual_tls_the_console_is_off_until_its_https_url_is_named() {
        let mtls = |more: &[(&str, &str)]| {
            let mut vars = vec![
                ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false"),
                ("SIGNGATE_TLS__CERT", "c.pem"),
                ("SIGNGATE_TLS__KEY", "k.pem"),
                ("SIGNGATE_TLS__CLIENT_CA", "ca.pem"),
                ("SIGNGATE_TLS__GATEWAY_CLIENTS", "ops.example"),
            ];
            vars.extend_from_slice(more);
            GatewayConfig::load(None, env(&vars))
        };
        // The default listen address alone does not turn it on in production.
        let off = mtls(&[]).unwrap();
        assert_eq!((off.console_listen, off.console_url.clone()), (None, None));
        assert!(off.console_origins().is_empty());
        let on = mtls(&[
            ("SIGNGATE_CONSOLE__LISTEN", "0.0.0.0:8443"),
            (
                "SIGNGATE_CONSOLE__URL",
                "https://Console.Treasury.example:8443/",
            ),
        ])
        .unwrap();
        assert_eq!(on.console_listen, Some("0.0.0.0:8443".parse().unwrap()));
        let url = on.console_url.clone().unwrap();
        assert_eq!(url.host, "console.treasury.example");
        assert_eq!(url.hosts(), ["console.treasury.example:8443"]);
        assert_eq!(
            on.console_origins(),
            ["https://console.treasury.example:8443"]
        );
        // Port 443 is what browsers leave out of the origin and the Host header.
        let default_port = mtls(&[("SIGNGATE_CONSOLE__URL", "https://console.example")]).unwrap();
        let url = default_port.console_url.unwrap();
        assert_eq!(url.origin, "https://console.example");
        assert_eq!(url.hosts(), ["console.example", "console.example:443"]);
        for bad in [
            "http://console.example",
            "https://192.0.2.1:8443",
            "https://[::1]:8443",
            "https://console.example/console",
            "https://console.example/?a=b",
            "https://user@console.example",
            "console.example",
        ] {
            let err = mtls(&[("SIGNGATE_CONSOLE__URL", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("console.url"), "{bad}: {err}");
        }
        // The demo's console is http://localhost:PORT: a URL there is a mistake, said so.
        let err = GatewayConfig::load(None, env(&[("SIGNGATE_CONSOLE__URL", "https://c.example")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("console.url") && err.contains("mutual TLS"),
            "{err}"
        );
    }

    #[test]
    fn audit_checkpoints_are_configured_and_validated() {
        let cfg = GatewayConfig::embedded_default().unwrap();
        assert_eq!(cfg.audit.checkpoint_dir, cfg.data_dir.join("checkpoints"));
        assert_eq!(cfg.audit.checkpoint_interval, Duration::from_secs(60));
        assert!(cfg.audit.checkpoint_hook.is_none());
        let custom = GatewayConfig::load(
            None,
            env(&[
                ("SIGNGATE_AUDIT__CHECKPOINT_DIR", "/srv/notes"),
                (
                    "SIGNGATE_AUDIT__CHECKPOINT_HOOK",
                    "/bin/publish,--bucket,audit",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            custom.audit.checkpoint_dir,
            std::path::PathBuf::from("/srv/notes")
        );
        assert_eq!(
            custom.audit.checkpoint_hook.as_deref(),
            Some(&["/bin/publish".to_owned(), "--bucket".into(), "audit".into()][..])
        );
        assert_ne!(custom.effective_sha256, cfg.effective_sha256);
        let err = GatewayConfig::load(
            None,
            env(&[("SIGNGATE_AUDIT__CHECKPOINT_INTERVAL_SECS", "0")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("audit.checkpoint_interval_secs"), "{err}");
    }

    /// A production configuration (`pipeline.demo = false`) with its data in `dir/data`.
    fn production(dir: &Path, extra: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
        let file = dir.join("prod.toml");
        std::fs::write(
            &file,
            "[pipeline]\ndemo = false\nstate_snapshot = \"/etc/signgate/state.json\"\n\
             policy = \"/etc/signgate/policy.toml\"\n\n[[sanctions]]\nid = \"ofac-sdn\"\n\
             path = \"/var/lib/signgate/sdn.csv\"\nformat = \"sdn_csv\"\n\
             category = \"sanctions\"\naction = \"deny\"\nmax_age_hours = 48\n",
        )
        .unwrap();
        let data = dir.join("data").to_string_lossy().into_owned();
        let mut vars = env(&[("SIGNGATE_STORE__DATA_DIR", data.as_str())]);
        vars.extend(env(extra));
        GatewayConfig::load(Some(&file), vars)
    }

    /// The README's block for OFAC's SDN_ADVANCED.XML, fetched by the gateway.
    const OFAC_FETCHED: &str = "[[sanctions]]\nid = \"ofac-sdn\"\n\
        url = \"https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN_ADVANCED.XML\"\n\
        format = \"sdn_advanced_xml\"\njurisdiction = \"US-OFAC\"\nmax_age_hours = 48\n";

    fn fetched(dir: &Path, list: &str) -> Result<GatewayConfig, ConfigError> {
        let file = dir.join("fetched.toml");
        std::fs::write(
            &file,
            format!(
                "[pipeline]\ndemo = false\nstate_snapshot = \"/etc/signgate/state.json\"\n\
                 policy = \"/etc/signgate/policy.toml\"\n\n[audit]\n\
                 checkpoint_dir = \"/var/lib/witness\"\ncheckpoint_interval_secs = 60\n\
                 checkpoint_hook = []\n\n{list}"
            ),
        )
        .unwrap();
        let data = dir.join("data").to_string_lossy().into_owned();
        GatewayConfig::load(
            Some(&file),
            env(&[("SIGNGATE_STORE__DATA_DIR", data.as_str())]),
        )
    }

    #[test]
    fn a_list_with_a_url_is_fetched_its_copy_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = fetched(dir.path(), OFAC_FETCHED).unwrap();
        let PipelineSources::Files { lists, .. } = &cfg.sources else {
            panic!("not a production configuration")
        };
        let list = &lists[0];
        let remote = list.remote.as_ref().unwrap();
        assert_eq!(
            remote.url.host_str(),
            Some("sanctionslistservice.ofac.treas.gov")
        );
        assert_eq!(remote.poll_interval, Duration::from_secs(300));
        assert_eq!(remote.max_bytes, 512 * 1024 * 1024);
        assert_eq!(remote.connect_timeout, Duration::from_secs(10));
        assert_eq!(remote.timeout, Duration::from_secs(300));
        assert_eq!(remote.checksum_url, None);
        assert_eq!(list.path, dir.path().join("data/lists/ofac-sdn"));
        assert_eq!(
            list.spec.jurisdiction.as_ref().map(|j| j.as_str()),
            Some("US-OFAC")
        );
        assert!(list.spec.source.starts_with("https://sanctionslistservice"));

        for (bad, key) in [
            (OFAC_FETCHED.replace("https://", "http://"), "sanctions.url"),
            (
                OFAC_FETCHED.replace("sdn_advanced_xml", "sdn_csv"),
                "sanctions.comments_url",
            ),
            (
                format!("{OFAC_FETCHED}comments_url = \"https://example.org/c.csv\"\n"),
                "sanctions.comments_url",
            ),
            (
                format!("{OFAC_FETCHED}poll_interval_secs = 0\n"),
                "sanctions.poll_interval_secs",
            ),
            (
                OFAC_FETCHED.replace("US-OFAC", "US OFAC"),
                "sanctions.jurisdiction",
            ),
            (
                OFAC_FETCHED.replace("url = ", "checksum_url = "),
                "sanctions.url",
            ),
        ] {
            let err = fetched(dir.path(), &bad).unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    /// The fuzz target's entry point is the file loader without the file.
    #[test]
    fn a_configuration_from_text_is_the_same_as_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let from_file = fetched(dir.path(), OFAC_FETCHED).unwrap();
        let text = std::fs::read_to_string(dir.path().join("fetched.toml")).unwrap();
        let data = dir.path().join("data").to_string_lossy().into_owned();
        let vars = env(&[("SIGNGATE_STORE__DATA_DIR", data.as_str())]);
        let from_text = GatewayConfig::from_toml(&text, vars).unwrap();
        assert_eq!(from_text.effective_sha256, from_file.effective_sha256);
        assert_eq!(from_text.data_dir, from_file.data_dir);
        let err = GatewayConfig::from_toml("[server]\nlisten = \"0.0.0.0:1\"\n", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
    }

    /// Every `[[sanctions]]` block of the README loads as written: a newcomer copies one.
    #[test]
    fn the_readme_list_blocks_load_and_the_csv_pair_is_fetched_as_one_list() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .filter_map(|rest| rest.split("```").next())
            .filter(|block| block.contains("[[sanctions]]"))
            .collect();
        assert!(blocks.len() >= 2, "{blocks:?}");
        let dir = tempfile::tempdir().unwrap();
        let first = blocks.first().copied().unwrap_or_default();
        for block in &blocks {
            // An oracle screens beside a list, never alone.
            let config = if block.contains("chainalysis_oracle") {
                format!("{first}\n{block}")
            } else {
                (*block).to_owned()
            };
            fetched(dir.path(), &config).unwrap_or_else(|e| panic!("{block}: {e}"));
        }
        let csv = blocks
            .iter()
            .find(|b| b.contains("sdn_csv"))
            .expect("the README shows the CSV pair");
        let cfg = fetched(dir.path(), csv).unwrap();
        let PipelineSources::Files { lists, .. } = &cfg.sources else {
            panic!("not a production configuration")
        };
        let list = &lists[0];
        let remote = list.remote.as_ref().unwrap();
        assert!(
            remote
                .comments_url
                .as_ref()
                .is_some_and(|u| u.path().ends_with("SDN_COMMENTS.CSV")),
            "{remote:?}"
        );
        assert_eq!(
            list.comments_path.as_deref(),
            Some(
                dir.path()
                    .join("data/lists/ofac-sdn-csv.comments")
                    .as_path()
            )
        );
    }

    #[test]
    fn an_oracle_is_configured_by_kind_with_the_mainnet_contract_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let oracle = "[[sanctions]]\nid = \"chainalysis\"\nkind = \"chainalysis_oracle\"\n\
                      rpc_url = \"https://eth.example/KEY\"\njurisdiction = \"US-OFAC\"\n";
        let cfg = fetched(dir.path(), &format!("{OFAC_FETCHED}\n{oracle}")).unwrap();
        let PipelineSources::Files { lists, oracles, .. } = &cfg.sources else {
            panic!("not a production configuration")
        };
        assert_eq!(lists.len(), 1);
        assert_eq!(oracles.len(), 1);
        assert_eq!(oracles[0].contract, CHAINALYSIS_ORACLE);
        assert_eq!(oracles[0].timeout, Duration::from_millis(3000));
        assert_eq!(oracles[0].max_batch, 100);
        for (bad, key) in [
            (format!("{oracle}format = \"plain\"\n"), "sanctions.format"),
            (
                format!("{oracle}max_age_hours = 1\n"),
                "sanctions.max_age_hours",
            ),
            (
                oracle.replace("https://eth.example/KEY", "http://eth.example"),
                "sanctions.rpc_url",
            ),
            (
                format!("{oracle}contract = \"0x12\"\n"),
                "sanctions.contract",
            ),
            (
                oracle.replace("chainalysis_oracle", "oracle"),
                "sanctions.kind",
            ),
        ] {
            let err = fetched(dir.path(), &format!("{OFAC_FETCHED}\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    /// A production configuration deciding on `chains` (TOML `[[chains]]` tables) instead of a
    /// snapshot, its checkpoints outside the data directory.
    fn live(dir: &Path, chains: &str) -> Result<GatewayConfig, ConfigError> {
        let file = dir.join("live.toml");
        std::fs::write(
            &file,
            format!(
                "[pipeline]\ndemo = false\npolicy = \"/etc/signgate/policy.toml\"\n\n\
                 [audit]\ncheckpoint_dir = \"/var/lib/witness\"\ncheckpoint_interval_secs = 60\n\
                 checkpoint_hook = []\n\n[[sanctions]]\nid = \"ofac-sdn\"\n\
                 path = \"/var/lib/signgate/sdn.csv\"\nformat = \"sdn_csv\"\n\
                 category = \"sanctions\"\naction = \"deny\"\nmax_age_hours = 48\n\n{chains}"
            ),
        )
        .unwrap();
        let data = dir.join("data").to_string_lossy().into_owned();
        GatewayConfig::load(
            Some(&file),
            env(&[("SIGNGATE_STORE__DATA_DIR", data.as_str())]),
        )
    }

    #[test]
    fn chains_are_read_with_their_defaults_and_refused_when_unsafe_or_inconsistent() {
        let dir = tempfile::tempdir().unwrap();
        let two = "[[chains]]\nchain_id = 1\nname = \"ethereum\"\n\
                   endpoints = [\"https://a.example/KEY\", \"https://b.example/KEY\"]\n\n\
                   [[chains]]\nchain_id = 8453\nname = \"base\"\n\
                   endpoints = [\"https://c.example\"]\nblock = \"finalized\"\n\
                   min_agreeing = 1\nrequest_timeout_ms = 900\n";
        let cfg = live(dir.path(), two).unwrap();
        let PipelineSources::Files {
            state: StateConfig::Chains(chains),
            ..
        } = &cfg.sources
        else {
            panic!("{:?}", cfg.sources)
        };
        assert_eq!(chains.len(), 2);
        assert_eq!(chains[0].min_agreeing, 2, "all endpoints by default");
        assert_eq!(
            chains[0].block,
            signgate_chain::BlockChoice::Latest { confirmations: 2 }
        );
        assert_eq!(chains[0].endpoints[0].label(), "https://a.example");
        assert_eq!(chains[1].block, signgate_chain::BlockChoice::Finalized);
        assert_eq!(chains[1].request_timeout, Duration::from_millis(900));

        for (bad, key) in [
            ("", "chains"),
            (
                "[[chains]]\nchain_id = 1\nname = \"x\"\nendpoints = [\"http://rpc.example\"]\n",
                "plain http",
            ),
            (
                "[[chains]]\nchain_id = 1\nname = \"x\"\nendpoints = []\n",
                "chains.endpoints",
            ),
            (
                "[[chains]]\nchain_id = 1\nname = \"x\"\nendpoints = [\"https://a\"]\nmin_agreeing = 2\n",
                "chains.min_agreeing",
            ),
            (
                "[[chains]]\nchain_id = 1\nname = \"x\"\nendpoints = [\"https://a\"]\n\n\
                 [[chains]]\nchain_id = 1\nname = \"y\"\nendpoints = [\"https://b\"]\n",
                "configured twice",
            ),
            (
                "[[chains]]\nchain_id = 1\nname = \"x\"\nendpoints = [\"https://a\"]\nblock = \"pending\"\n",
                "chains.block",
            ),
            (
                "[[chains]]\nchain_id = 0\nname = \"x\"\nendpoints = [\"https://a\"]\n",
                "chains.chain_id",
            ),
        ] {
            let err = live(dir.path(), bad).unwrap_err().to_string();
            assert!(err.contains(key), "{key:?} not in {err}");
        }
        // A snapshot and chains together: which one decides would be unclear.
        let both = format!("{two}\n");
        let file = dir.path().join("both.toml");
        let text = std::fs::read_to_string(dir.path().join("live.toml")).unwrap();
        std::fs::write(
            &file,
            text.replace(
                "demo = false\n",
                "demo = false\nstate_snapshot = \"/etc/signgate/state.json\"\n",
            ) + &both,
        )
        .unwrap();
        let data = dir.path().join("data").to_string_lossy().into_owned();
        let err = GatewayConfig::load(
            Some(&file),
            env(&[("SIGNGATE_STORE__DATA_DIR", data.as_str())]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("never on both"), "{err}");
    }

    #[test]
    fn production_refuses_checkpoints_only_inside_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        // The default: `<data_dir>/checkpoints`, no hook.
        let err = production(dir.path(), &[]).unwrap_err().to_string();
        for key in [
            "audit.checkpoint_dir",
            "audit.checkpoint_hook",
            "store.data_dir",
        ] {
            assert!(err.contains(key), "{key} missing from: {err}");
        }
        // Spelled differently, still inside (`..` and `.` do not hide it).
        let sneaky = dir.path().join("elsewhere/../data/./notes");
        let err = production(
            dir.path(),
            &[("SIGNGATE_AUDIT__CHECKPOINT_DIR", &sneaky.to_string_lossy())],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("audit.checkpoint_dir"), "{err}");

        // A hook sends each note off the host: enough.
        let cfg = production(
            dir.path(),
            &[("SIGNGATE_AUDIT__CHECKPOINT_HOOK", "/usr/local/bin/publish")],
        )
        .unwrap();
        assert!(!cfg.checkpoints_unwitnessed());
        // A directory outside the data directory: enough.
        let outside = dir.path().join("witness");
        let cfg = production(
            dir.path(),
            &[("SIGNGATE_AUDIT__CHECKPOINT_DIR", &outside.to_string_lossy())],
        )
        .unwrap();
        assert!(!cfg.checkpoints_unwitnessed());
        // A sibling whose name merely starts like the data directory is outside it.
        let sibling = dir.path().join("data-witness");
        assert!(
            production(
                dir.path(),
                &[("SIGNGATE_AUDIT__CHECKPOINT_DIR", &sibling.to_string_lossy())],
            )
            .is_ok()
        );
    }

    #[test]
    fn the_demo_may_keep_its_checkpoints_in_the_data_directory() {
        let cfg = GatewayConfig::embedded_default().unwrap();
        assert!(matches!(cfg.sources, PipelineSources::Demo));
        assert!(cfg.checkpoints_unwitnessed());
    }

    #[test]
    fn client_lists_parse_from_env() {
        let cfg = GatewayConfig::load(
            None,
            env(&[("SIGNGATE_TLS__ADMIN_CLIENTS", "admin.example,root.example")]),
        )
        .unwrap();
        assert_eq!(cfg.access.admin, vec!["admin.example", "root.example"]);
    }

    #[test]
    fn client_lists_take_spiffe_ids() {
        let cfg = GatewayConfig::load(
            None,
            env(&[(
                "SIGNGATE_TLS__GATEWAY_CLIENTS",
                "spiffe://corp/ops/alice,ops.corp",
            )]),
        )
        .unwrap();
        assert_eq!(
            cfg.access.gateway,
            vec![
                ClientName::Spiffe("spiffe://corp/ops/alice".into()),
                ClientName::Dns("ops.corp".into())
            ]
        );
    }

    #[test]
    fn a_wildcard_client_name_is_refused_under_its_key() {
        for (var, key) in [
            ("SIGNGATE_TLS__ADMIN_CLIENTS", "tls.admin_clients"),
            ("SIGNGATE_TLS__GATEWAY_CLIENTS", "tls.gateway_clients"),
        ] {
            let err = GatewayConfig::load(None, env(&[(var, "admin.corp,*.corp")]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains("\"*.corp\""), "{err}");
            assert!(err.contains("wildcard names are not supported"), "{err}");
        }
    }
}
