//! signgate-loadgen: how fast the gateway decides, next to how fast gRPC alone can answer.
//!
//! One run applies the same load to two servers, one after the other, and reports them side by
//! side: the gateway's `SubmitProposal` (real, distinct, signed submissions from the demo
//! initiator, each decoded, simulated, screened, decided, stored and audited) and a trivial
//! tonic echo service sent payloads of the same size (the floor: what HTTP/2, tonic and the
//! loopback cost on this machine). The ratio of the two is the price of the gateway's own work.
//!
//! - [`request`]: the demo submissions, each one distinct;
//! - [`servers`]: the in-process gateway on the embedded demo, and the echo server;
//! - [`target`]: one interface over both, a call split into prepare and send;
//! - [`drive`]: saturation (closed loop) and fixed rate (open loop, latency from the timetable);
//! - [`report`]: histograms, counts, ratios, the table and the JSON;
//! - [`live`]: `--live`, the gateway deciding on a real node's state (ganache, through a proxy
//!   that counts round trips and adds latency) beside the snapshot gateway and the echo floor:
//!   cold and warm latency, saturation, round trips per submission;
//! - [`replicas`]: `--replicas-on URL`, the echo floor, the gateway on SQLite and one, two and
//!   three replicas on PostgreSQL in one run, with the database's transactions per submission.
//!
//! Run it with `cargo run --release -p signgate-loadgen -- --concurrency 8` (see the crate's
//! README for every option and how to read the output).

#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod drive;
pub mod live;
pub mod replicas;
pub mod report;
pub mod request;
pub mod servers;
pub mod target;

use std::time::Duration;

use prost::Message as _;

pub use report::Report;

/// The echo floor's generated tonic code (package `signgate.loadgen.v1`).
pub mod echo {
    #![allow(missing_docs, missing_debug_implementations, clippy::all)]
    tonic::include_proto!("signgate.loadgen.v1");
}

/// Why a run could not be completed. Failed calls are not errors: they are counted in the
/// report by status code.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The options make no run.
    #[error("{0}")]
    Options(String),
    /// The bundled demo key could not be read.
    #[error("demo initiator key: {0}")]
    DemoKey(String),
    /// A server could not be started or stopped with an error.
    #[error("server: {0}")]
    Server(String),
    /// A server could not be reached.
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    /// A load worker failed.
    #[error("load worker: {0}")]
    Worker(String),
    /// The latency histogram refused its bounds or a merge.
    #[error("histogram: {0}")]
    Histogram(String),
    /// `--live`: the node, the proxy or the contracts on the node could not be set up or driven,
    /// or the gateway did not pin the block it was meant to.
    #[error("live chain: {0}")]
    Chain(String),
}

/// The load shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Open loop: this many requests per second on a fixed timetable.
    FixedRate(f64),
    /// Closed loop: this many calls in flight at all times.
    Saturation(usize),
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The load shape.
    pub load: Load,
    /// The measurement window.
    pub duration: Duration,
    /// Load applied before the window and left out of every figure.
    pub warmup: Duration,
    /// A running `signgate serve` (plaintext loopback, demo policy) instead of starting one.
    pub target: Option<String>,
    /// An `SDN_ADVANCED.XML` file screened against beside the demo list by the in-process
    /// gateway (issue 16: a realistic list to reload).
    pub reload_list: Option<std::path::PathBuf>,
    /// With `reload_list`: reload every list (`Admin.ReloadSanctionsLists`) once, in the middle
    /// of the measurement window.
    pub reload_midway: bool,
    /// Also load an in-process gateway on the demo policy without `[anomaly]`, after the first.
    pub without_anomaly_too: bool,
}

/// Runs the load against the gateway, then against the echo floor, and reports both.
///
/// Starts the gateway in-process on the embedded demo (in a temporary data directory that is
/// removed afterwards) unless `opts.target` names a running one; the echo server always runs
/// in-process. Both are stopped before returning.
pub async fn run(opts: &Options) -> Result<Report, LoadError> {
    let windows = drive::Windows {
        warmup: opts.warmup,
        duration: opts.duration,
    };
    if opts.duration.is_zero() {
        return Err(LoadError::Options("--duration must be positive".to_owned()));
    }
    let submissions = request::Submissions::new(request::demo_initiator()?);
    let request_bytes = submissions.request(0).encoded_len();

    let own_gateway = match (&opts.target, &opts.reload_list) {
        (Some(_), _) => None,
        (None, Some(list)) => Some(servers::start_gateway_with_list(list).await?),
        (None, None) => Some(servers::start_gateway().await?),
    };
    let gateway_addr = match (&opts.target, &own_gateway) {
        (Some(addr), _) => addr.clone(),
        (None, Some(running)) => running.addr.to_string(),
        (None, None) => return Err(LoadError::Server("no gateway to load".to_owned())),
    };
    let where_gateway = if opts.target.is_some() {
        "--target"
    } else {
        "in-process, embedded demo"
    };
    let gateway = target::Target::gateway(&gateway_addr, submissions).await?;
    let reload = opts.reload_midway.then(|| {
        let at = windows.warmup + windows.duration / 2;
        tokio::spawn(servers::reload_lists_after(gateway_addr.clone(), at))
    });
    let gateway_tally = apply(&gateway, opts.load, windows).await;
    if let Some(reload) = reload {
        match reload.await {
            Ok(Ok(took)) => eprintln!(
                "lists reloaded midway through the window in {} ms",
                took.as_millis()
            ),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(LoadError::Server(format!("the reload task failed: {e}"))),
        }
    }
    if let Some(running) = own_gateway {
        running.stop().await?;
    }
    let without_anomaly = if opts.without_anomaly_too {
        let running = servers::start_gateway_without_anomaly().await?;
        let addr = running.addr.to_string();
        let submissions = request::Submissions::new(request::demo_initiator()?);
        let target = target::Target::gateway(&addr, submissions).await?;
        let tally = apply(&target, opts.load, windows).await;
        running.stop().await?;
        Some(tally?.report(
            format!("{addr} (in-process, demo policy without [anomaly])"),
            opts.duration,
        ))
    } else {
        None
    };

    let echo_server = servers::start_echo().await?;
    let echo_addr = echo_server.addr.to_string();
    let echo = target::Target::echo(&echo_addr, request_bytes).await?;
    let echo_tally = apply(&echo, opts.load, windows).await;
    echo_server.stop().await?;

    let mut report = Report::new(
        report::ModeReport::of(opts),
        request_bytes,
        gateway_tally?.report(format!("{gateway_addr} ({where_gateway})"), opts.duration),
        echo_tally?.report(format!("{echo_addr} (in-process)"), opts.duration),
    );
    report.without_anomaly = without_anomaly;
    Ok(report)
}

pub(crate) async fn apply(
    target: &target::Target,
    load: Load,
    w: drive::Windows,
) -> Result<report::Tally, LoadError> {
    match load {
        Load::FixedRate(rate) => drive::fixed_rate(target, rate, w).await,
        Load::Saturation(c) => drive::saturation(target, c, w).await,
    }
}
