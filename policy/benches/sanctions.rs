//! Sanctions benches: parsing the full OFAC advanced XML, address lookups on the real list and
//! on a synthetic one-million-address list, and screening a 100-action batch. The memory of the
//! one-million-address snapshot is printed (structure bytes and resident-set growth).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench code"
)]

use std::{
    fs::File,
    hint::black_box,
    io::{BufReader, Read},
    path::PathBuf,
    time::{Duration, SystemTime},
};

use alloy_primitives::{Address, keccak256};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signgate_policy::sanctions::{
    ListAction, ListCategory, ListFormat, ListInput, ListSpec, LoadedList, ParseLimits,
    SanctionsSnapshot, load_list, parse_sdn_advanced, screen,
};
use signgate_simulator::decode::{ActionPath, AddressRole, Involvement};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sanctions")
        .join(name)
}

fn full_xml() -> Vec<u8> {
    let file = BufReader::new(File::open(fixture("sdn_advanced_2025-11-19.xml.bz2")).unwrap());
    let mut out = Vec::with_capacity(121_000_000);
    bzip2::read::BzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn spec(id: &str, format: ListFormat) -> ListSpec {
    ListSpec::new(
        id,
        "bench",
        ListCategory::Sanctions,
        ListAction::Deny,
        format,
        Duration::from_secs(86_400),
    )
    .unwrap()
}

fn synthetic(n: u32) -> Vec<Address> {
    (0..n)
        .map(|i| Address::from_slice(&keccak256(i.to_be_bytes())[12..]))
        .collect()
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn load_synthetic(addresses: &[Address]) -> LoadedList {
    let mut text = String::with_capacity(addresses.len() * 43);
    for a in addresses {
        text.push_str(&format!("{a:#x}\n"));
    }
    load_list(
        &spec("synthetic", ListFormat::Plain),
        ListInput::Single(text.as_bytes()),
        None,
        SystemTime::now(),
        &ParseLimits::default(),
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let xml = full_xml();
    let mut group = c.benchmark_group("parse");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("sdn_advanced_full_2025-11-19", |b| {
        b.iter(|| parse_sdn_advanced(black_box(&xml[..]), &ParseLimits::default()).unwrap())
    });
    group.finish();

    let now = SystemTime::now();
    let real = load_list(
        &spec("ofac-sdn", ListFormat::SdnAdvancedXml),
        ListInput::Single(&xml[..]),
        None,
        now,
        &ParseLimits::default(),
    )
    .unwrap();
    drop(xml);
    let (real_snapshot, _) = SanctionsSnapshot::new(Vec::new()).with_list(real);
    let lazarus: Address = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"
        .parse()
        .unwrap();
    let clean: Address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        .parse()
        .unwrap();

    let mut group = c.benchmark_group("lookup");
    group.bench_function("real_list_hit", |b| {
        b.iter(|| real_snapshot.is_listed(black_box(&lazarus)))
    });
    group.bench_function("real_list_miss", |b| {
        b.iter(|| real_snapshot.is_listed(black_box(&clean)))
    });
    group.bench_function("real_list_hit_with_matches", |b| {
        b.iter(|| real_snapshot.lookup(black_box(&lazarus)))
    });

    let addresses = synthetic(1_000_000);
    let before = resident_bytes();
    let big = load_synthetic(&addresses);
    let after = resident_bytes();
    let (big_snapshot, _) = SanctionsSnapshot::new(Vec::new()).with_list(big);
    eprintln!(
        "1M-address snapshot: {} heap bytes in its structures ({:.1} bytes/address); resident set grew by {:?} bytes while loading",
        big_snapshot.heap_bytes(),
        big_snapshot.heap_bytes() as f64 / 1e6,
        before.zip(after).map(|(b, a)| a.saturating_sub(b)),
    );
    let probe_hits: Vec<Address> = addresses.iter().step_by(9973).copied().collect();
    let probe_misses = synthetic(2_000_000)
        .split_off(1_000_000)
        .into_iter()
        .step_by(9973)
        .collect::<Vec<_>>();
    let mut i = 0usize;
    group.bench_function("synthetic_1m_hit", |b| {
        b.iter(|| {
            i = (i + 1) % probe_hits.len();
            big_snapshot.is_listed(black_box(&probe_hits[i]))
        })
    });
    group.bench_function("synthetic_1m_miss", |b| {
        b.iter(|| {
            i = (i + 1) % probe_misses.len();
            big_snapshot.is_listed(black_box(&probe_misses[i]))
        })
    });
    group.finish();

    // A 100-action batch: 100 transfers, each with target and recipient (200 involvements),
    // one recipient listed, against the real list plus the synthetic million.
    let mut slots = real_snapshot.slots().to_vec();
    slots.extend(big_snapshot.slots().iter().cloned());
    let both = SanctionsSnapshot::new(slots);
    let token: Address = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
        .parse()
        .unwrap();
    let mut involvements = Vec::new();
    for (n, recipient) in synthetic(3_000_100)
        .split_off(3_000_000)
        .into_iter()
        .enumerate()
    {
        let path = ActionPath(vec![n]);
        involvements.push(Involvement {
            address: token,
            role: AddressRole::CallTarget,
            path: path.clone(),
            function: "transfer",
        });
        let recipient = if n == 57 { lazarus } else { recipient };
        involvements.push(Involvement {
            address: recipient,
            role: AddressRole::Recipient,
            path,
            function: "transfer",
        });
    }
    let mut group = c.benchmark_group("screen");
    group.bench_function("batch_100_actions_real_plus_1m", |b| {
        b.iter(|| {
            let outcome = screen(&both, black_box(&involvements), &[], now);
            assert_eq!(outcome.hits().len(), 1);
            outcome
        })
    });
    group.finish();
}

criterion_group!(sanctions, benches);
criterion_main!(sanctions);
