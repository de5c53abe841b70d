//! Audit log benches: durable append throughput and offline verification of 100,000 records.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use signgate_gateway::audit::{
    AuditEvent, AuditLog, AuditReader, export::export_jsonl, record::ServerStopped,
    verify::verify_export,
};

fn event(i: u64) -> AuditEvent {
    AuditEvent::ServerStopped(ServerStopped {
        reason: format!(
            "bench record {i} with some padding to look like a real record ............"
        ),
    })
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(
        &dir.path().join("audit.db"),
        SigningKey::from_bytes(&[1; 32]),
    )
    .unwrap();
    let mut g = c.benchmark_group("audit_append");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(10));
    let mut i = 0u64;
    g.bench_function("durable_append", |b| {
        b.iter(|| {
            i += 1;
            log.append(event(i)).unwrap()
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let key = SigningKey::from_bytes(&[2; 32]);
    {
        let log = AuditLog::open(&path, key.clone()).unwrap();
        // Bulk-load outside the timed part; each append is still a durable commit.
        for i in 0..N {
            log.append(event(i)).unwrap();
        }
        log.checkpoint().unwrap();
    }
    let reader = AuditReader::open(&path).unwrap();
    let leaves = reader.leaves().unwrap();
    let notes = reader.checkpoints().unwrap();
    let mut out = Vec::new();
    export_jsonl(&leaves, &notes, false, &mut out).unwrap();
    let named: Vec<(String, String)> = notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("cp{i}"), n))
        .collect();
    let public = key.verifying_key();
    let mut g = c.benchmark_group("audit_verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("verify_100k", |b| {
        b.iter(|| {
            let v = verify_export(&out, &named, &public);
            assert!(v.passed());
            v
        })
    });
    g.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
