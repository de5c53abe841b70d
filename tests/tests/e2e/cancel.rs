//! Cancel goes through the pipeline like every other state change: recorded in the audit log
//! before the store changes, final, and refused for a proposal that is already closed.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{
        Options, approve_request, audit_kinds, start, state, statement, submit, token_transfer,
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_is_recorded_before_it_is_stored_and_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(7u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);

    let err = c
        .cancel(pb::CancelRequest {
            id: "p-000000000000000000000000".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");

    let cancelled = c
        .cancel(pb::CancelRequest {
            id: p.id.clone(),
            reason: "sent twice".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&cancelled), pb::ProposalState::Cancelled);
    assert_eq!(cancelled.cancel_reason, "sent twice");
    let kinds = audit_kinds(dir.path());
    let at = kinds
        .iter()
        .position(|k| k == "proposal_cancelled")
        .unwrap_or_else(|| panic!("no cancel record: {kinds:?}"));
    assert_eq!(
        kinds.get(at.saturating_sub(2)..at).unwrap(),
        ["proposal_submitted", "decision_made"],
        "{kinds:?}"
    );

    // Final: no second cancel, no approval.
    let err = c
        .cancel(pb::CancelRequest {
            id: p.id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let err = c
        .approve(approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("bob"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert_eq!(
        audit_kinds(dir.path())
            .iter()
            .filter(|k| *k == "proposal_cancelled")
            .count(),
        1
    );
    gw.stop().await;
}
