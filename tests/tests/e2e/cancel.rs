//! Cancel is an operator's signed statement bound to the proposal's chain, Safe and safeTxHash,
//! allowed by the policy (the initiator, or a role `[cancellation]` names), recorded in the audit
//! log with the statement before the store changes, and final for that proposal; the same
//! transaction can then be proposed again as a new proposal.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{
        Options, approve, approve_request, audit_kinds, cancel_request, start, state, statement,
        submit, token_transfer,
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_is_signed_allowed_by_policy_recorded_first_and_final() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(7u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);

    // Unsigned: refused, whatever certificate the client holds.
    let err = c
        .cancel(pb::CancelRequest { cancellation: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("signed CancelStatement"), "{err}");

    // Unknown proposal.
    let mut unknown = p.clone();
    unknown.id = "p-000000000000000000000000".into();
    let err = c
        .cancel(cancel_request(&unknown, "alice", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");

    // Bound to the transaction: a statement naming this proposal with another hash is refused.
    let mut other_hash = p.clone();
    other_hash.hashes.as_mut().unwrap().safe_tx_hash =
        format!("{:#x}", alloy_primitives::B256::repeat_byte(7));
    let err = c
        .cancel(cancel_request(&other_hash, "alice", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("safe_tx_hash"), "{err}");

    // bob is a treasury operator of the wallet but neither the initiator nor security: refused,
    // and the denial says who may.
    let err = c
        .cancel(cancel_request(&p, "bob", "not mine"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(err.message().contains("ask its initiator (alice)"), "{err}");
    assert!(err.message().contains("(security)"), "{err}");
    // Nothing was recorded for the refused calls.
    assert!(
        !audit_kinds(dir.path()).contains(&"proposal_cancelled".to_owned()),
        "a refused cancel was recorded"
    );

    let cancelled = c
        .cancel(cancel_request(&p, "alice", "sent twice"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&cancelled), pb::ProposalState::Cancelled);
    assert_eq!(cancelled.cancel_reason, "sent twice");
    // The records of state changes, without the anomaly rules' observations of each call.
    let kinds = audit_kinds(dir.path())
        .into_iter()
        .filter(|k| k != "call_observed" && k != "anomaly")
        .collect::<Vec<_>>();
    let at = kinds
        .iter()
        .position(|k| k == "proposal_cancelled")
        .unwrap_or_else(|| panic!("no cancel record: {kinds:?}"));
    assert_eq!(
        kinds.get(at.saturating_sub(2)..at).unwrap(),
        ["proposal_submitted", "decision_made"],
        "{kinds:?}"
    );
    // The record carries the signed statement, so an auditor checks who cancelled offline.
    let record = cancel_record(dir.path());
    let signed = &record["statement"];
    assert_eq!(signed["operator"], "alice", "{record}");
    let key = demo::operator("alice").verifying_key();
    let payload =
        hex::decode(signed["payload"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let signature = hex::decode(
        signed["signature"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    signgate_proto::envelope::verify(
        &key,
        signgate_proto::envelope::CANCEL_CONTEXT,
        &payload,
        &signature,
    )
    .expect("the recorded cancel statement verifies offline");

    // Final: no second cancel, no approval.
    let err = c.cancel(cancel_request(&p, "alice", "")).await.unwrap_err();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_cancels_any_proposal_and_the_transaction_can_be_proposed_again() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(9u64), 0);
    let first = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let approved_once = approve(&mut c, &first, "bob").await;
    assert_eq!(approved_once.approvals.len(), 1);

    // dave holds `security`, which the demo policy's [cancellation] names.
    let dave_cancel = cancel_request(&first, "dave", "suspicious payee");
    let cancelled = c.cancel(dave_cancel.clone()).await.unwrap().into_inner();
    assert_eq!(state(&cancelled), pb::ProposalState::Cancelled);

    // The same transaction again: a new proposal, its own id, no approvals carried over.
    let again = submit(&mut c, demo::DEMO_SAFE, &tx, "carol").await;
    assert_ne!(again.id, first.id);
    assert_eq!(
        again.hashes.as_ref().unwrap().safe_tx_hash,
        first.hashes.as_ref().unwrap().safe_tx_hash
    );
    assert_eq!(state(&again), pb::ProposalState::NeedsApprovals);
    assert!(again.approvals.is_empty(), "{:?}", again.approvals);
    // Submitting it once more finds the open one, not a third.
    let resubmitted = submit(&mut c, demo::DEMO_SAFE, &tx, "carol").await;
    assert_eq!(resubmitted.id, again.id);

    // bob's statement for the cancelled proposal cannot be replayed onto the new one: it names
    // the old id, which stays cancelled.
    let err = c
        .approve(approve_request(
            &statement(&first, pb::ApprovalKind::Approve),
            &demo::operator("bob"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    // Dave's signed cancel, replayed byte for byte, names the cancelled proposal: it cannot
    // withdraw the new one.
    let err = c.cancel(dave_cancel).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let still = c
        .get_proposal(pb::GetProposalRequest {
            id: again.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&still), pb::ProposalState::NeedsApprovals);
    // The old proposal is still there, cancelled, for the record.
    let old = c
        .get_proposal(pb::GetProposalRequest {
            id: first.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&old), pb::ProposalState::Cancelled);
    gw.stop().await;
}

/// The `proposal_cancelled` event of the gateway's audit export.
fn cancel_record(dir: &std::path::Path) -> serde_json::Value {
    crate::support::audit_events(dir)
        .into_iter()
        .find(|e| e["type"] == "proposal_cancelled")
        .expect("a proposal_cancelled record")
}
