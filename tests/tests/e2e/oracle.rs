//! Issue 16: the on-chain screen. A contract with the Chainalysis oracle's interface
//! (`isSanctioned(address) returns (bool)`) is put on the local ganache node by the test, at the
//! mainnet oracle's address; the gateway asks it about every address a proposal touches, through
//! a JSON-RPC proxy that can hang.

use std::time::Duration;

use alloy_primitives::{Address, U256};
use signgate_gateway::config::{CHAINALYSIS_ORACLE, OracleConfig};
use signgate_policy::sanctions::{Jurisdiction, ListAction, ListId};
use signgate_proto::v1 as pb;
use signgate_testkit::{node::ChainNode, proxy::RpcProxy};

use crate::{
    demo,
    support::{
        Options, deny_codes, deny_reasons, start_with_oracles, state, submit, token_transfer,
    },
};

/// Runtime code of the test oracle: `isSanctioned(addr)` answers the storage word at slot
/// `addr` (1: sanctioned), whatever the selector.
///
/// `PUSH1 4  CALLDATALOAD  SLOAD  PUSH1 0  MSTORE  PUSH1 32  PUSH1 0  RETURN`
const ORACLE_CODE: &str = "0x6004355460005260206000f3";

fn slot(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oracle_denies_a_sanctioned_address_and_a_timeout_cannot_screen() {
    let node = tokio::task::spawn_blocking(ChainNode::start).await.unwrap();
    node.rpc(
        "evm_setAccountCode",
        serde_json::json!([CHAINALYSIS_ORACLE, ORACLE_CODE]),
    )
    .await;
    let proxy = RpcProxy::start(node.url());
    let dir = tempfile::tempdir().unwrap();
    let oracle = OracleConfig {
        id: ListId::new("chainalysis").unwrap(),
        jurisdiction: Some(Jurisdiction::new("US-OFAC").unwrap()),
        action: ListAction::Deny,
        endpoint: signgate_chain::EndpointUrl::parse(&proxy.url()).unwrap(),
        contract: CHAINALYSIS_ORACLE,
        timeout: Duration::from_millis(500),
        max_batch: 2,
    };
    let gw = start_with_oracles(dir.path(), Options::demo(), vec![oracle]).await;
    let mut c = gw.client().await;

    // Not sanctioned yet: the oracle answers false for every address touched.
    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(1u64), 0),
        "alice",
    )
    .await;
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    assert!(
        proxy.handle().stats().calls_of("eth_call") >= 3,
        "every touched address asked, batched"
    );

    // The oracle now says the payee is sanctioned: denied, the oracle named with its
    // jurisdiction, the address where it occurs.
    node.set_storage(CHAINALYSIS_ORACLE, slot(demo::PAYEE), U256::from(1u8))
        .await;
    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(2u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&p), pb::ProposalState::Denied);
    let listed = deny_reasons(&p)
        .into_iter()
        .find(|r| r.code == "sanctions.listed_address")
        .unwrap_or_else(|| panic!("{:?}", p.decision));
    let evidence = |key: &str| {
        listed
            .evidence
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(evidence("list"), "chainalysis (US-OFAC)");
    assert!(evidence("location").contains("recipient"), "{listed:?}");
    assert!(
        p.screening_hits
            .iter()
            .any(|h| h.address.eq_ignore_ascii_case(&demo::PAYEE.to_string())),
        "{:?}",
        p.screening_hits
    );

    // The oracle's endpoint stops answering: cannot screen, denied.
    proxy.hang();
    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(3u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&p), pb::ProposalState::Denied);
    assert!(
        deny_codes(&p).contains(&"sanctions.cannot_screen".to_owned()),
        "{:?}",
        p.decision
    );
    // Health says the oracle could not answer, and why.
    let mut admin =
        signgate_proto::v1::admin_client::AdminClient::connect(format!("http://{}", gw.addr))
            .await
            .unwrap();
    let health = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    let component = health
        .components
        .iter()
        .find(|c| c.name == "sanctions-oracle:chainalysis (US-OFAC)")
        .unwrap_or_else(|| panic!("{health:?}"));
    assert_eq!(
        component.status(),
        pb::ComponentStatus::Failing,
        "{component:?}"
    );
    assert!(
        component.detail.contains("could not answer"),
        "{component:?}"
    );
    drop((c, admin));
    gw.stop().await;
}
