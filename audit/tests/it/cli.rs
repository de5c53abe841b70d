//! The `signgate-audit` binary on a real export, as an auditor runs it: the export file, a
//! checkpoint directory as the gateway's file drop leaves it, and the public key file in the
//! form the gateway writes (`<data_dir>/audit.key.pub`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use signgate_audit::{
    checkpoint::parse_note,
    export::{ExportLine, note_file_name},
};

use super::{
    memory::MemoryLog,
    realistic::{audit_key, run_server},
};

/// The files an auditor holds, in a temporary directory.
struct Held {
    _dir: tempfile::TempDir,
    log: PathBuf,
    checkpoints: PathBuf,
    public_key: PathBuf,
}

fn held() -> Held {
    let mut memory = MemoryLog::new(audit_key());
    run_server(&mut memory, 25, 12);
    let (export, _) = memory.export(true);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, export).unwrap();
    let checkpoints = dir.path().join("checkpoints");
    std::fs::create_dir(&checkpoints).unwrap();
    for note in memory.notes() {
        let (cp, _) = parse_note(&note).unwrap();
        std::fs::write(checkpoints.join(note_file_name(cp.size)), note).unwrap();
    }
    // Exactly what the gateway writes beside its audit key: 64 hex digits and a newline.
    let public_key = dir.path().join("audit.key.pub");
    std::fs::write(
        &public_key,
        format!("{}\n", hex::encode(audit_key().verifying_key().as_bytes())),
    )
    .unwrap();
    Held {
        _dir: dir,
        log,
        checkpoints,
        public_key,
    }
}

fn run(command: &str, proposal: Option<&str>, h: &Held) -> Output {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signgate-audit"));
    cmd.arg(command);
    if let Some(p) = proposal {
        cmd.arg(p);
    }
    cmd.args([
        "--log",
        &s(&h.log),
        "--checkpoints",
        &s(&h.checkpoints),
        "--public-key",
        &s(&h.public_key),
    ]);
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn an_untouched_export_verifies_and_tells_its_story() {
    let h = held();
    let out = run("verify", None, &h);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("PASS\n"), "{}", stdout(&out));

    let out = run("show", Some("approved-production-usdc"), &h);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let story = stdout(&out);
    for needle in ["alice proposed", "bob approved", "release ticket"] {
        assert!(story.contains(needle), "missing {needle:?} in\n{story}");
    }
    let out = run("show", None, &h);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("sanctions list ofac-sdn loaded"));

    let out = run("show", Some("no-such-proposal"), &h);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn a_tampered_record_is_named_by_position_and_show_refuses() {
    let h = held();
    let text = std::fs::read_to_string(&h.log).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Backdate record #7 by a second, keeping the line canonical and its old leaf hash: the
    // edit an operator would make to move an event in time.
    let target = 7;
    let mut line = ExportLine::parse(lines[target].as_bytes()).unwrap();
    let at = line.record["at_ms"].as_u64().unwrap();
    line.record["at_ms"] = serde_json::json!(at - 1_000);
    lines[target] = String::from_utf8(line.to_line().unwrap()).unwrap();
    std::fs::write(&h.log, lines.join("\n") + "\n").unwrap();

    let out = run("verify", None, &h);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    assert!(
        report.contains("FAIL: record #7 (line 8) was modified"),
        "{report}"
    );

    let out = run("show", Some("approved-production-usdc"), &h);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).is_empty(), "told a story from a tampered log");
}

#[test]
fn unreadable_inputs_are_an_error_not_a_verdict() {
    let h = held();
    std::fs::write(&h.public_key, "not a key\n").unwrap();
    let out = run("verify", None, &h);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("audit.key.pub: not hex"), "{err}");
}
