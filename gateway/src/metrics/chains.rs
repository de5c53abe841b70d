//! Live chain health at scrape time: whether each configured chain can be decided on, the
//! block decisions are pinned to, how old that pin is, and which endpoints answer correctly.
//! One series per configured chain (and endpoint), so the label set is bounded by the
//! configuration; endpoints are labelled by scheme, host and port only (URLs carry API keys).

use std::{fmt, sync::Arc};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, gauge::ConstGauge},
    registry::Unit,
};
use signgate_chain::{ChainHealth, EndpointState};

/// Reads every live chain's health on demand.
#[derive(Clone)]
pub struct ChainsHealth(Arc<dyn Fn() -> Vec<ChainHealth> + Send + Sync>);

impl ChainsHealth {
    /// Health read by `read`.
    pub fn new(read: impl Fn() -> Vec<ChainHealth> + Send + Sync + 'static) -> Self {
        Self(Arc::new(read))
    }

    /// Every chain's health now.
    pub fn read(&self) -> Vec<ChainHealth> {
        (self.0)()
    }
}

impl fmt::Debug for ChainsHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.read()).finish()
    }
}

/// The collector registered for the gateway's live chains.
#[derive(Debug)]
pub struct ChainHealthCollector {
    health: ChainsHealth,
}

impl ChainHealthCollector {
    /// Reports what `health` returns at every scrape.
    pub fn new(health: ChainsHealth) -> Self {
        Self { health }
    }
}

impl Collector for ChainHealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let chains = self.health.read();
        {
            let mut usable = encoder.encode_descriptor(
                "chain_usable",
                "1 when decisions can be taken on the chain; 0 means every proposal on it is \
                 refused (cannot simulate) until it recovers",
                None,
                MetricType::Gauge,
            )?;
            for c in &chains {
                let id = c.chain_id.to_string();
                ConstGauge::new(i64::from(c.usable)).encode(
                    usable
                        .encode_family(&[("chain_id", id.as_str()), ("chain", c.name.as_str())])?,
                )?;
            }
        }
        {
            let mut pinned = encoder.encode_descriptor(
                "chain_pinned_block",
                "The block number decisions on the chain are pinned to",
                None,
                MetricType::Gauge,
            )?;
            for c in &chains {
                if let Some((number, _)) = c.pinned {
                    let id = c.chain_id.to_string();
                    ConstGauge::new(i64::try_from(number).unwrap_or(i64::MAX)).encode(
                        pinned.encode_family(&[
                            ("chain_id", id.as_str()),
                            ("chain", c.name.as_str()),
                        ])?,
                    )?;
                }
            }
        }
        {
            let mut age = encoder.encode_descriptor(
                "chain_check_age",
                "Seconds since the chain's head and endpoints were last checked successfully",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            for c in &chains {
                if let Some(ms) = c.age_ms {
                    let id = c.chain_id.to_string();
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "milliseconds of age stay far below 2^53"
                    )]
                    let secs = ms as f64 / 1000.0;
                    ConstGauge::new(secs).encode(age.encode_family(&[
                        ("chain_id", id.as_str()),
                        ("chain", c.name.as_str()),
                    ])?)?;
                }
            }
        }
        let mut endpoint_ok = encoder.encode_descriptor(
            "chain_endpoint_ok",
            "1 when the endpoint answered the last check with the configured chain id",
            None,
            MetricType::Gauge,
        )?;
        for c in &chains {
            let id = c.chain_id.to_string();
            for e in &c.endpoints {
                let ok = matches!(e.state, EndpointState::Ok { .. });
                ConstGauge::new(i64::from(ok)).encode(endpoint_ok.encode_family(&[
                    ("chain_id", id.as_str()),
                    ("endpoint", e.endpoint.as_str()),
                ])?)?;
            }
        }
        Ok(())
    }
}
