//! Issue 7: when the audit log cannot be written, the gateway releases nothing from then on and
//! the client gets UNAVAILABLE — a signature without its record never leaves the gateway.

use std::{path::PathBuf, process::Command};

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{approve, config, start_with_signers, state, submit, token_transfer},
};

/// Makes files immutable (root's `chattr +i`: plain permissions do not stop root) until dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> Self {
        for p in &paths {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "chattr +i {} failed: this test needs root and e2fsprogs",
                p.display()
            );
        }
        Self(paths)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_audit_log_releases_nothing_and_answers_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 2]).await;
    let mut c = gw.client().await;

    let tx = token_transfer(demo::PAYEE, U256::from(10u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);

    // The audit log's files become unwritable while the gateway runs. Not the `-shm` index:
    // SQLite maps it into memory, and an immutable mapping is a crash, not a failed write.
    let cfg = config(dir.path(), &[]);
    let base = cfg.data_dir.join("audit.sqlite3");
    let files: Vec<PathBuf> = ["", "-wal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", base.display())))
        .filter(|p| p.exists())
        .collect();
    let guard = Immutable::set(files);

    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        !err.message().contains("sqlite"),
        "internals leaked: {}",
        err.message()
    );

    // Writable again, but the gateway does not trust a log that lost a write: still nothing.
    drop(guard);
    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    let now = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(state(&now), pb::ProposalState::Released);

    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
