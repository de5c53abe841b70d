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
/// waits for two treasury approvals; twenty echoes of the same size; and twenty more on the
/// demo without `[anomaly]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_run_counts_every_request_and_decision() {
    let report = run(&Options {
        load: Load::FixedRate(10.0),
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        target: None,
        reload_list: None,
        reload_midway: false,
        without_anomaly_too: true,
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

    let without = report.without_anomaly.as_ref().unwrap();
    assert_eq!(without.ok, 20, "{}", report.table());
    assert_eq!(count(&without.outcomes, "needs_approvals"), 20);
    assert!(without.target.contains("without [anomaly]"));
    assert!(report.table().contains("without [anomaly]: "));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["mode"]["kind"], "fixed_rate");
    assert_eq!(json["gateway"]["outcomes"]["needs_approvals"], 20);
    assert_eq!(json["without_anomaly"]["ok"], 20);
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
        reload_list: None,
        reload_midway: false,
        without_anomaly_too: false,
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

/// `--live` on a tiny load: a ganache node (about a second to start), the four targets, every
/// submission answered with the demo decision, and the proxy's counts where the gateway reads
/// the chain (a cold submission reads more than a warm one, pinning a block takes a request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_run_measures_four_targets_and_counts_round_trips() {
    use signgate_loadgen::{
        drive::Windows,
        live::{LiveOptions, run_live},
    };
    let report = run_live(&LiveOptions {
        rtt: Duration::from_millis(5),
        samples: 2,
        concurrency: 2,
        windows: Windows {
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
        },
    })
    .await
    .unwrap();
    let names: Vec<&str> = report.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["snapshot", "live 0 ms", "live 5 ms", "echo"]);
    for t in &report.targets {
        let decision = if t.name == "echo" {
            "echoed"
        } else {
            "needs_approvals"
        };
        for (phase, s) in [("cold", &t.cold), ("warm", &t.warm)] {
            assert_eq!(s.ok, 2, "{} {phase}: {}", t.name, report.table());
            assert_eq!(count(&s.outcomes, decision), 2, "{} {phase}", t.name);
        }
        assert!(t.saturation.ok > 0, "{}", t.name);
        assert!(t.saturation.errors.is_empty(), "{}", t.name);
        assert_eq!(count(&t.saturation.outcomes, decision), t.saturation.ok);
        assert_eq!(t.chain.is_some(), t.name.starts_with("live"), "{}", t.name);
        if let Some(c) = &t.chain {
            assert!(c.cold_round_trips.min >= 1, "{}: {c:?}", t.name);
            assert!(
                c.cold_calls.min > c.warm_round_trips.max,
                "{}: {c:?}",
                t.name
            );
            assert!(c.new_pin_round_trips.min >= 1, "{}: {c:?}", t.name);
            assert!(!c.cold_requests.is_empty(), "{}: {c:?}", t.name);
        }
    }
    assert!(report.table().contains("round trips / cold"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["targets"][1]["chain"]["added_latency_ms"], 0);
    assert_eq!(json["targets"][2]["chain"]["added_latency_ms"], 5);
}

/// A real OFAC list beside the demo list, reloaded midway through the window: every call still
/// answered, none denied (the demo payee is on neither list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_reloaded_midway_leaves_every_call_answered() {
    let list = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../policy/tests/fixtures/sanctions/sdn_advanced_2025-11-19_excerpt_uids_27307_42498_43377_56360.xml",
    );
    let report = run(&Options {
        load: Load::Saturation(2),
        duration: Duration::from_millis(1000),
        warmup: Duration::from_millis(200),
        target: None,
        reload_list: Some(list),
        reload_midway: true,
        without_anomaly_too: false,
    })
    .await
    .unwrap();
    let g = &report.gateway;
    assert!(g.ok > 0, "{}", report.table());
    assert!(g.errors.is_empty(), "gateway errors: {:?}", g.errors);
    assert_eq!(count(&g.outcomes, "needs_approvals"), g.ok);
}

/// `--replicas-on`: five rows (the echo floor first), every gateway call answered with the demo
/// decision, and each PostgreSQL configuration's database busy with the stored proposals.
/// Needs the shared PostgreSQL server (`scripts/postgres-up`; `SIGNGATE_TEST_PG_URL_BASE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_run_measures_sqlite_and_one_to_three_replicas() {
    let base = std::env::var(signgate_testkit::postgres::URL_BASE_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| signgate_testkit::postgres::DEFAULT_URL_BASE.to_owned());
    let opts = Options {
        load: Load::Saturation(3),
        duration: Duration::from_millis(600),
        warmup: Duration::from_millis(200),
        target: None,
        reload_list: None,
        reload_midway: false,
        without_anomaly_too: false,
    };
    let report = signgate_loadgen::replicas::run_replicas(&opts, &base)
        .await
        .unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "echo floor",
            "SQLite, 1 gateway",
            "PostgreSQL, 1 replica",
            "PostgreSQL, 2 replicas",
            "PostgreSQL, 3 replicas"
        ]
    );
    for r in &report.rows[1..] {
        let f = &r.figures;
        assert!(f.ok > 0, "{}", report.table());
        assert!(f.errors.is_empty(), "{}: {:?}", r.name, f.errors);
        assert_eq!(count(&f.outcomes, "needs_approvals"), f.ok, "{}", r.name);
    }
    for r in &report.rows[2..] {
        let db = r.database.as_ref().unwrap();
        assert!(db.proposals >= r.figures.ok, "{}", report.table());
        assert!(db.commits_per_submission >= 1.0, "{}", report.table());
    }
    assert_eq!(report.rows[0].ratio.throughput, 1.0);
}
