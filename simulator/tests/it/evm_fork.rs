//! Issue 3, test 7: the JSON-RPC fork against a real local node (ganache, started by
//! `scripts/test-node-start` on 127.0.0.1), equal to the report from the equivalent snapshot; a
//! dead endpoint is a typed error within the timeout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_sol_types::{SolCall, SolValue};
use serde_json::{Value, json};
use signgate_simulator::{
    Operation,
    abi::{IERC20, ISafe},
    evm::{Addressing, BlockPin, RpcSource, StateError, simulate},
    report::{Outcome, StateSourceKind},
};

use crate::support::{
    CHAIN_ID, DEPLOYER, RECIPIENT, V141, World, hash_of, owners, safe_artifact, safe_tx, sign,
    test_contract,
};

/// The node process started by the project script; killed (by its pid) on drop.
struct TestNode {
    url: String,
    pid: u32,
    script: Child,
}

impl TestNode {
    fn start() -> Self {
        let script = format!("{}/../scripts/test-node-start", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {script}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("url ")
            .unwrap()
            .to_owned();
        let pid = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("pid ")
            .unwrap()
            .parse()
            .unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
        Self {
            url,
            pid,
            script: child,
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let _ = self.script.wait();
    }
}

struct Node {
    rt: tokio::runtime::Runtime,
    provider: DynProvider,
}

impl Node {
    fn connect(url: &str) -> Self {
        // The test drives the node through its own alloy provider, whose HTTP client reads
        // rustls' process default like `RpcSource`'s does.
        signgate_simulator::evm::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let provider = rt
            .block_on(ProviderBuilder::new().connect(url))
            .unwrap()
            .erased();
        Self { rt, provider }
    }

    fn rpc(&self, method: &'static str, params: Value) -> Value {
        self.rt
            .block_on(self.provider.raw_request::<_, Value>(method.into(), params))
            .unwrap()
    }

    /// Sends a transaction from the unlocked `from` account and checks that it succeeded.
    fn send(&self, from: Address, to: Option<Address>, data: Bytes, value: U256) -> Value {
        let mut tx = json!({ "from": from, "data": data, "value": value, "gas": "0xe4e1c0" });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash: B256 =
            serde_json::from_value(self.rpc("eth_sendTransaction", json!([tx]))).unwrap();
        let receipt = self.rpc("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
        receipt
    }

    fn block_number(&self) -> u64 {
        self.rt.block_on(self.provider.get_block_number()).unwrap()
    }
}

/// The same deployment, transaction by transaction, on the node and in the local world.
struct Mirror<'a> {
    node: &'a Node,
    world: World,
}

impl Mirror<'_> {
    fn deploy(&mut self, creation: Bytes) -> Address {
        let receipt = self.node.send(DEPLOYER, None, creation.clone(), U256::ZERO);
        let on_node: Address = serde_json::from_value(receipt["contractAddress"].clone()).unwrap();
        let local = self.world.deploy(creation);
        assert_eq!(on_node, local);
        local
    }

    fn call(&mut self, to: Address, data: Bytes, value: U256) {
        self.node.send(DEPLOYER, Some(to), data.clone(), value);
        self.world.call(DEPLOYER, to, data, value);
    }
}

#[test]
fn fork_of_a_local_node_gives_the_same_report_as_the_snapshot() {
    let test_node = TestNode::start();
    let node = Node::connect(&test_node.url);
    let mut m = Mirror {
        node: &node,
        world: World::new(),
    };

    let keys = owners(3);
    let owner_addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let singleton = m.deploy(safe_artifact("v1.4.1", "Safe").creation_bytecode);
    let mut proxy = safe_artifact("v1.4.1", "SafeProxy")
        .creation_bytecode
        .to_vec();
    proxy.extend(singleton.abi_encode());
    let safe = m.deploy(proxy.into());
    let setup = ISafe::setupCall {
        _owners: owner_addrs,
        _threshold: U256::from(2),
        to: Address::ZERO,
        data: Bytes::new(),
        fallbackHandler: Address::ZERO,
        paymentToken: Address::ZERO,
        payment: U256::ZERO,
        paymentReceiver: Address::ZERO,
    };
    m.call(safe, setup.abi_encode().into(), U256::ZERO);
    let mut token = test_contract("Token").to_vec();
    token.extend((safe, U256::from(1_000u64)).abi_encode_params());
    let token = m.deploy(token.into());
    m.call(safe, Bytes::new(), U256::from(10).pow(U256::from(18)));

    let pinned = node.block_number();
    let rpc = RpcSource::connect_with(
        &test_node.url,
        BlockPin::Number(pinned),
        Duration::from_secs(5),
        Addressing::BlockNumber,
    )
    .unwrap();
    // The chain moves on after the pin: the fork must not see it.
    node.send(DEPLOYER, Some(safe), Bytes::new(), U256::from(12_345));

    let mut snapshot = m.world.snapshot();
    snapshot.set_block(signgate_simulator::evm::StateSource::block(&rpc));

    let transfer: Bytes = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(10),
    }
    .abi_encode()
    .into();
    let cases = [
        safe_tx(token, U256::ZERO, transfer, Operation::Call, 0),
        safe_tx(
            RECIPIENT,
            U256::from(1_000),
            Bytes::new(),
            Operation::Call,
            0,
        ),
    ];
    for tx in &cases {
        let h = hash_of(V141.version, safe, tx);
        let sigs: Vec<u8> = keys.iter().take(2).flat_map(|k| sign(k, h)).collect();
        for signatures in [None, Some(sigs.as_slice())] {
            let from_snapshot =
                simulate(&snapshot, CHAIN_ID, safe, V141.version, tx, signatures).unwrap();
            let mut from_rpc =
                simulate(&rpc, CHAIN_ID, safe, V141.version, tx, signatures).unwrap();
            assert_eq!(from_rpc.outcome, Outcome::Success, "{from_rpc:#?}");
            assert_eq!(from_rpc.state.source, StateSourceKind::Rpc);
            assert_eq!(from_rpc.state.block_hash, snapshot_hash(&snapshot));
            from_rpc.state.source = StateSourceKind::Snapshot;
            assert_eq!(from_rpc, from_snapshot);
        }
    }
    rpc.verify_pin().unwrap();
    assert!(rpc.request_count() > 0);
}

fn snapshot_hash(s: &signgate_simulator::evm::Snapshot) -> Option<B256> {
    signgate_simulator::evm::StateSource::block(s).hash
}

#[test]
fn dead_endpoint_is_a_typed_error_within_the_timeout() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = RpcSource::connect(&url, BlockPin::Number(1), timeout).unwrap_err();
    assert!(
        started.elapsed() < timeout * 3,
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, StateError::Rpc { .. } | StateError::RpcTimeout { .. }),
        "unexpected error {err:?}"
    );
}

#[test]
fn an_https_endpoint_is_served_by_rustls_on_ring_and_fails_typed() {
    // The HTTP client's TLS is rustls on ring, the only provider in the graph (no aws-lc-rs):
    // an `https://` endpoint must get a client at all (reqwest panics when no provider is
    // installed) and a peer that is no TLS server must be a typed error, not a hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        // Accept the connection and close it without a word of TLS.
        let _ = listener.accept();
    });
    let url = format!("https://127.0.0.1:{port}");
    let timeout = Duration::from_millis(500);
    let err = RpcSource::connect(&url, BlockPin::Number(1), timeout).unwrap_err();
    assert!(
        matches!(err, StateError::Rpc { .. } | StateError::RpcTimeout { .. }),
        "unexpected error {err:?}"
    );
    peer.join().unwrap();
}
