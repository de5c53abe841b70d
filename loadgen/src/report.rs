//! What a run measured: per target a latency histogram, counts by outcome and by error code,
//! and the gateway/echo ratios; printed as a plain table or as JSON.
//!
//! Latency percentiles come from successful calls only (an error answered at once would
//! otherwise flatter them); errors are counted beside them. Throughput is successful calls per
//! second of the measurement window, warm-up excluded.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    LoadError,
    target::{Failure, Outcome},
};

/// Largest latency the histogram tracks exactly, in microseconds (larger values saturate).
const MAX_MICROS: u64 = 120_000_000;

/// Counts and latencies of one target, merged from every worker.
#[derive(Debug, Clone)]
pub struct Tally {
    latency: Histogram<u64>,
    outcomes: BTreeMap<&'static str, u64>,
    errors: BTreeMap<Failure, u64>,
    late: u64,
    max_send_lag: Duration,
}

impl Tally {
    /// An empty tally (microsecond latencies, three significant digits).
    pub fn new() -> Result<Self, LoadError> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .map_err(|e| LoadError::Histogram(e.to_string()))?,
            outcomes: BTreeMap::new(),
            errors: BTreeMap::new(),
            late: 0,
            max_send_lag: Duration::ZERO,
        })
    }

    /// Records one measured call.
    pub fn record(&mut self, latency: Duration, result: Result<Outcome, Failure>) {
        match result {
            Ok(outcome) => {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency.saturating_record(micros.max(1));
                *self.outcomes.entry(outcome.label()).or_default() += 1;
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }

    /// Records how late a fixed-rate send left; `missed` when it left after the next one was due.
    pub fn record_lag(&mut self, lag: Duration, missed: bool) {
        self.max_send_lag = self.max_send_lag.max(lag);
        self.late += u64::from(missed);
    }

    /// Adds another worker's tally.
    pub fn merge(&mut self, other: Self) -> Result<(), LoadError> {
        self.latency
            .add(&other.latency)
            .map_err(|e| LoadError::Histogram(format!("{e:?}")))?;
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.late += other.late;
        self.max_send_lag = self.max_send_lag.max(other.max_send_lag);
        Ok(())
    }

    /// The report of this tally over a measurement window of `window`.
    pub fn report(&self, target: String, window: Duration) -> TargetReport {
        let ok = self.latency.len();
        let errors: u64 = self.errors.values().sum();
        let q = |p: f64| {
            if ok == 0 {
                0
            } else {
                self.latency.value_at_quantile(p)
            }
        };
        TargetReport {
            target,
            requests: ok + errors,
            ok,
            errors: self.errors.clone(),
            outcomes: self
                .outcomes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            throughput_rps: ok as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE),
            latency_us: Latency {
                p50: q(0.50),
                p90: q(0.90),
                p99: q(0.99),
                max: if ok == 0 { 0 } else { self.latency.max() },
                mean: if ok == 0 { 0.0 } else { self.latency.mean() },
            },
            missed_deadlines: self.late,
            max_send_lag_us: u64::try_from(self.max_send_lag.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// The figures of one target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetReport {
    /// `gateway` or `echo`, and where it listened.
    pub target: String,
    /// Measured calls (warm-up excluded), answered or not.
    pub requests: u64,
    /// Calls answered without a gRPC error.
    pub ok: u64,
    /// Failed calls by gRPC status code (or `ClientTimeout`).
    pub errors: BTreeMap<String, u64>,
    /// Successful calls by outcome: the gateway's decision, or `echoed`.
    pub outcomes: BTreeMap<String, u64>,
    /// Successful calls per second of the measurement window.
    pub throughput_rps: f64,
    /// Latency of successful calls.
    pub latency_us: Latency,
    /// Fixed rate only: sends that left after the next send was already due (the load
    /// generator fell behind its timetable; their latency still counts from the schedule).
    pub missed_deadlines: u64,
    /// Fixed rate only: the latest any send left after its scheduled instant.
    pub max_send_lag_us: u64,
}

/// Gateway figure divided by echo figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ratio {
    /// Of the medians (how many times slower the gateway's typical call is).
    pub p50: f64,
    /// Of the 99th percentiles.
    pub p99: f64,
    /// Of the throughputs (the gateway's share of the floor's rate).
    pub throughput: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// How the load was applied.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModeReport {
    /// `fixed_rate` (open loop) or `saturation` (closed loop).
    pub kind: &'static str,
    /// Fixed rate: requests per second scheduled.
    pub rate: Option<f64>,
    /// Saturation: calls in flight.
    pub concurrency: Option<usize>,
    /// Measurement window, seconds.
    pub duration_s: f64,
    /// Warm-up before the window, seconds (not in any figure).
    pub warmup_s: f64,
}

/// One run: both targets under the same load, side by side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The load.
    pub mode: ModeReport,
    /// Encoded size of one SubmitProposal request, and of each echo payload, in bytes.
    pub request_bytes: usize,
    /// The gateway's figures.
    pub gateway: TargetReport,
    /// The echo floor's figures.
    pub echo: TargetReport,
    /// Gateway / echo.
    pub ratio: Ratio,
}

impl Report {
    /// Puts the two targets' figures side by side.
    pub fn new(
        mode: ModeReport,
        request_bytes: usize,
        gateway: TargetReport,
        echo: TargetReport,
    ) -> Self {
        let ratio = Ratio {
            p50: ratio(gateway.latency_us.p50 as f64, echo.latency_us.p50 as f64),
            p99: ratio(gateway.latency_us.p99 as f64, echo.latency_us.p99 as f64),
            throughput: ratio(gateway.throughput_rps, echo.throughput_rps),
        };
        Self {
            mode,
            request_bytes,
            gateway,
            echo,
            ratio,
        }
    }

    /// The plain table: one column per target and one for gateway/echo.
    pub fn table(&self) -> String {
        let m = &self.mode;
        let load = match (m.rate, m.concurrency) {
            (Some(r), _) => format!("fixed rate {r} req/s (open loop)"),
            (_, Some(c)) => format!("saturation, concurrency {c} (closed loop)"),
            _ => "unknown load".to_owned(),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{load}, {} s measured after {} s warm-up, {} B requests",
            m.duration_s, m.warmup_s, self.request_bytes
        );
        let (g, e) = (&self.gateway, &self.echo);
        let mut row = |name: &str, gv: String, ev: String, r: String| {
            let _ = writeln!(out, "{name:<18} {gv:>14} {ev:>14} {r:>14}");
        };
        row("", "gateway".into(), "echo".into(), "gateway/echo".into());
        row(
            "requests",
            g.requests.to_string(),
            e.requests.to_string(),
            String::new(),
        );
        row("ok", g.ok.to_string(), e.ok.to_string(), String::new());
        row(
            "errors",
            counts(&g.errors),
            counts(&e.errors),
            String::new(),
        );
        row(
            "throughput req/s",
            format!("{:.1}", g.throughput_rps),
            format!("{:.1}", e.throughput_rps),
            format!("{:.3}", self.ratio.throughput),
        );
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        let (gl, el) = (&g.latency_us, &e.latency_us);
        row(
            "p50 ms",
            ms(gl.p50),
            ms(el.p50),
            format!("{:.1}", self.ratio.p50),
        );
        row("p90 ms", ms(gl.p90), ms(el.p90), String::new());
        row(
            "p99 ms",
            ms(gl.p99),
            ms(el.p99),
            format!("{:.1}", self.ratio.p99),
        );
        row("max ms", ms(gl.max), ms(el.max), String::new());
        if m.rate.is_some() {
            row(
                "missed deadlines",
                g.missed_deadlines.to_string(),
                e.missed_deadlines.to_string(),
                String::new(),
            );
            row(
                "max send lag ms",
                ms(g.max_send_lag_us),
                ms(e.max_send_lag_us),
                String::new(),
            );
        }
        let _ = writeln!(out, "gateway decisions: {}", counts(&g.outcomes));
        let _ = writeln!(out, "gateway: {}, echo: {}", g.target, e.target);
        out
    }
}

/// `code=n code=n`, or `0` when empty.
fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "0".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
