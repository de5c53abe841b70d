//! An on-chain screen beside the lists: the Chainalysis sanctions oracle.
//!
//! The oracle is a contract answering `isSanctioned(address) returns (bool)`. Every address a
//! proposal touches (decoded and simulated) is asked, in JSON-RPC batches of `eth_call` at the
//! latest block through the configured endpoint, on every evaluation. It has no copy and no age:
//! an answer that does not come within the timeout, a transport or JSON-RPC error, or an answer
//! that is not one 32-byte boolean (an address without the contract answers `0x`) is "cannot
//! screen", which denies — exactly like a stale list.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime},
};

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, sol};
use serde_json::json;
use signgate_chain::{
    EndpointError,
    rpc::{Call, EndpointClient},
};

use crate::config::OracleConfig;

sol! {
    /// The oracle's interface.
    function isSanctioned(address addr) external view returns (bool);
}

/// Largest answer read from the endpoint for one batch.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Why the oracle gave no answer; screening then cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The batch failed as a whole (transport, timeout, unusable envelope).
    #[error("oracle {id} ({endpoint}): {source}")]
    Endpoint {
        /// The oracle's id.
        id: String,
        /// The endpoint's label (scheme, host, port).
        endpoint: String,
        /// What failed.
        source: EndpointError,
    },
    /// One call's answer was an error or not a boolean word.
    #[error("oracle {id}: isSanctioned({address}) answered {detail}")]
    Answer {
        /// The oracle's id.
        id: String,
        /// The address asked.
        address: Address,
        /// What came back instead of a boolean.
        detail: String,
    },
}

/// One configured oracle and its JSON-RPC client.
#[derive(Debug)]
pub struct Oracle {
    config: OracleConfig,
    client: EndpointClient,
    /// When it was last asked and, if it could not answer, why: for health.
    last: Mutex<Option<(SystemTime, Option<String>)>>,
}

impl Oracle {
    /// A client of the oracle's endpoint; nothing is sent yet.
    pub fn new(config: OracleConfig) -> Result<Self, EndpointError> {
        let client =
            EndpointClient::new(config.endpoint.clone(), config.timeout, MAX_RESPONSE_BYTES)?;
        Ok(Self {
            config,
            client,
            last: Mutex::new(None),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &OracleConfig {
        &self.config
    }

    /// When it was last asked, and why it could not answer then (`None`: it answered).
    pub fn last_answer(&self) -> Option<(SystemTime, Option<String>)> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The endpoint's label (scheme, host, port; never the path, which may hold a key).
    pub fn endpoint_label(&self) -> &str {
        self.client.label()
    }

    /// How hits name it: `chainalysis (US-OFAC)`, or the id alone.
    pub fn display_name(&self) -> String {
        match &self.config.jurisdiction {
            Some(j) => format!("{} ({j})", self.config.id),
            None => self.config.id.to_string(),
        }
    }

    /// The addresses among `addresses` the oracle says are sanctioned (each asked once), or why
    /// it could not say. All batches must answer within the oracle's timeout.
    pub async fn sanctioned(&self, addresses: &[Address]) -> Result<Vec<Address>, OracleError> {
        let mut unique = addresses.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let all = async {
            let mut listed = Vec::new();
            for chunk in unique.chunks(self.config.max_batch.max(1)) {
                listed.extend(self.batch(chunk).await?);
            }
            Ok(listed)
        };
        // The client's timeout bounds each batch; this bounds them together.
        let overall = self.config.timeout.saturating_mul(
            u32::try_from(unique.len().div_ceil(self.config.max_batch.max(1)))
                .unwrap_or(u32::MAX)
                .max(1),
        );
        let result = match tokio::time::timeout(overall.max(Duration::from_millis(1)), all).await {
            Ok(result) => result,
            Err(_) => Err(self.endpoint_error(EndpointError::Timeout {
                timeout_ms: u64::try_from(overall.as_millis()).unwrap_or(u64::MAX),
            })),
        };
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((
            SystemTime::now(),
            result.as_ref().err().map(ToString::to_string),
        ));
        result
    }

    fn endpoint_error(&self, source: EndpointError) -> OracleError {
        OracleError::Endpoint {
            id: self.config.id.to_string(),
            endpoint: self.client.label().to_owned(),
            source,
        }
    }

    async fn batch(&self, addresses: &[Address]) -> Result<Vec<Address>, OracleError> {
        let to = self.config.contract;
        let calls: Vec<Call> = addresses
            .iter()
            .map(|addr| {
                let data = isSanctionedCall { addr: *addr }.abi_encode();
                Call::new(
                    "eth_call",
                    json!([{ "to": to, "data": alloy_primitives::Bytes::from(data) }, "latest"]),
                )
            })
            .collect();
        let answers = self
            .client
            .batch(&calls)
            .await
            .map_err(|e| self.endpoint_error(e))?;
        let mut listed = Vec::new();
        for (address, answer) in addresses.iter().zip(answers) {
            let answer_error = |detail: String| OracleError::Answer {
                id: self.config.id.to_string(),
                address: *address,
                detail,
            };
            let value = answer.map_err(|e| answer_error(e.to_string()))?;
            let bytes = signgate_chain::rpc::read::bytes("eth_call", &value)
                .map_err(|e| answer_error(e.to_string()))?;
            // Exactly one ABI word holding 0 or 1: anything else is not this interface.
            let word: [u8; 32] = bytes.as_ref().try_into().map_err(|_| {
                answer_error(format!("{} bytes, not one boolean word", bytes.len()))
            })?;
            match U256::from_be_bytes(word) {
                v if v == U256::ZERO => {}
                v if v == U256::from(1u8) => listed.push(*address),
                v => return Err(answer_error(format!("{v}, not a boolean"))),
            }
        }
        Ok(listed)
    }
}
