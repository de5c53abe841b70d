//! The anomaly rules' cost per call: `evaluate` against an operator's 30-day profile (a usual
//! read, and an off-hours approval from a new device that raises alerts), and `observe`
//! folding one call into it. The gateway pays both on every call it observes.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a bench on a broken fixture should fail loudly"
)]

use std::{hint::black_box, net::IpAddr};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use signgate_policy::{
    Policy,
    anomaly::{
        ApprovalContext, CallKind, CertFingerprint, IdentityClass, Observation, Outcome, Profile,
        ReadCall, SourceNetwork, Subject, WalletId, evaluate,
    },
    time::{DAY, HOUR, Timestamp},
};

const TEAM: &str = include_str!("../tests/fixtures/anomaly/team.toml");

/// Monday 2026-02-16, 00:00Z.
const START: u64 = 1_771_200_000;

fn call(at: u64, i: u64) -> Observation {
    let cert = |n: u8| CertFingerprint(alloy_primitives::B256::repeat_byte(n));
    let net = |ip: &str| SourceNetwork::of(ip.parse::<IpAddr>().expect("ip"));
    let wallets = [1u8, 2, 3].map(|n| WalletId {
        chain_id: 1,
        safe: alloy_primitives::Address::repeat_byte(n),
    });
    let approve = i.is_multiple_of(10);
    Observation {
        at: Timestamp(at),
        operator: Some("alice".into()),
        key: None,
        client_cert: Some(cert(1 + u8::from(i.is_multiple_of(3)))),
        network: Some(if i.is_multiple_of(4) {
            net("81.2.69.10")
        } else {
            net("203.0.113.10")
        }),
        identity: IdentityClass::Operator,
        call: if approve {
            CallKind::Approve
        } else {
            CallKind::Read(ReadCall::Get)
        },
        wallet: wallets.get(usize::try_from(i % 3).expect("small")).copied(),
        outcome: Outcome::Allowed,
        approval: approve.then_some(ApprovalContext {
            submitted_at: Timestamp(at - 1_800),
            large_transfer: false,
        }),
        probation: None,
    }
}

fn bench(c: &mut Criterion) {
    let policy = Policy::compile(TEAM).expect("fixture compiles");
    let settings = policy.anomaly();
    let mut profile = Profile::new(Subject::Operator("alice".into()));
    let mut i = 0;
    // 30 days, weekdays only, 50 calls between 07:00Z and 17:00Z (08:00–18:00 in Berlin).
    for day in 0..30 {
        if day % 7 >= 5 {
            continue;
        }
        for k in 0..50 {
            i += 1;
            let at = START + day * DAY + 7 * HOUR + k * 720 + i % 300;
            profile.observe(&call(at, i), settings);
        }
    }
    let usual = call(START + 30 * DAY + 9 * HOUR, 1);
    assert!(evaluate(&profile, &usual, settings).is_empty());
    let mut odd = call(START + 32 * DAY + 2 * HOUR, 10);
    odd.client_cert = Some(CertFingerprint(alloy_primitives::B256::repeat_byte(0xee)));
    assert_eq!(evaluate(&profile, &odd, settings).len(), 2);
    println!(
        "profile: {} bytes as JSON",
        serde_json::to_string(&profile).expect("json").len()
    );

    c.bench_function("anomaly/evaluate/30_day_profile/usual_read", |b| {
        b.iter(|| evaluate(black_box(&profile), black_box(&usual), black_box(settings)));
    });
    c.bench_function(
        "anomaly/evaluate/30_day_profile/off_hours_new_device",
        |b| {
            b.iter(|| evaluate(black_box(&profile), black_box(&odd), black_box(settings)));
        },
    );
    c.bench_function("anomaly/observe/30_day_profile", |b| {
        b.iter_batched(
            || profile.clone(),
            |mut p| {
                p.observe(black_box(&usual), black_box(settings));
                p
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
