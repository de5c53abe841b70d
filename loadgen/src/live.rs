//! Live mode (`--live`): the gateway deciding on a real chain's state, measured in one run beside
//! the snapshot (demo) gateway and the echo floor.
//!
//! A ganache node (`signgate-testkit`, started through `scripts/test-node-start`) gets the real
//! Safe 1.4.1 stack at its canonical addresses, a Safe created through the real factory with the
//! demo owners (threshold 2) and a token the Safe holds. The live gateway runs the demo policy
//! with its treasury moved to that Safe and its `DEMO` token to that token (as the e2e test
//! `live_chain` does), and reads the chain through an [`RpcProxy`] that counts HTTP requests
//! (round trips) and adds a fixed latency to each: 0 ms, then `--rtt-ms`. Four targets, one after
//! the other, each a fresh server with an empty store: the snapshot gateway, the live gateway at
//! 0 ms and at `--rtt-ms`, the echo floor. For each:
//!
//! - **cold**: the first submission after a new block. The load generator mines a block on the
//!   node (directly, not through the proxy) and then refreshes the gateway's chain
//!   ([`Chains::refresh_all`], what the gateway's follower does every poll interval), which pins
//!   the new block. Both are needed: a new pin starts with an empty read cache, but a mined block
//!   the gateway has not pinned changes nothing, and a refresh that finds the same head keeps
//!   the same pin and its cache. So "cold" is what every new block costs its first decision in
//!   production, where the previous pin's reads are still there as guesses of what to fetch;
//!   the very first decision after start has no such guesses and is reported on its own.
//! - **warm**: the next submission, on the same pin (its reads cached).
//! - **saturation**: `--concurrency` calls kept in flight on one pin (no block is mined), for
//!   `--warmup` + `--duration` seconds, as in the non-live mode.
//!
//! Samples are sent one at a time and timed around the gRPC call only (the pin is moved before
//! the timer starts). The snapshot gateway and the echo floor have no blocks: their cold and
//! warm samples are simply two calls in a row. Every submission transfers a different amount
//! ([`Submissions`]), so none is answered from the store as a repeat.
//!
//! The live gateways run without the follower and with a poll interval of an hour, so the pin
//! moves only when the load generator moves it; `confirmations = 0` and `addressing =
//! "block_number"` because ganache has no EIP-1898 block objects.
//!
//! The test support panics on a failure (a node that does not start, a reverted deployment);
//! every call into it runs on its own task, so a panic ends the run with [`LoadError::Chain`]
//! instead of unwinding through the load generator.

use std::{
    future::Future,
    path::Path,
    str::FromStr as _,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, U256};
use prost::Message as _;
use signgate_chain::Chains;
use signgate_gateway::pipeline::setup::{DEMO_LIST_ID, DEMO_POLICY, DEMO_SANCTIONS};
use signgate_testkit::{ChainNode, RpcProxy, node::DEFAULT_CHAIN_ID, proxy::ProxyHandle};
use tempfile::TempDir;
use tokio::task::JoinError;
use toml::{Table, Value};

use crate::{
    LoadError, drive,
    report::{ChainFigures, LiveRatio, LiveReport, LiveTarget, Spread, Tally, summarize_methods},
    request::{self, Submissions, Wallet},
    servers::{self, Running},
    target::{Failure, Outcome, Target},
};

/// The node's chain id (`scripts/test-node-start`'s default).
pub const CHAIN_ID: u64 = DEFAULT_CHAIN_ID;

/// The DEMO ONLY owner keys file; only its addresses are read (the live Safe gets the demo
/// Safe's owners, so the demo policy's view of the wallet stays true).
const DEMO_OWNERS: &str = include_str!("../../gateway/config/demo/keys/owners.toml");

/// The demo Safe's threshold.
const THRESHOLD: u64 = 2;

/// Unmeasured cold/warm pairs before the samples, so the first connection, SQLite's first pages
/// and the first pins are not what is measured.
const WARMUP_PAIRS: usize = 3;

/// Sequence numbers of the samples start here, far above any saturation run's (which start at
/// 0), so no sample repeats a saturation request and is answered from the store.
const SAMPLE_SEQ: u64 = 500_000_000;

/// The live gateways' poll interval: an hour, so a pin is never renewed behind the load
/// generator's back (it refreshes the chain itself after each mined block).
const POLL_INTERVAL_MS: u64 = 3_600_000;

/// Settings of a live run.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// Latency the proxy adds to every HTTP request for the second live target.
    pub rtt: Duration,
    /// Cold samples, and warm samples, per target.
    pub samples: usize,
    /// Saturation: calls in flight.
    pub concurrency: usize,
    /// Saturation windows.
    pub windows: drive::Windows,
}

/// Runs the four targets one after the other and reports them side by side (see the module
/// docs). Starts and stops everything it measures, the node included.
pub async fn run_live(opts: &LiveOptions) -> Result<LiveReport, LoadError> {
    if opts.samples == 0 {
        return Err(LoadError::Options(
            "--samples must be at least 1".to_owned(),
        ));
    }
    if opts.concurrency == 0 {
        return Err(LoadError::Options(
            "--concurrency must be at least 1".to_owned(),
        ));
    }
    if opts.windows.duration.is_zero() {
        return Err(LoadError::Options("--duration must be positive".to_owned()));
    }
    let key = request::demo_initiator()?;
    let request_bytes = Submissions::new(key.clone()).request(0).encoded_len();
    let world = World::start().await?;
    let mut targets = Vec::new();

    let gateway = servers::start_gateway().await?;
    let addr = gateway.addr.to_string();
    let measured = match Target::gateway(&addr, Submissions::new(key.clone())).await {
        Ok(target) => measure(&target, None, opts).await,
        Err(e) => Err(e),
    };
    gateway.stop().await?;
    targets.push(measured?.into_target(
        "snapshot".to_owned(),
        format!("{addr} (in-process, embedded demo)"),
        opts,
    ));

    let rtt_ms = u64::try_from(opts.rtt.as_millis()).unwrap_or(u64::MAX);
    for latency in [Duration::ZERO, opts.rtt] {
        world.proxy.set_latency(latency);
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let (gateway, chains) = world.start_gateway(opts.rtt).await?;
        let addr = gateway.addr.to_string();
        let live = Live {
            node: world.node.clone(),
            proxy: world.proxy.handle(),
            chains,
            added_latency_ms: ms,
        };
        let measured = match Target::gateway(
            &addr,
            Submissions::for_wallet(key.clone(), world.wallet),
        )
        .await
        {
            Ok(target) => measure(&target, Some(&live), opts).await,
            Err(e) => Err(e),
        };
        gateway.stop().await?;
        targets.push(measured?.into_target(
            format!("live {ms} ms"),
            format!(
                "{addr} (in-process, chain {CHAIN_ID} through {} + {ms} ms)",
                world.proxy.url()
            ),
            opts,
        ));
    }
    world.proxy.set_latency(Duration::ZERO);

    let echo = servers::start_echo().await?;
    let addr = echo.addr.to_string();
    let measured = match Target::echo(&addr, request_bytes).await {
        Ok(target) => measure(&target, None, opts).await,
        Err(e) => Err(e),
    };
    echo.stop().await?;
    targets.push(measured?.into_target("echo".to_owned(), format!("{addr} (in-process)"), opts));
    // Killing the node and joining the proxy's thread block: not on a runtime worker.
    blocking("stopping the node and the proxy", move || drop(world)).await?;

    Ok(LiveReport {
        chain_id: CHAIN_ID,
        rtt_ms,
        samples: opts.samples,
        concurrency: opts.concurrency,
        duration_s: opts.windows.duration.as_secs_f64(),
        warmup_s: opts.windows.warmup.as_secs_f64(),
        request_bytes,
        targets,
    }
    .with_ratios())
}

/// The node, the proxy in front of it, the Safe and token on it, and the policy and sanctions
/// files every live gateway reads. Dropping it stops the proxy and kills the node.
struct World {
    node: Arc<ChainNode>,
    proxy: RpcProxy,
    wallet: Wallet,
    files: TempDir,
}

impl World {
    async fn start() -> Result<Self, LoadError> {
        let node = Arc::new(
            blocking(
                "starting ganache (scripts/test-node-start)",
                ChainNode::start,
            )
            .await?,
        );
        let owners = demo_owners()?;
        let on = node.clone();
        let (safe, token) = task(
            "deploying the Safe stack, a Safe and a token on ganache",
            async move {
                on.deploy_safe_stack().await;
                let safe = on.create_safe(&owners, THRESHOLD, 7).await;
                let million = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64));
                let token = on.deploy_token(safe, million).await;
                (safe, token)
            },
        )
        .await?;
        let url = node.url().to_owned();
        let proxy = blocking("starting the JSON-RPC proxy", move || RpcProxy::start(&url)).await?;
        let wallet = Wallet {
            chain_id: CHAIN_ID,
            safe,
            token,
        };
        let files = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
        write(&files.path().join("policy.toml"), &live_policy(wallet)?)?;
        write(&files.path().join("sanctions.txt"), DEMO_SANCTIONS)?;
        Ok(Self {
            node,
            proxy,
            wallet,
            files,
        })
    }

    /// A fresh live gateway (new data directory, empty store) reading the chain through the
    /// proxy, and its chains.
    async fn start_gateway(&self, rtt: Duration) -> Result<(Running, Arc<Chains>), LoadError> {
        let data = TempDir::new().map_err(|e| LoadError::Server(format!("temp dir: {e}")))?;
        let config = data.path().join("signgate.toml");
        write(&config, &self.config(data.path(), rtt)?)?;
        servers::start_live_gateway(&config, data).await
    }

    /// The gateway's configuration: plaintext loopback (the embedded default), data in `dir`,
    /// the live policy, the demo sanctions list, and one `[[chains]]` table for the node behind
    /// the proxy.
    fn config(&self, dir: &Path, rtt: Duration) -> Result<String, LoadError> {
        let path = |p: &Path| Value::String(p.display().to_string());
        let files = self.files.path();
        let rtt_ms = i64::try_from(rtt.as_millis()).unwrap_or(i64::MAX);
        let mut config = Table::new();
        config.insert(
            "store".into(),
            table([("data_dir", path(&dir.join("data")))]),
        );
        // Checkpoints outside the data directory: with `pipeline.demo = false` one inside it
        // needs a hook.
        config.insert(
            "audit".into(),
            table([("checkpoint_dir", path(&dir.join("checkpoints")))]),
        );
        config.insert("metrics".into(), table([("listen", "".into())]));
        config.insert("console".into(), table([("listen", "".into())]));
        config.insert(
            "pipeline".into(),
            table([
                ("demo", false.into()),
                ("policy", path(&files.join("policy.toml"))),
            ]),
        );
        config.insert(
            "sanctions".into(),
            Value::Array(vec![table([
                ("id", DEMO_LIST_ID.into()),
                ("path", path(&files.join("sanctions.txt"))),
                ("format", "plain".into()),
                ("category", "internal".into()),
                ("action", "deny".into()),
                ("max_age_hours", 168.into()),
            ])]),
        );
        config.insert(
            "chains".into(),
            Value::Array(vec![table([
                (
                    "chain_id",
                    i64::try_from(CHAIN_ID).unwrap_or(i64::MAX).into(),
                ),
                ("name", "ganache".into()),
                ("endpoints", Value::Array(vec![self.proxy.url().into()])),
                ("block", "latest".into()),
                ("confirmations", 0.into()),
                ("addressing", "block_number".into()),
                ("poll_interval_ms", Value::from(POLL_INTERVAL_MS as i64)),
                // Room for a few round trips at the added latency on a busy machine.
                (
                    "request_timeout_ms",
                    Value::from(3_000i64.saturating_add(rtt_ms.saturating_mul(4))),
                ),
            ])]),
        );
        toml::to_string(&config).map_err(|e| LoadError::Server(format!("live config: {e}")))
    }
}

fn table<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Table(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn write(path: &Path, text: &str) -> Result<(), LoadError> {
    std::fs::write(path, text).map_err(|e| LoadError::Server(format!("{}: {e}", path.display())))
}

/// The demo owners' addresses, from the bundled key file.
fn demo_owners() -> Result<Vec<Address>, LoadError> {
    let table: Table =
        toml::from_str(DEMO_OWNERS).map_err(|e| LoadError::DemoKey(e.to_string()))?;
    table
        .keys()
        .map(|a| Address::from_str(a).map_err(|e| LoadError::DemoKey(format!("owner {a}: {e}"))))
        .collect()
}

/// The demo policy with its treasury moved to the live Safe and its `DEMO` token to the live
/// token (the other wallet, the Bybit Safe on chain 1, stays and is never used).
fn live_policy(w: Wallet) -> Result<String, LoadError> {
    let treasury = "chain_id = 1\nsafe = \"0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe\"";
    let token = "0x7070707070707070707070707070707070707070";
    if !DEMO_POLICY.contains(treasury) || !DEMO_POLICY.contains(token) {
        return Err(LoadError::Options(
            "the demo policy changed shape: its treasury or DEMO token is not where --live \
             expects them"
                .to_owned(),
        ));
    }
    Ok(DEMO_POLICY
        .replace(
            treasury,
            &format!("chain_id = {}\nsafe = \"{}\"", w.chain_id, w.safe),
        )
        .replace(token, &w.token.to_string()))
}

/// Why a task of the test support ended without a result: its panic message, when it panicked.
fn failed(what: &str, e: JoinError) -> LoadError {
    let detail = match e.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned()),
        Err(e) => e.to_string(),
    };
    LoadError::Chain(format!("{what}: {detail}"))
}

/// Runs blocking test support on a blocking thread; a panic becomes [`LoadError::Chain`].
async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LoadError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| failed(what, e))
}

/// Runs async test support on its own task; a panic becomes [`LoadError::Chain`].
async fn task<T: Send + 'static>(
    what: &str,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T, LoadError> {
    tokio::spawn(f).await.map_err(|e| failed(what, e))
}

/// A live gateway's chain, as the load generator drives and observes it.
struct Live {
    node: Arc<ChainNode>,
    proxy: ProxyHandle,
    chains: Arc<Chains>,
    added_latency_ms: u64,
}

impl Live {
    /// The block the gateway decides on now.
    fn pinned(&self) -> Result<u64, LoadError> {
        let chain = self
            .chains
            .get(CHAIN_ID)
            .map_err(|e| LoadError::Chain(e.to_string()))?;
        let health = chain.health();
        health.pinned.map(|(number, _)| number).ok_or_else(|| {
            LoadError::Chain(format!(
                "chain {CHAIN_ID} has no pin: {}",
                health.problem.unwrap_or_default()
            ))
        })
    }

    /// Mines a block on the node and has the gateway pin it; the round trips of that refresh.
    async fn new_block(&self) -> Result<u64, LoadError> {
        let before = self.pinned()?;
        let node = self.node.clone();
        task("mining a block", async move { node.mine().await }).await?;
        self.proxy.reset();
        self.chains.refresh_all().await;
        let round_trips = self.proxy.http_requests();
        let after = self.pinned()?;
        if after <= before {
            return Err(LoadError::Chain(format!(
                "the gateway did not pin the mined block (still at block {after})"
            )));
        }
        Ok(round_trips)
    }
}

/// One sample.
struct Sample {
    latency: Duration,
    result: Result<Outcome, Failure>,
    round_trips: u64,
    calls: u64,
    /// Each HTTP request's methods, summarized.
    requests: Vec<String>,
}

/// Sends request `seq` alone and times the gRPC call; for a live gateway, counts what the proxy
/// saw meanwhile.
async fn call(target: &Target, live: Option<&Live>, seq: u64) -> Sample {
    let request = target.prepare(seq);
    if let Some(l) = live {
        l.proxy.reset();
    }
    let sent = Instant::now();
    let result = target.send(request).await;
    let latency = sent.elapsed();
    let (round_trips, calls, requests) = live.map_or((0, 0, Vec::new()), |l| {
        let stats = l.proxy.stats();
        let requests = stats.methods.iter().map(|m| summarize_methods(m)).collect();
        (stats.http_requests, stats.rpc_calls, requests)
    });
    Sample {
        latency,
        result,
        round_trips,
        calls,
        requests,
    }
}

/// One target's figures, before they are reported.
struct Measured {
    cold: Tally,
    warm: Tally,
    saturation: Tally,
    chain: Option<ChainFigures>,
}

impl Measured {
    fn into_target(self, name: String, target: String, opts: &LiveOptions) -> LiveTarget {
        LiveTarget {
            name,
            cold: self.cold.samples(),
            warm: self.warm.samples(),
            saturation: self
                .saturation
                .report(target.clone(), opts.windows.duration),
            target,
            chain: self.chain,
            ratio: LiveRatio::default(),
        }
    }
}

/// The first decision, the warm-up pairs, the cold and warm samples, then saturation.
async fn measure(
    target: &Target,
    live: Option<&Live>,
    opts: &LiveOptions,
) -> Result<Measured, LoadError> {
    let mut seq = SAMPLE_SEQ;
    let mut next = || {
        seq += 1;
        seq
    };
    // A live gateway's first decision: the pin taken at start, with no previous pin.
    let first = call(target, live, next()).await;
    for _ in 0..WARMUP_PAIRS {
        if let Some(l) = live {
            l.new_block().await?;
        }
        call(target, live, next()).await;
        call(target, live, next()).await;
    }
    let (mut cold, mut warm) = (Tally::new()?, Tally::new()?);
    let (mut cold_trips, mut cold_calls, mut warm_trips, mut pin_trips) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cold_requests, mut warm_requests) = (Vec::new(), Vec::new());
    for _ in 0..opts.samples {
        if let Some(l) = live {
            pin_trips.push(l.new_block().await?);
        }
        let c = call(target, live, next()).await;
        cold_trips.push(c.round_trips);
        cold_calls.push(c.calls);
        cold_requests = c.requests;
        cold.record(c.latency, c.result);
        let w = call(target, live, next()).await;
        warm_trips.push(w.round_trips);
        warm_requests = w.requests;
        warm.record(w.latency, w.result);
    }
    if let Some(l) = live {
        l.proxy.reset();
    }
    let saturation = drive::saturation(target, opts.concurrency, opts.windows).await?;
    let chain = live.map(|l| ChainFigures {
        added_latency_ms: l.added_latency_ms,
        cold_round_trips: Spread::of(&cold_trips),
        cold_calls: Spread::of(&cold_calls),
        warm_round_trips: Spread::of(&warm_trips),
        new_pin_round_trips: Spread::of(&pin_trips),
        saturation_round_trips: l.proxy.http_requests(),
        first_latency_us: match first.result {
            Ok(_) => u64::try_from(first.latency.as_micros()).unwrap_or(u64::MAX),
            Err(_) => 0,
        },
        first_round_trips: first.round_trips,
        cold_requests,
        warm_requests,
    });
    Ok(Measured {
        cold,
        warm,
        saturation,
        chain,
    })
}
