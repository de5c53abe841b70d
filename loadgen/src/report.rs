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

    /// Percentiles of the successful calls (all zero when there were none).
    fn latency(&self) -> Latency {
        let ok = self.latency.len();
        let q = |p: f64| {
            if ok == 0 {
                0
            } else {
                self.latency.value_at_quantile(p)
            }
        };
        Latency {
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max: if ok == 0 { 0 } else { self.latency.max() },
            mean: if ok == 0 { 0.0 } else { self.latency.mean() },
        }
    }

    fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// The report of this tally as latency samples (calls sent one at a time; no throughput).
    pub fn samples(&self) -> SampleReport {
        let ok = self.latency.len();
        SampleReport {
            requests: ok + self.errors.values().sum::<u64>(),
            ok,
            errors: self.errors.clone(),
            outcomes: self.outcomes(),
            latency_us: self.latency(),
        }
    }

    /// The report of this tally over a measurement window of `window`.
    pub fn report(&self, target: String, window: Duration) -> TargetReport {
        let ok = self.latency.len();
        let errors: u64 = self.errors.values().sum();
        TargetReport {
            target,
            requests: ok + errors,
            ok,
            errors: self.errors.clone(),
            outcomes: self.outcomes(),
            throughput_rps: ok as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE),
            latency_us: self.latency(),
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

impl ModeReport {
    /// The load `opts` applies.
    pub fn of(opts: &crate::Options) -> Self {
        let (rate, concurrency, kind) = match opts.load {
            crate::Load::FixedRate(r) => (Some(r), None, "fixed_rate"),
            crate::Load::Saturation(c) => (None, Some(c), "saturation"),
        };
        Self {
            kind,
            rate,
            concurrency,
            duration_s: opts.duration.as_secs_f64(),
            warmup_s: opts.warmup.as_secs_f64(),
        }
    }

    /// The first line of a table: the load, the window and the request size.
    fn heading(&self, request_bytes: usize) -> String {
        let load = match (self.rate, self.concurrency) {
            (Some(r), _) => format!("fixed rate {r} req/s (open loop)"),
            (_, Some(c)) => format!("saturation, concurrency {c} (closed loop)"),
            _ => "unknown load".to_owned(),
        };
        format!(
            "{load}, {} s measured after {} s warm-up, {request_bytes} B requests",
            self.duration_s, self.warmup_s
        )
    }
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
    /// With `--without-anomaly-too`: the same load on a gateway whose policy has no
    /// `[anomaly]` table (nothing observed or judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_anomaly: Option<TargetReport>,
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
            without_anomaly: None,
        }
    }

    /// The plain table: one column per target and one for gateway/echo.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.mode.heading(self.request_bytes));
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
        if self.mode.rate.is_some() {
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
        if let Some(w) = &self.without_anomaly {
            let _ = writeln!(
                out,
                "without [anomaly]: {:.1} req/s, p50 {} ms, p99 {} ms ({} ok); with ÷ without: \
                 p50 {:.2}, throughput {:.2}",
                w.throughput_rps,
                ms(w.latency_us.p50),
                ms(w.latency_us.p99),
                w.ok,
                ratio(gl.p50 as f64, w.latency_us.p50 as f64),
                ratio(g.throughput_rps, w.throughput_rps),
            );
        }
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

/// Calls sent one at a time as latency samples (`--live`'s cold and warm submissions).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SampleReport {
    /// Calls sent, answered or not.
    pub requests: u64,
    /// Calls answered without a gRPC error.
    pub ok: u64,
    /// Failed calls by gRPC status code (or `ClientTimeout`).
    pub errors: BTreeMap<String, u64>,
    /// Successful calls by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Latency of successful calls.
    pub latency_us: Latency,
}

/// The median and range of a count taken once per sample.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    /// Median (the mean of the two middle values for an even number of samples).
    pub median: f64,
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
}

impl Spread {
    /// The spread of `values` (all zero when there are none).
    pub fn of(values: &[u64]) -> Self {
        let mut v = values.to_vec();
        v.sort_unstable();
        let n = v.len();
        let at = |i: usize| v.get(i).copied().unwrap_or(0) as f64;
        let median = match n {
            0 => 0.0,
            n if n % 2 == 1 => at(n / 2),
            n => (at(n / 2 - 1) + at(n / 2)) / 2.0,
        };
        Self {
            median,
            min: v.first().copied().unwrap_or(0),
            max: v.last().copied().unwrap_or(0),
        }
    }

    /// `median (min–max)`, the median without decimals when it is whole.
    fn show(&self) -> String {
        let median = if self.median.fract() == 0.0 {
            format!("{}", self.median)
        } else {
            format!("{:.1}", self.median)
        };
        format!("{median} ({}–{})", self.min, self.max)
    }
}

/// What a live gateway asked of the chain, counted at the JSON-RPC proxy in front of the node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChainFigures {
    /// Latency the proxy added to every HTTP request, in milliseconds.
    pub added_latency_ms: u64,
    /// HTTP requests (round trips) of one cold submission.
    pub cold_round_trips: Spread,
    /// JSON-RPC calls of one cold submission (a batch of n counts n).
    pub cold_calls: Spread,
    /// HTTP requests of one warm submission.
    pub warm_round_trips: Spread,
    /// HTTP requests of one refresh that pinned a new block (off the request path: the
    /// gateway's follower makes it once per poll interval).
    pub new_pin_round_trips: Spread,
    /// HTTP requests during the whole saturation run (warm-up included), on one pin.
    pub saturation_round_trips: u64,
    /// The first submission after the gateway started: a pin with no previous pin to guess
    /// its reads from. Latency in microseconds (0 if it failed).
    pub first_latency_us: u64,
    /// HTTP requests of that first submission.
    pub first_round_trips: u64,
    /// The JSON-RPC methods of each HTTP request of the last cold submission
    /// (`method×count`, in order of first appearance).
    pub cold_requests: Vec<String>,
    /// The same for the last warm submission.
    pub warm_requests: Vec<String>,
}

/// One HTTP request's JSON-RPC methods as `method×count, …`, in order of first appearance.
pub fn summarize_methods(methods: &[String]) -> String {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for m in methods {
        match counted.iter_mut().find(|(name, _)| *name == m.as_str()) {
            Some((_, n)) => *n += 1,
            None => counted.push((m.as_str(), 1)),
        }
    }
    counted
        .into_iter()
        .map(|(m, n)| {
            if n == 1 {
                m.to_owned()
            } else {
                format!("{m}×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One target's figures against the echo floor's.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LiveRatio {
    /// Cold median / the echo floor's cold median.
    pub cold_p50: f64,
    /// Warm median / the echo floor's warm median.
    pub warm_p50: f64,
    /// Saturation throughput / the echo floor's.
    pub throughput: f64,
}

/// One target of a live run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveTarget {
    /// `snapshot`, `live 0 ms`, `live N ms` or `echo`.
    pub name: String,
    /// Where it listened and what it was.
    pub target: String,
    /// First submission after a new block was mined and pinned (snapshot, echo: the first of
    /// two calls in a row).
    pub cold: SampleReport,
    /// The submission right after, on the same pin.
    pub warm: SampleReport,
    /// Closed-loop load on one pin.
    pub saturation: TargetReport,
    /// Round trips to the chain (live targets only).
    pub chain: Option<ChainFigures>,
    /// Against the echo floor.
    pub ratio: LiveRatio,
}

/// A `--live` run: the snapshot gateway, the live gateway at two latencies and the echo floor,
/// side by side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveReport {
    /// The node's chain id.
    pub chain_id: u64,
    /// The latency added for the second live target, in milliseconds.
    pub rtt_ms: u64,
    /// Cold samples, and warm samples, per target.
    pub samples: usize,
    /// Saturation: calls in flight.
    pub concurrency: usize,
    /// Saturation measurement window, seconds.
    pub duration_s: f64,
    /// Saturation warm-up, seconds.
    pub warmup_s: f64,
    /// Encoded size of one SubmitProposal request (and of each echo payload), in bytes.
    pub request_bytes: usize,
    /// In the order measured; the echo floor last.
    pub targets: Vec<LiveTarget>,
}

impl LiveReport {
    /// Fills in every target's ratios to the echo floor (the target named `echo`).
    pub fn with_ratios(mut self) -> Self {
        let echo = self.targets.iter().find(|t| t.name == "echo").map(|e| {
            (
                e.cold.latency_us.p50 as f64,
                e.warm.latency_us.p50 as f64,
                e.saturation.throughput_rps,
            )
        });
        if let Some((cold, warm, rps)) = echo {
            for t in &mut self.targets {
                t.ratio = LiveRatio {
                    cold_p50: ratio(t.cold.latency_us.p50 as f64, cold),
                    warm_p50: ratio(t.warm.latency_us.p50 as f64, warm),
                    throughput: ratio(t.saturation.throughput_rps, rps),
                };
            }
        }
        self
    }

    /// The plain table: one column per target.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "live chain state, chain {} (ganache behind a JSON-RPC proxy); {} cold and {} warm \
             samples one at a time; saturation, concurrency {} (closed loop), {} s measured after \
             {} s warm-up; {} B requests",
            self.chain_id,
            self.samples,
            self.samples,
            self.concurrency,
            self.duration_s,
            self.warmup_s,
            self.request_bytes
        );
        let _ = writeln!(
            out,
            "cold: the first submission after a new block was mined and pinned; warm: the next \
             one on the same pin (snapshot and echo: two calls in a row)"
        );
        let mut row = |name: &str, cells: Vec<String>| {
            let _ = write!(out, "{name:<28}");
            for c in cells {
                let _ = write!(out, " {c:>14}");
            }
            let _ = writeln!(out);
        };
        let ts = &self.targets;
        let each = |f: &dyn Fn(&LiveTarget) -> String| ts.iter().map(f).collect::<Vec<_>>();
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        let chain = |f: &dyn Fn(&ChainFigures) -> String| {
            each(&|t: &LiveTarget| t.chain.as_ref().map_or_else(|| "-".to_owned(), f))
        };
        row("", each(&|t| t.name.clone()));
        row("cold p50 ms", each(&|t| ms(t.cold.latency_us.p50)));
        row("cold p90 ms", each(&|t| ms(t.cold.latency_us.p90)));
        row("warm p50 ms", each(&|t| ms(t.warm.latency_us.p50)));
        row("warm p90 ms", each(&|t| ms(t.warm.latency_us.p90)));
        row(
            "saturation req/s",
            each(&|t| format!("{:.1}", t.saturation.throughput_rps)),
        );
        row(
            "saturation p50 ms",
            each(&|t| ms(t.saturation.latency_us.p50)),
        );
        row(
            "saturation p99 ms",
            each(&|t| ms(t.saturation.latency_us.p99)),
        );
        row(
            "cold p50 / echo",
            each(&|t| format!("{:.1}", t.ratio.cold_p50)),
        );
        row(
            "warm p50 / echo",
            each(&|t| format!("{:.1}", t.ratio.warm_p50)),
        );
        row(
            "req/s / echo",
            each(&|t| format!("{:.3}", t.ratio.throughput)),
        );
        row("round trips / cold", chain(&|c| c.cold_round_trips.show()));
        row("JSON-RPC calls / cold", chain(&|c| c.cold_calls.show()));
        row("round trips / warm", chain(&|c| c.warm_round_trips.show()));
        row(
            "round trips / new pin",
            chain(&|c| c.new_pin_round_trips.show()),
        );
        row(
            "round trips, saturation",
            chain(&|c| c.saturation_round_trips.to_string()),
        );
        row("first decision ms", chain(&|c| ms(c.first_latency_us)));
        row(
            "first decision round trips",
            chain(&|c| c.first_round_trips.to_string()),
        );
        row(
            "errors",
            each(&|t| {
                let n: u64 = [&t.cold.errors, &t.warm.errors, &t.saturation.errors]
                    .iter()
                    .flat_map(|m| m.values())
                    .sum();
                n.to_string()
            }),
        );
        for t in ts {
            let mut all = t.cold.outcomes.clone();
            for (k, v) in t.warm.outcomes.iter().chain(&t.saturation.outcomes) {
                *all.entry(k.clone()).or_default() += v;
            }
            let mut errors = t.cold.errors.clone();
            for (k, v) in t.warm.errors.iter().chain(&t.saturation.errors) {
                *errors.entry(k.clone()).or_default() += v;
            }
            let _ = writeln!(
                out,
                "{}: {}; answers: {}; errors: {}",
                t.name,
                t.target,
                counts(&all),
                counts(&errors)
            );
            if let Some(c) = &t.chain {
                for (kind, requests) in [("cold", &c.cold_requests), ("warm", &c.warm_requests)] {
                    let _ = writeln!(
                        out,
                        "  last {kind} submission's HTTP requests: {}",
                        requests
                            .iter()
                            .map(|r| format!("[{r}]"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
        out
    }
}

/// What the database did for one PostgreSQL configuration, from the moment its replicas were
/// ready until after they stopped (warm-up included), in `pg_stat_database`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DbFigures {
    /// Proposals stored (one per successful submission, warm-up included).
    pub proposals: u64,
    /// Transactions committed.
    pub xact_commit: u64,
    /// Transactions rolled back.
    pub xact_rollback: u64,
    /// Committed transactions per stored proposal.
    pub commits_per_submission: f64,
    /// Rolled-back transactions per stored proposal.
    pub rollbacks_per_submission: f64,
}

impl DbFigures {
    /// The figures, with the per-submission quotients.
    pub fn new(proposals: u64, xact_commit: u64, xact_rollback: u64) -> Self {
        Self {
            proposals,
            xact_commit,
            xact_rollback,
            commits_per_submission: ratio(xact_commit as f64, proposals as f64),
            rollbacks_per_submission: ratio(xact_rollback as f64, proposals as f64),
        }
    }
}

/// One target of a `--replicas-on` run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MatrixRow {
    /// `echo floor`, `SQLite, 1 gateway` or `PostgreSQL, n replicas`.
    pub name: String,
    /// Its figures.
    pub figures: TargetReport,
    /// Against the echo floor (the first row).
    pub ratio: Ratio,
    /// PostgreSQL configurations: the database's transactions.
    pub database: Option<DbFigures>,
}

impl MatrixRow {
    /// A row; its ratios are filled in by [`MatrixReport::new`].
    pub fn new(name: &str, figures: TargetReport, database: Option<DbFigures>) -> Self {
        Self {
            name: name.to_owned(),
            figures,
            ratio: Ratio {
                p50: 0.0,
                p99: 0.0,
                throughput: 0.0,
            },
            database,
        }
    }
}

/// A `--replicas-on` run: every target under the same load, one row each, the echo floor first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MatrixReport {
    /// The load.
    pub mode: ModeReport,
    /// Encoded size of one SubmitProposal request, and of each echo payload, in bytes.
    pub request_bytes: usize,
    /// In the order measured.
    pub rows: Vec<MatrixRow>,
}

impl MatrixReport {
    /// The report, every row's ratios taken against the first row (the echo floor).
    pub fn new(mode: ModeReport, request_bytes: usize, mut rows: Vec<MatrixRow>) -> Self {
        if let Some(floor) = rows.first().map(|r| r.figures.clone()) {
            for r in &mut rows {
                let f = &r.figures;
                r.ratio = Ratio {
                    p50: ratio(f.latency_us.p50 as f64, floor.latency_us.p50 as f64),
                    p99: ratio(f.latency_us.p99 as f64, floor.latency_us.p99 as f64),
                    throughput: ratio(f.throughput_rps, floor.throughput_rps),
                };
            }
        }
        Self {
            mode,
            request_bytes,
            rows,
        }
    }

    /// The plain table: one row per target.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.mode.heading(self.request_bytes));
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9} {:>7} {:>11}",
            "target",
            "req/s",
            "p50 ms",
            "p99 ms",
            "req/s /e",
            "p50 /e",
            "p99 /e",
            "errors",
            "xact/subm"
        );
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        for r in &self.rows {
            let f = &r.figures;
            let errors: u64 = f.errors.values().sum();
            let xact = r.database.as_ref().map_or_else(
                || "-".to_owned(),
                |d| {
                    format!(
                        "{:.2}+{:.2}",
                        d.commits_per_submission, d.rollbacks_per_submission
                    )
                },
            );
            let _ = writeln!(
                out,
                "{:<24} {:>10.1} {:>9} {:>9} {:>9.3} {:>8.1} {:>9.1} {:>7} {:>11}",
                r.name,
                f.throughput_rps,
                ms(f.latency_us.p50),
                ms(f.latency_us.p99),
                r.ratio.throughput,
                r.ratio.p50,
                r.ratio.p99,
                errors,
                xact
            );
        }
        let _ = writeln!(
            out,
            "/e: against the echo floor; xact/subm: PostgreSQL transactions committed+rolled \
             back per stored proposal (pg_stat_database, warm-up included)"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{}: {}; answers: {}; errors: {}",
                r.name,
                r.figures.target,
                counts(&r.figures.outcomes),
                counts(&r.figures.errors)
            );
        }
        out
    }
}
