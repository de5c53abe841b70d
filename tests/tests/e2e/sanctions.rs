//! Issue 6, test 4: a sanctioned recipient hidden in a batch inside a batch is found and
//! denied, and the reason says where.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use signgate_proto::v1 as pb;
use signgate_simulator::{
    Operation, SafeTx, SafeVersion,
    abi::IMultiSend,
    deployments::{self, SafeContract},
};

use crate::{
    demo,
    support::{Options, deny_reasons, erc20_transfer, start, state, submit},
};

/// MultiSend's packed encoding of one entry.
fn entry(op: Operation, to: Address, data: &[u8]) -> Vec<u8> {
    let mut out = vec![op.as_u8()];
    out.extend_from_slice(to.as_slice());
    out.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
    out.extend_from_slice(data);
    out
}

fn multisend(entries: &[Vec<u8>]) -> Bytes {
    IMultiSend::multiSendCall {
        transactions: entries.concat().into(),
    }
    .abi_encode()
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sanctioned_recipient_in_a_nested_batch_is_denied_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let ms = deployments::canonical(SafeContract::MultiSend, SafeVersion::V1_4_1).unwrap();
    let inner = multisend(&[entry(
        Operation::Call,
        demo::DEMO_TOKEN,
        &erc20_transfer(demo::SANCTIONED, U256::from(5u64)),
    )]);
    let outer = multisend(&[
        entry(
            Operation::Call,
            demo::DEMO_TOKEN,
            &erc20_transfer(demo::PAYEE, U256::from(1u64)),
        ),
        entry(Operation::DelegateCall, ms, &inner),
    ]);
    let mut tx = SafeTx::call(ms, U256::ZERO, outer, U256::ZERO);
    tx.operation = Operation::DelegateCall;

    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;

    assert_eq!(state(&p), pb::ProposalState::Denied);
    let listed = deny_reasons(&p)
        .into_iter()
        .find(|r| r.code == "sanctions.listed_address")
        .unwrap_or_else(|| panic!("{:?}", p.decision));
    let location = listed
        .evidence
        .iter()
        .find(|e| e.key == "location")
        .unwrap()
        .value
        .clone();
    assert!(
        location.contains("[1]") && location.contains("[0]"),
        "{location}"
    );
    assert!(location.contains("recipient"), "{location}");
    assert!(
        p.screening_hits.iter().any(|h| h
            .address
            .eq_ignore_ascii_case(&demo::SANCTIONED.to_string())),
        "{:?}",
        p.screening_hits
    );
    gw.stop().await;
}
