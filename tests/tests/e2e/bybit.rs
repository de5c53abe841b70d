//! Issue 6, test 1: the Bybit transaction of 21 February 2025, submitted byte for byte on the
//! real Safe 1.1.1 state, is denied with the delegatecall and singleton-change reasons, and no
//! signature can be requested for it.

use signgate_proto::v1 as pb;
use signgate_simulator::SafeTx;
use tonic::Code;

use crate::{
    demo,
    support::{Options, deny_codes, deny_reasons, start, state, submit},
};

fn bybit() -> serde_json::Value {
    serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/evm/bybit.json"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bybit_replay_is_denied_and_cannot_be_signed() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let fixture = bybit();
    let tx: SafeTx = serde_json::from_value(fixture["tx"].clone()).unwrap();

    let p = submit(&mut c, demo::BYBIT_SAFE, &tx, "alice").await;

    assert_eq!(state(&p), pb::ProposalState::Denied);
    assert_eq!(p.safe_version, "1.1.1", "read from the Safe's singleton");
    assert_eq!(
        p.hashes.as_ref().unwrap().safe_tx_hash,
        fixture["safeTxHash"].as_str().unwrap().to_lowercase(),
        "the hash the Bybit owners signed"
    );
    let codes = deny_codes(&p);
    assert!(
        codes.iter().any(|c| c == "delegatecall.not_allowlisted"),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|c| c == "upgrade.singleton_changed"),
        "{codes:?}"
    );
    let singleton = deny_reasons(&p)
        .into_iter()
        .find(|r| r.code == "upgrade.singleton_changed")
        .unwrap();
    assert!(
        singleton.evidence.iter().any(|e| e
            .value
            .eq_ignore_ascii_case(fixture["backdoor"].as_str().unwrap())),
        "the reason names the new singleton: {singleton:?}"
    );
    let sim = p.simulation.as_ref().unwrap();
    // Typed, in words (issue 20): the old singleton is Safe 1.1.1, the new one is not Safe code.
    assert!(
        sim.safe_changes.iter().any(|c| c.kind == "SINGLETON"
            && c.before_code == "Safe 1.1.1"
            && c.after_version.is_empty()
            && c.after
                .eq_ignore_ascii_case(fixture["backdoor"].as_str().unwrap())),
        "{sim:?}"
    );
    assert!(!sim.delegatecalls.is_empty());

    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    // Still denied, nothing reserved.
    let again = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&again), pb::ProposalState::Denied);
    gw.stop().await;
}

/// The same transaction as a Safe Transaction Service document: the gateway recomputes the
/// hash from the fields and finds the proposal it already has; a page of several transactions
/// is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bybit_transaction_service_document_finds_the_same_proposal() {
    use crate::support::{submission, submit_request};
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let fixture = bybit();
    let tx: SafeTx = serde_json::from_value(fixture["tx"].clone()).unwrap();
    let by_fields = submit(&mut c, demo::BYBIT_SAFE, &tx, "alice").await;

    let page: serde_json::Value = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/vectors/bybit-safe-tx-71.json"
    ))
    .unwrap();
    let mut p = submission(demo::BYBIT_SAFE, &tx);
    p.tx = Some(pb::proposal_submission::Tx::TransactionServiceJson(
        page["results"][0].to_string(),
    ));
    p.expected_safe_tx_hash = by_fields.hashes.as_ref().unwrap().safe_tx_hash.clone();
    let by_document = c
        .submit_proposal(submit_request(&p, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_document.id, by_fields.id);
    assert_eq!(state(&by_document), pb::ProposalState::Denied);

    p.tx = Some(pb::proposal_submission::Tx::TransactionServiceJson(
        page.to_string(),
    ));
    p.expected_safe_tx_hash = String::new();
    let err = c
        .submit_proposal(submit_request(&p, &demo::operator("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("transaction_service_json"),
        "{err:?}"
    );

    // A client that expects another hash is told so, and nothing new is stored.
    let mut wrong = submission(demo::BYBIT_SAFE, &tx);
    wrong.expected_safe_tx_hash = format!("{:#x}", alloy_primitives::B256::repeat_byte(1));
    let err = c
        .submit_proposal(submit_request(&wrong, &demo::operator("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("expected_safe_tx_hash"), "{err:?}");
    let list = c
        .list_proposals(pb::ListProposalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.proposals.len(), 1);
    drop(c);
    gw.stop().await;
}
