//! Audit log bench: durable append throughput of the live SQLite log, and what opening it costs
//! at start (issue 17: from the newest checkpoint, against re-hashing every record). Offline
//! verification is benched in the audit crate, `audit/benches/verify.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use alloy_primitives::{B256, FixedBytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use signgate_audit::{
    AuditEvent,
    record::{ApprovalReceived, Caller, TokenDigest},
};
use signgate_gateway::audit::AuditLog;
use signgate_policy::{evidence::Verdict, time::Timestamp};

/// An approval record: the most frequent record in a busy log (~600 bytes).
fn approval(i: u64) -> AuditEvent {
    AuditEvent::ApprovalReceived(ApprovalReceived {
        proposal_id: format!("p-{i}"),
        safe_tx_hash: B256::repeat_byte((i % 251) as u8),
        verdict: Verdict::Approve,
        operator: Some("carol".to_owned()),
        public_key: FixedBytes([7; 32]),
        signature: FixedBytes([8; 64]),
        expires_at: Timestamp(1_767_312_000),
        received_at: Timestamp(1_767_225_600),
        caller: Caller {
            identity: "CN=treasury-ui".to_owned(),
            token: Some(TokenDigest::of(b"t")),
        },
        webauthn: None,
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
            log.append(approval(i)).unwrap()
        })
    });
    g.finish();
}

/// Opening a log of 8,000 records (as the gateway does at every start): with a checkpoint at
/// its end (verified from it: signature, stored tree, no tail), with one 100 records before
/// its end (a tail of 100 re-hashed), and without any (every record re-hashed).
fn open(c: &mut Criterion) {
    const RECORDS: u64 = 8_000;
    let key = SigningKey::from_bytes(&[1; 32]);
    let build = |checkpoint_at: Option<u64>| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let log = AuditLog::open(&path, key.clone()).unwrap();
        for start in (0..RECORDS).step_by(100) {
            if checkpoint_at == Some(start) {
                log.checkpoint().unwrap();
            }
            log.append_all((start..start + 100).map(approval).collect())
                .unwrap();
        }
        if checkpoint_at == Some(RECORDS) {
            log.checkpoint().unwrap();
        }
        (dir, path)
    };
    let mut g = c.benchmark_group("audit_open_8000");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for (name, at) in [
        ("checkpoint_at_end", Some(RECORDS)),
        ("checkpoint_100_before_end", Some(RECORDS - 100)),
        ("no_checkpoint", None),
    ] {
        let (_dir, path) = build(at);
        g.bench_function(name, |b| {
            b.iter(|| AuditLog::open(&path, key.clone()).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, append, open);
criterion_main!(benches);
