//! The load generator end to end on a tiny load: the in-process gateway on the embedded demo and
//! the echo floor, both over real gRPC on 127.0.0.1:0. Counts only; no latency is asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop loudly"
)]

use std::time::Duration;

use signgate_loadgen::{Load, Options, run};

fn count(map: &std::collections::BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

/// Twenty demo transfers at 10 req/s: every one answered, every one a distinct proposal that
/// waits for two treasury approvals; twenty echoes of the same size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_run_counts_every_request_and_decision() {
    let report = run(&Options {
        load: Load::FixedRate(10.0),
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        target: None,
    })
    .await
    .unwrap();
    let (g, e) = (&report.gateway, &report.echo);
    assert_eq!(g.requests, 20, "{}", report.table());
    assert_eq!(g.ok, 20);
    assert!(g.errors.is_empty(), "gateway errors: {:?}", g.errors);
    assert_eq!(
        count(&g.outcomes, "needs_approvals"),
        20,
        "{:?}",
        g.outcomes
    );
    assert_eq!(count(&g.outcomes, "denied"), 0);
    assert_eq!(e.requests, 20);
    assert_eq!(e.ok, 20);
    assert!(e.errors.is_empty(), "echo errors: {:?}", e.errors);
    assert_eq!(count(&e.outcomes, "echoed"), 20);
    assert!(report.request_bytes > 0);
    assert!(g.latency_us.p50 > 0 && e.latency_us.p50 > 0);
    assert!(g.throughput_rps > 0.0 && e.throughput_rps > 0.0);
    assert!(report.ratio.p50 > 0.0 && report.ratio.throughput > 0.0);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["mode"]["kind"], "fixed_rate");
    assert_eq!(json["gateway"]["outcomes"]["needs_approvals"], 20);
}

/// Two calls in flight for a moment, after a warm-up that is left out: answers only, and the
/// warm-up's calls are not counted as errors or outcomes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_run_counts_answers_without_errors() {
    let report = run(&Options {
        load: Load::Saturation(2),
        duration: Duration::from_millis(700),
        warmup: Duration::from_millis(300),
        target: None,
    })
    .await
    .unwrap();
    let (g, e) = (&report.gateway, &report.echo);
    assert!(g.ok > 0, "{}", report.table());
    assert!(g.errors.is_empty(), "gateway errors: {:?}", g.errors);
    assert_eq!(count(&g.outcomes, "needs_approvals"), g.ok);
    assert!(e.ok > 0);
    assert!(e.errors.is_empty(), "echo errors: {:?}", e.errors);
    assert_eq!(count(&e.outcomes, "echoed"), e.ok);
    assert_eq!(report.mode.concurrency, Some(2));
}
