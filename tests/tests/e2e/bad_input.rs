//! Issue 6, test 6: bad input is refused with a clear status naming the field, and nothing is
//! stored half-done.

use alloy_primitives::{B256, U256};
use signgate_proto::envelope::{self, SUBMISSION_CONTEXT};
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{
        Options, approve_request, start, statement, submission, submit, submit_request,
        token_transfer,
    },
};

fn assert_invalid(err: &tonic::Status, field: &str) {
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains(field),
        "expected the message to name {field}: {}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let alice = demo::operator("alice");
    let tx = token_transfer(demo::PAYEE, U256::from(7u64), 3);

    // A payload that is not a ProposalSubmission at all (properly signed garbage).
    let garbage = vec![0xff, 0xff, 0xff, 0x01];
    let req = pb::SubmitProposalRequest {
        submission: Some(pb::SignedEnvelope {
            signature: envelope::sign(&alice, SUBMISSION_CONTEXT, &garbage).to_vec(),
            public_key: alice.verifying_key().to_bytes().to_vec(),
            payload: garbage,
            webauthn: None,
        }),
    };
    assert_invalid(
        &c.submit_proposal(req).await.unwrap_err(),
        "submission.payload",
    );

    // An unparsable Safe address and an unparsable target.
    let mut p = submission(demo::DEMO_SAFE, &tx);
    p.safe = "0xnot-an-address".into();
    let err = c
        .submit_proposal(submit_request(&p, &alice))
        .await
        .unwrap_err();
    assert_invalid(&err, "submission.payload.safe");
    let mut p = submission(demo::DEMO_SAFE, &tx);
    if let Some(pb::proposal_submission::Tx::Transaction(t)) = &mut p.tx {
        t.to = "0x1234".into();
    }
    let err = c
        .submit_proposal(submit_request(&p, &alice))
        .await
        .unwrap_err();
    assert_invalid(&err, "submission.payload.transaction.to");

    // Calldata over the configured bound.
    let mut p = submission(demo::DEMO_SAFE, &tx);
    if let Some(pb::proposal_submission::Tx::Transaction(t)) = &mut p.tx {
        t.data = vec![0; 131_073];
    }
    let err = c
        .submit_proposal(submit_request(&p, &alice))
        .await
        .unwrap_err();
    assert_invalid(&err, "submission.payload.transaction.data");

    // Calldata that cannot be decoded completely: a batch whose entry runs past the end.
    let ms = signgate_simulator::deployments::canonical(
        signgate_simulator::deployments::SafeContract::MultiSend,
        signgate_simulator::SafeVersion::V1_4_1,
    )
    .unwrap();
    let truncated = {
        use alloy_sol_types::SolCall;
        signgate_simulator::abi::IMultiSend::multiSendCall {
            transactions: vec![0u8; 40].into(),
        }
        .abi_encode()
    };
    let mut bad_batch =
        signgate_simulator::SafeTx::call(ms, U256::ZERO, truncated.into(), U256::ZERO);
    bad_batch.operation = signgate_simulator::Operation::DelegateCall;
    let err = c
        .submit_proposal(submit_request(
            &submission(demo::DEMO_SAFE, &bad_batch),
            &alice,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "submission.payload.transaction.data");

    // A submission signed by a key no operator holds.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let err = c
        .submit_proposal(submit_request(&submission(demo::DEMO_SAFE, &tx), &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // One good proposal, then bad approvals for it.
    let good = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;

    let mut forged = approve_request(
        &statement(&good, pb::ApprovalKind::Approve),
        &demo::operator("bob"),
    );
    if let Some(env) = &mut forged.approval {
        env.signature[0] ^= 1;
    }
    assert_invalid(&c.approve(forged).await.unwrap_err(), "approval.signature");

    let mut other = statement(&good, pb::ApprovalKind::Approve);
    other.safe_tx_hash = format!("{:#x}", B256::repeat_byte(0xab));
    let err = c
        .approve(approve_request(&other, &demo::operator("bob")))
        .await
        .unwrap_err();
    assert_invalid(&err, "approval.payload.safe_tx_hash");

    let mut bad_hash = statement(&good, pb::ApprovalKind::Approve);
    bad_hash.safe_tx_hash = "0xzz".into();
    let err = c
        .approve(approve_request(&bad_hash, &demo::operator("bob")))
        .await
        .unwrap_err();
    assert_invalid(&err, "approval.payload.safe_tx_hash");

    // A reject statement sent to Approve.
    let reject = statement(&good, pb::ApprovalKind::Reject);
    let err = c
        .approve(approve_request(&reject, &demo::operator("bob")))
        .await
        .unwrap_err();
    assert_invalid(&err, "approval.payload.kind");

    // Nothing of the refused requests was stored.
    let list = c
        .list_proposals(pb::ListProposalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.proposals.len(), 1, "{:?}", list.proposals);
    let stored = c
        .get_proposal(pb::GetProposalRequest {
            id: good.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stored.approvals.is_empty(), "{:?}", stored.approvals);
    assert_eq!(stored.revision, good.revision);
    gw.stop().await;
}
