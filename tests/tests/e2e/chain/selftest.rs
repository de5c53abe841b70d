//! Tests of the chain test support itself: the Safe stack is where and what the gateway's
//! deployments table expects, and Safes and tokens behave. Each test starts its own ganache
//! (about a second).

use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256, address, keccak256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use signgate_simulator::{
    SafeTx, SafeVersion,
    abi::IERC20,
    constants::slots,
    deployments::{self, SafeContract},
};

use super::{
    ChainNode,
    node::{DEPLOYER, exec_transaction_calldata, owner_keys, safe_artifact, signatures},
};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000beef1");

/// A reqwest client as the gateway's will be: keep-alive on, short timeout.
fn client(timeout: Duration) -> reqwest::Client {
    signgate_simulator::evm::install_crypto_provider();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// Posts a JSON body; the status and the raw answer.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> reqwest::Result<(u16, Bytes)> {
    let reply = client
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await?;
    let status = reply.status().as_u16();
    Ok((status, reply.bytes().await?.into()))
}

/// Posts and parses the answer as JSON.
async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> Value {
    let (status, bytes) = post(client, url, body).await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap()
}

fn call(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

fn transfer(token: Address, to: Address, amount: u64, nonce: u64) -> SafeTx {
    let data = IERC20::transferCall {
        to,
        amount: U256::from(amount),
    }
    .abi_encode();
    SafeTx::call(token, U256::ZERO, data.into(), U256::from(nonce))
}

#[tokio::test]
async fn the_safe_stack_is_canonical_and_a_factory_safe_moves_tokens() {
    let node = ChainNode::start();
    let stack = node.deploy_safe_stack().await;

    // Where and what the gateway's deployments table says, down to the code hash.
    for (at, contract, name) in [
        (stack.singleton, SafeContract::Singleton, "Safe"),
        (
            stack.factory,
            SafeContract::ProxyFactory,
            "SafeProxyFactory",
        ),
        (
            stack.multi_send_call_only,
            SafeContract::MultiSendCallOnly,
            "MultiSendCallOnly",
        ),
        (
            stack.fallback_handler,
            SafeContract::CompatibilityFallbackHandler,
            "CompatibilityFallbackHandler",
        ),
    ] {
        assert_eq!(
            deployments::canonical(contract, SafeVersion::V1_4_1),
            Some(at),
            "{name}"
        );
        let code = node.code(at).await;
        assert_eq!(code, safe_artifact(name).deployed_bytecode, "{name}");
        let recorded = deployments::lookup(at).unwrap().code_hash.unwrap();
        assert_eq!(keccak256(&code), recorded, "{name}'s code hash");
    }
    // The singleton is locked like the real constructor leaves it.
    assert_eq!(node.safe_threshold(stack.singleton).await, 1);

    // A Safe through the factory, with a real setup.
    let keys = owner_keys(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = node.create_safe(&owners, 2, 7).await;
    assert_eq!(node.safe_owners(safe).await, owners);
    assert_eq!(node.safe_threshold(safe).await, 2);
    assert_eq!(node.safe_nonce(safe).await, 0);
    assert_eq!(
        node.balance(safe).await,
        U256::from(10u64).pow(U256::from(19u64))
    );
    assert_eq!(
        node.storage(safe, slots::SINGLETON).await,
        U256::from_be_slice(stack.singleton.as_slice())
    );
    assert_eq!(
        node.storage(safe, slots::fallback_handler()).await,
        U256::from_be_slice(stack.fallback_handler.as_slice())
    );
    // Another salt, another Safe; the same salt again would revert in the factory.
    let other = node.create_safe(&owners, 1, 8).await;
    assert_ne!(other, safe);

    // A token transfer signed by two owners moves tokens.
    let token = node.deploy_token(safe, U256::from(1_000_000u64)).await;
    assert_eq!(
        node.erc20_balance(token, safe).await,
        U256::from(1_000_000u64)
    );
    node.exec_safe_tx(safe, &transfer(token, RECIPIENT, 1234, 0), &keys[1..])
        .await;
    assert_eq!(node.erc20_balance(token, RECIPIENT).await, U256::from(1234));
    assert_eq!(
        node.erc20_balance(token, safe).await,
        U256::from(998_766u64)
    );
    assert_eq!(node.safe_nonce(safe).await, 1);

    // Released calldata sent as is (signatures given unsorted: `signatures` sorts them).
    let tx = transfer(token, RECIPIENT, 1, 1);
    let hash = node.safe_tx_hash(safe, &tx).await;
    let sigs = signatures(&[keys[2].clone(), keys[0].clone()], hash);
    node.send_calldata(safe, exec_transaction_calldata(&tx, sigs))
        .await;
    assert_eq!(node.erc20_balance(token, RECIPIENT).await, U256::from(1235));
    assert_eq!(node.safe_nonce(safe).await, 2);

    // Snapshots, mining and raw storage writes.
    let before = node.block_number().await;
    let snapshot = node.snapshot().await;
    node.exec_safe_tx(safe, &transfer(token, RECIPIENT, 5, 2), &keys[..2])
        .await;
    node.mine().await;
    assert_eq!(node.block_number().await, before + 2);
    node.revert(&snapshot).await;
    assert_eq!(node.block_number().await, before);
    assert_eq!(node.erc20_balance(token, RECIPIENT).await, U256::from(1235));
    assert_eq!(node.safe_nonce(safe).await, 2);
    node.set_storage(safe, slots::THRESHOLD, U256::from(3))
        .await;
    assert_eq!(node.safe_threshold(safe).await, 3);
    node.set_balance(RECIPIENT, U256::from(77)).await;
    assert_eq!(node.balance(RECIPIENT).await, U256::from(77));
}

#[tokio::test]
async fn a_node_with_another_chain_id_executes_with_that_domain() {
    let node = ChainNode::start_with_chain_id(10);
    assert_eq!(node.chain_id(), 10);
    assert_eq!(node.rpc("eth_chainId", json!([])).await, json!("0xa"));
    node.deploy_safe_stack().await;
    let keys = owner_keys(1);
    let safe = node.create_safe(&[keys[0].address()], 1, 0).await;
    // `exec_safe_tx` checks the Safe's hash (CHAINID opcode) against the simulator's (chain 10).
    let tx = SafeTx::call(RECIPIENT, U256::from(1), Bytes::new(), U256::ZERO);
    node.exec_safe_tx(safe, &tx, &keys).await;
    assert_eq!(node.balance(RECIPIENT).await, U256::from(1));
}

/// What ganache 7.9.2 does not do, pinned so the module docs stay true (and the feature's tests
/// know to pin reads by number).
#[tokio::test]
async fn ganache_limits_are_as_documented() {
    let node = ChainNode::start();
    let hash = node.block_hash().await;
    let number = format!("{:#x}", node.block_number().await);
    for (method, params) in [
        ("eth_getBalance", json!([DEPLOYER, { "blockHash": hash }])),
        (
            "eth_getTransactionCount",
            json!([DEPLOYER, { "blockHash": hash }]),
        ),
        ("eth_getCode", json!([DEPLOYER, { "blockHash": hash }])),
        (
            "eth_getStorageAt",
            json!([DEPLOYER, "0x0", { "blockHash": hash }]),
        ),
        (
            "eth_call",
            json!([{ "to": DEPLOYER }, { "blockHash": hash }]),
        ),
        (
            "eth_getBalance",
            json!([DEPLOYER, { "blockNumber": number }]),
        ),
        ("eth_getBalance", json!([DEPLOYER, hash])),
    ] {
        let refused = node.try_rpc(method, params.clone()).await;
        assert!(refused.is_err(), "{method} {params} answered {refused:?}");
    }
    for (method, params) in [
        (
            "eth_createAccessList",
            json!([{ "from": DEPLOYER, "to": DEPLOYER }, "latest"]),
        ),
        ("debug_traceCall", json!([{ "to": DEPLOYER }, "latest", {}])),
    ] {
        let error = node.try_rpc(method, params).await.unwrap_err();
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("does not exist"),
            "{method}: {error}"
        );
    }
    // What does work: pinning by number, and batches.
    node.rpc("eth_getBalance", json!([DEPLOYER, number])).await;
    let batch = json!([
        call(1, "eth_blockNumber", json!([])),
        call(2, "eth_chainId", json!([])),
    ]);
    let answers = post_json(&client(Duration::from_secs(5)), node.url(), &batch).await;
    assert_eq!(answers[1]["result"], json!("0x539"));
    // An empty slot reads "0x", which `ChainNode::storage` takes as zero.
    let empty = node
        .rpc("eth_getStorageAt", json!([DEPLOYER, "0x0", "latest"]))
        .await;
    assert_eq!(empty, json!("0x"));
}
