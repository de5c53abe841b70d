//! `signgate serve`'s shutdown order, through `serve::run` as the binary calls it: the calls
//! drain and the stop is recorded first, then the checkpoint task signs its last checkpoint —
//! which therefore commits to the `server_stopped` record — and `run` returns only once every
//! background task (checkpoints, metrics endpoint, list watcher) has ended.

use signgate_audit::{AuditRecord, checkpoint::parse_note};
use signgate_gateway::{
    audit::AuditReader,
    config::GatewayConfig,
    pipeline::setup,
    serve::{ServeArgs, run},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_is_recorded_then_covered_by_the_last_checkpoint_before_run_returns() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        (
            "SIGNGATE_STORE__DATA_DIR",
            dir.path().join("data").to_string_lossy().into_owned(),
        ),
        ("SIGNGATE_SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("SIGNGATE_METRICS__LISTEN", "127.0.0.1:0".to_owned()),
        ("SIGNGATE_CONSOLE__LISTEN", "127.0.0.1:0".to_owned()),
        // Only the start-up tick and the final one: the interval never elapses here.
        (
            "SIGNGATE_AUDIT__CHECKPOINT_INTERVAL_SECS",
            "3600".to_owned(),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let cfg = GatewayConfig::load(None, env.clone()).unwrap();

    // The shutdown signal is already there: the server starts, records its start, and stops.
    run(&ServeArgs { config: None }, env, std::future::ready(()))
        .await
        .unwrap();

    let records: Vec<AuditRecord> = AuditReader::open(&setup::audit_path(&cfg))
        .unwrap()
        .leaves()
        .unwrap()
        .iter()
        .map(|l| AuditRecord::from_bytes(l).unwrap())
        .collect();
    let kinds: Vec<&str> = records.iter().map(|r| r.event.kind()).collect();
    assert!(kinds.contains(&"server_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"server_stopped"), "{kinds:?}");

    // Written by the checkpoint task before `run` returned, and covering every record.
    let mut sizes: Vec<u64> = std::fs::read_dir(&cfg.audit.checkpoint_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "note"))
        .map(|p| {
            parse_note(&std::fs::read_to_string(p).unwrap())
                .unwrap()
                .0
                .size
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(
        sizes.last().copied(),
        Some(u64::try_from(records.len()).unwrap()),
        "the last checkpoint must cover the server_stopped record: {sizes:?} for {kinds:?}"
    );
}
