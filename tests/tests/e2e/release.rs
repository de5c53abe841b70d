//! Issue 6, test 2: a benign ERC-20 transfer from NeedsApprovals to a signed `execTransaction`
//! that the real Safe 1.4.1 accepts when run in the simulator: the tokens move.

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use signgate_simulator::{
    SafeVersion,
    evm::{SimulationOptions, exec_transaction_calldata, simulate_with},
    report::{Outcome, SignatureMode, TokenEventKind},
};

use crate::{
    demo,
    support::{
        approve, audit_kinds, demo_state, start_with_signers, state, submit, token_transfer,
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_benign_transfer_is_approved_released_and_accepted_by_the_safe() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 2]).await;
    let mut c = gw.client().await;
    let amount = U256::from(250_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let tx = token_transfer(demo::PAYEE, amount, 0);

    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    assert!(p.simulation.as_ref().unwrap().success);
    let moved = &p.simulation.as_ref().unwrap().asset_movements;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].amount, amount.to_string());
    assert!(
        p.actions[0].description.contains("transfer"),
        "{:?}",
        p.actions
    );
    assert_eq!(p.actions[0].function, "transfer");
    assert!(
        p.actions[0]
            .arguments
            .iter()
            .any(|e| e.key == "recipient" && e.value == demo::PAYEE.to_checksum(None)),
        "{:?}",
        p.actions[0].arguments
    );

    // Not approved yet: nothing to sign.
    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);

    let p = approve(&mut c, &p, "bob").await;
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);

    let released = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state(released.proposal.as_ref().unwrap()),
        pb::ProposalState::Released
    );
    assert_eq!(released.signers.len(), 2);
    assert!(
        released.signers.iter().all(|s| s.error.is_empty()),
        "{:?}",
        released.signers
    );
    assert_eq!(released.signatures.len(), 2 * 65);
    assert_eq!(
        released.exec_transaction_calldata,
        exec_transaction_calldata(&tx, released.signatures.clone().into()).to_vec()
    );

    // The real Safe contract accepts the packed signatures and the tokens move.
    let report = simulate_with(
        &demo_state(),
        1,
        demo::DEMO_SAFE,
        SafeVersion::V1_4_1,
        &tx,
        Some(&released.signatures),
        &SimulationOptions::default(),
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:?}");
    assert_eq!(report.signatures, SignatureMode::Supplied);
    assert!(
        report
            .token_events
            .iter()
            .any(|e| e.token == demo::DEMO_TOKEN
                && matches!(&e.event, TokenEventKind::Erc20Transfer { from, to, value }
            if *from == demo::DEMO_SAFE && *to == demo::PAYEE && *value == amount))
    );

    // Asking again returns the same release, never a second transaction for the nonce.
    let again = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.exec_transaction_calldata,
        released.exec_transaction_calldata
    );

    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;

    // Every step is in the audit log, in order (after the start's own records).
    let kinds: Vec<String> = audit_kinds(dir.path())
        .into_iter()
        .skip_while(|k| k == "sanctions_list" || k == "server_started")
        // The anomaly rules' observations of each call interleave; the order of the state
        // changes is what this test is about.
        .filter(|k| k != "call_observed" && k != "anomaly")
        .collect();
    let expected = [
        "proposal_submitted",
        "decision_made",
        "approval_received",
        "decision_made",
        "approval_received",
        "decision_made",
        "decision_made",
        "release_ticket_issued",
        "signatures_returned",
    ];
    assert!(kinds.starts_with(&expected.map(str::to_owned)), "{kinds:?}");
}
