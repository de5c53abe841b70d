//! Offline verification of an export of 100,000 records (the durable append is benched in the
//! gateway, `gateway/benches/audit.rs`, because it needs the live SQLite log).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::{B256, FixedBytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use signgate_audit::{
    AuditEvent, AuditRecord,
    checkpoint::{Checkpoint, origin_for},
    export::export_jsonl,
    merkle::{Tree, leaf_hash},
    record::{ApprovalReceived, Caller, RECORD_VERSION, TokenDigest},
    verify::verify_export,
};
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

fn verify(c: &mut Criterion) {
    const N: u64 = 100_000;
    let key = SigningKey::from_bytes(&[2; 32]);
    // The log is built in memory (the verifier only sees the export; durability is measured
    // by the gateway's append bench), with a checkpoint every 10,000 records as a cadence
    // would leave.
    let leaves: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            AuditRecord {
                v: RECORD_VERSION,
                index: i,
                at_ms: 1_767_225_600_000 + i,
                event: approval(i),
            }
            .to_bytes()
            .unwrap()
        })
        .collect();
    let tree = Tree::new(leaves.iter().map(|l| leaf_hash(l)).collect());
    let origin = origin_for(&key.verifying_key());
    let notes: Vec<String> = (1..=N / 10_000)
        .map(|k| {
            let size = k * 10_000;
            Checkpoint {
                origin: origin.clone(),
                size,
                root: tree.root(size).unwrap(),
                time: k,
            }
            .sign(&key)
        })
        .collect();
    let mut out = Vec::new();
    export_jsonl(&leaves, &notes, false, &mut out).unwrap();
    println!("export of {N} records: {} MiB", out.len() / (1024 * 1024));
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

criterion_group!(benches, verify);
criterion_main!(benches);
