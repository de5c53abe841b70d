//! Issue 20: the eligible list names only operators whose approval then counts. Every operator
//! of the demo policy and of the standard corpus policy (its treasury Safe and USDC moved onto
//! the demo Safe and token so the real demo state runs it) approves a fresh proposal; whoever
//! was listed must raise the count, whoever was not must not, and nobody already counted is
//! listed again.

use alloy_primitives::U256;
use ed25519_dalek::SigningKey;
use signgate_policy::{Policy, cases::test_signing_key};
use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};
use tonic::transport::Channel;

use crate::{
    demo,
    support::{
        Options, approve_request, start, start_provider_with_policy, statement, submission,
        submit_request, token_transfer,
    },
};

/// Per group: (have, eligible operators).
fn missing(p: &pb::Proposal) -> Vec<(String, u32, Vec<String>)> {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::NeedsApprovals(n)) => n
            .missing
            .iter()
            .map(|m| (m.group.clone(), m.have, m.eligible_operators.clone()))
            .collect(),
        other => panic!("needs approvals expected, got {other:?}"),
    }
}

/// Approvals still missing across every short group; none once approved. (An approval marked
/// `counted` may fill no slot: a holder of no required role.)
fn shortfall(p: &pb::Proposal) -> u32 {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::NeedsApprovals(n)) => n
            .missing
            .iter()
            .map(|m| m.need.saturating_sub(m.have))
            .sum(),
        Some(pb::decision::Outcome::Approved(_)) => 0,
        other => panic!("needs approvals or approved expected, got {other:?}"),
    }
}

fn listed(p: &pb::Proposal, operator: &str) -> bool {
    missing(p)
        .iter()
        .any(|(_, _, eligible)| eligible.iter().any(|e| e == operator))
}

/// Walks every operator of `policy` over fresh proposals of `amount` of the demo token to the
/// address-book payee, initiated by `initiator`; `keys` gives an operator's signing keys.
async fn walk(
    c: &mut GatewayClient<Channel>,
    policy: &Policy,
    initiator: &SigningKey,
    keys: &dyn Fn(&str, usize) -> SigningKey,
    amount: U256,
    first_nonce: u64,
) -> (Vec<String>, Vec<String>) {
    let (mut counted_ops, mut refused_ops) = (Vec::new(), Vec::new());
    for (i, op) in policy.operators().iter().enumerate() {
        let nonce = first_nonce + u64::try_from(i).unwrap();
        let tx = token_transfer(demo::PAYEE, amount, nonce);
        let p = c
            .submit_proposal(submit_request(&submission(demo::DEMO_SAFE, &tx), initiator))
            .await
            .unwrap()
            .into_inner();
        let was_listed = listed(&p, &op.id.0);
        let before = shortfall(&p);
        // Every key the operator holds, revoked ones included: listed means one of them counts.
        let mut after = p.clone();
        let mut refused = Vec::new();
        for k in 0..op.keys.len() {
            let req = approve_request(
                &statement(&p, pb::ApprovalKind::Approve),
                &keys(&op.id.0, k),
            );
            match c.approve(req).await {
                Ok(reply) => after = reply.into_inner(),
                Err(status) => refused.push(status.message().to_owned()),
            }
        }
        let now_counts = shortfall(&after) < before;
        assert_eq!(
            was_listed,
            now_counts,
            "operator {} was {}listed as eligible, and their approval {} (refused: {refused:?}): {:?} then {:?}",
            op.id,
            if was_listed { "" } else { "not " },
            if now_counts {
                "counts"
            } else {
                "does not count"
            },
            p.decision,
            after.approvals
        );
        if now_counts {
            counted_ops.push(op.id.0.clone());
            let state = pb::ProposalState::try_from(after.state).unwrap();
            if state == pb::ProposalState::NeedsApprovals {
                assert!(
                    !listed(&after, &op.id.0),
                    "{} is counted and must not be asked again: {:?}",
                    op.id,
                    after.decision
                );
            }
        } else {
            refused_ops.push(op.id.0.clone());
        }
    }
    (counted_ops, refused_ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_policy_lists_exactly_the_operators_whose_approval_counts() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let policy = Policy::compile(include_str!("../../../gateway/config/demo/policy.toml")).unwrap();
    let keys = |id: &str, _k: usize| demo::operator(id);
    let (counts, not) = walk(
        &mut c,
        &policy,
        &demo::operator("alice"),
        &keys,
        U256::from(1_000u64),
        0,
    )
    .await;
    // The README's walk-through: bob and carol, never alice (initiator) or mallory (probation).
    assert_eq!(counts, ["bob", "carol"], "{not:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_policy_lists_exactly_the_operators_whose_approval_counts() {
    let text = include_str!("../../../policy/tests/fixtures/policies/standard.toml")
        .replace(
            "0x1111111111111111111111111111111111111111",
            &demo::DEMO_SAFE.to_checksum(None),
        )
        .replace(
            "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            &demo::DEMO_TOKEN.to_checksum(None),
        );
    let policy = Policy::compile(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_provider_with_policy(dir.path(), Options::demo().served(), Some(&text)).await;
    let mut c = gw.client().await;
    let keys = |id: &str, k: usize| test_signing_key(&format!("{id}#{k}"));
    let initiator = test_signing_key("alice#0");
    // Within prod-usdc-standard (treasury 2), then above it (treasury 3 and security 1).
    let usdc = |whole: u64| U256::from(whole) * U256::from(1_000_000u64);
    let (small, _) = walk(&mut c, &policy, &initiator, &keys, usdc(1_000), 0).await;
    let (large, _) = walk(&mut c, &policy, &initiator, &keys, usdc(2_000_000), 100).await;
    // carol added the payee to the address book and it was never paid: she does not count on
    // a first payment to it; the walk above proved she is not listed either.
    assert!(!small.contains(&"carol".to_owned()), "{small:?}");
    assert!(small.contains(&"bob".to_owned()), "{small:?}");
    assert!(large.contains(&"dave".to_owned()), "{large:?}");
    gw.stop().await;
}
