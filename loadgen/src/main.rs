//! `signgate-load`: loads the gateway and the echo floor with the same load and prints both.
//! With `--live`, also the gateway deciding on a live node.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use signgate_loadgen::{
    Load, Options, drive,
    live::{LiveOptions, run_live},
    replicas, run,
};

/// Measure the signgate gateway's SubmitProposal latency and throughput beside a trivial tonic
/// echo service (the floor), under the same load, in one run.
#[derive(Debug, Parser)]
#[command(name = "signgate-load", version)]
struct Args {
    /// Fixed rate (open loop): requests per second, latency measured from each request's
    /// scheduled send time.
    #[arg(
        long,
        conflicts_with = "concurrency",
        required_unless_present = "concurrency"
    )]
    rate: Option<f64>,
    /// Saturation (closed loop): calls kept in flight.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Measurement window in seconds.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Load applied before the window, in seconds, left out of every figure.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// A running `signgate serve` (plaintext loopback, embedded demo policy), as host:port or
    /// URL. Without it the gateway is started in this process on the embedded demo.
    #[arg(long)]
    target: Option<String>,
    /// Screen against this `SDN_ADVANCED.XML` file too (in-process gateway only), so that
    /// `--reload-midway` reloads a real list.
    #[arg(long, conflicts_with_all = ["target", "live"])]
    reload_list: Option<std::path::PathBuf>,
    /// With --reload-list: reload every sanctions list once, in the middle of the measurement
    /// window (Admin.ReloadSanctionsLists); run without it for the comparison.
    #[arg(long, requires = "reload_list")]
    reload_midway: bool,
    /// Also load a second in-process gateway on the demo policy without its `[anomaly]` table,
    /// in the same run: what observing and judging every call costs.
    #[arg(long, conflicts_with_all = ["target", "live", "reload_list"])]
    without_anomaly_too: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Live chain state: start a ganache node (scripts/test-node-start) with a Safe and a token,
    /// and measure, in this one run, the snapshot (demo) gateway, the gateway deciding on the
    /// node through a JSON-RPC proxy at 0 ms and at --rtt-ms added latency, and the echo floor:
    /// cold and warm latency (--samples each) and saturation throughput (--concurrency), with
    /// the proxy's round trips per submission.
    #[arg(long, requires = "concurrency", conflicts_with_all = ["rate", "target"])]
    live: bool,
    /// With --live: latency the proxy adds to every HTTP request to the node, in milliseconds,
    /// for the second live gateway (the first gets 0).
    #[arg(long, default_value_t = 50, requires = "live")]
    rtt_ms: u64,
    /// Several replicas on PostgreSQL (issue 15): measure, in this one run, the echo floor, the
    /// in-process gateway on SQLite, and 1, 2 and 3 in-process replicas on PostgreSQL, each
    /// configuration on a fresh database created on the server at this base URL (no database
    /// name, e.g. postgres://postgres@127.0.0.1:5432; dropped afterwards), the calls spread
    /// round robin over the replicas.
    #[arg(long, value_name = "URL", conflicts_with_all = ["target", "live", "reload_list"])]
    replicas_on: Option<String>,
    /// With --live: cold samples, and as many warm ones, per target.
    #[arg(long, default_value_t = 30, requires = "live")]
    samples: usize,
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{flag} {s} is not a duration"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let load = match (args.rate, args.concurrency) {
        (Some(r), _) => Load::FixedRate(r),
        (None, Some(0)) => bail!("--concurrency must be at least 1"),
        (None, Some(c)) => Load::Saturation(c),
        (None, None) => bail!("give --rate R (fixed rate) or --concurrency C (saturation)"),
    };
    let opts = Options {
        load,
        duration: seconds("duration", args.duration)?,
        warmup: seconds("warmup", args.warmup)?,
        target: args.target,
        reload_list: args.reload_list,
        reload_midway: args.reload_midway,
        without_anomaly_too: args.without_anomaly_too,
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if args.live {
        let Load::Saturation(concurrency) = opts.load else {
            bail!("--live measures saturation: give --concurrency C");
        };
        let live = LiveOptions {
            rtt: Duration::from_millis(args.rtt_ms),
            samples: args.samples,
            concurrency,
            windows: drive::Windows {
                warmup: opts.warmup,
                duration: opts.duration,
            },
        };
        let report = rt
            .block_on(run_live(&live))
            .context("the live run failed")?;
        return print_report(&report, report.table(), args.json);
    }
    if let Some(base) = &args.replicas_on {
        let report = rt
            .block_on(replicas::run_replicas(&opts, base))
            .context("the replicas run failed")?;
        return print_report(&report, report.table(), args.json);
    }
    let report = rt.block_on(run(&opts)).context("the load run failed")?;
    print_report(&report, report.table(), args.json)?;
    Ok(())
}

/// Prints a run's report: as JSON with `--json`, otherwise its `table`.
fn print_report(report: &impl serde::Serialize, table: String, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).context("encoding the report")?
        );
    } else {
        print!("{table}");
    }
    Ok(())
}
