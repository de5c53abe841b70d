//! Velocity: a release adds its outflow to the rolling 24 h total, and the next proposal that
//! would cross the demo treasury's daily DEMO limit is denied — also when two approved
//! proposals for different (queued) nonces are released at the same moment.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tonic::Code;

use crate::{
    demo,
    support::{approve, deny_codes, start_with_signers, state, submit, token_transfer},
};

fn demo_tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_counts_toward_the_daily_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 1]).await;
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

/// Issue 6: two proposals for different nonces (the second queued behind the first), each
/// within the 500,000 DEMO daily limit and both approved, together crossing it. Released
/// concurrently, exactly one gets signatures; the other is denied with the policy's velocity
/// reason, in the response, in its stored decision and in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_releases_for_different_nonces_never_cross_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 1]).await;
    let mut c = gw.client().await;

    let mut approved = Vec::new();
    for nonce in [0, 1] {
        let p = submit(
            &mut c,
            demo::DEMO_SAFE,
            &token_transfer(demo::PAYEE, demo_tokens(300_000), nonce),
            "alice",
        )
        .await;
        let p = approve(&mut c, &p, "bob").await;
        let p = approve(&mut c, &p, "carol").await;
        assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
        approved.push(p);
    }
    // The queued one says what its simulation assumed.
    let queued = approved[1].simulation.as_ref().unwrap();
    assert!(queued.success, "{queued:?}");
    assert_eq!(queued.assumptions.len(), 1, "{queued:?}");
    assert!(
        approved[0]
            .simulation
            .as_ref()
            .unwrap()
            .assumptions
            .is_empty()
    );

    let mut set = tokio::task::JoinSet::new();
    for p in &approved {
        let id = p.id.clone();
        let mut c = gw.client().await;
        set.spawn(async move {
            let r = c
                .request_signatures(pb::RequestSignaturesRequest { id: id.clone() })
                .await;
            (id, r)
        });
    }
    let (mut released, mut refused) = (Vec::new(), Vec::new());
    while let Some(r) = set.join_next().await {
        let (id, r) = r.unwrap();
        match r {
            Ok(resp) => released.push((id, resp.into_inner())),
            Err(status) => refused.push((id, status)),
        }
    }
    assert_eq!(released.len(), 1, "refused: {refused:?}");
    assert_eq!(refused.len(), 1);
    assert!(!released[0].1.signatures.is_empty());
    let (loser, status) = &refused[0];
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("velocity.exceeded"),
        "{}",
        status.message()
    );
    let loser_now = c
        .get_proposal(pb::GetProposalRequest { id: loser.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&loser_now), pb::ProposalState::Denied);
    assert!(
        deny_codes(&loser_now)
            .iter()
            .any(|c| c == "velocity.exceeded"),
        "{:?}",
        loser_now.decision
    );
    // Asking again changes nothing: the denial is final.
    let again = c
        .request_signatures(pb::RequestSignaturesRequest { id: loser.clone() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;

    // The audit log holds the release-time denial with its reason and the totals it saw.
    let denial = crate::support::audit_leaves(dir.path())
        .iter()
        .map(|leaf| serde_json::from_slice::<serde_json::Value>(leaf).unwrap())
        .find(|v| {
            let e = &v["event"];
            e["type"] == "decision_made"
                && e["proposal_id"] == loser.as_str()
                && e["trigger"] == "release"
                && e["outcome"] == "deny"
        })
        .expect("the release-time denial is in the audit log");
    let codes = &denial["event"]["reason_codes"];
    assert!(
        codes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "velocity.exceeded"),
        "{codes}"
    );
    let spent = &denial["event"]["evidence"]["velocity"][0]["spent"];
    assert_ne!(
        spent.as_str(),
        Some("0x0"),
        "re-decided on the store's totals: {spent}"
    );
}

/// Issue 13, item 1: what leaves a governed Safe through another Safe's released proposals
/// counts in that Safe's own rolling window. The vault (the nested Safe, governed with a limit
/// of 100 DEMO a day) sends 60 DEMO through a treasury proposal that executes its transaction;
/// once released, a second 60 through the treasury is over the vault's own limit — denied,
/// though the treasury's 500,000 is far away and the vault released nothing itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_leaves_a_reached_safe_counts_in_its_own_window() {
    use alloy_primitives::Bytes;
    use signgate_simulator::{SafeTx, evm::exec_transaction_calldata};
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 1]).await;
    let vault = demo::NESTED_SAFE.to_string();
    let edits = serde_json::json!([
        {
            "find": "[[wallet]]\nname = \"bybit-cold\"",
            "replace": format!("[[wallet]]\nname = \"demo-vault\"\nchain_id = 1\nsafe = \"{vault}\"\ntags = [\"vault\"]\nassets.DEMO = {{ token = \"0x7070707070707070707070707070707070707070\", decimals = 18 }}\n\n[[wallet]]\nname = \"bybit-cold\"")
        },
        {
            "find": "[[tier]]\nname = \"calls\"",
            "replace": "[[tier]]\nname = \"vault-transfers\"\nwallet_tags = [\"vault\"]\nactions = [\"transfer\"]\napprovals = { treasury = 2 }\n\n[[tier]]\nname = \"calls\""
        },
        {
            "find": "limit = \"500000\"",
            "replace": "limit = \"500000\"\n\n[[velocity]]\nwallet = \"demo-vault\"\nasset = \"DEMO\"\nwindow_hours = 24\nlimit = \"100\""
        }
    ]);
    let policy = crate::attacks::edited_policy(edits.as_array().unwrap(), "velocity.rs");
    crate::attacks::apply(gw.addr, &policy).await;
    let mut c = gw.client().await;

    // The treasury executes the vault's transfer, signed by the treasury's approved hash (it
    // is the vault's owner, so `msg.sender` approves).
    let through_vault = |amount: U256, nonce: u64| {
        let inner = token_transfer(demo::PAYEE, amount, 0);
        let mut approved = vec![0u8; 12];
        approved.extend_from_slice(demo::DEMO_SAFE.as_slice());
        approved.extend_from_slice(&[0u8; 32]);
        approved.push(1);
        SafeTx::call(
            demo::NESTED_SAFE,
            U256::ZERO,
            exec_transaction_calldata(&inner, Bytes::from(approved)),
            U256::from(nonce),
        )
    };
    let first = submit(
        &mut c,
        demo::DEMO_SAFE,
        &through_vault(demo_tokens(60), 0),
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

    let second = submit(
        &mut c,
        demo::DEMO_SAFE,
        &through_vault(demo_tokens(60), 1),
        "alice",
    )
    .await;
    assert_eq!(
        state(&second),
        pb::ProposalState::Denied,
        "{:?}",
        second.decision
    );
    let denial = format!("{:?}", second.decision);
    assert!(
        deny_codes(&second).iter().any(|c| c == "velocity.exceeded"),
        "{denial}"
    );
    assert!(
        denial.contains("demo-vault"),
        "the vault's own limit: {denial}"
    );
    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
