//! A chain as the configuration describes it. Parsing the TOML is the gateway's job; this is the
//! typed result, checked once.

use std::{fmt, time::Duration};

use reqwest::Url;

/// Which block decisions are taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockChoice {
    /// The head less this many blocks: a block that deep is unlikely to be reorganised away.
    Latest {
        /// Blocks below the head (0: the head itself).
        confirmations: u64,
    },
    /// The node's `safe` block (post-merge Ethereum: justified).
    Safe,
    /// The node's `finalized` block.
    Finalized,
}

impl BlockChoice {
    /// The JSON-RPC block tag the head is asked for with.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::Latest { .. } => "latest",
            Self::Safe => "safe",
            Self::Finalized => "finalized",
        }
    }
}

impl fmt::Display for BlockChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest { confirmations: 0 } => f.write_str("latest"),
            Self::Latest { confirmations } => write!(f, "latest - {confirmations}"),
            Self::Safe => f.write_str("safe"),
            Self::Finalized => f.write_str("finalized"),
        }
    }
}

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Malformed(String),
    /// Plain `http` to a host that is not loopback: anyone on the path could rewrite the state
    /// the gateway decides on.
    #[error("{0}: plain http is only allowed to a loopback address; use https")]
    PlaintextRemote(String),
    /// Neither `http` nor `https`.
    #[error("{0}: the scheme must be https (or http to a loopback address)")]
    Scheme(String),
}

/// An endpoint's URL, with a label safe to log: providers put API keys in paths and queries, so
/// only the scheme, host and port are ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: Url,
    label: String,
}

impl EndpointUrl {
    /// Parses and checks `text`: `https`, or `http` to a loopback host.
    pub fn parse(text: &str) -> Result<Self, EndpointUrlError> {
        let url = Url::parse(text).map_err(|e| EndpointUrlError::Malformed(e.to_string()))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let label = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = host == "localhost"
                    || host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(EndpointUrlError::PlaintextRemote(label));
                }
            }
            _ => return Err(EndpointUrlError::Scheme(label)),
        }
        Ok(Self { url, label })
    }

    /// The full URL (may hold a secret: never log it).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Scheme, host and port only.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// How every state read names the pinned block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// EIP-1898 `{"blockHash": …, "requireCanonical": true}`: a read of a block that was
    /// reorganised away fails instead of answering from another state.
    #[default]
    BlockHash,
    /// The block number, for nodes without EIP-1898 (ganache). Every batch also asks for the
    /// block's header, so a reorg that replaced the pinned block is still detected.
    BlockNumber,
}

/// One chain: its id, its endpoints and how decisions read it.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// The EIP-155 chain id every endpoint must report.
    pub chain_id: u64,
    /// A name for logs, metrics and health (`ethereum`, `base`).
    pub name: String,
    /// The JSON-RPC endpoints, ideally of different providers. The first answering one serves
    /// the full state reads; all of them serve the cross-checked ones.
    pub endpoints: Vec<EndpointUrl>,
    /// Which block to decide on.
    pub block: BlockChoice,
    /// How reads name the pinned block.
    pub addressing: Addressing,
    /// Endpoints that must answer and agree for a decision (at least 1, at most the endpoints).
    /// Any two answers that disagree deny, whatever this says.
    pub min_agreeing: usize,
    /// Per request (one batch) timeout.
    pub request_timeout: Duration,
    /// Most JSON-RPC calls one decision may make on this chain (all endpoints, all rounds).
    pub max_requests: u64,
    /// How often the head and every endpoint's chain id are checked; also how long decisions
    /// share a pin before a new head is looked for.
    pub poll_interval: Duration,
    /// Largest JSON-RPC answer accepted, in bytes.
    pub max_response_bytes: usize,
}

impl ChainSettings {
    /// Settings with the defaults for everything but the chain id, name and endpoints.
    pub fn new(chain_id: u64, name: impl Into<String>, endpoints: Vec<EndpointUrl>) -> Self {
        let min_agreeing = endpoints.len().max(1);
        Self {
            chain_id,
            name: name.into(),
            endpoints,
            block: BlockChoice::Latest { confirmations: 2 },
            addressing: Addressing::BlockHash,
            min_agreeing,
            request_timeout: Duration::from_secs(3),
            max_requests: 2_000,
            poll_interval: Duration::from_secs(2),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_loopback_only_and_labels_hide_keys() {
        let ok = EndpointUrl::parse("https://eth.example.com/v2/SECRETKEY?x=1").unwrap();
        assert_eq!(ok.label(), "https://eth.example.com");
        assert!(!format!("{ok:?}{ok}").contains("SECRET"));
        assert!(EndpointUrl::parse("http://127.0.0.1:8545").is_ok());
        assert!(EndpointUrl::parse("http://[::1]:8545").is_ok());
        assert!(EndpointUrl::parse("http://localhost:8545").is_ok());
        assert!(matches!(
            EndpointUrl::parse("http://rpc.example.com/KEY"),
            Err(EndpointUrlError::PlaintextRemote(l)) if !l.contains("KEY")
        ));
        assert!(matches!(
            EndpointUrl::parse("ws://127.0.0.1:8546"),
            Err(EndpointUrlError::Scheme(_))
        ));
        assert!(EndpointUrl::parse("not a url").is_err());
    }
}
