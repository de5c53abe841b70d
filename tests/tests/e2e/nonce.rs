//! Issue 6, test 5: two different transactions for the same Safe nonce — at most one is ever
//! released, also when the approvals and the release requests race.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{approve_request, start_with_signers, state, statement, submit, token_transfer},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_transactions_for_one_nonce_release_at_most_once() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 1]).await;
    let mut c = gw.client().await;

    let a = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(1u64), 0),
        "alice",
    )
    .await;
    let b = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(2u64), 0),
        "alice",
    )
    .await;
    assert_ne!(a.id, b.id);

    // Four approvals at once: bob and carol on both proposals.
    let mut set = tokio::task::JoinSet::new();
    for p in [&a, &b] {
        for who in ["bob", "carol"] {
            let req = approve_request(
                &statement(p, pb::ApprovalKind::Approve),
                &demo::operator(who),
            );
            let mut c = gw.client().await;
            set.spawn(async move { c.approve(req).await });
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    for p in [&a, &b] {
        let now = c
            .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            state(&now),
            pb::ProposalState::Approved,
            "{:?}",
            now.decision
        );
        assert_eq!(now.approvals.len(), 2, "no approval lost in the race");
    }

    // Both releases at once: exactly one wins.
    let mut set = tokio::task::JoinSet::new();
    for p in [&a, &b] {
        let id = p.id.clone();
        let mut c = gw.client().await;
        set.spawn(async move {
            c.request_signatures(pb::RequestSignaturesRequest { id })
                .await
        });
    }
    let mut released = Vec::new();
    let mut refused = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(resp) => released.push(resp.into_inner()),
            Err(status) => refused.push(status),
        }
    }
    assert_eq!(released.len(), 1, "refused: {refused:?}");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].code(),
        Code::FailedPrecondition,
        "{:?}",
        refused[0]
    );

    // The loser can never be released later either.
    let winner = released[0].proposal.as_ref().unwrap().id.clone();
    let loser = if winner == a.id { &b.id } else { &a.id };
    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: loser.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let loser_now = c
        .get_proposal(pb::GetProposalRequest { id: loser.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&loser_now), pb::ProposalState::Expired);

    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
