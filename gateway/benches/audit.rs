//! Audit log bench: durable append throughput of the live SQLite log (offline verification is
//! benched in the audit crate, `audit/benches/verify.rs`).

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

criterion_group!(benches, append);
criterion_main!(benches);
