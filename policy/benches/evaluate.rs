//! `evaluate` on a typical production transfer: 250k USDC from the cold treasury to a known
//! destination with three valid treasury approvals, with and without verifying the three
//! ed25519 signatures.

#![allow(
    clippy::expect_used,
    reason = "a bench on a broken fixture should fail loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use signgate_policy::{
    Policy,
    approvals::SignatureChecks,
    cases::{Case, SignatureMode},
    evaluate, evaluate_with,
};

const POLICY: &str = include_str!("../tests/fixtures/policies/standard.toml");
const CASE: &str = include_str!("../tests/fixtures/cases/approved-production-usdc.toml");

fn bench(c: &mut Criterion) {
    let policy = Policy::compile(POLICY).expect("fixture policy compiles");
    let case = Case::parse(&format!("{CASE}\n[[approvals]]\noperator = \"henry\"\n"))
        .expect("fixture case parses");
    let (evidence, _) = case
        .evidence(&policy, SignatureMode::TestKeys)
        .expect("fixture evidence");
    assert_eq!(evidence.approvals.len(), 3);
    assert!(evaluate(&policy, &evidence).is_approved());
    let checks = SignatureChecks::verify(&evidence.approvals);

    c.bench_function(
        "evaluate/production_transfer/3_approvals/verify_signatures",
        |b| {
            b.iter(|| {
                evaluate(
                    std::hint::black_box(&policy),
                    std::hint::black_box(&evidence),
                )
            });
        },
    );
    c.bench_function(
        "evaluate/production_transfer/3_approvals/preverified",
        |b| {
            b.iter(|| {
                evaluate_with(
                    std::hint::black_box(&policy),
                    std::hint::black_box(&evidence),
                    &checks,
                )
            });
        },
    );
    c.bench_function("policy/compile/standard", |b| {
        b.iter(|| Policy::compile(std::hint::black_box(POLICY)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
