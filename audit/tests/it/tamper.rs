//! The realistic log verifies; then ≥1,000 random trials of each kind of tampering fail
//! verification and name the position that was touched.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::sync::OnceLock;

use alloy_primitives::{B256, FixedBytes};
use rand::{RngExt as _, SeedableRng, rngs::StdRng};
use signgate_audit::{
    AuditEvent, AuditRecord,
    export::ExportLine,
    merkle::leaf_hash,
    record::{ApprovalReceived, RECORD_VERSION},
    verify::{Finding, Verification, verify_export},
};
use signgate_policy::{evidence::Verdict, time::Timestamp};

use super::{
    memory::MemoryLog,
    realistic::{audit_key, caller, run_server},
};

const TRIALS: usize = 1_000;

struct Fixture {
    log: Vec<u8>,
    notes: Vec<(String, String)>,
}

/// Built once: a server run over the first 14 corpus cases (kept small because each of the
/// 5,000 trials verifies the whole export), checkpoints every 10 records and at the end.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut memory = MemoryLog::new(audit_key());
        run_server(&mut memory, 10, 14);
        let (log, notes) = memory.export(false);
        Fixture { log, notes }
    })
}

fn lines(log: &[u8]) -> Vec<Vec<u8>> {
    log.strip_suffix(b"\n")
        .unwrap()
        .split(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn verify(log: &[u8]) -> Verification {
    verify_export(log, &fixture().notes, &audit_key().verifying_key())
}

fn names(v: &Verification, index: u64) -> bool {
    v.findings
        .iter()
        .any(|f| f.position() == Some(index) || f.line() == Some(index as usize + 1))
}

#[test]
fn the_untouched_log_verifies() {
    let f = fixture();
    let v = verify(&f.log);
    assert!(v.passed(), "{:?}", v.findings);
    assert!(
        v.records > 50,
        "a realistic log has more than {} records",
        v.records
    );
    assert!(v.checkpoints >= 4);
    assert_eq!(v.verified_size, v.records);
    assert_eq!(v.uncovered, None);
    // No secrets: the bearer token appears only as its digest.
    assert!(!f.log.windows(19).any(|w| w == b"bearer-secret-token"));
}

#[test]
fn records_after_the_last_checkpoint_are_reported_as_uncovered() {
    let f = fixture();
    let mut ls = lines(&f.log);
    let extra = forged_line(ls.len() as u64);
    ls.push(extra);
    let v = verify(&join(&ls));
    assert!(v.passed(), "{:?}", v.findings);
    assert_eq!(v.uncovered, Some((v.records - 1, v.records)));
}

#[test]
fn flipped_bytes_are_found_where_they_are() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..TRIALS {
        let p = rng.random_range(0..ls.len());
        let mut t = ls.clone();
        let off = rng.random_range(0..t[p].len());
        t[p][off] ^= rng.random_range(1..=255u8);
        let v = verify(&join(&t));
        assert!(
            !v.passed(),
            "flip at line {} byte {off} went unnoticed",
            p + 1
        );
        assert!(names(&v, p as u64), "flip in record #{p}: {:?}", v.findings);
    }
}

#[test]
fn deleted_records_are_named() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..TRIALS {
        let p = rng.random_range(0..ls.len());
        let mut t = ls.clone();
        t.remove(p);
        let v = verify(&join(&t));
        assert!(!v.passed(), "deleting #{p} went unnoticed");
        assert!(
            v.findings.iter().any(
                |f| matches!(f, Finding::Missing { from, .. } if *from == p as u64)
                    || matches!(f, Finding::Truncated { records, .. } if *records == p as u64)
            ),
            "deleted #{p}: {:?}",
            v.findings
        );
    }
}

#[test]
fn swapped_records_are_named() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..TRIALS {
        let a = rng.random_range(0..ls.len());
        let b = loop {
            let b = rng.random_range(0..ls.len());
            if b != a {
                break b;
            }
        };
        let mut t = ls.clone();
        t.swap(a, b);
        let v = verify(&join(&t));
        assert!(!v.passed(), "swapping #{a} and #{b} went unnoticed");
        assert!(
            v.findings
                .iter()
                .all(|f| matches!(f, Finding::OutOfOrder { .. })),
            "{:?}",
            v.findings
        );
        assert!(
            names(&v, a as u64) || names(&v, b as u64),
            "swap {a}/{b}: {:?}",
            v.findings
        );
    }
}

/// A well-formed record claiming position `index`: an approval nobody gave.
fn forged_line(index: u64) -> Vec<u8> {
    let record = AuditRecord {
        v: RECORD_VERSION,
        index,
        at_ms: 1_767_225_600_000,
        event: AuditEvent::ApprovalReceived(ApprovalReceived {
            proposal_id: "approved-production-usdc".to_owned(),
            safe_tx_hash: B256::repeat_byte(0x42),
            verdict: Verdict::Approve,
            operator: Some("carol".to_owned()),
            public_key: FixedBytes([0x77; 32]),
            signature: FixedBytes([0x88; 64]),
            expires_at: Timestamp(1_767_312_000),
            received_at: Timestamp(1_767_225_600),
            caller: caller(),
            webauthn: None,
        }),
    };
    let bytes = record.to_bytes().unwrap();
    ExportLine {
        leaf_hash: B256::from(leaf_hash(&bytes)),
        record: serde_json::from_slice(&bytes).unwrap(),
        inclusion: None,
    }
    .to_line()
    .unwrap()
}

#[test]
fn inserted_forged_records_are_named() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..TRIALS {
        let p = rng.random_range(0..ls.len());
        let mut t = ls.clone();
        let before = rng.random_bool(0.5);
        t.insert(if before { p } else { p + 1 }, forged_line(p as u64));
        let v = verify(&join(&t));
        assert!(!v.passed(), "forged #{p} went unnoticed");
        assert!(
            v.findings
                .iter()
                .any(|f| matches!(f, Finding::Duplicate { index, .. } if *index == p as u64)),
            "forged #{p}: {:?}",
            v.findings
        );
    }
}

#[test]
fn truncation_before_a_checkpoint_is_named() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..TRIALS {
        let keep = rng.random_range(0..ls.len());
        let v = verify(&join(&ls[..keep]));
        assert!(!v.passed(), "truncation to {keep} went unnoticed");
        assert!(
            v.findings.iter().any(
                |f| matches!(f, Finding::Truncated { records, .. } if *records == keep as u64)
            ),
            "truncated to {keep}: {:?}",
            v.findings
        );
    }
}

#[test]
fn a_forger_who_rewrites_leaf_hashes_is_caught_by_the_signed_root() {
    let ls = lines(&fixture().log);
    let mut rng = StdRng::seed_from_u64(6);
    for _ in 0..50 {
        let p = rng.random_range(0..ls.len());
        let mut t = ls.clone();
        let mut line = ExportLine::parse(&t[p]).unwrap();
        line.record["at_ms"] = serde_json::json!(1u64);
        line.leaf_hash = B256::from(leaf_hash(&line.record_bytes().unwrap()));
        t[p] = line.to_line().unwrap();
        let v = verify(&join(&t));
        assert!(!v.passed());
        assert!(
            v.findings.iter().any(|f| matches!(f, Finding::RootMismatch { from, to, .. } if (*from..*to).contains(&(p as u64)))),
            "rewrote #{p}: {:?}",
            v.findings
        );
    }
}

#[test]
fn checkpoint_signature_forgery_and_wrong_key_fail() {
    let f = fixture();
    let mut notes = f.notes.clone();
    let (name, note) = notes.last().unwrap().clone();
    let forged = note.replace(&format!("\n{}\n", lines(&f.log).len()), "\n3\n");
    notes.push((format!("{name}-forged"), forged));
    let v = verify_export(&f.log, &notes, &audit_key().verifying_key());
    assert!(
        v.findings
            .iter()
            .any(|x| matches!(x, Finding::BadCheckpoint { .. })),
        "{:?}",
        v.findings
    );
    let other = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
    let v = verify_export(&f.log, &f.notes, &other);
    assert!(!v.passed());
    assert!(v.findings.contains(&Finding::NoCheckpoint));
}

#[test]
fn inclusion_proofs_verify_and_catch_edits() {
    let mut memory = MemoryLog::new(audit_key());
    run_server(&mut memory, 40, usize::MAX);
    let (log, notes) = memory.export(true);
    let v = verify_export(&log, &notes, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
    let mut ls = lines(&log);
    let mut line = ExportLine::parse(&ls[5]).unwrap();
    let proof = line.inclusion.as_mut().unwrap();
    proof.path[0] = B256::repeat_byte(1);
    ls[5] = line.to_line().unwrap();
    let v = verify_export(&join(&ls), &notes, &audit_key().verifying_key());
    assert!(
        v.findings
            .iter()
            .any(|f| matches!(f, Finding::BadInclusion { index: 5, .. })),
        "{:?}",
        v.findings
    );
}
