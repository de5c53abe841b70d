//! Tests of the chain test support itself: the Safe stack is where and what the gateway's
//! deployments table expects, Safes and tokens behave, and the proxy passes through, counts and
//! fails as documented. Each test starts its own ganache (about a second).

use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, U256, address, keccak256};
use alloy_sol_types::SolCall;
use revm::database_interface::DatabaseRef;
use serde_json::{Value, json};
use signgate_simulator::{
    SafeTx, SafeVersion,
    abi::IERC20,
    constants::slots,
    deployments::{self, SafeContract},
    evm::{Addressing, BlockPin, RpcSource},
};

use super::{
    ChainNode, RpcProxy,
    node::{DEPLOYER, exec_transaction_calldata, owner_keys, safe_artifact, signatures},
    proxy::{Failure, MALFORMED_BODY},
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

#[tokio::test]
async fn the_proxy_passes_through_counts_and_delays() {
    let node = ChainNode::start();
    let proxy = RpcProxy::start(node.url());
    let url = proxy.url();
    let http = client(Duration::from_secs(10));

    // A batch passes through whole, in one round trip.
    let batch = json!([
        call(1, "eth_blockNumber", json!([])),
        call(2, "eth_chainId", json!([])),
        call(3, "eth_getBalance", json!([DEPLOYER, "latest"])),
    ]);
    let via_proxy = post_json(&http, &url, &batch).await;
    let direct = post_json(&http, node.url(), &batch).await;
    assert_eq!(via_proxy, direct);
    assert_eq!(via_proxy.as_array().unwrap().len(), 3);

    // Single calls, counted one round trip each, over one kept-alive connection.
    for id in 4..7 {
        let answer = post_json(&http, &url, &call(id, "eth_blockNumber", json!([]))).await;
        assert_eq!(answer["id"], json!(id));
    }
    let stats = proxy.stats();
    assert_eq!(stats.http_requests, 4);
    assert_eq!(stats.rpc_calls, 6);
    assert_eq!(stats.connections, 1, "keep-alive");
    assert_eq!(
        stats.methods[0],
        ["eth_blockNumber", "eth_chainId", "eth_getBalance"]
    );
    assert_eq!(stats.methods[3], ["eth_blockNumber"]);
    assert_eq!(stats.calls_of("eth_blockNumber"), 4);
    proxy.reset();
    assert_eq!(proxy.http_requests(), 0);
    assert_eq!(proxy.rpc_calls(), 0);
    assert!(proxy.methods().is_empty());

    // Latency per HTTP request (a batch pays it once).
    let handle = proxy.handle();
    handle.set_latency(Duration::from_millis(50));
    let started = Instant::now();
    post_json(&http, &url, &batch).await;
    let slow = started.elapsed();
    assert!(slow >= Duration::from_millis(50), "{slow:?}");
    assert!(slow < Duration::from_secs(5), "{slow:?}");
    handle.set_latency(Duration::ZERO);
    post_json(&http, &url, &call(9, "eth_blockNumber", json!([]))).await;

    // The simulator's alloy-based RPC source works through the proxy too.
    node.deploy_safe_stack().await;
    let keys = owner_keys(2);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = node.create_safe(&owners, 2, 0).await;
    let number = node.block_number().await;
    proxy.reset();
    let source_url = url.clone();
    let (threshold, nonce) = tokio::task::spawn_blocking(move || {
        let source = RpcSource::connect_with(
            &source_url,
            BlockPin::Number(number),
            Duration::from_secs(5),
            Addressing::BlockNumber,
        )
        .unwrap();
        let threshold = source.storage_ref(safe, slots::THRESHOLD).unwrap();
        let account = source.basic_ref(safe).unwrap().unwrap();
        (threshold, account.nonce)
    })
    .await
    .unwrap();
    assert_eq!(threshold, U256::from(2));
    assert_eq!(nonce, 1, "a contract's nonce starts at 1");
    let stats = proxy.stats();
    assert_eq!(stats.calls_of("eth_getStorageAt"), 1);
    assert_eq!(stats.calls_of("eth_getCode"), 1);
    assert!(
        stats.connections < stats.http_requests,
        "keep-alive: {stats:?}"
    );
}

#[tokio::test]
async fn the_proxy_rewrites_errors_and_fails_on_demand() {
    let node = ChainNode::start();
    let proxy = RpcProxy::start(node.url());
    let url = proxy.url();
    let http = client(Duration::from_secs(10));
    let balance = call(1, "eth_getBalance", json!([DEPLOYER, "latest"]));
    let block_number = call(2, "eth_blockNumber", json!([]));

    // A rewrite sees the method, the params and the real result; other methods are untouched.
    proxy.rewrite(
        "eth_getBalance",
        |method, params, result| json!({ "method": method, "block": params[1], "was": result }),
    );
    let answers = post_json(&http, &url, &json!([balance, block_number])).await;
    assert_eq!(answers[0]["result"]["method"], json!("eth_getBalance"));
    assert_eq!(answers[0]["result"]["block"], json!("latest"));
    assert_eq!(
        answers[0]["result"]["was"],
        json!("0x3635c9adc5dea00000"),
        "1000 ETH"
    );
    assert_eq!(answers[1]["result"], json!("0x0"));
    proxy.clear_rewrite("eth_getBalance");
    let answer = post_json(&http, &url, &balance).await;
    assert_eq!(answer["result"], json!("0x3635c9adc5dea00000"));

    // The wrong chain.
    proxy.wrong_chain_id(1);
    let answer = post_json(&http, &url, &call(3, "eth_chainId", json!([]))).await;
    assert_eq!(answer["result"], json!("0x1"));
    proxy.clear_faults();
    let answer = post_json(&http, &url, &call(3, "eth_chainId", json!([]))).await;
    assert_eq!(answer["result"], json!("0x539"));

    // An injected error answers its call only; the rest of the batch still goes to the node.
    proxy.set_error("eth_getBalance", -32005, "limit exceeded");
    let answers = post_json(&http, &url, &json!([block_number, balance])).await;
    assert_eq!(answers[0]["result"], json!("0x0"));
    assert_eq!(answers[1]["id"], json!(1));
    assert_eq!(answers[1]["error"]["code"], json!(-32005));
    assert_eq!(answers[1]["error"]["message"], json!("limit exceeded"));
    let answer = post_json(&http, &url, &balance).await;
    assert_eq!(answer["error"]["code"], json!(-32005));
    proxy.clear_error("eth_getBalance");

    // Malformed: 200 and a body that is not JSON.
    proxy.malformed();
    let (status, body) = post(&http, &url, &balance).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, Bytes::from_static(MALFORMED_BODY.as_bytes()));
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    proxy.heal();

    // Hang: the client's own timeout is what ends it.
    let short = client(Duration::from_millis(300));
    post_json(&short, &url, &block_number).await;
    proxy.hang();
    let started = Instant::now();
    let error = post(&short, &url, &block_number).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    proxy.heal();
    post_json(&short, &url, &block_number).await;

    // Hang for one method only: other requests still answer.
    proxy.fail_method("eth_call", Failure::Hang);
    post_json(&short, &url, &block_number).await;
    let hung = call(4, "eth_call", json!([{ "to": DEPLOYER }, "latest"]));
    let error = post(&short, &url, &hung).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    proxy.heal();

    // Down: a kept-alive connection is closed on its next request, new ones at once.
    post_json(&http, &url, &block_number).await;
    let before = proxy.stats().connections;
    proxy.down();
    let error = post(&http, &url, &block_number).await.unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    let fresh = client(Duration::from_secs(5));
    let started = Instant::now();
    let error = post(&fresh, &url, &block_number).await.unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(proxy.stats().connections > before);
    proxy.heal();
    post_json(&http, &url, &block_number).await;
    post_json(&fresh, &url, &block_number).await;
}
