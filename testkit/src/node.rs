//! [`ChainNode`]: a ganache node started through `scripts/test-node-start`, with the real Safe
//! 1.4.1 contracts placed at their canonical addresses, Safes created through the real factory,
//! a test ERC-20, and real `execTransaction`s signed by owner keys.
//!
//! ganache 7.9.2 behaviours the helpers work around (found while writing them):
//! - `evm_setAccountCode`, `evm_setAccountStorageAt` and `evm_setAccountBalance` each mine a
//!   block, so the block number moves on every state edit;
//! - `evm_setAccountStorageAt` wants the slot as exactly 32 bytes; a shorter one is refused *and
//!   leaves ganache's state checkpoint open*, after which every later state change (code,
//!   storage, transactions) is silently lost. [`ChainNode::set_storage`] always pads;
//! - `eth_getStorageAt` answers `"0x"` (not a 32-byte zero word) for an empty slot;
//! - `evm_revert` consumes the snapshot (and every later one): snapshot again to revert again;
//! - with `--miner.instamine eager` a sent transaction is mined before `eth_sendTransaction`
//!   returns, so its receipt is there at once; a reverted one still returns a hash (status 0).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue, sol};
use serde::Deserialize;
use serde_json::{Value, json};
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion,
    abi::{IERC20, ISafe},
    constants::slots,
    safe_tx_hash,
};

/// ganache's first deterministic account (unlocked, 1000 ETH): deploys contracts and Safes, so
/// their addresses follow from its nonce alone.
pub const DEPLOYER: Address = address!("0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
/// ganache's second deterministic account (unlocked, 1000 ETH): sends `execTransaction`s, so
/// executing never shifts the deployer's nonce (and the addresses of later deployments).
pub const EXECUTOR: Address = address!("0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0");

/// The chain id `scripts/test-node-start` uses when not told otherwise (and the simulator
/// tests' `CHAIN_ID`).
pub const DEFAULT_CHAIN_ID: u64 = 1337;

/// Gas for every sent transaction: ganache's default limit (90 000) is too little for a Safe
/// creation, and asking it to estimate costs a round trip per transaction.
const GAS: u64 = 10_000_000;

sol! {
    /// The 1.4.1 proxy factory, only as far as the tests use it (`signgate_simulator::abi`
    /// has no factory: the gateway never calls one).
    #[derive(Debug)]
    interface ISafeProxyFactory {
        function createProxyWithNonce(address _singleton, bytes initializer, uint256 saltNonce) external returns (address proxy);
        event ProxyCreation(address indexed proxy, address singleton);
    }
}

/// The canonical addresses of the Safe 1.4.1 contracts [`ChainNode::deploy_safe_stack`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeStack {
    /// The Safe 1.4.1 singleton every proxy delegates to.
    pub singleton: Address,
    /// SafeProxyFactory, which [`ChainNode::create_safe`] calls.
    pub factory: Address,
    /// MultiSendCallOnly, the batch target the gateway's deployments table allows.
    pub multi_send_call_only: Address,
    /// CompatibilityFallbackHandler, set as every created Safe's fallback handler.
    pub fallback_handler: Address,
}

/// One Safe artifact from `simulator/fixtures/safe/v1.4.1` (the fields the tests use).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeArtifact {
    /// Where the Safe singleton factory deploys it on every chain.
    pub canonical_address: Address,
    /// The runtime code placed there.
    pub deployed_bytecode: Bytes,
}

/// The real Safe 1.4.1 artifacts, compiled in so the tests do not depend on the working
/// directory.
pub fn safe_artifact(name: &str) -> SafeArtifact {
    let text = match name {
        "Safe" => include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../simulator/fixtures/safe/v1.4.1/Safe.json"
        )),
        "SafeProxyFactory" => include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../simulator/fixtures/safe/v1.4.1/SafeProxyFactory.json"
        )),
        "MultiSendCallOnly" => include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../simulator/fixtures/safe/v1.4.1/MultiSendCallOnly.json"
        )),
        "CompatibilityFallbackHandler" => include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../simulator/fixtures/safe/v1.4.1/CompatibilityFallbackHandler.json"
        )),
        other => panic!("no Safe 1.4.1 artifact {other} compiled in"),
    };
    serde_json::from_str(text).unwrap_or_else(|e| panic!("artifact {name}: {e}"))
}

/// Creation code of a test contract from the simulator's `tests/fixtures/evm/contracts.json`
/// (compiled from `TestContracts.sol`).
pub fn test_contract(name: &str) -> Bytes {
    #[derive(Deserialize)]
    struct Compiled {
        bytecode: Bytes,
    }
    #[derive(Deserialize)]
    struct File {
        contracts: std::collections::BTreeMap<String, Compiled>,
    }
    static FILE: OnceLock<File> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../simulator/tests/fixtures/evm/contracts.json"
        )))
        .unwrap()
    });
    file.contracts
        .get(name)
        .unwrap_or_else(|| panic!("no test contract {name}"))
        .bytecode
        .clone()
}

/// Deterministic owner keys (`0x11…`, `0x12…`, …), sorted by address as Safe wants signers.
pub fn owner_keys(n: u8) -> Vec<PrivateKeySigner> {
    let mut keys: Vec<PrivateKeySigner> = (1..=n)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(0x10 + i)).unwrap())
        .collect();
    keys.sort_by_key(PrivateKeySigner::address);
    keys
}

/// A 65-byte ECDSA signature over the raw safeTxHash (no `eth_sign` prefix), `v` = 27/28, the
/// form `checkSignatures` verifies with `ecrecover` directly.
pub fn sign_hash(key: &PrivateKeySigner, hash: B256) -> Vec<u8> {
    let mut out = key.sign_hash_sync(&hash).unwrap().as_bytes().to_vec();
    if let Some(v) = out.last_mut()
        && *v < 27
    {
        *v += 27;
    }
    out
}

/// The owners' signatures concatenated in ascending owner order, as `execTransaction` takes them.
pub fn signatures(owners: &[PrivateKeySigner], hash: B256) -> Bytes {
    let mut sorted: Vec<&PrivateKeySigner> = owners.iter().collect();
    sorted.sort_by_key(|k| k.address());
    sorted
        .into_iter()
        .flat_map(|k| sign_hash(k, hash))
        .collect::<Vec<u8>>()
        .into()
}

/// `execTransaction` calldata for `tx` with `signatures` (what the gateway releases): the
/// simulator's one encoding.
pub use signgate_simulator::evm::exec_transaction_calldata;

/// A ganache node on 127.0.0.1, started by the project script and killed (by its pid) on drop.
///
/// `start` blocks until the node answers (about a second; the first run also `npm install`s
/// ganache). The JSON-RPC helpers are async and work on any tokio runtime.
#[derive(Debug)]
pub struct ChainNode {
    url: String,
    pid: u32,
    chain_id: u64,
    script: Child,
    client: reqwest::Client,
    next_id: AtomicU64,
}

impl ChainNode {
    /// A node with chain id 1337.
    pub fn start() -> Self {
        Self::start_with_chain_id(DEFAULT_CHAIN_ID)
    }

    /// A node with `chain_id` (passed explicitly, so an ambient `CHAIN_ID` cannot change it).
    pub fn start_with_chain_id(chain_id: u64) -> Self {
        // reqwest builds its TLS configuration even for http:// and reads rustls' process
        // default to do it.
        signgate_simulator::evm::install_crypto_provider();
        let script = format!("{}/../scripts/test-node-start", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(&script)
            .env("CHAIN_ID", chain_id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {script}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut line = |prefix: &str| {
            let l = lines
                .next()
                .unwrap_or_else(|| panic!("{script} ended before printing `{prefix}`"))
                .unwrap();
            l.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{script} printed {l:?}, expected `{prefix}…`"))
                .to_owned()
        };
        let url = line("url ");
        let pid = line("pid ").parse().unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
        Self {
            url,
            pid,
            chain_id,
            script: child,
            // A node that stops answering fails the test instead of hanging it.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The node's JSON-RPC endpoint (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id the node was started with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// One JSON-RPC call; the `result`, or the node's `error` object.
    pub async fn try_rpc(&self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let answer = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let mut answer: Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|e| panic!("{method}: answer is not JSON ({e})"));
        match answer.get_mut("error") {
            Some(error) => Err(error.take()),
            None => Ok(answer["result"].take()),
        }
    }

    /// One JSON-RPC call that must succeed; its `result`.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// `eth_call` at the latest block; the returned bytes (panics on a revert).
    pub async fn call(&self, to: Address, data: impl Into<Bytes>) -> Bytes {
        let data: Bytes = data.into();
        let out = self
            .rpc("eth_call", json!([{ "to": to, "data": data }, "latest"]))
            .await;
        serde_json::from_value(out).unwrap()
    }

    /// Sends a transaction from an unlocked account and returns its receipt, successful or not.
    pub async fn send_tx(
        &self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Value {
        let mut tx =
            json!({ "from": from, "data": data, "value": value, "gas": format!("{GAS:#x}") });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash = self.rpc("eth_sendTransaction", json!([tx])).await;
        let receipt = self.rpc("eth_getTransactionReceipt", json!([hash])).await;
        assert!(
            receipt.is_object(),
            "no receipt for {hash} (instamine off?)"
        );
        receipt
    }

    /// [`ChainNode::send_tx`] that must succeed (status 1).
    pub async fn send(
        &self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Value {
        let receipt = self.send_tx(from, to, data, value).await;
        assert_eq!(
            receipt["status"],
            json!("0x1"),
            "transaction failed: {receipt}"
        );
        receipt
    }

    /// Sends `calldata` to `to` from [`EXECUTOR`] and checks that it succeeded: for the
    /// `execTransaction` calldata the gateway releases.
    pub async fn send_calldata(&self, to: Address, calldata: Bytes) -> Value {
        self.send(EXECUTOR, Some(to), calldata, U256::ZERO).await
    }

    /// Places the real Safe 1.4.1 singleton, SafeProxyFactory, MultiSendCallOnly and
    /// CompatibilityFallbackHandler runtime code at their canonical addresses, so the gateway's
    /// canonical deployments table recognises them, and checks the code is there.
    ///
    /// Runtime code, not a deployment, because the canonical addresses come from the
    /// Safe singleton factory (CREATE2 with a salt on another deployer), which ganache does not
    /// have. The singleton's constructor sets `threshold = 1` so that nobody can `setup` the
    /// singleton itself; its storage is written the same way here.
    pub async fn deploy_safe_stack(&self) -> SafeStack {
        let mut placed = Vec::new();
        for name in [
            "Safe",
            "SafeProxyFactory",
            "MultiSendCallOnly",
            "CompatibilityFallbackHandler",
        ] {
            let artifact = safe_artifact(name);
            let at = artifact.canonical_address;
            let set = self
                .rpc(
                    "evm_setAccountCode",
                    json!([at, artifact.deployed_bytecode]),
                )
                .await;
            assert_eq!(set, json!(true), "evm_setAccountCode {name}");
            assert_eq!(
                self.code(at).await,
                artifact.deployed_bytecode,
                "{name} at {at}"
            );
            placed.push(at);
        }
        let stack = SafeStack {
            singleton: placed[0],
            factory: placed[1],
            multi_send_call_only: placed[2],
            fallback_handler: placed[3],
        };
        self.set_storage(stack.singleton, slots::THRESHOLD, U256::from(1))
            .await;
        assert_eq!(
            self.storage(stack.singleton, slots::THRESHOLD).await,
            U256::from(1)
        );
        stack
    }

    /// Creates a Safe proxy through the canonical factory's `createProxyWithNonce` with a real
    /// `setup` (the CompatibilityFallbackHandler as fallback handler), reads its address from
    /// the factory's `ProxyCreation` event, and funds it with 10 ETH. Needs
    /// [`ChainNode::deploy_safe_stack`] first.
    pub async fn create_safe(&self, owners: &[Address], threshold: u64, salt: u64) -> Address {
        let singleton = safe_artifact("Safe").canonical_address;
        let factory = safe_artifact("SafeProxyFactory").canonical_address;
        let handler = safe_artifact("CompatibilityFallbackHandler").canonical_address;
        let initializer = ISafe::setupCall {
            _owners: owners.to_vec(),
            _threshold: U256::from(threshold),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: handler,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        };
        let create = ISafeProxyFactory::createProxyWithNonceCall {
            _singleton: singleton,
            initializer: initializer.abi_encode().into(),
            saltNonce: U256::from(salt),
        };
        let receipt = self
            .send(
                DEPLOYER,
                Some(factory),
                create.abi_encode().into(),
                U256::ZERO,
            )
            .await;
        let safe = logs(&receipt)
            .into_iter()
            .find(|(from, topics, _)| {
                *from == factory
                    && topics.first() == Some(&ISafeProxyFactory::ProxyCreation::SIGNATURE_HASH)
            })
            .and_then(|(_, topics, _)| topics.get(1).map(|t| Address::from_word(*t)))
            .unwrap_or_else(|| panic!("no ProxyCreation in {receipt}"));
        self.send(
            DEPLOYER,
            Some(safe),
            Bytes::new(),
            U256::from(10u64).pow(U256::from(19u64)),
        )
        .await;
        safe
    }

    /// Deploys the test ERC-20 (`Token` in `TestContracts.sol`) with `amount` minted to
    /// `holder`.
    pub async fn deploy_token(&self, holder: Address, amount: U256) -> Address {
        let mut code = test_contract("Token").to_vec();
        code.extend((holder, amount).abi_encode_params());
        let receipt = self.send(DEPLOYER, None, code.into(), U256::ZERO).await;
        serde_json::from_value(receipt["contractAddress"].clone()).unwrap()
    }

    /// The safeTxHash as the Safe computes it (`getTransactionHash`), checked against the
    /// simulator's own 1.4.1 hash with this node's chain id.
    pub async fn safe_tx_hash(&self, safe: Address, tx: &SafeTx) -> B256 {
        let call = ISafe::getTransactionHashCall {
            to: tx.to,
            value: tx.value,
            data: tx.data.clone(),
            operation: tx.operation.as_u8(),
            safeTxGas: tx.safe_tx_gas,
            baseGas: tx.base_gas,
            gasPrice: tx.gas_price,
            gasToken: tx.gas_token,
            refundReceiver: tx.refund_receiver,
            _nonce: tx.nonce,
        };
        let out = self.call(safe, call.abi_encode()).await;
        let on_chain = ISafe::getTransactionHashCall::abi_decode_returns(&out).unwrap();
        let local = safe_tx_hash(
            &SafeContext {
                chain_id: self.chain_id,
                safe,
                version: SafeVersion::V1_4_1,
            },
            tx,
        );
        assert_eq!(
            on_chain, local,
            "the Safe and the simulator hash differently"
        );
        on_chain
    }

    /// Executes `tx` on `safe` with real ECDSA signatures of `owners` (sorted by address) sent
    /// from [`EXECUTOR`]; checks the transaction succeeded and the Safe emitted
    /// `ExecutionSuccess`, and returns the receipt.
    pub async fn exec_safe_tx(
        &self,
        safe: Address,
        tx: &SafeTx,
        owners: &[PrivateKeySigner],
    ) -> Value {
        let hash = self.safe_tx_hash(safe, tx).await;
        let calldata = exec_transaction_calldata(tx, signatures(owners, hash));
        let receipt = self.send_calldata(safe, calldata).await;
        let success = logs(&receipt).into_iter().any(|(from, topics, _)| {
            from == safe && topics.first() == Some(&ISafe::ExecutionSuccess::SIGNATURE_HASH)
        });
        assert!(success, "no ExecutionSuccess from {safe}: {receipt}");
        receipt
    }

    /// `who`'s balance of the ERC-20 `token` at the latest block.
    pub async fn erc20_balance(&self, token: Address, who: Address) -> U256 {
        let out = self
            .call(token, IERC20::balanceOfCall { owner: who }.abi_encode())
            .await;
        IERC20::balanceOfCall::abi_decode_returns(&out).unwrap()
    }

    /// The Safe's next nonce (`nonce()`) at the latest block.
    pub async fn safe_nonce(&self, safe: Address) -> u64 {
        let out = self.call(safe, ISafe::nonceCall {}.abi_encode()).await;
        ISafe::nonceCall::abi_decode_returns(&out).unwrap().to()
    }

    /// The Safe's threshold (`getThreshold()`) at the latest block.
    pub async fn safe_threshold(&self, safe: Address) -> u64 {
        let out = self
            .call(safe, ISafe::getThresholdCall {}.abi_encode())
            .await;
        ISafe::getThresholdCall::abi_decode_returns(&out)
            .unwrap()
            .to()
    }

    /// The Safe's owners (`getOwners()`) at the latest block, in list order.
    pub async fn safe_owners(&self, safe: Address) -> Vec<Address> {
        let out = self.call(safe, ISafe::getOwnersCall {}.abi_encode()).await;
        ISafe::getOwnersCall::abi_decode_returns(&out).unwrap()
    }

    /// `who`'s ETH balance at the latest block.
    pub async fn balance(&self, who: Address) -> U256 {
        let v = self.rpc("eth_getBalance", json!([who, "latest"])).await;
        quantity(&v)
    }

    /// The code at `at` at the latest block (empty for an account without code).
    pub async fn code(&self, at: Address) -> Bytes {
        let v = self.rpc("eth_getCode", json!([at, "latest"])).await;
        serde_json::from_value(v).unwrap()
    }

    /// A storage slot at the latest block (ganache's `"0x"` for an empty slot reads as zero).
    pub async fn storage(&self, at: Address, slot: U256) -> U256 {
        let v = self
            .rpc("eth_getStorageAt", json!([at, slot, "latest"]))
            .await;
        quantity(&v)
    }

    /// Writes a storage slot (`evm_setAccountStorageAt`, which mines a block). Slot and value
    /// go as 32-byte words: a short slot would poison the node (see the module docs).
    pub async fn set_storage(&self, at: Address, slot: U256, value: U256) {
        let slot = B256::from(slot);
        let value = B256::from(value);
        let ok = self
            .rpc("evm_setAccountStorageAt", json!([at, slot, value]))
            .await;
        assert_eq!(ok, json!(true), "evm_setAccountStorageAt");
    }

    /// Sets an account's ETH balance (`evm_setAccountBalance`, which mines a block).
    pub async fn set_balance(&self, at: Address, balance: U256) {
        let ok = self
            .rpc("evm_setAccountBalance", json!([at, balance]))
            .await;
        assert_eq!(ok, json!(true), "evm_setAccountBalance");
    }

    /// The latest block's number.
    pub async fn block_number(&self) -> u64 {
        let v = self.rpc("eth_blockNumber", json!([])).await;
        quantity(&v).to()
    }

    /// The latest block's hash.
    pub async fn block_hash(&self) -> B256 {
        let block = self
            .rpc("eth_getBlockByNumber", json!(["latest", false]))
            .await;
        serde_json::from_value(block["hash"].clone()).unwrap()
    }

    /// Mines one empty block.
    pub async fn mine(&self) {
        self.rpc("evm_mine", json!([])).await;
    }

    /// Snapshots the whole chain (`evm_snapshot`); the id is for [`ChainNode::revert`].
    pub async fn snapshot(&self) -> String {
        let id = self.rpc("evm_snapshot", json!([])).await;
        id.as_str().unwrap().to_owned()
    }

    /// Returns the chain to snapshot `id` (`evm_revert`); the snapshot is used up.
    pub async fn revert(&self, id: &str) {
        let ok = self.rpc("evm_revert", json!([id])).await;
        assert_eq!(ok, json!(true), "evm_revert {id}");
    }
}

impl Drop for ChainNode {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let _ = self.script.wait();
    }
}

/// A JSON-RPC quantity or data word as a number; `"0x"` (ganache's empty slot) is zero.
pub fn quantity(v: &Value) -> U256 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

/// A receipt's logs as (emitter, topics, data).
pub fn logs(receipt: &Value) -> Vec<(Address, Vec<B256>, Bytes)> {
    receipt["logs"]
        .as_array()
        .map(|logs| {
            logs.iter()
                .map(|log| {
                    (
                        serde_json::from_value(log["address"].clone()).unwrap(),
                        serde_json::from_value(log["topics"].clone()).unwrap(),
                        serde_json::from_value(log["data"].clone()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
