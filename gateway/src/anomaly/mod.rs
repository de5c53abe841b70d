//! Anomalous operator behaviour in the gateway (issue 18): every call observed, judged by the
//! pure rules of [`signgate_policy::anomaly`] against the caller's stored profile, and learned.
//!
//! - [`crate::call_facts`] (a module of its own, low in the layers, since the API and the
//!   pipeline record into it): the facts of one call, gathered while it runs (certificate,
//!   peer, key, wallet, refusal kind) in a task-local slot the [`crate::server::observe`]
//!   layer opens;
//! - [`observer`]: the finished call into an [`Observation`](signgate_policy::anomaly::Observation),
//!   queued without waiting, and the worker that evaluates, learns and records it;
//! - [`rebuild`]: profiles rebuilt from the audit log alone;
//! - [`webhook`]: `[alerts.webhook]`, signed JSON from a bounded queue with retries.
//!
//! Nothing here runs unless the policy in force has an `[anomaly]` table: without it no call
//! is observed, no profile is written and the audit log holds exactly what it held before.

pub mod observer;
pub mod rebuild;
pub mod webhook;

use std::sync::Arc;

use signgate_policy::Policy;

use crate::pipeline::DecisionPipeline;

/// Where the anomaly rules find the policy in force (its `[anomaly]` settings, operators and
/// wallets), read afresh for every call so an applied policy takes effect at once.
pub trait PolicySource: Send + Sync + 'static {
    /// The policy in force; `None` when the gateway has none (nothing is observed).
    fn current(&self) -> Option<Arc<Policy>>;
}

impl<P: DecisionPipeline> PolicySource for P {
    fn current(&self) -> Option<Arc<Policy>> {
        self.policy()
    }
}
