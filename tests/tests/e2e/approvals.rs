//! Issue 6, test 3: a probationary operator's approval and the initiator's own approval are
//! stored but do not count, and the response says why.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;

use crate::{
    demo,
    support::{Options, approve, start, state, submit, token_transfer},
};

fn not_counted(p: &pb::Proposal, operator: &str) -> pb::Reason {
    let a = p
        .approvals
        .iter()
        .find(|a| a.operator == operator)
        .unwrap_or_else(|| panic!("{operator}'s approval is stored: {:?}", p.approvals));
    assert!(!a.counted, "{operator}'s approval must not count");
    a.not_counted.clone().expect("a reason")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probationary_and_initiator_approvals_do_not_count_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);

    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );

    let p = approve(&mut c, &p, "alice").await;
    let why = not_counted(&p, "alice");
    assert_eq!(why.code, "approval.initiator", "{why:?}");
    assert!(why.message.contains("initiator"), "{}", why.message);
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);

    let p = approve(&mut c, &p, "mallory").await;
    let why = not_counted(&p, "mallory");
    assert_eq!(why.code, "approval.probationary", "{why:?}");
    assert!(why.message.contains("probation"), "{}", why.message);
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);

    // The missing quorum is spelled out too.
    let Some(pb::decision::Outcome::NeedsApprovals(n)) =
        p.decision.as_ref().and_then(|d| d.outcome.clone())
    else {
        panic!("needs approvals expected: {:?}", p.decision)
    };
    let treasury = n.missing.iter().find(|m| m.group == "treasury").unwrap();
    assert_eq!((treasury.have, treasury.need), (0, 2));
    // Whom to ask: treasury operators other than the initiator.
    assert!(
        treasury.eligible_operators.contains(&"bob".to_owned())
            && treasury.eligible_operators.contains(&"carol".to_owned())
            && !treasury.eligible_operators.contains(&"alice".to_owned()),
        "{:?}",
        treasury.eligible_operators
    );

    // Two seasoned treasury operators do count.
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_ends_the_proposal_and_nothing_can_be_signed() {
    use crate::support::{approve_request, statement};
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(5u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;

    let env = approve_request(
        &statement(&p, pb::ApprovalKind::Reject),
        &demo::operator("carol"),
    )
    .approval;
    let p = c
        .reject(pb::RejectRequest { rejection: env })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), pb::ProposalState::Rejected, "{:?}", p.decision);
    assert!(crate::support::deny_codes(&p).contains(&"approval.rejected".to_owned()));

    // A terminal proposal takes no more approvals and releases nothing.
    let err = c
        .approve(approve_request(
            &statement(&p, pb::ApprovalKind::Approve),
            &demo::operator("dave"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    drop(c);
    gw.stop().await;
}

/// A watcher sees every approval the pipeline records, up to the approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_each_approval_land() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(11u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let mut stream = c
        .watch_proposal(pb::WatchProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(state(&first), pb::ProposalState::NeedsApprovals);

    let mut other = gw.client().await;
    let p = approve(&mut other, &p, "bob").await;
    let seen = stream.message().await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(seen.revision, p.revision);
    assert_eq!(seen.approvals.len(), 1);

    let p = approve(&mut other, &p, "carol").await;
    let seen = stream.message().await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(seen.revision, p.revision);
    assert_eq!(state(&seen), pb::ProposalState::Approved);
    drop(stream);
    drop(c);
    drop(other);
    gw.stop().await;
}
