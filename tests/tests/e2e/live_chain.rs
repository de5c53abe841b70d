//! Issue 12: decisions on the chain's real state. A real JSON-RPC node (ganache, started by the
//! project's script) holds the real Safe 1.4.1 stack at its canonical addresses, a Safe created
//! through the real factory and an ERC-20; the gateway reads it through `[[chains]]`-style
//! settings, through a proxy that counts round trips and injects faults.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use signgate_chain::{Addressing, BlockChoice, ChainSettings, Chains, EndpointUrl};
use signgate_gateway::pipeline::setup;
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use signgate_simulator::{
    Operation, SafeTx,
    abi::{IMultiSend, ISafe},
    constants::slots,
    decode::{BatchEntry, encode_batch},
    deployments,
};
use tonic::{Code, transport::Channel};

use crate::{
    chain::{ChainNode, RpcProxy, node},
    demo,
    support::{
        Options, Running, approve, deny_codes, erc20_transfer, start_provider_with_policy,
        start_signer, state, submission, submit_request,
    },
};

const CHAIN: u64 = 1337;

fn e18(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// The node, the Safe on it (the demo owners, threshold 2) and a token the Safe holds.
struct World {
    node: ChainNode,
    safe: Address,
    token: Address,
    owners: Vec<PrivateKeySigner>,
}

async fn world() -> World {
    let node = ChainNode::start();
    node.deploy_safe_stack().await;
    let owners = demo::owners();
    let addrs: Vec<Address> = owners.iter().map(PrivateKeySigner::address).collect();
    let safe = node.create_safe(&addrs, 2, 7).await;
    let token = node.deploy_token(safe, e18(1_000_000)).await;
    World {
        node,
        safe,
        token,
        owners,
    }
}

/// The demo policy with its treasury moved to the live Safe and its DEMO token to the live one.
fn policy(w: &World) -> String {
    let text = setup::DEMO_POLICY
        .replace(
            "chain_id = 1\nsafe = \"0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe\"",
            &format!("chain_id = {CHAIN}\nsafe = \"{}\"", w.safe),
        )
        .replace(
            "0x7070707070707070707070707070707070707070",
            &w.token.to_string(),
        );
    assert!(
        text.contains(&w.safe.to_string()),
        "the demo policy changed shape"
    );
    text
}

fn settings(urls: &[String]) -> ChainSettings {
    let mut s = ChainSettings::new(
        CHAIN,
        "ganache",
        urls.iter()
            .map(|u| EndpointUrl::parse(u).unwrap())
            .collect(),
    );
    s.block = BlockChoice::Latest { confirmations: 0 };
    // ganache answers no EIP-1898 block objects; every batch still checks the pinned header.
    s.addressing = Addressing::BlockNumber;
    s.request_timeout = Duration::from_millis(1_500);
    s.poll_interval = Duration::from_millis(100);
    s
}

/// Waits past the poll interval, so the next decision pins a block that includes what the test
/// just did on the node (decisions within one interval share a pin by design).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(250)).await;
}

async fn gateway(
    dir: &std::path::Path,
    w: &World,
    chains: Arc<Chains>,
    signers: Vec<String>,
) -> Running {
    start_provider_with_policy(
        dir,
        Options {
            state: chains,
            lists: None,
            signers,
            simulation_timeout: None,
            checkpoint_hook: None,
            webhook: None,
            env: Vec::new(),
            console: false,
        },
        Some(&policy(w)),
    )
    .await
}

fn live(safe: Address, tx: &SafeTx) -> pb::ProposalSubmission {
    let mut p = submission(safe, tx);
    p.chain_id = CHAIN;
    p
}

async fn propose(
    c: &mut GatewayClient<Channel>,
    safe: Address,
    tx: &SafeTx,
) -> Result<pb::Proposal, tonic::Status> {
    c.submit_proposal(submit_request(&live(safe, tx), &demo::operator("alice")))
        .await
        .map(tonic::Response::into_inner)
}

fn transfer(w: &World, amount: U256, nonce: u64) -> SafeTx {
    SafeTx::call(
        w.token,
        U256::ZERO,
        erc20_transfer(demo::PAYEE, amount),
        U256::from(nonce),
    )
}

async fn approved(c: &mut GatewayClient<Channel>, p: &pb::Proposal) -> pb::Proposal {
    let p = approve(c, p, "bob").await;
    let p = approve(c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_is_decided_on_the_live_safe_released_and_executed_on_chain() {
    let w = world().await;
    let proxy = RpcProxy::start(w.node.url());
    let chains = Arc::new(Chains::new(vec![settings(&[proxy.url()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let s1 = start_signer(dir.path(), w.owners[0].clone()).await;
    let s2 = start_signer(dir.path(), w.owners[2].clone()).await;
    let gw = gateway(
        dir.path(),
        &w,
        chains.clone(),
        vec![s1.url.clone(), s2.url.clone()],
    )
    .await;
    let mut c = gw.client().await;
    let amount = e18(250_000);
    let tx = transfer(&w, amount, 0);

    // The version is the chain's: naming another one is refused, naming none is fine.
    let mut wrong = live(w.safe, &tx);
    wrong.safe_version = "1.3.0".into();
    let err = c
        .submit_proposal(submit_request(&wrong, &demo::operator("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("1.4.1"), "{err:?}");

    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    let sim = p.simulation.as_ref().unwrap();
    assert!(sim.success, "{sim:?}");
    assert_eq!(sim.asset_movements.len(), 1, "{sim:?}");
    assert_eq!(sim.asset_movements[0].amount, amount.to_string());
    let pinned = chains.get(CHAIN).unwrap().health().pinned.unwrap().0;
    assert!(
        sim.state_block.contains(&pinned.to_string()),
        "{sim:?} vs {pinned}"
    );

    // A chain that is not configured is refused outright.
    let mut elsewhere = live(w.safe, &tx);
    elsewhere.chain_id = 1;
    let err = c
        .submit_proposal(submit_request(&elsewhere, &demo::operator("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("not configured"), "{err:?}");

    let p = approved(&mut c, &p).await;
    let released = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.signatures.len(), 2 * 65);

    // The released calldata, sent to the real Safe, moves the tokens.
    assert_eq!(w.node.erc20_balance(w.token, demo::PAYEE).await, U256::ZERO);
    w.node
        .send_calldata(w.safe, released.exec_transaction_calldata.into())
        .await;
    assert_eq!(w.node.erc20_balance(w.token, demo::PAYEE).await, amount);
    assert_eq!(w.node.safe_nonce(w.safe).await, 1);

    // Health names the chain, its pin and its endpoint.
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();
    let health = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    let chain = health
        .components
        .iter()
        .find(|c| c.name == format!("chain:{CHAIN}:ganache"))
        .unwrap();
    assert_eq!(
        chain.status,
        i32::from(pb::ComponentStatus::Ok),
        "{chain:?}"
    );
    assert!(chain.detail.contains("pinned to block"), "{chain:?}");
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

/// Code that stores its first argument in slot 0 of whatever storage it runs in: what the
/// Bybit attacker's contract did to the Safe proxy through DELEGATECALL.
const SLOT0_WRITER: &str = "0x60043560005500";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bybit_style_delegatecall_and_a_guarded_transaction_are_denied_on_the_live_safe() {
    let w = world().await;
    let writer = Address::repeat_byte(0xbb);
    w.node
        .rpc(
            "evm_setAccountCode",
            serde_json::json!([writer, SLOT0_WRITER]),
        )
        .await;
    let chains = Arc::new(Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;

    // The screen shows an ERC-20 transfer; the transaction DELEGATECALLs code that overwrites the
    // proxy's singleton with the attacker's address.
    let attacker = Address::repeat_byte(0xaa);
    let data: Bytes = erc20_transfer(attacker, U256::ZERO);
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(writer, U256::ZERO, data, U256::ZERO)
    };
    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(state(&p), pb::ProposalState::Denied, "{:?}", p.decision);
    let codes = deny_codes(&p);
    assert!(
        codes.iter().any(|c| c == "delegatecall.not_allowlisted"),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|c| c == "upgrade.singleton_changed"),
        "{codes:?}"
    );

    // A guard on the live Safe that refuses every DELEGATECALL: the chain's guard runs in the
    // simulation, so a delegatecall it would revert is denied as failing, whatever the policy.
    let receipt = w
        .node
        .send(
            node::DEPLOYER,
            None,
            node::test_contract("NoDelegateCallGuard"),
            U256::ZERO,
        )
        .await;
    let guard: Address = serde_json::from_value(receipt["contractAddress"].clone()).unwrap();
    w.node
        .set_storage(w.safe, slots::guard(), guard.into_word().into())
        .await;
    settle().await;
    let multisend = deployments::canonical(
        deployments::SafeContract::MultiSendCallOnly,
        signgate_simulator::SafeVersion::V1_4_1,
    )
    .unwrap();
    let inner = erc20_transfer(demo::PAYEE, U256::from(1u64));
    let batch = IMultiSend::multiSendCall {
        transactions: encode_batch([BatchEntry {
            operation: Operation::Call,
            to: w.token,
            value: U256::ZERO,
            data: &inner,
        }])
        .into(),
    }
    .abi_encode();
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(multisend, U256::ZERO, batch.into(), U256::ZERO)
    };
    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(state(&p), pb::ProposalState::Denied, "{:?}", p.decision);
    let sim = p.simulation.as_ref().unwrap();
    assert!(!sim.success, "{sim:?}");
    assert!(
        deny_codes(&p).iter().any(|c| c == "simulation.failed"),
        "{:?}",
        deny_codes(&p)
    );
    gw.stop().await;
}

/// Releases `p`, expecting a refusal, and returns its message.
async fn refused_release(c: &mut GatewayClient<Channel>, p: &pb::Proposal) -> tonic::Status {
    c.request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changed_on_chain_after_the_approvals_is_seen_at_release() {
    let w = world().await;
    let chains = Arc::new(Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let s1 = start_signer(dir.path(), w.owners[0].clone()).await;
    let s2 = start_signer(dir.path(), w.owners[2].clone()).await;
    let gw = gateway(dir.path(), &w, chains, vec![s1.url.clone(), s2.url.clone()]).await;
    let mut c = gw.client().await;
    let outside = [w.owners[0].clone(), w.owners[1].clone()];

    // 1. The nonce is used on chain by another transaction after the approvals.
    let p = propose(&mut c, w.safe, &transfer(&w, e18(100), 0))
        .await
        .unwrap();
    let p = approved(&mut c, &p).await;
    w.node
        .exec_safe_tx(w.safe, &transfer(&w, e18(1), 0), &outside)
        .await;
    settle().await;
    let err = refused_release(&mut c, &p).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("simulation.failed") && err.message().contains("already used"),
        "{err:?}"
    );

    // 2. The Safe's balance is spent by another transaction after the approvals: the release
    // simulates on the chain of that moment, where the transfer reverts.
    let p = propose(&mut c, w.safe, &transfer(&w, e18(400_000), 2))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    let p = approved(&mut c, &p).await;
    w.node
        .exec_safe_tx(w.safe, &transfer(&w, e18(700_000), 1), &outside)
        .await;
    settle().await;
    let err = refused_release(&mut c, &p).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("simulation.failed"), "{err:?}");
    assert_eq!(
        w.node.erc20_balance(w.token, demo::PAYEE).await,
        e18(700_001)
    );

    // 3. An owner whose signer backend the gateway asks is removed after the approvals: the
    // collected signatures no longer satisfy the Safe, and none leaves the gateway.
    let p = propose(&mut c, w.safe, &transfer(&w, e18(10), 3))
        .await
        .unwrap();
    let p = approved(&mut c, &p).await;
    let removed = w.owners[2].address();
    let list = w.node.safe_owners(w.safe).await;
    let at = list.iter().position(|o| *o == removed).unwrap();
    let prev = if at == 0 {
        signgate_simulator::constants::SENTINEL
    } else {
        list[at - 1]
    };
    let remove = ISafe::removeOwnerCall {
        prevOwner: prev,
        owner: removed,
        _threshold: U256::from(2u64),
    }
    .abi_encode();
    w.node
        .exec_safe_tx(
            w.safe,
            &SafeTx::call(w.safe, U256::ZERO, remove.into(), U256::from(2u64)),
            &outside,
        )
        .await;
    assert!(!w.node.safe_owners(w.safe).await.contains(&removed));
    settle().await;
    let err = refused_release(&mut c, &p).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message()
            .contains("execTransaction with the collected signatures would not succeed"),
        "{err:?}"
    );
    assert_eq!(w.node.safe_nonce(w.safe).await, 3);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

/// A 32-byte storage word.
fn word(n: u64) -> serde_json::Value {
    serde_json::json!(format!("{:#066x}", n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_that_disagree_refuse_with_both_answers_and_one_down_suffices_only_if_configured()
{
    let w = world().await;
    let a = RpcProxy::start(w.node.url());
    let b = RpcProxy::start(w.node.url());
    let chains = Arc::new(Chains::new(vec![settings(&[a.url(), b.url()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;

    // One provider reports the Safe's threshold as 1 (a lie that would let one key move funds).
    b.rewrite("eth_getStorageAt", |_, params, result| {
        if params[1] == serde_json::json!("0x4") {
            word(1)
        } else {
            result
        }
    });
    let err = propose(&mut c, w.safe, &transfer(&w, e18(5), 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let m = err.message();
    assert!(m.contains("disagree") && m.contains("threshold"), "{m}");
    let (la, lb) = (
        a.url().trim_end_matches('/').to_owned(),
        b.url().trim_end_matches('/').to_owned(),
    );
    assert!(m.contains(&format!("{la} says 0x2")), "{m}");
    assert!(m.contains(&format!("{lb} says 0x1")), "{m}");

    // Every other lie (owners, singleton, code, storage, block) is a file of
    // tests/fixtures/attacks/providers/, walked below.

    // One endpoint down: with both required, nothing is decided.
    b.clear_faults();
    b.down();
    settle().await;
    let err = propose(&mut c, w.safe, &transfer(&w, e18(7), 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("1 of 2 endpoints answered"),
        "{err:?}"
    );
    gw.stop().await;

    // With min_agreeing = 1 the survivor suffices, even when it is not the first endpoint.
    b.heal();
    a.down();
    let mut one = settings(&[a.url(), b.url()]);
    one.min_agreeing = 1;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        dir.path(),
        &w,
        Arc::new(Chains::new(vec![one]).unwrap()),
        Vec::new(),
    )
    .await;
    let mut c = gw.client().await;
    let p = propose(&mut c, w.safe, &transfer(&w, e18(8), 0))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_transfer_takes_at_most_three_sequential_round_trips() {
    let w = world().await;
    let proxy = RpcProxy::start(w.node.url());
    proxy.set_latency(Duration::from_millis(20));
    let mut s = settings(&[proxy.url()]);
    // Long enough that the warm submission below shares the cold one's pin.
    s.poll_interval = Duration::from_secs(30);
    let chains = Arc::new(Chains::new(vec![s]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;

    proxy.reset();
    let p = propose(&mut c, w.safe, &transfer(&w, e18(5), 0))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    let cold = proxy.stats();
    // The head and chain id, the Safe's state with the transaction's accounts, and one batch of
    // everything the speculative runs missed.
    assert!(
        cold.http_requests <= 3,
        "{} round trips: {:?}",
        cold.http_requests,
        cold.methods
    );

    // The same pin, warm: only the approvals the simulation assumes for this new safeTxHash
    // are read, in one round trip.
    proxy.reset();
    let p = propose(&mut c, w.safe, &transfer(&w, e18(6), 0))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    assert!(
        proxy.stats().http_requests <= 1,
        "{:?}",
        proxy.stats().methods
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_chain_a_hanging_and_a_malformed_endpoint_refuse_and_the_gateway_keeps_serving() {
    let w = world().await;
    let proxy = RpcProxy::start(w.node.url());
    let mut s = settings(&[proxy.url()]);
    s.request_timeout = Duration::from_millis(400);
    let chains = Arc::new(Chains::new(vec![s]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();

    proxy.wrong_chain_id(5);
    let err = propose(&mut c, w.safe, &transfer(&w, e18(1), 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("cannot simulate") && err.message().contains("chain id 5"),
        "{err:?}"
    );
    let health = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    let chain = health
        .components
        .iter()
        .find(|c| c.name.starts_with("chain:"))
        .unwrap();
    assert_eq!(
        chain.status,
        i32::from(pb::ComponentStatus::Failing),
        "{chain:?}"
    );
    assert!(chain.detail.contains("chain id 5"), "{chain:?}");

    proxy.clear_faults();
    proxy.hang();
    let err = propose(&mut c, w.safe, &transfer(&w, e18(2), 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("no answer within 400 ms"), "{err:?}");

    proxy.heal();
    proxy.malformed();
    let err = propose(&mut c, w.safe, &transfer(&w, e18(3), 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("not JSON"), "{err:?}");

    proxy.heal();
    let p = propose(&mut c, w.safe, &transfer(&w, e18(4), 0))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_reorganised_away_fails_the_reads_that_follow() {
    use signgate_chain::{PinnedState as _, StateProvider as _};
    let w = world().await;
    let chains = Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap();
    let before = w.node.snapshot().await;
    w.node.mine().await;
    let pinned = chains.pin(CHAIN, true).await.unwrap();
    let number = pinned.block().number;
    // Another block at the same height replaces the pinned one.
    w.node.revert(&before).await;
    w.node
        .set_balance(Address::repeat_byte(0x77), U256::from(1u64))
        .await;
    assert_eq!(w.node.block_number().await, number);
    assert_ne!(Some(w.node.block_hash().await), pinned.block().hash);
    let err = pinned
        .run(|view| {
            use revm::database_interface::DatabaseRef as _;
            view.storage_ref(Address::repeat_byte(0x55), U256::ZERO)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, signgate_chain::ChainError::Reorganised { .. }),
        "{err:?}"
    );
}

/// One file of `tests/fixtures/attacks/providers/`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lie {
    description: String,
    lie: Rewrite,
    expect: Expect,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rewrite {
    method: String,
    #[serde(default)]
    when: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    set_field: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    code: String,
    message_contains: Vec<String>,
}

fn placeholders(text: &str, w: &World) -> String {
    text.replace("$safe", &w.safe.to_string())
        .replace("$token", &w.token.to_string())
}

/// Whether a parameter equals the expected text (addresses compared without regard to case).
fn matches(actual: Option<&serde_json::Value>, expected: &str) -> bool {
    let Some(actual) = actual.and_then(serde_json::Value::as_str) else {
        return false;
    };
    match expected.strip_suffix('*') {
        Some(prefix) => actual.to_lowercase().starts_with(&prefix.to_lowercase()),
        None => actual.eq_ignore_ascii_case(expected),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lie_of_one_provider_in_the_fixtures_is_refused() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/attacks/providers");
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");

    let w = world().await;
    let honest = RpcProxy::start(w.node.url());
    let liar = RpcProxy::start(w.node.url());
    let chains = Arc::new(Chains::new(vec![settings(&[honest.url(), liar.url()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;
    let mut amount = 1u64;
    let mut next_transfer = |w: &World| {
        amount += 1;
        transfer(w, e18(amount), 0)
    };
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let case: Lie = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let when: Vec<(String, String)> = case
            .lie
            .when
            .iter()
            .map(|(k, v)| (k.clone(), placeholders(v, &w)))
            .collect();
        let result = case.lie.result.as_ref().map(|r| {
            serde_json::from_str::<serde_json::Value>(&placeholders(&r.to_string(), &w)).unwrap()
        });
        let set_field: Vec<(String, String)> = case
            .lie
            .set_field
            .iter()
            .map(|(k, v)| (k.clone(), placeholders(v, &w)))
            .collect();
        liar.rewrite(&case.lie.method, move |_, params, real| {
            if !when.iter().all(|(ptr, v)| matches(params.pointer(ptr), v)) {
                return real;
            }
            if let Some(r) = &result {
                return r.clone();
            }
            let mut out = real;
            for (ptr, v) in &set_field {
                if let Some(slot) = out.pointer_mut(ptr) {
                    *slot = serde_json::json!(v);
                }
            }
            out
        });
        // A fresh block: nothing of this case is served from an earlier pin's cache.
        w.node.mine().await;
        settle().await;
        let err = propose(&mut c, w.safe, &next_transfer(&w))
            .await
            .expect_err(&format!("{name}: {} was decided", case.description));
        assert_eq!(
            Some(err.code() as i32),
            crate::attacks::pb_code(&case.expect.code),
            "{name}: {err:?}"
        );
        for part in &case.expect.message_contains {
            let part = placeholders(part, &w);
            assert!(
                err.message().contains(&part),
                "{name}: {part:?} not in {err:?}"
            );
        }
        // The lie withdrawn, the same kind of proposal is decided again.
        liar.clear_faults();
        w.node.mine().await;
        settle().await;
        let p = propose(&mut c, w.safe, &next_transfer(&w))
            .await
            .unwrap_or_else(|e| panic!("{name}: after the lie: {e:?}"));
        assert_eq!(
            state(&p),
            pb::ProposalState::NeedsApprovals,
            "{name}: {:?}",
            p.decision
        );
    }
    gw.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signgate_serve_with_a_chains_table_decides_on_the_live_chain() {
    use signgate_gateway::serve::{ServeArgs, run};
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, policy(&w)).unwrap();
    let list = dir.path().join("sanctions.txt");
    std::fs::write(&list, setup::DEMO_SANCTIONS).unwrap();
    let (grpc, metrics) = (free_port(), free_port());
    let config = dir.path().join("signgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{grpc}\"\n\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n\
             [store]\ndata_dir = \"{data}\"\n\n[pipeline]\ndemo = false\npolicy = \"{policy}\"\n\n\
             [audit]\ncheckpoint_dir = \"{witness}\"\n\n\
             [[sanctions]]\nid = \"internal\"\npath = \"{list}\"\nformat = \"plain\"\n\
             category = \"internal\"\naction = \"deny\"\nmax_age_hours = 48\n\n\
             [[chains]]\nchain_id = {CHAIN}\nname = \"ganache\"\nendpoints = [\"{url}\"]\n\
             confirmations = 0\naddressing = \"block_number\"\npoll_interval_ms = 200\n",
            data = dir.path().join("data").display(),
            policy = policy_path.display(),
            witness = dir.path().join("witness").display(),
            list = list.display(),
            url = w.node.url(),
        ),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        run(
            &ServeArgs {
                config: Some(config),
            },
            Vec::<(String, String)>::new(),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    let mut c = loop {
        match GatewayClient::connect(format!("http://127.0.0.1:{grpc}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let p = propose(&mut c, w.safe, &transfer(&w, e18(3), 0))
        .await
        .unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    assert!(p.simulation.as_ref().unwrap().success);

    let scraped = crate::metrics::scrape(format!("127.0.0.1:{metrics}").parse().unwrap()).await;
    assert!(
        scraped.contains(&format!(
            "signgate_chain_usable{{chain_id=\"{CHAIN}\",chain=\"ganache\"}} 1"
        )),
        "{scraped}"
    );
    assert!(scraped.contains("signgate_chain_endpoint_ok{"), "{scraped}");
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}

/// Issue 13 item 9: code that changes after the decision. A library is allowlisted by address
/// and code hash; after the approvals its code at that address changes (a metamorphic contract,
/// an EIP-7702 account re-delegating, a test node's `setCode`: the same effect). The release
/// simulates again at a fresh pin, where the DELEGATECALL runs the new code: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_library_whose_code_changed_after_the_approvals_is_refused_at_release() {
    use alloy_primitives::keccak256;
    let w = world().await;
    // The library does nothing (STOP) when the proposal is decided.
    let library = Address::repeat_byte(0x1b);
    let benign = "0x00";
    w.node
        .rpc("evm_setAccountCode", serde_json::json!([library, benign]))
        .await;
    let code_hash = keccak256(alloy_primitives::hex::decode(benign).unwrap());
    let policy_text = format!(
        "{}\n[[delegatecall.allow]]\nlabel = \"no-op library\"\naddress = \"{library}\"\n\
         code_hash = \"{code_hash}\"\n\n[[tier]]\nname = \"libraries\"\nactions = [\"delegatecall\"]\n\
         approvals = {{ treasury = 2 }}\n",
        policy(&w)
    );
    let chains = Arc::new(Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let s1 = start_signer(dir.path(), w.owners[0].clone()).await;
    let s2 = start_signer(dir.path(), w.owners[2].clone()).await;
    let gw = start_provider_with_policy(
        dir.path(),
        Options {
            state: chains,
            lists: None,
            signers: vec![s1.url.clone(), s2.url.clone()],
            simulation_timeout: None,
            checkpoint_hook: None,
            webhook: None,
            env: Vec::new(),
            console: false,
        },
        Some(&policy_text),
    )
    .await;
    let mut c = gw.client().await;
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(library, U256::ZERO, Bytes::new(), U256::ZERO)
    };
    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    // The delegatecall's tier and the demo's call tier: two treasury and one security approval.
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    let p = approve(&mut c, &p, "dave").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);

    // Now the library writes the Safe's slot 0 (the Bybit end state).
    w.node
        .rpc(
            "evm_setAccountCode",
            serde_json::json!([library, SLOT0_WRITER]),
        )
        .await;
    settle().await;
    let err = refused_release(&mut c, &p).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("delegatecall.not_allowlisted"),
        "{err:?}"
    );
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

/// Issue 13 item 9, at release: the general mutable-code rule runs again on the state of that
/// moment. A library allowlisted by address and code hash is approved; after the approvals its
/// account gets an EIP-1967 implementation slot (its admin made it a proxy: same code hash,
/// logic now elsewhere). The release re-simulates at a fresh pin and refuses it as mutable
/// code, naming the slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_library_that_became_a_proxy_after_the_approvals_is_refused_at_release() {
    use alloy_primitives::keccak256;
    let w = world().await;
    let library = Address::repeat_byte(0x1e);
    let benign = "0x00";
    w.node
        .rpc("evm_setAccountCode", serde_json::json!([library, benign]))
        .await;
    let code_hash = keccak256(alloy_primitives::hex::decode(benign).unwrap());
    let policy_text = format!(
        "{}\n[[delegatecall.allow]]\nlabel = \"no-op library\"\naddress = \"{library}\"\n\
         code_hash = \"{code_hash}\"\n\n[[tier]]\nname = \"libraries\"\nactions = [\"delegatecall\"]\n\
         approvals = {{ treasury = 2 }}\n",
        policy(&w)
    );
    let chains = Arc::new(Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let s1 = start_signer(dir.path(), w.owners[0].clone()).await;
    let s2 = start_signer(dir.path(), w.owners[2].clone()).await;
    let gw = start_provider_with_policy(
        dir.path(),
        Options {
            state: chains,
            lists: None,
            signers: vec![s1.url.clone(), s2.url.clone()],
            simulation_timeout: None,
            checkpoint_hook: None,
            webhook: None,
            env: Vec::new(),
            console: false,
        },
        Some(&policy_text),
    )
    .await;
    let mut c = gw.client().await;
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(library, U256::ZERO, Bytes::new(), U256::ZERO)
    };
    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(
        state(&p),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        p.decision
    );
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    let p = approve(&mut c, &p, "dave").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);

    // Its account now holds an EIP-1967 implementation: a proxy, whatever its code hash.
    w.node
        .set_storage(
            library,
            signgate_simulator::constants::slots::eip1967_implementation(),
            U256::from_be_slice(Address::repeat_byte(0x1f).as_slice()),
        )
        .await;
    settle().await;
    let err = refused_release(&mut c, &p).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("delegatecall.mutable_code"),
        "{err:?}"
    );
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

/// Issue 13 item 9: a DELEGATECALL into an account whose code is an EIP-7702 delegation
/// designator runs whatever that account delegates to when the transaction executes, which its
/// key can change at any moment: denied at decision time, allowlisted or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegatecall_into_an_eip7702_delegated_account_is_denied() {
    let w = world().await;
    let library = Address::repeat_byte(0x1c);
    w.node
        .rpc("evm_setAccountCode", serde_json::json!([library, "0x00"]))
        .await;
    // An account delegating (EIP-7702) to that harmless library.
    let account = Address::repeat_byte(0x7d);
    let designator = format!("0xef0100{}", alloy_primitives::hex::encode(library));
    w.node
        .rpc(
            "evm_setAccountCode",
            serde_json::json!([account, designator]),
        )
        .await;
    let chains = Arc::new(Chains::new(vec![settings(&[w.node.url().to_owned()])]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &w, chains, Vec::new()).await;
    let mut c = gw.client().await;
    let tx = SafeTx {
        operation: Operation::DelegateCall,
        ..SafeTx::call(account, U256::ZERO, Bytes::new(), U256::ZERO)
    };
    let p = propose(&mut c, w.safe, &tx).await.unwrap();
    assert_eq!(state(&p), pb::ProposalState::Denied, "{:?}", p.decision);
    let codes = deny_codes(&p);
    assert!(
        codes.iter().any(|c| c == "delegatecall.mutable_code"),
        "{codes:?}"
    );
    gw.stop().await;
}
