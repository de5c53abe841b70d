//! The gateway's configuration as an operator writes it: TOML layered over the embedded
//! default, through `GatewayConfig::from_toml`, the same layers and checks `signgate serve
//! --config FILE` runs (without the environment).
//!
//! Never a panic; a refused file is a `ConfigError`, never a default. What is accepted keeps the
//! rules a configuration must never break: the same text is accepted again with the same
//! effective hash; plaintext only on a loopback address; outside the demo, at least one
//! sanctions list, each with a maximum age, fetched only over `https` with a positive interval,
//! size limit and timeouts, and checkpoints witnessed outside the data directory.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use signgate_gateway::config::{GatewayConfig, PipelineSources, Transport};

/// Larger files are not configurations anyone writes; the parser's cost grows with them only.
const MAX_LEN: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_LEN {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = GatewayConfig::from_toml(text, std::iter::empty()) else {
        return;
    };
    let again = match GatewayConfig::from_toml(text, std::iter::empty()) {
        Ok(c) => c,
        Err(e) => panic!("accepted once, refused the second time: {e}"),
    };
    assert_eq!(config.effective_sha256, again.effective_sha256);
    if matches!(config.transport, Transport::PlaintextLoopback) {
        assert!(
            config.listen.ip().is_loopback(),
            "plaintext on {}",
            config.listen
        );
    }
    if let PipelineSources::Files { lists, .. } = &config.sources {
        assert!(
            !lists.is_empty(),
            "a production configuration without a list"
        );
        assert!(
            !config.checkpoints_unwitnessed(),
            "production checkpoints only inside the data directory"
        );
        for list in lists {
            assert!(list.spec.max_age > Duration::ZERO, "{}", list.spec.id);
            if let Some(remote) = &list.remote {
                assert_eq!(remote.url.scheme(), "https");
                assert!(
                    remote
                        .comments_url
                        .as_ref()
                        .is_none_or(|u| u.scheme() == "https")
                );
                assert!(
                    remote
                        .checksum_url
                        .as_ref()
                        .is_none_or(|u| u.scheme() == "https")
                );
                assert!(remote.poll_interval > Duration::ZERO);
                assert!(remote.max_bytes > 0);
                assert!(remote.connect_timeout > Duration::ZERO);
                assert!(remote.timeout > Duration::ZERO);
            }
        }
    }
});
