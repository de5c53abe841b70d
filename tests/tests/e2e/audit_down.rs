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
    /// The audit log of the gateway running in `dir` becomes unwritable while the gateway runs.
    /// Not the `-shm` index: SQLite maps it into memory, and an immutable mapping is a crash,
    /// not a failed write.
    fn audit_log(dir: &std::path::Path) -> Self {
        let cfg = config(dir, &[]);
        let base = signgate_gateway::pipeline::setup::audit_path(&cfg);
        Self::set(
            ["", "-wal"]
                .iter()
                .map(|suffix| PathBuf::from(format!("{}{suffix}", base.display())))
                .filter(|p| p.exists())
                .collect(),
        )
    }

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
    if crate::support::Backend::from_env() == crate::support::Backend::Postgres {
        // The file made immutable is SQLite's; for PostgreSQL, the database that stops
        // answering: gateway/tests/replicas.rs (`with_the_database_down_…`).
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 2]).await;
    let mut c = gw.client().await;

    let tx = token_transfer(demo::PAYEE, U256::from(10u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);

    let guard = Immutable::audit_log(dir.path());

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

/// Every state change is recorded before it is stored: with the log unwritable, a submission, an
/// approval, a rejection and a cancellation each answer UNAVAILABLE and leave the store exactly
/// as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_state_change_is_stored_without_its_record() {
    if crate::support::Backend::from_env() == crate::support::Backend::Postgres {
        // As above: the immutable file is SQLite's.
        return;
    }
    use crate::support::{approve_request, statement, submission, submit_request};
    let dir = tempfile::tempdir().unwrap();
    let gw = crate::support::start(dir.path(), crate::support::Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(10u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let before = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();

    let _guard = Immutable::audit_log(dir.path());

    let other = token_transfer(demo::PAYEE, U256::from(11u64), 1);
    let err = c
        .submit_proposal(submit_request(
            &submission(demo::DEMO_SAFE, &other),
            &demo::operator("alice"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "submit: {err:?}");
    let err = c
        .approve(approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("carol"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "approve: {err:?}");
    let mut rejection = statement(&p, pb::ApprovalKind::Reject);
    rejection.comment = "no".into();
    let err = c
        .reject(pb::RejectRequest {
            rejection: approve_request(&rejection, &demo::operator("carol")).approval,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "reject: {err:?}");
    let err = c
        .cancel(crate::support::cancel_request(&p, "alice", "test"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "cancel: {err:?}");

    let after = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (after.revision, after.state, after.approvals.len()),
        (before.revision, before.state, before.approvals.len())
    );
    let listed = c
        .list_proposals(pb::ListProposalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.proposals.len(), 1, "{:?}", listed.proposals);
    drop(c);
    gw.stop().await;
}
