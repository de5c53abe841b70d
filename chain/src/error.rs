//! Why a chain could not be read. Every variant ends a decision without a pass: the gateway
//! refuses the call (nothing is approved) and says which endpoint failed and how.

use alloy_primitives::B256;

/// What went wrong with one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No answer within the request timeout.
    #[error("no answer within {timeout_ms} ms")]
    Timeout {
        /// The per-request timeout.
        timeout_ms: u64,
    },
    /// The connection failed or the HTTP status was not 200.
    #[error("transport: {0}")]
    Transport(String),
    /// The answer is larger than the configured limit.
    #[error("answer larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The answer is not the JSON-RPC the request asked for.
    #[error("malformed answer to {method}: {detail}")]
    Malformed {
        /// The method whose answer was unusable (`batch` for the envelope).
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{method} failed: {message} (code {code})")]
    Rpc {
        /// The method.
        method: String,
        /// The JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// The endpoint reports another chain id than the configured one.
    #[error("reports chain id {reported}, not {expected}")]
    WrongChain {
        /// What `eth_chainId` answered.
        reported: u64,
        /// The configured chain id.
        expected: u64,
    },
}

/// One endpoint's answer to a question that was asked of several, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The endpoint (scheme, host and port).
    pub endpoint: String,
    /// What it answered, in words.
    pub value: String,
}

/// Why a chain could not be read for a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The proposal names a chain the configuration does not.
    #[error("chain {chain_id} is not configured; configured chains: {configured}")]
    Unconfigured {
        /// The chain named.
        chain_id: u64,
        /// The configured chain ids, comma-separated.
        configured: String,
    },
    /// Too few endpoints answered (down, slow, wrong chain, malformed): each one's failure.
    #[error(
        "chain {chain_id}: {answered} of {configured} endpoints answered, {min_agreeing} must; {}",
        failures.iter().map(|(e, f)| format!("{e}: {f}")).collect::<Vec<_>>().join("; ")
    )]
    Unavailable {
        /// The chain.
        chain_id: u64,
        /// Endpoints that answered.
        answered: usize,
        /// Endpoints configured.
        configured: usize,
        /// Endpoints that must answer.
        min_agreeing: usize,
        /// Each failed endpoint and why.
        failures: Vec<(String, EndpointError)>,
    },
    /// Two endpoints answered the same question differently: one of them is wrong, and the
    /// gateway cannot tell which.
    #[error(
        "chain {chain_id}: endpoints disagree on {what}: {}",
        answers.iter().map(|a| format!("{} says {}", a.endpoint, a.value)).collect::<Vec<_>>().join("; ")
    )]
    Disagreement {
        /// The chain.
        chain_id: u64,
        /// What was asked (`hash of block 123`, `Safe 0x… owners`).
        what: String,
        /// Every answer given.
        answers: Vec<Answer>,
    },
    /// The endpoint serving the state reads failed during a decision.
    #[error("chain {chain_id}: {endpoint}: {error}")]
    Endpoint {
        /// The chain.
        chain_id: u64,
        /// The endpoint (scheme, host and port).
        endpoint: String,
        /// What failed.
        error: EndpointError,
    },
    /// The pinned block is no longer the chain's block at that height.
    #[error("chain {chain_id}: block {number} was reorganised: pinned {pinned}, now {now}")]
    Reorganised {
        /// The chain.
        chain_id: u64,
        /// The pinned height.
        number: u64,
        /// The pinned hash.
        pinned: B256,
        /// The hash the endpoint now reports at that height.
        now: B256,
    },
    /// The decision needed more JSON-RPC calls than the configured bound.
    #[error("chain {chain_id}: the simulation needed more than {bound} JSON-RPC calls")]
    RequestBound {
        /// The chain.
        chain_id: u64,
        /// `max_requests`.
        bound: u64,
    },
    /// The chain's head is too low for the configured confirmations, or the tag is unknown.
    #[error("chain {chain_id}: {detail}")]
    NoBlock {
        /// The chain.
        chain_id: u64,
        /// What is missing.
        detail: String,
    },
    /// The address is not a Safe this gateway knows how to decide on.
    #[error("chain {chain_id}: {detail}")]
    NotASafe {
        /// The chain.
        chain_id: u64,
        /// What the chain shows at the address.
        detail: String,
    },
    /// A fixed state source (a snapshot) could not answer.
    #[error("the state source failed: {0}")]
    Source(String),
    /// The blocking task running a simulation round failed.
    #[error("the simulation task failed")]
    Task,
}

impl ChainError {
    /// A short stable code for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unconfigured { .. } => "unconfigured",
            Self::Unavailable { .. } => "unavailable",
            Self::Disagreement { .. } => "disagreement",
            Self::Endpoint { .. } => "endpoint",
            Self::Reorganised { .. } => "reorganised",
            Self::RequestBound { .. } => "request_bound",
            Self::NoBlock { .. } => "no_block",
            Self::NotASafe { .. } => "not_a_safe",
            Self::Source(_) => "source",
            Self::Task => "task",
        }
    }
}
