//! Prometheus metrics: what the gateway decided, how fast it answered, and whether its
//! sanctions lists are usable — served as OpenMetrics text on `GET /metrics`.
//!
//! - [`Metrics`]: one registry per gateway instance and the recording functions the server and
//!   the pipeline call (tests run several gateways in one process, so nothing is global);
//! - [`lists`]: list age and usability, computed at scrape time from the current snapshot so
//!   a list that went stale shows at once, without any timer;
//! - [`http`]: the exposition server (`metrics.listen`).
//!
//! Every label comes from a closed set — outcome, trigger, the policy's stable reason codes,
//! gRPC method and status code names, list ids from the configuration — so no request can grow
//! the number of series. Nothing here holds a secret: no keys, addresses or hashes.

pub mod chains;
pub mod http;
pub mod lists;

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram, info::Info},
    registry::{Registry, Unit},
};
use signgate_audit::record::DecisionTrigger;
use signgate_policy::Decision;

pub use http::serve;

use crate::lists::ListStore;

/// One label: a static name and a value from a closed set.
type Label = (&'static str, &'static str);

/// Upper bounds (seconds) of the latency histograms: 1 ms to 10 s, about three per decade.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// How one simulation ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulationOutcome {
    /// The simulator produced a report (whether or not the transaction reverted).
    Ran,
    /// No result within the deadline.
    Timeout,
    /// The state source or the simulator failed.
    Error,
}

impl SimulationOutcome {
    const fn label(self) -> &'static str {
        match self {
            Self::Ran => "ran",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }
}

/// The gateway's metrics and the registry they are encoded from.
///
/// Recording is lock-free (atomic counters); only encoding a scrape walks the registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<[Label; 2], Counter>,
    deny_reasons: Family<[Label; 1], Counter>,
    grpc_duration: Family<[Label; 2], Histogram, fn() -> Histogram>,
    simulation_duration: Histogram,
    simulation_failures: Family<[Label; 1], Counter>,
    releases: Family<[Label; 1], Counter>,
    audit_append_failures: Counter,
    anomaly_alerts: Family<[Label; 1], Counter>,
    anomaly_lost: Family<[Label; 1], Counter>,
    webhook_backlog: Gauge,
    webhook_dropped: Counter,
    webhook_failures: Counter,
}

impl Default for Metrics {
    /// Metrics without sanctions lists (a server with no decision pipeline).
    fn default() -> Self {
        Self::new(None, crate::clock::system())
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero. With `lists`, each scrape also reports the
    /// age and usability of every configured list. `clock` dates the process start and the
    /// lists' ages.
    pub fn new(lists: Option<Arc<ListStore>>, clock: crate::clock::SharedClock) -> Self {
        Self::with_chains(lists, None, clock)
    }

    /// [`Metrics::new`], also reporting every live chain's health at each scrape.
    pub fn with_chains(
        lists: Option<Arc<ListStore>>,
        chains: Option<chains::ChainsHealth>,
        clock: crate::clock::SharedClock,
    ) -> Self {
        let mut registry = Registry::with_prefix("signgate");
        let decisions = Family::<[Label; 2], Counter>::default();
        registry.register(
            "decisions",
            "Policy decisions by outcome (deny, needs_approvals, approved) and trigger \
             (submitted, approval, rejection, release, cancel)",
            decisions.clone(),
        );
        let deny_reasons = Family::<[Label; 1], Counter>::default();
        registry.register(
            "deny_reasons",
            "Reasons in deny decisions by the policy's stable reason code, one per reason",
            deny_reasons.clone(),
        );
        let grpc_duration =
            Family::<[Label; 2], Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register_with_unit(
            "grpc_request_duration",
            "Time to answer a Gateway or Admin call, until its status or first message \
             (WatchProposal: its first event), by method and gRPC status code",
            Unit::Seconds,
            grpc_duration.clone(),
        );
        let simulation_duration = latency_histogram();
        registry.register_with_unit(
            "simulation_duration",
            "Wall time of one EVM simulation, including the wait for a blocking thread",
            Unit::Seconds,
            simulation_duration.clone(),
        );
        let simulation_failures = Family::<[Label; 1], Counter>::default();
        registry.register(
            "simulation_failures",
            "Simulations that produced no report (kind: timeout or error); each denies",
            simulation_failures.clone(),
        );
        let releases = Family::<[Label; 1], Counter>::default();
        registry.register(
            "releases",
            "RequestSignatures calls by result: returned (signatures handed out) or refused",
            releases.clone(),
        );
        let audit_append_failures = Counter::default();
        registry.register(
            "audit_append_failures",
            "Audit records that could not be written; each request concerned was refused",
            audit_append_failures.clone(),
        );
        let anomaly_alerts = Family::<[Label; 1], Counter>::default();
        registry.register(
            "anomaly_alerts",
            "Alerts of the anomaly rules, by rule code (anomaly.off_hours, anomaly.new_device, …)",
            anomaly_alerts.clone(),
        );
        let anomaly_lost = Family::<[Label; 1], Counter>::default();
        registry.register(
            "anomaly_observations_lost",
            "Calls the anomaly rules did not judge, by why (queue_full: the observation queue \
             was full; unrecorded: the profile and its audit records could not be written)",
            anomaly_lost.clone(),
        );
        let webhook_backlog = Gauge::default();
        registry.register(
            "anomaly_webhook_backlog",
            "Alerts waiting for delivery to [alerts.webhook]",
            webhook_backlog.clone(),
        );
        let webhook_dropped = Counter::default();
        registry.register(
            "anomaly_webhook_dropped",
            "Alerts never delivered to [alerts.webhook] (queue full, or undelivered at shutdown); \
             each is logged and stays in the audit log",
            webhook_dropped.clone(),
        );
        let webhook_failures = Counter::default();
        registry.register(
            "anomaly_webhook_failures",
            "Failed delivery attempts to [alerts.webhook] (each is retried)",
            webhook_failures.clone(),
        );
        let start = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        #[expect(
            clippy::cast_precision_loss,
            reason = "milliseconds since the epoch stay far below 2^53 for millennia"
        )]
        start.set(clock.now().0 as f64 / 1000.0);
        registry.register_with_unit(
            "process_start_time",
            "When this gateway instance started, in seconds since the Unix epoch",
            Unit::Seconds,
            start,
        );
        registry.register(
            "build",
            "The running signgate version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        if let Some(lists) = lists {
            registry.register_collector(Box::new(lists::ListHealth::new(lists, clock)));
        }
        if let Some(chains) = chains {
            registry.register_collector(Box::new(chains::ChainHealthCollector::new(chains)));
        }
        Self {
            registry,
            decisions,
            deny_reasons,
            grpc_duration,
            simulation_duration,
            simulation_failures,
            releases,
            audit_append_failures,
            anomaly_alerts,
            anomaly_lost,
            webhook_backlog,
            webhook_dropped,
            webhook_failures,
        }
    }

    /// Counts one decision and, for a deny, each of its reasons.
    pub fn decision(&self, trigger: DecisionTrigger, decision: &Decision) {
        self.decisions
            .get_or_create(&[
                ("outcome", decision.kind()),
                ("trigger", trigger_label(trigger)),
            ])
            .inc();
        for code in decision.reason_codes() {
            self.deny_reasons.get_or_create(&[("reason", code)]).inc();
        }
    }

    /// Records one Gateway or Admin call (see `server::observe` for what is timed).
    pub fn grpc_call(&self, method: &'static str, code: tonic::Code, elapsed: Duration) {
        self.grpc_duration
            .get_or_create(&[("method", method), ("code", code_label(code))])
            .observe(elapsed.as_secs_f64());
    }

    /// Records one simulation.
    pub fn simulation(&self, outcome: SimulationOutcome, elapsed: Duration) {
        self.simulation_duration.observe(elapsed.as_secs_f64());
        if outcome != SimulationOutcome::Ran {
            self.simulation_failures
                .get_or_create(&[("kind", outcome.label())])
                .inc();
        }
    }

    /// Records one `RequestSignatures` call: signatures returned, or refused for any reason.
    pub fn release(&self, returned: bool) {
        let result = if returned { "returned" } else { "refused" };
        self.releases.get_or_create(&[("result", result)]).inc();
    }

    /// Counts one audit record that could not be written.
    pub fn audit_append_failed(&self) {
        self.audit_append_failures.inc();
    }

    /// Counts one anomaly alert by its rule's stable code.
    pub fn anomaly_alert(&self, code: &'static str) {
        self.anomaly_alerts.get_or_create(&[("rule", code)]).inc();
    }

    /// Counts one call the anomaly rules could not judge (`why`: `queue_full` or
    /// `unrecorded`); each is also logged.
    pub fn anomaly_lost(&self, why: &'static str) {
        self.anomaly_lost.get_or_create(&[("why", why)]).inc();
    }

    /// Sets the webhook's backlog.
    pub fn anomaly_webhook_backlog(&self, alerts: i64) {
        self.webhook_backlog.set(alerts);
    }

    /// Counts an alert the webhook will never receive.
    pub fn anomaly_webhook_dropped(&self) {
        self.webhook_dropped.inc();
    }

    /// Counts a failed webhook delivery attempt.
    pub fn anomaly_webhook_failed(&self) {
        self.webhook_failures.inc();
    }

    /// The registry as OpenMetrics text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The trigger as a label value.
pub const fn trigger_label(trigger: DecisionTrigger) -> &'static str {
    match trigger {
        DecisionTrigger::Submitted => "submitted",
        DecisionTrigger::Approval => "approval",
        DecisionTrigger::Rejection => "rejection",
        DecisionTrigger::Release => "release",
        DecisionTrigger::Cancel => "cancel",
        DecisionTrigger::ListUpdate => "list_update",
    }
}

/// The gRPC status code's canonical name, as grpc-status documents it.
pub const fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_are_named_with_help_and_labels() {
        let m = Metrics::default();
        m.grpc_call(
            "GetProposal",
            tonic::Code::NotFound,
            Duration::from_millis(3),
        );
        m.simulation(SimulationOutcome::Timeout, Duration::from_secs(5));
        m.release(false);
        m.audit_append_failed();
        let text = m.encode().unwrap_or_default();
        // A labelled family shows once it has a series; nothing was decided here.
        assert!(!text.contains("signgate_decisions"), "{text}");
        for name in [
            "signgate_grpc_request_duration_seconds",
            "signgate_simulation_duration_seconds",
            "signgate_simulation_failures",
            "signgate_releases",
            "signgate_audit_append_failures",
            "signgate_process_start_time_seconds",
            "signgate_build",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        }
        assert!(
            text.contains(
                "signgate_grpc_request_duration_seconds_count{method=\"GetProposal\",code=\"NOT_FOUND\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("signgate_simulation_failures_total{kind=\"timeout\"} 1"));
        assert!(text.contains("signgate_releases_total{result=\"refused\"} 1"));
        assert!(text.contains("signgate_audit_append_failures_total 1"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
