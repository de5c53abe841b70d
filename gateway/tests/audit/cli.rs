//! `signgate audit export | verify | show | replay` through their clap arguments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::process::ExitCode;

use clap::Parser;

use super::cli_audit::{AuditArgs, run};
use super::fixtures::{audit_key, build_log, policy_dir};

#[derive(Debug, Parser)]
struct Wrap {
    #[command(flatten)]
    audit: AuditArgs,
}

fn cmd(args: &[&str]) -> ExitCode {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    run(Wrap::try_parse_from(all).unwrap().audit).unwrap()
}

#[test]
fn export_then_verify_show_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    build_log(&db, 50);
    let out = dir.path().join("log.jsonl");
    let cps = dir.path().join("checkpoints");
    let key = dir.path().join("audit.pub");
    std::fs::write(&key, hex::encode(audit_key().verifying_key().as_bytes())).unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();

    assert_eq!(
        cmd(&[
            "export",
            "--db",
            &s(&db),
            "--out",
            &s(&out),
            "--proofs",
            "--checkpoints-dir",
            &s(&cps)
        ]),
        ExitCode::SUCCESS
    );
    let verify = [
        "verify",
        "--log",
        &s(&out),
        "--checkpoints",
        &s(&cps),
        "--public-key",
        &s(&key),
    ];
    assert_eq!(cmd(&verify), ExitCode::SUCCESS);

    assert_eq!(
        cmd(&["show", "approved-production-usdc", "--log", &s(&out)]),
        ExitCode::SUCCESS
    );
    assert_eq!(
        cmd(&["show", "approved-production-usdc", "--db", &s(&db)]),
        ExitCode::SUCCESS
    );

    let standard = policy_dir().join("policies/standard.toml");
    assert_eq!(
        cmd(&["replay", "--policy", &s(&standard), "--log", &s(&out)]),
        ExitCode::SUCCESS
    );
    let strict = dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        std::fs::read_to_string(&standard)
            .unwrap()
            .replace("limit = \"5000000\"", "limit = \"1000\""),
    )
    .unwrap();
    assert_eq!(
        cmd(&["replay", "--policy", &s(&strict), "--db", &s(&db)]),
        ExitCode::FAILURE
    );

    // One byte changed in the export: verify fails.
    let mut bytes = std::fs::read(&out).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&out, bytes).unwrap();
    assert_eq!(cmd(&verify), ExitCode::FAILURE);
}
