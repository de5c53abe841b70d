//! Issue 16: the on-chain screen. The test deploys a contract with the Chainalysis oracle's
//! interface (`SanctionsOracle` in the simulator's `TestContracts.sol`: the owner adds and removes
//! addresses, anyone asks `isSanctioned(address)`) on the local ganache node with an ordinary
//! transaction; the gateway asks it about every address a proposal touches, through a JSON-RPC
//! proxy that can hang.

use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, sol};
use signgate_gateway::config::OracleConfig;
use signgate_policy::sanctions::{Jurisdiction, ListAction, ListId};
use signgate_proto::v1 as pb;
use signgate_testkit::{
    node::{ChainNode, DEPLOYER, test_contract},
    proxy::RpcProxy,
};

use crate::{
    demo,
    support::{
        Options, deny_codes, deny_reasons, start_with_oracles, state, submit, token_transfer,
    },
};

sol! {
    /// The test oracle's owner functions (the gateway itself only calls `isSanctioned`).
    function addToSanctionsList(address[] newSanctions) external;
    function removeFromSanctionsList(address[] removeSanctions) external;
}

/// Deploys the test oracle from [`DEPLOYER`], its owner.
async fn deploy_oracle(node: &ChainNode) -> Address {
    let receipt = node
        .send(DEPLOYER, None, test_contract("SanctionsOracle"), U256::ZERO)
        .await;
    serde_json::from_value(receipt["contractAddress"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oracle_denies_a_sanctioned_address_and_a_timeout_cannot_screen() {
    let node = tokio::task::spawn_blocking(ChainNode::start).await.unwrap();
    let contract = deploy_oracle(&node).await;
    let proxy = RpcProxy::start(node.url());
    let dir = tempfile::tempdir().unwrap();
    let oracle = OracleConfig {
        id: ListId::new("chainalysis").unwrap(),
        jurisdiction: Some(Jurisdiction::new("US-OFAC").unwrap()),
        action: ListAction::Deny,
        endpoint: signgate_chain::EndpointUrl::parse(&proxy.url()).unwrap(),
        contract,
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
    let add = addToSanctionsListCall {
        newSanctions: vec![demo::PAYEE],
    };
    node.send(
        DEPLOYER,
        Some(contract),
        add.abi_encode().into(),
        U256::ZERO,
    )
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

    // The owner removes the payee (a delisting): the oracle no longer denies it.
    let remove = removeFromSanctionsListCall {
        removeSanctions: vec![demo::PAYEE],
    };
    node.send(
        DEPLOYER,
        Some(contract),
        remove.abi_encode().into(),
        U256::ZERO,
    )
    .await;
    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(3u64), 0),
        "alice",
    )
    .await;
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );

    // The oracle's endpoint stops answering: cannot screen, denied.
    proxy.hang();
    let p = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(4u64), 0),
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
