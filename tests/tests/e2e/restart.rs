//! Issue 6, test 8: proposals and approvals survive a stop and a start of the server.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;

use crate::{
    demo,
    support::{Options, approve, start, state, submit, token_transfer},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_and_approvals_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(42u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);
    drop(c);
    gw.stop().await;

    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let again = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&again), pb::ProposalState::NeedsApprovals);
    assert_eq!(again.revision, p.revision);
    assert_eq!(again.hashes, p.hashes);
    let bob = again
        .approvals
        .iter()
        .find(|a| a.operator == "bob")
        .unwrap();
    assert!(bob.counted, "{:?}", again.approvals);

    // The stored approval still counts with a new one after the restart.
    let done = approve(&mut c, &again, "carol").await;
    assert_eq!(
        state(&done),
        pb::ProposalState::Approved,
        "{:?}",
        done.decision
    );
    gw.stop().await;
}
