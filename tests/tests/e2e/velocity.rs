//! Velocity: a release adds its outflow to the day's total, and the next proposal that would
//! cross the demo treasury's daily DEMO limit is denied.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;

use crate::{
    demo,
    support::{Options, approve, deny_codes, start, start_signer, state, submit, token_transfer},
};

fn demo_tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_counts_toward_the_daily_limit() {
    let dir = tempfile::tempdir().unwrap();
    let owners = demo::owners();
    let s1 = start_signer(dir.path(), owners[0].clone()).await;
    let s2 = start_signer(dir.path(), owners[1].clone()).await;
    let mut opts = Options::demo();
    opts.signers = vec![s1.url.clone(), s2.url.clone()];
    let gw = start(dir.path(), opts).await;
    let mut c = gw.client().await;

    let first = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, demo_tokens(300_000), 0),
        "alice",
    )
    .await;
    let first = approve(&mut c, &first, "bob").await;
    let first = approve(&mut c, &first, "carol").await;
    assert_eq!(
        state(&first),
        pb::ProposalState::Approved,
        "{:?}",
        first.decision
    );
    c.request_signatures(pb::RequestSignaturesRequest {
        id: first.id.clone(),
    })
    .await
    .unwrap();

    // 300,000 released today + 300,000 more crosses the 500,000 limit.
    let second = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, demo_tokens(300_000), 1),
        "alice",
    )
    .await;
    assert_eq!(state(&second), pb::ProposalState::Denied);
    assert!(
        deny_codes(&second).iter().any(|c| c == "velocity.exceeded"),
        "{:?}",
        second.decision
    );
    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
