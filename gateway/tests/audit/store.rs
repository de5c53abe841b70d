//! The durable store: records survive reopening, the key binds the file, an on-disk edit is
//! refused at start, and an unwritable store makes `append` fail and `open` refuse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::process::Command;

use ed25519_dalek::SigningKey;
use signgate_audit::{AuditEvent, record::ServerStopped, verify::verify_export};
use signgate_gateway::audit::{AuditError, AuditLog, AuditOptions};

use super::fixtures::{audit_key, build_log, export};

fn event(i: usize) -> AuditEvent {
    AuditEvent::ServerStopped(ServerStopped {
        reason: format!("record {i} {}", "x".repeat(200)),
    })
}

#[test]
fn records_survive_reopening_and_checkpoints_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let head = {
        let log = AuditLog::open(&path, audit_key()).unwrap();
        for i in 0..10 {
            assert_eq!(log.append(event(i)).unwrap().0, i as u64);
        }
        let cp = log.checkpoint().unwrap();
        assert_eq!(
            log.checkpoint().unwrap(),
            cp,
            "no new checkpoint without new records"
        );
        log.head().unwrap()
    };
    let log = AuditLog::open(&path, audit_key()).unwrap();
    assert_eq!(log.head().unwrap(), head);
    assert_eq!(log.append(event(10)).unwrap().0, 10);
}

#[test]
fn another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    AuditLog::open(&path, audit_key())
        .unwrap()
        .append(event(0))
        .unwrap();
    let err = AuditLog::open(&path, SigningKey::from_bytes(&[1; 32])).unwrap_err();
    assert!(matches!(err, AuditError::WrongKey { .. }), "{err}");
}

#[test]
fn a_record_edited_on_disk_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    {
        let log = AuditLog::open(&path, audit_key()).unwrap();
        for i in 0..5 {
            log.append(event(i)).unwrap();
        }
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The triggers stop an ordinary UPDATE …
    assert!(
        conn.execute("UPDATE audit_leaves SET data = x'00' WHERE idx = 2", [])
            .is_err()
    );
    // … someone with file access drops them first.
    conn.execute_batch(
        "DROP TRIGGER audit_leaves_no_update; UPDATE audit_leaves SET data = x'7b7d' WHERE idx = 2;",
    )
    .unwrap();
    drop(conn);
    let err = AuditLog::open(&path, audit_key()).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { index: 2, .. }), "{err}");
}

#[test]
fn open_refuses_a_location_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/audit.db");
    let err = AuditLog::open(&missing, audit_key()).unwrap_err();
    assert!(matches!(err, AuditError::Store { .. }), "{err}");
    assert!(err.to_string().contains("cannot be opened or written"));
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    assert!(AuditLog::open(&file.join("audit.db"), audit_key()).is_err());
    // Not a database at all.
    std::fs::write(dir.path().join("junk.db"), vec![0x55; 8192]).unwrap();
    assert!(AuditLog::open(&dir.path().join("junk.db"), audit_key()).is_err());
}

/// Makes `paths` immutable (works for root too, unlike permissions) until dropped.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: &[std::path::PathBuf]) -> Option<Self> {
        for p in paths {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("chattr +i is unavailable here; skipping the immutable-file half");
                let _ = Self(paths.to_vec());
                return None;
            }
        }
        Some(Self(paths.to_vec()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

#[test]
fn an_unwritable_store_fails_appends_from_then_on_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path, audit_key()).unwrap();
    for i in 0..3 {
        log.append(event(i)).unwrap();
    }
    log.checkpoint().unwrap();
    let wal = dir.path().join("audit.db-wal");
    let Some(guard) = Immutable::set(&[path.clone(), wal, dir.path().to_path_buf()]) else {
        return;
    };
    let err = log.append(event(3)).unwrap_err();
    assert!(matches!(err, AuditError::Store { .. }), "{err}");
    // From then on nothing is accepted, even once the disk is writable again.
    drop(guard);
    assert!(matches!(log.append(event(4)), Err(AuditError::Poisoned)));
    assert!(log.checkpoint().is_err());
    drop(log);
    // A fresh start sees exactly the three durable records.
    let log = AuditLog::open(&path, audit_key()).unwrap();
    assert_eq!(log.head().unwrap().0, 3);
    // And open refuses an immutable directory holding no log yet.
    let fresh = tempfile::tempdir().unwrap();
    let _g = Immutable::set(&[fresh.path().to_path_buf()]).unwrap();
    assert!(AuditLog::open(&fresh.path().join("audit.db"), audit_key()).is_err());
}

#[test]
fn a_full_audit_volume_fails_appends_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open_with(
        &path,
        audit_key(),
        AuditOptions {
            max_bytes: Some(64 * 1024),
        },
    )
    .unwrap();
    let mut acknowledged = 0u64;
    let failure = loop {
        match log.append(event(acknowledged as usize)) {
            Ok(i) => {
                assert_eq!(i.0, acknowledged);
                acknowledged += 1;
            }
            Err(e) => break e,
        }
        assert!(acknowledged < 10_000, "the quota never bit");
    };
    assert!(matches!(failure, AuditError::Store { .. }), "{failure}");
    assert!(matches!(log.append(event(0)), Err(AuditError::Poisoned)));
    drop(log);
    let log = AuditLog::open(&path, audit_key()).unwrap();
    assert_eq!(log.head().unwrap().0, acknowledged);
    log.checkpoint().unwrap();
    drop(log);
    let (exported, notes) = export(&path, false);
    let v = verify_export(&exported, &notes, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
    assert_eq!(v.records, acknowledged);
}

#[test]
fn the_realistic_log_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    build_log(&path, 30);
    AuditLog::open(&path, audit_key()).unwrap();
}

#[tokio::test]
async fn checkpoints_reach_the_drop_directory_and_the_hook() {
    use std::sync::Arc;

    use signgate_audit::{checkpoint::verify_note, export::note_file_name};
    use signgate_gateway::audit::export::{CheckpointSink, run_checkpoints};

    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(&dir.path().join("audit.db"), audit_key()).unwrap());
    for i in 0..4 {
        log.append(event(i)).unwrap();
    }
    let drop_dir = dir.path().join("drop");
    let hooked = dir.path().join("hooked.note");
    let sink = CheckpointSink {
        drop_dir: Some(drop_dir.clone()),
        hook: Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!("cat > '{}'", hooked.display()),
        ]),
    };
    // Shutdown at once: the loop still signs and delivers a final checkpoint.
    run_checkpoints(
        log.clone(),
        sink,
        std::time::Duration::from_secs(3600),
        std::future::ready(()),
    )
    .await;
    let note = std::fs::read_to_string(drop_dir.join(note_file_name(4))).unwrap();
    let cp = verify_note(&note, &audit_key().verifying_key()).unwrap();
    assert_eq!((cp.size, cp.root), log.head().unwrap());
    assert_eq!(std::fs::read_to_string(&hooked).unwrap(), note);

    let failing = CheckpointSink {
        drop_dir: None,
        hook: Some(vec!["false".to_owned()]),
    };
    assert!(failing.deliver(&log.checkpoint().unwrap()).is_err());
}

/// A log kept in a file of its own (before the single database) is merged into the store's
/// database once, records and checkpoints unchanged and re-verified, the old file renamed; a
/// database that already holds records refuses a second log.
#[test]
fn a_separate_log_is_merged_into_the_store_database_once() {
    use signgate_gateway::audit::merge_legacy;
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("audit.sqlite3");
    let db = dir.path().join("signgate.sqlite3");
    let (head, checkpoint) = {
        let log = AuditLog::open(&legacy, audit_key()).unwrap();
        for i in 0..5 {
            log.append(event(i)).unwrap();
        }
        let cp = log.checkpoint().unwrap();
        log.append(event(5)).unwrap();
        (log.head().unwrap(), cp)
    };
    assert!(merge_legacy(&db, &legacy).unwrap());
    assert!(!legacy.exists(), "the old file is renamed aside");
    assert!(dir.path().join("audit.sqlite3.merged").exists());
    assert!(!merge_legacy(&db, &legacy).unwrap(), "merged once only");
    let log = AuditLog::open(&db, audit_key()).unwrap();
    assert_eq!(log.head().unwrap(), head);
    assert_eq!(log.append(event(6)).unwrap().0, 6);
    let (exported, notes) = export(&db, false);
    assert!(notes.iter().any(|(_, n)| *n == checkpoint.note));
    let v = verify_export(&exported, &notes, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
    assert_eq!(v.records, 7);
    // The key binding came along: another key is refused.
    drop(log);
    let err = AuditLog::open(&db, SigningKey::from_bytes(&[1; 32])).unwrap_err();
    assert!(matches!(err, AuditError::WrongKey { .. }), "{err}");

    // A second separate log cannot join a database that has records of its own.
    AuditLog::open(&legacy, audit_key())
        .unwrap()
        .append(event(0))
        .unwrap();
    let err = merge_legacy(&db, &legacy).unwrap_err();
    assert!(err.to_string().contains("keep one of them"), "{err}");
    assert!(legacy.exists(), "a refused merge leaves the file");
}
